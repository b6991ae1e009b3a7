"""Plain-language readings of the sensitivity results (label templates in ``labels/weights.yaml``).

Each ``read_*`` function turns a result table into one sentence whose numbers come from the
table; notebook 04 prints them and the report quotes them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.i18n import current, t
from pipeline.sensitivity.fairness import favouritism, group_outcomes

__all__ = ["read_uncertainty", "read_oat", "read_schemes", "read_sobol", "read_shapley", "read_methods", "read_effective",
           "read_smaa", "read_fairness", "fairness", "scheme_shifts", "headline", "METHODS_KEYS"]

#: Label keys (``labels/weights.yaml``) of the methods appendix for chapter 四 and the trend tests:
#: each names an estimator, its design and its priors.
METHODS_KEYS = ("sens_method_uncertainty", "sens_method_sobol", "sens_method_shapley", "sens_method_choices",
                "sens_method_bod_cross", "sens_method_effective", "sens_method_smaa", "sens_method_fairness",
                "sens_method_size", "sens_method_trend")


def _label(name):
    from pipeline.plots.weights import factor_label

    return factor_label(name)


def read_uncertainty(unc: pd.DataFrame, top_n: int = config.TOP_N) -> str:
    """One sentence on the Monte Carlo result (system shift, winner overlap, borderline units)."""
    s = unc.attrs["system"]
    return t("sens_read_uncertainty", n=f"{s['n']:,}", shift=s["mean_abs_shift"], jaccard=s["jaccard_mean"],
             same=s["p_same_winners"], stable=int((unc["p_winner"] > 0.95).sum()),
             border=int(((unc["p_winner"] >= 0.05) & (unc["p_winner"] <= 0.95)).sum()), top_n=top_n)


def read_oat(summary: pd.DataFrame) -> str:
    """The one-at-a-time change with the largest mean |Δrank|."""
    r = summary.sort_values(["mean_abs_shift", "step"], ascending=[False, False]).iloc[0]
    return t("sens_read_oat", factor=_label(r["factor"]), step=r["step"], shift=r["mean_abs_shift"],
             changes=int(r["winners_in"] + r["winners_out"]))


def scheme_shifts(compare: pd.DataFrame) -> pd.DataFrame:
    """Per scheme: ``mean_abs_shift``, ``max_abs_shift``, ``winners_in``, ``winners_out``, ``spearman``
    against the nominal ranking (from :func:`pipeline.sensitivity.compare_schemes`)."""
    from pipeline.sensitivity.weights import shift_summary

    return shift_summary(compare, by=("scheme",))


def read_schemes(compare: pd.DataFrame) -> str:
    """The alternative scheme that differs most from the nominal ranking."""
    sh = scheme_shifts(compare)
    sh = sh[sh["scheme"] != "nominal"].sort_values("mean_abs_shift", ascending=False)
    r = sh.iloc[0]
    return t("sens_read_schemes", scheme=_label(r["scheme"]), shift=r["mean_abs_shift"],
             changes=int(r["winners_in"] + r["winners_out"]))


def _target(tab: pd.DataFrame, target: str) -> pd.DataFrame:
    return tab[tab["target"] == target] if "target" in tab.columns else tab.reset_index()


def read_sobol(sob: pd.DataFrame, target: str = "mean_abs_shift") -> str:
    """The **weight** factor with the largest total index on ``target`` and the sum of the weight
    factors' first-order indices (method-choice factors, if present, are left to :func:`read_methods`)."""
    d = _target(sob, target)
    d = d[d["factor"].astype(str).str.startswith("w_")]
    r = d.sort_values("ST", ascending=False).iloc[0]
    s1 = float(d["S1"].clip(lower=0).sum())
    inter = t("sens_read_sobol_inter") if s1 < 0.8 else ""
    return t("sens_read_sobol", factor=_label(r["factor"]), st=r["ST"], sum_s1=s1, inter=inter)


def read_shapley(shap: pd.DataFrame, target: str = "mean_abs_shift") -> str:
    """The weight with the largest Shapley share of Var(target), and the smallest."""
    d = _target(shap, target).sort_values("share", ascending=False)
    hi, lo = d.iloc[0], d.iloc[-1]
    return t("sens_read_shapley", factor=_label(hi["factor"]), share=hi["share"], conf=hi["conf"],
             low=_label(lo["factor"]), low_share=lo["share"])


def read_methods(meth: pd.DataFrame, target: str = "mean_abs_shift") -> str:
    """The method choice with the largest total index in the separate method-choices analysis
    (:func:`pipeline.sensitivity.method_sobol`), with the caveat that it reflects the priors."""
    d = _target(meth, target)
    m = d[~d["factor"].astype(str).str.startswith("w_")].sort_values("ST", ascending=False)
    w = d[d["factor"].astype(str).str.startswith("w_")]
    r = m.iloc[0]
    return t("sens_read_methods", factor=_label(r["factor"]), st=r["ST"],
             w_st=float(w["ST"].max()) if len(w) else float("nan"))


def read_effective(eff: pd.DataFrame) -> str:
    """The category whose effective (r²) share departs most from its nominal share."""
    d = eff[eff["level"] == "category"].copy()
    d["gap"] = (d["r2_share"] - d["nominal_share"]).abs()
    r = d.sort_values("gap", ascending=False).iloc[0]
    return t("sens_read_effective", cat=_label(r["name"]), nominal=r["nominal_share"], effective=r["r2_share"])


