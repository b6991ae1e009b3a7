"""A scheme against the official one: agreement, winners in and out, rank changes, who gains
by group, the scheme's own rank uncertainty, stability over the years.

Every function takes the ``comparison`` rows of :func:`pipeline.scheme.compute.comparison`
(one year, or several years stacked) and returns a DataFrame.

* Agreement of the two rankings: Kendall's τ-b and Spearman's ρ of the scheme totals with the
  official totals (``scipy.stats.kendalltau`` / ``spearmanr``; both rank-based, so equal to
  the coefficients of the two rankings over all units), and the Jaccard index
  :math:`|W_o \\cap W_s| / |W_o \\cup W_s|` of the two winner sets.
* Rank change of a unit: official rank − the scheme's overall rank (places gained; the overall
  rank ranks the scheme totals over all units, so tiers do not distort it).
* Who gains by group: :func:`pipeline.sensitivity.favouritism` with the scheme's overall rank
  as the ranking under test and the official rank as the reference (permutation test, Holm
  within an attribute); winners per group by :func:`pipeline.sensitivity.group_outcomes`.
* Rank uncertainty of the scheme: :func:`pipeline.sensitivity.uncertainty` around the
  scheme's category points (Dirichlet, concentration κ), run per tier with the tier's quota.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.score import TIE_DECIMALS
from pipeline.scheme.compute import item_scores, item_weights, tiers, weight_group, year_items
from pipeline.scheme.spec import Scheme
from pipeline.sensitivity import favouritism, group_outcomes, uncertainty
from pipeline.sensitivity.data import YearData

__all__ = ["agreement", "stability", "winner_moves", "rank_changes", "group_effects", "group_winners",
           "scheme_uncertainty", "persistence", "GROUP_ATTRS"]

#: Attributes along which gains and losses are tested.
GROUP_ATTRS = ("type", "sector", "size")


def agreement(comp: pd.DataFrame) -> dict:
    """Agreement of one year's scheme ranking with the official one.

    Returns
    -------
    dict
        ``year``, ``n_units``; ``kendall_tau`` (τ-b) and ``kendall_p``; ``spearman_rho``;
        ``n_official_winners``, ``n_scheme_winners``; ``n_in`` (winners only under the scheme),
        ``n_out`` (winners only officially); ``jaccard`` (winner sets);
        ``mean_abs_rank_change`` (mean |official rank − overall scheme rank|);
        ``max_gain``, ``max_loss`` (largest places gained / lost by one unit).
    """
    if comp["year"].nunique() != 1:
        raise PipelineError("agreement: give the comparison rows of one year")
    # rounded as for ranking, so that summation noise (1e-14) never splits a tie
    o = np.round(comp["official_total"].to_numpy(float), TIE_DECIMALS)
    s = np.round(comp["scheme_total"].to_numpy(float), TIE_DECIMALS)
    tau = stats.kendalltau(o, s) if len(comp) > 1 else None
    rho = stats.spearmanr(o, s).statistic if len(comp) > 2 else np.nan
    wo, ws = comp["official_winner"].to_numpy(bool), comp["scheme_winner"].to_numpy(bool)
    union = int((wo | ws).sum())
    change = comp["official_rank"].to_numpy(float) - comp["overall_rank"].to_numpy(float)
    return {
        "year": int(comp["year"].iloc[0]),
        "n_units": int(len(comp)),
        "kendall_tau": float(tau.statistic) if tau is not None else np.nan,
        "kendall_p": float(tau.pvalue) if tau is not None else np.nan,
        "spearman_rho": float(rho),
        "n_official_winners": int(wo.sum()),
        "n_scheme_winners": int(ws.sum()),
        "n_in": int((ws & ~wo).sum()),
        "n_out": int((wo & ~ws).sum()),
        "jaccard": float((wo & ws).sum() / union) if union else 1.0,
        "mean_abs_rank_change": float(np.abs(change).mean()),
        "max_gain": float(max(change.max(), 0.0)),
        "max_loss": float(max(-change.min(), 0.0)),
    }


def stability(comps: pd.DataFrame) -> pd.DataFrame:
    """:func:`agreement` for every year of stacked comparison rows (one row per year)."""
    return pd.DataFrame([agreement(g) for _, g in comps.groupby("year", sort=True)])


def winner_moves(comp: pd.DataFrame) -> pd.DataFrame:
    """Units that win under one scheme only: ``year``, ``unit_id``, ``name``, ``tier``, ``move``
    (``in`` = wins only under the scheme, ``out`` = wins only officially), ``official_rank``,
    ``scheme_rank``, ``official_total``, ``scheme_total``; ins first, then by official rank."""
    wo, ws = comp["official_winner"].astype(bool), comp["scheme_winner"].astype(bool)
    m = comp.loc[wo != ws].assign(move=np.where(ws[wo != ws], "in", "out"))
    cols = ["year", "unit_id", "name", "tier", "move", "official_rank", "scheme_rank", "official_total", "scheme_total"]
    return m.sort_values(["year", "move", "official_rank"], kind="stable")[cols].reset_index(drop=True)


def rank_changes(comp: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` largest gains and ``k`` largest losses of rank places in one year:
    ``unit_id``, ``name``, ``official_rank``, ``overall_rank``, ``change`` (places gained,
    official − overall), ``official_total``, ``scheme_total``; sorted by change, descending."""
    d = comp.assign(change=comp["official_rank"].astype(int) - comp["overall_rank"].astype(int))
    d = d.sort_values(["change", "official_rank"], ascending=[False, True], kind="stable")
    gain, loss = d.loc[d["change"] > 0].head(k), d.loc[d["change"] < 0].tail(k)
    cols = ["unit_id", "name", "official_rank", "overall_rank", "change", "official_total", "scheme_total"]
    return pd.concat([gain, loss])[cols].reset_index(drop=True)


