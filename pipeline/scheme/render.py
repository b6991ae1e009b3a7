"""The one door from :mod:`pipeline.scheme` to the report engine.

Everything the scheme report borrows from the shared renderer (template rendering with the house
CSS, the embedded CJK font subset, the PDF writer, the workbook writer, HTML tables) is
imported here and nowhere else in the package, so that moving the engine (``pipeline/report.py``
→ ``pipeline/report/``) changes one file.
"""

from __future__ import annotations

from pipeline.report.render import _embed_font as embed_font  # noqa: F401
from pipeline.report.render import _font_chars as font_chars  # noqa: F401
from pipeline.report.render import _subset_font as subset_font  # noqa: F401
from pipeline.report.render import _render as render_template  # noqa: F401
from pipeline.report.document import _table_html as table_html  # noqa: F401
from pipeline.report.render import _write_pdf as write_pdf  # noqa: F401
from pipeline.report.render import write_xlsx  # noqa: F401

__all__ = ["embed_font", "font_chars", "subset_font", "render_template", "table_html", "write_pdf", "write_xlsx"]
