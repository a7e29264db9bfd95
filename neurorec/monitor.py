r"""Streaming monitoring: a fitted forecaster that watches its own error and raises an alarm on drift.

:class:`Monitor` wraps a **fitted one-step forecaster** and feeds it one sample at a time. Each
:meth:`Monitor.update` advances the model's state on the new input, scores the prediction that
the new sample completes, feeds that error to a change detector from river (``ADWIN`` or
``PageHinkley``; neurorec does not re-implement them) and, optionally, re-adapts the model's
linear readout online after an alarm.

Models that can be monitored (stepped one sample at a time with constant memory), and the state
the monitor carries between samples:

- :class:`~neurorec.models.ESN`: the reservoir state ``h`` (``units`` floats), advanced by the
  ESN's own step (the stream machinery of :class:`~neurorec.models.OnlineReservoir`);
- :class:`~neurorec.models.DeepESN`: one state per layer (``sum(units)`` floats);
- :class:`~neurorec.models.OnlineReservoir`: its own stream state (``state_``; an ESN, DeepESN or
  LSM liquid);
- :class:`~neurorec.models.NVAR`: a ring buffer of the last :math:`(k-1)s + 1` inputs, whose last
  row of features is the model's own (:func:`~neurorec.models.nvar.nvar_features`);
- :class:`~neurorec.models.LinearAR`: a ring buffer of the last ``delays`` inputs.

Per-step regressors only (outputs at every step), without output feedback (a feedback ESN generates a
series rather than forecasting an observed one); any other model raises a ``TypeError`` naming
these. Besides the model's weights and that state, the monitor holds the features and
prediction of the last step (``D + outputs`` floats; ``D`` the readout's input size), the
re-adapted readout when ``adapt`` is on (``(D+1) x outputs`` weights, and RLS's
``(D+1) x (D+1)`` matrix :math:`P`), and the detector: ``PageHinkley`` keeps a few floats, ``ADWIN``
its compressed window of the errors since its last detection (river's exponential histogram,
:math:`O(\log W)` buckets for a window of :math:`W` errors: the one part that grows, slowly,
on a stream without change), and the list of alarm steps ``alarms_`` (one entry per alarm, none
per sample). :meth:`Monitor.nbytes` counts the arrays the monitor holds
(river's detector internals aside); it is the same after 100 and after 5,000 updates.

**What is scored.** ``update(x_t, y_t)`` scores the prediction made at step :math:`t` (from the
inputs up to :math:`x_t`) against its target :math:`y_t`. ``update(x_t)`` without a target is
the one-step forecaster's convention: the model forecasts its own next input (outputs ==
features, fitted with ``y[t] = x[t+1]``), so the new sample :math:`x_t` is the target of the
*previous* prediction :math:`\hat x_t` made at step :math:`t-1`, and that pair is scored (the
first step scores nothing: its ``error`` is NaN). The two conventions cannot be mixed on one
stream (:meth:`Monitor.reset` starts another). The per-step error is

.. math::

    e_t = \frac{1}{O}\sum_{o=1}^{O} |\hat y_{t,o} - y_{t,o}|
    \quad (\texttt{"abs\_error"}), \qquad
    e_t = \frac{1}{O}\sum_{o=1}^{O} (\hat y_{t,o} - y_{t,o})^2 \quad (\texttt{"squared\_error"}),

and the detector sees :math:`e_t / \texttt{error\_scale}`. river's detectors are built for
values of order one (ADWIN's bound assumes values in [0, 1]; Page-Hinkley's ``threshold`` and
``delta`` are in the values' units): pass the model's typical error on held-out data as
``error_scale`` so that the same detector settings work across series. The first ``warmup``
steps (the state's start-up transient from rest) are scored but not fed to the detector.

**Alarms.** A step at which the detector signals a change is an alarm (``MonitorStep.drift``,
``Monitor.alarms_``). river's ``ADWIN`` and ``PageHinkley`` clear themselves on the update after
a detection; the monitor replaces the detector by a fresh one from the same parameters at the
alarm, the same thing, so a second change is detected as the first (the alarm steps equal those
of river's detector fed the same errors). A non-finite error (a diverged prediction) raises an
alarm at once and is not fed to the detector.

**Re-adaptation.** With ``adapt="rls"`` or ``"lms"``, after the first alarm the readout learns
online from the incoming targets, one update per step:
:class:`~neurorec.models.readout.RLS` (or :class:`~neurorec.models.readout.LMS`) started from
the model's fitted readout :math:`W_{out}, b_{out}` (for an ESN: its ridge solution), with
:math:`P = I/\alpha` and forgetting factor :math:`\lambda` (``adapt_params``, default
``{"alpha": 0.01, "forgetting": 0.995}``, chosen on a tuning seed by
``experiments/monitor_drift.py --tune``; LMS ``{"learning_rate": 1e-3}``), on the features of the
step that made the prediction (for NVAR with ``difference_``, on the increment
:math:`y - u`). At every later alarm RLS's :math:`P` goes back to :math:`I/\alpha` (the weights are
kept): the readout forgets how sure it was. ``adapt=True`` uses the model's own online readout
(an :class:`~neurorec.models.OnlineReservoir`'s rule and hyperparameters). ``adapt_steps=None``
keeps adapting after the first alarm for ever; an integer stops after that many updates (and
starts again at the next alarm). The monitor adapts its own copy of the model (``model_``); the
model passed in is never changed.

Bad input changes nothing: a sample with the wrong number of features or outputs, or holding
NaN/inf, raises a ``ValueError`` (naming the step) before any state is touched.

Examples
--------
>>> import numpy as np
>>> from neurorec.models import ESN
>>> from neurorec.monitor import Monitor
>>> t = np.arange(6000)
>>> s = (np.sin(0.05 * t) + 0.5 * np.sin(np.where(t < 4000, 0.13, 0.21) * t))[:, None]
>>> esn = ESN(units=100, leak_rate=0.5, washout=100, seed=0).fit(s[:1999], s[1:2000])
>>> mon = Monitor(esn, detector="page_hinkley", error_scale=1e-3,
...               detector_params={"threshold": 50})
>>> run = mon.run(s[2000:])                   # one sample at a time inside
>>> first = int(run.alarms[0]) + 2000          # step of the first alarm, on the series' clock
>>> 4000 <= first < 4200
True
"""

