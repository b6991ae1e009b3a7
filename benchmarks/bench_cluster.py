"""Scale-out benchmarks (issue 14): one process vs a 2-worker Dask LocalCluster, side by side.

(a) ``uncertainty`` on 10⁴ units × 10⁵ samples and 10⁵ units × 10⁴ samples (24 items, 4
    category weights); (b) cleaning a tiered world of 2,000 CSV workbooks
    (:mod:`pipeline.synth_scale`); (c) the single-process scaling table: units 74 → 10⁵ at
    10³ samples, samples 10³ → 10⁶ at 74 units, with the time ratio per doubling of units.

Wall time; peak RSS of the single process (a fresh subprocess, ``ru_maxrss``) and of each
worker (workers restarted before each case, ``ru_maxrss`` read with ``Client.run``); scaling
efficiency = t₁ / (2 · t₂). Every cluster result is checked against the single-process one
(identical ``mean_rank``, ``q05``, ``q95``, system statistics; identical cleaned tables).

``--scale f`` multiplies the sample counts of (a) by f (the work is linear in samples, see
(c)); the figures at full size are then extrapolated and marked so. Run standalone::

    .venv/bin/python benchmarks/bench_cluster.py [--scale 0.1] [--skip-clean] [--skip-table]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))

CHILD_UNC = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from benchmarks.bench_cluster import world
from pipeline.sensitivity import uncertainty
u, n = int(sys.argv[1]), int(sys.argv[2])
x, m, cats = world(u)
t = time.perf_counter()
res = uncertainty(x, m, n, seed=1, groups=cats)
dt = time.perf_counter() - t
res.to_parquet(sys.argv[3])
print(json.dumps({{"seconds": dt, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "system": res.attrs["system"]}}))
"""

