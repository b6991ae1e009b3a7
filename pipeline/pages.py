"""Analysis behind the pages for the secretary: one page per unit and the half-year bulletin.

Every function is pure (tidy frames of SPEC §3 in, a tidy frame or a dict out); the report
(:func:`pipeline.report.write_unit_pages`, :func:`pipeline.report.write_bulletin`) only
renders what these return.

Definitions
-----------
* **Points lost** on an item: ``max_points − points`` for an applicable item (a missing cell
  earns 0 and so loses the whole maximum); not defined (NaN) for a not-applicable item.
* **Year average** / **winners' average** of an item: the mean points of the units (resp. the
  winning units, rank ≤ ``top_n``) to which the item applies; NaN — *not computable* — when
  no such unit exists (e.g. every unit wins, so there is no "others" group, or no winner has
  the item).
* **Cut** (优胜线): the total of the lowest-ranked winner, as in
  :func:`pipeline.compare.ranking` (one computation, reused here). A winner's **margin** is
  its total minus the best total outside the winners; a non-winner **needs** ``cut − total``
  points: a unit reaching the cut's total ties the lowest winner and wins (ties at the cut
  all win, SPEC §3).
* **Recoverable points**: regaining ``d`` raw points on an applicable item raises the total
  by ``d × s`` with ``s = max_total / applicable_max`` under the ``prorate`` NA policy and
  ``s = 1`` under ``zero`` / ``full`` (:func:`pipeline.score.totals`).
* **Half-year (H1) points** come from the monthly sheets (计分 items only; graded items are
  assessed at year end): a monthly row of an applicable item can earn ``max_points / 12``
  (the annual points of a 计分 item are the sum of its 12 monthly values); ``h1_pct`` =
  100 × earned / attainable, per unit and per category. 横比 ranks ``h1_pct`` (competition
  rank, :func:`pipeline.score.rank`); 纵比 compares with the same months of the year before.

"Not computable" is explicit: the dicts carry a ``note`` key (a label key of
``pipeline/labels/pages.yaml`` saying why) and the tables hold NaN, never a made-up value.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from pipeline import compare, config, score

__all__ = ["item_losses", "unit_losses", "gap_to_cut", "half_items", "bulletin_table", "bulletin_tables"]

H1 = tuple(range(1, 7))


# --------------------------------------------------------------------------------------------
# Unit pages
# --------------------------------------------------------------------------------------------
def item_losses(scores: pd.DataFrame, items: pd.DataFrame, totals: pd.DataFrame, year: int, top_n: int = config.TOP_N) -> pd.DataFrame:
    """Points earned and lost by every unit on every item of a year, against the averages.

    Parameters
    ----------
    scores, items, totals : DataFrame
        The processed tables (annual rows ``period == "Y"`` are used).
    year : int
    top_n : int
        Winners: rank ≤ ``top_n`` (:func:`pipeline.compare.ranking`).

    Returns
    -------
    DataFrame
        One row per unit × item: ``unit_id``, ``item_id``, ``item_name``, ``category``,
        ``max_points``, ``status``, ``points`` (NaN if not applicable, 0 if missing),
        ``lost`` = max_points − points, ``year_mean`` and ``winners_mean`` (mean points of the
        applicable units / winners; NaN when none), ``vs_mean`` = points − year_mean,
        ``vs_winners`` = points − winners_mean, ``is_winner``.
    """
    ui = compare.unit_items(scores, items, year)
    win = compare.ranking(totals, year=year, top_n=top_n).set_index("unit_id")["is_winner"]
    ui = ui.assign(is_winner=ui["unit_id"].map(win).fillna(False).astype(bool))
    ui["lost"] = ui["max_points"] - ui["points"]
    ui["year_mean"] = ui.groupby("item_id")["points"].transform("mean")
    ui["winners_mean"] = ui["points"].where(ui["is_winner"]).groupby(ui["item_id"]).transform("mean")
    ui["vs_mean"] = ui["points"] - ui["year_mean"]
    ui["vs_winners"] = ui["points"] - ui["winners_mean"]
    cols = ["unit_id", "item_id", "item_name", "category", "max_points", "status", "points", "lost",
            "year_mean", "winners_mean", "vs_mean", "vs_winners", "is_winner"]
    return ui[cols].reset_index(drop=True)


def unit_losses(losses: pd.DataFrame, unit_id: str) -> pd.DataFrame:
    """One unit's rows of :func:`item_losses`, the items where it lost most first.

    Ties in ``lost`` keep item order; not-applicable items (``lost`` NaN) come last.
    """
    u = losses.loc[losses["unit_id"] == unit_id]
    return u.sort_values(["lost", "item_id"], ascending=[False, True], na_position="last", kind="stable").reset_index(drop=True)


def gap_to_cut(ranking: pd.DataFrame, losses: pd.DataFrame, unit_id: str, na_policy: str = config.NA_POLICY) -> dict:
    """What separates a unit from the winning cut.

    Parameters
    ----------
    ranking : DataFrame
        :func:`pipeline.compare.ranking` of the year (``rank``, ``total``, ``is_winner``,
        ``cut``, ``gap_to_cut``); may be indexed by ``unit_id`` already (many calls).
    losses : DataFrame
        :func:`item_losses` of the same year (all units, or only this unit's rows).
    unit_id : str
    na_policy : {"prorate", "zero", "full"}
        The run's NA policy: how regained raw points move the total (module docstring).

    Returns
    -------
    dict
        ``rank``, ``total``, ``cut``, ``gap`` (total − cut), ``is_winner``; for a winner
        ``margin`` (total − best non-winner total; NaN when every unit wins); for a
        non-winner ``needed`` (cut − total), ``scale`` (total points per raw point),
        ``items`` (ids of the fewest items whose lost points, largest first, would close the
        gap; empty when even all of them would not) and ``recoverable`` (Σ lost × scale).
        ``note`` is None or the label key saying what is not computable:
        ``nc_gap_all_win`` (no non-winner: no margin), ``nc_gap_unreachable`` (the lost points
        cannot close the gap, e.g. a 述职评议 deduction), ``nc_gap_no_applicable`` (no
        applicable item).
    """
    rk = ranking if ranking.index.name == "unit_id" else ranking.set_index("unit_id")
    r = rk.loc[unit_id]
    out = {"rank": int(r["rank"]), "total": float(r["total"]), "cut": float(r["cut"]), "gap": float(r["gap_to_cut"]),
           "is_winner": bool(r["is_winner"]), "margin": np.nan, "needed": 0.0, "scale": np.nan, "items": [],
           "recoverable": np.nan, "note": None}
    if out["is_winner"]:
        below = rk.loc[~rk["is_winner"], "total"]
        if len(below):
            out["margin"] = out["total"] - float(below.max())
        else:
            out["note"] = "nc_gap_all_win"
        return out
    u = unit_losses(losses, unit_id)
    applicable = u.loc[u["status"] != "na", "max_points"].sum()
    if applicable <= 0:
        out["note"] = "nc_gap_no_applicable"
        return out
    scale = float(u["max_points"].sum() / applicable) if na_policy == "prorate" else 1.0
    lost = u["lost"].dropna().to_numpy(float) * scale
    out.update(needed=-out["gap"], scale=scale, recoverable=float(lost.sum()))
    k = int(np.searchsorted(np.cumsum(lost), out["needed"] - 1e-9)) + 1  # fewest items (largest losses first)
    if k <= len(lost) and out["needed"] > 0:
        out["items"] = u["item_id"].iloc[:k].tolist()
    else:
        out["note"] = "nc_gap_unreachable"
    return out


# --------------------------------------------------------------------------------------------
# Half-year bulletin (半年通报)
# --------------------------------------------------------------------------------------------
def half_items(scores: pd.DataFrame, items: pd.DataFrame, year: int, months: Iterable[int] = H1) -> pd.DataFrame:
    """Points earned and attainable per unit × item over some months of a year.

    Returns
    -------
    DataFrame
        ``unit_id``, ``item_id``, ``category``, ``months`` (monthly rows), ``earned`` (points of
        ``ok`` rows), ``attainable`` (``max_points / 12`` per row of an applicable item);
        empty when the year has no monthly rows for these months.
    """
    per = [str(m) for m in months]
    cols = ["unit_id", "item_id", "category", "months", "earned", "attainable"]
    s = scores.loc[(scores["year"] == year) & scores["period"].astype(str).isin(per)]
    if not len(s):
        return pd.DataFrame(columns=cols)
    it = items.loc[items["year"] == year]
    s = s.merge(it[["item_id", "max_points"]].assign(category=it["category"] if "category" in it else pd.NA), on="item_id", how="left")
    s = s.assign(earned=s["points"].astype(float).where(s["status"] == "ok", 0.0).fillna(0.0),
                 attainable=(s["max_points"] / 12.0).where(s["status"] != "na", 0.0))
    g = s.groupby(["unit_id", "item_id", "category"], dropna=False).agg(months=("period", "nunique"), earned=("earned", "sum"), attainable=("attainable", "sum"))
    return g.reset_index()[cols]


def _half_units(hi: pd.DataFrame) -> pd.DataFrame:
    """Per unit: ``months``, ``h1_points``, ``h1_max``, ``h1_pct``, ``h1_rank`` (from :func:`half_items`)."""
    g = hi.groupby("unit_id").agg(months=("months", "max"), h1_points=("earned", "sum"), h1_max=("attainable", "sum")).reset_index()
    g["h1_pct"] = 100.0 * g["h1_points"] / g["h1_max"].where(g["h1_max"] > 0)
    g["h1_rank"] = score.rank(g["h1_pct"].fillna(-1).to_numpy(), decimals=score.TIE_DECIMALS).astype(int)
    return g


def bulletin_table(scores: pd.DataFrame, items: pd.DataFrame, totals: pd.DataFrame, year: int, months=H1) -> pd.DataFrame:
    """Half-year ranking from the monthly sheets (periods 1…6, items scored in points).

    Returns
    -------
    DataFrame
        ``h1_rank`` (competition rank of ``h1_pct``), ``unit_id``, ``months`` (months with a
        row), ``h1_points``, ``h1_max``, ``h1_pct``, ``rank`` (the year-end rank). Empty when
        the year has no monthly rows.
    """
    cols = ["h1_rank", "unit_id", "months", "h1_points", "h1_max", "h1_pct", "rank"]
    hi = half_items(scores, items, year, months)
    if not len(hi):
        return pd.DataFrame(columns=cols)
    g = _half_units(hi).merge(totals.loc[totals["year"] == year, ["unit_id", "rank"]], on="unit_id", how="left")
    return g[cols].sort_values(["h1_rank", "unit_id"]).reset_index(drop=True)


def bulletin_tables(scores: pd.DataFrame, items: pd.DataFrame, year: int, months: Iterable[int] = H1, n_bottom: int = 5, k_items: int = 3) -> dict:
    """Everything a half-year bulletin (半年通报) states, for ``months`` of ``year``.

    Parameters
    ----------
    scores, items : DataFrame
        The processed tables (monthly rows ``period`` = "1" … "12").
    year : int
    months : iterable of int
        The half (default January–June).
    n_bottom : int
        How many units at the bottom are named.
    k_items : int
        How many items (where they lost most) are named for each of them.

    Returns
    -------
    dict
        ``ranking`` — per unit: ``h1_rank``, ``unit_id``, ``h1_pct``, ``cat_<category>``
        (% of the category's attainable points, NaN when none attainable), ``prev_rank``,
        ``prev_pct`` (same months of ``year − 1``), ``rank_change`` (prev_rank − h1_rank:
        positive = moved up), ``pct_change`` (h1_pct − prev_pct, percentage points);
        ``categories`` — per category: ``category``, ``mean_pct`` (mean over units of their
        category %), ``prev_mean_pct``, ``change``; ``bottom`` — the ``n_bottom`` lowest
        ranked units (more when units tie at the ``n_bottom``-th place from the bottom): ``h1_rank``, ``unit_id``, ``h1_pct``, ``item_id`` / ``lost`` (their
        ``k_items`` largest losses, attainable − earned, one row per item);
        ``notes`` — label keys of what is not computable: ``nc_bul_no_months`` (no monthly
        rows this half: nothing else is computed), ``nc_bul_no_prev`` (no monthly rows for the
        same half of the year before: 纵比 columns are NaN).
    """
    months = tuple(months)
    cats = [c for c in config.CATEGORIES]
    empty = {"ranking": pd.DataFrame(), "categories": pd.DataFrame(), "bottom": pd.DataFrame(), "notes": ["nc_bul_no_months"]}
    hi = half_items(scores, items, year, months)
    if not len(hi):
        return empty
    prev = half_items(scores, items, year - 1, months)
    notes = [] if len(prev) else ["nc_bul_no_prev"]

    def cat_pct(h: pd.DataFrame) -> pd.DataFrame:
        c = h.groupby(["unit_id", "category"])[["earned", "attainable"]].sum()
        pct = (100.0 * c["earned"] / c["attainable"].where(c["attainable"] > 0)).unstack("category")
        return pct.reindex(columns=[k for k in cats if k in pct.columns])

    now = _half_units(hi).set_index("unit_id")
    cp = cat_pct(hi)
    rk = now[["h1_rank", "h1_pct"]].join(cp.add_prefix("cat_"))
    if len(prev):
        pv = _half_units(prev).set_index("unit_id")
        rk = rk.join(pv[["h1_rank", "h1_pct"]].rename(columns={"h1_rank": "prev_rank", "h1_pct": "prev_pct"}))
        pcp = cat_pct(prev)
    else:
        rk["prev_rank"], rk["prev_pct"] = np.nan, np.nan
        pcp = pd.DataFrame(columns=cp.columns, dtype=float)
    rk["rank_change"] = rk["prev_rank"] - rk["h1_rank"]
    rk["pct_change"] = rk["h1_pct"] - rk["prev_pct"]
    ranking = rk.reset_index().sort_values(["h1_rank", "unit_id"], kind="stable").reset_index(drop=True)
    ranking = ranking[["h1_rank", "unit_id", "h1_pct", *[f"cat_{c}" for c in cp.columns], "prev_rank", "prev_pct", "rank_change", "pct_change"]]

    categories = pd.DataFrame({"category": list(cp.columns), "mean_pct": cp.mean().to_numpy(float)})
    categories["prev_mean_pct"] = [float(pcp[c].mean()) if c in pcp.columns and len(pcp) else np.nan for c in cp.columns]
    categories["change"] = categories["mean_pct"] - categories["prev_mean_pct"]

    worst = np.sort(ranking["h1_rank"].to_numpy())[::-1]
    thr = worst[min(n_bottom, len(worst)) - 1]  # units tied with the n_bottom-th from the bottom are all named
    bot = ranking.loc[ranking["h1_rank"] >= thr, ["h1_rank", "unit_id", "h1_pct"]]
    lost = hi.assign(lost=hi["attainable"] - hi["earned"])
    lost = lost.loc[lost["unit_id"].isin(bot["unit_id"]) & (lost["attainable"] > 0)]
    lost = lost.sort_values(["unit_id", "lost", "item_id"], ascending=[True, False, True], kind="stable").groupby("unit_id").head(k_items)
    bottom = bot.merge(lost[["unit_id", "item_id", "lost"]], on="unit_id", how="left")
    bottom = bottom.sort_values(["h1_rank", "unit_id", "lost"], ascending=[True, True, False], kind="stable").reset_index(drop=True)
    return {"ranking": ranking, "categories": categories, "bottom": bottom, "notes": notes}
