"""Executors: where the runs of a grid are computed.

Each executor takes the job dicts made by :func:`~neurorec.experiment.runner.make_job`
and yields results as runs finish; the caller (the parent process) writes each result to
the store as soon as it arrives. All executors call the same top-level
:func:`~neurorec.experiment.runner.run_one`.

* ``"local"`` with ``n_jobs=1``: in this process, one run after the other.
* ``"local"`` with ``n_jobs>1``: a :class:`concurrent.futures.ProcessPoolExecutor` whose
  workers are started with the ``spawn`` method (safe with threads, CUDA and macOS). A worker
  that dies (killed, out of memory) breaks the pool: a new one takes over, and the runs that
  were in the broken pool are tried once more there (a run that breaks it twice is an error). The
  workers die with the process that started them, even when it is killed with ``SIGKILL``
  (see :func:`_die_with_parent`), so that no worker computes on, or holds the caller's
  terminal or pipes open, for a parent that is gone; multiprocessing's resource tracker then
  exits too, as its last user is gone.
* ``"dask"``: a :mod:`dask.distributed` cluster: a :class:`~dask.distributed.LocalCluster` of
  ``n_jobs`` worker *processes* (one thread each) when no scheduler is given, or the scheduler
  at ``scheduler`` (``"tcp://host:8786"``, or a ``Client``). Install with
  ``pip install "neurorec[dask]"``.
* ``"slurm"``: a Dask cluster whose workers are SLURM jobs (:class:`dask_jobqueue.SLURMCluster`),
  configured by the ``slurm`` options (partition, cores, memory, walltime, jobs, ...; see
  :data:`SLURM_OPTIONS`).
* any :class:`concurrent.futures.Executor` instance: its ``submit``.

Runs are submitted a few at a time (at most twice the workers' threads in flight), each only
after the ``claim`` callback agreed, so that several processes sharing one result store each
take the runs nobody else is computing. A Dask worker that dies in a run (killed, out of
memory) does not lose it: the scheduler runs it again on another worker, up to Dask's
``distributed.scheduler.allowed-failures`` times (3 by default; set it with ``dask.config``
or in the Dask config file); a run that kills every worker it touches then ends as an error
result (``KilledWorker``), and the grid goes on. Results reach the caller (the parent process),
which alone writes the store.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Executor

from neurorec.experiment.runner import SPLITS, _now, run_one

logger = logging.getLogger("neurorec.experiment")

__all__ = ["iter_results", "import_dask", "failed_result", "dask_client", "ExecutorError", "EXECUTORS",
           "SLURM_OPTIONS", "check_slurm_options"]

DASK_HINT = 'executor="dask" needs dask.distributed; install it with: pip install "neurorec[dask]"'
SLURM_HINT = 'executor="slurm" needs dask-jobqueue; install it with: pip install "neurorec[dask]"'

#: The executor names :func:`iter_results` and :func:`~neurorec.experiment.compare` accept.
EXECUTORS = ("local", "dask", "slurm")

#: The ``slurm`` options (the ``[slurm]`` table of a config) and what each sets. Unknown keys
#: are refused; values go to :class:`dask_jobqueue.SLURMCluster` as named.
SLURM_OPTIONS = {
    "partition": "SLURM partition (sbatch -p); default: the cluster's default partition",
    "jobs": "SLURM jobs to start (each holds `processes` Dask workers); default 1",
    "cores": "CPU cores per job (sbatch --cpus-per-task); default 1",
    "processes": "Dask worker processes per job, sharing its cores; default: one per core",
    "memory": 'memory per job, e.g. "4GB" (sbatch --mem); default "2GB"',
    "walltime": 'time limit per job, "HH:MM:SS" (sbatch -t); default "01:00:00"',
    "account": "SLURM account to charge (sbatch -A)",
    "qos": "SLURM quality of service (sbatch --qos)",
    "job_extra_directives": 'more #SBATCH lines, e.g. ["--exclusive"]',
    "job_script_prologue": 'shell lines run before the worker starts, e.g. ["module load python"]',
    "python": "the worker's Python (default: this Python, sys.executable)",
    "interface": 'network interface the workers and scheduler use, e.g. "ib0"',
    "local_directory": "the workers' scratch folder",
    "log_directory": "where SLURM writes the jobs' output (neurorec compare: OUT/slurm-logs; compare(): not kept)",
    "start_timeout": "seconds to wait for the first worker to start (default 300)",
}


class ExecutorError(RuntimeError):
    """An executor that cannot be used (an unreachable scheduler, no SLURM, a bad partition):
    the message is one line that says what to fix. Raised before any run starts."""


def import_dask():
    """``dask.distributed``, or an ImportError with the install hint."""
    try:
        import dask.distributed as dd
    except ImportError as exc:
        raise ImportError(f"{DASK_HINT} ({exc})") from exc
    return dd


def check_slurm_options(options) -> dict:
    """Check a ``slurm`` options table: known keys, value types. Returns a plain dict;
    raises :class:`ExecutorError` naming the key."""
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise ExecutorError(f"slurm options must be a table of {', '.join(SLURM_OPTIONS)}, got {options!r}")
    unknown = sorted(set(options) - set(SLURM_OPTIONS))
    if unknown:
        raise ExecutorError(f"slurm: unknown option {unknown[0]!r} (known: {', '.join(SLURM_OPTIONS)})")
    ints = ("jobs", "cores", "processes")
    for k in ints:
        v = options.get(k)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ExecutorError(f"slurm: {k} must be a positive integer, got {v!r}")
    for k in ("partition", "memory", "walltime", "account", "qos", "python", "interface",
              "local_directory", "log_directory"):
        v = options.get(k)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise ExecutorError(f"slurm: {k} must be a non-empty string, got {v!r}")
    for k in ("job_extra_directives", "job_script_prologue"):
        v = options.get(k)
        if v is not None and (not isinstance(v, list) or not all(isinstance(x, str) for x in v)):
            raise ExecutorError(f"slurm: {k} must be a list of strings, got {v!r}")
    if options.get("memory") is not None:
        _megabytes(options["memory"])
    t = options.get("start_timeout")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
        raise ExecutorError(f"slurm: start_timeout must be a positive number of seconds, got {t!r}")
    return dict(options)


DEFAULT_SLURM_MEMORY = "2GB"


def _megabytes(memory: str) -> int:
    """A memory size such as ``"4GB"`` in MiB, rounded up, as sbatch --mem reads it."""
    from dask.utils import parse_bytes

    try:
        return max(1, math.ceil(parse_bytes(memory) / 2 ** 20))
    except (ValueError, TypeError):
        raise ExecutorError(f"slurm: memory must be a size such as \"4GB\", got {memory!r}") from None


def _slurm_preflight(opts: dict) -> None:
    """No sbatch, a partition SLURM does not know, a request it cannot satisfy: one line, before
    anything is submitted (``sbatch --test-only`` checks the request without queueing it)."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise ExecutorError("executor 'slurm': no sbatch on PATH; run on a SLURM login node, or start a "
                            "one-node cluster here with scripts/slurm-local up")
    cmd = [sbatch, "--test-only", "--wrap", "true", "-c", str(opts.get("cores", 1))]
    if opts.get("partition"):
        cmd += ["-p", opts["partition"]]
    if opts.get("account"):
        cmd += ["-A", opts["account"]]
    if opts.get("qos"):
        cmd += ["--qos", opts["qos"]]
    if opts.get("walltime"):
        cmd += ["-t", opts["walltime"]]
    cmd += [f"--mem={_megabytes(opts.get('memory', DEFAULT_SLURM_MEMORY))}M"]
    cmd += [d for d in opts.get("job_extra_directives", []) if d.startswith("-")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExecutorError(f"executor 'slurm': sbatch --test-only failed to answer: {exc}") from None
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout or "").split()) or f"exit status {proc.returncode}"
        if "configuration source" in said or "slurm.conf" in said or "Unable to contact slurm controller" in said:
            raise ExecutorError(f"executor 'slurm': sbatch cannot reach a SLURM cluster ({said}); run on a SLURM "
                                f"login node (or set SLURM_CONF), or start a one-node cluster here with "
                                f"scripts/slurm-local up")
        raise ExecutorError(f"executor 'slurm': SLURM refuses the job request ({' '.join(cmd[1:])}): {said}; "
                            f"fix the [slurm] options (partition, cores, memory, walltime, account)")


