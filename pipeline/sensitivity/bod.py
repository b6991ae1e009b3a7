"""Benefit-of-the-doubt (BoD) composite indicator by linear programming.

Each unit is scored with the weights most favourable to itself (Melyn & Moesen 1991;
Cherchye, Moesen, Rogge & Van Puyenbroeck 2007, *Soc. Indic. Res.* 82:111–145):

.. math:: E_i = \\max_{w \\ge 0} \\sum_j w_j y_{ij} \\quad \\text{s.t.} \\quad \\sum_j w_j y_{kj} \\le 1 \\;\\; \\forall k

so :math:`E_i \\in [0, 1]` and :math:`E_i = 1` for a unit that no other unit beats under its
own best weights. Optional *pie-share* bounds restrict the share of each criterion in the
unit's own composite (Cherchye et al. 2007, eq. 6): :math:`l_j \\le w_j y_{ij} / \\sum_k w_k y_{ik}
\\le h_j` — linear constraints :math:`w_j y_{ij} - l_j \\sum_k w_k y_{ik} \\ge 0` etc.

**Cross-efficiency** (Sexton, Silkman & Hogan 1986; Doyle & Green 1994): unit *i* scored with
unit *k*'s optimal weights, :math:`E_{ik} = \\sum_j w^*_{kj} y_{ij}`; the cross-efficiency of *i*
is the mean over *k* ≠ *i* (peer appraisal, which removes the self-favouring).

The optimal weights of the first LP are usually **not unique** (a whole face of optima), and
which vertex a solver returns depends on the column order, so the cross-efficiency would not be
defined. Cross-efficiency therefore uses the **aggressive secondary goal** of Doyle & Green
(1994, *J. Oper. Res. Soc.* 45:567–578, "aggressive formulation"): among the weights that keep
unit *k* at its own optimum E_k, choose those that minimise the other units' total score,

.. math:: \\min_{w \\ge 0} \\sum_{i \\ne k} w^\\top y_i \\quad \\text{s.t.} \\quad w^\\top y_k = E_k,
          \\; w^\\top y_i \\le 1 \\;\\forall i \\;(\\text{and the pie-share bounds, if any}),

(each unit, keeping its best score, rates its peers as strictly as it may — the reading suited
to a competition for a fixed number of winners). The secondary LP has a unique optimum in
practice where the first has a face of optima; the result no longer depends on the order of the
criteria (tested by permuting the columns). The reported ``w_*`` / ``share_*`` are the
secondary-goal weights, so they are order-invariant too; efficiencies are unchanged by the
secondary goal.

One LP per unit (74 small LPs, HiGHS): this is not a per-sample hot path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from pipeline.errors import PipelineError
from pipeline.sensitivity._core import criteria_matrix

__all__ = ["bod", "bod_table"]


def bod(matrix, bounds=None, *, maxima=None, unit_ids=None) -> pd.Series:
    """Benefit-of-the-doubt efficiency per unit, in [0, 1] (the public entry point).

    Parameters are those of :func:`bod_table`. Returns a Series named ``efficiency`` indexed by
    ``unit_id`` (0…n−1 for an array input); ``np.asarray(bod(m))`` is the 1-D efficiency vector.
    Use :func:`bod_table` for the optimal weights, pie shares and cross-efficiency.
    """
    return bod_table(matrix, bounds, maxima=maxima, cross=False, unit_ids=unit_ids)["efficiency"]


def bod_table(matrix, bounds=None, *, maxima=None, cross: bool = True, unit_ids=None, criteria=None) -> pd.DataFrame:
    """Benefit-of-the-doubt efficiency of every unit, with weights, pie shares and cross-efficiency.

    Parameters
    ----------
    matrix : array_like or DataFrame, shape (n_units, n_criteria)
        Non-negative criteria values, higher is better. NaN (not applicable) is replaced by
        the unit's mean normalised value over its applicable criteria (the ``prorate`` rule).
    bounds : array_like, shape (n_criteria, 2), optional
        Pie-share bounds (lo, hi) in [0, 1] on each criterion's share of the unit's own composite.
    maxima : array_like, optional
        Divide values by these maxima first (points → share of max).
    cross : bool
        Also compute the cross-efficiency (aggressive secondary goal, Doyle & Green 1994; the
        weight and share columns are then the secondary-goal weights).

    Returns
    -------
    DataFrame
        Index ``unit_id``; ``efficiency`` (E_i in [0, 1]); ``cross_efficiency`` (mean of
        E_ki over the other units' optimal weights, if ``cross``); ``rank`` (competition rank
        of efficiency, rounded to 9 decimals); then ``w_<criterion>`` (optimal weights) and
        ``share_<criterion>`` (pie shares w_j y_ij / E_i).
    """
    y, ids, crit = criteria_matrix(matrix, unit_ids, criteria, maxima, who="bod")
    if np.any(y[~np.isnan(y)] < 0):
        raise PipelineError("bod: criteria values must be non-negative")
    if np.isnan(y).any():
        y = np.where(np.isnan(y), np.nan_to_num(np.nanmean(y, axis=1))[:, None], y)
    u, k = y.shape
    b = None
    if bounds is not None:
        b = np.asarray(bounds, dtype=float)
        if b.shape != (k, 2) or np.any(b[:, 0] > b[:, 1]) or np.any(b < 0) or np.any(b > 1):
            raise PipelineError(f"bod: bounds must be one (lo, hi) share pair in [0, 1] per criterion ({k})")
        if b[:, 0].sum() > 1 + 1e-12 or b[:, 1].sum() < 1 - 1e-12:
            raise PipelineError("bod: pie-share bounds are infeasible (Σ lo ≤ 1 ≤ Σ hi needed)")
    # scale columns so the LP is well conditioned; weights are rescaled back afterwards
    scale = y.max(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    ys = y / scale
    w = np.zeros((u, k))
    eff = np.zeros(u)
    col_sum = ys.sum(axis=0)
    for i in range(u):
        a_ub, b_ub = ys, np.ones(u)
        if b is not None:
            yi = ys[i]
            lo_rows = b[:, 0:1] * yi[None, :] - np.diag(yi)  # l_j Σ w y − w_j y_j ≤ 0
            hi_rows = np.diag(yi) - b[:, 1:2] * yi[None, :]  # w_j y_j − h_j Σ w y ≤ 0
            a_ub = np.vstack([ys, lo_rows, hi_rows])
            b_ub = np.concatenate([b_ub, np.zeros(2 * k)])
        res = linprog(-ys[i], A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        if res.status != 0:
            raise PipelineError(f"bod: LP for unit {i} failed ({res.message})")
        eff[i] = -res.fun
        w[i] = res.x
        if cross and eff[i] > 0:  # aggressive secondary goal (Doyle & Green 1994)
            sec = linprog(col_sum - ys[i], A_ub=a_ub, b_ub=b_ub, A_eq=ys[i][None, :], b_eq=[eff[i]],
                          bounds=(0, None), method="highs")
            if sec.status == 0:
                w[i] = sec.x
            else:  # E_i held to the solver's tolerance may be just out of reach: relax it by 1e-9
                sec = linprog(col_sum - ys[i], A_ub=np.vstack([a_ub, -ys[i][None, :]]),
                              b_ub=np.concatenate([b_ub, [-(eff[i] - 1e-9)]]), bounds=(0, None), method="highs")
                if sec.status != 0:
                    raise PipelineError(f"bod: secondary-goal LP for unit {i} failed ({sec.message})")
                w[i] = sec.x
    eff = np.clip(eff, 0.0, 1.0)
    out = pd.DataFrame({"efficiency": eff}, index=pd.Index(ids, name="unit_id"))
    if cross:
        e = ys @ w.T  # e[i, k]: unit i under unit k's weights
        np.fill_diagonal(e, np.nan)
        out["cross_efficiency"] = np.nanmean(e, axis=1) if u > 1 else eff
    from pipeline.score import rank as _rank

    out["rank"] = _rank(eff, decimals=9).astype(int)
    wy = w * ys
    with np.errstate(invalid="ignore", divide="ignore"):
        share = wy / wy.sum(axis=1, keepdims=True)
    for j, c in enumerate(crit):
        out[f"w_{c}"] = w[:, j] / scale[j]
    for j, c in enumerate(crit):
        out[f"share_{c}"] = share[:, j]
    return out
