"""Chapter notebooks: run them with papermill, and the chapter record they write.

A chapter notebook computes each of its numbers once, with :mod:`pipeline` functions, and
records what it computed through one object, :class:`Record` (``rec = notebooks.record(out_dir,
"01-overview", …)``): tables (``rec.table``, parquet, checked against the chapter schema of
:mod:`pipeline.schemas`), figures (``rec.figure``, PNG + SVG), sentences of reading
(``rec.reading``) and headline numbers (``rec.headline``). Everything lands beside the chapter's
outputs::

    <out_dir>/record.json      chapter, parameters, items in notebook order, headline numbers
    <out_dir>/tables/<name>.parquet
    <out_dir>/figures/<name>.png|.svg

The report, the findings rules, the bulletin and the unit pages read records only
(:func:`read_record`); a missing record is an error naming the command that writes it, never
a silent recomputation.

Why an own record module and not scrapbook: scrapbook (the papermill team's recording library)
stores values inside the executed notebook's JSON and is no longer maintained; a plain JSON +
parquet folder is readable by any tool, is diffable, validates tables with the same pandera
schemas as the rest of the pipeline, and does not tie the report to the notebook format.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError

__all__ = ["run", "shutdown_kernel", "record", "Record", "read_record", "jsonable", "RECORD_FILE"]

#: File name of a chapter record inside the chapter's output folder.
RECORD_FILE = "record.json"


#: Per process: one kernel kept alive between notebook runs (:func:`run` with ``reuse_kernel``).
_KERNEL: dict[str, Any] = {}

#: Executed in a reused kernel before each notebook: close the previous notebook's figures,
#: forget its variables (modules stay imported — that is the saving), restart the cell counter
#: (errors name the cell as a fresh kernel would), go back to the working folder. A notebook therefore sees the same namespace as in a fresh kernel.
_RESET = """
import matplotlib.pyplot as _plt
_plt.close("all")
get_ipython().reset(new_session=False)
get_ipython().execution_count = 1
import os as _os
_os.chdir({cwd!r})
del _os
"""


def _kernel(cwd: str):
    """This process's reusable kernel (started on first use, restarted if it died)."""
    km = _KERNEL.get("km")
    if km is not None and km.is_alive():
        return km
    shutdown_kernel()  # a dead kernel: drop it and its log, start a new one
    import atexit
    import multiprocessing.util
    import tempfile

    from jupyter_client.manager import KernelManager

    log = tempfile.TemporaryFile(mode="w+b")  # the kernel's own chatter; its tail names a crash
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=cwd, stdout=log, stderr=log)
    _KERNEL.update(km=km, log=log)
    # a pool worker exits through multiprocessing's finalizers, the main process through atexit
    multiprocessing.util.Finalize(km, shutdown_kernel, exitpriority=10)
    atexit.register(shutdown_kernel)
    return km


def shutdown_kernel() -> None:
    """Stop this process's reused kernel, if any (idempotent)."""
    km = _KERNEL.pop("km", None)
    log = _KERNEL.pop("log", None)
    _KERNEL.pop("warm", None)
    if km is not None:
        try:
            km.shutdown_kernel(now=True)
        except Exception:  # pragma: no cover - a dead kernel needs no shutdown
            pass
    if log is not None:
        log.close()


def kernel_log_tail() -> str:
    """Last non-empty, non-warning line the reused kernel wrote to stderr/stdout ('' if none)."""
    log = _KERNEL.get("log")
    if log is None:
        return ""
    log.flush()
    log.seek(0)
    lines = [ln for ln in log.read().decode("utf-8", "replace").splitlines() if ln.strip() and "WARNING" not in ln]
    log.seek(0, 2)
    return lines[-1].strip() if lines else ""


