"""The rendered year report (pipeline.report): sections, figures, self-containment, PDF fonts,
tables.xlsx, ranking.csv, numbers.json, manifest, bulletin, unit pages, determinism, the English
edition beside the Chinese one, and a run under non-default parameters.

One year (2016) is analysed and rendered once per session with small Monte Carlo sizes and
reused by every test.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from pipeline import i18n, overview, params, report
from pipeline.i18n import namer
from pipeline.report import data as rdata, document as rdoc, render as rrender, run as rrun
from pipeline.errors import PipelineError
from langs import in_lang  # noqa: E402

YEAR = 2016
CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]")
SECTIONS_ZH = ["摘要", "一、总体情况", "二、横向比较", "三、纵向比较与趋势", "四、权重敏感性与公平性", "五、问题与不足", "六、对策建议", "附录"]
SECTIONS_EN = ["Abstract", "1. Overview", "2. Horizontal comparison", "3. Vertical comparison and trends", "4. Weight sensitivity and fairness",
               "5. Problems and shortcomings", "6. Recommendations", "Appendix"]


def _setup(tmp: Path, world, lang: str) -> SimpleNamespace:
    processed = tmp / "processed"
    if not processed.exists():
        shutil.copytree(world.processed, processed)
        try:
            from pipeline import integrity

            integrity.run(world.raw, processed)
        except ImportError:  # pragma: no cover - integrity module not there yet
            pass
    # both editions render into the same reports folder: Chinese in 2016/, English in 2016/en/
    prm = params.load(None, year=YEAR, raw=str(world.raw), processed=str(processed), reports=str(tmp / "reports"),
                      n_samples=400, n_sobol=64, lang=lang)
    analysis = tmp / f"analysis_{lang}"
    report.analyze(prm, out=analysis)
    # the English edition is checked on its HTML pages; its PDF is the same code path as the Chinese one
    dest = report.build_year(prm, analysis=analysis, pdf=lang == "zh")
    return SimpleNamespace(prm=prm, dest=dest, analysis=analysis / str(YEAR), html=(dest / "report.html").read_text(encoding="utf-8"), tmp=tmp)


@pytest.fixture(scope="session")
def rep(world, tmp_path_factory):
    return _setup(tmp_path_factory.mktemp("rep"), world, "zh")


@pytest.fixture(scope="session")
def rep_en(world, rep):
    return _setup(rep.tmp, world, "en")


def _text(html: str) -> str:
    """Visible text: drop <style>, tags and data URIs."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r"</?span[^>]*>|<wbr>", "", html)  # inline markup inside a word or name
    return re.sub(r"<[^>]+>", " ", html)


def _no_data(html: str) -> str:
    """``html`` without its data URIs (base64 text may spell anything, e.g. "http")."""
    return re.sub(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+", "data:", html)


def _h2(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, flags=re.S)]


# ------------------------------------------------------------------ structure
def test_sections_in_order(rep):
    heads = _h2(rep.html)
    assert heads[0] == "目录"
    assert heads[1:] == SECTIONS_ZH
    h3 = re.findall(r"<h3>(.*?)</h3>", rep.html)
    assert [h.split("　")[-1] for h in h3[-3:]] == ["数据质量", "方法说明", "可复现信息"]
    assert "2016年度" in rep.html


def test_figures_numbered_embedded_and_counted(rep):
    figs = re.findall(r'<figure id="fig-(\d+)"[^>]*><img src="([^"]+)"', rep.html)
    pngs = sorted(rep.analysis.glob("*/figures/*.png"))
    assert len(figs) == len(pngs) and len(figs) >= 4  # every chart of every chapter, each once
    assert [int(n) for n, _ in figs] == list(range(1, len(figs) + 1))
    assert all(src.startswith("data:image/png;base64,") for _, src in figs)
    caps = re.findall(r"<figcaption>图 (\d+)　", rep.html)
    assert [int(c) for c in caps] == list(range(1, len(figs) + 1))
    tabs = [int(n) for n in re.findall(r'<div class="tabcaption">表 (\d+)　', rep.html)]
    assert tabs == list(range(1, len(tabs) + 1)) and len(tabs) >= 8


def test_self_contained_no_code_no_prompts(rep):
    html = rep.html
    assert not re.search(r"https?://|file:|//cdn|<script|<link ", _no_data(html))
    for m in re.finditer(r'(?:src|href)="([^"]+)"', html):
        assert m.group(1).startswith(("data:image/png;base64,", "#", "bulletin_H1.html", "units/index.html")), m.group(1)
    text = _text(html)
    for bad in ("In [", "Out[", ">>>", "import ", "def ", "Traceback", "pipeline.", "HEADLINE", "print("):
        assert bad not in text, bad


def test_findings_have_evidence_and_recommendations(rep):
    html = rep.html
    prob = html[html.index('id="problems"'):html.index('id="recommend"')]
    rec = html[html.index('id="recommend"'):html.index('id="appendix"')]
    n_prob = len(re.findall(r'class="finding', prob))
    n_rec = len(re.findall(r'class="finding', rec))
    assert n_prob == n_rec
    if n_prob == 0:
        assert "未显示值得注意的问题" in prob
    for i in range(1, n_prob + 1):
        assert f"问题{i}" in prob and f"针对问题{i}" in rec
    # every evidence reference points at an existing figure/table number
    figs = {int(n) for n in re.findall(r'<figure id="fig-(\d+)"', html)}
    tabs = {int(n) for n in re.findall(r'<div class="tablewrap[^"]*" id="tab-(\d+)"', html)}
    for kind, n in re.findall(r"(图|表)(\d+)", "".join(re.findall(r'<p class="evidence">(.*?)</p>', prob))):
        assert int(n) in (figs if kind == "图" else tabs)
    assert "{" not in _text(prob + rec)


