r"""Hebbian learners: plain Hebb, Oja, Sanger (GHA), BCM and Földiák's anti-Hebbian decorrelation.

Every model here is an unsupervised feature map with ``fit(X)``, ``partial_fit(X)`` (online),
``transform(X)`` and ``score(X)`` (higher is better; what it measures is the rule's own goal, given
in each class's docstring; ``y`` is accepted and ignored, as in scikit-learn's decompositions). For
scikit-learn they are transformers (``fit_transform`` too; ``parametrize_with_checks`` passes on each), and
every hyperparameter is checked against the class's ``_param_spec`` at ``fit`` and on :func:`neurorec.load`
(a :class:`neurorec._params.ParameterError` names it, its value and what is allowed).
``X`` is ``(n_samples, n_features)``; a batch of sequences
``(batch, time, features)`` is accepted too and its time axis is flattened into samples (the
rules see every time step as one sample; ``transform`` gives ``(batch, time, n_components)``
back).

All rules share one training loop. The samples are (optionally) centred by the training mean,
visited in ``epochs`` passes (each in a new random order when ``shuffle=True``, drawn from a
:class:`numpy.random.Generator` seeded with ``seed``), and consumed in mini-batches of
``batch_size`` samples. Each mini-batch :math:`B` makes one update with the rule's increment
averaged over the batch, with step size

.. math:: \eta_t = \frac{\eta_0}{1 + \delta\, t}

(``lr`` :math:`=\eta_0`, ``lr_decay`` :math:`=\delta`, :math:`t` the number of updates made so
far, carried over between ``partial_fit`` calls). ``batch_size=1`` is the classical per-sample
online rule; larger batches average the stochastic increments and are faster. With
:math:`y = W x` (rows of ``components_`` are the weight vectors :math:`w_i`):

- :class:`Hebb`: :math:`\Delta W = \eta\, y x^\top` (optionally each row renormalised to unit
  length after every update).
- :class:`Oja`: :math:`\Delta W = \eta\,(y x^\top - y y^\top W)` (Oja 1982 for one unit; the
  symmetric subspace rule of Oja 1989 for several).
- :class:`Sanger`: :math:`\Delta W = \eta\,(y x^\top - \mathrm{LT}(y y^\top) W)`.
- :class:`BCM`: :math:`\Delta w_i = \eta\, y_i (y_i - \theta_i) x`,
  :math:`\theta_i \leftarrow \theta_i + (\overline{y_i^2} - \theta_i)\,|B|/\tau_\theta`.
- :class:`AntiHebbian`: :math:`y = (I - V)^{-1} x`, :math:`\Delta V = -\eta\, y y^\top` off the
  diagonal.

The numpy and torch backends run the same update code (only the array library is dispatched)
and agree to rounding error in float64.
"""

from __future__ import annotations

import numpy as np

from neurorec import _params as P
from neurorec._validation import check_finite, numeric_array
from neurorec.backends.ops import Ops
from neurorec.base import Model

__all__ = ["Hebb", "Oja", "Sanger", "BCM", "AntiHebbian"]


def _as_samples(X, name: str, n_features: int | None = None) -> tuple[np.ndarray, tuple]:
    """``(samples (n, f) float64, leading shape)``: a (batch, time, f) array is flattened."""
    a = numeric_array(X, name, "real numbers with shape (n_samples, n_features) or (batch, time, features)")
    a = a.astype(np.float64)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (n_samples, n_features) or (batch, time, features), got "
                         f"shape {a.shape}. Reshape your data (e.g. X[:, None] for one feature, X[None] for "
                         f"one sample).")
    if a.shape[-1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={a.shape}) while a minimum of 1 is required.")
    if 0 in a.shape:
        raise ValueError(f"{name} has 0 sample(s) (shape={a.shape}) while a minimum of 1 is required.")
    check_finite(a, name)
    if n_features is not None and a.shape[-1] != n_features:
        raise ValueError(f"{name} has {a.shape[-1]} features, but it is expecting {n_features} features as "
                         f"input (the model was fitted on {n_features}); expected shape (n_samples, "
                         f"{n_features}).")
    return a.reshape(-1, a.shape[-1]), a.shape[:-1]


