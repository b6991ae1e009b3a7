"""Writing a world: the raw workbooks as committees export them, and the ground truth.

One export style per year of a span (:data:`STYLES`; every SPEC §2.1 case occurs in some year),
or :data:`TIDY`; :func:`write_raw` writes ``units.csv`` and the year folders byte-reproducibly
(fixed zip dates and core properties), :func:`write_truth` the truth tables, and
:func:`write_world` both.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.io import atomic_path, atomic_write
from pipeline import synth_names as N
from pipeline.synth.model import MONTHS, Shape, World, Year, _MISSING, _NA, _OK, _points
from pipeline.synth.world import generate


_FW = str.maketrans("0123456789", "０１２３４５６７８９")
_ZIP_DATE = (2017, 1, 1, 0, 0, 0)
_CORE_TIME = "2017-01-01T00:00:00Z"


# --------------------------------------------------------------------------------------------
# Writing: per-year export styles (every SPEC §2.1 case occurs in some year of a span of 8)
# --------------------------------------------------------------------------------------------
_TRAIL_ALL = ("blank", "合计", "平均", "注", "制表人")
#: One style per position in the span (cycled). Keys: fmt/enc (file format), names (file
#: names), sheets (sheet names, the summary's is marked by ``summary_sheet``), title (title
#: rows), two_level, maxhdr ("fw" 三会一课（5分）/ "hw" 三会一课(5) / "mixed" / None), breaks
#: (line breaks and spaces in header cells), unit_hdr, na (NA marks used), order (rows by
#: registry or by given rank), trailer (rows after the data), mess (share of messy cells).
STYLES: list[dict] = [
    dict(fmt="csv", enc="gbk", names=("考评项目一览表-{y}.csv", "汇总-{y}.csv"), title=1, two_level=False,
         maxhdr="hw", breaks=False, unit_hdr="单位", na=("/", "无"), order="registry",
         trailer=("blank", "合计", "注", "制表人"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="csv", enc="gb18030", names=("{y}年考评项目一览表.csv", "{y}年考评汇总表.csv"), title=2, two_level=True,
         maxhdr="fw", breaks=False, unit_hdr="单位名称", na=("—", "不适用"), order="rank",
         trailer=("平均", "blank", "blank", "注"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("{y}年度考评项目一览表.xlsx", "{y}年度考评汇总表.xlsx"), title=2, two_level=True,
         maxhdr="fw", breaks=True, unit_hdr="党组织名称", na=("/", "-"), order="rank",
         trailer=_TRAIL_ALL, sheets=("说明", "汇总", "Sheet3"), sources=False, grade_inner=False),
    dict(fmt="csv", enc="utf-8-sig", names=("考评项目-{y}.csv", "汇总-{y}.csv"), title=1, two_level=True,
         maxhdr=None, breaks=False, unit_hdr="机关党组织", na=("-", "/"), order="registry",
         trailer=("blank", "制表人"), sheets=None, sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("附件1.xlsx", "附件2.xlsx"), title=3, two_level=True,
         maxhdr="hw", breaks=True, unit_hdr="单位", na=("不适用", "—"), order="rank",
         trailer=("合计", "注", "制表人"), sheets=("{y}年", "Sheet2", "Sheet3"), sources=True, grade_inner=True),
    dict(fmt="xlsx", names=("{y}年度考评项目一览表.xlsx", "{y}年度考评汇总表.xlsx"), title=1, two_level=True,
         maxhdr="fw", breaks=False, unit_hdr="单位名称", na=("/", "无"), order="registry",
         trailer=("合计", "平均", "注", "制表人"), sheets=("汇总", "得分排名"), sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("考评项目一览表{y}.xlsx", "{y}年度考评汇总表.xlsx"), title=2, two_level=True,
         maxhdr="mixed", breaks=True, unit_hdr="党组织名称", na=("—", "/", "不适用"), order="rank",
         trailer=("blank", "平均", "制表人"), sheets=("Sheet1", "Sheet2"), sources=False, grade_inner=False),
    dict(fmt="xlsx", names=("{y}年考评项目一览表.xlsx", "{y}年考评汇总.xlsx"), title=1, two_level=True,
         maxhdr="fw", breaks=True, unit_hdr="机关党组织", na=("/", "—", "-", "无", "不适用"), order="rank",
         trailer=_TRAIL_ALL, sheets=("填表说明", "汇总"), sources=False, grade_inner=True),
]
TIDY = dict(fmt="xlsx", names=("考评项目一览表.xlsx", "考评汇总表.xlsx"), title=0, two_level=False, maxhdr=None,
            breaks=False, unit_hdr="单位名称", na=("/",), order="registry", trailer=(), sheets=("汇总",),
            sources=False, grade_inner=False)


def _style(k: int, messy: bool) -> dict:
    return dict(STYLES[k % len(STYLES)]) if messy else dict(TIDY)


def _num(t: int) -> str:
    """Tenths as the text a clerk would type: 45 → '4.5', 50 → '5'."""
    return str(t // 10) if t % 10 == 0 else f"{t // 10}.{t % 10}"


def _fmt_max(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def _save_xlsx(wb, path: Path) -> None:
    """Save an openpyxl workbook byte-reproducibly (fixed zip dates and document times)."""
    buf = io.BytesIO()
    wb.save(buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + _CORE_TIME.encode(), data)
            zi = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    atomic_write(path, out.getvalue())


def _write_csv_rows(rows: list[list], path: Path, enc: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    atomic_write(path, buf.getvalue().encode(enc))


def _write_table_file(path: Path, sheets: list[tuple[str, list[list], list[tuple]]], style: dict) -> None:
    """Write sheets [(name, rows, merges)] as xlsx (merged cells) or, for CSV, the first sheet."""
    if style["fmt"] == "csv":
        _write_csv_rows(sheets[0][1], path, style["enc"])
        return
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    wb.remove(wb.active)
    wrap = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for name, rows, merges in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        for r1, c1, r2, c2 in merges:
            ws.merge_cells(start_row=r1, start_column=c1, end_row=r2, end_column=c2)
        for r1, c1, r2, c2 in merges:
            ws.cell(r1, c1).alignment = wrap
    wb.properties.creator = "市直机关工委"
    _save_xlsx(wb, path)


class _Namer:
    """Unit-name variants of SPEC §2.1 case 4 (spaces, brackets, aliases, missing 市)."""

    KINDS = ("std", "alias", "space", "u3000", "bracket", "nopre")

    def __init__(self, units: pd.DataFrame):
        self.name = dict(zip(units["unit_id"], units["name"]))
        self.valid_from = {u: int(v) for u, v in zip(units["unit_id"], units["valid_from"]) if pd.notna(v)}
        self.alias = {u: [a for a in str(al).split(";") if a] if isinstance(al, str) else [] for u, al in zip(units["unit_id"], units["aliases"])}
        taken = set(units["name"]) | {a for v in self.alias.values() for a in v}
        self.nopre_ok = {
            u: n.startswith("市") and not n.startswith(("市委", "市政", "市人大")) and n[1:] not in taken
            for u, n in self.name.items()
        }

    def variant(self, uid: str, kind: str, rng: np.random.Generator) -> str:
        n = self.name[uid]
        if kind == "alias" and self.alias[uid]:
            return self.alias[uid][int(rng.integers(0, len(self.alias[uid])))]
        if kind == "space" and len(n) > 2:
            k = int(rng.integers(1, len(n)))
            return n[:k] + " " + n[k:] if rng.random() < 0.6 else n + " "
        if kind == "u3000" and len(n) > 2:
            k = int(rng.integers(1, len(n)))
            return n[:k] + "\u3000" + n[k:] if rng.random() < 0.6 else "\u3000" + n
        if kind == "bracket" and "（" in n:
            return n.replace("（", "(").replace("）", ")")
        if kind == "nopre" and self.nopre_ok[uid]:
            return n[1:]
        return n


def _unit_names(y: Year, namer: _Namer, rng: np.random.Generator, rate: float) -> list[str]:
    """Per-row unit names: mostly standard, ``rate`` of them a variant; each kind at least once."""
    n = len(y.units)
    kinds = np.where(rng.random(n) < rate, rng.integers(1, len(_Namer.KINDS), n), 0)
    if rate > 0 and n >= 12:
        forced = rng.choice(n, size=len(_Namer.KINDS) - 1, replace=False)
        kinds[forced] = np.arange(1, len(_Namer.KINDS))
        nopre = [i for i, u in enumerate(y.units) if namer.nopre_ok[u]]
        if nopre:
            kinds[nopre[int(rng.integers(0, len(nopre)))]] = 5
        for i, u in enumerate(y.units):  # bracketed names: half-width in this whole year or not
            if "（" in namer.name[u] and rng.random() < 0.7:
                kinds[i] = 4
    return [namer.variant(u, _Namer.KINDS[k], rng) for u, k in zip(y.units, kinds)]


def _cells(y: Year, style: dict, rng: np.random.Generator, messy: bool) -> list[list]:
    """Item cells of the annual summary (n × J Python values), with SPEC §2.1 cases 5–7."""
    n, J = y.status.shape
    csv_fmt = style["fmt"] == "csv"
    mess = rng.random((n, J)) if messy else np.ones((n, J))
    kind = rng.integers(0, 4, (n, J))
    na_pick = rng.integers(0, len(style["na"]), (n, J))
    spaces = (" ", "\u3000", "  ")
    out = []
    for i in range(n):
        row = []
        for j in range(J):
            st = y.status[i, j]
            if st == _NA:
                row.append(style["na"][na_pick[i, j]])
            elif st == _MISSING:
                row.append(None)
            elif y.grade[i, j] >= 0:
                g = config.GRADES[y.grade[i, j]]
                if mess[i, j] < 0.12:
                    if style["grade_inner"] and len(g) == 2 and kind[i, j] == 0:
                        g = g[0] + " " + g[1]
                    else:
                        g = (spaces[kind[i, j] % 3] + g) if kind[i, j] < 2 else (g + spaces[kind[i, j] % 3])
                row.append(g)
            else:
                t = int(y.tenths[i, j])
                if mess[i, j] < 0.10:
                    k = kind[i, j]
                    txt = _num(t)
                    row.append(
                        txt if k == 0 else txt.translate(_FW) if k == 1 else txt + "分" if k == 2 else " " + txt + spaces[i % 3]
                    )
                else:
                    row.append(_num(t) if csv_fmt else t / 10)
        out.append(row)
    return out


def _item_header(name: str, mx: float, style: dict, rng: np.random.Generator) -> str:
    h = name
    if style["breaks"] and len(name) >= 5 and rng.random() < 0.5:
        k = len(name) // 2
        h = name[:k] + "\n" + name[k:]
    mode = style["maxhdr"]
    if mode == "mixed":
        mode = ("fw", "hw", None)[int(rng.integers(0, 3))]
    sep = " " if style["breaks"] and rng.random() < 0.4 else ""
    if mode == "fw":
        h = f"{h}{sep}（{_fmt_max(mx)}分）"
    elif mode == "hw":
        h = f"{h}{sep}({_fmt_max(mx)})"
    return h


def _summary_rows(y: Year, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> tuple[list[list], list[tuple]]:
    """Rows and merged ranges of the annual summary sheet (考评汇总表)."""
    items = y.items
    J = len(items)
    ncol = 2 + J + 3
    rows: list[list] = []
    merges: list[tuple] = []
    titles = [
        f"{y.year}年度市直机关党建重点工作考评汇总表",
        "（“六比六看 讲绩效”活动）",
        f"填报单位：市直机关工委\u3000\u3000\u3000\u3000\u3000\u3000填报日期：{y.year + 1}年1月15日",
    ]
    for k in range(style["title"]):
        rows.append([titles[k]] + [None] * (ncol - 1))
        merges.append((len(rows), 1, len(rows), ncol))
    heads = [_item_header(nm, mx, style, rng) for nm, mx in zip(items["item_name"], items["max_points"])]
    if style["two_level"]:
        h1 = len(rows) + 1
        cat_row: list = ["序号", style["unit_hdr"]]
        cats = items["category"].to_numpy()
        for j in range(J):
            cat_row.append(config.CATEGORY_ZH[cats[j]] if j == 0 or cats[j] != cats[j - 1] else None)
        cat_row += ["总分", "名次", "备注"]
        rows.append(cat_row)
        rows.append([None, None] + heads + [None, None, None])
        for c in (1, 2, J + 3, J + 4, J + 5):
            merges.append((h1, c, h1 + 1, c))
        j = 0
        while j < J:
            k = j
            while k + 1 < J and cats[k + 1] == cats[j]:
                k += 1
            if k > j:
                merges.append((h1, 3 + j, h1, 3 + k))
            j = k + 1
    else:
        rows.append(["序号", style["unit_hdr"]] + heads + ["总分", "名次", "备注"])
    names = _unit_names(y, namer, rng, 0.22 if messy else 0.0)
    cells = _cells(y, style, rng, messy)
    order = np.argsort(y.given_rank, kind="stable") if style["order"] == "rank" else np.arange(len(y.units))
    csv_fmt = style["fmt"] == "csv"
    vf = namer.valid_from
    first_year_succ = {u for u in y.units if vf.get(u) == y.year}
    for pos, i in enumerate(order):
        note = ""
        if messy and y.given_rank[i] <= config.TOP_N and style["order"] == "rank":
            note = "优胜单位"
        if y.units[i] in first_year_succ:
            note = "新组建"
        gt = f"{y.given_total[i]:.2f}" if csv_fmt else float(y.given_total[i])
        rows.append([pos + 1, names[i]] + cells[i] + [gt, int(y.given_rank[i]), note or None])
    pts = np.where(y.status == _OK, _points(y), np.nan)
    for tr in style["trailer"]:
        if tr == "blank":
            rows.append([None] * ncol)
        elif tr in ("合计", "平均"):
            v = np.nansum(pts, axis=0) if tr == "合计" else np.nanmean(pts, axis=0)
            gv = y.given_total.sum() if tr == "合计" else y.given_total.mean()
            dec = 1 if tr == "合计" else 2
            vals = [round(float(x), dec) for x in v] + [round(float(gv), 2), None, None]
            if csv_fmt:
                vals = [None if x is None else f"{x}" for x in vals]
            rows.append([None, tr if tr == "合计" else "平均分"] + vals)
        elif tr == "注":
            rows.append(["注：1.“/”“—”“-”“无”“不适用”表示该项目不适用于本单位，空白表示未报送；2.评档项目按好、较好、一般三档评定；3.总分不含述职评议核实调整分。"] + [None] * (ncol - 1))
            merges.append((len(rows), 1, len(rows), ncol))
        elif tr == "制表人":
            a, b = rng.choice(N.PEOPLE, 2, replace=False)
            rows.append([f"制表人：{a}某某\u3000\u3000\u3000\u3000审核人：{b}某某"] + [None] * (ncol - 1))
    return rows, merges


def _items_rows(y: Year, style: dict) -> list[list]:
    rows = []
    if style["title"]:
        rows.append([f"{y.year}年度“六比六看 讲绩效”考评项目一览表", None, None, None, None, None])
    rows.append(["序号", "考评项目", "类别", "维度", "分值", "评分方式"])
    csv_fmt = style["fmt"] == "csv"
    for k, r in enumerate(y.items.itertuples()):
        mx = _fmt_max(r.max_points) if csv_fmt else float(r.max_points)
        rows.append([k + 1, r.item_name, config.CATEGORY_ZH[r.category], config.DIMENSION_ZH[r.dimension], mx, config.METHOD_ZH[r.method]])
    return rows


def _review_rows(y: Year, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> list[list]:
    rows = [[f"{y.year}年度机关党组织书记抓党建工作述职评议核实情况", None, None, None, None]] if style["title"] else []
    rows.append(["序号", "单位", "自评分", "核实调整分", "说明"])
    names = _unit_names(y, namer, rng, 0.1 if messy else 0.0)
    csv_fmt = style["fmt"] == "csv"
    signed = messy and style.get("title", 0) >= 2
    for i in range(len(y.units)):
        a = float(y.adjustment[i])
        if csv_fmt or signed:
            av = ("+" if a > 0 else "") + (_num(int(round(abs(a) * 10))) if a else "0")
            av = ("-" + av) if a < 0 else av
        else:
            av = a
        st = f"{y.self_total[i]:.1f}" if csv_fmt else float(y.self_total[i])
        rows.append([i + 1, names[i], st, av, y.adj_note[i]])
    return rows


def _weak_rows(y: Year, style: dict, namer: _Namer) -> list[list]:
    rows = [["软弱涣散党组织整顿名单", None, None, None]] if style["title"] else []
    rows.append(["序号", "单位名称", "状态", "备注"])
    for k, (u, s) in enumerate(sorted(y.weak.items())):
        rows.append([k + 1, namer.name[u], s, "限期整顿" if s == "整顿中" else "已通过验收"])
    return rows


def _write_monthly(y: Year, path: Path, style: dict, namer: _Namer, rng: np.random.Generator, messy: bool) -> None:
    """月度考评汇总: one sheet per month, 计分 items only, write-only mode (fast for 5,000 units)."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    pidx = np.flatnonzero(~y.graded)
    heads = list(y.items["item_name"].to_numpy()[pidx])
    names = _unit_names(y, namer, rng, 0.05 if messy else 0.0)
    as_text = messy and style["fmt"] == "csv"  # the .xls era: numbers typed as text
    ms = y.status[:, pidx]
    na_mark = style["na"][0]
    for m in MONTHS:
        ws = wb.create_sheet(f"{m}月")
        if messy:
            ws.append([f"{y.year}年{m}月市直机关党建考评月度汇总"])
        ws.append(["序号", style["unit_hdr"] if messy else "单位名称"] + heads + ["总分"])
        vals = y.monthly[m - 1]
        tot = np.where(ms == _OK, vals, 0).sum(axis=1)
        for i in range(len(y.units)):
            row: list = [i + 1, names[i]]
            for j in range(len(pidx)):
                s = ms[i, j]
                if s == _OK:
                    t = int(vals[i, j])
                    row.append(_num(t) if as_text else t / 10)
                else:
                    row.append(na_mark if s == _NA else None)
            row.append(_num(int(tot[i])) if as_text else int(tot[i]) / 10)
            ws.append(row)
    _save_xlsx(wb, path)


