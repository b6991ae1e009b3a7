"""Rendering: Jinja templates → HTML, WeasyPrint → PDF (CJK font subset embedded), tables.xlsx."""

from __future__ import annotations

import base64
import html as _html
import io as _io
import math
import re
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import atomic_path, atomic_write, neutralise_formulas
from pipeline.report.document import _CJK, _TEMPLATES, _fmt_cell


@lru_cache(maxsize=None)
def _jinja():
    """One template environment per process: it keeps each template compiled (a unit page
    compiled its two templates anew on every page, 1 s of a year's 71 pages); the loader
    still recompiles a template whose file changed."""
    import jinja2

    # StrictUndefined: a variable missing from the context is an error, never an empty string
    # (an undefined caption separator once emptied every figure caption number silently).
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(_TEMPLATES)), autoescape=jinja2.select_autoescape(["html"]),
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined)


#: Where the embedded @font-face of an HTML page goes (filled by :func:`_embed_font` once the
#: characters of the page are known).
_FONT_SLOT = "/*@font-face*/"


def _css(pdf: bool) -> str:
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    if pdf:
        from pipeline.plots.style import font_path

        face = f'@font-face {{ font-family: "NotoSansCJKsc"; src: url("{font_path().as_uri()}"); }}\n'
        css = face + css + "\n" + (_TEMPLATES / "print.css").read_text(encoding="utf-8")
    else:
        css = _FONT_SLOT + "\n" + css
    return css


def _render(template: str, ctx: dict, pdf: bool = False) -> str:
    from markupsafe import Markup

    sep = "\u3000" if ctx.get("lang") == "zh" else ". "
    return _jinja().get_template(template).render(css=Markup(_css(pdf)), pdf=pdf, sep=sep, **ctx)


def _font_chars(texts: list[str]) -> set[int]:
    """Code points a set of HTML documents can show: their text (entities resolved, data URIs
    dropped) + printable ASCII (page numbers, CSS generated text) + the list markers and
    spaces WeasyPrint draws itself."""
    chars = set(range(0x20, 0x7F)) | {0x2022, 0x25E6, 0x25AA, 0xA0}
    for text in texts:
        text = re.sub(r'(?:src|href)="data:[^"]*"|url\(data:[^)]*\)', "", text)
        chars |= set(map(ord, set(_html.unescape(text))))  # distinct characters first (C speed), then their code points
    return chars


def _subset_font(chars: set[int]) -> bytes | None:
    """The mplfonts Noto Sans CJK SC file cut down to ``chars`` (OpenType/CFF bytes).

    WeasyPrint subsets every embedded font itself, but on the full 16 MB CJK font (65 535
    glyphs, glyph ids kept) that takes ~10 s per PDF with fontTools; cutting the font first to
    the few hundred characters a document uses (glyph ids renumbered, layout features kept)
    takes ~1–2 s and leaves WeasyPrint a small font. The glyphs are the same outlines of the
    same file. The font's own timestamps are kept, so the bytes depend on ``chars`` only.
    Returns None (use the full font) if the font cannot be subset. Cached on disk
    (:func:`_cached_cut`). Callers pass the characters of their documents together with
    :func:`base_chars`, so that most documents of a run ask for the same set and the font is
    cut once.
    """
    return _cached_cut(frozenset(chars))


@lru_cache(maxsize=8)
def _cmap(otf: bytes | None) -> frozenset:
    """Code points a font has glyphs for (``None``: the full mplfonts font)."""
    from fontTools.ttLib import TTFont

    from pipeline.plots.style import font_path

    font = TTFont(_io.BytesIO(otf) if otf is not None else str(font_path()), lazy=True)
    return frozenset(font.getBestCmap())


def _covers(otf: bytes | None, chars: set[int]) -> bool:
    """Whether the subset ``otf`` has every character of ``chars`` that the full font has."""
    return otf is not None and (set(chars) & _cmap(None)) <= _cmap(otf)


#: Version of the subsetting recipe in :func:`_cut_font` (part of the disk cache key).
_CUT_RECIPE = "cff-desubr-allfeatures-v1"


