"""The exact path of :func:`pipeline.sensitivity.uncertainty.uncertainty` (one histogram bin per
rank, up to :data:`~pipeline.sensitivity.uncertainty.EXACT_RANK_UNITS` units): per block of
samples, the order, the histogram keys and the per-sample system sums (:class:`_Exact`).
Split from :mod:`~pipeline.sensitivity.uncertainty`, which runs it; the statistics and their
definitions are documented there."""

from __future__ import annotations

import numpy as np

from pipeline.sensitivity._core import sorted_with_ties
from pipeline.sensitivity.rankstats import kendall_tau_b_sorted

#: Up to this many units the exact path reads Σ|r − r₀| and Σ 2·r̄₀·r of a sample off one table of
#: packed integers (as float64) indexed by the histogram key (u² entries, 512 KB at 256 units: in cache).
_TABLE_UNITS = 256
#: Unit-samples per block of the exact path (a block's int64 arrays, 512 KB, stay in the L2 cache).
_BLOCK_KEYS = 1 << 16
_U64_MAX = np.uint64(2**64 - 1)

def _run_end(rank: np.ndarray) -> np.ndarray:
    """Last position (1-based) of the tie run at each position, from per-position competition ranks of sorted rows."""
    n = rank.shape[1]
    last = np.ones(rank.shape, dtype=bool)
    last[:, :-1] = rank[:, 1:] != rank[:, :-1]
    pos = np.arange(1, n + 1)
    return np.minimum.accumulate(np.where(last, pos, n + 1)[:, ::-1], axis=1)[:, ::-1]


