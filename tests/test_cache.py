"""Incremental runs (issue #12, point 4): step keys, the store, and what ``run_all`` reuses.

The orchestration test runs the real ``clean`` and ``check`` on a small world and stands in
for the expensive steps (notebooks, rendering) with functions that record what they were asked
to compute and write placeholder outputs: what is tested is the choice of steps, not the steps.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest

from pipeline import cache, config, params, report, synth


# ------------------------------------------------------------------ store
def test_store_fresh_only_with_same_key_and_untouched_outputs(tmp_path):
    store = cache.Store(tmp_path)
    out = tmp_path / "o.txt"
    assert not store.fresh("s", "k1", [out])  # never computed
    out.write_text("a")
    store.mark("s", "k1", [out])
    assert store.fresh("s", "k1", [out])
    assert not store.fresh("s", "k2", [out])  # another key: inputs, parameters or code changed
    out.write_text("b")
    assert not store.fresh("s", "k1", [out])  # output edited by hand
    out.unlink()
    assert not store.fresh("s", "k1", [out])  # output deleted
    out.write_text("a")
    assert not cache.Store(tmp_path, force=True).fresh("s", "k1", [out])  # --force
    assert cache.Store(tmp_path).fresh("s", "k1", [out])


def _age_record(store, step, seconds):
    """Move the record's hashing time ``seconds`` later: as if the check came that long after."""
    path = store._path(step)
    rec = json.loads(path.read_text())
    rec["hashed_ns"] += int(seconds * 1e9)
    path.write_text(json.dumps(rec))


def test_store_reads_an_unmoved_output_once_and_any_touched_one_again(tmp_path, monkeypatch):
    """The signature fast path: an output whose size, times and inode have not moved since it was
    hashed (and was not written in the clock tick of its hashing) is not read again; an edit that
    keeps the size and sets the modification time back is still read (its change time moved)."""
    store = cache.Store(tmp_path)
    out = tmp_path / "o.txt"
    out.write_text("a")
    store.mark("s", "k1", [out])
    reads = []
    real = cache.provenance.sha256
    monkeypatch.setattr(cache.provenance, "sha256", lambda p: reads.append(str(p)) or real(p))
    # written less than 2 s before its hashing: read again (a same-tick edit would not move its times)
    assert store.fresh("s", "k1", [out]) and reads == [str(out)]
    _age_record(store, "s", 3)
    reads.clear()
    assert store.fresh("s", "k1", [out]) and reads == []  # unmoved and old enough: not read
    st = out.stat()
    time.sleep(0.1)  # the file clock ticks (a jiffy, ≤ 10 ms) between the two writes, as the aged record pretends
    out.write_text("b")  # same size, modification time put back
    os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert out.stat().st_mtime_ns == st.st_mtime_ns
    assert not store.fresh("s", "k1", [out]) and reads == [str(out)]
    # a record written before signatures were kept: every output is read, then its signature kept
    out.write_text("a")
    store.mark("s", "k1", [out])
    rec = json.loads(store._path("s").read_text())
    del rec["stat"], rec["hashed_ns"]
    store._path("s").write_text(json.dumps(rec))
    reads.clear()
    assert store.fresh("s", "k1", [out]) and reads == [str(out)]
    assert "stat" in json.loads(store._path("s").read_text())


def test_store_run_reuses_or_computes(tmp_path, capsys):
    store = cache.Store(tmp_path)
    out = tmp_path / "d"
    calls = []

    def compute():
        calls.append(1)
        out.mkdir(exist_ok=True)
        (out / "x").write_text("x")

    assert store.run("step", "k", [out], compute) is True
    assert store.run("step", "k", [out], compute) is False
    assert calls == [1] and store.reused == ["step"] and store.computed == ["step"]
    err = capsys.readouterr().err
    assert "step: recomputing" in err and "step: reused" in err


# ------------------------------------------------------------------ keys
def test_table_digest_ignores_other_years_rows(tmp_path):
    from pipeline import io

    a = pd.DataFrame({"year": [2015, 2015], "unit_id": ["U1", "U2"], "total": [80.0, 90.5]})
    io.write_table(a, tmp_path, "totals")
    d15 = cache.table_digest(tmp_path, "totals", (2009, 2015))
    d_all = cache.table_digest(tmp_path, "totals")
    io.write_table(pd.concat([a, pd.DataFrame({"year": [2016], "unit_id": ["U1"], "total": [70.0]})]), tmp_path, "totals")
    assert cache.table_digest(tmp_path, "totals", (2009, 2015)) == d15  # 2016 added: 2015's rows unchanged
    assert cache.table_digest(tmp_path, "totals") != d_all
    b = a.assign(total=[80.0, 90.0])  # one value of 2015 changed
    io.write_table(b, tmp_path, "totals")
    assert cache.table_digest(tmp_path, "totals", (2009, 2015)) != d15


