"""SMAA-2: stochastic multicriteria acceptability analysis (Lahdelma & Salminen 2001).

With no (or only interval) preference information, weights are drawn uniformly from the
feasible weight space *W* (the simplex, optionally cut by share bounds). For each unit *i*:

* **rank acceptability index** :math:`b_i^r` — the share of *W* (probability) in which unit
  *i* has rank *r*; ``top_n`` acceptability = :math:`\\sum_{r \\le n} b_i^r`;
* **central weight vector** :math:`w_i^c` — the expected weight vector over the weights that
  make unit *i* rank first (its "typical supporting preferences");
* **confidence factor** :math:`p_i^c` — the probability that unit *i* ranks first when
  its central weights are used, over the uncertainty of the criteria values.

Competition ranking is used (a tie shares the better rank). Criteria values may carry
Gaussian measurement noise (``sd``); with exact values the confidence factor of a unit
with a central weight vector is 1 (its first-rank region is convex and contains its centroid).
As a natural extension for a "top n win" competition, ``central_weights_top`` and
``confidence_top`` use "rank ≤ top_n" in place of "rank 1".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline import cluster, config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import competition_order, criteria_matrix
from pipeline.sensitivity.weights import sample_weights

__all__ = ["SMAAResult", "smaa"]


@dataclass
class SMAAResult:
    """Result of :func:`smaa`.

    Attributes
    ----------
    acceptability : DataFrame
        Units × ranks (columns 1…n_units): rank acceptability indices :math:`b_i^r`; rows sum to 1.
    top_acceptability : Series
        :math:`\\sum_{r \\le top_n} b_i^r` per unit.
    central_weights : DataFrame
        Units × criteria: central weight vectors (shares summing to 1); NaN for a unit that
        never ranks first.
    confidence : Series
        Confidence factor per unit (NaN where there is no central weight vector).
    central_weights_top, confidence_top
        The same with "rank ≤ top_n" in place of "rank 1".
    n : int
        Number of weight samples.
    """

    acceptability: pd.DataFrame
    top_acceptability: pd.Series
    central_weights: pd.DataFrame
    confidence: pd.Series
    central_weights_top: pd.DataFrame
    confidence_top: pd.Series
    n: int

    def summary(self) -> pd.DataFrame:
        """One row per unit: ``b1`` (first-rank acceptability), ``top_acceptability``,
        ``confidence``, ``confidence_top``, ``holistic`` (Σ_r b_i^r (n − r)/(n − 1), a
        linear meta-weighting of the acceptabilities, Lahdelma & Salminen 2001 §4)."""
        u = self.acceptability.shape[1]
        meta = (u - np.arange(1, u + 1)) / max(u - 1, 1)
        return pd.DataFrame(
            {
                "b1": self.acceptability[1],
                "top_acceptability": self.top_acceptability,
                "confidence": self.confidence,
                "confidence_top": self.confidence_top,
                "holistic": self.acceptability.to_numpy() @ meta,
            }
        )


def _utilities(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean of the applicable criteria (NaN = not applicable, prorated)."""
    present = ~np.isnan(x)
    x0 = np.where(present, x, 0.0)
    num = w @ x0.T
    den = w @ present.T.astype(float)
    return num / np.where(den > 0, den, 1.0)


def _noisy(x, sd, rng, c):
    """Criteria values with N(0, sd²) noise: (c, units, criteria)."""
    return x[None] + sd * rng.standard_normal((c,) + x.shape)


