"""The conformance suite: :func:`check_model` runs a model through the neurorec contract.

Every built-in model passes it on every backend; third parties can run it on theirs::

    from neurorec.testing import check_model
    check_model(MyModel(seed=0), backend="torch")

It raises ``AssertionError`` naming the first rule broken.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import numpy as np

from neurorec.base import Model, NotFittedError

__all__ = ["check_model", "make_regression_data", "make_classification_data", "make_symbol_data"]


def make_regression_data(seed: int = 0, batch: int = 4, time: int = 60, features: int = 2):
    """Small sequence-regression problem: y[t] = sin(u[t] + 0.5 u[t-1]) summed over features."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (batch, time, features)).astype(np.float32)
    prev = np.concatenate([np.zeros_like(X[:, :1]), X[:, :-1]], 1)
    y = np.sin(X + 0.5 * prev).sum(-1, keepdims=True).astype(np.float32)
    return X, y


def make_classification_data(seed: int = 0, batch: int = 24, time: int = 12, features: int = 3,
                             n_classes: int = 3):
    """Small sequence-classification problem: class ``c`` raises the mean of feature
    ``c % features`` by 1 (noise std 0.5), so one-vs-rest linear readouts can separate it."""
    rng = np.random.default_rng(seed)
    y = np.arange(batch) % n_classes
    X = rng.normal(0, 0.5, (batch, time, features)).astype(np.float32)
    X[np.arange(batch), :, y % features] += 1.0
    return X, y.astype(np.int64)


def _raises(exc, fn, rule: str):
    try:
        fn()
    except exc:
        return
    except Exception as other:  # noqa: BLE001
        raise AssertionError(f"{rule}: expected {exc.__name__}, got {type(other).__name__}: {other}") from other
    raise AssertionError(f"{rule}: expected {exc.__name__}, nothing was raised")


def _close(a, b, tol, rule):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{rule}: shapes differ {a.shape} vs {b.shape}")
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not err <= tol:
        raise AssertionError(f"{rule}: max difference {err:.3g} > {tol:.3g}")


def check_model(model: Model, backend: str | None = None, device: str = "cpu",
                cross_backend_tol: float | None = None) -> None:
    """Check that an (unfitted) model honours the neurorec model contract.

    Parameters
    ----------
    model : Model
        An unfitted instance with the hyperparameters to test.
    backend : str, optional
        Run the checks with this backend (``set_params(backend=...)``).
    device : str
        Device for the torch backend.
    cross_backend_tol : float, optional
        If given and the model has a ``backend`` parameter, also fit on numpy and torch with
        the same seed and require outputs to agree within this tolerance.
    """
    cls = type(model)
    params = model.get_params(deep=False)
    if backend is not None:
        if "backend" not in params:
            raise AssertionError(f"{cls.__name__} has no 'backend' hyperparameter")
        model = model.clone().set_params(backend=backend, device=device)
        params = model.get_params(deep=False)

    # constructor stores only
    sig = inspect.signature(cls.__init__)
    for name in sig.parameters:
        if name == "self":
            continue
        if not hasattr(model, name):
            raise AssertionError(f"__init__ must store hyperparameter {name!r} as an attribute")
    learned = [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]
    if learned:
        raise AssertionError(f"__init__ must not set learned attributes, found {learned}")
    fresh = model.clone()
    if fresh.get_params(deep=False).keys() != params.keys():
        raise AssertionError("clone() changed the hyperparameters")
    _raises(ValueError, lambda: model.clone().set_params(no_such_param=1), "set_params(unknown)")
    _raises(NotFittedError, lambda: model.clone().predict(np.zeros((2, 5, 2), np.float32)),
            "predict before fit")

    kinds = getattr(model, "_supported_kinds", frozenset({"forecast"}))
    has_seed = "seed" in params
    if getattr(model, "_predicts_symbols", False):  # a model of discrete sequences
        _check_symbols(model, has_seed)
        return
    if "detect" in kinds:
        _check_detection(model, has_seed)
    if "forecast" in kinds:
        _check_regression(model, has_seed)
    if "classify" in kinds:
        _check_classification(model, has_seed)
    if cross_backend_tol is not None and "backend" in params:
        _check_cross_backend(model, cross_backend_tol, device)


