"""Provenance of a run: file hashes, portable paths, package versions, commit, lock file (issue #12).

One place computes each piece of the reproducibility record, so that the run that writes
``manifest.json`` (:func:`manifest`) and the reviewer's check (:mod:`pipeline.verify`) agree:

* :func:`sha256` — SHA-256 of a file's bytes (FIPS 180-4), streamed in 1 MiB chunks.
* :func:`relpath` — a path as written in the manifest: relative to the project root
  (``config.ROOT``), POSIX separators, never an absolute machine path.
* :func:`versions` — Python and the versions of the packages the analysis uses.
* :func:`git_commit` — the code commit (``git rev-parse HEAD``) or ``"unknown"``.
* :func:`lock_hash` — SHA-256 of the lock file(s) the environment was installed from.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from pipeline import config

__all__ = ["sha256", "relpath", "resolve", "versions", "git_commit", "lock_files", "lock_hash", "portable_params", "manifest", "PACKAGES", "PATH_PARAMS"]

#: Packages whose versions the manifest records (the analysis and rendering stack).
PACKAGES = ("pipeline", "numpy", "pandas", "scipy", "matplotlib", "papermill", "nbformat", "openpyxl", "pyarrow",
            "jinja2", "weasyprint", "mplfonts", "python-calamine", "pandera")
#: Parameters that are folders; the manifest holds them relative to the project root.
PATH_PARAMS = ("raw", "processed", "reports")
#: Lock files, relative to the project root (see README, "Reproducibility").
LOCK_FILES = ("requirements.lock", "requirements-dev.lock")


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def relpath(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str:
    """``path`` relative to ``root`` (default: the project root), with ``/`` separators.

    A path outside the root is written relative too (``../elsewhere/raw``), so that the
    manifest never holds the machine-specific absolute location of the project. Symbolic
    links are not resolved (the re-run of :mod:`pipeline.verify` links the raw folder into
    its mirror of the project).
    """
    base = os.path.abspath(root if root is not None else config.ROOT)
    rel = Path(os.path.relpath(os.path.abspath(path), base))  # abspath, not resolve: a linked folder keeps its place
    return rel.as_posix() or "."


def resolve(rel: str, root: str | os.PathLike | None = None) -> Path:
    """The path a manifest entry names, under ``root`` (default: the project root)."""
    p = Path(rel)
    return p if p.is_absolute() else Path(root if root is not None else config.ROOT) / p


def portable_params(params: dict[str, Any], root: str | os.PathLike | None = None) -> dict[str, Any]:
    """``params`` with the folder parameters (:data:`PATH_PARAMS`) relative to the project root."""
    out = dict(params)
    for k in PATH_PARAMS:
        if out.get(k) is not None:
            out[k] = relpath(out[k], root)
    return out


def versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """``{"python": "3.11.9", package: version or "not installed"}``."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_commit(root: str | os.PathLike | None = None) -> str:
    """The commit of the code (``git rev-parse HEAD`` in the project root) or ``"unknown"``."""
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root or config.ROOT, capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def lock_files(root: str | os.PathLike | None = None) -> list[Path]:
    """The lock files present in the project root."""
    base = Path(root if root is not None else config.ROOT)
    return [base / f for f in LOCK_FILES if (base / f).is_file()]


def lock_hash(root: str | os.PathLike | None = None) -> dict[str, str]:
    """``{lock file (relative): sha256}`` of the lock files the environment is installed from."""
    return {relpath(p, root): sha256(p) for p in lock_files(root)}


def manifest(params: dict[str, Any], inputs: Iterable[str | os.PathLike], timings: dict[str, float], root: str | os.PathLike | None = None) -> dict:
    """Reproducibility record of a run (``manifest.json``; SPEC §5, §10).

    Parameters
    ----------
    params : dict
        The run's parameters (:meth:`pipeline.params.Params.to_dict`).
    inputs : iterable of path
        The input files (raw workbooks, processed tables).
    timings : dict
        Step → seconds.
    root : path, optional
        Project root the paths are relative to (default ``config.ROOT``).

    Returns
    -------
    dict
        ``created_utc`` (the only timestamp of a run), ``parameters`` (folders relative to the
        root), ``inputs`` (``{path, sha256, bytes}`` sorted by path, paths relative to the
        root), ``versions``, ``git_commit``, ``lock`` (lock file → SHA-256),
        ``wall_time_s`` (step → seconds).
    """
    files = []
    for p in sorted(set(Path(os.path.abspath(x)) for x in inputs)):
        if p.is_file():
            files.append({"path": relpath(p, root), "sha256": sha256(p), "bytes": p.stat().st_size})
    files.sort(key=lambda f: f["path"])
    return {
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": portable_params(params, root),
        "inputs": files,
        "versions": versions(),
        "git_commit": git_commit(root),
        "lock": lock_hash(root),
        "wall_time_s": {k: round(float(v), 3) for k, v in timings.items()},
    }