def _slurm_cluster(opts: dict, n_workers: int):
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as exc:
        raise ImportError(f"{SLURM_HINT} ({exc})") from exc
    _slurm_preflight(opts)
    cores = int(opts.get("cores", 1))
    kwargs = {
        "queue": opts.get("partition"), "account": opts.get("account"), "cores": cores,
        "processes": int(opts.get("processes", cores)), "memory": opts.get("memory", DEFAULT_SLURM_MEMORY),
        "walltime": opts.get("walltime", "01:00:00"), "python": opts.get("python", sys.executable),
        "job_extra_directives": list(opts.get("job_extra_directives", [])),
        "job_script_prologue": list(opts.get("job_script_prologue", [])),
        "scheduler_options": dict(_NO_DASHBOARD),
        "log_directory": opts.get("log_directory"),
        "local_directory": opts.get("local_directory"),
    }
    if opts.get("qos"):
        kwargs["job_extra_directives"].append(f"--qos={opts['qos']}")
    if not opts.get("log_directory"):  # not slurm-<id>.out files in the folder compare was started from
        kwargs["job_extra_directives"].append("--output=/dev/null")
    if opts.get("interface"):
        kwargs["interface"] = opts["interface"]
    cluster = SLURMCluster(**{k: v for k, v in kwargs.items() if v is not None})
    cluster.scale(jobs=int(opts.get("jobs", 1)))
    return cluster


