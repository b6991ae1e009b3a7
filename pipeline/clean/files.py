"""One file and one year folder: which file is what, and reading every file of a year.

:func:`_sniff` classifies a file by content, :func:`_items_file` / :func:`_data_file` read one
file, :func:`_read_year` reads a year folder (item list first: the others need it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from pipeline import load
from pipeline.errors import PipelineError
from pipeline.clean.context import _Run
from pipeline.clean.header import _items_key, find_header, read_items
from pipeline.clean.sheets import _side_table, read_scores_sheet
from pipeline.clean.text import normalise
from pipeline.clean.units import UnitMatcher


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


def _take(remote: dict, path: Path, ctx: _Run):
    """A file's result from the cluster; its log rows and problems join ``ctx`` at this point,
    i.e. in the order of the single-machine run."""
    res, logs, problems = remote.pop(path)
    ctx._flush()
    ctx.logs.extend(logs)
    ctx.problems.extend(problems)
    return res
