"""Chapter records → report blocks: which chapter tables the report body shows and how."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import findings as F
from pipeline.errors import PipelineError
from pipeline.i18n import current, t
from pipeline.report.document import _CJK, _Doc, _MAX_ROWS, _caption, _label, _subst, _value_label


def _chapter(root: Path, chapter: str) -> dict:
    """The record of ``chapter`` under the analysis root of a year (:func:`pipeline.notebooks.read_record`).

    Raises :class:`PipelineError` naming the missing record and the command that writes it."""
    from pipeline.notebooks import RECORD_FILE, read_record

    if not (root / chapter / RECORD_FILE).exists():
        year = root.name
        raise PipelineError(f"{root / chapter / RECORD_FILE}: chapter record not found — run `python -m pipeline analyze --year {year}` first")
    return read_record(root / chapter)


def _headline_rows(chapters: dict, subst: dict) -> pd.DataFrame:
    """Every chapter's headline record as one long table (tables.xlsx only)."""
    rows = []
    for ch, d in chapters.items():
        for k, v in sorted(((d or {}).get("headline") or {}).items()):
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                continue
            v = _value_label(k, v) if isinstance(v, str) else v
            v = _subst(v, subst) if isinstance(v, str) else v
            rows.append({"chapter": ch, "statistic": _label(f"rep_stat_{k}", k), "code": k, "value": v})
    return pd.DataFrame(rows, columns=["chapter", "statistic", "code", "value"]).astype({"value": object})


def _only(col: str, value: Any):
    return lambda d, c: d.loc[d[col].astype(str) == str(value)]


_SEV_ORDER = {s: i for i, s in enumerate(F.SEVERITIES)}


#: chapter → table name → how to show it: ``key`` (evidence reference), ``where`` (row filter
#: ``f(df, ctx)``), ``cols`` (columns, in order; missing ones are skipped), ``sort``
#: (columns, ascending), ``names`` (column of unit ids to which the unit name is added),
#: ``max_rows``. Every other table of a chapter goes to tables.xlsx only (full).
_BODY: dict[str, dict[str, dict]] = {
    "01-overview": {
        "structure": {"key": "structure"},
        "distribution": {"key": "distribution"},
        "profile": {"key": "profile"},
    },
    "02-horizontal": {
        "h_peer_groups": {"key": "peer_groups", "cols": ["by", "group", "n", "mean", "median", "sd", "mean_rank", "n_winners", "share_winners"]},
        "h_peer_tests": {"key": "peer", "cols": ["by", "k", "n", "h", "df", "p", "epsilon_sq"]},
        "h_alpha": {"key": "alpha", "cols": ["category", "n_items", "n_units", "alpha"]},
        "h_items": {"key": "items", "cols": ["item_id", "item_name", "category", "method", "max_points", "mean_pct", "sd_pct", "share_full", "r_rest", "flag"],
                    "max_rows": 30},
    },
    "03-vertical-trend": {
        "v_lineage": {"key": "lineage", "where": lambda d, c: d.loc[d["link"].fillna("").astype(str) != ""], "cols": ["unit_id", "name", "link", "successor_id", "series_name"]},
        "v_mobility": {"key": "mobility", "cols": ["year_from", "year_to", "n_pairs", "shorrocks", "stay_share", "spearman", "mean_abs_d_rank", "winners_kept"]},
        "v_persistence": {"key": "persistence", "sort": (["years_winner", "longest_run", "series_id"], [False, False, True]),
                          "cols": ["series_id", "series_name", "n_years", "years_winner", "longest_run", "winner_last_year"], "max_rows": 15},
        "v_trends": {"key": "trends", "where": lambda d, c: d.loc[d["direction"] != "none"], "cols": ["series_id", "n", "tau", "slope", "p", "q", "direction"], "names": "series_id"},
        "v_system": {"key": "system", "cols": ["year", "n", "mean", "sd", "median", "share_ceiling", "cut"]},
        "v_discrimination": {"key": "discrimination", "cols": ["metric", "first", "last", "tau", "p", "slope", "direction"]},
    },
    "04-weights": {
        "sens_oat": {"key": "oat", "where": lambda d, c: d.loc[np.isclose(d["step"].abs(), 0.3) | np.isclose(d["step"].abs(), 0.1)]
                     .assign(step=lambda x: (100 * x["step"]).round().astype(int)).rename(columns={"step": "step_pct"})},
        "sens_scheme_shifts": {"key": "schemes", "where": lambda d, c: d.loc[d["scheme"] != "nominal"]},
        "sens_uncertainty_system": {"key": "uncertainty_system"},
        "sens_sobol": {"key": "sobol", "where": _only("target", "mean_abs_shift"), "cols": ["factor", "S1", "S1_conf", "ST", "ST_conf"]},
        "sens_shapley": {"key": "shapley", "where": _only("target", "mean_abs_shift"), "cols": ["factor", "effect", "share", "conf"]},
        "sens_method_choices": {"key": "method_choices", "where": _only("target", "mean_abs_shift"), "cols": ["factor", "S1", "S1_conf", "ST", "ST_conf"]},
        "sens_effective_weights": {"key": "effective_weights", "where": _only("level", "category"), "cols": ["category", "nominal_share", "r2_share", "eps2_share", "ratio"]},
        "sens_smaa": {"key": "smaa", "sort": (["top_acceptability", "unit_id"], [False, True]), "cols": ["unit_id", "b1", "top_acceptability", "confidence_top"],
                      "names": "unit_id", "max_rows": 25},
        "sens_fairness_tests": {"key": "fairness", "cols": ["attribute", "group", "n_units", "mean_advantage", "cohen_d", "p_value", "p_holm"]},
    },
    "05-integrity": {
        "integrity_summary": {"key": "integrity"},
        "integrity": {"key": "integrity_list", "where": lambda d, c: d.loc[pd.to_numeric(d["year"], errors="coerce") == c.get("year")],
                      "sort": (["_sev", "check", "unit_id"], [True, True, True]), "cols": ["unit_id", "item", "check", "severity", "evidence"],
                      "names": "unit_id", "items": "item", "max_rows": 25},
        "integrity_digits": {"key": "digits"},
    },
}


