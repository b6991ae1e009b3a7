# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 五、数据真实性核查 Integrity checks
#
# **Question / 问题:** do the numbers bear the marks of fake reporting (假数字) — annual totals that do not add up to the monthly sheets, stated totals or ranks that differ from the items, preferred terminal digits, full marks everywhere, jumps that fall back, self-assessments far above the verified score, or totals bunched just above the winners' line?
#
# 年度汇总与月度合计是否一致、表列总分名次能否复核、尾数偏好、全满分、跳变回落、自评与核实差距、优胜线附近扎堆。

# %% tags=["parameters"]
year = 2016
years = [2009, 2016]
top_n = 20
na_policy = "prorate"
grade_map = {"好": 1.0, "较好": 0.8, "一般": 0.6}
lang = "zh"
seed = 20240601
processed = "../data/processed"
raw = "../data/raw"
out_dir = "../data/processed/analysis/2016/05-integrity"

# %%
from pipeline import i18n

# the run's language: every text below (figures, sentences of reading) reads it
i18n.use(lang);

# %%
from IPython.display import display
from pipeline import integrity, notebooks, params, score
from pipeline.plots import integrity as iplots

prm = params.validate(params.Params(year=year, years=years, top_n=top_n, na_policy=na_policy, grade_map=grade_map, lang=lang, seed=seed))
rec = notebooks.record(out_dir, "05-integrity", **prm.to_dict())

# %% [markdown]
# ## 1. All checks / 全部核查

# %%
tables = integrity.load_tables(processed, years=(years[0], year))
findings = integrity.check_all(tables, top_n=top_n, seed=seed)
rec.table("integrity", findings)
rec.table("integrity_summary", integrity.summary(findings[findings["year"] == year]))
rec.reading(integrity.reading("counts", findings=findings[findings["year"] == year]))

# %%
fig = iplots.findings_by_check(findings[findings["year"] == year])
display(rec.figure("integrity_counts", fig))
fig

# %% [markdown]
# ## 2. Annual summary vs monthly sheets / 年度汇总与月度合计

# %%
gaps = integrity.monthly_gaps(tables["scores"], tables["items"])
rec.reading(integrity.reading("monthly", findings=findings, year=year))

# %%
fig = iplots.monthly_gap_hist(gaps, year, round(integrity.MONTHLY_TOL, 2))
display(rec.figure("integrity_monthly", fig))
fig

# %% [markdown]
# ## 3. Stated totals and ranks / 表列总分与名次

# %%
rec.reading(integrity.reading("given", findings=findings, year=year))

# %% [markdown]
# ## 4. Terminal digits / 尾数偏好

# %%
flagged = findings.loc[(findings["year"] == year) & (findings["check"] == "digit_preference"), "unit_id"].tolist()
digits = integrity.digit_table(tables["scores"], tables["items"], year, units=flagged)
rec.table("integrity_digits", digits)
rec.reading(integrity.reading("digits", digits=digits, findings=findings, year=year))

# %%
fig = iplots.digit_distribution(digits, year)
display(rec.figure("integrity_digits", fig))
fig

# %% [markdown]
# ## 5. Totals at the winners' line / 优胜线附近

# %%
totals = score.run_totals(tables["scores"], tables["items"], tables["adjustments"], prm)
rec.reading(integrity.reading("bunch", totals=totals, findings=findings, year=year, top_n=top_n))

# %%
fig = iplots.cut_window(totals, year, top_n)
display(rec.figure("integrity_cut", fig))
fig

# %% [markdown]
# ## Headline / 要点

# %%
rec.headline(year=year, **integrity.headline(findings[findings["year"] == year]))