def _extra_sheets(y: Year, style: dict) -> list[tuple[str, list[list], list[tuple]]]:
    """Sheets that are not the summary (SPEC §2.1 case 10: ignored by the cleaner)."""
    out = []
    for name in style["sheets"] or ():
        name = name.format(y=y.year)
        if name in ("说明", "填表说明"):
            out.append((name, [["填表说明"], ["1. 本表由市直机关工委汇总。"], ["2. 评档项目按好、较好、一般三档评定。"]], []))
        elif name == "得分排名":
            top = np.argsort(y.given_rank, kind="stable")[:10]
            out.append((name, [["名次", "单位", "总分"]] + [[int(y.given_rank[i]), str(y.units[i]), float(y.given_total[i])] for i in top], []))
        else:
            out.append((name, [], []))
    return out


def write_raw(world: World, raw_dir: str | Path, messy: bool = True) -> list[Path]:
    """Write the raw workbooks of ``world`` into ``raw_dir`` (SPEC §2); returns the files written."""
    raw = Path(raw_dir)
    raw.mkdir(parents=True, exist_ok=True)
    written = []
    reg = world.units.copy()
    with atomic_path(raw / "units.csv") as tmp:
        reg.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    written.append(raw / "units.csv")
    namer = _Namer(world.units)
    rng = np.random.default_rng([world.seed, 7])
    for k, (year, y) in enumerate(sorted(world.years.items())):
        st = _style(k, messy)
        folder = raw / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        ext = "csv" if st["fmt"] == "csv" else "xlsx"
        items_name, summary_name = (s.format(y=year) for s in st["names"])
        if st["sources"]:
            monthly_name, review_name, weak_name = "附件3.xlsx", "附件4.xlsx", "附件5.xlsx"
        else:
            monthly_name = f"{year}年月度考评汇总.xlsx"
            review_name = f"{year}年度述职评议结果.{ext}"
            weak_name = f"{year}年软弱涣散党组织整顿名单.{ext}"
        one = dict(st, sheets=None)
        _write_table_file(folder / items_name, [("考评项目", _items_rows(y, st), [])], one)
        rows, merges = _summary_rows(y, st, namer, rng, messy)
        if st["fmt"] == "csv":
            sheets = [("汇总", rows, merges)]
        else:
            names = [s.format(y=year) for s in (st["sheets"] or ("汇总",))]
            target = names.index("汇总") if "汇总" in names else 0
            extra = _extra_sheets(y, st)
            sheets = [(names[i], rows, merges) if i == target else extra[i] for i in range(len(names))]
        _write_table_file(folder / summary_name, sheets, st)
        written += [folder / items_name, folder / summary_name]
        sources = {"items": items_name, "summary": summary_name}
        if y.monthly is not None:
            _write_monthly(y, folder / monthly_name, st, namer, rng, messy)
            written.append(folder / monthly_name)
            sources["monthly"] = monthly_name
        if y.adjustment is not None:
            _write_table_file(folder / review_name, [("述职评议", _review_rows(y, st, namer, rng, messy), [])], one)
            written.append(folder / review_name)
            sources["review"] = review_name
        if y.weak:
            _write_table_file(folder / weak_name, [("软弱涣散党组织", _weak_rows(y, st, namer), [])], one)
            written.append(folder / weak_name)
            sources["weak_orgs"] = weak_name
        if st["sources"]:
            import yaml

            text = "# 本年度各表文件名（清洗程序据此查找）\n" + yaml.safe_dump(sources, allow_unicode=True, sort_keys=False)
            atomic_write(folder / "sources.yaml", text)
            written.append(folder / "sources.yaml")
    return written


