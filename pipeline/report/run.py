"""Orchestration: run the chapter notebooks (papermill, worker processes) and the whole pipeline
(:func:`run_all`: synth → clean → check → analyze + report per year → study)."""

from __future__ import annotations

import heapq
import itertools
import json
import multiprocessing
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any


from pipeline import config
from pipeline.errors import PipelineError
from pipeline.io import atomic_write
from pipeline.report.data import CHAPTERS, _analysis_root, _log, _span, _year_of, available_years, report_dir
from pipeline.report.study import build_study
from pipeline.report.year import build_year


def _nb_params(prm, year: int, chapter: str, out_dir: Path) -> dict[str, Any]:
    first, last = _span(prm, year)
    p = {
        "year": int(year),
        "years": [int(first), int(last)],
        "top_n": int(prm.top_n),
        "na_policy": str(prm.na_policy),
        "grade_map": {str(k): float(v) for k, v in prm.grade_map.items()},
        "lang": str(prm.lang),
        "seed": int(prm.seed),
        "processed": str(Path(prm.processed).resolve()),
        "out_dir": str(out_dir.resolve()),
    }
    if chapter == "04-weights":
        p.update(scheme=str(prm.scheme), n_samples=int(prm.n_samples), kappa=float(prm.kappa), p=float(prm.p), n_sobol=int(prm.n_sobol))
    if chapter == "05-integrity":
        p["raw"] = str(Path(prm.raw).resolve())
    return p


def _kernel_env() -> None:
    """Let notebook kernels import ``pipeline`` even when the package is not pip-installed."""
    root = str(config.ROOT)
    pp = os.environ.get("PYTHONPATH", "")
    if root not in pp.split(os.pathsep):
        os.environ["PYTHONPATH"] = root + (os.pathsep + pp if pp else "")
    os.environ.setdefault("MPLCONFIGDIR", str(config.ROOT / ".mplconfig"))


