r"""Composition: reservoirs in series and in parallel, with one trained readout.

reservoirpy composes nodes with ``>>`` (series) and ``[a, b]`` (parallel, concatenated). The
same models in neurorec are sklearn-style composites whose steps are named ``(name, model)``
pairs, as in :class:`sklearn.pipeline.Pipeline`:

==============================================  ============================================
reservoirpy                                      neurorec
==============================================  ============================================
``r1 >> r2 >> Ridge()``                          ``chain(r1, r2)``
``Input() >> [r1, r2] >> Ridge()``               ``chain(parallel(r1, r2))``
``[data, data >> r] >> Ridge()``                 ``chain(r, input_to_readout=True)``
``r1 >> [r2, r3] >> Ridge()``                    ``chain(r1, parallel(r2, r3))``
==============================================  ============================================

A step is any sequence transformer: ``transform(X)`` maps ``(batch, time, features)`` to
``(batch, time, k)`` (an :class:`~neurorec.models.ESN`, :class:`~neurorec.models.DeepESN`,
:class:`~neurorec.models.NVAR`, a nested :class:`Chain` or :class:`Parallel`). With
:math:`T_i` the steps and :math:`u` the input,

.. math::

    s = T_n(\cdots T_2(T_1(u))), \qquad z[t] = [s[t];\ u[t]] \ (\text{input only with}
    \ ``input\_to\_readout``), \qquad y[t] = W_{out}^\top z[t] + b_{out},

:class:`Parallel` makes :math:`[T_1(u); T_2(u); \ldots]` (and :math:`u` itself with
``include_input=True``), and the readout is ridge regression with an unpenalised intercept
(:class:`~neurorec.models.readout.RidgeAccumulator`, reservoirpy's ``Ridge``): on every step
after ``washout`` for per-step targets, on the mean (or last) feature vector of each sequence
for class labels.

The steps are unsupervised. At ``fit`` each step is copied (a ``set_reservoir`` weight set is
kept), an ESN draws its reservoir from its own ``seed`` (no readout is trained), and any other
step is fitted on its input with a zero target (its own readout is trained and never used)
before its ``transform`` feeds the next step.

For per-sequence features, :class:`Pooled` is a scikit-learn transformer ``(batch, time,
features) -> (batch, k)``, so reservoir states go into :class:`sklearn.pipeline.Pipeline` and
:class:`sklearn.pipeline.FeatureUnion` with any scikit-learn classifier or regressor::

    Pipeline([("states", pooled(ESN(seed=0))), ("clf", RidgeClassifier())])
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.utils.metaestimators import _BaseComposition

from neurorec import _params as P
from neurorec._validation import (
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    resolve_task,
)
from neurorec.base import Model, _qualname, _resolve_class

__all__ = ["Chain", "Parallel", "Pooled", "chain", "parallel", "pooled"]


# ---------------------------------------------------------------------------- steps
def _check_steps(steps, owner: str) -> list:
    """The ``steps`` list, checked: non-empty (name, model) pairs, unique names, each with ``transform``."""
    if isinstance(steps, (str, bytes)) or not isinstance(steps, (list, tuple)) or not steps:
        raise TypeError(f"{owner}(steps=...) must be a non-empty list of (name, model) pairs, got {steps!r}; "
                        f"neurorec.compose.{owner.lower()}(model1, model2, ...) names them for you.")
    names = []
    for i, pair in enumerate(steps):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(f"{owner}(steps=...): entry {i} must be a (name, model) pair, got {pair!r}.")
        name, est = pair
        if not name or "__" in name:
            raise ValueError(f"{owner}(steps=...): step name {name!r} must be non-empty and contain no '__'.")
        if not callable(getattr(est, "transform", None)) or not callable(getattr(est, "fit", None)):
            raise TypeError(f"{owner}(steps=...): step {name!r} ({type(est).__name__}) has no fit/transform, so it "
                            f"cannot feed the next step; a step must map (batch, time, features) to (batch, time, k).")
        names.append(name)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{owner}(steps=...): step names must be unique, {dup} repeat.")
    return list(steps)


def _name_steps(estimators) -> list:
    """``(name, model)`` pairs named after the lower-cased class, numbered when a class repeats."""
    names = [type(e).__name__.lower() for e in estimators]
    out = []
    for i, (n, e) in enumerate(zip(names, estimators, strict=True)):
        out.append((f"{n}{names[:i + 1].count(n)}" if names.count(n) > 1 else n, e))
    return out


def _step_input(data: np.ndarray, lengths: np.ndarray):
    """Padded (B, T, F) data as a step's fit sees it: the array, or a list when lengths differ."""
    if np.all(lengths == data.shape[1]):
        return data
    return [data[i, :L] for i, L in enumerate(lengths)]


