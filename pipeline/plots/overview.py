"""Charts of the overview chapter (notebooks/01-overview)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from pipeline.i18n import localized, t
from pipeline.i18n import tp as _tp


@localized
def plot_structure(structure: pd.DataFrame):
    """Horizontal stacked bars: points of each category, items scored in points vs graded."""
    from pipeline.plots.style import OTHER, PALETTE

    plt = _plt()
    s = structure.iloc[::-1]
    y = np.arange(len(s))
    fig, ax = plt.subplots(figsize=(6.4, 0.55 * len(s) + 1.2))
    ax.barh(y, s["points_points"], color=PALETTE[0], label=t("rep_lg_points"))
    ax.barh(y, s["points_grade"], left=s["points_points"], color=OTHER, label=t("rep_lg_grade"))
    for yy, (tot, n) in enumerate(zip(s["max_points"], s["n_items"])):
        ax.text(tot + 0.4, yy, _tp("rep_lg_items_points", points=tot, n=int(n)), va="center", fontsize=8)
    ax.set_yticks(y, [t(f"cat_{c}") for c in s["category"]])
    ax.set_xlim(0, float(s["max_points"].max()) * 1.3)
    ax.set_xlabel(t("rep_ax_points"))
    ax.legend(frameon=False, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2)  # above the axes, clear of the labels
    return fig


def _plt():
    from pipeline.plots.style import use_style

    use_style()
    import matplotlib.pyplot as plt

    return plt


@localized
def plot_profile(profile: pd.DataFrame):
    """Grouped bars: % of category maximum for winners and other units."""
    from pipeline.plots.style import OTHER, WINNER

    plt = _plt()
    x = np.arange(len(profile))
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.bar(x - 0.2, profile["winners"], 0.4, color=WINNER, label=t("rep_lg_winners"))
    ax.bar(x + 0.2, profile["others"], 0.4, color=OTHER, label=t("rep_lg_others"))
    ax.set_xticks(x, [t(f"cat_{c}") for c in profile["category"]])
    lo = float(min(profile["winners"].min(), profile["others"].min()))
    ax.set_ylim(max(0.0, lo - 10), 100)
    ax.set_ylabel(t("rep_ax_pct"))
    ax.legend(frameon=False, fontsize=8, loc="upper right", ncol=2)  # above the bars (they stop well below 100)
    return fig
