"""Experiment config files (TOML).

.. code-block:: toml

    [experiment]
    name = "default"            # results go to ./results/<name> by default
    seeds = [0, 1, 2]
    description = "optional"
    jobs = 2                    # optional: runs in parallel (the --jobs flag overrides it)
    threads = 1                 # optional: CPU threads per run (the --threads flag overrides it)
    energy_profiles = ["cmos45", "loihi"]   # optional: energy per inference on these chip
                                # profiles (the default); [] turns the operation counting off
    executor = "local"          # optional: "local", "dask" or "slurm" (--executor overrides it)
    scheduler = "tcp://host:8786"   # optional: an existing Dask scheduler (--scheduler)

    [slurm]                     # optional: the "slurm" executor's SLURM jobs (dask-jobqueue)
    partition = "cpu"
    jobs = 4                    # SLURM jobs, each running `processes` Dask workers
    cores = 8                   # CPU cores per job
    processes = 8               # worker processes per job (default: one per core)
    memory = "16GB"             # per job
    walltime = "04:00:00"

    [[models]]
    name = "ESN"                # label in the results (required)
    class = "ESN"               # neurorec.models.ESN, or "package.module:ClassName"
    params = { units = 300, spectral_radius = 0.9 }
    # tasks = ["narma10"]       # optional: run only on these tasks (skipped on the others)
    [models.overrides.narma10]  # parameters changed for one task
    leak_rate = 1.0

    [[tasks]]
    name = "mackey_glass"       # neurorec.data.get_task(name, **params)
    params = { }
    # class = "package.module:TaskClass"   (optional: a task class outside the registry)

:func:`load_config` checks the file and raises :class:`ConfigError`, whose message names the
file and the key, on unknown keys, missing names, wrong types, and overrides or model
``tasks`` lists that name tasks that are not in the file. A model's ``tasks`` list is not part
of the run key: editing it and re-running resumes the runs already stored. Classes and task
names are resolved later, by :func:`~neurorec.experiment.compare`; so are the profile names of
``energy_profiles`` (:func:`energy_profiles` gives the list to pass, the default when the file
has none).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["load_config", "ConfigError", "default_config_path", "energy_profiles", "DEFAULT_ENERGY_PROFILES"]

_TOP = {"experiment", "models", "tasks", "slurm", "tune"}
_EXPERIMENT = {"name", "seeds", "description", "jobs", "threads", "energy_profiles", "executor", "scheduler"}

#: Profiles priced when a config has no ``energy_profiles``: the 45 nm CMOS MAC baseline
#: (Horowitz 2014) and Loihi (Davies et al. 2018).
DEFAULT_ENERGY_PROFILES = ("cmos45", "loihi")
_MODEL = {"name", "class", "params", "overrides", "tasks"}
_TASK = {"name", "class", "params"}


class ConfigError(ValueError):
    """An invalid experiment config; the message names the file and the key."""


def default_config_path():
    """The packaged ``default.toml`` (ESN vs a linear autoregressive baseline)."""
    return resources.files("neurorec.experiment").joinpath("configs", "default.toml")


def energy_profiles(cfg: dict) -> list[str]:
    """The chip profiles a loaded config asks energy estimates for: its ``[experiment]
    energy_profiles``, or :data:`DEFAULT_ENERGY_PROFILES` when it has none (``[]``: none)."""
    return list(cfg["experiment"].get("energy_profiles", DEFAULT_ENERGY_PROFILES))


def _type(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
            dict: "table"}.get(type(v), type(v).__name__)


def load_config(path) -> dict:
    """Read and check an experiment config.

    Returns
    -------
    dict
        ``{"path": str, "experiment": {"name", "seeds", "description", "jobs", "threads"
        [, "energy_profiles"]},
        "models": [{"name", "class", "params", "overrides"[, "tasks"]}],
        "tasks": [{"name", "params"[, "class"]}]}``, ready for
        ``compare(cfg["models"], cfg["tasks"], cfg["experiment"]["seeds"])``.
    """
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such config file") from None
    except (IsADirectoryError, PermissionError, OSError) as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where}: not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: invalid TOML: {exc}") from None
    stem = Path(getattr(path, "name", "experiment")).stem or "experiment"
    return _validate(doc, where, stem)


def _fail(where: str, key: str, msg: str):
    raise ConfigError(f"{where}: {key}: {msg}")


def _check_keys(where: str, key: str, table: dict, allowed: set) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        prefix = f"{key}." if key else ""
        _fail(where, f"{prefix}{unknown[0]}",
              f"unknown key (allowed here: {', '.join(sorted(allowed))})")


def _table(where: str, key: str, v: Any) -> dict:
    if not isinstance(v, dict):
        _fail(where, key, f"expected a table, got {_type(v)} {v!r}")
    return v


def _string(where: str, key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        _fail(where, key, f"expected a non-empty string, got {_type(v)} {v!r}")
    return v


def _validate(doc: dict, where: str, stem: str) -> dict:
    _check_keys(where, "", doc, _TOP)
    exp = _table(where, "experiment", doc.get("experiment", {}))
    _check_keys(where, "experiment", exp, _EXPERIMENT)
    name = _string(where, "experiment.name", exp.get("name", stem))
    if "/" in name or "\\" in name or name in (".", ".."):
        _fail(where, "experiment.name", f"must not contain path separators, got {name!r}")
    seeds = exp.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds:
        _fail(where, "experiment.seeds", f"expected a non-empty array of integers, got "
                                         f"{_type(seeds)} {seeds!r}")
    for i, s in enumerate(seeds):
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            _fail(where, f"experiment.seeds[{i}]", f"expected a non-negative integer, got "
                                                   f"{_type(s)} {s!r}")
    if len(set(seeds)) != len(seeds):
        _fail(where, "experiment.seeds", f"has duplicates: {seeds}")
    description = exp.get("description", "")
    if not isinstance(description, str):
        _fail(where, "experiment.description", f"expected a string, got {_type(description)}")
    for key in ("jobs", "threads"):
        v = exp.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or (v < 1 and v != -1)
                              or (key == "threads" and v < 1)):
            _fail(where, f"experiment.{key}", f"expected a positive integer, got {_type(v)} {v!r}")

    executor = exp.get("executor")
    if executor is not None and executor not in ("local", "dask", "slurm"):
        _fail(where, "experiment.executor", f"expected \"local\", \"dask\" or \"slurm\", got {executor!r}")
    scheduler = exp.get("scheduler")
    if scheduler is not None:
        _string(where, "experiment.scheduler", scheduler)
    slurm = doc.get("slurm")
    if slurm is not None:
        from neurorec.experiment.executors import ExecutorError, check_slurm_options

        _table(where, "slurm", slurm)
        try:
            slurm = check_slurm_options(dict(slurm))
        except ExecutorError as exc:
            msg = str(exc).removeprefix("slurm: ")
            key = msg.split(" ", 1)[0] if not msg.startswith("unknown") else msg.split("'")[1]
            _fail(where, f"slurm.{key}", msg)

    profiles = exp.get("energy_profiles")
    if profiles is not None:
        if not isinstance(profiles, list):
            _fail(where, "experiment.energy_profiles", f"expected an array of profile names such as "
                                                      f"[\"cmos45\", \"loihi\"], got {_type(profiles)} {profiles!r}")
        for i, pname in enumerate(profiles):
            _string(where, f"experiment.energy_profiles[{i}]", pname)
            if pname in profiles[:i]:
                _fail(where, f"experiment.energy_profiles[{i}]", f"duplicate profile name {pname!r}")

    # tasks first: model overrides refer to them
    tasks_raw = doc.get("tasks")
    if tasks_raw is None:
        _fail(where, "tasks", "missing: add at least one [[tasks]] table with a name")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        _fail(where, "tasks", f"expected [[tasks]] tables (or an array of task names), got "
                              f"{_type(tasks_raw)} {tasks_raw!r}")
    tasks = []
    for i, t in enumerate(tasks_raw):
        key = f"tasks[{i}]"
        if isinstance(t, str):
            t = {"name": t}
        t = _table(where, key, t)
        _check_keys(where, key, t, _TASK)
        if "name" not in t:
            _fail(where, f"{key}.name", "missing: every task needs a name")
        spec = {"name": _string(where, f"{key}.name", t["name"]),
                "params": dict(_table(where, f"{key}.params", t.get("params", {})))}
        if "class" in t:
            spec["class"] = _string(where, f"{key}.class", t["class"])
        tasks.append(spec)
    _unique(where, "tasks", [t["name"] for t in tasks])
    task_names = [t["name"] for t in tasks]

    models_raw = doc.get("models")
    if models_raw is None:
        _fail(where, "models", "missing: add at least one [[models]] table with a name")
    if not isinstance(models_raw, list) or not models_raw:
        _fail(where, "models", f"expected [[models]] tables, got {_type(models_raw)} "
                               f"{models_raw!r}")
    models = []
    for i, m in enumerate(models_raw):
        key = f"models[{i}]"
        m = _table(where, key, m)
        _check_keys(where, key, m, _MODEL)
        if "name" not in m:
            _fail(where, f"{key}.name", "missing: every model needs a name")
        mname = _string(where, f"{key}.name", m["name"])
        cls = _string(where, f"{key}.class", m.get("class", mname))
        params = dict(_table(where, f"{key}.params", m.get("params", {})))
        overrides = _table(where, f"{key}.overrides", m.get("overrides", {}))
        clean = {}
        for tname, ov in overrides.items():
            okey = f"{key}.overrides.{tname}"
            if tname not in task_names:
                _fail(where, okey, f"no task named {tname!r} in [[tasks]] "
                                   f"(tasks: {', '.join(task_names)})")
            clean[tname] = dict(_table(where, okey, ov))
        model = {"name": mname, "class": cls, "params": params, "overrides": clean}
        if "tasks" in m:
            model["tasks"] = _task_names(where, f"{key}.tasks", m["tasks"], task_names)
        models.append(model)
    _unique(where, "models", [m["name"] for m in models])

    experiment = {"name": name, "seeds": list(seeds), "description": description,
                  "jobs": exp.get("jobs"), "threads": exp.get("threads")}
    if profiles is not None:
        experiment["energy_profiles"] = list(profiles)
    if executor is not None:
        experiment["executor"] = executor
    if scheduler is not None:
        experiment["scheduler"] = scheduler
    out = {"path": where, "experiment": experiment, "models": models, "tasks": tasks}
    if slurm is not None:
        out["slurm"] = slurm
    if "tune" in doc:
        out["tune"] = _table(where, "tune", doc["tune"])
    return out


def _task_names(where: str, key: str, v: Any, task_names: list[str]) -> list[str]:
    """A model's ``tasks``: a non-empty array of distinct names of tasks in the file."""
    if not isinstance(v, list) or not v:
        _fail(where, key, f"expected a non-empty array of task names such as [\"digits\"], got "
                          f"{_type(v)} {v!r}")
    for i, name in enumerate(v):
        _string(where, f"{key}[{i}]", name)
        if name in v[:i]:
            _fail(where, f"{key}[{i}]", f"duplicate task name {name!r}")
    unknown = [n for n in v if n not in task_names]
    if unknown:
        _fail(where, key, f"no task named {', '.join(repr(n) for n in unknown)} in [[tasks]] "
                          f"(tasks: {', '.join(task_names)})")
    return list(v)


def _unique(where: str, key: str, names: list[str]) -> None:
    for i, n in enumerate(names):
        if n in names[:i]:
            _fail(where, f"{key}[{i}].name", f"duplicate name {n!r}: names must be unique")