def base_chars(*names) -> set[int]:
    """Characters every document of a run may show: all label texts (both languages), the
    given names (units, items, categories) and printable ASCII. A document's own characters
    are added on top; a run whose documents show nothing beyond these needs one subset."""
    from pipeline.i18n import _all

    texts = [v for entry in _all().values() for v in entry.values() if isinstance(v, str)]
    texts += [str(n) for group in names for n in group]
    return _font_chars(["".join(texts)])


def _subset_dir() -> Path:
    """Disk cache of font subsets and their WOFF2 packs: ``$MPLCONFIGDIR/font-subsets``."""
    import os

    return Path(os.environ.get("MPLCONFIGDIR", Path.home() / ".cache")) / "font-subsets"


def _disk_cached(name: str, make) -> bytes | None:
    """The bytes of ``name`` in :func:`_subset_dir`, else ``make()`` written there (atomically;
    ``None`` is not cached). A read-only cache folder only costs time."""
    path = _subset_dir() / name
    try:
        return path.read_bytes()
    except OSError:
        pass
    data = make()
    if data is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, data)
        except OSError:  # pragma: no cover - a read-only cache folder
            pass
    return data


def _cached_cut(chars: frozenset) -> bytes | None:
    """:func:`_cut_font` with a disk cache in ``$MPLCONFIGDIR/font-subsets`` (the project's
    ``.mplconfig/``, beside matplotlib's own font cache), keyed by the SHA-256 of the recipe,
    the font file's size and name, and the sorted code points: the bytes depend on these only,
    so a re-run, another year or the study with the same characters reads the subset back."""
    import hashlib

    from pipeline.plots.style import font_path

    fp = font_path()
    key = hashlib.sha256(f"{_CUT_RECIPE}|{fp.name}|{fp.stat().st_size}|{','.join(map(str, sorted(chars)))}".encode()).hexdigest()
    return _disk_cached(f"{key[:32]}.otf", lambda: _cut_font(chars))


def _cut_font(chars: frozenset) -> bytes | None:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    from pipeline.plots.style import font_path

    try:
        opt = subset.Options()
        opt.layout_features = ["*"]
        opt.name_IDs = ["*"]
        opt.notdef_outline = True
        opt.hinting = False
        opt.desubroutinize = True
        font = TTFont(str(font_path()), lazy=True, recalcTimestamp=False)
        sub = subset.Subsetter(opt)
        sub.populate(unicodes=chars)
        sub.subset(font)
        buf = _io.BytesIO()
        font.save(buf)
        return buf.getvalue()
    except Exception:  # pragma: no cover - fall back to the full font
        return None


@lru_cache(maxsize=4)
def _font_face(otf: bytes | None) -> str:
    """``@font-face`` rule embedding a subset font as a base64 data URI (WOFF2; WOFF when the
    brotli compressor is not installed) so that an HTML page shows its CJK text in the report
    font without the reader having a CJK font. Empty if there is no subset."""
    if not otf:
        return ""
    import hashlib

    from fontTools.ttLib import TTFont

    try:
        import brotli  # noqa: F401  (fontTools' WOFF2 writer needs it)

        flavor, mime = "woff2", "font/woff2"
    except ImportError:  # pragma: no cover
        flavor, mime = "woff", "font/woff"
    def pack() -> bytes:
        font = TTFont(_io.BytesIO(otf), recalcTimestamp=False)
        font.flavor = flavor
        buf = _io.BytesIO()
        font.save(buf)
        return buf.getvalue()

    # packed once per subset (brotli ≈ 2 s for a run's subset), kept beside the subsets
    packed = _disk_cached(f"{hashlib.sha256(otf).hexdigest()[:32]}.{flavor}", pack)
    b64 = base64.b64encode(packed).decode("ascii")
    return f'@font-face {{ font-family: "NotoSansCJKsc"; src: url(data:{mime};base64,{b64}) format("{flavor}"); }}'


