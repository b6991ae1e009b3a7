"""Integrity checks against fake numbers (防止假数字, SPEC §4 "Integrity", issue #6).

One function per check. Each takes processed tables (see docs/CONTRACT.md) and returns tidy
*findings*, one row per suspicious (year, unit, item), with the columns of :data:`COLUMNS`:

``year``, ``unit_id`` (empty for a whole-year finding), ``item`` (item id or empty),
``check`` (name of the check), ``statistic`` (the test statistic or the size of the
discrepancy), ``p_value`` (NaN for deterministic checks), ``threshold`` (what the statistic
was compared with — a tolerance, a modified-z bound or the BH-adjusted level), ``severity``
(``high`` / ``medium`` / ``low``), ``evidence`` (one readable sentence in the active
language, :func:`pipeline.i18n.use`; Chinese in the stored ``integrity.csv``, from the ``int_ev_*`` templates of
``pipeline/labels/integrity.yaml``) and ``evidence_data`` (the template key and its numbers as
JSON, so that :func:`evidence_text` can re-render the sentence in another language from a stored
``integrity.csv``).

Severity rules (stated once, applied everywhere)
------------------------------------------------
* Deterministic arithmetic checks (annual vs monthly, given 总分/名次 vs recomputed): a
  discrepancy beyond rounding is **high** — honest arithmetic cannot produce it. Full marks on
  every item is deterministic but not a contradiction: **medium**.
  "Beyond rounding" means beyond the precision the workbook shows (inferred from its values:
  :func:`shown_decimals`, :func:`scoring_steps`); a difference within it is not a finding.
* Statistical checks state their null model in their docstrings; nulls come from the data
  (peer digits, Student-t fitted to all units and years — :func:`heavy_tail_fit` —, a smoothed
  bootstrap of the year's totals), never from a normal curve on a modified z. p-values are
  adjusted with Benjamini–Hochberg (``scipy.stats.false_discovery_control``; Benjamini &
  Hochberg 1995); in :func:`check_all` all unit-level tests of a year form one family. BH q <
  :data:`ALPHA_HIGH` (0.01) → **high**; q < :data:`ALPHA` (0.05) → **medium**. No shortcut
  bypasses the correction.
* Every finding is a lead for verification (需核实), not an accusation. The false-alarm rate of
  every check, measured on honest worlds of many shapes by ``benchmarks/bench_integrity.py``,
  is in ``pipeline/calibration/integrity.csv`` (:func:`false_alarm_rates`).
* **low** marks a consequence of another finding (e.g. a rank that merely follows a falsified
  total) or an incomplete record, for context only.

Robust statistics: the modified z-score ``0.6745 (x − median) / MAD`` (Iglewicz & Hoaglin,
*How to Detect and Handle Outliers*, 1993) is reported in the evidence as a size; it is not
turned into a p-value.

Modules
-------
:mod:`~pipeline.integrity.base` (columns, levels, evidence, BH), :mod:`~pipeline.integrity.digits`
(digit preference, scoring steps), :mod:`~pipeline.integrity.arithmetic` (monthly and given vs
recomputed), :mod:`~pipeline.integrity.outliers` (full marks, jumps, self-assessment gaps),
:mod:`~pipeline.integrity.bunching` (cut bunching), :mod:`~pipeline.integrity.text` (calibration,
evidence, summary, readings), :mod:`~pipeline.integrity.runner` (:func:`check_all`, :func:`run`).
"""

from __future__ import annotations

from pipeline.integrity.base import (
    ALPHA, ALPHA_HIGH, COLUMNS, MATERIALITY, MC_DRAWS, MIN_DIGITS, MODZ, MONTHLY_TOL, SEVERITIES, modified_z,
)
from pipeline.integrity.digits import (
    DIGIT_STEPS, STEPS, _digit_frame, digit_preference, digit_table, digit_test, poisson_binomial_sf,
    scoring_steps, terminal_digits, whipple,
)
from pipeline.integrity.arithmetic import given_vs_recomputed, monthly_gaps, monthly_vs_annual, shown_decimals
from pipeline.integrity.outliers import FIT_WINDOW, adjustment_gaps, full_marks, heavy_tail_fit, yoy_jumps
from pipeline.integrity.bunching import (
    BUNCH_BAND, BUNCH_DEGREE, BUNCH_DRAWS, BUNCH_RES, BUNCH_WINDOW, cut_bunching, lp_cdf_below,
)
from pipeline.integrity.text import (
    CALIBRATION, calibration_sentence, evidence_text, false_alarm_rates, headline, reading, summary,
)
from pipeline.integrity.runner import UNIT_TESTS, check_all, load_tables, run

__all__ = [
    "COLUMNS",
    "ALPHA",
    "ALPHA_HIGH",
    "MODZ",
    "terminal_digits",
    "digit_test",
    "whipple",
    "modified_z",
    "digit_table",
    "monthly_gaps",
    "monthly_vs_annual",
    "given_vs_recomputed",
    "poisson_binomial_sf",
    "digit_preference",
    "full_marks",
    "yoy_jumps",
    "adjustment_gaps",
    "cut_bunching",
    "scoring_steps",
    "shown_decimals",
    "heavy_tail_fit",
    "lp_cdf_below",
    "false_alarm_rates",
    "calibration_sentence",
    "check_all",
    "evidence_text",
    "headline",
    "reading",
    "load_tables",
    "summary",
    "run",
]