def _checked_output(name: str, est, out, data: np.ndarray) -> np.ndarray:
    out = np.asarray(out)
    if out.ndim != 3 or out.shape[:2] != data.shape[:2]:
        raise ValueError(f"step {name!r} ({type(est).__name__}).transform gave shape {out.shape} for input of shape "
                         f"{data.shape}; a step must return (batch, time, features) = {data.shape[:2]} + (k,).")
    return out


def _fit_step(name: str, step, data: np.ndarray, lengths: np.ndarray):
    """A fitted copy of ``step`` on padded ``data`` (B, T, F) and its output (B, T, k)."""
    from neurorec.models.reservoir import ESN

    est = copy.deepcopy(step)
    try:
        if isinstance(est, _Composite):
            return est, est._fit_features(data, lengths)
        if isinstance(est, ESN):
            if est.feedback:
                raise ValueError("an ESN with feedback=True needs its own readout's outputs, so it cannot be a "
                                 "step; use feedback=False.")
            est._validate_params()
            est._cache_reset()
            est._init_reservoir(data.shape[2], 0)     # keeps weights given with set_reservoir
            est.n_features_in_ = int(data.shape[2])
        else:
            Xs = _step_input(data, lengths)
            zeros = [np.zeros((len(x), 1)) for x in Xs] if isinstance(Xs, list) else np.zeros(data.shape[:2] + (1,))
            est.fit(Xs, zeros)
        return est, _checked_output(name, est, est.transform(data), data)
    except ValueError as exc:
        raise ValueError(f"step {name!r} ({type(step).__name__}) given {data.shape[2]} features: {exc}") from exc


def _run_step(name: str, est, data: np.ndarray) -> np.ndarray:
    if isinstance(est, _Composite):
        return est._features(data)
    return _checked_output(name, est, est.transform(data), data)


# ---------------------------------------------------------------------------- a fitted inner model in a file
def export_learned(est: Model, name: str, arrays: dict) -> dict:
    """The learned attributes of the fitted model ``est`` as a model that holds it saves them:
    its arrays go into ``arrays`` under ``"name/attr"`` (``"name/attr/key"`` for a dict of arrays),
    the rest is returned as ``{attr: JSON value}`` (string arrays as ``{"__ndarray__", "dtype"}``)."""
    st = {}
    for k, v in est._learned().items():
        if isinstance(v, np.ndarray) and v.dtype.kind in "US":
            st[k] = {"__ndarray__": v.tolist(), "dtype": v.dtype.str}
        elif isinstance(v, np.ndarray):
            arrays[f"{name}/{k}"] = v
        elif isinstance(v, dict) and v and all(isinstance(a, np.ndarray) for a in v.values()):
            arrays.update({f"{name}/{k}/{sub}": a for sub, a in v.items()})
        else:
            st[k] = v.item() if isinstance(v, np.generic) else v
    return st


def import_learned(est: Model, name: str, arrays: dict, state: dict) -> Model:
    """Set on the unfitted ``est`` the learned attributes :func:`export_learned` wrote; returns it."""
    groups: dict = {}
    for k, v in state.items():
        if isinstance(v, dict) and set(v) == {"__ndarray__", "dtype"}:
            v = np.array(v["__ndarray__"], dtype=np.dtype(v["dtype"]))
        setattr(est, k, v)
    for key, v in arrays.items():
        owner, attr = key.split("/", 1)
        if owner != name:
            continue
        if "/" in attr:
            attr, sub = attr.split("/", 1)
            groups.setdefault(attr, {})[sub] = v
        else:
            setattr(est, attr, v)
    for attr, d in groups.items():
        setattr(est, attr, d)
    return est


