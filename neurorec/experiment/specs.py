"""Model and task specifications: normalising what the user passes, and the run key.

:func:`compare` accepts models and tasks in several shapes (instances, names, spec dicts
from a config file). Everything is normalised here into :class:`ModelSpec` and
:class:`TaskSpec`, which know how to build a fresh model / the task, and which give the
stable JSON description hashed into each run's key.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ModelSpec", "TaskSpec", "SpecError", "resolve_class", "class_path",
           "normalize_models", "normalize_tasks", "normalize_seeds", "check_model_tasks", "run_key",
           "canonical", "data_fingerprint"]

_MODEL_KEYS = {"name", "class", "params", "overrides", "model", "tasks"}
_TASK_KEYS = {"name", "class", "params"}


class SpecError(ValueError):
    """A model or task specification that cannot be resolved (unknown class, bad params)."""


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------

def class_path(cls: type) -> str:
    """``"package.module:QualName"`` of a class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def resolve_class(ref: str | type, *, default_module: str = "neurorec.models") -> type:
    """Return the class named by ``ref``.

    A bare name (``"ESN"``) is an attribute of ``default_module``; a dotted
    ``"package.module:ClassName"`` (or ``"package.module.ClassName"``) is imported.
    """
    if isinstance(ref, type):
        return ref
    if not isinstance(ref, str) or not ref:
        raise SpecError(f"class must be a class name or 'package.module:ClassName', got {ref!r}")
    if ":" in ref:
        module, _, attr = ref.partition(":")
    elif "." in ref:
        module, _, attr = ref.rpartition(".")
    else:
        module, attr = default_module, ref
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise SpecError(f"cannot import module {module!r} for class {ref!r}: {exc}") from exc
    obj: Any = mod
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            extra = ""
            if module == default_module:
                names = sorted(getattr(mod, "__all__", []))
                extra = f" (available: {', '.join(names)})" if names else ""
            raise SpecError(f"module {module!r} has no class {attr!r}{extra}") from None
    if not isinstance(obj, type):
        raise SpecError(f"{ref!r} is not a class (it is a {type(obj).__name__})")
    return obj


