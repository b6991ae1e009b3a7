"""Layout of the package (issue #11): no module of ``pipeline/`` over 800 lines.

A long module does several jobs; split it by responsibility into a subpackage whose
``__init__`` re-exports the public names (as ``pipeline/clean/``, ``pipeline/integrity/``,
``pipeline/synth/`` and ``pipeline/compare/`` do).
"""

from __future__ import annotations

from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "pipeline"
MAX_LINES = 800


def _too_long(root: Path, limit: int = MAX_LINES) -> dict[str, int]:
    """Modules under ``root`` (recursively) with more than ``limit`` lines, by relative path."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        with open(p, "rb") as fh:
            n = sum(1 for _ in fh)
        if n > limit:
            out[p.relative_to(root).as_posix()] = n
    return out


def test_no_module_over_800_lines():
    assert PKG.is_dir()
    assert _too_long(PKG) == {}, f"split these modules (over {MAX_LINES} lines): {_too_long(PKG)}"


@pytest.mark.parametrize("n, flagged", [(MAX_LINES, False), (MAX_LINES + 1, True)])
def test_the_check_catches_a_long_module(tmp_path, n, flagged):
    # the boundary by construction: a file of exactly 800 lines passes, 801 fail, also in a subpackage
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "long.py").write_text("x = 1\n" * n)
    (tmp_path / "short.py").write_text("y = 2\n")
    assert _too_long(tmp_path) == ({"sub/long.py": n} if flagged else {})


def test_split_modules_keep_their_import_paths():
    # the old flat modules became subpackages; what other modules import from them still resolves
    from pipeline import clean, compare, integrity, synth

    for mod in (clean, compare, integrity, synth):
        assert Path(mod.__file__).name == "__init__.py"
        missing = [n for n in mod.__all__ if not hasattr(mod, n)]
        assert missing == [], f"{mod.__name__} lost {missing}"
