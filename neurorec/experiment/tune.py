"""``tune(model, task)``: hyperparameter search with Optuna, scored on the validation split.

>>> from neurorec.experiment import tune
>>> res = tune("ESN", "narma10", trials=100, n_jobs=2, out="results/tune-esn")   # doctest: +SKIP
>>> res.best_params, res.best_value, res.test_score                              # doctest: +SKIP

Every trial builds a fresh model (the base parameters, then the trial's values from the search
space, then ``seed``), fits it on the task's train split (with the validation split as
``X_val, y_val`` for models whose ``fit`` takes them: the gradient-trained ones early-stop on it)
and scores the validation split with the task's metric; the test split is never touched during
the search. The direction follows ``task.higher_is_better``. A trial whose fit or score raises,
or whose score is NaN or infinite, is recorded as FAIL (its message in the trial's user
attribute ``"error"``), never as a score. Gradient-trained models report the validation loss
after every epoch (negated when the study maximises), so a pruner (Optuna's
:class:`~optuna.pruners.MedianPruner` by default) stops bad trials early; the other models
fit in one go and are never pruned.

When the search is over, the best trial's parameters are scored once on the test split by
:func:`~neurorec.experiment.compare` as a model named ``"<name>-tuned"``, into the same SQLite
result store a ``compare`` of the untuned models uses (``<out>/results.sqlite`` by default), so
tuned and untuned models sit in one table.

Storage and workers
-------------------
The study lives in an Optuna storage shared by every worker: an RDB (``sqlite:///<out>/tune.db``
by default; any SQLAlchemy URL such as ``postgresql://user@host/db``) or a journal file
(``"journal:///path/tune.log"``, or a path ending ``.log``/``.journal``: the storage to use on
a network file system). ``n_jobs`` workers (local processes started with ``spawn``; or Dask
workers, ``executor="dask"``/``"slurm"``) each run ``study.optimize`` on it; the trials still
to run are split between them, and Optuna's :class:`~optuna.study.MaxTrialsCallback` stops
each once the study holds ``trials`` finished trials (complete, pruned or failed), so the total
is ``trials``.

A study is resumed by running the same call again (same ``storage`` and ``study_name``): it
continues up to ``trials`` finished trials in all. Trials left RUNNING by a killed worker are
marked FAIL first (they are trials whose worker process is gone: on this host one whose
process no longer exists, on another host every running one, so do not start two ``tune``
calls on one study at the same time; add workers with ``n_jobs``). A study remembers the
model, its base parameters, the task, the seed, the space and the direction it was made for;
running it with others is refused (choose another ``study_name``).

Files written to ``out``: ``tune.db`` (the default storage), ``results.sqlite`` (the test
runs), ``trials.csv`` (every trial), and Optuna's plots as PNG: ``optimization_history.png``,
``slice.png`` and, with two parameters or more and enough completed trials,
``param_importances.png``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import socket
import sys
import time
import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurorec.experiment.spaces import RANGE_KEYS, resolve_space, suggest
from neurorec.experiment.specs import (
    ModelSpec,
    SpecError,
    TaskSpec,
    build_model,
    canonical,
    normalize_models,
    normalize_seeds,
    normalize_tasks,
    resolve_class,
)

__all__ = ["tune", "TuneResult", "TuneError", "load_tune_config", "storage_of", "EXECUTORS"]

logger = logging.getLogger("neurorec.experiment")

#: Executors of :func:`tune`.
EXECUTORS = ("local", "dask", "slurm")
#: Completed, pruned and failed trials count towards ``trials``.
_FINISHED = ("COMPLETE", "PRUNED", "FAIL")
#: Attempts of a worker's ``study.optimize`` after an error of the storage.
_RETRIES = 5
#: Fewest completed trials before the parameter importances are plotted.
MIN_TRIALS_FOR_IMPORTANCE = 4
_OPTUNA_HINT = 'neurorec tune needs Optuna; install it with: pip install "neurorec[tune]" (or: pip install optuna)'


class TuneError(RuntimeError):
    """The search ran but gave nothing to use: no trial completed, or every worker failed."""


def _optuna():
    try:
        import optuna
    except ImportError as exc:
        raise ImportError(f"{_OPTUNA_HINT} ({exc})") from exc
    return optuna


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    msg = text[0] if text else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# ------------------------------------------------------------------------------------------
# result
# ------------------------------------------------------------------------------------------

@dataclass
class TuneResult:
    """What :func:`tune` found and wrote.

    Attributes
    ----------
    study : optuna.Study
        The study (reads its storage on access: ``study.trials_dataframe()``).
    best_params : dict
        The best trial's values of the searched parameters.
    best_value : float
        Its validation score.
    best_trial : int
        Its number.
    test : pandas.DataFrame
        The :func:`compare` rows of ``"<name>-tuned"`` on ``test_seeds`` (empty without them).
    plots : dict
        ``name -> Path`` of the PNG files written (``optimization_history``, ``slice``,
        ``param_importances``).
    model, task, metric, direction : str
        The model's name, the task's name, the task's metric, ``"minimize"``/``"maximize"``.
    params : dict
        The tuned model's full parameters (base parameters and ``best_params``).
    space : dict
        The checked search space.
    storage : str
        The study's storage (URL or journal file); ``study_name`` its name.
    store : Path or None
        The result store of the test runs.
    out : Path
        The output folder; ``trials_csv`` the table of every trial.
    counts : dict
        Finished trials by state (``COMPLETE``, ``PRUNED``, ``FAIL``).
    errors : list of str
        One message per failed trial (its number and error) and per failed worker.
    seconds : float
        Wall-clock time of the call.
    """

    study: Any
    best_params: dict
    best_value: float
    best_trial: int
    test: Any
    plots: dict
    model: str
    task: str
    metric: str
    direction: str
    params: dict
    space: dict
    storage: str
    study_name: str
    store: Path | None
    out: Path
    trials_csv: Path | None = None
    counts: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    seconds: float = math.nan

    @property
    def test_score(self) -> float:
        """Mean test score of the tuned model over the test seeds (NaN without test runs)."""
        df = self.test
        if df is None or len(df) == 0:
            return math.nan
        rows = df[(df["split"] == "test") & (df["metric"] == self.metric) & (df["status"] == "ok")]
        return float(rows["value"].mean()) if len(rows) else math.nan

    def __repr__(self) -> str:
        return (f"TuneResult({self.model} on {self.task}: best validation {self.metric} {self.best_value:.6g} "
                f"(trial {self.best_trial}), test {self.test_score:.6g}, params {self.best_params}, "
                f"{sum(self.counts.values())} trials in study {self.study_name!r})")


# ------------------------------------------------------------------------------------------
# storage
# ------------------------------------------------------------------------------------------

def storage_of(storage, out: Path | None = None) -> tuple[str, str]:
    """``(kind, where)`` of a storage argument: ``("rdb", URL)`` or ``("journal", path)``.

    ``None`` gives ``sqlite:///<out>/tune.db``; ``"journal:///path"`` or a path ending ``.log``/
    ``.journal`` a journal file; a path ending ``.db``/``.sqlite``/``.sqlite3`` an SQLite file;
    anything with ``://`` an SQLAlchemy URL.
    """
    if storage is None:
        if out is None:
            raise SpecError("storage: give a storage URL or an output folder")
        return "rdb", f"sqlite:///{Path(out).resolve() / 'tune.db'}"
    if isinstance(storage, os.PathLike):
        storage = os.fspath(storage)
    if not isinstance(storage, str) or not storage:
        raise SpecError(f"storage must be a URL (sqlite:///tune.db, journal:///tune.log, postgresql://...) "
                        f"or a file path, got {storage!r}")
    if storage.startswith("journal://"):
        path = storage[len("journal://"):]
        if not path:
            raise SpecError(f"storage {storage!r}: give the journal file's path, e.g. journal:///tmp/tune.log")
        return "journal", str(Path(path).resolve())
    if "://" in storage:
        return "rdb", storage
    suffix = Path(storage).suffix.lower()
    if suffix in (".log", ".journal"):
        return "journal", str(Path(storage).resolve())
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "rdb", f"sqlite:///{Path(storage).resolve()}"
    raise SpecError(f"storage {storage!r}: not a URL nor a .db/.sqlite or .log/.journal file; give e.g. "
                    f"sqlite:///tune.db, journal:///tune.log or an SQLAlchemy URL (postgresql://...)")


def _describe(kind: str, where: str) -> str:
    return f"journal:///{where.lstrip('/')}" if kind == "journal" else where


def _open_storage(kind: str, where: str):
    optuna = _optuna()
    if kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(where))
    kwargs = {}
    if where.startswith("sqlite"):
        # several workers write one SQLite file: wait for its lock instead of failing at 5 s
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    return optuna.storages.RDBStorage(where, **kwargs)


# ------------------------------------------------------------------------------------------
# the objective
# ------------------------------------------------------------------------------------------

def _takes(fit, name: str) -> bool:
    import inspect

    try:
        params = inspect.signature(fit).parameters
    except (TypeError, ValueError):
        return False
    return name in params


class Objective:
    """One trial: build the model with the trial's values, fit on train, score validation.

    Picklable (it is shipped to worker processes); the task's data are loaded once per
    process, on the first trial.
    """

    def __init__(self, cls: type, params: Mapping, space: Mapping, task, seed: int, *,
                 metric: str, maximize: bool, prune: bool):
        self.cls = cls
        self.params = dict(params)
        self.space = dict(space)
        self.task = task
        self.seed = int(seed)
        self.metric = metric
        self.maximize = bool(maximize)
        self.prune = bool(prune)
        self._data = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_data"] = None
        return state

    def data(self):
        if self._data is None:
            self._data = self.task.load(self.seed)
        return self._data

    def _reporter(self, trial):
        optuna = _optuna()

        def report(epoch, record):
            v = record.get("val_loss")
            if v is None or not math.isfinite(float(v)):
                return
            trial.report(-float(v) if self.maximize else float(v), int(epoch))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after epoch {epoch} (validation loss {float(v):.4g})")

        return report

    def __call__(self, trial) -> float:
        optuna = _optuna()
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        values = suggest(trial, self.space)
        try:
            data = self.data()
            # no checkpoint shared by the trials, no progress bar per trial
            quiet = {k: v for k, v in (("checkpoint", None), ("progress", False)) if k in self.params}
            model = build_model(self.cls, {**self.params, **quiet, **values}, {}, self.seed)
            train, val = data.train, data.val
            kwargs = {}
            if _takes(model.fit, "X_val") and _takes(model.fit, "y_val"):
                kwargs.update(X_val=val.X, y_val=val.y)
            if self.prune and _takes(model.fit, "callbacks"):
                kwargs["callbacks"] = [self._reporter(trial)]
            model.fit(train.X, train.y, **kwargs)
            value = float(self.task.score(val, model.predict(val.X)))
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            trial.set_user_attr("error", _one_line(exc)[:1000])
            raise
        if not math.isfinite(value):
            msg = f"the validation {self.metric} is {value}"
            trial.set_user_attr("error", msg)
            raise FloatingPointError(msg)
        return value


# ------------------------------------------------------------------------------------------
# workers
# ------------------------------------------------------------------------------------------

def _sampler_for(sampler, seed: int, n_done: int, worker: int):
    optuna = _optuna()
    if sampler is None:
        s = int(np.random.SeedSequence([int(seed), int(n_done), int(worker)]).generate_state(1)[0])
        return optuna.samplers.TPESampler(seed=s)
    if worker > 0 and hasattr(sampler, "reseed_rng"):
        sampler.reseed_rng()     # the workers' copies must not propose the same points
    return sampler


def _pruner_of(pruner):
    optuna = _optuna()
    if pruner is True:
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    if pruner is None or pruner is False:
        return optuna.pruners.NopPruner()
    if not isinstance(pruner, optuna.pruners.BasePruner):
        raise SpecError(f"pruner must be True, False or an optuna pruner, got {pruner!r}")
    return pruner


def _optimize(payload: dict) -> dict:
    """Run ``payload["n_trials"]`` trials of the study in this process; return the counts."""
    optuna = _optuna()
    from optuna.trial import TrialState

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        storage = payload.get("storage_obj") or _open_storage(*payload["storage"])
        study = optuna.load_study(study_name=payload["study_name"], storage=storage,
                                  sampler=_sampler_for(payload["sampler"], payload["seed"], payload["n_done"],
                                                       payload["worker"]),
                                  pruner=_pruner_of(payload["pruner"]))
        objective = payload["objective"]
        stop = optuna.study.MaxTrialsCallback(
            payload["trials"], states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
        if payload.get("threads"):
            _limit_threads(int(payload["threads"]))
        ran = [0]

        def count(_study, _trial):
            ran[0] += 1

        timeout = payload["timeout"]
        deadline = None if timeout is None else time.monotonic() + timeout
        for attempt in range(1, _RETRIES + 1):
            left = payload["n_trials"] - ran[0]
            if left <= 0 or (deadline is not None and time.monotonic() >= deadline):
                break
            try:
                study.optimize(objective, n_trials=left,
                               timeout=None if deadline is None else max(deadline - time.monotonic(), 1e-3),
                               callbacks=[stop, count], catch=(Exception,),
                               show_progress_bar=payload.get("progress", False))
                break
            except Exception as exc:  # noqa: BLE001 - a storage error outside the objective: retry
                if attempt == _RETRIES:
                    raise
                logger.warning("tune worker %s: %s; retrying", payload["worker"], _one_line(exc))
                time.sleep(0.2 * attempt)
                _fail_orphans(study, own=True)
    finally:
        optuna.logging.set_verbosity(level)
    return {"worker": payload["worker"], "pid": os.getpid(), "host": socket.gethostname()}


def _limit_threads(n: int) -> None:
    """Give this worker process ``n`` CPU threads: the BLAS pools now, torch's pool now if it is
    loaded, else when it is imported (it reads ``OMP_NUM_THREADS``), without importing torch."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover
        pass
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n)


