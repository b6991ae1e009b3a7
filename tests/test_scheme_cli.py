"""``python -m pipeline scheme``: one clear line and exit 2 for every bad scheme file, nothing
written; a good file writes comparison.csv per year, the report and the numbers record."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline import config
from pipeline.cli import main
from pipeline.io import write_table
from pipeline.scheme.compute import COLUMNS
from tests.test_scheme import world

GOOD = """name: 测试方案
categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}
by_sector:
  政法: {categories: {思想政治: 10, 基层组织: 40, 机关作风: 30, 单项工作: 20}}
top_n: 2
"""

BAD = {
    "sum": ("categories: {思想政治: 30, 基层组织: 30, 机关作风: 30, 单项工作: 20}\n", "points sum to 110, not 100"),
    "sector_sum": ("by_sector:\n  政法: {categories: {思想政治: 30, 基层组织: 30, 机关作风: 30, 单项工作: 5}}\n", "by_sector.政法.categories: points sum to 95, not 100"),
    "category": ("categories: {思想政冶: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}\n", "unknown category '思想政冶' (closest: 思想政治)"),
    "item": ("items: {三会一颗: 5}\n", "unknown item '三会一颗' (closest: 三会一课)"),
    "sector": ("by_sector:\n  政发: {categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}}\n", "unknown sector '政发' (closest: 政法)"),
    "type": ("by_type:\n  党总枝: {categories: {思想政治: 25, 基层组织: 25, 机关作风: 25, 单项工作: 25}}\n", "unknown type '党总枝' (closest: 党总支)"),
    "quota": ("tiers: {by: type, winners: {机关党委: 3, 党总支: 1, 直属党委: 1}}\n", "quota 3 is larger than the tier (2 units in 2020)"),
    "syntax": ("name: x\ncategories: {思想政治: 25,\n  基层组织: [25\n", "YAML syntax error"),
}


@pytest.fixture()
def processed(tmp_path, monkeypatch):
    folder = tmp_path / "processed"
    for name, df in world().items():
        write_table(df, folder, name)
    monkeypatch.setattr(config, "PROCESSED", folder)
    return folder


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scheme_file_one_line_exit_2_nothing_written(case, processed, tmp_path, capsys):
    text, msg = BAD[case]
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    # the good file comes first: nothing may be written for it either
    code = main(["scheme", str(good), str(bad), "--out", str(out), "--no-pdf", "--mc", "20"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and msg in err[0] and f"{case}.yaml" in err[0], err
    assert not out.exists()


def test_syntax_error_names_its_line(tmp_path, capsys):
    bad = tmp_path / "s.yaml"
    bad.write_text("name: x\ntop_n: 20\ncategories: {思想政治: 25,\n  基层组织: [25\n", encoding="utf-8")
    assert main(["scheme", str(bad), "--out", str(tmp_path / "o")]) == 2
    line = capsys.readouterr().err.strip()
    # the flow mapping opened on line 3 is never closed; PyYAML reports the end of the document (line 5)
    assert "line 5" in line and "YAML syntax error" in line


def test_missing_file_and_no_file(tmp_path, capsys):
    assert main(["scheme", str(tmp_path / "nope.yaml")]) == 2
    assert "scheme file not found" in capsys.readouterr().err
    assert main(["scheme"]) == 2
    assert "give one or more scheme files" in capsys.readouterr().err


def test_good_scheme_writes_comparison_report_and_numbers(processed, tmp_path):
    f = tmp_path / "diff.yaml"
    f.write_text(GOOD, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["scheme", str(f), "--out", str(out), "--no-pdf", "--mc", "50"]) == 0
    comp = pd.read_csv(out / "2020" / "comparison.csv", encoding="utf-8-sig")
    assert list(comp.columns) == COLUMNS
    c = comp.set_index("unit_id")
    # hand computation in tests/test_scheme.py::test_differentiated_weights_by_sector
    assert c.loc["B", "scheme_total"] == pytest.approx(79.0)
    assert c.loc[["D", "B"], "scheme_winner"].all() and not c.loc[["A", "C", "E"], "scheme_winner"].any()
    assert (out / "report.html").stat().st_size > 10_000 and (out / "tables.xlsx").exists()
    rec = json.loads((out / "numbers.json").read_text(encoding="utf-8"))["diff"]
    assert rec["n_out_last"] == 3 and rec["n_in_last"] == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "测试方案" in html and "乙局" in html


def test_two_schemes_side_by_side_in_english(processed, tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(GOOD, encoding="utf-8")
    b.write_text("name: tiers\ntiers: {by: type, winners: {机关党委: 1, 党总支: 1, 直属党委: 1}}\n", encoding="utf-8")
    out = tmp_path / "both"
    assert main(["scheme", str(a), str(b), "--out", str(out), "--no-pdf", "--mc", "20", "--lang", "en"]) == 0
    assert (out / "a" / "2020" / "comparison.csv").exists() and (out / "b" / "2020" / "comparison.csv").exists()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Scheme 2: tiers" in html and "What-if scheme report" in html
