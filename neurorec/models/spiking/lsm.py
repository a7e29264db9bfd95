r"""Liquid state machine: a recurrent spiking reservoir with a trained linear readout.

The liquid is a sparse random population of current-based synaptic LIF neurons
(:class:`~neurorec.models.spiking.neurons.SynapticLIF`), a fraction of them excitatory and the
rest inhibitory (Dale's law: every outgoing weight of a neuron has its sign). It is described
once as a :class:`~neurorec.models.spiking.network.Network` and simulated by brian2
(``backend="numpy"``) or by the torch step engine (``backend="torch"``, CPU or CUDA); in float64
both give the same spikes. The readout is trained by ridge regression on features read out
of the liquid at the end of every input step; optionally, before that, the liquid's excitatory
synapses are pre-trained without supervision by spike-timing-dependent plasticity (STDP) on the
training inputs, then frozen.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping

import numpy as np
from scipy import signal, sparse
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import (
    SeqBatch,
    check_positive_int,
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    is_table,
    resolve_task,
    tabular_as_sequences,
)
from neurorec.backends.ops import Ops
from neurorec.base import Model, ScoresToProba, fitted_as_classifier
from neurorec.models.readout import RidgeAccumulator
from neurorec.models.spiking.network import STDP, Connection, Network, Population, count_synops
from neurorec.models.spiking.neurons import SynapticLIF

__all__ = ["LSM"]

_FEATURES = ("trace", "membrane", "both")
_CLASSIFY = ("mean", "last")
_CODEGEN = ("cython", "numpy")
_STDP_CONNECTIONS = ("ee", "e")
_STDP_FIELDS = tuple(f.name for f in dataclasses.fields(STDP))
_STDP_WEIGHTS = ("a_pre", "a_post", "w_min", "w_max")  # in units of the largest initial excitatory weight


class LSM(ScoresToProba, Model):
    r"""Liquid state machine (Maass, Natschläger & Markram 2002) with a ridge readout.

    Liquid (``units`` neurons, :class:`~neurorec.models.spiking.neurons.SynapticLIF`, time step
    ``dt`` ms), for neuron :math:`j`:

    .. math::

        \tau_{syn}\dot i_j &= -i_j + b_j + \textstyle\sum_m u_m(t) W^{in}_{mj}
            + \tau_{syn}\textstyle\sum_k W_{kj}\sum_f \delta(t - t_k^f), \\
        \tau_{mem}\dot v_j &= -v_j + i_j,
        \qquad v_j > 1 \Rightarrow \text{spike},\ v_j \leftarrow 0,

    with a refractory period. In discrete time the input and bias add
    :math:`(1 - e^{-\Delta t/\tau_{syn}})(b_j + u W^{in}_{:j})` to :math:`i_j` every step, so a
    held input settles the synaptic current at :math:`b_j + u W^{in}_{:j}` whatever ``dt``.
    :math:`W` is sparse random (``connectivity``); the first
    ``exc_fraction`` of the neurons are excitatory with weights :math:`w \sim U(0, 2 w_e)`
    (``weight``), the others inhibitory with :math:`-g\,U(0, 2 w_e)` (``inhibition`` :math:`g`).
    The input :math:`u` (standardised on the training data when ``normalize``) is held for
    ``steps_per_input`` steps per sample; :math:`W^{in} \sim U(-s, s)` (``input_scaling`` :math:`s`,
    ``input_connectivity``); the bias :math:`b_j \sim U(b - \Delta b, b + \Delta b)` (``bias``,
    ``bias_spread``) keeps the neurons near threshold.

    Readout features at the end of each input step: the spike trains low-pass filtered with time
    constant ``tau_filter`` (``"trace"``, :math:`r \leftarrow e^{-\Delta t/\tau_f} r + s`, Maass
    et al.'s readout), the membrane potentials (``"membrane"``) or both; plus the input when
    ``input_to_readout``. A sequence regressor maps each step's features to the target; a
    classifier maps the features averaged over the sequence (``classify="mean"``, after
    ``washout``) or taken at its last step (``"last"``). Both readouts are ridge regressions
    (one-hot targets for classification).

    STDP pre-training (``stdp`` not None). Before the readout is trained, the plastic synapses
    (excitatory to excitatory with ``stdp_connections="ee"``, every synapse of an excitatory neuron
    with ``"e"``) learn by pair-based STDP with all-to-all pairing (Song, Miller & Abbott 2000;
    :class:`~neurorec.models.spiking.network.STDP`): a pair of a presynaptic spike at
    :math:`t_{pre}` and a postsynaptic one at :math:`t_{post}` changes the weight by

    .. math::

        \Delta w = \begin{cases} A_{pre}\, e^{-(t_{post} - t_{pre})/\tau_{pre}}
            & t_{post} \ge t_{pre} \\
            A_{post}\, e^{(t_{post} - t_{pre})/\tau_{post}} & t_{post} < t_{pre} \end{cases}

    and :math:`w` is clipped to :math:`[w_{min}, w_{max}]` after every change. ``stdp`` is a dict of
    :class:`~neurorec.models.spiking.network.STDP`'s parameters (missing ones take its defaults:
    :math:`\tau_{pre} = \tau_{post} = 20` ms, :math:`A_{pre} = 0.01`, :math:`A_{post} = -1.05
    A_{pre}`, :math:`w_{min} = 0`, :math:`w_{max} = 1`, Song et al.'s ratios) whose weights
    (``a_pre``, ``a_post``, ``w_min``, ``w_max``) are in units of :math:`2 w_e`, the largest initial
    excitatory weight: ``w_max=1`` bounds the learned weights by the top of the initial
    distribution :math:`U(0, 2 w_e)` (as Song et al. bound theirs by :math:`g_{max}`), so learning
    redistributes the excitatory weights without raising the liquid's largest one; ``w_max > 1``
    lets synapses grow beyond it. ``w_min`` must be >= 0 (Dale's law: an excitatory synapse stays
    excitatory); the initial plastic weights are clipped to the bounds before learning.

    Presentation: one copy of the liquid receives the training sequences one after another (their
    valid steps, in the order given, each held ``steps_per_input`` steps as for feature
    extraction, with the bias on), the state carried over from one sequence to the next, as a
    liquid would experience an input stream; ``stdp_epochs`` passes, each starting from rest with
    the weights the previous one left. This is the exact rule over the whole stream (no averaging
    of the changes of parallel copies, whose total would depend on ``batch_size``), deterministic
    (no randomness is drawn, so the initial liquid is the one ``stdp=None`` builds with the same
    seed), and the same on both backends (brian2 and the float64 step engine learn the same
    weights). The learned weights are then frozen and used for the features of every call. Each
    pass is one run with a batch of one over the whole training stream, so its cost grows with the
    total training length, not with ``batch_size`` (200 neurons, Mackey-Glass's 3599 training
    samples x 5 steps: about 8 s on the torch CPU engine, against 2 s for the features).

    The defaults (``input_scaling=5``, ``weight=0.5``, ``bias=1``) were chosen on the validation
    split of seed 0 of the digits, Mackey-Glass and Japanese-vowels tasks from
    ``input_scaling`` in {1, 3, 5} x ``weight`` in {0.5, 1, 2} x ``bias`` in {0.9, 1}.

    Parameters
    ----------
    units : int
        Number of liquid neurons.
    exc_fraction : float in (0, 1]
        Fraction of excitatory neurons (0.8 in cortex).
    connectivity : float in (0, 1]
        Probability of a synapse between two neurons (no autapses).
    weight : float
        Mean excitatory weight :math:`w_e` (jump of the synaptic current, threshold units).
    inhibition : float
        Ratio :math:`g` of inhibitory to excitatory weight magnitude.
    input_scaling, input_connectivity : float
        Scale and density of the input weights.
    bias, bias_spread : float
        Constant input current, centre and half-width of its uniform spread over neurons.
    tau_mem, tau_syn : float
        Membrane and synaptic time constants (ms).
    refractory : float
        Refractory period (ms).
    dt : float
        Simulation time step (ms).
    steps_per_input : int
        Simulation steps per input sample.
    features : {"trace", "membrane", "both"}
    tau_filter : float
        Time constant (ms) of the spike-trace filter.
    input_to_readout : bool
        Give the readout the input as well.
    ridge : float
        L2 penalty of the readout.
    washout : int
        Leading input steps of every sequence left out of readout training.
    classify : {"mean", "last"}
    normalize : bool
        Standardise the inputs with the training mean and standard deviation.
    batch_size : int
        Sequences simulated together (brian2 holds them as independent copies of the liquid).
    codegen_target : {"cython", "numpy"}
        brian2 code generation (numpy backend).
    backend : {"numpy", "torch"}
        ``"numpy"`` simulates the liquid in brian2, ``"torch"`` with the step engine.
    device : str
        Torch device.
    dtype : {"float64", "float32"}
        Torch simulation precision (brian2 runs in float64); float64 reproduces brian2's spikes.
    seed : int or None
        Seed of the liquid's random weights.
    stdp : dict or None
        STDP pre-training of the liquid (see above): None (off) or a dict of
        :class:`~neurorec.models.spiking.network.STDP` parameters (``{}``: its defaults), weights
        in units of :math:`2 w_e`.
    stdp_epochs : int
        Passes of STDP over the training sequences.
    stdp_connections : {"ee", "e"}
        Plastic synapses: excitatory to excitatory, or every synapse of an excitatory neuron
        (onto excitatory and inhibitory neurons).
    task : {"auto", "classification", "regression"}
        As for :class:`neurorec.models.ESN`: ``"classification"`` reads one label per sequence
        (any sortable labels) and a 2-D ``X`` as a table of samples (each row a one-step
        sequence, i.e. ``steps_per_input`` simulation steps); ``"regression"`` per-step targets,
        a 2-D ``X`` being one sequence; ``"auto"`` infers it from ``y`` and refuses a 2-D ``X``
        with integer or string ``y``. ``score`` of a regressor leaves out the first ``washout``
        steps. ``predict_proba`` is a temperature-scaled softmax of the ridge scores.

    Attributes
    ----------
    W_ : ndarray (units, units)
        Initial recurrent weights drawn from ``seed`` (row: presynaptic neuron); the same with and
        without STDP. :meth:`recurrent_weights` gives the weights the liquid runs with.
    W_stdp_ : ndarray (n_plastic,)
        With STDP only: the learned weights of the plastic synapses, the non-zero entries of
        ``W_`` in the plastic block in row-major order (counted as trained in ``n_parameters_``).
    stdp_rates_ : list of float
        With STDP only: mean firing rate (Hz) of the liquid during each pre-training pass.
    W_in_, bias_ : ndarray
        Input weights (n_features, units) and bias currents (units,).
    W_out_, b_out_ : ndarray
        Trained readout.
    synops_ : float
        Synaptic operations per sequence in the last ``predict``/``transform`` call (every spike
        costs one operation per outgoing synapse; every non-zero input value one per input weight).
    rate_ : float
        Mean firing rate (Hz) of the liquid in that call.

    References
    ----------
    W. Maass, T. Natschläger & H. Markram (2002), "Real-time computing without stable states: a
    new framework for neural computation based on perturbations", Neural Computation 14(11).

    S. Song, K. D. Miller & L. F. Abbott (2000), "Competitive Hebbian learning through
    spike-timing-dependent synaptic plasticity", Nature Neuroscience 3(9).
    """

    _trained_arrays = ("W_out_", "b_out_", "W_stdp_")

    def __init__(self, units: int = 200, exc_fraction: float = 0.8, connectivity: float = 0.1,
                 weight: float = 0.5, inhibition: float = 4.0, input_scaling: float = 5.0,
                 input_connectivity: float = 1.0, bias: float = 1.0, bias_spread: float = 0.1,
                 tau_mem: float = 20.0, tau_syn: float = 5.0, refractory: float = 2.0, dt: float = 1.0,
                 steps_per_input: int = 5, features: str = "both", tau_filter: float = 20.0,
                 input_to_readout: bool = True, ridge: float = 1e-4, washout: int = 0, classify: str = "mean",
                 normalize: bool = True, batch_size: int = 128, codegen_target: str = "cython",
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float64", seed=None,
                 stdp: dict | None = None, stdp_epochs: int = 1, stdp_connections: str = "ee", task: str = "auto"):
        self.units = units
        self.exc_fraction = exc_fraction
        self.connectivity = connectivity
        self.weight = weight
        self.inhibition = inhibition
        self.input_scaling = input_scaling
        self.input_connectivity = input_connectivity
        self.bias = bias
        self.bias_spread = bias_spread
        self.tau_mem = tau_mem
        self.tau_syn = tau_syn
        self.refractory = refractory
        self.dt = dt
        self.steps_per_input = steps_per_input
        self.features = features
        self.tau_filter = tau_filter
        self.input_to_readout = input_to_readout
        self.ridge = ridge
        self.washout = washout
        self.classify = classify
        self.normalize = normalize
        self.batch_size = batch_size
        self.codegen_target = codegen_target
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed
        self.stdp = stdp
        self.stdp_epochs = stdp_epochs
        self.stdp_connections = stdp_connections
        self.task = task

    _supported_kinds = frozenset({"forecast", "classify"})

    # ------------------------------------------------------------------ checks / setup
    _param_spec = {
        "units": P.Int(1), "exc_fraction": P.Real(0, 1, closed="right"), "connectivity": P.Real(0, 1, closed="right"),
        "weight": P.Real(0), "inhibition": P.Real(0), "input_scaling": P.Real(0),
        "input_connectivity": P.Real(0, 1, closed="right"), "bias": P.Real(), "bias_spread": P.Real(0),
        "tau_mem": P.Real(0, closed="neither"), "tau_syn": P.Real(0, closed="neither"), "refractory": P.Real(0),
        "dt": P.Real(0, closed="neither"), "steps_per_input": P.Int(1), "features": P.Options(*_FEATURES),
        "tau_filter": P.Real(0, closed="neither"), "input_to_readout": P.Bool(), "ridge": P.Real(0),
        "washout": P.Int(0), "classify": P.Options(*_CLASSIFY), "normalize": P.Bool(), "batch_size": P.Int(1),
        "codegen_target": P.Options(*_CODEGEN), "backend": P.Options("numpy", "torch"), "device": P.Str(),
        "dtype": P.Options("float32", "float64"), "seed": P.Seed(),
        "stdp": P.Any(),                # None or a dict of STDP parameters: checked by _stdp_rule
        "stdp_epochs": P.Int(1), "stdp_connections": P.Options(*_STDP_CONNECTIONS),
        "task": P.Options("auto", "classification", "regression"),
    }

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    # (the LIF threshold is fixed at 1: the input and recurrent weight scales play its part; the
    # readout is a closed-form ridge regression, so there is no learning rate or batch size)
    _search_space = {
        "tau_mem": {"low": 5.0, "high": 60.0, "log": True}, "tau_syn": {"low": 1.0, "high": 20.0, "log": True},
        "tau_filter": {"low": 5.0, "high": 100.0, "log": True},
        "input_scaling": {"low": 0.5, "high": 20.0, "log": True},
        "weight": {"low": 0.05, "high": 2.0, "log": True}, "ridge": {"low": 1e-8, "high": 1.0, "log": True},
    }

    def _validate_params(self) -> None:
        super()._validate_params()
        check_positive_int(self.units, "units")
        check_positive_int(self.steps_per_input, "steps_per_input")
        check_positive_int(self.batch_size, "batch_size")
        check_positive_int(self.washout, "washout", minimum=0)
        for name in ("exc_fraction", "connectivity", "input_connectivity"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0 < v <= 1):
                raise ValueError(f"{name} must be in (0, 1], got {v!r}.")
        for name in ("weight", "inhibition", "input_scaling", "bias_spread", "ridge"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}.")
        if not (isinstance(self.bias, int | float) and math.isfinite(self.bias)):
            raise ValueError(f"bias must be a finite number, got {self.bias!r}.")
        if not (isinstance(self.tau_filter, int | float) and self.tau_filter > 0):
            raise ValueError(f"tau_filter must be a positive time constant in ms, got {self.tau_filter!r}.")
        if self.features not in _FEATURES:
            raise ValueError(f"features must be one of {_FEATURES}, got {self.features!r}.")
        if self.classify not in _CLASSIFY:
            raise ValueError(f"classify must be one of {_CLASSIFY}, got {self.classify!r}.")
        if self.codegen_target not in _CODEGEN:
            raise ValueError(f"codegen_target must be one of {_CODEGEN}, got {self.codegen_target!r}.")
        Ops(self.backend, self.device, self.dtype)  # checks backend, device and dtype
        self._neuron().validate(self.dt)
        check_positive_int(self.stdp_epochs, "stdp_epochs")
        if self.stdp_connections not in _STDP_CONNECTIONS:
            raise ValueError(f"stdp_connections must be one of {_STDP_CONNECTIONS}, got {self.stdp_connections!r}.")
        if self.stdp is not None:
            self._stdp_rule()

    def _stdp_rule(self) -> STDP:
        """The STDP rule of ``stdp`` in the liquid's weight units (checked)."""
        if not isinstance(self.stdp, Mapping):
            raise ValueError(f"stdp must be None or a dict of STDP parameters {_STDP_FIELDS} "
                             f"(e.g. {{'a_pre': 0.005}}), got {type(self.stdp).__name__}.")
        unknown = sorted(set(self.stdp) - set(_STDP_FIELDS))
        if unknown:
            raise ValueError(f"stdp: unknown STDP parameter(s) {unknown}; expected some of {_STDP_FIELDS}.")
        params = {**dataclasses.asdict(STDP()), **self.stdp}
        for k, v in params.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"stdp[{k!r}] must be a number, got {v!r}.")
        if params["w_min"] < 0:
            raise ValueError(f"stdp['w_min'] must be >= 0 (Dale's law: excitatory synapses stay excitatory), "
                             f"got {params['w_min']!r}.")
        if not self.weight > 0:
            raise ValueError(f"stdp needs excitatory synapses to learn: weight must be > 0, got {self.weight!r}.")
        unit = 2.0 * self.weight
        scaled = {k: float(v) * unit if k in _STDP_WEIGHTS else float(v) for k, v in params.items()}
        try:
            return STDP(**scaled)
        except ValueError as exc:
            raise ValueError(f"stdp: {exc}") from None

    def _neuron(self) -> SynapticLIF:
        return SynapticLIF(tau_mem=self.tau_mem, tau_syn=self.tau_syn, v_th=1.0, v_reset=0.0, reset="zero",
                           refractory=self.refractory)

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_out_")

    def _init_liquid(self, n_features: int, rng: np.random.Generator) -> None:
        N = self.units
        n_exc = max(1, int(round(self.exc_fraction * N)))
        mask = rng.random((N, N)) < self.connectivity
        np.fill_diagonal(mask, False)
        mag = rng.uniform(0.0, 2.0 * self.weight, (N, N))
        sign = np.where(np.arange(N) < n_exc, 1.0, -self.inhibition)[:, None]
        self.W_ = np.where(mask, mag * sign, 0.0)
        W_in = rng.uniform(-self.input_scaling, self.input_scaling, (n_features, N))
        W_in[rng.random((n_features, N)) >= self.input_connectivity] = 0.0
        self.W_in_ = W_in
        self.bias_ = rng.uniform(self.bias - self.bias_spread, self.bias + self.bias_spread, N)
        self.n_exc_ = n_exc

    def _plastic_mask(self) -> np.ndarray:
        """The plastic synapses (units, units): the existing ones (non-zero in ``W_``) from the
        excitatory neurons onto the excitatory ones (``"ee"``) or onto all (``"e"``)."""
        n = self.n_exc_
        cols = n if self.stdp_connections == "ee" else self.W_.shape[1]
        mask = np.zeros(self.W_.shape, dtype=bool)
        mask[:n, :cols] = self.W_[:n, :cols] != 0
        return mask

    def recurrent_weights(self) -> np.ndarray:
        """The recurrent weights (units, units) the liquid runs with: ``W_``, with the learned
        weights ``W_stdp_`` on the plastic synapses after STDP pre-training."""
        if not hasattr(self, "W_"):
            self._check_fitted("recurrent_weights")
        learned = getattr(self, "W_stdp_", None)
        if learned is None:
            return self.W_
        mask = self._plastic_mask()
        if int(mask.sum()) != learned.size:
            raise ValueError(f"W_stdp_ holds {learned.size} weights but stdp_connections="
                             f"{self.stdp_connections!r} marks {int(mask.sum())} synapses: refit the model.")
        W = self.W_.copy()
        W[mask] = learned
        return W

    def _input_connection(self) -> Connection:
        # SynapticLIF's input jumps the synaptic current every step; scaled by (1 - alpha), a held
        # input x settles the synaptic current, and so the membrane's drive, at x
        gain = 1.0 - math.exp(-self.dt / self.tau_syn)
        W_in = np.vstack([self.W_in_, self.bias_[None, :]]) * gain
        return Connection("input", "liquid", W_in, "current")

    def network(self) -> Network:
        """The fitted liquid as a :class:`~neurorec.models.spiking.network.Network`: population
        ``"liquid"``, recurrent connection (:meth:`recurrent_weights`) into ``i_syn``; the input is
        ``[u, 1]`` (the last channel carries the bias)."""
        if not hasattr(self, "W_"):
            self._check_fitted("network")
        inp = self._input_connection()
        return Network([Population("liquid", self.units, self._neuron())],
                       [inp, Connection("liquid", "liquid", sparse.csr_matrix(self.recurrent_weights()), "i_syn")],
                       n_inputs=inp.shape[0], dt=self.dt)

    def _run(self, net: Network, u: np.ndarray, record=()):
        """Run ``net`` on ``u`` with the backend's engine: (spikes (B, T, N) float64, run)."""
        if self.backend == "numpy":
            run = net.run(u, engine="brian2", record=record, codegen_target=self.codegen_target)
            return run.spikes["liquid"].astype(np.float64), run
        run = net.run(u, engine="torch", record=record, device=self.device, dtype=self.dtype)
        return run.spikes["liquid"].double().cpu().numpy(), run

    def _pretrain(self, batch: SeqBatch) -> None:
        """STDP on the plastic synapses, the training sequences presented one after another to
        one copy of the liquid (see the class docstring); sets ``W_stdp_`` and ``stdp_rates_``."""
        rule = self._stdp_rule()
        mask = self._plastic_mask()
        rows, cols = np.nonzero(mask)
        w = np.clip(self.W_[rows, cols], rule.w_min, rule.w_max)
        static = Connection("liquid", "liquid", sparse.csr_matrix(np.where(mask, 0.0, self.W_)), "i_syn")
        x = self._scaled(batch)
        stream = np.concatenate([x[b, :n] for b, n in enumerate(batch.lengths)], axis=0)
        k = self.steps_per_input
        u = np.repeat(np.concatenate([stream, np.ones((len(stream), 1))], axis=1), k, axis=0)[None]
        inp = self._input_connection()
        rates = []
        for _ in range(self.stdp_epochs):
            # explicit entries for every plastic synapse, so one depressed to 0 can grow back
            plastic = Connection("liquid", "liquid", sparse.csr_matrix((w, (rows, cols)), shape=self.W_.shape),
                                 "i_syn", plasticity=rule)
            net = Network([Population("liquid", self.units, self._neuron())], [inp, static, plastic],
                          n_inputs=inp.shape[0], dt=self.dt)
            if self.backend == "torch" and str(self.device) == "cpu" and self.dtype == "float64":
                # the same float64 step functions on numpy: the same weights, and for one copy of
                # the liquid without torch's per-operation overhead (2-3x faster)
                run = net.run(u, engine="numpy")
                s = run.spikes["liquid"].astype(np.float64)
            else:
                s, run = self._run(net, u)
            learned = run.weights[2]
            learned = learned.double().cpu().numpy() if hasattr(learned, "cpu") else np.asarray(learned)
            w = np.asarray(learned[0][rows, cols], dtype=np.float64)
            rates.append(float(s.sum()) / (self.units * u.shape[1] * self.dt * 1e-3))
        self.W_stdp_ = w
        self.stdp_rates_ = rates

    # ------------------------------------------------------------------ simulation
    def _scaled(self, batch: SeqBatch) -> np.ndarray:
        x = batch.data.astype(np.float64)
        if self.normalize:
            x = (x - self.x_mean_) / self.x_scale_
        return x * batch.mask()[..., None]

    def _simulate(self, batch: SeqBatch):
        """Readout features (B, T, D) at the end of every input step, and the run's statistics."""
        net = self.network()
        x, u, valid = self._drive(batch)
        B = x.shape[0]
        k = self.steps_per_input
        a = math.exp(-self.dt / self.tau_filter)
        feats, synops, spikes = [], 0.0, 0.0
        record = [("liquid", "v")] if self.features != "trace" else []
        for lo in range(0, B, self.batch_size):
            chunk = u[lo:lo + self.batch_size]
            s, run = self._run(net, chunk, record)
            v = run.states.get(("liquid", "v"))
            if v is not None and self.backend != "numpy":
                v = v.double().cpu().numpy()
            # operations of the valid steps only; the bias is a neuron parameter, not a synaptic event
            s_valid = s * valid[lo:lo + self.batch_size]
            u_ops = chunk.copy()
            u_ops[..., -1] = 0.0
            synops += count_synops(net, {"liquid": s_valid}, u_ops)
            spikes += float(s_valid.sum())
            parts = []
            if self.features in ("trace", "both"):
                parts.append(signal.lfilter([1.0], [1.0, -a], s, axis=1)[:, k - 1::k])
            if self.features in ("membrane", "both"):
                parts.append(v[:, k - 1::k])
            if self.input_to_readout:
                parts.append(x[lo:lo + self.batch_size])
            feats.append(np.concatenate(parts, axis=2))
        stats = {"synops": synops / B,
                 "rate": spikes / (self.units * float(batch.lengths.sum()) * k * self.dt * 1e-3)}
        return np.concatenate(feats, axis=0), stats

    def _drive(self, batch: SeqBatch):
        """``(x, u, valid)``: the scaled inputs (B, T, F), the liquid's input at every simulation
        step (B, T * steps_per_input, F + 1) and which simulation steps are valid (B, T * k, 1)."""
        x = self._scaled(batch)
        k = self.steps_per_input
        mask = batch.mask()
        # the bias channel is on while a sequence lasts; after its end (padding) the liquid gets nothing
        u = np.repeat(np.concatenate([x, mask[..., None].astype(np.float64)], axis=2), k, axis=1)
        return x, u, np.repeat(mask, k, axis=1)[..., None]

    def record(self, X, variables=("v",)):
        """Run the fitted liquid on ``X`` and return its spikes and state variables at every
        simulation step, as a :class:`~neurorec.models.spiking.NetworkRun`.

        ``run.spikes["liquid"]`` is 0/1 (batch, T * steps_per_input, units) (the first
        ``int(exc_fraction * units)`` neurons are excitatory); ``run.states[("liquid", var)]`` for each
        of ``variables``, the neuron's state variables (``"v"``, the membrane, and ``"i_syn"``, the
        synaptic current, for the default neuron); ``run.dt`` in ms; ``run.lengths`` the valid
        steps (the steps after them are 0). The same simulation as :meth:`transform`, on the
        model's backend (brian2 for ``backend="numpy"``).
        """
        batch = self._check_X(X, "record")
        variables = tuple(variables)
        have = self.network().population("liquid").variables
        unknown = sorted(set(variables) - set(have))
        if unknown:
            raise ValueError(f"record: unknown variable(s) {unknown}; the liquid's neurons have {list(have)}.")
        net = self.network()
        _, u, valid = self._drive(batch)
        spikes, states, synops = [], {v: [] for v in variables}, 0.0
        for lo in range(0, batch.batch, self.batch_size):
            s, run = self._run(net, u[lo:lo + self.batch_size], [("liquid", v) for v in variables])
            ok = valid[lo:lo + self.batch_size]
            spikes.append(s * ok)
            synops += float(run.synops)
            for v in variables:
                a = run.states[("liquid", v)]
                a = a.double().cpu().numpy() if hasattr(a, "cpu") else np.asarray(a, dtype=np.float64)
                states[v].append(a * ok)
        from neurorec.models.spiking.network import NetworkRun

        return NetworkRun(spikes={"liquid": np.concatenate(spikes)},
                          states={("liquid", v): np.concatenate(a) for v, a in states.items()},
                          synops=synops, dt=float(self.dt), lengths=batch.lengths * self.steps_per_input)

    def _record_stats(self, stats) -> None:
        self.synops_ = float(stats["synops"])
        self.rate_ = float(stats["rate"])

    def _pooled(self, Z: np.ndarray, batch: SeqBatch) -> np.ndarray:
        if self.classify == "last":
            return Z[np.arange(batch.batch), batch.lengths - 1]
        start = np.where(batch.lengths > self.washout, self.washout, 0)
        t = np.arange(Z.shape[1])[None, :]
        m = ((t >= start[:, None]) & (t < batch.lengths[:, None]))[..., None]
        return (Z * m).sum(1) / m.sum(1)

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y) -> LSM:
        """Build the liquid from ``seed``, pre-train it with STDP on ``X`` (when ``stdp`` is set),
        simulate ``X`` and train the readout on ``y``.

        ``y`` of shape ``(batch,)`` (integer labels) makes a classifier; ``(batch, time, outputs)``
        (or ``(time, outputs)`` for a single sequence) a sequence regressor.
        """
        self._validate_params()
        is_cls = resolve_task(self.task, X, y, model="LSM") == "classification"
        tabular = is_cls and is_table(X)
        batch = check_sequences(tabular_as_sequences(X) if is_cls else X, "X", dtype=np.float64,
                                layout_warning=not tabular)
        if is_cls:
            classes, idx = encode_labels(y, batch.batch, "y")
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        if not is_cls:
            Y = check_sequence_targets(y, batch, "y", dtype=np.float64)
            if self.washout >= int(batch.lengths.max()):
                raise ValueError(f"washout={self.washout} leaves no step to train on: the longest "
                                 f"sequence in X has {int(batch.lengths.max())} steps.")
        ss = np.random.SeedSequence(self.seed)
        rng = np.random.default_rng(ss)
        F = batch.data.shape[2]
        m = batch.mask()
        valid = batch.data[m]
        self.x_mean_ = valid.mean(0) if self.normalize else np.zeros(F)
        sd = valid.std(0) if self.normalize else np.ones(F)
        self.x_scale_ = np.where(sd > 0, sd, 1.0)
        self._init_liquid(F, rng)
        self.n_features_in_ = F
        if self.stdp is not None:
            self._pretrain(batch)
        Z, stats = self._simulate(batch)
        ops = Ops("numpy", "cpu", "float64")
        if is_cls:
            self.task_ = "classification"
            self.classes_ = classes
            P = self._pooled(Z, batch)
            acc = RidgeAccumulator(ops, P.shape[1], len(classes))
            acc.add(P, np.eye(len(classes))[idx])
            pooled = P
        else:
            self.task_ = "regression"
            self.target_1d_ = bool(batch.single and is_1d_target(y))
            self.n_outputs_ = Y.shape[2]
            t = np.arange(Z.shape[1])[None, :]
            rows = m & (t >= np.minimum(self.washout, batch.lengths[:, None] - 1))
            acc = RidgeAccumulator(ops, Z.shape[2], Y.shape[2])
            acc.add(Z[rows], Y[rows])
        self.W_out_, self.b_out_ = acc.solve(self.ridge)
        if is_cls:
            self._fit_temperature_loo(pooled, idx, self.ridge)
        self._record_stats(stats)
        return self

    def _check_X(self, X, method: str) -> SeqBatch:
        self._check_fitted(method)
        if self.task_ == "classification":
            X = tabular_as_sequences(X)         # a classifier reads a 2-D X as a table of samples
        return check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.float64)

    def transform(self, X):
        """Readout features (batch, time, D) at the end of every input step, in the caller's layout;
        for a classifier given a 2-D table, (samples, D)."""
        batch = self._check_X(X, "transform")
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        out = batch.unpad(Z)
        return out[:, 0] if self.task_ == "classification" and is_table(X) else out

    def _class_scores(self, X, method: str) -> np.ndarray:
        self._check_fitted(method)
        if self.task_ != "classification":
            raise ValueError(f"{method} is for a model fitted as a classifier; this LSM was fitted for regression.")
        batch = self._check_X(X, method)
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        return self._pooled(Z, batch) @ self.W_out_ + self.b_out_

    @available_if(fitted_as_classifier)
    def decision_function(self, X) -> np.ndarray:
        """Class scores of a classifier: (batch, n_classes), or (batch,) for two classes (positive
        means ``classes_[1]``, scikit-learn's convention)."""
        return self._binary_decision(self._class_scores(X, "decision_function"))

    @available_if(fitted_as_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax of the ridge readout's scores at the temperature fitted on
        the training sequences' leave-one-out scores (``proba_temperature_``,
        :class:`neurorec.base.ScoresToProba`); ``argmax`` equals ``predict``. The readout is not a
        probabilistic model: check calibration on held-out data."""
        return self._softmax(self._class_scores(X, "predict_proba"), self.proba_temperature_)

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier; a
        regressor fitted on one sequence with a 1-D target returns 1-D."""
        self._check_fitted("predict")
        if self.task_ == "classification":
            return self.classes_[np.argmax(self._class_scores(X, "predict"), axis=1)]
        batch = self._check_X(X, "predict")
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        out = batch.unpad(Z @ self.W_out_ + self.b_out_)
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out
