"""All user-facing text in one place: ``pipeline/labels/<topic>.yaml``, per language.

Each YAML file maps a key to its texts, e.g.::

    rank: {zh: 名次, en: Rank}
    finding_ceiling: {zh: "满分附近的单位占 {share:.0%}", en: "{share:.0%} of units near the ceiling"}

:func:`t` looks a key up and formats it; a key missing in the requested language raises,
so that an English report can never silently fall back to Chinese.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["t", "labels", "check_lang"]

_DIR = Path(__file__).parent / "labels"


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, str]]:
    merged: dict[str, dict[str, str]] = {}
    for path in sorted(_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
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


def labels(lang: str = "zh") -> dict[str, str]:
    """Every key's text in ``lang`` (keys lacking that language are left out)."""
    check_lang(lang)
    return {k: v[lang] for k, v in _all().items() if lang in v}
