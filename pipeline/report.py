"""Orchestration and rendering of the research-style reports (SPEC §5, issue #5).

Entry points (called by :mod:`pipeline.cli`):

* :func:`analyze` — run the chapter notebooks of a year (papermill, 2 worker processes) into
  ``<processed>/analysis/<year>/<chapter>/`` (``tables/``, ``figures/``, ``headline.json``),
  keeping the executed copies in ``reports/<year>/executed/``.
* :func:`build_year` — render ``reports/<year>/``: ``report.html`` (self-contained),
  ``report.pdf`` (A4, CJK font embedded), ``tables.xlsx``, ``figures/``, ``bulletin_H1.html``,
  ``units/<unit_id>.html``, ``manifest.json``.
* :func:`build_study` — the multi-year study ``reports/study_<first>-<last>/``.
* :func:`run_all` — synth (only when the default ``data/raw`` is empty) → clean → check →
  analyze + report for every year → study.

Overview chapter helpers (used by ``notebooks/01-overview.ipynb``): :func:`overview_stats`,
:func:`item_structure`, :func:`plot_structure`, :func:`category_profile`, :func:`plot_distribution`, :func:`plot_profile`,
:func:`plot_system`, :func:`plot_item_spread`, :func:`overview_reading`.

Everything a reader sees comes from ``pipeline/labels/*.yaml`` (``rep_`` keys) in the report
language; no timestamps appear in the HTML (they live in ``manifest.json`` only), so two runs
with the same inputs and parameters give the same HTML and the same ``tables.xlsx``.

How a chapter becomes report text: :func:`analyze` stores, beside each chapter's tables and
figures, its headline record (``headline.json``) and its outline (``outline.json``: the
sentences of reading, figures and tables in notebook order). The report shows every figure
once, the tables listed in :data:`_BODY` (selected rows/columns; the full tables and all
others go to ``tables.xlsx``), with captions ``rep_cap_<figure>`` / ``rep_tabcap_<table>`` and
headers ``rep_col_<column>``. Chinese analysis outputs live in ``<processed>/analysis``, other
languages in ``<processed>/analysis_<lang>`` (figures and sentences are language-specific).

English documents: unit names stay as registered (proper names); item names are shown in
English from ``pipeline/labels/items.yaml`` or, for an item that file does not know, as
"Item I07"; a sentence or table column that would still carry Chinese is left out.

PDF: WeasyPrint with the Noto Sans CJK SC file of ``mplfonts`` (``@font-face url(file://…)``),
first cut down with fontTools to the characters of the document (:func:`_subset_font`),
which takes a PDF from ~19 s to ~5 s; PDFs of different years render in parallel processes.

HTML pages do not rely on the reader having a CJK font: the same subset (as WOFF2, base64,
:func:`_font_face`) is embedded in ``report.html`` (~225 KB for a year report); the bulletin,
``units/index.html`` and the unit pages share one subset of all their characters (~130 KB
per page), so every page stays a single self-contained file.

Tables: header cells and name columns break only between segments (at spaces and before an
opening bracket, :func:`_seg_html`), never inside a word or a Chinese term; running-text
columns (evidence) take the remaining width.
"""

from __future__ import annotations

import base64
import hashlib
import html as _html
import io as _io
import json
import math
import os
import re
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import config, findings as F
from pipeline.errors import PipelineError
from pipeline.i18n import labels, t
from pipeline.io import atomic_path, atomic_write, neutralise_formulas

__all__ = [
    "CHAPTERS",
    "analyze",
    "build_year",
    "build_study",
    "run_all",
    "available_years",
    "overview_stats",
    "category_profile",
    "item_structure",
    "plot_structure",
    "overview_reading",
    "plot_distribution",
    "plot_profile",
    "plot_system",
    "plot_item_spread",
    "bulletin_table",
    "write_xlsx",
    "manifest",
]

#: Chapter notebooks in report order, with the report section each one feeds.
CHAPTERS = ("01-overview", "02-horizontal", "03-vertical-trend", "04-weights", "05-integrity")
_SECTION = {
    "01-overview": "overview",
    "02-horizontal": "horizontal",
    "03-vertical-trend": "vertical",
    "04-weights": "weights",
    "05-integrity": "quality",
}
_TEMPLATES = Path(__file__).parent / "templates"
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
#: Tables wider than this stay in tables.xlsx only; longer ones are cut in the HTML.
_MAX_COLS, _MAX_ROWS = 9, 25


def _log(msg: str) -> None:
    print(f"[pipeline] {msg}", file=sys.stderr, flush=True)


# ============================================================================================
# Overview chapter (notebooks/01-overview): pure functions + charts
# ============================================================================================


