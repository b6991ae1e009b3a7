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
* Deterministic arithmetic checks (annual vs monthly, given 总分/名次 vs recomputed, full marks on
  every item): a discrepancy beyond rounding is **high** — honest arithmetic cannot produce it.
* Statistical checks run many tests at once; the *family* of each is stated in its docstring and
  p-values are adjusted with Benjamini–Hochberg (``scipy.stats.false_discovery_control``;
  Benjamini & Hochberg 1995). BH q < :data:`ALPHA_HIGH` (0.01) → **high**; q < :data:`ALPHA`
  (0.05) → **medium**. Robust outlier checks additionally report units beyond the modified
  z-score bound 3.5 (Iglewicz & Hoaglin 1993) as **medium** even if BH does not confirm them.
* **low** marks a consequence of another finding (e.g. a rank that merely follows a falsified
  total) or an incomplete record, for context only.

Robust statistics: the modified z-score is ``0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin,
*How to Detect and Handle Outliers*, 1993); under normality it is approximately standard normal,
so its two-sided normal tail gives the p-value fed to BH.
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
#: Modified z-score bound for a robust outlier (Iglewicz & Hoaglin 1993).
MODZ = 3.5
#: Annual points of a 计分 item are the sum of the monthly values rounded to 0.1 (CONTRACT);
#: anything further away than half a rounding unit (plus float noise) cannot be rounding.
MONTHLY_TOL = 0.05 + 1e-6
#: Given 总分 is the recomputed base rounded to 2 decimals.
TOTAL_TOL = 0.005 + 1e-6
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


def _norm_p(z: np.ndarray, side: str = "two") -> np.ndarray:
    z = np.asarray(z, dtype=float)
    if side == "two":
        return 2 * stats.norm.sf(np.abs(z))
    if side == "greater":
        return stats.norm.sf(z)
    return stats.norm.cdf(z)


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


