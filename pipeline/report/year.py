"""The year report ``reports/<year>/``: evidence for the findings, abstract, sections, appendix."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from pipeline import findings as F, score
from pipeline.errors import PipelineError
from pipeline.i18n import current, t
from pipeline.io import atomic_write
from pipeline.notebooks import jsonable
from pipeline.report.chapters import _body_table, _chapter, _chapter_blocks, _headline_rows
from pipeline.report.data import CHAPTERS, _analysis_root, _input_files, _load, _log, _n_samples, _span, _year_of, available_years, manifest, report_dir, run_language
from pipeline.report.document import _Doc, _english_subst, _join, _span_ctx, _unit_names
from pipeline.i18n import namer as _namer, tp as _tp
from pipeline.report.pages import bulletin_context, write_unit_pages
from pipeline.report.render import _embed_font, _font_chars, _render, _subset_font, _write_pdf, base_chars, write_xlsx


def _table(chapters: dict, chapter: str, name: str) -> pd.DataFrame:
    """Table ``name`` of a chapter record; a record without it is an error naming both."""
    ch = chapters.get(chapter)
    if ch is None or name not in ch["tables"]:
        where = ch["dir"] if ch is not None else chapter
        raise PipelineError(f"{where}: the chapter record has no table {name!r} — re-run `python -m pipeline analyze` with this version")
    return ch["tables"][name]


def _effective_from_chapter(tab: pd.DataFrame | None) -> pd.DataFrame | None:
    """The category rows of the weights chapter's ``sens_effective_weights`` in the shape that
    :func:`pipeline.findings.rule_effective_weights` reads (``effective_share`` = the r² share), so that the
    rule reads the very table the report shows as its evidence. None if it does not fit."""
    need = {"level", "category", "nominal_share", "r2_share"}
    if tab is None or not need <= set(tab.columns):
        return None
    d = tab.loc[tab["level"] == "category", ["category", "nominal_share", "r2_share"]].rename(columns={"r2_share": "effective_share"})
    if not len(d):
        return None
    d = d.assign(ratio=d["effective_share"] / d["nominal_share"]).reset_index(drop=True)
    return d


def _evidence(prm, data: dict, chapters: dict, year: int) -> dict:
    """The evidence of the findings rules (:func:`pipeline.findings.derive`): chapter record
    tables only, never a recomputation."""
    totals = data["totals"]
    groups = _table(chapters, "02-horizontal", "h_peer_groups")
    ev = {
        "items": _table(chapters, "02-horizontal", "h_items"),
        "system": _table(chapters, "03-vertical-trend", "v_system"),
        "effective_weights": _effective_from_chapter(_table(chapters, "04-weights", "sens_effective_weights")),
        "fairness": _table(chapters, "04-weights", "sens_fairness_tests"),
        "peer": F.peer_evidence(_table(chapters, "02-horizontal", "h_peer_tests"), groups, by="sector"),
        "persistence": _table(chapters, "03-vertical-trend", "v_persistence"),
        "ranking": totals.loc[totals["year"] == year, ["unit_id", "total", "rank", "is_winner", "pct_of_max", "adjustment"]],
        "uncertainty": _table(chapters, "04-weights", "sens_uncertainty"),
    }
    integ = data.get("integrity")
    if integ is not None and len(integ):
        integ = integ.copy()
        integ["year"] = pd.to_numeric(integ["year"], errors="coerce")
        ev["integrity"] = integ.loc[integ["year"] == year]
    q = data.get("quarantine")
    ev["n_quarantined"] = int(len(q)) if (q is not None and prm.allow_quarantine) else 0
    return ev


def _ranking_table(data: dict, year: int, top_n: int) -> pd.DataFrame:
    g = data["totals"].loc[data["totals"]["year"] == year].merge(data["units"][["unit_id", "name", "sector"]], on="unit_id", how="left")
    cut = float(g.loc[g["rank"] <= top_n, "total"].min())
    g = g.assign(gap=g["total"] - cut).sort_values(["rank", "unit_id"])
    return g[["rank", "unit_id", "name", "sector", "total", "pct_of_max", "adjustment", "gap", "is_winner"]].reset_index(drop=True)


def _quality_blocks(doc: _Doc, data: dict, prm, year: int, integrity_chapter: bool) -> list[dict]:
    """Appendix 数据质量: the year's cleaning log by rule (rows of its own files and of the
    registry), its quarantined values, the integrity counts (and, when the integrity chapter is
    absent, its summary tables)."""
    from pipeline.clean import file_year

    log, quar, integ = data.get("cleaning_log"), data.get("quarantine"), data.get("integrity")
    # the year's own files and the shared registry (units.csv): another year's rows are its report's
    log, quar = (None if d is None else d.loc[file_year(d["file"]).isna() | (file_year(d["file"]) == year)] for d in (log, quar))
    n_log = 0 if log is None else len(log)
    n_quar = 0 if quar is None else len(quar)
    blocks = [{"kind": "p", "text": _tp("rep_q_intro" if n_quar else "rep_q_intro_clean", n_log=n_log, n_quar=n_quar)}]
    if log is not None and len(log):
        by_rule = log.groupby("rule").size().rename("count").reset_index().sort_values(["count", "rule"], ascending=[False, True])
        blocks.append(doc.table(by_rule, t("rep_tabcap_quality"), key="quality"))
    if n_quar:
        if prm.allow_quarantine:
            blocks.append({"kind": "p", "text": t("rep_q_quarantine_used")})
        blocks.append(doc.table(quar, t("rep_tabcap_quarantine"), key="quarantine"))
    if integ is None:
        blocks.append({"kind": "p", "text": t("rep_q_integrity_missing")})
        return blocks
    iy = integ.loc[pd.to_numeric(integ["year"], errors="coerce") == year]
    sev = iy["severity"].value_counts()
    parts = _join([_tp(f"rep_q_sev_{k}", n=int(sev[k])) for k in F.SEVERITIES if int(sev.get(k, 0))])
    blocks.append({"kind": "p", "text": _tp("rep_q_integrity", n=len(iy), sev=parts) if len(iy) else t("rep_q_integrity_none")})
    if len(iy) and not integrity_chapter:
        summ = iy.pivot_table(index="check", columns="severity", values="year", aggfunc="count", fill_value=0).reindex(columns=list(F.SEVERITIES), fill_value=0).reset_index()
        blocks.append(doc.table(summ, t("rep_tabcap_integrity_summary"), key="integrity"))
        hi = iy.loc[iy["severity"] == "high"]
        if len(hi):
            cols = [c for c in ("unit_id", "item", "check", "statistic", "evidence") if c in hi]
            spec = {"names": "unit_id", "items": "item", "sort": (["check", "unit_id"], [True, True]), "cols": cols}
            blocks.append(doc.table(_body_table(hi[cols], spec, {}, doc.unit_lookup, doc.item_lookup), t("rep_tabcap_integrity_high"), key="integrity_list"))
    return blocks


def _methods_blocks(prm, doc=None) -> list[dict]:
    """The methods appendix: every estimator, design and prior (chapter 四's from
    :data:`pipeline.sensitivity.narrative.METHODS_KEYS`), then the integrity checks' measured
    false-alarm rates (:func:`pipeline.integrity.false_alarm_rates`, written by the calibration
    benchmark) as a sentence and, given ``doc``, as a table."""
    from pipeline import integrity
    from pipeline.sensitivity.narrative import METHODS_KEYS

    keys = ["rep_m_total", "rep_m_rank", "rep_m_dist", "rep_m_items", "rep_m_mc", *METHODS_KEYS, "rep_m_kw", "rep_m_rules"]
    fmt = dict(na_policy=prm.na_policy, top_n=prm.top_n, kappa=prm.kappa, p=prm.p, n_samples=prm.n_samples, n_perm=4999)
    blocks = [{"kind": "list", "items": [t(k, **fmt) for k in keys]},
              {"kind": "p", "text": integrity.calibration_sentence()}]
    if doc is not None:
        blocks.append(doc.table(integrity.false_alarm_rates(), t("rep_tabcap_int_calibration"), key="int_calibration", max_rows=40))
    return blocks


def _severity_counts(found: list) -> str:
    """"严重 1 个、中等 2 个" / "1 high, 2 medium": non-zero severities only."""
    return _join([_tp(f"rep_abs_sev_{sv}", n=sum(f.severity == sv for f in found)) for sv in F.SEVERITIES
                  if any(f.severity == sv for f in found)])


def _integrity_top(integ: pd.DataFrame | None, namer, k: int = 3) -> str:
    """The ``k`` first high-severity integrity findings as "unit (check)" phrases."""
    if integ is None or not len(integ):
        return ""
    hi = integ.loc[integ["severity"] == "high"].copy()
    hi["_u"] = hi["unit_id"].astype("string").fillna("").str.strip() if "unit_id" in hi else ""
    hi = hi.sort_values(["check", "_u"], kind="mergesort").head(k)
    out = []
    for r in hi.to_dict("records"):
        check = namer("check", r["check"])
        item = str(r.get("item") or "").strip() if not pd.isna(r.get("item")) else ""
        what = t("rep_abs_int_item", item=namer("item", item), check=check) if item else check
        out.append(t("rep_abs_int_unit", unit=namer("unit", r["_u"]), what=what) if r["_u"] else t("rep_abs_int_year", what=what))
    return _join(out)


def year_numbers(prm, chapters: dict, ev: dict, year: int, found: list, ok: list) -> dict:
    """Every number the prose of the year report cites, by key (``reports/<year>/numbers.json``).

    Each value is read from a chapter record (see ``docs/numbers.md`` for the record key and
    the function that computes it) or counts the findings; nothing is recomputed here.

    Returns
    -------
    dict
        ``year``, the run's ``top_n`` / ``na_policy`` / ``grade_map``; from the overview record:
        ``n_units``, ``n_winners``, ``cut`` (total of the lowest-ranked winner), ``n_near_cut``
        (units within 0.5 points of it), ``mean_pct``, ``median_pct``, ``sd_pct``, ``max_pct``,
        ``min_pct``; from the weights record: ``n_samples``, ``n_winners_mc`` (nominal winners),
        ``n_stable`` (p_winner ≥ 0.8), ``n_unstable``; from the integrity table: ``n_integrity``,
        ``n_integrity_high``; ``n_findings``, ``n_examined`` and ``n_findings_<severity>``;
        ``findings`` / ``examined``: each rule's printed numbers (``rule``, ``severity``,
        ``values``); ``chapters``: every chapter record's headline numbers.
    """
    h = chapters["01-overview"]["headline"]
    nums: dict = {"year": int(year), "top_n": int(prm.top_n), "na_policy": prm.na_policy, "grade_map": dict(prm.grade_map)}
    for k in ("n_units", "n_winners", "cut", "n_near_cut", "mean_pct", "median_pct", "sd_pct", "max_pct", "min_pct"):
        nums[k] = h[k]
    unc = ev.get("uncertainty")
    nums["n_samples"] = int(chapters["04-weights"]["parameters"].get("n_samples", prm.n_samples))
    if unc is not None and len(unc):
        win = unc.loc[unc["nominal_rank"] <= prm.top_n]
        nums["n_winners_mc"] = int(len(win))
        nums["n_unstable"] = int((win["p_winner"] < 0.8).sum())
        nums["n_stable"] = nums["n_winners_mc"] - nums["n_unstable"]
    integ = ev.get("integrity")
    if integ is not None:
        nums["n_integrity"] = int(len(integ))
        nums["n_integrity_high"] = int((integ["severity"] == "high").sum())
    nums["n_findings"] = len(found)
    nums["n_examined"] = len(ok)
    for sv in F.SEVERITIES:
        nums[f"n_findings_{sv}"] = sum(f.severity == sv for f in found)
    # the numbers each finding and each examined aspect prints (五、问题与不足), in report order
    nums["findings"] = [{"rule": f.rule, "severity": f.severity, "values": jsonable(f.values)} for f in found]
    nums["examined"] = [{"rule": f.rule, "values": jsonable(f.values)} for f in ok]
    nums["chapters"] = {c: (chapters[c] or {}).get("headline", {}) for c in CHAPTERS}
    return nums


def _abstract(prm, nums: dict, found: list, unc: pd.DataFrame | None, ev: dict, namer) -> list[str]:
    """The 摘要: 4–5 sentences carrying the headline numbers of :func:`year_numbers`.

    Units, mean, sd and range; winners and the cut (with the bunching at the cut); how many
    winners are robust under weight uncertainty (naming the others); the high-severity
    integrity findings; the findings and the aspects examined without a finding.
    """
    n = nums
    paras = [t("rep_abs_main", year=n["year"], n_units=int(n["n_units"]), mean=n["mean_pct"], median=n["median_pct"], sd=n["sd_pct"],
               max=n["max_pct"], min=n["min_pct"])]
    near = int(n["n_near_cut"])
    paras.append(_tp("rep_abs_win" if near >= 2 else "rep_abs_win_plain", top_n=prm.top_n, n_winners=int(n["n_winners"]), cut=n["cut"], near=near))
    if "n_winners_mc" in n:
        win = unc.loc[unc["nominal_rank"] <= prm.top_n].sort_values(["p_winner", "unit_id"])
        weak = win.loc[win["p_winner"] < 0.8]
        names = _join([t("rep_abs_unit_p", unit=namer("unit", u), p=p) for u, p in zip(weak["unit_id"].head(3), weak["p_winner"].head(3))])
        k = n["n_unstable"]
        key = "rep_abs_stab_all" if not k else ("rep_abs_stab" if k <= 3 else "rep_abs_stab_many")
        paras.append(_tp(key, n_samples=n["n_samples"], stable=n["n_stable"], n_winners=n["n_winners_mc"], k=k, names=names))
    integ = ev.get("integrity")
    if integ is not None:
        n_hi = n["n_integrity_high"]
        if n_hi:
            paras.append(_tp("rep_abs_int" if n_hi <= 3 else "rep_abs_int_many", k=n_hi, top=_integrity_top(integ, namer)))
        else:
            paras.append(_tp("rep_abs_int_none", k=n["n_integrity"]) if n["n_integrity"] else t("rep_abs_int_clean"))
    n_ok = n["n_examined"]
    if found:
        paras.append(_tp("rep_abs_find" if n_ok else "rep_abs_find_all", k=n["n_findings"], sev=_severity_counts(found), k_ok=n_ok))
    else:
        paras.append(_tp("rep_abs_none", k_ok=n_ok))
    return paras


def _ok_blocks(doc: _Doc, ok: list, namer) -> list[dict]:
    """"未发现显著问题的方面": one line per aspect a rule examined without finding anything,
    with its numbers and evidence references."""
    if not ok:
        return []
    items = []
    for f in ok:
        ev = doc.resolve(f.evidence)
        items.append(doc.text(f.text(namer)) + (t("rep_ok_ref", refs=ev) if ev else ""))
    return [{"kind": "sub", "text": t("rep_ok_title")}, {"kind": "p", "text": t("rep_ok_intro")}, {"kind": "list", "items": items, "cls": "examined"}]


def _finding_blocks(doc: _Doc, found: list, namer, prefix: dict[str, str] | None = None, ok: list | None = None) -> tuple[list[dict], list[dict]]:
    """五/六: one block per finding (with its evidence references) and one per recommendation,
    then the aspects examined without a finding (``ok``, :func:`pipeline.findings.examined`).
    ``prefix`` (rule → text) is put before a finding's sentence (the study: in how many years)."""
    if not found:
        return [{"kind": "p", "text": t("rep_nothing")}] + _ok_blocks(doc, ok or [], namer), [{"kind": "p", "text": t("rep_nothing_rec")}]
    probs, recs = [], []
    for i, f in enumerate(found, start=1):
        ev = doc.resolve(f.evidence)
        probs.append({"kind": "finding", "n": i, "head": t("rep_finding_no", n=i), "severity": t(f"rep_severity_{f.severity}"), "sev": f.severity,
                      "text": (prefix or {}).get(f.rule, "") + doc.text(f.text(namer)),
                      "evidence": (t("rep_evidence") + ("：" if current() == "zh" else ": ") + ev) if ev else ""})
        recs.append({"kind": "finding", "n": i, "head": t("rep_rec_for", n=i), "severity": "", "sev": "", "text": doc.text(f.recommendation(namer)), "evidence": ""})
    return probs + _ok_blocks(doc, ok or [], namer), recs


