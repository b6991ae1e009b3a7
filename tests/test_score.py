"""Tests of pipeline.score.rank / aggregate against a published composite index (UNDP HDI 2022).

Source: tests/fixtures/hdi2022.csv, copied from the UNDP Human Development Report 2023/24
composite-indices time series (2022 columns, 193 countries). UNDP method (HDR 2023/24 technical
notes): goalposts life expectancy 20–85, expected schooling 0–18, mean schooling 0–15, GNI per
capita ln(100)–ln(75 000) (values above the maximum capped); education index = mean of the two
schooling indices; HDI = geometric mean of the three indices; ranks of the 3-decimal values
with ties sharing the better rank.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pipeline import score
from pipeline.errors import PipelineError

HDI = Path(__file__).parent / "fixtures" / "hdi2022.csv"


@pytest.fixture(scope="module")
def hdi():
    d = pd.read_csv(HDI, comment="#")
    le = (d["le_2022"] - 20) / (85 - 20)
    edu = (np.minimum(d["eys_2022"], 18) / 18 + np.minimum(d["mys_2022"], 15) / 15) / 2
    inc = (np.log(np.minimum(d["gnipc_2022"], 75000)) - np.log(100)) / (np.log(75000) - np.log(100))
    d["calc"] = score.aggregate(np.column_stack([le, edu, inc]), [1, 1, 1], "geometric")
    return d


def test_hdi_values_reproduced(hdi):
    assert len(hdi) == 193
    assert (np.round(hdi["calc"], 3) == hdi["hdi_2022"]).all()


def test_hdi_ranks_reproduced(hdi):
    r = score.rank(np.round(hdi["calc"], 3), decimals=3)
    assert (r == hdi["hdi_rank_2022"].astype(int)).all()
    # the published table has shared ranks (e.g. two countries at the same 3-decimal HDI)
    assert hdi["hdi_rank_2022"].duplicated().any()


def test_rank_hand_and_scipy():
    assert score.rank([90, 95, 95, 80]).tolist() == [3, 1, 1, 4]  # competition ranking 1224
    x = np.random.default_rng(1).integers(0, 10, size=(50, 30)).astype(float)
    assert (score.rank(x, axis=1) == stats.rankdata(-x, method="min", axis=1)).all()


def test_rank_nan_takes_no_rank():
    r = score.rank([3.0, np.nan, 5.0])
    assert r[0] == 2 and r[2] == 1 and np.isnan(r[1])


def test_aggregate_hand_cases():
    # arithmetic: (2·1 + 1·0.5)/3; geometric: 1^(2/3)·0.25^(1/3)
    assert score.aggregate([1.0, 0.5], [2, 1]) == pytest.approx(2.5 / 3)
    assert score.aggregate([1.0, 0.25], [2, 1], "geometric") == pytest.approx(0.25 ** (1 / 3))
    # NaN = not applicable: left out and weights renormalised (prorate)
    assert score.aggregate([1.0, np.nan, 0.5], [1, 5, 1]) == pytest.approx(0.75)
    assert score.aggregate([0.0, 1.0], [1, 1], "geometric") == 0.0
    with pytest.raises(PipelineError):
        score.aggregate([1.0, 2.0], [1.0])


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 8), st.floats(0.1, 50.0), st.integers(0, 10_000))
def test_ranks_unchanged_by_rescaling_weights(n_items, factor, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(12, n_items)).round(2)
    w = rng.uniform(0.1, 1, size=n_items)
    a = score.rank(score.aggregate(x, w), decimals=9)
    b = score.rank(score.aggregate(x, w * factor), decimals=9)
    assert (a == b).all()


def test_regrade_matrix_agrees_with_graded_tidy_table(world):
    """One grade rule, two shapes: ``score.regrade`` (the units × items matrix of the weights
    chapter) gives the points ``score.graded`` (the tidy table of chapter 02) gives, for every
    graded cell, under a non-default map; the expected value of each graded cell is the hand rule
    share × item maximum (好 1.0, 较好 0.5, 一般 0.2)."""
    from pipeline import io
    from pipeline.sensitivity import year_data

    gm = {"好": 1.0, "较好": 0.5, "一般": 0.2}
    scores, items = io.read_table(world.processed, "scores"), io.read_table(world.processed, "items")
    year = int(items["year"].max())
    data = year_data(world.processed, year)
    mat = score.regrade(data.points, data.grades, data.maxima, gm)
    tidy = score.graded(scores, items, gm)
    sc = tidy.loc[(tidy["year"] == year) & (tidy["period"].astype(str) == "Y") & tidy["grade"].isin(list(gm))]
    assert len(sc) > 0
    got = mat.stack().rename("m").reset_index().merge(sc[["unit_id", "item_id", "points", "grade"]], on=["unit_id", "item_id"])
    assert len(got) == len(sc)
    np.testing.assert_allclose(got["m"], got["points"])
    mx = items.loc[items["year"] == year].set_index("item_id")["max_points"]
    np.testing.assert_allclose(got["m"], got["grade"].map(gm) * got["item_id"].map(mx))
