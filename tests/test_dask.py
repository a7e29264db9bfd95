"""The Dask executor on a real ``dask.distributed.LocalCluster`` of worker processes (issue 14):
every run recorded once, results equal to the local executor's, killed workers, a killed parent
restarted."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask.distributed")

TESTS = Path(__file__).parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
import _standins as S  # noqa: E402

from neurorec.experiment import SQLiteStore, compare  # noqa: E402


def _env(phase="-"):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["STANDIN_PHASE"] = phase
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


@pytest.fixture
def standins_on_path(monkeypatch):
    """Dask's worker processes import the stand-in models by module path."""
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])


def _stored(db) -> tuple[dict, int]:
    con = sqlite3.connect(db)
    try:
        per_seed = dict(con.execute("SELECT seed, COUNT(*) FROM runs GROUP BY seed").fetchall())
        dup = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM results GROUP BY run_key, split, metric "
                          "HAVING COUNT(*) > 1)").fetchone()[0]
    finally:
        con.close()
    return per_seed, dup


def test_a_local_cluster_gives_the_local_executors_results_each_stored_once(tmp_path):
    from neurorec.models import ESN, LinearAR

    models = {"ESN": ESN(units=60, washout=50), "AR": LinearAR(delays=5, washout=50)}
    tasks = [{"name": "narma10", "params": {"n_steps": 800}}]
    local = compare(models, tasks, [0, 1], progress=False, threads=1)
    db = tmp_path / "r.sqlite"
    dask = compare(models, tasks, [0, 1], store=db, executor="dask", n_jobs=2, progress=False)
    assert (dask.status == "ok").all() and len(dask) == len(local) == 8
    cols = ["model", "task", "seed", "split", "metric", "value", "run_key"]
    pd.testing.assert_frame_equal(local[cols], dask[cols])   # bit-identical scores, same keys
    assert _stored(db) == ({0: 2, 1: 2}, 0)
    with SQLiteStore(db) as s:
        hosts = {r["host"] for r in s.runs()}
        assert s.claims() == {}
    assert hosts  # the workers' host names were recorded


def test_a_killed_worker_loses_nothing_its_run_is_retried_and_recorded_once(tmp_path, standins_on_path):
    marker = tmp_path / "kills"
    model = S.WorkerKiller(kill_seed=1, marker=str(marker), kills=1)
    db = tmp_path / "r.sqlite"
    df = compare([model], [S.ToyForecast()], [0, 1, 2], store=db, executor="dask", n_jobs=2, progress=False)
    assert marker.read_text().count("\n") == 1            # one worker process was killed in a run
    assert (df.status == "ok").all(), df[["seed", "status", "error"]]
    np.testing.assert_allclose(df[df.split == "val"].sort_values("seed").value, [1.0, 1.1, 1.2], rtol=1e-6)
    assert _stored(db) == ({0: 1, 1: 1, 2: 1}, 0)


def test_a_run_that_kills_every_worker_ends_as_an_error_row_and_the_grid_goes_on(tmp_path, standins_on_path):
    import dask

    marker = tmp_path / "kills"
    model = S.WorkerKiller(kill_seed=0, marker=str(marker), kills=1000)
    db = tmp_path / "r.sqlite"
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        df = compare([model], [S.ToyForecast()], [0, 1], store=db, executor="dask", n_jobs=2, progress=False)
    assert marker.read_text().count("\n") == 2            # tried twice (allowed-failures + 1), then given up
    runs = df.drop_duplicates("seed").set_index("seed")
    assert runs.loc[0, "status"] == "error" and "KilledWorker" in runs.loc[0, "error"]
    assert runs.loc[1, "status"] == "ok"
    with SQLiteStore(db) as s:
        [bad] = [r for r in s.runs() if r["status"] == "error"]
        assert "KilledWorker" in bad["traceback"]          # its traceback is stored with it
    assert _stored(db) == ({0: 1, 1: 1}, 0)