#: Recorded tables that are inputs of other documents, not report tables (the run's totals of
#: every year: the report shows them as its ranking table and ranking.csv; chapter 02's tables
#: of the unit pages and the half-year bulletin, which those pages show).
_RECORD_ONLY = {"totals", "h_item_losses", "h_unit_gaps", "h_bulletin", "h_bulletin_categories", "h_bulletin_bottom"}


def _body_table(tab: pd.DataFrame, spec: dict, ctx: dict, units: dict[str, str], items: dict[str, str] | None = None) -> pd.DataFrame:
    """Apply one ``_BODY`` spec; a spec that no longer fits the table shows the table whole.

    ``names`` adds the unit's name after its id column; ``items`` shows the item column as
    "I23 name" (``items``: item id → display name in the report language)."""
    d = tab
    try:
        if "severity" in d:
            d = d.assign(_sev=d["severity"].map(_SEV_ORDER).fillna(9))
        if spec.get("where") is not None:
            d = spec["where"](d, ctx)
        if spec.get("sort"):
            by, asc = spec["sort"]
            d = d.sort_values(by, ascending=asc, kind="mergesort")
        if spec.get("items") and items:
            col = spec["items"]
            d = d.assign(**{col: d[col].map(lambda v: items.get(str(v), v) if isinstance(v, str) and v.strip() else v)})
        if spec.get("names") and units:
            col = spec["names"]
            pos = list(d.columns).index(col) + 1
            d = d.copy()
            d.insert(pos, "name", d[col].astype(str).map(units).fillna(""))
        cols = spec.get("cols")
        if cols:
            keep = [c for c in cols if c in d.columns]
            if spec.get("names") and "name" not in keep:
                keep.insert(keep.index(spec["names"]) + 1, "name")
            d = d[keep]
        return d.drop(columns=["_sev"], errors="ignore").reset_index(drop=True)
    except (KeyError, TypeError, ValueError):
        return tab


def _chapter_blocks(doc: _Doc, ch: dict | None, chapter: str, fig_keys: dict | None = None,
                    after: dict | None = None) -> list[dict]:
    """The blocks of one chapter in notebook order: sentences of reading, every figure (each
    once, numbered), the body tables of :data:`_BODY` (numbered; their full versions and every
    other table of the chapter go to tables.xlsx).

    ``after`` maps ``"fig:<name>"`` / ``"tab:<name>"`` to a function returning more blocks (the
    report's own tables); they are placed after that item and its sentences of reading, and
    numbered there.
    Hooks whose item never appears run at the end of the chapter.
    """
    hooks = dict(after or {})
    if ch is None:
        blocks = [{"kind": "p", "text": t("rep_chapter_missing", name=chapter)}]
        for fn in hooks.values():
            blocks += fn()
        return blocks
    outline = ch["items"]
    ctx = {**doc.ctx, **(ch.get("headline") or {})}
    spec = _BODY.get(chapter, {})
    figs = ch["figures"]
    tabs = ch["tables"]
    order = [tuple(x) for x in outline]
    seen = {(k, v) for k, v in order}
    order += [("fig", n) for n in figs if ("fig", n) not in seen]
    order += [("tab", n) for n in tabs if ("tab", n) not in seen]
    blocks: list[dict] = []
    done: set[tuple[str, str]] = set()
    pending: list = []
    for kind, val in order:
        if (kind, val) in done:
            continue
        done.add((kind, val))
        if kind != "p":
            for fn in pending:
                blocks += fn()
            pending = []
            if f"{kind}:{val}" in hooks:
                pending.append(hooks.pop(f"{kind}:{val}"))
        if kind == "p":
            s = doc.text(val)
            if current() != "zh" and _CJK.search(_subst(s, {n: "" for n in doc.unit_names})):
                continue  # a sentence that still holds Chinese (other than unit names) is left out
            blocks.append({"kind": "p", "text": s})
        elif kind == "fig" and val in figs:
            key = next((k for k, pat in (fig_keys or {}).items() if re.search(pat, val)), val)
            blocks.append(doc.figure(figs[val], _caption("fig", val, **ctx), key=key))
        elif kind == "tab" and val in tabs:
            tab = tabs[val]
            cap = _caption("tab", val, **ctx)
            if val in spec and len(tab):
                shown = _body_table(tab, spec[val], ctx, doc.unit_lookup, doc.item_lookup)
                if len(shown):
                    blocks.append(doc.table(shown, cap, key=spec[val].get("key", val), xlsx=tab, max_rows=spec[val].get("max_rows", _MAX_ROWS)))
                    continue
            if len(tab) and val not in _RECORD_ONLY:
                doc.xlsx.append((f"{chapter[:2]} {cap}", doc.display(tab)))
    for fn in pending + list(hooks.values()):
        blocks += fn()
    return blocks

