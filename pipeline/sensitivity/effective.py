"""Nominal vs effective weights, and the ranking under alternative weighting schemes.

Effective weight (Paruolo, Saisana & Saltelli 2013, *J. R. Stat. Soc. A* 176:609–634): how much
of the variation of the total is explained by each component. Two measures:

* :math:`r_j^2` — squared Pearson correlation of component *j* with the total (the **definition
  of the effective weight** used in the report and by :func:`pipeline.findings.effective_weights`;
  one implementation, here);
* :math:`\\varepsilon_j^2` — the correlation ratio :math:`\\mathrm{Var}(E[y \\mid x_j]) / \\mathrm{Var}(y)`,
  estimated by grouping units on the values of :math:`x_j` (its distinct values when it has at
  most ``n_bins``, else ``n_bins`` equal-frequency bins), **bias-corrected**. The plain sample
  :math:`\\eta^2 = SS_b / SS_t` is biased upwards: under independence its mean is
  :math:`(k-1)/(n-1)` (0.056 for k = 5 bins and n = 74 units), so every component would look
  "effective". Kelley's (1935) :math:`\\varepsilon^2 = 1 - \\frac{SS_w/(n-k)}{SS_t/(n-1)}` replaces
  the sums of squares by unbiased variance estimates (the one-way analogue of adjusted R²; it
  has the smallest bias of η², ε², ω² in Okada 2013, *Jpn. J. Behaviormetrics* 40:129–147). It
  may be slightly negative by chance; it is reported as computed and set to 0 in the shares.
  Unlike :math:`r^2` it also captures a non-linear dependence.

Each is also given *normalised* (shares summing to 1 over the components of a level) so it can
be read beside the nominal share: a component whose effective share is far below its nominal
share "does not matter as much as the scheme says" (it discriminates little between units).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.sensitivity._core import Composite, fast_rank
from pipeline.sensitivity.bod import bod_table
from pipeline.sensitivity.weights import scheme_weights

__all__ = ["effective_weights", "correlation_ratio", "compare_schemes"]


def correlation_ratio(x, y, n_bins: int = 5, corrected: bool = True) -> float:
    """Correlation ratio of ``y`` on ``x`` (NaN pairs dropped); NaN if y or x does not vary.

    ``corrected=True`` (default): Kelley's bias-corrected ε² (module docstring);
    ``False``: the plain sample η² = SS_between / SS_total.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if x.size < 2 or np.ptp(y) == 0 or np.ptp(x) == 0:
        return np.nan
    vals = np.unique(x)
    if vals.size <= n_bins:
        _, grp = np.unique(x, return_inverse=True)
    else:
        r = pd.Series(x).rank(method="average").to_numpy()
        grp = np.minimum(((r - 1) * n_bins / x.size).astype(int), n_bins - 1)
    cnt = np.bincount(grp)
    means = np.bincount(grp, weights=y) / np.maximum(cnt, 1)
    between = (cnt * (means - y.mean()) ** 2).sum()
    total = ((y - y.mean()) ** 2).sum()
    if not corrected:
        return float(between / total)
    n, k = y.size, int((cnt > 0).sum())
    if n <= k:
        return np.nan
    return float(1.0 - ((total - between) / (n - k)) / (total / (n - 1)))


def _r2(x, y) -> float:
    ok = ~(np.isnan(x) | np.isnan(y))
    if ok.sum() < 2 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return np.nan
    return float(np.corrcoef(x[ok], y[ok])[0, 1] ** 2)


