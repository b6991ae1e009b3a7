"""Integrity checks against fake numbers (防止假数字, SPEC §4 "Integrity", issue #6).

One function per check. Each takes processed tables (see docs/CONTRACT.md) and returns tidy
*findings*, one row per suspicious (year, unit, item), with the columns of :data:`COLUMNS`:

``year``, ``unit_id`` (empty for a whole-year finding), ``item`` (item id or empty),
``check`` (name of the check), ``statistic`` (the test statistic or the size of the
discrepancy), ``p_value`` (NaN for deterministic checks), ``threshold`` (what the statistic
was compared with — a tolerance, a modified-z bound or the BH-adjusted level), ``severity``
(``high`` / ``medium`` / ``low``), ``evidence`` (one readable sentence in the requested
language, ``lang="zh"`` by default, from the ``int_ev_*`` templates of
``pipeline/labels/integrity.yaml``) and ``evidence_data`` (the template key and its numbers as
JSON, so that :func:`evidence_text` can re-render the sentence in another language from a stored
``integrity.csv``).

Severity rules (stated once, applied everywhere)
------------------------------------------------
* Deterministic arithmetic checks (annual vs monthly, given 总分/名次 vs recomputed): a
  discrepancy beyond rounding is **high** — honest arithmetic cannot produce it. Full marks on
  every item is deterministic but not a contradiction: **medium**.
  "Beyond rounding" means beyond the precision the workbook shows (inferred from its values:
  :func:`shown_decimals`, :func:`scoring_steps`); a difference within it is not a finding.
* Statistical checks state their null model in their docstrings; nulls come from the data
  (peer digits, Student-t fitted to all units and years — :func:`heavy_tail_fit` —, a smoothed
  bootstrap of the year's totals), never from a normal curve on a modified z. p-values are
  adjusted with Benjamini–Hochberg (``scipy.stats.false_discovery_control``; Benjamini &
  Hochberg 1995); in :func:`check_all` all unit-level tests of a year form one family. BH q <
  :data:`ALPHA_HIGH` (0.01) → **high**; q < :data:`ALPHA` (0.05) → **medium**. No shortcut
  bypasses the correction.
* Every finding is a lead for verification (需核实), not an accusation. The false-alarm rate of
  every check, measured on honest worlds of many shapes by ``benchmarks/bench_integrity.py``,
  is in ``pipeline/calibration/integrity.csv`` (:func:`false_alarm_rates`).
* **low** marks a consequence of another finding (e.g. a rank that merely follows a falsified
  total) or an incomplete record, for context only.

Robust statistics: the modified z-score ``0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin,
*How to Detect and Handle Outliers*, 1993) is reported in the evidence as a size; it is not
turned into a p-value.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config, io, score
from pipeline.errors import PipelineError
from pipeline.i18n import check_lang, t

__all__ = [
    "COLUMNS",
    "ALPHA",
    "ALPHA_HIGH",
    "MODZ",
    "terminal_digits",
    "digit_test",
    "whipple",
    "modified_z",
    "digit_table",
    "monthly_gaps",
    "monthly_vs_annual",
    "given_vs_recomputed",
    "poisson_binomial_sf",
    "digit_preference",
    "full_marks",
    "yoy_jumps",
    "adjustment_gaps",
    "cut_bunching",
    "scoring_steps",
    "shown_decimals",
    "heavy_tail_fit",
    "lp_cdf_below",
    "false_alarm_rates",
    "calibration_sentence",
    "check_all",
    "evidence_text",
    "headline",
    "reading",
    "load_tables",
    "summary",
    "run",
]

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


def _render(key: str, args: dict, lang: str) -> str:
    return t(f"int_ev_{key}", lang, **args)


def _frame(rows: list[dict] | pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    check_lang(lang)
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if df.empty:
        return _empty()
    if "ev" in df:
        df["evidence"] = [_render(k, a, lang) for k, a in df["ev"]]
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


# ----------------------------------------------------------------------------- digits
def terminal_digits(points, decimals: int = 1) -> np.ndarray:
    """Last recorded digit of each value at ``decimals`` decimals (4.5 → 5, 12.0 → 0, 3.7 → 7)."""
    v = np.round(np.abs(np.asarray(points, dtype=float)) * 10**decimals)
    return (v % 10).astype(int)


def whipple(digits) -> float:
    """Whipple-style heaping index on 0/5: ``100 × share(digit ∈ {0, 5}) / 0.2``.

    100 = no heaping (uniform digits), 500 = every value ends in 0 or 5 (UN *Manual II*,
    1955; Shryock & Siegel, *Methods and Materials of Demography*). NaN for no digits.
    """
    d = np.asarray(digits)
    if d.size == 0:
        return float("nan")
    return float(100.0 * np.isin(d, (0, 5)).mean() / 0.2)


def digit_test(counts, seed: int = config.SEED) -> tuple[float, float]:
    """Pearson chi-square test that the ten terminal digits are uniform.

    Parameters
    ----------
    counts : array_like, shape (10,) or (m, 10)
        Digit counts (one row per tested group).
    seed : int
        Seed of the Monte Carlo null used when a group has fewer than 50 digits.

    Returns
    -------
    (statistic, p_value) : arrays (or floats for 1-D input)
        The statistic is ``scipy.stats.chisquare(counts)`` (9 degrees of freedom). Its p-value
        is the asymptotic one when every expected count is ≥ 5 (n ≥ 50, Cochran's rule);
        for smaller n it is the Monte Carlo p-value ``(1 + #{X²* ≥ X²}) / (1 + B)`` from
        ``B = MC_DRAWS`` uniform multinomial samples of the same n (Davison & Hinkley 1997).
    """
    c = np.atleast_2d(np.asarray(counts, dtype=float))
    n = c.sum(axis=1)
    exp = n[:, None] / 10.0
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.where(n > 0, ((c - exp) ** 2 / np.where(exp > 0, exp, 1)).sum(axis=1), np.nan)
    p = stats.chi2.sf(chi2, 9)
    small = (n > 0) & (n < 50)
    if small.any():
        rng = np.random.default_rng(seed)
        for m in np.unique(n[small]).astype(int):  # loop over distinct sample sizes only
            sim = rng.multinomial(m, np.full(10, 0.1), size=MC_DRAWS)
            e = m / 10.0
            null = ((sim - e) ** 2 / e).sum(axis=1)
            null.sort()
            idx = np.flatnonzero(small & (n == m))
            ge = MC_DRAWS - np.searchsorted(null, chi2[idx] - 1e-9, side="left")
            p[idx] = (1 + ge) / (1 + MC_DRAWS)
    p = np.where(n > 0, p, np.nan)
    if np.asarray(counts).ndim == 1:
        return float(chi2[0]), float(p[0])
    return chi2, p


def _points_items(scores: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    s = scores.merge(items[["year", "item_id", "max_points", "method"]], on=["year", "item_id"], how="left")
    return s


def poisson_binomial_sf(k, p) -> np.ndarray:
    """Exact upper tail P(K ≥ k) of a sum of independent Bernoulli(p_j) (Poisson-binomial).

    Parameters
    ----------
    k : array_like, shape (m,)
        Observed counts.
    p : array_like, shape (m, J)
        Success probabilities per row; pad with 0 for rows with fewer trials.

    Notes
    -----
    Dynamic programming over the J trials (J ≤ a few dozen items), vectorised over rows;
    for equal p_j it equals ``scipy.stats.binom.sf(k - 1, J, p)``.
    """
    p = np.atleast_2d(np.asarray(p, dtype=float))
    k = np.asarray(k, dtype=int).reshape(-1)
    m, J = p.shape
    pmf = np.zeros((m, J + 1))
    pmf[:, 0] = 1.0
    for j in range(J):  # loop over items, not over units
        pj = p[:, j:j + 1]
        shifted = np.zeros_like(pmf)
        shifted[:, 1:] = pmf[:, :-1]
        pmf = pmf * (1 - pj) + shifted * pj
    tail = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]  # tail[:, i] = P(K ≥ i)
    out = np.where(k <= 0, 1.0, tail[np.arange(m), np.clip(k, 0, J)])
    return np.where(k > J, 0.0, np.clip(out, 0.0, 1.0))


#: Candidate scoring steps, coarse first (points); an item's step is the coarsest that every
#: one of its recorded values is a multiple of.
STEPS = (10.0, 5.0, 2.0, 1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.02, 0.01, 0.001)
#: Steps whose last digit is free (a decimal resolution 10^-d): only these are digit-tested.
DIGIT_STEPS = {0.1: 1, 0.01: 2, 0.001: 3}


def scoring_steps(scores: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """The scoring step of every (year, 计分 item), inferred from the recorded annual values.

    The step is the coarsest ``s`` of :data:`STEPS` (10, 5, 2, 1, 0.5, 0.25, 0.2, 0.1, …) such
    that every recorded value of the item in that year, and its maximum from the item list, is
    an integer multiple of ``s`` (to 1e-6). A half-point item therefore has step 0.5 however
    its units scored, and a whole-point item step 1: the last digit is then fixed by the step
    and carries no information, so :func:`digit_preference` leaves the item out. Only items
    with a decimal step (0.1, 0.01, 0.001 — :data:`DIGIT_STEPS`) have a free terminal digit.

    Returns
    -------
    DataFrame
        ``year``, ``item_id``, ``step`` (float), ``digit_decimals`` (the decimal place of the
        free digit, 0 when there is none).
    """
    s = scores.loc[(scores["period"].astype(str) == "Y") & (scores["status"] == "ok")]
    if items is not None and "method" in items:
        s = s.merge(items[["year", "item_id", "method", "max_points"]], on=["year", "item_id"], how="left")
        s = s.loc[s["method"].fillna("points") == "points"]
    v = s["points"].astype(float).to_numpy()
    key = [s["year"].to_numpy(), s["item_id"].to_numpy()]
    steps = np.array(STEPS)
    r = v[:, None] / steps[None, :]
    ok = np.abs(r - np.round(r)) < 1e-6 * np.maximum(1.0, np.abs(r))
    if "max_points" in s:
        mr = s["max_points"].astype(float).to_numpy()[:, None] / steps[None, :]
        ok &= np.abs(mr - np.round(mr)) < 1e-6 * np.maximum(1.0, np.abs(mr))
    okdf = pd.DataFrame(ok, columns=range(len(steps))).groupby(key).all()
    if okdf.empty:
        return pd.DataFrame({"year": pd.Series(dtype="int64"), "item_id": pd.Series(dtype=object),
                             "step": pd.Series(dtype=float), "digit_decimals": pd.Series(dtype="int64")})
    a = okdf.to_numpy()
    first = np.where(a.any(axis=1), a.argmax(axis=1), len(steps) - 1)
    st = steps[first]
    out = pd.DataFrame({"year": okdf.index.get_level_values(0).astype("int64"),
                        "item_id": okdf.index.get_level_values(1), "step": st})
    out["digit_decimals"] = [DIGIT_STEPS.get(float(x), 0) for x in st]
    return out.reset_index(drop=True)


def _digit_frame(scores: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Annual 计分 values whose terminal digit is free: digit-testable items, interior values.

    Values at 0 and at the item's maximum are censored by the scale (not chosen), so they are
    left out of every digit test; a unit at full marks is the business of :func:`full_marks`
    and is not counted again as heaped zeros.
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok") & (s["method"] == "points")]
    if s.empty:
        return s.assign(digit=pd.Series(dtype="int64"), dec=pd.Series(dtype="int64"))
    st = scoring_steps(scores, items)
    s = s.merge(st[["year", "item_id", "digit_decimals"]], on=["year", "item_id"], how="left")
    pts = s["points"].astype(float)
    s = s.loc[(s["digit_decimals"] > 0) & (pts > 1e-9) & (pts < s["max_points"] - 1e-9)].copy()
    dec = s["digit_decimals"].astype(int).to_numpy()
    s["dec"] = dec
    s["digit"] = (np.round(np.abs(s["points"].astype(float).to_numpy()) * 10.0 ** dec) % 10).astype(int)
    return s


def digit_preference(scores: pd.DataFrame, items: pd.DataFrame, seed: int = config.SEED,
                     lang: str = "zh", all_tests: bool = False) -> pd.DataFrame:
    """Terminal-digit preference in the annual points of 计分 items (heaping on 0/5 + chi-square).

    Only free digits are tested: the step of each item is inferred (:func:`scoring_steps`) and
    only items scored in decimal steps (0.1, 0.01) enter, at the resolution of that step; values
    at 0 and at the maximum are left out (:func:`_digit_frame`). A step every unit shares (a
    half-point item: every digit 0 or 5) is therefore never a finding.

    * ``digit_preference`` — one test per unit and year. **Null**: the unit's digits are drawn
      like its peers' on the same items — each interior value is 0/5 with the leave-one-out
      share of 0/5 among the other units on that item and year (add-one smoothed); the count of
      0/5 is compared with its exact Poisson-binomial tail (the Whipple idea, UN *Manual II*,
      1955, made exact and peer-conditional). Family: all unit-years (BH; in :func:`check_all`
      the year-wide family of every unit-level test). The statistic reported is Pearson's
      chi-square of the unit's ten digit counts against the peer-expected counts (9 df).
    * ``digit_preference_item`` — one test per item and year (family: all item-years, BH).
      **Null**: local smoothness — a value ending in 0/5 is as likely as one of its four
      neighbours at ±1, ±2 in the last digit, so the share of 0/5 is 1/5; exact one-sided
      binomial test. The statistic is the chi-square of the ten digits against uniform.

    ``all_tests=True`` returns every unit-level test (severity ``""`` when not significant) for
    the year-wide correction of :func:`check_all`.

    Returns
    -------
    DataFrame
        Findings (:data:`COLUMNS`): ``statistic`` = chi-square, ``p_value`` = the heaping test's
        p, ``threshold`` = its BH q-value; evidence gives n, the Whipple index and the share of
        0/5 expected from peers.
    """
    s = _digit_frame(scores, items)
    if s.empty:
        return _empty()
    s["h"] = s["digit"].isin((0, 5)).astype(float)
    out = []
    # ---- per unit: peer-conditional null
    key = ["year", "item_id"]
    grp = s.groupby(key)
    n_item = grp["h"].transform("size")
    h_item = grp["h"].transform("sum")
    s["p05"] = (h_item - s["h"] + 0.2) / (n_item - 1 + 1.0)  # leave-one-out, add-one smoothed
    dig = pd.crosstab([s["year"], s["item_id"]], s["digit"]).reindex(columns=range(10), fill_value=0)
    s = s.join(dig.add_prefix("d"), on=["year", "item_id"])
    own = np.eye(10)[s["digit"].to_numpy()]
    peer = s[[f"d{i}" for i in range(10)]].to_numpy(float) - own + 0.1
    peer /= peer.sum(axis=1, keepdims=True)
    s[[f"e{i}" for i in range(10)]] = peer
    s = s.sort_values(["year", "unit_id"], kind="stable")
    s["pos"] = s.groupby(["year", "unit_id"]).cumcount()
    units = s.groupby(["year", "unit_id"])
    k = units["h"].sum().astype(int)
    n = units["h"].size()
    k = k.loc[n >= MIN_DIGITS]
    if len(k):
        P = s.pivot_table(index=["year", "unit_id"], columns="pos", values="p05", fill_value=0.0).loc[k.index]
        p_heap = poisson_binomial_sf(k.to_numpy(), P.to_numpy())
        obs = pd.crosstab([s["year"], s["unit_id"]], s["digit"]).reindex(columns=range(10), fill_value=0).loc[k.index]
        exp = units[[f"e{i}" for i in range(10)]].sum().loc[k.index].to_numpy()
        chi2 = ((obs.to_numpy() - exp) ** 2 / exp).sum(axis=1)
        q = _bh(p_heap)
        sev = _severity_from_q(q)
        nn = n.loc[k.index].to_numpy()
        e05 = P.to_numpy().sum(axis=1)
        for i in (range(len(k)) if all_tests else np.flatnonzero(sev != "")):
            y, u = k.index[i]
            out.append({"year": y, "unit_id": u, "check": "digit_preference", "statistic": chi2[i],
                        "p_value": p_heap[i], "threshold": q[i], "severity": sev[i],
                        "ev": _ev("digit_preference", k=k.iloc[i], n=nn[i], e05=e05[i],
                                  whipple=100 * k.iloc[i] / nn[i] / 0.2, chi2=chi2[i], q=q[i])})
    # ---- per item: local-smoothness null 1/5
    dig = pd.crosstab([s["year"], s["item_id"]], s["digit"]).reindex(columns=range(10), fill_value=0)
    tab = dig.loc[dig.sum(axis=1) >= MIN_DIGITS]
    if len(tab):
        c = tab.to_numpy()
        nn = c.sum(axis=1)
        kk = c[:, 0] + c[:, 5]
        p_heap = stats.binom.sf(kk - 1, nn, 0.2)
        chi2 = stats.chisquare(c, axis=1).statistic
        q = _bh(p_heap)
        sev = _severity_from_q(q)
        for i in np.flatnonzero(sev != ""):
            y, it = tab.index[i]
            out.append({"year": y, "unit_id": "", "item": it, "check": "digit_preference_item", "statistic": chi2[i],
                        "p_value": p_heap[i], "threshold": q[i], "severity": sev[i],
                        "ev": _ev("digit_preference_item", k=kk[i], n=nn[i], whipple=100 * kk[i] / nn[i] / 0.2,
                                  p=p_heap[i], q=q[i], chi2=chi2[i])})
    return _frame(out, lang)


def digit_table(scores: pd.DataFrame, items: pd.DataFrame, year: int | None = None,
                units: list[str] | None = None) -> pd.DataFrame:
    """Terminal-digit counts of the values :func:`digit_preference` tests (free digits only).

    Returns
    -------
    DataFrame
        ``group`` (``all`` or ``flagged`` — the ``units`` given), ``digit`` 0…9, ``n`` (count),
        ``share`` (percent of the group's digits).
    """
    s = _digit_frame(scores, items)
    if year is not None:
        s = s.loc[s["year"] == int(year)]
    out = []
    groups = [("all", s)]
    if units:
        groups.append(("flagged", s.loc[s["unit_id"].isin(units)]))
    for name, part in groups:
        n = np.bincount(part["digit"].to_numpy(int), minlength=10)[:10] if len(part) else np.zeros(10, int)
        tot = max(int(n.sum()), 1)
        out.append(pd.DataFrame({"group": name, "digit": np.arange(10), "n": n, "share": 100.0 * n / tot}))
    return pd.concat(out, ignore_index=True)


def monthly_gaps(scores: pd.DataFrame, items: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annual points minus the rounded sum of the monthly points, per year, unit and 计分 item.

    Returns
    -------
    DataFrame
        ``year``, ``unit_id``, ``item_id``, ``annual``, ``monthly_sum``, ``n_months``, ``gap``
        (annual − round(monthly_sum, 1)); empty when there are no monthly sheets.
    """
    cols = ["year", "unit_id", "item_id", "annual", "monthly_sum", "n_months", "gap"]
    per = scores["period"].astype(str)
    m = scores.loc[per != "Y"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    if items is not None and "method" in items:
        m = m.merge(items[["year", "item_id", "method"]], on=["year", "item_id"], how="left")
        m = m.loc[m["method"].fillna("points") == "points"]
    m = m.assign(p=m["points"].astype(float).where(m["status"] == "ok"))
    agg = m.groupby(["year", "unit_id", "item_id"]).agg(
        monthly_sum=("p", "sum"), n_months=("period", "nunique")).reset_index()
    a = scores.loc[(per == "Y") & (scores["status"] == "ok"), ["year", "unit_id", "item_id", "points"]]
    j = agg.merge(a.rename(columns={"points": "annual"}), on=["year", "unit_id", "item_id"], how="inner")
    j["annual"] = j["annual"].astype(float)
    j["gap"] = j["annual"] - np.round(j["monthly_sum"].to_numpy(), 1)
    return j[cols]


# ----------------------------------------------------------------------------- arithmetic checks
def monthly_vs_annual(scores: pd.DataFrame, items: pd.DataFrame | None = None, tol: float = MONTHLY_TOL,
                      lang: str = "zh") -> pd.DataFrame:
    """Annual summary vs the sum of the twelve monthly sheets (计分 items).

    By the contract the annual points equal the sum of the monthly points rounded to 0.1, so
    ``|annual − round(Σ months, 1)| > tol`` (default 0.05, half a rounding unit) is a **high**
    finding. A unit and item with monthly values for fewer than 12 months is a **low** finding
    (the annual figure cannot be verified).

    Returns
    -------
    DataFrame
        Findings: ``statistic`` = annual − monthly sum (points), ``threshold`` = ``tol``.
    """
    j = monthly_gaps(scores, items)
    if j.empty:
        return _empty()
    j = j.rename(columns={"annual": "points", "monthly_sum": "msum", "gap": "diff"})
    diff = j["diff"]
    bad = j.loc[diff.abs() > tol]
    out = [{
        "year": r.year, "unit_id": r.unit_id, "item": r.item_id, "check": "monthly_mismatch",
        "statistic": r.diff, "threshold": tol, "severity": "high",
        "ev": _ev("monthly_mismatch", annual=r.points, n=r.n_months, msum=r.msum, diff=r.diff),
    } for r in bad.itertuples()]
    inc = j.loc[(j["n_months"] < 12) & (diff.abs() <= tol)]
    out += [{
        "year": r.year, "unit_id": r.unit_id, "item": r.item_id, "check": "monthly_incomplete",
        "statistic": float(r.n_months), "threshold": 12.0, "severity": "low",
        "ev": _ev("monthly_incomplete", n=r.n_months),
    } for r in inc.itertuples()]
    return _frame(out, lang)


def shown_decimals(values, max_decimals: int = 6) -> int:
    """Decimals at which ``values`` are shown: the smallest d with every value a multiple of 10^-d.

    NaN is ignored; an empty input gives ``max_decimals``. Example: 85.3, 90.0, 77.1 → 1.
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not v.size:
        return max_decimals
    for d in range(max_decimals + 1):
        r = v * 10.0 ** d
        if np.all(np.abs(r - np.round(r)) < 1e-6 * np.maximum(1.0, np.abs(r))):
            return d
    return max_decimals


def given_vs_recomputed(given: pd.DataFrame, scores: pd.DataFrame, items: pd.DataFrame,
                        tol: float | None = None, lang: str = "zh") -> pd.DataFrame:
    """The workbook's own 总分 / 名次 vs the values recomputed from the items, at shown precision.

    The given 总分 is the pre-adjustment ``base`` of :func:`pipeline.score.totals` (default NA
    policy) as the workbook shows it. The precision is inferred per year
    (:func:`shown_decimals` of the given totals: 1 for 85.3, 2 for 85.27), and a given total is
    consistent when it lies within half a unit of that precision of the recomputed base,
    ``|given − base| ≤ 0.5 × 10^-d`` (any rounding rule, half-up or half-even, lands there).

    * ``given_total_mismatch`` (**high**): beyond that tolerance — honest arithmetic cannot
      produce it. A difference within rounding is not a finding.
    * ``given_rank_mismatch``: 名次 is consistent when it equals the competition rank of the
      shown totals (ties share the better rank), of the recomputed base rounded to the shown
      precision, or of the unrounded base. **high** when it is none of them (the rank itself was
      altered); **low** when it is the rank of the shown totals but not of the recomputed ones
      in a year with a total mismatch (the rank merely follows a falsified total).

    ``tol`` overrides the inferred half-unit tolerance (points).

    Returns
    -------
    DataFrame
        Findings: ``statistic`` = given − recomputed (points or rank places), ``threshold`` = the
        tolerance used.
    """
    if given is None or given.empty:
        return _empty()
    t = score.totals(scores, items)[["year", "unit_id", "base"]]
    g = given.merge(t, on=["year", "unit_id"], how="inner")
    g = g.assign(gt=pd.to_numeric(g["given_total"], errors="coerce"), gr=pd.to_numeric(g["given_rank"], errors="coerce"))
    out = []
    for year, gy in g.groupby("year"):  # loop over years only
        d = shown_decimals(gy["gt"])
        tl = 0.5 * 10.0 ** -d + 1e-6 if tol is None else float(tol)
        rec = np.round(gy["base"].to_numpy(float), d)
        diff = gy["gt"].to_numpy(float) - gy["base"].to_numpy(float)
        bad = np.abs(diff) > tl
        for i in np.flatnonzero(bad):
            out.append({"year": year, "unit_id": gy["unit_id"].iloc[i], "check": "given_total_mismatch",
                        "statistic": diff[i], "threshold": tl, "severity": "high",
                        "ev": _ev("given_total_mismatch", given=gy["gt"].iloc[i], recomputed=rec[i], diff=diff[i])})
        gr = gy["gr"].to_numpy(float)
        own = score.rank(gy["gt"].to_numpy(float), decimals=d)
        r_rec = score.rank(rec)
        r_raw = score.rank(gy["base"].to_numpy(float), decimals=6)
        okr = np.isnan(gr) | (gr == own) | (gr == r_rec) | (gr == r_raw)
        follows = ~np.isnan(gr) & (gr == own) & (gr != r_rec) & bad.any()
        for i in np.flatnonzero(~okr | follows):
            alt = not okr[i]
            out.append({"year": year, "unit_id": gy["unit_id"].iloc[i], "check": "given_rank_mismatch",
                        "statistic": gr[i] - r_rec[i], "threshold": 0.0, "severity": "high" if alt else "low",
                        "ev": _ev("given_rank_altered" if alt else "given_rank_follows", given=int(gr[i]),
                                  recomputed=int(r_rec[i]), own=int(own[i]))})
    return _frame(out, lang)


#: Half-width, in robust standard deviations, of the window the heavy-tailed null is fitted on.
FIT_WINDOW = 6.0


def heavy_tail_fit(x, res: float = 0.0, window: float = FIT_WINDOW, side: str = "two") -> tuple[float, float, float]:
    """Student-t location-scale fitted by maximum likelihood to the bulk of ``x``.

    The null model of the robust outlier checks: fitted to the data themselves (all units and
    years pooled), its tails are as heavy as the data's, so honest heavy-tailed changes are not
    mistaken for outliers (a normal curve would be). So that a few anomalies cannot fatten the
    fitted tails and hide themselves, the likelihood is that of the t *truncated* to the window
    ``median ± window × robust sd`` (values outside the window are left out and the density is
    renormalised to the window — maximum likelihood for truncated data), maximised over
    ``(log df, loc, log scale)`` by Nelder–Mead. The robust sd is MAD / 0.6745, or
    1.2533 × the mean absolute deviation when the MAD is 0; the scale is floored at ``res``
    (the recording resolution: a deviation of one recording unit is never evidence) and at a
    quarter of the robust sd, which also handles MAD = 0. ``df`` is kept within [1, 200].

    For a one-sided test (``side="greater"`` or ``"less"``) the null is fitted to the tested
    half only: the values on that side of the median, reflected about it (a symmetric sample
    whose tails are those of the tested side), with the location fixed at the median. A skewed
    statistic (e.g. a minimum of two changes, or a spread near the ceiling) then gets the tail it
    actually has on the tested side, not the other side's.

    Returns
    -------
    (df, loc, scale)
        NaNs when fewer than 10 finite values.
    """
    from scipy import optimize

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 10:
        return (np.nan, np.nan, np.nan)
    med = float(np.median(x))
    if side in ("greater", "less"):
        half = x[x >= med] if side == "greater" else x[x <= med]
        x = np.r_[half, 2 * med - half]
    mad = float(np.median(np.abs(x - med)))
    robust = mad / 0.6745 if mad > 0 else 1.253314 * float(np.mean(np.abs(x - med)))
    floor = max(res, 0.25 * robust, 1e-12)
    robust = max(robust, floor)
    lo, hi = med - window * robust, med + window * robust
    xi = x[(x >= lo) & (x <= hi)]

    def nll(th):
        df = float(np.clip(np.exp(th[0]), 1.0, 200.0))
        loc, sc = th[1], max(float(np.exp(th[2])), floor)
        mass = stats.t.cdf((hi - loc) / sc, df) - stats.t.cdf((lo - loc) / sc, df)
        return -(stats.t.logpdf((xi - loc) / sc, df).sum() - xi.size * np.log(sc) - xi.size * np.log(max(mass, 1e-300)))

    with np.errstate(all="ignore"):
        r = optimize.minimize(nll, [np.log(8.0), med, np.log(robust)], method="Nelder-Mead",
                              options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 2000})
    df, loc, sc = float(np.clip(np.exp(r.x[0]), 1.0, 200.0)), float(r.x[1]), float(np.exp(r.x[2]))
    if side in ("greater", "less"):
        loc = med
    if not (np.isfinite(df) and np.isfinite(loc) and np.isfinite(sc)):
        df, loc, sc = 1.0, med, robust
    return df, loc, float(max(sc, floor))


def _t_p(x, fit, side: str) -> np.ndarray:
    df, loc, sc = fit
    z = (np.asarray(x, dtype=float) - loc) / sc
    if side == "two":
        return 2 * stats.t.sf(np.abs(z), df)
    if side == "greater":
        return stats.t.sf(z, df)
    return stats.t.cdf(z, df)


def _centred(v: pd.Series, by: pd.Series) -> pd.Series:
    """``v`` minus its median within each group (year): pooled across years on a common centre."""
    return v - v.groupby(by).transform("median")


def full_marks(scores: pd.DataFrame, items: pd.DataFrame, lang: str = "zh", all_tests: bool = False) -> pd.DataFrame:
    """Units at full marks on every applicable item, or with implausibly low spread.

    * ``full_marks`` (**medium**): every applicable (``ok``) annual item, at least 2, at its
      maximum. Deterministic, but neither an arithmetic contradiction nor a tested improbability
      (an excellent unit can earn it honestly, and does in heavy-tailed honest worlds), so by the
      severity rules it is medium: a pattern to verify.
    * ``low_variance``: the unit's spread across its items, ``s = sd(points / max)``, is
      implausibly small *for its level*. Spread shrinks near the ceiling, so the statistic is the
      residual of ``log s`` from a quadratic least-squares fit on the unit's mean share
      ``mean(points / max)`` over all unit-years, centred on its year's median. **Null**: that
      residual follows a Student-t fitted by ML to all unit-years (:func:`heavy_tail_fit`, lower
      half; resolution 0.01); one-sided lower-tail p; BH over all unit-years (in
      :func:`check_all`, the year-wide family of every unit-level test): q < 0.01 → **high**,
      q < 0.05 → **medium**. Units at full marks everywhere are left out (counted once, by
      ``full_marks``).

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = share of items at full marks (``full_marks``) or the modified z
        of the spread within its year (``low_variance``); ``threshold`` = BH q.
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok")]
    if s.empty:
        return _empty()
    x = s["points"].astype(float) / s["max_points"]
    s = s.assign(x=x, full=(s["points"].astype(float) >= s["max_points"] - 1e-9))
    g = s.groupby(["year", "unit_id"]).agg(n=("x", "size"), share_full=("full", "mean"), sd=("x", "std"),
                                           mean=("x", "mean")).reset_index()
    out = []
    for r in g.loc[(g["share_full"] >= 1.0) & (g["n"] >= 2)].itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "full_marks", "statistic": 1.0, "threshold": 1.0,
                    "severity": "medium", "ev": _ev("full_marks", n=r.n)})
    rest = g.loc[(g["share_full"] < 1.0) & (g["n"] >= 2)].copy()
    if len(rest) >= 10:
        ls = np.log(np.maximum(rest["sd"].fillna(0.0).to_numpy(), 1e-3))
        m = rest["mean"].to_numpy(float)
        X = np.column_stack([np.ones_like(m), m, m * m])
        resid = ls - X @ np.linalg.lstsq(X, ls, rcond=None)[0]
        c = _centred(pd.Series(resid, index=rest.index), rest["year"])
        rest["mz"] = rest.groupby("year")["sd"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
        rest["p"] = _t_p(c, heavy_tail_fit(c, res=0.01, side="less"), "less")
        rest["q"] = _bh(rest["p"].to_numpy())
        sev = _severity_from_q(rest["q"].to_numpy())
        rest["sev"] = sev
        for r in (rest if all_tests else rest.loc[sev != ""]).itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "low_variance", "statistic": r.mz,
                        "p_value": r.p, "threshold": r.q, "severity": r.sev,
                        "ev": _ev("low_variance", n=r.n, sd=r.sd, mz=r.mz, share=100 * r.share_full, q=r.q)})
    return _frame(out, lang)


def _standardised(totals: pd.DataFrame, col: str = "base") -> pd.DataFrame:
    t = totals[["year", "unit_id", col]].copy()
    g = t.groupby("year")[col]
    t["z"] = (t[col] - g.transform("mean")) / g.transform("std")
    return t


def yoy_jumps(totals: pd.DataFrame, col: str = "base", lang: str = "zh", all_tests: bool = False) -> pd.DataFrame:
    """Year-over-year jumps of a unit's standing, and jumps followed by a reversal.

    Item sets and maxima change between years, so a unit's standing is compared through its
    within-year z-score of ``col`` (default the pre-adjustment ``base``); Δz is its change
    between consecutive years.

    **Null**: Δz follows a Student-t fitted by ML to all unit × year-pair changes of the data
    (:func:`heavy_tail_fit`) — honest changes have heavier tails than a normal curve, and the
    fitted df follows them. Two-sided p.

    * ``yoy_jump``: BH over all changes (in :func:`check_all`, the year-wide family of every
      unit-level test), q < 0.05 → **medium**, reported in the later year. A single jump, however
      large, can be genuine (a new secretary, a reorganisation), so it is never **high**.
    * ``jump_reversal``: an up-and-back spike, ``s_t = min(z_t − z_{t−1}, z_t − z_{t+1})``, the
      rise into year t that is also given back the year after (a permanent step has ``s ≈ 0``).
      **Null**: ``s`` follows a Student-t fitted by ML to all unit-years with both neighbours
      (:func:`heavy_tail_fit`, fitted to the upper half: ``s`` is a minimum, so its lower tail is
      the longer one and says nothing about the upper); one-sided upper p. BH over those unit-years (in :func:`check_all`, the year-wide family):
      q < 0.01 → **high**, q < 0.05 → **medium**. Reported in t; ``statistic`` = the modified z
      of ``s``.

    There is no bypass of the multiple-testing control (no fixed modified-z bound).

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = modified z of the change (or the smaller of the two),
        ``p_value`` = raw p, ``threshold`` = BH q.
    """
    if totals is None or totals.empty:
        return _empty()
    t = _standardised(totals, col).sort_values(["unit_id", "year"])
    t = t.assign(prev=t.groupby("unit_id")["year"].shift(1), zprev=t.groupby("unit_id")["z"].shift(1))
    out = []
    ch = t.loc[t["prev"] == t["year"] - 1].copy()
    if len(ch) >= 10:
        ch["d"] = ch["z"] - ch["zprev"]
        ch["mz"] = modified_z(ch["d"].to_numpy())
        ch["p"] = _t_p(ch["d"].to_numpy(), heavy_tail_fit(ch["d"].to_numpy()), "two")
        ch["q"] = _bh(ch["p"].to_numpy())
        ch["sev"] = np.where(ch["q"] < ALPHA, "medium", "")
        for r in (ch if all_tests else ch.loc[ch["sev"] != ""]).itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "yoy_jump", "statistic": r.mz, "p_value": r.p,
                        "threshold": r.q, "severity": r.sev,
                        "ev": _ev("yoy_jump", z0=r.zprev, y0=int(r.prev), z1=r.z, d=r.d, mz=r.mz, q=r.q)})
        ch = ch.sort_values(["unit_id", "year"])
        sp = ch.assign(mz2=ch.groupby("unit_id")["mz"].shift(-1), zn=ch.groupby("unit_id")["z"].shift(-1),
                       y2=ch.groupby("unit_id")["year"].shift(-1))
        sp = sp.loc[(sp["y2"] == sp["year"] + 1)].copy()
        if len(sp) >= 10:
            sp["spike"] = np.minimum(sp["z"] - sp["zprev"], sp["z"] - sp["zn"])
            sp["stat"] = modified_z(sp["spike"].to_numpy())
            sp["pr"] = _t_p(sp["spike"].to_numpy(), heavy_tail_fit(sp["spike"].to_numpy(), side="greater"), "greater")
            sp["qr"] = _bh(sp["pr"].to_numpy())
            sp["sev"] = _severity_from_q(sp["qr"].to_numpy())
            for r in (sp if all_tests else sp.loc[sp["sev"] != ""]).itertuples():
                out.append({"year": r.year, "unit_id": r.unit_id, "check": "jump_reversal", "statistic": r.stat,
                            "p_value": r.pr, "threshold": r.qr, "severity": r.sev,
                            "ev": _ev("jump_reversal", z0=r.zprev, z1=r.z, y=int(r.year), mz1=r.mz, mz2=r.mz2, q=r.qr)})
    return _frame(out, lang)


