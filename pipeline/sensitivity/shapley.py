"""Shapley effects for dependent inputs, and for the group weights on the simplex.

Why Shapley effects
-------------------
Weights renormalised to 100 are **not independent factors**: the composite depends only on the
shares, so with two groups there is one degree of freedom (w₂ = 100 − w₁). Sobol indices assume
independent inputs; computed on independent multipliers that are then renormalised (the design of
:func:`~pipeline.sensitivity.weight_sobol`) they attribute one degree of freedom to two "interacting"
factors. The Shapley effect (Owen 2014, *SIAM/ASA J. UQ* 2:245–251) shares Var(Y) among the inputs
whatever their dependence: with the cost function c(u) of an input subset u,

.. math:: \\mathrm{Sh}_i = \\frac{1}{d} \\sum_{u \\subseteq -\\{i\\}} \\binom{d-1}{|u|}^{-1}
          \\bigl[c(u \\cup \\{i\\}) - c(u)\\bigr], \\qquad \\sum_i \\mathrm{Sh}_i = \\mathrm{Var}(Y),

each effect is ≥ 0 and they sum to the variance (Owen & Prieur 2017, *SIAM/ASA J. UQ*
5:986–1002), so ``share = Sh_i / Var(Y)`` is a split of 100 % that needs no independence.

Estimator (chosen: exact subsets, Monte Carlo conditional variances)
--------------------------------------------------------------------
Cost :math:`c(u) = E[\\mathrm{Var}(Y \\mid X_{-u})]` (the "total" cost; Song, Nelson & Staum 2016,
*SIAM/ASA J. UQ* 4:1060–1083, Algorithm 1 with exact permutations — here written over the 2^d
subsets, which is the same sum): for every subset u, ``n_outer`` draws of :math:`X_{-u}` from its
marginal, for each ``n_inner`` draws of :math:`X_u` from the **exact conditional distribution**
:math:`X_u \\mid X_{-u}`, and the mean over the outer draws of the unbiased inner sample variance
of Y. c(∅) = 0 and c(all) = Var(Y) from ``n_var`` joint draws. Song et al. recommend
``n_inner = 3`` and many outer draws; the estimator of each c(u) is unbiased.

Why this estimator and not a given-data one (Broto, Bachoc & Depecker 2020, *SIAM/ASA J. UQ*
8:693–716): the model is cheap to evaluate (vectorised composite) and the conditional laws are
known exactly for the two input laws used here, so exact conditional sampling has no
nearest-neighbour bias and its only error is Monte Carlo error, which the bootstrap measures.
d ≤ ~10 inputs (4 categories, 6 dimensions) keeps the 2^d subsets cheap.

Input laws (``problem["dist"]``) with exact conditionals
--------------------------------------------------------
* ``"dirichlet"`` (``alpha``): X on the simplex. By the aggregation property,
  :math:`X_u \\mid X_{-u} = (1 - \\sum X_{-u})\\,\\mathrm{Dirichlet}(\\alpha_u)`; for |u| = 1 the
  conditional is a point (the last share is fixed by the others), so c({i}) = 0.
* ``"normal"`` (``mean``, ``cov``): Gaussian conditional
  :math:`N(\\mu_u + \\Sigma_{u,-u}\\Sigma_{-u}^{-1}(x_{-u}-\\mu_{-u}),\\; \\Sigma_{uu} - \\Sigma_{u,-u}\\Sigma_{-u}^{-1}\\Sigma_{-u,u})`.

Confidence: ``conf`` is the half-width ``Φ⁻¹(0.5 + level/2) × sd`` of ``n_boot`` bootstrap
replicates (outer draws of each subset and the variance draws resampled independently), as in
SALib's Sobol intervals.
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, fast_rank, mean_abs_shift

__all__ = ["shapley_effects", "weight_shapley"]


# ---------------------------------------------------------------------------------------------
# input laws: joint draws and exact conditional draws
# ---------------------------------------------------------------------------------------------
def _check(problem: Mapping) -> tuple[list[str], str, dict]:
    try:
        names = list(problem["names"])
        dist = str(problem.get("dist", "normal"))
    except (KeyError, TypeError):
        raise PipelineError("problem must be a dict with 'names' and 'dist' (dirichlet or normal)") from None
    d = len(names)
    if d < 2 or len(set(names)) != d:
        raise PipelineError("shapley_effects: needs at least two uniquely named inputs")
    if dist == "dirichlet":
        a = np.asarray(problem.get("alpha"), dtype=float)
        if a.shape != (d,) or np.any(~np.isfinite(a)) or np.any(a <= 0):
            raise PipelineError(f"shapley_effects: 'alpha' must be {d} positive numbers")
        return names, dist, {"alpha": a}
    if dist == "normal":
        mu = np.asarray(problem.get("mean", np.zeros(d)), dtype=float)
        cov = np.asarray(problem.get("cov"), dtype=float)
        if mu.shape != (d,) or cov.shape != (d, d) or not np.allclose(cov, cov.T):
            raise PipelineError(f"shapley_effects: 'mean' must have {d} values and 'cov' be a symmetric {d}×{d} matrix")
        if np.linalg.eigvalsh(cov).min() < -1e-12 * max(1.0, np.abs(cov).max()):
            raise PipelineError("shapley_effects: 'cov' is not positive semi-definite")
        return names, dist, {"mean": mu, "cov": cov}
    raise PipelineError(f"shapley_effects: unknown dist {dist!r} (dirichlet or normal)")


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    val, vec = np.linalg.eigh(c)
    return vec * np.sqrt(np.clip(val, 0.0, None))


def _joint(dist: str, par: dict, n: int, rng) -> np.ndarray:
    if dist == "dirichlet":
        return rng.dirichlet(par["alpha"], size=n)
    return par["mean"] + rng.standard_normal((n, par["mean"].size)) @ _psd_sqrt(par["cov"]).T


def _conditional(dist: str, par: dict, u: np.ndarray, given: np.ndarray, n_inner: int, rng) -> np.ndarray:
    """Draws of the full X with X_{-u} = ``given`` rows (n, d) fixed and X_u | X_{-u} exact:
    shape (n, n_inner, d)."""
    n, d = given.shape
    out = np.repeat(given[:, None, :], n_inner, axis=1)
    r = np.setdiff1d(np.arange(d), u)
    if dist == "dirichlet":
        rest = 1.0 - given[:, r].sum(axis=1)
        if u.size == 1:
            out[:, :, u[0]] = rest[:, None]
        else:
            out[:, :, u] = rest[:, None, None] * rng.dirichlet(par["alpha"][u], size=(n, n_inner))
        return out
    mu, cov = par["mean"], par["cov"]
    if r.size:
        s_rr = cov[np.ix_(r, r)]
        s_ur = cov[np.ix_(u, r)]
        k = np.linalg.lstsq(s_rr, s_ur.T, rcond=None)[0].T  # Σ_u,−u Σ_−u⁻¹ (pseudo-inverse if singular)
        cm = mu[u] + (given[:, r] - mu[r]) @ k.T
        cc = cov[np.ix_(u, u)] - k @ s_ur.T
    else:
        cm = np.broadcast_to(mu[u], (n, u.size))
        cc = cov[np.ix_(u, u)]
    z = rng.standard_normal((n, n_inner, u.size)) @ _psd_sqrt((cc + cc.T) / 2).T
    out[:, :, u] = cm[:, None, :] + z
    return out


# ---------------------------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------------------------
def shapley_effects(model: Callable[[np.ndarray], np.ndarray], problem: Mapping, n_outer: int = 1000,
                    n_inner: int = 3, n_var: int | None = None, seed=config.SEED, n_boot: int = 100,
                    conf: float = 0.95, outputs: Sequence | None = None) -> pd.DataFrame:
    """Shapley effects of dependent inputs (see the module docstring for the estimator).

    Parameters
    ----------
    model : callable
        ``model(X)`` maps an (n, d) array to (n,) or (n, m) outputs; called once per subset on all
        of its draws (vectorise it).
    problem : dict
        ``{"names": [...], "dist": "dirichlet", "alpha": [...]}`` (inputs on the simplex) or
        ``{"names": [...], "dist": "normal", "mean": [...], "cov": [[...]]}``.
    n_outer, n_inner : int
        Outer draws of X_{-u} and inner conditional draws of X_u per subset (Song et al. 2016:
        ``n_inner = 3``). The model is evaluated (2^d − 2) · n_outer · n_inner + n_var times.
    n_var : int, optional
        Joint draws for Var(Y) (default ``n_outer · n_inner``).
    seed : int
        Seeds all draws and the bootstrap.
    n_boot : int
        Bootstrap replicates for ``conf`` (0 = NaN).
    conf : float
        Confidence level of the half-widths.
    outputs : sequence, optional
        Names of the m outputs of a multi-output model.

    Returns
    -------
    DataFrame
        Index ``factor`` (1-D output) or (``output``, ``factor``); columns ``effect`` (Sh_i, in
        units of Y²), ``share`` (Sh_i / Var(Y); the shares sum to 1), ``conf`` (bootstrap
        half-width of ``share``), ``effect_conf`` (of ``effect``) and ``variance`` (Var(Y)).
        An output that does not vary gets NaN shares.

    Examples
    --------
    >>> prob = {"names": ["a", "b"], "dist": "normal", "mean": [0, 0], "cov": [[1, 0], [0, 4]]}
    >>> df = shapley_effects(lambda X: X[:, 0] + X[:, 1], prob, 2000, seed=1)
    >>> df["share"].round(1).tolist()  # independent inputs: Sh = Sobol = (1, 4) / 5
    [0.2, 0.8]
    """
    names, dist, par = _check(problem)
    d = len(names)
    n_outer, n_inner = int(n_outer), int(n_inner)
    if n_outer < 2 or n_inner < 2:
        raise PipelineError("shapley_effects: n_outer and n_inner must be ≥ 2")
    n_var = int(n_var) if n_var is not None else n_outer * n_inner
    rng = np.random.default_rng(seed)

    def run(x):
        y = np.asarray(model(x), dtype=float)
        if y.shape[0] != x.shape[0]:
            raise PipelineError(f"model returned {y.shape[0]} rows for {x.shape[0]} inputs")
        return y.reshape(x.shape[0], -1)

    yv = run(_joint(dist, par, n_var, rng))
    m = yv.shape[1]
    subsets = [np.array(c) for k in range(1, d) for c in combinations(range(d), k)]
    # per subset: the inner variance of each outer draw, (n_sub, n_outer, m)
    inner = np.empty((len(subsets), n_outer, m))
    for s, u in enumerate(subsets):
        xo = _joint(dist, par, n_outer, rng)
        xs = _conditional(dist, par, u, xo, n_inner, rng).reshape(n_outer * n_inner, d)
        inner[s] = run(xs).reshape(n_outer, n_inner, m).var(axis=1, ddof=1)
    # Shapley weights: Sh_i = Σ_{u ∌ i} |u|! (d−|u|−1)! / d! · (c(u ∪ i) − c(u)), as a (d, n_sub + 2) map
    key = {tuple(u): s for s, u in enumerate(subsets)}
    full, empty = len(subsets), len(subsets) + 1  # c(all) = Var(Y), c(∅) = 0
    wmat = np.zeros((d, len(subsets) + 2))
    for i in range(d):
        others = [j for j in range(d) if j != i]
        for k in range(d):
            wt = 1.0 / (d * comb(d - 1, k))
            for c in combinations(others, k):
                with_i = tuple(sorted(c + (i,)))
                wmat[i, key[with_i] if len(with_i) < d else full] += wt
                wmat[i, key[c] if c else empty] -= wt

    def effects(cost_sub, var):  # cost_sub (..., n_sub, m), var (..., m) → (..., d, m), (..., m)
        c = np.concatenate([cost_sub, var[..., None, :], np.zeros_like(var)[..., None, :]], axis=-2)
        return np.einsum("ds,...sm->...dm", wmat, c), var

    eff, var = effects(inner.mean(axis=1), yv.var(axis=0, ddof=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(var > 0, eff / var, np.nan)
    z = stats.norm.ppf(0.5 + conf / 2.0)
    eff_conf = share_conf = np.full((d, m), np.nan)
    if n_boot:
        ns = len(subsets)
        bo = rng.integers(0, n_outer, size=(n_boot, ns, n_outer))
        # resampling counts per replicate and subset, then one contraction (no loop over replicates)
        flat = (bo + n_outer * np.arange(n_boot * ns).reshape(n_boot, ns, 1)).ravel()
        counts = np.bincount(flat, minlength=n_boot * ns * n_outer).reshape(n_boot, ns, n_outer) / n_outer
        cb = np.einsum("bso,som->bsm", counts, inner)
        iv = rng.integers(0, n_var, size=(n_boot, n_var))
        cv = np.bincount((iv + n_var * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n_var).reshape(n_boot, n_var)
        yc = yv - yv.mean(axis=0)  # centred: no cancellation for outputs with a large mean
        mu = cv @ yc / n_var
        vb = (cv @ (yc * yc) / n_var - mu**2) * n_var / (n_var - 1)  # unbiased variance of each resample
        eb, _ = effects(cb, vb)
        with np.errstate(invalid="ignore", divide="ignore"):
            sb = np.where(vb[:, None, :] > 0, eb / vb[:, None, :], np.nan)
        eff_conf = z * eb.std(axis=0, ddof=1)
        share_conf = z * sb.std(axis=0, ddof=1)
    cols = {"effect": eff, "share": share, "conf": share_conf, "effect_conf": eff_conf,
            "variance": np.broadcast_to(var, (d, m))}
    if m == 1 and outputs is None:
        return pd.DataFrame({k: v[:, 0] for k, v in cols.items()}, index=pd.Index(names, name="factor"))
    outs = list(outputs) if outputs is not None else list(range(m))
    if len(outs) != m:
        raise PipelineError(f"{len(outs)} output names for {m} outputs")
    index = pd.MultiIndex.from_product([outs, names], names=["output", "factor"])
    return pd.DataFrame({k: np.asarray(v).T.ravel() for k, v in cols.items()}, index=index)


# ---------------------------------------------------------------------------------------------
# applied to the group weights
# ---------------------------------------------------------------------------------------------
def weight_shapley(matrix, weights, n_outer: int = 1000, seed=config.SEED, *, groups, kappa: float = 200.0,
                   top_n: int = config.TOP_N, na_policy: str = config.NA_POLICY, offset=None, grades=None,
                   grade_map=None, unit_ids=None, n_inner: int = 3, n_boot: int = 100,
                   targets: Sequence[str] = ("mean_abs_shift",)) -> pd.DataFrame:
    """Shapley effects of the group weights, as dependent inputs on the simplex, on the ranking.

    Design: the group shares are Dirichlet(κ · w⁰/100) around the nominal shares w⁰/100 — the
    ``dirichlet`` prior of :func:`~pipeline.sensitivity.uncertainty` (mean = nominal share,
    Var(w_k/100) = s_k(1 − s_k)/(κ + 1)). The shares sum to 1, so the inputs are dependent and
    Shapley effects (module docstring) split Var(target) among the groups with shares summing
    to 1; grade map, NA rule and aggregation stay at their nominal choices (weights only).

    Parameters
    ----------
    matrix, weights, groups, na_policy, offset, grades, grade_map, unit_ids
        As for :func:`~pipeline.sensitivity.weight_sobol`.
    n_outer, n_inner, n_boot, seed
        See :func:`shapley_effects`.
    kappa : float
        Dirichlet concentration.
    targets : sequence of {"mean_abs_shift", "rank"}
        System mean |Δrank| against the nominal ranking, and/or each unit's rank.

    Returns
    -------
    DataFrame
        Tidy: ``target``, ``unit_id`` (empty for the system target), ``factor`` (``w_<group>``),
        ``effect``, ``share``, ``conf``, ``effect_conf``, ``variance``.
    """
    if isinstance(matrix, pd.DataFrame):
        if unit_ids is None:
            unit_ids = matrix.index.to_numpy()
        matrix = matrix.to_numpy(dtype=float)
    if not kappa > 0:
        raise PipelineError(f"kappa must be > 0, got {kappa!r}")
    unknown = set(targets) - {"mean_abs_shift", "rank"}
    if unknown or not targets:
        raise PipelineError(f"weight_shapley: targets must be among mean_abs_shift, rank (got {sorted(unknown)})")
    model = Composite(matrix, weights, groups=groups, na_policy=na_policy, offset=offset, grades=grades, grade_map=grade_map)
    u = model.n_units
    r0 = fast_rank(model.evaluate(model.nominal)[None, :])[0]
    want_rank = "rank" in targets
    want_sys = "mean_abs_shift" in targets

    def f(x):
        c = model.evaluate(100.0 * x)
        cols = []
        if want_rank:
            r = fast_rank(c)
            if want_sys:
                cols.append(np.abs(r - r0).mean(axis=1, keepdims=True))
            cols.append(r.astype(float))
        else:
            cols.append(mean_abs_shift(c, r0, model.decimals)[:, None])
        return np.hstack(cols)

    names = [f"w_{g}" for g in model.factors]
    problem = {"names": names, "dist": "dirichlet", "alpha": kappa * model.nominal / 100.0}
    ids = list(unit_ids) if unit_ids is not None else list(range(u))
    outs = (["system"] if want_sys else []) + (ids if want_rank else [])
    res = shapley_effects(f, problem, n_outer, n_inner=n_inner, seed=seed, n_boot=n_boot, outputs=outs).reset_index()
    sysmask = (res["output"].astype(str) == "system") & want_sys
    if want_sys and want_rank:
        sysmask = np.arange(len(res)) < len(names)
    res.insert(0, "target", np.where(sysmask, "mean_abs_shift", "rank"))
    res.insert(1, "unit_id", res["output"].astype(object).where(~np.asarray(sysmask, dtype=bool), ""))
    return res.drop(columns="output")