def _check_regression(model, has_seed):
    X, y = make_regression_data()
    m = model.clone()
    if has_seed:
        m.set_params(seed=0)
    if m.fit(X, y) is not m:
        raise AssertionError("fit must return self")
    learned = [k for k in vars(m) if not k.startswith("_") and k not in m.get_params(deep=False)]
    bad = [k for k in learned if not k.endswith("_")]
    if bad:
        raise AssertionError(f"learned attributes must end in '_': {bad}")
    p = m.predict(X)
    if np.shape(p) != y.shape:
        raise AssertionError(f"predict shape {np.shape(p)} != target shape {y.shape}")
    if not np.isfinite(p).all():
        raise AssertionError("predict returned non-finite values")
    # a single sequence keeps its rank; ragged lists come back as lists
    p1 = m.predict(X[0])
    _close(p1, p[0], 1e-4, "single (time, features) sequence")
    ragged = [X[0, :30], X[1]]
    pr = m.predict(ragged)
    if not isinstance(pr, list) or np.shape(pr[0]) != (30, y.shape[2]):
        raise AssertionError("a list of sequences must give a list of per-sequence outputs")
    _close(pr[1], p[1], 1e-4, "ragged batch vs padded batch")
    # reproducible with the seed
    if has_seed:
        p2 = model.clone().set_params(seed=0).fit(X, y).predict(X)
        _close(p2, p, 0.0, "same seed, same result")
    # bad input fails early with ValueError
    _raises(ValueError, lambda: m.predict(np.zeros((2, 5), np.float32)[None, None]), "rank-4 X")
    _raises(ValueError, lambda: m.predict(np.full((1, 5, 2), np.nan, np.float32)), "NaN in X")
    _raises(ValueError, lambda: m.predict(np.zeros((0, 5, 2), np.float32)), "empty batch")
    _raises(ValueError, lambda: m.predict(np.zeros((1, 0, 2), np.float32)), "zero-length sequence")
    _raises(ValueError, lambda: m.predict(np.zeros((1, 5, 3), np.float32)), "wrong number of features")
    _raises(ValueError, lambda: model.clone().fit(X, y[:2]), "mismatched batch sizes")
    _raises(ValueError, lambda: model.clone().fit(X, np.full_like(y, np.inf)), "inf in y")
    _check_save_load(m, X, p)


def _fitted_unsupervised(model, X, has_seed):
    """A clone of ``model`` fitted on ``X`` alone (seed 0): ``fit`` must return self and name every
    learned attribute with a trailing underscore."""
    m = model.clone()
    if has_seed:
        m.set_params(seed=0)
    if m.fit(X) is not m:
        raise AssertionError("fit must return self")
    bad = [k for k in vars(m) if not k.startswith("_") and k not in m.get_params(deep=False)
           and not k.endswith("_")]
    if bad:
        raise AssertionError(f"learned attributes must end in '_': {bad}")
    return m


def make_detection_data(seed: int = 0, batch: int = 2, time: int = 300, channels: int = 2):
    """Normal series ``(batch, time, channels)`` (noisy sines with a per-channel phase) for the
    detector contract."""
    rng = np.random.default_rng(seed)
    t = np.arange(time)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (batch, 1, channels))
    return (np.sin(2 * np.pi * t / 25 + phase) + 0.05 * rng.standard_normal((batch, time, channels))).astype(
        np.float32)


def _check_detection(model, has_seed):
    """The detector contract (``detect`` kind): ``fit(X)`` on normal series, one finite anomaly
    score per point in the layout of ``X`` without the channel axis, 0/1 ``predict``, ranges from
    ``detect``, bad input refused, save/load."""
    X = make_detection_data()
    m = _fitted_unsupervised(model, X, has_seed)
    s = np.asarray(m.anomaly_score(X))
    if s.shape != X.shape[:2] or not np.isfinite(s).all():
        raise AssertionError(f"anomaly_score must give finite scores of shape {X.shape[:2]}, got {s.shape}")
    _close(m.anomaly_score(X[0]), s[0], 1e-6, "single (time, channels) series")
    ragged = m.anomaly_score([X[0, :200], X[1]])
    if not isinstance(ragged, list) or np.shape(ragged[0]) != (200,):
        raise AssertionError("a list of series must give a list of per-point scores")
    flags = np.asarray(m.predict(X))
    if flags.shape != s.shape or not np.isin(flags, (0, 1)).all():
        raise AssertionError("predict must give 0/1 per point")
    _close(flags, (s > m.threshold_).astype(flags.dtype), 0.0, "predict = anomaly_score > threshold_")
    if not isinstance(m.detect(X[0]), list):
        raise AssertionError("detect must give a list of ranges")
    if has_seed:
        _close(model.clone().set_params(seed=0).fit(X).anomaly_score(X), s, 0.0, "same seed, same result")
    _raises(ValueError, lambda: m.anomaly_score(np.zeros((2, 5), np.float32)[None, None]), "rank-4 X")
    _raises(ValueError, lambda: m.anomaly_score(np.full((1, 50, 2), np.nan, np.float32)), "NaN in X")
    _raises(ValueError, lambda: m.anomaly_score(np.zeros((0, 50, 2), np.float32)), "empty batch")
    _raises(ValueError, lambda: m.anomaly_score(np.zeros((1, 50, 3), np.float32)), "wrong number of channels")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.safetensors"
        m.save(path)
        _close(type(m).load(path).anomaly_score(X), s, 0.0, "save/load round trip")