def _run_chars(data: dict) -> set[int]:
    """:func:`~pipeline.report.render.base_chars` of a run: labels, unit names and aliases, item
    names of every year, so that every year's documents (and the study) ask for one font subset."""
    units, items = data["units"], data["items"]
    return base_chars(units["name"].dropna(), units["aliases"].dropna(), items["item_name"].dropna())


@run_language
def build_year(params, out: Path | None = None, timings: dict | None = None, analysis: Path | None = None, pdf: bool = True,
               part: str = "all") -> Path:
    """Render the report of one year into ``<out or params.reports>/<year>/`` (``…/<lang>/`` for
    a language other than Chinese).

    Reads the processed tables (items, units, scores, logs) and the chapter records written
    by :func:`analyze` — never anything else: totals, ranks and winners come from the overview
    record, the findings' evidence from the chapters' tables. Every record must have been
    written under this run's parameters. Writes ``report.html``, ``report.pdf``,
    ``tables.xlsx``, ``ranking.csv``, ``numbers.json``, ``figures/`` (PNG + SVG of every
    chart), ``bulletin_H1.html``, ``units/<unit_id>.html`` (+ ``units/index.html``) and
    ``manifest.json``. ``analysis`` is the analysis root written by :func:`analyze` (default
    ``<processed>/analysis``); ``pdf=False`` skips the PDF (quick re-renders).

    ``part`` splits the work in two for two worker processes (:func:`pipeline.report.run.
    _run_pipelined` does so when a worker would otherwise wait): ``"pdf"`` writes ``report.pdf``
    alone, ``"main"`` everything else; each builds the same document from the same records.
    ``"all"`` (default): both.

    Returns
    -------
    Path
        The year's report folder.
    """
    if part not in ("all", "main", "pdf"):
        raise ValueError(f"part must be 'all', 'main' or 'pdf', not {part!r}")
    t0 = time.perf_counter()
    steps: dict[str, float] = dict(timings or {})
    prm = params
    year = _year_of(prm)
    processed = Path(prm.processed)
    dest = report_dir(prm, year, out)
    root = _analysis_root(prm, analysis) / str(year)
    _log(f"report {year}: loading tables")
    data = _load(processed)
    chapters = {c: _chapter(root, c) for c in CHAPTERS}
    check_parameters(chapters, prm)
    # totals, ranks and winners of this run: the overview chapter's record (the run's parameters)
    data["totals"] = _table(chapters, "01-overview", "totals")
    # integrity findings: the integrity chapter's record (checks run under this run's top_n and seed)
    data["integrity"] = _table(chapters, "05-integrity", "integrity")
    if (root / "timings.json").exists():
        steps.update({f"analyze:{k}": v for k, v in json.loads((root / "timings.json").read_text()).items()})
    _log(f"report {year}: findings")
    t1 = time.perf_counter()
    ev = _evidence(prm, data, chapters, year)
    found = F.derive(ev, top_n=prm.top_n)
    ok = F.examined(ev, found, top_n=prm.top_n)
    steps["findings"] = time.perf_counter() - t1
    it_idx = data["items"].loc[data["items"]["year"] == year].set_index("item_id")
    namer = _namer(data["units"], it_idx)
    numbers = year_numbers(prm, chapters, ev, year, found, ok)

    avail = available_years(processed)
    first_y, prev_y = _span(prm, year)[0], max([y for y in avail if y < year], default=year)
    doc = _Doc(subst=_english_subst(data["items"].loc[data["items"]["year"] == year]), year=year, top_n=prm.top_n,
               n_samples=prm.n_samples, n_sobol=prm.n_sobol, first=first_y, last=year, prev=prev_y,
               **_span_ctx(first_y, year, max(prev_y, first_y), year))
    doc.unit_names = _unit_names(data["units"])
    doc.unit_lookup = data["units"].set_index("unit_id")["name"].astype(str).to_dict()
    doc.item_lookup = {str(i): namer("item", i) for i in it_idx.index}
    sections = []
    # 一、总体情况
    blocks = _chapter_blocks(doc, chapters["01-overview"], "01-overview")
    sections.append({"id": "overview", "title": t("rep_sec_overview"), "blocks": blocks})
    # 二、横向比较
    rk = _ranking_table(data, year, prm.top_n)
    blocks = _chapter_blocks(doc, chapters["02-horizontal"], "02-horizontal", fig_keys={"ranking": r"rank"},
                             after={"fig:h_ranking": lambda: [doc.table(rk, t("rep_tabcap_ranking"), key="ranking", max_rows=len(rk))]})
    sections.append({"id": "horizontal", "title": t("rep_sec_horizontal"), "blocks": blocks})
    # 三、纵向比较与趋势
    blocks = _chapter_blocks(doc, chapters["03-vertical-trend"], "03-vertical-trend", fig_keys={"system": r"system"})
    sections.append({"id": "vertical", "title": t("rep_sec_vertical"), "blocks": blocks})
    # 四、权重敏感性与公平性
    unc = ev.get("uncertainty")

    def unc_table() -> list[dict]:
        if unc is None or not len(unc):
            return []
        u = unc.merge(data["units"][["unit_id", "name"]], on="unit_id", how="left").sort_values(["nominal_rank", "unit_id"])
        u = u.loc[(u["nominal_rank"] <= prm.top_n) | (u["p_winner"] > 0)]
        cols = [c for c in ("nominal_rank", "unit_id", "name", "median_rank", "q05", "q95", "p_winner") if c in u]
        return [doc.table(u[cols], t("rep_tabcap_uncertainty", n_samples=_n_samples(prm, unc)), key="uncertainty", max_rows=40)]

    blocks = _chapter_blocks(doc, chapters["04-weights"], "04-weights",
                             fig_keys={"rank_interval": r"interval", "effective_weights": r"effective"}, after={"fig:sens_p_winner": unc_table})
    sections.append({"id": "weights", "title": t("rep_sec_weights"), "blocks": blocks})
    # 附录 (built before 五/六 so that evidence references to appendix tables resolve)
    qual = _quality_blocks(doc, data, prm, year, integrity_chapter=True)
    qual += _chapter_blocks(doc, chapters["05-integrity"], "05-integrity")
    # 五、六
    probs, recs = _finding_blocks(doc, found, namer, ok=ok)
    ftab = F.to_frame(found, namer)
    doc.xlsx.append((t("rep_tabcap_findings"), doc.display(ftab.drop(columns=["rule"]))))
    doc.xlsx.append((t("rep_headline"), doc.display(_headline_rows(chapters, doc.subst))))
    sections.append({"id": "problems", "title": t("rep_sec_problems"), "blocks": probs})
    sections.append({"id": "recommend", "title": t("rep_sec_recommend"), "blocks": recs})
    methods = _methods_blocks(prm, doc)  # numbered before the reproducibility tables, which follow it
    man = manifest(prm, _input_files(prm), steps)
    repro = [{"kind": "p", "text": t("rep_r_commit", commit=man["git_commit"])},
             {"kind": "p", "text": t("rep_r_inputs", n=len(man["inputs"]), k=min(12, len(man["inputs"])))}]
    repro.append(doc.table(pd.DataFrame(man["inputs"])[["path", "sha256"]] if man["inputs"] else pd.DataFrame(columns=["path", "sha256"]), t("rep_tabcap_inputs"), key="inputs", max_rows=12))
    pv = pd.DataFrame({"parameter": list(prm.to_dict()), "value": [json.dumps(v, ensure_ascii=False) for v in prm.to_dict().values()]})
    pv = pv.loc[~pv["parameter"].isin(["raw", "processed", "reports"])]
    repro.append(doc.table(pv, t("rep_tabcap_params"), key="params", max_rows=40))
    repro.append(doc.table(pd.DataFrame({"package": list(man["versions"]), "version": list(man["versions"].values())}), t("rep_tabcap_versions"), key="versions", max_rows=40))
    repro.append({"kind": "p", "text": t("rep_r_rerun", year=year)})
    appendix = [
        {"id": "quality", "title": t("rep_app_quality"), "blocks": qual},
        {"id": "methods", "title": t("rep_app_methods"), "blocks": methods},
        {"id": "repro", "title": t("rep_app_repro"), "blocks": repro},
    ]
    ctx = {
        "lang": current(),
        "title": t("rep_title", year=year),
        "title_lines": t("rep_title_lines", year=year).split("\n"),
        "subtitle": t("rep_subtitle"),
        "params_line": t("rep_params_line", top_n=prm.top_n, na_policy=prm.na_policy, seed=prm.seed, n_samples=numbers["n_samples"], scheme=prm.scheme),
        "generated_by": t("rep_generated_by"),
        "abstract_title": t("rep_abstract"),
        "abstract": _abstract(prm, numbers, found, unc, ev, namer),
        "toc_title": t("rep_toc"),
        "sections": sections,
        "appendix_title": t("rep_sec_appendix"),
        "appendix": appendix,
        "fig_label": t("rep_fig"),
        "tab_label": t("rep_tab"),
        "links": [("bulletin_H1.html", t("rep_cap_bulletin")), ("units/index.html", t("rep_unit_index"))],
    }

    def print_html() -> str:  # the print edition of the same page (no links to the other documents)
        return _render("report.html", {**ctx, "links": []}, pdf=True)

    if part == "pdf":
        # the run's font subset (labels, unit and item names: cut once per run, cached on disk);
        # _write_pdf cuts another only if the page shows a character outside it
        t1 = time.perf_counter()
        _log(f"report {year}: PDF")
        _write_pdf(print_html(), dest / "report.pdf", _subset_font(_run_chars(data)))
        _log(f"report {year}: PDF done ({time.perf_counter() - t1:.1f} s) → {dest / 'report.pdf'}")
        return dest
    report_pdf = pdf and part == "all"  # "main": another worker writes report.pdf
    t1 = time.perf_counter()
    _log(f"report {year}: HTML")
    html_text = _render("report.html", ctx)
    pdf_text = print_html() if report_pdf else ""
    bulletin = bulletin_context(data, chapters["02-horizontal"], year, prm)
    pages = {dest / "bulletin_H1.html": _render("bulletin.html", bulletin)}
    pages.update(write_unit_pages(data, chapters["02-horizontal"], year, prm, ev.get("uncertainty"), dest / "units", write=False))
    # one font subset for every document of the year (report, its PDF, bulletin, unit pages):
    # cutting the 16 MB CJK font and packing it as WOFF2 is the costly part of rendering
    otf = _subset_font(_font_chars([html_text, pdf_text, *pages.values()]) | _run_chars(data))
    atomic_write(dest / "report.html", _embed_font({dest: html_text}, otf)[dest])
    write_xlsx(doc.xlsx, dest / "tables.xlsx")
    write_ranking(score.ranking(data["totals"], data["units"], year), dest / "ranking.csv")
    atomic_write(dest / "numbers.json", json.dumps(numbers, ensure_ascii=False, indent=1, sort_keys=True))
    _copy_figures(root, dest / "figures")
    steps["html+xlsx"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    _log(f"report {year}: bulletin and unit pages")
    if pdf:
        _write_pdf(_render("bulletin.html", bulletin, pdf=True), dest / "bulletin_H1.pdf", otf)
    for p, h in _embed_font(pages, otf).items():
        atomic_write(p, h)
    steps["bulletin+units"] = time.perf_counter() - t1
    if report_pdf:
        t1 = time.perf_counter()
        _log(f"report {year}: PDF")
        _write_pdf(pdf_text, dest / "report.pdf", otf)
        steps["pdf"] = time.perf_counter() - t1
    steps["build_year"] = time.perf_counter() - t0
    man["wall_time_s"] = {k: round(float(v), 3) for k, v in steps.items()}
    atomic_write(dest / "manifest.json", json.dumps(man, ensure_ascii=False, indent=1, sort_keys=True))
    _log(f"report {year}: done ({steps['build_year']:.1f} s) → {dest}")
    return dest


def write_ranking(rk: pd.DataFrame, path: Path) -> Path:
    """Write ``ranking.csv`` (UTF-8 with BOM for Excel, totals with 6 decimals so that the file
    is byte-identical for the same inputs and parameters, formula-guarded names)."""
    from pipeline.io import neutralise_formulas

    text = neutralise_formulas(rk).to_csv(index=False, float_format="%.6f", lineterminator="\n")
    return atomic_write(path, ("\ufeff" + text).encode("utf-8"))


def check_parameters(chapters: dict, prm) -> None:
    """Every chapter record must have been written under this run's parameters (``top_n``,
    ``na_policy``, ``grade_map``, ``seed``): a document never shows numbers of other parameters."""
    for c, ch in chapters.items():
        got = ch.get("parameters") or {}
        for k in ("top_n", "na_policy", "grade_map", "seed"):
            if k in got and got[k] != getattr(prm, k) and not (isinstance(got[k], dict) and {a: float(b) for a, b in got[k].items()} == {a: float(b) for a, b in getattr(prm, k).items()}):
                raise PipelineError(f"{ch['dir']}: chapter record written with {k}={got[k]!r}, this run has {k}={getattr(prm, k)!r} — "
                                    f"run `python -m pipeline analyze` with the same parameters first")


def _copy_figures(root: Path, dest: Path) -> None:
    for p in sorted(root.glob("*/figures/*")):
        if p.suffix in (".png", ".svg"):
            atomic_write(dest / f"{p.parent.parent.name[:2]}_{p.name}", p.read_bytes())

