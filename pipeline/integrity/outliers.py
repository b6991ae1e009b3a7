"""Distribution checks with fitted nulls: low variance (full marks), year-on-year jumps, self-assessment gaps.

The null is a Student-t fitted to all units and years (:func:`heavy_tail_fit`), never a normal
curve on a modified z.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.integrity.arithmetic import shown_decimals
from pipeline.integrity.base import (
    ALPHA, ALPHA_HIGH, MATERIALITY, _bh, _empty, _ev, _frame, _severity_from_q, modified_z,
)
from pipeline.integrity.digits import _points_items


#: Half-width, in robust standard deviations, of the window the heavy-tailed null is fitted on.
FIT_WINDOW = 6.0


def heavy_tail_fit(x, res: float = 0.0, window: float = FIT_WINDOW, side: str = "two") -> tuple[float, float, float]:
    """Student-t location-scale fitted by maximum likelihood to the bulk of ``x``.

    The null model of the robust outlier checks: fitted to the data themselves (all units and
    years pooled), its tails are as heavy as the data's, so honest heavy-tailed changes are not
    mistaken for outliers (a normal curve would be). So that a few anomalies cannot fatten the
    fitted tails and hide themselves, the likelihood is that of the t *truncated* to the window
    ``median ± window × robust sd`` (values outside the window are left out and the density is
    renormalised to the window — maximum likelihood for truncated data), maximised over
    ``(log df, loc, log scale)`` by Nelder–Mead. The robust sd is MAD / 0.6745, or
    1.2533 × the mean absolute deviation when the MAD is 0; the scale is floored at ``res``
    (the recording resolution: a deviation of one recording unit is never evidence) and at a
    quarter of the robust sd, which also handles MAD = 0. ``df`` is kept within [1, 200].

    For a one-sided test (``side="greater"`` or ``"less"``) the null is fitted to the tested
    half only: the values on that side of the median, reflected about it (a symmetric sample
    whose tails are those of the tested side), with the location fixed at the median. A skewed
    statistic (e.g. a minimum of two changes, or a spread near the ceiling) then gets the tail it
    actually has on the tested side, not the other side's.

    Returns
    -------
    (df, loc, scale)
        NaNs when fewer than 10 finite values.
    """
    from scipy import optimize

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 10:
        return (np.nan, np.nan, np.nan)
    med = float(np.median(x))
    if side in ("greater", "less"):
        half = x[x >= med] if side == "greater" else x[x <= med]
        x = np.r_[half, 2 * med - half]
    mad = float(np.median(np.abs(x - med)))
    robust = mad / 0.6745 if mad > 0 else 1.253314 * float(np.mean(np.abs(x - med)))
    floor = max(res, 0.25 * robust, 1e-12)
    robust = max(robust, floor)
    lo, hi = med - window * robust, med + window * robust
    xi = x[(x >= lo) & (x <= hi)]

    def nll(th):
        df = float(np.clip(np.exp(th[0]), 1.0, 200.0))
        loc, sc = th[1], max(float(np.exp(th[2])), floor)
        mass = stats.t.cdf((hi - loc) / sc, df) - stats.t.cdf((lo - loc) / sc, df)
        return -(stats.t.logpdf((xi - loc) / sc, df).sum() - xi.size * np.log(sc) - xi.size * np.log(max(mass, 1e-300)))

    with np.errstate(all="ignore"):
        r = optimize.minimize(nll, [np.log(8.0), med, np.log(robust)], method="Nelder-Mead",
                              options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    df, loc, sc = float(np.clip(np.exp(r.x[0]), 1.0, 200.0)), float(r.x[1]), float(np.exp(r.x[2]))
    if side in ("greater", "less"):
        loc = med
    if not (np.isfinite(df) and np.isfinite(loc) and np.isfinite(sc)):
        df, loc, sc = 1.0, med, robust
    return df, loc, float(max(sc, floor))


def _t_p(x, fit, side: str) -> np.ndarray:
    df, loc, sc = fit
    z = (np.asarray(x, dtype=float) - loc) / sc
    if side == "two":
        return 2 * stats.t.sf(np.abs(z), df)
    if side == "greater":
        return stats.t.sf(z, df)
    return stats.t.cdf(z, df)


def _centred(v: pd.Series, by: pd.Series) -> pd.Series:
    """``v`` minus its median within each group (year): pooled across years on a common centre."""
    return v - v.groupby(by).transform("median")


def full_marks(scores: pd.DataFrame, items: pd.DataFrame, all_tests: bool = False) -> pd.DataFrame:
    """Units at full marks on every applicable item, or with implausibly low spread.

    * ``full_marks`` (**medium**): every applicable (``ok``) annual item, at least 2, at its
      maximum. Deterministic, but neither an arithmetic contradiction nor a tested improbability
      (an excellent unit can earn it honestly, and does in heavy-tailed honest worlds), so by the
      severity rules it is medium: a pattern to verify.
    * ``low_variance``: the unit's spread across its items, ``s = sd(points / max)``, is
      implausibly small *for its level*. Spread shrinks near the ceiling, so the statistic is the
      residual of ``log s`` from a quadratic least-squares fit on the unit's mean share
      ``mean(points / max)`` over all unit-years, centred on its year's median. **Null**: that
      residual follows a Student-t fitted by ML to all unit-years (:func:`heavy_tail_fit`, lower
      half; resolution 0.01); one-sided lower-tail p; BH over all unit-years (in
      :func:`check_all`, the year-wide family of every unit-level test): q < 0.01 → **high**,
      q < 0.05 → **medium**. Units at full marks everywhere are left out (counted once, by
      ``full_marks``).

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = share of items at full marks (``full_marks``) or the modified z
        of the spread within its year (``low_variance``); ``threshold`` = BH q.
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok")]
    if s.empty:
        return _empty()
    x = s["points"].astype(float) / s["max_points"]
    s = s.assign(x=x, full=(s["points"].astype(float) >= s["max_points"] - 1e-9))
    g = s.groupby(["year", "unit_id"]).agg(n=("x", "size"), share_full=("full", "mean"), sd=("x", "std"),
                                           mean=("x", "mean")).reset_index()
    out = []
    for r in g.loc[(g["share_full"] >= 1.0) & (g["n"] >= 2)].itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "full_marks", "statistic": 1.0, "threshold": 1.0,
                    "severity": "medium", "ev": _ev("full_marks", n=r.n)})
    rest = g.loc[(g["share_full"] < 1.0) & (g["n"] >= 2)].copy()
    if len(rest) >= 10:
        ls = np.log(np.maximum(rest["sd"].fillna(0.0).to_numpy(), 1e-3))
        m = rest["mean"].to_numpy(float)
        X = np.column_stack([np.ones_like(m), m, m * m])
        resid = ls - X @ np.linalg.lstsq(X, ls, rcond=None)[0]
        c = _centred(pd.Series(resid, index=rest.index), rest["year"])
        rest["mz"] = rest.groupby("year")["sd"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
        rest["p"] = _t_p(c, heavy_tail_fit(c, res=0.01, side="less"), "less")
        rest["q"] = _bh(rest["p"].to_numpy())
        sev = _severity_from_q(rest["q"].to_numpy())
        rest["sev"] = sev
        for r in (rest if all_tests else rest.loc[sev != ""]).itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "low_variance", "statistic": r.mz,
                        "p_value": r.p, "threshold": r.q, "severity": r.sev,
                        "ev": _ev("low_variance", n=r.n, sd=r.sd, mz=r.mz, share=100 * r.share_full, q=r.q)})
    return _frame(out)