_SELF_COLS = ("self_total", "self_score", "self_assessed", "自评分")


def adjustment_gaps(adjustments: pd.DataFrame, totals: pd.DataFrame | None = None,
                    materiality: float = MATERIALITY, lang: str = "zh", all_tests: bool = False) -> pd.DataFrame:
    """Self-reported vs verified (述职评议): units whose claim the verification cut most.

    If the adjustments table carries the self-assessed total (column ``self_total``; also
    accepted: ``self_score``, ``self_assessed``, ``自评分``), the gap is
    ``self_total − verified total`` with verified total = ``base + adjustment`` from
    ``totals``; otherwise the gap is ``−adjustment`` (points taken off by the verification).

    **Null**: the gap, centred on its year's median (honest optimism differs between years),
    follows a Student-t fitted by ML to all unit-years of the data (:func:`heavy_tail_fit`, upper
    half, scale floored at the recording resolution of the gaps, 10^-d of the shown decimals; this
    also handles MAD = 0). One-sided p (over-claiming). BH over all unit-years (in
    :func:`check_all`, the year-wide family of every unit-level test): q < 0.05 → **medium**;
    **high** needs q < 0.01 *and* a material gap ``gap ≥ materiality`` (default
    :data:`MATERIALITY` = 5 points, 5 % of the scale — the usual benchmark percentage for
    materiality in auditing, ISA 320).

    Returns
    -------
    DataFrame
        Findings ``adjustment_gap``; ``statistic`` = the gap in points, ``p_value`` = raw p,
        ``threshold`` = BH q.
    """
    if adjustments is None or adjustments.empty:
        return _empty()
    a = adjustments.copy()
    selfcol = next((c for c in _SELF_COLS if c in a.columns), None)
    a["adjustment"] = pd.to_numeric(a["adjustment"], errors="coerce")
    a = a.groupby(["year", "unit_id"], as_index=False).agg(
        adjustment=("adjustment", "sum"), **({"self_total": (selfcol, "last")} if selfcol else {}))
    if selfcol and totals is not None and not totals.empty:
        a = a.merge(totals[["year", "unit_id", "base"]], on=["year", "unit_id"], how="left")
        a["verified"] = a["base"] + a["adjustment"]
        a["self_total"] = pd.to_numeric(a["self_total"], errors="coerce")
        a["gap"] = a["self_total"] - a["verified"]
        res = 10.0 ** -shown_decimals(a["self_total"], 2)
        what = "adjustment_gap_self"
    else:
        a["gap"] = -a["adjustment"]
        a["self_total"] = np.nan
        a["verified"] = np.nan
        res = 10.0 ** -shown_decimals(a["adjustment"], 2)
        what = "adjustment_gap_cut"
    a = a.loc[a["gap"].notna()].copy()
    if len(a) < 10:
        return _empty()
    a["mz"] = a.groupby("year")["gap"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
    c = _centred(a["gap"], a["year"])
    a["p"] = _t_p(c, heavy_tail_fit(c, res=res, side="greater"), "greater")
    a["q"] = _bh(a["p"].to_numpy())
    a["sev"] = np.where((a["q"] < ALPHA_HIGH) & (a["gap"] >= materiality), "high",
                        np.where(a["q"] < ALPHA, "medium", ""))
    out = []
    for r in (a if all_tests else a.loc[a["sev"] != ""]).itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "adjustment_gap", "statistic": r.gap, "p_value": r.p,
                    "threshold": r.q, "severity": r.sev,
                    "ev": _ev(what, self=r.self_total, verified=r.verified, gap=r.gap, mz=r.mz, q=r.q)})
    return _frame(out, lang)