def canonical(value: Any) -> Any:
    """A JSON-able, order-independent form of ``value`` used for hashing and storing."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, np.ndarray):
        digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
        return {"ndarray": digest, "shape": list(value.shape), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return canonical(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type):
        return class_path(value)
    if hasattr(value, "get_params"):  # a nested estimator
        return {"class": class_path(type(value)), "params": canonical(value.get_params(deep=False))}
    return repr(value)


def _feed(h, value: Any) -> None:
    """Feed ``value`` (arrays, sequences, mappings, dataclasses, named tuples, scalars) into the
    hash ``h``, in a form that tells apart shapes, dtypes and containers."""
    if isinstance(value, np.ndarray):
        h.update(f"A{value.dtype.str}{value.shape}".encode())
        if value.dtype == object:
            for v in value.ravel():
                _feed(h, v)
        else:
            h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        h.update(f"M{len(value)}".encode())
        for k in sorted(value, key=str):
            _feed(h, str(k))
            _feed(h, value[k])
    elif isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for v in value:
            _feed(h, v)
    elif hasattr(value, "__dataclass_fields__"):
        h.update(f"D{type(value).__qualname__}".encode())
        for name in value.__dataclass_fields__:
            _feed(h, name)
            _feed(h, getattr(value, name))
    elif value is None or isinstance(value, (bool, int, float, str, bytes, np.generic)):
        h.update(f"S{type(value).__name__}:{value!r}".encode())
    elif _is_pandas(value):  # a DataFrame or Series: its values, index and column labels
        h.update(f"P{type(value).__name__}".encode())
        _feed(h, value.to_numpy())
        _feed(h, value.index.to_numpy())
        if hasattr(value, "columns"):
            _feed(h, value.columns.to_numpy())
    elif hasattr(value, "__array__") or hasattr(value, "__array_interface__"):
        # a torch tensor (moved to the host first), a jax or cupy array, anything numpy can read
        h.update(f"T{type(value).__qualname__}".encode())
        to_host = getattr(value, "detach", None)
        if callable(to_host):
            value = value.detach().cpu()
        _feed(h, np.asarray(value))
    elif isinstance(value, (range, set, frozenset)) or hasattr(value, "__iter__") and hasattr(value, "__len__"):
        h.update(f"I{type(value).__qualname__}".encode())
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else list(value)
        _feed(h, items)
    else:  # a fitted scaler or another helper object: what it holds, else its pickle
        h.update(f"O{type(value).__qualname__}".encode())
        state = getattr(value, "__dict__", None)
        if isinstance(state, dict) and state:
            _feed(h, {k: v for k, v in state.items() if not k.startswith("__")})
        else:
            import pickle

            try:
                h.update(pickle.dumps(value, protocol=4))
            except Exception:  # noqa: BLE001 - cannot be read: say so (data_fingerprint warns)
                raise _Unhashable(type(value).__qualname__) from None


class _Unhashable(TypeError):
    """Data of a type whose content cannot be read for the fingerprint."""


def _is_pandas(value) -> bool:
    mod = type(value).__module__
    return mod.startswith("pandas") and hasattr(value, "to_numpy") and hasattr(value, "index")


def data_fingerprint(task: Any, seed: int) -> str:
    """A fingerprint of the data ``task`` gives for ``seed``, part of every run key so that a
    task whose data changed under the same name and parameters runs again.

    A task may define ``fingerprint(seed) -> str`` (e.g. a file's digest) to make this cheap;
    otherwise it is the SHA-256 (16 hex digits) of everything ``task.load(seed)`` returns (the
    splits' arrays, shapes and dtypes, the class count, the fitted scalers; torch tensors, pandas
    frames and other array-likes by their values). A task whose ``load`` raises gets a
    fingerprint naming the error: its runs are made and record it.
    """
    custom = getattr(task, "fingerprint", None)
    if callable(custom):
        return str(custom(seed))
    h = hashlib.sha256()
    try:
        data = task.load(seed)
    except Exception as exc:  # noqa: BLE001 - the run itself reports the failure
        return f"load-failed:{type(exc).__name__}"
    try:
        _feed(h, data)
    except _Unhashable as exc:
        import warnings

        warnings.warn(f"task {getattr(task, 'name', task)!r}: its data hold a {exc.args[0]}, whose content "
                      f"neurorec cannot read for the run key; give the task a fingerprint(seed) method, "
                      f"or a change of its data under the same name will not be noticed", stacklevel=3)
        return f"unhashable:{exc.args[0]}"
    return h.hexdigest()[:16]


def _dumps(value: Any) -> str:
    return json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))


def run_key(model_key: Mapping, task_key: Mapping, seed: int, data: str | None = None) -> str:
    """Stable key of one run: a SHA-256 (32 hex digits) of the model spec (name, class,
    parameters and this task's overrides), the task spec, the seed and ``data``, the
    fingerprint of the task's data for that seed (:func:`data_fingerprint`; what
    :func:`~neurorec.experiment.compare` passes). The neurorec version is left out so that a
    re-run with a newer version resumes (as long as the data are the same)."""
    key = {"model": model_key, "task": task_key, "seed": int(seed)}
    if data is not None:
        key["data"] = str(data)
    payload = _dumps(key)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


# ------------------------------------------------------------------------------------------
# models
# ------------------------------------------------------------------------------------------

@dataclass
class ModelSpec:
    """A model to run: a name, its class, its parameters, per-task overrides, and optionally
    the only tasks it runs on.

    ``tasks`` (``None``: every task of the grid) restricts the model to the named tasks; on
    the others its runs are recorded as skipped. It is not part of the run key, so changing
    the list and re-running resumes the runs already stored.
    """

    name: str
    cls: type
    params: dict
    overrides: dict = field(default_factory=dict)
    tasks: tuple[str, ...] | None = None

    @property
    def class_path(self) -> str:
        return class_path(self.cls)

    def overrides_for(self, task_name: str) -> dict:
        return dict(self.overrides.get(task_name, {}))

    def key(self, task_name: str) -> dict:
        """What identifies this model on ``task_name`` (hashed into the run key)."""
        return {"name": self.name, "class": self.class_path, "params": self.params,
                "overrides": self.overrides_for(task_name)}

    def supported_kinds(self, task_name: str) -> frozenset | None:
        """The task kinds this model handles with ``task_name``'s overrides (``None``: any).

        ``_supported_kinds`` may be a class attribute or a property that depends on the
        hyperparameters, so it is read from an instance."""
        kinds = getattr(self.build(task_name), "_supported_kinds", None)
        return None if kinds is None else frozenset(kinds)

    def supports(self, kind: str, task_name: str) -> bool:
        kinds = self.supported_kinds(task_name)
        return kinds is None or kind in kinds

    def predicts_symbols(self) -> bool:
        """Whether the model predicts integer symbols (``_predicts_symbols``), which only a task
        with a symbol read-out (``symbol_readout``) can score."""
        return bool(getattr(self.cls, "_predicts_symbols", False))

    def runs_on(self, task_name: str) -> bool:
        """Whether ``task_name`` is in the model's task list (always, without a list)."""
        return self.tasks is None or task_name in self.tasks

    def build(self, task_name: str, seed: int | None = None):
        """A fresh, unfitted model with this task's overrides and ``seed`` (if the model has
        a ``seed`` parameter)."""
        return build_model(self.cls, self.params, self.overrides_for(task_name), seed)

    def payload(self, task_name: str) -> dict:
        """The plain (picklable) description shipped to a worker."""
        return {"name": self.name, "cls": self.cls, "params": self.params,
                "overrides": self.overrides_for(task_name)}


def build_model(cls: type, params: Mapping, overrides: Mapping, seed: int | None):
    model = cls(**params)
    if overrides:
        model.set_params(**overrides)
    if seed is not None and "seed" in model.get_params(deep=False):
        model.set_params(seed=int(seed))
    return model


def _model_from_instance(name: str, model: Any, overrides: Mapping | None = None,
                         tasks: tuple[str, ...] | None = None) -> ModelSpec:
    if not hasattr(model, "get_params") or not hasattr(model, "fit"):
        raise SpecError(f"model {name!r} is a {type(model).__name__}, which has no get_params/fit; "
                        f"pass a neurorec model, a class name or a spec dict")
    return ModelSpec(name, type(model), dict(model.get_params(deep=False)), dict(overrides or {}), tasks)


def _task_list(value: Any, where: str) -> tuple[str, ...] | None:
    """A model's ``tasks`` key: ``None``, or a non-empty list of distinct task names."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise SpecError(f"{where}: 'tasks' must be a list of task names such as [\"digits\"], got "
                        f"{type(value).__name__} {value!r}")
    if not value:
        raise SpecError(f"{where}: 'tasks' is an empty list; leave it out to run the model on every task")
    bad = [v for v in value if not isinstance(v, str) or not v]
    if bad:
        raise SpecError(f"{where}: 'tasks' must hold non-empty task names (strings), got {bad[0]!r}")
    dupes = sorted({v for v in value if list(value).count(v) > 1})
    if dupes:
        raise SpecError(f"{where}: 'tasks' names {dupes} more than once")
    return tuple(value)


def _model_from_dict(spec: Mapping, where: str, default_name: str | None = None) -> ModelSpec:
    unknown = set(spec) - _MODEL_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_MODEL_KEYS)}")
    name = spec.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: a model spec needs a non-empty string 'name'")
    overrides = spec.get("overrides") or {}
    if not isinstance(overrides, Mapping) or not all(isinstance(v, Mapping) for v in overrides.values()):
        raise SpecError(f"{where}: 'overrides' must map task names to {{param: value}} tables")
    overrides = {str(k): dict(v) for k, v in overrides.items()}
    tasks = _task_list(spec.get("tasks"), f"{where} ({name})")
    if "model" in spec:
        if "class" in spec or "params" in spec:
            raise SpecError(f"{where}: give either 'model' (an instance) or 'class'/'params'")
        return _model_from_instance(name, spec["model"], overrides, tasks)
    try:
        cls = resolve_class(spec.get("class", name))
    except SpecError as exc:
        raise SpecError(f"{where} ({name}): {exc}") from None
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise SpecError(f"{where}: 'params' must be a table/dict, got {type(params).__name__}")
    try:
        instance = cls(**params)
    except TypeError as exc:
        raise SpecError(f"{where} ({name}): cannot build {cls.__name__}(**params): {exc}") from None
    if not hasattr(instance, "get_params"):
        raise SpecError(f"{where} ({name}): {cls.__name__} has no get_params(); not a model class")
    return ModelSpec(name, cls, dict(instance.get_params(deep=False)), overrides, tasks)


def check_model_tasks(models: list[ModelSpec], task_names: Iterable[str]) -> None:
    """Raise :class:`SpecError` if a model's ``tasks`` list names a task not in the grid."""
    known = list(task_names)
    for m in models:
        unknown = [t for t in (m.tasks or ()) if t not in known]
        if unknown:
            raise SpecError(f"model {m.name!r}: 'tasks' names {unknown}, which are not tasks of this grid "
                            f"(tasks: {known})")


def normalize_models(models: Any) -> list[ModelSpec]:
    """Models as a dict ``name -> instance | spec``, or a list of instances / spec dicts."""
    if isinstance(models, Mapping):
        items = []
        for name, m in models.items():
            if isinstance(m, Mapping):
                items.append(_model_from_dict(m, f"models[{name!r}]", default_name=str(name)))
            else:
                items.append(_model_from_instance(str(name), m))
    elif isinstance(models, Iterable) and not isinstance(models, (str, bytes)):
        items = []
        for i, m in enumerate(models):
            if isinstance(m, ModelSpec):
                items.append(m)
            elif isinstance(m, Mapping):
                items.append(_model_from_dict(m, f"models[{i}]"))
            else:
                items.append(_model_from_instance(type(m).__name__, m))
    elif hasattr(models, "fit"):
        items = [_model_from_instance(type(models).__name__, models)]
    else:
        raise SpecError(f"models must be a dict name -> model, or a list of models or spec dicts; "
                        f"got {type(models).__name__}")
    if not items:
        raise SpecError("models is empty")
    names = [m.name for m in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"duplicate model name(s) {dupes}: give each model its own name "
                        f"(pass a dict name -> model)")
    for m in items:
        for task_name, ov in m.overrides.items():
            try:
                m.build(task_name)
            except (TypeError, ValueError) as exc:
                raise SpecError(f"model {m.name!r}: bad overrides for task {task_name!r} "
                                f"{ov}: {exc}") from None
    return items


# ------------------------------------------------------------------------------------------
# tasks
# ------------------------------------------------------------------------------------------

@dataclass
class TaskSpec:
    """A task to run: the label used in results, the task object and its description."""

    name: str
    task: Any
    spec: dict

    @property
    def kind(self) -> str:
        return str(getattr(self.task, "kind", ""))

    @property
    def metric(self) -> str:
        return str(getattr(self.task, "metric", ""))

    @property
    def higher_is_better(self) -> bool:
        return bool(getattr(self.task, "higher_is_better", False))


def _task_spec_of(task: Any, fallback: Mapping) -> dict:
    spec = None
    if hasattr(task, "spec"):
        try:
            spec = task.spec()
        except Exception:  # noqa: BLE001 - a broken spec() falls back to what we know
            spec = None
    if not isinstance(spec, Mapping):
        spec = dict(fallback)
    return dict(spec)


def _check_task(task: Any, where: str) -> None:
    missing = [a for a in ("name", "kind", "metric", "load", "score") if not hasattr(task, a)]
    if missing:
        raise SpecError(f"{where}: {type(task).__name__} is not a task (missing {missing})")


def _task_from_dict(spec: Mapping, where: str) -> TaskSpec:
    unknown = set(spec) - _TASK_KEYS
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TASK_KEYS)}")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: a task spec needs a non-empty string 'name'")
    params = spec.get("params") or {}
    if not isinstance(params, Mapping):
        raise SpecError(f"{where}: 'params' must be a table/dict, got {type(params).__name__}")
    params = dict(params)
    if spec.get("class"):
        try:
            cls = resolve_class(spec["class"], default_module="neurorec.data")
        except SpecError as exc:
            raise SpecError(f"{where} ({name}): {exc}") from None
        try:
            task = cls(**params)
        except TypeError as exc:
            raise SpecError(f"{where} ({name}): cannot build {cls.__name__}(**params): {exc}") from None
        _check_task(task, where)
        key = {"name": name, "class": class_path(cls), "params": params}
        return TaskSpec(name, task, {**_task_spec_of(task, key), "class": class_path(cls)})
    task = _get_task(name, params, where)
    _check_task(task, where)
    return TaskSpec(name, task, _task_spec_of(task, {"name": name, "params": params}))