def _dense_by_label(r0_lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense nominal rank (0, 1, …) of each label and the units per dense rank, for Kendall's τ-b.

    Labels follow the nominal order, so ``r0_lab`` is non-decreasing and so is the dense rank.
    """
    d = np.zeros(r0_lab.size, dtype=np.int64)
    np.cumsum(r0_lab[1:] != r0_lab[:-1], out=d[1:])
    return d, np.bincount(d)


class _Exact:
    """The exact path (one histogram bin per rank): per block of samples, the order, the
    histogram keys and the per-sample system sums, in a few passes over cache-sized blocks.

    Units carry labels, their position in the nominal order (as in the binned path). With
    float64 composites rounded to ``decimals``, the integers ``k = rint(−y·10^d)`` (what
    ``np.round`` computes before its final division) are packed with the label into one
    float64 ``k + label·2^−bu + 1.5·2^(52−bu)`` (``bu`` = bits of a label): while
    ``|k| < 2^(51−bu)`` the sum is exact and lies in [2^(52−bu), 2^(53−bu)), where doubles are
    the multiples of 2^−bu, so its bit pattern, read as an int64, is a constant plus
    ``k·2^bu + label`` (the low ``bu`` mantissa bits hold the label; the classic
    "1.5·2^52" conversion, Hacker's Delight §17-2). Sorting these floats (one SIMD float64 sort
    per sample row, cheaper than an int64 sort of the same keys) gives the descending order
    by (composite, nominal label); the range is checked on the sorted rows' first and last
    columns (NaN sorts last). Neighbours tie iff their bit patterns agree above the label bits
    (one xor of the flat block); masked to the label and with ``p·u`` added (*p* the position),
    each key becomes the histogram key ``(rank − 1)·u + label`` of that unit (rank = p + 1 in a
    row without ties; tie rows are corrected with their competition ranks; u² keys, no unused
    ones). Sorted by (composite, nominal label), the labels are also Knight's order for
    Kendall's τ-b (:func:`kendall_tau_b_sorted`). Up to :data:`_TABLE_UNITS` units, Σ|r − r₀|, |W ∩ W₀| and
    Σ 2·r̄₀·r of a row come from one gather of a table indexed by the histogram key, which
    packs the three integers into disjoint bit fields of one float64 (below 2⁵¹, so one BLAS
    mat-vec sums the rows exactly); above, from gathers by label. Samples go in blocks of
    :data:`_BLOCK_KEYS` unit-samples whose scratch arrays stay in the L2 cache (the composites
    of a whole chunk are computed first, in one product). Everything else (other dtypes,
    ``decimals=None``, composites beyond the packed range) goes through
    :func:`~pipeline.sensitivity._core.sorted_with_ties` with the same statistics.

    References
    ----------
    Warren, H. S. (2013). *Hacker's Delight*, 2nd ed., §17-2 (conversion between integers and
    floating point by adding 1.5·2^52).
    """

    def __init__(self, setup: "_Setup", a_int: np.ndarray, w0: np.ndarray):
        model, r0 = setup.model, setup.r0
        u = self.u = model.n_units
        self.lab = np.argsort(np.argsort(r0, kind="stable"), kind="stable")
        inv = self.inv = np.empty(u, dtype=np.int64)  # the unit with label j
        inv[self.lab] = np.arange(u)
        self.r0_lab = r0[inv].astype(np.int64)
        self.a_lab = a_int[inv]  # a = 2·r̄₀ − (u + 1), by label
        self.w0_lab = w0[inv]
        self.d_lab, self.d_counts = _dense_by_label(self.r0_lab)
        self.nominal_ties = self.d_counts.size < u
        self.bu = max(1, int(u - 1).bit_length())
        self.mask = (1 << self.bu) - 1  # the label bits of a key
        self.size = u * u  # histogram keys (rank − 1)·u + label
        # packed sort keys k + label·2^−bu + 1.5·2^(52−bu) are exact iff they lie in [2^(52−bu), 2^(53−bu))
        self.lo_ok, self.hi_ok = 2.0 ** (52 - self.bu), 2.0 ** (53 - self.bu)
        self.lc = self.lab * 2.0**-self.bu + 1.5 * self.lo_ok  # exact: multiples of 2^−bu in that range
        self.pos = np.arange(u, dtype=np.int64)
        self.posu = self.pos * u  # the rank part of each position's key
        # tied, tie_rows, tie_rank of a block without ties
        self._no_ties = (np.zeros((0, max(u - 1, 0)), dtype=bool), np.zeros(0, dtype=np.int64), np.zeros((0, u), dtype=np.int64))
        self.rank_f = np.arange(1, u + 1, dtype=np.float64)
        self.model_decimals = model.decimals
        self.decimals = model.decimals if np.dtype(setup.dtype) == np.float64 else None  # None: no packed keys
        self.rows = max(1, _BLOCK_KEYS // u)  # samples per block: a block's int64 arrays stay in L2
        self._buf = None
        self.cut, self.top_n = min(setup.top_n, u), setup.top_n
        self.sum_rank = u * (u + 1) // 2
        if u <= _TABLE_UNITS:
            d = np.abs(self.pos[None, :] + 1 - self.r0_lab[:, None])  # |r − r₀| at (label, rank − 1)
            s = (self.a_lab[:, None] + (u + 1)) * (self.pos[None, :] + 1)  # 2·r̄₀·r
            win = self.w0_lab[:, None] & (self.pos[None, :] < self.cut)  # a nominal winner at a winning position
            # a row's Σ|r − r₀| < u² (each term < u; with nominal ties it can exceed u²/2) < 2^fa
            self.fa = max(1, int(u * u).bit_length())
            self.fi = max(1, int(u).bit_length())  # its |W ∩ W₀| ≤ u < 2^fi
            tab = (  # by (rank − 1, label): the histogram key
                d + (win.astype(np.int64) << self.fa) + (s << (self.fa + self.fi))).T
            # Σ 2·r̄₀·r ≤ u²(u + 1): the fields end below 2⁵¹ up to 256 units (17 + 9 + 25 bits), so float64 row sums (BLAS) are exact
            self.table = tab.reshape(-1).astype(np.float64)
            self.ones = np.ones(u)
        else:
            self.table = None
            self.r0_f = self.r0_lab.astype(np.float64)
            self.a2_f = (self.a_lab + (u + 1)).astype(np.float64)

    def _buffers(self, b: int):
        """Scratch arrays of a block of ``b`` samples (allocated once: no page faults per block)."""
        if self._buf is None:
            r, u = self.rows, self.u
            self._buf = (np.empty((r, u)), np.empty(r * u, dtype=np.int64),
                         np.tile(self.lc, (r, 1)), np.tile(self.posu, (r, 1)))  # tiled: contiguous SIMD adds
        t, x, lc, posu = self._buf
        return t[:b], x[: b * self.u].reshape(b, self.u), lc[:b], posu[:b]

    def keys(self, y: np.ndarray, kk: int):
        """Histogram keys, tie rows, their competition ranks and τ-b of the first ``kk`` rows of a
        block of unrounded float64 composites; None if the packed keys do not fit. The keys live
        in a scratch array, valid until the next call."""
        u, mask = self.u, self.mask
        t, x, lc, posu = self._buffers(y.shape[0])
        np.multiply(y, -(10.0**self.decimals), out=t)
        np.rint(t, out=t)
        t += lc
        t.sort(axis=1)
        lo, hi = float(t[:, 0].min()), float(t[:, -1].max())
        if not (lo >= self.lo_ok and hi < self.hi_ok):  # also False for NaN (sorted last)
            return None
        keys = t.view(np.int64)  # a constant plus k·2^bu + label, in the same order
        # neighbours xor-ed over the flat block (contiguous, SIMD): x[s, p] pairs positions p and
        # p + 1 of sample s; x[s, u − 1] pairs two samples and is overwritten with the maximum
        kf, xf = keys.reshape(-1), x.reshape(-1)
        np.bitwise_xor(kf[1:], kf[:-1], out=xf[:-1])
        xu = x.view(np.uint64)  # ≤ mask iff the neighbours are equal above the label bits
        xu[:, -1] = _U64_MAX
        if xu.min() > mask:  # no tie in the block (the rule with many decimals)
            keys &= mask  # the labels in descending order
            tau = self._tau(keys, kk, *self._no_ties[:2])
            keys += posu
            return keys, *self._no_ties[1:], tau
        tie_rows = np.flatnonzero(xu.min(axis=1) <= mask)
        tied = xu[tie_rows, :-1] <= mask  # neighbours with equal composites
        keys &= mask  # the labels in descending order
        tau = self._tau(keys, kk, tied, tie_rows)
        keys += posu
        tie_rank = np.ones((tie_rows.size, u), dtype=np.int64)  # competition rank = 1 + first position of the run
        tie_rank[:, 1:] = np.where(tied, 0, self.pos[1:] + 1)
        np.maximum.accumulate(tie_rank, axis=1, out=tie_rank)
        self._fix_ties(keys, tie_rows, tie_rank)
        return keys, tie_rows, tie_rank, tau

    def _tau(self, labels: np.ndarray, kk: int, tied: np.ndarray, tie_rows: np.ndarray):
        """Kendall's τ-b of the first ``kk`` rows of sorted labels (None if ``kk ≤ 0``)."""
        if kk <= 0:
            return None
        s = labels[:kk]
        if self.nominal_ties:
            s = self.d_lab[s]
        sel = tie_rows < kk
        return kendall_tau_b_sorted(s, self.d_counts, tied[sel], tie_rows[sel])

    def _fix_ties(self, keys: np.ndarray, tie_rows: np.ndarray, tie_rank: np.ndarray) -> None:
        """Put the competition ranks of the tie rows into their histogram keys (in place)."""
        if tie_rows.size:
            keys[tie_rows] += (tie_rank - 1 - self.pos) * self.u  # rank − 1 for position

    def order_keys(self, lab_desc: np.ndarray) -> np.ndarray:
        """Histogram keys ``p·u + label`` of rows of labels in descending order (no ties)."""
        return self.posu[: lab_desc.shape[1]] + lab_desc

    def keys_sorted_with_ties(self, comp: np.ndarray):
        """Histogram keys, tie rows and their ranks from :func:`sorted_with_ties` (the general path)."""
        asc, tie_rows, tie_rank = sorted_with_ties(comp, decimals=self.model_decimals)
        keys = self.order_keys(self.lab[asc[:, ::-1]])
        self._fix_ties(keys, tie_rows, tie_rank)
        return keys, tie_rows, tie_rank

    def count(self, keys: np.ndarray, hist_keys: np.ndarray) -> None:
        """Add a block's histogram keys to the counts by key (``hist_keys``, in place).

        One ``np.bincount`` when the block has at least as many keys as there are bins (up to
        256 units), else ``np.add.at``, which has no bins-sized temporary (u² counts) to allocate
        and add per block.
        """
        k = keys.reshape(-1)
        if k.size >= self.size:
            hist_keys += np.bincount(k, minlength=self.size)
        else:
            np.add.at(hist_keys, k, 1)

    def unit_histogram(self, hist_keys: np.ndarray, out: np.ndarray) -> None:
        """Write the units × ranks histogram (flat; unit *i*'s row is that of its label) from counts by histogram key."""
        u = self.u
        out.reshape(u, u)[self.inv] = hist_keys.reshape(u, u).T  # [rank − 1, label] → [unit, rank − 1]; row-wise writes

    def system(self, keys: np.ndarray, tie_rows: np.ndarray, tie_rank: np.ndarray):
        """Per-sample exact sums (Σ|r − r₀|, num4, tcube, |W ∩ W₀|, |W|) of one block (see :func:`_system`)."""
        self.begin(keys.shape[0])
        self.add_block(keys, tie_rows, tie_rank, 0)
        return self.sums()

    def begin(self, c: int) -> None:
        """Start the per-sample sums of a chunk of ``c`` samples (filled block by block by :meth:`add_block`)."""
        self._c = c
        self._tot = np.empty(c) if self.table is not None else np.empty((3, c))
        self._fixes = []

    def add_block(self, keys: np.ndarray, tie_rows: np.ndarray, tie_rank: np.ndarray, lo: int) -> None:
        """Sums of the block of samples ``lo, lo + 1, …`` with these histogram keys, tie rows and ranks."""
        u, c = self.u, keys.shape[0]
        if self.table is not None:
            self._buffers(0)  # the gather goes to keys()'s xor scratch (free once keys() returned)
            g = self._buf[1][: c * u].view(np.float64).reshape(c, u) if c <= self.rows else None
            g = np.take(self.table, keys, mode="clip", out=g)  # keys are in range: no bounds-check buffer
            np.matmul(g, self.ones, out=self._tot[lo : lo + c])  # the packed fields, summed exactly
            del g
        else:
            abs_sum, s2, inter = self._tot[:, lo : lo + c]
            # labels (garbage, but in range, in tie rows: their sums are replaced below)
            lab = keys - self.posu
            inter[:] = np.take(self.w0_lab, lab[:, : self.cut], mode="clip").sum(axis=1)
            g = np.take(self.r0_f, lab, mode="clip")
            np.subtract(g, self.rank_f, out=g)
            np.abs(g, out=g)
            np.add.reduce(g, axis=1, out=abs_sum)
            np.take(self.a2_f, lab, out=g, mode="clip")
            np.matmul(g, self.rank_f, out=s2)
            del g, lab
        if tie_rows.size:
            lab = keys[tie_rows] % u
            end = _run_end(tie_rank)
            top = tie_rank <= self.top_n
            self._fixes.append((lo + tie_rows, np.abs(tie_rank - self.r0_lab[lab]).sum(axis=1),
                                ((tie_rank + end) * self.a_lab[lab]).sum(axis=1),
                                ((end - tie_rank + 1) ** 2 - 1).sum(axis=1),
                                (top & self.w0_lab[lab]).sum(axis=1), top.sum(axis=1)))

    def sums(self):
        """Σ|r − r₀|, num4, tcube, |W ∩ W₀| and |W| of every sample of the chunk (exact integers, as float64)."""
        u, c = self.u, self._c
        if self.table is not None:
            tot = self._tot.astype(np.int64)
            abs_sum = (tot & ((1 << self.fa) - 1)).astype(np.float64)
            inter = ((tot >> self.fa) & ((1 << self.fi) - 1)).astype(np.float64)
            s2 = (tot >> (self.fa + self.fi)).astype(np.float64)
        else:
            abs_sum, s2, inter = self._tot
        num4 = 2 * s2 - 2 * (u + 1) * self.sum_rank  # 2·Σ a·r (Σ r = u(u + 1)/2)
        tcube = np.zeros(c)
        wcnt = np.full(c, float(self.cut))
        for rows, *vals in self._fixes:  # rows with ties (a few blocks)
            for arr, v in zip((abs_sum, num4, tcube, inter, wcnt), vals):
                arr[rows] = v
        self._tot = self._fixes = None
        return abs_sum, num4, tcube, inter, wcnt
