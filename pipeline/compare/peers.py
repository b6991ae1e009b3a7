"""Peer groups (by type or sector): group summaries and the Kruskal–Wallis test with effect sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.compare.horizontal import _one_year


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
