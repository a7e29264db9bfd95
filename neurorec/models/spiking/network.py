r"""Spiking networks: a backend-independent description and the step engine that runs it.

A :class:`Network` is a set of :class:`Population` objects (``size`` neurons of one neuron
description from :mod:`neurorec.models.spiking.neurons`) and :class:`Connection` objects (a weight
matrix, dense or sparse, from a population or from the external input to a population, with a
transmission delay). A population may also be a
:class:`~neurorec.models.spiking.sources.SpikeSource`, whose spikes are given to the run
(``sources={name: SpikeTrains}``, e.g. Poisson trains with correlated groups), the same events on
every engine. It is pure description: :func:`run_network` simulates it with the shared step
functions on numpy or torch (CPU or CUDA), and
:func:`neurorec.backends.brian2.run_network_brian2` builds the same network in brian2.
:meth:`Network.run` picks the engine.

Discrete-time convention (the same in both engines)
---------------------------------------------------
Step :math:`n` does, in this order (brian2's schedule ``start``, ``groups``, ``thresholds``,
``synapses``, ``resets``):

1. every population receives its external input :math:`x[n] W_{in}` (summed over its input
   connections) as the neuron's input current (see each neuron model for where it enters);
2. every population integrates from :math:`t_n` to :math:`t_{n+1}` and thresholds;
3. every connection from population :math:`A` to :math:`B` with delay :math:`d` steps adds
   :math:`\sum_i s_A[n-d]_i W_{ij}` to the state variable ``variable`` of neuron :math:`j` of
   :math:`B` (brian2 ``on_pre: variable += w``). A delay of 0 delivers in the same step, after
   thresholding, so the jump is felt from step :math:`n+1` on;
4. spiking neurons are reset. A jump into ``v`` of a neuron that spiked in the same step is
   therefore lost under ``reset="zero"`` (brian2 resets after the synapses act) and kept under
   ``reset="subtract"``. With a refractory period, jumps into ``v`` are ignored while the neuron is
   refractory, from the step of its spike on (brian2 makes every write to an
   ``(unless refractory)`` variable conditional on ``not_refractory``); jumps into the other
   variables (synaptic currents, conductances) always apply.

Following this convention the engines agree to round-off: brian2 integrates with its own
closed-form expressions and sums the jumps synapse by synapse, so states differ by about
:math:`10^{-13}` (float64) and spike trains are identical unless a membrane lands within that
distance of the threshold (``tests/test_spiking_network.py`` checks identity on recurrent LIF,
synaptic-LIF and conductance-based networks).

Synaptic operations (SynOps) are counted as in neuromorphic hardware accounting: every spike
of a presynaptic neuron costs one operation per outgoing synapse (its number of non-zero
weights); external inputs cost one operation per non-zero input value and outgoing weight.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from neurorec.models.spiking.neurons import NEURON_MODELS
from neurorec.models.spiking.sources import SpikeSource, SpikeTrains

__all__ = ["STDP", "SpikeSource", "SpikeTrains", "Population", "Connection", "Network", "NetworkRun", "run_network",
           "sparse_random", "count_synops",
           "input_currents", "ENGINES"]

ENGINES = ("brian2", "numpy", "torch")
INPUT = "input"


@dataclass(frozen=True)
class Population:
    """``size`` neurons of one neuron description.

    Parameters
    ----------
    name : str
        Unique name (not ``"input"``, which names the external input).
    size : int
        Number of neurons.
    neuron : LIF, SynapticLIF, AdaptiveLIF, CobaLIF, CubaLIF or SpikeSource
        The neuron description (see :mod:`neurorec.models.spiking.neurons`), or
        :class:`~neurorec.models.spiking.sources.SpikeSource` for a population of given spike
        trains (passed to the run as ``sources``).
    """

    name: str
    size: int
    neuron: Any

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier() or self.name == INPUT:
            raise ValueError(f"Population name must be a Python identifier other than {INPUT!r}, got {self.name!r}.")
        if isinstance(self.size, bool) or not isinstance(self.size, int | np.integer) or self.size < 1:
            raise ValueError(f"Population {self.name!r}: size must be a positive integer, got {self.size!r}.")
        if not isinstance(self.neuron, (*NEURON_MODELS.values(), SpikeSource)):
            raise ValueError(f"Population {self.name!r}: neuron must be one of "
                             f"{[c.__name__ for c in NEURON_MODELS.values()] + ['SpikeSource']}, "
                             f"got {type(self.neuron).__name__}.")

    @property
    def is_source(self) -> bool:
        """Whether the population is a :class:`SpikeSource` (given spikes, no state)."""
        return isinstance(self.neuron, SpikeSource)

    @property
    def variables(self) -> tuple[str, ...]:
        """State variables a connection may target (the state fields except ``refrac``)."""
        state = self.neuron.initial_state(np.zeros(1))
        return tuple(f for f in state._fields if f != "refrac")


@dataclass(frozen=True)
class STDP:
    r"""Pair-based spike-timing-dependent plasticity with all-to-all pairing (Song, Miller & Abbott 2000).

    A presynaptic spike at :math:`t_{pre}` and a postsynaptic one at :math:`t_{post}` change the
    weight by :math:`A_{pre} e^{-\Delta t/\tau_{pre}}` when :math:`\Delta t = t_{post} - t_{pre} \ge 0`
    and by :math:`A_{post} e^{\Delta t/\tau_{post}}` when :math:`\Delta t < 0`, summed over all
    pairs, and the weight is clipped to :math:`[w_{min}, w_{max}]` after every change. Implemented,
    as in brian2's STDP example, with one trace per side: a presynaptic spike adds ``a_pre`` to
    its trace, then adds the postsynaptic trace to the weight (depression); a postsynaptic spike
    adds ``a_post`` to its trace, then adds the presynaptic trace (potentiation). Within a step the
    presynaptic pathway acts first, so a pre and a post spike in the same step count as
    :math:`\Delta t = 0` (potentiation). The defaults are Song et al.'s ratios:
    :math:`\tau_{pre} = \tau_{post} = 20` ms, :math:`A_{post} = -1.05 A_{pre}`, in units of
    :math:`w_{max}`.

    Parameters
    ----------
    tau_pre, tau_post : float
        Trace time constants (ms).
    a_pre, a_post : float
        Trace increments (weight units): ``a_pre > 0`` potentiates, ``a_post < 0`` depresses.
    w_min, w_max : float
        Bounds of the weights.
    """

    tau_pre: float = 20.0
    tau_post: float = 20.0
    a_pre: float = 0.01
    a_post: float = -0.0105
    w_min: float = 0.0
    w_max: float = 1.0

    def __post_init__(self):
        for name in ("tau_pre", "tau_post"):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Real) and math.isfinite(v) and v > 0):
                raise ValueError(f"STDP {name} must be a positive time constant in ms, got {v!r}.")
        for name in ("a_pre", "a_post", "w_min", "w_max"):
            if not (isinstance(getattr(self, name), numbers.Real) and math.isfinite(getattr(self, name))):
                raise ValueError(f"STDP {name} must be a finite number, got {getattr(self, name)!r}.")
        if not self.w_max > self.w_min:
            raise ValueError(f"STDP w_max={self.w_max!r} must be above w_min={self.w_min!r}.")

    def window(self, delta_t):
        r"""Weight change of one spike pair against :math:`\Delta t = t_{post} - t_{pre}` (ms)."""
        d = np.asarray(delta_t, dtype=np.float64)
        return np.where(d >= 0, self.a_pre * np.exp(-d / self.tau_pre), self.a_post * np.exp(d / self.tau_post))


@dataclass(frozen=True, eq=False)
class Connection:
    """Weighted synapses from ``source`` to ``target``.

    Parameters
    ----------
    source : str
        A population name, or ``"input"`` for the external input.
    target : str
        A population name.
    weight : array_like or scipy.sparse matrix of shape (n_source, n_target)
        Synaptic weights; zeros (or absent sparse entries) are no synapse. In the unit of the
        target variable (mV for ``CobaLIF.v``, units of :math:`g_L` for its conductances,
        the voltage unit otherwise).
    variable : str
        The target state variable a presynaptic spike increments (``"v"``, ``"i_syn"``,
        ``"g_exc"``, ``"g_inh"``...). Input connections must use ``"current"``: the input
        :math:`x[n] W` is the neuron's input current of step :math:`n`.
    delay : float
        Transmission delay in ms, a multiple of the network's ``dt`` (0 for input connections).
    plasticity : STDP, optional
        Makes the weights plastic (population sources, no delay). The synapses are the stored
        entries of a sparse ``weight`` (explicit zeros included) or every pair of a dense one;
        :attr:`NetworkRun.weights` holds the weights at the end of a run.
    """

    source: str
    target: str
    weight: Any
    variable: str = "v"
    delay: float = 0.0
    plasticity: STDP | None = None

    def __post_init__(self):
        w = self.weight
        if self.plasticity is not None and not isinstance(self.plasticity, STDP):
            raise ValueError(f"Connection {self.source}->{self.target}: plasticity must be an STDP rule or None, "
                             f"got {type(self.plasticity).__name__}.")
        if self.plasticity is not None and (self.source == INPUT or self.delay != 0):
            raise ValueError(f"Connection {self.source}->{self.target}: plastic connections must come from a "
                             "population, with no delay.")
        if sparse.issparse(w):
            w = sparse.csr_matrix(w, dtype=np.float64)
            if self.plasticity is None:
                w.eliminate_zeros()
            w.sort_indices()
            if not np.isfinite(w.data).all():
                raise ValueError(f"Connection {self.source}->{self.target}: weight contains NaN or infinite values.")
        else:
            w = np.asarray(w, dtype=np.float64)
            if w.ndim != 2:
                raise ValueError(f"Connection {self.source}->{self.target}: weight must be a 2-d "
                                 f"(n_source, n_target) array, got shape {w.shape}.")
            if not np.isfinite(w).all():
                raise ValueError(f"Connection {self.source}->{self.target}: weight contains NaN or infinite values.")
            if self.plasticity is None:
                w = sparse.csr_matrix(w)
            else:  # every pair is a synapse, zeros included
                rows, cols = np.indices(w.shape).reshape(2, -1)
                w = sparse.csr_matrix((w.ravel(), (rows, cols)), shape=w.shape)
        object.__setattr__(self, "weight", w)
        if isinstance(self.delay, bool) or not (isinstance(self.delay, numbers.Real) and math.isfinite(self.delay)
                                                 and self.delay >= 0):
            raise ValueError(f"Connection {self.source}->{self.target}: delay must be >= 0 ms, got {self.delay!r}.")
        if self.source == INPUT and self.variable != "current":
            raise ValueError(f"Connection input->{self.target}: input connections deliver a current; "
                             f"use variable='current', got {self.variable!r}.")
        if self.source == INPUT and self.delay != 0:
            raise ValueError(f"Connection input->{self.target}: input connections have no delay, got {self.delay!r}.")
        if self.source != INPUT and self.variable == "current":
            raise ValueError(f"Connection {self.source}->{self.target}: variable='current' is for input "
                             "connections; name the state variable the spikes increment (e.g. 'v').")

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def n_synapses(self) -> int:
        return int(self.weight.nnz)


def sparse_random(n_source: int, n_target: int, p: float, weight, *, seed=None,
                  allow_autapses: bool = True) -> sparse.csr_matrix:
    """A random connectivity matrix: each pair is connected with probability ``p``.

    Parameters
    ----------
    n_source, n_target : int
    p : float
        Connection probability in [0, 1].
    weight : float or callable
        The weight of every synapse, or ``weight(rng, n)`` returning ``n`` weights.
    seed : int, numpy Generator or None
    allow_autapses : bool
        If False (square matrices), no neuron connects to itself.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"p must be a connection probability in [0, 1], got {p!r}.")
    rng = np.random.default_rng(seed)
    mask = rng.random((n_source, n_target)) < p
    if not allow_autapses:
        if n_source != n_target:
            raise ValueError("allow_autapses=False needs a square matrix (n_source == n_target).")
        np.fill_diagonal(mask, False)
    rows, cols = np.nonzero(mask)
    vals = weight(rng, rows.size) if callable(weight) else np.full(rows.size, float(weight))
    return sparse.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cols)), shape=(n_source, n_target))