def digit_preference(scores: pd.DataFrame, items: pd.DataFrame, seed: int = config.SEED,
                     lang: str = "zh") -> pd.DataFrame:
    """Terminal-digit preference in the annual points of 计分 items (heaping on 0/5 + chi-square).

    The terminal digit is the tenths digit (points are recorded to 0.1). Graded items
    (好/较好/一般) have no free digit and are left out.

    Why not a plain uniform null: an item's points cluster within about a point of a typical
    value, so its tenths digit is *not* uniform even in honest data (checked on the sample
    world: a uniform chi-square flags dozens of clean units). The null is therefore built from
    the same items' digits among the other units.

    * ``digit_preference`` — one test per unit and year (family: all unit-years, BH). The count
      of digits 0/5 is compared with its exact Poisson-binomial null, each item contributing
      its leave-one-out peer share of 0/5 (add-one smoothed). This is the Whipple idea (UN
      *Manual II*, 1955) made exact for a handful of digits. The statistic reported is Pearson's
      chi-square of the unit's ten digit counts against the peer-expected counts (9 df), with
      the Whipple-style index in the evidence.
    * ``digit_preference_item`` — one test per item and year (family: all item-years, BH): the
      share of 0/5 among all units against 1/5 (values at 0 or at the maximum are censored by the
      scale, not chosen, and are left out here), exact one-sided binomial test. 1/5 is the
      local-smoothness null of Whipple's index (each 0/5 value has four neighbours at ±0.1,
      ±0.2); the statistic is the chi-square of the ten digits against uniform
      (``scipy.stats.chisquare``), for information.

    Returns
    -------
    DataFrame
        Findings (:data:`COLUMNS`): ``statistic`` = chi-square, ``p_value`` = the heaping test's
        p, ``threshold`` = its BH q-value; evidence gives n, the Whipple index and the share of
        0/5 expected from peers.
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok") & (s["method"] == "points")].copy()
    if s.empty:
        return _empty()
    s["digit"] = terminal_digits(s["points"])
    pts = s["points"].astype(float)
    interior = ((pts > 0) & (pts < s["max_points"] - 1e-9)).to_numpy()
    s["h"] = s["digit"].isin((0, 5)).astype(float)
    s["_interior"] = interior
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
        for i in np.flatnonzero(sev != ""):
            y, u = k.index[i]
            out.append({"year": y, "unit_id": u, "check": "digit_preference", "statistic": chi2[i],
                        "p_value": p_heap[i], "threshold": q[i], "severity": sev[i],
                        "ev": _ev("digit_preference", k=k.iloc[i], n=nn[i], e05=e05[i],
                                  whipple=100 * k.iloc[i] / nn[i] / 0.2, chi2=chi2[i], q=q[i])})
    # ---- per item: local-smoothness null 1/5 (values at 0 or at the maximum are censored)
    si = s.loc[s["_interior"]]
    dig = pd.crosstab([si["year"], si["item_id"]], si["digit"]).reindex(columns=range(10), fill_value=0)
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
    """Terminal-digit counts of annual 计分 points (the data behind :func:`digit_preference`).

    Returns
    -------
    DataFrame
        ``group`` (``all`` or ``flagged`` — the ``units`` given), ``digit`` 0…9, ``n`` (count),
        ``share`` (percent of the group's digits).
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok") & (s["method"] == "points")]
    if year is not None:
        s = s.loc[s["year"] == int(year)]
    pts = s["points"].astype(float)
    s = s.loc[(pts > 0) & (pts < s["max_points"] - 1e-9)]
    out = []
    groups = [("all", s)]
    if units:
        groups.append(("flagged", s.loc[s["unit_id"].isin(units)]))
    for name, part in groups:
        n = np.bincount(terminal_digits(part["points"]), minlength=10)[:10] if len(part) else np.zeros(10, int)
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


def given_vs_recomputed(given: pd.DataFrame, scores: pd.DataFrame, items: pd.DataFrame,
                        tol: float = TOTAL_TOL, lang: str = "zh") -> pd.DataFrame:
    """The workbook's own 总分 / 名次 vs the values recomputed from the items.

    The given 总分 is defined as the pre-adjustment ``base`` of :func:`pipeline.score.totals`
    (default NA policy) rounded to 2 decimals, and 名次 as its competition rank within the year.

    * ``given_total_mismatch`` (**high**): ``|given − round(base, 2)| > tol`` (0.005).
    * ``given_rank_mismatch``: the given rank differs from the recomputed rank. **high** when it
      is not even the rank of the given totals among themselves (the rank itself was altered);
      **low** when it is (the rank only follows a falsified total of this or another unit).

    Returns
    -------
    DataFrame
        Findings: ``statistic`` = given − recomputed (points or rank places), ``threshold`` = tol.
    """
    if given is None or given.empty:
        return _empty()
    t = score.totals(scores, items)
    t = t[["year", "unit_id", "base"]].assign(rec_total=lambda d: d["base"].round(2))
    t["rec_rank"] = t.groupby("year")["rec_total"].transform(lambda v: score.rank(v.to_numpy(), decimals=2))
    g = given.merge(t, on=["year", "unit_id"], how="inner")
    gt = pd.to_numeric(g["given_total"], errors="coerce")
    gr = pd.to_numeric(g["given_rank"], errors="coerce")
    g = g.assign(gt=gt, gr=gr)
    g["self_rank"] = g.groupby("year")["gt"].transform(lambda v: score.rank(v.to_numpy(), decimals=2))
    out = []
    dt = g["gt"] - g["rec_total"]
    for r in g.assign(d=dt).loc[dt.abs() > tol].itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "given_total_mismatch", "statistic": r.d,
                    "threshold": tol, "severity": "high",
                    "ev": _ev("given_total_mismatch", given=r.gt, recomputed=r.rec_total, diff=r.d)})
    dr = g["gr"] - g["rec_rank"]
    for r in g.assign(d=dr).loc[g["gr"].notna() & (dr != 0)].itertuples():
        own = r.gr == r.self_rank
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "given_rank_mismatch", "statistic": r.d,
                    "threshold": 0.0, "severity": "low" if own else "high",
                    "ev": _ev("given_rank_follows" if own else "given_rank_altered", given=int(r.gr),
                              recomputed=int(r.rec_rank), own=int(r.self_rank))})
    return _frame(out, lang)


