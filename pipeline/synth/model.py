"""The world model of the synthetic sample: shapes, years, the registry, items and latent scores.

:class:`Shape` says how honest scores are given; :class:`Year` and :class:`World` hold a world in
memory (points in integer tenths); the helpers draw the registry, each year's items and unit
quality (stationary AR(1), :data:`RHO`) and turn latent scores into points and grades.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pipeline import config
from pipeline import score as S
from pipeline.errors import PipelineError
from pipeline import synth_names as N


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
