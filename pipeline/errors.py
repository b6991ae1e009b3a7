"""The one exception type a user sees: a single clear line, never a traceback."""

from __future__ import annotations


class PipelineError(Exception):
    """A failure the user can act on; ``str(err)`` is the one line the CLI prints.

    Parameters
    ----------
    message : str
        What went wrong, naming file, sheet and cell where there is one.
    """


def where(file: object, sheet: object = None, cell: object = None) -> str:
    """Format a location as ``file!sheet!cell`` (the ``source`` column of the scores table)."""
    parts = [str(file)]
    if sheet is not None:
        parts.append(str(sheet))
    if cell is not None:
        parts.append(str(cell))
    return "!".join(parts)