def smaa(matrix, n: int, seed=config.SEED, bounds=None, *, maxima=None, top_n: int = config.TOP_N, sd: float = 0.0,
         n_conf: int | None = None, unit_ids=None, criteria=None, chunk: int = 1 << 14, scheduler=None) -> SMAAResult:
    """SMAA-2 acceptability analysis under uniform weights on the (bounded) simplex.

    Parameters
    ----------
    matrix : array_like or DataFrame, shape (n_units, n_criteria)
        Criteria values, higher is better (NaN = not applicable, prorated). A DataFrame's
        index and columns name the units and criteria.
    n : int
        Number of weight samples.
    seed : int or numpy.random.SeedSequence
        Chunk *i* of weight samples draws from child *i* of one SeedSequence
        (:func:`pipeline.cluster.spawn_seeds`); the confidence factors from the next child.
    bounds : array_like, shape (n_criteria, 2), optional
        Share bounds (lo, hi) in [0, 1] per criterion (exact lower bounds, rejection for upper).
    maxima : array_like, optional
        If given, values are divided by these maxima first (points → share of max).
    top_n : int
        Cut for the top acceptability and the top-n central weights.
    sd : float
        Standard deviation of Gaussian noise on the (normalised) criteria values.
    n_conf : int, optional
        Samples for the confidence factors when ``sd > 0`` (default ``n``).

    chunk : int
        Weight samples per chunk (part of the random stream).
    scheduler : None, str or distributed.Client
        Run the chunks on a Dask cluster (:mod:`pipeline.cluster`); the result is identical
        to ``scheduler=None`` (counts are integers; weight sums are added chunk by chunk in
        the same order).

    Returns
    -------
    SMAAResult
    """
    x, ids, crit = criteria_matrix(matrix, unit_ids, criteria, maxima, who="smaa")
    u, k = x.shape
    n = int(n)
    if n < 1 or sd < 0:
        raise PipelineError("smaa: n must be ≥ 1 and sd ≥ 0")
    plan = cluster.chunks(n, chunk)
    seeds = cluster.spawn_seeds(seed, len(plan) + 1)  # one child per chunk; the last for the confidence factors
    tasks = [(c, ss) for (_, c), ss in zip(plan, seeds)]
    setup = {"x": x, "bounds": bounds, "sd": sd, "top_n": top_n}
    scheduler = cluster.resolve(scheduler)
    if scheduler is None:
        hist, sums = _smaa_block(tasks, **setup)
    else:
        parts = cluster.split_even(tasks, 4 * cluster.n_workers(scheduler))
        hist, sums = cluster.map_tasks(_smaa_block, parts, scheduler, shared=setup, key="smaa", reduce=_smaa_merge)
    cw1 = np.zeros((u, k))
    cwt = np.zeros((u, k))
    for s1, st in sums:  # integer counts merge exactly; weight sums are added chunk by chunk in order
        cw1 += s1
        cwt += st
    rng = np.random.default_rng(seeds[-1])
    hist = hist.reshape(u, u)
    acc = hist / n
    n1 = hist[:, 0].astype(float)
    nt = hist[:, :top_n].sum(axis=1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        cw1 = cw1 / n1[:, None]
        cwt = cwt / nt[:, None]
    conf1 = _confidence(x, cw1, 1, sd, n_conf or n, rng, chunk)
    conft = _confidence(x, cwt, top_n, sd, n_conf or n, rng, chunk)
    idx = pd.Index(ids, name="unit_id")
    return SMAAResult(
        acceptability=pd.DataFrame(acc, index=idx, columns=pd.RangeIndex(1, u + 1, name="rank")),
        top_acceptability=pd.Series(acc[:, :top_n].sum(axis=1), index=idx, name="top_acceptability"),
        central_weights=pd.DataFrame(cw1, index=idx, columns=crit),
        confidence=pd.Series(conf1, index=idx, name="confidence"),
        central_weights_top=pd.DataFrame(cwt, index=idx, columns=crit),
        confidence_top=pd.Series(conft, index=idx, name="confidence_top"),
        n=n,
    )


def _smaa_block(tasks, x, bounds, sd, top_n):
    """Rank counts (summed) and per-chunk central-weight sums of chunks ``(count, SeedSequence)``."""
    u, k = x.shape
    hist = np.zeros(u * u, dtype=np.int64)
    sums = []
    ones = np.ones(k)
    for c, seed in tasks:
        rng = np.random.default_rng(seed)
        w = sample_weights(ones, c, "simplex", rng, bounds=bounds) / 100.0
        if sd > 0:
            xs = _noisy(x, sd, rng, c)
            present = ~np.isnan(xs)
            util = np.einsum("ck,cuk->cu", w, np.where(present, xs, 0.0)) / np.maximum(
                np.einsum("ck,cuk->cu", w, present.astype(float)), 1e-300)
        else:
            util = _utilities(x, w)
        order, rank = competition_order(util)
        hist += np.bincount((order * u + (rank - 1)).ravel(), minlength=u * u)
        first = np.zeros((c, u))
        np.put_along_axis(first, order, np.ascontiguousarray(rank == 1).astype(float), axis=1)
        top = np.zeros((c, u))
        np.put_along_axis(top, order, np.ascontiguousarray(rank <= top_n).astype(float), axis=1)
        sums.append((first.T @ w, top.T @ w))
    return hist, sums


def _smaa_merge(a, b):
    """Merge two consecutive blocks: counts added, per-chunk weight sums kept in chunk order."""
    return a[0] + b[0], a[1] + b[1]


def _confidence(x, cw, cut, sd, n, rng, chunk) -> np.ndarray:
    """P(rank of unit i ≤ cut | weights = cw_i), over noisy criteria values."""
    u = x.shape[0]
    has = ~np.isnan(cw).any(axis=1)
    out = np.full(u, np.nan)
    if not has.any():
        return out
    wc = np.where(has[:, None], cw, 0.0)  # (u, k): column i of utilities uses unit i's weights
    if sd == 0:
        util = _utilities(x, wc)  # (u weights, u units)
        rank = _rank_of_self(util)
        out[has] = (rank <= cut)[has].astype(float)
        return out
    hits = np.zeros(u)
    for a in range(0, n, max(1, chunk // max(u, 1))):
        c = min(max(1, chunk // max(u, 1)), n - a)
        xs = _noisy(x, sd, rng, c)  # (c, u, k)
        present = ~np.isnan(xs)
        num = np.einsum("wk,cuk->cwu", wc, np.where(present, xs, 0.0))
        den = np.einsum("wk,cuk->cwu", wc, present.astype(float))
        util = num / np.maximum(den, 1e-300)  # (c, weight-owner, unit)
        better = (util > np.diagonal(util, axis1=1, axis2=2)[:, :, None]).sum(axis=2)
        hits += (better + 1 <= cut).sum(axis=0)
    out[has] = hits[has] / n
    return out


def _rank_of_self(util: np.ndarray) -> np.ndarray:
    """Competition rank of unit i in row i of a (u, u) utility matrix."""
    own = np.diagonal(util)[:, None]
    return 1 + (util > own).sum(axis=1)
