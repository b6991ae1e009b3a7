"""Benchmark of the cleaning step: a scaled world of 5,000 units × 24 items × 12 months × 8 years.

``main() -> list[dict]`` (keys name, value, unit, target, note), runnable standalone::

    python benchmarks/bench_clean.py            # 5,000 units (builds the world once, ~minutes)
    python benchmarks/bench_clean.py --units 500

The world is written once by :func:`pipeline.synth.write_world` under ``benchmarks/out/`` and
reused. ``pipeline.clean.run`` runs in a fresh subprocess, so that its peak resident memory is
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (KiB on Linux) and the timing excludes the
world generation. "Cell values" are the item cells read (annual + monthly), i.e. the rows of
the ``scores`` table. Targets: ≥ 200,000 cell values/s, peak RSS < 2 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"

_CHILD = """
import json, sys, time
from pipeline import clean
t0 = time.perf_counter()
res = clean.run(sys.argv[1], sys.argv[2], progress=False)
res["seconds"] = time.perf_counter() - t0
print(json.dumps(res))
"""


def build_world(n_units: int, years=(2009, 2016), seed: int = 7) -> Path:
    """Write (once) the scaled world and return its raw folder."""
    sys.path.insert(0, str(ROOT))
    from pipeline import synth

    base = OUT / f"clean_world_{n_units}"
    raw = base / "raw"
    done = base / ".complete"
    if not done.exists():
        t0 = time.perf_counter()
        synth.write_world(raw, base / "truth", seed=seed, n_units=n_units, years=years)
        done.write_text(f"{time.perf_counter() - t0:.1f}\n", encoding="utf-8")
    return raw


def main(n_units: int = 5000) -> list[dict]:
    raw = build_world(n_units)
    out = raw.parent / "processed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(raw), str(out)], capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"clean failed: {proc.stderr.strip().splitlines()[-1:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cells = res["cells"]
    scale = f"{n_units} units × {len(res['years'])} years, {cells:,} cell values, {res['files']} files"
    return [
        {"name": "clean: cell values per second", "value": cells / res["seconds"], "unit": "cells/s", "target": "≥ 200000", "note": scale},
        {"name": "clean: wall time", "value": res["seconds"], "unit": "s", "target": "", "note": f"process incl. start-up {wall:.1f} s"},
        {"name": "clean: peak RSS", "value": peak_mb, "unit": "MB", "target": "< 2048", "note": "subprocess ru_maxrss"},
    ]


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=5000)
    args = ap.parse_args()
    for row in main(args.units):
        print(f"{row['name']}: {row['value']:,.1f} {row['unit']} (target {row['target']}) — {row['note']}")
