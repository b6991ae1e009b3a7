"""Variance-based global sensitivity: Sobol first-order and total indices.

Design (Saltelli 2002; Saltelli et al. 2010, *Comput. Phys. Commun.* 181:259–270)
---------------------------------------------------------------------------------
Two independent N × d matrices **A** and **B** are the two halves of a scrambled Sobol'
sequence of dimension 2d (``scipy.stats.qmc.Sobol``), scaled to the factor bounds; **AB**ᵢ is
**A** with column *i* taken from **B**. The model is evaluated on the N (d + 2) rows
``[A; B; AB_1; …; AB_d]`` (this row order is the contract between :func:`saltelli_sample`
and :func:`sobol_analyze`).

Outputs are first **centred** on the mean of all N (d + 2) outputs (as SALib does): the
first-order estimator below is a product of raw outputs, so without centring its variance
grows with the squared mean of *f* (for y = 2a + b + 100 the bootstrap half-width of S1 is ~10
instead of ~0.05) although its expectation does not change. Centring makes S1, ST and their
intervals invariant to adding a constant to *f*.

Estimators, with :math:`V = \\mathrm{Var}([f(A); f(B)])` (population variance of the 2N outputs):

* first order (Saltelli et al. 2010, Table 2 (b)):
  :math:`S_i = \\frac{1}{N V} \\sum_r f(B)_r\\,(f(AB_i)_r - f(A)_r)`;
* total (Jansen 1999; Saltelli et al. 2010, Table 2 (f)):
  :math:`S_{Ti} = \\frac{1}{2 N V} \\sum_r (f(A)_r - f(AB_i)_r)^2`.

Confidence intervals: ``S1_conf`` / ``ST_conf`` are half-widths
``Φ⁻¹(0.5 + conf/2) × sd`` of ``n_boot`` bootstrap replicates (resampling the N rows), as
in SALib. An output that does not vary gets NaN indices.
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, competition_order, fast_rank, mean_abs_shift, ranks_from_order
from pipeline.sensitivity.uncertainty import METHOD_PRIORS, _check_grade_bounds

__all__ = ["saltelli_sample", "sobol_analyze", "sobol_indices", "weight_sobol", "method_sobol", "METHOD_PRIORS"]



def _check_problem(problem: Mapping) -> tuple[list[str], np.ndarray]:
    try:
        names = list(problem["names"])
        b = np.asarray(problem["bounds"], dtype=float)
    except (KeyError, TypeError, ValueError):
        raise PipelineError("problem must be a dict with 'names' and 'bounds' ([[lo, hi], …])") from None
    if b.shape != (len(names), 2) or np.any(b[:, 1] <= b[:, 0]):
        raise PipelineError("problem bounds must be one [lo, hi] with lo < hi per name")
    if len(set(names)) != len(names):
        raise PipelineError("problem names must be unique")
    return names, b


def saltelli_sample(problem: Mapping, n: int, seed=config.SEED) -> np.ndarray:
    """Saltelli design ``[A; B; AB_1; …; AB_d]`` of shape (n (d + 2), d).

    Parameters
    ----------
    problem : dict
        ``{"names": [...], "bounds": [[lo, hi], ...]}`` (SALib convention); factors are
        uniform on their bounds.
    n : int
        Base sample size N (a power of 2 keeps the Sobol' sequence balanced).
    seed : int or numpy.random.Generator
        Seeds the scrambling.
    """
    names, b = _check_problem(problem)
    d = len(names)
    n = int(n)
    if n < 2:
        raise PipelineError(f"Sobol base sample size must be ≥ 2, got {n}")
    sampler = qmc.Sobol(d=2 * d, scramble=True, rng=np.random.default_rng(seed)) if _has_rng_kw() else qmc.Sobol(d=2 * d, scramble=True, seed=np.random.default_rng(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # balance warning when n is not 2^m
        base = sampler.random(n)
    lo, hi = np.tile(b[:, 0], 2), np.tile(b[:, 1], 2)
    base = lo + base * (hi - lo)
    a, bb = base[:, :d], base[:, d:]
    ab = np.repeat(a[None, :, :], d, axis=0)
    ab[np.arange(d), :, np.arange(d)] = bb.T
    return np.concatenate([a, bb, ab.reshape(d * n, d)], axis=0)


def _has_rng_kw() -> bool:
    import inspect

    return "rng" in inspect.signature(qmc.Sobol.__init__).parameters


def _indices(fa, fb, fab, counts=None):
    """S1, ST (d, m) for full data or for each bootstrap weight row of ``counts`` (B, n)."""
    n = fa.shape[0]
    d = fab.shape[0]
    if counts is None:
        var = np.concatenate([fa, fb]).var(axis=0)
        s1 = (fb[None] * (fab - fa[None])).mean(axis=1)
        st = 0.5 * ((fa[None] - fab) ** 2).mean(axis=1)
        return s1 / var, st / var
    m = fa.shape[1]
    x1 = (fb[None] * (fab - fa[None])).transpose(1, 0, 2).reshape(n, d * m)
    xt = (0.5 * (fa[None] - fab) ** 2).transpose(1, 0, 2).reshape(n, d * m)
    k = counts / n
    mean = (k @ (fa + fb)) / 2.0
    m2 = (k @ (fa * fa + fb * fb)) / 2.0
    var = m2 - mean**2
    # a replicate whose resampled outputs are (all but) constant has a variance below the rounding
    # noise of m2 − mean²: its indices are undefined (NaN), not huge
    var[var <= 1e-10 * m2] = np.nan
    s1 = (k @ x1).reshape(-1, d, m) / var[:, None, :]
    st = (k @ xt).reshape(-1, d, m) / var[:, None, :]
    return s1, st


def sobol_analyze(problem: Mapping, y, n_boot: int = 100, conf: float = 0.95, seed=config.SEED,
                  outputs: Sequence | None = None, block: int = 256) -> pd.DataFrame:
    """Sobol S1/ST with bootstrap intervals from model outputs on a :func:`saltelli_sample` design.

    Parameters
    ----------
    problem : dict
        As for :func:`saltelli_sample`.
    y : array_like, shape (N (d + 2),) or (N (d + 2), m)
        Model outputs in the design's row order.
    n_boot : int
        Bootstrap replicates (0 = no intervals, ``*_conf`` NaN).
    conf : float
        Confidence level of the intervals.
    outputs : sequence, optional
        Names of the m outputs (default 0…m-1).

    Returns
    -------
    DataFrame
        Columns ``S1``, ``S1_conf``, ``ST``, ``ST_conf``. Index: ``factor`` for a 1-D ``y``;
        MultiIndex (``output``, ``factor``) for a 2-D ``y``.
    """
    names, _ = _check_problem(problem)
    d = len(names)
    y = np.asarray(y, dtype=float)
    one = y.ndim == 1
    y2 = y[:, None] if one else y
    if y2.shape[0] % (d + 2):
        raise PipelineError(f"{y2.shape[0]} outputs do not fit a Saltelli design with {d} factors")
    n = y2.shape[0] // (d + 2)
    m = y2.shape[1]
    rng = np.random.default_rng(seed)
    counts = None
    if n_boot:
        idx = rng.integers(0, n, size=(n_boot, n))
        counts = np.bincount((idx + n * np.arange(n_boot)[:, None]).ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)
    z = stats.norm.ppf(0.5 + conf / 2.0)
    res = np.full((4, d, m), np.nan)
    for a in range(0, m, block):  # output blocks bound the bootstrap memory
        sl = slice(a, min(a + block, m))
        yc = y2[:, sl] - y2[:, sl].mean(axis=0)  # centre (as SALib): S1 becomes shift-invariant
        fa, fb = yc[:n], yc[n : 2 * n]
        fab = yc[2 * n :].reshape(d, n, -1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s1, st = _indices(fa, fb, fab)
            res[0, :, sl], res[2, :, sl] = s1, st
            if counts is not None:
                b1, bt = _indices(fa, fb, fab, counts)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN replicates of constant outputs
                    res[1, :, sl] = z * np.nanstd(b1, axis=0, ddof=1)
                    res[3, :, sl] = z * np.nanstd(bt, axis=0, ddof=1)
    cols = ["S1", "S1_conf", "ST", "ST_conf"]
    if one:
        return pd.DataFrame(res[:, :, 0].T, columns=cols, index=pd.Index(names, name="factor"))
    outs = list(outputs) if outputs is not None else list(range(m))
    if len(outs) != m:
        raise PipelineError(f"{len(outs)} output names for {m} outputs")
    index = pd.MultiIndex.from_product([outs, names], names=["output", "factor"])
    return pd.DataFrame(res.transpose(2, 1, 0).reshape(m * d, 4), columns=cols, index=index)


def sobol_indices(model: Callable[[np.ndarray], np.ndarray], problem: Mapping, n: int, seed=config.SEED,
                  n_boot: int = 100, conf: float = 0.95, outputs: Sequence | None = None, *,
                  scheduler=None, chunk: int | None = None) -> pd.DataFrame:
    """Sobol first-order and total indices of ``model`` (sample → evaluate → analyze).

    Parameters
    ----------
    model : callable
        ``model(X)`` maps an (n, d) array of factor values to (n,) or (n, m) outputs; it is
        called once on the whole design (vectorise it).
    problem : dict
        ``{"names": [...], "bounds": [[lo, hi], ...]}``; factors uniform on their bounds.
    n : int
        Base sample size N; the model is evaluated N (d + 2) times.
    seed : int
        Seeds the scrambled Sobol' sequence and the bootstrap.
    scheduler : None, str or distributed.Client
        Evaluate the design on a Dask cluster (:mod:`pipeline.cluster`), in row chunks of
        ``chunk`` (default: about 4 per worker); ``model`` must then be picklable. The
        design (one scrambled Sobol' sequence, not a random stream) and the analysis stay
        here, and each row's output does not depend on its chunk, so the result is identical
        to ``scheduler=None``.

    Returns
    -------
    DataFrame
        See :func:`sobol_analyze` (``S1``, ``S1_conf``, ``ST``, ``ST_conf`` per factor, and per
        output for a multi-output model).

    Examples
    --------
    >>> prob = {"names": ["x1", "x2"], "bounds": [[0, 1], [0, 1]]}
    >>> df = sobol_indices(lambda X: X[:, 0] + 2 * X[:, 1], prob, 1024, seed=1)
    >>> df["S1"].round(1).tolist()  # analytic 1/5, 4/5
    [0.2, 0.8]
    """
    x = saltelli_sample(problem, n, seed=seed)
    y = _evaluate(model, x, scheduler, chunk)
    if y.shape[0] != x.shape[0]:
        raise PipelineError(f"model returned {y.shape[0]} rows for {x.shape[0]} inputs")
    return sobol_analyze(problem, y, n_boot=n_boot, conf=conf, seed=np.random.default_rng(seed).integers(2**32), outputs=outputs)


def _eval_rows(rows, model, x):
    return np.asarray(model(x[rows[0] : rows[0] + rows[1]]), dtype=float)


def _evaluate(model, x: np.ndarray, scheduler=None, chunk: int | None = None) -> np.ndarray:
    """``model(x)``, or the concatenated outputs of row chunks evaluated on a Dask cluster."""
    from pipeline import cluster

    scheduler = cluster.resolve(scheduler)
    if scheduler is None:
        return np.asarray(model(x), dtype=float)

    size = chunk or -(-x.shape[0] // (4 * cluster.n_workers(scheduler)))
    parts = cluster.map_tasks(_eval_rows, cluster.chunks(x.shape[0], size), scheduler, shared={"model": model, "x": x},
                              key="sobol")
    return np.concatenate(parts, axis=0)


def weight_sobol(matrix, weights, n: int, seed=config.SEED, *, groups, p: float = 0.2, top_n: int = config.TOP_N,
                 na_policy: str = config.NA_POLICY, offset=None, grades=None, grade_map=None,
                 vary_grade_map: bool | Mapping = False, vary_na_policy: bool = False, vary_aggregation: bool = False,
                 unit_ids=None, n_boot: int = 100, chunk: int = 1 << 15,
                 targets: Sequence[str] = ("mean_abs_shift", "rank", "winner"),
                 na_prior: Mapping | None = None, p_geometric: float | None = None, scheduler=None) -> pd.DataFrame:
    """Sobol indices of the group weights (and, if asked, method choices) on the ranking.

    **Design — independent multipliers, renormalised.** Factors: one multiplier per group weight
    (``w_<group>``), independent and uniform on [1 − p, 1 + p] × nominal; the composite then
    renormalises the weights to 100. Sobol indices need independent factors, and these are
    independent — but the composite depends only on the *shares*, so the indices describe the
    multipliers, not the shares: with two groups (one degree of freedom) they show two
    "interacting" factors. For a split of the variance among the weights as dependent shares on
    the simplex, see :func:`~pipeline.sensitivity.weight_shapley` (Shapley effects).

    Optional method-choice factors (use :func:`method_sobol`, which states their priors):
    ``grade_<较好|一般>`` (share of the max, uniform on
    :data:`~pipeline.sensitivity.uncertainty.DEFAULT_GRADE_BOUNDS`), ``na_policy`` (uniform on
    [0, 1) mapped by the inverse CDF of ``na_prior`` → prorate / zero / full; default
    :data:`METHOD_PRIORS`) and ``aggregation`` (uniform on [0, 1), < ``p_geometric`` →
    geometric; default :data:`METHOD_PRIORS`).

    Targets: the system's mean |Δrank| against the nominal ranking; each unit's rank; each
    unit's winner status (0/1, rank ≤ top_n).

    ``targets`` selects which of these to compute (the system target alone is cheapest).
    ``scheduler`` evaluates the design on a Dask cluster (see :func:`sobol_indices`; identical
    result).

    Returns
    -------
    DataFrame
        Tidy, one row per target, unit and factor: ``target`` (``mean_abs_shift`` / ``rank`` /
        ``winner``), ``unit_id`` (empty for the system target), ``factor``, ``S1``,
        ``S1_conf``, ``ST``, ``ST_conf``. Units whose rank (or winner status) never changes
        have NaN indices.
    """
    if isinstance(matrix, pd.DataFrame):
        if unit_ids is None:
            unit_ids = matrix.index.to_numpy()
        matrix = matrix.to_numpy(dtype=float)
    if not 0 < p < 1:
        raise PipelineError(f"p must be in (0, 1), got {p!r}")
    gb = _check_grade_bounds(vary_grade_map)
    if gb is not None and grades is None:
        raise PipelineError("vary_grade_map needs the grades of graded items")
    model = Composite(matrix, weights, groups=groups, na_policy=na_policy, offset=offset, grades=grades, grade_map=grade_map)
    names = [f"w_{f}" for f in model.factors]
    bounds = [[1.0 - p, 1.0 + p]] * model.n_factors
    gnames = list(gb) if gb else []
    names += [f"grade_{g}" for g in gnames]
    bounds += [list(gb[g]) for g in gnames]
    nap = dict(METHOD_PRIORS["na_policy"] if na_prior is None else na_prior)
    if set(nap) - set(config.NA_POLICIES) or any(v < 0 for v in nap.values()) or sum(nap.values()) <= 0:
        raise PipelineError(f"na_prior must give non-negative probabilities to {', '.join(config.NA_POLICIES)}")
    na_cdf = np.cumsum([nap.get(k, 0.0) for k in config.NA_POLICIES]) / sum(nap.values())
    pg = METHOD_PRIORS["aggregation"]["geometric"] if p_geometric is None else float(p_geometric)
    if not 0.0 <= pg <= 1.0:
        raise PipelineError(f"p_geometric must be in [0, 1], got {pg!r}")
    if vary_na_policy:
        names.append("na_policy")
        bounds.append([0.0, 1.0])
    if vary_aggregation:
        names.append("aggregation")
        bounds.append([0.0, 1.0])
    problem = {"names": names, "bounds": bounds}
    k = model.n_factors
    u = model.n_units
    r0 = fast_rank(model.evaluate(model.nominal)[None, :])[0]

    def f(x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], 1 + 2 * u))
        for a in range(0, x.shape[0], chunk):
            xc = x[a : a + chunk]
            r = ranks_from_order(*competition_order(model.evaluate(*_decode(xc))))
            out[a : a + chunk, 0] = np.abs(r - r0).mean(axis=1)
            out[a : a + chunk, 1 : 1 + u] = r
            out[a : a + chunk, 1 + u :] = r <= top_n
        return out

    ids = list(unit_ids) if unit_ids is not None else list(range(u))
    unknown = set(targets) - {"mean_abs_shift", "rank", "winner"}
    if unknown or not targets:
        raise PipelineError(f"weight_sobol: targets must be among mean_abs_shift, rank, winner (got {sorted(unknown)})")
    keep = np.concatenate([[0] if "mean_abs_shift" in targets else [], np.arange(1, 1 + u) if "rank" in targets else [],
                           np.arange(1 + u, 1 + 2 * u) if "winner" in targets else []]).astype(int)
    system_only = list(targets) == ["mean_abs_shift"]

    def g(x: np.ndarray) -> np.ndarray:
        if system_only:  # skip the per-unit scatter
            out = np.empty((x.shape[0], 1))
            for a in range(0, x.shape[0], chunk):
                out[a : a + chunk, 0] = _system(x[a : a + chunk])
            return out
        return f(x)[:, keep]

    def _system(xc):
        return mean_abs_shift(model.evaluate(*_decode(xc)), r0, model.decimals)

    def _decode(xc):
        w = xc[:, :k] * model.nominal
        j = k
        gs = None
        if gnames:
            gs = np.tile(model.grade_shares, (xc.shape[0], 1))
            for gname in gnames:
                gs[:, config.GRADES.index(gname)] = xc[:, j]
                j += 1
        pol = geo = None
        if vary_na_policy:
            pol = np.minimum(np.searchsorted(na_cdf, xc[:, j], side="right"), 2)  # index into config.NA_POLICIES
            j += 1
        if vary_aggregation:
            geo = xc[:, j] < pg
        return w, gs, pol, geo

    res = sobol_indices(g, problem, n, seed=seed, n_boot=n_boot, outputs=list(keep), scheduler=scheduler)
    res = res.reset_index()
    o = res["output"].to_numpy()
    res.insert(0, "target", np.where(o == 0, "mean_abs_shift", np.where(o <= u, "rank", "winner")))
    uid = np.asarray([""] + ids + ids, dtype=object)
    res.insert(1, "unit_id", uid[o])
    return res.drop(columns="output")


def method_sobol(matrix, weights, n: int, seed=config.SEED, *, groups, p: float = 0.2, top_n: int = config.TOP_N,
                 na_policy: str = config.NA_POLICY, offset=None, grades=None, grade_map=None, unit_ids=None,
                 n_boot: int = 100, targets: Sequence[str] = ("mean_abs_shift",), na_prior: Mapping | None = None,
                 p_geometric: float | None = None) -> pd.DataFrame:
    """The **method-choices** analysis: Sobol indices of the grade map, the NA rule and the
    aggregation, beside the group-weight multipliers, under the stated priors of
    :data:`METHOD_PRIORS` (or ``na_prior`` / ``p_geometric``).

    This is a separate question from "are the weights fair?" (answered by the weights-only
    :func:`weight_sobol` and :func:`~pipeline.sensitivity.weight_shapley`): its indices depend on
    the priors put on the rules, which are assumptions; the result says how much the ranking
    would move if those rules were as uncertain as the priors say. The grade factors are
    included only when ``grades`` are given.

    Returns
    -------
    DataFrame
        As :func:`weight_sobol`; ``attrs["priors"]`` holds the priors used.
    """
    res = weight_sobol(matrix, weights, n, seed, groups=groups, p=p, top_n=top_n, na_policy=na_policy, offset=offset,
                       grades=grades, grade_map=grade_map, vary_grade_map=grades is not None, vary_na_policy=True,
                       vary_aggregation=True, unit_ids=unit_ids, n_boot=n_boot, targets=targets, na_prior=na_prior,
                       p_geometric=p_geometric)
    from pipeline.sensitivity.uncertainty import DEFAULT_GRADE_BOUNDS

    res.attrs["priors"] = {
        "na_policy": dict(METHOD_PRIORS["na_policy"] if na_prior is None else na_prior),
        "aggregation": {"geometric": METHOD_PRIORS["aggregation"]["geometric"] if p_geometric is None else float(p_geometric)},
        "grade_bounds": {k: list(v) for k, v in DEFAULT_GRADE_BOUNDS.items()} if grades is not None else {},
        "weights": {"multiplier": [1 - p, 1 + p]},
    }
    return res

