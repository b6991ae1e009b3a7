"""Charts of pipeline.plots.weights: each returns a Figure, saves PNG + SVG, in zh and en."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from pipeline import sensitivity as S
from pipeline.i18n import labels
from pipeline.plots import save
from pipeline.plots import weights as W
from langs import in_lang  # noqa: E402

CATS = np.array(["ideology", "organisation", "conduct", "special"] * 3)


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(0)
    m = np.full(12, 100 / 12)
    x = np.floor(rng.random((16, 12)) * m * 10) / 10
    ids = [f"U{i:03d}" for i in range(16)]
    unc = S.uncertainty(pd.DataFrame(x, index=ids), m, 500, seed=1, groups=CATS, top_n=5)
    sob = S.weight_sobol(pd.DataFrame(x, index=ids), m, 64, seed=1, groups=CATS, top_n=5, n_boot=10)
    eff = S.effective_weights(x, m, CATS)
    sm = S.smaa(pd.DataFrame(x[:, :4] / m[:4], index=ids), 500, seed=1, top_n=5)
    cmp = S.compare_schemes(x, m, CATS, CATS, top_n=5, unit_ids=ids)
    attrs = pd.DataFrame({"type": ["机关党委", "党总支"] * 8, "sector": ["党群", "经济", "综合", "政法"] * 4,
                          "size": ["small", "medium", "large", "small"] * 4}, index=ids)
    out, tests = in_lang("en", S.fairness, cmp, unc, attrs, top_n=5, n_perm=99)
    oat = S.shift_summary(S.one_at_a_time(x, m, CATS, top_n=5))
    return dict(unc=unc, sob=sob, eff=eff, sm=sm, out=out, oat=oat)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_all_charts_render_and_save(results, tmp_path, lang):
    r = results
    figs = {
        "intervals": W.rank_intervals(r["unc"], top_n=5, lang=lang),
        "pwin": W.p_winner_bars(r["unc"], top_n=5, lang=lang),
        "sobol": W.sobol_bars(r["sob"][r["sob"]["target"] == "mean_abs_shift"], lang=lang, n=64),
        "eff": W.effective_weights_chart(r["eff"], lang=lang),
        "eff_items": W.effective_weights_chart(r["eff"], level="item", lang=lang),
        "smaa": W.acceptability_heatmap(r["sm"].acceptability, lang=lang, top_n=5),
        "fair": W.fairness_chart(r["out"], "sector", lang=lang),
        "oat": W.oat_chart(r["oat"], lang=lang),
    }
    for name, fig in figs.items():
        paths = save(fig, tmp_path / name)
        assert all(p.stat().st_size > 1000 for p in paths)
        # titles come from the label file, in the requested language
        assert fig.axes[0].get_title()


def test_labels_complete_in_both_languages():
    """Every sens_ key has zh and en text (i18n.t raises for a missing language)."""
    zh, en = in_lang("zh", labels), in_lang("en", labels)
    keys = {k for k in zh if k.startswith("sens_")}
    assert keys and keys == {k for k in en if k.startswith("sens_")}


def test_factor_labels():
    assert W.factor_label("w_ideology") == "思想政治"
    assert in_lang("en", W.factor_label, "w_ideology") == "Ideology"
    assert in_lang("en", W.factor_label, "na_policy") == "NA rule"
    assert in_lang("en", W.factor_label, "bod") == "Benefit of the doubt"
