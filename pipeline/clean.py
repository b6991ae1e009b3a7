"""Cleaning: interpret the raw workbooks (SPEC §2) into the processed tables (SPEC §3).

Entry point: :func:`run` (``python -m pipeline clean``). It reads every year folder found by
:func:`pipeline.load.discover`, interprets headers and cells by what they mean, and writes,
atomically, to ``out_dir``:

* ``items``, ``units``, ``scores``, ``totals``, ``adjustments``, ``weak_orgs``, ``given``
  (Parquet + CSV twin, each validated with :func:`pipeline.schemas.validate`);
* ``cleaning_log.csv`` — one row per change (file, sheet, cell, original, new, rule);
* ``quarantine.csv`` — one row per value that could not be interpreted
  (file, sheet, cell, value, reason).

How a sheet is read
-------------------
1. The **header row** is the first row holding a unit-column keyword (单位 / 单位名称 /
   党组织名称 / 机关党组织 …). Rows above it holding category or dimension names (思想政治 …)
   belong to a two-level header; rows below it whose unit cell is blank and which carry text
   labels (item names under a merged category) belong to it too. Title rows are skipped.
   Merged header cells are forward-filled (calamine reports merged ranges; CSV files have none,
   so the lowest non-empty label of a column is used).
2. Each column label is classified: 序号, unit, 总分, 名次, 备注, 小计 (ignored), or an item. Items
   are matched to the year's item list by **normalised name** (NFKC, no spaces or line breaks,
   bracketed maximum removed: "三会一课（5分）", "(5)"); a bracketed maximum must equal the list's
   分值.
3. Rows below the header: blank rows and trailer rows (合计, 平均, 注：…, 制表人…) are skipped
   and logged; every other row must name a unit.
4. **Unit names** are normalised (NFKC: full-width brackets and U+3000 spaces; all spaces
   removed) and matched to the registry name, its aliases, or either with/without a leading
   市, among the units valid that year (``valid_from`` ≤ year ≤ ``valid_to``).
5. **Cells**: numbers; text numbers with full-width digits, a 分 suffix or stray spaces;
   grades 好/较好/一般 → ``grade_points`` (default 1.0/0.8/0.6 of the maximum); NA tokens
   (/ — - 无 不适用) → status ``na``; empty → status ``missing``. String parsing runs once per
   distinct string (``pandas.factorize``), the rest is whole-array NumPy.

Problems (SPEC §2.2) are collected over the whole run — unknown unit (with "did you mean"),
points outside [0, max], unknown grade, the same unit twice with different values, an item
column matching no item, unreadable file, item maxima not summing to 100 — and written to
``quarantine.csv``; then the run stops with one :class:`~pipeline.errors.PipelineError` line
naming file, sheet and cell, unless ``allow_quarantine`` (the values are left out and listed).
"""

from __future__ import annotations

import difflib
import os
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import config, load, schemas
from pipeline import io as pio
from pipeline import score
from pipeline.errors import PipelineError, where

__all__ = [
    "run",
    "normalise",
    "parse_value",
    "item_key",
    "UnitMatcher",
    "find_header",
    "read_items",
    "read_scores_sheet",
    "summarise_log",
]

LOG_COLUMNS = ["file", "sheet", "cell", "original", "new", "rule"]
QUARANTINE_COLUMNS = ["file", "sheet", "cell", "value", "reason"]


def file_year(files) -> "pd.Series":
    """The year a cleaning-log or quarantine row belongs to, from its ``file`` (``<year>/…``,
    relative to the raw folder); NaN for files outside a year folder (``units.csv``, which
    every year shares)."""
    y = pd.Series(files, dtype="string").str.extract(r"^(\d{4})/", expand=False)
    return pd.to_numeric(y, errors="coerce").astype("float64")

NA_TOKENS = frozenset({"/", "—", "——", "-", "--", "–", "−", "―", "无", "不适用", "N/A", "n/a", "NA"})
_GRADES = tuple(config.GRADES)
_NUM = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_MAX_IN_BRACKETS = re.compile(r"[(\[【〔]\s*(\d+(?:\.\d+)?)\s*分?\s*[)\]】〕]")
_MAX_TRAILING = re.compile(r"(\d+(?:\.\d+)?)分$")
_LEADING_NUMBER = re.compile(r"^(?:\d+[.、．]|[(]?[一二三四五六七八九十]+[)、.]|[(]\d+[)])")
_QUOTES = re.compile(r"[\"'“”‘’「」『』]")

# Kinds of parsed cells (small ints so that whole sheets are int8 arrays).
K_NUM, K_GRADE, K_NA, K_MISSING, K_BAD, K_TYPE = 0, 1, 2, 3, 4, 5

_TRAILER_RE = re.compile(r"^(?:合计|总计|小计|平均|均值|(?:注|说明|备注|附注)\d*[:.、]|注$|(?:制表|审核|填表|负责人|联系人|签字|盖章|日期|审批))")


