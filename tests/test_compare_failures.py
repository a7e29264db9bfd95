"""``compare`` when things go wrong: a killed parent, a damaged, read-only or full store, and two
processes on one store (issue 13).

Every case is made for real: the parent is SIGKILLed, the store file is overwritten or truncated,
permissions are removed with chmod (as root, in a subprocess that dropped the capabilities that
let root ignore them), the disk fills up through a file-size limit (``RLIMIT_FSIZE``) or SQLite's
page limit, and two ``neurorec compare`` processes run at once on the same folder.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from concurrent.futures import Executor, Future
from pathlib import Path

import _standins as S
import pandas as pd
import pytest

from neurorec.cli import main
from neurorec.experiment import SQLiteStore, compare
from neurorec.experiment.store import StoreError

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
POSIX = os.name == "posix"
LINUX = sys.platform.startswith("linux")

TOY = """
[experiment]
name = "toy"
seeds = {seeds}

[[models]]
name = "const"
class = "_standins:ConstModel"

[[tasks]]
name = "toy_forecast"
class = "_standins:ToyForecast"
"""


@pytest.fixture(autouse=True)
def _clear_calls():
    S.FIT_CALLS.clear()
    yield
    S.FIT_CALLS.clear()


def _env(phase: str = "-") -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["STANDIN_PHASE"] = phase
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


def _toy(tmp_path: Path, seeds=(0, 1), name="toy.toml") -> Path:
    p = tmp_path / name
    p.write_text(TOY.format(seeds=json.dumps(list(seeds))))
    return p


def _sleepy(tmp_path: Path, log: Path, seeds, sleep: float, name="sleepy.toml") -> Path:
    p = tmp_path / name
    p.write_text(f"""
[experiment]
name = "sleepy"
seeds = {json.dumps(list(seeds))}

[[models]]
name = "sleepy"
class = "_standins:ConstModel"
params = {{ sleep = {sleep}, log = {json.dumps(str(log))} }}

[[tasks]]
name = "toy"
class = "_standins:ToyForecast"
""")
    return p


def _cli(*args, phase="-", preexec_fn=None, timeout=120, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "neurorec.cli", "compare", *map(str, args), "--no-progress"],
                          env=_env(phase), capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn, cwd=cwd)


def _fits(log: Path, phase: str) -> list[int]:
    if not log.exists():
        return []
    return [int(s) for p, s in (ln.split() for ln in log.read_text().splitlines()) if p == phase]


def _counts(db: Path) -> tuple[dict, int, int]:
    """({seed: number of stored runs}, result rows, duplicated (run_key, split, metric) rows)."""
    con = sqlite3.connect(db)
    try:
        per_seed = dict(con.execute("SELECT seed, COUNT(*) FROM runs GROUP BY seed").fetchall())
        n_rows = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        dup = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM results GROUP BY run_key, split, metric "
                          "HAVING COUNT(*) > 1)").fetchone()[0]
    finally:
        con.close()
    return per_seed, n_rows, dup


def _stored_seeds(db: Path) -> set[int]:
    if not db.exists():
        return set()
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return {s for (s,) in con.execute("SELECT seed FROM runs")}
        finally:
            con.close()
    except sqlite3.DatabaseError:
        return set()


# ------------------------------------------------------------------------------------------
# 1. the pool's workers and multiprocessing's resource tracker die with a SIGKILLed parent
# ------------------------------------------------------------------------------------------

def _session(sid: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes of session ``sid``: (pid, command line), read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state, ppid, pgrp, session, ...
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            found.append((int(entry), cmd.strip()))
    return found


def _pipe_closed(fd: int, timeout: float) -> bool:
    """Whether every writer of the pipe ``fd`` closed it within ``timeout`` s (reads to EOF)."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready and not os.read(fd, 65536):
            return True
    return False