def _row_norms(xp, W):
    return xp.sqrt((W * W).sum(1))[:, None]


class _Hebbian(Model):
    """Shared fit / partial_fit / transform of the Hebbian learners (not a public model)."""

    _weights = "components_"   # the matrix the rule updates
    _state: tuple = ()         # further learned arrays the rule updates (e.g. BCM's theta_)
    _default_center = True
    _param_spec = {"lr": P.Real(0, None, closed="right"), "lr_decay": P.Real(0), "epochs": P.Int(1),
                   "batch_size": P.Int(1), "shuffle": P.Bool(), "center": P.Bool(),
                   "backend": P.Options("numpy", "torch"), "device": P.Str(),
                   "dtype": P.Options("float32", "float64"), "seed": P.Seed()}

    def _estimator_kind(self) -> str:
        """A transformer for scikit-learn: ``fit(X, y=None)`` learns features, ``transform`` projects."""
        return "transformer"

    # -- hooks -------------------------------------------------------------------------
    def _n_out(self, n_features: int) -> int:
        k = int(self.n_components)
        if k > n_features:
            raise ValueError(f"n_components={k} is larger than the number of features {n_features}.")
        return k

    def _init_weights(self, rng: np.random.Generator, k: int, n: int) -> np.ndarray:
        W = rng.standard_normal((k, n))
        return W / np.linalg.norm(W, axis=1, keepdims=True)

    def _init_state(self, k: int) -> dict:
        return {}

    def _update(self, ops: Ops, W, Xb, lr: float, state: dict):  # pragma: no cover
        raise NotImplementedError

    def _finish(self) -> None:
        """Derived attributes after training (``components_`` for AntiHebbian)."""

    # -- validation --------------------------------------------------------------------
    def _validate_params(self) -> Ops:
        """Every hyperparameter against ``_param_spec`` (:class:`neurorec._params.ParameterError`
        naming it), then the backend; returns the backend's :class:`Ops`."""
        super()._validate_params()
        return Ops(self.backend, self.device, self.dtype)

    def _is_fitted(self) -> bool:
        return hasattr(self, self._weights)

    # -- training ----------------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn from ``X`` (n_samples, n_features) or (batch, time, features) from scratch:
        ``epochs`` passes, shuffled each pass when ``shuffle`` is true. Returns ``self``."""
        ops = self._validate_params()
        Xs, _ = _as_samples(X, "X")
        for k in list(self._learned()):
            delattr(self, k)
        rng = np.random.default_rng(self.seed)
        self._start(Xs.shape[1], rng)
        self.mean_ = Xs.mean(0) if self.center else np.zeros(Xs.shape[1])
        self.n_samples_seen_ = int(Xs.shape[0])
        self._train(ops, Xs - self.mean_, self.epochs, rng if self.shuffle else None)
        return self

    def partial_fit(self, X, y=None):
        """One online pass over ``X`` in the order given (no shuffling, ``epochs`` ignored).

        The first call initialises the weights from ``seed``. With ``center=True`` the mean is the
        running mean of every sample seen so far, updated before this batch is learned.
        """
        ops = self._validate_params()
        fitted = self._is_fitted()
        Xs, _ = _as_samples(X, "X", self.n_features_in_ if fitted else None)
        if not fitted:
            self._start(Xs.shape[1], np.random.default_rng(self.seed))
            self.mean_ = np.zeros(Xs.shape[1])
            self.n_samples_seen_ = 0
        m, n0 = Xs.shape[0], self.n_samples_seen_
        if self.center:
            self.mean_ = (n0 * self.mean_ + Xs.sum(0)) / (n0 + m)
        self.n_samples_seen_ = n0 + m
        self._train(ops, Xs - self.mean_, 1, None)
        return self

    def _start(self, n: int, rng: np.random.Generator) -> None:
        k = self._n_out(n)
        setattr(self, self._weights, self._init_weights(rng, k, n))
        for name, v in self._init_state(k).items():
            setattr(self, name, v)
        self.n_features_in_ = n
        self.n_updates_ = 0

    def _train(self, ops: Ops, Xc: np.ndarray, epochs: int, rng) -> None:
        W = ops.asarray(getattr(self, self._weights))
        state = {name: ops.asarray(getattr(self, name)) for name in self._state}
        Xt = ops.asarray(Xc)
        n, bs, t = Xc.shape[0], self.batch_size, self.n_updates_
        with np.errstate(over="ignore", invalid="ignore"):    # divergence is reported below
            for _ in range(epochs):
                Xe = Xt if rng is None else Xt[ops.index(rng.permutation(n))]
                for s in range(0, n, bs):
                    W = self._update(ops, W, Xe[s:s + bs], self.lr / (1.0 + self.lr_decay * t), state)
                    t += 1
        W = ops.to_numpy(W).astype(np.float64)
        if not np.isfinite(W).all():
            raise FloatingPointError(f"{type(self).__name__}'s weights became infinite or NaN during "
                                     f"training (lr={self.lr}); lower lr or set lr_decay > 0.")
        setattr(self, self._weights, W)
        for name, v in state.items():
            setattr(self, name, ops.to_numpy(v).astype(np.float64))
        self.n_updates_ = int(t)
        self._finish()

    # -- features ----------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        r"""Project: :math:`(X - \bar x) W^\top`, shape (n_samples, k), or (batch, time, k) for a
        batch of sequences."""
        self._check_fitted("transform")
        Xs, lead = _as_samples(X, "X", self.n_features_in_)
        ops = Ops(self.backend, self.device, self.dtype)
        out = ops.to_numpy(ops.asarray(Xs - self.mean_) @ ops.asarray(self.components_).T)
        return out.astype(np.float64).reshape(*lead, -1)

    def fit_transform(self, X, y=None) -> np.ndarray:
        return self.fit(X).transform(X)

    def score(self, X, y=None) -> float:
        """The rule's goal measured on ``X`` (see the class docstring); ``y`` is ignored."""
        self._check_fitted("score")
        Xs, _ = _as_samples(X, "X", self.n_features_in_)
        return float(self._score(Xs - self.mean_))

    def _score(self, Xc: np.ndarray) -> float:
        """Explained variance of the best linear reconstruction of ``Xc`` from ``y = W x``."""
        total = float((Xc ** 2).sum())
        if total == 0.0:
            raise ValueError("X has no variance about the training mean (mean_): the explained variance "
                             "score is undefined; pass at least one sample that differs from mean_.")
        W = self.components_
        residual = Xc - (Xc @ np.linalg.pinv(W)) @ W
        return 1.0 - float((residual ** 2).sum()) / total