#: Widest window scanned above the first non-winner: 1 point (1 % of the 100-point scale).
BUNCH_WINDOW = 1.0
#: Width of the scanned windows' steps (points): windows (c', c' + 0.1 j], j = 1 … 10.
BUNCH_RES = 0.1
#: Bandwidth ``h`` of the local-polynomial fit of the empirical CDF below the cut (points).
BUNCH_BAND = 5.0
#: Degree of that local polynomial (1: local linear; the fitted density is its slope).
BUNCH_DEGREE = 1
#: Smoothed-bootstrap draws of :func:`cut_bunching` (p resolution 1/1000).
BUNCH_DRAWS = 999


def _ecdf_rows(s: np.ndarray) -> np.ndarray:
    """Empirical CDF ``#{x ≤ s_i} / n`` at each value of the row-sorted ``s`` (B, n), ties included."""
    B, n = s.shape
    off = (np.arange(B) * (np.ptp(s) + 10.0 if s.size else 1.0))[:, None]
    flat = (s - s.min() + off).ravel()
    idx = np.searchsorted(flat, flat + 1e-7, side="right") - np.repeat(np.arange(B) * n, n)
    return idx.reshape(B, n) / n


def lp_cdf_below(v, top_n: int, h: float = BUNCH_BAND, degree: int = BUNCH_DEGREE) -> tuple[np.ndarray, np.ndarray]:
    """Local-polynomial fit of the empirical CDF just below the first non-winner (CJM estimator).

    For each row of ``v`` (B, n) the cut ``c'`` is the highest total ranked below ``top_n``
    (ties at the cut are all winners). The empirical CDF ``F̂(x_i)`` of the totals
    ``c' − h ≤ x_i ≤ c'`` (the half-open side holding ``c'``; winners are not used) is regressed
    on ``1, (x_i − c'), …, (x_i − c')^degree`` by weighted least squares with the triangular
    kernel ``(1 − |x_i − c'| / h)₊`` — the local-polynomial density estimator of Cattaneo,
    Jansson & Ma (2020, *JASA* 115:1449): the first-order coefficient is the density at ``c'``
    from below, and ``n Σ_{j≥1} β_j w^j`` the count the density below predicts in
    ``(c', c' + w]``.

    Returns
    -------
    (beta (B, degree + 1), c' (B,))
        NaN rows where fewer than ``degree + 3`` totals lie in the band or the fit is singular.
    """
    v = np.atleast_2d(np.asarray(v, dtype=float))
    s = np.sort(v, axis=1)
    F = _ecdf_rows(s)
    desc = s[:, ::-1]
    cut = desc[:, top_n - 1:top_n]
    cp = np.where(desc < cut - 1e-9, desc, -np.inf).max(axis=1)
    d = s - cp[:, None]
    side = (d <= 1e-9) & (d >= -h)
    w = np.where(side, np.clip(1 - np.abs(d) / h, 0, None), 0.0)
    k = degree + 1
    m = np.stack([(w * d ** j).sum(1) for j in range(2 * k - 1)], -1)
    M = np.stack([m[:, i:i + k] for i in range(k)], 1)
    R = np.stack([(w * d ** j * F).sum(1) for j in range(k)], -1)
    beta = np.full((len(v), k), np.nan)
    ok = (side.sum(1) >= degree + 3) & np.isfinite(cp)
    if ok.any():
        det = np.linalg.det(M[ok])
        idx = np.flatnonzero(ok)[np.abs(det) > 1e-12]
        beta[idx] = np.linalg.solve(M[idx], R[idx][..., None])[..., 0]
    return beta, np.where(np.isfinite(cp), cp, np.nan)