def overview_stats(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Distribution statistics of one year's totals.

    Returns
    -------
    DataFrame
        One row per statistic: ``statistic`` (key: n_units, n_winners, mean, median, sd, cv,
        min, max, cut, share_ceiling, n_adjusted, n_na, n_missing) and ``value``. Location and
        spread are of ``pct_of_max``; ``cut`` is the total (points) of the lowest-ranked winner.
    """
    g = totals.loc[totals["year"] == year]
    if not len(g):
        raise PipelineError(f"no totals for year {year}")
    p = g["pct_of_max"].astype(float)
    vals = {
        "n_units": len(g),
        "n_winners": int(g["is_winner"].sum()),
        **F.pct_stats(p),
        "cut": float(g.loc[g["rank"] <= top_n, "total"].min()),
        "n_adjusted": int((g["adjustment"] != 0).sum()),
        "n_na": int(g["n_na"].sum()),
        "n_missing": int(g["n_missing"].sum()),
    }
    return pd.DataFrame({"statistic": list(vals), "value": [float(v) for v in vals.values()]})


def item_structure(items: pd.DataFrame, year: int) -> pd.DataFrame:
    """Points of one year's item list by category and scoring method (the scheme in effect).

    Returns
    -------
    DataFrame
        One row per category (config order): ``category``, ``n_items``, ``n_points`` (items
        scored in points, 计分), ``n_grade`` (graded items, 评档), ``points_points`` and
        ``points_grade`` (their maxima), ``max_points`` (category maximum) and ``share`` =
        max_points / Σ max_points.
    """
    it = items.loc[items["year"] == year]
    if not len(it):
        raise PipelineError(f"no items for year {year}")
    rows = []
    for c in config.CATEGORIES:
        g = it.loc[it["category"] == c]
        if not len(g):
            continue
        pts = g["method"] == "points"
        rows.append({"category": c, "n_items": int(len(g)), "n_points": int(pts.sum()), "n_grade": int((~pts).sum()),
                     "points_points": float(g.loc[pts, "max_points"].sum()), "points_grade": float(g.loc[~pts, "max_points"].sum()),
                     "max_points": float(g["max_points"].sum())})
    out = pd.DataFrame(rows)
    out["share"] = out["max_points"] / out["max_points"].sum()
    return out


def plot_structure(structure: pd.DataFrame, lang: str = "zh"):
    """Horizontal stacked bars: points of each category, items scored in points vs graded."""
    from pipeline.plots.style import OTHER, PALETTE

    plt = _plt()
    s = structure.iloc[::-1]
    y = np.arange(len(s))
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(s) + 1.2))
    ax.barh(y, s["points_points"], color=PALETTE[0], label=t("rep_lg_points", lang))
    ax.barh(y, s["points_grade"], left=s["points_points"], color=OTHER, label=t("rep_lg_grade", lang))
    for yy, (tot, n) in enumerate(zip(s["max_points"], s["n_items"])):
        ax.text(tot + 0.4, yy, _tp("rep_lg_items_points", lang, points=tot, n=int(n)), va="center", fontsize=8)
    ax.set_yticks(y, [t(f"cat_{c}", lang) for c in s["category"]])
    ax.set_xlim(0, float(s["max_points"].max()) * 1.3)
    ax.set_xlabel(t("rep_ax_points", lang))
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)  # above the axes, clear of the labels
    return fig


def category_profile(totals: pd.DataFrame, items: pd.DataFrame, year: int) -> pd.DataFrame:
    """Points earned per category as % of the category maximum: all units, winners, others.

    Returns
    -------
    DataFrame
        One row per category (config order): ``category``, ``max_points``, ``all``,
        ``winners``, ``others`` (mean % of the category max), ``gap`` = winners − others.
    """
    g = totals.loc[totals["year"] == year]
    cmax = items.loc[items["year"] == year].groupby("category")["max_points"].sum()
    rows = []
    for c in config.CATEGORIES:
        if c not in cmax.index:
            continue
        pct = 100.0 * g[f"cat_{c}"].astype(float) / cmax[c]
        w = g["is_winner"].astype(bool)
        rows.append({"category": c, "max_points": float(cmax[c]), "all": pct.mean(), "winners": pct[w].mean(), "others": pct[~w].mean()})
    out = pd.DataFrame(rows)
    out["gap"] = out["winners"] - out["others"]
    return out


def overview_reading(kind: str, lang: str, **tables: pd.DataFrame) -> str:
    """One sentence of reading, generated from the numbers of an overview table.

    ``kind``: ``items`` (tables ``items`` of the year's item list), ``dist`` (``stats`` from
    :func:`overview_stats`), ``profile`` (``profile`` from :func:`category_profile`),
    ``system`` (``system`` from :func:`pipeline.findings.system_by_year`), ``flat``
    (``item_stats`` from :func:`pipeline.findings.item_stats`).
    """
    if kind == "items":
        it = tables["items"]
        n_points, n_grade = int((it["method"] == "points").sum()), int((it["method"] == "grade").sum())
        key = "rep_ov_items" if n_points and n_grade else ("rep_ov_items_points" if n_points else "rep_ov_items_grade")
        return _tp(key, lang, year=int(it["year"].iloc[0]), n_items=len(it), n_points=n_points, n_grade=n_grade, max_total=float(it["max_points"].sum()))
    if kind == "dist":
        s = tables["stats"].set_index("statistic")["value"]
        key = "rep_ov_dist" if s["share_ceiling"] > 0 else "rep_ov_dist_none"
        return t(key, lang, mean=s["mean"], median=s["median"], sd=s["sd"], cv=s["cv"], share_ceiling=s["share_ceiling"])
    if kind == "profile":
        p = tables["profile"]
        best, worst, gap = p.loc[p["all"].idxmax()], p.loc[p["all"].idxmin()], p.loc[p["gap"].idxmax()]
        cat = lambda c: t(f"cat_{c}", lang)  # noqa: E731
        return t("rep_ov_profile", lang, best=cat(best["category"]), best_pct=best["all"], worst=cat(worst["category"]),
                 worst_pct=worst["all"], gap_cat=cat(gap["category"]), gap=gap["gap"])
    if kind == "system":
        s = tables["system"].sort_values("year")
        if len(s) < 2:
            return t("rep_ov_system_one", lang)
        a, b = s.iloc[0], s.iloc[-1]
        key = "rep_ov_system" if (a["share_ceiling"] > 0 or b["share_ceiling"] > 0) else "rep_ov_system_none"
        return t(key, lang, first=int(a["year"]), last=int(b["year"]), mean_first=a["mean"], mean_last=b["mean"],
                 sd_first=a["sd"], sd_last=b["sd"], ceil_first=a["share_ceiling"], ceil_last=b["share_ceiling"])
    if kind == "flat":
        found = F.rule_flat_items(tables["item_stats"])
        if not found:
            return t("rep_ov_flat_none", lang)
        nm = _namer(lang, items=tables["item_stats"].set_index("item_id"))
        sep = "、" if lang == "zh" else ", "
        return t("rep_ov_flat", lang, items=sep.join(nm("item", i) for i in found[0].names["items"][1]))
    raise PipelineError(f"overview_reading: unknown kind {kind!r}")


def _plt():
    from pipeline.plots.style import use_style

    use_style()
    import matplotlib.pyplot as plt

    return plt


def plot_distribution(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N, lang: str = "zh"):
    """Histogram of ``pct_of_max`` for one year, winners and others stacked, with the cut line."""
    from pipeline.plots.style import OTHER, WINNER

    plt = _plt()
    g = totals.loc[totals["year"] == year]
    p = g["pct_of_max"].astype(float)
    w = g["is_winner"].astype(bool)
    bins = np.linspace(np.floor(p.min()), np.ceil(p.max()) + 1e-9, 16)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    ax.hist([p[~w], p[w]], bins=bins, stacked=True, color=[OTHER, WINNER], label=[t("rep_lg_others", lang), t("rep_lg_winners", lang)])
    cut = float(p[g["rank"] <= top_n].min())
    ax.axvline(cut, color="black", ls="--", lw=1, label=t("rep_lg_cut", lang))
    ax.set_xlabel(t("rep_ax_pct", lang))
    ax.set_ylabel(t("rep_ax_units", lang))
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return fig


def plot_profile(profile: pd.DataFrame, lang: str = "zh"):
    """Grouped bars: % of category maximum for winners and other units."""
    from pipeline.plots.style import OTHER, WINNER

    plt = _plt()
    x = np.arange(len(profile))
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.bar(x - 0.2, profile["winners"], 0.4, color=WINNER, label=t("rep_lg_winners", lang))
    ax.bar(x + 0.2, profile["others"], 0.4, color=OTHER, label=t("rep_lg_others", lang))
    ax.set_xticks(x, [t(f"cat_{c}", lang) for c in profile["category"]])
    lo = float(min(profile["winners"].min(), profile["others"].min()))
    ax.set_ylim(max(0.0, lo - 10), 100)
    ax.set_ylabel(t("rep_ax_pct", lang))
    ax.legend(frameon=False, fontsize=8, loc="upper right", ncol=2)  # above the bars (they stop well below 100)
    return fig


def plot_system(system: pd.DataFrame, lang: str = "zh"):
    """Three panels over the years: mean score, sd, and share of units at ≥ 95 % of max."""
    from pipeline.plots.style import PALETTE

    plt = _plt()
    s = system.sort_values("year")
    fig, axes = plt.subplots(1, 3, figsize=(7.6, 2.8))
    for ax, col, key, fmt in ((axes[0], "mean", "rep_ax_mean", None), (axes[1], "sd", "rep_ax_sd", None), (axes[2], "share_ceiling", "rep_ax_share_ceiling", "pct")):
        y = s[col].to_numpy(dtype=float) * (100 if fmt == "pct" else 1)
        ax.plot(s["year"], y, marker="o", color=PALETTE[1])
        ax.set_title(t(key, lang) + (" (%)" if fmt == "pct" else ""), fontsize=9)
        ax.set_xticks(s["year"].to_numpy(), [f"{int(v) % 100:02d}" if len(s) > 5 else str(int(v)) for v in s["year"]])
        ax.tick_params(labelsize=8)
    axes[1].set_xlabel(t("rep_ax_year", lang), fontsize=8)
    return fig


def plot_item_spread(item_stats: pd.DataFrame, lang: str = "zh", threshold: float = 0.05):
    """Horizontal bars of sd / max per item, flat items (below ``threshold``) highlighted."""
    from pipeline.plots.style import OTHER, WINNER

    plt = _plt()
    s = item_stats.sort_values("sd_rel")
    names = [i if lang != "zh" else f"{i} {n}"[:14] for i, n in zip(s["item_id"], s["item_name"])]
    fig, ax = plt.subplots(figsize=(6.4, 0.22 * len(s) + 0.9))
    colors = [WINNER if (v < threshold or f >= 0.8) else OTHER for v, f in zip(s["sd_rel"], s["share_full"])]
    ax.barh(np.arange(len(s)), s["sd_rel"], color=colors)
    ax.set_yticks(np.arange(len(s)), names, fontsize=7)
    ax.axvline(threshold, color="black", ls="--", lw=0.8)
    ax.set_xlabel(t("rep_ax_sd_rel", lang))
    return fig


# ============================================================================================
# Paths, data loading
# ============================================================================================


def _analysis_root(prm, out: Path | None = None) -> Path:
    """Where the chapter outputs of a run live: ``<processed>/analysis`` (Chinese, the contract's
    default) or ``<processed>/analysis_<lang>``: figures and sentences of reading are in the
    report language, so the editions never mix."""
    if out is not None:
        return Path(out)
    lang = getattr(prm, "lang", "zh")
    return Path(prm.processed) / ("analysis" if lang == "zh" else f"analysis_{lang}")


def available_years(processed: Path) -> list[int]:
    path = Path(processed) / "items.parquet"
    if not path.exists():
        raise PipelineError(f"{path}: not found — run `python -m pipeline clean` first")
    return sorted(int(y) for y in pd.read_parquet(path, columns=["year"])["year"].unique())


def _year_of(prm) -> int:
    avail = available_years(Path(prm.processed))
    if prm.year is None:
        if prm.years is not None:
            inside = [y for y in avail if prm.years[0] <= y <= prm.years[1]]
            if inside:
                return inside[-1]
        return avail[-1]
    if prm.year not in avail:
        raise PipelineError(f"year {prm.year} is not in the data (available: {avail[0]}–{avail[-1]})")
    return int(prm.year)


def _span(prm, year: int | None = None) -> tuple[int, int]:
    avail = available_years(Path(prm.processed))
    if prm.years is not None:
        inside = [y for y in avail if prm.years[0] <= y <= prm.years[1]] or avail
        first, last = inside[0], inside[-1]
    else:
        first, last = avail[0], avail[-1]
    if year is not None:
        last = max(min(last, year), first)
    return first, last


def _read(processed: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    p = Path(processed)
    if (p / f"{name}.parquet").exists():
        return pd.read_parquet(p / f"{name}.parquet")
    if (p / f"{name}.csv").exists():
        return pd.read_csv(p / f"{name}.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    if required:
        raise PipelineError(f"{p / name}.parquet: not found — run `python -m pipeline clean` first")
    return None


def _load(processed: Path, lang: str = "zh") -> dict[str, pd.DataFrame | None]:
    d = {n: _read(processed, n) for n in ("items", "units", "scores", "totals")}
    for n in ("adjustments", "weak_orgs", "given", "cleaning_log", "quarantine", "integrity"):
        d[n] = _read(processed, n, required=False)
    integ = d.get("integrity")
    if integ is not None and len(integ) and "evidence_data" in integ:
        from pipeline import integrity

        # integrity.csv is written in Chinese; re-render its evidence in the report's language
        d["integrity"] = integ.assign(evidence=integrity.evidence_text(integ, lang).to_numpy())
    return d


# ============================================================================================
# analyze: chapter notebooks through papermill
# ============================================================================================


def _nb_params(prm, year: int, chapter: str, out_dir: Path) -> dict[str, Any]:
    first, last = _span(prm, year)
    p = {
        "year": int(year),
        "years": [int(first), int(last)],
        "top_n": int(prm.top_n),
        "na_policy": str(prm.na_policy),
        "lang": str(prm.lang),
        "seed": int(prm.seed),
        "processed": str(Path(prm.processed).resolve()),
        "out_dir": str(out_dir.resolve()),
    }
    if chapter == "04-weights":
        p.update(scheme=str(prm.scheme), n_samples=int(prm.n_samples), kappa=float(prm.kappa), p=float(prm.p), n_sobol=int(prm.n_sobol))
    if chapter == "05-integrity":
        p["raw"] = str(Path(prm.raw).resolve())
    return p


def _kernel_env() -> None:
    """Let notebook kernels import ``pipeline`` even when the package is not pip-installed."""
    root = str(config.ROOT)
    pp = os.environ.get("PYTHONPATH", "")
    if root not in pp.split(os.pathsep):
        os.environ["PYTHONPATH"] = root + (os.pathsep + pp if pp else "")
    os.environ.setdefault("MPLCONFIGDIR", str(config.ROOT / ".mplconfig"))


def _run_chapter(chapter: str, executed: str, parameters: dict) -> tuple[str, float, dict]:
    """Worker: run one notebook, store its headline record and outline beside its outputs.

    The kernel's own stderr chatter (transport warnings, the interrupt at shutdown) goes to a
    scratch file so that the progress lines stay readable; a failing notebook still stops the
    run with notebook, cell and error in one line (:func:`pipeline.notebooks.run`).
    """
    import tempfile

    from pipeline import notebooks

    import shutil

    _kernel_env()
    t0 = time.perf_counter()
    out_dir = Path(parameters["out_dir"])
    for sub in ("tables", "figures"):  # no stale outputs of an earlier version of the notebook
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    for f in ("headline.json", "outline.json"):
        (out_dir / f).unlink(missing_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            notebooks.run(f"{chapter}.ipynb", executed, parameters)
        except PipelineError:
            raise
        except Exception as err:  # the kernel died or never started: say so in one line
            scratch.seek(0)
            tail = [ln for ln in scratch.read().decode("utf-8", "replace").splitlines() if ln.strip() and "WARNING" not in ln][-1:]
            raise PipelineError(f"notebook {chapter}: {type(err).__name__}: {err}" + (f" (kernel: {tail[0].strip()})" if tail else "")) from None
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    rec = notebooks.read_record(executed)
    atomic_write(out_dir / "headline.json", json.dumps(rec, ensure_ascii=False, sort_keys=True, indent=1, default=float))
    atomic_write(out_dir / "outline.json", json.dumps(_outline(Path(executed)), ensure_ascii=False, indent=1))
    return chapter, time.perf_counter() - t0, rec


def _chapters_present(allow_missing: bool) -> list[str]:
    have = [c for c in CHAPTERS if (config.NOTEBOOKS / f"{c}.ipynb").exists()]
    missing = [c for c in CHAPTERS if c not in have]
    if missing and not allow_missing:
        raise PipelineError(f"chapter notebook(s) missing: {', '.join(missing)} (notebooks/)")
    return have


def _run_jobs(jobs: list[tuple[str, str, dict]], workers: int = 2) -> dict[tuple[str, str], float]:
    """Run (chapter, executed_path, params) jobs in ``workers`` processes; first failure stops."""
    timings: dict[tuple[str, str], float] = {}
    if not jobs:
        return timings
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        for ch, ex, prm in jobs:
            _log(f"analyze {prm['year']}: {ch} …")
            _, dt, _ = _run_chapter(ch, ex, prm)
            timings[(str(prm["year"]), ch)] = dt
            _log(f"analyze {prm['year']}: {ch} done ({dt:.1f} s)")
        return timings
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futs = {}
        for ch, ex, prm in jobs:
            futs[pool.submit(_run_chapter, ch, ex, prm)] = (ch, prm["year"])
        _log(f"analyze: {len(jobs)} notebook run(s) on {workers} workers")
        done = 0
        try:
            for fut in as_completed(futs):
                ch, yr = futs[fut]
                _, dt, _ = fut.result()
                done += 1
                timings[(str(yr), ch)] = dt
                _log(f"analyze {yr}: {ch} done ({dt:.1f} s) [{done}/{len(jobs)}]")
        except BaseException:
            for f in futs:
                f.cancel()
            raise
    return timings


def analyze(params, out: Path | None = None, allow_missing: bool = False, workers: int = 2) -> Path:
    """Run the chapter notebooks of one year.

    Parameters
    ----------
    params : pipeline.params.Params
        ``year`` (default: the latest year in the data), ``years`` (the span of the vertical
        chapter; default all years up to ``year``), top_n, na_policy, lang, seed, the Monte
        Carlo settings and the ``processed`` / ``reports`` folders.
    out : Path, optional
        Analysis root (default ``<processed>/analysis``); the year's outputs go to
        ``<out>/<year>/<chapter>/``.
    allow_missing : bool
        Development only: skip chapter notebooks that do not exist yet.
    workers : int
        Notebooks run concurrently in this many processes.

    Returns
    -------
    Path
        The year's analysis folder.
    """
    year = _year_of(params)
    root = _analysis_root(params, out) / str(year)
    executed = Path(params.reports) / str(year) / "executed"
    jobs = [(c, str(executed / f"{c}.ipynb"), _nb_params(params, year, c, root / c)) for c in _chapters_present(allow_missing)]
    timings = _run_jobs(jobs, workers)
    atomic_write(root / "timings.json", json.dumps({c: round(v, 2) for (_, c), v in sorted(timings.items())}, indent=1))
    return root


# ============================================================================================
# Document model → HTML / PDF
# ============================================================================================


def _span_ctx(lang: str, first: int, last: int, prev: int, year: int) -> dict[str, str]:
    """Caption pieces for a span of years and for the last pair of consecutive years."""
    span = t("rep_span_many", lang, first=first, last=last) if first != last else t("rep_span_one", lang, first=last)
    pair = t("rep_pair", lang, prev=prev, year=year) if prev != year else t("rep_pair_none", lang)
    return {"span": span, "pair": pair}


class _Doc:
    """Numbered figures and tables in document order, with symbolic keys for evidence links.

    ``subst`` maps Chinese text found in data (item names, a few workbook words quoted by other
    modules) to its display form in the report language (see :func:`_english_subst`); it is
    empty for Chinese documents.
    """

    def __init__(self, lang: str, subst: dict | None = None, **ctx):
        self.lang = lang
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
        ref = t("rep_fig_ref", self.lang, n=self.n_fig)
        if key:
            self.refs.setdefault(f"fig:{key}", ref)
        tall = False
        if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 24:  # IHDR: width, height (big-endian)
            w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
            tall = h > 1.1 * w
        return {"kind": "fig", "n": self.n_fig, "ref": ref, "caption": caption, "tall": tall,
                "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")}

    def display(self, df: pd.DataFrame) -> pd.DataFrame:
        return _display(df, self.lang, self.subst)

    def table(self, df: pd.DataFrame, caption: str, key: str | None = None, xlsx: bool | pd.DataFrame = True, max_rows: int = _MAX_ROWS) -> dict:
        """A numbered table; ``xlsx`` = True puts the shown table in tables.xlsx, a DataFrame
        puts that (fuller) table there instead, False nothing."""
        self.n_tab += 1
        ref = t("rep_tab_ref", self.lang, n=self.n_tab)
        if key:
            self.refs.setdefault(f"tab:{key}", ref)
        shown = self.display(df)
        if isinstance(xlsx, pd.DataFrame):
            self.xlsx.append((f"{self.n_tab:02d} {caption}", self.display(xlsx)))
        elif xlsx:
            self.xlsx.append((f"{self.n_tab:02d} {caption}", shown))
        note = t("rep_table_truncated", self.lang, k=max_rows, n=len(df)) if len(df) > max_rows else ""
        return {"kind": "table", "n": self.n_tab, "ref": ref, "caption": caption, "html": _table_html(shown.head(max_rows), _col_classes(df, self.lang)), "note": note,
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


def _item_display(items: pd.DataFrame | None, lang: str) -> dict[str, str]:
    """Chinese item name → how a document in ``lang`` shows it.

    Chinese: the name itself (empty mapping). Other languages: the translation in
    ``pipeline/labels/items.yaml`` (key ``item_<name>``) when there is one, else ``Item I07``
    (the item's id; the latest year's id when a name recurs). The Chinese original is never
    shown in an English document.
    """
    if lang == "zh" or items is None or not len(items):
        return {}
    lab = labels(lang)
    it = items.sort_values(["year", "item_id"]) if "year" in items else items
    out = {}
    for iid, name in zip(it["item_id"].astype(str), it["item_name"].astype(str)):
        out[name] = lab.get(f"item_{name}", t("rep_item_fallback", lang, item_id=iid))
    return out


def _english_subst(items: pd.DataFrame | None, lang: str) -> dict[str, str]:
    """Everything an English document translates inside data text: item names and the
    workbook words of ``rep_gloss_*`` (e.g. 总分 → total) quoted by other modules."""
    if lang == "zh":
        return {}
    lab = labels(lang)
    out = {k[len("rep_gloss_"):]: v for k, v in lab.items() if k.startswith("rep_gloss_")}
    out.update(_item_display(items, lang))
    return out


def _unit_names(units: pd.DataFrame) -> list[str]:
    names = set(units["name"].astype(str))
    if "aliases" in units:
        names |= {a for v in units["aliases"].dropna() for a in str(v).split(";") if a}
    return sorted(names, key=len, reverse=True)


def _label(key: str, lang: str, default: str | None = None) -> str:
    lab = labels(lang)
    return lab.get(key, default if default is not None else key)


def _col_label(col: str, lang: str) -> str:
    """Header of a column: ``rep_col_<col>`` (report.yaml holds one for every column of every
    chapter table), else a shared label, else the name with spaces."""
    lab = labels(lang)
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


def _value_label(col: str, v: Any, lang: str) -> Any:
    if not isinstance(v, str):
        return v
    lab = labels(lang)
    if col == "method":
        return _label(f"rep_method_{v}", lang, v)
    if col == "rule":  # cleaning-log rules, ";"-joined tokens (labels in clean.yaml)
        sep = "；" if lang == "zh" else "; "
        return sep.join(lab.get(f"clean_rule_{tok}", tok) for tok in v.split(";") if tok)
    if col == "name" and f"cat_{v}" in lab:  # sens_effective_weights: category rows
        return lab[f"cat_{v}"]
    for prefix in _VALUE_KEYS.get(col, ()):
        for vv in (v, v.removeprefix("w_")):
            if prefix + vv in lab:
                return lab[prefix + vv]
    return v


_NAME_COLS = {"name", "unit_name", "unit", "name_from", "name_to", "successor_name", "series_name"}


def _display(df: pd.DataFrame, lang: str, subst: dict | None = None) -> pd.DataFrame:
    """Translate values and headers for display.

    In an English document, Chinese data text is translated through ``subst`` (item names,
    workbook words); a column that still holds Chinese after that is left out, except unit
    names (proper names, kept as registered).
    """
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        s = df[col]
        if s.dtype == bool or str(s.dtype) == "boolean":
            s = s.map(lambda v: t("rep_yes", lang) if v is True or v == 1 else "")
        elif s.dtype == object or pd.api.types.is_string_dtype(s):
            s = s.map(lambda v, c=col: _value_label(c, v, lang))
            if lang != "zh" and col not in _NAME_COLS:
                s = s.map(lambda v: _subst(v, subst or {}) if isinstance(v, str) else v)
                if s.map(lambda v: isinstance(v, str) and bool(_CJK.search(v))).any():
                    continue
        out[_col_label(str(col), lang)] = s
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


def _col_classes(df: pd.DataFrame, lang: str) -> dict[str, str]:
    """Displayed header → CSS class of the column (``seg``: breaks only between segments,
    ``wrap``: running text) from the original column names of ``df``."""
    out = {}
    for c in df.columns:
        c = str(c)
        cls = "seg" if c in _NOWRAP_COLS else ("wrap" if c in _WRAP_COLS else "")
        if cls:
            out[_col_label(c, lang)] = cls
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


def _jinja():
    import jinja2

    # StrictUndefined: a variable missing from the context is an error, never an empty string
    # (an undefined caption separator once emptied every figure caption number silently).
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=jinja2.select_autoescape(["html"]),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


#: Where the embedded @font-face of an HTML page goes (filled by :func:`_embed_font` once the
#: characters of the page are known).
_FONT_SLOT = "/*@font-face*/"


def _css(pdf: bool) -> str:
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    if pdf:
        from pipeline.plots.style import font_path

        face = f'@font-face {{ font-family: "NotoSansCJKsc"; src: url("{font_path().as_uri()}"); }}\n'
        css = face + css + "\n" + (_TEMPLATES / "print.css").read_text(encoding="utf-8")
    else:
        css = _FONT_SLOT + "\n" + css
    return css


def _render(template: str, ctx: dict, pdf: bool = False) -> str:
    from markupsafe import Markup

    sep = "\u3000" if ctx.get("lang") == "zh" else ". "
    return _jinja().get_template(template).render(css=Markup(_css(pdf)), pdf=pdf, sep=sep, **ctx)


def _font_chars(texts: list[str]) -> set[int]:
    """Code points a set of HTML documents can show: their text (entities resolved, data URIs
    dropped) + printable ASCII (page numbers, CSS generated text) + the list markers and
    spaces WeasyPrint draws itself."""
    chars = set(range(0x20, 0x7F)) | {0x2022, 0x25E6, 0x25AA, 0xA0}
    for text in texts:
        text = re.sub(r'(?:src|href)="data:[^"]*"|url\(data:[^)]*\)', "", text)
        chars |= {ord(c) for c in _html.unescape(text)}
    return chars


def _subset_font(chars: set[int]) -> bytes | None:
    """The mplfonts Noto Sans CJK SC file cut down to ``chars`` (OpenType/CFF bytes).

    WeasyPrint subsets every embedded font itself, but on the full 16 MB CJK font (65 535
    glyphs, glyph ids kept) that takes ~10 s per PDF with fontTools; cutting the font first to
    the few hundred characters a document uses (glyph ids renumbered, layout features kept)
    takes ~1–2 s and leaves WeasyPrint a small font. The glyphs are the same outlines of the
    same file. The font's own timestamps are kept, so the bytes depend on ``chars`` only.
    Returns None (use the full font) if the font cannot be subset.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from pipeline.plots.style import font_path

    try:
        opt = subset.Options()
        opt.layout_features = ["*"]
        opt.name_IDs = ["*"]
        opt.notdef_outline = True
        opt.hinting = False
        opt.desubroutinize = True
        font = TTFont(str(font_path()), lazy=True, recalcTimestamp=False)
        sub = subset.Subsetter(opt)
        sub.populate(unicodes=chars)
        sub.subset(font)
        buf = _io.BytesIO()
        font.save(buf)
        return buf.getvalue()
    except Exception:  # pragma: no cover - fall back to the full font
        return None


def _font_subset(html_text: str, folder: Path) -> Path | None:
    """Write the subset of the CJK font for the characters of ``html_text`` into ``folder``."""
    data = _subset_font(_font_chars([html_text]))
    if data is None:
        return None
    out = folder / "NotoSansCJKsc-subset.otf"
    out.write_bytes(data)
    return out


def _font_face(otf: bytes | None) -> str:
    """``@font-face`` rule embedding a subset font as a base64 data URI (WOFF2; WOFF when the
    brotli compressor is not installed) so that an HTML page shows its CJK text in the report
    font without the reader having a CJK font. Empty if there is no subset."""
    if not otf:
        return ""
    from fontTools.ttLib import TTFont

    font = TTFont(_io.BytesIO(otf), recalcTimestamp=False)
    try:
        import brotli  # noqa: F401  (fontTools' WOFF2 writer needs it)

        font.flavor, mime = "woff2", "font/woff2"
    except ImportError:  # pragma: no cover
        font.flavor, mime = "woff", "font/woff"
    buf = _io.BytesIO()
    font.save(buf)
    b64 = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'@font-face {{ font-family: "NotoSansCJKsc"; src: url(data:{mime};base64,{b64}) format("{font.flavor}"); }}'


def _embed_font(pages: dict[Path, str], otf: bytes | None = None) -> dict[Path, str]:
    """Fill the font slot of every page with one subset covering the characters of all of
    them (``otf``: a subset already made for these characters, e.g. for the PDF)."""
    if otf is None:
        otf = _subset_font(_font_chars(list(pages.values())))
    face = _font_face(otf)
    return {p: h.replace(_FONT_SLOT, face, 1) for p, h in pages.items()}


def _write_pdf(html_text: str, path: Path, otf: bytes | None = None) -> None:
    """Render ``html_text`` (the print edition) to a PDF; ``otf`` is a subset of the CJK font
    covering its characters (made here when not given)."""
    import logging
    import tempfile

    import weasyprint

    from pipeline.plots.style import font_path

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="pipeline-font-") as tmp:
        if otf is None:
            otf = _subset_font(_font_chars([html_text]))
        if otf is not None:
            sub = Path(tmp) / "NotoSansCJKsc-subset.otf"
            sub.write_bytes(otf)
            html_text = html_text.replace(font_path().as_uri(), sub.as_uri())
        with atomic_path(path) as out:
            weasyprint.HTML(string=html_text, base_url=str(_TEMPLATES)).write_pdf(str(out))


