"""Small, messy committee-style workbooks for the ingest tests (SPEC §2.1).

Everything here is hand-built and independent of :mod:`pipeline.synth`: a 4-item, 5-unit
world whose expected clean values are known by construction, plus writers that lay the same
values out the ways real committees do (title rows, two-level merged headers, brackets, text
numbers, trailer rows, CSV in GBK …).

Typical use::

    raw = tmp_path / "raw"
    wb.write_registry(raw)
    wb.write_items(raw / "2015" / "2015年考评项目一览表.xlsx")
    wb.write_summary(raw / "2015" / "2015年度考评汇总表.xlsx", wb.CLEAN_VALUES)
    clean.run(raw, tmp_path / "out", progress=False)
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

# unit_id, name, aliases, type, sector, members, valid_from, valid_to, successor_id
UNITS = [
    ("U001", "市财政局", "财政局机关", "机关党委", "经济", "120", "", "", ""),
    ("U002", "市教育局", "市教委", "机关党委", "社会事业", "95", "", "", ""),
    ("U003", "市卫生局", "", "直属党委", "社会事业", "80", "", "2013", "U005"),
    ("U004", "市人力资源和社会保障局（市编办）", "人社局", "党总支", "综合", "60", "", "", ""),
    ("U005", "市卫生和计划生育委员会", "市卫生局", "直属党委", "社会事业", "150", "2014", "", ""),
    ("U006", "市公安局", "", "机关党委", "政法", "300", "", "", ""),
]

# 序号, 考评项目, 类别, 维度, 分值, 评分方式  (maxima sum to 100)
ITEMS = [
    (1, "三会一课", "基层组织", "素质水平", 40, "计分"),
    (2, "理论学习", "思想政治", "工作效率", 30, "计分"),
    (3, "作风建设", "机关作风", "服务质量", 20, "评档"),
    (4, "专项任务", "单项工作", "工作成效", 10, "计分"),
]
ITEM_IDS = ["I01", "I02", "I03", "I04"]
MAXES = {"I01": 40.0, "I02": 30.0, "I03": 20.0, "I04": 10.0}

#: Clean annual values per unit name (items I01…I04; I03 graded). Valid in 2013 and 2015
#: except for the 卫生 units (U003 until 2013, U005 from 2014), which the helpers swap.
CLEAN_VALUES = {
    "市财政局": [35.5, 28, "好", 9],
    "市教育局": [30, 25.5, "较好", 8.5],
    "市人力资源和社会保障局（市编办）": [38, 20, "一般", 10],
    "市公安局": [40, 30, "好", 7],
}
#: Expected points of the same cells (grades: 好 1.0, 较好 0.8, 一般 0.6 × 20).
CLEAN_POINTS = {
    "U001": [35.5, 28.0, 20.0, 9.0],
    "U002": [30.0, 25.5, 16.0, 8.5],
    "U004": [38.0, 20.0, 12.0, 10.0],
    "U006": [40.0, 30.0, 20.0, 7.0],
}
NAME_TO_ID = {"市财政局": "U001", "市教育局": "U002", "市人力资源和社会保障局（市编办）": "U004", "市公安局": "U006"}


def write_registry(raw: Path, units=UNITS, encoding: str = "utf-8") -> Path:
    raw.mkdir(parents=True, exist_ok=True)
    path = raw / "units.csv"
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["unit_id", "name", "aliases", "type", "sector", "members", "valid_from", "valid_to", "successor_id"])
        w.writerows(units)
    return path


def write_rows(path: Path, rows, sheet: str = "Sheet1", merges=(), extra_sheets=None, encoding="utf-8", offset=(0, 0)) -> Path:
    """Write a grid of rows to ``path`` (.xlsx via openpyxl, legacy BIFF8 .xls via xlwt, or .csv
    in ``encoding``).

    ``merges`` are A1 ranges ("C3:F3"); ``extra_sheets`` maps sheet name → rows (xlsx only,
    written before/after according to the dict order, with ``sheet`` placed where the key
    ``"__main__"`` is, else first); ``offset`` shifts the grid by (rows, cols).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        with open(path, "w", encoding=encoding, newline="") as fh:
            csv.writer(fh).writerows([["" if v is None else v for v in r] for r in rows])
        return path
    if path.suffix == ".xls":
        return _write_xls(path, rows, sheet, merges, extra_sheets, offset)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in _sheet_order(sheet, extra_sheets):
        data = rows if name == "__main__" else extra_sheets[name]
        ws = wb.create_sheet(sheet if name == "__main__" else name)
        for i, r in enumerate(data):
            for j, v in enumerate(r):
                if v is not None and v != "":
                    ws.cell(row=i + 1 + offset[0], column=j + 1 + offset[1], value=v)
        if name == "__main__":
            for m in merges:
                ws.merge_cells(m)
    wb.save(path)
    return path