# ---------------------------------------------------------------------------- save / load of steps
def _steps_to_json(steps) -> list:
    out = []
    for name, est in steps:
        if not isinstance(est, Model):
            raise TypeError(f"step {name!r} ({type(est).__name__}) is not a neurorec Model, so the composite cannot be "
                            f"saved (no pickle); save its parts another way.")
        params = est.get_params(deep=False)
        if isinstance(est, _Composite):
            params = {**params, "steps": _steps_to_json(params["steps"])}
        out.append([name, {"class": _qualname(type(est)), "params": params}])
    return out


def _is_step_spec(pair) -> bool:
    return isinstance(pair, (list, tuple)) and len(pair) == 2 and isinstance(pair[1], dict) and "class" in pair[1]


def _steps_from_json(spec) -> list:
    out = []
    for name, d in spec:
        cls = _resolve_class(d["class"]) if isinstance(d.get("class"), str) else None
        if cls is None or not isinstance(d.get("params"), dict):
            raise ValueError(f"step {name!r}: {d.get('class')!r} is not a neurorec model class.")
        params = dict(d["params"])
        if issubclass(cls, _Composite):
            params["steps"] = _steps_from_json(params["steps"])
        out.append((name, cls(**params)))
    return out


class _Composite(Model, _BaseComposition):
    """Shared machinery: named steps (nested ``get_params``/``set_params``), fitting the steps in
    order, and saving the fitted steps' arrays in the composite's file."""

    def get_params(self, deep: bool = True) -> dict:
        return self._get_params("steps", deep=deep)

    def set_params(self, **params):
        self._set_params("steps", **params)
        return self

    def _validate_params(self) -> None:
        if isinstance(self.steps, (list, tuple)) and self.steps and all(_is_step_spec(p) for p in self.steps):
            self.steps = _steps_from_json(self.steps)     # read back from a saved file
        super()._validate_params()
        _check_steps(self.steps, type(self).__name__)

    def _is_fitted(self) -> bool:
        return "steps_" in vars(self) or "step_state_" in vars(self)

    # -- the steps -------------------------------------------------------------------
    def _fit_steps_padded(self, data: np.ndarray, lengths: np.ndarray) -> list:
        """Fit the steps (in series for Chain, side by side for Parallel); returns their outputs."""
        raise NotImplementedError

    def _fit_features(self, data: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        self._validate_params()
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        feats = self._fit_steps_padded(data, lengths)
        self.n_features_in_ = int(data.shape[2])
        self.n_features_out_ = int(feats.shape[2])
        return feats

    def _fitted_steps(self) -> list:
        """The fitted steps, rebuilt from ``step_arrays_``/``step_state_`` after :func:`neurorec.load`."""
        if "steps_" not in vars(self):
            self._check_fitted("transform")
            arrays, state = getattr(self, "step_arrays_", {}), self.step_state_
            fitted = []
            for name, step in self.steps:
                est = step.clone() if isinstance(step, Model) else copy.deepcopy(step)
                fitted.append((name, import_learned(est, name, arrays, state.get(name, {}))))
            self.steps_ = fitted
            self.__dict__.pop("step_arrays_", None)
            self.__dict__.pop("step_state_", None)
        return self.steps_

    def _learned(self) -> dict:
        """Learned attributes as saved: the fitted steps become ``step_arrays_`` (``"name/attr"`` ->
        array) and ``step_state_`` (``name -> {attr: JSON value}``)."""
        learned = {k: v for k, v in super()._learned().items() if k != "steps_"}
        if "steps_" not in vars(self):
            return learned
        arrays, state = {}, {}
        for name, est in self.steps_:
            if not isinstance(est, Model):
                raise TypeError(f"step {name!r} ({type(est).__name__}) is not a neurorec Model; the composite "
                                f"cannot be saved.")
            state[name] = export_learned(est, name, arrays)
        learned["step_state_"] = state
        if arrays:
            learned["step_arrays_"] = arrays
        return learned

    def save(self, path):
        """Write the fitted composite (every step's hyperparameters and weights) to one ``.safetensors``
        file; every step must be a neurorec :class:`~neurorec.base.Model`."""
        self._check_fitted("save")
        proxy = copy.copy(self)
        proxy.steps = _steps_to_json(self.steps)
        return Model.save(proxy, path)

    def _check_X(self, X, method: str):
        self._check_fitted(method)
        return check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.float64)