def _is_trailer(text: str) -> bool:
    """Trailer rows below the data (合计, 平均, 注：…, 制表人…), on normalised text."""
    return bool(_TRAILER_RE.match(text))

_MAX_ROW = ("分值", "满分", "标准分", "分值(满分)", "满分值")
_CITY = "市"

_DIM_WORDS = {
    "competence": ("素质水平", "勤奋学习", "competence"),
    "efficiency": ("工作效率", "精神状态", "efficiency"),
    "service": ("服务质量", "工作态度", "service"),
    "highlights": ("工作亮点", "开拓创新", "highlights"),
    "results": ("工作成效", "真抓实干", "results"),
    "image": ("整体形象", "纪律作风", "image"),
}
_CAT_WORDS = {k: (v, k) for k, v in config.CATEGORY_ZH.items()}
_CATEGORY_LABELS = frozenset(
    [v for v in config.CATEGORY_ZH.values()] + [v + s for v in config.CATEGORY_ZH.values() for s in ("得分", "合计", "类")]
)
_HEADER_WORDS = tuple(w for ws in list(_DIM_WORDS.values()) + list(_CAT_WORDS.values()) for w in ws[:-1])


# =========================================================================== text helpers
_WS = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def _normalise_str(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def normalise(text: object) -> str:
    """NFKC (full-width → half-width, U+3000 → space) and remove every whitespace character."""
    if isinstance(text, str):
        return _normalise_str(text) if text else ""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return _normalise_str(str(text))


def item_key(label: object) -> tuple[str, float | None]:
    """Normalised item name and the maximum stated in the header, if any.

    ``"三会一课\\n（5分）"`` → ``("三会一课", 5.0)``; ``"党费收缴 (3)"`` → ``("党费收缴", 3.0)``.
    """
    s = _QUOTES.sub("", normalise(label))
    mx = None
    m = list(_MAX_IN_BRACKETS.finditer(s))
    if m:
        mx = float(m[-1].group(1))
        s = _MAX_IN_BRACKETS.sub("", s)
    return s, mx


def parse_value(text: str) -> tuple[int, float, str | None, str]:
    """Interpret one text cell.

    Returns
    -------
    (kind, value, grade, rule)
        ``kind`` is one of ``K_NUM``, ``K_GRADE``, ``K_NA``, ``K_MISSING``, ``K_BAD``;
        ``value`` the number (NaN otherwise); ``grade`` 好/较好/一般 or None; ``rule`` the
        cleaning-log rule(s), ``;``-separated ("" when nothing changed).
    """
    t = unicodedata.normalize("NFKC", text)
    rules = []
    if t != text:
        rules.append("fullwidth")
    u = re.sub(r"\s+", "", t)
    if u == "":
        return K_MISSING, np.nan, None, "blank_missing" if text else "empty_missing"
    if u != t:
        rules.append("spaces")
    if u in NA_TOKENS or text.strip() in NA_TOKENS:
        return K_NA, np.nan, None, ";".join(["na_token"] + rules)
    if u in _GRADES:
        return K_GRADE, np.nan, u, ";".join(["grade_mapped"] + rules)
    v = u
    if v.endswith("分"):
        v = v[:-1]
        rules.append("suffix_分")
    if _NUM.match(v):
        return K_NUM, float(v), None, ";".join(["text_number"] + rules)
    return K_BAD, np.nan, None, ""


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:g}"


# =========================================================================== run context
@dataclass
class _Run:
    """State of one cleaning run: settings, the cleaning log and the problems found.

    Log rows are kept as compact Arrow tables and appended to a temporary
    ``cleaning_log.csv`` by :meth:`spill` (once per year), so the log never has to fit in
    memory; :meth:`write_log` moves the file into place.
    """

    grade_map: dict
    log_path: Path
    logs: list = field(default_factory=list)  # Arrow tables of log rows, in order
    log_rows: list = field(default_factory=list)  # single rows not yet in ``logs``
    problems: list = field(default_factory=list)
    n_log: int = 0
    _spool: pio.PendingPath | None = None
    _spool_fh: object = None

    def log(self, file, sheet, cell, original, new, rule) -> None:
        self.log_rows.append((str(file), "" if sheet is None else str(sheet), cell or "", str(original), str(new), rule))

    def add_log(self, df: pd.DataFrame) -> None:
        """Append many log rows (a frame with LOG_COLUMNS), kept compact as an Arrow table."""
        self._flush()
        self.logs.append(_log_table(df))

    def _flush(self) -> None:
        if self.log_rows:
            self.logs.append(_log_table(pd.DataFrame(self.log_rows, columns=LOG_COLUMNS, dtype=object)))
            self.log_rows = []

    def spill(self) -> None:
        """Append the log rows collected so far to the temporary log file (formula-guarded)."""
        import codecs

        self._flush()
        if self._spool is None:
            self._spool = pio.PendingPath(self.log_path)
            self._spool_fh = open(self._spool.tmp, "wb")
            self._spool_fh.write(codecs.BOM_UTF8 + (",".join(LOG_COLUMNS) + "\n").encode())
        for tbl in self.logs:
            self.n_log += pio.append_csv(tbl, self._spool_fh)
        self.logs = []

    def write_log(self) -> int:
        """Move ``cleaning_log.csv`` into place (atomically); return its number of rows."""
        self.spill()
        self._spool_fh.close()
        self._spool.commit()
        self._spool = self._spool_fh = None
        return self.n_log

    def discard_log(self) -> None:
        """Drop the temporary log file of a run that ended by an unexpected error."""
        if self._spool is not None:
            self._spool_fh.close()
            self._spool.discard()
            self._spool = self._spool_fh = None

    def problem(self, file, sheet, cell, value, reason) -> None:
        self.problems.append((str(file), "" if sheet is None else str(sheet), cell or "", "" if value is None else str(value), reason))

    def quarantine_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.problems, columns=QUARANTINE_COLUMNS, dtype="str")