def _local_worker(payload: dict, parent_pid: int, conn) -> None:
    """Entry point of a local worker process (spawned)."""
    from neurorec.experiment.executors import _die_with_parent

    _die_with_parent(parent_pid)
    try:
        conn.send(("ok", _optimize(payload)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent as one line
        try:
            conn.send(("error", _one_line(exc)))
        except Exception:  # noqa: BLE001
            pass
        raise SystemExit(1) from None
    finally:
        conn.close()


def _finished(study) -> int:
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)))


def _run_local(payloads: list[dict], study, trials: int, progress: bool) -> list[str]:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    procs = []
    for p in payloads:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_local_worker, args=(p, os.getpid(), send), name=f"neurorec-tune-{p['worker']}")
        proc.start()
        send.close()
        procs.append((proc, recv))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=trials, initial=_finished(study), unit="trial", dynamic_ncols=True)
    errors = []
    try:
        pending = list(procs)
        while pending:
            proc, recv = pending[0]
            proc.join(timeout=1.0)
            if bar is not None:
                bar.n = min(_finished(study), trials)
                bar.refresh()
            if proc.is_alive():
                pending.append(pending.pop(0))
                continue
            pending.pop(0)
            msg = None
            try:
                if recv.poll():
                    msg = recv.recv()
            except (EOFError, OSError):
                msg = None
            if msg is None or msg[0] != "ok":
                why = msg[1] if msg else f"exit status {proc.exitcode}"
                errors.append(f"worker {proc.name} failed: {why}")
    except BaseException:
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()
        for proc, _ in procs:
            proc.join(timeout=10)
        raise
    finally:
        if bar is not None:
            bar.close()
    return errors