def _attrs(comp: pd.DataFrame) -> pd.DataFrame:
    return comp.set_index("unit_id")[list(GROUP_ATTRS)]


def group_effects(comp: pd.DataFrame, n_perm: int = 999, seed=config.SEED, alpha: float = 0.05) -> pd.DataFrame:
    """Who gains and who loses by type, sector and size in one year.

    :func:`pipeline.sensitivity.favouritism` with the scheme's overall rank as the ranking under
    test and the official rank as reference: ``mean_advantage`` is the mean number of places
    the group's units gain under the scheme, ``statistic`` the difference to the other units,
    ``p_value`` its two-sided permutation p-value, ``p_holm`` Holm-adjusted within an attribute.
    """
    c = comp.set_index("unit_id")
    f = favouritism(c["overall_rank"], c["official_rank"], _attrs(comp), n_perm=n_perm, seed=seed)
    # favouritism's own reading speaks of "the nominal weights"; here the ranking under test is the proposal
    f["reading"] = [_reading(r, alpha) for r in f.itertuples()]
    return f.assign(year=int(comp["year"].iloc[0]))


def _reading(r, alpha: float) -> str:
    from pipeline.i18n import t
    from pipeline.scheme.figures import value_label

    name = value_label(r.attribute, r.group)
    if np.isnan(r.p_holm):
        return t("sch_group_untestable", group=name)
    if r.p_holm < alpha:
        key = "sch_group_gains" if r.statistic > 0 else "sch_group_loses"
        return t(key, group=name, places=r.mean_advantage, d=abs(r.cohen_d), p=r.p_holm)
    return t("sch_group_same", group=name, places=r.mean_advantage, p=r.p_holm)


def group_winners(comp: pd.DataFrame) -> pd.DataFrame:
    """Winners per group under both schemes in one year (by
    :func:`pipeline.sensitivity.group_outcomes`): ``attribute``, ``group``, ``n_units``,
    ``official_winners``, ``scheme_winners``, ``change``, ``official_mean_rank``,
    ``scheme_mean_rank`` (overall rank under the scheme)."""
    c = comp.set_index("unit_id")
    # the scheme's winners come from its own rule (tiers); they enter as a 0/1 "P(winner)"
    g = group_outcomes(c[["official_rank"]].rename(columns={"official_rank": "official"}), _attrs(comp), top_n=config.TOP_N,
                       p_winner=c["scheme_winner"].astype(float), mean_rank=c["overall_rank"].astype(float))
    o = g.loc[g["scheme"] == "official"].set_index(["attribute", "group"])
    s = g.loc[g["scheme"] == "monte_carlo"].set_index(["attribute", "group"])
    out = pd.DataFrame({
        "n_units": o["n_units"],
        "official_winners": o["winners"].astype(int),
        "scheme_winners": s["winners"].reindex(o.index).round().astype(int),
        "official_mean_rank": o["mean_rank"],
        "scheme_mean_rank": s["mean_rank"].reindex(o.index),
    })
    out["change"] = out["scheme_winners"] - out["official_winners"]
    out = out.reset_index().assign(year=int(comp["year"].iloc[0]))
    return out[["year", "attribute", "group", "n_units", "official_winners", "scheme_winners", "change", "official_mean_rank", "scheme_mean_rank"]]


