"""Pandera schemas of the processed tables (SPEC §3): the contract between cleaning and analysis.

Each schema is ``strict=True, coerce=True``; :func:`validate` runs them lazily so that every
failure is reported at once, as one :class:`~pipeline.errors.PipelineError`.

Tables beyond SPEC §3 (same folder): ``adjustments`` (述职评议 verified adjustments) and
``weak_orgs`` (软弱涣散党组织 status). ``scores`` carries a ``grade`` column (好/较好/一般 for
graded items, empty otherwise) so that the grade mapping can be varied in sensitivity analysis.
"""

from __future__ import annotations

import sys
import types

import pandas as pd

# pandera turns a DataFrameModel into a schema by asking which DataFrame/Index/Series types
# exist, and for that imports ``pandera.typing.dask``, which imports ``dask.dataframe`` (and
# dask.array) whenever dask is installed — it is, for the optional cluster path (issue #14).
# That import costs 2–3 s in every process that validates a table (each notebook kernel, each
# report worker), for nothing: every schema here annotates pandas objects only. Unless a
# Dask DataFrame is already in use in this process, tell pandera that dask's DataFrame typing
# is absent. (Checked against pandera 0.35: ``pandera/typing/__init__.py``,
# ``get_dataframe_types``/``get_index_types``/``get_series_types`` read ``DASK_INSTALLED``.)
if "dask.dataframe" not in sys.modules and "pandera.typing.dask" not in sys.modules:
    _stub = types.ModuleType("pandera.typing.dask")
    _stub.DASK_INSTALLED = False
    sys.modules["pandera.typing.dask"] = _stub

import pandera.pandas as pa  # noqa: E402
from pandera.typing import Series  # noqa: E402

from pipeline import config  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402

__all__ = ["Items", "Units", "Scores", "Totals", "Adjustments", "WeakOrgs", "Given", "validate", "SCHEMAS", "CHAPTER_SCHEMAS", "validate_chapter"]

_PERIODS = ["Y"] + [str(m) for m in range(1, 13)]


class _Table(pa.DataFrameModel):
    """Common configuration of every table schema: columns coerced to their types, and no column
    beyond the declared ones (``strict``; a few chapter tables opt out with ``strict = False``)."""

    class Config:
        strict = True
        coerce = True


class Items(_Table):
    """One row per year and assessment item (考评项目一览表)."""

    year: Series[int] = pa.Field(ge=2000, le=2100)
    item_id: Series[str] = pa.Field(str_matches=r"^I\d{2}$")
    item_name: Series[str]
    category: Series[str] = pa.Field(isin=list(config.CATEGORIES))
    dimension: Series[str] = pa.Field(isin=list(config.DIMENSIONS))
    max_points: Series[float] = pa.Field(gt=0, le=100)
    method: Series[str] = pa.Field(isin=list(config.METHODS))

    class Config:
        unique = ["year", "item_id"]


class Units(_Table):
    """The unit registry (单位名录) as cleaned."""

    unit_id: Series[str] = pa.Field(unique=True, str_matches=r"^[A-Za-z0-9_]+$")
    name: Series[str]
    aliases: Series[str] = pa.Field(nullable=True)
    type: Series[str]
    sector: Series[str]
    members: Series[int] = pa.Field(ge=0)
    valid_from: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    valid_to: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    successor_id: Series[str] = pa.Field(nullable=True)



class Scores(_Table):
    """Tidy long scores: one row per year, period, unit and item."""

    year: Series[int]
    period: Series[str] = pa.Field(isin=_PERIODS)
    unit_id: Series[str]
    item_id: Series[str]
    points: Series[float] = pa.Field(nullable=True, ge=0)
    status: Series[str] = pa.Field(isin=["ok", "na", "missing"])
    grade: Series[str] = pa.Field(nullable=True)
    source: Series[str]

    class Config:
        unique = ["year", "period", "unit_id", "item_id"]


