"""Analysis of the unit pages and the half-year bulletin (pipeline.pages) on hand-made worlds.

Every expected number below is computed by hand in the comment next to it.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline import compare, pages, score
from langs import in_lang  # noqa: E402

Y = 2016


def _world():
    """Three units, three items (max 10, 10, 80 → 100); unit C has item I02 not applicable."""
    items = pd.DataFrame({"year": Y, "item_id": ["I01", "I02", "I03"], "item_name": ["a", "b", "c"],
                          "category": ["ideology", "conduct", "special"], "dimension": ["competence", "image", "results"],
                          "max_points": [10.0, 10.0, 80.0], "method": "points"})
    pts = {"A": [9.0, 8.0, 70.0], "B": [5.0, 10.0, 60.0], "C": [4.0, np.nan, 60.0]}
    rows = []
    for u, v in pts.items():
        for it, p in zip(["I01", "I02", "I03"], v):
            rows.append({"year": Y, "period": "Y", "unit_id": u, "item_id": it, "points": p,
                         "status": "na" if np.isnan(p) else "ok", "grade": None})
    scores = pd.DataFrame(rows)
    totals = score.totals(scores, items, top_n=1)
    return scores, items, totals


def test_item_losses_against_year_and_winners_average():
    scores, items, totals = _world()
    # totals (prorate): A 87; B 75; C 64 of 90 applicable → 64/90×100 = 71.11 → A wins with top_n = 1
    L = pages.item_losses(scores, items, totals, Y, top_n=1).set_index(["unit_id", "item_id"])
    # I01: mean (9 + 5 + 4)/3 = 6; winners (A) 9; B lost 10 − 5 = 5, vs mean −1, vs winners −4
    assert L.loc[("B", "I01"), "lost"] == 5 and L.loc[("B", "I01"), "year_mean"] == pytest.approx(6)
    assert L.loc[("B", "I01"), "vs_mean"] == pytest.approx(-1) and L.loc[("B", "I01"), "vs_winners"] == pytest.approx(-4)
    # I02 does not apply to C: the mean is over A and B only, (8 + 10)/2 = 9; C's loss is undefined
    assert L.loc[("A", "I02"), "year_mean"] == pytest.approx(9) and np.isnan(L.loc[("C", "I02"), "lost"])
    u = pages.unit_losses(pages.item_losses(scores, items, totals, Y, top_n=1), "C")
    # C lost 20 on I03, 6 on I01, nothing defined on I02 (last)
    assert u["item_id"].tolist() == ["I03", "I01", "I02"] and u["lost"].iloc[:2].tolist() == [20, 6]
    # order of the items below the mean (hand computation): I01 mean 6, I02 9, I03 (70+60+60)/3 = 63.33
    # C: I03 −3.33, I01 −2 → I03 first, then I01; I02 n/a. B: I03 −3.33, I01 −1 (I02 +1 is above).
    # A: I02 8 < 9 → order 1, above on I01 and I03. Against the winners (A): B I03 −10, I01 −4; I02 +2 above.
    assert L.loc[("C", "I03"), "below_mean_order"] == 1 and L.loc[("C", "I01"), "below_mean_order"] == 2
    assert pd.isna(L.loc[("C", "I02"), "below_mean_order"]) and pd.isna(L.loc[("B", "I02"), "below_mean_order"])
    assert L.loc[("B", "I03"), "below_mean_order"] == 1 and L.loc[("B", "I01"), "below_mean_order"] == 2
    a = L.xs("A", level="unit_id")["below_mean_order"]
    assert a["I02"] == 1 and a[["I01", "I03"]].isna().all()
    assert L.loc[("B", "I03"), "below_winners_order"] == 1 and L.loc[("B", "I01"), "below_winners_order"] == 2
    assert pd.isna(L.loc[("B", "I02"), "below_winners_order"])


def test_winners_average_is_not_computable_when_no_unit_wins_the_item():
    scores, items, totals = _world()
    # with top_n = 3 every unit wins; the winners' average of I02 is over A and B (C: n/a)
    L = pages.item_losses(scores, items, totals, Y, top_n=3).set_index(["unit_id", "item_id"])
    assert L.loc[("A", "I02"), "winners_mean"] == pytest.approx(9)
    # a world whose only winner has I02 not applicable: C alone at the top
    s2 = scores.copy()
    s2.loc[(s2["unit_id"] == "C") & (s2["item_id"] == "I03"), "points"] = 80.0
    t2 = score.totals(s2, items, top_n=1)
    assert t2.set_index("unit_id").loc["C", "is_winner"]  # C: 84/90×100 = 93.3 > A 87
    L2 = pages.item_losses(s2, items, t2, Y, top_n=1).set_index(["unit_id", "item_id"])
    assert np.isnan(L2.loc[("A", "I02"), "winners_mean"])


def test_gap_to_cut_names_the_fewest_items_that_close_it():
    scores, items, totals = _world()
    rk = compare.ranking(totals, year=Y, top_n=1)
    L = pages.item_losses(scores, items, totals, Y, top_n=1)
    b = pages.gap_to_cut(rk, L, "B", "prorate")
    # cut = A's 87; B 75 needs 12; B lost I03 20 > 12 → one item (scale 1: all items apply)
    assert b["cut"] == 87 and b["needed"] == pytest.approx(12) and b["scale"] == 1 and b["items"] == ["I03"] and b["note"] is None
    c = pages.gap_to_cut(rk, L, "C", "prorate")
    # C: 64/90 × 100 = 71.11; needs 15.89; a regained raw point is worth 100/90 → I03 alone 20 × 10/9 = 22.2
    assert c["scale"] == pytest.approx(100 / 90) and c["needed"] == pytest.approx(87 - 640 / 9) and c["items"] == ["I03"]
    assert pages.gap_to_cut(rk, L, "C", "zero")["scale"] == 1
    a = pages.gap_to_cut(rk, L, "A", "prorate")
    # the winner's margin over the best non-winner (B 75): 12
    assert a["is_winner"] and a["margin"] == pytest.approx(12) and a["gap"] == 0


def test_gap_to_cut_says_what_is_not_computable():
    scores, items, totals = _world()
    rk = compare.ranking(totals, year=Y, top_n=5)  # five places, three units: everyone wins
    L = pages.item_losses(scores, items, totals, Y, top_n=5)
    a = pages.gap_to_cut(rk, L, "A")
    assert np.isnan(a["margin"]) and a["note"] == "nc_gap_all_win"
    # a deduction no item can make up: B 75 − 30 (述职评议) = 45 needs 42 > all B lost (5 + 0 + 20)
    t2 = score.totals(scores, items, pd.DataFrame({"year": [Y], "unit_id": ["B"], "adjustment": [-30.0]}), top_n=1)
    rk2 = compare.ranking(t2, year=Y, top_n=1)
    b = pages.gap_to_cut(rk2, pages.item_losses(scores, items, t2, Y, top_n=1), "B")
    assert b["items"] == [] and b["note"] == "nc_gap_unreachable" and b["recoverable"] == pytest.approx(25)


def _monthly(year, earn):
    """Monthly rows (Jan–Jun) for items I01 (max 12, ideology) and I02 (max 24, conduct)."""
    rows = []
    for m in range(1, 7):
        for u, (a, b) in earn.items():
            rows.append({"year": year, "period": str(m), "unit_id": u, "item_id": "I01", "points": a, "status": "ok"})
            rows.append({"year": year, "period": str(m), "unit_id": u, "item_id": "I02", "points": b,
                         "status": "na" if b is None else "ok"})
    return rows


def test_bulletin_tables_cross_section_change_and_bottom():
    items = pd.concat([pd.DataFrame({"year": y, "item_id": ["I01", "I02"], "max_points": [12.0, 24.0],
                                     "category": ["ideology", "conduct"]}) for y in (Y - 1, Y)])
    scores = pd.DataFrame(_monthly(Y, {"A": (1.0, 2.0), "B": (0.5, None), "C": (0.5, 1.0)})
                          + _monthly(Y - 1, {"A": (0.5, 1.0), "B": (1.0, None), "C": (1.0, 2.0)}))
    scores["points"] = scores["points"].astype(float)
    b = pages.bulletin_tables(scores, items, Y, n_bottom=1, k_items=1)
    r = b["ranking"].set_index("unit_id")
    # against the annual maxima (I01 12, I02 24) of the items that apply (hand computation):
    # A: (6×1 + 6×2) / 36 = 50 %; B: 6×0.5 / 12 = 25 % (I02 n/a); C: (3 + 6) / 36 = 25 %
    assert r.loc["A", "h1_pct"] == 50 and r.loc["B", "h1_pct"] == 25 and r.loc["C", "h1_pct"] == 25
    assert r.loc["A", "h1_rank"] == 1 and r.loc["B", "h1_rank"] == 2 and r.loc["C", "h1_rank"] == 2
    # last year: A (3 + 6)/36 = 25 %, B 6/12 = 50 %, C 18/36 = 50 % → B, C rank 1, A rank 3
    assert r.loc["A", "prev_rank"] == 3 and r.loc["A", "rank_change"] == 2 and r.loc["A", "pct_change"] == 25
    assert r.loc["B", "rank_change"] == -1 and r.loc["C", "pct_change"] == -25
    # category subtotals: C ideology 3/12 = 25 %, conduct 6/24 = 25 %; B conduct not applicable → NaN
    assert r.loc["C", "cat_ideology"] == 25 and np.isnan(r.loc["B", "cat_conduct"])
    cats = b["categories"].set_index("category")
    # ideology: mean of 50, 25, 25 = 33.33; last year 25, 50, 50 = 41.67 → change −8.33
    assert cats.loc["ideology", "mean_pct"] == pytest.approx(100 / 3) and cats.loc["ideology", "change"] == pytest.approx(-25 / 3)
    # bottom: B and C tie at rank 2, so both are named though n_bottom = 1. Points earned in the
    # half against the mean of the units the item applies to: I01 mean (6 + 3 + 3)/3 = 4, I02
    # mean over A, C (12 + 6)/2 = 9. B: I01 4 − 3 = 1 (its I02 is n/a); C: I01 1, I02 9 − 6 = 3 → I02
    bot = b["bottom"]
    assert bot["unit_id"].tolist() == ["B", "C"] and bot["item_id"].tolist() == ["I01", "I02"] and bot["behind"].tolist() == [1, 3]
    assert b["notes"] == []


def test_bulletin_tables_notes_when_not_computable():
    items = pd.DataFrame({"year": Y, "item_id": ["I01", "I02"], "max_points": [12.0, 24.0], "category": ["ideology", "conduct"]})
    scores = pd.DataFrame(_monthly(Y, {"A": (1.0, 2.0), "B": (0.5, 1.0)}))
    b = pages.bulletin_tables(scores, items, Y)
    assert b["notes"] == ["nc_bul_no_prev"] and b["ranking"]["prev_rank"].isna().all()
    assert b["categories"]["change"].isna().all()
    none = pages.bulletin_tables(scores.assign(period="Y"), items, Y)
    assert none["notes"] == ["nc_bul_no_months"] and none["ranking"].empty


def test_bulletin_table_is_the_half_year_ranking():
    # the year-end rank column comes from totals; h1 as in bulletin_tables (one computation)
    items = pd.DataFrame({"year": Y, "item_id": ["I01", "I02"], "max_points": [12.0, 24.0], "category": ["ideology", "conduct"]})
    scores = pd.DataFrame(_monthly(Y, {"A": (1.0, 2.0), "B": (0.5, None)}))
    totals = pd.DataFrame({"year": Y, "unit_id": ["A", "B"], "rank": [2, 1]})
    t = pages.bulletin_table(scores, items, totals, Y).set_index("unit_id")
    bt = pages.bulletin_tables(scores, items, Y)["ranking"].set_index("unit_id")
    assert (t["h1_pct"] == bt["h1_pct"]).all() and t.loc["A", "rank"] == 2 and t.loc["B", "h1_max"] == 12  # I01's annual max


def _brute_gap(rk: pd.DataFrame, L: pd.DataFrame, uid: str, na_policy: str) -> tuple[list[str], float]:
    """Fewest items closing a non-winner's gap by trying k = 1, 2, … on the k largest losses."""
    r = rk.set_index("unit_id").loc[uid]
    u = L.loc[(L["unit_id"] == uid)]
    app = u.loc[u["status"] != "na", "max_points"].sum()
    s = u["max_points"].sum() / app if na_policy == "prorate" else 1.0
    lost = sorted(((float(v) * s, i) for v, i in zip(u["lost"], u["item_id"]) if not np.isnan(v)), key=lambda x: (-x[0], x[1]))
    need = float(r["cut"] - r["total"])
    for k in range(1, len(lost) + 1):
        if sum(v for v, _ in lost[:k]) >= need - 1e-9:
            return [i for _, i in lost[:k]], s
    return [], s


