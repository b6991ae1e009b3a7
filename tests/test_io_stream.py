"""Writing a table in parts (pipeline.io.TableWriter): the same files as write_table, atomically.

The reference is :func:`pipeline.io.write_table` writing the whole frame at once (tests/test_io.py
covers its format): the streamed Parquet must read back equal and the CSV twin must be the
same bytes, on both CSV routes (pandas' writer below ``FAST_CSV_ROWS`` rows, Arrow's above).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline import io as pio


def _frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    pts = rng.integers(0, 100, n) / 2
    pts[::7] = np.nan
    text = np.array(["U001", "=1+1", "-2", "@x", "普通", "\tTAB", "+SUM(A1)", "a,b \"q\""], dtype=object)
    return pd.DataFrame(
        {
            "year": np.repeat([2015, 2016], n // 2).astype("int64"),
            "unit_id": pd.Series(text[np.arange(n) % len(text)], dtype="str"),
            "points": pts,
            "grade": pd.Series(np.where(np.arange(n) % 3 == 0, "好", None), dtype="str"),
            "is_winner": np.arange(n) % 2 == 0,
        }
    )


@pytest.mark.parametrize("fast_rows", [None, 5], ids=["pandas-csv", "arrow-csv"])
def test_parts_give_the_files_of_write_table(tmp_path, monkeypatch, fast_rows):
    if fast_rows is not None:  # the Arrow route of big tables, on a small frame
        monkeypatch.setattr(pio, "FAST_CSV_ROWS", fast_rows)
    df = _frame()
    pio.write_table(df, tmp_path / "whole", "t")
    with pio.TableWriter(tmp_path / "parts", "t") as w:
        for part in (df.iloc[:13], df.iloc[13:14], df.iloc[14:]):
            w.write(part.reset_index(drop=True))
    assert w.rows == len(df)
    pd.testing.assert_frame_equal(pio.read_table(tmp_path / "parts", "t"), pio.read_table(tmp_path / "whole", "t"), check_exact=True)
    assert (tmp_path / "parts" / "t.csv").read_bytes() == (tmp_path / "whole" / "t.csv").read_bytes()
    back = pd.read_csv(tmp_path / "parts" / "t.csv", encoding="utf-8-sig")
    assert back.loc[1, "unit_id"] == "'=1+1" and back.loc[2, "unit_id"] == "'-2"  # formula guard
    np.testing.assert_allclose(back["points"], df["points"], equal_nan=True)  # numbers untouched


def test_empty_table_uses_the_given_frame(tmp_path):
    empty = _frame().iloc[:0]
    w = pio.TableWriter(tmp_path, "t")
    w.close(empty=empty)
    pio.write_table(empty, tmp_path / "ref", "t")
    assert (tmp_path / "t.csv").read_bytes() == (tmp_path / "ref" / "t.csv").read_bytes()
    pd.testing.assert_frame_equal(pio.read_table(tmp_path, "t"), empty.reset_index(drop=True))


def test_discard_and_errors_keep_the_previous_files(tmp_path):
    old = _frame(10)
    pio.write_table(old, tmp_path, "t")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    w = pio.TableWriter(tmp_path, "t")
    w.write(_frame(20))
    w.discard()
    with pytest.raises(RuntimeError):
        with pio.TableWriter(tmp_path, "t") as w2:
            w2.write(_frame(20))
            raise RuntimeError("killed")
    with pytest.raises(ValueError):  # a part with other columns is refused
        with pio.TableWriter(tmp_path, "t") as w3:
            w3.write(_frame(20))
            w3.write(_frame(20).drop(columns="grade"))
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp file left behind


def test_pending_path_commit_and_discard(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old")
    p = pio.PendingPath(target)
    p.tmp.write_text("new")
    assert target.read_text() == "old"  # nothing replaced before commit
    p.commit()
    assert target.read_text() == "new"
    q = pio.PendingPath(target)
    q.tmp.write_text("newer")
    q.discard()
    assert target.read_text() == "new" and [x.name for x in tmp_path.iterdir()] == ["x.csv"]
