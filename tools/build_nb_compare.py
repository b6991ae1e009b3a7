"""Build notebooks/02-horizontal.ipynb and notebooks/03-vertical-trend.ipynb (thin, papermill-ready).

Run: ``.venv/bin/python tools/build_nb_compare.py``. The notebooks hold no logic: a parameters
cell of literals, then one call into :mod:`pipeline` per step, its figure, and a sentence of
reading generated from the numbers; the last cell records the headline numbers.
"""

from __future__ import annotations


import nbformat
from nbtools import code, md, notebook, write


PARAMS = '''# years: a span such as "2009-2016"; None = every year in the data
year = 2016
years = None
top_n = 20
na_policy = "prorate"
lang = "zh"
seed = 20240601
processed = "../data/processed"
out_dir = "../data/processed/analysis/2016"'''

LOAD = '''items = io.read_table(processed, "items")
units = io.read_table(processed, "units")
scores = io.read_table(processed, "scores")
adjustments = io.read_table(processed, "adjustments")
prm = params.validate(
    params.Params(year=year, years=years, top_n=top_n, na_policy=na_policy, lang=lang, seed=seed),
    available_years=sorted(items["year"].unique()),
)
tables, figures = str(Path(out_dir) / "tables"), str(Path(out_dir) / "figures")
totals = score.totals(scores, items, adjustments, na_policy=prm.na_policy, top_n=prm.top_n)'''

IMPORTS = '''from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from pipeline import compare, io, params, score, trend
from pipeline.notebooks import record
from pipeline.plots import compare as charts
from pipeline.plots import style

style.use_style()'''




