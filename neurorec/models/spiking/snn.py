r"""A feed-forward (optionally recurrent) spiking classifier trained with surrogate gradients.

:class:`SpikingClassifier` is a stack of leaky integrate-and-fire (LIF) layers read out by an
output layer, trained end to end by back-propagation through time (BPTT) with a surrogate
derivative of the spike (Neftci, Mostafa & Zenke 2019), through
:func:`neurorec.train.fit_module`. The torch engine runs each feed-forward layer over the whole
sequence in one call of the fused kernel :func:`neurorec.backends.fused_lif.lif_multistep`; the
numpy engine runs the same recursion on the trained weights and needs no torch.

Network (snntorch's ``Leaky`` with ``reset_delay=True``; step :math:`t`, layer :math:`\ell`)

.. math::

    I^\ell[t] &= W^\ell s^{\ell-1}[t] + b^\ell \;\big(+\, V^\ell s^\ell[t-1]\ \text{if recurrent}\big) \\
    R^\ell[t] &= \Theta(U^\ell[t-1] - \vartheta) \\
    U^\ell[t] &= \beta U^\ell[t-1] + I^\ell[t] - R^\ell[t]\,\vartheta \quad \text{(reset="subtract")},
        \qquad \beta (1 - R^\ell[t]) U^\ell[t-1] + I^\ell[t] \quad \text{(reset="zero")} \\
    s^\ell[t] &= \Theta(U^\ell[t] - \vartheta)

with :math:`U^\ell[-1] = 0`, :math:`s^0` the encoded input and
:math:`\beta = e^{-\Delta t/\tau_{mem}}` (:meth:`neurorec.models.spiking.neurons.LIF.decays`).
This is the exact update of :class:`~neurorec.models.spiking.neurons.LIF` driven by the input
:math:`I/(1-\beta)`; the learned weights absorb the constant. The output layer gets
:math:`I^o[t] = W^o s^L[t] + b^o` and is

- for ``readout="membrane_mean"`` / ``"membrane_max"`` a non-spiking leaky integrator
  :math:`U^o[t] = \beta U^o[t-1] + I^o[t]` (no threshold, no reset) whose mean / maximum over
  the sequence's valid steps are the class scores;
- for ``readout="spike_count"`` a spiking LIF layer as above whose spike counts over the valid
  steps are the class scores (snntorch's ``ce_count_loss``).

Training minimises the cross-entropy of the softmax of the scores. In the backward pass
:math:`\partial s/\partial U` is the derivative of a smooth surrogate
(:func:`~neurorec.backends.fused_lif.surrogate_grad`: atan by default, as snntorch); the reset
carries no gradient, as in snntorch.

References
----------
E. O. Neftci, H. Mostafa & F. Zenke (2019), "Surrogate gradient learning in spiking neural
networks", IEEE Signal Processing Magazine 36(6). J. K. Eshraghian et al. (2023), "Training
spiking neural networks using lessons from deep learning", Proc. IEEE 111(9). B. Cramer et al.
(2022), "The Heidelberg spiking data sets for the systematic evaluation of spiking neural
networks", IEEE TNNLS 33(7) (max-over-time readout).
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from neurorec import _params as P
from neurorec._validation import SeqBatch, check_labels, check_sequences, is_table, tabular_as_sequences
from neurorec.backends.ops import require
from neurorec.base import Model
from neurorec.models.recurrent import _digest_arrays, _epoch_budget, _holdout
from neurorec.models.spiking import coding
from neurorec.models.spiking.coding import _check_number
from neurorec.models.spiking.neurons import LIF

__all__ = ["SpikingClassifier"]

ENCODERS = ("current", "poisson", "delta")
INPUT_MODES = ("sequence", "static")
READOUTS = ("membrane_mean", "membrane_max", "spike_count")
NORMALIZE = ("auto", "minmax", "standard", None)
_CHUNK = 256            # sequences per inference chunk


class _Spec(NamedTuple):
    """What the forward pass needs besides the weights."""

    beta: float
    threshold: float
    reset: str
    surrogate: str
    alpha: float | None
    readout: str


class SpikingClassifier(Model):
    r"""Spiking neural network classifier of sequences (or of static inputs), trained with
    surrogate gradients.

    See the module docstring for the equations. An input sequence ``(time, features)`` is
    first scaled (``normalize``), then encoded as the network's input :math:`s^0`:

    - ``input_mode="sequence"``: every input step is held for ``steps_per_input`` simulation
      steps (so a sequence of :math:`T` steps runs :math:`T k` steps);
    - ``input_mode="static"``: the whole ``(time, features)`` array is flattened into one vector
      of ``time * features`` inputs presented for ``n_steps`` steps (the classic rate-coded
      MNIST set-up: 784 inputs over 25 steps). All sequences must have the training length.

    and, per simulation step, by ``encoder``:

    - ``"current"``: the scaled analog value itself is the input (a current into the first
      layer);
    - ``"poisson"``: Bernoulli spikes with the scaled value (in [0, 1]) as the probability per
      step (:func:`~neurorec.models.spiking.coding.poisson_encode`);
    - ``"delta"``: ON/OFF spikes whenever the scaled value has moved by ``delta_threshold`` since
      the last spike (:func:`~neurorec.models.spiking.coding.delta_encode`; twice the features).

    Tables and labels (scikit-learn conventions). A 2-D ``X`` is a table (samples x features):
    each row is a one-step sequence ``(1, features)``, in :meth:`fit`, :meth:`predict`,
    :meth:`predict_proba`, :meth:`decision_function`, :meth:`transform` and :meth:`score`; 3-D
    ``X`` and lists of ``(time_i, features)`` arrays are batches of sequences. What one step
    means for the encoders: with ``input_mode="sequence"`` the row is held for
    ``steps_per_input`` simulation steps (``input_mode="static"``: ``n_steps`` steps, the same
    vector); ``"current"`` feeds the scaled row as a constant current; ``"poisson"`` draws one
    Bernoulli spike per feature and simulation step, so a single step (the default
    ``steps_per_input=1``) is a very noisy rate code and several steps are advisable;
    ``"delta"`` starts from the reference level 0 and moves it one ``delta_threshold`` per
    spike, so a feature fires an ON spike at each held step until the reference has reached
    its scaled value: one step is a thresholded copy of the row, ``k`` held steps count the
    value in units of ``delta_threshold`` (up to ``k``). Labels may be any sortable hashable values (integers, strings,
    ...): :attr:`classes_` holds them and :meth:`predict` returns them. :meth:`predict_proba`
    is the softmax of the class scores; for two classes :meth:`decision_function` has shape
    ``(n_samples,)`` (scikit-learn's convention). The estimator tags say "classifier", so
    scikit-learn's ``cross_val_score`` stratifies.

    Parameters
    ----------
    hidden : int or tuple of int, default (128,)
        Neurons of each hidden LIF layer.
    tau_mem : float, default 10.0
        Membrane time constant :math:`\tau_{mem}` (ms) of all neurons.
    dt : float, default 1.0
        Simulation time step :math:`\Delta t` (ms); :math:`\beta = e^{-\Delta t/\tau_{mem}}`.
    threshold : float, default 1.0
        Firing threshold :math:`\vartheta > 0`.
    reset : {"subtract", "zero"}, default "subtract"
        Reset by subtracting the threshold, or to zero.
    recurrent : bool, default False
        Add all-to-all recurrent weights :math:`V^\ell` (no bias) in every hidden layer.
        Recurrent layers run a step loop (the fused kernel cannot feed spikes back), so they
        train several times slower than feed-forward ones.
    surrogate : {"atan", "fast_sigmoid"}, default "atan"
        Surrogate derivative of the spike (see :mod:`neurorec.backends.fused_lif`).
    surrogate_alpha : float or None, default None
        Its sharpness; None for the default (atan 2.0, fast_sigmoid 25, as snntorch).
    encoder : {"current", "poisson", "delta"}, default "current"
        Input encoding (above).
    delta_threshold : float, default 0.1
        Threshold of the delta encoder, in units of the scaled input.
    input_mode : {"sequence", "static"}, default "sequence"
        Present the input step by step, or flattened as one static vector (above).
    n_steps : int, default 25
        Simulation steps of a static input (``input_mode="static"``).
    steps_per_input : int, default 1
        Simulation steps per input step (``input_mode="sequence"``).
    readout : {"membrane_mean", "membrane_max", "spike_count"}, default "membrane_mean"
        Class scores from the output layer (module docstring).
    normalize : {"auto", "minmax", "standard", None}, default "auto"
        Scaling of every input feature with statistics of the training sequences' valid steps:
        ``"minmax"`` maps the training range to [0, 1] and clips other data to it (what rate
        coding needs); ``"standard"`` subtracts the mean and divides by the standard deviation;
        None uses the data as given (``encoder="poisson"`` then requires values in [0, 1]).
        ``"auto"``: ``"minmax"`` for ``encoder="poisson"``, ``"standard"`` otherwise. (Until
        issue 15 the default was ``"minmax"``: on small UCR/UEA training sets it trained to
        chance level where standard scaling did not; README, "Defaults on small data".)
    optimizer : {"adam", "adamw", "rmsprop", "sgd"}, default "adam"
    lr : float, default 2e-3
        Learning rate.
    momentum : float, default 0.9
        Momentum of SGD and RMSprop.
    weight_decay : float, default 0.0
        L2 penalty (torch's ``weight_decay``).
    lr_schedule : {None, "plateau", "cosine", "step"}, default None
        Learning-rate schedule (see :func:`neurorec.train.fit_module`).
    epochs : int or None, default None
        Most epochs to train. None: at least 30 epochs and at least ``min_steps`` optimiser
        steps, with ``patience`` raised to at least a quarter of ``min_steps`` steps (see
        :func:`neurorec.train.fit_module`): on a training set of a few dozen sequences, 30 epochs
        of one mini-batch each are 30 updates, too few to train. An int is used exactly
        (``min_steps`` is then ignored).
    min_steps : int, default 1000
        Least number of optimiser steps with ``epochs=None``. Chosen on the validation splits
        of five UCR/UEA tasks (see the README's "Defaults on small data").
    batch_size : int, default 64
    clip_norm : float or None, default None
        Clip the global gradient norm to this value before each step.
    early_stopping : bool, default True
        Stop when the monitored validation value has not improved for ``patience`` epochs and
        restore the best weights. The validation data are ``X_val, y_val`` passed to
        :meth:`fit`, or else a stratified ``validation_fraction`` of the training sequences.
        With ``early_stopping=False`` nothing is held out and the last weights are kept
        (validation data passed to ``fit`` are still scored into the history).
    patience : int, default 5
    validation_fraction : float, default 0.1
    min_holdout : int, default 20
        Without ``X_val``, the held-out ``validation_fraction`` is used only if it holds at
        least this many sequences; with fewer, nothing is held out, the whole epoch budget runs
        and the last weights are kept, as with ``early_stopping=False`` (a validation loss on a
        handful of sequences stops training at random; see
        :class:`~neurorec.models.recurrent.RecurrentModel`). 0: always hold out.
    monitor : {"loss", "metric"}, default "loss"
        Early stopping follows the validation cross-entropy or the validation accuracy.
    checkpoint : str or None, default None
        File the training state is written to after every epoch; a killed training started
        again with the same file resumes after the last finished epoch.
    progress : bool, default False
        Show a tqdm progress bar.
    backend : {"numpy", "torch"}, default "torch"
        Inference engine. Training always runs in torch (on ``device``; on the CPU for the
        numpy backend); the numpy backend then predicts from the same weights without torch.
    device : str, default "cpu"
        ``"cpu"`` or a CUDA device for the torch backend.
    dtype : {"float32", "float64"}, default "float32"
    seed : int or None, default None
        Seeds the hold-out split, the initial weights, the mini-batch order and the Poisson
        spikes drawn in training; a CPU training is reproducible.

    Attributes
    ----------
    weights_ : dict of str to ndarray
        ``hidden.{l}.weight`` (out, in) and ``hidden.{l}.bias``, ``recurrent.{l}.weight`` (with
        ``recurrent=True``), ``output.weight`` and ``output.bias``.
    classes_ : ndarray
        The class labels seen in ``fit``.
    n_features_in_ : int
        Features per input step.
    n_timesteps_in_ : int or None
        Steps of every input sequence in static mode (None in sequence mode).
    x_offset_, x_scale_ : ndarray
        Input scaling :math:`(x - \text{offset}) / \text{scale}`.
    seed_ : int
        The concrete seed of the training (drawn when ``seed`` is None). With
        ``encoder="poisson"``, inference draws its spikes from ``numpy.random.default_rng(seed_)``
        afresh at every call, in the order of the batch, so repeated calls, saved and loaded
        models and both backends see the same spikes (a sample's spikes depend on its place in
        the batch).
    history_ : dict
        The training history (see :attr:`history`); ``best_epoch_``: the epoch kept.
    synops_ : float
        Set by every :meth:`predict`, :meth:`decision_function` and :meth:`transform`: the mean
        number of synaptic operations per sequence in that call,
        :math:`\sum_{\text{connections}} \sum_{t < L} \sum_i s_i[t]\, n_i`, where
        :math:`s_i[t]` is presynaptic unit :math:`i`'s spike at simulation step :math:`t`
        (over the sequence's valid steps :math:`L`) and :math:`n_i` its fan-out (its non-zero
        outgoing weights), summed over the input, hidden-to-hidden, recurrent and output
        connections. For the input connection :math:`s_i[t]` is the encoded input; with
        ``encoder="current"`` it is analog and every non-zero input value counts as one event
        (one multiply-accumulate per outgoing weight), every simulation step it is presented.
    spike_rate_ : ndarray of shape (n_hidden_layers,)
        Set with ``synops_``: the mean firing probability per neuron and simulation step of
        each hidden layer over the valid steps (multiply by ``1000 / dt`` for Hz).

    Examples
    --------
    >>> from neurorec.data import get_task
    >>> from neurorec.models.spiking.snn import SpikingClassifier
    >>> d = get_task("digits").load(0)
    >>> clf = SpikingClassifier(hidden=128, input_mode="static", encoder="poisson", n_steps=10,
    ...                         epochs=5, seed=0).fit(d.train.X, d.train.y, d.val.X, d.val.y)
    >>> clf.score(d.test.X, d.test.y) > 0.8
    True
    """

    _supported_kinds = frozenset({"classify"})

    def __init__(self, hidden=(128,), tau_mem: float = 10.0, dt: float = 1.0, threshold: float = 1.0,
                 reset: str = "subtract", recurrent: bool = False, surrogate: str = "atan",
                 surrogate_alpha: float | None = None, encoder: str = "current", delta_threshold: float = 0.1,
                 input_mode: str = "sequence", n_steps: int = 25, steps_per_input: int = 1,
                 readout: str = "membrane_mean", normalize: str | None = "auto", optimizer: str = "adam",
                 lr: float = 2e-3, momentum: float = 0.9, weight_decay: float = 0.0, lr_schedule: str | None = None,
                 epochs: int | None = None, min_steps: int = 1000,
                 batch_size: int = 64, clip_norm: float | None = None, early_stopping: bool = True,
                 patience: int = 5, validation_fraction: float = 0.1, min_holdout: int = 20, monitor: str = "loss",
                 checkpoint: str | None = None, progress: bool = False, backend: str = "torch", device: str = "cpu",
                 dtype: str = "float32", seed: int | None = None):
        self.hidden = hidden
        self.tau_mem = tau_mem
        self.dt = dt
        self.threshold = threshold
        self.reset = reset
        self.recurrent = recurrent
        self.surrogate = surrogate
        self.surrogate_alpha = surrogate_alpha
        self.encoder = encoder
        self.delta_threshold = delta_threshold
        self.input_mode = input_mode
        self.n_steps = n_steps
        self.steps_per_input = steps_per_input
        self.readout = readout
        self.normalize = normalize
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.min_holdout = min_holdout
        self.monitor = monitor
        self.checkpoint = checkpoint
        self.progress = progress
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    # ------------------------------------------------------------------ checks
    _param_spec = {
        "hidden": P.Any(),              # an int or a tuple of ints: checked by _hidden_sizes
        "tau_mem": P.Real(0, closed="neither"), "dt": P.Real(0, closed="neither"),
        "threshold": P.Real(0, closed="neither"), "reset": P.Options("subtract", "zero"),
        "recurrent": P.Bool(), "surrogate": P.Any(),      # checked against the fused kernels' table
        "surrogate_alpha": P.NoneOK() | P.Real(0, closed="neither"), "encoder": P.Options(*ENCODERS),
        "delta_threshold": P.Real(0, closed="neither"), "input_mode": P.Options(*INPUT_MODES),
        "n_steps": P.Int(1), "steps_per_input": P.Int(1), "readout": P.Options(*READOUTS),
        "normalize": P.Options(*NORMALIZE), "optimizer": P.Options("adam", "adamw", "rmsprop", "sgd"),
        "lr": P.Real(0, closed="neither"), "momentum": P.Real(0, 1, closed="left"), "weight_decay": P.Real(0),
        "lr_schedule": P.Options(None, "plateau", "cosine", "step"),
        "epochs": P.NoneOK() | P.Int(1), "min_steps": P.Int(0),
        "batch_size": P.Int(1),
        "clip_norm": P.NoneOK() | P.Real(0, closed="neither"), "early_stopping": P.Bool(), "patience": P.Int(1),
        "validation_fraction": P.Real(0, 1, closed="left"), "min_holdout": P.Int(0),
        "monitor": P.Options("metric", "loss"),
        "checkpoint": P.Any(),          # None or a path: checked in _validate_params
        "progress": P.Bool(), "backend": P.Options("numpy", "torch"), "device": P.Str(),
        "dtype": P.Options("float32", "float64"), "seed": P.Seed(),
    }

    def _estimator_kind(self) -> str:
        return "classifier"

    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = (self.hidden,) if isinstance(self.hidden, numbers.Integral) and not isinstance(self.hidden, bool) \
            else self.hidden
        if not isinstance(sizes, (tuple, list)) or len(sizes) == 0 or not all(
                isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1 for h in sizes):
            raise ValueError(f"hidden must be a positive int or a non-empty tuple of positive ints (neurons per "
                             f"hidden layer), got {self.hidden!r}.")
        return tuple(int(h) for h in sizes)

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {
        "tau_mem": {"low": 2.0, "high": 50.0, "log": True}, "threshold": {"low": 0.25, "high": 2.0},
        "lr": {"low": 1e-4, "high": 1e-1, "log": True},
        "batch_size": {"low": 16, "high": 256, "type": "int", "log": True},
        "encoder": {"choices": ["current", "poisson", "delta"]},
    }

    def _validate_params(self) -> None:
        import os

        from neurorec.backends.fused_lif import SURROGATES

        super()._validate_params()
        c = self.checkpoint
        if not (c is None or (isinstance(c, (str, os.PathLike)) and str(c) != "")):
            raise P.ParameterError(f"SpikingClassifier(checkpoint={c!r}) is invalid: checkpoint must be None or a "
                                   f"file path (str or os.PathLike), got {c!r} ({type(c).__name__}).")
        self._hidden_sizes()
        _check_number(self.threshold, "threshold", low=0.0)
        _check_number(self.delta_threshold, "delta_threshold", low=0.0)
        self._spec()      # tau_mem, dt and reset, checked by the neuron description
        if self.surrogate_alpha is not None:
            _check_number(self.surrogate_alpha, "surrogate_alpha", low=0.0)
        _check_number(self.lr, "lr", low=0.0)
        _check_number(self.weight_decay, "weight_decay", low=0.0, low_open=False)
        _check_number(self.momentum, "momentum", low=0.0, high=1.0, low_open=False, high_open=True)
        _check_number(self.validation_fraction, "validation_fraction", low=0.0, high=1.0, low_open=False,
                      high_open=True)
        if self.clip_norm is not None:
            _check_number(self.clip_norm, "clip_norm", low=0.0)
        choices = {"encoder": ENCODERS, "input_mode": INPUT_MODES, "readout": READOUTS, "normalize": NORMALIZE,
                   "surrogate": tuple(SURROGATES), "optimizer": ("adam", "adamw", "rmsprop", "sgd"),
                   "lr_schedule": (None, "plateau", "cosine", "step"), "monitor": ("metric", "loss"),
                   "backend": ("numpy", "torch"), "dtype": ("float32", "float64")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}.")
        if not isinstance(self.recurrent, (bool, np.bool_)):
            raise ValueError(f"recurrent must be True or False, got {self.recurrent!r}.")
        if self.backend == "numpy" and str(self.device) != "cpu":
            raise ValueError(f"the numpy backend runs on device='cpu' only, got device={self.device!r}.")
        if self.encoder == "poisson" and self.normalize == "standard":
            raise ValueError("encoder='poisson' needs inputs in [0, 1] (firing probabilities), but "
                             "normalize='standard' gives z-scores; use normalize='minmax' (or None for data "
                             "already in [0, 1]).")

    def _normalization(self):
        """``normalize`` with "auto" resolved: min-max for the Poisson encoder, else standard."""
        if self.normalize == "auto":
            return "minmax" if self.encoder == "poisson" else "standard"
        return self.normalize

    def _spec(self) -> _Spec:
        beta = LIF(tau_mem=self.tau_mem, v_th=float(self.threshold), reset=self.reset).decays(self.dt)["beta"]
        return _Spec(beta, float(self.threshold), self.reset, self.surrogate,
                     None if self.surrogate_alpha is None else float(self.surrogate_alpha), self.readout)

    # ------------------------------------------------------------------ input pipeline
    def _scaled(self, batch: SeqBatch, offset, scale) -> np.ndarray:
        """Scaled inputs (batch, time, features); padded steps are 0."""
        out = ((batch.data - offset) / scale).astype(batch.data.dtype)
        if self._normalization() == "minmax":
            np.clip(out, 0.0, 1.0, out=out)
        if not batch.uniform:
            out[~batch.mask()] = 0.0
        return out

    def _encode(self, x, lengths, rng):
        """Encode scaled inputs (numpy or torch, batch first) for :func:`_forward`.

        Returns ``(s0, lengths, hold)``: the encoded input (batch, steps, inputs), its valid
        steps per sequence, and how many simulation steps each of its steps is held.
        """
        if self.input_mode == "static":
            x = x.reshape(x.shape[0], 1, -1)
            lengths = lengths * 0 + 1
            k = self.n_steps
        else:
            k = self.steps_per_input
        if self.encoder == "current":
            return x, lengths, k
        if self.encoder == "poisson":
            return coding._poisson(x, k, 1.0, rng), lengths * k, 1
        return coding._delta(coding._hold(x, k), float(self.delta_threshold), True), lengths * k, 1

    def _n_inputs(self, n_features: int, n_timesteps: int) -> int:
        n = n_features * (n_timesteps if self.input_mode == "static" else 1)
        return 2 * n if self.encoder == "delta" else n

    def _check_static(self, batch: SeqBatch, name: str, n_timesteps: int | None = None) -> None:
        if self.input_mode != "static":
            return
        T = batch.data.shape[1] if n_timesteps is None else n_timesteps
        if not np.all(batch.lengths == T):
            raise ValueError(f"input_mode='static' flattens every (time, features) input into one vector, so all "
                             f"sequences of {name} must have {T} steps; got lengths "
                             f"{sorted(set(batch.lengths.tolist()))[:10]}.")

    def _check_unit_range(self, xn: np.ndarray, name: str) -> None:
        if self.encoder == "poisson" and self.normalize is None and (xn.min() < 0 or xn.max() > 1):
            raise ValueError(f"encoder='poisson' with normalize=None needs {name} in [0, 1] (firing "
                             f"probabilities), got values in [{xn.min():g}, {xn.max():g}]; use "
                             f"normalize='minmax'.")

    # ------------------------------------------------------------------ fit
    def _torch_device(self) -> str:
        return "cpu" if self.backend == "numpy" else str(self.device)

    def _new_net(self, n_in: int, n_out: int, seed: int):
        """The trainable parameters as a torch ModuleDict (default ``nn.Linear`` initialisation)."""
        torch = require("torch")
        sizes = (n_in, *self._hidden_sizes())
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(seed))   # the CPU generator only, restored after
            net = torch.nn.ModuleDict({
                "hidden": torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:],
                                                                                   strict=True)),
                "output": torch.nn.Linear(sizes[-1], n_out)})
            if self.recurrent:
                net["recurrent"] = torch.nn.ModuleList(torch.nn.Linear(h, h, bias=False) for h in sizes[1:])
        return net.to(device=self._torch_device(), dtype=getattr(torch, self.dtype))

    def fit(self, X, y, X_val=None, y_val=None, *, callbacks=None) -> SpikingClassifier:
        """Train on sequences ``X`` with integer class labels ``y``.

        Parameters
        ----------
        X : array (batch, time, features) or list of (time_i, features) arrays
        y : array of int, shape (batch,)
        X_val, y_val : optional validation data for early stopping and the history; by default
            (with ``early_stopping``) a stratified ``validation_fraction`` of ``X`` is held out.
        callbacks : callable or list of callables, optional
            ``callback(epoch, record)`` after every epoch (see :func:`neurorec.train.fit_module`);
            raising from one stops training (:func:`neurorec.experiment.tune` prunes trials this way).

        Returns
        -------
        self
        """
        torch = require("torch")
        from neurorec.train import fit_module

        self._validate_params()
        spec = self._spec()
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val go together: pass both or neither.")
        dt = np.dtype(self.dtype)
        tabular = is_table(X)
        batch = check_sequences(tabular_as_sequences(X), "X", dtype=dt, layout_warning=not tabular)
        try:
            y_shape = None if y is None else np.asarray(y).shape
        except (ValueError, TypeError):
            y_shape = None          # ragged or odd labels: check_labels explains
        if y_shape is not None and len(y_shape) >= 2 and not (len(y_shape) == 2 and y_shape[1] == 1):
            # a column (n, 1) is ravelled with a DataConversionWarning by check_labels, as scikit-learn does
            raise ValueError(f"y must be class labels of shape ({batch.batch},): {type(self).__name__} is a "
                             f"classifier (per-step targets are regression); got shape {y_shape}.")
        labels = check_labels(y, batch.batch, "y")
        self._check_static(batch, "X")
        vb = None
        if X_val is not None:
            vb = check_sequences(tabular_as_sequences(X_val), "X_val", n_features=batch.data.shape[2], dtype=dt)
            self._check_static(vb, "X_val", batch.data.shape[1])
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        self.__dict__.pop("_cache", None)
        # one concrete seed for the hold-out split, initialisation, shuffling and Poisson spikes
        seed = int(np.random.SeedSequence(self.seed).generate_state(1)[0] % (2**31))
        offset, scale = _moments(batch, self._normalization())
        xn = self._scaled(batch, offset, scale)
        self._check_unit_range(xn, "X")
        classes, idx = np.unique(labels, return_inverse=True)
        train = (xn, batch.lengths, idx.astype(np.int64))
        val = None
        if vb is not None:
            xv = self._scaled(vb, offset, scale)
            self._check_unit_range(xv, "X_val")
            val = (xv, vb.lengths, check_labels(y_val, vb.batch, "y_val", classes=classes))
        elif (self.early_stopping and self.validation_fraction > 0
              and max(1, round(self.validation_fraction * batch.batch)) >= self.min_holdout):
            train, val = _holdout(train, self.validation_fraction, np.random.default_rng(seed), stratify=idx)

        n_in = self._n_inputs(batch.data.shape[2], batch.data.shape[1])
        net = self._new_net(n_in, len(classes), seed)
        device = next(net.parameters()).device
        train_t = tuple(torch.as_tensor(a).to(device) for a in train)
        # Poisson spikes of the training batches come from the device's default generator, which
        # fit_module seeds, forks and checkpoints (so a resumed training draws the same spikes)
        gen = torch.default_generator if device.type == "cpu" else \
            torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]

        def loss_fn(module, b):
            x, lengths, yy = b
            logits, _ = _forward(dict(module.named_parameters()), spec, *self._encode(x, lengths, gen))
            return torch.nn.functional.cross_entropy(logits, yy)

        validate, monitor, mode = None, "train_loss", "min"
        extra = {"params": {k: v for k, v in self.get_params(deep=False).items()
                            if k not in ("checkpoint", "progress", "backend")}, "validation": "none"}
        if val is not None:
            val_t = tuple(torch.as_tensor(a).to(device) for a in val)
            extra["validation"] = _digest_arrays(val)
            validate = self._make_validate(val_t, spec, seed, device)
            monitor, mode = ("val_loss", "min") if self.monitor == "loss" else ("val_accuracy", "max")
        stop = self.early_stopping and val is not None
        history = fit_module(
            net, loss_fn, train_t, validate=validate, monitor=monitor, mode=mode, optimizer=self.optimizer,
            lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay, lr_schedule=self.lr_schedule,
            **_epoch_budget(self.epochs, self.min_steps, 30), batch_size=self.batch_size, clip_norm=self.clip_norm,
            patience=self.patience if stop else None, restore_best=stop, checkpoint=self.checkpoint,
            progress=self.progress, seed=seed, device=device, description=type(self).__name__,
            fingerprint_extra=extra, **({} if callbacks is None else {"callbacks": callbacks}))
        self.weights_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.history_ = history.to_dict()
        self.best_epoch_ = int(history.best_epoch) if history.best_epoch is not None else len(history)
        self.classes_ = classes
        self.task_ = "classification"
        self.n_features_in_ = int(batch.data.shape[2])
        self.n_timesteps_in_ = int(batch.data.shape[1]) if self.input_mode == "static" else None
        self.x_offset_, self.x_scale_ = offset, scale
        self.seed_ = seed
        return self

    def _make_validate(self, val, spec: _Spec, seed: int, device):
        """Validation loss and accuracy; Poisson spikes from a generator re-seeded at every call,
        so every epoch is scored on the same spike trains."""
        import torch

        def validate(module):
            w = dict(module.named_parameters())
            gen = torch.Generator(device=device).manual_seed(seed) if self.encoder == "poisson" else None
            n, loss, correct = len(val[0]), 0.0, 0
            for s in range(0, n, self.batch_size * 8):
                x, lengths, yy = (a[s:s + self.batch_size * 8] for a in val)
                logits, _ = _forward(w, spec, *self._encode(x, lengths, gen))
                loss += float(torch.nn.functional.cross_entropy(logits, yy, reduction="sum"))
                correct += int((logits.argmax(1) == yy).sum())
            return {"val_loss": loss / n, "val_accuracy": correct / n}

        return validate

    @property
    def history(self):
        """The per-epoch training history as a :class:`neurorec.train.History`."""
        from neurorec.train import History

        self._check_fitted("history")
        return History.from_dict(self.history_)

    @property
    def n_parameters_(self) -> dict:
        self._check_fitted("n_parameters_")
        total = int(sum(v.size for v in self.weights_.values()))
        return {"total": total, "trained": total}

    # ------------------------------------------------------------------ inference
    def _torch_weights(self) -> dict:
        """``weights_`` as tensors on the device, cached until the device, dtype or weights change."""
        key = (str(self.device), self.dtype, id(self.weights_))
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("key") != key:
            torch = require("torch")
            cache["w"] = {k: torch.as_tensor(v).to(device=str(self.device), dtype=getattr(torch, self.dtype))
                          for k, v in self.weights_.items()}
            cache["key"] = key
        return cache["w"]

    def _inference_input(self, X):
        """``(batch, scaled inputs, encoder rng)`` of the sequences ``X`` given to an inference method."""
        batch = check_sequences(tabular_as_sequences(X), "X", n_features=self.n_features_in_,
                                dtype=np.dtype(self.dtype))
        self._check_static(batch, "X", self.n_timesteps_in_)
        xn = self._scaled(batch, self.x_offset_, self.x_scale_)
        self._check_unit_range(xn, "X")
        return batch, xn, (np.random.default_rng(self.seed_) if self.encoder == "poisson" else None)

    def _record_variables(self, variables) -> tuple:
        variables = tuple(variables)
        unknown = sorted(set(variables) - {"v"})
        if unknown:
            raise ValueError(f"record: unknown variable(s) {unknown}; a spiking classifier records 'v' (membranes).")
        return variables

    def _scores(self, X, method: str) -> np.ndarray:
        """Class scores (batch, n_classes); sets ``synops_`` and ``spike_rate_``."""
        self._check_fitted(method)
        batch, xn, rng = self._inference_input(X)
        forward = self._inference_forward()
        scores, counts, sim_steps = [], None, 0
        for s in range(0, batch.batch, _CHUNK):
            x, lengths, hold = self._encode_inference(xn[s:s + _CHUNK], batch.lengths[s:s + _CHUNK], rng)
            if self.backend == "torch":
                torch = require("torch")
                with torch.no_grad():
                    out, c = forward(torch.as_tensor(x).to(str(self.device)),
                                     torch.as_tensor(lengths).to(str(self.device)), hold)
                out, c = out.cpu().numpy(), [a.cpu().numpy() for a in c]
            else:
                out, c = forward(x, lengths, hold)
            scores.append(out)
            c = [a.astype(np.float64).sum(0) for a in c]
            counts = c if counts is None else [a + b for a, b in zip(counts, c, strict=True)]
            sim_steps += int((lengths * hold).sum())
        self.synops_ = float(sum(cnt @ fan for cnt, fan in zip(counts, self._fan_outs(), strict=True)) / batch.batch)
        sizes = self._hidden_sizes()
        self.spike_rate_ = np.array([counts[1 + l].sum() / (sim_steps * h) for l, h in enumerate(sizes)])
        return np.concatenate(scores)

    # hooks of _scores, overridden by the fixed-point classifier (neurorec.hardware.fixed_point)
    def _inference_forward(self):
        """``forward(x, lengths, hold) -> (scores, spike counts)`` on the inference backend."""
        spec = self._spec()
        if self.backend == "torch":
            w = self._torch_weights()
        else:
            w = {k: v.astype(np.dtype(self.dtype), copy=False) for k, v in self.weights_.items()}
        return lambda x, lengths, hold: _forward(w, spec, x, lengths, hold, record=True)

    def _encode_inference(self, x, lengths, rng):
        return self._encode(x, lengths, rng)

    def _fan_out_weights(self) -> dict:
        """The weights whose non-zeros are the synapses counted by ``synops_``."""
        return self.weights_

    def _fan_outs(self) -> list[np.ndarray]:
        """Fan-out (non-zero outgoing weights) of every presynaptic unit, in the order of the
        spike counts of :func:`_forward`: the inputs, then each hidden layer (forward plus
        recurrent targets)."""
        w = self._fan_out_weights()
        n = len(self._hidden_sizes())
        outs = []
        for layer in range(n + 1):
            target = w[f"hidden.{layer}.weight"] if layer < n else w["output.weight"]
            fan = np.count_nonzero(target, axis=0).astype(np.float64)
            if layer > 0 and f"recurrent.{layer - 1}.weight" in w:
                fan += np.count_nonzero(w[f"recurrent.{layer - 1}.weight"], axis=0)
            outs.append(fan)
        return outs

    def decision_function(self, X) -> np.ndarray:
        """Class scores (logits) of every sequence, shape (batch, n_classes): the output layer's
        readout (mean or max membrane, or spike count); for two classes (batch,), the difference
        ``s[:, 1] - s[:, 0]`` (positive means ``classes_[1]``, scikit-learn's convention). Sets
        ``synops_`` and ``spike_rate_``."""
        s = self._scores(X, "decision_function")
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    def transform(self, X) -> np.ndarray:
        """Output-layer features of every sequence, shape (batch, n_classes): the readout named by
        ``readout`` (mean or peak membrane potential, or spike count of every output neuron).
        These are also the logits, so this equals :meth:`decision_function`. Sets ``synops_``
        and ``spike_rate_``."""
        return self._scores(X, "transform")

    def record(self, X, variables=("v",)):
        """Run the trained network on ``X`` and return what every layer computed at every
        simulation step, as a :class:`~neurorec.models.spiking.NetworkRun`.

        Populations are ``"input"`` (the encoded input: spikes of a poisson or delta encoder, the
        held currents of the current encoder), ``"hidden0"``, ``"hidden1"``, ... and ``"output"``.
        ``run.spikes[pop]`` is 0/1 (batch, steps, units) for the hidden layers (and the output
        layer when ``readout="spike_count"``); ``run.states[(pop, "v")]`` is the membrane potential
        after each step's input and before its reset (the value compared with the threshold;
        for the output layer of a membrane readout, the leaky integral that the readout pools).
        ``run.dt`` is the step in ms and ``run.lengths`` the valid steps of each sequence; the
        steps after them are 0. The same numbers as :meth:`predict` computes: the spike counts
        give ``spike_rate_`` and the pooled output gives :meth:`transform` (the torch backend's
        fused kernel rounds like this loop; the simulation always runs in numpy here, in
        ``dtype``).

        Parameters
        ----------
        X : the inputs, as for :meth:`predict`
        variables : sequence of str
            State variables to record besides the spikes: ``"v"`` (membranes) or none (``()``).
        """
        self._check_fitted("record")
        variables = self._record_variables(variables)
        batch, xn, rng = self._inference_input(X)
        x, lengths, hold = self._encode_inference(xn, batch.lengths, rng)
        w = {k: np.asarray(v).astype(np.dtype(self.dtype), copy=False) for k, v in self.weights_.items()}
        spikes, states = _trace(w, self._spec(), np.asarray(x), np.asarray(lengths), hold)
        from neurorec.models.spiking.network import NetworkRun

        return NetworkRun(spikes=spikes, states=states if variables else {}, dt=float(self.dt),
                          lengths=np.asarray(lengths) * hold)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, the softmax of :meth:`decision_function`, shape (batch, n_classes)."""
        from scipy.special import softmax

        return softmax(self._scores(X, "predict_proba").astype(np.float64), axis=1)

    def predict(self, X) -> np.ndarray:
        """Class labels, shape (batch,). Sets ``synops_`` and ``spike_rate_``."""
        scores = self._scores(X, "predict")
        return self.classes_[scores.argmax(1)]


# ---------------------------------------------------------------------- shared forward pass
def _moments(batch: SeqBatch, normalize):
    """(offset, scale) per feature over the valid steps of the training sequences."""
    data = batch.data
    F = data.shape[2]
    if normalize is None:
        return np.zeros(F, data.dtype), np.ones(F, data.dtype)
    valid = data[batch.mask()].astype(np.float64)
    if normalize == "minmax":
        offset, scale = valid.min(0), valid.max(0) - valid.min(0)
    else:
        offset, scale = valid.mean(0), valid.std(0)
    scale[~(scale > 1e-12)] = 1.0
    return offset.astype(data.dtype), scale.astype(data.dtype)


def _scalar(value: float, like):
    if coding._is_torch(like):
        import torch

        return torch.tensor(value, dtype=like.dtype, device=like.device)
    return like.dtype.type(value)


def _linear(h, w: dict, name: str):
    if coding._is_torch(h):
        import torch

        return torch.nn.functional.linear(h, w[f"{name}.weight"], w[f"{name}.bias"])
    return h @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _lif(current, spec: _Spec, V=None, membranes: list | None = None):
    """Spikes (T, B, N) of a LIF layer driven by ``current`` (T, B, N), with recurrent weights ``V``.

    A feed-forward torch layer runs the fused kernel; recurrent layers, and numpy, run the step
    loop below, which is the kernel's recursion in the same rounding order (so numpy and torch
    give the same spikes up to the rounding of the matrix products). ``membranes``: a list that
    receives the membrane of every step (before its reset), numpy only."""
    is_torch = coding._is_torch(current)
    if is_torch and V is None and membranes is None:
        from neurorec.backends.fused_lif import lif_multistep

        return lif_multistep(current, spec.beta, spec.threshold, spec.reset, surrogate=spec.surrogate,
                             alpha=spec.alpha)[0]
    if is_torch:
        from neurorec.backends.fused_lif import spike

        def fire(v):
            return spike(v, spec.surrogate, spec.alpha)
    else:
        def fire(v):
            return (v > 0).astype(v.dtype)
    beta, thr = _scalar(spec.beta, current), _scalar(spec.threshold, current)
    m = s = coding._namespace(current).zeros_like(current[0])
    out = []
    for t in range(current.shape[0]):
        r = coding._cast(m > thr, m)             # the reset: last step's spike, no gradient
        i_t = current[t] if V is None else current[t] + s @ V.T
        m = beta * ((1 - r) * m) + i_t if spec.reset == "zero" else beta * m + i_t - r * thr
        s = fire(m - thr)
        out.append(s)
        if membranes is not None:
            membranes.append(m)
    return coding._namespace(current).stack(out)


def _trace(w: dict, spec: _Spec, x: np.ndarray, lengths: np.ndarray, hold: int):
    """:func:`_forward` on numpy arrays, keeping every layer's spikes and membranes:
    ``({pop: (B, T, N)}, {(pop, "v"): (B, T, N)})``, the steps after each sequence's end zeroed."""
    T = x.shape[1] * hold
    valid = (np.arange(T)[None, :] < (lengths * hold)[:, None])[..., None]

    def batch_first(a):
        return np.swapaxes(np.asarray(a), 0, 1) * valid

    spikes, states = {"input": batch_first(np.repeat(np.swapaxes(x, 0, 1), hold, axis=0))}, {}
    h = np.swapaxes(x, 0, 1)
    n = sum(1 for k in w if k.startswith("hidden.") and k.endswith(".weight"))
    for layer in range(n):
        current = _linear(h, w, f"hidden.{layer}")
        if layer == 0 and hold > 1:
            current = np.repeat(current, hold, axis=0)
        mem: list = []
        h = _lif(current, spec, w.get(f"recurrent.{layer}.weight"), membranes=mem)
        spikes[f"hidden{layer}"] = batch_first(h)
        states[(f"hidden{layer}", "v")] = batch_first(np.stack(mem))
    current = _linear(h, w, "output")
    if spec.readout == "spike_count":
        mem = []
        spikes["output"] = batch_first(_lif(current, spec, membranes=mem))
        states[("output", "v")] = batch_first(np.stack(mem))
    else:
        states[("output", "v")] = batch_first(_leaky_integrate(current, spec.beta))
    return spikes, states


def _leaky_integrate(current, beta: float):
    r""":math:`U[t] = \beta U[t-1] + I[t]` over (T, B, N) as one matrix product,
    :math:`U = L I` with :math:`L_{tk} = \beta^{t-k}` (:math:`k \le t`); O(T^2) but no time loop."""
    T = current.shape[0]
    d = np.arange(T)[:, None] - np.arange(T)[None, :]
    L = np.where(d >= 0, beta ** np.maximum(d, 0), 0.0)
    if coding._is_torch(current):
        import torch

        L = torch.as_tensor(L, dtype=current.dtype, device=current.device)
    else:
        L = L.astype(current.dtype)
    return (L @ current.reshape(T, -1)).reshape(current.shape)


def _forward(w: dict, spec: _Spec, x, lengths, hold: int, record: bool = False):
    """The network on numpy arrays or torch tensors (autograd-ready).

    Parameters
    ----------
    w : dict of weights (``SpikingClassifier.weights_`` names), arrays of ``x``'s kind
    x : (B, S, F) encoded input, batch first; lengths : (B,) valid steps of ``x``
    hold : int
        Simulation steps each step of ``x`` is held (the first layer's current is repeated).
    record : bool
        Also return the spike counts over the valid simulation steps of every presynaptic
        population: the input (non-zero values, times ``hold``), then each hidden layer, each
        (B, units).

    Returns
    -------
    scores (B, n_classes), and the list of counts (empty unless ``record``).
    """
    xp = coding._namespace(x)
    sim_lengths = lengths * hold
    counts = [coding._masked_sum(coding._cast(x != 0, x), lengths) * hold] if record else []
    h = xp.swapaxes(x, 0, 1)                                 # time-major from here on
    n = sum(1 for k in w if k.startswith("hidden.") and k.endswith(".weight"))
    for layer in range(n):
        current = _linear(h, w, f"hidden.{layer}")
        if layer == 0 and hold > 1:
            current = current.repeat_interleave(hold, dim=0) if coding._is_torch(x) else \
                np.repeat(current, hold, axis=0)
        h = _lif(current, spec, w.get(f"recurrent.{layer}.weight"))
        if record:
            counts.append(coding._masked_sum(xp.swapaxes(h, 0, 1), sim_lengths))
    current = _linear(h, w, "output")
    if spec.readout == "spike_count":
        return coding._masked_sum(xp.swapaxes(_lif(current, spec), 0, 1), sim_lengths), counts
    u = xp.swapaxes(_leaky_integrate(current, spec.beta), 0, 1)
    if spec.readout == "membrane_mean":
        return coding._masked_mean(u, sim_lengths), counts
    return coding._masked_max(u, sim_lengths), counts
