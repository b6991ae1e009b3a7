"""What-if schemes (方案试算, SPEC §8): a proposed scheme against the official one.

* :mod:`~pipeline.scheme.spec` — parse and validate a scheme file (:func:`parse`, :func:`validate`);
* :mod:`~pipeline.scheme.compute` — item weights, totals, tiers, ranks and winners of a year;
* :mod:`~pipeline.scheme.compare` — agreement, winners in and out, rank changes, gains by group,
  the scheme's own rank uncertainty, stability over the years;
* :mod:`~pipeline.scheme.propose` — schemes proposed from the data (``effective``, ``robust``);
* :mod:`~pipeline.scheme.run` — load, evaluate every year, write ``comparison.csv`` and the report;
* :mod:`~pipeline.scheme.report` — the report (HTML, PDF, tables.xlsx), through
  :mod:`~pipeline.scheme.render`.
"""

from pipeline.scheme.compute import COLUMNS, comparison, item_weights, official_totals, scheme_totals
from pipeline.scheme.run import SchemeResult, evaluate, headline, load_tables, year_frames
from pipeline.scheme.spec import Scheme, official, parse, parse_text, validate

__all__ = [
    "COLUMNS",
    "comparison",
    "item_weights",
    "official_totals",
    "scheme_totals",
    "SchemeResult",
    "evaluate",
    "headline",
    "load_tables",
    "year_frames",
    "Scheme",
    "official",
    "parse",
    "parse_text",
    "validate",
]
