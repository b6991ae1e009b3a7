"""Parameters are validated at the entry with one clear message (issue #6)."""

import pytest

from pipeline import params
from pipeline.errors import PipelineError


def test_defaults_are_the_published_scheme():
    p = params.load()
    # SPEC §0: top 20 win; grades 1.0 / 0.8 / 0.6 of the max; NA prorated (SPEC §3)
    assert p.top_n == 20
    assert p.grade_map == {"好": 1.0, "较好": 0.8, "一般": 0.6}
    assert p.na_policy == "prorate"
    assert p.lang == "zh"


@pytest.mark.parametrize(
    "text, expected",
    [("2009-2016", (2009, 2016)), ("2015", (2015, 2015)), (" 2012 – 2014 ", (2012, 2014)), (2013, (2013, 2013))],
)
def test_parse_years(text, expected):
    assert params.parse_years(text) == expected


@pytest.mark.parametrize(
    "bad, word",
    [
        (dict(top_n=0), "top_n"),
        (dict(top_n=2.5), "top_n"),
        (dict(lang="fr"), "lang"),
        (dict(na_policy="drop"), "na_policy"),
        (dict(years="2016-2009"), "after"),
        (dict(years="20x9"), "years"),
        (dict(grade_map={"好": 1.0, "较好": 0.8}), "grade_map"),
        (dict(grade_map={"好": 1.5, "较好": 0.8, "一般": 0.6}), "grade_map"),
        (dict(kappa=-1), "kappa"),
        (dict(p=1.5), "p must"),
        (dict(scheme="magic"), "scheme"),
        (dict(bogus=1), "unknown parameter"),
    ],
)
def test_bad_values_give_one_clear_line(bad, word):
    with pytest.raises(PipelineError) as err:
        params.load(**bad)
    msg = str(err.value)
    assert word in msg and "\n" not in msg


def test_year_not_in_data():
    p = params.Params(year=2030)
    with pytest.raises(PipelineError, match="2030 is not in the data"):
        params.validate(p, available_years=[2009, 2010])


def test_yaml_file_and_overrides(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("top_n: 10\nlang: en\n", encoding="utf-8")
    p = params.load(f, lang="zh")
    assert p.top_n == 10 and p.lang == "zh"  # the flag overrides the file
    f.write_text("- not a mapping\n", encoding="utf-8")
    with pytest.raises(PipelineError, match="mapping"):
        params.load(f)


def test_code_cannot_be_smuggled_as_a_parameter():
    # papermill only ever receives validated literals; a string where a number belongs is refused
    with pytest.raises(PipelineError):
        params.load(top_n="__import__('os').system('echo hi')")
