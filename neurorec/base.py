"""The model contract shared by every neurorec model.

Models follow scikit-learn's estimator rules (``__init__`` only stores hyperparameters;
``fit`` returns ``self``; learned attributes end in ``_``) and add sequence-aware methods
(``transform``, ``generate``, ``recall``). :class:`Model` builds on
:class:`sklearn.base.BaseEstimator`, which supplies ``get_params``/``set_params`` and the
``repr``; :meth:`Model.clone` is :func:`sklearn.base.clone`.

Files written by :meth:`Model.save` are a single ``.safetensors`` file: the learned arrays
as tensors, and in the header's metadata a JSON document with the class, the
hyperparameters, the non-array learned attributes, the library versions and a SHA-256 of
the tensor bytes, so a file that is not a neurorec model, or was altered, is refused on
load. No pickle is involved anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import clone as _sk_clone
from sklearn.exceptions import NotFittedError

__all__ = ["Model", "NotFittedError", "load", "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "neurorec-model"
FORMAT_VERSION = 1

_REGISTRY: dict[str, type] = {}


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


class Model(BaseEstimator):
    """Base class of all neurorec models.

    Subclasses declare their hyperparameters as keyword arguments of ``__init__`` and
    store each one unchanged under the same name. Everything learned by ``fit`` is set as
    an attribute whose name ends in ``_``: numpy arrays among them (and dicts of named numpy
    arrays, such as a network's weights) are saved as tensors, and ints, floats, strings,
    bools and lists/dicts of those as JSON.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[_qualname(cls)] = cls

    # -- contract helpers ------------------------------------------------------------
    def clone(self) -> Model:
        """A new, unfitted model with the same hyperparameters."""
        return _sk_clone(self)

    def _is_fitted(self) -> bool:
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def _check_fitted(self, method: str = "predict") -> None:
        if not self._is_fitted():
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(...) "
                                 f"before {method}(...).")

    def _learned(self) -> dict:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}

    def score(self, X, y) -> float:
        """Accuracy for a model fitted as a classifier (``task_ == "classification"``); for a
        sequence regressor the coefficient of determination :math:`R^2 = 1 - \\mathrm{NMSE}`
        averaged over outputs (scikit-learn's convention: higher is better). Task metrics such
        as NRMSE are in :mod:`neurorec.metrics`."""
        from neurorec import metrics
        from neurorec._validation import check_labels, check_sequence_targets, check_sequences

        self._check_fitted("score")
        batch = check_sequences(X, "X", n_features=getattr(self, "n_features_in_", None))
        if getattr(self, "task_", None) == "classification":
            check_labels(y, batch.batch, "y", classes=self.classes_)
            return metrics.accuracy(np.asarray(y), self.predict(X))
        Yt = check_sequence_targets(y, batch, "y")
        pred = self.predict(X)
        pred = np.concatenate(pred) if batch.ragged else np.asarray(pred).reshape(-1, Yt.shape[2])
        return metrics.r2(Yt[batch.mask()], pred)

    @property
    def n_parameters_(self) -> dict:
        """Number of stored weights: ``{"total": ..., "trained": ...}``.

        ``trained`` counts the arrays listed in the class attribute ``_trained_arrays``
        (all arrays when it is not set); fixed random weights such as a reservoir's count
        only in ``total``.
        """
        self._check_fitted("n_parameters_")
        arrays = _flat_arrays(self._learned())
        trained = getattr(self, "_trained_arrays", None)
        total = int(sum(v.size for v in arrays.values()))
        if trained is None:
            return {"total": total, "trained": total}
        return {"total": total, "trained": int(sum(v.size for k, v in arrays.items()
                                                   if k in trained or k.split(_SEP)[0] in trained))}

    # -- persistence -----------------------------------------------------------------
    def save(self, path) -> Path:
        """Write the fitted model to ``path`` (a ``.safetensors`` file), atomically."""
        from safetensors.numpy import save_file

        self._check_fitted("save")
        tensors, state = {}, {}
        learned = self._learned()
        for k, v in _flat_arrays(learned).items():
            if v.dtype == object:
                raise TypeError(f"cannot save object array {k}")
            tensors[k] = np.ascontiguousarray(v).reshape(v.shape)    # keeps 0-d arrays 0-d
        for k, v in learned.items():
            if not (isinstance(v, np.ndarray) or _is_array_dict(v)):
                state[k] = _to_json(v, k)
        params = {k: _to_json(v, k) for k, v in self.get_params(deep=False).items()}
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "class": _qualname(type(self)),
            "params": params,
            "state": state,
            "versions": _versions(),
            "sha256": _digest(tensors),
        }
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"cannot save to {path}: the folder {path.parent} does not exist.")
        tmp = path.with_name(path.name + ".tmp")
        try:
            save_file(tensors, str(tmp), metadata={"neurorec": json.dumps(header)})
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)     # nothing half-written is left behind on failure
        return path

    @classmethod
    def load(cls, path) -> Model:
        """Read a model written by :meth:`save`; see :func:`neurorec.load`."""
        model = load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}.")
        return model


