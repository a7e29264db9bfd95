"""Search spaces for :func:`~neurorec.experiment.tune`: declaring, merging and checking them.

A search space maps hyperparameter names to ranges, in one plain form used by the model
classes (their ``_search_space`` class attribute), by the ``space=`` argument of
:func:`~neurorec.experiment.tune` and by the ``[tune.space.<param>]`` tables of a TOML file::

    {"spectral_radius": {"low": 0.1, "high": 1.5},                  # a float, uniform
     "ridge": {"low": 1e-9, "high": 1e-1, "log": True},             # a float, log-uniform
     "units": {"low": 50, "high": 1000, "type": "int", "log": True},  # an int
     "batch_size": {"low": 16, "high": 256, "step": 16},            # an int on a grid
     "encoder": {"choices": ["current", "poisson", "delta"]}}       # categorical

Keys of one range: ``low`` and ``high`` (inclusive bounds), ``log`` (sample on a log scale;
needs ``low > 0``), ``step`` (a grid; not with ``log``), ``type`` (``"float"``, ``"int"`` or
``"categorical"``; default: ``"categorical"`` with ``choices``, else the type of the model's
default value of that parameter, an ``int`` default giving an integer range) and
``choices`` (a non-empty list of numbers, strings, booleans or ``None``).

:func:`resolve_space` merges a model's declared space with the user's (a range given for a
parameter replaces the declared one; ``None`` drops the parameter) and checks it before
any trial: an unknown parameter, an unknown key, an empty range (``low >= high``), a log
range with ``low <= 0``, empty choices, or a bound the model itself refuses (a
``spectral_radius`` below 0, a ``dropout`` of 1) raise one :class:`SpecError` naming the
parameter and what to change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from neurorec.experiment.specs import SpecError

__all__ = ["default_space", "resolve_space", "suggest", "RANGE_KEYS"]

#: The keys a range may have.
RANGE_KEYS = ("low", "high", "log", "step", "type", "choices")
_TYPES = ("float", "int", "categorical")


def default_space(cls: type) -> dict:
    """A copy of the search space ``cls`` declares (its ``_search_space``), ``{}`` if none."""
    space = getattr(cls, "_search_space", None) or {}
    return {str(k): dict(v) for k, v in space.items()}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_range(name: str, spec: Any, default: Any, where: str) -> dict:
    """One range in its checked, complete form ``{"type", "low", "high", "log", "step"}`` or
    ``{"type": "categorical", "choices"}``."""
    fix = f"fix {where}.{name}"
    if not isinstance(spec, Mapping):
        raise SpecError(f"{where}.{name} must be a table such as {{low = 0.1, high = 1.0}} or "
                        f"{{choices = [...]}}, got {type(spec).__name__} {spec!r}")
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise SpecError(f"{where}.{name}: unknown key {unknown[0]!r} (allowed: {', '.join(RANGE_KEYS)})")
    kind = spec.get("type")
    if kind is not None and kind not in _TYPES:
        raise SpecError(f"{where}.{name}: type must be one of {', '.join(_TYPES)}, got {kind!r}")
    if "choices" in spec or kind == "categorical":
        extra = sorted(k for k in spec if k in ("low", "high", "log", "step"))
        if extra:
            raise SpecError(f"{where}.{name}: a categorical range has only 'choices'; remove {extra[0]!r}")
        choices = spec.get("choices")
        if isinstance(choices, (str, bytes)) or not isinstance(choices, (list, tuple)):
            raise SpecError(f"{where}.{name}: choices must be a list such as [\"a\", \"b\"], got {choices!r}")
        if not choices:
            raise SpecError(f"{where}.{name}: choices is empty; list at least one value ({fix})")
        bad = [c for c in choices if not (c is None or isinstance(c, (bool, int, float, str)))]
        if bad:
            raise SpecError(f"{where}.{name}: choices must be numbers, strings, booleans or None "
                            f"(Optuna stores them as such), got {bad[0]!r}")
        if len({repr(c) for c in choices}) != len(choices):
            raise SpecError(f"{where}.{name}: choices has duplicates: {list(choices)}")
        return {"type": "categorical", "choices": list(choices)}
    for key in ("low", "high"):
        if key not in spec:
            raise SpecError(f"{where}.{name}: needs '{key}' (or 'choices' for a categorical parameter)")
        if not _is_number(spec[key]) or not math.isfinite(spec[key]):
            raise SpecError(f"{where}.{name}: {key} must be a finite number, got {spec[key]!r}")
    low, high = spec["low"], spec["high"]
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise SpecError(f"{where}.{name}: log must be true or false, got {log!r}")
    if kind is None:
        kind = "int" if isinstance(default, int) and not isinstance(default, bool) else "float"
    step = spec.get("step")
    if step is not None:
        if not _is_number(step) or not step > 0:
            raise SpecError(f"{where}.{name}: step must be a positive number, got {step!r}")
        if log:
            raise SpecError(f"{where}.{name}: step and log cannot be combined; remove one")
    if kind == "int":
        for key, v in (("low", low), ("high", high), ("step", step)):
            if v is not None and float(v) != int(v):
                raise SpecError(f"{where}.{name}: an int range needs an integer {key}, got {v!r}")
        low, high = int(low), int(high)
        step = None if step is None else int(step)
    else:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    if not low < high:
        raise SpecError(f"{where}.{name}: empty range: low ({low!r}) must be below high ({high!r}); "
                        f"{fix} (use choices = [{low!r}] to fix a value)")
    if log and low <= 0:
        raise SpecError(f"{where}.{name}: a log range needs low > 0, got low = {low!r}; {fix} "
                        f"(or set log = false)")
    return {"type": kind, "low": low, "high": high, "log": log, "step": step}


def _check_model_accepts(cls: type, params: Mapping, name: str, value: Any, where: str) -> None:
    """Build the model with ``name=value`` and run its own parameter checks."""
    try:
        model = cls(**{**params, name: value})
        check = getattr(model, "_validate_params", None)
        if callable(check):
            check()
    except (TypeError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"{where}.{name}: {cls.__name__} refuses {name}={value!r} ({msg}); "
                        f"change the range of {name}") from None


def resolve_space(cls: type, params: Mapping, space: Mapping | None = None, *,
                  where: str = "tune.space") -> dict:
    """The checked search space of ``cls`` with base ``params`` (its ``get_params()``).

    ``space`` extends or overrides the class's declared space: a range replaces the declared
    one, ``None`` (or ``False``) drops the parameter. Raises :class:`SpecError` (one line naming
    the parameter) on an unknown parameter, a malformed or empty range, or a bound the model
    refuses; also when the resulting space is empty.
    """
    merged: dict[str, Any] = default_space(cls)
    if space is not None:
        if not isinstance(space, Mapping):
            raise SpecError(f"{where} must be a dict/table parameter -> range, got {type(space).__name__}")
        known = dict(params)
        for k, v in space.items():
            if v is None or v is False:
                if str(k) not in merged:
                    close = [p for p in sorted(merged) if str(k).lower()[:4] in p.lower()]
                    hint = f"; did you mean {', '.join(close[:3])}?" if close else ""
                    why = "no parameter" if str(k) not in known else "no declared range for"
                    raise SpecError(f"{where}.{k}: cannot leave it out of the search: {cls.__name__} has {why} "
                                    f"{str(k)!r}{hint} (searched: {', '.join(sorted(merged)) or 'nothing'})")
                merged.pop(str(k))
            else:
                merged[str(k)] = v
    known = dict(params)
    out = {}
    for name, spec in merged.items():
        if name not in known:
            close = [p for p in sorted(known) if name.lower() in p.lower() or p.lower() in name.lower()]
            hint = f"; did you mean {', '.join(close[:3])}?" if close else ""
            raise SpecError(f"{where}.{name}: {cls.__name__} has no parameter {name!r}{hint} "
                            f"(its parameters: {', '.join(sorted(known))})")
        if name == "seed":
            raise SpecError(f"{where}.seed: the seed is not a hyperparameter to tune; set tune(seed=...) "
                            f"(--seed) instead")
        rng = _check_range(name, spec, known[name], where)
        values = rng["choices"] if rng["type"] == "categorical" else [rng["low"], rng["high"]]
        for v in values:
            _check_model_accepts(cls, known, name, v, where)
        out[name] = rng
    if not out:
        raise SpecError(f"{cls.__name__} declares no search space and none was given: pass "
                        f"space={{param: {{low, high}}}} or add [tune.space.<param>] tables")
    return out


def suggest(trial, space: Mapping) -> dict:
    """Draw one value of every parameter of a checked ``space`` from an Optuna ``trial``."""
    out = {}
    for name, r in space.items():
        if r["type"] == "categorical":
            out[name] = trial.suggest_categorical(name, r["choices"])
        elif r["type"] == "int":
            out[name] = trial.suggest_int(name, r["low"], r["high"], step=r["step"] or 1, log=r["log"])
        else:
            out[name] = trial.suggest_float(name, r["low"], r["high"], step=r["step"], log=r["log"])
    return out
