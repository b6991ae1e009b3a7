"""Incremental runs: a content-hash key per step, and a small record of what each step produced.

``make report`` recomputes only the steps whose inputs changed (issue #12, point 4). A step's
**key** is the SHA-256 of everything its result depends on:

* the input data — raw files by content (SHA-256), processed tables by the content of the
  rows the step reads (a year's chapter reads the years of its span, first…year, so adding a
  later year leaves its key unchanged: :func:`table_digest`);
* the parameters the step receives;
* the code version — the sources of the ``pipeline`` package (``*.py``, labels, templates;
  :func:`code_version`) and, for a chapter, its notebook's cells (:func:`notebook_digest`).

:class:`Store` keeps one small JSON record per step in ``<processed>/.steps/<step>.json``:
the key and the SHA-256 of each output file. A step is **fresh** — reused — when its record
holds the same key and every output is still there with the recorded content; otherwise it
is recomputed and marked again. An output whose file signature has not moved since it was
hashed is not read again (:meth:`Store.fresh`). ``--force`` (``Store(force=True)``) recomputes everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from pipeline import config, provenance

__all__ = ["Store", "code_version", "notebook_digest", "files_digest", "table_digest", "make_key",
           "clean_key", "check_key", "chapter_key", "report_key", "study_key", "CLEAN_OUTPUTS"]

_PKG = Path(__file__).resolve().parent
#: What ``clean`` writes into the processed folder.
CLEAN_OUTPUTS = tuple(f"{n}.{e}" for n in ("items", "units", "scores", "totals", "adjustments", "weak_orgs", "given")
                      for e in ("parquet", "csv")) + ("cleaning_log.csv", "quarantine.csv")
#: Processed tables a chapter can read (rows filtered to the chapter's years where they have a year).
#: ``integrity.csv`` (the ``check`` step, whose nulls are fitted over every year checked, so its
#: rows of a year change when a year is added) is not among them: the integrity chapter runs the
#: checks on the years up to its own, and the reports read the chapter's record.
CHAPTER_TABLES = ("items", "units", "scores", "totals", "adjustments", "weak_orgs", "given")
#: Folder parameters: where data lives, not what is computed (left out of keys).
_WHERE = ("raw", "processed", "reports", "out_dir")


def _log(msg: str) -> None:
    print(f"[pipeline] {msg}", file=sys.stderr, flush=True)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over the package's sources: every ``*.py``, ``labels/*.yaml`` and ``templates/*`` by content."""
    files = sorted(p for p in _PKG.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and (p.suffix == ".py" or p.parent.name in ("labels", "templates")))
    return _digest([[p.relative_to(_PKG).as_posix(), provenance.sha256(p)] for p in files])


