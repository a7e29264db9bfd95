"""Several processes on one result store (issue 14): claims on run keys, and run keys that
include a fingerprint of the task's data."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _standins as S  # noqa: E402

from neurorec.experiment import SQLiteStore, compare  # noqa: E402
from neurorec.experiment.specs import data_fingerprint  # noqa: E402
from neurorec.experiment.store import claim_owner  # noqa: E402

HOST = socket.gethostname()


def test_a_claim_held_by_a_live_process_is_respected_and_taken_over_once_it_is_gone(tmp_path):
    store = SQLiteStore(tmp_path / "r.sqlite")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = f"{HOST}:{other.pid}:abc"
        mine = claim_owner()
        assert store.claim("k", theirs) == "claimed"
        assert store.claim("k", mine) == "held"           # a live process on this host holds it
        assert store.claim("k", theirs) == "claimed"      # its owner may claim again
        other.kill()
        other.wait()
        assert store.claim("k", mine) == "claimed"        # its process is gone: taken over at once
        assert store.claims()["k"]["owner"] == mine
    finally:
        other.kill()
        store.close()


def test_a_claim_from_another_host_goes_stale_without_heartbeats(tmp_path):
    store = SQLiteStore(tmp_path / "r.sqlite")
    try:
        theirs = "some-other-host:1234:abc"
        assert store.claim("k", theirs) == "claimed"
        assert store.claim("k", claim_owner(), stale_after=60) == "held"   # cannot see its pid: trust it
        time.sleep(0.2)
        assert store.heartbeat(theirs) == 1
        assert store.claim("k", claim_owner(), stale_after=5) == "held"
        time.sleep(0.3)
        assert store.claim("k", claim_owner(), stale_after=0.1) == "claimed"  # no heartbeat for 0.3 s
    finally:
        store.close()


def test_a_stored_run_ends_its_claim_and_is_not_claimed_again(tmp_path):
    db = tmp_path / "r.sqlite"
    df = compare([S.ConstModel()], [S.ToyForecast()], [0], store=db, progress=False)
    key = df.run_key.iloc[0]
    store = SQLiteStore(db)
    try:
        assert store.claims() == {}                        # compare left no claim behind
        assert store.claim(key, claim_owner()) == "stored"
        assert store.claim(key, claim_owner(), done=()) == "claimed"   # recompute everything
        store.release(claim_owner())                       # another owner: nothing to drop
        assert key in store.claims()
    finally:
        store.close()


def test_runs_of_a_killed_process_are_resumed_at_once(tmp_path):
    """A process killed mid-grid leaves claims; the next compare on the store takes them over at
    once (same host, owner gone) and each run is stored once."""
    db = tmp_path / "r.sqlite"
    store = SQLiteStore(db)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    keys = compare([S.ConstModel()], [S.ToyForecast()], [0, 1, 2], progress=False).run_key.unique()
    for k in keys:   # as the killed process left them
        assert store.claim(k, f"{HOST}:{dead.pid}:dead") == "claimed"
    store.close()
    t0 = time.perf_counter()
    df = compare([S.ConstModel()], [S.ToyForecast()], [0, 1, 2], store=db, progress=False)
    assert time.perf_counter() - t0 < 30 and (df.status == "ok").all()
    with SQLiteStore(db) as s:
        assert len(s) == 3 and s.claims() == {}


class _ChangingTask(S.ToyForecast):
    """A custom task whose data depend on a module-level value: the same name and parameters,
    other data."""

    VALUE = 0.0

    def load(self, seed):
        d = super().load(seed)
        bump = type(self).VALUE
        return type(d)(*[type(s)(s.X + bump, s.y + bump, s.skip) for s in d])


def test_a_task_whose_data_changed_under_the_same_name_runs_again(tmp_path):
    db = tmp_path / "r.sqlite"
    S.FIT_CALLS.clear()
    _ChangingTask.VALUE = 0.0
    first = compare([S.ConstModel()], [_ChangingTask()], [0, 1], store=db, progress=False)
    assert len(S.FIT_CALLS) == 2
    compare([S.ConstModel()], [_ChangingTask()], [0, 1], store=db, progress=False)
    assert len(S.FIT_CALLS) == 2                          # same data: resumed, nothing recomputed
    _ChangingTask.VALUE = 3.0                             # the data change, the name does not
    second = compare([S.ConstModel()], [_ChangingTask()], [0, 1], store=db, progress=False)
    assert len(S.FIT_CALLS) == 4                          # computed again, not the old score
    assert set(first.run_key).isdisjoint(second.run_key)
    with SQLiteStore(db) as s:
        assert len(s) == 4


def test_data_fingerprint_tells_data_apart_and_uses_a_tasks_own():
    t = S.ToyForecast()
    assert data_fingerprint(t, 0) == data_fingerprint(t, 0) != data_fingerprint(t, 1)
    assert data_fingerprint(S.ToyForecast(steps=6), 0) != data_fingerprint(t, 0)

    class Own(S.ToyForecast):
        def fingerprint(self, seed):
            return f"file-digest-{seed}"

        def load(self, seed):  # pragma: no cover - never called: the task's own fingerprint is used
            raise AssertionError("loaded")

    assert data_fingerprint(Own(), 2) == "file-digest-2"

    class Broken(S.ToyForecast):
        def load(self, seed):
            raise OSError("gone")

    assert data_fingerprint(Broken(), 0) == "load-failed:OSError"
    # arrays: dtype and shape are part of it, not only the bytes
    import hashlib

    from neurorec.experiment.specs import _feed

    def fp(x):
        h = hashlib.sha256()
        _feed(h, x)
        return h.hexdigest()

    a = np.zeros(4, dtype=np.float32)
    assert fp(a) != fp(a.reshape(2, 2)) != fp(a.view(np.int32))


def test_an_error_another_process_stored_during_this_call_is_not_computed_again(tmp_path):
    from neurorec.experiment.runner import _now

    store = SQLiteStore(tmp_path / "r.sqlite")
    try:
        started = _now()
        time.sleep(0.01)
        store.put({"run_key": "k", "model": "m", "task": "t", "seed": 0, "status": "error", "finished_at": _now(),
                   "rows": []})
        # an error stored before this call started is retried; one stored during it is done
        assert store.claim("k", claim_owner(), done=("ok",), since="0000") == "stored"
        time.sleep(0.01)
        assert store.claim("k", claim_owner(), done=("ok",), since=_now()) == "claimed"
        assert store.claim("k2", claim_owner(), done=("ok",), since=started) == "claimed"
    finally:
        store.close()


def test_two_compares_in_threads_of_one_process_split_the_runs(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    db = tmp_path / "r.sqlite"
    SQLiteStore(db).close()
    S.FIT_CALLS.clear()
    model = S.ConstModel(sleep=0.3)
    seeds = [0, 1, 2, 3, 4, 5]
    with ThreadPoolExecutor(2) as pool:
        futs = [pool.submit(compare, [model], [S.ToyForecast()], seeds, store=db, progress=False) for _ in range(2)]
        frames = [f.result() for f in futs]
    assert sorted(s for _, s in S.FIT_CALLS) == seeds       # every run fitted once, by one of the two
    for df in frames:
        assert df.attrs["duplicate_runs"] == 0 and (df.status == "ok").all() and len(df) == 2 * len(seeds)


def test_changed_tensor_and_frame_data_change_the_fingerprint():
    import pandas as pd

    torch = pytest.importorskip("torch")

    class Frames(S.ToyForecast):
        VALUE = 0.0

        def load(self, seed):
            v = type(self).VALUE
            return {"X": torch.full((3, 2), v), "y": pd.DataFrame({"a": [v, 1.0]}), "r": range(3)}

    t = Frames()
    before = data_fingerprint(t, 0)
    Frames.VALUE = 5.0
    assert data_fingerprint(t, 0) != before

    class Opaque:
        __slots__ = ("lock",)

        def __init__(self):
            import threading

            self.lock = threading.Lock()

    class Unreadable(S.ToyForecast):
        def load(self, seed):
            return {"X": Opaque()}

    with pytest.warns(UserWarning, match="fingerprint"):
        assert data_fingerprint(Unreadable(), 0).endswith("Opaque")