_COMMON_DOC = """
    lr : float
        Initial learning rate :math:`\\eta_0`.
    lr_decay : float
        :math:`\\delta \\ge 0` in :math:`\\eta_t = \\eta_0 / (1 + \\delta t)` (t counts updates).
    epochs : int
        Passes over the data in :meth:`fit`.
    batch_size : int
        Samples per update; the increment is averaged over the batch (1: per-sample online rule).
    shuffle : bool
        Visit the samples in a new random order every epoch (in :meth:`fit`).
    center : bool
        Subtract the training mean (``mean_``) before learning and in :meth:`transform`.
    backend : {"numpy", "torch"}
    device : str
    dtype : {"float64", "float32"}
    seed : int or None
        Seeds the initial weights and the shuffling (a private :class:`numpy.random.Generator`).
"""

_RECONSTRUCTION_SCORE_DOC = r"""    Notes
    -----
    Score: :meth:`score` is the explained variance of the best linear reconstruction of the centred input
    from the outputs, :math:`1 - \|X_c - X_c W^{+} W\|_F^2 / \|X_c\|_F^2` with
    :math:`X_c = X - \bar x` (``mean_``) and :math:`W^{+}` the pseudo-inverse: the fraction of the
    variance about ``mean_`` that lies in the span of the learned rows, in [0, 1]. On the training
    data, at convergence to the top-k principal subspace it equals
    ``sklearn.decomposition.PCA(k).fit(X).explained_variance_ratio_.sum()``.
"""