def _bunch_scan(v: np.ndarray, top_n: int) -> tuple[np.ndarray, ...]:
    """Scan statistic of :func:`cut_bunching` for each row of ``v`` (B, n).

    Returns ``(min_j p_j, p (B, J), K (B, J), λ (B, J), c' (B,), f₋ (B,))``: ``K_j`` totals in
    the half-open window ``(c', c' + j × BUNCH_RES]``, ``λ_j`` the count the density below the
    cut predicts there (:func:`lp_cdf_below`, floored at 10⁻³), ``p_j = P(Poisson(λ_j) ≥ K_j)``.
    """
    beta, cp = lp_cdf_below(v, top_n)
    n = v.shape[1]
    ws = BUNCH_RES * np.arange(1, int(round(BUNCH_WINDOW / BUNCH_RES)) + 1)
    cum = sum(beta[:, j:j + 1] * ws ** j for j in range(1, beta.shape[1]))
    lam = n * np.maximum(cum, 1e-3)
    d = v - cp[:, None]
    K = ((d[:, :, None] > 1e-9) & (d[:, :, None] <= ws[None, None, :] + 1e-9)).sum(1)
    p = stats.poisson.sf(K - 1, lam)
    p = np.where(np.isfinite(lam), p, np.nan)
    return np.nanmin(np.where(np.isnan(p), np.inf, p), axis=1), p, K, lam, cp, beta[:, 1]


