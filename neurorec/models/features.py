r"""Linear probes: any feature model followed by one fixed linear classifier.

:class:`FeatureClassifier` compares *features* (Hebbian projections, PCA scores, reservoir
states, raw inputs) on a classification task by putting the same multinomial logistic
regression on top of each, the linear evaluation protocol of representation learning
(Alain & Bengio 2016). A sequence :math:`x` becomes a feature vector

.. math::

    z = \mathrm{pool}\big(\phi(x)\big), \qquad \hat z = (z - \mu) \oslash \sigma, \qquad
    p(c \mid x) = \mathrm{softmax}(W \hat z + b)_c,

where :math:`\phi` is the fitted feature model (or the identity), :math:`\mu, \sigma` are the
training features' mean and standard deviation, and :math:`W, b` minimise the cross-entropy
plus :math:`\lVert W \rVert_F^2 / (2C)` (L-BFGS).
"""

from __future__ import annotations

import inspect
import sys

import numpy as np

from neurorec import _params as P
from neurorec._validation import (
    SeqBatch,
    check_finite,
    check_sequences,
    encode_labels,
    is_table,
    tabular_as_sequences,
)
from neurorec.base import Model, NotFittedError

__all__ = ["FeatureClassifier"]

_INPUTS = ("flatten", "sequence")
_POOLING = ("last", "mean", "concat")
_IDENTITY = "identity"
_SEP = "/"


class _NotJSON(Exception):
    pass


def _json_value(v):
    """``v`` as a JSON value (numpy scalars to Python, tuples to lists); raises _NotJSON."""
    if isinstance(v, np.generic):
        v = v.item()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple)):
        return [_json_value(x) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: _json_value(x) for k, x in v.items()}
    raise _NotJSON


def _split_state(est, neurorec_model: bool):
    """The fitted state of ``est``: ``(arrays, json_state, names that are neither)``.

    A neurorec model's state is its learned attributes (public, ending in ``_``; a dict of
    arrays becomes ``attr/key`` entries); a foreign estimator's is every instance attribute
    that is not a hyperparameter (scikit-learn keeps some fitted state in private names, such
    as PCA's ``_fit_svd_solver``).
    """
    if neurorec_model:
        items = est._learned().items()
    else:
        params = set(est.get_params(deep=False)) if hasattr(est, "get_params") else set()
        items = ((k, v) for k, v in vars(est).items() if k not in params and not k.startswith("__"))
    arrays, state, bad = {}, {}, []
    for k, v in items:
        if isinstance(v, np.ndarray) and v.dtype != object:
            arrays[k] = v
        elif (isinstance(v, dict) and v and all(isinstance(a, np.ndarray) and a.dtype != object
                                                for a in v.values())
              and all(isinstance(key, str) for key in v)):
            for key, a in v.items():
                arrays[f"{k}{_SEP}{key}"] = a
        else:
            try:
                state[k] = _json_value(v)
            except _NotJSON:
                bad.append(f"{k} ({type(v).__name__})")
    return arrays, state, bad