@dataclass(frozen=True, eq=False)
class Network:
    """A spiking network: populations, connections, number of external inputs and time step.

    Parameters
    ----------
    populations : sequence of Population
    connections : sequence of Connection
    n_inputs : int
        Number of external input channels (the last axis of the input passed to :meth:`run`).
    dt : float
        Time step (ms), checked against every neuron's time constants.
    """

    populations: Sequence[Population]
    connections: Sequence[Connection] = ()
    n_inputs: int = 0
    dt: float = 0.1

    def __post_init__(self):
        if isinstance(self.populations, Population) or isinstance(self.connections, Connection):
            raise ValueError("populations and connections must be sequences (lists) of Population and "
                             "Connection objects.")
        pops = tuple(self.populations)
        conns = tuple(self.connections)
        for p in pops:
            if not isinstance(p, Population):
                raise ValueError(f"populations must be Population objects, got {type(p).__name__}.")
        object.__setattr__(self, "populations", pops)
        object.__setattr__(self, "connections", conns)
        if not pops:
            raise ValueError("a Network needs at least one Population.")
        names = [p.name for p in pops]
        if len(set(names)) != len(names):
            raise ValueError(f"population names must be unique, got {names}.")
        if isinstance(self.n_inputs, bool) or not isinstance(self.n_inputs, int | np.integer) or self.n_inputs < 0:
            raise ValueError(f"n_inputs must be an integer >= 0, got {self.n_inputs!r}.")
        for p in pops:
            p.neuron.validate(self.dt)
        by_name = {p.name: p for p in pops}
        for c in conns:
            if not isinstance(c, Connection):
                raise ValueError(f"connections must be Connection objects, got {type(c).__name__}.")
            if c.target not in by_name:
                raise ValueError(f"Connection {c.source}->{c.target}: unknown target population; have {names}.")
            if by_name[c.target].is_source:
                raise ValueError(f"Connection {c.source}->{c.target}: {c.target!r} is a SpikeSource (given "
                                 "spikes); it cannot receive connections.")
            n_src = self.n_inputs if c.source == INPUT else (by_name[c.source].size if c.source in by_name else None)
            if n_src is None:
                raise ValueError(f"Connection {c.source}->{c.target}: unknown source; have {names} and 'input'.")
            if c.shape != (n_src, by_name[c.target].size):
                raise ValueError(f"Connection {c.source}->{c.target}: weight has shape {c.shape}, "
                                 f"expected ({n_src}, {by_name[c.target].size}).")
            if c.source != INPUT and c.variable not in by_name[c.target].variables:
                raise ValueError(f"Connection {c.source}->{c.target}: variable {c.variable!r} is not a state "
                                 f"variable of {type(by_name[c.target].neuron).__name__}; "
                                 f"expected one of {by_name[c.target].variables}.")
            self.delay_steps(c)

    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population {name!r}; have {[p.name for p in self.populations]}.")

    def delay_steps(self, c: Connection) -> int:
        """The delay of ``c`` in steps (raises if it is not a multiple of ``dt``)."""
        d = c.delay / self.dt
        steps = int(round(d))
        if abs(d - steps) > 1e-6:
            raise ValueError(f"Connection {c.source}->{c.target}: delay {c.delay!r} ms is not a multiple "
                             f"of dt={self.dt!r} ms.")
        return steps

    @property
    def n_synapses(self) -> int:
        return sum(c.n_synapses for c in self.connections)

    def run(self, inputs=None, *, n_steps: int | None = None, batch: int | None = None, engine: str = "numpy",
            record: Sequence[tuple[str, str]] = (), initial: Mapping | None = None, sources: Mapping | None = None,
            **engine_kwargs):
        """Simulate the network; see :func:`run_network` for the arguments.

        ``engine`` is ``"brian2"`` (brian2's runtime engine, through
        :func:`neurorec.backends.brian2.run_network_brian2`; takes ``codegen_target``), ``"numpy"`` or
        ``"torch"`` (the step functions; ``"torch"`` takes ``device`` and ``dtype``).
        """
        if engine == "brian2":
            from neurorec.backends.brian2 import run_network_brian2

            return run_network_brian2(self, inputs, n_steps=n_steps, batch=batch, record=record,
                                      initial=initial, sources=sources, **engine_kwargs)
        if engine in ("numpy", "torch"):
            return run_network(self, inputs, n_steps=n_steps, batch=batch, record=record, initial=initial,
                               sources=sources, xp=engine, **engine_kwargs)
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}.")


