"""aeon interoperability: any neurorec classifier as an aeon collection classifier.

:class:`AeonClassifier` wraps a neurorec classifier (``ESN``, ``LSM``, ``SpikingClassifier``,
``Elman``, ``Jordan``, ``LSTM``, ``GRU``, ``FeatureClassifier``, ... anything with neurorec's
``fit`` / ``predict`` / ``predict_proba``) in aeon's :class:`aeon.classification.BaseClassifier`,
so it goes wherever aeon expects a time-series classifier: aeon's ensembles and pipelines,
its benchmarking code, its estimator checks, and scikit-learn's model selection on aeon data.

It takes aeon's collections as they are, channels first: a ``(n_cases, n_channels,
n_timepoints)`` array, a ``(n_cases, n_timepoints)`` univariate array, or a list of
``(n_channels, n_timepoints_i)`` arrays of unequal length. Each is converted explicitly with
:func:`neurorec.data.from_aeon` to neurorec's ``(batch, time, features)`` layout (never
transposed implicitly), so wrapping changes nothing about the model: predictions are exactly
those of ``model.fit(from_aeon(X), y).predict(from_aeon(X_test))``.

aeon is imported when this module is; ``import neurorec`` does not import it.

See Also
--------
neurorec.data.from_aeon, neurorec.data.to_aeon : the layout conversion it uses.
"""

from __future__ import annotations

import numbers
from copy import deepcopy

import numpy as np
from sklearn.base import clone

from neurorec._validation import InputError
from neurorec.data._rng import optional_import
from neurorec.data.aeon import _AEON_FORMATS, from_aeon

BaseClassifier = optional_import("aeon.classification", "data", "neurorec.aeon").BaseClassifier

__all__ = ["AeonClassifier", "to_aeon_classifier"]

# hyperparameter settings with which a neurorec model needs sequences of one length
_FIXED_LENGTH = (("input_mode", "static"),      # SpikingClassifier: the whole series flattened
                 ("input", "flatten"),          # FeatureClassifier: one T*F vector per series
                 ("pooling", "concat"),         # FeatureClassifier: all steps' features concatenated
                 ("dim_reduction", "tensor_pca"))   # ReservoirModelSpace: tensor PCA of equal-length series
# reservoir and feature models: fixed (random or unsupervised) features and a trained linear readout
_FEATURE_MODELS = frozenset({"ESN", "LSM", "FeatureClassifier", "ReservoirModelSpace"})


def _estimator_tags(estimator) -> dict:
    """The aeon tags that depend on the wrapped model's hyperparameters."""
    if estimator is None or not callable(getattr(estimator, "get_params", None)):
        return {}
    params = estimator.get_params(deep=False)
    fixed_length = any(params.get(k) == v for k, v in _FIXED_LENGTH)
    if "lr" in params:                                  # trained by gradient descent
        algorithm = "deeplearning"
    elif type(estimator).__name__ in _FEATURE_MODELS:
        algorithm = "feature"
    else:
        algorithm = None
    seedable = "seed" in params or "random_state" in params
    on_gpu = str(params.get("device", "cpu")).startswith("cuda")
    return {"capability:unequal_length": not fixed_length, "algorithm_type": algorithm,
            "non_deterministic": not seedable or on_gpu}


def _seed_from(random_state) -> int:
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be None, a non-negative integer or a numpy RandomState, "
                     f"got {random_state!r}.")


