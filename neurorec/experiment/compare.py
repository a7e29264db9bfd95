"""``compare(models, tasks, seeds)``: run the grid, store each run as it finishes, return a
tidy DataFrame."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

from neurorec.experiment.executors import EXECUTORS, check_slurm_options, import_dask, iter_results
from neurorec.experiment.runner import OPS_PREFIX, SPLITS, _now, make_job
from neurorec.experiment.specs import (
    SpecError,
    canonical,
    check_model_tasks,
    data_fingerprint,
    normalize_models,
    normalize_seeds,
    normalize_tasks,
    run_key,
)
from neurorec.experiment.store import MemoryStore, SQLiteStore, StoreError, claim_owner, end_owner

__all__ = ["compare", "runs_to_frame", "add_energy", "resolve_energy_profiles", "COLUMNS", "ENERGY_PREFIX",
           "OPS_PREFIX", "is_cost_metric", "DuplicateRunWarning", "StoreError"]

logger = logging.getLogger("neurorec.experiment")

#: Columns of the DataFrame returned by :func:`compare`, in order.
COLUMNS = [
    "model", "task", "seed", "split", "metric", "value", "higher_is_better",
    "fit_seconds", "predict_seconds", "params_total", "params_trained",
    "peak_memory_mb", "peak_gpu_memory_mb", "synops", "status", "error", "kind", "run_key", "model_class",
]
_FLOAT = ["value", "fit_seconds", "predict_seconds", "peak_memory_mb", "peak_gpu_memory_mb",
          "synops"]
_INT = ["params_total", "params_trained"]

#: Prefix of the energy rows :func:`add_energy` appends: ``energy_<profile>_J``.
ENERGY_PREFIX = "energy_"


class DuplicateRunWarning(UserWarning):
    """Runs that :func:`compare` computed were also computed by another process on the same store
    (the result stored first is kept, the other dropped): wasted work, reported once per call."""


def is_cost_metric(metric) -> bool:
    """Whether a row's ``metric`` is an operation count (``ops_*``) or an energy estimate
    (``energy_*``) rather than the task's score."""
    return isinstance(metric, str) and metric.startswith((OPS_PREFIX, ENERGY_PREFIX))


def resolve_energy_profiles(energy_profiles) -> list:
    """Load the chip profiles named in ``energy_profiles`` (names, paths, profiles or mappings),
    so that a bad one fails before anything runs or is written: :class:`SpecError` naming it
    (an unknown name, a broken file, a name given twice). ``None`` gives ``[]``. The result can
    be passed to :func:`compare` as ``energy_profiles``."""
    if energy_profiles is None:
        return []
    if isinstance(energy_profiles, (str, bytes)) or not hasattr(energy_profiles, "__iter__"):
        raise SpecError(f"energy_profiles must be a list of profile names (such as [\"cmos45\", \"loihi\"]), "
                        f"got {energy_profiles!r}")
    from neurorec.hardware.operations import _read_profile

    out, names = [], []
    for p in energy_profiles:
        try:
            prof = _read_profile(p)
        except ImportError:
            raise
        except Exception as exc:  # noqa: BLE001 - an unknown name, a bad file: one message naming it
            raise SpecError(f"energy_profiles: cannot load profile {p!r}: {exc}") from None
        if not prof.name.replace("-", "_").isidentifier():
            raise SpecError(f"energy_profiles: profile name {prof.name!r} must be a word (letters, digits, _ or -)")
        if prof.name in names:
            raise SpecError(f"energy_profiles: profile {prof.name!r} is named twice")
        names.append(prof.name)
        out.append(prof)
    return out


