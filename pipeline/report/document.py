"""Document model: numbered figures and tables, display of tables in the report language
(headers, codes, item names), captions, HTML tables."""

from __future__ import annotations

import base64
import html as _html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.i18n import current, labels, t


_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")


#: Tables wider than this stay in tables.xlsx only; longer ones are cut in the HTML.
_MAX_COLS, _MAX_ROWS = 9, 25


def _span_ctx(first: int, last: int, prev: int, year: int) -> dict[str, str]:
    """Caption pieces for a span of years and for the last pair of consecutive years."""
    span = t("rep_span_many", first=first, last=last) if first != last else t("rep_span_one", first=last)
    pair = t("rep_pair", prev=prev, year=year) if prev != year else t("rep_pair_none")
    return {"span": span, "pair": pair}


class _Doc:
    """Numbered figures and tables in document order, with symbolic keys for evidence links.

    ``subst`` maps Chinese text found in data (item names, a few workbook words quoted by other
    modules) to its display form in the report language (see :func:`_english_subst`); it is
    empty for Chinese documents.
    """

    def __init__(self, subst: dict | None = None, **ctx):
        self.lang = current()  # the language the document is built in (the HTML lang attribute)
        self.ctx = ctx
        self.subst = subst or {}
        self.unit_names: list[str] = []
        self.unit_lookup: dict[str, str] = {}
        self.item_lookup: dict[str, str] = {}
        self.n_fig = 0
        self.n_tab = 0
        self.refs: dict[str, str] = {}
        self.xlsx: list[tuple[str, pd.DataFrame]] = []

    def figure(self, png: bytes | Path, caption: str, key: str | None = None) -> dict:
        data = Path(png).read_bytes() if isinstance(png, Path) else png
        self.n_fig += 1
        ref = t("rep_fig_ref", n=self.n_fig)
        if key:
            self.refs.setdefault(f"fig:{key}", ref)
        tall = False
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24:  # IHDR: width, height (big-endian)
            w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            tall = h > 1.1 * w
        return {"kind": "fig", "n": self.n_fig, "ref": ref, "caption": caption, "tall": tall,
                "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")}

    def display(self, df: pd.DataFrame) -> pd.DataFrame:
        return _display(df, self.subst)

    def table(self, df: pd.DataFrame, caption: str, key: str | None = None, xlsx: bool | pd.DataFrame = True, max_rows: int = _MAX_ROWS) -> dict:
        """A numbered table; ``xlsx`` = True puts the shown table in tables.xlsx, a DataFrame
        puts that (fuller) table there instead, False nothing."""
        self.n_tab += 1
        ref = t("rep_tab_ref", n=self.n_tab)
        if key:
            self.refs.setdefault(f"tab:{key}", ref)
        shown = self.display(df)
        if isinstance(xlsx, pd.DataFrame):
            self.xlsx.append((f"{self.n_tab:02d} {caption}", self.display(xlsx)))
        elif xlsx:
            self.xlsx.append((f"{self.n_tab:02d} {caption}", shown))
        note = t("rep_table_truncated", k=max_rows, n=len(df)) if len(df) > max_rows else ""
        return {"kind": "table", "n": self.n_tab, "ref": ref, "caption": caption, "html": _table_html(shown.head(max_rows), _col_classes(df)), "note": note,
                "short": min(len(df), max_rows) <= 25}

    def text(self, s: str) -> str:
        return _subst(s, self.subst)

    def resolve(self, evidence: tuple) -> str:
        refs = list(dict.fromkeys(self.refs[e] for e in evidence if e in self.refs))
        refs.sort(key=lambda r: (re.sub(r"\d+", "", r), int(re.sub(r"\D", "", r) or 0)))  # figures, then tables, in number order
        return "、".join(refs) if self.lang == "zh" else ", ".join(refs)


def _subst(text: str, subst: dict) -> str:
    """Replace each key of ``subst`` found in ``text`` by its value; longest keys first."""
    if not subst or not isinstance(text, str):
        return text
    for k in sorted(subst, key=len, reverse=True):
        if k in text:
            text = text.replace(k, subst[k])
    return text


def _item_display(items: pd.DataFrame | None) -> dict[str, str]:
    """Chinese item name → how a document in the active language shows it.

    Chinese: the name itself (empty mapping). Other languages: the translation in
    ``pipeline/labels/items.yaml`` (key ``item_<name>``) when there is one, else ``Item I07``
    (the item's id; the latest year's id when a name recurs). The Chinese original is never
    shown in an English document.
    """
    if current() == "zh" or items is None or not len(items):
        return {}
    lab = labels()
    it = items.sort_values(["year", "item_id"]) if "year" in items else items
    out = {}
    for iid, name in zip(it["item_id"].astype(str), it["item_name"].astype(str)):
        out[name] = lab.get(f"item_{name}", t("rep_item_fallback", item_id=iid))
    return out