def _log_table(df: pd.DataFrame) -> pa.Table:
    """Log rows as Arrow; file, sheet and rule (few distinct values) dictionary-encoded."""
    cols = {}
    for c in LOG_COLUMNS:
        arr = pa.array(np.asarray(df[c], dtype=object).astype(str), type=pa.string())
        cols[c] = pc.dictionary_encode(arr) if c in ("file", "sheet", "rule") else arr
    return pa.table(cols)


# =========================================================================== registry
def _clean_registry(reg: pd.DataFrame, rel: str, ctx: _Run) -> pd.DataFrame:
    """Interpret the registry's text columns → the ``units`` table."""
    sheet = Path(rel).stem
    cols = list(reg.columns)
    rows = []
    seen = {}
    for rec in reg.to_dict("records"):
        r = rec["_row"] - 1

        def cell(col):
            return load.cell_ref(r, cols.index(col)) if col in cols else ""

        uid = rec["unit_id"]
        if not uid and not rec["name"]:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_]+", uid or ""):
            ctx.problem(rel, sheet, cell("unit_id"), uid, f"unit_id {uid!r} must be ASCII letters, digits or _")
            continue
        if uid in seen:
            ctx.problem(rel, sheet, cell("unit_id"), uid, f"unit_id {uid} appears twice (rows {seen[uid]} and {rec['_row']})")
            continue
        seen[uid] = rec["_row"]
        name = rec["name"].strip()
        if not name:
            ctx.problem(rel, sheet, cell("name"), "", f"unit {uid} has no name")
            continue
        aliases = [a.strip() for a in re.split(r"[;；]", rec.get("aliases") or "") if a.strip()]
        vals = {}
        for col in ("members", "valid_from", "valid_to"):
            v = (rec.get(col) or "").strip()
            if v == "":
                vals[col] = None
                continue
            try:
                f = float(unicodedata.normalize("NFKC", v))
                if not f.is_integer() or f < 0:
                    raise ValueError
                vals[col] = int(f)
            except ValueError:
                ctx.problem(rel, sheet, cell(col), v, f"{col} of unit {uid} must be a whole number")
                vals[col] = None
        rows.append(
            {
                "unit_id": uid,
                "name": name,
                "aliases": ";".join(aliases) if aliases else None,
                "type": rec.get("type") or "",
                "sector": rec.get("sector") or "",
                "members": vals["members"] if vals["members"] is not None else 0,
                "valid_from": vals["valid_from"],
                "valid_to": vals["valid_to"],
                "successor_id": rec.get("successor_id") or None,
            }
        )
    units = pd.DataFrame(rows, columns=list(load._REGISTRY_COLS))
    units["valid_from"] = units["valid_from"].astype("Int64")
    units["valid_to"] = units["valid_to"].astype("Int64")
    known = set(units["unit_id"])
    for rec in units.loc[units["successor_id"].notna()].to_dict("records"):
        if rec["successor_id"] not in known:
            ctx.problem(rel, sheet, "", rec["successor_id"], f"successor_id {rec['successor_id']} of unit {rec['unit_id']} is not in the registry")
    return units