@lru_cache(maxsize=None)
def notebook_digest(path: str) -> str:
    """SHA-256 of a notebook's cells (type and source only: outputs and metadata do not count)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    return _digest([[c.get("cell_type"), "".join(c.get("source", ""))] for c in nb.get("cells", [])])


def files_digest(paths: Iterable[str | os.PathLike], root: str | os.PathLike) -> str:
    """SHA-256 over ``(path relative to root, SHA-256 of content)`` of the existing files."""
    rows = sorted((provenance.relpath(p, root), provenance.sha256(p)) for p in paths if Path(p).is_file())
    return _digest(rows)


def _table(path: Path):
    """A processed table (Parquet or CSV); :func:`_row_hashes` keeps what is needed of it."""
    import pandas as pd

    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)


def table_digest(processed: str | os.PathLike, name: str, years: tuple[int, int] | None = None) -> str:
    """SHA-256 of the rows of table ``name`` whose year lies in ``years`` (all rows if None or no year
    column; for the cleaning log and quarantine, the rows of those years' files and of the shared
    registry, :func:`pipeline.clean.file_year`).

    Rows are hashed with :func:`pandas.util.hash_pandas_object` (values, not file bytes), so
    appending another year's rows leaves the digest of the earlier years unchanged.
    """
    folder = Path(processed)
    path = folder / f"{name}.parquet"
    if not path.exists():
        path = folder / f"{name}.csv"
    if not path.exists():
        return "absent"
    st = path.stat()
    memo = (str(path), st.st_size, st.st_mtime_ns, tuple(years) if years is not None else None)
    if memo not in _DIGESTS:
        cols, rows, y, shared = _row_hashes(path)
        if years is not None and y is not None:
            keep = (y >= years[0]) & (y <= years[1])
            rows = rows[keep | np.isnan(y)] if shared else rows[keep]
        h = hashlib.sha256(cols.encode())
        h.update(rows.tobytes())
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


_DIGESTS: dict = {}


def _row_hashes(path: Path) -> tuple:
    """The per-row hashes of a processed table (:func:`pandas.util.hash_pandas_object`, values
    only), computed once per file version: ``(columns, hashes, year per row or None, shared)``.

    A row's hash depends on that row alone, so the digest of a span of years (the selected
    rows' hashes in file order) equals hashing the selected rows themselves, at the cost of one
    mask per span instead of one hash of the rows per span. ``year``: the ``year`` column, or
    for the cleaning log and quarantine the year folder of the ``file`` (NaN for the shared
    registry, whose rows belong to every span: ``shared``).
    """
    import pandas as pd

    st = path.stat()
    tag = (str(path), st.st_size, st.st_mtime_ns)
    if tag not in _ROWS:
        df = _table(path)
        y, shared = None, False
        if "year" in df.columns:
            y = pd.to_numeric(df["year"], errors="coerce").to_numpy(dtype=float)
        elif "file" in df.columns:  # cleaning log, quarantine: by the year folder of the file
            from pipeline.clean import file_year

            y, shared = file_year(df["file"]).to_numpy(dtype=float), True
        if len(_ROWS) > 32:  # one run reads ≤ 9 tables; older file versions are dropped
            _ROWS.clear()
        _ROWS[tag] = (",".join(map(str, df.columns)), pd.util.hash_pandas_object(df, index=False).to_numpy(), y, shared)
    return _ROWS[tag]


_ROWS: dict = {}


def make_key(step: str, **parts: Any) -> str:
    """The key of a step: SHA-256 of its name, the code version and ``parts``."""
    return _digest({"step": step, "code": code_version(), **parts})


def _what(params: dict) -> dict:
    return {k: v for k, v in params.items() if k not in _WHERE}


def _raw_files(raw: Path, years: Iterable[int] | None = None) -> list[Path]:
    if not raw.exists():
        return []
    if years is None:
        return [p for p in raw.rglob("*") if p.is_file()]
    keep = {str(y) for y in years}
    return [p for p in raw.rglob("*") if p.is_file() and (p.parent == raw or p.relative_to(raw).parts[0] in keep)]


# ---------------------------------------------------------------------------------- step keys
def clean_key(prm) -> str:
    """``clean``: every raw file, the years and the quarantine switch."""
    raw = Path(prm.raw)
    return make_key("clean", raw=files_digest(_raw_files(raw), raw), years=prm.years, allow_quarantine=prm.allow_quarantine)


def check_key(prm) -> str:
    """``check``: every raw file, the cleaned tables, the years, ``top_n`` and ``seed`` (the cut-bunching test uses both)."""
    raw, proc = Path(prm.raw), Path(prm.processed)
    return make_key("check", raw=files_digest(_raw_files(raw), raw),
                    processed=files_digest([proc / f for f in CLEAN_OUTPUTS], proc), years=prm.years, top_n=prm.top_n, seed=prm.seed)


def chapter_key(prm, chapter: str, nb_params: dict) -> str:
    """One chapter of one year: its notebook, its parameters, the rows of the years it covers.

    Chapter ``05-integrity`` also reads the raw workbooks of those years.
    """
    first, last = nb_params["years"]
    proc = Path(prm.processed)
    data = {n: table_digest(proc, n, (first, last)) for n in CHAPTER_TABLES}
    if chapter == "05-integrity":
        raw = Path(prm.raw)
        data["raw"] = files_digest(_raw_files(raw, range(first, last + 1)), raw)
    return make_key("chapter", chapter=chapter, notebook=notebook_digest(str(config.NOTEBOOKS / f"{chapter}.ipynb")),
                    params=_what(nb_params), data=data)


def report_key(prm, year: int, chapter_keys: Iterable[str], first: int) -> str:
    """The year's report: its chapters' keys, the rows of its years, its cleaning-log and quarantine rows, the parameters."""
    proc = Path(prm.processed)
    data = {n: table_digest(proc, n, (first, year)) for n in CHAPTER_TABLES}
    data.update({n: table_digest(proc, n, (year, year)) for n in ("cleaning_log", "quarantine")})  # the quality appendix: the year's rows
    return make_key("report", year=year, chapters=sorted(chapter_keys), params=_what(prm.to_dict()), data=data)


def study_key(prm, report_keys: Iterable[str]) -> str:
    """The multi-year study: the year reports' keys and every processed table."""
    proc = Path(prm.processed)
    data = {n: table_digest(proc, n) for n in CHAPTER_TABLES + ("cleaning_log", "quarantine")}
    return make_key("study", reports=sorted(report_keys), params=_what(prm.to_dict()), data=data)