def _english_subst(items: pd.DataFrame | None) -> dict[str, str]:
    """Everything an English document translates inside data text: item names and the
    workbook words of ``rep_gloss_*`` (e.g. 总分 → total) quoted by other modules."""
    if current() == "zh":
        return {}
    lab = labels()
    out = {k[len("rep_gloss_"):]: v for k, v in lab.items() if k.startswith("rep_gloss_")}
    out.update(_item_display(items))
    return out


def _unit_names(units: pd.DataFrame) -> list[str]:
    names = set(units["name"].astype(str))
    if "aliases" in units:
        names |= {a for v in units["aliases"].dropna() for a in str(v).split(";") if a}
    return sorted(names, key=len, reverse=True)


def _label(key: str, default: str | None = None) -> str:
    lab = labels()
    return lab.get(key, default if default is not None else key)


def _col_label(col: str) -> str:
    """Header of a column: ``rep_col_<col>`` (report.yaml holds one for every column of every
    chapter table), else a shared label, else the name with spaces."""
    lab = labels()
    for k in (f"rep_col_{col}", col, f"cmp_col_{col}", f"sens_col_{col}", f"int_col_{col}"):
        if k in lab:
            return lab[k]
    return col.replace("_", " ")


#: Column → label-key prefixes that translate its (code) values.
_VALUE_KEYS = {
    "category": ("cat_",),
    "dimension": ("dim_",),
    "sector": ("sector_",),
    "type": ("type_",),
    "severity": ("rep_severity_",),
    "check": ("int_chk_", "int_check_"),
    "scheme": ("sens_scheme_",),
    "most_different_scheme": ("sens_scheme_",),
    "attribute": ("sens_attribute_",),
    "direction": ("cmp_dir_",),
    "link": ("cmp_break_",),
    "break_kind": ("cmp_break_",),
    "factor": ("cat_", "sens_factor_"),
    "top_sobol_factor": ("cat_", "sens_factor_"),
    "group": ("sector_", "type_", "sens_size_", "rep_group_", "cat_", "dim_", "rep_col_"),
    "key": ("cat_", "dim_"),
    "target": ("rep_target_",),
    "metric": ("rep_metric_", "rep_stat_"),
    "statistic": ("rep_stat_",),
    "level": ("rep_level_",),
    "flag": ("rep_flag_",),
    "status": ("rep_status_",),
    "p_method": ("rep_pmethod_",),
    "verdict": ("cmp_verdict_",),
    "by": ("rep_col_",),
}


def _value_label(col: str, v: Any) -> Any:
    if not isinstance(v, str):
        return v
    lab = labels()
    if col == "method":
        return _label(f"rep_method_{v}", v)
    if col == "rule":  # cleaning-log rules, ";"-joined tokens (labels in clean.yaml)
        sep = "；" if current() == "zh" else "; "
        return sep.join(lab.get(f"clean_rule_{tok}", tok) for tok in v.split(";") if tok)
    if col == "name" and f"cat_{v}" in lab:  # sens_effective_weights: category rows
        return lab[f"cat_{v}"]
    for prefix in _VALUE_KEYS.get(col, ()):
        for vv in (v, v.removeprefix("w_")):
            if prefix + vv in lab:
                return lab[prefix + vv]
    return v


_NAME_COLS = {"name", "unit_name", "unit", "name_from", "name_to", "successor_name", "series_name"}


def _display(df: pd.DataFrame, subst: dict | None = None) -> pd.DataFrame:
    """Translate values and headers for display.

    In an English document, Chinese data text is translated through ``subst`` (item names,
    workbook words); what still holds Chinese after that is data as written in the workbooks
    (unit names, file names, notes, grade words) and is shown as written. Both editions show
    the same columns: a column is never left out for its language.
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if s.dtype == bool or str(s.dtype) == "boolean":
            s = s.map(lambda v: t("rep_yes") if v is True or v == 1 else "")
        elif s.dtype == object or pd.api.types.is_string_dtype(s):
            s = s.map(lambda v, c=col: _value_label(c, v))
            if current() != "zh" and col not in _NAME_COLS:
                s = s.map(lambda v: _subst(v, subst or {}) if isinstance(v, str) else v)
        out[_col_label(str(col))] = s
    return out.reset_index(drop=True)


def _fmt_cell(v: Any, col: str, decimals: int | str | None = None) -> str:
    """Text of one table cell; ``decimals`` fixes the decimals of a float column (None = int,
    ``"auto"`` = per cell: integers as integers, |x| < 1 with 3 decimals, else 2)."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "✓" if v else ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if decimals == "auto":
            return str(int(round(x))) if x.is_integer() else (f"{x:.3f}" if abs(x) < 1 else f"{x:.2f}")
        if decimals is None:
            return str(int(round(x))) if x.is_integer() else f"{x:.2f}"
        return f"{x:.{decimals}f}"
    return str(v)


