"""``python -m pipeline verify reports/<year>/manifest.json`` — re-run a year and compare (SPEC §10).

A reviewer, possibly years later, learns whether the published numbers of a year are
reproduced by the recorded inputs, parameters and code, or exactly what differs:

1. **Inputs.** Every file the manifest records is hashed again (SHA-256); each file that
   changed or is missing is named. Raw files that are not in the record are listed for
   information; so are recorded processed tables that differ now (they are derived from the
   raw files, a later run may have replaced them, and the re-run computes them again).
2. **Parameters.** The re-run uses the recorded parameters; with ``--params FILE`` it uses
   those instead, and each parameter whose value differs from the record is named.
3. **Re-run.** The year is computed again into a temporary folder by :func:`_rerun` (the one
   place that knows how a year is produced: clean → check → analyze → build).
4. **Numbers.** Every published number is compared with the re-run's, exactly as published:
   ``numbers.json`` (every JSON leaf, by key path), ``ranking.csv`` (every cell, by unit_id
   and column, compared as the text written) and ``tables.xlsx`` (every cell, ``sheet!cell``,
   compared as the stored value). Each difference is listed with both values. A file that
   the year's folder does not hold is reported as "not published".
5. **Environment.** Whether the package versions, the code commit and the lock file match
   the record is stated (information: a different environment that reproduces every number
   still passes).

The exit code is 0 only when every input is unchanged and every published number is
reproduced, 1 otherwise (2 for a manifest that cannot be read).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from pipeline import config, provenance
from pipeline.errors import PipelineError
from pipeline.i18n import t

__all__ = ["verify", "Outcome", "compare_json", "compare_csv", "compare_xlsx", "PUBLISHED"]

#: Published files whose numbers are compared, with their comparison function (by name).
PUBLISHED = ("numbers.json", "ranking.csv", "tables.xlsx")
#: Differences printed per file (all are counted; the rest are summarised in one line).
SHOW = 50


@dataclass
class Outcome:
    """What :func:`verify` found."""

    changed: list[str] = field(default_factory=list)  # input paths whose SHA-256 differs
    derived: list[str] = field(default_factory=list)  # recorded processed tables that differ now (the re-run recomputes them)
    missing: list[str] = field(default_factory=list)  # recorded inputs no longer there
    added: list[str] = field(default_factory=list)  # raw files not in the record (information)
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name → (recorded, used)
    diffs: dict[str, list[tuple[str, Any, Any]]] = field(default_factory=dict)  # file → [(where, published, re-run)]
    compared: dict[str, int] = field(default_factory=dict)  # file → values compared
    not_published: list[str] = field(default_factory=list)
    versions: dict[str, tuple[str, str]] = field(default_factory=dict)  # package → (recorded, now), differing only
    commit: tuple[str, str] = ("", "")
    lock: dict[str, tuple[str, str]] = field(default_factory=dict)  # lock file → (recorded, now), differing only

    @property
    def n_diffs(self) -> int:
        return sum(len(v) for v in self.diffs.values())

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.n_diffs)


# ------------------------------------------------------------------------------------ compare
def _same(a: Any, b: Any) -> bool:
    """Equal as published: same value and kind (True ≠ 1); NaN equals NaN."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a JSON value by key path (``a.b``, ``a[2].c``); empty containers are leaves."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list) and obj:
        for i, v in enumerate(obj):
            out.update(_leaves(v, f"{prefix}[{i}]"))
    else:
        out[prefix or "$"] = obj
    return out


def _diff_maps(a: dict, b: dict) -> list[tuple[str, Any, Any]]:
    absent = _Absent()
    return [(k, a.get(k, absent), b.get(k, absent)) for k in _ordered_union(a, b) if not _same(a.get(k, absent), b.get(k, absent))]


class _Absent:
    """A value on one side only."""

    def __eq__(self, other):
        return isinstance(other, _Absent)

    def __hash__(self):
        return 0

    def __repr__(self):
        return "<absent>"


def _ordered_union(a: dict, b: dict) -> list:
    return list(a) + [k for k in b if k not in a]


def compare_json(published: Path, rerun: Path) -> tuple[int, list[tuple[str, Any, Any]]]:
    """Every leaf of two JSON files by key path → (leaves compared, differences)."""
    a, b = (_leaves(json.loads(Path(p).read_text(encoding="utf-8"))) for p in (published, rerun))
    return len(a), _diff_maps(a, b)


