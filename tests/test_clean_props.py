"""Property tests: messy but valid spellings give identical tables; garbage gives PipelineError.

The baseline is the clean hand-built workbook of ``tests/wbfactory.py``; every perturbation
below is one that SPEC §2.1 says must be read correctly (spaces, full-width digits, a 分
suffix, numbers as text, grades with spaces, unit-name spellings, header wording, title rows,
two-level headers), so the cleaned ``scores`` and ``totals`` must not change at all.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.exceptions import IllegalCharacterError

sys.path.insert(0, str(Path(__file__).parent))
import wbfactory as wb  # noqa: E402

from pipeline import clean  # noqa: E402
from pipeline import io as pio  # noqa: E402
from pipeline.errors import PipelineError  # noqa: E402

SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FW = str.maketrans("0123456789.", "０１２３４５６７８９．")
SPACES = st.sampled_from(["", " ", "  ", "\u3000", "\t"])


def _clean(tmp: Path, **kw):
    raw = tmp / "raw"
    wb.write_year(raw, **kw)
    out = tmp / "out"
    clean.run(raw, out, progress=False)
    s = pio.read_table(out, "scores").drop(columns="source")
    t = pio.read_table(out, "totals")
    return s, t


_BASE = {}


def baseline():
    if not _BASE:
        with tempfile.TemporaryDirectory() as d:
            _BASE["s"], _BASE["t"] = _clean(Path(d))
    return _BASE["s"], _BASE["t"]


@st.composite
def number_spelling(draw, x):
    text = f"{x:g}"
    form = draw(st.sampled_from(["float", "text", "fullwidth", "fen", "spaces", "all"]))
    if form == "float":
        return float(x)
    if form == "fullwidth" or form == "all":
        text = text.translate(FW)
    if form in ("fen", "all"):
        text = text + draw(SPACES) + "分"
    if form in ("spaces", "all"):
        text = draw(SPACES) + text + draw(SPACES)
    return text


@st.composite
def grade_spelling(draw, g):
    a, b, c = draw(SPACES), draw(SPACES), draw(SPACES)
    return a + (g[0] + b + g[1:] if len(g) > 1 else g) + c


@st.composite
def unit_spelling(draw, name):
    variants = [name, name.replace("市", "", 1), name[:1] + draw(SPACES) + name[1:] + draw(SPACES)]
    if "（" in name:
        variants.append(name.replace("（", "(").replace("）", ")"))
    return draw(st.sampled_from(variants))


@st.composite
def messy_workbook(draw):
    values = {}
    for name, vals in wb.CLEAN_VALUES.items():
        cells = [draw(grade_spelling(v)) if isinstance(v, str) else draw(number_spelling(v)) for v in vals]
        values[draw(unit_spelling(name))] = cells
    labels = []
    for (_, name, *_rest), mx in zip(wb.ITEMS, wb.MAXES.values()):
        suffix = draw(st.sampled_from(["", f"（{mx:g}分）", f"({mx:g})", f"\n（{mx:g}分）", f" [{mx:g}]"]))
        cut = draw(st.integers(0, len(name)))
        sep = draw(st.sampled_from(["", " ", "\n", "\u3000"]))
        labels.append(name[:cut] + sep + name[cut:] + suffix)
    return dict(
        values=values,
        item_labels=labels,
        unit_header=draw(st.sampled_from(["单位", "单位名称", "党组织名称", "机关党组织", " 单位名称 "])),
        title_rows=draw(st.integers(1, 3)),
        two_level=draw(st.booleans()),
        trailer=draw(st.booleans()),
        seq=draw(st.booleans()),
    )


@SETTINGS
@given(messy_workbook())
def test_messy_spellings_give_identical_tables(kw):
    base_s, base_t = baseline()
    with tempfile.TemporaryDirectory() as d:
        s, t = _clean(Path(d), **kw)
    pd.testing.assert_frame_equal(s.reset_index(drop=True), base_s.reset_index(drop=True))
    pd.testing.assert_frame_equal(t.reset_index(drop=True), base_t.reset_index(drop=True))


GARBAGE = st.one_of(
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-10**6, 10**6),
    st.booleans(),
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.sampled_from(["好好", "较", "—/", "8５分分", "1e3", "0x10", "nan", "inf", "=1+1", "NaN分"]),
)


@SETTINGS
@given(
    garbage=st.lists(st.tuples(st.integers(0, 8), st.integers(0, 7), GARBAGE), min_size=1, max_size=4),
)
def test_garbage_cells_raise_pipeline_error_only(garbage):
    rows, merges = wb.summary_rows(wb.CLEAN_VALUES, title_rows=1, given={})
    for r, c, v in garbage:
        while len(rows) <= r:
            rows.append([None] * len(rows[0]))
        row = rows[r] + [None] * max(0, c + 1 - len(rows[r]))
        row[c] = v
        rows[r] = row
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw"
        wb.write_registry(raw)
        wb.write_items(raw / "2015" / "2015年考评项目一览表.xlsx")
        try:
            wb.write_rows(raw / "2015" / "2015年度考评汇总表.xlsx", rows, sheet="汇总", merges=merges)
        except (IllegalCharacterError, ValueError, TypeError):
            return  # openpyxl cannot store this value; nothing to read
        try:
            res = clean.run(raw, Path(d) / "out", progress=False)
        except PipelineError as err:
            assert "\n" not in str(err)
            return
        assert res["quarantined"] == 0
        s = pio.read_table(Path(d) / "out", "scores")
        assert s["points"].dropna().between(0, 40).all()


@SETTINGS
@given(st.binary(min_size=0, max_size=300), st.sampled_from([".xlsx", ".xls", ".csv"]))
def test_random_bytes_file_is_pipeline_error(data, ext):
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw"
        wb.write_registry(raw)
        wb.write_items(raw / "2015" / "2015年考评项目一览表.xlsx")
        (raw / "2015" / f"2015年度考评汇总表{ext}").write_bytes(data)
        # never a traceback: corrupt workbook, undecodable CSV, or a CSV without a header row
        with pytest.raises(PipelineError) as e:
            clean.run(raw, Path(d) / "out", progress=False)
        assert "\n" not in str(e.value) and "2015年度考评汇总表" in str(e.value)
