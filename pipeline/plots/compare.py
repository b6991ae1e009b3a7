"""Comparison charts: ranking, distribution, radar, heatmap, peer groups, items, trajectories,
transitions and the system trend panel.

Every function returns a :class:`matplotlib.figure.Figure`, takes an optional ``lang="zh"|"en"``
(default: the active language of :func:`pipeline.i18n.use`; all text from ``pipeline/labels/compare.yaml`` and ``common.yaml``), and can be saved as PNG + SVG with
:func:`pipeline.plots.style.save`. Inputs are the tidy outputs of :mod:`pipeline.compare` and
:mod:`pipeline.trend`.

For analysts, :func:`compare_units` draws the trajectories of chosen units by name, former
name, short name or id, from a processed folder or from ``totals`` + ``units`` frames::

    from pipeline.plots.compare import compare_units
    fig = compare_units("data/processed", ["市教育局", "市财政局"], years=(2012, 2016))
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from pipeline import compare as C
from pipeline import config
from pipeline.errors import PipelineError
from pipeline.i18n import localized, t
from pipeline.plots.style import OTHER, PALETTE, WINNER, use_style

import matplotlib.pyplot as plt  # noqa: E402  (after style: Agg backend)

__all__ = [
    "ranking_bar",
    "distribution",
    "radar",
    "heatmap",
    "peer_box",
    "item_scatter",
    "trajectories",
    "transition_matrix",
    "system_panel",
    "compare_units",
]


def _fig(w: float, h: float):
    use_style()
    return plt.figure(figsize=(w, h))


def _group_label(by: str, value: str) -> str:
    try:
        return t(f"{by}_{value}")
    except KeyError:
        return str(value)


# ---------------------------------------------------------------------------------------------
# horizontal
# ---------------------------------------------------------------------------------------------
@localized
def ranking_bar(rank_table: pd.DataFrame, year: int | None = None, top_n: int = config.TOP_N, value: str = "total"):
    """Horizontal bars of every unit's total, best at the top; winners in red, the cut line dashed.

    Parameters
    ----------
    rank_table : DataFrame
        Output of :func:`pipeline.compare.ranking` (one or more years).
    year : int, optional
        Year to draw (default: the only / last year of the table).
    value : {"total", "pct_of_max"}
    """
    yr = int(year if year is not None else rank_table["year"].max())
    r = rank_table.loc[rank_table["year"] == yr].sort_values(["rank", "unit_id"])
    if r.empty:
        raise PipelineError(f"ranking_bar: no ranking for {yr}")
    n = len(r)
    fig = _fig(7.5, max(3.0, 0.17 * n + 1.3))
    ax = fig.add_subplot()
    ypos = np.arange(n)
    names = r["name"].fillna(r["unit_id"]).astype(str).to_numpy()
    colors = np.where(r["is_winner"].to_numpy(), WINNER, OTHER)
    vals = r[value].to_numpy(dtype=float)
    ax.barh(ypos, vals, color=colors, height=0.75)
    ax.set_yticks(ypos, [f"{k}. {nm}" for k, nm in zip(r["rank"], names)], fontsize=6.5 if n > 40 else 8)
    ax.invert_yaxis()
    ax.set_ylim(n - 0.4, -0.6)
    lo = np.nanmin(vals)
    ax.set_xlim(max(0.0, np.floor(lo / 5) * 5 - 5), np.ceil(np.nanmax(vals) / 5) * 5 + 1)
    cut = r.loc[r["is_winner"], value].min()
    if np.isfinite(cut):
        ax.axvline(cut, color="#333333", ls="--", lw=1)
    from matplotlib.patches import Patch
    from matplotlib.lines import Line2D

    handles = [Patch(color=WINNER, label=t("cmp_legend_winner")), Patch(color=OTHER, label=t("cmp_legend_other"))]
    if np.isfinite(cut):
        handles.append(Line2D([], [], color="#333333", ls="--", label=t("cmp_legend_cut", cut=cut)))
    ax.legend(handles=handles, loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_xlabel(t("cmp_axis_total" if value == "total" else "cmp_axis_pct"))
    ax.grid(axis="y", visible=False)
    ax.set_title(t("cmp_title_ranking", year=yr, top_n=top_n))
    return fig


@localized
def distribution(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N, value: str = "pct_of_max"):
    """Histogram of the year's scores with mean, median and the winning cut, and a strip of units."""
    d = totals.loc[totals["year"] == int(year)]
    if d.empty:
        raise PipelineError(f"distribution: no totals for {year}")
    x = d[value].to_numpy(dtype=float)
    win = (d["rank"] <= top_n).to_numpy()
    fig = _fig(7.0, 4.2)
    gs = fig.add_gridspec(2, 1, height_ratios=[4, 1])
    ax = fig.add_subplot(gs[0])
    ax2 = fig.add_subplot(gs[1], sharex=ax)
    bins = np.histogram_bin_edges(x, bins="fd" if len(x) > 10 else "auto")
    ax.hist(x, bins=bins, color=PALETTE[1], alpha=0.75, edgecolor="white")
    mean, med = float(np.mean(x)), float(np.median(x))
    cut = float(np.min(x[win])) if win.any() else np.nan
    ax.axvline(mean, color=PALETTE[2], lw=1.6, label=t("cmp_legend_mean", value=mean))
    ax.axvline(med, color=PALETTE[3], lw=1.6, ls="-.", label=t("cmp_legend_median", value=med))
    if np.isfinite(cut):
        ax.axvline(cut, color="#333333", lw=1.2, ls="--", label=t("cmp_legend_cut", cut=cut))
    ax.set_ylabel(t("cmp_axis_count"))
    ax.legend(fontsize=8)
    ax.set_title(t("cmp_title_distribution", year=int(year)))
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=len(x))
    ax2.scatter(x, jitter, s=12, c=np.where(win, WINNER, OTHER), alpha=0.85, lw=0)
    ax2.set_yticks([])
    ax2.set_ylim(-0.6, 0.6)
    ax2.set_xlabel(t("cmp_axis_pct" if value == "pct_of_max" else "cmp_axis_total"))
    plt.setp(ax.get_xticklabels(), visible=False)
    return fig


