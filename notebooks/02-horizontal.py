# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 二、横向比较 Horizontal comparison of one year
#
# **问题：** 同一年度内各单位差距有多大？谁获评优胜、领先多少？不同类型和系统的单位有无差异？哪些考评项目真正区分了党建工作的好与差？
#
# **Question.** Within one assessment year, how far apart are the units, who wins and by how much, do unit types and sectors differ, and which of the year's items actually separate good from weak party-building work?
#
# Parameters follow `docs/CONTRACT.md`; the chapter record (`record.json`, tables, figures) goes to `out_dir`.

# %% tags=["parameters"]
year = 2016
years = [2009, 2016]
top_n = 20
na_policy = "prorate"
grade_map = {"好": 1.0, "较好": 0.8, "一般": 0.6}
lang = "zh"
seed = 20240601
processed = "../data/processed"
out_dir = "../data/processed/analysis/2016/02-horizontal"

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
import pandas as pd
from IPython.display import display

from pipeline import compare, notebooks, pages, score
from pipeline.plots import compare as charts
from pipeline.plots import style

style.use_style()

# %% [markdown]
# ## 0 数据与参数 Data and parameters
#
# Totals are computed from the processed scores with this run's `na_policy`, `top_n` and `grade_map` (`score.run_totals`); the item tables below use the same `grade_map` (graded items re-scored from their grade, `score.graded`).

# %%
run = notebooks.chapter_inputs(processed, "02-horizontal", out_dir, year=year, years=years, top_n=top_n, na_policy=na_policy,
                               grade_map=grade_map, lang=lang, seed=seed)
prm, rec, totals = run.prm, run.rec, run.totals
items, units = run.items, run.units
scores = score.graded(run.scores, items, prm.grade_map)
print(f"{prm.year}: {int((totals.year == prm.year).sum())} units, na_policy={prm.na_policy}, top_n={prm.top_n}")

# %% [markdown]
# ## 1 得分分布 Distribution of scores

# %%
desc = rec.table("h_describe", compare.describe(totals, value="pct_of_max"))
fig = rec.figure("h_distribution", charts.distribution(totals, prm.year, top_n=prm.top_n))
display(fig)
display(rec.reading(compare.read_distribution(totals, prm.year)))

# %% [markdown]
# ## 2 排名、优胜单位与优胜线差距 Ranking, winners and the gap to the winning cut

# %%
rk = rec.table("h_ranking", compare.ranking(totals, units, prm.year, top_n=prm.top_n))
fig = rec.figure("h_ranking", charts.ranking_bar(rk, prm.year, top_n=prm.top_n))
display(fig)
display(rec.reading(compare.read_ranking(rk, prm.year)))

# %% [markdown]
# ## 3 四类别与六维度得分 Category and six-dimension profiles
#
# The radar shows the first- and last-ranked units against the mean of all units.

# %%
prof = rec.table("h_profiles", compare.profiles(scores, items, prm.year))
pmean = rec.table("h_profile_means", compare.profile_means(prof))
fig = rec.figure("h_radar", charts.radar(prof, [rk.unit_id.iloc[0], rk.unit_id.iloc[-1]], units, prm.year, means=pmean))
display(fig)
display(rec.reading(compare.read_radar(pmean, prm.year)))

# %% [markdown]
# ## 4 按单位类型和系统分组比较 Peer groups by type and sector (Kruskal–Wallis)

# %%
peer_type = compare.peer_groups(totals, units, prm.year, by="type", top_n=prm.top_n)
test_type = compare.peer_test(totals, units, prm.year, by="type")
fig = rec.figure("h_peer_type", charts.peer_box(totals, units, prm.year, by="type", top_n=prm.top_n))
display(fig)
display(rec.reading(compare.read_peer(test_type, peer_type, prm.year)))

# %%
peer_sector = compare.peer_groups(totals, units, prm.year, by="sector", top_n=prm.top_n)
test_sector = compare.peer_test(totals, units, prm.year, by="sector")
fig = rec.figure("h_peer_sector", charts.peer_box(totals, units, prm.year, by="sector", top_n=prm.top_n))
display(fig)
display(rec.reading(compare.read_peer(test_sector, peer_sector, prm.year)))

# %%
rec.table("h_peer_groups", pd.concat([peer_type, peer_sector], ignore_index=True))
rec.table("h_peer_tests", pd.concat([test_type, test_sector], ignore_index=True))
pd.concat([test_type, test_sector], ignore_index=True)

# %% [markdown]
# ## 5 单位 × 项目 Units × items

# %%
ui = rec.table("h_unit_items", compare.unit_items(scores, items, prm.year))
fig = rec.figure("h_heatmap", charts.heatmap(ui, rk, prm.year))
display(fig)
display(rec.reading(compare.read_heatmap(ui, prm.year)))

# %% [markdown]
# ## 6 项目区分度与内部一致性 Item discrimination and internal consistency

# %%
disc = compare.item_discrimination(scores, items, prm.year)
alphas = compare.category_alpha(scores, items, prm.year)
rec.table("h_items", disc)
rec.table("h_alpha", alphas)
fig = rec.figure("h_items", charts.item_scatter(disc, prm.year))
display(fig)
display(rec.reading(compare.read_items(disc, alphas, prm.year)))

# %% [markdown]
# ## 7 单位页与半年通报 Unit pages and the half-year bulletin
#
# Each unit's page: the points it lost item by item against the year's and the winners' average, and what separates it from the cut (`pages.item_losses`, `pages.gaps_to_cut`). The half-year bulletin (半年通报): 横比 and 纵比 of January–June from the monthly sheets, category subtotals, the units at the bottom with the items where they lost most (`pages.bulletin_tables`); a year without monthly sheets records empty tables and the reason (`bulletin_notes`).

# %%
losses = rec.table("h_item_losses", pages.item_losses(scores, items, totals, prm.year, top_n=prm.top_n))
gaps = rec.table("h_unit_gaps", pages.gaps_to_cut(rk, losses, prm.na_policy))
gaps.loc[~gaps.is_winner].head(10)

# %%
bul = pages.bulletin_tables(scores, items, prm.year, totals=totals)
rec.table("h_bulletin", bul["ranking"])
rec.table("h_bulletin_categories", bul["categories"])
rec.table("h_bulletin_bottom", bul["bottom"])
bulletin = pages.bulletin_summary(bul["ranking"], top_n=prm.top_n)
print(bul["notes"] or bulletin)
bul["categories"]

# %% [markdown]
# ## 主要数据 Headline numbers

# %%
rec.headline(
    year=prm.year,
    gini=float(desc.loc[desc.year == prm.year, "gini"].iloc[0]),
    winners=rk.loc[rk.is_winner, "unit_id"].tolist(),
    first=str(rk.unit_id.iloc[0]),
    kw_p_type=float(test_type.p.iloc[0]),
    kw_p_sector=float(test_sector.p.iloc[0]),
    alpha_all=float(alphas.loc[alphas.category == "all", "alpha"].iloc[0]),
    n_ceiling_items=int((disc.flag == "ceiling").sum()),
    n_weak_items=int((disc.flag == "weak").sum()),
    bulletin_notes=bul["notes"],
    bulletin=bulletin,
)
