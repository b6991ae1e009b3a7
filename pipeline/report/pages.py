"""Half-year bulletin (半年通报) and one page per unit (``units/<unit_id>.html``)."""

from __future__ import annotations

import html as _html
import math
from pathlib import Path

import pandas as pd

from pipeline import config
from pipeline.i18n import labels, t
from pipeline.io import atomic_write
from pipeline.report.data import _n_samples
from pipeline.report.document import _col_classes, _display, _english_subst, _table_html
from pipeline.i18n import namer as _namer
from pipeline.report.render import _embed_font, _render


def bulletin_table(scores: pd.DataFrame, items: pd.DataFrame, totals: pd.DataFrame, year: int, months=range(1, 7)) -> pd.DataFrame:
    """Half-year ranking from the monthly sheets (periods 1…6, items scored in points).

    A monthly row of an applicable item (status ≠ ``na``) can earn ``max_points / 12``
    (annual points of a 计分 item = the sum of its 12 monthly values); ``h1_pct`` =
    100 × earned / attainable.

    Returns
    -------
    DataFrame
        ``h1_rank`` (competition rank of ``h1_pct``), ``unit_id``, ``months`` (months with a
        row), ``h1_points``, ``h1_max``, ``h1_pct``, ``rank`` (the year-end rank). Empty when
        the year has no monthly rows.
    """
    per = [str(m) for m in months]
    s = scores.loc[(scores["year"] == year) & scores["period"].astype(str).isin(per)]
    cols = ["h1_rank", "unit_id", "months", "h1_points", "h1_max", "h1_pct", "rank"]
    if not len(s):
        return pd.DataFrame(columns=cols)
    s = s.merge(items.loc[items["year"] == year, ["item_id", "max_points"]], on="item_id", how="left")
    s = s.assign(earned=s["points"].astype(float).where(s["status"] == "ok", 0.0).fillna(0.0),
                 attainable=(s["max_points"] / 12.0).where(s["status"] != "na", 0.0))
    g = s.groupby("unit_id").agg(months=("period", "nunique"), h1_points=("earned", "sum"), h1_max=("attainable", "sum")).reset_index()
    g["h1_pct"] = 100.0 * g["h1_points"] / g["h1_max"].where(g["h1_max"] > 0)
    from pipeline.score import TIE_DECIMALS, rank

    g["h1_rank"] = rank(g["h1_pct"].fillna(-1).to_numpy(), decimals=TIE_DECIMALS).astype(int)
    g = g.merge(totals.loc[totals["year"] == year, ["unit_id", "rank"]], on="unit_id", how="left")
    return g[cols].sort_values(["h1_rank", "unit_id"]).reset_index(drop=True)


def write_bulletin(data: dict, year: int, prm, path: Path, write: bool = True) -> Path | dict[Path, str]:
    """Write ``bulletin_H1.html`` (self-contained, CJK font embedded).

    ``write=False`` returns ``{path: html}`` with the font slot still empty instead (the
    caller embeds one font subset for several pages, :func:`_embed_font`)."""
    lang = prm.lang
    b = bulletin_table(data["scores"], data["items"], data["totals"], year)
    paras, table = [], ""
    if len(b):
        b = b.merge(data["units"][["unit_id", "name"]], on="unit_id", how="left")
        b = b[["h1_rank", "unit_id", "name", "months", "h1_points", "h1_max", "h1_pct", "rank"]]
        overlap = int(((b["h1_rank"] <= prm.top_n) & (b["rank"] <= prm.top_n)).sum())
        paras = [t("rep_bul_intro", lang), t("rep_bul_reading", lang, mean=float(b["h1_pct"].mean()), top_n=prm.top_n, overlap=overlap)]
        table = _table_html(_display(b, lang))
    else:
        paras = [t("rep_bul_none", lang)]
    from markupsafe import Markup

    html_text = _render("bulletin.html", {"lang": lang, "title": t("rep_bul_title", lang, year=year), "paras": paras, "table": Markup(table),
                                          "caption": t("rep_tabcap_bulletin", lang), "back": t("rep_unit_back", lang), "back_href": "report.html"})
    if not write:
        return {path: html_text}
    return atomic_write(path, _embed_font({path: html_text})[path])


def _svg_radar(values: list[float], ref: list[float], names: list[str], lang: str) -> str:
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
    parts.append(f'<rect x="8" y="278" width="10" height="10" fill="{WINNER}"/><text x="22" y="287" font-size="11">{_html.escape(t("rep_lg_unit", lang))}</text>')
    parts.append(f'<rect x="110" y="278" width="10" height="10" fill="{OTHER}"/><text x="124" y="287" font-size="11">{_html.escape(t("rep_lg_all", lang))}</text>')
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


