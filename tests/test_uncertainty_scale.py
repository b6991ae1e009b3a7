"""The uncertainty engine scales in units (issue 14): Kendall's τ-b by inversion counting,
mergeable statistics, the binned rank histogram for many units."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from pipeline import cluster
from pipeline.errors import PipelineError
import importlib

U = importlib.import_module("pipeline.sensitivity.uncertainty")  # the module (the package exports a function of that name)


def _brute_inversions(s):
    """#{i < j: s_i > s_j} by comparing every pair (the definition)."""
    s = np.asarray(s)
    return np.array([sum(int(r[i] > r[j]) for i in range(len(r)) for j in range(i + 1, len(r))) for r in s])


def _assert_same_attrs(got, ref) -> None:
    """The system statistics equal, the rank histogram (an int64 array) equal element by element."""
    assert got.attrs["system"] == ref.attrs["system"]
    assert_array_equal(got.attrs["histogram"], ref.attrs["histogram"])


def _assert_binned_matches_exact(exact, binned, w: int) -> None:
    """Every column but the quantiles equals the exact path's; each binned quantile brackets the
    exact one (exact ∈ [value, value + w − 1]); the system statistics agree but for the resolution."""
    for col in exact.columns:
        if col in ("median_rank", "q05", "q95"):
            assert (binned[col] <= exact[col]).all() and (exact[col] <= binned[col] + w - 1).all(), col
        else:
            assert_array_equal(binned[col], exact[col], err_msg=col)
    assert binned.attrs["system"] == {**exact.attrs["system"], "rank_resolution": w}


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 64, 100])
def test_inversions_match_pair_count(n):
    rng = np.random.default_rng(n)
    s = rng.integers(0, max(2, n // 2), size=(6, n))  # many equal values: equal pairs are no inversion
    assert_array_equal(U._inversions(s, int(s.max()) + 1), _brute_inversions(s))


@pytest.mark.parametrize("u,levels", [(2, 2), (5, 3), (30, 4), (74, 100), (300, 7), (1025, 50)])
def test_kendall_tau_b_matches_scipy_with_ties(u, levels):
    # expected values: scipy.stats.kendalltau (variant "b", the Knight 1966 algorithm), row by row
    rng = np.random.default_rng(u)
    c0 = rng.integers(0, levels, u).astype(float)
    c = rng.integers(0, levels, (12, u)).astype(float)
    c[0] = c0  # identical ranking → τ-b = 1
    c[1] = -c0  # reversed → −1
    got = U.kendall_tau_b(c, c0)
    ref = np.array([stats.kendalltau(row, c0).statistic for row in c])
    assert_allclose(got, ref, rtol=0, atol=1e-12, equal_nan=True)
    if np.unique(c0).size > 1:
        assert got[0] == pytest.approx(1.0) and got[1] == pytest.approx(-1.0)


def test_kendall_tau_b_constant_row_is_nan():
    c0 = np.array([1.0, 2.0, 3.0])
    got = U.kendall_tau_b(np.array([[5.0, 5.0, 5.0], [3.0, 2.0, 1.0]]), c0)
    assert np.isnan(got[0]) and got[1] == pytest.approx(-1.0)


def _world(units, items=8, seed=3):
    rng = np.random.default_rng(seed)
    m = rng.integers(2, 8, items).astype(float)
    x = np.floor(np.clip(0.8 + 0.1 * rng.normal(size=(units, 1)) + 0.1 * rng.normal(size=(units, items)), 0, 1) * m * 2) / 2
    return x, m


def test_binned_histogram_agrees_with_exact():
    """Binned path (w = 3 ranks per bin): every column but the quantiles equals the exact path;
    each binned quantile brackets the exact one: exact ∈ [value, value + w − 1]."""
    x, m = _world(40)
    kw = dict(seed=7, top_n=6, chunk=97, scheme="uniform", p=0.4)
    exact = U.uncertainty(x, m, 1500, **kw)
    binned = U.uncertainty(x, m, 1500, rank_bins=14, **kw)
    w = binned.attrs["system"]["rank_resolution"]
    assert w == 3 and exact.attrs["system"]["rank_resolution"] == 1
    _assert_binned_matches_exact(exact, binned, w)


def test_same_result_for_any_grouping_of_chunks():
    """Blocks of chunks merged in any grouping give the single-pass numbers (what a cluster does)."""
    x, m = _world(25)
    n, chunk = 1000, 64
    ref = U.uncertainty(x, m, n, seed=3, chunk=chunk, vary_na_policy=True)
    # re-run the blocks by hand, three uneven groups, merged in reverse order
    model = U.Composite(x, m)
    c0 = model.evaluate(model.nominal)
    setup = U._Setup(model=model, c0=c0, r0=U.fast_rank(c0[None])[0], top_n=20, ks=(1, 3, 5), width=1,
                     k_n=min(n, U.default_kendall_samples(25)), scheme="dirichlet", kappa=200.0, p=0.2, bounds=None, gb=None,
                     vary_na_policy=True, vary_aggregation=False, dtype=np.float64)
    plan = cluster.chunks(n, chunk)
    tasks = [(a, c, s) for (a, c), s in zip(plan, cluster.spawn_seeds(3, len(plan)))]
    parts = [U._run_block(t, setup) for t in (tasks[:3], tasks[3:4], tasks[4:])]
    acc = parts[2]
    acc.merge(parts[0])
    acc.merge(parts[1])
    got = U._result(acc, setup, np.arange(25), n, "dirichlet")
    assert got.equals(ref)
    _assert_same_attrs(got, ref)


def test_many_units_binned_and_bounded():
    """5,000 units (> EXACT_RANK_UNITS): binned histogram of RANK_BINS bins, exact moments."""
    x, m = _world(5000, items=6)
    res = U.uncertainty(x, m, 40, seed=1)
    w = res.attrs["system"]["rank_resolution"]
    assert w == -(-5000 // U.RANK_BINS) and np.asarray(res.attrs["histogram"]).size == 0
    assert ((res["best_rank"] <= res["q05"]) & (res["q05"] <= res["median_rank"]) & (res["median_rank"] <= res["q95"])
            & (res["q95"] <= res["worst_rank"])).all()
    assert ((res["best_rank"] <= res["mean_rank"]) & (res["mean_rank"] <= res["worst_rank"])).all()
    assert res.attrs["system"]["kendall_n"] == U.default_kendall_samples(5000) or res.attrs["system"]["kendall_n"] == 40


def test_bad_rank_bins():
    x, m = _world(5)
    with pytest.raises(PipelineError, match="rank_bins"):
        U.uncertainty(x, m, 10, rank_bins=0)


def test_rank_bin_width_rule():
    # exact (1) while units² ≤ the units × samples ranks and units ≤ 4096; 512 bins otherwise
    assert U.rank_bin_width(1000, None, 5000) == 1
    assert U.rank_bin_width(1000, None, 500) == 2  # ⌈1000 / 512⌉
    assert U.rank_bin_width(300, None, 10) == 1  # ≤ 512 units: one rank per bin anyway
    assert U.rank_bin_width(5000, None, 10**6) == 10
    assert U.rank_bin_width(5000, 5000, 10) == 1  # explicit bins win


def _tied_world(units, seed=11):
    """Few items, whole points and NaNs: many units tie in every sample, also at the top-n cut."""
    rng = np.random.default_rng(seed)
    m = np.array([4.0, 3.0, 3.0, 2.0])
    x = np.floor(rng.uniform(0.4, 1.0, (units, 4)) * (m + 1)).clip(0, m)
    x[rng.random(x.shape) < 0.08] = np.nan
    return x, m


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binned_path_with_heavy_ties_matches_exact(dtype):
    """The binned path (tie runs, labels in nominal order, float64 packed keys or the float32
    fallback) against the exact path, whose per-unit numbers are read off the full histogram
    and whose system statistics come from the ascending order with per-row tie ranks: every
    column but the quantiles equal, quantiles bracketed, system statistics identical."""
    x, m = _tied_world(60)
    kw = dict(seed=4, top_n=9, chunk=53, vary_na_policy=True, vary_aggregation=True, scheme="uniform", p=0.5, dtype=dtype)
    exact = U.uncertainty(x, m, 700, **kw)
    binned = U.uncertainty(x, m, 700, rank_bins=20, **kw)
    w = binned.attrs["system"]["rank_resolution"]
    assert w == 3
    # ties at the cut really happen: some nominal or sampled winner sets exceed top_n
    assert exact.attrs["system"]["n_nominal_winners"] != 9 or exact["p_winner"].sum() > 9
    _assert_binned_matches_exact(exact, binned, w)


def test_binned_system_statistics_brute_force():
    """System statistics of the binned path against a per-sample brute force: competition ranks
    from ``scipy.stats.rankdata(method="min")``, Spearman's ρ with average ranks from
    ``scipy.stats.spearmanr``, winner sets by definition (the same draws: n < chunk, one chunk)."""
    x, m = _tied_world(45, seed=5)
    n, top = 120, 6
    res = U.uncertainty(x, m, n, seed=9, top_n=top, rank_bins=15, kendall_samples=n)
    model = U.Composite(x, m)
    rng = np.random.default_rng(cluster.spawn_seeds(9, 1)[0])
    w = U.sample_weights(model.nominal, n, "dirichlet", rng, kappa=200.0)
    comp = model.evaluate(w)
    c0 = model.evaluate(model.nominal)
    r0 = stats.rankdata(-c0, method="min")
    r = np.array([stats.rankdata(-row, method="min") for row in comp])
    w0 = r0 <= top
    win = r <= top
    inter = (win & w0).sum(axis=1)
    jac = inter / (win.sum(axis=1) + w0.sum() - inter)
    rho = np.array([stats.spearmanr(row, c0).statistic for row in comp])
    tau = np.array([stats.kendalltau(row, c0).statistic for row in comp])
    sysd = res.attrs["system"]
    assert (np.diff(np.sort(comp, axis=1), axis=1) == 0).any(axis=1).mean() > 0.5  # most draws have ties
    assert_allclose(sysd["mean_abs_shift"], np.abs(r - r0).mean(), rtol=1e-6)
    assert_allclose(sysd["spearman_mean"], rho.mean(), rtol=1e-6)
    assert_allclose(sysd["spearman_q05"], np.quantile(rho, 0.05), rtol=1e-6)
    assert_allclose(sysd["kendall_mean"], tau.mean(), rtol=1e-9)
    assert_allclose(sysd["jaccard_mean"], jac.mean(), rtol=1e-6)
    assert sysd["p_same_winners"] == pytest.approx((jac == 1).mean())
    assert sysd["winners_changed_mean"] == pytest.approx((w0.sum() - inter).mean())
    assert_array_equal(res["best_rank"], r.min(axis=0))
    assert_array_equal(res["worst_rank"], r.max(axis=0))
    assert_allclose(res["mean_rank"], r.mean(axis=0), rtol=1e-12)
    assert_allclose(res["sd_rank"], r.std(axis=0), rtol=1e-9, atol=1e-12)
    assert_allclose(res["p_winner"], win.mean(axis=0))


def test_histogram_quantiles_match_numpy_inverted_cdf():
    # expected: numpy.quantile(method="inverted_cdf") on the ranks the histogram counts
    rng = np.random.default_rng(2)
    hist = rng.integers(0, 4, (30, 12))
    hist[0] = 0
    hist[0, 5] = 7  # one rank only
    got = U.histogram_quantile(hist, [0.05, 0.5, 0.95])
    for i, row in enumerate(hist):
        ranks = np.repeat(np.arange(1, 13), row)
        if ranks.size:
            ref = [np.quantile(ranks, q, method="inverted_cdf") for q in (0.05, 0.5, 0.95)]
            assert_array_equal(got[:, i], ref)
    assert_array_equal(U.histogram_quantile(hist, 0.5), got[1])


def _brute_inversions_many(s):
    """#{i < j: s_i > s_j} per row by comparing all pairs at once (the definition, broadcast)."""
    s = np.asarray(s)
    upper = np.triu(np.ones((s.shape[1], s.shape[1]), dtype=bool), 1)
    return ((s[:, :, None] > s[:, None, :]) & upper).sum(axis=(1, 2))


@pytest.mark.parametrize("n,top,m", [(8, 40_000, 9000), (37, 20_000, 50), (129, 300, 25), (300, 5, 40)])
def test_inversions_key_widths_and_row_blocks(n, top, m):
    # values ≥ 2¹⁴ need the 32-bit keys; 9,000 rows of 8 span two row blocks (2¹⁶ keys each)
    rng = np.random.default_rng(n)
    s = rng.integers(0, top, size=(m, n))
    assert_array_equal(U._inversions(s, top), _brute_inversions_many(s))


def test_kendall_tau_b_sorted_matches_scipy_on_tied_rows():
    """τ-b from rows already in Knight's order (descending sample value, then descending nominal
    value: both orders reversed), with tie flags for the listed rows only; expected values from
    scipy.stats.kendalltau (variant "b") on the raw values."""
    rng = np.random.default_rng(8)
    u = 40
    c0 = rng.integers(0, 12, u).astype(float)  # nominal ties
    c = rng.integers(0, 15, (9, u)).astype(float)  # ties in every row
    c[0] = rng.permutation(u)  # one row without ties
    dense0 = np.unique(-c0, return_inverse=True)[1].ravel()  # dense rank of −c0
    order = np.lexsort((dense0[None, :].repeat(9, 0), -c), axis=1)  # by −c, then by −c0
    s = np.take_along_axis(np.broadcast_to(dense0, c.shape), order, axis=1)
    srt = np.take_along_axis(c, order, axis=1)
    tied = srt[:, 1:] == srt[:, :-1]
    rows = np.flatnonzero(tied.any(axis=1))
    assert 0 not in rows and rows.size == 8
    got = U.kendall_tau_b_sorted(s, np.bincount(dense0), tied[rows], rows)
    ref = np.array([stats.kendalltau(row, c0).statistic for row in c])
    assert_allclose(got, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("units,offset", [(45, False), (45, True), (300, False)])
def test_exact_system_statistics_and_histogram_brute_force(units, offset):
    """The exact path (packed keys; the table of sums up to 256 units, per-field sums above; the
    sorted_with_ties fallback when composites + offset leave the packed range) against a brute
    force on the same draws: competition ranks from ``scipy.stats.rankdata(method="min")``,
    Spearman's ρ from ``scipy.stats.spearmanr``, Kendall's τ-b from ``scipy.stats.kendalltau``,
    the rank histogram by counting."""
    x, m = _tied_world(units, seed=units)
    n, top = 320 if units > 256 else 150, 6
    off = np.where(np.arange(units) % 2 == 0, 3e13, 0.0) if offset else None  # rint(y·10⁶) beyond 2⁶²⁻ᵇⁱᵗˢ
    res = U.uncertainty(x, m, n, seed=2, top_n=top, kendall_samples=n, offset=off)
    assert res.attrs["system"]["rank_resolution"] == 1
    model = U.Composite(x, m, offset=off)
    rng = np.random.default_rng(cluster.spawn_seeds(2, 1)[0])
    comp = model.evaluate(U.sample_weights(model.nominal, n, "dirichlet", rng, kappa=200.0))
    c0 = model.evaluate(model.nominal)
    r0 = stats.rankdata(-c0, method="min")
    r = np.array([stats.rankdata(-row, method="min") for row in comp]).astype(int)
    assert (np.diff(np.sort(comp, axis=1), axis=1) == 0).any(axis=1).mean() > 0.5  # most draws have ties
    w0, win = r0 <= top, r <= top
    inter = (win & w0).sum(axis=1)
    jac = inter / (win.sum(axis=1) + w0.sum() - inter)
    rho = np.array([stats.spearmanr(row, c0).statistic for row in comp])
    tau = np.array([stats.kendalltau(row, c0).statistic for row in comp])
    sysd = res.attrs["system"]
    assert_allclose(sysd["mean_abs_shift"], np.abs(r - r0).mean(), rtol=1e-6)
    assert_allclose(sysd["spearman_mean"], rho.mean(), rtol=1e-6)
    assert_allclose(sysd["kendall_mean"], tau.mean(), rtol=1e-9)
    assert_allclose(sysd["jaccard_mean"], jac.mean(), rtol=1e-6)
    assert sysd["winners_changed_mean"] == pytest.approx((w0.sum() - inter).mean())
    hist = np.zeros((units, units), dtype=int)
    np.add.at(hist, (np.broadcast_to(np.arange(units), r.shape), r - 1), 1)
    assert_array_equal(np.array(res.attrs["histogram"]), hist)
    assert_allclose(res["mean_rank"], r.mean(axis=0), rtol=1e-12)
    assert_allclose(res["p_winner"], win.mean(axis=0))


def test_exact_path_blocks_do_not_change_the_result(monkeypatch):
    """The exact path works through blocks of samples (pipeline.sensitivity.exact._BLOCK_KEYS unit-samples): one sample
    per block gives the same result as the default blocks (the same draws, exact sums)."""
    x, m = _tied_world(30, seed=3)
    kw = dict(seed=5, top_n=5, chunk=200, kendall_samples=333, vary_aggregation=True)
    ref = U.uncertainty(x, m, 700, **kw)
    from pipeline.sensitivity import exact as E

    monkeypatch.setattr(E, "_BLOCK_KEYS", 1)
    got = U.uncertainty(x, m, 700, **kw)
    assert got.equals(ref)
    _assert_same_attrs(got, ref)


def test_exact_packed_sums_hold_the_largest_shift_with_nominal_ties():
    """Σ|r − r₀| of a sample can exceed u²/2 when the nominal ranking has ties (here 60 of 90
    units tie at rank 1 and the sample puts them last): 5,370 > 4,050. The packed table sums
    must hold it. Expected values by hand: tied units get ranks 31–90, Σ(r − 1) = 3,570; the 30
    others (nominal ranks 61–90) get 30–1, Σ(89 − 2k, k < 30) = 1,800; none of the sample's top
    20 is a nominal winner; num4 = 2·Σ a·r with a = 2·r̄₀ − (u + 1), r̄₀ from scipy.stats.rankdata."""
    u = 90
    x = np.r_[np.full(60, 10.0), 9.0 - 0.1 * np.arange(30)][:, None]
    model = U.Composite(x, [10.0])
    c0 = model.evaluate(model.nominal)
    r0 = U.fast_rank(c0[None])[0]
    assert (r0[:60] == 1).all() and (r0[60:] == np.arange(61, 91)).all()
    setup = U._Setup(model=model, c0=c0, r0=r0, top_n=20, ks=(1,), width=1, k_n=0, scheme="dirichlet", kappa=200.0,
                     p=0.2, bounds=None, gb=None, vary_na_policy=False, vary_aggregation=False, dtype=np.float64)
    a = np.rint(2 * stats.rankdata(-c0, method="average")).astype(np.int64) - (u + 1)
    ex = U._Exact(setup, a, r0 <= 20)
    order = np.r_[np.arange(89, 59, -1), np.arange(60)]  # best first: the 30 low units, then the tied ones
    keys = ex.order_keys(ex.lab[order][None, :])
    abs_sum, num4, _, inter, wcnt = ex.system(keys, np.zeros(0, dtype=np.int64), np.zeros((0, u), dtype=np.int64))
    r = np.empty(u, dtype=np.int64)
    r[order] = np.arange(1, u + 1)
    assert int(abs_sum[0]) == 3570 + 1800 == np.abs(r - r0).sum()
    assert int(inter[0]) == 0 and int(wcnt[0]) == 20
    assert num4[0] == 2 * (a * r).sum()
