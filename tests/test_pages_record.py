"""The unit pages and the half-year bulletin read chapter 02's record: the numbers they show are
the numbers :mod:`pipeline.pages` computes directly (one implementation, called by the notebook),
and chapter 02's item tables follow the run's ``grade_map``.

One small synthetic world (16 units, 2015–2016, monthly sheets in both years) is cleaned and
chapter 02 is run once on it with ``top_n = 5`` (so that there are units outside the winners)
and a non-default ``grade_map``.
"""

from __future__ import annotations

import html as _html
import os
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline import compare, config, notebooks, pages, params, score
from pipeline.i18n import namer, t
from pipeline.io import read_table
from pipeline.report import pages as rpages
from langs import in_lang  # noqa: E402

YEAR = 2016
GRADE_MAP = {"好": 1.0, "较好": 0.5, "一般": 0.2}  # not the default 1.0 / 0.8 / 0.6
TOP_N = 5
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from pipeline import clean, synth

    root = tmp_path_factory.mktemp("pages_small")
    synth.write_world(root / "raw", root / "truth", seed=7, n_units=16, years=(2015, YEAR))
    clean.run(root / "raw", root / "processed")
    for k, v in {"PYTHONPATH": str(config.ROOT), "MPLCONFIGDIR": str(config.ROOT / ".mplconfig")}.items():
        os.environ.setdefault(k, v)
    prm = params.Params(year=YEAR, years=(2015, YEAR), top_n=TOP_N, grade_map=GRADE_MAP, processed=str(root / "processed"), lang="zh")
    out = root / "02-horizontal"
    nb = {"year": YEAR, "years": [2015, YEAR], "top_n": TOP_N, "na_policy": prm.na_policy, "grade_map": GRADE_MAP, "lang": "zh",
          "seed": 1, "processed": str(root / "processed"), "out_dir": str(out)}
    notebooks.run("02-horizontal.ipynb", root / "02.ipynb", nb)
    P = root / "processed"
    d = SimpleNamespace(root=root, prm=prm, record=notebooks.read_record(out), items=read_table(P, "items"), units=read_table(P, "units"),
                        scores=read_table(P, "scores"), adjustments=read_table(P, "adjustments"))
    d.totals = score.run_totals(d.scores, d.items, d.adjustments, prm)
    d.graded = score.graded(d.scores, d.items, GRADE_MAP)
    d.data = {"items": d.items, "units": d.units, "totals": d.totals}
    return d


