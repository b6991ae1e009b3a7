"""All user-facing text in one place: ``pipeline/labels/<topic>.yaml``, per language.

Each YAML file maps a key to its texts, e.g.::

    rank: {zh: 名次, en: Rank}
    finding_ceiling: {zh: "满分附近的单位占 {share:.0%}", en: "{share:.0%} of units near the ceiling"}

:func:`t` looks a key up in the **active language** and formats it; a key missing in that
language raises, so that an English report can never silently fall back to Chinese.

Translation happens at one boundary
-----------------------------------
The active language is a :class:`contextvars.ContextVar` (default ``"zh"``), the pattern of
Django's ``translation.override`` and Babel's ``force_locale``. It is set once where a run
enters the package — the CLI commands, a report or study build (from its ``Params.lang``), each
chapter notebook (``i18n.use(lang)`` right after its parameters cell), ``verify``, the bench —
with :func:`use`::

    with i18n.use("en"):           # for the block; restored on exit, nests
        html = build_year(prm)
    i18n.use(lang)                 # plain setter, e.g. in a notebook after its parameters

Helpers never take or pass a ``lang`` argument; they call :func:`t`, :func:`tp`,
:func:`labels`, :func:`namer` or read :func:`current`. Public entry points an analyst calls
from Python (the charts of :mod:`pipeline.plots`) accept an optional ``lang=`` keyword through
:func:`localized`, which wraps the call in :func:`use`. A new thread starts in the default
language (``contextvars`` are per thread), so a thread or process worker sets the language of
its job itself.
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from functools import lru_cache
from types import MappingProxyType
from typing import Callable, Mapping, TypeVar
from pathlib import Path

import yaml

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["t", "tp", "labels", "check_lang", "namer", "use", "current", "localized"]

_DIR = Path(__file__).parent / "labels"

#: The active language of this context (thread / task); ``"zh"`` unless :func:`use` set another.
_ACTIVE: ContextVar[str] = ContextVar("pipeline_i18n_lang", default="zh")

F = TypeVar("F", bound=Callable)


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


def current() -> str:
    """The active language (``"zh"`` unless :func:`use` set another in this context)."""
    return _ACTIVE.get()


class use:
    """Make ``lang`` the active language.

    As a context manager (``with use("en"): …``) for the block only: the previous language is
    restored on exit, also after an exception, and blocks nest. As a plain call (``use(lang)``)
    from then on in the current context, e.g. in a notebook right after its parameters cell.
    An unsupported language raises one :class:`~pipeline.errors.PipelineError` before anything
    changes.
    """

    __slots__ = ("lang", "_token")

    def __init__(self, lang: str):
        self.lang = check_lang(lang)
        self._token = _ACTIVE.set(self.lang)

    def __enter__(self) -> str:
        return self.lang

    def __exit__(self, *exc) -> bool:
        _ACTIVE.reset(self._token)
        return False


def localized(func: F) -> F:
    """Decorator for a public entry point: the call accepts an optional ``lang=`` keyword and,
    when it is given, runs under :func:`use` (``None``: the active language). Only functions
    documented for users (the analyst chart API) carry it; internal helpers read the active
    language and take no ``lang`` (``tests/test_layout.py`` checks this)."""

    @functools.wraps(func)
    def call(*args, lang: str | None = None, **kwargs):
        if lang is None:
            return func(*args, **kwargs)
        with use(lang):
            return func(*args, **kwargs)

    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    extra = [p for p in sig.parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    call.__signature__ = sig.replace(parameters=params + [inspect.Parameter("lang", inspect.Parameter.KEYWORD_ONLY, default=None)] + extra)
    call.__localized__ = True
    return call  # type: ignore[return-value]


def t(key: str, **fmt) -> str:
    """Text of ``key`` in the active language, formatted with ``fmt``."""
    lang = _ACTIVE.get()
    entry = _all().get(key)
    if entry is None or lang not in entry:
        raise KeyError(f"label {key!r} has no {lang!r} text")
    text = entry[lang]
    return text.format(**fmt) if fmt else text


def labels() -> Mapping[str, str]:
    """Every key's text in the active language (keys lacking it are left out); read-only."""
    return _labels(_ACTIVE.get())


@lru_cache(maxsize=None)
def _labels(code: str) -> Mapping[str, str]:
    # built once per language: the report asks for it tens of thousands of times per year
    return MappingProxyType({k: v[code] for k, v in _all().items() if code in v})


def tp(key: str, **fmt) -> str:
    """:func:`t` with the English agreement helpers of :func:`pipeline.findings.plurals`
    (``s_<k>``, ``v_<k>``) for every integer value."""
    from pipeline.findings import plurals

    return t(key, **plurals(fmt))


def namer(units=None, items=None):
    """A function ``name(kind, value)`` giving the display name of a code in the language
    active when it is called.

    ``kind``: ``unit`` (registered name from ``units``), ``item`` ("I07 三会一课" in Chinese,
    the English name of ``labels/items.yaml`` or "Item I07" otherwise; ``items`` indexed by
    item_id), ``sector`` / ``type`` / ``size`` / ``group`` ("<attribute>:<group>"),
    ``category``, ``check``; anything else is returned as given."""
    unit_names = units.set_index("unit_id")["name"].to_dict() if units is not None else {}

    def name(kind: str, v) -> str:
        v = str(v)
        lang, lab = current(), labels()
        if kind == "unit":
            return unit_names.get(v, v)
        if kind == "item":
            if items is not None and v in items.index:
                nm = str(items.loc[v, "item_name"])
                if lang == "zh":
                    return f"{v} {nm}"
                en = lab.get(f"item_{nm}")
                return f"{v} {en}" if en else t("rep_item_fallback", item_id=v)
            return v if lang == "zh" else t("rep_item_fallback", item_id=v)
        if kind == "group" and ":" in v:  # "<attribute>:<group>", e.g. "type:机关党委"
            kind, v = v.split(":", 1)
        if kind in ("sector", "type", "size"):
            return lab.get(f"{kind}_{v}", lab.get(f"sens_size_{v}", v))
        if kind == "category":
            return lab.get(f"cat_{v}", v)
        if kind == "check":
            return lab.get(f"int_chk_{v}", v.replace("_", " "))
        return v

    return name
