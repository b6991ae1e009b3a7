# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 四、权重敏感性与公平性 Weight sensitivity and fairness
#
# **问题：** 现行分值设置是否“足够科学”？在其他合理的权重下，排名和 20 个优胜单位名单会改变多少？哪些权重选择影响最大？现行方案是否偏向某类单位？
#
# **Question.** Are the item and category weights of 六比六看 讲绩效 "scientific enough" (分值设置不够科学)?
# How much would the ranking and the list of 20 winning units change under other plausible weights,
# which weighting choices matter most, and does the nominal scheme favour any type, sector or size of unit?
# Methods: one-at-a-time changes, alternative schemes (equal, PCA, benefit-of-the-doubt), Monte Carlo
# uncertainty analysis, Sobol indices and Shapley effects of the weights, a separate method-choices
# analysis, nominal vs effective weights, SMAA-2 and a permutation test of fairness.

# %% tags=["parameters"]
year = 2016
years = [2009, 2016]
top_n = 20
na_policy = "prorate"
grade_map = {"好": 1.0, "较好": 0.8, "一般": 0.6}
lang = "zh"
seed = 20240601
processed = "../data/processed"
out_dir = "../data/processed/analysis/2016/04-weights"
scheme = "dirichlet"
n_samples = 20000
kappa = 200.0
p = 0.2
n_sobol = 256

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
from IPython.display import display

import pipeline.params
import pipeline.i18n
import pipeline.score
import pipeline.io
import pipeline.notebooks
import pipeline.plots
import pipeline.sensitivity as sens
import pipeline.sensitivity.narrative as narrative
import pipeline.plots.weights as wplots

# %% [markdown]
# ## 1 · 参数与数据 Parameters and data

# %%
prm = pipeline.params.load(None, year=year, years=years, top_n=top_n, na_policy=na_policy, grade_map=grade_map, lang=lang, seed=seed,
                           scheme=scheme, n_samples=n_samples, kappa=kappa, p=p, n_sobol=n_sobol)
rec = pipeline.notebooks.record(out_dir, "04-weights", **prm.to_dict())
data = sens.year_data(processed, prm.year)
data.points = pipeline.score.regrade(data.points, data.grades, data.maxima, prm.grade_map)  # the run's grade_map
names = data.attrs["name"].to_dict()
print(f"{data.year}: {len(data.unit_ids)} units × {len(data.item_ids)} items, Σ max = {data.maxima.sum():g}")

# %% [markdown]
# ## 2 · 单因素调整：各类别权重 ±10/20/30 %（重新归一到 100） One-at-a-time

# %%
oat = sens.one_at_a_time(data.points.to_numpy(), data.maxima, data.categories, top_n=prm.top_n,
                         na_policy=prm.na_policy, offset=data.offset, unit_ids=data.unit_ids)
oat_summary = sens.shift_summary(oat)
rec.table("sens_oat", oat_summary)
fig = wplots.oat_chart(oat_summary)
display(rec.figure("sens_oat", fig))
rec.reading(narrative.read_oat(oat_summary))

# %% [markdown]
# ## 3 · 替代权重方案 Alternative weighting schemes

# %%
compare = sens.compare_schemes(data.points.to_numpy(), data.maxima, data.categories, data.dimensions, top_n=prm.top_n,
                               na_policy=prm.na_policy, offset=data.offset, unit_ids=data.unit_ids)
rec.table("sens_schemes", compare)
rec.table("sens_scheme_shifts", sens.scheme_shifts(compare))
rec.reading(narrative.read_schemes(compare))

# %% [markdown]
# ## 4 · 类别权重的蒙特卡洛不确定性分析 Monte Carlo uncertainty analysis

# %%
unc = sens.uncertainty(data.points, data.maxima, prm.n_samples, seed=prm.seed, scheme=prm.scheme, top_n=prm.top_n,
                       kappa=prm.kappa, p=prm.p, groups=data.categories, na_policy=prm.na_policy, **data.common())
rec.table("sens_uncertainty", unc)
rec.table("sens_uncertainty_system", sens.system_summary(unc))
fig = wplots.rank_intervals(unc, top_n=prm.top_n, names=names)
display(rec.figure("sens_rank_intervals", fig))
rec.reading(narrative.read_uncertainty(unc, top_n=prm.top_n))

# %%
fig = wplots.p_winner_bars(unc, top_n=prm.top_n, names=names, min_p=0.0)
display(rec.figure("sens_p_winner", fig))

