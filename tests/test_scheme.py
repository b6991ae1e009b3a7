"""What-if schemes (pipeline.scheme, SPEC §8) against hand computations on a five-unit world.

The world (one year, 2020; items sum to 100):

    item  category      max  method   A     B     C     D     E
    I1    ideology       30  points   30    15    24    30     0
    I2    organisation   30  points   15    30    24    30    30
    I3    conduct        20  grade    好    较好  一般  较好  好     (1.0/0.8/0.6 → 20/16/12)
    I4    special        10  points   10     5     0    10     5
    I5    special        10  points   NA     5    10     0     5

C has a verified adjustment of +1. Sectors: A, B 政法; C, D 经济; E 党群. Types: A, D 机关党委;
B, C 党总支; E 直属党委. Official totals (prorate): A = 75/90·100 = 83.333…, B = 71, C = 70+1 = 71,
D = 86, E = 60 → ranks D 1, A 2, B 3, C 3, E 5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from pipeline.errors import PipelineError
from pipeline.scheme import compare as C
from pipeline.scheme import comparison, evaluate, item_weights, official, official_totals, parse_text, scheme_totals, year_frames
from pipeline.scheme.compute import year_items
from pipeline.scheme.spec import validate

ITEMS = [("I1", "理论学习", "ideology", 30, "points"), ("I2", "三会一课", "organisation", 30, "points"),
         ("I3", "服务群众", "conduct", 20, "grade"), ("I4", "志愿服务", "special", 10, "points"),
         ("I5", "结对帮扶", "special", 10, "points")]
SCORES = {  # unit: points per item (grades as text, None = not applicable)
    "A": [30, 15, "好", 10, None],
    "B": [15, 30, "较好", 5, 5],
    "C": [24, 24, "一般", 0, 10],
    "D": [30, 30, "较好", 10, 0],
    "E": [0, 30, "好", 5, 5],
}
UNITS = [("A", "甲局", "机关党委", "政法", 120), ("B", "乙局", "党总支", "政法", 40), ("C", "丙局", "党总支", "经济", 60),
         ("D", "丁局", "机关党委", "经济", 200), ("E", "戊局", "直属党委", "党群", 90)]
SHARE = {"好": 1.0, "较好": 0.8, "一般": 0.6}


def world(year: int = 2020) -> dict[str, pd.DataFrame]:
    items = pd.DataFrame([(year, i, n, c, "image", float(m), meth) for i, n, c, m, meth in ITEMS],
                         columns=["year", "item_id", "item_name", "category", "dimension", "max_points", "method"])
    rows = []
    for u, vals in SCORES.items():
        for (iid, _, _, mx, meth), v in zip(ITEMS, vals):
            if v is None:
                rows.append((year, "Y", u, iid, np.nan, "na", None))
            elif isinstance(v, str):
                rows.append((year, "Y", u, iid, SHARE[v] * mx, "ok", v))
            else:
                rows.append((year, "Y", u, iid, float(v), "ok", None))
    scores = pd.DataFrame(rows, columns=["year", "period", "unit_id", "item_id", "points", "status", "grade"])
    units = pd.DataFrame(UNITS, columns=["unit_id", "name", "type", "sector", "members"])
    units = units.assign(aliases="", valid_from=pd.NA, valid_to=pd.NA, successor_id="")
    adj = pd.DataFrame({"year": [year], "unit_id": ["C"], "adjustment": [1.0]})
    return {"items": items, "scores": scores, "units": units, "adjustments": adj}


@pytest.fixture(scope="module")
def tables():
    return world()


@pytest.fixture(scope="module")
def yd(tables):
    return year_frames(tables)[2020]


def totals_of(yd, tables, text):
    s = parse_text(text)
    validate(s, tables["items"], tables["units"], {2020: yd.attrs})
    return scheme_totals(yd, s, tables["units"])


def test_official_scheme_reproduces_the_official_totals(tables, yd):
    # hand: A 75/90·100, B 71, C 70 + 1, D 86, E 60; ranks D 1, A 2, B = C 3, E 5
    got = scheme_totals(yd, official(), tables["units"])
    assert_allclose(got.loc[list("ABCDE"), "total"], [250 / 3, 71, 71, 86, 60])
    assert got.loc[list("ABCDE"), "rank"].tolist() == [2, 3, 3, 1, 5]
    off = official_totals(tables, 2020)
    assert_allclose(off.loc[list("ABCDE"), "total"], got.loc[list("ABCDE"), "total"])


def test_differentiated_weights_by_sector(tables, yd):
    # default weights: I1 25, I2 25, I3 25, I4 12.5, I5 12.5; 政法: I1 10, I2 40, I3 30, I4 10, I5 10
    # A (政法, I5 NA): (10·1 + 40·.5 + 30·1 + 10·1) / 90 · 100 = 77.78; B (政法): 5+40+24+5+5 = 79
    # C: 20+20+15+0+12.5 = 67.5 (+1 = 68.5); D: 25+25+20+12.5+0 = 82.5; E: 0+25+25+6.25+6.25 = 62.5
    got = totals_of(yd, tables, """
categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}
by_sector:
  政法: {categories: {思想政治: 10, 基层组织: 40, 机关作风: 30, 单项工作: 20}}
top_n: 2
""")
    assert_allclose(got.loc[list("ABCDE"), "total"], [700 / 9, 79, 68.5, 82.5, 62.5])
    assert got.loc[list("ABCDE"), "rank"].tolist() == [3, 2, 4, 1, 5]
    assert got.loc[list("ABCDE"), "winner"].tolist() == [False, True, False, True, False]
    assert got.loc[list("ABCDE"), "group"].tolist() == ["政法", "政法", "", "", ""]


def test_tiers_with_quotas_and_a_tie_at_the_cut(tables, yd):
    # official weights; tiers by type: 机关党委 {D 86, A 83.3} quota 1 → D; 党总支 {B 71, C 71} quota 1:
    # B and C tie at the cut, both rank 1 and both win; 直属党委 {E} quota 1 → E
    got = totals_of(yd, tables, "tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 1}}")
    assert got.loc[list("ABCDE"), "rank"].tolist() == [2, 1, 1, 1, 1]
    assert got.loc[list("ABCDE"), "winner"].tolist() == [False, True, True, True, True]
    assert got.loc[list("ABCDE"), "tier"].tolist() == ["机关党委", "党总支", "党总支", "机关党委", "直属党委"]


@pytest.mark.parametrize("policy, a_total", [("prorate", 250 / 3), ("zero", 75.0), ("full", 85.0)])
def test_na_items_under_each_policy(tables, yd, policy, a_total):
    # A earns 75 of the 90 applicable points, I5 (10) is NA: prorate 75/90·100, zero 75, full 75 + 10
    got = totals_of(yd, tables, f"na_policy: {policy}")
    assert_allclose(got.loc[list("ABCDE"), "total"], [a_total, 71, 71, 86, 60])


def test_changed_grade_map(tables, yd):
    # I3 (max 20) with 好 1.0 / 较好 0.5 / 一般 0: A 20, B 10, C 0, D 10, E 20
    # A 75/90·100 (unchanged), B 65, C 58 + 1, D 80, E 60 → ranks A 1, D 2, B 3, E 4, C 5
    got = totals_of(yd, tables, "grade_map: {好: 1.0, 较好: 0.5, 一般: 0.0}")
    assert_allclose(got.loc[list("ABCDE"), "total"], [250 / 3, 65, 59, 80, 60])
    assert got.loc[list("ABCDE"), "rank"].tolist() == [1, 3, 5, 2, 4]


def test_items_override_keeps_the_category_points(tables, yd):
    # 志愿服务 (I4) fixed at 15: 单项工作 keeps its official 20, so 结对帮扶 (I5) gets 5.
    # A (I5 NA): (30 + 15 + 20 + 15) / 95 · 100; B 15+30+16+7.5+2.5 = 71; C 24+24+12+0+5 = 65 (+1);
    # D 30+30+16+15+0 = 91; E 0+30+20+7.5+2.5 = 60
    s = parse_text("items: {志愿服务: 15}")
    w = item_weights(s, year_items(yd))
    assert_allclose(w.to_numpy(), [30, 30, 20, 15, 5])
    got = totals_of(yd, tables, "items: {志愿服务: 15}")
    assert_allclose(got.loc[list("ABCDE"), "total"], [8000 / 95, 71, 66, 91, 60])


def test_comparison_rows_and_agreement(tables, yd):
    s = parse_text("""
categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}
by_sector:
  政法: {categories: {思想政治: 10, 基层组织: 40, 机关作风: 30, 单项工作: 20}}
top_n: 2
""")
    comp = comparison(yd, official_totals(tables, 2020), s, tables["units"])
    assert list(comp.columns[:10]) == ["year", "unit_id", "name", "tier", "official_total", "official_rank", "official_winner",
                                       "scheme_total", "scheme_rank", "scheme_winner"]
    # five units, official top 20 → all win officially; the scheme's winners are D and B
    a = C.agreement(comp)
    assert (a["n_official_winners"], a["n_scheme_winners"], a["n_in"], a["n_out"]) == (5, 2, 0, 3)
    assert a["jaccard"] == pytest.approx(2 / 5)
    # rank changes (official − scheme): A 2−3 = −1, B 3−2 = +1, C 3−4 = −1, D 0, E 0
    ch = C.rank_changes(comp).set_index("unit_id")["change"]
    assert ch.to_dict() == {"B": 1, "A": -1, "C": -1}
    # Kendall τ-b of official (83.3, 71, 71, 86, 60) vs scheme (77.8, 79, 68.5, 82.5, 62.5):
    # pairs: 10, concordant 8 (all but A–B discordant), 1 tie (B–C) in x → (8−1)/√(9·10)
    assert a["kendall_tau"] == pytest.approx(7 / np.sqrt(90))
    moves = C.winner_moves(comp)
    assert sorted(moves.loc[moves["move"] == "out", "unit_id"]) == ["A", "C", "E"]


def test_scheme_uncertainty_centres_on_the_scheme_ranks(tables, yd):
    # the block composite of the Monte Carlo reproduces the scheme ranks exactly at its nominal
    # weights, under every NA policy and with differentiated weights and tiers
    for policy in ("prorate", "zero", "full"):
        s = parse_text(f"""
