"""Analysis behind the pages for the secretary: one page per unit and the half-year bulletin.

Every function is pure (tidy frames of SPEC §3 in, a tidy frame or a dict out). Chapter 02
(``notebooks/02-horizontal.py``) calls them under the run's parameters and records what they
return (tables ``h_item_losses``, ``h_unit_gaps``, ``h_bulletin``, ``h_bulletin_categories``,
``h_bulletin_bottom``; headline ``bulletin``, ``bulletin_notes``); the report
(:func:`pipeline.report.write_unit_pages`, :func:`pipeline.report.write_bulletin`) only
renders that record.

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

__all__ = ["item_losses", "unit_losses", "gaps_to_cut", "gap_to_cut", "gap_record", "half_items", "bulletin_table", "bulletin_tables",
           "bulletin_summary", "GAP_COLUMNS", "BULLETIN_COLUMNS", "WEAKEST"]

H1 = tuple(range(1, 7))
#: How many of its weakest items a unit page names (against the year's and the winners' mean).
WEAKEST = 3


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
        ``vs_winners`` = points − winners_mean, ``is_winner``; ``below_mean_order`` and
        ``below_winners_order``: 1, 2, … for the unit's items below the year's (winners')
        mean, furthest below first (ties by item id), missing for the others — the unit page
        names the first :data:`WEAKEST` of each.
    """
    ui = compare.unit_items(scores, items, year)
    win = compare.ranking(totals, year=year, top_n=top_n).set_index("unit_id")["is_winner"]
    ui = ui.assign(is_winner=ui["unit_id"].map(win).fillna(False).astype(bool))
    ui["lost"] = ui["max_points"] - ui["points"]
    ui["year_mean"] = ui.groupby("item_id")["points"].transform("mean")
    ui["winners_mean"] = ui["points"].where(ui["is_winner"]).groupby(ui["item_id"]).transform("mean")
    ui["vs_mean"] = ui["points"] - ui["year_mean"]
    ui["vs_winners"] = ui["points"] - ui["winners_mean"]
    for col, basis in (("below_mean_order", "vs_mean"), ("below_winners_order", "vs_winners")):
        below = ui.loc[ui[basis] < 0].sort_values(["unit_id", basis, "item_id"], kind="stable")
        ui[col] = (below.groupby("unit_id").cumcount() + 1).reindex(ui.index).astype("Int64")
    cols = ["unit_id", "item_id", "item_name", "category", "max_points", "status", "points", "lost",
            "year_mean", "winners_mean", "vs_mean", "vs_winners", "is_winner", "below_mean_order", "below_winners_order"]
    return ui[cols].reset_index(drop=True)


def unit_losses(losses: pd.DataFrame, unit_id: str) -> pd.DataFrame:
    """One unit's rows of :func:`item_losses`, the items where it lost most first.

    Ties in ``lost`` keep item order; not-applicable items (``lost`` NaN) come last.
    """
    u = losses.loc[losses["unit_id"] == unit_id]
    return u.sort_values(["lost", "item_id"], ascending=[False, True], na_position="last", kind="stable").reset_index(drop=True)


#: Columns of :func:`gaps_to_cut` (the ``h_unit_gaps`` table of chapter 02).
GAP_COLUMNS = ["unit_id", "rank", "total", "cut", "gap", "is_winner", "margin", "needed", "scale", "items", "recoverable", "note"]


