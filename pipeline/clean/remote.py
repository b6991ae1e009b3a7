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
def _file_task(spec: tuple, matcher: UnitMatcher, grade_map: dict):
    """Run :func:`_items_file` / :func:`_data_file` with a private log; return (result, log tables, problems)."""
    role, path, year, raw, items, summary_sheet = spec
    sub = _Run(grade_map, Path(os.devnull))
    if role == "items":
        res = _items_file(path, year, raw, sub, {})
    else:
        res = _data_file(role, path, year, raw, items, matcher, summary_sheet, sub, {})
    sub._flush()
    return res, sub.logs, sub.problems


def _read_remote(plans: dict, raw: Path, matcher: UnitMatcher, grade_map: dict, scheduler) -> dict:
    """Read every file of every year on the cluster: item lists first (the others need them).

    Returns ``{path: (result, log tables, problems)}`` for :func:`_take`. The files are those
    :func:`_read_year` reads (a role with several files reads none of them).
    """
    from pipeline import cluster

    def files(plan, role):
        return list(plan[role]) if role == "monthly" or len(plan[role]) <= 1 else []

    shared = {"matcher": matcher, "grade_map": grade_map}
    specs = [("items", p, y, raw, None, None) for y, plan in sorted(plans.items()) for p in files(plan, "items")]
    done = dict(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-items")))
    items_of = {y: next((done[p][0] for p in files(plan, "items")), None) for y, plan in plans.items()}
    specs = [(role, p, y, raw, items_of[y], plan.get("summary_sheet"))
             for y, plan in sorted(plans.items()) for role in ("summary", "monthly", "review", "weak") for p in files(plan, role)]
    done.update(zip((s[1] for s in specs), cluster.map_tasks(_file_task, specs, scheduler, shared=shared, key="clean-files")))
    return done
