"""Schemes proposed from the data: ``effective`` and ``robust`` category points.

* :func:`propose_effective` — category points whose *effective* weights (each category score's
  squared Pearson correlation with the total, normalised over the categories; Paruolo, Saisana
  & Saltelli 2013, via :func:`pipeline.sensitivity.effective_weights`) equal the official
  *nominal* shares (the categories' share of the 100 points). This is COINr's
  ``get_opt_weights(..., optype = "balance")`` with the nominal shares as the target: minimise
  :math:`\\sum_{y} \\sum_k (\\tilde r^2_{k,y}(P) - s_{k,y})^2` over the years *y* of the data,
  with :math:`P = 100\\,\\mathrm{softmax}(\\theta, 0)` (three free logits) and Nelder–Mead (``scipy.optimize.minimize``).
* :func:`propose_robust` — category points maximising the expected overlap (Jaccard) of the
  winner set with its own under Dirichlet weight uncertainty around the points
  (:func:`pipeline.scheme.compare.scheme_uncertainty`, common random numbers: one seed for every
  candidate), averaged over the years; searched by ``scipy.optimize.differential_evolution``
  within ±``spread`` of each official share, so that the answer stays a plausible scheme.

Both return a :class:`~pipeline.scheme.spec.Scheme` whose points are rounded to 0.1 and sum
exactly to 100 (largest remainder).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from scipy import optimize

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.scheme.compare import scheme_uncertainty
from pipeline.scheme.compute import item_scores, item_weights, year_items
from pipeline.scheme.spec import Scheme
from pipeline.sensitivity import effective_weights
from pipeline.sensitivity.data import YearData

__all__ = ["official_shares", "effective_gap", "propose_effective", "propose_robust", "round_points"]

_CATS = list(config.CATEGORIES)


def round_points(points, step: float = 0.1) -> dict:
    """Points rounded to ``step`` that sum exactly to 100 (largest-remainder rounding)."""
    p = np.asarray(points, dtype=float)
    p = 100.0 * p / p.sum()
    units = p / step
    base = np.floor(units)
    short = int(round(100.0 / step - base.sum()))
    base[np.argsort(-(units - base), kind="stable")[:short]] += 1
    return {c: round(float(v * step), 6) for c, v in zip(_CATS, base)}


def official_shares(frames: Mapping[int, YearData]) -> np.ndarray:
    """Years × categories: the official share of the points of each category."""
    return np.array([[yd.maxima[yd.categories == c].sum() / yd.maxima.sum() for c in _CATS] for yd in frames.values()])


def effective_gap(points, frames: Mapping[int, YearData]) -> float:
    """Σ over years and categories of (effective share − official nominal share)² under
    category ``points`` (the objective of :func:`propose_effective`)."""
    s = Scheme(name="candidate", slug="candidate", categories=dict(zip(_CATS, np.asarray(points, dtype=float))))
    target = official_shares(frames)
    gap = 0.0
    for y, yd in enumerate(frames.values()):
        z = item_scores(yd, s)
        w = item_weights(s, year_items(yd)).to_numpy()
        keep = w > 0
        eff = effective_weights(z[:, keep] * w[keep], w[keep], yd.categories[keep])
        eff = eff.loc[eff["level"] == "category"].set_index("name")["r2_share"].reindex(_CATS).fillna(0.0).to_numpy()
        gap += float(((eff - target[y]) ** 2).sum())
    return gap


def _softmax(theta: np.ndarray) -> np.ndarray:
    e = np.exp(theta - theta.max())
    return 100.0 * e / e.sum()


def propose_effective(frames: Mapping[int, YearData], name: str = "有效权重均衡方案") -> Scheme:
    """Category points whose effective weights match the official nominal shares (module docstring).

    Returns
    -------
    Scheme
        ``categories`` rounded to 0.1 (sum 100); everything else official.
    """
    if not frames:
        raise PipelineError("propose effective: no year in the data")
    start = np.log(official_shares(frames).mean(axis=0))
    start = start[:-1] - start[-1]  # the last logit is fixed at 0: softmax has one redundant direction

    def points(th: np.ndarray) -> np.ndarray:
        return _softmax(np.append(th, 0.0))

    # xatol 2e-3 on the logits ≈ 0.05 points on a 25-point category: finer than the 0.1 rounding
    res = optimize.minimize(lambda th: effective_gap(points(th), frames), start, method="Nelder-Mead",
                            options={"xatol": 2e-3, "fatol": 1e-7, "maxiter": 300})
    return Scheme(name=name, slug="propose_effective", categories=round_points(points(res.x)))


def propose_robust(frames: Mapping[int, YearData], n: int = 200, seed: int = config.SEED, kappa: float = 200.0,
                   spread: float = 0.3, maxiter: int = 8, popsize: int = 6, name: str = "稳健优胜方案") -> Scheme:
    """Category points maximising the expected winner-set overlap under weight uncertainty.

    Parameters
    ----------
    n : int
        Monte Carlo samples per year and candidate (common random numbers: the same ``seed``
        for every candidate, so that candidates are compared on the same draws).
    spread : float
        Every category's share stays within ±spread × its official share (mean over the
        years): the first three shares are searched in their bounds, the fourth is the rest
        and a candidate whose rest leaves its bounds is rejected (objective 0).
    maxiter, popsize : int
        Differential-evolution budget (``scipy.optimize.differential_evolution``; seeded).

    Returns
    -------
    Scheme
        ``categories`` rounded to 0.1 (sum 100); the official shares if no candidate beats them.
    """
    if not frames:
        raise PipelineError("propose robust: no year in the data")
    share = official_shares(frames).mean(axis=0)
    lo, hi = share * (1 - spread), share * (1 + spread)

    def overlap(p: np.ndarray) -> float:
        s = Scheme(name="candidate", slug="candidate", categories=dict(zip(_CATS, 100.0 * p)))
        jac = []
        for yd in frames.values():
            _, sysd = scheme_uncertainty(yd, s, n=n, seed=seed, kappa=kappa)
            jac.append(float((sysd["jaccard_mean"] * sysd["n_units"]).sum() / sysd["n_units"].sum()))
        return float(np.mean(jac))

    def loss(x: np.ndarray) -> float:
        last = 1.0 - x.sum()
        if not lo[-1] <= last <= hi[-1]:
            return 0.0
        return -overlap(np.append(x, last))

    res = optimize.differential_evolution(loss, list(zip(lo[:-1], hi[:-1])), seed=seed, maxiter=maxiter, popsize=popsize,
                                          polish=False, tol=0, init="sobol", x0=share[:-1])
    best = np.append(res.x, 1.0 - res.x.sum())
    if -res.fun <= overlap(share):  # never propose something less robust than the official shares
        best = share
    return Scheme(name=name, slug="propose_robust", categories=round_points(best))