def _run_dask(payloads: list[dict], executor: str, scheduler, slurm, n_jobs: int) -> list[str]:
    try:
        from neurorec.experiment.executors import dask_client
    except ImportError as exc:  # pragma: no cover - an older executors module
        raise ImportError(f"executor {executor!r} needs neurorec.experiment.executors.dask_client ({exc})") from exc
    errors = []
    with dask_client(executor, scheduler=scheduler, n_workers=n_jobs, slurm=slurm) as client:
        futures = [client.submit(_optimize, p, pure=False, key=f"neurorec-tune-{p['study_name']}-{p['worker']}-"
                                                              f"{time.time_ns()}") for p in payloads]
        for fut in futures:
            try:
                fut.result()
            except Exception as exc:  # noqa: BLE001 - a dead worker: the others' trials count
                errors.append(f"dask worker failed: {_one_line(exc)}")
    return errors


def _fail_orphans(study, own: bool = False) -> int:
    """Mark FAIL the RUNNING trials whose worker is gone (see the module doc), or with ``own``
    those of this process only (left by an error in the storage); return how many."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    storage = study._storage
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(t.user_attrs.get("worker", ""))
        w_host, _, w_pid = worker.rpartition(":")
        mine = w_host == host and w_pid == str(os.getpid())
        if own and not mine:
            continue
        if not own and w_host == host and w_pid.isdigit() and not mine and _alive(int(w_pid)):
            continue
        try:   # (a finished trial takes no more attributes: the message goes first)
            storage.set_trial_user_attr(t._trial_id, "error", "its worker was killed (or failed); marked FAIL "
                                                             "when the study was resumed")
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                n += 1
        except Exception:  # noqa: BLE001 - finished meanwhile by a live worker
            pass
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------------------------------
# plots
# ------------------------------------------------------------------------------------------

def _save(ax, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig = np.ravel(ax)[0].figure if isinstance(ax, np.ndarray) else ax.figure
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def write_plots(study, out: Path, n_params: int) -> dict:
    """Optuna's optimisation history, slice and (with >= 2 parameters and enough completed
    trials) parameter-importance plots as PNG files in ``out``; ``name -> path``."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    optuna = _optuna()
    from optuna.trial import TrialState
    from optuna.visualization import matplotlib as vis

    n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    plots = {}
    todo = [("optimization_history", vis.plot_optimization_history), ("slice", vis.plot_slice)]
    if n_params >= 2 and n_complete >= MIN_TRIALS_FOR_IMPORTANCE:
        todo.append(("param_importances", vis.plot_param_importances))
    if n_complete == 0:
        todo = todo[:1]
    for name, fn in todo:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                plots[name] = _save(fn(study), out / f"{name}.png")
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plot Optuna cannot draw for this study
            logger.warning("tune: plot %s not written: %s", name, _one_line(exc))
    return plots


