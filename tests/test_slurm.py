"""``neurorec compare --executor slurm`` on a real one-node SLURM cluster (issue 14).

Marked ``slurm``: run them with ``scripts/slurm-local run -- .venv/bin/python -m pytest -m slurm``
(`.ci/run` does). Without a cluster they are skipped, unless ``NEUROREC_REQUIRE_SLURM=1``
(set by `.ci/run`), when they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
ROOT = TESTS.parent

pytestmark = pytest.mark.slurm


def _cluster_up() -> str:
    if shutil.which("sinfo") is None:
        return "no sinfo on PATH"
    try:
        proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    if proc.returncode != 0 or "idle" not in proc.stdout and "mix" not in proc.stdout:
        return f"no idle SLURM node (sinfo: {(proc.stdout + proc.stderr).strip()[:200]})"
    return ""


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster():
    why = _cluster_up()
    if why:
        if os.environ.get("NEUROREC_REQUIRE_SLURM") == "1":
            pytest.fail(f"NEUROREC_REQUIRE_SLURM=1 but {why}")
        pytest.skip(f"{why}: start one with scripts/slurm-local up")


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _config(tmp_path, seeds, slurm: str) -> Path:
    cfg = tmp_path / "grid.toml"
    cfg.write_text(f"""
[experiment]
name = "slurm-grid"
seeds = {json.dumps(seeds)}
executor = "slurm"
energy_profiles = []

[slurm]
{slurm}

[[models]]
name = "AR"
class = "LinearAR"
params = {{ delays = 5, washout = 50 }}

[[models]]
name = "const"
class = "_standins:ConstModel"

[[tasks]]
name = "narma10"
params = {{ n_steps = 600 }}
""")
    return cfg


def test_a_small_grid_runs_on_slurm_workers_and_lands_in_the_store_once(tmp_path):
    seeds = [0, 1, 2]
    cfg = _config(tmp_path, seeds, 'partition = "debug"\njobs = 2\ncores = 1\nmemory = "1GB"\n'
                                   'walltime = "00:10:00"\nstart_timeout = 120')
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out),
                           "--no-progress"], env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "6 runs: 6 ok" in proc.stdout
    con = sqlite3.connect(out / "results.sqlite")
    try:
        per = con.execute("SELECT model, seed, COUNT(*) FROM runs GROUP BY model, seed").fetchall()
        dup = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM results GROUP BY run_key, split, metric "
                          "HAVING COUNT(*) > 1)").fetchone()[0]
        statuses = {r[0] for r in con.execute("SELECT status FROM runs")}
    finally:
        con.close()
    assert sorted(per) == sorted((m, s, 1) for m in ("AR", "const") for s in seeds) and dup == 0
    assert statuses == {"ok"}
    # the same grid on the local executor gives the same scores
    local = subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out",
                            str(tmp_path / "local"), "--no-progress", "--executor", "local"],
                           env=_env(), capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr[-3000:]
    import pandas as pd

    a = pd.read_csv(out / "results.csv").sort_values(["model", "seed", "split"]).reset_index(drop=True)
    b = pd.read_csv(tmp_path / "local" / "results.csv").sort_values(["model", "seed", "split"]).reset_index(drop=True)
    pd.testing.assert_series_equal(a["value"], b["value"], rtol=1e-9)


def test_a_partition_slurm_does_not_know_is_one_line_before_anything_runs(tmp_path):
    cfg = _config(tmp_path, [0], 'partition = "nosuchpartition"\njobs = 1')
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out),
                           "--no-progress"], env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 5, proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.startswith("neurorec: error")]
    assert len(err) == 1 and "invalid partition" in err[0].lower() and "[slurm]" in err[0]
    assert "Traceback" not in proc.stderr
    con = sqlite3.connect(out / "results.sqlite")
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
    con.close()


def test_a_search_runs_its_trials_on_slurm_workers(tmp_path):
    pytest.importorskip("optuna")
    import pandas as pd

    cfg = tmp_path / "tune.toml"
    cfg.write_text("""
[tune]
model = "ESN"
task = "narma10"
trials = 5
jobs = 2
executor = "slurm"
seeds = [0]

[slurm]
partition = "debug"
jobs = 2
cores = 1
memory = "1GB"
walltime = "00:10:00"
start_timeout = 120
""")
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "neurorec.cli", "tune", "--config", str(cfg), "--out", str(out),
                             "--no-progress"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    o, e = proc.communicate(timeout=600)
    assert proc.returncode == 0, e[-3000:]
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 5 and set(trials.state) == {"COMPLETE"}
    workers = {w.split(":")[1] for w in trials.user_attrs_worker}
    assert workers - {str(proc.pid)}, "no trial ran on a SLURM worker"
    assert (out / "slurm-logs").is_dir() and any((out / "slurm-logs").iterdir())
    con = sqlite3.connect(out / "results.sqlite")
    try:
        assert con.execute("SELECT model, status FROM runs").fetchall() == [("ESN-tuned", "ok")]
    finally:
        con.close()


def _sleepy_config(tmp_path, slurm: str) -> Path:
    cfg = tmp_path / "sleepy.toml"
    cfg.write_text(f"""
[experiment]
name = "sleepy"
seeds = [0, 1, 2, 3, 4, 5]
energy_profiles = []

[slurm]
{slurm}

[[models]]
name = "c"
class = "_standins:ConstModel"
params = {{ sleep = 2.0 }}

[[tasks]]
name = "toy"
class = "_standins:ToyForecast"
""")
    return cfg


def test_workers_whose_jobs_end_mid_grid_are_asked_for_again_and_the_grid_finishes(tmp_path):
    """scancel (as walltime or preemption would) ends every worker's job mid-grid: compare submits
    the jobs again and finishes, each run stored once."""
    import time

    cfg = _sleepy_config(tmp_path, 'partition = "debug"\njobs = 1\ncores = 1\nmemory = "1GB"\nstart_timeout = 120')
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out),
                             "--no-progress", "--executor", "slurm"], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    db = out / "results.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:   # a first run stored: the workers are up and computing
        if db.exists():
            con = sqlite3.connect(db)
            try:
                if con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] >= 1:
                    break
            except sqlite3.OperationalError:
                pass
            finally:
                con.close()
        time.sleep(0.3)
    import getpass

    subprocess.run(["scancel", "--user", getpass.getuser()], check=False)
    o, e = proc.communicate(timeout=300)
    assert proc.returncode == 0, e[-3000:]
    assert "submitted 1 job(s) again" in e and "6 runs: 6 ok" in o
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT COUNT(*), COUNT(DISTINCT seed) FROM runs").fetchone() == (6, 6)
    finally:
        con.close()


def test_a_memory_request_slurm_cannot_meet_is_one_line_before_anything_runs(tmp_path):
    cfg = _sleepy_config(tmp_path, 'partition = "debug"\njobs = 1\nmemory = "5000GB"')
    proc = subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(tmp_path / "o"),
                           "--no-progress", "--executor", "slurm"], env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 5, proc.stderr
    err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(err) == 2 and err[1].startswith("neurorec: error: executor 'slurm': SLURM refuses the job request")
    assert "--mem=" in err[1] and "memory" in err[1] and "Traceback" not in proc.stderr