def gaps_to_cut(ranking: pd.DataFrame, losses: pd.DataFrame, na_policy: str = config.NA_POLICY) -> pd.DataFrame:
    """What separates every unit of a year from the winning cut (one row per unit).

    Parameters
    ----------
    ranking : DataFrame
        :func:`pipeline.compare.ranking` of one year (``unit_id``, ``rank``, ``total``,
        ``is_winner``, ``cut``, ``gap_to_cut``).
    losses : DataFrame
        :func:`item_losses` of the same year (all units, or only some units' rows).
    na_policy : {"prorate", "zero", "full"}
        The run's NA policy: how regained raw points move the total (module docstring).

    Returns
    -------
    DataFrame
        :data:`GAP_COLUMNS`, in the order of ``ranking``: ``rank``, ``total``, ``cut``, ``gap``
        (total − cut), ``is_winner``; for a winner ``margin`` (total − best non-winner total;
        NaN when every unit wins); for a non-winner ``needed`` (cut − total), ``scale`` (total
        points per raw point), ``items`` (ids, ``;``-separated, of the fewest items whose lost
        points, largest first as in :func:`unit_losses`, would close the gap; empty when even
        all of them would not) and ``recoverable`` (Σ lost × scale). ``note`` is ``""`` or the
        label key of ``pipeline/labels/pages.yaml`` saying what is not computable:
        ``nc_gap_all_win`` (no non-winner: no margin), ``nc_gap_unreachable`` (the lost points
        cannot close the gap, e.g. a 述职评议 deduction), ``nc_gap_no_applicable`` (no
        applicable item). A unit without rows in ``losses`` has no applicable item.

    Notes
    -----
    Taking the largest losses first gives the fewest items: the k largest losses are the
    largest sum any k items can give. The count is found on the cumulative sums of each
    unit's sorted losses (one sort and one grouped cumulative sum for all units); a gap is
    closed when the cumulative sum reaches ``needed − 1e-9``.
    """
    rk = ranking.reset_index() if ranking.index.name == "unit_id" else ranking
    out = pd.DataFrame({"unit_id": rk["unit_id"].to_numpy(), "rank": rk["rank"].astype(int).to_numpy(),
                        "total": rk["total"].astype(float).to_numpy(), "cut": rk["cut"].astype(float).to_numpy(),
                        "gap": rk["gap_to_cut"].astype(float).to_numpy(), "is_winner": rk["is_winner"].astype(bool).to_numpy()})
    win = out["is_winner"].to_numpy()
    best_below = out.loc[~win, "total"].max() if (~win).any() else np.nan
    out["margin"] = np.where(win, out["total"] - best_below, np.nan)
    out["needed"] = np.where(win, 0.0, -out["gap"])
    # per unit: maximum of the applicable items, of all items; losses largest first (unit_losses order)
    L = losses.loc[losses["unit_id"].isin(out.loc[~win, "unit_id"])]
    L = L.sort_values(["unit_id", "lost", "item_id"], ascending=[True, False, True], na_position="last", kind="stable")
    by = L.groupby("unit_id", sort=False)
    applicable = L["max_points"].where(L["status"] != "na", 0.0).groupby(L["unit_id"]).sum()
    all_max = by["max_points"].sum()
    app = out["unit_id"].map(applicable).fillna(0.0).to_numpy(float)
    has_app = ~win & (app > 0)
    if na_policy == "prorate":
        scale_u = (all_max / applicable.where(applicable > 0)).astype(float)
    else:
        scale_u = pd.Series(1.0, index=applicable.index)
    out["scale"] = np.where(has_app, out["unit_id"].map(scale_u).to_numpy(float), np.nan)
    scaled = L["lost"].astype(float) * L["unit_id"].map(scale_u).astype(float)  # NaN for a not-applicable item
    rec = scaled.groupby(L["unit_id"]).sum()  # NaN-skipping sum
    out["recoverable"] = np.where(has_app, out["unit_id"].map(rec).to_numpy(float), np.nan)
    # an item is taken while the cumulative loss before it is still short of the need
    need_row = L["unit_id"].map(out.set_index("unit_id")["needed"]).astype(float).to_numpy(float) - 1e-9
    csum = scaled.fillna(0.0).groupby(L["unit_id"]).cumsum().to_numpy(float)
    before = csum - scaled.fillna(0.0).to_numpy(float)
    take = scaled.notna().to_numpy() & (before < need_row)
    reach = out["needed"].to_numpy() - 1e-9 <= out["recoverable"].fillna(-np.inf).to_numpy()
    reachable = has_app & reach & (out["needed"].to_numpy() > 0)
    chosen = L.loc[take].groupby("unit_id", sort=False)["item_id"].agg(";".join)
    picked = out["unit_id"].map(chosen).to_numpy(object)
    out["items"] = np.where(reachable & ~pd.isna(picked), picked, "")
    note = np.full(len(out), "", dtype=object)
    if not (~win).any():
        note[win] = "nc_gap_all_win"
    note[~win & ~has_app] = "nc_gap_no_applicable"
    note[has_app & ~reachable] = "nc_gap_unreachable"
    out["note"] = note
    return out[GAP_COLUMNS]


