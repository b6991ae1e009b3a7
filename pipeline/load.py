"""Reading the raw inputs (SPEC §2): find the files of a year and read them into cell grids.

This module does no interpretation: it turns every workbook sheet or CSV file into a
:class:`Sheet` — a 2-D object array of the cell values *as stored* plus the real position of
its top-left cell, so that every value keeps its A1 reference (``2015/考评汇总表.xlsx!汇总!D7``).
:mod:`pipeline.clean` interprets the grids.

Discovery (:func:`discover`) goes by what a file is, not by one spelling of its name:

=========  ===========================================================================
role       recognised by
=========  ===========================================================================
monthly    file name contains 月度, or a workbook whose sheets are named 1月…12月
review     述职 (述职评议)
weak       软弱涣散
items      考评项目 / 一览表 / 项目 (and not 汇总)
summary    汇总 (and not 月度)
=========  ===========================================================================

Files whose names say nothing are classified by their content (header keywords).

An optional ``sources.yaml`` in the year folder names the files explicitly; its keys are
``items``, ``summary``, ``monthly`` (one file name or a list), ``review`` (alias
``adjustments``), ``weak`` (alias ``weak_orgs``) — file names relative to the year folder — and
``summary_sheet`` (the sheet of the annual summary). Keys left out are discovered as above.

Cell values are read with python-calamine (fast; it also reports merged ranges). CSV files may
be UTF-8, UTF-8 with BOM, GBK or GB18030; the encoding is detected, and plain numbers in CSV
cells become floats (as a spreadsheet would read them).
"""

from __future__ import annotations

import csv
import io as _io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pipeline.errors import PipelineError, where

__all__ = [
    "Sheet",
    "col_letter",
    "cell_ref",
    "read_text",
    "read_sheets",
    "iter_sheets",
    "sheet_names",
    "read_registry",
    "year_folders",
    "discover",
    "ROLES",
    "EXTENSIONS",
    "month_of",
    "UncachedFormula",
]

EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".csv")
ROLES = ("items", "summary", "monthly", "review", "weak")
ENCODINGS = ("utf-8-sig", "gb18030")  # utf-8-sig also reads plain UTF-8; GB18030 ⊃ GBK

_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_CN_MONTH = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}
_MONTH = re.compile(r"^(?:\d{4}年)?(\d{1,2}|十[一二]?|[一二三四五六七八九])月(?:份)?(?:考评|汇总|得分)?$")
_MONTH_IN = re.compile(r"(?<!\d)(1[0-2]|0?[1-9])月(?!度)")


# --------------------------------------------------------------------------- cell grids
def col_letter(col: int) -> str:
    """Spreadsheet column letters of a 0-based column index (0 → A, 26 → AA)."""
    s = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def cell_ref(row: int, col: int) -> str:
    """A1 reference of a 0-based (row, col) position, e.g. ``cell_ref(6, 3) == "D7"``."""
    return f"{col_letter(col)}{row + 1}"


@dataclass
class Sheet:
    """One sheet (or CSV file) as a grid of stored cell values.

    Attributes
    ----------
    file : str
        Path of the file relative to the raw folder, with ``/`` separators.
    name : str
        Sheet name (the file stem for a CSV file).
    cells : numpy.ndarray
        2-D object array: float/int for numbers, str for text ("" = empty cell), other
        Python objects (dates, booleans) as the reader gives them.
    row0, col0 : int
        0-based sheet position of ``cells[0, 0]`` (leading empty rows/columns are trimmed).
    merged : list of tuple
        Merged ranges as absolute 0-based ``(r1, c1, r2, c2)`` (inclusive).
    """

    file: str
    name: str
    cells: np.ndarray
    row0: int = 0
    col0: int = 0
    merged: list = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return self.cells.shape

    def ref(self, r: int, c: int) -> str:
        """A1 reference of local position (r, c)."""
        return cell_ref(self.row0 + r, self.col0 + c)

    def where(self, r: int | None = None, c: int | None = None) -> str:
        """``file!sheet!A1`` of local position (r, c) (``file!sheet`` without a position)."""
        return where(self.file, self.name, None if r is None else self.ref(r, c))

    def local_merges(self) -> list[tuple[int, int, int, int]]:
        """Merged ranges in local coordinates, clipped to the grid."""
        h, w = self.cells.shape
        out = []
        for r1, c1, r2, c2 in self.merged:
            a, b = r1 - self.row0, c1 - self.col0
            c, d = min(r2 - self.row0, h - 1), min(c2 - self.col0, w - 1)
            if c >= max(a, 0) and d >= max(b, 0) and (c > a or d > b):
                out.append((max(a, 0), max(b, 0), c, d))
        return out