def _csv_cells(path: Path) -> dict[str, str]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        return {}
    head, body = rows[0], rows[1:]
    key = head.index("unit_id") if "unit_id" in head else None
    out = {}
    for i, row in enumerate(body):
        rid = f"unit_id={row[key]}" if key is not None and key < len(row) else f"row {i + 2}"
        for j, col in enumerate(head):
            out[f"{rid} {col}"] = row[j] if j < len(row) else ""
    return out


def compare_csv(published: Path, rerun: Path) -> tuple[int, list[tuple[str, Any, Any]]]:
    """Every cell of two CSV files by ``unit_id`` (else row) and column, as written → (cells, differences)."""
    a, b = _csv_cells(published), _csv_cells(rerun)
    return len(a), _diff_maps(a, b)


def _xlsx_cells(path: Path) -> dict[str, Any]:
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=True)
    out = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    out[f"{ws.title}!{c.coordinate}"] = c.value
    wb.close()
    return out


def compare_xlsx(published: Path, rerun: Path) -> tuple[int, list[tuple[str, Any, Any]]]:
    """Every non-empty cell of two workbooks (``sheet!A1``), stored values → (cells, differences)."""
    a, b = _xlsx_cells(published), _xlsx_cells(rerun)
    return len(a), _diff_maps(a, b)


_COMPARE: dict[str, Callable] = {"numbers.json": compare_json, "ranking.csv": compare_csv, "tables.xlsx": compare_xlsx}


# ------------------------------------------------------------------------------------ re-run
def _rerun(params, tmp: Path) -> Path:
    """Compute the year of ``params`` again; return the folder holding its published files.

    The one place that knows how a published year is produced (the steps of
    :func:`pipeline.report.run_all` for one year): clean → check → analyze → build, into the
    ``processed`` and ``reports`` folders of ``params`` (which :func:`verify` points into
    ``tmp``); the raw folder is only read. The PDF is not rendered (it holds no number that
    ``tables.xlsx`` lacks).
    """
    from pipeline import clean, integrity, report

    clean.run(Path(params.raw), Path(params.processed), years=params.years, allow_quarantine=params.allow_quarantine, progress=False)
    integrity.run(Path(params.raw), Path(params.processed), years=params.years, top_n=params.top_n, seed=params.seed)
    report.analyze(params)
    return report.build_year(params, pdf=False)


@contextlib.contextmanager
def _mirror(prm, base: Path, tmp: Path) -> Iterator[Any]:
    """``prm`` pointed into ``tmp``, laid out as the project under ``base`` (config.ROOT = tmp meanwhile).

    ``tmp/<raw>`` links to the recorded raw folder and ``processed``/``reports`` keep their
    relative places, so the re-run writes the same relative paths into its tables (e.g. the
    inputs table of the reproducibility appendix) as the published run did.
    """
    rel = {k: provenance.relpath(getattr(prm, k), base) for k in provenance.PATH_PARAMS}
    inside = {k: not (v == ".." or v.startswith("../")) and v != "." for k, v in rel.items()}
    tmp.mkdir(parents=True, exist_ok=True)
    raw = Path(prm.raw)
    if inside["raw"]:
        link = tmp / rel["raw"]
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(raw.resolve(), target_is_directory=True)
        raw = link
    new = replace(prm, raw=str(raw), processed=str(tmp / (rel["processed"] if inside["processed"] else "processed")),
                  reports=str(tmp / (rel["reports"] if inside["reports"] else "reports")))
    pkg_parent = str(Path(__file__).resolve().parent.parent)  # kernels import pipeline from here
    saved_root, saved_pp = config.ROOT, os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = pkg_parent + (os.pathsep + saved_pp if saved_pp else "")
    config.ROOT = tmp
    try:
        yield new
    finally:
        config.ROOT = saved_root
        if saved_pp is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved_pp


# ------------------------------------------------------------------------------------ verify
def _root_of(manifest_path: Path, recorded: dict) -> Path:
    """The project root the manifest's relative paths start from.

    The manifest lies under ``<root>/<reports>/<year>/…`` where ``<reports>`` is the recorded
    (relative) reports folder, so the root is found from the manifest's own location: a
    copied or moved project verifies where it lies. Falls back to ``config.ROOT``.
    """
    rep = recorded.get("parameters", {}).get("reports")
    here = manifest_path.resolve().parent
    if rep and not Path(rep).is_absolute():
        for cand in here.parents:
            if (cand / rep).resolve() in [here, *here.parents] and (cand / rep).resolve() != cand.resolve():
                return cand
    return config.ROOT