CHILD_CLEAN = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from pipeline import clean
t = time.perf_counter()
res = clean.run(sys.argv[1], sys.argv[2], progress=False, allow_quarantine=True)
res["seconds"] = time.perf_counter() - t
res["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(res))
"""


def world(u: int, seed: int = 20240601):
    """u units × 24 items on the 100-point scale (the bench_sensitivity world, more units)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    m = rng.integers(2, 8, 24).astype(float)
    m = m / m.sum() * 100
    quality = rng.normal(0, 1, (u, 1))
    x = np.clip(0.8 + 0.08 * quality + 0.06 * rng.normal(0, 1, (u, 24)), 0, 1) * m
    x = np.floor(x * 10) / 10
    return x, m, np.array(["ideology", "organisation", "conduct", "special"] * 6)


def _child(code: str, *args) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("PIPELINE_SCHEDULER", None)
    proc = subprocess.run([sys.executable, "-c", code.format(root=str(ROOT)), *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _worker_rss(client) -> float:
    return max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())


def _on_cluster(client, u: int, n: int):
    """``uncertainty`` of ``world(u)`` with ``n`` samples on freshly restarted workers: (result,
    wall seconds, peak RSS per worker in MB). The single-process child times the call after its
    imports; so do the workers (the pipeline is imported on them before the clock starts)."""
    from pipeline.sensitivity import uncertainty

    client.restart()
    client.run(importlib.import_module, "pipeline.sensitivity.uncertainty")
    x, m, cats = world(u)
    t = time.perf_counter()
    got = uncertainty(x, m, n, seed=1, groups=cats, scheduler=client)
    return got, time.perf_counter() - t, _worker_rss(client)


def bench_uncertainty(client, cases, scale: float) -> list[dict]:
    import pandas as pd

    rows = []
    OUT.mkdir(parents=True, exist_ok=True)
    for u, n_full in cases:
        n = max(200, int(n_full * scale))
        path = OUT / f"unc_{u}_{n}.parquet"
        one = _child(CHILD_UNC, u, n, path)
        ref = pd.read_parquet(path)
        got, two, rss = _on_cluster(client, u, n)
        same = all(got[c].equals(ref[c]) for c in ("mean_rank", "sd_rank", "q05", "q95", "p_winner")) and \
            json.dumps(got.attrs["system"], sort_keys=True) == json.dumps(one["system"], sort_keys=True)
        f = n_full / n
        tag = f"{u:,} units × {n_full:,} samples" + ("" if f == 1 else f" (measured {n:,}, ×{f:g} extrapolated)")
        eff = one["seconds"] / (2 * two)
        rows += [
            dict(name=f"(a) {tag}: 1 process", value=one["seconds"] * f, unit="s", target="—",
                 note=f"peak RSS {one['rss_mb']:.0f} MB; rank resolution {got.attrs['system']['rank_resolution']}"),
            dict(name=f"(a) {tag}: 2 workers", value=two * f, unit="s", target="10⁵×10⁵ < 300 s",
                 note=f"peak RSS per worker {rss:.0f} MB (< 4 GB); efficiency {eff:.2f}; identical: {same}"),
        ]
    return rows


def bench_big(client, u: int = 100_000, n: int = 100_000) -> list[dict]:
    """The goal case on the cluster only: 10⁵ units × 10⁵ samples (one process would take ~2×
    as long; its identity with the cluster result is tested at small sizes in tests/test_cluster.py)."""
    got, two, rss = _on_cluster(client, u, n)
    sysd = got.attrs["system"]
    return [dict(name=f"(a) {u:,} units × {n:,} samples: 2 workers", value=two, unit="s", target="< 300 s, < 4 GB per worker",
                 note=f"peak RSS per worker {rss:.0f} MB; τ on {sysd['kendall_n']} draws; rank resolution {sysd['rank_resolution']}; "
                      f"{two / (u * n) * 1e9 * 2:.0f} ns per unit-sample per worker")]


def bench_clean(client, n_files: int, n_units: int) -> list[dict]:
    import pandas as pd

    from pipeline import clean, synth_scale

    base = OUT / f"cluster_clean_{n_units}_{n_files}"
    raw = base / "raw"
    if not (base / ".complete").exists():
        t = time.perf_counter()
        info = synth_scale.write_scale_world(raw, None, n_units=n_units, files_per_year=n_files, years=(2016, 2016))
        (base / ".complete").write_text(json.dumps({**info, "seconds": time.perf_counter() - t}), encoding="utf-8")
    info = json.loads((base / ".complete").read_text(encoding="utf-8"))
    one = _child(CHILD_CLEAN, raw, base / "one")
    client.restart()
    t = time.perf_counter()
    two_res = clean.run(raw, base / "two", progress=False, allow_quarantine=True, scheduler=client)
    two = time.perf_counter() - t
    rss = _worker_rss(client)
    same = all((base / "one" / f).read_bytes() == (base / "two" / f).read_bytes()
               for f in ("scores.csv", "totals.csv", "cleaning_log.csv", "quarantine.csv"))
    same = same and pd.read_parquet(base / "one" / "scores.parquet").equals(pd.read_parquet(base / "two" / "scores.parquet"))
    tag = f"{two_res['files']:,} files, {n_units:,} units, {two_res['cells']:,} cell values"
    return [
        dict(name=f"(b) clean {tag}: 1 process", value=one["seconds"], unit="s", target="—",
             note=f"peak RSS {one['rss_mb']:.0f} MB; world written in {info['seconds']:.0f} s"),
        dict(name=f"(b) clean {tag}: 2 workers", value=two, unit="s", target="—",
             note=f"peak RSS per worker {rss:.0f} MB; efficiency {one['seconds'] / (2 * two):.2f}; identical tables/log/quarantine: {same}"),
    ]


def scaling_table(n_samples: int = 1000, max_units: int = 100_000, repeat: int = 3) -> list[dict]:
    """One process: time vs units (``n_samples`` samples) and vs samples (74 units).

    Each figure is the best of ``repeat`` runs after a small warm-up run of the same world (the
    machine is shared: the minimum is the least disturbed run); the note gives the 1-minute load
    average after the runs.
    """
    from pipeline.sensitivity import uncertainty

    def best(f, k: int) -> tuple[float, object]:
        t_min, out = float("inf"), None
        for _ in range(k):
            t = time.perf_counter()
            out = f()
            t_min = min(t_min, time.perf_counter() - t)
        return t_min, out

    rows = []
    prev = None
    units = [u for u in (74, 148, 296, 592, 1184, 2368, 4736, 9472, 18944, 37888, 75776, 100000) if u <= max_units]
    for u in units:
        x, m, cats = world(u)
        uncertainty(x, m, 20, seed=1, groups=cats)  # warm-up
        dt, res = best(lambda: uncertainty(x, m, n_samples, seed=1, groups=cats), repeat if u <= 20_000 else 1)
        ratio = "" if prev is None or u != 2 * prev[0] else f"; ×{dt / prev[1]:.2f} for 2× units"
        rows.append(dict(name=f"(c) {u:,} units × {n_samples:,} samples", value=dt, unit="s", target="≤ 2.2× per doubling",
                         note=f"{dt / (u * n_samples) * 1e9:.0f} ns per unit-sample; τ on {res.attrs['system']['kendall_n']} draws; "
                              f"rank resolution {res.attrs['system']['rank_resolution']}{ratio}; load {os.getloadavg()[0]:.1f}"))
        prev = (u, dt)
        _show(rows[-1])
    x, m, cats = world(74)
    uncertainty(x, m, 20000, seed=1, groups=cats)  # warm-up
    for n in (10**3, 10**4, 10**5, 10**6):
        dt, _ = best(lambda: uncertainty(x, m, n, seed=1, groups=cats), repeat)
        rows.append(dict(name=f"(c) 74 units × {n:,} samples", value=dt, unit="s", target="10⁶: ≈ 1.1–1.4 s (idle machine)",
                         note=f"{dt / (74 * n) * 1e9:.1f} ns per unit-sample; load {os.getloadavg()[0]:.1f}"))
        _show(rows[-1])
    return rows


def _show(r: dict) -> None:
    print(f"{r['name']}: {r['value']:.4g} {r['unit']} (target {r['target']}) — {r['note']}", flush=True)


def main(scale: float = 1.0, skip_clean: bool = False, skip_table: bool = False, skip_unc: bool = False,
         n_files: int = 2000, clean_units: int = 4000, table_samples: int = 1000, big: bool = False) -> list[dict]:
    from distributed import Client, LocalCluster

    rows: list[dict] = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="4GB", dashboard_address=None) as lc, \
            Client(lc) as client:
        if big:
            rows += bench_big(client)
            _show(rows[-1])
        if not skip_unc:
            for case in [(10_000, 100_000), (100_000, 10_000)]:
                rows += bench_uncertainty(client, [case], scale)
                _show(rows[-2]), _show(rows[-1])
        if not skip_clean:
            rows += bench_clean(client, n_files=n_files, n_units=clean_units)
            _show(rows[-2]), _show(rows[-1])
    if not skip_table:
        rows += scaling_table(table_samples)
    rows.append(dict(name="load average (1 min) at the end", value=os.getloadavg()[0], unit="", target="—",
                     note=f"{os.cpu_count()} cores shared; timings scale with load"))
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--skip-clean", action="store_true")
    ap.add_argument("--skip-table", action="store_true")
    ap.add_argument("--skip-unc", action="store_true")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--clean-units", type=int, default=4000)
    ap.add_argument("--table-samples", type=int, default=1000)
    ap.add_argument("--big", action="store_true", help="also 10⁵ units × 10⁵ samples on the cluster (≈ 5 min)")
    a = ap.parse_args()
    rows = main(a.scale, a.skip_clean, a.skip_table, a.skip_unc, a.files, a.clean_units, a.table_samples, a.big)
    _show(rows[-1])
