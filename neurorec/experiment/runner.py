"""One run of the grid: (model, task, seed) -> result rows.

:func:`run_one` is a top-level function taking a plain, picklable job dict, so every executor
(in-process, a process pool, Dask) calls the same code. It never raises: an exception in the
run is returned as a result with ``status="error"``, the message and the traceback.
"""

from __future__ import annotations

import inspect
import math
import socket
import sys
import time
import traceback
import tracemalloc
import warnings
from datetime import UTC, datetime
from typing import Any

from neurorec.experiment.specs import build_model

__all__ = ["run_one", "make_job", "SPLITS", "OPS_PREFIX"]

SPLITS = ("val", "test")
_MB = 1024.0 * 1024.0


def make_job(run_key: str, model_spec, task_spec, seed: int, *, track_memory: bool = True,
             threads: int | None = None, count_operations: bool = False) -> dict:
    """The plain description of one run handed to :func:`run_one`."""
    return {
        "count_operations": bool(count_operations),
        "run_key": run_key,
        "model": model_spec.payload(task_spec.name),
        "task": {"name": task_spec.name, "task": task_spec.task, "kind": task_spec.kind,
                 "metric": task_spec.metric, "higher_is_better": task_spec.higher_is_better},
        "seed": int(seed),
        "track_memory": bool(track_memory),
        "threads": None if threads is None else int(threads),
    }


class _Threads:
    """Pin torch's and the BLAS libraries' thread pools for one run, then restore them."""

    def __init__(self, n: int | None):
        self.n = n

    def __enter__(self):
        if self.n is None:
            return self
        from threadpoolctl import threadpool_limits

        self._torch = sys.modules.get("torch")
        if self._torch is None:
            try:
                import torch as _torch_mod
                self._torch = _torch_mod
            except ImportError:
                self._torch = None
        if self._torch is not None:    # read before threadpoolctl limits the OpenMP pool torch uses
            self._torch_before = self._torch.get_num_threads()
        self._blas = threadpool_limits(limits=self.n)
        if self._torch is not None:
            self._torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc):
        if self.n is None:
            return
        self._blas.restore_original_limits()
        if self._torch is not None:
            self._torch.set_num_threads(self._torch_before)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _torch_cuda():
    """``torch.cuda`` if torch is already imported and CUDA is initialised, else None."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        cuda = torch.cuda
        return cuda if cuda.is_available() and cuda.is_initialized() else None
    except Exception:  # noqa: BLE001
        return None


class _MemoryMeter:
    """Peak host memory (tracemalloc) and CUDA memory (torch) above a baseline.

    tracemalloc sees allocations made through Python's allocators, which includes numpy
    arrays; torch CPU tensors are not seen. CUDA memory is read from
    ``torch.cuda.max_memory_allocated`` when torch has initialised CUDA.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.started = False
        self.base = 0
        self.peak_mb = math.nan
        self.gpu_peak_mb = math.nan
        self._gpu_base = 0

    def __enter__(self):
        if self.enabled:
            if not tracemalloc.is_tracing():
                tracemalloc.start()
                self.started = True
        return self

    def reset(self):
        """Start measuring from here (after the data are loaded)."""
        if self.enabled:
            tracemalloc.reset_peak()
            self.base = tracemalloc.get_traced_memory()[0]
        cuda = _torch_cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()
            self._gpu_base = cuda.memory_allocated()

    def read(self):
        if self.enabled and tracemalloc.is_tracing():
            peak = tracemalloc.get_traced_memory()[1]
            self.peak_mb = max(peak - self.base, 0) / _MB
        cuda = _torch_cuda()
        if cuda is not None:
            self.gpu_peak_mb = max(cuda.max_memory_allocated() - self._gpu_base, 0) / _MB

    def __exit__(self, *exc):
        if self.started:
            tracemalloc.stop()
        return False


def _n_parameters(model) -> tuple[float, float]:
    try:
        n = model.n_parameters_
        return int(n["total"]), int(n["trained"])
    except Exception:  # noqa: BLE001 - a model without a parameter count
        return math.nan, math.nan


def _synops(model) -> float:
    value = getattr(model, "synops_", None)
    if value is None:
        return math.nan
    if isinstance(value, dict):
        value = value.get("total", math.nan)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


#: Prefix of the metric rows holding operation counts per test inference (``ops_synops``, ...).
OPS_PREFIX = "ops_"


def _operation_rows(model, X) -> list[dict]:
    """Rows ``ops_<count>`` (split "test") with the operations per inference of the test split,
    counted by :func:`neurorec.hardware.operations.count_operations` from the prediction just made
    (``run=False``: the spiking models' ``synops_`` of that prediction). A model whose operations
    are not modelled (or any failure of the count) gives no rows: the run itself stays ok."""
    try:
        from neurorec.hardware.operations import COUNT_KEYS, count_operations

        counts = count_operations(model, X, run=False)
    except Exception:  # noqa: BLE001 - no operation model for this model: no energy, the run is fine
        return []
    return [{"split": "test", "metric": f"{OPS_PREFIX}{k}", "higher_is_better": False,
             "value": float(counts[k]), "predict_seconds": math.nan} for k in COUNT_KEYS]


