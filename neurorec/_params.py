"""Declarative hyperparameter checks shared by every model.

A model lists what each hyperparameter may be in a class attribute ``_param_spec`` (a dict
from name to a constraint) and calls :func:`check_params` at the start of ``fit`` (and
:func:`neurorec.load` calls it on a loaded file's hyperparameters). A value that breaks its
constraint raises :class:`ParameterError` naming the model, the hyperparameter, the value given
and what is allowed, e.g.::

    ESN(leak_rate='0.5') is invalid: leak_rate must be a real number in (0, 1], got '0.5' (str).

Constraints: :class:`Real` (finite by default; ``bool`` and strings are refused, numpy scalars
accepted), :class:`Int`, :class:`Options` (one of listed values), :class:`Bool` (``True`` /
``False`` / numpy bools, never ``'yes'`` or ``1``), :class:`Seed` (``None``, an int in
``[0, 2**63)`` or a :class:`numpy.random.Generator` / ``SeedSequence``), :class:`Any`
(anything; for values checked elsewhere) and unions with ``|``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["ParameterError", "Real", "Int", "Options", "Bool", "Seed", "Str", "Any", "NoneOK", "check_params"]


class ParameterError(ValueError, TypeError):
    """A hyperparameter has a value its model cannot use. A ValueError (and, since a wrong type
    is one way to be wrong, a TypeError)."""


class _Constraint:
    def ok(self, v) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def __or__(self, other: _Constraint) -> _Constraint:
        return _Union(self, other)


class _Union(_Constraint):
    def __init__(self, *parts: _Constraint):
        self.parts = parts

    def ok(self, v) -> bool:
        return any(p.ok(v) for p in self.parts)

    def describe(self) -> str:
        return " or ".join(p.describe() for p in self.parts)


def _fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:g}" if isinstance(x, float) else str(x)


def _interval(lo, hi, closed: str) -> str:
    left = "[" if closed in ("both", "left") and lo is not None else "("
    right = "]" if closed in ("both", "right") and hi is not None else ")"
    return f"{left}{_fmt(lo) if lo is not None else '-inf'}, {_fmt(hi) if hi is not None else 'inf'}{right}"


def _in(v, lo, hi, closed: str) -> bool:
    if lo is not None and (v < lo or (v == lo and closed not in ("both", "left"))):
        return False
    if hi is not None and (v > hi or (v == hi and closed not in ("both", "right"))):
        return False
    return True


class Real(_Constraint):
    """A real number (int or float, not bool) in an interval; finite unless ``finite=False``."""

    def __init__(self, lo=None, hi=None, closed: str = "both", finite: bool = True):
        self.lo, self.hi, self.closed, self.finite = lo, hi, closed, finite

    def ok(self, v) -> bool:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
            return False
        v = float(v)
        if math.isnan(v) or (self.finite and math.isinf(v)):
            return False
        return _in(v, self.lo, self.hi, self.closed)

    def describe(self) -> str:
        if self.lo is None and self.hi is None:
            return "a finite real number" if self.finite else "a real number (not NaN)"
        return f"a real number in {_interval(self.lo, self.hi, self.closed)}"


class Int(_Constraint):
    """An integer (Python or numpy, not bool) in an interval."""

    def __init__(self, lo=None, hi=None, closed: str = "both"):
        self.lo, self.hi, self.closed = lo, hi, closed

    def ok(self, v) -> bool:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            return False
        return _in(int(v), self.lo, self.hi, self.closed)

    def describe(self) -> str:
        if self.lo is not None and self.hi is None and self.closed in ("both", "left"):
            return f"an integer >= {self.lo}"
        return f"an integer in {_interval(self.lo, self.hi, self.closed)}"


class Options(_Constraint):
    """One of the listed values (compared with ``==`` and the same type family)."""

    def __init__(self, *values):
        self.values = values

    def ok(self, v) -> bool:
        for a in self.values:
            if isinstance(a, str):
                if isinstance(v, str) and v == a:
                    return True
            elif a is None:
                if v is None:
                    return True
            elif v is a or (type(v) is type(a) and v == a):
                return True
        return False

    def describe(self) -> str:
        return "one of " + ", ".join(repr(a) for a in self.values)


class Bool(_Constraint):
    """``True`` or ``False`` (numpy bools too); never a string or an int."""

    def ok(self, v) -> bool:
        return isinstance(v, (bool, np.bool_))

    def describe(self) -> str:
        return "True or False"


class Seed(_Constraint):
    """``None``, an int in ``[0, 2**63)``, or a numpy ``Generator`` / ``SeedSequence``."""

    def ok(self, v) -> bool:
        if v is None or isinstance(v, (np.random.Generator, np.random.SeedSequence)):
            return True
        return (isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))
                and 0 <= int(v) < 2 ** 63)

    def describe(self) -> str:
        return "None, an integer in [0, 2**63) or a numpy Generator"


class Str(_Constraint):
    """A non-empty string (e.g. a device name such as ``"cpu"`` or ``"cuda:0"``)."""

    def ok(self, v) -> bool:
        return isinstance(v, str) and len(v) > 0

    def describe(self) -> str:
        return "a non-empty string"


class Any(_Constraint):
    """Anything (the model checks the value itself)."""

    def ok(self, v) -> bool:
        return True

    def describe(self) -> str:
        return "anything"


class NoneOK(_Constraint):
    """``None``."""

    def ok(self, v) -> bool:
        return v is None

    def describe(self) -> str:
        return "None"


def check_params(model, spec: dict | None = None) -> None:
    """Check every hyperparameter of ``model`` named in ``spec`` (default: ``model._param_spec``).

    Raises
    ------
    ParameterError
        For the first hyperparameter whose value breaks its constraint, naming it, the value
        (with its type) and what is allowed.
    """
    if spec is None:
        spec = getattr(model, "_param_spec", {})
    for name, constraint in spec.items():
        v = getattr(model, name)
        if not constraint.ok(v):
            raise ParameterError(f"{type(model).__name__}({name}={v!r}) is invalid: {name} must be "
                                 f"{constraint.describe()}, got {v!r} ({type(v).__name__}).")
