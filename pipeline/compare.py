"""Horizontal (横比, within a year) and vertical (纵比, across years) comparison of units.

Every function is pure: tidy frames in (the processed ``totals``, ``scores``, ``items``,
``units`` tables of SPEC §3), a tidy frame out whose columns the docstring lists.

Definitions
-----------
* **Gini coefficient** of non-negative values: mean absolute difference over all ordered
  pairs divided by twice the mean, :math:`G = \\sum_i\\sum_j |x_i - x_j| / (2 n^2 \\bar x)`
  (computed from the sorted values as :math:`2\\sum_i i\\,x_{(i)}/(n\\sum x) - (n+1)/n`).
* **Percentile** of a unit in a year: the percentile rank
  :math:`100 (b + e/2)/n` with ``b`` units scoring below and ``e`` scoring the same (itself
  included) — ``scipy.stats.percentileofscore(kind="mean")``.
* **z-score**: (total − year mean) / year sd (ddof = 1). Item sets and maxima change between
  years, so cross-year comparison uses ``pct_of_max``, rank, percentile and z, never raw points.
* **Kruskal–Wallis H** with the tie correction (Kruskal & Wallis 1952); effect size
  :math:`\\varepsilon^2 = H/(n-1)` (Tomczak & Tomczak 2014) and
  :math:`\\eta^2_H = (H - k + 1)/(n - k)`.
* **Corrected item–total correlation**: Pearson correlation between an item (% of its max)
  and the unit's *rest score* — the prorated score on all the other applicable items — so
  that the item is not correlated with itself.
* **Cronbach's alpha** (Cronbach 1951): :math:`\\alpha = \\frac{k}{k-1}(1 - \\sum_i s_i^2 /
  s_T^2)`, units with a not-applicable item in the scale left out (listwise).
* **Quintile of a unit** in a year: ``1 + floor(5 (rank − 1) / n)`` (1 = top fifth);
  **Shorrocks mobility index** of a k × k transition matrix P (Shorrocks 1978):
  :math:`M = (k - \\operatorname{tr} P)/(k - 1)` — 0 when nobody moves, 1 when the
  destination does not depend on the origin.
* **Series** (``series_id``): the history of one organisation. A unit renamed (one
  predecessor, via ``successor_id``) continues the series of its predecessor and the first
  year under the new id is marked ``break_kind = "rename"``; a **merge** (two or more units
  with the same successor, or a unit absorbed by an existing one) is never joined: the
  predecessors' series end, the successor's row in the merge year is marked
  ``break_kind = "merge"`` and its year-over-year changes are left empty.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config, score
from pipeline.errors import PipelineError

__all__ = [
    "gini",
    "describe",
    "ranking",
    "profiles",
    "kruskal",
    "peer_groups",
    "peer_test",
    "unit_items",
    "item_discrimination",
    "cronbach_alpha",
    "category_alpha",
    "lineage",
    "vertical",
    "transitions",
    "last_transition",
    "shorrocks",
    "mobility",
    "persistence",
    "find_units",
    "pick_examples",
    "read_distribution",
    "read_ranking",
    "read_radar",
    "read_peer",
    "read_items",
    "read_heatmap",
    "read_breaks",
    "read_trajectories",
    "read_transition",
    "read_mobility",
    "read_persistence",
]


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


def kruskal(values, groups) -> dict:
    """Kruskal–Wallis H test of ``values`` across ``groups`` with tie correction and effect sizes.

    Returns
    -------
    dict
        ``h`` (tie-corrected H), ``df`` (k − 1), ``p`` (χ² upper tail), ``k`` (groups),
        ``n`` (observations), ``epsilon_sq`` (H / (n − 1)), ``eta_sq`` ((H − k + 1)/(n − k)).
    """
    v = np.asarray(values, dtype=float)
    g = np.asarray(groups)
    ok = ~np.isnan(v) & pd.notna(g)
    v, g = v[ok], g[ok]
    n = v.size
    codes, uniq = pd.factorize(g)
    k = len(uniq)
    if k < 2 or n <= k:
        return {"h": np.nan, "df": max(k - 1, 0), "p": np.nan, "k": k, "n": n, "epsilon_sq": np.nan, "eta_sq": np.nan}
    r = stats.rankdata(v)
    rsum = np.bincount(codes, weights=r, minlength=k)
    cnt = np.bincount(codes, minlength=k)
    h = 12.0 / (n * (n + 1)) * np.sum(rsum**2 / cnt) - 3.0 * (n + 1)
    _, t = np.unique(v, return_counts=True)
    corr = 1.0 - np.sum(t**3 - t) / (n**3 - n)
    h = h / corr if corr > 0 else np.nan
    return {
        "h": float(h),
        "df": k - 1,
        "p": float(stats.chi2.sf(h, k - 1)),
        "k": k,
        "n": n,
        "epsilon_sq": float(h / (n - 1)),
        "eta_sq": float((h - k + 1) / (n - k)),
    }


def _with_group(totals: pd.DataFrame, units: pd.DataFrame, by: str) -> pd.DataFrame:
    if by not in units.columns:
        raise PipelineError(f"peer groups: the units table has no column {by!r} (try type or sector)")
    return totals.merge(units[["unit_id", by]].drop_duplicates("unit_id"), on="unit_id", how="left")


def peer_groups(totals: pd.DataFrame, units: pd.DataFrame, year: int | None = None, by: str = "type", top_n: int = config.TOP_N) -> pd.DataFrame:
    """Summary of units' totals by peer group (unit type or sector).

    Returns
    -------
    DataFrame
        ``year``, ``by`` (the grouping column's name), ``group`` (its value), ``n``, ``mean``,
        ``median``, ``sd`` (of ``pct_of_max``), ``mean_rank``, ``n_winners`` (rank ≤ top_n),
        ``share_winners``.
    """
    t = _with_group(_one_year(totals, year, "peer_groups"), units, by)
    t = t.assign(_win=t["rank"] <= top_n)
    g = t.groupby(["year", by], sort=True)
    out = g.agg(
        n=("pct_of_max", "count"),
        mean=("pct_of_max", "mean"),
        median=("pct_of_max", "median"),
        sd=("pct_of_max", "std"),
        mean_rank=("rank", "mean"),
        n_winners=("_win", "sum"),
    ).reset_index()
    out["share_winners"] = out["n_winners"] / out["n"]
    out = out.rename(columns={by: "group"})
    out.insert(1, "by", by)
    out["n_winners"] = out["n_winners"].astype("int64")
    return out


def peer_test(totals: pd.DataFrame, units: pd.DataFrame, year: int | None = None, by: str = "type") -> pd.DataFrame:
    """Kruskal–Wallis test of ``pct_of_max`` across peer groups, per year.

    Returns
    -------
    DataFrame
        One row per year: ``year``, ``by``, ``k``, ``n``, ``h``, ``df``, ``p``, ``epsilon_sq``,
        ``eta_sq`` (see :func:`kruskal`).
    """
    t = _with_group(_one_year(totals, year, "peer_test"), units, by)
    rows = [{"year": y, "by": by, **kruskal(d["pct_of_max"], d[by])} for y, d in t.groupby("year", sort=True)]
    return pd.DataFrame(rows, columns=["year", "by", "k", "n", "h", "df", "p", "epsilon_sq", "eta_sq"])


def cronbach_alpha(matrix) -> float:
    """Cronbach's alpha of a subjects × items matrix (rows with a NaN are left out).

    :math:`\\alpha = \\frac{k}{k-1}\\bigl(1 - \\sum_i s_i^2 / s_T^2\\bigr)` with sample variances
    (ddof = 1). NaN when fewer than 2 items or 2 complete rows, or when the total has no variance.
    """
    x = np.asarray(matrix, dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    if k < 2 or n < 2:
        return float("nan")
    tot_var = x.sum(axis=1).var(ddof=1)
    if tot_var == 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - x.var(axis=0, ddof=1).sum() / tot_var))


def item_discrimination(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None, full_tol: float = 1e-9) -> pd.DataFrame:
    """How well each item separates units: spread, corrected item–total correlation, ceiling.

    Returns
    -------
    DataFrame
        One row per year and item: ``year``, ``item_id``, ``item_name``, ``category``,
        ``dimension``, ``method``, ``max_points``, ``n`` (units the item applies to),
        ``mean_pct`` (mean % of max), ``sd_points`` and ``sd_pct`` (ddof=1), ``share_full``
        (share of applicable units at full marks), ``r_rest`` (corrected item–total
        correlation), ``flag`` (``ceiling`` when share_full ≥ 0.8, ``weak`` when r_rest < 0.2 —
        the usual floor for an acceptable discrimination index, Ebel & Frisbie 1991 — else
        empty).
    """
    ui = unit_items(scores, items, year)
    out = []
    for y, d in ui.groupby("year", sort=True):
        pts = d.pivot(index="unit_id", columns="item_id", values="points")
        mx = d.drop_duplicates("item_id").set_index("item_id")["max_points"].reindex(pts.columns).to_numpy()
        p = pts.to_numpy(dtype=float)
        present = ~np.isnan(p)
        p0 = np.where(present, p, 0.0)
        tot_pts = p0.sum(axis=1, keepdims=True)
        tot_max = (present * mx).sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = (tot_pts - p0) / (tot_max - present * mx)
        pct = 100.0 * p / mx
        w = present & ~np.isnan(rest)
        nj = w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx_ = np.where(w, pct, 0).sum(0) / nj
            mr_ = np.where(w, rest, 0).sum(0) / nj
            dx = np.where(w, pct - mx_, 0.0)
            dr = np.where(w, rest - mr_, 0.0)
            r = (dx * dr).sum(0) / np.sqrt((dx**2).sum(0) * (dr**2).sum(0))
            full = np.where(present, p >= mx - full_tol, False).sum(0) / present.sum(0)
        res = pd.DataFrame(
            {
                "year": y,
                "item_id": pts.columns,
                "n": present.sum(0),
                "mean_pct": np.nanmean(np.where(present, pct, np.nan), axis=0),
                "sd_points": np.nanstd(np.where(present, p, np.nan), axis=0, ddof=1),
                "sd_pct": np.nanstd(np.where(present, pct, np.nan), axis=0, ddof=1),
                "share_full": full,
                "r_rest": r,
            }
        )
        out.append(res)
    res = pd.concat(out, ignore_index=True)
    meta = items[["year", "item_id", "item_name", "category", "dimension", "method", "max_points"]]
    res = meta.merge(res, on=["year", "item_id"], how="inner")
    res["flag"] = np.where(res["share_full"] >= 0.8, "ceiling", np.where(res["r_rest"] < 0.2, "weak", ""))
    return res.sort_values(["year", "item_id"]).reset_index(drop=True)


def category_alpha(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Cronbach's alpha of each category's items (and of all items), per year.

    Returns
    -------
    DataFrame
        ``year``, ``category`` (``all`` for the whole scale), ``n_items``, ``n_units`` (complete
        units used), ``alpha``.
    """
    ui = unit_items(scores, items, year)
    rows = []
    for (y, cat), d in pd.concat([ui, ui.assign(category="all")]).groupby(["year", "category"], sort=False):
        m = d.pivot(index="unit_id", columns="item_id", values="points").to_numpy(dtype=float)
        rows.append({"year": y, "category": cat, "n_items": m.shape[1], "n_units": int((~np.isnan(m).any(1)).sum()), "alpha": cronbach_alpha(m)})
    out = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(list(config.CATEGORIES) + ["all"])}
    return out.sort_values(["year", "category"], key=lambda s: s.map(order) if s.name == "category" else s).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# vertical
