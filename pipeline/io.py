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

__all__ = ["atomic_path", "atomic_write", "write_table", "read_table", "neutralise_formulas"]

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

    conv = df.copy(deep=False)
    for col in conv.columns:
        if conv[col].dtype == bool:  # pandas writes True/False; keep that spelling
            conv[col] = conv[col].map({True: "True", False: "False"})
    table = pa.Table.from_pandas(conv, preserve_index=False)
    with open(path, "wb") as fh:
        fh.write(codecs.BOM_UTF8)
        pacsv.write_csv(table, fh)


def read_table(folder: str | os.PathLike, name: str) -> pd.DataFrame:
    """Read ``<folder>/<name>.parquet`` written by :func:`write_table`."""
    path = Path(folder) / f"{name}.parquet"
    if not path.exists():
        from pipeline.errors import PipelineError

        raise PipelineError(f"{path}: not found — run `python -m pipeline clean` first")
    return pd.read_parquet(path)