_MIXED_COLS = {"value", "数值", "Value"}


def _decimals(s: pd.Series, col: str) -> int | str | None:
    """One number format per column: integers stay integers, p-values 4 decimals, shares 3;
    a ``value`` column of a statistic/value table (mixed quantities) is formatted per cell."""
    if col in _MIXED_COLS:
        return "auto"
    if not pd.api.types.is_float_dtype(s):
        return None
    x = s.dropna().astype(float)
    if not len(x) or np.all(np.isclose(x, np.round(x), rtol=0, atol=1e-9)):
        return None
    if re.search(r"p[ _-]?val|^p$|p-value|p 值|^q$|holm", col, re.I):
        return 4
    return 3 if float(x.abs().max()) < 1 else 2


#: Columns whose text never breaks inside a segment (unit and item names, check names).
_NOWRAP_COLS = _NAME_COLS | {"series_name", "item", "item_name", "check", "group", "by", "attribute", "category", "severity"}


#: Columns of running text: they take the remaining width and wrap.
_WRAP_COLS = {"evidence", "reading", "detail", "finding", "recommendation", "reason", "note", "description"}


_SEGMENTS = re.compile(r"[（(][^）)]*[）)]?|[^\s（(]+|\s+")


def _col_classes(df: pd.DataFrame) -> dict[str, str]:
    """Displayed header → CSS class of the column (``seg``: breaks only between segments,
    ``wrap``: running text) from the original column names of ``df``."""
    out = {}
    for c in df.columns:
        c = str(c)
        cls = "seg" if c in _NOWRAP_COLS else ("wrap" if c in _WRAP_COLS else "")
        if cls:
            out[_col_label(c)] = cls
    return out


def _seg_html(text: str) -> str:
    """Escaped ``text`` whose lines may break only between segments — at spaces and before an
    opening bracket — never inside a word or a Chinese term: "名次5%分位", "单位编号",
    "年度汇总与月度合计不符" stay whole; "有效权重（η² 占比）" may break before "（"."""
    parts = _SEGMENTS.findall(str(text))
    out, prev_word = [], False
    for p in parts:
        if p.isspace():
            out.append(" ")
            prev_word = False
            continue
        if prev_word:
            out.append("<wbr>")
        out.append(f'<span class="nw">{_html.escape(p)}</span>')
        prev_word = True
    return "".join(out)


def _table_html(df: pd.DataFrame, classes: dict[str, str] | None = None) -> str:
    """An HTML table; header cells break only between segments (:func:`_seg_html`), and so do
    the cells of ``seg`` columns (``classes``: displayed header → class, :func:`_col_classes`)."""
    classes = classes or {}
    cls = [classes.get(str(c), "") for c in df.columns]
    head = "".join(f'<th class="{k}">{_seg_html(str(c))}</th>' if k else f"<th>{_seg_html(str(c))}</th>" for c, k in zip(df.columns, cls))
    fmts = [_decimals(df.iloc[:, j], str(c)) for j, c in enumerate(df.columns)]
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for c, v, d, k in zip(df.columns, rec, fmts, cls):
            txt = _fmt_cell(v, str(c), d)
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
            if num:
                cells.append(f'<td class="num">{_html.escape(txt)}</td>')
            elif k == "seg":
                cells.append(f'<td class="seg">{_seg_html(txt)}</td>')
            else:
                cells.append(f'<td class="{k}">{_html.escape(txt)}</td>' if k else f"<td>{_html.escape(txt)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    wide = " wide" if len(df.columns) > 7 else ""
    return f'<table class="data{wide}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _caption(kind: str, name: str, **ctx) -> str:
    """Caption of a chapter figure/table: ``rep_cap_<name>`` / ``rep_tabcap_<name>`` first (the
    report owns its captions), then the chapter's own labels, else the name."""
    lab = labels()
    base = re.sub(r"^(h|v|w|s|i|sens|integrity|int|cmp|wts)_", "", name)
    stems = list(dict.fromkeys([name, base, base.rstrip("s")]))
    keys = [f"rep_{'cap' if kind == 'fig' else 'tabcap'}_{n}" for n in stems]
    for n in stems:
        keys += [f"cmp_title_{n}", f"sens_{n}_title", f"int_{n}_title", f"{kind}_{n}", f"cmp_{kind}_{n}", f"sens_{kind}_{n}", f"int_{kind}_{n}"]
    for k in keys:
        if k in lab:
            try:
                text = lab[k].format_map(_Blank(ctx))
            except (ValueError, IndexError, KeyError):
                text = lab[k]
            return re.sub(r"\s{2,}", " ", text).strip(" ，,:：")
    return name.replace("_", " ").replace("-", " ").strip().capitalize()


def _join(parts: list[str]) -> str:
    return ("、" if current() == "zh" else ", ").join(p for p in parts if p)