# %% [markdown]
# ## 5 · 方差分解敏感性：只含权重 Variance-based sensitivity of the weights
#
# 研究问题是“权重是否公平”，因此本节只让类别权重变化（评档折算、不适用项规则、合成方式保持现行做法）。
# Sobol 指数的设计：各类别权重为独立乘数 U[1−p, 1+p]，再归一到 100；权重只通过占比起作用，故再给出把权重视为单纯形上相依占比的 Shapley 效应（各效应之和等于方差）。
#
# Weights only (grade map, NA rule and aggregation at their official choices). Sobol design: independent
# multipliers U[1 − p, 1 + p], renormalised to 100; Shapley effects treat the weights as dependent shares
# on the simplex (Dirichlet prior of section 4) and sum to the variance.

# %%
sob = sens.weight_sobol(data.points, data.maxima, prm.n_sobol, seed=prm.seed, groups=data.categories, p=prm.p,
                        top_n=prm.top_n, na_policy=prm.na_policy, **data.common())
rec.table("sens_sobol", sob)
fig = wplots.sobol_bars(sob[sob["target"] == "mean_abs_shift"], n=prm.n_sobol)
display(rec.figure("sens_sobol", fig))
rec.reading(narrative.read_sobol(sob))

# %%
shap = sens.weight_shapley(data.points, data.maxima, 4 * prm.n_sobol, seed=prm.seed, groups=data.categories,
                           kappa=prm.kappa, top_n=prm.top_n, na_policy=prm.na_policy, **data.common())
rec.table("sens_shapley", shap)
fig = wplots.shapley_bars(shap, n=4 * prm.n_sobol)
display(rec.figure("sens_shapley", fig))
rec.reading(narrative.read_shapley(shap))

# %% [markdown]
# ## 5′ · 方法选择分析（单独列出） Method choices (a separate analysis)
#
# 评档折算、不适用项规则与合成方式不是权重；它们对名次的影响取决于对规则所设的先验（见方法说明：不适用项按比例折算 0.6、按零分 0.2、按满分 0.2；算术合成 0.8、几何 0.2；折算比例在现行值 ±0.1 内均匀）。本节结果不用于回答权重是否公平。
#
# Grade map, NA rule and aggregation are not weights; their effect depends on the stated priors (methods
# appendix) and is not part of the answer on the weights.

# %%
meth = sens.method_sobol(data.points, data.maxima, prm.n_sobol, seed=prm.seed, groups=data.categories, p=prm.p,
                         top_n=prm.top_n, na_policy=prm.na_policy, **data.common())
rec.table("sens_method_choices", meth)
fig = wplots.sobol_bars(meth, title=pipeline.i18n.t("sens_methods_title", n=prm.n_sobol))
display(rec.figure("sens_methods", fig))
rec.reading(narrative.read_methods(meth))

# %% [markdown]
# ## 6 · 名义权重与实际权重 Nominal vs effective weights

# %%
eff = sens.effective_weights(data.points.to_numpy(), data.maxima, data.categories, item_ids=data.item_ids,
                             na_policy=prm.na_policy)
rec.table("sens_effective_weights", eff)
fig = wplots.effective_weights_chart(eff, level="category")
display(rec.figure("sens_effective_weights", fig))
rec.reading(narrative.read_effective(eff))

# %% [markdown]
# ## 7 · SMAA-2 随机多准则可接受性分析 SMAA-2

# %%
smaa_res = sens.smaa(data.category_scores(), prm.n_samples, seed=prm.seed, top_n=prm.top_n)
rec.table("sens_smaa", smaa_res.summary().reset_index())
fig = wplots.acceptability_heatmap(smaa_res.acceptability, names=names, top_n=prm.top_n)
display(rec.figure("sens_smaa", fig))
rec.reading(narrative.read_smaa(smaa_res, top_n=prm.top_n, names=names))

# %% [markdown]
# ## 8 · 按类型、系统、规模的公平性 Fairness by group

# %%
outcomes, tests = sens.fairness(compare, unc, data.attrs, top_n=prm.top_n, seed=prm.seed)
rec.table("sens_fairness_groups", outcomes)
rec.table("sens_fairness_tests", tests)
fig = wplots.fairness_chart(outcomes, attribute="sector")
display(rec.figure("sens_fairness_sector", fig))
rec.reading(narrative.read_fairness(tests))

# %%
fig = wplots.fairness_chart(outcomes, attribute="type")
display(rec.figure("sens_fairness_type", fig))
fig = wplots.fairness_chart(outcomes, attribute="size")
display(rec.figure("sens_fairness_size", fig))

# %% [markdown]
# ## 主要数据 Headline

# %%
rec.headline(year=data.year, **sens.headline(unc, oat_summary, compare, sob, eff, smaa_res, tests, shap=shap, methods=meth))
