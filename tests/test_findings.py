"""Rules layer (pipeline.findings): each rule on a constructed table that fires and one that does not.

Expected values are hand computations or analytic results; each comment says which.
"""

from __future__ import annotations

import math
import re
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline import findings as F
from pipeline import score

CJK = re.compile(r"[\u3400-\u9fff]")


def _unc(p_winners):
    """20 nominal winners with the given P(winner), then 10 non-winners with P = 0."""
    n = len(p_winners)
    return pd.DataFrame(
        {
            "unit_id": [f"U{i:03d}" for i in range(n + 10)],
            "nominal_rank": np.arange(1, n + 11),
            "p_winner": list(p_winners) + [0.0] * 10,
        }
    )


# ------------------------------------------------------------------ winner stability
def test_winner_stability_fires_and_counts():
    # 5 of 20 winners below 0.8 (hand count) → k = 5, severity high because 5 ≥ 0.25 × 20
    p = [1.0] * 15 + [0.79, 0.5, 0.3, 0.75, 0.1]
    (f,) = F.rule_winner_stability(_unc(p), top_n=20, threshold=0.8)
    assert f.rule == "winner_stability" and f.values["k"] == 5 and f.values["n"] == 20
    assert f.severity == "high"
    assert f.names["units"][1][0] == "U019"  # the lowest P(winner) (0.1) is named first


def test_winner_stability_quiet_when_all_stable():
    assert F.rule_winner_stability(_unc([0.8] * 20), top_n=20, threshold=0.8) == []


def test_winner_stability_medium_when_few():
    (f,) = F.rule_winner_stability(_unc([1.0] * 19 + [0.6]), top_n=20)
    assert f.values["k"] == 1 and f.severity == "medium"


# ------------------------------------------------------------------ flat items
def _items(sd_rel, share_full):
    k = len(sd_rel)
    return pd.DataFrame({"item_id": [f"I{i + 1:02d}" for i in range(k)], "max_points": [5.0] * k, "sd_rel": sd_rel, "share_full": share_full})


def test_flat_items_fires():
    (f,) = F.rule_flat_items(_items([0.2, 0.01, 0.3, 0.2], [0.1, 0.2, 0.9, 0.1]))
    # I02 (sd 1 % of max) and I03 (90 % at full marks) are flat: 2 items, 10 points
    assert f.values["k"] == 2 and f.values["points"] == 10.0
    assert f.names["items"][1] == ["I02", "I03"]


def test_flat_items_quiet():
    assert F.rule_flat_items(_items([0.2, 0.1], [0.1, 0.5])) == []


def test_item_stats_hand_case():
    scores = pd.DataFrame(
        {
            "year": 2015,
            "period": "Y",
            "unit_id": ["A", "A", "B", "B", "C", "C"],
            "item_id": ["I01", "I02"] * 3,
            "points": [10.0, 2.0, 10.0, 4.0, 6.0, np.nan],
            "status": ["ok", "ok", "ok", "ok", "ok", "na"],
        }
    )
    items = pd.DataFrame({"year": 2015, "item_id": ["I01", "I02"], "item_name": ["a", "b"], "category": "ideology", "dimension": "image", "method": "points", "max_points": [10.0, 5.0]})
    s = F.item_stats(scores, items, 2015).set_index("item_id")
    # I01 = (10, 10, 6): mean 26/3, sd = sqrt(((4/3)^2*2 + (8/3)^2)/2) = sqrt(16/3) (hand)
    assert s.loc["I01", "mean"] == pytest.approx(26 / 3)
    assert s.loc["I01", "sd"] == pytest.approx(math.sqrt(16 / 3))
    assert s.loc["I01", "share_full"] == pytest.approx(2 / 3)
    # I02 applies to A and B only: (2, 4), none at 5 → share_full 0, sd = sqrt(2)
    assert s.loc["I02", "sd"] == pytest.approx(math.sqrt(2))
    assert s.loc["I02", "share_full"] == 0
    # corrected item-total r of I02 over A, B: item (2, 4) vs rest (10, 10) → rest has no variance → NaN
    assert np.isnan(s.loc["I02", "r_it"])
    # I01 vs rest (2, 4, 0) over A, B, C: Pearson r computed by numpy on the same pairs
    assert s.loc["I01", "r_it"] == pytest.approx(np.corrcoef([10, 10, 6], [2, 4, 0])[0, 1])


