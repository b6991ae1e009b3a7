"""Analysis of the unit pages and the half-year bulletin (pipeline.pages) on hand-made worlds.

Every expected number below is computed by hand in the comment next to it.
"""

import numpy as np
import pandas as pd
import pytest

from pipeline import compare, pages, score

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
    # attainable per month: I01 1, I02 2. A: 6×3 / 6×3 = 100 %; B: 3 / 6 = 50 % (I02 n/a); C: (3 + 6)/18 = 50 %
    assert r.loc["A", "h1_pct"] == 100 and r.loc["B", "h1_pct"] == 50 and r.loc["C", "h1_pct"] == 50
    assert r.loc["A", "h1_rank"] == 1 and r.loc["B", "h1_rank"] == 2 and r.loc["C", "h1_rank"] == 2
    # last year: A (3 + 6)/18 = 50 %, B 6/6 = 100 %, C 18/18 = 100 % → B, C rank 1, A rank 3
    assert r.loc["A", "prev_rank"] == 3 and r.loc["A", "rank_change"] == 2 and r.loc["A", "pct_change"] == 50
    assert r.loc["B", "rank_change"] == -1 and r.loc["C", "pct_change"] == -50
    # category subtotals: C ideology 3/6 = 50 %, conduct 6/12 = 50 %; B conduct not attainable → NaN
    assert r.loc["C", "cat_ideology"] == 50 and np.isnan(r.loc["B", "cat_conduct"])
    cats = b["categories"].set_index("category")
    # ideology: mean of 100, 50, 50 = 66.67; last year 50, 100, 100 = 83.33 → change −16.67
    assert cats.loc["ideology", "mean_pct"] == pytest.approx(200 / 3) and cats.loc["ideology", "change"] == pytest.approx(-50 / 3)
    # bottom: B and C tie at rank 2, so both are named though n_bottom = 1; worst item of B: I01
    # (6 − 3 = 3; its I02 is n/a), of C: I02 (12 − 6 = 6)
    bot = b["bottom"]
    assert bot["unit_id"].tolist() == ["B", "C"] and bot["item_id"].tolist() == ["I01", "I02"] and bot["lost"].tolist() == [3, 6]
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
    assert (t["h1_pct"] == bt["h1_pct"]).all() and t.loc["A", "rank"] == 2 and t.loc["B", "h1_max"] == 6
