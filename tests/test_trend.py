"""Tests of pipeline.trend: Mann–Kendall (exact and normal), Theil–Sen, BH, system verdict.

Independent sources: brute-force enumeration of all permutations (itertools), scipy.stats
(kendalltau exact/asymptotic, theilslopes, false_discovery_control), hand computations.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from pipeline import trend
from langs import in_lang  # noqa: E402


def _s(v) -> int:
    v = np.asarray(v, dtype=float)
    i, j = np.triu_indices(len(v), 1)
    return int(np.sign(v[j] - v[i]).sum())


def _brute_p(y) -> float:
    """Two-sided exact p by enumerating every ordering of the observed values."""
    s0 = abs(_s(y))
    perms = np.array(list(itertools.permutations(y)), dtype=float)
    i, j = np.triu_indices(len(y), 1)
    s = np.sign(perms[:, j] - perms[:, i]).sum(axis=1)
    return float(np.mean(np.abs(s) >= s0))


def test_keys_and_hand_example():
    # Hand: y = 1,2,3,4 → S = 6 (all 6 pairs concordant); exactly 2 of 4! = 24 orderings
    # reach |S| = 6, so p = 2/24. tau = 1; every pairwise slope is 1.
    r = trend.mann_kendall([1, 2, 3, 4])
    assert {"s", "tau", "p", "slope", "slope_low", "slope_high"} <= set(r)
    assert r["s"] == 6 and r["tau"] == 1.0
    assert r["p"] == pytest.approx(2 / 24)
    assert r["p_method"] == "exact"
    assert r["slope"] == pytest.approx(1.0)


def test_mahonian_numbers():
    # Mahonian numbers T(4, k) (OEIS A008302): 1, 3, 5, 6, 5, 3, 1 → S = 6 − 2k
    d = trend.s_distribution(4)
    assert d["count"].tolist() == [1, 3, 5, 6, 5, 3, 1]
    assert d["s"].tolist() == [-6, -4, -2, 0, 2, 4, 6]
    # T(5, ·) row sums to 5! and has the published values 1,4,9,15,20,22,20,15,9,4,1
    assert trend.s_distribution(5)["count"].tolist() == [1, 4, 9, 15, 20, 22, 20, 15, 9, 4, 1]


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7])
def test_exact_p_matches_brute_force_untied(n):
    rng = np.random.default_rng(100 + n)
    for _ in range(5):
        y = rng.permutation(n).astype(float) + rng.normal(0, 0.01, n)
        assert trend.mann_kendall(y)["p"] == pytest.approx(_brute_p(y), abs=1e-12)


@pytest.mark.parametrize("y", [[1, 1, 2, 3], [2, 2, 2, 1, 3], [1, 1, 2, 2, 3, 3, 0], [5, 3, 3, 3, 4, 4, 9], [1, 2, 2, 2, 2, 2, 3]])
def test_exact_p_matches_brute_force_with_ties(y):
    # Tie rule: exact conditional permutation distribution (q-multinomial), checked against
    # enumeration of every ordering of the tied values.
    r = trend.mann_kendall(y)
    assert r["p_method"] == "exact"
    assert r["s"] == _s(y)
    assert r["p"] == pytest.approx(_brute_p(y), abs=1e-12)


@pytest.mark.parametrize("n", [4, 6, 8, 9, 10])
def test_exact_p_matches_scipy_kendalltau_exact(n):
    rng = np.random.default_rng(n)
    for _ in range(10):
        y = rng.normal(size=n) + 0.3 * np.arange(n)
        r = trend.mann_kendall(y)
        k = stats.kendalltau(np.arange(n), y, method="exact")
        assert r["p"] == pytest.approx(k.pvalue, rel=1e-10)
        assert r["tau"] == pytest.approx(k.statistic, rel=1e-12)


def test_normal_approximation_beyond_ten():
    rng = np.random.default_rng(5)
    y = rng.normal(size=15) + 0.1 * np.arange(15)
    r = trend.mann_kendall(y, continuity=False)
    assert r["p_method"] == "normal"
    # scipy's asymptotic Kendall test uses the same variance n(n-1)(2n+5)/18 without continuity
    assert r["p"] == pytest.approx(stats.kendalltau(np.arange(15), y, method="asymptotic").pvalue, rel=1e-10)
    # with continuity correction (default): hand formula z = (S − sign S)/sqrt(Var S)
    r2 = trend.mann_kendall(y)
    n = 15
    z = (r2["s"] - np.sign(r2["s"])) / math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    assert r2["p"] == pytest.approx(2 * stats.norm.sf(abs(z)))


def test_tie_corrected_variance_beyond_ten():
    y = [1, 1, 2, 3, 3, 3, 4, 5, 6, 7, 8, 8]  # ties of size 2, 3, 2
    r = trend.mann_kendall(y)
    n = 12
    # Kendall (1975): Var S = [n(n−1)(2n+5) − Σ t(t−1)(2t+5)] / 18
    var = (n * (n - 1) * (2 * n + 5) - 2 * (2 * 1 * 9) - 3 * 2 * 11) / 18
    assert r["var_s"] == pytest.approx(var)
    # tau_b equals scipy's kendalltau with ties
    assert r["tau"] == pytest.approx(stats.kendalltau(np.arange(n), y).statistic)


@pytest.mark.parametrize("n", [5, 8, 10, 14])
def test_theil_sen_matches_scipy(n):
    rng = np.random.default_rng(40 + n)
    x = np.arange(2009, 2009 + n, dtype=float)
    y = np.round(80 + 0.4 * (x - 2009) + rng.normal(0, 2, n), 1)  # rounding creates ties
    r = trend.mann_kendall(y, x)
    ts = stats.theilslopes(y, x, alpha=0.95)
    assert (r["slope"], r["slope_low"], r["slope_high"]) == pytest.approx((ts.slope, ts.low_slope, ts.high_slope))


def test_missing_values_are_left_out():
    y = [80.0, np.nan, 82.0, 83.5, np.nan, 85.0]
    x = np.arange(2010, 2016)
    r = trend.mann_kendall(y, x)
    keep = ~np.isnan(y)
    ts = stats.theilslopes(np.asarray(y)[keep], x[keep])
    assert r["n"] == 4 and r["s"] == 6
    assert r["slope"] == pytest.approx(ts.slope)


def test_many_equals_single_calls():
    rng = np.random.default_rng(3)
    m = rng.normal(size=(6, 8))
    m[2, [1, 5]] = np.nan
    many = trend.mann_kendall_many(m, np.arange(8))
    for k in range(6):
        one = trend.mann_kendall(m[k], np.arange(8))
        assert many.loc[k, "p"] == pytest.approx(one["p"])
        assert many.loc[k, "slope"] == pytest.approx(one["slope"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=3, max_size=6))
def test_property_exact_p_equals_enumeration(values):
    # any series of ≤ 6 small integers (many ties): exact p = enumeration
    assert trend.mann_kendall(values)["p"] == pytest.approx(_brute_p(values), abs=1e-12)


def test_bh_matches_scipy():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    assert trend.bh(p) == pytest.approx(stats.false_discovery_control(p, method="bh"))
    q = trend.bh([0.01, np.nan, 0.04])
    assert np.isnan(q[1]) and q[0] == pytest.approx(0.02) and q[2] == pytest.approx(0.04)


def _system(sd, ceiling, years=range(2009, 2017)):
    years = list(years)
    return pd.DataFrame(
        {"year": years, "mean": 85.0, "sd": sd, "iqr": np.asarray(sd) * 1.3, "share_ceiling": ceiling, "cut_gap": 3.0, "median": 85.0, "cut": 88.0}
    )


def test_discrimination_verdicts():
    down = np.linspace(8, 3, 8)
    _, v = trend.discrimination(_system(down, np.zeros(8)))
    assert v == "losing"  # sd strictly falling: exact p = 2/8! < 0.05
    _, v = trend.discrimination(_system(np.linspace(3, 8, 8), np.zeros(8)))
    assert v == "gaining"
    flat = np.array([5, 6, 5, 6, 5, 6, 5, 6.0])
    _, v = trend.discrimination(_system(flat, np.zeros(8)))
    assert v == "stable"
    _, v = trend.discrimination(_system(flat, np.linspace(0, 0.3, 8)))
    assert v == "losing"  # ceiling share rising
    _, v = trend.discrimination(_system(flat[:3], np.zeros(3), range(2014, 2017)))
    assert v == "too_short"


def test_system_hand_case():
    # 5 units, top 2 win: cut = the 2nd best pct; ceiling share = 1/5 (one unit ≥ 95)
    tot = pd.DataFrame({"year": 2016, "unit_id": list("abcde"), "total": [96, 90, 85, 80, 70.0], "pct_of_max": [96, 90, 85, 80, 70.0], "rank": [1, 2, 3, 4, 5]})
    s = trend.system(tot, top_n=2).iloc[0]
    assert s["cut"] == 90 and s["share_ceiling"] == pytest.approx(0.2)
    assert s["median"] == 85 and s["cut_gap"] == 5
    assert s["sd"] == pytest.approx(np.std([96, 90, 85, 80, 70], ddof=1))
    assert s["iqr"] == pytest.approx(90 - 80)


def test_unit_trends_bh_and_direction():
    years = np.arange(2009, 2017)
    rows = []
    for k in range(10):
        slope = 1.0 if k == 0 else 0.0
        vals = 80 + slope * (years - 2009) + (np.random.default_rng(k).normal(0, 0.5, 8) if k else 0)
        rows += [{"series_id": f"S{k}", "year": y, "pct_of_max": v} for y, v in zip(years, vals)]
    res = trend.unit_trends(pd.DataFrame(rows))
    top = res.iloc[0]
    assert top["series_id"] == "S0" and top["direction"] == "up"
    assert top["p"] == pytest.approx(2 / math.factorial(8))  # strictly increasing: exact
    assert top["q"] == pytest.approx(stats.false_discovery_control(res["p"].to_numpy())[0])
    assert top["slope"] == pytest.approx(1.0)


# ---------------------------------------------------------------- issue #10: one test everywhere
def test_reported_precision_turns_float_near_ties_into_ties():
    """0.1 + 0.2 = 0.30000000000000004 prints as 0.30: at 2 decimals the two values are a tie, S drops
    by one pair and the exact p is the tied enumeration's (brute force on the rounded values)."""
    raw = [0.1, 0.3, 0.1 + 0.2, 0.5, 0.6]
    loose = trend.mann_kendall(raw)
    tied = trend.mann_kendall(raw, decimals=2)
    assert loose["s"] == _s(raw) == 10 and tied["s"] == 9  # all 10 pairs rise; rounded, one pair is tied
    assert tied["p"] == pytest.approx(_brute_p(np.round(raw, 2)))
    assert tied["p"] != pytest.approx(loose["p"])
    # one precision per row: a matrix call equals the single calls
    raw2 = [1.04, 1.01, 1.2, 1.3, 1.0]
    many = trend.mann_kendall_many(np.array([raw, raw2]), decimals=[2, 1])
    assert many["s"].tolist() == [9, _s(np.round(raw2, 1))] == [trend.mann_kendall(raw, decimals=2)["s"], trend.mann_kendall(raw2, decimals=1)["s"]]
    assert many["p"].tolist() == [tied["p"], trend.mann_kendall(raw2, decimals=1)["p"]]


