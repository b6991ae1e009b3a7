"""The CJK font subset and its WOFF2 pack are cut once and read back from the disk cache."""

from __future__ import annotations

import io

import pytest

from pipeline.report import render


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path))
    render._font_face.cache_clear()
    yield tmp_path / "font-subsets"
    render._font_face.cache_clear()


def test_subset_and_woff2_are_cached_and_decode_to_the_same_glyphs(cache_dir):
    from fontTools.ttLib import TTFont

    chars = {ord(c) for c in "党建考评ABC123"}
    otf = render._subset_font(chars)
    assert otf is not None and len(list(cache_dir.glob("*.otf"))) == 1
    cmap = set(TTFont(io.BytesIO(otf)).getBestCmap())
    assert chars <= cmap  # every asked character has a glyph in the subset

    face = render._font_face(otf)
    packs = list(cache_dir.glob("*.woff2"))
    assert len(packs) == 1 and "font/woff2" in face
    # the pack is the same font: decode it and compare the character map with the subset's
    woff = TTFont(io.BytesIO(packs[0].read_bytes()))
    assert woff.flavor == "woff2" and set(woff.getBestCmap()) == cmap

    # read back, not packed again: a marker written into the cached pack is what the next call embeds
    import base64

    render._font_face.cache_clear()
    packs[0].write_bytes(b"cached-pack-marker")
    assert base64.b64encode(b"cached-pack-marker").decode() in render._font_face(otf)
    assert render._subset_font(chars) == otf and len(list(cache_dir.glob("*.otf"))) == 1