# ------------------------------------------------------------------ ceiling
def test_ceiling_fires_with_exact_kendall_p():
    sys_ = pd.DataFrame({"year": range(2009, 2017), "sd": np.linspace(8, 3, 8), "share_ceiling": np.linspace(0, 0.35, 8)})
    (f,) = F.rule_ceiling(sys_)
    # perfectly monotone series of n = 8: two-sided exact p = 2 / 8! (only the identity and the
    # reversed ordering reach |tau| = 1; analytic)
    assert f.values["p"] == pytest.approx(2 / math.factorial(8))
    assert f.values["first"] == 2009 and f.values["last"] == 2016
    assert f.values["ceil_last"] == pytest.approx(0.35)


def test_ceiling_quiet_without_trend():
    sys_ = pd.DataFrame({"year": range(2009, 2017), "sd": [5, 6, 5, 6, 5, 6, 5, 6.0], "share_ceiling": [0.1, 0.0, 0.1, 0.0, 0.1, 0.0, 0.1, 0.0]})
    assert F.rule_ceiling(sys_) == []


def test_ceiling_quiet_when_spread_grows():
    # the opposite trend (spread growing, ceiling share falling) is not compression
    sys_ = pd.DataFrame({"year": range(2009, 2017), "sd": np.linspace(3, 8, 8), "share_ceiling": np.linspace(0.35, 0, 8)})
    assert F.rule_ceiling(sys_) == []


def test_system_by_year_hand_case():
    totals = pd.DataFrame({"year": [2015] * 4, "unit_id": list("ABCD"), "pct_of_max": [96.0, 90.0, 80.0, 70.0], "rank": [1, 2, 3, 4]})
    s = F.system_by_year(totals, top_n=2).iloc[0]
    assert s["mean"] == 84 and s["median"] == 85
    assert s["sd"] == pytest.approx(np.std([96, 90, 80, 70], ddof=1))
    assert s["share_ceiling"] == 0.25  # one unit of four at ≥ 95
    assert s["cut"] == 90  # pct of the 2nd-ranked unit


# ------------------------------------------------------------------ effective weights
def test_effective_weights_constant_category_has_no_effect():
    rng = np.random.default_rng(1)
    a = rng.uniform(20, 40, 30)
    totals = pd.DataFrame({"year": 2015, "unit_id": range(30), "cat_ideology": a, "cat_organisation": 30.0, "cat_conduct": a / 2, "cat_special": 0.0})
    totals["total"] = totals[["cat_ideology", "cat_organisation", "cat_conduct"]].sum(axis=1)
    items = pd.DataFrame({"year": 2015, "category": ["ideology", "organisation", "conduct", "special"], "max_points": [40.0, 30.0, 20.0, 10.0]})
    ew = F.effective_weights(totals, items, 2015).set_index("category")
    # total is an affine function of cat_ideology (and of cat_conduct): r² = 1 for both, 0 for the
    # constants → effective shares 0.5, 0, 0.5, 0 (analytic)
    assert ew["effective_share"].to_dict() == pytest.approx({"ideology": 0.5, "organisation": 0.0, "conduct": 0.5, "special": 0.0})
    assert ew.loc["ideology", "nominal_share"] == pytest.approx(0.4)
    found = F.rule_effective_weights(ew.reset_index())
    assert {f.rule for f in found} == {"weights_low", "weights_high"}
    low = next(f for f in found if f.rule == "weights_low")
    assert low.names["categories"][1][0] in ("organisation", "special")


def test_effective_weights_rule_quiet():
    ew = pd.DataFrame({"category": ["a", "b"], "nominal_share": [0.5, 0.5], "effective_share": [0.45, 0.55], "ratio": [0.9, 1.1]})
    assert F.rule_effective_weights(ew) == []


# ------------------------------------------------------------------ group favour (permutation test)
def test_favour_test_matches_exact_enumeration():
    shift = np.array([3.0, 2.0, -1.0, 0.0, -2.0, -2.0])
    ranks = pd.DataFrame({"unit_id": list("ABCDEF"), "shift": shift})
    units = pd.DataFrame({"unit_id": list("ABCDEF"), "sector": ["S", "S", "T", "T", "T", "T"]})
    res = F.favour_test(ranks, units, by=("sector",), n_perm=40000, seed=3).set_index("group")
    # exact one-sided p: share of the C(6,2) = 15 pairs whose mean shift ≥ 2.5 → only {A, B}: 1/15
    exact = sum(np.mean(c) >= 2.5 for c in combinations(shift, 2)) / 15
    assert exact == pytest.approx(1 / 15)
    assert res.loc["S", "mean_shift"] == 2.5
    assert res.loc["S", "p_value"] == pytest.approx(exact, abs=0.01)  # Monte Carlo error ≈ 0.0012


