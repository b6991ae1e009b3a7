"""Tests of pipeline.compare (horizontal and vertical comparison).

Small hand-built worlds use pipeline.score.totals; expected values come from hand computation,
scipy, or published examples (each says where). The last tests use the shared ``world`` fixture
(the default sample world, synthesized and cleaned once per session).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline import compare as C
from pipeline import score
from pipeline.errors import PipelineError
from langs import in_lang  # noqa: E402


def toy(seed: int = 3):
    """Eight units over 2010–2013, four 25-point items, one rename and one merge.

    U2 (市乙局) is renamed U5 (市新乙局) from 2012; U3 and U4 merge into U6 (市丙丁委) in 2013.
    """
    units = pd.DataFrame(
        {
            "unit_id": ["U1", "U2", "U3", "U4", "U5", "U6", "U7", "U8"],
            "name": ["市甲局", "市乙局", "市丙局", "市丁局", "市新乙局", "市丙丁委", "市戊局", "市己局"],
            "aliases": ["甲局", "乙局", None, None, None, None, "戊局;老戊局", None],
            "type": ["机关党委", "直属党委", "党总支", "机关党委", "直属党委", "机关党委", "党总支", "机关党委"],
            "sector": ["党群", "综合", "经济", "政法", "综合", "经济", "社会事业", "党群"],
            "members": [50, 60, 30, 40, 60, 70, 20, 45],
            "valid_from": pd.array([None, None, None, None, 2012, 2013, None, None], dtype="Int64"),
            "valid_to": pd.array([None, 2011, 2012, 2012, None, None, None, None], dtype="Int64"),
            "successor_id": [None, "U5", "U6", "U6", None, None, None, None],
        }
    )
    alive = {
        2010: ["U1", "U2", "U3", "U4", "U7", "U8"],
        2011: ["U1", "U2", "U3", "U4", "U7", "U8"],
        2012: ["U1", "U5", "U3", "U4", "U7", "U8"],
        2013: ["U1", "U5", "U6", "U7", "U8"],
    }
    cats = ["ideology", "organisation", "conduct", "special"]
    dims = ["competence", "efficiency", "service", "highlights"]
    items = pd.DataFrame(
        [(y, f"I0{k + 1}", f"项目{k + 1}", c, d, 25.0, "points") for y in alive for k, (c, d) in enumerate(zip(cats, dims))],
        columns=["year", "item_id", "item_name", "category", "dimension", "max_points", "method"],
    )
    rng = np.random.default_rng(seed)
    rows = [
        (y, "Y", u, f"I0{k + 1}", float(np.round(rng.uniform(10, 25) * 2) / 2), "ok", None, "toy")
        for y, us in alive.items()
        for u in us
        for k in range(4)
    ]
    scores = pd.DataFrame(rows, columns=["year", "period", "unit_id", "item_id", "points", "status", "grade", "source"])
    return units, items, scores, score.totals(scores, items, top_n=2)


# ---------------------------------------------------------------------------------------------
# horizontal
# ---------------------------------------------------------------------------------------------
def test_gini_hand_cases():
    # Σ|xi−xj| over ordered pairs = 20, n² = 16, mean 2.5 → 20 / (2·16·2.5) = 0.25
    assert C.gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert C.gini([5, 5, 5]) == 0.0
    # one unit holds everything: Σ|xi−xj| = 6, n² = 16, mean 0.25 → 0.75 = (n−1)/n
    assert C.gini([0, 0, 0, 1]) == pytest.approx(0.75)


def test_describe_matches_numpy():
    x = np.array([70.0, 80, 85, 90, 95])
    d = C.describe(pd.DataFrame({"year": 2016, "total": x})).iloc[0]
    assert d["mean"] == pytest.approx(x.mean()) and d["sd"] == pytest.approx(x.std(ddof=1))
    assert d["cv"] == pytest.approx(x.std(ddof=1) / x.mean())
    assert d["iqr"] == pytest.approx(np.quantile(x, 0.75) - np.quantile(x, 0.25))
    assert d["gini"] == pytest.approx(np.abs(x[:, None] - x[None, :]).sum() / (2 * 25 * x.mean()))


def test_ranking_ties_at_cut_and_gaps():
    # totals 90, 85, 85, 80 with top 2: ranks 1, 2, 2, 4; both tied units win; cut = 85
    tot = pd.DataFrame({"year": 2016, "unit_id": ["a", "b", "c", "d"], "total": [90.0, 85, 85, 80], "pct_of_max": [90.0, 85, 85, 80]})
    r = C.ranking(tot, year=2016, top_n=2)
    assert r["rank"].tolist() == [1, 2, 2, 4]
    assert r["is_winner"].tolist() == [True, True, True, False]
    assert r["cut"].iloc[0] == 85
    assert r.set_index("unit_id").loc["d", "gap_to_cut"] == -5
    assert r.set_index("unit_id").loc["d", "gap_to_top"] == -10
    with pytest.raises(PipelineError, match="year 2015 is not in the data"):
        C.ranking(tot, year=2015)


def test_kruskal_matches_scipy_with_ties():
    v = np.array([80, 82, 82, 85, 90, 91, 91, 70, 75, 82, 88, 95.0])
    g = np.array(list("aaaabbbbcccc"))
    res = C.kruskal(v, g)
    ref = stats.kruskal(v[g == "a"], v[g == "b"], v[g == "c"])
    assert res["h"] == pytest.approx(ref.statistic) and res["p"] == pytest.approx(ref.pvalue)
    assert res["epsilon_sq"] == pytest.approx(ref.statistic / (12 - 1))  # Tomczak & Tomczak 2014
    assert res["eta_sq"] == pytest.approx((ref.statistic - 3 + 1) / (12 - 3))


def test_peer_groups_and_test():
    units, items, scores, tot = toy()
    pg = C.peer_groups(tot, units, 2013, by="type", top_n=2)
    assert pg["n"].sum() == 5 and pg["n_winners"].sum() == 2
    pt = C.peer_test(tot, units, 2013, by="sector").iloc[0]
    d = tot.loc[tot.year == 2013].merge(units[["unit_id", "sector"]])
    ref = stats.kruskal(*[g["pct_of_max"].to_numpy() for _, g in d.groupby("sector")])
    assert pt["h"] == pytest.approx(ref.statistic)
    with pytest.raises(PipelineError, match="no column 'size'"):
        C.peer_groups(tot, units, 2013, by="size")


def test_cronbach_alpha_published_examples():
    # R package `performance` test suite: cronbachs_alpha(mtcars[, c("cyl","gear","carb","hp")])
    # = 0.09463206 (mtcars, Henderson & Velleman 1981).
    cyl = [6, 6, 4, 6, 8, 6, 8, 4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 4, 4, 4, 4, 8, 8, 8, 8, 4, 4, 4, 8, 6, 8, 4]
    gear = [4, 4, 4, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 4, 4, 4, 3, 3, 3, 3, 3, 4, 5, 5, 5, 5, 5, 4]
    carb = [4, 4, 1, 1, 2, 1, 4, 2, 2, 4, 4, 3, 3, 3, 4, 4, 4, 1, 2, 1, 1, 2, 2, 4, 2, 1, 2, 2, 4, 6, 8, 2]
    hp = [110, 110, 93, 110, 175, 105, 245, 62, 95, 123, 123, 180, 180, 180, 205, 215, 230, 66, 52, 65, 97, 150, 150, 245, 175, 66, 91, 113, 264, 175, 335, 109]
    assert np.mean(hp) == pytest.approx(146.6875)  # published mean of mtcars$hp: data typed right
    assert C.cronbach_alpha(np.column_stack([cyl, gear, carb, hp])) == pytest.approx(0.09463206, abs=1e-7)
    # tci-stats test suite (15 respondents × 3 items): 0.547752808988764
    d = [[3, 4, 5], [3, 4, 6], [2, 3, 4], [4, 4, 4], [5, 5, 5], [3, 3, 2], [5, 2, 3], [4, 1, 2], [3, 4, 2], [4, 4, 3], [1, 2, 3], [3, 2, 1], [3, 5, 4], [3, 4, 3], [4, 3, 4]]
    assert C.cronbach_alpha(d) == pytest.approx(0.547752808988764)


def test_cronbach_alpha_equals_hoyt_anova():
    # Hoyt (1941): alpha = 1 − MS_residual / MS_subjects of the two-way subjects × items ANOVA
    x = np.random.default_rng(2).normal(size=(30, 5)) + np.random.default_rng(3).normal(size=(30, 1))
    n, k = x.shape
    gm = x.mean()
    ss_s = k * ((x.mean(1) - gm) ** 2).sum()
    ss_i = n * ((x.mean(0) - gm) ** 2).sum()
    ss_r = ((x - gm) ** 2).sum() - ss_s - ss_i
    hoyt = 1 - (ss_r / ((n - 1) * (k - 1))) / (ss_s / (n - 1))
    assert C.cronbach_alpha(x) == pytest.approx(hoyt)
    x[0, 0] = np.nan  # listwise: the row is dropped
    assert C.cronbach_alpha(x) == pytest.approx(C.cronbach_alpha(x[1:]))


def test_item_discrimination_hand():
    units, items, scores, _ = toy()
    s = scores.copy()
    # unit U1 gets full marks on I01 in 2013, U7's I02 is not applicable
    s.loc[(s.year == 2013) & (s.unit_id == "U1") & (s.item_id == "I01"), "points"] = 25.0
    s.loc[(s.year == 2013) & (s.unit_id == "U7") & (s.item_id == "I02"), ["points", "status"]] = [np.nan, "na"]
    d = C.item_discrimination(s, items, 2013).set_index("item_id")
    pts = s.loc[s.year == 2013].pivot(index="unit_id", columns="item_id", values="points")
    assert d.loc["I01", "share_full"] == pytest.approx(1 / 5)
    assert d.loc["I02", "n"] == 4
    # corrected item–total r by hand: item share vs share on the other applicable items
    present = pts.notna()
    rest = (pts.fillna(0).sum(axis=1) - pts["I03"]) / (present.mul(25.0).sum(axis=1) - 25.0)
    assert d.loc["I03", "r_rest"] == pytest.approx(np.corrcoef(pts["I03"] / 25, rest)[0, 1])
    rest2 = (pts.fillna(0).sum(axis=1) - pts["I02"].fillna(0)) / (present.mul(25.0).sum(axis=1) - 25.0 * present["I02"])
    ok = present["I02"]
    assert d.loc["I02", "r_rest"] == pytest.approx(np.corrcoef(pts.loc[ok, "I02"], rest2[ok])[0, 1])
    assert d.loc["I01", "sd_points"] == pytest.approx(pts["I01"].std(ddof=1))
    a = C.category_alpha(s, items, 2013).set_index("category")
    assert a.loc["all", "n_units"] == 4 and a.loc["all", "alpha"] == pytest.approx(C.cronbach_alpha(pts.dropna().to_numpy()))


def test_profiles_leave_out_not_applicable():
    units, items, scores, _ = toy()
    s = scores.copy()
    s.loc[(s.year == 2013) & (s.unit_id == "U1") & (s.item_id == "I02"), ["points", "status"]] = [np.nan, "na"]
    p = C.profiles(s, items, 2013)
    row = p.loc[(p.unit_id == "U1") & (p.key == "efficiency")].iloc[0]
    assert row["max_points"] == 0 and np.isnan(row["pct"])
    row = p.loc[(p.unit_id == "U1") & (p.key == "ideology")].iloc[0]
    pts = s.loc[(s.year == 2013) & (s.unit_id == "U1") & (s.item_id == "I01"), "points"].iloc[0]
    assert row["pct"] == pytest.approx(100 * pts / 25)
    assert set(p["key"]) >= {"ideology", "competence", "results"}  # all six dimensions listed


# ---------------------------------------------------------------------------------------------
# vertical
# ---------------------------------------------------------------------------------------------
def test_profile_means_skip_units_where_nothing_applies():
    # hand-made profiles: ideology 50 and 70 → 60 over 2 units; conduct NaN (n/a) and 30 → 30 over 1
    prof = pd.DataFrame({"year": 2016, "unit_id": ["A", "A", "B", "B"], "group": "category", "key": ["ideology", "conduct"] * 2,
                         "points": [5.0, 0.0, 7.0, 3.0], "max_points": [10.0, 0.0, 10.0, 10.0], "pct": [50.0, np.nan, 70.0, 30.0]})
    m = C.profile_means(prof).set_index("key")
    assert list(m.index) == ["ideology", "conduct"]  # config.CATEGORIES order
    assert m.loc["ideology", "mean_pct"] == 60 and m.loc["ideology", "n_units"] == 2
    assert m.loc["conduct", "mean_pct"] == 30 and m.loc["conduct", "n_units"] == 1


def test_lineage_rename_and_merge():
    units, *_ = toy()
    lin = C.lineage(units).set_index("unit_id")
    assert lin.loc["U2", "link"] == "rename" and lin.loc["U2", "series_id"] == "U5"
    assert lin.loc["U3", "link"] == "merge" and lin.loc["U3", "series_id"] == "U3"
    assert lin.loc["U6", "break_kind"] == "merge" and lin.loc["U6", "predecessors"] == "U3;U4"
    assert lin.loc["U5", "break_kind"] == "rename" and lin.loc["U5", "predecessors"] == "U2"


def test_lineage_chain_and_absorption():
    # A → B → C renames follow to C; D absorbed by E that existed before (merge, not rename)
    u = pd.DataFrame(
        {
            "unit_id": list("ABCDE"),
            "name": list("ABCDE"),
            "valid_from": pd.array([None, 2011, 2013, None, None], dtype="Int64"),
            "valid_to": pd.array([2010, 2012, None, 2012, None], dtype="Int64"),
            "successor_id": ["B", "C", None, "E", None],
        }
    )
    lin = C.lineage(u).set_index("unit_id")
    assert lin.loc["A", "series_id"] == "C" and lin.loc["B", "series_id"] == "C"
    assert lin.loc["D", "link"] == "merge" and lin.loc["D", "series_id"] == "D"
    assert lin.loc["E", "break_kind"] == "merge"


def test_vertical_marks_breaks_and_never_joins_merges():
    units, items, scores, tot = toy()
    v = C.vertical(tot, units, top_n=2)
    r = v.loc[(v.unit_id == "U5") & (v.year == 2012)].iloc[0]
    prev = v.loc[(v.unit_id == "U2") & (v.year == 2011)].iloc[0]
    assert r["break"] and r["break_kind"] == "rename" and r["series_id"] == "U5"
    assert r["d_rank"] == prev["rank"] - r["rank"]  # followed through the rename
    assert r["d_pct"] == pytest.approx(r["pct_of_max"] - prev["pct_of_max"])
    m = v.loc[(v.unit_id == "U6") & (v.year == 2013)].iloc[0]
    assert m["break"] and m["break_kind"] == "merge" and m["predecessors"] == "U3;U4"
    assert np.isnan(m["d_pct"]) and np.isnan(m["d_rank"])
    assert v.loc[v.series_id == "U3", "year"].max() == 2012  # predecessors' series end
    assert v["break"].sum() == 2


def test_vertical_percentile_and_z_match_scipy():
    units, items, scores, tot = toy()
    v = C.vertical(tot, units, top_n=2)
    y = v.loc[v.year == 2011].sort_values("unit_id")
    x = y["total"].to_numpy()
    assert y["percentile"].to_numpy() == pytest.approx([stats.percentileofscore(x, s, kind="mean") for s in x])
    assert y["z"].to_numpy() == pytest.approx(stats.zscore(x, ddof=1))
    assert set(y["quintile"]) <= {1, 2, 3, 4, 5}
    assert (y.loc[y["rank"] == 1, "quintile"] == 1).all()


def test_vertical_rejects_unknown_units():
    units, items, scores, tot = toy()
    with pytest.raises(PipelineError, match="not in the units table"):
        C.vertical(tot, units.loc[units.unit_id != "U7"])


def test_shorrocks_hand_matrices():
    assert C.shorrocks(np.eye(3)) == 0.0  # nobody moves
    assert C.shorrocks(np.full((4, 4), 0.25)) == pytest.approx(1.0)  # origin irrelevant: (4 − 1)/3
    assert C.shorrocks([[0.8, 0.2], [0.3, 0.7]]) == pytest.approx((2 - 1.5) / 1)
    assert C.shorrocks([[0.5, 0.3, 0.2], [0.25, 0.5, 0.25], [0.1, 0.3, 0.6]]) == pytest.approx((3 - 1.6) / 2)


def test_transitions_counts_and_merge_excluded():
    units, items, scores, tot = toy()
    v = C.vertical(tot, units, top_n=2)
    tr = C.transitions(v, 2012, 2013, k=5)
    assert len(tr) == 25
    # 2012: U1 U5 U3 U4 U7 U8; 2013: U1 U5 U6 U7 U8 → matched U1 U5 U7 U8 (U6 is a merge)
    assert tr["count"].sum() == 4
    rows = tr.groupby("q_from")["share"].sum()
    assert ((rows.round(12) == 1) | rows.isna() | (rows == 0)).all()
    mob = C.mobility(v, k=5).set_index("year_to")
    assert mob.loc[2013, "n_pairs"] == 4 and mob.loc[2013, "n_unmatched"] == 6 + 5 - 8
    assert mob.loc[2013, "shorrocks"] == pytest.approx(C.shorrocks(tr))


def test_persistence_runs():
    v = pd.DataFrame(
        {
            "series_id": ["A"] * 6 + ["B"] * 3,
            "series_name": ["a"] * 6 + ["b"] * 3,
            "year": [2009, 2010, 2011, 2012, 2014, 2015, 2009, 2010, 2011],
            "is_winner": [True, True, False, True, True, True, False, True, True],
        }
    )
    p = C.persistence(v).set_index("series_id")
    # A wins 2009–2010 (run 2), 2012, then 2014–2015 (a missing 2013 breaks the run) → longest 2
    assert p.loc["A", "years_winner"] == 5 and p.loc["A", "longest_run"] == 2
    assert p.loc["B", "longest_run"] == 2 and p.loc["B", "winner_years"] == "2010;2011"
    assert p.loc["A", "winner_last_year"] and not p.loc["B", "winner_last_year"]


def test_find_units_by_name_alias_and_error():
    units, *_ = toy()
    assert C.find_units(units, ["市甲局", "老戊局", "U3", "新乙局", " 市 己局 "]) == ["U1", "U7", "U3", "U5", "U8"]
    with pytest.raises(PipelineError, match="did you mean"):
        C.find_units(units, ["市甲乙局"])


def test_reading_sentences_use_numbers():
    units, items, scores, tot = toy()
    rk = C.ranking(tot, units, 2013, top_n=2)
    zh = C.read_ranking(rk, 2013)
    en = in_lang("en", C.read_ranking, rk, 2013)
    assert rk["name"].iloc[0] in zh and f"{rk['cut'].iloc[0]:.1f}" in en
    v = C.vertical(tot, units, top_n=2)
    assert "市丙丁委" in C.read_breaks(v) and "renamed" in in_lang("en", C.read_breaks, v)


# ---------------------------------------------------------------------------------------------
# on the sample world
# ---------------------------------------------------------------------------------------------
def _world_tables(world):
    from pipeline.io import read_table

    return {n: read_table(world.processed, n) for n in ("units", "items", "scores", "totals")}


def test_sample_rename_and_merge_followed(world):
    tb = _world_tables(world)
    truth_units = pd.read_csv(world.truth / "units.csv", dtype={"successor_id": str})
    linked = truth_units.dropna(subset=["successor_id"])
    assert len(linked) >= 2
    v = C.vertical(tb["totals"], tb["units"])
    lin = C.lineage(tb["units"]).set_index("unit_id")
    succ_count = linked["successor_id"].value_counts()
    for _, row in linked.iterrows():
        kind = "rename" if succ_count[row["successor_id"]] == 1 else "merge"
        assert lin.loc[row["unit_id"], "link"] == kind
        marked = v.loc[(v["unit_id"] == row["successor_id"]) & v["break"]]
        assert len(marked) == 1 and marked["break_kind"].iloc[0] == kind
        assert row["unit_id"] in marked["predecessors"].iloc[0]
        if kind == "merge":
            assert marked["d_rank"].isna().all()
        else:
            assert lin.loc[row["unit_id"], "series_id"] == row["successor_id"]
            assert marked["d_rank"].notna().all()


def test_sample_winners_match_totals(world):
    tb = _world_tables(world)
    t = tb["totals"]
    for year in sorted(t["year"].unique()):
        rk = C.ranking(t, tb["units"], int(year))
        assert set(rk.loc[rk.is_winner, "unit_id"]) == set(t.loc[(t.year == year) & t.is_winner, "unit_id"])
        assert (rk.set_index("unit_id")["rank"] == t.loc[t.year == year].set_index("unit_id")["rank"]).all()
