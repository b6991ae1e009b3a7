# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 六、方案试算 What-if schemes
#
# **问题：** 如果按一份新的分值方案（差异化、多层级或其他）考评，哪些单位会成为优胜单位，谁的名次上升、谁下降，哪类单位得益或受损，新方案本身是否稳健、历年是否稳定？
#
# **Question.** Under a proposed scheme (differentiated 差异化 weights, tiers 多层级, other points), who
# would have won in each year, whose rank rises or falls, which types, sectors and sizes of unit gain or
# lose, and how robust and stable is the proposal itself? The scheme file format is SPEC §8; the
# official scheme is the item list's maxima, the default grade map and prorate.

# %% tags=["parameters"]
scheme_file = "../schemes/by_sector.yaml"
year = 2016
years = [2009, 2016]
lang = "zh"
seed = 20240601
n_mc = 1000
n_perm = 999
kappa = 200.0
processed = "../data/processed"
out_dir = "../reports/schemes/06-scheme"

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
from pathlib import Path

import pipeline.notebooks
import pipeline.scheme as scheme
import pipeline.scheme.compare as sc
import pipeline.scheme.figures as sfig
import pipeline.scheme.run as srun

# %% [markdown]
# ## 1 · 方案与数据 The scheme and the data

# %%
tables = scheme.load_tables(processed)
frames = scheme.year_frames(tables, tuple(years))
proposal = scheme.parse(scheme_file)
print(proposal.to_yaml())

# %% [markdown]
# ## 2 · 逐年与现行方案比较 Year by year against the official scheme

# %%
res = scheme.evaluate(tables, proposal, frames, n_mc=n_mc, kappa=kappa, n_perm=n_perm, seed=seed)
srun.write_comparisons(res, Path(out_dir))
res.stability

# %%
sfig.stability_lines([(proposal.name, res.stability)])

# %% [markdown]
# ## 3 · 优胜单位的进与出、名次变化 Winners in and out, rank changes

# %%
rows = srun.year_rows(res, year)
sc.winner_moves(rows)

# %%
sfig.rank_scatter(rows)

# %%
sc.rank_changes(rows)

# %% [markdown]
# ## 4 · 各类单位的得与失 Who gains and who loses (permutation test)

# %%
gw = sc.group_winners(rows)
sfig.group_bars(gw, ("type", "sector"))

# %%
sc.group_effects(rows, n_perm=n_perm, seed=seed)

# %% [markdown]
# ## 5 · 方案自身的名次不确定性 The scheme's own rank uncertainty

# %%
mc = res.mc_units.loc[res.mc_units["year"] == rows["year"].iloc[0]]
sfig.rank_intervals(mc, rows.set_index("unit_id")["name"], dict(proposal.quotas) if proposal.tier_by else {"": proposal.top_n},
                    tier_by=proposal.tier_by)

# %% [markdown]
# ## 6 · 要点 Headline numbers

# %%
rec = pipeline.notebooks.record(out_dir, "06-scheme", scheme_file=scheme_file, year=year, years=years, lang=lang, seed=seed,
                                n_mc=n_mc, n_perm=n_perm, kappa=kappa)
rec.headline(**scheme.headline(res))
