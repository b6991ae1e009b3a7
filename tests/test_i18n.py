"""Every label has Chinese and English text (English must be complete when asked for)."""

import re

import pytest

from pipeline import i18n
from pipeline.errors import PipelineError
from langs import in_lang  # noqa: E402

CJK = re.compile(r"[\u3400-\u9fff]+")


def test_every_label_has_both_languages():
    zh, en = in_lang("zh", i18n.labels), in_lang("en", i18n.labels)
    assert set(zh) == set(en), sorted(set(zh) ^ set(en))


# Literal workbook tokens an English text may quote when it explains a cleaning rule or a factor
# (e.g. 'the “分” suffix removed', 'share for 较好 (fairly good)'): they are data, not labels.
SOURCE_TOKENS = {"分", "好", "较好", "一般", "无", "不适用", "市", "第", "名"}


def test_english_labels_have_no_chinese():
    bad = {
        k: v
        for k, v in in_lang("en", i18n.labels).items()
        if any(run not in SOURCE_TOKENS for run in CJK.findall(v))
    }
    assert not bad, bad


def test_cjk_detector_catches_untranslated_text():
    # the check above must be able to fail: an untranslated phrase is not a source token
    assert any(run not in SOURCE_TOKENS for run in CJK.findall("Rank 名次 of the unit"))


def test_lookup_and_format():
    assert in_lang("zh", i18n.t, "rank") == "名次"
    assert in_lang("en", i18n.t, "rank") == "Rank"
    with pytest.raises(PipelineError):
        in_lang("fr", i18n.t, "rank")
    with pytest.raises(KeyError):
        in_lang("en", i18n.t, "no_such_label")


# ---------------------------------------------------------------------------------------------
# the boundary: the active language is a context variable set once where a run enters
# ---------------------------------------------------------------------------------------------
def test_use_nests_and_restores():
    # the expected texts are the label file's own: rank = {zh: 名次, en: Rank}
    assert i18n.current() == "zh" and i18n.t("rank") == "名次"  # the default
    with i18n.use("en") as lang:
        assert lang == "en" and i18n.current() == "en" and i18n.t("rank") == "Rank"
        with i18n.use("zh"):
            assert i18n.t("rank") == "名次"
        assert i18n.t("rank") == "Rank"  # the inner block restored the outer language
    assert i18n.current() == "zh" and i18n.t("rank") == "名次"


def test_use_restores_after_an_error():
    with pytest.raises(RuntimeError):
        with i18n.use("en"):
            raise RuntimeError("boom")
    assert i18n.current() == "zh"


def test_use_as_plain_setter():
    # a notebook's cell after its parameters: `i18n.use(lang)` without `with`
    i18n.use("en")
    assert i18n.current() == "en" and i18n.t("rank") == "Rank"
    i18n.use("zh")
    assert i18n.t("rank") == "名次"


def test_invalid_language_is_one_clear_error_and_changes_nothing():
    with i18n.use("en"):
        with pytest.raises(PipelineError, match=r"^unknown lang 'fr' \(one of zh, en\)$"):
            i18n.use("fr")
        assert i18n.current() == "en"  # nothing changed


def test_invalid_language_on_the_cli_is_one_line(tmp_path, capsys):
    from pipeline import cli

    (tmp_path / "p.yaml").write_text("lang: fr\n", encoding="utf-8")
    assert cli.main(["report", "--params", str(tmp_path / "p.yaml"), "--year", "2016"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lang" in err[0] and "fr" in err[0] and "Traceback" not in err[0]


def _rank_label():
    return i18n.t("rank")


def test_thread_worker_started_for_english_renders_english():
    """A thread starts with a fresh context (default Chinese): the worker sets its job's language
    itself, as the report workers do; a function called under ``use("en")`` renders English."""
    from concurrent.futures import ThreadPoolExecutor

    def job(lang):
        with i18n.use(lang):
            return _rank_label()

    with i18n.use("en"):
        with ThreadPoolExecutor(2) as pool:
            bare = pool.submit(_rank_label).result()  # not set in the thread: the default
            got = list(pool.map(job, ["en", "zh", "en"]))
        assert i18n.current() == "en"  # the workers did not change the caller's language
    assert bare == "名次"
    assert got == ["Rank", "名次", "Rank"]


def _worker_rank(lang):
    with i18n.use(lang):
        return _rank_label(), i18n.current()


def test_process_worker_started_for_english_renders_english():
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_worker_rank, "en").result() == ("Rank", "en")


def test_report_workers_take_the_language_of_their_params(monkeypatch):
    """``build_year`` / ``build_study`` / the bulletin and unit pages run under ``use(params.lang)``
    (:func:`pipeline.report.data.run_language`): the helpers they call see the run's language."""
    from types import SimpleNamespace

    from pipeline.report.data import run_language

    seen = []

    @run_language
    def build(params, x=0):
        seen.append((i18n.current(), i18n.t("rank"), x))
        return x

    assert build(SimpleNamespace(lang="en"), x=3) == 3
    build(prm := SimpleNamespace(lang="zh"))
    assert seen == [("en", "Rank", 3), ("zh", "名次", 0)] and prm.lang == "zh"
    assert i18n.current() == "zh"
    with pytest.raises(PipelineError, match="unknown lang"):
        build(SimpleNamespace(lang="de"))


def test_localized_entry_point_takes_an_optional_lang():
    import inspect

    from pipeline.plots import compare as charts

    @i18n.localized
    def chart(x, top_n=20):
        return i18n.t("rank"), x, top_n

    assert chart(1) == ("名次", 1, 20)
    assert chart(1, top_n=5, lang="en") == ("Rank", 1, 5)
    with i18n.use("en"):
        assert chart(2) == ("Rank", 2, 20)  # None: the active language
        assert chart(2, lang="zh")[0] == "名次"
    assert i18n.current() == "zh"
    assert "lang" in inspect.signature(chart).parameters
    assert inspect.signature(charts.compare_units).parameters["lang"].default is None  # README's analyst call
