"""Atomic writes and the spreadsheet-formula guard (issue #6)."""

import pandas as pd
import pytest

from pipeline import io


def test_write_table_roundtrip_and_csv_twin(tmp_path):
    df = pd.DataFrame({"unit_id": ["U001", "U002"], "note": ["=HYPERLINK(\"x\")", "ok"], "adjustment": [-1.5, 2.0]})
    io.write_table(df, tmp_path, "t")
    back = io.read_table(tmp_path, "t")
    pd.testing.assert_frame_equal(back, df)  # parquet keeps values as they are
    csv = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig")
    assert csv.loc[0, "note"] == "'=HYPERLINK(\"x\")"  # neutralised for spreadsheets
    assert csv.loc[1, "note"] == "ok"
    assert csv["adjustment"].tolist() == [-1.5, 2.0]  # numbers untouched


@pytest.mark.parametrize("text", ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tX"])
def test_neutralise_formulas(text):
    out = io.neutralise_formulas(pd.DataFrame({"a": [text]}))
    assert out.loc[0, "a"] == "'" + text


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "x.txt"
    io.atomic_write(target, "old")
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]  # no temp file left behind
