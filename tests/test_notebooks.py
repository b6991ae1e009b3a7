"""Every chapter notebook runs by itself with its default parameters (SPEC §6), under nbval.

02 and 03 are covered in tests/test_nb_compare.py; this file runs 01-overview, 04-weights and
05-integrity the same way: copies of the notebooks in a temporary project whose ``data/raw`` and
``data/processed`` are the sample world, so the defaults (``../data/processed`` …) resolve.
"""

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

NBS = ("01-overview.ipynb", "04-weights.ipynb", "05-integrity.ipynb")
# the report chapters; 06-scheme (what-if schemes, its own parameters) is tested in tests/test_scheme_notebook.py
ALL = sorted(p.name for p in config.NOTEBOOKS.glob("0[1-5]-*.ipynb"))


def test_all_five_chapters_exist():
    assert [n[:2] for n in ALL] == ["01", "02", "03", "04", "05"], ALL


@pytest.mark.parametrize("name", ALL)
def test_notebook_is_thin_and_parameterised(name):
    nb = nbformat.read(str(config.NOTEBOOKS / name), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("#")  # title + question
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = tagged[0].source
    for p in ("year", "years", "top_n", "na_policy", "grade_map", "lang", "seed", "processed", "out_dir"):
        assert f"\n{p} = " in "\n" + params, (name, p)
    # the default out_dir is the chapter's own folder (run alone, a chapter writes its record there)
    assert f'out_dir = "../data/processed/analysis/2016/{name[:-6]}"' in params
    # literals only in the parameters cell (papermill injects after it): no calls, no imports
    assert "(" not in params.replace("# ", "") and "import" not in params
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def " not in code and "class " not in code
    assert "rec.headline(" in [c for c in nb.cells if c.cell_type == "code"][-1].source
    # one record per chapter, named after it (started directly or by notebooks.chapter_inputs)
    assert (f'notebooks.record(out_dir, "{name[:-6]}"' in code) != (f'notebooks.chapter_inputs(processed, "{name[:-6]}", out_dir' in code)


@pytest.mark.parametrize("name", ALL)
def test_jupytext_pair_in_sync(name):
    # the .py (jupytext percent) is the source; the .ipynb must be built from it:
    # `jupytext --to ipynb --update notebooks/NN-topic.py`
    import jupytext

    src = jupytext.read(str(config.NOTEBOOKS / name.replace(".ipynb", ".py")))
    nb = nbformat.read(str(config.NOTEBOOKS / name), as_version=4)
    assert [c.cell_type for c in src.cells] == [c.cell_type for c in nb.cells], name
    for a, b in zip(src.cells, nb.cells):
        assert a.source == b.source, (name, b.source[:60])
        assert a.metadata.get("tags", []) == b.metadata.get("tags", []), (name, b.source[:60])


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_nbval_default_parameters(world, tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "raw").symlink_to(world.raw, target_is_directory=True)
    proc = data / "processed"
    proc.mkdir()
    for f in Path(world.processed).iterdir():
        if f.is_file():
            (proc / f.name).symlink_to(f)
    for name in NBS:
        shutil.copy(config.NOTEBOOKS / name, nbdir / name)
    env = dict(os.environ, MPLCONFIGDIR=str(config.ROOT / ".mplconfig"))
    env["PYTHONPATH"] = str(config.ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--nbval-lax", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         *[str(nbdir / n) for n in NBS]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=380,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    written = sorted(p.name for p in (proc / "analysis").rglob("*.png"))
    assert len(written) >= 10, written  # the chapters wrote their figures under the default out_dir
    for name in NBS:  # and their records, each in its chapter folder
        rec = notebooks.read_record(proc / "analysis" / "2016" / name[:-6])
        assert rec["chapter"] == name[:-6] and rec["headline"]["year"] == 2016


def test_record_roundtrip(tmp_path):
    # what a chapter records is what read_record returns, in notebook order; tables pass their schema
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from pipeline.errors import PipelineError

    rec = notebooks.record(tmp_path / "ch", "01-overview", top_n=15)
    rec.table("distribution", pd.DataFrame({"statistic": ["n_units", "mean"], "value": [3, 80.5]}))
    rec.reading("第一句。\n")
    fig, ax = plt.subplots()
    shown = rec.figure("f_one", fig)
    # the chapter displays the PNG it recorded (no third draw) and the figure is closed
    assert shown.data == (tmp_path / "ch" / "figures" / "f_one.png").read_bytes() and not plt.fignum_exists(fig.number)
    rec.headline(n=3, share=0.25, name="市教育局", winners=["U01", "U02"])
    got = notebooks.read_record(tmp_path / "ch")
    assert got["items"] == [["tab", "distribution"], ["p", "第一句。"], ["fig", "f_one"]]
    assert got["headline"] == {"n": 3, "share": 0.25, "name": "市教育局", "winners": ["U01", "U02"]}
    assert got["parameters"] == {"top_n": 15} and got["tables"]["distribution"]["value"].tolist() == [3.0, 80.5]
    assert got["figures"]["f_one"].exists() and (tmp_path / "ch" / "figures" / "f_one.svg").exists()
    # a table that breaks its chapter schema is refused with one line naming it
    with pytest.raises(PipelineError, match="chapter table 'distribution' fails its schema"):
        rec.table("distribution", pd.DataFrame({"statistic": ["a", "a"], "value": [1.0, 2.0]}))
    # a missing record is an error naming the file and the command, never a silent recompute
    with pytest.raises(PipelineError, match=r"record\.json: chapter record not found — run `python -m pipeline analyze`"):
        notebooks.read_record(tmp_path / "nothing")


def test_record_tables_read_when_first_asked_for(tmp_path):
    """A record's tables are read from their files only when asked for, once; a broken table
    is one clear line naming its file when it is read. Expected: the frames written."""
    from pipeline.errors import PipelineError

    rec = notebooks.Record(tmp_path / "ch", "01-overview", year=2016)
    a = pd.DataFrame({"x": [1, 2]})
    rec.table("t_a", a)
    rec.table("t_b", pd.DataFrame({"y": [3.5]}))
    got = notebooks.read_record(tmp_path / "ch")
    tabs = got["tables"]
    assert list(tabs) == ["t_a", "t_b"] and len(tabs) == 2 and "t_b" in tabs and "t_c" not in tabs
    assert tabs._read == {}  # nothing read yet
    pd.testing.assert_frame_equal(tabs["t_a"], a)
    assert set(tabs._read) == {"t_a"} and tabs["t_a"] is tabs["t_a"]  # read once
    with pytest.raises(KeyError):
        tabs["t_c"]
    (tmp_path / "ch" / "tables" / "t_b.parquet").write_bytes(b"not parquet")
    with pytest.raises(PipelineError, match=r"t_b\.parquet: cannot read the recorded table"):
        tabs["t_b"]
    assert notebooks.read_record(tmp_path / "ch", tables=False)["tables"] == {}
