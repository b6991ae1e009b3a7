"""Overview chapter (notebooks/01-overview): the year's item structure, distribution of totals,
category profile and the sentences of reading generated from them (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import compare, config, score, trend
from pipeline.errors import PipelineError
from pipeline.i18n import t
from pipeline.i18n import tp as _tp


#: Units within this many points of the cut are "at the cut" (fractions of a point decide).
NEAR_CUT = 0.5


def overview_stats(totals: pd.DataFrame, year: int, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Distribution statistics of one year's totals.

    Returns
    -------
    DataFrame
        One row per statistic: ``statistic`` (key: n_units, n_winners, mean, median, sd, cv,
        min, max, share_ceiling, cut, n_near_cut, n_adjusted, n_na, n_missing) and ``value``.
        Location and spread of ``pct_of_max`` come from :func:`pipeline.compare.describe`, the
        share of units at ≥ 95 % of the maximum from :func:`pipeline.trend.system` (the same
        functions as the horizontal and vertical chapters: one computation per statistic);
        ``cut`` is the total (points) of the lowest-ranked winner (:func:`pipeline.score.cut`),
        ``n_near_cut`` the units whose total is within :data:`NEAR_CUT` points of it.
    """
    g = totals.loc[totals["year"] == year]
    if not len(g):
        raise PipelineError(f"no totals for year {year}")
    d = compare.describe(g, value="pct_of_max").iloc[0]
    cut = score.cut(g, top_n)
    vals = {
        "n_units": len(g),
        "n_winners": int(g["is_winner"].sum()),
        **{k: d[k] for k in ("mean", "median", "sd", "cv", "min", "max")},
        "share_ceiling": float(trend.system(g, top_n=top_n)["share_ceiling"].iloc[0]),
        "cut": cut,
        "n_near_cut": int(((g["total"] - cut).abs() <= NEAR_CUT + 1e-9).sum()),
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


def category_profile(totals: pd.DataFrame, items: pd.DataFrame, year: int) -> pd.DataFrame:
    """Points earned per category as % of the category maximum: all units, winners, others.

    Returns
    -------
    DataFrame
        One row per category (config order): ``category``, ``max_points``, ``all``,
        ``winners``, ``others`` (mean % of the category max), ``gap`` = winners − others.
        ``winners``/``others``/``gap`` are NaN (not computable) when every unit of the year is
        a winner (n ≤ top_n) or none is; :func:`overview_reading` then says so.
    """
    g = totals.loc[totals["year"] == year]
    cmax = items.loc[items["year"] == year].groupby("category")["max_points"].sum()
    rows = []
    for c in config.CATEGORIES:
        if c not in cmax.index:
            continue
        pct = 100.0 * g[f"cat_{c}"].astype(float) / cmax[c]
        w = g["is_winner"].astype(bool)
        rows.append({"category": c, "max_points": float(cmax[c]), "all": pct.mean(),
                     "winners": pct[w].mean() if w.any() else np.nan, "others": pct[~w].mean() if (~w).any() else np.nan})
    out = pd.DataFrame(rows)
    out["gap"] = out["winners"] - out["others"]
    return out


def overview_reading(kind: str, **tables: pd.DataFrame) -> str:
    """One sentence of reading, generated from the numbers of an overview table.

    ``kind``: ``items`` (tables ``items`` of the year's item list), ``dist`` (``stats`` from
    :func:`overview_stats`), ``profile`` (``profile`` from :func:`category_profile`),
    ``system`` (``system`` from :func:`pipeline.trend.system`).
    """
    if kind == "items":
        it = tables["items"]
        n_points, n_grade = int((it["method"] == "points").sum()), int((it["method"] == "grade").sum())
        key = "rep_ov_items" if n_points and n_grade else ("rep_ov_items_points" if n_points else "rep_ov_items_grade")
        return _tp(key, year=int(it["year"].iloc[0]), n_items=len(it), n_points=n_points, n_grade=n_grade, max_total=float(it["max_points"].sum()))
    if kind == "dist":
        s = tables["stats"].set_index("statistic")["value"]
        if not s["sd"] == s["sd"]:  # NaN: one unit, no spread
            return t("nc_dist_one_unit", mean=s["mean"], n=int(s["n_units"]))
        key = "rep_ov_dist" if s["share_ceiling"] > 0 else "rep_ov_dist_none"
        return t(key, mean=s["mean"], median=s["median"], sd=s["sd"], cv=s["cv"], share_ceiling=s["share_ceiling"])
    if kind == "profile":
        p = tables["profile"]
        cat = lambda c: t(f"cat_{c}")  # noqa: E731
        if not p["gap"].notna().any():  # everyone (or no one) wins: no winners-vs-others gap
            best, worst = p.loc[p["all"].idxmax()], p.loc[p["all"].idxmin()]
            return t("nc_profile_gap", best=cat(best["category"]), best_pct=best["all"], worst=cat(worst["category"]), worst_pct=worst["all"])
        best, worst, gap = p.loc[p["all"].idxmax()], p.loc[p["all"].idxmin()], p.loc[p["gap"].idxmax()]
        return t("rep_ov_profile", best=cat(best["category"]), best_pct=best["all"], worst=cat(worst["category"]),
                 worst_pct=worst["all"], gap_cat=cat(gap["category"]), gap=gap["gap"])
    if kind == "system":
        s = tables["system"].sort_values("year")
        if len(s) < 2:
            return t("rep_ov_system_one")
        a, b = s.iloc[0], s.iloc[-1]
        key = "rep_ov_system" if (a["share_ceiling"] > 0 or b["share_ceiling"] > 0) else "rep_ov_system_none"
        return t(key, first=int(a["year"]), last=int(b["year"]), mean_first=a["mean"], mean_last=b["mean"],
                 sd_first=a["sd"], sd_last=b["sd"], ceil_first=a["share_ceiling"], ceil_last=b["share_ceiling"])
    raise PipelineError(f"overview_reading: unknown kind {kind!r}")

