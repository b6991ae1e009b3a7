"""Charts of a scheme comparison (matplotlib, CJK glyphs from :mod:`pipeline.plots.style`).

Each function takes the tables of :mod:`pipeline.scheme.compare` and returns a Figure.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from pipeline.i18n import current, t
from pipeline.plots.style import OTHER, PALETTE, WINNER, use_style

__all__ = ["rank_scatter", "stability_lines", "group_bars", "rank_intervals", "value_label"]


def value_label(attribute: str | None, value) -> str:
    """Display form of a group value (``type_机关党委``, ``sector_政法``, ``sens_size_small`` labels)."""
    for key in (f"{attribute}_{value}", f"sens_size_{value}"):
        try:
            return t(key)
        except KeyError:
            continue
    return str(value)


def _plt():
    use_style()
    import matplotlib.pyplot as plt

    return plt


def rank_scatter(comp: pd.DataFrame, label_moves: bool = True):
    """Official rank (x) against the scheme's overall rank (y) in one year; winners in and out
    marked and named."""
    plt = _plt()
    d = comp
    wo, ws = d["official_winner"].astype(bool), d["scheme_winner"].astype(bool)
    kinds = [("both", wo & ws, WINNER, "o"), ("in", ws & ~wo, PALETTE[3], "^"), ("out", wo & ~ws, PALETTE[1], "v"), ("none", ~wo & ~ws, OTHER, "o")]
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    n = len(d)
    ax.plot([1, n], [1, n], color="#999", lw=0.8, ls="--", zorder=1)
    for key, m, col, mk in kinds:
        if m.any():
            ax.scatter(d.loc[m, "official_rank"], d.loc[m, "overall_rank"], c=col, marker=mk, s=28 if key != "none" else 14,
                       label=t(f"sch_fig_{key}"), zorder=3)
    if label_moves:
        for r in d.loc[wo != ws].itertuples():
            ax.annotate(str(r.name), (r.official_rank, r.overall_rank), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.set_xlabel(t("sch_fig_official_rank"))
    ax.set_ylabel(t("sch_fig_scheme_rank"))
    ax.invert_xaxis()
    ax.invert_yaxis()
    ax.set_title(t("sch_fig_scatter_title", year=int(d["year"].iloc[0])), fontsize=11)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


def stability_lines(stabilities: Sequence[tuple[str, pd.DataFrame]]):
    """Kendall τ and the winner-set Jaccard index by year, one line per scheme."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.4))
    for (name, st), col in zip(stabilities, PALETTE):
        axes[0].plot(st["year"], st["kendall_tau"], marker="o", color=col, label=name)
        axes[1].plot(st["year"], st["jaccard"], marker="o", color=col, label=name)
    for ax, key in zip(axes, ("sch_fig_tau", "sch_fig_jaccard")):
        ax.set_title(t(key), fontsize=10)
        ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.02)
        ax.set_xlabel(t("sch_fig_year"))
        yrs = sorted({int(y) for _, st in stabilities for y in st["year"]})
        ax.set_xticks(yrs)
        ax.set_xticklabels([str(y) for y in yrs], rotation=45, fontsize=8)
    axes[1].legend(fontsize=8, loc="lower left", framealpha=0.9)
    return fig


def group_bars(gw: pd.DataFrame, attributes: Sequence[str] = ("type", "sector")):
    """Winners per group under the official scheme and the proposal (one year), one panel per
    grouping attribute."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(attributes), figsize=(4.3 * len(attributes), 3.0), squeeze=False)
    for ax, attribute in zip(axes[0], attributes):
        d = gw.loc[gw["attribute"] == attribute].reset_index(drop=True)
        x = np.arange(len(d))
        ax.bar(x - 0.2, d["official_winners"], width=0.4, color=OTHER, label=t("sch_fig_official"))
        ax.bar(x + 0.2, d["scheme_winners"], width=0.4, color=WINNER, label=t("sch_fig_scheme"))
        ax.set_xticks(x)
        ax.set_xticklabels([value_label(attribute, g) for g in d["group"]], fontsize=8, rotation=20 if current() == "en" else 0)
        ax.set_ylabel(t("sch_fig_winners"))
        ax.set_title(t(f"sch_fig_groups_{attribute}", year=int(d["year"].iloc[0])), fontsize=10)
    axes[0][0].legend(fontsize=8)
    return fig


def rank_intervals(mc: pd.DataFrame, names: pd.Series, quota_of: dict, max_units: int = 40, tier_by: str | None = None):
    """The scheme's rank (black tick), median rank (dot) and 5–95 % interval under Monte Carlo,
    for the best ``max_units`` units by scheme rank (within tiers), winners in red."""
    plt = _plt()
    d = mc.assign(win=mc["nominal_rank"] <= mc["tier"].map(quota_of)).sort_values(["nominal_rank", "tier"], kind="stable").head(max_units)
    d = d.reset_index(drop=True)
    n = len(d)
    fig, ax = plt.subplots(figsize=(7.2, max(3.0, 0.2 * n + 1.2)))
    y = np.arange(n)
    col = np.where(d["win"], WINNER, OTHER)
    ax.hlines(y, d["q05"], d["q95"], colors=col, lw=2.2, alpha=0.55, label=t("sch_fig_interval"))
    ax.scatter(d["median_rank"], y, c=col, s=18, zorder=3, label=t("sch_fig_median"))
    ax.scatter(d["nominal_rank"], y, marker="|", c="black", s=60, zorder=4, label=t("sch_fig_scheme_rank_tick"))
    tiered = (d["tier"] != "").any()
    lab = [f"{names.get(u, u)} ({value_label(tier_by, tr)})" if tiered else str(names.get(u, u)) for u, tr in zip(d["unit_id"], d["tier"])]
    ax.set_yticks(y)
    ax.set_yticklabels(lab, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(t("sch_fig_rank_in_tier") if tiered else t("sch_fig_rank"))
    ax.set_title(t("sch_fig_mc_title", year=int(d["year"].iloc[0])), fontsize=10)
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    return fig
