"""``python -m pipeline bench``: run ``benchmarks/bench_*.py`` and record their results.

Each benchmark script defines ``main() -> list[dict]`` with keys ``name``, ``value``, ``unit``,
``target`` and ``note``. The runner prints them and rewrites the results block of
``benchmarks/README.md`` (between the ``<!-- results -->`` markers), keeping its prose.
Speed targets are checked here, never by timed tests.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import os
import platform
import sys
from pathlib import Path

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.io import atomic_write

__all__ = ["run", "render"]

BENCH_DIR = config.ROOT / "benchmarks"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def render(results: dict[str, list[dict]]) -> str:
    """Markdown block of all results, one table per benchmark script."""
    lines = [
        START,
        f"_Last run: {_dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}._",
        "",
    ]
    for script, rows in results.items():
        lines += [f"### {script}", "", "| benchmark | value | unit | target | note |", "|---|---|---|---|---|"]
        for r in rows:
            v = r.get("value")
            v = f"{v:,.4g}" if isinstance(v, (int, float)) else str(v)
            cells = [str(x).replace("|", "\\|") for x in (r.get("name", ""), v, r.get("unit", ""), r.get("target", ""), r.get("note", ""))]
            lines.append("| " + " | ".join(cells) + " |")  # a '|' inside a cell is escaped, not a column
        lines.append("")
    lines.append(END)
    return "\n".join(lines)


def run(only: str | None = None) -> int:
    """Run every benchmark (or those whose file name contains ``only``); update the README."""
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if only in s.stem]
    if not scripts:
        raise PipelineError(f"no benchmarks found in {BENCH_DIR}" + (f" matching {only!r}" if only else ""))
    readme = BENCH_DIR / "README.md"
    old = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n\n"
    results: dict[str, list[dict]] = {}
    # keep previously recorded results of scripts not run this time
    if START in old and only:
        import re

        for m in re.finditer(r"### (bench_\w+)\n\n((?:\|.*\n)+)", old.split(START, 1)[1].split(END, 1)[0]):
            results[m.group(1)] = [
                dict(zip(["name", "value", "unit", "target", "note"],
                         [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip()[1:-1])]))  # '\|' is a '|' inside a cell
                for row in m.group(2).strip().splitlines()[2:]
            ]
    for script in scripts:
        print(f"[bench] {script.name} …", file=sys.stderr, flush=True)
        rows = _load(script).main()
        results[script.stem] = rows
        for r in rows:
            print(f"  {r['name']}: {r['value']} {r.get('unit','')} (target {r.get('target','')})", file=sys.stderr)
    results = dict(sorted(results.items()))
    block = render(results)
    if START in old and END in old:
        new = old.split(START, 1)[0] + block + old.split(END, 1)[1]
    else:
        new = old.rstrip() + "\n\n## Results\n\n" + block + "\n"
    atomic_write(readme, new)
    print(f"[bench] results written to {readme.relative_to(config.ROOT)}", file=sys.stderr)
    return 0