def _execute(km, code: str, timeout: float) -> dict:
    """Run ``code`` in the kernel of ``km``, its output discarded; return the reply's content."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        return kc.execute_interactive(code, timeout=timeout, store_history=False, output_hook=lambda msg: None)["content"]
    finally:
        kc.stop_channels()


def _reset_kernel(km, cwd: str) -> None:
    reply = _execute(km, _RESET.format(cwd=cwd), 120)
    if reply.get("status") != "ok":
        raise PipelineError(f"could not reset the reused kernel: {reply.get('evalue', '')}")


#: What every chapter imports and loads before its first cell of work (module imports, the
#: chart style and the 16 MB CJK font face): run by :func:`warm_kernel` ahead of the chapters.
_WARM = """
import pandas, scipy.stats, matplotlib.pyplot
import pipeline.params, pipeline.score, pipeline.io, pipeline.notebooks, pipeline.schemas
import pipeline.compare, pipeline.trend, pipeline.pages, pipeline.integrity, pipeline.sensitivity
import pipeline.sensitivity.narrative, pipeline.plots, pipeline.plots.weights, pipeline.plots.compare
import pipeline.plots.integrity, pipeline.plots.overview, pipeline.overview
from IPython.display import display
from pipeline.plots import style as _style
_style.use_style()
import matplotlib.font_manager as _fm
_fm.get_font(_fm.findfont(_fm.FontProperties(family=matplotlib.pyplot.rcParams["font.family"])))
del _style, _fm, display
"""


def warm_kernel(cwd: str | os.PathLike | None = None) -> None:
    """Start this process's reusable kernel (:func:`run` with ``reuse_kernel``) and import in it
    what the chapters import, so that the first chapter of a worker does not pay for it.

    Only an optimisation, and idempotent: a failure is left to the first chapter, which starts
    its own kernel and reports what fails in one line.
    """
    workdir = str(Path(cwd or config.NOTEBOOKS).resolve())
    try:
        km = _kernel(workdir)
        if not _KERNEL.get("warm"):
            _KERNEL["warm"] = _execute(km, _WARM, 300).get("status") == "ok"
    except Exception:  # noqa: BLE001 - the first chapter starts and checks the kernel itself
        pass


def run(name: str, out_path: str | os.PathLike, parameters: dict[str, Any], cwd: str | os.PathLike | None = None,
        reuse_kernel: bool = False) -> Path:
    """Execute ``notebooks/<name>`` with ``parameters`` and save the executed copy to ``out_path``.

    The executed notebook is kept even when a cell fails, for inspection; the error is
    re-raised as one line: ``notebook <name>, cell <n>: <ExceptionType>: <message>``.

    With ``reuse_kernel`` the notebook runs in this process's long-lived kernel (started on
    first use) after its namespace is reset: the imports of the previous notebooks are not paid
    again (about 2–4 s per notebook), while each notebook still starts from an empty namespace
    and writes the same executed copy and record as in a fresh kernel.
    """
    import papermill as pm

    src = config.NOTEBOOKS / name
    if not src.exists():
        raise PipelineError(f"notebook {src} not found")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    workdir = str(Path(cwd or config.NOTEBOOKS).resolve())
    extra: dict[str, Any] = {}
    if reuse_kernel:
        km = _kernel(workdir)
        _reset_kernel(km, workdir)
        extra["km"] = km
    try:
        pm.execute_notebook(
            str(src),
            str(out_path),
            parameters=parameters,
            kernel_name="python3",
            cwd=workdir,
            progress_bar=False,
            log_output=False,
            # the executed copy is written once at the end (and by papermill on a failing cell,
            # with its error), not after every cell: serialising a notebook of a dozen
            # embedded charts twice per cell was ≈ 0.5 s of every chapter run
            request_save_on_cell_execute=False,
            **extra,
        )
    except pm.PapermillExecutionError as err:
        msg = str(err.evalue).strip().splitlines()
        first = msg[0] if msg else ""
        raise PipelineError(
            f"notebook {name}, cell {err.exec_count}: {err.ename}: {first} (executed copy: {out_path})"
        ) from None
    return out_path


def jsonable(v: Any) -> Any:
    """A JSON-ready copy of a headline value (NumPy scalars and arrays → Python, NaN → None)."""
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        x = float(v)
        return None if np.isnan(x) else x
    return v


class Record:
    """The record of one chapter run (see the module docstring).

    Every call rewrites ``record.json`` atomically, so a record on disk always matches the
    tables and figures beside it, in the order the notebook produced them.

    Parameters
    ----------
    out_dir : path
        The chapter folder; ``tables/`` and ``figures/`` are emptied first (no stale outputs).
    chapter : str
        Chapter name, e.g. ``"01-overview"``.
    **parameters
        The run's parameters as the notebook received them (stored in the record).
    """

    def __init__(self, out_dir: str | os.PathLike, chapter: str, **parameters: Any):
        self.dir = Path(out_dir)
        self.chapter = chapter
        for sub in ("tables", "figures"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data: dict[str, Any] = {"chapter": chapter, "parameters": jsonable(parameters), "items": [], "headline": {}}
        self._save()

    def _save(self) -> None:
        from pipeline.io import atomic_write

        atomic_write(self.dir / RECORD_FILE, json.dumps(self.data, ensure_ascii=False, indent=1, sort_keys=True))

    def _add(self, kind: str, value: str) -> None:
        item = [kind, value]
        if kind == "p" or item not in self.data["items"]:
            self.data["items"].append(item)
        self._save()

    def table(self, name: str, df: pd.DataFrame) -> pd.DataFrame:
        """Record table ``name`` (validated by its chapter schema, if any); returns it."""
        from pipeline import io, schemas

        df = schemas.validate_chapter(name, df)
        io.write_table(df, self.dir / "tables", name)
        self._add("tab", name)
        return df

    def figure(self, name: str, fig):
        """Record figure ``name`` (PNG + SVG) and close it; returns the saved PNG for display.

        The chapter shows the very PNG it recorded (``IPython.display.Image``): charts are
        drawn with the Agg backend, on which a displayed ``Figure`` is only its text repr, and
        drawing it again for the notebook would cost a third draw.
        """
        import matplotlib.pyplot as plt

        from pipeline.plots import save

        paths = save(fig, self.dir / "figures" / name)
        plt.close(fig)
        self._add("fig", name)
        try:
            from IPython.display import Image

            return Image(data=paths[0].read_bytes(), format="png")
        except ImportError:  # pragma: no cover - IPython is a dependency of the notebooks
            return paths[0]

    def reading(self, text: str):
        """Record one paragraph of reading (generated from the numbers) and show it."""
        text = str(text).strip()
        if text:
            self._add("p", text)
        try:
            from IPython.display import Markdown

            return Markdown(text)
        except ImportError:  # pragma: no cover
            return text

    def headline(self, **numbers: Any) -> dict:
        """Record the chapter's headline numbers (last cell); returns them."""
        self.data["headline"].update(jsonable(numbers))
        self._save()
        return self.data["headline"]


