"""Load the processed tables, evaluate schemes over the years, write comparison.csv and the report.

:func:`evaluate` is pure (tables in, a :class:`SchemeResult` out); :func:`run` is the
``python -m pipeline scheme`` command: it validates every scheme file against the data before
anything is written, so a bad file leaves no output behind.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.score import TIE_DECIMALS
from pipeline.scheme import compare as C
from pipeline.scheme.compute import COLUMNS, comparison, official_totals
from pipeline.scheme.spec import Scheme, parse, validate
from pipeline.sensitivity.data import YearData, year_data

__all__ = ["SchemeResult", "load_tables", "year_frames", "evaluate", "headline", "run", "default_out", "year_rows", "write_comparisons"]


@dataclass
class SchemeResult:
    """Everything the report of one scheme shows (DataFrames as documented in :mod:`compare`)."""

    scheme: Scheme
    comparison: pd.DataFrame
    stability: pd.DataFrame
    moves: pd.DataFrame
    changes: pd.DataFrame
    groups: pd.DataFrame
    group_winners: pd.DataFrame
    mc_units: pd.DataFrame
    mc_system: pd.DataFrame
    persistence: pd.DataFrame
    params: dict = field(default_factory=dict)
    official_points: dict = field(default_factory=dict)

    @property
    def last_year(self) -> int:
        return int(self.comparison["year"].max())


def load_tables(processed: str | Path) -> dict[str, pd.DataFrame]:
    """The processed tables a scheme needs: items, scores, units and (if present) adjustments."""
    from pipeline.io import read_table

    p = Path(processed)
    out = {n: read_table(p, n) for n in ("items", "scores", "units")}
    if (p / "adjustments.parquet").exists():
        out["adjustments"] = read_table(p, "adjustments")
    return out


def ensure_processed(raw: str | Path | None, processed: str | Path, tmp: str | Path) -> Path:
    """The processed folder to read: ``processed`` when it holds the tables and no ``raw`` was
    named; else the raw folder (``raw`` or the default) cleaned into ``tmp``."""
    p = Path(processed)
    if raw is None and (p / "items.parquet").exists():
        return p
    from pipeline import clean

    src = Path(raw) if raw is not None else config.RAW
    if not src.exists():
        raise PipelineError(f"{src}: raw folder not found (and no processed tables in {p})")
    clean.run(src, Path(tmp), progress=False)
    return Path(tmp)


def year_frames(tables: Mapping[str, pd.DataFrame], years: tuple[int, int] | None = None) -> dict[int, YearData]:
    """One :class:`~pipeline.sensitivity.YearData` per year in the data (within ``years``)."""
    avail = sorted(int(y) for y in tables["items"]["year"].unique())
    yrs = [y for y in avail if years is None or years[0] <= y <= years[1]]
    if not yrs:
        raise PipelineError(f"no year of {years[0]}–{years[1]} is in the data (available: {avail[0]}–{avail[-1]})")
    return {y: year_data(tables, y) for y in yrs}


def evaluate(tables: Mapping[str, pd.DataFrame], scheme: Scheme, frames: Mapping[int, YearData] | None = None,
             n_mc: int = 1000, kappa: float = 200.0, n_perm: int = 999, seed: int = config.SEED) -> SchemeResult:
    """Compare ``scheme`` with the official scheme in every year of ``frames``.

    Parameters
    ----------
    tables : mapping
        Processed tables (items, scores, units, adjustments).
    frames : mapping year → YearData, optional
        Default: every year of the data.
    n_mc, kappa : int, float
        Monte Carlo samples and Dirichlet concentration of the scheme's rank uncertainty.
    n_perm : int
        Permutations of the group test.
    seed : int
        Seeds the Monte Carlo and the permutations (same seed → same numbers).
    """
    frames = frames or year_frames(tables)
    units = tables["units"]
    validate(scheme, tables["items"].loc[tables["items"]["year"].isin(list(frames))], units, {y: f.attrs for y, f in frames.items()})
    comps, effects, winners, mcu, mcs = [], [], [], [], []
    for y, yd in frames.items():
        comp = comparison(yd, official_totals(tables, y), scheme, units)
        comps.append(comp)
        effects.append(C.group_effects(comp, n_perm=n_perm, seed=seed))
        winners.append(C.group_winners(comp))
        if n_mc:
            u, s = C.scheme_uncertainty(yd, scheme, n=n_mc, seed=seed, kappa=kappa, units=units)
            mcu.append(u)
            mcs.append(s)
    allc = pd.concat(comps, ignore_index=True)
    yl = frames[max(frames)]
    official_points = {c: float(yl.maxima[yl.categories == c].sum()) for c in config.CATEGORIES}
    last = allc.loc[allc["year"] == allc["year"].max()]
    return SchemeResult(
        scheme=scheme,
        comparison=allc,
        stability=C.stability(allc),
        moves=C.winner_moves(allc),
        changes=C.rank_changes(last),
        groups=pd.concat(effects, ignore_index=True),
        group_winners=pd.concat(winners, ignore_index=True),
        mc_units=pd.concat(mcu, ignore_index=True) if mcu else pd.DataFrame(),
        mc_system=pd.concat(mcs, ignore_index=True) if mcs else pd.DataFrame(),
        persistence=C.persistence(allc),
        params={"n_mc": n_mc, "kappa": kappa, "n_perm": n_perm, "seed": seed},
        official_points=official_points,
    )


def headline(res: SchemeResult) -> dict:
    """The numbers the report's summary cites (one record per scheme)."""
    st = res.stability
    last = st.loc[st["year"] == st["year"].max()].iloc[0]
    out = {
        "scheme": res.scheme.name,
        "first_year": int(st["year"].min()),
        "last_year": int(last["year"]),
        "kendall_tau_last": round(float(last["kendall_tau"]), 4),
        "spearman_rho_last": round(float(last["spearman_rho"]), 4),
        "jaccard_last": round(float(last["jaccard"]), 4),
        "n_in_last": int(last["n_in"]),
        "n_out_last": int(last["n_out"]),
        "kendall_tau_mean": round(float(st["kendall_tau"].mean()), 4),
        "jaccard_mean": round(float(st["jaccard"].mean()), 4),
        "n_in_total": int(st["n_in"].sum()),
        "years_changed": int((st["n_in"] + st["n_out"] > 0).sum()),
        "n_years": int(len(st)),
    }
    if len(res.mc_system):
        m = res.mc_system.loc[res.mc_system["year"] == out["last_year"]]
        w = m["n_units"] / m["n_units"].sum()
        out["mc_jaccard_last"] = round(float((m["jaccard_mean"] * w).sum()), 4)
    return out


