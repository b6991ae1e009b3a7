"""The scheme report: HTML (self-contained), PDF and tables.xlsx, Chinese by default.

It reads only :class:`pipeline.scheme.run.SchemeResult` objects and their headline record
(:func:`pipeline.scheme.run.headline`); every number shown is one of theirs. The shared engine
(templates, CSS, font, PDF, workbook) comes through :mod:`pipeline.scheme.render`.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.i18n import current, t
from pipeline.scheme import figures as FIG
from pipeline.scheme import render as R
from pipeline.scheme.compute import COLUMNS

__all__ = ["render", "display", "settings_table"]

_MAX_ROWS = 40


def _label(key: str, default: str) -> str:
    try:
        return t(key)
    except KeyError:
        return default


def display(df: pd.DataFrame, tier_by: str | None = None) -> pd.DataFrame:
    """A table as a reader sees it: translated headers (``sch_col_<column>`` labels) and values
    (yes/no, in/out, group names); numbers rounded for reading (totals 2 decimals)."""
    d = df.copy()
    for c in d.columns:
        s = d[c]
        if s.dtype == bool:
            d[c] = s.map({True: t("sch_yes"), False: t("sch_no")})
        elif c == "move":
            d[c] = s.map(lambda v: t(f"sch_move_{v}"))
        elif c == "attribute":
            d[c] = s.map(lambda v: t(f"sch_attr_{v}"))
        elif c == "group" and "attribute" in df:
            d[c] = [FIG.value_label(a, v) for a, v in zip(df["attribute"], s)]
        elif c == "tier":
            d[c] = s.map(lambda v: FIG.value_label(tier_by, v) if v else t("sch_all_units"))
        elif c == "category":
            d[c] = s.map(lambda v: t(f"sch_cat_{v}"))
        elif pd.api.types.is_float_dtype(s):
            d[c] = s.round(3 if c in ("kendall_tau", "kendall_p", "spearman_rho", "jaccard", "p_value", "p_holm", "cohen_d", "p_winner",
                                      "mean_abs_shift", "spearman_mean", "kendall_mean", "jaccard_mean", "p_same_winners") else 2)
    d.columns = [_label(f"sch_col_{c}", str(c)) for c in df.columns]
    return d


class _Doc:
    """Numbered figures and tables of one document, and the sheets of its workbook."""

    def __init__(self, out: Path):
        self.lang, self.out = current(), out
        self.n_fig = self.n_tab = 0
        self.sheets: list[tuple[str, pd.DataFrame]] = []

    def fig(self, fig, caption: str, stem: str) -> dict:
        import matplotlib.pyplot as plt

        from pipeline.io import atomic_write

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150)
        plt.close(fig)
        data = buf.getvalue()
        (self.out / "figures").mkdir(parents=True, exist_ok=True)
        atomic_write(self.out / "figures" / f"{stem}.png", data)
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        self.n_fig += 1
        return {"kind": "fig", "ref": t("sch_fig_ref", n=self.n_fig), "caption": caption, "tall": h > 1.1 * w,
                "src": "data:image/png;base64," + base64.b64encode(data).decode("ascii")}

    def table(self, df: pd.DataFrame, caption: str, tier_by: str | None = None, sheet: pd.DataFrame | None = None, max_rows: int = _MAX_ROWS) -> dict:
        from markupsafe import Markup

        self.n_tab += 1
        shown = display(df, tier_by)
        self.sheets.append((f"{self.n_tab:02d} {caption}", display(sheet, tier_by) if sheet is not None else shown))
        note = t("sch_truncated", k=max_rows, n=len(df)) if len(df) > max_rows else ""
        return {"kind": "table", "ref": t("sch_tab_ref", n=self.n_tab), "caption": caption,
                "html": Markup(R.table_html(shown.head(max_rows))), "note": note, "short": min(len(df), max_rows) <= 25}


def _p(text: str) -> dict:
    return {"kind": "p", "text": text}


def _h3(text: str) -> dict:
    return {"kind": "h3", "text": text}


def settings_table(res) -> pd.DataFrame:
    """Category points: the official points of the last year, the scheme's default and each
    differentiated group; ``weights`` (which row), then ``cat_<category>`` columns."""
    s = res.scheme
    rows = [{"weights": t("sch_official"), **res.official_points}]
    rows.append({"weights": t("sch_scheme_default"), **(s.categories if s.categories is not None else res.official_points)})
    for g, pts in s.groups.items():
        rows.append({"weights": FIG.value_label(s.by, g), **pts})
    d = pd.DataFrame(rows, columns=["weights", *config.CATEGORIES])
    d.columns = ["weights", *[f"cat_{c}" for c in config.CATEGORIES]]
    return d


def _settings_text(s) -> list[str]:
    out = [t("sch_set_grade", map="、".join(f"{g} {v:g}" for g, v in s.grade_map.items()) if current() == "zh" else ", ".join(f"{g} {v:g}" for g, v in s.grade_map.items())),
           t("sch_set_na", policy=t(f"sch_na_{s.na_policy}"))]
    if s.tier_by:
        quotas = ("、" if current() == "zh" else ", ").join(f"{FIG.value_label(s.tier_by, k)} {v}" for k, v in s.quotas.items())
        out.append(t("sch_set_tiers", by=t(f"sch_attr_{s.tier_by}") if s.tier_by in ("type", "sector", "size") else s.tier_by, quotas=quotas))
    else:
        out.append(t("sch_set_top", n=s.top_n))
    if s.items:
        out.append(t("sch_set_items", items=("、" if current() == "zh" else ", ").join(f"{k} {v:g}" for k, v in s.items.items())))
    if s.by:
        out.append(t("sch_set_by", by=t(f"sch_attr_{s.by}")))
    return out


def _summary(res, h: dict) -> str:
    txt = t("sch_sum_main", name=res.scheme.name, first=h["first_year"], last=h["last_year"], tau=h["kendall_tau_mean"],
            jac=h["jaccard_mean"], changed=h["years_changed"], n=h["n_years"], n_in=h["n_in_total"])
    txt += t("sch_sum_last", year=h["last_year"], tau=h["kendall_tau_last"], n_in=h["n_in_last"], n_out=h["n_out_last"])
    if "mc_jaccard_last" in h:
        txt += t("sch_sum_mc", jac=h["mc_jaccard_last"], n=res.params["n_mc"])
    return txt


def _moves_text(moves: pd.DataFrame, year: int) -> str:
    m = moves.loc[moves["year"] == year]
    sep = "、" if current() == "zh" else ", "
    ins = sep.join(m.loc[m["move"] == "in", "name"]) or t("sch_none")
    outs = sep.join(m.loc[m["move"] == "out", "name"]) or t("sch_none")
    return t("sch_moves_text", year=year, ins=ins, outs=outs)


def _group_readings(ge: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """The readings of the significant groups (Holm p < alpha), or one sentence saying there are none."""
    sig = ge.loc[ge["p_holm"] < alpha, "reading"].tolist()
    return sig or [t("sch_group_none")]


def _scheme_blocks(doc: _Doc, res, h: dict, k: int) -> list[dict]:
    s = res.scheme
    last = res.last_year
    comp_last = res.comparison.loc[res.comparison["year"] == last]
    b: list[dict] = [_p(_summary(res, h))]
    b.append(_h3(t("sch_h_settings")))
    st = settings_table(res)
    if len(st):
        b.append(doc.table(st, t("sch_tab_settings", name=s.name)))
    b.append({"kind": "list", "items": _settings_text(s)})
    b.append(_h3(t("sch_h_winners")))
    b.append(_p(_moves_text(res.moves, last)))
    b.append(doc.fig(FIG.rank_scatter(comp_last), t("sch_cap_scatter", year=last, name=s.name), f"{s.slug}_scatter_{last}"))
    if len(res.moves):
        b.append(doc.table(res.moves.drop(columns=["unit_id"]), t("sch_tab_moves", name=s.name), tier_by=s.tier_by))
    b.append(_h3(t("sch_h_changes")))
    if len(res.changes):
        b.append(doc.table(res.changes.drop(columns=["unit_id"]), t("sch_tab_changes", year=last, name=s.name)))
    else:
        b.append(_p(t("sch_no_changes", year=last)))
    b.append(_h3(t("sch_h_groups")))
    gw = res.group_winners.loc[res.group_winners["year"] == last].drop(columns=["year"])
    b.append(doc.table(gw, t("sch_tab_group_winners", year=last, name=s.name), sheet=res.group_winners))
    b.append(doc.fig(FIG.group_bars(res.group_winners.loc[res.group_winners["year"] == last], ("type", "sector")),
                     t("sch_cap_groups", year=last, name=s.name), f"{s.slug}_groups_{last}"))
    ge = res.groups.loc[res.groups["year"] == last]
    b.append({"kind": "list", "items": _group_readings(ge)})
    cols = ["attribute", "group", "n_units", "mean_advantage", "statistic", "cohen_d", "p_value", "p_holm"]
    b.append(doc.table(ge[cols], t("sch_tab_group_tests", year=last, n=res.params["n_perm"]), sheet=res.groups[["year", *cols]]))
    if len(res.mc_system):
        b.append(_h3(t("sch_h_uncertainty")))
        ms = res.mc_system.loc[res.mc_system["year"] == last].drop(columns=["year"])
        b.append(_p(t("sch_mc_text", n=res.params["n_mc"], kappa=res.params["kappa"])))
        b.append(doc.table(ms, t("sch_tab_mc_system", year=last), tier_by=s.tier_by, sheet=res.mc_system))
        names = comp_last.set_index("unit_id")["name"]
        quota_of = dict(s.quotas) if s.tier_by else {"": s.top_n}
        mcl = res.mc_units.loc[res.mc_units["year"] == last]
        b.append(doc.fig(FIG.rank_intervals(mcl, names, quota_of, tier_by=s.tier_by), t("sch_cap_mc", year=last, name=s.name),
                         f"{s.slug}_mc_{last}"))
    b.append(_h3(t("sch_h_stability")))
    b.append(doc.table(res.stability.drop(columns=["kendall_p"]), t("sch_tab_stability", name=s.name), sheet=res.stability))
    if len(res.persistence):
        b.append(doc.table(res.persistence.drop(columns=["unit_id"]), t("sch_tab_persistence", name=s.name)))
    else:
        b.append(_p(t("sch_persistence_none")))
    doc.sheets.append((f"comparison {k}", display(res.comparison[COLUMNS], s.tier_by)))
    return b


def render(results: Sequence, out: Path, pdf: bool = True) -> dict[str, Path]:
    """Write ``report.html``, ``report.pdf`` (unless ``pdf=False``), ``tables.xlsx`` and
    ``figures/`` into ``out`` for one or several :class:`~pipeline.scheme.run.SchemeResult`."""
    from pipeline.scheme.run import headline

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = _Doc(out)
    heads = [headline(r) for r in results]
    names = [r.scheme.name for r in results]
    first = min(h["first_year"] for h in heads)
    last = max(h["last_year"] for h in heads)
    side = pd.DataFrame([{"scheme": h["scheme"], "kendall_tau": h["kendall_tau_mean"], "jaccard": h["jaccard_mean"],
                          "n_in": h["n_in_total"], "years_changed": h["years_changed"], "kendall_tau_last": h["kendall_tau_last"],
                          "n_in_last": h["n_in_last"], "n_out_last": h["n_out_last"], "mc_jaccard_last": h.get("mc_jaccard_last", np.nan)}
                         for h in heads])
    summary = [_p(t("sch_intro", first=first, last=last, n=len(results)))]
    summary += [_p(_summary(r, h)) for r, h in zip(results, heads)]
    summary.append(doc.table(side, t("sch_tab_side", first=first, last=last)))
    summary.append(doc.fig(FIG.stability_lines([(r.scheme.name, r.stability) for r in results]),
                           t("sch_cap_stability", first=first, last=last), "stability"))
    sections = [{"id": "summary", "title": t("sch_h_summary"), "blocks": summary}]
    for k, (r, h) in enumerate(zip(results, heads), start=1):
        title = t("sch_h_scheme", k=k, name=r.scheme.name) if len(results) > 1 else t("sch_h_scheme_one", name=r.scheme.name)
        sections.append({"id": f"s{k}", "title": title, "blocks": _scheme_blocks(doc, r, h, k)})
    sections.append({"id": "methods", "title": t("sch_h_methods"), "blocks": [{"kind": "list", "items": [t(f"sch_method_{i}") for i in range(1, 7)]}]})
    p = results[0].params
    ctx = {"lang": current(), "title": t("sch_title", names=("、" if current() == "zh" else "; ").join(names)),
           "subtitle": t("sch_subtitle", first=first, last=last),
           "params": t("sch_params", n_mc=p["n_mc"], kappa=p["kappa"], n_perm=p["n_perm"], seed=p["seed"]),
           "sections": sections, "toc_title": t("sch_toc")}
    html = R.render_template("scheme.html", ctx)
    printed = R.render_template("scheme.html", ctx, pdf=True) if pdf else ""
    otf = R.subset_font(R.font_chars([html, printed]))  # one font subset for both editions
    paths = {"html": out / "report.html", "xlsx": out / "tables.xlsx"}
    from pipeline.io import atomic_write

    atomic_write(paths["html"], R.embed_font({paths["html"]: html}, otf)[paths["html"]])
    R.write_xlsx(doc.sheets, paths["xlsx"])
    if pdf:
        paths["pdf"] = out / "report.pdf"
        R.write_pdf(printed, paths["pdf"], otf)
    return paths
