"""Every label has Chinese and English text (English must be complete when asked for)."""

import re

import pytest

from pipeline import i18n
from pipeline.errors import PipelineError

CJK = re.compile(r"[\u3400-\u9fff]")


def test_every_label_has_both_languages():
    zh, en = i18n.labels("zh"), i18n.labels("en")
    assert set(zh) == set(en), sorted(set(zh) ^ set(en))


def test_english_labels_have_no_chinese():
    bad = {k: v for k, v in i18n.labels("en").items() if CJK.search(v)}
    assert not bad, bad


def test_lookup_and_format():
    assert i18n.t("rank", "zh") == "名次"
    assert i18n.t("rank", "en") == "Rank"
    with pytest.raises(PipelineError):
        i18n.t("rank", "fr")
    with pytest.raises(KeyError):
        i18n.t("no_such_label", "en")