from __future__ import annotations

import copy
import math
import numbers
import types
from typing import NamedTuple

import numpy as np

__all__ = ["Monitor", "MonitorStep", "MonitorRun", "MONITORABLE"]

MONITORABLE = ("ESN", "DeepESN", "OnlineReservoir", "NVAR", "LinearAR")
_METRICS = ("abs_error", "squared_error")
_DETECTORS = {"adwin": "ADWIN", "page_hinkley": "PageHinkley"}
_RLS_DEFAULTS = {"alpha": 0.01, "forgetting": 0.995}     # experiments/monitor_drift.py --tune
_LMS_DEFAULTS = {"learning_rate": 1e-3}


class MonitorStep(NamedTuple):
    """What one :meth:`Monitor.update` saw.

    Attributes
    ----------
    t : int
        The step's index (updates since the monitor was built or reset, from 0).
    prediction : ndarray (outputs,)
        The model's output at this step (the forecast of the next sample for a one-step
        forecaster), from the readout in use at this step (before this step's adaptation).
    error : float
        The error scored at this step (see :class:`Monitor`), NaN when nothing was scored (the
        first step of a stream without targets).
    drift : bool
        The detector raised an alarm at this step.
    mean_error : float
        Mean of the errors scored since the last alarm (or the start), this one included; NaN
        before the first.
    n_alarms : int
        Alarms so far, this one included.
    adapting : bool
        The readout was updated at this step (on the target scored at it).
    """

    t: int
    prediction: np.ndarray
    error: float
    drift: bool
    mean_error: float
    n_alarms: int
    adapting: bool


class MonitorRun(NamedTuple):
    """What :meth:`Monitor.run` returns.

    Attributes
    ----------
    predictions : ndarray (time, outputs)
    errors : ndarray (time,)
        NaN where nothing was scored.
    alarms : ndarray of int
        The steps (monitor step indices, as in ``alarms_``) of the alarms raised during this run.
    """

    predictions: np.ndarray
    errors: np.ndarray
    alarms: np.ndarray