class Parallel(_Composite):
    r"""Steps run side by side on the same input, their features concatenated.

    .. math::

        z[t] = [T_1(u)[t];\ T_2(u)[t];\ \ldots;\ u[t]]

    (the input :math:`u` last, only with ``include_input=True``): reservoirpy's
    ``Input() >> [r1, r2]`` (``[data, data >> r]`` with the input). A transformer, used as a step
    of a :class:`Chain` or :class:`Pooled`.

    Parameters
    ----------
    steps : list of (name, model)
        The branches; each maps (batch, time, features) to (batch, time, k).
    include_input : bool
        Append the input itself to the concatenated features.

    Attributes
    ----------
    steps_ : list of (name, model)
        The fitted branches.
    n_features_in_, n_features_out_ : int
    """

    _param_spec = {"steps": P.Any(), "include_input": P.Bool()}

    def __init__(self, steps, include_input: bool = False):
        self.steps = steps
        self.include_input = include_input

    def _estimator_kind(self) -> str:
        return "transformer"

    def _fit_steps_padded(self, data, lengths):
        outs, fitted = [], []
        for name, step in self.steps:
            est, out = _fit_step(name, step, data, lengths)
            fitted.append((name, est))
            outs.append(out)
        self.steps_ = fitted
        return self._concat(outs, data)

    def _concat(self, outs, data):
        parts = [*outs, data] if self.include_input else outs
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], -1)

    def _features(self, data):
        return self._concat([_run_step(n, e, data) for n, e in self._fitted_steps()], data)

    def fit(self, X, y=None) -> Parallel:
        """Fit every branch on ``X`` (``y`` is ignored: the steps are unsupervised)."""
        batch = check_sequences(X, "X", dtype=np.float64)
        self._fit_features(batch.data, batch.lengths)
        return self

    def transform(self, X):
        """Concatenated branch features (batch, time, n_features_out_) in the caller's layout."""
        batch = self._check_X(X, "transform")
        return batch.unpad(self._features(batch.data))


