"""The synthetic sample world: messy raw workbooks plus the ground truth they encode (SPEC §7).

One entry point, :func:`write_world`, writes

* ``raw_dir/units.csv`` and one folder per year holding the item list (考评项目一览表), the
  annual summary (考评汇总表), the monthly summary (月度考评汇总, sheets 1月…12月), the
  debriefing review (述职评议) and the weak-organisation list (软弱涣散党组织), as a committee
  would export them — every case of SPEC §2.1 occurs in some year;
* ``truth_dir/`` the clean tables a correct cleaner must recover (docs/CONTRACT.md):
  ``units.csv``, ``items.csv``, ``scores.csv``, ``adjustments.csv``, ``weak_orgs.csv``,
  ``given.csv``, ``totals.csv`` and ``anomalies.csv`` (the planted integrity problems).

:func:`generate` builds the same world in memory (a :class:`World`) without writing anything.

Model
-----
Unit quality follows a stationary AR(1) process over years, :math:`q_t = \\rho q_{t-1} +
\\sqrt{1-\\rho^2}\\,\\varepsilon_t` with :math:`\\rho = 0.8` (unit variance every year); a
unit's score share on item *j* is :math:`\\operatorname{logit}^{-1}(a + b q + s_{sector} + e_j +
\\eta)`, with item ease :math:`e_j` and cell noise :math:`\\eta`. Points are kept in integer
tenths (0.1 resolution), so that the annual points of a 计分 item are exactly the sum of its
12 monthly values and every float in the truth equals ``tenths / 10``. Graded (评档) items
are 好/较好/一般 from thresholds on the same latent score; their truth points are
``pipeline.score.grade_points`` (1.0/0.8/0.6 × max). Monthly values split the annual tenths
by a multinomial draw with an item-specific seasonal profile.

Given 总分 = the recomputed pre-adjustment ``base`` of :func:`pipeline.score.totals`
(defaults) rounded to 2 decimals, 名次 = its competition rank, except where a mismatch is
planted.

File kinds in a year folder are recognisable by name (项目 / 汇总 without 月度 / 月度 / 述职 /
软弱涣散); one year instead uses neutral names (附件1…) listed in ``sources.yaml`` with the
keys ``items``, ``summary``, ``monthly``, ``review`` and ``weak_orgs``.

Modules
-------
:mod:`~pipeline.synth.model` (shapes, years, registry, items, latent scores),
:mod:`~pipeline.synth.world` (:func:`generate`: planting, ground truth),
:mod:`~pipeline.synth.writers` (raw workbooks, truth files, :func:`write_world`).
"""

from __future__ import annotations

from pipeline.synth.model import ANOMALY_KINDS, DEFAULT_SHAPE, MONTHS, RHO, Shape, World, Year, _NA, _OK, _registry
from pipeline.synth.world import generate
from pipeline.synth.writers import (
    STYLES, TIDY, _Namer, _items_rows, _num, _review_rows, _summary_rows, _unit_names, _weak_rows,
    _write_csv_rows, write_raw, write_truth, write_world,
)

__all__ = ["write_world", "generate", "write_raw", "write_truth", "World", "Shape", "ANOMALY_KINDS"]
