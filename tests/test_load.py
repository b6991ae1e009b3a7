"""Reading raw files into cell grids: references, encodings, merges, discovery."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import wbfactory as wb  # noqa: E402

from pipeline import load  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402


@pytest.mark.parametrize("col,letters", [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")])
def test_col_letter(col, letters):
    # Excel's own column naming (A…Z, AA…ZZ, AAA): bijective base 26
    assert load.col_letter(col) == letters


def test_cell_ref():
    assert load.cell_ref(6, 3) == "D7"


def test_xlsx_keeps_real_coordinates_and_merges(tmp_path):
    rows = [["标题"], ["序号", "单位名称", "三会一课"], [1, "市财政局", "３５"]]
    path = wb.write_rows(tmp_path / "a.xlsx", rows, sheet="汇总", merges=["C3:E3"], offset=(2, 2))
    (sheet,) = load.read_sheets(path, tmp_path)
    assert sheet.file == "a.xlsx" and sheet.name == "汇总"
    assert (sheet.row0, sheet.col0) == (2, 2)
    assert sheet.cells[0, 0] == "标题" and sheet.ref(0, 0) == "C3"
    assert sheet.cells[2, 2] == "３５"  # text kept as stored
    assert sheet.cells[2, 0] == 1.0 and sheet.where(2, 1) == "a.xlsx!汇总!D5"
    assert sheet.merged == [(2, 2, 2, 4)]  # C3:E3, 0-based inclusive
    assert sheet.local_merges() == [(0, 0, 0, 2)]


def test_xls_keeps_real_coordinates_and_merges(tmp_path):
    # the .xlsx case above, written as a legacy BIFF8 .xls (SPEC §2 allows .xls; python-calamine reads it)
    pytest.importorskip("xlwt", reason="xlwt (dev extra) writes the .xls test files")
    rows = [["标题"], ["序号", "单位名称", "三会一课"], [1, "市财政局", "３５"]]
    path = wb.write_rows(tmp_path / "a.xls", rows, sheet="汇总", merges=["C3:E3"], offset=(2, 2))
    assert path.read_bytes()[:8] == bytes.fromhex("D0CF11E0A1B11AE1")  # an OLE2 compound file, not a zip
    (sheet,) = load.read_sheets(path, tmp_path)
    assert sheet.file == "a.xls" and sheet.name == "汇总"
    assert (sheet.row0, sheet.col0) == (2, 2)
    assert sheet.cells[0, 0] == "标题" and sheet.ref(0, 0) == "C3"
    assert sheet.cells[2, 2] == "３５"  # text kept as stored
    assert sheet.cells[2, 0] == 1.0 and sheet.where(2, 1) == "a.xls!汇总!D5"
    assert sheet.merged == [(2, 2, 2, 4)]  # C3:E3, 0-based inclusive
    assert sheet.local_merges() == [(0, 0, 0, 2)]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_encodings_detected(tmp_path, encoding):
    path = tmp_path / "表.csv"
    path.write_bytes("单位名称,三会一课\n市财政局,35.5\n市教育局, 30 \n".encode(encoding))
    (sheet,) = load.read_sheets(path, tmp_path)
    assert sheet.name == "表"
    assert sheet.cells[0, 0] == "单位名称"
    assert sheet.cells[1, 1] == 35.5  # a plain number becomes a float, as a spreadsheet reads it
    assert sheet.cells[2, 1] == " 30 "  # anything else stays text for the cleaner to log


def test_csv_undecodable_is_one_clear_error(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(bytes([0x81, 0x30, 0xFF, 0xFE, 0x80]) * 10)
    with pytest.raises(PipelineError, match="x.csv: cannot decode"):
        load.read_sheets(path, tmp_path)


def test_csv_binary_is_rejected(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02abc")
    with pytest.raises(PipelineError, match="not a text file"):
        load.read_sheets(path, tmp_path)


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04garbage" * 50])
def test_corrupt_workbook_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(PipelineError) as e:
        load.read_sheets(path, tmp_path)
    assert str(e.value).startswith("bad.xlsx: cannot read the workbook") and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "name,month",
    [("1月", 1), ("01月", 1), ("12月", 12), ("十二月", 12), ("三月", 3), ("2015年3月", 3), (" 5 月 ", 5), ("５月", 5), ("汇总", None), ("13月", None), ("月度", None)],
)
def test_month_of(name, month):
    assert load.month_of(name) == month


@pytest.mark.parametrize(
    "name,role",
    [
        ("2015年度考评项目一览表", "items"),
        ("考评项目-2012", "items"),
        ("2015年度考评汇总表", "summary"),
        ("汇总-2009", "summary"),
        ("2015年月度考评汇总", "monthly"),
        ("2015年度述职评议结果", "review"),
        ("2015年软弱涣散党组织整顿名单", "weak"),
        ("2015年上半年考评情况通报", None),
        ("附件1", None),
    ],
)
def test_role_by_name(name, role):
    assert load.role_by_name(name) == role


def test_discover_sources_yaml_and_ignored(tmp_path):
    folder = tmp_path / "2015"
    folder.mkdir()
    for n in ("附件1.xlsx", "附件2.xlsx", "~$附件2.xlsx", "readme.txt", "2015年度考评汇总表.xlsx"):
        (folder / n).write_bytes(b"x")
    (folder / "sources.yaml").write_text("items: 附件1.xlsx\nsummary: 附件2.xlsx\n", encoding="utf-8")
    found = load.discover(folder, tmp_path)
    assert [p.name for p in found["items"]] == ["附件1.xlsx"]
    assert [p.name for p in found["summary"]] == ["附件2.xlsx"]
    # a second summary by name is ignored because sources.yaml names the summary
    assert sorted(p.name for p in found["ignored"]) == ["2015年度考评汇总表.xlsx", "readme.txt", "~$附件2.xlsx"]


def test_sources_yaml_errors(tmp_path):
    folder = tmp_path / "2015"
    folder.mkdir()
    (folder / "sources.yaml").write_text("summary: nothere.xlsx\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="nothere.xlsx"):
        load.discover(folder, tmp_path)
    (folder / "sources.yaml").write_text("bogus: a.xlsx\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="unknown key"):
        load.discover(folder, tmp_path)


def test_year_folders(tmp_path):
    for n in ("2014", "2015年", "2016年度", "notes"):
        (tmp_path / n).mkdir()
    assert sorted(load.year_folders(tmp_path)) == [2014, 2015, 2016]
    assert sorted(load.year_folders(tmp_path, (2015, 2016))) == [2015, 2016]
    assert sorted(load.year_folders(tmp_path, [2014])) == [2014]
    with pytest.raises(PipelineError, match="2013"):
        load.year_folders(tmp_path, [2013])
    with pytest.raises(PipelineError, match="available: 2014, 2015, 2016"):
        load.year_folders(tmp_path, (2001, 2003))


def test_registry(tmp_path):
    wb.write_registry(tmp_path, encoding="gbk")
    reg = load.read_registry(tmp_path / "units.csv", tmp_path)
    assert reg["unit_id"].tolist()[:2] == ["U001", "U002"] and reg["_row"].tolist()[0] == 2
    (tmp_path / "units.csv").write_text("id,name\nU1,x\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="lacks column"):
        load.read_registry(tmp_path / "units.csv", tmp_path)


def test_grid_pads_ragged_rows():
    g = load._grid([[1], [1, 2, 3]])
    assert g.shape == (2, 3) and g[0, 2] == ""
    assert isinstance(g, np.ndarray)