class Chain(_Composite):
    r"""Steps in series, then a ridge readout: reservoirpy's ``r1 >> r2 >> Ridge()``.

    Each step's output (batch, time, k) is the next step's input; the readout reads the last
    step's features :math:`s[t]` (and the input :math:`u[t]` with ``input_to_readout=True``):

    .. math::

        y[t] = W_{out}^\top [s[t];\ u[t]] + b_{out}, \qquad
        W_{out} = (\tilde Z^\top \tilde Z + \lambda I)^{-1} \tilde Z^\top \tilde Y

    (centred features and targets: the intercept is not penalised; reservoirpy's ``Ridge``).
    Per-step targets (batch, time, outputs) train it on every step after ``washout``; class
    labels (batch,) on each sequence's mean (``pool="mean"``, after ``washout``) or last feature
    vector, one-hot targets, ``predict`` the arg-max.

    Parameters
    ----------
    steps : list of (name, model)
        Sequence transformers (ESN, DeepESN, NVAR, :class:`Parallel`, a nested :class:`Chain`,
        ...). Parameters nest as in scikit-learn: ``set_params(esn1__units=50)``.
    readout : {"ridge"} or None
        ``None`` makes a feature extractor without a readout (``transform`` only).
    ridge : float
        L2 penalty :math:`\lambda`.
    washout : int
        Leading steps of every sequence left out of readout training and of ``score``.
    input_to_readout : bool
        Feed the chain's input to the readout beside the last step's features.
    pool : {"mean", "last"}
        Per-sequence features for classification.
    task : {"auto", "classification", "regression"}
        As for :class:`~neurorec.models.ESN` (``"auto"`` infers it from ``y``).

    Attributes
    ----------
    steps_ : list of (name, model)
        The fitted steps (each reservoir with its weights; a step's own readout, if it has one, is
        unused).
    W_out_ : ndarray (features, outputs), b_out_ : ndarray (outputs,)
        The readout (float64).
    classes_ : ndarray
        Class labels (classification).
    n_features_in_, n_features_out_, n_outputs_ : int
    task_ : {"regression", "classification"}

    Notes
    -----
    Each step draws its weights from its own ``seed``: a chain is reproducible when its steps
    are seeded. ``clone()`` (and so cross-validation and :func:`neurorec.testing.check_model`)
    keeps hyperparameters only, like any estimator: weights given with ``ESN.set_reservoir`` are
    not carried over; the fitted chain keeps them. The readout runs in float64 numpy, whatever the
    steps' backends. ``save`` needs every step to be a neurorec model.

    Examples
    --------
    >>> from neurorec.compose import chain
    >>> from neurorec.data import mackey_glass
    >>> from neurorec.models import ESN
    >>> s = mackey_glass(1000, seed=0)
    >>> m = chain(ESN(units=100, leak_rate=0.3, seed=1), ESN(units=100, leak_rate=0.3, seed=2),
    ...           washout=100).fit(s[:-1], s[1:])
    >>> m.predict(s[:-1]).shape
    (999, 1)
    """

    _param_spec = {"steps": P.Any(), "readout": P.NoneOK() | P.Options("ridge"), "ridge": P.Real(0),
                   "washout": P.Int(0), "input_to_readout": P.Bool(), "pool": P.Options("mean", "last"),
                   "task": P.Options("auto", "classification", "regression")}

    def __init__(self, steps, readout: str | None = "ridge", ridge: float = 1e-6, washout: int = 0,
                 input_to_readout: bool = False, pool: str = "mean", task: str = "auto"):
        self.steps = steps
        self.readout = readout
        self.ridge = ridge
        self.washout = washout
        self.input_to_readout = input_to_readout
        self.pool = pool
        self.task = task

    @property
    def _supported_kinds(self) -> frozenset:
        return frozenset({"forecast", "classify"}) if self.readout is not None else frozenset()

    def _is_fitted(self) -> bool:
        if self.readout is None:
            return super()._is_fitted()
        return super()._is_fitted() and "W_out_" in vars(self)

    def _fit_steps_padded(self, data, lengths):
        x, fitted = data, []
        for name, step in self.steps:
            est, x = _fit_step(name, step, x, lengths)
            fitted.append((name, est))
        self.steps_ = fitted
        return self._with_input(x, data)

    def _with_input(self, x, data):
        x = np.asarray(x, dtype=np.float64)
        return np.concatenate([x, data.astype(np.float64)], -1) if self.input_to_readout else x

    def _features(self, data):
        x = data
        for name, est in self._fitted_steps():
            x = _run_step(name, est, x)
        return self._with_input(x, data)

    def _pooled(self, Z, lengths):
        if self.pool == "last":
            return Z[np.arange(len(lengths)), lengths - 1]
        start = np.where(lengths > self.washout, self.washout, 0)
        t = np.arange(Z.shape[1])[None, :]
        m = ((t >= start[:, None]) & (t < lengths[:, None])).astype(Z.dtype)
        return (Z * m[..., None]).sum(1) / (lengths - start)[:, None]

    def fit(self, X, y=None) -> Chain:
        """Fit the steps in order on ``X``, then the readout on ``y``: class labels (batch,) or
        per-step targets (batch, time, outputs); ``y`` is ignored when ``readout=None``."""
        from neurorec.backends import get_ops
        from neurorec.models.readout import RidgeAccumulator

        self._validate_params()
        if self.readout is None:
            batch = check_sequences(X, "X", dtype=np.float64)
            self._fit_features(batch.data, batch.lengths)
            return self
        if y is None:
            raise ValueError("Chain.fit needs y (class labels (batch,) or per-step targets (batch, time, outputs)); "
                             "use readout=None for a feature extractor.")
        task = resolve_task(self.task, X, y, model="Chain")
        batch = check_sequences(X, "X", dtype=np.float64)
        if task == "classification":
            classes, idx = encode_labels(y, batch.batch, "y")
        else:
            Yt = check_sequence_targets(y, batch, "y", dtype=np.float64)
            m = batch.mask()
            m[:, :self.washout] = False
            if not m.any():
                raise ValueError(f"washout={self.washout} leaves no step to train on: the longest sequence in X "
                                 f"has {int(batch.lengths.max())} steps.")
        S = self._fit_features(batch.data, batch.lengths)
        if task == "classification":
            Z, Y = self._pooled(S, batch.lengths), np.eye(len(classes))[idx]
            self.classes_ = classes
        else:
            Z, Y = S[m], Yt[m]
            self.target_1d_ = bool(batch.single and is_1d_target(y))
        acc = RidgeAccumulator(get_ops("numpy", "cpu", "float64"), Z.shape[1], Y.shape[1])
        acc.add(Z, Y)
        self.W_out_, self.b_out_ = acc.solve(self.ridge)
        self.n_outputs_ = int(Y.shape[1])
        self.task_ = task
        return self

    def transform(self, X):
        """The readout's features (batch, time, n_features_out_) in the caller's layout."""
        batch = self._check_X(X, "transform")
        return batch.unpad(self._features(batch.data))

    def decision_function(self, X) -> np.ndarray:
        """Readout scores: per-step outputs (regression) or class scores (batch, n_classes)."""
        batch = self._check_X(X, "decision_function")
        if self.readout is None:
            raise ValueError("this Chain has readout=None: it gives features (transform), not outputs.")
        Z = self._features(batch.data)
        if self.task_ == "classification":
            return self._pooled(Z, batch.lengths) @ self.W_out_ + self.b_out_
        return batch.unpad(Z @ self.W_out_ + self.b_out_)

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier; a
        regressor fitted on one sequence with a 1-D target returns 1-D."""
        self._check_fitted("predict")
        out = self.decision_function(X)
        if self.task_ == "classification":
            return self.classes_[np.asarray(out).argmax(1)]
        if self.target_1d_ and not isinstance(out, list) and out.ndim == 2 and out.shape[1] == 1:
            return out[:, 0]
        return out


class Pooled(Chain):
    r"""Steps in series, pooled to one feature vector per sequence: a scikit-learn transformer.

    ``transform`` maps (batch, time, features) to (batch, k): the mean of the features over each
    sequence's steps after ``washout`` (``pool="mean"``) or the last step's features
    (``pool="last"``), so reservoir states plug into :class:`sklearn.pipeline.Pipeline` and
    :class:`sklearn.pipeline.FeatureUnion` before any scikit-learn estimator::

        Pipeline([("states", pooled(ESN(units=200, seed=0))), ("clf", RidgeClassifier())])
        FeatureUnion([("a", pooled(ESN(seed=1))), ("b", pooled(NVAR()))])

    Parameters are :class:`Chain`'s without the readout.
    """

    _param_spec = {"steps": P.Any(), "washout": P.Int(0), "input_to_readout": P.Bool(),
                   "pool": P.Options("mean", "last")}
    readout = None

    def __init__(self, steps, washout: int = 0, input_to_readout: bool = False, pool: str = "mean"):
        self.steps = steps
        self.washout = washout
        self.input_to_readout = input_to_readout
        self.pool = pool

    def _estimator_kind(self) -> str:
        return "transformer"

    def fit(self, X, y=None) -> Pooled:
        """Fit the steps on ``X`` (``y`` is ignored: the steps are unsupervised)."""
        self._validate_params()
        batch = check_sequences(X, "X", dtype=np.float64)
        self._fit_features(batch.data, batch.lengths)
        return self

    def transform(self, X) -> np.ndarray:
        """Pooled features (batch, n_features_out_); one (time, features) sequence gives (1, k)."""
        batch = self._check_X(X, "transform")
        return self._pooled(self._features(batch.data), batch.lengths)


def chain(*steps, **params) -> Chain:
    """A :class:`Chain` of ``steps`` named after their classes (``esn1``, ``esn2``, ``nvar``, ...);
    ``params`` are the Chain's (``ridge=``, ``washout=``, ``input_to_readout=``, ...)."""
    return Chain(_name_steps(steps), **params)


def parallel(*steps, include_input: bool = False) -> Parallel:
    """A :class:`Parallel` of ``steps`` named after their classes."""
    return Parallel(_name_steps(steps), include_input=include_input)


def pooled(*steps, **params) -> Pooled:
    """A :class:`Pooled` transformer of ``steps`` in series, named after their classes."""
    return Pooled(_name_steps(steps), **params)