def cut_bunching(totals: pd.DataFrame, top_n: int = config.TOP_N, col: str = "total", seed: int = config.SEED,
                 n_draws: int = BUNCH_DRAWS, lang: str = "zh") -> pd.DataFrame:
    """Bunching of totals just above the winners' line: excess mass over the density below the cut.

    Units that fake their way over the line need only beat the best non-winner, so they pile up
    just above its total ``c'``: the density jumps up at ``c'``. The statistic compares the
    counts ``K_j`` in the half-open windows ``(c', c' + 0.1 j]``, ``j = 1 … 10`` (up to
    :data:`BUNCH_WINDOW` = 1 point), with the counts ``λ_j`` the density just *below* the cut
    predicts — the Cattaneo–Jansson–Ma local-polynomial estimate from the totals in
    ``[c' − h, c']`` (:func:`lp_cdf_below`, h = :data:`BUNCH_BAND`) — and takes the scan minimum
    ``T = min_j P(Poisson(λ_j) ≥ K_j)``.

    **Null** (calibrated by simulation, not asymptotic): the year's totals come from a smooth
    density — the Gaussian kernel density estimate of the year's own totals with Silverman's
    bandwidth ``0.9 min(sd, IQR/1.34) n^(−1/5)``, which follows skew and curvature. ``n_draws``
    samples of the same size are drawn from it (smoothed bootstrap, Silverman 1986 §6.4),
    rounded to the shown precision of the totals, and ``c'`` and ``T`` are recomputed on each
    (the cut re-chosen by rank, as in the data): p = ``(1 + #{T* ≤ T}) / (1 + n_draws)``. So the
    scan over windows, the estimated density and the rank-chosen cut are all accounted for.
    Its false-alarm rate on honest years of several shapes is measured in
    ``benchmarks/bench_integrity.py``.

    Why not the ``rddensity`` package (checked on PyPI: version 3.0): it is GPL-3.0 and pulls
    plotnine and sympy into the product, and its asymptotic normal p assumes many totals on
    each side of the cut and no mass points (here ≈ 10 totals within 3 points, on a 0.1 grid,
    with the cut chosen by rank). The same estimator with a simulated null is calibrated at
    these sizes.

    Family: one test per year, Benjamini–Hochberg: q < 0.01 → **high**, q < 0.05 →
    **medium**; a year whose own p < 0.05 but whose q ≥ 0.05 is a **low** (screening) finding.
    The finding belongs to the year (``unit_id`` empty); for high/medium years the winners in
    the window of the smallest ``p_j`` are listed as **low** findings too (context: bunched units
    cannot be told apart one by one).

    Returns
    -------
    DataFrame
        Findings ``cut_bunching``: ``statistic`` = count ``K`` in the window of the smallest
        ``p_j``, ``threshold`` = the expected count ``λ`` there, ``p_value`` = the bootstrap p.
    """
    if totals is None or totals.empty:
        return _empty()
    rows = []
    for year, tt in totals.groupby("year"):  # loop over years only (a handful)
        tt = tt.loc[tt[col].notna()]
        v = tt[col].astype(float).to_numpy()
        n = len(v)
        if n < top_n + 10:
            continue
        t_obs, p_j, K, lam, cp, fm = _bunch_scan(v[None, :], top_n)
        if not np.isfinite(fm[0]):
            continue  # too few totals below the line to estimate a density
        sd = float(np.std(v, ddof=1))
        iqr = float(np.subtract(*np.percentile(v, [75, 25])))
        bw = 0.9 * min(sd, iqr / 1.34 if iqr > 0 else sd) * n ** (-0.2)
        dec = shown_decimals(v, 3)
        rng = np.random.default_rng([int(seed), int(year)])
        sim = np.round(v[rng.integers(0, n, (int(n_draws), n))] + bw * rng.standard_normal((int(n_draws), n)), dec)
        t_sim = _bunch_scan(sim, top_n)[0]
        p = (1 + np.count_nonzero(t_sim <= t_obs[0] * (1 + 1e-9))) / (n_draws + 1)
        b = int(np.nanargmin(p_j[0]))
        w = (b + 1) * BUNCH_RES
        win = tt.loc[(tt[col] > cp[0] + 1e-9) & (tt[col] <= cp[0] + w + 1e-9)].sort_values(col, ascending=False)
        rows.append((year, cp[0], w, int(K[0, b]), float(lam[0, b]), p, win))
    if not rows:
        return _empty()
    q = _bh(np.array([r[5] for r in rows]))
    out = []
    for (year, cp, w, k, lam, p, win), qq in zip(rows, q):
        ev = dict(k=int(k), h=w, cp=cp, lam=lam, band=BUNCH_BAND, p=p, q=qq, draws=int(n_draws))
        if not qq < ALPHA:
            if p < ALPHA:  # screening tier: significant in its own year, not across the family
                out.append({"year": year, "unit_id": "", "check": "cut_bunching", "statistic": k, "p_value": p,
                            "threshold": lam, "severity": "low", "ev": _ev("cut_bunching", **ev)})
            continue
        out.append({"year": year, "unit_id": "", "check": "cut_bunching", "statistic": k, "p_value": p,
                    "threshold": lam, "severity": "high" if qq < ALPHA_HIGH else "medium",
                    "ev": _ev("cut_bunching", **ev)})
        for u, val in zip(win["unit_id"], win[col].astype(float)):
            out.append({"year": year, "unit_id": u, "check": "cut_bunching", "statistic": k, "p_value": p,
                        "threshold": lam, "severity": "low",
                        "ev": _ev("cut_bunching_unit", total=val, k=int(k), h=w, cp=cp, p=p)})
    return _frame(out, lang)