def _embed_font(pages: dict[Path, str], otf: bytes | None = None) -> dict[Path, str]:
    """Fill the font slot of every page with one subset covering the characters of all of
    them (``otf``: a subset already made for these characters, e.g. for the PDF)."""
    need = _font_chars(list(pages.values()))
    if not _covers(otf, need):
        otf = _subset_font(need)
    face = _font_face(otf)
    return {p: h.replace(_FONT_SLOT, face, 1) for p, h in pages.items()}


def _write_pdf(html_text: str, path: Path, otf: bytes | None = None) -> None:
    """Render ``html_text`` (the print edition) to a PDF; ``otf`` is a subset of the CJK font
    covering its characters (made here when not given)."""
    import logging
    import tempfile

    import weasyprint

    from pipeline.plots.style import font_path

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="pipeline-font-") as tmp:
        need = _font_chars([html_text])
        if not _covers(otf, need):
            otf = _subset_font(need)
        if otf is not None:
            sub = Path(tmp) / "NotoSansCJKsc-subset.otf"
            sub.write_bytes(otf)
            html_text = html_text.replace(font_path().as_uri(), sub.as_uri())
        with atomic_path(path) as out:
            # full_fonts: embed the subset as cut above instead of letting WeasyPrint cut it again
            # to the glyphs used (fontTools recomputing CFF glyph bounds: ≈ 4 s per PDF, for a
            # file ≈ 0.2 MB smaller)
            weasyprint.HTML(string=html_text, base_url=str(_TEMPLATES)).write_pdf(str(out), full_fonts=otf is not None)


def write_xlsx(sheets: list[tuple[str, pd.DataFrame]], path: Path) -> Path:
    """Write one sheet per table: translated headers, frozen header row, widths, guarded text.

    Text cells that a spreadsheet would run as a formula are prefixed with an apostrophe
    (:func:`pipeline.io.neutralise_formulas`). The file is byte-identical for the same tables:
    workbook timestamps and zip entry dates are fixed.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    # write-only workbook: rows are streamed to the sheet XML as they are appended (about half
    # the time of a normal workbook, which keeps a cell object per value until it is saved)
    wb = Workbook(write_only=True)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    used: set[str] = set()
    for title, df in sheets:
        name = re.sub(r"[\[\]:*?/\\]", " ", str(title)).strip()[:31] or "Sheet"
        base, i = name, 2
        while name.lower() in used:
            suffix = f" ({i})"
            name = base[: 31 - len(suffix)] + suffix
            i += 1
        used.add(name.lower())
        ws = wb.create_sheet(name)
        d = neutralise_formulas(df.reset_index(drop=True))
        ws.freeze_panes = "A2"
        for j, col in enumerate(d.columns, start=1):  # widths before the first row (write-only)
            vals = [str(col)] + [_fmt_cell(v, str(col)) for v in d.iloc[:200, j - 1]]
            width = max(sum(2 if _CJK.match(ch) else 1 for ch in s) for s in vals)
            ws.column_dimensions[get_column_letter(j)].width = min(max(8, width + 2), 60)
        header = []
        for c in d.columns:
            cell = WriteOnlyCell(ws, value=str(c))
            cell.font, cell.alignment = bold, wrap
            header.append(cell)
        ws.append(header)
        for rec in d.itertuples(index=False):
            row = []
            for v in rec:
                if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                    row.append(None)
                elif isinstance(v, (np.integer,)):
                    row.append(int(v))
                elif isinstance(v, (np.floating, float)):
                    row.append(float(v))
                elif isinstance(v, (bool, np.bool_)):
                    row.append(bool(v))
                else:
                    row.append(str(v))
            ws.append(row)
    from datetime import datetime

    fixed = datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "pipeline"
    buf = _io.BytesIO()
    wb.save(buf)
    # re-zip with fixed entry dates so that the bytes depend on the content only
    src = zipfile.ZipFile(buf)
    out = _io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            data = re.sub(rb"<dcterms:modified[^>]*>[^<]*</dcterms:modified>", b'<dcterms:modified xsi:type="dcterms:W3CDTF">2000-01-01T00:00:00Z</dcterms:modified>', data) if info.filename == "docProps/core.xml" else data
            zi = zipfile.ZipInfo(info.filename, date_time=(2000, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return atomic_write(path, out.getvalue())