def _text(html: str) -> str:
    html = re.sub(r"<style.*?</style>|<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r"</?span[^>]*>|<wbr>", "", html)
    return _html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _close(cell: str, value: float) -> bool:
    """A displayed number equals ``value`` to the decimals it shows (half a unit of the last digit)."""
    cell = cell.strip().replace("−", "-").replace(",", "")
    if not cell or cell in ("—", "-"):
        return value is None or np.isnan(value)
    d = len(cell.split(".")[1]) if "." in cell else 0
    return abs(float(cell) - value) <= 0.5 * 10 ** -d + 1e-9


def _rows(html: str, k: int) -> list[list[str]]:
    """Cell texts of the ``k``-th data table of a page."""
    tab = re.findall(r'<table class="data[^"]*">(.*?)</table>', html, flags=re.S)[k]
    return [[_text(c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in re.findall(r"<tr>(.*?)</tr>", tab, flags=re.S) if "<td" in r]


def test_chapter_02_records_what_the_pages_functions_compute(small):
    tabs = small.record["tables"]
    # the record's tables are the pipeline.pages functions under the run's parameters (direct computation)
    L = pages.item_losses(small.graded, small.items, small.totals, YEAR, top_n=TOP_N)
    pd.testing.assert_frame_equal(tabs["h_item_losses"].reset_index(drop=True), L, check_dtype=False)
    rk = compare.ranking(small.totals, small.units, YEAR, top_n=TOP_N)
    G = pages.gaps_to_cut(rk, L, small.prm.na_policy)
    pd.testing.assert_frame_equal(tabs["h_unit_gaps"].reset_index(drop=True), G, check_dtype=False)
    assert (~G["is_winner"]).sum() >= 3 and (G["items"] != "").any()  # units outside the winners, some gaps closable
    B = pages.bulletin_tables(small.scores, small.items, YEAR, totals=small.totals)
    assert B["notes"] == [] and small.record["headline"]["bulletin_notes"] == []
    for key, name in (("ranking", "h_bulletin"), ("categories", "h_bulletin_categories"), ("bottom", "h_bulletin_bottom")):
        pd.testing.assert_frame_equal(tabs[name].reset_index(drop=True), B[key].reset_index(drop=True), check_dtype=False)


def test_unit_pages_show_the_directly_computed_numbers(small):
    out = rpages.write_unit_pages(small.data, small.record, YEAR, small.prm, None, small.root / "units", write=False)
    L = pages.item_losses(small.graded, small.items, small.totals, YEAR, top_n=TOP_N)
    rk = compare.ranking(small.totals, year=YEAR, top_n=TOP_N)
    nm = namer(small.units, small.items.loc[small.items["year"] == YEAR].set_index("item_id"))
    checked = {"winner": 0, "below": 0}
    for uid in rk["unit_id"]:
        page = out[small.root / "units" / f"{uid}.html"]
        g = pages.gap_to_cut(rk, L, uid, small.prm.na_policy)
        if g["note"] is None and g["is_winner"]:
            want = in_lang("zh", t, "pg_unit_cut_winner", total=g["total"], cut=g["cut"], gap=g["gap"], margin=g["margin"])
            checked["winner"] += 1
        elif g["note"] is None:
            want = in_lang("zh", t, "pg_unit_cut_below", total=g["total"], cut=g["cut"], needed=g["needed"], top_n=TOP_N, k=len(g["items"]),
                     items="、".join(nm("item", i) for i in g["items"]))
            checked["below"] += 1
        else:
            want = t(g["note"], **{k: v for k, v in g.items() if k not in ("note", "items")})
        assert want in _text(page), uid
        # the losses table (the page's last data table): item by item, in unit_losses order
        u = pages.unit_losses(L, uid)
        rows = _rows(page, -1)
        assert [r[0] for r in rows] == [nm("item", i) for i in u["item_id"]], uid
        for r, (_, e) in zip(rows, u.iterrows()):
            for j, col in ((3, "lost"), (4, "year_mean"), (5, "winners_mean"), (6, "vs_mean"), (7, "vs_winners")):
                # the page shows the values rounded to 2 decimals (as before the record)
                assert _close(r[j], round(float(e[col]), 2) if pd.notna(e[col]) else np.nan), (uid, e["item_id"], col, r[j], e[col])
    assert checked["winner"] >= 1 and checked["below"] >= 1


def test_bulletin_shows_the_directly_computed_numbers(small, tmp_path):
    out = rpages.write_bulletin(small.data, small.record, YEAR, small.prm, tmp_path / "bulletin_H1.html", write=False, pdf=False)
    html = out[tmp_path / "bulletin_H1.html"]
    text = _text(html)
    B = pages.bulletin_tables(small.scores, small.items, YEAR, totals=small.totals)
    r = B["ranking"]
    nm = namer(small.units)
    # 横比: mean, first, last (direct, not via bulletin_summary)
    first, last = r.iloc[0], r.iloc[-1]
    assert in_lang("zh", t, "pg_bul_horizontal", mean=r["h1_pct"].mean(), first=nm("unit", first["unit_id"]), first_pct=first["h1_pct"],
             last=nm("unit", last["unit_id"]), last_pct=last["h1_pct"], spread=first["h1_pct"] - last["h1_pct"]) in text
    overlap = int(((r["h1_rank"] <= TOP_N) & (r["year_rank"] <= TOP_N)).sum())
    assert in_lang("zh", t, "pg_bul_overlap", top_n=TOP_N, overlap=overlap) in text
    # 纵比: the mean a year before and now over the units present in both halves
    both = r.dropna(subset=["prev_pct"])
    assert f"由 {both['prev_pct'].mean():.1f}% 变为 {both['h1_pct'].mean():.1f}%" in text
    # the ranking table, row by row: H1 rank, name, H1 %, …, change in %
    rows = _rows(html, 0)
    assert [x[1] for x in rows] == [nm("unit", u) for u in r["unit_id"]]
    assert all(int(x[0]) == e for x, e in zip(rows, r["h1_rank"])) and all(_close(x[2], e) for x, e in zip(rows, r["h1_pct"]))
    # category subtotals and the units at the bottom with the items where they are furthest below the mean
    crow = _rows(html, 1)
    assert all(_close(x[1], e) for x, e in zip(crow, B["categories"]["mean_pct"]))
    bot = B["bottom"]
    for uid in bot["unit_id"].unique():
        assert nm("unit", uid) in text
    assert all(_close(x[3], e) for x, e in zip(_rows(html, 2), bot["behind"]))


def test_chapter_02_item_tables_follow_grade_map(small):
    ui = small.record["tables"]["h_unit_items"]
    s = small.scores.loc[(small.scores["year"] == YEAR) & (small.scores["period"] == "Y") & (small.scores["status"] == "ok")]
    g = s.merge(small.items[["year", "item_id", "max_points", "method"]], on=["year", "item_id"]).query("method == 'grade'")
    assert len(g) and set(g["grade"]) <= set(GRADE_MAP)
    # every graded cell: GRADE_MAP[grade] × max_points (较好 → 0.5 × max, not the default 0.8 × max)
    got = ui.set_index(["unit_id", "item_id"])["points"]
    want = g.set_index(["unit_id", "item_id"]).apply(lambda x: GRADE_MAP[x["grade"]] * x["max_points"], axis=1)
    assert np.allclose(got.loc[want.index].to_numpy(float), want.to_numpy(float))
    assert (g["grade"] != "好").any()  # so at least one cell differs from the stored (default-map) points
    assert not np.allclose(got.loc[want.index].to_numpy(float), g.set_index(["unit_id", "item_id"])["points"].to_numpy(float))


def test_a_missing_record_table_is_one_line_naming_chapter_and_key(small, tmp_path):
    from pipeline.errors import PipelineError

    rec = {**small.record, "tables": {k: v for k, v in small.record["tables"].items() if k != "h_bulletin_bottom"}}
    with pytest.raises(PipelineError, match=r"chapter 02-horizontal record has no table 'h_bulletin_bottom'"):
        rpages.write_bulletin(small.data, rec, YEAR, small.prm, tmp_path / "b.html", write=False, pdf=False)
    rec = {**small.record, "tables": {k: v for k, v in small.record["tables"].items() if k != "h_unit_gaps"}}
    with pytest.raises(PipelineError, match=r"chapter 02-horizontal record has no table 'h_unit_gaps'"):
        rpages.write_unit_pages(small.data, rec, YEAR, small.prm, None, tmp_path / "u", write=False)