# ============================================================================================
# Chapter outputs
# ============================================================================================


def _chapter(root: Path, chapter: str) -> dict | None:
    d = root / chapter
    if not d.exists():
        return None
    tables = {}
    for p in sorted((d / "tables").glob("*.parquet")):
        try:
            tables[p.stem] = pd.read_parquet(p)
        except Exception as err:  # a broken table is one clear line
            raise PipelineError(f"{p}: cannot read ({type(err).__name__})") from None
    figs = sorted((d / "figures").glob("*.png"))
    rec = json.loads((d / "headline.json").read_text(encoding="utf-8")) if (d / "headline.json").exists() else {}
    outline = json.loads((d / "outline.json").read_text(encoding="utf-8")) if (d / "outline.json").exists() else None
    return {"tables": tables, "figures": figs, "headline": rec, "dir": d, "outline": outline}


_SENTENCE_END = ("。", "．", ".", "！", "!", "？", "?", "）", ")", "”")


def _outline(executed: Path) -> list[list[str]]:
    """A chapter notebook in reading order: ``["p", sentence]``, ``["fig", name]``, ``["tab", name]``.

    Sentences are what the notebook printed or displayed as Markdown (one per line, complete
    sentences only: a line without closing punctuation is a technical note such as
    "2016: 71 units, na_policy=prorate", not a reading). Figure and table names come from the
    cell's ``save(fig, …"/figures/<name>")`` and ``write_table(…, "<name>")`` calls, so figures,
    tables and sentences keep the order of the notebook.
    """
    if not executed.exists():
        return []
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    out: list[list[str]] = []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or "parameters" in tags or "injected-parameters" in tags:
            continue
        src = cell.get("source", "")
        for name in re.findall(r"write_table\([^\n]*?[\"']([\w\-]+)[\"']\s*\)", src):
            out.append(["tab", name])
        for name in re.findall(r"save\(\s*\w+\s*,[^\n]*?[\"']([^\"']+)[\"']\s*\)", src):
            out.append(["fig", name.rstrip("/").rsplit("/", 1)[-1]])
        for o in cell.get("outputs", []):
            text = ""
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                text = o.get("text", "")
            elif "text/markdown" in o.get("data", {}):
                text = o["data"]["text/markdown"]
            for line in str(text).splitlines():
                line = line.strip().lstrip("#*> ").strip()
                if not line or line.startswith("HEADLINE") or "\t" in line or "  " in line or len(line) > 600:
                    continue
                if not line.endswith(_SENTENCE_END):
                    continue
                out.append(["p", line])
    return out


