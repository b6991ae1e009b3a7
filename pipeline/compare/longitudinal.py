"""Across years (纵比): series through renames and merges, quintile transitions, mobility, persistence.

Also :func:`find_units` (units by name, tolerant of spaces and 市) and :func:`pick_examples`.
"""

from __future__ import annotations

import difflib
import re
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config, score
from pipeline.errors import PipelineError


# ---------------------------------------------------------------------------------------------
# vertical
# ---------------------------------------------------------------------------------------------
def lineage(units: pd.DataFrame) -> pd.DataFrame:
    """Follow renames and merges through ``successor_id``.

    A link P → S is a **rename** when S has exactly one predecessor and did not exist before P
    ended (``S.valid_from > P.valid_to``; an empty ``valid_from`` means S existed from the
    start); otherwise it is a **merge** (several predecessors, or P absorbed by a unit that
    already existed), which is never joined into one series.

    Returns
    -------
    DataFrame
        One row per unit: ``unit_id``, ``name``, ``successor_id``, ``link`` (``rename`` /
        ``merge`` / empty: how this unit continues), ``series_id`` (the id under which its
        history is followed: the last id of its chain of renames), ``series_name`` (name of that
        id), ``predecessors`` (``;``-joined ids that continue into this unit), ``break_kind``
        (``rename`` / ``merge`` / empty: how this unit began).
    """
    u = units.drop_duplicates("unit_id").copy()
    ids = u["unit_id"].astype(str)
    succ = u["successor_id"].astype("string").str.strip()
    succ = succ.where(succ.notna() & (succ != "") & (succ != ids.astype("string")))
    u["successor_id"] = succ.astype(object).where(succ.notna(), None)
    n_pred = succ.value_counts()
    vf = pd.to_numeric(u.get("valid_from"), errors="coerce") if "valid_from" in u else pd.Series(np.nan, index=u.index)
    vt = pd.to_numeric(u.get("valid_to"), errors="coerce") if "valid_to" in u else pd.Series(np.nan, index=u.index)
    start = pd.Series(vf.to_numpy(), index=ids.to_numpy())
    s_start = succ.map(start)
    known = succ.isin(set(ids))
    # an empty valid_from means "since the start": such a successor existed before P ended
    existed = known & vt.notna() & (s_start.isna() | (s_start <= vt))
    single = succ.map(n_pred).fillna(0).eq(1)
    link = np.where(succ.isna(), "", np.where(single & ~existed, "rename", "merge"))
    u["link"] = link
    parent = pd.Series(succ.where(link == "rename").to_numpy(), index=ids.to_numpy()).dropna()
    series = pd.Series(ids.to_numpy(), index=ids.to_numpy())
    for _ in range(len(u) + 1):
        nxt = series.map(parent).fillna(series)
        if nxt.equals(series):
            break
        series = nxt
    else:  # pragma: no cover - a cycle of renames
        raise PipelineError("units.csv: the successor_id links form a cycle")
    u["series_id"] = series.to_numpy()
    names = pd.Series(u["name"].to_numpy(), index=ids.to_numpy())
    u["series_name"] = u["series_id"].map(names).fillna(u["name"])
    preds = pd.Series(ids.to_numpy(), index=ids.to_numpy()).groupby(succ.to_numpy()).agg(lambda s: ";".join(sorted(s)))
    u["predecessors"] = ids.map(preds).fillna("")
    kinds = pd.Series(link, index=ids.to_numpy())
    first_kind = pd.Series(succ.to_numpy(), index=ids.to_numpy()).dropna()
    begin = pd.Series(kinds.loc[first_kind.index].to_numpy(), index=first_kind.to_numpy()).groupby(level=0).agg(
        lambda s: "merge" if (s == "merge").any() else "rename"
    )
    u["break_kind"] = ids.map(begin).fillna("")
    cols = ["unit_id", "name", "successor_id", "link", "series_id", "series_name", "predecessors", "break_kind"]
    return u[cols].reset_index(drop=True)


