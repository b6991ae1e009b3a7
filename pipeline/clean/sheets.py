"""Cells of a score sheet and of the side tables (review adjustments, weak organisations).

:func:`read_scores_sheet` turns the body of a summary or monthly sheet into score rows:
each distinct string is parsed once (``pandas.factorize``), the rest is whole-array NumPy.
:func:`_side_table` reads 述职评议 adjustments and the 软弱涣散 list.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import load
from pipeline.clean.context import _Run
from pipeline.clean.header import Header, _classify_label, _text, find_header
from pipeline.clean.text import (
    K_BAD, K_GRADE, K_MISSING, K_NA, K_NUM, K_TYPE, _GRADES, _LEADING_NUMBER, _MAX_ROW, _MAX_TRAILING, _fmt,
    _is_trailer, item_key, normalise, parse_value,
)
from pipeline.clean.units import UnitMatcher


# =========================================================================== score sheets
@dataclass
class _Cols:
    unit: int
    items: list  # (col, item_id)
    total: int | None = None
    rank: int | None = None
    note: int | None = None


def _map_columns(sheet: load.Sheet, hdr: Header, items: pd.DataFrame, ctx: _Run, monthly: bool) -> _Cols | None:
    keys = {item_key(n)[0]: i for i, n in zip(items["item_id"], items["item_name"])}
    maxes = dict(zip(items["item_id"], items["max_points"]))
    methods = dict(zip(items["item_id"], items["method"]))
    cols = _Cols(unit=hdr.unit_col, items=[])
    seen: dict[str, int] = {}
    body = sheet.cells[hdr.bottom + 1 :]
    for c, (lab, t) in enumerate(zip(hdr.labels, hdr.norm)):
        if c == hdr.unit_col:
            continue
        ref = sheet.ref(hdr.label_rows[c], c)
        role = _classify_label(t)
        if role == "blank":
            if body.size and np.any([normalise(x) != "" for x in body[:, c]]):
                ctx.problem(sheet.file, sheet.name, ref, "", "a column holds values but has no header")
            continue
        if role in ("seq", "unit"):
            continue
        if role in ("total", "rank", "note"):
            if monthly:
                ctx.log(sheet.file, sheet.name, ref, lab, "", f"monthly_{role}_column_ignored")
            elif getattr(cols, role) is None:
                setattr(cols, role, c)
            else:
                ctx.log(sheet.file, sheet.name, ref, lab, "", f"second_{role}_column_ignored")
            continue
        if role == "subtotal":
            ctx.log(sheet.file, sheet.name, ref, lab, "", "subtotal_column_ignored")
            continue
        base, mx = item_key(t)
        iid = keys.get(base)
        if iid is None:  # a leading number ("1.三会一课") when the plain label does not match
            alt = _LEADING_NUMBER.sub("", base)
            iid = keys.get(alt)
        if iid is None and mx is None:
            m = _MAX_TRAILING.search(base)
            if m and base[: m.start()] in keys:
                iid, mx = keys[base[: m.start()]], float(m.group(1))
        if iid is None:
            close = difflib.get_close_matches(base, list(keys), n=2, cutoff=0.5)
            hint = f" (closest: {', '.join(close)})" if close else ""
            ctx.problem(sheet.file, sheet.name, ref, lab, f"column {lab!r} matches no item of the {items['year'].iloc[0]} item list{hint}")
            continue
        if iid in seen:
            ctx.problem(sheet.file, sheet.name, ref, lab, f"item {iid} has two columns ({sheet.ref(hdr.label_rows[seen[iid]], seen[iid])} and {ref})")
            continue
        if mx is not None and abs(mx - maxes[iid]) > 1e-9:
            ctx.problem(sheet.file, sheet.name, ref, lab, f"header says max {mx:g} but the item list gives {iid} 分值 {maxes[iid]:g}")
            continue
        if monthly and methods[iid] == "grade":
            ctx.log(sheet.file, sheet.name, ref, lab, "", "monthly_grade_item_ignored")
            continue
        seen[iid] = c  # header wording differences are not value changes: nothing to log
        cols.items.append((c, iid))
    wanted = items.loc[items["method"] == "points"] if monthly else items
    for iid, name in zip(wanted["item_id"], wanted["item_name"]):
        if iid not in seen:
            if monthly:
                ctx.log(sheet.file, sheet.name, "", name, "", f"monthly_item_absent:{iid}")
            else:
                ctx.problem(sheet.file, sheet.name, sheet.ref(hdr.bottom, 0), name, f"item {iid} {name!r} of the item list has no column in the summary")
    return cols


@dataclass
class _Parsed:
    kind: np.ndarray  # int8, K_*
    points: np.ndarray  # float
    grade: np.ndarray  # int8 index into _GRADES, -1 none
    rule: np.ndarray  # object rule text per cell ("" = no change)
    text: np.ndarray  # object: original text of string cells, None otherwise
    new: np.ndarray  # object: cleaned value as text for the log (None: format the points)


def _twice(first: str, second: str, uid: str) -> str:
    """"unit '<name as written>' (<id>) appears twice" — both spellings when they differ."""
    if first == second:
        return f"unit {first!r} ({uid}) appears twice"
    return f"unit {first!r} and {second!r} (both {uid}) appear twice"


def _parse_block(block: np.ndarray) -> _Parsed:
    """Classify every cell of ``block`` (vectorised; text parsed once per distinct string)."""
    shape = block.shape
    flat = block.ravel()
    n = flat.size
    kind = np.full(n, K_TYPE, dtype=np.int8)
    points = np.full(n, np.nan)
    grade = np.full(n, -1, dtype=np.int8)
    rule = np.full(n, "", dtype=object)
    text = np.full(n, None, dtype=object)
    new = np.full(n, None, dtype=object)
    if n:
        cls = np.frompyfunc(type, 1, 1)(flat)
        is_num = (cls == float) | (cls == int)
        is_str = cls == str
        if is_num.any():
            points[is_num] = flat[is_num].astype(float)
            kind[is_num] = K_NUM
            nonfinite = is_num & ~np.isfinite(points)
            kind[nonfinite] = K_BAD
        sidx = np.flatnonzero(is_str)
        if sidx.size:
            codes, uniq = pd.factorize(flat[sidx])
            parsed = [parse_value(u) for u in uniq]
            ukind = np.array([p[0] for p in parsed], dtype=np.int8)
            uval = np.array([p[1] for p in parsed], dtype=float)
            ugrade = np.array([_GRADES.index(p[2]) if p[2] else -1 for p in parsed], dtype=np.int8)
            urule = np.array([p[3] for p in parsed], dtype=object)
            unew = np.array(
                [_fmt(p[1]) if p[0] == K_NUM else {K_NA: "status=na", K_MISSING: "status=missing"}.get(p[0]) for p in parsed],
                dtype=object,
            )
            new[sidx] = unew[codes]
            kind[sidx] = ukind[codes]
            points[sidx] = uval[codes]
            grade[sidx] = ugrade[codes]
            rule[sidx] = urule[codes]
            text[sidx] = flat[sidx]
    return _Parsed(*(a.reshape(shape) for a in (kind, points, grade, rule, text, new)))


def _refs(sheet: load.Sheet, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    letters = np.array([load.col_letter(sheet.col0 + c) for c in range(sheet.cells.shape[1])], dtype=object)
    return letters[cols] + (rows + sheet.row0 + 1).astype(str).astype(object)


def _source_array(sheet: load.Sheet, rows: np.ndarray, cols: np.ndarray) -> pa.Array:
    """``file!sheet!A1`` for many cells, built in Arrow (no Python string per cell)."""
    letters = pa.array([load.col_letter(sheet.col0 + c) for c in range(sheet.cells.shape[1])])
    nums = pa.array([str(sheet.row0 + r + 1) for r in range(sheet.cells.shape[0])])
    return pc.binary_join_element_wise(
        f"{sheet.file}!{sheet.name}!", letters.take(pa.array(cols)), nums.take(pa.array(rows)), ""
    )


def read_scores_sheet(
    sheet: load.Sheet,
    year: int,
    period: str,
    items: pd.DataFrame,
    matcher: UnitMatcher,
    ctx: _Run,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Interpret one summary or monthly sheet.

    Returns
    -------
    (scores, given)
        ``scores``: year, period, unit_id, item_id, points, status, grade, source (rows for
        every kept cell); ``given`` (annual sheets only): year, unit_id, given_total,
        given_rank, note, source. Either is None when the sheet cannot be read.
    """
    monthly = period != "Y"
    hdr = find_header(sheet)
    if hdr is None:
        ctx.problem(sheet.file, sheet.name, "", "", "no header row with a unit column (单位 / 单位名称 / 党组织名称 / 机关党组织) in the first 30 rows")
        return None, None
    cols = _map_columns(sheet, hdr, items, ctx, monthly)
    body = sheet.cells[hdr.bottom + 1 :]
    nb = body.shape[0]
    r_off = hdr.bottom + 1
    if nb == 0:
        return _empty_scores(), None
    # ---- rows: classify the unit cell (once per distinct text)
    unit_cells = body[:, cols.unit]
    ucodes, uniq = pd.factorize(pd.Series(unit_cells, dtype=object).map(_text))
    blank_row = np.fromiter((not any(_text(x).strip() for x in row) for row in body), bool, nb) if nb < 50 else None
    if blank_row is None:
        nonempty = (body != "") & pd.notna(body)
        blank_row = ~nonempty.any(axis=1)
        # whitespace-only cells count as blank
        if (~blank_row).any():
            cand = np.flatnonzero(~blank_row & (ucodes >= 0) & (np.array([normalise(u) == "" for u in uniq])[ucodes] if len(uniq) else False))
            for r in cand:
                if not any(normalise(x) for x in body[r]):
                    blank_row[r] = True
    uid_of = np.empty(len(uniq), dtype=object)
    rule_of = np.empty(len(uniq), dtype=object)
    for i, u in enumerate(uniq):
        t = normalise(u)
        if t == "":
            uid_of[i], rule_of[i] = None, "#empty"
        elif _is_trailer(t):
            uid_of[i], rule_of[i] = None, "#trailer"
        elif t in _MAX_ROW:
            uid_of[i], rule_of[i] = None, "#maxrow"
        else:
            uid_of[i], rule_of[i] = matcher.match(year, u)
    row_uid = uid_of[ucodes] if len(uniq) else np.full(nb, None, dtype=object)
    row_rule = rule_of[ucodes] if len(uniq) else np.full(nb, "", dtype=object)
    keep = ~blank_row & np.not_equal(row_uid, None)
    renamed = np.flatnonzero(keep & (row_rule != ""))
    if renamed.size:  # unit names that needed normalising / alias / 市 prefix (vectorised log)
        ctx.add_log(
            pd.DataFrame(
                {
                    "file": sheet.file,
                    "sheet": sheet.name,
                    "cell": _refs(sheet, renamed + r_off, np.full(renamed.size, cols.unit)),
                    "original": uniq[ucodes[renamed]],
                    "new": row_uid[renamed],
                    "rule": row_rule[renamed],
                }
            )
        )
    for r in np.flatnonzero(~keep):  # the few rows that are not units: blank, trailer, problems
        cell = sheet.ref(r + r_off, cols.unit)
        if blank_row[r]:
            ctx.log(sheet.file, sheet.name, cell, "", "", "blank_row_skipped")
            continue
        code = ucodes[r]
        rule = row_rule[r]
        first = next((normalise(x) for x in body[r] if normalise(x)), "")
        if rule == "#trailer" or _is_trailer(first):
            ctx.log(sheet.file, sheet.name, cell, first, "", "trailer_row_skipped")
        elif rule == "#maxrow" or first in _MAX_ROW:
            ctx.log(sheet.file, sheet.name, cell, uniq[code], "", "max_row_skipped")
        elif rule == "#empty":
            ctx.problem(sheet.file, sheet.name, cell, "", "row has values but no unit name")
        else:
            ctx.problem(sheet.file, sheet.name, cell, uniq[code], rule)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(row_uid[rows].astype(str), kind="stable")]  # tidy order: unit, item
    cols.items.sort(key=lambda ci: ci[1])
    if not cols.items or rows.size == 0:
        return _empty_scores(), _given_frame(sheet, year, cols, body, rows, row_uid, r_off, ctx) if not monthly else None
    icols = np.array([c for c, _ in cols.items])
    iids = np.array([i for _, i in cols.items], dtype=object)
    maxv = items.set_index("item_id").loc[list(iids), "max_points"].to_numpy(float)
    is_grade = (items.set_index("item_id").loc[list(iids), "method"] == "grade").to_numpy()
    block = body[np.ix_(rows, icols)]
    P = _parse_block(block)
    kind, points = P.kind, P.points
    gm = ctx.grade_map
    gvals = np.array([gm[g] for g in _GRADES])
    # grades → points; grades in a points item and numbers in range are checked here
    isg = kind == K_GRADE
    gp = np.where(P.grade >= 0, gvals[np.maximum(P.grade, 0)], np.nan) * maxv[None, :]
    points = np.where(isg, gp, points)
    reason = np.full(block.shape, None, dtype=object)
    bad_grade_item = isg & ~is_grade[None, :]
    reason[bad_grade_item] = "a grade (好/较好/一般) in an item scored in points"
    isn = kind == K_NUM
    out_range = isn & ((points < 0) | (points > maxv[None, :] + 1e-9))
    if out_range.any():
        rr, cc = np.nonzero(out_range)
        reason[rr, cc] = [f"points {points[a, b]:g} outside 0–{maxv[b]:g} (max of {iids[b]})" for a, b in zip(rr, cc)]
    bad = kind == K_BAD
    if bad.any():
        rr, cc = np.nonzero(bad)
        reason[rr, cc] = [
            (f"unknown grade {P.text[a, b]!r} (expected 好 / 较好 / 一般)" if is_grade[b] and P.text[a, b] is not None
             else f"cannot read {(_text(block[a, b]))!r} as points")
            for a, b in zip(rr, cc)
        ]
    typ = kind == K_TYPE
    if typ.any():
        rr, cc = np.nonzero(typ)
        reason[rr, cc] = [(f"formula {block[a, b]!r} has no cached value (the file was saved without calculating: open and save it in Excel/WPS, or type the value)"
                           if isinstance(block[a, b], load.UncachedFormula) else f"unsupported cell value {block[a, b]!r} ({type(block[a, b]).__name__})")
                          for a, b in zip(rr, cc)]
    num_in_grade = isn & is_grade[None, :]
    # ---- duplicates: the same unit twice
    uid_rows = row_uid[rows]
    drop_row = np.zeros(rows.size, dtype=bool)
    dup = pd.Series(uid_rows).duplicated(keep=False).to_numpy()
    if dup.any():
        for uid in pd.unique(uid_rows[dup]):
            idx = np.flatnonzero(uid_rows == uid)
            first = idx[0]
            for j in idx[1:]:
                same_kind = kind[j] == kind[first]
                same_pts = (points[j] == points[first]) | (np.isnan(points[j]) & np.isnan(points[first]))
                diff = ~(same_kind & same_pts)
                a_ref = sheet.ref(rows[first] + r_off, cols.unit)
                b_ref = sheet.ref(rows[j] + r_off, cols.unit)
                if not diff.any():
                    drop_row[j] = True
                    ctx.log(sheet.file, sheet.name, b_ref, _text(body[rows[j], cols.unit]), uid, f"duplicate_row_dropped (same values as {a_ref})")
                else:
                    who = _twice(_text(body[rows[first], cols.unit]), _text(body[rows[j], cols.unit]), uid)
                    for c in np.flatnonzero(diff):
                        cref = sheet.ref(rows[j] + r_off, icols[c])
                        reason[j, c] = reason[first, c] = f"{who} with different values ({sheet.ref(rows[first] + r_off, icols[c])} vs {cref})"
                    drop_row[j] = True
                    same = ~diff
                    if same.any():
                        ctx.log(sheet.file, sheet.name, b_ref, _text(body[rows[j], cols.unit]), uid, "duplicate_row_dropped (agreeing cells)")
    has_problem = np.not_equal(reason, None)
    if has_problem.any():
        rr, cc = np.nonzero(has_problem)
        for a, b in zip(rr, cc):
            ctx.problem(sheet.file, sheet.name, sheet.ref(rows[a] + r_off, icols[b]), _text(block[a, b]), reason[a, b])
    keep_cell = ~has_problem & ~drop_row[:, None]
    # ---- cleaning log of changed cells (vectorised)
    changed = (P.rule != "") & keep_cell
    if num_in_grade.any():
        P.rule[num_in_grade & keep_cell] = np.where(P.rule[num_in_grade & keep_cell] == "", "points_in_grade_item", P.rule[num_in_grade & keep_cell] + ";points_in_grade_item")
        changed |= num_in_grade & keep_cell
    if changed.any():
        rr, cc = np.nonzero(changed)
        new = P.new[rr, cc]
        fill = np.equal(new, None)
        if fill.any():  # grades (points depend on the item max) and numbers in grade items
            new[fill] = [_fmt(x) for x in points[rr[fill], cc[fill]]]
        original = P.text[rr, cc]
        nontext = np.equal(original, None)
        if nontext.any():
            original[nontext] = [_text(x) for x in block[rr[nontext], cc[nontext]]]
        ctx.add_log(
            pd.DataFrame(
                {
                    "file": sheet.file,
                    "sheet": sheet.name,
                    "cell": _refs(sheet, rows[rr] + r_off, icols[cc]),
                    "original": original,
                    "new": new,
                    "rule": P.rule[rr, cc],
                }
            )
        )
    # ---- tidy scores
    rr, cc = np.nonzero(keep_cell)
    status = np.array(["ok", "ok", "na", "missing"], dtype=object)
    k = kind[rr, cc]
    gtxt = pa.array(list(_GRADES) + [None], pa.large_string())
    # built in Arrow: pieces are concatenated without a copy and strings stay compact
    scores = pa.table(
        {
            "year": pa.array(np.full(rr.size, year, dtype=np.int64)),
            "period": pa.array([period], pa.large_string()).take(pa.array(np.zeros(rr.size, dtype=np.int64))),
            "unit_id": pa.array(list(uid_rows), pa.large_string()).take(pa.array(rr)),
            "item_id": pa.array(list(iids), pa.large_string()).take(pa.array(cc)),
            "points": pa.array(np.where((k == K_NUM) | (k == K_GRADE), points[rr, cc], np.nan), from_pandas=True),
            "status": pa.array(list(status), pa.large_string()).take(pa.array(k.astype(np.int64))),
            "grade": gtxt.take(pa.array(np.where(P.grade[rr, cc] >= 0, P.grade[rr, cc], len(_GRADES)).astype(np.int64))),
            "source": _source_array(sheet, rows[rr] + r_off, icols[cc]).cast(pa.large_string()),
        }
    )
    given = None if monthly else _given_frame(sheet, year, cols, body, rows[~drop_row], row_uid, r_off, ctx)
    return scores, given