@dataclass
class NetworkRun:
    """What a simulation returns.

    The spiking models' ``record(X)`` methods (:meth:`SpikingClassifier.record
    <neurorec.models.SpikingClassifier.record>`, :meth:`LSM.record <neurorec.models.LSM.record>`)
    return one of these, in numpy, for :mod:`neurorec.plot`'s rasters and traces.

    Attributes
    ----------
    spikes : dict
        ``{population: array (batch, T, size)}``, 0/1 (numpy uint8 from brian2 and numpy; a
        torch tensor in the simulation dtype from the torch engine).
    states : dict
        ``{(population, variable): array (batch, T, size)}`` recorded after each step.
    synops : float
        Synaptic operations over the whole run and batch (see the module docstring).
    weights : dict
        ``{index of the connection in net.connections: array (batch, n_source, n_target)}``: the
        final weights of the plastic connections (0 where there is no synapse).
    dt : float or None
        The simulation step in ms (set by the models' ``record`` methods).
    lengths : array (batch,) or None
        Valid simulation steps of each sequence (``None``: all ``T``).

    """

    spikes: dict
    states: dict = field(default_factory=dict)
    synops: float = 0.0
    weights: dict = field(default_factory=dict)
    dt: float | None = None
    lengths: np.ndarray | None = None

    def rates(self, population: str) -> np.ndarray:
        """Mean firing rate of each neuron of ``population`` in Hz, over the valid steps of the
        whole batch (needs ``dt``)."""
        if self.dt is None:
            raise ValueError("rates need the simulation step: this run has dt=None.")
        if population not in self.spikes:
            raise ValueError(f"no spikes recorded for population {population!r}; have {sorted(self.spikes)}.")
        s = np.asarray(self.spikes[population], dtype=np.float64)
        steps = float(np.sum(self.lengths)) if self.lengths is not None else float(s.shape[0] * s.shape[1])
        return s.sum((0, 1)) / (steps * self.dt * 1e-3)


