r"""Operation counts and energy per inference: counted operations times a chip profile's energy
per operation.

:func:`count_operations` counts, per inference (one input sequence, averaged over the sequences
of ``X``), the operations a model performs to produce its output; :func:`energy` multiplies them
by the per-operation energies of a :class:`~neurorec.hardware.chips.ChipProfile`;
:func:`energy_from_counts` does the multiplication alone (the experiment runner stores the counts
and prices them afterwards, for any profile).

Two families of models, two kinds of counts
-------------------------------------------
**Spiking models** (:class:`~neurorec.models.spiking.snn.SpikingClassifier`,
:class:`~neurorec.models.spiking.lsm.LSM`, a :class:`~neurorec.models.spiking.network.Network`
and its :class:`~neurorec.models.spiking.network.NetworkRun`):

- ``synops``: the synaptic operations neurorec already counts (``model.synops_`` after a
  prediction, ``NetworkRun.synops``): every presynaptic event times its fan-out (non-zero
  outgoing weights), :math:`\sum_{\text{conn}} \sum_t \sum_i s_i[t]\, n_i`; an analog input value
  counts as one event per outgoing weight, every simulation step it is presented.
- ``neuron_updates``: neurons times simulated steps, :math:`\sum_p N_p\, T_{sim}`: a
  time-stepped chip updates every neuron every step, whether it spikes or not. The
  SpikingClassifier's non-spiking readout integrator counts as a neuron.
- ``neuron_state_updates``: the same weighted by the state variables of each neuron model
  (LIF: 1, the readout integrator: 1, SynapticLIF / CubaLIF / AdaptiveLIF: 2, CobaLIF: 3), used
  on a MAC datapath (below).
- ``spikes``: spikes emitted by the model's own neurons (hidden layers, liquid, populations; not
  the input, not the SpikingClassifier's output layer) where the model reports them, else NaN.
- ``macs, additions, nonlinearities, memory_accesses``: the part that runs on a conventional
  datapath; for the LSM its linear readout and spike-trace filter (zero for the others).

**Classical models** (:class:`~neurorec.models.reservoir.ESN`, :class:`~neurorec.models.recurrent.Elman`,
:class:`~neurorec.models.recurrent.Jordan`, :class:`~neurorec.models.recurrent.LSTM`,
:class:`~neurorec.models.recurrent.GRU`, :class:`~neurorec.models.linear.LinearAR`, with their
readouts): ``macs`` (multiply-accumulates), ``additions`` (bias and other additions not fused into a
MAC), ``nonlinearities`` (tanh, sigmoid, exp evaluations) and ``memory_accesses``; the spiking
counts are 0.

Memory accesses (classical models and every MAC-datapath count), one word each:

.. math::

    A = \underbrace{M_w + A_b}_{\text{parameter reads}}
      + \underbrace{R}_{\text{operand-vector reads}}
      + \underbrace{W}_{\text{result / state writes}}

one parameter read per weight MAC (:math:`M_w`) and per bias addition (:math:`A_b`); every
element of an operand vector (input, previous state, readout features) read once per matrix
product that uses it; every element of a new state or output written once. Elementwise products
of two activations (LSTM/GRU gates) read no parameter. Weights are assumed to stream from memory
at every step (they do not fit in registers), as in Horowitz (2014)'s accounting of a CPU/GPU-like
datapath.

Step counts: a recurrent model performs its per-step work on every valid step :math:`L_b` of
sequence :math:`b` (padding is not counted); a spiking model on every simulation step
(:math:`L_b \times` ``steps_per_input``, or ``n_steps`` for a static input). All counts are
averaged over the ``B`` sequences of ``X``.

Energy
------
Per inference, in picojoules (and joules, :math:`10^{-12}` J/pJ), with :math:`e_\cdot` the
profile's ``energy_per_*_pj``:

- spiking model on a neuromorphic profile (``kind == "neuromorphic"``):
  :math:`E = S\,e_{synop} + U\,e_{neuron\ update} \,[+\, K\,e_{spike}]`, the spike (routing) term
  when the profile gives ``energy_per_spike_pj`` and the spikes are counted (else left out, with
  a note); the model's MAC part (the LSM's readout) is priced with the profile's MAC figures when
  it has them, otherwise it is left out (it runs on the host) and ``covers`` says so;
- spiking model on the MAC profile (``kind == "mac"``): every SynOp is an accumulate of a weight
  into a state (one addition, :math:`e_{add}`, and one weight read, :math:`e_{mem}`); every
  neuron state-variable update a multiply-accumulate (the decay, :math:`e_{mac}`) with a read and a
  write of the state (:math:`2 e_{mem}`); threshold comparisons and resets are not priced, and
  the SynOps of an analog input (``encoder="current"``) are priced as accumulates too, though a
  datapath would multiply them (a lower bound):
  :math:`E = S (e_{add} + e_{mem}) + U_s (e_{mac} + 2 e_{mem}) + E_{MAC\ part}`;
- classical model (or the MAC part of a spiking one), on any profile:
  :math:`E = M\,e_{mac} + A_+\,e_{add} + A\,e_{mem}`; nonlinearities are not priced (no profile
  gives a figure for them). A neuromorphic profile has no MAC figures, so a classical model's
  energy on it is NaN, with the reason in ``note``.

A figure the formula needs that the profile leaves empty (None) gives NaN, with a note naming it;
a term whose count is 0 needs no figure. Nothing is ever filled in.

Not counted: the input encoding (Poisson / delta spike generation) and the host-side pooling of a
SpikingClassifier's readout over time; synaptic weight updates of plastic (STDP) connections;
static leakage power (energies are dynamic energy per operation); data movement off chip.

References
----------
M. Horowitz (2014), "Computing's energy problem (and what we can do about it)", ISSCC, pp. 10-14
(energy per operation and per memory access in 45 nm). M. Davies et al. (2018), "Loihi: a
neuromorphic manycore processor with on-chip learning", IEEE Micro 38(1) (energy per synaptic
operation and per neuron update). The profiles carry the figures with their sources
(:mod:`neurorec.hardware.chips`).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["count_operations", "energy", "energy_from_counts", "COUNT_KEYS", "ENERGY_FIELDS"]

#: Numeric keys of :func:`count_operations`'s result (per inference).
COUNT_KEYS = ("synops", "neuron_updates", "neuron_state_updates", "spikes", "macs", "additions",
              "nonlinearities", "memory_accesses")
#: The profile fields :func:`energy` reads (pJ per operation).
ENERGY_FIELDS = ("energy_per_synop_pj", "energy_per_neuron_update_pj", "energy_per_spike_pj",
                 "energy_per_mac_pj", "energy_per_add_pj", "energy_per_memory_access_pj")
_PJ = 1e-12
_STATE_VARS = {"LIF": 1, "SynapticLIF": 2, "CubaLIF": 2, "AdaptiveLIF": 2, "CobaLIF": 3}


# ------------------------------------------------------------------------------------------------
# the conventional-datapath tally
# ------------------------------------------------------------------------------------------------

@dataclass
class _Tally:
    """MACs, additions, nonlinearities and memory accesses of a piece of computation."""

    macs: float = 0.0
    additions: float = 0.0
    nonlinearities: float = 0.0
    memory_accesses: float = 0.0

    def __add__(self, other: _Tally) -> _Tally:
        return _Tally(self.macs + other.macs, self.additions + other.additions,
                      self.nonlinearities + other.nonlinearities, self.memory_accesses + other.memory_accesses)

    def __mul__(self, k: float) -> _Tally:
        return _Tally(self.macs * k, self.additions * k, self.nonlinearities * k, self.memory_accesses * k)

    __rmul__ = __mul__


def _dense(n_weights: float, n_in: float, n_out: float, n_bias: float = 0.0, nonlin: float = 0.0) -> _Tally:
    r"""A matrix-vector product with ``n_weights`` non-zero weights, ``n_in`` inputs and ``n_out``
    outputs, plus ``n_bias`` bias additions and ``nonlin`` nonlinearities:
    :math:`M = n_w`, :math:`A_+ = n_b`, memory :math:`n_w + n_b + n_{in} + n_{out}`."""
    return _Tally(n_weights, n_bias, nonlin, n_weights + n_bias + n_in + n_out)


def _pool_mean(width: float, steps: float) -> _Tally:
    r"""Mean over ``steps`` steps of a ``width`` vector: ``width`` additions and reads per step,
    one multiply by :math:`1/L` per element at the end (a MAC) and ``width`` writes."""
    return _Tally(width, width * steps, 0.0, width * steps + width)


# ------------------------------------------------------------------------------------------------
# counting
# ------------------------------------------------------------------------------------------------

def _lengths(model, X, name: str = "X") -> np.ndarray:
    from neurorec._validation import check_sequences

    n = getattr(model, "n_features_in_", None)
    return check_sequences(X, name, n_features=n, dtype=np.float32).lengths.astype(np.float64)


def _result(model, family: str, B: int, steps: float, tally: _Tally | None = None, **spiking) -> dict:
    t = tally or _Tally()
    out = {"model": type(model).__name__, "family": family, "n_sequences": int(B), "steps": float(steps),
           "synops": 0.0, "neuron_updates": 0.0, "neuron_state_updates": 0.0, "spikes": 0.0,
           "macs": float(t.macs), "additions": float(t.additions), "nonlinearities": float(t.nonlinearities),
           "memory_accesses": float(t.memory_accesses)}
    out.update({k: float(v) for k, v in spiking.items()})
    return out


def count_operations(model, X, *, run: bool = True) -> dict:
    r"""Operations of one inference (one sequence of ``X``, averaged over its sequences).

    Parameters
    ----------
    model : fitted model or Network
        A fitted SpikingClassifier, LSM, ESN, Elman, Jordan, LSTM, GRU or LinearAR (a quantised
        spiking classifier from :func:`neurorec.hardware.fixed_point` counts as its class does), or a
        :class:`~neurorec.models.spiking.network.Network`.
    X : array (batch, time, features), (time, features), list of sequences, or a NetworkRun
        The inputs. For a Network: its inputs ``(batch, T, n_inputs)`` (it is run with the
        numpy step engine) or the :class:`~neurorec.models.spiking.network.NetworkRun` of a run
        already made.
    run : bool
        Spiking models: run the model on ``X`` (``transform``) to count its SynOps. ``False``
        uses ``model.synops_`` (and spike rates) left by the caller's last prediction, which must
        have been on this ``X`` (what the experiment runner does after predicting the test split).

    Returns
    -------
    dict
        ``model`` (class name), ``family`` ("spiking" or "classical"), ``n_sequences`` (B),
        ``steps`` (mean model steps per sequence: simulation steps for a spiking model), and the
        per-inference counts :data:`COUNT_KEYS`. The formulas (per sequence of :math:`L` valid
        steps; see the module docstring for memory accesses):

        - ESN (:math:`N` units, :math:`F` inputs, :math:`O` outputs, leak :math:`a`, readout
          features :math:`D = N\,[+F]`); per step
          :math:`M = \mathrm{nnz}(W_{in}) + \mathrm{nnz}(W) + \mathrm{nnz}(W_{fb}) + [a<1] N`,
          :math:`A_+ = \mathrm{nnz}(b) + [a<1] N` (the update :math:`x + a(f - x)` is one
          subtraction and one MAC per unit), :math:`N` nonlinearities (none for ``identity``),
          memory :math:`\mathrm{nnz}(W_{in}, W, W_{fb}, b) + (F + N\,[+O]) + N`; the readout
          :math:`D O` MACs and :math:`O` additions per evaluation: every step (regression),
          every step after the washout (``classify="vote"``) or once (``"last"``; ``"mean"``
          adds :math:`D` additions per averaged step and :math:`D` scalings). Non-zeros are
          those of the actual matrices: a sparse implementation's count (neurorec's own dense
          numpy/torch products do :math:`N^2`). IPESN adds, per step, :math:`N` MACs (each unit's
          intrinsic-plasticity gain and bias) and :math:`2N` memory reads (:math:`+N` for the
          leaky net input kept beside the output when :math:`a < 1`).
        - DeepESN: each layer as the ESN's reservoir step (its input is the layer below's
          :math:`N_{l-1}` states), summed over the layers, and one readout of the
          :math:`D` = ``W_out_.shape[0]`` features (all layers' states or the top one's, [+F]).
        - NVAR (:math:`k` delays, :math:`F` inputs, order :math:`p`): per step the
          :math:`kF` linear features read from the delay line (:math:`F` writes), the
          :math:`C(kF+p-1, p)` monomials at :math:`p-1` multiplications each (counted as MACs),
          the readout on :math:`D` features and, when the increment is learned, :math:`O`
          additions :math:`u[t] + \Delta`.
        - Elman / LSTM / GRU (:math:`G` = 1, 4, 3 gates; :math:`H` units; layer input
          :math:`I` = :math:`F`, then :math:`H` times the directions); per layer, direction and
          step :math:`M = G H (I + H) + e_M H`, :math:`A_+ = 2 G H + e_A H` (torch's two bias
          vectors), nonlinearities :math:`H, 5H, 3H`, with the elementwise gate arithmetic
          :math:`e_M = 0, 3, 2` (LSTM: :math:`f c`, :math:`i g`, :math:`o \tanh c`; GRU:
          :math:`r (W_{hn} h + b_{hn})`, :math:`z (h - n)`) and :math:`e_A = 0, 0, 1`; memory
          :math:`G H (I + H) + 2 G H + (I + H) + H`, plus :math:`2H` for the LSTM's cell state.
          Readout: the dense head (:math:`H_w O` MACs, :math:`H_w = H \times` directions) every
          step (regression) or once per sequence (classification; ``pooling="mean"`` adds the
          mean of :math:`H_w` outputs over the steps, ``batch_norm`` one folded scale and shift,
          a MAC, per feature).
        - Jordan (hidden sizes :math:`H`, context :math:`O`); per step the dense layers
          :math:`(F + O) \to H \to \dots \to H \to O` with their biases and :math:`H` tanh per
          layer, the softmax of a classifier (:math:`O` exp, :math:`O` additions, :math:`O`
          scalings) and the context update :math:`c = \mu c + y` (:math:`O` MACs when
          :math:`\mu > 0`, else a copy: :math:`O` writes).
        - LinearAR (:math:`d` delays): regression per step :math:`d F O` MACs, :math:`O`
          additions, memory :math:`d F O + O + d F + F + O` (the delay line is written once per
          step); classification the mean of the input (:math:`F` additions per step), the delay
          line (:math:`F` writes per step) and one readout of :math:`(F + d F) O` MACs.
        - SpikingClassifier (hidden sizes :math:`h_\ell`, :math:`C` classes, :math:`T_s`
          simulation steps): ``synops`` = ``synops_``; ``neuron_updates`` =
          :math:`(\sum_\ell h_\ell + C)\, T_s`; ``spikes`` = :math:`\sum_\ell r_\ell h_\ell T_s`
          from ``spike_rate_``.
        - LSM (:math:`N` neurons, SynapticLIF: 2 state variables): ``synops`` = ``synops_``
          (the bias is a neuron parameter, not an event), ``neuron_updates`` = :math:`N T_s`,
          ``spikes`` from ``rate_``; the MAC part: the spike-trace filter :math:`r \leftarrow
          e^{-\Delta t/\tau_f} r + s` (:math:`N` MACs per simulation step) and the ridge readout,
          as for the ESN.
        - Network: ``synops`` = ``NetworkRun.synops / B``; ``neuron_updates`` = :math:`\sum_p
          N_p T` over the populations that are not SpikeSources; ``spikes`` their spikes.

    Raises
    ------
    TypeError
        For a model whose operations are not modelled (the message lists those that are).
    ValueError
        For an unfitted model, bad ``X``, or ``run=False`` without ``synops_``.
    """
    from neurorec.models.spiking.network import Network, NetworkRun

    if isinstance(model, NetworkRun):
        raise TypeError("count_operations needs the Network and its run: count_operations(net, run) "
                        "(the run alone does not say how many state variables each neuron has).")
    if isinstance(model, Network):
        return _count_network(model, X)
    name = type(model).__name__
    mro = {c.__name__ for c in type(model).__mro__}
    if "SpikingClassifier" in mro or (hasattr(model, "weights_") and "hidden.0.weight" in getattr(model, "weights_", {})
                                      and hasattr(model, "_fan_outs")):
        return _count_snn(model, X, run)
    if "LSM" in mro:
        return _count_lsm(model, X, run)
    if "ESN" in mro:
        return _count_esn(model, X)
    if "DeepESN" in mro:
        return _count_deep_esn(model, X)
    if "NVAR" in mro:
        return _count_nvar(model, X)
    if "RecurrentModel" in mro:
        return _count_recurrent(model, X)
    if "LinearAR" in mro:
        return _count_linear_ar(model, X)
    raise TypeError(f"count_operations: no operation model for {name}; supported: SpikingClassifier, LSM, "
                    f"Network (with its inputs or NetworkRun), ESN, DeepESN, NVAR, Elman, Jordan, LSTM, GRU, "
                    f"LinearAR.")


def _fitted(model, attr: str, method: str = "count_operations") -> None:
    if not hasattr(model, attr):
        raise ValueError(f"{type(model).__name__} is not fitted: call fit before {method}.")


def _synops(model, X, run: bool) -> None:
    """Make sure ``model.synops_`` is the count of ``X``."""
    if run:
        model.transform(X)
    elif getattr(model, "synops_", None) is None:
        raise ValueError(f"run=False needs {type(model).__name__}.synops_ from a prediction on X; it has none "
                         f"(predict X first, or pass run=True).")


def _count_snn(model, X, run: bool) -> dict:
    _fitted(model, "weights_")
    lengths = _lengths(model, X)
    _synops(model, X, run)
    B = len(lengths)
    if getattr(model, "input_mode", "sequence") == "static":
        sim = np.full(B, float(model.n_steps))
    else:
        sim = lengths * float(getattr(model, "steps_per_input", 1))
    T = float(sim.mean())
    sizes = [int(model.weights_[f"hidden.{i}.weight"].shape[0])
             for i in range(sum(1 for k in model.weights_ if k.startswith("hidden.") and k.endswith(".weight")))]
    n_out = int(model.weights_["output.weight"].shape[0])
    neurons = sum(sizes) + n_out
    rates = getattr(model, "spike_rate_", None)
    spikes = float(np.dot(np.asarray(rates, dtype=np.float64), sizes)) * T if rates is not None and \
        len(rates) == len(sizes) else math.nan
    return _result(model, "spiking", B, T, synops=float(model.synops_), neuron_updates=neurons * T,
                   neuron_state_updates=neurons * T, spikes=spikes)


def _readout(D: float, O: float, task: str, mode: str, L: np.ndarray, pooled: np.ndarray | None = None) -> _Tally:
    """Linear readout ``y = W^T z + b`` (D features, O outputs), per sequence, averaged over ``L``:
    every step (regression), every ``pooled`` step (``vote``: the steps after the washout), once
    (``last``) or once after a mean over the ``pooled`` steps."""
    one = _dense(D * O, D, O, O)
    if task != "classification":
        return one * float(L.mean())
    if mode == "vote":
        return one * float((L if pooled is None else pooled).mean())
    if mode == "mean":
        return one + _pool_mean(D, float((L if pooled is None else pooled).mean()))
    return one


def _count_lsm(model, X, run: bool) -> dict:
    _fitted(model, "W_out_")
    lengths = _lengths(model, X)
    _synops(model, X, run)
    B, N, k = len(lengths), int(model.units), float(model.steps_per_input)
    T = float(lengths.mean()) * k
    n_vars = _STATE_VARS.get(type(model._neuron()).__name__, 2)
    rate = getattr(model, "rate_", None)
    spikes = float(rate) * N * T * float(model.dt) * 1e-3 if rate is not None else math.nan
    # the host: spike-trace filter (per simulation step) and the ridge readout
    host = _Tally()
    if model.features in ("trace", "both"):
        host = host + _Tally(N, 0.0, 0.0, 3 * N) * T        # r <- a r + s: read r and s, write r
    D = N * (2 if model.features == "both" else 1) + (model.n_features_in_ if model.input_to_readout else 0)
    O = model.W_out_.shape[1]
    start = np.where(lengths > model.washout, model.washout, 0)
    host = host + _readout(D, O, model.task_, model.classify, lengths, lengths - start)
    return _result(model, "spiking", B, T, host, synops=float(model.synops_), neuron_updates=N * T,
                   neuron_state_updates=N * n_vars * T, spikes=spikes)


def _count_network(net, X) -> dict:
    from neurorec.models.spiking.network import NetworkRun

    run = X if isinstance(X, NetworkRun) else net.run(X, engine="numpy")
    pops = [p for p in net.populations if not p.is_source]
    B = T = None
    updates = state_updates = spikes = 0.0
    for p in pops:
        s = run.spikes[p.name]
        shape = tuple(s.shape)
        B, T = shape[0], shape[1]
        n_vars = len(p.variables)
        updates += p.size * T
        state_updates += p.size * n_vars * T
        spikes += float(s.sum()) if not hasattr(s, "cpu") else float(s.double().sum().cpu())
    if B is None:
        raise ValueError("count_operations: the network has no population that is not a SpikeSource; "
                         "there is nothing to update.")
    out = _result(net, "spiking", B, T, synops=float(run.synops) / B, neuron_updates=updates,
                  neuron_state_updates=state_updates, spikes=spikes / B)
    return out


def _count_esn(model, X) -> dict:
    _fitted(model, "W_out_")
    lengths = _lengths(model, X)
    N, F = model.W_.shape[0], model.W_in_.shape[1]
    O = int(model.n_outputs_)
    fb = model.feedback and getattr(model, "W_fb_", None) is not None
    leaky = float(model.leak_rate) < 1.0
    step = _reservoir_step(model.W_, model.W_in_, model.bias_, float(model.leak_rate), F + (O if fb else 0),
                           W_fb=model.W_fb_ if fb else None, nonlinear=model.activation != "identity")
    if getattr(model, "gain_", None) is not None:
        # IPESN: x = f(gain r + bias), one MAC per unit; gain and bias read, the leaky net input r kept
        step = step + _Tally(N, 0.0, 0.0, 2 * N + (N if leaky else 0.0))
    D = N + (F if model.input_to_readout else 0)
    start = np.where(lengths > model.washout, model.washout, 0)
    total = step * float(lengths.mean()) + _readout(D, O, model.task_, model.classify, lengths, lengths - start)
    return _result(model, "classical", len(lengths), float(lengths.mean()), total)


def _reservoir_step(W, W_in, bias, leak: float, n_in: int, W_fb=None, nonlinear: bool = True) -> _Tally:
    """One leaky reservoir step, the ESN's formula (``n_in``: the values read as input, fed-back
    outputs included)."""
    N = W.shape[0]
    nnz = float(np.count_nonzero(W_in) + np.count_nonzero(W) + (0 if W_fb is None else np.count_nonzero(W_fb)))
    nb = float(np.count_nonzero(bias))
    leaky = leak < 1.0
    return _Tally(nnz + (N if leaky else 0.0), nb + (N if leaky else 0.0), N if nonlinear else 0.0,
                  nnz + nb + (n_in + N) + N)


def _count_deep_esn(model, X) -> dict:
    _fitted(model, "W_out_")
    lengths = _lengths(model, X)
    r = model.reservoirs_
    n_layers = sum(k.startswith("W_in") for k in r)
    leaks = model._per_layer("leak_rate", n_layers)
    step = _Tally()
    for i in range(n_layers):
        W, W_in = r[f"W{i}"], r[f"W_in{i}"]
        step = step + _reservoir_step(W, W_in, r[f"bias{i}"], float(leaks[i]), W_in.shape[1])
    D, O = model.W_out_.shape
    start = np.where(lengths > model.washout, model.washout, 0)
    total = step * float(lengths.mean()) + _readout(D, O, model.task_, model.classify, lengths, lengths - start)
    return _result(model, "classical", len(lengths), float(lengths.mean()), total)


def _count_nvar(model, X) -> dict:
    from math import comb

    _fitted(model, "W_out_")
    lengths = _lengths(model, X)
    F, O = int(model.n_features_in_), int(model.n_outputs_)
    lin = int(model.delay) * F
    p = int(model.order)
    n_mono = comb(lin + p - 1, p) if p >= 2 else 0
    D = int(model.W_out_.shape[0])
    step = _Tally(float(n_mono * (p - 1)), 0.0, 0.0, float(lin + F + n_mono)) + _dense(D * O, D, O, O)
    if model.difference_:
        step = step + _Tally(0.0, float(O), 0.0, float(O))
    L = float(lengths.mean())
    return _result(model, "classical", len(lengths), L, step * L)


_GATES = {"elman": 1, "lstm": 4, "gru": 3}
_ELEMENTWISE = {"elman": (0, 0, 1), "lstm": (3, 0, 5), "gru": (2, 1, 3)}   # (MACs, additions, nonlinearities) / H


def _count_recurrent(model, X) -> dict:
    _fitted(model, "weights_")
    lengths = _lengths(model, X)
    L = float(lengths.mean())
    w = model.weights_
    F, O = int(model.n_features_in_), int(model.n_outputs_)
    clf = model.task_ == "classification"
    cell = model._cell
    if cell == "jordan":
        return _count_jordan(model, lengths, F, O, clf)
    G, H = _GATES[cell], int(model.units)
    dirs = 2 if model.bidirectional else 1
    eM, eA, eN = _ELEMENTWISE[cell]
    step = _Tally()
    for layer in range(int(model.layers)):
        I = F if layer == 0 else H * dirs
        mem = G * H * (I + H) + 2 * G * H + (I + H) + H + (2 * H if cell == "lstm" else 0)
        step = step + _Tally(G * H * (I + H) + eM * H, 2 * G * H + eA * H, eN * H, mem) * dirs
    Hw = H * dirs
    total = step * L
    if not clf:
        total = total + _dense(Hw * O, Hw, O, O) * L
    else:
        if model.pooling == "mean":
            total = total + _pool_mean(Hw, L)
        if "bn.weight" in w:
            total = total + _Tally(Hw, 0.0, 0.0, 2 * Hw + Hw + Hw)   # x s + t: read s, t, x; write
        total = total + _dense(Hw * O, Hw, O, O)
    return _result(model, "classical", len(lengths), L, total)


def _count_jordan(model, lengths, F, O, clf) -> dict:
    w = model.weights_
    L = float(lengths.mean())
    n_hidden = sum(1 for k in w if k.startswith("jordan.") and k.endswith(".weight"))
    step = _Tally()
    for k in range(n_hidden):
        out_k, in_k = w[f"jordan.{k}.weight"].shape
        step = step + _dense(in_k * out_k, in_k, out_k, out_k, nonlin=out_k)
    H = w["head.weight"].shape[1]
    step = step + _dense(H * O, H, O, O)
    if clf:
        step = step + _Tally(O, O, O, 2 * O)                 # softmax: O exp, a sum, O scalings
    mu = float(model.context_decay)
    step = step + (_Tally(O, 0.0, 0.0, 3 * O) if mu > 0 else _Tally(0.0, 0.0, 0.0, O))
    total = step * L
    if clf and model.pooling == "mean":
        total = total + _pool_mean(O, L)
    return _result(model, "classical", len(lengths), L, total)


def _count_linear_ar(model, X) -> dict:
    _fitted(model, "W_out_")
    lengths = _lengths(model, X)
    L = float(lengths.mean())
    F, O, d = int(model.n_features_in_), int(model.n_outputs_), int(model.delays)
    if model.task_ == "classification":
        total = _pool_mean(F, L) + _Tally(0.0, 0.0, 0.0, F) * L + _dense((F + d * F) * O, F + d * F, O, O)
    else:
        total = (_dense(d * F * O, d * F, O, O) + _Tally(0.0, 0.0, 0.0, F)) * L
    return _result(model, "classical", len(lengths), L, total)


# ------------------------------------------------------------------------------------------------
# profiles and energy
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Profile:
    name: str
    kind: str
    e: dict
    sources: dict
    notes: dict


def _read_profile(profile) -> _Profile:
    """A name or path (loaded with :func:`~neurorec.hardware.chips.load_profile`), a ChipProfile,
    a mapping or any object with the profile's attributes."""
    if isinstance(profile, _Profile):
        return profile
    if isinstance(profile, (str, os.PathLike)):
        from neurorec.hardware.chips import load_profile

        profile = load_profile(profile)
    if isinstance(profile, Mapping):
        def get(k):
            return profile.get(k)
    else:
        def get(k):
            return getattr(profile, k, None)
    name = get("name") or "custom"
    kind = get("kind")
    if kind not in ("neuromorphic", "mac"):
        raise ValueError(f"profile {name!r}: kind must be 'neuromorphic' or 'mac', got {kind!r}.")
    e = {}
    for field in ENERGY_FIELDS:
        v = get(field)
        if v is not None:
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"profile {name!r}: {field} must be a non-negative number of pJ or None, got {v!r}.")
            v = float(v)
        e[field] = v
    return _Profile(str(name), kind, e, dict(get("sources") or {}), dict(get("notes") or {}))


