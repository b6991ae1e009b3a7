"""From the processed tables of one year to the arrays the sensitivity engine works on."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from pipeline.errors import PipelineError
from pipeline.sensitivity.fairness import size_class

__all__ = ["YearData", "year_data"]


@dataclass
class YearData:
    """One year's assessment as matrices (units in ``unit_ids`` order, items in ``item_ids`` order).

    Attributes
    ----------
    points : DataFrame
        Units × items, points earned; NaN = not applicable; a missing cell counts 0 (as in
        :func:`pipeline.score.totals`).
    maxima : numpy.ndarray
        Item maxima (the nominal weights).
    categories, dimensions, methods : numpy.ndarray of str
        Per item.
    grades : DataFrame
        Units × items, 好/较好/一般 for graded cells, None elsewhere.
    offset : numpy.ndarray
        Verified 述职评议 adjustment per unit (0 when none).
    attrs : DataFrame
        Index unit_id; ``type``, ``sector``, ``size`` (member-count terciles), ``members``, ``name``.
    """

    year: int
    points: pd.DataFrame
    maxima: np.ndarray
    categories: np.ndarray
    dimensions: np.ndarray
    methods: np.ndarray
    item_names: list
    grades: pd.DataFrame
    offset: np.ndarray
    attrs: pd.DataFrame

    @property
    def unit_ids(self) -> list:
        return list(self.points.index)

    @property
    def item_ids(self) -> list:
        return list(self.points.columns)

    def category_scores(self) -> pd.DataFrame:
        """Units × categories: applicable points / applicable max in each category (in [0, 1])."""
        from pipeline import config

        x = self.points.to_numpy(dtype=float)
        present = ~np.isnan(x)
        cats = [c for c in config.CATEGORIES if c in set(self.categories)]
        cols = {}
        for c in cats:
            sel = self.categories == c
            den = (present[:, sel] * self.maxima[sel]).sum(axis=1)
            cols[c] = np.where(present[:, sel], x[:, sel], 0.0).sum(axis=1) / np.where(den > 0, den, np.nan)
        return pd.DataFrame(cols, index=self.points.index)

    def common(self) -> dict:
        """Keyword arguments shared by the engine's functions (offset and grades)."""
        return {"offset": self.offset, "grades": self.grades.to_numpy(dtype=object)}


def _read(processed, name: str) -> pd.DataFrame | None:
    if isinstance(processed, Mapping):
        return processed.get(name)
    from pipeline.io import read_table

    path = Path(processed) / f"{name}.parquet"
    if not path.exists():
        if name in ("items", "scores", "units"):
            read_table(processed, name)  # raises the standard one-line error
        return None
    return read_table(processed, name)


def year_data(processed: str | os.PathLike | Mapping[str, pd.DataFrame], year: int | None = None) -> YearData:
    """Load the matrices of ``year`` (default: the latest) from the processed folder (or a dict of its tables).

    Raises
    ------
    PipelineError
        If the year is not in the data, or an item/unit is inconsistent.
    """
    items = _read(processed, "items")
    scores = _read(processed, "scores")
    units = _read(processed, "units")
    adj = _read(processed, "adjustments")
    year = int(items["year"].max()) if year is None else int(year)
    it = items.loc[items["year"].astype(int) == year].sort_values("item_id")
    if it.empty:
        years = sorted(items["year"].astype(int).unique())
        raise PipelineError(f"year {year} is not in the data (available: {years[0]}–{years[-1]})" if years else "no items in the data")
    sc = scores.loc[(scores["year"].astype(int) == year) & (scores["period"].astype(str) == "Y")]
    pts = sc["points"].astype(float).where(sc["status"] != "missing", 0.0).where(sc["status"] != "na", np.nan)
    mat = pd.DataFrame({"unit_id": sc["unit_id"], "item_id": sc["item_id"], "points": pts})
    points = mat.pivot(index="unit_id", columns="item_id", values="points")
    unknown = sorted(set(points.columns) - set(it["item_id"]))
    if unknown:
        raise PipelineError(f"{year}: scores reference items not in the item list: {unknown[:3]}")
    points = points.reindex(columns=list(it["item_id"])).sort_index()
    # a unit with no row at all for an item counts as missing (0 points), not NA
    have = sc.assign(v=1.0).pivot(index="unit_id", columns="item_id", values="v").reindex_like(points)
    points = points.where(~(points.isna() & have.isna()), 0.0)
    g = sc.get("grade")
    if g is not None:
        grades = sc.assign(grade=g.where(g.notna(), None)).pivot(index="unit_id", columns="item_id", values="grade")
        grades = grades.reindex_like(points).astype(object)
        grades = grades.where(grades.notna(), None)
    else:
        grades = pd.DataFrame(None, index=points.index, columns=points.columns, dtype=object)
    offset = pd.Series(0.0, index=points.index)
    if adj is not None and len(adj):
        a = adj.loc[adj["year"].astype(int) == year].groupby("unit_id")["adjustment"].sum()
        offset = offset.add(a.reindex(points.index), fill_value=0.0).fillna(0.0)
    u = units.set_index("unit_id").reindex(points.index)
    attrs = pd.DataFrame(
        {
            "name": u["name"].astype(object),
            "type": u["type"].astype(object),
            "sector": u["sector"].astype(object),
            "members": u["members"].astype(float),
        },
        index=points.index,
    )
    attrs["size"] = size_class(attrs["members"].fillna(attrs["members"].median())).to_numpy()
    return YearData(
        year=year,
        points=points,
        maxima=it["max_points"].astype(float).to_numpy(),
        categories=it["category"].astype(str).to_numpy(),
        dimensions=it["dimension"].astype(str).to_numpy(),
        methods=it["method"].astype(str).to_numpy(),
        item_names=list(it["item_name"]),
        grades=grades,
        offset=offset.to_numpy(dtype=float),
        attrs=attrs,
    )
