r"""A symbolic sequence task: next-symbol prediction on a noisy finite-order source.

The task compares how much temporal memory a model uses. The source is a random
order-:math:`k` rule over :math:`n` symbols with noise: a lookup table :math:`f` drawn per
seed maps every context of :math:`k` symbols to a successor, and

.. math::

    v_t = \begin{cases} f(v_{t-k}, \dots, v_{t-1}) & \text{with probability } 1 - \varepsilon \\
                        \text{uniform on } \{0, \dots, n-1\} & \text{with probability } \varepsilon
          \end{cases}

(the first :math:`k` symbols of a sequence are uniform). A predictor that knows the last
:math:`k` symbols and :math:`f` reaches the Bayes accuracy
:math:`1 - \varepsilon + \varepsilon / n` (:func:`symbolic_bayes_accuracy`: 0.825 with the
defaults); a predictor with less memory does much worse, since :math:`f` is random.

Layout: inputs are one-hot symbols, ``X`` float32 ``(batch, time, n)``; targets are the
one-hot next symbols ``y[:, t] = onehot(v_{t+1})``, float32 ``(batch, time, n)``, so the
gradient-trained and reservoir models train by per-step regression of one-hot targets, and
:class:`~neurorec.models.MultiOrderMarkov` reads ``X`` as the symbols (the arg-max of each
one-hot step). The first ``k - 1`` steps of every sequence (``Split.skip``) are not scored:
their targets do not yet follow the rule. The metric is next-symbol accuracy after an
arg-max read-out (:meth:`SymbolTask.score`).
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .task import Split, Task, TaskData

__all__ = ["SymbolTask", "symbolic_task", "symbolic_bayes_accuracy", "symbol_readout"]


def symbolic_bayes_accuracy(n_symbols: int = 8, noise: float = 0.2) -> float:
    r"""The best expected next-symbol accuracy on the scored steps:
    :math:`1 - \varepsilon + \varepsilon / n`."""
    return 1.0 - float(noise) + float(noise) / int(n_symbols)


def _as_numpy(a):
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        a = a.detach().cpu().numpy()
    return a


def symbol_readout(y, n_symbols: int, ndim: int, name: str = "y") -> np.ndarray:
    """Per-step symbols with ``ndim`` axes, from scores / one-hot rows (``ndim + 1`` axes, the
    last of ``n_symbols`` entries: the arg-max is the symbol, ties to the lowest) or from
    integer symbols (``ndim`` axes); int64."""
    a = np.asarray(_as_numpy(y))
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}.")
    if a.ndim == ndim + 1:
        if a.shape[-1] != n_symbols:
            raise ValueError(f"{name} has scores for {a.shape[-1]} symbols per step, expected {n_symbols} "
                             f"(shape {a.shape}).")
        if a.dtype.kind == "f" and np.isnan(a).any():
            raise ValueError(f"{name} contains NaN scores.")
        return a.argmax(-1).astype(np.int64)
    if a.ndim != ndim:
        raise ValueError(f"{name} must be per-step symbols with {ndim} axes or scores with {ndim + 1} "
                         f"(last axis {n_symbols}); got shape {a.shape}.")
    if a.dtype.kind == "f" and not (np.isfinite(a).all() and np.all(a == np.round(a))):
        raise ValueError(f"{name} holds non-integer symbols; pass integer symbols or per-step scores.")
    return a.astype(np.int64)


def _skip(a, skip: int, name: str):
    """Drop the first ``skip`` steps of every sequence: a (batch, time) array or a list of (time,)."""
    if isinstance(a, list):
        if any(len(s) <= skip for s in a):
            raise ValueError(f"{name} has a sequence of at most skip={skip} steps.")
        return [s[skip:] for s in a]
    if a.shape[-1] <= skip:
        raise ValueError(f"{name} has {a.shape[-1]} time steps, not more than skip={skip}.")
    return a[..., skip:]


class SymbolTask(Task):
    """A :class:`~neurorec.data.Task` whose per-step targets are one-hot symbols, scored by
    next-symbol accuracy after an arg-max read-out.

    :meth:`score` accepts predictions as per-step scores ``(batch, time, n)`` (a regressor's
    outputs or probabilities; the arg-max is the predicted symbol) or integer symbols
    ``(batch, time)`` (a symbol model's ``predict``), drops the first ``split.skip`` steps of
    every sequence and returns the fraction of steps whose symbol is right.
    """

    symbol_readout = True      # a marker a runner can test for

    def score(self, split: Split, y_pred) -> float:
        n = int(self.params["n_symbols"])
        y_true = split.y
        if isinstance(y_true, (list, tuple)):
            if not isinstance(y_pred, (list, tuple)) or len(y_pred) != len(y_true):
                raise ValueError(f"y_pred must be a list of {len(y_true)} sequences like split.y.")
            t = [symbol_readout(a, n, 1, f"split.y[{i}]") for i, a in enumerate(y_true)]
            p = [symbol_readout(a, n, 1, f"y_pred[{i}]") for i, a in enumerate(y_pred)]
            for i, (a, b) in enumerate(zip(t, p, strict=True)):
                if a.shape != b.shape:
                    raise ValueError(f"y_pred[{i}] has {b.shape[0]} steps but split.y[{i}] has {a.shape[0]}.")
        else:
            t = symbol_readout(y_true, n, np.ndim(y_true) - 1, "split.y")
            p = symbol_readout(y_pred, n, t.ndim, "y_pred")
            if p.shape != t.shape:
                raise ValueError(f"y_pred must be per-step scores {np.shape(y_true)} or symbols {t.shape}; "
                                 f"got shape {np.shape(_as_numpy(y_pred))}.")
        skip = int(split.skip)
        if skip:
            t, p = _skip(t, skip, "split.y"), _skip(p, skip, "y_pred")
        if isinstance(t, list):
            t, p = np.concatenate(t), np.concatenate(p)
        return float(np.mean(t == p))


def _sequences(rng, table: np.ndarray, n: int, order: int, noise: float, batch: int, steps: int) -> np.ndarray:
    """``(batch, steps)`` symbols of the noisy order-``order`` rule ``table``."""
    s = np.empty((batch, steps), dtype=np.int64)
    s[:, :order] = rng.integers(n, size=(batch, order))
    flips = rng.random((batch, steps)) < noise
    rand = rng.integers(n, size=(batch, steps))
    weights = n ** np.arange(order - 1, -1, -1)
    for t in range(order, steps):
        ctx = s[:, t - order:t] @ weights
        s[:, t] = np.where(flips[:, t], rand[:, t], table[ctx])
    return s


def _load_symbolic(seed, *, n_symbols, order, noise, length, n_train, n_val, n_test):
    table_seq, *split_seqs = np.random.SeedSequence(seed).spawn(4)
    table = np.random.default_rng(table_seq).integers(n_symbols, size=n_symbols ** order)
    eye = np.eye(n_symbols, dtype=np.float32)
    splits = []
    for ss, b in zip(split_seqs, (n_train, n_val, n_test), strict=True):
        s = _sequences(np.random.default_rng(ss), table, n_symbols, order, noise, b, length + 1)
        splits.append(Split(eye[s[:, :-1]], eye[s[:, 1:]], order - 1))
    return TaskData(*splits, x_scaler=None, y_scaler=None, n_classes=None, n_outputs=int(n_symbols))


def symbolic_task(n_symbols: int = 8, order: int = 3, noise: float = 0.2, length: int = 64,
                  n_train: int = 256, n_val: int = 64, n_test: int = 64) -> SymbolTask:
    """Next-symbol prediction on a noisy random order-``order`` source over ``n_symbols``
    symbols (see the module docstring); metric: next-symbol accuracy (higher is better).

    The seed draws the rule (lookup table) and, independently, the ``n_train``, ``n_val`` and
    ``n_test`` sequences of ``length`` steps. Inputs and targets are one-hot float32
    ``(batch, length, n_symbols)``; no scaler; ``skip = order - 1``. With the defaults (an
    order-3 rule over 8 symbols, 512 contexts) the Bayes accuracy is 0.825 and a model needs
    three steps of memory to reach it; at order 2 the task is easy enough that an ESN, an LSTM,
    a GRU and the multi-order model all reach the Bayes accuracy.
    """
    n_symbols = check_positive_int(n_symbols, "n_symbols", minimum=2)
    order = check_positive_int(order, "order")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.floating)) or not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be a probability in [0, 1], got {noise!r}.")
    if n_symbols ** order > 10_000_000:
        raise ValueError(f"n_symbols ** order = {n_symbols ** order} contexts is too many for a lookup table.")
    length = check_positive_int(length, "length")
    if length <= order:
        raise ValueError(f"length={length} must be longer than order={order}.")
    params = dict(n_symbols=n_symbols, order=order, noise=float(noise), length=length,
                  n_train=check_positive_int(n_train, "n_train"), n_val=check_positive_int(n_val, "n_val"),
                  n_test=check_positive_int(n_test, "n_test"))
    return SymbolTask("symbolic", "forecast", "accuracy", params, _load_symbolic)
