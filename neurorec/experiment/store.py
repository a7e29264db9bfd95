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

The primary keys make a duplicate impossible, even when two processes finish the same run.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

__all__ = ["SQLiteStore", "MemoryStore", "RUN_COLUMNS", "ROW_COLUMNS", "SCHEMA_VERSION"]

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
CREATE VIEW IF NOT EXISTS tidy AS
    SELECT {", ".join("r." + c for c in _TIDY_RUN_COLUMNS[:4])}, x.split, x.metric, x.value,
           x.higher_is_better, {", ".join("r." + c for c in _TIDY_RUN_COLUMNS[4:])},
           x.predict_seconds, r.run_key
    FROM results x JOIN runs r USING (run_key);
"""


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
    """

    def __init__(self, path, timeout: float = 60.0):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                     check_same_thread=False)
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        if self.path != ":memory:":
            c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")
        c.execute("PRAGMA foreign_keys = ON")
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer neurorec (store schema "
                               f"{version} > {SCHEMA_VERSION}); upgrade neurorec to read it.")
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
                c.execute("ROLLBACK")
                raise

    # -- reading ---------------------------------------------------------------------------
    def status(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """``{run_key: status}`` of the stored runs (only ``keys`` if given)."""
        with self._lock:
            cur = self._conn.execute("SELECT run_key, status FROM runs")
            found = dict(cur.fetchall())
        if keys is None:
            return found
        return {k: found[k] for k in keys if k in found}

    def __contains__(self, run_key: str) -> bool:
        with self._lock:
            cur = self._conn.execute("SELECT 1 FROM runs WHERE run_key = ?", (run_key,))
            return cur.fetchone() is not None

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]

    def runs(self, keys: Iterable[str] | None = None) -> list[dict]:
        """Stored runs, each a dict of the ``runs`` columns plus ``rows`` (its metric rows)."""
        run_cols = [c for c, _ in RUN_COLUMNS]
        row_cols = [c for c, _ in ROW_COLUMNS]
        with self._lock:
            cur = self._conn.execute(f"SELECT {', '.join(run_cols)} FROM runs ORDER BY rowid")
            runs = {r[0]: dict(zip(run_cols, r, strict=True)) for r in cur.fetchall()}
            cur = self._conn.execute(
                f"SELECT run_key, {', '.join(row_cols)} FROM results ORDER BY rowid")
            rows = cur.fetchall()
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
        """
        if replace not in ("error", "always", "never"):
            raise ValueError(f"replace must be 'error', 'always' or 'never', got {replace!r}")
        run_cols = [c for c, _ in RUN_COLUMNS]
        row_cols = [c for c, _ in ROW_COLUMNS]
        run_vals = [_sql_value(run.get(c)) for c in run_cols]
        row_vals = [[run["run_key"]] + [_sql_value(r.get(c)) for c in row_cols]
                    for r in run.get("rows", [])]
        c = self._conn
        with self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                old = c.execute("SELECT status FROM runs WHERE run_key = ?",
                                (run["run_key"],)).fetchone()
                if old is not None:
                    if replace == "never" or (replace == "error" and old[0] != "error"):
                        c.execute("ROLLBACK")
                        return False
                    c.execute("DELETE FROM results WHERE run_key = ?", (run["run_key"],))
                    c.execute("DELETE FROM runs WHERE run_key = ?", (run["run_key"],))
                c.execute(f"INSERT INTO runs ({', '.join(run_cols)}) "
                          f"VALUES ({', '.join('?' * len(run_cols))})", run_vals)
                if row_vals:
                    c.executemany(f"INSERT INTO results (run_key, {', '.join(row_cols)}) "
                                  f"VALUES ({', '.join('?' * (len(row_cols) + 1))})", row_vals)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return True

    def delete(self, keys: Iterable[str]) -> int:
        """Remove runs (and their rows); returns how many were removed."""
        keys = list(keys)
        c = self._conn
        with self._lock:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.executemany("DELETE FROM results WHERE run_key = ?", [(k,) for k in keys])
                n = sum(c.execute("DELETE FROM runs WHERE run_key = ?", (k,)).rowcount
                        for k in keys)
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        return n

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