def full_marks(scores: pd.DataFrame, items: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """Units at full marks on every applicable item, or with implausibly low spread.

    * ``full_marks`` (**high**): every applicable (``ok``) annual item at its maximum.
    * ``low_variance``: the unit's standard deviation of ``points / max`` across its items is a
      low robust outlier among the year's units (modified z < −3.5, **medium**; one-sided normal
      tail p, BH over the family of all unit-years with q < 0.01 → **high**).

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = share of items at full marks (``full_marks``) or the modified z
        of the spread (``low_variance``).
    """
    s = _points_items(scores, items)
    s = s.loc[(s["period"].astype(str) == "Y") & (s["status"] == "ok")]
    if s.empty:
        return _empty()
    x = s["points"].astype(float) / s["max_points"]
    s = s.assign(x=x, full=(s["points"].astype(float) >= s["max_points"] - 1e-9))
    g = s.groupby(["year", "unit_id"]).agg(n=("x", "size"), share_full=("full", "mean"), sd=("x", "std")).reset_index()
    out = []
    for r in g.loc[(g["share_full"] >= 1.0) & (g["n"] >= 2)].itertuples():
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "full_marks", "statistic": 1.0, "threshold": 1.0,
                    "severity": "high", "ev": _ev("full_marks", n=r.n)})
    rest = g.loc[g["share_full"] < 1.0].copy()
    if len(rest):
        rest["mz"] = rest.groupby("year")["sd"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
        rest["p"] = _norm_p(rest["mz"].to_numpy(), "less")
        rest["q"] = _bh(rest["p"].to_numpy())
        flag = rest.loc[(rest["mz"] < -MODZ) | (rest["q"] < ALPHA_HIGH)]
        for r in flag.itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "low_variance", "statistic": r.mz,
                        "p_value": r.p, "threshold": -MODZ, "severity": "high" if r.q < ALPHA_HIGH else "medium",
                        "ev": _ev("low_variance", n=r.n, sd=r.sd, mz=r.mz, share=100 * r.share_full)})
    return _frame(out, lang)


def _standardised(totals: pd.DataFrame, col: str = "base") -> pd.DataFrame:
    t = totals[["year", "unit_id", col]].copy()
    g = t.groupby("year")[col]
    t["z"] = (t[col] - g.transform("mean")) / g.transform("std")
    return t