def vertical(totals: pd.DataFrame, units: pd.DataFrame, years: tuple[int, int] | None = None, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Each unit over the years: % of max, rank, percentile, z-score and year-over-year change.

    Parameters
    ----------
    totals : DataFrame
        The ``totals`` table.
    units : DataFrame
        The ``units`` registry (``successor_id`` links renames and merges, see :func:`lineage`).
    years : (first, last), optional
        Span of years (default: all).
    top_n : int
        Winners: rank ≤ top_n.

    Returns
    -------
    DataFrame
        One row per year and unit: ``year``, ``series_id``, ``series_name``, ``unit_id``,
        ``name`` (the unit's own name), ``total``, ``pct_of_max``, ``rank``, ``n_units``,
        ``percentile`` (percentile rank, 100 = best), ``z`` (within-year z-score of total),
        ``quintile`` (1 = top fifth), ``is_winner``; the change since the series' previous
        observed year ``prev_year``: ``d_pct``, ``d_rank`` (previous rank − rank: positive =
        moved up), ``d_percentile``, ``d_z``; ``break`` (True on the first row after a
        rename or merge), ``break_kind`` (``rename`` / ``merge`` / empty), ``predecessors``
        (ids that continue into this row's unit at a break). Changes across a rename are
        computed (same organisation, new name) and marked; across a merge they are NaN.
    """
    t = totals
    if years is not None:
        t = t.loc[t["year"].between(int(years[0]), int(years[1]))]
        if t.empty:
            raise PipelineError(f"vertical: no data in {years[0]}–{years[1]}")
    t = t[["year", "unit_id", "total", "pct_of_max", "rank"]].copy()
    g = t.groupby("year")["total"]
    t["n_units"] = g.transform("count").astype("int64")
    t["percentile"] = 100.0 * (g.rank(method="average") - 0.5) / t["n_units"]
    t["z"] = (t["total"] - g.transform("mean")) / g.transform("std")
    t["quintile"] = (1 + np.floor(5 * (t["rank"] - 1) / t["n_units"])).astype("int64")
    t["is_winner"] = score.winners(t["rank"].to_numpy(), top_n)
    lin = lineage(units)
    unknown = sorted(set(t["unit_id"]) - set(lin["unit_id"]))
    if unknown:
        raise PipelineError(f"vertical: unit(s) {', '.join(unknown[:5])} of the totals are not in the units table")
    t = t.merge(lin[["unit_id", "name", "series_id", "series_name", "predecessors", "break_kind"]], on="unit_id", how="left")
    t = t.sort_values(["series_id", "year"], kind="stable").reset_index(drop=True)
    same = t["series_id"].eq(t["series_id"].shift())
    prev = t.shift().where(same)
    renamed = same & t["unit_id"].ne(prev["unit_id"])
    # a merge successor breaks in its first year after its predecessors' last observed year
    last_seen = t.groupby("unit_id")["year"].max()
    pred_lists = t["predecessors"].where(t["break_kind"] == "merge", "")
    pred_last = pred_lists.str.split(";").map(lambda ids: max((last_seen.get(i, -1) for i in ids if i), default=-1))
    cand = (t["break_kind"] == "merge") & (t["year"] > pred_last)
    merged = cand & t["year"].eq(t["year"].where(cand).groupby(t["unit_id"]).transform("min"))
    t["break"] = renamed | merged
    t["break_kind"] = np.where(merged, "merge", np.where(renamed, "rename", ""))
    t["predecessors"] = np.where(t["break"], t["predecessors"], "")
    keep = same & ~merged
    t["prev_year"] = prev["year"].where(keep).astype("Int64")
    t["d_pct"] = (t["pct_of_max"] - prev["pct_of_max"]).where(keep)
    t["d_rank"] = (prev["rank"] - t["rank"]).where(keep)
    t["d_percentile"] = (t["percentile"] - prev["percentile"]).where(keep)
    t["d_z"] = (t["z"] - prev["z"]).where(keep)
    cols = [
        "year", "series_id", "series_name", "unit_id", "name", "total", "pct_of_max", "rank", "n_units",
        "percentile", "z", "quintile", "is_winner", "prev_year", "d_pct", "d_rank", "d_percentile", "d_z",
        "break", "break_kind", "predecessors",
    ]
    return t[cols].sort_values(["year", "rank", "unit_id"], kind="stable").reset_index(drop=True)


def _pairs(vertical_df: pd.DataFrame, year_from: int, year_to: int) -> tuple[pd.DataFrame, int]:
    """Rows of the same series in both years (merge breaks excluded) and the number unmatched."""
    a = vertical_df.loc[vertical_df["year"] == year_from]
    b = vertical_df.loc[vertical_df["year"] == year_to]
    if a.empty or b.empty:
        raise PipelineError(f"transitions: no data for {year_from if a.empty else year_to}")
    m = a.merge(b, on="series_id", suffixes=("_from", "_to"))
    m = m.loc[m["break_kind_to"] != "merge"]
    unmatched = len(a) + len(b) - 2 * len(m)
    return m, int(unmatched)


def transitions(vertical_df: pd.DataFrame, year_from: int, year_to: int, k: int = 5) -> pd.DataFrame:
    """Rank-transition matrix between two years (quantile groups by rank, 1 = top).

    Units are matched through ``series_id`` (renames followed); a merge successor is not
    matched to any predecessor.

    Returns
    -------
    DataFrame
        All ``k × k`` cells: ``year_from``, ``year_to``, ``q_from``, ``q_to``, ``count``,
        ``share`` (row share: P(q_to | q_from), NaN for an empty row).
    """
    m, _ = _pairs(vertical_df, year_from, year_to)
    qa = (1 + np.floor(k * (m["rank_from"] - 1) / m["n_units_from"])).astype(int)
    qb = (1 + np.floor(k * (m["rank_to"] - 1) / m["n_units_to"])).astype(int)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (qa.to_numpy() - 1, qb.to_numpy() - 1), 1)
    rows = counts.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(rows > 0, counts / rows, np.nan)
    qf, qt = np.meshgrid(np.arange(1, k + 1), np.arange(1, k + 1), indexing="ij")
    return pd.DataFrame(
        {"year_from": year_from, "year_to": year_to, "q_from": qf.ravel(), "q_to": qt.ravel(), "count": counts.ravel(), "share": share.ravel()}
    )


def last_transition(vertical_df: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """:func:`transitions` between the last two observed years (empty frame, same columns,
    when the span holds fewer than two years)."""
    years = sorted(vertical_df["year"].unique())
    if len(years) < 2:
        return pd.DataFrame(columns=["year_from", "year_to", "q_from", "q_to", "count", "share"])
    return transitions(vertical_df, int(years[-2]), int(years[-1]), k)


def shorrocks(p) -> float:
    """Shorrocks (1978) mobility index :math:`(k - \\operatorname{tr} P)/(k - 1)` of a k × k
    row-stochastic transition matrix (or of the long output of :func:`transitions`)."""
    if isinstance(p, pd.DataFrame):
        p = p.pivot(index="q_from", columns="q_to", values="share").to_numpy(dtype=float)
    p = np.asarray(p, dtype=float)
    if p.ndim != 2 or p.shape[0] != p.shape[1] or p.shape[0] < 2:
        raise PipelineError("shorrocks: need a square transition matrix of size ≥ 2")
    k = p.shape[0]
    return float((k - np.trace(np.nan_to_num(p, nan=0.0))) / (k - 1))


def mobility(vertical_df: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Mobility between each pair of consecutive years.

    Returns
    -------
    DataFrame
        ``year_from``, ``year_to``, ``n_pairs`` (series observed in both years), ``n_unmatched``
        (rows of either year without a partner: units that began, ended or merged), ``shorrocks`` (of the k-quantile matrix), ``stay_share``
        (share of units staying in their quantile group), ``spearman`` (rank correlation of the
        two years' totals), ``mean_abs_d_rank``, ``winners_kept`` (winners of year_from who win
        again), ``winners_from``.
    """
    years = sorted(vertical_df["year"].unique())
    rows = []
    for a, b in zip(years[:-1], years[1:]):
        m, nb = _pairs(vertical_df, a, b)
        tr = transitions(vertical_df, a, b, k)
        diag = tr.loc[tr["q_from"] == tr["q_to"], "count"].sum()
        rows.append(
            {
                "year_from": a,
                "year_to": b,
                "n_pairs": len(m),
                "n_unmatched": nb,
                "shorrocks": shorrocks(tr),
                "stay_share": diag / len(m) if len(m) else np.nan,
                "spearman": stats.spearmanr(m["total_from"], m["total_to"]).statistic if len(m) > 2 else np.nan,
                "mean_abs_d_rank": float(np.mean(np.abs(m["rank_from"] - m["rank_to"]))) if len(m) else np.nan,
                "winners_kept": int((m["is_winner_from"] & m["is_winner_to"]).sum()),
                "winners_from": int(m["is_winner_from"].sum()),
            }
        )
    return pd.DataFrame(rows, columns=["year_from", "year_to", "n_pairs", "n_unmatched", "shorrocks", "stay_share", "spearman", "mean_abs_d_rank", "winners_kept", "winners_from"])


def persistence(vertical_df: pd.DataFrame) -> pd.DataFrame:
    """Winner persistence of each series: years in the top group and the longest run.

    A run is broken by a year without the win or a year without an observation.

    Returns
    -------
    DataFrame
        One row per series: ``series_id``, ``series_name``, ``n_years`` (observed),
        ``years_winner``, ``share_winner``, ``longest_run`` (consecutive winning years),
        ``first_year``, ``last_year``, ``winner_last_year`` (won in the last observed year of
        the whole table), ``winner_years`` (``;``-joined years).
    """
    v = vertical_df.sort_values(["series_id", "year"], kind="stable").reset_index(drop=True)
    win = v["is_winner"].astype(bool)
    cont = v["series_id"].eq(v["series_id"].shift()) & v["year"].eq(v["year"].shift() + 1) & win.shift(fill_value=False) & win
    run_id = (~cont).cumsum()
    run_len = win.groupby(run_id).transform("sum").where(win, 0)
    last = v["year"].max()
    g = v.groupby("series_id", sort=True)
    out = g.agg(
        series_name=("series_name", "last"),
        n_years=("year", "size"),
        years_winner=("is_winner", "sum"),
        first_year=("year", "min"),
        last_year=("year", "max"),
    )
    out["longest_run"] = run_len.groupby(v["series_id"]).max()
    out["winner_last_year"] = v.loc[v["year"] == last].groupby("series_id")["is_winner"].any().reindex(out.index, fill_value=False)
    out["winner_years"] = v.loc[v["is_winner"]].groupby("series_id")["year"].agg(lambda s: ";".join(map(str, s))).reindex(out.index).fillna("")
    out["share_winner"] = out["years_winner"] / out["n_years"]
    out = out.reset_index()
    out["years_winner"] = out["years_winner"].astype("int64")
    out["longest_run"] = out["longest_run"].astype("int64")
    cols = ["series_id", "series_name", "n_years", "years_winner", "share_winner", "longest_run", "first_year", "last_year", "winner_last_year", "winner_years"]
    return out[cols].sort_values(["years_winner", "longest_run", "series_id"], ascending=[False, False, True], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# finding units by name
# ---------------------------------------------------------------------------------------------
def _norm(name: str) -> str:
    s = re.sub(r"[\s\u3000]+", "", str(name))
    s = s.replace("（", "(").replace("）", ")")
    return s[1:] if s.startswith("市") else s


def find_units(units: pd.DataFrame, selectors: str | Iterable[str]) -> list[str]:
    """Unit ids for ids, names, former names or short names (aliases), in the order given.

    Matching ignores spaces, bracket width and a leading "市". An unknown selector raises a
    :class:`PipelineError` suggesting the closest registry names.
    """
    if isinstance(selectors, str):
        selectors = [selectors]
    u = units.drop_duplicates("unit_id")
    lookup: dict[str, str] = {}
    for uid, name, aliases in zip(u["unit_id"].astype(str), u["name"].astype(str), u["aliases"] if "aliases" in u else [None] * len(u)):
        for key in [uid, name] + ([a for a in str(aliases).split(";") if a.strip()] if isinstance(aliases, str) else []):
            lookup.setdefault(key.strip(), uid)
            lookup.setdefault(_norm(key), uid)
    out = []
    for sel in selectors:
        sel = str(sel)
        uid = lookup.get(sel.strip()) or lookup.get(_norm(sel))
        if uid is None:
            close = difflib.get_close_matches(sel, list(u["name"].astype(str)), n=3, cutoff=0.3)
            hint = f" — did you mean {', '.join(close)}?" if close else ""
            raise PipelineError(f"unknown unit {sel!r}{hint}")
        out.append(uid)
    return out


def pick_examples(vertical_df: pd.DataFrame, n: int = 4) -> list[str]:
    """Series worth a trajectory chart when the analyst names none (deterministic).

    In this order: series with a rename or merge break, the most persistent winner, the
    series with the largest rise in percentile from first to last observed year, and the one
    with the largest fall; at most ``n`` distinct ``series_id`` values.
    """
    v = vertical_df.sort_values(["series_id", "year"])
    picks = list(v.loc[v["break"], "series_id"].drop_duplicates())
    pers = persistence(v)
    if len(pers):
        picks.append(pers["series_id"].iloc[0])
    g = v.groupby("series_id")["percentile"]
    change = (g.last() - g.first()).loc[v.groupby("series_id")["year"].size() > 1]
    if len(change):
        picks += [change.idxmax(), change.idxmin()]
    return list(dict.fromkeys(picks))[:n]
