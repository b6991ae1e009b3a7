"""Cleaning: one test per case of SPEC §2.1 and per error of SPEC §2.2.

Expected values come from the hand-built workbooks of ``tests/wbfactory.py``: the clean values
are written there by hand (``CLEAN_POINTS``), grade points by hand computation
(好 1.0 / 较好 0.8 / 一般 0.6 × the item maximum 20 → 20 / 16 / 12).
"""

from __future__ import annotations

import hashlib
import shutil
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import wbfactory as wb  # noqa: E402

from pipeline import clean  # noqa: E402
from pipeline import io as pio  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402
from langs import in_lang  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run(tmp_path, **kw):
    out = tmp_path / "out"
    res = clean.run(tmp_path / "raw", out, progress=False, **kw)
    return res, out


def annual(out) -> pd.DataFrame:
    s = pio.read_table(out, "scores")
    return s.loc[s["period"] == "Y"]


def points_by_unit(out) -> dict:
    s = annual(out).sort_values(["unit_id", "item_id"])
    return {u: g["points"].tolist() for u, g in s.groupby("unit_id")}


def log(out) -> pd.DataFrame:
    return pd.read_csv(out / "cleaning_log.csv", keep_default_na=False, dtype=str)


def quarantine(out) -> pd.DataFrame:
    return pd.read_csv(out / "quarantine.csv", keep_default_na=False, dtype=str)


def assert_clean_points(out, expected=None):
    got = points_by_unit(out)
    exp = expected or wb.CLEAN_POINTS
    assert set(got) == set(exp)
    for u in exp:
        np.testing.assert_allclose(got[u], exp[u], err_msg=u)


# ----------------------------------------------------------------------------- §2.1 cases
def test_baseline_values_and_sources(tmp_path):
    wb.write_year(tmp_path / "raw")
    res, out = run(tmp_path)
    assert_clean_points(out)
    assert res["cells"] == 16 and res["quarantined"] == 0
    s = annual(out)
    # header on row 2 (one title row), first unit on row 3; 序号 in A, unit in B, I01 in C
    src = s.loc[(s["unit_id"] == "U001") & (s["item_id"] == "I01"), "source"].item()
    assert src == "2015/2015年度考评汇总表.xlsx!汇总!C3"
    t = pio.read_table(out, "totals").set_index("unit_id")
    # hand sum: 35.5 + 28 + 20 + 9 = 92.5; 40 + 30 + 20 + 7 = 97 → rank 1
    assert t.loc["U001", "total"] == pytest.approx(92.5)
    assert t.loc["U006", "rank"] == 1 and t.loc["U006", "total"] == pytest.approx(97.0)
    # 30 + 25.5 + 16 + 8.5 = 80 = 38 + 20 + 12 + 10 → tie at rank 3 (competition ranking)
    assert t.loc["U002", "rank"] == 3 and t.loc["U004", "rank"] == 3


@pytest.mark.parametrize("title_rows", [1, 2, 3])
def test_case1_title_rows_and_merged_cells(tmp_path, title_rows):
    wb.write_year(tmp_path / "raw", title_rows=title_rows, offset=(0, 1))
    _, out = run(tmp_path)
    assert_clean_points(out)
    s = annual(out)
    # the grid starts in column B: 序号 B, unit C, I01 D; data starts below header + titles
    src = s.loc[(s["unit_id"] == "U001") & (s["item_id"] == "I01"), "source"].item()
    assert src.endswith(f"!D{title_rows + 2}")


def test_case2_two_level_headers_brackets_line_breaks(tmp_path):
    labels = ["三会一课（40分）", "理论\n学习 (30)", "作 风　建 设【20】", "专项任务\n（10 分）"]
    wb.write_year(tmp_path / "raw", two_level=True, item_labels=labels, title_rows=2)
    _, out = run(tmp_path)
    assert_clean_points(out)
    s = annual(out)
    src = s.loc[(s["unit_id"] == "U001") & (s["item_id"] == "I01"), "source"].item()
    assert src.endswith("!C5")  # two title rows + two header rows


def test_case2_bracket_max_must_agree(tmp_path):
    labels = ["三会一课（40分）", "理论学习(25)", "作风建设", "专项任务"]
    wb.write_year(tmp_path / "raw", item_labels=labels)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    msg = str(e.value)
    assert "2015年度考评汇总表.xlsx!汇总!D2" in msg and "25" in msg and "30" in msg


@pytest.mark.parametrize("header", ["单位", "单位名称", "党组织名称", "机关党组织", "单 位 名 称"])
@pytest.mark.parametrize("seq", [True, False])
def test_case3_unit_column_headers(tmp_path, header, seq):
    wb.write_year(tmp_path / "raw", unit_header=header, seq=seq)
    _, out = run(tmp_path)
    assert_clean_points(out)