def yoy_jumps(totals: pd.DataFrame, col: str = "base", lang: str = "zh") -> pd.DataFrame:
    """Year-over-year jumps of a unit's standing, and jumps followed by a reversal.

    Item sets and maxima change between years, so a unit's standing is compared through its
    within-year z-score of ``col`` (default the pre-adjustment ``base``). For each unit and pair
    of consecutive years the change Δz is scored against all changes with the modified z-score.

    * ``yoy_jump``: |modified z| > 3.5 or BH q < 0.05 (two-sided normal p, family: all unit ×
      year-pair changes) → **medium**, reported in the later year. A single jump, however large,
      can be genuine (a new secretary, a reorganisation), so it is never **high** on its own;
      the fake-number signature is the jump that falls back, below.
    * ``jump_reversal``: the change into year t and the change out of it are of opposite sign and
      both large; statistic = the smaller |modified z|, p = the larger of the two p-values (an
      intersection-union test, Berger 1982), BH over all unit-years with both changes; statistic
      > 3.5 → **medium**, q < 0.01 → **high**. Reported in the spike year t.

    Returns
    -------
    DataFrame
        Findings; ``statistic`` = modified z of the change (or spike), ``p_value`` = raw p,
        ``threshold`` = 3.5.
    """
    if totals is None or totals.empty:
        return _empty()
    t = _standardised(totals, col).sort_values(["unit_id", "year"])
    prev = t.groupby("unit_id")["year"].shift(1)
    zprev = t.groupby("unit_id")["z"].shift(1)
    nxt = t.groupby("unit_id")["year"].shift(-1)
    znext = t.groupby("unit_id")["z"].shift(-1)
    t = t.assign(prev=prev, zprev=zprev, nxt=nxt, znext=znext)
    out = []
    ch = t.loc[t["prev"] == t["year"] - 1].copy()
    if len(ch) >= 5:
        ch["d"] = ch["z"] - ch["zprev"]
        ch["mz"] = modified_z(ch["d"].to_numpy())
        ch["p"] = _norm_p(ch["mz"].to_numpy())
        ch["q"] = _bh(ch["p"].to_numpy())
        for r in ch.loc[(ch["mz"].abs() > MODZ) | (ch["q"] < ALPHA)].itertuples():
            out.append({"year": r.year, "unit_id": r.unit_id, "check": "yoy_jump", "statistic": r.mz, "p_value": r.p,
                        "threshold": MODZ, "severity": "medium",
                        "ev": _ev("yoy_jump", z0=r.zprev, y0=int(r.prev), z1=r.z, d=r.d, mz=r.mz, q=r.q)})
        # jump then reversal: the change into year t and the change out of it are both large and
        # of opposite sign. Intersection-union test (Berger 1982): p = max of the two p-values.
        ch = ch.sort_values(["unit_id", "year"])
        nxt_mz = ch.groupby("unit_id")["mz"].shift(-1)
        nxt_p = ch.groupby("unit_id")["p"].shift(-1)
        nxt_y = ch.groupby("unit_id")["year"].shift(-1)
        sp = ch.assign(mz2=nxt_mz, p2=nxt_p, y2=nxt_y)
        sp = sp.loc[(sp["y2"] == sp["year"] + 1)].copy()
        if len(sp):
            opposite = np.sign(sp["mz"]) != np.sign(sp["mz2"])
            sp["stat"] = np.where(opposite, np.minimum(sp["mz"].abs(), sp["mz2"].abs()), 0.0)
            sp["pr"] = np.where(opposite, np.maximum(sp["p"], sp["p2"]), 1.0)
            sp["qr"] = _bh(sp["pr"].to_numpy())
            for r in sp.loc[(sp["stat"] > MODZ) | (sp["qr"] < ALPHA_HIGH)].itertuples():
                out.append({"year": r.year, "unit_id": r.unit_id, "check": "jump_reversal", "statistic": r.stat,
                            "p_value": r.pr, "threshold": MODZ, "severity": "high" if r.qr < ALPHA_HIGH else "medium",
                            "ev": _ev("jump_reversal", z0=r.zprev, z1=r.z, y=int(r.year), mz1=r.mz, mz2=r.mz2, q=r.qr)})
    return _frame(out, lang)


_SELF_COLS = ("self_total", "self_score", "self_assessed", "自评分")