def gap_to_cut(ranking: pd.DataFrame, losses: pd.DataFrame, unit_id: str, na_policy: str = config.NA_POLICY) -> dict:
    """What separates one unit from the winning cut: its row of :func:`gaps_to_cut` as a dict.

    ``items`` is a list of item ids; ``note`` is None or the label key (see :func:`gaps_to_cut`).
    ``ranking`` may be indexed by ``unit_id`` already; ``losses`` may hold this unit's rows only.
    """
    g = gaps_to_cut(ranking, losses.loc[losses["unit_id"] == unit_id], na_policy)
    return gap_record(g.loc[g["unit_id"] == unit_id].iloc[0])


def gap_record(row) -> dict:
    """One row of :func:`gaps_to_cut` (a Series or a mapping) as the dict the unit page states:
    plain Python numbers, ``items`` a list, ``note`` None when everything is computable."""
    r = dict(row)
    items = r.get("items")
    return {"rank": int(r["rank"]), "total": float(r["total"]), "cut": float(r["cut"]), "gap": float(r["gap"]),
            "is_winner": bool(r["is_winner"]), "margin": float(r["margin"]), "needed": float(r["needed"]), "scale": float(r["scale"]),
            "items": [i for i in str(items).split(";") if i] if isinstance(items, str) else [],
            "recoverable": float(r["recoverable"]), "note": r["note"] if isinstance(r.get("note"), str) and r["note"] else None}


# --------------------------------------------------------------------------------------------
# Half-year bulletin (半年通报)
# --------------------------------------------------------------------------------------------
def half_items(scores: pd.DataFrame, items: pd.DataFrame, year: int, months: Iterable[int] = H1) -> pd.DataFrame:
    """Points earned per unit × item over some months of a year, against the item's annual maximum.

    The monthly sheets hold the points earned each month; the committee sets no monthly
    maximum, and an item's points need not be spread evenly over the year (an activity held
    in March earns its points in March). A pro-rata maximum (``max_points / 12`` a month) would
    let a unit score above 100 % in a half; the half is therefore measured against the
    **annual** maximum of the items that apply to the unit: ``earned / attainable`` is the
    share of the year's points already earned (得分进度), at most 100 % when the monthly
    sheets add up to no more than the annual sheet.

    Returns
    -------
    DataFrame
        ``unit_id``, ``item_id``, ``category``, ``months`` (monthly rows), ``earned`` (points of
        ``ok`` rows), ``attainable`` (the item's ``max_points`` when at least one of its rows in
        these months is not ``na``, else 0); empty when the year has no monthly rows for these
        months.
    """
    per = [str(m) for m in months]
    cols = ["unit_id", "item_id", "category", "months", "earned", "attainable"]
    s = scores.loc[(scores["year"] == year) & scores["period"].astype(str).isin(per)]
    if not len(s):
        return pd.DataFrame(columns=cols)
    it = items.loc[items["year"] == year]
    s = s.merge(it[["item_id", "max_points"]].assign(category=it["category"] if "category" in it else pd.NA), on="item_id", how="left")
    s = s.assign(earned=s["points"].astype(float).where(s["status"] == "ok", 0.0).fillna(0.0),
                 attainable=s["max_points"].astype(float).where(s["status"] != "na", 0.0))
    g = s.groupby(["unit_id", "item_id", "category"], dropna=False).agg(months=("period", "nunique"), earned=("earned", "sum"), attainable=("attainable", "max"))
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


