"""Outputs others can read, and whole sets (issue #12, point 6).

* Files are created with ``0o666 & ~umask`` (what ``open()`` gives), not mkstemp's 0o600.
* A full disk while ``clean`` publishes its tables names the file being written and leaves the
  previous set of tables whole (staged, then swapped: :func:`pipeline.io.publish_set`).
"""

from __future__ import annotations

import errno
import os
import stat

import pandas as pd
import pytest

from pipeline import io
from pipeline.errors import PipelineError


@pytest.fixture
def umask():
    """Set the process umask for one test; restore it afterwards."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda m: os.umask(m)
    os.umask(saved)


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("mask, want", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_every_writer_respects_the_umask(tmp_path, umask, mask, want):
    # want = 0o666 & ~mask, written out by hand: the mode open() gives a new file (POSIX creat)
    umask(mask)
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    io.write_table(df, tmp_path, "t")
    io.write_csv(df, tmp_path / "c.csv")
    io.atomic_write(tmp_path / "x.json", "{}")
    with io.TableWriter(tmp_path, "s") as w:
        w.write(df)
    pend = io.PendingPath(tmp_path / "p.txt")
    pend.tmp.write_text("p")
    pend.commit()
    for name in ("t.parquet", "t.csv", "c.csv", "x.json", "s.parquet", "s.csv", "p.txt"):
        assert _mode(tmp_path / name) == want, name


def test_readable_by_others_under_umask_022(tmp_path, umask):
    umask(0o022)
    io.atomic_write(tmp_path / "r.html", "<p>x</p>")
    m = _mode(tmp_path / "r.html")
    assert m & stat.S_IRGRP and m & stat.S_IROTH and not m & (stat.S_IWGRP | stat.S_IWOTH)


def test_publish_set_is_all_or_nothing(tmp_path):
    io.atomic_write(tmp_path / "a.txt", "old a")
    io.atomic_write(tmp_path / "b.txt", "old b")
    with pytest.raises(RuntimeError):
        with io.publish_set():
            io.atomic_write(tmp_path / "a.txt", "new a")
            assert (tmp_path / "a.txt").read_text() == "old a"  # staged, not yet visible
            raise RuntimeError("stop before b")
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temp file left
    with io.publish_set():
        io.atomic_write(tmp_path / "a.txt", "new a")
        io.atomic_write(tmp_path / "b.txt", "new b")
    assert [(tmp_path / n).read_text() for n in ("a.txt", "b.txt")] == ["new a", "new b"]


def test_enospc_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    io.write_table(pd.DataFrame({"a": [1]}), tmp_path, "t")
    before = (tmp_path / "t.csv").read_bytes()

    def full(self, path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    with pytest.raises(PipelineError) as exc:
        io.write_table(pd.DataFrame({"a": [2]}), tmp_path, "t")
    msg = str(exc.value)
    assert "t.csv" in msg and "no space left on device" in msg
    assert (tmp_path / "t.csv").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_clean_on_a_full_disk_keeps_the_previous_set_whole(tmp_path, monkeypatch):
    """Disk full while ``totals`` is written (after items, units and scores): nothing replaced."""
    from pipeline import clean, synth

    raw, out = tmp_path / "raw", tmp_path / "processed"
    synth.write_world(raw, tmp_path / "truth", seed=7, n_units=20, years=(2015, 2015), monthly_years=())
    clean.run(raw, out, progress=False)
    names = ["items", "units", "scores", "totals", "adjustments", "weak_orgs", "given"]
    files = [out / f"{n}.{ext}" for n in names for ext in ("parquet", "csv")] + [out / "cleaning_log.csv"]
    before = {p: (os.stat(p).st_ino, p.read_bytes()) for p in files}

    real = pd.DataFrame.to_parquet

    def fills_up(self, path, *a, **k):
        if "totals.parquet" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, path, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fills_up)
    with pytest.raises(PipelineError) as exc:
        clean.run(raw, out, progress=False)
    msg = str(exc.value)
    assert str(out / "totals.parquet") in msg and "no space left on device" in msg
    # the same inode = never replaced: items/units/scores (written before totals) are the old ones
    after = {p: (os.stat(p).st_ino, p.read_bytes()) for p in files}
    assert after == before
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]