def _takes_validation(model) -> bool:
    try:
        params = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return False
    return "X_val" in params and "y_val" in params


def run_one(job: dict) -> dict:
    """Run one (model, task, seed): load, fit on train, predict and score val then test.

    Returns a dict with the run-level fields (``run_key``, ``model``, ``task``, ``seed``,
    ``status``, ``error``, ``traceback``, timings, memory, parameter counts, synops,
    ``warnings``: the distinct warnings the run raised, as ``"Category: message"``) and
    ``rows``: one dict per split with ``split``, ``metric``, ``value``,
    ``predict_seconds``. With ``job["count_operations"]``, the operations per inference of the
    test split follow as rows ``ops_<count>`` (see :func:`_operation_rows`), counted after the
    timed and memory-traced part.
    """
    m, t, seed = job["model"], job["task"], int(job["seed"])
    task = t["task"]
    started = _now()
    wall0 = time.perf_counter()
    out: dict[str, Any] = {
        "run_key": job["run_key"], "model": m["name"], "model_class": _cls_path(m["cls"]),
        "task": t["name"], "kind": t["kind"], "seed": seed,
        "status": "ok", "error": "", "traceback": "",
        "fit_seconds": math.nan, "params_total": math.nan, "params_trained": math.nan,
        "peak_memory_mb": math.nan, "peak_gpu_memory_mb": math.nan, "synops": math.nan,
        "started_at": started, "finished_at": "", "duration_seconds": math.nan,
        "host": socket.gethostname(),
    }
    rows = {s: {"split": s, "metric": t["metric"], "higher_is_better": t["higher_is_better"],
                "value": math.nan, "predict_seconds": math.nan} for s in SPLITS}
    meter = _MemoryMeter(job.get("track_memory", True))
    ops_rows: list[dict] = []
    extra_rows: list[dict] = []
    caught: list = []
    try:
        # the run's warnings are kept with its result (``warnings``: one line per distinct warning),
        # not printed in the middle of a progress bar: compare reports them once, at the end
        with warnings.catch_warnings(record=True) as caught, _Threads(job.get("threads")), meter:
            model = build_model(m["cls"], m["params"], m["overrides"], seed)
            data = task.load(seed)
            meter.reset()
            try:
                t0 = time.perf_counter()
                if _takes_validation(model) and data.val is not None:
                    # gradient-trained models early-stop on the task's own validation split
                    model.fit(data.train.X, data.train.y, X_val=data.val.X, y_val=data.val.y)
                else:
                    model.fit(data.train.X, data.train.y)
                out["fit_seconds"] = time.perf_counter() - t0
                # the test split is touched once, last
                for split in SPLITS:
                    part = getattr(data, split, None)
                    if part is None:
                        rows.pop(split)
                        continue
                    t0 = time.perf_counter()
                    # a detector's answer is its anomaly score per point, which the metrics rank
                    y_pred = model.anomaly_score(part.X) if t["kind"] == "detect" else model.predict(part.X)
                    rows[split]["predict_seconds"] = time.perf_counter() - t0
                    rows[split]["value"] = float(task.score(part, y_pred))
                    if t["kind"] == "detect":
                        extra_rows += _detect_rows(task, part, y_pred, rows[split])
            finally:
                meter.read()
        out["params_total"], out["params_trained"] = _n_parameters(model)
        out["synops"] = _synops(model)
        test = getattr(data, "test", None)
        if job.get("count_operations") and test is not None and "test" in rows:
            ops_rows = _operation_rows(model, test.X)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the grid goes on
        out["status"] = "error"
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out["warnings"] = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught or ()))
    out["peak_memory_mb"] = meter.peak_mb
    out["peak_gpu_memory_mb"] = meter.gpu_peak_mb
    out["finished_at"] = _now()
    out["duration_seconds"] = time.perf_counter() - wall0
    if out["status"] != "ok" and t["kind"] == "detect":
        # a failed detector shows as failed in every metric's row of the table, not as a blank
        extra_rows = [{**r, "metric": name, "value": math.nan} for r in rows.values()
                      for name in _other_detect_metrics(t["metric"])]
    out["rows"] = list(rows.values()) + extra_rows + (ops_rows if out["status"] == "ok" else [])
    return out


def _other_detect_metrics(metric: str) -> list[str]:
    from neurorec.metrics import DETECT_METRICS

    return [m for m in DETECT_METRICS if m != metric]


def _detect_rows(task, part, scores, row: dict) -> list[dict]:
    """The other detection metrics of a detect task's split (the task's own metric is ``row``)."""
    from neurorec.data.task import _detect_part
    from neurorec.metrics import get_metric

    labels, s = _detect_part(part.y, scores, int(part.skip))
    out = []
    for name in _other_detect_metrics(row["metric"]):
        m = get_metric(name)
        out.append({**row, "metric": name, "higher_is_better": m.higher_is_better, "value": float(m(labels, s))})
    return out


def _cls_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}" if isinstance(cls, type) else str(cls)
