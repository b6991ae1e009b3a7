"""Bunching of totals just above the cut (top-N winners): :func:`cut_bunching`.

The counterfactual density below the cut is a local-polynomial fit of the empirical CDF
(:func:`lp_cdf_below`); the p-value comes from a smoothed bootstrap of the year's totals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.integrity.arithmetic import shown_decimals
from pipeline.integrity.base import ALPHA, ALPHA_HIGH, _bh, _empty, _ev, _frame


#: Widest window scanned above the first non-winner: 1 point (1 % of the 100-point scale).
BUNCH_WINDOW = 1.0
#: Width of the scanned windows' steps (points): windows (c', c' + 0.1 j], j = 1 … 10.
BUNCH_RES = 0.1
#: Bandwidth ``h`` of the local-polynomial fit of the empirical CDF below the cut (points).
BUNCH_BAND = 5.0
#: Degree of that local polynomial (1: local linear; the fitted density is its slope).
BUNCH_DEGREE = 1
#: Smoothed-bootstrap draws of :func:`cut_bunching` (p resolution 1/1000).
BUNCH_DRAWS = 999


def _ecdf_rows(s: np.ndarray) -> np.ndarray:
    """Empirical CDF ``#{x ≤ s_i} / n`` at each value of the row-sorted ``s`` (B, n), ties included."""
    B, n = s.shape
    off = (np.arange(B) * (np.ptp(s) + 10.0 if s.size else 1.0))[:, None]
    flat = (s - s.min() + off).ravel()
    idx = np.searchsorted(flat, flat + 1e-7, side="right") - np.repeat(np.arange(B) * n, n)
    return idx.reshape(B, n) / n


def lp_cdf_below(v, top_n: int, h: float = BUNCH_BAND, degree: int = BUNCH_DEGREE) -> tuple[np.ndarray, np.ndarray]:
    """Local-polynomial fit of the empirical CDF just below the first non-winner (CJM estimator).

    For each row of ``v`` (B, n) the cut ``c'`` is the highest total ranked below ``top_n``
    (ties at the cut are all winners). The empirical CDF ``F̂(x_i)`` of the totals
    ``c' − h ≤ x_i ≤ c'`` (the half-open side holding ``c'``; winners are not used) is regressed
    on ``1, (x_i − c'), …, (x_i − c')^degree`` by weighted least squares with the triangular
    kernel ``(1 − |x_i − c'| / h)₊`` — the local-polynomial density estimator of Cattaneo,
    Jansson & Ma (2020, *JASA* 115:1449): the first-order coefficient is the density at ``c'``
    from below, and ``n Σ_{j≥1} β_j w^j`` the count the density below predicts in
    ``(c', c' + w]``.

    Returns
    -------
    (beta (B, degree + 1), c' (B,))
        NaN rows where fewer than ``degree + 3`` totals lie in the band or the fit is singular.
    """
    v = np.atleast_2d(np.asarray(v, dtype=float))
    s = np.sort(v, axis=1)
    F = _ecdf_rows(s)
    desc = s[:, ::-1]
    cut = desc[:, top_n - 1:top_n]
    cp = np.where(desc < cut - 1e-9, desc, -np.inf).max(axis=1)
    d = s - cp[:, None]
    side = (d <= 1e-9) & (d >= -h)
    w = np.where(side, np.clip(1 - np.abs(d) / h, 0, None), 0.0)
    k = degree + 1
    m = np.stack([(w * d ** j).sum(1) for j in range(2 * k - 1)], -1)
    M = np.stack([m[:, i:i + k] for i in range(k)], 1)
    R = np.stack([(w * d ** j * F).sum(1) for j in range(k)], -1)
    beta = np.full((len(v), k), np.nan)
    ok = (side.sum(1) >= degree + 3) & np.isfinite(cp)
    if ok.any():
        det = np.linalg.det(M[ok])
        idx = np.flatnonzero(ok)[np.abs(det) > 1e-12]
        beta[idx] = np.linalg.solve(M[idx], R[idx][..., None])[..., 0]
    return beta, np.where(np.isfinite(cp), cp, np.nan)


def _bunch_scan(v: np.ndarray, top_n: int) -> tuple[np.ndarray, ...]:
    """Scan statistic of :func:`cut_bunching` for each row of ``v`` (B, n).

    Returns ``(min_j p_j, p (B, J), K (B, J), λ (B, J), c' (B,), f₋ (B,))``: ``K_j`` totals in
    the half-open window ``(c', c' + j × BUNCH_RES]``, ``λ_j`` the count the density below the
    cut predicts there (:func:`lp_cdf_below`, floored at 10⁻³), ``p_j = P(Poisson(λ_j) ≥ K_j)``.
    """
    beta, cp = lp_cdf_below(v, top_n)
    n = v.shape[1]
    ws = BUNCH_RES * np.arange(1, int(round(BUNCH_WINDOW / BUNCH_RES)) + 1)
    cum = sum(beta[:, j:j + 1] * ws ** j for j in range(1, beta.shape[1]))
    lam = n * np.maximum(cum, 1e-3)
    d = v - cp[:, None]
    K = ((d[:, :, None] > 1e-9) & (d[:, :, None] <= ws[None, None, :] + 1e-9)).sum(1)
    p = stats.poisson.sf(K - 1, lam)
    p = np.where(np.isfinite(lam), p, np.nan)
    return np.nanmin(np.where(np.isnan(p), np.inf, p), axis=1), p, K, lam, cp, beta[:, 1]