def test_notebook_digest_ignores_outputs(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": ["x = 1\n"], "outputs": [], "metadata": {}}], "metadata": {}}
    p = tmp_path / "a.ipynb"
    p.write_text(json.dumps(nb))
    d = cache.notebook_digest(str(p))
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "text": "1"}]
    nb["metadata"]["papermill"] = {"duration": 3.2}
    q = tmp_path / "b.ipynb"
    q.write_text(json.dumps(nb))
    assert cache.notebook_digest(str(q)) == d
    nb["cells"][0]["source"] = ["x = 2\n"]
    r = tmp_path / "c.ipynb"
    r.write_text(json.dumps(nb))
    assert cache.notebook_digest(str(r)) != d


def test_code_version_covers_the_package():
    # the key changes with any source of the package: it hashes every .py of pipeline/
    files = sorted(p.relative_to(cache._PKG).as_posix() for p in cache._PKG.rglob("*.py") if "__pycache__" not in p.parts)
    assert "cache.py" in files and "report/run.py" in files
    assert len(cache.code_version()) == 64


# ------------------------------------------------------------------ run_all: what is reused
@pytest.fixture
def world_two_years(tmp_path):
    """A 30-unit world with 2015 only; 2016's folder is held back to be 'added' later."""
    raw = tmp_path / "raw"
    synth.write_world(raw, tmp_path / "truth", seed=config.SEED, n_units=30, years=(2015, 2016), monthly_years=())
    held = tmp_path / "held_2016"
    shutil.move(str(raw / "2016"), held)
    return raw, held


def test_run_all_recomputes_only_what_changed(world_two_years, tmp_path, monkeypatch):
    raw, held = world_two_years
    prm = params.load(None, raw=str(raw), processed=str(tmp_path / "processed"), reports=str(tmp_path / "reports"), n_samples=100, n_sobol=32)
    calls = {"jobs": [], "years": [], "study": 0}

    def fake_jobs(jobs, workers=2):
        for ch, ex, p in jobs:
            calls["jobs"].append((p["year"], ch))
            d = Path(p["out_dir"])
            d.mkdir(parents=True, exist_ok=True)
            (d / "headline.json").write_text(json.dumps({"year": p["year"]}))
            Path(ex).parent.mkdir(parents=True, exist_ok=True)
            Path(ex).write_text("{}")
        return {(str(p["year"]), ch): 0.1 for ch, _, p in jobs}

    def fake_build(prm_y, out=None, timings=None, **k):
        calls["years"].append(prm_y.year)
        d = Path(prm_y.reports) / str(prm_y.year)
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.html").write_text(f"<p>{prm_y.year}</p>")
        return d

    def fake_study(prm_s, years=None, out=None, **k):
        calls["study"] += 1
        d = Path(prm_s.reports) / f"study_{years[0]}-{years[1]}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.html").write_text("study")
        return d

    from pipeline.report import run as run_mod  # run_all's own references (pipeline/report/run.py)

    monkeypatch.setattr(run_mod, "_run_jobs", fake_jobs)
    monkeypatch.setattr(run_mod, "build_year", fake_build)
    monkeypatch.setattr(run_mod, "build_study", fake_study)
    n_ch = len(run_mod._chapters_present(False))

    report.run_all(prm, workers=1)  # from scratch: everything
    assert sorted({y for y, _ in calls["jobs"]}) == [2015] and len(calls["jobs"]) == n_ch
    assert calls["years"] == [2015] and calls["study"] == 1

    for k in calls:
        calls[k] = [] if k != "study" else 0
    report.run_all(prm, workers=1)  # unchanged: nothing recomputed
    assert calls == {"jobs": [], "years": [], "study": 0}

    shutil.move(str(held), raw / "2016")  # one year added
    report.run_all(prm, workers=1)
    # 2015's chapters read only 2015's rows: reused; 2016's chapters, its report and the study are new.
    # One exception, because its inputs may change: 2015's integrity chapter (integrity.csv adjusts its
    # thresholds over all the years checked, so 2015's rows can change) and then 2015's report, which
    # cites it. 2015's data-quality appendix shows only 2015's (and the registry's) cleaning-log rows,
    # so 2016's rows alone do not re-render it.
    new = sorted((2016, c) for c in run_mod._chapters_present(False))
    assert sorted(set(calls["jobs"])) in (new, sorted(new + [(2015, "05-integrity")]))
    assert not {c for y, c in calls["jobs"] if y == 2015} - {"05-integrity"}
    integrity_2015 = (2015, "05-integrity") in calls["jobs"]
    assert sorted(calls["years"]) == ([2015, 2016] if integrity_2015 else [2016]) and calls["study"] == 1

    for k in calls:
        calls[k] = [] if k != "study" else 0
    report.run_all(prm, workers=1, force=True)  # --force: everything again
    assert len(calls["jobs"]) == 2 * n_ch and sorted(calls["years"]) == [2015, 2016] and calls["study"] == 1