def _check_save_load(m, X, p):
    """save / load round trip gives the same predictions; a tampered or foreign file is refused."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.safetensors"
        m.save(path)
        loaded = type(m).load(path)
        _close(loaded.predict(X), p, 0.0, "save/load round trip")
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0xFF
        path.write_bytes(bytes(raw))
        _raises(ValueError, lambda: type(m).load(path), "tampered file")
        junk = Path(d) / "junk.safetensors"
        junk.write_bytes(b"not a model")
        _raises(ValueError, lambda: type(m).load(junk), "file that is not a model")


def make_symbol_data(seed: int = 0, batch: int = 6, time: int = 80, n_symbols: int = 4):
    """Integer symbol sequences ``(batch, time)`` from a noisy order-2 rule: the next symbol is
    ``(s[t-1] + 2 s[t-2]) % n_symbols`` with probability 0.9, uniform otherwise."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, n_symbols, (batch, time))
    for t in range(2, time):
        rule = (X[:, t - 1] + 2 * X[:, t - 2]) % n_symbols
        X[:, t] = np.where(rng.random(batch) < 0.9, rule, X[:, t])
    return X.astype(np.int64)


def _check_symbols(model, has_seed):
    """The contract for models of discrete sequences (``_predicts_symbols``): integer symbol
    sequences in, the predicted next symbol after every step out."""
    X = make_symbol_data()
    n = int(X.max()) + 1
    m = _fitted_unsupervised(model, X, has_seed)
    p = np.asarray(m.predict(X))
    if p.shape != X.shape or p.dtype.kind not in "iu":
        raise AssertionError(f"predict must give integer symbols of shape {X.shape}, got {p.dtype} {p.shape}")
    if p.min() < 0 or p.max() >= n:
        raise AssertionError("predicted symbols outside the training alphabet")
    acc = float(np.mean(p[:, 1:-1] == X[:, 2:]))
    if acc < 0.7:
        raise AssertionError(f"next-symbol accuracy {acc:.2f} on a 90 %-deterministic order-2 source (< 0.7)")
    _close(m.predict(X[0]), p[0], 0.0, "single sequence")
    ragged = m.predict([X[0, :30], X[1]])
    if not isinstance(ragged, list) or np.shape(ragged[0]) != (30,):
        raise AssertionError("a list of sequences must give a list of per-sequence predictions")
    _close(ragged[1], p[1], 0.0, "ragged batch vs batch")
    if hasattr(m, "predict_proba"):
        proba = np.asarray(m.predict_proba(X))
        _close(proba.sum(-1), np.ones(X.shape), 1e-9, "predict_proba rows sum to 1")
    if has_seed:
        _close(model.clone().set_params(seed=0).fit(X).predict(X), p, 0.0, "same seed, same result")
    _raises(ValueError, lambda: m.predict(np.array([0, -1, 2])), "negative symbol")
    _raises(ValueError, lambda: m.predict(np.array([0.0, np.nan, 1.0])), "NaN symbol")
    _raises(ValueError, lambda: m.predict(np.array([0.0, 1.5, 1.0])), "non-integer symbol")
    _raises(ValueError, lambda: model.clone().fit([]), "no sequences")
    _check_save_load(m, X, p)


def _check_classification(model, has_seed):
    X, y = make_classification_data()
    m = model.clone()
    if has_seed:
        m.set_params(seed=0)
    m.fit(X, y)
    p = m.predict(X)
    if np.shape(p) != y.shape:
        raise AssertionError(f"classifier predict shape {np.shape(p)} != {y.shape}")
    if not set(np.unique(p)) <= set(np.unique(y)):
        raise AssertionError("predicted labels outside the training classes")
    acc = float(np.mean(p == y))
    if acc < 0.9:
        raise AssertionError(f"training accuracy {acc:.2f} on an easy separable task (< 0.9)")
    if m.score(X, y) != acc:
        raise AssertionError("score(X, y) must equal the accuracy of predict(X)")
    _raises(ValueError, lambda: m.score(X, y + 10), "labels out of range")
    _raises(ValueError, lambda: model.clone().fit(X, y[:-1]), "label count != batch")
    _raises(ValueError, lambda: model.clone().fit(X, y.astype(np.float64) + 0.5), "non-integer labels")


def _check_cross_backend(model, tol, device):
    X, y = make_regression_data()
    kw = {"seed": 0} if "seed" in model.get_params(deep=False) else {}
    a = model.clone().set_params(backend="numpy", device="cpu", **kw).fit(X, y).predict(X)
    b = model.clone().set_params(backend="torch", device=device, **kw).fit(X, y).predict(X)
    _close(a, b, tol, "numpy vs torch backend")