def test_case4_unit_name_variants_and_validity(tmp_path):
    values = {
        "市 财政局": [35.5, 28, "好", 9],  # ASCII space
        "市教委": [30, 25.5, "较好", 8.5],  # alias
        "市人力资源和社会保障局(市编办)": [38, 20, "一般", 10],  # half-width brackets
        "公安局": [40, 30, "好", 7],  # missing 市
        "市卫生局": [20, 20, "好", 5],  # old name: U003 until 2013, alias of U005 from 2014
    }
    raw = tmp_path / "raw"
    wb.write_year(raw, 2013, values=values)
    v15 = dict(values)
    v15["市　财政局"] = v15.pop("市 财政局")  # U+3000 ideographic space
    wb.write_year(raw, 2015, values=v15)
    _, out = run(tmp_path)
    s = annual(out)
    ids13 = set(s.loc[s["year"] == 2013, "unit_id"])
    ids15 = set(s.loc[s["year"] == 2015, "unit_id"])
    assert ids13 == {"U001", "U002", "U003", "U004", "U006"}
    assert ids15 == {"U001", "U002", "U004", "U005", "U006"}
    lg = log(out)
    rules = dict(zip(lg["original"], lg["rule"]))
    assert rules["市教委"] == "unit_alias"
    assert rules["公安局"] == "unit_city_prefix"
    assert rules["市 财政局"] == "unit_normalised" and rules["市　财政局"] == "unit_normalised"
    assert rules["市人力资源和社会保障局(市编办)"] == "unit_normalised"


def test_case5_numbers_as_text(tmp_path):
    values = dict(wb.CLEAN_VALUES)
    values["市财政局"] = ["３５．５", "28分", "好", " 9 "]
    values["市教育局"] = ["30", "２５.５ 分", "较好", "8.5"]
    wb.write_year(tmp_path / "raw", values=values)
    _, out = run(tmp_path)
    assert_clean_points(out)
    lg = log(out).set_index("original")
    assert lg.loc["３５．５", "new"] == "35.5" and "fullwidth" in lg.loc["３５．５", "rule"]
    assert "suffix_分" in lg.loc["28分", "rule"]
    assert "spaces" in lg.loc[" 9 ", "rule"]
    assert lg.loc["30", "rule"] == "text_number"
    assert lg.loc["３５．５", "cell"] == "C3" and lg.loc["３５．５", "sheet"] == "汇总"


def test_case6_grades_with_spaces(tmp_path):
    values = dict(wb.CLEAN_VALUES)
    values["市财政局"] = [35.5, 28, " 好 ", 9]
    values["市教育局"] = [30, 25.5, "较　好", 8.5]
    wb.write_year(tmp_path / "raw", values=values)
    _, out = run(tmp_path)
    assert_clean_points(out)
    s = annual(out)
    g = s.loc[s["item_id"] == "I03"].set_index("unit_id")["grade"]
    assert g.to_dict() == {"U001": "好", "U002": "较好", "U004": "一般", "U006": "好"}


@pytest.mark.parametrize("token", ["/", "—", "-", "无", "不适用", "／", "－"])
def test_case7_na_tokens_distinct_from_empty(tmp_path, token):
    values = dict(wb.CLEAN_VALUES)
    values["市财政局"] = [35.5, token, "好", 9]
    values["市教育局"] = [30, None, "较好", 8.5]
    wb.write_year(tmp_path / "raw", values=values)
    _, out = run(tmp_path)
    s = annual(out).set_index(["unit_id", "item_id"])
    assert s.loc[("U001", "I02"), "status"] == "na" and np.isnan(s.loc[("U001", "I02"), "points"])
    assert s.loc[("U002", "I02"), "status"] == "missing" and np.isnan(s.loc[("U002", "I02"), "points"])
    t = pio.read_table(out, "totals").set_index("unit_id")
    # prorate (hand): earned 35.5 + 20 + 9 = 64.5 of applicable 70 → 64.5 / 70 × 100
    assert t.loc["U001", "total"] == pytest.approx(64.5 / 70 * 100)
    # missing earns 0 under every policy: 30 + 16 + 8.5 = 54.5
    assert t.loc["U002", "total"] == pytest.approx(54.5)
    rules = set(log(out)["rule"])
    assert any(r.startswith("na_token") for r in rules) and "empty_missing" in rules


