"""Weight model: nominal weights, perturbation schemes, alternative schemes, one-at-a-time.

Perturbation schemes (all return weight vectors summing to 100)
---------------------------------------------------------------
``uniform``
    Each factor weight is multiplied by an independent :math:`U(1-p, 1+p)` draw, then the
    vector is renormalised to 100 (the "±p %" box of JRC/COINr uncertainty analyses).
``dirichlet``
    :math:`w/100 \\sim \\mathrm{Dirichlet}(\\kappa\\, w^0/100)`: centred on the nominal shares
    :math:`w^0/100`, with :math:`\\mathrm{Var}(w_k/100) = s_k(1-s_k)/(\\kappa+1)`; larger κ = less
    uncertainty.
``simplex``
    Uniform on the simplex (Dirichlet(1, …, 1)) — "no preference information" as in SMAA.
    Lower share bounds are sampled exactly (:math:`w = l + (1-\\sum l)\\,u`, *u* uniform on the
    simplex, is uniform on :math:`\\{w \\ge l\\}`); upper bounds by rejection.

``bounds`` (shares in [0, 1], one ``(lo, hi)`` per factor) may be given with any scheme; for
``uniform`` and ``dirichlet`` they are enforced by rejection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, fast_rank

__all__ = [
    "SCHEMES",
    "sample_weights",
    "scheme_weights",
    "pca_weights",
    "one_at_a_time",
    "shift_summary",
]

SCHEMES = ("dirichlet", "uniform", "simplex")


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_bounds(bounds, k: int) -> np.ndarray | None:
    if bounds is None:
        return None
    b = np.asarray(bounds, dtype=float)
    if b.shape != (k, 2):
        raise PipelineError(f"bounds must be one (lo, hi) share pair per factor ({k}), got shape {b.shape}")
    if np.any(b[:, 0] < 0) or np.any(b[:, 1] > 1) or np.any(b[:, 0] > b[:, 1]):
        raise PipelineError("weight-share bounds must satisfy 0 ≤ lo ≤ hi ≤ 1")
    if b[:, 0].sum() > 1 + 1e-12 or b[:, 1].sum() < 1 - 1e-12:
        raise PipelineError("weight-share bounds are infeasible: Σ lo must be ≤ 1 ≤ Σ hi")
    return b


def _draw(nominal: np.ndarray, n: int, scheme: str, rng, kappa: float, p: float, lo: np.ndarray | None) -> np.ndarray:
    k = nominal.shape[0]
    share = nominal / nominal.sum()
    if scheme == "uniform":
        w = share * rng.uniform(1.0 - p, 1.0 + p, size=(n, k))
        return w / w.sum(axis=1, keepdims=True)
    if scheme == "dirichlet":
        return rng.dirichlet(kappa * share, size=n)
    u = rng.dirichlet(np.ones(k), size=n)  # uniform on the simplex
    if lo is None:
        return u
    return lo + (1.0 - lo.sum()) * u


def sample_weights(nominal, n: int, scheme: str = "dirichlet", seed=config.SEED, kappa: float = 200.0,
                   p: float = 0.2, bounds=None, max_tries: int = 1000) -> np.ndarray:
    """Draw ``n`` weight vectors around ``nominal``.

    Parameters
    ----------
    nominal : array_like, shape (k,)
        Nominal weights (any positive scale, e.g. item maxima or category totals).
    n : int
        Number of vectors.
    scheme : {"dirichlet", "uniform", "simplex"}
        See the module docstring.
    seed : int or numpy.random.Generator
    kappa : float
        Dirichlet concentration (``dirichlet`` only).
    p : float
        Half-width of the multiplicative box, 0 < p < 1 (``uniform`` only).
    bounds : array_like, shape (k, 2), optional
        Share bounds ``(lo, hi)`` in [0, 1] per factor.

    Returns
    -------
    numpy.ndarray, shape (n, k)
        Rows sum to 100.
    """
    w0 = np.asarray(nominal, dtype=float)
    if w0.ndim != 1 or np.any(w0 < 0) or w0.sum() <= 0:
        raise PipelineError("nominal weights must be a non-negative vector with a positive sum")
    if scheme not in SCHEMES:
        raise PipelineError(f"unknown weight scheme {scheme!r} (one of {', '.join(SCHEMES)})")
    if scheme == "dirichlet" and not kappa > 0:
        raise PipelineError(f"kappa must be > 0, got {kappa!r}")
    if scheme == "dirichlet" and np.any(w0 == 0):
        raise PipelineError("the dirichlet scheme needs every nominal weight > 0")
    if scheme == "uniform" and not 0 < p < 1:
        raise PipelineError(f"p must be in (0, 1), got {p!r}")
    n = int(n)
    if n < 1:
        raise PipelineError(f"n must be ≥ 1, got {n}")
    rng = _rng(seed)
    b = _check_bounds(bounds, w0.shape[0])
    lo = None if b is None else b[:, 0]
    w = _draw(w0, n, scheme, rng, kappa, p, lo)
    if b is not None:
        out = np.empty((0, w0.shape[0]))
        tries = 0
        while True:
            ok = np.all((w >= b[:, 0] - 1e-12) & (w <= b[:, 1] + 1e-12), axis=1)
            out = np.vstack([out, w[ok]])
            if out.shape[0] >= n:
                w = out[:n]
                break
            tries += 1
            rate = max(ok.mean(), 1.0 / max(ok.size, 1))
            if tries > max_tries or (tries > 3 and rate < 1e-4):
                raise PipelineError(f"weight bounds accept only {ok.mean():.2%} of draws; widen the bounds")
            need = n - out.shape[0]
            w = _draw(w0, int(min(max(need / rate * 1.2, 64), 50 * n + 64)), scheme, rng, kappa, p, lo)
    return 100.0 * w


def pca_weights(matrix, maxima) -> np.ndarray:
    """Item weights from the first principal component of the normalised item scores.

    Definition: standardise each item's normalised score (points / max; NA → item mean),
    take the leading eigenvector *v* of their correlation matrix; weight of item *j* =
    100 · v_j² (its share of the component's variance, which sums to 1). This is the
    one-component case of the factor-analysis weighting of the OECD/JRC *Handbook on
    Constructing Composite Indicators* (2008), §6.1 (squared loadings scaled to unity).
    Items that do not vary get weight 0.

    Returns
    -------
    numpy.ndarray, shape (n_items,)
        Weights summing to 100.
    """
    x = np.asarray(matrix, dtype=float) / np.asarray(maxima, dtype=float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    x = np.where(np.isnan(x), 0.0, x)
    sd = x.std(axis=0)
    ok = sd > 1e-12
    if ok.sum() == 0:
        raise PipelineError("PCA weights: no item varies between units")
    zs = (x[:, ok] - x[:, ok].mean(axis=0)) / sd[ok]
    corr = np.atleast_2d(np.corrcoef(zs, rowvar=False))
    vals, vecs = np.linalg.eigh(corr)
    v = vecs[:, -1]
    w = np.zeros(x.shape[1])
    w[ok] = v**2
    return 100.0 * w / w.sum()


def _equal_within(labels, maxima) -> np.ndarray:
    """Equal weight per label; items keep their nominal proportions within the label."""
    lab = np.asarray(labels, dtype=object)
    m = np.asarray(maxima, dtype=float)
    uniq = list(dict.fromkeys(lab.tolist()))
    w = np.zeros_like(m)
    for u in uniq:
        sel = lab == u
        w[sel] = m[sel] / m[sel].sum() / len(uniq)
    return 100.0 * w


def scheme_weights(matrix, maxima, categories=None, dimensions=None) -> pd.DataFrame:
    """Item weights (summing to 100) of the nominal and the alternative single-vector schemes.

    Returns
    -------
    DataFrame
        Index: item position (0…n_items-1); columns: ``nominal`` (the maxima), ``equal_items``
        (100 / n_items each), ``equal_categories`` (each category 100 / n_categories, items in
        nominal proportion within it), ``equal_dimensions`` (same by dimension), ``pca``
        (:func:`pca_weights`). Columns needing labels that were not given are left out.
        Benefit-of-the-doubt weights are unit-specific: see :func:`pipeline.sensitivity.bod`.
    """
    m = np.asarray(maxima, dtype=float)
    cols = {"nominal": 100.0 * m / m.sum(), "equal_items": np.full(m.shape, 100.0 / m.shape[0])}
    if categories is not None:
        cols["equal_categories"] = _equal_within(categories, m)
    if dimensions is not None:
        cols["equal_dimensions"] = _equal_within(dimensions, m)
    cols["pca"] = pca_weights(matrix, m)
    return pd.DataFrame(cols)


def one_at_a_time(matrix, maxima, groups, steps=(-0.3, -0.2, -0.1, 0.1, 0.2, 0.3), top_n: int = config.TOP_N,
                  na_policy: str = config.NA_POLICY, offset=None, unit_ids=None) -> pd.DataFrame:
    """Change one group weight at a time by ±x %, renormalise to 100, re-rank.

    Parameters
    ----------
    matrix, maxima : units × items points and item maxima.
    groups : array_like of str
        Group (e.g. category) of each item; each group is varied in turn.
    steps : sequence of float
        Relative changes of the group weight (−0.3 = −30 %).

    Returns
    -------
    DataFrame
        One row per factor, step and unit: ``factor``, ``step``, ``unit_id``, ``nominal_rank``,
        ``rank``, ``delta_rank`` (rank − nominal_rank; negative = moved up),
        ``nominal_winner``, ``winner``.
    """
    model = Composite(matrix, maxima, groups=groups, na_policy=na_policy, offset=offset)
    k = model.n_factors
    st = np.asarray(steps, dtype=float)
    if np.any(st <= -1):
        raise PipelineError("OAT steps must be > −100 %")
    w = np.repeat(model.nominal[None, :], k * st.size, axis=0)
    fac = np.repeat(np.arange(k), st.size)
    w[np.arange(w.shape[0]), fac] *= 1.0 + np.tile(st, k)
    r0 = fast_rank(model.evaluate(model.nominal[None, :]))[0]
    r = fast_rank(model.evaluate(w))
    ids = np.asarray(unit_ids if unit_ids is not None else np.arange(model.n_units))
    nrow = w.shape[0]
    return pd.DataFrame(
        {
            "factor": np.repeat(np.asarray(model.factors, dtype=object)[fac], model.n_units),
            "step": np.repeat(np.tile(st, k), model.n_units),
            "unit_id": np.tile(ids, nrow),
            "nominal_rank": np.tile(r0, nrow),
            "rank": r.ravel(),
            "delta_rank": (r - r0).ravel(),
            "nominal_winner": np.tile(r0 <= top_n, nrow),
            "winner": (r <= top_n).ravel(),
        }
    )


def shift_summary(long: pd.DataFrame, by=("factor", "step")) -> pd.DataFrame:
    """Summarise a per-unit rank-shift table (from :func:`one_at_a_time` or scheme comparisons).

    Returns
    -------
    DataFrame
        One row per ``by`` group: ``mean_abs_shift`` (mean |Δrank|), ``max_abs_shift``,
        ``n_moved`` (units whose rank changed), ``winners_in`` / ``winners_out`` (units that
        become / stop being winners), ``spearman`` (rank correlation with nominal).
    """
    d = long.assign(abs_shift=long["delta_rank"].abs(),
                    moved=long["delta_rank"] != 0,
                    w_in=long["winner"] & ~long["nominal_winner"],
                    w_out=~long["winner"] & long["nominal_winner"])
    g = d.groupby(list(by), sort=False)
    out = g.agg(mean_abs_shift=("abs_shift", "mean"), max_abs_shift=("abs_shift", "max"),
                n_moved=("moved", "sum"), winners_in=("w_in", "sum"), winners_out=("w_out", "sum"))
    out["spearman"] = g[["rank", "nominal_rank"]].apply(
        lambda f: f["rank"].rank().corr(f["nominal_rank"].rank()) if f["rank"].nunique() > 1 else np.nan)
    return out.reset_index()