def _params(recorded: dict, root: Path, params_file: str | None, out: Outcome, say) -> Any:
    """The run's parameters: the recorded ones (folders under ``root``), or ``params_file``'s where it sets them."""
    from pipeline import params as P

    known = {f.name for f in fields(P.Params)}
    rec = dict(recorded.get("parameters", {}))
    for k in sorted(set(rec) - known):
        say(t("ver_param_unknown", name=k))
        rec.pop(k)
    for k in provenance.PATH_PARAMS:
        if rec.get(k) is not None:
            rec[k] = str(provenance.resolve(rec[k], root))
    if isinstance(rec.get("grade_map"), dict):  # manifest.json sorts keys; the run had the grades in their order
        gm = rec["grade_map"]
        rec["grade_map"] = {**{g: gm[g] for g in config.GRADES if g in gm}, **{g: v for g, v in gm.items() if g not in config.GRADES}}
    prm = P.load(None, **{k: v for k, v in rec.items() if v is not None})
    for k in ("year", "years"):  # load() ignores None overrides: keep a recorded None as None
        if rec.get(k) is None:
            setattr(prm, k, None)
    if params_file:  # the values the file sets (validated by load), in place of the recorded ones
        given = P.load(params_file)
        for name in sorted(_yaml_keys(params_file) - {"year", *provenance.PATH_PARAMS}):
            g, r = getattr(given, name), getattr(prm, name)
            if g != r:
                out.params[name] = (list(r) if isinstance(r, tuple) else r, list(g) if isinstance(g, tuple) else g)
                setattr(prm, name, g)
        P.validate(prm)
    return prm


def _yaml_keys(path: str) -> set[str]:
    import yaml

    try:
        return set((yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}).keys())
    except (OSError, yaml.YAMLError, AttributeError):
        return set()


def _fmt(v: Any) -> str:
    if isinstance(v, _Absent):
        return t("ver_absent")
    return json.dumps(v, ensure_ascii=False, default=str) if not isinstance(v, str) else repr(v)