@localized
def radar(profiles: pd.DataFrame, unit_ids: Iterable[str] | None = None, units: pd.DataFrame | None = None, year: int | None = None,
          means: pd.DataFrame | None = None):
    """Radar of the six dimensions (% of applicable max) for chosen units and the all-unit mean.

    Parameters
    ----------
    profiles : DataFrame
        Output of :func:`pipeline.compare.profiles`.
    unit_ids : list of str, optional
        Units to draw (ids, names or aliases when ``units`` is given); default: none, only the mean.
    means : DataFrame, optional
        The all-unit means (:func:`pipeline.compare.profile_means`, e.g. a chapter record's
        ``h_profile_means``); computed from ``profiles`` when not given.
    """
    p = profiles.loc[profiles["group"] == "dimension"]
    yr = int(year if year is not None else p["year"].max())
    p = p.loc[p["year"] == yr]
    if p.empty:
        raise PipelineError(f"radar: no profiles for {yr}")
    ids = list(unit_ids or [])
    if units is not None and ids:
        ids = C.find_units(units, ids)
    names = {} if units is None else dict(zip(units["unit_id"], units["name"]))
    keys = list(config.DIMENSIONS)
    ang = np.linspace(0, 2 * np.pi, len(keys), endpoint=False)
    ang_c = np.r_[ang, ang[:1]]
    fig = _fig(6.2, 5.6)
    ax = fig.add_subplot(projection="polar")
    wide = p.pivot(index="unit_id", columns="key", values="pct").reindex(columns=keys)
    pm = C.profile_means(profiles) if means is None else means
    pm = pm.loc[(pm["group"] == "dimension") & (pm["year"] == yr)].set_index("key")["mean_pct"]
    mean = pm.reindex(keys).to_numpy(float)
    ax.plot(ang_c, np.r_[mean, mean[:1]], color="#555555", ls="--", lw=1.4, label=t("cmp_legend_all_mean"))
    for k, uid in enumerate(ids):
        if uid not in wide.index:
            raise PipelineError(f"radar: unit {uid} has no scores in {yr}")
        v = wide.loc[uid].to_numpy()
        col = PALETTE[k % len(PALETTE)]
        ax.plot(ang_c, np.r_[v, v[:1]], color=col, lw=2, label=names.get(uid, uid))
        ax.fill(ang_c, np.r_[v, v[:1]], color=col, alpha=0.12)
    ax.set_xticks(ang, [t(f"dim_{k}") for k in keys])
    lo = max(0.0, np.floor((np.nanmin(wide.to_numpy()) if ids else np.nanmin(mean)) / 10) * 10 - 10)
    ax.set_ylim(lo, 100)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="upper right", bbox_to_anchor=(1.28, 1.12), fontsize=8)
    ax.set_title(t("cmp_title_radar", year=yr), pad=22)
    return fig