class Totals(_Table):
    """One row per year and unit (see :func:`pipeline.score.totals` for each column)."""

    year: Series[int]
    unit_id: Series[str]
    raw_total: Series[float]
    base: Series[float]
    adjustment: Series[float]
    total: Series[float]
    rank: Series[int] = pa.Field(ge=1)
    is_winner: Series[bool]
    n_na: Series[int] = pa.Field(ge=0)
    n_missing: Series[int] = pa.Field(ge=0)
    cat_ideology: Series[float]
    cat_organisation: Series[float]
    cat_conduct: Series[float]
    cat_special: Series[float]
    dim_competence: Series[float]
    dim_efficiency: Series[float]
    dim_service: Series[float]
    dim_highlights: Series[float]
    dim_results: Series[float]
    dim_image: Series[float]
    pct_of_max: Series[float]

    class Config:
        unique = ["year", "unit_id"]


class Adjustments(_Table):
    """述职评议: verified signed adjustment per unit and year, with the self-assessed total (自评分) when given."""

    year: Series[int]
    unit_id: Series[str]
    adjustment: Series[float]
    self_total: Series[float] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True)
    source: Series[str]



class WeakOrgs(_Table):
    """软弱涣散党组织: status per unit and year (整顿中 → ``rectifying``, 已整顿 → ``rectified``)."""

    year: Series[int]
    unit_id: Series[str]
    status: Series[str] = pa.Field(isin=["rectifying", "rectified"])
    source: Series[str]



class Given(_Table):
    """The workbook's own 总分 / 名次 / 备注 per unit and year (kept for comparison, never trusted)."""

    year: Series[int]
    unit_id: Series[str]
    given_total: Series[float] = pa.Field(nullable=True)
    given_rank: Series[float] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(nullable=True)
    source: Series[str]

    class Config:
        unique = ["year", "unit_id"]


SCHEMAS = {
    "items": Items,
    "units": Units,
    "scores": Scores,
    "totals": Totals,
    "adjustments": Adjustments,
    "weak_orgs": WeakOrgs,
    "given": Given,
}


