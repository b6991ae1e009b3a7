# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 一、总体情况 Overview
#
# **Question / 问题:** how many units were assessed this year, on which items and points, and where do winners differ from the others?
#
# 参评单位、考评项目与分值结构、得分分布概况、优胜单位与其他单位的差别。（得分分布图见二、横向比较，历年系统走势见三、纵向比较与趋势，本章只给出概况数字。）
#
# Totals, ranks and winners of the whole run come from this chapter's record (table `totals`, computed with the run's `top_n`, `na_policy` and `grade_map`).

# %% tags=["parameters"]
year = 2016
years = [2009, 2016]
top_n = 20
na_policy = "prorate"
grade_map = {"好": 1.0, "较好": 0.8, "一般": 0.6}
lang = "zh"
seed = 20240601
processed = "../data/processed"
out_dir = "../data/processed/analysis/2016/01-overview"

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
from IPython.display import display
from pipeline import io, notebooks, overview, params, score
from pipeline.plots import overview as charts

items = io.read_table(processed, "items")
prm = params.validate(params.Params(year=year, years=years, top_n=top_n, na_policy=na_policy, grade_map=grade_map, lang=lang, seed=seed),
                      available_years=sorted(items["year"].unique()))
rec = notebooks.record(out_dir, "01-overview", **prm.to_dict())

# %% [markdown]
# ## 0. Totals of the run / 本次运行的总分与名次

# %%
scores = io.read_table(processed, "scores")
adjustments = io.read_table(processed, "adjustments")
totals = score.run_totals(scores, items, adjustments, prm)
totals = rec.table("totals", totals[totals["year"].between(years[0], year)].reset_index(drop=True))

# %% [markdown]
# ## 1. Items and points / 考评项目与分值结构

# %%
structure = rec.table("structure", overview.item_structure(items, year))
rec.reading(overview.overview_reading("items", items=items[items["year"] == year]))

# %%
display(rec.figure("structure", charts.plot_structure(structure)))

# %% [markdown]
# ## 2. Distribution of totals / 得分分布概况

# %%
stats = rec.table("distribution", overview.overview_stats(totals, year, top_n))
rec.reading(overview.overview_reading("dist", stats=stats))

# %% [markdown]
# ## 3. Category profile / 各类别得分率

# %%
profile = rec.table("profile", overview.category_profile(totals, items, year))
rec.reading(overview.overview_reading("profile", profile=profile))

# %%
display(rec.figure("profile", charts.plot_profile(profile)))

# %% [markdown]
# ## Headline numbers / 主要数据

# %%
s = stats.set_index("statistic")["value"]
rec.headline(year=year, n_units=int(s["n_units"]), n_winners=int(s["n_winners"]), cut=float(s["cut"]), n_near_cut=int(s["n_near_cut"]),
             mean_pct=float(s["mean"]), median_pct=float(s["median"]), sd_pct=float(s["sd"]), max_pct=float(s["max"]), min_pct=float(s["min"]),
             share_ceiling=float(s["share_ceiling"]), n_items=int(structure["n_items"].sum()))
