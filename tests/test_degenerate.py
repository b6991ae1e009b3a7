"""Any committee's data (issue 11, point 7): degenerate worlds made by ``synth`` run end to end
(``python -m pipeline all``) and their documents say what cannot be computed and why.

One world holds every shape at once, so that one ``all`` run (small Monte Carlo through a params
file) covers them: 15 registry rows (12 units in 2016 after a merge: fewer units than the 20
winning places, so everyone wins and "winners vs others" has no "others"), one year only, 5 items
(three categories with a single item), no monthly sheets, and one unit alone in its sector and its
type. The two-year shape of the before-stop hook (15 units, 2015–2016) is run by the hook itself;
the year-over-year parts of the bulletin are tested on hand-made data in ``test_pages.py``.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pipeline import config, io, overview
from langs import in_lang  # noqa: E402

PARAMS = "n_samples: 200\nn_sobol: 16\n"


def _text(html: str) -> str:
    html = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _run_world(root, *synth_args):
    raw, truth = root / "raw", root / "truth"
    prm = root / "params.yaml"
    prm.write_text(PARAMS + f"processed: {root / 'processed'}\nreports: {root / 'reports'}\n", encoding="utf-8")
    for args in (["synth", "--out", str(raw), "--truth", str(truth), *synth_args], ["all", "--raw", str(raw), "--params", str(prm)]):
        r = subprocess.run([sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=config.ROOT, timeout=900)
        assert r.returncode == 0, f"{args[0]}: {r.stderr[-2000:]}"
        assert "Traceback" not in r.stderr
    return root


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    return _run_world(tmp_path_factory.mktemp("bare"), "--units", "15", "--years", "2016-2016", "--items", "5", "--no-monthly", "--lone-group")


def test_degenerate_world_runs_end_to_end_and_says_what_is_not_computable(bare):
    items = io.read_table(bare / "processed", "items")
    units = io.read_table(bare / "processed", "units")
    assert sorted(items["year"].unique()) == [2016] and len(items) == 5
    assert (items.groupby("category").size() == 1).sum() == 3  # categories with one item
    assert (units["sector"].value_counts() == 1).any() and (units["type"].value_counts() == 1).any()
    dest = bare / "reports" / "2016"
    text = _text((dest / "report.html").read_text(encoding="utf-8"))
    assert "仅有一个年度的数据，无法观察历年走势" in text
    assert "优胜单位与其他单位的差距无法计算" in text
    assert "没有 1—6 月的月度考评数据" in _text((dest / "bulletin_H1.html").read_text(encoding="utf-8"))
    totals = io.read_table(bare / "processed", "totals")
    ids = sorted(totals["unit_id"])
    assert len(ids) < config.TOP_N and len(list((dest / "units").glob("U*.html"))) == len(ids)
    # every unit wins: the ranking reading and each unit page say the gap to non-winners is not computable
    assert "没有未获优胜的单位，距优胜线的差距无法计算" in text
    page = _text((dest / "units" / f"{ids[0]}.html").read_text(encoding="utf-8"))
    assert "领先未获优胜单位的幅度无法计算" in page and "失分项目" in page
    assert (dest / "report.pdf").stat().st_size > 0 and (dest / "bulletin_H1.pdf").stat().st_size > 0
    assert (bare / "reports" / "study_2016-2016" / "report.html").exists()


# ---------------------------------------------------------------- the overview functions alone
def _totals(n: int, top_n: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    items = pd.DataFrame({"year": 2016, "item_id": ["I01", "I02"], "category": ["ideology", "conduct"], "max_points": [40.0, 60.0]})
    tot = pd.DataFrame({"year": 2016, "unit_id": [f"U{i:03d}" for i in range(n)], "cat_ideology": np.linspace(20, 40, n),
                        "cat_conduct": np.linspace(30, 60, n)})
    tot["total"] = tot["cat_ideology"] + tot["cat_conduct"]
    tot["rank"] = np.arange(n, 0, -1)
    tot["is_winner"] = tot["rank"] <= top_n
    tot["pct_of_max"] = tot["total"]
    tot["adjustment"], tot["n_na"], tot["n_missing"] = 0.0, 0, 0
    return tot, items


def test_category_profile_all_winners_is_nan_and_the_reading_says_why():
    tot, items = _totals(5)  # 5 units, 20 places
    prof = overview.category_profile(tot, items, 2016)
    assert prof["others"].isna().all() and prof["gap"].isna().all() and prof["winners"].notna().all()
    # ideology: linspace(20, 40, 5) / 40 → mean 30/40 = 75 %; conduct 45/60 = 75 %
    assert prof["all"].tolist() == pytest.approx([75.0, 75.0])
    assert "无法计算" in overview.overview_reading("profile", profile=prof)
    assert "cannot be computed" in in_lang("en", overview.overview_reading, "profile", profile=prof)
    tot2, _ = _totals(30)  # some win, some not: a number, not a note
    assert "无法计算" not in overview.overview_reading("profile", profile=overview.category_profile(tot2, items, 2016))


def test_one_unit_distribution_says_spread_is_not_computable():
    tot, _ = _totals(1)
    stats = overview.overview_stats(tot, 2016)
    assert np.isnan(stats.set_index("statistic").loc["sd", "value"])
    assert "无法计算" in overview.overview_reading("dist", stats=stats)


def test_compare_readings_say_what_is_not_computable():
    from pipeline import compare as C

    tot, _ = _totals(5)
    rk = C.ranking(tot, year=2016, top_n=20)  # 5 units, 20 places: no unit misses the cut
    zh = C.read_ranking(rk, 2016)
    assert "无法计算" in zh and "距优胜线0.0分" not in zh
    assert "cannot be computed" in in_lang("en", C.read_ranking, rk, 2016)
    rk2 = C.ranking(tot, year=2016, top_n=2)  # someone misses it: the gap is a number
    assert "无法计算" not in C.read_ranking(rk2, 2016)
    # one group only: the Kruskal–Wallis test has no p-value
    units = pd.DataFrame({"unit_id": tot["unit_id"], "type": "机关党委", "sector": "党群"})
    test = C.peer_test(tot, units, 2016, by="sector")
    assert np.isnan(float(test["p"].iloc[0]))
    assert "无法计算" in C.read_peer(test, C.peer_groups(tot, units, 2016, by="sector"), 2016)
    # one item: Cronbach's alpha is not defined (k/(k−1) with k = 1)
    items = pd.DataFrame({"year": 2016, "item_id": ["I01"], "item_name": ["a"], "category": ["ideology"], "dimension": ["competence"],
                          "max_points": [100.0], "method": ["points"]})
    scores = pd.DataFrame({"year": 2016, "period": "Y", "unit_id": ["A", "B", "C"], "item_id": "I01", "points": [60.0, 70.0, 90.0], "status": "ok"})
    read = C.read_items(C.item_discrimination(scores, items, 2016), C.category_alpha(scores, items, 2016), 2016)
    assert "克朗巴赫α无法计算" in read