def effective_weights(matrix, maxima, categories, *, item_ids=None, na_policy: str = config.NA_POLICY,
                      n_bins: int = 5) -> pd.DataFrame:
    """Nominal vs effective weight of every category and item.

    Parameters
    ----------
    matrix : array_like, shape (n_units, n_items)
        Points (NaN = not applicable).
    maxima : array_like, shape (n_items,)
    categories : array_like of str
        Category of each item.
    item_ids : sequence, optional
        Item names (default: positions).

    Returns
    -------
    DataFrame
        One row per category then per item: ``level`` (``category`` / ``item``), ``name``,
        ``category``, ``nominal_share`` (max / Σ max), ``r2``, ``r2_share`` (r² / Σ r² within
        the level), ``eps2`` (bias-corrected correlation ratio ε²), ``eps2_share`` (max(ε², 0)
        normalised within the level), ``ratio`` (r2_share / nominal_share; < 1 =
        matters less than nominal). Component scores: item = points / max; category =
        applicable points / applicable max in the category. The total is the nominal
        composite (no adjustment).
    """
    x = np.asarray(matrix, dtype=float)
    m = np.asarray(maxima, dtype=float)
    cats = np.asarray(categories, dtype=object)
    if cats.shape != m.shape:
        raise PipelineError("one category per item is needed")
    total = Composite(x, m, na_policy=na_policy, decimals=None).evaluate(m)
    ids = list(item_ids) if item_ids is not None else list(range(m.size))
    rows = []
    order = [c for c in config.CATEGORIES if c in set(cats)] + [c for c in dict.fromkeys(cats) if c not in config.CATEGORIES]
    present = ~np.isnan(x)
    for c in order:
        sel = cats == c
        num = np.where(present[:, sel], x[:, sel], 0.0).sum(axis=1)
        den = (present[:, sel] * m[sel]).sum(axis=1)
        score = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
        rows.append(("category", c, c, m[sel].sum() / m.sum(), _r2(score, total), correlation_ratio(score, total, n_bins)))
    for j in range(m.size):
        z = x[:, j] / m[j]
        rows.append(("item", ids[j], cats[j], m[j] / m.sum(), _r2(z, total), correlation_ratio(z, total, n_bins)))
    df = pd.DataFrame(rows, columns=["level", "name", "category", "nominal_share", "r2", "eps2"])
    for col in ("r2", "eps2"):
        df[col] = df[col].fillna(0.0)
        pos = df[col].clip(lower=0.0)
        df[f"{col}_share"] = pos / pos.groupby(df["level"]).transform("sum")
    df["ratio"] = df["r2_share"] / df["nominal_share"]
    return df[["level", "name", "category", "nominal_share", "r2", "r2_share", "eps2", "eps2_share", "ratio"]]


def compare_schemes(matrix, maxima, categories=None, dimensions=None, *, top_n: int = config.TOP_N,
                    na_policy: str = config.NA_POLICY, offset=None, unit_ids=None, bod_bounds=None) -> pd.DataFrame:
    """Rank every unit under the nominal and each alternative weighting scheme.

    Schemes: ``nominal``, ``equal_items``, ``equal_categories``, ``equal_dimensions``, ``pca``
    (see :func:`pipeline.sensitivity.weights.scheme_weights`), ``bod`` (benefit-of-the-doubt
    efficiency over the category scores, optional pie-share ``bod_bounds``) and ``bod_cross``
    (its cross-efficiency). BoD works on categories (4 criteria) when ``categories`` is given,
    else on items. The offset (adjustment) is added to the weighted schemes only.

    Returns
    -------
    DataFrame
        Long, one row per scheme and unit: ``scheme``, ``unit_id``, ``score`` (composite on
        the 100-point scale; BoD: 100 × efficiency), ``rank``, ``nominal_rank``,
        ``delta_rank`` (rank − nominal_rank), ``winner``, ``nominal_winner``.
    """
    x = np.asarray(matrix, dtype=float)
    m = np.asarray(maxima, dtype=float)
    sw = scheme_weights(x, m, categories, dimensions)
    model = Composite(x, m, na_policy=na_policy, offset=offset)
    scores = model.evaluate(sw.to_numpy().T)  # one composite row per scheme
    names = list(sw.columns)
    if categories is not None:
        cats = np.asarray(categories, dtype=object)
        order = [c for c in config.CATEGORIES if c in set(cats)] + [c for c in dict.fromkeys(cats) if c not in config.CATEGORIES]
        present = ~np.isnan(x)
        crit = np.column_stack([
            np.where(present[:, cats == c], x[:, cats == c], 0.0).sum(axis=1)
            / np.maximum((present[:, cats == c] * m[cats == c]).sum(axis=1), 1e-12)
            for c in order
        ])
        bd = bod_table(crit, bounds=bod_bounds)
    else:
        bd = bod_table(x, bounds=bod_bounds, maxima=m)
    scores = np.vstack([scores, 100 * bd["efficiency"].to_numpy(), 100 * bd["cross_efficiency"].to_numpy()])
    names += ["bod", "bod_cross"]
    scores = np.round(scores, 6)
    r = fast_rank(scores)
    u = x.shape[0]
    ids = np.asarray(unit_ids if unit_ids is not None else np.arange(u))
    r0 = r[0]
    s = len(names)
    return pd.DataFrame(
        {
            "scheme": np.repeat(names, u),
            "unit_id": np.tile(ids, s),
            "score": scores.ravel(),
            "rank": r.ravel(),
            "nominal_rank": np.tile(r0, s),
            "delta_rank": (r - r0).ravel(),
            "winner": (r <= top_n).ravel(),
            "nominal_winner": np.tile(r0 <= top_n, s),
        }
    )
