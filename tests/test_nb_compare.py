"""Notebooks 02-horizontal and 03-vertical-trend: nbval (--nbval-lax) with the default
parameters, papermill with other years / language, and the recorded numbers checked against
the processed tables of the sample world (the shared ``world`` fixture)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from pipeline import config, notebooks
from pipeline.io import read_table

NBS = ("02-horizontal.ipynb", "03-vertical-trend.ipynb")
pytestmark = pytest.mark.timeout(300)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(config.ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("MPLCONFIGDIR", str(config.ROOT / ".mplconfig"))
    return env


@pytest.fixture
def kernel_env(monkeypatch):
    """Kernels started by papermill import ``pipeline`` from the work tree (no pip install needed)."""
    for k, v in _env().items():
        if k in ("PYTHONPATH", "MPLCONFIGDIR"):
            monkeypatch.setenv(k, v)


def _markdown_outputs(path: Path) -> list[str]:
    nb = nbformat.read(str(path), as_version=4)
    return [o["data"]["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]


def test_notebooks_are_thin():
    for name in NBS:
        nb = nbformat.read(str(config.NOTEBOOKS / name), as_version=4)
        assert nb.metadata["kernelspec"]["name"] == "python3"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1
        src = tagged[0].source
        for p in ("year", "years", "top_n", "na_policy", "lang", "seed", "processed", "out_dir"):
            assert f"\n{p} = " in "\n" + src
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "def " not in code and "import" not in src
        assert "rec.headline(" in nb.cells[-1].source


@pytest.mark.slow
def test_nbval_default_parameters(world, tmp_path):
    """nbval --nbval-lax on copies of both notebooks whose ../data/processed is the sample world."""
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    proc = tmp_path / "data" / "processed"
    proc.mkdir(parents=True)
    for f in Path(world.processed).iterdir():
        if f.is_file():
            (proc / f.name).symlink_to(f)
    for name in NBS:
        shutil.copy(config.NOTEBOOKS / name, nbdir / name)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), *[str(nbdir / n) for n in NBS]],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=280,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    out = proc / "analysis" / "2016"  # each chapter's default out_dir is its chapter folder
    assert (out / "02-horizontal" / "figures" / "h_ranking.png").exists() and (out / "03-vertical-trend" / "figures" / "v_system.svg").exists()
    assert (out / "03-vertical-trend" / "tables" / "v_vertical.parquet").exists() and (out / "02-horizontal" / "tables" / "h_ranking.csv").exists()
    assert notebooks.read_record(out / "02-horizontal")["headline"]["year"] == 2016


@pytest.mark.slow
def test_papermill_other_year_and_language(world, tmp_path, kernel_env):
    totals = read_table(world.processed, "totals")
    base = {"top_n": 20, "na_policy": "prorate", "seed": 1, "processed": str(world.processed)}
    out2 = notebooks.run(NBS[0], tmp_path / "02.ipynb", {**base, "year": 2014, "years": [2009, 2014], "lang": "en", "out_dir": str(tmp_path / "a2014")})
    record = notebooks.read_record(tmp_path / "a2014")
    rec = record["headline"]
    t14 = totals.loc[totals.year == 2014]
    # winners recorded by the notebook = the processed totals' winners of that year (default parameters)
    assert set(rec["winners"]) == set(t14.loc[t14.is_winner, "unit_id"]) and rec["year"] == 2014
    rk = record["tables"]["h_ranking"]
    assert (rk["year"] == 2014).all()
    # the reading sentences are generated from the numbers (en templates), recorded and shown
    md = "\n".join(_markdown_outputs(out2))
    readings = [v for k, v in record["items"] if k == "p"]
    cut = float(rk["cut"].iloc[0])
    assert f"winning cut is {cut:.1f}" in md and any(f"winning cut is {cut:.1f}" in r for r in readings)
    assert any(f"{t14['pct_of_max'].mean():.1f}%" in r for r in readings)

    out3 = notebooks.run(NBS[1], tmp_path / "03.ipynb", {**base, "year": 2016, "years": [2012, 2016], "lang": "zh", "out_dir": str(tmp_path / "v")})
    rec3 = notebooks.read_record(tmp_path / "v")["headline"]
    assert (rec3["first_year"], rec3["last_year"]) == (2012, 2016)
    assert rec3["n_merge"] == 1  # the planted 2014 merge lies in the span; the 2010 rename does not
    assert rec3["verdict"] in ("losing", "gaining", "stable")
    md3 = "\n".join(_markdown_outputs(out3))
    assert "合并" in md3 and f"{rec3['shorrocks_mean']:.2f}" in md3
    vert = pd.read_parquet(tmp_path / "v" / "tables" / "v_vertical.parquet")
    assert vert["year"].between(2012, 2016).all()


@pytest.mark.slow
def test_papermill_single_year_span_and_bad_year(world, tmp_path, kernel_env):
    base = {"top_n": 20, "na_policy": "prorate", "seed": 1, "lang": "zh", "processed": str(world.processed)}
    notebooks.run(NBS[1], tmp_path / "03.ipynb", {**base, "year": 2009, "years": [2009, 2009], "out_dir": str(tmp_path / "v")})
    rec = notebooks.read_record(tmp_path / "v")["headline"]
    assert rec["shorrocks_mean"] is None and rec["verdict"] == "too_short"
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="year 2030 is not in the data"):
        notebooks.run(NBS[0], tmp_path / "bad.ipynb", {**base, "year": 2030, "years": None, "out_dir": str(tmp_path / "b")})
