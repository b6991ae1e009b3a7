"""Deterministic arithmetic checks: annual vs monthly sums, given 总分/名次 vs recomputed.

A discrepancy beyond the precision the workbook shows (:func:`shown_decimals`) is **high**:
honest arithmetic cannot produce it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import score
from pipeline.integrity.base import MONTHLY_TOL, _empty, _ev, _frame


def monthly_gaps(scores: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annual points minus the rounded sum of the monthly points, per year, unit and 计分 item.

    Returns
    -------
    DataFrame
        ``year``, ``unit_id``, ``item_id``, ``annual``, ``monthly_sum``, ``n_months``, ``gap``
        (annual − round(monthly_sum, 1)); empty when there are no monthly sheets.
    """
    cols = ["year", "unit_id", "item_id", "annual", "monthly_sum", "n_months", "gap"]
    per = scores["period"].astype(str)
    m = scores.loc[per != "Y"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    if items is not None and "method" in items:
        m = m.merge(items[["year", "item_id", "method"]], on=["year", "item_id"], how="left")
        m = m.loc[m["method"].fillna("points") == "points"]
    m = m.assign(p=m["points"].astype(float).where(m["status"] == "ok"))
    agg = m.groupby(["year", "unit_id", "item_id"]).agg(
        monthly_sum=("p", "sum"), n_months=("period", "nunique")).reset_index()
    a = scores.loc[(per == "Y") & (scores["status"] == "ok"), ["year", "unit_id", "item_id", "points"]]
    j = agg.merge(a.rename(columns={"points": "annual"}), on=["year", "unit_id", "item_id"], how="inner")
    j["annual"] = j["annual"].astype(float)
    j["gap"] = j["annual"] - np.round(j["monthly_sum"].to_numpy(), 1)
    return j[cols]


def monthly_vs_annual(scores: pd.DataFrame, items: pd.DataFrame | None = None, tol: float = MONTHLY_TOL) -> pd.DataFrame:
    """Annual summary vs the sum of the twelve monthly sheets (计分 items).

    By the contract the annual points equal the sum of the monthly points rounded to 0.1, so
    ``|annual − round(Σ months, 1)| > tol`` (default 0.05, half a rounding unit) is a **high**
    finding. A unit and item with monthly values for fewer than 12 months is a **low** finding
    (the annual figure cannot be verified).

    Returns
    -------
    DataFrame
        Findings: ``statistic`` = annual − monthly sum (points), ``threshold`` = ``tol``.
    """
    j = monthly_gaps(scores, items)
    if j.empty:
        return _empty()
    j = j.rename(columns={"annual": "points", "monthly_sum": "msum", "gap": "diff"})
    diff = j["diff"]
    bad = j.loc[diff.abs() > tol]
    out = [{
        "year": r.year, "unit_id": r.unit_id, "item": r.item_id, "check": "monthly_mismatch",
        "statistic": r.diff, "threshold": tol, "severity": "high",
        "ev": _ev("monthly_mismatch", annual=r.points, n=r.n_months, msum=r.msum, diff=r.diff),
    } for r in bad.itertuples()]
    inc = j.loc[(j["n_months"] < 12) & (diff.abs() <= tol)]
    out += [{
        "year": r.year, "unit_id": r.unit_id, "item": r.item_id, "check": "monthly_incomplete",
        "statistic": float(r.n_months), "threshold": 12.0, "severity": "low",
        "ev": _ev("monthly_incomplete", n=r.n_months),
    } for r in inc.itertuples()]
    return _frame(out)


def shown_decimals(values, max_decimals: int = 6) -> int:
    """Decimals at which ``values`` are shown: the smallest d with every value a multiple of 10^-d.

    NaN is ignored; an empty input gives ``max_decimals``. Example: 85.3, 90.0, 77.1 → 1.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return max_decimals
    for d in range(max_decimals + 1):
        r = v * 10.0 ** d
        if np.all(np.abs(r - np.round(r)) < 1e-6 * np.maximum(1.0, np.abs(r))):
            return d
    return max_decimals


def given_vs_recomputed(given: pd.DataFrame, scores: pd.DataFrame, items: pd.DataFrame,
                        tol: float | None = None) -> pd.DataFrame:
    """The workbook's own 总分 / 名次 vs the values recomputed from the items, at shown precision.

    The given 总分 is the pre-adjustment ``base`` of :func:`pipeline.score.totals` (default NA
    policy) as the workbook shows it. The precision is inferred per year
    (:func:`shown_decimals` of the given totals: 1 for 85.3, 2 for 85.27), and a given total is
    consistent when it lies within half a unit of that precision of the recomputed base,
    ``|given − base| ≤ 0.5 × 10^-d`` (any rounding rule, half-up or half-even, lands there).

    * ``given_total_mismatch`` (**high**): beyond that tolerance — honest arithmetic cannot
      produce it. A difference within rounding is not a finding.
    * ``given_rank_mismatch``: 名次 is consistent when it equals the competition rank of the
      shown totals (ties share the better rank), of the recomputed base rounded to the shown
      precision, or of the unrounded base. **high** when it is none of them (the rank itself was
      altered); **low** when it is the rank of the shown totals but not of the recomputed ones
      in a year with a total mismatch (the rank merely follows a falsified total).

    ``tol`` overrides the inferred half-unit tolerance (points).

    Returns
    -------
    DataFrame
        Findings: ``statistic`` = given − recomputed (points or rank places), ``threshold`` = the
        tolerance used.
    """
    if given is None or given.empty:
        return _empty()
    t = score.totals(scores, items)[["year", "unit_id", "base"]]
    g = given.merge(t, on=["year", "unit_id"], how="inner")
    g = g.assign(gt=pd.to_numeric(g["given_total"], errors="coerce"), gr=pd.to_numeric(g["given_rank"], errors="coerce"))
    out = []
    for year, gy in g.groupby("year"):  # loop over years only
        d = shown_decimals(gy["gt"])
        tl = 0.5 * 10.0 ** -d + 1e-6 if tol is None else float(tol)
        rec = np.round(gy["base"].to_numpy(float), d)
        diff = gy["gt"].to_numpy(float) - gy["base"].to_numpy(float)
        bad = np.abs(diff) > tl
        for i in np.flatnonzero(bad):
            out.append({"year": year, "unit_id": gy["unit_id"].iloc[i], "check": "given_total_mismatch",
                        "statistic": diff[i], "threshold": tl, "severity": "high",
                        "ev": _ev("given_total_mismatch", given=gy["gt"].iloc[i], recomputed=rec[i], diff=diff[i])})
        gr = gy["gr"].to_numpy(float)
        own = score.rank(gy["gt"].to_numpy(float), decimals=d)
        r_rec = score.rank(rec)
        r_raw = score.rank(gy["base"].to_numpy(float), decimals=6)
        okr = np.isnan(gr) | (gr == own) | (gr == r_rec) | (gr == r_raw)
        follows = ~np.isnan(gr) & (gr == own) & (gr != r_rec) & bad.any()
        for i in np.flatnonzero(~okr | follows):
            alt = not okr[i]
            out.append({"year": year, "unit_id": gy["unit_id"].iloc[i], "check": "given_rank_mismatch",
                        "statistic": gr[i] - r_rec[i], "threshold": 0.0, "severity": "high" if alt else "low",
                        "ev": _ev("given_rank_altered" if alt else "given_rank_follows", given=int(gr[i]),
                                  recomputed=int(r_rec[i]), own=int(own[i]))})
    return _frame(out)