#: Settings of the clusters :func:`dask_client` starts. One run per worker thread at a time (Dask's
#: default queues a second run on a busy worker, where it may wait behind a long run while another
#: worker is idle). The worker processes' environment without Dask's ``MALLOC_TRIM_THRESHOLD_=65536``,
#: which makes glibc hand freed memory back to the system at once: numpy code that allocates and
#: frees large arrays (a reservoir's states) then ran 10-12 % slower in Dask's workers than in local
#: ones (benchmarks/executors.py); the thread counts stay pinned to 1 as Dask sets them.
_OWN_SCHEDULER = {
    "distributed.scheduler.worker-saturation": 1.0,
    "distributed.nanny.pre-spawn-environ": {"OMP_NUM_THREADS": 1, "MKL_NUM_THREADS": 1, "OPENBLAS_NUM_THREADS": 1},
}


#: The scheduler of a cluster neurorec starts serves no dashboard, and its HTTP endpoints (health,
#: metrics) on a free port, not on 8787 (where two clusters at once would collide).
_NO_DASHBOARD = {"dashboard": False, "dashboard_address": ":0"}


@contextlib.contextmanager
def dask_client(executor: str = "dask", *, scheduler=None, n_workers: int = 2, threads_per_worker: int = 1,
                slurm: dict | None = None, connect_timeout: float | None = None):
    """A :class:`dask.distributed.Client` for ``executor``, closed (with the cluster it started)
    on exit.

    * ``scheduler`` a ``Client``: that client, left open.
    * ``scheduler`` an address (``"tcp://host:8786"``): a client of that scheduler; one that does
      not answer within ``connect_timeout`` seconds raises :class:`ExecutorError`. Its default is
      Dask's own ``distributed.comm.timeouts.connect`` (30 s unless configured, e.g. by the
      environment variable ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).
    * ``executor="slurm"``: a :class:`dask_jobqueue.SLURMCluster` with the ``slurm`` options
      (:data:`SLURM_OPTIONS`), after ``sbatch --test-only`` accepted the request; waits up to
      ``start_timeout`` seconds for its first worker.
    * otherwise: a :class:`~dask.distributed.LocalCluster` of ``n_workers`` worker processes with
      ``threads_per_worker`` threads each.

    The clusters it starts give each worker thread one run at a time
    (``distributed.scheduler.worker-saturation = 1.0``).

    Raises
    ------
    ExecutorError
        The scheduler is unreachable, SLURM is missing or refuses the request, or no SLURM worker
        started in time: a one-line message saying what to fix.
    ImportError
        dask.distributed (or dask-jobqueue) is not installed: the message names the extra.
    """
    dd = import_dask()
    if isinstance(scheduler, dd.Client):
        yield scheduler
        return
    import logging

    import dask

    cluster = None
    if executor == "slurm":
        opts = check_slurm_options(slurm)
        with dask.config.set(_OWN_SCHEDULER):
            cluster = _slurm_cluster(opts, n_workers)
        client = dd.Client(cluster)
        timeout = float(opts.get("start_timeout", 300))
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (TimeoutError, OSError) as exc:
            jobs = getattr(cluster, "pending_jobs", None) or {}
            client.close()
            cluster.close()
            raise ExecutorError(f"executor 'slurm': no SLURM job started a Dask worker within {timeout:g} s "
                                f"({len(jobs)} job(s) pending; see squeue): raise start_timeout, or check the "
                                f"jobs' output (log_directory) ({type(exc).__name__})") from None
    elif scheduler is not None:
        if connect_timeout is None:
            from dask.utils import parse_timedelta

            connect_timeout = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"), "s")
        try:
            client = dd.Client(scheduler, timeout=connect_timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler} within {connect_timeout:g} s "
                                f"({type(exc).__name__}): start it (dask scheduler), or fix the address "
                                f"(--scheduler tcp://HOST:PORT)") from None
    else:
        with dask.config.set(_OWN_SCHEDULER):
            cluster = dd.LocalCluster(n_workers=max(1, int(n_workers)), threads_per_worker=threads_per_worker,
                                      processes=True, dashboard_address=None, silence_logs=logging.ERROR,
                                      scheduler_kwargs=dict(_NO_DASHBOARD))
        client = dd.Client(cluster)
    try:
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


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


