"""Benchmark of ``python -m pipeline scheme`` (issue #13): all 8 years of the bundled sample.

Target: one scheme file over all years of the bundled sample in < 30 s (processed tables
present, as after ``make report`` or ``python -m pipeline clean``). The command runs as a
subprocess (start-up, loading, 8 years × Monte Carlo of 1,000 samples per tier, permutation tests
with 999 permutations, HTML + PDF + tables.xlsx). Wall time moves with machine load, so the
child's CPU time (user + sys) is reported beside it.

Run standalone: ``.venv/bin/python benchmarks/bench_scheme.py`` (or ``python -m pipeline bench --only scheme``).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORLD = ROOT / "benchmarks" / "out" / "scheme_world"


def _world() -> Path:
    """A project root whose data/processed is the bundled sample, cleaned once and reused."""
    proc = WORLD / "data" / "processed"
    if not (proc / "items.parquet").exists():
        from pipeline import clean

        clean.run(ROOT / "data" / "raw", proc, progress=False)
    return WORLD


def _run(files: list[str], out: Path) -> tuple[float, float]:
    env = dict(os.environ, PIPELINE_ROOT=str(_world()))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "scheme", *files, "--out", str(out)], check=True, env=env, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> list[dict]:
    rows = []
    _world()
    for name in ("equal_categories", "by_sector", "tiers_by_type"):
        wall, cpu = _run([str(ROOT / "schemes" / f"{name}.yaml")], WORLD / "reports" / name)
        rows.append(dict(name=f"scheme {name}.yaml, 8 years, HTML + PDF + xlsx", value=wall, unit="s", target="< 30 s",
                         note=f"CPU (user + sys) {cpu:.1f} s; MC 1,000 per tier and year, 999 permutations"))
    files = [str(ROOT / "schemes" / f"{n}.yaml") for n in ("equal_categories", "by_sector", "tiers_by_type")]
    wall, cpu = _run(files, WORLD / "reports" / "side-by-side")
    rows.append(dict(name="scheme, three files side by side, 8 years", value=wall, unit="s", target="—", note=f"CPU (user + sys) {cpu:.1f} s"))

    from pipeline.scheme import evaluate, load_tables, parse, year_frames

    tables = load_tables(WORLD / "data" / "processed")
    frames = year_frames(tables)
    s = parse(ROOT / "schemes" / "tiers_by_type.yaml")
    t = time.process_time()
    evaluate(tables, s, frames, n_mc=1000)
    rows.append(dict(name="evaluate only (tiers_by_type, 8 years)", value=time.process_time() - t, unit="s CPU", target="—",
                     note="comparison + agreement + group tests + Monte Carlo; the rest of the command is loading and rendering"))
    return rows


if __name__ == "__main__":
    for r in main():
        print(f"{r['name']}: {r['value']:.4g} {r['unit']} (target {r['target']}) — {r['note']}")
