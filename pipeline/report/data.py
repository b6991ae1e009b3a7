"""Paths, processed tables and provenance of a run: which years exist, where the chapter
records live, the processed tables, the manifest (SHA-256 of every input, parameters, versions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError


#: Chapter notebooks in report order, with the report section each one feeds.
CHAPTERS = ("01-overview", "02-horizontal", "03-vertical-trend", "04-weights", "05-integrity")


def _log(msg: str) -> None:
    print(f"[pipeline] {msg}", file=sys.stderr, flush=True)


def run_language(build):
    """Decorator for a public document build that takes the run's parameters (an argument named
    ``params`` or ``prm``): the build runs under :func:`pipeline.i18n.use` of their ``lang`` —
    the boundary where a report, study, bulletin or unit page takes its language; its helpers
    read the active language and take none."""
    import functools
    import inspect

    from pipeline import i18n

    sig = inspect.signature(build)
    name = "params" if "params" in sig.parameters else "prm"

    @functools.wraps(build)
    def call(*args, **kwargs):
        prm = sig.bind(*args, **kwargs).arguments[name]
        with i18n.use(getattr(prm, "lang", "zh")):
            return build(*args, **kwargs)

    return call


def _analysis_root(prm, out: Path | None = None) -> Path:
    """Where the chapter outputs of a run live: ``<processed>/analysis`` (Chinese, the contract's
    default) or ``<processed>/analysis_<lang>``: figures and sentences of reading are in the
    report language, so the editions never mix."""
    if out is not None:
        return Path(out)
    lang = getattr(prm, "lang", "zh")
    return Path(prm.processed) / ("analysis" if lang == "zh" else f"analysis_{lang}")


def report_dir(prm, year: int | str, out: Path | None = None) -> Path:
    """Folder of a year's documents: ``<reports>/<year>/`` for the Chinese edition (the default),
    ``<reports>/<year>/<lang>/`` for another language, so that both editions stay side by side
    with the same file names. ``year`` may be a study folder name (``study_2009-2016``)."""
    base = Path(out if out is not None else prm.reports) / str(year)
    lang = getattr(prm, "lang", "zh")
    return base if lang == "zh" else base / lang


def available_years(processed: Path) -> list[int]:
    path = Path(processed) / "items.parquet"
    if not path.exists():
        raise PipelineError(f"{path}: not found — run `python -m pipeline clean` first")
    return sorted(int(y) for y in pd.read_parquet(path, columns=["year"])["year"].unique())


def _year_of(prm) -> int:
    avail = available_years(Path(prm.processed))
    if prm.year is None:
        if prm.years is not None:
            inside = [y for y in avail if prm.years[0] <= y <= prm.years[1]]
            if inside:
                return inside[-1]
        return avail[-1]
    if prm.year not in avail:
        raise PipelineError(f"year {prm.year} is not in the data (available: {avail[0]}–{avail[-1]})")
    return int(prm.year)


def _span(prm, year: int | None = None) -> tuple[int, int]:
    avail = available_years(Path(prm.processed))
    if prm.years is not None:
        inside = [y for y in avail if prm.years[0] <= y <= prm.years[1]] or avail
        first, last = inside[0], inside[-1]
    else:
        first, last = avail[0], avail[-1]
    if year is not None:
        last = max(min(last, year), first)
    return first, last


def _read(processed: Path, name: str, required: bool = True) -> pd.DataFrame | None:
    p = Path(processed)
    if (p / f"{name}.parquet").exists():
        return pd.read_parquet(p / f"{name}.parquet")
    if (p / f"{name}.csv").exists():
        return pd.read_csv(p / f"{name}.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    if required:
        raise PipelineError(f"{p / name}.parquet: not found — run `python -m pipeline clean` first")
    return None


def _load(processed: Path) -> dict[str, pd.DataFrame | None]:
    """The parameter-free processed tables of a run (items, units, scores, adjustments, …).

    There is no ``totals`` here: totals, ranks and winners depend on the run's parameters and
    come from the overview chapter's record (table ``totals``, :func:`pipeline.score.run_totals`)."""
    d = {n: _read(processed, n) for n in ("items", "units", "scores")}
    for n in ("adjustments", "weak_orgs", "given", "cleaning_log", "quarantine"):
        d[n] = _read(processed, n, required=False)
    # no integrity.csv here: the integrity findings of a document are the integrity chapter's
    # record (run under the run's parameters on the years up to the report's year)
    return d


def manifest(prm, inputs: list[Path], timings: dict[str, float], root: Path | None = None) -> dict:
    """Reproducibility record of a run: :func:`pipeline.provenance.manifest` (input SHA-256s and
    parameters with paths relative to the project root, versions, commit, lock-file hash, timings)."""
    from pipeline import provenance

    return provenance.manifest(prm.to_dict(), inputs, timings, root)


def _input_files(prm) -> list[Path]:
    raw = Path(prm.raw)
    files = [p for p in raw.rglob("*") if p.is_file()] if raw.exists() else []
    proc = Path(prm.processed)
    files += [p for p in proc.glob("*") if p.is_file() and p.suffix in (".parquet", ".csv")]
    return files


def _n_samples(prm, unc: pd.DataFrame) -> int:
    sysd = unc.attrs.get("system") if hasattr(unc, "attrs") else None
    if isinstance(sysd, dict) and "n" in sysd:
        return int(sysd["n"])
    return int(prm.n_samples)