class UnitMatcher:
    """Match unit names as written in a workbook to registry ids, year by year.

    A name matches, in this order of preference: the registry name, an alias (曾用名/简称), or
    either with a leading 市 added or removed — each after :func:`normalise` (NFKC, no
    spaces) — among the units valid in the year. Results are memoised per (year, text).
    """

    def __init__(self, units: pd.DataFrame):
        self.units = units
        self._entries = []  # (key, priority, unit_id, valid_from, valid_to)
        for rec in units.to_dict("records"):
            vf = rec["valid_from"] if pd.notna(rec["valid_from"]) else -10**9
            vt = rec["valid_to"] if pd.notna(rec["valid_to"]) else 10**9
            aliases = rec["aliases"] if isinstance(rec["aliases"], str) else ""
            names = [(rec["name"], 0)] + [(a, 1) for a in aliases.split(";") if a]
            for nm, pri in names:
                key = normalise(nm)
                self._entries.append((key, pri, rec["unit_id"], vf, vt))
                alt = key[1:] if key.startswith(_CITY) else _CITY + key
                if alt:
                    self._entries.append((alt, pri + 2, rec["unit_id"], vf, vt))
        self.names = dict(zip(units["unit_id"], units["name"]))
        self._year: dict[int, dict] = {}
        self._memo: dict = {}

    def _index(self, year: int) -> dict:
        if year not in self._year:
            idx: dict[str, dict[str, int]] = {}
            for key, pri, uid, vf, vt in self._entries:
                if vf <= year <= vt:
                    d = idx.setdefault(key, {})
                    d[uid] = min(pri, d.get(uid, 99))
            self._year[year] = idx
        return self._year[year]

    def match(self, year: int, text: str) -> tuple[str | None, str]:
        """Return ``(unit_id, rule)``; ``(None, reason)`` when the name matches no unit.

        ``rule`` is "" for an exact registry name, else ``unit_normalised``, ``unit_alias``
        or ``unit_city_prefix``.
        """
        memo_key = (year, text)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = normalise(text)
        hits = self._index(year).get(key, {})
        if hits:
            best = min(hits.values())
            ids = sorted(u for u, p in hits.items() if p == best)
            if len(ids) > 1:
                res = (None, f"unit name {text!r} is ambiguous in {year}: {', '.join(f'{u} ({self.names[u]})' for u in ids)}")
            else:
                uid = ids[0]
                if best == 0:
                    rule = "" if str(text) == self.names[uid] else "unit_normalised"
                else:
                    rule = "unit_alias" if best == 1 else "unit_city_prefix"
                res = (uid, rule)
        else:
            res = (None, self._unknown(year, text, key))
        self._memo[memo_key] = res
        return res

    def _unknown(self, year: int, text: str, key: str) -> str:
        other = sorted({(uid, vf, vt) for k, _, uid, vf, vt in self._entries if k == key})
        if other:
            spans = ", ".join(
                f"{u} ({self.names[u]}) valid {'' if vf < -10**8 else vf}–{'' if vt > 10**8 else vt}" for u, vf, vt in other
            )
            return f"unit {text!r} is not valid in {year}: registry has {spans}"
        idx = self._index(year)
        names = {normalise(self.names[u]): self.names[u] for d in idx.values() for u in d}
        close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.4)
        hint = f" — did you mean {', '.join(repr(names[c]) for c in close)}?" if close else " — not in units.csv"
        return f"unknown unit {text!r}{hint}"


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


# =========================================================================== files
def _sniff(path: Path, root: Path, cache: dict) -> str | None:
    """Classify a file by its content (for names that say nothing)."""
    try:
        sheets = _sheets(path, root, cache)
    except PipelineError:
        return None
    if sum(load.month_of(s.name) is not None for s in sheets) >= 2:
        return "monthly"
    for s in sheets[:1]:
        hdr = find_header(s, key=_items_key)
        if hdr is not None and any("分值" in t or "满分" in t for t in hdr.norm):
            return "items"
        hdr = find_header(s)
        if hdr is not None:
            if any(("调整" in t or "核实" in t) for t in hdr.norm):
                return "review"
            if any(("整顿" in t or "状态" in t) for t in hdr.norm):
                return "weak"
            return "summary"
    return None


def _sheets(path: Path, root: Path, cache: dict) -> list[load.Sheet]:
    if path not in cache:
        cache[path] = load.read_sheets(path, root)
    return cache[path]


def _summary_sheet(sheets: list[load.Sheet], explicit: str | None, ctx: _Run) -> load.Sheet | None:
    if explicit:
        for s in sheets:
            if s.name == explicit:
                return s
        ctx.problem(sheets[0].file if sheets else "", explicit, "", "", f"sources.yaml names sheet {explicit!r}, which the summary workbook does not have")
        return None
    chosen = next((s for s in sheets if normalise(s.name) == "汇总"), None)
    chosen = chosen or next((s for s in sheets if "汇总" in normalise(s.name) and "月" not in normalise(s.name)), None)
    chosen = chosen or (sheets[0] if sheets else None)
    return chosen


def _years_arg(years):
    if years is None:
        return None
    if isinstance(years, int):
        return [years]
    if isinstance(years, str):
        from pipeline.params import parse_years

        return parse_years(years)
    return years


