"""Build notebooks/01-overview.ipynb (the 总体情况 chapter) with nbformat.

Run: ``.venv/bin/python tools/build_nb_overview.py``. The notebook is thin: a parameters cell
of literals, one library call per step (pipeline.report / pipeline.findings), a figure and a
printed sentence of reading generated from the numbers, and the headline record last.
"""

from nbtools import code, md, notebook, write

cells = [
    md("# 一、总体情况 Overview\n\n"
       "**Question / 问题:** how many units were assessed this year, on which items and points, where do winners "
       "differ from the others, and how has the system moved over the years?\n\n"
       "参评单位、考评项目与分值结构、得分分布概况、优胜单位与其他单位的差别，以及历年系统走势。"
       "（得分分布图见二、横向比较，历年走势图见三、纵向比较与趋势，本章只给出概况数字。）"),
    code('year = 2016\n'
         'years = [2009, 2016]\n'
         'top_n = 20\n'
         'na_policy = "prorate"\n'
         'lang = "zh"\n'
         'seed = 20240601\n'
         'processed = "../data/processed"\n'
         'out_dir = "../data/processed/analysis/2016/01-overview"', metadata={"tags": ["parameters"]}),
    code("from pipeline import findings, io, notebooks, params, report\n"
         "from pipeline.plots import save\n\n"
         "prm = params.validate(params.Params(year=year, years=years, top_n=top_n, na_policy=na_policy, lang=lang, seed=seed),\n"
         "                      report.available_years(processed))"),
    md("## 1. Items and points / 考评项目与分值结构"),
    code('totals = io.read_table(processed, "totals")\n'
         'items = io.read_table(processed, "items")\n'
         'scores = io.read_table(processed, "scores")\n'
         'structure = report.item_structure(items, year)\n'
         'io.write_table(structure, out_dir + "/tables", "structure")\n'
         'print(report.overview_reading("items", lang, items=items[items["year"] == year]))'),
    code('fig = report.plot_structure(structure, lang)\n'
         'save(fig, out_dir + "/figures/structure")\n'
         'fig'),
    md("## 2. Distribution of totals / 得分分布概况"),
    code('stats = report.overview_stats(totals, year, top_n)\n'
         'io.write_table(stats, out_dir + "/tables", "distribution")\n'
         'print(report.overview_reading("dist", lang, stats=stats))'),
    md("## 3. Category profile / 各类别得分率"),
    code('profile = report.category_profile(totals, items, year)\n'
         'io.write_table(profile, out_dir + "/tables", "profile")\n'
         'print(report.overview_reading("profile", lang, profile=profile))'),
    code('fig = report.plot_profile(profile, lang)\n'
         'save(fig, out_dir + "/figures/profile")\n'
         'fig'),
    md("## 4. The system over the years / 历年系统概况"),
    code('system = findings.system_by_year(totals[totals["year"].between(years[0], year)], top_n)\n'
         'io.write_table(system, out_dir + "/tables", "system")\n'
         'print(report.overview_reading("system", lang, system=system))'),
    md("## 5. Items at a glance / 考评项目区分度"),
    code('item_stats = findings.item_stats(scores, items, year)\n'
         'io.write_table(item_stats, out_dir + "/tables", "item_stats")\n'
         'flat = findings.rule_flat_items(item_stats)\n'
         'print(report.overview_reading("flat", lang, item_stats=item_stats))'),
    md("## Headline numbers / 主要数据"),
    code('s = stats.set_index("statistic")["value"]\n'
         'notebooks.record(year=year, n_units=int(s["n_units"]), n_winners=int(s["n_winners"]), mean=round(float(s["mean"]), 4),\n'
         '                 sd=round(float(s["sd"]), 4), cut=round(float(s["cut"]), 4), share_ceiling=round(float(s["share_ceiling"]), 4),\n'
         '                 n_items=int(structure["n_items"].sum()), n_flat_items=flat[0].values["k"] if flat else 0)'),
]

write(notebook(cells), "01-overview.ipynb")