def test_case8_trailing_rows_skipped_and_logged(tmp_path):
    wb.write_year(tmp_path / "raw", trailer=True)
    _, out = run(tmp_path)
    assert_clean_points(out)
    lg = log(out)
    assert (lg["rule"] == "blank_row_skipped").sum() == 1
    skipped = lg.loc[lg["rule"] == "trailer_row_skipped", "original"].tolist()
    assert len(skipped) == 4 and any(x.startswith("注") for x in skipped) and any(x.startswith("制表人") for x in skipped)


def test_case9_given_totals_kept_never_trusted(tmp_path):
    given = {"市财政局": (99.0, 1, "自报"), "市公安局": ("９７分", "第2名", None)}
    wb.write_year(tmp_path / "raw", given=given)
    _, out = run(tmp_path)
    g = pio.read_table(out, "given").set_index("unit_id")
    assert g.loc["U001", "given_total"] == 99.0 and g.loc["U001", "given_rank"] == 1 and g.loc["U001", "note"] == "自报"
    assert g.loc["U006", "given_total"] == 97.0 and g.loc["U006", "given_rank"] == 2
    t = pio.read_table(out, "totals").set_index("unit_id")
    assert t.loc["U001", "total"] == pytest.approx(92.5)  # recomputed, not the given 99
    assert t.loc["U006", "rank"] == 1  # recomputed, not the given 2


def test_case10_summary_sheet_named_or_first(tmp_path):
    junk = [["说明"], ["本表为草稿"]]
    wb.write_year(tmp_path / "raw", sheet="汇总", extra_sheets={"说明": junk, "__main__": None, "草稿": junk})
    _, out = run(tmp_path)
    assert_clean_points(out)
    ignored = log(out).query("rule == 'sheet_ignored'")["sheet"].tolist()
    assert sorted(ignored) == ["草稿", "说明"]


def test_case10_first_sheet_when_no_huizong(tmp_path):
    junk = [["单位名称", "三会一课"], ["市财政局", 1]]
    wb.write_year(tmp_path / "raw", sheet="Sheet1", extra_sheets={"__main__": None, "旧版": junk})
    _, out = run(tmp_path)
    assert_clean_points(out)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings(tmp_path, encoding):
    raw = tmp_path / "raw"
    wb.write_registry(raw, encoding=encoding)
    wb.write_items(raw / "2015" / "考评项目一览表.csv", encoding=encoding)
    wb.write_summary(raw / "2015" / "考评汇总表.csv", encoding=encoding, two_level=True, trailer=True)
    _, out = run(tmp_path)
    assert_clean_points(out)
    src = annual(out)["source"].iloc[0]
    assert src.startswith("2015/考评汇总表.csv!考评汇总表!")


def test_monthly_review_weak_and_sources_yaml(tmp_path):
    raw = tmp_path / "raw"
    folder = raw / "2015"
    wb.write_registry(raw)
    wb.write_items(folder / "附件1.xlsx")
    wb.write_summary(folder / "附件2.xlsx")
    months = {m: {"市财政局": [3, 2.5, 1], "公安局": ["４", "2分", "/"]} for m in (1, 2, 12)}
    wb.write_monthly(folder / "附件3.xlsx", months, sheet_names={12: "十二月"})
    wb.write_rows(folder / "附件4.xlsx", [["2015年度述职评议结果"], ["序号", "单位名称", "核实调整分", "说明"], [1, "市财政局", -1.5, "台账不全"], [2, "市教育局", "+0.5", ""]])
    wb.write_rows(folder / "附件5.xlsx", [["单位", "整顿状态"], ["市公安局", "整顿中"], ["市教育局", "已整顿 "]])
    (folder / "sources.yaml").write_text("items: 附件1.xlsx\nsummary: 附件2.xlsx\nmonthly: 附件3.xlsx\nreview: 附件4.xlsx\nweak_orgs: 附件5.xlsx\n", encoding="utf-8")
    _, out = run(tmp_path)
    s = pio.read_table(out, "scores")
    mon = s.loc[s["period"] != "Y"]
    assert sorted(mon["period"].unique(), key=int) == ["1", "2", "12"]
    assert set(mon["item_id"]) == {"I01", "I02", "I04"}  # 计分 items only
    u6 = mon.loc[(mon["unit_id"] == "U006") & (mon["period"] == "12")].set_index("item_id")
    assert u6.loc["I01", "points"] == 4 and u6.loc["I02", "points"] == 2 and u6.loc["I04", "status"] == "na"
    adj = pio.read_table(out, "adjustments").set_index("unit_id")
    assert adj.loc["U001", "adjustment"] == -1.5 and adj.loc["U002", "adjustment"] == 0.5
    assert adj.loc["U001", "note"] == "台账不全"
    assert adj["self_total"].isna().all()  # no 自评分 column in this file: NA, not 0
    t = pio.read_table(out, "totals").set_index("unit_id")
    assert t.loc["U001", "total"] == pytest.approx(92.5 - 1.5)
    weak = pio.read_table(out, "weak_orgs").set_index("unit_id")["status"].to_dict()
    assert weak == {"U006": "rectifying", "U002": "rectified"}


