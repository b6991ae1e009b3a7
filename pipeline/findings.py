"""Findings and recommendations derived from the numbers (报告 五、问题与不足 / 六、对策建议).

Two layers, both pure functions of DataFrames (no I/O, no hidden state):

1. **Evidence** is the chapters' recorded tables (:mod:`pipeline.notebooks`), never a second
   computation: item discrimination (:func:`pipeline.compare.item_discrimination`), the system
   by year (:func:`pipeline.trend.system`), winner persistence (:func:`pipeline.compare.persistence`),
   the Kruskal–Wallis tests of peer groups (:func:`pipeline.compare.peer_test`), the weight
   uncertainty, effective weights and fairness tests of the weights chapter
   (:mod:`pipeline.sensitivity`). :func:`peer_evidence` and :func:`always_winners` only
   select and join rows of those tables.
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
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.i18n import current, t
from pipeline.integrity.base import SEVERITIES  # one definition of the severity levels

__all__ = [
    "Finding",
    "peer_evidence",
    "always_winners",
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

    def _fmt(self, namer: Callable[[str, object], str] | None) -> dict:
        namer = namer or (lambda kind, v: str(v))
        sep = "、" if current() == "zh" else ", "
        out = plurals(self.values)
        for key, (kind, ids) in self.names.items():
            out[key] = sep.join(namer(kind, v) for v in ids)
            # "… and others" only when the list is cut short (values[n_<key>] = the full count)
            more = int(self.values.get(f"n_{key}", len(ids))) > len(ids)
            out[f"{key}_etc"] = ("等" if current() == "zh" else " and others") if more else ""
        return out

    def text(self, namer: Callable[[str, object], str] | None = None) -> str:
        """The finding as one sentence in the active language (names via ``namer(kind, id)``)."""
        prefix = "rep_ok_" if self.kind == "ok" else "rep_find_"
        key = f"{prefix}{self.rule}" + (f"_{self.variant}" if self.variant else "")
        return t(key, **self._fmt(namer))

    def recommendation(self, namer: Callable[[str, object], str] | None = None) -> str:
        """The recommendation tied to this finding, in the active language."""
        return t(f"rep_rec_{self.rule}", **self._fmt(namer))


# --------------------------------------------------------------------------------------------
# Evidence tables
# --------------------------------------------------------------------------------------------


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


def rule_flat_items(items: pd.DataFrame, full_share_min: float = 0.8, r_min: float = 0.2) -> list[Finding]:
    """Items that do not discriminate between units: they carry (almost) no weight in the ranking.

    ``items`` is :func:`pipeline.compare.item_discrimination` (the horizontal chapter's
    ``h_items``), whose ``flag`` column marks an item ``ceiling`` (at least ``full_share_min``
    of the units at full marks) or ``weak`` (corrected item–total correlation ``r_rest`` <
    ``r_min``, Ebel & Frisbie 1991). The rule reads that flag, so the chapter and the findings
    never disagree about an item.
    """
    if items is None or not len(items):
        return []
    flat = items.loc[items["flag"].isin(["ceiling", "weak"])]
    if not len(flat):
        return []
    pts = float(flat["max_points"].sum())
    return [
        Finding(
            "flat_items",
            "high" if pts >= 20 else "medium",
            {"k": int(len(flat)), "points": pts, "r_min": r_min, "full_share_min": full_share_min, "n_items": int(len(flat))},
            {"items": ("item", flat.sort_values(["r_rest", "item_id"])["item_id"].head(6).tolist())},
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

    ``system`` is :func:`pipeline.trend.system`. The Mann–Kendall test of :func:`ceiling_tests` (the
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


def rule_group_favour(fairness: pd.DataFrame | None, alpha: float = 0.05, min_places: float = MIN_PLACES) -> list[Finding]:
    """The nominal scheme favours a group (type, sector or size) by a material margin.

    ``fairness`` is the weights chapter's ``sens_fairness_tests`` (nominal rank vs the rank
    under plausible weights, two-sided permutation test, Holm within the attribute). A group
    is named when ``p_holm < alpha`` and it gains at least ``min_places`` rank places on
    average (``mean_advantage``): a significant advantage of a fraction of a place changes no
    unit's standing and is reported by :func:`examined` instead.
    """
    out: list[Finding] = []
    if fairness is None or not len(fairness):
        return out
    hit = fairness.loc[(fairness["p_holm"] < alpha) & (fairness["mean_advantage"] >= min_places)].sort_values(["p_holm", "attribute", "group"])
    for r in hit.to_dict("records"):
        m = int((fairness["attribute"] == r["attribute"]).sum())
        out.append(Finding("group_favour", "high", {"shift": float(r["mean_advantage"]), "p": float(r["p_holm"]), "n": int(r.get("n_units", 0)), "m": m},
                           {"group": (str(r["attribute"]), [r["group"]])}, ("tab:fairness",)))
    return out


def peer_evidence(tests: pd.DataFrame, groups: pd.DataFrame, by: str = "sector") -> pd.DataFrame:
    """The peer-group evidence of :func:`rule_peer_groups`: the groups of ``by`` (from
    :func:`pipeline.compare.peer_groups`) with their Kruskal–Wallis test (from
    :func:`pipeline.compare.peer_test`) on every row.

    Returns
    -------
    DataFrame
        ``by``, ``group``, ``n``, ``median`` (of % of max), ``H``, ``p_value``, ``epsilon2``;
        empty when ``by`` was not tested.
    """
    cols = ["by", "group", "n", "median", "H", "p_value", "epsilon2"]
    t_ = tests.loc[tests["by"] == by]
    g = groups.loc[groups["by"] == by]
    if not len(t_) or not len(g):
        return pd.DataFrame(columns=cols)
    r = t_.iloc[-1]
    return g.assign(H=float(r["h"]), p_value=float(r["p"]), epsilon2=float(r["epsilon_sq"]))[cols].reset_index(drop=True)


def always_winners(pers: pd.DataFrame, lookback: int = 3) -> pd.DataFrame:
    """This year's winners and whether each also won in every one of the ``lookback`` previous years.

    ``pers`` is :func:`pipeline.compare.persistence` (the vertical chapter's ``v_persistence``;
    "this year" is its last year). Empty when the table covers fewer than ``lookback``
    previous years.

    Returns
    -------
    DataFrame
        ``series_id``, ``always`` (bool), one row per series that won in the last year.
    """
    if pers is None or not len(pers):
        return pd.DataFrame(columns=["series_id", "always"])
    last = int(pers["last_year"].max())
    if int(pers["first_year"].min()) > last - lookback:
        return pd.DataFrame(columns=["series_id", "always"])
    need = {str(last - i) for i in range(1, lookback + 1)}
    win = pers.loc[pers["winner_last_year"].astype(bool)]
    always = [need <= set(str(v).split(";")) for v in win["winner_years"]]
    return pd.DataFrame({"series_id": win["series_id"].to_numpy(), "always": np.array(always, dtype=bool)})


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
    """Honours entrench: most winners also won in every one of the three previous years.

    ``pers`` is :func:`pipeline.compare.persistence` (read through :func:`always_winners`)."""
    pers = always_winners(pers)
    if not len(pers):
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
        ``fairness``, ``peer``, ``ranking``, ``persistence``, ``integrity`` (chapter record
        tables) and ``n_quarantined`` (int).

    Returns
    -------
    list of Finding
        High before medium before low; within a severity, in rule order.
    """
    e = evidence
    found: list[Finding] = []
    found += rule_quarantine(int(e.get("n_quarantined", 0) or 0))
    found += rule_winner_stability(e.get("uncertainty"), top_n=top_n)
    found += rule_group_favour(e.get("fairness"))
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
    fair = e.get("fairness")
    if "group_favour" not in fired and fair is not None and len(fair):
        i = fair["p_holm"].idxmin()
        vals = {"m": int(len(fair)), "p_min": float(fair.loc[i, "p_holm"]), "alpha": 0.05, "min_places": MIN_PLACES}
        names = {"group": (str(fair.loc[i, "attribute"]), [fair.loc[i, "group"]])}
        variant = ""
        sig = fair.loc[(fair["p_holm"] < 0.05) & (fair["mean_advantage"] > 0)].sort_values("p_holm")
        if len(sig):  # significant, but less than MIN_PLACES on average
            variant = "small"
            vals.update(k_sig=int(len(sig)), adv_max=float(sig["mean_advantage"].max()), p_holm_min=float(sig["p_holm"].min()))
            names["sig"] = ("group", [f"{a}:{g}" for a, g in zip(sig["attribute"], sig["group"])])
        ok("group_favour", vals, names, ("tab:fairness",), variant)
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
        lo, full = items.loc[items["r_rest"].idxmin()], items.loc[items["share_full"].idxmax()]
        ok("flat_items", {"n": int(len(items)), "r_lo": float(lo["r_rest"]), "full_max": float(full["share_full"]), "r_min": 0.2, "full_share_min": 0.8},
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
    pers = always_winners(e.get("persistence"))
    if "persistence" not in fired and len(pers):
        ok("persistence", {"k": int(pers["always"].sum()), "n": int(len(pers)), "share": float(pers["always"].mean()), "share_min": 0.6})
    return out


def to_frame(found: list[Finding], namer: Callable[[str, object], str] | None = None) -> pd.DataFrame:
    """Findings as a table: ``no``, ``rule``, ``severity``, ``finding``, ``recommendation``, ``evidence``."""
    return pd.DataFrame(
        [
            {
                "no": i + 1,
                "rule": f.rule,
                "severity": f.severity,
                "finding": f.text(namer),
                "recommendation": f.recommendation(namer),
                "evidence": ", ".join(f.evidence),
            }
            for i, f in enumerate(found)
        ],
        columns=["no", "rule", "severity", "finding", "recommendation", "evidence"],
    )