def test_abstract_numbers_match_totals(rep, world):
    totals = pd.read_parquet(world.processed / "totals.parquet")
    g = totals[totals["year"] == YEAR]
    abstract = rep.html[rep.html.index('id="abstract"'):rep.html.index('id="overview"')]
    # numbers in the abstract are recomputed here from the processed totals (independent path)
    assert f"共有 {len(g)} 个单位" in abstract
    assert f"平均得分率 {g['pct_of_max'].mean():.1f}%" in abstract
    cut = g.loc[g["rank"] <= 20, "total"].min()
    assert f"{cut:.2f} 分" in abstract


# ------------------------------------------------------------------ PDF
def _pdf_streams(data: bytes):
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, flags=re.S):
        try:
            yield zlib.decompress(m.group(1))
        except zlib.error:
            yield m.group(1)


def test_pdf_exists_with_embedded_cjk_font(rep):
    data = (rep.dest / "report.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 50_000
    blob = data + b"".join(_pdf_streams(data))
    assert re.search(rb"/FontFile[23]?\b", blob), "no embedded font program"
    assert b"NotoSansCJKsc" in blob, "CJK font not referenced"
    assert re.search(rb"/CIDFontType0|/CIDFontType2", blob)


# ------------------------------------------------------------------ tables.xlsx, manifest
def test_xlsx_sheets_headers_frozen_and_guarded(rep):
    from openpyxl import load_workbook

    wb = load_workbook(rep.dest / "tables.xlsx")
    assert len(wb.sheetnames) >= 8
    names = " ".join(wb.sheetnames)
    assert "总分排名" in names and "问题与对策一览" in names
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws.cell(1, 1).font.b
        for row in ws.iter_rows(values_only=True):
            for v in row:
                assert not (isinstance(v, str) and v.startswith(("=", "+", "@"))), v
    rk = wb[[n for n in wb.sheetnames if "总分排名" in n][0]]
    head = [c.value for c in rk[1]]
    assert "单位名称" in head and "名次" in head and "总分" in head
    assert rk.max_row - 1 == 74 or rk.max_row - 1 > 60


def test_xlsx_formula_guard_and_bytes_stable(tmp_path):
    df = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "ok"], "v": [-1.5, 2.0, np.nan]})
    a = report.write_xlsx([("t", df)], tmp_path / "a.xlsx")
    b = report.write_xlsx([("t", df)], tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()
    from openpyxl import load_workbook

    ws = load_workbook(a)["t"]
    assert ws["A2"].value == "'=HYPERLINK(\"x\")" and ws["A3"].value == "'+1"
    assert ws["B2"].value == -1.5  # numbers untouched


def test_manifest(rep, world):
    man = json.loads((rep.dest / "manifest.json").read_text(encoding="utf-8"))
    assert set(man) >= {"created_utc", "parameters", "inputs", "versions", "git_commit", "wall_time_s"}
    raw_files = sorted(p for p in Path(world.raw).rglob("*") if p.is_file())
    by_path = {Path(i["path"]).name + str(i["bytes"]): i["sha256"] for i in man["inputs"]}
    for p in raw_files[:5]:
        assert by_path[p.name + str(p.stat().st_size)] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert man["parameters"]["year"] == YEAR and man["parameters"]["n_samples"] == 400
    assert man["versions"]["pandas"] == pd.__version__
    assert "pdf" in man["wall_time_s"] and man["wall_time_s"]["build_year"] > 0


# ------------------------------------------------------------------ bulletin and unit pages
def test_bulletin_table_hand_case():
    items = pd.DataFrame({"year": 2015, "item_id": ["I01", "I02"], "max_points": [12.0, 24.0]})
    rows = []
    for m in range(1, 13):
        rows.append({"year": 2015, "period": str(m), "unit_id": "A", "item_id": "I01", "points": 1.0, "status": "ok"})
        rows.append({"year": 2015, "period": str(m), "unit_id": "A", "item_id": "I02", "points": 2.0, "status": "ok"})
        rows.append({"year": 2015, "period": str(m), "unit_id": "B", "item_id": "I01", "points": 0.5, "status": "ok"})
        rows.append({"year": 2015, "period": str(m), "unit_id": "B", "item_id": "I02", "points": np.nan, "status": "na"})
    scores = pd.DataFrame(rows)
    totals = pd.DataFrame({"year": 2015, "unit_id": ["A", "B"], "rank": [1, 2]})
    b = report.bulletin_table(scores, items, totals, 2015).set_index("unit_id")
    # against the annual maxima of the items that apply (hand computation, as in test_pages):
    # A: 6 × (1 + 2) = 18 of 12 + 24 = 36 → 50 %; B: 6 × 0.5 = 3 of 12 (I02 n/a) → 25 %
    assert b.loc["A", "h1_points"] == 18 and b.loc["A", "h1_max"] == 36 and b.loc["A", "h1_pct"] == 50
    assert b.loc["B", "h1_points"] == 3 and b.loc["B", "h1_max"] == 12 and b.loc["B", "h1_pct"] == 25
    assert b.loc["A", "h1_rank"] == 1 and b.loc["B", "h1_rank"] == 2 and b.loc["A", "months"] == 6
    assert report.bulletin_table(scores[scores["period"] == "7"], items, totals, 2015).empty


def test_bulletin_and_unit_pages(rep, world):
    bul = (rep.dest / "bulletin_H1.html").read_text(encoding="utf-8")
    assert "上半年" in bul and "<table" in bul and not re.search(r"https?:|file:", _no_data(bul))
    totals = pd.read_parquet(world.processed / "totals.parquet")
    ids = sorted(totals.loc[totals["year"] == YEAR, "unit_id"])
    pages = sorted(p.stem for p in (rep.dest / "units").glob("*.html") if p.stem != "index")
    assert pages == ids
    units = pd.read_parquet(world.processed / "units.parquet").set_index("unit_id")
    page = (rep.dest / "units" / f"{ids[0]}.html").read_text(encoding="utf-8")
    assert units.loc[ids[0], "name"] in page
    assert page.count("<svg") == 3  # radar + rank + % of max trajectories
    for h in ("本年度位置", "六个维度", "历年名次", "名次区间", "数据真实性提示"):
        assert h in page


# ------------------------------------------------------------------ determinism
def test_two_runs_give_identical_numbers(rep):
    again = rep.tmp / "again"
    dest = report.build_year(rep.prm, out=again, analysis=rep.analysis.parent, pdf=False)
    assert (dest / "tables.xlsx").read_bytes() == (rep.dest / "tables.xlsx").read_bytes()
    # the git commit may move between the two runs (the lead commits); everything else is equal
    mask = lambda h: re.sub(r"commit）：[0-9a-f]+|commit\): [0-9a-f]+", "commit", h)  # noqa: E731
    assert mask((dest / "report.html").read_text(encoding="utf-8")) == mask(rep.html)
    assert (dest / "bulletin_H1.html").read_bytes() == (rep.dest / "bulletin_H1.html").read_bytes()


def test_report_split_in_two_parts_gives_the_same_documents(rep):
    """``build_year(part="pdf")`` and ``part="main"`` (two workers sharing the last report of a
    run) write together what one ``part="all"`` build writes: the same HTML, workbook, bulletin,
    numbers and ranking, and a PDF with as many pages; the PDF part writes ``report.pdf`` alone.
    Expected: the fixture's single build of the same year from the same records."""
    split = rep.tmp / "split"
    dest = report.build_year(rep.prm, out=split, analysis=rep.analysis.parent, part="pdf")
    assert sorted(p.name for p in dest.iterdir()) == ["report.pdf"]
    report.build_year(rep.prm, out=split, analysis=rep.analysis.parent, part="main")
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in rep.dest.iterdir() if p.name not in ("en", "executed"))  # executed: analyze's
    for f in ("tables.xlsx", "bulletin_H1.html", "numbers.json", "ranking.csv"):
        assert (dest / f).read_bytes() == (rep.dest / f).read_bytes(), f
    mask = lambda h: re.sub(r"commit）：[0-9a-f]+|commit\): [0-9a-f]+", "commit", h)  # noqa: E731
    assert mask((dest / "report.html").read_text(encoding="utf-8")) == mask(rep.html)
    pages = lambda b: len(re.findall(rb"/Type\s*/Page\b", b + b"".join(_pdf_streams(b))))  # noqa: E731
    assert pages((dest / "report.pdf").read_bytes()) == pages((rep.dest / "report.pdf").read_bytes()) > 10
    with pytest.raises(ValueError, match="part"):
        report.build_year(rep.prm, out=split, analysis=rep.analysis.parent, part="both")