def validate(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Validate (and coerce) ``df`` against the schema of ``table``; all failures at once.

    Raises
    ------
    PipelineError
        One line listing up to five failures (column, check, failing value).
    """
    model = SCHEMAS[table]
    try:
        return model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        rows = [
            f"{r.get('column')}: {r.get('check')} (value {r.get('failure_case')!r})"
            for r in fc.head(5).to_dict("records")
        ]
        raise PipelineError(
            f"processed table '{table}' fails its schema ({len(fc)} failures): " + "; ".join(rows)
        ) from None


# ---------------------------------------------------------------------------------------------
# Chapter tables (the records of notebooks/NN-*.py, read by the report and the findings rules)
# ---------------------------------------------------------------------------------------------
# The tables the report, the findings and the pages read are checked when a chapter records
# them (:class:`pipeline.notebooks.Record`); ``strict=False`` where a chapter may add columns,
# the columns listed are the ones its readers rely on.


class Distribution(_Table):
    """01-overview ``distribution`` (:func:`pipeline.overview.overview_stats`)."""

    statistic: Series[str] = pa.Field(unique=True)
    value: Series[float] = pa.Field(nullable=True)



class Structure(_Table):
    """01-overview ``structure`` (:func:`pipeline.overview.item_structure`)."""

    category: Series[str] = pa.Field(isin=list(config.CATEGORIES))
    n_items: Series[int] = pa.Field(ge=0)
    n_points: Series[int] = pa.Field(ge=0)
    n_grade: Series[int] = pa.Field(ge=0)
    points_points: Series[float] = pa.Field(ge=0)
    points_grade: Series[float] = pa.Field(ge=0)
    max_points: Series[float] = pa.Field(ge=0)
    share: Series[float] = pa.Field(ge=0, le=1)



class Profile(_Table):
    """01-overview ``profile`` (:func:`pipeline.overview.category_profile`)."""

    category: Series[str] = pa.Field(isin=list(config.CATEGORIES))
    max_points: Series[float] = pa.Field(gt=0)
    all: Series[float] = pa.Field(nullable=True)
    winners: Series[float] = pa.Field(nullable=True)
    others: Series[float] = pa.Field(nullable=True)
    gap: Series[float] = pa.Field(nullable=True)



class ItemDiscrimination(_Table):
    """02-horizontal ``h_items`` (:func:`pipeline.compare.item_discrimination`)."""

    year: Series[int]
    item_id: Series[str]
    max_points: Series[float] = pa.Field(gt=0)
    share_full: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    r_rest: Series[float] = pa.Field(ge=-1, le=1, nullable=True)
    flag: Series[str] = pa.Field(isin=["", "ceiling", "weak"])

    class Config:
        strict = False


class PeerTests(_Table):
    """02-horizontal ``h_peer_tests`` (:func:`pipeline.compare.peer_test`)."""

    by: Series[str]
    h: Series[float] = pa.Field(nullable=True)
    p: Series[float] = pa.Field(ge=0, le=1, nullable=True)
    epsilon_sq: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = False


class PeerGroups(_Table):
    """02-horizontal ``h_peer_groups`` (:func:`pipeline.compare.peer_groups`)."""

    by: Series[str]
    group: Series[str]
    n: Series[int] = pa.Field(ge=0)
    median: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = False


class Profiles(_Table):
    """02-horizontal ``h_profiles`` (:func:`pipeline.compare.profiles`): the radar and the unit pages."""

    year: Series[int]
    unit_id: Series[str]
    group: Series[str] = pa.Field(isin=["category", "dimension"])
    key: Series[str]
    points: Series[float] = pa.Field(ge=0)
    max_points: Series[float] = pa.Field(ge=0)
    pct: Series[float] = pa.Field(ge=0, nullable=True)


class ProfileMeans(_Table):
    """02-horizontal ``h_profile_means`` (:func:`pipeline.compare.profile_means`)."""

    year: Series[int]
    group: Series[str] = pa.Field(isin=["category", "dimension"])
    key: Series[str]
    mean_pct: Series[float] = pa.Field(ge=0, nullable=True)
    n_units: Series[int] = pa.Field(ge=0)


class ItemLosses(_Table):
    """02-horizontal ``h_item_losses`` (:func:`pipeline.pages.item_losses`): the unit pages."""

    unit_id: Series[str]
    item_id: Series[str]
    item_name: Series[str] = pa.Field(nullable=True)
    category: Series[str] = pa.Field(nullable=True)
    max_points: Series[float] = pa.Field(gt=0)
    status: Series[str] = pa.Field(isin=["ok", "na", "missing"])
    points: Series[float] = pa.Field(ge=0, nullable=True)
    lost: Series[float] = pa.Field(nullable=True)
    year_mean: Series[float] = pa.Field(nullable=True)
    winners_mean: Series[float] = pa.Field(nullable=True)
    vs_mean: Series[float] = pa.Field(nullable=True)
    vs_winners: Series[float] = pa.Field(nullable=True)
    is_winner: Series[bool]
    below_mean_order: Series[pd.Int64Dtype] = pa.Field(ge=1, nullable=True)
    below_winners_order: Series[pd.Int64Dtype] = pa.Field(ge=1, nullable=True)

    class Config:
        unique = ["unit_id", "item_id"]


class UnitGaps(_Table):
    """02-horizontal ``h_unit_gaps`` (:func:`pipeline.pages.gaps_to_cut`): the unit pages."""

    unit_id: Series[str] = pa.Field(unique=True)
    rank: Series[int] = pa.Field(ge=1)
    total: Series[float]
    cut: Series[float] = pa.Field(nullable=True)
    gap: Series[float] = pa.Field(nullable=True)
    is_winner: Series[bool]
    margin: Series[float] = pa.Field(nullable=True)
    needed: Series[float] = pa.Field(ge=0)
    scale: Series[float] = pa.Field(gt=0, nullable=True)
    items: Series[str] = pa.Field(str_matches=r"^[^;]*(;[^;]+)*$")
    recoverable: Series[float] = pa.Field(nullable=True)
    note: Series[str] = pa.Field(isin=["", "nc_gap_all_win", "nc_gap_unreachable", "nc_gap_no_applicable"])



class BulletinRanking(_Table):
    """02-horizontal ``h_bulletin`` (:func:`pipeline.pages.bulletin_tables` ``ranking``; plus
    one ``cat_<category>`` column per category): 横比 and 纵比 of the half-year bulletin."""

    h1_rank: Series[int] = pa.Field(ge=1)
    unit_id: Series[str] = pa.Field(unique=True)
    h1_pct: Series[float] = pa.Field(ge=0, nullable=True)
    prev_rank: Series[float] = pa.Field(ge=1, nullable=True)
    prev_pct: Series[float] = pa.Field(ge=0, nullable=True)
    rank_change: Series[float] = pa.Field(nullable=True)
    pct_change: Series[float] = pa.Field(nullable=True)
    year_rank: Series[float] = pa.Field(ge=1, nullable=True)

    class Config:
        strict = False


class BulletinCategories(_Table):
    """02-horizontal ``h_bulletin_categories`` (:func:`pipeline.pages.bulletin_tables` ``categories``)."""

    category: Series[str] = pa.Field(isin=list(config.CATEGORIES))
    mean_pct: Series[float] = pa.Field(nullable=True)
    prev_mean_pct: Series[float] = pa.Field(nullable=True)
    change: Series[float] = pa.Field(nullable=True)



class BulletinBottom(_Table):
    """02-horizontal ``h_bulletin_bottom`` (:func:`pipeline.pages.bulletin_tables` ``bottom``)."""

    h1_rank: Series[int] = pa.Field(ge=1)
    unit_id: Series[str]
    h1_pct: Series[float] = pa.Field(nullable=True)
    item_id: Series[str] = pa.Field(nullable=True)
    behind: Series[float] = pa.Field(gt=0, nullable=True)



class SystemByYear(_Table):
    """03-vertical-trend ``v_system`` (:func:`pipeline.trend.system`)."""

    year: Series[int] = pa.Field(unique=True)
    mean: Series[float]
    sd: Series[float] = pa.Field(nullable=True)
    share_ceiling: Series[float] = pa.Field(ge=0, le=1)
    cut: Series[float] = pa.Field(nullable=True)

    class Config:
        strict = False


class Persistence(_Table):
    """03-vertical-trend ``v_persistence`` (:func:`pipeline.compare.persistence`)."""

    series_id: Series[str] = pa.Field(unique=True)
    first_year: Series[int]
    last_year: Series[int]
    winner_last_year: Series[bool]
    winner_years: Series[str]

    class Config:
        strict = False


class Uncertainty(_Table):
    """04-weights ``sens_uncertainty`` (:func:`pipeline.sensitivity.uncertainty`)."""

    unit_id: Series[str] = pa.Field(unique=True)
    nominal_rank: Series[int] = pa.Field(ge=1)
    q05: Series[float]
    q95: Series[float]
    p_winner: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        strict = False


class FairnessTests(_Table):
    """04-weights ``sens_fairness_tests`` (:func:`pipeline.sensitivity.fairness`)."""

    attribute: Series[str]
    group: Series[str]
    mean_advantage: Series[float] = pa.Field(nullable=True)
    p_holm: Series[float] = pa.Field(ge=0, le=1, nullable=True)

    class Config:
        strict = False


#: Chapter table name → schema (tables not listed are recorded as they are).
CHAPTER_SCHEMAS = {
    "totals": Totals,
    "distribution": Distribution,
    "structure": Structure,
    "profile": Profile,
    "h_items": ItemDiscrimination,
    "h_peer_tests": PeerTests,
    "h_peer_groups": PeerGroups,
    "h_profiles": Profiles,
    "h_profile_means": ProfileMeans,
    "h_item_losses": ItemLosses,
    "h_unit_gaps": UnitGaps,
    "h_bulletin": BulletinRanking,
    "h_bulletin_categories": BulletinCategories,
    "h_bulletin_bottom": BulletinBottom,
    "v_system": SystemByYear,
    "v_persistence": Persistence,
    "sens_uncertainty": Uncertainty,
    "sens_fairness_tests": FairnessTests,
}


def validate_chapter(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """Validate a chapter table against :data:`CHAPTER_SCHEMAS` (if it has a schema); all
    failures at once, as one :class:`PipelineError` naming the table."""
    model = CHAPTER_SCHEMAS.get(name)
    if model is None:
        return df
    try:
        return model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases
        rows = [f"{r.get('column')}: {r.get('check')} (value {r.get('failure_case')!r})" for r in fc.head(5).to_dict("records")]
        raise PipelineError(f"chapter table '{name}' fails its schema ({len(fc)} failures): " + "; ".join(rows)) from None