def adjustment_gaps(adjustments: pd.DataFrame, totals: pd.DataFrame | None = None,
                    materiality: float = 5.0, lang: str = "zh") -> pd.DataFrame:
    """Self-reported vs verified (述职评议): units whose claim the verification cut most.

    If the adjustments table carries the self-assessed total (column ``self_total``; also
    accepted: ``self_score``, ``self_assessed``, ``自评分``), the gap is
    ``self_total − verified total`` with verified total = ``base + adjustment`` from
    ``totals``; otherwise the gap is ``−adjustment`` (points taken off by the verification).
    Gaps are scored with the modified z-score within each year (one-sided: over-claiming).

    * gap beyond the year's robust bound (modified z > 3.5) or BH q < 0.05 (one-sided normal p,
      family: all unit-years) → **medium**;
    * **high** needs both BH q < 0.01 and a *material* gap, ``gap ≥ materiality`` (default
      :data:`MATERIALITY` = 5 points, 5 % of the 100-point scale — the usual benchmark
      percentage for materiality in auditing, ISA 320 / IFAC). Rounded self-assessments make the
      MAD small, so statistical significance alone flags gaps of 2–3 points that matter little.

    Returns
    -------
    DataFrame
        Findings ``adjustment_gap``; ``statistic`` = the gap in points, ``p_value`` = raw p,
        ``threshold`` = the gap at modified z 3.5 in that year.
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
        a["gap"] = pd.to_numeric(a["self_total"], errors="coerce") - a["verified"]
        what = "adjustment_gap_self"
    else:
        a["gap"] = -a["adjustment"]
        a["self_total"] = np.nan
        a["verified"] = np.nan
        what = "adjustment_gap_cut"
    a = a.loc[a["gap"].notna()].copy()
    if len(a) < 5:
        return _empty()
    a["mz"] = a.groupby("year")["gap"].transform(lambda v: pd.Series(modified_z(v.to_numpy()), index=v.index))
    med = a.groupby("year")["gap"].transform("median")
    mad = a.groupby("year")["gap"].transform(lambda v: np.median(np.abs(v - np.median(v))))
    a["bound"] = med + MODZ * mad / 0.6745
    a["p"] = _norm_p(a["mz"].to_numpy(), "greater")
    a["q"] = _bh(a["p"].to_numpy())
    out = []
    for r in a.loc[(a["mz"] > MODZ) | (a["q"] < ALPHA)].itertuples():
        high = r.q < ALPHA_HIGH and r.gap >= materiality
        out.append({"year": r.year, "unit_id": r.unit_id, "check": "adjustment_gap", "statistic": r.gap, "p_value": r.p,
                    "threshold": r.bound, "severity": "high" if high else "medium",
                    "ev": _ev(what, self=r.self_total, verified=r.verified, gap=r.gap, mz=r.mz, q=r.q)})
    return _frame(out, lang)


#: Recording resolution of the totals (item points are kept in tenths): the bin width of
#: :func:`cut_bunching`.
BUNCH_RES = 0.1
#: Widest window scanned above the first non-winner: 1 point (1 % of the 100-point scale).
BUNCH_WINDOW = 1.0
#: Half-width of the band on each side of the window whose totals estimate the local density.
BUNCH_BAND = 2.0
#: Monte Carlo draws of the parametric bootstrap of :func:`cut_bunching` (p resolution 1/2000).
BUNCH_DRAWS = 1999


def _loglinear_fit(x: np.ndarray, y: np.ndarray, mask: np.ndarray, iters: int = 30) -> np.ndarray:
    """Poisson regression ``log E[y_b] = a + b x_b`` on the bins where ``mask`` is 1, batched.

    ``x`` (nb,), ``y`` and ``mask`` broadcastable to (..., nb). Newton–Raphson on the two
    parameters with a closed-form 2 × 2 solve, vectorised over every leading axis (bootstrap
    draws × windows). Returns ``(a, b)`` stacked on the last axis.
    """
    shp = np.broadcast_shapes(np.shape(y), np.shape(mask))
    y = np.broadcast_to(y, shp)
    m = np.broadcast_to(mask, shp)
    a = np.log(np.maximum((y * m).sum(-1) / np.maximum(m.sum(-1), 1), 1e-3))
    b = np.zeros_like(a)
    for _ in range(iters):  # a fixed, small number of Newton steps (not a loop over data)
        mu = np.exp(np.clip(a[..., None] + b[..., None] * x, -30, 30)) * m
        r = y * m - mu
        g0, g1 = r.sum(-1), (r * x).sum(-1)
        h00, h01, h11 = mu.sum(-1) + 1e-9, (mu * x).sum(-1), (mu * x * x).sum(-1) + 1e-9
        det = h00 * h11 - h01 ** 2
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        a, b = a + da, np.clip(b + db, -50, 50)
        if max(np.abs(da).max(initial=0), np.abs(db).max(initial=0)) < 1e-9:
            break
    return np.stack([a, b], axis=-1)


def _bunch_counts(v: np.ndarray, top_n: int, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts of totals per 0.1-point bin around the first non-winner of each row of ``v``.

    ``v`` (B, n). Bin ``j`` holds totals ``≈ c' + j × 0.1`` where ``c'`` is the highest total of a
    non-winner (rank > ``top_n``, ties at the cut are all winners); a winner less than half a
    bin above ``c'`` goes to bin 1, so bins ≥ 1 hold winners only. The anchor unit itself is
    removed from bin 0. Returns ``(counts (B, hi − lo + 1), c' (B,))``; ``c'`` is NaN when there
    is no non-winner.
    """
    srt = -np.sort(-v, axis=1)
    cut = srt[:, top_n - 1:top_n]
    cp = np.where(srt < cut - 1e-9, srt, -np.inf).max(axis=1)
    j = np.rint((srt - cp[:, None]) / BUNCH_RES)
    j = np.where((srt > cp[:, None] + 1e-9) & (j < 1), 1, j)
    ok = np.isfinite(j) & (j >= lo) & (j <= hi)
    rows = np.broadcast_to(np.arange(len(v))[:, None], j.shape)
    y = np.zeros((len(v), hi - lo + 1))
    np.add.at(y, (rows[ok], (j[ok] - lo).astype(int)), 1.0)
    y[:, -lo] -= np.isfinite(cp)
    return y, np.where(np.isfinite(cp), cp, np.nan)


