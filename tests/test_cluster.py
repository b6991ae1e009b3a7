"""Scale-out on Dask (issue 14, SPEC §9): a LocalCluster of 2 worker processes gives the same
numbers as one process — uncertainty, Sobol, SMAA, cleaning — also when a worker is killed
mid-run. The reference is always the single-process path (scheduler=None) on the same input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from pipeline import cluster  # noqa: E402
from pipeline import sensitivity as S  # noqa: E402

CATS = np.array(["ideology", "organisation", "conduct", "special"] * 6)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        with distributed.Client(lc) as c:
            yield c


def _world(units=30, seed=4):
    rng = np.random.default_rng(seed)
    m = rng.integers(2, 8, 24).astype(float)
    x = np.floor(np.clip(0.8 + 0.08 * rng.normal(size=(units, 1)) + 0.06 * rng.normal(size=(units, 24)), 0, 1) * m * 2) / 2
    return x, m


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs.keys() == b.attrs.keys()
    for k in a.attrs:  # repr: NaN-safe, bit-exact floats; arrays (the rank histogram) element by element
        if isinstance(a.attrs[k], np.ndarray):
            np.testing.assert_array_equal(a.attrs[k], b.attrs[k])
        else:
            assert repr(a.attrs[k]) == repr(b.attrs[k])


def test_no_scheduler_needs_no_dask():
    """The default path never imports dask (make report / make test stay as they were)."""
    code = ("import sys, numpy as np; from pipeline import sensitivity as S, clean, cli; "
            "S.uncertainty(np.eye(3) * 5 + 1, np.full(3, 10.0), 50, seed=1); "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules, 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_get_client_variants(client):
    assert cluster.get_client(None) is None
    assert cluster.get_client(client) is client
    by_address = cluster.get_client(client.scheduler.address)  # an address connects to the running cluster
    try:
        assert cluster.n_workers(by_address) == 2
    finally:
        cluster.close_client(client.scheduler.address)


@pytest.mark.parametrize("kw", [dict(groups=CATS), dict(vary_na_policy=True, vary_aggregation=True, rank_bins=7)])
def test_uncertainty_identical(client, kw):
    x, m = _world()
    ref = S.uncertainty(x, m, 3000, seed=9, chunk=256, **kw)
    got = S.uncertainty(x, m, 3000, seed=9, chunk=256, scheduler=client, **kw)
    _same_frame(got, ref)
    other = S.uncertainty(x, m, 3000, seed=10, chunk=256, scheduler=client, **kw)
    assert not other["mean_rank"].equals(ref["mean_rank"])  # the seed matters: the check can fail


def test_sobol_identical(client):
    x, m = _world(12)
    ref = S.weight_sobol(x, m, 64, seed=3, groups=CATS, n_boot=20)
    got = S.weight_sobol(x, m, 64, seed=3, groups=CATS, n_boot=20, scheduler=client)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)
    prob = {"names": ["a", "b"], "bounds": [[0, 1], [0, 1]]}
    ref = S.sobol_indices(_linear, prob, 128, seed=2, n_boot=10)
    got = S.sobol_indices(_linear, prob, 128, seed=2, n_boot=10, scheduler=client, chunk=50)
    pd.testing.assert_frame_equal(got, ref, check_exact=True)


def _linear(x):
    return x[:, 0] + 2 * x[:, 1]


@pytest.mark.parametrize("sd", [0.0, 0.02])
def test_smaa_identical(client, sd):
    x, m = _world(15)
    ref = S.smaa(x[:, :5], 2000, seed=5, maxima=m[:5], sd=sd, n_conf=200, chunk=300, top_n=4)
    got = S.smaa(x[:, :5], 2000, seed=5, maxima=m[:5], sd=sd, n_conf=200, chunk=300, top_n=4, scheduler=client)
    for f in ("acceptability", "top_acceptability", "central_weights", "confidence", "central_weights_top", "confidence_top"):
        a, b = getattr(got, f), getattr(ref, f)
        (pd.testing.assert_frame_equal if isinstance(a, pd.DataFrame) else pd.testing.assert_series_equal)(a, b, check_exact=True)


def test_worker_killed_mid_run_same_result(client):
    """SIGKILL one worker while it computes: its nanny starts a new one, the scheduler reruns the
    lost tasks, and the numbers are those of the single-process run."""
    x, m = _world(74)
    kw = dict(seed=21, chunk=2048, groups=CATS, kendall_samples=2000)
    n = 8 * 2048 * 6
    ref = S.uncertainty(x, m, n, **kw)
    pids_before = client.run(os.getpid)
    killed = {}

    def killer():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if any(str(k).startswith("uncertainty") for k in keys)]
            if busy:
                pid = pids_before[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed[busy[0]] = pid
                return
            time.sleep(0.02)

    th = threading.Thread(target=killer)
    th.start()
    got = S.uncertainty(x, m, n, scheduler=client, **kw)
    th.join()
    assert killed, "no worker was busy long enough to be killed"
    _same_frame(got, ref)
    # the killed process is gone and its nanny started a new one (the scheduler may take a moment
    # to notice a death that happened after the worker's last task)
    deadline, pids_after = time.time() + 60, set()
    while time.time() < deadline:
        try:
            pids_after = set(client.run(os.getpid, on_error="ignore").values())
        except OSError:
            pids_after = set()
        if len(pids_after) == 2 and set(killed.values()).isdisjoint(pids_after):
            break
        time.sleep(0.5)
    assert len(pids_after) == 2 and set(killed.values()).isdisjoint(pids_after)


def _scale_world(root):
    """A small tiered world (pipeline.synth_scale: 240 units, 3 reporting bodies → 36 monthly
    CSV files) plus an unknown unit and an unrelated file, so that the cleaning log and the
    quarantine have rows."""
    from pipeline import synth_scale

    raw = root / "raw"
    info = synth_scale.write_scale_world(raw, root / "truth", n_units=240, tiers=("city", "county"), files_per_year=40,
                                         years=(2016, 2016))
    assert info["bodies"] == 3 and info["files"] == 1 + len(list((raw / "2016").iterdir()))  # + units.csv
    assert len(list((raw / "2016").glob("2016年月度考评-*月.csv"))) == 36  # 3 bodies × 12 months
    tiers = pd.read_csv(root / "truth" / "tiers.csv")
    assert tiers["unit_id"].is_unique and set(tiers["tier"]) == {"city", "county"}
    summ = raw / "2016" / "2016年考评汇总表.csv"
    lines = summ.read_text(encoding="utf-8-sig").splitlines()
    data = [i for i, ln in enumerate(lines) if ln.count(",") > 10]
    fields = lines[data[-1]].split(",")
    name_col = next(j for j, f in enumerate(fields) if f and not f.replace(".", "").isdigit())
    fields[name_col] = "不存在的单位"
    lines.insert(data[-1] + 1, ",".join(fields))
    summ.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    (raw / "2016" / "备注说明.txt").write_text("not a workbook\n", encoding="utf-8")
    return raw


def test_clean_identical(client, tmp_path):
    from pipeline import clean

    raw = _scale_world(tmp_path)
    a = clean.run(raw, tmp_path / "one", allow_quarantine=True, progress=False)
    b = clean.run(raw, tmp_path / "two", allow_quarantine=True, progress=False, scheduler=client)
    assert a["quarantined"] > 0 and a["log"] > 0  # the log and the quarantine are exercised
    assert {k: v for k, v in a.items() if k != "out_dir"} == {k: v for k, v in b.items() if k != "out_dir"}
    # the outputs (the single-machine run also keeps its file reads in .cache/, not an output)
    names = sorted(p.name for p in (tmp_path / "one").iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir() if not p.name.startswith(".")) and "quarantine.csv" in names
    for name in names:
        if name.endswith(".csv"):  # tables, cleaning_log.csv, quarantine.csv: byte for byte
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
        else:
            pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "one" / name), pd.read_parquet(tmp_path / "two" / name))


def test_scheduler_parameter_and_flags(tmp_path):
    """`scheduler:` in the params file and --scheduler on clean/check/analyze/all (not on report)."""
    from pipeline import cli
    from pipeline import params as P
    from pipeline.errors import PipelineError

    f = tmp_path / "p.yaml"
    f.write_text("scheduler: tcp://head:8786\n", encoding="utf-8")
    assert P.load(f).scheduler == "tcp://head:8786"
    assert P.load(f, scheduler="local").scheduler == "local"  # the flag overrides the file
    assert P.load().scheduler is None
    for bad in ("", "tcp://a b", 5):
        with pytest.raises(PipelineError, match="scheduler"):
            P.load(scheduler=bad) if bad != "" else P.validate(P.Params(scheduler=""))
    parser = cli.build_parser()
    for cmd in (["clean"], ["check"], ["analyze", "--year", "2016"], ["all"]):
        assert parser.parse_args([*cmd, "--scheduler", "local"]).scheduler == "local"
    with pytest.raises(SystemExit):
        parser.parse_args(["report", "--year", "2016", "--scheduler", "local"])


def test_resolve_uses_run_scheduler(monkeypatch):
    monkeypatch.delenv(cluster.ENV, raising=False)
    assert cluster.resolve(None) is None and cluster.resolve("local") == "local"
    monkeypatch.setenv(cluster.ENV, "tcp://head:8786")
    assert cluster.resolve(None) == "tcp://head:8786"
    parts = cluster.split_even(range(5), 2)
    assert sum(parts, []) == [0, 1, 2, 3, 4] and sorted(map(len, parts)) == [2, 3]
    assert cluster.chunks(5, 2) == [(0, 2), (2, 2), (4, 1)]