categories: {{思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}}
by_sector:
  政法: {{categories: {{思想政治: 10, 基层组织: 40, 机关作风: 30, 单项工作: 20}}}}
na_policy: {policy}
tiers: {{by: type, winners: {{机关党委: 1, 党总支: 1, 直属党委: 1}}}}
""")
        units, system = C.scheme_uncertainty(yd, s, n=50, seed=1, units=tables["units"])
        want = scheme_totals(yd, s, tables["units"])["rank"]
        assert units.set_index("unit_id")["nominal_rank"].reindex(want.index).tolist() == want.tolist()
        assert set(system["tier"]) == {"机关党委", "党总支", "直属党委"}


def test_evaluate_is_seeded(tables):
    s = parse_text("categories: {思想政治: 40, 基层组织: 20, 机关作风: 20, 单项工作: 20}\ntop_n: 2")
    a = evaluate(tables, s, n_mc=100, n_perm=99, seed=3)
    b = evaluate(tables, s, n_mc=100, n_perm=99, seed=3)
    pd.testing.assert_frame_equal(a.mc_units, b.mc_units)
    pd.testing.assert_frame_equal(a.groups, b.groups)


def test_official_weights_agree_perfectly(tables, yd):
    # same weights, tiers only: totals equal up to summation noise → τ = ρ = 1 exactly, no rank change
    s = parse_text("tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 1}}")
    a = C.agreement(comparison(yd, official_totals(tables, 2020), s, tables["units"]))
    assert a["kendall_tau"] == 1.0 and a["spearman_rho"] == pytest.approx(1.0) and a["mean_abs_rank_change"] == 0.0


def test_group_winners_count_the_scheme_winners(tables, yd):
    # tiers by type: winners B, C, D, E → 党总支 2, 机关党委 1, 直属党委 1; officially all 5 win
    s = parse_text("tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 1}}")
    comp = comparison(yd, official_totals(tables, 2020), s, tables["units"])
    gw = C.group_winners(comp)
    t = gw.loc[gw["attribute"] == "type"].set_index("group")
    assert t["scheme_winners"].to_dict() == {"党总支": 2, "机关党委": 1, "直属党委": 1}
    assert t["official_winners"].to_dict() == {"党总支": 2, "机关党委": 2, "直属党委": 1}


@pytest.mark.parametrize("text, msg", [
    ("categories: {思想政治: 30, 基层组织: 30, 机关作风: 20, 单项工作: 25}", "points sum to 105, not 100"),
    ("categories: {思想证治: 30, 基层组织: 30, 机关作风: 20, 单项工作: 20}", "unknown category '思想证治' (closest: 思想政治)"),
    ("name: x\ncategories: {思想政治: 30\n", "line"),
    ("top_n: 5\ntiers: {by: type, winners: {机关党委: 1}}", "not both"),
    ("grade_map: {优: 1.0}", "unknown grade"),
    ("na_policy: prorated", "closest: prorate"),
    ("catgories: {思想政治: 25}", "unknown key 'catgories' (closest: categories)"),
])
def test_parse_errors(text, msg):
    with pytest.raises(PipelineError, match=None) as err:
        parse_text(text, source="bad.yaml")
    assert msg in str(err.value) and str(err.value).startswith("bad.yaml")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("text, msg", [
    ("items: {三会一可: 5}", "unknown item '三会一可' (closest: 三会一课)"),
    ("by_sector:\n  正法: {categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}}", "unknown sector '正法' (closest: 政法)"),
    ("by_type:\n  机关党会: {categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}}", "unknown type '机关党会' (closest: 机关党委)"),
    ("tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 2}}", "quota 2 is larger than the tier (1 units in 2020)"),
    ("tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党魏: 1}}", "unknown type '直属党魏' (closest: 直属党委)"),
    ("tiers: {by: tpye, winners: {机关党委: 1}}", "closest: type"),
    ("items: {志愿服务: 25}", "more than the category's 20"),
])
def test_validate_errors(tables, yd, text, msg):
    s = parse_text(text, source="bad.yaml")
    with pytest.raises(PipelineError) as err:
        validate(s, tables["items"], tables["units"], {2020: yd.attrs})
    assert msg in str(err.value)


def test_group_effects_read_as_the_proposal(tables, yd):
    # the readings speak of the proposal, one per group, with the group's mean places gained
    s = parse_text("tiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 1}}")
    comp = comparison(yd, official_totals(tables, 2020), s, tables["units"])
    ge = C.group_effects(comp, n_perm=99, seed=1)
    assert len(ge) == ge[["attribute", "group"]].drop_duplicates().shape[0]
    assert all("现行权重" not in r for r in ge["reading"])
    # official weights: nobody moves, so every group's mean advantage is 0 and nothing is significant
    assert (ge["mean_advantage"] == 0).all() and not (ge["p_holm"] < 0.05).any()