#: Fixed columns of the bulletin's tables (``ranking`` adds ``cat_<category>`` after ``h1_pct``).
BULLETIN_COLUMNS = {"ranking": ["h1_rank", "unit_id", "h1_pct", "prev_rank", "prev_pct", "rank_change", "pct_change"],
                    "categories": ["category", "mean_pct", "prev_mean_pct", "change"],
                    "bottom": ["h1_rank", "unit_id", "h1_pct", "item_id", "behind"]}


def bulletin_tables(scores: pd.DataFrame, items: pd.DataFrame, year: int, months: Iterable[int] = H1, n_bottom: int = 5, k_items: int = 3,
                    totals: pd.DataFrame | None = None) -> dict:
    """Everything a half-year bulletin (半年通报) states, for ``months`` of ``year``.

    Parameters
    ----------
    scores, items : DataFrame
        The processed tables (monthly rows ``period`` = "1" … "12").
    year : int
    months : iterable of int
        The half (default January–June).
    totals : DataFrame, optional
        The run's totals: adds ``year_rank`` (the year-end rank) to ``ranking``.
    n_bottom : int
        How many units at the bottom are named.
    k_items : int
        How many items (where they lost most) are named for each of them.

    Returns
    -------
    dict
        ``ranking`` — per unit: ``h1_rank``, ``unit_id``, ``h1_pct`` (points earned in the
        half as % of the annual maximum of the items that apply, :func:`half_items`),
        ``cat_<category>`` (the same within a category, NaN when none applies), ``prev_rank``,
        ``prev_pct`` (same months of ``year − 1``), ``rank_change`` (prev_rank − h1_rank:
        positive = moved up), ``pct_change`` (h1_pct − prev_pct, percentage points);
        ``categories`` — per category: ``category``, ``mean_pct`` (mean over units of their
        category %), ``prev_mean_pct``, ``change``; ``bottom`` — the ``n_bottom`` lowest
        ranked units (more when units tie at the ``n_bottom``-th place from the bottom):
        ``h1_rank``, ``unit_id``, ``h1_pct``, ``item_id`` / ``behind`` (the ``k_items`` items
        where the unit is furthest below the mean of the units the item applies to, in points
        earned over the same months; one row per item, only items where it is below the mean);
        ``notes`` — label keys of what is not computable: ``nc_bul_no_months`` (no monthly
        rows this half: nothing else is computed), ``nc_bul_no_prev`` (no monthly rows for the
        same half of the year before: 纵比 columns are NaN). When nothing is computed the
        three tables are empty, with their fixed columns (:data:`BULLETIN_COLUMNS`).
    """
    months = tuple(months)
    cats = [c for c in config.CATEGORIES]
    hi = half_items(scores, items, year, months)
    if not len(hi):
        return {"ranking": pd.DataFrame(columns=BULLETIN_COLUMNS["ranking"] + (["year_rank"] if totals is not None else [])),
                "categories": pd.DataFrame(columns=BULLETIN_COLUMNS["categories"]), "bottom": pd.DataFrame(columns=BULLETIN_COLUMNS["bottom"]),
                "notes": ["nc_bul_no_months"]}
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
    if totals is not None:
        year_rank = totals.loc[totals["year"] == year].set_index("unit_id")["rank"]
        ranking = ranking.assign(year_rank=ranking["unit_id"].map(year_rank))

    categories = pd.DataFrame({"category": list(cp.columns), "mean_pct": cp.mean().to_numpy(float)})
    categories["prev_mean_pct"] = [float(pcp[c].mean()) if c in pcp.columns and len(pcp) else np.nan for c in cp.columns]
    categories["change"] = categories["mean_pct"] - categories["prev_mean_pct"]

    worst = np.sort(ranking["h1_rank"].to_numpy())[::-1]
    thr = worst[min(n_bottom, len(worst)) - 1]  # units tied with the n_bottom-th from the bottom are all named
    bot = ranking.loc[ranking["h1_rank"] >= thr, ["h1_rank", "unit_id", "h1_pct"]]
    app = hi.loc[hi["attainable"] > 0]
    behind = app.assign(behind=app.groupby("item_id")["earned"].transform("mean") - app["earned"])
    behind = behind.loc[behind["unit_id"].isin(bot["unit_id"]) & (behind["behind"] > 0)]
    behind = behind.sort_values(["unit_id", "behind", "item_id"], ascending=[True, False, True], kind="stable").groupby("unit_id").head(k_items)
    bottom = bot.merge(behind[["unit_id", "item_id", "behind"]], on="unit_id", how="left")
    bottom = bottom.sort_values(["h1_rank", "unit_id", "behind"], ascending=[True, True, False], kind="stable").reset_index(drop=True)
    return {"ranking": ranking, "categories": categories, "bottom": bottom, "notes": notes}