def test_group_favour_rule():
    fav = pd.DataFrame({"by": ["sector", "sector"], "group": ["经济", "政法"], "n": [10, 8], "mean_shift": [3.0, -1.0], "p_value": [0.001, 0.4]})
    (f,) = F.rule_group_favour(fav)
    assert f.names["group"] == ("sector", ["经济"]) and f.values["m"] == 2
    # 0.03 is not below alpha / m = 0.025 (Bonferroni): quiet
    assert F.rule_group_favour(fav.assign(p_value=[0.03, 0.4])) == []


def test_scheme_ranks_nominal_equals_score_totals():
    rng = np.random.default_rng(7)
    units = [f"U{i}" for i in range(12)]
    items = pd.DataFrame({"year": 2015, "item_id": ["I01", "I02", "I03", "I04"], "item_name": list("abcd"), "category": ["ideology", "ideology", "conduct", "special"],
                          "dimension": "image", "max_points": [40.0, 20.0, 30.0, 10.0], "method": "points"})
    rows = []
    for u in units:
        for it, mx in zip(items["item_id"], items["max_points"]):
            rows.append({"year": 2015, "period": "Y", "unit_id": u, "item_id": it, "points": float(np.round(rng.uniform(0.5, 1) * mx, 1)), "status": "ok"})
    scores = pd.DataFrame(rows)
    tot = score.totals(scores, items)
    r = F.scheme_ranks(scores, items, tot, 2015).set_index("unit_id")
    t = tot.set_index("unit_id")
    # nominal composite = pipeline.score.totals (independent pandas path)
    assert r["score_nominal"].to_numpy() == pytest.approx(t.loc[r.index, "total"].to_numpy())
    assert (r["rank_nominal"] == t.loc[r.index, "rank"]).all()
    # equal categories by hand: mean over the 3 categories of the category's % of its max
    pts = scores.pivot(index="unit_id", columns="item_id", values="points").loc[r.index]
    eq = 100 * ((pts["I01"] + pts["I02"]) / 60 + pts["I03"] / 30 + pts["I04"] / 10) / 3
    assert r["score_equal"].to_numpy() == pytest.approx(eq.to_numpy())


# ------------------------------------------------------------------ peer groups
def test_peer_test_hand_kruskal():
    totals = pd.DataFrame({"year": 2015, "unit_id": list("ABCDEF"), "pct_of_max": [1.0, 2, 3, 4, 5, 6]})
    units = pd.DataFrame({"unit_id": list("ABCDEF"), "sector": ["S", "S", "S", "T", "T", "T"]})
    p = F.peer_test(totals, units, 2015)
    # H = 12/(6·7)·(6²/3 + 15²/3) − 3·7 = 27/7 (hand); p = χ²₁ upper tail
    assert p["H"].iloc[0] == pytest.approx(27 / 7)
    assert p["p_value"].iloc[0] == pytest.approx(stats.chi2.sf(27 / 7, 1))
    (f,) = F.rule_peer_groups(p)  # p = 0.0495 < 0.05
    assert f.names["best"] == ("sector", ["T"]) and f.names["worst"] == ("sector", ["S"])
    assert F.rule_peer_groups(p, alpha=0.01) == []


# ------------------------------------------------------------------ cut, persistence, integrity, quarantine
def test_close_cut():
    ranking = pd.DataFrame({"unit_id": list("ABCDEF"), "total": [95.0, 90.0, 89.8, 89.6, 80.0, 70.0]})
    ranking["rank"] = score.rank(ranking["total"])
    (f,) = F.rule_close_cut(ranking, top_n=2, margin=0.5)
    # cut = 90.0 (2nd); within ±0.5: 90.0, 89.8, 89.6 → 3 units, 2 of them outside
    assert f.values["k"] == 3 and f.values["k_out"] == 2 and f.values["cut"] == 90.0
    assert F.rule_close_cut(ranking, top_n=2, margin=0.1) == []


