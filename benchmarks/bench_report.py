"""``make report`` from scratch, unchanged, and after adding one year — side by side in one run (issue #12).

Each measurement is the wall time of the process ``python -m pipeline all --params P`` (what
``make report`` runs once ``.venv`` exists) on a copy of the bundled sample world
(``data/raw``, 74 units, 2009–2016) in ``benchmarks/out/report/``; ``data/`` and ``reports/``
of the checkout are not touched. Order:

1. **from scratch**: every year, nothing computed before, no CJK font subset cached;
2. **unchanged**: ``all`` again, nothing changed;
3. the last year's folder taken away, ``all`` (sets up step 4; the other years are reused),
   and its analysis and report deleted so that nothing of it can be reused;
4. **after adding one year**: the last year's folder is put back, ``all`` again.

Targets (issue #12): from scratch ≤ 100 s, after adding one year ≤ 30 s, unchanged ≤ 10 s,
on 2 cores.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "report"


def run_all(params: Path, *extra: str, env: dict | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (the child and every process it waited for: workers, kernels) of one
    ``python -m pipeline all --params params`` run, and its reuse summary line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pipeline", "all", "--params", str(params), *extra],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0", **(env or {})})
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise RuntimeError(f"pipeline all failed: {r.stderr.strip().splitlines()[-1:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = [ln for ln in r.stderr.splitlines() if "step(s) reused" in ln]
    return dt, cpu, (summary[-1].split("all: ", 1)[-1] if summary else "")


def copy_sample(dest: Path) -> Path:
    """A copy of the bundled sample world (``data/raw``) in ``dest`` (replaced)."""
    src = ROOT / "data" / "raw"
    if not any(p.is_dir() and re.fullmatch(r"\d{4}", p.name) for p in src.iterdir()):
        raise RuntimeError(f"{src}: no sample world (run `make synth`)")
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest)
    return dest


def forget_font_subsets() -> None:
    """A fresh clone has no CJK font subset yet: the from-scratch run cuts it (and packs its WOFF2)."""
    shutil.rmtree(Path(os.environ.get("MPLCONFIGDIR", ROOT / ".mplconfig")) / "font-subsets", ignore_errors=True)


def _run(params: Path, *extra: str) -> tuple[float, str]:
    dt, _, summary = run_all(params, *extra)
    return dt, summary


def main() -> list[dict]:
    shutil.rmtree(OUT, ignore_errors=True)
    raw, proc, rep = copy_sample(OUT / "raw"), OUT / "processed", OUT / "reports"
    years = sorted(p.name for p in raw.iterdir() if p.is_dir() and re.fullmatch(r"\d{4}", p.name))
    last = years[-1]
    params = OUT / "params.yaml"
    params.write_text(f"raw: {raw}\nprocessed: {proc}\nreports: {rep}\n", encoding="utf-8")
    forget_font_subsets()
    t_full, s_full = _run(params)
    t_same, s_same = _run(params)
    held = OUT / f"held_{last}"
    shutil.move(str(raw / last), held)
    t_base, _ = _run(params)
    # the year comes back as new: nothing of it may be reused from step 1
    shutil.rmtree(proc / "analysis" / last, ignore_errors=True)
    shutil.rmtree(rep / last, ignore_errors=True)
    shutil.rmtree(rep / f"study_{years[0]}-{last}", ignore_errors=True)  # the new span's study is new too
    shutil.move(str(held), raw / last)
    t_add, s_add = _run(params)
    n = len(years)
    return [
        {"name": "make report: from scratch", "value": round(t_full, 1), "unit": "s", "target": "≤ 100",
         "note": f"{n} years + study, every step computed ({s_full})"},
        {"name": "make report: after adding one year", "value": round(t_add, 1), "unit": "s", "target": "≤ 30",
         "note": f"{last} added to {years[0]}–{years[-2]} ({s_add})"},
        {"name": "make report: unchanged", "value": round(t_same, 1), "unit": "s", "target": "≤ 10", "note": s_same},
        {"name": f"(setup: {last} taken away again)", "value": round(t_base, 1), "unit": "s", "target": "", "note": ""},
    ]


if __name__ == "__main__":  # pragma: no cover
    for row in main():
        print(row)
