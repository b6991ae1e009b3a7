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
    for p in ("year", "top_n", "na_policy", "lang", "seed", "processed", "out_dir"):
        assert f"\n{p} = " in "\n" + params, (name, p)
    # literals only in the parameters cell (papermill injects after it): no calls, no imports
    assert "(" not in params.replace("# ", "") and "import" not in params
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def " not in code and "class " not in code
    assert "record(" in [c for c in nb.cells if c.cell_type == "code"][-1].source


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


def test_headline_record_roundtrip(tmp_path, capsys):
    # record() prints one machine-readable line that read_record() finds in an executed notebook
    notebooks.record(n=3, share=0.25, name="市教育局")
    line = capsys.readouterr().out.strip()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("record()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=line + "\n")]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, str(path))
    assert notebooks.read_record(path) == {"n": 3, "share": 0.25, "name": "市教育局"}
