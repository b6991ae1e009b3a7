"""Charts of the integrity checks (防止假数字): digit distribution, monthly gaps, findings, bunching.

Every function returns a :class:`matplotlib.figure.Figure`; labels come from
``pipeline/labels/integrity.yaml`` through :func:`pipeline.i18n.t`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.i18n import localized, t
from pipeline.plots.style import OTHER, PALETTE, WINNER, use_style

__all__ = ["digit_distribution", "monthly_gap_hist", "findings_by_check", "cut_window"]

_SEV_COLOR = {"high": WINNER, "medium": PALETTE[2], "low": OTHER}


def _plt():
    use_style()
    import matplotlib.pyplot as plt

    return plt


@localized
def digit_distribution(digits: pd.DataFrame, year: int):
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
        label = t("int_digit_all" if g == "all" else "int_digit_flagged") + f" (n={n})"
        ax.bar(d["digit"] + (i - (len(groups) - 1) / 2) * width, d["share"], width=width,
               color=OTHER if g == "all" else WINNER, label=label)
    ax.axhline(10, color="black", ls="--", lw=1, label=t("int_digit_uniform"))
    ax.set_xticks(range(10))
    ax.set_xlabel(t("int_digit_x"))
    ax.set_ylabel(t("int_digit_y"))
    ax.set_title(t("int_digit_title", year=year), pad=22)
    ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return fig


@localized
def monthly_gap_hist(gaps: pd.DataFrame, year: int, tol: float = 0.05):
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
        out = np.abs(g) > tol
        ax.hist(g, bins=bins, color=PALETTE[1], log=True, label=t("int_gap_within"))
        if out.any():
            ax.hist(g[out], bins=bins, color=WINNER, log=True, label=t("int_gap_beyond", k=int(out.sum())))
    for x in (-tol, tol):  # the rounding tolerance as two thin lines, never over the bars' tops
        ax.axvline(x, color=PALETTE[3], ls=":", lw=1.2, zorder=0, label=t("int_gap_tol", tol=tol) if x > 0 else None)
    if g.size:
        ax.set_ylim(0.5, max(2.0, len(g)) * 3)
    ax.set_xlabel(t("int_gap_x"))
    ax.set_ylabel(t("int_gap_y"))
    ax.set_title(t("int_gap_title", year=year), pad=22)
    ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return fig


@localized
def findings_by_check(findings: pd.DataFrame):
    """Horizontal stacked bars: number of findings per check, split by severity.

    The legend sits above the axes (one row), never over the bars; each bar ends with its total.
    """
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    sev = ["high", "medium", "low"]
    if len(findings):
        tab = pd.crosstab(findings["check"], findings["severity"]).reindex(columns=sev, fill_value=0)
    else:
        tab = pd.DataFrame(columns=sev)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * max(len(tab), 2) + 1.9))
    left = np.zeros(len(tab))
    names = [t(f"int_chk_{c}") for c in tab.index]
    for s in sev:
        vals = tab[s].to_numpy(float) if len(tab) else np.array([])
        ax.barh(names, vals, left=left, color=_SEV_COLOR[s], height=0.6)
        left = left + vals
    if len(tab):
        for i, tot in enumerate(left):
            ax.text(tot, i, f" {int(tot)}", va="center", ha="left", fontsize=8)
        ax.set_xlim(0, max(left.max(), 1) * 1.12)
        ax.set_ylim(len(tab) - 0.5, -0.5)  # first check on top
    else:
        ax.text(0.5, 0.5, t("int_none"), ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(t("int_count"))
    ax.set_title(t("int_counts_title"), pad=40)
    handles = [Patch(color=_SEV_COLOR[s], label=t(f"int_sev_{s}")) for s in sev]
    ax.legend(handles=handles, title=t("int_severity"), fontsize=8, title_fontsize=8, frameon=False,
              loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3)
    return fig


@localized
def cut_window(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N, window: float | None = None,
               col: str = "total", reach: float = 3.0):
    """Dot strip of the year's totals near the winners' line, winners in red.

    Equal totals (to 0.1) stack into columns, so bunching shows as tall columns just right of
    the first non-winner's total ``c'`` (dashed line). The shaded band is the window
    ``(c', c' + window]`` scanned by :func:`pipeline.integrity.cut_bunching` (default
    :data:`pipeline.integrity.BUNCH_WINDOW`, 1 point).

    Parameters
    ----------
    totals : DataFrame
        ``year``, ``unit_id``, ``col`` (default ``total``).
    window : float, optional
        Width of the shaded window above ``c'`` (points).
    reach : float
        Points shown on each side of ``c'``.
    """
    from pipeline import integrity as integ

    plt = _plt()
    window = integ.BUNCH_WINDOW if window is None else float(window)
    v = np.sort(totals.loc[totals["year"] == year, col].astype(float).dropna().to_numpy())[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    below = v[v < v[top_n - 1] - 1e-9] if len(v) >= top_n else np.array([])
    if len(below):
        cp = float(below[0])
        near = v[np.abs(v - cp) <= reach + window]
        # stack totals that are equal at the 0.1 resolution into columns
        key = np.round(near, 1)
        order = np.argsort(key, kind="stable")
        level = np.empty(len(near))
        _, first, counts = np.unique(key[order], return_index=True, return_counts=True)
        level[order] = np.arange(len(near)) - np.repeat(first, counts)
        win = near > cp + 1e-9
        ax.scatter(near[win], level[win] + 1, s=34, c=WINNER, zorder=3, label=t("winner"))
        ax.scatter(near[~win], level[~win] + 1, s=34, c=OTHER, zorder=3, label=t("int_bunch_other"))
        ax.axvspan(cp, cp + window, color=PALETTE[2], alpha=0.2, zorder=1, label=t("int_bunch_window", w=window))
        ax.axvline(cp, color="black", ls="--", lw=1, zorder=2, label=t("int_bunch_line", cut=f"{cp:.2f}"))
        top = float(level.max() + 1) if len(level) else 1.0
        ax.set_ylim(0, top + 1.5)
        ax.set_xlim(cp - reach - 0.15, cp + window + reach + 0.15)
        ax.legend(fontsize=8, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4)
    else:  # every unit wins (no more units than places): there is no line to draw, say so
        ax.text(0.5, 0.5, t("int_bunch_no_cut", n=len(v), top_n=top_n), ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(t("int_bunch_x"))
    ax.set_ylabel(t("int_bunch_y"))
    ax.set_title(t("int_bunch_title", year=year, top_n=top_n), pad=24)
    return fig
