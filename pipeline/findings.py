"""Findings and recommendations derived from the numbers (报告 五、问题与不足 / 六、对策建议).

Two layers, both pure functions of DataFrames (no I/O, no hidden state):

1. **Evidence tables** (``item_stats``, ``system_by_year``, ``effective_weights``,
   ``scheme_ranks``, ``favour_test``, ``peer_test``, ``persistence``) turn the processed tables
   (SPEC §3) into the small tidy tables that the rules read.
2. **Rules** (``rule_*``) each read one evidence table and return a list of :class:`Finding`
   records — empty when the data show nothing noteworthy. :func:`derive` runs every rule
   whose evidence is available and sorts the findings by severity.

A finding never carries prose: it carries the rule id, the numbers, the names it mentions
(as ``(kind, ids)`` so that the report can print them in the report language) and symbolic
evidence references (``"fig:…"``, ``"tab:…"``) that the report resolves to numbered figures
and tables. The text of a finding and of its recommendation lives in
``pipeline/labels/report.yaml`` under ``rep_find_<rule>`` and ``rep_rec_<rule>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.i18n import t
from pipeline.score import aggregate, rank

__all__ = [
    "Finding",
    "pct_stats",
    "item_matrix",
    "item_stats",
    "system_by_year",
    "effective_weights",
    "scheme_ranks",
    "favour_test",
    "peer_test",
    "persistence",
    "rule_winner_stability",
    "rule_flat_items",
    "rule_ceiling",
    "rule_effective_weights",
    "rule_group_favour",
    "rule_peer_groups",
    "rule_close_cut",
    "rule_persistence",
    "rule_integrity",
    "ceiling_tests",
    "rule_quarantine",
    "derive",
    "examined",
    "plurals",
    "to_frame",
    "SEVERITIES",
]

SEVERITIES = ("high", "medium", "low")
#: Share of the maximum from which a unit counts as "at the ceiling" (SPEC §4 Trend: units ≥ 95).
CEILING = 95.0
#: A group "favoured" by the nominal scheme must gain at least this many rank places on average:
#: a significant advantage of a fraction of a place changes no unit's standing.
MIN_PLACES = 1.0


def plurals(values: dict) -> dict:
    """``values`` plus English agreement helpers for every integer value ``k``:
    ``s_k`` (noun plural: "" if k == 1 else "s") and ``v_k`` (verb: "s" if k == 1 else "").

    Templates write ``"{k} unit{s_k}"``, ``"{k} item{s_k} discriminate{v_k}"``; Chinese
    templates ignore the helpers.
    """
    out = dict(values)
    for key, v in values.items():
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            out[f"s_{key}"] = "" if int(v) == 1 else "s"
            out[f"v_{key}"] = "s" if int(v) == 1 else ""
    return out


@dataclass(frozen=True)
class Finding:
    """One finding: a rule that fired, with its numbers and evidence.

    Attributes
    ----------
    rule : str
        Rule id (``winner_stability``, ``flat_items`` …); the label keys are
        ``rep_find_<rule>`` (finding) and ``rep_rec_<rule>`` (recommendation).
    severity : {"high", "medium", "low"}
    values : dict
        Numbers formatted into the texts (JSON-able).
    names : dict
        Placeholder → ``(kind, [ids…])`` for names printed in the report language
        (kinds: ``unit``, ``item``, ``sector``, ``type``, ``category``, ``check``, ``group``).
    evidence : tuple of str
        Symbolic references (``"fig:<name>"`` / ``"tab:<name>"``) resolved by the report.
    variant : str
        Which wording fits the numbers (e.g. ``"year"`` when every integrity finding is about
        the year as a whole): the text key becomes ``rep_find_<rule>_<variant>``, so that no
        sentence carries a clause about zero things.
    kind : {"finding", "ok"}
        ``"ok"``: an aspect a rule examined without finding anything (:func:`examined`); its
        text key is ``rep_ok_<rule>[_<variant>]`` and it has no recommendation.
    """

    rule: str
    severity: str
    values: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)
    evidence: tuple = ()
    variant: str = ""
    kind: str = "finding"

    def _fmt(self, lang: str, namer: Callable[[str, object], str] | None) -> dict:
        namer = namer or (lambda kind, v: str(v))
        sep = "、" if lang == "zh" else ", "
        out = plurals(self.values)
        for key, (kind, ids) in self.names.items():
            out[key] = sep.join(namer(kind, v) for v in ids)
            # "… and others" only when the list is cut short (values[n_<key>] = the full count)
            more = int(self.values.get(f"n_{key}", len(ids))) > len(ids)
            out[f"{key}_etc"] = ("等" if lang == "zh" else " and others") if more else ""
        return out

    def text(self, lang: str = "zh", namer: Callable[[str, object], str] | None = None) -> str:
        """The finding as one sentence in ``lang`` (names via ``namer(kind, id)``)."""
        prefix = "rep_ok_" if self.kind == "ok" else "rep_find_"
        key = f"{prefix}{self.rule}" + (f"_{self.variant}" if self.variant else "")
        return t(key, lang, **self._fmt(lang, namer))

    def recommendation(self, lang: str = "zh", namer: Callable[[str, object], str] | None = None) -> str:
        """The recommendation tied to this finding, in ``lang``."""
        return t(f"rep_rec_{self.rule}", lang, **self._fmt(lang, namer))


# --------------------------------------------------------------------------------------------
# Evidence tables
# --------------------------------------------------------------------------------------------


def item_matrix(scores: pd.DataFrame, items: pd.DataFrame, year: int) -> pd.DataFrame:
    """Units × items matrix of annual points for one year.

    Returns
    -------
    DataFrame
        Index ``unit_id`` (sorted), columns ``item_id`` (the year's item list order); values are
        earned points; NaN where the item does not apply (status ``na``); 0 where the cell was
        missing (a missing cell earns nothing, :mod:`pipeline.score`).
    """
    s = scores.loc[(scores["year"] == year) & (scores["period"].astype(str) == "Y")]
    pts = s["points"].astype(float).where(s["status"] != "missing", 0.0)
    pts = pts.where(s["status"] != "na", np.nan)
    m = pd.DataFrame({"unit_id": s["unit_id"], "item_id": s["item_id"], "points": pts})
    m = m.pivot(index="unit_id", columns="item_id", values="points").sort_index()
    order = items.loc[items["year"] == year].sort_values("item_id")["item_id"].tolist()
    return m.reindex(columns=order)


def item_stats(scores: pd.DataFrame, items: pd.DataFrame, year: int) -> pd.DataFrame:
    """Spread and discrimination of each item in one year.

    Returns
    -------
    DataFrame
        One row per item: ``item_id``, ``item_name``, ``category``, ``dimension``, ``method``,
        ``max_points``; ``mean`` and ``sd`` (sample sd, ddof=1) of the points over applicable
        units; ``sd_rel`` = sd / max_points; ``share_full`` = share of applicable units at full
        marks; ``r_it`` = corrected item–total correlation (Pearson correlation of the item's
        points with the sum of the *other* items' points, units with the item applicable).
    """
    m = item_matrix(scores, items, year)
    it = items.loc[items["year"] == year].set_index("item_id").reindex(m.columns)
    x = m.to_numpy(dtype=float)
    mx = it["max_points"].to_numpy(dtype=float)
    present = ~np.isnan(x)
    n = present.sum(axis=0)
    mean = np.nanmean(x, axis=0)
    sd = np.nanstd(x, axis=0, ddof=1)
    full = np.where(present, np.isclose(x, mx[None, :]), False).sum(axis=0) / np.maximum(n, 1)
    x0 = np.where(present, x, 0.0)
    rest = x0.sum(axis=1, keepdims=True) - x0  # total of the other items, per unit and item
    xc = np.where(present, x0 - mean[None, :], 0.0)
    rest_mean = np.where(present, rest, 0.0).sum(axis=0) / np.maximum(n, 1)
    rc = np.where(present, rest - rest_mean[None, :], 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r_it = (xc * rc).sum(axis=0) / np.sqrt((xc**2).sum(axis=0) * (rc**2).sum(axis=0))
    return pd.DataFrame(
        {
            "item_id": m.columns.to_numpy(),
            "item_name": it["item_name"].to_numpy(),
            "category": it["category"].to_numpy(),
            "dimension": it["dimension"].to_numpy(),
            "method": it["method"].to_numpy(),
            "max_points": mx,
            "mean": mean,
            "sd": sd,
            "sd_rel": sd / mx,
            "share_full": full,
            "r_it": r_it,
        }
    )


def pct_stats(p: pd.Series) -> dict[str, float]:
    """Distribution of % of max: mean, median, sd (n − 1), CV = sd / mean, min, max and the
    share of units at or above :data:`CEILING` (shared by the overview and the trend rules)."""
    sd = p.std(ddof=1)
    return {"mean": p.mean(), "median": p.median(), "sd": sd, "cv": sd / p.mean(), "min": p.min(), "max": p.max(),
            "share_ceiling": float((p >= CEILING).mean())}


def system_by_year(totals: pd.DataFrame, top_n: int = config.TOP_N) -> pd.DataFrame:
    """System-level statistics of each year (is the assessment losing its power to discriminate?).

    Returns
    -------
    DataFrame
        One row per year: ``year``, ``n_units``; ``mean``, ``median``, ``sd`` (ddof=1), ``cv``
        (sd / mean), ``min``, ``max`` of ``pct_of_max``; ``share_ceiling`` = share of units with
        pct_of_max ≥ 95 (:data:`CEILING`); ``cut`` = pct_of_max of the lowest-ranked winner
        (the score needed to be in the top ``top_n``).
    """
    rows = []
    for year, g in totals.groupby("year", sort=True):
        p = g["pct_of_max"].astype(float)
        win = g.loc[g["rank"] <= top_n, "pct_of_max"]
        rows.append(
            {"year": int(year), "n_units": int(len(g)), **pct_stats(p), "cut": float(win.min()) if len(win) else np.nan}
        )
    return pd.DataFrame(rows)


def effective_weights(totals: pd.DataFrame, items: pd.DataFrame, year: int, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Nominal vs effective weight of each category in one year — the category rows of
    :func:`pipeline.sensitivity.effective_weights` (the one implementation; chapter 四 shows it).

    Definition (Paruolo, Saisana & Saltelli 2013, *J. R. Stat. Soc. A* 176:609–634): the
    effective weight of a category is the squared Pearson correlation r² between the category
    score (applicable points / applicable max in the category, NA items left out) and the nominal
    composite (:class:`pipeline.sensitivity.Composite` under the run's NA rule, without the
    adjustment), normalised over the categories.

    Parameters
    ----------
    totals, items : DataFrame
        The totals (with ``cat_<category>`` points) and the item list.
    scores : DataFrame, optional
        The item scores. With them the components are built from the items (applicable maxima
        per unit, NA items left out), exactly as in chapter 四. Without them the components are the
        category points of ``totals`` over the category maxima — the same function on a coarser
        input, identical when no item is NA; a unit with NA items then counts them as 0 of the full
        category maximum (pass ``scores`` to avoid that).

    Returns
    -------
    DataFrame
        One row per category: ``category``; ``nominal_share`` = category max / total max; ``r2``;
        ``effective_share`` = r² / Σ r² (the ``r2_share`` of the sensitivity table); ``ratio`` =
        effective_share / nominal_share.
    """
    from pipeline.sensitivity.effective import effective_weights as _eff

    if scores is not None:
        m = item_matrix(scores, items, year)
        it = items.loc[items["year"] == year].set_index("item_id").reindex(m.columns)
        ew = _eff(m.to_numpy(dtype=float), it["max_points"].to_numpy(dtype=float), it["category"].to_numpy(dtype=object),
                  item_ids=list(m.columns))
    else:
        cmax = items.loc[items["year"] == year].groupby("category")["max_points"].sum()
        cats = [c for c in config.CATEGORIES if c in cmax.index and cmax[c] > 0]
        cols = [f"cat_{c}" for c in cats]
        missing = [c for c in cols if c not in totals.columns]
        if missing:
            raise PipelineError(f"findings.effective_weights: totals have no column {missing[0]} (year {year})")
        g = totals.loc[totals["year"] == year, cols].to_numpy(dtype=float)
        ew = _eff(g, cmax[cats].to_numpy(dtype=float), np.asarray(cats, dtype=object), item_ids=cats)
    out = ew.loc[ew["level"] == "category", ["category", "nominal_share", "r2", "r2_share"]].rename(columns={"r2_share": "effective_share"})
    out = out.reset_index(drop=True)
    out["ratio"] = out["effective_share"] / out["nominal_share"]
    return out


def scheme_ranks(scores: pd.DataFrame, items: pd.DataFrame, totals: pd.DataFrame, year: int) -> pd.DataFrame:
    """Ranks under the nominal item maxima and under equal category weights (25 each).

    Both composites are ``100 × Σ_j w_j x_j / Σ_j w_j`` over the unit's applicable items with
    ``x_j`` = points / max (:func:`pipeline.score.aggregate`, NA prorated), plus the verified
    adjustment. Nominal: ``w_j = max_j``; equal categories: ``w_j = max_j / max(category_j)``.

    Returns
    -------
    DataFrame
        ``unit_id``, ``score_nominal``, ``score_equal``, ``rank_nominal``, ``rank_equal``,
        ``shift`` = rank_equal − rank_nominal (positive: the nominal scheme ranks the unit better).
    """
    m = item_matrix(scores, items, year)
    it = items.loc[items["year"] == year].set_index("item_id").reindex(m.columns)
    mx = it["max_points"].to_numpy(dtype=float)
    x = m.to_numpy(dtype=float) / mx[None, :]
    cmax = it.groupby("category")["max_points"].transform("sum").to_numpy(dtype=float)
    w = np.vstack([mx, mx / cmax])
    comp = 100.0 * aggregate(x, w)  # (2, units)
    adj = totals.loc[totals["year"] == year].set_index("unit_id")["adjustment"].reindex(m.index).fillna(0.0)
    comp = comp + adj.to_numpy()[None, :]
    r = rank(np.round(comp, 6), axis=1)
    return pd.DataFrame(
        {
            "unit_id": m.index.to_numpy(),
            "score_nominal": comp[0],
            "score_equal": comp[1],
            "rank_nominal": r[0],
            "rank_equal": r[1],
            "shift": r[1] - r[0],
        }
    )


def favour_test(ranks: pd.DataFrame, units: pd.DataFrame, by: Iterable[str] = ("sector", "type"), n_perm: int = 4999, seed: int = config.SEED) -> pd.DataFrame:
    """Permutation test: does the nominal scheme favour a group of units?

    Statistic: the group's mean ``shift`` (rank under equal category weights minus nominal
    rank; positive = the nominal scheme places the group's units higher than the alternative).
    Null: group labels are exchangeable across units. One-sided p-value
    ``(b + 1) / (n_perm + 1)`` with ``b`` = permutations whose group mean is ≥ the observed one
    (Phipson & Smyth 2010, "Permutation p-values should never be zero"). All permutations are
    drawn at once (``rng.permuted`` on an n_perm × n_units matrix), seeded.

    Returns
    -------
    DataFrame
        One row per grouping variable and group: ``by``, ``group``, ``n``, ``mean_shift``,
        ``p_value``.
    """
    d = ranks.merge(units[["unit_id", *by]], on="unit_id", how="left")
    shift = d["shift"].to_numpy(dtype=float)
    rng = np.random.default_rng(seed)
    perm = rng.permuted(np.broadcast_to(np.arange(len(d)), (n_perm, len(d))), axis=1)
    ps = shift[perm]  # (n_perm, units)
    rows = []
    for var in by:
        lab = d[var].astype(str).to_numpy()
        for gname in sorted(set(lab)):
            mask = lab == gname
            k = int(mask.sum())
            if k < 2 or k == len(d):
                continue
            obs = shift[mask].mean()
            null = ps[:, :k].mean(axis=1)  # the first k of a random permutation = a random k-subset
            p = (np.sum(null >= obs - 1e-12) + 1) / (n_perm + 1)
            rows.append({"by": var, "group": gname, "n": k, "mean_shift": float(obs), "p_value": float(p)})
    return pd.DataFrame(rows, columns=["by", "group", "n", "mean_shift", "p_value"])


def peer_test(totals: pd.DataFrame, units: pd.DataFrame, year: int, by: str = "sector") -> pd.DataFrame:
    """Kruskal–Wallis test of the totals of one year across groups (``scipy.stats.kruskal``).

    Returns
    -------
    DataFrame
        One row per group: ``by``, ``group``, ``n``, ``median`` (pct_of_max), and the test's
        ``H``, ``p_value`` and ``epsilon2`` = H / (n − 1) (Tomczak & Tomczak 2014) repeated on
        every row.
    """
    g = totals.loc[totals["year"] == year].merge(units[["unit_id", by]], on="unit_id", how="left")
    groups = {k: v["pct_of_max"].to_numpy(dtype=float) for k, v in g.groupby(by, sort=True)}
    groups = {k: v for k, v in groups.items() if len(v) >= 2}
    if len(groups) < 2:
        return pd.DataFrame(columns=["by", "group", "n", "median", "H", "p_value", "epsilon2"])
    h, p = stats.kruskal(*groups.values())
    n = sum(len(v) for v in groups.values())
    return pd.DataFrame(
        [{"by": by, "group": k, "n": len(v), "median": float(np.median(v)), "H": float(h), "p_value": float(p), "epsilon2": float(h) / (n - 1)} for k, v in groups.items()]
    )


def persistence(totals: pd.DataFrame, year: int, lookback: int = 3) -> pd.DataFrame:
    """For each winner of ``year``: in how many of the ``lookback`` previous years it also won.

    Returns
    -------
    DataFrame
        ``unit_id``, ``years_seen`` (previous years with a row for the unit), ``years_won``
        (previous years it was a winner), ``always`` (won in all ``lookback`` previous years).
        Empty when fewer than ``lookback`` previous years exist.
    """
    prev = sorted(y for y in totals["year"].unique() if y < year)[-lookback:]
    cols = ["unit_id", "years_seen", "years_won", "always"]
    if len(prev) < lookback:
        return pd.DataFrame(columns=cols)
    win = totals.loc[(totals["year"] == year) & totals["is_winner"], ["unit_id"]]
    p = totals.loc[totals["year"].isin(prev)]
    agg = p.groupby("unit_id").agg(years_seen=("year", "nunique"), years_won=("is_winner", "sum")).reset_index()
    out = win.merge(agg, on="unit_id", how="left").fillna({"years_seen": 0, "years_won": 0})
    out["years_seen"] = out["years_seen"].astype(int)
    out["years_won"] = out["years_won"].astype(int)
    out["always"] = out["years_won"] >= lookback
    return out[cols].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Rules: evidence table → list[Finding] (empty when nothing is noteworthy)
# --------------------------------------------------------------------------------------------


def rule_winner_stability(unc: pd.DataFrame, top_n: int = config.TOP_N, threshold: float = 0.8) -> list[Finding]:
    """Nominal winners that keep their place in fewer than ``threshold`` of the weight scenarios.

    ``unc`` has ``unit_id``, ``nominal_rank``, ``p_winner`` (the Monte Carlo output of
    :func:`pipeline.sensitivity.uncertainty`). Fires when at least one nominal winner has
    ``p_winner < threshold``; severity high when that is a quarter of the winners or more.
    """
    if unc is None or not len(unc) or "p_winner" not in unc:
        return []
    win = unc.loc[unc["nominal_rank"] <= top_n]
    weak = win.loc[win["p_winner"] < threshold].sort_values(["p_winner", "unit_id"])
    k, n = len(weak), len(win)
    if k == 0:
        return []
    contenders = unc.loc[(unc["nominal_rank"] > top_n) & (unc["p_winner"] >= 1 - threshold)]
    m = int(len(contenders))
    return [
        Finding(
            "winner_stability",
            "high" if k >= 0.25 * n else "medium",
            {"k": k, "n": n, "threshold": threshold, "m": m, "n_units": k},
            {"units": ("unit", weak["unit_id"].head(5).tolist())},
            ("fig:rank_interval", "tab:uncertainty"),
            variant="" if m else "none_out",
        )
    ]


def rule_flat_items(items: pd.DataFrame, sd_rel_max: float = 0.05, full_share_min: float = 0.8) -> list[Finding]:
    """Items with almost no spread: they carry (almost) no weight in the ranking in effect.

    ``items`` is :func:`item_stats`. An item is flat when ``sd_rel`` (sd / max) < ``sd_rel_max``
    or at least ``full_share_min`` of the units earn full marks on it.
    """
    if items is None or not len(items):
        return []
    flat = items.loc[(items["sd_rel"] < sd_rel_max) | (items["share_full"] >= full_share_min)]
    if not len(flat):
        return []
    pts = float(flat["max_points"].sum())
    return [
        Finding(
            "flat_items",
            "high" if pts >= 20 else "medium",
            {"k": int(len(flat)), "points": pts, "sd_rel_max": sd_rel_max, "full_share_min": full_share_min, "n_items": int(len(flat))},
            {"items": ("item", flat.sort_values("sd_rel")["item_id"].head(6).tolist())},
            ("tab:items",),
        )
    ]


def ceiling_tests(system: pd.DataFrame, alpha: float = 0.05) -> dict[str, tuple[float, float]]:
    """Trend of ``share_ceiling`` and of ``sd`` over the years: the Mann–Kendall test of
    :func:`pipeline.trend.mann_kendall_many` — exact for ≤ 10 years, at the reported precision
    (:data:`pipeline.trend.SYSTEM_DECIMALS`) — the very test chapter 三 reports, so a series has
    one p-value in every chapter.

    Returns
    -------
    dict
        ``{"share_ceiling": (tau, p, p_min), "sd": (tau, p, p_min)}``: Kendall τ_b with the year,
        the two-sided p-value and the smallest attainable p-value for the series (p_min ≥ alpha:
        too short to test). A constant series gives τ = 0 and p = 1.
    """
    from pipeline import trend

    s = system.sort_values("year")
    cols = ["share_ceiling", "sd"]
    res = trend.mann_kendall_many(s[cols].to_numpy(dtype=float).T, s["year"].to_numpy(dtype=float), alpha=alpha,
                                  decimals=[trend.SYSTEM_DECIMALS[c] for c in cols])
    return {c: (float(np.nan_to_num(res["tau"].iloc[k])), float(np.nan_to_num(res["p"].iloc[k], nan=1.0)),
                float(np.nan_to_num(res["p_min"].iloc[k], nan=1.0))) for k, c in enumerate(cols)}


def _ceiling_testable(res: dict, alpha: float) -> bool:
    """Can the ceiling tests reach significance at all (``p_min`` < alpha for either series)?"""
    return min(res["share_ceiling"][2], res["sd"][2]) < alpha


def _compressing(res: dict, alpha: float) -> list[float]:
    """p-values of the series that trend the compressing way (ceiling share up, sd down) at p < alpha."""
    return [p for c, sign in (("share_ceiling", 1), ("sd", -1)) for tau, p, _ in [res[c]] if p < alpha and np.sign(tau) == sign]


def rule_ceiling(system: pd.DataFrame, alpha: float = 0.05, min_years: int = 4) -> list[Finding]:
    """Scores compressing toward the ceiling over the years.

    ``system`` is :func:`system_by_year`. The Mann–Kendall test of :func:`ceiling_tests` (the
    one of chapter 三: exact, at the reported precision) of ``share_ceiling`` and of ``sd``
    against the year. Fires when the ceiling share rises or the spread falls with a two-sided
    p < ``alpha``; ``p`` is the smallest such p-value, the number chapter 三 shows for that series.
    """
    if system is None or len(system) < min_years:
        return []
    s = system.sort_values("year")
    res = ceiling_tests(s, alpha)
    hits = _compressing(res, alpha)
    if not hits:
        return []
    first, last = s.iloc[0], s.iloc[-1]
    return [
        Finding(
            "ceiling",
            "high",
            {
                "first": int(first["year"]),
                "last": int(last["year"]),
                "ceil_first": float(first["share_ceiling"]),
                "ceil_last": float(last["share_ceiling"]),
                "sd_first": float(first["sd"]),
                "sd_last": float(last["sd"]),
                "p": min(hits),
            },
            {},
            ("fig:system", "tab:system"),
        )
    ]


def rule_effective_weights(ew: pd.DataFrame, low: float = 0.5, high: float = 1.5) -> list[Finding]:
    """Categories whose effective weight departs from the nominal one.

    ``ew`` is :func:`effective_weights`. Fires for categories with ``ratio`` (effective /
    nominal share) < ``low`` (the category barely moves the ranking) or > ``high`` (it
    dominates the ranking beyond its points).
    """
    if ew is None or not len(ew):
        return []
    out = []
    lo = ew.loc[ew["ratio"] < low].sort_values("ratio")
    hi = ew.loc[ew["ratio"] > high].sort_values("ratio", ascending=False)
    for part, key in ((lo, "weights_low"), (hi, "weights_high")):
        if len(part):
            r = part.iloc[0]  # the most extreme category is named with its numbers
            out.append(
                Finding(
                    key,
                    "medium",
                    {"nominal": float(r["nominal_share"]), "effective": float(r["effective_share"]), "ratio": float(r["ratio"]),
                     "k": int(len(part)), "k_more": int(len(part) - 1)},
                    {"categories": ("category", [r["category"]]), "others": ("category", part["category"].iloc[1:].tolist())},
                    ("fig:effective_weights", "tab:effective_weights"),
                    variant="many" if len(part) > 1 else "",
                )
            )
    return out


def rule_group_favour(fav: pd.DataFrame, fairness: pd.DataFrame | None = None, alpha: float = 0.05,
                      min_places: float = MIN_PLACES) -> list[Finding]:
    """The nominal scheme favours a group (type, sector or size) by a material margin.

    Two tests can show it; a group is named once (the equal-weights test first):

    * ``fav`` (:func:`favour_test`, nominal points vs equal category weights, one-sided):
      Bonferroni over the groups tested, ``p_value < alpha / m``;
    * ``fairness`` (the weights chapter's ``sens_fairness_tests``: nominal rank vs the rank
      under plausible weights, two-sided permutation test, Holm within the attribute):
      ``p_holm < alpha``.

    Either way the group must also gain at least ``min_places`` rank places on average
    (``mean_shift`` / ``mean_advantage``): a significant advantage of a fraction of a place
    changes no unit's standing and is reported by :func:`examined` instead.
    """
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    if fav is not None and len(fav):
        m = len(fav)
        hit = fav.loc[(fav["p_value"] < alpha / m) & (fav["mean_shift"] >= min_places)].sort_values("p_value")
        for r in hit.to_dict("records"):
            seen.add((str(r["by"]), str(r["group"])))
            out.append(Finding("group_favour", "high", {"shift": float(r["mean_shift"]), "p": float(r["p_value"]), "n": int(r["n"]), "m": m},
                               {"group": (str(r["by"]), [r["group"]])}, ("tab:favour",)))
    if fairness is not None and len(fairness) and {"attribute", "group", "mean_advantage", "p_holm"} <= set(fairness.columns):
        hit = fairness.loc[(fairness["p_holm"] < alpha) & (fairness["mean_advantage"] >= min_places)].sort_values("p_holm")
        for r in hit.to_dict("records"):
            if (str(r["attribute"]), str(r["group"])) in seen:
                continue
            m = int((fairness["attribute"] == r["attribute"]).sum())
            out.append(Finding("group_favour", "high", {"shift": float(r["mean_advantage"]), "p": float(r["p_holm"]), "n": int(r.get("n_units", 0)), "m": m},
                               {"group": (str(r["attribute"]), [r["group"]])}, ("tab:fairness",), variant="plausible"))
    return out


def rule_peer_groups(peer: pd.DataFrame, alpha: float = 0.05) -> list[Finding]:
    """Totals differ between sectors (Kruskal–Wallis p < ``alpha``); names the best and worst group."""
    if peer is None or not len(peer) or float(peer["p_value"].iloc[0]) >= alpha:
        return []
    s = peer.sort_values(["median", "group"])
    return [
        Finding(
            "peer_groups",
            "medium",
            {"H": float(s["H"].iloc[0]), "p": float(s["p_value"].iloc[0]), "eps2": float(s["epsilon2"].iloc[0]),
             "hi_median": float(s["median"].iloc[-1]), "lo_median": float(s["median"].iloc[0])},
            {"best": (str(s["by"].iloc[0]), [s["group"].iloc[-1]]), "worst": (str(s["by"].iloc[0]), [s["group"].iloc[0]])},
            ("tab:peer",),
        )
    ]


def rule_close_cut(ranking: pd.DataFrame, top_n: int = config.TOP_N, margin: float = 0.5, min_units: int = 3) -> list[Finding]:
    """Many units within ``margin`` points of the top-``top_n`` cut: fractions decide who wins.

    ``ranking`` has ``unit_id``, ``total``, ``rank``. The cut is the total of the lowest-ranked
    winner; fires when at least ``min_units`` units (winners and non-winners) lie within
    ``margin`` points of it.
    """
    if ranking is None or len(ranking) <= top_n:
        return []
    cut = float(ranking.loc[ranking["rank"] <= top_n, "total"].min())
    near = ranking.loc[(ranking["total"] - cut).abs() <= margin + 1e-9]
    if len(near) < min_units:
        return []
    return [
        Finding(
            "close_cut",
            "medium",
            {"k": int(len(near)), "margin": margin, "cut": cut,
             "k_out": int((near["rank"] > top_n).sum())},
            {},
            ("fig:ranking", "tab:ranking"),
            variant="" if int((near["rank"] > top_n).sum()) else "none_out",
        )
    ]


def rule_persistence(pers: pd.DataFrame, share_min: float = 0.6) -> list[Finding]:
    """Honours entrench: most winners also won in every one of the previous years looked at."""
    if pers is None or not len(pers):
        return []
    share = float(pers["always"].mean())
    if share < share_min:
        return []
    return [Finding("persistence", "low", {"share": share, "k": int(pers["always"].sum()), "n": int(len(pers))}, {}, ("tab:persistence", "tab:ranking"))]


def rule_integrity(integ: pd.DataFrame) -> list[Finding]:
    """High-severity integrity findings (防止假数字): how many, on how many units, which checks.

    Some checks judge the whole year rather than a unit (bunching at the cut, terminal digits
    of an item): their ``unit_id`` is empty (``""`` or missing) and they are counted apart
    (``k_year``), never as a unit. Values: ``k`` (all high findings), ``k_unit`` (those naming
    a unit), ``units_n`` (distinct units named), ``k_year`` (year-level findings).
    """
    if integ is None or not len(integ) or "severity" not in integ:
        return []
    hi = integ.loc[integ["severity"] == "high"]
    if not len(hi):
        return []
    uid = hi["unit_id"].astype("string").fillna("").str.strip() if "unit_id" in hi else pd.Series("", index=hi.index)
    named = uid != ""
    checks = hi["check"].value_counts().sort_index().index.tolist()
    k_unit, k_year = int(named.sum()), int((~named).sum())
    units = list(dict.fromkeys(uid[named].sort_values().tolist()))
    return [
        Finding(
            "integrity",
            "high",
            {"k": int(len(hi)), "k_unit": k_unit, "units_n": len(units), "k_year": k_year, "n_units": len(units)},
            {"checks": ("check", checks), "units": ("unit", units[:5])},
            ("tab:integrity", "tab:integrity_list"),
            # no clause about zero things: all on units, all about the year, or both
            variant="units" if not k_year else ("year" if not k_unit else ""),
        )
    ]


def rule_quarantine(n_quarantined: int) -> list[Finding]:
    """Values were left out of the analysis (``--allow-quarantine``): the report must say so."""
    if not n_quarantined:
        return []
    return [Finding("quarantine", "high", {"k": int(n_quarantined)}, {}, ("tab:quality",))]


def derive(evidence: dict, top_n: int = config.TOP_N) -> list[Finding]:
    """Run every rule whose evidence is present in ``evidence`` and sort by severity.

    Parameters
    ----------
    evidence : dict
        Keys (any subset): ``uncertainty``, ``items``, ``system``, ``effective_weights``,
        ``favour``, ``fairness``, ``peer``, ``ranking``, ``persistence``, ``integrity``
        (DataFrames) and ``n_quarantined`` (int).

    Returns
    -------
    list of Finding
        High before medium before low; within a severity, in rule order.
    """
    e = evidence
    found: list[Finding] = []
    found += rule_quarantine(int(e.get("n_quarantined", 0) or 0))
    found += rule_winner_stability(e.get("uncertainty"), top_n=top_n)
    found += rule_group_favour(e.get("favour"), e.get("fairness"))
    found += rule_ceiling(e.get("system"))
    found += rule_flat_items(e.get("items"))
    found += rule_effective_weights(e.get("effective_weights"))
    found += rule_close_cut(e.get("ranking"), top_n=top_n)
    found += rule_peer_groups(e.get("peer"))
    found += rule_integrity(e.get("integrity"))
    found += rule_persistence(e.get("persistence"))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(found, key=lambda f: order.get(f.severity, 9))


def examined(evidence: dict, found: list[Finding], top_n: int = config.TOP_N) -> list[Finding]:
    """What the rules looked at and found unremarkable, with the numbers that show it.

    For every rule whose evidence is present and that did not fire, one record of kind
    ``"ok"`` (severity ``"none"``) whose text (``rep_ok_<rule>``) states what was examined,
    the observed numbers and the threshold, e.g. "every item's sd is at least 5 % of its
    maximum (lowest: I06, 7.0 %)". Uses the same thresholds as :func:`derive`.

    Returns
    -------
    list of Finding
        In rule order; empty when every rule fired or no evidence is present.
    """
    e = evidence
    fired = {f.rule for f in found}
    out: list[Finding] = []

    def ok(rule, values, names=None, evidence=(), variant=""):
        out.append(Finding(rule, "none", values, names or {}, evidence, variant=variant, kind="ok"))

    unc = e.get("uncertainty")
    if "winner_stability" not in fired and unc is not None and len(unc) and "p_winner" in unc:
        win = unc.loc[unc["nominal_rank"] <= top_n]
        if len(win):
            ok("winner_stability", {"n": int(len(win)), "p_min": float(win["p_winner"].min()), "threshold": 0.8}, evidence=("tab:uncertainty",))
    fav, fair = e.get("favour"), e.get("fairness")
    if "group_favour" not in fired and fav is not None and len(fav):
        i = fav["p_value"].idxmin()
        vals = {"m": int(len(fav)), "p_min": float(fav.loc[i, "p_value"]), "alpha_m": 0.05 / len(fav), "min_places": MIN_PLACES}
        names = {"group": (str(fav.loc[i, "by"]), [fav.loc[i, "group"]])}
        variant = ""
        if fair is not None and len(fair) and {"attribute", "group", "mean_advantage", "p_holm"} <= set(fair.columns):
            sig = fair.loc[(fair["p_holm"] < 0.05) & (fair["mean_advantage"] > 0)].sort_values("p_holm")
            if len(sig):  # significant in the weights chapter, but less than MIN_PLACES on average
                variant = "small"
                vals.update(k_sig=int(len(sig)), adv_max=float(sig["mean_advantage"].max()), p_holm_min=float(sig["p_holm"].min()))
                names["sig"] = ("group", [f"{a}:{g}" for a, g in zip(sig["attribute"], sig["group"])])
        ok("group_favour", vals, names, ("tab:favour", "tab:fairness"), variant)
    system = e.get("system")
    if "ceiling" not in fired and system is not None and len(system) >= 4 and _ceiling_testable(ceiling_tests(system), 0.05):
        s = system.sort_values("year")  # (too few years for significance to be reachable: no "ok" claim)
        res = ceiling_tests(s)
        a, b = s.iloc[0], s.iloc[-1]
        ok("ceiling", {"first": int(a["year"]), "last": int(b["year"]), "sd_first": float(a["sd"]), "sd_last": float(b["sd"]), "p_sd": res["sd"][1],
                       "ceil_first": float(a["share_ceiling"]), "ceil_last": float(b["share_ceiling"]), "p_ceil": res["share_ceiling"][1]},
           evidence=("fig:system", "tab:system"), variant="flat" if np.isclose(a["share_ceiling"], b["share_ceiling"]) else "")
    items = e.get("items")
    if "flat_items" not in fired and items is not None and len(items):
        lo, full = items.loc[items["sd_rel"].idxmin()], items.loc[items["share_full"].idxmax()]
        ok("flat_items", {"n": int(len(items)), "sd_min": float(lo["sd_rel"]), "full_max": float(full["share_full"]), "sd_rel_max": 0.05, "full_share_min": 0.8},
           {"item_lo": ("item", [lo["item_id"]]), "item_full": ("item", [full["item_id"]])}, ("tab:items",),
           variant="" if float(full["share_full"]) > 0 else "no_full")
    ew = e.get("effective_weights")
    if not ({"weights_low", "weights_high"} & fired) and ew is not None and len(ew) and ew["ratio"].notna().all():
        lo, hi = ew.loc[ew["ratio"].idxmin()], ew.loc[ew["ratio"].idxmax()]
        ok("weights", {"lo": float(lo["ratio"]), "hi": float(hi["ratio"]), "low": 0.5, "high": 1.5, "n": int(len(ew))},
           {"cat_lo": ("category", [lo["category"]]), "cat_hi": ("category", [hi["category"]])}, ("tab:effective_weights",))
    ranking = e.get("ranking")
    if "close_cut" not in fired and ranking is not None and len(ranking) > top_n:
        cut = float(ranking.loc[ranking["rank"] <= top_n, "total"].min())
        near = int(((ranking["total"] - cut).abs() <= 0.5 + 1e-9).sum())
        ok("close_cut", {"k": near, "cut": cut, "margin": 0.5, "min_units": 3}, evidence=("tab:ranking",))
    peer = e.get("peer")
    if "peer_groups" not in fired and peer is not None and len(peer):
        ok("peer_groups", {"H": float(peer["H"].iloc[0]), "p": float(peer["p_value"].iloc[0]), "k": int(len(peer))}, evidence=("tab:peer",))
    integ = e.get("integrity")
    if "integrity" not in fired and integ is not None and "severity" in integ:
        k_med, k_low = int((integ["severity"] == "medium").sum()), int((integ["severity"] == "low").sum())
        variant = "none" if not (k_med or k_low) else ("medium" if not k_low else ("low" if not k_med else ""))
        ok("integrity", {"k_medium": k_med, "k_low": k_low}, evidence=("tab:integrity",), variant=variant)
    pers = e.get("persistence")
    if "persistence" not in fired and pers is not None and len(pers):
        ok("persistence", {"k": int(pers["always"].sum()), "n": int(len(pers)), "share": float(pers["always"].mean()), "share_min": 0.6})
    return out


def to_frame(found: list[Finding], lang: str = "zh", namer: Callable[[str, object], str] | None = None) -> pd.DataFrame:
    """Findings as a table: ``no``, ``rule``, ``severity``, ``finding``, ``recommendation``, ``evidence``."""
    return pd.DataFrame(
        [
            {
                "no": i + 1,
                "rule": f.rule,
                "severity": f.severity,
                "finding": f.text(lang, namer),
                "recommendation": f.recommendation(lang, namer),
                "evidence": ", ".join(f.evidence),
            }
            for i, f in enumerate(found)
        ],
        columns=["no", "rule", "severity", "finding", "recommendation", "evidence"],
    )