# ---------------------------------------------------------------------------------- the store
#: An output changed less than this before its hashing began is hashed again at the next check:
#: file times are kept in coarse ticks (a jiffy on ext4, 2 s on FAT), so a change in the same tick
#: as the hashing may not move them.
_RACY_NS = 2_000_000_000


def _signature(p: Path) -> list[int]:
    st = p.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class Store:
    """Records of computed steps in ``<processed>/.steps/``; see the module docstring.

    Parameters
    ----------
    processed : path
        The processed folder (the records live in its ``.steps`` subfolder).
    force : bool
        Treat every step as stale (``--force``).
    """

    def __init__(self, processed: str | os.PathLike, force: bool = False):
        self.folder = Path(processed) / ".steps"
        self.force = force
        self.reused: list[str] = []
        self.computed: list[str] = []

    def _path(self, step: str) -> Path:
        return self.folder / (re.sub(r"[^\w.-]+", "_", step) + ".json")

    @staticmethod
    def _outputs(outputs: Iterable[str | os.PathLike]) -> list[Path]:
        files: list[Path] = []
        for o in outputs:
            p = Path(o)
            files += sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        return files

    def fresh(self, step: str, key: str, outputs: Iterable[str | os.PathLike]) -> bool:
        """True when ``step`` was computed with ``key`` and its outputs are there, unchanged.

        An output whose file signature (size, modification and change times, inode) is the one
        recorded when it was hashed, and whose change time is more than :data:`_RACY_NS` before
        that hashing began, is taken as unchanged without reading it (git's index does the same,
        with the same guard against a change in the clock tick of the hashing); any other output
        is hashed. The change time cannot be set back by a user, so an edit that restores the
        modification time is still hashed. Outputs hashed again and found unchanged get their
        signatures recorded anew.
        """
        if self.force:
            return False
        try:
            rec = json.loads(self._path(step).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if rec.get("key") != key:
            return False
        files = self._outputs(outputs)
        hashes, recorded = rec.get("outputs") or {}, rec.get("stat") or {}
        if not files or {str(p) for p in files} != hashes.keys():
            return False
        t0, trusted = time.time_ns(), rec.get("hashed_ns", 0) - _RACY_NS
        sigs, rehashed = {}, False
        for p in files:
            try:
                sig = sigs[str(p)] = _signature(p)
            except OSError:
                return False
            if recorded.get(str(p)) == sig and sig[2] < trusted:
                continue
            if provenance.sha256(p) != hashes[str(p)]:
                return False
            rehashed = True
        if rehashed:  # every output checked: record the signatures as of this hashing
            self._write(step, key, hashes, sigs, t0)
        return True

    def mark(self, step: str, key: str, outputs: Iterable[str | os.PathLike]) -> None:
        """Record that ``step`` computed ``outputs`` with ``key``."""
        t0 = time.time_ns()  # before hashing: a file changed after it has a later change time
        files = [p for p in self._outputs(outputs) if p.is_file()]
        hashes = {str(p): provenance.sha256(p) for p in files}
        self._write(step, key, hashes, {str(p): _signature(p) for p in files}, t0)

    def _write(self, step: str, key: str, hashes: dict, sigs: dict, hashed_ns: int) -> None:
        from pipeline.io import atomic_write

        rec = {"key": key, "outputs": hashes, "stat": sigs, "hashed_ns": hashed_ns}
        atomic_write(self._path(step), json.dumps(rec, indent=1, sort_keys=True))

    def run(self, step: str, key: str, outputs: Callable[[], Iterable] | Iterable, compute: Callable[[], Any]) -> bool:
        """Reuse ``step`` if fresh, else ``compute()`` and mark it; return True when recomputed."""
        outs = outputs if not callable(outputs) else None
        if self.fresh(step, key, outs if outs is not None else outputs()):
            self.reused.append(step)
            _log(f"{step}: reused (inputs, parameters and code unchanged)")
            return False
        _log(f"{step}: recomputing" + (" (--force)" if self.force else ""))
        compute()
        self.mark(step, key, outs if outs is not None else outputs())
        self.computed.append(step)
        return True

    def summary(self) -> str:
        return f"{len(self.reused)} step(s) reused, {len(self.computed)} recomputed"
