"""Shared pieces of the integrity checks: the findings columns, severity levels, evidence and BH.

:data:`COLUMNS` and the levels (:data:`ALPHA`, :data:`ALPHA_HIGH`, :data:`MODZ` …) are stated
once here; :func:`_frame` turns rows into a findings frame with rendered evidence; :func:`_bh`
is the Benjamini–Hochberg adjustment every statistical check uses.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from scipy import stats

from pipeline.i18n import t


#: Columns of every findings frame and of ``integrity.csv``.
COLUMNS = ["year", "unit_id", "item", "check", "statistic", "p_value", "threshold", "severity", "evidence",
           "evidence_data"]
#: Family-wise false-discovery level for a ``medium`` finding (BH).
ALPHA = 0.05
#: BH level for a ``high`` finding.
ALPHA_HIGH = 0.01
#: Modified z-score bound of Iglewicz & Hoaglin (1993), a size reference only: the checks take
#: their p-values from fitted nulls, never from this bound (issue #9).
MODZ = 3.5
#: Annual points of a 计分 item are the sum of the monthly values rounded to 0.1 (CONTRACT);
#: anything further away than half a rounding unit (plus float noise) cannot be rounding.
MONTHLY_TOL = 0.05 + 1e-6
#: Points of the 100-point scale below which a self-assessment gap is not material (5 %).
MATERIALITY = 5.0
#: Minimum number of digits for a digit-preference test.
MIN_DIGITS = 10
#: Monte Carlo draws for the exact-by-simulation chi-square p-value when n is small.
MC_DRAWS = 20000
SEVERITIES = ("high", "medium", "low")


# ----------------------------------------------------------------------------- helpers
def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(
        COLUMNS, ["int64", "object", "object", "object", "float64", "float64", "float64", "object", "object", "object"])})


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return float(v)
    return v


def _ev(key: str, **args) -> tuple[str, dict]:
    """Evidence of one finding: the label key ``int_ev_<key>`` and the numbers it formats."""
    return key, {k: _jsonable(v) for k, v in args.items()}


def _render(key: str, args: dict) -> str:
    return t(f"int_ev_{key}", **args)


def _frame(rows: list[dict] | pd.DataFrame) -> pd.DataFrame:
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if df.empty:
        return _empty()
    if "ev" in df:
        df["evidence"] = [_render(k, a) for k, a in df["ev"]]
        df["evidence_data"] = [json.dumps({"key": k, **a}, ensure_ascii=False) for k, a in df["ev"]]
        df = df.drop(columns="ev")
    for c in COLUMNS:
        if c not in df:
            df[c] = np.nan if c in ("statistic", "p_value", "threshold") else ""
    df = df[COLUMNS].copy()
    df["year"] = df["year"].astype("int64")
    for c in ("unit_id", "item"):
        df[c] = df[c].fillna("").astype(str)
    for c in ("statistic", "p_value", "threshold"):
        df[c] = df[c].astype(float)
    return df.reset_index(drop=True)


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


def _severity_from_q(q: np.ndarray) -> np.ndarray:
    return np.where(q < ALPHA_HIGH, "high", np.where(q < ALPHA, "medium", ""))


def modified_z(x) -> np.ndarray:
    """Modified z-score ``0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin 1993).

    Returns NaN where ``x`` is NaN; if the MAD is 0 the mean absolute deviation × 1.2533 is
    used instead (the same paper's fallback), and if that is 0 too every score is 0.
    """
    x = np.asarray(x, dtype=float)
    ok = ~np.isnan(x)
    out = np.full(x.shape, np.nan)
    if not ok.any():
        return out
    med = np.median(x[ok])
    mad = np.median(np.abs(x[ok] - med))
    if mad > 0:
        out[ok] = 0.6745 * (x[ok] - med) / mad
    else:
        meanad = np.mean(np.abs(x[ok] - med))
        out[ok] = (x[ok] - med) / (1.253314 * meanad) if meanad > 0 else 0.0
    return out


def _years(df: pd.DataFrame, years) -> pd.DataFrame:
    if years is None or df is None or df.empty:
        return df
    a, b = (years, years) if isinstance(years, int) else years
    return df.loc[df["year"].astype(int).between(int(a), int(b))]
