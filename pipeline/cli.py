"""Command line: ``python -m pipeline {synth,clean,check,analyze,report,all,scheme,verify,bench}``.

Every failure ends with one clear line on stderr and a non-zero exit code; ``--debug``
shows the traceback for developers.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["main", "build_parser"]


def _common(p: argparse.ArgumentParser, year: bool = True) -> None:
    if year:
        p.add_argument("--year", type=int, help="one assessment year, e.g. 2015")
    p.add_argument("--years", help="a span of years, e.g. 2009-2016 (default: all in the data)")
    p.add_argument("--raw", help=f"raw data folder (default: {config.RAW.relative_to(config.ROOT)})")
    p.add_argument("--out", help="output folder (default depends on the command)")
    p.add_argument("--params", help="YAML file of parameters (top_n, na_policy, lang, seed, …)")


def _scheduler(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask cluster: 'local' (LocalCluster on this machine) or a scheduler address, e.g. tcp://host:8786")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description="六比六看 讲绩效 — assessment-score analysis pipeline (clean → check → analyze → report).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on failure")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="write the synthetic sample world (raw workbooks + ground truth)")
    p.add_argument("--out", default=None, help="raw folder to write (default: data/raw)")
    p.add_argument("--truth", default=None, help="ground-truth folder (default: tests/fixtures/truth)")
    p.add_argument("--seed", type=int, default=config.SEED)
    p.add_argument("--units", type=int, default=74)
    p.add_argument("--years", default="2009-2016")
    p.add_argument("--monthly-years", default=None, help="years that get monthly sheets (default: all)")
    p.add_argument("--no-monthly", action="store_true", help="no monthly sheets in any year")
    p.add_argument("--items", type=int, default=None, help="items per year, round-robin over the categories (default: all 20–24)")
    p.add_argument("--lone-group", action="store_true", help="one unit alone in its sector and its type")
    g = p.add_argument_group("shape of honest scoring (pipeline.synth.Shape; defaults = the sample)")
    g.add_argument("--step", type=float, default=0.1, help="scoring step of 计分 items: 0.1, 0.5 or 1")
    g.add_argument("--total-decimals", type=int, default=2, help="decimals of the shown 总分 (名次 ranks the shown totals)")
    g.add_argument("--skew", type=float, default=0.0, help="left skew of unit quality (0 = symmetric)")
    g.add_argument("--tail-df", type=float, default=0.0, help="Student-t df of year-to-year quality changes (0 = normal)")
    g.add_argument("--self-gap", default=None, metavar="LO-HI", help="honest 自评分 optimism, uniform points, e.g. 0-6")
    g.add_argument("--na-rate", type=float, default=0.012, help="share of NA (不适用) cells")
    g.add_argument("--tie-share", type=float, default=0.0, help="share of units copying another unit's scores")
    g.add_argument("--no-plant", action="store_true", help="plant no integrity anomaly (an honest world)")
    p.add_argument("--tiers", default=None, help="province/national world (CSV): unit tiers, e.g. city,county (pipeline/synth_scale.py)")
    p.add_argument("--files-per-year", type=int, default=500, help="with --tiers: about this many files per year")

    p = sub.add_parser("clean", help="read the raw workbooks and write the processed tables")
    _common(p, year=False)
    p.add_argument("--allow-quarantine", action="store_true", help="continue without uninterpretable values")
    _scheduler(p)

    p = sub.add_parser("check", help="integrity checks against fake numbers → integrity.csv")
    _common(p, year=False)
    _scheduler(p)

    p = sub.add_parser("analyze", help="run the analysis notebooks for a year")
    _common(p)
    p.add_argument("--lang", choices=config.LANGS)
    _scheduler(p)

    p = sub.add_parser("report", help="render the report of a year (HTML + PDF + tables)")
    _common(p)
    p.add_argument("--lang", choices=config.LANGS)

    p = sub.add_parser("all", help="clean → check → analyze → report for every year, plus the multi-year study")
    _common(p, year=False)
    p.add_argument("--lang", choices=config.LANGS)
    p.add_argument("--allow-quarantine", action="store_true")
    p.add_argument("--force", action="store_true", help="recompute every step (default: reuse the steps whose inputs, parameters and code are unchanged)")
    _scheduler(p)

    p = sub.add_parser("verify", help="re-run a year from its manifest and compare every published number (SPEC §10)")
    p.add_argument("manifest", help="reports/<year>/manifest.json")
    p.add_argument("--params", help="re-run with these parameters instead of the recorded ones (differences are named)")
    p.add_argument("--lang", choices=config.LANGS, default="zh")
    p.add_argument("--keep", help="keep the re-run's outputs in this folder")

    p = sub.add_parser("scheme", help="what-if schemes (方案试算): compare proposed scheme files with the official scheme")
    p.add_argument("files", nargs="*", metavar="FILE.yaml", help="scheme files (SPEC §8)")
    p.add_argument("--years", help="a span of years, e.g. 2009-2016 (default: all in the data)")
    p.add_argument("--raw", help="raw data folder to clean first (default: the processed tables, else data/raw)")
    p.add_argument("--out", help="output folder (default: reports/schemes/<name>)")
    p.add_argument("--lang", choices=config.LANGS, default="zh")
    p.add_argument("--propose", choices=("effective", "robust"), help="write a proposed scheme from the data, with its report")
    p.add_argument("--mc", type=int, default=1000, help="Monte Carlo samples of the scheme's own rank uncertainty")
    p.add_argument("--seed", type=int, default=config.SEED)
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF")

    p = sub.add_parser("bench", help="run the benchmarks and print their results")
    p.add_argument("--only", help="run only benchmarks whose name contains this text")
    return parser


def _params(args):
    from pipeline import params as P

    over = {
        "year": getattr(args, "year", None),
        "years": getattr(args, "years", None),
        "raw": getattr(args, "raw", None),
        "lang": getattr(args, "lang", None),
        "allow_quarantine": getattr(args, "allow_quarantine", None) or None,
        "scheduler": getattr(args, "scheduler", None),
    }
    return P.load(getattr(args, "params", None), **over)


def _shape(args):
    """The synth :class:`pipeline.synth.Shape` from the ``synth`` flags."""
    from pipeline import synth
    from pipeline.errors import PipelineError

    gap = None
    if args.self_gap:
        try:
            lo, hi = (float(v) for v in args.self_gap.split("-"))
        except ValueError:
            raise PipelineError(f"--self-gap {args.self_gap!r}: expected LO-HI, e.g. 0-6") from None
        gap = (lo, hi)
    return synth.Shape(step=args.step, total_decimals=args.total_decimals, skew=args.skew, tail_df=args.tail_df,
                       self_gap=gap, na_rate=args.na_rate, tie_share=args.tie_share, plant=not args.no_plant)


def _dispatch(args) -> int:
    """Run one command in its language: the one place where the CLI sets it (``--lang``, else the
    ``lang`` of ``--params``, else Chinese); everything below reads :func:`pipeline.i18n.current`."""
    from pipeline import i18n

    if args.command == "verify":
        with i18n.use(args.lang):
            return _command(args, None)
    if args.command in ("synth", "bench", "scheme"):  # scheme: its entry sets its --lang
        with i18n.use("zh"):
            return _command(args, None)
    prm = _params(args)
    with i18n.use(prm.lang):
        return _command(args, prm)


def _command(args, prm) -> int:
    cmd = args.command
    if cmd == "synth":
        from pipeline import params as P
        from pipeline import synth

        years = P.parse_years(args.years)
        if args.tiers:
            from pipeline import synth_scale

            synth_scale.write_scale_world(Path(args.out or config.RAW), Path(args.truth) if args.truth else None, n_units=args.units,
                                          tiers=args.tiers, files_per_year=args.files_per_year, years=years, seed=args.seed)
            return 0
        monthly = P.parse_years(args.monthly_years) if args.monthly_years else None
        if args.no_monthly:
            monthly = []
        synth.write_world(
            Path(args.out or config.RAW),
            Path(args.truth or config.TRUTH),
            seed=args.seed,
            n_units=args.units,
            years=years,
            monthly_years=monthly,
            n_items=args.items,
            lone_group=args.lone_group,
            shape=_shape(args),
        )
        return 0
    if cmd == "bench":
        from pipeline import bench

        return bench.run(only=args.only)
    if cmd == "scheme":
        from pipeline.scheme.cli import main as scheme_main

        return scheme_main(args)
    if cmd == "verify":
        from pipeline import verify

        return verify.main(args.manifest, params_file=args.params, keep=args.keep)
    if prm.scheduler and cmd in ("clean", "check", "analyze", "all"):
        from pipeline import cluster

        cluster.use(prm.scheduler)  # the run's cluster: clean, the analyses and the notebook kernels use it
    if cmd == "clean":
        from pipeline import clean

        clean.run(Path(prm.raw), Path(args.out or prm.processed), years=prm.years, allow_quarantine=prm.allow_quarantine)
        return 0
    if cmd == "check":
        from pipeline import integrity

        integrity.run(Path(prm.raw), Path(args.out or prm.processed), years=prm.years, top_n=prm.top_n, seed=prm.seed)
        return 0
    if cmd == "analyze":
        from pipeline import report

        report.analyze(prm, out=Path(args.out) if args.out else None)
        return 0
    if cmd == "report":
        from pipeline import report

        report.build_year(prm, out=Path(args.out) if args.out else None)
        return 0
    if cmd == "all":
        from pipeline import report

        report.run_all(prm, out=Path(args.out) if args.out else None, force=args.force)
        return 0
    raise PipelineError(f"unknown command {cmd!r}")  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    try:
        code = _dispatch(args)
    except PipelineError as err:
        print(f"错误 error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # never a traceback for the user
        if args.debug:
            raise
        first = (str(err).strip().splitlines() or [""])[0]
        print(f"错误 error: {type(err).__name__}: {first} (rerun with --debug for details)", file=sys.stderr)
        return 1
    print(f"done: {args.command} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return code