@pytest.mark.parametrize("na_policy", ["prorate", "zero"])
def test_gaps_to_cut_for_every_unit_equals_brute_force(na_policy):
    # 40 units × 6 items with not-applicable cells and an adjustment; every non-winner checked
    # against a per-unit brute force (k largest losses, k = 1, 2, …), every winner's margin by hand
    rng = np.random.default_rng(3)
    mx = np.array([5.0, 10.0, 10.0, 15.0, 20.0, 40.0])
    ids = [f"I{j + 1:02d}" for j in range(6)]
    items = pd.DataFrame({"year": Y, "item_id": ids, "item_name": ids, "category": "ideology", "dimension": "competence", "max_points": mx, "method": "points"})
    pts = np.round(rng.uniform(0.4, 1.0, (40, 6)) * mx, 1)
    na = rng.uniform(size=(40, 6)) < 0.1
    rows = [{"year": Y, "period": "Y", "unit_id": f"U{u:02d}", "item_id": ids[j], "points": np.nan if na[u, j] else pts[u, j],
             "status": "na" if na[u, j] else "ok", "grade": None} for u in range(40) for j in range(6)]
    scores = pd.DataFrame(rows)
    adj = pd.DataFrame({"year": [Y], "unit_id": ["U07"], "adjustment": [-60.0]})
    totals = score.totals(scores, items, adj, na_policy=na_policy, top_n=10)
    rk = compare.ranking(totals, year=Y, top_n=10)
    L = pages.item_losses(scores, items, totals, Y, top_n=10)
    G = pages.gaps_to_cut(rk, L, na_policy).set_index("unit_id")
    best_out = rk.loc[~rk["is_winner"], "total"].max()
    for uid, g in G.iterrows():
        if g["is_winner"]:
            assert g["margin"] == pytest.approx(g["total"] - best_out) and g["note"] == ""
            continue
        items_bf, s = _brute_gap(rk, L, uid, na_policy)
        assert g["scale"] == pytest.approx(s) and g["needed"] == pytest.approx(g["cut"] - g["total"])
        assert (g["items"].split(";") if g["items"] else []) == items_bf, uid
        assert g["note"] == ("" if items_bf else "nc_gap_unreachable"), uid
    assert G.loc["U07", "note"] == "nc_gap_unreachable"  # −60 cannot be made up on the items
    # the one-unit form is the same row
    d = pages.gap_to_cut(rk, L, "U07", na_policy)
    assert d["note"] == "nc_gap_unreachable" and d["items"] == [] and d["recoverable"] == pytest.approx(G.loc["U07", "recoverable"])


