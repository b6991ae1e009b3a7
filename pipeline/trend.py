"""Trend: Mann–Kendall test, Theil–Sen slope, Benjamini–Hochberg, system-level discrimination.

Definitions
-----------
* **Mann–Kendall statistic** (Mann 1945; Kendall 1975, *Rank Correlation Methods*):
  :math:`S = \\sum_{i<j} \\operatorname{sign}(y_j - y_i)` over the observations in time order.
  ``tau`` is Kendall's :math:`\\tau_b` between time and value,
  :math:`S / \\sqrt{D (D - T_y)}` with :math:`D = n(n-1)/2` pairs and :math:`T_y` pairs tied in
  ``y`` (identical to ``scipy.stats.kendalltau(t, y)``; equal to :math:`S/D` without ties).
* **p-value (two-sided)**, :math:`P(|S| \\ge |s|)` under H0 (no trend: every ordering of the
  observed values equally likely):

  - ``n ≤ 10`` (``exact_max_n``): the **exact** permutation distribution of S. Without ties the
    number of orderings with ``k`` inversions is the Mahonian number, the coefficient of
    :math:`q^k` in :math:`\\prod_{i=1}^{n} (1 + q + \\dots + q^{i-1})`, and
    :math:`S = D - 2k`. **Tie rule**: with tied values the test stays exact — the distinct
    orderings of the multiset with ``k`` strict inversions are counted by the q-multinomial
    coefficient :math:`[n; m_1, m_2, \\dots]_q` (MacMahon 1916), and
    :math:`S = D - T_y - 2k`; this is the permutation distribution conditional on the ties.
  - ``n > 10``: normal approximation with the tie-corrected variance
    :math:`\\operatorname{Var} S = [n(n-1)(2n+5) - \\sum_t t(t-1)(2t+5)]/18` and a continuity
    correction :math:`z = (S - \\operatorname{sign} S)/\\sqrt{\\operatorname{Var} S}`
    (Hirsch, Slack & Smith 1982; Helsel & Hirsch, *Statistical Methods in Water Resources*, §12).
* **Theil–Sen slope** (Theil 1950; Sen 1968): median of the pairwise slopes
  :math:`(y_j - y_i)/(x_j - x_i)`; its 95 % interval is Sen's (1968, eq. 2.6) distribution-free
  interval from the order statistics of the slopes, as in ``scipy.stats.theilslopes``.
* **Benjamini–Hochberg** (1995) adjusted p-values (``q``) across units.
* **Reported precision.** A series is tested at the precision it is shown in (``decimals``):
  values are rounded first, so values that print alike are ties. Without this, float noise
  (0.30000000000000004 vs 0.3) turns a tie into a ±1 in S and changes the exact p-value.
  :data:`SYSTEM_DECIMALS` / :data:`VALUE_DECIMALS` fix the precision of the series the report
  tests; every caller (chapter 三, the findings of chapter 五) goes through
  :func:`mann_kendall_many`, so a series has one p-value everywhere.
* **Reachability.** ``p_min`` is the smallest p-value the test can give for the row's length and
  ties (:math:`P(|S| \\ge D - T_y)`, the exact or normal tail at the largest attainable |S|).
  When ``p_min ≥ alpha`` no data could be significant (n = 4 without ties: 2/4! = 0.083), and a
  verdict must say "too short to test", never "stable".

Everything runs on a units × years matrix at once (:func:`mann_kendall_many`); the single-series
:func:`mann_kendall` is a one-row call of it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError

__all__ = [
    "mann_kendall",
    "mann_kendall_many",
    "s_distribution",
    "bh",
    "unit_trends",
    "system",
    "discrimination",
    "read_trends",
    "read_system",
    "EXACT_MAX_N",
    "SYSTEM_DECIMALS",
    "VALUE_DECIMALS",
    "min_testable_n",
]

#: Series up to this length get the exact Mann–Kendall p-value.
EXACT_MAX_N = 10

#: Precision at which the system series are shown (report tables: points to 2 decimals, shares
#: to 3) and therefore tested.
SYSTEM_DECIMALS = {"sd": 2, "iqr": 2, "cut_gap": 2, "mean": 2, "median": 2, "cut": 2, "share_ceiling": 3, "cv": 3}

#: Precision at which the per-unit series of :func:`unit_trends` are tested.
VALUE_DECIMALS = {"pct_of_max": 2, "z": 2, "percentile": 2, "rank": 0}


def min_testable_n(alpha: float = 0.05) -> int:
    """Smallest series length whose exact Mann–Kendall test can reach p < ``alpha`` (no ties):
    the smallest n with 2/n! < alpha (5 at 0.05: 2/4! = 0.083, 2/5! = 0.017)."""
    n, f = 2, 2
    while 2.0 / f >= alpha:
        n += 1
        f *= n
    return n


# ---------------------------------------------------------------------------------------------
# exact null distribution of S
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _qbinom(n: int, k: int) -> tuple[int, ...]:
    """Coefficients of the Gaussian (q-)binomial [n choose k]_q (q-Pascal recurrence)."""
    if k < 0 or k > n:
        return (0,)
    if k == 0 or k == n:
        return (1,)
    a = np.array(_qbinom(n - 1, k - 1), dtype=np.int64)
    b = np.array(_qbinom(n - 1, k), dtype=np.int64)
    out = np.zeros(max(len(a), len(b) + k), dtype=np.int64)
    out[: len(a)] += a
    out[k : k + len(b)] += b
    return tuple(int(v) for v in out)


@lru_cache(maxsize=None)
def _inversions(tie_sizes: tuple[int, ...]) -> np.ndarray:
    """Number of distinct orderings of a multiset with k strict inversions, k = 0, 1, …

    The q-multinomial coefficient [n; m1, m2, …]_q as a product of q-binomials.
    """
    poly = np.array([1], dtype=np.int64)
    total = 0
    for m in tie_sizes:
        total += m
        poly = np.convolve(poly, np.array(_qbinom(total, m), dtype=np.int64))
    return poly


def s_distribution(n: int, ties: tuple[int, ...] | list[int] | None = None) -> pd.DataFrame:
    """Exact null distribution of the Mann–Kendall S for ``n`` values with the given ties.

    Parameters
    ----------
    n : int
        Number of observations.
    ties : sequence of int, optional
        Sizes of the groups of equal values (e.g. ``(2, 1, 1)`` for one tied pair among four
        values); default: no ties.

    Returns
    -------
    DataFrame
        ``s`` (every attainable value of S, ascending), ``count`` (number of distinct orderings
        giving it), ``prob`` (count / number of orderings).
    """
    sizes = tuple(int(t) for t in (ties if ties else [1] * n))
    if sum(sizes) != n or min(sizes) < 1:
        raise PipelineError(f"s_distribution: tie sizes {sizes} do not add up to n={n}")
    counts = _inversions(tuple(sorted(sizes)))
    d = n * (n - 1) // 2
    ty = sum(t * (t - 1) // 2 for t in sizes)
    k = np.arange(len(counts))
    s = d - ty - 2 * k
    out = pd.DataFrame({"s": s, "count": counts}).loc[lambda f: f["count"] > 0]
    out = out.sort_values("s").reset_index(drop=True)
    out["prob"] = out["count"] / out["count"].sum()
    return out


# ---------------------------------------------------------------------------------------------
# the vectorised core
# ---------------------------------------------------------------------------------------------
def mann_kendall_many(
    values,
    x=None,
    alpha: float = 0.05,
    exact_max_n: int = EXACT_MAX_N,
    continuity: bool = True,
    decimals=None,
) -> pd.DataFrame:
    """Mann–Kendall test and Theil–Sen slope for every row of a series × time matrix.

    Parameters
    ----------
    values : array_like, shape (m, n)
        One series per row; NaN marks a missing observation (left out of that row).
    x : array_like, shape (n,), optional
        Time of each column (e.g. years), strictly increasing; default ``0, 1, …, n-1``.
    alpha : float
        1 − confidence level of the Theil–Sen interval (0.05 → 95 %).
    exact_max_n : int
        Rows with at most this many observations get the exact p-value.
    continuity : bool
        Continuity correction in the normal approximation.
    decimals : int or sequence of int, optional
        Round the values (all rows, or one precision per row) to the precision they are reported
        at before testing, so that values shown alike are ties (module docstring).

    Returns
    -------
    DataFrame
        One row per input row: ``n`` (observations used), ``s`` (Mann–Kendall S), ``var_s``
        (tie-corrected variance of S under H0), ``z`` (normal score), ``tau`` (Kendall τ_b),
        ``p`` (two-sided p-value), ``p_min`` (smallest attainable p for this n and tie pattern),
        ``p_method`` (``exact`` / ``normal``), ``slope`` (Theil–Sen,
        units of value per unit of x), ``slope_low`` / ``slope_high`` (Sen's interval).
        Rows with fewer than 2 observations get NaN.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim == 1:
        y = y[None, :]
    m, n = y.shape
    if decimals is not None:
        dec = np.broadcast_to(np.asarray(decimals, dtype=int).reshape(-1), (m,)) if np.ndim(decimals) else np.full(m, int(decimals))
        y = np.vstack([np.round(y[r], int(dec[r])) for r in range(m)]) if np.unique(dec).size > 1 else np.round(y, int(dec[0]))
    x = np.arange(n, dtype=float) if x is None else np.asarray(x, dtype=float)
    if x.shape != (n,):
        raise PipelineError(f"mann_kendall: {n} values per series but {x.size} time points")
    if n > 1 and np.any(np.diff(x) <= 0):
        raise PipelineError("mann_kendall: time points must be strictly increasing")
    valid = ~np.isnan(y)
    nv = valid.sum(axis=1)
    i, j = np.triu_indices(n, 1)
    pair_ok = valid[:, i] & valid[:, j]
    dy = np.where(pair_ok, y[:, j] - y[:, i], 0.0)
    s = np.sign(dy).sum(axis=1).astype(np.int64)

    # ties: c = size of the tie group each valid value belongs to
    eq = (y[:, :, None] == y[:, None, :]) & valid[:, :, None] & valid[:, None, :]
    c = eq.sum(axis=2)
    cv = np.where(valid, c, 0).astype(float)
    tie_var = np.where(valid, (cv - 1) * (2 * cv + 5), 0.0).sum(axis=1)  # Σ_t t(t-1)(2t+5)
    ty = np.where(valid, (cv - 1) / 2.0, 0.0).sum(axis=1)  # tied pairs
    nvf = nv.astype(float)
    var_s = (nvf * (nvf - 1) * (2 * nvf + 5) - tie_var) / 18.0
    d = nvf * (nvf - 1) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.clip(s / np.sqrt(d * (d - ty)), -1.0, 1.0)
        num = s - np.sign(s) if continuity else s.astype(float)
        z = np.where(var_s > 0, num / np.sqrt(var_s), 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    smax = d - ty  # largest attainable |S| (every untied pair concordant)
    with np.errstate(divide="ignore", invalid="ignore"):
        zmax = np.where(var_s > 0, (smax - np.where(continuity, np.sign(smax), 0)) / np.sqrt(var_s), 0.0)
    p_min = 2.0 * stats.norm.sf(np.abs(zmax))
    method = np.where(nv <= exact_max_n, "exact", "normal").astype(object)

    # exact p: one null distribution per distinct (n, tie pattern), looked up for its rows
    exact_rows = (nv <= exact_max_n) & (nv >= 2)
    if exact_rows.any():
        pattern = np.sort(np.where(valid, c, 0), axis=1)[exact_rows]
        uniq, inv = np.unique(pattern, axis=0, return_inverse=True)
        inv = inv.ravel()
        idx = np.flatnonzero(exact_rows)
        for u, pat in enumerate(uniq):
            cs = pat[pat > 0]
            vals, cnt = np.unique(cs, return_counts=True)
            sizes = tuple(int(v) for v, k in zip(vals, cnt) for _ in range(k // v))
            dist = s_distribution(int(len(cs)), sizes)
            rows = idx[inv == u]
            # tail P(|S| ≥ v) per attainable |S|, looked up (not a matrix product, whose float rounding
            # would depend on how many rows are tested together: one series, one p-value, bit for bit)
            absdist = np.abs(dist["s"].to_numpy())
            vals, inv_v = np.unique(absdist, return_inverse=True)
            mass = np.bincount(inv_v.ravel(), weights=dist["count"].to_numpy(dtype=float))
            tail = np.cumsum(mass[::-1])[::-1] / mass.sum()
            p[rows] = tail[np.searchsorted(vals, np.abs(s[rows]))]
            p_min[rows] = tail[-1]
    p = np.minimum(p, 1.0)
    p_min = np.minimum(p_min, 1.0)

    # Theil–Sen slope and Sen's interval (order statistics of the pairwise slopes)
    dx = x[j] - x[i]
    slopes = np.where(pair_ok, dy / dx, np.nan)
    slopes.sort(axis=1)  # NaN last
    nt = pair_ok.sum(axis=1)
    with np.errstate(invalid="ignore"):
        med = np.nanmedian(np.where(nt[:, None] > 0, slopes, 0.0), axis=1) if slopes.shape[1] else np.zeros(m)
    zc = stats.norm.ppf(alpha / 2.0)  # negative
    sigma = np.sqrt(np.maximum(var_s, 0.0))
    ru = np.minimum(np.round((nt - zc * sigma) / 2.0).astype(int), nt - 1)
    rl = np.maximum(np.round((nt + zc * sigma) / 2.0).astype(int) - 1, 0)
    if slopes.shape[1]:
        lo = np.take_along_axis(slopes, np.clip(rl, 0, slopes.shape[1] - 1)[:, None], axis=1)[:, 0]
        hi = np.take_along_axis(slopes, np.clip(ru, 0, slopes.shape[1] - 1)[:, None], axis=1)[:, 0]
    else:
        lo = hi = np.full(m, np.nan)

    bad = nv < 2
    out = pd.DataFrame(
        {
            "n": nv.astype(np.int64),
            "s": s,
            "var_s": var_s,
            "z": z,
            "tau": tau,
            "p": p,
            "p_min": p_min,
            "p_method": method,
            "slope": med,
            "slope_low": lo,
            "slope_high": hi,
        }
    )
    if bad.any():
        cols = ["var_s", "z", "tau", "p", "p_min", "slope", "slope_low", "slope_high"]
        out.loc[bad, cols] = np.nan
        out.loc[bad, "p_method"] = "none"
    return out


def mann_kendall(y, x=None, alpha: float = 0.05, exact_max_n: int = EXACT_MAX_N, continuity: bool = True,
                 decimals: int | None = None) -> dict:
    """Mann–Kendall trend test and Theil–Sen slope of one series.

    Parameters
    ----------
    y : array_like
        Values in time order (NaN values are left out).
    x : array_like, optional
        Times (default ``0, 1, …``); the slope is per unit of ``x``.
    alpha, exact_max_n, continuity, decimals
        See :func:`mann_kendall_many`.

    Returns
    -------
    dict
        ``s``, ``tau``, ``p``, ``slope``, ``slope_low``, ``slope_high``, plus ``n``, ``var_s``,
        ``z``, ``p_method`` — see :func:`mann_kendall_many` for their meaning.

    Examples
    --------
    >>> r = mann_kendall([1, 2, 3, 4])
    >>> r["s"], round(r["p"], 4)   # exact: 2 of 4! orderings have |S| = 6
    (6, 0.0833)
    """
    arr = np.asarray(y, dtype=float).ravel()
    row = mann_kendall_many(arr[None, :], x, alpha=alpha, exact_max_n=exact_max_n, continuity=continuity,
                            decimals=decimals).iloc[0]
    out = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
    out["n"] = int(out["n"])
    out["s"] = int(out["s"])
    return out


def bh(p) -> np.ndarray:
    """Benjamini–Hochberg (1995) adjusted p-values; NaN stays NaN and is not counted.

    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\, p_{(j)}/j)` over the ``m`` non-missing p-values
    (the same as ``scipy.stats.false_discovery_control(p, method="bh")``).
    """
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    pv = p[ok]
    mm = pv.size
    if mm == 0:
        return out
    order = np.argsort(pv)
    scaled = pv[order] * mm / np.arange(1, mm + 1)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    res = np.empty(mm)
    res[order] = np.minimum(q, 1.0)
    out[ok] = res
    return out


# ---------------------------------------------------------------------------------------------
# per unit and system level
# ---------------------------------------------------------------------------------------------
def unit_trends(
    vertical: pd.DataFrame,
    value: str = "pct_of_max",
    by: str = "series_id",
    years: tuple[int, int] | None = None,
    alpha: float = 0.05,
    min_years: int = 3,
    decimals: int | None = None,
) -> pd.DataFrame:
    """Per-unit Theil–Sen slope and Mann–Kendall test, with Benjamini–Hochberg across units.

    Parameters
    ----------
    vertical : DataFrame
        Output of :func:`pipeline.compare.vertical` (or any frame with ``year``, ``by`` and
        ``value``).
    value : str
        Column to test: ``pct_of_max`` (default), ``z``, ``percentile`` or ``rank``.
    by : str
        Series key; ``series_id`` follows renamed units through ``successor_id`` (merged units
        start a new series, see :func:`pipeline.compare.lineage`).
    years : (first, last), optional
        Restrict to this span.
    alpha : float
        Significance level for ``direction`` and 1 − confidence of the slope interval.
    min_years : int
        Series with fewer observations get no test (NaN).
    decimals : int, optional
        Precision of the test (default :data:`VALUE_DECIMALS` of ``value``; module docstring).

    Returns
    -------
    DataFrame
        One row per series: ``<by>``, ``first_year``, ``last_year``, the columns of
        :func:`mann_kendall_many` (``n``, ``s``, ``var_s``, ``z``, ``tau``, ``p``, ``p_method``,
        ``slope`` (per year), ``slope_low``, ``slope_high``), ``q`` (BH-adjusted p across the
        tested series) and ``direction`` (``up`` / ``down`` when q < alpha, else ``none``).
    """
    v = vertical
    if years is not None:
        v = v.loc[v["year"].between(years[0], years[1])]
    if v.empty:
        raise PipelineError("unit_trends: no rows in the chosen years")
    wide = v.pivot_table(index=by, columns="year", values=value, aggfunc="first").sort_index(axis=1)
    yrs = wide.columns.to_numpy(dtype=float)
    dec = VALUE_DECIMALS.get(value) if decimals is None else decimals
    res = mann_kendall_many(wide.to_numpy(dtype=float), yrs, alpha=alpha, decimals=dec)
    res.insert(0, by, wide.index.to_numpy())
    obs = wide.notna().to_numpy()
    res.insert(1, "first_year", np.where(obs.any(1), yrs[np.argmax(obs, axis=1)], np.nan))
    res.insert(2, "last_year", np.where(obs.any(1), yrs[obs.shape[1] - 1 - np.argmax(obs[:, ::-1], axis=1)], np.nan))
    few = res["n"] < min_years
    res.loc[few, ["var_s", "z", "tau", "p", "p_min", "slope", "slope_low", "slope_high"]] = np.nan
    res.loc[few, "p_method"] = "none"
    res["q"] = bh(res["p"].to_numpy())
    sig = res["q"] < alpha
    res["direction"] = np.where(sig & (res["s"] > 0), "up", np.where(sig & (res["s"] < 0), "down", "none"))
    return res.sort_values(["q", by], na_position="last", kind="stable").reset_index(drop=True)


def system(totals: pd.DataFrame, top_n: int = config.TOP_N, ceiling: float = 95.0) -> pd.DataFrame:
    """System-level statistics by year: level, dispersion, ceiling share and the winning cut.

    Parameters
    ----------
    totals : DataFrame
        The ``totals`` table (``year``, ``total``, ``pct_of_max``, ``rank``).
    top_n : int
        Size of the winner group.
    ceiling : float
        Units with ``pct_of_max`` ≥ this are "at the ceiling" (default 95 % of max).

    Returns
    -------
    DataFrame
        One row per year: ``year``, ``n`` (units), ``mean``, ``sd`` (ddof=1), ``q1``, ``median``,
        ``q3``, ``iqr`` (all of ``pct_of_max``), ``cv`` (sd / mean), ``gini``, ``share_ceiling``
        (share of units ≥ ``ceiling``), ``cut`` (``pct_of_max`` of the lowest-ranked winner — the
        score needed to be among the top ``top_n``), ``cut_gap`` (cut − median: how far the
        winners stand above the typical unit), ``top`` (best ``pct_of_max``).
    """
    from pipeline.compare import describe

    d = describe(totals, value="pct_of_max", by="year")
    t = totals.assign(_win=totals["rank"] <= top_n)
    cut = t.loc[t["_win"]].groupby("year")["pct_of_max"].min().rename("cut")
    share = t.assign(_c=t["pct_of_max"] >= ceiling).groupby("year")["_c"].mean().rename("share_ceiling")
    out = d.merge(share.reset_index(), on="year").merge(cut.reset_index(), on="year", how="left")
    out["cut_gap"] = out["cut"] - out["median"]
    out = out.rename(columns={"max": "top"})
    cols = ["year", "n", "mean", "sd", "q1", "median", "q3", "iqr", "cv", "gini", "share_ceiling", "cut", "cut_gap", "top"]
    return out[cols].sort_values("year").reset_index(drop=True)


def discrimination(sys_by_year: pd.DataFrame, alpha: float = 0.05) -> tuple[pd.DataFrame, str]:
    """Is the assessment losing its power to discriminate between units?

    Tests the yearly series of :func:`system` for a monotone trend (Mann–Kendall, exact for
    ≤ 10 years; Theil–Sen slope per year) in ``sd``, ``iqr``, ``share_ceiling``, ``cut_gap`` and
    ``mean``.

    Verdict rule (stated so that a reader can check it):

    * ``losing`` — dispersion shrinks (``sd`` or ``iqr`` with a significant downward trend) or
      the ceiling share grows significantly;
    * ``gaining`` — dispersion grows significantly and the ceiling share does not;
    * ``stable`` — none of these trends is significant at ``alpha`` although significance was
      reachable;
    * ``too_short`` — significance is out of reach for every one of ``sd``, ``iqr`` and
      ``share_ceiling`` (``p_min`` ≥ ``alpha``: e.g. 4 years, whose smallest exact p is 0.083):
      "not enough years to test", never "stable".

    The series are tested at their reported precision (:data:`SYSTEM_DECIMALS`).

    Returns
    -------
    (DataFrame, str)
        Per metric: ``metric``, ``first`` / ``last`` (values in the first and last year),
        ``n``, ``s``, ``tau``, ``p``, ``p_min``, ``p_method``, ``slope``, ``slope_low``, ``slope_high``,
        ``significant`` (p < alpha), ``direction`` (up / down / none); and the verdict key.
    """
    s = sys_by_year.sort_values("year")
    metrics = ["sd", "iqr", "share_ceiling", "cut_gap", "mean"]
    res = mann_kendall_many(s[metrics].to_numpy(dtype=float).T, s["year"].to_numpy(dtype=float), alpha=alpha,
                            decimals=[SYSTEM_DECIMALS[k] for k in metrics])
    res.insert(0, "metric", metrics)
    res.insert(1, "first", s[metrics].iloc[0].to_numpy() if len(s) else np.nan)
    res.insert(2, "last", s[metrics].iloc[-1].to_numpy() if len(s) else np.nan)
    res["significant"] = res["p"] < alpha
    res["direction"] = np.where(res["significant"] & (res["s"] > 0), "up", np.where(res["significant"] & (res["s"] < 0), "down", "none"))
    d = res.set_index("metric")["direction"]
    reach = res.set_index("metric")["p_min"].reindex(["sd", "iqr", "share_ceiling"])
    if len(s) < 2 or not (reach < alpha).any():
        verdict = "too_short"
    elif d["sd"] == "down" or d["iqr"] == "down" or d["share_ceiling"] == "up":
        verdict = "losing"
    elif (d["sd"] == "up" or d["iqr"] == "up") and d["share_ceiling"] != "up":
        verdict = "gaining"
    else:
        verdict = "stable"
    return res, verdict


# ---------------------------------------------------------------------------------------------
# sentences of reading
# ---------------------------------------------------------------------------------------------
def read_trends(trends: pd.DataFrame, alpha: float = 0.05) -> str:
    """One sentence counting units with a significant upward / downward trend (:func:`unit_trends`)."""
    from pipeline.i18n import t

    tested = trends.loc[trends["p"].notna()]
    return t("cmp_read_trends", n=len(tested), alpha=alpha, n_up=int((tested["direction"] == "up").sum()), n_down=int((tested["direction"] == "down").sum()))


def read_system(sys_by_year: pd.DataFrame, tests: pd.DataFrame, verdict: str) -> str:
    """One sentence on the system trend and the verdict of :func:`discrimination`."""
    from pipeline.i18n import t

    s = sys_by_year.sort_values("year")
    if len(s) < 2:
        return t("rep_ov_system_one")
    if verdict == "too_short":
        return t("cmp_read_system_short", n=len(s), n_min=min_testable_n())
    m = tests.set_index("metric")
    return t(
        "cmp_read_system",
        first_year=int(s["year"].iloc[0]),
        last_year=int(s["year"].iloc[-1]),
        mean0=float(s["mean"].iloc[0]),
        mean1=float(s["mean"].iloc[-1]),
        sd0=float(s["sd"].iloc[0]),
        sd1=float(s["sd"].iloc[-1]),
        sd_dir=t(f"cmp_dir_{m.loc['sd', 'direction']}"),
        sd_p=float(m.loc["sd", "p"]),
        c0=float(s["share_ceiling"].iloc[0]),
        c1=float(s["share_ceiling"].iloc[-1]),
        c_dir=t(f"cmp_dir_{m.loc['share_ceiling', 'direction']}"),
        c_p=float(m.loc["share_ceiling", "p"]),
        verdict=t(f"cmp_verdict_{verdict}"),
    )
