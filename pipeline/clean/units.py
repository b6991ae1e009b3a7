"""Unit registry (``units.csv``) and matching of unit names as written to registry ids.

:func:`_clean_registry` interprets the registry into the ``units`` table;
:class:`UnitMatcher` matches a workbook's unit names, year by year (name, alias, with or
without a leading 市, after NFKC normalisation).
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from pathlib import Path

import pandas as pd

from pipeline import load
from pipeline.clean.context import _Run
from pipeline.clean.text import _CITY, normalise


# =========================================================================== registry
def _clean_registry(reg: pd.DataFrame, rel: str, ctx: _Run) -> pd.DataFrame:
    """Interpret the registry's text columns → the ``units`` table."""
    sheet = Path(rel).stem
    cols = list(reg.columns)
    rows = []
    seen = {}
    for rec in reg.to_dict("records"):
        r = rec["_row"] - 1

        def cell(col):
            return load.cell_ref(r, cols.index(col)) if col in cols else ""

        uid = rec["unit_id"]
        if not uid and not rec["name"]:
            continue
        if not re.fullmatch(r"[A-Za-z0-9_]+", uid or ""):
            ctx.problem(rel, sheet, cell("unit_id"), uid, f"unit_id {uid!r} must be ASCII letters, digits or _")
            continue
        if uid in seen:
            ctx.problem(rel, sheet, cell("unit_id"), uid, f"unit_id {uid} appears twice (rows {seen[uid]} and {rec['_row']})")
            continue
        seen[uid] = rec["_row"]
        name = rec["name"].strip()
        if not name:
            ctx.problem(rel, sheet, cell("name"), "", f"unit {uid} has no name")
            continue
        aliases = [a.strip() for a in re.split(r"[;；]", rec.get("aliases") or "") if a.strip()]
        vals = {}
        for col in ("members", "valid_from", "valid_to"):
            v = (rec.get(col) or "").strip()
            if v == "":
                vals[col] = None
                continue
            try:
                f = float(unicodedata.normalize("NFKC", v))
                if not f.is_integer() or f < 0:
                    raise ValueError
                vals[col] = int(f)
            except ValueError:
                ctx.problem(rel, sheet, cell(col), v, f"{col} of unit {uid} must be a whole number")
                vals[col] = None
        rows.append(
            {
                "unit_id": uid,
                "name": name,
                "aliases": ";".join(aliases) if aliases else None,
                "type": rec.get("type") or "",
                "sector": rec.get("sector") or "",
                "members": vals["members"] if vals["members"] is not None else 0,
                "valid_from": vals["valid_from"],
                "valid_to": vals["valid_to"],
                "successor_id": rec.get("successor_id") or None,
            }
        )
    units = pd.DataFrame(rows, columns=list(load._REGISTRY_COLS))
    units["valid_from"] = units["valid_from"].astype("Int64")
    units["valid_to"] = units["valid_to"].astype("Int64")
    known = set(units["unit_id"])
    for rec in units.loc[units["successor_id"].notna()].to_dict("records"):
        if rec["successor_id"] not in known:
            ctx.problem(rel, sheet, "", rec["successor_id"], f"successor_id {rec['successor_id']} of unit {rec['unit_id']} is not in the registry")
    return units


class UnitMatcher:
    """Match unit names as written in a workbook to registry ids, year by year.

    A name matches, in this order of preference: the registry name, an alias (曾用名/简称), or
    either with a leading 市 added or removed — each after :func:`normalise` (NFKC, no
    spaces) — among the units valid in the year. Results are memoised per (year, text).
    """

    def __init__(self, units: pd.DataFrame):
        self.units = units
        self._entries = []  # (key, priority, unit_id, valid_from, valid_to)
        for rec in units.to_dict("records"):
            vf = rec["valid_from"] if pd.notna(rec["valid_from"]) else -10**9
            vt = rec["valid_to"] if pd.notna(rec["valid_to"]) else 10**9
            aliases = rec["aliases"] if isinstance(rec["aliases"], str) else ""
            names = [(rec["name"], 0)] + [(a, 1) for a in aliases.split(";") if a]
            for nm, pri in names:
                key = normalise(nm)
                self._entries.append((key, pri, rec["unit_id"], vf, vt))
                alt = key[1:] if key.startswith(_CITY) else _CITY + key
                if alt:
                    self._entries.append((alt, pri + 2, rec["unit_id"], vf, vt))
        self.names = dict(zip(units["unit_id"], units["name"]))
        self._year: dict[int, dict] = {}
        self._memo: dict = {}

    def _index(self, year: int) -> dict:
        if year not in self._year:
            idx: dict[str, dict[str, int]] = {}
            for key, pri, uid, vf, vt in self._entries:
                if vf <= year <= vt:
                    d = idx.setdefault(key, {})
                    d[uid] = min(pri, d.get(uid, 99))
            self._year[year] = idx
        return self._year[year]

    def match(self, year: int, text: str) -> tuple[str | None, str]:
        """Return ``(unit_id, rule)``; ``(None, reason)`` when the name matches no unit.

        ``rule`` is "" for an exact registry name, else ``unit_normalised``, ``unit_alias``
        or ``unit_city_prefix``.
        """
        memo_key = (year, text)
        if memo_key in self._memo:
            return self._memo[memo_key]
        key = normalise(text)
        hits = self._index(year).get(key, {})
        if hits:
            best = min(hits.values())
            ids = sorted(u for u, p in hits.items() if p == best)
            if len(ids) > 1:
                res = (None, f"unit name {text!r} is ambiguous in {year}: {', '.join(f'{u} ({self.names[u]})' for u in ids)}")
            else:
                uid = ids[0]
                if best == 0:
                    rule = "" if str(text) == self.names[uid] else "unit_normalised"
                else:
                    rule = "unit_alias" if best == 1 else "unit_city_prefix"
                res = (uid, rule)
        else:
            res = (None, self._unknown(year, text, key))
        self._memo[memo_key] = res
        return res

    def _unknown(self, year: int, text: str, key: str) -> str:
        other = sorted({(uid, vf, vt) for k, _, uid, vf, vt in self._entries if k == key})
        if other:
            spans = ", ".join(
                f"{u} ({self.names[u]}) valid {'' if vf < -10**8 else vf}–{'' if vt > 10**8 else vt}" for u, vf, vt in other
            )
            return f"unit {text!r} is not valid in {year}: registry has {spans}"
        idx = self._index(year)
        names = {normalise(self.names[u]): self.names[u] for d in idx.values() for u in d}
        close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.4)
        hint = f" — did you mean {', '.join(repr(names[c]) for c in close)}?" if close else " — not in units.csv"
        return f"unknown unit {text!r}{hint}"
