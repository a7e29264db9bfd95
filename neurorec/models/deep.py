r"""Deep echo state networks: a stack of reservoirs, each driven by the one below.

Gallicchio, Micheli & Pedrelli, "Deep reservoir computing: a critical experimental analysis",
Neurocomputing 268, 2017. Layer :math:`l = 1..L` is a leaky reservoir (the ESN's update, in
reservoirpy's convention) whose input is the state of layer :math:`l - 1` (layer 1's is the
input :math:`u`):

.. math::

    x^{(l)}[t] = (1 - a_l)\, x^{(l)}[t-1] + a_l \tanh\!\big(W^{(l)} x^{(l)}[t-1]
        + W_{\mathrm{in}}^{(l)} x^{(l-1)}[t] + b^{(l)}\big), \qquad x^{(0)} = u

with its own size, spectral radius :math:`\rho(W^{(l)})`, leak :math:`a_l` and input scaling
(for :math:`l > 1` the inter-layer scaling). The readout is a ridge regression on the
concatenated states of all layers (the paper's default) or of the top one. Each layer is a
:class:`~neurorec.models.ESN` reservoir (same draws, same backends), so a one-layer DeepESN is
an ESN.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import (
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    resolve_task,
)
from neurorec.backends import get_ops
from neurorec.base import Model, ScoresToProba, fitted_as_classifier
from neurorec.models.readout import RidgeAccumulator
from neurorec.models.reservoir import ESN

__all__ = ["DeepESN"]

_PER_LAYER = ("spectral_radius", "leak_rate", "input_scaling")


class DeepESN(ScoresToProba, Model):
    r"""Deep echo state network (a stack of leaky reservoirs) with a ridge readout.

    Parameters
    ----------
    units : int or sequence of int, default (100, 100, 100)
        Units per layer; an int with ``layers`` gives that many equal layers.
    layers : int or None, default None
        Number of layers when ``units`` is an int.
    spectral_radius, leak_rate, input_scaling : float or sequence of float
        One value for every layer or one per layer. ``input_scaling`` of layer 1 scales the
        input, of the others the state of the layer below. Defaults 0.9, 1.0, 1.0 (the ESN's).
    connectivity : float, default 0.1
        Density of each recurrent matrix.
    bias_scaling : float, default 0.0
    readout_layers : {"all", "top"}, default "all"
        The readout sees the states of every layer (concatenated) or of the top one.
    input_to_readout : bool, default True
        Also feed the input itself to the readout (as :class:`~neurorec.models.ESN` does).
    ridge : float, default 1e-6
    washout : int, default 0
        Leading steps of every sequence left out of the readout's training (and of ``score``).
    classify : {"mean", "last"}, default "mean"
        Classification: the readout is trained on each sequence's mean (after ``washout``) or
        last state.
    task : {"auto", "classification", "regression"}
        As for :class:`~neurorec.models.ESN`.
    backend, device, dtype
        As for every neurorec model.
    seed : int or None
        Seeds the layers' draws (layer :math:`l` from a child seed of ``seed``).

    Attributes
    ----------
    reservoirs_ : dict of ndarray
        Layer ``i``'s recurrent, input and bias weights as ``W{i}``, ``W_in{i}``, ``bias{i}``;
        ``layers_`` gives them as :class:`~neurorec.models.ESN` reservoirs.
    W_out_, b_out_ : ndarray
    classes_ : ndarray (classification)
    n_features_in_, n_outputs_ : int
    task_ : {"regression", "classification"}
    """

    _param_spec = {
        "units": P.Any(), "layers": P.NoneOK() | P.Int(1),
        "spectral_radius": P.Any(), "leak_rate": P.Any(), "input_scaling": P.Any(),
        "connectivity": P.Real(0, 1, closed="right"), "bias_scaling": P.Real(0),
        "readout_layers": P.Options("all", "top"), "input_to_readout": P.Bool(), "ridge": P.Real(0),
        "washout": P.Int(0),
        "classify": P.Options("mean", "last"), "task": P.Options("auto", "classification", "regression"),
        "backend": P.Options("numpy", "torch"), "device": P.Str(), "dtype": P.Options("float32", "float64"),
        "seed": P.Seed(),
    }
    _search_space = {"spectral_radius": {"low": 0.1, "high": 1.5}, "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
                     "input_scaling": {"low": 0.01, "high": 5.0, "log": True},
                     "ridge": {"low": 1e-9, "high": 1e-1, "log": True}}

    def __init__(self, units=(100, 100, 100), layers: int | None = None, spectral_radius=0.9, leak_rate=1.0,
                 input_scaling=1.0, connectivity: float = 0.1, bias_scaling: float = 0.0,
                 readout_layers: str = "all", input_to_readout: bool = True, ridge: float = 1e-6, washout: int = 0,
                 classify: str = "mean",
                 task: str = "auto", backend: str = "numpy", device: str = "cpu", dtype: str = "float32",
                 seed: int | None = None):
        self.units = units
        self.layers = layers
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.connectivity = connectivity
        self.bias_scaling = bias_scaling
        self.readout_layers = readout_layers
        self.input_to_readout = input_to_readout
        self.ridge = ridge
        self.washout = washout
        self.classify = classify
        self.task = task
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    @property
    def _supported_kinds(self) -> frozenset:
        return frozenset({"forecast", "classify"})

    _trained_arrays = ("W_out_", "b_out_")

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_out_")

    # ------------------------------------------------------------------ configuration
    def _sizes(self) -> list[int]:
        u = self.units
        if isinstance(u, (int, np.integer)) and not isinstance(u, bool):
            sizes = [int(u)] * (1 if self.layers is None else int(self.layers))
        else:
            try:
                sizes = list(u)
            except TypeError:
                raise ValueError(f"units must be an int or a sequence of ints, got {u!r}.") from None
            if self.layers is not None and self.layers != len(sizes):
                raise ValueError(f"layers={self.layers} but units lists {len(sizes)} layers.")
        if not sizes or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                for v in sizes):
            raise ValueError(f"units must be positive integers (one per layer), got {u!r}.")
        return [int(v) for v in sizes]

    def _per_layer(self, name: str, n: int) -> list[float]:
        v = getattr(self, name)
        vals = [v] * n if np.isscalar(v) else list(v)
        if len(vals) != n:
            raise ValueError(f"{name} gives {len(vals)} values for {n} layers.")
        try:
            vals = [float(x) for x in vals]
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number or one number per layer, got {v!r}.") from None
        if name == "leak_rate" and not all(0 < x <= 1 for x in vals):
            raise ValueError(f"leak_rate must be in (0, 1] for every layer, got {v!r}.")
        if name != "leak_rate" and not all(np.isfinite(x) and x >= 0 for x in vals):
            raise ValueError(f"{name} must be finite and >= 0 for every layer, got {v!r}.")
        return vals

    def _validate_params(self) -> None:
        super()._validate_params()
        n = len(self._sizes())
        for name in _PER_LAYER:
            self._per_layer(name, n)

    def _layer_models(self) -> list[ESN]:
        """Unfitted ESN reservoirs for the layers, each with its child seed."""
        sizes = self._sizes()
        per = {k: self._per_layer(k, len(sizes)) for k in _PER_LAYER}
        seeds = np.random.SeedSequence(self.seed).spawn(len(sizes)) if self.seed is not None else [None] * len(sizes)
        out = []
        for i, u in enumerate(sizes):
            s = None if seeds[i] is None else int(seeds[i].generate_state(1)[0] % (2**31))
            out.append(ESN(units=u, spectral_radius=per["spectral_radius"][i], leak_rate=per["leak_rate"][i],
                           input_scaling=per["input_scaling"][i], connectivity=self.connectivity,
                           bias_scaling=self.bias_scaling, backend=self.backend, device=self.device,
                           dtype=self.dtype, seed=s))
        return out

    @property
    def layers_(self) -> list[ESN]:
        """The fitted layers as :class:`~neurorec.models.ESN` reservoirs, bottom first (rebuilt from
        ``reservoirs_``, the saved weights)."""
        if not hasattr(self, "reservoirs_"):
            self._check_fitted("layers_")
        cache = self.__dict__.setdefault("_cache", {})
        key = repr(sorted(self.get_params(deep=False).items()))      # set_params after fit is honoured
        if cache.get("src") is not self.reservoirs_ or cache.get("key") != key:
            n = sum(k.startswith("W_in") for k in self.reservoirs_)
            if len(self._sizes()) != n:
                raise ValueError(f"this DeepESN was fitted with {n} layers but units={self.units!r} now gives "
                                 f"{len(self._sizes())}; fit it again.")
            esns = self._layer_models()
            for i, esn in enumerate(esns):
                r = self.reservoirs_
                esn.set_reservoir(r[f"W{i}"], r[f"W_in{i}"], r[f"bias{i}"])
            cache.update(src=self.reservoirs_, layers=esns, key=key)
        return cache["layers"]

    # ------------------------------------------------------------------ states
    def _states(self, batch_data: np.ndarray) -> list[np.ndarray]:
        """Each layer's states for a padded batch (B, T, F): list of (B, T, units_l)."""
        out, x = [], batch_data
        for esn in self.layers_:
            x = np.asarray(esn.transform(x), dtype=np.dtype(self.dtype))
            if x.ndim == 2:
                x = x[None]
            out.append(x)
        return out

    def _readout_states(self, batch_data: np.ndarray) -> np.ndarray:
        states = self._states(batch_data)
        parts = states[-1:] if self.readout_layers == "top" else states
        if self.input_to_readout:
            parts = [*parts, batch_data.astype(parts[0].dtype, copy=False)]
        return np.concatenate(parts, -1)

    def transform(self, X):
        """States of all layers, concatenated bottom first: (batch, time, sum of units)."""
        self._check_fitted("transform")
        batch = check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        return batch.unpad(np.concatenate(self._states(batch.data), -1))

    def layer_states(self, X) -> list:
        """Each layer's states, bottom first (a list of arrays shaped like ``transform``'s)."""
        self._check_fitted("layer_states")
        batch = check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        return [batch.unpad(s) for s in self._states(batch.data)]

    def _pooled(self, S: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        B = S.shape[0]
        if self.classify == "last":
            return S[np.arange(B), lengths - 1]
        start = np.where(lengths > self.washout, self.washout, 0)
        t = np.arange(S.shape[1])[None, :]
        m = ((t >= start[:, None]) & (t < lengths[:, None])).astype(S.dtype)
        return (S * m[..., None]).sum(1) / (lengths - start)[:, None]

    # ------------------------------------------------------------------ fit / predict
    def fit(self, X, y) -> DeepESN:
        """Draw the layers and train the readout on sequences ``X`` and labels (batch,) or
        per-step targets (batch, time, outputs)."""
        self._validate_params()
        task = resolve_task(self.task, X, y, model="DeepESN")
        dt = np.dtype(self.dtype)
        batch = check_sequences(X, "X", dtype=dt)
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        self.__dict__.pop("_cache", None)
        F = batch.data.shape[2]
        reservoirs, n_in = {}, F
        esns = self._layer_models()
        for i, esn in enumerate(esns):
            esn._init_reservoir(n_in, 0)
            esn.set_reservoir(esn.W_, esn.W_in_, esn.bias_)      # as layers_ rebuilds them after load
            reservoirs.update({f"W{i}": esn.W_, f"W_in{i}": esn.W_in_, f"bias{i}": esn.bias_})
            n_in = esn.units
        self.reservoirs_ = reservoirs
        # the layers just drawn are layers_'s cache: not drawn a second time for the states
        self.__dict__["_cache"] = {"src": reservoirs, "layers": esns,
                                   "key": repr(sorted(self.get_params(deep=False).items()))}
        self.n_features_in_ = int(F)
        ops = get_ops(self.backend, self.device, self.dtype)
        S = self._readout_states(batch.data)
        if task == "classification":
            classes, idx = encode_labels(y, batch.batch, "y")
            Z = self._pooled(S, batch.lengths)
            Y = np.eye(len(classes), dtype=dt)[idx]
            self.classes_ = classes
        else:
            Yt = check_sequence_targets(y, batch, "y", dtype=dt)
            m = batch.mask()
            m[:, : self.washout] = False
            if not m.any():
                raise ValueError(f"washout={self.washout} leaves no step to train on: the longest sequence "
                                 f"in X has {int(batch.lengths.max())} steps.")
            Z, Y = S[m], Yt[m]
            self.target_1d_ = bool(batch.single and is_1d_target(y))
        acc = RidgeAccumulator(ops, Z.shape[1], Y.shape[1])
        acc.add(ops.asarray(Z), ops.asarray(Y))
        W, b = acc.solve(self.ridge)
        self.W_out_, self.b_out_ = W.astype(dt), b.astype(dt)
        self.n_outputs_ = int(W.shape[1])
        self.task_ = task
        if task == "classification":
            self._fit_temperature_loo(Z, idx, self.ridge)
        return self

    def _scores(self, X, method: str):
        self._check_fitted(method)
        batch = check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        S = self._readout_states(batch.data)
        if self.task_ == "classification":
            return batch, self._pooled(S, batch.lengths).astype(np.float64) @ self.W_out_ + self.b_out_
        return batch, S @ self.W_out_ + self.b_out_

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier."""
        batch, out = self._scores(X, "predict")
        if self.task_ == "classification":
            return self.classes_[out.argmax(1)]
        out = batch.unpad(out.astype(np.dtype(self.dtype)))
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop forecast of ``n_steps`` steps after ``warmup``, as :meth:`ESN.generate`: the
        stack is driven by the warm-up, its last output (the forecast of the next input) becomes
        the next input of layer 1, and so on. Needs a one-step forecaster (outputs == features).

        Returns
        -------
        ndarray (batch, n_steps, outputs), or (n_steps, outputs) for one warm-up sequence.
        """
        from neurorec.models._generate import start_generate
        from neurorec.models.reservoir import _step

        batch, n_steps, guard = start_generate(self, warmup, n_steps, on_divergence)
        layers = self.layers_
        ops = layers[0]._ops()
        steps = [esn._step_weights(feedback=False) for esn in layers]
        hs = [ops.asarray(np.ascontiguousarray(S[:, -1])) for S in self._states(batch.data)]
        W, b = ops.asarray(self.W_out_), ops.asarray(self.b_out_)
        xp = ops.xp
        cat = np.concatenate if xp is np else xp.cat

        def readout(u):
            parts = hs[-1:] if self.readout_layers == "top" else hs
            return cat([*parts, u] if self.input_to_readout else list(parts), 1) @ W + b

        y = readout(ops.asarray(np.ascontiguousarray(batch.data[:, -1])))
        out = np.empty((batch.batch, n_steps, self.n_outputs_), dtype=np.dtype(self.dtype))
        for t in range(n_steps):
            out[:, t] = ops.to_numpy(y)
            if guard.due(t + 1):
                guard.check(out[:, guard.checked:t + 1], guard.checked)
            if t == n_steps - 1:
                break
            x = y
            for esn, h, (WT, WinT, bias, _, W_dense) in zip(layers, hs, steps, strict=True):
                _step(ops, h, x @ WinT + bias, WT, float(esn.leak_rate), esn.activation, W_dense)
                x = h
            y = readout(y)
        guard.check(out[:, guard.checked:], guard.checked)
        return out[0] if batch.single else out

    @available_if(fitted_as_classifier)
    def decision_function(self, X) -> np.ndarray:
        """Ridge class scores (classifiers): (batch, n_classes), or (batch,) for two classes."""
        return self._binary_decision(self._scores(X, "decision_function")[1])

    @available_if(fitted_as_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Softmax of the ridge scores at the temperature fitted on the training sequences' leave-one-out scores
        (``proba_temperature_``, :class:`neurorec.base.ScoresToProba`)."""
        return self._softmax(self._scores(X, "predict_proba")[1], self.proba_temperature_)