def test_review_self_assessed_total(tmp_path):
    # 述职评议 with a 自评分 column: kept as self_total (full-width digits and 分 suffix parsed and logged)
    raw = tmp_path / "raw"
    folder = raw / "2015"
    wb.write_registry(raw)
    wb.write_items(folder / "考评项目一览表.xlsx")
    wb.write_summary(folder / "考评汇总表.xlsx")
    wb.write_rows(folder / "述职评议.xlsx", [["单位名称", "自评分", "核实调整分", "说明"], ["市财政局", "９６.５分", -1.5, ""],
                                          ["市教育局", 90, 0.5, ""], ["市公安局", "", 0, ""]])
    _, out = run(tmp_path)
    adj = pio.read_table(out, "adjustments").set_index("unit_id")
    assert adj.loc["U001", "self_total"] == 96.5 and adj.loc["U002", "self_total"] == 90.0
    assert np.isnan(adj.loc["U006", "self_total"])  # empty cell: missing, not zero
    log = pd.read_csv(out / "cleaning_log.csv", encoding="utf-8-sig", dtype=str)
    assert (log["original"] == "９６.５分").any()


def test_review_bad_self_assessed_total_is_quarantined(tmp_path):
    raw = tmp_path / "raw"
    folder = raw / "2015"
    wb.write_registry(raw)
    wb.write_items(folder / "考评项目一览表.xlsx")
    wb.write_summary(folder / "考评汇总表.xlsx")
    wb.write_rows(folder / "述职评议.xlsx", [["单位名称", "自评分", "核实调整分"], ["市财政局", "很好", -1.5]])
    with pytest.raises(PipelineError) as err:
        run(tmp_path)
    assert "述职评议.xlsx" in str(err.value) and "B2" in str(err.value)


def test_discovery_by_keywords_and_content(tmp_path):
    raw = tmp_path / "raw"
    folder = raw / "2015"
    wb.write_registry(raw)
    wb.write_items(folder / "附表A.xlsx")  # name says nothing → content (考评项目 + 分值)
    wb.write_summary(folder / "2015年 考评 汇总.xlsx")
    (folder / "说明.txt").write_text("readme", encoding="utf-8")
    _, out = run(tmp_path)
    assert_clean_points(out)
    assert "file_ignored" in set(log(out)["rule"])


def test_raw_folder_never_written(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw, trailer=True)

    def snapshot():
        return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in raw.rglob("*") if p.is_file()}

    before = snapshot()
    run(tmp_path)
    assert snapshot() == before
    with pytest.raises(PipelineError, match="inside the raw folder"):
        clean.run(raw, raw / "processed", progress=False)


def test_stopped_run_leaves_previous_tables(tmp_path):
    # scores are streamed year by year into temporary files: a problem found in a later year
    # (2015, after 2013 was written) must leave the previous tables untouched and no temp file
    raw = tmp_path / "raw"
    wb.write_year(raw, year=2013)
    wb.write_year(raw, year=2015)
    res, out = run(tmp_path)
    assert res["scores"] == 32  # 2 years × 4 units × 4 items
    # (the .cache folder of kept file reads is not a table)
    tables = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and (p.suffix == ".parquet" or p.stem not in ("cleaning_log", "quarantine"))}
    bad = dict(wb.CLEAN_VALUES)
    bad["市财政局"] = [45, 28, "好", 9]  # above the maximum 40 of I01
    wb.write_summary(raw / "2015" / "2015年度考评汇总表.xlsx", bad)
    with pytest.raises(PipelineError, match="45"):
        run(tmp_path)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name in tables} == tables
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
    assert quarantine(out)["cell"].tolist() == ["C3"]  # the side files do record the stop