def year_rows(res: SchemeResult, year: int | None = None) -> pd.DataFrame:
    """The comparison rows of ``year`` (default: the last year compared)."""
    yrs = sorted(int(y) for y in res.comparison["year"].unique())
    y = yrs[-1] if year is None else int(year)
    if y not in yrs:
        raise PipelineError(f"year {y} was not compared (years: {yrs[0]}–{yrs[-1]})")
    return res.comparison.loc[res.comparison["year"] == y].reset_index(drop=True)


def default_out(schemes: Sequence[Scheme]) -> Path:
    """``reports/schemes/<slug>`` (several schemes: the slugs joined by ``+``)."""
    return config.REPORTS / "schemes" / "+".join(s.slug for s in schemes)


def write_comparisons(res: SchemeResult, folder: Path) -> list[Path]:
    """``<folder>/<year>/comparison.csv`` for every year (columns :data:`COLUMNS`)."""
    from pipeline.io import write_csv

    paths = []
    for y, g in res.comparison.groupby("year", sort=True):
        d = folder / str(int(y))
        d.mkdir(parents=True, exist_ok=True)
        rows = g[COLUMNS].reset_index(drop=True)
        rows[["official_total", "scheme_total"]] = rows[["official_total", "scheme_total"]].round(TIE_DECIMALS)
        paths.append(write_csv(rows, d / "comparison.csv"))
    return paths


def run(files: Sequence[str | Path] | Sequence[Scheme], raw: str | Path | None = None, processed: str | Path | None = None,
        out: str | Path | None = None, years: tuple[int, int] | None = None, n_mc: int = 1000,
        kappa: float = 200.0, n_perm: int = 999, seed: int = config.SEED, pdf: bool = True,
        tables: Mapping[str, pd.DataFrame] | None = None, extra: Mapping[str, str] | None = None) -> Path:
    """``python -m pipeline scheme FILE.yaml [FILE2.yaml …]`` (SPEC §8).

    Every file is parsed and validated against the data first; only then are
    ``<out>/<year>/comparison.csv`` (several schemes: ``<out>/<slug>/<year>/comparison.csv``),
    ``report.html``, ``report.pdf``, ``tables.xlsx`` and ``numbers.json`` written.

    ``tables`` (processed tables already loaded) skips reading ``processed``/``raw``; ``extra``
    maps file names to texts written beside the report (e.g. a proposed scheme's YAML).

    Returns
    -------
    Path
        The output folder.
    """
    from pipeline.scheme.report import render

    schemes = [f if isinstance(f, Scheme) else parse(f) for f in files]
    if not schemes:
        raise PipelineError("scheme: give at least one scheme file")
    slugs = [s.slug for s in schemes]
    if len(set(slugs)) != len(slugs):
        raise PipelineError(f"scheme: two scheme files share the name {next(s for s in slugs if slugs.count(s) > 1)!r}")
    if tables is None:
        with tempfile.TemporaryDirectory(prefix="pipeline-scheme-") as tmp:
            tables = load_tables(ensure_processed(raw, processed if processed is not None else config.PROCESSED, tmp))
    frames = year_frames(tables, years)
    items = tables["items"].loc[tables["items"]["year"].isin(list(frames))]
    for s in schemes:  # every file checked before anything is written
        validate(s, items, tables["units"], {y: f.attrs for y, f in frames.items()})
    results = [evaluate(tables, s, frames, n_mc=n_mc, kappa=kappa, n_perm=n_perm, seed=seed) for s in schemes]
    dest = Path(out) if out is not None else default_out(schemes)
    dest.mkdir(parents=True, exist_ok=True)
    for res in results:
        write_comparisons(res, dest if len(results) == 1 else dest / res.scheme.slug)
    numbers = {r.scheme.slug: headline(r) for r in results}
    from pipeline.io import atomic_write

    for fname, text in (extra or {}).items():
        atomic_write(dest / fname, text)
    atomic_write(dest / "numbers.json", json.dumps(numbers, ensure_ascii=False, indent=1, sort_keys=True))
    render(results, dest, pdf=pdf)
    return dest
