"""Run parameters: one validated record shared by the CLI, the notebooks and the report.

Parameters come from defaults, then an optional YAML file (``--params FILE.yaml``), then
command-line flags. :func:`validate` checks every value at the entry, so that a bad year,
``top_n``, language or weight bound stops the run with one clear line before any work.
Papermill receives only these validated literals (numbers, short strings, lists), so a
parameter value can never inject code into a notebook.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["Params", "parse_years", "load", "validate"]

_SCHEMES = ("dirichlet", "uniform", "simplex")


@dataclass
class Params:
    """Every tunable of a run (defaults: the scheme of SPEC §0)."""

    year: int | None = None
    years: tuple[int, int] | None = None
    top_n: int = config.TOP_N
    na_policy: str = config.NA_POLICY
    grade_map: dict = field(default_factory=lambda: dict(config.GRADE_MAP))
    lang: str = "zh"
    seed: int = config.SEED
    scheme: str = "dirichlet"
    n_samples: int = 20000
    kappa: float = 200.0
    p: float = 0.2
    n_sobol: int = 1024
    raw: str = str(config.RAW)
    processed: str = str(config.PROCESSED)
    reports: str = str(config.REPORTS)
    allow_quarantine: bool = False
    scheduler: str | None = None  # Dask: None = this machine, "local" = LocalCluster, else an address (SPEC §9)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["years"] is not None:
            d["years"] = list(d["years"])
        return d


def parse_years(text: str | int | tuple | list | None) -> tuple[int, int] | None:
    """``"2009-2016"`` → ``(2009, 2016)``; ``2015`` → ``(2015, 2015)``."""
    if text is None or text == "":
        return None
    if isinstance(text, (tuple, list)):
        if len(text) != 2:
            raise PipelineError(f"years must be FIRST-LAST, got {text!r}")
        a, b = int(text[0]), int(text[1])
    elif isinstance(text, int):
        a = b = text
    else:
        m = re.fullmatch(r"\s*(\d{4})\s*(?:[-–~:]\s*(\d{4}))?\s*", str(text))
        if not m:
            raise PipelineError(f"years must look like 2009-2016, got {text!r}")
        a = int(m.group(1))
        b = int(m.group(2) or a)
    if a > b:
        raise PipelineError(f"years {a}-{b}: the first year is after the last")
    return (a, b)


def validate(p: Params, available_years: list[int] | None = None) -> Params:
    """Check every value; raise :class:`PipelineError` naming the first bad one."""
    if isinstance(p.years, (str, int, list)):
        p.years = parse_years(p.years)
    if p.year is not None:
        try:
            p.year = int(p.year)
        except (TypeError, ValueError):
            raise PipelineError(f"year must be a number, got {p.year!r}") from None
    if available_years is not None:
        avail = sorted(int(y) for y in available_years)
        if not avail:
            raise PipelineError("no years in the data — run `python -m pipeline clean` first")
        if p.year is not None and p.year not in avail:
            raise PipelineError(f"year {p.year} is not in the data (available: {avail[0]}–{avail[-1]})")
        if p.years is not None and not any(p.years[0] <= y <= p.years[1] for y in avail):
            raise PipelineError(f"years {p.years[0]}-{p.years[1]} are not in the data (available: {avail[0]}–{avail[-1]})")
    if not isinstance(p.top_n, int) or isinstance(p.top_n, bool) or p.top_n < 1:
        raise PipelineError(f"top_n must be a positive integer, got {p.top_n!r}")
    if p.na_policy not in config.NA_POLICIES:
        raise PipelineError(f"na_policy must be one of {', '.join(config.NA_POLICIES)}, got {p.na_policy!r}")
    if p.lang not in config.LANGS:
        raise PipelineError(f"lang must be one of {', '.join(config.LANGS)}, got {p.lang!r}")
    if set(p.grade_map) != set(config.GRADES) or not all(
        isinstance(v, (int, float)) and 0 <= v <= 1 for v in p.grade_map.values()
    ):
        raise PipelineError(f"grade_map must give 好/较好/一般 a share in [0, 1], got {p.grade_map!r}")
    if p.scheme not in _SCHEMES:
        raise PipelineError(f"scheme must be one of {', '.join(_SCHEMES)}, got {p.scheme!r}")
    for name, lo in (("n_samples", 1), ("n_sobol", 2), ("seed", 0)):
        v = getattr(p, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise PipelineError(f"{name} must be an integer ≥ {lo}, got {v!r}")
    if not (isinstance(p.kappa, (int, float)) and p.kappa > 0):
        raise PipelineError(f"kappa must be > 0, got {p.kappa!r}")
    if not (isinstance(p.p, (int, float)) and 0 < p.p < 1):
        raise PipelineError(f"p must be in (0, 1), got {p.p!r}")
    if p.scheduler is not None and (not isinstance(p.scheduler, str) or not p.scheduler.strip() or any(c.isspace() for c in p.scheduler.strip())):
        raise PipelineError(f"scheduler must be 'local' or a Dask scheduler address like tcp://host:8786, got {p.scheduler!r}")
    return p


def load(path: str | Path | None = None, **overrides: Any) -> Params:
    """Defaults ← YAML file ← overrides (``None`` overrides are ignored); validated."""
    values: dict[str, Any] = {}
    if path:
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise PipelineError(f"{path}: cannot read parameters ({type(err).__name__}: {err})".splitlines()[0]) from None
        if not isinstance(values, dict):
            raise PipelineError(f"{path}: parameters must be a mapping of name: value")
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(Params)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise PipelineError(f"unknown parameter(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if "years" in values:
        values["years"] = parse_years(values["years"])
    return validate(Params(**values))