def test_persistence():
    rows = []
    for y in (2012, 2013, 2014, 2015):
        for u, w in (("A", True), ("B", True), ("C", y == 2015), ("D", y != 2015)):
            rows.append({"year": y, "unit_id": u, "is_winner": w})
    totals = pd.DataFrame(rows)
    p = F.persistence(totals, 2015, lookback=3).set_index("unit_id")
    assert p["always"].to_dict() == {"A": True, "B": True, "C": False}
    (f,) = F.rule_persistence(p.reset_index(), share_min=0.6)  # 2/3 ≥ 0.6
    assert f.values["k"] == 2 and f.values["n"] == 3
    assert F.rule_persistence(p.reset_index(), share_min=0.7) == []
    assert F.persistence(totals, 2013, lookback=3).empty  # only one previous year


def test_integrity_and_quarantine_rules():
    integ = pd.DataFrame({"year": 2015, "unit_id": ["A", "A", "B", "C"], "check": ["monthly_mismatch", "digit_preference", "monthly_mismatch", "yoy_jump"],
                          "severity": ["high", "high", "high", "low"]})
    (f,) = F.rule_integrity(integ)
    assert f.values == {"k": 3, "k_unit": 3, "units_n": 2, "k_year": 0} and f.names["checks"][1] == ["digit_preference", "monthly_mismatch"]
    assert F.rule_integrity(integ.assign(severity="low")) == []


@pytest.mark.parametrize("empty", ["", None, np.nan, "  "])
def test_integrity_rule_does_not_count_year_level_findings_as_a_unit(empty):
    # cut bunching and item digit preference judge the year: no unit_id. Hand count: 4 high
    # findings, 2 on units A and B, 2 year-level → units_n = 2 (nunique() alone would give 3).
    integ = pd.DataFrame({"year": 2015, "unit_id": ["A", "B", empty, empty, "C"],
                          "check": ["monthly_mismatch", "yoy_jump", "cut_bunching", "digit_preference_item", "yoy_jump"],
                          "severity": ["high", "high", "high", "high", "medium"]})
    (f,) = F.rule_integrity(integ)
    assert f.values == {"k": 4, "k_unit": 2, "units_n": 2, "k_year": 2}
    txt = f.text("zh")
    assert "涉及 2 个单位" in txt and "2 条为年度层面" in txt
    # only year-level findings: no unit at all
    (g,) = F.rule_integrity(integ.iloc[2:4])
    assert g.values["units_n"] == 0 and g.values["k_year"] == 2
    assert F.rule_quarantine(0) == [] and F.rule_quarantine(4)[0].values["k"] == 4


# ------------------------------------------------------------------ derive and texts
def test_derive_orders_by_severity_and_renders_both_languages():
    ev = {
        "uncertainty": _unc([1.0] * 19 + [0.6]),  # medium
        "items": _items([0.01, 0.3], [0.1, 0.1]),  # medium (5 points)
        "persistence": pd.DataFrame({"unit_id": ["A"], "years_seen": [3], "years_won": [3], "always": [True]}),  # low
        "n_quarantined": 2,  # high
    }
    found = F.derive(ev, top_n=20)
    assert [f.severity for f in found] == ["high", "medium", "medium", "low"]
    assert found[0].rule == "quarantine"
    for f in found:
        for lang in ("zh", "en"):
            txt, rec = f.text(lang), f.recommendation(lang)
            assert "{" not in txt and "}" not in txt and rec
        assert not CJK.search(f.text("en")) and not CJK.search(f.recommendation("en"))
        assert CJK.search(f.text("zh"))
    tab = F.to_frame(found, "en")
    assert list(tab.columns) == ["no", "rule", "severity", "finding", "recommendation", "evidence"] and len(tab) == 4


def test_derive_nothing_noteworthy():
    assert F.derive({"uncertainty": _unc([1.0] * 20), "n_quarantined": 0}) == []


def test_every_rule_has_texts_in_both_languages():
    from pipeline.i18n import labels

    zh, en = labels("zh"), labels("en")
    rules = ["winner_stability", "flat_items", "ceiling", "weights_low", "weights_high", "group_favour", "peer_groups", "close_cut", "persistence", "integrity", "quarantine"]
    for r in rules:
        for k in (f"rep_find_{r}", f"rep_rec_{r}"):
            assert k in zh and k in en, k
