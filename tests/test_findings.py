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
    items = pd.DataFrame({"year": 2015, "item_id": ["I01", "I02", "I03", "I04"], "category": ["ideology", "organisation", "conduct", "special"],
                          "max_points": [40.0, 30.0, 20.0, 10.0]})
    pts = totals[["cat_ideology", "cat_organisation", "cat_conduct", "cat_special"]].to_numpy()  # one item per category
    scores = pd.DataFrame({"year": 2015, "period": "Y", "unit_id": np.repeat(totals["unit_id"].to_numpy(), 4),
                           "item_id": np.tile(items["item_id"].to_numpy(), 30), "points": pts.ravel(), "status": "ok"})
    ew = F.effective_weights(totals, items, 2015, scores=scores).set_index("category")
    # total is an affine function of cat_ideology (and of cat_conduct): r² = 1 for both, 0 for the
    # constants → effective shares 0.5, 0, 0.5, 0 (analytic)
    assert ew["effective_share"].to_dict() == pytest.approx({"ideology": 0.5, "organisation": 0.0, "conduct": 0.5, "special": 0.0})
    assert ew.loc["ideology", "nominal_share"] == pytest.approx(0.4)
    found = F.rule_effective_weights(ew.reset_index())
    assert {f.rule for f in found} == {"weights_low", "weights_high"}
    low = next(f for f in found if f.rule == "weights_low")
    assert low.names["categories"][1][0] in ("organisation", "special")
    # two categories below half their nominal weight: the first is named with its numbers, the
    # other in a clause of its own ("many"), never "Organisation, Special carries …"
    assert low.variant == "many" and len(low.names["others"][1]) == 1
    for lang in ("zh", "en"):
        assert "{" not in low.text(lang) and "{" not in low.recommendation(lang)


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
    # hand count: 3 high findings, all on units (A twice, B once) → 2 units, none year-level
    assert {k: f.values[k] for k in ("k", "k_unit", "units_n", "k_year")} == {"k": 3, "k_unit": 3, "units_n": 2, "k_year": 0}
    assert f.names["checks"][1] == ["digit_preference", "monthly_mismatch"] and f.names["units"][1] == ["A", "B"]
    assert f.variant == "units"
    txt = f.text("zh", lambda kind, v: {"A": "市甲局", "B": "市乙局"}.get(v, v))
    assert "涉及 2 个单位：市甲局、市乙局" in txt and "年度层面" not in txt and "0 条" not in txt
    assert F.rule_integrity(integ.assign(severity="low")) == []


@pytest.mark.parametrize("empty", ["", None, np.nan, "  "])
def test_integrity_rule_does_not_count_year_level_findings_as_a_unit(empty):
    # cut bunching and item digit preference judge the year: no unit_id. Hand count: 4 high
    # findings, 2 on units A and B, 2 year-level → units_n = 2 (nunique() alone would give 3).
    integ = pd.DataFrame({"year": 2015, "unit_id": ["A", "B", empty, empty, "C"],
                          "check": ["monthly_mismatch", "yoy_jump", "cut_bunching", "digit_preference_item", "yoy_jump"],
                          "severity": ["high", "high", "high", "high", "medium"]})
    (f,) = F.rule_integrity(integ)
    assert {k: f.values[k] for k in ("k", "k_unit", "units_n", "k_year")} == {"k": 4, "k_unit": 2, "units_n": 2, "k_year": 2}
    txt = f.text("zh")
    assert "2 条涉及 2 个单位（A、B）" in txt and "2 条为年度层面" in txt
    # only year-level findings: no unit at all, and no clause about zero units
    (g,) = F.rule_integrity(integ.iloc[2:4])
    assert g.values["units_n"] == 0 and g.values["k_year"] == 2 and g.variant == "year"
    for lang in ("zh", "en"):
        assert not re.search(r"(?<![\d.])0 ", g.text(lang)), g.text(lang)
    assert "均为年度层面" in g.text("zh")
    assert F.rule_quarantine(0) == [] and F.rule_quarantine(4)[0].values["k"] == 4


# ------------------------------------------------------------------ wording generated from numbers
ZERO_CLAUSE = re.compile(r"(?<![\d.])0 ?(?:条|个|项|units?\b|items?\b|non-winners?\b)")


def test_no_zero_clause_and_no_etc_when_all_are_named():
    # 2 weak winners, both named: no "等"; no non-winner contender: no "另有 0 个" clause
    unc = _unc([1.0] * 18 + [0.6, 0.5])
    (f,) = F.rule_winner_stability(unc, top_n=20)
    assert f.values["m"] == 0 and f.variant == "none_out"
    for lang in ("zh", "en"):
        txt = f.text(lang)
        assert not ZERO_CLAUSE.search(txt), txt
        assert "等" not in txt and "others" not in txt
    # 7 weak winners, 5 named: "等" / "and others" says the list is cut short
    (g,) = F.rule_winner_stability(_unc([1.0] * 13 + [0.5] * 7), top_n=20)
    assert len(g.names["units"][1]) == 5 and "等" in g.text("zh") and "and others" in g.text("en")
    # close cut with every unit near the cut a winner: no "其中 0 个未入选"
    ranking = pd.DataFrame({"unit_id": list("ABCDEF"), "total": [95.0, 90.2, 90.0, 80.0, 75.0, 70.0]})
    ranking["rank"] = score.rank(ranking["total"])
    (c,) = F.rule_close_cut(ranking, top_n=3, margin=0.5, min_units=2)
    assert c.values["k_out"] == 0 and c.variant == "none_out"
    for lang in ("zh", "en"):
        assert not ZERO_CLAUSE.search(c.text(lang)), c.text(lang)