@pytest.mark.slow  # 9-20 s of process starts: run in .ci/run's slow step
@pytest.mark.skipif(not LINUX, reason="reads the process table from /proc")
def test_sigkilled_compare_takes_its_workers_and_resource_tracker_with_it(tmp_path, monkeypatch):
    seeds = list(range(6))
    log = tmp_path / "fits.log"
    cfg = _sleepy(tmp_path, log, seeds, sleep=1.0)
    out = tmp_path / "out"
    db = out / "results.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out),
                             "--no-progress", "--jobs", "2"], env=_env("1"), cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    sid = proc.pid
    survivors: list = []
    try:
        deadline = time.monotonic() + 120
        # both workers busy with their second run, the first two stored
        while len(_fits(log, "1")) < 4 or len(_stored_seeds(db)) < 2:
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "the workers did not start within 120 s"
            time.sleep(0.02)
        before_kill = _session(sid)
        assert len(before_kill) >= 3, before_kill  # the parent and two workers (and the resource tracker)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        closed = _pipe_closed(proc.stdout.fileno(), timeout=10)  # nobody holds the caller's stdout
        deadline = time.monotonic() + 10
        while (survivors := _session(sid)) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        try:
            os.killpg(sid, signal.SIGKILL)  # whatever survived (before the fix: the workers)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert survivors == [], f"still running 10 s after the parent was killed: {survivors}"
    assert closed, "the caller's stdout is still held open 10 s after the parent was killed"

    # a re-run resumes from the store: only the missing runs, nothing stored twice
    before = _stored_seeds(db)
    assert 2 <= len(before) < len(seeds)
    monkeypatch.setenv("STANDIN_PHASE", "2")
    monkeypatch.setenv("PYTHONPATH", _env()["PYTHONPATH"])
    assert main(["compare", str(cfg), "--out", str(out), "--no-progress", "--jobs", "2"]) == 0
    per_seed, n_rows, dup = _counts(db)
    assert per_seed == {s: 1 for s in seeds} and n_rows == 2 * len(seeds) and dup == 0
    assert sorted(_fits(log, "2")) == sorted(set(seeds) - before)


def test_pool_workers_install_the_parent_death_guard():
    """The local pool starts every worker with the guard (the SIGKILL test above checks it works)."""
    from neurorec.experiment import executors

    assert callable(executors._die_with_parent)
    # in a process whose parent is alive the guard returns (and starts its watch thread)
    code = ("import os, threading\n"
            "from neurorec.experiment.executors import _die_with_parent\n"
            "_die_with_parent(os.getppid())\n"
            "print(sorted(t.name for t in threading.enumerate()))\n")
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "neurorec-parent-watch" in res.stdout
    # started for a parent that is already gone, it exits at once
    code = "from neurorec.experiment.executors import _die_with_parent\n_die_with_parent(-12345)\nprint('alive')\n"
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "alive" not in res.stdout


# ------------------------------------------------------------------------------------------
# 2. damaged, read-only and full stores: a clear message and their own exit status
# ------------------------------------------------------------------------------------------

def _run_toy(tmp_path, seeds=(0, 1)) -> tuple[Path, Path]:
    out = tmp_path / "out"
    assert main(["compare", str(_toy(tmp_path, seeds)), "--out", str(out), "--no-progress"]) == 0
    return out, out / "results.sqlite"


def _one_line_error(err: str, *words):
    assert "Traceback" not in err, err
    line = [ln for ln in err.splitlines() if ln.startswith("neurorec: error: ")]
    assert len(line) == 1, err
    for w in words:
        assert w in line[0], (w, line[0])
    return line[0]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "overwritten_pages", "empty_header"])
