"""Findings in words: calibration (false-alarm rates), evidence re-rendered, summary, headline, readings."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline import config
from pipeline.errors import PipelineError
from pipeline.i18n import t
from pipeline.integrity.base import SEVERITIES, _render
from pipeline.integrity.bunching import BUNCH_WINDOW


CALIBRATION = Path(__file__).resolve().parent.parent / "calibration" / "integrity.csv"


def false_alarm_rates(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The measured false-alarm rate of every check, for the report's methods appendix.

    Reads ``pipeline/calibration/integrity.csv`` (written by ``benchmarks/bench_integrity.py``:
    honest worlds of several shapes, nothing planted; planted twins for recall) and returns it
    with translated headers and check names (labels ``int_cal_*``, ``int_chk_*``). Rates and
    recall are in percent. Row ``any`` is the share of unit-years with a finding of any check.

    Returns
    -------
    DataFrame
        Columns (in the active language): check, severity, counted per, false-alarm rate (%), honest cases,
        recall (%).
    """
    p = Path(path) if path is not None else CALIBRATION
    if not p.exists():
        raise PipelineError(f"{p}: calibration table not found — run `python -m pipeline bench --only integrity`")
    c = pd.read_csv(p)
    return pd.DataFrame({
        t("int_cal_check"): [t(f"int_chk_{k}") for k in c["check"]],
        t("int_cal_severity"): [t(f"int_sev_{s}") + ("" if s == "high" else "+") for s in c["severity"]],
        t("int_cal_per"): [t(f"int_cal_per_{x}") for x in c["per"]],
        t("int_cal_rate"): 100 * c["false_alarm_rate_per_unit_year"].astype(float),
        t("int_cal_n"): c["n_unit_years"].astype(int),
        t("int_cal_recall"): 100 * c["recall"].astype(float),
    })


def calibration_sentence(path: str | os.PathLike | None = None) -> str:
    """One sentence for the methods appendix: the measured false-alarm rates (label ``int_cal_sentence``)."""
    p = Path(path) if path is not None else CALIBRATION
    if not p.exists():
        raise PipelineError(f"{p}: calibration table not found — run `python -m pipeline bench --only integrity`")
    c = pd.read_csv(p)
    a = c.loc[c["check"] == "any"].set_index("severity")
    return t("int_cal_sentence", n_shapes=len(str(a["shapes"].iloc[0]).split(";")), n=int(a["n_unit_years"].iloc[0]),
             high=100 * float(a.loc["high", "false_alarm_rate_per_unit_year"]),
             medium=100 * float(a.loc["medium", "false_alarm_rate_per_unit_year"]))


def evidence_text(findings: pd.DataFrame) -> pd.Series:
    """The ``evidence`` sentences of ``findings`` re-rendered in the active language from ``evidence_data``.

    Works on a frame read back from ``integrity.csv`` (``evidence_data`` is JSON text); rows
    without ``evidence_data`` keep their ``evidence``.

    Returns
    -------
    Series
        One sentence per row, index of ``findings``.
    """
    if not len(findings):
        return pd.Series([], index=findings.index, dtype=object)
    old = findings["evidence"] if "evidence" in findings else pd.Series("", index=findings.index)
    if "evidence_data" not in findings:
        return old.astype(object)
    out = []
    for data, prev in zip(findings["evidence_data"], old):
        if isinstance(data, str) and data.startswith("{"):
            d = json.loads(data)
            out.append(_render(d.pop("key"), d))
        else:
            out.append(prev)
    return pd.Series(out, index=findings.index, dtype=object)


def summary(findings: pd.DataFrame) -> pd.DataFrame:
    """Counts of findings per check and severity: columns ``check``, ``high``, ``medium``, ``low``, ``units``."""
    if findings.empty:
        return pd.DataFrame(columns=["check", *SEVERITIES, "units"])
    tab = pd.crosstab(findings["check"], findings["severity"]).reindex(columns=list(SEVERITIES), fill_value=0)
    units = findings.loc[findings["unit_id"] != ""].groupby("check")["unit_id"].nunique()
    return tab.assign(units=units.reindex(tab.index).fillna(0).astype(int)).reset_index()


def headline(findings: pd.DataFrame) -> dict:
    """Numbers of high / medium / low findings and of units involved (JSON-able).

    ``units_flagged`` counts the units named by a high or medium finding. On the output of
    :func:`check_all` the statistical ones among them come from one Benjamini–Hochberg family per
    year (all unit-level tests of the year, :func:`_year_family`), so the headline count has one
    stated false-discovery level (5 % for medium-or-high, 1 % for high); deterministic findings
    are beyond the shown precision. Measured false-alarm rates: :func:`false_alarm_rates`.
    """
    sev = findings["severity"].value_counts() if len(findings) else pd.Series(dtype=int)
    units = findings.loc[(findings["unit_id"] != "") & (findings["severity"] != "low"), "unit_id"].nunique() if len(findings) else 0
    return {"n_high": int(sev.get("high", 0)), "n_medium": int(sev.get("medium", 0)),
            "n_low": int(sev.get("low", 0)), "units_flagged": int(units)}


def reading(kind: str, **data) -> str:
    """One sentence of reading generated from the numbers (labels in ``labels/integrity.yaml``).

    ``kind``: ``counts`` (findings=), ``monthly`` (findings=, year=), ``digits`` (digits=,
    findings=, year=), ``given`` (findings=, year=), ``bunch`` (totals=, findings=, year=, top_n=).
    """

    f = data.get("findings")
    y = data.get("year")
    fy = f.loc[f["year"] == y] if f is not None and y is not None and len(f) else f
    if kind == "counts":
        h = headline(f)
        if not len(f):
            return t("int_none")
        return t("int_reading_counts", high=h["n_high"], medium=h["n_medium"], low=h["n_low"], units=h["units_flagged"])
    if kind == "monthly":
        return t("int_reading_monthly", year=y, k=int((fy["check"] == "monthly_mismatch").sum()))
    if kind == "digits":
        d = data["digits"]
        a = d.loc[d["group"] == "all"]
        share = float(a.loc[a["digit"].isin([0, 5]), "share"].sum())
        k = int(((fy["check"] == "digit_preference") & (fy["severity"] != "low")).sum())
        return t("int_reading_digits", year=y, share=share, k=k)
    if kind == "given":
        return t("int_reading_given", year=y, k_total=int((fy["check"] == "given_total_mismatch").sum()),
                 k_rank=int(((fy["check"] == "given_rank_mismatch") & (fy["severity"] == "high")).sum()))
    if kind == "bunch":
        tot = data["totals"]
        top_n = int(data.get("top_n", config.TOP_N))
        v = np.sort(tot.loc[tot["year"] == y, "total"].astype(float).dropna().to_numpy())[::-1]
        below = v[v < v[top_n - 1] - 1e-9] if len(v) >= top_n else v[:0]
        if not len(below):
            return t("int_none")
        cp = float(below[0])
        k = int(((v > cp + 1e-9) & (v <= cp + BUNCH_WINDOW + 1e-9)).sum())
        hit = fy.loc[(fy["check"] == "cut_bunching") & (fy["unit_id"] == "")] if fy is not None and len(fy) else fy
        verdict = (t("int_bunch_flagged", sev=t(f"int_sev_{hit['severity'].iloc[0]}"), p=float(hit["p_value"].iloc[0]))
                   if hit is not None and len(hit) else t("int_bunch_not_flagged"))
        return t("int_reading_bunch", year=y, cut=cp, h=BUNCH_WINDOW, k=k, verdict=verdict)
    raise PipelineError(f"reading: unknown kind {kind!r}")
