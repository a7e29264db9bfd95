"""Executors: where the runs of a grid are computed.

Each executor takes the job dicts made by :func:`~neurorec.experiment.runner.make_job`
and yields results as runs finish; the caller (the parent process) writes each result to
the store as soon as it arrives. All executors call the same top-level
:func:`~neurorec.experiment.runner.run_one`.

* ``"local"`` with ``n_jobs=1``: in this process, one run after the other.
* ``"local"`` with ``n_jobs>1``: a :class:`concurrent.futures.ProcessPoolExecutor` whose
  workers are started with the ``spawn`` method (safe with threads, CUDA and macOS). The
  workers die with the process that started them, even when it is killed with ``SIGKILL``
  (see :func:`_die_with_parent`), so that no worker computes on, or holds the caller's
  terminal or pipes open, for a parent that is gone; multiprocessing's resource tracker then
  exits too, as its last user is gone.
* ``"dask"``: ``dask.distributed.Client(scheduler).submit`` (a local cluster when no
  scheduler address is given). Install with ``pip install "neurorec[dask]"``.
* any :class:`concurrent.futures.Executor` instance: its ``submit``.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
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


#: Exit status of a pool worker that found its parent gone.
PARENT_GONE_EXIT = 70


def _parent_gone(parent_pid: int, parent) -> bool:
    if parent is not None and not parent.is_alive():
        return True
    # POSIX re-parents an orphan (to init or a subreaper): its parent's pid changes
    return os.name == "posix" and os.getppid() != parent_pid


def _watch_parent(parent_pid: int, interval: float) -> None:
    import multiprocessing

    parent = multiprocessing.parent_process()  # None outside a multiprocessing child
    while True:
        if parent is not None:
            parent.join(interval)  # returns as soon as the parent is gone
        else:
            time.sleep(interval)
        if _parent_gone(parent_pid, parent):
            os._exit(PARENT_GONE_EXIT)


def _die_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Make this process (a pool worker) end when its parent ``parent_pid`` ends.

    The initializer of the local pool's workers. Two mechanisms:

    * on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment the
      parent thread that started it ends, however it ends (``SIGKILL`` included);
    * everywhere, a daemon thread (``neurorec-parent-watch``) that waits on multiprocessing's
      parent sentinel (the pipe or handle that becomes ready when the parent is gone) and, on
      POSIX, checks that ``os.getppid()`` is still ``parent_pid`` every ``interval`` seconds;
      when the parent is gone it ends the worker with ``os._exit(PARENT_GONE_EXIT)``.

    A parent that died before this ran is caught by the same checks, at once. The local pool is
    created and used by one thread (the one iterating :func:`iter_results`), which is the thread
    ``PR_SET_PDEATHSIG`` watches.
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except Exception:  # noqa: BLE001 - no prctl (another libc): the watch thread remains
            pass
    import multiprocessing

    if _parent_gone(parent_pid, multiprocessing.parent_process()):
        os._exit(PARENT_GONE_EXIT)
    threading.Thread(target=_watch_parent, args=(parent_pid, interval), name="neurorec-parent-watch",
                     daemon=True).start()


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

    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))
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