def _claimed(jobs, claim) -> Iterator[dict]:
    """The jobs ``claim`` agrees to, asked one at a time, just before each is started."""
    for job in jobs:
        if claim is None or claim(job):
            yield job


def _run_bounded(jobs: Iterator[dict], submit, wait_first, capacity: Callable[[], int],
                 retry: Callable[[BaseException], bool] | None = None) -> Iterator[dict]:
    """Keep at most ``capacity()`` jobs in flight; yield each result (or a failure result for a
    job whose worker died) as soon as it is done. A job whose failure ``retry(exc)`` accepts is
    submitted once more before it is given up."""
    inflight: dict = {}
    retried: set[str] = set()
    source = iter(jobs)
    exhausted = False

    def fill():
        nonlocal exhausted
        while not exhausted and len(inflight) < max(1, capacity()):
            job = next(source, None)
            if job is None:
                exhausted = True
                return
            inflight[submit(job)] = job

    fill()
    while inflight:
        for fut in wait_first(list(inflight)):
            job = inflight.pop(fut)
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker died; record and go on
                if retry is not None and job["run_key"] not in retried and retry(exc):
                    retried.add(job["run_key"])
                    exc.__traceback__ = None
                    inflight[submit(job)] = job
                    continue
                result = failed_result(job, exc)
                # a broken pool raises one exception object for every pending future: each raise
                # would append its frames to the same traceback, so each result starts afresh
                exc.__traceback__ = None
            yield result
        fill()


def iter_results(jobs: list[dict], *, n_jobs: int = 1, executor="local", scheduler=None,
                 slurm: dict | None = None, on_start: Callable[[dict], None] | None = None,
                 claim: Callable[[dict], bool] | None = None) -> Iterator[dict]:
    """Run ``jobs`` and yield each result as soon as it is available (in completion order).

    ``claim(job)`` (optional) is called just before a job is started; a job it refuses is not
    run (another process is computing it) and gives no result.
    """
    if not jobs:
        return
    if isinstance(executor, Executor):
        yield from _run_bounded(_claimed(jobs, claim), lambda job: executor.submit(run_one, job),
                                _first_completed, lambda: 2 * max(1, n_jobs or 1))
        return
    if scheduler is not None and executor == "local":
        executor = "dask"
    if executor in ("dask", "slurm"):
        yield from _iter_dask(jobs, executor, scheduler, slurm, _n_workers(n_jobs, len(jobs)), claim)
        return
    if executor != "local":
        raise ValueError(f"executor must be 'local', 'dask', 'slurm' or a concurrent.futures.Executor, "
                         f"got {executor!r}")
    workers = _n_workers(n_jobs, len(jobs))
    if workers == 1:
        for job in _claimed(jobs, claim):
            if on_start is not None:
                on_start(job)
            yield run_one(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    def new_pool():
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_die_with_parent, initargs=(os.getpid(),))

    pools = [new_pool()]
    futures: list = []

    def submit(job):
        try:
            fut = pools[-1].submit(run_one, job)
        except BrokenProcessPool:
            # a worker died (killed, out of memory): the grid goes on in a new pool, where the runs
            # that were in the broken one are tried once more (the one that killed it cannot be told
            # apart from the others); a run that breaks the pool twice ends as an error result
            pools[-1].shutdown(wait=False, cancel_futures=True)
            pools.append(new_pool())
            fut = pools[-1].submit(run_one, job)
        futures.append(fut)
        return fut

    try:
        # one queued run per worker beyond the running ones: a worker never waits for the parent
        yield from _run_bounded(_claimed(jobs, claim), submit, _first_completed, lambda: 2 * workers,
                                retry=lambda exc: isinstance(exc, BrokenProcessPool))
    finally:
        for f in futures:
            f.cancel()
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _first_completed(futures: list) -> set:
    from concurrent.futures import FIRST_COMPLETED, wait

    return wait(futures, return_when=FIRST_COMPLETED).done


