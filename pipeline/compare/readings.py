"""Sentences of reading, one per figure, from the numbers via ``pipeline/labels/compare.yaml``."""

from __future__ import annotations

from typing import Iterable

import pandas as pd

from pipeline.compare.horizontal import _one_year, describe
from pipeline.compare.longitudinal import shorrocks


# ---------------------------------------------------------------------------------------------
# sentences of reading (one per figure), from the numbers via pipeline/labels/compare.yaml
# ---------------------------------------------------------------------------------------------
def _tr(key: str, default: str) -> str:
    from pipeline.i18n import t

    try:
        return t(key)
    except KeyError:
        return default


def read_distribution(totals: pd.DataFrame, year: int) -> str:
    """One sentence on the year's distribution of ``pct_of_max`` (see :func:`describe`)."""
    from pipeline.i18n import t

    d = describe(_one_year(totals, year, "read_distribution"), value="pct_of_max").iloc[0]
    fmt = {k: float(d[k]) for k in ("mean", "median", "sd", "cv", "gini", "min", "max")}
    return t("cmp_read_distribution", year=int(year), n=int(d["n"]), **fmt)


def read_ranking(rank_table: pd.DataFrame, year: int) -> str:
    """One sentence on the first place, the winning cut and the closest non-winner."""
    from pipeline.i18n import t

    r = _one_year(rank_table, year, "read_ranking").sort_values(["rank", "unit_id"])
    name = r["name"].fillna(r["unit_id"]).astype(str)
    cut = float(r["cut"].iloc[0])
    losers = r.loc[~r["is_winner"]]
    if not len(losers):  # every unit wins (n ≤ top_n): no unit missed the cut
        return t("nc_read_ranking_all_win", first=name.iloc[0], top=float(r["total"].iloc[0]), cut=cut, n_win=int(r["is_winner"].sum()))
    nxt = losers.iloc[0]
    return t(
        "cmp_read_ranking",
        first=name.iloc[0],
        top=float(r["total"].iloc[0]),
        cut=cut,
        n_win=int(r["is_winner"].sum()),
        next_rank=int(nxt["rank"]),
        next_name=str(nxt["name"] if pd.notna(nxt["name"]) else nxt["unit_id"]),
        gap=float(cut - nxt["total"]),
        n_close=int((r["gap_to_cut"].abs() <= 1.0).sum()),
    )


def read_radar(means: pd.DataFrame, year: int) -> str:
    """One sentence naming the strongest and weakest of the six dimensions (all-unit mean,
    the table of :func:`pipeline.compare.profile_means`)."""
    from pipeline.i18n import t

    p = _one_year(means, year, "read_radar")
    m = p.loc[p["group"] == "dimension"].set_index("key")["mean_pct"]
    return t("cmp_read_radar", best=t(f"dim_{m.idxmax()}"), best_pct=float(m.max()), worst=t(f"dim_{m.idxmin()}"), worst_pct=float(m.min()))


def read_peer(test: pd.DataFrame, groups: pd.DataFrame, year: int, alpha: float = 0.05) -> str:
    """One sentence on the Kruskal–Wallis test across peer groups (:func:`peer_test`)."""
    from pipeline.i18n import t

    row = _one_year(test, year, "read_peer").iloc[0]
    by = str(row["by"])
    g = _one_year(groups, year, "read_peer").sort_values("mean", ascending=False).iloc[0]
    fmt = {"by": t(by) if by in ("type", "sector") else by, "h": float(row["h"]), "p": float(row["p"]), "eps": float(row["epsilon_sq"])}
    if not row["p"] == row["p"]:  # NaN: fewer than two groups, or no spread to rank
        return t("nc_read_peer", by=fmt["by"])
    if row["p"] < alpha:
        return t("cmp_read_peer_sig", best=_tr(f"{by}_{g['group']}", str(g["group"])), best_mean=float(g["mean"]), **fmt)
    return t("cmp_read_peer_ns", **fmt)


def read_items(disc: pd.DataFrame, alphas: pd.DataFrame, year: int) -> str:
    """One sentence on item discrimination (:func:`item_discrimination`, :func:`category_alpha`)."""
    from pipeline.i18n import t

    d = _one_year(disc, year, "read_items")
    a = _one_year(alphas, year, "read_items")
    low = d.sort_values("sd_pct").iloc[0]
    a_all = float(a.loc[a["category"] == "all", "alpha"].iloc[0])
    return t(
        "cmp_read_items" if a_all == a_all else "nc_read_items_alpha",
        n_items=len(d),
        n_ceiling=int((d["flag"] == "ceiling").sum()),
        n_weak=int((d["r_rest"] < 0.2).sum()),
        alpha=a_all,
        low_item=f"{low['item_id']} {low['item_name']}",
        low_sd=float(low["sd_pct"]),
    )


