"""Notebook 04 runs under papermill with small parameters and records its headline numbers."""

from __future__ import annotations

import pytest

from pipeline import config
from pipeline.notebooks import read_record, run


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_notebook_04_runs_and_records(world, tmp_path, monkeypatch):
    import os

    from pipeline.io import read_table

    # the kernel must import this checkout even when the package is not pip-installed
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(config.ROOT), os.environ.get("PYTHONPATH", "")]))

    out = tmp_path / "out"
    run(
        "04-weights.ipynb",
        tmp_path / "04-executed.ipynb",
        {"year": 2016, "processed": str(world.processed), "out_dir": str(out), "n_samples": 2000, "n_sobol": 64,
         "lang": "en", "seed": 7},
    )
    rec = read_record(out)["headline"]
    assert rec["year"] == 2016 and rec["n_samples"] == 2000
    assert 0 <= rec["jaccard_mean"] <= 1 and -1 <= rec["spearman_mean"] <= 1
    unc = read_table(out / "tables", "sens_uncertainty")
    assert unc["p_winner"].sum() >= 20 - 1e-9  # ≥ top_n winners per sample (ties at the cut add more)
    assert (out / "figures" / "sens_rank_intervals.png").exists()
    assert (out / "figures" / "sens_sobol.svg").exists()
    assert set(read_table(out / "tables", "sens_fairness_tests")["attribute"]) == {"type", "sector", "size"}
    # issue #10: the weights answer reads weight factors only; method choices are a table of their own
    sob = read_table(out / "tables", "sens_sobol")
    assert sob["factor"].str.startswith("w_").all()
    assert rec["top_sobol_factor"].startswith("w_") and rec["top_shapley_factor"].startswith("w_")
    shap = read_table(out / "tables", "sens_shapley")
    sysr = shap[shap["target"] == "mean_abs_shift"]
    assert abs(sysr["share"].sum() - 1) < 1e-9  # Shapley effects sum to the variance
    meth = read_table(out / "tables", "sens_method_choices")
    assert {"na_policy", "aggregation"} <= set(meth["factor"]) and rec["top_method_factor"] in set(meth["factor"])
    assert (out / "figures" / "sens_shapley.svg").exists() and (out / "figures" / "sens_methods.svg").exists()


def test_notebook_04_is_thin():
    """One parameters cell of literals; no function definitions (STYLE.md)."""
    import nbformat

    nb = nbformat.read(str(config.NOTEBOOKS / "04-weights.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assert all("def " not in c.source for c in code)
    assert "rec.headline(" in code[-1].source
    assert nb.metadata["kernelspec"]["name"] == "python3"
