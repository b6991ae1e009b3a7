"""Within a year (横比): distribution, Gini, ranking with percentile and z, item profiles."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config, score
from pipeline.errors import PipelineError


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def _one_year(df: pd.DataFrame, year: int | None, what: str) -> pd.DataFrame:
    if year is None:
        return df
    out = df.loc[df["year"] == int(year)]
    if out.empty:
        avail = sorted(df["year"].unique().tolist())
        span = f"{avail[0]}–{avail[-1]}" if avail else "none"
        raise PipelineError(f"{what}: year {year} is not in the data (available: {span})")
    return out


def _unit_info(units: pd.DataFrame | None) -> pd.DataFrame:
    cols = ["unit_id", "name", "type", "sector"]
    if units is None:
        return pd.DataFrame(columns=cols)
    return units[[c for c in cols if c in units.columns]].drop_duplicates("unit_id")


def gini(x) -> float:
    """Gini coefficient of non-negative values (0 = all equal); NaN values are ignored.

    Examples
    --------
    >>> gini([1, 2, 3, 4])   # Σ|xi−xj| = 20 over 16 ordered pairs, mean 2.5: 20/(2·16·2.5)
    0.25
    """
    a = np.sort(np.asarray(x, dtype=float)[~np.isnan(np.asarray(x, dtype=float))])
    n = a.size
    if n == 0 or a.sum() == 0:
        return float("nan") if n == 0 else 0.0
    if a[0] < 0:
        raise PipelineError("gini: values must be non-negative")
    i = np.arange(1, n + 1)
    return float(2.0 * np.sum(i * a) / (n * a.sum()) - (n + 1.0) / n)


# ---------------------------------------------------------------------------------------------
# horizontal
# ---------------------------------------------------------------------------------------------
def describe(totals: pd.DataFrame, value: str = "total", by: str | list[str] = "year") -> pd.DataFrame:
    """Distribution statistics of ``value`` per group (default: per year).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` column(s), ``n``, ``mean``, ``median``, ``sd`` (ddof=1),
        ``cv`` (sd / mean), ``gini``, ``min``, ``max``, ``q1``, ``q3``, ``iqr`` (q3 − q1; linear
        interpolation of quantiles, numpy's default).
    """
    by = [by] if isinstance(by, str) else list(by)
    g = totals.groupby(by, sort=True)[value]
    out = g.agg(n="count", mean="mean", median="median", sd="std", min="min", max="max")
    out["q1"] = g.quantile(0.25)
    out["q3"] = g.quantile(0.75)
    out["iqr"] = out["q3"] - out["q1"]
    out["cv"] = out["sd"] / out["mean"]
    out["gini"] = g.apply(lambda s: gini(s.to_numpy()))
    out = out.reset_index()
    return out[by + ["n", "mean", "median", "sd", "cv", "gini", "min", "max", "q1", "q3", "iqr"]]


def ranking(totals: pd.DataFrame, units: pd.DataFrame | None = None, year: int | None = None, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Ranking table of a year with winners and each unit's gap to the winning cut.

    Parameters
    ----------
    totals : DataFrame
        The ``totals`` table.
    units : DataFrame, optional
        The ``units`` registry (adds ``name``, ``type``, ``sector``).
    year : int, optional
        One year (default: every year in ``totals``, ranked within its year).
    top_n : int
        Winners: rank ≤ ``top_n`` (ties at the cut all win).

    Returns
    -------
    DataFrame
        ``year``, ``rank`` (competition rank of ``total``), ``unit_id``, ``name``, ``type``,
        ``sector``, ``total``, ``pct_of_max``, ``is_winner``, ``cut`` (total of the lowest-ranked
        winner: the score needed to win), ``gap_to_cut`` (total − cut: ≥ 0 for winners, the
        points a non-winner lacked when negative), ``gap_to_top`` (total − best total).
    """
    t = _one_year(totals, year, "ranking").copy()
    t["rank"] = t.groupby("year")["total"].transform(lambda s: score.rank(s.to_numpy(), decimals=score.TIE_DECIMALS)).astype("int64")
    t["is_winner"] = score.winners(t["rank"].to_numpy(), top_n)
    t["cut"] = t["total"].where(t["is_winner"]).groupby(t["year"]).transform("min")
    t["gap_to_cut"] = t["total"] - t["cut"]
    t["gap_to_top"] = t["total"] - t.groupby("year")["total"].transform("max")
    t = t.merge(_unit_info(units), on="unit_id", how="left")
    for c in ("name", "type", "sector"):
        if c not in t:
            t[c] = pd.NA
    cols = ["year", "rank", "unit_id", "name", "type", "sector", "total", "pct_of_max", "is_winner", "cut", "gap_to_cut", "gap_to_top"]
    return t[cols].sort_values(["year", "rank", "unit_id"], kind="stable").reset_index(drop=True)


def unit_items(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Annual points of every unit on every item, with the share of the item's maximum.

    Returns
    -------
    DataFrame
        ``year``, ``unit_id``, ``item_id``, ``item_name``, ``category``, ``dimension``,
        ``max_points``, ``method``, ``status``, ``points`` (earned; 0 for a missing cell, NaN for
        not applicable), ``pct`` (100 × points / max_points, NaN when not applicable).
    """
    s = _one_year(scores, year, "unit_items")
    s = s.loc[s["period"].astype(str) == "Y", ["year", "unit_id", "item_id", "points", "status"]]
    it = items[["year", "item_id", "item_name", "category", "dimension", "max_points", "method"]]
    out = s.merge(it, on=["year", "item_id"], how="left", validate="many_to_one")
    if out["max_points"].isna().any():
        bad = out.loc[out["max_points"].isna(), ["year", "item_id"]].drop_duplicates().head(3)
        raise PipelineError(f"scores reference items not in the item list: {bad.to_dict('records')}")
    pts = out["points"].astype(float)
    out["points"] = np.where(out["status"] == "na", np.nan, np.where(out["status"] == "missing", 0.0, pts.fillna(0.0)))
    out["pct"] = 100.0 * out["points"] / out["max_points"]
    cols = ["year", "unit_id", "item_id", "item_name", "category", "dimension", "max_points", "method", "status", "points", "pct"]
    return out[cols].sort_values(["year", "unit_id", "item_id"]).reset_index(drop=True)


def profiles(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Category and six-dimension profiles of each unit: points and % of the applicable max.

    Not-applicable items are left out of both the points and the maximum, so a unit is not
    penalised in a dimension for items that do not concern it.

    Returns
    -------
    DataFrame
        ``year``, ``unit_id``, ``group`` (``category`` / ``dimension``), ``key`` (e.g.
        ``ideology``, ``competence``), ``points`` (earned), ``max_points`` (applicable maximum),
        ``pct`` (100 × points / max_points; NaN where no item of that key applies). Every
        category and all six dimensions are listed for each unit and year.
    """
    ui = unit_items(scores, items, year)
    ui = ui.assign(app_max=ui["max_points"].where(ui["status"] != "na", 0.0), earned=ui["points"].fillna(0.0))
    parts = []
    for group, keys in (("category", config.CATEGORIES), ("dimension", config.DIMENSIONS)):
        g = ui.groupby(["year", "unit_id", group], sort=True).agg(points=("earned", "sum"), max_points=("app_max", "sum"))
        full = pd.MultiIndex.from_product([g.index.levels[0], g.index.levels[1], list(keys)], names=g.index.names)
        pairs = g.index.droplevel(2).unique()
        g = g.reindex(full, fill_value=0.0)
        g = g.loc[g.index.droplevel(2).isin(pairs)].reset_index()  # every key for each observed unit-year
        g = g.rename(columns={group: "key"})
        g.insert(2, "group", group)
        g["key"] = pd.Categorical(g["key"], categories=list(keys), ordered=True)
        parts.append(g.sort_values(["year", "unit_id", "key"]))
    out = pd.concat(parts, ignore_index=True)
    out["key"] = out["key"].astype(str)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pct"] = np.where(out["max_points"] > 0, 100.0 * out["points"] / out["max_points"], np.nan)
    return out[["year", "unit_id", "group", "key", "points", "max_points", "pct"]]


def profile_means(profiles: pd.DataFrame) -> pd.DataFrame:
    """The all-unit mean of each category and dimension profile, per year.

    The mean of :func:`profiles`' ``pct`` over the units where the key applies (units whose
    ``pct`` is NaN — no applicable item — are left out). The radar's mean line, its reading
    and the unit pages' reference all read this table.

    Returns
    -------
    DataFrame
        ``year``, ``group``, ``key``, ``mean_pct``, ``n_units`` (units averaged), in the order of
        :data:`pipeline.config.CATEGORIES` / :data:`pipeline.config.DIMENSIONS`.
    """
    g = profiles.groupby(["year", "group", "key"], sort=False)["pct"].agg(mean_pct="mean", n_units="count").reset_index()
    order = {k: i for i, k in enumerate([*config.CATEGORIES, *config.DIMENSIONS])}
    g = g.assign(_o=g["key"].map(order)).sort_values(["year", "group", "_o"], kind="stable").drop(columns="_o")
    return g.reset_index(drop=True)[["year", "group", "key", "mean_pct", "n_units"]]
