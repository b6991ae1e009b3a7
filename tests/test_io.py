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


def test_attrs_matrices_read_back_as_arrays(tmp_path):
    """``attrs`` go through JSON in the Parquet metadata; numeric matrices come back as NumPy
    arrays (pandas deep-copies attrs on every operation: nested lists made a row lookup cost
    milliseconds), everything else as written. Expected: the values written."""
    import numpy as np
    import pandas as pd

    from pipeline import io as pio

    hist = np.arange(12, dtype=np.int64).reshape(3, 4)
    df = pd.DataFrame({"a": [1, 2]})
    df.attrs = {"histogram": hist, "years": [2009, 2016], "system": {"n": 5, "names": ["x", "y"], "m": [[0.5, 1.0], [2.0, 3.0]]},
                "ragged": [[1, 2], [3]], "mixed": [[1, None], [2, 3]]}
    pio.write_table(df, tmp_path, "t")
    back = pio.read_table(tmp_path, "t")
    assert isinstance(back.attrs["histogram"], np.ndarray) and back.attrs["histogram"].dtype == np.int64
    np.testing.assert_array_equal(back.attrs["histogram"], hist)
    assert back.attrs["years"] == [2009, 2016]  # a flat list stays a list
    assert back.attrs["system"]["n"] == 5 and back.attrs["system"]["names"] == ["x", "y"]
    np.testing.assert_array_equal(back.attrs["system"]["m"], [[0.5, 1.0], [2.0, 3.0]])
    assert back.attrs["ragged"] == [[1, 2], [3]] and back.attrs["mixed"] == [[1, None], [2, 3]]
    row = back.iloc[0]  # a row lookup copies the attrs; the matrix stays an equal array
    np.testing.assert_array_equal(row.attrs["histogram"], hist)
