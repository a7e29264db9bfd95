r"""Echo state networks (leaky-integrator reservoirs with a trained linear readout).

The reservoir follows Jaeger (2001) with leaky-integrator units (Jaeger, Lukoševičius,
Popovici & Siewert 2007), in the same convention as reservoirpy:

.. math::

    x[t] = (1 - a)\, x[t-1] + a\, f\!\left(W x[t-1] + W_{in} u[t] + W_{fb} y[t-1] + b\right)

and the readout is linear in the features :math:`z[t] = [x[t];\ u[t]]` (the input part
only with ``input_to_readout=True``):

.. math::

    y[t] = W_{out}^\top z[t] + b_{out}.

Only the readout is trained: in closed form by ridge regression, accumulated chunk by
chunk (so long series never hold all states), or online by recursive least squares. See
Lukoševičius (2012), "A practical guide to applying echo state networks".
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import (
    SeqBatch,
    check_sequence_targets,
    check_sequences,
    encode_labels,
    is_1d_target,
    is_table,
    resolve_task,
    tabular_as_sequences,
)
from neurorec.backends import get_ops
from neurorec.base import Model, ScoresToProba, fitted_as_classifier
from neurorec.models._generate import DivergenceGuard, check_n_steps, check_on_divergence, divergence_threshold
from neurorec.models.readout import RidgeAccumulator, RLSReadout

__all__ = ["ESN", "random_reservoir", "spectral_radius"]

_ACTIVATIONS = ("tanh", "identity", "relu", "sigmoid")
_CLASSIFY = ("last", "mean", "vote")


def spectral_radius(W: np.ndarray) -> float:
    """Largest absolute eigenvalue of a square matrix (dense LAPACK up to 2,000 units,
    ARPACK on the sparse matrix beyond)."""
    n = W.shape[0]
    if n <= 2000:
        return float(np.max(np.abs(np.linalg.eigvals(W))))
    from scipy.sparse import csr_array
    from scipy.sparse.linalg import eigs

    vals = eigs(csr_array(W), k=1, which="LM", return_eigenvectors=False, tol=1e-8, maxiter=n * 20)
    return float(np.abs(vals).max())


_DRAWS = ("bernoulli", "uniform", "normal")
_CONNECTIVITY_DRAWS = ("exact", "independent")


def _sample(rng: np.random.Generator, dist: str, n: int) -> np.ndarray:
    """``n`` weights from reservoirpy's ``mat_gen`` distributions, consuming ``rng`` as reservoirpy does:
    ``bernoulli`` is +1 or -1 with probability 1/2, ``uniform`` is U[-1, 1], ``normal`` is N(0, 1)."""
    if dist == "bernoulli":
        return rng.choice([1.0, -1.0], p=[0.5, 0.5], replace=True, size=n)
    if dist == "uniform":
        return rng.uniform(-1.0, 1.0, n)
    return rng.standard_normal(n)


def _random_sparse(rng: np.random.Generator, shape: tuple, connectivity: float, dist: str,
                   draw: str = "exact") -> np.ndarray:
    """A dense float64 array with a fraction ``connectivity`` of non-zero weights drawn from ``dist``.

    ``draw="exact"`` is reservoirpy 0.4's ``mat_gen._random_sparse``: exactly
    ``round(connectivity * size)`` non-zero entries at positions drawn without replacement
    (``scipy.sparse.random_array``), or every entry when ``connectivity >= 1``, with the same
    random stream, so a seed gives reservoirpy's matrix. ``draw="independent"`` keeps each entry
    with probability ``connectivity`` (a Bernoulli mask, binomial count; neurorec's earlier draw).
    """
    size = int(np.prod(shape))
    M = np.zeros(shape)
    if connectivity >= 1:
        vals = _sample(rng, dist, size)
        M[np.unravel_index(rng.choice(size, size, replace=False), shape)] = vals
    elif draw == "exact":
        pos = rng.choice(size, size=int(round(connectivity * size)), replace=False)
        M[np.unravel_index(pos, shape, order="F")] = _sample(rng, dist, pos.size)
    else:
        mask = rng.random(shape) < connectivity
        M[mask] = _sample(rng, dist, int(mask.sum()))
    return M


def random_reservoir(units: int, n_features: int, *, spectral_radius_: float | None = 0.9,
                     connectivity: float = 0.1, input_scaling=1.0, input_connectivity: float = 1.0,
                     bias_scaling: float = 0.0, n_feedback: int = 0, feedback_scaling: float = 1.0,
                     feedback_connectivity: float | None = None, input_init: str = "bernoulli",
                     recurrent_init: str = "normal", bias_init: str = "bernoulli",
                     connectivity_draw: str = "exact", seed=None) -> dict[str, np.ndarray]:
    """Draw reservoir weights (float64) as reservoirpy 0.4's ``Reservoir`` does.

    With the defaults, the weights come from reservoirpy 0.4.2's initialisers, with its random
    stream: ``seed`` gives the weights of ``reservoirpy.nodes.Reservoir(seed=seed)`` (``W`` up to
    its scale: reservoirpy estimates :math:`\\rho` with ARPACK, which can miss by ~1%) and of
    ``reservoirpy.ESN(feedback=True, seed=seed)`` for ``[W_in, W_fb]``.

    - ``W``: exactly ``round(connectivity * units**2)`` non-zero entries from ``recurrent_init``
      (``mat_gen.normal``), then multiplied by ``spectral_radius_ / rho(W)`` (``sr``);
      ``spectral_radius_=None`` leaves the draw unscaled (reservoirpy's ``sr=None``).
    - ``W_in``: ``input_init`` weights (``mat_gen.bernoulli``: +-1) with a fraction
      ``input_connectivity`` non-zero, times ``input_scaling`` (per feature allowed).
    - ``W_fb``: with ``feedback_connectivity=None`` drawn together with ``W_in`` as extra columns
      of one matrix (reservoirpy 0.4 feeds the readout back as extra inputs), times
      ``feedback_scaling``; with a value, drawn on its own with that connectivity.
    - ``bias``: every unit ``bias_init`` times ``bias_scaling`` (reservoirpy's
      ``bias=mat_gen.bernoulli(input_scaling=bias_scaling)``).

    ``connectivity_draw="independent"`` keeps each entry with probability ``connectivity``
    instead of an exact count; ``input_init="uniform", bias_init="uniform",
    connectivity_draw="independent", feedback_connectivity=1.0`` are neurorec's earlier draws
    (same distributions, not the same numbers for a seed).

    Raises
    ------
    ValueError
        When ``W`` cannot be rescaled (all zeros, or nilpotent: spectral radius 0) or ``W_in``
        has no non-zero weight (the reservoir would never see its input).
    """
    rng_in, rng_W, rng_b, rng_fb = np.random.default_rng(seed).spawn(4)
    W = _random_sparse(rng_W, (units, units), connectivity, recurrent_init, connectivity_draw)
    if spectral_radius_ is not None:
        rho = spectral_radius(W) if W.any() else 0.0
        if spectral_radius_ > 0 and rho == 0:
            nnz = int(np.count_nonzero(W))
            what = ("is all zeros" if nnz == 0 else
                    f"has {nnz} non-zero weights but spectral radius 0 (nilpotent: no recurrent loop), so it cannot "
                    f"be rescaled to spectral_radius={spectral_radius_!r}")
            raise ValueError(f"the random recurrent matrix ({units} units, connectivity={connectivity!r}, "
                             f"connectivity_draw={connectivity_draw!r}) {what}; raise connectivity or units, or try "
                             f"another seed.")
        if rho > 0:
            W *= spectral_radius_ / rho
    joint = n_feedback if feedback_connectivity is None else 0
    J = _random_sparse(rng_in, (units, n_features + joint), input_connectivity, input_init, connectivity_draw)
    W_in = J[:, :n_features] * np.broadcast_to(np.asarray(input_scaling, dtype=np.float64), (n_features,))
    if not W_in.any():
        raise ValueError(f"the random input matrix ({units} units x {n_features} features, input_connectivity="
                         f"{input_connectivity!r}, connectivity_draw={connectivity_draw!r}) has no non-zero weight, "
                         f"so the reservoir would never see its input; raise input_connectivity or units, or try "
                         f"another seed.")
    bias = _random_sparse(rng_b, (units,), 1.0, bias_init) * bias_scaling
    out = {"W": W, "W_in": W_in, "bias": bias}
    if n_feedback:
        if joint:
            W_fb = J[:, n_features:]
        else:
            W_fb = _random_sparse(rng_fb, (units, n_feedback), feedback_connectivity, input_init, connectivity_draw)
        out["W_fb"] = W_fb * feedback_scaling
    return out


def _add_recurrent(ops, pre, h, WT, W=None, tmp=None) -> None:
    """``pre += h W^T`` in place: torch ``addmm_``; numpy gemv on ``W`` into ``tmp`` for a single
    sequence, gemm otherwise (no allocation per step when ``tmp`` is given)."""
    if ops.is_torch:
        pre.addmm_(h, WT)
    elif tmp is None:
        pre += h @ WT
    elif W is not None and h.shape[0] == 1:
        np.dot(W, h[0], out=tmp[0])
        pre += tmp
    else:
        np.matmul(h, WT, out=tmp)
        pre += tmp


def _step(ops, h, pre, WT, leak: float, activation: str, W=None, tmp=None):
    """One leaky-integrator update, in place: ``pre`` holds the input drive on entry.

    ``h <- (1 - leak) h + leak f(pre + h W^T)``; ``pre`` is used as scratch. On the numpy
    backend a single sequence goes through BLAS gemv on ``W`` into the buffer ``tmp``
    (no allocation per step); batches go through gemm.
    """
    _add_recurrent(ops, pre, h, WT, W, tmp)
    ops.activation_(activation, pre)
    ops.lerp_(h, pre, leak)
    return h


class ESN(ScoresToProba, Model):
    r"""Leaky-integrator echo state network with a ridge or RLS readout.

    The reservoir update (reservoirpy's convention; Jaeger et al. 2007):

    .. math::

        x[t] = (1-a)\,x[t-1] + a\,f(W x[t-1] + W_{in} u[t] + W_{fb} y[t-1] + b)

    with :math:`\rho(W)` = ``spectral_radius``, :math:`a` = ``leak_rate``; the readout
    :math:`y[t] = W_{out}^\top [x[t]; u[t]] + b_{out}`.

    ``fit(X, y)`` decides the task from ``y``: integer labels of shape ``(batch,)`` make a
    classifier (features from the last state, the mean state or a per-step vote, see
    ``classify``); per-step targets ``(batch, time, outputs)`` make a sequence regressor.

    Parameters
    ----------
    units : int
        Number of reservoir units :math:`N`.
    spectral_radius : float
        Spectral radius the random recurrent matrix is scaled to (reservoirpy's ``sr``).
    leak_rate : float in (0, 1]
        Leak rate :math:`a`.
    input_scaling : float or sequence of float
        Factor on the input weights (one value per feature allowed; reservoirpy's
        ``input_scaling``).
    bias_scaling : float
        Factor on the reservoir bias :math:`b` (``bias_init`` draws times ``bias_scaling``;
        reservoirpy's ``bias=mat_gen.bernoulli(input_scaling=bias_scaling)``, 0 for no bias).
    connectivity : float in (0, 1]
        Fraction of non-zero recurrent weights (reservoirpy's ``rc_connectivity``).
    input_connectivity : float in (0, 1]
        Fraction of non-zero input weights (reservoirpy's ``input_connectivity``; note
        reservoirpy's default is 0.1, neurorec's 1.0).
    activation : {"tanh", "identity", "relu", "sigmoid"}
        Reservoir non-linearity :math:`f` (``identity`` gives a linear reservoir).
    ridge : float
        L2 penalty :math:`\lambda` of the ridge readout (the intercept is not penalised).
    readout : {"ridge", "rls"}
        Closed-form ridge regression, or online recursive least squares.
    rls_forgetting, rls_delta : float
        RLS forgetting factor :math:`\mu` and initial :math:`P = I/\delta`.
    washout : int
        Leading steps of every sequence left out of readout training (the initial transient).
    input_to_readout : bool
        Feed the input :math:`u[t]` to the readout beside the state.
    feedback : bool
        Feed the previous output back into the reservoir through :math:`W_{fb}`; trained with
        teacher forcing, run with the model's own outputs.
    feedback_scaling : float
        Factor on the feedback weights :math:`W_{fb}` (drawn like the input weights).
    classify : {"mean", "last", "vote"}
        For classification: readout on the mean state over the sequence (after ``washout``
        when the sequence is longer; the default), on the last state, or trained on every step
        with the sequence's label and decided by a majority vote of the per-step predictions.
        The last state of a fading-memory reservoir holds only the last few dozen steps
        (about :math:`1/(1-\rho)` for leak rate 1), so on series of 100-500 steps (UCR/UEA)
        ``"last"`` was near chance where ``"mean"`` was not; ``"mean"`` is the default since
        issue 15 (chosen on validation splits, README "Defaults on small data").
    task : {"auto", "classification", "regression"}
        What ``fit`` learns. ``"classification"``: one label per sequence (integers, strings or
        any sortable labels; ``predict`` returns them), and a 2-D ``X`` is read as a table of
        samples (each row a one-step sequence); scikit-learn sees a classifier (stratified
        cross-validation, ``predict_proba``). ``"regression"``: per-step targets; a 2-D ``X`` is one
        sequence; scikit-learn sees a regressor. ``"auto"`` (default) infers it from ``y`` (see
        :func:`neurorec._validation.resolve_task`): per-step targets -> regression, one discrete
        label per sequence of a 3-D ``X`` -> classification; a 2-D ``X`` with integer or string
        ``y`` is ambiguous and refused. ``task_`` says what was fitted.
    chunk_size : int
        Time steps simulated per chunk (bounds memory: ``batch * chunk_size * units`` floats).
    backend : {"numpy", "torch"}
    device : str
        ``"cpu"`` or a CUDA device (torch backend).
    dtype : {"float32", "float64"}
    cuda_graph : bool
        On a CUDA device, capture each chunk's time loop in a CUDA graph (no effect on the CPU
        or with feedback, whose steps depend on the readout).
    input_init, recurrent_init, bias_init : {"bernoulli", "uniform", "normal"}
        Distribution of the non-zero entries of :math:`W_{in}` (and :math:`W_{fb}`), :math:`W`
        and :math:`b` before scaling: +1 or -1 with probability 1/2, uniform in [-1, 1], or
        N(0, 1). Defaults are reservoirpy 0.4's (``Win=bernoulli``, ``W=normal``,
        ``bias=bernoulli``); ``input_init="uniform", bias_init="uniform"`` are neurorec's earlier
        draws.
    connectivity_draw : {"exact", "independent"}
        How sparse matrices are drawn: ``"exact"`` (reservoirpy's) puts exactly
        ``round(connectivity * size)`` non-zero weights at random positions; ``"independent"``
        (neurorec's earlier draw) keeps each entry with probability ``connectivity``.
    feedback_connectivity : float in (0, 1] or None
        Fraction of non-zero feedback weights. ``None`` (default): drawn together with
        :math:`W_{in}` as extra input columns at ``input_connectivity``, as reservoirpy 0.4's
        ``ESN(feedback=True)`` does; ``1.0`` is neurorec's earlier dense feedback.
    seed : int or None
        Seed of the random reservoir weights. With the default draws, ``seed`` gives the weights
        of reservoirpy 0.4's ``Reservoir(seed=seed)`` with the same hyperparameters (``W`` up to
        its scale, which reservoirpy sets from an ARPACK estimate of the spectral radius); the same seed
        gives other weights than neurorec versions before issue 13 (saved model files keep their weights).
        Hyperparameter map: ``units``, ``spectral_radius`` = ``sr``, ``leak_rate`` = ``lr``, ``input_scaling``,
        ``connectivity`` = ``rc_connectivity``, ``input_connectivity``; defaults differ
        (``spectral_radius`` 0.9 vs ``sr`` 1.0, ``input_connectivity`` 1.0 vs 0.1, ``ridge``).

    Attributes
    ----------
    W_, W_in_, bias_ : ndarray
        Reservoir weights (fixed, random).
    W_fb_ : ndarray
        Feedback weights (only with ``feedback=True``).
    W_out_, b_out_ : ndarray
        Trained readout.
    classes_ : ndarray
        Class labels (classification only).
    proba_temperature_ : float
        Temperature of ``predict_proba``'s softmax over the readout scores, fitted on the training
        sequences' leave-one-out scores (``classify="vote"``: on the training scores;
        classification only; see :class:`neurorec.base.ScoresToProba`).
    n_features_in_, n_outputs_ : int
    task_ : {"regression", "classification"}
        The task fitted (``task``, or what ``"auto"`` inferred).
    target_1d_ : bool
        The regression target was 1-D (one sequence, one output): ``predict`` returns 1-D too.

    Examples
    --------
    >>> from neurorec.data import mackey_glass
    >>> from neurorec.models import ESN
    >>> s = mackey_glass(2000, seed=0)
    >>> esn = ESN(units=200, leak_rate=0.3, washout=100, seed=0).fit(s[:-1], s[1:])
    >>> y = esn.predict(s[:-1])      # (1999, 1) one-step-ahead predictions
    """

    _trained_arrays = ("W_out_", "b_out_")

    def __init__(self, units: int = 100, spectral_radius: float = 0.9, leak_rate: float = 1.0,
                 input_scaling=1.0, bias_scaling: float = 0.0, connectivity: float = 0.1,
                 input_connectivity: float = 1.0, activation: str = "tanh", ridge: float = 1e-6,
                 readout: str = "ridge", rls_forgetting: float = 1.0, rls_delta: float = 1e-2,
                 washout: int = 0, input_to_readout: bool = True, feedback: bool = False,
                 feedback_scaling: float = 1.0, classify: str = "mean", chunk_size: int = 1024,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float32",
                 cuda_graph: bool = True, task: str = "auto", input_init: str = "bernoulli",
                 recurrent_init: str = "normal", bias_init: str = "bernoulli", connectivity_draw: str = "exact",
                 feedback_connectivity: float | None = None, seed=None):
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.connectivity = connectivity
        self.input_connectivity = input_connectivity
        self.activation = activation
        self.ridge = ridge
        self.readout = readout
        self.rls_forgetting = rls_forgetting
        self.rls_delta = rls_delta
        self.washout = washout
        self.input_to_readout = input_to_readout
        self.feedback = feedback
        self.feedback_scaling = feedback_scaling
        self.classify = classify
        self.chunk_size = chunk_size
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.cuda_graph = cuda_graph
        self.task = task
        self.input_init = input_init
        self.recurrent_init = recurrent_init
        self.bias_init = bias_init
        self.connectivity_draw = connectivity_draw
        self.feedback_connectivity = feedback_connectivity
        self.seed = seed

    @property
    def _supported_kinds(self) -> frozenset:
        # output feedback needs per-step targets, so a feedback ESN only does regression
        return frozenset({"forecast"}) if self.feedback else frozenset({"forecast", "classify"})

    # ------------------------------------------------------------------ checks / setup
    _param_spec = {
        "units": P.Int(1), "spectral_radius": P.Real(0), "leak_rate": P.Real(0, 1, closed="right"),
        "input_scaling": P.Any(),        # a scale or one per feature: checked in _validate_params
        "bias_scaling": P.Real(0), "connectivity": P.Real(0, 1, closed="right"),
        "input_connectivity": P.Real(0, 1, closed="right"), "activation": P.Options(*_ACTIVATIONS),
        "ridge": P.Real(0), "readout": P.Options("ridge", "rls"), "rls_forgetting": P.Real(0, 1, closed="right"),
        "rls_delta": P.Real(0, closed="neither"), "washout": P.Int(0), "input_to_readout": P.Bool(),
        "feedback": P.Bool(), "feedback_scaling": P.Real(0), "classify": P.Options(*_CLASSIFY),
        "chunk_size": P.Int(1), "backend": P.Options("numpy", "torch"), "device": P.Str(),
        "dtype": P.Options("float32", "float64"), "cuda_graph": P.Bool(),
        "task": P.Options("auto", "classification", "regression"), "input_init": P.Options(*_DRAWS),
        "recurrent_init": P.Options(*_DRAWS), "bias_init": P.Options(*_DRAWS),
        "connectivity_draw": P.Options(*_CONNECTIVITY_DRAWS),
        "feedback_connectivity": P.NoneOK() | P.Real(0, 1, closed="right"), "seed": P.Seed(),
    }

    # default search space of neurorec.experiment.tune (neurorec/experiment/spaces.py)
    _search_space = {
        "spectral_radius": {"low": 0.1, "high": 1.5}, "leak_rate": {"low": 0.05, "high": 1.0, "log": True},
        "input_scaling": {"low": 0.01, "high": 5.0, "log": True}, "ridge": {"low": 1e-9, "high": 1e-1, "log": True},
        "bias_scaling": {"low": 0.0, "high": 1.0}, "connectivity": {"low": 0.01, "high": 0.5, "log": True},
    }

    def _validate_params(self) -> None:
        super()._validate_params()
        v = self.input_scaling
        ok = P.Real(0).ok(v)
        if not ok and not isinstance(v, (str, bytes, bool)):
            try:
                a = np.asarray(v)
                ok = a.ndim == 1 and a.size > 0 and a.dtype.kind in "iuf" and bool(np.all(np.isfinite(a))) \
                    and bool(np.all(a >= 0))
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise P.ParameterError(f"ESN(input_scaling={v!r}) is invalid: input_scaling must be a real number in "
                                   f"[0, inf) or a 1-D sequence of them (one per input feature), got {v!r} "
                                   f"({type(v).__name__}).")
        if self.feedback and self.task == "classification":
            raise P.ParameterError("ESN(feedback=True, task='classification') is invalid: output feedback needs "
                                   "per-step targets, so a feedback ESN only does regression.")

    def _is_fitted(self) -> bool:
        return hasattr(self, "W_out_")

    def _ops(self):
        key = (self.backend, str(self.device), self.dtype)
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get("key") != key:
            cache.clear()
            cache["key"] = key
            cache["ops"] = get_ops(self.backend, self.device, self.dtype)
        return cache["ops"]

    def _bw(self, name: str):
        """Backend copy of a learned array (``"W_T"``: the transpose of ``W_``), cached until
        the array is replaced."""
        ops = self._ops()
        src = self.W_ if name == "W_T" else getattr(self, name)
        hit = self._cache.get(name)
        if hit is not None and hit[0] is src:
            return hit[1]
        val = ops.asarray(np.ascontiguousarray(src.T) if name == "W_T" else src)
        self._cache[name] = (src, val)
        return val

    def set_reservoir(self, W, W_in, bias=None, W_fb=None) -> ESN:
        """Use the given reservoir weights instead of drawing random ones.

        ``fit`` then trains only the readout on this reservoir (``W`` (N, N), ``W_in``
        (N, features), ``bias`` (N,), ``W_fb`` (N, outputs)). Used by the reservoirpy bridge.
        """
        W = np.asarray(W, dtype=np.float64)
        W_in = np.asarray(W_in, dtype=np.float64)
        if W.ndim != 2 or W.shape[0] != W.shape[1]:
            raise ValueError(f"W must be square (units, units), got shape {W.shape}.")
        if W_in.ndim != 2 or W_in.shape[0] != W.shape[0]:
            raise ValueError(f"W_in must have shape ({W.shape[0]}, features), got {W_in.shape}.")
        bias = np.zeros(W.shape[0]) if bias is None else np.broadcast_to(
            np.asarray(bias, dtype=np.float64).reshape(-1), (W.shape[0],)).copy()
        self.units = W.shape[0]
        dt = np.dtype(self.dtype)
        self.W_, self.W_in_, self.bias_ = W.astype(dt), W_in.astype(dt), bias.astype(dt)
        if W_fb is not None:
            self.W_fb_ = np.asarray(W_fb, dtype=dt)
        self.reservoir_fixed_ = True
        self.n_features_in_ = W_in.shape[1]
        return self

    @classmethod
    def from_reservoirpy(cls, model, **params) -> ESN:
        """Build an ESN from a reservoirpy ``Reservoir`` (or ``Reservoir >> Ridge``) on the same
        weights; see :func:`neurorec.backends.reservoirpy.from_reservoirpy`."""
        from neurorec.backends.reservoirpy import from_reservoirpy

        return from_reservoirpy(model, **params)

    def to_reservoirpy(self, ridge: float | None = None):
        """This ESN as a reservoirpy ``Reservoir >> Ridge`` model on the same weights."""
        from neurorec.backends.reservoirpy import to_reservoirpy

        return to_reservoirpy(self, ridge)

    def _init_reservoir(self, n_features: int, n_outputs: int) -> None:
        if getattr(self, "reservoir_fixed_", False):
            if self.W_in_.shape[1] != n_features:
                raise ValueError(f"X has {n_features} features but the fixed reservoir's W_in expects "
                                 f"{self.W_in_.shape[1]}.")
            if self.W_.shape[0] != self.units:
                raise ValueError(f"units={self.units} does not match the fixed reservoir's "
                                 f"{self.W_.shape[0]} units.")
            if self.feedback and getattr(self, "W_fb_", None) is None:
                raise ValueError("feedback=True but the fixed reservoir has no W_fb.")
            return
        w = random_reservoir(
            self.units, n_features, spectral_radius_=self.spectral_radius,
            connectivity=self.connectivity, input_scaling=self.input_scaling,
            input_connectivity=self.input_connectivity, bias_scaling=self.bias_scaling,
            n_feedback=n_outputs if self.feedback else 0, feedback_scaling=self.feedback_scaling,
            feedback_connectivity=self.feedback_connectivity, input_init=self.input_init,
            recurrent_init=self.recurrent_init, bias_init=self.bias_init, connectivity_draw=self.connectivity_draw,
            seed=self.seed)
        dt = np.dtype(self.dtype)
        self.W_, self.W_in_, self.bias_ = (w["W"].astype(dt), w["W_in"].astype(dt),
                                           w["bias"].astype(dt))
        if self.feedback:
            self.W_fb_ = w["W_fb"].astype(dt)
        elif hasattr(self, "W_fb_"):
            del self.W_fb_

    # ------------------------------------------------------------------ simulation
    def _run_chunks(self, batch: SeqBatch, teacher=None, h0=None):
        """Simulate the reservoir chunk by chunk.

        Yields ``(t0, S, Uc)``: states ``S`` of shape (Tc, B, N) (time-major, backend array)
        for steps ``t0 .. t0+Tc`` and the matching inputs ``Uc`` (Tc, B, F). ``teacher``
        (B, T, O) numpy, when given, drives the feedback weights with ``y[t-1]``.
        """
        ops = self._ops()
        WT, WinT, b, WfbT, W_dense = self._step_weights(feedback=teacher is not None)
        B, T, _ = batch.data.shape
        h = ops.zeros((B, self.units)) if h0 is None else h0
        leak, act = float(self.leak_rate), self.activation
        tmp = None if ops.is_torch else np.empty((B, self.units), dtype=ops.dtype)
        for t0 in range(0, T, self.chunk_size):
            t1 = min(T, t0 + self.chunk_size)
            Uc = ops.asarray(np.ascontiguousarray(batch.data[:, t0:t1].transpose(1, 0, 2)))
            D = Uc @ WinT                                        # (Tc, B, N) input drive
            D += b
            if teacher is not None:
                prev = np.zeros((t1 - t0, B, teacher.shape[2]), dtype=teacher.dtype)
                lo = max(t0 - 1, 0)
                prev[(1 if t0 == 0 else 0):] = teacher[:, lo:t1 - 1].transpose(1, 0, 2)
                D += ops.asarray(prev) @ WfbT
            if ops.is_cuda and self.cuda_graph:
                S = self._graphed_chunk(ops, D.shape, WT)(D, h)
            else:
                S = ops.empty(D.shape)
                for t in range(t1 - t0):
                    _step(ops, h, D[t], WT, leak, act, W_dense, tmp)
                    S[t] = h
            yield t0, S, Uc

    def _step_weights(self, feedback: bool):
        """``(W^T, W_in^T, b, W_fb^T or None, W)`` on the backend for :func:`_step`; ``W`` is the
        numpy matrix for the gemv path (None on torch)."""
        WfbT = self._bw("W_fb_").T if feedback else None
        W_dense = None if self._ops().is_torch else self.W_
        return self._bw("W_T"), self._bw("W_in_").T, self._bw("bias_"), WfbT, W_dense

    def _graphed_chunk(self, ops, shape, WT):
        """A CUDA graph of the whole chunk's time loop (one launch instead of 4 per step).

        The loop is the same :func:`_step` as the eager path, captured once per chunk shape on
        static buffers; each call copies the drive and the state in, replays the graph and
        copies the state out. Graphs are cached with the weights and dropped when they change.
        """
        key = ("graph", tuple(shape))
        hit = self._cache.get(key)
        if hit is not None and hit[0] is WT:
            return hit[1]
        torch = ops.xp
        Tc, B, N = shape
        sD, sh, sS = ops.zeros(shape), ops.zeros((B, N)), ops.empty(shape)
        leak, act = float(self.leak_rate), self.activation

        def body():
            for t in range(Tc):
                _step(ops, sh, sD[t], WT, leak, act)
                sS[t].copy_(sh)

        side = torch.cuda.Stream(device=ops.device_obj)
        side.wait_stream(torch.cuda.current_stream(ops.device_obj))
        with torch.cuda.stream(side):     # warm-up off the capture (cuBLAS handles, workspaces)
            body()
        torch.cuda.current_stream(ops.device_obj).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            body()

        def run(D, h):
            sD.copy_(D)
            sh.copy_(h)
            graph.replay()
            h.copy_(sh)
            return sS.clone()

        self._cache[key] = (WT, run)
        return run

    def _features(self, S, Uc):
        if not self.input_to_readout:
            return S
        xp = self._ops().xp
        return xp.concatenate([S, Uc], -1) if xp is np else xp.cat([S, Uc], -1)

    def _n_readout_features(self) -> int:
        return self.units + (self.n_features_in_ if self.input_to_readout else 0)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y) -> ESN:
        """Train the readout on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array (batch, time, features), (time, features) or list of (time_i, features)
        y : int labels (batch,) for classification, or per-step targets (batch, time, outputs)
            / (time, outputs) for sequence regression.
        """
        self._validate_params()
        task = resolve_task(self.task, X, y, model="ESN")
        if task == "classification" and self.feedback:
            raise ValueError("feedback=True is for sequence regression, not classification.")
        tabular = task == "classification" and is_table(X)
        if task == "classification":
            X = tabular_as_sequences(X)
        batch = check_sequences(X, "X", dtype=np.dtype(self.dtype), layout_warning=not tabular)
        for k in [k for k in vars(self) if k in ("W_out_", "b_out_", "classes_", "n_outputs_", "task_",
                                                 "proba_temperature_", "target_1d_")]:
            delattr(self, k)
        self._cache_reset()     # backend copies and CUDA graphs of the previous weights
        if task == "classification":
            classes, idx = encode_labels(y, batch.batch, "y")
            self.n_features_in_ = batch.data.shape[2]
            self._init_reservoir(batch.data.shape[2], 0)
            Z, Y = self._classifier_design(batch, idx, len(classes))
            acc = RidgeAccumulator(self._ops(), Z.shape[1], Y.shape[1])
            acc.add(Z, Y)
            W, b = acc.solve(self.ridge)
            self.classes_ = classes
            self.task_ = "classification"
        else:
            Yt = check_sequence_targets(y, batch, "y", dtype=np.dtype(self.dtype))
            if self.washout >= int(batch.lengths.max()):
                raise ValueError(f"washout={self.washout} leaves no step to train on: the longest "
                                 f"sequence in X has {int(batch.lengths.max())} steps.")
            self.n_features_in_ = batch.data.shape[2]
            self._init_reservoir(batch.data.shape[2], Yt.shape[2])
            W, b = self._fit_regression(batch, Yt)
            self.task_ = "regression"
            self.target_1d_ = bool(batch.single and is_1d_target(y))
        self.n_outputs_ = W.shape[1]
        dt = np.dtype(self.dtype)
        self.W_out_, self.b_out_ = W.astype(dt), b.astype(dt)
        if self.task_ == "classification" and self.classify == "vote":
            scores, votes = self._class_scores(batch)
            self._fit_temperature(self._proba_scores(scores, votes), idx)
        elif self.task_ == "classification":      # one row per sequence: leave-one-out scores
            self._fit_temperature_loo(self._ops().to_numpy(Z), idx, self.ridge)
        return self

    def _cache_reset(self):
        self.__dict__.pop("_cache", None)

    def _valid_rows(self, batch: SeqBatch, t0: int, Tc: int):
        t = np.arange(t0, t0 + Tc)[:, None]
        return (t >= self.washout) & (t < batch.lengths[None, :])   # (Tc, B)

    def _fit_regression(self, batch: SeqBatch, Yt: np.ndarray):
        ops = self._ops()
        D = self._n_readout_features()
        teacher = Yt if self.feedback else None
        if self.readout == "rls":
            rls = RLSReadout(D, Yt.shape[2], self.rls_forgetting, self.rls_delta)
        else:
            acc = RidgeAccumulator(ops, D, Yt.shape[2])
        for t0, S, Uc in self._run_chunks(batch, teacher=teacher):
            Z = self._features(S, Uc)
            m = self._valid_rows(batch, t0, S.shape[0])
            Yc = Yt[:, t0:t0 + S.shape[0]].transpose(1, 0, 2)[m]
            if self.readout == "rls":
                rls.partial_fit(ops.to_numpy(Z)[m], Yc)
            else:
                mb = ops.asarray(m, dtype=ops.xp.bool) if ops.is_torch else m
                acc.add(Z[mb], ops.asarray(Yc))
        return rls.weights() if self.readout == "rls" else acc.solve(self.ridge)

    def _sequence_features(self, batch: SeqBatch):
        """Per-sequence features for ``classify`` in ("last", "mean"): (B, D) backend array;
        for "vote": (rows, D) plus the sequence index of each row."""
        ops = self._ops()
        B = batch.batch
        last_t = batch.lengths - 1
        D = self._n_readout_features()
        if self.classify == "vote":
            rows, owner = [], []
        else:
            acc = ops.zeros((B, D))
        start = np.where(batch.lengths > self.washout, self.washout, 0)
        counts = batch.lengths - start
        for t0, S, Uc in self._run_chunks(batch):
            Z = self._features(S, Uc)
            Tc = S.shape[0]
            t = np.arange(t0, t0 + Tc)[:, None]
            if self.classify == "last":
                sel = np.nonzero((last_t >= t0) & (last_t < t0 + Tc))[0]
                if len(sel):
                    acc[ops.index(sel)] = Z[ops.index(last_t[sel] - t0), ops.index(sel)]
                continue
            m = (t >= start[None, :]) & (t < batch.lengths[None, :])
            if self.classify == "mean":
                mb = ops.asarray(m[..., None], dtype=Z.dtype)
                acc += (Z * mb).sum(0)
            else:
                ti, bi = np.nonzero(m)
                rows.append(Z[ops.index(ti), ops.index(bi)])
                owner.append(bi)
        if self.classify == "last":
            return acc, None
        if self.classify == "mean":
            return acc / ops.asarray(counts[:, None]), None
        xp = ops.xp
        return (np.concatenate(rows) if xp is np else xp.cat(rows)), np.concatenate(owner)

    def _classifier_design(self, batch: SeqBatch, idx: np.ndarray, n_classes: int):
        Z, owner = self._sequence_features(batch)
        onehot = np.eye(n_classes, dtype=np.dtype(self.dtype))
        Y = onehot[idx if owner is None else idx[owner]]
        return Z, self._ops().asarray(Y)

    # ------------------------------------------------------------------ inference
    def _check_X(self, X, method: str, need_readout: bool = True, name: str = "X") -> SeqBatch:
        if need_readout or not hasattr(self, "W_"):
            self._check_fitted(method)
        return check_sequences(X, name, n_features=self.n_features_in_, dtype=np.dtype(self.dtype))

    def _readout(self, Z):
        return Z @ self._bw("W_out_") + self._bw("b_out_")

    def transform(self, X):
        """Reservoir states for ``X``: (batch, time, units) in the caller's layout; for a classifier
        given a 2-D table, (samples, units): each row's state after one step."""
        if getattr(self, "task_", None) == "classification" and is_table(X):
            return self.transform(tabular_as_sequences(X))[:, 0]
        batch = self._check_X(X, "transform", need_readout=self.feedback)
        if self.feedback:
            states, _ = self._run_feedback(batch)
            return batch.unpad(states)
        ops = self._ops()
        parts = [ops.to_numpy(S) for _, S, _ in self._run_chunks(batch)]
        return batch.unpad(np.concatenate(parts).transpose(1, 0, 2))

    def _check_clf_X(self, X, method: str) -> SeqBatch:
        self._check_fitted(method)
        if self.task_ != "classification":
            raise ValueError(f"{method} is for classifiers; this ESN was fitted for regression.")
        return self._check_X(tabular_as_sequences(X), method)

    @available_if(fitted_as_classifier)
    def decision_function(self, X) -> np.ndarray:
        """Class scores of a classifier: (batch, n_classes), or (batch,) for two classes (positive
        means ``classes_[1]``, scikit-learn's convention); the mean per-step score for "vote"."""
        scores, _ = self._class_scores(self._check_clf_X(X, "decision_function"))
        return self._binary_decision(scores)

    @staticmethod
    def _proba_scores(scores, votes):
        # for "vote" the decision is the majority vote (ties broken by the mean score): the vote
        # share leads, the mean score orders within a tie, so argmax(proba) == predict
        if votes is None:
            return scores
        return votes / votes.sum(1, keepdims=True) * 1e3 + scores

    @available_if(fitted_as_classifier)
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (batch, n_classes), columns in ``classes_`` order: a softmax over the
        readout's class scores with the temperature fitted on the training sequences' leave-one-out scores
        (``proba_temperature_``; :class:`neurorec.base.ScoresToProba`). ``argmax`` equals
        ``predict``. The ridge readout is not a probabilistic model: check calibration on
        held-out data before reading these as confidences."""
        scores, votes = self._class_scores(self._check_clf_X(X, "predict_proba"))
        return self._softmax(self._proba_scores(scores, votes), self.proba_temperature_)

    def _class_scores(self, batch: SeqBatch):
        ops = self._ops()
        Z, owner = self._sequence_features(batch)
        s = ops.to_numpy(self._readout(Z)).astype(np.float64)
        if owner is None:
            return s, None
        B, C = batch.batch, s.shape[1]
        mean = np.zeros((B, C))
        np.add.at(mean, owner, s)
        mean /= np.bincount(owner, minlength=B)[:, None]
        votes = np.zeros((B, C))
        np.add.at(votes, (owner, s.argmax(1)), 1.0)
        return mean, votes

    def predict(self, X):
        """Per-step outputs (batch, time, outputs), or class labels (batch,) for a classifier.

        A regressor fitted on one sequence with a 1-D target returns a 1-D prediction."""
        self._check_fitted("predict")
        if self.task_ == "classification":
            scores, votes = self._class_scores(self._check_clf_X(X, "predict"))
            if votes is None:
                return self.classes_[scores.argmax(1)]
            # majority vote; ties broken by the mean per-step score
            top = votes.max(1, keepdims=True)
            return self.classes_[np.where(votes == top, scores, -np.inf).argmax(1)]
        batch = self._check_X(X, "predict")
        ops = self._ops()
        if self.feedback:
            _, out = self._run_feedback(batch)
        else:
            parts = [ops.to_numpy(self._readout(self._features(S, Uc))) for _, S, Uc in self._run_chunks(batch)]
            out = np.concatenate(parts).transpose(1, 0, 2)
        out = batch.unpad(out)
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out

    def _run_feedback(self, batch: SeqBatch, h=None, y_prev=None):
        """Step-by-step run feeding the model's own previous output back (feedback=True)."""
        ops = self._ops()
        WT, WinT, b, WfbT, W_dense = self._step_weights(feedback=True)
        B, T, _ = batch.data.shape
        h = ops.zeros((B, self.units)) if h is None else h
        y = ops.zeros((B, self.n_outputs_)) if y_prev is None else y_prev
        U = ops.asarray(batch.data)
        states = ops.empty((B, T, self.units))
        outs = ops.empty((B, T, self.n_outputs_))
        for t in range(T):
            u = U[:, t]
            pre = u @ WinT + b + y @ WfbT
            _step(ops, h, pre, WT, float(self.leak_rate), self.activation, W_dense)
            z = self._features(h, u)
            y = self._readout(z)
            states[:, t] = h
            outs[:, t] = y
        return ops.to_numpy(states), ops.to_numpy(outs)

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop (autonomous) forecast of ``n_steps`` steps after ``warmup``.

        The model is driven by the ``warmup`` sequence(s) ``u[0..T-1]``; its last output is the
        forecast of ``u[T]`` and becomes the next input, and so on: the result holds the
        forecasts of ``u[T] .. u[T+n_steps-1]``. Needs a regressor whose outputs have the input's dimension (a one-step
        forecaster, trained with ``y[t] = u[t+1]``).

        ``n_steps`` must be an integer >= 1 whose output (batch x n_steps x outputs values) stays
        within 2**31 values; longer requests are refused up front with the memory they would need.
        A trajectory that turns non-finite or exceeds 1e6 x the warm-up's largest magnitude has
        diverged: ``on_divergence="raise"`` (default) raises a ``FloatingPointError`` naming the
        step and the threshold, ``"warn"`` warns (``RuntimeWarning``) and returns it as computed.

        Returns
        -------
        ndarray of shape (batch, n_steps, outputs), or (n_steps, outputs) for one warm-up
        sequence.
        """
        batch = self._check_X(warmup, "generate", name="warmup")
        n_steps = check_n_steps(n_steps, batch.batch, self.n_outputs_, self.dtype)
        check_on_divergence(on_divergence)
        if self.task_ != "regression" or self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"generate needs a one-step forecaster (outputs == features); this model "
                             f"maps {self.n_features_in_} features to {self.n_outputs_} outputs "
                             f"({self.task_}).")
        guard = DivergenceGuard(type(self).__name__, divergence_threshold(batch.data), on_divergence)
        if not batch.uniform:
            raise ValueError("generate needs warm-up sequences of equal length.")
        ops = self._ops()
        if self.feedback:
            states, outs = self._run_feedback(batch)
            h = ops.asarray(states[:, -1].copy())
            y = ops.asarray(outs[:, -1].copy())
        else:
            h, y = None, None
            for _, S, Uc in self._run_chunks(batch, h0=None):
                h = S[-1]
                y = self._readout(self._features(S[-1:], Uc[-1:]))[0]
            h = h.clone() if ops.is_torch else h.copy()
        WT, WinT, b, WfbT, W_dense = self._step_weights(feedback=self.feedback)
        out = ops.empty((batch.batch, n_steps, self.n_outputs_))
        for t in range(n_steps):
            out[:, t] = y            # the forecast of the step after the last one seen
            if guard.due(t + 1):     # raises on divergence (or warns once and carries on)
                guard.check(out[:, guard.checked:t + 1], guard.checked)
            if t == n_steps - 1:
                break
            u = y
            pre = u @ WinT + b
            if WfbT is not None:
                pre = pre + y @ WfbT
            _step(ops, h, pre, WT, float(self.leak_rate), self.activation, W_dense)
            y = self._readout(self._features(h, u))
        guard.check(out[:, guard.checked:], guard.checked)
        res = ops.to_numpy(out)
        return res[0] if batch.single else res