def test_graded_rescores_graded_cells_by_hand():
    # one graded item (max 10) and one points item (max 20); grades 好 / 较好 / 一般 as stored with
    # the default map (10, 8, 6); with {好: 1, 较好: 0.5, 一般: 0.2} they become 10, 5, 2 (hand)
    items = pd.DataFrame({"year": Y, "item_id": ["I01", "I02"], "item_name": ["g", "p"], "category": ["ideology", "conduct"],
                          "dimension": ["competence", "image"], "max_points": [10.0, 20.0], "method": ["grade", "points"]})
    scores = pd.DataFrame({"year": Y, "period": "Y", "unit_id": ["A", "B", "C", "A", "B", "C"], "item_id": ["I01"] * 3 + ["I02"] * 3,
                           "points": [10.0, 8.0, 6.0, 15.0, 12.0, 18.0], "status": "ok", "grade": ["好", "较好", "一般", None, None, None]})
    gm = {"好": 1.0, "较好": 0.5, "一般": 0.2}
    g = score.graded(scores, items, gm)
    assert g["points"].tolist() == [10.0, 5.0, 2.0, 15.0, 12.0, 18.0] and list(g.columns) == list(scores.columns)
    # chapter 02's item table on the graded scores: mean % of I01 = (100 + 50 + 20)/3 = 56.67 (default map: 80)
    disc = compare.item_discrimination(g, items, Y).set_index("item_id")
    assert disc.loc["I01", "mean_pct"] == pytest.approx(170 / 3)
    assert compare.item_discrimination(scores, items, Y).set_index("item_id").loc["I01", "mean_pct"] == pytest.approx(80)
    # the totals use the same rule: A 10 + 15 = 25, B 5 + 12 = 17, C 2 + 18 = 20 raw points
    tot = score.totals(scores, items, grade_map=gm).set_index("unit_id")
    assert tot["raw_total"].to_dict() == {"A": 25.0, "B": 17.0, "C": 20.0}


