"""Fairness by group: does the nominal weighting favour a type, sector or size of unit?

Outcomes per group (:func:`group_outcomes`): number and share of winners and mean rank under
each scheme, and the expected number of winners under weight uncertainty (Σ P(winner)).

Test (:func:`favouritism`): the per-unit *advantage* of the nominal scheme over a reference
ranking is :math:`a_i = r_i^{ref} - r_i^{nom}` (rank places gained thanks to the nominal
weights; the reference is, e.g., the mean rank over plausible weights or an alternative
scheme). For group *g* the statistic is the difference of mean advantages

.. math:: T_g = \\bar a_{i \\in g} - \\bar a_{i \\notin g}

and its two-sided p-value comes from a permutation test: group labels are shuffled over the
units B times, :math:`p = (1 + \\#\\{|T^*| \\ge |T|\\}) / (B + 1)` (Phipson & Smyth 2010).
Effect size: Cohen's :math:`d = T_g / s_p` (pooled within-group standard deviation of
*a*). Holm's (1979) step-down adjustment is applied over **all** hypotheses tested together
(every group of every attribute passed in ``attrs``: one family). An attribute with two levels is
one hypothesis, not two (:math:`T_A = -T_B` and the two p-values are identical), so it enters the
family once and both rows carry the same adjusted p-value. An attribute with one level is not
tested (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.i18n import t

__all__ = ["size_class", "group_outcomes", "favouritism", "SIZE_CLASSES"]

SIZE_CLASSES = ("small", "medium", "large")


def size_class(members) -> pd.Series:
    """Size class by party-member count terciles: ``small`` / ``medium`` / ``large``.

    Each unit's mid-distribution percentile (Parzen 2004, *Stat. Sci.* 19:652–662)
    :math:`F^{mid}(x) = (\\#\\{x_k < x\\} + \\tfrac12 \\#\\{x_k = x\\}) / n` = (average rank − ½) / n
    is cut at ⅓ and ⅔: ``small`` below ⅓, ``medium`` in [⅓, ⅔), ``large`` from ⅔. Units with the
    same member count have the same percentile and so always fall in **one** class (row order
    never matters); without ties this is the plain split into thirds by rank. A constant input
    is all ``medium``.
    """
    s = pd.Series(members, dtype=float)
    if s.isna().any():
        raise PipelineError("size_class: member counts are missing")
    mid = (s.rank(method="average").to_numpy() - 0.5) / max(len(s), 1)
    k = np.minimum(np.floor(mid * 3 + 1e-12).astype(int), 2)
    return pd.Series(np.asarray(SIZE_CLASSES, dtype=object)[k], index=s.index, name="size")


def group_outcomes(ranks: pd.DataFrame, attrs: pd.DataFrame, top_n: int = config.TOP_N,
                   p_winner: pd.Series | None = None, mean_rank: pd.Series | None = None) -> pd.DataFrame:
    """Winners and mean rank per group under each scheme.

    Parameters
    ----------
    ranks : DataFrame
        Index unit_id; one column of ranks per scheme (e.g. ``nominal``, ``equal_items``…).
    attrs : DataFrame
        Index unit_id; one column per grouping attribute (``type``, ``sector``, ``size``).
    p_winner, mean_rank : Series, optional
        Monte Carlo P(winner) and mean rank per unit; added as scheme ``monte_carlo``.

    Returns
    -------
    DataFrame
        ``attribute``, ``group``, ``scheme``, ``n_units``, ``winners`` (count; for
        ``monte_carlo`` the expected count Σ P(winner)), ``winner_share`` (winners / n_units),
        ``mean_rank``.
    """
    a = attrs.reindex(ranks.index)
    if a.isna().all(axis=1).any():
        missing = list(a.index[a.isna().all(axis=1)][:3])
        raise PipelineError(f"group_outcomes: no attributes for units {missing}")
    frames = []
    win = (ranks <= top_n).astype(float)
    mr = ranks.astype(float)
    if p_winner is not None:
        win = win.assign(monte_carlo=p_winner.reindex(ranks.index).astype(float))
        mr = mr.assign(monte_carlo=(mean_rank if mean_rank is not None else pd.Series(np.nan, index=ranks.index)).reindex(ranks.index).astype(float))
    for col in a.columns:
        g = a[col].astype(str)
        w = win.groupby(g).sum().stack().rename("winners")
        m = mr.groupby(g).mean().stack().rename("mean_rank")
        n = g.value_counts().rename("n_units")
        f = pd.concat([w, m], axis=1).reset_index()
        f.columns = ["group", "scheme", "winners", "mean_rank"]
        f = f.merge(n, left_on="group", right_index=True)
        f.insert(0, "attribute", col)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out["winner_share"] = out["winners"] / out["n_units"]
    return out[["attribute", "group", "scheme", "n_units", "winners", "winner_share", "mean_rank"]]


def _holm(p: np.ndarray) -> np.ndarray:
    order = np.argsort(p)
    m = p.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def favouritism(nominal_rank: pd.Series, reference_rank: pd.Series, attrs: pd.DataFrame, n_perm: int = 9999,
                seed=config.SEED, alpha: float = 0.05, reference: str = "") -> pd.DataFrame:
    """Permutation test of whether the nominal ranking favours a group (see module docstring).

    Parameters
    ----------
    nominal_rank, reference_rank : Series
        Ranks per unit (index unit_id).
    attrs : DataFrame
        Index unit_id; grouping attributes (``type``, ``sector``, ``size``…).
    n_perm : int
        Number of label permutations B.
    alpha : float
        Level used for the plain-language reading (on the Holm-adjusted p-value).
    reference : str
        Name of the reference for the reading (e.g. "plausible weights").

    Returns
    -------
    DataFrame
        ``attribute``, ``group``, ``n_units``, ``mean_advantage`` (mean rank places gained by
        the group's units under the nominal scheme), ``statistic`` (T_g, places), ``cohen_d``,
        ``p_value`` (two-sided permutation), ``p_holm`` (Holm over all hypotheses of all
        attributes; a two-level attribute counts once),
        ``reading`` (one sentence).
    """
    idx = nominal_rank.index
    a = (reference_rank.reindex(idx).astype(float) - nominal_rank.astype(float)).to_numpy()
    if np.isnan(a).any():
        raise PipelineError("favouritism: reference ranks missing for some units")
    if n_perm < 1:
        raise PipelineError("favouritism: n_perm must be ≥ 1")
    u = a.size
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.tile(a, (n_perm, 1)), axis=1)  # B × units, each row a relabelling
    at = attrs.reindex(idx)
    rows = []
    fam = []  # (row index of the hypothesis, row indices that share its adjusted p)
    for col in at.columns:
        g = at[col].astype(str).to_numpy()
        levels = sorted(set(g))
        ind = np.column_stack([(g == lev).astype(float) for lev in levels])  # units × groups
        ng = ind.sum(axis=0)
        ok = (ng > 0) & (ng < u)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_obs = a @ ind / ng - a @ (1 - ind) / (u - ng)
            t_perm = perms @ ind / ng - perms @ (1 - ind) / (u - ng)
        pval = (1 + (np.abs(t_perm) >= np.abs(t_obs) - 1e-12).sum(axis=0)) / (n_perm + 1)
        pval = np.where(ok, pval, np.nan)
        ssq_in = np.array([((a[g == lev] - a[g == lev].mean()) ** 2).sum() for lev in levels])
        ssq_out = np.array([((a[g != lev] - a[g != lev].mean()) ** 2).sum() if (g != lev).any() else 0.0 for lev in levels])
        with np.errstate(invalid="ignore", divide="ignore"):
            sp = np.sqrt((ssq_in + ssq_out) / np.maximum(u - 2, 1))
            d = np.where(sp > 0, t_obs / sp, 0.0)
        base = len(rows)
        okj = [j for j in range(len(levels)) if ok[j]]
        if len(okj) == 2 and len(levels) == 2:  # one hypothesis: T_A = −T_B
            fam.append((base + okj[0], [base + okj[0], base + okj[1]]))
        else:
            fam += [(base + j, [base + j]) for j in okj]
        for j, lev in enumerate(levels):
            rows.append((col, lev, int(ng[j]), float(a[g == lev].mean()), float(t_obs[j]), float(d[j]), float(pval[j]), np.nan))
    out = pd.DataFrame(rows, columns=["attribute", "group", "n_units", "mean_advantage", "statistic", "cohen_d", "p_value", "p_holm"])
    if fam:
        adj = _holm(out["p_value"].to_numpy()[[h for h, _ in fam]])
        for (_, members), q in zip(fam, adj):
            out.loc[members, "p_holm"] = q
    out["reading"] = [_reading(r, alpha, reference) for r in out.itertuples()]
    return out


def _group_label(attribute: str, group: str) -> str:
    for key in (f"{attribute}_{group}", f"sens_size_{group}"):
        try:
            return t(key)
        except KeyError:
            continue
    return str(group)


def _reading(r, alpha: float, reference: str) -> str:
    name = _group_label(r.attribute, r.group)
    ref = reference or t("sens_ref_default")
    if np.isnan(r.p_holm):
        return t("sens_fair_untestable", group=name)
    if r.p_holm < alpha:
        key = "sens_fair_favoured" if r.statistic > 0 else "sens_fair_disfavoured"
        return t(key, group=name, places=abs(r.statistic), d=abs(r.cohen_d), p=r.p_holm, ref=ref)
    return t("sens_fair_none", group=name, places=r.statistic, p=r.p_holm, ref=ref)