@localized
def heatmap(unit_items_df: pd.DataFrame, rank_table: pd.DataFrame | None = None, year: int | None = None):
    """Units × items heatmap of % of max; units ordered by rank, items by category; NA in grey."""
    yr = int(year if year is not None else unit_items_df["year"].max())
    d = unit_items_df.loc[unit_items_df["year"] == yr]
    if d.empty:
        raise PipelineError(f"heatmap: no item scores for {yr}")
    wide = d.pivot(index="unit_id", columns="item_id", values="pct")
    meta = d.drop_duplicates("item_id").set_index("item_id")
    cat_order = {c: i for i, c in enumerate(config.CATEGORIES)}
    cols = sorted(wide.columns, key=lambda c: (cat_order.get(meta.loc[c, "category"], 9), c))
    labels_y = wide.index.to_list()
    if rank_table is not None:
        r = rank_table.loc[rank_table["year"] == yr].sort_values(["rank", "unit_id"])
        order = [u for u in r["unit_id"] if u in wide.index]
        wide = wide.reindex(order)
        nm = dict(zip(r["unit_id"], r["name"].fillna(r["unit_id"])))
        labels_y = [f"{k}. {nm.get(u, u)}" for k, u in zip(r.set_index("unit_id").loc[order, "rank"], order)]
    wide = wide[cols]
    n, m = wide.shape
    fig = _fig(max(6.5, 0.32 * m + 3.0), max(3.5, 0.15 * n + 1.8))
    ax = fig.add_subplot()
    cmap = plt.get_cmap("YlOrRd").copy()
    cmap.set_bad("#D9D9D9")
    im = ax.imshow(np.ma.masked_invalid(wide.to_numpy(dtype=float)), aspect="auto", cmap=cmap, vmin=np.nanmin([50.0, np.nanmin(wide.to_numpy())]), vmax=100, interpolation="nearest")
    ax.set_xticks(np.arange(m), cols, rotation=90, fontsize=7)
    ax.set_yticks(np.arange(n), labels_y, fontsize=6 if n > 40 else 8)
    ax.grid(False)
    cats = [meta.loc[c, "category"] for c in cols]
    for k in range(1, m):
        if cats[k] != cats[k - 1]:
            ax.axvline(k - 0.5, color="white", lw=2)
    starts = [0] + [k for k in range(1, m) if cats[k] != cats[k - 1]] + [m]
    for a, b in zip(starts[:-1], starts[1:]):
        ax.text((a + b - 1) / 2, -0.8, t(f"cat_{cats[a]}"), ha="center", va="bottom", fontsize=8)
    cb = fig.colorbar(im, ax=ax, shrink=0.6, pad=0.02)
    cb.set_label(t("cmp_axis_pct"))
    ax.set_title(t("cmp_title_heatmap", year=yr), pad=18)
    return fig