class UncachedFormula(str):
    """A formula cell saved without its calculated value (the workbook was written by a
    program that does not calculate, or saved with calculation off).

    It compares equal to ``""`` (an empty cell) for text handling, but its type is not
    ``str``, so the cleaner reports it instead of reading it as a missing score;
    ``formula`` holds the formula text (``""`` for a dependent cell of a shared formula).
    """

    formula: str

    def __new__(cls, formula: str):
        obj = super().__new__(cls, "")
        obj.formula = formula
        return obj

    def __repr__(self) -> str:
        return f"={self.formula}" if self.formula else "=(shared formula)"


_XML_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_XML_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_XML_F = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.S)
_XML_V = re.compile(rb"<(?:\w+:)?v>[^<]|<(?:\w+:)?is\b")  # a cached value: <v>text</v> (not <v/> or <v></v>)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def uncached_formulas(path: str | Path) -> dict[str, list[tuple[int, int, str]]]:
    """Formula cells without a cached value in an .xlsx/.xlsm workbook.

    Returns
    -------
    dict
        Sheet name → list of ``(row, col, formula)`` (0-based); sheets without such cells
        are left out. Empty for other file types or when the package cannot be parsed
        (reading the values then reports the problem).
    """
    import html
    import zipfile

    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return {}
    out: dict[str, list[tuple[int, int, str]]] = {}
    try:
        with zipfile.ZipFile(path) as z:
            wb = z.read("xl/workbook.xml")
            rels = z.read("xl/_rels/workbook.xml.rels")
            targets = dict(re.findall(rb'<Relationship\b[^>]*?Id="([^"]+)"[^>]*?Target="([^"]+)"', rels))
            targets.update({k: v for v, k in re.findall(rb'<Relationship\b[^>]*?Target="([^"]+)"[^>]*?Id="([^"]+)"', rels)})
            for attrs in re.findall(rb"<(?:\w+:)?sheet\b([^>]*)/?>", wb):
                name = re.search(rb'\bname="([^"]*)"', attrs)
                rid = re.search(rb'\br:id="([^"]*)"|\bid="([^"]*)"', attrs)
                if not name or not rid:
                    continue
                target = targets.get(rid.group(1) or rid.group(2))
                if target is None:
                    continue
                t = target.decode()
                part = t.lstrip("/") if t.startswith("/") else "xl/" + t
                data = z.read(part)
                if b"<f" not in data and b":f" not in data:
                    continue
                found = []
                for a, body in _XML_CELL.findall(data):
                    if not body or not _XML_F.search(body) or _XML_V.search(body):
                        continue
                    ref = _XML_REF.search(a)
                    if ref:
                        f = _XML_F.search(body).group(1) or b""
                        found.append((int(ref.group(2)) - 1, _col_index(ref.group(1).decode()), html.unescape(f.decode("utf-8", "replace"))))
                if found:
                    out[html.unescape(name.group(1).decode("utf-8", "replace"))] = found
    except (zipfile.BadZipFile, KeyError, OSError):
        return {}
    return out


def _mark_formulas(grid: np.ndarray, r0: int, c0: int, cells: list[tuple[int, int, str]]) -> tuple[np.ndarray, int, int]:
    """Put :class:`UncachedFormula` cells into ``grid`` (origin ``r0, c0``), growing it if the
    reader trimmed them away as empty."""
    rows = [r for r, _, _ in cells]
    cols = [c for _, c, _ in cells]
    h, w = grid.shape
    top, left = min([r0, *rows]) if h else min(rows), min([c0, *cols]) if w else min(cols)
    bottom = max([r0 + h - 1, *rows]) if h else max(rows)
    right = max([c0 + w - 1, *cols]) if w else max(cols)
    if (top, left, bottom, right) != (r0, c0, r0 + h - 1, c0 + w - 1):
        big = np.empty((bottom - top + 1, right - left + 1), dtype=object)
        big[:] = ""
        big[r0 - top : r0 - top + h, c0 - left : c0 - left + w] = grid
        grid, r0, c0 = big, top, left
    for r, c, f in cells:
        grid[r - r0, c - c0] = UncachedFormula(f)
    return grid, r0, c0