def _check_sources(net: Network, sources) -> dict:
    """``{name: SpikeTrains}`` for every SpikeSource population, checked against its size."""
    src = {p.name: p for p in net.populations if p.is_source}
    given = dict(sources or {})
    unknown = sorted(set(given) - set(src))
    if unknown:
        raise ValueError(f"sources: {unknown} are not SpikeSource populations; have {sorted(src)}.")
    missing = sorted(set(src) - set(given))
    if missing:
        raise ValueError(f"sources: no spikes given for the SpikeSource population(s) {missing}; pass "
                         "sources={name: SpikeTrains or a 0/1 array (batch, T, size)}.")
    out = {}
    for name, trains in given.items():
        if not isinstance(trains, SpikeTrains):
            trains = SpikeTrains.from_dense(trains)
        if trains.shape[2] != src[name].size:
            raise ValueError(f"sources[{name!r}] has {trains.shape[2]} neurons, population {name!r} has "
                             f"{src[name].size}.")
        out[name] = trains
    shapes = {t.shape[:2] for t in out.values()}
    if len(shapes) > 1:
        raise ValueError(f"sources disagree on (batch, n_steps): {sorted(shapes)}.")
    return out


def _check_run_args(net: Network, inputs, n_steps, batch, record, initial, sources=None):
    """Validated ``(x (B, T, n_inputs) float64 or None, B, T, record, initial, sources)``."""
    sources = _check_sources(net, sources)
    if sources:
        B_src, T_src = next(iter(sources.values())).shape[:2]
        if inputs is None:
            if n_steps is not None and n_steps != T_src:
                raise ValueError(f"n_steps={n_steps} disagrees with the sources' {T_src} steps.")
            if batch is not None and batch != B_src:
                raise ValueError(f"batch={batch} disagrees with the sources' batch of {B_src}.")
            n_steps, batch = T_src, B_src
    if inputs is not None:
        x = inputs
        is_torch = type(x).__module__.startswith("torch")
        if not is_torch:
            x = np.asarray(x, dtype=np.float64)
        shape = tuple(x.shape) if is_torch else np.shape(x)
        if len(shape) == 2:
            x = x[None]
            shape = (1, *shape)
        if len(shape) != 3 or shape[2] != net.n_inputs:
            raise ValueError(f"inputs must have shape (batch, T, {net.n_inputs}) or (T, {net.n_inputs}), "
                             f"got {shape}.")
        if 0 in shape[:2]:
            raise ValueError(f"inputs must hold at least one sequence of at least one step, got shape {shape}.")
        if n_steps is not None and n_steps != shape[1]:
            raise ValueError(f"n_steps={n_steps} disagrees with the inputs' {shape[1]} steps.")
        if batch is not None and batch != shape[0]:
            raise ValueError(f"batch={batch} disagrees with the inputs' batch of {shape[0]}.")
        if not is_torch:
            x = np.asarray(x, dtype=np.float64)
            if not np.isfinite(x).all():
                raise ValueError("inputs contain NaN or infinite values.")
        B, T = shape[0], shape[1]
    else:
        if any(c.source == INPUT for c in net.connections):
            raise ValueError("the network has input connections: pass inputs of shape (batch, T, n_inputs).")
        if n_steps is None or isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 1:
            raise ValueError(f"without inputs, pass n_steps (a positive integer), got {n_steps!r}.")
        if batch is not None and (isinstance(batch, bool) or int(batch) != batch or batch < 1):
            raise ValueError(f"batch must be a positive integer, got {batch!r}.")
        x, B, T = None, 1 if batch is None else int(batch), int(n_steps)
    names = {p.name for p in net.populations}
    for item in record:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"record must be a sequence of (population, variable) pairs, got {item!r}.")
        pop, var = item
        if pop not in names:
            raise ValueError(f"record: unknown population {pop!r}; have {sorted(names)}.")
        if var not in net.population(pop).variables:
            raise ValueError(f"record: {var!r} is not a state variable of population {pop!r}; "
                             f"expected one of {net.population(pop).variables}.")
    init = {}
    for pop, values in (initial or {}).items():
        if pop not in names:
            raise ValueError(f"initial: unknown population {pop!r}; have {sorted(names)}.")
        p = net.population(pop)
        init[pop] = {}
        for var, value in values.items():
            if var not in p.variables:
                raise ValueError(f"initial: {var!r} is not a state variable of population {pop!r}; "
                                 f"expected one of {p.variables}.")
            arr = np.asarray(value, dtype=np.float64)
            try:
                arr = np.broadcast_to(arr, (B, p.size))
            except ValueError:
                raise ValueError(f"initial[{pop!r}][{var!r}] must broadcast to (batch, size) = ({B}, {p.size}), "
                                 f"got shape {arr.shape}.") from None
            if not np.isfinite(arr).all():
                raise ValueError(f"initial[{pop!r}][{var!r}] contains NaN or infinite values.")
            init[pop][var] = arr
    if sources and (B, T) != (B_src, T_src):
        raise ValueError(f"the sources' (batch, n_steps) = {(B_src, T_src)} disagree with the inputs' {(B, T)}.")
    return x, B, T, tuple(dict.fromkeys(record)), init, sources  # a variable asked for twice is recorded once