def horizontal() -> nbformat.NotebookNode:
    cells = [
        md(
            "# 二、横向比较 Horizontal comparison of one year\n\n"
            "**问题：** 同一年度内各单位差距有多大？谁获评优胜、领先多少？不同类型和系统的单位有无差异？哪些考评项目真正区分了党建工作的好与差？\n\n"
            "**Question.** Within one assessment year, how far apart are the units, who wins and by how "
            "much, do unit types and sectors differ, and which of the year's items actually separate "
            "good from weak party-building work?\n\n"
            "Parameters follow `docs/CONTRACT.md`; tables go to `out_dir/tables`, figures to `out_dir/figures`."
        ),
        code(PARAMS, tags=["parameters"]),
        code(IMPORTS),
        md("## 0 数据与参数 Data and parameters\n\nTotals are recomputed from the processed scores with this run's `na_policy` and `top_n`."),
        code(LOAD + '\nprint(f"{prm.year}: {int((totals.year == prm.year).sum())} units, na_policy={prm.na_policy}, top_n={prm.top_n}")'),
        md("## 1 得分分布 Distribution of scores"),
        code(
            'desc = compare.describe(totals, value="pct_of_max")\n'
            'io.write_table(desc, tables, "h_describe")\n'
            "fig = charts.distribution(totals, prm.year, lang=prm.lang, top_n=prm.top_n)\n"
            'style.save(fig, figures + "/h_distribution")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_distribution(totals, prm.year, prm.lang)))"
        ),
        md("## 2 排名、优胜单位与优胜线差距 Ranking, winners and the gap to the winning cut"),
        code(
            "rk = compare.ranking(totals, units, prm.year, top_n=prm.top_n)\n"
            'io.write_table(rk, tables, "h_ranking")\n'
            "fig = charts.ranking_bar(rk, prm.year, lang=prm.lang, top_n=prm.top_n)\n"
            'style.save(fig, figures + "/h_ranking")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_ranking(rk, prm.year, prm.lang)))"
        ),
        md("## 3 四类别与六维度得分 Category and six-dimension profiles\n\nThe radar shows the first- and last-ranked units against the mean of all units."),
        code(
            "prof = compare.profiles(scores, items, prm.year)\n"
            'io.write_table(prof, tables, "h_profiles")\n'
            "fig = charts.radar(prof, [rk.unit_id.iloc[0], rk.unit_id.iloc[-1]], units, prm.year, lang=prm.lang)\n"
            'style.save(fig, figures + "/h_radar")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_radar(prof, prm.year, prm.lang)))"
        ),
        md("## 4 按单位类型和系统分组比较 Peer groups by type and sector (Kruskal–Wallis)"),
        code(
            'peer_type = compare.peer_groups(totals, units, prm.year, by="type", top_n=prm.top_n)\n'
            'test_type = compare.peer_test(totals, units, prm.year, by="type")\n'
            'fig = charts.peer_box(totals, units, prm.year, by="type", lang=prm.lang, top_n=prm.top_n)\n'
            'style.save(fig, figures + "/h_peer_type")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_peer(test_type, peer_type, prm.year, prm.lang)))"
        ),
        code(
            'peer_sector = compare.peer_groups(totals, units, prm.year, by="sector", top_n=prm.top_n)\n'
            'test_sector = compare.peer_test(totals, units, prm.year, by="sector")\n'
            'fig = charts.peer_box(totals, units, prm.year, by="sector", lang=prm.lang, top_n=prm.top_n)\n'
            'style.save(fig, figures + "/h_peer_sector")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_peer(test_sector, peer_sector, prm.year, prm.lang)))"
        ),
        code(
            'io.write_table(pd.concat([peer_type, peer_sector], ignore_index=True), tables, "h_peer_groups")\n'
            'io.write_table(pd.concat([test_type, test_sector], ignore_index=True), tables, "h_peer_tests")\n'
            "pd.concat([test_type, test_sector], ignore_index=True)"
        ),
        md("## 5 单位 × 项目 Units × items"),
        code(
            "ui = compare.unit_items(scores, items, prm.year)\n"
            'io.write_table(ui, tables, "h_unit_items")\n'
            "fig = charts.heatmap(ui, rk, prm.year, lang=prm.lang)\n"
            'style.save(fig, figures + "/h_heatmap")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_heatmap(ui, prm.year, prm.lang)))"
        ),
        md("## 6 项目区分度与内部一致性 Item discrimination and internal consistency"),
        code(
            "disc = compare.item_discrimination(scores, items, prm.year)\n"
            "alphas = compare.category_alpha(scores, items, prm.year)\n"
            'io.write_table(disc, tables, "h_items")\n'
            'io.write_table(alphas, tables, "h_alpha")\n'
            "fig = charts.item_scatter(disc, prm.year, lang=prm.lang)\n"
            'style.save(fig, figures + "/h_items")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_items(disc, alphas, prm.year, prm.lang)))"
        ),
        md("## 主要数据 Headline numbers"),
        code(
            "record(\n"
            "    year=prm.year,\n"
            "    n_units=int(len(rk)),\n"
            '    mean_pct=float(desc.loc[desc.year == prm.year, "mean"].iloc[0]),\n'
            '    sd_pct=float(desc.loc[desc.year == prm.year, "sd"].iloc[0]),\n'
            '    gini=float(desc.loc[desc.year == prm.year, "gini"].iloc[0]),\n'
            "    cut=float(rk.cut.iloc[0]),\n"
            "    n_winners=int(rk.is_winner.sum()),\n"
            "    winners=rk.loc[rk.is_winner, \"unit_id\"].tolist(),\n"
            "    first=str(rk.unit_id.iloc[0]),\n"
            "    kw_p_type=float(test_type.p.iloc[0]),\n"
            "    kw_p_sector=float(test_sector.p.iloc[0]),\n"
            '    alpha_all=float(alphas.loc[alphas.category == "all", "alpha"].iloc[0]),\n'
            '    n_ceiling_items=int((disc.flag == "ceiling").sum()),\n'
            '    n_weak_items=int((disc.flag == "weak").sum()),\n'
            ")"
        ),
    ]
    return notebook(cells)