def cut_bunching(totals: pd.DataFrame, top_n: int = config.TOP_N, col: str = "total", seed: int = config.SEED,
                 n_draws: int = BUNCH_DRAWS, lang: str = "zh") -> pd.DataFrame:
    """Bunching of totals just above the winners' line: window count vs local density.

    Units that fake their way over the line need only beat the best non-winner, so they pile
    up in a narrow window just above its total ``c'`` (the highest total ranked below
    ``top_n``). The test compares the number of totals ``K_J`` in the window ``(c', c' + 0.1 J]``
    with the number ``λ_J`` expected from the local density of the totals *outside* the window —
    the bunching estimator of Chetty, Friedman, Olsen & Pistaferri (2011, *QJE* 126:749) and
    Kleven (2016, *Annu. Rev. Econ.* 8:435) in counting form:

    1. the totals are binned at the recording resolution (0.1 point) around ``c'``, over
       ``c' − 2`` … ``c' + 1 + 2`` points (:data:`BUNCH_BAND` on each side of the widest window);
       the unit at ``c'`` itself is the anchor and is not counted (given a point of a Poisson
       process, the rest is still Poisson — Slivnyak's theorem);
    2. for each window width ``J = 1 … 10`` bins (up to :data:`BUNCH_WINDOW` = 1 point, 1 % of
       the scale) a log-linear Poisson regression of the bin counts on the bin position is fitted
       to the bins outside the window, ``λ_J`` = its prediction summed over the window, and
       ``p_J = P(Poisson(λ_J) ≥ K_J)``;
    3. the scan statistic ``min_J p_J`` is calibrated by a parametric bootstrap (Davison &
       Hinkley 1997, §4.2): :data:`BUNCH_DRAWS` sets of bin counts are drawn from the log-linear
       fit to all bins (the null of no bunching) and steps 2–3 are repeated on each, so the
       p-value accounts for the scan over ``J`` and for the estimation of the density.

    Family: one test per year, Benjamini–Hochberg: q < 0.01 → **high**, q < 0.05 →
    **medium**; a year whose own p < 0.05 but whose q ≥ 0.05 is a **low** (screening) finding —
    with ~74 totals a year the test has little power, so a nominally significant year is worth
    a look even when it does not survive the correction across years. The finding belongs to
    the year (``unit_id`` empty); for high/medium years the winners in the window of the
    smallest ``p_J`` are listed as **low** findings too (context: bunched units cannot be told
    apart one by one).

    Parameters
    ----------
    totals : DataFrame
        ``year``, ``unit_id`` and ``col`` (default ``total``).
    top_n : int
        Number of winners.
    seed : int
        Seed of the bootstrap (the same seed gives the same p-values).
    n_draws : int
        Bootstrap draws (p resolution ``1 / (n_draws + 1)``).

    Returns
    -------
    DataFrame
        Findings ``cut_bunching``: ``statistic`` = observed count ``K`` in the window,
        ``threshold`` = the expected count ``λ``, ``p_value`` = the bootstrap scan p.
    """
    if totals is None or totals.empty:
        return _empty()
    jmax = int(round(BUNCH_WINDOW / BUNCH_RES))
    band = int(round(BUNCH_BAND / BUNCH_RES))
    lo, hi = -band, jmax + band
    bins = np.arange(lo, hi + 1)
    x = bins * BUNCH_RES / BUNCH_BAND
    widths = np.arange(1, jmax + 1)
    inwin = (bins[None, :] >= 1) & (bins[None, :] <= widths[:, None])  # (windows, bins)
    outside = (~inwin).astype(float)

    def scan(y):  # y (..., bins) → min p, p per window, λ, K
        beta = _loglinear_fit(x, y[..., None, :], outside)
        mu = np.exp(np.clip(beta[..., :1] + beta[..., 1:] * x, -30, 30))
        lam = (mu * inwin).sum(-1)
        k = (y[..., None, :] * inwin).sum(-1)
        p = stats.poisson.sf(k - 1, lam)
        return p.min(-1), p, lam, k

    rows = []
    for year, tt in totals.groupby("year"):  # loop over years only (a handful)
        tt = tt.loc[tt[col].notna()]
        v = tt[col].astype(float).to_numpy()
        if len(v) < top_n + 10:
            continue
        y, cp = _bunch_counts(v[None, :], top_n, lo, hi)
        if np.isnan(cp[0]) or (y[0] * outside[-1]).sum() < 5:
            continue  # no non-winner, or too few totals near the line to estimate a density
        t_obs, p_j, lam, k = scan(y[0])
        null = _loglinear_fit(x, y[0], np.ones_like(x))
        rng = np.random.default_rng([int(seed), int(year)])
        sim = rng.poisson(np.exp(null[0] + null[1] * x), size=(int(n_draws), len(x))).astype(float)
        t_sim = scan(sim)[0]
        p = (1 + np.count_nonzero(t_sim <= t_obs * (1 + 1e-9))) / (n_draws + 1)
        b = int(np.argmin(p_j))
        hi_edge = cp[0] + (b + 1.5) * BUNCH_RES
        win = tt.loc[(tt[col] > cp[0] + 1e-9) & (tt[col] < hi_edge)].sort_values(col, ascending=False)
        rows.append((year, cp[0], b + 1, float(k[b]), float(lam[b]), p, win))
    if not rows:
        return _empty()
    q = _bh(np.array([r[5] for r in rows]))
    out = []
    for (year, cp, j, k, lam, p, win), qq in zip(rows, q):
        ev = dict(k=int(k), h=j * BUNCH_RES, cp=cp, lam=lam, band=BUNCH_BAND, p=p, q=qq, draws=int(n_draws))
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
                        "ev": _ev("cut_bunching_unit", total=val, k=int(k), h=j * BUNCH_RES, cp=cp, p=p)})
    return _frame(out, lang)


# ----------------------------------------------------------------------------- all together
def check_all(tables: dict[str, pd.DataFrame], top_n: int = config.TOP_N, seed: int = config.SEED,
              lang: str = "zh") -> pd.DataFrame:
    """Run every check on processed ``tables`` (keys: scores, items, given, adjustments).

    ``lang`` is the language of the ``evidence`` sentences (``zh`` default, or ``en``).

    Returns
    -------
    DataFrame
        All findings (:data:`COLUMNS`) sorted by severity, year, check, unit and item.
    """
    scores, items = tables["scores"], tables["items"]
    adj = tables.get("adjustments")
    tot = score.totals(scores, items, adjustments=adj, top_n=top_n)
    parts = [
        monthly_vs_annual(scores, items, lang=lang),
        given_vs_recomputed(tables.get("given"), scores, items, lang=lang),
        digit_preference(scores, items, seed=seed, lang=lang),
        full_marks(scores, items, lang=lang),
        yoy_jumps(tot, lang=lang),
        adjustment_gaps(adj, tot, lang=lang),
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
    """Numbers of high / medium / low findings and of units involved (JSON-able)."""
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