class Hebb(_Hebbian):
    __doc__ = r"""Plain Hebbian learning of linear units, :math:`\Delta W = \eta\, y x^\top`, :math:`y = Wx`.

    In expectation (centred inputs) :math:`\dot W = W C` with :math:`C` the input covariance, so
    each row's component along the top eigenvector :math:`e_1` grows like
    :math:`e^{\lambda_1 t}` fastest: the norm grows without bound and the direction aligns with
    :math:`e_1` (Hebb 1949; see Dayan & Abbott 2001, ch. 8). With ``normalize=True`` each row is
    rescaled to unit length after every update (explicit normalisation), which keeps the norm at
    1 and still converges to :math:`\pm e_1`; Oja's rule is its first-order expansion in
    :math:`\eta`.

    Parameters
    ----------
    n_components : int
        Number of units (rows of ``components_``); each learns independently.
    normalize : bool
        Renormalise every row to unit length after each update.
    """ + _COMMON_DOC + r"""
    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
    mean_ : ndarray (n_features,)
    n_features_in_, n_samples_seen_, n_updates_ : int


    """ + _RECONSTRUCTION_SCORE_DOC + r"""

    References
    ----------
    D. O. Hebb (1949), The Organization of Behavior; P. Dayan & L. F. Abbott (2001), Theoretical
    Neuroscience, MIT Press, ch. 8.
    """

    def __init__(self, n_components: int = 1, normalize: bool = False, lr: float = 0.01,
                 lr_decay: float = 0.0, epochs: int = 1, batch_size: int = 1, shuffle: bool = True,
                 center: bool = True, backend: str = "numpy", device: str = "cpu",
                 dtype: str = "float64", seed=None):
        self.n_components = n_components
        self.normalize = normalize
        self.lr = lr
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.center = center
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    _param_spec = {**_Hebbian._param_spec, "n_components": P.Int(1), "normalize": P.Bool()}

    def _update(self, ops, W, Xb, lr, state):
        Y = Xb @ W.T
        W = W + (lr / Xb.shape[0]) * (Y.T @ Xb)
        if self.normalize:
            W = W / _row_norms(ops.xp, W)
        return W


