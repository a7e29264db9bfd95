r"""Linear autoregressive baseline: ridge regression on a window of delayed inputs.

The baseline every reservoir result should be read against: if a model cannot beat a
linear map of the last few inputs, its recurrent state is not doing much.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import (
    SeqBatch,
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    is_table,
    resolve_task,
    tabular_as_sequences,
)
from neurorec.backends import get_ops
from neurorec.base import Model, ScoresToProba, fitted_as_classifier
from neurorec.models._generate import start_generate
from neurorec.models.readout import RidgeAccumulator

__all__ = ["LinearAR"]


def delay_embed(batch: SeqBatch, delays: int) -> np.ndarray:
    """``(B, T, F * delays)``: at step t, ``[u[t], u[t-1], ..., u[t-delays+1]]`` (zeros before
    the start of the sequence)."""
    B, T, F = batch.data.shape
    out = np.zeros((B, T, F * delays), dtype=batch.data.dtype)
    for k in range(delays):
        out[:, k:, k * F:(k + 1) * F] = batch.data[:, : T - k]
    return out


class LinearAR(ScoresToProba, Model):
    r"""Ridge regression on delayed inputs (a linear autoregressive / NARX-free baseline).

    Sequence regression:

    .. math::

        y[t] = b + \sum_{k=0}^{d-1} A_k\, u[t-k]

    Classification: a ridge classifier on the mean input over the sequence concatenated with
    the last ``delays`` inputs (most recent first, zero-padded for shorter sequences); the
    predicted class is the arg-max of the one-hot regression.

    Parameters
    ----------
    delays : int
        Window length :math:`d`.
    ridge : float
        L2 penalty (intercept not penalised).
    washout : int
        Leading steps of each sequence left out of training (regression).
    backend, device, dtype
        As for every neurorec model; the closed-form sums run on the chosen backend.
    task : {"auto", "classification", "regression"}
        As for :class:`neurorec.models.ESN`: ``"classification"`` reads one label per sequence
        (any sortable labels) and a 2-D ``X`` as a table of samples (each row a one-step
        sequence); ``"regression"`` per-step targets, a 2-D ``X`` being one sequence; ``"auto"``
        infers it from ``y`` and refuses the ambiguous 2-D ``X`` with integer or string ``y``.
        ``score`` of a regressor leaves out the first ``washout`` steps of every sequence.

    Attributes
    ----------
    W_out_, b_out_ : ndarray
    classes_ : ndarray (classification)
    proba_temperature_ : float
        Temperature of ``predict_proba``'s softmax over the ridge scores (classification;
        :class:`neurorec.base.ScoresToProba`).
    n_features_in_, n_outputs_ : int
    task_ : {"regression", "classification"}
    target_1d_ : bool
        The regression target was 1-D: ``predict`` returns 1-D too.
    """

    _supported_kinds = frozenset({"forecast", "classify"})
    _param_spec = {"delays": P.Int(1), "ridge": P.Real(0), "washout": P.Int(0), "backend": P.Options("numpy", "torch"),
                   "device": P.Str(), "dtype": P.Options("float32", "float64"),
                   "task": P.Options("auto", "classification", "regression")}

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {"delays": {"low": 1, "high": 50, "type": "int", "log": True},
                     "ridge": {"low": 1e-9, "high": 1.0, "log": True}}

    def __init__(self, delays: int = 10, ridge: float = 1e-6, washout: int = 0,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float32", task: str = "auto"):
        self.delays = delays
        self.ridge = ridge
        self.washout = washout
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.task = task

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_out_")

    def _features(self, batch: SeqBatch) -> np.ndarray:
        if self.task_ == "classification":
            B, _, F = batch.data.shape
            mean = batch.data.sum(1) / batch.lengths[:, None]
            last = np.zeros((B, self.delays, F), dtype=batch.data.dtype)
            for i in range(B):
                L = batch.lengths[i]
                k = min(L, self.delays)
                last[i, :k] = batch.data[i, L - k:L][::-1]
            return np.concatenate([mean, last.reshape(B, -1)], 1)
        return delay_embed(batch, self.delays)

    def fit(self, X, y) -> LinearAR:
        """Fit on sequences ``X`` and labels (batch,) or per-step targets (batch, time, out)."""
        self._validate_params()
        ops = get_ops(self.backend, self.device, self.dtype)
        task = resolve_task(self.task, X, y, model="LinearAR")
        tabular = task == "classification" and is_table(X)
        if task == "classification":
            X = tabular_as_sequences(X)
        batch = check_sequences(X, "X", dtype=np.dtype(self.dtype), layout_warning=not tabular)
        for k in ("classes_", "proba_temperature_", "target_1d_"):
            self.__dict__.pop(k, None)
        self.n_features_in_ = batch.data.shape[2]
        if task == "classification":
            self.classes_, idx = encode_labels(y, batch.batch, "y")
            self.task_ = "classification"
            Z = self._features(batch)
            Y = np.eye(len(self.classes_), dtype=Z.dtype)[idx]
        else:
            Yt = check_sequence_targets(y, batch, "y", dtype=np.dtype(self.dtype))
            self.task_ = "regression"
            self.target_1d_ = bool(batch.single and is_1d_target(y))
            m = batch.mask()
            m[:, : self.washout] = False
            if not m.any():
                raise ValueError(f"washout={self.washout} leaves no step to train on.")
            Z, Y = self._features(batch)[m], Yt[m]
        acc = RidgeAccumulator(ops, Z.shape[1], Y.shape[1])
        acc.add(ops.asarray(Z), ops.asarray(Y))
        W, b = acc.solve(self.ridge)
        dt = np.dtype(self.dtype)
        self.W_out_, self.b_out_ = W.astype(dt), b.astype(dt)
        self.n_outputs_ = W.shape[1]
        if self.task_ == "classification":
            self._fit_temperature_loo(ops.to_numpy(ops.asarray(Z)), idx, self.ridge)
        return self

    def _scores(self, X, method):
        self._check_fitted(method)
        if self.task_ == "classification":
            X = tabular_as_sequences(X)
        batch = check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        ops = get_ops(self.backend, self.device, self.dtype)
        Z = ops.asarray(self._features(batch))
        out = ops.to_numpy(Z @ ops.asarray(self.W_out_) + ops.asarray(self.b_out_))
        return batch, out

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier."""
        batch, out = self._scores(X, "predict")
        if self.task_ == "classification":
            return self.classes_[out.argmax(1)]
        out = batch.unpad(out)
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out

    def _class_scores(self, X, method):
        self._check_fitted(method)
        if self.task_ != "classification":
            raise ValueError(f"{method} is for classifiers; this LinearAR was fitted for regression.")
        return self._scores(X, method)[1].astype(np.float64)

    @available_if(fitted_as_classifier)
    def decision_function(self, X) -> np.ndarray:
        """Ridge class scores: (batch, n_classes), or (batch,) for two classes (positive means
        ``classes_[1]``)."""
        return self._binary_decision(self._class_scores(X, "decision_function"))

    @available_if(fitted_as_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax of the ridge scores at the temperature fitted on the
        training sequences' leave-one-out scores (``proba_temperature_``); ``argmax`` equals
        ``predict``. Not a probabilistic model: check calibration on held-out data."""
        return self._softmax(self._class_scores(X, "predict_proba"), self.proba_temperature_)

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop forecast of ``n_steps`` steps after ``warmup`` (see :meth:`ESN.generate`):
        the output at the last warm-up step is the forecast of the next input; it enters the delay
        window as the newest input, and so on. Needs a one-step forecaster (outputs == features).

        ``n_steps`` and ``on_divergence`` as for :meth:`ESN.generate`: lengths whose output exceeds
        2**31 values are refused up front; a trajectory that turns non-finite or exceeds 1e6 x the
        warm-up's largest magnitude raises a ``FloatingPointError`` naming the step (``"raise"``,
        default) or warns (``"warn"``).

        Returns
        -------
        ndarray (batch, n_steps, outputs), or (n_steps, outputs) for one warm-up sequence.
        """
        batch, n_steps, guard = start_generate(self, warmup, n_steps, on_divergence)
        ops = get_ops(self.backend, self.device, self.dtype)
        W, b = ops.asarray(self.W_out_), ops.asarray(self.b_out_)
        B, T, F = batch.data.shape
        # the delay window at the last warm-up step, newest first (zeros before the start), as in predict
        window = delay_embed(batch, self.delays)[:, -1]
        out = np.empty((B, n_steps, F), dtype=np.dtype(self.dtype))
        for t in range(n_steps):
            y = ops.to_numpy(ops.asarray(window) @ W + b)
            out[:, t] = y
            if guard.due(t + 1):
                guard.check(out[:, guard.checked:t + 1], guard.checked)
            window = np.concatenate([y.astype(window.dtype), window[:, : -F]], 1) if self.delays > 1 else y
        guard.check(out[:, guard.checked:], guard.checked)
        return out[0] if batch.single else out