# ------------------------------------------------------------------------------ steppers
# A stepper advances one fitted model by one input sample x (features,) (numpy, model dtype) with
# constant memory and returns (z, prediction): the readout's input features as a float64 vector
# (D,) and the model's own output (outputs,) numpy. ``offset(x)`` is what is added to the readout
# (NVAR's difference). Backend objects (Ops, which hold a module) are rebuilt on use, never kept.
class _ReservoirStepper:
    """ESN / DeepESN: the reservoir stream adapters of :mod:`neurorec.models.online`."""

    def __init__(self, model):
        from neurorec.models.deep import DeepESN

        self.model = model
        self.deep = isinstance(model, DeepESN)
        self.state = self._stream().zeros(1, 0)

    def _stream(self):
        from neurorec.models.online import _DeepESNStream, _ESNStream

        st = self.__dict__.get("_cached")
        if st is None:
            st = (_DeepESNStream if self.deep else _ESNStream)(self.model)
            self.__dict__["_cached"] = st
        return st

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_cached", None)
        return state

    def advance(self, x):
        stream = self._stream()
        ops = stream.ops
        U = ops.asarray(x.reshape(1, 1, -1))
        Z = stream.run(U, self.state)                                   # (1, 1, D)
        if self.deep:                                                   # DeepESN's readout is numpy
            out = ops.to_numpy(Z) @ self.model.W_out_ + self.model.b_out_
        else:
            out = ops.to_numpy(self.model._readout(Z))                  # the ESN's own readout
        return np.asarray(ops.to_numpy(Z), dtype=np.float64).reshape(-1), np.asarray(out).reshape(-1)

    def offset(self, x):
        return 0.0

    def readout(self):
        return np.asarray(self.model.W_out_, np.float64), np.asarray(self.model.b_out_, np.float64)


class _OnlineStepper:
    """OnlineReservoir: its own stream (``_stream().run`` on its live state) and readout rule."""

    def __init__(self, model):
        self.model = model
        model.reset_state()
        model._live_state(1)

    def advance(self, x):
        m = self.model
        stream, rule = m._stream(), m._rule()
        state = m._live_state(1)
        Z = stream.run(stream.ops.asarray(x.reshape(1, 1, -1)), state)             # (1, 1, D)
        m.n_steps_ += 1
        out = rule._get_ops().to_numpy(rule._augment(Z) @ rule._W)                  # as OnlineReservoir.step
        z = np.asarray(stream.ops.to_numpy(Z), dtype=np.float64).reshape(-1)
        return z, out.reshape(-1)

    def offset(self, x):
        return 0.0

    def readout(self):
        return np.asarray(self.model.W_out_, np.float64), np.asarray(self.model.b_out_, np.float64)


class _WindowStepper:
    """NVAR / LinearAR: a ring buffer of the last ``span`` inputs (oldest first, zeros before the
    start, as the models' own features), whose last row of features is the model's own."""

    def __init__(self, model):
        from neurorec.models.nvar import NVAR

        self.model = model
        self.nvar = isinstance(model, NVAR)
        span = (model.delay - 1) * model.strides + 1 if self.nvar else int(model.delays)
        self.buf = np.zeros((span, model.n_features_in_), dtype=np.dtype(model.dtype))

    def advance(self, x):
        from neurorec.backends import get_ops

        m = self.model
        buf = self.buf
        if len(buf) > 1:
            buf[:-1] = buf[1:]
        buf[-1] = x
        ops = get_ops(m.backend, m.device, m.dtype)
        if self.nvar:
            Z = m._features(ops, buf[None])[:, -1]                       # nvar_features, last step
        else:
            from neurorec._validation import SeqBatch
            from neurorec.models.linear import delay_embed

            Z = ops.asarray(delay_embed(SeqBatch(buf[None], np.array([len(buf)])), m.delays)[:, -1])
        out = ops.to_numpy(Z @ ops.asarray(m.W_out_) + ops.asarray(m.b_out_)).reshape(-1)
        if self.nvar and m.difference_:
            out = out + x
        return np.asarray(ops.to_numpy(Z), dtype=np.float64).reshape(-1), out

    def offset(self, x):
        return x.astype(np.float64) if self.nvar and self.model.difference_ else 0.0

    def readout(self):
        return np.asarray(self.model.W_out_, np.float64), np.asarray(self.model.b_out_, np.float64)