def add_energy(df, energy_profiles):
    """Append the energy per inference for every profile to a :func:`compare` frame.

    For every run with operation counts (the ``ops_*`` rows of the test split, which
    :func:`compare` stores when it is given ``energy_profiles``), one row per profile:
    ``split="test"``, ``metric="energy_<profile>_J"``, ``value`` the energy per inference in
    joules from :func:`neurorec.hardware.operations.energy_from_counts` (NaN where the profile has no
    figure for the model, e.g. a classical model on a neuromorphic chip), ``higher_is_better``
    False, the run's other columns copied. Runs without counts (models whose operations are not
    modelled, runs stored before counting existed) get no energy rows. The energies are derived
    from the stored counts, so a stored grid can be priced with any profile without re-running.

    Parameters
    ----------
    df : DataFrame
        A :func:`compare` result or :meth:`SQLiteStore.to_dataframe`.
    energy_profiles : list
        Profile names (``"cmos45"``, ``"loihi"``, ...), files, profiles or mappings.

    Returns
    -------
    DataFrame
        ``df`` without any energy rows it had, plus the new ones, each after its run's rows.
    """
    import pandas as pd

    from neurorec.hardware.operations import COUNT_KEYS, energy_from_counts

    profiles = resolve_energy_profiles(energy_profiles)
    df = df[~df["metric"].astype(str).str.startswith(ENERGY_PREFIX)]
    if not profiles or df.empty:
        return df.reset_index(drop=True)
    ops = df[(df["split"] == "test") & df["metric"].astype(str).str.startswith(OPS_PREFIX)]
    extra = []
    for _key, g in ops.groupby("run_key", sort=False):
        counts = {m[len(OPS_PREFIX):]: v for m, v in zip(g["metric"], g["value"], strict=True)}
        if not any(k in counts for k in COUNT_KEYS):
            continue
        counts["model"] = str(g["model"].iloc[0])
        base = g.iloc[0].to_dict()
        for p in profiles:
            e = energy_from_counts(counts, p)
            extra.append({**base, "metric": f"{ENERGY_PREFIX}{p.name}_J", "value": float(e["energy_J"]),
                          "higher_is_better": False, "predict_seconds": math.nan})
    if not extra:
        return df.reset_index(drop=True)
    order = {k: i for i, k in enumerate(dict.fromkeys(df["run_key"]))}
    new = pd.DataFrame.from_records(extra, columns=df.columns).astype(df.dtypes.to_dict())
    out = pd.concat([df, new], ignore_index=True)
    rank = out["run_key"].map(order)
    out = out.iloc[rank.argsort(kind="stable")].reset_index(drop=True)
    return out


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


def _refuse_read_only(store, n_missing: int, n_plan: int) -> None:
    """A read-only store can serve a grid it holds entirely, never one with runs still to do:
    refuse before anything is computed (the results could not be stored)."""
    if not n_missing or not getattr(store, "read_only", False):
        return
    path = getattr(store, "path", repr(store))
    raise StoreError(
        f"the result store {path} is read-only ({getattr(store, 'read_only_reason', '') or 'read-only'}): "
        f"{n_missing} of the {n_plan} runs of this grid are not in it and could not be stored, so "
        f"nothing was run. Make the file and its folder writable, or write the results elsewhere "
        f"(another store path; --out DIR on the command line); the {n_plan - n_missing} stored runs "
        f"can be read as they are", path=path, kind="read-only")


def _stored_run(store, key: str) -> dict | None:
    found = store.runs([key])
    return found[0] if found else None


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
        "run_key": key, "model": m.name, "model_class": f"{m.cls.__module__}:{m.cls.__qualname__}",
        "task": t.name, "kind": t.kind, "seed": seed,
        "status": "skipped",
        "error": why,
        "rows": [{"split": s, "metric": t.metric, "higher_is_better": t.higher_is_better,
                  "value": math.nan, "predict_seconds": math.nan} for s in SPLITS],
    }


#: Seconds between the heartbeats that keep a process's claims on runs alive.
HEARTBEAT_SECONDS = 10.0
#: Seconds between looks at the store while waiting for runs another process is computing.
POLL_SECONDS = 1.0


