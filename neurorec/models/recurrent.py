r"""Gradient-trained recurrent baselines: Elman (simple RNN), Jordan, LSTM and GRU.

All four share :class:`RecurrentModel`: training with torch through :func:`neurorec.train.fit_module`
(mini-batches, Adam/RMSprop/SGD, learning-rate schedules, L1/L2 penalties, dropout, gradient
clipping, early stopping on the validation metric with the best weights restored, atomic
checkpoints that let a killed training resume), and inference either with torch
(``backend="torch"``, CPU or CUDA) or with numpy (``backend="numpy"``), which runs the step
equations below on the trained weights and needs no torch at prediction time.

Step equations (torch's conventions and gate order; :math:`\sigma` the logistic function):

Elman (Elman 1990)
    :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})`
LSTM (Hochreiter & Schmidhuber 1997, with forget gate, Gers et al. 2000)
    :math:`(i, f, g, o) = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`;
    :math:`c_t = \sigma(f) c_{t-1} + \sigma(i) \tanh(g)`, :math:`h_t = \sigma(o) \tanh(c_t)`
GRU (Cho et al. 2014)
    :math:`r = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})`,
    :math:`z = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})`,
    :math:`n = \tanh(W_{in} x_t + b_{in} + r (W_{hn} h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z) n + z h_{t-1}`
Jordan (Jordan 1986)
    context units fed from the previous *output*: :math:`c_t = \mu c_{t-1} + y_{t-1}`,
    :math:`h_t = \tanh(W [x_t; c_t] + b)`, :math:`o_t = V h_t + d`, with
    :math:`y_t = o_t` (regression) or :math:`\mathrm{softmax}(o_t)` (classification);
    :math:`\mu` is ``context_decay`` (0 gives the common textbook form; Jordan's state units
    also decay). Deeper ``layers`` add tanh layers inside a step; the only recurrence is
    through the output.

A classifier pools each sequence's outputs (``pooling="last"``: the state after the last
valid step, both directions for a bidirectional network; ``"mean"``: the mean over valid
steps), optionally batch-normalises them, and maps them to class scores with a dense layer.
A sequence regressor maps every step's output to the targets. Associative recall (a
``recall`` task: noisy binary cues ``(batch, rows, cols)`` to the clean patterns) is sequence
regression of the clean rows from the noisy rows, read out by the task by its sign; use
``bidirectional=True`` there, so that every row's answer depends on the whole cue.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import (
    SeqBatch,
    check_labels,
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    is_table,
    resolve_task,
    tabular_as_sequences,
)
from neurorec.backends.ops import require
from neurorec.base import Model, fitted_as_classifier
from neurorec.models._generate import DivergenceGuard, check_n_steps, check_on_divergence, divergence_threshold

__all__ = ["RecurrentModel", "Elman", "Jordan", "LSTM", "GRU"]

_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


class RecurrentModel(Model):
    """Base of the gradient-trained recurrent networks; use :class:`Elman`, :class:`Jordan`,
    :class:`LSTM` or :class:`GRU`.

    Parameters
    ----------
    units : int
        Hidden units per layer and direction.
    layers : int
        Stacked recurrent layers.
    bidirectional : bool
        Run every layer in both directions (not for Jordan, not with ``generate``).
    pooling : {"last", "mean"}
        Classifier readout: the final state, or the mean of the outputs over valid steps.
    batch_norm : bool
        Batch normalisation of the pooled features before the classifier's dense layer.
    dropout : float
        Dropout between stacked layers and before the readout, during training only.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"}
    lr : float
        Learning rate.
    momentum : float
        Momentum of SGD and RMSprop.
    weight_decay : float
        L2 penalty (torch's ``weight_decay``: on every parameter, biases included).
    l1 : float
        L1 penalty ``l1 * sum |w|`` on the weight matrices.
    lr_schedule : {None, "plateau", "cosine", "step"}
        Learning-rate schedule (``"plateau"`` halves it when the monitored metric stalls).
    epochs : int or None
        Most epochs to train. None (default): at least 100 epochs and at least ``min_steps``
        optimiser steps, with early stopping's ``patience`` raised to at least a quarter of
        ``min_steps`` steps (see :func:`neurorec.train.fit_module`), so that a training set of a
        few dozen sequences (one or two mini-batches per epoch) gets as many updates as a large
        one. An int is used exactly (``min_steps`` is then ignored).
    min_steps : int, default 1000
        Least number of optimiser steps with ``epochs=None``. Chosen on the validation splits
        of five UCR/UEA tasks (see the README's "Defaults on small data").
    batch_size : int
        Sequences (or windows) per mini-batch.
    clip_norm : float or None
        Clip the global gradient norm to this value before each step.
    early_stopping : bool
        Stop when the validation metric has not improved for ``patience`` epochs and restore
        the best weights. The validation data are ``X_val, y_val`` passed to :meth:`fit`, or
        else a held-out ``validation_fraction`` of the training sequences (windows, for one
        long sequence: the last ones). With ``early_stopping=False`` every epoch runs and the
        last epoch's weights are kept (validation data, if passed, are still scored each epoch
        into the history); nothing is held out.
    patience : int
    validation_fraction : float
    min_holdout : int, default 20
        Classification without ``X_val``: the held-out ``validation_fraction`` is used only if
        it holds at least this many sequences. With fewer (a training set of under about 200
        sequences at the default fraction), nothing is held out and the whole epoch budget runs
        on every sequence, keeping the last weights: a validation loss on a handful of
        sequences moves in large random steps and would stop training, or pick its weights,
        at random (on the train splits of the five UCR/UEA sets of the README's "Defaults on
        small data", four-fold cross-validation of a GRU on ArrowHead's training set: 0.53
        with a 3-series hold-out, 0.69 without). 0: always hold out.
    monitor : {"loss", "metric"}
        What early stopping and the restored best weights follow on the validation data: the
        loss (cross-entropy or MSE; the default, as in Keras, because it keeps improving after
        the accuracy of a small validation set has saturated) or the metric (accuracy for a
        classifier, NRMSE for a regressor).
    window : int
        Sequence regression on sequences longer than this trains on windows of ``window``
        steps (truncated back-propagation through time); each window's first
        ``window // 5`` steps (but a sequence's first window's) only warm the state up and are
        not in the loss. A bidirectional network's backward direction sees no context beyond
        a window's end in training, but the whole sequence at inference: prefer sequences
        no longer than ``window`` for bidirectional regression.
    washout : int
        Steps at the start of every validation sequence (``X_val``, or held-out whole
        sequences) left out of the validation loss and metric: the warm-up of a forecasting
        task. Validation windows held out from one long series use the window warm-up.
    init : {"orthogonal", "xavier", "torch"}
        Weight initialisation (see :func:`neurorec.models._torch_rnn.initialise`).
    context_decay : float
        Jordan only: decay :math:`\\mu` of the context units, in [0, 1).
    normalize : bool
        Standardise every input feature (and, for sequence regression, every target) with the
        mean and standard deviation of the training sequences' valid steps; predictions are
        mapped back, so the caller never sees the scaled values. Data that are already
        standardised (neurorec's tasks) pass through unchanged.
    checkpoint : str or None
        File the training state is written to after every epoch (atomically); a training
        killed and started again with the same file resumes after the last finished epoch.
    progress : bool
        Show a tqdm progress bar with the loss and the validation metric.
    backend : {"numpy", "torch"}
        Inference engine. Training always runs in torch (on ``device``; on the CPU for the
        numpy backend); the numpy backend then predicts from the same weights without torch.
    device : str
        ``"cpu"`` or a CUDA device for the torch backend.
    dtype : {"float32", "float64"}
    task : {"auto", "classification", "regression"}
        What ``fit`` learns. ``"classification"``: one label per sequence (integers, strings or
        any sortable labels; ``predict`` returns them); a 2-D ``X`` is a table of samples, each
        row a one-step sequence; scikit-learn sees a classifier (stratified cross-validation,
        ``predict_proba``). ``"regression"``: per-step targets; a 2-D ``X`` is one sequence;
        scikit-learn sees a regressor. ``"auto"`` (default) infers it from ``y``
        (:func:`neurorec._validation.resolve_task`; a 2-D ``X`` with integer or string ``y`` is
        ambiguous and refused). ``task_`` says what was fitted. ``score`` of a regressor leaves
        out the first ``washout`` steps of every sequence.
    seed : int or None
        Seeds initialisation, shuffling and dropout; a CPU training is reproducible.
    """

    _cell = "elman"

    def __init__(self, units: int = 64, layers: int = 1, bidirectional: bool = False, pooling: str = "last",
                 batch_norm: bool = False, dropout: float = 0.0, optimizer: str = "adam", lr: float = 2e-3,
                 momentum: float = 0.9, weight_decay: float = 0.0, l1: float = 0.0,
                 lr_schedule: str | None = "plateau", epochs: int | None = None, min_steps: int = 1000,
                 batch_size: int = 32,
                 clip_norm: float | None = 1.0, early_stopping: bool = True, patience: int = 10,
                 validation_fraction: float = 0.1, min_holdout: int = 20, monitor: str = "loss",
                 window: int = 100, washout: int = 0,
                 init: str = "orthogonal", context_decay: float = 0.0, normalize: bool = True,
                 checkpoint: str | None = None,
                 progress: bool = False, backend: str = "torch", device: str = "cpu", dtype: str = "float32",
                 task: str = "auto", seed: int | None = None):
        self.units = units
        self.layers = layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.l1 = l1
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
        self.window = window
        self.washout = washout
        self.init = init
        self.context_decay = context_decay
        self.normalize = normalize
        self.checkpoint = checkpoint
        self.progress = progress
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.task = task
        self.seed = seed

    # a recall task (noisy cue rows -> clean pattern rows) is per-step sequence regression;
    # a bidirectional network sees the whole cue before it answers any row
    _supported_kinds = frozenset({"forecast", "classify", "recall"})

    # ------------------------------------------------------------------ checks
    _param_spec = {
        "units": P.Int(1), "layers": P.Int(1), "bidirectional": P.Bool(), "pooling": P.Options("last", "mean"),
        "batch_norm": P.Bool(), "dropout": P.Real(0, 1, closed="left"),
        "optimizer": P.Options("adam", "adamw", "rmsprop", "sgd"), "lr": P.Real(0, closed="neither"),
        "momentum": P.Real(0, 1, closed="left"), "weight_decay": P.Real(0), "l1": P.Real(0),
        "lr_schedule": P.Options(None, "plateau", "cosine", "step"),
        "epochs": P.NoneOK() | P.Int(1), "min_steps": P.Int(0),
        "batch_size": P.Int(1),
        "clip_norm": P.NoneOK() | P.Real(0, closed="neither"), "early_stopping": P.Bool(), "patience": P.Int(1),
        "validation_fraction": P.Real(0, 1, closed="left"), "min_holdout": P.Int(0),
        "monitor": P.Options("metric", "loss"),
        "window": P.Int(2), "washout": P.Int(0), "init": P.Options("orthogonal", "xavier", "torch"),
        "context_decay": P.Real(0, 1, closed="left"), "normalize": P.Bool(),
        "checkpoint": P.Any(),         # None, a str or a path: checked in _validate_params
        "progress": P.Bool(), "backend": P.Options("numpy", "torch"), "device": P.Str(),
        "dtype": P.Options("float32", "float64"), "task": P.Options("auto", "classification", "regression"),
        "seed": P.Seed(),
    }

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {
        "units": {"low": 16, "high": 256, "type": "int", "log": True}, "lr": {"low": 1e-4, "high": 1e-1, "log": True},
        "dropout": {"low": 0.0, "high": 0.5}, "weight_decay": {"low": 1e-8, "high": 1e-2, "log": True},
    }

    def _validate_params(self) -> None:
        super()._validate_params()
        c = self.checkpoint
        if not (c is None or (isinstance(c, (str, os.PathLike)) and str(c) != "")):
            raise P.ParameterError(f"{type(self).__name__}(checkpoint={c!r}) is invalid: checkpoint must be None or "
                                   f"a file path (str or os.PathLike), got {c!r} ({type(c).__name__}).")
        if self.backend == "numpy" and str(self.device) != "cpu":
            raise ValueError(f"the numpy backend runs on device='cpu' only, got device={self.device!r}.")
        if self._cell == "jordan" and (self.bidirectional or self.batch_norm):
            raise ValueError("Jordan networks are unidirectional and have no batch_norm option "
                             "(their recurrence runs through the output layer).")

    # ------------------------------------------------------------------ torch module
    def _torch_device(self):
        return "cpu" if self.backend == "numpy" else str(self.device)

    def _new_net(self, n_in: int, n_out: int, head: str, seed: int = 0):
        torch = require("torch")
        from neurorec.models._torch_rnn import RecurrentNet, initialise

        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(int(seed))   # the CPU generator only, restored after
            net = RecurrentNet(self._cell, n_in, self.units, self.layers, self.bidirectional, self.dropout,
                               n_out, head, self.pooling, self.batch_norm, self.context_decay)
            initialise(net, self.init)
        return net.to(device=self._torch_device(), dtype=getattr(torch, self.dtype))

    def _cache_key(self):
        return (str(self.device), self.dtype, id(self.weights_))

    def _net(self):
        """The trained network as a torch module for the torch backend, cached until the device,
        the dtype or the ``weights_`` dict change."""
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("key") != self._cache_key():
            torch = require("torch")
            head = "classify" if self.task_ == "classification" else "sequence"
            net = self._new_net(self.n_features_in_, self.n_outputs_, head)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in self.weights_.items()})
            net.eval()
            cache["net"], cache["key"] = net, self._cache_key()
        return cache["net"]

    @property
    def _trained_arrays(self):
        return [f"weights_/{k}" for k in getattr(self, "weights_", {}) if not k.endswith(_BUFFERS)]

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, X_val=None, y_val=None, *, callbacks=None) -> RecurrentModel:
        """Train on sequences ``X`` with integer labels ``y`` (classification) or per-step
        targets ``y`` (sequence regression).

        Parameters
        ----------
        X : array (batch, time, features), (time, features) or list of (time_i, features)
        y : labels (batch,), or targets (batch, time, outputs) / (time, outputs)
        X_val, y_val : optional validation data for early stopping; by default a
            ``validation_fraction`` of the training data is held out.
        callbacks : callable or list of callables, optional
            ``callback(epoch, record)`` after every epoch (see :func:`neurorec.train.fit_module`;
            ``record`` holds ``train_loss`` and, with validation data, ``val_loss``); raising
            from one stops training (:func:`neurorec.experiment.tune` prunes trials this way).
        """
        torch = require("torch")
        from neurorec.train import fit_module

        self._validate_params()
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val go together: pass both or neither.")
        dt = np.dtype(self.dtype)
        task = resolve_task(self.task, X, y, model=type(self).__name__)
        is_clf = task == "classification"
        tabular = is_clf and is_table(X)
        if is_clf:
            X = tabular_as_sequences(X)
            if X_val is not None:
                X_val = tabular_as_sequences(X_val)
        batch = check_sequences(X, "X", dtype=dt, layout_warning=not tabular)
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        self.__dict__.pop("_cache", None)
        # one concrete seed for the hold-out split, initialisation, shuffling and dropout
        # (seed=None draws a fresh one, as scikit-learn does)
        seed = int(np.random.SeedSequence(self.seed).generate_state(1)[0] % (2**31))
        rng = np.random.default_rng(seed)
        x_mean, x_scale = _moments(batch.data, batch.lengths, self.normalize)
        xn = _apply(batch, x_mean, x_scale)
        vb = None if X_val is None else check_sequences(X_val, "X_val", n_features=batch.data.shape[2], dtype=dt)
        if is_clf:
            classes, idx = encode_labels(y, batch.batch, "y")
            train = (xn, batch.lengths, idx.astype(np.int64))
            val = None
            if vb is not None:
                vidx = check_labels(y_val, vb.batch, "y_val", classes=classes)
                val = (_apply(vb, x_mean, x_scale), vb.lengths, vidx)
            elif (self.early_stopping and self.validation_fraction > 0
                  and max(1, round(self.validation_fraction * batch.batch)) >= self.min_holdout):
                train, val = _holdout(train, self.validation_fraction, rng, stratify=idx)
            if self.batch_norm and len(train[0]) < 2:
                raise ValueError("batch_norm needs at least 2 training sequences.")
            head, n_out = "classify", len(classes)
        else:
            Yt = check_sequence_targets(y, batch, "y", dtype=dt)
            y_mean, y_scale = _moments(Yt, batch.lengths, self.normalize)
            yn = ((Yt - y_mean) / y_scale).astype(dt)
            if self.washout >= int(batch.lengths.max()):
                raise ValueError(f"washout={self.washout} leaves no step to validate on: the longest "
                                 f"sequence in X has {int(batch.lengths.max())} steps.")
            val = None
            if vb is not None:
                vy = check_sequence_targets(y_val, vb, "y_val", dtype=dt)
                if vy.shape[2] != Yt.shape[2]:
                    raise ValueError(f"y_val has {vy.shape[2]} outputs per step but y has {Yt.shape[2]}.")
                if self.washout >= int(vb.lengths.max()):
                    raise ValueError(f"washout={self.washout} leaves no step to validate on: the longest "
                                     f"sequence in X_val has {int(vb.lengths.max())} steps.")
                val = (_apply(vb, x_mean, x_scale), vb.lengths, ((vy - y_mean) / y_scale).astype(dt),
                       np.full(vb.batch, self.washout, np.int64))
                windows = _windows(xn, batch.lengths, yn, self.window)
            elif self.early_stopping and self.validation_fraction > 0 and batch.batch > 1:
                # several sequences: hold whole sequences out (windows of one autocorrelated
                # series on both sides of the split would leak), then cut the rest into windows
                tr, va = _holdout((xn, batch.lengths, yn), self.validation_fraction, rng)
                val = (*va, np.minimum(self.washout, va[1] - 1))
                windows = _windows(*tr, self.window)
            else:
                windows = _windows(xn, batch.lengths, yn, self.window)
                if self.early_stopping and self.validation_fraction > 0 and len(windows[0]) > 1:
                    # one long series: validate on its last windows (after their warm-up steps)
                    n_val = max(1, int(round(self.validation_fraction * len(windows[0]))))
                    cut = len(windows[0]) - n_val
                    val = tuple(w[cut:] for w in windows)
                    windows = tuple(w[:cut] for w in windows)
            train = windows
            head, n_out = "sequence", Yt.shape[2]
        self.n_features_in_ = batch.data.shape[2]
        net = self._new_net(self.n_features_in_, n_out, head, seed)
        device = next(net.parameters()).device

        def to_t(arrs):
            # data, targets and labels live on the training device once; sequence lengths (and
            # loss start steps) stay on the CPU, where pack_padded_sequence wants them
            return tuple(torch.as_tensor(a).to(device) if i in (0, 2) else torch.as_tensor(a)
                         for i, a in enumerate(arrs))

        train_t = to_t(train)
        if head == "classify":
            def loss_fn(module, b):
                x, lengths, yy = b
                return torch.nn.functional.cross_entropy(module(x, lengths), yy.to(x.device))
        else:
            def loss_fn(module, b):
                x, lengths, yy, start = b
                return _masked_mse(module(x, lengths), yy, lengths, start)

        validate, monitor, mode = None, "train_loss", "min"
        extra = {"params": {k: v for k, v in self.get_params(deep=False).items()
                            if k not in ("checkpoint", "progress", "backend")},
                 "validation": "none"}
        if val is not None:
            val_t = to_t(val)
            extra["validation"] = _digest_arrays(val)
            validate = _make_validate(head, val_t, self.batch_size * 8)
            if self.monitor == "loss":
                monitor, mode = "val_loss", "min"
            elif head == "classify":
                monitor, mode = "val_accuracy", "max"
            else:
                monitor, mode = "val_nrmse", "min"
        history = fit_module(
            net, loss_fn, train_t, validate=validate, monitor=monitor, mode=mode, optimizer=self.optimizer,
            lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay, l1=self.l1,
            lr_schedule=self.lr_schedule, **_epoch_budget(self.epochs, self.min_steps, 100),
            batch_size=self.batch_size,
            clip_norm=self.clip_norm, patience=self.patience if (self.early_stopping and val is not None) else None,
            restore_best=self.early_stopping and val is not None, checkpoint=self.checkpoint, progress=self.progress,
            seed=seed, device=device, description=type(self).__name__, fingerprint_extra=extra,
            **({} if callbacks is None else {"callbacks": callbacks}))
        net.eval()
        self.weights_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.history_ = history.to_dict()
        self.best_epoch_ = int(history.best_epoch) if history.best_epoch is not None else len(history)
        self.n_outputs_ = int(n_out)
        self.x_mean_, self.x_scale_ = x_mean, x_scale
        if head == "classify":
            self.classes_ = classes
            self.task_ = "classification"
        else:
            self.y_mean_, self.y_scale_ = y_mean, y_scale
            self.task_ = "regression"
            self.target_1d_ = bool(batch.single and is_1d_target(y))
        self.__dict__["_cache"] = {"net": net, "key": self._cache_key()}
        return self

    @property
    def history(self):
        """The per-epoch training history as a :class:`neurorec.train.History` (``.to_frame()``,
        ``.plot()``)."""
        from neurorec.train import History

        self._check_fitted("history")
        return History.from_dict(self.history_)

    # ------------------------------------------------------------------ inference
    def _check_X(self, X, method: str, name: str = "X") -> SeqBatch:
        self._check_fitted(method)
        if self.task_ == "classification" and name == "X":
            X = tabular_as_sequences(X)         # a classifier reads a 2-D X as a table of samples
        return check_sequences(X, name, n_features=self.n_features_in_, dtype=np.dtype(self.dtype))

    def _outputs(self, batch: SeqBatch) -> np.ndarray:
        """Network outputs: class scores (B, C) or per-step outputs (B, T, O), as numpy."""
        xn = _apply(batch, self.x_mean_, self.x_scale_)
        if self.backend == "numpy":
            out = _np_forward(self, xn, batch.lengths)
        else:
            torch = require("torch")
            net = self._net()
            dev = next(net.parameters()).device
            outs = []
            step = 4096
            with torch.no_grad():
                for s in range(0, batch.batch, step):
                    x = torch.as_tensor(xn[s:s + step]).to(dev)
                    outs.append(net(x, torch.as_tensor(batch.lengths[s:s + step])).cpu().numpy())
            out = np.concatenate(outs)
        if self.task_ == "classification":
            return out
        return (out * self.y_scale_ + self.y_mean_).astype(out.dtype)

    def _logits(self, X, method: str) -> np.ndarray:
        self._check_fitted(method)
        if self.task_ != "classification":
            raise ValueError(f"{method} is for classifiers; this {type(self).__name__} was fitted for regression.")
        return self._outputs(self._check_X(X, method)).astype(np.float64)

    @available_if(fitted_as_classifier)
    def decision_function(self, X) -> np.ndarray:
        """Class scores (logits) of a classifier: (batch, n_classes), or (batch,) for two classes
        (the logit difference; positive means ``classes_[1]``, scikit-learn's convention)."""
        s = self._logits(X, "decision_function")
        return s[:, 1] - s[:, 0] if s.shape[1] == 2 else s

    @available_if(fitted_as_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the logits, the model trained with cross-entropy),
        (batch, n_classes), columns in ``classes_`` order."""
        from scipy.special import softmax

        return softmax(self._logits(X, "predict_proba"), axis=1)

    def predict(self, X):
        """Per-step outputs (batch, time, outputs) in the caller's layout, or class labels."""
        batch = self._check_X(X, "predict")
        out = self._outputs(batch)
        if self.task_ == "classification":
            return self.classes_[out.argmax(1)]
        out = batch.unpad(out)
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out

    @available_if(lambda self: self._cell != "jordan")
    def transform(self, X):
        """Hidden states of the top recurrent layer after every step, (batch, time, units) (both
        directions concatenated for a bidirectional network, ``2 * units``), in the caller's
        layout, computed with the numpy inference path from the trained weights. Jordan networks
        have no hidden recurrent state (their context is the output) and no ``transform``."""
        if self._cell == "jordan":
            raise ValueError("transform returns recurrent hidden states; a Jordan network's recurrence runs "
                             "through its outputs (use predict).")
        batch = self._check_X(X, "transform")
        xn = _apply(batch, self.x_mean_, self.x_scale_)
        out, _ = _np_rnn(self._cell, xn, batch.lengths, self.weights_, self.layers, self.bidirectional)
        out = batch.unpad(out.astype(batch.data.dtype))
        if self.task_ == "classification" and is_table(X):
            return out[:, 0]                    # a table in, (samples, units) out
        return out

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop forecast of ``n_steps`` steps after ``warmup`` (see :meth:`ESN.generate`):
        the output at the last warm-up step is the forecast of the next input, and is fed back.

        ``n_steps`` and ``on_divergence`` as for :meth:`ESN.generate`: lengths whose output exceeds
        2**31 values are refused up front; a trajectory that turns non-finite or exceeds 1e6 x the
        largest of the warm-up's magnitude and the training targets' ``|mean| + std`` raises a
        ``FloatingPointError`` naming the step (``"raise"``, default) or warns (``"warn"``).

        Returns
        -------
        ndarray (batch, n_steps, outputs), or (n_steps, outputs) for one warm-up sequence.
        """
        batch = self._check_X(warmup, "generate", name="warmup")
        n_steps = check_n_steps(n_steps, batch.batch, getattr(self, "n_outputs_", 1), self.dtype)
        check_on_divergence(on_divergence)
        if self.task_ != "regression" or self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"generate needs a one-step forecaster (outputs == features); this model "
                             f"maps {self.n_features_in_} features to {getattr(self, 'n_outputs_', '?')} "
                             f"outputs or is a classifier.")
        if self.bidirectional:
            raise ValueError("generate needs a causal model; this one is bidirectional.")
        # the network runs on standardised values: its output o means y = o * y_scale + y_mean,
        # and that y, fed back as the next input, enters as (y - x_mean) / x_scale = o * a + b
        a = (self.y_scale_ / self.x_scale_).astype(self.x_scale_.dtype)
        b = ((self.y_mean_ - self.x_mean_) / self.x_scale_).astype(self.x_scale_.dtype)
        xn = SeqBatch(_apply(batch, self.x_mean_, self.x_scale_), batch.lengths, batch.single, batch.ragged)
        guard = DivergenceGuard(type(self).__name__, divergence_threshold(
            batch.data, np.abs(self.y_mean_) + self.y_scale_), on_divergence)
        if self.backend == "numpy":
            out = _np_generate(self, xn, n_steps, a, b, guard)
        else:
            out = _torch_generate(self, xn, n_steps, a, b, guard)
        with np.errstate(over="ignore", invalid="ignore"):
            out = (out * self.y_scale_ + self.y_mean_).astype(out.dtype)
        guard.check(out[:, guard.checked:], guard.checked)
        return out[0] if batch.single else out

    @property
    def n_parameters_(self) -> dict:
        self._check_fitted("n_parameters_")
        total = int(sum(v.size for v in self.weights_.values()))
        trained = int(sum(v.size for k, v in self.weights_.items() if not k.endswith(_BUFFERS)))
        return {"total": total, "trained": trained}


def _doc(summary: str) -> str:
    """A subclass docstring: its own summary line, then the shared parameter list."""
    return summary + "\n\n" + RecurrentModel.__doc__.split("\n\n", 1)[1]


class Elman(RecurrentModel):
    __doc__ = _doc("Elman network (simple RNN): :math:`h_t = \\tanh(W_{ih} x_t + W_{hh} h_{t-1} + b)`.")
    _cell = "elman"


class Jordan(RecurrentModel):
    __doc__ = _doc("Jordan network: context units fed from the previous output (Jordan 1986).")
    _cell = "jordan"


class LSTM(RecurrentModel):
    __doc__ = _doc("Long short-term memory network (Hochreiter & Schmidhuber 1997; cuDNN on CUDA).")
    _cell = "lstm"


class GRU(RecurrentModel):
    __doc__ = _doc("Gated recurrent unit network (Cho et al. 2014; cuDNN on CUDA).")
    _cell = "gru"


# ---------------------------------------------------------------------- training data
def _epoch_budget(epochs, min_steps, default_epochs: int) -> dict:
    """``fit_module`` keywords for ``epochs`` (None: ``default_epochs`` and ``min_steps``)."""
    if epochs is None:
        return {"epochs": default_epochs, "min_steps": int(min_steps)}
    return {"epochs": int(epochs), "min_steps": 0}


def _holdout(arrays: tuple, fraction: float, rng, stratify=None):
    """Split sample-major arrays into (train, validation) with a fraction held out."""
    n = len(arrays[0])
    n_val = max(1, int(round(fraction * n)))
    if stratify is not None and np.bincount(stratify).min() >= 2:
        n_val = max(n_val, len(np.unique(stratify)))    # every class in the validation set
    if n - n_val < 1:
        raise ValueError(f"validation_fraction={fraction} leaves no training sample out of n_samples={n}; "
                         f"pass more sequences, validation_fraction=0 or early_stopping=False.")
    if stratify is not None and np.bincount(stratify).min() >= 2 and n_val >= len(np.unique(stratify)):
        from sklearn.model_selection import train_test_split

        tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=stratify,
                                  random_state=int(rng.integers(2**31)))
    else:
        perm = rng.permutation(n)
        va, tr = perm[:n_val], perm[n_val:]
    tr, va = np.sort(tr), np.sort(va)
    return tuple(a[tr] for a in arrays), tuple(a[va] for a in arrays)


def _windows(X, lengths, Y, window: int):
    """Cut sequences longer than ``window`` into overlapping training windows.

    Returns (X, lengths, Y, start): each sample's loss covers steps ``start <= t < length``.
    A window starts ``window - window // 5`` steps after the previous one, so its first
    ``window // 5`` warm-up steps overlap the previous window and every step is trained once.
    """
    B, T, _ = X.shape
    if T <= window:
        return X, lengths, Y, np.zeros(B, np.int64)
    warm = window // 5
    stride = window - warm
    xs, ls, ys, st = [], [], [], []
    for b in range(B):
        L = int(lengths[b])
        for s in range(0, max(L - warm, 1), stride):
            n = min(window, L - s)
            xw = np.zeros((window, X.shape[2]), X.dtype)
            yw = np.zeros((window, Y.shape[2]), Y.dtype)
            xw[:n], yw[:n] = X[b, s:s + n], Y[b, s:s + n]
            xs.append(xw)
            ys.append(yw)
            ls.append(n)
            st.append(0 if s == 0 else warm)
    return np.stack(xs), np.array(ls, np.int64), np.stack(ys), np.array(st, np.int64)


def _step_mask(out, lengths, start):
    import torch

    t = torch.arange(out.shape[1], device=out.device)[None, :]
    return ((t >= start.to(out.device)[:, None]) & (t < lengths.to(out.device)[:, None])).to(out.dtype)[..., None]


def _masked_mse(out, y, lengths, start):
    """Mean squared error over the steps ``start <= t < length`` of each sequence."""
    m = _step_mask(out, lengths, start)
    return (((out - y.to(out.device)) ** 2) * m).sum() / (m.sum() * out.shape[2])


def _make_validate(head: str, val, chunk: int):
    import torch

    def validate(module):
        n = len(val[0])
        if head == "classify":
            loss, correct = 0.0, 0
            for s in range(0, n, chunk):
                x, lengths, yy = (a[s:s + chunk] for a in val)
                logits = module(x, lengths)
                yy = yy.to(logits.device)
                loss += float(torch.nn.functional.cross_entropy(logits, yy, reduction="sum"))
                correct += int((logits.argmax(1) == yy).sum())
            return {"val_loss": loss / n, "val_accuracy": correct / n}
        # sums over all validation steps, so the result does not depend on the chunking
        se, count, s1, s2 = 0.0, 0.0, 0.0, 0.0
        for s in range(0, n, chunk):
            x, lengths, yy, start = (a[s:s + chunk] for a in val)
            out = module(x, lengths)
            m = _step_mask(out, lengths, start)
            yy = yy.to(out.device).to(torch.float64)
            se += float((((out.to(torch.float64) - yy) ** 2) * m).sum())
            count += float(m.sum())
            s1 = s1 + (yy * m).sum((0, 1))
            s2 = s2 + (yy * yy * m).sum((0, 1))
        k = val[2].shape[2]
        mse = se / (count * k)
        var = float((s2 / count - (s1 / count) ** 2).mean())
        return {"val_loss": mse, "val_nrmse": float(np.sqrt(mse / var)) if var > 0 else float("inf")}

    return validate


def _moments(data, lengths, normalize: bool):
    """Per-feature mean and standard deviation over the valid steps (identity if not normalize)."""
    F = data.shape[2]
    if not normalize:
        return np.zeros(F, data.dtype), np.ones(F, data.dtype)
    valid = data[np.arange(data.shape[1])[None, :] < lengths[:, None]].astype(np.float64)
    mean, std = valid.mean(0), valid.std(0)
    std[~(std > 1e-12)] = 1.0
    return mean.astype(data.dtype), std.astype(data.dtype)


def _apply(batch: SeqBatch, mean, scale):
    out = ((batch.data - mean) / scale).astype(batch.data.dtype)
    if not batch.uniform:
        out[~batch.mask()] = 0.0
    return out


def _digest_arrays(arrays) -> str:
    import hashlib

    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------- numpy inference
def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _np_cell(cell: str, gx_t, h, c, W_hh, b_hh):
    """One step of an Elman/LSTM/GRU cell given the input part ``gx_t = x_t W_ih^T + b_ih``."""
    gh = h @ W_hh.T + b_hh
    if cell == "elman":
        return np.tanh(gx_t + gh), c
    H = h.shape[1]
    if cell == "lstm":
        g = gx_t + gh
        i, f, gg, o = _sigmoid(g[:, :H]), _sigmoid(g[:, H:2 * H]), np.tanh(g[:, 2 * H:3 * H]), _sigmoid(g[:, 3 * H:])
        c = f * c + i * gg
        return o * np.tanh(c), c
    r = _sigmoid(gx_t[:, :H] + gh[:, :H])
    z = _sigmoid(gx_t[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gx_t[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1.0 - z) * n + z * h, c


def _reverse_index(lengths, T):
    t = np.arange(T)[None, :]
    L = lengths[:, None]
    return np.where(t < L, L - 1 - t, t)


def _np_scan(cell, x, lengths, w, suffix, h0=None, c0=None):
    """Run one layer direction over (B, T, F); outputs (B, T, H) and the state after each
    sequence's last valid step."""
    W_ih, b_ih = w[f"rnn.weight_ih_{suffix}"], w[f"rnn.bias_ih_{suffix}"]
    W_hh, b_hh = w[f"rnn.weight_hh_{suffix}"], w[f"rnn.bias_hh_{suffix}"]
    B, T, _ = x.shape
    H = W_hh.shape[1]
    gx = x @ W_ih.T + b_ih
    h = np.zeros((B, H), x.dtype) if h0 is None else h0
    c = np.zeros((B, H), x.dtype) if c0 is None else c0
    out = np.empty((B, T, H), x.dtype)
    h_last, c_last = h.copy(), c.copy()
    last = lengths - 1
    for t in range(T):
        h, c = _np_cell(cell, gx[:, t], h, c, W_hh, b_hh)
        out[:, t] = h
        done = last == t
        if done.any():
            h_last[done], c_last[done] = h[done], c[done]
    return out, h_last, c_last


def _np_rnn(cell, x, lengths, w, layers, bidirectional, state=None):
    """All layers; returns top-layer outputs and per-layer final states [(h, c), ...]."""
    B, T, _ = x.shape
    finals = []
    inp = x
    for layer in range(layers):
        h0, c0 = (None, None) if state is None else state[layer]
        out, h, c = _np_scan(cell, inp, lengths, w, f"l{layer}", h0, c0)
        finals.append((h, c))
        if bidirectional:
            rev = _reverse_index(lengths, T)
            bidx = np.arange(B)[:, None]
            out_r, hr, cr = _np_scan(cell, inp[bidx, rev], lengths, w, f"l{layer}_reverse")
            out = np.concatenate([out, out_r[bidx, rev]], -1)
            finals.append((hr, cr))
        inp = out
    return inp, finals


def _np_jordan(model, x, c=None, steps=None):
    w = model.weights_
    B, T, _ = x.shape
    n_hidden = sum(1 for k in w if k.startswith("jordan.") and k.endswith(".weight"))
    c = np.zeros((B, model.n_outputs_), x.dtype) if c is None else c
    outs = np.empty((B, T, model.n_outputs_), x.dtype)
    for t in range(T):
        z = np.concatenate([x[:, t], c], -1)
        for k in range(n_hidden):
            z = np.tanh(z @ w[f"jordan.{k}.weight"].T + w[f"jordan.{k}.bias"])
        o = z @ w["head.weight"].T + w["head.bias"]
        if model.task_ == "classification":
            e = np.exp(o - o.max(1, keepdims=True))
            y = e / e.sum(1, keepdims=True)
        else:
            y = o
        c = model.context_decay * c + y
        outs[:, t] = o
    return outs, c


def _np_forward(model, X, lengths):
    w = model.weights_
    B = X.shape[0]
    x = X.astype(np.dtype(model.dtype), copy=False)
    clf = model.task_ == "classification"
    if model._cell == "jordan":
        o, _ = _np_jordan(model, x)
        if not clf:
            return o
        if model.pooling == "last":
            return o[np.arange(B), lengths - 1]
        return _np_masked_mean(o, lengths)
    out, finals = _np_rnn(model._cell, x, lengths, w, model.layers, model.bidirectional)
    if not clf:
        return out @ w["head.weight"].T + w["head.bias"]
    if model.pooling == "last":
        feat = (np.concatenate([finals[-2][0], finals[-1][0]], -1) if model.bidirectional else finals[-1][0])
    else:
        feat = _np_masked_mean(out, lengths)
    if "bn.weight" in w:
        feat = ((feat - w["bn.running_mean"]) / np.sqrt(w["bn.running_var"] + 1e-5) * w["bn.weight"]
                + w["bn.bias"]).astype(feat.dtype)
    return feat @ w["head.weight"].T + w["head.bias"]


def _np_masked_mean(a, lengths):
    m = (np.arange(a.shape[1])[None, :] < lengths[:, None]).astype(a.dtype)
    return (a * m[..., None]).sum(1) / lengths[:, None].astype(a.dtype)


def _np_guard(model, guard, out, s):
    """Check the generated steps up to ``s`` (in the caller's scale) every few steps."""
    if guard is not None and guard.due(s + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            guard.check(out[:, guard.checked:s + 1] * model.y_scale_ + model.y_mean_, guard.checked)


def _np_generate(model, batch: SeqBatch, n_steps: int, a, b, guard=None) -> np.ndarray:
    w = model.weights_
    x = batch.data.astype(np.dtype(model.dtype), copy=False)
    B = x.shape[0]
    last = batch.lengths - 1
    out = np.empty((B, n_steps, model.n_outputs_), x.dtype)
    if model._cell == "jordan":
        # the context after the last valid warm-up step, per sequence
        o, c = np.empty((B, model.n_outputs_), x.dtype), np.empty((B, model.n_outputs_), x.dtype)
        for i in range(B):           # (not ``b``: that is the feedback offset)
            ob, cb = _np_jordan(model, x[i:i + 1, : last[i] + 1])
            o[i], c[i] = ob[0, -1], cb[0]
        y = o
        for s in range(n_steps):
            out[:, s] = y
            _np_guard(model, guard, out, s)
            if s + 1 < n_steps:
                o_next, c = _np_jordan(model, (y * a + b)[:, None], c)
                y = o_next[:, 0]
        return out
    top, state = _np_rnn(model._cell, x, batch.lengths, w, model.layers, False)
    y = top[np.arange(B), last] @ w["head.weight"].T + w["head.bias"]
    ones = np.ones(B, np.int64)
    for s in range(n_steps):
        out[:, s] = y
        _np_guard(model, guard, out, s)
        if s + 1 < n_steps:
            top, state = _np_rnn(model._cell, (y * a + b)[:, None], ones, w, model.layers, False, state=state)
            y = top[:, 0] @ w["head.weight"].T + w["head.bias"]
    return out


def _torch_generate(model, batch: SeqBatch, n_steps: int, a, b, guard=None) -> np.ndarray:
    torch = require("torch")
    net = model._net()
    dev = next(net.parameters()).device
    a, b = torch.as_tensor(a).to(dev), torch.as_tensor(b).to(dev)
    ys, ym = torch.as_tensor(model.y_scale_).to(dev), torch.as_tensor(model.y_mean_).to(dev)

    def check(s):
        if guard is not None and guard.due(s + 1):
            guard.check(torch.stack(outs[guard.checked:s + 1], 1) * ys + ym, guard.checked)

    x = torch.as_tensor(batch.data).to(dev)
    lengths = torch.as_tensor(batch.lengths)
    B = x.shape[0]
    outs = []
    with torch.no_grad():
        if model._cell == "jordan":
            ys, cs = [], []
            for i in range(B):       # (not ``b``: that is the feedback offset)
                o, c = net._jordan(x[i:i + 1, : int(lengths[i])])
                ys.append(o[:, -1])
                cs.append(c)
            y, c = torch.cat(ys), torch.cat(cs)
            for s in range(n_steps):
                outs.append(y)
                check(s)
                if s + 1 < n_steps:
                    y, c = net.jordan_step(y * a + b, c)
        else:
            top, h = net.run(x, lengths)
            y = net.head(top[torch.arange(B, device=dev), (lengths - 1).to(dev)])
            for s in range(n_steps):
                outs.append(y)
                check(s)
                if s + 1 < n_steps:
                    top, h = net.rnn((y * a + b)[:, None], h)
                    y = net.head(top[:, 0])
    return torch.stack(outs, 1).cpu().numpy()
