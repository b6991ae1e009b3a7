"""What one file read gave, kept for the next run: adding a year re-reads only its own files.

Reading a workbook — its item list, annual sheet, monthly sheets, review or weak-organisation
table — is a pure function of the file's bytes, its place (year, role, path relative to the
raw folder, the named summary sheet), the unit registry, the grade map, the year's item list,
the code and the versions of the libraries that read it. :func:`read_year` keys each file by the
SHA-256 of all of these
(:func:`pipeline.cache.make_key`, which adds the code version) and keeps what the read gave —
its result, its cleaning-log rows and its problems, exactly what a cluster task returns
(:func:`pipeline.clean.remote._file_task`) — in ``<processed>/.cache/clean-files/<key>.pkl``.
A file whose key is there is not read again; its log rows and problems join the run in the
same order as a fresh read's (:func:`pipeline.clean.files._take`), so the tables, the log and
the quarantine are the same either way (tested). Entries no run uses any more are removed at
the end of a run (:meth:`FileStore.prune`). The folder is derived data, like the rest of
``data/processed``.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from pipeline import cache as step_cache
from pipeline import load, provenance
from pipeline.clean.remote import _file_task, _files

__all__ = ["FileStore", "read_year"]


class FileStore:
    """The kept file reads of one processed folder (``<out>/.cache/clean-files``)."""

    def __init__(self, out: Path):
        self.dir = Path(out) / ".cache" / "clean-files"
        # the readers' libraries too: a kept read is a pickle of their objects, and another
        # version may read a workbook differently (pipeline.provenance.PACKAGES, and Python)
        self.libs = provenance.versions()
        self.used: set[str] = set()
        self.hits = self.misses = 0

    def get(self, key: str):
        self.used.add(key)
        try:
            with open(self.dir / f"{key}.pkl", "rb") as fh:
                got = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return got

    def put(self, key: str, value) -> None:
        from pipeline.io import atomic_write

        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.dir / f"{key}.pkl", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    def prune(self) -> None:
        """Remove the entries this run did not use (files changed or gone, older code)."""
        if self.dir.is_dir():
            for p in self.dir.glob("*.pkl"):
                if p.stem not in self.used:
                    p.unlink(missing_ok=True)


def read_year(year: int, plan: dict, raw: Path, matcher, grade_map: dict, registry: str, store: FileStore, sniffed: dict) -> dict:
    """Read (or take from ``store``) every file of one year, item list first.

    Returns ``{path: (result, log tables, problems)}`` for :func:`pipeline.clean.files._read_year`
    (its ``remote`` argument). ``registry`` is the SHA-256 of the unit registry file the
    ``matcher`` was built from; ``sniffed`` the workbooks already opened to classify files.
    """
    done: dict = {}

    def one(role: str, path: Path, items, items_key: str | None, sheet) -> str:
        key = step_cache.make_key("clean-file", role=role, year=int(year), path=load._rel(path, raw), sha256=provenance.sha256(path),
                                  registry=registry, grade_map=grade_map, items=items_key, summary_sheet=sheet, libs=store.libs)
        got = store.get(key)
        if got is None:  # read as a cluster task would: its own log, returned with the result
            got = _file_task((role, path, year, raw, items, sheet), matcher, grade_map, sniffed)
            store.put(key, got)
        done[path] = got
        return key

    items, items_key = None, None
    for path in _files(plan, "items"):
        items_key = one("items", path, None, None, None)
        items = done[path][0]
    for role in ("summary", "monthly", "review", "weak"):
        for path in _files(plan, role):
            one(role, path, items, items_key, plan.get("summary_sheet"))
    return done