def write_truth(world: World, truth_dir: str | Path) -> list[Path]:
    """Write the ground-truth tables (docs/CONTRACT.md) as UTF-8 CSV into ``truth_dir``."""
    folder = Path(truth_dir)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in world.truth.items():
        with atomic_path(folder / f"{name}.csv") as tmp:
            df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        out.append(folder / f"{name}.csv")
    return out


def write_world(
    raw_dir: str | Path,
    truth_dir: str | Path,
    seed: int = config.SEED,
    n_units: int = 74,
    years: tuple[int, int] = (2009, 2016),
    monthly_years: tuple[int, int] | list[int] | None = None,
    messy: bool = True,
    n_items: int | None = None,
    lone_group: bool = False,
    shape: Shape | None = None,
) -> World:
    """Generate the sample world and write its raw workbooks and ground truth.

    Parameters
    ----------
    raw_dir : path
        Folder for ``units.csv`` and the year folders (SPEC §2). Existing files of the same
        names are replaced atomically; nothing else in the folder is touched.
    truth_dir : path
        Folder for the truth tables of docs/CONTRACT.md: ``units``, ``items``, ``scores``
        (year, period, unit_id, item_id, points, status, grade — every period incl. months),
        ``adjustments`` (year, unit_id, adjustment), ``weak_orgs`` (year, unit_id, status),
        ``given`` (year, unit_id, given_total, given_rank), ``totals``
        (:func:`pipeline.score.totals` with defaults) and ``anomalies`` (year, unit_id,
        item_id, period, kind, detail).
    seed, n_units, years, monthly_years, n_items, lone_group
        See :func:`generate`.
    messy : bool
        True (default) writes the workbooks as a committee exports them (SPEC §2.1);
        False writes plain tidy xlsx (one header row, standard names, numbers as numbers).
    shape : Shape, optional
        How honest scores are given (see :class:`Shape`); default the sample's.

    Returns
    -------
    World
        The generated world (also useful to tests).
    """
    world = generate(seed=seed, n_units=n_units, years=years, monthly_years=monthly_years, n_items=n_items, lone_group=lone_group,
                     shape=shape)
    write_raw(world, raw_dir, messy=messy)
    write_truth(world, truth_dir)
    return world
