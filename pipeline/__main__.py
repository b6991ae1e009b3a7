"""``python -m pipeline``: the command-line interface (see :mod:`pipeline.cli`)."""

from pipeline.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
