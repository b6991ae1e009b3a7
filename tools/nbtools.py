"""Shared pieces of the notebook builder scripts (tools/build_nb_*.py).

The chapter notebooks are generated from these scripts so that their cells stay thin and
reviewable as Python; run a builder after editing it (``.venv/bin/python tools/build_nb_x.py``).
"""

from __future__ import annotations

from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return nbformat.v4.new_markdown_cell(text)


def code(text: str, tags: list[str] | None = None, metadata: dict | None = None) -> nbformat.NotebookNode:
    """A code cell; ``tags=["parameters"]`` marks the papermill parameters cell."""
    cell = nbformat.v4.new_code_cell(text, metadata=dict(metadata or {}))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def notebook(cells) -> nbformat.NotebookNode:
    """A notebook on the ``python3`` kernel (never a globally registered custom kernel)."""
    nb = nbformat.v4.new_notebook(cells=list(cells))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(nb: nbformat.NotebookNode, name: str) -> Path:
    """Validate and write ``notebooks/<name>``; return the path."""
    path = ROOT / "notebooks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, str(path))
    print(f"wrote {path}")
    return path