# ------------------------------------------------------------------------------------------
# specs
# ------------------------------------------------------------------------------------------

def _model_spec(model) -> ModelSpec:
    if isinstance(model, ModelSpec):
        return model
    if isinstance(model, (str, type)):
        cls = resolve_class(model)
        return normalize_models({cls.__name__: {"class": cls}})[0]
    if isinstance(model, Mapping):
        spec = dict(model)
        if "name" not in spec:
            if "model" in spec:
                spec["name"] = type(spec["model"]).__name__
            else:
                ref = spec.get("class")
                if ref is None:
                    raise SpecError("model spec needs a 'class' (or 'model') entry")
                spec["name"] = resolve_class(ref).__name__
        return normalize_models([spec])[0]
    return normalize_models([model])[0]


def _task_spec(task) -> TaskSpec:
    specs = normalize_tasks(task)
    if len(specs) != 1:
        raise SpecError(f"tune takes one task, got {len(specs)}")
    return specs[0]


def _inside(params: Mapping, space: Mapping) -> dict:
    """The values of ``params`` that lie inside ``space`` (its grid, its choices)."""
    out = {}
    for k, r in space.items():
        v = params.get(k)
        if r["type"] == "categorical":
            if any(type(v) is type(c) and v == c for c in r["choices"]):
                out[k] = v
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not r["low"] <= v <= r["high"]:
            continue
        if r["type"] == "int" and (not isinstance(v, int)):
            continue
        if r["step"] is not None and not math.isclose((v - r["low"]) / r["step"], round((v - r["low"]) / r["step"])):
            continue
        out[k] = v
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