def test_log_rows_of_a_year_are_its_own_files_and_the_registry(tmp_path):
    # the report of a year keys (and shows) only the cleaning-log rows of its own files and of the
    # shared registry: another year's rows change neither its key nor its appendix (hand-made log)
    from pipeline import io
    from pipeline.clean import file_year

    log = pd.DataFrame({"file": ["units.csv", "2015/汇总.xlsx", "2016/汇总.xlsx"], "sheet": "", "cell": "A1", "original": "x", "new": "y", "rule": "r"})
    assert file_year(log["file"]).tolist()[1:] == [2015.0, 2016.0] and pd.isna(file_year(log["file"]).iloc[0])
    io.write_table(log.iloc[:2], tmp_path, "cleaning_log")
    d15 = cache.table_digest(tmp_path, "cleaning_log", (2015, 2015))
    io.write_table(log, tmp_path, "cleaning_log")  # 2016's rows arrive
    assert cache.table_digest(tmp_path, "cleaning_log", (2015, 2015)) == d15
    io.write_table(log.assign(new=["z", "y", "y"]), tmp_path, "cleaning_log")  # a registry row changes
    assert cache.table_digest(tmp_path, "cleaning_log", (2015, 2015)) != d15


def test_pool_warms_during_clean_and_check_runs_beside_the_chapters(world_two_years, tmp_path, monkeypatch):
    """With 2 workers and tables to clean, ``run_all`` starts its pool before cleaning (the
    workers warm up meanwhile) and runs ``check`` in a thread beside the chapters: here the
    check cannot finish until a chapter has started, so a serial check would time out. Every
    report starts after the check, and its timings carry the check's time."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from pipeline import clean, integrity
    from pipeline.report import run as run_mod

    raw, _ = world_two_years
    prm = params.load(None, raw=str(raw), processed=str(tmp_path / "processed"), reports=str(tmp_path / "reports"), n_samples=100, n_sobol=32)
    events: list[str] = []
    chapter_started = threading.Event()

    def fake_pool(workers):
        events.append("pool")
        return ThreadPoolExecutor(max_workers=workers)

    real_clean, real_check = clean.run, integrity.run

    def spy_clean(*a, **k):
        events.append("clean")
        return real_clean(*a, **k)

    def slow_check(*a, **k):
        assert threading.current_thread().name == "check"
        assert chapter_started.wait(60), "check ran before any chapter started"
        events.append("check done")
        return real_check(*a, **k)

    def fake_chapter(ch, ex, p):
        chapter_started.set()
        d = Path(p["out_dir"])
        d.mkdir(parents=True, exist_ok=True)
        Path(ex).parent.mkdir(parents=True, exist_ok=True)
        Path(ex).write_text("{}")
        return ch, 0.1, {}

    def fake_report(prm_dict, out, timings, part="all"):
        events.append(f"report check={timings.get('check') is not None}")
        events.append(f"part {part}")
        d = Path(prm_dict["reports"]) / str(prm_dict["year"])
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.html").write_text("r")
        return str(d)

    def fake_study(prm_dict, years, out):
        d = Path(prm_dict["reports"]) / f"study_{years[0]}-{years[1]}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "report.html").write_text("s")
        return str(d)

    monkeypatch.setattr(run_mod, "_start_pool", fake_pool)
    monkeypatch.setattr(clean, "run", spy_clean)
    monkeypatch.setattr(integrity, "run", slow_check)
    monkeypatch.setattr(run_mod, "_run_chapter", fake_chapter)
    monkeypatch.setattr(run_mod, "_build_year_worker", fake_report)
    monkeypatch.setattr(run_mod, "_build_study_worker", fake_study)
    monkeypatch.setattr(run_mod, "_precut_font", lambda processed: None)
    report.run_all(prm, workers=2)
    assert events[:2] == ["pool", "clean"]  # the pool (warming up) before the cleaning
    assert events.index("check done") < events.index("report check=True")
    assert "report check=False" not in events
    # the only report comes in the tail (no chapter waits): split between the two workers
    assert sorted(e for e in events if e.startswith("part")) == ["part main", "part pdf"]
    assert (tmp_path / "processed" / "integrity.csv").exists()
    # unchanged: nothing to clean, so no pool is started before the (reused) steps
    events.clear()
    report.run_all(prm, workers=2)
    assert "pool" not in events and "clean" not in events
