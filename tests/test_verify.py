"""``python -m pipeline verify`` (issue #12, SPEC §10): inputs, parameters, re-run, every published number.

One small world (30 units, 2015–2016, small Monte Carlo) is published once per module by the
steps ``make report`` runs for a year (clean → check → analyze → build). One real re-run
proves that an untouched year verifies; the other cases (changed workbook, changed parameter,
tampered numbers) reuse that re-run's outputs through a stand-in for ``verify._rerun`` so that
each costs seconds, not a minute — what they test (hashes, parameter comparison, number
comparison) happens outside the re-run.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pipeline import cli, clean, config, integrity, params, provenance, report, synth, verify
from langs import in_lang  # noqa: E402

YEAR = 2016
SMALL = dict(n_samples=200, n_sobol=64)
# 30 units (not 20): with top_n = 20 a 20-unit world has no non-winners and the overview chapter
# cannot compare winners with others.
N_UNITS = 30


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project folder with data/raw, data/processed and reports/2016 (the published year)."""
    root = tmp_path_factory.mktemp("proj")
    raw, processed = root / "data" / "raw", root / "data" / "processed"
    synth.write_world(raw, root / "truth", seed=config.SEED, n_units=N_UNITS, years=(2015, YEAR))
    prm = params.load(None, year=YEAR, raw=str(raw), processed=str(processed), reports=str(root / "reports"), **SMALL)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config, "ROOT", root)  # manifest paths are relative to the project root
        clean.run(raw, processed, progress=False)
        integrity.run(raw, processed)
        report.analyze(prm)
        dest = report.build_year(prm, pdf=False)
    return SimpleNamespace(root=root, dest=dest, manifest=dest / "manifest.json", prm=prm)


@pytest.fixture(scope="module")
def first(project, tmp_path_factory):
    """One real verification of the untouched year; its re-run is kept for the other tests."""
    keep = tmp_path_factory.mktemp("rerun")
    lines: list[str] = []
    out = in_lang("en", verify.verify, project.manifest, keep=keep, say=lines.append)
    return SimpleNamespace(out=out, lines=lines, rerun=keep / "reports" / str(YEAR), processed=keep / "data" / "processed")


def _copy(project, tmp_path: Path) -> SimpleNamespace:
    """The published project copied elsewhere (verify finds the root from the manifest's place)."""
    root = tmp_path / "copy"
    shutil.copytree(project.root, root)
    return SimpleNamespace(root=root, dest=root / "reports" / str(YEAR), manifest=root / "reports" / str(YEAR) / "manifest.json")


@pytest.fixture
def fake_rerun(first, monkeypatch, tmp_path):
    """Stand-in for ``verify._rerun``: the kept re-run outputs (ranking.csv, numbers.json, tables.xlsx …); records the params."""
    seen = []

    def rerun(prm, tmp):
        prm.raw_resolved = Path(prm.raw).resolve()  # the mirror's link is removed after verify
        seen.append(prm)
        d = tmp_path / "fake" / str(len(seen))
        shutil.copytree(first.rerun, d)
        return d

    monkeypatch.setattr(verify, "_rerun", rerun)
    return seen


def test_manifest_paths_are_relative(project):
    man = json.loads(project.manifest.read_text(encoding="utf-8"))
    paths = [i["path"] for i in man["inputs"]] + [man["parameters"][k] for k in ("raw", "processed", "reports")]
    assert paths and not [p for p in paths if p.startswith("/") or str(project.root) in p]
    assert man["parameters"]["raw"] == "data/raw" and man["parameters"]["reports"] == "reports"
    assert "data/raw/units.csv" in {i["path"] for i in man["inputs"]}
    assert not str(project.root) in project.manifest.read_text(encoding="utf-8")  # no machine path anywhere


def test_untouched_year_verifies(first):
    out = first.out
    assert out.ok, "\n".join(first.lines)
    assert not out.changed and not out.missing and not out.params and out.n_diffs == 0
    assert out.compared["tables.xlsx"] > 100  # every cell of every sheet was compared
    # every published file was compared, each with its numbers
    assert not out.not_published and out.compared["numbers.json"] > 7 and out.compared["ranking.csv"] > 8
    assert first.lines[-1].startswith("Result: all")


def test_changed_and_missing_raw_files_are_named(project, tmp_path, fake_rerun):
    from openpyxl import load_workbook

    cp = _copy(project, tmp_path)
    book = sorted((cp.root / "data" / "raw" / str(YEAR)).glob("*.xlsx"))[0]
    wb = load_workbook(book)
    ws = wb.worksheets[0]
    ws.cell(row=ws.max_row + 2, column=1, value="note added after publication")
    wb.save(book)
    gone = sorted((cp.root / "data" / "raw" / "2015").iterdir())[0]
    gone.unlink()
    # a processed table replaced by a later run: stated, not a failure (the re-run derives it again)
    with open(cp.root / "data" / "processed" / "items.csv", "a", encoding="utf-8") as fh:
        fh.write("\n")
    lines: list[str] = []
    out = in_lang("en", verify.verify, cp.manifest, say=lines.append)
    rel = book.relative_to(cp.root).as_posix()
    assert out.changed == [rel]
    assert out.missing == [gone.relative_to(cp.root).as_posix()]
    assert out.derived == ["data/processed/items.csv"]
    assert not out.ok
    text = "\n".join(lines)
    assert f"changed: {rel}" in text and f"missing: {gone.relative_to(cp.root).as_posix()}" in text
    assert "Result: NOT reproduced" in text
    # the re-run reads the copy's raw folder (linked into its mirror of the project), not the original's
    assert fake_rerun[0].raw_resolved == (cp.root / "data" / "raw").resolve()


