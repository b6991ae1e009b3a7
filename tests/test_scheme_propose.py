"""Proposed schemes: largest-remainder rounding, the effective-weight objective against an
independent NumPy computation, the optimisers improving on the official points, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from pipeline import config
from pipeline.cli import main
from pipeline.io import write_table
from pipeline.scheme import parse, propose as PR, year_frames
from tests.test_scheme import world


@pytest.fixture(scope="module")
def frames():
    return year_frames(world())


def test_round_points_largest_remainder():
    # 1/3 each of three categories: 33.333… → floor 33.3 ×3 = 99.9; the 0.1 left goes to the first
    assert PR.round_points([1, 1, 1, 0]) == {"ideology": 33.4, "organisation": 33.3, "conduct": 33.3, "special": 0.0}
    assert PR.round_points([1, 2, 3, 4]) == {"ideology": 10.0, "organisation": 20.0, "conduct": 30.0, "special": 40.0}
    assert sum(PR.round_points([0.123, 0.456, 0.789, 0.1]).values()) == pytest.approx(100.0)


def _gap_by_hand(points, yd):
    """The effective-weight gap recomputed with NumPy only: item shares z (grades by the default
    map, NA left out), item weights P_k·m_j/M_k, prorated total, category score = applicable
    points / applicable max; r² by np.corrcoef, normalised over the categories."""
    x = yd.points.to_numpy(float)
    m = yd.maxima
    cats = yd.categories
    z = x / m
    present = ~np.isnan(z)
    w = np.array([points[list(config.CATEGORIES).index(c)] * m[j] / m[cats == c].sum() for j, c in enumerate(cats)])
    total = np.nansum(z * w, axis=1) / (present * w).sum(axis=1)
    r2 = []
    for c in config.CATEGORIES:
        sel = cats == c
        score = np.nansum(x[:, sel], axis=1) / (present[:, sel] * m[sel]).sum(axis=1)
        r2.append(np.corrcoef(score, total)[0, 1] ** 2)
    r2 = np.array(r2) / np.sum(r2)
    target = np.array([m[cats == c].sum() / m.sum() for c in config.CATEGORIES])
    return float(((r2 - target) ** 2).sum())


def test_effective_gap_matches_numpy(frames):
    yd = frames[2020]
    for pts in ([30, 30, 20, 20], [10, 40, 30, 20], [25, 25, 25, 25]):
        assert PR.effective_gap(pts, frames) == pytest.approx(_gap_by_hand(pts, yd), rel=1e-9)


def test_propose_effective_reduces_the_gap(frames):
    official = 100 * PR.official_shares(frames).mean(axis=0)
    s = PR.propose_effective(frames)
    assert sum(s.categories.values()) == pytest.approx(100.0)
    assert PR.effective_gap(list(s.categories.values()), frames) < 0.5 * PR.effective_gap(official, frames)


def test_propose_robust_stays_in_bounds(frames):
    share = 100 * PR.official_shares(frames).mean(axis=0)
    s = PR.propose_robust(frames, n=40, maxiter=2, popsize=3, spread=0.3)
    p = np.array(list(s.categories.values()))
    assert p.sum() == pytest.approx(100.0)
    assert np.all(p >= share * 0.7 - 0.1) and np.all(p <= share * 1.3 + 0.1)


def test_cli_propose_effective_writes_yaml_and_report(tmp_path, monkeypatch):
    folder = tmp_path / "processed"
    for name, df in world().items():
        write_table(df, folder, name)
    monkeypatch.setattr(config, "PROCESSED", folder)
    out = tmp_path / "prop"
    assert main(["scheme", "--propose", "effective", "--out", str(out), "--no-pdf", "--mc", "20"]) == 0
    doc = yaml.safe_load((out / "propose_effective.yaml").read_text(encoding="utf-8"))
    back = parse(out / "propose_effective.yaml")  # the written file is a valid scheme
    assert sum(doc["categories"].values()) == pytest.approx(100.0)
    assert back.categories is not None and (out / "2020" / "comparison.csv").exists() and (out / "report.html").exists()
