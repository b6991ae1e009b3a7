"""Horizontal (横比, within a year) and vertical (纵比, across years) comparison of units.

Every function is pure: tidy frames in (the processed ``totals``, ``scores``, ``items``,
``units`` tables of SPEC §3), a tidy frame out whose columns the docstring lists.

Definitions
-----------
* **Gini coefficient** of non-negative values: mean absolute difference over all ordered
  pairs divided by twice the mean, :math:`G = \\sum_i\\sum_j |x_i - x_j| / (2 n^2 \\bar x)`
  (computed from the sorted values as :math:`2\\sum_i i\\,x_{(i)}/(n\\sum x) - (n+1)/n`).
* **Percentile** of a unit in a year: the percentile rank
  :math:`100 (b + e/2)/n` with ``b`` units scoring below and ``e`` scoring the same (itself
  included) — ``scipy.stats.percentileofscore(kind="mean")``.
* **z-score**: (total − year mean) / year sd (ddof = 1). Item sets and maxima change between
  years, so cross-year comparison uses ``pct_of_max``, rank, percentile and z, never raw points.
* **Kruskal–Wallis H** with the tie correction (Kruskal & Wallis 1952); effect size
  :math:`\\varepsilon^2 = H/(n-1)` (Tomczak & Tomczak 2014) and
  :math:`\\eta^2_H = (H - k + 1)/(n - k)`.
* **Corrected item–total correlation**: Pearson correlation between an item (% of its max)
  and the unit's *rest score* — the prorated score on all the other applicable items — so
  that the item is not correlated with itself.
* **Cronbach's alpha** (Cronbach 1951): :math:`\\alpha = \\frac{k}{k-1}(1 - \\sum_i s_i^2 /
  s_T^2)`, units with a not-applicable item in the scale left out (listwise).
* **Quintile of a unit** in a year: ``1 + floor(5 (rank − 1) / n)`` (1 = top fifth);
  **Shorrocks mobility index** of a k × k transition matrix P (Shorrocks 1978):
  :math:`M = (k - \\operatorname{tr} P)/(k - 1)` — 0 when nobody moves, 1 when the
  destination does not depend on the origin.
* **Series** (``series_id``): the history of one organisation. A unit renamed (one
  predecessor, via ``successor_id``) continues the series of its predecessor and the first
  year under the new id is marked ``break_kind = "rename"``; a **merge** (two or more units
  with the same successor, or a unit absorbed by an existing one) is never joined: the
  predecessors' series end, the successor's row in the merge year is marked
  ``break_kind = "merge"`` and its year-over-year changes are left empty.

Modules
-------
:mod:`~pipeline.compare.horizontal` (distribution, ranking, profiles), :mod:`~pipeline.compare.peers`
(peer groups and tests), :mod:`~pipeline.compare.reliability` (item discrimination, alpha),
:mod:`~pipeline.compare.longitudinal` (series, transitions, mobility, persistence, finding units),
:mod:`~pipeline.compare.readings` (sentences of reading).
"""

from __future__ import annotations

from pipeline.compare.horizontal import describe, gini, profile_means, profiles, ranking, unit_items
from pipeline.compare.peers import kruskal, peer_groups, peer_test
from pipeline.compare.reliability import category_alpha, cronbach_alpha, item_discrimination
from pipeline.compare.longitudinal import (
    find_units, last_transition, lineage, mobility, persistence, pick_examples, shorrocks, transitions,
    vertical,
)
from pipeline.compare.readings import (
    read_breaks, read_distribution, read_heatmap, read_items, read_mobility, read_peer, read_persistence,
    read_radar, read_ranking, read_trajectories, read_transition,
)

__all__ = [
    "gini",
    "describe",
    "ranking",
    "profiles",
    "profile_means",
    "kruskal",
    "peer_groups",
    "peer_test",
    "unit_items",
    "item_discrimination",
    "cronbach_alpha",
    "category_alpha",
    "lineage",
    "vertical",
    "transitions",
    "last_transition",
    "shorrocks",
    "mobility",
    "persistence",
    "find_units",
    "pick_examples",
    "read_distribution",
    "read_ranking",
    "read_radar",
    "read_peer",
    "read_items",
    "read_heatmap",
    "read_breaks",
    "read_trajectories",
    "read_transition",
    "read_mobility",
    "read_persistence",
]
