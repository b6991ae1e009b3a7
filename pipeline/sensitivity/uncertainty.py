"""Monte Carlo uncertainty analysis of the ranking under uncertain weights (and other choices).

Each sample draws a weight vector (and, optionally, a grade mapping, an NA policy and an
aggregation rule), recomputes every unit's composite and its competition rank, and the
per-unit rank histogram is accumulated with one ``np.bincount`` per chunk. Everything per unit
(mean, median, quantiles, P(winner), P(|Δrank| ≥ k)) is read off that histogram, so memory does
not grow with the number of samples except for a few per-sample system scalars.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, fast_rank, sorted_with_ties
from pipeline.sensitivity.weights import sample_weights

__all__ = ["uncertainty", "system_summary", "histogram_quantile", "DEFAULT_GRADE_BOUNDS", "METHOD_PRIORS"]

#: Plausible range of the grade shares when the grade mapping is an uncertain factor
#: (好 stays at full marks; the default 0.8 / 0.6 sit in the middle).
DEFAULT_GRADE_BOUNDS = {"较好": (0.7, 0.9), "一般": (0.5, 0.7)}

#: Stated priors of the method-choices analysis (:func:`~pipeline.sensitivity.method_sobol`; also used here when the NA rule or the
#: aggregation is drawn). They are assumptions, not
#: data, and the methods appendix prints them:
#:
#: * ``na_policy`` — the rule book's rule ``prorate`` (SPEC §3, the official total) with
#:   probability 0.6; the two alternatives a reviewer may argue for, ``zero`` (an inapplicable item
#:   earns nothing) and ``full`` (it counts as full marks), 0.2 each;
#: * ``aggregation`` — arithmetic (official) 0.8, geometric 0.2 (the main alternative in
#:   composite-indicator practice, OECD/JRC 2008 *Handbook on Constructing Composite Indicators*
#:   §6, which penalises unbalanced profiles);
#: * grade shares of 较好 / 一般 — uniform on
#:   :data:`~pipeline.sensitivity.uncertainty.DEFAULT_GRADE_BOUNDS` (0.7–0.9 and 0.5–0.7, centred
#:   on the official 0.8 / 0.6).
METHOD_PRIORS = {"na_policy": {"prorate": 0.6, "zero": 0.2, "full": 0.2},
                 "aggregation": {"arithmetic": 0.8, "geometric": 0.2}}


def histogram_quantile(hist: np.ndarray, q: float) -> np.ndarray:
    """Inverse-CDF quantile of integer ranks from per-unit rank histograms.

    ``Q(q) = min{r : F(r) ≥ q}`` with ``F`` the empirical CDF of the unit's ranks (Hyndman &
    Fan 1996, definition 1; ``numpy.quantile(..., method="inverted_cdf")``). For q = 0.5 this
    is the *lower median*.

    Parameters
    ----------
    hist : numpy.ndarray, shape (n_units, n_ranks)
        ``hist[i, r-1]`` = number of samples in which unit *i* had rank *r*.
    q : float in (0, 1]

    Returns
    -------
    numpy.ndarray of int, shape (n_units,)
    """
    cdf = np.cumsum(hist, axis=1)
    total = cdf[:, -1:]
    # compare counts, not floats: F(r) ≥ q  ⇔  cum_count ≥ q · n (exactly, for the usual q)
    return 1 + np.argmax(cdf >= q * total - 1e-9 * total, axis=1)


def _midranks(rank: np.ndarray) -> np.ndarray:
    """Average ranks (for Spearman) from per-position competition ranks of sorted rows."""
    n = rank.shape[1]
    last = np.ones(rank.shape, dtype=bool)
    last[:, :-1] = rank[:, 1:] != rank[:, :-1]
    pos = np.arange(1, n + 1)
    end = np.minimum.accumulate(np.where(last, pos, n + 1)[:, ::-1], axis=1)[:, ::-1]
    return (rank + end) / 2.0


def _kendall_tau_b(c: np.ndarray, c0: np.ndarray, block: int = 512) -> np.ndarray:
    """Kendall's τ-b between each row of ``c`` (samples × units) and ``c0`` (units).

    With ``G[i, j] = [c_i > c_j]`` and the antisymmetric nominal signs
    ``S0[i, j] = sign(c0_i − c0_j)``, the concordant-minus-discordant count is
    ``Σ_ij G_ij S0_ij`` — one byte-matrix × vector product per block of samples.
    """
    u = c.shape[1]
    s0 = np.sign(c0[:, None] - c0[None, :]).astype(np.float32).ravel()
    n_pairs = u * (u - 1) // 2
    t0 = n_pairs - np.count_nonzero(s0) // 2
    out = np.empty(c.shape[0])
    for a in range(0, c.shape[0], block):  # blocks bound memory (units² bytes per sample)
        x = c[a : a + block]
        gt = (x[:, :, None] > x[:, None, :]).reshape(x.shape[0], -1)
        num = gt.view(np.uint8).astype(np.float32) @ s0
        ts = n_pairs - gt.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[a : a + block] = num / np.sqrt((n_pairs - t0) * (n_pairs - ts.astype(float)))
    return out


def _other_factors(rng, c, grade_bounds, vary_na_policy, vary_aggregation, base_shares):
    gs = pol = geo = None
    if grade_bounds is not None:
        gs = np.tile(base_shares, (c, 1))
        for g, (lo, hi) in grade_bounds.items():
            gs[:, config.GRADES.index(g)] = rng.uniform(lo, hi, size=c)
    if vary_na_policy:  # drawn from the stated prior (METHOD_PRIORS), index into config.NA_POLICIES
        prior = METHOD_PRIORS["na_policy"]
        cdf = np.cumsum([prior[k] for k in config.NA_POLICIES]) / sum(prior.values())
        pol = np.minimum(np.searchsorted(cdf, rng.random(c), side="right"), len(config.NA_POLICIES) - 1)
    if vary_aggregation:
        geo = rng.random(c) < METHOD_PRIORS["aggregation"]["geometric"]
    return gs, pol, geo


def _check_grade_bounds(vary_grade_map) -> dict | None:
    if vary_grade_map is None or vary_grade_map is False:
        return None
    gb = dict(DEFAULT_GRADE_BOUNDS) if vary_grade_map is True else dict(vary_grade_map)
    for g, b in gb.items():
        if g not in config.GRADES or len(b) != 2 or not 0 <= b[0] <= b[1] <= 1:
            raise PipelineError(f"grade bounds must map 好/较好/一般 to (lo, hi) in [0, 1], got {g!r}: {b!r}")
    return gb


def uncertainty(
    matrix,
    weights,
    n: int,
    seed=config.SEED,
    scheme: str = "dirichlet",
    top_n: int = config.TOP_N,
    *,
    kappa: float = 200.0,
    p: float = 0.2,
    bounds=None,
    groups=None,
    na_policy: str = config.NA_POLICY,
    offset=None,
    grades=None,
    grade_map: Mapping[str, float] | None = None,
    vary_grade_map: bool | Mapping = False,
    vary_na_policy: bool = False,
    vary_aggregation: bool = False,
    unit_ids=None,
    ks=(1, 3, 5),
    chunk: int = 1 << 14,
    kendall_samples: int = 10000,
    dtype=np.float64,
) -> pd.DataFrame:
    """Rank uncertainty of every unit under ``n`` random weight vectors.

    Parameters
    ----------
    matrix : array_like or DataFrame, shape (n_units, n_items)
        Points earned (NaN = not applicable). A DataFrame's index gives the unit ids.
    weights : array_like, shape (n_items,)
        Nominal item maxima (the nominal weights; renormalised to 100).
    n : int
        Number of Monte Carlo samples (streamed in chunks of ``chunk``; 10⁶ is fine).
    seed : int or numpy.random.Generator
        Same seed (and chunk) → same numbers.
    scheme : {"dirichlet", "uniform", "simplex"}
        Weight perturbation (:mod:`pipeline.sensitivity.weights`).
    top_n : int
        Winners are units with rank ≤ top_n (ties at the cut all win).
    kappa, p, bounds
        Scheme parameters (Dirichlet concentration, ±p box, share bounds per factor).
    groups : array_like of str, optional
        Perturb group weights (e.g. the 4 categories) instead of the 24 item weights.
    na_policy, offset, grades, grade_map
        Nominal choices (see :class:`pipeline.sensitivity._core.Composite`).
    vary_grade_map : bool or mapping
        Also draw the shares of 较好/一般 uniformly within bounds (``True`` →
        :data:`DEFAULT_GRADE_BOUNDS`); needs ``grades``.
    vary_na_policy : bool
        Also draw the NA policy from prorate / zero / full with the stated prior
        :data:`METHOD_PRIORS` (0.6 / 0.2 / 0.2).
    vary_aggregation : bool
        Also draw geometric aggregation with the prior probability of :data:`METHOD_PRIORS` (0.2).
    ks : sequence of int
        Thresholds k for ``p_shift_ge_<k>``.
    kendall_samples : int
        Kendall's τ is O(units²) per sample, so it is estimated on the first this-many samples.

    Returns
    -------
    DataFrame
        One row per unit, in input order:

        ``unit_id``; ``nominal_score`` (composite under nominal weights); ``nominal_rank``;
        ``nominal_winner``; ``mean_rank``; ``sd_rank``; ``median_rank`` (lower median);
        ``q05``, ``q95`` (inverse-CDF 5 % / 95 % quantiles of the rank, see
        :func:`histogram_quantile`); ``best_rank``, ``worst_rank``; ``p_winner``
        (share of samples with rank ≤ top_n); ``mean_abs_shift`` (E|rank − nominal_rank|);
        ``p_shift_ge_<k>`` (P(|rank − nominal_rank| ≥ k)).

        ``df.attrs["system"]``: dict with ``n``, ``mean_abs_shift`` (mean over samples of the
        mean over units of |Δrank|), ``sd_abs_shift``, ``spearman_mean`` / ``spearman_q05``
        (Spearman's ρ with the nominal ranking, average ranks for ties), ``kendall_mean``
        (Kendall's τ-b, on the first ``kendall_samples`` samples), ``jaccard_mean`` (expected
        |W ∩ W₀| / |W ∪ W₀| of sample and nominal winner sets), ``p_same_winners``
        (P(winner set unchanged)), ``winners_changed_mean`` (E|W₀ \\ W|).
        ``df.attrs["histogram"]``: the units × ranks count matrix (nested list; JSON-able so
        that the frame can be written to Parquet with its attrs).
    """
    if isinstance(matrix, pd.DataFrame):
        if unit_ids is None:
            unit_ids = matrix.index.to_numpy()
        matrix = matrix.to_numpy(dtype=float)
    n = int(n)
    if n < 1:
        raise PipelineError(f"n must be ≥ 1, got {n}")
    if int(top_n) != top_n or top_n < 1:
        raise PipelineError(f"top_n must be a positive integer, got {top_n!r}")
    gb = _check_grade_bounds(vary_grade_map)
    if gb is not None and grades is None:
        raise PipelineError("vary_grade_map needs the grades of graded items")
    model = Composite(matrix, weights, groups=groups, na_policy=na_policy, offset=offset, grades=grades, grade_map=grade_map)
    u = model.n_units
    ids = np.asarray(unit_ids) if unit_ids is not None else np.arange(u)
    c0 = model.evaluate(model.nominal)
    r0 = fast_rank(c0[None, :])[0]
    w0 = r0 <= top_n
    r0_mid = stats.rankdata(-c0, method="average")
    m_mid = (u + 1) / 2.0
    r0c = r0_mid - m_mid
    ss0 = float(r0c @ r0c)
    rng = np.random.default_rng(seed) if not isinstance(seed, np.random.Generator) else seed

    hist = np.zeros(u * u, dtype=np.int64)
    abs_shift = np.empty(n, dtype=np.float32)
    rho = np.empty(n, dtype=np.float32)
    jac = np.empty(n, dtype=np.float32)
    lost = np.empty(n, dtype=np.int32)
    k_n = min(kendall_samples, n)
    tau = np.empty(k_n)
    pos = np.arange(1, u + 1)
    rank_at = u - np.arange(u)  # competition rank at ascending position k (rows without ties)
    rank_at_f = rank_at.astype(np.float32)
    rank_at_c = (rank_at - m_mid).astype(np.float32)
    key_at = rank_at - 1
    notie_ss = u * (u * u - 1) / 12.0
    nominal_ties = np.unique(c0).size < u
    r0f = r0.astype(np.float32)
    r0mid_f = r0_mid.astype(np.float32)
    n_w0 = int(w0.sum())
    cut = min(int(top_n), u)
    for a in range(0, n, chunk):
        c = min(chunk, n - a)
        sl = slice(a, a + c)
        w = sample_weights(model.nominal, c, scheme, rng, kappa=kappa, p=p, bounds=bounds)
        gs, pol, geo = _other_factors(rng, c, gb, vary_na_policy, vary_aggregation, model.grade_shares)
        comp = model.evaluate(w, grade_shares=gs, na_policy=pol, geometric=geo, dtype=dtype)
        asc, tie_rows, tie_rank = sorted_with_ties(comp, decimals=model.decimals)
        # every row as if it had no ties; the few rows with ties are corrected below
        hist += np.bincount((asc * u + key_at).ravel(), minlength=u * u)
        r0o = r0f[asc]
        abs_shift[sl] = np.abs(rank_at_f - r0o).mean(axis=1)
        cov = (r0mid_f[asc] if nominal_ties else r0o) @ rank_at_c  # Σ(rank − m) = 0 absorbs the centring
        rho[sl] = cov / np.sqrt(notie_ss * ss0)
        inter = w0[asc[:, u - cut :]].sum(axis=1)
        jac[sl] = inter / (cut + n_w0 - inter)
        lost[sl] = n_w0 - inter
        if tie_rows.size:  # redo the rows with ties exactly
            ot = asc[tie_rows, ::-1]
            hist += np.bincount((ot * u + (tie_rank - 1)).ravel(), minlength=u * u)
            hist -= np.bincount((ot * u + (pos - 1)).ravel(), minlength=u * u)
            rows = a + tie_rows
            abs_shift[rows] = np.abs(tie_rank - r0[ot]).mean(axis=1)
            mr = _midranks(tie_rank) - m_mid
            rho[rows] = (mr * r0c[ot]).sum(axis=1) / np.sqrt((mr * mr).sum(axis=1) * ss0)
            top = tie_rank <= top_n
            inter_t = (top & w0[ot]).sum(axis=1)
            jac[rows] = inter_t / (top.sum(axis=1) + n_w0 - inter_t)
            lost[rows] = n_w0 - inter_t
        if a < k_n:
            b = min(c, k_n - a)
            tau[a : a + b] = _kendall_tau_b(comp[:b], c0)
    hist = hist.reshape(u, u)

    ranks = np.arange(1, u + 1)
    mean_rank = hist @ ranks / n
    sd_rank = np.sqrt(np.maximum(hist @ ranks**2 / n - mean_rank**2, 0.0))
    d = np.abs(ranks[None, :] - r0[:, None])
    out = pd.DataFrame(
        {
            "unit_id": ids,
            "nominal_score": c0,
            "nominal_rank": r0,
            "nominal_winner": w0,
            "mean_rank": mean_rank,
            "sd_rank": sd_rank,
            "median_rank": histogram_quantile(hist, 0.5),
            "q05": histogram_quantile(hist, 0.05),
            "q95": histogram_quantile(hist, 0.95),
            "best_rank": np.argmax(hist > 0, axis=1) + 1,
            "worst_rank": u - np.argmax(hist[:, ::-1] > 0, axis=1),
            "p_winner": hist[:, :top_n].sum(axis=1) / n,
            "mean_abs_shift": (hist * d).sum(axis=1) / n,
        }
    )
    for k in ks:
        out[f"p_shift_ge_{k}"] = (hist * (d >= k)).sum(axis=1) / n
    out.attrs["system"] = {
        "n": n,
        "scheme": scheme,
        "n_factors": model.n_factors,
        "mean_abs_shift": float(abs_shift.mean(dtype=np.float64)),
        "sd_abs_shift": float(abs_shift.std(dtype=np.float64)),
        "spearman_mean": float(rho.mean(dtype=np.float64)),
        "spearman_q05": float(np.quantile(rho, 0.05)),
        "kendall_mean": float(np.nanmean(tau)),
        "jaccard_mean": float(jac.mean(dtype=np.float64)),
        "p_same_winners": float((jac == 1).mean()),
        "winners_changed_mean": float(lost.mean(dtype=np.float64)),
        "n_nominal_winners": int(w0.sum()),
    }
    out.attrs["histogram"] = hist.tolist()  # JSON-able, so write_table can store the attrs
    return out


def system_summary(result: pd.DataFrame) -> pd.DataFrame:
    """The numeric system statistics of an :func:`uncertainty` result as a table (``metric``, ``value``)."""
    sysd = result.attrs.get("system")
    if not sysd:
        raise PipelineError("system_summary needs the DataFrame returned by uncertainty()")
    num = {k: float(v) for k, v in sysd.items() if not isinstance(v, str)}
    return pd.DataFrame({"metric": list(num), "value": list(num.values())})