def _make_stepper(model):
    from neurorec.models.deep import DeepESN
    from neurorec.models.linear import LinearAR
    from neurorec.models.nvar import NVAR
    from neurorec.models.online import OnlineReservoir
    from neurorec.models.reservoir import ESN

    name = type(model).__name__
    supported = ", ".join(MONITORABLE)
    if isinstance(model, OnlineReservoir):
        if model._stream().feedback:
            raise TypeError("Monitor cannot step an OnlineReservoir with output feedback (a FORCE generator "
                            "runs on its own outputs, not on an observed series); monitorable models: "
                            f"{supported} without feedback.")
        return _OnlineStepper(model)
    if isinstance(model, (NVAR, LinearAR)):
        return _WindowStepper(model)
    if isinstance(model, DeepESN):
        return _ReservoirStepper(model)
    if isinstance(model, ESN):
        for meth in ("_run_chunks", "_features", "_readout", "predict"):
            if getattr(type(model), meth) is not getattr(ESN, meth):
                raise TypeError(f"Monitor cannot step a {name}: it changes ESN.{meth}, so the ESN's step is not its "
                                f"step. Monitorable models: {supported}.")
        if model.feedback:
            raise TypeError("Monitor cannot step an ESN with feedback=True (it generates a series from its own "
                            f"outputs rather than forecasting an observed one); monitorable models: {supported} "
                            "without feedback.")
        return _ReservoirStepper(model)
    raise TypeError(f"Monitor cannot step a {name} one sample at a time with constant memory; monitorable models: "
                    f"{supported} (fitted per-step regressors).")


# ------------------------------------------------------------------------------ detectors
def _detector_factory(detector, params):
    """A function returning a fresh river detector; validates by building one."""
    try:
        from river import drift  # noqa: F401
        from river.base import DriftDetector
    except ImportError as exc:                                         # pragma: no cover
        raise ImportError(f"Monitor needs river for its change detectors: pip install \"neurorec[anomaly]\" (or "
                          f"river) ({exc})") from None
    if isinstance(detector, DriftDetector):
        if params:
            raise ValueError("Monitor(detector=<a river detector>, detector_params=...) : give the parameters to "
                             "the detector itself, or pass its name ('adwin', 'page_hinkley').")
        proto = detector.clone()
        return lambda: proto.clone()
    if not isinstance(detector, str) or detector.lower() not in _DETECTORS:
        raise ValueError(f"Monitor(detector={detector!r}) is invalid: expected 'adwin', 'page_hinkley' or a river "
                         f"drift detector instance.")
    from river import drift

    name = _DETECTORS[detector.lower()]
    cls = getattr(drift, name)
    if params is None:
        params = {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ValueError(f"Monitor(detector_params={params!r}) is invalid: expected a dict of river.drift.{name} "
                         f"arguments or None.")
    params = dict(params)
    _check_ranges(name, params)
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Monitor(detector={detector!r}, detector_params={params!r}) is invalid: river.drift.{name} "
                         f"refused them: {exc}") from None
    return lambda: cls(**params)


def _check_ranges(name: str, params: dict) -> None:
    """The ranges river documents but does not check."""
    def real(k, lo, hi, lo_open=True, hi_open=False):
        if k not in params:
            return
        v = params[k]
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        if not ok:
            lb, rb = "(" if lo_open else "[", ")" if hi_open else "]"
            raise ValueError(f"Monitor(detector_params={{{k!r}: {v!r}}}) is invalid for river.drift.{name}: {k} "
                             f"must be a real number in {lb}{lo}, {hi}{rb}.")

    def integer(k, lo):
        if k in params and (isinstance(params[k], bool) or not isinstance(params[k], numbers.Integral)
                            or params[k] < lo):
            raise ValueError(f"Monitor(detector_params={{{k!r}: {params[k]!r}}}) is invalid for river.drift.{name}: "
                             f"{k} must be an integer >= {lo}.")

    if name == "ADWIN":
        real("delta", 0, 1, hi_open=True)
        for k, lo in (("clock", 1), ("max_buckets", 1), ("min_window_length", 1), ("grace_period", 0)):
            integer(k, lo)
    else:
        real("threshold", 0, math.inf, hi_open=True)
        real("delta", 0, math.inf, lo_open=False, hi_open=True)
        real("alpha", 0, 1)
        integer("min_instances", 1)