def _get_task(name: str, params: dict, where: str):
    try:
        from neurorec.data import get_task
    except ImportError as exc:
        raise SpecError(f"{where}: cannot look up task {name!r}: neurorec.data is not importable "
                        f"({exc})") from exc
    try:
        return get_task(name, **params)
    except (KeyError, TypeError, ValueError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise SpecError(f"{where}: task {name!r} with params {params}: {msg}") from None


def normalize_tasks(tasks: Any) -> list[TaskSpec]:
    """Tasks as names, task objects or spec dicts ``{"name", "params"[, "class"]}``."""
    if isinstance(tasks, (str, Mapping, TaskSpec)) or hasattr(tasks, "load"):
        tasks = [tasks]
    items = []
    for i, t in enumerate(tasks):
        where = f"tasks[{i}]"
        if isinstance(t, TaskSpec):
            items.append(t)
        elif isinstance(t, str):
            items.append(_task_from_dict({"name": t}, where))
        elif isinstance(t, Mapping):
            items.append(_task_from_dict(t, where))
        else:
            _check_task(t, where)
            items.append(TaskSpec(str(t.name), t, _task_spec_of(t, {"name": str(t.name)})))
    if not items:
        raise SpecError("tasks is empty")
    names = [t.name for t in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SpecError(f"duplicate task name(s) {dupes}: each task in a grid needs its own name")
    return items


def normalize_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        raise SpecError(f"seeds must be a list of ints such as [0, 1, 2], got the int {seeds}")
    try:
        out = list(seeds)
    except TypeError:
        raise SpecError(f"seeds must be a list of ints, got {type(seeds).__name__}") from None
    for s in out:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise SpecError(f"seeds must be non-negative ints, got {s!r}")
    out = [int(s) for s in out]
    if not out:
        raise SpecError("seeds is empty")
    if len(set(out)) != len(out):
        raise SpecError(f"seeds has duplicates: {out}")
    return out
