"""Items as a scale: corrected item–total correlation (discrimination) and Cronbach's alpha."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.compare.horizontal import unit_items


def cronbach_alpha(matrix) -> float:
    """Cronbach's alpha of a subjects × items matrix (rows with a NaN are left out).

    :math:`\\alpha = \\frac{k}{k-1}\\bigl(1 - \\sum_i s_i^2 / s_T^2\\bigr)` with sample variances
    (ddof = 1). NaN when fewer than 2 items or 2 complete rows, or when the total has no variance.
    """
    x = np.asarray(matrix, dtype=float)
    x = x[~np.isnan(x).any(axis=1)]
    n, k = x.shape
    if k < 2 or n < 2:
        return float("nan")
    tot_var = x.sum(axis=1).var(ddof=1)
    if tot_var == 0:
        return float("nan")
    return float(k / (k - 1) * (1.0 - x.var(axis=0, ddof=1).sum() / tot_var))


def item_discrimination(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None, full_tol: float = 1e-9) -> pd.DataFrame:
    """How well each item separates units: spread, corrected item–total correlation, ceiling.

    Returns
    -------
    DataFrame
        One row per year and item: ``year``, ``item_id``, ``item_name``, ``category``,
        ``dimension``, ``method``, ``max_points``, ``n`` (units the item applies to),
        ``mean_pct`` (mean % of max), ``sd_points`` and ``sd_pct`` (ddof=1), ``share_full``
        (share of applicable units at full marks), ``r_rest`` (corrected item–total
        correlation), ``flag`` (``ceiling`` when share_full ≥ 0.8, ``weak`` when r_rest < 0.2 —
        the usual floor for an acceptable discrimination index, Ebel & Frisbie 1991 — else
        empty).
    """
    ui = unit_items(scores, items, year)
    out = []
    for y, d in ui.groupby("year", sort=True):
        pts = d.pivot(index="unit_id", columns="item_id", values="points")
        mx = d.drop_duplicates("item_id").set_index("item_id")["max_points"].reindex(pts.columns).to_numpy()
        p = pts.to_numpy(dtype=float)
        present = ~np.isnan(p)
        p0 = np.where(present, p, 0.0)
        tot_pts = p0.sum(axis=1, keepdims=True)
        tot_max = (present * mx).sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            rest = (tot_pts - p0) / (tot_max - present * mx)
        pct = 100.0 * p / mx
        w = present & ~np.isnan(rest)
        nj = w.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mx_ = np.where(w, pct, 0).sum(0) / nj
            mr_ = np.where(w, rest, 0).sum(0) / nj
            dx = np.where(w, pct - mx_, 0.0)
            dr = np.where(w, rest - mr_, 0.0)
            r = (dx * dr).sum(0) / np.sqrt((dx**2).sum(0) * (dr**2).sum(0))
            full = np.where(present, p >= mx - full_tol, False).sum(0) / present.sum(0)
        res = pd.DataFrame(
            {
                "year": y,
                "item_id": pts.columns,
                "n": present.sum(0),
                "mean_pct": np.nanmean(np.where(present, pct, np.nan), axis=0),
                "sd_points": np.nanstd(np.where(present, p, np.nan), axis=0, ddof=1),
                "sd_pct": np.nanstd(np.where(present, pct, np.nan), axis=0, ddof=1),
                "share_full": full,
                "r_rest": r,
            }
        )
        out.append(res)
    res = pd.concat(out, ignore_index=True)
    meta = items[["year", "item_id", "item_name", "category", "dimension", "method", "max_points"]]
    res = meta.merge(res, on=["year", "item_id"], how="inner")
    res["flag"] = np.where(res["share_full"] >= 0.8, "ceiling", np.where(res["r_rest"] < 0.2, "weak", ""))
    return res.sort_values(["year", "item_id"]).reset_index(drop=True)


def category_alpha(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None) -> pd.DataFrame:
    """Cronbach's alpha of each category's items (and of all items), per year.

    Returns
    -------
    DataFrame
        ``year``, ``category`` (``all`` for the whole scale), ``n_items``, ``n_units`` (complete
        units used), ``alpha``.
    """
    ui = unit_items(scores, items, year)
    rows = []
    for (y, cat), d in pd.concat([ui, ui.assign(category="all")]).groupby(["year", "category"], sort=False):
        m = d.pivot(index="unit_id", columns="item_id", values="points").to_numpy(dtype=float)
        rows.append({"year": y, "category": cat, "n_items": m.shape[1], "n_units": int((~np.isnan(m).any(1)).sum()), "alpha": cronbach_alpha(m)})
    out = pd.DataFrame(rows)
    order = {c: i for i, c in enumerate(list(config.CATEGORIES) + ["all"])}
    return out.sort_values(["year", "category"], key=lambda s: s.map(order) if s.name == "category" else s).reset_index(drop=True)