def input_currents(net: Network, x) -> dict:
    """``{population: x @ W_in summed over its input connections}``, shape (B, T, size)."""
    out = {}
    for c in net.connections:
        if c.source != INPUT:
            continue
        if type(x).__module__.startswith("torch"):
            import torch

            W = torch.as_tensor(c.weight.toarray(), dtype=x.dtype, device=x.device)
            cur = x @ W
        else:
            B, T, F = x.shape
            cur = np.asarray(c.weight.T @ x.reshape(B * T, F).T).T.reshape(B, T, -1)
        out[c.target] = cur if c.target not in out else out[c.target] + cur
    return out


def input_synops(net: Network, x) -> float:
    """Operations of the input connections: non-zero input values times their fan-out."""
    total = 0.0
    for c in net.connections:
        if c.source != INPUT:
            continue
        fan_out = np.diff(c.weight.indptr)
        if type(x).__module__.startswith("torch"):
            import torch

            nz = (x != 0).sum(dim=(0, 1)).to(torch.float64).cpu().numpy()
        else:
            nz = (np.asarray(x) != 0).sum(axis=(0, 1))
        total += float(nz @ fan_out)
    return total


def count_synops(net: Network, spikes: Mapping, x=None) -> float:
    """Synaptic operations of a run: input operations (:func:`input_synops`) plus, for every
    connection, the presynaptic spikes that reach their target within the run (all but those of
    the last ``delay`` steps) times their fan-out. ``spikes``: ``{population: (B, T, N) array or
    SpikeTrains}``."""
    total = input_synops(net, x) if x is not None else 0.0
    for c in net.connections:
        if c.source == INPUT:
            continue
        s = spikes[c.source]
        T, d = s.shape[1], net.delay_steps(c)
        if d >= T:
            continue
        if isinstance(s, SpikeTrains):
            total += float(s.counts(before=T - d) @ np.diff(c.weight.indptr))
            continue
        part = s[:, :T - d]
        if type(part).__module__.startswith("torch"):
            counts = part.sum(dim=(0, 1)).double().cpu().numpy()
        else:
            counts = np.asarray(part).sum(axis=(0, 1), dtype=np.float64)
        total += float(counts @ np.diff(c.weight.indptr))
    return total