def test_english_agreement_follows_the_count():
    p = F.plurals({"k": 1, "n": 3, "x": 0.5, "flag": True})
    assert (p["s_k"], p["v_k"], p["s_n"], p["v_n"]) == ("", "s", "s", "")
    assert "s_x" not in p and "s_flag" not in p  # only integer counts
    items = _items([0.01, 0.3], [0.1, 0.1])
    (f,) = F.rule_flat_items(items)
    assert f.values["k"] == 1 and f.text("en").startswith("1 item barely discriminates ")
    (g,) = F.rule_flat_items(_items([0.01, 0.02], [0.1, 0.1]))
    assert g.text("en").startswith("2 items barely discriminate ")


# ------------------------------------------------------------------ aspects examined without a finding
def test_examined_states_what_was_checked_with_numbers():
    ev = {
        "uncertainty": _unc([1.0] * 19 + [0.85]),
        "items": _items([0.2, 0.07, 0.3], [0.1, 0.6, 0.0]),
        "effective_weights": pd.DataFrame({"category": ["ideology", "conduct"], "nominal_share": [0.5, 0.5], "effective_share": [0.46, 0.54], "ratio": [0.92, 1.08]}),
        "persistence": pd.DataFrame({"unit_id": list("ABCDE"), "years_seen": 3, "years_won": [3, 1, 0, 2, 3], "always": [True, False, False, False, True]}),
        "integrity": pd.DataFrame({"unit_id": ["A"], "check": ["yoy_jump"], "severity": ["medium"]}),
    }
    found = F.derive(ev, top_n=20)
    assert found == []
    ok = {f.rule: f for f in F.examined(ev, found, top_n=20)}
    assert set(ok) == {"winner_stability", "flat_items", "weights", "persistence", "integrity"}
    # hand: the lowest P(winner) of a winner is 0.85; the flattest item is I02 (sd 7 % of max);
    # the largest share at full marks is 0.6 (I02); ratios span 0.92–1.08; 2 of 5 always won
    assert ok["winner_stability"].values["p_min"] == 0.85
    assert ok["flat_items"].values["sd_min"] == 0.07 and ok["flat_items"].names["item_lo"][1] == ["I02"]
    assert ok["weights"].values["lo"] == 0.92 and ok["weights"].values["hi"] == 1.08
    assert ok["persistence"].values == {"k": 2, "n": 5, "share": 0.4, "share_min": 0.6}
    assert ok["integrity"].variant == "medium"  # 1 medium, no low: no "提示 0 条"
    for f in ok.values():
        assert f.kind == "ok"
        for lang in ("zh", "en"):
            txt = f.text(lang)
            assert "{" not in txt and not ZERO_CLAUSE.search(txt), txt
    assert "最低 85%" in ok["winner_stability"].text("zh") and "7.0%" in ok["flat_items"].text("zh")
    # a rule that fired is not listed as unremarkable
    ev["uncertainty"] = _unc([1.0] * 19 + [0.5])
    found = F.derive(ev, top_n=20)
    assert [f.rule for f in found] == ["winner_stability"]
    assert "winner_stability" not in {f.rule for f in F.examined(ev, found, top_n=20)}


def _fairness(adv, p_holm):
    return pd.DataFrame({"attribute": ["type", "type", "sector"], "group": ["机关党委", "党总支", "社会事业"], "n_units": [31, 29, 12],
                         "mean_advantage": adv, "cohen_d": [0.6, -0.5, 0.9], "p_value": p_holm, "p_holm": p_holm})


def test_group_favour_needs_a_material_advantage():
    fav = pd.DataFrame({"by": ["sector", "type"], "group": ["社会事业", "机关党委"], "n": [12, 31], "mean_shift": [0.58, 0.32], "p_value": [0.12, 0.14]})
    # the 2016 sample's pattern: significant in the weights chapter (Holm p 0.034, 0.036) but
    # worth less than half a place on average → no finding; the examined line says why
    small = _fairness([0.27, -0.08, 0.45], [0.034, 0.057, 0.036])
    assert F.rule_group_favour(fav, small) == []
    (ok,) = [f for f in F.examined({"favour": fav, "fairness": small}, [], top_n=20) if f.rule == "group_favour"]
    assert ok.variant == "small" and ok.values["k_sig"] == 2 and ok.values["adv_max"] == 0.45
    assert ok.names["sig"][1] == ["type:机关党委", "sector:社会事业"]  # by Holm p
    assert "不足 1 个名次" in ok.text("zh")
    # the same test with an advantage of 2.5 places fires, citing the chapter's table
    (f,) = F.rule_group_favour(fav, _fairness([2.5, -0.08, 0.45], [0.01, 0.057, 0.036]))
    assert f.variant == "plausible" and f.names["group"] == ("type", ["机关党委"]) and f.values["m"] == 2 and f.evidence == ("tab:fairness",)
    assert "Holm" in f.text("zh") and "{" not in f.text("en")


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
    variants = ["winner_stability_none_out", "weights_low_many", "weights_high_many", "group_favour_plausible", "close_cut_none_out", "integrity_units", "integrity_year"]
    oks = ["winner_stability", "group_favour", "group_favour_small", "ceiling", "ceiling_flat", "flat_items", "flat_items_no_full", "weights", "close_cut",
           "peer_groups", "integrity", "integrity_none", "integrity_medium", "integrity_low", "persistence"]
    for k in [f"rep_find_{v}" for v in variants] + [f"rep_ok_{v}" for v in oks]:
        assert k in zh and k in en, k
