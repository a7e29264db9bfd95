"""Simulate a population of neurons described in :mod:`neurorec.models.spiking.neurons` with brian2.

The description is turned into a ``NeuronGroup`` (equations, threshold, reset, refractory and
integration method from ``model.brian2_equations()``), its input into a 2-d ``TimedArray`` read by
a ``run_regularly`` operation in the ``'start'`` slot of every step (before the state update, so
the input of step ``n`` drives the integration of step ``n``, as in ``model.step``), and its
``SpikeMonitor`` into a ``(T, N)`` array with step index ``round(t / dt)``.

Everything is local to one call: an explicit ``Network``, the time step passed to the objects
(never ``defaultclock``), the code generation target passed as each object's ``codeobj_class``
(never ``prefs`` or ``set_device``). brian2's runtime mode only.
"""

from __future__ import annotations

import numpy as np

from neurorec.backends.ops import require

__all__ = ["CODEGEN_TARGETS", "run_brian2"]

CODEGEN_TARGETS = ("cython", "numpy")


def _codeobj_class(target: str):
    if target == "numpy":
        from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

        return NumpyCodeObject
    if target == "cython":
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        return CythonCodeObject
    raise ValueError(f"codegen_target must be one of {CODEGEN_TARGETS}, got {target!r}.")


def run_brian2(model, current, dt: float, *, codegen_target: str = "cython", record: tuple[str, ...] = (),
               initial: dict | None = None):
    """Run ``N`` neurons of ``model`` in brian2 for ``T`` steps of ``dt`` ms, driven by ``current``.

    Parameters
    ----------
    model : LIF, SynapticLIF, AdaptiveLIF or CobaLIF
        The neuron description.
    current : array_like of shape (T, N) or (T,)
        Input of each step and neuron, in the model's input unit (dimensionless for the LIF
        family, mV for :class:`~neurorec.models.spiking.neurons.CobaLIF`); ``(T,)`` is one neuron.
        Step ``n``'s input is applied at the start of step ``n`` (before integration).
    dt : float
        Time step (ms).
    codegen_target : {"cython", "numpy"}
        brian2 runtime code generation; ``"numpy"`` avoids compilation (tests).
    record : tuple of str
        State variables to record after each step (after reset), e.g. ``("v",)``.
    initial : dict, optional
        Initial values overriding the model's resting state, ``{name: array of shape (N,)}`` in the
        model's units (plain floats: mV for ``CobaLIF.v``).

    Returns
    -------
    spikes : ndarray of shape (T, N), uint8
        ``spikes[n, j] = 1`` when neuron ``j`` fired at step ``n`` (brian2 time ``n * dt``).
    states : dict
        ``{name: ndarray of shape (T, N)}`` for each recorded variable (floats in the model's units).
    """
    b2 = require("brian2")
    model.validate(dt)
    x = np.asarray(current, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"current must have shape (T, N) or (T,) with T, N >= 1, got shape {np.shape(current)}.")
    if not np.isfinite(x).all():
        raise ValueError("current contains NaN or infinite values.")
    codeobj_class = _codeobj_class(codegen_target)
    T, N = x.shape
    desc = model.brian2_equations()
    dt_q = dt * b2.ms
    values = x if desc.input_unit is None else x * desc.input_unit
    namespace = dict(desc.namespace, neurorec_input=b2.TimedArray(values, dt=dt_q))

    group = b2.NeuronGroup(N, desc.equations, threshold=desc.threshold, reset=desc.reset,
                           refractory=desc.refractory, method=desc.method, namespace=namespace, dt=dt_q,
                           codeobj_class=codeobj_class, name="neurorec_population*")
    for name, expr in desc.initial.items():
        setattr(group, name, expr)
    for name, value in (initial or {}).items():
        if name not in desc.initial:
            raise ValueError(f"initial: {name!r} is not a state variable of {type(model).__name__}; "
                             f"expected one of {sorted(desc.initial)}.")
        value = np.broadcast_to(np.asarray(value, dtype=np.float64), (N,))
        unit = desc.input_unit if (desc.input_unit is not None and name == "v") else 1
        setattr(group, name, value * unit)
    inject = group.run_regularly(desc.input_code, when="start", order=0, dt=dt_q)
    spike_mon = b2.SpikeMonitor(group, record=True, codeobj_class=codeobj_class)
    objects = [group, inject, spike_mon]
    state_mon = None
    if record:
        state_mon = b2.StateMonitor(group, list(record), record=True, when="end", dt=dt_q,
                                    codeobj_class=codeobj_class)
        objects.append(state_mon)
    net = b2.Network(*objects)
    net.run(T * dt_q, namespace={})

    spikes = np.zeros((T, N), dtype=np.uint8)
    steps = np.rint(np.asarray(spike_mon.t / dt_q)).astype(np.int64)
    spikes[steps, np.asarray(spike_mon.i, dtype=np.int64)] = 1
    states = {}
    if state_mon is not None:
        for name in record:
            q = getattr(state_mon, name)
            unit = desc.input_unit if (desc.input_unit is not None and name == "v") else None
            arr = np.asarray(q / unit) if unit is not None else np.asarray(q)
            states[name] = arr.T.copy()
    return spikes, states
