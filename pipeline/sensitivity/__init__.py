"""Weight sensitivity and fairness of the assessment ranking (SPEC §4, issue #4).

One entry point per question:

* :func:`uncertainty` — Monte Carlo rank uncertainty (per unit and system);
* :func:`sobol_indices` — generic Sobol S1/ST (Saltelli design, Jansen/Saltelli-2010
  estimators on centred outputs, bootstrap intervals); :func:`weight_sobol` — applied to the
  group weights (independent multipliers, renormalised), for the system, each unit's rank and
  its winner status; :func:`method_sobol` — the separate method-choices analysis (grade map,
  NA rule, aggregation) under the stated :data:`METHOD_PRIORS`;
* :func:`shapley_effects` — Shapley effects of dependent inputs (exact conditional sampling,
  Song, Nelson & Staum 2016); :func:`weight_shapley` — the group weights as dependent shares on
  the simplex;
* :func:`one_at_a_time`, :func:`compare_schemes` — ±x % per category, alternative schemes;
* :func:`effective_weights` — nominal vs effective weights;
* :func:`smaa` — SMAA-2 acceptability, central weights, confidence factors;
* :func:`bod` — benefit-of-the-doubt efficiency by LP;
* :func:`group_outcomes`, :func:`favouritism` — fairness by group with a permutation test;
* :func:`year_data` — the processed tables of one year as matrices.

The composite under item weights *w* is Σ_j (x_ij / max_j) · w_j with *w* renormalised to 100
(NA items prorated), plus the unit's verified adjustment; ranks are competition ranks
(higher total = rank 1, ties share the better rank), as :func:`pipeline.score.rank`.
"""

from pipeline.sensitivity._core import Composite, competition_order, fast_rank, ranks_from_order
from pipeline.sensitivity.bod import bod, bod_table
from pipeline.sensitivity.data import YearData, year_data
from pipeline.sensitivity.effective import compare_schemes, correlation_ratio, effective_weights
from pipeline.sensitivity.fairness import favouritism, group_outcomes, size_class
from pipeline.sensitivity.narrative import fairness, headline, scheme_shifts
from pipeline.sensitivity.smaa import SMAAResult, smaa
from pipeline.sensitivity.shapley import shapley_effects, weight_shapley
from pipeline.sensitivity.sobol import METHOD_PRIORS, method_sobol, saltelli_sample, sobol_analyze, sobol_indices, weight_sobol
from pipeline.sensitivity.uncertainty import histogram_quantile, system_summary, uncertainty
from pipeline.sensitivity.weights import (
    SCHEMES,
    one_at_a_time,
    pca_weights,
    sample_weights,
    scheme_weights,
    shift_summary,
)

__all__ = [
    "Composite",
    "competition_order",
    "fast_rank",
    "ranks_from_order",
    "bod",
    "bod_table",
    "YearData",
    "year_data",
    "compare_schemes",
    "correlation_ratio",
    "effective_weights",
    "favouritism",
    "fairness",
    "headline",
    "scheme_shifts",
    "group_outcomes",
    "size_class",
    "SMAAResult",
    "smaa",
    "saltelli_sample",
    "sobol_analyze",
    "sobol_indices",
    "weight_sobol",
    "method_sobol",
    "METHOD_PRIORS",
    "shapley_effects",
    "weight_shapley",
    "histogram_quantile",
    "system_summary",
    "uncertainty",
    "SCHEMES",
    "one_at_a_time",
    "pca_weights",
    "sample_weights",
    "scheme_weights",
    "shift_summary",
]