def _standardised(totals: pd.DataFrame, col: str = "base") -> pd.DataFrame:
    t = totals[["year", "unit_id", col]].copy()
    g = t.groupby("year")[col]
    t["z"] = (t[col] - g.transform("mean")) / g.transform("std")
    return t


def yoy_jumps(totals: pd.DataFrame, col: str = "base", all_tests: bool = False) -> pd.DataFrame:
    """Year-over-year jumps of a unit's standing, and jumps followed by a reversal.

    Item sets and maxima change between years, so a unit's standing is compared through its
    within-year z-score of ``col`` (default the pre-adjustment ``base``); Δz is its change
    between consecutive years.

    **Null**: Δz follows a Student-t fitted by ML to all unit × year-pair changes of the data
    (:func:`heavy_tail_fit`) — honest changes have heavier tails than a normal curve, and the
    fitted df follows them. Two-sided p.

    * ``yoy_jump``: BH over all changes (in :func:`check_all`, the year-wide family of every
      unit-level test), q < 0.05 → **medium**, reported in the later year. A single jump, however
      large, can be genuine (a new secretary, a reorganisation), so it is never **high**.
    * ``jump_reversal``: an up-and-back spike, ``s_t = min(z_t − z_{t−1}, z_t − z_{t+1})``, the
      rise into year t that is also given back the year after (a permanent step has ``s ≈ 0``).
      **Null**: ``s`` follows a Student-t fitted by ML to all unit-years with both neighbours
      (:func:`heavy_tail_fit`, fitted to the upper half: ``s`` is a minimum, so its lower tail is
      the longer one and says nothing about the upper); one-sided upper p. BH over those unit-years (in :func:`check_all`, the year-wide family):
      q < 0.01 → **high**, q < 0.05 → **medium**. Reported in t; ``statistic`` = the modified z
      of ``s``.

    There is no bypass of the multiple-testing control (no fixed modified-z bound).

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = modified z of the change (or the smaller of the two),
        ``p_value`` = raw p, ``threshold`` = BH q.
    """
    if totals is None or totals.empty:
        return _empty()
    t = _standardised(totals, col).sort_values(["unit_id", "year"])
    t = t.assign(prev=t.groupby("unit_id")["year"].shift(1), zprev=t.groupby("unit_id")["z"].shift(1))
    out = []
    ch = t.loc[t["prev"] == t["year"] - 1].copy()
    if len(ch) >= 10:
        ch["d"] = ch["z"] - ch["zprev"]
        ch["mz"] = modified_z(ch["d"].to_numpy())
        ch["p"] = _t_p(ch["d"].to_numpy(), heavy_tail_fit(ch["d"].to_numpy()), "two")
        ch["q"] = _bh(ch["p"].to_numpy())
        ch["sev"] = np.where(ch["q"] < ALPHA, "medium", "")
        for r in (ch if all_tests else ch.loc[ch["sev"] != ""]).itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "yoy_jump", "statistic": r.mz, "p_value": r.p,
                        "threshold": r.q, "severity": r.sev,
                        "ev": _ev("yoy_jump", z0=r.zprev, y0=int(r.prev), z1=r.z, d=r.d, mz=r.mz, q=r.q)})
        ch = ch.sort_values(["unit_id", "year"])
        sp = ch.assign(mz2=ch.groupby("unit_id")["mz"].shift(-1), zn=ch.groupby("unit_id")["z"].shift(-1),
                       y2=ch.groupby("unit_id")["year"].shift(-1))
        sp = sp.loc[(sp["y2"] == sp["year"] + 1)].copy()
        if len(sp) >= 10:
            sp["spike"] = np.minimum(sp["z"] - sp["zprev"], sp["z"] - sp["zn"])
            sp["stat"] = modified_z(sp["spike"].to_numpy())
            sp["pr"] = _t_p(sp["spike"].to_numpy(), heavy_tail_fit(sp["spike"].to_numpy(), side="greater"), "greater")
            sp["qr"] = _bh(sp["pr"].to_numpy())
            sp["sev"] = _severity_from_q(sp["qr"].to_numpy())
            for r in (sp if all_tests else sp.loc[sp["sev"] != ""]).itertuples():
                out.append({"year": r.year, "unit_id": r.unit_id, "check": "jump_reversal", "statistic": r.stat,
                            "p_value": r.pr, "threshold": r.qr, "severity": r.sev,
                            "ev": _ev("jump_reversal", z0=r.zprev, z1=r.z, y=int(r.year), mz1=r.mz, mz2=r.mz2, q=r.qr)})
    return _frame(out)


