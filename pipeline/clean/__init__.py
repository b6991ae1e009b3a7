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

Modules
-------
:mod:`~pipeline.clean.text` (cell and label text), :mod:`~pipeline.clean.context` (the run's
log and problems), :mod:`~pipeline.clean.units` (registry, unit-name matching),
:mod:`~pipeline.clean.header` (header rows, item lists), :mod:`~pipeline.clean.sheets` (score
sheets and side tables), :mod:`~pipeline.clean.files` (one file, one year folder),
:mod:`~pipeline.clean.remote` (the cluster path), :mod:`~pipeline.clean.runner` (:func:`run`).
"""

from __future__ import annotations

from pipeline.clean.text import (
    K_BAD, K_GRADE, K_MISSING, K_NA, K_NUM, K_TYPE, NA_TOKENS, item_key, normalise, parse_value,
)
from pipeline.clean.context import LOG_COLUMNS, QUARANTINE_COLUMNS, file_year, summarise_log
from pipeline.clean.units import UnitMatcher
from pipeline.clean.header import Header, find_header, read_items
from pipeline.clean.sheets import read_scores_sheet
from pipeline.clean.runner import run

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
