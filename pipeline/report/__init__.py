"""Reports of a run (SPEC §5): the year report, the multi-year study, the bulletin and unit pages.

Entry points (called by :mod:`pipeline.cli`):

* :func:`analyze` — run the chapter notebooks of a year (papermill, 2 worker processes); each
  chapter writes its record (``record.json`` + tables + figures, :mod:`pipeline.notebooks`)
  into ``<processed>/analysis/<year>/<chapter>/``.
* :func:`build_year` — render ``reports/<year>/``: ``report.html`` (self-contained),
  ``report.pdf`` (A4, CJK font embedded), ``tables.xlsx``, ``ranking.csv``, ``numbers.json``,
  ``figures/``, ``bulletin_H1.html``, ``units/<unit_id>.html``, ``manifest.json``.
* :func:`build_study` — the multi-year study ``reports/study_<first>-<last>/``.
* :func:`run_all` — synth (only when the default ``data/raw`` is empty) → clean → check →
  analyze + report for every year → study.

Modules, in the order of the flow:

* :mod:`~pipeline.report.data` — paths, the processed tables under the run's parameters, manifest;
* :mod:`~pipeline.report.run` — notebooks and the whole pipeline;
* :mod:`~pipeline.report.document` — the document model and display of tables in the report language;
* :mod:`~pipeline.report.chapters` — chapter records → report blocks;
* :mod:`~pipeline.report.render` — HTML, PDF (CJK font subset), tables.xlsx;
* :mod:`~pipeline.report.year`, :mod:`~pipeline.report.study`, :mod:`~pipeline.report.pages`
  — the documents.

Everything a reader sees comes from ``pipeline/labels/*.yaml`` in the report language; no
timestamps appear in the HTML (they live in ``manifest.json`` only), so two runs with the same
inputs and parameters give the same HTML, ``tables.xlsx``, ``ranking.csv`` and ``numbers.json``.
"""

from pipeline.report.data import CHAPTERS, available_years, manifest
from pipeline.report.pages import bulletin_table, write_bulletin, write_unit_pages
from pipeline.report.render import write_xlsx
from pipeline.report.run import _kernel_env, analyze, run_all  # noqa: F401  (_kernel_env: used by tests)
from pipeline.report.study import build_study
from pipeline.report.year import build_year

__all__ = [
    "CHAPTERS",
    "analyze",
    "build_year",
    "build_study",
    "run_all",
    "available_years",
    "bulletin_table",
    "write_bulletin",
    "write_unit_pages",
    "write_xlsx",
    "manifest",
]
