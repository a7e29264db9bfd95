"""``compare(models, tasks, seeds)``: run the grid, store each run as it finishes, return a
tidy DataFrame."""

from __future__ import annotations

import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

from neurorec.experiment.executors import import_dask, iter_results
from neurorec.experiment.runner import SPLITS, make_job
from neurorec.experiment.specs import (
    canonical,
    check_model_tasks,
    normalize_models,
    normalize_seeds,
    normalize_tasks,
    run_key,
)
from neurorec.experiment.store import MemoryStore, SQLiteStore

__all__ = ["compare", "runs_to_frame", "COLUMNS"]

logger = logging.getLogger("neurorec.experiment")

#: Columns of the DataFrame returned by :func:`compare`, in order.
COLUMNS = [
    "model", "task", "seed", "split", "metric", "value", "higher_is_better",
    "fit_seconds", "predict_seconds", "params_total", "params_trained",
    "peak_memory_mb", "peak_gpu_memory_mb", "synops", "status", "error", "kind", "run_key",
]
_FLOAT = ["value", "fit_seconds", "predict_seconds", "peak_memory_mb", "peak_gpu_memory_mb",
          "synops"]
_INT = ["params_total", "params_trained"]


def _version() -> str:
    try:
        import neurorec

        return str(getattr(neurorec, "__version__", "unknown"))
    except Exception:  # noqa: BLE001
        return "unknown"


def runs_to_frame(runs: list[dict]):
    """Flatten run dicts (run fields + ``rows``) into the tidy DataFrame of :data:`COLUMNS`."""
    import pandas as pd

    records = []
    for run in runs:
        base = {c: run.get(c) for c in COLUMNS if c not in ("split", "metric", "value",
                                                             "higher_is_better", "predict_seconds")}
        rows = run.get("rows") or [{"split": None, "metric": None, "value": math.nan,
                                    "higher_is_better": None, "predict_seconds": math.nan}]
        for r in rows:
            records.append({**base, **{k: r.get(k) for k in ("split", "metric", "value",
                                                             "higher_is_better",
                                                             "predict_seconds")}})
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    for c in _FLOAT:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    for c in _INT:
        df[c] = pd.to_numeric(df[c], errors="coerce").round().astype("Int64")
    df["seed"] = df["seed"].astype("int64")
    df["higher_is_better"] = df["higher_is_better"].astype("boolean")
    for c in ("error",):
        df[c] = df[c].fillna("").astype(str)
    return df


def _open_store(store):
    if store is None:
        return MemoryStore(), True
    if isinstance(store, (str, os.PathLike)):
        return SQLiteStore(Path(store)), True
    for attr in ("put", "status", "runs"):
        if not hasattr(store, attr):
            raise TypeError(f"store must be None, a path or a store object with put/status/runs; "
                            f"{type(store).__name__} has no {attr}()")
    return store, False


def _reads_symbols(t) -> bool:
    return bool(getattr(t.task, "symbol_readout", False))


def _skipped(key: str, m, t, seed: int) -> dict:
    """The result of a run that is not made: the task is not in the model's ``tasks`` list, is
    of a kind the model does not support, or cannot score the symbols a symbol model predicts."""
    if not m.runs_on(t.name):
        why = f"task not in {m.name}'s task list ({', '.join(m.tasks)})"
    elif m.predicts_symbols() and not _reads_symbols(t):
        why = f"{m.name} ({m.cls.__name__}) predicts symbols; {t.name} has no symbol read-out"
    else:
        kinds = sorted(m.supported_kinds(t.name) or ())
        why = (f"{m.name} ({m.cls.__name__}) does not support {t.kind!r} tasks "
               f"(supports {', '.join(kinds)})")
    return {
        "run_key": key, "model": m.name, "task": t.name, "kind": t.kind, "seed": seed,
        "status": "skipped",
        "error": why,
        "rows": [{"split": s, "metric": t.metric, "higher_is_better": t.higher_is_better,
                  "value": math.nan, "predict_seconds": math.nan} for s in SPLITS],
    }


