r"""Liquid state machine: a recurrent spiking reservoir with a trained linear readout.

The liquid is a sparse random population of current-based synaptic LIF neurons
(:class:`~neurorec.models.spiking.neurons.SynapticLIF`), a fraction of them excitatory and the
rest inhibitory (Dale's law: every outgoing weight of a neuron has its sign). It is described
once as a :class:`~neurorec.models.spiking.network.Network` and simulated by brian2
(``backend="numpy"``) or by the torch step engine (``backend="torch"``, CPU or CUDA); in float64
both give the same spikes. Only the readout is trained: ridge regression on features read out
of the liquid at the end of every input step.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal, sparse

from neurorec._validation import SeqBatch, check_labels, check_positive_int, check_sequence_targets, check_sequences
from neurorec.backends.ops import Ops
from neurorec.base import Model
from neurorec.models.readout import RidgeAccumulator
from neurorec.models.spiking.network import Connection, Network, Population, count_synops
from neurorec.models.spiking.neurons import SynapticLIF

__all__ = ["LSM"]

_FEATURES = ("trace", "membrane", "both")
_CLASSIFY = ("mean", "last")
_CODEGEN = ("cython", "numpy")


class LSM(Model):
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

    Attributes
    ----------
    W_ : ndarray (units, units)
        Recurrent weights (row: presynaptic neuron).
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
    """

    _trained_arrays = ("W_out_", "b_out_")

    def __init__(self, units: int = 200, exc_fraction: float = 0.8, connectivity: float = 0.1,
                 weight: float = 0.5, inhibition: float = 4.0, input_scaling: float = 5.0,
                 input_connectivity: float = 1.0, bias: float = 1.0, bias_spread: float = 0.1,
                 tau_mem: float = 20.0, tau_syn: float = 5.0, refractory: float = 2.0, dt: float = 1.0,
                 steps_per_input: int = 5, features: str = "both", tau_filter: float = 20.0,
                 input_to_readout: bool = True, ridge: float = 1e-4, washout: int = 0, classify: str = "mean",
                 normalize: bool = True, batch_size: int = 128, codegen_target: str = "cython",
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float64", seed=None):
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

    _supported_kinds = frozenset({"forecast", "classify"})

    # ------------------------------------------------------------------ checks / setup
    def _validate_params(self) -> None:
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

    def network(self) -> Network:
        """The fitted liquid as a :class:`~neurorec.models.spiking.network.Network`: population
        ``"liquid"``, recurrent connection into ``i_syn``; the input is ``[u, 1]`` (the last
        channel carries the bias)."""
        if not hasattr(self, "W_"):
            self._check_fitted("network")
        # SynapticLIF's input jumps the synaptic current every step; scaled by (1 - alpha), a held
        # input x settles the synaptic current, and so the membrane's drive, at x
        gain = 1.0 - math.exp(-self.dt / self.tau_syn)
        W_in = np.vstack([self.W_in_, self.bias_[None, :]]) * gain
        return Network([Population("liquid", self.units, self._neuron())],
                       [Connection("input", "liquid", W_in, "current"),
                        Connection("liquid", "liquid", sparse.csr_matrix(self.W_), "i_syn")],
                       n_inputs=W_in.shape[0], dt=self.dt)

    # ------------------------------------------------------------------ simulation
    def _scaled(self, batch: SeqBatch) -> np.ndarray:
        x = batch.data.astype(np.float64)
        if self.normalize:
            x = (x - self.x_mean_) / self.x_scale_
        return x * batch.mask()[..., None]

    def _simulate(self, batch: SeqBatch):
        """Readout features (B, T, D) at the end of every input step, and the run's statistics."""
        net = self.network()
        x = self._scaled(batch)
        B, T, _ = x.shape
        k = self.steps_per_input
        mask = batch.mask()
        # the bias channel is on while a sequence lasts; after its end (padding) the liquid gets nothing
        u = np.repeat(np.concatenate([x, mask[..., None].astype(np.float64)], axis=2), k, axis=1)
        valid = np.repeat(mask, k, axis=1)[..., None]
        a = math.exp(-self.dt / self.tau_filter)
        feats, synops, spikes = [], 0.0, 0.0
        record = [("liquid", "v")] if self.features != "trace" else []
        for lo in range(0, B, self.batch_size):
            chunk = u[lo:lo + self.batch_size]
            if self.backend == "numpy":
                run = net.run(chunk, engine="brian2", record=record, codegen_target=self.codegen_target)
                s = run.spikes["liquid"].astype(np.float64)
                v = run.states.get(("liquid", "v"))
            else:
                run = net.run(chunk, engine="torch", record=record, device=self.device, dtype=self.dtype)
                s = run.spikes["liquid"].double().cpu().numpy()
                v = run.states.get(("liquid", "v"))
                v = None if v is None else v.double().cpu().numpy()
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
        """Build the liquid from ``seed``, simulate ``X`` and train the readout on ``y``.

        ``y`` of shape ``(batch,)`` (integer labels) makes a classifier; ``(batch, time, outputs)``
        (or ``(time, outputs)`` for a single sequence) a sequence regressor.
        """
        self._validate_params()
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        batch = check_sequences(X, "X", dtype=np.float64)
        yarr = None if y is None else np.asarray(y) if not isinstance(y, list) else None
        is_cls = yarr is not None and yarr.ndim == 1 and not batch.single and yarr.dtype.kind in "iub"
        if is_cls:
            classes, idx = np.unique(check_labels(yarr, batch.batch, "y"), return_inverse=True)
        else:
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
        Z, stats = self._simulate(batch)
        ops = Ops("numpy", "cpu", "float64")
        if is_cls:
            self.task_ = "classification"
            self.classes_ = classes
            P = self._pooled(Z, batch)
            acc = RidgeAccumulator(ops, P.shape[1], len(classes))
            acc.add(P, np.eye(len(classes))[idx])
        else:
            self.task_ = "regression"
            self.n_outputs_ = Y.shape[2]
            t = np.arange(Z.shape[1])[None, :]
            rows = m & (t >= np.minimum(self.washout, batch.lengths[:, None] - 1))
            acc = RidgeAccumulator(ops, Z.shape[2], Y.shape[2])
            acc.add(Z[rows], Y[rows])
        self.W_out_, self.b_out_ = acc.solve(self.ridge)
        self._record_stats(stats)
        return self

    def _check_X(self, X, method: str) -> SeqBatch:
        self._check_fitted(method)
        return check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.float64)

    def transform(self, X):
        """Readout features (batch, time, D) at the end of every input step, in the caller's layout."""
        batch = self._check_X(X, "transform")
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        return batch.unpad(Z)

    def decision_function(self, X) -> np.ndarray:
        """Class scores (batch, n_classes) of a classifier."""
        batch = self._check_X(X, "decision_function")
        if self.task_ != "classification":
            raise ValueError("decision_function is for a model fitted as a classifier (integer labels).")
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        return self._pooled(Z, batch) @ self.W_out_ + self.b_out_

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier."""
        if getattr(self, "task_", None) == "classification":
            return self.classes_[np.argmax(self.decision_function(X), axis=1)]
        batch = self._check_X(X, "predict")
        Z, stats = self._simulate(batch)
        self._record_stats(stats)
        return batch.unpad(Z @ self.W_out_ + self.b_out_)
