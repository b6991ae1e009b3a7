"""The synthetic sample world: messy raw workbooks plus the ground truth they encode (SPEC §7).

One entry point, :func:`write_world`, writes

* ``raw_dir/units.csv`` and one folder per year holding the item list (考评项目一览表), the
  annual summary (考评汇总表), the monthly summary (月度考评汇总, sheets 1月…12月), the
  debriefing review (述职评议) and the weak-organisation list (软弱涣散党组织), as a committee
  would export them — every case of SPEC §2.1 occurs in some year;
* ``truth_dir/`` the clean tables a correct cleaner must recover (docs/CONTRACT.md):
  ``units.csv``, ``items.csv``, ``scores.csv``, ``adjustments.csv``, ``weak_orgs.csv``,
  ``given.csv``, ``totals.csv`` and ``anomalies.csv`` (the planted integrity problems).

:func:`generate` builds the same world in memory (a :class:`World`) without writing anything.

Model
-----
Unit quality follows a stationary AR(1) process over years, :math:`q_t = \\rho q_{t-1} +
\\sqrt{1-\\rho^2}\\,\\varepsilon_t` with :math:`\\rho = 0.8` (unit variance every year); a
unit's score share on item *j* is :math:`\\operatorname{logit}^{-1}(a + b q + s_{sector} + e_j +
\\eta)`, with item ease :math:`e_j` and cell noise :math:`\\eta`. Points are kept in integer
tenths (0.1 resolution), so that the annual points of a 计分 item are exactly the sum of its
12 monthly values and every float in the truth equals ``tenths / 10``. Graded (评档) items
are 好/较好/一般 from thresholds on the same latent score; their truth points are
``pipeline.score.grade_points`` (1.0/0.8/0.6 × max). Monthly values split the annual tenths
by a multinomial draw with an item-specific seasonal profile.

Given 总分 = the recomputed pre-adjustment ``base`` of :func:`pipeline.score.totals`
(defaults) rounded to 2 decimals, 名次 = its competition rank, except where a mismatch is
planted.

File kinds in a year folder are recognisable by name (项目 / 汇总 without 月度 / 月度 / 述职 /
软弱涣散); one year instead uses neutral names (附件1…) listed in ``sources.yaml`` with the
keys ``items``, ``summary``, ``monthly``, ``review`` and ``weak_orgs``.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline import score as S
from pipeline.errors import PipelineError
from pipeline.io import atomic_path, atomic_write
from pipeline import synth_names as N

__all__ = ["write_world", "generate", "write_raw", "write_truth", "World", "Shape", "ANOMALY_KINDS"]

ANOMALY_KINDS = (
    "monthly_mismatch",
    "given_total_mismatch",
    "given_rank_mismatch",
    "digit_preference",
    "full_marks",
    "yoy_jump",
    "adjustment_gap",
    "cut_bunching",
)

RHO = 0.8  # year-to-year persistence of unit quality (AR(1) coefficient)
MONTHS = tuple(range(1, 13))
_FW = str.maketrans("0123456789", "０１２３４５６７８９")
_ZIP_DATE = (2017, 1, 1, 0, 0, 0)
_CORE_TIME = "2017-01-01T00:00:00Z"
_OK, _NA, _MISSING = 0, 1, 2
_GRADES = np.array(config.GRADES, dtype=object)  # 好, 较好, 一般


@dataclass(frozen=True)
class Shape:
    """How honest scores are given: options for worlds shaped unlike the sample (issue #9).

    The defaults reproduce the bundled sample world draw for draw (a test keeps it
    byte-identical); every other value changes one aspect of how a committee scores.

    Attributes
    ----------
    step : float
        Scoring step of 计分 items: 0.1 (default), 0.5 or 1 point. Annual points are multiples
        of it (rounded down from the 0.1-point draw); graded items are unaffected.
    total_decimals : int
        Decimals of the given 总分 (default 2); 名次 is the competition rank of the *shown* totals.
    skew : float
        0 = symmetric latent quality (default); > 0 = left-skewed quality
        ``(1 − exp(−skew q)) / skew`` (a long tail of weak units, a crowded top).
    tail_df : float
        0 = normal year-to-year innovations of quality (default); > 2 = Student-t innovations
        with that many degrees of freedom, scaled to unit variance (heavy-tailed year changes).
    self_gap : (lo, hi) or None
        Honest optimism: 自评分 above the verified total by Uniform(lo, hi) points rounded to 0.1
        (e.g. ``(0, 6)``); None = the sample's ``|N(0.8, 0.6)|``.
    na_rate : float
        Share of NA (不适用) cells (default 0.012).
    tie_share : float
        Share of units per year whose item scores are copied to the unit of nearest latent
        standing (exact ties between similar units).
    plant : bool
        False plants no anomaly at all (an honest world).
    """

    step: float = 0.1
    total_decimals: int = 2
    skew: float = 0.0
    tail_df: float = 0.0
    self_gap: tuple[float, float] | None = None
    na_rate: float = 0.012
    tie_share: float = 0.0
    plant: bool = True

    def __post_init__(self):
        if int(round(self.step * 10)) not in (1, 2, 5, 10) or abs(self.step * 10 - round(self.step * 10)) > 1e-9:
            raise PipelineError(f"synth shape: step must be 0.1, 0.2, 0.5 or 1, got {self.step}")
        if self.total_decimals not in (0, 1, 2, 3):
            raise PipelineError(f"synth shape: total_decimals must be 0…3, got {self.total_decimals}")
        if self.tail_df and self.tail_df <= 2:
            raise PipelineError(f"synth shape: tail_df must be > 2 (finite variance) or 0, got {self.tail_df}")
        if not 0 <= self.na_rate < 0.5 or not 0 <= self.tie_share < 0.5:
            raise PipelineError("synth shape: na_rate and tie_share must lie in [0, 0.5)")


DEFAULT_SHAPE = Shape()


def _quantise(tenths: np.ndarray, step: float, cap: np.ndarray) -> np.ndarray:
    """Tenths rounded down to the scoring step (values at the maximum stay there)."""
    s = int(round(step * 10))
    if s == 1:
        return tenths
    return np.where(tenths >= cap, cap, (tenths // s) * s).astype(np.int64)


# --------------------------------------------------------------------------------------------
# The world in memory
# --------------------------------------------------------------------------------------------
@dataclass
class Year:
    """Everything about one assessment year, as arrays (rows = active units, cols = items)."""

    year: int
    units: np.ndarray  # unit ids, registry order
    items: pd.DataFrame  # the year's item list (truth form)
    tenths: np.ndarray  # int64 (n, J): points × 10 of 计分 items (0 for graded / NA / missing)
    status: np.ndarray  # int8 (n, J): 0 ok, 1 na, 2 missing
    grade: np.ndarray  # int8 (n, J): 0 好 / 1 较好 / 2 一般 for graded items, -1 otherwise
    monthly: np.ndarray | None = None  # int64 (12, n, Jp) tenths of 计分 items
    adjustment: np.ndarray | None = None  # float (n,), None when no 述职评议 that year
    self_total: np.ndarray | None = None  # float (n,) 自评分
    adj_note: list[str] | None = None
    given_total: np.ndarray | None = None
    given_rank: np.ndarray | None = None
    weak: dict[str, str] = field(default_factory=dict)  # unit_id -> 整顿中 / 已整顿

    @property
    def max_points(self) -> np.ndarray:
        return self.items["max_points"].to_numpy(float)

    @property
    def graded(self) -> np.ndarray:
        return (self.items["method"] == "grade").to_numpy()


@dataclass
class World:
    """The generated world: the registry, one :class:`Year` per year and the truth tables."""

    seed: int
    units: pd.DataFrame
    years: dict[int, Year]
    monthly_years: tuple[int, ...]
    anomalies: pd.DataFrame
    truth: dict[str, pd.DataFrame] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Registry and items
# --------------------------------------------------------------------------------------------
def _registry(n_units: int, rng: np.random.Generator) -> pd.DataFrame:
    """The unit registry (SPEC §2): realistic names first, generated names beyond 74."""
    base = N.UNITS[:-2]
    successors = N.UNITS[-2:]
    if n_units <= len(N.UNITS):
        rows = list(base[: max(n_units - 2, 0)])
        names = {r[0] for r in rows}
        for succ in successors:
            preds = [N.RENAME[0]] if succ[0] == N.RENAME[1] else list(N.MERGE[0])
            if all(p in names for p in preds) and len(rows) < n_units:
                rows.append(succ)
        rows = (rows + list(base[len(rows) :]))[:n_units] if len(rows) < n_units else rows
    else:
        rows = list(N.UNITS)
        places = [a + b for a in N.PLACE_A for b in N.PLACE_B]
        suffix = ("区", "县")
        k = 0
        while len(rows) < n_units:
            organ, typ, sector = N.ORGANS[k % len(N.ORGANS)]
            p = k // len(N.ORGANS)
            place = places[p % len(places)] + suffix[(p // len(places)) % 2]
            if p >= 2 * len(places):
                place = place + "第" + str(p // (2 * len(places)) + 1) + "片"
            rows.append((place + organ, "", typ, sector))
            k += 1
    n = len(rows)
    ids = [f"U{i + 1:03d}" if n < 1000 else f"U{i + 1:05d}" for i in range(n)]
    df = pd.DataFrame(rows, columns=["name", "aliases", "type", "sector"])
    df.insert(0, "unit_id", ids)
    mu = df["type"].map({"直属党委": np.log(600), "机关党委": np.log(90), "党总支": np.log(35)})
    df["members"] = np.clip(np.rint(np.exp(mu.to_numpy() + 0.35 * rng.standard_normal(n))), 12, None).astype(int)
    df["valid_from"] = pd.array([pd.NA] * n, dtype="Int64")
    df["valid_to"] = pd.array([pd.NA] * n, dtype="Int64")
    df["successor_id"] = pd.Series([None] * n, dtype=object)
    by_name = dict(zip(df["name"], df.index))
    for preds, succ, y0 in ((N.RENAME[:1], N.RENAME[1], N.RENAME[2]), (N.MERGE[0], N.MERGE[1], N.MERGE[2])):
        if succ in by_name and all(p in by_name for p in preds):
            s = by_name[succ]
            df.loc[s, "valid_from"] = y0
            for p in preds:
                df.loc[by_name[p], "valid_to"] = y0 - 1
                df.loc[by_name[p], "successor_id"] = df.loc[s, "unit_id"]
    df["aliases"] = df["aliases"].replace("", None)
    return df


def _lone_group(units: pd.DataFrame) -> pd.DataFrame:
    """Make the last stable unit (no rename/merge) the only one of its sector and its type."""
    units = units.copy()
    stable = units["valid_from"].isna() & units["valid_to"].isna()
    if not stable.any():
        return units
    last = units.index[stable][-1]
    for col in ("sector", "type"):
        own = units.loc[last, col]
        others = units.loc[units[col] != own, col]
        if not len(others):
            continue
        target = others.value_counts().sort_index().idxmax()  # most common other value (ties: by name)
        units.loc[(units[col] == own) & (units.index != last), col] = target
    return units


def _active(units: pd.DataFrame, year: int) -> np.ndarray:
    vf = units["valid_from"].fillna(-1).to_numpy(int)
    vt = units["valid_to"].fillna(9999).to_numpy(int)
    return (vf <= year) & (year <= vt)


def _largest_remainder(weights: np.ndarray, total: int = 100) -> np.ndarray:
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(int)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def _pick_items(pool: list, n_items: int) -> list:
    """The first ``n_items`` of ``pool`` taken round-robin over the categories (config order).

    ``n_items = 5`` keeps two items of the first category and one of each other category,
    i.e. categories with a single item."""
    by_cat = [[it for it in pool if it[1] == c] for c in config.CATEGORIES]
    picked = [cat[k] for k in range(max(map(len, by_cat))) for cat in by_cat if k < len(cat)][:n_items]
    return [it for it in pool if it in picked]  # back in pool order (category, then pool order)


def _items(year: int, rng: np.random.Generator, n_items: int | None = None) -> pd.DataFrame:
    """The year's item list: the pool entries valid that year, maxima revised, sum 100.

    ``n_items`` keeps only that many items (:func:`_pick_items`); None keeps the whole pool."""
    pool = [it for it in N.ITEMS if (it[5] is None or it[5] <= year) and (it[6] is None or it[6] >= year)]
    order = {c: i for i, c in enumerate(config.CATEGORIES)}
    pool.sort(key=lambda it: order[it[1]])  # stable: pool order within a category
    if n_items is not None:
        pool = _pick_items(pool, n_items)
    maxima = _largest_remainder(np.array([it[3] for it in pool], float))
    for _ in range(int(rng.integers(1, 3))):  # 完善标准: move a point or two between items
        srcs = np.flatnonzero(maxima >= 4)
        if len(maxima) < 2 or not srcs.size:  # a one-item list: nothing to move
            continue
        src = rng.choice(srcs)
        dsts = np.flatnonzero((maxima <= 7) & (np.arange(len(maxima)) != src))
        if not dsts.size:
            dsts = np.flatnonzero(np.arange(len(maxima)) != src)
        dst = rng.choice(dsts)
        maxima[src] -= 1
        maxima[dst] += 1
    return pd.DataFrame(
        {
            "year": year,
            "item_id": [f"I{i + 1:02d}" for i in range(len(pool))],
            "item_name": [it[0] for it in pool],
            "category": [it[1] for it in pool],
            "dimension": [it[2] for it in pool],
            "max_points": maxima.astype(float),
            "method": ["grade" if it[4] else "points" for it in pool],
        }
    )


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def _quality(units: pd.DataFrame, years: list[int], rng: np.random.Generator, shape: Shape = DEFAULT_SHAPE) -> np.ndarray:
    """Latent quality (n_registry, n_years): stationary AR(1); successors continue predecessors."""
    n, T = len(units), len(years)
    if shape.tail_df:
        df = float(shape.tail_df)
        eps = rng.standard_t(df, (n, T)) * np.sqrt((df - 2) / df)  # unit variance, heavy tails
    else:
        eps = rng.standard_normal((n, T))
    q = np.empty((n, T))
    q[:, 0] = eps[:, 0]
    ids = units["unit_id"].to_numpy()
    succ = units["successor_id"].to_numpy()
    starts = units["valid_from"].to_numpy()
    for t in range(1, T):
        prev = q[:, t - 1].copy()
        for s_i in np.flatnonzero(pd.notna(starts) & (starts == years[t])):
            preds = [i for i, v in enumerate(succ) if v == ids[s_i]]
            if preds:
                prev[s_i] = q[preds, t - 1].mean()
        q[:, t] = RHO * prev + np.sqrt(1 - RHO**2) * eps[:, t]
    if shape.skew:
        q = (1.0 - np.exp(-shape.skew * q)) / shape.skew  # concave map: long left tail
    return q


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _tenths_from_z(z: np.ndarray, maxima: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points in tenths: whole points from the latent share, the tenths digit uniform.

    A clerk's last digit carries no information, so it is drawn uniformly (0…9): the
    terminal-digit test then has an exact null on every value below the maximum. Values
    within 0.1 point of the maximum become full marks (a natural heap at the maximum,
    which a terminal-digit test should leave out).
    """
    cap = np.broadcast_to(np.rint(maxima * 10).astype(np.int64), z.shape)
    u = _sigmoid(z) * cap
    whole = np.minimum(np.floor(u / 10), cap // 10 - 1).astype(np.int64)
    t = whole * 10 + rng.integers(0, 10, z.shape)
    return np.where(u > cap - 1, cap, np.clip(t, 0, cap)).astype(np.int64)


def _grade_from_z(z: np.ndarray) -> np.ndarray:
    return np.where(z > 2.0, 0, np.where(z > 1.2, 1, 2)).astype(np.int8)


def _points(y: Year) -> np.ndarray:
    """Float points (n, J) exactly as the truth states them (NaN for NA / missing)."""
    mx = y.max_points
    pts = y.tenths / 10.0
    gm = np.array([config.GRADE_MAP[g] for g in config.GRADES])
    gp = gm[np.clip(y.grade, 0, 2)] * mx[None, :]  # same float as score.grade_points
    pts = np.where(y.graded[None, :], gp, pts)
    return np.where(y.status == _OK, pts, np.nan)


def _base_totals(y: Year) -> np.ndarray:
    """Pre-adjustment base (prorate, defaults) computed through pipeline.score.totals."""
    t = S.totals(_scores_frame(y, annual_only=True), y.items)
    return t.set_index("unit_id").loc[y.units, "base"].to_numpy(float)


def _scores_frame(y: Year, annual_only: bool = False) -> pd.DataFrame:
    """Tidy truth scores of one year (annual, then months 1…12 of 计分 items)."""
    n, J = y.status.shape
    pts = _points(y)
    gr = np.where((y.grade >= 0) & (y.status == _OK), _GRADES[np.clip(y.grade, 0, 2)], None)
    st = np.array(["ok", "na", "missing"], dtype=object)[y.status]
    item_ids = y.items["item_id"].to_numpy()
    frames = [
        pd.DataFrame(
            {
                "year": y.year,
                "period": "Y",
                "unit_id": np.repeat(y.units, J),
                "item_id": np.tile(item_ids, n),
                "points": pts.ravel(),
                "status": st.ravel(),
                "grade": gr.ravel(),
            }
        )
    ]
    if y.monthly is not None and not annual_only:
        pidx = np.flatnonzero(~y.graded)
        ms = y.status[:, pidx]
        mpts = np.where(ms[None] == _OK, y.monthly / 10.0, np.nan)
        mst = np.broadcast_to(st[:, pidx], mpts.shape)
        k = mpts.shape[1] * mpts.shape[2]
        frames.append(
            pd.DataFrame(
                {
                    "year": y.year,
                    "period": np.repeat([str(m) for m in MONTHS], k),
                    "unit_id": np.tile(np.repeat(y.units, len(pidx)), 12),
                    "item_id": np.tile(item_ids[pidx], n * 12),
                    "points": mpts.ravel(),
                    "status": mst.ravel(),
                    "grade": None,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _shift_tenths(row: np.ndarray, cap: np.ndarray, free: np.ndarray, delta: int) -> np.ndarray:
    """Add ``delta`` tenths to ``row`` over the ``free`` cells, staying within [0, cap]."""
    row = row.copy()
    room = np.where(free, cap - row if delta > 0 else row, 0).astype(float)
    if room.sum() < abs(delta):
        delta = int(np.sign(delta) * room.sum())
    share = np.floor(room / max(room.sum(), 1) * abs(delta)).astype(np.int64)
    rest = abs(delta) - share.sum()
    order = np.argsort(-(room - share), kind="stable")
    for j in order[:rest]:
        share[j] += 1
    return row + np.sign(delta) * share


def generate(
    seed: int = config.SEED,
    n_units: int = 74,
    years: tuple[int, int] = (2009, 2016),
    monthly_years: tuple[int, int] | list[int] | None = None,
    n_items: int | None = None,
    lone_group: bool = False,
    shape: Shape | None = None,
) -> World:
    """Build the sample world in memory (no I/O).

    Parameters
    ----------
    seed : int
        Everything random derives from ``numpy.random.default_rng(seed)``.
    n_units : int
        Rows of the unit registry (74 realistic names; more are generated deterministically).
    years : (first, last)
        Inclusive span of assessment years.
    monthly_years : (first, last) or list of years, optional
        Years that get a monthly workbook (default: every year); an empty list: none.
    n_items : int, optional
        Items per year (default: the whole pool valid that year, 20–24). Fewer items are taken
        round-robin over the categories, so ``n_items < 8`` leaves categories with one item.
    lone_group : bool
        If True, the last unit of the registry without a rename or merge is the only unit of
        its sector and of its type (the other units of that sector / type move to the most
        common other one): a peer group of one unit.
    shape : Shape, optional
        How honest scores are given (scoring step, shown precision of 总分, skew, heavy tails,
        honest optimism, NA rate, ties, planting); default :data:`DEFAULT_SHAPE`, the sample.

    Returns
    -------
    World
        ``units`` (the registry), ``years`` (one :class:`Year` each), ``anomalies``
        (year, unit_id, item_id, period, kind, detail) and ``truth`` (the tables of
        docs/CONTRACT.md, keyed by file stem).
    """
    if n_units < 1:
        raise PipelineError(f"n_units must be at least 1, got {n_units}")
    if n_items is not None and not 1 <= n_items <= len(N.ITEMS):
        raise PipelineError(f"n_items must be between 1 and {len(N.ITEMS)}, got {n_items}")
    y0, y1 = int(years[0]), int(years[1])
    if y0 > y1:
        raise PipelineError(f"years {y0}-{y1}: the first year is after the last")
    ys = list(range(y0, y1 + 1))
    if monthly_years is None:
        mys = tuple(ys)
    elif isinstance(monthly_years, tuple) and len(monthly_years) == 2:
        mys = tuple(y for y in ys if monthly_years[0] <= y <= monthly_years[1])
    else:
        mys = tuple(y for y in ys if y in set(int(v) for v in monthly_years))
    shape = DEFAULT_SHAPE if shape is None else shape
    rng = np.random.default_rng(seed)
    units = _registry(n_units, rng)
    if lone_group:
        units = _lone_group(units)
    ids = units["unit_id"].to_numpy()
    q = _quality(units, ys, rng, shape)
    sectors = sorted(set(units["sector"]))
    sector_eff = dict(zip(sectors, 0.25 * rng.standard_normal(len(sectors))))
    sec = units["sector"].map(sector_eff).to_numpy(float)
    item_names = [it[0] for it in N.ITEMS]
    ease = dict(zip(item_names, 0.35 * rng.standard_normal(len(item_names))))
    seasonal = {nm: rng.dirichlet(np.full(12, 6.0)) for nm in item_names}

    # ---- plant plan: distinct units per role, chosen by the seed -------------------------
    stable = np.flatnonzero(units["valid_from"].isna().to_numpy() & units["valid_to"].isna().to_numpy())
    pool = list(rng.permutation(stable))
    plan: dict[str, list] = {k: [] for k in ANOMALY_KINDS}

    def take(k: int) -> list[int]:
        got = pool[:k]
        del pool[:k]
        return got

    big = len(stable) >= 30 and shape.plant
    if big:
        for kind, k in (("full_marks", 1), ("digit_preference", 1), ("adjustment_gap", 2), ("given_total_mismatch", 4), ("given_rank_mismatch", 3), ("monthly_mismatch", 5)):
            for u in take(k):
                plan[kind].append((u, int(rng.choice(ys))))
        if len(ys) >= 3:
            plan["yoy_jump"].append((take(1)[0], int(rng.choice(ys[1:-1]))))
        plan["cut_bunching"].append(int(rng.choice(ys)))
        if shape.step > 0.1 + 1e-9:  # a .0/.5 pattern is the scoring step itself: nothing to plant
            plan["digit_preference"] = []
    planted_units = {u for kind in plan for it in plan[kind] if isinstance(it, tuple) for u in [it[0]]}
    # review (述职评议) from the second year on; adjustment gaps only where a review exists
    review_years = set(ys[1:]) if len(ys) > 1 else set()
    plan["adjustment_gap"] = [(u, y if y in review_years else (ys[-1] if review_years else y)) for u, y in plan["adjustment_gap"]]
    if review_years:
        plan["adjustment_gap"] = [p for p in plan["adjustment_gap"] if p[1] in review_years]
    else:
        plan["adjustment_gap"] = []
    plan["monthly_mismatch"] = [(u, int(rng.choice(mys))) for u, _ in plan["monthly_mismatch"]] if mys else []

    anomalies: list[dict] = []
    out: dict[int, Year] = {}
    for t, year in enumerate(ys):
        act = np.flatnonzero(_active(units, year))
        items = _items(year, rng, n_items)
        mx = items["max_points"].to_numpy(float)
        graded = (items["method"] == "grade").to_numpy()
        n, J = len(act), len(items)
        e = np.array([ease[nm] for nm in items["item_name"]]) + 0.1 * rng.standard_normal(J)
        z = 1.75 + 0.5 * q[act, t][:, None] + sec[act][:, None] + e[None, :] + 0.45 * rng.standard_normal((n, J))
        row_of = {u: i for i, u in enumerate(act)}
        # planted patterns on the latent score
        for u, yj in plan["yoy_jump"]:
            if u in row_of and year in (yj - 1, yj + 1):
                z[row_of[u]] = 0.2 + 0.3 * rng.standard_normal(J)
            if u in row_of and year == yj:
                z[row_of[u]] = 3.4 + 0.3 * rng.standard_normal(J)
        tenths = np.where(graded[None, :], 0, _tenths_from_z(z, mx[None, :], rng))
        for u, yj in plan["yoy_jump"]:  # the jump year: just below full marks everywhere
            if u in row_of and year == yj:
                if shape.step == DEFAULT_SHAPE.step:
                    tenths[row_of[u]] = np.where(graded, 0, np.rint(mx * 10).astype(np.int64) - rng.integers(1, 8, J))
                else:  # full marks or one scoring step below, so the step does not blunt the jump
                    sz = int(round(shape.step * 10))
                    tenths[row_of[u]] = np.where(graded, 0, np.rint(mx * 10).astype(np.int64) - sz * rng.integers(0, 2, J))
        grade = np.where(graded[None, :], _grade_from_z(z), -1).astype(np.int8)
        status = np.zeros((n, J), np.int8)
        u_na = rng.random((n, J))
        status[u_na < shape.na_rate] = _NA
        status[(u_na >= shape.na_rate) & (u_na < shape.na_rate + 0.004)] = _MISSING
        protected = np.array([u in planted_units for u in act])
        status[protected] = _OK
        tenths = np.where(status == _OK, tenths, 0)
        grade = np.where(status == _OK, grade, np.where(graded[None, :], grade, -1)).astype(np.int8)
        cap = np.rint(mx * 10).astype(np.int64)
        if shape.step != DEFAULT_SHAPE.step:
            tenths = np.where(graded[None, :], 0, _quantise(tenths, shape.step, cap[None, :]))
        if shape.tie_share:
            free = np.array([u not in planted_units for u in act])
            cand = np.flatnonzero(free)
            k = int(round(shape.tie_share * n))
            if k and len(cand) > k:
                src = rng.choice(cand, size=k, replace=False)
                zm = z.mean(axis=1)  # the copier is the unit of nearest latent standing (a plausible tie)
                dst = np.array([cand[np.argsort(np.abs(zm[cand] - zm[r]), kind="stable")[1]] for r in src])
                tenths[dst], grade[dst], status[dst] = tenths[src], grade[src], status[src]
        for u, yy in plan["full_marks"]:
            if yy == year and u in row_of:
                r = row_of[u]
                tenths[r] = np.where(graded, 0, cap)
                grade[r] = np.where(graded, 0, -1)
                anomalies.append(dict(year=year, unit_id=ids[u], item_id="", period="", kind="full_marks", detail=f"full marks on all {J} items"))
        for u, yy in plan["digit_preference"]:
            if yy == year and u in row_of:
                r = row_of[u]
                tenths[r] = np.where(graded, 0, np.minimum(np.rint(tenths[r] / 5) * 5, cap)).astype(np.int64)
                pj = np.flatnonzero(~graded)
                if pj.size and np.all(tenths[r, pj] == cap[pj]):  # never a full-marks look-alike
                    tenths[r, pj[0]] -= 5
                anomalies.append(dict(year=year, unit_id=ids[u], item_id="", period="", kind="digit_preference", detail="every 计分 value ends in .0 or .5"))
        out[year] = Year(year=year, units=ids[act], items=items, tenths=tenths.astype(np.int64), status=status, grade=grade)

    # ---- adjustments (述职评议) ----------------------------------------------------------
    adj_values = np.array([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0])
    adj_p = np.array([0.04, 0.06, 0.12, 0.18, 0.38, 0.14, 0.08])
    for year in ys:
        y = out[year]
        if year in review_years:
            y.adjustment = rng.choice(adj_values, size=len(y.units), p=adj_p)
            for u, yy in plan["full_marks"]:  # keep a full-marks unit at 100, not above
                if yy == year and ids[u] in set(y.units):
                    y.adjustment[int(np.flatnonzero(y.units == ids[u])[0])] = min(0.0, y.adjustment[int(np.flatnonzero(y.units == ids[u])[0])])

    # ---- cut bunching: several totals just above the top-20 cut --------------------------
    for yb in plan["cut_bunching"]:
        y = out[yb]
        n = len(y.units)
        if n < 40:
            continue
        adj = y.adjustment if y.adjustment is not None else np.zeros(n)
        tot = _base_totals(y) + adj
        order = np.argsort(-tot, kind="stable")
        cand = [r for r in order[21:45] if int(np.flatnonzero(ids == y.units[r])[0]) not in planted_units and np.all(y.status[r] == _OK)]
        chosen = [int(r) for r in rng.choice(cand, size=min(5, len(cand)), replace=False)]
        others = np.array([tot[r] for r in range(n) if r not in chosen])
        cut = np.sort(others)[::-1][config.TOP_N - len(chosen)]
        cap = np.rint(y.max_points * 10).astype(np.int64)
        base0 = tot - adj
        for r in chosen:
            if y.adjustment is not None:
                y.adjustment[r] = 0.0
            target = cut + 0.1 * rng.integers(1, 5)
            delta = int(np.ceil((target - base0[r] - 1e-9) * 10))
            if shape.step == DEFAULT_SHAPE.step:
                y.tenths[r] = _shift_tenths(y.tenths[r], cap, ~y.graded, delta)
            else:  # shift in whole scoring steps, so the total lands just above the line
                sz = int(round(shape.step * 10))
                y.tenths[r] = sz * _shift_tenths(y.tenths[r] // sz, cap // sz, ~y.graded, -(-delta // sz))
        base = _base_totals(y)
        for r in chosen:
            planted_units.add(int(np.flatnonzero(ids == y.units[r])[0]))
            anomalies.append(dict(year=yb, unit_id=y.units[r], item_id="", period="", kind="cut_bunching", detail=f"total {base[r]:.1f} just above the first non-winner's {cut:.1f}"))

    # ---- self-assessment, given 总分/名次, monthly sheets -----------------------------------
    for year in ys:
        y = out[year]
        n = len(y.units)
        base = _base_totals(y)
        if y.adjustment is not None:
            if shape.self_gap is None:
                gap = np.rint(10 * np.abs(rng.normal(0.8, 0.6, n))) / 10
            else:
                gap = np.rint(10 * rng.uniform(shape.self_gap[0], shape.self_gap[1], n)) / 10
            for u, yy in plan["adjustment_gap"]:
                if yy == year and ids[u] in set(y.units):
                    r = int(np.flatnonzero(y.units == ids[u])[0])
                    gap[r] = float(rng.integers(90, 140)) / 10
                    anomalies.append(dict(year=year, unit_id=ids[u], item_id="", period="", kind="adjustment_gap", detail=f"self-assessed {np.round(base[r] + y.adjustment[r] + gap[r], 1):.1f} vs verified {base[r] + y.adjustment[r]:.1f} (gap {gap[r]:.1f})"))
            y.self_total = np.minimum(np.round(base + y.adjustment + gap, 1), 100.0)
            notes = np.array(["无调整", "核实扣减：组织生活会记录不全", "核实扣减：党费收缴台账不规范", "核实加分：获省级表彰", "核实加分：经验在全市推广"], dtype=object)
            y.adj_note = list(np.where(y.adjustment == 0, notes[0], np.where(y.adjustment < 0, notes[1 + rng.integers(0, 2, n)], notes[3 + rng.integers(0, 2, n)])))
        gt = np.round(base, shape.total_decimals)
        gr = S.rank(gt)
        for u, yy in plan["given_total_mismatch"]:
            if yy == year and ids[u] in set(y.units):
                r = int(np.flatnonzero(y.units == ids[u])[0])
                d = float(rng.choice([-1, 1]) * rng.integers(8, 40) / 10)
                new = round(min(gt[r] + d, 100.0) if d > 0 else gt[r] + d, shape.total_decimals)
                if new == gt[r]:
                    new = round(gt[r] - 1.5, shape.total_decimals)
                anomalies.append(dict(year=year, unit_id=ids[u], item_id="", period="", kind="given_total_mismatch", detail=f"given 总分 {new:.2f} vs recomputed {gt[r]:.2f}"))
                gt[r] = new
        for u, yy in plan["given_rank_mismatch"]:
            if yy == year and ids[u] in set(y.units):
                r = int(np.flatnonzero(y.units == ids[u])[0])
                shift = int(rng.integers(3, 9))
                new = int(gr[r] - shift) if gr[r] - shift >= 1 else int(gr[r] + shift)
                anomalies.append(dict(year=year, unit_id=ids[u], item_id="", period="", kind="given_rank_mismatch", detail=f"given 名次 {new} vs recomputed {int(gr[r])}"))
                gr[r] = new
        y.given_total, y.given_rank = gt, np.asarray(gr, dtype=np.int64)
        if year in mys:
            pidx = np.flatnonzero(~y.graded)
            prof = np.stack([seasonal[nm] for nm in y.items["item_name"].to_numpy()[pidx]])
            m = rng.multinomial(y.tenths[:, pidx], prof)  # (n, Jp, 12), sums exactly
            y.monthly = np.moveaxis(m, -1, 0).astype(np.int64)  # (12, n, Jp)
            for u, yy in plan["monthly_mismatch"]:
                if yy == year and ids[u] in set(y.units):
                    r = int(np.flatnonzero(y.units == ids[u])[0])
                    jp = int(rng.integers(0, len(pidx)))
                    mo = int(rng.integers(0, 12))
                    capj = int(round(y.max_points[pidx[jp]] * 10))
                    d = int(rng.integers(4, 16))
                    old = int(y.monthly[mo, r, jp])
                    new = old + d if old + d <= capj else max(old - d, 0)
                    if new == old:
                        new = old + 1
                    y.monthly[mo, r, jp] = new
                    s = int(y.monthly[:, r, jp].sum())
                    anomalies.append(dict(year=year, unit_id=ids[u], item_id=y.items["item_id"].iloc[pidx[jp]], period=str(mo + 1), kind="monthly_mismatch", detail=f"annual {y.tenths[r, pidx[jp]] / 10:.1f} vs monthly sum {s / 10:.1f}"))

    # ---- yoy jump detail from the final ranks ---------------------------------------------
    totals = _truth_totals(out)
    for u, yj in plan["yoy_jump"]:
        rk = [int(totals.loc[(totals.year == yy) & (totals.unit_id == ids[u]), "rank"].iloc[0]) for yy in (yj - 1, yj, yj + 1)]
        anomalies.append(dict(year=yj, unit_id=ids[u], item_id="", period="", kind="yoy_jump", detail=f"rank {rk[0]} → {rk[1]} → {rk[2]} ({yj - 1}–{yj + 1})"))

    # ---- weak organisations (软弱涣散党组织): 21 units over the years ---------------------
    if len(ys) >= 2:
        weak_pool = [u for u in stable if u not in planted_units]
        k = min(21, len(weak_pool) // 2)
        qm = q[weak_pool].mean(axis=1)
        pw = np.exp(-1.5 * qm)
        chosen = rng.choice(weak_pool, size=k, replace=False, p=pw / pw.sum())
        for u in chosen:
            start = int(rng.choice(ys[:-1]))
            dur = int(rng.choice([1, 1, 2]))
            for yy in range(start, min(start + dur, ys[-1]) + 1):
                status = "已整顿" if yy == min(start + dur, ys[-1]) else "整顿中"
                out[yy].weak[ids[u]] = status

    an = pd.DataFrame(anomalies, columns=["year", "unit_id", "item_id", "period", "kind", "detail"])
    an = an.sort_values(["year", "kind", "unit_id", "item_id"], kind="stable").reset_index(drop=True)
    world = World(seed=seed, units=units, years=out, monthly_years=mys, anomalies=an)
    world.truth = _truth(world, totals)
    return world


def _truth_totals(years: dict[int, Year]) -> pd.DataFrame:
    scores = pd.concat([_scores_frame(y, annual_only=True) for y in years.values()], ignore_index=True)
    items = pd.concat([y.items for y in years.values()], ignore_index=True)
    return S.totals(scores, items, _adjustments(years))


def _adjustments(years: dict[int, Year]) -> pd.DataFrame:
    rows = [
        pd.DataFrame({"year": y.year, "unit_id": y.units, "adjustment": y.adjustment})
        for y in years.values()
        if y.adjustment is not None
    ]
    if not rows:
        return pd.DataFrame({"year": pd.Series([], dtype=int), "unit_id": pd.Series([], dtype=object), "adjustment": pd.Series([], dtype=float)})
    return pd.concat(rows, ignore_index=True)


def _truth(w: World, totals: pd.DataFrame) -> dict[str, pd.DataFrame]:
    ys = w.years.values()
    weak = [(y.year, u, {"整顿中": "rectifying", "已整顿": "rectified"}[s]) for y in ys for u, s in sorted(y.weak.items())]
    return {
        "units": w.units,
        "items": pd.concat([y.items for y in ys], ignore_index=True),
        "scores": pd.concat([_scores_frame(y) for y in ys], ignore_index=True),
        "adjustments": _adjustments(w.years),
        "weak_orgs": pd.DataFrame(weak, columns=["year", "unit_id", "status"]),
        "given": pd.concat(
            [pd.DataFrame({"year": y.year, "unit_id": y.units, "given_total": y.given_total, "given_rank": y.given_rank}) for y in ys],
            ignore_index=True,
        ),
        "totals": totals,
        "anomalies": w.anomalies,
    }


# --------------------------------------------------------------------------------------------
# Writing: per-year export styles (every SPEC §2.1 case occurs in some year of a span of 8)
# --------------------------------------------------------------------------------------------
_TRAIL_ALL = ("blank", "合计", "平均", "注", "制表人")
#: One style per position in the span (cycled). Keys: fmt/enc (file format), names (file
#: names), sheets (sheet names, the summary's is marked by ``summary_sheet``), title (title
#: rows), two_level, maxhdr ("fw" 三会一课（5分）/ "hw" 三会一课(5) / "mixed" / None), breaks
#: (line breaks and spaces in header cells), unit_hdr, na (NA marks used), order (rows by
#: registry or by given rank), trailer (rows after the data), mess (share of messy cells).
STYLES: list[dict] = [
    dict(fmt="csv", enc="gbk", names=("考评项目一览表-{y}.csv", "汇总-{y}.csv"), title=1, two_level=False,
         maxhdr="hw", breaks=False, unit_hdr="单位", na=("/", "无"), order="registry",
         trailer=("blank", "合计", "注", "制表人"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="csv", enc="gb18030", names=("{y}年考评项目一览表.csv", "{y}年考评汇总表.csv"), title=2, two_level=True,
         maxhdr="fw", breaks=False, unit_hdr="单位名称", na=("—", "不适用"), order="rank",
         trailer=("平均", "blank", "blank", "注"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("{y}年度考评项目一览表.xlsx", "{y}年度考评汇总表.xlsx"), title=2, two_level=True,
         maxhdr="fw", breaks=True, unit_hdr="党组织名称", na=("/", "-"), order="rank",
         trailer=_TRAIL_ALL, sheets=("说明", "汇总", "Sheet3"), sources=False, grade_inner=False),
    dict(fmt="csv", enc="utf-8-sig", names=("考评项目-{y}.csv", "汇总-{y}.csv"), title=1, two_level=True,
         maxhdr=None, breaks=False, unit_hdr="机关党组织", na=("-", "/"), order="registry",
         trailer=("blank", "制表人"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("附件1.xlsx", "附件2.xlsx"), title=3, two_level=True,
         maxhdr="hw", breaks=True, unit_hdr="单位", na=("不适用", "—"), order="rank",
         trailer=("合计", "注", "制表人"), sheets=("{y}年", "Sheet2", "Sheet3"), sources=True, grade_inner=True),
    dict(fmt="xlsx", names=("{y}年度考评项目一览表.xlsx", "{y}年度考评汇总表.xlsx"), title=1, two_level=True,
         maxhdr="fw", breaks=False, unit_hdr="单位名称", na=("/", "无"), order="registry",
         trailer=("合计", "平均", "注", "制表人"), sheets=("汇总", "得分排名"), sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("考评项目一览表{y}.xlsx", "{y}年度考评汇总表.xlsx"), title=2, two_level=True,
         maxhdr="mixed", breaks=True, unit_hdr="党组织名称", na=("—", "/", "不适用"), order="rank",
         trailer=("blank", "平均", "制表人"), sheets=("Sheet1", "Sheet2"), sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("{y}年考评项目一览表.xlsx", "{y}年考评汇总.xlsx"), title=1, two_level=True,
         maxhdr="fw", breaks=True, unit_hdr="机关党组织", na=("/", "—", "-", "无", "不适用"), order="rank",
         trailer=_TRAIL_ALL, sheets=("填表说明", "汇总"), sources=False, grade_inner=True),
]
TIDY = dict(fmt="xlsx", names=("考评项目一览表.xlsx", "考评汇总表.xlsx"), title=0, two_level=False, maxhdr=None,
            breaks=False, unit_hdr="单位名称", na=("/",), order="registry", trailer=(), sheets=("汇总",),
            sources=False, grade_inner=False)


def _style(k: int, messy: bool) -> dict:
    return dict(STYLES[k % len(STYLES)]) if messy else dict(TIDY)


def _num(t: int) -> str:
    """Tenths as the text a clerk would type: 45 → '4.5', 50 → '5'."""
    return str(t // 10) if t % 10 == 0 else f"{t // 10}.{t % 10}"


def _fmt_max(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _save_xlsx(wb, path: Path) -> None:
    """Save an openpyxl workbook byte-reproducibly (fixed zip dates and document times)."""
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + _CORE_TIME.encode(), data)
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    atomic_write(path, out.getvalue())


def _write_csv_rows(rows: list[list], path: Path, enc: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    atomic_write(path, buf.getvalue().encode(enc))


def _write_table_file(path: Path, sheets: list[tuple[str, list[list], list[tuple]]], style: dict) -> None:
    """Write sheets [(name, rows, merges)] as xlsx (merged cells) or, for CSV, the first sheet."""
    if style["fmt"] == "csv":
        _write_csv_rows(sheets[0][1], path, style["enc"])
        return
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    wb.remove(wb.active)
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for name, rows, merges in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for r1, c1, r2, c2 in merges:
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        for r1, c1, r2, c2 in merges:
            ws.cell(r1, c1).alignment = wrap
    wb.properties.creator = "市直机关工委"
    _save_xlsx(wb, path)


class _Namer:
    """Unit-name variants of SPEC §2.1 case 4 (spaces, brackets, aliases, missing 市)."""

    KINDS = ("std", "alias", "space", "u3000", "bracket", "nopre")

    def __init__(self, units: pd.DataFrame):
        self.name = dict(zip(units["unit_id"], units["name"]))
        self.valid_from = {u: int(v) for u, v in zip(units["unit_id"], units["valid_from"]) if pd.notna(v)}
        self.alias = {u: [a for a in str(al).split(";") if a] if isinstance(al, str) else [] for u, al in zip(units["unit_id"], units["aliases"])}
        taken = set(units["name"]) | {a for v in self.alias.values() for a in v}
        self.nopre_ok = {
            u: n.startswith("市") and not n.startswith(("市委", "市政", "市人大")) and n[1:] not in taken
            for u, n in self.name.items()
        }

    def variant(self, uid: str, kind: str, rng: np.random.Generator) -> str:
        n = self.name[uid]
        if kind == "alias" and self.alias[uid]:
            return self.alias[uid][int(rng.integers(0, len(self.alias[uid])))]
        if kind == "space" and len(n) > 2:
            k = int(rng.integers(1, len(n)))
            return n[:k] + " " + n[k:] if rng.random() < 0.6 else n + " "
        if kind == "u3000" and len(n) > 2:
            k = int(rng.integers(1, len(n)))
            return n[:k] + "\u3000" + n[k:] if rng.random() < 0.6 else "\u3000" + n
        if kind == "bracket" and "（" in n:
            return n.replace("（", "(").replace("）", ")")
        if kind == "nopre" and self.nopre_ok[uid]:
            return n[1:]
        return n


def _unit_names(y: Year, namer: _Namer, rng: np.random.Generator, rate: float) -> list[str]:
    """Per-row unit names: mostly standard, ``rate`` of them a variant; each kind at least once."""
    n = len(y.units)
    kinds = np.where(rng.random(n) < rate, rng.integers(1, len(_Namer.KINDS), n), 0)
    if rate > 0 and n >= 12:
        forced = rng.choice(n, size=len(_Namer.KINDS) - 1, replace=False)
        kinds[forced] = np.arange(1, len(_Namer.KINDS))
        nopre = [i for i, u in enumerate(y.units) if namer.nopre_ok[u]]
        if nopre:
            kinds[nopre[int(rng.integers(0, len(nopre)))]] = 5
        for i, u in enumerate(y.units):  # bracketed names: half-width in this whole year or not
            if "（" in namer.name[u] and rng.random() < 0.7:
                kinds[i] = 4
    return [namer.variant(u, _Namer.KINDS[k], rng) for u, k in zip(y.units, kinds)]


def _cells(y: Year, style: dict, rng: np.random.Generator, messy: bool) -> list[list]:
    """Item cells of the annual summary (n × J Python values), with SPEC §2.1 cases 5–7."""
    n, J = y.status.shape
    csv_fmt = style["fmt"] == "csv"
    mess = rng.random((n, J)) if messy else np.ones((n, J))
    kind = rng.integers(0, 4, (n, J))
    na_pick = rng.integers(0, len(style["na"]), (n, J))
    spaces = (" ", "\u3000", "  ")
    out = []
    for i in range(n):
        row = []
        for j in range(J):
            st = y.status[i, j]
            if st == _NA:
                row.append(style["na"][na_pick[i, j]])
            elif st == _MISSING:
                row.append(None)
            elif y.grade[i, j] >= 0:
                g = config.GRADES[y.grade[i, j]]
                if mess[i, j] < 0.12:
                    if style["grade_inner"] and len(g) == 2 and kind[i, j] == 0:
                        g = g[0] + " " + g[1]
                    else:
                        g = (spaces[kind[i, j] % 3] + g) if kind[i, j] < 2 else (g + spaces[kind[i, j] % 3])
                row.append(g)
            else:
                t = int(y.tenths[i, j])
                if mess[i, j] < 0.10:
                    k = kind[i, j]
                    txt = _num(t)
                    row.append(
                        txt if k == 0 else txt.translate(_FW) if k == 1 else txt + "分" if k == 2 else " " + txt + spaces[i % 3]
                    )
                else:
                    row.append(_num(t) if csv_fmt else t / 10)
        out.append(row)
    return out


def _item_header(name: str, mx: float, style: dict, rng: np.random.Generator) -> str:
    h = name
    if style["breaks"] and len(name) >= 5 and rng.random() < 0.5:
        k = len(name) // 2
        h = name[:k] + "\n" + name[k:]
    mode = style["maxhdr"]
    if mode == "mixed":
        mode = ("fw", "hw", None)[int(rng.integers(0, 3))]
    sep = " " if style["breaks"] and rng.random() < 0.4 else ""
    if mode == "fw":
        h = f"{h}{sep}（{_fmt_max(mx)}分）"
    elif mode == "hw":
        h = f"{h}{sep}({_fmt_max(mx)})"
    return h


def _summary_rows(y: Year, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> tuple[list[list], list[tuple]]:
    """Rows and merged ranges of the annual summary sheet (考评汇总表)."""
    items = y.items
    J = len(items)
    ncol = 2 + J + 3
    rows: list[list] = []
    merges: list[tuple] = []
    titles = [
        f"{y.year}年度市直机关党建重点工作考评汇总表",
        "（“六比六看 讲绩效”活动）",
        f"填报单位：市直机关工委\u3000\u3000\u3000\u3000\u3000\u3000填报日期：{y.year + 1}年1月15日",
    ]
    for k in range(style["title"]):
        rows.append([titles[k]] + [None] * (ncol - 1))
        merges.append((len(rows), 1, len(rows), ncol))
    heads = [_item_header(nm, mx, style, rng) for nm, mx in zip(items["item_name"], items["max_points"])]
    if style["two_level"]:
        h1 = len(rows) + 1
        cat_row: list = ["序号", style["unit_hdr"]]
        cats = items["category"].to_numpy()
        for j in range(J):
            cat_row.append(config.CATEGORY_ZH[cats[j]] if j == 0 or cats[j] != cats[j - 1] else None)
        cat_row += ["总分", "名次", "备注"]
        rows.append(cat_row)
        rows.append([None, None] + heads + [None, None, None])
        for c in (1, 2, J + 3, J + 4, J + 5):
            merges.append((h1, c, h1 + 1, c))
        j = 0
        while j < J:
            k = j
            while k + 1 < J and cats[k + 1] == cats[j]:
                k += 1
            if k > j:
                merges.append((h1, 3 + j, h1, 3 + k))
            j = k + 1
    else:
        rows.append(["序号", style["unit_hdr"]] + heads + ["总分", "名次", "备注"])
    names = _unit_names(y, namer, rng, 0.22 if messy else 0.0)
    cells = _cells(y, style, rng, messy)
    order = np.argsort(y.given_rank, kind="stable") if style["order"] == "rank" else np.arange(len(y.units))
    csv_fmt = style["fmt"] == "csv"
    vf = namer.valid_from
    first_year_succ = {u for u in y.units if vf.get(u) == y.year}
    for pos, i in enumerate(order):
        note = ""
        if messy and y.given_rank[i] <= config.TOP_N and style["order"] == "rank":
            note = "优胜单位"
        if y.units[i] in first_year_succ:
            note = "新组建"
        gt = f"{y.given_total[i]:.2f}" if csv_fmt else float(y.given_total[i])
        rows.append([pos + 1, names[i]] + cells[i] + [gt, int(y.given_rank[i]), note or None])
    pts = np.where(y.status == _OK, _points(y), np.nan)
    for tr in style["trailer"]:
        if tr == "blank":
            rows.append([None] * ncol)
        elif tr in ("合计", "平均"):
            v = np.nansum(pts, axis=0) if tr == "合计" else np.nanmean(pts, axis=0)
            gv = y.given_total.sum() if tr == "合计" else y.given_total.mean()
            dec = 1 if tr == "合计" else 2
            vals = [round(float(x), dec) for x in v] + [round(float(gv), 2), None, None]
            if csv_fmt:
                vals = [None if x is None else f"{x}" for x in vals]
            rows.append([None, tr if tr == "合计" else "平均分"] + vals)
        elif tr == "注":
            rows.append(["注：1.“/”“—”“-”“无”“不适用”表示该项目不适用于本单位，空白表示未报送；2.评档项目按好、较好、一般三档评定；3.总分不含述职评议核实调整分。"] + [None] * (ncol - 1))
            merges.append((len(rows), 1, len(rows), ncol))
        elif tr == "制表人":
            a, b = rng.choice(N.PEOPLE, 2, replace=False)
            rows.append([f"制表人：{a}某某\u3000\u3000\u3000\u3000审核人：{b}某某"] + [None] * (ncol - 1))
    return rows, merges


def _items_rows(y: Year, style: dict) -> list[list]:
    rows = []
    if style["title"]:
        rows.append([f"{y.year}年度“六比六看 讲绩效”考评项目一览表", None, None, None, None, None])
    rows.append(["序号", "考评项目", "类别", "维度", "分值", "评分方式"])
    csv_fmt = style["fmt"] == "csv"
    for k, r in enumerate(y.items.itertuples()):
        mx = _fmt_max(r.max_points) if csv_fmt else float(r.max_points)
        rows.append([k + 1, r.item_name, config.CATEGORY_ZH[r.category], config.DIMENSION_ZH[r.dimension], mx, config.METHOD_ZH[r.method]])
    return rows


def _review_rows(y: Year, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> list[list]:
    rows = [[f"{y.year}年度机关党组织书记抓党建工作述职评议核实情况", None, None, None, None]] if style["title"] else []
    rows.append(["序号", "单位", "自评分", "核实调整分", "说明"])
    names = _unit_names(y, namer, rng, 0.1 if messy else 0.0)
    csv_fmt = style["fmt"] == "csv"
    signed = messy and style.get("title", 0) >= 2
    for i in range(len(y.units)):
        a = float(y.adjustment[i])
        if csv_fmt or signed:
            av = ("+" if a > 0 else "") + (_num(int(round(abs(a) * 10))) if a else "0")
            av = ("-" + av) if a < 0 else av
        else:
            av = a
        st = f"{y.self_total[i]:.1f}" if csv_fmt else float(y.self_total[i])
        rows.append([i + 1, names[i], st, av, y.adj_note[i]])
    return rows


def _weak_rows(y: Year, style: dict, namer: _Namer) -> list[list]:
    rows = [["软弱涣散党组织整顿名单", None, None, None]] if style["title"] else []
    rows.append(["序号", "单位名称", "状态", "备注"])
    for k, (u, s) in enumerate(sorted(y.weak.items())):
        rows.append([k + 1, namer.name[u], s, "限期整顿" if s == "整顿中" else "已通过验收"])
    return rows


def _write_monthly(y: Year, path: Path, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> None:
    """月度考评汇总: one sheet per month, 计分 items only, write-only mode (fast for 5,000 units)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    pidx = np.flatnonzero(~y.graded)
    heads = list(y.items["item_name"].to_numpy()[pidx])
    names = _unit_names(y, namer, rng, 0.05 if messy else 0.0)
    as_text = messy and style["fmt"] == "csv"  # the .xls era: numbers typed as text
    ms = y.status[:, pidx]
    na_mark = style["na"][0]
    for m in MONTHS:
        ws = wb.create_sheet(f"{m}月")
        if messy:
            ws.append([f"{y.year}年{m}月市直机关党建考评月度汇总"])
        ws.append(["序号", style["unit_hdr"] if messy else "单位名称"] + heads + ["总分"])
        vals = y.monthly[m - 1]
        tot = np.where(ms == _OK, vals, 0).sum(axis=1)
        for i in range(len(y.units)):
            row: list = [i + 1, names[i]]
            for j in range(len(pidx)):
                s = ms[i, j]
                if s == _OK:
                    t = int(vals[i, j])
                    row.append(_num(t) if as_text else t / 10)
                else:
                    row.append(na_mark if s == _NA else None)
            row.append(_num(int(tot[i])) if as_text else int(tot[i]) / 10)
            ws.append(row)
    _save_xlsx(wb, path)


def _extra_sheets(y: Year, style: dict) -> list[tuple[str, list[list], list[tuple]]]:
    """Sheets that are not the summary (SPEC §2.1 case 10: ignored by the cleaner)."""
    out = []
    for name in style["sheets"] or ():
        name = name.format(y=y.year)
        if name in ("说明", "填表说明"):
            out.append((name, [["填表说明"], ["1. 本表由市直机关工委汇总。"], ["2. 评档项目按好、较好、一般三档评定。"]], []))
        elif name == "得分排名":
            top = np.argsort(y.given_rank, kind="stable")[:10]
            out.append((name, [["名次", "单位", "总分"]] + [[int(y.given_rank[i]), str(y.units[i]), float(y.given_total[i])] for i in top], []))
        else:
            out.append((name, [], []))
    return out


def write_raw(world: World, raw_dir: str | Path, messy: bool = True) -> list[Path]:
    """Write the raw workbooks of ``world`` into ``raw_dir`` (SPEC §2); returns the files written."""
    raw = Path(raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    written = []
    reg = world.units.copy()
    with atomic_path(raw / "units.csv") as tmp:
        reg.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    written.append(raw / "units.csv")
    namer = _Namer(world.units)
    rng = np.random.default_rng([world.seed, 7])
    for k, (year, y) in enumerate(sorted(world.years.items())):
        st = _style(k, messy)
        folder = raw / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        ext = "csv" if st["fmt"] == "csv" else "xlsx"
        items_name, summary_name = (s.format(y=year) for s in st["names"])
        if st["sources"]:
            monthly_name, review_name, weak_name = "附件3.xlsx", "附件4.xlsx", "附件5.xlsx"
        else:
            monthly_name = f"{year}年月度考评汇总.xlsx"
            review_name = f"{year}年度述职评议结果.{ext}"
            weak_name = f"{year}年软弱涣散党组织整顿名单.{ext}"
        one = dict(st, sheets=None)
        _write_table_file(folder / items_name, [("考评项目", _items_rows(y, st), [])], one)
        rows, merges = _summary_rows(y, st, namer, rng, messy)
        if st["fmt"] == "csv":
            sheets = [("汇总", rows, merges)]
        else:
            names = [s.format(y=year) for s in (st["sheets"] or ("汇总",))]
            target = names.index("汇总") if "汇总" in names else 0
            extra = _extra_sheets(y, st)
            sheets = [(names[i], rows, merges) if i == target else extra[i] for i in range(len(names))]
        _write_table_file(folder / summary_name, sheets, st)
        written += [folder / items_name, folder / summary_name]
        sources = {"items": items_name, "summary": summary_name}
        if y.monthly is not None:
            _write_monthly(y, folder / monthly_name, st, namer, rng, messy)
            written.append(folder / monthly_name)
            sources["monthly"] = monthly_name
        if y.adjustment is not None:
            _write_table_file(folder / review_name, [("述职评议", _review_rows(y, st, namer, rng, messy), [])], one)
            written.append(folder / review_name)
            sources["review"] = review_name
        if y.weak:
            _write_table_file(folder / weak_name, [("软弱涣散党组织", _weak_rows(y, st, namer), [])], one)
            written.append(folder / weak_name)
            sources["weak_orgs"] = weak_name
        if st["sources"]:
            import yaml

            text = "# 本年度各表文件名（清洗程序据此查找）\n" + yaml.safe_dump(sources, allow_unicode=True, sort_keys=False)
            atomic_write(folder / "sources.yaml", text)
            written.append(folder / "sources.yaml")
    return written


def write_truth(world: World, truth_dir: str | Path) -> list[Path]:
    """Write the ground-truth tables (docs/CONTRACT.md) as UTF-8 CSV into ``truth_dir``."""
    folder = Path(truth_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in world.truth.items():
        with atomic_path(folder / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        out.append(folder / f"{name}.csv")
    return out


def write_world(
    raw_dir: str | Path,
    truth_dir: str | Path,
    seed: int = config.SEED,
    n_units: int = 74,
    years: tuple[int, int] = (2009, 2016),
    monthly_years: tuple[int, int] | list[int] | None = None,
    messy: bool = True,
    n_items: int | None = None,
    lone_group: bool = False,
    shape: Shape | None = None,
) -> World:
    """Generate the sample world and write its raw workbooks and ground truth.

    Parameters
    ----------
    raw_dir : path
        Folder for ``units.csv`` and the year folders (SPEC §2). Existing files of the same
        names are replaced atomically; nothing else in the folder is touched.
    truth_dir : path
        Folder for the truth tables of docs/CONTRACT.md: ``units``, ``items``, ``scores``
        (year, period, unit_id, item_id, points, status, grade — every period incl. months),
        ``adjustments`` (year, unit_id, adjustment), ``weak_orgs`` (year, unit_id, status),
        ``given`` (year, unit_id, given_total, given_rank), ``totals``
        (:func:`pipeline.score.totals` with defaults) and ``anomalies`` (year, unit_id,
        item_id, period, kind, detail).
    seed, n_units, years, monthly_years, n_items, lone_group
        See :func:`generate`.
    messy : bool
        True (default) writes the workbooks as a committee exports them (SPEC §2.1);
        False writes plain tidy xlsx (one header row, standard names, numbers as numbers).
    shape : Shape, optional
        How honest scores are given (see :class:`Shape`); default the sample's.

    Returns
    -------
    World
        The generated world (also useful to tests).
    """
    world = generate(seed=seed, n_units=n_units, years=years, monthly_years=monthly_years, n_items=n_items, lone_group=lone_group,
                     shape=shape)
    write_raw(world, raw_dir, messy=messy)
    write_truth(world, truth_dir)
    return world