def bulletin_summary(ranking: pd.DataFrame, top_n: int = config.TOP_N) -> dict:
    """The numbers the bulletin's sentences state, from the ``ranking`` of :func:`bulletin_tables`.

    Parameters
    ----------
    ranking : DataFrame
        ``bulletin_tables(…, totals=…)["ranking"]`` (with ``year_rank``).
    top_n : int
        Winners' places: how many of the first-half top ``top_n`` are in the year-end top ``top_n``.

    Returns
    -------
    dict
        Empty when ``ranking`` is. 横比: ``mean`` (mean ``h1_pct`` over units), ``first`` /
        ``last`` (unit ids of the first and last rows), ``first_pct``, ``last_pct``, ``spread``
        (first − last, percentage points), ``overlap`` (units with ``h1_rank`` ≤ top_n and
        ``year_rank`` ≤ top_n). 纵比 over the units with a value a year before (NaN / None when
        there are none): ``prev_mean`` and ``both_mean`` (their mean % a year before and now),
        ``change`` (both_mean − prev_mean), ``up`` / ``up_k`` (the unit that rose most, ties to
        the larger id, and by how many places, ≥ 0), ``down`` / ``down_k`` (fell most, ties to
        the smaller id), ``moved`` (some unit changed place).
    """
    if not len(ranking):
        return {}
    first, last = ranking.iloc[0], ranking.iloc[-1]
    out = {"mean": float(ranking["h1_pct"].mean()), "first": str(first["unit_id"]), "first_pct": float(first["h1_pct"]),
           "last": str(last["unit_id"]), "last_pct": float(last["h1_pct"]), "spread": float(first["h1_pct"] - last["h1_pct"]),
           "overlap": int(((ranking["h1_rank"] <= top_n) & (ranking["year_rank"] <= top_n)).sum()),
           "prev_mean": np.nan, "both_mean": np.nan, "change": np.nan, "up": None, "up_k": 0, "down": None, "down_k": 0, "moved": False}
    both = ranking.dropna(subset=["prev_pct"])
    if len(both):
        moved = both.sort_values(["rank_change", "unit_id"], kind="stable")
        up, down = moved.iloc[-1], moved.iloc[0]
        out.update(prev_mean=float(both["prev_pct"].mean()), both_mean=float(both["h1_pct"].mean()),
                   up=str(up["unit_id"]), up_k=int(max(up["rank_change"], 0)), down=str(down["unit_id"]), down_k=int(max(-down["rank_change"], 0)),
                   moved=bool(up["rank_change"] > 0 or down["rank_change"] < 0))
        out["change"] = out["both_mean"] - out["prev_mean"]
    return out
