"""Charts of the weight sensitivity and fairness analysis (notebook 04, report chapter 四).

Every function takes the table returned by :mod:`pipeline.sensitivity` and an optional ``lang`` ("zh"/"en";
default: the active language) and returns a :class:`matplotlib.figure.Figure`; save with :func:`pipeline.plots.save`.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pipeline import config
from pipeline.i18n import localized, t
from pipeline.plots.style import OTHER, PALETTE, WINNER, use_style

__all__ = [
    "rank_intervals",
    "p_winner_bars",
    "sobol_bars",
    "effective_weights_chart",
    "acceptability_heatmap",
    "fairness_chart",
    "oat_chart",
    "factor_label",
]


def factor_label(name: str) -> str:
    """Readable label of a factor / category / dimension / scheme name."""
    key = str(name)
    if key.startswith("w_"):
        key = key[2:]
    for cand in (f"cat_{key}", f"dim_{key}", f"sens_factor_{key}", f"sens_scheme_{key}", key):
        try:
            return t(cand)
        except KeyError:
            continue
    return str(name)


def _names(ids, names: Mapping | None) -> list[str]:
    if names is None:
        return [str(i) for i in ids]
    return [str(names.get(i, i)) for i in ids]


@localized
def rank_intervals(unc: pd.DataFrame, top_n: int = config.TOP_N, names: Mapping | None = None,
                   max_units: int | None = None):
    """Nominal rank vs median rank with the 5–95 % interval per unit (winners in red).

    Parameters
    ----------
    unc : DataFrame
        From :func:`pipeline.sensitivity.uncertainty`.
    names : mapping, optional
        unit_id → display name.
    max_units : int, optional
        Show only the best ``max_units`` units by nominal rank.
    """
    use_style()
    d = unc.sort_values(["nominal_rank", "mean_rank"]).reset_index(drop=True)
    if max_units:
        d = d.head(max_units)
    n = len(d)
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.17 * n + 1.2)))
    y = np.arange(n)
    col = np.where(d["nominal_winner"], WINNER, OTHER)
    ax.hlines(y, d["q05"], d["q95"], colors=col, lw=2.2, alpha=0.55, label=t("sens_interval"))
    ax.scatter(d["median_rank"], y, c=col, s=18, zorder=3, label=t("sens_median_rank"))
    ax.scatter(d["nominal_rank"], y, marker="|", c="black", s=60, zorder=4, label=t("sens_nominal_rank"))
    ax.axvline(top_n + 0.5, color=WINNER, ls="--", lw=1, label=t("sens_winner_cut", top_n=top_n))
    ax.set_yticks(y)
    ax.set_yticklabels(_names(d["unit_id"], names), fontsize=7 if n > 40 else 8)
    ax.invert_yaxis()
    ax.set_xlabel(t("sens_rank"))
    ax.set_xlim(0.5, max(float(d["q95"].max()), float(d["nominal_rank"].max())) + 0.5)
    ax.set_title(t("sens_rank_interval_title", n=f"{unc.attrs.get('system', {}).get('n', '')}"), fontsize=11)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return fig


@localized
def p_winner_bars(unc: pd.DataFrame, top_n: int = config.TOP_N, names: Mapping | None = None,
                  min_p: float = 0.0):
    """P(winner) per unit, sorted; nominal winners in red. Units with P ≤ ``min_p`` are left out
    (except nominal winners)."""
    use_style()
    d = unc[(unc["p_winner"] > min_p) | unc["nominal_winner"]].sort_values(["p_winner", "nominal_rank"], ascending=[False, True])
    n = len(d)
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.17 * n + 1.2)))
    y = np.arange(n)
    ax.barh(y, d["p_winner"], color=np.where(d["nominal_winner"], WINNER, OTHER))
    ax.set_yticks(y)
    ax.set_yticklabels(_names(d["unit_id"], names), fontsize=7 if n > 40 else 8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    ax.axvline(0.5, color="black", lw=0.6, ls=":")
    ax.set_xlabel(t("sens_p_winner"))
    ax.set_title(t("sens_p_winner_title"), fontsize=11)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=WINNER, label=t("sens_nominal_winner")), Patch(color=OTHER, label=t("sens_other_unit"))],
              loc="lower right", fontsize=8)
    return fig


@localized
def sobol_bars(sob: pd.DataFrame, n: int | None = None, title: str | None = None):
    """S1 and ST with confidence bars per factor.

    Parameters
    ----------
    sob : DataFrame
        Rows of one target: index or column ``factor`` and ``S1``, ``S1_conf``, ``ST``, ``ST_conf``.
    """
    use_style()
    d = sob.reset_index() if "factor" not in sob.columns else sob
    labels = [factor_label(f) for f in d["factor"]]
    x = np.arange(len(d))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(d) + 2), 3.8))
    wd = 0.38
    ax.bar(x - wd / 2, d["S1"], wd, yerr=d["S1_conf"], capsize=3, color=PALETTE[1], label=t("sens_S1"))
    ax.bar(x + wd / 2, d["ST"], wd, yerr=d["ST_conf"], capsize=3, color=PALETTE[0], label=t("sens_ST"))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=0 if len(d) <= 5 else 30, ha="center" if len(d) <= 5 else "right")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(t("sens_index"))
    ax.set_title(title or t("sens_sobol_title", n=n if n is not None else ""), fontsize=11)
    ax.legend(fontsize=9)
    return fig


@localized
def shapley_bars(shap: pd.DataFrame, n: int | None = None, title: str | None = None):
    """Shapley shares (summing to 1) with bootstrap half-widths per weight factor.

    Parameters
    ----------
    shap : DataFrame
        Rows of one target of :func:`pipeline.sensitivity.weight_shapley` (``factor``, ``share``, ``conf``).
    """
    use_style()
    d = shap.reset_index() if "factor" not in shap.columns else shap
    labels = [factor_label(f) for f in d["factor"]]
    x = np.arange(len(d))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(d) + 2), 3.8))
    ax.bar(x, d["share"], 0.6, yerr=d["conf"], capsize=3, color=PALETTE[0], label=t("sens_shapley_share"))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=0 if len(d) <= 5 else 30, ha="center" if len(d) <= 5 else "right")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_ylabel(t("sens_shapley_share"))
    ax.set_title(title or t("sens_shapley_title", n=n if n is not None else ""), fontsize=11)
    return fig


@localized
def effective_weights_chart(eff: pd.DataFrame, level: str = "category"):
    """Nominal share beside the effective shares (r² and bias-corrected ε²) of each category (or item)."""
    use_style()
    d = eff[eff["level"] == level]
    labels = [factor_label(n) for n in d["name"]]
    x = np.arange(len(d))
    fig, ax = plt.subplots(figsize=(max(5.5, 0.45 * len(d) + 3), 3.8))
    wd = 0.27
    ax.bar(x - wd, d["nominal_share"], wd, color=OTHER, label=t("sens_nominal_share"))
    ax.bar(x, d["r2_share"], wd, color=PALETTE[0], label=t("sens_r2_share"))
    ax.bar(x + wd, d["eps2_share"], wd, color=PALETTE[2], label=t("sens_eps2_share"))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=0 if len(d) <= 6 else 60, ha="center" if len(d) <= 6 else "right",
                       fontsize=9 if len(d) <= 6 else 7)
    ax.set_ylabel(t("sens_share"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title(t("sens_effective_title"), fontsize=11)
    top = float(np.nanmax(d[["nominal_share", "r2_share", "eps2_share"]].to_numpy())) if len(d) else 1.0
    ax.set_ylim(0, top * 1.55)
    ax.legend(fontsize=8, ncol=1, loc="upper left")
    return fig


@localized
def acceptability_heatmap(acceptability: pd.DataFrame, names: Mapping | None = None,
                          max_rank: int | None = 30, max_units: int | None = 40, top_n: int = config.TOP_N):
    """Units × ranks heatmap of SMAA rank acceptability (units ordered by expected rank)."""
    use_style()
    acc = acceptability
    ranks = np.asarray(acc.columns, dtype=float)
    order = (acc.to_numpy() @ ranks).argsort(kind="stable")
    acc = acc.iloc[order]
    if max_units:
        acc = acc.head(max_units)
    if max_rank:
        acc = acc.loc[:, [c for c in acc.columns if c <= max_rank]]
    nu, nr = acc.shape
    fig, ax = plt.subplots(figsize=(max(6.0, 0.2 * nr + 3), max(3.0, 0.17 * nu + 1.4)))
    im = ax.imshow(acc.to_numpy(), aspect="auto", cmap="Reds", vmin=0, vmax=max(acc.to_numpy().max(), 1e-9),
                   interpolation="nearest")
    ax.set_yticks(np.arange(nu))
    ax.set_yticklabels(_names(acc.index, names), fontsize=7 if nu > 40 else 8)
    step = 1 if nr <= 20 else 5
    ticks = [i for i, c in enumerate(acc.columns) if c == 1 or c % step == 0]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(acc.columns[i]) for i in ticks])
    if top_n < nr:
        ax.axvline(top_n - 0.5, color="black", ls="--", lw=0.8)
    ax.grid(False)
    ax.set_xlabel(t("sens_rank"))
    ax.set_title(t("sens_smaa_title"), fontsize=11)
    fig.colorbar(im, ax=ax, label=t("sens_acceptability"), shrink=0.6)
    return fig


@localized
def fairness_chart(outcomes: pd.DataFrame, attribute: str = "sector", schemes=None):
    """Winners per group of ``attribute`` under each scheme (grouped bars)."""
    use_style()
    d = outcomes[outcomes["attribute"] == attribute]
    if schemes is None:
        schemes = list(dict.fromkeys(d["scheme"]))
    piv = d.pivot(index="group", columns="scheme", values="winners").reindex(columns=schemes)
    groups = list(piv.index)
    x = np.arange(len(groups))
    k = len(schemes)
    wd = 0.8 / max(k, 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(groups) + 3), 4.0))
    others = [c for c in PALETTE if c != WINNER]
    for i, s in enumerate(schemes):
        ax.bar(x - 0.4 + wd * (i + 0.5), piv[s].to_numpy(), wd, label=factor_label(s),
               color=(WINNER if s == "nominal" else others[i % len(others)]),
               hatch=("//" if s == "monte_carlo" else None), edgecolor="white", linewidth=0.3)
    gl = []
    for g in groups:
        try:
            gl.append(t(f"{attribute}_{g}"))
        except KeyError:
            try:
                gl.append(t(f"sens_size_{g}"))
            except KeyError:
                gl.append(str(g))
    ax.set_xticks(x)
    ax.set_xticklabels(gl, fontsize=9)
    ax.set_ylabel(t("sens_winners"))
    ax.set_title(t("sens_fairness_title") + f" — {t('sens_attribute_' + attribute) if attribute in ('type', 'sector', 'size') else attribute}", fontsize=11)
    ax.set_ylim(0, float(np.nanmax(piv.to_numpy())) * 1.45 + 0.5)
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    return fig


@localized
def oat_chart(summary: pd.DataFrame):
    """Mean |Δrank| against the weight change, one line per factor (from ``shift_summary``)."""
    use_style()
    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for i, (f, g) in enumerate(summary.groupby("factor", sort=False)):
        g = g.sort_values("step")
        ax.plot(g["step"], g["mean_abs_shift"], marker="o", color=PALETTE[i % len(PALETTE)], label=factor_label(f))
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:+.0%}"))
    ax.set_xlabel(t("sens_step"))
    ax.set_ylabel(t("sens_mean_abs_shift"))
    ax.set_title(t("sens_oat_title"), fontsize=11)
    ax.legend(fontsize=8)
    return fig
