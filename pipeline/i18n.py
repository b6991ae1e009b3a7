"""All user-facing text in one place: ``pipeline/labels/<topic>.yaml``, per language.

Each YAML file maps a key to its texts, e.g.::

    rank: {zh: 名次, en: Rank}
    finding_ceiling: {zh: "满分附近的单位占 {share:.0%}", en: "{share:.0%} of units near the ceiling"}

:func:`t` looks a key up and formats it; a key missing in the requested language raises,
so that an English report can never silently fall back to Chinese.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Mapping
from pathlib import Path

import yaml

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["t", "tp", "labels", "check_lang", "namer"]

_DIR = Path(__file__).parent / "labels"


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(_DIR.glob("*.yaml")):
        # libyaml's C loader (same safe semantics, ~7× faster than the pure-Python one)
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        for key, texts in data.items():
            if key in merged:
                raise PipelineError(f"{path.name}: label key {key!r} defined twice")
            merged[key] = texts
    return merged


def check_lang(lang: str) -> str:
    """Return ``lang`` if supported, else raise a clear error."""
    if lang not in config.LANGS:
        raise PipelineError(f"unknown lang {lang!r} (one of {', '.join(config.LANGS)})")
    return lang


def t(key: str, lang: str = "zh", **fmt) -> str:
    """Text of ``key`` in ``lang``, formatted with ``fmt``."""
    check_lang(lang)
    entry = _all().get(key)
    if entry is None or lang not in entry:
        raise KeyError(f"label {key!r} has no {lang!r} text")
    text = entry[lang]
    return text.format(**fmt) if fmt else text


def labels(lang: str = "zh") -> Mapping[str, str]:
    """Every key's text in ``lang`` (keys lacking that language are left out); read-only."""
    check_lang(lang)
    return _labels(lang)


@lru_cache(maxsize=None)
def _labels(lang: str) -> Mapping[str, str]:
    # built once per language: the report asks for it tens of thousands of times per year
    return MappingProxyType({k: v[lang] for k, v in _all().items() if lang in v})


def tp(key: str, lang: str, **fmt) -> str:
    """:func:`t` with the English agreement helpers of :func:`pipeline.findings.plurals`
    (``s_<k>``, ``v_<k>``) for every integer value."""
    from pipeline.findings import plurals

    return t(key, lang, **plurals(fmt))


def namer(lang: str, units=None, items=None):
    """A function ``name(kind, value)`` giving the display name of a code in ``lang``.

    ``kind``: ``unit`` (registered name from ``units``), ``item`` ("I07 三会一课" in Chinese,
    the English name of ``labels/items.yaml`` or "Item I07" otherwise; ``items`` indexed by
    item_id), ``sector`` / ``type`` / ``size`` / ``group`` ("<attribute>:<group>"),
    ``category``, ``check``; anything else is returned as given."""
    unit_names = units.set_index("unit_id")["name"].to_dict() if units is not None else {}

    def name(kind: str, v) -> str:
        v = str(v)
        if kind == "unit":
            return unit_names.get(v, v)
        if kind == "item":
            if items is not None and v in items.index:
                nm = str(items.loc[v, "item_name"])
                if lang == "zh":
                    return f"{v} {nm}"
                en = labels(lang).get(f"item_{nm}")
                return f"{v} {en}" if en else t("rep_item_fallback", lang, item_id=v)
            return v if lang == "zh" else t("rep_item_fallback", lang, item_id=v)
        if kind == "group" and ":" in v:  # "<attribute>:<group>", e.g. "type:机关党委"
            kind, v = v.split(":", 1)
        if kind in ("sector", "type", "size"):
            lab = labels(lang)
            return lab.get(f"{kind}_{v}", lab.get(f"sens_size_{v}", v))
        if kind == "category":
            return labels(lang).get(f"cat_{v}", v)
        if kind == "check":
            return labels(lang).get(f"int_chk_{v}", v.replace("_", " "))
        return v

    return name
