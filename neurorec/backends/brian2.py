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

import dataclasses
import sys

import numpy as np

from neurorec.backends.ops import require

__all__ = ["CODEGEN_TARGETS", "run_brian2", "run_network_brian2"]

CODEGEN_TARGETS = ("cython", "numpy")

_compile_notice_shown = False  # the cython notice is printed once per process


def cython_cache_dir() -> str | None:
    """Where brian2 keeps its compiled Cython extensions (``prefs.codegen.runtime.cython.cache_dir``,
    by default ``~/.cython/brian_extensions``)."""
    from brian2.codegen.runtime.cython_rt.extension_manager import get_cython_cache_dir

    return get_cython_cache_dir()


def _announce_cython_compile() -> None:
    """Print, once per process and before the first cython build, one line to stderr saying that brian2
    compiles and where it caches the result (a first run in a fresh environment compiles for minutes)."""
    global _compile_notice_shown
    if _compile_notice_shown:
        return
    _compile_notice_shown = True
    print(f"neurorec: brian2 is compiling its Cython code, or loading it from its cache in {cython_cache_dir()} "
          f"(a first run in a fresh environment can take minutes)", file=sys.stderr, flush=True)


def _codeobj_class(target: str):
    if target == "numpy":
        from brian2.codegen.runtime.numpy_rt import NumpyCodeObject

        return NumpyCodeObject
    if target == "cython":
        from brian2.codegen.runtime.cython_rt import CythonCodeObject

        _announce_cython_compile()
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


def _var_unit(desc, var: str):
    """brian2 unit of a state variable: ``v`` carries the input unit (``None``: dimensionless, as
    are all the other variables)."""
    return desc.input_unit if var == "v" else None


