# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 三、纵向比较与趋势 Units over the years, and the system trend
#
# **问题：** 考评项目和分值逐年调整，在可比口径（得分率、名次、百分位、年内标准分）下各单位如何变化？谁持续优胜？名次流动性如何？考评是否正在失去区分能力？
#
# **Question.** Item lists and maxima change every year, so how do units move when compared on comparable scales (% of max, rank, percentile, within-year z)? Who keeps winning, how mobile are the ranks, which units improve or decline, and is the assessment losing its power to discriminate between units?
#
# Renamed units are followed through `successor_id` (the break is marked); merged units start a new series and are never joined to their predecessors.

# %% tags=["parameters"]
year = 2016
years = [2009, 2016]
top_n = 20
na_policy = "prorate"
grade_map = {"好": 1.0, "较好": 0.8, "一般": 0.6}
lang = "zh"
seed = 20240601
processed = "../data/processed"
out_dir = "../data/processed/analysis/2016/03-vertical-trend"

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
from IPython.display import display

from pipeline import compare, notebooks, trend
from pipeline.plots import compare as charts
from pipeline.plots import style

style.use_style()

# %% [markdown]
# ## 0 数据与参数 Data and parameters

# %%
run = notebooks.chapter_inputs(processed, "03-vertical-trend", out_dir, year=year, years=years, top_n=top_n, na_policy=na_policy,
                               grade_map=grade_map, lang=lang, seed=seed)
prm, rec, totals = run.prm, run.rec, run.totals
items, units, scores = run.items, run.units, run.scores
span = (prm.years[0], prm.year) if prm.years else (int(totals.year.min()), prm.year)
print(f"{span[0]}–{span[1]}, na_policy={prm.na_policy}, top_n={prm.top_n}")

# %% [markdown]
# ## 1 可比得分、逐年变化、更名与合并 Comparable scores, year-over-year change, renames and merges

# %%
vert = compare.vertical(totals, units, years=span, top_n=prm.top_n)
lin = compare.lineage(units)
rec.table("v_vertical", vert)
rec.table("v_lineage", lin)
display(vert.loc[vert["break"], ["year", "unit_id", "name", "break_kind", "predecessors", "rank", "d_rank"]])
display(rec.reading(compare.read_breaks(vert)))

# %% [markdown]
# ## 2 重点单位轨迹 Trajectories of selected units
#
# Units with a rename or merge, the most persistent winner, and the largest riser and faller.

# %%
chosen = compare.pick_examples(vert)
fig = rec.figure("v_trajectories", charts.trajectories(vert, chosen, top_n=prm.top_n))
display(fig)
display(rec.reading(compare.read_trajectories(vert, chosen)))

# %% [markdown]
# ## 3 相邻年度名次流动（五分位转移矩阵、Shorrocks 指数） Rank mobility

# %%
mob = rec.table("v_mobility", compare.mobility(vert))
trans = rec.table("v_transition", compare.last_transition(vert))
fig = rec.figure("v_transition", charts.transition_matrix(trans))
display(fig)
display(rec.reading(compare.read_transition(trans) + " " + compare.read_mobility(mob)))

# %% [markdown]
# ## 4 优胜持续性 Winner persistence

# %%
pers = rec.table("v_persistence", compare.persistence(vert))
display(pers.head(10))
display(rec.reading(compare.read_persistence(pers, vert)))

# %% [markdown]
# ## 5 单位趋势（Theil–Sen 斜率、Mann–Kendall 精确检验、BH 校正） Per-unit trends

# %%
trends = rec.table("v_trends", trend.unit_trends(vert, value="pct_of_max"))
display(trends.head(10))
display(rec.reading(trend.read_trends(trends)))

# %% [markdown]
# ## 6 系统逐年概况：水平、离散、天花板、优胜线——区分能力是否下降？ The system by year

# %%
system = trend.system(totals.loc[totals.year.between(*span)], top_n=prm.top_n)
tests, verdict = trend.discrimination(system)
rec.table("v_system", system)
rec.table("v_discrimination", tests)
fig = rec.figure("v_system", charts.system_panel(system, verdict))
display(fig)
display(rec.reading(trend.read_system(system, tests, verdict)))

# %% [markdown]
# ## 主要数据 Headline numbers

# %%
rec.headline(
    first_year=int(span[0]),
    last_year=int(span[1]),
    n_rename=int((vert.break_kind == "rename").sum()),
    n_merge=int((vert.break_kind == "merge").sum()),
    shorrocks_mean=float(mob.shorrocks.mean()) if len(mob) else None,
    spearman_mean=float(mob.spearman.mean()) if len(mob) else None,
    n_always_winner=int((pers.years_winner == vert.year.nunique()).sum()),
    longest_run=int(pers.longest_run.max()),
    n_up=int((trends.direction == "up").sum()),
    n_down=int((trends.direction == "down").sum()),
    sd_slope=float(tests.set_index("metric").loc["sd", "slope"]) if len(system) > 1 else None,
    ceiling_last=float(system.share_ceiling.iloc[-1]),
    verdict=verdict,
)