class _Synapse:
    """One connection prepared for the step engine."""

    def __init__(self, net: Network, c: Connection, xp, dtype, device):
        self.source, self.target, self.variable = c.source, c.target, c.variable
        self.delay = net.delay_steps(c)
        tgt = net.population(c.target).neuron
        # brian2 resets after the synapses act: a jump into v of a neuron that fired this step is
        # overwritten by a "zero" reset, and kept by a "subtract" reset (which commutes with it).
        # With a refractory period, v is "(unless refractory)" and brian2 ignores every write to it
        # while the neuron is refractory, the step of the spike included.
        self.masked = c.variable == "v" and (tgt.reset == "zero" or tgt.refractory > 0)
        self.stdp = c.plasticity
        if xp is np:
            self.WT = c.weight.T.tocsr()
            self.torch = False
        else:
            self.torch = True
            density = c.weight.nnz / max(1, c.weight.shape[0] * c.weight.shape[1])
            if density > 0.1:
                self.W = xp.as_tensor(c.weight.toarray(), dtype=dtype, device=device)
                self.WT_sparse = None
            else:
                wt = c.weight.T.tocsr()
                with warnings.catch_warnings():  # torch flags sparse CSR as beta
                    warnings.simplefilter("ignore", UserWarning)
                    self.WT_sparse = xp.sparse_csr_tensor(
                        xp.as_tensor(wt.indptr, dtype=xp.int64), xp.as_tensor(wt.indices, dtype=xp.int64),
                        xp.as_tensor(wt.data, dtype=dtype), wt.shape, device=device)
                self.W = None

    def make_plastic(self, c: Connection, B: int, xp, dtype, device, dt: float) -> None:
        """Per-copy dense weights (B, n_source, n_target), the synapse mask and the two traces."""
        dense, mask = c.weight.toarray(), np.zeros(c.shape, bool)
        coo = c.weight.tocoo()
        mask[coo.row, coo.col] = True  # the stored entries, explicit zeros included
        if xp is np:
            self.Wp = np.broadcast_to(dense, (B, *c.shape)).copy()
            self.mask = mask.astype(np.float64)
        else:
            self.Wp = xp.as_tensor(dense, dtype=dtype, device=device).expand(B, *c.shape).clone()
            self.mask = xp.as_tensor(mask, dtype=dtype, device=device)
        self.x_pre = self.Wp[:, :, 0] * 0.0
        self.x_post = self.Wp[:, 0, :] * 0.0
        self.decay_pre = math.exp(-dt / self.stdp.tau_pre)
        self.decay_post = math.exp(-dt / self.stdp.tau_post)

    def plastic_step(self, xp, s_pre, s_post):
        """brian2's order: presynaptic pathway (jump with the old weights, trace, depression),
        then postsynaptic pathway (trace, potentiation); returns the jump (B, n_target)."""
        r = self.stdp
        jump = (s_pre[:, :, None] * self.Wp).sum(1)
        self.x_pre = self.x_pre * self.decay_pre + r.a_pre * s_pre
        self.x_post = self.x_post * self.decay_post
        if xp is np:  # update only the rows / columns of the neurons that spiked (the same arithmetic)
            b, i = np.nonzero(s_pre)
            if b.size:
                self.Wp[b, i, :] = _clip_rows(self.Wp[b, i, :] + self.x_post[b] * self.mask[i], self.mask[i], r)
            self.x_post = self.x_post + r.a_post * s_post
            b, j = np.nonzero(s_post)
            if b.size:
                m = self.mask[:, j].T
                self.Wp[b, :, j] = _clip_rows(self.Wp[b, :, j] + self.x_pre[b] * m, m, r)
            return jump
        self.Wp = _clip(xp, self.Wp + s_pre[:, :, None] * self.x_post[:, None, :] * self.mask, r.w_min, r.w_max,
                        self.mask, s_pre[:, :, None])
        self.x_post = self.x_post + r.a_post * s_post
        self.Wp = _clip(xp, self.Wp + s_post[:, None, :] * self.x_pre[:, :, None] * self.mask, r.w_min, r.w_max,
                        self.mask, s_post[:, None, :])
        return jump

    def deliver(self, s):
        """Summed jumps ``s @ W`` for presynaptic spikes ``s`` of shape (B, n_source)."""
        if not self.torch:
            return (self.WT @ s.T).T
        if self.W is not None:
            return s @ self.W
        return (self.WT_sparse @ s.T.contiguous()).T