# ------------------------------------------------------------------------------ helpers
def _nbytes(obj, seen: set) -> int:
    """Bytes of the numpy arrays and torch tensors reachable from ``obj``."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if type(obj).__module__.startswith("torch") and hasattr(obj, "element_size"):
        return int(obj.element_size() * obj.nelement())
    if isinstance(obj, (str, bytes, numbers.Number, type(None), type, types.ModuleType, types.FunctionType,
                        types.MethodType, types.BuiltinFunctionType)):
        return 0
    if isinstance(obj, dict):
        return sum(_nbytes(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return sum(_nbytes(v, seen) for v in obj)
    d = getattr(obj, "__dict__", None)
    if d is not None:
        return _nbytes(d, seen)
    return 0


def _fitted_check(model) -> None:
    from neurorec.base import Model

    if not isinstance(model, Model):
        raise TypeError(f"Monitor needs a fitted neurorec model ({', '.join(MONITORABLE)}), got "
                        f"{type(model).__name__}.")
    if not model._is_fitted():
        from sklearn.exceptions import NotFittedError

        raise NotFittedError(f"Monitor needs a fitted model: this {type(model).__name__} is not fitted yet; call "
                             f"fit(...) (or partial_fit(...)) before Monitor(model).")
    if getattr(model, "task_", "regression") != "regression":
        raise ValueError(f"Monitor needs a per-step regressor (a forecaster); this {type(model).__name__} was fitted "
                         f"as a {model.task_} model.")


# ------------------------------------------------------------------------------ the monitor
class Monitor:
    r"""A fitted one-step forecaster that takes one sample at a time and watches its own error.

    See the module docstring for what is scored, the models that can be monitored and what is
    kept between samples.

    Parameters
    ----------
    model : ESN, DeepESN, OnlineReservoir, NVAR or LinearAR
        A fitted per-step regressor without output feedback. The monitor works on a copy
        (``model_``); ``model`` is left as it is.
    detector : {"adwin", "page_hinkley"} or a river drift detector, default "adwin"
        river's ``drift.ADWIN`` (Bifet & Gavaldà 2007) or ``drift.PageHinkley`` (Page 1954), or a
        river ``DriftDetector`` instance (cloned; ``detector_params`` must then be None).
    detector_params : dict or None
        river's own arguments: ADWIN ``delta`` (``clock``, ``max_buckets``, ``min_window_length``,
        ``grace_period``); Page-Hinkley ``threshold``, ``delta``, ``alpha``, ``min_instances``
        (``mode``). Checked by building the detector (river's error re-raised as a ValueError
        naming them) and against the ranges river documents.
    metric : {"abs_error", "squared_error"}, default "abs_error"
        The per-step error, averaged over the outputs.
    adapt : {False, "rls", "lms", True}, default False
        Re-adapt the readout online after the first alarm (module docstring). ``True``: the
        model's own online rule (OnlineReservoir only).
    adapt_steps : int or None, default None
        Updates after an alarm before adaptation stops (None: never stops).
    adapt_params : dict or None
        Arguments of :class:`~neurorec.models.readout.RLS` (``alpha``, ``forgetting``; default
        ``{"alpha": 0.01, "forgetting": 0.995}``) or :class:`~neurorec.models.readout.LMS`
        (``learning_rate``, default 1e-3; stable while it stays below :math:`2/\lVert z\rVert^2`).
    warmup : int or "auto", default "auto"
        Leading steps (after construction or :meth:`reset`) whose errors are not fed to the
        detector: the state's transient from rest. ``"auto"``: the model's ``washout`` when it
        has one above 0, else 100 steps for a reservoir; the window span
        :math:`(k-1)s` for NVAR, ``delays - 1`` for LinearAR.
    error_scale : float or None, default None
        The detector sees ``error / error_scale`` (None: 1). River's detectors assume values
        of order one: pass the model's typical error (e.g. its mean error on validation data).

    Attributes
    ----------
    model_ : Model
        The monitor's copy of the model (state and, with ``adapt=True``, readout advanced).
    detector_ : river DriftDetector
        The live detector (a fresh one after every alarm).
    alarms_ : list of int
        The steps at which an alarm was raised.
    t_ : int
        Updates so far.
    rule_ : RLS, LMS or None
        The readout being re-adapted (from the first alarm on, with ``adapt``).
    warmup_ : int
        The resolved ``warmup``.
    """

    def __init__(self, model, detector="adwin", detector_params: dict | None = None, metric: str = "abs_error",
                 adapt=False, adapt_steps: int | None = None, adapt_params: dict | None = None, warmup="auto",
                 error_scale: float | None = None):
        self.model = model
        self.detector = detector
        self.detector_params = detector_params
        self.metric = metric
        self.adapt = adapt
        self.adapt_steps = adapt_steps
        self.adapt_params = adapt_params
        self.warmup = warmup
        self.error_scale = error_scale
        self._validate()
        self.reset()

    # ------------------------------------------------------------------ setup
    def _validate(self) -> None:
        from neurorec.models.online import OnlineReservoir

        _fitted_check(self.model)
        self._new_detector = _detector_factory(self.detector, self.detector_params)
        if self.metric not in _METRICS:
            raise ValueError(f"Monitor(metric={self.metric!r}) is invalid: expected one of {_METRICS}.")
        a = self.adapt
        if not (a is False or a is True or a in ("rls", "lms")):
            raise ValueError(f"Monitor(adapt={a!r}) is invalid: expected False, 'rls', 'lms' or True (the model's own "
                             f"online readout).")
        if a is True and not isinstance(self.model, OnlineReservoir):
            raise ValueError(f"Monitor(adapt=True) means the model's own online readout, which only an OnlineReservoir "
                             f"has; for a {type(self.model).__name__} pass adapt='rls' or 'lms'.")
        s = self.adapt_steps
        if s is not None and (isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1):
            raise ValueError(f"Monitor(adapt_steps={s!r}) is invalid: expected None or an integer >= 1.")
        if self.adapt_params is not None and not isinstance(self.adapt_params, dict):
            raise ValueError(f"Monitor(adapt_params={self.adapt_params!r}) is invalid: expected a dict or None.")
        if self.adapt_params and a not in ("rls", "lms"):
            raise ValueError(f"Monitor(adapt_params=...) is for adapt='rls' or 'lms' (adapt={a!r}).")
        if a in ("rls", "lms"):
            try:
                self._new_rule().initialize(1, 1)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Monitor(adapt={a!r}, adapt_params={self.adapt_params!r}) is invalid: "
                                 f"{exc}") from None
        w = self.warmup
        if not (w == "auto" and isinstance(w, str)) and (isinstance(w, bool) or not isinstance(w, numbers.Integral)
                                                         or w < 0):
            raise ValueError(f"Monitor(warmup={w!r}) is invalid: expected 'auto' or an integer >= 0.")
        e = self.error_scale
        if e is not None and (isinstance(e, bool) or not isinstance(e, numbers.Real) or not 0 < e < math.inf):
            raise ValueError(f"Monitor(error_scale={e!r}) is invalid: expected None or a finite number > 0.")

    def _new_rule(self):
        from neurorec.models.readout import LMS, RLS

        if self.adapt == "rls":
            return RLS(**{**_RLS_DEFAULTS, **(self.adapt_params or {})})
        return LMS(**{**_LMS_DEFAULTS, **(self.adapt_params or {})})

    def _auto_warmup(self) -> int:
        from neurorec.models.linear import LinearAR
        from neurorec.models.nvar import NVAR

        m = self.model
        if isinstance(m, NVAR):
            return (m.delay - 1) * m.strides
        if isinstance(m, LinearAR):
            return int(m.delays) - 1
        w = int(getattr(m, "washout", 0) or 0)
        return w if w > 0 else 100

    def reset(self) -> Monitor:
        """Start again: a fresh copy of ``model`` (state at rest, readout as fitted), a fresh
        detector, no alarms, step 0."""
        self.model_ = copy.deepcopy(self.model)
        self._stepper = _make_stepper(self.model_)
        self.n_features_in_ = int(self.model_.n_features_in_)
        self.n_outputs_ = int(self.model_.n_outputs_)
        self.warmup_ = self._auto_warmup() if self.warmup == "auto" else int(self.warmup)
        self.detector_ = self._new_detector()
        self.alarms_ = []
        self.t_ = 0
        self.rule_ = None
        self._own_rule = False
        self._left = 0                   # adaptation updates left (-1: for ever)
        self._mode = None                # "self" (update(x)) or "target" (update(x, y))
        self._pending = None             # (z, offset, prediction) of the last step, awaiting its target
        self._err_sum, self._err_n = 0.0, 0
        return self

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_new_detector", None)          # a closure: rebuilt from the parameters
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._new_detector = _detector_factory(self.detector, self.detector_params)

    def nbytes(self) -> int:
        """Bytes of the arrays the monitor holds: the model's weights and state, the pending
        features, the readout being adapted (river's detector internals are not counted). Does
        not grow with the stream."""
        seen: set = {id(self.model)}
        return _nbytes({k: v for k, v in vars(self).items() if k != "model"}, seen)

    # ------------------------------------------------------------------ checks
    def _check_x(self, x, t: int, name: str = "x_t", n: int | None = None) -> np.ndarray:
        n = self.n_features_in_ if n is None else n
        what = "features" if name == "x_t" else "outputs"
        if hasattr(x, "detach"):
            x = x.detach().cpu().numpy()
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"Monitor.update: {name} at step {t} must be an array of real numbers, got "
                             f"{type(x).__name__}; nothing was updated.") from None
        if a.ndim == 0 and n == 1:
            a = a.reshape(1)
        if a.ndim != 1 or a.shape[0] != n:
            given = f"{a.shape[0]} {what} given" if a.ndim == 1 else \
                f"one sample is a 1-D array of its {what}; use Monitor.run for several steps"
            raise ValueError(f"Monitor.update: {name} at step {t} must have {n} {what} (shape ({n},)), got shape "
                             f"{a.shape} ({given}); nothing was updated.")
        if not np.isfinite(a).all():
            raise ValueError(f"Monitor.update: {name} at step {t} contains NaN or infinite values; nothing was "
                             f"updated.")
        return a

    def _check_mode(self, mode: str, t: int) -> None:
        if mode == "self" and self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"Monitor.update(x_t) without y_t needs a one-step forecaster of its own input "
                             f"(outputs == features); this model maps {self.n_features_in_} features to "
                             f"{self.n_outputs_} outputs: pass y_t (step {t}; nothing was updated).")
        if self._mode is not None and self._mode != mode:
            was = "update(x_t) (targets from the next sample)" if self._mode == "self" else "update(x_t, y_t)"
            raise ValueError(f"Monitor.update at step {t}: this stream has been scored with {was}; do not mix the two "
                             f"conventions on one stream (reset() starts another). Nothing was updated.")

    # ------------------------------------------------------------------ the step
    def update(self, x_t, y_t=None) -> MonitorStep:
        """Advance on one sample.

        Parameters
        ----------
        x_t : array (features,)
            The input at this step.
        y_t : array (outputs,) or None
            The target of this step's prediction. None: the model forecasts its own input, and
            ``x_t`` is the target of the previous step's prediction (module docstring).

        Returns
        -------
        MonitorStep
        """
        t = self.t_
        x = self._check_x(x_t, t)
        mode = "self" if y_t is None else "target"
        self._check_mode(mode, t)
        y = None if y_t is None else self._check_x(y_t, t, "y_t", self.n_outputs_)
        return self._step(x, y, mode)

    def _step(self, x: np.ndarray, y: np.ndarray | None, mode: str) -> MonitorStep:
        t = self.t_
        self._mode = mode
        xd = x.astype(np.dtype(self.model_.dtype))
        if mode == "self":
            err, drift, adapted = self._score(self._pending, x, t)
            pred = self._advance(xd)
        else:
            pred = self._advance(xd)
            err, drift, adapted = self._score(self._pending, y, t)
        self.t_ = t + 1
        mean = self._err_sum / self._err_n if self._err_n else math.nan
        return MonitorStep(t, pred, err, drift, mean, len(self.alarms_), adapted)

    def _advance(self, xd: np.ndarray) -> np.ndarray:
        z, out = self._stepper.advance(xd)
        off = self._stepper.offset(xd)
        if self.rule_ is not None and not self._own_rule:
            out = self.rule_.predict(z) + off
        with np.errstate(over="ignore"):                # a diverged readout: inf, scored as an alarm
            pred = np.asarray(out, dtype=np.dtype(self.model_.dtype)).reshape(-1)
        self._pending = (z, off, pred)
        return pred

    def _score(self, pending, target: np.ndarray, t: int) -> tuple[float, bool, bool]:
        """Score ``pending`` against ``target``, feed the detector, adapt: (error, alarm, adapted)."""
        if pending is None:
            return math.nan, False, False
        z, off, pred = pending
        d = pred.astype(np.float64) - target
        err = float(np.mean(np.abs(d)) if self.metric == "abs_error" else np.mean(d * d))
        drift = False
        if not math.isfinite(err):
            drift = True
        elif t >= self.warmup_:
            self._err_sum += err
            self._err_n += 1
            self.detector_.update(err / (self.error_scale or 1.0))
            drift = bool(self.detector_.drift_detected)
        if drift:
            self.alarms_.append(t)
            self.detector_ = self._new_detector()
            self._err_sum, self._err_n = (err, 1) if math.isfinite(err) else (0.0, 0)
            if self.adapt:
                self._start_adapting()
        adapted = self.rule_ is not None and self._left != 0 and math.isfinite(err) and bool(np.isfinite(z).all())
        if adapted:
            self.rule_.partial_fit(z, np.asarray(target, dtype=np.float64) - off)
            if self._left > 0:
                self._left -= 1
        return err, drift, adapted

    def _start_adapting(self) -> None:
        from neurorec.models.readout import RLS

        if self.rule_ is None:
            if self.adapt is True:
                self.rule_ = self.model_._rule()
                self._own_rule = True
            else:
                W, b = self._stepper.readout()
                rule = self._new_rule()
                P0 = np.eye(W.shape[0] + bool(rule.fit_bias)) / float(rule.alpha) if isinstance(rule, RLS) else None
                rule._set_state(W, b, P0)
                self.rule_ = rule
        elif isinstance(self.rule_, RLS):                # a new change: forget how sure the readout was
            r = self.rule_
            r._set_state(r.W_out_, r.b_out_, np.eye(r._W.shape[0]) / float(r.alpha), r.n_updates_)
        self._left = -1 if self.adapt_steps is None else int(self.adapt_steps)

    # ------------------------------------------------------------------ whole arrays
    def run(self, X, Y=None) -> MonitorRun:
        """Stream ``X`` (time, features) (and targets ``Y`` (time, outputs), or (time,) for one
        output) through :meth:`update`, one step at a time. The whole of ``X`` and ``Y`` is
        checked first: bad input raises a ``ValueError`` and changes nothing."""
        t0 = self.t_
        F, O = self.n_features_in_, self.n_outputs_
        X = _rows(X, "X", None, F, "features", t0)
        mode = "self" if Y is None else "target"
        self._check_mode(mode, t0)
        if Y is not None:
            Y = _rows(Y, "Y", X.shape[0], O, "outputs", t0)
        T = X.shape[0]
        preds = np.empty((T, O), dtype=np.dtype(self.model_.dtype))
        errs = np.empty(T)
        n0 = len(self.alarms_)
        for i in range(T):
            s = self._step(X[i], None if Y is None else Y[i], mode)
            preds[i], errs[i] = s.prediction, s.error
        return MonitorRun(preds, errs, np.array(self.alarms_[n0:], dtype=np.int64))

    def __repr__(self) -> str:
        det = self.detector if isinstance(self.detector, str) else type(self.detector).__name__
        return (f"Monitor({type(self.model).__name__}, detector={det!r}, metric={self.metric!r}, adapt={self.adapt!r}, "
                f"t_={self.t_}, alarms={len(self.alarms_)})")


def _rows(A, name: str, n: int | None, width: int, what: str, t0: int) -> np.ndarray:
    """``A`` as a float64 ``(time, width)`` array for :meth:`Monitor.run` (a 1-D array is one
    column when ``width`` is 1), or a ValueError naming the shape or the first non-finite step."""
    if hasattr(A, "detach"):
        A = A.detach().cpu().numpy()
    A = np.asarray(A, dtype=np.float64)
    if A.ndim == 1 and width == 1:
        A = A[:, None]
    want = (A.shape[0] if n is None else n, width)
    if A.ndim != 2 or A.shape != want:
        raise ValueError(f"Monitor.run: {name} must have shape ({'time' if n is None else n}, {width}) ({width} "
                         f"{what}{'' if n is None else ', to match X'}), got {A.shape}; nothing was updated.")
    bad = np.nonzero(~np.isfinite(A).all(1))[0]
    if len(bad):
        raise ValueError(f"Monitor.run: {name} contains NaN or infinite values at step {t0 + int(bad[0])} (row "
                         f"{int(bad[0])}); nothing was updated.")
    return A
