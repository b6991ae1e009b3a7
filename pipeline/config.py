"""Every path and default of the project derives from here (one root, Cookiecutter-style)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("PIPELINE_ROOT", Path(__file__).resolve().parent.parent))
RAW = ROOT / "data" / "raw"
PROCESSED = ROOT / "data" / "processed"
REPORTS = ROOT / "reports"
NOTEBOOKS = ROOT / "notebooks"
TRUTH = ROOT / "tests" / "fixtures" / "truth"

# Matplotlib must not use a stale, user-wide font cache (issue #2): keep it in the project.
os.environ.setdefault("MPLCONFIGDIR", str(ROOT / ".mplconfig"))

#: Scheme defaults from the published study of the practice (SPEC §0).
TOP_N = 20
NA_POLICY = "prorate"
NA_POLICIES = ("prorate", "zero", "full")
GRADES = ("好", "较好", "一般")
GRADE_MAP = {"好": 1.0, "较好": 0.8, "一般": 0.6}
CATEGORIES = ("ideology", "organisation", "conduct", "special")
CATEGORY_ZH = {"ideology": "思想政治", "organisation": "基层组织", "conduct": "机关作风", "special": "单项工作"}
DIMENSIONS = ("competence", "efficiency", "service", "highlights", "results", "image")
DIMENSION_ZH = {
    "competence": "素质水平",
    "efficiency": "工作效率",
    "service": "服务质量",
    "highlights": "工作亮点",
    "results": "工作成效",
    "image": "整体形象",
}
METHODS = ("points", "grade")  # 计分 / 评档
METHOD_ZH = {"points": "计分", "grade": "评档"}
LANGS = ("zh", "en")
SEED = 20240601