# ------------------------------------------------------------------------------------------
# tune
# ------------------------------------------------------------------------------------------

def tune(model, task, *, trials: int = 50, seed: int = 0, space: Mapping | None = None, storage=None,
         study_name: str | None = None, n_jobs: int = 1, executor: str = "local", scheduler=None,
         slurm: Mapping | None = None, store=None, out=None, timeout: float | None = None, pruner=True,
         test_seeds=(0,), progress: bool = False, sampler=None, start_from_base: bool = True) -> TuneResult:
    """Search the hyperparameters of ``model`` on ``task``'s validation split with Optuna.

    Parameters
    ----------
    model : str, class, model instance or spec dict
        As :func:`compare` takes them: a class name in :mod:`neurorec.models` (``"ESN"``), a
        ``"package.module:Class"``, a class, an instance (its parameters are the base), or
        ``{"name", "class", "params", "overrides"}`` (the task's overrides join the base).
    task : str, task object or spec dict
        One task (``"narma10"``, ``{"name": "narma10", "params": {...}}``, a task object).
    trials : int
        Finished trials (complete, pruned or failed) the study holds at the end, counting
        those of an earlier call on the same study.
    seed : int
        The task split's seed, every trial model's ``seed`` and the sampler's seed.
    space : dict, optional
        Parameter -> range (see :mod:`neurorec.experiment.spaces`), merged over the model
        class's ``_search_space``: a range replaces the declared one, ``None`` drops the
        parameter. Checked before any trial (:class:`SpecError`).
    storage : str or path, optional
        ``sqlite:///<out>/tune.db`` by default; an SQLAlchemy URL; ``"journal:///path.log"``
        or a path ending ``.log``/``.journal`` (a journal file); a path ending ``.db``.
    study_name : str, optional
        Default ``"<model name>-<task name>"``. The same storage and name resume the study.
    n_jobs : int
        Workers sharing the study (``-1``: one per CPU). Local workers are processes started
        with ``spawn``, each with ``CPUs // n_jobs`` threads.
    executor : {"local", "dask", "slurm"}
        ``"dask"``/``"slurm"`` run the workers on a Dask cluster from
        :func:`neurorec.experiment.executors.dask_client` (``scheduler``: an address or a
        client; ``slurm``: the SLURM options); the storage must be reachable from them (a
        database server, or an SQLite/journal file on a shared file system).
    store : path or store, optional
        The result store of the test runs (default ``<out>/results.sqlite``).
    out : path, optional
        Output folder (default ``results/tune/<study name>``).
    timeout : float, optional
        Seconds after which each worker starts no new trial.
    pruner : bool or optuna pruner
        ``True``: :class:`optuna.pruners.MedianPruner` (5 startup trials, 5 warm-up epochs) on
        the per-epoch validation loss of gradient-trained models; ``False``: no pruning.
    test_seeds : list of int
        Seeds of the final test runs of the best parameters (``()``: none).
    progress : bool
        A progress bar over trials.
    sampler : optuna sampler, optional
        Default :class:`optuna.samplers.TPESampler` seeded from ``seed`` (another seed per worker).
    start_from_base : bool
        The first trial of a new study tries the base parameters (those of them inside the
        space), so that the best trial is never worse on validation than the untuned model.

    Returns
    -------
    TuneResult

    Raises
    ------
    SpecError
        Before any trial: an unknown model or task, a model that does not run on the task, a
        bad search space, a storage that cannot be opened or written, a study made for other
        settings.
    TuneError
        No trial completed (the message gives the first errors).
    """
    t_start = time.perf_counter()
    optuna = _optuna()
    from optuna.trial import TrialState

    if isinstance(trials, bool) or not isinstance(trials, (int, np.integer)) or trials < 1:
        raise SpecError(f"trials must be a positive integer, got {trials!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs == 0 or n_jobs < -1:
        raise SpecError(f"n_jobs must be a positive integer (or -1 for one per CPU), got {n_jobs!r}")
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    if scheduler is not None and executor == "local":
        executor = "dask"
    if executor not in EXECUTORS:
        raise SpecError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "slurm" and scheduler is not None:
        raise SpecError("scheduler names a running Dask scheduler; it cannot be used with executor 'slurm', which "
                        "starts its own (leave one of them out)")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise SpecError(f"timeout must be a positive number of seconds, got {timeout!r}")
    test_seeds = [] if test_seeds is None or len(test_seeds) == 0 else normalize_seeds(test_seeds)
    pruner_obj = _pruner_of(pruner)

    m = _model_spec(model)
    t = _task_spec(task)
    if not m.supports(t.kind, t.name):
        kinds = ", ".join(sorted(m.supported_kinds(t.name) or ()))
        raise SpecError(f"{m.name} ({m.cls.__name__}) does not run on {t.kind!r} tasks such as {t.name} "
                        f"(it supports: {kinds})")
    params = {**m.params, **m.overrides_for(t.name)}
    full_space = resolve_space(m.cls, params, space)
    maximize = t.higher_is_better
    direction = "maximize" if maximize else "minimize"
    name = study_name or f"{m.name}-{t.name}"
    if not isinstance(name, str) or not name:
        raise SpecError(f"study_name must be a non-empty string, got {study_name!r}")
    out = Path(out) if out is not None else Path("results") / "tune" / _safe(name)
    if executor != "local":
        from neurorec.experiment.executors import import_dask

        import_dask()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    if executor == "slurm":   # the SLURM jobs' output beside the study's other files
        slurm = {**dict(slurm or {}), "log_directory": (slurm or {}).get("log_directory") or str(out / "slurm-logs")}
    kind, where = storage_of(storage, out)
    desc = _describe(kind, where)

    data = t.task.load(int(seed))
    if getattr(data, "val", None) is None:
        raise SpecError(f"task {t.name} has no validation split for seed {seed}: tune scores trials on it "
                        f"(the test split is kept for the end)")
    objective = Objective(m.cls, params, full_space, t.task, int(seed), metric=t.metric, maximize=maximize,
                          prune=not isinstance(pruner_obj, optuna.pruners.NopPruner))
    identity = canonical({"model_class": m.class_path, "params": params, "task": t.spec, "seed": int(seed),
                          "space": full_space, "direction": direction})

    # -- the study: created (or loaded) and written to before any trial ---------------------
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage_obj = _open_storage(kind, where)
        study = optuna.create_study(storage=storage_obj, study_name=name, load_if_exists=True,
                                    direction=direction, sampler=_sampler_for(sampler, seed, 0, 0),
                                    pruner=pruner_obj)
        if study.direction.name.lower() != direction:
            raise SpecError(f"study {name!r} in {desc} {study.direction.name.lower()}s, but {t.name}'s "
                            f"{t.metric} needs {direction}; choose another study name (--study)")
        stored = study.user_attrs.get("neurorec")
        if stored is not None and json.dumps(stored, sort_keys=True) != json.dumps(identity, sort_keys=True):
            diff = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
            raise SpecError(f"study {name!r} in {desc} was made with another {', '.join(diff)}; choose another "
                            f"study name (--study) or the same settings to resume it")
        study.set_user_attr("neurorec", identity)      # also proves the storage is writable
    except SpecError:
        raise
    except ImportError as exc:
        raise SpecError(f"cannot open the study storage {desc}: {_one_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy, OS or Optuna errors: one line
        raise SpecError(f"cannot open or write the study storage {desc}: {_one_line(exc)}; give a writable "
                        f"storage (sqlite:///path/tune.db, journal:///path/tune.log or an SQLAlchemy URL)") from None
    finally:
        optuna.logging.set_verbosity(level)

    if start_from_base and not study.get_trials(deepcopy=False):
        start = _inside(params, full_space)
        if start:
            study.enqueue_trial(start, user_attrs={"start": "base parameters"})
    orphans = _fail_orphans(study)
    if orphans:
        logger.warning("tune: %d trial(s) of study %r left running by a killed worker marked FAIL", orphans, name)
    n_done = _finished(study)
    live = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
    remaining = max(0, int(trials) - n_done - live)

    # -- the trials --------------------------------------------------------------------------
    errors: list[str] = []
    objective._data = data
    base = {"storage": (kind, where), "study_name": name, "objective": objective, "sampler": sampler,
            "pruner": pruner, "seed": int(seed), "n_done": n_done, "trials": int(trials), "timeout": timeout}
    here = {**base, "storage_obj": storage_obj, "worker": 0, "progress": progress, "threads": None}
    workers = max(1, min(n_jobs, remaining))
    with contextlib.ExitStack() as stack:
        if remaining and executor != "local":
            # the cluster first: an unreachable scheduler or a job request SLURM refuses fails before any trial
            from neurorec.experiment.executors import dask_client

            scheduler = stack.enter_context(dask_client(executor, scheduler=scheduler, n_workers=workers,
                                                        slurm=slurm))
        errors += _trials(study, here, base, remaining, workers, n_jobs, executor, scheduler, slurm, trials,
                          progress)

    # -- the best trial, its test score, the plots --------------------------------------------
    all_trials = study.get_trials(deepcopy=False)
    counts = {s: sum(1 for tr in all_trials if tr.state.name == s) for s in _FINISHED}
    failed = [f"trial {tr.number}: {tr.user_attrs.get('error', 'failed')}" for tr in all_trials
              if tr.state == TrialState.FAIL]
    errors = errors + failed
    try:
        best = study.best_trial
    except ValueError:
        first = "; ".join(errors[:3]) or "no trial ran"
        raise TuneError(f"no trial of study {name!r} completed ({counts['PRUNED']} pruned, {counts['FAIL']} "
                        f"failed): {first}") from None
    best_params = dict(best.params)
    tuned_params = {**params, **best_params}
    trials_csv = out / "trials.csv"
    try:
        study.trials_dataframe().to_csv(trials_csv, index=False)
    except Exception as exc:  # noqa: BLE001 - the table is a convenience
        logger.warning("tune: %s not written: %s", trials_csv, _one_line(exc))
        trials_csv = None
    plots = write_plots(study, out, len(full_space))

    import pandas as pd

    from neurorec.experiment.compare import COLUMNS, compare

    store_path = None
    if test_seeds:
        if store is None:
            store = out / "results.sqlite"
        if isinstance(store, (str, os.PathLike)):
            store_path = Path(store)
        test = compare({f"{m.name}-tuned": {"class": m.cls, "params": tuned_params}}, [t], test_seeds,
                       store=store, progress=False)
        _drop_older_tuned(store, f"{m.name}-tuned", t.name, test_seeds, set(test["run_key"]))
    else:
        test = pd.DataFrame(columns=COLUMNS)
    return TuneResult(study=study, best_params=best_params, best_value=float(best.value), best_trial=best.number,
                      test=test, plots=plots, model=m.name, task=t.name, metric=t.metric, direction=direction,
                      params=tuned_params, space=full_space, storage=desc, study_name=name, store=store_path,
                      out=out, trials_csv=trials_csv, counts=counts, errors=errors,
                      seconds=time.perf_counter() - t_start)


def _drop_older_tuned(store, model: str, task: str, seeds, keep: set) -> None:
    """Remove from ``store`` the test runs of ``model`` ("<name>-tuned") on ``task`` and ``seeds``
    made with earlier best parameters (a resumed study whose best trial changed), so that the
    store holds one tuned run per seed: the current best's."""
    from neurorec.experiment.store import SQLiteStore

    own = isinstance(store, (str, os.PathLike))
    st = SQLiteStore(store) if own else store
    try:
        if not hasattr(st, "delete") or getattr(st, "read_only", False):
            return
        old = [r["run_key"] for r in st.runs() if r.get("model") == model and r.get("task") == task
               and int(r.get("seed", -1)) in set(seeds) and r["run_key"] not in keep]
        if old:
            st.delete(old)
            logger.info("tune: replaced %d stored test run(s) of %s on %s made with earlier best parameters",
                        len(old), model, task)
    finally:
        if own:
            st.close()


def _trials(study, here: dict, base: dict, remaining: int, workers: int, n_jobs: int, executor: str, scheduler,
            slurm, trials: int, progress: bool) -> list[str]:
    """Run the ``remaining`` trials: the enqueued ones here, the rest on ``workers`` workers; returns
    the workers' errors."""
    from optuna.trial import TrialState

    errors: list[str] = []
    if remaining and (workers > 1 or executor != "local"):
        # enqueued (WAITING) trials, such as the base parameters, run here first: two workers
        # popping the same waiting trial from an SQLite storage may both run it, and the second
        # one's result is refused
        waiting = min(remaining, len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))))
        if waiting:
            _optimize({**here, "n_trials": waiting, "progress": False})
            remaining -= waiting
            workers = max(1, min(n_jobs, remaining))
    if remaining:
        shares = [remaining // workers + (1 if i < remaining % workers else 0) for i in range(workers)]
        if executor == "local" and workers == 1:
            _optimize({**here, "n_trials": shares[0]})
        else:   # (the workers load the data themselves: Objective does not pickle them)
            threads = max(1, (os.cpu_count() or 1) // workers) if executor == "local" else None
            payloads = [{**base, "worker": i, "n_trials": n, "threads": threads} for i, n in enumerate(shares)]
            if executor == "local":
                errors += _run_local(payloads, study, int(trials), progress)
            else:
                errors += _run_dask(payloads, executor, scheduler, slurm, workers)
            if errors:
                _fail_orphans(study)   # the trials a dead worker left RUNNING
            running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
            short = int(trials) - _finished(study) - running
            if errors and short > 0:   # a worker died: its missing trials run here
                logger.warning("tune: %s; running the %d missing trial(s) in this process", errors[0], short)
                _optimize({**here, "worker": workers, "n_trials": short})

    return errors


# ------------------------------------------------------------------------------------------
# TOML
# ------------------------------------------------------------------------------------------

_TUNE_KEYS = {"model", "task", "trials", "seed", "seeds", "jobs", "executor", "scheduler", "slurm", "storage",
              "study", "timeout", "pruner", "exclude", "space", "out"}
_TOP_KEYS = {"tune", "models", "tasks", "experiment", "slurm"}


def load_tune_config(path) -> dict:
    """Read a tuning config (TOML).

    .. code-block:: toml

        [tune]
        model = "ESN-300"        # a [[models]] name below, or a class name (optional with one model)
        task = "narma10"         # a [[tasks]] name below, or a registered task (optional with one task)
        trials = 100
        seed = 0                 # split, model and sampler seed of the search
        seeds = [0, 1, 2]        # test seeds of the best parameters
        jobs = 2                 # workers sharing the study
        # executor = "local"     # or "dask", "slurm" (with a [slurm] or [tune.slurm] table, as in compare
                                 # configs), scheduler = "tcp://..."
        # storage = "sqlite:///results/tune.db"   or "journal:///shared/tune.log"
        # study = "esn-narma10"
        # timeout = 600          # seconds per worker
        # pruner = true
        exclude = ["bias_scaling"]   # declared parameters not to search

        [tune.space.units]       # added to (or replacing) the model's declared space
        low = 100
        high = 1000
        type = "int"
        log = true

        [[models]]               # as in compare configs
        name = "ESN-300"
        class = "ESN"
        params = { units = 300 }

        [[tasks]]
        name = "narma10"

    Returns ``{"path", "tune": {...}, "models": [...], "tasks": [...]}``; the ``[tune]`` keys
    are checked here (:class:`~neurorec.experiment.ConfigError` naming the file and key), the
    models, tasks and space when they are resolved.
    """
    from neurorec.experiment.config import ConfigError

    path = Path(path)
    where = str(path)
    try:
        doc = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: unknown key (allowed here: {', '.join(sorted(_TOP_KEYS))})")
    cfg = doc.get("tune", {})
    if not isinstance(cfg, dict):
        raise ConfigError(f"{where}: tune: must be a table ([tune])")
    unknown = sorted(set(cfg) - _TUNE_KEYS)
    if unknown:
        raise ConfigError(f"{where}: tune.{unknown[0]}: unknown key (allowed here: {', '.join(sorted(_TUNE_KEYS))})")

    def check(key, ok, what):
        if key in cfg and not ok(cfg[key]):
            raise ConfigError(f"{where}: tune.{key}: must be {what}, got {cfg[key]!r}")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    check("model", lambda v: isinstance(v, str) and v, "a model name")
    check("task", lambda v: isinstance(v, str) and v, "a task name")
    check("trials", lambda v: is_int(v) and v >= 1, "a positive integer")
    check("seed", lambda v: is_int(v) and v >= 0, "a non-negative integer")
    check("seeds", lambda v: isinstance(v, list) and all(is_int(s) and s >= 0 for s in v), "a list of seeds")
    check("jobs", lambda v: is_int(v) and (v >= 1 or v == -1), "a positive integer (or -1)")
    check("executor", lambda v: v in EXECUTORS, f"one of {', '.join(EXECUTORS)}")
    check("scheduler", lambda v: isinstance(v, str) and v, "an address such as tcp://host:8786")
    check("slurm", lambda v: isinstance(v, dict), "a table ([tune.slurm])")
    if "slurm" not in cfg and isinstance(doc.get("slurm"), dict):   # the [slurm] table compare configs use
        cfg["slurm"] = doc["slurm"]
    if "slurm" in cfg:
        from neurorec.experiment.executors import ExecutorError, check_slurm_options

        try:
            cfg["slurm"] = check_slurm_options(dict(cfg["slurm"]))
        except ExecutorError as exc:
            raise ConfigError(f"{where}: tune.slurm: {str(exc).removeprefix('slurm: ')}") from None
    check("storage", lambda v: isinstance(v, str) and v, "a URL or a file path")
    check("study", lambda v: isinstance(v, str) and v, "a study name")
    check("out", lambda v: isinstance(v, str) and v, "a folder")
    check("timeout", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "a positive number")
    check("pruner", lambda v: isinstance(v, bool), "true or false")
    check("exclude", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), "a list of parameter names")
    check("space", lambda v: isinstance(v, dict) and all(isinstance(r, dict) for r in v.values()),
          "tables [tune.space.<param>] with keys " + ", ".join(RANGE_KEYS))
    models = doc.get("models", [])
    tasks = doc.get("tasks", [])
    if not isinstance(models, list) or not all(isinstance(x, dict) for x in models):
        raise ConfigError(f"{where}: models: must be [[models]] tables")
    if not isinstance(tasks, list) or not all(isinstance(x, dict) for x in tasks):
        raise ConfigError(f"{where}: tasks: must be [[tasks]] tables")
    return {"path": where, "tune": dict(cfg), "models": models, "tasks": tasks}


def config_choice(items: list[dict], ref: str | None, what: str, where: str):
    """The entry of ``items`` (``[[models]]``/``[[tasks]]``) named ``ref``; ``ref`` itself when no
    entry has that name; the only entry when ``ref`` is None."""
    if ref is None:
        if len(items) == 1:
            return items[0]
        names = ", ".join(str(x.get("name")) for x in items)
        raise SpecError(f"{where}: name the {what} to tune (the config has {len(items)}"
                        f"{': ' + names if names else ''})")
    for x in items:
        if x.get("name") == ref:
            return x
    return ref


def space_of_config(cfg: Mapping) -> dict | None:
    """The ``space`` argument of a ``[tune]`` table: its ``space`` tables, ``exclude`` as None."""
    space = {k: dict(v) for k, v in (cfg.get("space") or {}).items()}
    for k in cfg.get("exclude") or ():
        space[k] = None
    return space or None