def test_damaged_store_exits_3_naming_the_file_and_is_left_untouched(tmp_path, capsys, damage):
    out, db = _run_toy(tmp_path, seeds=range(30))
    capsys.readouterr()
    data = db.read_bytes()
    assert len(data) >= 4 * 4096
    if damage == "garbage":
        new = os.urandom(len(data))
    elif damage == "truncated":
        new = data[:len(data) // 2]
    elif damage == "overwritten_pages":
        new = data[:2 * 4096] + os.urandom(len(data) - 2 * 4096)
    else:
        new = data[:50]
    db.write_bytes(new)
    S.FIT_CALLS.clear()
    assert main(["compare", str(_toy(tmp_path, seeds=range(30))), "--out", str(out), "--no-progress"]) == 3
    line = _one_line_error(capsys.readouterr().err, str(db), "damaged", "move it aside")
    assert "run errored" not in line
    assert S.FIT_CALLS == []  # nothing computed for a store that cannot hold it
    assert db.read_bytes() == new  # and the file is not "repaired" into an empty store
    with pytest.raises(StoreError) as info:
        compare([S.ConstModel()], [S.ToyForecast()], [0], store=db, progress=False)
    assert info.value.kind == "corrupt" and info.value.path == str(db)


def test_foreign_database_and_newer_schema_exit_3(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    db = out / "results.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    con.commit()
    con.close()
    assert main(["compare", str(_toy(tmp_path)), "--out", str(out), "--no-progress"]) == 3
    _one_line_error(capsys.readouterr().err, str(db), "not a neurorec result store")
    db.unlink()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    assert main(["compare", str(_toy(tmp_path)), "--out", str(out), "--no-progress"]) == 3
    _one_line_error(capsys.readouterr().err, str(db), "not a neurorec result store")
    con = sqlite3.connect(db)
    assert [t for (t,) in con.execute("SELECT name FROM sqlite_master")] == ["photos"]  # left as it was
    con.close()
    db.unlink()
    _run_toy(tmp_path)
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.close()
    assert main(["compare", str(_toy(tmp_path)), "--out", str(out), "--no-progress"]) == 3
    _one_line_error(capsys.readouterr().err, str(db), "newer neurorec")
    with pytest.raises(RuntimeError, match="newer neurorec"):  # StoreError is a RuntimeError, as before
        SQLiteStore(db)


def _drop_root_privileges():
    """preexec_fn: as root, drop the capabilities that let root ignore file permissions
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER) from the bounding set, so that the
    command exec'd next obeys chmod like any user."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _as_user():
    """A preexec_fn under which chmod is obeyed (None when not root), or skip."""
    if not POSIX:
        pytest.skip("chmod read-only folders are POSIX")
    if os.geteuid() != 0:
        return None
    if not LINUX:
        pytest.skip("running as root: chmod does not stop root, and capabilities can be dropped only on Linux")
    probe = subprocess.run([sys.executable, "-c", "import os; print(os.access('/proc/1', os.W_OK))"],
                           preexec_fn=_drop_root_privileges, capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root without CAP_SETPCAP: cannot make chmod apply ({probe.stderr[-200:]})")
    if probe.stdout.strip() != "False":
        pytest.skip("running as root: dropping CAP_DAC_OVERRIDE did not make chmod apply")
    return _drop_root_privileges


@pytest.fixture
def _restore_modes():
    paths: list[Path] = []
    yield paths
    for p in paths:
        if p.exists():
            p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_read_only_store_file_is_read_and_an_incomplete_grid_is_refused(tmp_path, _restore_modes):
    as_user = _as_user()
    out, db = _run_toy(tmp_path)
    before = pd.read_csv(out / "results.csv")
    for f in ("results.csv", "summary.png", "temporal_order.csv"):
        (out / f).unlink()
    db.chmod(0o444)
    _restore_modes.append(db)
    store_bytes = db.read_bytes()

    # complete: the stored results are reported and the outputs written (the folder is writable)
    res = _cli(_toy(tmp_path), "--out", out, preexec_fn=as_user)
    assert res.returncode == 0, res.stderr
    assert "2 runs: 2 ok, 0 skipped, 0 errors" in res.stdout
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), before)

    # incomplete: nothing is computed, the message says what is read-only and what to do
    res = _cli(_toy(tmp_path, seeds=(0, 1, 2), name="more.toml"), "--out", out, preexec_fn=as_user)
    assert res.returncode == 4, (res.stdout, res.stderr)
    _one_line_error(res.stderr, str(db), "read-only", "1 of the 3 runs", "writable")
    assert db.read_bytes() == store_bytes


@pytest.mark.skipif(not POSIX, reason="POSIX permissions")
def test_complete_store_in_a_read_only_folder_is_read(tmp_path, _restore_modes):
    as_user = _as_user()
    out, db = _run_toy(tmp_path)
    for f in ("results.csv", "summary.png", "cost.png", "temporal_order.csv"):
        (out / f).unlink()  # an existing writable file can be rewritten in a read-only folder
    folder_before = sorted(p.name for p in out.iterdir())
    assert folder_before == ["results.sqlite"]
    out.chmod(0o555)
    _restore_modes.append(out)

    # the library reads it
    code = ("from neurorec.experiment import SQLiteStore\n"
            f"s = SQLiteStore({str(db)!r})\n"
            "print(s.read_only, len(s), len(s.to_dataframe()))\n")
    res = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True,
                         preexec_fn=as_user, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "2", "4"]

    # the command reports the stored table; it cannot create results.csv there, and says so (exit 4)
    res = _cli(_toy(tmp_path), "--out", out, preexec_fn=as_user)
    assert "2 runs: 2 ok, 0 skipped, 0 errors" in res.stdout, res.stderr
    assert "0.55" in res.stdout  # the summary table (const on toy_forecast, test MAE over seeds 0, 1)
    assert res.returncode == 4, res.stderr
    _one_line_error(res.stderr, "cannot write", str(out / "results.csv"), "results are in", str(db))
    # incomplete grid in a read-only folder: refused before anything runs
    res = _cli(_toy(tmp_path, seeds=(0, 1, 2), name="more.toml"), "--out", out, preexec_fn=as_user)
    assert res.returncode == 4, (res.stdout, res.stderr)
    _one_line_error(res.stderr, str(db), "read-only", "1 of the 3 runs")
    out.chmod(0o755)
    assert sorted(p.name for p in out.iterdir()) == folder_before


def _fsize_limit(limit: int):
    def set_limit():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@pytest.mark.slow  # 9-20 s of process starts: run in .ci/run's slow step
@pytest.mark.skipif(not POSIX, reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_exits_4_with_the_disk_error_and_a_rerun_resumes(tmp_path):
    seeds = list(range(12))
    log = tmp_path / "fits.log"
    cfg = _sleepy(tmp_path, log, seeds, sleep=0.0)
    out = tmp_path / "out"
    db = out / "results.sqlite"
    # no file may grow past 96 KiB: the store's write-ahead log fills up after a few runs
    res = _cli(cfg, "--out", out, "--jobs", "1", phase="1", preexec_fn=_fsize_limit(96 * 1024), cwd=tmp_path)
    assert res.returncode == 4, (res.stdout, res.stderr)
    line = _one_line_error(res.stderr, str(db), "disk I/O error", "free", "run the same command to resume")
    assert "cannot rollback" not in line
    first = _stored_seeds(db)
    assert 1 <= len(first) < len(seeds)
    assert set(_fits(log, "1")) >= first

    res = _cli(cfg, "--out", out, "--jobs", "1", phase="2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    per_seed, n_rows, dup = _counts(db)
    assert per_seed == {s: 1 for s in seeds} and n_rows == 2 * len(seeds) and dup == 0
    assert sorted(_fits(log, "2")) == sorted(set(seeds) - first)


def test_store_full_at_sqlite_page_limit_names_the_error_not_the_rollback(tmp_path):
    db = tmp_path / "r.sqlite"
    compare([S.ConstModel()], [S.ToyForecast()], [0], store=db, progress=False)
    store = SQLiteStore(db)
    try:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        [run] = store.runs()
        big = dict(run, run_key="other", error="x" * 20000)
        with pytest.raises(StoreError) as info:
            store.put(big)
        assert info.value.kind == "full" and info.value.path == str(db)
        msg = str(info.value)
        assert "database or disk is full" in msg and str(db) in msg and "cannot rollback" not in msg
        assert len(store) == 1  # the failed write left nothing behind, the store still works
        store._conn.execute(f"PRAGMA max_page_count = {10 * pages + 100}")
        assert store.put(big) is True and len(store) == 2
    finally:
        store.close()


def test_store_error_kinds_map_to_cli_exit_statuses():
    from neurorec.cli import _STORE_EXIT

    assert _STORE_EXIT == {"corrupt": 3, "not-a-store": 3, "newer": 3, "unreadable": 3,
                           "read-only": 4, "full": 4, "locked": 4}
    assert issubclass(StoreError, RuntimeError)


def _open_new_store_at_once(path, barrier, queue):
    barrier.wait()
    try:
        SQLiteStore(path).close()
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_store_together_all_get_it(tmp_path):
    """Two processes creating the same new store at the same instant: SQLite answers the switch to
    WAL mode with SQLITE_BUSY at once, without its busy handler; before the store retried it, about
    one open in four failed this way (109 of 400), so 15 pairs all but always hit it."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    results = []
    for i in range(15):
        path = tmp_path / str(i) / "results.sqlite"
        barrier, queue = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_open_new_store_at_once, args=(str(path), barrier, queue)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=120)
        results += [queue.get(timeout=10) for _ in procs]
    assert results == ["ok"] * 30, [r for r in results if r != "ok"][:2]


def test_a_store_locked_longer_than_the_timeout_says_so_after_waiting(tmp_path):
    db = tmp_path / "r.sqlite"
    SQLiteStore(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    try:
        t0 = time.monotonic()
        with pytest.raises(StoreError) as info:
            SQLiteStore(db, timeout=0.3)  # opening writes the schema, so it waits for the lock
        assert time.monotonic() - t0 >= 0.25  # it waited before giving up
        assert info.value.kind == "locked" and "for more than 0.3 s" in str(info.value)
    finally:
        other.execute("ROLLBACK")
        other.close()


# ------------------------------------------------------------------------------------------
# 3. two processes on one store: every run stored once, the duplicate work reported
# ------------------------------------------------------------------------------------------

class _RacingExecutor(Executor):
    """Runs each job here, but before handing its result back stores the same run through a
    second connection, as another process working on the same store would."""

    def __init__(self, db, steal):
        self.other = SQLiteStore(db)
        self.steal = steal

    def submit(self, fn, job):
        res = fn(job)
        if job["seed"] in self.steal:
            self.other.put(dict(res, host="other-process"))
        f: Future = Future()
        f.set_result(res)
        return f

    def shutdown(self, wait=True, **kw):
        self.other.close()


def test_runs_stored_by_another_process_are_kept_once_and_reported(tmp_path):
    db = tmp_path / "r.sqlite"
    SQLiteStore(db).close()
    ex = _RacingExecutor(db, steal={1, 2})
    try:
        with pytest.warns(UserWarning, match=r"2 of the 4 runs .* also computed by another process"):
            df = compare([S.ConstModel()], [S.ToyForecast()], [0, 1, 2, 3], store=db, executor=ex,
                         progress=False)
    finally:
        ex.shutdown()
    assert df.attrs["duplicate_runs"] == 2
    per_seed, n_rows, dup = _counts(db)
    assert per_seed == {0: 1, 1: 1, 2: 1, 3: 1} and n_rows == 8 and dup == 0
    con = sqlite3.connect(db)
    hosts = dict(con.execute("SELECT seed, host FROM runs").fetchall())
    con.close()
    assert hosts[1] == hosts[2] == "other-process" and hosts[0] != "other-process"
    # a resumed call computes nothing and reports no duplicates
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = compare([S.ConstModel()], [S.ToyForecast()], [0, 1, 2, 3], store=db, progress=False)
    assert again.attrs.get("duplicate_runs", 0) == 0
    pd.testing.assert_frame_equal(df, again)


def test_a_result_replacing_another_process_fresh_run_is_reported(tmp_path):
    """resume=False replaces stored runs: one written by another process during this call counts."""
    db = tmp_path / "r.sqlite"
    ex = _RacingExecutor(db, steal={0})
    try:
        with pytest.warns(UserWarning, match="1 of the 2 runs"):
            df = compare([S.ConstModel()], [S.ToyForecast()], [0, 1], store=db, executor=ex, progress=False,
                         resume=False)
    finally:
        ex.shutdown()
    assert df.attrs["duplicate_runs"] == 1
    assert _counts(db)[0] == {0: 1, 1: 1}


def test_two_concurrent_compares_split_the_runs_and_compute_each_once(tmp_path):
    """Two real ``neurorec compare`` processes on one results folder: the claims in the store make
    each run computed by one process only (no duplicate work), stored once, and both processes
    print and write the whole table."""
    seeds = list(range(6))
    log = tmp_path / "fits.log"
    cfg = _sleepy(tmp_path, log, seeds, sleep=1.0)  # 6 s each: the two always overlap
    out = tmp_path / "out"
    db = out / "results.sqlite"
    cmd = [sys.executable, "-m", "neurorec.cli", "compare", str(cfg), "--out", str(out), "--no-progress",
           "--jobs", "1"]
    procs = [subprocess.Popen(cmd, env=_env(str(i)), cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in (1, 2)]
    outs = []
    for p in procs:
        o, e = p.communicate(timeout=300)
        outs.append((p.returncode, o, e))
    for rc, _, e in outs:
        assert rc == 0, e
    per_seed, n_rows, dup = _counts(db)
    assert per_seed == {s: 1 for s in seeds} and n_rows == 2 * len(seeds) and dup == 0
    fits1, fits2 = _fits(log, "1"), _fits(log, "2")
    assert len(fits1) + len(fits2) == len(seeds), (fits1, fits2)  # every run computed exactly once
    assert fits1 and fits2, "one process did all the work: the two did not share the grid"
    for _, o, e in outs:
        assert "also computed by another process" not in o + e
        assert f"{len(seeds)} runs: {len(seeds)} ok" in o  # each prints the whole grid
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*) FROM claims").fetchone()[0] == 0  # no claim left behind
    con.close()
    csv = pd.read_csv(out / "results.csv")
    assert len(csv) == 2 * len(seeds)