def _count(counts: Mapping, key: str) -> float:
    v = counts.get(key, 0.0)
    v = 0.0 if v is None else float(v)
    return v


def _family(counts: Mapping) -> str:
    fam = counts.get("family")
    if fam in ("spiking", "classical"):
        return fam
    return "spiking" if _count(counts, "neuron_updates") > 0 else "classical"


def _price(terms, p: _Profile, missing: list) -> float:
    """Sum of count x figure over ``(label, count, field)`` terms; a needed figure that is None
    is added to ``missing`` and makes the sum NaN."""
    total = 0.0
    for _, n, field in terms:
        if n == 0 or (isinstance(n, float) and math.isnan(n)):
            continue
        e = p.e[field]
        if e is None:
            if field not in missing:
                missing.append(field)
            total = math.nan
            continue
        total += n * e
    return total


def energy_from_counts(counts: Mapping, profile) -> dict:
    """Price operation counts (:func:`count_operations`'s dict, or any mapping with
    :data:`COUNT_KEYS`) with a profile; see the module docstring for the formulas.

    Returns
    -------
    dict
        ``profile, profile_kind, family``, the energy per inference ``energy_pj`` and
        ``energy_J``, its parts ``spiking_pj`` (SynOps, neuron updates, spikes) and ``mac_pj``
        (MACs, additions, memory accesses), ``covers`` (``"all"``, ``"spiking part"`` when the
        MAC part could not be priced on a neuromorphic profile, or ``""`` when the total is NaN)
        and ``note`` (why a number is NaN, what is left out).
    """
    p = _read_profile(profile)
    fam = _family(counts)
    S, U = _count(counts, "synops"), _count(counts, "neuron_updates")
    Us, K = _count(counts, "neuron_state_updates") or U, _count(counts, "spikes")
    M, A, Mem = _count(counts, "macs"), _count(counts, "additions"), _count(counts, "memory_accesses")
    nonlin = _count(counts, "nonlinearities")
    notes: list[str] = []
    mac_terms = [("MACs", M, "energy_per_mac_pj"), ("additions", A, "energy_per_add_pj"),
                 ("memory accesses", Mem, "energy_per_memory_access_pj")]
    covers = "all"
    spiking_pj = 0.0
    if fam == "spiking":
        missing: list[str] = []
        if p.kind == "neuromorphic":
            spiking_pj = _price([("SynOps", S, "energy_per_synop_pj"),
                                 ("neuron updates", U, "energy_per_neuron_update_pj")], p, missing)
            e_spike = p.e["energy_per_spike_pj"]
            if e_spike is not None and math.isnan(K):
                notes.append("spike routing (energy_per_spike_pj) not included: the model's spikes are not counted")
            elif e_spike is not None:
                spiking_pj += K * e_spike
            elif K != 0:
                notes.append(f"{p.name} gives no energy_per_spike_pj: spike routing not included")
        else:
            spiking_pj = _price([("SynOps as accumulates", S, "energy_per_add_pj"),
                                 ("SynOp weight reads", S, "energy_per_memory_access_pj"),
                                 ("neuron state updates as MACs", Us, "energy_per_mac_pj"),
                                 ("neuron state reads and writes", 2 * Us, "energy_per_memory_access_pj")],
                                p, missing)
            notes.append("on a MAC datapath each SynOp is an accumulate with one weight read, each neuron state "
                         "update a MAC with a state read and write; threshold and reset not priced")
        if missing:
            notes.append(f"{p.name} gives no {', '.join(missing)}")
        mac_missing: list[str] = []
        mac_pj = _price(mac_terms, p, mac_missing)
        if mac_missing and p.kind == "neuromorphic" and (M or A or Mem):
            notes.append(f"the model's conventional part ({M:.4g} MACs per inference, e.g. its readout) runs on "
                         f"the host and is not included ({p.name} gives no {', '.join(mac_missing)})")
            mac_pj = 0.0
            covers = "spiking part"
        elif mac_missing:
            notes.append(f"{p.name} gives no {', '.join(mac_missing)}")
    else:
        mac_missing = []
        mac_pj = _price(mac_terms, p, mac_missing)
        if mac_missing:
            if p.kind == "neuromorphic":
                notes.append(f"{counts.get('model', 'the model')} is a classical (MAC) model and {p.name} is a "
                             f"neuromorphic profile with no {', '.join(mac_missing)}: no energy estimate")
            else:
                notes.append(f"{p.name} gives no {', '.join(mac_missing)}")
    if nonlin > 0:
        notes.append(f"{nonlin:.4g} nonlinearities per inference not priced (no profile figure)")
    total = spiking_pj + mac_pj
    if math.isnan(total):
        covers = ""
    return {"profile": p.name, "profile_kind": p.kind, "family": fam,
            "energy_pj": total, "energy_J": total * _PJ, "spiking_pj": spiking_pj, "mac_pj": mac_pj,
            "covers": covers, "note": "; ".join(notes)}