def test_bulletin_without_monthly_sheets_records_empty_tables_and_says_why():
    from pipeline import schemas
    from pipeline.report import pages as rpages

    items = pd.DataFrame({"year": Y, "item_id": ["I01", "I02"], "item_name": ["a", "b"], "max_points": [12.0, 24.0], "category": ["ideology", "conduct"]})
    scores = pd.DataFrame(_monthly(Y, {"A": (1.0, 2.0), "B": (0.5, 1.0)})).assign(period="Y")
    totals = pd.DataFrame({"year": Y, "unit_id": ["A", "B"], "rank": [1, 2]})
    b = pages.bulletin_tables(scores, items, Y, totals=totals)
    assert b["notes"] == ["nc_bul_no_months"] and pages.bulletin_summary(b["ranking"]) == {}
    tabs = {}
    for key, name in (("ranking", "h_bulletin"), ("categories", "h_bulletin_categories"), ("bottom", "h_bulletin_bottom")):
        tabs[name] = schemas.validate_chapter(name, b[key])  # an empty table with its columns passes its schema
        assert tabs[name].empty and list(tabs[name].columns)[:3] == pages.BULLETIN_COLUMNS[key][:3]
    rec = {"dir": "x/02-horizontal", "tables": tabs, "headline": {"bulletin_notes": b["notes"], "bulletin": {}}}
    data = {"items": items, "units": pd.DataFrame({"unit_id": ["A", "B"], "name": ["甲", "乙"]}), "totals": totals}
    for lang in ("zh", "en"):
        prm = SimpleNamespace(lang=lang, top_n=20)
        html = rpages.write_bulletin(data, rec, Y, prm, Path("b.html"), write=False, pdf=False)[Path("b.html")]
        from pipeline.i18n import t

        assert in_lang(lang, t, "nc_bul_no_months") in html and "<table" not in html


def test_bulletin_progress_never_exceeds_100_when_points_are_uneven_over_the_months():
    # An item whose points all fall in one month (an event held in March): 12 of its 12 points
    # in March. A pro-rata monthly maximum (12/12 a month → 6 in a half) would give 200 %; against
    # the annual maximum the unit has earned 12/12 = 100 % of the item (hand computation).
    items = pd.DataFrame({"year": Y, "item_id": ["I01"], "max_points": [12.0], "category": ["special"]})
    rows = [{"year": Y, "period": str(m), "unit_id": u, "item_id": "I01", "points": p if m == 3 else 0.0, "status": "ok"}
            for m in range(1, 7) for u, p in (("A", 12.0), ("B", 6.0))]
    b = pages.bulletin_tables(pd.DataFrame(rows), items, Y)
    r = b["ranking"].set_index("unit_id")
    assert r.loc["A", "h1_pct"] == 100 and r.loc["B", "h1_pct"] == 50 and r.loc["A", "cat_special"] == 100
    # B is 3 points below the mean (12 + 6)/2 = 9 on I01
    assert b["bottom"].set_index("unit_id").loc["B", "behind"] == 3
