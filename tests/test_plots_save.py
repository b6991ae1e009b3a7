"""`pipeline.plots.style.save`: one layout for PNG and SVG, the same pixels as matplotlib's own save."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.plots import style


def _figure():
    import matplotlib.pyplot as plt

    style.use_style()
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(np.arange(60).reshape(10, 6), aspect="auto")
    ax.set_yticks(range(10), [f"单位{i}（长名称）" for i in range(10)])
    ax.set_xticks(range(6), [f"项目{i}" for i in range(6)], rotation=90)
    ax.set_title("热力图 Heatmap")
    fig.colorbar(ax.images[0], ax=ax, label="得分")
    return fig


def test_png_equals_matplotlibs_tight_save(tmp_path):
    # Reference: matplotlib's own savefig of the same figure, laid out and drawn by its
    # print_figure (a layout pre-draw, then the draw), with matplotlib's tight box widened to
    # whole pixels. `save` draws once and crops the canvas; the pixels must agree up to the
    # anti-aliasing of glyphs (≤ 20 of 255 in any channel), and the size must be that of
    # matplotlib's plain tight save to within the one pixel of widening.
    import math

    import matplotlib.pyplot as plt
    from matplotlib.transforms import Bbox

    ref_fig = _figure()
    rc = plt.rcParams
    dpi = rc["savefig.dpi"]
    ref_fig.savefig(tmp_path / "tight.png", format="png")
    ref_fig.set_dpi(dpi)
    ref_fig.draw_without_rendering()
    tb = ref_fig.get_tightbbox(ref_fig.canvas.get_renderer()).padded(rc["savefig.pad_inches"])
    box = Bbox([[math.floor(tb.x0 * dpi) / dpi, math.floor(tb.y0 * dpi) / dpi], [math.ceil(tb.x1 * dpi) / dpi, math.ceil(tb.y1 * dpi) / dpi]])
    ref_fig.savefig(tmp_path / "ref.png", format="png", bbox_inches=box)
    plt.close(ref_fig)
    fig = _figure()
    paths = style.save(fig, tmp_path / "fig")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    a = np.asarray(Image.open(tmp_path / "ref.png").convert("RGB"), dtype=int)
    b = np.asarray(Image.open(tmp_path / "fig.png").convert("RGB"), dtype=int)
    t = np.asarray(Image.open(tmp_path / "tight.png").convert("RGB"))
    assert a.shape == b.shape and all(abs(x - y) <= 1 for x, y in zip(b.shape[:2], t.shape[:2]))
    assert np.abs(a - b).max() <= 20
    assert Image.open(tmp_path / "fig.png").info.get("dpi", (0, 0))[0] == pytest.approx(dpi, abs=0.5)
    svg = (tmp_path / "fig.svg").read_text(encoding="utf-8")
    assert "热力图" in svg and "<svg" in svg  # text kept as text (svg.fonttype none)
    plt.close(fig)


def test_save_restores_layout_engine_and_dpi(tmp_path):
    import matplotlib.pyplot as plt

    fig = _figure()
    engine, dpi = fig.get_layout_engine(), fig.dpi
    style.save(fig, tmp_path / "a.png")  # a suffix is replaced by each format's
    assert fig.get_layout_engine() is engine and fig.dpi == dpi
    assert (tmp_path / "a.png").exists() and (tmp_path / "a.svg").exists()
    plt.close(fig)


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_single_format(tmp_path, fmt):
    import matplotlib.pyplot as plt

    fig = _figure()
    assert style.save(fig, tmp_path / "b", formats=(fmt,)) == [tmp_path / f"b.{fmt}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"b.{fmt}"]
    plt.close(fig)


def test_opaque_chart_written_as_rgb_transparent_kept_rgba(tmp_path):
    """An opaque chart (white face) is written as RGB with the pixels matplotlib drew; a figure
    with a transparent face keeps its alpha channel. Expected pixels: the Agg canvas itself."""
    import matplotlib.pyplot as plt

    fig = _figure()
    style.save(fig, tmp_path / "opaque")
    canvas = np.asarray(fig.canvas.buffer_rgba())
    plt.close(fig)
    img = Image.open(tmp_path / "opaque.png")
    assert img.mode == "RGB"
    assert (canvas[..., 3] == 255).all()  # what made it RGB: nothing of the canvas is see-through
    glass = _figure()
    glass.patch.set_alpha(0.0)
    style.save(glass, tmp_path / "glass")
    plt.close(glass)
    g = Image.open(tmp_path / "glass.png")
    assert g.mode == "RGBA" and np.asarray(g)[..., 3].min() < 255