def test_p_min_and_min_testable_n():
    """Smallest attainable p = 2/n! without ties (only the sorted and the reversed order reach |S| = D):
    n = 4 → 1/12 = 0.083 (never significant at 0.05), n = 5 → 1/60; with ties, brute force over the
    orderings of the multiset. min_testable_n(0.05) = 5."""
    r = trend.mann_kendall([3, 1, 4, 2])
    assert r["p_min"] == pytest.approx(2 / math.factorial(4))
    assert trend.mann_kendall([1, 2, 3, 4, 5])["p_min"] == pytest.approx(2 / math.factorial(5))
    y = [1, 1, 2, 3, 4]
    perms = np.array(list(itertools.permutations(y)), dtype=float)
    i, j = np.triu_indices(5, 1)
    s = np.abs(np.sign(perms[:, j] - perms[:, i]).sum(axis=1))
    assert trend.mann_kendall(y)["p_min"] == pytest.approx(np.mean(s >= s.max()))
    assert trend.min_testable_n(0.05) == 5 and trend.min_testable_n(0.01) == 6


def test_four_years_is_too_short_not_stable():
    """n = 4: even a perfectly monotone series has p = 0.083 ≥ 0.05, so the verdict is too_short, and
    the reading says the span cannot be tested (不足以检验)."""
    sysd = _system(np.array([8.0, 7, 6, 5]), np.zeros(4), range(2013, 2017))
    tests, v = trend.discrimination(sysd)
    assert v == "too_short"
    assert (tests["p_min"] >= 0.05).all()
    assert "不足以检验" in in_lang("zh", trend.read_system, sysd, tests, v)
    assert "5" in in_lang("en", trend.read_system, sysd, tests, v)
    # five monotone years are testable
    _, v5 = trend.discrimination(_system(np.linspace(8, 4, 5), np.zeros(5), range(2012, 2017)))
    assert v5 == "losing"