def _empty_scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "year": pd.Series(dtype="int64"),
            "period": pd.Series(dtype="str"),
            "unit_id": pd.Series(dtype="str"),
            "item_id": pd.Series(dtype="str"),
            "points": pd.Series(dtype="float64"),
            "status": pd.Series(dtype="str"),
            "grade": pd.Series(dtype="str"),
            "source": pd.Series(dtype="str"),
        }
    )


def _number_cell(sheet: load.Sheet, ref: str, value, ctx: _Run) -> tuple[int, float]:
    """One number cell: ``(K_NUM, value)`` for a number or a text number, else ``(kind, NaN)``.

    A text number is logged when reading it took more than a change of type (full-width
    digits, spaces, a 分 suffix).
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return K_NUM, float(value)
    t = _text(value)
    k, v, _, rule = parse_value(t)
    if k == K_NUM and (rule != "text_number" or t != t.strip()):
        ctx.log(sheet.file, sheet.name, ref, t, _fmt(v), rule)
    return k, v


def _num_or_log(sheet, ref, value, what, ctx) -> float:
    """A given 总分 / 名次 cell: its number, or NaN (logged) when it holds none."""
    k, v = _number_cell(sheet, ref, value, ctx)
    if k == K_NUM:
        return v
    t = _text(value)
    if k != K_MISSING:
        m = re.fullmatch(r"第?(\d+)名?", normalise(t))
        if m and what == "given_rank":
            ctx.log(sheet.file, sheet.name, ref, t, m.group(1), "rank_text")
            return float(m.group(1))
        ctx.log(sheet.file, sheet.name, ref, t, "(empty)", f"{what}_unreadable")
    return np.nan


def _given_frame(sheet, year, cols: _Cols, body, rows, row_uid, r_off, ctx) -> pd.DataFrame | None:
    if cols.total is None and cols.rank is None and cols.note is None:
        return None
    recs = []
    for r in rows:
        rec = {"year": year, "unit_id": row_uid[r], "given_total": np.nan, "given_rank": np.nan, "note": None}
        src_col = cols.unit
        if cols.total is not None:
            rec["given_total"] = _num_or_log(sheet, sheet.ref(r + r_off, cols.total), body[r, cols.total], "given_total", ctx)
            src_col = cols.total
        if cols.rank is not None:
            rec["given_rank"] = _num_or_log(sheet, sheet.ref(r + r_off, cols.rank), body[r, cols.rank], "given_rank", ctx)
        if cols.note is not None:
            note = _text(body[r, cols.note]).strip()
            rec["note"] = note or None
        rec["source"] = sheet.where(r + r_off, src_col)
        recs.append(rec)
    return pd.DataFrame(recs, columns=["year", "unit_id", "given_total", "given_rank", "note", "source"])


# =========================================================================== review / weak orgs
def _side_table(sheet: load.Sheet, year: int, matcher: UnitMatcher, ctx: _Run, what: str) -> pd.DataFrame | None:
    """述职评议 (``what="review"``) or 软弱涣散 (``what="weak"``) → adjustments / weak_orgs rows."""
    hdr = find_header(sheet)
    if hdr is None:
        ctx.problem(sheet.file, sheet.name, "", "", f"{what}: no header row with a unit column (单位 / 单位名称 …)")
        return None
    val_col = note_col = self_col = None
    for c, t in enumerate(hdr.norm):
        if c == hdr.unit_col or not t:
            continue
        if what == "review":
            if self_col is None and any(w in t for w in ("自评", "自报", "自查")):
                self_col = c
            elif val_col is None and any(w in t for w in ("调整", "核实", "加减")):
                val_col = c
            elif note_col is None and any(w in t for w in ("说明", "备注", "原因", "事由")):
                note_col = c
        else:
            if val_col is None and any(w in t for w in ("状态", "整顿", "情况", "进展")):
                val_col = c
    if val_col is None:
        need = "核实调整分" if what == "review" else "整顿状态"
        ctx.problem(sheet.file, sheet.name, sheet.ref(hdr.bottom, 0), "", f"{what}: no {need} column")
        return None
    recs = []
    seen: dict[str, tuple] = {}
    for r in range(hdr.bottom + 1, sheet.cells.shape[0]):
        row = sheet.cells[r]
        ucell = sheet.ref(r, hdr.unit_col)
        first = next((normalise(x) for x in row if normalise(x)), "")
        if not first:
            ctx.log(sheet.file, sheet.name, ucell, "", "", "blank_row_skipped")
            continue
        utext = _text(row[hdr.unit_col])
        if _is_trailer(first) or (not normalise(utext) and normalise(row[val_col]) == ""):
            ctx.log(sheet.file, sheet.name, ucell, first, "", "trailer_row_skipped")
            continue
        uid, rule = matcher.match(year, utext) if normalise(utext) else (None, "row has values but no unit name")
        if uid is None:
            ctx.problem(sheet.file, sheet.name, ucell, utext, rule)
            continue
        if rule:
            ctx.log(sheet.file, sheet.name, ucell, utext, uid, rule)
        vref = sheet.ref(r, val_col)
        raw = row[val_col]
        if what == "review":
            k, val = _number_cell(sheet, vref, raw, ctx)
            if k == K_MISSING:
                ctx.log(sheet.file, sheet.name, vref, _text(raw), "", "empty_adjustment_skipped")
                continue
            if k != K_NUM:
                ctx.problem(sheet.file, sheet.name, vref, _text(raw), f"cannot read {_text(raw)!r} as an adjustment (signed points)")
                continue
            if not np.isfinite(val) or abs(val) > 100:
                ctx.problem(sheet.file, sheet.name, vref, _text(raw), "adjustment outside −100…100")
                continue
            note = _text(row[note_col]).strip() if note_col is not None else ""
            self_total = np.nan
            if self_col is not None:
                sraw = row[self_col]
                sk, sv = _number_cell(sheet, sheet.ref(r, self_col), sraw, ctx)
                if sk == K_NUM:
                    self_total = sv
                elif sk != K_MISSING:
                    ctx.problem(sheet.file, sheet.name, sheet.ref(r, self_col), _text(sraw),
                                f"cannot read {_text(sraw)!r} as a self-assessed total (自评分)")
                    continue
                if np.isfinite(self_total) and not (0 <= self_total <= 200):
                    ctx.problem(sheet.file, sheet.name, sheet.ref(r, self_col), _text(sraw), "self-assessed total (自评分) outside 0…200")
                    continue
            rec = {"year": year, "unit_id": uid, "adjustment": val, "self_total": self_total, "note": note or None,
                   "source": sheet.where(r, val_col)}
            key_val = val
        else:
            t = normalise(raw)
            if t in ("已整顿", "整顿完成", "已完成整顿", "已完成", "已销号", "rectified") or (t.startswith("已") and "整顿" in t):
                st = "rectified"
            elif t in ("整顿中", "正在整顿", "未完成", "整顿未完成", "rectifying") or "整顿中" in t:
                st = "rectifying"
            else:
                ctx.problem(sheet.file, sheet.name, vref, _text(raw), f"unknown status {_text(raw)!r} (expected 整顿中 / 已整顿)")
                continue
            if _text(raw) != {"rectified": "已整顿", "rectifying": "整顿中"}[st]:
                ctx.log(sheet.file, sheet.name, vref, _text(raw), st, "status_mapped")
            rec = {"year": year, "unit_id": uid, "status": st, "source": sheet.where(r, val_col)}
            key_val = st
        if uid in seen:
            if seen[uid][0] == key_val:
                ctx.log(sheet.file, sheet.name, ucell, utext, uid, f"duplicate_row_dropped (same as {seen[uid][1]})")
            else:
                ctx.problem(sheet.file, sheet.name, vref, _text(raw), f"{_twice(seen[uid][2], utext, uid)} with different values ({seen[uid][1]} vs {vref})")
                recs = [x for x in recs if x["unit_id"] != uid]
            continue
        seen[uid] = (key_val, vref, utext)
        recs.append(rec)
    cols = ["year", "unit_id", "adjustment", "self_total", "note", "source"] if what == "review" else ["year", "unit_id", "status", "source"]
    return pd.DataFrame(recs, columns=cols)
