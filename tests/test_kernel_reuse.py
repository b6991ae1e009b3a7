"""A reused kernel (:func:`pipeline.notebooks.run` with ``reuse_kernel``) runs every notebook in
one long-lived kernel per process, yet each notebook starts from an empty namespace, and a
failure is still one line naming notebook and cell (issue #12, point 5)."""

from __future__ import annotations

import json

import nbformat
import pytest

from pipeline import config, notebooks
from pipeline.errors import PipelineError


def _nb(path, *cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("out = ''", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.fixture
def nbdir(tmp_path, monkeypatch):
    d = tmp_path / "nbs"
    d.mkdir()
    monkeypatch.setattr(config, "NOTEBOOKS", d)
    _nb(d / "a.ipynb", "import os, json\nleak = 41\njson.dump({'pid': os.getpid(), 'cwd': os.getcwd()}, open(out, 'w'))",
        "import os\nos.chdir('/')")  # a notebook that wanders off must not move the next one
    _nb(d / "b.ipynb", "import os, json\njson.dump({'pid': os.getpid(), 'cwd': os.getcwd(), 'leak': 'leak' in globals()}, open(out, 'w'))")
    _nb(d / "bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    yield d
    notebooks.shutdown_kernel()


def test_reused_kernel_runs_each_notebook_in_a_fresh_namespace(nbdir, tmp_path):
    outs = [tmp_path / f"{k}.json" for k in "abc"]
    notebooks.run("a.ipynb", tmp_path / "ex_a.ipynb", {"out": str(outs[0])}, reuse_kernel=True)
    notebooks.run("b.ipynb", tmp_path / "ex_b.ipynb", {"out": str(outs[1])}, reuse_kernel=True)
    a, b = (json.loads(p.read_text()) for p in outs[:2])
    assert a["pid"] == b["pid"]  # the same kernel process served both
    assert b["leak"] is False  # but b does not see a's variables
    assert b["cwd"] == a["cwd"] == str(nbdir.resolve())  # and starts in the notebooks folder again
    # a failing notebook: one line naming notebook and cell; the kernel still serves the next one
    with pytest.raises(PipelineError, match=r"notebook bad\.ipynb, cell 3: ValueError: broken on purpose"):
        notebooks.run("bad.ipynb", tmp_path / "ex_bad.ipynb", {}, reuse_kernel=True)
    # the executed copy (written once, at the end) is kept with the failing cell's error in it
    assert "broken on purpose" in (tmp_path / "ex_bad.ipynb").read_text(encoding="utf-8")
    notebooks.run("b.ipynb", tmp_path / "ex_b2.ipynb", {"out": str(outs[2])}, reuse_kernel=True)
    c = json.loads(outs[2].read_text())
    assert c["pid"] == a["pid"] and c["leak"] is False
    assert (tmp_path / "ex_b2.ipynb").exists()


def test_fresh_kernel_per_notebook_without_reuse(nbdir, tmp_path):
    outs = [tmp_path / f"{k}.json" for k in "ab"]
    notebooks.run("a.ipynb", tmp_path / "ex_a.ipynb", {"out": str(outs[0])})
    notebooks.run("b.ipynb", tmp_path / "ex_b.ipynb", {"out": str(outs[1])})
    a, b = (json.loads(p.read_text()) for p in outs)
    assert a["pid"] != b["pid"]


def test_shutdown_stops_the_kernel(nbdir, tmp_path):
    notebooks.run("b.ipynb", tmp_path / "ex.ipynb", {"out": str(tmp_path / "o.json")}, reuse_kernel=True)
    km = notebooks._KERNEL["km"]
    assert km.is_alive()
    notebooks.shutdown_kernel()
    assert not km.is_alive() and "km" not in notebooks._KERNEL


def test_warm_kernel_is_the_kernel_the_chapters_then_use(nbdir, tmp_path):
    """:func:`notebooks.warm_kernel` starts the reused kernel and imports the chapters' modules
    in it; the next notebook runs in that very kernel (same pid), with the modules already
    imported but its own namespace empty, and a second warm-up does nothing."""
    _nb(nbdir / "mods.ipynb", "import os, sys, json\n"
        "json.dump({'pid': os.getpid(), 'mods': [m for m in ('pipeline.sensitivity', 'pipeline.plots.weights') if m in sys.modules],"
        " 'names': sorted(k for k in globals() if k.startswith('pipeline') or k == 'pandas')}, open(out, 'w'))")
    notebooks.warm_kernel()
    assert notebooks._KERNEL.get("warm") is True
    km = notebooks._KERNEL["km"]
    notebooks.warm_kernel()  # idempotent: the same kernel, not a second one
    assert notebooks._KERNEL["km"] is km
    out = tmp_path / "m.json"
    notebooks.run("mods.ipynb", tmp_path / "ex_m.ipynb", {"out": str(out)}, reuse_kernel=True)
    got = json.loads(out.read_text())
    assert got["pid"] == km.provisioner.process.pid
    assert got["mods"] == ["pipeline.sensitivity", "pipeline.plots.weights"]  # imported by the warm-up
    assert got["names"] == []  # the warm-up's names were reset like any notebook's
