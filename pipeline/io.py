"""Writing outputs safely: atomic replace, Parquet + CSV twins, spreadsheet-injection guard.

Every file the pipeline writes goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder and then moved over the target with :func:`os.replace`, so a
run killed midway leaves the previous output intact (issue #6).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

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
]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class PendingPath:
    """A temporary path beside ``path`` that replaces ``path`` only on :meth:`commit`.

    :func:`atomic_path` with an explicit end, for files written across a longer piece of work
    (e.g. one year at a time): ``tmp`` is written to, :meth:`commit` moves it over ``path``
    with :func:`os.replace`, :meth:`discard` deletes it (``path`` stays as it was).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if self.tmp.exists():
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
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
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
        import pyarrow.parquet as pq

        if self._done:
            raise ValueError(f"{self.name}: the writer is closed")
        if self._writer is None:
            if empty is None:
                self.discard()
                raise ValueError(f"{self.name}: nothing written and no empty frame given")
            self.write(empty)
        self._done = True
        try:
            self._writer.close()
            self._writer = None
            if self.csv:
                pending = PendingPath(self.folder / f"{self.name}.csv")
                try:
                    if self.rows < FAST_CSV_ROWS:  # small: exactly as write_table (pandas' format)
                        _to_csv(neutralise_formulas(pd.read_parquet(self._parquet.tmp)), pending.tmp)
                    else:  # one row group at a time, Arrow's format as _to_csv
                        batches = pq.ParquetFile(self._parquet.tmp, pre_buffer=False).iter_batches(batch_size=1 << 16)
                        _to_csv_parts(batches, pending.tmp)
                    pending.commit()
                finally:
                    pending.discard()
            return self._parquet.commit()
        finally:
            self._parquet.discard()

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
    pacsv.write_csv(ready, fh, pacsv.WriteOptions(include_header=header))
    return table.num_rows


def _to_csv_parts(parts, path: Path) -> None:
    """UTF-8-BOM CSV of consecutive parts of one table (see :func:`append_csv`)."""
    import codecs

    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        for i, part in enumerate(parts):
            append_csv(part, fh, header=i == 0)


def read_table(folder: str | os.PathLike, name: str) -> pd.DataFrame:
    """Read ``<folder>/<name>.parquet`` written by :func:`write_table`."""
    path = Path(folder) / f"{name}.parquet"
    if not path.exists():
        from pipeline.errors import PipelineError

        raise PipelineError(f"{path}: not found — run `python -m pipeline clean` first")
    return pd.read_parquet(path)