def run(
    raw_dir,
    out_dir,
    years=None,
    allow_quarantine: bool = False,
    na_policy: str = config.NA_POLICY,
    top_n: int = config.TOP_N,
    progress: bool = True,
    grade_map: dict | None = None,
    scheduler=None,
) -> dict:
    """Clean the raw folder into the processed tables (SPEC §2 → §3).

    Parameters
    ----------
    raw_dir : path
        Raw folder: ``units.csv`` and one folder per year (never written).
    out_dir : path
        Processed folder (created; every file is replaced atomically).
    years : (first, last) or iterable of int or None
        Years to clean (default: every year folder).
    allow_quarantine : bool
        Continue without values that cannot be interpreted (they stay in quarantine.csv).
    na_policy, top_n
        Passed to :func:`pipeline.score.totals` for the ``totals`` table.
    progress : bool
        Show a tqdm progress bar (per file, labelled with the year) on stderr when stderr is
        a terminal.
    grade_map : dict, optional
        Grade shares (default ``config.GRADE_MAP``).
    scheduler : None, str or distributed.Client
        Read the workbooks on a Dask cluster, one task per file (:mod:`pipeline.cluster`;
        None: the run's scheduler if ``--scheduler`` set one, else this process). Each task
        keeps its own log and problems; they are merged in the single-machine order, so the
        tables, ``cleaning_log.csv`` and ``quarantine.csv`` are identical. The results of
        all files are gathered before writing (memory: all years, not one).

    Returns
    -------
    dict
        Counts: ``years``, ``units``, ``items``, ``files``, ``cells`` (item cell values read),
        ``scores`` (rows), ``log`` (cleaning-log rows), ``quarantined`` (problems),
        ``out_dir``.

    Raises
    ------
    PipelineError
        One line naming file, sheet and cell of the first problem (all are in quarantine.csv),
        unless ``allow_quarantine``.

    Notes
    -----
    Memory stays bounded by one year: each year's scores are validated and appended to
    ``scores.parquet`` (:class:`pipeline.io.TableWriter`) and its log rows to
    ``cleaning_log.csv`` as soon as the year is read; the CSV twin of ``scores`` is made from
    the Parquet file one row group at a time; ``totals`` come from the annual rows alone.
    Files are written to temporary paths and moved into place at the end, so a run that stops
    leaves the previous outputs as they were. Arrow buffers are allocated from the system
    allocator during the run: it hands freed memory back at once (benchmarks/bench_clean.py:
    peak RSS 1.9 GB before streaming, under 0.7 GB after, on 10 M cell values).
    """
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        return _run(raw_dir, out_dir, years, allow_quarantine, na_policy, top_n, progress, grade_map, scheduler)
    finally:
        pa.set_memory_pool(previous)


