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
    """Save ``fig`` as ``<path>.png`` and ``<path>.svg`` (atomically); return the paths."""
    from pipeline.io import atomic_path

    base = Path(path)
    if base.suffix in (".png", ".svg"):
        base = base.with_suffix("")
    out = []
    for fmt in formats:
        target = base.with_suffix("." + fmt)
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt)
        out.append(target)
    return out
