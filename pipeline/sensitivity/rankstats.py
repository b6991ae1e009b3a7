"""Rank statistics of the Monte Carlo engine (:mod:`pipeline.sensitivity.uncertainty`).

* :func:`histogram_quantile` — inverse-CDF quantiles of integer ranks from per-unit rank
  histograms (exact or binned);
* :func:`kendall_tau_b` — Kendall's τ-b of many samples against the nominal composites, by
  merge-sort inversion counting (Knight 1966), O(n log² n) per sample, ties as in
  :func:`scipy.stats.kendalltau` (variant ``b``); :func:`kendall_tau_b_sorted` — the same from
  rows already in Knight's order (the uncertainty engine's own sort provides it).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["histogram_quantile", "first_reaching", "flat_cumsum", "kendall_tau_b", "kendall_tau_b_sorted"]


def histogram_quantile(hist: np.ndarray, q, cum: np.ndarray | None = None) -> np.ndarray:
    """Inverse-CDF quantile of integer ranks from per-unit rank histograms.

    ``Q(q) = min{r : F(r) ≥ q}`` with ``F`` the empirical CDF of the unit's ranks (Hyndman &
    Fan 1996, definition 1; ``numpy.quantile(..., method="inverted_cdf")``). For q = 0.5 this
    is the *lower median*.

    Parameters
    ----------
    hist : numpy.ndarray, shape (n_units, n_ranks)
        ``hist[i, r-1]`` = number of samples in which unit *i* had rank *r*.
    q : float in (0, 1], or a sequence of them
        Several levels share one cumulative sum (one pass over the histogram).
    cum : numpy.ndarray of int, shape (n_units · n_ranks,), optional
        :func:`flat_cumsum` of ``hist`` if the caller has it already (:func:`first_reaching`).

    Returns
    -------
    numpy.ndarray of int, shape (n_units,), or (len(q), n_units) for a sequence
    """
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    hist = np.asarray(hist)
    if cum is None:
        cum = flat_cumsum(hist)
    off, total = _row_offsets(cum, hist.shape[1])
    out = np.empty((qs.size, hist.shape[0]), dtype=np.int64)
    for j, qq in enumerate(qs):  # a few levels (0.05, 0.5, 0.95)
        # compare counts, not floats: F(r) ≥ q  ⇔  cum_count ≥ ⌈q · n − 10⁻⁹ · n⌉ (exactly, for the usual q)
        need = np.ceil(qq * total - 1e-9 * total).astype(np.int64)
        out[j] = first_reaching(cum, hist.shape[1], need, off)
    return out if np.ndim(q) else out[0]


def flat_cumsum(hist: np.ndarray) -> np.ndarray:
    """Cumulative counts of a histogram taken flat (row after row): int32 while the grand total
    fits (an int32 histogram is then summed without a cast of every element), else int64."""
    flat = np.asarray(hist).reshape(-1)
    if flat.dtype == np.int32 and int(flat.sum(dtype=np.int64)) < 2**31 - 1:
        return np.cumsum(flat, dtype=np.int32)
    return np.cumsum(flat, dtype=np.int64)


def _row_offsets(cum: np.ndarray, n_ranks: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts before each row and in each row, from the flat cumulative counts of a (rows × ``n_ranks``) histogram."""
    ends = cum[n_ranks - 1 :: n_ranks].astype(np.int64)
    off = np.zeros(ends.size, dtype=np.int64)
    off[1:] = ends[:-1]
    return off, ends - off


def first_reaching(cum: np.ndarray, n_ranks: int, need: np.ndarray, off: np.ndarray | None = None) -> np.ndarray:
    """Per row of a histogram, the first rank *r* (1-based) whose cumulative count reaches ``need``.

    ``cum`` = :func:`flat_cumsum` of a (rows × ``n_ranks``) histogram of non-negative counts: it
    is non-decreasing over the whole array, so all rows are answered by one binary search of
    ``off + need`` (``off`` = counts before the row), O(rows · log(size)) after the
    one cumulative pass, instead of a comparison pass per level. Rank 1 where ``need ≤ 0``
    (as ``argmax`` of an all-true row) or the row cannot reach it.
    """
    if off is None:
        off = _row_offsets(cum, n_ranks)[0]
    rows = np.arange(off.size, dtype=np.int64)
    top = int(cum[-1]) + 1 if cum.size else 1  # needles above every count stay above after clipping (and fit cum's dtype)
    needle = np.minimum(off + np.maximum(need, 1), top).astype(cum.dtype)
    idx = np.searchsorted(cum, needle, side="left") - rows * n_ranks
    ok = (need > 0) & (idx < n_ranks)  # idx ≥ 0: the counts before the row are < off + 1
    return np.where(ok, idx, 0) + 1