def _run(raw_dir, out_dir, years, allow_quarantine, na_policy, top_n, progress, grade_map, scheduler=None) -> dict:
    """The body of :func:`run` (see there): read and write one year at a time.

    Each year's score pieces are checked, validated and appended to ``scores.parquet`` (and
    its log rows to ``cleaning_log.csv``) as soon as the year is read, then freed; only the
    annual rows (without ``source``) are kept for the ``totals``. Every file is written to a
    temporary path and moved into place at the end, so a run that stops leaves the previous
    tables as they were.
    """
    from tqdm.auto import tqdm

    from pipeline import cluster

    scheduler = cluster.resolve(scheduler)
    raw = Path(raw_dir).resolve()
    out = Path(out_dir).resolve()
    if out == raw or raw in out.parents:
        raise PipelineError(f"output folder {out} is inside the raw folder {raw}; data/raw is never written")
    if not raw.is_dir():
        raise PipelineError(f"{raw}: raw folder not found")
    if na_policy not in config.NA_POLICIES:
        raise PipelineError(f"unknown na_policy {na_policy!r} (one of {', '.join(config.NA_POLICIES)})")
    gm = dict(config.GRADE_MAP if grade_map is None else grade_map)
    if set(gm) != set(config.GRADES):
        raise PipelineError(f"grade_map must give 好/较好/一般, got {sorted(gm)}")
    ctx = _Run(gm, out / "cleaning_log.csv")
    scores_out = None
    try:

        def fail_now(err: PipelineError) -> PipelineError:
            ctx.problem("", "", "", "", str(err))
            _write_side(out, ctx)
            return err

        try:
            reg = load.read_registry(raw / "units.csv", raw)
        except PipelineError as err:
            raise fail_now(err) from None
        units = _clean_registry(reg, "units.csv", ctx)
        if ctx.problems:
            _stop(out, ctx, force=True)
        matcher = UnitMatcher(units)
        try:
            folders = load.year_folders(raw, _years_arg(years))
        except PipelineError as err:
            raise fail_now(err) from None
        if not folders:
            raise fail_now(PipelineError(f"{raw}: no year folders (e.g. {raw.name}/2015/) to clean"))

        cache: dict = {}
        plans = {}
        for year, folder in folders.items():
            try:
                plans[year] = load.discover(folder, raw, sniff=lambda p: _sniff(p, raw, cache))
            except PipelineError as err:
                ctx.problem(f"{folder.name}/sources.yaml", "", "", "", str(err))
        n_files = sum(len(p[r]) for p in plans.values() for r in load.ROLES)
        # disable=None: a bar on an interactive terminal, nothing in pipes and logs
        bar = tqdm(total=n_files, desc="clean", unit="file", file=sys.stderr, disable=None if progress else True, leave=False)
        remote = None
        if scheduler is not None:  # one task per file on the cluster, merged below in this order
            remote = _read_remote(plans, raw, matcher, gm, scheduler)
            cache.clear()  # sniffed workbooks: the workers read their own
        scores_out = pio.TableWriter(out, "scores")
        items_all, annual_all, given_all, adj_all, weak_all = [], [], [], [], []
        n_cells = 0
        schema_error = None  # a scores schema failure, raised after the problems (as before streaming)
        for year in sorted(plans):
            got = _read_year(year, plans[year], folders[year].name, raw, cache, matcher, ctx, bar, remote)
            n_cells += got.cells
            for part, parts in ((got.items, items_all), (got.given, given_all), (got.adjustments, adj_all), (got.weak, weak_all)):
                parts.extend(part)
            # each piece is one (year, period) sorted by unit and item: ordering the pieces sorts the table
            pieces = sorted(((m, t) for m, t in got.scores if t.num_rows), key=lambda kv: kv[0])
            del got
            _check_overlaps([((year, m), t) for m, t in pieces], ctx)
            annual_all += [t.drop_columns(["source"]) for m, t in pieces if m == 0]
            if pieces and schema_error is None and (allow_quarantine or not ctx.problems):
                schema_error = _write_scores(scores_out, pieces)
            del pieces
            ctx.spill()
        bar.close()

        # ---- the other tables
        items_df = _concat(items_all, ["year", "item_id", "item_name", "category", "dimension", "max_points", "method"])
        annual = _frame(annual_all) if annual_all else _empty_scores().drop(columns="source")
        del annual_all
        given = _concat(given_all, ["year", "unit_id", "given_total", "given_rank", "note", "source"])
        adjustments = _concat(adj_all, ["year", "unit_id", "adjustment", "self_total", "note", "source"])
        weak = _concat(weak_all, ["year", "unit_id", "status", "source"])
        if ctx.problems and not allow_quarantine:
            _stop(out, ctx)
        items_df = schemas.validate(items_df, "items")
        units = schemas.validate(units, "units")
        if schema_error is not None:
            raise schema_error
        if scores_out.rows == 0:
            schemas.validate(_empty_scores(), "scores")
        adjustments = schemas.validate(adjustments, "adjustments")
        weak = schemas.validate(weak, "weak_orgs")
        given = schemas.validate(given, "given")
        totals = score.totals(annual, items_df, adjustments, na_policy=na_policy, top_n=top_n, grade_map=None)
        del annual
        totals = schemas.validate(totals, "totals")
        with pio.publish_set():  # issue #12: the tables replace the previous set together, or not at all
            pio.write_table(items_df, out, "items")
            pio.write_table(units, out, "units")
            scores_out.close(empty=_empty_scores())
            for name, df in (("totals", totals), ("adjustments", adjustments), ("weak_orgs", weak), ("given", given)):
                pio.write_table(df, out, name)
            n_log = _write_side(out, ctx)
        return {
            "years": sorted(folders),
            "units": int(units.shape[0]),
            "items": int(items_df.shape[0]),
            "files": int(n_files),
            "cells": int(n_cells),
            "scores": int(scores_out.rows),
            "log": int(n_log),
            "quarantined": len(ctx.problems),
            "out_dir": str(out),
        }
    finally:  # after an error: drop the temporary files; the previous outputs stay
        if scores_out is not None:
            scores_out.discard()
        ctx.discard_log()


@dataclass
class _Year:
    """What :func:`_read_year` read from one year folder."""

    items: list = field(default_factory=list)  # 0 or 1 items frame
    scores: list = field(default_factory=list)  # (month, Arrow table); month 0 = annual
    given: list = field(default_factory=list)
    adjustments: list = field(default_factory=list)
    weak: list = field(default_factory=list)
    cells: int = 0  # item cell values read


def _read_year(year: int, plan: dict, rel_folder: str, raw: Path, cache: dict, matcher: UnitMatcher, ctx: _Run, bar,
               remote: dict | None = None) -> _Year:
    """Read every file of one year folder (item list first: the other files need it).

    With ``remote`` (:func:`_read_remote`) the files were read on a cluster; their results,
    log rows and problems are taken in the same order as here.
    """
    got = _Year()
    for p in plan["ignored"]:
        ctx.log(f"{rel_folder}/{p.name}", "", "", p.name, "", "file_ignored")
    for role in ("items", "summary", "review", "weak"):
        if len(plan[role]) > 1:
            names = ", ".join(p.name for p in plan[role])
            ctx.problem(f"{rel_folder}/", "", "", names, f"{year}: several {role} files ({names}) — name one in sources.yaml")
            plan[role] = []
    if not plan["items"]:
        ctx.problem(f"{rel_folder}/", "", "", "", f"{year}: no item list (考评项目一览表) found")
    if not plan["summary"]:
        ctx.problem(f"{rel_folder}/", "", "", "", f"{year}: no annual summary (考评汇总表) found")
    bar.set_description(f"clean {year}")
    items = None
    for path in plan["items"]:
        items = _take(remote, path, ctx) if remote is not None else _items_file(path, year, raw, ctx, cache)
        bar.update(1)
    if items is not None:
        got.items.append(items)
    for role in ("summary", "monthly", "review", "weak"):
        for path in plan[role]:
            if remote is not None:
                part = _take(remote, path, ctx)
            else:
                part = _data_file(role, path, year, raw, items, matcher, plan.get("summary_sheet"), ctx, cache)
            for f in ("scores", "given", "adjustments", "weak"):
                getattr(got, f).extend(getattr(part, f))
            got.cells += part.cells
            bar.update(1)
    return got


