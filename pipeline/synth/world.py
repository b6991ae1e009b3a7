"""Generating a world: honest scores, the planted anomalies and the ground truth (:func:`generate`).

The anomalies of :data:`ANOMALY_KINDS` are planted on distinct units chosen by the seed and
listed in ``anomalies``; ``World.truth`` holds the tables of docs/CONTRACT.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import config
from pipeline import score as S
from pipeline.errors import PipelineError
from pipeline import synth_names as N
from pipeline.synth.model import (
    ANOMALY_KINDS, DEFAULT_SHAPE, Shape, World, Year, _MISSING, _NA, _OK, _active, _base_totals,
    _grade_from_z, _items, _lone_group, _quality, _quantise, _registry, _scores_frame, _shift_tenths,
    _tenths_from_z,
)


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