def _sheet_order(sheet, extra_sheets):
    order = list((extra_sheets or {}).keys())
    if "__main__" not in order:
        order = ["__main__"] + order
    return order


def _write_xls(path: Path, rows, sheet, merges, extra_sheets, offset) -> Path:
    """The .xlsx writer of :func:`write_rows` for legacy .xls (BIFF8, Excel 97–2003) via xlwt."""
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    for name in _sheet_order(sheet, extra_sheets):
        data = rows if name == "__main__" else extra_sheets[name]
        ws = book.add_sheet(sheet if name == "__main__" else name)
        spans = []  # merged ranges, 0-based inclusive (r1, r2, c1, c2), in sheet coordinates
        for m in merges if name == "__main__" else ():
            (r1, c1), (r2, c2) = (_parse_ref(x) for x in m.split(":"))
            spans.append((r1, r2, c1, c2))
        covered = {(r, c) for r1, r2, c1, c2 in spans for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)}
        for i, r in enumerate(data):
            for j, v in enumerate(r):
                at = (i + offset[0], j + offset[1])
                if v is not None and v != "" and at not in covered:
                    ws.write(at[0], at[1], v)
        for r1, r2, c1, c2 in spans:  # the value of a merged range sits in its top-left cell
            top = data[r1 - offset[0]][c1 - offset[1]] if 0 <= r1 - offset[0] < len(data) else None
            ws.write_merge(r1, r2, c1, c2, "" if top is None else top)
    book.save(str(path))
    return path


def _parse_ref(ref: str) -> tuple[int, int]:
    """0-based (row, col) of an A1 reference."""
    import re

    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


def items_rows(items=ITEMS, title_rows: int = 1):
    rows = [["2015年度市直机关党建重点工作考评项目一览表"] + [None] * 5 for _ in range(title_rows)]
    rows.append(["序号", "考评项目", "类别", "维度", "分值", "评分方式"])
    rows += [list(r) for r in items]
    return rows


def write_items(path: Path, items=ITEMS, title_rows: int = 1, encoding="utf-8") -> Path:
    merges = [f"A{i + 1}:F{i + 1}" for i in range(title_rows)] if path.suffix != ".csv" else []
    return write_rows(path, items_rows(items, title_rows), sheet="一览表", merges=merges, encoding=encoding)