def read_smaa(res, top_n: int = config.TOP_N, names=None) -> str:
    """Units with a top-n acceptability above ½ and the best first-rank acceptability."""
    b1 = res.acceptability[1]
    best = b1.idxmax()
    name = names.get(best, best) if names is not None else best
    return t("sens_read_smaa", n_top=int((res.top_acceptability > 0.5).sum()), top_n=top_n, best=name, b1=b1.max())


def fairness(compare: pd.DataFrame, unc: pd.DataFrame, attrs: pd.DataFrame, top_n: int = config.TOP_N,
             n_perm: int = 9999, seed=config.SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group outcomes under every scheme, and the favouritism test against the Monte Carlo mean rank.

    Returns
    -------
    outcomes : DataFrame
        :func:`pipeline.sensitivity.group_outcomes` over the schemes of ``compare`` plus ``monte_carlo``.
    tests : DataFrame
        :func:`pipeline.sensitivity.favouritism` with reference = the unit's mean rank over
        plausible weights (``unc["mean_rank"]``).
    """
    ranks = compare.pivot(index="unit_id", columns="scheme", values="rank")
    ranks = ranks[list(dict.fromkeys(compare["scheme"]))]
    u = unc.set_index("unit_id")
    outcomes = group_outcomes(ranks, attrs[["type", "sector", "size"]], top_n=top_n, p_winner=u["p_winner"],
                              mean_rank=u["mean_rank"])
    tests = favouritism(u["nominal_rank"], u["mean_rank"], attrs[["type", "sector", "size"]], n_perm=n_perm,
                        seed=seed, reference=t("sens_ref_default"))
    return outcomes, tests


def _significant(tests: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Rows significant after Holm, one per hypothesis (a two-level attribute: the favoured row)."""
    two = tests.groupby("attribute")["group"].transform("size") == 2
    return tests[(tests["p_holm"] < alpha) & (~two | (tests["statistic"] > 0))]


def read_fairness(tests: pd.DataFrame, alpha: float = 0.05) -> str:
    """Summary sentence of the favouritism tests (significant after Holm adjustment).

    A two-level attribute is one hypothesis (its two rows mirror each other): it is read once,
    from the favoured group's row."""
    sig = _significant(tests, alpha)
    if sig.empty:
        return t("sens_read_fair_none")
    sep = "" if current() == "zh" else " "
    return t("sens_read_fair_some", k=len(sig), list=sep.join(sig["reading"]))


def headline(unc: pd.DataFrame, oat_summary: pd.DataFrame, compare: pd.DataFrame, sob: pd.DataFrame,
             eff: pd.DataFrame, smaa_res, tests: pd.DataFrame, alpha: float = 0.05, shap: pd.DataFrame | None = None,
             methods: pd.DataFrame | None = None) -> dict:
    """JSON-able headline numbers of notebook 04.

    The Sobol headline (``top_sobol_*``) reads the weight factors only; ``top_shapley_*`` the
    Shapley shares of the weights (``shap``); ``top_method_*`` the separate method-choices
    analysis (``methods``), reported apart from the weights.
    """
    s = unc.attrs["system"]
    sys_sob = sob[(sob["target"] == "mean_abs_shift") & sob["factor"].astype(str).str.startswith("w_")]
    sys_sob = sys_sob.sort_values("ST", ascending=False)
    sh = scheme_shifts(compare)
    sh = sh[sh["scheme"] != "nominal"].sort_values("mean_abs_shift", ascending=False)
    cat = eff[eff["level"] == "category"]
    out = {
        "n_samples": int(s["n"]),
        "mean_abs_shift": round(float(s["mean_abs_shift"]), 4),
        "spearman_mean": round(float(s["spearman_mean"]), 4),
        "kendall_mean": round(float(s["kendall_mean"]), 4),
        "jaccard_mean": round(float(s["jaccard_mean"]), 4),
        "p_same_winners": round(float(s["p_same_winners"]), 4),
        "n_stable_winners": int((unc["p_winner"] > 0.95).sum()),
        "n_borderline": int(((unc["p_winner"] >= 0.05) & (unc["p_winner"] <= 0.95)).sum()),
        "max_oat_shift": round(float(oat_summary["mean_abs_shift"].max()), 4),
        "most_different_scheme": str(sh.iloc[0]["scheme"]),
        "most_different_scheme_shift": round(float(sh.iloc[0]["mean_abs_shift"]), 4),
        "top_sobol_factor": str(sys_sob.iloc[0]["factor"]),
        "top_sobol_ST": round(float(sys_sob.iloc[0]["ST"]), 4),
        "max_effective_gap": round(float((cat["r2_share"] - cat["nominal_share"]).abs().max()), 4),
        "n_smaa_top_over_half": int((smaa_res.top_acceptability > 0.5).sum()),
        "n_fair_significant": int(len(_significant(tests, alpha))),
    }
    if shap is not None:
        sh = _target(shap, "mean_abs_shift").sort_values("share", ascending=False)
        out["top_shapley_factor"] = str(sh.iloc[0]["factor"])
        out["top_shapley_share"] = round(float(sh.iloc[0]["share"]), 4)
    if methods is not None:
        mm = _target(methods, "mean_abs_shift")
        mm = mm[~mm["factor"].astype(str).str.startswith("w_")].sort_values("ST", ascending=False)
        out["top_method_factor"] = str(mm.iloc[0]["factor"])
        out["top_method_ST"] = round(float(mm.iloc[0]["ST"]), 4)
    return out
