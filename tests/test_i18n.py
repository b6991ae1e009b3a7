"""Every label has Chinese and English text (English must be complete when asked for)."""

import re

import pytest

from pipeline import i18n
from pipeline.errors import PipelineError

CJK = re.compile(r"[\u3400-\u9fff]+")


def test_every_label_has_both_languages():
    zh, en = i18n.labels("zh"), i18n.labels("en")
    assert set(zh) == set(en), sorted(set(zh) ^ set(en))


# Literal workbook tokens an English text may quote when it explains a cleaning rule or a factor
# (e.g. 'the “分” suffix removed', 'share for 较好 (fairly good)'): they are data, not labels.
SOURCE_TOKENS = {"分", "好", "较好", "一般", "无", "不适用", "市", "第", "名"}


def test_english_labels_have_no_chinese():
    bad = {
        k: v
        for k, v in i18n.labels("en").items()
        if any(run not in SOURCE_TOKENS for run in CJK.findall(v))
    }
    assert not bad, bad


def test_cjk_detector_catches_untranslated_text():
    # the check above must be able to fail: an untranslated phrase is not a source token
    assert any(run not in SOURCE_TOKENS for run in CJK.findall("Rank 名次 of the unit"))


def test_lookup_and_format():
    assert i18n.t("rank", "zh") == "名次"
    assert i18n.t("rank", "en") == "Rank"
    with pytest.raises(PipelineError):
        i18n.t("rank", "fr")
    with pytest.raises(KeyError):
        i18n.t("no_such_label", "en")
