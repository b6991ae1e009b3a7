"""Layout of the package (issue #11): no module of ``pipeline/`` over 800 lines; translation at one boundary.

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


# ---------------------------------------------------------------------------------------------
# Translation at one boundary (issue #11, point 5): the active language is set where a run
# enters (pipeline.i18n.use); no helper takes or passes a ``lang`` argument.
# ---------------------------------------------------------------------------------------------
#: The functions of ``pipeline/i18n.py`` that legitimately take a language: its validation,
#: the ``use`` context manager and the ``lang=`` keyword that ``localized`` adds.
I18N_OWN = {("i18n.py", "check_lang"), ("i18n.py", "__init__"), ("i18n.py", "call")}
#: The documented public entry points with an optional ``lang=`` (README "For analysts",
#: ``pipeline/plots/__init__.py``): the analyst chart API, through ``@i18n.localized``.
LOCALIZED_MODULES = {"plots/compare.py", "plots/weights.py", "plots/integrity.py", "plots/overview.py"}


def _lang_threading(root: Path) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Scan the modules under ``root``: functions with a parameter named ``lang`` (outside
    :data:`I18N_OWN`), calls passing a ``lang=`` keyword, and the functions decorated with
    ``localized`` per module."""
    import ast

    params, calls, localized = [], [], {}
    for p in sorted(root.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        rel = p.relative_to(root).as_posix()
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
                name = getattr(node, "name", "<lambda>")
                if "lang" in names and (rel, name) not in I18N_OWN:
                    params.append(f"{rel}:{node.lineno} {name}")
                for d in getattr(node, "decorator_list", []):
                    if (isinstance(d, ast.Name) and d.id == "localized") or (isinstance(d, ast.Attribute) and d.attr == "localized"):
                        localized.setdefault(rel, []).append(name)
            if isinstance(node, ast.Call) and any(k.arg == "lang" for k in node.keywords):
                calls.append(f"{rel}:{node.lineno}")
    return params, calls, localized


def test_no_helper_takes_or_passes_lang():
    params, calls, localized = _lang_threading(PKG)
    assert params == [], f"set the language at the boundary (pipeline.i18n.use), not through parameters: {params}"
    assert calls == [], f"calls passing lang= inside pipeline/: {calls}"
    assert set(localized) == LOCALIZED_MODULES, localized  # only the documented analyst charts
    assert "compare_units" in localized["plots/compare.py"]  # README's example call


def test_the_lang_guard_catches_threading(tmp_path):
    # the check must be able to fail: a helper with a lang parameter, a call passing it, and a
    # lang= entry point outside the documented chart modules are each caught
    (tmp_path / "plots").mkdir()
    (tmp_path / "helper.py").write_text('def caption(name, lang="zh"):\n    return name\n\n\nx = caption("a", lang="en")\n')
    (tmp_path / "plots" / "extra.py").write_text("from pipeline.i18n import localized\n\n\n@localized\ndef chart(df):\n    return df\n")
    params, calls, localized = _lang_threading(tmp_path)
    assert params == ["helper.py:1 caption"]
    assert calls == ["helper.py:5"]
    assert localized == {"plots/extra.py": ["chart"]}
