"""The same file readers as tasks on a Dask cluster (SPEC §9): one task per file.

Each task keeps a private log; :func:`pipeline.clean.files._take` merges its log rows and problems in the order of
the single-machine run, so the outputs are identical.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.clean.context import _Run
from pipeline.clean.files import _data_file, _items_file
from pipeline.clean.units import UnitMatcher


# ---- the same file readers as tasks on a Dask cluster (SPEC §9): one task per file
def _file_task(spec: tuple, matcher: UnitMatcher, grade_map: dict, sniffed: dict | None = None):
    """Run :func:`_items_file` / :func:`_data_file` with a private log; return (result, log tables, problems).

    ``sniffed``: workbooks this process already opened to classify files (none on a worker)."""
    role, path, year, raw, items, summary_sheet = spec
    sub = _Run(grade_map, Path(os.devnull))
    sniffed = {} if sniffed is None else sniffed
    if role == "items":
        res = _items_file(path, year, raw, sub, sniffed)
    else:
        res = _data_file(role, path, year, raw, items, matcher, summary_sheet, sub, sniffed)
    sub._flush()
    return res, sub.logs, sub.problems


def _files(plan: dict, role: str) -> list[Path]:
    """The files of ``role`` that are read: as :func:`pipeline.clean.files._read_year`, a role with
    several files (other than monthly sheets) reads none of them (a problem)."""
    return list(plan[role]) if role == "monthly" or len(plan[role]) <= 1 else []


def _read_remote(plans: dict, raw: Path, matcher: UnitMatcher, grade_map: dict, scheduler) -> dict:
    """Read every file of every year on the cluster: item lists first (the others need them).

    Returns ``{path: (result, log tables, problems)}`` for :func:`_take`. The files are those
    :func:`_read_year` reads (a role with several files reads none of them).
    """
    from pipeline import cluster

    shared = {"matcher": matcher, "grade_map": grade_map}
    specs = [("items", p, y, raw, None, None) for y, plan in sorted(plans.items()) for p in _files(plan, "items")]
    done = dict(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-items")))
    items_of = {y: next((done[p][0] for p in _files(plan, "items")), None) for y, plan in plans.items()}
    specs = [(role, p, y, raw, items_of[y], plan.get("summary_sheet"))
             for y, plan in sorted(plans.items()) for role in ("summary", "monthly", "review", "weak") for p in _files(plan, role)]
    done.update(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-files")))
    return done