def run_network_brian2(net, inputs=None, *, n_steps: int | None = None, batch: int | None = None,
                       record=(), initial=None, sources=None, codegen_target: str = "cython"):
    """Simulate a :class:`~neurorec.models.spiking.network.Network` in brian2.

    Each population becomes one ``NeuronGroup`` holding the ``batch`` independent copies side by
    side (copy ``b`` is neurons ``b*size ... (b+1)*size - 1``), each connection one ``Synapses``
    object with ``on_pre: variable_post += w``, block-diagonal over the copies, with its delay;
    the external input ``x[n] @ W_in`` of every population with input connections is a
    ``TimedArray`` read in the ``'start'`` slot; a
    :class:`~neurorec.models.spiking.sources.SpikeSource` population is a ``SpikeGeneratorGroup``
    emitting the given events (copy ``b``'s neuron ``i`` at step ``n`` is index ``b*size + i`` at
    time ``n * dt``). Arguments and result as
    :func:`neurorec.models.spiking.network.run_network` (``codegen_target`` as in
    :func:`run_brian2`); spikes and recorded states come back as numpy arrays.
    """
    from neurorec.models.spiking.network import INPUT, NetworkRun, _check_run_args, input_currents, input_synops

    b2 = require("brian2")
    if inputs is not None and type(inputs).__module__.startswith("torch"):
        inputs = inputs.detach().cpu().double().numpy()
    x, B, T, record, init, sources = _check_run_args(net, inputs, n_steps, batch, record, initial, sources)
    codeobj_class = _codeobj_class(codegen_target)
    dt_q = net.dt * b2.ms
    clock = b2.Clock(dt=dt_q, name="neurorec_clock*")  # one clock for all objects: brian2's single-clock loop
    currents = input_currents(net, x) if x is not None else {}
    groups, descs, objects, spike_mons, state_mons = {}, {}, [], {}, {}
    for p in net.populations:
        if p.is_source:
            trains = sources[p.name]
            order = np.lexsort((trains.copy * p.size + trains.neuron, trains.step))  # by time, then index
            g = b2.SpikeGeneratorGroup(B * p.size, (trains.copy * p.size + trains.neuron)[order],
                                       trains.step[order] * dt_q, sorted=True, clock=clock,
                                       codeobj_class=codeobj_class, name=f"neurorec_{p.name}*")
            objects.append(g)
            groups[p.name] = g
            continue
        desc = p.neuron.brian2_equations()
        namespace = dict(desc.namespace)
        N = p.size
        if p.name not in currents and "I_ext" in desc.input_code:
            # no input: the held input current is the constant 0, not a per-neuron parameter read every step
            lines = [ln for ln in desc.equations.splitlines() if not ln.replace(" ", "").startswith("I_ext:")]
            desc = dataclasses.replace(desc, equations="\n".join(lines))
            namespace["I_ext"] = 0 if desc.input_unit is None else 0 * desc.input_unit
        if p.name in currents:
            values = np.ascontiguousarray(currents[p.name].transpose(1, 0, 2).reshape(T, B * N))
            namespace["neurorec_input"] = b2.TimedArray(values if desc.input_unit is None else values * desc.input_unit,
                                                        dt=dt_q)
        g = b2.NeuronGroup(B * N, desc.equations, threshold=desc.threshold, reset=desc.reset,
                           refractory=desc.refractory, method=desc.method, namespace=namespace, clock=clock,
                           codeobj_class=codeobj_class, name=f"neurorec_{p.name}*")
        for name, expr in desc.initial.items():
            setattr(g, name, expr)
        for var, arr in init.get(p.name, {}).items():
            unit = _var_unit(desc, var)
            value = np.ascontiguousarray(arr).reshape(-1)
            setattr(g, var, value if unit is None else value * unit)
        objects.append(g)
        if p.name in currents:
            objects.append(g.run_regularly(desc.input_code, when="start", order=0, clock=clock,
                                           codeobj_class=codeobj_class))
        spike_mons[p.name] = b2.SpikeMonitor(g, record=True, codeobj_class=codeobj_class)
        objects.append(spike_mons[p.name])
        groups[p.name], descs[p.name] = g, desc
    plastic = {}
    for index, c in enumerate(net.connections):
        if c.source == INPUT:
            continue
        desc = descs[c.target]
        unit = _var_unit(desc, c.variable)
        coo = c.weight.tocoo()
        if coo.nnz == 0:  # brian2 refuses a Synapses object without synapses; it would do nothing
            continue
        n_src, n_tgt = c.shape
        offs = np.arange(B, dtype=np.int64)[:, None]
        ii = (offs * n_src + coo.row[None, :]).reshape(-1)
        jj = (offs * n_tgt + coo.col[None, :]).reshape(-1)
        d = net.delay_steps(c)
        # the weight's name must not clash with a neuron variable (AdaptiveLIF has a "w")
        unit_name = "1" if unit is None else "volt"
        model, on_pre, on_post, namespace = f"neurorec_w : {unit_name}", f"{c.variable}_post += neurorec_w", None, {}
        r = c.plasticity
        if r is not None:  # brian2's STDP example: event-driven traces, pre pathway then post pathway
            uf = 1 if unit is None else unit
            model += (f"\ndneurorec_apre/dt = -neurorec_apre / stdp_tau_pre : {unit_name} (event-driven)"
                      f"\ndneurorec_apost/dt = -neurorec_apost / stdp_tau_post : {unit_name} (event-driven)")
            on_pre += ("\nneurorec_apre += stdp_a_pre"
                       "\nneurorec_w = clip(neurorec_w + neurorec_apost, stdp_w_min, stdp_w_max)")
            on_post = ("neurorec_apost += stdp_a_post"
                       "\nneurorec_w = clip(neurorec_w + neurorec_apre, stdp_w_min, stdp_w_max)")
            namespace = {"stdp_tau_pre": r.tau_pre * b2.ms, "stdp_tau_post": r.tau_post * b2.ms,
                         "stdp_a_pre": r.a_pre * uf, "stdp_a_post": r.a_post * uf,
                         "stdp_w_min": r.w_min * uf, "stdp_w_max": r.w_max * uf}
        syn = b2.Synapses(groups[c.source], groups[c.target], model=model, on_pre=on_pre, on_post=on_post,
                          delay=d * dt_q if d else None, namespace=namespace, clock=clock,
                          codeobj_class=codeobj_class, name=f"neurorec_{c.source}_{c.target}*")
        syn.connect(i=ii, j=jj)
        w = np.tile(coo.data, B)
        syn.neurorec_w = w if unit is None else w * unit
        objects.append(syn)
        if r is not None:
            plastic[index] = (syn, coo, unit)
    for pop, var in record:
        mon = state_mons.setdefault(pop, [])
        mon.append(var)
    monitors = {}
    for pop, variables in state_mons.items():
        monitors[pop] = b2.StateMonitor(groups[pop], variables, record=True, when="end", clock=clock,
                                        codeobj_class=codeobj_class)
        objects.append(monitors[pop])
    b2.Network(*objects).run(T * dt_q, namespace={})

    spikes, states, events = {}, {}, {}
    for p in net.populations:
        if p.is_source:  # the caller's own events
            events[p.name] = (sources[p.name].step, sources[p.name].neuron)
            continue
        mon = spike_mons[p.name]
        arr = np.zeros((B, T, p.size), dtype=np.uint8)
        steps = np.rint(np.asarray(mon.t / dt_q)).astype(np.int64)
        idx = np.asarray(mon.i, dtype=np.int64)
        arr[idx // p.size, steps, idx % p.size] = 1
        spikes[p.name] = arr
        events[p.name] = (steps, idx % p.size)
    # SynOps from the spike events: count_synops's count without summing the dense (B, T, N) arrays
    synops = input_synops(net, x) if x is not None else 0.0
    for c in net.connections:
        if c.source == INPUT:
            continue
        steps, neuron = events[c.source]
        counts = np.bincount(neuron[steps < T - net.delay_steps(c)], minlength=c.shape[0])
        synops += float(counts @ np.diff(c.weight.indptr))
    for pop, var in record:
        q = getattr(monitors[pop], var)
        unit = _var_unit(descs[pop], var)
        vals = np.asarray(q) if unit is None else np.asarray(q / unit)
        states[(pop, var)] = vals.reshape(B, net.population(pop).size, T).transpose(0, 2, 1).copy()
    weights = {}
    for index, c in enumerate(net.connections):
        if c.plasticity is None:
            continue
        W = np.zeros((B, *c.shape))
        if index in plastic:
            syn, coo, unit = plastic[index]
            w = np.asarray(syn.neurorec_w[:]) if unit is None else np.asarray(syn.neurorec_w[:] / unit)
            W[:, coo.row, coo.col] = w.reshape(B, -1)
        weights[index] = W
    return NetworkRun(spikes=spikes, states=states, synops=synops, weights=weights)