def _grid(rows: list[list]) -> np.ndarray:
    if not rows:
        return np.empty((0, 0), dtype=object)
    width = max(len(r) for r in rows)
    arr = np.empty((len(rows), width), dtype=object)
    arr[:] = ""
    for i, r in enumerate(rows):
        arr[i, : len(r)] = r
    return arr


def _rel(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


# --------------------------------------------------------------------------- text files
def read_text(path: str | Path, label: str | None = None) -> str:
    """Decode a text file as UTF-8 (with or without BOM), else GBK/GB18030.

    Raises
    ------
    PipelineError
        If the file cannot be read or decodes in none of these encodings.
    """
    path = Path(path)
    label = label or str(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise PipelineError(f"{label}: cannot read the file ({err.strerror or type(err).__name__})") from None
    if b"\x00" in raw:
        raise PipelineError(f"{label}: not a text file (binary content) — expected CSV in UTF-8, GBK or GB18030")
    for enc in ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise PipelineError(f"{label}: cannot decode the file as UTF-8, UTF-8-BOM, GBK or GB18030")


def _infer_numbers(arr: np.ndarray) -> np.ndarray:
    """Turn CSV cells that are plain numbers (``85``, ``-1.5``) into floats, in place."""
    if arr.size == 0:
        return arr
    s = pd.Series(arr.ravel(), dtype=object)
    codes, uniq = pd.factorize(s)
    is_num = np.fromiter((bool(_NUMBER.match(u)) for u in uniq), bool, len(uniq))
    if is_num.any():
        vals = np.array([float(u) if ok else np.nan for u, ok in zip(uniq, is_num)], dtype=object)
        hit = is_num[codes]
        flat = arr.ravel()
        flat[hit] = vals[codes[hit]]
        arr = flat.reshape(arr.shape)
    return arr


def _read_csv(path: Path, rel: str) -> list[Sheet]:
    text = read_text(path, rel)
    try:
        sample = text[:4096]
        delim = ","
        if sample.count("\t") > sample.count(",") and sample.count("\t") > 0:
            delim = "\t"
        rows = list(csv.reader(_io.StringIO(text), delimiter=delim))
    except csv.Error as err:
        raise PipelineError(f"{rel}: malformed CSV ({err})") from None
    arr = _grid([[c for c in r] for r in rows])
    arr = _infer_numbers(arr)
    return [Sheet(rel, path.stem, arr, 0, 0, [])]


# --------------------------------------------------------------------------- workbooks
def _open_workbook(path: Path, rel: str):
    import python_calamine as pc

    try:
        return pc.CalamineWorkbook.from_path(str(path))
    except Exception as err:  # calamine raises several types; any of them means unreadable
        msg = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise PipelineError(f"{rel}: cannot read the workbook (corrupt or not an Excel file: {msg})") from None


def sheet_names(path: str | Path, root: Path | None = None) -> list[str]:
    """Names of the sheets of a workbook (the file stem for a CSV file)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return [path.stem]
    wb = _open_workbook(path, _rel(path, root))
    try:
        return [m.name for m in wb.sheets_metadata if str(m.typ).endswith("WorkSheet")] or list(wb.sheet_names)
    finally:
        _close(wb)


def _close(wb) -> None:
    try:
        wb.close()
    except Exception:  # pragma: no cover - closing never matters for correctness
        pass


def read_sheets(path: str | Path, root: Path | None = None, sheets: list[str] | None = None) -> list[Sheet]:
    """Read a workbook (.xlsx/.xlsm/.xls) or CSV file into :class:`Sheet` grids.

    Parameters
    ----------
    path : path
        The file.
    root : path, optional
        Raw folder; ``Sheet.file`` is the path relative to it.
    sheets : list of str, optional
        Only these sheets (default: every worksheet).

    Raises
    ------
    PipelineError
        One line naming the file if it is unreadable, corrupt or of an unknown type.
    """
    path = Path(path)
    rel = _rel(path, root)
    ext = path.suffix.lower()
    if ext == ".csv":
        return _read_csv(path, rel)
    if ext not in EXTENSIONS:
        raise PipelineError(f"{rel}: unsupported file type {ext!r} (expected .xlsx, .xls or .csv)")
    return list(iter_sheets(path, root, sheets))


def iter_sheets(path: str | Path, root: Path | None = None, sheets: list[str] | None = None):
    """Like :func:`read_sheets`, but yield one :class:`Sheet` at a time (the workbook stays
    open; only one sheet's cells are in memory at once — for big monthly workbooks)."""
    path = Path(path)
    rel = _rel(path, root)
    ext = path.suffix.lower()
    if ext == ".csv":
        yield from _read_csv(path, rel)
        return
    if ext not in EXTENSIONS:
        raise PipelineError(f"{rel}: unsupported file type {ext!r} (expected .xlsx, .xls or .csv)")
    wb = _open_workbook(path, rel)
    formulas = uncached_formulas(path)
    try:
        names = [m.name for m in wb.sheets_metadata if str(m.typ).endswith("WorkSheet")] or list(wb.sheet_names)
        for name in names:
            if sheets is not None and name not in sheets:
                continue
            try:
                sh = wb.get_sheet_by_name(name)
                rows = sh.to_python(skip_empty_area=True)
                start = sh.start or (0, 0)
                merged = sh.merged_cell_ranges or []
            except Exception as err:
                msg = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
                raise PipelineError(f"{rel}!{name}: cannot read the sheet ({msg})") from None
            merged = [(a[0], a[1], b[0], b[1]) for a, b in merged]
            grid = _grid(rows)
            del rows
            r0, c0 = int(start[0]), int(start[1])
            if name in formulas:
                grid, r0, c0 = _mark_formulas(grid, r0, c0, formulas[name])
            yield Sheet(rel, name, grid, r0, c0, merged)
    finally:
        _close(wb)


# --------------------------------------------------------------------------- registry
_REGISTRY_COLS = ("unit_id", "name", "aliases", "type", "sector", "members", "valid_from", "valid_to", "successor_id")


def read_registry(path: str | Path, root: Path | None = None) -> pd.DataFrame:
    """Read the unit registry ``units.csv`` (SPEC §2) as text columns.

    Returns
    -------
    DataFrame
        The file's columns as strings ("" for empty) plus ``_row`` (1-based line number of the
        record in the file, for messages). Interpretation happens in :mod:`pipeline.clean`.

    Raises
    ------
    PipelineError
        If the file is missing, undecodable or lacks a required column.
    """
    path = Path(path)
    rel = _rel(path, root)
    if not path.exists():
        raise PipelineError(f"{rel}: unit registry not found — the raw folder needs units.csv (SPEC §2)")
    text = read_text(path, rel)
    rows = list(csv.reader(_io.StringIO(text)))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise PipelineError(f"{rel}: the unit registry is empty")
    header = [unicodedata.normalize("NFKC", h).strip().lower() for h in rows[0]]
    missing = [c for c in ("unit_id", "name") if c not in header]
    if missing:
        raise PipelineError(f"{rel}: the unit registry lacks column(s) {', '.join(missing)} (has: {', '.join(header)})")
    width = len(header)
    body = [(r + [""] * width)[:width] for r in rows[1:]]
    df = pd.DataFrame(body, columns=header, dtype=object)
    for c in _REGISTRY_COLS:
        if c not in df:
            df[c] = ""
    df = df.map(lambda v: v.strip() if isinstance(v, str) else v)
    df["_row"] = np.arange(2, len(df) + 2)
    return df


# --------------------------------------------------------------------------- discovery
def year_folders(raw_dir: str | Path, years=None) -> dict[int, Path]:
    """Year folders of the raw folder (``2015``, ``2015年``, ``2015年度``), optionally filtered.

    ``years`` is ``None`` (all), a ``(first, last)`` tuple (a span: years missing inside it are
    skipped, but at least one must exist) or a list/set of years (each must exist).
    """
    raw_dir = Path(raw_dir)
    found: dict[int, Path] = {}
    if raw_dir.is_dir():
        for p in sorted(raw_dir.iterdir()):
            m = re.fullmatch(r"(\d{4})(?:年度?)?", unicodedata.normalize("NFKC", p.name).strip())
            if p.is_dir() and m:
                found[int(m.group(1))] = p
    if years is not None:
        have = ", ".join(str(y) for y in sorted(found)) or "none"
        if isinstance(years, tuple) and len(years) == 2:  # a span: at least one year in it
            wanted = set(range(int(years[0]), int(years[1]) + 1))
            if not wanted & set(found):
                raise PipelineError(f"{raw_dir}: no year folder in {years[0]}–{years[1]} (available: {have})")
        else:  # explicit years: each one must exist
            wanted = {int(years)} if isinstance(years, int) else {int(y) for y in years}
            missing = sorted(wanted - set(found))
            if missing:
                raise PipelineError(f"{raw_dir}: no folder for year(s) {', '.join(map(str, missing))} (available: {have})")
        found = {y: p for y, p in found.items() if y in wanted}
    return found


def month_of(name: str) -> int | None:
    """Month number of a sheet named ``1月``, ``01月``, ``一月``, ``2015年3月`` …; else None."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(name)))
    m = _MONTH.match(s)
    if not m:
        return None
    g = m.group(1)
    v = int(g) if g.isdigit() else _CN_MONTH.get(g)
    return v if v and 1 <= v <= 12 else None


def month_in_filename(name: str) -> int | None:
    """Month named inside a file name such as ``月度考评_3月.csv`` (None if none or several)."""
    s = unicodedata.normalize("NFKC", str(name))
    found = {int(m) for m in _MONTH_IN.findall(s)}
    return found.pop() if len(found) == 1 else None


def role_by_name(name: str) -> str | None:
    """Role of a raw file from its name (see the module docstring), or None."""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))
    if "半年" in s or "通报" in s:
        return None  # the half-year bulletin is an output of the scheme, not an input
    if "月度" in s:
        return "monthly"
    if "述职" in s:
        return "review"
    if "软弱" in s or "涣散" in s:
        return "weak"
    if ("考评项目" in s or "一览表" in s or "项目" in s or "评分标准" in s) and "汇总" not in s:
        return "items"
    if "汇总" in s:
        return "summary"
    return None


_SOURCE_ALIASES = {"weak_orgs": "weak", "adjustments": "review"}


def _sources_yaml(folder: Path, root: Path | None) -> dict:
    path = folder / "sources.yaml"
    if not path.exists():
        return {}
    rel = _rel(path, root)
    try:
        data = yaml.safe_load(read_text(path, rel)) or {}
    except yaml.YAMLError as err:
        raise PipelineError(f"{rel}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise PipelineError(f"{rel}: must map roles (items, summary, monthly, review, weak) to file names")
    data = {_SOURCE_ALIASES.get(k, k): v for k, v in data.items()}
    unknown = sorted(set(data) - set(ROLES) - {"summary_sheet"})
    if unknown:
        raise PipelineError(f"{rel}: unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(ROLES)}, summary_sheet)")
    out: dict = {}
    for key, val in data.items():
        if key == "summary_sheet":
            out[key] = str(val)
            continue
        names = val if isinstance(val, list) else [val]
        paths = []
        for n in names:
            p = folder / str(n)
            if not p.is_file():
                raise PipelineError(f"{rel}: {key}: file {n!r} not found in {folder.name}/")
            paths.append(p)
        out[key] = paths
    return out


def discover(folder: str | Path, root: Path | None = None, sniff=None) -> dict:
    """Find the raw files of one year folder by role.

    Parameters
    ----------
    folder : path
        The year folder.
    root : path, optional
        Raw folder (for relative names in messages).
    sniff : callable, optional
        ``sniff(path) -> role | None`` classifies a file whose name says nothing (by content).

    Returns
    -------
    dict
        ``{"items": [Path], "summary": [Path], "monthly": [Path, …], "review": [Path],
        "weak": [Path], "ignored": [Path], "summary_sheet": str (only from sources.yaml)}``;
        roles without a file map to an empty list.
    """
    folder = Path(folder)
    explicit = _sources_yaml(folder, root)
    found: dict = {r: list(explicit.get(r, [])) for r in ROLES}
    found["ignored"] = []
    if "summary_sheet" in explicit:
        found["summary_sheet"] = explicit["summary_sheet"]
    named = {p.resolve() for r in ROLES for p in found[r]}
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.resolve() in named or p.name == "sources.yaml":
            continue
        if p.name.startswith(("~$", ".")) or p.suffix.lower() not in EXTENSIONS:
            found["ignored"].append(p)
            continue
        role = role_by_name(p.stem)
        if role is None and sniff is not None:
            role = sniff(p)
        if role is None or role in explicit:
            found["ignored"].append(p)
        else:
            found[role].append(p)
    return found