def test_same_p_value_for_the_same_series_everywhere():
    """Chapter 三 (trend.discrimination), chapter 五 (findings.ceiling_tests / rule_ceiling) and the plain
    trend.mann_kendall at the reported precision give one p-value per series — including tied 8-year
    series where scipy's asymptotic kendalltau (the old findings test) disagreed."""
    from pipeline import findings as F

    rng = np.random.default_rng(10)
    for _ in range(40):
        sd = np.round(rng.choice([4.0, 4.5, 5.0, 5.5], 8), 2)
        ceil = rng.choice([0.0, 0.05, 0.1, 0.15], 8)
        sysd = _system(sd, ceil)
        tests, _ = trend.discrimination(sysd)
        ct = F.ceiling_tests(sysd)
        m = tests.set_index("metric")
        assert ct["sd"][1] == m.loc["sd", "p"]
        assert ct["share_ceiling"][1] == m.loc["share_ceiling", "p"]
        assert ct["sd"][1] == trend.mann_kendall(sd, decimals=trend.SYSTEM_DECIMALS["sd"])["p"]
        assert ct["sd"][1] == pytest.approx(_brute_p(sd)) if len(set(sd)) < 8 else True
    # the finding fires with the p-value chapter 三 shows for the compressing series
    sysd = _system(np.linspace(8, 3, 8), np.zeros(8))
    (f,) = F.rule_ceiling(sysd)
    tests, _ = trend.discrimination(sysd)
    assert f.values["p"] == tests.set_index("metric").loc["sd", "p"]


