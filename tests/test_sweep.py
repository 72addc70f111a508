"""Sweeps: a YAML expands into validated points, runs into a resumable SQLite store, and the
local pool, a killed-and-resumed run and a Dask LocalCluster all give the same rows."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import archsim.sweep as sw
from archsim.cli import main
from archsim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TINY = """\
name: tiny
hardware: [gpu_a100_80gb, gpu_h100_sxm]
workload: gpt2_small
set: {workload.generate_tokens: 2, workload.prompt_tokens: 8}
grid:
  workload.batch_size: [1, 2, 4]
zip:
  hw.devices.gpu0.memory_bandwidth: ["1 TB/s", "2 TB/s"]
  hw.devices.gpu0.memory_capacity: ["40 GiB", "80 GiB"]
"""


def rows(path, *, drop=("finished_at", "sim_wall_s")):
    df = sw.load(path).set_index("key").sort_index()
    return df.drop(columns=list(drop))


def test_grid_zip_and_hardware_multiply_and_each_point_carries_its_values(write):
    s = sw.load_sweep(write("s.yaml", TINY))
    assert len(s) == 2 * 3 * 2
    assert s.axes == ("hardware", "workload", "workload.batch_size",
                      "hw.devices.gpu0.memory_bandwidth", "hw.devices.gpu0.memory_capacity")
    p = s.points[-1]
    assert p.params == {"hardware": "gpu_h100_sxm", "workload": "gpt2_small",
                        "workload.batch_size": 4, "hw.devices.gpu0.memory_bandwidth": "2 TB/s",
                        "hw.devices.gpu0.memory_capacity": "80 GiB"}
    assert "workload.batch_size=4" in p.overrides


def test_latin_hypercube_hits_every_stratum_once_and_the_seed_fixes_the_samples(write):
    u = sw.sample_unit_cube("lhs", 50, 3, seed=7)
    for d in range(3):
        assert sorted((u[:, d] * 50).astype(int)) == list(range(50))
    assert np.array_equal(u, sw.sample_unit_cube("lhs", 50, 3, seed=7))
    text = TINY.split("grid:")[0] + """\
sample:
  method: lhs
  points: 8
  seed: 3
  axes:
    workload.batch_size: {min: 1, max: 64, log: true, integer: true}
    hw.devices.gpu0.memory_bandwidth: {min: "1 TB/s", max: "3 TB/s"}
    workload.precision.weights: {choices: [fp16, int8]}
"""
    a = sw.load_sweep(write("a.yaml", text))
    b = sw.load_sweep(write("b.yaml", text))
    assert len(a) == 16 and [p.params for p in a.points] == [p.params for p in b.points]
    for p in a.points:
        assert 1 <= p.params["workload.batch_size"] <= 64
        bw = float(p.params["hw.devices.gpu0.memory_bandwidth"].split()[0])
        assert 1 <= bw <= 3


@pytest.mark.parametrize("body, where, what", [
    ("grid:\n  workload.batch_sise: [1, 2]\n", "s.yaml:6: grid.workload.batch_sise[0]",
     "unknown key 'batch_sise'"),
    ("grid:\n  hw.devices.gpu0.memory_bandwidth: [\"1 TB/s\", \"2 GHz\"]\n",
     "s.yaml:6: grid.hw.devices.gpu0.memory_bandwidth[1]", "2 GHz"),
    ("grid:\n  workload.batch_size: [1, two]\n", "s.yaml:6: grid.workload.batch_size[1]",
     "expected an integer"),
    ("grid:\n  workload.batch_size: []\n", "s.yaml:6: grid.workload.batch_size",
     "empty axis"),
    ("zip:\n  workload.batch_size: [1, 2]\n  workload.prompt_tokens: [8]\n", "s.yaml:5: zip",
     "equal lengths"),
    ("sample: {points: 4, seed: 1, axes: {workload.batch_size: {min: 8, max: 2}}}\n",
     "s.yaml:5: sample.axes.workload.batch_size.max", "must exceed min"),
])
def test_each_bad_axis_is_reported_at_its_line_and_nothing_is_written(
        body, where, what, write, tmp_path, capsys):
    head = "hardware: gpu_a100_80gb\nworkload: gpt2_small\nset: {generate_tokens: 2}\n" \
           "# axes\n"
    path = write("s.yaml", head + body)
    store = tmp_path / "out" / "r.db"
    assert main(["sweep", path, "-o", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("archsim: error: ") and where in err and what in err, err
    assert len(err.splitlines()) == 1
    assert not store.exists() and not store.parent.exists()


DERIVED = """\
hardware: gpu_a100_80gb
workload: gpt2_small
set: {workload.generate_tokens: 2}
grid:
  workload.batch_size: [1, 2, 4]
