"""What ``make report`` from scratch costs without its vector charts and PDFs (issue #12).

An ablation, not a product option: it answers whether the from-scratch goal (≤ 100 s on
2 cores) could be met by dropping outputs rather than by making the pipeline faster. Each
measurement is the wall and CPU time (the process and all its children: workers and kernels)
of ``python -m pipeline all`` from scratch on a copy of the bundled sample world, as in
``bench_report.py``, with:

1. everything (what ``make report`` writes);
2. no SVG: every chart is written as PNG only;
3. no SVG and no PDF: no chart SVG and no PDF (every ``report.pdf`` and ``bulletin_H1.pdf``
   is written empty; the print page is still rendered, WeasyPrint is not run).

The outputs are dropped by a ``sitecustomize`` module put on the runs' ``PYTHONPATH`` (workers
and kernels inherit it), which wraps :func:`pipeline.plots.style.save` and
:func:`pipeline.report.render._write_pdf` when they are imported; the package itself has no
switch for this.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "scope"


def _sibling(name: str):
    """A benchmark script beside this one, loaded by path (the bench runner loads scripts so too)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


#: the from-scratch run, the sample copy and the font-cache reset of ``bench_report.py``
bench_report = _sibling("bench_report")

_HOOK = '''\
"""Bench-only (benchmarks/bench_scope.py): drop chart SVGs and/or PDFs as their modules load."""
import importlib.abc, importlib.machinery, os, sys

_DROP = set(filter(None, os.environ.get("PIPELINE_BENCH_DROP", "").split(",")))


def _patch(module):
    if module.__name__ == "pipeline.plots.style" and "svg" in _DROP:
        save = module.save

        def save_png_only(fig, path, formats=("png", "svg")):
            return save(fig, path, tuple(f for f in formats if f != "svg"))

        module.save = save_png_only
    if module.__name__ == "pipeline.report.render" and "pdf" in _DROP:
        def no_pdf(html_text, path, otf=None):
            open(path, "wb").close()

        module._write_pdf = no_pdf


class _Hook(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in ("pipeline.plots.style", "pipeline.report.render"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


if _DROP:
    sys.meta_path.insert(0, _Hook())
'''


def main() -> list[dict]:
    shutil.rmtree(OUT, ignore_errors=True)
    hook = OUT / "hook"
    hook.mkdir(parents=True)
    (hook / "sitecustomize.py").write_text(_HOOK, encoding="utf-8")
    raw = bench_report.copy_sample(OUT / "raw")
    rows = []
    for drop, label in (("", "everything"), ("svg", "no chart SVG"), ("svg,pdf", "no chart SVG, no PDF")):
        case = OUT / (drop.replace(",", "-") or "all")
        params = case / "params.yaml"
        case.mkdir()
        params.write_text(f"raw: {raw}\nprocessed: {case / 'processed'}\nreports: {case / 'reports'}\n", encoding="utf-8")
        bench_report.forget_font_subsets()
        env = {"PIPELINE_BENCH_DROP": drop,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH", "")]))}
        wall, cpu, _ = bench_report.run_all(params, env=env)
        if "svg" in drop and any((case / "reports").glob("*/figures/*.svg")):
            raise RuntimeError("the SVG ablation did not take: an SVG was written")
        if "pdf" in drop and any(p.stat().st_size for p in (case / "reports").glob("*/*.pdf")):
            raise RuntimeError("the PDF ablation did not take: a PDF was written")
        rows.append({"name": f"from scratch, {label}", "value": round(wall, 1), "unit": "s", "target": "≤ 100",
                     "note": f"CPU {cpu:.0f} s (all processes)"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in main():
        print(row)
