"""Half-year bulletin (半年通报) and one page per unit (``units/<unit_id>.html``)."""

from __future__ import annotations

import html as _html
import math
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.i18n import current, labels, t
from pipeline.io import atomic_write
from pipeline.report.data import _n_samples, run_language
from pipeline.report.document import _col_classes, _display, _english_subst, _table_html
from pipeline.i18n import namer as _namer
from pipeline.report.render import _embed_font, _render, _write_pdf
from pipeline.errors import PipelineError
from pipeline.pages import bulletin_table  # one implementation: pipeline.pages


#: The chapter whose record holds the numbers of the bulletin and the unit pages.
CHAPTER = "02-horizontal"


def _rec_table(record: dict, name: str) -> pd.DataFrame:
    """Table ``name`` of the chapter-02 record; missing is one line naming the chapter and the key."""
    tabs = (record or {}).get("tables") or {}
    if name not in tabs:
        where = record.get("dir", CHAPTER) if record else CHAPTER
        raise PipelineError(f"{where}: chapter {CHAPTER} record has no table {name!r} — re-run `python -m pipeline analyze` with this version")
    return tabs[name]


def _rec_headline(record: dict, name: str):
    """Headline number ``name`` of the chapter-02 record (same error as :func:`_rec_table`)."""
    head = (record or {}).get("headline") or {}
    if name not in head:
        where = record.get("dir", CHAPTER) if record else CHAPTER
        raise PipelineError(f"{where}: chapter {CHAPTER} record has no headline {name!r} — re-run `python -m pipeline analyze` with this version")
    return head[name]


@run_language
def write_bulletin(data: dict, record: dict, year: int, prm, path: Path, write: bool = True, pdf: bool = True) -> Path | dict[Path, str]:
    """Write ``bulletin_H1.html`` (self-contained, CJK font embedded) and ``bulletin_H1.pdf``
    from :func:`bulletin_context`. ``write=False`` returns ``{path: html}`` with the font slot
    still empty instead (the caller embeds one font subset for several pages,
    :func:`_embed_font`); the PDF is written in both cases when ``pdf``."""
    ctx = bulletin_context(data, record, year, prm)
    html_text = _render("bulletin.html", ctx)
    if pdf:
        _write_pdf(_render("bulletin.html", ctx, pdf=True), path.with_suffix(".pdf"))
    if not write:
        return {path: html_text}
    return atomic_write(path, _embed_font({path: html_text})[path])