def test_changed_parameter_is_named(project, tmp_path, fake_rerun):
    pfile = tmp_path / "p.yaml"
    pfile.write_text("n_samples: 100\ntop_n: 20\nseed: 1\n", encoding="utf-8")
    lines: list[str] = []
    out = in_lang("en", verify.verify, project.manifest, params_file=str(pfile), say=lines.append)
    # recorded n_samples 200 and seed 20240601 (SMALL, config.SEED); top_n 20 is as recorded
    assert out.params == {"n_samples": (200, 100), "seed": (config.SEED, 1)}
    assert fake_rerun[0].n_samples == 100 and fake_rerun[0].seed == 1 and fake_rerun[0].top_n == 20
    text = "\n".join(lines)
    assert "parameter n_samples: recorded 200, given 100" in text and "parameter seed" in text
    assert "top_n" not in text


def test_tampered_numbers_are_named_with_both_values(project, tmp_path, fake_rerun):
    from openpyxl import load_workbook

    cp = _copy(project, tmp_path)
    # numbers.json: n_winners 20 → 19
    nums = json.loads((cp.dest / "numbers.json").read_text(encoding="utf-8"))
    true_winners = nums["n_winners"]
    nums["n_winners"] = true_winners - 1
    (cp.dest / "numbers.json").write_text(json.dumps(nums), encoding="utf-8")
    # ranking.csv: the total of the second row's unit, as text
    with open(cp.dest / "ranking.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("total")
    unit, true_total = rows[2][rows[0].index("unit_id")], rows[2][col]
    rows[2][col] = "99.9"
    with open(cp.dest / "ranking.csv", "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    # tables.xlsx: the first numeric cell of the first sheet + 1
    wb = load_workbook(cp.dest / "tables.xlsx")
    ws = wb.worksheets[0]
    cell = next(c for row in ws.iter_rows(min_row=2) for c in row if isinstance(c.value, (int, float)) and not isinstance(c.value, bool))
    where, true_value = f"{ws.title}!{cell.coordinate}", cell.value
    cell.value = true_value + 1
    wb.save(cp.dest / "tables.xlsx")

    lines: list[str] = []
    out = in_lang("en", verify.verify, cp.manifest, say=lines.append)
    assert not out.ok and out.n_diffs == 3
    assert out.diffs["numbers.json"] == [("n_winners", true_winners - 1, true_winners)]
    assert out.diffs["ranking.csv"] == [(f"unit_id={unit} total", "99.9", true_total)]
    assert out.diffs["tables.xlsx"] == [(where, true_value + 1, true_value)]
    text = "\n".join(lines)
    assert f"numbers.json n_winners: published {true_winners - 1}, re-run {true_winners}" in text
    assert f"ranking.csv unit_id={unit} total: published '99.9', re-run '{true_total}'" in text
    assert f"tables.xlsx {where}: published {true_value + 1}, re-run {true_value}" in text
    # the command: exit 1, the same lines
    assert cli.main(["verify", str(cp.manifest), "--lang", "en"]) == 1


def test_verify_command_exit_codes(project, tmp_path, fake_rerun, capsys):
    assert cli.main(["verify", str(project.manifest)]) == 0  # untouched
    assert "全部" in capsys.readouterr().out  # Chinese by default
    bad = tmp_path / "m.json"
    bad.write_text("{}", encoding="utf-8")
    assert cli.main(["verify", str(bad)]) == 2
    assert "not a run manifest" in capsys.readouterr().err


# ------------------------------------------------------------------ comparison functions, by hand
def test_compare_json_every_leaf_by_path(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"n": 74, "x": {"y": [1.5, 2.0], "z": True}, "gone": 1}))
    b.write_text(json.dumps({"n": 74, "x": {"y": [1.5, 2.25], "z": 1}, "new": None}))
    n, d = verify.compare_json(a, b)
    assert n == 5  # n, x.y[0], x.y[1], x.z, gone
    got = {(w, repr(p), repr(q)) for w, p, q in d}
    # True vs 1 differs (a flag is not a count); 'gone'/'new' exist on one side only
    assert got == {("x.y[1]", "2.0", "2.25"), ("x.z", "True", "1"), ("gone", "1", "<absent>"), ("new", "<absent>", "None")}


def test_compare_csv_by_unit_and_column(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("unit_id,total,rank\nU1,88.1,1\nU2,80,2\n", encoding="utf-8-sig")
    b.write_text("unit_id,total,rank\nU2,80.0,2\nU1,88.1,1\n", encoding="utf-8-sig")  # order differs, 80 vs 80.0 as text
    n, d = verify.compare_csv(a, b)
    assert n == 6 and d == [("unit_id=U2 total", "80", "80.0")]


def test_compare_xlsx_every_cell(tmp_path):
    from openpyxl import Workbook

    for name, v in (("a.xlsx", 1.25), ("b.xlsx", 1.5)):
        wb = Workbook()
        ws = wb.active
        ws.title = "排名"
        ws.append(["unit", "total"])
        ws.append(["U1", v])
        wb.create_sheet("s2").append(["same"])
        wb.save(tmp_path / name)
    n, d = verify.compare_xlsx(tmp_path / "a.xlsx", tmp_path / "b.xlsx")
    assert n == 5 and d == [("排名!B2", 1.25, 1.5)]


def test_relpath_outside_root_is_relative(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    assert provenance.relpath(root / "data" / "raw", root) == "data/raw"
    assert provenance.relpath(tmp_path / "elsewhere" / "raw", root) == "../elsewhere/raw"