def _block_problem(yd: YearData, scheme: Scheme, units: pd.DataFrame | None, sel: np.ndarray):
    """Units ``sel`` as one composite with one block of columns per weight group.

    A unit's own block holds its item scores × its group's weights (NaN = not applicable
    under prorate); other blocks are NaN, so the prorate composite of the block matrix with
    the block weights as maxima is exactly the unit's scheme total (:mod:`compute`), and a
    Dirichlet draw of the category factors rescales each category's points in every group
    by the same factor.
    """
    z = item_scores(yd, scheme)[sel]
    grp = weight_group(yd, scheme, units).to_numpy()[sel]
    items = year_items(yd)
    blocks, maxima, cats = [], [], []
    for g in dict.fromkeys(grp):
        w = item_weights(scheme, items, g or None).to_numpy()
        keep = w > 0
        b = np.full((z.shape[0], int(keep.sum())), np.nan)
        own = grp == g
        b[own] = z[own][:, keep] * w[keep]
        blocks.append(b)
        maxima.append(w[keep])
        cats.append(yd.categories[keep])
    return np.hstack(blocks), np.concatenate(maxima), np.concatenate(cats)


def scheme_uncertainty(yd: YearData, scheme: Scheme, n: int = 1000, seed=config.SEED, kappa: float = 200.0,
                       units: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank uncertainty of the scheme itself under Monte Carlo around its category points.

    Per tier (all units when the scheme has no tiers), :func:`pipeline.sensitivity.uncertainty`
    draws ``n`` category-weight vectors from a Dirichlet around the scheme's points
    (concentration ``kappa``) and ranks the tier's units with its quota as ``top_n``.

    Returns
    -------
    (units, system) : DataFrame, DataFrame
        ``units``: year, unit_id, tier, nominal_rank (= the scheme rank), median_rank, q05,
        q95, p_winner, mean_abs_shift. ``system``: year, tier, n_units, quota, and the
        system statistics of :func:`uncertainty` (mean_abs_shift, spearman_mean,
        kendall_mean, jaccard_mean, p_same_winners, winners_changed_mean).
    """
    tier = tiers(yd, scheme, units).to_numpy()
    ids = np.asarray(yd.unit_ids)
    per_unit, per_tier = [], []
    for t in dict.fromkeys(tier):
        sel = tier == t
        x, m, cats = _block_problem(yd, scheme, units, sel)
        quota = scheme.quotas[t] if scheme.tier_by else scheme.top_n
        u = uncertainty(x, m, n, seed=seed, scheme="dirichlet", top_n=quota, kappa=kappa, groups=cats,
                        na_policy="prorate", offset=yd.offset[sel], unit_ids=ids[sel], kendall_samples=min(n, 1000))
        s = u.attrs["system"]
        u.attrs = {}  # pandas deep-copies attrs (the rank histogram) on every operation
        per_unit.append(u[["unit_id", "nominal_rank", "median_rank", "q05", "q95", "p_winner", "mean_abs_shift"]].assign(year=yd.year, tier=t))
        per_tier.append({"year": yd.year, "tier": t, "n_units": int(sel.sum()), "quota": int(quota),
                         **{k: s[k] for k in ("mean_abs_shift", "spearman_mean", "kendall_mean", "jaccard_mean", "p_same_winners", "winners_changed_mean")}})
    cols = ["year", "unit_id", "tier", "nominal_rank", "median_rank", "q05", "q95", "p_winner", "mean_abs_shift"]
    return pd.concat(per_unit, ignore_index=True)[cols], pd.DataFrame(per_tier)


def persistence(comps: pd.DataFrame) -> pd.DataFrame:
    """Years won per unit over all years under each scheme: ``unit_id``, ``name`` (latest),
    ``years``, ``official_wins``, ``scheme_wins``, ``change``; units whose count changes,
    largest change first."""
    g = comps.sort_values("year").groupby("unit_id")
    out = pd.DataFrame({
        "name": g["name"].last(),
        "years": g["year"].nunique(),
        "official_wins": g["official_winner"].sum().astype(int),
        "scheme_wins": g["scheme_winner"].sum().astype(int),
    })
    out["change"] = out["scheme_wins"] - out["official_wins"]
    out = out.loc[out["change"] != 0].reset_index()
    return out.reindex(out["change"].abs().sort_values(ascending=False, kind="stable").index).reset_index(drop=True)