def cut_bunching(totals: pd.DataFrame, top_n: int = config.TOP_N, col: str = "total", seed: int = config.SEED,
                 n_draws: int = BUNCH_DRAWS) -> pd.DataFrame:
    """Bunching of totals just above the winners' line: excess mass over the density below the cut.

    Units that fake their way over the line need only beat the best non-winner, so they pile up
    just above its total ``c'``: the density jumps up at ``c'``. The statistic compares the
    counts ``K_j`` in the half-open windows ``(c', c' + 0.1 j]``, ``j = 1 … 10`` (up to
    :data:`BUNCH_WINDOW` = 1 point), with the counts ``λ_j`` the density just *below* the cut
    predicts — the Cattaneo–Jansson–Ma local-polynomial estimate from the totals in
    ``[c' − h, c']`` (:func:`lp_cdf_below`, h = :data:`BUNCH_BAND`) — and takes the scan minimum
    ``T = min_j P(Poisson(λ_j) ≥ K_j)``.

    **Null** (calibrated by simulation, not asymptotic): the year's totals come from a smooth
    density — the Gaussian kernel density estimate of the year's own totals with Silverman's
    bandwidth ``0.9 min(sd, IQR/1.34) n^(−1/5)``, which follows skew and curvature. ``n_draws``
    samples of the same size are drawn from it (smoothed bootstrap, Silverman 1986 §6.4),
    rounded to the shown precision of the totals, and ``c'`` and ``T`` are recomputed on each
    (the cut re-chosen by rank, as in the data): p = ``(1 + #{T* ≤ T}) / (1 + n_draws)``. So the
    scan over windows, the estimated density and the rank-chosen cut are all accounted for.
    Its false-alarm rate on honest years of several shapes is measured in
    ``benchmarks/bench_integrity.py``.

    Why not the ``rddensity`` package (checked on PyPI: version 3.0): it is GPL-3.0 and pulls
    plotnine and sympy into the product, and its asymptotic normal p assumes many totals on
    each side of the cut and no mass points (here ≈ 10 totals within 3 points, on a 0.1 grid,
    with the cut chosen by rank). The same estimator with a simulated null is calibrated at
    these sizes.

    Family: one test per year, Benjamini–Hochberg: q < 0.01 → **high**, q < 0.05 →
    **medium**; a year whose own p < 0.05 but whose q ≥ 0.05 is a **low** (screening) finding.
    The finding belongs to the year (``unit_id`` empty); for high/medium years the winners in
    the window of the smallest ``p_j`` are listed as **low** findings too (context: bunched units
    cannot be told apart one by one).

    Returns
    -------
    DataFrame
        Findings ``cut_bunching``: ``statistic`` = count ``K`` in the window of the smallest
        ``p_j``, ``threshold`` = the expected count ``λ`` there, ``p_value`` = the bootstrap p.
    """
    if totals is None or totals.empty:
        return _empty()
    rows = []
    for year, tt in totals.groupby("year"):  # loop over years only (a handful)
        tt = tt.loc[tt[col].notna()]
        v = tt[col].astype(float).to_numpy()
        n = len(v)
        if n < top_n + 10:
            continue
        t_obs, p_j, K, lam, cp, fm = _bunch_scan(v[None, :], top_n)
        if not np.isfinite(fm[0]):
            continue  # too few totals below the line to estimate a density
        sd = float(np.std(v, ddof=1))
        iqr = float(np.subtract(*np.percentile(v, [75, 25])))
        bw = 0.9 * min(sd, iqr / 1.34 if iqr > 0 else sd) * n ** (-0.2)
        dec = shown_decimals(v, 3)
        rng = np.random.default_rng([int(seed), int(year)])
        sim = np.round(v[rng.integers(0, n, (int(n_draws), n))] + bw * rng.standard_normal((int(n_draws), n)), dec)
        t_sim = _bunch_scan(sim, top_n)[0]
        p = (1 + np.count_nonzero(t_sim <= t_obs[0] * (1 + 1e-9))) / (n_draws + 1)
        b = int(np.nanargmin(p_j[0]))
        w = (b + 1) * BUNCH_RES
        win = tt.loc[(tt[col] > cp[0] + 1e-9) & (tt[col] <= cp[0] + w + 1e-9)].sort_values(col, ascending=False)
        rows.append((year, cp[0], w, int(K[0, b]), float(lam[0, b]), p, win))
    if not rows:
        return _empty()
    q = _bh(np.array([r[5] for r in rows]))
    out = []
    for (year, cp, w, k, lam, p, win), qq in zip(rows, q):
        ev = dict(k=int(k), h=w, cp=cp, lam=lam, band=BUNCH_BAND, p=p, q=qq, draws=int(n_draws))
        if not qq < ALPHA:
            if p < ALPHA:  # screening tier: significant in its own year, not across the family
                out.append({"year": year, "unit_id": "", "check": "cut_bunching", "statistic": k, "p_value": p,
                            "threshold": lam, "severity": "low", "ev": _ev("cut_bunching", **ev)})
            continue
        out.append({"year": year, "unit_id": "", "check": "cut_bunching", "statistic": k, "p_value": p,
                    "threshold": lam, "severity": "high" if qq < ALPHA_HIGH else "medium",
                    "ev": _ev("cut_bunching", **ev)})
        for u, val in zip(win["unit_id"], win[col].astype(float)):
            out.append({"year": year, "unit_id": u, "check": "cut_bunching", "statistic": k, "p_value": p,
                        "threshold": lam, "severity": "low",
                        "ev": _ev("cut_bunching_unit", total=val, k=int(k), h=w, cp=cp, p=p)})
    return _frame(out)
