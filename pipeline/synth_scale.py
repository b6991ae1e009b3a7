"""A province / national synthetic world for the scale-out benchmarks (issue 14, SPEC §9).

A province has thousands of assessed organs at city and county level, the country ~10⁵, and
the committees send thousands of files a year. This module builds such a world from the
generator of the sample world (:func:`pipeline.synth.generate` — same score model, registry,
item lists and grades) and writes it as CSV (valid raw input, SPEC §2; thousands of xlsx files
would take openpyxl hours):

* units are split into **tiers** (e.g. ``city`` organs and ``county`` organs); the units of a
  tier are grouped into reporting bodies (a city committee, county committees) of similar size;
* per year: the item list, the annual summary of all units, the 述职评议 review and the
  weak-organisation list (one file each, as the cleaner expects), and **one monthly file per
  reporting body and month** (``{year}年月度考评-{tier}{k:03d}-{m}月.csv``), so that a year
  has about ``files_per_year`` files;
* ``tiers.csv`` in the truth folder says which tier and body each unit belongs to.

Entry point: :func:`write_scale_world` (CLI: ``python -m pipeline synth --tiers city,county
--units 20000 --files-per-year 500 --out …``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import synth
from pipeline.errors import PipelineError
from pipeline.io import atomic_path

__all__ = ["TIER_ZH", "assign_tiers", "write_scale_world"]

#: Tier name → the word used in file names.
TIER_ZH = {"city": "市直", "county": "县区", "province": "省直", "district": "区直", "town": "乡镇"}

#: Files of a year besides the monthly ones: items, summary, review, weak organisations.
_FIXED_FILES = 4


def assign_tiers(n_units: int, tiers: list[str], n_bodies: int, seed: int) -> pd.DataFrame:
    """Tier and reporting body of each unit position (registry order).

    The first tier gets ``1/(2·len(tiers))`` of the units (the few organs of the capital), the
    others share the rest equally; bodies are spread over tiers in proportion to their units
    (at least one each) and units are dealt to the bodies of their tier in contiguous blocks.

    Returns
    -------
    DataFrame
        ``position`` (0…n−1), ``tier``, ``body`` (e.g. ``县区007``).
    """
    if not tiers or any(t not in TIER_ZH for t in tiers):
        raise PipelineError(f"tiers must be among {', '.join(TIER_ZH)}, got {','.join(tiers) or '(none)'}")
    k = len(tiers)
    share = np.array([1.0 / (2 * k)] + [(1 - 1.0 / (2 * k)) / (k - 1)] * (k - 1)) if k > 1 else np.ones(1)
    counts = np.floor(share * n_units).astype(int)
    counts[-1] += n_units - counts.sum()
    bodies = np.maximum(1, np.round(share * n_bodies).astype(int))
    bodies = np.minimum(bodies, np.maximum(counts, 1))
    tier_col, body_col = [], []
    for t, c, b in zip(tiers, counts, bodies):
        edges = np.linspace(0, c, b + 1).round().astype(int)
        for j in range(b):
            tier_col += [t] * (edges[j + 1] - edges[j])
            body_col += [f"{TIER_ZH[t]}{j + 1:03d}"] * (edges[j + 1] - edges[j])
    return pd.DataFrame({"position": np.arange(n_units), "tier": tier_col, "body": body_col})


def _monthly_frame(y: synth.Year, rows: np.ndarray, names: list[str], month: int, heads: list[str], na_mark: str) -> pd.DataFrame:
    """One body's monthly sheet (计分 items only, points as text as a clerk types them)."""
    pidx = np.flatnonzero(~y.graded)
    vals = y.monthly[month - 1][rows]
    st = y.status[rows][:, pidx]
    text = np.where(vals % 10 == 0, (vals // 10).astype(str), np.char.add(np.char.add((vals // 10).astype(str), "."), (vals % 10).astype(str)))
    cells = np.where(st == synth._OK, text, np.where(st == synth._NA, na_mark, ""))
    tot = np.where(st == synth._OK, vals, 0).sum(axis=1)
    df = pd.DataFrame(cells, columns=heads)
    df.insert(0, "单位名称", [names[i] for i in rows])
    df.insert(0, "序号", np.arange(1, len(rows) + 1))
    df["总分"] = [synth._num(int(t)) for t in tot]
    return df


def write_scale_world(raw_dir, truth_dir=None, *, n_units: int = 20000, tiers=("city", "county"),
                      files_per_year: int = 500, years=(2016, 2016), seed: int = 7, messy: bool = True) -> dict:
    """Write a tiered world of ``n_units`` units with about ``files_per_year`` CSV files a year.

    Parameters
    ----------
    raw_dir : path
        Raw folder to write (``units.csv`` and one folder per year, SPEC §2).
    truth_dir : path, optional
        Where ``tiers.csv`` and the truth tables of :func:`pipeline.synth.write_truth` go.
    n_units : int
        10³–10⁵ units (any number ≥ 12 works).
    tiers : sequence of str
        Tier names (keys of :data:`TIER_ZH`), first the capital's own organs.
    files_per_year : int
        Target number of files per year (≥ 16): 4 fixed files plus 12 monthly files per
        reporting body, so there are ``max(1, (files_per_year − 4) // 12)`` bodies.
    years : (first, last)
        Years to write; each has monthly files.
    seed : int
    messy : bool
        Annual files in the committee's messy style (SPEC §2.1) or tidy.

    Returns
    -------
    dict
        ``units``, ``years``, ``files`` (written), ``bodies``.
    """
    tiers = [t.strip() for t in (tiers.split(",") if isinstance(tiers, str) else tiers) if t.strip()]
    n_units, files_per_year = int(n_units), int(files_per_year)
    if n_units < 12:
        raise PipelineError(f"synth: --units must be ≥ 12 for a tiered world, got {n_units}")
    if files_per_year < _FIXED_FILES + 12:
        raise PipelineError(f"synth: --files-per-year must be ≥ {_FIXED_FILES + 12} (4 annual files + 12 monthly), got {files_per_year}")
    n_bodies = max(1, (files_per_year - _FIXED_FILES) // 12)
    world = synth.generate(seed=seed, n_units=n_units, years=tuple(years), monthly_years=tuple(years))
    raw = Path(raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    with atomic_path(raw / "units.csv") as tmp:
        world.units.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    n_files = 1
    namer = synth._Namer(world.units)
    rng = np.random.default_rng([seed, 14])
    st = dict(synth.STYLES[3]) if messy else dict(synth.TIDY, fmt="csv", enc="utf-8-sig")
    tier_of = assign_tiers(len(world.units), tiers, n_bodies, seed)
    tier_of.insert(0, "unit_id", world.units["unit_id"].to_numpy())
    for year, y in sorted(world.years.items()):
        folder = raw / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        enc = st["enc"]
        synth._write_csv_rows(synth._items_rows(y, st), folder / f"{year}年考评项目一览表.csv", enc)
        rows, _ = synth._summary_rows(y, st, namer, rng, messy)
        synth._write_csv_rows(rows, folder / f"{year}年考评汇总表.csv", enc)
        n_files += 2
        if y.adjustment is not None:
            synth._write_csv_rows(synth._review_rows(y, st, namer, rng, messy), folder / f"{year}年度述职评议结果.csv", enc)
            n_files += 1
        if y.weak:
            synth._write_csv_rows(synth._weak_rows(y, st, namer), folder / f"{year}年软弱涣散党组织整顿名单.csv", enc)
            n_files += 1
        names = synth._unit_names(y, namer, rng, 0.05 if messy else 0.0)
        body = tier_of.set_index("unit_id").loc[y.units, "body"].to_numpy()  # active units of the year
        heads = list(y.items["item_name"].to_numpy()[~y.graded])
        for b in pd.unique(body):
            rows_b = np.flatnonzero(body == b)
            for m in synth.MONTHS:
                df = _monthly_frame(y, rows_b, names, m, heads, st["na"][0])
                with atomic_path(folder / f"{year}年月度考评-{b}-{m}月.csv") as tmp:
                    df.to_csv(tmp, index=False, encoding=enc, lineterminator="\r\n")
                n_files += 1
    if truth_dir is not None:
        synth.write_truth(world, truth_dir)
        with atomic_path(Path(truth_dir) / "tiers.csv") as tmp:
            tier_of.drop(columns="position").to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    return {"units": n_units, "years": sorted(world.years), "files": n_files, "bodies": n_bodies}
