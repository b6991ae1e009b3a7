"""Tests of pipeline.plots.compare: every chart draws in zh and en without missing glyphs,
saves as PNG + SVG, and shows what the numbers say (winners coloured, cut line at the cut)."""

from __future__ import annotations

import warnings

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from pipeline import compare as C
from pipeline import io, trend
from pipeline.errors import PipelineError
from pipeline.plots import compare as P
from pipeline.plots.style import OTHER, WINNER, save
from test_compare import toy  # tests/ is on sys.path (pytest rootdir-relative import)


@pytest.fixture(scope="module")
def data():
    units, items, scores, tot = toy()
    v = C.vertical(tot, units, top_n=2)
    sysd = trend.system(tot, top_n=2)
    tests, verdict = trend.discrimination(sysd)
    return {
        "units": units,
        "items": items,
        "scores": scores,
        "totals": tot,
        "rank": C.ranking(tot, units, 2013, top_n=2),
        "prof": C.profiles(scores, items, 2013),
        "ui": C.unit_items(scores, items, 2013),
        "disc": C.item_discrimination(scores, items, 2013),
        "vert": v,
        "trans": C.transitions(v, 2012, 2013),
        "sys": sysd,
        "verdict": verdict,
    }


def _charts(d, lang):
    return {
        "ranking": lambda: P.ranking_bar(d["rank"], 2013, lang=lang, top_n=2),
        "distribution": lambda: P.distribution(d["totals"], 2013, lang=lang, top_n=2),
        "radar": lambda: P.radar(d["prof"], ["市甲局", "U7"], d["units"], 2013, lang=lang),
        "heatmap": lambda: P.heatmap(d["ui"], d["rank"], 2013, lang=lang),
        "peer": lambda: P.peer_box(d["totals"], d["units"], 2013, "sector", lang=lang, top_n=2),
        "items": lambda: P.item_scatter(d["disc"], 2013, lang=lang),
        "trajectories": lambda: P.trajectories(d["vert"], ["U5", "U6", "U1"], lang=lang, top_n=2),
        "transition": lambda: P.transition_matrix(d["trans"], lang=lang),
        "transition_empty": lambda: P.transition_matrix(C.last_transition(d["vert"].loc[d["vert"].year == 2013]), lang=lang),
        "system": lambda: P.system_panel(d["sys"], d["verdict"], lang=lang),
    }


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_draws_and_saves_without_missing_glyphs(data, lang, tmp_path):
    import matplotlib.pyplot as plt

    for name, make in _charts(data, lang).items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = make()
            paths = save(fig, tmp_path / f"{name}_{lang}")
        glyph = [str(w.message) for w in caught if "Glyph" in str(w.message) or "missing from" in str(w.message)]
        assert not glyph, f"{name}: {glyph[:2]}"
        assert [p.suffix for p in paths] == [".png", ".svg"]
        assert all(p.stat().st_size > 1000 for p in paths)
        plt.close(fig)


def test_ranking_bar_marks_winners_and_cut(data):
    fig = P.ranking_bar(data["rank"], 2013, top_n=2)
    ax = fig.axes[0]
    colours = [mcolors.to_hex(b.get_facecolor()) for b in ax.patches[: len(data["rank"])]]
    assert colours.count(mcolors.to_hex(WINNER)) == int(data["rank"]["is_winner"].sum()) == 2
    assert colours.count(mcolors.to_hex(OTHER)) == 3
    cut_lines = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert cut_lines and cut_lines[0].get_xdata()[0] == pytest.approx(data["rank"]["cut"].iloc[0])
    labels = [tl.get_text() for tl in ax.get_yticklabels()]
    assert labels[0].startswith("1. ") and data["rank"]["name"].iloc[0] in labels[0]


def test_trajectories_mark_breaks(data):
    fig = P.trajectories(data["vert"], ["U5", "U6"], lang="en", top_n=2)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(s.startswith("renamed") for s in texts) and any(s.startswith("merged") for s in texts)
    # the merged unit's predecessors are drawn dotted and end before the merge year
    dotted = [ln for ln in fig.axes[0].lines if ln.get_linestyle() == ":" and ln.get_marker() == "."]
    assert len(dotted) == 2 and all(max(ln.get_xdata()) == 2012 for ln in dotted)


def test_compare_units_by_name_from_frames_and_folder(data, tmp_path):
    fig = P.compare_units(data["totals"], ["市甲局", "乙局"], years=(2011, 2013), units=data["units"])
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["市甲局", "市新乙局"]  # the old short name selects the renamed series
    assert sorted(set(fig.axes[1].lines[0].get_xdata())) == [2011, 2012, 2013]
    for name in ("totals", "units"):
        io.write_table(data[name], tmp_path, name)
    fig2 = P.compare_units(tmp_path, ["U7"], lang="en")
    assert [t.get_text() for t in fig2.axes[0].get_legend().get_texts()] == ["市戊局"]
    with pytest.raises(PipelineError, match="pass the units table"):
        P.compare_units(data["totals"], ["U1"])
    with pytest.raises(PipelineError, match="unknown unit"):
        P.compare_units(data["totals"], ["市不存在局"], units=data["units"])


def test_charts_reject_missing_year(data):
    with pytest.raises(PipelineError):
        P.distribution(data["totals"], 1999)
    with pytest.raises(PipelineError):
        P.radar(data["prof"], ["U1"], data["units"], 1999)
