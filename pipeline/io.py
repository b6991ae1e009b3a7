"""Writing outputs safely: atomic replace, Parquet + CSV twins, spreadsheet-injection guard.

Every file the pipeline writes goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder and then moved over the target with :func:`os.replace`, so a
run killed midway leaves the previous output intact (issue #6).

Issue #12: the temporary file gets the permissions an ordinary ``open()`` would give
(``0o666`` minus the process umask), so outputs are as readable as any other file the user
writes (``-rw-r--r--`` under umask 022), not the ``-rw-------`` of :func:`tempfile.mkstemp`.
A write that fails (disk full, permission, …) stops with one line naming the file being
written (:class:`pipeline.errors.PipelineError`); the previous file stays. Inside
:func:`publish_set` the files of one step are staged and moved into place together only when
every one of them was written, so a failure leaves the previous set whole.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

__all__ = [
    "atomic_path",
    "atomic_write",
    "PendingPath",
    "TableWriter",
    "write_table",
    "write_csv",
    "append_csv",
    "read_table",
    "neutralise_formulas",
    "publish_set",
    "file_mode",
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def file_mode() -> int:
    """Permission bits of a new file under the current umask (``0o666 & ~umask``)."""
    try:  # Linux: read the umask without changing it (os.umask is process-wide, not thread-safe)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _temp_beside(path: Path) -> Path:
    """A new empty temporary file beside ``path`` with the permissions of :func:`file_mode`."""
    with _naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            os.fchmod(fd, file_mode())
        finally:
            os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def _naming(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into one line naming ``path`` (the old file is kept)."""
    try:
        yield
    except OSError as err:
        from pipeline.errors import PipelineError

        what = "no space left on device" if err.errno in (errno.ENOSPC, errno.EDQUOT) else (err.strerror or type(err).__name__)
        raise PipelineError(f"{path}: cannot write it: {what} (the previous file is kept)") from None


#: The set being staged by :func:`publish_set` (a list of (temporary, target) pairs), if any.
_STAGE: contextvars.ContextVar[list | None] = contextvars.ContextVar("pipeline_io_stage", default=None)


def _publish(tmp: Path, path: Path) -> bool:
    """Move ``tmp`` over ``path`` now, or register it with the open :func:`publish_set`.

    Returns True when the move was deferred (the temporary file must then be kept).
    """
    stage = _STAGE.get()
    if stage is not None:
        stage.append((tmp, path))
        return True
    with _naming(path):
        os.replace(tmp, path)
    return False


