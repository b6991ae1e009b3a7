"""The exact path's packed sort keys and the flat-cumulative histogram look-ups (issue #14, fourth round)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats

from pipeline.sensitivity import rankstats

U = importlib.import_module("pipeline.sensitivity.uncertainty")  # the module (the package exports a function of that name)


def _exact(u: int, seed: int = 4):
    """An _Exact of a u-unit one-item world with nominal ties (whole points), 6 decimals."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 5, (u, 1)).astype(float)
    model = U.Composite(x, [10.0], decimals=6)
    c0 = model.evaluate(model.nominal)
    r0 = U.fast_rank(c0[None])[0]
    setup = U._Setup(model=model, c0=c0, r0=r0, top_n=3, ks=(1,), width=1, k_n=0, scheme="dirichlet", kappa=200.0,
                     p=0.2, bounds=None, gb=None, vary_na_policy=False, vary_aggregation=False, dtype=np.float64)
    a = np.rint(2 * stats.rankdata(-c0, method="average")).astype(np.int64) - (u + 1)
    return U._Exact(setup, a, r0 <= 3)


def _brute_keys(ex, y: np.ndarray) -> np.ndarray:
    """Histogram keys ``(rank − 1)·u + label`` by brute force: competition ranks of ``rint(y·10⁶)``
    from ``scipy.stats.rankdata(method="min")``, placed at each unit's position in the descending
    order by (composite, label) (the order inside a tie does not change the keys)."""
    k = np.rint(y * 1e6)
    rank = np.array([stats.rankdata(-row, method="min") for row in k]).astype(np.int64)
    order = np.lexsort((np.broadcast_to(ex.lab, k.shape), -k), axis=1)  # descending composite, then ascending label
    return np.take_along_axis((rank - 1) * ex.u + ex.lab, order, axis=1)


@pytest.mark.parametrize("u", [7, 45, 300])
def test_packed_keys_match_brute_force_ranks_with_ties(u):
    """Packed float64 keys (k + label·2^−bu + 1.5·2^(52−bu), sorted, read as int64 bits) give the
    histogram keys and tie rows of a brute force, on rows with many ties and rows without."""
    ex = _exact(u)
    rng = np.random.default_rng(u)
    y = np.round(rng.uniform(60, 95, (40, u)), 6)
    y[::2] = np.round(y[::2], 0)  # whole points: ties in every even row
    y[1] = np.round(rng.uniform(60, 95, u), 6) + np.arange(u) * 1e-3  # all distinct
    got = ex.keys(y, 0)
    assert got is not None
    keys, tie_rows, tie_rank, _ = got
    assert_array_equal(keys, _brute_keys(ex, y))
    k = np.rint(y * 1e6)
    assert_array_equal(tie_rows, np.flatnonzero([np.unique(row).size < u for row in k]))
    # the general path (sorted_with_ties) gives the same keys (up to the order inside a tie)
    keys2, tie_rows2, _ = ex.keys_sorted_with_ties(np.round(y, 6))
    assert_array_equal(np.sort(keys, axis=1), np.sort(keys2, axis=1))
    assert_array_equal(tie_rows, tie_rows2)


def test_packed_keys_range_edges_and_nan():
    """The packed keys are exact while |rint(−y·10⁶)| < 2^(51−bu) (sorted rows' ends in
    [2^(52−bu), 2^(53−bu))): just inside they still match the brute force; one unit just
    outside, or a NaN composite, makes keys() decline (None) so that the caller falls back."""
    u = 45
    ex = _exact(u)
    lim = 2.0 ** (51 - ex.bu)  # |k| < lim fits
    rng = np.random.default_rng(0)
    base = np.round(rng.uniform(60, 95, (3, u)), 6)
    for sign in (1.0, -1.0):
        y = base.copy()
        y[:, 0] = sign * (lim - 1) / 1e6  # k = ∓(lim − 1): inside
        y[:, 1] = y[:, 0]  # and tied with unit 0
        k = np.rint(y * -1e6)
        assert np.abs(k).max() == lim - 1
        got = ex.keys(y, 0)
        assert got is not None
        assert_array_equal(got[0], _brute_keys(ex, y))
        y[1, 2] = sign * (lim + 64) / 1e6  # one unit of one row beyond the range
        assert ex.keys(y, 0) is None
    y = base.copy()
    y[2, 5] = np.nan
    assert ex.keys(y, 0) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_reaching_matches_argmax(seed):
    """first_reaching (one binary search of the flat cumulative counts) against the per-row
    ``argmax(cdf ≥ need) + 1`` it replaces, with empty rows, zero counts at the ends and
    needs ≤ 0, inside, equal to and beyond each row's total."""
    rng = np.random.default_rng(seed)
    hist = rng.integers(0, 4, (30, 17)) * (rng.random((30, 17)) < 0.4)
    hist[3] = 0
    hist[5, :4] = 0
    hist[6, -5:] = 0
    total = hist.sum(axis=1)
    cdf = np.cumsum(hist, axis=1)
    for cum in (np.cumsum(hist.ravel()), rankstats.flat_cumsum(hist.astype(np.int32))):  # int64, int32 counts
        for need in (np.zeros(30, int), np.full(30, -2), np.ones(30, int), total, total + 1,
                     rng.integers(0, total.max() + 2, 30)):
            ref = np.argmax(cdf >= need[:, None], axis=1) + 1
            assert_array_equal(rankstats.first_reaching(cum, 17, need), ref)
    assert rankstats.flat_cumsum(hist.astype(np.int32)).dtype == np.int32


def test_histogram_quantile_with_given_cumulative_counts():
    """histogram_quantile with the caller's flat cumulative counts equals numpy's inverted-CDF
    quantile of the ranks themselves."""
    rng = np.random.default_rng(9)
    r = rng.integers(1, 13, (20, 301))
    hist = np.stack([np.bincount(row - 1, minlength=12) for row in r])
    q = [0.05, 0.5, 0.95]
    got = rankstats.histogram_quantile(hist, q, cum=np.cumsum(hist.ravel()))
    assert_array_equal(got, np.quantile(r, q, axis=1, method="inverted_cdf"))


def test_run_pairs_matches_pair_count():
    """Σ C(len, 2) over tie runs against counting the pairs (i < j) of positions in one run
    directly, on rows with no runs, one long run, runs at both ends, and an empty shape."""
    rng = np.random.default_rng(5)
    tied = rng.random((60, 23)) < 0.45
    tied[0] = False
    tied[1] = True
    tied[2, [0, 1, -2, -1]] = True
    for t in (tied, tied[:, :1], np.zeros((0, 4), bool), np.zeros((3, 0), bool)):
        run = np.concatenate([np.zeros((t.shape[0], 1), int), np.cumsum(~t, axis=1)], axis=1)  # run id per position
        ref = [sum(int(run[i, a] == run[i, b]) for a in range(run.shape[1]) for b in range(a + 1, run.shape[1]))
               for i in range(t.shape[0])]
        assert_array_equal(rankstats._run_pairs(t), np.array(ref, dtype=np.int64).reshape(-1))