def load(path) -> Model:
    """Load a model saved with :meth:`Model.save`.

    Raises
    ------
    ValueError
        If the file is not a neurorec model file, names an unknown class, or its tensors
        do not match the checksum written with them (the file was altered).
    """
    from safetensors import SafetensorError, safe_open

    import neurorec.models  # noqa: F401  (registers the built-in classes)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, Exception) as exc:  # noqa: B014
        raise ValueError(f"{path} is not a neurorec model file (not a readable safetensors file: {exc}).") from None
    try:
        header = json.loads(meta["neurorec"])
        ok = header.get("format") == FORMAT_NAME
    except (KeyError, TypeError, json.JSONDecodeError):
        ok = False
    if not ok:
        raise ValueError(f"{path} is not a neurorec model file (no neurorec header in its metadata).")
    if header.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer neurorec (format {header['format_version']}).")
    if _digest(tensors) != header.get("sha256"):
        raise ValueError(f"{path} was modified after it was saved: its weights do not match the checksum.")
    cls = _REGISTRY.get(header["class"])
    module = str(header["class"]).rpartition(".")[0]
    if cls is None and module.startswith("neurorec."):
        # a neurorec class outside neurorec.models (e.g. neurorec.hardware.fixed_point): its own
        # module registers it when imported; only neurorec's modules are imported this way
        try:
            import importlib

            importlib.import_module(module)
        except ImportError:
            pass
        cls = _REGISTRY.get(header["class"])
    if cls is None:
        raise ValueError(f"{path} holds an unknown model class {header['class']!r}; import the module "
                         f"that defines it before loading.")
    names = list(header["state"]) + [k.split(_SEP, 1)[0] for k in tensors]
    bad = [k for k in names if not (isinstance(k, str) and k.endswith("_") and not k.startswith("_")
                                    and k.isidentifier())]
    if bad:
        raise ValueError(f"{path} is not a valid neurorec model file: {bad[0]!r} is not a learned "
                         f"attribute name (public, ending in '_').")
    model = cls(**header["params"])
    for k, v in header["state"].items():
        setattr(model, k, v)
    groups: dict = {}
    for k, v in tensors.items():
        if _SEP in k:
            attr, key = k.split(_SEP, 1)
            groups.setdefault(attr, {})[key] = v
        else:
            setattr(model, k, v)
    for attr, d in groups.items():
        setattr(model, attr, d)
    return model


_SEP = "/"


def _is_array_dict(v) -> bool:
    return isinstance(v, dict) and len(v) > 0 and all(isinstance(a, np.ndarray) for a in v.values())


def _flat_arrays(learned: dict) -> dict:
    """Learned arrays by tensor name: ``attr`` for an array, ``attr/key`` for a dict of arrays."""
    out = {}
    for k, v in learned.items():
        if isinstance(v, np.ndarray):
            out[k] = v
        elif _is_array_dict(v):
            for key, a in v.items():
                out[f"{k}{_SEP}{key}"] = a
    return out


def _to_json(v, name):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, tuple):
        v = list(v)
    try:
        json.dumps(v)
    except TypeError:
        raise TypeError(f"{name}={v!r} cannot be saved: hyperparameters and non-array state must be "
                        f"JSON values (numbers, strings, bools, lists, dicts).") from None
    return v


def _digest(tensors: dict) -> str:
    h = hashlib.sha256()
    for k in sorted(tensors):
        a = np.ascontiguousarray(tensors[k]).reshape(np.shape(tensors[k]))
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("neurorec", "numpy", "torch", "reservoirpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