@contextlib.contextmanager
def publish_set(label: str = "") -> Iterator[None]:
    """Stage every file written inside the block; move them all into place only at its end.

    Files written by :func:`atomic_path`, :func:`atomic_write`, :func:`write_table`,
    :func:`write_csv`, :class:`PendingPath` and :class:`TableWriter` inside the block stay
    temporary until the block ends without an error; then they replace their targets one
    after another (``os.replace`` within one folder: no data is copied, so this cannot run out
    of space). If anything fails inside the block — e.g. the disk fills while the third table
    is written — every staged file is deleted and the previous set stays as it was.
    Nested blocks join the outer one.
    """
    if _STAGE.get() is not None:
        yield
        return
    staged: list = []
    token = _STAGE.set(staged)
    try:
        yield
    except BaseException:
        _STAGE.reset(token)
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    _STAGE.reset(token)
    for i, (tmp, path) in enumerate(staged):
        try:
            with _naming(path):
                os.replace(tmp, path)
        except BaseException:
            for t, _ in staged[i + 1:]:
                Path(t).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically.

    An OSError while the temporary file is written (e.g. ENOSPC) becomes a
    :class:`~pipeline.errors.PipelineError` naming ``path``; ``path`` keeps its old content.
    """
    path = Path(path)
    tmp_path = _temp_beside(path)
    kept = False
    try:
        with _naming(path):
            yield tmp_path
        kept = _publish(tmp_path, path)
    finally:
        if not kept and tmp_path.exists():
            tmp_path.unlink()


class PendingPath:
    """A temporary path beside ``path`` that replaces ``path`` only on :meth:`commit`.

    :func:`atomic_path` with an explicit end, for files written across a longer piece of work
    (e.g. one year at a time): ``tmp`` is written to, :meth:`commit` moves it over ``path``
    with :func:`os.replace`, :meth:`discard` deletes it (``path`` stays as it was).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.tmp = _temp_beside(self.path)
        self._staged = False

    def commit(self) -> Path:
        self._staged = _publish(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if not self._staged and self.tmp.exists():
            self.tmp.unlink()


def atomic_write(path: str | os.PathLike, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding=encoding)
        else:
            tmp.write_bytes(data)
    return Path(path)


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe.

    Cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return are the OWASP list
    for CSV injection. Only text (object/string) columns are touched; numbers stay numbers,
    so a negative adjustment such as ``-1.5`` stored as a float is never altered.
    """
    out = df.copy(deep=False)  # copy-on-write (pandas ≥ 3): assigning a column never touches df
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            try:  # vectorised (millions of rows); non-text values give NA → not a formula
                mask = s.str.startswith(_FORMULA_START).fillna(False).astype(bool)
            except (AttributeError, TypeError):
                mask = s.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
            if bool(mask.any()):
                out[col] = s.astype(object).where(~mask, "'" + s.astype(str))
    return out


def write_table(df: pd.DataFrame, folder: str | os.PathLike, name: str, csv: bool = True) -> Path:
    """Write ``df`` as ``<folder>/<name>.parquet`` plus a UTF-8-BOM CSV twin for Excel users.

    Both files are written atomically. The CSV twin is guarded against formula injection;
    the Parquet file keeps the values as they are.
    """
    folder = Path(folder)
    target = folder / f"{name}.parquet"
    meta = df
    if df.attrs:  # pandas stores attrs as JSON in the Parquet metadata: arrays become lists
        from pipeline.notebooks import jsonable

        meta = df.copy(deep=False)
        meta.attrs = jsonable(df.attrs)
        df = df.copy(deep=False)
        df.attrs = {}  # the CSV has no attrs: none to deep-copy on every column operation below
    with atomic_path(target) as tmp:
        meta.to_parquet(tmp, index=False)
    if csv:
        with atomic_path(folder / f"{name}.csv") as tmp:
            _to_csv(neutralise_formulas(df), tmp)
    return target


class TableWriter:
    """Write one table in parts — e.g. one year at a time — as :func:`write_table` would write it whole.

    ``write(part)`` appends a DataFrame to ``<folder>/<name>.parquet`` (each part must have the
    columns and dtypes of the first); :meth:`close` then writes the CSV twin from the Parquet
    file, one row group at a time, and moves both into place (atomically, like
    :func:`write_table`, whose format it keeps: the files read back equal). :meth:`discard`
    (or leaving a ``with`` block by an exception) drops both; the old files stay.
    Only one part and one row group are in memory at a time.
    """

    def __init__(self, folder: str | os.PathLike, name: str, csv: bool = True):
        self.folder = Path(folder)
        self.name = name
        self.csv = csv
        self.rows = 0
        self._parquet = PendingPath(self.folder / f"{name}.parquet")
        self._writer = None
        self._schema = None
        self._done = False

    def write(self, part: pd.DataFrame) -> None:
        """Append ``part`` (same columns and dtypes as the first part)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._done:
            raise ValueError(f"{self.name}: the writer is closed")

        table = pa.Table.from_pandas(part, preserve_index=False)
        with _naming(self._parquet.path):
            if self._writer is None:
                self._schema = table.schema
                self._writer = pq.ParquetWriter(self._parquet.tmp, self._schema)
            elif not table.schema.equals(self._schema, check_metadata=False):
                raise ValueError(f"{self.name}: part schema {table.schema} differs from the first part's {self._schema}")
            self._writer.write_table(table)
        self.rows += len(part)

    def close(self, empty: pd.DataFrame | None = None) -> Path:
        """Finish the Parquet file, write the CSV twin, move both into place; return the Parquet path.

        ``empty`` is written (a frame with the table's columns and no rows) if no part was.
        """
        if self._done:
            raise ValueError(f"{self.name}: the writer is closed")
        if self._writer is None:
            if empty is None:
                self.discard()
                raise ValueError(f"{self.name}: nothing written and no empty frame given")
            self.write(empty)
        self._done = True
        try:
            with _naming(self._parquet.path):
                self._writer.close()
            self._writer = None
            if self.csv:
                pending = PendingPath(self.folder / f"{self.name}.csv")
                try:
                    with _naming(pending.path):
                        self._write_csv_twin(pending.tmp)
                    pending.commit()
                finally:
                    pending.discard()
            return self._parquet.commit()
        finally:
            self._parquet.discard()

    def _write_csv_twin(self, tmp: Path) -> None:
        """The CSV twin of the finished Parquet file, written to ``tmp``."""
        import pyarrow.parquet as pq

        if self.rows < FAST_CSV_ROWS:  # small: exactly as write_table (pandas' format)
            _to_csv(neutralise_formulas(pd.read_parquet(self._parquet.tmp)), tmp)
        else:  # one row group at a time, Arrow's format as _to_csv
            batches = pq.ParquetFile(self._parquet.tmp, pre_buffer=False).iter_batches(batch_size=1 << 16)
            _to_csv_parts(batches, tmp)

    def discard(self) -> None:
        """Drop what was written; the previous files stay."""
        self._done = True
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._parquet.discard()

    def __enter__(self) -> "TableWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        elif not self._done:
            self.close()


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write one CSV (UTF-8 with BOM, formula-guarded) atomically."""
    with atomic_path(path) as tmp:
        _to_csv(neutralise_formulas(df), tmp)
    return Path(path)


#: Frames with at least this many rows are written by Arrow's C++ CSV writer (~6× faster than
#: ``DataFrame.to_csv`` on millions of rows; text values are quoted and whole floats written
#: without ".0" — the values read back the same). Smaller frames keep pandas' exact format.
FAST_CSV_ROWS = 1_000_000


def _to_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8-BOM CSV of ``df`` (no index)."""
    if len(df) < FAST_CSV_ROWS:
        df.to_csv(path, index=False, encoding="utf-8-sig")
        return
    import codecs

    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        pacsv.write_csv(_csv_arrow(df), fh)


def _csv_arrow(df: pd.DataFrame):
    """``df`` as an Arrow table for the C++ CSV writer (bools spelled True/False as pandas does)."""
    import pyarrow as pa

    conv = df.copy(deep=False)
    for col in conv.columns:
        if conv[col].dtype == bool:  # pandas writes True/False; keep that spelling
            conv[col] = conv[col].map({True: "True", False: "False"})
    return pa.Table.from_pandas(conv, preserve_index=False)


def _arrow_csv_ready(table):
    """``table`` (Arrow) as :func:`_to_csv` would hand it to the CSV writer, without pandas.

    Text columns get the :func:`neutralise_formulas` guard (same prefixes, same apostrophe),
    booleans are spelled True/False; None if a column has a type this shortcut does not
    cover (the caller then goes through pandas).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cols = []
    for col in table.columns:
        t = col.type
        if pa.types.is_dictionary(t) and (pa.types.is_string(t.value_type) or pa.types.is_large_string(t.value_type)):
            col = col.cast(t.value_type)
            t = col.type
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            mask = None
            for prefix in _FORMULA_START:
                hit = pc.starts_with(col, prefix)
                mask = hit if mask is None else pc.or_(mask, hit)
            mask = pc.fill_null(mask, False)
            if pc.any(mask).as_py():
                quote, empty = pa.scalar("'", t), pa.scalar("", t)
                col = pc.if_else(mask, pc.binary_join_element_wise(quote, col, empty), col)
        elif pa.types.is_boolean(t):
            col = pc.if_else(col, "True", "False")
        elif not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
            return None
        cols.append(col)
    return pa.table(cols, names=table.column_names)


def append_csv(part, fh, header: bool = False) -> int:
    """Append an Arrow table or record batch to an open binary CSV file; return its rows.

    The format of the big-table CSV twin of :func:`write_table` (Arrow's writer: text quoted,
    whole floats without ".0"), formula-guarded like :func:`neutralise_formulas`; writing a
    table in consecutive parts gives the same bytes as writing it at once.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    table = pa.Table.from_batches([part]) if isinstance(part, pa.RecordBatch) else part
    ready = _arrow_csv_ready(table)
    if ready is None:  # other column types: the pandas route of _to_csv
        ready = _csv_arrow(neutralise_formulas(table.to_pandas()))
    with _naming(_target_of(getattr(fh, "name", "CSV file"))):
        pacsv.write_csv(ready, fh, pacsv.WriteOptions(include_header=header))
    return table.num_rows


def _target_of(tmp: str | os.PathLike) -> Path:
    """The file a temporary ``.<name>.<random>.tmp`` of :func:`_temp_beside` stands for."""
    p = Path(str(tmp))
    name = p.name
    if name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3:
        return p.with_name(name[1:].rsplit(".", 2)[0])
    return p


def _to_csv_parts(parts, path: Path) -> None:
    """UTF-8-BOM CSV of consecutive parts of one table (see :func:`append_csv`)."""
    import codecs

    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        for i, part in enumerate(parts):
            append_csv(part, fh, header=i == 0)


def _matrices_back(v: Any) -> Any:
    """``attrs`` as read from Parquet metadata, with numeric matrices (nested lists of numbers,
    2 or more dimensions — e.g. the rank histogram of ``uncertainty``) made NumPy arrays again.

    pandas deep-copies ``attrs`` on every operation on a frame; a 71 × 71 histogram as nested
    Python lists made each row lookup of the uncertainty table cost ~12 ms (≈ 1 s of a year
    report), as an array it is one small copy. Other values are left as they are."""
    if isinstance(v, dict):
        return {k: _matrices_back(x) for k, x in v.items()}
    if isinstance(v, list) and v and isinstance(v[0], list):
        try:
            a = np.asarray(v)
        except ValueError:  # ragged: not a matrix
            return v
        return a if a.ndim >= 2 and a.dtype.kind in "iufb" else v
    return v


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """``pd.read_parquet`` of a table written by :func:`write_table`, numeric matrices of its
    ``attrs`` back as arrays (:func:`_matrices_back`)."""
    df = pd.read_parquet(path)
    if df.attrs:
        df.attrs = _matrices_back(df.attrs)
    return df


def read_table(folder: str | os.PathLike, name: str) -> pd.DataFrame:
    """Read ``<folder>/<name>.parquet`` written by :func:`write_table`."""
    path = Path(folder) / f"{name}.parquet"
    if not path.exists():
        from pipeline.errors import PipelineError

        raise PipelineError(f"{path}: not found — run `python -m pipeline clean` first")
    return read_parquet(path)
