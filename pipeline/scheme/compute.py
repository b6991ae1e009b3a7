"""Scheme arithmetic (SPEC §8): item weights, totals, tiers, ranks and winners of one year.

For a unit *i* of weight group *g* (its sector or type when the scheme is differentiated, else
the scheme's default) the item weights are

.. math:: W_{gj} = P_{gk} \\, m_j / M_k \\qquad (j \\in k)

where :math:`P_{gk}` are the category points of the group, :math:`m_j` the official maximum
of item *j* and :math:`M_k` the official maximum of all items of category *k* in that year's
list. An item fixed by ``items:`` takes its points and the other items of its category share
the category's remaining points in proportion to their maxima (so the category keeps its
points); the weights are then scaled to sum 100. Item scores are
:math:`z_{ij} = x_{ij}/m_j` (graded items: the scheme's share of the grade), and

.. math:: T_i = 100 \\, \\frac{\\sum_{j \\in A_i} W_{gj} z_{ij}}{\\sum_{j \\in A_i} W_{gj}} + a_i

with :math:`A_i` the applicable items under ``prorate``; ``zero`` counts a not-applicable item
as :math:`z = 0` and ``full`` as :math:`z = 1` (then :math:`A_i` is every item). :math:`a_i`
is the verified 述职评议 adjustment. Ranks are competition ranks (ties share the better rank,
:func:`pipeline.score.rank`, on totals rounded to :data:`pipeline.score.TIE_DECIMALS`) within
each tier; winners are rank ≤ the tier's quota (or ``top_n``), so units tied at a cut all win.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from pipeline import config, score
from pipeline.errors import PipelineError
from pipeline.scheme.spec import Scheme
from pipeline.sensitivity.data import YearData

__all__ = ["item_weights", "item_scores", "weight_group", "tiers", "scheme_totals", "official_totals", "comparison", "year_items", "COLUMNS"]

#: The columns of ``comparison.csv`` (SPEC §8).
COLUMNS = ["year", "unit_id", "name", "tier", "official_total", "official_rank", "official_winner",
           "scheme_total", "scheme_rank", "scheme_winner"]


def item_weights(scheme: Scheme, items: pd.DataFrame, group: str | None = None) -> pd.Series:
    """Scheme weight of every item of one year's list (see the module docstring).

    Parameters
    ----------
    items : DataFrame
        One year's item list: item_id, item_name, category, max_points.
    group : str, optional
        Value of the scheme's ``by`` attribute (e.g. a sector); its category points replace
        the scheme's ``categories`` when the scheme lists it.

    Returns
    -------
    Series
        Index item_id (in ``items`` order), points summing to 100.
    """
    m = items["max_points"].astype(float).to_numpy()
    cats = items["category"].astype(str).to_numpy()
    names = items["item_name"].astype(str).str.replace(r"\s+", "", regex=True).to_numpy()
    pts = scheme.groups.get(group) if group is not None else None
    if pts is None:
        pts = scheme.categories
    w = np.zeros(m.size)
    fixed = np.array([n in scheme.items for n in names], dtype=bool)
    w[fixed] = [scheme.items[n] for n in names[fixed]]
    for k in dict.fromkeys(cats):
        sel = cats == k
        p_k = float(pts.get(k, 0.0)) if pts is not None else float(m[sel].sum())
        free = sel & ~fixed
        rest = p_k - w[sel & fixed].sum()
        if free.any() and rest > 0:
            w[free] = rest * m[free] / m[free].sum()
    total = w.sum()
    if total <= 0:
        raise PipelineError(f"{scheme.source or scheme.name}: every item weight is 0 in {items['year'].iloc[0] if 'year' in items else 'the year'}")
    return pd.Series(100.0 * w / total, index=items["item_id"].to_numpy(), name="weight")


def item_scores(yd: YearData, scheme: Scheme) -> np.ndarray:
    """Units × items scores in [0, 1]: points / max, graded cells at the scheme's grade share;
    not-applicable cells NaN under ``prorate``, 0 under ``zero``, 1 under ``full``."""
    x = yd.points.to_numpy(dtype=float)
    na = np.isnan(x)
    z = x / yd.maxima
    g = yd.grades.to_numpy(dtype=object)
    graded = (yd.methods == "grade")[None, :] & ~na
    for grade, share in scheme.grade_map.items():
        z = np.where(graded & (g == grade), float(share), z)
    if scheme.na_policy == "zero":
        z = np.where(na, 0.0, z)
    elif scheme.na_policy == "full":
        z = np.where(na, 1.0, z)
    return z


def _attr(yd: YearData, col: str, units: pd.DataFrame | None) -> pd.Series:
    if col in yd.attrs:
        return yd.attrs[col].astype(str)
    if units is None or col not in units:
        raise PipelineError(f"unit column {col!r} is not in the units table")
    return units.set_index("unit_id")[col].reindex(yd.attrs.index).astype(str)


def weight_group(yd: YearData, scheme: Scheme, units: pd.DataFrame | None = None) -> pd.Series:
    """Weight group of each unit: its sector/type when the scheme lists it, else ``""``."""
    if not scheme.by:
        return pd.Series("", index=yd.attrs.index, name="group")
    v = _attr(yd, scheme.by, units)
    return v.where(v.isin(list(scheme.groups)), "").rename("group")


def tiers(yd: YearData, scheme: Scheme, units: pd.DataFrame | None = None) -> pd.Series:
    """Tier of each unit (the value of ``tiers.by``), or ``""`` when the scheme has no tiers."""
    if not scheme.tier_by:
        return pd.Series("", index=yd.attrs.index, name="tier")
    return _attr(yd, scheme.tier_by, units).rename("tier")


def year_items(yd: YearData) -> pd.DataFrame:
    """The item list of a YearData (year, item_id, item_name, category, max_points)."""
    return pd.DataFrame({"year": yd.year, "item_id": yd.item_ids, "item_name": yd.item_names,
                         "category": yd.categories, "max_points": yd.maxima})


def _rank_in_tiers(total: np.ndarray, tier: np.ndarray, scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    rk = np.zeros(total.size, dtype=np.int64)
    win = np.zeros(total.size, dtype=bool)
    for t in dict.fromkeys(tier):  # one pass per tier (a handful), vectorised inside
        sel = tier == t
        rk[sel] = score.rank(total[sel], decimals=score.TIE_DECIMALS)
        win[sel] = score.winners(rk[sel], scheme.quotas[t] if scheme.tier_by else scheme.top_n)
    return rk, win


def scheme_totals(yd: YearData, scheme: Scheme, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """Totals, ranks and winners of one year under ``scheme``.

    Returns
    -------
    DataFrame
        Index unit_id (YearData order): ``group`` (weight group), ``tier``, ``base`` (weighted
        score on the 100-point scale), ``adjustment``, ``total`` = base + adjustment, ``rank``
        (competition rank within the tier), ``winner``.
    """
    z = item_scores(yd, scheme)
    grp = weight_group(yd, scheme, units).to_numpy()
    items = year_items(yd)
    base = np.zeros(z.shape[0])
    for g in dict.fromkeys(grp):  # one matrix product per weight group (a handful)
        sel = grp == g
        w = item_weights(scheme, items, g or None).to_numpy()
        base[sel] = 100.0 * score.aggregate(z[sel], w)
    base = np.nan_to_num(base, nan=0.0)  # no applicable item at all: 0, as pipeline.score.totals
    total = base + yd.offset
    tier = tiers(yd, scheme, units).to_numpy()
    rk, win = _rank_in_tiers(total, tier, scheme)
    return pd.DataFrame({"group": grp, "tier": tier, "base": base, "adjustment": yd.offset, "total": total,
                         "rank": rk, "winner": win}, index=yd.attrs.index)


def official_totals(tables: Mapping[str, pd.DataFrame], year: int) -> pd.DataFrame:
    """The official totals of ``year`` (item maxima, default grade map, prorate, top 20):
    :func:`pipeline.score.totals` on the processed tables, indexed by unit_id."""
    sc = tables["scores"]
    sc = sc.loc[sc["year"].astype(int) == int(year)]
    it = tables["items"].loc[tables["items"]["year"].astype(int) == int(year)]
    adj = tables.get("adjustments")
    if adj is not None:
        adj = adj.loc[adj["year"].astype(int) == int(year)]
    out = score.totals(sc, it, adj, na_policy=config.NA_POLICY, top_n=config.TOP_N)
    return out.set_index("unit_id")


def comparison(yd: YearData, official: pd.DataFrame, scheme: Scheme, units: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows of ``comparison.csv`` for one year (columns :data:`COLUMNS`), plus
    ``overall_rank`` (competition rank of the scheme total over all units, for rank changes
    when the scheme has tiers), ``group``, ``type``, ``sector``, ``size``; ordered by scheme
    tier and rank."""
    s = scheme_totals(yd, scheme, units)
    o = official.reindex(s.index)
    if o["total"].isna().any():
        raise PipelineError(f"{yd.year}: official totals missing for {list(o.index[o['total'].isna()][:3])}")
    out = pd.DataFrame({
        "year": yd.year,
        "unit_id": s.index,
        "name": yd.attrs["name"].to_numpy(),
        "tier": s["tier"].to_numpy(),
        "official_total": o["total"].to_numpy(dtype=float),
        "official_rank": o["rank"].to_numpy(dtype=np.int64),
        "official_winner": o["is_winner"].to_numpy(dtype=bool),
        "scheme_total": s["total"].to_numpy(),
        "scheme_rank": s["rank"].to_numpy(),
        "scheme_winner": s["winner"].to_numpy(),
        "overall_rank": score.rank(s["total"].to_numpy(), decimals=score.TIE_DECIMALS),
        "group": s["group"].to_numpy(),
        "type": yd.attrs["type"].to_numpy(),
        "sector": yd.attrs["sector"].to_numpy(),
        "size": yd.attrs["size"].to_numpy(),
    })
    return out.sort_values(["tier", "scheme_rank", "unit_id"], kind="stable").reset_index(drop=True)