def record(out_dir: str | os.PathLike, chapter: str, **parameters: Any) -> Record:
    """Start the record of a chapter run: ``rec = notebooks.record(out_dir, "01-overview", year=year, …)``."""
    return Record(out_dir, chapter, **parameters)


def chapter_inputs(processed: str | os.PathLike, chapter: str, out_dir: str | os.PathLike, **parameters: Any):
    """The common start of a chapter that works on the run's totals: read the processed tables,
    validate the parameters against the years present, start the chapter's record and compute the
    run's totals (:func:`pipeline.score.run_totals` with ``top_n``, ``na_policy``, ``grade_map``).

    Returns
    -------
    SimpleNamespace
        ``prm`` (validated :class:`pipeline.params.Params`), ``rec`` (:class:`Record`), ``items``,
        ``units``, ``scores``, ``adjustments`` (processed tables) and ``totals`` (the run's totals).
    """
    from types import SimpleNamespace

    from pipeline import io, params, score

    items = io.read_table(processed, "items")
    prm = params.validate(params.Params(**parameters), available_years=sorted(items["year"].unique()))
    d = SimpleNamespace(prm=prm, rec=record(out_dir, chapter, **prm.to_dict()), items=items,
                        units=io.read_table(processed, "units"), scores=io.read_table(processed, "scores"),
                        adjustments=io.read_table(processed, "adjustments"))
    d.totals = score.run_totals(d.scores, d.items, d.adjustments, prm)
    return d


def read_record(chapter_dir: str | os.PathLike, tables: bool = True) -> dict[str, Any]:
    """Read a chapter record written by :class:`Record`.

    Returns
    -------
    dict
        ``chapter``, ``parameters``, ``items`` (``[kind, value]`` in notebook order: ``p``
        sentence, ``fig`` name, ``tab`` name), ``headline`` (dict), ``tables`` (a mapping
        name → DataFrame, each read when first asked for; empty unless ``tables``), ``figures``
        (name → PNG path), ``dir``.

    Raises
    ------
    PipelineError
        When the record is missing or unreadable; for a table, when it is first read.
    """
    d = Path(chapter_dir)
    path = d / RECORD_FILE
    if not path.exists():
        raise PipelineError(f"{path}: chapter record not found — run `python -m pipeline analyze` for this year first")
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PipelineError(f"{path}: cannot read the chapter record ({type(err).__name__})") from None
    rec["dir"] = d
    rec["figures"] = {v: d / "figures" / f"{v}.png" for k, v in rec["items"] if k == "fig"}
    rec["tables"] = _Tables(d / "tables", [v for k, v in rec["items"] if k == "tab"] if tables else [])
    return rec


class _Tables(Mapping):
    """The recorded tables of a chapter, name → DataFrame, each read from its Parquet file when
    first asked for (a document reads a few of a chapter's tables; the study reads 40 records).
    A missing or broken table is one clear line when it is read."""

    def __init__(self, folder: Path, names: list[str]):
        self._folder, self._names, self._read = folder, list(dict.fromkeys(names)), {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._read:
            if name not in self._names:
                raise KeyError(name)
            from pipeline import io as pio

            p = self._folder / f"{name}.parquet"
            try:
                self._read[name] = pio.read_parquet(p)
            except Exception as err:  # a broken table is one clear line
                raise PipelineError(f"{p}: cannot read the recorded table ({type(err).__name__})") from None
        return self._read[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names
