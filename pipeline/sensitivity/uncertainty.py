"""Monte Carlo uncertainty analysis of the ranking under uncertain weights (and other choices).

Each sample draws a weight vector (and, optionally, a grade mapping, an NA policy and an
aggregation rule), recomputes every unit's composite and its competition rank. Samples come in
chunks; chunk *i* draws from child *i* of one :class:`numpy.random.SeedSequence`, so the numbers
do not depend on where a chunk runs (one process or a Dask cluster, :mod:`pipeline.cluster`).
Per chunk, the per-unit rank histogram is accumulated with ``np.bincount`` (or ``np.add.at``) —
exact (units × ranks) up to :data:`EXACT_RANK_UNITS` units, else in bins of ⌈units / :data:`RANK_BINS`⌉ ranks
with exact integer sums, counts and extremes beside it — and a few scalars per sample are kept
for the system statistics. Every statistic is mergeable (integer counts and sums, per-sample
arrays placed by sample index), so chunks reduced in any grouping give identical results.
Per sample the cost is O(units log units) (sorting; Kendall's τ-b by merge-sort inversion
counting on a stated subsample of draws), so doubling the units about doubles the time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import cluster, config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, fast_rank, sorted_with_ties
from pipeline.sensitivity.exact import _Exact, _dense_by_label  # noqa: F401 (the exact path, ≤ EXACT_RANK_UNITS units)
from pipeline.sensitivity.rankstats import _inversions, _row_offsets, first_reaching, flat_cumsum, histogram_quantile, kendall_tau_b, kendall_tau_b_sorted  # noqa: F401 (re-exported)
from pipeline.sensitivity.weights import sample_weights

__all__ = ["uncertainty", "system_summary", "histogram_quantile", "kendall_tau_b", "rank_bin_width", "DEFAULT_GRADE_BOUNDS", "METHOD_PRIORS"]

#: Up to this many units the per-unit rank histogram is exact (units² counts, 134 MB at 4,096).
EXACT_RANK_UNITS = 4096
#: Rank bins per unit above :data:`EXACT_RANK_UNITS` (10⁵ units: 196 ranks per bin, 0.2 % of the field).
RANK_BINS = 512

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
    chunk: int | None = None,
    kendall_samples: int | None = None,
    dtype=np.float64,
    rank_bins: int | None = None,
    scheduler=None,
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
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Root of the random numbers: chunk *i* draws from child *i* of one
        :class:`numpy.random.SeedSequence` (:func:`pipeline.cluster.spawn_seeds`). Same seed
        and chunk → same numbers, on one process or on any cluster.
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
    chunk : int, optional
        Samples per chunk (one seed each); default :func:`default_chunk` (2¹⁴, fewer for
        many units). Part of the random stream: change it and the draws change.
    kendall_samples : int, optional
        Kendall's τ-b (O(units log² units) per sample, :func:`kendall_tau_b`) is estimated on
        the first this-many samples (default :func:`default_kendall_samples`: 10⁴ up to 838
        units, then ⌊2²³ / units⌋ but at least 200: 838 draws at 10⁴ units, 200 at 10⁵); the
        number used is ``attrs["system"]["kendall_n"]``.
    rank_bins : int, optional
        Rank histogram resolution: exact (one bin per rank) up to :data:`EXACT_RANK_UNITS`
        units and ``units ≤ n``, else :data:`RANK_BINS` bins of ``w = ⌈units / bins⌉`` ranks
        (:func:`rank_bin_width`). Only the quantiles ``median_rank``, ``q05``, ``q95`` use the
        histogram; with ``w > 1`` each is the first rank of the bin holding the quantile
        (clipped to [best, worst]), so the exact quantile lies in ``[value, value + w − 1]``.
        ``attrs["system"]["rank_resolution"]`` is ``w``. Every other column is exact.
    scheduler : None, str or distributed.Client
        Run the chunks on a Dask cluster (:mod:`pipeline.cluster`: ``"local"``, an address or
        a client). The statistics are integer counts and sums merged exactly, so the result
        is identical to ``scheduler=None``.

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
        (Kendall's τ-b, on the first ``kendall_n`` samples), ``jaccard_mean`` (expected
        |W ∩ W₀| / |W ∪ W₀| of sample and nominal winner sets), ``p_same_winners``
        (P(winner set unchanged)), ``winners_changed_mean`` (E|W₀ \\ W|).
        ``rank_resolution`` (ranks per histogram bin).
        ``df.attrs["histogram"]``: the exact units × ranks count matrix (int64 array, rows in
        the order of the units); a 0 × 0 array when binned. Not written with the table.
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
    ks = tuple(int(k) for k in ks)
    width = rank_bin_width(u, rank_bins, n)
    chunk = default_chunk(u) if chunk is None else max(1, int(chunk))
    k_n = min(n, default_kendall_samples(u) if kendall_samples is None else max(0, int(kendall_samples)))
    plan = cluster.chunks(n, chunk)
    seeds = cluster.spawn_seeds(seed, len(plan))
    tasks = [(a, c, sd) for (a, c), sd in zip(plan, seeds)]
    setup = _Setup(model=model, c0=c0, r0=r0, top_n=int(top_n), ks=ks, width=width, k_n=k_n, scheme=scheme,
                   kappa=kappa, p=p, bounds=bounds, gb=gb, vary_na_policy=vary_na_policy,
                   vary_aggregation=vary_aggregation, dtype=dtype,
                   lab=None if width == 1 else np.argsort(np.argsort(r0, kind="stable"), kind="stable"))
    scheduler = cluster.resolve(scheduler)
    if scheduler is None:
        acc = _run_block(tasks, setup)
    else:  # blocks of chunks on the workers, merged there pairwise; one result comes back
        # chunks dealt round-robin: the first ones, which also carry Kendall's τ-b, go to different
        # blocks and so to different workers (the merge is exact, so the grouping changes nothing)
        k = max(1, min(4 * cluster.n_workers(scheduler), len(tasks)))
        blocks = [tasks[i::k] for i in range(k)]
        acc = cluster.map_tasks(_run_block, blocks, scheduler, shared={"setup": setup}, key="uncertainty", reduce=_merged)
    return _result(acc, setup, ids, n, scheme)


def _merged(a: "_Acc", b: "_Acc") -> "_Acc":
    a.merge(b)
    return a


@dataclass
class _Setup:
    """Everything a block of samples needs (shipped once to each worker)."""

    model: Composite
    c0: np.ndarray
    r0: np.ndarray
    top_n: int
    ks: tuple
    width: int
    k_n: int
    scheme: str
    kappa: float
    p: float
    bounds: object
    gb: dict | None
    vary_na_policy: bool
    vary_aggregation: bool
    dtype: object
    #: binned path: label of each unit, its position in the nominal order. Per-unit statistics
    #: are kept by label, so that a unit's rank (close to its nominal rank) lands near its
    #: label: the scatter of ranks and the histogram counting touch memory almost in order.
    lab: np.ndarray | None = None


@dataclass
class _Acc:
    """Mergeable statistics of a set of samples: integer counts and sums, per-sample arrays.

    All per-unit fields are integers, so merging blocks in any grouping gives exactly the
    same numbers as one pass over all samples. ``hist[i, b]`` counts the samples in which
    unit *i* had a rank in bin *b* (ranks ``b·width + 1 … (b + 1)·width``); with
    ``width == 1`` it is the exact rank histogram and the other per-unit fields are derived
    from it at the end.
    """

    hist: np.ndarray
    sum_r: np.ndarray | None = None
    sum_r2: np.ndarray | None = None
    n_top: np.ndarray | None = None
    sum_abs: np.ndarray | None = None
    n_shift: np.ndarray | None = None  # (len(ks), units)
    best: np.ndarray | None = None
    worst: np.ndarray | None = None
    system: dict = field(default_factory=dict)  # start → (abs_shift, rho, jac, lost) of a chunk
    tau: dict = field(default_factory=dict)  # start → τ-b of the chunk's first samples

    def merge(self, other: "_Acc") -> None:
        self.hist += other.hist
        if self.sum_r is not None:
            for f in ("sum_r", "sum_r2", "n_top", "sum_abs", "n_shift"):
                getattr(self, f).__iadd__(getattr(other, f))
            np.minimum(self.best, other.best, out=self.best)
            np.maximum(self.worst, other.worst, out=self.worst)
        self.system.update(other.system)
        self.tau.update(other.tau)


def rank_bin_width(n_units: int, rank_bins: int | None = None, n_samples: int | None = None) -> int:
    """Ranks per histogram bin: 1 (exact) or ⌈units / bins⌉.

    By default the histogram is exact when it is small: at most :data:`EXACT_RANK_UNITS` units
    and no more units than samples (its units² counts then cost no more than the samples'
    own units × samples ranks, so the run stays O(units log units) per sample); otherwise it
    has :data:`RANK_BINS` bins (exact anyway up to 512 units). ``rank_bins`` sets the number
    of bins; ``rank_bins ≥ n_units`` forces the exact histogram.
    """
    if rank_bins is None:
        small = n_units <= EXACT_RANK_UNITS and (n_samples is None or n_units <= n_samples)
        return 1 if small else -(-n_units // RANK_BINS)
    if int(rank_bins) < 1:
        raise PipelineError(f"rank_bins must be ≥ 1, got {rank_bins!r}")
    return max(1, -(-n_units // int(rank_bins)))


def default_chunk(n_units: int) -> int:
    """Samples per chunk: 2¹⁴, or fewer so that a chunk holds about 2²² unit-samples."""
    return int(min(1 << 14, max(1, (1 << 22) // max(n_units, 1))))


def default_kendall_samples(n_units: int) -> int:
    """Draws on which Kendall's τ-b is estimated by default: the first ``min(10⁴, max(200, ⌊2²³ / units⌋))``.

    That is all draws up to 10⁴ while ``units ≤ 838``, then about 2²³ unit-draws (≈ 8.4·10⁶) of
    the O(units log² units) merge-sort count (:func:`kendall_tau_b`), but never fewer than 200
    draws: 10,000 at 74 units, 838 at 10⁴, 200 at 10⁵. ``kendall_mean`` is the mean τ-b over
    those first draws (``attrs["system"]["kendall_n"]``), an unbiased estimate of the mean over
    all draws since the draws are i.i.d.; every other statistic uses all draws.
    """
    return int(min(10000, max(200, (1 << 23) // max(n_units, 1))))


def _desc_order(model: Composite, w, gs, pol, geo, dtype, lab: np.ndarray):
    """Units of each sample in descending order of the composite, and where neighbours tie.

    Returns
    -------
    idx : numpy.ndarray of int64, shape (c, units)
        ``idx[s, p] = s · units + lab[i]`` for unit *i* at descending position *p* of sample
        *s* (a flat index into a samples × labels block); order inside a tie is irrelevant.
    tied : numpy.ndarray of bool, shape (c, units − 1)
        ``tied[s, p − 1]``: positions *p* and *p − 1* of sample *s* have equal composites.
    tau_scores : numpy.ndarray, shape (c, units), or None
        None when ``idx`` is in Knight's order (descending composite, then ascending label, i.e.
        descending nominal composite: :func:`kendall_tau_b_sorted` counts τ-b from it);
        otherwise scores with the order and ties of the rounded composites (for Kendall's τ-b).

    Notes
    -----
    With float64 composites rounded to ``decimals`` the integers ``k = rint(y · 10^d)`` (what
    ``np.round`` computes before its final division) are packed with the label into one float64
    ``−k + label·2^−bits + 1.5·2^(52−bits)``, exact while it lies in [2^(52−bits), 2^(53−bits))
    (checked on the sorted rows' ends; NaN and overflow fall back to
    :func:`sorted_with_ties`), whose bits read as an int64 are a constant plus
    ``(−k)·2^bits + label`` (as in :class:`~pipeline.sensitivity.exact._Exact`): one SIMD
    float64 sort gives the descending order, and two neighbours tie iff their keys agree above
    the label bits.
    """
    c, u = w.shape[0], model.n_units
    row_base = np.arange(0, c * u, u, dtype=np.int64)[:, None]
    dec = model.decimals
    if dec is not None and np.dtype(dtype) == np.float64:
        y = model.evaluate(w, grade_shares=gs, na_policy=pol, geometric=geo, dtype=dtype, rounded=False)
        np.multiply(y, -(10.0**dec), out=y)  # −y·10^d: ascending keys = descending composites
        np.rint(y, out=y)
        bits = max(1, int(u - 1).bit_length())
        lo_ok = 2.0 ** (52 - bits)  # k + label·2^−bits + 1.5·lo_ok is exact iff it lies in [lo_ok, 2·lo_ok)
        y += np.asarray(lab) * 2.0**-bits + 1.5 * lo_ok
        y.sort(axis=1)  # a float64 sort: cheaper than the int64 sort of the same keys
        if y[:, 0].min() >= lo_ok and y[:, -1].max() < 2 * lo_ok:  # False for NaN (sorted last)
            keys = y.view(np.int64)  # a constant plus k·2^bits + label
            x = np.bitwise_xor(keys[:, 1:], keys[:, :-1])
            tied = x.view(np.uint64) < (1 << bits)
            del x
            np.bitwise_and(keys, (1 << bits) - 1, out=keys)
            keys += row_base
            return keys, tied, None
    comp = model.evaluate(w, grade_shares=gs, na_policy=pol, geometric=geo, dtype=dtype)
    asc, tie_rows, tie_rank = sorted_with_ties(comp, decimals=model.decimals)
    tied = np.zeros((c, max(u - 1, 0)), dtype=bool)
    tied[tie_rows] = tie_rank[:, 1:] == tie_rank[:, :-1]
    return lab[asc[:, ::-1]] + row_base, tied, -comp


def _col_counts(b: np.ndarray) -> np.ndarray:
    """True values per column of a boolean (rows × columns) array, summed row by row in the narrowest integer."""
    rows = b.shape[0]
    if rows < 256:
        return np.add.reduce(b.view(np.uint8), axis=0, dtype=np.uint8)
    if rows < 65536:
        return np.add.reduce(b.view(np.uint8), axis=0, dtype=np.uint16)
    return np.count_nonzero(b, axis=0)


class _Pending:
    """Histogram bins of recent samples (samples × units, ``uint16``), counted per block of units.

    ``np.bincount`` of all keys ``unit · nb + bin`` at once writes a units × bins count array
    (410 MB at 10⁵ units) at a random cache line per key. Instead, per block of 512 units the
    buffered bins are transposed (one row per unit), each row is sorted (SIMD 16-bit sort) and
    its runs of equal bins are the counts: one add per distinct (unit, bin), a few per unit
    since a unit's rank moves little between samples.
    """

    def __init__(self, hist: np.ndarray, u: int, nb: int, cap: int):
        self.hist, self.u, self.nb = hist, u, nb
        self.buf = np.empty((cap, u), dtype=np.uint16 if nb <= 1 << 16 else np.int32)
        self.j = 0

    def add(self, r: np.ndarray, width: int, tmp: np.ndarray) -> None:
        """Store the bins ``(r − 1) // width`` of a samples × units rank block (``tmp``: scratch like ``r``)."""
        c = r.shape[0]
        if self.j + c > self.buf.shape[0]:
            self.flush()
        np.subtract(r, 1, out=tmp)
        np.floor_divide(tmp, width, out=self.buf[self.j : self.j + c], casting="unsafe")  # bins < nb fit
        self.j += c

    def flush(self) -> None:
        j, u, nb = self.j, self.u, self.nb
        if not j:
            return
        step = 512
        for lo in range(0, u, step):  # blocks of units (196 at 10⁵ units), vectorised inside
            hi = min(u, lo + step)
            t = np.ascontiguousarray(self.buf[:j, lo:hi].T)  # one row of j bins per unit
            t.sort(axis=1)
            flat = t.reshape(-1)
            new = np.empty(flat.size, dtype=bool)
            new[0] = True
            np.not_equal(flat[1:], flat[:-1], out=new[1:])
            new[::j] = True  # each unit's row starts a run
            starts = np.flatnonzero(new)
            part = self.hist[lo * nb : hi * nb]
            # (unit, bin) of the runs are distinct, so a fancy += adds each count once
            part[(starts // j) * nb + flat[starts]] += np.diff(starts, append=flat.size).astype(part.dtype)
        self.j = 0


def _system(abs_sum, num4, tcube, inter, wcnt, u: int, ss0: float, n_w0: int) -> tuple:
    """Per-sample system statistics from exact integer sums (shared by both paths, so they agree bit for bit).

    ``abs_sum`` = Σ|r − r₀|; ``num4`` = Σ (2·r̄ᵢ) aᵢ with r̄ the average rank and
    ``a = 2·r̄₀ − (u + 1)`` (so 4·cov(r̄, r̄₀) = num4); ``tcube`` = Σ over tie runs of L³ − L
    (Σ(r̄ − m)² = (u³ − u − tcube) / 12); ``inter`` = |W ∩ W₀|; ``wcnt`` = |W|.
    """
    abs_shift = (np.asarray(abs_sum, dtype=np.float64) / u).astype(np.float32)
    ss = (float(u) ** 3 - u - np.asarray(tcube, dtype=np.float64)) / 12.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (np.asarray(num4, dtype=np.float64) / 4.0) / np.sqrt(ss * ss0)
    inter = np.asarray(inter, dtype=np.float64)
    jac = inter / (np.asarray(wcnt, dtype=np.float64) + n_w0 - inter)
    return abs_shift, rho.astype(np.float32), jac.astype(np.float32), (n_w0 - inter).astype(np.int32)


def _run_block(tasks, setup: _Setup) -> _Acc:
    """Statistics of consecutive chunks ``(start, count, SeedSequence)`` of samples."""
    model, u, width = setup.model, setup.model.n_units, setup.width
    exact = width == 1
    nb = -(-u // width)
    hist = np.zeros(u * nb, dtype=np.int64 if exact else np.int32)  # int32: half the bytes to merge (n < 2³¹)
    acc = _Acc(hist=hist)
    r0, c0, top_n = setup.r0, setup.c0, setup.top_n
    w0 = r0 <= top_n
    n_w0 = int(w0.sum())
    cut = min(top_n, u)
    # Spearman with average ranks: a = 2·r̄₀ − (u + 1) (integers), Σ(r̄₀ − m)² = Σa² / 4
    a_int = np.rint(2 * stats.rankdata(-c0, method="average")).astype(np.int64) - (u + 1)
    a_f = a_int.astype(np.float64)
    ss0 = float(a_f @ a_f) / 4.0
    if exact:
        ex = _Exact(setup, a_int, w0)
        hist_l = np.zeros(ex.size, dtype=np.int64)  # by histogram key ((rank − 1)·u + label)
    else:
        acc.sum_r = np.zeros(u, dtype=np.int64)
        acc.sum_r2 = np.zeros(u, dtype=np.int64)
        acc.n_top = np.zeros(u, dtype=np.int64)
        acc.sum_abs = np.zeros(u, dtype=np.int64)
        acc.n_shift = np.zeros((len(setup.ks), u), dtype=np.int64)
        acc.best = np.full(u, u + 1, dtype=np.int64)
        acc.worst = np.zeros(u, dtype=np.int64)
        cap = max(max((t[1] for t in tasks), default=1), min(1024, (1 << 27) // max(u, 1)))  # ≤ 256 MB of bins
        bins = _Pending(hist, u, nb, cap)
        rank1 = np.arange(1, u + 1, dtype=np.int32)
        lab = np.arange(u, dtype=np.int64) if setup.lab is None else np.asarray(setup.lab, dtype=np.int64)
        inv = np.empty(u, dtype=np.int64)
        inv[lab] = np.arange(u)  # unit with label j
        r0_32 = r0[inv].astype(np.int32)  # per-unit arrays by label
        w0_f = w0[inv].astype(np.float64)
        a_f, a_int = a_f[inv], a_int[inv]
        f64_exact = u <= 200_000  # Σ r·a ≤ u³ and per-chunk Σ r² stay below 2⁵³: float64 sums are exact
        d_lab, d_counts = _dense_by_label(r0[inv])

    for start, c, sd in tasks:
        rng = np.random.default_rng(sd)
        w = sample_weights(model.nominal, c, setup.scheme, rng, kappa=setup.kappa, p=setup.p, bounds=setup.bounds)
        gs, pol, geo = _other_factors(rng, c, setup.gb, setup.vary_na_policy, setup.vary_aggregation, model.grade_shares)
        if exact:
            y = model.evaluate(w, grade_shares=gs, na_policy=pol, geometric=geo, dtype=setup.dtype, rounded=False)
            kk = max(0, min(c, setup.k_n - start))
            step = ex.rows if ex.decimals is not None else c
            taus = []
            ex.begin(c)
            for lo in range(0, c, step):  # blocks of samples that stay in cache, vectorised inside
                yb = y[lo : lo + step]
                got = ex.keys(yb, kk - lo) if ex.decimals is not None else None
                if got is None:  # other dtypes, no rounding, or composites beyond the packed range
                    comp = np.round(yb, model.decimals) if ex.decimals is not None else yb
                    keys, tie_rows, tie_rank = ex.keys_sorted_with_ties(comp)
                    tau = kendall_tau_b(comp[: kk - lo], c0) if kk > lo else None
                else:
                    keys, tie_rows, tie_rank, tau = got
                if tau is not None:
                    taus.append(tau)
                ex.add_block(keys, tie_rows, tie_rank, lo)
                ex.count(keys, hist_l)
                del keys
            del y
            abs_sum, num4, tcube, inter, wcnt = ex.sums()
            if kk:
                acc.tau[start] = np.concatenate(taus)
        else:
            idx, tied, tau_scores = _desc_order(model, w, gs, pol, geo, setup.dtype, lab)
            flat = idx.reshape(-1)
            row_base = idx[:, :1] - idx[:, :1] % u
            r = np.empty(c * u, dtype=np.int32)
            r[idx] = rank1  # rank p + 1 at descending position p, then the ties below
            tj = np.flatnonzero(tied)
            top_units = (idx[:, :cut] - row_base).ravel()
            if tj.size:  # tie runs (≈ 3 % of positions at 10⁵ units): competition rank = first position of the run
                s_t = tj // (u - 1)
                p_t = tj - s_t * (u - 1) + 1  # descending position of a unit tied with the one before it
                new = np.empty(tj.size, dtype=bool)
                new[0] = True
                np.not_equal(tj[1:], tj[:-1] + 1, out=new[1:])
                new[1:] |= p_t[1:] == 1  # a run never continues into the next sample
                fp = s_t * u + p_t
                first = np.maximum.accumulate(np.where(new, fp - 1, 0))  # flat position of the run's first unit
                rank_t = first - s_t * u + 1
                ut = flat[fp]
                r[ut] = rank_t
                ut -= s_t * u
                run = np.cumsum(new) - 1
                L = np.bincount(run) + 1
                run_row = s_t[new]
                head = flat[first[new]] - run_row * u
                a_run = np.bincount(run, weights=a_f[ut], minlength=L.size) + a_f[head]
                tcube = np.bincount(run_row, weights=(L**3 - L).astype(np.float64), minlength=c)
                t1 = np.bincount(run_row, weights=(L - 1) * a_run, minlength=c)
                beyond = (rank_t <= top_n) & (p_t >= cut)  # tied with a winner at the cut: also wins
                ext_u, ext_s = ut[beyond], s_t[beyond]
            else:
                tcube = t1 = np.zeros(c)
                ext_u = ext_s = np.zeros(0, dtype=np.int64)
            acc.n_top += np.bincount(np.concatenate([top_units, ext_u]), minlength=u)
            wcnt = cut + np.bincount(ext_s, minlength=c)
            inter = w0_f[top_units].reshape(c, cut).sum(axis=1) + np.bincount(ext_s, weights=w0_f[ext_u], minlength=c)
            r = r.reshape(c, u)
            acc.sum_r += np.add.reduce(r, axis=0, dtype=np.int32 if c * u < 2**31 else np.int64)
            if f64_exact:
                rf = r.astype(np.float64)
                sra = rf @ a_f
                np.multiply(rf, rf, out=rf)
                acc.sum_r2 += np.add.reduce(rf, axis=0).astype(np.int64)
                del rf
            else:  # pragma: no cover - more than 2·10⁵ units
                r64 = r.astype(np.int64)
                sra = (r64 * a_int).sum(axis=1).astype(np.float64)
                acc.sum_r2 += (r64 * r64).sum(axis=0)
                del r64
            num4 = 2 * sra + t1
            d = np.subtract(r, r0_32)
            np.abs(d, out=d)
            acc.sum_abs += np.add.reduce(d, axis=0, dtype=np.int32 if c * u < 2**31 else np.int64)
            abs_sum = np.add.reduce(d, axis=1, dtype=np.int64)
            for j, k in enumerate(setup.ks):
                acc.n_shift[j] += _col_counts(d >= k)
            np.minimum(acc.best, r.min(axis=0), out=acc.best)
            np.maximum(acc.worst, r.max(axis=0), out=acc.worst)
            bins.add(r, width, d)
            if start < setup.k_n:
                kk = min(c, setup.k_n - start)
                if tau_scores is None:  # the sorted order is Knight's: reuse it
                    s = idx[:kk] - row_base[:kk]
                    t_rows = np.flatnonzero(tied[:kk].any(axis=1))  # tie runs only in these rows (few with many decimals)
                    acc.tau[start] = kendall_tau_b_sorted(d_lab[s] if d_counts.size < u else s, d_counts, tied[t_rows], t_rows)
                else:
                    acc.tau[start] = kendall_tau_b(-tau_scores[:kk], c0)
            del r, d, idx
        acc.system[start] = _system(abs_sum, num4, tcube, inter, wcnt, u, ss0, n_w0)
    if exact:
        ex.unit_histogram(hist_l, hist)
    else:
        bins.flush()
    return acc


def _result(acc: _Acc, setup: _Setup, ids, n: int, scheme: str) -> pd.DataFrame:
    """The per-unit table and the system statistics from the merged statistics of all samples."""
    u, width, top_n, r0 = setup.model.n_units, setup.width, setup.top_n, setup.r0
    nb = -(-u // width)
    hist = acc.hist.reshape(u, nb)
    cum = flat_cumsum(hist)  # flat: non-decreasing over all units (first_reaching)
    qs = (histogram_quantile(hist, [0.5, 0.05, 0.95], cum=cum) - 1) * width + 1  # first rank of the bin holding the quantile
    if width == 1:  # everything per unit is read off the exact histogram, via two flat cumulative sums
        ranks = np.arange(1, u + 1, dtype=np.int64)
        off, tot = _row_offsets(cum, u)
        scum = (hist * ranks).reshape(-1)
        sum_r2 = scum.reshape(u, u) @ ranks  # Σ r²
        np.cumsum(scum, out=scum)  # Σ rank over the samples, flat (in place)
        s_off = _row_offsets(scum, u)[0]
        last = np.arange(u, dtype=np.int64) * u - 1  # flat index of rank 0 of each unit (rank r at last + r)

        def cx(r):  # samples of each unit with rank ≤ r (r per unit, 0 ≤ r ≤ u)
            return np.where(r > 0, cum[last + np.maximum(r, 1)] - off, 0)

        r0i = np.asarray(r0, dtype=np.int64)
        sum_r = scum[last + u] - s_off
        n_top = cx(np.full(u, min(top_n, u)))
        c_at = cx(r0i)
        s_at = np.where(r0i > 0, scum[last + np.maximum(r0i, 1)] - s_off, 0)  # Σ rank over the samples with rank ≤ r₀
        sum_abs = (r0i * c_at - s_at) + (sum_r - s_at) - r0i * (tot - c_at)  # Σ (r₀ − r) below r₀ + Σ (r − r₀) above
        within = [cx(np.minimum(r0i + k - 1, u)) - cx(np.maximum(r0i - k, 0)) if k > 0 else 0
                  for k in setup.ks]  # samples with |r − r₀| < k (none for k ≤ 0)
        n_shift = np.stack([tot - w for w in within]) if setup.ks else np.zeros((0, u), np.int64)
        best = first_reaching(cum, u, np.ones(u, dtype=np.int64), off)
        worst = first_reaching(cum, u, tot, off)
    else:  # kept by label (setup.lab): unit i's numbers sit at lab[i]
        lab = np.arange(u) if setup.lab is None else setup.lab
        sum_r, sum_r2, n_top, sum_abs = acc.sum_r[lab], acc.sum_r2[lab], acc.n_top[lab], acc.sum_abs[lab]
        n_shift, best, worst = acc.n_shift[:, lab], acc.best[lab], acc.worst[lab]
        qs = np.clip(qs[:, lab], best, worst)
    mean_rank = sum_r / n
    sd_rank = np.sqrt(np.maximum(sum_r2 / n - mean_rank**2, 0.0))
    out = pd.DataFrame(
        {
            "unit_id": ids,
            "nominal_score": setup.c0,
            "nominal_rank": r0,
            "nominal_winner": r0 <= top_n,
            "mean_rank": mean_rank,
            "sd_rank": sd_rank,
            "median_rank": qs[0],
            "q05": qs[1],
            "q95": qs[2],
            "best_rank": best,
            "worst_rank": worst,
            "p_winner": n_top / n,
            "mean_abs_shift": sum_abs / n,
        }
    )
    for j, k in enumerate(setup.ks):
        out[f"p_shift_ge_{k}"] = n_shift[j] / n
    starts = sorted(acc.system)
    abs_shift, rho, jac, lost = (np.concatenate([acc.system[a][i] for a in starts]) for i in range(4))
    if abs_shift.size != n:  # pragma: no cover - a lost chunk would be a bug in the reduction
        raise PipelineError(f"uncertainty: {abs_shift.size} of {n} samples reduced")
    tau = np.concatenate([acc.tau[a] for a in sorted(acc.tau)]) if acc.tau else np.array([np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN τ (no variation)
        kendall = float(np.nanmean(tau))
    out.attrs["system"] = {
        "n": n,
        "scheme": scheme,
        "n_factors": setup.model.n_factors,
        "mean_abs_shift": float(abs_shift.mean(dtype=np.float64)),
        "sd_abs_shift": float(abs_shift.std(dtype=np.float64)),
        "spearman_mean": float(rho.mean(dtype=np.float64)),
        "spearman_q05": float(np.quantile(rho, 0.05)),
        "kendall_mean": kendall,
        "kendall_n": int(setup.k_n),
        "jaccard_mean": float(jac.mean(dtype=np.float64)),
        "p_same_winners": float((jac == 1).mean()),
        "winners_changed_mean": float(lost.mean(dtype=np.float64)),
        "n_nominal_winners": int((r0 <= top_n).sum()),
        "rank_resolution": int(width),
    }
    # the exact units × ranks histogram only, as an int64 array: pandas deep-copies ``attrs`` on
    # every derived frame (``__finalize__``), and a nested list of units² ints cost ≈ 2 s per
    # chapter 四 run in copies; an array is one memcpy
    out.attrs["histogram"] = hist if width == 1 else np.zeros((0, 0), dtype=np.int64)
    return out


def system_summary(result: pd.DataFrame) -> pd.DataFrame:
    """The numeric system statistics of an :func:`uncertainty` result as a table (``metric``, ``value``)."""
    sysd = result.attrs.get("system")
    if not sysd:
        raise PipelineError("system_summary needs the DataFrame returned by uncertainty()")
    num = {k: float(v) for k, v in sysd.items() if not isinstance(v, str)}
    return pd.DataFrame({"metric": list(num), "value": list(num.values())})
