"""Charts of the integrity checks (防止假数字): digit distribution, monthly gaps, findings, bunching.

Every function returns a :class:`matplotlib.figure.Figure`; labels come from
``pipeline/labels/integrity.yaml`` through :func:`pipeline.i18n.t`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.i18n import t
from pipeline.plots.style import OTHER, PALETTE, WINNER, use_style

__all__ = ["digit_distribution", "monthly_gap_hist", "findings_by_check", "cut_window"]

_SEV_COLOR = {"high": WINNER, "medium": PALETTE[2], "low": OTHER}


def _plt():
    use_style()
    import matplotlib.pyplot as plt

    return plt


def digit_distribution(digits: pd.DataFrame, year: int, lang: str = "zh"):
    """Bar chart of terminal-digit shares (all units vs flagged units) against the uniform 10 %.

    Parameters
    ----------
    digits : DataFrame
        Output of :func:`pipeline.integrity.digit_table` (group, digit, n, share).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    groups = [g for g in ("all", "flagged") if int(digits.loc[digits["group"] == g, "n"].sum()) > 0]
    width = 0.8 / max(len(groups), 1)
    for i, g in enumerate(groups):
        d = digits.loc[digits["group"] == g].sort_values("digit")
        n = int(d["n"].sum())
        label = t("int_digit_all" if g == "all" else "int_digit_flagged", lang) + f" (n={n})"
        ax.bar(d["digit"] + (i - (len(groups) - 1) / 2) * width, d["share"], width=width,
               color=OTHER if g == "all" else WINNER, label=label)
    ax.axhline(10, color="black", ls="--", lw=1, label=t("int_digit_uniform", lang))
    ax.set_xticks(range(10))
    ax.set_xlabel(t("int_digit_x", lang))
    ax.set_ylabel(t("int_digit_y", lang))
    ax.set_title(t("int_digit_title", lang, year=year))
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return fig


def monthly_gap_hist(gaps: pd.DataFrame, year: int, tol: float = 0.05, lang: str = "zh"):
    """Histogram (log count) of annual − Σ monthly per unit × item, with the rounding tolerance.

    Parameters
    ----------
    gaps : DataFrame
        Output of :func:`pipeline.integrity.monthly_gaps` (uses ``year`` and ``gap``).
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.8))
    g = gaps.loc[gaps["year"] == year, "gap"].astype(float).to_numpy() if len(gaps) else np.array([])
    if g.size:
        lo, hi = min(g.min(), -1.0), max(g.max(), 1.0)
        bins = np.arange(np.floor(lo * 10) / 10 - 0.05, np.ceil(hi * 10) / 10 + 0.1, 0.1)
        if len(bins) > 200:
            bins = 200
        ax.hist(g, bins=bins, color=PALETTE[1], log=True)
        out = np.abs(g) > tol
        if out.any():
            ax.hist(g[out], bins=bins, color=WINNER, log=True)
    ax.axvspan(-tol, tol, color=PALETTE[3], alpha=0.2, label=t("int_gap_tol", lang, tol=tol))
    ax.set_xlabel(t("int_gap_x", lang))
    ax.set_ylabel(t("int_gap_y", lang))
    ax.set_title(t("int_gap_title", lang, year=year))
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    return fig


def findings_by_check(findings: pd.DataFrame, lang: str = "zh"):
    """Horizontal stacked bars: number of findings per check, split by severity."""
    plt = _plt()
    sev = ["high", "medium", "low"]
    if len(findings):
        tab = pd.crosstab(findings["check"], findings["severity"]).reindex(columns=sev, fill_value=0)
    else:
        tab = pd.DataFrame(columns=sev)
    fig, ax = plt.subplots(figsize=(7, 0.45 * max(len(tab), 2) + 1.4))
    left = np.zeros(len(tab))
    names = [t(f"int_chk_{c}", lang) for c in tab.index]
    for s in sev:
        vals = tab[s].to_numpy() if len(tab) else np.array([])
        ax.barh(names, vals, left=left, color=_SEV_COLOR[s], label=t(f"int_sev_{s}", lang))
        left = left + vals
    if not len(tab):
        ax.text(0.5, 0.5, t("int_none", lang), ha="center", va="center", transform=ax.transAxes)
    ax.invert_yaxis()
    ax.set_xlabel(t("int_count", lang))
    ax.set_title(t("int_counts_title", lang))
    ax.legend(title=t("int_severity", lang), fontsize=8, frameon=False, loc="lower right")
    return fig


def cut_window(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N, h: float | None = None,
               col: str = "total", lang: str = "zh"):
    """Dot strip of the year's totals near the top-``top_n`` cut (±6 h), winners in red.

    Parameters
    ----------
    totals : DataFrame
        ``year``, ``unit_id``, ``col`` (default ``total``).
    h : float, optional
        Half-width of the inner band of :func:`pipeline.integrity.cut_bunching` (shaded).
    """
    plt = _plt()
    v = np.sort(totals.loc[totals["year"] == year, col].astype(float).dropna().to_numpy())[::-1]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if len(v) >= top_n:
        c = v[top_n - 1]
        h = h if h and h > 0 else max(0.05, 0.1 * np.std(v))
        win = 6 * h
        near = v[np.abs(v - c) <= win]
        # stack equal-ish values so that bunching shows as a tall column
        bins = np.round((near - c) / (h / 2))
        _, inv, counts = np.unique(bins, return_inverse=True, return_counts=True)
        level = np.zeros(len(near))
        seen: dict[int, int] = {}
        for i, b in enumerate(inv):  # a few dozen points at most
            level[i] = seen.get(b, 0)
            seen[b] = seen.get(b, 0) + 1
        ax.scatter(near, level + 1, s=36, c=[WINNER if x >= c else OTHER for x in near], zorder=3)
        ax.axvline(c, color="black", ls="--", lw=1)
        ax.text(c, (level.max() + 2.1) if len(level) else 1, t("int_bunch_cut", lang, cut=f"{c:.2f}"),
                ha="center", va="bottom", fontsize=8)
        ax.axvspan(c - h, c + h, color=PALETTE[2], alpha=0.2)
        ax.set_ylim(0, (level.max() if len(level) else 1) + 3.0)
        ax.set_xlim(c - win, c + win)
    ax.set_xlabel(t("int_bunch_x", lang))
    ax.set_ylabel(t("int_bunch_y", lang))
    ax.set_title(t("int_bunch_title", lang, year=year, top_n=top_n))
    return fig