def verify(manifest: str | Path, params_file: str | None = None, keep: str | Path | None = None,
           root: str | Path | None = None, say: Callable[[str], None] | None = None) -> Outcome:
    """Check a year's manifest: inputs, re-run, every published number, environment.

    The lines are printed in the active language (``verify --lang``, :func:`pipeline.i18n.use`);
    the re-run itself follows the recorded parameters, their ``lang`` included.

    Parameters
    ----------
    manifest : path
        ``reports/<year>/manifest.json`` (any edition folder holding the published files).
    params_file : path, optional
        Re-run with these parameters instead of the recorded ones (each difference is named).
    keep : path, optional
        Keep the re-run's outputs in this folder (default: a temporary folder, removed).
    root : path, optional
        Project root of the manifest's relative paths (default: found from the manifest's
        location, see :func:`_root_of`).
    say : callable, optional
        Where lines go (default: print to stdout).

    Returns
    -------
    Outcome
        ``ok`` is True only when every input is unchanged and every published number is
        reproduced.
    """
    say = say or (lambda s: print(s, flush=True))
    mpath = Path(manifest)
    try:
        rec = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PipelineError(f"{mpath}: cannot read the manifest ({type(err).__name__}: {err})".splitlines()[0]) from None
    if not isinstance(rec, dict) or "inputs" not in rec or "parameters" not in rec:
        raise PipelineError(f"{mpath}: not a run manifest (no inputs/parameters)")
    base = Path(root) if root is not None else _root_of(mpath, rec)
    out = Outcome()
    year = rec["parameters"].get("year")
    say(t("ver_head", manifest=mpath, year=year, created=rec.get("created_utc", "?")))

    # 1. inputs
    recorded, hashes = set(), []
    proc_rec = rec["parameters"].get("processed")
    proc_dir = provenance.resolve(proc_rec, base).resolve() if proc_rec else None
    for item in rec["inputs"]:
        p = provenance.resolve(item["path"], base)
        recorded.add(p.resolve())
        # processed tables are derived from the raw files: a later run may have replaced them, and
        # the re-run computes them again, so a difference there is stated but is not a failure
        derived = proc_dir is not None and proc_dir in p.resolve().parents
        if not p.is_file():
            (out.derived if derived else out.missing).append(item["path"])
            continue
        now = provenance.sha256(p)
        if now != item["sha256"]:
            (out.derived if derived else out.changed).append(item["path"])
            if not derived:
                hashes.append((item["path"], item["sha256"], now))
    raw_rec = rec["parameters"].get("raw")
    if raw_rec:
        raw = provenance.resolve(raw_rec, base)
        if raw.is_dir():
            out.added = sorted(provenance.relpath(p, base) for p in raw.rglob("*") if p.is_file() and p.resolve() not in recorded)
    k = len(out.changed) + len(out.missing)
    say(t("ver_inputs_bad" if k else "ver_inputs_ok", n=len(rec["inputs"]), k=k))
    for path, old, new in hashes:
        say(t("ver_changed", path=path, old=old[:12], new=new[:12]))
    for path in out.missing:
        say(t("ver_missing", path=path))
    for path in out.added:
        say(t("ver_added", path=path))
    if out.derived:
        say(t("ver_derived", k=len(out.derived), files=", ".join(out.derived[:5]) + (" …" if len(out.derived) > 5 else "")))

    # 2. parameters
    prm = _params(rec, base, params_file, out, say)
    if out.params:
        say(t("ver_params_bad", k=len(out.params)))
        for name, (old, new) in out.params.items():
            say(t("ver_param", name=name, old=_fmt(old), new=_fmt(new)))
    else:
        say(t("ver_params_ok"))

    # 3. re-run, 4. numbers
    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="pipeline-verify-"))
    try:
        say(t("ver_rerun", year=year))
        t0 = time.perf_counter()
        with _mirror(prm, base, tmp) as mirrored:
            new_dir = _rerun(mirrored, tmp)
        say(t("ver_rerun_done", seconds=time.perf_counter() - t0))
        pub_dir = mpath.parent
        for name in PUBLISHED:
            pub, new = pub_dir / name, Path(new_dir) / name
            if not pub.exists():
                out.not_published.append(name)
                say(t("ver_not_published", file=name))
                continue
            if not new.exists():
                out.diffs[name] = [("", "…", t("ver_absent"))]
                out.compared[name] = 0
                say(t("ver_not_rerun", file=name))
                continue
            n, diffs = _COMPARE[name](pub, new)
            out.compared[name], out.diffs[name] = n, diffs
            say(t("ver_file_bad" if diffs else "ver_file_ok", file=name, n=n, k=len(diffs)))
            for where, a, b in diffs[:SHOW]:
                say(t("ver_diff", file=name, where=where, old=_fmt(a), new=_fmt(b)))
            if len(diffs) > SHOW:
                say(t("ver_more", k=len(diffs) - SHOW))
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)

    # 5. environment
    rv = rec.get("versions", {})
    now_v = provenance.versions([p for p in rv if p != "python"])
    out.versions = {p: (str(v), str(now_v.get(p))) for p, v in rv.items() if str(v) != str(now_v.get(p))}
    say(t("ver_versions_bad" if out.versions else "ver_versions_ok", k=len(out.versions)))
    for pkg, (old, new) in out.versions.items():
        say(t("ver_version", pkg=pkg, old=old, new=new))
    out.commit = (str(rec.get("git_commit", "unknown")), provenance.git_commit(base))
    if out.commit[0] == out.commit[1]:
        say(t("ver_commit_ok", commit=out.commit[0][:12]))
    else:
        say(t("ver_commit_bad", old=out.commit[0][:12], new=out.commit[1][:12]))
    lock_rec = rec.get("lock")
    if not lock_rec:
        say(t("ver_lock_none"))
    else:
        now_l = provenance.lock_hash(base)
        out.lock = {p: (h, now_l.get(p, t("ver_absent"))) for p, h in lock_rec.items() if now_l.get(p) != h}
        if out.lock:
            for p, (old, new) in out.lock.items():
                say(t("ver_lock_bad", path=p, old=old[:12], new=new[:12]))
        else:
            say(t("ver_lock_ok"))

    n = sum(out.compared.values())
    if out.ok:
        say(t("ver_ok", n=n))
    else:
        say(t("ver_fail", k=out.n_diffs, f=len(out.changed) + len(out.missing)))
    return out


def main(manifest: str, params_file: str | None = None, keep: str | None = None) -> int:
    """CLI entry: 0 when everything is reproduced, 1 otherwise."""
    return 0 if verify(manifest, params_file=params_file, keep=keep).ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1]))
