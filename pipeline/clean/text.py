"""Text of cells and labels (SPEC §2.3): normalisation, item keys, one cell's value.

Everything here works on one string and is memoised or vectorised by its callers
(:mod:`pipeline.clean.sheets` parses each distinct string once).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import numpy as np

from pipeline import config


NA_TOKENS = frozenset({"/", "—", "——", "-", "--", "–", "−", "―", "无", "不适用", "N/A", "n/a", "NA"})
_GRADES = tuple(config.GRADES)
_NUM = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_MAX_IN_BRACKETS = re.compile(r"[(\[【〔]\s*(\d+(?:\.\d+)?)\s*分?\s*[)\]】〕]")
_MAX_TRAILING = re.compile(r"(\d+(?:\.\d+)?)分$")
_LEADING_NUMBER = re.compile(r"^(?:\d+[.、．]|[(]?[一二三四五六七八九十]+[)、.]|[(]\d+[)])")
_QUOTES = re.compile(r"[\"'“”‘’「」『』]")

# Kinds of parsed cells (small ints so that whole sheets are int8 arrays).
K_NUM, K_GRADE, K_NA, K_MISSING, K_BAD, K_TYPE = 0, 1, 2, 3, 4, 5

_TRAILER_RE = re.compile(r"^(?:合计|总计|小计|平均|均值|(?:注|说明|备注|附注)\d*[:.、]|注$|(?:制表|审核|填表|负责人|联系人|签字|盖章|日期|审批))")


def _is_trailer(text: str) -> bool:
    """Trailer rows below the data (合计, 平均, 注：…, 制表人…), on normalised text."""
    return bool(_TRAILER_RE.match(text))

_MAX_ROW = ("分值", "满分", "标准分", "分值(满分)", "满分值")
_CITY = "市"

_DIM_WORDS = {
    "competence": ("素质水平", "勤奋学习", "competence"),
    "efficiency": ("工作效率", "精神状态", "efficiency"),
    "service": ("服务质量", "工作态度", "service"),
    "highlights": ("工作亮点", "开拓创新", "highlights"),
    "results": ("工作成效", "真抓实干", "results"),
    "image": ("整体形象", "纪律作风", "image"),
}
_CAT_WORDS = {k: (v, k) for k, v in config.CATEGORY_ZH.items()}
_CATEGORY_LABELS = frozenset(
    [v for v in config.CATEGORY_ZH.values()] + [v + s for v in config.CATEGORY_ZH.values() for s in ("得分", "合计", "类")]
)
_HEADER_WORDS = tuple(w for ws in list(_DIM_WORDS.values()) + list(_CAT_WORDS.values()) for w in ws[:-1])


# =========================================================================== text helpers
_WS = re.compile(r"\s+")


@lru_cache(maxsize=1 << 16)
def _normalise_str(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text))


def normalise(text: object) -> str:
    """NFKC (full-width → half-width, U+3000 → space) and remove every whitespace character."""
    if isinstance(text, str):
        return _normalise_str(text) if text else ""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)
    return _normalise_str(str(text))


def item_key(label: object) -> tuple[str, float | None]:
    """Normalised item name and the maximum stated in the header, if any.

    ``"三会一课\\n（5分）"`` → ``("三会一课", 5.0)``; ``"党费收缴 (3)"`` → ``("党费收缴", 3.0)``.
    """
    s = _QUOTES.sub("", normalise(label))
    mx = None
    m = list(_MAX_IN_BRACKETS.finditer(s))
    if m:
        mx = float(m[-1].group(1))
        s = _MAX_IN_BRACKETS.sub("", s)
    return s, mx


def parse_value(text: str) -> tuple[int, float, str | None, str]:
    """Interpret one text cell.

    Returns
    -------
    (kind, value, grade, rule)
        ``kind`` is one of ``K_NUM``, ``K_GRADE``, ``K_NA``, ``K_MISSING``, ``K_BAD``;
        ``value`` the number (NaN otherwise); ``grade`` 好/较好/一般 or None; ``rule`` the
        cleaning-log rule(s), ``;``-separated ("" when nothing changed).
    """
    t = unicodedata.normalize("NFKC", text)
    rules = []
    if t != text:
        rules.append("fullwidth")
    u = re.sub(r"\s+", "", t)
    if u == "":
        return K_MISSING, np.nan, None, "blank_missing" if text else "empty_missing"
    if u != t:
        rules.append("spaces")
    if u in NA_TOKENS or text.strip() in NA_TOKENS:
        return K_NA, np.nan, None, ";".join(["na_token"] + rules)
    if u in _GRADES:
        return K_GRADE, np.nan, u, ";".join(["grade_mapped"] + rules)
    v = u
    if v.endswith("分"):
        v = v[:-1]
        rules.append("suffix_分")
    if _NUM.match(v):
        return K_NUM, float(v), None, ";".join(["text_number"] + rules)
    return K_BAD, np.nan, None, ""


def _fmt(x: float) -> str:
    return "" if x != x else f"{x:g}"