@localized
def peer_box(totals: pd.DataFrame, units: pd.DataFrame, year: int, by: str = "type", top_n: int = config.TOP_N):
    """Box plot of ``pct_of_max`` by peer group (type or sector) with every unit as a dot."""
    d = totals.loc[totals["year"] == int(year)].merge(units[["unit_id", by]].drop_duplicates("unit_id"), on="unit_id", how="left")
    if d.empty:
        raise PipelineError(f"peer_box: no totals for {year}")
    groups = sorted(d[by].dropna().unique(), key=str)
    data = [d.loc[d[by] == g, "pct_of_max"].to_numpy() for g in groups]
    fig = _fig(max(5.5, 1.2 * len(groups) + 2), 4.2)
    ax = fig.add_subplot()
    ax.boxplot(data, widths=0.5, showfliers=False, medianprops={"color": PALETTE[1], "lw": 2})
    rng = np.random.default_rng(0)
    for k, g in enumerate(groups):
        dd = d.loc[d[by] == g]
        ax.scatter(k + 1 + rng.uniform(-0.15, 0.15, len(dd)), dd["pct_of_max"], s=14, c=np.where(dd["rank"] <= top_n, WINNER, OTHER), zorder=3, lw=0)
    ax.set_xticks(np.arange(1, len(groups) + 1), [_group_label(by, g) for g in groups], fontsize=8)
    ax.set_ylabel(t("cmp_axis_pct"))
    ax.set_title(t("cmp_title_peer", year=int(year), by=t(by)))
    return fig