def write_unit_pages(data: dict, year: int, prm, unc: pd.DataFrame | None, folder: Path, write: bool = True) -> list[Path] | dict[Path, str]:
    """Write ``units/<unit_id>.html`` for every unit of the year and ``units/index.html``.

    Every page is self-contained: its charts are inline SVG and the CJK font is embedded
    (one subset covering all pages). ``write=False`` returns ``{path: html}`` with the font
    slot still empty instead (:func:`_embed_font`)."""
    from markupsafe import Markup

    lang = prm.lang
    totals, items, units = data["totals"], data["items"], data["units"]
    g = totals.loc[totals["year"] == year]
    names = units.set_index("unit_id")["name"].to_dict()
    dmax = items.loc[items["year"] == year].groupby("dimension")["max_points"].sum()
    dims = [d for d in config.DIMENSIONS if d in dmax.index]
    mean_dim = [100 * g[f"dim_{d}"].mean() / dmax[d] for d in dims]
    cut = float(g.loc[g["rank"] <= prm.top_n, "total"].min())
    integ = data.get("integrity")
    iy = integ.loc[pd.to_numeric(integ["year"], errors="coerce") == year] if integ is not None and len(integ) else None
    weak = data.get("weak_orgs")
    wk = weak.loc[weak["year"] == year].set_index("unit_id")["status"].to_dict() if weak is not None and len(weak) else {}
    u_idx = unc.set_index("unit_id") if unc is not None and len(unc) else None
    n_samp = _n_samples(prm, unc) if unc is not None else prm.n_samples
    hist = totals.sort_values("year")
    subst = _english_subst(items.loc[items["year"] == year], lang)
    item_name = _namer(lang, items=items.loc[items["year"] == year].set_index("item_id"))
    env_t = "unit.html"
    pages: dict[Path, str] = {}
    index_rows = []
    for r in g.sort_values(["rank", "unit_id"]).itertuples(index=False):
        uid = r.unit_id
        nm = names.get(uid, uid)
        stand = t("rep_unit_stand_text", lang, total=r.total, pct=r.pct_of_max, n=len(g), rank=int(r.rank),
                  status=t("rep_unit_winner" if r.is_winner else "rep_unit_not_winner", lang), gap=r.total - cut)
        radar = _svg_radar([100 * getattr(r, f"dim_{d}") / dmax[d] for d in dims], mean_dim, [t(f"dim_{d}", lang) for d in dims], lang)
        h = hist.loc[(hist["unit_id"] == uid) & (hist["year"] <= year)]
        yrs = h["year"].astype(int).tolist()
        traj = Markup(_svg_lines(yrs, h["rank"].astype(float).tolist(), t("rep_col_rank", lang), invert=True, lo=1, hi=float(g["rank"].max()))
                      + _svg_lines(yrs, h["pct_of_max"].astype(float).tolist(), t("rep_col_pct_of_max", lang)))
        if u_idx is not None and uid in u_idx.index:
            u = u_idx.loc[uid]
            interval = t("rep_unit_interval_text", lang, n_samples=n_samp, q05=int(u["q05"]), q95=int(u["q95"]), median=int(u.get("median_rank", u["q05"])), p=float(u["p_winner"]))
        else:
            interval = t("rep_unit_interval_none", lang)
        flags_tab = ""
        if iy is not None:
            fu = iy.loc[iy["unit_id"] == uid]
            if len(fu):
                cols = [c for c in ("check", "item", "severity", "statistic", "evidence") if c in fu]
                fu = fu[cols].copy()
                if "item" in fu:
                    fu["item"] = fu["item"].map(lambda v: item_name("item", v) if isinstance(v, str) and v.strip() else v)
                flags_tab = _table_html(_display(fu, lang, subst), _col_classes(fu, lang))
        weak_line = t("rep_unit_weak", lang, status=t(f"rep_weak_{wk[uid]}", lang)) if uid in wk and f"rep_weak_{wk[uid]}" in labels(lang) else ""
        ctx = {"lang": lang, "title": t("rep_unit_title", lang, name=nm, year=year), "stand_h": t("rep_unit_stand", lang), "stand": stand,
               "radar_h": t("rep_unit_radar", lang), "radar": Markup(radar), "traj_h": t("rep_unit_traj", lang), "traj": traj,
               "interval_h": t("rep_unit_interval", lang), "interval": interval, "flags_h": t("rep_unit_flags", lang),
               "flags": Markup(flags_tab), "flags_none": t("rep_unit_flags_none", lang), "weak": weak_line, "back": t("rep_unit_back", lang)}
        pages[folder / f"{uid}.html"] = _render(env_t, ctx)
        index_rows.append({"rank": int(r.rank), "unit_id": f'<a href="{uid}.html">{uid}</a>', "name": nm, "total": r.total})
    idx = pd.DataFrame(index_rows)
    tab = _table_html(_display(idx, lang)).replace("&lt;a href=&quot;", '<a href="').replace("&quot;&gt;", '">').replace("&lt;/a&gt;", "</a>")
    pages[folder / "index.html"] = _render("bulletin.html", {"lang": lang, "title": t("rep_unit_index", lang) + f" {year}", "paras": [], "table": Markup(tab), "caption": "",
                                                             "back": t("rep_unit_back", lang), "back_href": "../report.html"})
    if not write:
        return pages
    written = []
    for p, h in _embed_font(pages).items():
        written.append(atomic_write(p, h))
    return [p for p in written if p.name != "index.html"]

