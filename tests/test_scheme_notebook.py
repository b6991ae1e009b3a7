"""Chapter 06-scheme: the jupytext source and the built notebook agree, the notebook is thin,
and under papermill it records the headline numbers of :func:`pipeline.scheme.headline`."""

from __future__ import annotations

import nbformat
import pytest

from pipeline import config, notebooks
from pipeline.io import write_table
from pipeline.scheme import evaluate, headline, parse, year_frames
from tests.test_scheme import world

NB = config.NOTEBOOKS / "06-scheme.ipynb"


def test_jupytext_pair_in_sync():
    # the .py is the source: `jupytext --to ipynb notebooks/06-scheme.py`
    import jupytext

    src = jupytext.read(str(NB.with_suffix(".py")))
    nb = nbformat.read(str(NB), as_version=4)
    assert [c.cell_type for c in src.cells] == [c.cell_type for c in nb.cells]
    for a, b in zip(src.cells, nb.cells):
        assert a.source == b.source
        assert a.metadata.get("tags", []) == b.metadata.get("tags", [])


def test_thin_and_parameterised():
    nb = nbformat.read(str(NB), as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("#")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = tagged[0].source
    for p in ("scheme_file", "year", "years", "lang", "seed", "processed", "out_dir"):
        assert f"\n{p} = " in "\n" + params, p
    assert "(" not in params and "import" not in params
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "def " not in code and "class " not in code
    assert "record(" in [c for c in nb.cells if c.cell_type == "code"][-1].source


@pytest.mark.timeout(300)
def test_papermill_records_the_headline(tmp_path):
    proc = tmp_path / "processed"
    tables = world()
    for name, df in tables.items():
        write_table(df, proc, name)
    scheme_file = config.ROOT / "schemes" / "by_sector.yaml"
    params = {"scheme_file": str(scheme_file), "year": 2020, "years": [2020, 2020], "n_mc": 50, "n_perm": 99,
              "processed": str(proc), "out_dir": str(tmp_path / "out")}
    executed = notebooks.run("06-scheme.ipynb", tmp_path / "06-scheme.ipynb", params)
    assert executed.exists()
    got = notebooks.read_record(tmp_path / "out", tables=False)["headline"]  # the chapter record beside its outputs
    want = headline(evaluate(tables, parse(scheme_file), year_frames(tables), n_mc=50, n_perm=99))
    assert got == notebooks.jsonable(want)
    assert (tmp_path / "out" / "2020" / "comparison.csv").exists()