# ---------------------------------------------------------------------------------------------
def lineage(units: pd.DataFrame) -> pd.DataFrame:
    """Follow renames and merges through ``successor_id``.

    A link P → S is a **rename** when S has exactly one predecessor and did not exist before P
    ended (``S.valid_from > P.valid_to``; an empty ``valid_from`` means S existed from the
    start); otherwise it is a **merge** (several predecessors, or P absorbed by a unit that
    already existed), which is never joined into one series.

    Returns
    -------
    DataFrame
        One row per unit: ``unit_id``, ``name``, ``successor_id``, ``link`` (``rename`` /
        ``merge`` / empty: how this unit continues), ``series_id`` (the id under which its
        history is followed: the last id of its chain of renames), ``series_name`` (name of that
        id), ``predecessors`` (``;``-joined ids that continue into this unit), ``break_kind``
        (``rename`` / ``merge`` / empty: how this unit began).
    """
    u = units.drop_duplicates("unit_id").copy()
    ids = u["unit_id"].astype(str)
    succ = u["successor_id"].astype("string").str.strip()
    succ = succ.where(succ.notna() & (succ != "") & (succ != ids.astype("string")))
    u["successor_id"] = succ.astype(object).where(succ.notna(), None)
    n_pred = succ.value_counts()
    vf = pd.to_numeric(u.get("valid_from"), errors="coerce") if "valid_from" in u else pd.Series(np.nan, index=u.index)
    vt = pd.to_numeric(u.get("valid_to"), errors="coerce") if "valid_to" in u else pd.Series(np.nan, index=u.index)
    start = pd.Series(vf.to_numpy(), index=ids.to_numpy())
    s_start = succ.map(start)
    known = succ.isin(set(ids))
    # an empty valid_from means "since the start": such a successor existed before P ended
    existed = known & vt.notna() & (s_start.isna() | (s_start <= vt))
    single = succ.map(n_pred).fillna(0).eq(1)
    link = np.where(succ.isna(), "", np.where(single & ~existed, "rename", "merge"))
    u["link"] = link
    parent = pd.Series(succ.where(link == "rename").to_numpy(), index=ids.to_numpy()).dropna()
    series = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    for _ in range(len(u) + 1):
        nxt = series.map(parent).fillna(series)
        if nxt.equals(series):
            break
        series = nxt
    else:  # pragma: no cover - a cycle of renames
        raise PipelineError("units.csv: the successor_id links form a cycle")
    u["series_id"] = series.to_numpy()
    names = pd.Series(u["name"].to_numpy(), index=ids.to_numpy())
    u["series_name"] = u["series_id"].map(names).fillna(u["name"])
    preds = pd.Series(ids.to_numpy(), index=ids.to_numpy()).groupby(succ.to_numpy()).agg(lambda s: ";".join(sorted(s)))
    u["predecessors"] = ids.map(preds).fillna("")
    kinds = pd.Series(link, index=ids.to_numpy())
    first_kind = pd.Series(succ.to_numpy(), index=ids.to_numpy()).dropna()
    begin = pd.Series(kinds.loc[first_kind.index].to_numpy(), index=first_kind.to_numpy()).groupby(level=0).agg(
        lambda s: "merge" if (s == "merge").any() else "rename"
    )
    u["break_kind"] = ids.map(begin).fillna("")
    cols = ["unit_id", "name", "successor_id", "link", "series_id", "series_name", "predecessors", "break_kind"]
    return u[cols].reset_index(drop=True)