class _SourceFeed:
    """The spikes of one SpikeSource population, step by step, as dense (B, N) arrays."""

    def __init__(self, trains: SpikeTrains, xp, dtype, device):
        B, T, N = trains.shape
        order = np.argsort(trains.step, kind="stable")
        self.bounds = np.searchsorted(trains.step[order], np.arange(T + 1))
        self.xp, self.shape = xp, (B, N)
        if xp is np:
            self.copy, self.neuron = trains.copy[order], trains.neuron[order]
            self.empty = np.zeros((B, N))
        else:
            self.copy = xp.as_tensor(trains.copy[order], device=device)
            self.neuron = xp.as_tensor(trains.neuron[order], device=device)
            self.empty = xp.zeros((B, N), dtype=dtype, device=device)

    def at(self, n: int):
        a, b = self.bounds[n], self.bounds[n + 1]
        if a == b:
            return self.empty
        s = self.empty.copy() if self.xp is np else self.empty.clone()
        s[self.copy[a:b], self.neuron[a:b]] = 1.0
        return s


def _clip_rows(W, mask, rule):
    """Clip the entries of ``W`` that are synapses (``mask > 0``) to the rule's bounds."""
    return np.where(mask > 0, np.clip(W, rule.w_min, rule.w_max), W)


def _clip(xp, W, lo, hi, mask, touched):
    """Clip the synapses a spike just updated (``touched`` broadcast against ``mask``)."""
    clipped = xp.clip(W, lo, hi) if xp is np else W.clamp(lo, hi)
    upd = (mask * touched) > 0
    return xp.where(upd, clipped, W)


def _resolve_xp(xp):
    if xp in (None, "numpy") or xp is np:
        return np
    if xp == "torch" or getattr(xp, "__name__", "") == "torch":
        from neurorec.backends.ops import require

        return require("torch")
    raise ValueError(f"xp must be 'numpy' or 'torch', got {xp!r}.")