def _run_chapter(chapter: str, executed: str, parameters: dict) -> tuple[str, float, dict]:
    """Worker: run one notebook; it writes its chapter record into ``parameters["out_dir"]``.

    The kernel's own stderr chatter (transport warnings, the interrupt at shutdown) goes to a
    scratch file so that the progress lines stay readable; a failing notebook still stops the
    run with notebook, cell and error in one line (:func:`pipeline.notebooks.run`).
    """
    import tempfile

    from pipeline import notebooks

    import shutil

    _kernel_env()
    t0 = time.perf_counter()
    out_dir = Path(parameters["out_dir"])
    for sub in ("tables", "figures"):  # no stale outputs of an earlier version of the notebook
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    for f in ("record.json", "headline.json", "outline.json"):  # a record is only ever the one of this run
        (out_dir / f).unlink(missing_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as scratch:
        os.dup2(scratch.fileno(), 2)
        try:
            notebooks.run(f"{chapter}.ipynb", executed, parameters, reuse_kernel=True)
        except PipelineError:
            raise
        except Exception as err:  # the kernel died or never started: say so in one line
            scratch.seek(0)
            tail = [ln for ln in scratch.read().decode("utf-8", "replace").splitlines() if ln.strip() and "WARNING" not in ln][-1:]
            kernel_tail = notebooks.kernel_log_tail()
            tail = [kernel_tail] if kernel_tail else tail
            raise PipelineError(f"notebook {chapter}: {type(err).__name__}: {err}" + (f" (kernel: {tail[0].strip()})" if tail else "")) from None
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
    rec = notebooks.read_record(out_dir, tables=False)  # the notebook must have written its record
    return chapter, time.perf_counter() - t0, rec["headline"]


def _chapters_present(allow_missing: bool) -> list[str]:
    have = [c for c in CHAPTERS if (config.NOTEBOOKS / f"{c}.ipynb").exists()]
    missing = [c for c in CHAPTERS if c not in have]
    if missing and not allow_missing:
        raise PipelineError(f"chapter notebook(s) missing: {', '.join(missing)} (notebooks/)")
    return have


#: Relative run time of each chapter, for ordering (seconds per year measured on the sample:
#: 04 ≈ 34, 02 ≈ 26, 05 ≈ 13, 03 ≈ 12, 01 ≈ 4).
_COST = {"04-weights": 34.0, "02-horizontal": 26.0, "05-integrity": 13.0, "03-vertical-trend": 12.0, "01-overview": 4.0}


def _run_jobs(jobs: list[tuple[str, str, dict]], workers: int = 2) -> dict[tuple[str, str], float]:
    """Run (chapter, executed_path, params) jobs in ``workers`` processes; first failure stops."""
    timings: dict[tuple[str, str], float] = {}
    if not jobs:
        return timings
    workers = max(1, min(workers, len(jobs)))
    # longest first (LPT order): starting the long weights chapters early keeps both workers
    # busy until the end instead of leaving one long tail
    jobs = sorted(jobs, key=lambda j: -_COST.get(j[0], 1.0))
    if workers == 1:
        for ch, ex, prm in jobs:
            _log(f"analyze {prm['year']}: {ch} …")
            _, dt, _ = _run_chapter(ch, ex, prm)
            timings[(str(prm["year"]), ch)] = dt
            _log(f"analyze {prm['year']}: {ch} done ({dt:.1f} s)")
        from pipeline import notebooks

        notebooks.shutdown_kernel()
        return timings
    # the chapters alone through the one scheduler of run_all (no reports, no study)
    _run_pipelined(None, None, jobs, [], False, None, {}, workers,
                   lambda ch, nbp, ex, dt: timings.__setitem__((str(nbp["year"]), ch), dt), lambda y: None, lambda y: None)
    return timings


def analyze(params, out: Path | None = None, allow_missing: bool = False, workers: int = 2) -> Path:
    """Run the chapter notebooks of one year.

    Parameters
    ----------
    params : pipeline.params.Params
        ``year`` (default: the latest year in the data), ``years`` (the span of the vertical
        chapter; default all years up to ``year``), top_n, na_policy, lang, seed, the Monte
        Carlo settings and the ``processed`` / ``reports`` folders.
    out : Path, optional
        Analysis root (default ``<processed>/analysis``); the year's outputs go to
        ``<out>/<year>/<chapter>/``.
    allow_missing : bool
        Development only: skip chapter notebooks that do not exist yet.
    workers : int
        Notebooks run concurrently in this many processes.

    Returns
    -------
    Path
        The year's analysis folder.
    """
    year = _year_of(params)
    root = _analysis_root(params, out) / str(year)
    executed = report_dir(params, year) / "executed"
    jobs = [(c, str(executed / f"{c}.ipynb"), _nb_params(params, year, c, root / c)) for c in _chapters_present(allow_missing)]
    timings = _run_jobs(jobs, workers)
    atomic_write(root / "timings.json", json.dumps({c: round(v, 2) for (_, c), v in sorted(timings.items())}, indent=1))
    return root


def _precut_font(processed: Path) -> None:
    """Cut (or find in the disk cache) the CJK font subset of a run's documents
    (:func:`pipeline.report.year._run_chars`) and pack it as WOFF2, so that the report workers
    read both back. Only
    an optimisation: a failure here is left to the report that needs the font to report."""
    from pipeline import io
    from pipeline.report.render import _font_face, _subset_font
    from pipeline.report.year import _run_chars

    try:  # the subset for the PDFs, and its WOFF2 pack for the HTML pages
        _font_face(_subset_font(_run_chars({"units": io.read_table(processed, "units"), "items": io.read_table(processed, "items")})))
    except Exception:  # noqa: BLE001 - the worker that needs the font cuts it and says why it fails
        pass


#: Relative cost of a year report and of the study for the scheduler (same unit as :data:`_COST`),
#: and of the two halves of a report split between two workers (``report.pdf``; the rest).
_REPORT_COST, _STUDY_COST = 20.0, 10.0
_PDF_COST, _MAIN_COST = 14.0, 10.0


def _warm_worker() -> None:
    """Pool worker: import what chapters and reports import and start the reused kernel with
    the chapters' imports (:func:`pipeline.notebooks.warm_kernel`), while the parent cleans and
    checks. Idempotent: a worker that is already warm returns at once."""
    _kernel_env()
    import papermill  # noqa: F401 - imported for its cost, ahead of the first chapter
    import weasyprint  # noqa: F401 - and of the first report's PDF

    import pipeline.report.render  # noqa: F401
    from pipeline import notebooks

    notebooks.warm_kernel()


def _start_pool(workers: int) -> ProcessPoolExecutor:
    """The one pool of :func:`_run_pipelined` (spawned processes, see there), each worker
    warming up at once (:func:`_warm_worker`)."""
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(workers):  # one process is spawned per submission while none is idle
        pool.submit(_warm_worker)
    return pool


def _run_pipelined(prm, out, jobs, todo, st_todo, span, common, workers, chapter_done, year_analysed, report_done,
                   pool: ProcessPoolExecutor | None = None, before_reports=None) -> float:
    """Chapters, year reports and the study in one pool of ``workers`` spawned processes
    (spawned, not forked: a worker that starts Jupyter kernels must not inherit the caller's
    threads and sockets; a forked worker of a threaded caller, a pytest-xdist worker, hung).

    A list scheduler (highest level first): whenever a worker is free it gets the ready job
    with the longest path to the end — a chapter's own cost (:data:`_COST`) plus the report
    waiting for it (:data:`_REPORT_COST`), a report's or the study's own cost. Chapters are
    ready at once, a year's report when the last of its chapters is done, the study when every
    chapter is. So chapters run longest first, and reports and the study fill the time in
    which the last chapter runs would leave a worker idle; one pool starts for all of it (a
    report worker is a notebook worker whose kernel idles meanwhile). The first failure cancels what has not
    started and is raised. Returns the time the last chapter finished. ``pool``: a pool already
    started (and warming up, :func:`_start_pool`) by the caller, who shuts it down; default: one
    started and shut down here. ``before_reports``: called before a report or the study is handed
    to a worker (idempotent: it waits for the caller's ``check`` running beside the chapters).

    In the tail — a year's report becomes ready when no chapter waits and fewer reports than
    workers are ready or running — the report is split in two jobs, ``report.pdf`` and the rest
    (:func:`pipeline.report.year.build_year`, ``part``), so that the last report does not run on
    one worker while the other waits (adding one year: its report beside the study).
    """
    import contextlib

    from concurrent.futures import FIRST_COMPLETED, wait

    left: dict[int, int] = {}
    for _, _, nbp in jobs:
        left[nbp["year"]] = left.get(nbp["year"], 0) + 1
    ready: list[tuple[float, int, tuple]] = []  # heap of (−cost, submission order, job)
    order = itertools.count()

    def add(cost: float, job: tuple) -> None:
        heapq.heappush(ready, (-cost, next(order), job))

    for ch, ex, nbp in jobs:  # a chapter's priority counts the report that waits for it (critical path)
        add(_COST.get(ch, 1.0) + _REPORT_COST, ("chapter", nbp["year"], (ch, ex, nbp)))
    parts: dict[int, int] = {}  # year → parts of its report still to finish

    def add_report(y: int) -> None:
        queued = [job for _, _, job in ready]
        busy = sum(1 for job in list(queued) + list(futs.values()) if job[0] == "report")
        if any(job[0] == "chapter" for job in queued) or busy >= workers:
            parts[y] = 1
            add(_REPORT_COST, ("report", y, "all"))
        else:  # the tail: two workers share this report
            parts[y] = 2
            add(_PDF_COST, ("report", y, "pdf"))
            add(_MAIN_COST, ("report", y, "main"))

    futs: dict = {}
    for y in sorted(set(todo) - set(left)):  # every chapter of the year reused
        add_report(y)
    if st_todo and not jobs:
        add(_STUDY_COST, ("study", None, None))
    if jobs:
        _log(f"analyze: {len(jobs)} notebook run(s) on {workers} workers" + ("; each year's report starts when its chapters are done" if todo else ""))
    t_an = time.perf_counter()
    done_ch = 0
    with contextlib.nullcontext(pool) if pool is not None else _start_pool(workers) as pool:

        def fill() -> None:
            while ready and len(futs) < workers:
                _, _, job = heapq.heappop(ready)
                kind, y, arg = job
                if kind != "chapter" and before_reports is not None:
                    before_reports()
                if kind == "chapter":
                    fut = pool.submit(_run_chapter, *arg)
                elif kind == "report":
                    fut = pool.submit(_build_year_worker, replace(prm, year=y).to_dict(), str(out) if out else None, common, arg)
                else:
                    fut = pool.submit(_build_study_worker, prm.to_dict(), span, str(out) if out else None)
                futs[fut] = job

        try:
            fill()
            while futs:
                finished, _ = wait(list(futs), return_when=FIRST_COMPLETED)
                for fut in finished:
                    kind, y, arg = futs.pop(fut)
                    res = fut.result()
                    if kind == "chapter":
                        ch, ex, nbp = arg
                        done_ch += 1
                        chapter_done(ch, nbp, ex, res[1])
                        _log(f"analyze {y}: {ch} done ({res[1]:.1f} s) [{done_ch}/{len(jobs)}]")
                        left[y] -= 1
                        if left[y] == 0:
                            year_analysed(y)
                            if y in todo:
                                add_report(y)
                        if done_ch == len(jobs):
                            t_an = time.perf_counter()
                            if st_todo:
                                add(_STUDY_COST, ("study", None, None))
                    elif kind == "report":
                        parts[y] -= 1
                        if parts[y] == 0:
                            report_done(y)
                fill()
        except BaseException:
            for f in futs:
                f.cancel()
            raise
    return t_an


def _params(prm_dict: dict):
    """Params back from ``Params.to_dict()`` in a worker process (``years`` travels as a list)."""
    from pipeline.params import Params

    d = dict(prm_dict)
    d["years"] = tuple(d["years"]) if d.get("years") else None
    return Params(**d)


def _build_year_worker(prm_dict: dict, out: str | None, timings: dict, part: str = "all") -> str:
    return str(build_year(_params(prm_dict), out=Path(out) if out else None, timings=timings, part=part))


def _build_study_worker(prm_dict: dict, years: tuple[int, int], out: str | None) -> str:
    return str(build_study(_params(prm_dict), years=years, out=Path(out) if out else None, linked=True))


def _report_outputs(folder: Path) -> list[Path]:
    """The files of one edition's documents (the other language's edition in a subfolder is its own step)."""
    return [p for p in folder.iterdir() if not (p.is_dir() and p.name in config.LANGS)] if folder.is_dir() else [folder / "report.html"]


def run_all(params, out: Path | None = None, workers: int = 2, force: bool = False) -> Path:
    """The whole pipeline: (synth) → clean → check → analyze + report per year → study.

    The sample world is written into ``data/raw`` only when that default folder has no year
    folders (``make report`` on a fresh checkout). Notebooks of all years run in ``workers``
    processes; reports are rendered in ``workers`` processes too.

    Incremental: :mod:`pipeline.cache` keys each step (clean, check, each chapter of each year,
    each year's report, the study) by the content of its inputs, its parameters and the code; a
    step whose key and outputs are unchanged is reused, and the progress lines say which steps
    are reused and which recomputed. ``force=True`` (``--force``) recomputes everything.

    Returns
    -------
    Path
        The study folder.
    """
    prm = params
    t0 = time.perf_counter()
    raw = Path(prm.raw)
    has_years = raw.exists() and any(p.is_dir() and re.fullmatch(r"\d{4}", p.name) for p in raw.iterdir())
    if not has_years:
        if raw.resolve() != config.RAW.resolve():
            raise PipelineError(f"{raw}: no year folders (e.g. {raw}/2015) — nothing to analyse")
        from pipeline import synth

        _log(f"synth: writing the sample world into {raw}")
        synth.write_world(raw, config.TRUTH, seed=config.SEED, n_units=74, years=(2009, 2016))
    from pipeline import cache

    store = cache.Store(prm.processed, force=force)
    processed = Path(prm.processed)
    clean_key, clean_outs = cache.clean_key(prm), [processed / f for f in cache.CLEAN_OUTPUTS]
    # when the tables change, chapters will run: the pool's workers start their kernels and
    # imports while this process cleans and checks (an unchanged run starts no pool here)
    pool = _start_pool(workers) if workers > 1 and not store.fresh("clean", clean_key, clean_outs) else None
    try:
        return _run_all(prm, out, workers, store, raw, processed, clean_key, clean_outs, pool, t0)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_all(prm, out, workers, store, raw, processed, clean_key, clean_outs, pool, t0) -> Path:
    """The body of :func:`run_all` after the set-up (see there); ``pool``: the warming pool or None."""
    from pipeline import cache, clean, integrity

    steps = {}
    t1 = time.perf_counter()
    store.run("clean", clean_key, clean_outs,
              lambda: clean.run(raw, processed, years=prm.years, allow_quarantine=prm.allow_quarantine, reuse_files=not store.force))
    steps["clean"] = time.perf_counter() - t1
    common = {"clean": steps["clean"]}
    check_failed: list[BaseException] = []

    def check() -> None:
        t = time.perf_counter()
        try:
            store.run("check", cache.check_key(prm), [processed / "integrity.csv"],
                      lambda: integrity.run(raw, processed, years=prm.years, top_n=prm.top_n, seed=prm.seed))
        except BaseException as err:  # noqa: BLE001 - raised by checked() in the main thread
            check_failed.append(err)
        common["check"] = steps["check"] = time.perf_counter() - t

    # no chapter reads integrity.csv (the integrity chapter runs its own checks, and no step key
    # holds the file): when chapters run in the pool, the check runs beside them in a thread of
    # this otherwise waiting process; every document waits for it (its time is in the manifest)
    import threading

    beside = threading.Thread(target=check, name="check", daemon=True) if pool is not None else None

    def checked() -> None:
        if beside is not None:
            beside.join()
        if check_failed:
            raise check_failed[0]

    if beside is None:
        check()
        checked()
    avail = available_years(processed)
    yrs = [y for y in avail if prm.years is None or prm.years[0] <= y <= prm.years[1]]
    jobs, ch_keys = [], {}
    for y in yrs:
        py = replace(prm, year=y)
        root = _analysis_root(prm) / str(y)
        executed = report_dir(prm, y, out) / "executed"
        for c in _chapters_present(False):
            nbp = _nb_params(py, y, c, root / c)
            k = ch_keys[(y, c)] = cache.chapter_key(prm, c, nbp)
            if store.fresh(f"analyze-{prm.lang}-{y}-{c}", k, [root / c, executed / f"{c}.ipynb"]):
                store.reused.append(f"analyze-{prm.lang}-{y}-{c}")
            else:
                jobs.append((c, str(executed / f"{c}.ipynb"), nbp))
    _log(f"analyze: {len(ch_keys) - len(jobs)} chapter run(s) reused, {len(jobs)} to compute")
    rep_keys = {y: cache.report_key(prm, y, [ch_keys[(y, c)] for c in _chapters_present(False)], _span(prm, y)[0]) for y in yrs}
    rep_out = {y: _report_outputs(report_dir(prm, y, out)) for y in yrs}
    todo = [y for y in yrs if not store.fresh(f"report-{prm.lang}-{y}", rep_keys[y], rep_out[y])]
    store.reused += [f"report-{prm.lang}-{y}" for y in yrs if y not in todo]
    _log(f"report: {len(yrs) - len(todo)} year(s) reused, {len(todo)} to render")
    # the study reads the chapter records of every year, not the year reports: it renders beside them
    study = report_dir(prm, f"study_{yrs[0]}-{yrs[-1]}", out)
    st_name, st_key = f"study-{prm.lang}-{yrs[0]}-{yrs[-1]}", cache.study_key(prm, rep_keys.values())
    st_todo = not store.fresh(st_name, st_key, _report_outputs(study))
    if not st_todo:
        store.reused.append(st_name)
        _log(f"{st_name}: reused (inputs, parameters and code unchanged)")
    t1 = time.perf_counter()
    timings: dict[tuple[str, str], float] = {}

    def chapter_done(c: str, nbp: dict, ex: str, dt: float) -> None:
        timings[(str(nbp["year"]), c)] = dt
        store.mark(f"analyze-{prm.lang}-{nbp['year']}-{c}", ch_keys[(nbp["year"], c)], [Path(nbp["out_dir"]), Path(ex)])
        store.computed.append(f"analyze-{prm.lang}-{nbp['year']}-{c}")

    def year_analysed(y: int) -> None:
        tj = {c: round(v, 2) for (yy, c), v in sorted(timings.items()) if yy == str(y)}
        if tj:  # a year whose chapters were all reused keeps its timings
            atomic_write(_analysis_root(prm) / str(y) / "timings.json", json.dumps(tj, indent=1))

    def report_done(y: int) -> None:
        store.mark(f"report-{prm.lang}-{y}", rep_keys[y], _report_outputs(report_dir(prm, y, out)))
        store.computed.append(f"report-{prm.lang}-{y}")

    if beside is not None:
        # started once the step keys are taken: its pandas work holds the GIL that the keys'
        # hashing needs, and the chapters can start only once their keys are known
        beside.start()
    if workers > 1 and len(jobs) + len(todo) + st_todo > 1:
        # the run's font subset (every document of the sample needs no other characters) is cut
        # here while the workers run chapters, instead of by the first two reports at once
        cut = threading.Thread(target=_precut_font, args=(processed,), name="font-subset", daemon=True)
        if todo or st_todo:
            cut.start()
        try:
            t_an = _run_pipelined(prm, out, jobs, todo, st_todo, (yrs[0], yrs[-1]), common, workers, chapter_done, year_analysed, report_done,
                                  pool=pool, before_reports=checked)
        finally:
            if cut.is_alive():
                cut.join()
        steps["analyze"], t1 = t_an - t1, t_an  # the reports overlap the last chapters: "report" counts from here
    else:
        checked()
        done = _run_jobs(jobs, 1)
        for ch, ex, nbp in jobs:
            chapter_done(ch, nbp, ex, done[(str(nbp["year"]), ch)])
        for y in yrs:
            year_analysed(y)
        steps["analyze"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        for y in todo:
            build_year(replace(prm, year=y), out=out, timings=common)
            report_done(y)
        if st_todo:
            build_study(prm, years=(yrs[0], yrs[-1]), out=out, linked=True)
    checked()  # (a run with nothing to report still waits for its check)
    if st_todo:
        store.mark(st_name, st_key, _report_outputs(study))
        store.computed.append(st_name)
    steps["report"] = time.perf_counter() - t1
    _log(f"all: {store.summary()}")
    _log(f"all: done in {time.perf_counter() - t0:.1f} s (clean {steps['clean']:.1f}, check {steps['check']:.1f}, analyze {steps['analyze']:.1f}, report {steps['report']:.1f})")
    return study