def compare(models, tasks, seeds, *, store=None, n_jobs: int = 1, executor="local",
            scheduler=None, progress: bool = True, resume: bool = True,
            retry_errors: bool = True, track_memory: bool = True, threads: int | None = None):
    """Run every model on every task for every seed, and return one tidy table.

    One run is ``(model, task, seed)``: the task's splits for that seed are loaded, a fresh
    clone of the model (with the task's overrides, and ``seed`` set to the run's seed when
    the model has a ``seed`` parameter) is fitted on train, then predicts validation and,
    last, test; both are scored with the task's metric. Each finished run is written to
    ``store`` at once, in one transaction.

    Parameters
    ----------
    models : dict or list
        ``{name: model}``; a list of models (named by class); or spec dicts
        ``{"name", "class", "params", "overrides": {task_name: {param: value}}, "tasks"}``,
        where ``class`` is a name in :mod:`neurorec.models` or ``"package.module:ClassName"``
        (or ``"model"``: an instance, instead of ``class`` and ``params``), and the optional
        ``tasks`` lists the only task names the model runs on: on the grid's other tasks its
        runs are recorded as ``"skipped"``. Every name in ``tasks`` must be a task of the grid
        (:class:`SpecError` otherwise). The list is not part of the run key: a re-run with a
        different list resumes the runs already stored.
    tasks : list
        Task names (looked up with :func:`neurorec.data.get_task`), task objects, or spec
        dicts ``{"name", "params"}`` (with an optional ``"class"`` naming a task class).
    seeds : list of int
    store : None, path or store
        Where results go. ``None``: in memory. A path: an :class:`SQLiteStore` file.
    n_jobs : int
        Parallel runs for the ``"local"`` executor (processes started with ``spawn``);
        ``-1`` for one per CPU.
    executor : {"local", "dask"} or concurrent.futures.Executor
        ``"dask"`` submits runs to ``dask.distributed.Client(scheduler)``.
    scheduler : str or dask.distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``); giving one selects ``"dask"``.
    progress : bool
        Show a progress bar over runs.
    resume : bool
        Skip runs already in ``store`` and return their stored rows. ``False`` recomputes
        every run and replaces what was stored.
    retry_errors : bool
        When resuming, run again the runs stored with ``status="error"``.
    track_memory : bool
        Measure peak memory with :mod:`tracemalloc` (it slows Python-heavy code a little;
        turn it off for pure timing runs).
    threads : int, optional
        CPU threads each run may use (torch's intra-op pool and the BLAS pools, pinned for the
        run and restored after). Default: the machine's CPUs divided by the parallel local
        jobs, so parallel runs do not oversubscribe the cores (small recurrent networks slow
        down several-fold when they do); left alone for Dask, whose workers are configured
        by their own cluster.

    Returns
    -------
    pandas.DataFrame
        One row per model x task x seed x split, with the columns of :data:`COLUMNS`:
        ``model, task, seed, split ("val"/"test"), metric, value, higher_is_better,
        fit_seconds, predict_seconds, params_total, params_trained, peak_memory_mb,
        peak_gpu_memory_mb, synops, status ("ok"/"skipped"/"error"), error, kind, run_key``.
        ``peak_memory_mb`` is the peak host memory traced during fit and predict above what
        was allocated before fit (the loaded data); ``peak_gpu_memory_mb`` is
        ``torch.cuda.max_memory_allocated`` over the same span when CUDA is in use.
    """
    model_specs = normalize_models(models)
    task_specs = normalize_tasks(tasks)
    seeds = normalize_seeds(seeds)
    if scheduler is not None and executor == "local":
        executor = "dask"
    if executor == "dask":
        import_dask()  # fail before anything runs
    check_model_tasks(model_specs, [t.name for t in task_specs])
    task_names = {t.name for t in task_specs}
    for m in model_specs:
        extra = sorted(set(m.overrides) - task_names)
        if extra:
            warnings.warn(f"model {m.name!r} has overrides for task(s) {extra} that are not in "
                          f"this grid (tasks: {sorted(task_names)})", stacklevel=2)

    # -- the plan --------------------------------------------------------------------------
    plan = []  # (key, model spec, task spec, seed)
    for m in model_specs:
        for t in task_specs:
            for s in seeds:
                plan.append((run_key(m.key(t.name), t.spec, s), m, t, s))
    keys = [p[0] for p in plan]
    if len(set(keys)) != len(keys):  # pragma: no cover - names are unique, so keys are
        raise RuntimeError("two runs of the grid have the same key")

    store, own_store = _open_store(store)
    try:
        stored = store.status(keys)
        done_ok = {"ok", "error"} if not retry_errors else {"ok"}
        done = {k for k, st in stored.items() if resume and st in done_ok}
        results: dict[str, dict] = {}
        if done:
            for run in store.runs([k for k in keys if k in done]):
                results[run["run_key"]] = run
        jobs, meta = [], {}
        n_threads = threads
        if n_threads is None and executor == "local":
            cpus = os.cpu_count() or 1
            n_threads = max(1, cpus // (cpus if n_jobs == -1 else max(1, n_jobs)))
        for key, m, t, s in plan:
            if not m.runs_on(t.name):     # even if stored by a run with another task list
                results[key] = _skipped(key, m, t, s)
                continue
            if key in results:
                continue
            if not m.supports(t.kind, t.name) or (m.predicts_symbols() and not _reads_symbols(t)):
                results[key] = _skipped(key, m, t, s)
                continue
            jobs.append(make_job(key, m, t, s, track_memory=track_memory, threads=n_threads))
            meta[key] = (m, t)

        bar = _progress_bar(len(plan), len(plan) - len(jobs), progress)
        n_errors = sum(1 for r in results.values() if r.get("status") == "error")
        version = _version()

        def on_start(job):
            if bar is not None:
                bar.set_description(_label(job), refresh=True)

        try:
            for res in iter_results(jobs, n_jobs=n_jobs, executor=executor,
                                    scheduler=scheduler, on_start=on_start):
                m, t = meta[res["run_key"]]
                res["model_class"] = m.class_path
                res["neurorec_version"] = version
                res["model_spec"] = canonical(m.key(t.name))
                res["task_spec"] = canonical(t.spec)
                store.put(res, replace="error" if resume else "always")
                results[res["run_key"]] = res
                if res["status"] == "error":
                    n_errors += 1
                    logger.error("run %s / %s / seed %s failed: %s\n%s", res["model"], res["task"],
                                 res["seed"], res["error"], res.get("traceback", ""))
                if bar is not None:
                    bar.set_description(_label(res), refresh=False)
                    if n_errors:
                        bar.set_postfix(errors=n_errors, refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    finally:
        if own_store:
            store.close()
    return runs_to_frame([results[k] for k in keys if k in results])


def _label(job_or_result: dict[str, Any]) -> str:
    m = job_or_result["model"]
    t = job_or_result["task"]
    m = m["name"] if isinstance(m, dict) else m
    t = t["name"] if isinstance(t, dict) else t
    return f"{m} / {t} / seed {job_or_result['seed']}"


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="run", dynamic_ncols=True)