_SELF_COLS = ("self_total", "self_score", "self_assessed", "自评分")


def adjustment_gaps(adjustments: pd.DataFrame, totals: pd.DataFrame | None = None,
                    materiality: float = MATERIALITY, all_tests: bool = False) -> pd.DataFrame:
    """Self-reported vs verified (述职评议): units whose claim the verification cut most.

    If the adjustments table carries the self-assessed total (column ``self_total``; also
    accepted: ``self_score``, ``self_assessed``, ``自评分``), the gap is
    ``self_total − verified total`` with verified total = ``base + adjustment`` from
    ``totals``; otherwise the gap is ``−adjustment`` (points taken off by the verification).

    **Null**: the gap, centred on its year's median (honest optimism differs between years),
    follows a Student-t fitted by ML to all unit-years of the data (:func:`heavy_tail_fit`, upper
    half, scale floored at the recording resolution of the gaps, 10^-d of the shown decimals; this
    also handles MAD = 0). One-sided p (over-claiming). BH over all unit-years (in
    :func:`check_all`, the year-wide family of every unit-level test): q < 0.05 → **medium**;
    **high** needs q < 0.01 *and* a material gap ``gap ≥ materiality`` (default
    :data:`MATERIALITY` = 5 points, 5 % of the scale — the usual benchmark percentage for
    materiality in auditing, ISA 320).

    Returns
    -------
    DataFrame
        Findings ``adjustment_gap``; ``statistic`` = the gap in points, ``p_value`` = raw p,
        ``threshold`` = BH q.
    """
    if adjustments is None or adjustments.empty:
        return _empty()
    a = adjustments.copy()
    selfcol = next((c for c in _SELF_COLS if c in a.columns), None)
    a["adjustment"] = pd.to_numeric(a["adjustment"], errors="coerce")
    a = a.groupby(["year", "unit_id"], as_index=False).agg(
        adjustment=("adjustment", "sum"), **({"self_total": (selfcol, "last")} if selfcol else {}))
    if selfcol and totals is not None and not totals.empty:
        a = a.merge(totals[["year", "unit_id", "base"]], on=["year", "unit_id"], how="left")
        a["verified"] = a["base"] + a["adjustment"]
        a["self_total"] = pd.to_numeric(a["self_total"], errors="coerce")
        a["gap"] = a["self_total"] - a["verified"]
        res = 10.0 ** -shown_decimals(a["self_total"], 2)
        what = "adjustment_gap_self"
    else:
        a["gap"] = -a["adjustment"]
        a["self_total"] = np.nan
        a["verified"] = np.nan
        res = 10.0 ** -shown_decimals(a["adjustment"], 2)
        what = "adjustment_gap_cut"
    a = a.loc[a["gap"].notna()].copy()
    if len(a) < 10:
        return _empty()
    a["mz"] = a.groupby("year")["gap"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
    c = _centred(a["gap"], a["year"])
    a["p"] = _t_p(c, heavy_tail_fit(c, res=res, side="greater"), "greater")
    a["q"] = _bh(a["p"].to_numpy())
    a["sev"] = np.where((a["q"] < ALPHA_HIGH) & (a["gap"] >= materiality), "high",
                        np.where(a["q"] < ALPHA, "medium", ""))
    out = []
    for r in (a if all_tests else a.loc[a["sev"] != ""]).itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "adjustment_gap", "statistic": r.gap, "p_value": r.p,
                    "threshold": r.q, "severity": r.sev,
                    "ev": _ev(what, self=r.self_total, verified=r.verified, gap=r.gap, mz=r.mz, q=r.q)})
    return _frame(out)
