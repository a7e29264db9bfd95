r"""Next-generation reservoir computing: a nonlinear vector autoregression (NVAR) with a ridge readout.

Gauthier, Bollt, Griffith & Barbosa, "Next generation reservoir computing", Nature
Communications 12, 5564 (2021). The reservoir is replaced by a fixed feature vector built from
the last :math:`k` inputs, taken every :math:`s` steps, and their monomials:

.. math::

    \mathbb{O}_{\mathrm{lin}}[t] &= \big(u[t],\; u[t-s],\; \dots,\; u[t-(k-1)s]\big)
        \in \mathbb{R}^{kF} \\
    \mathbb{O}_{\mathrm{nonlin}}[t] &= \big(\textstyle\prod_{j \in J} \mathbb{O}_{\mathrm{lin},j}[t]
        \big)_{J}, \quad J \text{ over the multisets of } p \text{ indices of } \{1..kF\} \\
    \mathbb{O}_{\mathrm{total}}[t] &= c \oplus \mathbb{O}_{\mathrm{lin}}[t] \oplus
        \mathbb{O}_{\mathrm{nonlin}}[t]

(the unique monomials of degree :math:`p`, without duplicates:
:math:`\binom{kF + p - 1}{p}` of them, in ``itertools.combinations_with_replacement`` order;
inputs before the start of a sequence are zeros). The readout is ridge regression
:math:`y[t] = W \mathbb{O}_{\mathrm{total}}[t]`, the constant :math:`c` being the unpenalised
intercept. For a one-step forecaster (as many outputs as inputs) the paper's variant is the
default: the readout learns the *difference* :math:`y[t] - u[t]` and predicts
:math:`u[t] + W \mathbb{O}_{\mathrm{total}}[t]` (an Euler-like integrator step). As
:math:`u[t]` is one of the linear features, this is the same family of models; only what the
ridge penalty shrinks differs.

The feature vector, its order and the zeros before the start are those of reservoirpy's
``NVAR`` node, so ``NVAR.transform`` equals ``reservoirpy.nodes.NVAR(delay, order, strides)``
run over each sequence (tests/test_nvar.py checks it to round-off).
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np

from neurorec import _params as P
from neurorec._validation import SeqBatch, check_sequence_targets, check_sequences, is_1d_target
from neurorec.backends import get_ops
from neurorec.base import Model
from neurorec.models._generate import DivergenceGuard, check_n_steps, check_on_divergence, divergence_threshold
from neurorec.models.readout import RidgeAccumulator

__all__ = ["NVAR", "nvar_features"]


def _monomial_index(n_linear: int, order: int) -> np.ndarray:
    """``(n_monomials, order)``: the linear-feature indices multiplied in each monomial."""
    if order == 0:
        return np.zeros((0, 0), dtype=np.int64)
    return np.array(list(itertools.combinations_with_replacement(range(n_linear), order)), dtype=np.int64)


def nvar_features(data, delay: int, strides: int, order: int, xp=np):
    r"""The NVAR feature vector :math:`\mathbb{O}_{\mathrm{lin}} \oplus \mathbb{O}_{\mathrm{nonlin}}`
    of every step of a padded batch.

    Parameters
    ----------
    data : array (batch, time, features), numpy or torch
    delay, strides, order : int
        :math:`k`, :math:`s`, :math:`p` (``order=0``: linear features only).
    xp : module
        ``numpy`` or ``torch``, the array library of ``data``.

    Returns
    -------
    array (batch, time, k F + C(k F + p - 1, p))
        Linear features ``[u[t], u[t-s], ..., u[t-(k-1)s]]`` (newest first, zeros before the
        start), then the monomials.
    """
    B, T, F = data.shape
    if xp is np:
        lin = np.zeros((B, T, delay * F), dtype=data.dtype)
    else:
        lin = xp.zeros((B, T, delay * F), dtype=data.dtype, device=data.device)
    for j in range(delay):
        lag = j * strides
        if lag < T:
            lin[:, lag:, j * F:(j + 1) * F] = data[:, : T - lag]
    if order == 0:
        return lin
    idx = _monomial_index(delay * F, order)
    if xp is not np:
        idx = xp.as_tensor(idx, device=data.device)
    return xp.concatenate([lin, lin[..., idx].prod(-1)], -1)


class NVAR(Model):
    r"""Next-generation reservoir computer (nonlinear vector autoregression + ridge readout).

    See the module docstring for the feature vector. ``fit(X, y)`` takes sequences ``X``
    (batch, time, features) and per-step targets ``y`` (batch, time, outputs): for a one-step
    forecast, ``y[:, t] = X[:, t + 1]``. ``predict`` gives the per-step outputs, ``transform``
    the features, ``generate`` a closed-loop forecast.

    Parameters
    ----------
    delay : int, default 2
        :math:`k`, the number of delayed inputs in the linear part (the current one included).
    strides : int, default 1
        :math:`s`, the steps between two delayed inputs; the window spans
        :math:`(k-1)s + 1` steps.
    order : int, default 2
        :math:`p`, the degree of the monomials (2: the paper's quadratic terms; 0: a linear
        autoregression).
    ridge : float, default 2.5e-6
        L2 penalty of the readout (the paper's Lorenz-63 value); the intercept is not penalised.
    difference : {"auto", True, False}, default "auto"
        Learn :math:`y[t] - u[t]` and add :math:`u[t]` back (the paper's forecasting of the
        increment). ``"auto"``: when the model has as many outputs as inputs. ``True`` with a
        different number of outputs is refused.
    washout : int or None, default None
        Leading steps of every sequence left out of training (and of ``score``). None:
        :math:`(k-1)s`, the steps whose window still reaches before the start (the paper's
        warm-up is longer: pass it).
    backend : {"numpy", "torch"}
        Where the features and the readout's sums are computed (torch: on ``device``).
    device : str
    dtype : {"float32", "float64"}

    Attributes
    ----------
    W_out_ : ndarray (n_features_out_, n_outputs_)
    b_out_ : ndarray (n_outputs_,)
    n_features_in_, n_outputs_, n_features_out_ : int
        Inputs, outputs, and the length of the feature vector (linear + nonlinear).
    difference_ : bool
        Whether the readout learned the increment.
    task_ : "regression"
    target_1d_ : bool

    Examples
    --------
    >>> import numpy as np
    >>> from neurorec.models import NVAR
    >>> t = np.arange(0, 60, 0.1, dtype=np.float32)
    >>> u = np.stack([np.sin(t), np.cos(t)], 1)
    >>> m = NVAR(delay=2, order=2).fit(u[:-1], u[1:])
    >>> m.n_features_out_, m.n_parameters_["trained"]          # 4 linear + 10 quadratic
    (14, 30)
    >>> float(np.abs(m.generate(50, u[:300]) - u[300:350]).max()) < 1e-2
    True
    """

    _supported_kinds = frozenset({"forecast"})
    _param_spec = {
        "delay": P.Int(1), "strides": P.Int(1), "order": P.Int(0), "ridge": P.Real(0),
        "difference": P.Options("auto") | P.Bool(), "washout": P.NoneOK() | P.Int(0),
        "backend": P.Options("numpy", "torch"), "device": P.Str(), "dtype": P.Options("float32", "float64"),
    }
    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {"delay": {"low": 1, "high": 10, "type": "int"},
                     "strides": {"low": 1, "high": 10, "type": "int"},
                     "ridge": {"low": 1e-10, "high": 1e-1, "log": True}}

    def __init__(self, delay: int = 2, strides: int = 1, order: int = 2, ridge: float = 2.5e-6,
                 difference="auto", washout: int | None = None, backend: str = "numpy", device: str = "cpu",
                 dtype: str = "float32"):
        self.delay = delay
        self.strides = strides
        self.order = order
        self.ridge = ridge
        self.difference = difference
        self.washout = washout
        self.backend = backend
        self.device = device
        self.dtype = dtype

    def _estimator_kind(self) -> str:
        return "regressor"

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_out_")

    def _washout(self) -> int:
        return (self.delay - 1) * self.strides if self.washout is None else int(self.washout)

    def _score_skip(self) -> int:
        return self._washout()

    def n_features_out(self, n_inputs: int) -> int:
        """Length of the feature vector for ``n_inputs`` input features."""
        d = self.delay * n_inputs
        return d + (comb(d + self.order - 1, self.order) if self.order > 0 else 0)

    def _features(self, ops, data: np.ndarray):
        return nvar_features(ops.asarray(data), self.delay, self.strides, self.order, xp=ops.xp)

    def _feature_blocks(self, ops, data: np.ndarray, n_out: int, budget: int = 2**25):
        """Yield ``(b0, b1, t0, t1, Z)``: the features of sequences ``b0:b1``, steps ``t0:t1``,
        in blocks of about ``budget`` values, so that neither a large batch nor one long series
        holds all its features at once. A block starting at ``t0 > 0`` is computed from the
        :math:`(k-1)s` steps before it as well, so it equals the same rows of the whole."""
        B, T, _ = data.shape
        span = (self.delay - 1) * self.strides
        rows = max(1, budget // max(1, n_out))                       # (sequence, step) rows per block
        n_b = max(1, min(B, rows // max(1, T)))
        n_t = T if n_b > 1 or T <= rows else max(rows, span + 1)
        for b0 in range(0, B, n_b):
            for t0 in range(0, T, n_t):
                t1 = min(T, t0 + n_t)
                lo = max(0, t0 - span)
                Z = self._features(ops, data[b0:b0 + n_b, lo:t1])
                yield b0, min(B, b0 + n_b), t0, t1, Z[:, t0 - lo:]

    def fit(self, X, y) -> NVAR:
        """Fit the readout on sequences ``X`` and per-step targets ``y`` (batch, time, outputs)."""
        self._validate_params()
        dt = np.dtype(self.dtype)
        batch = check_sequences(X, "X", dtype=dt)
        Yt = check_sequence_targets(y, batch, "y", dtype=dt)
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        F, O = batch.data.shape[2], Yt.shape[2]
        diff = O == F if isinstance(self.difference, str) else bool(self.difference)
        if diff and O != F:
            raise ValueError(f"difference=True needs as many outputs as inputs (a one-step forecaster); "
                             f"X has {F} features and y {O} outputs.")
        m = batch.mask()
        m[:, : self._washout()] = False
        if not m.any():
            raise ValueError(f"washout={self._washout()} leaves no step to train on: the longest sequence "
                             f"in X has {int(batch.lengths.max())} steps.")
        n_out = self.n_features_out(F)
        if n_out > 20_000:
            raise ValueError(f"NVAR(delay={self.delay}, order={self.order}) on {F} input features makes {n_out} "
                             f"features; the readout's {n_out}x{n_out} system is too large. Lower delay or order.")
        ops = get_ops(self.backend, self.device, self.dtype)
        acc = RidgeAccumulator(ops, n_out, O)
        target = Yt - batch.data if diff else Yt
        mask = ops.asarray(m, dtype=ops.xp.bool) if ops.is_torch else m
        for b0, b1, t0, t1, Z in self._feature_blocks(ops, batch.data, n_out):
            keep = mask[b0:b1, t0:t1]
            acc.add(Z[keep], ops.asarray(target[b0:b1, t0:t1])[keep])
        W, b = acc.solve(self.ridge)
        self.W_out_, self.b_out_ = W.astype(dt), b.astype(dt)
        self.n_features_in_, self.n_outputs_, self.n_features_out_ = int(F), int(O), int(n_out)
        self.difference_ = bool(diff)
        self.task_ = "regression"
        self.target_1d_ = bool(batch.single and is_1d_target(y))
        return self

    def _check_input(self, X, method: str) -> SeqBatch:
        self._check_fitted(method)
        return check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))

    def transform(self, X):
        """The feature vectors :math:`\\mathbb{O}_{\\mathrm{lin}} \\oplus \\mathbb{O}_{\\mathrm{nonlin}}`,
        (batch, time, n_features_out_) (one sequence: (time, n_features_out_))."""
        batch = self._check_input(X, "transform")
        ops = get_ops(self.backend, self.device, self.dtype)
        B, T, _ = batch.data.shape
        out = np.empty((B, T, self.n_features_out_), dtype=np.dtype(self.dtype))
        for b0, b1, t0, t1, Z in self._feature_blocks(ops, batch.data, self.n_features_out_):
            out[b0:b1, t0:t1] = ops.to_numpy(Z)
        return batch.unpad(out)

    def predict(self, X):
        """Per-step outputs (batch, time, outputs) (one sequence: (time, outputs))."""
        batch = self._check_input(X, "predict")
        ops = get_ops(self.backend, self.device, self.dtype)
        W, b = ops.asarray(self.W_out_), ops.asarray(self.b_out_)
        B, T, _ = batch.data.shape
        out = np.empty((B, T, self.n_outputs_), dtype=np.dtype(self.dtype))
        for b0, b1, t0, t1, Z in self._feature_blocks(ops, batch.data, self.n_features_out_):
            out[b0:b1, t0:t1] = ops.to_numpy(Z @ W + b)
        if self.difference_:
            out += batch.data
        out = batch.unpad(out)
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop forecast of ``n_steps`` steps after ``warmup`` (batch, time, features): the
        output at the warm-up's last step is the next input, and so on (for a one-step
        forecaster, outputs == features). The warm-up needs at least :math:`(k-1)s + 1` steps
        to fill the window. ``n_steps`` and ``on_divergence`` as for :meth:`ESN.generate`.

        Returns
        -------
        ndarray (batch, n_steps, features), or (n_steps, features) for one warm-up sequence.
        """
        self._check_fitted("generate")
        batch = check_sequences(warmup, "warmup", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        n_steps = check_n_steps(n_steps, batch.batch, self.n_outputs_, self.dtype)
        check_on_divergence(on_divergence)
        if self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"generate needs a one-step forecaster (outputs == features); this NVAR maps "
                             f"{self.n_features_in_} features to {self.n_outputs_} outputs.")
        if not batch.uniform:
            raise ValueError("generate needs warm-up sequences of equal length.")
        span = (self.delay - 1) * self.strides + 1
        if batch.data.shape[1] < span:
            raise ValueError(f"warmup has {batch.data.shape[1]} steps; NVAR(delay={self.delay}, "
                             f"strides={self.strides}) needs at least {span} to fill its window.")
        guard = DivergenceGuard(type(self).__name__, divergence_threshold(batch.data), on_divergence)
        ops = get_ops(self.backend, self.device, self.dtype)
        xp = ops.xp
        W, b = ops.asarray(self.W_out_), ops.asarray(self.b_out_)
        B, _, F = batch.data.shape
        hist = ops.asarray(batch.data[:, -span:])                      # (B, span, F), oldest first
        lags = list(range(span - 1, -1, -self.strides))                # newest first, every s steps
        idx = _monomial_index(self.delay * F, self.order)
        if ops.is_torch:
            idx = xp.as_tensor(idx, device=hist.device)
        out = np.empty((B, n_steps, F), dtype=np.dtype(self.dtype))
        for t in range(n_steps):
            lin = hist[:, lags].reshape(B, -1)
            z = xp.concatenate([lin, lin[:, idx].prod(-1)], 1) if self.order > 0 else lin
            y = z @ W + b
            if self.difference_:
                y = y + hist[:, -1]
            out[:, t] = ops.to_numpy(y)
            hist = xp.concatenate([hist[:, 1:], y[:, None]], 1)
            if guard.due(t + 1):
                guard.check(out[:, guard.checked:t + 1], guard.checked)
        guard.check(out[:, guard.checked:], guard.checked)
        return out[0] if batch.single else out
