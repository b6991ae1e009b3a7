"""Running test code in one language: the boundary of :mod:`pipeline.i18n` in tests."""

from __future__ import annotations

from pipeline import i18n


def in_lang(lang: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with ``lang`` the active language (:func:`pipeline.i18n.use`)."""
    with i18n.use(lang):
        return fn(*args, **kwargs)