# ------------------------------------------------------------------ English edition
@pytest.mark.slow  # analyses and renders the year a second time (in English)
def test_english_report_has_no_untranslated_labels(rep_en, world):
    units = pd.read_parquet(world.processed / "units.parquet")
    names = sorted(set(units["name"]) | {a for s in units["aliases"].dropna() for a in str(s).split(";") if a}, key=len, reverse=True)
    html = rep_en.html
    assert _h2(html)[1:] == SECTIONS_EN
    # prose, captions and headers are English; table cells may hold data as written in the
    # workbooks (unit and file names, notes, quoted grade words), which both editions show
    text = _text(_WORKBOOK_TOKEN.sub("", re.sub(r"<td[^>]*>.*?</td>", " ", html, flags=re.S)))
    for n in names:
        text = text.replace(n, "")
    left = sorted(set(CJK.findall(text)))
    assert not left, f"CJK characters left in the English report: {''.join(left[:40])}"
    for page in [rep_en.dest / "bulletin_H1.html", *sorted((rep_en.dest / "units").glob("*.html"))[:5]]:
        t = _text(page.read_text(encoding="utf-8"))
        for n in names:
            t = t.replace(n, "")
        assert not CJK.search(t), page.name


#: A workbook word quoted in English text (“分”, 好/较好/一般): data as written, not a label.
_WORKBOOK_TOKEN = re.compile(r"“[^”]*”|好/较好/一般")


