"""Shared fixtures: one synthetic world per test session, cleaned once.

``world`` writes the default sample world (the same seed as the bundled ``data/raw``) into a
temporary folder with its ground truth, and cleans it; tests read from ``world.processed``.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("MPLCONFIGDIR", str(Path(__file__).resolve().parent.parent / ".mplconfig"))


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """Default sample world: ``raw``, ``truth`` and ``processed`` folders (session-scoped)."""
    from pipeline import clean, config, synth

    root = tmp_path_factory.mktemp("world")
    ns = SimpleNamespace(raw=root / "raw", truth=root / "truth", processed=root / "processed", root=root)
    synth.write_world(ns.raw, ns.truth, seed=config.SEED, n_units=74, years=(2009, 2016))
    clean.run(ns.raw, ns.processed)
    return ns


@pytest.fixture(autouse=True)
def _chinese_by_default():
    """Every test starts in the default language (Chinese) and cannot leak another one: a test
    that sets the language with ``i18n.use(lang)`` as a plain call is reset after it."""
    from pipeline import i18n

    token = i18n._ACTIVE.set("zh")
    yield
    i18n._ACTIVE.reset(token)


@pytest.fixture
def english():
    """The test body runs with English the active language (``with i18n.use("en")``)."""
    from pipeline import i18n

    with i18n.use("en"):
        yield