def summary_rows(
    values=CLEAN_VALUES,
    unit_header: str = "单位名称",
    title_rows: int = 1,
    two_level: bool = False,
    item_labels=None,
    given: dict | None = None,
    trailer: bool = False,
    seq: bool = True,
):
    """Rows (and merges) of an annual summary sheet.

    Returns
    -------
    rows, merges
        ``merges`` are A1 ranges for the title rows and, with ``two_level``, the category row.
    """
    labels = list(item_labels or [r[1] for r in ITEMS])
    lead = (["序号"] if seq else []) + [unit_header]
    tail = ["总分", "名次", "备注"] if given is not None else []
    width = len(lead) + len(labels) + len(tail)
    rows, merges = [], []
    for i in range(title_rows):
        rows.append([f"2015年度市直机关党建重点工作考评汇总表{'（' + str(i) + '）' if i else ''}"] + [None] * (width - 1))
        merges.append(f"A{i + 1}:{_col(width - 1)}{i + 1}")
    if two_level:
        cats = [r[2] for r in ITEMS]
        cat_row = [None] * len(lead)
        prev = None
        for j, c in enumerate(cats):
            cat_row.append(c if c != prev else None)
            prev = c
        cat_row += [None] * len(tail)
        # vertical merges of the lead and tail columns over the two header rows
        r1 = len(rows) + 1
        top = list(lead) + [None] * len(labels) + list(tail)
        for j in range(len(lead)):
            cat_row[j] = lead[j]
            merges.append(f"{_col(j)}{r1}:{_col(j)}{r1 + 1}")
        for k, t in enumerate(tail):
            j = len(lead) + len(labels) + k
            cat_row[j] = t
            merges.append(f"{_col(j)}{r1}:{_col(j)}{r1 + 1}")
        # merge each category across its items
        j = len(lead)
        start = j
        for k in range(1, len(cats) + 1):
            if k == len(cats) or cats[k] != cats[k - 1]:
                if k - 1 + len(lead) > start:
                    merges.append(f"{_col(start)}{r1}:{_col(k - 1 + len(lead))}{r1}")
                start = k + len(lead)
        rows.append(cat_row)
        rows.append([None] * len(lead) + labels + [None] * len(tail))
        del top
    else:
        rows.append(lead + labels + tail)
    for i, (name, vals) in enumerate(values.items()):
        row = ([i + 1] if seq else []) + [name] + list(vals)
        if given is not None:
            row += list(given.get(name, (None, None, None)))
        rows.append(row)
    if trailer:
        rows.append([None] * width)
        rows.append((["合计"] if seq else []) + [None] + [None] * (width - len(lead)))
        rows.append((["平均"] if seq else []) + [None] + [None] * (width - len(lead)))
        rows.append(["注：评档项目按好、较好、一般计分。"] + [None] * (width - 1))
        rows.append(["制表人：张三      审核人：李四"] + [None] * (width - 1))
    return rows, merges


def write_summary(path: Path, values=CLEAN_VALUES, sheet: str = "汇总", extra_sheets=None, encoding="utf-8", offset=(0, 0), **kw) -> Path:
    rows, merges = summary_rows(values, **kw)
    if path.suffix == ".csv":
        merges = []
    if offset != (0, 0):
        merges = [_shift(m, offset) for m in merges]
    return write_rows(path, rows, sheet=sheet, merges=merges, extra_sheets=extra_sheets, encoding=encoding, offset=offset)


def write_monthly(path: Path, months: dict, unit_header="单位名称", sheet_names=None) -> Path:
    """``months``: month → {unit name: [I01, I02, I04]} (计分 items only)."""
    labels = [r[1] for r in ITEMS if r[5] == "计分"]
    sheets = {}
    for m, vals in months.items():
        rows = [[f"2015年{m}月考评汇总"] + [None] * (len(labels) + 1), ["序号", unit_header] + labels]
        rows += [[i + 1, n] + list(v) for i, (n, v) in enumerate(vals.items())]
        sheets[(sheet_names or {}).get(m, f"{m}月")] = rows
    first = next(iter(sheets))
    rest = {k: v for k, v in sheets.items() if k != first}
    return write_rows(path, sheets[first], sheet=first, extra_sheets={"__main__": None, **rest})


def write_year(raw: Path, year: int = 2015, values=CLEAN_VALUES, summary_name=None, **kw) -> Path:
    """Registry + item list + annual summary of one year; returns the year folder."""
    if not (raw / "units.csv").exists():
        write_registry(raw)
    folder = raw / str(year)
    write_items(folder / f"{year}年考评项目一览表.xlsx")
    write_summary(folder / (summary_name or f"{year}年度考评汇总表.xlsx"), values, **kw)
    return folder


def _col(j: int) -> str:
    # openpyxl's letters, not pipeline.load.col_letter: fixtures must not reuse the code under test
    return get_column_letter(j + 1)


def _shift(rng: str, offset) -> str:
    import re

    def one(ref):
        m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
        col = 0
        for ch in m.group(1):
            col = col * 26 + ord(ch) - 64
        return f"{_col(col - 1 + offset[1])}{int(m.group(2)) + offset[0]}"

    a, b = rng.split(":")
    return f"{one(a)}:{one(b)}"