def _children(pid: int) -> set[int]:
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            if k not in out:
                out.add(k)
                todo.append(k)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow  # 9-20 s of process starts: run in .ci/run's slow step
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_parent_restarted_resumes_and_stores_nothing_twice(tmp_path):
    seeds = list(range(6))
    log = tmp_path / "fits.log"
    cfg = tmp_path / "sleepy.toml"
    cfg.write_text(f"""
[experiment]
name = "sleepy"
seeds = {json.dumps(seeds)}
[[models]]
name = "sleepy"
class = "_standins:ConstModel"
params = {{ sleep = 1.5, log = {json.dumps(str(log))} }}
[[tasks]]
name = "toy"
class = "_standins:ToyForecast"
""")
    out = tmp_path / "out"
    db = out / "results.sqlite"
    cmd = [sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out), "--no-progress",
           "--executor", "dask", "--jobs", "2"]
    first = subprocess.Popen(cmd, env=_env("1"), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists() and sum(_stored(db)[0].values()) >= 2:
            break
        time.sleep(0.2)
    else:
        first.kill()
        pytest.fail(f"no run was stored in 120 s: {first.stderr.read().decode()[-2000:]}")
    workers = _children(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait()
    stored_before = sum(_stored(db)[0].values())
    assert stored_before < len(seeds), "the grid finished before the kill; the test proves nothing"
    deadline = time.monotonic() + 30
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in workers), "Dask worker processes outlived their killed parent"

    second = subprocess.run(cmd, env=_env("2"), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    per_seed, dup = _stored(db)
    assert per_seed == {s: 1 for s in seeds} and dup == 0
    fits = log.read_text().split("\n")
    second_fits = [ln for ln in fits if ln.startswith("2 ")]
    # the restart computed only what was not stored (a run in flight at the kill is computed again)
    assert len(second_fits) == len(seeds) - stored_before
    with SQLiteStore(db) as s:
        assert s.claims() == {}


def _cli(tmp_path, *args, path=None, timeout=120, env=None):
    cfg = tmp_path / "toy.toml"
    cfg.write_text('[experiment]\nname = "toy"\nseeds = [0]\nenergy_profiles = []\n[[models]]\nname = "c"\n'
                   'class = "_standins:ConstModel"\n[[tasks]]\nname = "toy"\nclass = "_standins:ToyForecast"\n')
    env = {**_env(), **(env or {})}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(tmp_path / "out"),
                           "--no-progress", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_an_unreachable_scheduler_is_one_line_and_nothing_runs(tmp_path):
    import socket

    with socket.socket() as s:   # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Dask's connect timeout, which the executor follows, cut from 30 s to 2 s to keep the test short
    proc = _cli(tmp_path, "--scheduler", f"tcp://127.0.0.1:{port}",
                env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert proc.returncode == 5, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("neurorec: error")]
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 2 s" in line and "--scheduler" in line
    assert "Traceback" not in proc.stderr
    with SQLiteStore(tmp_path / "out" / "results.sqlite") as s:
        assert len(s) == 0 and s.claims() == {}


def test_slurm_without_sbatch_is_one_line_and_nothing_runs(tmp_path):
    pytest.importorskip("dask_jobqueue")
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = _cli(tmp_path, "--executor", "slurm", path=str(empty))
    assert proc.returncode == 5, proc.stderr
    [line] = [ln for ln in proc.stderr.splitlines() if ln.startswith("neurorec: error")]
    assert "no sbatch on PATH" in line and "scripts/slurm-local" in line


def test_bad_slurm_options_are_refused_naming_the_key(tmp_path):
    from neurorec.experiment.executors import ExecutorError

    S.FIT_CALLS.clear()
    with pytest.raises(ExecutorError, match="slurm: unknown option 'partiton'"):
        compare([S.ConstModel()], [S.ToyForecast()], [0], executor="slurm", slurm={"partiton": "cpu"},
                progress=False)
    with pytest.raises(ExecutorError, match="jobs must be a positive integer"):
        compare([S.ConstModel()], [S.ToyForecast()], [0], executor="slurm", slurm={"jobs": 0}, progress=False)
    from neurorec.experiment.specs import SpecError

    with pytest.raises(SpecError, match="executor must be one of local, dask, slurm"):
        compare([S.ConstModel()], [S.ToyForecast()], [0], executor="ray", progress=False)
    assert S.FIT_CALLS == []  # refused before anything ran


def test_a_dead_local_worker_does_not_end_the_grid(tmp_path, standins_on_path):
    """A local pool worker killed in a run (as the out-of-memory killer would): the grid goes on in a
    new pool, where the runs of the broken pool are tried once more; a run that kills its worker
    every time ends as an error row."""
    seeds = [0, 1, 2, 3, 4, 5]
    once = S.WorkerKiller(kill_seed=1, marker=str(tmp_path / "once"), kills=1, sleep=0.2)
    db = tmp_path / "r.sqlite"
    df = compare([once], [S.ToyForecast()], seeds, store=db, n_jobs=2, progress=False)
    assert (tmp_path / "once").read_text().count("\n") == 1
    assert (df.status == "ok").all(), df.drop_duplicates("seed")[["seed", "status", "error"]]
    assert _stored(db) == ({s: 1 for s in seeds}, 0)

    always = S.WorkerKiller(kill_seed=1, marker=str(tmp_path / "always"), kills=1000, sleep=0.2)
    db2 = tmp_path / "r2.sqlite"
    df = compare([always], [S.ToyForecast()], seeds, store=db2, n_jobs=2, progress=False)
    assert (tmp_path / "always").read_text().count("\n") == 2     # tried twice, then given up
    runs = df.drop_duplicates("seed").set_index("seed")
    assert runs.loc[1, "status"] == "error" and "BrokenProcessPool" in runs.loc[1, "error"]
    assert _stored(db2) == ({s: 1 for s in seeds}, 0)
