"""Rank statistics of the Monte Carlo engine (:mod:`pipeline.sensitivity.uncertainty`).

* :func:`histogram_quantile` — inverse-CDF quantiles of integer ranks from per-unit rank
  histograms (exact or binned);
* :func:`kendall_tau_b` — Kendall's τ-b of many samples against the nominal composites, by
  merge-sort inversion counting (Knight 1966), O(n log² n) per sample, ties as in
  :func:`scipy.stats.kendalltau` (variant ``b``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["histogram_quantile", "kendall_tau_b"]


def histogram_quantile(hist: np.ndarray, q) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray of int, shape (n_units,), or (len(q), n_units) for a sequence
    """
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    hist = np.asarray(hist)
    total = hist.sum(axis=1, dtype=np.int64)
    # int32 cumulative counts when they fit: half the memory traffic of int64
    cdf = np.cumsum(hist, axis=1, dtype=np.int32 if total.max(initial=0) < 2**31 else np.int64)
    out = np.empty((qs.size, hist.shape[0]), dtype=np.int64)
    for j, qq in enumerate(qs):  # a few levels (0.05, 0.5, 0.95)
        # compare counts, not floats: F(r) ≥ q  ⇔  cum_count ≥ ⌈q · n − 10⁻⁹ · n⌉ (exactly, for the usual q)
        need = np.ceil(qq * total - 1e-9 * total).astype(cdf.dtype)
        out[j] = 1 + np.argmax(cdf >= need[:, None], axis=1)
    return out if np.ndim(q) else out[0]


def _inversions(s: np.ndarray, top: int) -> np.ndarray:
    """Strict inversions ``#{(i, j): i < j, s_i > s_j}`` of each row of non-negative ints ``s`` (< ``top``).

    Bottom-up merge sort over all rows at once (Knight 1966). Inside blocks of 16 positions
    every pair is compared directly (120 vectorised comparisons; a sort of such short rows
    costs more than the comparisons), then the blocks are sorted. At each following level,
    with blocks of length *b*, each right block R is merged with its left block L by one
    in-place sort of ``2·value + [in R]`` (so equal values of L come first) and every
    element of R at merged position *p* (its *j*-th in R) has ``p − j`` elements of L not
    greater than it, i.e. ``b − (p − j)`` greater ones. log₂ n levels of O(n log b) work:
    O(n log² n) per row with NumPy's sort, no n² pair matrix. Rows are padded with ``top``
    (larger than every value) to a power of two; padding sits at the end and adds no
    inversion.
    """
    m, n = s.shape
    n2 = 1 << max(0, int(n - 1).bit_length())
    if n2 == 1:
        return np.zeros(m, dtype=np.int64)
    key = np.full((m, n2), int(top), dtype=np.int64)
    key[:, :n] = s
    b = min(16, n2)
    blk = key.reshape(m, n2 // b, b)
    inv = np.zeros(m, dtype=np.int64)
    for i in range(b - 1):  # positions inside a block (≤ 15 steps), all blocks and rows at once
        inv += (blk[:, :, i : i + 1] > blk[:, :, i + 1 :]).sum(axis=(1, 2))
    blk.sort(axis=2)
    key <<= 1
    while b < n2:
        nb = n2 // (2 * b)
        key.reshape(m, nb, 2, b)[:, :, 1, :] |= 1
        key.reshape(m * nb, 2 * b).sort(axis=1)
        # Σ over R of (b − p + j) = nb·(b² + b(b−1)/2) − Σ_R p   (p: merged position, j: index in R)
        ft = np.float32 if 2 * b <= 4096 else np.float64  # Σ_R p < (2b)²/2 is exact in float32 up to 2b = 4096
        flags = (key & 1).reshape(m * nb, 2 * b).astype(ft)
        sum_p = (flags @ np.arange(2 * b, dtype=ft)).reshape(m, nb).sum(axis=1, dtype=np.float64)
        inv += nb * (b * b + b * (b - 1) // 2) - np.rint(sum_p).astype(np.int64)
        key &= -2  # clear the R flags for the next level
        b *= 2
    return inv


def _tied_pairs(sorted_rows: np.ndarray) -> np.ndarray:
    """Pairs of equal values in each row of a row-wise sorted array: Σ over runs of C(len, 2)."""
    m, n = sorted_rows.shape
    pos = np.arange(n, dtype=np.int64)
    new = np.ones((m, n), dtype=bool)
    new[:, 1:] = sorted_rows[:, 1:] != sorted_rows[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)
    return (pos - start).sum(axis=1)  # element k of a run adds the k earlier members


def kendall_tau_b(c: np.ndarray, c0: np.ndarray) -> np.ndarray:
    """Kendall's τ-b between each row of ``c`` (samples × units) and the vector ``c0``.

    .. math:: \\tau_b = \\frac{n_c - n_d}{\\sqrt{(n_0 - n_1)(n_0 - n_2)}}

    with :math:`n_0 = n(n-1)/2`, :math:`n_1` / :math:`n_2` the pairs tied in ``c0`` / in the
    row and :math:`n_c - n_d = n_0 - n_1 - n_2 + n_3 - 2 n_d` (:math:`n_3` pairs tied in both),
    the formula of Knight (1966) used by ``scipy.stats.kendalltau``. The discordant pairs
    :math:`n_d` are the strict inversions of the nominal dense ranks once units are ordered by
    (row value, nominal value), counted by merge sort (:func:`_inversions`): O(n log² n) per
    row instead of the n² pair comparisons. A row (or ``c0``) without variation gives NaN.

    References
    ----------
    Knight, W. R. (1966). A computer method for calculating Kendall's tau with ungrouped data.
    *JASA* 61(314), 436–439.
    """
    c = np.atleast_2d(np.asarray(c))
    m, u = c.shape
    _, k0 = np.unique(np.asarray(c0), return_inverse=True)
    k0 = k0.astype(np.int64).ravel()
    n0 = u * (u - 1) // 2
    n1 = int(_tied_pairs(np.sort(k0)[None, :])[0])
    order = np.argsort(c, axis=1)  # order inside ties is irrelevant: the key sort below fixes it
    srt = np.take_along_axis(c, order, axis=1)
    new = np.zeros((m, u), dtype=np.int64)
    new[:, 1:] = srt[:, 1:] != srt[:, :-1]
    dense = np.cumsum(new, axis=1)  # dense rank of the row value at each sorted position
    n2 = _tied_pairs(dense)
    bits = max(1, int(u).bit_length())
    key = (dense << bits) | k0[order]
    key.sort(axis=1)  # by row value, then nominal value
    n3 = _tied_pairs(key)
    nd = _inversions(key & ((1 << bits) - 1), int(k0.max(initial=0)) + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (n0 - n1 - n2 + n3 - 2 * nd) / np.sqrt(float(n0 - n1) * (n0 - n2).astype(float))
