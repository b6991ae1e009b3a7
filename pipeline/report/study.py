"""The multi-year study ``reports/study_<first>-<last>/``."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

from pipeline import findings as F
from pipeline.errors import PipelineError
from pipeline.i18n import current, t
from pipeline.io import atomic_write
from pipeline.report.chapters import _chapter, _chapter_blocks
from pipeline.report.data import CHAPTERS, _analysis_root, _input_files, _load, _log, available_years, manifest, report_dir, run_language
from pipeline.report.document import _Doc, _english_subst, _join, _label, _span_ctx, _unit_names
from pipeline.i18n import namer as _namer, tp as _tp
from pipeline.overview import overview_reading
from pipeline.report.render import _embed_font, _font_chars, _render, _subset_font, _write_pdf, write_xlsx
from pipeline.report.year import _run_chars
from pipeline.report.year import _evidence, _finding_blocks, _methods_blocks, _severity_counts, _table, check_parameters


@run_language
def build_study(params, years: tuple[int, int] | None = None, out: Path | None = None, analysis: Path | None = None, pdf: bool = True,
                linked: bool = False) -> Path:
    """Render the multi-year study into ``<out or reports>/study_<first>-<last>/``.

    Reads the chapter records of every year under ``analysis`` (default: the analysis root of
    the report language): each year's overview headline and findings evidence, and the last
    year's vertical/trend chapter, which covers the whole span (system by year, persistence).
    A year without records is an error naming the command that writes them. Writes
    ``report.html``, ``report.pdf`` (unless ``pdf=False``), ``tables.xlsx`` and
    ``manifest.json`` into ``study_<first>-<last>/`` (``…/<lang>/`` for another language).
    The study links each year's report that exists; ``linked=True`` links every year of the span
    (:func:`~pipeline.report.run.run_all` renders them beside the study).
    """
    t0 = time.perf_counter()
    prm = params
    processed = Path(prm.processed)
    data = _load(processed)
    avail = available_years(processed)
    first, last = years or (prm.years or (avail[0], avail[-1]))
    yrs = [y for y in avail if first <= y <= last]
    if not yrs:
        raise PipelineError(f"years {first}-{last} are not in the data")
    first, last = yrs[0], yrs[-1]
    dest = report_dir(prm, f"study_{first}-{last}", out)
    _log(f"study {first}-{last}: building")
    records = {y: {c: _chapter(_analysis_root(prm, analysis) / str(y), c) for c in CHAPTERS} for y in yrs}
    for chs in records.values():
        check_parameters(chs, prm)
    vt = records[last]["03-vertical-trend"]  # the vertical chapter of the last year covers the whole span
    system = _table(records[last], "03-vertical-trend", "v_system")
    system = system.loc[system["year"].isin(yrs)].reset_index(drop=True)
    doc = _Doc(subst=_english_subst(data["items"].loc[data["items"]["year"].isin(yrs)]), year=last, top_n=prm.top_n,
               n_samples=prm.n_samples, n_sobol=prm.n_sobol, first=first, last=last, prev=yrs[-2] if len(yrs) > 1 else last,
               **_span_ctx(first, last, yrs[-2] if len(yrs) > 1 else last, last))
    doc.unit_names = _unit_names(data["units"])
    doc.unit_lookup = data["units"].set_index("unit_id")["name"].astype(str).to_dict()
    rows = []
    per_year_found = {}
    for y in yrs:
        chs = records[y]
        data["totals"] = _table(chs, "01-overview", "totals")
        data["integrity"] = _table(chs, "05-integrity", "integrity")
        ev = _evidence(replace(prm, year=y), data, chs, y)
        fy = F.derive({k: v for k, v in ev.items() if k not in ("system", "persistence")}, top_n=prm.top_n)
        per_year_found[y] = fy
        unc = ev["uncertainty"]
        h = chs["01-overview"]["headline"]
        rows.append({"year": y, "n_units": int(h["n_units"]), "mean": h["mean_pct"], "sd": h["sd_pct"], "cut_points": h["cut"], "n_winners": int(h["n_winners"]),
                     "stable": int(((unc["nominal_rank"] <= prm.top_n) & (unc["p_winner"] >= 0.8)).sum()),
                     "n_findings": len(fy)})
    years_tab = pd.DataFrame(rows)
    found = F.derive({"system": system, "persistence": _table(records[last], "03-vertical-trend", "v_persistence")}, top_n=prm.top_n)
    # recurring per-year findings: a rule that fired in at least half of the years
    counts: dict[str, list] = {}
    for y, fy in per_year_found.items():
        for f in fy:
            counts.setdefault(f.rule, []).append((y, f))
    recurring = [fs[-1][1] for rule, fs in sorted(counts.items()) if len(fs) * 2 >= len(yrs) and rule not in {f.rule for f in found}]
    prefix = {fs[-1][1].rule: t("rep_study_recurring" if len(fs) < len(yrs) else "rep_study_recurring_all", k=len(fs), n=len(yrs), year=fs[-1][0])
              for fs in counts.values() if fs[-1][1] in recurring}
    order = {s: i for i, s in enumerate(F.SEVERITIES)}
    found = sorted(found + recurring, key=lambda f: order.get(f.severity, 9))
    # which rule fired in which year (a ✓ per year)
    rules = sorted(counts, key=lambda r: (-len(counts[r]), r))
    fired = pd.DataFrame({"rule": [_label(f"rep_rule_{r}", r) for r in rules], "n_fired": [len(counts[r]) for r in rules],
                          **{str(y): [any(yy == y for yy, _ in counts[r]) for r in rules] for y in yrs}})
    namer = _namer(data["units"], data["items"].loc[data["items"]["year"] == last].set_index("item_id"))
    sections = []
    blocks = [{"kind": "p", "text": t("rep_study_years_intro", first=first, last=last, n=len(yrs))},
              doc.table(years_tab, t("rep_tabcap_years"), key="years")]
    sections.append({"id": "years", "title": t("rep_sec_study_years"), "blocks": blocks})
    blocks = [{"kind": "p", "text": overview_reading("system", system=system)}]
    blocks += _chapter_blocks(doc, vt, "03-vertical-trend", fig_keys={"system": r"system"})
    sections.append({"id": "trend", "title": t("rep_sec_study_trend"), "blocks": blocks})
    probs, recs = _finding_blocks(doc, found, namer, prefix=prefix)
    if len(fired):
        probs = [{"kind": "p", "text": t("rep_study_fired_intro")}, doc.table(fired, t("rep_tabcap_fired"), key="fired")] + probs
    sections.append({"id": "problems", "title": t("rep_sec_study_findings"), "blocks": probs})
    sections.append({"id": "recommend", "title": t("rep_sec_study_recommend"), "blocks": recs})
    doc.xlsx.append((t("rep_tabcap_findings"), doc.display(F.to_frame(found, namer).drop(columns=["rule"]))))
    man = manifest(replace(prm, years=(first, last)), _input_files(prm), {})
    appendix = [
        {"id": "methods", "title": t("rep_app_methods_study"), "blocks": _methods_blocks(prm)},
        {"id": "repro", "title": t("rep_app_repro_study"), "blocks": [{"kind": "p", "text": t("rep_r_commit", commit=man["git_commit"])},
                                                                              {"kind": "p", "text": t("rep_r_inputs_study", n=len(man["inputs"]))}]},
    ]
    rec_rules = sorted(((r, len(fs)) for r, fs in counts.items() if len(fs) * 2 >= len(yrs)), key=lambda x: (-x[1], x[0]))
    u_lo, u_hi = int(years_tab["n_units"].min()), int(years_tab["n_units"].max())
    abstract = [_tp("rep_abs_study" if u_lo != u_hi else "rep_abs_study_same", first=first, last=last, n=len(yrs), units_min=u_lo, units_max=u_hi),
                overview_reading("system", system=system),
                t("rep_abs_study_recurring", rules=_join([_tp("rep_abs_study_rule", rule=_label(f"rep_rule_{r}", r), k=k) for r, k in rec_rules]))
                if rec_rules else t("rep_abs_study_none"),
                _tp("rep_abs_find_study", k=len(found), sev=_severity_counts(found)) if found else t("rep_abs_none_study")]
    up, sub = ("../", "") if prm.lang == "zh" else ("../../", f"{prm.lang}/")  # the year reports beside this study (folders per edition)
    ctx = {"lang": current(), "title": t("rep_study_title", first=first, last=last),
           "title_lines": t("rep_study_title_lines", first=first, last=last).split("\n"), "subtitle": t("rep_subtitle"),
           "params_line": t("rep_params_line", top_n=prm.top_n, na_policy=prm.na_policy, seed=prm.seed, n_samples=prm.n_samples, scheme=prm.scheme),
           "generated_by": t("rep_generated_by"), "abstract_title": t("rep_abstract"), "abstract": abstract, "toc_title": t("rep_toc"),
           "sections": sections, "appendix_title": t("rep_sec_appendix"), "appendix": appendix, "fig_label": t("rep_fig"),
           "tab_label": t("rep_tab"), "links": [(f"{up}{y}/{sub}report.html", str(y)) for y in yrs if linked or (report_dir(prm, y, out) / "report.html").exists()]}
    html_text = _render("report.html", ctx)
    pdf_text = _render("report.html", {**ctx, "links": []}, pdf=True) if pdf else ""
    otf = _subset_font(_font_chars([html_text, pdf_text]) | _run_chars(data))
    atomic_write(dest / "report.html", _embed_font({dest: html_text}, otf)[dest])
    write_xlsx(doc.xlsx, dest / "tables.xlsx")
    if pdf:
        _write_pdf(pdf_text, dest / "report.pdf", otf)
    man["wall_time_s"] = {"build_study": round(time.perf_counter() - t0, 3)}
    atomic_write(dest / "manifest.json", json.dumps(man, ensure_ascii=False, indent=1, sort_keys=True))
    _log(f"study {first}-{last}: done ({time.perf_counter() - t0:.1f} s) → {dest}")
    return dest