@run_language
def bulletin_context(data: dict, record: dict, year: int, prm) -> dict:
    """The template context of the half-year bulletin (the HTML and the PDF render it).

    What a 通报 states, read from the record of chapter 02 (``record``,
    :func:`pipeline.notebooks.read_record`; tables ``h_bulletin``, ``h_bulletin_categories``,
    ``h_bulletin_bottom`` of :func:`pipeline.pages.bulletin_tables`, headline ``bulletin`` of
    :func:`pipeline.pages.bulletin_summary` and ``bulletin_notes``): 横比 (the first-half
    ranking), 纵比 (change against the same half of last year), category subtotals and the
    units at the bottom named with the items where they are furthest below the mean. Nothing
    is computed here."""
    from markupsafe import Markup

    items_y = data["items"].loc[data["items"]["year"] == year]
    nm = _namer(units=data["units"].drop_duplicates("unit_id"), items=items_y.set_index("item_id"))
    rk, cats, bot = (_rec_table(record, k) for k in ("h_bulletin", "h_bulletin_categories", "h_bulletin_bottom"))
    notes, sm = _rec_headline(record, "bulletin_notes"), _rec_headline(record, "bulletin")
    sep = "、" if current() == "zh" else "; "
    paras, sections = [], []
    if "nc_bul_no_months" in notes:
        paras = [t("nc_bul_no_months")]
    else:
        paras = [t("rep_bul_intro")]
        horiz = [t("pg_bul_horizontal", mean=sm["mean"], first=nm("unit", sm["first"]), first_pct=sm["first_pct"],
                   last=nm("unit", sm["last"]), last_pct=sm["last_pct"], spread=sm["spread"]),
                 t("pg_bul_overlap", top_n=prm.top_n, overlap=sm["overlap"])]
        if "nc_bul_no_prev" in notes:
            vert = [t("nc_bul_no_prev", prev=year - 1)]
        else:
            ch = {"prev": year - 1, "prev_mean": sm["prev_mean"], "mean": sm["both_mean"], "change": sm["change"]}
            if sm["moved"]:
                vert = [t("pg_bul_vertical", **ch, up=nm("unit", sm["up"]), up_k=sm["up_k"], down=nm("unit", sm["down"]), down_k=sm["down_k"])]
            else:
                vert = [t("pg_bul_vertical_flat", **ch)]
        cat_cols = [c for c in rk.columns if c.startswith("cat_")]
        tab = pd.DataFrame({t("pg_col_h1_rank"): rk["h1_rank"], t("rep_col_name"): rk["unit_id"].map(lambda u: nm("unit", u)),
                            t("pg_col_h1_pct"): rk["h1_pct"],
                            **{t("pg_col_cat_pct", cat=t(c)): rk[c] for c in cat_cols},
                            t("pg_col_prev_rank"): rk["prev_rank"].astype("Int64"), t("pg_col_rank_change"): rk["rank_change"].astype("Int64"),
                            t("pg_col_pct_change"): rk["pct_change"], t("pg_col_year_rank"): rk["year_rank"].astype("Int64")})
        ctab = pd.DataFrame({t("rep_col_category"): [t(f"cat_{c}") for c in cats["category"]], t("pg_col_mean_pct"): cats["mean_pct"],
                             t("pg_col_prev_mean_pct"): cats["prev_mean_pct"], t("pg_col_change"): cats["change"]})
        lines = []
        for uid, g in bot.groupby("unit_id", sort=False):
            its = sep.join(t("pg_bul_behind_item", item=nm("item", i), behind=float(v)) for i, v in zip(g["item_id"], g["behind"]) if isinstance(i, str))
            lines.append(t("pg_bul_bottom_unit", name=nm("unit", uid), rank=int(g["h1_rank"].iloc[0]), pct=float(g["h1_pct"].iloc[0]), items=its))
        btab = pd.DataFrame({t("pg_col_h1_rank"): bot["h1_rank"], t("rep_col_name"): bot["unit_id"].map(lambda u: nm("unit", u)),
                             t("rep_col_item"): bot["item_id"].map(lambda i: nm("item", i) if isinstance(i, str) else ""), t("pg_col_behind"): bot["behind"]})
        sections = [
            {"title": t("pg_bul_horizontal_h"), "paras": horiz, "tables": [(t("pg_bul_ranking_cap"), Markup(_table_html(tab)))]},
            {"title": t("pg_bul_vertical_h"), "paras": vert, "tables": []},
            {"title": t("pg_bul_categories_h"), "paras": [], "tables": [(t("pg_bul_categories_cap"), Markup(_table_html(ctab)))]},
            {"title": t("pg_bul_bottom_h"), "paras": [t("pg_bul_bottom_intro"), *lines], "tables": [(t("pg_bul_bottom_cap"), Markup(_table_html(btab)))]},
        ]
    ctx = {"lang": current(), "title": t("rep_bul_title", year=year), "paras": paras, "sections": sections, "tables": [],
           "back": t("rep_unit_back"), "back_href": "report.html"}
    return ctx