def _items_file(path: Path, year: int, raw: Path, ctx: _Run, cache: dict) -> pd.DataFrame | None:
    """The item list of one year from its file (None when unreadable; the problem is in ``ctx``)."""
    items = None
    try:
        sheets = _sheets(path, raw, cache)
        items = read_items(sheets[0], year, ctx) if sheets else None
    except PipelineError as err:
        ctx.problem(load._rel(path, raw), "", "", "", str(err))
    cache.pop(path, None)
    return items


def _data_file(role: str, path: Path, year: int, raw: Path, items, matcher: UnitMatcher, summary_sheet, ctx: _Run, cache: dict) -> _Year:
    """Read one summary, monthly, review or weak-organisation file of a year (items already read)."""
    got = _Year()

    def add_scores(month: int, sc) -> None:
        if sc is not None:
            if isinstance(sc, pa.Table):  # an unreadable sheet gives an empty frame
                got.scores.append((month, sc))
            got.cells += len(sc)

    try:
        sheets = _sheets(path, raw, cache) if role != "monthly" else None
        if role == "summary" and items is not None:
            sh = _summary_sheet(sheets, summary_sheet, ctx)
            for s in sheets:
                if s is not sh:
                    ctx.log(s.file, s.name, "", s.name, "", "sheet_ignored")
            if sh is not None:
                sc, gv = read_scores_sheet(sh, year, "Y", items, matcher, ctx)
                add_scores(0, sc)
                if gv is not None:
                    got.given.append(gv)
        elif role == "monthly" and items is not None:
            names = load.sheet_names(path, raw) if path not in cache else [x.name for x in cache[path]]
            sheet_iter = cache.pop(path) if path in cache else load.iter_sheets(path, raw)
            for s in sheet_iter:  # one month in memory at a time
                m = load.month_of(s.name)
                if m is None and len(names) == 1:
                    m = load.month_in_filename(path.stem)
                if m is None:
                    ctx.log(s.file, s.name, "", s.name, "", "sheet_ignored")
                    continue
                add_scores(m, read_scores_sheet(s, year, str(m), items, matcher, ctx)[0])
        elif role in ("review", "weak"):
            df = _side_table(sheets[0], year, matcher, ctx, role) if sheets else None
            if df is not None:
                (got.adjustments if role == "review" else got.weak).append(df)
    except PipelineError as err:
        ctx.problem(load._rel(path, raw), "", "", "", str(err))
    cache.pop(path, None)
    return got


# ---- the same file readers as tasks on a Dask cluster (SPEC §9): one task per file
def _file_task(spec: tuple, matcher: UnitMatcher, grade_map: dict):
    """Run :func:`_items_file` / :func:`_data_file` with a private log; return (result, log tables, problems)."""
    role, path, year, raw, items, summary_sheet = spec
    sub = _Run(grade_map, Path(os.devnull))
    if role == "items":
        res = _items_file(path, year, raw, sub, {})
    else:
        res = _data_file(role, path, year, raw, items, matcher, summary_sheet, sub, {})
    sub._flush()
    return res, sub.logs, sub.problems


def _take(remote: dict, path: Path, ctx: _Run):
    """A file's result from the cluster; its log rows and problems join ``ctx`` at this point,
    i.e. in the order of the single-machine run."""
    res, logs, problems = remote.pop(path)
    ctx._flush()
    ctx.logs.extend(logs)
    ctx.problems.extend(problems)
    return res


