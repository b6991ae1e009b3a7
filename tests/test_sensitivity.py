"""Tests of pipeline.sensitivity: every expected value says where it comes from."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from pipeline import score
from pipeline import sensitivity as S
from pipeline.errors import PipelineError
from langs import in_lang  # noqa: E402

CATS = np.array(["ideology", "organisation", "conduct", "special"] * 6)


def _world(seed=0, units=30, items=24, na=True, dup=False):
    rng = np.random.default_rng(seed)
    m = rng.integers(2, 8, items).astype(float)
    m = m / m.sum() * 100
    x = np.floor(rng.random((units, items)) * m * 10) / 10
    if na:
        x[3, 5] = np.nan
        x[7, [1, 2]] = np.nan
    if dup:
        x[1] = x[0]  # two identical units: tied in every sample
    return x, m


# ---------------------------------------------------------------- composite and ranks
def test_nominal_composite_equals_score_totals():
    """Independent path: pipeline.score.totals on a tidy frame (NA prorated, adjustments added)."""
    x, m = _world(1, units=12, items=6)
    x[2, 3] = np.nan
    units = [f"U{i:03d}" for i in range(x.shape[0])]
    items = pd.DataFrame({"year": 2015, "item_id": [f"I{j + 1:02d}" for j in range(6)], "max_points": m,
                          "category": CATS[:6], "dimension": "image", "method": "points"})
    rows = [(2015, "Y", u, f"I{j + 1:02d}", x[i, j], "na" if np.isnan(x[i, j]) else "ok")
            for i, u in enumerate(units) for j in range(6)]
    sc = pd.DataFrame(rows, columns=["year", "period", "unit_id", "item_id", "points", "status"])
    adj = pd.DataFrame({"year": 2015, "unit_id": units, "adjustment": np.linspace(-1, 1, len(units))})
    tot = score.totals(sc, items, adj).set_index("unit_id").loc[units]
    model = S.Composite(x, m, offset=adj["adjustment"].to_numpy())
    c = model.evaluate(model.nominal)
    assert_allclose(c, tot["total"].to_numpy(), atol=1e-9)
    assert_array_equal(S.fast_rank(c[None])[0], tot["rank"].to_numpy())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=6, max_size=6), min_size=1, max_size=8))
def test_fast_rank_matches_scipy_min_rank(rows):
    """Competition ranking = scipy.stats.rankdata(-x, method="min") (SPEC §3), ties included."""
    a = np.asarray(rows, dtype=float)
    expected = stats.rankdata(-a, method="min", axis=1)
    assert_array_equal(S.fast_rank(a), expected)
    assert_array_equal(S.fast_rank(a), score.rank(a, axis=1))


@settings(max_examples=40, deadline=None)
@given(st.floats(0.01, 1000), st.integers(0, 10_000))
def test_ranks_invariant_under_positive_rescaling_of_weights(scale, seed):
    """Only weight proportions matter: w and c·w give identical ranks (property)."""
    x, m = _world(seed % 7, units=15)
    w = S.sample_weights(m, 5, "simplex", seed=seed)
    model = S.Composite(x, m)
    assert_array_equal(S.fast_rank(model.evaluate(w)), S.fast_rank(model.evaluate(scale * w)))


def test_group_factors_expand_to_item_weights():
    """A group factor scales its items proportionally: item weights = nominal when groups are nominal."""
    x, m = _world(2)
    model = S.Composite(x, m, groups=CATS)
    assert_allclose(model.item_weights(model.nominal), 100 * m / m.sum())
    g = model.nominal.copy()
    g[0] *= 1.3
    iw = model.item_weights(g)
    direct = S.Composite(x, m).evaluate(iw)
    assert_allclose(model.evaluate(g), direct, atol=1e-6)


def test_na_policies_and_geometric_match_score_aggregate():
    """zero/full/prorate and geometric composites against pipeline.score.aggregate (independent code)."""
    x, m = _world(3, units=10, items=8)
    z = x / m
    model = S.Composite(x, m, decimals=None)
    w = m.copy()
    assert_allclose(model.evaluate(w, na_policy="prorate"), 100 * score.aggregate(z, w), atol=1e-9)
    assert_allclose(model.evaluate(w, na_policy="zero"), 100 * score.aggregate(np.nan_to_num(z), w), atol=1e-9)
    assert_allclose(model.evaluate(w, na_policy="full"), 100 * score.aggregate(np.where(np.isnan(z), 1, z), w), atol=1e-9)
    assert_allclose(model.evaluate(w, geometric=True), 100 * score.aggregate(z, w, "geometric"), atol=1e-9)


def test_grade_mapping_as_factor():
    """Grades re-scored with a new map equal points recomputed by hand (share × max)."""
    m = np.array([10.0, 20.0, 70.0])
    x = np.array([[10.0, 16.0, 35.0], [5.0, 12.0, 70.0]])
    grades = np.array([[None, "较好", None], [None, "一般", None]], dtype=object)
    model = S.Composite(x, m, grades=grades, decimals=None)
    got = model.evaluate(m, grade_shares=[1.0, 0.9, 0.5])
    # hand: unit 0 = 10 + 0.9·20 + 35 = 63; unit 1 = 5 + 0.5·20 + 70 = 85
    assert_allclose(got, [63.0, 85.0])
    assert_allclose(model.evaluate(m), [61.0, 87.0])  # default map 0.8 / 0.6


# ---------------------------------------------------------------- weight sampling
def test_dirichlet_moments():
    """Dirichlet(κ s): E = s, Var = s(1 − s)/(κ + 1) (analytic)."""
    nominal = np.array([40.0, 30.0, 20.0, 10.0])
    kappa = 50.0
    w = S.sample_weights(nominal, 200_000, "dirichlet", seed=1, kappa=kappa) / 100
    s = nominal / 100
    assert_allclose(w.sum(axis=1), 1.0)
    assert_allclose(w.mean(axis=0), s, atol=2e-3)
    assert_allclose(w.var(axis=0), s * (1 - s) / (kappa + 1), rtol=0.03)


def test_simplex_lower_bounds_exact_uniform():
    """Uniform on {w ≥ lo} for 2 factors: w1 ~ U(lo1, 1 − lo2) → mean 0.45, var 0.5²/12 (analytic)."""
    w = S.sample_weights([1, 1], 100_000, "simplex", seed=2, bounds=[[0.2, 1.0], [0.3, 1.0]]) / 100
    assert w[:, 0].min() >= 0.2 and w[:, 1].min() >= 0.3
    assert_allclose(w[:, 0].mean(), 0.45, atol=3e-3)
    assert_allclose(w[:, 0].var(), 0.25 / 12, rtol=0.03)
    wb = S.sample_weights([1, 1, 1], 5000, "simplex", seed=2, bounds=[[0.1, 0.4]] * 3) / 100
    assert wb.max() <= 0.4 + 1e-12 and wb.min() >= 0.1 - 1e-12


def test_uniform_box_before_renormalisation():
    """±p box: w_k/nominal_k ∝ U(1−p, 1+p), so the ratio of two factors lies in [(1−p)/(1+p), (1+p)/(1−p)]."""
    nominal = np.array([25.0, 25.0, 50.0])
    w = S.sample_weights(nominal, 20_000, "uniform", seed=3, p=0.2)
    r = (w[:, 0] / nominal[0]) / (w[:, 1] / nominal[1])
    assert r.min() >= 0.8 / 1.2 - 1e-12 and r.max() <= 1.2 / 0.8 + 1e-12
    assert_allclose(w.sum(axis=1), 100.0)


@pytest.mark.parametrize("kwargs", [dict(scheme="nope"), dict(kappa=0), dict(scheme="uniform", p=1.5),
                                    dict(bounds=[[0.5, 1]] * 4), dict(bounds=[[0, 0.1]] * 4)])
def test_sample_weights_rejects_bad_input(kwargs):
    with pytest.raises(PipelineError):
        S.sample_weights([1, 2, 3, 4], 10, **({"scheme": "dirichlet"} | kwargs))


# ---------------------------------------------------------------- Monte Carlo uncertainty
def _brute_force(x, m, n, seed, chunk, top_n, scheme, groups=None, **kw):
    """Independent re-computation: same weight draws, pipeline.score.aggregate/rank per sample,
    scipy for Spearman/Kendall, Python sets for the Jaccard overlap."""
    model = S.Composite(x, m, groups=groups)
    # chunk i draws from child i of SeedSequence(seed) (pipeline.cluster.spawn_seeds)
    seeds = np.random.SeedSequence(seed).spawn(-(-n // chunk))
    ws = np.vstack([S.sample_weights(model.nominal, min(chunk, n - a), scheme, np.random.default_rng(sd), **kw)
                    for a, sd in zip(range(0, n, chunk), seeds)])
    z = x / m
    tot = np.round(100 * score.aggregate(z, model.item_weights(ws)), 6)
    ranks = score.rank(tot, axis=1).astype(int)
    t0 = np.round(100 * score.aggregate(z, m), 6)
    r0 = score.rank(t0).astype(int)
    w0 = set(np.flatnonzero(r0 <= top_n))
    jac = [len(w0 & set(np.flatnonzero(r <= top_n))) / len(w0 | set(np.flatnonzero(r <= top_n))) for r in ranks]
    rho = [stats.spearmanr(t, t0).statistic for t in tot]
    tau = [stats.kendalltau(t, t0).statistic for t in tot]
    return ranks, r0, np.array(jac), np.array(rho), np.array(tau)


@pytest.mark.parametrize("dup,groups,scheme", [(False, None, "dirichlet"), (True, CATS, "uniform"), (True, None, "simplex")])
def test_uncertainty_matches_brute_force(dup, groups, scheme):
    x, m = _world(4, units=25, dup=dup)
    n, chunk, top_n = 700, 256, 8
    kw = dict(kappa=30.0) if scheme == "dirichlet" else dict(p=0.3) if scheme == "uniform" else {}
    res = S.uncertainty(x, m, n, seed=11, scheme=scheme, top_n=top_n, groups=groups, chunk=chunk, **kw)
    ranks, r0, jac, rho, tau = _brute_force(x, m, n, 11, chunk, top_n, scheme, groups, **kw)
    assert_array_equal(res["nominal_rank"], r0)
    assert_allclose(res["mean_rank"], ranks.mean(axis=0))
    assert_allclose(res["sd_rank"], ranks.std(axis=0), atol=1e-9)
    for col, q in (("median_rank", 0.5), ("q05", 0.05), ("q95", 0.95)):
        assert_array_equal(res[col], np.quantile(ranks, q, axis=0, method="inverted_cdf"))
    assert_allclose(res["p_winner"], (ranks <= top_n).mean(axis=0))
    assert_allclose(res["p_shift_ge_3"], (np.abs(ranks - r0) >= 3).mean(axis=0))
    assert_array_equal(res["best_rank"], ranks.min(axis=0))
    assert_array_equal(res["worst_rank"], ranks.max(axis=0))
    sysd = res.attrs["system"]
    assert_allclose(sysd["mean_abs_shift"], np.abs(ranks - r0).mean(), rtol=1e-5)
    assert_allclose(sysd["jaccard_mean"], jac.mean(), rtol=1e-5)
    assert_allclose(sysd["spearman_mean"], rho.mean(), rtol=1e-5)
    assert_allclose(sysd["kendall_mean"], tau.mean(), rtol=1e-9)
    if dup:  # identical units share every rank
        assert res.loc[0, "mean_rank"] == res.loc[1, "mean_rank"]


def test_sum_p_winner_equals_top_n_without_ties_at_cut():
    """Each sample has exactly top_n winners when nothing ties at the cut → Σ P(winner) = top_n."""
    rng = np.random.default_rng(5)
    m = np.full(24, 100 / 24)
    x = rng.random((74, 24)) * m  # continuous scores: ties have probability 0
    res = S.uncertainty(x, m, 3000, seed=5, scheme="simplex", top_n=20, chunk=1000)
    hist = np.asarray(res.attrs["histogram"])
    assert hist[:, :20].sum() == 3000 * 20  # exact integer count
    assert_allclose(res["p_winner"].sum(), 20.0, rtol=0, atol=1e-9)
    assert_array_equal(hist.sum(axis=1), 3000)


def test_ties_at_cut_all_win():
    """Two identical units at the cut both win: Σ P(winner) = top_n + 1 when they sit at rank top_n."""
    m = np.array([50.0, 50.0])
    x = np.array([[50, 50], [40, 40], [30, 30], [30, 30], [0, 10]], dtype=float)
    res = S.uncertainty(x, m, 200, seed=1, scheme="simplex", top_n=3)
    assert_array_equal(res["p_winner"], [1, 1, 1, 1, 0])
    assert_array_equal(res["nominal_rank"], [1, 2, 3, 3, 5])


def test_uncertainty_same_seed_same_numbers():
    x, m = _world(6)
    a = S.uncertainty(x, m, 2000, seed=42, vary_na_policy=True, vary_aggregation=True)
    b = S.uncertainty(x, m, 2000, seed=42, vary_na_policy=True, vary_aggregation=True)
    c = S.uncertainty(x, m, 2000, seed=43, vary_na_policy=True, vary_aggregation=True)
    pd.testing.assert_frame_equal(a, b)
    assert a.attrs["system"] == b.attrs["system"]
    assert not a["mean_rank"].equals(c["mean_rank"])


def test_histogram_quantile_is_inverted_cdf():
    """Against numpy.quantile(method="inverted_cdf") (Hyndman & Fan definition 1)."""
    rng = np.random.default_rng(7)
    r = rng.integers(1, 11, size=(6, 501))
    hist = np.stack([np.bincount(row - 1, minlength=10) for row in r])
    for q in (0.05, 0.25, 0.5, 0.95, 1.0):
        assert_array_equal(S.histogram_quantile(hist, q), np.quantile(r, q, axis=1, method="inverted_cdf"))


def test_uncertainty_dataframe_input_and_errors():
    x, m = _world(8, units=6, items=4, na=False)
    df = pd.DataFrame(x, index=[f"U{i}" for i in range(6)])
    res = S.uncertainty(df, m, 50, seed=1, top_n=2)
    assert list(res["unit_id"]) == list(df.index)
    with pytest.raises(PipelineError):
        S.uncertainty(x, m, 0)
    with pytest.raises(PipelineError):
        S.uncertainty(x, m, 10, vary_grade_map=True)  # no grades given


# ---------------------------------------------------------------- Sobol
ISHIGAMI = {"names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def _ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_ishigami_analytic():
    """Ishigami (a=7, b=0.1): S1 = 0.3139, 0.4424, 0; ST = 0.5576, 0.4424, 0.2437
    (Ishigami & Homma 1990; analytic values as tabulated in SALib's tests)."""
    res = S.sobol_indices(_ishigami, ISHIGAMI, 2**13, seed=3)
    assert_allclose(res["S1"], [0.3139, 0.4424, 0.0], atol=0.03)
    assert_allclose(res["ST"], [0.5576, 0.4424, 0.2437], atol=0.03)
    assert (res["S1_conf"] > 0).all() and (res["ST_conf"] < 0.1).all()
    assert list(res.index) == ["x1", "x2", "x3"]


def test_sobol_linear_model_and_multi_output():
    """Y = Σ a_i X_i, X_i ~ U(0, 1) independent: S_i = ST_i = a_i² / Σ a_j² (analytic)."""
    a = np.array([1.0, 2.0, 3.0])
    prob = {"names": ["a", "b", "c"], "bounds": [[0, 1]] * 3}
    expected = a**2 / (a**2).sum()
    res = S.sobol_indices(lambda x: x @ a, prob, 2**12, seed=4, n_boot=50)
    assert_allclose(res["S1"], expected, atol=0.02)
    assert_allclose(res["ST"], expected, atol=0.02)
    # two outputs at once = the two single-output analyses; a constant output gives NaN
    multi = S.sobol_indices(lambda x: np.column_stack([x @ a, x[:, 0], np.ones(len(x))]), prob, 2**10, seed=4,
                            outputs=["lin", "x1", "const"])
    single = S.sobol_indices(lambda x: x @ a, prob, 2**10, seed=4)
    assert_allclose(multi.loc["lin", "S1"].to_numpy(), single["S1"].to_numpy())
    assert_allclose(multi.loc["lin", "S1_conf"].to_numpy(), single["S1_conf"].to_numpy())
    assert_allclose(multi.loc["x1", "ST"].to_numpy()[1:], [0, 0], atol=1e-15)  # AB_i = A off column i: exact 0
    assert_allclose(multi.loc["x1", "ST"].iloc[0], 1.0, atol=0.05)
    assert multi.loc["const"].isna().all().all()


def test_saltelli_design_structure():
    """AB_i equals A except column i, which comes from B (Saltelli 2002)."""
    prob = {"names": ["p", "q"], "bounds": [[0, 1], [10, 20]]}
    x = S.saltelli_sample(prob, 8, seed=1)
    a, b, ab1, ab2 = x[:8], x[8:16], x[16:24], x[24:]
    assert_array_equal(ab1[:, 0], b[:, 0]) and assert_array_equal(ab1[:, 1], a[:, 1])
    assert_array_equal(ab2[:, 1], b[:, 1]) and assert_array_equal(ab2[:, 0], a[:, 0])
    assert x[:, 1].min() >= 10 and x[:, 1].max() <= 20
    with pytest.raises(PipelineError):
        S.saltelli_sample({"names": ["p"], "bounds": [[1, 0]]}, 8)


def test_weight_sobol_targets():
    x, m = _world(9, units=20)
    res = S.weight_sobol(x, m, 256, seed=1, groups=CATS, top_n=5, vary_na_policy=True, n_boot=20)
    assert set(res["target"]) == {"mean_abs_shift", "rank", "winner"}
    sysrow = res[res["target"] == "mean_abs_shift"]
    assert list(sysrow["factor"]) == ["w_ideology", "w_organisation", "w_conduct", "w_special", "na_policy"]
    assert len(res) == 5 * (1 + 2 * 20)
    assert (sysrow["ST"] >= 0).all()
    # a unit whose rank never changes (the best unit with every item at full marks) has NaN indices
    x2 = x.copy()
    x2[0] = m
    res2 = S.weight_sobol(x2, m, 64, seed=1, groups=CATS, n_boot=0)
    assert res2[(res2["target"] == "rank") & (res2["unit_id"] == 0)]["S1"].isna().all()


# ---------------------------------------------------------------- SMAA-2
def test_smaa_two_units_two_criteria_analytic():
    """A = (1, 0), B = (0.4, 0.8), w = (t, 1 − t), t ~ U(0, 1): A wins iff t > 4/7.
    b_A¹ = 3/7; central weights A = (11/14, 3/14), B = (2/7, 5/7); confidence 1 (hand computation)."""
    x = np.array([[1.0, 0.0], [0.4, 0.8]])
    res = S.smaa(x, 200_000, seed=1, top_n=1)
    assert_allclose(res.acceptability.loc[0, 1], 3 / 7, atol=4e-3)
    assert_allclose(res.acceptability.loc[1, 1], 4 / 7, atol=4e-3)
    assert_allclose(res.acceptability.sum(axis=1), 1.0)
    assert_allclose(res.central_weights.loc[0], [11 / 14, 3 / 14], atol=3e-3)
    assert_allclose(res.central_weights.loc[1], [2 / 7, 5 / 7], atol=3e-3)
    assert_allclose(res.confidence, [1.0, 1.0])
    # with the share bound t ≥ 0.5: t ~ U(0.5, 1), P(A first) = (1 − 4/7)/0.5 = 6/7
    b = S.smaa(x, 100_000, seed=2, bounds=[[0.5, 1.0], [0.0, 0.5]], top_n=1)
    assert_allclose(b.acceptability.loc[0, 1], 6 / 7, atol=5e-3)


def test_smaa_noise_lowers_confidence_and_dominated_unit():
    """A dominated unit never ranks first: no central weights, NaN confidence; noise makes confidence < 1."""
    x = np.array([[0.9, 0.9], [0.5, 0.5], [0.85, 0.95]])
    res = S.smaa(x, 20_000, seed=3, top_n=1)
    assert res.acceptability.loc[1, 1] == 0 and np.isnan(res.confidence.loc[1])
    assert res.central_weights.loc[1].isna().all()
    noisy = S.smaa(x, 5000, seed=3, top_n=1, sd=0.05)
    assert 0 < noisy.confidence.loc[0] < 1
    summ = res.summary()
    assert list(summ.columns) == ["b1", "top_acceptability", "confidence", "confidence_top", "holistic"]


# ---------------------------------------------------------------- benefit of the doubt
def test_bod_hand_solved():
    """A = (1, .2), B = (.5, .5), C = (.2, 1). B's best weights meet A's and C's constraints:
    w1 + .2 w2 = 1 = .2 w1 + w2 → w = (5/6, 5/6), E_B = 5/6 (hand LP). A, C are efficient."""
    y = np.array([[1.0, 0.2], [0.5, 0.5], [0.2, 1.0]])
    assert_allclose(np.asarray(S.bod(y)), [1.0, 5 / 6, 1.0], atol=1e-9)  # public: 1-D efficiencies
    res = S.bod_table(y)
    assert_allclose(res["efficiency"], [1.0, 5 / 6, 1.0], atol=1e-9)
    assert_array_equal(res["rank"], [1, 3, 1])
    # a dominating unit is efficient, a dominated unit is not
    dom = S.bod(np.array([[1.0, 1.0], [0.5, 0.8], [0.3, 0.1]]))
    assert_allclose(dom.iloc[0], 1.0)
    assert (dom.iloc[1:] < 1).all()


def test_bod_pie_share_bounds_hand_solved():
    """Same units, each criterion ≥ 40 % of A's composite: w2 ≥ (10/3) w1; optimum at w2 = (10/3) w1
    with C's constraint binding → E_A = (1 + 2/3) / (0.2 + 10/3) = 25/53 (hand LP)."""
    y = np.array([[1.0, 0.2], [0.5, 0.5], [0.2, 1.0]])
    assert_allclose(S.bod(y, bounds=[[0.4, 1.0], [0.4, 1.0]]).iloc[0], 25 / 53, atol=1e-7)
    res = S.bod_table(y, bounds=[[0.4, 1.0], [0.4, 1.0]])
    assert_allclose(res["efficiency"].iloc[0], 25 / 53, atol=1e-7)
    assert (res[["share_0", "share_1"]].to_numpy() >= 0.4 - 1e-7).all()


def test_bod_cross_efficiency_hand():
    """Two units, one criterion each-dominant: A = (1, 0), B = (0, 1). Own weights (1, 0) / (0, 1) rate the
    other 0 → cross-efficiency 0 for both; both are BoD-efficient."""
    res = S.bod_table(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert_allclose(res["efficiency"], [1, 1])
    assert_allclose(res["cross_efficiency"], [0, 0], atol=1e-12)


# ---------------------------------------------------------------- schemes, OAT, effective weights
def test_pca_weights_analytic():
    """x1 = x2 uncorrelated with x3: correlation eigenvector (1/√2, 1/√2, 0) → weights 50, 50, 0."""
    x = np.array([[0, 0, 0], [0, 0, 1], [1, 1, 0], [1, 1, 1]], dtype=float)
    assert_allclose(S.pca_weights(x, [1, 1, 1]), [50, 50, 0], atol=1e-9)


def test_compare_schemes_equal_items_is_plain_mean():
    x, m = _world(10, units=12)
    res = S.compare_schemes(x, m, CATS, CATS, top_n=4)
    eq = res[res["scheme"] == "equal_items"]
    expected = score.rank(np.round(100 * score.aggregate(x / m, np.ones(24)), 6))
    assert_array_equal(eq["rank"], expected)
    assert set(res["scheme"]) == {"nominal", "equal_items", "equal_categories", "equal_dimensions", "pca", "bod", "bod_cross"}
    assert (res.loc[res["scheme"] == "nominal", "delta_rank"] == 0).all()


def test_one_at_a_time_against_direct_reweighting():
    """+20 % on 'conduct' = item weights with the conduct items × 1.2 (then renormalised), ranked by score.rank."""
    x, m = _world(11, units=15)
    oat = S.one_at_a_time(x, m, CATS, steps=(0.2,), top_n=5)
    got = oat[(oat["factor"] == "conduct") & (oat["step"] == 0.2)]["rank"].to_numpy()
    w = m * np.where(CATS == "conduct", 1.2, 1.0)
    expected = score.rank(np.round(100 * score.aggregate(x / m, w), 6))
    assert_array_equal(got, expected)
    summ = S.shift_summary(oat)
    assert len(summ) == 4 and (summ["mean_abs_shift"] >= 0).all()


def test_effective_weights_orthogonal_items():
    """Two orthogonal binary items of equal weight: r² = ½ each, and η² = r² = ½ for a binary x (analytic).
    Bias-corrected ε² (Kelley 1935) by hand: n = 12, k = 2, y ∝ (0, 1, 1, 2) × 3: SS_t = 6, SS_b = 3,
    SS_w = 3 → ε² = 1 − (3/10)/(6/11) = 0.45."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]] * 3, dtype=float)
    eff = S.effective_weights(x, [1.0, 1.0], ["ideology", "conduct"])
    items = eff[eff["level"] == "item"]
    assert_allclose(items["r2"], [0.5, 0.5])
    assert_allclose(items["eps2"], [0.45, 0.45])
    assert_allclose(items["eps2_share"], [0.5, 0.5])
    assert_allclose(S.correlation_ratio(x[:, 0], x.sum(axis=1), corrected=False), 0.5)
    assert_allclose(items["r2_share"], [0.5, 0.5])
    assert_allclose(items["ratio"], [1.0, 1.0])


def test_correlation_ratio_nonlinear():
    """y = x² on symmetric x: Pearson r = 0 but η² = 1 (y is a function of x; distinct values ≤ bins)."""
    x = np.array([-2, -1, 0, 1, 2] * 4, dtype=float)
    assert_allclose(S.correlation_ratio(x, x**2, n_bins=5), 1.0)
    assert abs(np.corrcoef(x, x**2)[0, 1]) < 1e-12


# ---------------------------------------------------------------- fairness
def test_favouritism_matches_exact_permutation_test():
    """Against the exact permutation distribution over all C(8, 4) = 70 labellings (enumerated here)."""
    adv = np.array([3.0, 2.0, 4.0, 1.0, 0.0, -1.0, 1.0, -2.0])
    ids = [f"U{i}" for i in range(8)]
    attrs = pd.DataFrame({"type": ["A"] * 4 + ["B"] * 4}, index=ids)
    nominal = pd.Series(np.arange(1, 9, dtype=float), index=ids)
    ref = nominal + adv
    res = in_lang("en", S.favouritism, nominal, ref, attrs, n_perm=40_000, seed=1)
    t_obs = adv[:4].mean() - adv[4:].mean()
    t_all = [adv[list(c)].mean() - adv[[i for i in range(8) if i not in c]].mean() for c in itertools.combinations(range(8), 4)]
    p_exact = np.mean(np.abs(t_all) >= abs(t_obs) - 1e-12)
    row = res.set_index("group").loc["A"]
    assert_allclose(row["statistic"], t_obs)
    assert_allclose(row["p_value"], p_exact, atol=0.01)
    assert isinstance(row["reading"], str) and row["reading"]
    # pooled-sd Cohen's d by hand
    sp = np.sqrt((adv[:4].var(ddof=1) * 3 + adv[4:].var(ddof=1) * 3) / 6)
    assert_allclose(row["cohen_d"], t_obs / sp)


def test_group_outcomes_counts():
    ids = ["a", "b", "c", "d"]
    ranks = pd.DataFrame({"nominal": [1, 2, 3, 4], "alt": [4, 3, 2, 1]}, index=ids)
    attrs = pd.DataFrame({"sector": ["x", "x", "y", "y"]}, index=ids)
    pw = pd.Series([0.9, 0.6, 0.4, 0.1], index=ids)
    out = S.group_outcomes(ranks, attrs, top_n=2, p_winner=pw, mean_rank=pd.Series([1.2, 2, 3, 3.8], index=ids))
    o = out.set_index(["group", "scheme"])
    assert o.loc[("x", "nominal"), "winners"] == 2 and o.loc[("y", "alt"), "winners"] == 2
    assert_allclose(o.loc[("x", "monte_carlo"), "winners"], 1.5)
    assert_allclose(o.loc[("x", "nominal"), "mean_rank"], 1.5)


def test_size_class_terciles():
    s = S.size_class(pd.Series([10, 20, 30, 40, 50, 60]))
    assert list(s) == ["small", "small", "medium", "medium", "large", "large"]


# ---------------------------------------------------------------- processed data (needs synth + clean)
def test_year_data_reproduces_official_ranks(world):
    from pipeline.io import read_table

    totals = read_table(world.processed, "totals")
    year = int(totals["year"].max())
    yd = S.year_data(world.processed, year)
    model = S.Composite(yd.points.to_numpy(), yd.maxima, offset=yd.offset, grades=yd.grades.to_numpy(dtype=object))
    ranks = S.fast_rank(model.evaluate(model.nominal)[None])[0]
    official = totals[totals["year"] == year].set_index("unit_id").loc[yd.unit_ids, "rank"].to_numpy()
    assert_array_equal(ranks, official)
    with pytest.raises(PipelineError):
        S.year_data(world.processed, 1900)


# ---------------------------------------------------------------- packed-key sort (fast path)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_packed_key_sort_gives_the_same_ranks_as_argsort(seed):
    """The integer packed-key path of sorted_with_ties must give exactly the competition ranks of
    scipy.stats.rankdata(method="min") on rounded composites, ties (forced) and negatives included."""
    from scipy import stats

    from pipeline.sensitivity._core import ranks_from_order, sorted_with_ties

    rng = np.random.default_rng(seed)
    s = np.round(rng.normal(50, 30, (400, 37)), 1)  # 0.1 resolution → many ties; some negative
    s[:, 5] = s[:, 9]  # a tie in every row
    s = np.round(s, 6)
    asc, tie_rows, tie_rank = sorted_with_ties(s, decimals=6)
    order = asc[:, ::-1]
    rank = np.tile(np.arange(1, s.shape[1] + 1), (s.shape[0], 1))
    rank[tie_rows] = tie_rank
    expected = stats.rankdata(-s, method="min", axis=1)
    assert_array_equal(ranks_from_order(order, rank), expected)
    # and the float path agrees
    asc2, tie_rows2, tie_rank2 = sorted_with_ties(s)
    assert_array_equal(tie_rows, tie_rows2)
    assert_array_equal(tie_rank, tie_rank2)
