"""Header rows and columns of a sheet: where the header is and what each column holds.

:func:`find_header` finds the header row (one- or two-level, merged cells forward-filled),
:func:`read_items` reads a year's item list, :func:`_map_columns` maps a score sheet's
columns to items (by normalised name, bracketed maximum checked), unit, total and rank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import load
from pipeline.clean.context import _Run
from pipeline.clean.text import (
    K_BAD, K_NUM, _CATEGORY_LABELS, _CAT_WORDS, _DIM_WORDS, _HEADER_WORDS, _NUM, _is_trailer, item_key,
    normalise, parse_value,
)


# =========================================================================== headers
def _is_unit_key(t: str) -> bool:
    if t in {"单位", "单位名称", "党组织名称", "机关党组织", "党组织", "被考评单位", "参评单位", "考评单位", "单位全称", "机关党组织名称"}:
        return True
    if len(t) > 12 or any(ch in t for ch in ":：") or any(w in t for w in ("填报", "制表", "审核", "名次", "得分", "考评汇总", "年度")):
        return False
    return ("单位" in t and ("名称" in t or "党组织" in t)) or ("党组织" in t and "名称" in t)


def _classify_label(t: str) -> str:
    """Role of a normalised column label: seq/unit/total/rank/note/subtotal/blank/item."""
    base, _ = item_key(t)
    if base == "":
        return "blank"
    if base in {"序号", "编号", "序", "No", "No.", "NO", "NO."}:
        return "seq"
    if _is_unit_key(base):
        return "unit"
    if base in {"名次", "排名", "排序", "位次", "座次", "名次排序", "排名情况"} or base.startswith(("名次", "排名")):
        return "rank"
    if base in {"总分", "总得分", "合计", "得分合计", "合计得分", "综合得分", "考评总分", "总计", "最终得分", "考评得分", "年度总分"} or base.startswith("总分"):
        return "total"
    if base in {"备注", "说明", "备注说明"}:
        return "note"
    if "小计" in base or base in _CATEGORY_LABELS:
        return "subtotal"
    return "item"


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


def _filled_head(sheet: load.Sheet, nrows: int) -> np.ndarray:
    """First ``nrows`` rows with merged ranges forward-filled from their top-left cell."""
    head = sheet.cells[:nrows].copy()
    for a, b, c, d in sheet.local_merges():
        if a < nrows:
            head[a : min(c, nrows - 1) + 1, b : d + 1] = sheet.cells[a, b]
    return head


@dataclass
class Header:
    """Where the header of a sheet is and what each column holds."""

    top: int
    bottom: int
    unit_col: int
    labels: list  # raw label text per column (lowest non-empty header cell)
    label_rows: list  # local row of each label
    norm: list  # normalised labels


def find_header(sheet: load.Sheet, key=_is_unit_key, scan: int = 30) -> Header | None:
    """Locate the header block of ``sheet`` (see the module docstring); None if absent."""
    h, w = sheet.cells.shape
    n = min(h, scan)
    if n == 0 or w == 0:
        return None
    head = _filled_head(sheet, min(h, scan + 4))
    norm = np.vectorize(normalise, otypes=[object])(head) if head.size else head
    r_unit = c_unit = None
    for r in range(n):
        for c in range(w):
            if norm[r, c] and key(norm[r, c]):
                r_unit, c_unit = r, c
                break
        if r_unit is not None:
            break
    if r_unit is None:
        return None
    top = r_unit
    while top - 1 >= 0 and any(isinstance(x, str) and x and any(wd in x for wd in _HEADER_WORDS) for x in norm[top - 1]):
        top -= 1
    bottom = r_unit
    while bottom + 1 < norm.shape[0] and bottom - r_unit < 3:
        r = bottom + 1
        u = norm[r, c_unit]
        if u and not key(u):
            break
        labels = [
            x for j, x in enumerate(norm[r]) if j != c_unit and isinstance(head[r, j], str) and x
            and parse_value(x)[0] == K_BAD and not _is_trailer(x)
        ]
        if not labels:
            break
        bottom = r
    labels, label_rows, normed = [], [], []
    for c in range(w):
        lab, row = "", top
        for r in range(bottom, top - 1, -1):
            if norm[r, c]:
                lab, row = _text(head[r, c]), r
                break
        labels.append(lab)
        label_rows.append(row)
        normed.append(normalise(lab))
    return Header(top, bottom, c_unit, labels, label_rows, normed)


# =========================================================================== item list
def _category(t: str) -> str | None:
    for k, words in _CAT_WORDS.items():
        if any(wd and (wd in t or wd == t.lower()) for wd in words):
            return k
    return None


def _dimension(t: str) -> str | None:
    for k, words in _DIM_WORDS.items():
        if any(wd in t or wd == t.lower() for wd in words):
            return k
    return None


def _method(t: str) -> str | None:
    if any(w in t for w in ("评档", "评等", "等次", "档次", "等级", "好/较好/一般", "好较好一般")) or t.lower() == "grade":
        return "grade"
    if any(w in t for w in ("计分", "打分", "评分", "分数")) or t.lower() == "points":
        return "points"
    return None


def _items_key(t: str) -> bool:
    """Header of the item-name column of the item list (考评项目 / 项目名称 / 考核内容 …)."""
    if t in {"考评项目", "考核项目", "项目名称", "项目", "考评内容", "考评项目名称", "考核内容", "评分项目", "考评指标", "指标名称"}:
        return True
    return (
        len(t) <= 10
        and ("项目" in t or "指标" in t)
        and not any(w in t for w in ("编号", "序号", "类别", "分值", "方式", "一览表", ":", "年度"))
    )


def read_items(sheet: load.Sheet, year: int, ctx: _Run) -> pd.DataFrame | None:
    """Interpret a 考评项目一览表 sheet → rows of the ``items`` table (None if unusable)."""
    hdr = find_header(sheet, key=_items_key)
    if hdr is None:
        ctx.problem(sheet.file, sheet.name, "", "", "item list: no header row with 考评项目 and 分值 found")
        return None
    roles = {}
    for c, t in enumerate(hdr.norm):
        base = item_key(t)[0]
        if c == hdr.unit_col:
            roles["name"] = c
        elif base in {"序号", "编号", "序", "项目编号"} and "seq" not in roles:
            roles["seq"] = c
        elif any(w in base for w in ("类别", "类型", "分类", "板块")) and "category" not in roles:
            roles["category"] = c
        elif any(w in base for w in ("维度", "对应", "六看", "六比")) and "dimension" not in roles:
            roles["dimension"] = c
        elif any(w in base for w in ("分值", "满分", "标准分", "分数", "权重")) and "max" not in roles:
            roles["max"] = c
        elif any(w in base for w in ("评分方式", "计分方式", "考评方式", "方式", "评分方法")) and "method" not in roles:
            roles["method"] = c
    for need, zh in (("max", "分值"), ("category", "类别"), ("dimension", "维度"), ("method", "评分方式")):
        if need not in roles:
            ctx.problem(sheet.file, sheet.name, sheet.ref(hdr.bottom, 0), "", f"item list: no {zh} column")
            return None
    rows = []
    n_bad = len(ctx.problems)
    for r in range(hdr.bottom + 1, sheet.cells.shape[0]):
        row = sheet.cells[r]
        name_raw = _text(row[roles["name"]]).strip()
        first = next((normalise(x) for x in row if normalise(x)), "")
        if not first:
            ctx.log(sheet.file, sheet.name, sheet.ref(r, roles["name"]), "", "", "blank_row_skipped")
            continue
        if _is_trailer(first) or not name_raw:
            ctx.log(sheet.file, sheet.name, sheet.ref(r, roles["name"]), first, "", "trailer_row_skipped")
            continue
        rec = {"year": year, "item_name": re.sub(r"[\r\n\t]+", "", name_raw).strip()}
        seq_text = normalise(row[roles["seq"]]) if "seq" in roles else ""
        seq = float(seq_text) if _NUM.match(seq_text or "x") else float(len(rows) + 1)
        if not float(seq).is_integer() or not 1 <= seq <= 99:
            ctx.problem(sheet.file, sheet.name, sheet.ref(r, roles["seq"]), seq_text, "item 序号 must be a whole number 1–99")
            continue
        rec["item_id"] = f"I{int(seq):02d}"
        for key, fn, zh in (("category", _category, "类别"), ("dimension", _dimension, "维度"), ("method", _method, "评分方式")):
            t = normalise(row[roles[key]])
            v = fn(t)
            if v is None:
                ctx.problem(sheet.file, sheet.name, sheet.ref(r, roles[key]), _text(row[roles[key]]), f"item {rec['item_id']}: unknown {zh} {_text(row[roles[key]])!r}")
            rec[key] = v
        mx = row[roles["max"]]
        if isinstance(mx, (int, float)) and not isinstance(mx, bool):
            mxv = float(mx)
        else:
            k, v, _, _ = parse_value(_text(mx))
            mxv = v if k == K_NUM else np.nan
        if not (mxv > 0 and mxv <= 100):
            ctx.problem(sheet.file, sheet.name, sheet.ref(r, roles["max"]), _text(mx), f"item {rec['item_id']}: 分值 must be a number in (0, 100]")
        rec["max_points"] = mxv
        rec["_row"] = r
        rows.append(rec)
    if len(ctx.problems) > n_bad:
        return None
    items = pd.DataFrame(rows)
    if items.empty:
        ctx.problem(sheet.file, sheet.name, "", "", "item list has no items")
        return None
    dup = items["item_id"].duplicated(keep=False)
    if dup.any():
        r = int(items.loc[dup, "_row"].iloc[-1])
        ctx.problem(sheet.file, sheet.name, sheet.ref(r, roles.get("seq", 0)), items.loc[dup, "item_id"].iloc[0], "item 序号 appears twice in the item list")
        return None
    keys = items["item_name"].map(lambda s: item_key(s)[0])
    if keys.duplicated().any():
        r = int(items.loc[keys.duplicated(), "_row"].iloc[0])
        ctx.problem(sheet.file, sheet.name, sheet.ref(r, roles["name"]), items.loc[keys.duplicated(), "item_name"].iloc[0], "item name appears twice in the item list")
        return None
    total = float(items["max_points"].sum())
    if abs(total - 100.0) > 1e-6:
        ctx.problem(sheet.file, sheet.name, sheet.ref(hdr.bottom, roles["max"]), f"{total:g}", f"item maxima (分值) sum to {total:g}, not 100")
        return None
    return items.drop(columns="_row")[["year", "item_id", "item_name", "category", "dimension", "max_points", "method"]]
