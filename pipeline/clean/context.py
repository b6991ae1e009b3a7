"""State of one cleaning run: the cleaning log and the problems found (SPEC §2.2).

:class:`_Run` collects log rows (spilled to ``cleaning_log.csv`` once per year) and problems
(written to ``quarantine.csv``); :func:`summarise_log` counts the log per rule for the
data-quality appendix; :func:`file_year` tells which year a log or quarantine row belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipeline import io as pio


LOG_COLUMNS = ["file", "sheet", "cell", "original", "new", "rule"]
QUARANTINE_COLUMNS = ["file", "sheet", "cell", "value", "reason"]


def file_year(files) -> "pd.Series":
    """The year a cleaning-log or quarantine row belongs to, from its ``file`` (``<year>/…``,
    relative to the raw folder); NaN for files outside a year folder (``units.csv``, which
    every year shares)."""
    y = pd.Series(files, dtype="string").str.extract(r"^(\d{4})/", expand=False)
    return pd.to_numeric(y, errors="coerce").astype("float64")


# =========================================================================== run context
@dataclass
class _Run:
    """State of one cleaning run: settings, the cleaning log and the problems found.

    Log rows are kept as compact Arrow tables and appended to a temporary
    ``cleaning_log.csv`` by :meth:`spill` (once per year), so the log never has to fit in
    memory; :meth:`write_log` moves the file into place.
    """

    grade_map: dict
    log_path: Path
    logs: list = field(default_factory=list)  # Arrow tables of log rows, in order
    log_rows: list = field(default_factory=list)  # single rows not yet in ``logs``
    problems: list = field(default_factory=list)
    n_log: int = 0
    _spool: pio.PendingPath | None = None
    _spool_fh: object = None

    def log(self, file, sheet, cell, original, new, rule) -> None:
        self.log_rows.append((str(file), "" if sheet is None else str(sheet), cell or "", str(original), str(new), rule))

    def add_log(self, df: pd.DataFrame) -> None:
        """Append many log rows (a frame with LOG_COLUMNS), kept compact as an Arrow table."""
        self._flush()
        self.logs.append(_log_table(df))

    def _flush(self) -> None:
        if self.log_rows:
            self.logs.append(_log_table(pd.DataFrame(self.log_rows, columns=LOG_COLUMNS, dtype=object)))
            self.log_rows = []

    def spill(self) -> None:
        """Append the log rows collected so far to the temporary log file (formula-guarded)."""
        import codecs

        self._flush()
        if self._spool is None:
            self._spool = pio.PendingPath(self.log_path)
            self._spool_fh = open(self._spool.tmp, "wb")
            self._spool_fh.write(codecs.BOM_UTF8 + (",".join(LOG_COLUMNS) + "\n").encode())
        for tbl in self.logs:
            self.n_log += pio.append_csv(tbl, self._spool_fh)
        self.logs = []

    def write_log(self) -> int:
        """Move ``cleaning_log.csv`` into place (atomically); return its number of rows."""
        self.spill()
        self._spool_fh.close()
        self._spool.commit()
        self._spool = self._spool_fh = None
        return self.n_log

    def discard_log(self) -> None:
        """Drop the temporary log file of a run that ended by an unexpected error."""
        if self._spool is not None:
            self._spool_fh.close()
            self._spool.discard()
            self._spool = self._spool_fh = None

    def problem(self, file, sheet, cell, value, reason) -> None:
        self.problems.append((str(file), "" if sheet is None else str(sheet), cell or "", "" if value is None else str(value), reason))

    def quarantine_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.problems, columns=QUARANTINE_COLUMNS, dtype="str")


def _log_table(df: pd.DataFrame) -> pa.Table:
    """Log rows as Arrow; file, sheet and rule (few distinct values) dictionary-encoded."""
    cols = {}
    for c in LOG_COLUMNS:
        arr = pa.array(np.asarray(df[c], dtype=object).astype(str), type=pa.string())
        cols[c] = pc.dictionary_encode(arr) if c in ("file", "sheet", "rule") else arr
    return pa.table(cols)


def summarise_log(log: pd.DataFrame) -> pd.DataFrame:
    """Count the cleaning-log rows per rule, with each rule's meaning (data-quality appendix).

    Parameters
    ----------
    log : DataFrame
        ``cleaning_log.csv`` (columns file, sheet, cell, original, new, rule).

    Returns
    -------
    DataFrame
        ``rule`` (the base rule; combined rules such as ``text_number;fullwidth`` count once
        under each part), ``count`` (log rows), ``description`` (from
        ``pipeline/labels/clean.yaml``, in the active language; the rule itself when it has no text).
    """
    from pipeline.i18n import t

    parts = log["rule"].astype(str).str.split(";").explode().str.strip()
    base = parts.str.replace(r"\s*\(.*$", "", regex=True).str.replace(r":.*$", "", regex=True)
    counts = base[base != ""].value_counts().rename_axis("rule").reset_index(name="count")

    def describe(rule: str) -> str:
        try:
            return t(f"clean_rule_{rule}")
        except KeyError:
            return rule

    counts["description"] = counts["rule"].map(describe)
    return counts.sort_values(["count", "rule"], ascending=[False, True], kind="stable").reset_index(drop=True)
