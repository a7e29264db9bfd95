"""The model contract shared by every neurorec model.

Models follow scikit-learn's estimator rules (``__init__`` only stores hyperparameters;
``fit`` returns ``self``; learned attributes end in ``_``) and add sequence-aware methods
(``transform``, ``generate``, ``recall``). :class:`Model` builds on
:class:`sklearn.base.BaseEstimator`, which supplies ``get_params``/``set_params`` and the
``repr``; :meth:`Model.clone` is :func:`sklearn.base.clone`.

Files written by :meth:`Model.save` are a single ``.safetensors`` file: the learned arrays
as tensors, and in the header's metadata a JSON document with the class, the
hyperparameters, the non-array learned attributes, the library versions and a SHA-256
(``sha256``) that covers the whole header (canonical JSON, without the ``sha256`` field itself)
and the tensor bytes, so a file that is not a neurorec model, or was altered (a weight, a
hyperparameter, the class name), is refused on load with a :class:`ModelFileError`. After
loading, the hyperparameters are checked as ``fit`` checks them. Files of format version 1
(whose checksum covered the tensors only) still load, with a :class:`UserWarning` that their
header is not covered; save them again to upgrade them. No pickle is involved in the files.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.base import clone as _sk_clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.metaestimators import available_if

__all__ = ["Model", "ModelFileError", "NotFittedError", "ScoresToProba", "fitted_as_classifier", "load",
           "FORMAT_NAME", "FORMAT_VERSION"]

FORMAT_NAME = "neurorec-model"
FORMAT_VERSION = 2      # 2: the checksum covers the header too; 1: the tensors only (still read, with a warning)


class ModelFileError(ValueError):
    """A model (or training checkpoint) file is not one neurorec can load: not a safetensors
    file, no neurorec header, altered after saving, an unknown class, a file of another class,
    bad learned attribute names or invalid hyperparameters. A subclass of ValueError."""


class ModelClassError(ModelFileError, TypeError):
    """``Cls.load`` was given a file that holds another class. Also a TypeError, as before."""

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

    _param_spec: dict = {}      # hyperparameter name -> neurorec._params constraint

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _REGISTRY[_qualname(cls)] = cls

    # -- contract helpers ------------------------------------------------------------
    def _validate_params(self) -> None:
        """Check every hyperparameter against ``_param_spec`` (called at the start of ``fit`` and
        on :func:`load`); models add cross-parameter checks after calling this."""
        from neurorec._params import check_params

        check_params(self)

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

    # -- scikit-learn integration -----------------------------------------------------
    def _estimator_kind(self) -> str | None:
        """``"classifier"``, ``"regressor"``, ``"transformer"`` or ``None`` (scikit-learn's tags).

        The default reads the ``task`` hyperparameter of models that do both (``ESN``, the
        recurrent baselines, ...): ``task="classification"`` is a classifier, ``"regression"``
        a regressor, ``"auto"`` neither (it decides at ``fit``). Single-purpose models override it.
        """
        return {"classification": "classifier", "regression": "regressor"}.get(getattr(self, "task", None))

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, RegressorTags, TransformerTags

        tags = super().__sklearn_tags__()
        kind = self._estimator_kind()
        if kind == "classifier":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
            tags.target_tags.required = True
        elif kind == "regressor":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
            tags.target_tags.required = True
            tags.target_tags.multi_output = True        # per-step targets may have several outputs
        if kind == "transformer" or callable(getattr(self, "transform", None)):
            # features (states, projections, spike counts), computed in the model's dtype
            dtype = getattr(self, "dtype", None)
            tags.transformer_tags = TransformerTags(preserves_dtype=[dtype] if isinstance(dtype, str) else [])
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.non_deterministic = getattr(self, "seed", 0) is None
        return tags

    @available_if(lambda self: callable(getattr(self, "transform", None)))
    def fit_transform(self, X, y=None, **fit_params):
        """``fit(X, y)`` then ``transform(X)`` (for models that make features)."""
        return self.fit(X, y, **fit_params).transform(X)

    def _score_skip(self) -> int:
        """Leading steps of every sequence that :meth:`score` leaves out (the ``washout``)."""
        return int(getattr(self, "washout", 0) or 0)

    def score(self, X, y) -> float:
        """Accuracy for a model fitted as a classifier (``task_ == "classification"``); for a
        sequence regressor the coefficient of determination :math:`R^2 = 1 - \\mathrm{NMSE}`
        averaged over outputs (scikit-learn's convention: higher is better), over the steps
        after the first ``washout`` of every sequence (the start-up transient, left out of
        training too, and of ``compare``'s scores). Task metrics such as NRMSE are in
        :mod:`neurorec.metrics`."""
        from neurorec import metrics
        from neurorec._validation import check_labels, check_sequence_targets, check_sequences

        self._check_fitted("score")
        if getattr(self, "task_", None) == "classification":
            pred = np.asarray(self.predict(X))
            check_labels(y, len(pred), "y", classes=self.classes_)
            return float(np.mean(np.asarray(y).astype(pred.dtype, copy=False) == pred))
        batch = check_sequences(X, "X", n_features=getattr(self, "n_features_in_", None))
        Yt = check_sequence_targets(y, batch, "y")
        pred = self.predict(X)
        if batch.ragged:
            P = np.zeros(Yt.shape, dtype=np.float64)
            for i, p in enumerate(pred):
                P[i, : batch.lengths[i]] = np.asarray(p).reshape(batch.lengths[i], -1)
        else:
            P = np.asarray(pred, dtype=np.float64).reshape(Yt.shape)
        skip = self._score_skip()
        keep = batch.mask() & (np.arange(Yt.shape[1])[None, :] >= skip)
        if not keep.any():
            raise ValueError(f"score: washout={skip} leaves no step to score: the longest sequence in X has "
                             f"{int(batch.lengths.max())} steps.")
        return metrics.r2(Yt[keep], P[keep])

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

    # -- pickling / copying ------------------------------------------------------------
    def __getstate__(self):
        # caches (backend modules, compiled runs, device copies of weights) are rebuilt on use;
        # they may hold modules or device objects that cannot be pickled or deep-copied
        state = dict(super().__getstate__())
        state.pop("_cache", None)
        return state

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
            if isinstance(v, np.ndarray) and v.dtype.kind in "US":
                state[k] = {"__ndarray__": v.tolist(), "dtype": v.dtype.str}   # e.g. string class labels
            elif not (isinstance(v, np.ndarray) or _is_array_dict(v)):
                state[k] = _to_json(v, k)
        params = {k: _to_json(v, k) for k, v in self.get_params(deep=False).items()}
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "class": _qualname(type(self)),
            "params": params,
            "state": state,
            "versions": _versions(),
        }
        header["sha256"] = _file_digest(header, tensors)
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
            raise ModelClassError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}; load it with "
                                  f"{type(model).__name__}.load or neurorec.load.")
        return model


def fitted_as_classifier(model) -> bool:
    """For ``sklearn.utils.available_if``: ``predict_proba`` / ``decision_function`` exist on a
    dual model fitted (or, unfitted, configured) as a classifier, and not on a regressor, as
    scikit-learn expects of regressors."""
    task_ = getattr(model, "task_", None)
    if task_ is not None:
        return task_ == "classification"
    return getattr(model, "task", "classification") != "regression"


class ScoresToProba:
    """``predict_proba`` for classifiers whose readout gives scores, not probabilities.

    :math:`p = \\mathrm{softmax}(s / T)` over the class scores :math:`s` (``decision_function``'s
    per-class scores), with one temperature :math:`T > 0` fitted by minimising the log-loss
    (temperature scaling, Guo et al. 2017, "On calibration of modern neural networks", ICML).
    It is monotone, so ``argmax(predict_proba) == predict`` wherever ``predict`` is the arg-max
    of the scores.

    For a ridge readout with one row per sequence (the reservoirs' ``"mean"``/``"last"``
    pooling, the reservoir model space's ridge readout, the LSM, ``LinearAR``) :math:`T` is
    fitted on the exact leave-one-out scores of the training sequences
    (:func:`neurorec.models.readout.loo_ridge_predictions`), not on the training scores: with
    fewer sequences than features the ridge fit interpolates its training set, and a
    temperature fitted there would make every probability 0 or 1. Other readouts (per-step
    votes, SVM) fit it on the training scores, which are only as calibrated as the training
    fit is representative: check them on held-out data.
    """

    def _fit_temperature_loo(self, Z, idx, ridge: float) -> None:
        """Temperature on the leave-one-out scores of the ridge readout fitted on rows ``Z``."""
        from neurorec.models.readout import loo_ridge_predictions

        idx = np.asarray(idx).reshape(-1)
        n_classes = len(getattr(self, "classes_", ())) or int(idx.max()) + 1
        self._fit_temperature(loo_ridge_predictions(Z, np.eye(n_classes)[idx], ridge), idx)

    def _fit_temperature(self, scores, idx) -> None:
        from scipy.optimize import minimize_scalar
        from scipy.special import log_softmax

        s = np.asarray(scores, dtype=np.float64)
        idx = np.asarray(idx).reshape(-1)
        rows = np.arange(len(idx))

        def nll(log_t):
            return float(-log_softmax(s / np.exp(log_t), axis=1)[rows, idx].mean())

        res = minimize_scalar(nll, bounds=(-12.0, 12.0), method="bounded")
        self.proba_temperature_ = float(np.exp(res.x))

    @staticmethod
    def _softmax(scores, temperature: float) -> np.ndarray:
        from scipy.special import softmax

        return softmax(np.asarray(scores, dtype=np.float64) / temperature, axis=1)

    @staticmethod
    def _binary_decision(scores) -> np.ndarray:
        """scikit-learn's shape for ``decision_function``: (n,) for two classes (positive means
        ``classes_[1]``), (n, n_classes) otherwise."""
        scores = np.asarray(scores)
        if scores.ndim == 2 and scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores


def load(path) -> Model:
    """Load a model saved with :meth:`Model.save`.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError
        (a ValueError) If the file is not a neurorec model file, names an unknown class, does
        not match the checksum written with it (its header or its tensors were altered), holds
        learned attributes with invalid names, or hyperparameters that ``fit`` would refuse.
    """
    from safetensors import safe_open

    import neurorec.models  # noqa: F401  (registers the built-in classes)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:
        raise ModelFileError(f"{path} is not a neurorec model file (not a readable safetensors file: "
                             f"{exc}).") from None
    try:
        header = json.loads(meta["neurorec"])
        ok = isinstance(header, dict) and header.get("format") == FORMAT_NAME
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise ModelFileError(f"{path} is not a neurorec model file (no neurorec header in its metadata).")
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{path} is not a valid neurorec model file: format_version={version!r}, "
                             f"allowed: an int from 1 to {FORMAT_VERSION}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"{path} was written by a newer neurorec (format_version={version}; this one "
                             f"reads 1 to {FORMAT_VERSION}).")
    for key, kind in (("class", str), ("params", dict), ("state", dict)):
        if not isinstance(header.get(key), kind):
            raise ModelFileError(f"{path} is not a valid neurorec model file: its header's {key!r} is "
                                 f"{header.get(key)!r}, expected a {kind.__name__}.")
    cls = _resolve_class(header["class"])
    if cls is None:
        raise ModelFileError(f"{path} holds an unknown model class {header['class']!r}; import the module "
                             f"that defines it before loading.")
    expected = _file_digest(header, tensors) if version >= 2 else _digest(tensors)
    if expected != header.get("sha256"):
        what = "its header or weights do not" if version >= 2 else "its weights do not"
        raise ModelFileError(f"{path} was modified after it was saved: {what} match the checksum.")
    if version < 2:
        warnings.warn(f"{path} was written by an older neurorec (format_version=1): its checksum covers the "
                      f"weights but not the header (class, hyperparameters, state). Save it again to upgrade it.",
                      UserWarning, stacklevel=2)
    names = list(header["state"]) + [k.split(_SEP, 1)[0] for k in tensors]
    bad = [k for k in names if not (isinstance(k, str) and k.endswith("_") and not k.startswith("_")
                                    and k.isidentifier())]
    if bad:
        raise ModelFileError(f"{path} is not a valid neurorec model file: {bad[0]!r} is not a learned "
                             f"attribute name (public, ending in '_').")
    try:
        model = cls(**header["params"])
    except Exception as exc:
        raise ModelFileError(f"{path} is not a valid {cls.__name__} file: its hyperparameters "
                             f"{sorted(header['params'])} are refused by {cls.__name__}(...): {exc}") from None
    _check_loaded_params(model, path)
    try:
        for k, v in header["state"].items():
            if isinstance(v, dict) and set(v) == {"__ndarray__", "dtype"}:
                dt = np.dtype(v["dtype"])
                if dt.kind not in "US":
                    raise ValueError(f"{k} has dtype {dt}, not a string dtype")
                v = np.array(v["__ndarray__"], dtype=dt)
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
    except Exception as exc:
        raise ModelFileError(f"{path} is not a valid {cls.__name__} file: its learned attributes cannot be "
                             f"restored ({type(exc).__name__}: {exc}).") from None
    return model


def _resolve_class(name: str):
    cls = _REGISTRY.get(name)
    module = name.rpartition(".")[0]
    if cls is None and module.startswith("neurorec."):
        # a neurorec class outside neurorec.models (e.g. neurorec.hardware.fixed_point): its own
        # module registers it when imported; only neurorec's modules are imported this way
        try:
            import importlib

            importlib.import_module(module)
        except Exception:
            pass
        cls = _REGISTRY.get(name)
    return cls


def _check_loaded_params(model: Model, path) -> None:
    """Refuse hyperparameters that ``fit`` would refuse, with the model's own validation.

    Only ValueError/TypeError (a bad value) refuse the file; an environment problem such as a
    CUDA device that this machine lacks (RuntimeError) or a missing optional engine (ImportError)
    does not: the model loads and ``set_params`` can move it (e.g. ``device="cpu"``)."""
    check = getattr(model, "_validate_params", None)
    if check is None:
        return
    try:
        check()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path} holds invalid hyperparameters for {type(model).__name__}: {exc}") from None
    except Exception:
        pass


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _file_digest(header: dict, tensors: dict) -> str:
    """SHA-256 over the canonical JSON of the header (without ``sha256``) and the tensors' digest."""
    h = hashlib.sha256()
    h.update(_canonical({k: v for k, v in header.items() if k != "sha256"}))
    h.update(b"\n")
    h.update(_digest(tensors).encode())
    return h.hexdigest()


_SEP = "/"


def _is_array_dict(v) -> bool:
    return isinstance(v, dict) and len(v) > 0 and all(isinstance(a, np.ndarray) for a in v.values())


def _flat_arrays(learned: dict) -> dict:
    """Learned arrays by tensor name: ``attr`` for an array, ``attr/key`` for a dict of arrays."""
    out = {}
    for k, v in learned.items():
        if isinstance(v, np.ndarray) and v.dtype.kind in "US":
            continue                        # string arrays (class labels) go in the JSON state
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
