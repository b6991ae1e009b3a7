"""``python -m pipeline scheme``: compare scheme files, or propose one (``--propose``)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["main"]


def main(args) -> int:
    """Run the ``scheme`` subcommand from parsed arguments (see :func:`pipeline.cli.build_parser`)
    in the language of ``--lang`` (the boundary: :func:`pipeline.i18n.use`)."""
    from pipeline import i18n

    with i18n.use(args.lang):
        return _main(args)


def _main(args) -> int:
    from pipeline.params import parse_years
    from pipeline.scheme import propose as PR
    from pipeline.scheme.run import ensure_processed, load_tables, run, year_frames

    years = parse_years(args.years)
    out = Path(args.out) if args.out else None
    common = dict(years=years, n_mc=args.mc, seed=args.seed, pdf=not args.no_pdf)
    if args.mc < 0:
        raise PipelineError(f"--mc must be ≥ 0, got {args.mc}")
    if not args.propose:
        if not args.files:
            raise PipelineError("scheme: give one or more scheme files (FILE.yaml), or --propose effective|robust")
        dest = run(args.files, raw=args.raw, out=out, **common)
        print(f"scheme report: {dest}", file=sys.stderr)
        return 0
    if args.files:
        raise PipelineError("scheme --propose writes its own scheme; give no scheme files with it")
    with tempfile.TemporaryDirectory(prefix="pipeline-scheme-") as tmp:
        tables = load_tables(ensure_processed(args.raw, config.PROCESSED, tmp))
    frames = year_frames(tables, years)
    scheme = PR.propose_effective(frames) if args.propose == "effective" else PR.propose_robust(frames, seed=args.seed)
    dest = run([scheme], out=out, tables=tables, extra={f"{scheme.slug}.yaml": scheme.to_yaml()}, **common)
    print(f"proposed scheme: {dest / (scheme.slug + '.yaml')}; report: {dest}", file=sys.stderr)
    return 0