derive:
  workload.prompt_tokens: "8 * workload.batch_size"
  hw.devices.gpu0.memory_bandwidth: {expr: "max(1, workload.prompt_tokens / 16)", unit: "TB/s"}
"""


def test_derived_values_come_from_a_small_language_not_eval(write):
    s = sw.load_sweep(write("s.yaml", DERIVED))
    assert [(p.params["workload.prompt_tokens"], p.params["hw.devices.gpu0.memory_bandwidth"])
            for p in s.points] == [(8, "1 TB/s"), (16, "1 TB/s"), (32, "2 TB/s")]
    assert s.axes[-2:] == ("workload.prompt_tokens", "hw.devices.gpu0.memory_bandwidth")


@pytest.mark.parametrize("expr, what", [
    ("__import__('os').system('true')", "Call is not allowed"),
    ("workload.batch_size.__class__", "unknown name 'workload.batch_size.__class__'"),
    ("'8' * 2", "only numbers are allowed"),
    ("[8][0]", "Subscript is not allowed"),
    ("workload.batch_size ** 100", "exponent 100 larger than 64"),
    ("8 // (workload.batch_size - 1)", "division by zero (at the point workload.batch_size=1)"),
    ("nope + 1", "unknown name 'nope'"),
    ("8 *", "syntax error"),
])
def test_a_bad_expression_is_reported_at_its_line(expr, what, write):
    text = DERIVED.replace('"8 * workload.batch_size"', json.dumps(expr))
    with pytest.raises(ConfigError) as e:
        sw.load_sweep(write("s.yaml", text))
    assert e.value.line == 7 and e.value.key == "derive.workload.prompt_tokens"
    assert what in e.value.message


def test_every_bad_axis_of_a_sweep_is_reported_at_once(write, tmp_path, capsys):
    path = write("s.yaml", "hardware: [gpu_a100_80gb, gpu_t4]\nworkload: gpt2_small\ngrid:\n"
                 "  workload.batch_size: [1, two, 0]\n  workload.prompt_tokens: [8, -1]\n"
                 "  hw.devices.gpu0.memory_bandwidth: [\"1 TB/s\", \"3 GHz\"]\n")
    assert main(["sweep", path, "-o", str(tmp_path / "r.db")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln.split(": ")[3] for ln in lines] == [
        "grid.workload.batch_size[1]", "grid.workload.prompt_tokens[1]",
        "grid.hw.devices.gpu0.memory_bandwidth[1]"]  # once, though wrong on both GPUs
    assert all(ln.startswith("archsim: error: ") for ln in lines)
    assert not (tmp_path / "r.db").exists()


def test_an_unknown_design_point_or_workload_is_reported_at_its_line(write):
    with pytest.raises(ConfigError) as e:
        sw.load_sweep(write("s.yaml", "hardware: [gpu_a100_80gb, gpu_a100]\n"
                            "workload: gpt2_small\n"))
    assert (e.value.line, e.value.key) == (1, "hardware[1]")
    with pytest.raises(ConfigError) as e:
        sw.load_sweep(write("s.yaml", "hardware: gpu_t4\nworkload: [gpt2_small,\n  gpt2_large]\n"))
    assert (e.value.line, e.value.key) == (3, "workload[1]")
    assert "unknown workload 'gpt2_large'" in e.value.message


def test_the_documented_example_sweep_is_valid(tmp_path):
    text = (ROOT / "docs" / "sweeps.md").read_text().split("```yaml\n")[1].split("```")[0]
    (tmp_path / "s.yaml").write_text(text)
    s = sw.load_sweep(tmp_path / "s.yaml")
    assert len(s) == 132 and s.axes[-1] == "workload.prompt_tokens"


def test_more_points_than_the_guard_need_yes(write, tmp_path, capsys):
    path = write("s.yaml", TINY)
    store = tmp_path / "r.db"
    assert main(["sweep", path, "-o", str(store), "--max-points", "5", "-j", "1"]) == 2
    assert "more than the guard of 5: pass --yes" in capsys.readouterr().err
    assert not store.exists()


def test_store_has_a_row_per_distinct_config_failures_recorded_and_resume_skips_all(
        write, tmp_path, capsys):
    # "2 TB/s" and "2000 GB/s" are the same design point: it runs once; batch 4096 of GPT-2
    # with a 40 GiB GPU does fit, but a 10 MiB GPU does not: recorded, and the sweep goes on
    text = TINY.replace('["40 GiB", "80 GiB"]', '["10 MiB", "80 GiB"]').replace(
        '["1 TB/s", "2 TB/s"]', '["2000 GB/s", "2 TB/s"]')
    path = write("s.yaml", text)
    store = str(tmp_path / "r.db")
    assert main(["sweep", path, "-o", store, "-j", "1", "--export",
                 str(tmp_path / "r.parquet")]) == 0
    out = capsys.readouterr().out
    assert "12 points, 12 distinct" in out and "(6 failed)" in out
    df = sw.load(store)
    assert len(df) == 12 and set(df.status) == {"ok", "error"}
    bad = df[df.status == "error"]
    assert (bad["hw.devices.gpu0.memory_capacity"] == "10 MiB").all()
    assert bad.error.str.contains("needs").all() and bad.latency_s.isna().all()
    ok = df[df.status == "ok"]
    assert (ok.latency_s > 0).all() and (ok.tokens == 2 * ok.batch).all()
    import pandas as pd
    pq = pd.read_parquet(tmp_path / "r.parquet")
    assert list(pq.key) == list(df.key)
    with sqlite3.connect(store) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # identical points written differently: one row
    dup = text.replace('["10 MiB", "80 GiB"]', '["80 GiB", "80 GiB"]')
    s2 = str(tmp_path / "r2.db")
    summary = sw.run_sweep(sw.load_sweep(write("d.yaml", dup)), s2, jobs=1, progress=False)
    assert summary.points == 12 and summary.unique == 6 and len(sw.load(s2)) == 6
    # without --resume an existing store is refused; with it, nothing runs again
    assert main(["sweep", path, "-o", store]) == 2
    assert "--resume" in capsys.readouterr().err
    again = sw.run_sweep(sw.load_sweep(path), store, jobs=1, resume=True, progress=False)
    assert (again.skipped, again.ran) == (12, 0)
    retry = sw.run_sweep(sw.load_sweep(path), store, jobs=1, resume=True, retry_failed=True,
                         progress=False)
    assert (retry.skipped, retry.ran, retry.failed) == (6, 6, 6) and len(sw.load(store)) == 12
    # loading reads only: another SQLite file is refused and left as it was
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(ConfigError, match="not a results store"):
        sw.load(other)
    with sqlite3.connect(other) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["t"]


def test_an_axis_mixing_numbers_and_text_exports_to_parquet_as_text(write, tmp_path):
    pd = pytest.importorskip("pandas")
    path = write("s.yaml", "hardware: gpu_a100_80gb\nworkload: gpt2_small\n"
                 "set: {generate_tokens: 2, prompt_tokens: 8}\ngrid: {batch_size: [1, max]}\n")
    store, out = str(tmp_path / "r.db"), tmp_path / "r.parquet"
    sw.run_sweep(sw.load_sweep(path), store, jobs=1, progress=False)
    assert sw.export(store, out) == 2
    df = pd.read_parquet(out)
    assert list(df.batch_size) == ["1", "max"] and df.batch.iloc[1] > 1


def start_and_kill(sweep, store, *, after: int, jobs: int = 1) -> set:
    """Run ``archsim sweep`` in a subprocess, SIGKILL it once ``after`` points are in the store,
    and return the keys it had committed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "archsim", "sweep", str(sweep), "-o", str(store), "-j",
           str(jobs), "--yes"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if store.exists():
            try:
                with sqlite3.connect(store) as con:
                    n = con.execute("SELECT COUNT(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:
                n = 0
            if n >= after:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the sweep ended before it was killed"
    with sqlite3.connect(store) as con:
        return {r[0] for r in con.execute("SELECT key FROM points")}


def test_a_killed_sweep_resumes_with_nothing_lost_or_run_twice(tmp_path):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(TINY.replace("[1, 2, 4]", str(list(range(1, 21)))))
    store = tmp_path / "r.db"
    kept = start_and_kill(sweep, store, after=10)
    assert 10 <= len(kept) < 80
    summary = sw.run_sweep(sw.load_sweep(sweep), store, jobs=1, resume=True, progress=False)
    assert summary.skipped == len(kept) and summary.ran == 80 - len(kept)
    df = sw.load(store)
    assert len(df) == 80 and df.key.is_unique and set(kept) <= set(df.key)
    assert (df.status == "ok").all()


@pytest.mark.slow
def test_local_pool_and_a_dask_local_cluster_give_identical_rows(write, tmp_path):
    pytest.importorskip("dask.distributed")
    s = sw.load_sweep(write("s.yaml", TINY))
    one, pool, dask = (str(tmp_path / f"{n}.db") for n in ("one", "pool", "dask"))
    sw.run_sweep(s, one, jobs=1, progress=False)
    sw.run_sweep(s, pool, jobs=2, progress=False)
    sw.run_sweep(s, dask, scheduler="local:2", progress=False)
    assert rows(one).equals(rows(pool)) and rows(one).equals(rows(dask))
    assert len(rows(one)) == 12
    # a running cluster, reached by its address (as a Slurm or PBS cluster would be)
    from dask.distributed import LocalCluster
    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        remote = str(tmp_path / "remote.db")
        sw.run_sweep(s, remote, scheduler=cluster.scheduler_address, progress=False)
    assert rows(one).equals(rows(remote))


def test_a_scheduler_that_does_not_answer_is_a_clear_error_within_seconds(write, tmp_path,
                                                                           capsys):
    pytest.importorskip("dask.distributed")
    store = tmp_path / "r.db"
    t0 = time.time()
    assert main(["sweep", write("s.yaml", TINY), "-o", str(store),
                 "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert time.time() - t0 < 30
    assert "no Dask scheduler answered within 5 s" in capsys.readouterr().err
    assert not store.exists()


def test_shipped_sweeps_validate_and_resolve_by_name():
    names = sorted(p.stem for p in (ROOT / "sweeps").glob("*.yaml"))
    assert {"batch_tradeoff", "pim_vs_gpu"} <= set(names)
    bt = sw.load_sweep("batch_tradeoff")
    assert len(bt) == 27
    for n in names:
        assert len(sw.load_sweep(n)) > 0


def test_archsim_check_validates_a_sweep_file(capsys):
    assert main(["check", str(ROOT / "sweeps" / "batch_tradeoff.yaml")]) == 0
    assert "sweep 'batch_tradeoff' with 27 points" in capsys.readouterr().out


@pytest.mark.slow
def test_a_thousand_point_sweep_killed_resumed_exported_and_equal_on_a_local_cluster(tmp_path):
    pytest.importorskip("dask.distributed")
    pd = pytest.importorskip("pandas")
    sweep = tmp_path / "s.yaml"
    sweep.write_text(TINY.replace("[1, 2, 4]", str(list(range(1, 251)))))
    s = sw.load_sweep(sweep)
    assert len(s) == 1000
    local, dask = tmp_path / "local.db", str(tmp_path / "dask.db")
    kept = start_and_kill(sweep, local, after=200, jobs=2)
    resumed = sw.run_sweep(s, local, jobs=2, resume=True, progress=False)
    assert resumed.skipped == len(kept) and resumed.ran == 1000 - len(kept)
    assert sw.export(local, tmp_path / "local.parquet") == 1000
    assert pd.read_parquet(tmp_path / "local.parquet").key.is_unique
    sw.run_sweep(s, dask, scheduler="local:2", progress=False)
    assert len(rows(local)) == 1000 and rows(local).equals(rows(dask))