# ----------------------------------------------------------------------------- all together
#: Unit-level statistical checks whose p-values form one family per year in :func:`check_all`.
UNIT_TESTS = ("digit_preference", "low_variance", "yoy_jump", "jump_reversal", "adjustment_gap")


def _year_family(parts: list[pd.DataFrame], lang: str) -> pd.DataFrame:
    """Severity of the unit-level statistical tests from one BH family per year.

    Procedure: every unit-level p-value of :data:`UNIT_TESTS` of a year (all tests, significant
    or not) is adjusted together with Benjamini–Hochberg; q < 0.01 → **high**, q < 0.05 →
    **medium**, else dropped. Caps stated by the checks stay: ``yoy_jump`` is at most medium,
    ``adjustment_gap`` is high only when also material (≥ :data:`MATERIALITY`). ``threshold`` and
    the evidence's q become the year-wide q.
    """
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else _empty()
    if df.empty:
        return df
    q = df.groupby("year")["p_value"].transform(lambda v: pd.Series(_bh(v.to_numpy()), index=v.index)).to_numpy()
    sev = _severity_from_q(q)
    sev = np.where((df["check"] == "yoy_jump") & (sev == "high"), "medium", sev)
    sev = np.where((df["check"] == "adjustment_gap") & (sev == "high") & (df["statistic"] < MATERIALITY), "medium", sev)
    df = df.assign(threshold=q, severity=sev)
    keep = df["severity"] != ""
    df = df.loc[keep].copy()
    ev, data = [], []
    for s, qq in zip(df["evidence_data"], df["threshold"]):
        d = json.loads(s)
        d["q"] = float(qq)
        key = d.pop("key")
        ev.append(_render(key, d, lang))
        data.append(json.dumps({"key": key, **d}, ensure_ascii=False))
    df["evidence"], df["evidence_data"] = ev, data
    return df


