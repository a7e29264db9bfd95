"""Executors: where the runs of a grid are computed.

Each executor takes the job dicts made by :func:`~neurorec.experiment.runner.make_job`
and yields results as runs finish; the caller (the parent process) writes each result to
the store as soon as it arrives. All executors call the same top-level
:func:`~neurorec.experiment.runner.run_one`.

* ``"local"`` with ``n_jobs=1``: in this process, one run after the other.
* ``"local"`` with ``n_jobs>1``: a :class:`concurrent.futures.ProcessPoolExecutor` whose
  workers are started with the ``spawn`` method (safe with threads, CUDA and macOS).
* ``"dask"``: ``dask.distributed.Client(scheduler).submit`` (a local cluster when no
  scheduler address is given). Install with ``pip install "neurorec[dask]"``.
* any :class:`concurrent.futures.Executor` instance: its ``submit``.
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, as_completed

from neurorec.experiment.runner import SPLITS, _now, run_one

__all__ = ["iter_results", "import_dask", "failed_result"]

DASK_HINT = 'executor="dask" needs dask.distributed; install it with: pip install "neurorec[dask]"'


def import_dask():
    """``dask.distributed``, or an ImportError with the install hint."""
    try:
        import dask.distributed as dd
    except ImportError as exc:
        raise ImportError(f"{DASK_HINT} ({exc})") from exc
    return dd


def failed_result(job: dict, exc: BaseException) -> dict:
    """The result of a run whose worker failed outside :func:`run_one` (a dead process)."""
    t = job["task"]
    now = _now()
    return {
        "run_key": job["run_key"], "model": job["model"]["name"],
        "model_class": getattr(job["model"]["cls"], "__qualname__", str(job["model"]["cls"])),
        "task": t["name"], "kind": t["kind"], "seed": int(job["seed"]),
        "status": "error", "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
        "fit_seconds": math.nan, "params_total": math.nan, "params_trained": math.nan,
        "peak_memory_mb": math.nan, "peak_gpu_memory_mb": math.nan, "synops": math.nan,
        "started_at": now, "finished_at": now, "duration_seconds": math.nan, "host": "",
        "rows": [{"split": s, "metric": t["metric"], "higher_is_better": t["higher_is_better"],
                  "value": math.nan, "predict_seconds": math.nan} for s in SPLITS],
    }


def _n_workers(n_jobs: int, n_tasks: int) -> int:
    if n_jobs is None or n_jobs == 0:
        n_jobs = 1
    if n_jobs < 0:
        n_jobs = max((os.cpu_count() or 1) + 1 + n_jobs, 1)
    return max(min(int(n_jobs), n_tasks), 1)


def _drain(futures: dict, cancel: Callable[[], None], wait) -> Iterator[dict]:
    try:
        for fut in wait(list(futures)):
            job = futures[fut]
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died; record and go on
                result = failed_result(job, exc)
                # a broken pool raises one exception object for every pending future: each raise
                # would append its frames to the same traceback, so each result starts afresh
                exc.__traceback__ = None
                yield result
    finally:
        cancel()


def iter_results(jobs: list[dict], *, n_jobs: int = 1, executor="local", scheduler=None,
                 on_start: Callable[[dict], None] | None = None) -> Iterator[dict]:
    """Run ``jobs`` and yield each result as soon as it is available (in completion order)."""
    if not jobs:
        return
    if isinstance(executor, Executor):
        futures = {executor.submit(run_one, job): job for job in jobs}
        yield from _drain(futures, lambda: [f.cancel() for f in futures], as_completed)
        return
    if executor == "dask":
        yield from _iter_dask(jobs, scheduler)
        return
    if executor != "local":
        raise ValueError(f"executor must be 'local', 'dask' or a concurrent.futures.Executor, "
                         f"got {executor!r}")
    workers = _n_workers(n_jobs, len(jobs))
    if workers == 1:
        for job in jobs:
            if on_start is not None:
                on_start(job)
            yield run_one(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {pool.submit(run_one, job): job for job in jobs}
        yield from _drain(futures, lambda: [f.cancel() for f in futures], as_completed)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _iter_dask(jobs: list[dict], scheduler) -> Iterator[dict]:
    dd = import_dask()
    own = not isinstance(scheduler, dd.Client)
    client = dd.Client(scheduler) if own else scheduler
    try:
        futures = {client.submit(run_one, job, pure=False, key=f"neurorec-run-{job['run_key']}"): job
                   for job in jobs}
        yield from _drain(futures, lambda: client.cancel(list(futures)), dd.as_completed)
    finally:
        if own:
            client.close()
