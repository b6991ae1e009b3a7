"""Digit preference (SPEC §4 "Integrity"): terminal digits, scoring steps, the peer-digit null.

:func:`scoring_steps` infers each item's scoring step; only items whose last digit is free are
digit-tested; :func:`digit_preference` compares a unit's terminal digits with its peers'
(exact Poisson-binomial tail, :func:`poisson_binomial_sf`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pipeline import config
from pipeline.integrity.base import MC_DRAWS, MIN_DIGITS, _bh, _empty, _ev, _frame, _severity_from_q


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
                     all_tests: bool = False) -> pd.DataFrame:
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
    return _frame(out)


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
