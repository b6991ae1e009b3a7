"""Issue #10: sensitivity statistics that hold up to a referee. Every expected value says where it comes from."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from pipeline import sensitivity as S
from pipeline.errors import PipelineError
from pipeline.sensitivity import narrative
from langs import in_lang  # noqa: E402

CATS = np.array(["ideology", "organisation", "conduct", "special"] * 6)


def _world(seed=0, units=30, items=24):
    rng = np.random.default_rng(seed)
    m = rng.integers(2, 8, items).astype(float)
    m = m / m.sum() * 100
    x = np.floor(rng.random((units, items)) * m * 10) / 10
    return x, m


# ---------------------------------------------------------------- 1. Sobol S1 is shift-invariant
OFFSET = {"names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}


def _lin(x):
    return 2 * x[:, 0] + x[:, 1]


def test_sobol_s1_and_conf_unchanged_by_a_constant():
    """y = 2a + b (+ 100) on [0, 1]²: analytic S1 = ST = 4/5, 1/5 (Var = 4/12 + 1/12). Centred outputs:
    adding 100 changes neither S1 nor S1_conf; S1_conf ≤ 0.1 at N = 1024 (issue #10: 11.0 / 6.3 before)."""
    plain = S.sobol_indices(_lin, OFFSET, 1024, seed=1)
    shifted = S.sobol_indices(lambda x: _lin(x) + 100.0, OFFSET, 1024, seed=1)
    assert_allclose(shifted[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy(), plain[["S1", "S1_conf", "ST", "ST_conf"]].to_numpy(),
                    atol=1e-9)
    assert (shifted["S1_conf"] <= 0.1).all()
    assert_allclose(shifted["S1"], [0.8, 0.2], atol=0.05)
    assert_allclose(shifted["ST"], [0.8, 0.2], atol=0.05)
    # multi-output path: a constant shift of one output column does not leak into the other
    multi = S.sobol_indices(lambda x: np.column_stack([_lin(x) + 1e4, _lin(x)]), OFFSET, 1024, seed=1)
    assert_allclose(multi.loc[0, "S1_conf"].to_numpy(), multi.loc[1, "S1_conf"].to_numpy(), atol=1e-9)


def test_sobol_conf_agrees_with_salib():
    """SALib 1.6 (independent implementation, its own design and bootstrap) on the offset model:
    both S1 intervals are of the same size (within a factor 2) and both estimates within 0.05."""
    sa_sample = pytest.importorskip("SALib.sample.sobol")
    sa_analyze = pytest.importorskip("SALib.analyze.sobol")
    prob = {"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}
    x = sa_sample.sample(prob, 1024, calc_second_order=False, seed=1)
    ref = sa_analyze.analyze(prob, _lin(x) + 100.0, calc_second_order=False, seed=1)
    ours = S.sobol_indices(lambda x: _lin(x) + 100.0, OFFSET, 1024, seed=1)
    assert_allclose(ours["S1"], ref["S1"], atol=0.05)
    ratio = ours["S1_conf"].to_numpy() / np.asarray(ref["S1_conf"])
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio


# ---------------------------------------------------------------- 2. Shapley effects
def _gauss_costs_exact(beta, cov):
    """Exact c(u) = E[Var(Y | X_{-u})] for Y = βᵀX, X ~ N(0, Σ): the conditional variance of βᵤᵀXᵤ
    given X_{-u}, βᵤᵀ(Σᵤᵤ − Σᵤ,₋ᵤ Σ₋ᵤ⁻¹ Σ₋ᵤ,ᵤ)βᵤ (Gaussian conditioning), then the Shapley sum by
    brute force over permutations (Shapley 1953), independent of the library's subset weights."""
    d = len(beta)

    def c(u):
        u = sorted(u)
        r = [j for j in range(d) if j not in u]
        if not u:
            return 0.0
        s = cov[np.ix_(u, u)]
        if r:
            s = s - cov[np.ix_(u, r)] @ np.linalg.solve(cov[np.ix_(r, r)], cov[np.ix_(r, u)])
        return float(beta[u] @ s @ beta[u])

    sh = np.zeros(d)
    perms = list(itertools.permutations(range(d)))
    for p in perms:
        for k, i in enumerate(p):
            sh[i] += c(set(p[: k + 1])) - c(set(p[:k]))
    return sh / len(perms)


def test_shapley_linear_gaussian_closed_form():
    """Y = X1 + X2 + X3, X1 ⟂ (X2, X3), corr(X2, X3) = ρ (Owen & Prieur 2017, §3; Iooss & Prieur 2019,
    eq. for the Gaussian linear model): Sh1 = σ1², Sh2 = σ2² + ρσ2σ3 + ρ²(σ3² − σ2²)/2, Sh3 symmetric;
    also checked against exact conditional variances summed over all permutations."""
    s1, s2, s3, rho = 1.0, 1.5, 2.0, 0.5
    cov = np.array([[s1**2, 0, 0], [0, s2**2, rho * s2 * s3], [0, rho * s2 * s3, s3**2]])
    closed = np.array([s1**2, s2**2 + rho * s2 * s3 + rho**2 * (s3**2 - s2**2) / 2,
                       s3**2 + rho * s2 * s3 + rho**2 * (s2**2 - s3**2) / 2])
    assert_allclose(_gauss_costs_exact(np.ones(3), cov), closed, rtol=1e-12)  # the two references agree
    res = S.shapley_effects(lambda x: x.sum(axis=1), {"names": ["x1", "x2", "x3"], "dist": "normal", "mean": [0, 0, 0], "cov": cov},
                            3000, seed=2, n_boot=50)
    var = cov.sum()  # Var(Y) = 1ᵀΣ1 = 10.25
    assert_allclose(res["share"], closed / var, atol=0.03)
    assert_allclose(res["effect"], closed, rtol=0.1)
    assert_allclose(res["share"].sum(), 1.0, atol=1e-12)  # efficiency: effects sum to the variance
    assert (res["conf"] > 0).all() and (res["conf"] < 0.05).all()


def test_shapley_independent_inputs_equal_sobol():
    """Independent inputs, Y = X1 + 2 X2 + X1·X3 with X ~ N(0, I): Sh_i = first order + half of the
    pair interaction (Owen 2014): Var = 1 + 4 + 1 = 6, Sh = (1.5, 4, 0.5)."""
    res = S.shapley_effects(lambda x: x[:, 0] + 2 * x[:, 1] + x[:, 0] * x[:, 2],
                            {"names": ["a", "b", "c"], "dist": "normal", "cov": np.eye(3)}, 3000, seed=5, n_boot=0)
    assert_allclose(res["share"], np.array([1.5, 4.0, 0.5]) / 6, atol=0.03)
    assert res["conf"].isna().all()


def test_shapley_dirichlet_linear_closed_form():
    """Y = βᵀX, X ~ Dirichlet(α) (d = 3, on the simplex). Hand derivation with the aggregation property:
    c({i}) = 0; c({a, b}) = (β_a − β_b)² α_a α_b / (A T (T + 1)) with A = α_a + α_b, T = Σα;
    c(all) = Var(Y) = [T Σ β²α − (Σ βα)²] / (T² (T + 1)); Sh_i = Σ_{j≠i} c({i,j})/6 + (Var − c(−i))/3."""
    alpha = np.array([2.0, 3.0, 5.0])
    beta = np.array([1.0, 4.0, -2.0])
    t = alpha.sum()
    var = (t * (beta**2 * alpha).sum() - (beta * alpha).sum() ** 2) / (t**2 * (t + 1))

    def c2(a, b):
        return (beta[a] - beta[b]) ** 2 * alpha[a] * alpha[b] / ((alpha[a] + alpha[b]) * t * (t + 1))

    sh = np.array([sum(c2(i, j) for j in range(3) if j != i) / 6 + (var - c2(*[j for j in range(3) if j != i])) / 3
                   for i in range(3)])
    assert_allclose(sh.sum(), var, rtol=1e-12)
    res = S.shapley_effects(lambda x: x @ beta, {"names": ["p", "q", "r"], "dist": "dirichlet", "alpha": alpha}, 4000, seed=3)
    assert_allclose(res["effect"], sh, rtol=0.08)
    assert_allclose(res["variance"].iloc[0], var, rtol=0.05)


def test_weight_shapley_two_groups_one_share_each():
    """Two groups of 90 and 10 points: one degree of freedom (w₂ = 100 − w₁). Knowing either share
    fixes the composite, so c({1}) = c({2}) = 0 and the Shapley value gives Var/2 to each — the
    effects sum to the variance, one share per group (½, ½), where the Sobol indices of
    independent multipliers show two interacting factors (issue #10: ST 0.89 / 0.86, S1 0.14 / 0.12)."""
    rng = np.random.default_rng(4)
    u, items = 25, 10
    groups = np.array(["A"] * 9 + ["B"])  # nine 10-point items in A (90 points), one in B (10 points)
    m = np.full(items, 10.0)
    x = np.floor(rng.random((u, items)) * m * 10) / 10
    res = S.weight_shapley(x, m, 400, seed=1, groups=groups, kappa=20.0, n_boot=20)
    sysr = res[res["target"] == "mean_abs_shift"].set_index("factor")
    assert list(sysr.index) == ["w_A", "w_B"]
    assert sysr["variance"].iloc[0] > 0
    assert_allclose(sysr["effect"].sum(), sysr["variance"].iloc[0], rtol=1e-12)
    assert_allclose(sysr["share"], [0.5, 0.5], atol=1e-12)  # exact: inner variances are identically 0
    nominal = S.Composite(x, m, groups=groups).nominal
    assert_allclose(nominal, [90.0, 10.0])  # the 90 / 10 split of the issue


def test_weight_shapley_targets_and_rank_outputs():
    x, m = _world(3, units=15)
    res = S.weight_shapley(x, m, 100, seed=2, groups=CATS, targets=("mean_abs_shift", "rank"), n_boot=0)
    sysr = res[res["target"] == "mean_abs_shift"]
    assert len(sysr) == 4 and (sysr["unit_id"] == "").all()
    assert_allclose(sysr["share"].sum(), 1.0)
    per = res[res["target"] == "rank"]
    assert len(per) == 4 * 15 and set(per["unit_id"]) == set(range(15))
    # a unit's shares sum to 1 when its rank varies (efficiency holds per output)
    g = per.groupby("unit_id")["share"].sum()
    assert_allclose(g[g.notna() & (g != 0)], 1.0)
    # the system column is the same whether or not ranks are also asked for (same draws)
    alone = S.weight_shapley(x, m, 100, seed=2, groups=CATS, n_boot=0)
    assert_allclose(alone["effect"].to_numpy(), sysr["effect"].to_numpy())
    only = S.weight_shapley(x, m, 20, seed=2, groups=CATS, targets=("rank",), n_boot=0)
    assert set(only["target"]) == {"rank"} and set(only["unit_id"]) == set(range(15))  # ids keep their type
    with pytest.raises(PipelineError):
        S.weight_shapley(x, m, 10, groups=CATS, targets=("winner",))


def test_shapley_rejects_bad_problem():
    with pytest.raises(PipelineError):
        S.shapley_effects(lambda x: x[:, 0], {"names": ["a", "b"], "dist": "dirichlet", "alpha": [1.0, -1.0]}, 10)
    with pytest.raises(PipelineError):
        S.shapley_effects(lambda x: x[:, 0], {"names": ["a", "b"], "dist": "normal", "cov": [[1, 2], [2, 1]]}, 10)
    with pytest.raises(PipelineError):
        S.shapley_effects(lambda x: x[:, 0], {"names": ["a", "b"], "dist": "beta"}, 10)


# ---------------------------------------------------------------- 3. weights-only headline, method choices apart
def test_method_priors_map_uniform_factor_to_stated_probabilities():
    """na_policy factor u ~ U(0, 1) → prorate / zero / full by the inverse CDF of (0.6, 0.2, 0.2): on the
    whole Saltelli design the policy frequencies match the prior (scrambled Sobol' points are uniform)."""
    assert S.METHOD_PRIORS["na_policy"] == {"prorate": 0.6, "zero": 0.2, "full": 0.2}
    x, m = _world(7, units=12)
    x[2, 3] = np.nan
    res = S.method_sobol(x, m, 64, seed=1, groups=CATS, n_boot=0)
    assert set(res["factor"]) == {"w_ideology", "w_organisation", "w_conduct", "w_special", "na_policy", "aggregation"}
    assert res.attrs["priors"]["na_policy"]["prorate"] == 0.6
    assert res.attrs["priors"]["aggregation"]["geometric"] == 0.2
    cdf = np.cumsum([0.6, 0.2, 0.2])
    u = np.random.default_rng(0).random(100_000)
    freq = np.bincount(np.minimum(np.searchsorted(cdf, u, side="right"), 2), minlength=3) / u.size
    assert_allclose(freq, [0.6, 0.2, 0.2], atol=0.01)
    with pytest.raises(PipelineError):
        S.weight_sobol(x, m, 8, groups=CATS, vary_na_policy=True, na_prior={"bogus": 1.0})


def test_weights_reading_never_names_a_method_choice():
    """The weights analysis reads weight factors only, even from a table that also holds method
    factors with a larger ST (the issue's "名次变动主要来自不适用项处理规则")."""
    sob = pd.DataFrame({"target": "mean_abs_shift", "unit_id": "", "factor": ["w_ideology", "w_conduct", "na_policy", "aggregation"],
                        "S1": [0.001, 0.0005, 0.6, 0.2], "S1_conf": 0.01, "ST": [0.002, 0.001, 0.81, 0.33], "ST_conf": 0.01})
    for lang in ("zh", "en"):
        txt = in_lang(lang, narrative.read_sobol, sob)
        assert "不适用项" not in txt and "NA rule" not in txt
        meth = in_lang(lang, narrative.read_methods, sob)
        assert ("不适用项" in meth) if lang == "zh" else ("NA rule" in meth)
    assert "不适用项处理规则" not in narrative.read_sobol(sob)


def test_methods_labels_exist_in_both_languages():
    from pipeline.i18n import t

    for key in narrative.METHODS_KEYS:
        for lang in ("zh", "en"):
            assert len(in_lang(lang, t, key)) > 40, key


# ---------------------------------------------------------------- 4. cross-efficiency unique
def test_cross_efficiency_invariant_to_criteria_order():
    """Aggressive secondary goal (Doyle & Green 1994): permuting the criteria columns leaves every
    efficiency and cross-efficiency unchanged (to 1e-9). Values rounded to 0.01 make many LP optima
    degenerate (the case where the first-stage vertex depended on the column order)."""
    rng = np.random.default_rng(11)
    y = np.round(rng.uniform(0.5, 1.0, (30, 4)), 2)
    base = S.bod_table(y)
    for perm in [(3, 2, 1, 0), (1, 3, 0, 2), (2, 0, 3, 1)]:
        res = S.bod_table(y[:, perm])
        assert_allclose(res["efficiency"], base["efficiency"], atol=1e-9)
        assert_allclose(res["cross_efficiency"], base["cross_efficiency"], atol=1e-9)
        # the weights follow their criteria
        assert_allclose(res[[f"w_{j}" for j in range(4)]].to_numpy(), base[[f"w_{p}" for p in perm]].to_numpy(), atol=1e-7)


def test_cross_efficiency_aggressive_hand_case():
    """A = (1, 0.5), B = (0.5, 1), C = (0.6, 0.6). A's optimal face: w·A = 1 with w·B ≤ 1; among those the
    aggressive goal minimises w·B + w·C → w = (1, 0) (B scores 0.5, C 0.6). Symmetrically B: w = (0, 1).
    C (E_C = 0.8 at w = (2/3, 2/3)) has a unique optimum. Cross-efficiency of A = mean(w_B·A, w_C·A) =
    mean(0.5, 1.0) = 0.75 (hand LP)."""
    y = np.array([[1.0, 0.5], [0.5, 1.0], [0.6, 0.6]])
    res = S.bod_table(y)
    assert_allclose(res["efficiency"], [1.0, 1.0, 0.8], atol=1e-9)
    assert_allclose(res[["w_0", "w_1"]].to_numpy()[:2], [[1.0, 0.0], [0.0, 1.0]], atol=1e-9)
    assert_allclose(res["cross_efficiency"], [0.75, 0.75, 0.6], atol=1e-9)


# ---------------------------------------------------------------- 6. smaller points
def test_size_class_ties_in_one_class():
    """Tied member counts share one class whatever the row order (mid-distribution percentile)."""
    s = S.size_class(pd.Series([10, 10, 10, 20, 20, 20]))
    assert list(s) == ["small"] * 3 + ["large"] * 3
    s2 = S.size_class(pd.Series([20, 10, 20, 10, 10, 20]))
    assert list(s2) == ["large", "small", "large", "small", "small", "large"]
    assert list(S.size_class(pd.Series([5.0] * 4))) == ["medium"] * 4
    assert list(S.size_class([10, 20, 30, 40, 50, 60])) == ["small", "small", "medium", "medium", "large", "large"]


def test_holm_over_all_attributes_two_level_once():
    """Holm over the whole family: p-values of the hypotheses (a two-level attribute counts once) adjusted
    together — compared with a hand Holm on the raw p-values of the same table."""
    rng = np.random.default_rng(3)
    ids = [f"U{i}" for i in range(24)]
    nominal = pd.Series(np.arange(1.0, 25.0), index=ids)
    adv = np.r_[np.full(8, 3.0), np.zeros(16)] + rng.normal(0, 1, 24)
    attrs = pd.DataFrame({"type": ["a"] * 12 + ["b"] * 12, "sector": (["x"] * 8 + ["y"] * 8 + ["z"] * 8)}, index=ids)
    res = in_lang("en", S.favouritism, nominal, nominal + adv, attrs, n_perm=4999, seed=1)
    t_rows = res[res["attribute"] == "type"]
    assert t_rows["p_value"].nunique() == 1 and t_rows["p_holm"].nunique() == 1  # one hypothesis
    fam = np.r_[t_rows["p_value"].iloc[0], res.loc[res["attribute"] == "sector", "p_value"].to_numpy()]
    m = fam.size  # 1 + 3 = 4 hypotheses (not 5)
    order = np.argsort(fam)
    hand = np.minimum(np.maximum.accumulate((m - np.arange(m)) * fam[order]), 1.0)
    exp = np.empty(m)
    exp[order] = hand
    assert_allclose(t_rows["p_holm"].iloc[0], exp[0])
    assert_allclose(res.loc[res["attribute"] == "sector", "p_holm"].to_numpy(), exp[1:])


def test_eps2_unbiased_under_independence_eta2_is_not():
    """Under independence the sample η² has mean (k − 1)/(n − 1) (= 4/73 = 0.055 for k = 5 bins and
    n = 74; Kelley 1935); the bias-corrected ε² has mean ≈ 0. 400 independent normal samples."""
    rng = np.random.default_rng(8)
    eta, eps = [], []
    for _ in range(400):
        x, y = rng.normal(size=74), rng.normal(size=74)
        eta.append(S.correlation_ratio(x, y, n_bins=5, corrected=False))
        eps.append(S.correlation_ratio(x, y, n_bins=5))
    assert_allclose(np.mean(eta), 4 / 73, atol=0.006)
    assert abs(np.mean(eps)) < 0.006


def test_findings_effective_weights_is_the_sensitivity_one():
    """One implementation: the findings rule reads the category rows of
    sensitivity.effective_weights (chapter 四's table, r² share), NA items included; findings has
    no effective-weights function of its own."""
    from pipeline import findings as F
    from pipeline.report.year import _effective_from_chapter

    assert not hasattr(F, "effective_weights")
    x, m = _world(5, units=20)
    x[4, 2] = np.nan
    ref = S.effective_weights(x, m, CATS)
    got = _effective_from_chapter(ref).set_index("category")
    ref = ref[ref["level"] == "category"].set_index("category")
    assert_allclose(got["effective_share"], ref.loc[got.index, "r2_share"], rtol=1e-12)
    assert_allclose(got["ratio"], ref.loc[got.index, "ratio"], rtol=1e-12)


def test_fairness_reading_counts_a_two_level_attribute_once():
    tests = pd.DataFrame({"attribute": ["type", "type", "sector", "sector", "sector"], "group": ["a", "b", "x", "y", "z"],
                          "statistic": [2.0, -2.0, 1.0, 0.1, -1.1], "p_holm": [0.01, 0.01, 0.02, 0.9, 0.5],
                          "reading": ["A+", "B-", "X+", "Y", "Z"]})
    txt = in_lang("en", narrative.read_fairness, tests)
    assert "2 significant" in txt and "A+" in txt and "X+" in txt and "B-" not in txt


def test_uncertainty_draws_method_choices_from_the_same_prior():
    """The Monte Carlo analysis and the method-choices Sobol analysis share one stated prior."""
    from pipeline.sensitivity.uncertainty import _other_factors

    _, pol, geo = _other_factors(np.random.default_rng(1), 200_000, None, True, True, np.array([1.0, 0.8, 0.6]))
    assert_allclose(np.bincount(pol, minlength=3) / pol.size, [0.6, 0.2, 0.2], atol=0.005)  # prorate, zero, full
    assert_allclose(geo.mean(), 0.2, atol=0.005)
