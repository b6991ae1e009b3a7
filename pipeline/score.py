"""Scoring: grade mapping, aggregation, competition ranking, winners and the totals table.

Definitions (SPEC §3)
---------------------
* **Competition ranking** ("1224" ranking, ``scipy.stats.rankdata(method="min")`` on the
  negated values): the highest value gets rank 1 and tied values share the best rank of the
  tie, so the next rank skips (1, 2, 2, 4).
* **Winners**: units whose rank is ≤ ``top_n`` — when several units tie at the cut, all of
  them are winners, so there can be more than ``top_n`` winners.
* **NA policy** for items that do not apply to a unit (``status == "na"``):
  ``prorate`` (default) scales the earned points to the applicable maximum,
  ``total = earned / applicable_max × max_total``; ``zero`` counts them as 0 points;
  ``full`` counts them as full marks. A *missing* (empty) cell earns 0 points under every
  policy (it was not reported) and is logged by the cleaning step.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["rank", "aggregate", "winners", "grade_points", "totals", "run_totals", "graded", "regrade", "ranking", "cut", "TIE_DECIMALS"]

#: Totals are rounded to this many decimals before ranking, so that floating-point noise
#: from summing (e.g. 0.1 + 0.2) never breaks a tie that the committee would see as one.
TIE_DECIMALS = 6


def rank(values, axis: int = -1, decimals: int | None = None) -> np.ndarray:
    """Competition ranks: higher value = better = rank 1; ties share the better rank.

    Parameters
    ----------
    values : array_like
        1-D values, or an n-D array ranked independently along ``axis`` (e.g. samples × units).
    axis : int
        Axis along which to rank.
    decimals : int, optional
        Round to this many decimals first (published indices are ranked on rounded values).

    Returns
    -------
    numpy.ndarray
        Integer ranks (1 = best) of the same shape; float with NaN where a value is NaN
        (NaN values take no rank and do not push other units down).

    Notes
    -----
    Equivalent to ``scipy.stats.rankdata(-values, method="min")``; the NaN-free path is a
    vectorised argsort so that millions of rows rank without a Python loop.

    Examples
    --------
    >>> rank([90, 95, 95, 80]).tolist()
    [3, 1, 1, 4]
    """
    a = np.asarray(values, dtype=float)
    if decimals is not None:
        a = np.round(a, decimals)
    if a.ndim == 0:
        raise PipelineError("rank() needs at least one value")
    if np.isnan(a).any():
        return stats.rankdata(-a, method="min", axis=axis, nan_policy="omit")
    a = np.moveaxis(a, axis, -1)
    n = a.shape[-1]
    order = np.argsort(-a, axis=-1, kind="stable")
    srt = np.take_along_axis(a, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), srt.shape)
    new_run = np.ones(srt.shape, dtype=bool)
    new_run[..., 1:] = srt[..., 1:] != srt[..., :-1]
    start = np.maximum.accumulate(np.where(new_run, pos, 0), axis=-1)
    ranks = np.empty(a.shape, dtype=np.int64)
    np.put_along_axis(ranks, order, start + 1, axis=-1)
    return np.moveaxis(ranks, -1, axis)


def aggregate(matrix, weights, method: str = "arithmetic") -> np.ndarray:
    """Weighted aggregation of units × indicators into one composite per unit.

    Parameters
    ----------
    matrix : array_like, shape (n_units, n_items) or (n_items,)
        Normalised indicator values (e.g. points / max, in [0, 1]). NaN marks a
        not-applicable indicator: it is left out and the unit's remaining weights are
        renormalised (the ``prorate`` rule).
    weights : array_like, shape (n_items,) or (n_samples, n_items)
        Non-negative weights; only their proportions matter (they are normalised to sum 1
        over each unit's applicable indicators). A 2-D array gives one composite per
        weight vector and unit.
    method : {"arithmetic", "geometric"}
        ``arithmetic``: :math:`\\sum_j w_j x_j / \\sum_j w_j`;
        ``geometric``: :math:`\\prod_j x_j^{w_j / \\sum_j w_j}` (OECD/JRC Handbook on
        Constructing Composite Indicators, 2008, §6; the UNDP HDI is the geometric mean of its
        three dimension indices with equal weights). A zero indicator gives a geometric
        composite of 0; negative values are rejected.

    Returns
    -------
    numpy.ndarray
        Shape (n_units,) for 1-D weights, (n_samples, n_units) for 2-D weights; a scalar for
        a 1-D matrix with 1-D weights.
    """
    x = np.asarray(matrix, dtype=float)
    w = np.asarray(weights, dtype=float)
    single = x.ndim == 1
    if single:
        x = x[None, :]
    if x.shape[-1] != w.shape[-1]:
        raise PipelineError(f"aggregate: {x.shape[-1]} indicators but {w.shape[-1]} weights")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise PipelineError("aggregate: weights must be finite and non-negative")
    if method not in ("arithmetic", "geometric"):
        raise PipelineError(f"aggregate: unknown method {method!r} (arithmetic or geometric)")
    present = ~np.isnan(x)
    x0 = np.where(present, x, 0.0)
    wsum = present.astype(float) @ w.T  # (units,) or (units, samples)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "arithmetic":
            out = (x0 @ w.T) / wsum
        else:
            if np.any(x0 < 0):
                raise PipelineError("aggregate: geometric aggregation needs non-negative values")
            logs = np.where(present, np.log(np.where(present, x0, 1.0)), 0.0)
            # log(0) = -inf with a positive weight gives exp(-inf) = 0; a zero weight on a
            # zero value contributes nothing (0 * -inf is defined as 0 here).
            wl = np.where(np.isneginf(logs), -1e300, logs)
            out = np.exp((wl @ w.T) / wsum)
    out = np.where(wsum > 0, out, np.nan)
    if w.ndim == 2:
        out = out.T
    if single and w.ndim == 1:
        return out[0]
    return out


def winners(ranks, top_n: int = config.TOP_N) -> np.ndarray:
    """Boolean winner flags: rank ≤ ``top_n`` (ties at the cut all win)."""
    if int(top_n) != top_n or top_n < 1:
        raise PipelineError(f"top_n must be a positive integer, got {top_n!r}")
    r = np.asarray(ranks, dtype=float)
    return np.where(np.isnan(r), False, r <= top_n)


def grade_points(grade: str, max_points: float, grade_map: Mapping[str, float] | None = None) -> float:
    """Points for a three-grade item: ``grade_map[grade] × max_points`` (default 1.0/0.8/0.6)."""
    gm = dict(config.GRADE_MAP if grade_map is None else grade_map)
    if grade not in gm:
        raise PipelineError(f"unknown grade {grade!r} (expected one of {', '.join(gm)})")
    return float(gm[grade]) * float(max_points)


def _check_policy(na_policy: str) -> None:
    if na_policy not in config.NA_POLICIES:
        raise PipelineError(f"unknown na_policy {na_policy!r} (one of {', '.join(config.NA_POLICIES)})")


def totals(
    scores: pd.DataFrame,
    items: pd.DataFrame,
    adjustments: pd.DataFrame | None = None,
    na_policy: str = config.NA_POLICY,
    top_n: int = config.TOP_N,
    grade_map: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Compute the ``totals`` table (SPEC §3) from tidy annual scores.

    Parameters
    ----------
    scores : DataFrame
        The ``scores`` table; only ``period == "Y"`` rows are used.
    items : DataFrame
        The ``items`` table (year, item_id, max_points, category, dimension, method).
    adjustments : DataFrame, optional
        Verified 述职评议 adjustments: year, unit_id, adjustment (signed points).
    na_policy : {"prorate", "zero", "full"}
    top_n : int
        Winners are units with rank ≤ top_n.
    grade_map : mapping, optional
        If given, graded items are re-scored from the ``grade`` column with this mapping
        (used by the sensitivity analysis); otherwise the stored points are used.

    Returns
    -------
    DataFrame
        One row per year and unit: ``year``, ``unit_id``; ``raw_total`` (sum of earned
        points); ``base`` (raw_total after the NA policy, on the 100-point scale);
        ``adjustment`` (述职评议, 0 when none); ``total`` = base + adjustment; ``rank``
        (competition rank of ``total`` within the year, rounded to ``TIE_DECIMALS``);
        ``is_winner``; ``n_na``, ``n_missing``; ``cat_<category>`` and ``dim_<dimension>``
        (earned points per category / dimension); ``pct_of_max`` = 100 × total / max_total.
    """
    _check_policy(na_policy)
    s = scores.loc[scores["period"].astype(str) == "Y"].merge(
        items[["year", "item_id", "max_points", "category", "dimension", "method"]],
        on=["year", "item_id"],
        how="left",
        validate="many_to_one",
    )
    if s["max_points"].isna().any():
        bad = s.loc[s["max_points"].isna(), ["year", "item_id"]].drop_duplicates().head(3)
        raise PipelineError(f"scores reference items not in the item list: {bad.to_dict('records')}")
    pts = _graded_points(s, grade_map)
    s = s.assign(
        earned=pts.where(s["status"] == "ok", 0.0).fillna(0.0),
        is_na=(s["status"] == "na"),
        is_missing=(s["status"] == "missing"),
    )
    s["na_max"] = s["max_points"].where(s["is_na"], 0.0)
    g = s.groupby(["year", "unit_id"], sort=True)
    out = g.agg(
        raw_total=("earned", "sum"),
        na_max=("na_max", "sum"),
        n_na=("is_na", "sum"),
        n_missing=("is_missing", "sum"),
    ).reset_index()
    max_total = items.groupby("year")["max_points"].sum().rename("max_total")
    out = out.merge(max_total, on="year", how="left")
    if na_policy == "prorate":
        applicable = out["max_total"] - out["na_max"]
        base = np.where(applicable > 0, out["raw_total"] / applicable.where(applicable > 0, 1) * out["max_total"], 0.0)
    elif na_policy == "zero":
        base = out["raw_total"].to_numpy()
    else:
        base = (out["raw_total"] + out["na_max"]).to_numpy()
    out["base"] = base
    if adjustments is not None and len(adjustments):
        adj = adjustments.groupby(["year", "unit_id"])["adjustment"].sum().rename("adjustment")
        out = out.merge(adj, on=["year", "unit_id"], how="left")
        out["adjustment"] = out["adjustment"].fillna(0.0)
    else:
        out["adjustment"] = 0.0
    out["total"] = out["base"] + out["adjustment"]
    out["rank"] = out.groupby("year")["total"].transform(lambda t: rank(t.to_numpy(), decimals=TIE_DECIMALS))
    out["rank"] = out["rank"].astype("int64")
    out["is_winner"] = winners(out["rank"], top_n)
    for key, prefix, values in (("category", "cat_", config.CATEGORIES), ("dimension", "dim_", config.DIMENSIONS)):
        part = s.pivot_table(index=["year", "unit_id"], columns=key, values="earned", aggfunc="sum", fill_value=0.0)
        part = part.reindex(columns=list(values), fill_value=0.0)
        part.columns = [prefix + c for c in part.columns]
        out = out.merge(part.reset_index(), on=["year", "unit_id"], how="left")
    out["pct_of_max"] = 100.0 * out["total"] / out["max_total"]
    out["n_na"] = out["n_na"].astype("int64")
    out["n_missing"] = out["n_missing"].astype("int64")
    cols = ["year", "unit_id", "raw_total", "base", "adjustment", "total", "rank", "is_winner", "n_na", "n_missing"]
    cols += [f"cat_{c}" for c in config.CATEGORIES] + [f"dim_{d}" for d in config.DIMENSIONS] + ["pct_of_max"]
    return out[cols].sort_values(["year", "rank", "unit_id"], kind="stable").reset_index(drop=True)


def _graded_points(s: pd.DataFrame, grade_map: Mapping[str, float] | None) -> pd.Series:
    """``points`` of ``s`` (scores merged with their items' ``method`` and ``max_points``) with
    every graded cell whose grade is in ``grade_map`` re-scored as ``grade_map[grade] × max``."""
    pts = s["points"].astype(float)
    if grade_map is not None and "grade" in s:
        mapped = pd.Series(_grade_share(s["grade"], grade_map), index=s.index)
        pts = pts.where(~((s["method"] == "grade") & mapped.notna()), mapped * s["max_points"])
    return pts


def _grade_share(grades, grade_map: Mapping[str, float]) -> np.ndarray:
    """The rule of the grade mapping, cell by cell: ``grade_map[grade]`` for a grade in the map,
    NaN for anything else (no grade, or a grade the map does not know). Used by
    :func:`_graded_points` (tidy tables) and :func:`regrade` (the units × items matrix)."""
    return np.array([grade_map.get(v, np.nan) if isinstance(v, str) else np.nan for v in grades], dtype=float)


def graded(scores: pd.DataFrame, items: pd.DataFrame, grade_map: Mapping[str, float]) -> pd.DataFrame:
    """The ``scores`` table with every graded cell re-scored from its grade with ``grade_map``.

    The rule of :func:`totals` (one implementation, :func:`_graded_points`) applied to the
    tidy table, so that item-level tables (points per unit and item, profiles, discrimination)
    follow a run's ``grade_map`` as its totals do. Cells without a grade, or with a grade not
    in ``grade_map``, keep their points; every other column is unchanged.

    Parameters
    ----------
    scores, items : DataFrame
        The processed tables (SPEC §3); ``items`` gives each item's ``method`` and ``max_points``.
    grade_map : mapping
        Grade → share of the item maximum (e.g. ``{"好": 1.0, "较好": 0.8, "一般": 0.6}``).
    """
    s = scores.merge(items[["year", "item_id", "max_points", "method"]], on=["year", "item_id"], how="left", validate="many_to_one")
    return scores.assign(points=_graded_points(s, dict(grade_map)).to_numpy())


def run_totals(scores: pd.DataFrame, items: pd.DataFrame, adjustments: pd.DataFrame | None, params) -> pd.DataFrame:
    """The totals of a run: :func:`totals` under the run's ``na_policy``, ``top_n`` and ``grade_map``.

    The processed tables stay parameter-free (points as scored, grades as written); every step
    of a run (chapters, report, bulletin, unit pages) takes its totals, ranks and winners from
    here, so that no document of a run shows numbers of other parameters. Graded items are
    always re-scored from their grade with ``params.grade_map``.

    Parameters
    ----------
    params : pipeline.params.Params or mapping
        Anything with ``na_policy``, ``top_n`` and ``grade_map`` (attributes or keys).
    """
    get = (lambda k: params[k]) if isinstance(params, Mapping) else (lambda k: getattr(params, k))
    return totals(scores, items, adjustments, na_policy=get("na_policy"), top_n=int(get("top_n")), grade_map=dict(get("grade_map")))


def cut(tot: pd.DataFrame, top_n: int) -> float:
    """The winners' line of one year's totals: the total of the lowest-ranked winner (rank ≤ ``top_n``)."""
    w = tot.loc[tot["rank"] <= top_n, "total"]
    return float(w.min()) if len(w) else float("nan")


def ranking(tot: pd.DataFrame, units: pd.DataFrame, year: int) -> pd.DataFrame:
    """``reports/<year>/ranking.csv``: one row per unit of ``year`` in rank order.

    Returns
    -------
    DataFrame
        ``year``, ``unit_id``, ``name`` (registered name), ``raw_total`` (earned points),
        ``adjustment`` (述职评议), ``total``, ``rank``, ``is_winner`` — all from :func:`totals`
        under the run's parameters.
    """
    g = tot.loc[tot["year"] == year, ["year", "unit_id", "raw_total", "adjustment", "total", "rank", "is_winner"]]
    g = g.merge(units[["unit_id", "name"]], on="unit_id", how="left")
    cols = ["year", "unit_id", "name", "raw_total", "adjustment", "total", "rank", "is_winner"]
    return g[cols].sort_values(["rank", "unit_id"], kind="stable").reset_index(drop=True)


def regrade(points: pd.DataFrame, grades: pd.DataFrame, maxima, grade_map: Mapping[str, float]) -> pd.DataFrame:
    """A units × items points matrix with every graded cell re-scored as ``grade_map[grade] × max``.

    The rule of :func:`totals` with a ``grade_map``, for the matrix form used by the weights
    chapter (:func:`pipeline.sensitivity.year_data`): cells without a grade keep their points.

    Parameters
    ----------
    points : DataFrame
        Units × items points (NaN = not applicable).
    grades : DataFrame
        Units × items grades (好/较好/一般) of graded cells, None elsewhere.
    maxima : array_like
        Item maxima, in the column order of ``points``.
    grade_map : mapping
        Grade → share of the item maximum.
    """
    g = grades.reindex(index=points.index, columns=points.columns)
    share = g.apply(lambda col: pd.Series(_grade_share(col, grade_map), index=col.index))
    mapped = share.mul(np.asarray(maxima, dtype=float), axis=1)
    return points.where(mapped.isna(), mapped)