def _readings(executed: Path) -> list[str]:
    """The sentences of reading a chapter notebook printed (stdout/markdown outputs)."""
    return [v for k, v in _outline(executed) if k == "p"]


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _caption(kind: str, name: str, lang: str, **ctx) -> str:
    """Caption of a chapter figure/table: ``rep_cap_<name>`` / ``rep_tabcap_<name>`` first (the
    report owns its captions), then the chapter's own labels, else the name."""
    lab = labels(lang)
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


def _headline_rows(chapters: dict, lang: str, subst: dict) -> pd.DataFrame:
    """Every chapter's headline record as one long table (tables.xlsx only)."""
    rows = []
    for ch, d in chapters.items():
        for k, v in sorted(((d or {}).get("headline") or {}).items()):
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                continue
            v = _value_label(k, v, lang) if isinstance(v, str) else v
            v = _subst(v, subst) if isinstance(v, str) else v
            rows.append({"chapter": ch, "statistic": _label(f"rep_stat_{k}", lang, k), "code": k, "value": v})
    return pd.DataFrame(rows, columns=["chapter", "statistic", "code", "value"]).astype({"value": object})


# --------------------------------------------------------------------------------------------
# Which chapter tables the report body shows (the rest go to tables.xlsx only)
# --------------------------------------------------------------------------------------------


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
        "system": {"key": "system"},
        "item_stats": {"key": "items", "cols": ["item_id", "item_name", "category", "method", "max_points", "mean", "sd", "sd_rel", "share_full", "r_it"], "max_rows": 30},
    },
    "02-horizontal": {
        "h_peer_groups": {"key": "peer_groups", "cols": ["by", "group", "n", "mean", "median", "sd", "mean_rank", "n_winners", "share_winners"]},
        "h_peer_tests": {"key": "peer", "cols": ["by", "k", "n", "h", "df", "p", "epsilon_sq"]},
        "h_alpha": {"key": "alpha", "cols": ["category", "n_items", "n_units", "alpha"]},
    },
    "03-vertical-trend": {
        "v_lineage": {"key": "lineage", "where": lambda d, c: d.loc[d["link"].fillna("").astype(str) != ""], "cols": ["unit_id", "name", "link", "successor_id", "series_name"]},
        "v_mobility": {"key": "mobility", "cols": ["year_from", "year_to", "n_pairs", "shorrocks", "stay_share", "spearman", "mean_abs_d_rank", "winners_kept"]},
        "v_persistence": {"key": "persistence", "sort": (["years_winner", "longest_run", "series_id"], [False, False, True]),
                          "cols": ["series_id", "series_name", "n_years", "years_winner", "longest_run", "winner_last_year"], "max_rows": 15},
        "v_trends": {"key": "trends", "where": lambda d, c: d.loc[d["direction"] != "none"], "cols": ["series_id", "n", "tau", "slope", "p", "q", "direction"], "names": "series_id"},
        "v_discrimination": {"key": "discrimination", "cols": ["metric", "first", "last", "tau", "p", "slope", "direction"]},
    },
    "04-weights": {
        "sens_oat": {"key": "oat", "where": lambda d, c: d.loc[np.isclose(d["step"].abs(), 0.3) | np.isclose(d["step"].abs(), 0.1)]
                     .assign(step=lambda x: (100 * x["step"]).round().astype(int)).rename(columns={"step": "step_pct"})},
        "sens_scheme_shifts": {"key": "schemes", "where": lambda d, c: d.loc[d["scheme"] != "nominal"]},
        "sens_uncertainty_system": {"key": "uncertainty_system"},
        "sens_sobol": {"key": "sobol", "where": _only("target", "mean_abs_shift"), "cols": ["factor", "S1", "S1_conf", "ST", "ST_conf"]},
        "sens_effective_weights": {"key": "effective_weights", "where": _only("level", "category"), "cols": ["category", "nominal_share", "r2_share", "eta2_share", "ratio"]},
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


# ============================================================================================
# Evidence for the findings
# ============================================================================================


def _uncertainty(prm, data: dict, chapters: dict, year: int) -> pd.DataFrame | None:
    ch = chapters.get("04-weights") or {}
    for name, tab in sorted((ch.get("tables") or {}).items()):
        if {"unit_id", "nominal_rank", "p_winner", "q05", "q95"} <= set(tab.columns) and ("year" not in tab or (tab["year"] == year).all()):
            return tab
    try:
        from pipeline.sensitivity import uncertainty
    except ImportError:
        return None
    m = F.item_matrix(data["scores"], data["items"], year)
    it = data["items"].loc[data["items"]["year"] == year].set_index("item_id").reindex(m.columns)
    adj = data["totals"].loc[data["totals"]["year"] == year].set_index("unit_id")["adjustment"].reindex(m.index).fillna(0.0)
    res = uncertainty(m, it["max_points"].to_numpy(dtype=float), n=int(min(prm.n_samples, 5000)), seed=prm.seed, scheme=prm.scheme,
                      top_n=prm.top_n, kappa=prm.kappa, p=prm.p, offset=adj.to_numpy(), unit_ids=m.index.to_numpy())
    return res


def _effective_from_chapter(tab: pd.DataFrame | None) -> pd.DataFrame | None:
    """The category rows of the weights chapter's ``sens_effective_weights`` in the shape of
    :func:`pipeline.findings.effective_weights` (``effective_share`` = the r² share), so that the
    rule reads the very table the report shows as its evidence. None if it does not fit."""
    need = {"level", "category", "nominal_share", "r2_share"}
    if tab is None or not need <= set(tab.columns):
        return None
    d = tab.loc[tab["level"] == "category", ["category", "nominal_share", "r2_share"]].rename(columns={"r2_share": "effective_share"})
    if not len(d):
        return None
    d = d.assign(ratio=d["effective_share"] / d["nominal_share"]).reset_index(drop=True)
    return d


def _evidence(prm, data: dict, chapters: dict, year: int) -> dict:
    items, totals, scores, units = data["items"], data["totals"], data["scores"], data["units"]
    upto = totals.loc[totals["year"] <= year]
    ranks = F.scheme_ranks(scores, items, totals, year)
    tabs = (chapters.get("04-weights") or {}).get("tables") or {}
    ev = {
        "items": F.item_stats(scores, items, year),
        "system": F.system_by_year(upto, prm.top_n),
        "effective_weights": _effective_from_chapter(tabs.get("sens_effective_weights")),
        "favour": F.favour_test(ranks, units, seed=prm.seed),
        "fairness": tabs.get("sens_fairness_tests"),
        "peer": F.peer_test(totals, units, year, by="sector"),
        "persistence": F.persistence(totals, year),
        "ranking": totals.loc[totals["year"] == year, ["unit_id", "total", "rank", "is_winner", "pct_of_max", "adjustment"]],
        "uncertainty": _uncertainty(prm, data, chapters, year),
    }
    if ev["effective_weights"] is None:  # no weights chapter: the same measure from the totals
        ev["effective_weights"] = F.effective_weights(totals, items, year)
    integ = data.get("integrity")
    if integ is not None and len(integ):
        integ = integ.copy()
        integ["year"] = pd.to_numeric(integ["year"], errors="coerce")
        ev["integrity"] = integ.loc[integ["year"] == year]
    q = data.get("quarantine")
    ev["n_quarantined"] = int(len(q)) if (q is not None and prm.allow_quarantine) else 0
    return ev


def _namer(lang: str, units: pd.DataFrame | None = None, items: pd.DataFrame | None = None):
    unit_names = units.set_index("unit_id")["name"].to_dict() if units is not None else {}

    def name(kind: str, v: Any) -> str:
        v = str(v)
        if kind == "unit":
            return unit_names.get(v, v)
        if kind == "item":
            if items is not None and v in items.index:
                nm = str(items.loc[v, "item_name"])
                if lang == "zh":
                    return f"{v} {nm}"
                en = labels(lang).get(f"item_{nm}")
                return f"{v} {en}" if en else t("rep_item_fallback", lang, item_id=v)
            return v if lang == "zh" else t("rep_item_fallback", lang, item_id=v)
        if kind == "group" and ":" in v:  # "<attribute>:<group>", e.g. "type:机关党委"
            kind, v = v.split(":", 1)
        if kind in ("sector", "type", "size"):
            lab = labels(lang)
            return lab.get(f"{kind}_{v}", lab.get(f"sens_size_{v}", v))
        if kind == "category":
            return _label(f"cat_{v}", lang, v)
        if kind == "check":
            return _label(f"int_chk_{v}", lang, v.replace("_", " "))
        return v

    return name


# ============================================================================================
# build_year
# ============================================================================================


def _ranking_table(data: dict, year: int, top_n: int) -> pd.DataFrame:
    g = data["totals"].loc[data["totals"]["year"] == year].merge(data["units"][["unit_id", "name", "sector"]], on="unit_id", how="left")
    cut = float(g.loc[g["rank"] <= top_n, "total"].min())
    g = g.assign(gap=g["total"] - cut).sort_values(["rank", "unit_id"])
    return g[["rank", "unit_id", "name", "sector", "total", "pct_of_max", "adjustment", "gap", "is_winner"]].reset_index(drop=True)


def _chapter_blocks(doc: _Doc, ch: dict | None, chapter: str, executed: Path, fig_keys: dict | None = None,
                    after: dict | None = None) -> list[dict]:
    """The blocks of one chapter in notebook order: sentences of reading, every figure (each
    once, numbered), the body tables of :data:`_BODY` (numbered; their full versions and every
    other table of the chapter go to tables.xlsx).

    ``after`` maps ``"fig:<name>"`` / ``"tab:<name>"`` to a function returning more blocks (the
    report's own tables); they are placed after that item and its sentences of reading, and
    numbered there.
    Hooks whose item never appears run at the end of the chapter.
    """
    lang = doc.lang
    hooks = dict(after or {})
    if ch is None:
        blocks = [{"kind": "p", "text": t("rep_chapter_missing", lang, name=chapter)}]
        for fn in hooks.values():
            blocks += fn()
        return blocks
    outline = ch.get("outline")
    if outline is None:  # analysed before outlines were stored: read the executed notebook
        outline = _outline(executed)
    ctx = {**doc.ctx, **(ch.get("headline") or {})}
    spec = _BODY.get(chapter, {})
    figs = {p.stem: p for p in ch["figures"]}
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
            if lang != "zh" and _CJK.search(_subst(s, {n: "" for n in doc.unit_names})):
                continue  # a sentence that still holds Chinese (other than unit names) is left out
            blocks.append({"kind": "p", "text": s})
        elif kind == "fig" and val in figs:
            key = next((k for k, pat in (fig_keys or {}).items() if re.search(pat, val)), val)
            blocks.append(doc.figure(figs[val], _caption("fig", val, lang, **ctx), key=key))
        elif kind == "tab" and val in tabs:
            tab = tabs[val]
            cap = _caption("tab", val, lang, **ctx)
            if val in spec and len(tab):
                shown = _body_table(tab, spec[val], ctx, doc.unit_lookup, doc.item_lookup)
                if len(shown):
                    blocks.append(doc.table(shown, cap, key=spec[val].get("key", val), xlsx=tab, max_rows=spec[val].get("max_rows", _MAX_ROWS)))
                    continue
            if len(tab):
                doc.xlsx.append((f"{chapter[:2]} {cap}", doc.display(tab)))
    for fn in pending + list(hooks.values()):
        blocks += fn()
    return blocks


def _quality_blocks(doc: _Doc, data: dict, prm, year: int, integrity_chapter: bool) -> list[dict]:
    """Appendix 数据质量: the cleaning log by rule, quarantined values, the integrity counts
    (and, when the integrity chapter is absent, its summary tables)."""
    lang = doc.lang
    log, quar, integ = data.get("cleaning_log"), data.get("quarantine"), data.get("integrity")
    n_log = 0 if log is None else len(log)
    n_quar = 0 if quar is None else len(quar)
    blocks = [{"kind": "p", "text": _tp("rep_q_intro" if n_quar else "rep_q_intro_clean", lang, n_log=n_log, n_quar=n_quar)}]
    if log is not None and len(log):
        by_rule = log.groupby("rule").size().rename("count").reset_index().sort_values(["count", "rule"], ascending=[False, True])
        blocks.append(doc.table(by_rule, t("rep_tabcap_quality", lang), key="quality"))
    if n_quar:
        if prm.allow_quarantine:
            blocks.append({"kind": "p", "text": t("rep_q_quarantine_used", lang)})
        blocks.append(doc.table(quar, t("rep_tabcap_quarantine", lang), key="quarantine"))
    if integ is None:
        blocks.append({"kind": "p", "text": t("rep_q_integrity_missing", lang)})
        return blocks
    iy = integ.loc[pd.to_numeric(integ["year"], errors="coerce") == year]
    sev = iy["severity"].value_counts()
    parts = _join([_tp(f"rep_q_sev_{k}", lang, n=int(sev[k])) for k in F.SEVERITIES if int(sev.get(k, 0))], lang)
    blocks.append({"kind": "p", "text": _tp("rep_q_integrity", lang, n=len(iy), sev=parts) if len(iy) else t("rep_q_integrity_none", lang)})
    if len(iy) and not integrity_chapter:
        summ = iy.pivot_table(index="check", columns="severity", values="year", aggfunc="count", fill_value=0).reindex(columns=list(F.SEVERITIES), fill_value=0).reset_index()
        blocks.append(doc.table(summ, t("rep_tabcap_integrity_summary", lang), key="integrity"))
        hi = iy.loc[iy["severity"] == "high"]
        if len(hi):
            cols = [c for c in ("unit_id", "item", "check", "statistic", "evidence") if c in hi]
            spec = {"names": "unit_id", "items": "item", "sort": (["check", "unit_id"], [True, True]), "cols": cols}
            blocks.append(doc.table(_body_table(hi[cols], spec, {}, doc.unit_lookup, doc.item_lookup), t("rep_tabcap_integrity_high", lang), key="integrity_list"))
    return blocks


def _methods_blocks(prm) -> list[dict]:
    lang = prm.lang
    keys = ["rep_m_total", "rep_m_rank", "rep_m_dist", "rep_m_items", "rep_m_mc", "rep_m_sobol", "rep_m_eff", "rep_m_favour", "rep_m_kw", "rep_m_trend", "rep_m_rules"]
    fmt = dict(na_policy=prm.na_policy, top_n=prm.top_n, kappa=prm.kappa, p=prm.p, n_samples=prm.n_samples, n_perm=4999)
    return [{"kind": "list", "items": [t(k, lang, **fmt) for k in keys]}]


def manifest(prm, inputs: list[Path], timings: dict[str, float], root: Path | None = None) -> dict:
    """Reproducibility record (issue #12: built by :func:`pipeline.provenance.manifest`; paths relative to the project root, lock-file hash)."""
    from pipeline import provenance

    return provenance.manifest(prm.to_dict(), inputs, timings, root)


def _input_files(prm) -> list[Path]:
    raw = Path(prm.raw)
    files = [p for p in raw.rglob("*") if p.is_file()] if raw.exists() else []
    proc = Path(prm.processed)
    files += [p for p in proc.glob("*") if p.is_file() and p.suffix in (".parquet", ".csv")]
    return files


def write_xlsx(sheets: list[tuple[str, pd.DataFrame]], path: Path) -> Path:
    """Write one sheet per table: translated headers, frozen header row, widths, guarded text.

    Text cells that a spreadsheet would run as a formula are prefixed with an apostrophe
    (:func:`pipeline.io.neutralise_formulas`). The file is byte-identical for the same tables:
    workbook timestamps and zip entry dates are fixed.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for title, df in sheets:
        name = re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip()[:31] or "Sheet"
        base, i = name, 2
        while name.lower() in used:
            suffix = f" ({i})"
            name = base[: 31 - len(suffix)] + suffix
            i += 1
        used.add(name.lower())
        ws = wb.create_sheet(name)
        d = neutralise_formulas(df.reset_index(drop=True))
        ws.append([str(c) for c in d.columns])
        for rec in d.itertuples(index=False):
            row = []
            for v in rec:
                if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                    row.append(None)
                elif isinstance(v, (np.integer,)):
                    row.append(int(v))
                elif isinstance(v, (np.floating, float)):
                    row.append(float(v))
                elif isinstance(v, (bool, np.bool_)):
                    row.append(bool(v))
                else:
                    row.append(str(v))
            ws.append(row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.freeze_panes = "A2"
        for j, col in enumerate(d.columns, start=1):
            vals = [str(col)] + [_fmt_cell(v, str(col)) for v in d.iloc[:200, j - 1]]
            width = max(sum(2 if _CJK.match(ch) else 1 for ch in s) for s in vals)
            ws.column_dimensions[get_column_letter(j)].width = min(max(8, width + 2), 60)
    from datetime import datetime

    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "pipeline"
    buf = _io.BytesIO()
    wb.save(buf)
    # re-zip with fixed entry dates so that the bytes depend on the content only
    src = zipfile.ZipFile(buf)
    out = _io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            data = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b'<dcterms:modified xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>', data) if info.filename == "docProps/core.xml" else data
            zi = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return atomic_write(path, out.getvalue())


def _tp(key: str, lang: str, **fmt) -> str:
    """:func:`pipeline.i18n.t` with the English agreement helpers of
    :func:`pipeline.findings.plurals` (``s_<k>``, ``v_<k>``) for every integer value."""
    return t(key, lang, **F.plurals(fmt))


def _join(parts: list[str], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(p for p in parts if p)


def _severity_counts(found: list, lang: str) -> str:
    """"严重 1 个、中等 2 个" / "1 high, 2 medium": non-zero severities only."""
    return _join([_tp(f"rep_abs_sev_{sv}", lang, n=sum(f.severity == sv for f in found)) for sv in F.SEVERITIES
                  if any(f.severity == sv for f in found)], lang)


def _integrity_top(integ: pd.DataFrame | None, namer, lang: str, k: int = 3) -> str:
    """The ``k`` first high-severity integrity findings as "unit (check)" phrases."""
    if integ is None or not len(integ):
        return ""
    hi = integ.loc[integ["severity"] == "high"].copy()
    hi["_u"] = hi["unit_id"].astype("string").fillna("").str.strip() if "unit_id" in hi else ""
    hi = hi.sort_values(["check", "_u"], kind="mergesort").head(k)
    out = []
    for r in hi.to_dict("records"):
        check = namer("check", r["check"])
        item = str(r.get("item") or "").strip() if not pd.isna(r.get("item")) else ""
        what = t("rep_abs_int_item", lang, item=namer("item", item), check=check) if item else check
        out.append(t("rep_abs_int_unit", lang, unit=namer("unit", r["_u"]), what=what) if r["_u"] else t("rep_abs_int_year", lang, what=what))
    return _join(out, lang)


def _abstract(prm, data: dict, year: int, found: list, unc: pd.DataFrame | None, ev: dict | None = None, namer=None,
              ok: list | None = None) -> list[str]:
    """The 摘要: 4–5 sentences carrying the headline numbers, each generated from the data.

    Units, mean, sd and range; winners and the cut (with the bunching at the cut); how many
    winners are robust under weight uncertainty (naming the others); the high-severity
    integrity findings; the findings and the aspects examined without a finding.
    """
    lang = prm.lang
    ev = ev or {}
    namer = namer or _namer(lang, data["units"])
    st = overview_stats(data["totals"], year, prm.top_n).set_index("statistic")["value"]
    paras = [t("rep_abs_main", lang, year=year, n_units=int(st["n_units"]), mean=st["mean"], median=st["median"], sd=st["sd"], max=st["max"], min=st["min"])]
    g = data["totals"].loc[data["totals"]["year"] == year]
    near = int(((g["total"] - st["cut"]).abs() <= 0.5 + 1e-9).sum())
    paras.append(_tp("rep_abs_win" if near >= 2 else "rep_abs_win_plain", lang, top_n=prm.top_n, n_winners=int(st["n_winners"]), cut=st["cut"], near=near))
    if unc is not None and len(unc):
        win = unc.loc[unc["nominal_rank"] <= prm.top_n].sort_values(["p_winner", "unit_id"])
        weak = win.loc[win["p_winner"] < 0.8]
        names = _join([t("rep_abs_unit_p", lang, unit=namer("unit", u), p=p) for u, p in zip(weak["unit_id"].head(3), weak["p_winner"].head(3))], lang)
        key = "rep_abs_stab_all" if not len(weak) else ("rep_abs_stab" if len(weak) <= 3 else "rep_abs_stab_many")
        paras.append(_tp(key, lang, n_samples=_n_samples(prm, unc), stable=int(len(win) - len(weak)), n_winners=int(len(win)), k=int(len(weak)), names=names))
    integ = ev.get("integrity")
    if integ is not None:
        n_hi = int((integ["severity"] == "high").sum())
        if n_hi:
            paras.append(_tp("rep_abs_int" if n_hi <= 3 else "rep_abs_int_many", lang, k=n_hi, top=_integrity_top(integ, namer, lang)))
        else:
            paras.append(_tp("rep_abs_int_none", lang, k=int(len(integ))) if len(integ) else t("rep_abs_int_clean", lang))
    n_ok = len(ok or [])
    if found:
        paras.append(_tp("rep_abs_find" if n_ok else "rep_abs_find_all", lang, k=len(found), sev=_severity_counts(found, lang), k_ok=n_ok))
    else:
        paras.append(_tp("rep_abs_none", lang, k_ok=n_ok))
    return paras


def _n_samples(prm, unc: pd.DataFrame) -> int:
    sysd = unc.attrs.get("system") if hasattr(unc, "attrs") else None
    if isinstance(sysd, dict) and "n" in sysd:
        return int(sysd["n"])
    return int(prm.n_samples)


def _ok_blocks(doc: _Doc, ok: list, namer) -> list[dict]:
    """"未发现显著问题的方面": one line per aspect a rule examined without finding anything,
    with its numbers and evidence references."""
    if not ok:
        return []
    lang = doc.lang
    items = []
    for f in ok:
        ev = doc.resolve(f.evidence)
        items.append(doc.text(f.text(lang, namer)) + (t("rep_ok_ref", lang, refs=ev) if ev else ""))
    return [{"kind": "sub", "text": t("rep_ok_title", lang)}, {"kind": "p", "text": t("rep_ok_intro", lang)}, {"kind": "list", "items": items, "cls": "examined"}]


def _finding_blocks(doc: _Doc, found: list, namer, prefix: dict[str, str] | None = None, ok: list | None = None) -> tuple[list[dict], list[dict]]:
    """五/六: one block per finding (with its evidence references) and one per recommendation,
    then the aspects examined without a finding (``ok``, :func:`pipeline.findings.examined`).
    ``prefix`` (rule → text) is put before a finding's sentence (the study: in how many years)."""
    lang = doc.lang
    if not found:
        return [{"kind": "p", "text": t("rep_nothing", lang)}] + _ok_blocks(doc, ok or [], namer), [{"kind": "p", "text": t("rep_nothing_rec", lang)}]
    probs, recs = [], []
    for i, f in enumerate(found, start=1):
        ev = doc.resolve(f.evidence)
        probs.append({"kind": "finding", "n": i, "head": t("rep_finding_no", lang, n=i), "severity": t(f"rep_severity_{f.severity}", lang), "sev": f.severity,
                      "text": (prefix or {}).get(f.rule, "") + doc.text(f.text(lang, namer)),
                      "evidence": (t("rep_evidence", lang) + ("：" if lang == "zh" else ": ") + ev) if ev else ""})
        recs.append({"kind": "finding", "n": i, "head": t("rep_rec_for", lang, n=i), "severity": "", "sev": "", "text": doc.text(f.recommendation(lang, namer)), "evidence": ""})
    return probs + _ok_blocks(doc, ok or [], namer), recs


def build_year(params, out: Path | None = None, allow_missing: bool = False, timings: dict | None = None, analysis: Path | None = None, pdf: bool = True) -> Path:
    """Render the report of one year into ``<out or params.reports>/<year>/``.

    Reads the processed tables and the chapter outputs written by :func:`analyze`; writes
    ``report.html``, ``report.pdf``, ``tables.xlsx``, ``figures/`` (PNG + SVG of every chart),
    ``bulletin_H1.html``, ``units/<unit_id>.html`` (+ ``units/index.html``) and
    ``manifest.json``. ``allow_missing`` (development only) renders with absent chapters;
    ``analysis`` is the analysis root written by :func:`analyze` (default
    ``<processed>/analysis``); ``pdf=False`` skips the PDF (quick re-renders).

    Returns
    -------
    Path
        The year's report folder.
    """
    t0 = time.perf_counter()
    steps: dict[str, float] = dict(timings or {})
    prm = params
    lang = prm.lang
    year = _year_of(prm)
    processed = Path(prm.processed)
    dest = Path(out if out is not None else prm.reports) / str(year)
    root = _analysis_root(prm, analysis) / str(year)
    executed = Path(prm.reports) / str(year) / "executed"
    _log(f"report {year}: loading tables")
    data = _load(processed, prm.lang)
    chapters = {c: _chapter(root, c) for c in CHAPTERS}
    missing = [c for c, v in chapters.items() if v is None]
    if missing and not allow_missing:
        raise PipelineError(f"analysis results missing for {year}: {', '.join(missing)} — run `python -m pipeline analyze --year {year}` first")
    if (root / "timings.json").exists():
        steps.update({f"analyze:{k}": v for k, v in json.loads((root / "timings.json").read_text()).items()})
    _log(f"report {year}: findings")
    t1 = time.perf_counter()
    ev = _evidence(prm, data, chapters, year)
    found = F.derive(ev, top_n=prm.top_n)
    steps["findings"] = time.perf_counter() - t1
    it_idx = data["items"].loc[data["items"]["year"] == year].set_index("item_id")
    namer = _namer(lang, data["units"], it_idx)

    avail = available_years(processed)
    first_y, prev_y = _span(prm, year)[0], max([y for y in avail if y < year], default=year)
    doc = _Doc(lang, subst=_english_subst(data["items"].loc[data["items"]["year"] == year], lang), year=year, top_n=prm.top_n,
               n_samples=prm.n_samples, n_sobol=prm.n_sobol, first=first_y, last=year, prev=prev_y,
               **_span_ctx(lang, first_y, year, max(prev_y, first_y), year))
    doc.unit_names = _unit_names(data["units"])
    doc.unit_lookup = data["units"].set_index("unit_id")["name"].astype(str).to_dict()
    doc.item_lookup = {str(i): namer("item", i) for i in it_idx.index}
    ex = {c: executed / f"{c}.ipynb" for c in CHAPTERS}
    sections = []
    # 一、总体情况
    blocks = _chapter_blocks(doc, chapters.get("01-overview"), "01-overview", ex["01-overview"])
    if chapters.get("01-overview") is None:  # development only (allow_missing): the overview tables from the data
        blocks.append(doc.table(overview_stats(data["totals"], year, prm.top_n), t("rep_tabcap_distribution", lang), key="distribution"))
        blocks.append(doc.table(ev["system"], t("rep_tabcap_system", lang), key="system"))
        blocks.append(doc.table(ev["items"], t("rep_tabcap_item_stats", lang), key="items", max_rows=30))
    sections.append({"id": "overview", "title": t("rep_sec_overview", lang), "blocks": blocks})
    # 二、横向比较
    rk = _ranking_table(data, year, prm.top_n)
    blocks = _chapter_blocks(doc, chapters.get("02-horizontal"), "02-horizontal", ex["02-horizontal"], fig_keys={"ranking": r"rank"},
                             after={"fig:h_ranking": lambda: [doc.table(rk, t("rep_tabcap_ranking", lang), key="ranking", max_rows=len(rk))]})
    sections.append({"id": "horizontal", "title": t("rep_sec_horizontal", lang), "blocks": blocks})
    # 三、纵向比较与趋势
    blocks = _chapter_blocks(doc, chapters.get("03-vertical-trend"), "03-vertical-trend", ex["03-vertical-trend"], fig_keys={"system": r"system"})
    sections.append({"id": "vertical", "title": t("rep_sec_vertical", lang), "blocks": blocks})
    # 四、权重敏感性与公平性
    unc = ev.get("uncertainty")

    def unc_table() -> list[dict]:
        if unc is None or not len(unc):
            return []
        u = unc.merge(data["units"][["unit_id", "name"]], on="unit_id", how="left").sort_values(["nominal_rank", "unit_id"])
        u = u.loc[(u["nominal_rank"] <= prm.top_n) | (u["p_winner"] > 0)]
        cols = [c for c in ("nominal_rank", "unit_id", "name", "median_rank", "q05", "q95", "p_winner") if c in u]
        return [doc.table(u[cols], t("rep_tabcap_uncertainty", lang, n_samples=_n_samples(prm, unc)), key="uncertainty", max_rows=40)]

    blocks = _chapter_blocks(doc, chapters.get("04-weights"), "04-weights", ex["04-weights"],
                             fig_keys={"rank_interval": r"interval", "effective_weights": r"effective"}, after={"fig:sens_p_winner": unc_table})
    if "tab:effective_weights" not in doc.refs:
        blocks.append(doc.table(ev["effective_weights"], t("rep_tabcap_effective_weights", lang), key="effective_weights"))
    blocks.append({"kind": "p", "text": t("rep_favour_intro", lang)})
    blocks.append(doc.table(ev["favour"], t("rep_tabcap_favour", lang), key="favour"))
    sections.append({"id": "weights", "title": t("rep_sec_weights", lang), "blocks": blocks})
    # 附录 (built before 五/六 so that evidence references to appendix tables resolve)
    integ_ch = chapters.get("05-integrity")
    qual = _quality_blocks(doc, data, prm, year, integrity_chapter=integ_ch is not None)
    qual += _chapter_blocks(doc, integ_ch, "05-integrity", ex["05-integrity"])
    # 五、六
    ok = F.examined(ev, found, top_n=prm.top_n)
    probs, recs = _finding_blocks(doc, found, namer, ok=ok)
    ftab = F.to_frame(found, lang, namer)
    doc.xlsx.append((t("rep_tabcap_findings", lang), doc.display(ftab.drop(columns=["rule"]))))
    doc.xlsx.append((t("rep_headline", lang), doc.display(_headline_rows(chapters, lang, doc.subst))))
    sections.append({"id": "problems", "title": t("rep_sec_problems", lang), "blocks": probs})
    sections.append({"id": "recommend", "title": t("rep_sec_recommend", lang), "blocks": recs})
    man = manifest(prm, _input_files(prm), steps)
    repro = [{"kind": "p", "text": t("rep_r_commit", lang, commit=man["git_commit"])},
             {"kind": "p", "text": t("rep_r_inputs", lang, n=len(man["inputs"]), k=min(12, len(man["inputs"])))}]
    repro.append(doc.table(pd.DataFrame(man["inputs"])[["path", "sha256"]] if man["inputs"] else pd.DataFrame(columns=["path", "sha256"]), t("rep_tabcap_inputs", lang), key="inputs", max_rows=12))
    pv = pd.DataFrame({"parameter": list(prm.to_dict()), "value": [json.dumps(v, ensure_ascii=False) for v in prm.to_dict().values()]})
    pv = pv.loc[~pv["parameter"].isin(["raw", "processed", "reports"])]
    repro.append(doc.table(pv, t("rep_tabcap_params", lang), key="params", max_rows=40))
    repro.append(doc.table(pd.DataFrame({"package": list(man["versions"]), "version": list(man["versions"].values())}), t("rep_tabcap_versions", lang), key="versions", max_rows=40))
    repro.append({"kind": "p", "text": t("rep_r_rerun", lang, year=year)})
    appendix = [
        {"id": "quality", "title": t("rep_app_quality", lang), "blocks": qual},
        {"id": "methods", "title": t("rep_app_methods", lang), "blocks": _methods_blocks(prm)},
        {"id": "repro", "title": t("rep_app_repro", lang), "blocks": repro},
    ]
    ctx = {
        "lang": lang,
        "title": t("rep_title", lang, year=year),
        "title_lines": t("rep_title_lines", lang, year=year).split("\n"),
        "subtitle": t("rep_subtitle", lang),
        "params_line": t("rep_params_line", lang, top_n=prm.top_n, na_policy=prm.na_policy, seed=prm.seed, n_samples=_n_samples(prm, unc) if unc is not None else prm.n_samples, scheme=prm.scheme),
        "generated_by": t("rep_generated_by", lang),
        "abstract_title": t("rep_abstract", lang),
        "abstract": _abstract(prm, data, year, found, unc, ev, namer, ok),
        "toc_title": t("rep_toc", lang),
        "sections": sections,
        "appendix_title": t("rep_sec_appendix", lang),
        "appendix": appendix,
        "fig_label": t("rep_fig", lang),
        "tab_label": t("rep_tab", lang),
        "links": [("bulletin_H1.html", t("rep_cap_bulletin", lang)), ("units/index.html", t("rep_unit_index", lang))],
    }
    t1 = time.perf_counter()
    _log(f"report {year}: HTML")
    html_text = _render("report.html", ctx)
    pdf_text = _render("report.html", {**ctx, "links": []}, pdf=True) if pdf else ""
    # one font subset for the report and its PDF (the same characters), one for the small pages
    otf = _subset_font(_font_chars([html_text, pdf_text]))
    atomic_write(dest / "report.html", _embed_font({dest: html_text}, otf)[dest])
    write_xlsx(doc.xlsx, dest / "tables.xlsx")
    _copy_figures(root, dest / "figures")
    steps["html+xlsx"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    _log(f"report {year}: bulletin and unit pages")
    pages = write_bulletin(data, year, prm, dest / "bulletin_H1.html", write=False)
    pages.update(write_unit_pages(data, year, prm, ev.get("uncertainty"), dest / "units", write=False))
    for p, h in _embed_font(pages).items():
        atomic_write(p, h)
    steps["bulletin+units"] = time.perf_counter() - t1
    if pdf:
        t1 = time.perf_counter()
        _log(f"report {year}: PDF")
        _write_pdf(pdf_text, dest / "report.pdf", otf)
        steps["pdf"] = time.perf_counter() - t1
    steps["build_year"] = time.perf_counter() - t0
    man["wall_time_s"] = {k: round(float(v), 3) for k, v in steps.items()}
    atomic_write(dest / "manifest.json", json.dumps(man, ensure_ascii=False, indent=1, sort_keys=True))
    _log(f"report {year}: done ({steps['build_year']:.1f} s) → {dest}")
    return dest


def _copy_figures(root: Path, dest: Path) -> None:
    for p in sorted(root.glob("*/figures/*")):
        if p.suffix in (".png", ".svg"):
            atomic_write(dest / f"{p.parent.parent.name[:2]}_{p.name}", p.read_bytes())


# ============================================================================================
# Bulletin (半年通报) and unit pages
# ============================================================================================


def bulletin_table(scores: pd.DataFrame, items: pd.DataFrame, totals: pd.DataFrame, year: int, months=range(1, 7)) -> pd.DataFrame:
    """Half-year ranking from the monthly sheets (periods 1…6, items scored in points).

    A monthly row of an applicable item (status ≠ ``na``) can earn ``max_points / 12``
    (annual points of a 计分 item = the sum of its 12 monthly values); ``h1_pct`` =
    100 × earned / attainable.

    Returns
    -------
    DataFrame
        ``h1_rank`` (competition rank of ``h1_pct``), ``unit_id``, ``months`` (months with a
        row), ``h1_points``, ``h1_max``, ``h1_pct``, ``rank`` (the year-end rank). Empty when
        the year has no monthly rows.
    """
    per = [str(m) for m in months]
    s = scores.loc[(scores["year"] == year) & scores["period"].astype(str).isin(per)]
    cols = ["h1_rank", "unit_id", "months", "h1_points", "h1_max", "h1_pct", "rank"]
    if not len(s):
        return pd.DataFrame(columns=cols)
    s = s.merge(items.loc[items["year"] == year, ["item_id", "max_points"]], on="item_id", how="left")
    s = s.assign(earned=s["points"].astype(float).where(s["status"] == "ok", 0.0).fillna(0.0),
                 attainable=(s["max_points"] / 12.0).where(s["status"] != "na", 0.0))
    g = s.groupby("unit_id").agg(months=("period", "nunique"), h1_points=("earned", "sum"), h1_max=("attainable", "sum")).reset_index()
    g["h1_pct"] = 100.0 * g["h1_points"] / g["h1_max"].where(g["h1_max"] > 0)
    from pipeline.score import TIE_DECIMALS, rank

    g["h1_rank"] = rank(g["h1_pct"].fillna(-1).to_numpy(), decimals=TIE_DECIMALS).astype(int)
    g = g.merge(totals.loc[totals["year"] == year, ["unit_id", "rank"]], on="unit_id", how="left")
    return g[cols].sort_values(["h1_rank", "unit_id"]).reset_index(drop=True)


def write_bulletin(data: dict, year: int, prm, path: Path, write: bool = True) -> Path | dict[Path, str]:
    """Write ``bulletin_H1.html`` (self-contained, CJK font embedded).

    ``write=False`` returns ``{path: html}`` with the font slot still empty instead (the
    caller embeds one font subset for several pages, :func:`_embed_font`)."""
    lang = prm.lang
    b = bulletin_table(data["scores"], data["items"], data["totals"], year)
    paras, table = [], ""
    if len(b):
        b = b.merge(data["units"][["unit_id", "name"]], on="unit_id", how="left")
        b = b[["h1_rank", "unit_id", "name", "months", "h1_points", "h1_max", "h1_pct", "rank"]]
        overlap = int(((b["h1_rank"] <= prm.top_n) & (b["rank"] <= prm.top_n)).sum())
        paras = [t("rep_bul_intro", lang), t("rep_bul_reading", lang, mean=float(b["h1_pct"].mean()), top_n=prm.top_n, overlap=overlap)]
        table = _table_html(_display(b, lang))
    else:
        paras = [t("rep_bul_none", lang)]
    from markupsafe import Markup

    html_text = _render("bulletin.html", {"lang": lang, "title": t("rep_bul_title", lang, year=year), "paras": paras, "table": Markup(table),
                                          "caption": t("rep_tabcap_bulletin", lang), "back": t("rep_unit_back", lang), "back_href": "report.html"})
    if not write:
        return {path: html_text}
    return atomic_write(path, _embed_font({path: html_text})[path])


def _svg_radar(values: list[float], ref: list[float], names: list[str], lang: str) -> str:
    """Inline SVG radar of six dimensions (0–100 %): this unit vs the average."""
    from pipeline.plots.style import OTHER, WINNER

    cx, cy, r = 170, 150, 100
    k = len(names)
    ang = [math.pi / 2 - 2 * math.pi * i / k for i in range(k)]

    def pts(vals):
        return " ".join(f"{cx + r * max(0, min(v, 100)) / 100 * math.cos(a):.1f},{cy - r * max(0, min(v, 100)) / 100 * math.sin(a):.1f}" for v, a in zip(vals, ang))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 340 300" width="340" height="300" role="img">']
    for lv in (25, 50, 75, 100):
        parts.append(f'<polygon points="{pts([lv] * k)}" fill="none" stroke="#ccc" stroke-width="0.7"/>')
    for a, nm in zip(ang, names):
        x, y = cx + (r + 14) * math.cos(a), cy - (r + 14) * math.sin(a)
        anchor = "middle" if abs(math.cos(a)) < 0.3 else ("start" if math.cos(a) > 0 else "end")
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{cx + r * math.cos(a):.1f}" y2="{cy - r * math.sin(a):.1f}" stroke="#ccc" stroke-width="0.7"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="{anchor}">{_html.escape(nm)}</text>')
    parts.append(f'<polygon points="{pts(ref)}" fill="{OTHER}" fill-opacity="0.25" stroke="{OTHER}" stroke-width="1.2"/>')
    parts.append(f'<polygon points="{pts(values)}" fill="{WINNER}" fill-opacity="0.25" stroke="{WINNER}" stroke-width="1.8"/>')
    parts.append(f'<rect x="8" y="278" width="10" height="10" fill="{WINNER}"/><text x="22" y="287" font-size="11">{_html.escape(t("rep_lg_unit", lang))}</text>')
    parts.append(f'<rect x="110" y="278" width="10" height="10" fill="{OTHER}"/><text x="124" y="287" font-size="11">{_html.escape(t("rep_lg_all", lang))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_lines(years: list[int], series: list[float], title: str, invert: bool = False, lo: float | None = None, hi: float | None = None) -> str:
    """Small inline SVG line chart (one series over the years)."""
    from pipeline.plots.style import PALETTE

    w, h, l, b, tp = 300, 170, 40, 28, 22
    vals = [v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return ""
    lo = min(vals) if lo is None else lo
    hi = max(vals) if hi is None else hi
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    x0, x1 = (min(years), max(years)) if len(years) > 1 else (years[0] - 1, years[0] + 1)

    def X(yr):
        return l + (w - l - 10) * (yr - x0) / (x1 - x0)

    def Y(v):
        f = (v - lo) / (hi - lo)
        return tp + (h - tp - b) * (f if invert else 1 - f)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">',
             f'<text x="{l}" y="14" font-size="11">{_html.escape(title)}</text>',
             f'<line x1="{l}" y1="{h - b}" x2="{w - 10}" y2="{h - b}" stroke="#999"/><line x1="{l}" y1="{tp}" x2="{l}" y2="{h - b}" stroke="#999"/>']
    for v in (lo, hi):
        parts.append(f'<text x="{l - 4}" y="{Y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
    for yr in years:
        parts.append(f'<text x="{X(yr):.1f}" y="{h - b + 14}" font-size="10" text-anchor="middle">{yr % 100:02d}</text>')
    pts = [(X(yr), Y(v)) for yr, v in zip(years, series) if v is not None and not (isinstance(v, float) and math.isnan(v))]
    parts.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="none" stroke="{PALETTE[1]}" stroke-width="1.8"/>')
    parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.8" fill="{PALETTE[1]}"/>' for x, y in pts]
    parts.append("</svg>")
    return "".join(parts)


def write_unit_pages(data: dict, year: int, prm, unc: pd.DataFrame | None, folder: Path, write: bool = True) -> list[Path] | dict[Path, str]:
    """Write ``units/<unit_id>.html`` for every unit of the year and ``units/index.html``.

    Every page is self-contained: its charts are inline SVG and the CJK font is embedded
    (one subset covering all pages). ``write=False`` returns ``{path: html}`` with the font
    slot still empty instead (:func:`_embed_font`)."""
    from markupsafe import Markup

    lang = prm.lang
    totals, items, units = data["totals"], data["items"], data["units"]
    g = totals.loc[totals["year"] == year]
    names = units.set_index("unit_id")["name"].to_dict()
    dmax = items.loc[items["year"] == year].groupby("dimension")["max_points"].sum()
    dims = [d for d in config.DIMENSIONS if d in dmax.index]
    mean_dim = [100 * g[f"dim_{d}"].mean() / dmax[d] for d in dims]
    cut = float(g.loc[g["rank"] <= prm.top_n, "total"].min())
    integ = data.get("integrity")
    iy = integ.loc[pd.to_numeric(integ["year"], errors="coerce") == year] if integ is not None and len(integ) else None
    weak = data.get("weak_orgs")
    wk = weak.loc[weak["year"] == year].set_index("unit_id")["status"].to_dict() if weak is not None and len(weak) else {}
    u_idx = unc.set_index("unit_id") if unc is not None and len(unc) else None
    n_samp = _n_samples(prm, unc) if unc is not None else prm.n_samples
    hist = totals.sort_values("year")
    subst = _english_subst(items.loc[items["year"] == year], lang)
    item_name = _namer(lang, items=items.loc[items["year"] == year].set_index("item_id"))
    env_t = "unit.html"
    pages: dict[Path, str] = {}
    index_rows = []
    for r in g.sort_values(["rank", "unit_id"]).itertuples(index=False):
        uid = r.unit_id
        nm = names.get(uid, uid)
        stand = t("rep_unit_stand_text", lang, total=r.total, pct=r.pct_of_max, n=len(g), rank=int(r.rank),
                  status=t("rep_unit_winner" if r.is_winner else "rep_unit_not_winner", lang), gap=r.total - cut)
        radar = _svg_radar([100 * getattr(r, f"dim_{d}") / dmax[d] for d in dims], mean_dim, [t(f"dim_{d}", lang) for d in dims], lang)
        h = hist.loc[(hist["unit_id"] == uid) & (hist["year"] <= year)]
        yrs = h["year"].astype(int).tolist()
        traj = Markup(_svg_lines(yrs, h["rank"].astype(float).tolist(), t("rep_col_rank", lang), invert=True, lo=1, hi=float(g["rank"].max()))
                      + _svg_lines(yrs, h["pct_of_max"].astype(float).tolist(), t("rep_col_pct_of_max", lang)))
        if u_idx is not None and uid in u_idx.index:
            u = u_idx.loc[uid]
            interval = t("rep_unit_interval_text", lang, n_samples=n_samp, q05=int(u["q05"]), q95=int(u["q95"]), median=int(u.get("median_rank", u["q05"])), p=float(u["p_winner"]))
        else:
            interval = t("rep_unit_interval_none", lang)
        flags_tab = ""
        if iy is not None:
            fu = iy.loc[iy["unit_id"] == uid]
            if len(fu):
                cols = [c for c in ("check", "item", "severity", "statistic", "evidence") if c in fu]
                fu = fu[cols].copy()
                if "item" in fu:
                    fu["item"] = fu["item"].map(lambda v: item_name("item", v) if isinstance(v, str) and v.strip() else v)
                flags_tab = _table_html(_display(fu, lang, subst), _col_classes(fu, lang))
        weak_line = t("rep_unit_weak", lang, status=t(f"rep_weak_{wk[uid]}", lang)) if uid in wk and f"rep_weak_{wk[uid]}" in labels(lang) else ""
        ctx = {"lang": lang, "title": t("rep_unit_title", lang, name=nm, year=year), "stand_h": t("rep_unit_stand", lang), "stand": stand,
               "radar_h": t("rep_unit_radar", lang), "radar": Markup(radar), "traj_h": t("rep_unit_traj", lang), "traj": traj,
               "interval_h": t("rep_unit_interval", lang), "interval": interval, "flags_h": t("rep_unit_flags", lang),
               "flags": Markup(flags_tab), "flags_none": t("rep_unit_flags_none", lang), "weak": weak_line, "back": t("rep_unit_back", lang)}
        pages[folder / f"{uid}.html"] = _render(env_t, ctx)
        index_rows.append({"rank": int(r.rank), "unit_id": f'<a href="{uid}.html">{uid}</a>', "name": nm, "total": r.total})
    idx = pd.DataFrame(index_rows)
    tab = _table_html(_display(idx, lang)).replace("&lt;a href=&quot;", '<a href="').replace("&quot;&gt;", '">').replace("&lt;/a&gt;", "</a>")
    pages[folder / "index.html"] = _render("bulletin.html", {"lang": lang, "title": t("rep_unit_index", lang) + f" {year}", "paras": [], "table": Markup(tab), "caption": "",
                                                             "back": t("rep_unit_back", lang), "back_href": "../report.html"})
    if not write:
        return pages
    written = []
    for p, h in _embed_font(pages).items():
        written.append(atomic_write(p, h))
    return [p for p in written if p.name != "index.html"]


# ============================================================================================
# Study and run_all
# ============================================================================================


def build_study(params, years: tuple[int, int] | None = None, out: Path | None = None, analysis: Path | None = None, pdf: bool = True) -> Path:
    """Render the multi-year study into ``<out or reports>/study_<first>-<last>/``.

    Reads the processed tables and, where present, each year's analysis folder under
    ``analysis`` (default: the analysis root of the report language) — headline records,
    the weight-uncertainty results and the last year's vertical/trend chapter, which covers
    the whole span; a year without analysis results gets its findings from the data (a
    smaller Monte Carlo run). Writes ``report.html``, ``report.pdf`` (unless ``pdf=False``),
    ``tables.xlsx`` and ``manifest.json``.
    """
    t0 = time.perf_counter()
    prm = params
    lang = prm.lang
    processed = Path(prm.processed)
    data = _load(processed, lang)
    avail = available_years(processed)
    first, last = years or (prm.years or (avail[0], avail[-1]))
    yrs = [y for y in avail if first <= y <= last]
    if not yrs:
        raise PipelineError(f"years {first}-{last} are not in the data")
    first, last = yrs[0], yrs[-1]
    dest = Path(out if out is not None else prm.reports) / f"study_{first}-{last}"
    _log(f"study {first}-{last}: building")
    totals = data["totals"].loc[data["totals"]["year"].isin(yrs)]
    system = F.system_by_year(totals, prm.top_n)
    doc = _Doc(lang, subst=_english_subst(data["items"].loc[data["items"]["year"].isin(yrs)], lang), year=last, top_n=prm.top_n,
               n_samples=prm.n_samples, n_sobol=prm.n_sobol, first=first, last=last, prev=yrs[-2] if len(yrs) > 1 else last,
               **_span_ctx(lang, first, last, yrs[-2] if len(yrs) > 1 else last, last))
    doc.unit_names = _unit_names(data["units"])
    doc.unit_lookup = data["units"].set_index("unit_id")["name"].astype(str).to_dict()
    rows = []
    per_year_found = {}
    for y in yrs:
        root = _analysis_root(prm, analysis) / str(y)
        chs = {c: _chapter(root, c) for c in CHAPTERS}
        ev = _evidence(replace(prm, year=y), data, chs, y)
        fy = F.derive({k: v for k, v in ev.items() if k != "system"}, top_n=prm.top_n)
        per_year_found[y] = fy
        unc = ev.get("uncertainty")
        st = overview_stats(totals, y, prm.top_n).set_index("statistic")["value"]
        rows.append({"year": y, "n_units": int(st["n_units"]), "mean": st["mean"], "sd": st["sd"], "cut_points": st["cut"], "n_winners": int(st["n_winners"]),
                     "stable": int(((unc["nominal_rank"] <= prm.top_n) & (unc["p_winner"] >= 0.8)).sum()) if unc is not None else np.nan,
                     "n_findings": len(fy)})
    years_tab = pd.DataFrame(rows)
    found = F.derive({"system": system, "persistence": F.persistence(totals, last)}, top_n=prm.top_n)
    # recurring per-year findings: a rule that fired in at least half of the years
    counts: dict[str, list] = {}
    for y, fy in per_year_found.items():
        for f in fy:
            counts.setdefault(f.rule, []).append((y, f))
    recurring = [fs[-1][1] for rule, fs in sorted(counts.items()) if len(fs) * 2 >= len(yrs) and rule not in {f.rule for f in found}]
    prefix = {fs[-1][1].rule: t("rep_study_recurring" if len(fs) < len(yrs) else "rep_study_recurring_all", lang, k=len(fs), n=len(yrs), year=fs[-1][0])
              for fs in counts.values() if fs[-1][1] in recurring}
    order = {s: i for i, s in enumerate(F.SEVERITIES)}
    found = sorted(found + recurring, key=lambda f: order.get(f.severity, 9))
    # which rule fired in which year (a ✓ per year)
    rules = sorted(counts, key=lambda r: (-len(counts[r]), r))
    fired = pd.DataFrame({"rule": [_label(f"rep_rule_{r}", lang, r) for r in rules], "n_fired": [len(counts[r]) for r in rules],
                          **{str(y): [any(yy == y for yy, _ in counts[r]) for r in rules] for y in yrs}})
    namer = _namer(lang, data["units"], data["items"].loc[data["items"]["year"] == last].set_index("item_id"))
    sections = []
    blocks = [{"kind": "p", "text": t("rep_study_years_intro", lang, first=first, last=last, n=len(yrs))},
              doc.table(years_tab, t("rep_tabcap_years", lang), key="years")]
    sections.append({"id": "years", "title": t("rep_sec_study_years", lang), "blocks": blocks})
    vt = _chapter(_analysis_root(prm, analysis) / str(last), "03-vertical-trend")
    blocks = [{"kind": "p", "text": overview_reading("system", lang, system=system)}]
    blocks.append(doc.table(system, t("rep_tabcap_system", lang), key="system"))
    if vt is not None:  # the vertical chapter of the last year covers the whole span
        blocks += _chapter_blocks(doc, vt, "03-vertical-trend", Path(prm.reports) / str(last) / "executed" / "03-vertical-trend.ipynb", fig_keys={"system": r"system"})
    else:
        blocks.append(doc.figure(_fig_png(plot_system(system, lang)), t("rep_cap_study_system", lang), key="system"))
        wins = totals.groupby("unit_id").agg(years_won=("is_winner", "sum"), years_seen=("year", "nunique")).reset_index()
        wins = wins.merge(data["units"][["unit_id", "name", "sector"]], on="unit_id", how="left")
        wins = wins.loc[wins["years_won"] > 0].sort_values(["years_won", "unit_id"], ascending=[False, True])[["unit_id", "name", "sector", "years_won", "years_seen"]]
        blocks.append(doc.table(wins, t("rep_tabcap_persist", lang), key="persistence", max_rows=30))
    sections.append({"id": "trend", "title": t("rep_sec_study_trend", lang), "blocks": blocks})
    probs, recs = _finding_blocks(doc, found, namer, prefix=prefix)
    if len(fired):
        probs = [{"kind": "p", "text": t("rep_study_fired_intro", lang)}, doc.table(fired, t("rep_tabcap_fired", lang), key="fired")] + probs
    sections.append({"id": "problems", "title": t("rep_sec_study_findings", lang), "blocks": probs})
    sections.append({"id": "recommend", "title": t("rep_sec_study_recommend", lang), "blocks": recs})
    doc.xlsx.append((t("rep_tabcap_findings", lang), doc.display(F.to_frame(found, lang, namer).drop(columns=["rule"]))))
    man = manifest(replace(prm, years=(first, last)), _input_files(prm), {})
    appendix = [
        {"id": "methods", "title": t("rep_app_methods_study", lang), "blocks": _methods_blocks(prm)},
        {"id": "repro", "title": t("rep_app_repro_study", lang), "blocks": [{"kind": "p", "text": t("rep_r_commit", lang, commit=man["git_commit"])},
                                                                              {"kind": "p", "text": t("rep_r_inputs_study", lang, n=len(man["inputs"]))}]},
    ]
    rec_rules = sorted(((r, len(fs)) for r, fs in counts.items() if len(fs) * 2 >= len(yrs)), key=lambda x: (-x[1], x[0]))
    u_lo, u_hi = int(years_tab["n_units"].min()), int(years_tab["n_units"].max())
    abstract = [_tp("rep_abs_study" if u_lo != u_hi else "rep_abs_study_same", lang, first=first, last=last, n=len(yrs), units_min=u_lo, units_max=u_hi),
                overview_reading("system", lang, system=system),
                t("rep_abs_study_recurring", lang, rules=_join([_tp("rep_abs_study_rule", lang, rule=_label(f"rep_rule_{r}", lang, r), k=k) for r, k in rec_rules], lang))
                if rec_rules else t("rep_abs_study_none", lang),
                _tp("rep_abs_find_study", lang, k=len(found), sev=_severity_counts(found, lang)) if found else t("rep_abs_none_study", lang)]
    ctx = {"lang": lang, "title": t("rep_study_title", lang, first=first, last=last),
           "title_lines": t("rep_study_title_lines", lang, first=first, last=last).split("\n"), "subtitle": t("rep_subtitle", lang),
           "params_line": t("rep_params_line", lang, top_n=prm.top_n, na_policy=prm.na_policy, seed=prm.seed, n_samples=prm.n_samples, scheme=prm.scheme),
           "generated_by": t("rep_generated_by", lang), "abstract_title": t("rep_abstract", lang), "abstract": abstract, "toc_title": t("rep_toc", lang),
           "sections": sections, "appendix_title": t("rep_sec_appendix", lang), "appendix": appendix, "fig_label": t("rep_fig", lang),
           "tab_label": t("rep_tab", lang), "links": [(f"../{y}/report.html", str(y)) for y in yrs if (Path(prm.reports) / str(y) / "report.html").exists()]}
    html_text = _render("report.html", ctx)
    pdf_text = _render("report.html", {**ctx, "links": []}, pdf=True) if pdf else ""
    otf = _subset_font(_font_chars([html_text, pdf_text]))
    atomic_write(dest / "report.html", _embed_font({dest: html_text}, otf)[dest])
    write_xlsx(doc.xlsx, dest / "tables.xlsx")
    if pdf:
        _write_pdf(pdf_text, dest / "report.pdf", otf)
    man["wall_time_s"] = {"build_study": round(time.perf_counter() - t0, 3)}
    atomic_write(dest / "manifest.json", json.dumps(man, ensure_ascii=False, indent=1, sort_keys=True))
    _log(f"study {first}-{last}: done ({time.perf_counter() - t0:.1f} s) → {dest}")
    return dest


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = _io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def _build_year_worker(prm_dict: dict, out: str | None, timings: dict) -> str:
    from pipeline.params import Params

    d = dict(prm_dict)
    d["years"] = tuple(d["years"]) if d.get("years") else None
    return str(build_year(Params(**d), out=Path(out) if out else None, timings=timings))


def run_all(params, out: Path | None = None, workers: int = 2, force: bool = False) -> Path:
    """The whole pipeline: (synth) → clean → check → analyze + report per year → study.

    The sample world is written into ``data/raw`` only when that default folder has no year
    folders (``make report`` on a fresh checkout). Notebooks of all years run in ``workers``
    processes; reports are rendered in ``workers`` processes too.

    Returns
    -------
    Path
        The study folder.
    """
    from pipeline import clean, integrity

    prm = params
    t0 = time.perf_counter()
    raw = Path(prm.raw)
    has_years = raw.exists() and any(p.is_dir() and re.fullmatch(r"\d{4}", p.name) for p in raw.iterdir())
    if not has_years:
        if raw.resolve() != config.RAW.resolve():
            raise PipelineError(f"{raw}: no year folders (e.g. {raw}/2015) — nothing to analyse")
        from pipeline import synth

        _log(f"synth: writing the sample world into {raw}")
        synth.write_world(raw, config.TRUTH, seed=config.SEED, n_units=74, years=(2009, 2016))
    # ---- issue #12 (h-repro): incremental steps — pipeline.cache keys each step by the content of its
    # inputs, its parameters and the code; a fresh step is reused, `--force` recomputes everything.
    from pipeline import cache

    store = cache.Store(prm.processed, force=force)
    processed = Path(prm.processed)
    steps = {}
    t1 = time.perf_counter()
    store.run("clean", cache.clean_key(prm), [processed / f for f in cache.CLEAN_OUTPUTS],
              lambda: clean.run(raw, processed, years=prm.years, allow_quarantine=prm.allow_quarantine))
    steps["clean"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    store.run("check", cache.check_key(prm), [processed / "integrity.csv"], lambda: integrity.run(raw, processed, years=prm.years))
    steps["check"] = time.perf_counter() - t1
    avail = available_years(processed)
    yrs = [y for y in avail if prm.years is None or prm.years[0] <= y <= prm.years[1]]
    jobs, ch_keys = [], {}
    for y in yrs:
        py = replace(prm, year=y)
        root = _analysis_root(prm) / str(y)
        executed = Path(out if out is not None else prm.reports) / str(y) / "executed"
        for c in _chapters_present(False):
            nbp = _nb_params(py, y, c, root / c)
            k = ch_keys[(y, c)] = cache.chapter_key(prm, c, nbp)
            step = f"analyze-{prm.lang}-{y}-{c}"
            if store.fresh(step, k, [root / c, executed / f"{c}.ipynb"]):
                store.reused.append(step)
            else:
                jobs.append((c, str(executed / f"{c}.ipynb"), nbp))
    _log(f"analyze: {len(ch_keys) - len(jobs)} chapter run(s) reused, {len(jobs)} to compute")
    t1 = time.perf_counter()
    timings = _run_jobs(jobs, workers)
    for c, ex, nbp in jobs:
        store.mark(f"analyze-{prm.lang}-{nbp['year']}-{c}", ch_keys[(nbp["year"], c)], [Path(nbp["out_dir"]), Path(ex)])
    steps["analyze"] = time.perf_counter() - t1
    for y in yrs:
        tj = {c: round(v, 2) for (yy, c), v in sorted(timings.items()) if yy == str(y)}
        if tj:  # a year whose chapters were all reused keeps its timings
            atomic_write(_analysis_root(prm) / str(y) / "timings.json", json.dumps(tj, indent=1))
    t1 = time.perf_counter()
    common = {"clean": steps["clean"], "check": steps["check"]}
    rep_keys = {y: cache.report_key(prm, y, [ch_keys[(y, c)] for c in _chapters_present(False)], _span(prm, y)[0]) for y in yrs}
    rep_dir = {y: Path(out if out is not None else prm.reports) / str(y) for y in yrs}
    todo = [y for y in yrs if not store.fresh(f"report-{prm.lang}-{y}", rep_keys[y], [rep_dir[y]])]
    _log(f"report: {len(yrs) - len(todo)} year(s) reused, {len(todo)} to render")
    if workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futs = {pool.submit(_build_year_worker, replace(prm, year=y).to_dict(), str(out) if out else None, common): y for y in todo}
            for fut in as_completed(futs):
                fut.result()
    else:
        for y in todo:
            build_year(replace(prm, year=y), out=out, timings=common)
    for y in todo:
        store.mark(f"report-{prm.lang}-{y}", rep_keys[y], [rep_dir[y]])
    steps["report"] = time.perf_counter() - t1
    study_dir = Path(out if out is not None else prm.reports) / f"study_{yrs[0]}-{yrs[-1]}"
    store.run(f"study-{prm.lang}-{yrs[0]}-{yrs[-1]}", cache.study_key(prm, rep_keys.values()), [study_dir],
              lambda: build_study(prm, years=(yrs[0], yrs[-1]), out=out))
    study = study_dir
    _log(f"all: {store.summary()}")
    # ---- end of issue #12 hunk
    _log(f"all: done in {time.perf_counter() - t0:.1f} s (clean {steps['clean']:.1f}, check {steps['check']:.1f}, analyze {steps['analyze']:.1f}, report {steps['report']:.1f})")
    return study