def vertical() -> nbformat.NotebookNode:
    cells = [
        md(
            "# 三、纵向比较与趋势 Units over the years, and the system trend\n\n"
            "**问题：** 考评项目和分值逐年调整，在可比口径（得分率、名次、百分位、年内标准分）下各单位如何变化？谁持续优胜？名次流动性如何？考评是否正在失去区分能力？\n\n"
            "**Question.** Item lists and maxima change every year, so how do units move when compared "
            "on comparable scales (% of max, rank, percentile, within-year z)? Who keeps winning, how "
            "mobile are the ranks, which units improve or decline, and is the assessment losing its "
            "power to discriminate between units?\n\n"
            "Renamed units are followed through `successor_id` (the break is marked); merged units "
            "start a new series and are never joined to their predecessors."
        ),
        code(PARAMS, tags=["parameters"]),
        code(IMPORTS),
        md("## 0 数据与参数 Data and parameters"),
        code(
            LOAD
            + "\nspan = prm.years or (int(totals.year.min()), int(totals.year.max()))\n"
            'print(f"{span[0]}–{span[1]}, na_policy={prm.na_policy}, top_n={prm.top_n}")'
        ),
        md("## 1 可比得分、逐年变化、更名与合并 Comparable scores, year-over-year change, renames and merges"),
        code(
            "vert = compare.vertical(totals, units, years=span, top_n=prm.top_n)\n"
            "lin = compare.lineage(units)\n"
            'io.write_table(vert, tables, "v_vertical")\n'
            'io.write_table(lin, tables, "v_lineage")\n'
            'display(vert.loc[vert["break"], ["year", "unit_id", "name", "break_kind", "predecessors", "rank", "d_rank"]])\n'
            "display(Markdown(compare.read_breaks(vert, prm.lang)))"
        ),
        md("## 2 重点单位轨迹 Trajectories of selected units\n\nUnits with a rename or merge, the most persistent winner, and the largest riser and faller."),
        code(
            "chosen = compare.pick_examples(vert)\n"
            "fig = charts.trajectories(vert, chosen, lang=prm.lang, top_n=prm.top_n)\n"
            'style.save(fig, figures + "/v_trajectories")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_trajectories(vert, chosen, prm.lang)))"
        ),
        md("## 3 相邻年度名次流动（五分位转移矩阵、Shorrocks 指数） Rank mobility"),
        code(
            "mob = compare.mobility(vert)\n"
            'io.write_table(mob, tables, "v_mobility")\n'
            "trans = compare.last_transition(vert)\n"
            'io.write_table(trans, tables, "v_transition")\n'
            "fig = charts.transition_matrix(trans, lang=prm.lang)\n"
            'style.save(fig, figures + "/v_transition")\n'
            "display(fig)\n"
            "display(Markdown(compare.read_transition(trans, prm.lang) + \" \" + compare.read_mobility(mob, prm.lang)))"
        ),
        md("## 4 优胜持续性 Winner persistence"),
        code(
            "pers = compare.persistence(vert)\n"
            'io.write_table(pers, tables, "v_persistence")\n'
            "display(pers.head(10))\n"
            "display(Markdown(compare.read_persistence(pers, vert, prm.lang)))"
        ),
        md("## 5 单位趋势（Theil–Sen 斜率、Mann–Kendall 精确检验、BH 校正） Per-unit trends"),
        code(
            'trends = trend.unit_trends(vert, value="pct_of_max")\n'
            'io.write_table(trends, tables, "v_trends")\n'
            'display(trends.head(10))\n'
            "display(Markdown(trend.read_trends(trends, prm.lang)))"
        ),
        md("## 6 系统逐年概况：水平、离散、天花板、优胜线——区分能力是否下降？ The system by year"),
        code(
            "system = trend.system(totals.loc[totals.year.between(*span)], top_n=prm.top_n)\n"
            "tests, verdict = trend.discrimination(system)\n"
            'io.write_table(system, tables, "v_system")\n'
            'io.write_table(tests, tables, "v_discrimination")\n'
            "fig = charts.system_panel(system, verdict, lang=prm.lang)\n"
            'style.save(fig, figures + "/v_system")\n'
            "display(fig)\n"
            "display(Markdown(trend.read_system(system, tests, verdict, prm.lang)))"
        ),
        md("## 主要数据 Headline numbers"),
        code(
            "record(\n"
            "    first_year=int(span[0]),\n"
            "    last_year=int(span[1]),\n"
            '    n_rename=int((vert.break_kind == "rename").sum()),\n'
            '    n_merge=int((vert.break_kind == "merge").sum()),\n'
            "    shorrocks_mean=float(mob.shorrocks.mean()) if len(mob) else None,\n"
            "    spearman_mean=float(mob.spearman.mean()) if len(mob) else None,\n"
            "    n_always_winner=int((pers.years_winner == vert.year.nunique()).sum()),\n"
            "    longest_run=int(pers.longest_run.max()),\n"
            '    n_up=int((trends.direction == "up").sum()),\n'
            '    n_down=int((trends.direction == "down").sum()),\n'
            '    sd_slope=float(tests.set_index("metric").loc["sd", "slope"]) if len(system) > 1 else None,\n'
            '    ceiling_last=float(system.share_ceiling.iloc[-1]),\n'
            "    verdict=verdict,\n"
            ")"
        ),
    ]
    return notebook(cells)


def main() -> None:
    write(horizontal(), "02-horizontal.ipynb")
    write(vertical(), "03-vertical-trend.ipynb")


if __name__ == "__main__":
    main()