@localized
def item_scatter(disc: pd.DataFrame, year: int | None = None):
    """Item discrimination map: spread (sd of % of max) against corrected item–total correlation."""
    yr = int(year if year is not None else disc["year"].max())
    d = disc.loc[disc["year"] == yr]
    if d.empty:
        raise PipelineError(f"item_scatter: no items for {yr}")
    fig = _fig(6.8, 4.8)
    ax = fig.add_subplot()
    for k, cat in enumerate(config.CATEGORIES):
        dd = d.loc[d["category"] == cat]
        if dd.empty:
            continue
        ax.scatter(dd["r_rest"], dd["sd_pct"], s=20 + 4 * dd["max_points"], color=PALETTE[k], alpha=0.8, label=t(f"cat_{cat}"), lw=0)
        for _, row in dd.iterrows():
            ax.annotate(row["item_id"], (row["r_rest"], row["sd_pct"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ceil = d.loc[d["share_full"] >= 0.8]
    if len(ceil):
        ax.scatter(ceil["r_rest"], ceil["sd_pct"], s=120, facecolors="none", edgecolors="#333333", lw=1.2, label=t("cmp_legend_ceiling_items"))
    ax.axvline(0.2, color="#999999", ls=":", lw=1)
    ax.set_xlabel(t("cmp_axis_r_rest"))
    ax.set_ylabel(t("cmp_axis_sd_pct"))
    ax.legend(fontsize=8, loc="best")
    ax.set_title(t("cmp_title_items", year=yr))
    return fig


# ---------------------------------------------------------------------------------------------
# vertical and trend
# ---------------------------------------------------------------------------------------------
@localized
def trajectories(vertical_df: pd.DataFrame, series_ids: Iterable[str], years: tuple[int, int] | None = None, top_n: int = config.TOP_N):
    """Rank (top) and % of max (bottom) of chosen series over the years; renames and merges marked.

    A rename is circled and labelled on the continuing line; at a merge the predecessors'
    own series are drawn dotted in the successor's colour, ending before it (never joined).

    Parameters
    ----------
    vertical_df : DataFrame
        Output of :func:`pipeline.compare.vertical`.
    series_ids : list of str
        ``series_id`` values (see :func:`compare_units` to choose units by name).
    years : (first, last), optional
    """
    v = vertical_df
    if years is not None:
        v = v.loc[v["year"].between(int(years[0]), int(years[1]))]
    ids = list(dict.fromkeys(series_ids))
    if not ids:
        raise PipelineError("trajectories: choose at least one unit")
    fig = _fig(7.5, 6.0)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    for k, sid in enumerate(ids):
        d = v.loc[v["series_id"] == sid].sort_values("year")
        if d.empty:
            raise PipelineError(f"trajectories: no data for {sid} in the chosen years")
        col = PALETTE[k % len(PALETTE)]
        label = str(d["series_name"].iloc[-1])
        ax1.plot(d["year"], d["rank"], marker="o", color=col, lw=2, label=label)
        ax2.plot(d["year"], d["pct_of_max"], marker="o", color=col, lw=2, label=label)
        for _, row in d.loc[d["break"]].iterrows():
            kind = t(f"cmp_break_{row['break_kind']}")
            for ax, val in ((ax1, row["rank"]), (ax2, row["pct_of_max"])):
                ax.scatter([row["year"]], [val], s=140, facecolors="none", edgecolors=col, lw=1.8, zorder=4)
            ax1.annotate(
                f"{kind}: {row['name']}", (row["year"], row["rank"]), xytext=(6, -14), textcoords="offset points",
                fontsize=7.5, color=col, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=5,
            )
            if row["break_kind"] == "merge":  # predecessors drawn dotted, never joined to the successor
                for pid in str(row["predecessors"]).split(";"):
                    pdf = v.loc[v["unit_id"] == pid].sort_values("year")
                    ax1.plot(pdf["year"], pdf["rank"], ls=":", lw=1.3, marker=".", color=col, alpha=0.7)
                    ax2.plot(pdf["year"], pdf["pct_of_max"], ls=":", lw=1.3, marker=".", color=col, alpha=0.7)
    n_max = int(v["n_units"].max())
    ax1.invert_yaxis()
    ax1.set_ylim(n_max + 1, 0)
    ax1.axhline(top_n + 0.5, color="#999999", ls=":", lw=1)
    ax1.set_ylabel(t("cmp_axis_rank"))
    ax2.set_ylabel(t("cmp_axis_pct"))
    ax2.set_xlabel(t("cmp_axis_year"))
    yrs = sorted(v["year"].unique())
    ax2.set_xticks(yrs, [str(y) for y in yrs])
    ax1.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax1.set_title(t("cmp_title_trajectories"))
    return fig


@localized
def transition_matrix(trans: pd.DataFrame):
    """Heatmap of a quintile transition matrix (row shares, counts written in the cells)."""
    if trans.empty:
        fig = _fig(5.4, 2.0)
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, t("cmp_read_too_few_years"), ha="center", va="center", fontsize=10)
        return fig
    k = int(trans["q_from"].max())
    share = trans.pivot(index="q_from", columns="q_to", values="share").to_numpy(dtype=float)
    count = trans.pivot(index="q_from", columns="q_to", values="count").to_numpy()
    fig = _fig(5.4, 4.6)
    ax = fig.add_subplot()
    im = ax.imshow(np.nan_to_num(share), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            val = share[i, j]
            ax.text(j, i, f"{count[i, j]}\n{0 if np.isnan(val) else val:.0%}", ha="center", va="center", fontsize=8, color="white" if (not np.isnan(val) and val > 0.55) else "#222222")
    ax.set_xticks(range(k), [str(q) for q in range(1, k + 1)])
    ax.set_yticks(range(k), [str(q) for q in range(1, k + 1)])
    ax.set_xlabel(t("cmp_axis_q_to"))
    ax.set_ylabel(t("cmp_axis_q_from"))
    ax.grid(False)
    fig.colorbar(im, ax=ax, shrink=0.8).set_label(t("cmp_axis_share"))
    ax.set_title(t("cmp_title_transition", year_from=int(trans["year_from"].iloc[0]), year_to=int(trans["year_to"].iloc[0])))
    return fig


@localized
def system_panel(sys_by_year: pd.DataFrame, verdict: str | None = None):
    """Four panels by year: mean ± sd, spread (sd, IQR), ceiling share, winning cut vs median."""
    s = sys_by_year.sort_values("year")
    yrs = s["year"].to_numpy()
    fig = _fig(9.0, 6.2)
    axs = fig.subplots(2, 2, sharex=True)
    a = axs[0, 0]
    a.fill_between(yrs, s["mean"] - s["sd"], s["mean"] + s["sd"], color=PALETTE[1], alpha=0.18, label=t("cmp_legend_mean_sd"))
    a.plot(yrs, s["mean"], marker="o", color=PALETTE[1])
    a.set_title(t("cmp_panel_level"), fontsize=10)
    a.set_ylabel(t("cmp_axis_pct"))
    a.legend(fontsize=8)
    a = axs[0, 1]
    a.plot(yrs, s["sd"], marker="o", color=PALETTE[0], label=t("cmp_legend_sd"))
    a.plot(yrs, s["iqr"], marker="s", color=PALETTE[2], label=t("cmp_legend_iqr"))
    a.set_title(t("cmp_panel_spread"), fontsize=10)
    a.legend(fontsize=8)
    a = axs[1, 0]
    a.bar(yrs, s["share_ceiling"], color=PALETTE[4], alpha=0.8, label=t("cmp_legend_ceiling"))
    a.set_ylim(0, max(0.1, float(s["share_ceiling"].max()) * 1.25))
    a.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    a.set_title(t("cmp_panel_ceiling"), fontsize=10)
    a.set_xlabel(t("cmp_axis_year"))
    a.legend(fontsize=8)
    a = axs[1, 1]
    a.plot(yrs, s["cut"], marker="o", color="#333333", ls="--", label=t("cmp_legend_cut_pct"))
    a.plot(yrs, s["median"], marker="o", color=PALETTE[3], label=t("cmp_legend_median_pct"))
    a.set_title(t("cmp_panel_cut"), fontsize=10)
    a.set_xlabel(t("cmp_axis_year"))
    a.legend(fontsize=8)
    for a in axs.ravel():
        a.set_xticks(yrs, [str(y) for y in yrs], fontsize=8)
    title = t("cmp_title_system")
    if verdict:
        title += " — " + t(f"cmp_verdict_{verdict}")
    fig.suptitle(title)
    return fig


@localized
def compare_units(
    data: pd.DataFrame | str | os.PathLike,
    selectors: str | Iterable[str],
    years: tuple[int, int] | None = None,
    units: pd.DataFrame | None = None,
    top_n: int = config.TOP_N,
):
    """Trajectories of chosen units, by name, former name, short name or id.

    Parameters
    ----------
    data : DataFrame or path
        Either the ``totals`` table (then pass ``units`` too) or a processed folder holding
        ``totals`` and ``units`` (``pipeline.io.read_table``).
    selectors : str or list of str
        Unit names ("市教育局"), aliases or ids ("U012"); a former name selects the organisation's
        whole renamed series.
    years : (first, last), optional
        e.g. ``(2012, 2016)``.

    Examples
    --------
    >>> fig = compare_units("data/processed", ["市教育局", "市财政局"], years=(2012, 2016))  # doctest: +SKIP
    """
    if isinstance(data, (str, os.PathLike, Path)):
        from pipeline.io import read_table

        totals = read_table(data, "totals")
        units = read_table(data, "units") if units is None else units
    else:
        totals = data
        if units is None:
            raise PipelineError("compare_units: pass the units table (units=...) or a processed folder")
    ids = C.find_units(units, selectors)
    lin = C.lineage(units).set_index("unit_id")
    series = [lin.loc[u, "series_id"] for u in ids]
    v = C.vertical(totals, units, years=years, top_n=top_n)
    return trajectories(v, series, years=years, top_n=top_n)