def energy(model, X, profile, *, run: bool = True):
    """Estimated energy per inference of ``model`` on the inputs ``X`` with a chip profile.

    Counts the operations (:func:`count_operations`) and prices them with the profile's energy
    per operation (:func:`energy_from_counts`; formulas in the module docstring).

    Parameters
    ----------
    model, X, run
        As for :func:`count_operations`.
    profile : str, path, ChipProfile, mapping, or a list of these
        A profile name (``"cmos45"``, ``"loihi"``, ...; see :func:`neurorec.hardware.profiles`),
        a TOML file, a loaded profile, or any object/mapping with ``name``, ``kind`` and the
        ``energy_per_*_pj`` fields (None where unknown).

    Returns
    -------
    dict, or pandas.DataFrame for a list of profiles
        The counts of :func:`count_operations` joined with the energy of
        :func:`energy_from_counts`: ``energy_J`` and ``energy_pj`` per inference (NaN, with the
        reason in ``note``, when the profile lacks a figure the model needs), one row per profile.

    Examples
    --------
    >>> from neurorec.hardware import energy
    >>> energy(esn, X_test, ["cmos45", "loihi"])[["profile", "macs", "energy_J", "note"]]  # doctest: +SKIP
    """
    many = isinstance(profile, Sequence) and not isinstance(profile, (str, bytes))
    profiles = list(profile) if many else [profile]
    if many and not profiles:
        raise ValueError("profile: expected a profile or a non-empty list of profiles, got an empty list.")
    read = [_read_profile(p) for p in profiles]          # bad profiles fail before any counting
    counts = count_operations(model, X, run=run)
    rows = []
    for p in read:
        rows.append({**counts, **energy_from_counts(counts, p)})
    if not many:
        return rows[0]
    import pandas as pd

    return pd.DataFrame(rows)