class AeonClassifier(BaseClassifier):
    """A neurorec classifier as an aeon collection classifier.

    ``fit(X, y)`` clones ``estimator``, converts aeon's channels-first collection with
    :func:`neurorec.data.from_aeon` and fits the clone on the labels as given; ``predict`` and
    ``predict_proba`` convert the same way and call the clone. aeon's base class checks the input
    and finds ``classes_`` (``np.unique(y)``): ``predict`` returns values of ``classes_`` (the
    original labels, strings included) and ``predict_proba``'s columns are in ``classes_`` order
    whatever order the wrapped model keeps them in.

    Parameters
    ----------
    estimator : neurorec classifier
        The model to wrap, unfitted (``ESN(units=100, classify="mean", seed=0)``, ``LSTM(...)``,
        ...); it is cloned in ``fit`` and left unchanged. Its hyperparameters are nested
        parameters of the wrapper: ``set_params(estimator__units=200)``, or
        ``{"estimator__units": [50, 100]}`` in a grid search. A model with ``task="auto"`` is
        fitted with ``task="classification"``; ``task="regression"`` is refused.
    random_state : int, numpy RandomState or None, default None
        aeon's name for the seed, set by aeon's ensembles and checks on their members. When not
        None it replaces the wrapped model's ``seed`` in the fitted clone (a RandomState gives
        one integer draw); when None the model's own ``seed`` is used.

    Attributes
    ----------
    estimator_ : neurorec model
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        The sorted distinct labels seen in ``fit`` (aeon's).
    n_classes_ : int
        ``len(classes_)``.
    metadata_ : dict
        aeon's description of the training collection (channels, length, ...).

    Notes
    -----
    Tags. ``capability:multivariate`` and ``capability:unequal_length`` are True and
    ``X_inner_type`` is ``["np-list", "numpy3D"]``: neurorec's sequence models take any number
    of channels and ragged lists, so aeon hands over equal-length data as a 3-D array and
    unequal-length data as a list, and pandas collections are converted by aeon first. The
    wrapped model's settings that need one length (``SpikingClassifier(input_mode="static")``,
    ``FeatureClassifier(input="flatten")`` or ``pooling="concat"``) turn
    ``capability:unequal_length`` off, so aeon refuses ragged input up front.
    ``capability:missing_values`` is False: neurorec's models refuse NaN and inf, and so does
    the wrapper, before converting (impute first, e.g. with
    ``aeon.transformations.collection.SimpleImputer``). ``algorithm_type`` is
    ``"deeplearning"`` for gradient-trained models (a learning rate ``lr``: Elman, Jordan, LSTM,
    GRU, SpikingClassifier), ``"feature"`` for the reservoirs and ``FeatureClassifier`` (fixed
    features, trained linear readout), None otherwise. ``non_deterministic`` is True when the
    model cannot be seeded or runs on a CUDA device, False otherwise: with ``random_state`` (or
    the model's ``seed``) set, two fits on the CPU give the same predictions.

    Examples
    --------
    >>> from aeon.datasets import load_gunpoint
    >>> from neurorec.aeon import AeonClassifier
    >>> from neurorec.models import ESN
    >>> X, y = load_gunpoint(split="train")             # (50, 1, 150) channels first, labels '1'/'2'
    >>> clf = AeonClassifier(ESN(units=100, classify="mean", seed=0)).fit(X, y)
    >>> X_test, y_test = load_gunpoint(split="test")
    >>> clf.predict(X_test[:3])                          # the original string labels
    array(['1', '2', '2'], dtype='<U1')
    >>> clf.predict_proba(X_test[:3]).shape, clf.classes_
    ((3, 2), array(['1', '2'], dtype='<U1'))
    >>> clf.score(X_test, y_test) > 0.95                 # accuracy on the 150 test series: 0.987
    True
    """

    _tags = {
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:missing_values": False,
        "X_inner_type": ["np-list", "numpy3D"],
        "algorithm_type": None,           # the wrapped model's (see Notes), from get_tags()
        "non_deterministic": False,
    }

    def __init__(self, estimator, random_state=None):
        self.estimator = estimator
        self.random_state = random_state
        super().__init__()

    # -- tags that follow the wrapped model ---------------------------------------------
    def get_tags(self):
        """aeon's tags: the class's, then those that follow the wrapped model's hyperparameters
        (see Notes), then any set with ``set_tags``."""
        tags = self.get_class_tags()
        tags.update(_estimator_tags(getattr(self, "estimator", None)))
        tags.update(deepcopy(getattr(self, "_tags_dynamic", {})))
        return tags

    # -- input ---------------------------------------------------------------------------
    def _check_X(self, X):
        """aeon's checks, after neurorec's: the wrong rank and NaN/inf each raise a ValueError
        that names them (the wrong rank also a TypeError, as aeon raises)."""
        if isinstance(X, np.ndarray) and X.ndim not in (2, 3):
            raise InputError(f"X must be {_AEON_FORMATS}; got an array of shape {X.shape} ({X.ndim}-D).")
        series = X if isinstance(X, list) else [X] if isinstance(X, np.ndarray) else []
        for i, s in enumerate(series):
            if isinstance(s, np.ndarray) and s.dtype.kind in "fc" and not np.isfinite(s).all():
                n_nan, n_inf = int(np.isnan(s).sum()), int(np.isinf(s).sum())
                where = "X" if s is X else f"X[{i}]"
                first = tuple(int(j) for j in np.argwhere(~np.isfinite(s))[0])
                raise ValueError(f"{where} contains {n_nan} NaN (missing) and {n_inf} infinite value(s), first at "
                                 f"index {first}; neurorec's models need finite values: impute or clean them "
                                 f"first (e.g. aeon.transformations.collection.SimpleImputer).")
        return super()._check_X(X)

    def _to_neurorec(self, X):
        """aeon's collection in neurorec's layout, in the wrapped model's float dtype (float32 if
        it declares none)."""
        try:
            dt = np.dtype(getattr(self.estimator_, "dtype", None) or np.float32)
        except TypeError:
            dt = np.dtype(np.float32)
        return from_aeon(X, dtype=dt if dt.kind == "f" and dt.itemsize in (4, 8) else np.float32)

    # -- aeon's abstract methods ---------------------------------------------------------
    def _fit(self, X, y):
        estimator = self.estimator
        for method in ("fit", "predict"):
            if not callable(getattr(estimator, method, None)):
                raise TypeError(f"AeonClassifier wraps a neurorec classifier (with fit and predict), got "
                                f"estimator={estimator!r}.")
        self.estimator_ = clone(estimator)
        params = self.estimator_.get_params(deep=False)
        update = {}
        if params.get("task") == "regression":
            raise ValueError(f"AeonClassifier wraps a classifier, but estimator has task='regression': use "
                             f"task='classification' (or 'auto'), got estimator={estimator!r}.")
        if params.get("task") == "auto":
            update["task"] = "classification"
        if self.random_state is not None:
            if "seed" in params:
                update["seed"] = _seed_from(self.random_state)
            elif "random_state" in params:
                update["random_state"] = self.random_state
        if update:
            self.estimator_.set_params(**update)
        self.estimator_.fit(self._to_neurorec(X), y)
        return self

    def _model_classes(self):
        classes = getattr(self.estimator_, "classes_", None)
        return None if classes is None else np.asarray(classes).tolist()

    def _predict(self, X) -> np.ndarray:
        pred = np.asarray(self.estimator_.predict(self._to_neurorec(X)))
        if self._model_classes() is None:
            return pred
        try:
            return self.classes_[[self._class_dictionary[p] for p in pred.tolist()]]
        except KeyError as exc:
            raise ValueError(f"the wrapped {type(self.estimator_).__name__} predicted {exc.args[0]!r}, which is "
                             f"not a class seen in fit ({self.classes_.tolist()}).") from None

    def _predict_proba(self, X) -> np.ndarray:
        if not callable(getattr(self.estimator_, "predict_proba", None)):
            return super()._predict_proba(X)             # aeon's default: one-hot of predict
        proba = np.asarray(self.estimator_.predict_proba(self._to_neurorec(X)), dtype=np.float64)
        model_classes = self._model_classes()
        if model_classes is None:
            return proba
        column = {c: j for j, c in enumerate(model_classes)}
        try:
            order = [column[c] for c in self.classes_.tolist()]
        except KeyError as exc:
            raise ValueError(f"the wrapped {type(self.estimator_).__name__} has no probability column for class "
                             f"{exc.args[0]!r} (its classes_: {model_classes}).") from None
        return proba[:, order]

    @classmethod
    def _get_test_params(cls, parameter_set="default"):
        """Small, fast models for aeon's estimator checks: a 20-unit ESN (numpy backend) reading the
        mean state, and a linear probe on the raw series averaged over time."""
        from neurorec.models import ESN, FeatureClassifier

        return [{"estimator": ESN(units=20, classify="mean", seed=0)},
                {"estimator": FeatureClassifier(features="identity", input="sequence", pooling="mean", seed=0),
                 "random_state": 1}]


def to_aeon_classifier(model, random_state=None) -> AeonClassifier:
    """``model`` (an unfitted neurorec classifier) wrapped for aeon: ``AeonClassifier(model)``.

    Examples
    --------
    >>> from neurorec.aeon import to_aeon_classifier
    >>> from neurorec.models import LSTM
    >>> to_aeon_classifier(LSTM(units=32, seed=0))
    AeonClassifier(estimator=LSTM(seed=0, units=32))
    """
    return AeonClassifier(model, random_state=random_state)