def test_duplicate_identical_row_is_logged_not_error(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    rows, _ = wb.summary_rows()
    rows.append([9, "市 财政局", 35.5, 28, "好", 9])
    wb.write_rows(raw / "2015" / "2015年度考评汇总表.xlsx", rows, sheet="汇总")
    _, out = run(tmp_path)
    assert_clean_points(out)
    assert log(out)["rule"].str.startswith("duplicate_row_dropped").sum() == 1


# ----------------------------------------------------------------------------- §2.2 errors
def _bad_value(tmp_path, unit, j, value):
    values = {k: list(v) for k, v in wb.CLEAN_VALUES.items()}
    values[unit][j] = value
    wb.write_year(tmp_path / "raw", values=values)


@pytest.mark.parametrize(
    "unit,j,value,cell,words",
    [
        ("市财政局", 0, -1, "C3", "outside 0–40"),  # points below 0
        ("市教育局", 1, 30.5, "D4", "outside 0–30"),  # above the item max
        ("市教育局", 1, "３１分", "D4", "outside 0–30"),  # above max after conversion
        ("市公安局", 2, "优秀", "E6", "unknown grade"),  # unknown grade
        ("市公安局", 3, "abc", "F6", "cannot read"),  # garbage
        ("市财政局", 0, "好", "C3", "item scored in points"),  # grade in a points item
    ],
)
def test_error_bad_values_name_file_sheet_cell(tmp_path, unit, j, value, cell, words):
    _bad_value(tmp_path, unit, j, value)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    msg = str(e.value)
    assert f"2015/2015年度考评汇总表.xlsx!汇总!{cell}" in msg and words in msg
    assert "\n" not in msg
    q = quarantine(tmp_path / "out")
    assert q[["sheet", "cell"]].values.tolist() == [["汇总", cell]]
    assert not (tmp_path / "out" / "scores.parquet").exists()


def test_allow_quarantine_continues_without_bad_values(tmp_path):
    _bad_value(tmp_path, "市教育局", 1, 31)
    res, out = run(tmp_path, allow_quarantine=True)
    assert res["quarantined"] == 1
    s = annual(out)
    assert s.loc[s["unit_id"] == "U002", "item_id"].tolist() == ["I01", "I03", "I04"]
    q = quarantine(out)
    assert q.loc[0, "value"] == "31" and q.loc[0, "cell"] == "D4"


def test_error_unknown_unit_suggests_names(tmp_path):
    values = dict(wb.CLEAN_VALUES)
    values["市财政厅"] = values.pop("市财政局")
    wb.write_year(tmp_path / "raw", values=values)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    msg = str(e.value)
    assert "汇总!B6" in msg and "unknown unit '市财政厅'" in msg and "did you mean '市财政局'" in msg


def test_error_unit_not_valid_that_year(tmp_path):
    values = dict(wb.CLEAN_VALUES)
    values["市卫生和计划生育委员会"] = [1, 1, "好", 1]  # valid only from 2014
    wb.write_year(tmp_path / "raw", 2012, values=values)
    with pytest.raises(PipelineError, match=r"not valid in 2012: registry has U005"):
        run(tmp_path)


def test_error_same_unit_twice_with_different_values(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    rows, _ = wb.summary_rows()
    rows.append([9, "财政局机关", 35.5, 27, "好", 9])  # alias of U001, I02 differs (D7 vs D3)
    wb.write_rows(raw / "2015" / "2015年度考评汇总表.xlsx", rows, sheet="汇总")
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    # the unit as written in the workbook (both spellings), not only its id
    assert "unit '市财政局' and '财政局机关' (both U001) appear twice with different values" in str(e.value)
    assert "D3" in str(e.value) and "D7" in str(e.value)


def test_error_same_spelling_twice_names_the_unit(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    rows, _ = wb.summary_rows()
    rows.append([9, "市财政局", 35.5, 27, "好", 9])
    wb.write_rows(raw / "2015" / "2015年度考评汇总表.xlsx", rows, sheet="汇总")
    with pytest.raises(PipelineError, match=r"unit '市财政局' \(U001\) appears twice with different values \(D3 vs D7\)"):
        run(tmp_path)


def test_formula_without_cached_value_is_reported_with_its_cell(tmp_path):
    # openpyxl writes "=…" as a formula and stores no calculated value (as a script or an
    # export with calculation off would): the cleaner must say so, not read an empty score
    _bad_value(tmp_path, "市教育局", 1, "=25+0.5")
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    msg = str(e.value)
    assert "2015/2015年度考评汇总表.xlsx!汇总!D4" in msg and "formula =25+0.5 has no cached value" in msg
    q = quarantine(tmp_path / "out")
    assert q[["sheet", "cell"]].values.tolist() == [["汇总", "D4"]]
    res, out = run(tmp_path, allow_quarantine=True)  # the formula is quarantined, never a silent "missing"
    s = annual(out)
    assert "I02" not in s.loc[s["unit_id"] == "U002", "item_id"].tolist()


def test_formula_with_cached_value_reads_the_value(tmp_path):
    from pipeline import load

    p = tmp_path / "f.xlsx"
    wb.write_rows(p, [["a", "b", "c"], [1, 2, "=A2+B2"]], sheet="S")
    assert load.uncached_formulas(p) == {"S": [(1, 2, "A2+B2")]}
    # the same cell with a cached value (as Excel saves it): not reported, value read
    import zipfile

    q = tmp_path / "g.xlsx"
    with zipfile.ZipFile(p) as zin, zipfile.ZipFile(q, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(b"<f>A2+B2</f><v />", b"<f>A2+B2</f><v>3</v>").replace(b"<f>A2+B2</f><v></v>", b"<f>A2+B2</f><v>3</v>")
            zout.writestr(item, data)
    assert load.uncached_formulas(q) == {}
    assert load.read_sheets(q)[0].cells[1, 2] == 3


def test_error_item_column_matching_no_item(tmp_path):
    labels = ["三会一课", "理论学习", "作风建设", "专项工作任务X"]
    wb.write_year(tmp_path / "raw", item_labels=labels)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    msg = str(e.value)
    assert "汇总!F2" in msg and "matches no item of the 2015 item list" in msg


def test_error_corrupt_workbook(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    (raw / "2015" / "2015年度考评汇总表.xlsx").write_bytes(b"PK\x03\x04 this is not really a zip" * 10)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    assert "2015/2015年度考评汇总表.xlsx" in str(e.value) and "cannot read the workbook" in str(e.value)


def test_error_undecodable_csv(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    (raw / "2015" / "2015年度考评汇总表.xlsx").unlink()
    (raw / "2015" / "考评汇总表.csv").write_bytes(bytes([0x81, 0x30, 0xFF, 0xFE, 0x80]) * 20)
    with pytest.raises(PipelineError, match="cannot decode the file as UTF-8, UTF-8-BOM, GBK or GB18030"):
        run(tmp_path)


def test_error_missing_registry(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    (raw / "units.csv").unlink()
    with pytest.raises(PipelineError, match="units.csv: unit registry not found"):
        run(tmp_path)
    assert len(quarantine(tmp_path / "out")) == 1


def test_error_maxima_not_summing_to_100(tmp_path):
    raw = tmp_path / "raw"
    wb.write_year(raw)
    items = [list(r) for r in wb.ITEMS]
    items[3][4] = 8
    wb.write_items(raw / "2015" / "2015年考评项目一览表.xlsx", items=items)
    with pytest.raises(PipelineError) as e:
        run(tmp_path)
    assert "2015年考评项目一览表.xlsx!一览表!E2" in str(e.value) and "sum to 98, not 100" in str(e.value)


def test_all_problems_collected_before_stopping(tmp_path):
    values = {k: list(v) for k, v in wb.CLEAN_VALUES.items()}
    values["市财政局"][0] = 41
    values["市公安局"][2] = "优"
    values["市教育厅"] = values.pop("市教育局")
    wb.write_year(tmp_path / "raw", values=values)
    with pytest.raises(PipelineError, match=r"\+2 more problem"):
        run(tmp_path)
    q = quarantine(tmp_path / "out")
    # 市教育厅 moved to the last data row (6); 市公安局 is then on row 5
    assert sorted(q["cell"]) == ["B6", "C3", "E5"]


def test_cli_exit_code_and_one_line(tmp_path):
    _bad_value(tmp_path, "市公安局", 2, "优秀")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "clean", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120,
    )
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2015/2015年度考评汇总表.xlsx!汇总!E6" in lines[0] and "unknown grade" in lines[0]


def test_summarise_log_counts_and_texts(tmp_path):
    values = dict(wb.CLEAN_VALUES)
    values["市财政局"] = ["３５．５", "28分", "好", " 9 "]
    wb.write_year(tmp_path / "raw", values=values)
    _, out = run(tmp_path)
    summ = in_lang("en", clean.summarise_log, log(out)).set_index("rule")
    # hand count: 3 text numbers (３５．５, 28分, " 9 "); 4 grades (one per unit)
    assert summ.loc["text_number", "count"] == 3
    assert summ.loc["grade_mapped", "count"] == 4
    assert summ.loc["fullwidth", "count"] == 1 and summ.loc["suffix_分", "count"] == 1
    assert summ.loc["suffix_分", "description"] == "“分” (points) suffix removed"
    zh = in_lang("zh", clean.summarise_log, log(out)).set_index("rule")
    assert zh.loc["grade_mapped", "description"].startswith("评档")


def test_other_committee_layout(tmp_path):
    """Another committee's layout: reordered item-list columns, a 单位：分 subtitle, a 满分 row,
    category subtotal columns, no 序号, item columns in a different order."""
    raw = tmp_path / "raw"
    wb.write_registry(raw)
    folder = raw / "2015"
    items = [["考评项目及分值一览"], ["项目名称", "分值（分）", "计分方式", "所属类别", "对应维度", "编号"]]
    items += [[n, mx, m, c, d, i] for i, n, c, d, mx, m in wb.ITEMS]
    wb.write_rows(folder / "一览表.xlsx", items)
    rows = [
        ["2015年度党建考评得分汇总"],
        [None, None, None, None, None, None, "单位：分"],
        ["党组织名称", "专项任务", "三会一课", "基层组织小计", "理论学习", "作风建设", "总分"],
        ["满分", 10, 40, 40, 30, 20, 100],
    ]
    for name, (a, b, g, d) in wb.CLEAN_VALUES.items():
        rows.append([name, d, a, a, b, g, None])
    rows.append(["合计", None, None, None, None, None, None])
    wb.write_rows(folder / "考评汇总.xlsx", rows, sheet="Sheet1")
    _, out = run(tmp_path)
    assert_clean_points(out)
    rules = set(log(out)["rule"])
    assert {"max_row_skipped", "subtotal_column_ignored", "trailer_row_skipped"} <= rules


# ----------------------------------------------------------------------------- legacy .xls
def _write_year_as(raw: Path, ext: str, values: dict, **kw) -> None:
    wb.write_registry(raw)
    folder = raw / "2015"
    wb.write_items(folder / f"2015年考评项目一览表.{ext}", title_rows=1)
    wb.write_summary(folder / f"2015年度考评汇总表.{ext}", values, **kw)


def test_xls_cleans_like_xlsx(tmp_path):
    """SPEC §2: legacy .xls workbooks (BIFF8, written here by xlwt) clean to the same tables as .xlsx."""
    pytest.importorskip("xlwt", reason="xlwt (dev extra) writes the .xls test files")
    values = dict(wb.CLEAN_VALUES)
    values["市财政局"] = ["３５．５", "28分", " 好 ", 9]  # text numbers, full-width digits, a grade with spaces
    values["市教育局"] = [30, "／", "较好", "8.5"]  # an NA mark
    given = {"市财政局": (99.0, 1, "自报")}
    kw = dict(title_rows=2, two_level=True, given=given, trailer=True)  # title rows, merged category header
    outs = {}
    for ext in ("xlsx", "xls"):
        raw = tmp_path / ext / "raw"
        _write_year_as(raw, ext, values, **kw)
        outs[ext] = tmp_path / ext / "out"
        clean.run(raw, outs[ext], progress=False)
    xls_file = tmp_path / "xls" / "raw" / "2015" / "2015年度考评汇总表.xls"
    assert xls_file.read_bytes()[:4] == bytes.fromhex("D0CF11E0")  # really a BIFF/OLE2 file
    # the expected values by hand (wbfactory.CLEAN_POINTS; 较好 = 0.8 × 20 = 16; "／" = NA)
    s = annual(outs["xls"]).set_index(["unit_id", "item_id"])
    assert s.loc[("U001", "I01"), "points"] == 35.5 and s.loc[("U001", "I02"), "points"] == 28.0
    assert s.loc[("U001", "I03"), "points"] == 20.0 and s.loc[("U001", "I03"), "grade"] == "好"
    assert s.loc[("U002", "I02"), "status"] == "na" and np.isnan(s.loc[("U002", "I02"), "points"])
    assert s.loc[("U002", "I03"), "points"] == 16.0
    # every table equal, up to the file name (".xlsx" → ".xls") inside `source`
    for name in ("items", "units", "scores", "totals", "adjustments", "weak_orgs", "given"):
        a, b = pio.read_table(outs["xlsx"], name), pio.read_table(outs["xls"], name)
        if "source" in a:
            a["source"] = a["source"].str.replace(".xlsx!", ".xls!", regex=False)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=name)
    la, lb = log(outs["xlsx"]), log(outs["xls"])
    la["file"] = la["file"].str.replace(".xlsx", ".xls", regex=False)
    pd.testing.assert_frame_equal(la, lb, obj="cleaning_log")
    assert len(quarantine(outs["xls"])) == 0
    # the given 总分 of the two-level header is read from the .xls too
    assert pio.read_table(outs["xls"], "given").set_index("unit_id").loc["U001", "given_total"] == 99.0


def test_scores_validated_in_chunks_of_whole_periods(tmp_path, monkeypatch):
    """The scores of a year are validated in chunks of whole periods (``_VALIDATE_ROWS``): the
    tables written do not depend on the chunk size, and each chunk holds whole periods only.
    Expected: the run with one period per chunk (the rule before the chunking), byte for byte."""
    from pipeline import config, schemas, synth
    from pipeline.clean import runner

    raw = tmp_path / "raw"
    synth.write_world(raw, tmp_path / "truth", seed=config.SEED, n_units=20, years=(2016, 2016), monthly_years=[2016])
    seen: list[tuple[int, int]] = []
    real = schemas.validate

    def spy(df, name, *a, **kw):
        if name == "scores" and len(df):
            periods = df["period"].astype(str)
            seen.append((len(df), periods.nunique()))
        return real(df, name, *a, **kw)

    monkeypatch.setattr(runner.schemas, "validate", spy)
    outs = {}
    for limit in (1, 800, 10**9):
        monkeypatch.setattr(runner, "_VALIDATE_ROWS", limit)
        seen.clear()
        clean.run(raw, tmp_path / f"out{limit}", progress=False)
        outs[limit] = dict(seen=list(seen), files={f: (tmp_path / f"out{limit}" / f).read_bytes() for f in ("scores.csv", "totals.csv", "cleaning_log.csv")})
    per_period = outs[1]["seen"]
    assert len(per_period) == 13 and all(k == 1 for _, k in per_period)  # 12 months + the annual sheet
    assert len(outs[10**9]["seen"]) == 1 and outs[10**9]["seen"][0][1] == 13
    rows = per_period[0][0]  # 20 units × the items of a period
    mid = outs[800]["seen"]
    assert 1 < len(mid) < 13 and all(n <= max(800, rows) for n, _ in mid)
    assert sum(n for n, _ in mid) == sum(n for n, _ in per_period)
    for limit in (800, 10**9):
        assert outs[limit]["files"] == outs[1]["files"]


def test_unchanged_files_are_not_read_again(tmp_path, monkeypatch):
    """``clean`` keeps what each file gave (:mod:`pipeline.clean.reuse`): a second run reads no
    file and writes byte-identical tables, log and quarantine; a changed workbook, and only it,
    is read again and its change reaches the tables; a year taken away leaves no kept entry.
    Expected: a run with ``reuse_files=False`` (every file read) on the same raw folder."""
    import openpyxl

    from pipeline import config, synth
    from pipeline.clean import remote, reuse

    raw = tmp_path / "raw"
    synth.write_world(raw, tmp_path / "truth", seed=config.SEED, n_units=15, years=(2015, 2016), monthly_years=[2016], messy=False)
    reads: list[str] = []
    real_items, real_data = remote._items_file, remote._data_file  # the readers a file task calls
    monkeypatch.setattr(remote, "_items_file", lambda path, *a: reads.append(path.name) or real_items(path, *a))
    monkeypatch.setattr(remote, "_data_file", lambda role, path, *a: reads.append(path.name) or real_data(role, path, *a))
    files = ("scores.csv", "totals.csv", "items.csv", "cleaning_log.csv", "quarantine.csv", "given.csv")

    def outputs(d):
        return {f: (d / f).read_bytes() for f in files}

    def fresh(name):  # every file read, nothing kept
        clean.run(raw, tmp_path / name, progress=False, reuse_files=False)
        return outputs(tmp_path / name)

    out = tmp_path / "out"
    clean.run(raw, out, progress=False)
    n_files = len(reads)
    assert n_files >= 4 and outputs(out) == fresh("ref1")
    reads.clear()
    clean.run(raw, out, progress=False)
    assert reads == [] and outputs(out) == fresh("ref2")
    with monkeypatch.context() as mp:  # another version of a reading library: every file is read again
        mp.setattr(reuse.provenance, "versions", lambda: {"python": "3.11.7", "openpyxl": "0.0"})
        reads.clear()
        clean.run(raw, out, progress=False)
        assert len(reads) == n_files and outputs(out) == fresh("ref2b")
    clean.run(raw, out, progress=False)  # (back to this version's kept reads)
    # change one cell of 2016's annual summary: that file alone is read again
    summary = raw / "2016" / "考评汇总表.xlsx"  # the annual summary: unit name in column B, item I01 in column C
    wb = openpyxl.load_workbook(summary)
    ws = wb.worksheets[0]
    cell = next(c for c in ws["C"] if isinstance(c.value, (int, float)) and c.value >= 0.2)
    cell.value = round(cell.value - 0.1, 1)  # one unit's I01 score, 0.1 point less
    wb.save(summary)
    before = (out / "scores.csv").read_bytes()
    reads.clear()
    clean.run(raw, out, progress=False)
    assert reads == [summary.name]
    assert (out / "scores.csv").read_bytes() != before and outputs(out) == fresh("ref3")
    # a year taken away: its kept reads are dropped by the next run over every year
    shutil.rmtree(raw / "2016")
    kept = tmp_path / "out" / ".cache" / "clean-files"
    n_before = len(list(kept.glob("*.pkl")))
    clean.run(raw, out, progress=False)
    assert 0 < len(list(kept.glob("*.pkl"))) < n_before
    assert outputs(out) == fresh("ref4")
