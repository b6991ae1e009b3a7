"""One consistent look, and CJK glyphs from the ``mplfonts`` package (no system fonts)."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline import config  # noqa: F401  (sets MPLCONFIGDIR before matplotlib loads)

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

__all__ = ["use_style", "save", "FONT_NAME", "font_path", "PALETTE", "WINNER", "OTHER"]

FONT_NAME = "Noto Sans CJK SC"
PALETTE = ["#B22222", "#1F4E79", "#D4A017", "#2E8B57", "#6A5ACD", "#708090", "#CD853F", "#4682B4"]
WINNER = "#B22222"  # party red for winners
OTHER = "#8C9AA8"
_done = False


def font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font shipped by ``mplfonts``."""
    import mplfonts

    path = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
    if not path.exists():  # pragma: no cover - depends on the installed package
        from pipeline.errors import PipelineError

        raise PipelineError(f"CJK font not found at {path}; reinstall the 'mplfonts' package")
    return path


def use_style() -> None:
    """Register the CJK font and set the house rcParams (idempotent)."""
    global _done
    if _done:
        return
    font_manager.fontManager.addfont(str(font_path()))
    plt.rcParams.update(
        {
            "font.family": "sans-serif",
            "font.sans-serif": [FONT_NAME, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
            "figure.constrained_layout.use": True,
            "svg.fonttype": "none",
            "pdf.fonttype": 42,
        }
    )
    _done = True


def save(fig, path: str | os.PathLike, formats=("png", "svg")) -> list[Path]:
    """Save ``fig`` as ``<path>.png`` and ``<path>.svg`` (atomically); return the paths.

    The layout is computed once for all formats: one layout pass and one tight bounding box at
    the PNG resolution (``savefig.dpi``), then the layout is held fixed while each format is
    drawn once. ``savefig`` with ``bbox_inches="tight"`` and a layout engine would lay out and
    draw the figure twice per format (matplotlib's ``print_figure``: a draw with rendering
    disabled to place the artists, then the real draw); the text measuring of the CJK font in
    those extra passes was about half of a chapter's chart time. The figure's layout engine
    and dpi are restored afterwards, so it can still be shown or saved again.
    """
    from matplotlib.transforms import Bbox

    from pipeline.io import atomic_path

    base = Path(path)
    if base.suffix in (".png", ".svg"):
        base = base.with_suffix("")
    rc = plt.rcParams
    dpi0, engine = fig.dpi, fig.get_layout_engine()
    bbox = rc["savefig.bbox"]
    try:
        fig.set_dpi(rc["savefig.dpi"])
        fig.draw_without_rendering()  # runs the layout engine once at the PNG resolution
        if bbox == "tight":
            renderer = fig.canvas.get_renderer() if hasattr(fig.canvas, "get_renderer") else fig._get_renderer()
            bbox = Bbox(fig.get_tightbbox(renderer).padded(rc["savefig.pad_inches"]))
        out = []
        for fmt in formats:
            target = base.with_suffix("." + fmt)
            # keep the positions just computed: without an engine ``print_figure`` skips its own
            # layout pre-draw (``set_layout_engine("none")`` leaves a placeholder engine that does
            # not, and ``print_figure`` puts the rc default engine back after each save)
            fig._layout_engine = None
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, bbox_inches=bbox)
            out.append(target)
    finally:
        fig._layout_engine = engine
        fig.set_dpi(dpi0)
    return out