def run_network(net: Network, inputs=None, *, n_steps: int | None = None, batch: int | None = None,
                record: Sequence[tuple[str, str]] = (), initial: Mapping | None = None,
                sources: Mapping | None = None, xp="numpy", device: str = "cpu",
                dtype: str = "float64") -> NetworkRun:
    """Simulate ``net`` with the shared step functions on numpy or torch.

    Parameters
    ----------
    net : Network
    inputs : array of shape (batch, T, n_inputs) or (T, n_inputs), optional
        External input of each step (numpy array or torch tensor). Required when the network has
        input connections; otherwise give ``n_steps`` (and ``batch``).
    n_steps, batch : int, optional
        Length and number of independent copies when there is no input.
    record : sequence of (population, variable)
        State variables to record after every step.
    initial : dict, optional
        ``{population: {variable: array broadcastable to (batch, size)}}``: initial values
        replacing the resting state (e.g. random membrane potentials).
    sources : dict, optional
        ``{population: SpikeTrains or 0/1 array (batch, T, size)}``: the spikes of every
        :class:`SpikeSource` population (they fix ``batch`` and ``n_steps`` when there is no input).
        Source populations are left out of :attr:`NetworkRun.spikes` (the caller has them).
    xp : {"numpy", "torch"}
        Array library of the simulation.
    device, dtype : str
        Torch device and dtype (``"float32"`` or ``"float64"``); numpy always runs in float64.

    Returns
    -------
    NetworkRun
    """
    xp = _resolve_xp(xp)
    if xp is np and inputs is not None and type(inputs).__module__.startswith("torch"):
        inputs = inputs.detach().cpu().double().numpy()
    x, B, T, record, init, sources = _check_run_args(net, inputs, n_steps, batch, record, initial, sources)
    is_torch = xp is not np
    if is_torch:
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}.")
        tdtype = getattr(xp, dtype)
        dev = xp.device(device)
        if x is not None:
            x = xp.as_tensor(x, dtype=tdtype, device=dev)
            if not bool(xp.isfinite(x).all()):
                raise ValueError("inputs contain NaN or infinite values.")

        def zeros(n):
            return xp.zeros((B, n), dtype=tdtype, device=dev)

        def const(a):
            return xp.as_tensor(np.array(a), dtype=tdtype, device=dev)
    else:
        tdtype, dev = np.float64, None

        def zeros(n):
            return np.zeros((B, n))

        def const(a):
            return np.array(a, dtype=np.float64)

    currents = input_currents(net, x) if x is not None else {}
    feeds = {name: _SourceFeed(trains, xp, tdtype, dev) for name, trains in sources.items()}
    pops = [p for p in net.populations if not p.is_source]
    d = {p.name: p.neuron.decays(net.dt) for p in pops}
    state = {}
    for p in pops:
        st = p.neuron.initial_state(zeros(p.size))
        for var, value in init.get(p.name, {}).items():
            st = st._replace(**{var: const(value)})
        state[p.name] = st
    syn, plastic = [], {}
    for index, c in enumerate(net.connections):
        if c.source == INPUT:
            continue
        sy = _Synapse(net, c, xp, tdtype, dev)
        if c.plasticity is not None:
            sy.make_plastic(c, B, xp, tdtype, dev, net.dt)
            plastic[index] = sy
        syn.append(sy)
    max_delay = max((s.delay for s in syn), default=0)
    history = {p.name: [zeros(p.size)] * (max_delay + 1) for p in net.populations}  # ring of past spikes
    spikes_out = {p.name: [] for p in pops}
    states_out = {key: [] for key in record}
    zero_current = {p.name: zeros(p.size) for p in pops if p.name not in currents}
    for n in range(T):
        fired, closed = {}, {}
        for name, feed in feeds.items():
            fired[name] = feed.at(n)
            ring = history[name]
            ring.pop(0)
            ring.append(fired[name])
        for p in pops:
            cur = currents[p.name][:, n] if p.name in currents else zero_current[p.name]
            free = state[p.name].refrac <= 0.5
            s, state[p.name] = p.neuron.step(state[p.name], cur, net.dt, xp=xp, decays=d[p.name])
            fired[p.name] = s
            # neurons whose v takes no synaptic jump this step (see _Synapse)
            closed[p.name] = xp.where(free, s, s * 0.0 + 1.0) if p.neuron.refractory > 0 else s
            ring = history[p.name]
            ring.pop(0)
            ring.append(s)
        for sy in syn:
            s_pre = history[sy.source][max_delay - sy.delay]
            jump = sy.plastic_step(xp, s_pre, fired[sy.target]) if sy.stdp is not None else sy.deliver(s_pre)
            if sy.masked:
                jump = jump * (1.0 - closed[sy.target])
            st = state[sy.target]
            state[sy.target] = st._replace(**{sy.variable: getattr(st, sy.variable) + jump})
        for p in pops:
            spikes_out[p.name].append(fired[p.name])
        for pop, var in record:
            states_out[(pop, var)].append(getattr(state[pop], var))
    for p in pops:
        stacked = xp.stack(spikes_out[p.name], 1)
        spikes_out[p.name] = stacked if is_torch else stacked.astype(np.uint8)
    states = {key: xp.stack(v, 1) for key, v in states_out.items()}
    weights = {i: (sy.Wp * sy.mask) for i, sy in plastic.items()}
    synops = count_synops(net, {**spikes_out, **sources}, x)
    return NetworkRun(spikes=spikes_out, states=states, synops=synops, weights=weights)
