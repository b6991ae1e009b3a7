"""Run the chapter notebooks with papermill; a failure names notebook, cell and error."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["run", "read_record", "record"]


def run(name: str, out_path: str | os.PathLike, parameters: dict[str, Any], cwd: str | os.PathLike | None = None) -> Path:
    """Execute ``notebooks/<name>`` with ``parameters`` and save the executed copy to ``out_path``.

    The executed notebook is kept even when a cell fails, for inspection; the error is
    re-raised as one line: ``notebook <name>, cell <n>: <ExceptionType>: <message>``.
    """
    import papermill as pm

    src = config.NOTEBOOKS / name
    if not src.exists():
        raise PipelineError(f"notebook {src} not found")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(src),
            str(out_path),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(cwd or config.NOTEBOOKS),
            progress_bar=False,
            log_output=False,
        )
    except pm.PapermillExecutionError as err:
        msg = str(err.evalue).strip().splitlines()
        first = msg[0] if msg else ""
        raise PipelineError(
            f"notebook {name}, cell {err.exec_count}: {err.ename}: {first} (executed copy: {out_path})"
        ) from None
    return out_path


def read_record(executed: str | os.PathLike) -> dict[str, Any]:
    """Headline numbers a notebook recorded in its last cell (``pipeline.notebooks.record``)."""
    import json

    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    for cell in reversed(nb.cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "application/json" in data and isinstance(data["application/json"], dict):
                rec = data["application/json"]
                if "headline" in rec:
                    return rec["headline"]
            text = out.get("text") or data.get("text/plain")
            if isinstance(text, str) and text.startswith("HEADLINE "):
                return json.loads(text[len("HEADLINE "):])
    return {}


def record(**headline: Any) -> None:
    """Last cell of each notebook: print the headline numbers as one machine-readable line."""
    import json

    print("HEADLINE " + json.dumps(headline, ensure_ascii=False, default=float, sort_keys=True))
