"""Result stores: where each finished run is written, at once, in one transaction.

:class:`SQLiteStore` keeps results in an SQLite file (WAL mode, a busy timeout) so that a
killed process loses at most the run in flight, and a re-run with the same file resumes:
runs whose key is already stored are not run again. :class:`MemoryStore` is the same on an
in-memory database (what :func:`~neurorec.experiment.compare` uses when ``store=None``).

Schema (``PRAGMA user_version = 1``)::

    runs(run_key TEXT PRIMARY KEY, model, model_class, task, kind, seed, status, error,
         traceback, fit_seconds, params_total, params_trained, peak_memory_mb,
         peak_gpu_memory_mb, synops, started_at, finished_at, duration_seconds, host,
         neurorec_version, model_spec JSON, task_spec JSON)
    results(run_key TEXT REFERENCES runs ON DELETE CASCADE, split, metric, value,
            higher_is_better, predict_seconds, PRIMARY KEY (run_key, split, metric))
    VIEW tidy: results joined with runs, one row per run x split x metric
    claims(run_key TEXT PRIMARY KEY, owner, host, pid, claimed_at, heartbeat)

The primary keys make a duplicate impossible, even when two processes finish the same run.
``claims`` is how several processes share one store (two ``neurorec compare`` on one results
folder, or one on each of several machines with the folder on a shared file system): a process
claims a run (:meth:`SQLiteStore.claim`) just before computing it, keeps its claims alive with
:meth:`SQLiteStore.heartbeat`, and its claim ends when the run is stored (in the same
transaction) or when it releases it. A claim whose owner stopped sending heartbeats for
``stale_after`` seconds, or whose owner was a process on this host that is gone, is stale: the
next process takes the run over. So each run is computed by one process at a time and stored
once, and a killed process's runs are resumed by the next one.

A store that cannot be used raises :class:`StoreError` (a ``RuntimeError``) naming the file,
what is wrong and what to do, never a raw ``sqlite3`` error: a damaged file or one that is not
a neurorec store (checked when it is opened, with SQLite's ``quick_check``, so that nothing is
computed for a store that cannot hold it), a store written by a newer neurorec, a read-only
file or folder when something must be written, a full disk (or a file-size or quota limit), a
lock held too long by another process. A store whose file or folder is not writable is opened
read-only (:attr:`SQLiteStore.read_only`): its results can be read, and
:func:`~neurorec.experiment.compare` refuses, before running anything, a grid with runs that are
not in it yet.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

__all__ = ["SQLiteStore", "MemoryStore", "StoreError", "claim_owner", "end_owner", "RUN_COLUMNS", "ROW_COLUMNS",
           "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

# (column, SQL type) of the per-run table, in order
RUN_COLUMNS = [
    ("run_key", "TEXT PRIMARY KEY NOT NULL"),
    ("model", "TEXT NOT NULL"),
    ("model_class", "TEXT"),
    ("task", "TEXT NOT NULL"),
    ("kind", "TEXT"),
    ("seed", "INTEGER NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("error", "TEXT"),
    ("traceback", "TEXT"),
    ("fit_seconds", "REAL"),
    ("params_total", "INTEGER"),
    ("params_trained", "INTEGER"),
    ("peak_memory_mb", "REAL"),
    ("peak_gpu_memory_mb", "REAL"),
    ("synops", "REAL"),
    ("started_at", "TEXT"),
    ("finished_at", "TEXT"),
    ("duration_seconds", "REAL"),
    ("host", "TEXT"),
    ("neurorec_version", "TEXT"),
    ("model_spec", "TEXT"),
    ("task_spec", "TEXT"),
]
# (column, SQL type) of the per-metric table, after run_key
ROW_COLUMNS = [
    ("split", "TEXT NOT NULL"),
    ("metric", "TEXT NOT NULL"),
    ("value", "REAL"),
    ("higher_is_better", "INTEGER"),
    ("predict_seconds", "REAL"),
]

_TIDY_RUN_COLUMNS = ["model", "task", "kind", "seed", "status", "error", "fit_seconds",
                     "params_total", "params_trained", "peak_memory_mb", "peak_gpu_memory_mb",
                     "synops", "model_class", "finished_at"]

_SEP = ",\n    "
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS runs (
    {_SEP.join(f"{c} {t}" for c, t in RUN_COLUMNS)}
);
CREATE TABLE IF NOT EXISTS results (
    run_key TEXT NOT NULL REFERENCES runs(run_key) ON DELETE CASCADE,
    {_SEP.join(f"{c} {t}" for c, t in ROW_COLUMNS)},
    PRIMARY KEY (run_key, split, metric)
);
CREATE INDEX IF NOT EXISTS runs_model_task ON runs (model, task, seed);
CREATE TABLE IF NOT EXISTS claims (
    run_key TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL,
    host TEXT,
    pid INTEGER,
    claimed_at TEXT,
    heartbeat REAL
);
CREATE VIEW IF NOT EXISTS tidy AS
    SELECT {", ".join("r." + c for c in _TIDY_RUN_COLUMNS[:4])}, x.split, x.metric, x.value,
           x.higher_is_better, {", ".join("r." + c for c in _TIDY_RUN_COLUMNS[4:])},
           x.predict_seconds, r.run_key
    FROM results x JOIN runs r USING (run_key);
"""


_SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(RuntimeError):
    """A result store that cannot be used: the message names the file, what is wrong and what to do.

    Attributes
    ----------
    path : str
        The store file.
    kind : str
        What is wrong. The store cannot be read: ``"corrupt"`` (a damaged file),
        ``"not-a-store"`` (another kind of file or database), ``"newer"`` (written by a newer
        neurorec), ``"unreadable"`` (no permission to read it, or a read error). The results
        cannot be written: ``"read-only"`` (the file or its folder is not writable, or the
        folder cannot be created), ``"full"`` (the disk is full, a file-size or quota limit was
        reached, or another write error of the device), ``"locked"`` (another process held the
        store's lock for longer than the timeout).
    """

    def __init__(self, message: str, *, path: str, kind: str):
        super().__init__(message)
        self.path = str(path)
        self.kind = kind


def _free_space(path: str) -> str:
    try:
        free = shutil.disk_usage(os.path.dirname(os.path.abspath(path)) or ".").free
    except OSError:
        return "free space unknown"
    for unit, size in (("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if free >= size:
            return f"{free / size:.1f} {unit} free on its device"
    return f"{free} bytes free on its device"


def _not_writable(path: Path) -> str:
    """Why SQLite cannot write ``path`` (an existing file, or one to create), or ``""``."""
    folder = path.parent
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is read-only"
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite creates its write-ahead log and shared-memory files beside the store
        return f"its folder {folder} is read-only"
    return ""


def _rollback(c: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any: after a disk error SQLite has already rolled back,
    and a second ROLLBACK would raise an error that hides the first."""
    if c.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            c.execute("ROLLBACK")


#: The claim owners of this process that are in use (several ``compare`` calls may run at once in
#: threads of one process): a claim of this process's pid by an owner not in here is left over from
#: an earlier process that had the same pid.
_LIVE_OWNERS: set[str] = set()


def claim_owner() -> str:
    """A new claim owner for this process, ``host:pid:random``, live until :func:`end_owner`."""
    import socket
    import uuid

    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    _LIVE_OWNERS.add(owner)
    return owner


def end_owner(owner: str) -> None:
    """``owner`` is done (its claims were released): a claim left by it is stale."""
    _LIVE_OWNERS.discard(owner)


def _owner_host_pid(owner: str) -> tuple[str, int | None]:
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return host, int(pid) if pid.isdigit() else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _claim_stale(held, now: float, stale_after: float) -> bool:
    """A claim (owner, host, pid, heartbeat) whose owner stopped sending heartbeats, or was a
    process of this host that is gone."""
    import socket

    owner, host, pid, beat = held
    if beat is None or now - float(beat) > stale_after:
        return True
    if host != socket.gethostname() or pid is None:
        return False
    if int(pid) == os.getpid():  # another compare of this process, or an earlier process with this pid
        return owner not in _LIVE_OWNERS
    return not _pid_alive(int(pid))


def _iso_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _sql_value(v):
    """NaN -> NULL; dicts/lists -> JSON text."""
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalar
        return _sql_value(v.item())
    return v


class SQLiteStore:
    """Results in an SQLite database file (created if missing).

    Parameters
    ----------
    path : str or Path
        The database file; ``":memory:"`` for a private in-memory database.
    timeout : float
        Seconds to wait for a lock held by another process (``busy_timeout``).
    read_only : bool
        Open an existing store for reading only, even where it could be written: nothing is
        written to it (no schema update, no journal-mode change), as ``neurorec report`` and
        ``neurorec compare --show`` read a store.

    Attributes
    ----------
    read_only : bool
        Whether the store was opened read-only because the file or its folder is not writable
        (SQLite's ``mode=ro``; ``immutable=1`` for a store in a read-only folder that has no
        pending write-ahead log). Reading works; :meth:`put` and :meth:`delete` raise
        :class:`StoreError`.
    read_only_reason : str
        Why (``"the file is read-only"``, ``"its folder ... is read-only"``), or ``""``.

    Raises
    ------
    StoreError
        The file is damaged or is not a neurorec store, was written by a newer neurorec, cannot
        be read, or (for a file that does not exist yet) cannot be created.
    """

    def __init__(self, path, timeout: float = 60.0, *, read_only: bool = False):
        self.path = str(path)
        self.timeout = float(timeout)
        self.read_only = False
        self.read_only_reason = ""
        self._lock = threading.Lock()
        memory = self.path == ":memory:"
        if read_only and (memory or not Path(self.path).is_file()):
            raise StoreError(f"cannot open the result store {self.path} read-only: there is no such file",
                             path=self.path, kind="unreadable")
        if not memory:
            self._check_file()
        if read_only and not self.read_only:
            self.read_only, self.read_only_reason = True, "opened for reading only"
        with self._guard("open"):
            if self.read_only:
                self._conn = self._connect_read_only()
            else:
                self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                             check_same_thread=False)
            try:
                self._init(memory, timeout)
            except BaseException:
                self._conn.close()
                raise

    def _check_file(self) -> None:
        """Before SQLite touches the file: a folder, an unreadable file, a file that is not an
        SQLite database, a read-only file or folder (-> open read-only)."""
        p = Path(self.path)
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of the result store {self.path}: "
                             f"{exc.strerror or exc}; create it, or write the results elsewhere",
                             path=self.path, kind="read-only") from None
        if p.exists():
            if not p.is_file():
                raise StoreError(f"the result store {self.path} is not a file; give the path of an "
                                 f"SQLite file (it is created if missing)", path=self.path,
                                 kind="not-a-store")
            try:
                with open(p, "rb") as f:
                    head = f.read(len(_SQLITE_HEADER))
            except OSError as exc:
                raise StoreError(f"cannot read the result store {self.path}: {exc.strerror or exc}; "
                                 f"make it readable (chmod u+r)", path=self.path,
                                 kind="unreadable") from None
            if head and head != _SQLITE_HEADER:
                raise self._corrupt("it does not start with SQLite's header, so it is another kind "
                                    "of file or its beginning was overwritten")
        reason = _not_writable(p)
        if reason and not p.exists():
            raise StoreError(f"cannot create the result store {self.path}: {reason}; make it "
                             f"writable, or write the results elsewhere", path=self.path,
                             kind="read-only")
        self.read_only = bool(reason)
        self.read_only_reason = reason

    def _connect_read_only(self) -> sqlite3.Connection:
        uri = "file:" + quote(os.path.abspath(self.path))
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            name = getattr(exc, "sqlite_errorname", "") or ""
            if not name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN")):
                raise
        # a store in WAL mode in a read-only folder: SQLite cannot create its shared-memory
        # file. Without a write-ahead log to merge, the file alone is the whole store.
        wal = Path(self.path + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StoreError(
                f"the result store {self.path} is in a read-only folder and has writes not yet "
                f"merged into it (in {wal}), which SQLite can only read with write access to the "
                f"folder: make the folder writable once and read it again, or copy "
                f"{os.path.basename(self.path)} with its -wal and -shm files to a writable folder",
                path=self.path, kind="read-only")
        return sqlite3.connect(uri + "?immutable=1", uri=True, isolation_level=None,
                               check_same_thread=False)

    def _init(self, memory: bool, timeout: float) -> None:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if not memory and not self.read_only:
            self._set_wal(timeout)
            c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer neurorec (store schema "
                             f"{version} > {SCHEMA_VERSION}); upgrade neurorec to read it.",
                             path=self.path, kind="newer")
        if not memory:
            check = c.execute("PRAGMA quick_check(1)").fetchone()[0]
            if check != "ok":
                check = " ".join(str(check).replace("*", " ").split())
                raise self._corrupt(f"SQLite's integrity check says: {check[:200]}")
        tables = {name: kind for name, kind in c.execute(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%'")}
        self._check_tables(tables)
        if self.read_only:
            if "runs" not in tables:
                raise StoreError(f"the result store {self.path} is read-only ({self.read_only_reason}) "
                                 f"and holds no results yet; make it writable, or write the results "
                                 f"elsewhere", path=self.path, kind="read-only")
            return
        with self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                # one statement at a time: executescript() would commit on its own
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        c.execute(stmt)
                c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                c.execute("COMMIT")
            except BaseException:
                _rollback(c)
                raise

    def _set_wal(self, timeout: float) -> None:
        """Switch the store to WAL mode. SQLite answers SQLITE_BUSY at once, without calling the
        busy handler, when another process is switching the same new file at that moment (two
        ``compare`` processes started together on a new store): retried, with a random pause,
        until ``timeout``. A store already in WAL mode is left as it is."""
        c = self._conn
        deadline = time.monotonic() + timeout
        while True:
            try:
                if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    c.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                name = getattr(exc, "sqlite_errorname", "") or ""
                if not name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    def _check_tables(self, tables: dict) -> None:
        """A database with other tables, or a ``runs``/``results`` table without the columns of a
        store, is not a neurorec store (and is not written to)."""
        c = self._conn
        if tables and not {"runs", "results"} & set(tables):
            raise StoreError(f"{self.path} is an SQLite database but not a neurorec result store "
                             f"(it holds {', '.join(sorted(tables))}); give a new file for the "
                             f"results", path=self.path, kind="not-a-store")
        for table, cols in (("runs", RUN_COLUMNS), ("results", [("run_key", "")] + ROW_COLUMNS)):
            if table not in tables:
                continue
            have = {r[1] for r in c.execute(f"PRAGMA table_info({table})")}
            missing = [name for name, _ in cols if name not in have]
            if missing:
                raise StoreError(f"{self.path} is an SQLite database but not a neurorec result "
                                 f"store (its table {table!r} has no column {', '.join(missing)}); "
                                 f"give a new file for the results", path=self.path,
                                 kind="not-a-store")

    def _corrupt(self, why: str) -> StoreError:
        name = os.path.basename(self.path)
        return StoreError(
            f"the result store {self.path} is damaged ({why}) and cannot be used: move it aside "
            f"(e.g. rename it to {name}.damaged) and run again to start a new store, whose runs "
            f"are then computed again (the sqlite3 command's .recover may save what it held)",
            path=self.path, kind="corrupt")

    def _translate(self, exc: sqlite3.Error, action: str, started: float) -> StoreError | None:
        """The :class:`StoreError` for an SQLite error of an ``action`` begun at ``started``
        (:func:`time.monotonic`); None for an error that is not the store's: a bug, re-raised as
        it is."""
        name = getattr(exc, "sqlite_errorname", "") or ""
        what = f"{exc} ({name})" if name else str(exc)
        if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
            return self._corrupt(what)
        if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
            if action == "read":
                return StoreError(f"cannot read the result store {self.path}: {what}; make it "
                                  f"readable", path=self.path, kind="unreadable")
            reason = self.read_only_reason or _not_writable(Path(self.path)) or what
            return StoreError(f"cannot write to the result store {self.path}: {reason} ({what}); "
                              f"make the file and its folder writable, or write the results "
                              f"elsewhere", path=self.path, kind="read-only")
        if name.startswith(("SQLITE_FULL", "SQLITE_IOERR")):
            if action == "read":
                return StoreError(f"cannot read the result store {self.path}: {what}, a read "
                                  f"error of its device", path=self.path, kind="unreadable")
            return StoreError(
                f"cannot write to the result store {self.path}: {what}: the disk holding it is "
                f"full, a file-size or quota limit was reached, or the device failed "
                f"({_free_space(self.path)}). The runs stored before are kept: free some space "
                f"and run the same command to resume", path=self.path, kind="full")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            waited = time.monotonic() - started
            how = (f"stayed locked by another process for more than {self.timeout:g} s"
                   if waited >= 0.9 * self.timeout else
                   f"was locked by another process (after {waited:.2g} s)")
            return StoreError(f"the result store {self.path} {how} ({what}); wait for it to "
                              f"finish, or use another store", path=self.path, kind="locked")
        return None

    @contextlib.contextmanager
    def _guard(self, action: str):
        """Turn an SQLite error of ``action`` ("open", "read", "write") into a StoreError."""
        started = time.monotonic()
        try:
            yield
        except sqlite3.Error as exc:
            err = self._translate(exc, action, started)
            if err is None:
                raise
            raise err from exc

    def _refuse_write(self, what: str) -> None:
        if self.read_only:
            raise StoreError(f"cannot {what} the result store {self.path}: it is read-only "
                             f"({self.read_only_reason}); make it writable, or write the results "
                             f"elsewhere", path=self.path, kind="read-only")

    # -- reading ---------------------------------------------------------------------------
    def status(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{run_key: status}`` of the stored runs (only ``keys`` if given)."""
        with self._guard("read"), self._lock:
            cur = self._conn.execute("SELECT run_key, status FROM runs")
            found = dict(cur.fetchall())
        if keys is None:
            return found
        return {k: found[k] for k in keys if k in found}

    def __contains__(self, run_key: str) -> bool:
        with self._guard("read"), self._lock:
            cur = self._conn.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,))
            return cur.fetchone() is not None

    def __len__(self) -> int:
        with self._guard("read"), self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def runs(self, keys: Iterable[str] | None = None) -> list[dict]:
        """Stored runs, each a dict of the ``runs`` columns plus ``rows`` (its metric rows).

        With ``keys``, only those runs, in the order of ``keys`` (keys not stored are left out),
        read by key: a few keys of a large store are cheap.
        """
        run_cols = [c for c, _ in RUN_COLUMNS]
        row_cols = [c for c, _ in ROW_COLUMNS]
        if keys is not None:
            keys = list(keys)
            unique = list(dict.fromkeys(keys))
        run_sql = f"SELECT {', '.join(run_cols)} FROM runs"
        row_sql = f"SELECT run_key, {', '.join(row_cols)} FROM results"
        with self._guard("read"), self._lock:
            if keys is None:
                runs_found = self._conn.execute(run_sql + " ORDER BY rowid").fetchall()
                rows = self._conn.execute(row_sql + " ORDER BY rowid").fetchall()
            else:
                runs_found, rows = [], []
                for i in range(0, len(unique), 500):
                    chunk = unique[i:i + 500]
                    where = f" WHERE run_key IN ({', '.join('?' * len(chunk))}) ORDER BY rowid"
                    runs_found += self._conn.execute(run_sql + where, chunk).fetchall()
                    rows += self._conn.execute(row_sql + where, chunk).fetchall()
        runs = {r[0]: dict(zip(run_cols, r, strict=True)) for r in runs_found}
        for run in runs.values():
            run["rows"] = []
        for r in rows:
            row = dict(zip(row_cols, r[1:], strict=True))
            row["higher_is_better"] = bool(row["higher_is_better"])
            if r[0] in runs:
                runs[r[0]]["rows"].append(row)
        if keys is None:
            return list(runs.values())
        return [runs[k] for k in keys if k in runs]

    def to_dataframe(self):
        """Every stored row as a tidy DataFrame (the columns of :func:`compare`'s result)."""
        from neurorec.experiment.compare import runs_to_frame

        return runs_to_frame(self.runs())

    # -- writing ---------------------------------------------------------------------------
    def put(self, run: dict, *, replace: str = "error") -> bool:
        """Write one run and its rows in one transaction.

        Parameters
        ----------
        run : dict
            The run fields (see :data:`RUN_COLUMNS`) and ``rows``, a list of dicts with the
            :data:`ROW_COLUMNS` fields.
        replace : {"error", "always", "never"}
            What to do when the key is already stored: replace a stored run only if it
            errored (the default: a resumed grid retries failed runs), always, or never.

        Returns
        -------
        bool
            Whether the run was written (False: an existing run was kept).

        Raises
        ------
        StoreError
            The store is read-only, the disk is full, the file is damaged, or another process
            held the lock for longer than ``timeout``. Nothing of the run is written then, and
            the runs stored before are kept.
        """
        if replace not in ("error", "always", "never"):
            raise ValueError(f"replace must be 'error', 'always' or 'never', got {replace!r}")
        self._refuse_write("write to")
        run_cols = [c for c, _ in RUN_COLUMNS]
        row_cols = [c for c, _ in ROW_COLUMNS]
        run_vals = [_sql_value(run.get(c)) for c in run_cols]
        row_vals = [[run["run_key"]] + [_sql_value(r.get(c)) for c in row_cols]
                    for r in run.get("rows", [])]
        c = self._conn
        with self._guard("write"), self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                old = c.execute("SELECT status FROM runs WHERE run_key = ?",
                                (run["run_key"],)).fetchone()
                if old is not None:
                    if replace == "never" or (replace == "error" and old[0] != "error"):
                        _rollback(c)
                        return False
                    c.execute("DELETE FROM results WHERE run_key = ?", (run["run_key"],))
                    c.execute("DELETE FROM runs WHERE run_key = ?", (run["run_key"],))
                c.execute(f"INSERT INTO runs ({', '.join(run_cols)}) "
                          f"VALUES ({', '.join('?' * len(run_cols))})", run_vals)
                if row_vals:
                    c.executemany(f"INSERT INTO results (run_key, {', '.join(row_cols)}) "
                                  f"VALUES ({', '.join('?' * (len(row_cols) + 1))})", row_vals)
                c.execute("DELETE FROM claims WHERE run_key = ?", (run["run_key"],))
                c.execute("COMMIT")
            except BaseException:
                _rollback(c)
                raise
        return True

    def delete(self, keys: Iterable[str]) -> int:
        """Remove runs (and their rows); returns how many were removed."""
        keys = list(keys)
        self._refuse_write("delete from")
        c = self._conn
        with self._guard("write"), self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("DELETE FROM results WHERE run_key = ?", [(k,) for k in keys])
                n = sum(c.execute("DELETE FROM runs WHERE run_key = ?", (k,)).rowcount
                        for k in keys)
                c.execute("COMMIT")
            except BaseException:
                _rollback(c)
                raise
        return n

    # -- claims (several processes on one store) -----------------------------------------------
    def claim(self, key: str, owner: str, *, done=("ok",), since: str | None = None,
              stale_after: float = 60.0) -> str:
        """Claim the run ``key`` for ``owner`` before computing it.

        Parameters
        ----------
        key : str
            The run key.
        owner : str
            Who claims it: :func:`claim_owner` (``host:pid:random``).
        done : tuple of str
            Stored statuses that mean the run needs no computing (``("ok",)``, or ``("ok",
            "error")`` when errors are not retried).
        since : str, optional
            An ISO time: a run stored at or after it is done whatever its status (a caller that
            recomputes everything counts what another process stored meanwhile as done).
        stale_after : float
            Seconds without a heartbeat after which another owner's claim is stale.

        Returns
        -------
        str
            ``"claimed"`` (compute it), ``"stored"`` (it is stored already: read it), or
            ``"held"`` (another live process is computing it: wait for it).
        """
        import time

        self._refuse_write("claim runs in")
        host, pid = _owner_host_pid(owner)
        c = self._conn
        with self._guard("write"), self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                row = c.execute("SELECT status, finished_at FROM runs WHERE run_key = ?", (key,)).fetchone()
                if row is not None and (row[0] in done or (since is not None and str(row[1] or "") >= since)):
                    _rollback(c)
                    return "stored"
                held = c.execute("SELECT owner, host, pid, heartbeat FROM claims WHERE run_key = ?",
                                 (key,)).fetchone()
                now = time.time()
                if held is not None and held[0] != owner and not _claim_stale(held, now, stale_after):
                    _rollback(c)
                    return "held"
                c.execute("INSERT OR REPLACE INTO claims (run_key, owner, host, pid, claimed_at, heartbeat) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (key, owner, host, pid, _iso_now(), now))
                c.execute("COMMIT")
            except BaseException:
                _rollback(c)
                raise
        return "claimed"

    def heartbeat(self, owner: str) -> int:
        """Mark ``owner``'s claims alive now; returns how many it holds."""
        import time

        if self.read_only:
            return 0
        c = self._conn
        with self._guard("write"), self._lock:
            return c.execute("UPDATE claims SET heartbeat = ? WHERE owner = ?", (time.time(), owner)).rowcount

    def release(self, owner: str, keys: Iterable[str] | None = None) -> int:
        """Drop ``owner``'s claims (only on ``keys`` if given); returns how many were dropped."""
        if self.read_only:
            return 0
        c = self._conn
        with self._guard("write"), self._lock:
            if keys is None:
                return c.execute("DELETE FROM claims WHERE owner = ?", (owner,)).rowcount
            return sum(c.execute("DELETE FROM claims WHERE owner = ? AND run_key = ?", (owner, k)).rowcount
                       for k in keys)

    def claims(self) -> dict[str, dict]:
        """``{run_key: {"owner", "host", "pid", "claimed_at", "heartbeat"}}`` of the current claims."""
        with self._guard("read"), self._lock:
            try:
                rows = self._conn.execute("SELECT run_key, owner, host, pid, claimed_at, heartbeat "
                                          "FROM claims").fetchall()
            except sqlite3.OperationalError:  # a read-only store written before claims existed
                return {}
        return {r[0]: dict(zip(("owner", "host", "pid", "claimed_at", "heartbeat"), r[1:], strict=True))
                for r in rows}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class MemoryStore(SQLiteStore):
    """A store that lives in memory for the life of the object (nothing survives a crash)."""

    def __init__(self):
        super().__init__(":memory:")

    def __repr__(self) -> str:
        return "MemoryStore()"
