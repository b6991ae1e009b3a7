"""Every check together: :func:`check_all` and :func:`run` (``python -m pipeline check``).

In :func:`check_all` the unit-level statistical tests of a year form one BH family
(:func:`_year_family`); :func:`run` reads the processed tables and writes ``integrity.csv``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config, io, score
from pipeline.errors import PipelineError
from pipeline import i18n
from pipeline.integrity.arithmetic import given_vs_recomputed, monthly_vs_annual
from pipeline.integrity.base import MATERIALITY, SEVERITIES, _bh, _empty, _render, _severity_from_q, _years
from pipeline.integrity.bunching import cut_bunching
from pipeline.integrity.digits import digit_preference
from pipeline.integrity.outliers import adjustment_gaps, full_marks, yoy_jumps


# ----------------------------------------------------------------------------- all together
#: Unit-level statistical checks whose p-values form one family per year in :func:`check_all`.
UNIT_TESTS = ("digit_preference", "low_variance", "yoy_jump", "jump_reversal", "adjustment_gap")


def _year_family(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Severity of the unit-level statistical tests from one BH family per year.

    Procedure: every unit-level p-value of :data:`UNIT_TESTS` of a year (all tests, significant
    or not) is adjusted together with Benjamini–Hochberg; q < 0.01 → **high**, q < 0.05 →
    **medium**, else dropped. Caps stated by the checks stay: ``yoy_jump`` is at most medium,
    ``adjustment_gap`` is high only when also material (≥ :data:`MATERIALITY`). ``threshold`` and
    the evidence's q become the year-wide q.
    """
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else _empty()
    if df.empty:
        return df
    q = df.groupby("year")["p_value"].transform(lambda v: pd.Series(_bh(v.to_numpy()), index=v.index)).to_numpy()
    sev = _severity_from_q(q)
    sev = np.where((df["check"] == "yoy_jump") & (sev == "high"), "medium", sev)
    sev = np.where((df["check"] == "adjustment_gap") & (sev == "high") & (df["statistic"] < MATERIALITY), "medium", sev)
    df = df.assign(threshold=q, severity=sev)
    keep = df["severity"] != ""
    df = df.loc[keep].copy()
    ev, data = [], []
    for s, qq in zip(df["evidence_data"], df["threshold"]):
        d = json.loads(s)
        d["q"] = float(qq)
        key = d.pop("key")
        ev.append(_render(key, d))
        data.append(json.dumps({"key": key, **d}, ensure_ascii=False))
    df["evidence"], df["evidence_data"] = ev, data
    return df


def check_all(tables: dict[str, pd.DataFrame], top_n: int = config.TOP_N, seed: int = config.SEED) -> pd.DataFrame:
    """Run every check on processed ``tables`` (keys: scores, items, given, adjustments).

    Multiple testing: the unit-level statistical tests (:data:`UNIT_TESTS`) of a year form one
    family, adjusted together by Benjamini–Hochberg (:func:`_year_family`), so the chapter's
    headline count of flagged units has one stated false-discovery level; item-level digit tests
    (one family of item-years) and the cut-bunching test (one family of years) keep their own.
    Deterministic checks are not tests: beyond shown precision they are **high**.

    The ``evidence`` sentences are in the active language (:func:`pipeline.i18n.use`).

    Returns
    -------
    DataFrame
        All findings (:data:`COLUMNS`) sorted by severity, year, check, unit and item.
    """
    scores, items = tables["scores"], tables["items"]
    adj = tables.get("adjustments")
    tot = score.totals(scores, items, adjustments=adj, top_n=top_n)
    dp = digit_preference(scores, items, seed=seed, all_tests=True)
    fm = full_marks(scores, items, all_tests=True)
    unit_tests = [d.loc[d["check"].isin(UNIT_TESTS)] for d in (dp, fm)]
    unit_tests += [yoy_jumps(tot, all_tests=True), adjustment_gaps(adj, tot, all_tests=True)]
    parts = [
        monthly_vs_annual(scores, items),
        given_vs_recomputed(tables.get("given"), scores, items),
        dp.loc[~dp["check"].isin(UNIT_TESTS)],
        fm.loc[~fm["check"].isin(UNIT_TESTS)],
        _year_family(unit_tests),
        cut_bunching(tot, top_n=top_n, seed=seed),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    df = pd.concat(parts, ignore_index=True)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    df = df.assign(_s=df["severity"].map(order)).sort_values(
        ["_s", "year", "check", "unit_id", "item"], kind="stable").drop(columns="_s")
    return df.reset_index(drop=True)


def _read(folder: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    if not (folder / f"{name}.parquet").exists():
        if required:
            raise PipelineError(f"{folder / (name + '.parquet')}: not found — run `python -m pipeline clean` first")
        return None
    return io.read_table(folder, name)


def load_tables(processed_dir: str | os.PathLike, years=None) -> dict[str, pd.DataFrame]:
    """Read the processed tables the checks need (scores, items; given, adjustments if present)."""
    folder = Path(processed_dir)
    out = {}
    for name, req in (("scores", True), ("items", True), ("given", False), ("adjustments", False)):
        df = _read(folder, name, req)
        if df is not None:
            df = _years(df, years)
        out[name] = df
    if out["scores"].empty:
        raise PipelineError(f"{folder}: no scores for the requested years")
    return out


def run(raw_dir: str | os.PathLike | None, processed_dir: str | os.PathLike, years=None,
        top_n: int = config.TOP_N, seed: int = config.SEED) -> pd.DataFrame:
    """Run every check on the processed tables and write ``<processed_dir>/integrity.csv``.

    Parameters
    ----------
    raw_dir : path or None
        The raw folder (only read; kept for the CLI contract — every check works on the
        processed tables, which keep the workbook's own totals in ``given``).
    processed_dir : path
        Folder written by :func:`pipeline.clean.run`.
    years : (first, last) or int, optional
        Restrict to these years.

    Returns
    -------
    DataFrame
        The findings (:data:`COLUMNS`), also written atomically as ``integrity.csv``.
    """
    tables = load_tables(processed_dir, years)
    # processed data do not depend on the run's language (the cache key of ``check`` has none):
    # the stored evidence is Chinese; :func:`evidence_text` re-renders it from ``evidence_data``
    with i18n.use("zh"):
        df = check_all(tables, top_n=top_n, seed=seed)
    io.write_csv(df, Path(processed_dir) / "integrity.csv")
    return df