def _inversions(s: np.ndarray, top: int) -> np.ndarray:
    """Strict inversions ``#{(i, j): i < j, s_i > s_j}`` of each row of non-negative ints ``s`` (< ``top``).

    Bottom-up merge sort over all rows at once (Knight 1966). Inside blocks of 16 positions
    every pair is compared directly (120 vectorised comparisons; a sort of such short rows
    costs more than the comparisons). At each following level, with blocks of length *b*,
    each right block R is merged with its left block L by one in-place sort of
    ``2·value + [in R]`` (so equal values of L come first) and every element of R at merged
    position *p* (its *j*-th in R) has ``p − j`` elements of L not greater than it, i.e.
    ``b − (p − j)`` greater ones. The sum over R of ``p − j`` does not depend on the order of
    L and R before the sort, so the 16-blocks need no sort of their own. Blocks sit at multiples
    of 2b (bottom-up merge sort of any length): where a row ends inside a pair of blocks, its
    last L is merged with the shorter R that follows. ⌈log₂ n⌉ levels of O(n log b) work:
    O(n log² n) per row, no n² pair matrix. Rows are padded with ``top`` (larger than every
    value) to a multiple of 16 only; padding sits at the end and adds no inversion.

    The keys are 16-bit integers while ``2·top < 2¹⁵`` (32-bit above): NumPy's SIMD sort of
    16-bit rows costs about 1–2 ns per element, so a level costs a few ns per element. Rows
    are taken in blocks of about 2¹⁶ keys, which stay in the L2 cache through all levels.
    """
    s = np.asarray(s)
    m, n = s.shape
    inv = np.zeros(m, dtype=np.int64)
    if n < 2 or m == 0:
        return inv
    dt = np.int16 if 2 * int(top) + 1 < 1 << 15 else np.int32  # keys 2·value + flag, padding top
    b0 = 16
    n16 = -(-n // b0) * b0  # padded to whole 16-blocks only
    rows = max(1, (1 << 16) // n16)
    pos = {}

    def sum_pos(flags_rows, length):  # Σ of the flagged positions of each row (exact: float32 below 2²⁴)
        ft = np.float32 if length <= 4096 else np.float64  # Σ p < length²/2
        if (length, ft) not in pos:
            pos[length, ft] = np.arange(length, dtype=ft)
        return flags_rows.astype(ft) @ pos[length, ft]

    for a in range(0, m, rows):  # blocks of rows, vectorised inside
        r = min(rows, m - a)
        key = np.full((r, n16), int(top), dtype=dt)
        key[:, :n] = s[a : a + r]
        blk = key.reshape(r, n16 // b0, b0)
        acc = np.zeros(r, dtype=np.int64)
        for i in range(b0 - 1):  # positions inside a block (15 steps), all blocks and rows at once
            acc += np.count_nonzero(blk[:, :, i : i + 1] > blk[:, :, i + 1 :], axis=(1, 2))
        key <<= 1
        b = b0
        while b < n16:
            nb = n16 // (2 * b)  # whole pairs of blocks (L, R)
            full = nb * 2 * b
            if nb:
                kb = key[:, :full].reshape(r, nb, 2 * b)  # a view: each row's blocks are contiguous
                kb[:, :, b:] |= 1
                kb.sort(axis=2)
                # Σ over R of (b − p + j) = nb·(b² + b(b−1)/2) − Σ_R p   (p: merged position, j: index in R)
                sum_p = sum_pos(kb & 1, 2 * b).sum(axis=1, dtype=np.float64)
                acc += nb * (b * b + b * (b - 1) // 2) - np.rint(sum_p).astype(np.int64)
            if n16 - full > b:  # a last L of b and a shorter R of br = n16 − full − b
                br = n16 - full - b
                part = key[:, full:]
                part[:, b:] |= 1
                part.sort(axis=1)
                sum_p = sum_pos(part & 1, b + br).astype(np.float64)
                acc += br * b + br * (br - 1) // 2 - np.rint(sum_p).astype(np.int64)
            key &= -2  # clear the R flags for the next level
            b *= 2
        inv[a : a + r] = acc
    return inv


def _run_pairs(tied: np.ndarray) -> np.ndarray:
    """Σ over runs of C(len, 2) per row, from ``tied[:, p − 1]`` = position *p* continues the run of *p − 1*.

    A run of *k* consecutive flags joins k + 1 positions, C(k + 1, 2) = k(k + 1)/2 pairs. The
    flags are found in one pass over the flat array; a run breaks where the flat indices of
    two set flags are not consecutive or change rows. Work beyond that pass is proportional to
    the number of set flags (ties are rare with many decimals).
    """
    m, n1 = tied.shape
    out = np.zeros(m, dtype=np.int64)
    idx = np.flatnonzero(tied)
    if idx.size == 0:
        return out
    row = idx // n1
    brk = np.empty(idx.size, dtype=bool)
    brk[0] = True
    brk[1:] = (idx[1:] != idx[:-1] + 1) | (row[1:] != row[:-1])
    starts = np.flatnonzero(brk)
    k = np.diff(starts, append=idx.size)  # flags per run
    np.add.at(out, row[starts], k * (k + 1) // 2)
    return out


def kendall_tau_b(c: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """Kendall's τ-b between each row of ``c`` (samples × units) and the vector ``c0``.

    .. math:: \\tau_b = \\frac{n_c - n_d}{\\sqrt{(n_0 - n_1)(n_0 - n_2)}}

    with :math:`n_0 = n(n-1)/2`, :math:`n_1` / :math:`n_2` the pairs tied in ``c0`` / in the
    row and :math:`n_c - n_d = n_0 - n_1 - n_2 + n_3 - 2 n_d` (:math:`n_3` pairs tied in both),
    the formula of Knight (1966) used by ``scipy.stats.kendalltau``. The units of each row are
    ordered by (row value, nominal value) and :func:`kendall_tau_b_sorted` counts the rest. A
    row (or ``c0``) without variation gives NaN.

    References
    ----------
    Knight, W. R. (1966). A computer method for calculating Kendall's tau with ungrouped data.
    *JASA* 61(314), 436–439.
    """
    c = np.atleast_2d(np.asarray(c))
    m, u = c.shape
    _, k0 = np.unique(np.asarray(c0), return_inverse=True)
    k0 = k0.astype(np.int64).ravel()
    order = np.argsort(c, axis=1)  # order inside ties is irrelevant: the key sort below fixes it
    srt = np.take_along_axis(c, order, axis=1)
    new = np.zeros((m, u), dtype=np.int64)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    dense = np.cumsum(new, axis=1)  # dense rank of the row value at each sorted position
    bits = max(1, int(u).bit_length())
    key = (dense << bits) | k0[order]
    key.sort(axis=1)  # by row value, then nominal value
    return kendall_tau_b_sorted(key & ((1 << bits) - 1), np.bincount(k0), new[:, 1:] == 0)


def kendall_tau_b_sorted(s: np.ndarray, counts, tied: np.ndarray | None = None, rows=None) -> np.ndarray:
    """Kendall's τ-b of rows already in Knight's order (the formula of :func:`kendall_tau_b`).

    Parameters
    ----------
    s : numpy.ndarray of int, shape (m, n)
        Per row, the nominal dense rank (0, 1, …) of the unit at each position, the units
        ordered by (row value, nominal value), both ascending or both descending (reversing
        both orders keeps every pair's concordance). :math:`n_d` are the strict inversions of
        each row (:func:`_inversions`).
    counts : array_like of int
        ``counts[k]`` = units of nominal dense rank *k*; :math:`n_1 = Σ C(counts, 2)`.
    tied : numpy.ndarray of bool, shape (len(rows), n − 1), optional
        ``tied[i, p − 1]``: positions *p − 1* and *p* of row ``rows[i]`` (of row *i* without
        ``rows``) have equal row values. Rows not listed have no ties (:math:`n_2 = n_3 = 0`);
        :math:`n_3` counts the pairs of a tie run that also share the nominal rank.

    Returns
    -------
    numpy.ndarray of float, shape (m,)
    """
    s = np.asarray(s)
    m, u = s.shape
    counts = np.asarray(counts, dtype=np.int64)
    n0 = u * (u - 1) // 2
    n1 = int((counts * (counts - 1) // 2).sum())
    n2 = np.zeros(m, dtype=np.int64)
    n3 = np.zeros(m, dtype=np.int64)
    if tied is not None:
        rows = np.arange(m) if rows is None else np.asarray(rows)
        if rows.size:
            n2[rows] = _run_pairs(tied)
            if n1:  # else no pair shares the nominal rank: n3 = 0
                ti, tp = np.divmod(np.flatnonzero(tied), u - 1)  # tied neighbours (p, p + 1): compare their nominal ranks there only
                both = np.zeros(tied.shape, dtype=bool)
                both[ti, tp] = s[rows[ti], tp] == s[rows[ti], tp + 1]
                n3[rows] = _run_pairs(both)
    nd = _inversions(s, max(1, counts.size))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (n0 - n1 - n2 + n3 - 2 * nd) / np.sqrt(float(n0 - n1) * (n0 - n2).astype(float))