CALIBRATION = Path(__file__).resolve().parent / "calibration" / "integrity.csv"


def false_alarm_rates(lang: str = "zh", path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The measured false-alarm rate of every check, for the report's methods appendix.

    Reads ``pipeline/calibration/integrity.csv`` (written by ``benchmarks/bench_integrity.py``:
    honest worlds of several shapes, nothing planted; planted twins for recall) and returns it
    with translated headers and check names (labels ``int_cal_*``, ``int_chk_*``). Rates and
    recall are in percent. Row ``any`` is the share of unit-years with a finding of any check.

    Returns
    -------
    DataFrame
        Columns (in ``lang``): check, severity, counted per, false-alarm rate (%), honest cases,
        recall (%).
    """
    check_lang(lang)
    p = Path(path) if path is not None else CALIBRATION
    if not p.exists():
        raise PipelineError(f"{p}: calibration table not found — run `python -m pipeline bench --only integrity`")
    c = pd.read_csv(p)
    return pd.DataFrame({
        t("int_cal_check", lang): [t(f"int_chk_{k}", lang) for k in c["check"]],
        t("int_cal_severity", lang): [t(f"int_sev_{s}", lang) + ("" if s == "high" else "+") for s in c["severity"]],
        t("int_cal_per", lang): [t(f"int_cal_per_{x}", lang) for x in c["per"]],
        t("int_cal_rate", lang): 100 * c["false_alarm_rate_per_unit_year"].astype(float),
        t("int_cal_n", lang): c["n_unit_years"].astype(int),
        t("int_cal_recall", lang): 100 * c["recall"].astype(float),
    })


def calibration_sentence(lang: str = "zh", path: str | os.PathLike | None = None) -> str:
    """One sentence for the methods appendix: the measured false-alarm rates (label ``int_cal_sentence``)."""
    check_lang(lang)
    p = Path(path) if path is not None else CALIBRATION
    if not p.exists():
        raise PipelineError(f"{p}: calibration table not found — run `python -m pipeline bench --only integrity`")
    c = pd.read_csv(p)
    a = c.loc[c["check"] == "any"].set_index("severity")
    return t("int_cal_sentence", lang, n_shapes=len(str(a["shapes"].iloc[0]).split(";")), n=int(a["n_unit_years"].iloc[0]),
             high=100 * float(a.loc["high", "false_alarm_rate_per_unit_year"]),
             medium=100 * float(a.loc["medium", "false_alarm_rate_per_unit_year"]))


def check_all(tables: dict[str, pd.DataFrame], top_n: int = config.TOP_N, seed: int = config.SEED,
              lang: str = "zh") -> pd.DataFrame:
    """Run every check on processed ``tables`` (keys: scores, items, given, adjustments).

    Multiple testing: the unit-level statistical tests (:data:`UNIT_TESTS`) of a year form one
    family, adjusted together by Benjamini–Hochberg (:func:`_year_family`), so the chapter's
    headline count of flagged units has one stated false-discovery level; item-level digit tests
    (one family of item-years) and the cut-bunching test (one family of years) keep their own.
    Deterministic checks are not tests: beyond shown precision they are **high**.

    ``lang`` is the language of the ``evidence`` sentences (``zh`` default, or ``en``).

    Returns
    -------
    DataFrame
        All findings (:data:`COLUMNS`) sorted by severity, year, check, unit and item.
    """
    scores, items = tables["scores"], tables["items"]
    adj = tables.get("adjustments")
    tot = score.totals(scores, items, adjustments=adj, top_n=top_n)
    dp = digit_preference(scores, items, seed=seed, lang=lang, all_tests=True)
    fm = full_marks(scores, items, lang=lang, all_tests=True)
    unit_tests = [d.loc[d["check"].isin(UNIT_TESTS)] for d in (dp, fm)]
    unit_tests += [yoy_jumps(tot, lang=lang, all_tests=True), adjustment_gaps(adj, tot, lang=lang, all_tests=True)]
    parts = [
        monthly_vs_annual(scores, items, lang=lang),
        given_vs_recomputed(tables.get("given"), scores, items, lang=lang),
        dp.loc[~dp["check"].isin(UNIT_TESTS)],
        fm.loc[~fm["check"].isin(UNIT_TESTS)],
        _year_family(unit_tests, lang),
        cut_bunching(tot, top_n=top_n, seed=seed, lang=lang),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    df = pd.concat(parts, ignore_index=True)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    df = df.assign(_s=df["severity"].map(order)).sort_values(
        ["_s", "year", "check", "unit_id", "item"], kind="stable").drop(columns="_s")
    return df.reset_index(drop=True)


def evidence_text(findings: pd.DataFrame, lang: str = "zh") -> pd.Series:
    """The ``evidence`` sentences of ``findings`` re-rendered in ``lang`` from ``evidence_data``.

    Works on a frame read back from ``integrity.csv`` (``evidence_data`` is JSON text); rows
    without ``evidence_data`` keep their ``evidence``.

    Returns
    -------
    Series
        One sentence per row, index of ``findings``.
    """
    check_lang(lang)
    if not len(findings):
        return pd.Series([], index=findings.index, dtype=object)
    old = findings["evidence"] if "evidence" in findings else pd.Series("", index=findings.index)
    if "evidence_data" not in findings:
        return old.astype(object)
    out = []
    for data, prev in zip(findings["evidence_data"], old):
        if isinstance(data, str) and data.startswith("{"):
            d = json.loads(data)
            out.append(_render(d.pop("key"), d, lang))
        else:
            out.append(prev)
    return pd.Series(out, index=findings.index, dtype=object)


def summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Counts of findings per check and severity: columns ``check``, ``high``, ``medium``, ``low``, ``units``."""
    if findings.empty:
        return pd.DataFrame(columns=["check", *SEVERITIES, "units"])
    tab = pd.crosstab(findings["check"], findings["severity"]).reindex(columns=list(SEVERITIES), fill_value=0)
    units = findings.loc[findings["unit_id"] != ""].groupby("check")["unit_id"].nunique()
    return tab.assign(units=units.reindex(tab.index).fillna(0).astype(int)).reset_index()


def headline(findings: pd.DataFrame) -> dict:
    """Numbers of high / medium / low findings and of units involved (JSON-able).

    ``units_flagged`` counts the units named by a high or medium finding. On the output of
    :func:`check_all` the statistical ones among them come from one Benjamini–Hochberg family per
    year (all unit-level tests of the year, :func:`_year_family`), so the headline count has one
    stated false-discovery level (5 % for medium-or-high, 1 % for high); deterministic findings
    are beyond the shown precision. Measured false-alarm rates: :func:`false_alarm_rates`.
    """
    sev = findings["severity"].value_counts() if len(findings) else pd.Series(dtype=int)
    units = findings.loc[(findings["unit_id"] != "") & (findings["severity"] != "low"), "unit_id"].nunique() if len(findings) else 0
    return {"n_high": int(sev.get("high", 0)), "n_medium": int(sev.get("medium", 0)),
            "n_low": int(sev.get("low", 0)), "units_flagged": int(units)}


def reading(kind: str, lang: str = "zh", **data) -> str:
    """One sentence of reading generated from the numbers (labels in ``labels/integrity.yaml``).

    ``kind``: ``counts`` (findings=), ``monthly`` (findings=, year=), ``digits`` (digits=,
    findings=, year=), ``given`` (findings=, year=), ``bunch`` (totals=, findings=, year=, top_n=).
    """

    f = data.get("findings")
    y = data.get("year")
    fy = f.loc[f["year"] == y] if f is not None and y is not None and len(f) else f
    if kind == "counts":
        h = headline(f)
        if not len(f):
            return t("int_none", lang)
        return t("int_reading_counts", lang, high=h["n_high"], medium=h["n_medium"], low=h["n_low"], units=h["units_flagged"])
    if kind == "monthly":
        return t("int_reading_monthly", lang, year=y, k=int((fy["check"] == "monthly_mismatch").sum()))
    if kind == "digits":
        d = data["digits"]
        a = d.loc[d["group"] == "all"]
        share = float(a.loc[a["digit"].isin([0, 5]), "share"].sum())
        k = int(((fy["check"] == "digit_preference") & (fy["severity"] != "low")).sum())
        return t("int_reading_digits", lang, year=y, share=share, k=k)
    if kind == "given":
        return t("int_reading_given", lang, year=y, k_total=int((fy["check"] == "given_total_mismatch").sum()),
                 k_rank=int(((fy["check"] == "given_rank_mismatch") & (fy["severity"] == "high")).sum()))
    if kind == "bunch":
        tot = data["totals"]
        top_n = int(data.get("top_n", config.TOP_N))
        v = np.sort(tot.loc[tot["year"] == y, "total"].astype(float).dropna().to_numpy())[::-1]
        below = v[v < v[top_n - 1] - 1e-9] if len(v) >= top_n else v[:0]
        if not len(below):
            return t("int_none", lang)
        cp = float(below[0])
        k = int(((v > cp + 1e-9) & (v <= cp + BUNCH_WINDOW + 1e-9)).sum())
        hit = fy.loc[(fy["check"] == "cut_bunching") & (fy["unit_id"] == "")] if fy is not None and len(fy) else fy
        verdict = (t("int_bunch_flagged", lang, sev=t(f"int_sev_{hit['severity'].iloc[0]}", lang), p=float(hit["p_value"].iloc[0]))
                   if hit is not None and len(hit) else t("int_bunch_not_flagged", lang))
        return t("int_reading_bunch", lang, year=y, cut=cp, h=BUNCH_WINDOW, k=k, verdict=verdict)
    raise PipelineError(f"reading: unknown kind {kind!r}")


def _read(folder: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    if not (folder / f"{name}.parquet").exists():
        if required:
            raise PipelineError(f"{folder / (name + '.parquet')}: not found — run `python -m pipeline clean` first")
        return None
    return io.read_table(folder, name)


def load_tables(processed_dir: str | os.PathLike, years=None) -> dict[str, pd.DataFrame]:
    """Read the processed tables the checks need (scores, items; given, adjustments if present)."""
    folder = Path(processed_dir)
    out = {}
    for name, req in (("scores", True), ("items", True), ("given", False), ("adjustments", False)):
        df = _read(folder, name, req)
        if df is not None:
            df = _years(df, years)
        out[name] = df
    if out["scores"].empty:
        raise PipelineError(f"{folder}: no scores for the requested years")
    return out


def run(raw_dir: str | os.PathLike | None, processed_dir: str | os.PathLike, years=None,
        top_n: int = config.TOP_N, seed: int = config.SEED, lang: str = "zh") -> pd.DataFrame:
    """Run every check on the processed tables and write ``<processed_dir>/integrity.csv``.

    Parameters
    ----------
    raw_dir : path or None
        The raw folder (only read; kept for the CLI contract — every check works on the
        processed tables, which keep the workbook's own totals in ``given``).
    processed_dir : path
        Folder written by :func:`pipeline.clean.run`.
    years : (first, last) or int, optional
        Restrict to these years.
    lang : {"zh", "en"}
        Language of the ``evidence`` column (Chinese by default); :func:`evidence_text`
        re-renders it in the other language from ``evidence_data``.

    Returns
    -------
    DataFrame
        The findings (:data:`COLUMNS`), also written atomically as ``integrity.csv``.
    """
    check_lang(lang)
    tables = load_tables(processed_dir, years)
    df = check_all(tables, top_n=top_n, seed=seed, lang=lang)
    io.write_csv(df, Path(processed_dir) / "integrity.csv")
    return df
