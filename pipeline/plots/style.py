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

    The figure is laid out and drawn once per format. ``savefig`` with ``bbox_inches="tight"``
    and a layout engine draws it twice per format (matplotlib's ``print_figure``: a draw with
    rendering disabled to place the artists and measure the tight box, then the real draw), and
    the text measuring of the CJK font in those passes was most of a chapter's chart time.
    Here the PNG is drawn once on the Agg canvas at ``savefig.dpi`` (the layout engine runs in
    that draw), the tight box (padded by ``savefig.pad_inches``) is measured on the same
    renderer, and the image is cropped to it — the pixels matplotlib's own tight save would
    write. The other formats are then drawn with the layout held fixed and that box. The
    figure's layout engine and dpi are restored afterwards, so it can still be shown or saved.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from pipeline.io import atomic_path

    base = Path(path)
    if base.suffix in (".png", ".svg"):
        base = base.with_suffix("")
    rc = plt.rcParams
    dpi0, engine = fig.dpi, fig.get_layout_engine()
    dpi = fig.dpi if rc["savefig.dpi"] == "figure" else float(rc["savefig.dpi"])
    tight = rc["savefig.bbox"] == "tight"
    out: dict[str, Path] = {}
    try:
        fig.set_dpi(dpi)
        if isinstance(fig.canvas, FigureCanvasAgg):
            fig.canvas.draw()  # the layout engine runs in this draw
            renderer = fig.canvas.get_renderer()
        else:  # pragma: no cover - another backend's canvas: lay out without rendering
            fig.draw_without_rendering()
            renderer = fig._get_renderer()
        box = _pixel_box(fig.get_tightbbox(renderer).padded(rc["savefig.pad_inches"]), dpi) if tight else None
        if "png" in formats and isinstance(fig.canvas, FigureCanvasAgg):
            out["png"] = _png_from_canvas(fig, box, dpi, base.with_suffix(".png"))
        for fmt in formats:
            if fmt in out:
                continue
            target = base.with_suffix("." + fmt)
            # keep the positions just computed: without an engine ``print_figure`` skips its own
            # layout pre-draw (``set_layout_engine("none")`` leaves a placeholder engine that does
            # not, and ``print_figure`` puts the rc default engine back after each save)
            fig._layout_engine = None
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, bbox_inches=box)
            out[fmt] = target
    finally:
        fig._layout_engine = engine
        fig.set_dpi(dpi0)
    return [out[f] for f in formats]


def _pixel_box(box, dpi: float):
    """``box`` (inches) widened outwards to whole pixels at ``dpi``.

    Cropping the drawn canvas to a box on the pixel grid gives exactly the pixels that
    ``savefig(bbox_inches=box)`` draws, which shifts the figure by whole pixels; a fractional
    box would shift the anti-aliasing of every edge by a fraction of a pixel.
    """
    import math

    from matplotlib.transforms import Bbox

    x0, y0 = math.floor(box.x0 * dpi + 1e-6), math.floor(box.y0 * dpi + 1e-6)
    x1, y1 = math.ceil(box.x1 * dpi - 1e-6), math.ceil(box.y1 * dpi - 1e-6)
    return Bbox([[x0 / dpi, y0 / dpi], [x1 / dpi, y1 / dpi]])


def _png_from_canvas(fig, box, dpi: float, target: Path) -> Path:
    """Write the Agg canvas just drawn as a PNG, cropped to ``box`` (inches; ``None``: whole)."""
    import numpy as np
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from pipeline.io import atomic_path

    img = np.asarray(fig.canvas.buffer_rgba())
    h, w = img.shape[:2]
    if box is not None:  # whole pixels (:func:`_pixel_box`); parts outside the canvas are the face colour
        x0, y_top = int(round(box.x0 * dpi)), int(round(h - box.y1 * dpi))
        bw, bh = int(round(box.width * dpi)), int(round(box.height * dpi))
        face = (np.asarray(matplotlib.colors.to_rgba(fig.get_facecolor())) * 255).round().astype(np.uint8)
        crop = np.empty((bh, bw, 4), dtype=np.uint8)
        crop[:] = face
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y_top, 0), min(x0 + bw, w), min(y_top + bh, h)
        if sx1 > sx0 and sy1 > sy0:
            crop[sy0 - y_top:sy1 - y_top, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
        img = crop
    info = PngInfo()
    info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
    # an opaque chart (every chart of the package: white figure face) is written as RGB: the
    # same pixels, a quarter less to compress, and WeasyPrint embeds it in a PDF without
    # splitting off and compressing an alpha mask
    mode = "RGB" if bool((img[..., 3] == 255).all()) else "RGBA"
    with atomic_path(target) as tmp:
        Image.fromarray(np.ascontiguousarray(img[..., :3] if mode == "RGB" else img), mode).save(tmp, format="png", pnginfo=info, dpi=(dpi, dpi))
    return target
