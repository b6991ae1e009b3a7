"""Ground-truth recovery: cleaning the synthetic world gives back exactly what synth planted.

The expected values are the truth tables that :func:`pipeline.synth.write_world` writes next to
the raw workbooks (an independent record of what the messy workbooks encode); the cleaner never
sees them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import io as pio

synth = pytest.importorskip("pipeline.synth", reason="pipeline.synth (the world generator) does not exist yet")
if not hasattr(synth, "write_world"):  # pragma: no cover - only while synth is being written
    pytest.skip("pipeline.synth.write_world does not exist yet", allow_module_level=True)

KEY = ["year", "period", "unit_id", "item_id"]


def _truth(world, name: str) -> pd.DataFrame:
    return pd.read_csv(world.truth / f"{name}.csv", dtype={"period": str, "grade": str, "unit_id": str, "item_id": str}, keep_default_na=True)


def test_scores_recovered_exactly(world):
    got = pio.read_table(world.processed, "scores")
    exp = _truth(world, "scores")
    assert len(got) == len(exp)
    m = got.merge(exp, on=KEY, how="outer", suffixes=("", "_t"), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", KEY + ["_merge"]].head()
    # every year, period, unit and item: points equal (NaN where NA/missing), status, grade
    np.testing.assert_allclose(m["points"].astype(float), m["points_t"].astype(float), rtol=0, atol=1e-9, equal_nan=True)
    assert (m["status"].astype(str) == m["status_t"].astype(str)).all()
    assert (m["grade"].fillna("").astype(str) == m["grade_t"].fillna("").astype(str)).all()
    # every period of the truth is present (annual + the monthly sheets)
    assert set(got["period"]) == set(exp["period"])
    assert set(got["year"]) == set(exp["year"])


def test_scores_sources_point_at_real_cells(world):
    got = pio.read_table(world.processed, "scores")
    src = got["source"].str.split("!", expand=True)
    assert src.shape[1] == 3
    assert src[2].str.fullmatch(r"[A-Z]{1,3}[1-9]\d*").all()
    assert all((world.raw / f).is_file() for f in src[0].unique())


def test_items_and_units_recovered(world):
    for name, key in (("items", ["year", "item_id"]), ("units", ["unit_id"])):
        got = pio.read_table(world.processed, name).sort_values(key).reset_index(drop=True)
        exp = _truth(world, name).sort_values(key).reset_index(drop=True)
        assert list(got.columns) == list(exp.columns)
        for c in got.columns:
            a = got[c].astype(object).where(got[c].notna(), None)
            b = exp[c].astype(object).where(exp[c].notna(), None)
            if c in ("max_points", "members", "valid_from", "valid_to"):
                np.testing.assert_allclose(pd.to_numeric(got[c]).astype(float), pd.to_numeric(exp[c]).astype(float), equal_nan=True)
            else:
                assert [str(x) if x is not None else None for x in a] == [str(x) if x is not None else None for x in b], (name, c)


def test_totals_and_ranks_recovered(world):
    got = pio.read_table(world.processed, "totals").sort_values(["year", "unit_id"]).reset_index(drop=True)
    exp = _truth(world, "totals").sort_values(["year", "unit_id"]).reset_index(drop=True)
    assert list(got.columns) == list(exp.columns)
    assert (got["unit_id"] == exp["unit_id"]).all()
    for c in got.columns:
        if c in ("unit_id",):
            continue
        np.testing.assert_allclose(got[c].astype(float), exp[c].astype(float), atol=1e-9, err_msg=c)


@pytest.mark.parametrize("name,value", [("adjustments", "adjustment"), ("weak_orgs", "status"), ("given", "given_total")])
def test_side_tables_recovered(world, name, value):
    got = pio.read_table(world.processed, name)
    exp = _truth(world, name)
    key = ["year", "unit_id"]
    m = got.merge(exp, on=key, how="outer", suffixes=("", "_t"), indicator=True)
    assert (m["_merge"] == "both").all()
    for c in exp.columns:
        if c in key:
            continue
        if pd.api.types.is_numeric_dtype(exp[c]):
            np.testing.assert_allclose(m[c].astype(float), m[c + "_t"].astype(float), atol=1e-9, equal_nan=True, err_msg=c)
        else:
            assert (m[c].astype(str) == m[c + "_t"].astype(str)).all(), c


def test_clean_run_leaves_no_quarantine(world):
    q = pd.read_csv(world.processed / "quarantine.csv")
    assert len(q) == 0
    log = pd.read_csv(world.processed / "cleaning_log.csv")
    # the messy cases of SPEC §2.1 were met and logged
    rules = set(log["rule"].str.split(";").explode())
    for rule in ("text_number", "grade_mapped", "na_token", "fullwidth", "suffix_分", "spaces", "unit_alias", "unit_city_prefix", "trailer_row_skipped"):
        assert rule in rules, rule


@pytest.mark.parametrize("name", ["scores", "totals", "given"])
def test_csv_twin_reads_back_as_the_parquet(world, name):
    # scores are written one year at a time (pipeline.io.TableWriter); the CSV twin is made from
    # the Parquet file, so both must hold the same values (the Parquet file is the reference)
    pq_df = pio.read_table(world.processed, name)
    text = {c: str for c in pq_df.columns if pd.api.types.is_string_dtype(pq_df[c])}
    csv_df = pd.read_csv(world.processed / f"{name}.csv", encoding="utf-8-sig", dtype=text)
    assert list(csv_df.columns) == list(pq_df.columns) and len(csv_df) == len(pq_df)
    for c in pq_df.columns:
        if c in text:
            assert (csv_df[c].fillna("") == pq_df[c].fillna("")).all(), c
        else:
            np.testing.assert_allclose(csv_df[c].astype(float), pq_df[c].astype(float), rtol=0, atol=0, equal_nan=True, err_msg=c)
