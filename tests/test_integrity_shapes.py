"""Integrity checks on data of other shapes (issue #9): scoring steps, shown precision, ranks
from shown totals, MAD = 0, full marks counted once, heavy-tailed nulls, synth shapes and the
committed calibration table. Expected values come from constructions, hand computation or
independent libraries, as stated in each test."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline import integrity as I
from pipeline import score, synth
from test_integrity import make_world
from langs import in_lang  # noqa: E402


@pytest.fixture(scope="module")
def mini():
    return make_world(n_units=40, n_items=12, years=(2015, 2016), seed=4, monthly=False)


def test_half_point_items_give_no_digit_finding(mini):
    # every value floored to a multiple of 0.5: by construction the step is 0.5 and the tenths
    # digit is 0 or 5 for 100 % of values — the step, not heaping
    s = mini["scores"].copy()
    s["points"] = np.floor(s["points"] * 2) / 2
    st = I.scoring_steps(s, mini["items"])
    assert (st["step"] == 0.5).all() and (st["digit_decimals"] == 0).all()
    assert I.digit_preference(s, mini["items"]).empty
    assert I.digit_table(s, mini["items"])["n"].sum() == 0  # nothing with a free digit
    # whole points likewise
    s["points"] = np.floor(s["points"])
    assert (I.scoring_steps(s, mini["items"])["step"] == 1.0).all()
    assert I.digit_preference(s, mini["items"]).empty


def test_one_decimal_totals_and_ranks_from_shown_totals_give_no_finding(mini):
    t = score.totals(mini["scores"], mini["items"])
    for rnd in ("numpy", "half_up"):
        if rnd == "numpy":
            shown = t["base"].round(1)  # round-half-even
        else:  # independent rounding rule: Python decimal, half up
            shown = t["base"].map(lambda x: float(Decimal(repr(x)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)))
        g = t[["year", "unit_id"]].assign(given_total=shown)
        # 名次 from the shown totals, by scipy (ties share the better rank: method "min")
        g["given_rank"] = g.groupby("year")["given_total"].transform(
            lambda v: pd.Series(stats.rankdata(-v.to_numpy(), method="min"), index=v.index)).astype(int)
        assert I.shown_decimals(g["given_total"]) <= 1
        assert g.groupby("year")["given_total"].apply(lambda v: v.duplicated().any()).any()  # ties occur
        assert I.given_vs_recomputed(g, mini["scores"], mini["items"]).empty
    # beyond the shown precision: 0.2 > half a unit of 1 decimal (0.05) → high; 0.04 is rounding
    g2 = g.copy()
    g2.loc[3, "given_total"] += 0.2
    f = I.given_vs_recomputed(g2, mini["scores"], mini["items"])
    tot = f.loc[f.check == "given_total_mismatch"]
    assert tot["unit_id"].tolist() == [g2.loc[3, "unit_id"]] and tot.severity.tolist() == ["high"]
    assert tot.threshold.iloc[0] == pytest.approx(0.05, abs=1e-5)
    assert I.shown_decimals([85.3, 90.0, 77.1]) == 1 and I.shown_decimals([85.27, 90.0]) == 2


def test_mad_zero_is_handled():
    # 60 units with the same gap of 1.0 and one at 1.1: MAD = 0; one recording unit (0.1) is no
    # evidence, so nothing is flagged (the old modified-z bound was 0 and flagged it)
    n = 61
    tot = pd.DataFrame({"year": 2015, "unit_id": [f"U{i:03d}" for i in range(n)], "base": 80.0})
    gap = np.full(n, 1.0)
    gap[7] = 1.1
    a = pd.DataFrame({"year": 2015, "unit_id": tot.unit_id, "adjustment": 0.0, "self_total": 80.0 + gap})
    assert I.adjustment_gaps(a, tot).empty
    df, loc, sc = I.heavy_tail_fit(gap, res=0.1)
    assert np.isfinite(df) and sc >= 0.1  # floored at the recording resolution
    mz = I.modified_z(gap)  # MAD = 0 → mean absolute deviation fallback, finite
    assert np.isfinite(mz).all()


def test_heavy_tail_fit_recovers_t_and_ignores_a_few_outliers():
    # analytic: a large t(4) sample gives df ≈ 4, scale ≈ 1; 5 gross outliers do not fatten the tails
    x = stats.t.rvs(4, size=4000, random_state=np.random.default_rng(1))
    df, loc, sc = I.heavy_tail_fit(x)
    assert 3.0 < df < 5.5 and abs(loc) < 0.1 and 0.9 < sc < 1.1
    df2, _, _ = I.heavy_tail_fit(np.r_[x, np.full(5, 40.0)])
    assert abs(df2 - df) < 0.5


def test_full_marks_not_counted_twice(mini):
    s = mini["scores"].copy()
    m = (s.year == 2016) & (s.unit_id == "U010") & (s.period == "Y")
    s.loc[m, "points"] = 10.0  # every item at its maximum (digit 0 each)
    f = I.check_all({"scores": s, "items": mini["items"]})
    u = f.loc[f.unit_id == "U010"]
    # counted once as full marks; no digit finding (values at the maximum are not digits); the
    # jump from its 2015 standing to 100 may be a yoy_jump, a different fact
    assert (u["check"] == "full_marks").sum() == 1
    assert not u["check"].isin(["digit_preference", "low_variance"]).any()
    assert 0 == I._digit_frame(s, mini["items"]).query("unit_id == 'U010' and year == 2016").shape[0]


def test_year_family_bh_over_all_unit_tests(mini):
    # check_all adjusts all unit-level p-values of a year together: its q equals scipy's BH over
    # the union of the per-check p-values of that year
    s = mini["scores"].copy()
    m = (s.year == 2015) & (s.unit_id == "U005") & (s.period == "Y")
    s.loc[m, "points"] = np.floor(s.loc[m, "points"]) + 0.5
    tb = {"scores": s, "items": mini["items"]}
    f = I.check_all(tb)
    hit = f.loc[(f.check == "digit_preference") & (f.unit_id == "U005")]
    assert hit.severity.tolist() == ["high"]
    dp = I.digit_preference(s, mini["items"], all_tests=True)
    fm = I.full_marks(s, mini["items"], all_tests=True)
    tot = score.totals(s, mini["items"])
    allp = pd.concat([dp.loc[dp.check == "digit_preference"], fm.loc[fm.check == "low_variance"],
                      I.yoy_jumps(tot, all_tests=True)])
    p = allp.loc[allp.year == 2015, "p_value"].to_numpy()
    q = stats.false_discovery_control(p, method="bh")
    own = allp.loc[allp.year == 2015].reset_index(drop=True)
    i = own.index[(own.check == "digit_preference") & (own.unit_id == "U005")][0]
    assert hit.threshold.iloc[0] == pytest.approx(q[i])


def test_synth_shapes():
    sh = synth.Shape(step=0.5, total_decimals=1, self_gap=(0, 6), plant=False)
    w = synth.generate(seed=5, n_units=40, years=(2014, 2016), shape=sh)
    assert w.anomalies.empty
    sc = w.truth["scores"].merge(w.truth["items"][["year", "item_id", "method"]], on=["year", "item_id"])
    pts = sc.loc[(sc.period == "Y") & (sc.method == "points"), "points"].dropna()
    assert np.allclose(pts * 2, np.round(pts * 2))  # multiples of 0.5
    g = w.truth["given"]
    assert np.allclose(g.given_total * 10, np.round(g.given_total * 10))
    for _, gy in g.groupby("year"):  # 名次 = competition rank of the shown totals (scipy)
        assert (gy.given_rank.to_numpy() == stats.rankdata(-gy.given_total.to_numpy(), method="min")).all()
    gaps = np.concatenate([y.self_total - (score.totals(w.truth["scores"], w.truth["items"], w.truth["adjustments"])
                                           .query("year == @y.year").set_index("unit_id").loc[y.units, "total"].to_numpy())
                           for y in w.years.values() if y.self_total is not None])
    assert gaps.min() >= -0.06 and gaps.max() <= 6.06  # honest optimism 0–6 (rounding to 0.1; 100 cap)
    with pytest.raises(Exception, match="step"):
        synth.Shape(step=0.3)
    # honest world: arithmetic and item-level checks find nothing
    f = I.check_all({"scores": w.truth["scores"], "items": w.truth["items"], "given": g})
    assert not f["check"].isin(["monthly_mismatch", "given_total_mismatch", "given_rank_mismatch",
                                "digit_preference_item", "digit_preference"]).any()


def test_calibration_table_meets_acceptance():
    c = pd.read_csv(I.CALIBRATION).set_index(["check", "severity"])
    assert c.loc[("any", "high"), "false_alarm_rate_per_unit_year"] <= 0.002
    assert c.loc[("any", "medium"), "false_alarm_rate_per_unit_year"] <= 0.015
    for chk in ("monthly_mismatch", "given_total_mismatch", "given_rank_mismatch", "digit_preference_item"):
        assert c.loc[(chk, "medium"), "false_alarm_rate_per_unit_year"] == 0
    for kind in ("monthly_mismatch", "given_total_mismatch", "given_rank_mismatch", "full_marks", "digit_preference"):
        assert c.loc[(kind, "high"), "recall"] == 1.0
    zh = I.false_alarm_rates()
    assert list(zh.columns)[0] == "核查项" and len(zh) == len(c)
    assert "误报率" in I.calibration_sentence() and "false-alarm" in in_lang("en", I.calibration_sentence)


def test_cli_synth_shape_flags(tmp_path):
    # the synth flags reach pipeline.synth.Shape: half-point items, 1-decimal totals, nothing planted
    from pipeline import cli

    rc = cli.main(["synth", "--out", str(tmp_path / "raw"), "--truth", str(tmp_path / "truth"), "--units", "20",
                   "--years", "2015-2016", "--step", "0.5", "--total-decimals", "1", "--self-gap", "0-6", "--no-plant"])
    assert rc == 0
    g = pd.read_csv(tmp_path / "truth" / "given.csv")
    assert np.allclose(g.given_total * 10, np.round(g.given_total * 10))
    sc = pd.read_csv(tmp_path / "truth" / "scores.csv")
    it = pd.read_csv(tmp_path / "truth" / "items.csv")
    pts = sc.merge(it, on=["year", "item_id"]).query("period == 'Y' and method == 'points'")["points"].dropna()
    assert np.allclose(pts * 2, np.round(pts * 2))
    assert pd.read_csv(tmp_path / "truth" / "anomalies.csv").empty
    assert cli.main(["synth", "--out", str(tmp_path / "r2"), "--truth", str(tmp_path / "t2"), "--self-gap", "x"]) != 0


def test_cut_window_says_there_is_no_cut_when_every_unit_wins():
    # 5 units for 20 places (a small committee): no first non-winner, so no line; the chart says why
    # instead of drawing empty axes (hand-made totals)
    import pandas as pd

    from pipeline.plots import integrity as iplots

    tot = pd.DataFrame({"year": 2016, "unit_id": [f"U{i}" for i in range(5)], "total": [90.0, 85.5, 80.0, 79.5, 70.0]})
    for lang, word in (("zh", "没有优胜线"), ("en", "no winners' line")):
        fig = iplots.cut_window(tot, 2016, top_n=20, lang=lang)
        texts = [x.get_text() for x in fig.axes[0].texts]
        assert any(word in s for s in texts), texts
    fig = iplots.cut_window(tot, 2016, top_n=2, lang="zh")  # a cut exists: no such note
    assert not fig.axes[0].texts