def _tables(html: str) -> list[tuple[list[str], list[list[str]]]]:
    """(headers, rows of cell texts) of every data table of a page, in order."""
    out = []
    for tab in re.findall(r'<table class="data[^"]*">(.*?)</table>', html, flags=re.S):
        heads = [_text(h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", tab, flags=re.S)]
        rows = [[_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)] for r in re.findall(r"<tr>(.*?)</tr>", tab, flags=re.S)]
        out.append((heads, [r for r in rows if r]))
    return out


@pytest.mark.slow  # uses the English fixture
def test_both_editions_side_by_side_with_the_same_columns(rep, rep_en):
    # the English run did not overwrite the Chinese edition: same file names, own folder
    assert rep_en.dest == rep.dest / "en"
    zh_html = (rep.dest / "report.html").read_text(encoding="utf-8")
    assert _h2(zh_html)[1:] == SECTIONS_ZH and _h2(rep_en.html)[1:] == SECTIONS_EN
    for name in ("report.html", "tables.xlsx", "ranking.csv", "numbers.json", "bulletin_H1.html", "units/index.html"):
        assert (rep.dest / name).exists() and (rep_en.dest / name).exists(), name
    assert (rep.dest / "ranking.csv").read_bytes() == (rep_en.dest / "ranking.csv").read_bytes()  # numbers do not depend on the language
    zh, en = _tables(zh_html), _tables(rep_en.html)
    assert len(zh) == len(en) and len(zh) >= 10
    for i, ((hz, rz), (he, re_)) in enumerate(zip(zh, en)):
        # every table: the same number of columns and rows in both editions, no empty header
        assert len(hz) == len(he) and len(rz) == len(re_), (i, hz, he)
        assert all(hz) and all(he), (i, hz, he)
        for j in range(len(he)):  # no column empty in one edition only (e.g. rule, value, path)
            assert any(r[j] for r in rz) == any(r[j] for r in re_), (i, hz[j], he[j])
    # the three tables the first English edition lost: cleaning log by rule, parameters, input files
    by_head = {tuple(h): rows for h, rows in en}
    assert any("Rule" in h and "Count" in h for h in by_head), list(by_head)[:5]
    params_tab = next(rows for h, rows in by_head.items() if "Parameter" in h)
    assert all(len(r) == 2 and r[1] for r in params_tab)  # every parameter with its value
    inputs_tab = next(rows for h, rows in by_head.items() if any("SHA" in x for x in h))
    assert all(r[0] and len(r[1]) == 64 for r in inputs_tab)  # path and hash


@pytest.mark.slow  # uses the English fixture's chapter records
def test_cli_report_lang_en_has_every_column_filled(rep, rep_en, world, tmp_path, capsys):
    """``python -m pipeline report --lang en``: the CLI is the boundary that sets the language
    (:func:`pipeline.i18n.use`); the English edition it writes has every table's columns,
    each with a header and at least one non-empty cell, the same tables as the Chinese one, and
    the caller's language is Chinese again afterwards."""
    from pipeline import cli, i18n

    proc = tmp_path / "processed"
    shutil.copytree(rep.tmp / "processed", proc, ignore=shutil.ignore_patterns("analysis*"))
    shutil.copytree(rep_en.analysis.parent, proc / "analysis_en")  # the records `analyze --lang en` writes
    pfile = tmp_path / "p.yaml"
    pfile.write_text(f"processed: {proc.as_posix()}\nn_samples: 400\nn_sobol: 64\n", encoding="utf-8")
    out = tmp_path / "reports"
    assert cli.main(["report", "--year", str(YEAR), "--lang", "en", "--raw", str(world.raw), "--params", str(pfile), "--out", str(out)]) == 0
    assert i18n.current() == "zh"
    dest = out / str(YEAR) / "en"
    html = (dest / "report.html").read_text(encoding="utf-8")
    assert _h2(html)[1:] == SECTIONS_EN
    en, zh = _tables(html), _tables(rep.html)
    assert len(en) == len(zh) >= 10
    for i, ((he, re_), (hz, _)) in enumerate(zip(en, zh)):
        assert len(he) == len(hz) and all(he), (i, he, hz)
        for j in range(len(he)):
            assert any(r[j].strip() for r in re_), (i, he[j])  # no English column left empty
        assert not any(CJK.search(h) for h in he), (i, he)  # headers in English


def test_ranking_csv_and_numbers_json(rep, world):
    # an independent recomputation from the processed totals (default parameters here)
    totals = pd.read_parquet(world.processed / "totals.parquet")
    g = totals[totals["year"] == YEAR].sort_values(["rank", "unit_id"])
    rk = pd.read_csv(rep.dest / "ranking.csv", encoding="utf-8-sig", dtype={"unit_id": str})
    assert list(rk.columns) == ["year", "unit_id", "name", "raw_total", "adjustment", "total", "rank", "is_winner"]
    assert rk["unit_id"].tolist() == g["unit_id"].tolist() and rk["rank"].tolist() == g["rank"].tolist()
    assert np.allclose(rk["total"], g["total"], atol=1e-6) and rk["is_winner"].tolist() == g["is_winner"].tolist()
    nums = json.loads((rep.dest / "numbers.json").read_text(encoding="utf-8"))
    p = g["pct_of_max"]
    assert nums["n_units"] == len(g) and nums["n_winners"] == int(g["is_winner"].sum()) and nums["top_n"] == 20
    assert nums["cut"] == pytest.approx(g.loc[g["rank"] <= 20, "total"].min())
    assert nums["mean_pct"] == pytest.approx(p.mean()) and nums["sd_pct"] == pytest.approx(p.std())
    assert nums["max_pct"] == pytest.approx(p.max()) and nums["min_pct"] == pytest.approx(p.min())
    # every number of the abstract's first two sentences is in numbers.json, as printed
    abstract = _text(rep.html[rep.html.index('id="abstract"'):rep.html.index('id="overview"')])
    for key, fmt in (("mean_pct", ".1f"), ("sd_pct", ".2f"), ("max_pct", ".1f"), ("min_pct", ".1f"), ("cut", ".2f")):
        assert format(nums[key], fmt) in abstract, key
    assert nums["chapters"]["01-overview"]["n_units"] == len(g)


def _expected_totals(processed: Path, year: int, top_n: int, grade_map: dict) -> pd.DataFrame:
    """Totals under ``na_policy: zero`` computed here with plain pandas (not pipeline.score): the
    earned points of applicable cells, graded cells as grade_map[grade] × max, plus the verified
    述职评议 adjustment; competition ranks ("1224", scipy rankdata method="min")."""
    from scipy.stats import rankdata

    sc = pd.read_parquet(processed / "scores.parquet")
    it = pd.read_parquet(processed / "items.parquet")
    adj = pd.read_parquet(processed / "adjustments.parquet")
    s = sc[(sc["year"] == year) & (sc["period"] == "Y")].merge(it[it["year"] == year][["item_id", "max_points", "method"]], on="item_id")
    graded = (s["method"] == "grade") & s["grade"].isin(list(grade_map))
    pts = np.where(graded, s["grade"].map(grade_map).astype(float) * s["max_points"], s["points"].astype(float))
    s["earned"] = np.where(s["status"] == "ok", pts, 0.0)
    t = s.groupby("unit_id")["earned"].sum().rename("raw").to_frame()
    t["adjustment"] = adj[adj["year"] == year].groupby("unit_id")["adjustment"].sum().reindex(t.index).fillna(0.0)
    t["total"] = t["raw"] + t["adjustment"]
    t["rank"] = rankdata(-t["total"].round(6), method="min").astype(int)
    t["is_winner"] = t["rank"] <= top_n
    t["pct"] = 100 * t["total"] / it[it["year"] == year]["max_points"].sum()
    return t


@pytest.mark.slow  # analyses the year a second time under other parameters
def test_non_default_parameters_reach_every_document(rep, tmp_path):
    from openpyxl import load_workbook

    gm = {"好": 1.0, "较好": 0.7, "一般": 0.4}
    prm = params.load(None, year=YEAR, raw=rep.prm.raw, processed=rep.prm.processed, reports=str(tmp_path / "reports"), n_samples=400, n_sobol=64,
                      top_n=15, na_policy="zero", grade_map=gm)
    report.analyze(prm, out=tmp_path / "analysis")
    dest = report.build_year(prm, analysis=tmp_path / "analysis", pdf=False)
    exp = _expected_totals(Path(rep.prm.processed), YEAR, 15, gm)
    n_win, cut = int(exp["is_winner"].sum()), float(exp.loc[exp["is_winner"], "total"].min())
    default = pd.read_parquet(Path(rep.prm.processed) / "totals.parquet")
    assert not np.allclose(exp["total"].sort_index(), default[default["year"] == YEAR].set_index("unit_id")["total"].sort_index())  # the parameters matter
    # numbers.json and ranking.csv
    nums = json.loads((dest / "numbers.json").read_text(encoding="utf-8"))
    assert (nums["top_n"], nums["na_policy"], nums["grade_map"]) == (15, "zero", gm)
    assert nums["n_winners"] == n_win and nums["cut"] == pytest.approx(cut) and nums["mean_pct"] == pytest.approx(exp["pct"].mean())
    rk = pd.read_csv(dest / "ranking.csv", encoding="utf-8-sig", dtype={"unit_id": str}).set_index("unit_id")
    assert np.allclose(rk["total"], exp.loc[rk.index, "total"], atol=1e-6)
    assert (rk["rank"] == exp.loc[rk.index, "rank"]).all() and (rk["is_winner"] == exp.loc[rk.index, "is_winner"]).all()
    # the abstract and the chapters
    html = (dest / "report.html").read_text(encoding="utf-8")
    abstract = _text(html[html.index('id="abstract"'):html.index('id="overview"')])
    assert f"排名前 15 位的 {n_win} 个单位为优胜单位，入围分数线为 {cut:.2f} 分" in abstract
    assert f"平均得分率 {exp['pct'].mean():.1f}%" in abstract
    rec = json.loads((tmp_path / "analysis" / str(YEAR) / "02-horizontal" / "record.json").read_text(encoding="utf-8"))
    assert sorted(rec["headline"]["winners"]) == sorted(exp.index[exp["is_winner"]])
    assert rec["parameters"]["top_n"] == 15 and rec["parameters"]["grade_map"] == gm
    # tables.xlsx: the ranking sheet and the distribution table of chapter 一
    wb = load_workbook(dest / "tables.xlsx")
    ws = wb[next(n for n in wb.sheetnames if "总分排名" in n)]
    head = [c.value for c in ws[1]]
    rows = [dict(zip(head, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert sum(1 for r in rows if r["优胜"]) == n_win
    assert {r["单位编号"]: round(r["总分"], 6) for r in rows} == {u: round(v, 6) for u, v in exp["total"].items()}
    ws = wb[next(n for n in wb.sheetnames if "总分分布统计" in n)]
    stat = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert stat["优胜单位数"] == n_win and stat["优胜分数线（分）"] == pytest.approx(cut)
    # the bulletin and the unit pages
    bul = _text((dest / "bulletin_H1.html").read_text(encoding="utf-8"))
    assert "前 15 名中有" in bul and "前 20 名" not in bul
    for uid, r in exp.iterrows():
        page = _text((dest / "units" / f"{uid}.html").read_text(encoding="utf-8"))
        assert f"总分 {r['total']:.2f} 分" in page and f"排名第 {r['rank']} 位" in page, uid
        assert ("为优胜单位" if r["is_winner"] else "未进入优胜单位") in page and f"{r['total'] - cut:+.2f} 分" in page, uid
    # a record of other parameters is refused, never mixed into this run's documents
    with pytest.raises(PipelineError, match="chapter record written with top_n=15, this run has top_n=20"):
        report.build_year(rep.prm, out=tmp_path / "mixed", analysis=tmp_path / "analysis", pdf=False)


# ------------------------------------------------------------------ failures
def test_missing_chapter_is_an_error_without_the_flag(rep, tmp_path):
    # no chapter record: one line naming the record and the command that writes it, no recomputation
    with pytest.raises(PipelineError, match=r"01-overview/record\.json: chapter record not found — run `python -m pipeline analyze --year 2016`"):
        report.build_year(rep.prm, out=tmp_path, analysis=tmp_path / "nowhere", pdf=False)
    assert not (tmp_path / str(YEAR) / "report.html").exists()


def test_failing_notebook_names_notebook_and_cell(tmp_path, world):
    # an empty processed folder: the notebook's parameter validation fails in a known cell
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "items.parquet").write_bytes(b"")
    prm = params.Params(year=YEAR, processed=str(world.processed), reports=str(tmp_path / "reports"))
    executed = tmp_path / "reports" / "x.ipynb"
    bad = rrun._nb_params(prm, YEAR, "01-overview", tmp_path / "out")
    bad["processed"] = str(tmp_path / "processed")
    with pytest.raises(PipelineError) as err:
        rrun._run_jobs([("01-overview", str(executed), bad)], workers=1)
    msg = str(err.value)
    assert "01-overview" in msg and "cell" in msg and "\n" not in msg
    assert executed.exists()  # left for inspection


def test_overview_helpers_hand_case():
    totals = pd.DataFrame({"year": 2015, "unit_id": list("ABCD"), "total": [96.0, 90.0, 80.0, 70.0], "pct_of_max": [96.0, 90.0, 80.0, 70.0],
                           "rank": [1, 2, 3, 4], "is_winner": [True, True, False, False], "adjustment": [0.0, 1.0, 0.0, 0.0], "n_na": 0, "n_missing": [0, 0, 1, 0],
                           "cat_ideology": [20.0, 18.0, 10.0, 10.0], "cat_organisation": 30.0, "cat_conduct": 20.0, "cat_special": 10.0})
    s = overview.overview_stats(totals, 2015, top_n=2).set_index("statistic")["value"]
    assert s["mean"] == 84 and s["cut"] == 90 and s["n_adjusted"] == 1 and s["n_missing"] == 1 and s["share_ceiling"] == 0.25
    items = pd.DataFrame({"year": 2015, "category": ["ideology", "organisation", "conduct", "special"], "max_points": [20.0, 40.0, 30.0, 10.0]})
    p = overview.category_profile(totals, items, 2015).set_index("category")
    # ideology: winners (20, 18)/20 → 95 %, others (10, 10)/20 → 50 %, gap 45 (hand)
    assert p.loc["ideology", "winners"] == 95 and p.loc["ideology", "others"] == 50 and p.loc["ideology", "gap"] == 45
    assert p.loc["organisation", "all"] == 75
    assert "ideology" not in in_lang("en", overview.overview_reading, "profile", profile=p.reset_index())  # category labels translated


# ------------------------------------------------------------------ English names of items, translation of tables
def test_item_names_english_or_item_id():
    from pipeline.i18n import labels

    items = pd.DataFrame({"year": [2015, 2016, 2016], "item_id": ["I03", "I19", "I07"], "item_name": ["志愿服务", "志愿服务", "某新设项目"]})
    en = in_lang("en", rdoc._item_display, items)
    #志愿服务 has an English name in labels/items.yaml; an item no file knows is shown by its id
    assert en["志愿服务"] == in_lang("en", labels)["item_志愿服务"] == "Volunteer service"
    assert en["某新设项目"] == "Item I07"
    assert in_lang("zh", rdoc._item_display, items) == {}
    name = namer(items=items[items["year"] == 2016].set_index("item_id"))  # names in the language active when called
    assert in_lang("en", name, "item", "I19") == "I19 Volunteer service" and in_lang("en", name, "item", "I07") == "Item I07"
    assert name("item", "I19") == "I19 志愿服务"


def test_items_yaml_covers_the_sample_item_pool():
    from pipeline.i18n import labels
    from pipeline.synth_names import ITEMS

    en = in_lang("en", labels)
    missing = [name for name, *_ in ITEMS if f"item_{name}" not in en]
    assert not missing, missing
    assert not any(CJK.search(en[f"item_{name}"]) for name, *_ in ITEMS)


def test_display_translates_headers_codes_and_item_names():
    df = pd.DataFrame({"attribute": ["sector", "size"], "group": ["经济", "small"], "scheme": ["bod", "pca"], "factor": ["w_conduct", "na_policy"],
                       "item_name": ["志愿服务", "三会一课"], "evidence": ["workbook 总分 79.60 vs recomputed 82.20", "ok"], "p_holm": [0.01234, 0.5]})
    with i18n.use("en"):
        subst = rdoc._english_subst(pd.DataFrame({"year": 2016, "item_id": ["I19", "I07"], "item_name": ["志愿服务", "三会一课"]}))
        en = rdoc._display(df, subst)
    assert list(en.columns) == ["Grouped by", "Group", "Scheme", "Factor", "Item", "Evidence", "p (Holm)"]
    assert en["Group"].tolist() == ["Economy", "Small (bottom third by members)"]
    assert en["Scheme"].tolist() == ["Benefit of the doubt", "PCA-based"] and en["Factor"].tolist() == ["Conduct", "NA rule"]
    assert en["Item"].tolist() == ["Volunteer service", "“Three meetings, one lesson”"]
    assert en["Evidence"].iloc[0] == "workbook total 79.60 vs recomputed 82.20"
    zh = rdoc._display(df)
    assert list(zh.columns)[:3] == ["分组依据", "组别", "权重方案"] and zh["组别"].tolist() == ["经济", "小（党员数后三分之一）"]
    assert not any(re.fullmatch(r"[a-z_ ]+", c) for c in zh.columns)  # no raw column names in Chinese


def test_every_column_of_every_chapter_table_has_a_header_label(rep):
    from pipeline.i18n import labels

    zh, en = in_lang("zh", labels), in_lang("en", labels)
    raw = set()
    for p in rep.analysis.glob("*/tables/*.parquet"):
        for c in pd.read_parquet(p).columns:
            if not any(k in zh and k in en for k in (f"rep_col_{c}", c)):
                raw.add(f"{p.stem}.{c}")
    assert not raw, sorted(raw)


def test_template_variables_are_strict():
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        rrender._render("bulletin.html", {"lang": "zh", "title": "x", "paras": [], "table": "", "caption": "", "back": "b"})  # no back_href


def test_pdf_uses_only_the_cjk_font(rep):
    # every glyph comes from Noto Sans CJK SC: no system fallback font (e.g. DejaVu for ᵢ or x̄)
    data = (rep.dest / "report.pdf").read_bytes()
    blob = data + b"".join(_pdf_streams(data))
    names = set(re.findall(rb"/BaseFont\s*/([A-Z]{6}\+)?([\w-]+)", blob))
    assert names and all(n.startswith(b"NotoSansCJKsc") for _, n in names), names


def test_english_items_readable(rep_en):
    html = rep_en.html
    assert "Volunteer service" in html or "Item I" in html
    assert "志愿服务" not in html


def _study(r, tmp):
    # the year analysed by the fixture (a study reads every year's chapter records)
    dest = report.build_study(r.prm, years=(YEAR, YEAR), out=tmp, analysis=r.analysis.parent, pdf=False)
    return (dest / "report.html").read_text(encoding="utf-8")


def test_study_needs_the_records_of_every_year(rep, tmp_path):
    # 2015 was not analysed: the study says which record is missing instead of recomputing
    with pytest.raises(PipelineError, match=r"2015/01-overview/record\.json: chapter record not found"):
        report.build_study(rep.prm, years=(2015, 2016), out=tmp_path, analysis=rep.analysis.parent, pdf=False)


def test_study_sections_and_numbering(rep, tmp_path):
    html = _study(rep, tmp_path)
    assert _h2(html)[1:] == ["摘要", "一、历年总体情况", "二、系统趋势", "三、问题与不足", "四、对策建议", "附录"]
    figs = [int(n) for n in re.findall(r'<figure id="fig-(\d+)"', html)]
    tabs = [int(n) for n in re.findall(r'<div class="tablewrap[^"]*" id="tab-(\d+)"', html)]
    assert figs == list(range(1, len(figs) + 1)) and tabs == list(range(1, len(tabs) + 1)) and len(tabs) >= 3
    assert "{" not in _text(html) and "2016" in html


@pytest.mark.slow  # uses the English fixture
def test_study_in_english(rep_en, world, tmp_path):
    html = _study(rep_en, tmp_path)
    assert _h2(html)[1:] == ["Abstract", "1. The years at a glance", "2. System trends", "3. Problems and shortcomings", "4. Recommendations", "Appendix"]
    units = pd.read_parquet(world.processed / "units.parquet")
    text = _text(html)
    for n in sorted(set(units["name"]) | {a for s in units["aliases"].dropna() for a in str(s).split(";") if a}, key=len, reverse=True):
        text = text.replace(n, "")
    assert not CJK.search(text), sorted(set(CJK.findall(text)))[:20]


# ------------------------------------------------------------------ embedded font, tables, wording
def _embedded_font(html: str):
    """The font of the page's ``@font-face`` data URI, opened with fontTools."""
    import base64
    import io

    from fontTools.ttLib import TTFont

    m = re.search(r'@font-face \{ font-family: "NotoSansCJKsc"; src: url\(data:font/(woff2?);base64,([A-Za-z0-9+/=]+)\)', html)
    assert m, "no embedded @font-face"
    data = base64.b64decode(m.group(2))
    return TTFont(io.BytesIO(data)), len(data)


def test_html_pages_embed_a_cjk_font_covering_their_text(rep):
    # every character a reader sees must be in the embedded subset, else a reader without a
    # CJK font sees boxes; the subset must stay small (< 1.5 MB per page)
    pages = [rep.dest / "report.html", rep.dest / "bulletin_H1.html", rep.dest / "units" / "index.html",
             *sorted((rep.dest / "units").glob("U*.html"))[:3]]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        font, size = _embedded_font(html)
        assert size < 1_500_000, (page.name, size)
        cmap = font.getBestCmap()
        text = _text(re.sub(r"<svg", " <svg", html)) + " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", html))  # + SVG chart labels
        missing = sorted({c for c in text if CJK.match(c) and ord(c) not in cmap})
        assert not missing, (page.name, "".join(missing[:20]))
    # the unit pages share one subset: identical font bytes on every page
    a, b = (re.search(r"base64,([A-Za-z0-9+/=]{200})", (rep.dest / "units" / n).read_text(encoding="utf-8")).group(1) for n in ("index.html", sorted(p.name for p in (rep.dest / "units").glob("U*.html"))[0]))
    assert a == b


def test_integrity_table_names_units_and_items(rep, world):
    html = rep.html
    m = re.search(r'<div class="tabcaption">表 \d+　本年度数据真实性核查发现.*?</table>', html, flags=re.S)
    assert m, "integrity findings table missing"
    tab = m.group(0)
    integ = pd.read_csv(rep.prm.processed + "/integrity.csv", dtype=str, keep_default_na=False)
    iy = integ[integ["year"] == str(YEAR)]
    units = pd.read_parquet(world.processed / "units.parquet").set_index("unit_id")["name"]
    items = pd.read_parquet(world.processed / "items.parquet")
    items = items[items["year"] == YEAR].set_index("item_id")["item_name"]
    text = re.sub(r"<[^>]+>", "", tab)
    assert "单位名称" in text
    for uid in iy["unit_id"].loc[iy["unit_id"] != ""].head(25):
        assert units[uid] in text, uid  # the unit's registered name next to its id
    for iid in iy["item"].loc[iy["item"] != ""].head(25):
        assert items[iid] in text, iid  # "I23 <item name>", not the bare id


def test_headers_break_only_between_segments(rep):
    # a header cell is a run of no-wrap segments: "单位编号" can never become "单位编 / 号"
    heads = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", rep.html)
    assert len(heads) > 50
    for h in heads:
        assert re.fullmatch(r'(?:<span class="nw">[^<]+</span>(?:<wbr>| )?)+', h), h
    assert rdoc._seg_html("有效权重（η² 占比）") == '<span class="nw">有效权重</span><wbr><span class="nw">（η² 占比）</span>'
    assert rdoc._seg_html("名次95%分位") == '<span class="nw">名次95%分位</span>'
    assert rdoc._seg_html("Mean |Δrank|") == '<span class="nw">Mean</span> <span class="nw">|Δrank|</span>'


ZERO_CLAUSE = re.compile(r"(?<![\d.,])0 ?(?:条|个|项)")


def _prose(html: str, start: str, end: str) -> str:
    part = html[html.index(start):html.index(end)]
    return " ".join(re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<(?:p|li)[^>]*>(.*?)</(?:p|li)>", part, flags=re.S))


def test_report_prose_has_no_zero_count_clause(rep):
    # the report's own sentences (abstract, findings, examined aspects, the data-quality
    # summary) omit clauses about zero things ("0 条为年度层面的问题", "隔离 0 个", "提示 0 条");
    # the integrity chapter's own sentences in the appendix are that module's
    html = rep.html
    quality = [p for p in _prose(html, 'id="quality"', 'id="methods"').split("。") if p.strip().startswith(("数据清洗共记录", "数据真实性检查共产生", "所有数值"))]
    assert len(quality) >= 2
    for prose in (_prose(html, 'id="abstract"', 'id="overview"'), _prose(html, 'id="problems"', 'id="appendix"'), "。".join(quality)):
        assert prose.strip()
        m = ZERO_CLAUSE.search(prose)
        assert not m, prose[max(0, m.start() - 40):m.end() + 10]


def test_abstract_carries_the_headline_numbers(rep, world):
    abstract = rep.html[rep.html.index('id="abstract"'):rep.html.index('id="overview"')]
    paras = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", abstract, flags=re.S)]
    assert 3 <= len(paras) <= 5
    totals = pd.read_parquet(world.processed / "totals.parquet")
    g = totals[totals["year"] == YEAR]
    text = " ".join(paras)
    # sd of pct_of_max (pandas, ddof=1) and the winners: an independent recomputation
    assert f"标准差 {g['pct_of_max'].std():.2f} 个百分点" in text
    assert f"{int(g['is_winner'].sum())} 个单位为优胜单位" in text
    assert "组权重抽样下" in text  # robustness of the winners under weight uncertainty
    assert "数据真实性检查" in text and "个问题" in text


def test_problems_section_lists_examined_aspects(rep):
    prob = rep.html[rep.html.index('id="problems"'):rep.html.index('id="recommend"')]
    assert "未发现显著问题的方面" in prob
    items = re.findall(r'<ul class="examined">(.*?)</ul>', prob, flags=re.S)
    assert items and len(re.findall(r"<li>", items[0])) >= 3
    # each line carries numbers and points at its evidence
    for li in re.findall(r"<li>(.*?)</li>", items[0]):
        assert re.search(r"\d", li) and "{" not in li


@pytest.mark.slow  # uses the English fixture
def test_english_counts_agree(rep_en):
    text = _text(_no_data(rep_en.html))
    bad = re.findall(r"(?<![\d.,])1 (?:units|items|findings|winners|values|changes|results|groups|years)\b", text)
    assert not bad, bad


def test_integrity_evidence_follows_the_report_language(world, tmp_path):
    """integrity.csv (the ``check`` step) is written in Chinese (the default);
    ``pipeline.integrity.evidence_text`` re-renders its evidence in another language from
    ``evidence_data``. (The reports read the integrity chapter's record instead, whose findings are
    computed in the report's language: ``test_english_report_has_no_untranslated_labels``.)"""
    import re
    import shutil

    from pipeline import integrity

    proc = tmp_path / "processed"
    shutil.copytree(world.processed, proc)
    integrity.run(world.raw, proc)
    zh = rdata._read(proc, "integrity")
    en = in_lang("en", integrity.evidence_text, zh)
    assert len(zh) == len(en) > 0
    assert zh["evidence"].str.contains(r"[\u4e00-\u9fff]").any()
    assert in_lang("zh", integrity.evidence_text, zh).tolist() == zh["evidence"].tolist()  # zh round-trips
    assert not en.map(lambda s: bool(re.search(r"[\u4e00-\u9fff]", str(s)))).any()
