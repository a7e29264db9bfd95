r"""Classical binary Hopfield associative memory (Hopfield 1982).

States are :math:`s \in \{-1, +1\}^N` (patterns given as 0/1 are mapped to -1/+1 and recalled
back as 0/1). The weights are learned from the stored patterns :math:`\xi^\mu` by one of three
rules, and recall iterates :math:`s_i \leftarrow \mathrm{sign}(\sum_j W_{ij} s_j)` (a unit whose
field is 0 keeps its state; see *Ties* below) until no unit changes. Every update that changes a unit
lowers the energy :math:`E(s) = -\tfrac12 s^\top W s` when :math:`W` is symmetric with a
non-negative diagonal and the updates are asynchronous, so asynchronous recall always settles.

Ties. A field is computed in the model's dtype, and a summation order that differs between
backends (numpy's and torch's matrix products) can turn an exact 0 into :math:`\pm 10^{-8}` in
float32. So a field :math:`h_i` counts as a tie, and unit :math:`i` keeps its state, when
:math:`|h_i| \le 2 (N + 2)\,\varepsilon \sum_j |W_{ij}|` (:math:`\varepsilon` the unit roundoff of the
dtype: the textbook bound on the rounding error of the dot product, doubled); the bound is
computed once, in float64, for both backends. A field that is exactly 0 in real arithmetic is
therefore a tie on both backends in float32 and float64, and the backends recall the same states
unless a field lies within a few rounding errors of the bound itself.
:class:`DenseAssociativeMemory` applies the same rule to the difference of its two energy terms.

scikit-learn. The memories are neither classifiers nor regressors (their tags say so): ``predict`` is
recall (pattern completion) and there is no ``score``. A 1-d ``y`` of one label per cue, as scikit-learn
passes it, is ignored at ``fit``. Every hyperparameter is checked against the class's ``_param_spec`` at
``fit`` and on :func:`neurorec.load`.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import check_finite, numeric_array
from neurorec.backends.ops import Ops
from neurorec.base import Model

__all__ = ["Hopfield", "ModernHopfield", "DenseAssociativeMemory"]

_RULES = ("hebbian", "storkey", "pseudoinverse")
_UPDATES = ("async", "sync")


def _as_states(X, name: str, n_features: int | None = None) -> tuple[np.ndarray, tuple]:
    """``(states as float64 (n, n_units), the caller's shape)``.

    Accepts one state ``(n_units,)``, a batch ``(n, n_units)`` or a batch of 2-d patterns
    ``(n, rows, cols)`` (a recall task's layout), flattened to ``rows * cols`` units; use
    :func:`_restore` to give results back in the caller's shape.
    """
    a = numeric_array(X, name, "real numbers with shape (n, n_units), (n_units,) or (n, rows, cols)")
    a = a.astype(np.float64)
    shape = a.shape
    if a.ndim == 1:
        a = a[None]
    elif a.ndim == 3:
        a = a.reshape(a.shape[0], -1)
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n, n_units), (n_units,) or (n, rows, cols), got shape "
                         f"{np.shape(X)}.")
    if a.shape[1] == 0:
        raise ValueError(f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required (a "
                         f"pattern needs at least one unit).")
    if a.shape[0] == 0:
        raise ValueError(f"{name} has 0 sample(s) (shape={shape}) while a minimum of 1 is required (at least "
                         f"one unit and one pattern).")
    check_finite(a, name)
    if n_features is not None and a.shape[1] != n_features:
        raise ValueError(f"{name} has {a.shape[1]} features, but it is expecting {n_features} features as input "
                         f"({a.shape[1]} units but the memory has {n_features}); expected shape (n, {n_features}) or "
                         f"(n, rows, cols) with rows * cols = {n_features}.")
    return a, shape


def _restore(out: np.ndarray, shape: tuple) -> np.ndarray:
    """Per-state results ``(n, ...)`` back in the caller's layout: one state for a 1-d input, and
    ``(n, rows, cols)`` states for a 3-d one (per-state scalars keep their shape ``(n,)``)."""
    if len(shape) == 1:
        return out[0]
    if len(shape) == 3 and out.ndim == 2:
        return out.reshape(shape)
    return out


def _as_patterns(X, name: str, n_features: int | None = None) -> tuple[np.ndarray, bool, tuple]:
    """``(patterns in {-1, +1} as float64 (P, N), was_binary01, the caller's shape)``."""
    a, shape = _as_states(X, name, n_features)
    values = set(np.unique(a).tolist())
    if values <= {0.0, 1.0} and 0.0 in values:
        return 2.0 * a - 1.0, True, shape
    if values <= {-1.0, 1.0}:
        return a, False, shape
    raise ValueError(f"{name} must hold binary patterns, -1/+1 or 0/1; got values {sorted(values)[:6]}.")


def _memory(X, y, as_array):
    """What a memory stores: the distinct rows of ``y`` (in order of first occurrence) when the
    clean targets of the cues ``X`` are given, else ``X``. ``as_array(a, name, n_features)``
    checks and flattens (see :func:`_as_states`).

    A 1-d ``y`` with one entry per cue of a batch ``X`` (scikit-learn's ``fit(X, y)`` with labels)
    cannot be clean patterns: it is ignored, as scikit-learn's unsupervised estimators ignore
    ``y``, and ``X`` is stored."""
    if y is None:
        return as_array(X, "X", None)
    cues, _ = _as_states(X, "X")
    if np.ndim(y) == 1 and len(y) == len(cues) and (len(cues) > 1 or cues.shape[1] != 1):
        return as_array(X, "X", None)
    out = as_array(y, "y", None)
    cues, _ = _as_states(X, "X", out[0].shape[1])
    if len(cues) != len(out[0]):
        raise ValueError(f"X and y must hold the same number of patterns (cues and their clean "
                         f"targets), got {len(cues)} and {len(out[0])}.")
    _, first = np.unique(out[0], axis=0, return_index=True)
    return (out[0][np.sort(first)], *out[1:])


def _tie_bound(W: np.ndarray, dtype) -> np.ndarray:
    """Per unit, the magnitude below which a field ``s @ W[:, i]`` of +-1 states counts as 0 (see
    the module's *Ties*): twice the rounding-error bound of the dot product in ``dtype``."""
    n = W.shape[0]
    return 2.0 * (n + 2) * np.finfo(np.dtype(dtype)).eps * np.abs(W).sum(0)


def _sign_keep(xp, field, current, bound=None):
    """sign(field), keeping the current state where the field is 0, or at most ``bound`` in
    magnitude (a tie; see the module's *Ties*). A NaN field gives a NaN state, refused at the end
    of :func:`_settle`."""
    if bound is not None:
        field = xp.where(xp.abs(field) <= bound, xp.zeros_like(field), field)
    new = xp.sign(field)
    return xp.where(new == 0, current, new)


def _settle(model, cues, fields):
    """The asynchronous (or synchronous) recall loop shared by :class:`Hopfield` and
    :class:`DenseAssociativeMemory`.

    ``fields(ops)`` returns ``(unit_field, all_fields, bound)``: ``unit_field(s, i)`` is the field
    deciding unit ``i`` (B,), ``all_fields(s)`` the fields of every unit for a synchronous update,
    or ``None`` for asynchronous sweeps in a random order drawn from ``model.seed``; ``bound`` the
    per-unit tie bound (N,) as a backend array (``None``: the fields already zero their ties). Returns
    ``(states, steps)`` in the patterns' encoding (see :meth:`Hopfield.recall`).
    """
    model._check_fitted("recall")
    s0, _, shape = _as_patterns(cues, "cues", model.n_features_in_)
    ops = Ops(model.backend, model.device, model.dtype)
    xp = ops.xp
    unit_field, all_fields, bound = fields(ops)
    s = ops.asarray(s0.copy())  # updated in place: never the caller's array
    B, N = s0.shape
    steps = np.full(B, model.max_steps, dtype=np.int64)
    active = np.ones(B, dtype=bool)
    rng = np.random.default_rng(model.seed)
    for step in range(1, model.max_steps + 1):
        before = s.clone() if ops.is_torch else s.copy()
        if all_fields is not None:
            s = _sign_keep(xp, all_fields(s), s, bound)
        else:
            for i in rng.permutation(N).tolist():
                s[:, i] = _sign_keep(xp, unit_field(s, i), s[:, i], None if bound is None else bound[i])
        changed = ops.to_numpy((s != before).any(1))
        steps[active & ~changed] = step - 1  # sweeps that changed a unit
        active &= changed
        if not active.any():
            break
    out = ops.to_numpy(s).astype(np.float64)
    if not np.isfinite(out).all():
        raise FloatingPointError(f"{type(model).__name__}'s recall produced NaN states (a local field "
                                 f"overflowed {model.dtype}); use dtype='float64'.")
    if model.binary01_:
        out = (out + 1.0) / 2.0
    return _restore(out, shape), _restore(steps, shape)


class Hopfield(Model):
    r"""Binary Hopfield network with Hebbian, Storkey or pseudo-inverse learning.

    Learning rules for :math:`P` patterns :math:`\xi^\mu \in \{-1,+1\}^N`:

    - ``"hebbian"`` (Hopfield 1982): :math:`W = \frac1N\sum_\mu \xi^\mu \xi^{\mu\top}`, zero
      diagonal. Capacity about :math:`0.138 N` random patterns (Amit, Gutfreund & Sompolinsky
      1985).
    - ``"storkey"`` (Storkey 1997), incremental and local: for each pattern, with the local
      fields :math:`h_{ij} = \sum_{k \ne i,j} W_{ik}\xi_k`,
      :math:`\Delta W_{ij} = \frac1N(\xi_i\xi_j - \xi_i h_{ji} - h_{ij}\xi_j)`, zero diagonal.
      Capacity about :math:`N/\sqrt{2\ln N}`.
    - ``"pseudoinverse"`` (projection rule, Personnaz, Guyon & Dreyfus 1985):
      :math:`W = \Xi^\top(\Xi\Xi^\top)^{+}\Xi` with :math:`\Xi` the (P, N) pattern matrix; every
      stored pattern is a fixed point (:math:`W\xi^\mu = \xi^\mu`) as long as the patterns are
      linearly independent (:math:`P \le N`). The diagonal is kept (it is what makes the
      patterns exact fixed points; it is non-negative, so the energy still decreases).

    Parameters
    ----------
    rule : {"hebbian", "storkey", "pseudoinverse"}
    update : {"async", "sync"}
        Asynchronous: the units are updated one at a time in a random order (a new permutation
        each sweep, drawn from ``seed``); synchronous: all at once (may end in a 2-cycle, then
        recall stops at ``max_steps``).
    max_steps : int
        Maximum number of sweeps (asynchronous) or updates (synchronous).
    backend : {"numpy", "torch"}
    device : str
    dtype : {"float32", "float64"}
    seed : int or None
        Seed of the asynchronous update order.

    Attributes
    ----------
    W_ : ndarray (N, N)
        Symmetric weight matrix.
    n_features_in_ : int
        Number of units N.
    n_patterns_ : int
    binary01_ : bool
        The patterns were given as 0/1 (recall returns 0/1).

    References
    ----------
    J. J. Hopfield (1982), PNAS 79(8); A. J. Storkey (1997), ICANN; L. Personnaz, I. Guyon &
    G. Dreyfus (1985), J. Physique Lettres 46(8); D. J. Amit, H. Gutfreund & H. Sompolinsky (1985),
    Phys. Rev. Lett. 55(14).
    """

    _trained_arrays = ()
    _param_spec = {"rule": P.Options(*_RULES), "update": P.Options(*_UPDATES), "max_steps": P.Int(1),
                   "backend": P.Options("numpy", "torch"), "device": P.Str(),
                   "dtype": P.Options("float32", "float64"), "seed": P.Seed()}

    def __init__(self, rule: str = "hebbian", update: str = "async", max_steps: int = 100,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float32", seed=None):
        self.rule = rule
        self.update = update
        self.max_steps = max_steps
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    _supported_kinds = frozenset({"recall"})

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {"rule": {"choices": ["hebbian", "storkey", "pseudoinverse"]},
                     "update": {"choices": ["async", "sync"]}}

    def _validate_params(self) -> None:
        super()._validate_params()
        Ops(self.backend, self.device, self.dtype)

    # recall is not a classification or regression: no score (scikit-learn sees none)
    score = available_if(lambda self: False)(Model.score)

    def _estimator_kind(self) -> None:
        """Neither classifier nor regressor nor transformer for scikit-learn: ``predict`` is recall
        (a cue is completed to a stored pattern), not a label or a target."""
        return None

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_")

    def fit(self, X, y=None) -> Hopfield:
        """Store the patterns ``X`` (n_patterns, n_units), -1/+1 or 0/1.

        Parameters
        ----------
        X : array (n, n_units) or (n, rows, cols)
            The patterns to store, or (when ``y`` is given) cues whose clean targets are ``y``.
            A 3-d array is flattened to ``rows * cols`` units.
        y : array like ``X``, optional
            The clean patterns of the cues ``X``, as a recall task gives them (``fit(X, y)``):
            the distinct patterns of ``y`` are stored (each once, in order of first occurrence,
            so a pattern cued more often does not weigh more) and the cues only have their shape
            checked. A 1-d ``y`` with one entry per cue (labels, as scikit-learn passes them) is
            ignored, as scikit-learn's unsupervised estimators ignore ``y``.
        """
        self._validate_params()
        xi, binary01, _ = _memory(X, y, _as_patterns)
        P, N = xi.shape
        if self.rule == "hebbian":
            W = xi.T @ xi / N
            np.fill_diagonal(W, 0.0)
        elif self.rule == "storkey":
            W = np.zeros((N, N))
            for p in xi:
                h = W @ p  # with W's zero diagonal, h_ij = h_i - W_ij p_j
                # dW_ij = (p_i p_j - p_i h_ji - h_ij p_j) / N = (p p^T - p h^T - h p^T) / N + 2 W_ij / N
                W = W + (np.outer(p, p) - np.outer(p, h) - np.outer(h, p) + 2.0 * W) / N
                np.fill_diagonal(W, 0.0)
        else:
            W = xi.T @ np.linalg.pinv(xi @ xi.T) @ xi
        self.W_ = 0.5 * (W + W.T)
        self.n_features_in_ = N
        self.n_patterns_ = P
        self.binary01_ = binary01
        return self

    def energy(self, states) -> np.ndarray:
        r""":math:`E(s) = -\frac12 s^\top W s` of each state (n, n_units) or (n, rows, cols), or of
        one state: ``(n,)`` or a scalar."""
        self._check_fitted("energy")
        s, _, shape = _as_patterns(states, "states", self.n_features_in_)
        e = -0.5 * np.einsum("bi,ij,bj->b", s, self.W_, s)
        return _restore(e, shape)

    def recall(self, cues):
        """Settle from each cue: returns ``(states, steps)``, the final states in the patterns'
        encoding and the number of sweeps (async) or updates (sync) that changed a unit before the
        cue settled (0 for a fixed point; ``max_steps`` when it did not settle).

        ``cues`` is ``(n, n_units)``, ``(n_units,)`` or ``(n, rows, cols)``; the states come back
        in the same shape, ``steps`` as ``(n,)`` (a scalar for one cue)."""
        def fields(ops):
            W = ops.asarray(self.W_)
            # the bound of the weights as the backend holds them (float32: rounded once, identically)
            bound = ops.asarray(_tie_bound(ops.to_numpy(W).astype(np.float64), self.dtype))
            return ((lambda s, i: s @ W[:, i]), ((lambda s: s @ W) if self.update == "sync" else None),
                    bound)

        return _settle(self, cues, fields)

    def predict(self, X):
        """Recall: the states the cues ``X`` settle to, in the shape of ``X`` (see :meth:`recall`).

        This is pattern completion, not classification or regression, so scikit-learn's tags call
        the memory neither a classifier nor a regressor; there is no ``score``."""
        self._check_fitted("predict")
        _as_states(X, "X", self.n_features_in_)   # errors name X, as scikit-learn's checks expect
        return self.recall(X)[0]


def _check_range(a: np.ndarray, name: str, dtype) -> None:
    """Refuse values that the model's dtype cannot hold (they would become inf, then NaN)."""
    big = float(np.finfo(np.dtype(dtype)).max)
    top = float(np.abs(a).max())
    if top > big:
        raise ValueError(f"{name} holds values up to {top:.3g} in magnitude, beyond the largest {dtype} "
                         f"({big:.3g}); rescale them or use dtype='float64'.")


def _check_overlaps(ops, d, dtype) -> None:
    """Refuse overlaps ``cue . pattern`` that overflowed the dtype (the softmax would be NaN)."""
    finite = ops.xp.isfinite(d).all()
    if not bool(finite):
        raise ValueError(f"the overlaps of the cues with the stored patterns overflow {dtype} (values near "
                         f"{float(np.finfo(np.dtype(dtype)).max):.3g}); rescale the cues and patterns or use "
                         f"dtype='float64'.")


class ModernHopfield(Model):
    r"""Modern continuous Hopfield network (Ramsauer et al. 2020).

    Stores patterns :math:`X = (x^1, \dots, x^P) \in \mathbb R^{N \times P}` and retrieves with

    .. math::

        \xi \leftarrow X\,\mathrm{softmax}(\beta X^\top \xi),

    which never increases the energy
    :math:`E(\xi) = -\beta^{-1}\log\sum_\mu e^{\beta x^{\mu\top}\xi} + \frac12\xi^\top\xi
    + \beta^{-1}\log P + \frac12 M^2` (:math:`M` the largest pattern norm; the paper's Theorem 1)
    and converges to a fixed point; one update already retrieves a well-separated pattern with
    exponentially small error, so exponentially many patterns (in :math:`N`) can be stored.
    The update is the attention of a transformer with the stored patterns as keys and values.

    Parameters
    ----------
    beta : float
        Inverse temperature, any positive finite number. The softmax is computed as
        :math:`\mathrm{softmax}(\beta (X^\top\xi - \max X^\top\xi))`, which never overflows, so a huge
        ``beta`` gives the nearest pattern (ties share the weight) instead of NaN (a ``beta`` beyond
        the dtype's largest number acts as that number). Cues or patterns
        beyond the dtype's range, or whose overlaps overflow it, are refused with a ValueError.
    max_steps : int
        Updates per recall (1: the one-step retrieval of the paper; more: iterate until the
        state moves less than ``tol``).
    tol : float
        Convergence threshold on the largest change of a state component.
    backend, device, dtype
        As for every model.

    Attributes
    ----------
    patterns_ : ndarray (P, N)
    n_features_in_ : int

    References
    ----------
    H. Ramsauer et al. (2021), "Hopfield networks is all you need", ICLR.
    """

    _trained_arrays = ()
    _supported_kinds = frozenset({"recall"})
    _param_spec = {"beta": P.Real(0, None, closed="right"), "max_steps": P.Int(1), "tol": P.Real(0),
                   "backend": P.Options("numpy", "torch"), "device": P.Str(),
                   "dtype": P.Options("float32", "float64")}

    def __init__(self, beta: float = 1.0, max_steps: int = 1, tol: float = 1e-6, backend: str = "numpy",
                 device: str = "cpu", dtype: str = "float32"):
        self.beta = beta
        self.max_steps = max_steps
        self.tol = tol
        self.backend = backend
        self.device = device
        self.dtype = dtype

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {"beta": {"low": 0.01, "high": 100.0, "log": True},
                     "max_steps": {"low": 1, "high": 10, "type": "int"}}

    def _validate_params(self) -> None:
        super()._validate_params()
        Ops(self.backend, self.device, self.dtype)

    # recall is not a classification or regression: no score (scikit-learn sees none)
    score = available_if(lambda self: False)(Model.score)

    def _estimator_kind(self) -> None:
        """Neither classifier nor regressor nor transformer for scikit-learn: ``predict`` is recall
        (a cue is completed to a stored pattern), not a label or a target."""
        return None

    def _is_fitted(self) -> bool:
        return hasattr(self, "patterns_")

    def fit(self, X, y=None) -> ModernHopfield:
        """Store the patterns ``X`` (n_patterns, n_units) or (n, rows, cols), real-valued.

        With ``y`` (the clean patterns of the cues ``X``, as a recall task gives them) the
        distinct rows of ``y`` are stored instead, each once (see :meth:`Hopfield.fit`).
        """
        self._validate_params()
        patterns, _ = _memory(X, y, _as_states)
        _check_range(patterns, "X" if y is None else "y", self.dtype)
        self.patterns_ = patterns
        self.n_features_in_ = self.patterns_.shape[1]
        return self

    def energy(self, states) -> np.ndarray:
        """The energy of each state (n, n_units) or (n, rows, cols) (or of one state)."""
        from scipy.special import logsumexp

        self._check_fitted("energy")
        s, shape = _as_states(states, "states", self.n_features_in_)
        X = self.patterns_
        with np.errstate(over="ignore", invalid="ignore"):
            M = np.sqrt((X ** 2).sum(1).max())
            d = s @ X.T
            dmax = d.max(1)
            # lse(beta d) / beta = max d + lse(beta (d - max d)) / beta: finite for any finite beta
            e = (-(dmax + logsumexp(self.beta * (d - dmax[:, None]), axis=1) / self.beta)
                 + 0.5 * (s ** 2).sum(1) + np.log(len(X)) / self.beta + 0.5 * M ** 2)
        if not np.isfinite(e).all():
            raise FloatingPointError("the energy overflowed float64 (states or patterns too large); rescale them.")
        return _restore(e, shape)

    def recall(self, cues):
        """``(states, steps)``: the retrieved states, in the shape of ``cues`` ((n, n_units),
        (n_units,) or (n, rows, cols)), and the number of updates each took."""
        self._check_fitted("recall")
        s0, shape = _as_states(cues, "cues", self.n_features_in_)
        _check_range(s0, "cues", self.dtype)
        ops = Ops(self.backend, self.device, self.dtype)
        xp = ops.xp
        X = ops.asarray(self.patterns_)
        s = ops.asarray(s0)
        steps = np.zeros(len(s0), dtype=np.int64)
        # beta as the dtype holds it: a larger one would be inf there, and inf * 0 is NaN
        beta = min(float(self.beta), float(np.finfo(np.dtype(self.dtype)).max))
        for step in range(1, self.max_steps + 1):
            with np.errstate(over="ignore", invalid="ignore"):   # an overflow is refused just below
                d = s @ X.T
            _check_overlaps(ops, d, self.dtype)
            # softmax(beta d) = softmax(beta (d - max d)): the largest logit is exactly 0, so no
            # beta or input size overflows it (beta * (d - max) may be -inf: weight 0, not NaN)
            if ops.is_torch:
                p = xp.softmax(beta * (d - d.amax(1, keepdim=True)), dim=1)
            else:
                from scipy.special import softmax

                with np.errstate(over="ignore"):
                    p = softmax(beta * (d - d.max(1, keepdims=True)), axis=1)
            new = p @ X
            delta = ops.to_numpy(xp.abs(new - s).amax(1) if ops.is_torch else np.abs(new - s).max(1))
            moving = delta > self.tol
            steps[moving] = step
            s = new
            if not moving.any():
                break
        out = ops.to_numpy(s).astype(np.float64)
        if not np.isfinite(out).all():
            raise FloatingPointError(f"ModernHopfield's retrieved states overflowed {self.dtype}; rescale the "
                                     f"patterns or use dtype='float64'.")
        return _restore(out, shape), _restore(steps, shape)

    def predict(self, X):
        """Recall: the retrieved states of the cues ``X``, in the shape of ``X`` (continuous: a
        recall task reads them out by their sign). Pattern completion, not a label or a regression
        target (see :meth:`Hopfield.predict`)."""
        self._check_fitted("predict")
        _as_states(X, "X", self.n_features_in_)   # errors name X, as scikit-learn's checks expect
        return self.recall(X)[0]


class DenseAssociativeMemory(Model):
    r"""Dense associative memory (Krotov & Hopfield 2016) on binary states.

    Energy :math:`E(s) = -\sum_\mu F(\xi^{\mu\top} s)` with the interaction function
    :math:`F(x) = x^n` (``interaction="polynomial"``, degree ``n``; :math:`n = 2` is the classical
    Hebbian network) or :math:`F(x) = e^{x}` (``"exponential"``, Demircigil et al. 2017).
    Asynchronous updates set each unit to the sign that gives the lower energy,

    .. math::

        s_i \leftarrow \mathrm{sign}\Big(\sum_\mu F\big(\xi^\mu_i + \textstyle\sum_{j\ne i}\xi^\mu_j s_j\big)
        - F\big(-\xi^\mu_i + \textstyle\sum_{j\ne i}\xi^\mu_j s_j\big)\Big),

    so the energy never increases. The capacity grows as :math:`N^{n-1}` for the polynomial and
    exponentially in :math:`N` for the exponential function.

    Parameters
    ----------
    interaction : {"polynomial", "exponential"}
    degree : int
        Degree ``n`` of the polynomial (>= 2).
    max_steps : int
        Maximum number of sweeps.
    backend, device, dtype, seed
        ``seed`` draws the update order.

    References
    ----------
    D. Krotov & J. J. Hopfield (2016), "Dense associative memory for pattern recognition",
    NeurIPS; M. Demircigil et al. (2017), J. Stat. Phys. 168.
    """

    _trained_arrays = ()
    _supported_kinds = frozenset({"recall"})
    _param_spec = {"interaction": P.Options("polynomial", "exponential"), "degree": P.Int(2),
                   "max_steps": P.Int(1), "backend": P.Options("numpy", "torch"), "device": P.Str(),
                   "dtype": P.Options("float32", "float64"), "seed": P.Seed()}

    def __init__(self, interaction: str = "polynomial", degree: int = 3, max_steps: int = 100,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float64", seed=None):
        self.interaction = interaction
        self.degree = degree
        self.max_steps = max_steps
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {"interaction": {"choices": ["polynomial", "exponential"]},
                     "degree": {"low": 2, "high": 10, "type": "int"}}

    def _validate_params(self) -> None:
        super()._validate_params()
        Ops(self.backend, self.device, self.dtype)

    # recall is not a classification or regression: no score (scikit-learn sees none)
    score = available_if(lambda self: False)(Model.score)

    def _estimator_kind(self) -> None:
        """Neither classifier nor regressor nor transformer for scikit-learn: ``predict`` is recall
        (a cue is completed to a stored pattern), not a label or a target."""
        return None

    def _is_fitted(self) -> bool:
        return hasattr(self, "patterns_")

    def fit(self, X, y=None) -> DenseAssociativeMemory:
        """Store the binary patterns ``X`` (-1/+1 or 0/1), (n, n_units) or (n, rows, cols).

        With ``y`` (the clean patterns of the cues ``X``, as a recall task gives them) the
        distinct rows of ``y`` are stored instead, each once (see :meth:`Hopfield.fit`).
        """
        self._validate_params()
        self.patterns_, self.binary01_, _ = _memory(X, y, _as_patterns)
        self.n_features_in_ = self.patterns_.shape[1]
        return self

    def _F(self, xp, x):
        if self.interaction == "polynomial":
            return x ** self.degree
        # exp(x - N) keeps the values finite; a common factor does not change any sign
        return xp.exp(x - self.n_features_in_)

    def _F_scaled(self, ops, a, b):
        """``F(a)``, ``F(b)`` (B, P) times a positive per-cue factor, so that the largest term is 1
        in magnitude: neither overflows nor underflows as a whole, and no sign changes.
        Polynomial: :math:`(x/m)^n` with :math:`m = \\max|x|`; exponential: :math:`e^{x - m}` with
        :math:`m = \\max x`."""
        xp = ops.xp

        def rowmax(v):
            return (v.amax(1) if ops.is_torch else v.max(1))[:, None]

        if self.interaction == "polynomial":
            m = xp.maximum(rowmax(xp.abs(a)), rowmax(xp.abs(b)))
            m = xp.where(m == 0, xp.ones_like(m), m)
            return (a / m) ** self.degree, (b / m) ** self.degree
        m = xp.maximum(rowmax(a), rowmax(b))
        return xp.exp(a - m), xp.exp(b - m)

    def energy(self, states) -> np.ndarray:
        """:math:`-\\sum_\\mu F(\\xi^\\mu \\cdot s)` of each state (exponential: times :math:`e^{-N}`)."""
        self._check_fitted("energy")
        s, _, shape = _as_patterns(states, "states", self.n_features_in_)
        e = -self._F(np, s @ self.patterns_.T).sum(1)
        return _restore(e, shape)

    def recall(self, cues):
        """``(states, steps)`` as :meth:`Hopfield.recall`."""

        def fields(ops):
            Xi = ops.asarray(self.patterns_)

            P = self.patterns_.shape[0]
            eps = float(np.finfo(np.dtype(self.dtype)).eps)

            def unit_field(s, i):
                xp = ops.xp
                rest = s @ Xi.T - s[:, i:i + 1] * Xi[:, i][None, :]   # (B, P): sum over j != i
                fa, fb = self._F_scaled(ops, rest + Xi[:, i][None, :], rest - Xi[:, i][None, :])
                field = fa.sum(1) - fb.sum(1)
                # a tie (see the module's *Ties*): within the rounding bound of the two sums
                bound = 2.0 * (P + 2) * eps * (xp.abs(fa).sum(1) + xp.abs(fb).sum(1))
                return xp.where(xp.abs(field) <= bound, xp.zeros_like(field), field)

            return unit_field, None, None

        return _settle(self, cues, fields)

    def predict(self, X):
        """Recall: the states the cues ``X`` settle to (pattern completion, not a label or a
        regression target; see :meth:`Hopfield.predict`)."""
        self._check_fitted("predict")
        _as_states(X, "X", self.n_features_in_)   # errors name X, as scikit-learn's checks expect
        return self.recall(X)[0]