def _svg_radar(values: list[float], ref: list[float], names: list[str]) -> str:
    """Inline SVG radar of six dimensions (0–100 %): this unit vs the average."""
    from pipeline.plots.style import OTHER, WINNER

    cx, cy, r = 170, 150, 100
    k = len(names)
    ang = [math.pi / 2 - 2 * math.pi * i / k for i in range(k)]

    def pts(vals):
        return " ".join(f"{cx + r * max(0, min(v, 100)) / 100 * math.cos(a):.1f},{cy - r * max(0, min(v, 100)) / 100 * math.sin(a):.1f}" for v, a in zip(vals, ang))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 340 300" width="340" height="300" role="img">']
    for lv in (25, 50, 75, 100):
        parts.append(f'<polygon points="{pts([lv] * k)}" fill="none" stroke="#ccc" stroke-width="0.7"/>')
    for a, nm in zip(ang, names):
        x, y = cx + (r + 14) * math.cos(a), cy - (r + 14) * math.sin(a)
        anchor = "middle" if abs(math.cos(a)) < 0.3 else ("start" if math.cos(a) > 0 else "end")
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{cx + r * math.cos(a):.1f}" y2="{cy - r * math.sin(a):.1f}" stroke="#ccc" stroke-width="0.7"/>')
        parts.append(f'<text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" text-anchor="{anchor}">{_html.escape(nm)}</text>')
    parts.append(f'<polygon points="{pts(ref)}" fill="{OTHER}" fill-opacity="0.25" stroke="{OTHER}" stroke-width="1.2"/>')
    parts.append(f'<polygon points="{pts(values)}" fill="{WINNER}" fill-opacity="0.25" stroke="{WINNER}" stroke-width="1.8"/>')
    parts.append(f'<rect x="8" y="278" width="10" height="10" fill="{WINNER}"/><text x="22" y="287" font-size="11">{_html.escape(t("rep_lg_unit"))}</text>')
    parts.append(f'<rect x="110" y="278" width="10" height="10" fill="{OTHER}"/><text x="124" y="287" font-size="11">{_html.escape(t("rep_lg_all"))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_lines(years: list[int], series: list[float], title: str, invert: bool = False, lo: float | None = None, hi: float | None = None) -> str:
    """Small inline SVG line chart (one series over the years)."""
    from pipeline.plots.style import PALETTE

    w, h, l, b, tp = 300, 170, 40, 28, 22
    vals = [v for v in series if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return ""
    lo = min(vals) if lo is None else lo
    hi = max(vals) if hi is None else hi
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    x0, x1 = (min(years), max(years)) if len(years) > 1 else (years[0] - 1, years[0] + 1)

    def X(yr):
        return l + (w - l - 10) * (yr - x0) / (x1 - x0)

    def Y(v):
        f = (v - lo) / (hi - lo)
        return tp + (h - tp - b) * (f if invert else 1 - f)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">',
             f'<text x="{l}" y="14" font-size="11">{_html.escape(title)}</text>',
             f'<line x1="{l}" y1="{h - b}" x2="{w - 10}" y2="{h - b}" stroke="#999"/><line x1="{l}" y1="{tp}" x2="{l}" y2="{h - b}" stroke="#999"/>']
    for v in (lo, hi):
        parts.append(f'<text x="{l - 4}" y="{Y(v) + 4:.1f}" font-size="10" text-anchor="end">{v:.0f}</text>')
    for yr in years:
        parts.append(f'<text x="{X(yr):.1f}" y="{h - b + 14}" font-size="10" text-anchor="middle">{yr % 100:02d}</text>')
    pts = [(X(yr), Y(v)) for yr, v in zip(years, series) if v is not None and not (isinstance(v, float) and math.isnan(v))]
    parts.append(f'<polyline points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}" fill="none" stroke="{PALETTE[1]}" stroke-width="1.8"/>')
    parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.8" fill="{PALETTE[1]}"/>' for x, y in pts]
    parts.append("</svg>")
    return "".join(parts)


@run_language
def write_unit_pages(data: dict, record: dict, year: int, prm, unc: pd.DataFrame | None, folder: Path, write: bool = True) -> list[Path] | dict[Path, str]:
    """Write ``units/<unit_id>.html`` for every unit of the year and ``units/index.html``.

    Every page is self-contained: its charts are inline SVG and the CJK font is embedded
    (one subset covering all pages). ``write=False`` returns ``{path: html}`` with the font
    slot still empty instead (:func:`_embed_font`). Besides where the unit stands, each page
    shows where it lost points item by item against the year's and the winners' average and
    what separates it from the cut, read from the record of chapter 02 (``record``; tables
    ``h_item_losses`` of :func:`pipeline.pages.item_losses` with the order of the weakest
    items, ``h_unit_gaps`` of :func:`pipeline.pages.gaps_to_cut`, ``h_ranking`` of
    :func:`pipeline.compare.ranking`, and for the radar ``h_profiles`` / ``h_profile_means`` of
    :func:`pipeline.compare.profiles` / :func:`pipeline.compare.profile_means`, the same
    numbers as chapter 二's radar)."""
    from markupsafe import Markup

    from pipeline import pages as PG

    totals, items, units = data["totals"], data["items"], data["units"]
    g = totals.loc[totals["year"] == year]
    names = units.set_index("unit_id")["name"].to_dict()
    integ = data.get("integrity")
    iy = integ.loc[pd.to_numeric(integ["year"], errors="coerce") == year] if integ is not None and len(integ) else None
    weak = data.get("weak_orgs")
    wk = weak.loc[weak["year"] == year].set_index("unit_id")["status"].to_dict() if weak is not None and len(weak) else {}
    u_idx = unc.set_index("unit_id") if unc is not None and len(unc) else None
    n_samp = _n_samples(prm, unc) if unc is not None else prm.n_samples
    hist = totals.sort_values("year")
    subst = _english_subst(items.loc[items["year"] == year])
    item_name = _namer(items=items.loc[items["year"] == year].set_index("item_id"))
    env_t = "unit.html"
    losses, gaps, ranking, prof, pmean = (_rec_table(record, k) for k in ("h_item_losses", "h_unit_gaps", "h_ranking", "h_profiles", "h_profile_means"))
    dims = list(config.DIMENSIONS)
    dim_pct = prof.loc[prof["group"] == "dimension"].pivot(index="unit_id", columns="key", values="pct").reindex(columns=dims)
    mean_dim = pmean.loc[pmean["group"] == "dimension"].set_index("key")["mean_pct"].reindex(dims).tolist()
    wins = ranking.set_index("unit_id")["is_winner"]  # winners and cut under the run's top_n (one computation)
    by_unit = dict(tuple(losses.groupby("unit_id", sort=False)))
    gap_of = gaps.set_index("unit_id")
    cut = float(ranking["cut"].iloc[0])
    sep = "、" if current() == "zh" else "; "

    def below(u: pd.DataFrame, col: str) -> str:
        order = u["below_mean_order" if col == "vs_mean" else "below_winners_order"]
        worst = u.loc[order.le(PG.WEAKEST).fillna(False)].assign(_o=order).sort_values("_o")
        return sep.join(t("pg_unit_below_item", item=item_name("item", i), diff=float(d)) for i, d in zip(worst["item_id"], worst[col]))

    def cut_text(gc: dict, uid: str) -> str:
        if gc["note"] is not None:
            return t(gc["note"], **{k: v for k, v in gc.items() if k not in ("note", "items")})
        if gc["is_winner"]:
            return t("pg_unit_cut_winner", total=gc["total"], cut=gc["cut"], gap=gc["gap"], margin=gc["margin"])
        txt = t("pg_unit_cut_below", total=gc["total"], cut=gc["cut"], needed=gc["needed"], top_n=prm.top_n, k=len(gc["items"]),
                items=sep.join(item_name("item", i) for i in gc["items"]))
        return txt + (t("pg_unit_cut_scale", scale=gc["scale"]) if abs(gc["scale"] - 1) > 1e-9 else "")

    pages: dict[Path, str] = {}
    index_rows = []
    for r in g.sort_values(["rank", "unit_id"]).itertuples(index=False):
        uid = r.unit_id
        nm = names.get(uid, uid)
        ul = PG.unit_losses(by_unit.get(uid, losses.iloc[:0]), uid)
        mean_txt = below(ul, "vs_mean")
        win_txt = below(ul, "vs_winners") if ul["winners_mean"].notna().any() else t("pg_unit_no_winners_mean")
        losses_reading = t("pg_unit_losses_reading", below_mean=mean_txt, below_winners=win_txt or t("pg_unit_no_winners_mean")) if mean_txt else t("pg_unit_losses_none_below")
        ltab = pd.DataFrame({t("rep_col_item"): ul["item_id"].map(lambda i: item_name("item", i)), t("rep_col_max_points"): ul["max_points"],
                             t("pg_col_points"): ul["points"], t("pg_col_lost"): ul["lost"], t("pg_col_year_mean"): ul["year_mean"],
                             t("pg_col_winners_mean"): ul["winners_mean"], t("pg_col_vs_mean"): ul["vs_mean"], t("pg_col_vs_winners"): ul["vs_winners"]}).round(2)
        cut_txt = cut_text(PG.gap_record(gap_of.loc[uid]), uid)
        stand = t("rep_unit_stand_text", total=r.total, pct=r.pct_of_max, n=len(g), rank=int(r.rank),
                  status=t("rep_unit_winner" if wins.get(uid, False) else "rep_unit_not_winner"), gap=r.total - cut)
        radar = _svg_radar(dim_pct.loc[uid].tolist() if uid in dim_pct.index else [float("nan")] * len(dims), mean_dim, [t(f"dim_{d}") for d in dims])
        h = hist.loc[(hist["unit_id"] == uid) & (hist["year"] <= year)]
        yrs = h["year"].astype(int).tolist()
        traj = Markup(_svg_lines(yrs, h["rank"].astype(float).tolist(), t("rep_col_rank"), invert=True, lo=1, hi=float(g["rank"].max()))
                      + _svg_lines(yrs, h["pct_of_max"].astype(float).tolist(), t("rep_col_pct_of_max")))
        if u_idx is not None and uid in u_idx.index:
            u = u_idx.loc[uid]
            interval = t("rep_unit_interval_text", n_samples=n_samp, q05=int(u["q05"]), q95=int(u["q95"]), median=int(u.get("median_rank", u["q05"])), p=float(u["p_winner"]))
        else:
            interval = t("rep_unit_interval_none")
        flags_tab = ""
        if iy is not None:
            fu = iy.loc[iy["unit_id"] == uid]
            if len(fu):
                cols = [c for c in ("check", "item", "severity", "statistic", "evidence") if c in fu]
                fu = fu[cols].copy()
                if "item" in fu:
                    fu["item"] = fu["item"].map(lambda v: item_name("item", v) if isinstance(v, str) and v.strip() else v)
                flags_tab = _table_html(_display(fu, subst), _col_classes(fu))
        weak_line = t("rep_unit_weak", status=t(f"rep_weak_{wk[uid]}")) if uid in wk and f"rep_weak_{wk[uid]}" in labels() else ""
        ctx = {"lang": current(), "title": t("rep_unit_title", name=nm, year=year), "stand_h": t("rep_unit_stand"), "stand": stand,
               "radar_h": t("rep_unit_radar"), "radar": Markup(radar), "traj_h": t("rep_unit_traj"), "traj": traj,
               "interval_h": t("rep_unit_interval"), "interval": interval, "flags_h": t("rep_unit_flags"),
               "flags": Markup(flags_tab), "flags_none": t("rep_unit_flags_none"), "weak": weak_line, "back": t("rep_unit_back"),
               "cut_h": t("pg_unit_cut_h"), "cut": cut_txt, "losses_h": t("pg_unit_losses_h"), "losses_reading": losses_reading,
               "losses_cap": t("pg_unit_losses_cap"), "losses": Markup(_table_html(ltab))}
        pages[folder / f"{uid}.html"] = _render(env_t, ctx)
        index_rows.append({"rank": int(r.rank), "unit_id": f'<a href="{uid}.html">{uid}</a>', "name": nm, "total": r.total})
    idx = pd.DataFrame(index_rows)
    tab = _table_html(_display(idx)).replace("&lt;a href=&quot;", '<a href="').replace("&quot;&gt;", '">').replace("&lt;/a&gt;", "</a>")
    pages[folder / "index.html"] = _render("bulletin.html", {"lang": current(), "title": t("rep_unit_index") + f" {year}", "paras": [], "tables": [("", Markup(tab))],
                                                             "sections": [], "back": t("rep_unit_back"), "back_href": "../report.html"})
    if not write:
        return pages
    written = []
    for p, h in _embed_font(pages).items():
        written.append(atomic_write(p, h))
    return [p for p in written if p.name != "index.html"]