def _read_remote(plans: dict, raw: Path, matcher: UnitMatcher, grade_map: dict, scheduler) -> dict:
    """Read every file of every year on the cluster: item lists first (the others need them).

    Returns ``{path: (result, log tables, problems)}`` for :func:`_take`. The files are those
    :func:`_read_year` reads (a role with several files reads none of them).
    """
    from pipeline import cluster

    def files(plan, role):
        return list(plan[role]) if role == "monthly" or len(plan[role]) <= 1 else []

    shared = {"matcher": matcher, "grade_map": grade_map}
    specs = [("items", p, y, raw, None, None) for y, plan in sorted(plans.items()) for p in files(plan, "items")]
    done = dict(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-items")))
    items_of = {y: next((done[p][0] for p in files(plan, "items")), None) for y, plan in plans.items()}
    specs = [(role, p, y, raw, items_of[y], plan.get("summary_sheet"))
             for y, plan in sorted(plans.items()) for role in ("summary", "monthly", "review", "weak") for p in files(plan, role)]
    done.update(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-files")))
    return done


def _write_scores(writer: pio.TableWriter, pieces: list) -> PipelineError | None:
    """Validate one year's score pieces and append them to ``writer``; return a schema error.

    The pieces are sorted by period; ``year`` and ``period`` are part of the unique key of
    ``scores``, so validating one period at a time is the same check as validating the whole
    table at once, with transient memory of one period. The frame is built with the schema's
    dtypes already, so the coerced copy is not kept.
    """
    frame = _frame([t for _, t in pieces])
    months = np.repeat([m for m, _ in pieces], [t.num_rows for _, t in pieces])
    bounds = np.flatnonzero(np.diff(months)) + 1
    try:
        for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(months)]):
            checked = schemas.validate(frame.iloc[a:b], "scores")
            if list(checked.dtypes) != list(frame.dtypes):  # pragma: no cover - guard for schema changes
                raise PipelineError(f"scores: dtypes {list(frame.dtypes)} differ from the schema's {list(checked.dtypes)}")
            del checked
    except PipelineError as err:
        return err
    writer.write(frame)
    return None


def _check_overlaps(pieces: list, ctx: _Run) -> None:
    """Two pieces for the same (year, period) — e.g. sheets 3月 and 三月 — must not overlap.

    Within one piece (one sheet) every (unit, item) is unique by construction, so the key of
    the scores table can only repeat across pieces of the same year and period.
    """
    by_key: dict = {}
    for key, t in pieces:
        by_key.setdefault(key, []).append(t)
    for (year, m), ts in by_key.items():
        if len(ts) < 2:
            continue
        df = pa.concat_tables(ts).select(["unit_id", "item_id", "source"]).to_pandas()
        dup = df.duplicated(["unit_id", "item_id"], keep=False)
        for rec in df.loc[dup].head(50).to_dict("records"):
            f, s, c = (str(rec["source"]).split("!") + ["", ""])[:3]
            period = "Y" if m == 0 else str(m)
            ctx.problem(f, s, c, "", f"unit {rec['unit_id']} item {rec['item_id']} of {year} period {period} is read from two sheets")


def _frame(tables: list) -> pd.DataFrame:
    """Scores pieces (Arrow, large_string text) → one DataFrame without copying the text."""
    t = pa.concat_tables(tables)
    cols = {}
    for c in t.column_names:
        col = t[c]
        if pa.types.is_large_string(col.type) or pa.types.is_string(col.type):
            cols[c] = pd.Series(col.cast(pa.large_string()), dtype="str")
        else:
            cols[c] = col.to_numpy()
    return pd.DataFrame(cols, copy=False)


def summarise_log(log: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Count the cleaning-log rows per rule, with each rule's meaning (data-quality appendix).

    Parameters
    ----------
    log : DataFrame
        ``cleaning_log.csv`` (columns file, sheet, cell, original, new, rule).
    lang : {"zh", "en"}

    Returns
    -------
    DataFrame
        ``rule`` (the base rule; combined rules such as ``text_number;fullwidth`` count once
        under each part), ``count`` (log rows), ``description`` (from
        ``pipeline/labels/clean.yaml``; the rule itself when it has no text).
    """
    from pipeline.i18n import t

    parts = log["rule"].astype(str).str.split(";").explode().str.strip()
    base = parts.str.replace(r"\s*\(.*$", "", regex=True).str.replace(r":.*$", "", regex=True)
    counts = base[base != ""].value_counts().rename_axis("rule").reset_index(name="count")

    def describe(rule: str) -> str:
        try:
            return t(f"clean_rule_{rule}", lang)
        except KeyError:
            return rule

    counts["description"] = counts["rule"].map(describe)
    return counts.sort_values(["count", "rule"], ascending=[False, True], kind="stable").reset_index(drop=True)


def _concat(parts: list, cols: list) -> pd.DataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("adjustment", "given_total", "given_rank", "max_points") else ("int64" if c == "year" else "str")) for c in cols})
    return pd.concat(parts, ignore_index=True)[cols]


def _write_side(out: Path, ctx: _Run) -> int:
    n_log = ctx.write_log()
    pio.write_csv(ctx.quarantine_frame(), out / "quarantine.csv")
    return n_log


def _stop(out: Path, ctx: _Run, force: bool = False) -> None:
    """Write quarantine.csv and the log, then raise the first problem as one line."""
    _write_side(out, ctx)
    f, s, c, v, reason = ctx.problems[0]
    loc = where(f, s or None, c or None) if f and not reason.startswith(f) else ""
    more = len(ctx.problems) - 1
    tail = f" (+{more} more problem(s); all {len(ctx.problems)} listed in {out / 'quarantine.csv'})" if more else f" (listed in {out / 'quarantine.csv'})"
    hint = "" if force else "; rerun with --allow-quarantine to continue without these values"
    raise PipelineError(f"{loc + ': ' if loc else ''}{reason}{tail}{hint}".replace("\n", " "))