def compare(models, tasks, seeds, *, store=None, n_jobs: int = 1, executor="local",
            scheduler=None, slurm=None, progress: bool = True, resume: bool = True,
            retry_errors: bool = True, track_memory: bool = True, threads: int | None = None,
            energy_profiles=None, stale_after: float = 60.0):
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
        Parallel runs: processes of the ``"local"`` executor (started with ``spawn``), worker
        processes of the ``"dask"`` executor's own ``LocalCluster``; ``-1`` for one per CPU.
    executor : {"local", "dask", "slurm"} or concurrent.futures.Executor
        Where runs are computed (:mod:`neurorec.experiment.executors`): ``"local"`` processes;
        ``"dask"``, a Dask cluster (a ``LocalCluster`` of ``n_jobs`` worker processes, or the
        scheduler at ``scheduler``); ``"slurm"``, Dask workers started as SLURM jobs by
        dask-jobqueue with the ``slurm`` options. A Dask worker that dies in a run does not lose
        it (it runs again elsewhere; a run that kills every worker it touches ends as an error
        row). Results are written by this process only.
    scheduler : str or dask.distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``); giving one selects ``"dask"``.
    slurm : dict, optional
        The ``"slurm"`` executor's options (:data:`~neurorec.experiment.executors.SLURM_OPTIONS`:
        partition, jobs, cores, processes, memory, walltime, account, ...).
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
    energy_profiles : list, optional
        Chip profiles (names such as ``"cmos45"`` and ``"loihi"``, see
        :func:`neurorec.hardware.profiles`; files; profiles or mappings) to estimate the energy
        per inference with. Each run then also counts its operations per test inference
        (:func:`neurorec.hardware.operations.count_operations`, after the timed part) and stores
        them as rows ``ops_synops``, ``ops_neuron_updates``, ``ops_macs``, ... on the test
        split; the returned frame gets one row ``energy_<profile>_J`` per profile from them
        (:func:`add_energy`). ``None`` (the default) or ``[]``: no counting, no extra rows.
        Runs resumed from a store that were made without counting have no energy rows (re-run
        them with ``resume=False``). Not part of the run key.
    stale_after : float
        Seconds after which a claim on a run by another process that sent no heartbeat is taken
        over (see Notes); claims are renewed every ``min(10, stale_after / 4)`` seconds.

    Notes
    -----
    Several processes may use one store at once (two ``compare`` calls, or one on each of
    several machines sharing the folder): each claims a run in the store just before computing
    it, so each run is computed by one process and stored once, and the runs another process is
    computing are waited for and returned from the store (an error another process stored
    meanwhile is returned too, not computed again). A claim ends when its run is stored; the
    claims of a process that was killed are taken over at once on the same host, and after
    ``stale_after`` seconds without a heartbeat otherwise (a process stopped for longer, with
    Ctrl-Z say, loses its claims, and its runs may then be computed twice).

    Each run key includes a fingerprint of the task's data for the seed
    (:func:`~neurorec.experiment.specs.data_fingerprint`): a task whose data changed under the
    same name and parameters is run again, never answered from the store.

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
        ``attrs["duplicate_runs"]``: how many of the runs this call computed had meanwhile been
        stored by another process working on the same store (see Warns).
        ``attrs["warnings"]``: ``{"Category: message": [the runs (model / task / seed) that raised
        it]}`` for the runs this call computed (each run keeps its warnings instead of printing
        them among the progress lines; ``neurorec compare`` reports them once, at the end).

    Raises
    ------
    StoreError
        The store cannot be used (:class:`~neurorec.experiment.store.StoreError`: its ``kind``
        and message say why and what to do): damaged, not a neurorec store, written by a newer
        neurorec; read-only while some runs of the grid are not in it (checked before anything
        runs: a read-only store that holds the whole grid is read and returned); full, or locked
        too long by another process, while writing (the runs stored before are kept, and a
        re-run resumes).

    Warns
    -----
    DuplicateRunWarning
        When another process computed some of the same runs on the same store during this call
        (two ``compare`` calls on one store each plan the runs missing when they start, and may
        compute the same ones): each run is still stored once (the result stored first is kept,
        and returned; with ``resume=False`` the last one written), and the count is reported
        once, at the end, and in ``attrs["duplicate_runs"]``.
    """
    model_specs = normalize_models(models)
    task_specs = normalize_tasks(tasks)
    profiles = resolve_energy_profiles(energy_profiles)
    seeds = normalize_seeds(seeds)
    if scheduler is not None and executor == "local":
        executor = "dask"
    if isinstance(executor, str) and executor not in EXECUTORS:
        raise SpecError(f"executor must be one of {', '.join(EXECUTORS)} (or a concurrent.futures.Executor), "
                        f"got {executor!r}")
    if isinstance(stale_after, bool) or not isinstance(stale_after, (int, float)) or not stale_after > 0:
        raise SpecError(f"stale_after must be a positive number of seconds, got {stale_after!r}")
    if executor in ("dask", "slurm"):
        import_dask()  # fail before anything runs
    if executor == "slurm":
        check_slurm_options(slurm)
    elif slurm:
        raise SpecError(f"slurm options were given but the executor is {executor!r}: use executor=\"slurm\"")
    check_model_tasks(model_specs, [t.name for t in task_specs])
    task_names = {t.name for t in task_specs}
    for m in model_specs:
        extra = sorted(set(m.overrides) - task_names)
        if extra:
            warnings.warn(f"model {m.name!r} has overrides for task(s) {extra} that are not in "
                          f"this grid (tasks: {sorted(task_names)})", stacklevel=2)

    # -- the plan --------------------------------------------------------------------------
    plan = []  # (key, model spec, task spec, seed)
    data = {(t.name, s): data_fingerprint(t.task, s) for t in task_specs for s in seeds}
    for m in model_specs:
        for t in task_specs:
            for s in seeds:
                plan.append((run_key(m.key(t.name), t.spec, s, data[t.name, s]), m, t, s))
    keys = [p[0] for p in plan]
    if len(set(keys)) != len(keys):  # pragma: no cover - names are unique, so keys are
        raise RuntimeError("two runs of the grid have the same key")

    started = _now()  # a stored run finished after this was written by another process
    store, own_store = _open_store(store)
    duplicates: list[str] = []
    run_warnings: dict[str, list[str]] = {}   # warning -> the runs that raised it (computed in this call)
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
            jobs.append(make_job(key, m, t, s, track_memory=track_memory, threads=n_threads,
                                 count_operations=bool(profiles)))
            meta[key] = (m, t)

        _refuse_read_only(store, len(jobs), len(plan))
        bar = _progress_bar(len(plan), len(plan) - len(jobs), progress)
        n_errors = sum(1 for r in results.values() if r.get("status") == "error")
        version = _version()

        def on_start(job):
            if bar is not None:
                bar.set_description(_label(job), refresh=True)

        def record(res):
            nonlocal n_errors
            m, t = meta[res["run_key"]]
            res["model_class"] = m.class_path
            res["neurorec_version"] = version
            res["model_spec"] = canonical(m.key(t.name))
            res["task_spec"] = canonical({**t.spec, "data": data[t.name, res["seed"]]})
            key = res["run_key"]
            for w in res.get("warnings") or ():
                run_warnings.setdefault(w, []).append(f"{res['model']} / {res['task']} / seed {res['seed']}")
            prior = _stored_run(store, key)
            written = store.put(res, replace="error" if resume else "always")
            if not written or str((prior or {}).get("finished_at") or "") >= started:
                # another process on this store computed this run too, during this call
                duplicates.append(key)
                logger.info("run %s / %s / seed %s was also computed by another process on %s%s",
                            res["model"], res["task"], res["seed"], getattr(store, "path", store),
                            "" if written else "; its stored result is kept")
            if not written:
                res = _stored_run(store, key) or res
            results[key] = res
            if res["status"] == "error":
                n_errors += 1
                logger.error("run %s / %s / seed %s failed: %s\n%s", res["model"], res["task"],
                             res["seed"], res["error"], res.get("traceback", ""))
            _advance(res)

        def _advance(res):
            if bar is not None:
                bar.set_description(_label(res), refresh=False)
                if n_errors:
                    bar.set_postfix(errors=n_errors, refresh=False)
                bar.update(1)

        # -- claims: several processes on one store each compute the runs nobody else is ------
        owner = claim_owner() if hasattr(store, "claim") and not getattr(store, "read_only", False) else None
        done_states = tuple(done_ok) if resume else ()
        # a run stored by another process after this call started is done whatever its status (an
        # error it stored is not computed again here; with resume=False, neither is anything else)
        since = started
        elsewhere: dict[str, dict] = {}  # run key -> job, held or stored by another process

        def claim(job) -> bool:
            if owner is None:
                return True
            state = store.claim(job["run_key"], owner, done=done_states, since=since, stale_after=stale_after)
            if state == "claimed":
                return True
            elsewhere[job["run_key"]] = job
            return False

        def collect_elsewhere() -> list[dict]:
            """Read the waited-for runs that are stored now; claim those whose claim went stale."""
            mine = []
            for key, job in list(elsewhere.items()):
                state = store.claim(key, owner, done=done_states, since=since, stale_after=stale_after)
                if state == "held":
                    continue
                del elsewhere[key]
                if state == "claimed":
                    mine.append(job)
                    continue
                run = _stored_run(store, key)
                if run is not None:
                    results[key] = run
                    _advance(run)
            return mine

        stop_beat = threading.Event()
        beat = None
        if owner is not None and jobs:
            def _beat():
                while not stop_beat.wait(min(HEARTBEAT_SECONDS, stale_after / 4)):
                    try:
                        store.heartbeat(owner)
                    except Exception:  # noqa: BLE001 - a busy store: the next beat retries
                        pass

            beat = threading.Thread(target=_beat, name="neurorec-claims-heartbeat", daemon=True)
            beat.start()
        run_kw = {"n_jobs": n_jobs, "executor": executor, "scheduler": scheduler, "slurm": slurm}
        try:
            for res in iter_results(jobs, on_start=on_start, claim=claim, **run_kw):
                record(res)
            waited = False
            while elsewhere:
                if waited:
                    time.sleep(POLL_SECONDS)
                waited = True
                if bar is not None:
                    bar.set_description(f"waiting for {len(elsewhere)} runs another process is computing",
                                        refresh=True)
                for res in iter_results(collect_elsewhere(), on_start=on_start, **run_kw):
                    record(res)
        finally:
            stop_beat.set()
            if beat is not None:
                beat.join(timeout=5)
            if owner is not None:
                try:
                    store.release(owner)
                except Exception:  # noqa: BLE001 - a stale claim is taken over anyway
                    pass
                end_owner(owner)
            if bar is not None:
                bar.close()
    finally:
        if own_store:
            store.close()
    df = runs_to_frame([results[k] for k in keys if k in results])
    if profiles:
        df = add_energy(df, profiles)
    df.attrs["duplicate_runs"] = len(duplicates)
    df.attrs["warnings"] = run_warnings
    if duplicates:
        warnings.warn(f"{len(duplicates)} of the {len(jobs)} runs this call computed were also computed "
                      f"by another process using the same store {getattr(store, 'path', store)} (each "
                      f"is stored once; the other result was dropped): wasted work, run one compare "
                      f"per store at a time", DuplicateRunWarning, stacklevel=2)
    return df


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