class FeatureClassifier(Model):
    r"""A linear probe: a feature model followed by one multinomial logistic regression.

    ``fit(X, y)`` fits the feature model on the training sequences, pools its features per
    sequence, standardises them with the training mean and standard deviation and fits the
    classifier on them; ``predict`` runs the same chain. Because the classifier is the same for
    every feature model, the accuracies compare the features, not the readouts.

    .. math::

        z = \mathrm{pool}(\phi(x)), \quad \hat z = (z - \mu) \oslash \sigma, \quad
        \hat y = \arg\max_c\, (W \hat z + b)_c,

    with :math:`W, b` minimising :math:`-\sum_n \log \mathrm{softmax}(W \hat z_n + b)_{y_n}
    + \lVert W \rVert_F^2 / (2C)`.

    The classifier is scikit-learn's :class:`~sklearn.linear_model.LogisticRegression`
    (multinomial, L-BFGS) rather than neurorec's one-hot ridge readout
    (:class:`~neurorec.models.readout.RidgeAccumulator`): the cross-entropy is the proper loss
    for labels and the usual linear-probe protocol, while least squares on one-hot targets also
    penalises confidently correct outputs. On the ``digits`` task (test split, seeds 0-2) the
    ridge readout loses 3-4 accuracy points to logistic regression on the same features (raw
    pixels 0.925-0.936 vs 0.964-0.975; 16 PCA scores 0.906-0.917 vs 0.944-0.953), which would
    compress exactly the differences between features that the probe is meant to show. It also
    keeps the probe independent of the ridge readout the reservoir models are trained with.

    Parameters
    ----------
    features : str
        The feature model: ``"identity"`` (the raw inputs, the baseline), a class name in
        :mod:`neurorec.models` (``"Sanger"``, ``"Oja"``, ``"ESN"``, ...) or
        ``"package.module:ClassName"`` (``"sklearn.decomposition:PCA"``). The class needs
        ``fit`` and ``transform``. It is fitted with ``fit(Z, y)`` (``fit(Z)`` if its ``fit``
        takes one argument): unsupervised learners (the Hebbian models, PCA) ignore ``y``; the
        ESN needs the labels to fit its own ridge readout, but only its ``transform`` (the
        reservoir states) is used here.
    feature_params : dict or None
        Keyword arguments of the feature class (e.g. ``{"n_components": 16, "lr": 0.01}``).
        Saved with the model, so they must be JSON values. The backend and device are the
        feature model's (``{"backend": "torch", "device": "cuda"}``); the classifier runs on
        the CPU with scikit-learn.
    input : {"flatten", "sequence"}
        ``"flatten"``: every sequence ``(T, F)`` becomes one ``T*F`` vector and the feature
        model maps ``(n, T*F)`` to ``(n, k)`` (static learners only: Oja, Sanger, PCA; a
        neurorec sequence model such as the ESN is refused, since it would read the samples as
        the steps of one sequence); all sequences must have the same length ``T``, in ``fit``
        and after. ``"sequence"``: the
        feature model receives the sequences (a ``(batch, T, F)`` array, or a list of
        ``(T_i, F)`` arrays when their lengths differ) and its ``transform`` returns per-step
        features ``(batch, T, k)`` (or a list of ``(T_i, k)``), pooled by ``pooling``. A
        Hebbian model given sequences learns from every step as one sample.
    pooling : {"last", "mean", "concat"}
        With ``input="sequence"``: the last step's features, their mean over the sequence, or
        all steps concatenated (``T*k`` features; sequences of one length only).
    C : float
        Inverse L2 strength of the logistic regression (scikit-learn's ``C``).
    standardize : bool
        Standardise the features with the training mean and standard deviation (a constant
        feature is left unscaled) before the classifier.
    max_iter : int
        L-BFGS iterations allowed to the classifier.
    seed : int or None
        Passed to the feature model as ``seed`` (or ``random_state``) when its class takes one
        and ``feature_params`` does not set it. The classifier is deterministic.

    Attributes
    ----------
    features_ : object or None
        The fitted feature model (``None`` for ``"identity"``); rebuilt from
        ``feature_arrays_`` and ``feature_state_`` after :meth:`load`.
    feature_arrays_ : dict of ndarray
        The feature model's fitted arrays (a dict attribute ``a`` of it appears as ``a/key``).
    feature_state_ : dict
        Its fitted non-array state (JSON values).
    classes_ : ndarray (n_classes,)
        The sorted training labels (any dtype, e.g. strings).
    coef_ : ndarray (n_classes, n_features_out_), or (1, n_features_out_) for two classes
    intercept_ : ndarray (n_classes,) or (1,)
    scaler_mean_, scaler_scale_ : ndarray (n_features_out_,)
        :math:`\mu, \sigma` (zeros and ones with ``standardize=False``).
    n_features_in_ : int
        Features per time step of ``X``.
    n_steps_ : int or None
        Sequence length seen in ``fit`` (required of later inputs with ``input="flatten"`` or
        ``pooling="concat"``; ``None`` when the training lengths differed).
    n_features_out_ : int
        Number of features given to the classifier.
    n_iter_ : int
        L-BFGS iterations the classifier took.
    task_ : "classification"

    Notes
    -----
    Every hyperparameter is checked at ``fit`` and on :func:`neurorec.load`; a bad value raises
    :class:`neurorec._params.ParameterError` (a ``ValueError``) naming it.

    **scikit-learn.** A classifier (its tags say so, so ``cross_val_score`` stratifies). A 2-D
    ``X`` (samples, features) is a table: each row is a one-step sequence, in ``fit``,
    ``predict``, ``predict_proba``, ``decision_function``, ``transform`` and ``score``; 3-D
    arrays and lists of ``(time_i, features)`` arrays are batches of sequences. Labels may be any
    hashable, sortable values (strings too), mapped back by ``predict``. ``predict_proba`` rows
    sum to one and their arg-max is ``predict``; ``decision_function`` is 1-D for two classes.

    :meth:`save` stores the feature model's fitted arrays and state beside the classifier and
    :meth:`load` rebuilds it from its class, its parameters and that state, without pickle.
    This covers neurorec models (their learned attributes) and foreign estimators whose fitted
    attributes are arrays and JSON values, such as scikit-learn's PCA (all its instance
    attributes that are not hyperparameters, private ones included); for any other fitted
    attribute :meth:`save` raises a :class:`TypeError` naming it. A loaded model rebuilds its
    feature model on first use; it imports neurorec's and scikit-learn's modules itself, but a
    feature class from any other module only if the program has imported that module already,
    as :func:`neurorec.load` does with model classes.

    ``n_parameters_`` adds the classifier's weights to the feature model's own count (its
    ``n_parameters_``, or the size of its arrays for a foreign estimator); for the ESN this
    includes the ridge readout its ``fit`` trains, although only its states are used here.

    References
    ----------
    G. Alain & Y. Bengio (2016), Understanding intermediate layers using linear classifier
    probes, arXiv:1610.01644.

    Examples
    --------
    >>> from neurorec.data import get_task
    >>> from neurorec.models import FeatureClassifier
    >>> d = get_task("digits").load(0)
    >>> m = FeatureClassifier("Sanger", {"n_components": 16, "lr": 0.002, "epochs": 300,
    ...                                  "batch_size": 32}, seed=0)
    >>> acc = m.fit(d.train.X, d.train.y).score(d.test.X, d.test.y)    # doctest: +SKIP
    >>> esn = FeatureClassifier("ESN", {"units": 500, "leak_rate": 0.5, "input_scaling": 0.5},
    ...                         input="sequence", pooling="concat", seed=0)   # reservoir states
    """

    _supported_kinds = frozenset({"classify"})

    def __init__(self, features: str = "Sanger", feature_params: dict | None = None, input: str = "flatten",
                 pooling: str = "mean", C: float = 1.0, standardize: bool = True, max_iter: int = 1000,
                 seed=None):
        self.features = features
        self.feature_params = feature_params
        self.input = input
        self.pooling = pooling
        self.C = C
        self.standardize = standardize
        self.max_iter = max_iter
        self.seed = seed

    # -- checks ----------------------------------------------------------------------------
    # every hyperparameter, checked at fit and on load (neurorec._params); feature_params is
    # checked in _validate_params (a dict of str keys, or None); the seed is an int passed on
    # to the feature model and saved with the model, not a Generator
    _param_spec = {
        "features": P.Str(), "feature_params": P.Any(), "input": P.Options(*_INPUTS),
        "pooling": P.Options(*_POOLING), "C": P.Real(0, None, closed="neither"), "standardize": P.Bool(),
        "max_iter": P.Int(1), "seed": P.NoneOK() | P.Int(0, 2 ** 63 - 1),
    }

    def _estimator_kind(self) -> str:
        return "classifier"

    def _validate_params(self) -> None:
        super()._validate_params()
        if not self.features.strip():
            raise P.ParameterError(f"FeatureClassifier(features={self.features!r}) is invalid: features must be "
                                   f"'identity', a class name in neurorec.models or 'package.module:ClassName'.")
        fp = self.feature_params
        if fp is not None:
            if not isinstance(fp, dict) or not all(isinstance(k, str) for k in fp):
                raise P.ParameterError(f"FeatureClassifier(feature_params={fp!r}) is invalid: feature_params must "
                                       f"be a dict of keyword arguments (str keys) or None, got {fp!r} "
                                       f"({type(fp).__name__}).")
            if self.features == _IDENTITY and fp:
                raise P.ParameterError(f"FeatureClassifier(feature_params={fp!r}) is invalid: features='identity' "
                                       f"takes no feature_params.")

    def _feature_class(self, loading: bool = False) -> type | None:
        """The feature class; when rebuilding a loaded model, a module outside neurorec and
        scikit-learn is only used if the program has imported it already (a model file never
        makes neurorec import a module that is named in it, as :func:`neurorec.load` never does)."""
        if self.features == _IDENTITY:
            return None
        from neurorec.experiment.specs import SpecError, resolve_class

        if loading:
            ref = self.features
            module = ref.partition(":")[0] if ":" in ref else ref.rpartition(".")[0] if "." in ref else ""
            trusted = module == "" or module.split(".")[0] in ("neurorec", "sklearn")
            if not trusted and module not in sys.modules:
                raise ValueError(f"this model's feature class {ref!r} is in the module {module!r}, which is not "
                                 f"imported: import it before using a loaded model.")

        try:
            cls = resolve_class(self.features)
        except SpecError as exc:
            raise ValueError(f"features={self.features!r}: {exc}") from None
        missing = [m for m in ("fit", "transform") if not callable(getattr(cls, m, None))]
        if missing:
            raise ValueError(f"features={self.features!r}: {cls.__name__} has no {' / '.join(missing)} method; "
                             f"a feature model needs fit and transform.")
        return cls

    def _build_features(self, cls: type):
        if self.input == "flatten" and issubclass(cls, Model) and hasattr(cls, "_supported_kinds"):
            # a neurorec sequence model reads a 2-d array as ONE sequence: every sample would be a
            # time step carrying state from the samples before it
            raise ValueError(f"{cls.__name__} is a sequence model; input='flatten' gives a feature model one "
                             "vector per sample (static learners: Hebbian rules, PCA). Use input='sequence'.")
        params = dict(self.feature_params or {})
        try:
            names = set(inspect.signature(cls).parameters)
        except (TypeError, ValueError):
            names = set()
        if self.seed is not None:
            for key in ("seed", "random_state"):
                if key in names:
                    if params.get(key) is None:  # absent or None: the classifier's seed
                        params[key] = int(self.seed)
                    break
        try:
            return cls(**params)
        except TypeError as exc:
            raise ValueError(f"feature_params={self.feature_params!r} are not accepted by "
                             f"{cls.__name__}: {exc}") from None

    # -- the feature chain -----------------------------------------------------------------
    def _check_X(self, X, fitted: bool) -> SeqBatch:
        tabular = is_table(X)       # a 2-D X is a table: each row a one-step sequence
        if tabular:
            X = tabular_as_sequences(X)
        batch = check_sequences(X, "X", n_features=self.n_features_in_ if fitted else None, dtype=np.float64,
                                layout_warning=not tabular)
        needs_length = self.input == "flatten" or self.pooling == "concat"
        if needs_length and not batch.uniform:
            what = "input='flatten'" if self.input == "flatten" else "pooling='concat'"
            raise ValueError(f"{what} needs sequences of one length, but X holds sequences of "
                             f"{int(batch.lengths.min())} to {int(batch.lengths.max())} steps; use "
                             f"input='sequence' with pooling 'mean' or 'last', or pad/resample X.")
        if fitted and needs_length and self.n_steps_ is not None and batch.data.shape[1] != self.n_steps_:
            what = "input='flatten'" if self.input == "flatten" else "pooling='concat'"
            raise ValueError(f"X has {batch.data.shape[1]} steps per sequence but the model was fitted on "
                             f"{self.n_steps_} ({what} needs the same length); expected shape "
                             f"(batch, {self.n_steps_}, {self.n_features_in_}), got {batch.data.shape}.")
        return batch

    def _model_input(self, batch: SeqBatch):
        B = batch.batch
        if self.input == "flatten":
            return batch.data.reshape(B, -1)
        if batch.uniform:
            return batch.data
        return [batch.data[i, : batch.lengths[i]] for i in range(B)]

    def _pool(self, H, batch: SeqBatch) -> np.ndarray:
        """Per-step features ``H`` (batch, T, k) array or list of (T_i, k) -> (batch, k')."""
        B = batch.batch
        name = f"{self.features}.transform"
        if isinstance(H, (list, tuple)):
            seqs = [np.asarray(h, dtype=np.float64) for h in H]
        else:
            H = np.asarray(H, dtype=np.float64)
            if H.ndim != 3 or H.shape[0] != B or H.shape[1] != batch.data.shape[1]:
                raise ValueError(f"{name} returned shape {H.shape}; with input='sequence' it must return "
                                 f"per-step features (batch, time, k) = ({B}, {batch.data.shape[1]}, k).")
            seqs = None
        if seqs is not None:
            if len(seqs) != B or any(h.ndim != 2 or h.shape[0] != n for h, n in zip(seqs, batch.lengths,
                                                                                   strict=True)):
                raise ValueError(f"{name} returned a list that does not match the {B} input sequences; "
                                 f"expected one (time_i, k) array per sequence.")
            if self.pooling == "last":
                return np.stack([h[-1] for h in seqs])
            return np.stack([h.mean(0) for h in seqs])      # "concat" was refused for ragged X
        if self.pooling == "last":
            return H[np.arange(B), batch.lengths - 1]
        if self.pooling == "concat":
            return H.reshape(B, -1)
        if batch.uniform:
            return H.mean(1)
        m = batch.mask()[..., None]
        return (H * m).sum(1) / batch.lengths[:, None]

    def _features_of(self, model, batch: SeqBatch) -> np.ndarray:
        Zin = self._model_input(batch)
        if model is None:
            Z = Zin if self.input == "flatten" else self._pool(Zin, batch)
        else:
            H = model.transform(Zin)
            if self.input == "flatten":
                Z = np.asarray(H, dtype=np.float64)
                if Z.ndim != 2 or Z.shape[0] != batch.batch:
                    raise ValueError(f"{self.features}.transform returned shape {Z.shape}; with input='flatten' "
                                     f"it must map (n, T*F) to (n, k) = ({batch.batch}, k).")
            else:
                Z = self._pool(H, batch)
        Z = np.asarray(Z, dtype=np.float64)
        try:
            check_finite(Z, f"the features of {self.features}")
        except ValueError as exc:
            raise ValueError(f"{exc} (the feature model diverged or produced invalid values)") from None
        return Z

    # -- fit / predict ---------------------------------------------------------------------
    def fit(self, X, y) -> FeatureClassifier:
        """Fit the feature model on ``X``, then the classifier on its pooled, standardised features.

        Parameters
        ----------
        X : array (batch, time, features), or a list of (time_i, features) arrays
            (``input="sequence"`` with ``pooling`` "mean" or "last" only); a 2-D array
            (samples, features) is a table: every row a one-step sequence.
        y : labels (batch,)
            Integers, strings or other hashable, sortable labels (whole-number floats too;
            other floats are refused as continuous); ``classes_`` holds them sorted and
            :meth:`predict` returns them.
        """
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler

        self._validate_params()
        cls = self._feature_class()
        for k in list(self._learned()):
            delattr(self, k)
        self.__dict__.pop("_features_model", None)
        self.__dict__.pop("_unsaveable", None)
        batch = self._check_X(X, fitted=False)
        classes, labels = encode_labels(y, batch.batch, "y")      # labels: indices into classes
        if classes.size < 2:
            raise ValueError(f"y holds a single class {classes.tolist()} (one class); a classifier needs at least two.")
        model = None
        if cls is not None:
            model = self._build_features(cls)
            Zin = self._model_input(batch)
            try:
                n_args = len([p for p in inspect.signature(model.fit).parameters.values()
                              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)])
            except (TypeError, ValueError):
                n_args = 2
            fitted = model.fit(Zin, labels) if n_args >= 2 else model.fit(Zin)
            model = model if fitted is None else fitted
        self.n_features_in_ = int(batch.data.shape[2])
        self.n_steps_ = int(batch.data.shape[1]) if batch.uniform else None
        Z = self._features_of(model, batch)
        if self.standardize:        # scikit-learn's scaler: a constant feature keeps scale 1
            scaler = StandardScaler().fit(Z)
            mean, scale = scaler.mean_.astype(np.float64), scaler.scale_.astype(np.float64)
        else:
            mean, scale = np.zeros(Z.shape[1]), np.ones(Z.shape[1])
        clf = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))
        clf.fit((Z - mean) / scale, labels)
        # the fitted feature model, and its state in saveable form
        if model is not None:
            arrays, state, bad = _split_state(model, isinstance(model, Model))
        else:
            arrays, state, bad = {}, {}, []
        self._features_model = model
        self._unsaveable = bad
        self.feature_arrays_ = arrays
        self.feature_state_ = state
        self.classes_ = classes
        self.coef_ = clf.coef_.astype(np.float64)
        self.intercept_ = clf.intercept_.astype(np.float64)
        self.scaler_mean_ = mean
        self.scaler_scale_ = scale
        self.n_features_out_ = int(Z.shape[1])
        self.n_iter_ = int(np.max(clf.n_iter_))
        self.task_ = "classification"
        return self

    def _is_fitted(self) -> bool:
        return hasattr(self, "coef_")

    @property
    def features_(self):
        """The fitted feature model (``None`` for ``"identity"``)."""
        self._check_fitted("features_")
        if "_features_model" not in self.__dict__:
            self._features_model = self._rebuild_features()
        return self._features_model

    def _rebuild_features(self):
        cls = self._feature_class(loading=True)
        if cls is None:
            return None
        model = self._build_features(cls)
        groups: dict = {}
        for k, v in self.feature_arrays_.items():
            attr, _, key = k.partition(_SEP)
            if key:
                groups.setdefault(attr, {})[key] = v
            else:
                groups[attr] = v
        for k, v in {**self.feature_state_, **groups}.items():
            if not (isinstance(k, str) and k.isidentifier() and not k.startswith("__")):
                raise ValueError(f"cannot rebuild the feature model: {k!r} is not an attribute name.")
            setattr(model, k, v)
        return model

    def transform(self, X) -> np.ndarray:
        """The pooled features given to the classifier, before standardisation: (batch, n_features_out_)."""
        self._check_fitted("transform")
        batch = self._check_X(X, fitted=True)
        Z = self._features_of(self.features_, batch)
        if Z.shape[1] != self.n_features_out_:
            raise ValueError(f"the feature model gave {Z.shape[1]} features for X but {self.n_features_out_} "
                             f"in fit.")
        return Z

    def decision_function(self, X) -> np.ndarray:
        """Class scores :math:`W \\hat z + b`: (batch, n_classes), or (batch,) for two classes."""
        Z = self.transform(X)
        s = ((Z - self.scaler_mean_) / self.scaler_scale_) @ self.coef_.T + self.intercept_
        return s[:, 0] if s.shape[1] == 1 else s

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (batch, n_classes): the softmax of the scores (a sigmoid for two classes)."""
        s = self.decision_function(X)
        if s.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-s))
            return np.stack([1.0 - p1, p1], 1)
        s = s - s.max(1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class labels (batch,)."""
        s = self.decision_function(X)
        idx = (s > 0).astype(np.int64) if s.ndim == 1 else s.argmax(1)
        return self.classes_[idx]

    @property
    def n_parameters_(self) -> dict:
        """``{"total", "trained"}``: the classifier's weights plus the feature model's own count."""
        self._check_fitted("n_parameters_")
        clf = int(self.coef_.size + self.intercept_.size)
        model = self.features_
        if model is None:
            feat = {"total": 0, "trained": 0}
        elif isinstance(model, Model):
            try:
                feat = dict(model.n_parameters_)
            except (NotFittedError, AttributeError):
                feat = {"total": 0, "trained": 0}
        else:
            n = int(sum(a.size for a in self.feature_arrays_.values()))
            feat = {"total": n, "trained": n}
        return {"total": int(feat["total"]) + clf, "trained": int(feat["trained"]) + clf}

    def save(self, path):
        """Write the fitted model (classifier and feature model) to ``path``; see :meth:`Model.save`."""
        self._check_fitted("save")
        bad = self.__dict__.get("_unsaveable") or []
        if bad:
            raise TypeError(f"cannot save this FeatureClassifier: its feature model "
                            f"{type(self.features_).__name__} has fitted attributes that are neither arrays "
                            f"nor JSON values: {', '.join(bad)}.")
        return super().save(path)