def _iter_dask(jobs: list[dict], executor: str, scheduler, slurm, n_workers: int, claim) -> Iterator[dict]:
    dd = import_dask()
    with dask_client(executor, scheduler=scheduler, n_workers=n_workers, slurm=slurm) as client:
        if executor == "dask" and scheduler is None:  # our LocalCluster: one thread per worker process
            jobs = [{**j, "threads": 1 if j.get("threads") is None else j["threads"]} for j in jobs]
        submitted: list = []

        def submit(job):
            fut = client.submit(run_one, job, pure=False, key=f"neurorec-run-{job['run_key']}")
            submitted.append(fut)
            return fut

        seen = {"at": -math.inf, "threads": 0}

        def capacity() -> int:
            # the cluster's threads, asked of the scheduler at most every 5 s (workers come and go)
            now = time.monotonic()
            if now - seen["at"] > 5.0:
                seen["at"] = now
                try:
                    seen["threads"] = sum(client.nthreads().values())
                except Exception:  # noqa: BLE001 - a scheduler between workers: keep a few queued
                    seen["threads"] = 0
            return 2 * max(seen["threads"], n_workers, 1)

        cluster = getattr(client, "cluster", None) if executor == "slurm" else None
        lost = {"since": None, "rescaled": False}
        patience = float((slurm or {}).get("start_timeout", 300))

        def wait_first(futures):
            if cluster is None:
                return dd.wait(futures, return_when="FIRST_COMPLETED").done
            while True:
                try:
                    return dd.wait(futures, timeout=10, return_when="FIRST_COMPLETED").done
                except TimeoutError:
                    pass
                _check_slurm_workers(client, cluster, slurm or {}, lost, patience, len(futures))

        try:
            yield from _run_bounded(_claimed(jobs, claim), submit, wait_first, capacity)
        finally:
            with contextlib.suppress(Exception):
                client.cancel([f for f in submitted if not f.done()])


def _check_slurm_workers(client, cluster, slurm: dict, lost: dict, patience: float, waiting: int) -> None:
    """While runs wait on a SLURM cluster: when every worker is gone (their jobs ended: walltime,
    preemption, scancel), ask SLURM for the jobs again once; when none came back within
    ``patience`` seconds, give up with :class:`ExecutorError` (the runs stored so far are kept)."""
    try:
        n = len(client.nthreads())
    except Exception:  # noqa: BLE001 - the scheduler is busy: look again later
        return
    if n:
        lost.update(since=None, rescaled=False)
        return
    now = time.monotonic()
    if lost["since"] is None:
        lost["since"] = now
    if not lost["rescaled"]:
        lost["rescaled"] = True
        with contextlib.suppress(Exception):
            # forget the ended jobs (dask-jobqueue still counts them), then ask for new ones
            cluster.scale(jobs=0)
            deadline = time.monotonic() + 30
            while getattr(cluster, "workers", None) and time.monotonic() < deadline:
                time.sleep(0.5)
            cluster.scale(jobs=int(slurm.get("jobs", 1)))
        logger.warning("every SLURM worker is gone (their jobs ended: walltime, preemption or scancel); "
                       "submitted %s job(s) again", slurm.get("jobs", 1))
        return
    if now - lost["since"] > patience:
        raise ExecutorError(f"executor 'slurm': every SLURM worker is gone (their jobs ended: walltime, preemption "
                            f"or scancel) and none came back within {patience:g} s; {waiting} run(s) were not "
                            f"finished. The runs stored so far are kept: run the same command to resume (a longer "
                            f"walltime or more jobs in [slurm] may help)")
