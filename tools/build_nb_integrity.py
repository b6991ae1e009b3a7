"""Build notebooks/05-integrity.ipynb (防止假数字 chapter) with nbformat.

Run: ``.venv/bin/python tools/build_nb_integrity.py``. Thin: parameters of literals, one call into
``pipeline.integrity`` per step, its figure from ``pipeline.plots.integrity`` and a sentence of
reading generated from the numbers, the headline record last.
"""

from nbtools import code, md, notebook, write

cells = [
    md("# 五、数据真实性核查 Integrity checks\n\n"
       "**Question / 问题:** do the numbers bear the marks of fake reporting (假数字) — annual totals that do not "
       "add up to the monthly sheets, stated totals or ranks that differ from the items, preferred terminal digits, "
       "full marks everywhere, jumps that fall back, self-assessments far above the verified score, or totals "
       "bunched just above the winners' line?\n\n"
       "年度汇总与月度合计是否一致、表列总分名次能否复核、尾数偏好、全满分、跳变回落、自评与核实差距、优胜线附近扎堆。"),
    code('year = 2016\n'
         'years = [2009, 2016]\n'
         'top_n = 20\n'
         'na_policy = "prorate"\n'
         'lang = "zh"\n'
         'seed = 20240601\n'
         'processed = "../data/processed"\n'
         'raw = "../data/raw"\n'
         'out_dir = "../data/processed/analysis/2016/05-integrity"', metadata={"tags": ["parameters"]}),
    code("from pipeline import integrity, io, notebooks, params, report, score\n"
         "from pipeline.plots import integrity as iplots\n"
         "from pipeline.plots import save\n\n"
         "prm = params.validate(params.Params(year=year, years=years, top_n=top_n, na_policy=na_policy, lang=lang, seed=seed),\n"
         "                      report.available_years(processed))"),
    md("## 1. All checks / 全部核查"),
    code('tables = integrity.load_tables(processed, years=(years[0], year))\n'
         'findings = integrity.check_all(tables, top_n=top_n, seed=seed, lang=lang)\n'
         'io.write_table(findings, out_dir + "/tables", "integrity")\n'
         'io.write_table(integrity.summary(findings[findings["year"] == year]), out_dir + "/tables", "integrity_summary")\n'
         'print(integrity.reading("counts", lang, findings=findings[findings["year"] == year]))'),
    code('fig = iplots.findings_by_check(findings[findings["year"] == year], lang)\n'
         'save(fig, out_dir + "/figures/integrity_counts")\n'
         'fig'),
    md("## 2. Annual summary vs monthly sheets / 年度汇总与月度合计"),
    code('gaps = integrity.monthly_gaps(tables["scores"], tables["items"])\n'
         'print(integrity.reading("monthly", lang, findings=findings, year=year))'),
    code('fig = iplots.monthly_gap_hist(gaps, year, round(integrity.MONTHLY_TOL, 2), lang)\n'
         'save(fig, out_dir + "/figures/integrity_monthly")\n'
         'fig'),
    md("## 3. Stated totals and ranks / 表列总分与名次"),
    code('print(integrity.reading("given", lang, findings=findings, year=year))'),
    md("## 4. Terminal digits / 尾数偏好"),
    code('flagged = findings.loc[(findings["year"] == year) & (findings["check"] == "digit_preference"), "unit_id"].tolist()\n'
         'digits = integrity.digit_table(tables["scores"], tables["items"], year, units=flagged)\n'
         'io.write_table(digits, out_dir + "/tables", "integrity_digits")\n'
         'print(integrity.reading("digits", lang, digits=digits, findings=findings, year=year))'),
    code('fig = iplots.digit_distribution(digits, year, lang)\n'
         'save(fig, out_dir + "/figures/integrity_digits")\n'
         'fig'),
    md("## 5. Totals at the winners' line / 优胜线附近"),
    code('totals = score.totals(tables["scores"], tables["items"], tables["adjustments"], na_policy=na_policy, top_n=top_n)\n'
         'print(integrity.reading("bunch", lang, totals=totals, findings=findings, year=year, top_n=top_n))'),
    code('fig = iplots.cut_window(totals, year, top_n, lang=lang)\n'
         'save(fig, out_dir + "/figures/integrity_cut")\n'
         'fig'),
    md("## Headline / 要点"),
    code('notebooks.record(year=year, **integrity.headline(findings[findings["year"] == year]))'),
]

write(notebook(cells), "05-integrity.ipynb")