def vertical(totals: pd.DataFrame, units: pd.DataFrame, years: tuple[int, int] | None = None, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Each unit over the years: % of max, rank, percentile, z-score and year-over-year change.

    Parameters
    ----------
    totals : DataFrame
        The ``totals`` table.
    units : DataFrame
        The ``units`` registry (``successor_id`` links renames and merges, see :func:`lineage`).
    years : (first, last), optional
        Span of years (default: all).
    top_n : int
        Winners: rank ≤ top_n.

    Returns
    -------
    DataFrame
        One row per year and unit: ``year``, ``series_id``, ``series_name``, ``unit_id``,
        ``name`` (the unit's own name), ``total``, ``pct_of_max``, ``rank``, ``n_units``,
        ``percentile`` (percentile rank, 100 = best), ``z`` (within-year z-score of total),
        ``quintile`` (1 = top fifth), ``is_winner``; the change since the series' previous
        observed year ``prev_year``: ``d_pct``, ``d_rank`` (previous rank − rank: positive =
        moved up), ``d_percentile``, ``d_z``; ``break`` (True on the first row after a
        rename or merge), ``break_kind`` (``rename`` / ``merge`` / empty), ``predecessors``
        (ids that continue into this row's unit at a break). Changes across a rename are
        computed (same organisation, new name) and marked; across a merge they are NaN.
    """
    t = totals
    if years is not None:
        t = t.loc[t["year"].between(int(years[0]), int(years[1]))]
        if t.empty:
            raise PipelineError(f"vertical: no data in {years[0]}–{years[1]}")
    t = t[["year", "unit_id", "total", "pct_of_max", "rank"]].copy()
    g = t.groupby("year")["total"]
    t["n_units"] = g.transform("count").astype("int64")
    t["percentile"] = 100.0 * (g.rank(method="average") - 0.5) / t["n_units"]
    t["z"] = (t["total"] - g.transform("mean")) / g.transform("std")
    t["quintile"] = (1 + np.floor(5 * (t["rank"] - 1) / t["n_units"])).astype("int64")
    t["is_winner"] = score.winners(t["rank"].to_numpy(), top_n)
    lin = lineage(units)
    unknown = sorted(set(t["unit_id"]) - set(lin["unit_id"]))
    if unknown:
        raise PipelineError(f"vertical: unit(s) {', '.join(unknown[:5])} of the totals are not in the units table")
    t = t.merge(lin[["unit_id", "name", "series_id", "series_name", "predecessors", "break_kind"]], on="unit_id", how="left")
    t = t.sort_values(["series_id", "year"], kind="stable").reset_index(drop=True)
    same = t["series_id"].eq(t["series_id"].shift())
    prev = t.shift().where(same)
    renamed = same & t["unit_id"].ne(prev["unit_id"])
    # a merge successor breaks in its first year after its predecessors' last observed year
    last_seen = t.groupby("unit_id")["year"].max()
    pred_lists = t["predecessors"].where(t["break_kind"] == "merge", "")
    pred_last = pred_lists.str.split(";").map(lambda ids: max((last_seen.get(i, -1) for i in ids if i), default=-1))
    cand = (t["break_kind"] == "merge") & (t["year"] > pred_last)
    merged = cand & t["year"].eq(t["year"].where(cand).groupby(t["unit_id"]).transform("min"))
    t["break"] = renamed | merged
    t["break_kind"] = np.where(merged, "merge", np.where(renamed, "rename", ""))
    t["predecessors"] = np.where(t["break"], t["predecessors"], "")
    keep = same & ~merged
    t["prev_year"] = prev["year"].where(keep).astype("Int64")
    t["d_pct"] = (t["pct_of_max"] - prev["pct_of_max"]).where(keep)
    t["d_rank"] = (prev["rank"] - t["rank"]).where(keep)
    t["d_percentile"] = (t["percentile"] - prev["percentile"]).where(keep)
    t["d_z"] = (t["z"] - prev["z"]).where(keep)
    cols = [
        "year", "series_id", "series_name", "unit_id", "name", "total", "pct_of_max", "rank", "n_units",
        "percentile", "z", "quintile", "is_winner", "prev_year", "d_pct", "d_rank", "d_percentile", "d_z",
        "break", "break_kind", "predecessors",
    ]
    return t[cols].sort_values(["year", "rank", "unit_id"], kind="stable").reset_index(drop=True)


def _pairs(vertical_df: pd.DataFrame, year_from: int, year_to: int) -> tuple[pd.DataFrame, int]:
    """Rows of the same series in both years (merge breaks excluded) and the number unmatched."""
    a = vertical_df.loc[vertical_df["year"] == year_from]
    b = vertical_df.loc[vertical_df["year"] == year_to]
    if a.empty or b.empty:
        raise PipelineError(f"transitions: no data for {year_from if a.empty else year_to}")
    m = a.merge(b, on="series_id", suffixes=("_from", "_to"))
    m = m.loc[m["break_kind_to"] != "merge"]
    unmatched = len(a) + len(b) - 2 * len(m)
    return m, int(unmatched)


def transitions(vertical_df: pd.DataFrame, year_from: int, year_to: int, k: int = 5) -> pd.DataFrame:
    """Rank-transition matrix between two years (quantile groups by rank, 1 = top).

    Units are matched through ``series_id`` (renames followed); a merge successor is not
    matched to any predecessor.

    Returns
    -------
    DataFrame
        All ``k × k`` cells: ``year_from``, ``year_to``, ``q_from``, ``q_to``, ``count``,
        ``share`` (row share: P(q_to | q_from), NaN for an empty row).
    """
    m, _ = _pairs(vertical_df, year_from, year_to)
    qa = (1 + np.floor(k * (m["rank_from"] - 1) / m["n_units_from"])).astype(int)
    qb = (1 + np.floor(k * (m["rank_to"] - 1) / m["n_units_to"])).astype(int)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (qa.to_numpy() - 1, qb.to_numpy() - 1), 1)
    rows = counts.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, counts / rows, np.nan)
    qf, qt = np.meshgrid(np.arange(1, k + 1), np.arange(1, k + 1), indexing="ij")
    return pd.DataFrame(
        {"year_from": year_from, "year_to": year_to, "q_from": qf.ravel(), "q_to": qt.ravel(), "count": counts.ravel(), "share": share.ravel()}
    )


def last_transition(vertical_df: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """:func:`transitions` between the last two observed years (empty frame, same columns,
    when the span holds fewer than two years)."""
    years = sorted(vertical_df["year"].unique())
    if len(years) < 2:
        return pd.DataFrame(columns=["year_from", "year_to", "q_from", "q_to", "count", "share"])
    return transitions(vertical_df, int(years[-2]), int(years[-1]), k)


def shorrocks(p) -> float:
    """Shorrocks (1978) mobility index :math:`(k - \\operatorname{tr} P)/(k - 1)` of a k × k
    row-stochastic transition matrix (or of the long output of :func:`transitions`)."""
    if isinstance(p, pd.DataFrame):
        p = p.pivot(index="q_from", columns="q_to", values="share").to_numpy(dtype=float)
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 2:
        raise PipelineError("shorrocks: need a square transition matrix of size ≥ 2")
    k = p.shape[0]
    return float((k - np.trace(np.nan_to_num(p, nan=0.0))) / (k - 1))


def mobility(vertical_df: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Mobility between each pair of consecutive years.

    Returns
    -------
    DataFrame
        ``year_from``, ``year_to``, ``n_pairs`` (series observed in both years), ``n_unmatched``
        (rows of either year without a partner: units that began, ended or merged), ``shorrocks`` (of the k-quantile matrix), ``stay_share``
        (share of units staying in their quantile group), ``spearman`` (rank correlation of the
        two years' totals), ``mean_abs_d_rank``, ``winners_kept`` (winners of year_from who win
        again), ``winners_from``.
    """
    years = sorted(vertical_df["year"].unique())
    rows = []
    for a, b in zip(years[:-1], years[1:]):
        m, nb = _pairs(vertical_df, a, b)
        tr = transitions(vertical_df, a, b, k)
        diag = tr.loc[tr["q_from"] == tr["q_to"], "count"].sum()
        rows.append(
            {
                "year_from": a,
                "year_to": b,
                "n_pairs": len(m),
                "n_unmatched": nb,
                "shorrocks": shorrocks(tr),
                "stay_share": diag / len(m) if len(m) else np.nan,
                "spearman": stats.spearmanr(m["total_from"], m["total_to"]).statistic if len(m) > 2 else np.nan,
                "mean_abs_d_rank": float(np.mean(np.abs(m["rank_from"] - m["rank_to"]))) if len(m) else np.nan,
                "winners_kept": int((m["is_winner_from"] & m["is_winner_to"]).sum()),
                "winners_from": int(m["is_winner_from"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["year_from", "year_to", "n_pairs", "n_unmatched", "shorrocks", "stay_share", "spearman", "mean_abs_d_rank", "winners_kept", "winners_from"])


def persistence(vertical_df: pd.DataFrame) -> pd.DataFrame:
    """Winner persistence of each series: years in the top group and the longest run.

    A run is broken by a year without the win or a year without an observation.

    Returns
    -------
    DataFrame
        One row per series: ``series_id``, ``series_name``, ``n_years`` (observed),
        ``years_winner``, ``share_winner``, ``longest_run`` (consecutive winning years),
        ``first_year``, ``last_year``, ``winner_last_year`` (won in the last observed year of
        the whole table), ``winner_years`` (``;``-joined years).
    """
    v = vertical_df.sort_values(["series_id", "year"], kind="stable").reset_index(drop=True)
    win = v["is_winner"].astype(bool)
    cont = v["series_id"].eq(v["series_id"].shift()) & v["year"].eq(v["year"].shift() + 1) & win.shift(fill_value=False) & win
    run_id = (~cont).cumsum()
    run_len = win.groupby(run_id).transform("sum").where(win, 0)
    last = v["year"].max()
    g = v.groupby("series_id", sort=True)
    out = g.agg(
        series_name=("series_name", "last"),
        n_years=("year", "size"),
        years_winner=("is_winner", "sum"),
        first_year=("year", "min"),
        last_year=("year", "max"),
    )
    out["longest_run"] = run_len.groupby(v["series_id"]).max()
    out["winner_last_year"] = v.loc[v["year"] == last].groupby("series_id")["is_winner"].any().reindex(out.index, fill_value=False)
    out["winner_years"] = v.loc[v["is_winner"]].groupby("series_id")["year"].agg(lambda s: ";".join(map(str, s))).reindex(out.index).fillna("")
    out["share_winner"] = out["years_winner"] / out["n_years"]
    out = out.reset_index()
    out["years_winner"] = out["years_winner"].astype("int64")
    out["longest_run"] = out["longest_run"].astype("int64")
    cols = ["series_id", "series_name", "n_years", "years_winner", "share_winner", "longest_run", "first_year", "last_year", "winner_last_year", "winner_years"]
    return out[cols].sort_values(["years_winner", "longest_run", "series_id"], ascending=[False, False, True], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# finding units by name
# ---------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    s = re.sub(r"[\s\u3000]+", "", str(name))
    s = s.replace("（", "(").replace("）", ")")
    return s[1:] if s.startswith("市") else s


def find_units(units: pd.DataFrame, selectors: str | Iterable[str]) -> list[str]:
    """Unit ids for ids, names, former names or short names (aliases), in the order given.

    Matching ignores spaces, bracket width and a leading "市". An unknown selector raises a
    :class:`PipelineError` suggesting the closest registry names.
    """
    if isinstance(selectors, str):
        selectors = [selectors]
    u = units.drop_duplicates("unit_id")
    lookup: dict[str, str] = {}
    for uid, name, aliases in zip(u["unit_id"].astype(str), u["name"].astype(str), u["aliases"] if "aliases" in u else [None] * len(u)):
        for key in [uid, name] + ([a for a in str(aliases).split(";") if a.strip()] if isinstance(aliases, str) else []):
            lookup.setdefault(key.strip(), uid)
            lookup.setdefault(_norm(key), uid)
    out = []
    for sel in selectors:
        sel = str(sel)
        uid = lookup.get(sel.strip()) or lookup.get(_norm(sel))
        if uid is None:
            close = difflib.get_close_matches(sel, list(u["name"].astype(str)), n=3, cutoff=0.3)
            hint = f" — did you mean {', '.join(close)}?" if close else ""
            raise PipelineError(f"unknown unit {sel!r}{hint}")
        out.append(uid)
    return out


def pick_examples(vertical_df: pd.DataFrame, n: int = 4) -> list[str]:
    """Series worth a trajectory chart when the analyst names none (deterministic).

    In this order: series with a rename or merge break, the most persistent winner, the
    series with the largest rise in percentile from first to last observed year, and the one
    with the largest fall; at most ``n`` distinct ``series_id`` values.
    """
    v = vertical_df.sort_values(["series_id", "year"])
    picks = list(v.loc[v["break"], "series_id"].drop_duplicates())
    pers = persistence(v)
    if len(pers):
        picks.append(pers["series_id"].iloc[0])
    g = v.groupby("series_id")["percentile"]
    change = (g.last() - g.first()).loc[v.groupby("series_id")["year"].size() > 1]
    if len(change):
        picks += [change.idxmax(), change.idxmin()]
    return list(dict.fromkeys(picks))[:n]


# ---------------------------------------------------------------------------------------------
# sentences of reading (one per figure), from the numbers via pipeline/labels/compare.yaml
# ---------------------------------------------------------------------------------------------
def _tr(key: str, lang: str, default: str) -> str:
    from pipeline.i18n import t

    try:
        return t(key, lang)
    except KeyError:
        return default


def read_distribution(totals: pd.DataFrame, year: int, lang: str = "zh") -> str:
    """One sentence on the year's distribution of ``pct_of_max`` (see :func:`describe`)."""
    from pipeline.i18n import t

    d = describe(_one_year(totals, year, "read_distribution"), value="pct_of_max").iloc[0]
    fmt = {k: float(d[k]) for k in ("mean", "median", "sd", "cv", "gini", "min", "max")}
    return t("cmp_read_distribution", lang, year=int(year), n=int(d["n"]), **fmt)


def read_ranking(rank_table: pd.DataFrame, year: int, lang: str = "zh") -> str:
    """One sentence on the first place, the winning cut and the closest non-winner."""
    from pipeline.i18n import t

    r = _one_year(rank_table, year, "read_ranking").sort_values(["rank", "unit_id"])
    name = r["name"].fillna(r["unit_id"]).astype(str)
    cut = float(r["cut"].iloc[0])
    losers = r.loc[~r["is_winner"]]
    if not len(losers):  # every unit wins (n ≤ top_n): no unit missed the cut
        return t("nc_read_ranking_all_win", lang, first=name.iloc[0], top=float(r["total"].iloc[0]), cut=cut, n_win=int(r["is_winner"].sum()))
    nxt = losers.iloc[0]
    return t(
        "cmp_read_ranking",
        lang,
        first=name.iloc[0],
        top=float(r["total"].iloc[0]),
        cut=cut,
        n_win=int(r["is_winner"].sum()),
        next_rank=int(nxt["rank"]),
        next_name=str(nxt["name"] if pd.notna(nxt["name"]) else nxt["unit_id"]),
        gap=float(cut - nxt["total"]),
        n_close=int((r["gap_to_cut"].abs() <= 1.0).sum()),
    )


def read_radar(prof: pd.DataFrame, year: int, lang: str = "zh") -> str:
    """One sentence naming the strongest and weakest of the six dimensions (all-unit mean)."""
    from pipeline.i18n import t

    p = _one_year(prof, year, "read_radar")
    m = p.loc[p["group"] == "dimension"].groupby("key")["pct"].mean()
    return t("cmp_read_radar", lang, best=t(f"dim_{m.idxmax()}", lang), best_pct=float(m.max()), worst=t(f"dim_{m.idxmin()}", lang), worst_pct=float(m.min()))


def read_peer(test: pd.DataFrame, groups: pd.DataFrame, year: int, lang: str = "zh", alpha: float = 0.05) -> str:
    """One sentence on the Kruskal–Wallis test across peer groups (:func:`peer_test`)."""
    from pipeline.i18n import t

    row = _one_year(test, year, "read_peer").iloc[0]
    by = str(row["by"])
    g = _one_year(groups, year, "read_peer").sort_values("mean", ascending=False).iloc[0]
    fmt = {"by": t(by, lang) if by in ("type", "sector") else by, "h": float(row["h"]), "p": float(row["p"]), "eps": float(row["epsilon_sq"])}
    if not row["p"] == row["p"]:  # NaN: fewer than two groups, or no spread to rank
        return t("nc_read_peer", lang, by=fmt["by"])
    if row["p"] < alpha:
        return t("cmp_read_peer_sig", lang, best=_tr(f"{by}_{g['group']}", lang, str(g["group"])), best_mean=float(g["mean"]), **fmt)
    return t("cmp_read_peer_ns", lang, **fmt)


def read_items(disc: pd.DataFrame, alphas: pd.DataFrame, year: int, lang: str = "zh") -> str:
    """One sentence on item discrimination (:func:`item_discrimination`, :func:`category_alpha`)."""
    from pipeline.i18n import t

    d = _one_year(disc, year, "read_items")
    a = _one_year(alphas, year, "read_items")
    low = d.sort_values("sd_pct").iloc[0]
    a_all = float(a.loc[a["category"] == "all", "alpha"].iloc[0])
    return t(
        "cmp_read_items" if a_all == a_all else "nc_read_items_alpha",
        lang,
        n_items=len(d),
        n_ceiling=int((d["flag"] == "ceiling").sum()),
        n_weak=int((d["r_rest"] < 0.2).sum()),
        alpha=a_all,
        low_item=f"{low['item_id']} {low['item_name']}",
        low_sd=float(low["sd_pct"]),
    )


def read_heatmap(ui: pd.DataFrame, year: int, lang: str = "zh") -> str:
    """One sentence naming the item with the lowest median share of its maximum."""
    from pipeline.i18n import t

    d = _one_year(ui, year, "read_heatmap")
    med = d.groupby(["item_id", "item_name"])["pct"].median().sort_values()
    (iid, iname), val = med.index[0], float(med.iloc[0])
    return t("cmp_read_heatmap", lang, low_item=f"{iid} {iname}", low_pct=val)


def read_breaks(vertical_df: pd.DataFrame, lang: str = "zh") -> str:
    """One sentence listing the renames and merges found in the span, and how they are handled."""
    from pipeline.i18n import t

    b = vertical_df.loc[vertical_df["break"]].sort_values(["year", "unit_id"])
    if b.empty:
        return t("cmp_read_breaks_none", lang)
    name_of = dict(zip(vertical_df["unit_id"], vertical_df["name"]))
    sep = "；" if lang == "zh" else "; "
    join = "、" if lang == "zh" else " and "
    detail = sep.join(
        t(f"cmp_read_break_{r['break_kind']}", lang, year=int(r["year"]), old=join.join(name_of.get(p, p) for p in str(r["predecessors"]).split(";") if p), new=r["name"])
        for _, r in b.iterrows()
    )
    return t("cmp_read_breaks", lang, n_rename=int((b["break_kind"] == "rename").sum()), n_merge=int((b["break_kind"] == "merge").sum()), detail=detail)


def read_trajectories(vertical_df: pd.DataFrame, series_ids: Iterable[str], lang: str = "zh") -> str:
    """One sentence on the first and last rank of each chosen series."""
    from pipeline.i18n import t

    v = vertical_df.loc[vertical_df["series_id"].isin(list(series_ids))].sort_values("year")
    sep = "；" if lang == "zh" else "; "
    moves, names = [], []
    for sid in dict.fromkeys(series_ids):
        d = v.loc[v["series_id"] == sid]
        if d.empty:
            continue
        names.append(str(d["series_name"].iloc[-1]))
        moves.append(t("cmp_read_move", lang, name=names[-1], r0=int(d["rank"].iloc[0]), r1=int(d["rank"].iloc[-1])))
    end = "。" if lang == "zh" else "."
    return t("cmp_read_trajectories", lang, first=int(v["year"].min()), last=int(v["year"].max()), names=("、" if lang == "zh" else ", ").join(names), moves=sep.join(moves) + end)


def read_transition(trans: pd.DataFrame, lang: str = "zh") -> str:
    """One sentence on a transition matrix: share staying in their quintile and Shorrocks index."""
    from pipeline.i18n import t

    if trans.empty:
        return t("cmp_read_too_few_years", lang)
    n = trans["count"].sum()
    stay = trans.loc[trans["q_from"] == trans["q_to"], "count"].sum() / n if n else float("nan")
    return t("cmp_read_transition", lang, year_from=int(trans["year_from"].iloc[0]), year_to=int(trans["year_to"].iloc[0]), stay=float(stay), m=shorrocks(trans))


def read_mobility(mob: pd.DataFrame, lang: str = "zh") -> str:
    """One sentence on mobility between consecutive years (:func:`mobility`)."""
    from pipeline.i18n import t

    if mob.empty:
        return t("cmp_read_too_few_years", lang)
    kept = (mob["winners_kept"] / mob["winners_from"].where(mob["winners_from"] > 0)).mean()
    return t("cmp_read_mobility", lang, mean=float(mob["shorrocks"].mean()), rho=float(mob["spearman"].mean()), kept=float(kept))


def read_persistence(pers: pd.DataFrame, vertical_df: pd.DataFrame, lang: str = "zh") -> str:
    """One sentence on winner persistence (:func:`persistence`)."""
    from pipeline.i18n import t

    first, last = int(vertical_df["year"].min()), int(vertical_df["year"].max())
    n_years = int(vertical_df["year"].nunique())
    top = pers.sort_values(["longest_run", "years_winner"], ascending=False).iloc[0]
    return t(
        "cmp_read_persistence",
        lang,
        first=first,
        last=last,
        n_years=n_years,
        n_ever=int((pers["years_winner"] > 0).sum()),
        n_always=int((pers["years_winner"] == n_years).sum()),
        name=str(top["series_name"]),
        run=int(top["longest_run"]),
    )