def test_unit_trends_use_reported_precision():
    """unit_trends tests pct_of_max at 2 decimals: a float near-tie is a tie (S as on the rounded series)."""
    v = pd.DataFrame({"series_id": "A", "year": range(2012, 2017), "pct_of_max": [80.0, 80.1 + 0.2 - 0.2 + 1e-12, 80.1, 81.0, 82.0]})
    r = trend.unit_trends(v).iloc[0]
    assert r["s"] == _s(np.round(v["pct_of_max"].to_numpy(), 2))


def test_findings_make_no_stable_claim_when_untestable():
    """Four years: no compression finding and no "examined, no significant trend" record either —
    significance was out of reach (min exact p 0.083), so nothing is claimed; five years are testable."""
    from pipeline import findings as F

    s4 = pd.DataFrame({"year": range(2013, 2017), "sd": [8.0, 7, 6, 5], "share_ceiling": [0.0, 0.1, 0.2, 0.3]})
    assert F.rule_ceiling(s4) == []
    assert not [f for f in F.examined({"system": s4}, []) if f.rule == "ceiling"]
    s5 = pd.DataFrame({"year": range(2012, 2017), "sd": [5.0, 6.1, 5.2, 6.3, 5.4], "share_ceiling": [0.1, 0.0, 0.1, 0.0, 0.1]})  # sd untied: p_min = 2/5!
    assert [f for f in F.examined({"system": s5}, []) if f.rule == "ceiling"]
