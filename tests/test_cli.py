"""The CLI: help lists the subcommands; failures are one line and a non-zero exit."""

import subprocess
import sys

from pipeline import config


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], capture_output=True, text=True, cwd=cwd or config.ROOT, timeout=120
    )


def test_help_lists_subcommands():
    r = _run("--help")
    assert r.returncode == 0
    for cmd in ("synth", "clean", "check", "analyze", "report", "all", "bench"):
        assert cmd in r.stdout


def test_bad_parameter_is_one_line(tmp_path):
    r = _run("clean", "--raw", str(tmp_path), "--out", str(tmp_path / "o"), "--years", "2016-2009")
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "2016-2009" in r.stderr or "after" in r.stderr
