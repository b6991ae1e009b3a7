"""A proposed scheme (方案) as a YAML file: parse, then validate against the data (SPEC §8).

The file format::

    name: 差异化分层试算
    categories: {思想政治: 30, 基层组织: 30, 机关作风: 20, 单项工作: 20}   # points, sum 100
    items: {三会一课: 8}                 # an item's points, by its name in the item list
    by_sector:                           # or by_type: category points per sector (type)
      政法: {categories: {思想政治: 20, 基层组织: 40, 机关作风: 25, 单项工作: 15}}
    grade_map: {好: 1.0, 较好: 0.85, 一般: 0.7}
    na_policy: prorate
    top_n: 20                            # or tiers:
    tiers: {by: type, winners: {机关党委: 4, 党总支: 2, 直属党委: 1}}

:func:`parse` checks everything the file alone can say (syntax, keys, category names, sums of
points, grade map, NA policy); :func:`validate` checks what needs the data (item names, sector
and type values, the tier column and that no quota exceeds its tier in any year). Both raise a
one-line :class:`pipeline.errors.PipelineError` that names the file and the offending key, and
suggests the closest known name (``difflib``) for an unknown one.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd
import yaml

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["Scheme", "parse", "parse_text", "validate", "official", "category_key", "KEYS", "TIER_ATTRS"]

#: Top-level keys a scheme file may hold.
KEYS = ("name", "categories", "items", "by_sector", "by_type", "grade_map", "na_policy", "top_n", "tiers")
#: Unit attributes a tier or a differentiated weighting may use besides the units.csv columns.
TIER_ATTRS = ("type", "sector", "size")
_TOL = 1e-6


@dataclass(frozen=True)
class Scheme:
    """A validated scheme.

    Attributes
    ----------
    name : str
        Shown in the report.
    slug : str
        File-name form (the YAML file's stem), used for the default output folder.
    categories : dict or None
        Category key (``ideology`` …) → points (sum 100); None = the official maxima.
    items : dict
        Item name → fixed points.
    by : {"sector", "type"} or None
        Attribute of the differentiated (差异化) weights.
    groups : dict
        Value of ``by`` (e.g. ``政法``) → its category points.
    grade_map : dict
        Grade → share of the item maximum.
    na_policy : str
    top_n : int or None
        Winners are rank ≤ top_n (without tiers).
    tier_by : str or None
        Units column whose values are the tiers (多层级).
    quotas : dict
        Tier value → number of winners.
    source : str
        Where the scheme came from (file path), for messages.
    """

    name: str
    slug: str
    categories: dict | None = None
    items: dict = field(default_factory=dict)
    by: str | None = None
    groups: dict = field(default_factory=dict)
    grade_map: dict = field(default_factory=lambda: dict(config.GRADE_MAP))
    na_policy: str = config.NA_POLICY
    top_n: int | None = config.TOP_N
    tier_by: str | None = None
    quotas: dict = field(default_factory=dict)
    source: str = ""

    @property
    def is_official(self) -> bool:
        return (self.categories is None and not self.items and not self.groups and self.grade_map == config.GRADE_MAP
                and self.na_policy == config.NA_POLICY and self.tier_by is None and self.top_n == config.TOP_N)

    def to_yaml(self) -> str:
        """The scheme as a YAML document in the file format (Chinese category names)."""
        doc: dict = {"name": self.name}
        if self.categories is not None:
            doc["categories"] = {config.CATEGORY_ZH.get(k, k): _num(v) for k, v in self.categories.items()}
        if self.items:
            doc["items"] = {k: _num(v) for k, v in self.items.items()}
        if self.by:
            doc[f"by_{self.by}"] = {g: {"categories": {config.CATEGORY_ZH.get(k, k): _num(v) for k, v in c.items()}} for g, c in self.groups.items()}
        doc["grade_map"] = {k: _num(v) for k, v in self.grade_map.items()}
        doc["na_policy"] = self.na_policy
        if self.tier_by:
            doc["tiers"] = {"by": self.tier_by, "winners": dict(self.quotas)}
        else:
            doc["top_n"] = int(self.top_n)
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _num(v: float):
    f = float(v)
    return int(f) if f == int(f) else round(f, 4)


def official() -> Scheme:
    """The official scheme: the item list's maxima, the default grade map, prorate, top 20."""
    return Scheme(name="官方方案", slug="official")


def _closest(name: str, known) -> str:
    """`` (closest: X)`` for the best difflib match of ``name`` among ``known`` ('' if none)."""
    known = [str(k) for k in known]
    best = difflib.get_close_matches(str(name), known, n=1, cutoff=0.0)
    return f" (closest: {best[0]})" if best else ""


def category_key(name, where: str) -> str:
    """Category key (``ideology`` …) of a name as in the workbooks (思想政治) or the key itself."""
    s = re.sub(r"\s+", "", str(name))
    for key, zh in config.CATEGORY_ZH.items():
        if s in (key, zh):
            return key
    hits = [key for key, zh in config.CATEGORY_ZH.items() if zh in s]  # 思想政治建设, 思想政治类 …
    if len(hits) == 1:
        return hits[0]
    known = list(config.CATEGORY_ZH.values()) + list(config.CATEGORY_ZH)
    raise PipelineError(f"{where}: unknown category {name!r}{_closest(s, known)}")


def _points(mapping, where: str, need_all: bool) -> dict:
    """Category points: known names, non-negative numbers, every category, sum 100."""
    if not isinstance(mapping, Mapping) or not mapping:
        raise PipelineError(f"{where}: expected a mapping of category → points, e.g. {{思想政治: 30, …}}")
    out: dict = {}
    for k, v in mapping.items():
        key = category_key(k, where)
        if key in out:
            raise PipelineError(f"{where}: category {k!r} given twice")
        out[key] = _number(v, f"{where}.{k}")
    if need_all:
        missing = [config.CATEGORY_ZH[c] for c in config.CATEGORIES if c not in out]
        if missing:
            raise PipelineError(f"{where}: no points for {', '.join(missing)} (give every category; 0 is allowed)")
    total = sum(out.values())
    if abs(total - 100.0) > _TOL:
        raise PipelineError(f"{where}: points sum to {total:g}, not 100")
    return {c: out[c] for c in config.CATEGORIES if c in out}


def _number(v, where: str, lo: float = 0.0, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise PipelineError(f"{where}: expected a number, got {v!r}")
    f = float(v)
    if f != f or f < lo or (hi is not None and f > hi):
        rng = f"between {lo:g} and {hi:g}" if hi is not None else f"≥ {lo:g}"
        raise PipelineError(f"{where}: {v!r} is not {rng}")
    return f


def _positive_int(v, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise PipelineError(f"{where}: expected a positive whole number, got {v!r}")
    return int(v)


def parse_text(text: str, source: str = "<scheme>", slug: str | None = None) -> Scheme:
    """Parse and check a scheme document (see the module docstring for the checks).

    Raises
    ------
    PipelineError
        One line naming ``source`` and the key at fault (or the line of a YAML syntax error).
    """
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise PipelineError(f"{source}:{line}: YAML syntax error: {problem}") from None
    if not isinstance(doc, Mapping):
        raise PipelineError(f"{source}: a scheme file must be a YAML mapping (name:, categories:, …)")
    for k in doc:
        if k not in KEYS:
            raise PipelineError(f"{source}: unknown key {k!r}{_closest(k, KEYS)}")
    slug = slug or re.sub(r"[^\w.-]+", "_", Path(source).stem).strip("_") or "scheme"
    name = str(doc.get("name") or slug)
    cats = _points(doc["categories"], f"{source}: categories", need_all=True) if doc.get("categories") is not None else None
    items = {}
    if doc.get("items") is not None:
        if not isinstance(doc["items"], Mapping):
            raise PipelineError(f"{source}: items: expected a mapping of item name → points")
        items = {re.sub(r"\s+", "", str(k)): _number(v, f"{source}: items.{k}", 0.0, 100.0) for k, v in doc["items"].items()}
    if doc.get("by_sector") is not None and doc.get("by_type") is not None:
        raise PipelineError(f"{source}: give by_sector or by_type, not both")
    by, groups = None, {}
    for attr in ("sector", "type"):
        spec = doc.get(f"by_{attr}")
        if spec is None:
            continue
        by = attr
        if not isinstance(spec, Mapping) or not spec:
            raise PipelineError(f"{source}: by_{attr}: expected {attr} → {{categories: {{…}}}}")
        for g, sub in spec.items():
            where = f"{source}: by_{attr}.{g}"
            if not isinstance(sub, Mapping) or set(sub) != {"categories"}:
                raise PipelineError(f"{where}: expected {{categories: {{思想政治: …, …}}}}")
            groups[str(g)] = _points(sub["categories"], f"{where}.categories", need_all=True)
    gm = dict(config.GRADE_MAP)
    if doc.get("grade_map") is not None:
        if not isinstance(doc["grade_map"], Mapping):
            raise PipelineError(f"{source}: grade_map: expected {{好: 1.0, 较好: 0.8, 一般: 0.6}}")
        for g, v in doc["grade_map"].items():
            gs = re.sub(r"\s+", "", str(g))
            if gs not in config.GRADES:
                raise PipelineError(f"{source}: grade_map: unknown grade {g!r}{_closest(gs, config.GRADES)}")
            gm[gs] = _number(v, f"{source}: grade_map.{g}", 0.0, 1.0)
    na = doc.get("na_policy", config.NA_POLICY)
    if na not in config.NA_POLICIES:
        raise PipelineError(f"{source}: na_policy: unknown policy {na!r}{_closest(na, config.NA_POLICIES)}")
    tier_by, quotas, top_n = None, {}, config.TOP_N
    if doc.get("tiers") is not None:
        if doc.get("top_n") is not None:
            raise PipelineError(f"{source}: give top_n or tiers, not both")
        tiers = doc["tiers"]
        if not isinstance(tiers, Mapping) or set(tiers) != {"by", "winners"} or not isinstance(tiers["winners"], Mapping) or not tiers["winners"]:
            raise PipelineError(f"{source}: tiers: expected {{by: type, winners: {{机关党委: 4, …}}}}")
        tier_by = str(tiers["by"])
        quotas = {str(k): _positive_int(v, f"{source}: tiers.winners.{k}") for k, v in tiers["winners"].items()}
        top_n = None
    elif doc.get("top_n") is not None:
        top_n = _positive_int(doc["top_n"], f"{source}: top_n")
    return Scheme(name=name, slug=slug, categories=cats, items=items, by=by, groups=groups, grade_map=gm,
                  na_policy=na, top_n=top_n, tier_by=tier_by, quotas=quotas, source=source)


def parse(path: str | Path) -> Scheme:
    """Read and check a scheme file (:func:`parse_text`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise PipelineError(f"{p}: scheme file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise PipelineError(f"{p}: cannot read the scheme file ({type(err).__name__})") from None
    return parse_text(text, source=str(p), slug=p.stem)


def _unit_values(units: pd.DataFrame, attrs: pd.DataFrame | None, col: str) -> pd.Series:
    if attrs is not None and col in attrs:
        return attrs[col]
    return units.set_index("unit_id")[col]


def validate(scheme: Scheme, items: pd.DataFrame, units: pd.DataFrame, attrs_by_year: Mapping[int, pd.DataFrame] | None = None) -> Scheme:
    """Check a parsed scheme against the data; returns it unchanged when valid.

    Parameters
    ----------
    items : DataFrame
        The ``items`` table of the years compared (year, item_name, category, max_points).
    units : DataFrame
        The ``units`` table (unit_id, type, sector, …).
    attrs_by_year : mapping, optional
        Year → units of that year (index unit_id) with the tier column, for the quota check
        (:attr:`pipeline.sensitivity.YearData.attrs`). Without it the quota check uses all units.

    Raises
    ------
    PipelineError
        Unknown item, sector, type or tier column (with the closest name), fixed item points
        that exceed their category's points in some year, or a quota larger than its tier.
    """
    src = scheme.source or scheme.name
    names = sorted(set(items["item_name"].astype(str).str.replace(r"\s+", "", regex=True)))
    for it in scheme.items:
        if it not in names:
            raise PipelineError(f"{src}: items: unknown item {it!r}{_closest(it, names)}")
    if scheme.by:
        known = sorted(set(units[scheme.by].dropna().astype(str)))
        for g in scheme.groups:
            if g not in known:
                raise PipelineError(f"{src}: by_{scheme.by}: unknown {scheme.by} {g!r}{_closest(g, known)}")
    if scheme.items:
        it = items.assign(_name=items["item_name"].astype(str).str.replace(r"\s+", "", regex=True))
        fixed = it.loc[it["_name"].isin(list(scheme.items))]
        for (year, cat), part in fixed.groupby(["year", "category"]):
            pts = sum(scheme.items[n] for n in part["_name"])
            allowed = [scheme.categories.get(cat) if scheme.categories else None]
            allowed = [a for a in allowed if a is not None] or [float(items.loc[(items["year"] == year) & (items["category"] == cat), "max_points"].sum())]
            allowed += [g.get(cat, 0.0) for g in scheme.groups.values()]
            if pts > min(allowed) + _TOL:
                raise PipelineError(f"{src}: items: {', '.join(part['_name'])} fix {pts:g} points in {config.CATEGORY_ZH.get(cat, cat)} ({year}), "
                                    f"more than the category's {min(allowed):g}")
    if scheme.tier_by:
        cols = sorted(set(TIER_ATTRS) | (set(units.columns) - {"unit_id", "name", "aliases", "valid_from", "valid_to", "successor_id", "members"}))
        if scheme.tier_by not in cols:
            raise PipelineError(f"{src}: tiers.by: unknown unit column {scheme.tier_by!r}{_closest(scheme.tier_by, cols)}")
        frames = attrs_by_year or {0: units.set_index("unit_id")}
        known = sorted({str(v) for a in frames.values() for v in _unit_values(units, a, scheme.tier_by).dropna()})
        for tier in scheme.quotas:
            if tier not in known:
                raise PipelineError(f"{src}: tiers.winners: unknown {scheme.tier_by} {tier!r}{_closest(tier, known)}")
        for tier in known:
            if tier not in scheme.quotas:
                raise PipelineError(f"{src}: tiers.winners: no quota for {scheme.tier_by} {tier!r} (give one; every tier needs its winners)")
        for year, a in sorted(frames.items()):
            counts = _unit_values(units, a, scheme.tier_by).astype(str).value_counts()
            for tier, q in scheme.quotas.items():
                n = int(counts.get(tier, 0))
                if q > n:
                    when = f" in {year}" if year else ""
                    raise PipelineError(f"{src}: tiers.winners.{tier}: quota {q} is larger than the tier ({n} units{when})")
    return scheme