class Oja(_Hebbian):
    __doc__ = r"""Oja's rule: a Hebbian unit with implicit weight normalisation that extracts the first
    principal component.

    .. math:: \Delta w = \eta\, y\,(x - y\, w), \qquad y = w^\top x.

    For centred inputs with covariance :math:`C` the averaged dynamics
    :math:`\dot w = Cw - (w^\top C w) w` have the unit-norm top eigenvector :math:`\pm e_1` as
    their only stable fixed points (Oja 1982). With ``n_components = k > 1`` the symmetric
    subspace rule :math:`\Delta W = \eta (y x^\top - y y^\top W)` is used (Oja 1989): the rows
    converge to an orthonormal basis of the top-k principal subspace, but not to the individual
    eigenvectors (use :class:`Sanger` for those).

    Parameters
    ----------
    n_components : int
    """ + _COMMON_DOC + r"""
    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
    mean_ : ndarray (n_features,)
    n_features_in_, n_samples_seen_, n_updates_ : int


    """ + _RECONSTRUCTION_SCORE_DOC + r"""

    References
    ----------
    E. Oja (1982), A simplified neuron model as a principal component analyzer, J. Math. Biol.
    15(3); E. Oja (1989), Neural networks, principal components, and subspaces, Int. J. Neural
    Syst. 1(1).
    """

    _param_spec = {**_Hebbian._param_spec, "n_components": P.Int(1)}

    def __init__(self, n_components: int = 1, lr: float = 0.01, lr_decay: float = 0.0,
                 epochs: int = 1, batch_size: int = 1, shuffle: bool = True, center: bool = True,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float64", seed=None):
        self.n_components = n_components
        self.lr = lr
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.center = center
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    def _update(self, ops, W, Xb, lr, state):
        Y = Xb @ W.T
        return W + (lr / Xb.shape[0]) * (Y.T @ Xb - (Y.T @ Y) @ W)


class Sanger(Oja):
    __doc__ = r"""Sanger's generalised Hebbian algorithm (GHA): the top-k principal components in order.

    .. math:: \Delta W = \eta\,\big(y x^\top - \mathrm{LT}(y y^\top)\, W\big), \qquad y = Wx,

    with :math:`\mathrm{LT}` the lower triangle including the diagonal. Unit :math:`i` runs Oja's
    rule on the input with the projections of units :math:`1..i-1` removed (Gram–Schmidt by
    deflation), so row :math:`i` converges to :math:`\pm e_i`, the eigenvector of the input
    covariance with the i-th largest eigenvalue (Sanger 1989), provided the eigenvalues are
    distinct and :math:`\eta` decays suitably.

    Parameters
    ----------
    n_components : int
    """ + _COMMON_DOC + r"""
    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
        Row i estimates the i-th principal axis (unit norm, sign arbitrary).
    mean_ : ndarray (n_features,)
    n_features_in_, n_samples_seen_, n_updates_ : int


    """ + _RECONSTRUCTION_SCORE_DOC + r"""

    References
    ----------
    T. D. Sanger (1989), Optimal unsupervised learning in a single-layer linear feedforward neural
    network, Neural Networks 2(6).
    """

    def _update(self, ops, W, Xb, lr, state):
        Y = Xb @ W.T
        return W + (lr / Xb.shape[0]) * (Y.T @ Xb - ops.xp.tril(Y.T @ Y) @ W)


class BCM(_Hebbian):
    __doc__ = r"""BCM rule with a sliding modification threshold (Intrator & Cooper 1992 form).

    .. math::
        y_i = w_i^\top x, \qquad
        \Delta w_i = \eta\, y_i\,(y_i - \theta_i)\, x, \qquad
        \theta_i \leftarrow \theta_i + \frac{|B|}{\tau_\theta}\big(\overline{y_i^2} - \theta_i\big),

    so :math:`\theta_i` is a running average of :math:`y_i^2` over about ``tau_theta`` samples
    (:math:`\overline{\cdot}` is the mean over the mini-batch :math:`B`). Activity above the
    threshold potentiates, below it depresses; the threshold rises faster than the activity, which
    stabilises the weights. With :math:`K` equiprobable, linearly independent input patterns the
    stable fixed points are *selective*: the unit responds (with :math:`y = K`) to exactly one
    pattern and not at all (:math:`y = 0`) to the others (Bienenstock, Cooper & Munro 1982;
    Castellani et al. 1999). ``center`` defaults to False here: selectivity is a property of the
    raw (non-negative) inputs.

    Parameters
    ----------
    n_components : int
        Number of independent BCM units.
    tau_theta : float
        Time constant of the threshold, in samples (``>= batch_size``); should be shorter than the
        weights' time scale :math:`1/\eta`.
    """ + _COMMON_DOC + r"""
    Attributes
    ----------
    components_ : ndarray (n_components, n_features)
    theta_ : ndarray (n_components,)
        The sliding thresholds.
    mean_ : ndarray (n_features,)
    n_features_in_, n_samples_seen_, n_updates_ : int


    Notes
    -----
    Score: :meth:`score` is the BCM objective that the rule ascends (Intrator & Cooper 1992), averaged
    over the units, :math:`\frac1k\sum_i \big(\tfrac13 E[y_i^3] - \tfrac14 E[y_i^2]^2\big)` with
    :math:`y = (X - \bar x) W^\top` and :math:`E` the mean over the samples of ``X`` (its gradient
    is :math:`E[y_i (y_i - \theta_i) x]` with :math:`\theta_i = E[y_i^2]`, the rule's increment).
    It is higher for selective units; it is not normalised (it scales as :math:`|y|^4`).

    References
    ----------
    E. L. Bienenstock, L. N. Cooper & P. W. Munro (1982), J. Neurosci. 2(1); N. Intrator &
    L. N. Cooper (1992), Neural Networks 5(1); G. C. Castellani, N. Intrator, H. Shouval &
    L. N. Cooper (1999), Network 10(2).
    """

    _state = ("theta_",)
    _param_spec = {**_Hebbian._param_spec, "n_components": P.Int(1), "tau_theta": P.Real(0, None, closed="right")}

    def __init__(self, n_components: int = 1, tau_theta: float = 100.0, lr: float = 0.01,
                 lr_decay: float = 0.0, epochs: int = 1, batch_size: int = 1, shuffle: bool = True,
                 center: bool = False, backend: str = "numpy", device: str = "cpu",
                 dtype: str = "float64", seed=None):
        self.n_components = n_components
        self.tau_theta = tau_theta
        self.lr = lr
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.center = center
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    def _validate_params(self) -> Ops:
        ops = super()._validate_params()
        if self.tau_theta < self.batch_size:
            raise ValueError(f"tau_theta must be >= batch_size={self.batch_size}, got {self.tau_theta!r}.")
        return ops

    def _init_weights(self, rng, k, n):
        return rng.uniform(0.0, 1.0, (k, n)) / np.sqrt(n)

    def _init_state(self, k):
        return {"theta_": np.zeros(k)}

    def _score(self, Xc):
        Y = Xc @ self.components_.T
        return float(np.mean((Y ** 3).mean(0) / 3.0 - (Y ** 2).mean(0) ** 2 / 4.0))

    def _update(self, ops, W, Xb, lr, state):
        B = Xb.shape[0]
        Y = Xb @ W.T
        theta = state["theta_"]
        W = W + (lr / B) * ((Y * (Y - theta)).T @ Xb)
        state["theta_"] = theta + (B / self.tau_theta) * ((Y * Y).mean(0) - theta)
        return W


class AntiHebbian(_Hebbian):
    __doc__ = r"""Anti-Hebbian decorrelation by lateral weights (Földiák 1990).

    The outputs feed back through symmetric lateral weights :math:`V` (zero diagonal),
    :math:`y = x + V y`, settled exactly: :math:`y = (I - V)^{-1} x`. The lateral weights follow
    the anti-Hebbian rule

    .. math:: \Delta V_{ij} = -\eta\, y_i y_j \quad (i \ne j),

    whose fixed points have :math:`\langle y_i y_j \rangle = 0`: the output covariance becomes
    diagonal (the inputs are decorrelated, without changing each output's self-connection).

    Parameters
    ----------
    """ + _COMMON_DOC + r"""
    Attributes
    ----------
    lateral_ : ndarray (n_features, n_features)
        The lateral weights :math:`V`.
    components_ : ndarray (n_features, n_features)
        :math:`(I - V)^{-1}`; :meth:`transform` gives :math:`y = (I - V)^{-1}(x - \bar x)`.
    mean_ : ndarray (n_features,)
    n_features_in_, n_samples_seen_, n_updates_ : int


    Notes
    -----
    Score: :meth:`score` measures decorrelation, the rule's goal:
    :math:`1 - \frac{1}{n(n-1)}\sum_{i \ne j} r_{ij}^2` with :math:`r_{ij}` the Pearson correlation of
    outputs :math:`i` and :math:`j` over the samples of ``X`` (an output that is constant on ``X``
    counts as uncorrelated with every other). 1 means fully decorrelated outputs; a single
    feature scores 1.

    References
    ----------
    P. Földiák (1990), Forming sparse representations by local anti-Hebbian learning, Biol.
    Cybern. 64(2); P. Földiák (1989), Adaptive network for optimal linear feature extraction,
    IJCNN.
    """

    _weights = "lateral_"

    def __init__(self, lr: float = 0.01, lr_decay: float = 0.0, epochs: int = 1, batch_size: int = 1,
                 shuffle: bool = True, center: bool = True, backend: str = "numpy", device: str = "cpu",
                 dtype: str = "float64", seed=None):
        self.lr = lr
        self.lr_decay = lr_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.center = center
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    def _n_out(self, n_features):
        return n_features

    def _init_weights(self, rng, k, n):
        return np.zeros((n, n))

    def _update(self, ops, V, Xb, lr, state):
        xp = ops.xp
        eye = ops.asarray(np.eye(V.shape[0]))
        Y = xp.linalg.solve(eye - V, Xb.T).T
        G = (Y.T @ Y) / Xb.shape[0]
        return V - lr * (G - xp.diag(xp.diag(G)))

    def _score(self, Xc):
        n = Xc.shape[1]
        if n == 1:
            return 1.0
        Y = Xc @ self.components_.T
        Y = Y - Y.mean(0)
        sd = np.sqrt((Y ** 2).sum(0))
        Z = Y / np.where(sd > 0, sd, 1.0)
        R = Z.T @ Z
        off = R[~np.eye(n, dtype=bool)]
        return 1.0 - float((off ** 2).mean())

    def _finish(self):
        n = self.lateral_.shape[0]
        self.components_ = np.linalg.inv(np.eye(n) - self.lateral_)
