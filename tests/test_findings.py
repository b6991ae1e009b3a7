"""Rules layer (pipeline.findings): each rule on a constructed table that fires and one that does not.

Expected values are hand computations or analytic results; each comment says which.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline import findings as F
from pipeline import score
from langs import in_lang  # noqa: E402

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
def _items(r_rest, share_full):
    """Rows of compare.item_discrimination: ``flag`` by its rule (ceiling: share_full ≥ 0.8,
    else weak: r_rest < 0.2), computed here by hand from the two columns."""
    k = len(r_rest)
    flag = ["ceiling" if f >= 0.8 else ("weak" if r < 0.2 else "") for r, f in zip(r_rest, share_full)]
    return pd.DataFrame({"item_id": [f"I{i + 1:02d}" for i in range(k)], "max_points": [5.0] * k, "r_rest": r_rest, "share_full": share_full, "flag": flag})


def test_flat_items_fires():
    (f,) = F.rule_flat_items(_items([0.5, 0.1, 0.6, 0.5], [0.1, 0.2, 0.9, 0.1]))
    # I02 (r_rest 0.1 < 0.2: weak) and I03 (90 % at full marks: ceiling) are flagged: 2 items, 10 points
    assert f.values["k"] == 2 and f.values["points"] == 10.0
    assert f.names["items"][1] == ["I02", "I03"]  # by r_rest


def test_flat_items_quiet():
    assert F.rule_flat_items(_items([0.5, 0.3], [0.1, 0.5])) == []


def test_flat_items_agree_with_the_chapter_flag(world):
    # the rule fires on exactly the items chapter 二 flags (compare.item_discrimination), so the
    # report can never say "5 weak items" in one chapter and "all discriminate" in another
    from pipeline import compare, io

    scores, items = io.read_table(world.processed, "scores"), io.read_table(world.processed, "items")
    disc = compare.item_discrimination(scores, items, 2016)
    flagged = set(disc.loc[disc["flag"] != "", "item_id"])
    found = F.rule_flat_items(disc)
    assert (found[0].values["k"] if found else 0) == len(flagged)
    if found:
        assert set(found[0].names["items"][1]) <= flagged


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


# ------------------------------------------------------------------ effective weights
def test_effective_weights_constant_category_has_no_effect():
    rng = np.random.default_rng(1)
    a = rng.uniform(20, 40, 30)
    totals = pd.DataFrame({"year": 2015, "unit_id": range(30), "cat_ideology": a, "cat_organisation": 30.0, "cat_conduct": a / 2, "cat_special": 0.0})
    totals["total"] = totals[["cat_ideology", "cat_organisation", "cat_conduct"]].sum(axis=1)
    items = pd.DataFrame({"year": 2015, "item_id": ["I01", "I02", "I03", "I04"], "category": ["ideology", "organisation", "conduct", "special"],
                          "max_points": [40.0, 30.0, 20.0, 10.0]})
    pts = totals[["cat_ideology", "cat_organisation", "cat_conduct", "cat_special"]].to_numpy()  # one item per category
    # the one implementation (chapter 四's table), in the shape the rule reads
    from pipeline.report.year import _effective_from_chapter
    from pipeline.sensitivity import effective_weights

    tab = effective_weights(pts, items["max_points"].to_numpy(), items["category"].to_numpy(dtype=object), item_ids=list(items["item_id"]))
    ew = _effective_from_chapter(tab).set_index("category")
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
        assert "{" not in in_lang(lang, low.text) and "{" not in in_lang(lang, low.recommendation)


def test_effective_weights_rule_quiet():
    ew = pd.DataFrame({"category": ["a", "b"], "nominal_share": [0.5, 0.5], "effective_share": [0.45, 0.55], "ratio": [0.9, 1.1]})
    assert F.rule_effective_weights(ew) == []


# ------------------------------------------------------------------ group favour (permutation test)
# ------------------------------------------------------------------ peer groups
def test_peer_evidence_hand_kruskal():
    from pipeline import compare

    totals = pd.DataFrame({"year": 2015, "unit_id": list("ABCDEF"), "pct_of_max": [1.0, 2, 3, 4, 5, 6], "rank": [6, 5, 4, 3, 2, 1]})
    units = pd.DataFrame({"unit_id": list("ABCDEF"), "sector": ["S", "S", "S", "T", "T", "T"]})
    tests = compare.peer_test(totals, units, 2015, by="sector")
    groups = compare.peer_groups(totals, units, 2015, by="sector", top_n=2)
    p = F.peer_evidence(tests, groups, by="sector")
    # H = 12/(6·7)·(6²/3 + 15²/3) − 3·7 = 27/7 (hand); p = χ²₁ upper tail
    assert p["H"].iloc[0] == pytest.approx(27 / 7)
    assert p["p_value"].iloc[0] == pytest.approx(stats.chi2.sf(27 / 7, 1))
    (f,) = F.rule_peer_groups(p)  # p = 0.0495 < 0.05
    assert f.names["best"] == ("sector", ["T"]) and f.names["worst"] == ("sector", ["S"])
    assert f.values["hi_median"] == 5 and f.values["lo_median"] == 2  # group medians (hand)
    assert F.rule_peer_groups(p, alpha=0.01) == []
    assert F.peer_evidence(tests, groups, by="type").empty


# ------------------------------------------------------------------ cut, persistence, integrity, quarantine
def test_close_cut():
    ranking = pd.DataFrame({"unit_id": list("ABCDEF"), "total": [95.0, 90.0, 89.8, 89.6, 80.0, 70.0]})
    ranking["rank"] = score.rank(ranking["total"])
    (f,) = F.rule_close_cut(ranking, top_n=2, margin=0.5)
    # cut = 90.0 (2nd); within ±0.5: 90.0, 89.8, 89.6 → 3 units, 2 of them outside
    assert f.values["k"] == 3 and f.values["k_out"] == 2 and f.values["cut"] == 90.0
    assert F.rule_close_cut(ranking, top_n=2, margin=0.1) == []


def _persistence(wins: dict[str, list[int]], first: int, last: int):
    """compare.persistence on a vertical table where each unit is seen every year first…last
    and wins in the years listed."""
    from pipeline import compare

    rows = [{"year": y, "series_id": u, "series_name": u, "unit_id": u, "is_winner": y in ys} for u, ys in wins.items() for y in range(first, last + 1)]
    return compare.persistence(pd.DataFrame(rows))


def test_persistence():
    pers = _persistence({"A": [2012, 2013, 2014, 2015], "B": [2012, 2013, 2014, 2015], "C": [2015], "D": [2012, 2013, 2014]}, 2012, 2015)
    a = F.always_winners(pers).set_index("series_id")
    # hand: 2015 winners A, B, C; A and B also won 2012–2014, C did not
    assert a["always"].to_dict() == {"A": True, "B": True, "C": False}
    (f,) = F.rule_persistence(pers, share_min=0.6)  # 2/3 ≥ 0.6
    assert f.values["k"] == 2 and f.values["n"] == 3
    assert F.rule_persistence(pers, share_min=0.7) == []
    short = _persistence({"A": [2014, 2015]}, 2014, 2015)
    assert F.always_winners(short).empty  # only one previous year


def test_integrity_and_quarantine_rules():
    integ = pd.DataFrame({"year": 2015, "unit_id": ["A", "A", "B", "C"], "check": ["monthly_mismatch", "digit_preference", "monthly_mismatch", "yoy_jump"],
                          "severity": ["high", "high", "high", "low"]})
    (f,) = F.rule_integrity(integ)
    # hand count: 3 high findings, all on units (A twice, B once) → 2 units, none year-level
    assert {k: f.values[k] for k in ("k", "k_unit", "units_n", "k_year")} == {"k": 3, "k_unit": 3, "units_n": 2, "k_year": 0}
    assert f.names["checks"][1] == ["digit_preference", "monthly_mismatch"] and f.names["units"][1] == ["A", "B"]
    assert f.variant == "units"
    txt = in_lang("zh", f.text, lambda kind, v: {"A": "市甲局", "B": "市乙局"}.get(v, v))
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
    txt = in_lang("zh", f.text)
    assert "2 条涉及 2 个单位（A、B）" in txt and "2 条为年度层面" in txt
    # only year-level findings: no unit at all, and no clause about zero units
    (g,) = F.rule_integrity(integ.iloc[2:4])
    assert g.values["units_n"] == 0 and g.values["k_year"] == 2 and g.variant == "year"
    for lang in ("zh", "en"):
        assert not re.search(r"(?<![\d.])0 ", in_lang(lang, g.text)), in_lang(lang, g.text)
    assert "均为年度层面" in in_lang("zh", g.text)
    assert F.rule_quarantine(0) == [] and F.rule_quarantine(4)[0].values["k"] == 4


# ------------------------------------------------------------------ wording generated from numbers
ZERO_CLAUSE = re.compile(r"(?<![\d.])0 ?(?:条|个|项|units?\b|items?\b|non-winners?\b)")


def test_no_zero_clause_and_no_etc_when_all_are_named():
    # 2 weak winners, both named: no "等"; no non-winner contender: no "另有 0 个" clause
    unc = _unc([1.0] * 18 + [0.6, 0.5])
    (f,) = F.rule_winner_stability(unc, top_n=20)
    assert f.values["m"] == 0 and f.variant == "none_out"
    for lang in ("zh", "en"):
        txt = in_lang(lang, f.text)
        assert not ZERO_CLAUSE.search(txt), txt
        assert "等" not in txt and "others" not in txt
    # 7 weak winners, 5 named: "等" / "and others" says the list is cut short
    (g,) = F.rule_winner_stability(_unc([1.0] * 13 + [0.5] * 7), top_n=20)
    assert len(g.names["units"][1]) == 5 and "等" in in_lang("zh", g.text) and "and others" in in_lang("en", g.text)
    # close cut with every unit near the cut a winner: no "其中 0 个未入选"
    ranking = pd.DataFrame({"unit_id": list("ABCDEF"), "total": [95.0, 90.2, 90.0, 80.0, 75.0, 70.0]})
    ranking["rank"] = score.rank(ranking["total"])
    (c,) = F.rule_close_cut(ranking, top_n=3, margin=0.5, min_units=2)
    assert c.values["k_out"] == 0 and c.variant == "none_out"
    for lang in ("zh", "en"):
        assert not ZERO_CLAUSE.search(in_lang(lang, c.text)), in_lang(lang, c.text)


def test_english_agreement_follows_the_count():
    p = F.plurals({"k": 1, "n": 3, "x": 0.5, "flag": True})
    assert (p["s_k"], p["v_k"], p["s_n"], p["v_n"]) == ("", "s", "s", "")
    assert "s_x" not in p and "s_flag" not in p  # only integer counts
    items = _items([0.1, 0.3], [0.1, 0.1])
    (f,) = F.rule_flat_items(items)
    assert f.values["k"] == 1 and in_lang("en", f.text).startswith("1 item barely discriminates ")
    (g,) = F.rule_flat_items(_items([0.1, 0.15], [0.1, 0.1]))
    assert in_lang("en", g.text).startswith("2 items barely discriminate ")


# ------------------------------------------------------------------ aspects examined without a finding
def test_examined_states_what_was_checked_with_numbers():
    ev = {
        "uncertainty": _unc([1.0] * 19 + [0.85]),
        "items": _items([0.5, 0.25, 0.6], [0.1, 0.6, 0.0]),
        "effective_weights": pd.DataFrame({"category": ["ideology", "conduct"], "nominal_share": [0.5, 0.5], "effective_share": [0.46, 0.54], "ratio": [0.92, 1.08]}),
        "persistence": _persistence({"A": [2012, 2013, 2014, 2015], "B": [2014, 2015], "C": [2015], "D": [2013, 2015], "E": [2012, 2013, 2014, 2015]}, 2012, 2015),
        "integrity": pd.DataFrame({"unit_id": ["A"], "check": ["yoy_jump"], "severity": ["medium"]}),
    }
    found = F.derive(ev, top_n=20)
    assert found == []
    ok = {f.rule: f for f in F.examined(ev, found, top_n=20)}
    assert set(ok) == {"winner_stability", "flat_items", "weights", "persistence", "integrity"}
    # hand: the lowest P(winner) of a winner is 0.85; the least discriminating item is I02
    # (r_rest 0.25); the largest share at full marks is 0.6 (I02); ratios span 0.92–1.08;
    # 2 of the 5 winners of 2015 (A, E) also won 2012–2014
    assert ok["winner_stability"].values["p_min"] == 0.85
    assert ok["flat_items"].values["r_lo"] == 0.25 and ok["flat_items"].names["item_lo"][1] == ["I02"]
    assert ok["weights"].values["lo"] == 0.92 and ok["weights"].values["hi"] == 1.08
    assert ok["persistence"].values == {"k": 2, "n": 5, "share": 0.4, "share_min": 0.6}
    assert ok["integrity"].variant == "medium"  # 1 medium, no low: no "提示 0 条"
    for f in ok.values():
        assert f.kind == "ok"
        for lang in ("zh", "en"):
            txt = in_lang(lang, f.text)
            assert "{" not in txt and not ZERO_CLAUSE.search(txt), txt
    assert "最低 85%" in in_lang("zh", ok["winner_stability"].text) and "0.25" in in_lang("zh", ok["flat_items"].text)
    # a rule that fired is not listed as unremarkable
    ev["uncertainty"] = _unc([1.0] * 19 + [0.5])
    found = F.derive(ev, top_n=20)
    assert [f.rule for f in found] == ["winner_stability"]
    assert "winner_stability" not in {f.rule for f in F.examined(ev, found, top_n=20)}


def _fairness(adv, p_holm):
    return pd.DataFrame({"attribute": ["type", "type", "sector"], "group": ["机关党委", "党总支", "社会事业"], "n_units": [31, 29, 12],
                         "mean_advantage": adv, "cohen_d": [0.6, -0.5, 0.9], "p_value": p_holm, "p_holm": p_holm})


def test_group_favour_needs_a_material_advantage():
    # the 2016 sample's pattern: significant in the weights chapter (Holm p 0.034, 0.036) but
    # worth less than half a place on average → no finding; the examined line says why
    small = _fairness([0.27, -0.08, 0.45], [0.034, 0.057, 0.036])
    assert F.rule_group_favour(small) == []
    (ok,) = [f for f in F.examined({"fairness": small}, [], top_n=20) if f.rule == "group_favour"]
    assert ok.variant == "small" and ok.values["k_sig"] == 2 and ok.values["adv_max"] == 0.45
    assert ok.names["sig"][1] == ["type:机关党委", "sector:社会事业"]  # by Holm p
    assert "不足 1 个名次" in in_lang("zh", ok.text)
    # the same test with an advantage of 2.5 places fires, citing the chapter's table
    (f,) = F.rule_group_favour(_fairness([2.5, -0.08, 0.45], [0.01, 0.057, 0.036]))
    assert f.variant == "" and f.names["group"] == ("type", ["机关党委"]) and f.values["m"] == 2 and f.evidence == ("tab:fairness",)
    assert "Holm" in in_lang("zh", f.text) and "{" not in in_lang("en", f.text)


# ------------------------------------------------------------------ derive and texts
def test_derive_orders_by_severity_and_renders_both_languages():
    ev = {
        "uncertainty": _unc([1.0] * 19 + [0.6]),  # medium
        "items": _items([0.1, 0.3], [0.1, 0.1]),  # medium (5 points)
        "persistence": _persistence({"A": [2012, 2013, 2014, 2015]}, 2012, 2015),  # low
        "n_quarantined": 2,  # high
    }
    found = F.derive(ev, top_n=20)
    assert [f.severity for f in found] == ["high", "medium", "medium", "low"]
    assert found[0].rule == "quarantine"
    for f in found:
        for lang in ("zh", "en"):
            txt, rec = in_lang(lang, f.text), in_lang(lang, f.recommendation)
            assert "{" not in txt and "}" not in txt and rec
        assert not CJK.search(in_lang("en", f.text)) and not CJK.search(in_lang("en", f.recommendation))
        assert CJK.search(in_lang("zh", f.text))
    tab = in_lang("en", F.to_frame, found)
    assert list(tab.columns) == ["no", "rule", "severity", "finding", "recommendation", "evidence"] and len(tab) == 4


def test_derive_nothing_noteworthy():
    assert F.derive({"uncertainty": _unc([1.0] * 20), "n_quarantined": 0}) == []


def test_every_rule_has_texts_in_both_languages():
    from pipeline.i18n import labels

    zh, en = in_lang("zh", labels), in_lang("en", labels)
    rules = ["winner_stability", "flat_items", "ceiling", "weights_low", "weights_high", "group_favour", "peer_groups", "close_cut", "persistence", "integrity", "quarantine"]
    for r in rules:
        for k in (f"rep_find_{r}", f"rep_rec_{r}"):
            assert k in zh and k in en, k
    variants = ["winner_stability_none_out", "weights_low_many", "weights_high_many", "close_cut_none_out", "integrity_units", "integrity_year"]
    oks = ["winner_stability", "group_favour", "group_favour_small", "ceiling", "ceiling_flat", "flat_items", "flat_items_no_full", "weights", "close_cut",
           "peer_groups", "integrity", "integrity_none", "integrity_medium", "integrity_low", "persistence"]
    for k in [f"rep_find_{v}" for v in variants] + [f"rep_ok_{v}" for v in oks]:
        assert k in zh and k in en, k