def read_heatmap(ui: pd.DataFrame, year: int) -> str:
    """One sentence naming the item with the lowest median share of its maximum."""
    from pipeline.i18n import t

    d = _one_year(ui, year, "read_heatmap")
    med = d.groupby(["item_id", "item_name"])["pct"].median().sort_values()
    (iid, iname), val = med.index[0], float(med.iloc[0])
    return t("cmp_read_heatmap", low_item=f"{iid} {iname}", low_pct=val)


def read_breaks(vertical_df: pd.DataFrame) -> str:
    """One sentence listing the renames and merges found in the span, and how they are handled."""
    from pipeline.i18n import current, t

    b = vertical_df.loc[vertical_df["break"]].sort_values(["year", "unit_id"])
    if b.empty:
        return t("cmp_read_breaks_none")
    name_of = dict(zip(vertical_df["unit_id"], vertical_df["name"]))
    sep = "；" if current() == "zh" else "; "
    join = "、" if current() == "zh" else " and "
    detail = sep.join(
        t(f"cmp_read_break_{r['break_kind']}", year=int(r["year"]), old=join.join(name_of.get(p, p) for p in str(r["predecessors"]).split(";") if p), new=r["name"])
        for _, r in b.iterrows()
    )
    return t("cmp_read_breaks", n_rename=int((b["break_kind"] == "rename").sum()), n_merge=int((b["break_kind"] == "merge").sum()), detail=detail)


def read_trajectories(vertical_df: pd.DataFrame, series_ids: Iterable[str]) -> str:
    """One sentence on the first and last rank of each chosen series."""
    from pipeline.i18n import current, t

    v = vertical_df.loc[vertical_df["series_id"].isin(list(series_ids))].sort_values("year")
    sep = "；" if current() == "zh" else "; "
    moves, names = [], []
    for sid in dict.fromkeys(series_ids):
        d = v.loc[v["series_id"] == sid]
        if d.empty:
            continue
        names.append(str(d["series_name"].iloc[-1]))
        moves.append(t("cmp_read_move", name=names[-1], r0=int(d["rank"].iloc[0]), r1=int(d["rank"].iloc[-1])))
    end = "。" if current() == "zh" else "."
    return t("cmp_read_trajectories", first=int(v["year"].min()), last=int(v["year"].max()), names=("、" if current() == "zh" else ", ").join(names), moves=sep.join(moves) + end)


def read_transition(trans: pd.DataFrame) -> str:
    """One sentence on a transition matrix: share staying in their quintile and Shorrocks index."""
    from pipeline.i18n import t

    if trans.empty:
        return t("cmp_read_too_few_years")
    n = trans["count"].sum()
    stay = trans.loc[trans["q_from"] == trans["q_to"], "count"].sum() / n if n else float("nan")
    return t("cmp_read_transition", year_from=int(trans["year_from"].iloc[0]), year_to=int(trans["year_to"].iloc[0]), stay=float(stay), m=shorrocks(trans))


def read_mobility(mob: pd.DataFrame) -> str:
    """One sentence on mobility between consecutive years (:func:`mobility`)."""
    from pipeline.i18n import t

    if mob.empty:
        return t("cmp_read_too_few_years")
    kept = (mob["winners_kept"] / mob["winners_from"].where(mob["winners_from"] > 0)).mean()
    return t("cmp_read_mobility", mean=float(mob["shorrocks"].mean()), rho=float(mob["spearman"].mean()), kept=float(kept))


def read_persistence(pers: pd.DataFrame, vertical_df: pd.DataFrame) -> str:
    """One sentence on winner persistence (:func:`persistence`)."""
    from pipeline.i18n import t

    first, last = int(vertical_df["year"].min()), int(vertical_df["year"].max())
    n_years = int(vertical_df["year"].nunique())
    top = pers.sort_values(["longest_run", "years_winner"], ascending=False).iloc[0]
    return t(
        "cmp_read_persistence",
        first=first,
        last=last,
        n_years=n_years,
        n_ever=int((pers["years_winner"] > 0).sum()),
        n_always=int((pers["years_winner"] == n_years).sum()),
        name=str(top["series_name"]),
        run=int(top["longest_run"]),
    )
