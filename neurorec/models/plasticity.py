r"""Intrinsic plasticity: echo state networks whose units adapt their own gain and bias.

Each unit :math:`i` computes its output through a gain :math:`a_i` and a bias :math:`b_i`,
which an unsupervised rule adapts on the training inputs, before the readout is trained, so
that the unit's output distribution approaches a target: a Gaussian
:math:`\mathcal N(\mu, \sigma^2)` for tanh units (Schrauwen, Wardermann, Verstraeten, Steil &
Stroobandt, "Improving reservoirs using intrinsic plasticity", Neurocomputing 71, 2008), an
exponential of mean :math:`\mu` for sigmoid (Fermi) units (Triesch, "A gradient rule for the
plasticity of a neuron's intrinsic excitability", ICANN 2005). Both rules descend the
Kullback-Leibler divergence between the unit's output distribution and the target, one step
per time step. The reservoir is reservoirpy's ``IPReservoir`` (same update, same order of
operations), so on the same weights and inputs the two give the same gains, biases and states.
"""

from __future__ import annotations

import uuid

import numpy as np

from neurorec import _params as P
from neurorec._validation import SeqBatch
from neurorec.models._generate import DivergenceGuard, check_n_steps, check_on_divergence, divergence_threshold
from neurorec.models.reservoir import ESN, _add_recurrent

__all__ = ["IPESN", "kl_to_target"]

_IP_ACTIVATIONS = ("tanh", "sigmoid")
_RANGE = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
_DEFAULT_MU = {"tanh": 0.0, "sigmoid": 0.2}


def _target_mu(activation: str, mu) -> float:
    return _DEFAULT_MU[activation] if mu is None else float(mu)


# ---------------------------------------------------------------------------------- step math
def _ip_step(ops, r, x, pre, WT, leak: float, activation: str, gain, ip_bias, W=None, tmp=None, out=None):
    """One update of the intrinsic-plasticity reservoir (``pre``: the input drive
    :math:`W_{in} u + b_{res}` on entry, used as scratch):

    ``r <- (1 - leak) r + leak (pre + W x)``; ``out <- f(gain * r + ip_bias)``.

    ``r``, ``x`` and ``out`` (default: ``x``, in place) are (batch, units). Returns the net input
    and the output, ``(r, out)``; with ``leak == 1`` the net input is ``pre`` itself (``r`` is not
    touched: it does not carry over). On numpy a single sequence goes through BLAS gemv on ``W``
    into ``tmp`` (as :func:`neurorec.models.reservoir._step`)."""
    _add_recurrent(ops, pre, x, WT, W, tmp)
    if leak == 1.0:
        net = pre
    else:
        ops.lerp_(r, pre, leak)
        net = r
    out = x if out is None else out
    ops.xp.multiply(net, gain, out=out)
    out += ip_bias
    ops.activation_(activation, out)
    return net, out


def _ip_update(xp, activation: str, r, x, gain, ip_bias, eta: float, mu: float, sigma: float, t, u) -> None:
    r"""One step of the rule, in place: ``ip_bias += eta * db``, ``gain += eta * (1 / gain + db * r)``
    for net input ``r`` and output ``x``; ``t``, ``u``: scratch (all of one shape, (1, units) or (units,)). ``db`` is
    reservoirpy's ``gaussian_gradients`` / ``exp_gradients``, factored (same value to round-off):
    tanh :math:`\mu/\sigma^2 + x\,(x (x - \mu) - 2\sigma^2 - 1)/\sigma^2`, sigmoid
    :math:`1 + x\,(x/\mu - 2 - 1/\mu)`."""
    if activation == "tanh":
        s2 = sigma * sigma
        xp.subtract(x, mu, out=t)
        t *= x
        t -= 2 * s2 + 1
        t *= x
        t *= eta / s2
        t += eta * mu / s2
    else:
        xp.multiply(x, eta / mu, out=t)
        t -= eta * (2 + 1 / mu)
        t *= x
        t += eta
    ip_bias += t
    t *= r
    if xp is np:
        np.divide(eta, gain, out=u)
    else:
        xp.reciprocal(gain, out=u)
        u *= eta
    t += u
    gain += t


# ---------------------------------------------------------------------------------- divergence
def _unit_counts(S: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Histogram counts (units, bins) of states ``S`` (samples, units) on ``bins`` equal bins of
    [lo, hi] (values outside go to the end bins)."""
    n = S.shape[1]
    idx = ((S - lo) * (bins / (hi - lo))).astype(np.intp)       # truncation = floor for S >= lo
    np.minimum(idx, bins - 1, out=idx)
    np.maximum(idx, 0, out=idx)
    idx += np.arange(0, n * bins, bins)
    return np.bincount(idx.ravel(), minlength=n * bins).reshape(n, bins).astype(np.float64)


def _log_target(activation: str, mu: float, sigma: float, bins: int) -> np.ndarray:
    """Log of the target's probability per bin: its density at the bin centres, normalised over
    the activation's range (the target restricted to what the unit can output)."""
    lo, hi = _RANGE[activation]
    c = lo + (np.arange(bins) + 0.5) * (hi - lo) / bins
    ell = -0.5 * ((c - mu) / sigma) ** 2 if activation == "tanh" else -c / mu
    m = ell.max()
    return ell - (m + np.log(np.exp(ell - m).sum()))


def _kl_from_counts(counts: np.ndarray, log_q: np.ndarray, per_unit: bool) -> float:
    if not per_unit:
        counts = counts.sum(0, keepdims=True)
    tot = counts.sum(1, keepdims=True)
    p = counts / np.where(tot > 0, tot, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(p) - log_q), 0.0)
    return float(terms.sum(1)[tot[:, 0] > 0].mean())


def kl_to_target(states, activation: str = "tanh", *, mu: float | None = None, sigma: float = 1.0,
                 bins: int = 40, per_unit: bool = True) -> float:
    r"""Kullback-Leibler divergence from the units' output distribution to the IP target.

    .. math::

        D_{KL}(p \,\|\, q) = \sum_{k=1}^{K} p_k \log \frac{p_k}{q_k}

    with :math:`p_k` the fraction of a unit's outputs in bin :math:`k` of ``bins`` equal bins
    of the activation's range ([-1, 1] for tanh, [0, 1] for sigmoid) and :math:`q_k` the target
    on the same bins: the Gaussian :math:`\mathcal N(\mu, \sigma^2)` (tanh) or the exponential
    :math:`\frac{1}{\mu} e^{-y/\mu}` (sigmoid), its density at the bin centres normalised over
    the range. The quantity intrinsic plasticity descends (Triesch 2005; Schrauwen et al. 2008),
    in nats; 0 when the histogram equals the discretised target. A histogram estimate: with few
    samples per bin it is biased upwards, so compare values computed with the same ``bins`` on
    the same number of samples.

    Parameters
    ----------
    states : array (..., units)
        Unit outputs, e.g. ``IPESN.transform(X)`` (every leading axis is pooled as samples;
        a list of per-sequence arrays is concatenated).
    activation : {"tanh", "sigmoid"}
        Picks the target (Gaussian or exponential) and the range.
    mu, sigma : float
        Target mean (default 0 for tanh, 0.2 for sigmoid, as :class:`IPESN`) and, for tanh,
        standard deviation.
    bins : int
        Number of histogram bins.
    per_unit : bool
        ``True``: the mean over units of each unit's divergence (what IP adapts, unit by unit);
        ``False``: the divergence of all units' outputs pooled in one histogram.

    Returns
    -------
    float
    """
    if activation not in _IP_ACTIVATIONS:
        raise ValueError(f"activation must be 'tanh' (Gaussian target) or 'sigmoid' (exponential target), "
                         f"got {activation!r}.")
    if isinstance(states, (list, tuple)):
        states = np.concatenate([np.asarray(s).reshape(-1, np.shape(s)[-1]) for s in states])
    S = np.asarray(states, dtype=np.float64)
    if S.ndim < 1 or S.size == 0:
        raise ValueError(f"states must be a non-empty array (..., units), got shape {S.shape}.")
    if not np.all(np.isfinite(S)):
        raise ValueError("states holds NaN or inf values.")
    mu = _target_mu(activation, mu)
    if activation == "sigmoid" and not mu > 0:
        raise ValueError(f"mu must be > 0 for the exponential target of sigmoid units, got {mu!r}.")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number > 0, got {sigma!r}.")
    if not (isinstance(bins, (int, np.integer)) and bins >= 2):
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}.")
    lo, hi = _RANGE[activation]
    counts = _unit_counts(S.reshape(-1, S.shape[-1]), lo, hi, int(bins))
    return _kl_from_counts(counts, _log_target(activation, mu, float(sigma), int(bins)), per_unit)


# ---------------------------------------------------------------------------------- model
class IPESN(ESN):
    r"""Echo state network with intrinsic plasticity (reservoirpy's ``IPReservoir``) and a ridge readout.

    The units keep a net input :math:`r` (leaky) and output :math:`x` through a per-unit gain
    :math:`a` and bias :math:`b` (reservoirpy's ``IPReservoir`` update):

    .. math::

        r[t] = (1 - \alpha)\, r[t-1] + \alpha \left(W x[t-1] + W_{in} u[t] + b_{res}\right),
        \qquad x[t] = f(a \odot r[t] + b)

    with :math:`\alpha` = ``leak_rate`` (the leak acts on the net input, unlike
    :class:`~neurorec.models.ESN`'s leak on the output; the two agree for :math:`\alpha = 1`,
    :math:`a = 1`, :math:`b = 0`) and :math:`r[0] = x[0] = 0`. Before the readout is trained,
    ``fit`` runs ``ip_epochs`` passes over the training sequences and, after each step, moves
    :math:`a, b` (learning rate :math:`\eta` = ``ip_learning_rate``) down the gradient of the
    KL divergence from the unit's output distribution to a target:

    - ``activation="tanh"``, Gaussian target :math:`\mathcal N(\mu, \sigma^2)` (Schrauwen,
      Wardermann, Verstraeten, Steil & Stroobandt 2008, eqs. for tanh units):

      .. math::

          \Delta b = -\eta \left(-\frac{\mu}{\sigma^2} + \frac{x}{\sigma^2}
              \left(2\sigma^2 + 1 - x^2 + \mu x\right)\right), \qquad
          \Delta a = \frac{\eta}{a} + \Delta b\, r

    - ``activation="sigmoid"`` (Fermi units), exponential target of mean :math:`\mu`
      (Triesch 2005):

      .. math::

          \Delta b = \eta \left(1 - \left(2 + \frac{1}{\mu}\right) x + \frac{x^2}{\mu}\right),
          \qquad \Delta a = \frac{\eta}{a} + \Delta b\, r

    As reservoirpy's ``IPReservoir.fit``, the sequences are one stream: epoch after epoch,
    sequence after sequence, step after step, the state carried over from one to the next (not
    reset), and every step updates :math:`a, b` (``washout`` applies to the readout only). The
    readout is then trained, and every later run starts, from the zero state with the adapted
    :math:`a, b`: on the same weights and inputs, ``gain_``, ``ip_bias_`` and ``transform`` equal
    ``IPReservoir(W=W, Win=W_in, bias=b_res, lr=leak_rate, mu=mu, sigma=sigma,
    learning_rate=ip_learning_rate, epochs=ip_epochs, activation=activation)``'s ``a``, ``b``
    and ``reset(); run(X)`` to round-off (tested to 1e-10 in float64).

    Parameters
    ----------
    activation : {"tanh", "sigmoid"}
        Unit non-linearity; picks the rule and the target (intrinsic plasticity has no rule for
        the others).
    mu : float or None
        Target mean. ``None``: 0 for tanh (reservoirpy's default), 0.2 for sigmoid (reservoirpy's
        default 0 divides by zero in the exponential rule; must be > 0).
    sigma : float > 0
        Standard deviation of the Gaussian target (tanh only; reservoirpy's ``sigma``, default 1.0).
    ip_learning_rate : float >= 0
        Learning rate :math:`\eta` of the rule (reservoirpy's ``learning_rate``, default 5e-4).
    ip_epochs : int >= 0
        Passes over the training sequences (reservoirpy's ``epochs``, default 1); 0 keeps
        :math:`a = 1, b = 0`.
    units, spectral_radius, leak_rate, input_scaling, bias_scaling, connectivity, input_connectivity
        The reservoir, drawn as :class:`~neurorec.models.ESN`'s (reservoirpy's initialisers).
    ridge, readout, rls_forgetting, rls_delta, washout, input_to_readout, classify, task
        The readout, as :class:`~neurorec.models.ESN`'s (no output feedback).
    chunk_size, backend, device, dtype, input_init, recurrent_init, bias_init, connectivity_draw, seed
        As :class:`~neurorec.models.ESN`'s.

    Attributes
    ----------
    gain_, ip_bias_ : ndarray of shape (units,)
        The adapted gains :math:`a` and biases :math:`b` (reservoirpy's ``a`` and ``b``).
    ip_kl_ : list of float
        Per epoch, the mean over units of the KL divergence from the outputs the unit gave during
        that epoch, while :math:`a, b` adapted, to the target (:func:`kl_to_target`, 40 bins;
        counted on the fly, no extra run). A convergence trace: the first epoch pools outputs
        from before and after most of the adaptation, so it can read lower than the next ones;
        the divergence of the adapted reservoir is :meth:`kl_to_target`.
    W_, W_in_, bias_, W_out_, b_out_, classes_, n_features_in_, n_outputs_, task_
        As :class:`~neurorec.models.ESN`'s (``bias_`` is the reservoir bias :math:`b_{res}`).

    Examples
    --------
    >>> from neurorec.data import mackey_glass
    >>> from neurorec.models import IPESN
    >>> s = mackey_glass(2000, seed=0)
    >>> m = IPESN(units=100, sigma=0.5, ip_learning_rate=1e-3, ip_epochs=3, washout=100,
    ...           seed=0).fit(s[:-1], s[1:])
    >>> before = m.clone().set_params(ip_epochs=0).fit(s[:-1], s[1:])     # a = 1, b = 0
    >>> m.kl_to_target(s[:-1]) < before.kl_to_target(s[:-1])
    True
    """

    _trained_arrays = ("W_out_", "b_out_", "gain_", "ip_bias_")

    # no output feedback (reservoirpy's IPReservoir has none) and no CUDA graphs: fixed here,
    # not hyperparameters, so ESN's code paths that read them take the plain branch
    feedback = False
    feedback_scaling = 1.0
    feedback_connectivity = None
    cuda_graph = False

    def __init__(self, units: int = 100, spectral_radius: float = 0.9, leak_rate: float = 1.0,
                 input_scaling=1.0, bias_scaling: float = 0.0, connectivity: float = 0.1,
                 input_connectivity: float = 1.0, activation: str = "tanh", mu: float | None = None,
                 sigma: float = 1.0, ip_learning_rate: float = 5e-4, ip_epochs: int = 1, ridge: float = 1e-6,
                 readout: str = "ridge", rls_forgetting: float = 1.0, rls_delta: float = 1e-2,
                 washout: int = 0, input_to_readout: bool = True, classify: str = "mean", chunk_size: int = 1024,
                 backend: str = "numpy", device: str = "cpu", dtype: str = "float32", task: str = "auto",
                 input_init: str = "bernoulli", recurrent_init: str = "normal", bias_init: str = "bernoulli",
                 connectivity_draw: str = "exact", seed=None):
        self.units = units
        self.spectral_radius = spectral_radius
        self.leak_rate = leak_rate
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.connectivity = connectivity
        self.input_connectivity = input_connectivity
        self.activation = activation
        self.mu = mu
        self.sigma = sigma
        self.ip_learning_rate = ip_learning_rate
        self.ip_epochs = ip_epochs
        self.ridge = ridge
        self.readout = readout
        self.rls_forgetting = rls_forgetting
        self.rls_delta = rls_delta
        self.washout = washout
        self.input_to_readout = input_to_readout
        self.classify = classify
        self.chunk_size = chunk_size
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.task = task
        self.input_init = input_init
        self.recurrent_init = recurrent_init
        self.bias_init = bias_init
        self.connectivity_draw = connectivity_draw
        self.seed = seed

    _param_spec = {
        **{k: v for k, v in ESN._param_spec.items()
           if k not in ("feedback", "feedback_scaling", "feedback_connectivity", "cuda_graph")},
        "activation": P.Options(*_IP_ACTIVATIONS), "mu": P.NoneOK() | P.Real(),
        "sigma": P.Real(0, closed="neither"), "ip_learning_rate": P.Real(0), "ip_epochs": P.Int(0),
    }

    _search_space = {**ESN._search_space, "sigma": {"low": 0.05, "high": 1.0, "log": True},
                     "ip_learning_rate": {"low": 1e-5, "high": 1e-2, "log": True}}

    def _validate_params(self) -> None:
        if isinstance(self.activation, str) and self.activation not in _IP_ACTIVATIONS:
            raise P.ParameterError(
                f"IPESN(activation={self.activation!r}) is invalid: intrinsic plasticity has a rule for 'tanh' "
                f"units (Gaussian target, Schrauwen et al. 2008) and for 'sigmoid' units (exponential target, "
                f"Triesch 2005) only; use ESN for {self.activation!r} units.")
        super()._validate_params()
        if self.activation == "sigmoid" and self.mu is not None and not self.mu > 0:
            raise P.ParameterError(f"IPESN(mu={self.mu!r}, activation='sigmoid') is invalid: the exponential target "
                                   f"of sigmoid units needs a mean mu > 0 (e.g. 0.2), got {self.mu!r}.")

    def _target(self) -> tuple[float, float]:
        return _target_mu(self.activation, self.mu), float(self.sigma)

    # ------------------------------------------------------------------ intrinsic plasticity
    def _ip_weights(self):
        """Backend copies of the gains and biases (1 and 0 before any adaptation)."""
        if not hasattr(self, "gain_"):
            ops = self._ops()
            return ops.asarray(np.ones(self.units)), ops.zeros((self.units,))
        return self._bw("gain_"), self._bw("ip_bias_")

    def _intrinsic_plasticity(self, batch: SeqBatch) -> None:
        """Adapt ``gain_`` and ``ip_bias_`` on the training sequences (one stream, see the class
        docstring); sets ``ip_kl_``."""
        ops = self._ops()
        xp = ops.xp
        WT, WinT, b, _, W_dense = self._step_weights(feedback=False)
        N = self.units
        gain, ip_bias = ops.asarray(np.ones((1, N))), ops.zeros((1, N))
        r, x = ops.zeros((1, N)), ops.zeros((1, N))
        t_buf, u_buf = ops.empty((1, N)), ops.empty((1, N))
        tmp = None if ops.is_torch else np.empty((1, N), dtype=ops.dtype)
        leak, act, eta = float(self.leak_rate), self.activation, float(self.ip_learning_rate)
        mu, sigma = self._target()
        lo, hi = _RANGE[act]
        bins = 40
        log_q = _log_target(act, mu, sigma, bins)
        kl = []
        for _ in range(int(self.ip_epochs)):
            counts = np.zeros((N, bins))
            for i in range(batch.batch):
                L = int(batch.lengths[i])
                for t0 in range(0, L, self.chunk_size):
                    t1 = min(L, t0 + self.chunk_size)
                    D = ops.asarray(np.ascontiguousarray(batch.data[i, t0:t1])) @ WinT
                    D += b
                    S = ops.empty((t1 - t0, N))
                    for t in range(t1 - t0):
                        net, x = _ip_step(ops, r, x, D[t:t + 1], WT, leak, act, gain, ip_bias, W_dense, tmp,
                                          out=S[t:t + 1])
                        _ip_update(xp, act, net, x, gain, ip_bias, eta, mu, sigma, t_buf, u_buf)
                    counts += _unit_counts(ops.to_numpy(S).astype(np.float64), lo, hi, bins)
            kl.append(_kl_from_counts(counts, log_q, per_unit=True))
        dt = np.dtype(self.dtype)
        self.gain_ = ops.to_numpy(gain)[0].astype(dt)
        self.ip_bias_ = ops.to_numpy(ip_bias)[0].astype(dt)
        self.ip_kl_ = kl

    def kl_to_target(self, X, *, bins: int = 40, per_unit: bool = True) -> float:
        """KL divergence from the units' outputs on ``X`` to this model's target
        (:func:`kl_to_target`), over the steps after the first ``washout`` of every sequence
        longer than that (the start-up transient from the zero state)."""
        S = self.transform(X)
        w = int(self.washout)
        parts = S if isinstance(S, list) else list(S.reshape(-1, *S.shape[-2:]))
        parts = [p[w:] if len(p) > w else p for p in parts]
        mu, sigma = self._target()
        return kl_to_target(parts, self.activation, mu=mu, sigma=sigma, bins=bins, per_unit=per_unit)

    # ESN.fit draws the reservoir, then trains the readout through one of these two: the gains
    # and biases are adapted in between, on the same training sequences
    def _fit_regression(self, batch: SeqBatch, Yt: np.ndarray):
        self._intrinsic_plasticity(batch)
        return super()._fit_regression(batch, Yt)

    def _classifier_design(self, batch: SeqBatch, idx: np.ndarray, n_classes: int):
        self._intrinsic_plasticity(batch)
        return super()._classifier_design(batch, idx, n_classes)

    def fit(self, X, y) -> IPESN:
        """Draw the reservoir, adapt the units' gains and biases by intrinsic plasticity on ``X``,
        then train the readout on ``X`` and ``y`` (as :meth:`ESN.fit <neurorec.models.ESN.fit>`)."""
        for k in ("gain_", "ip_bias_", "ip_kl_"):
            self.__dict__.pop(k, None)
        return super().fit(X, y)

    # ------------------------------------------------------------------ simulation
    def _run_chunks(self, batch: SeqBatch, teacher=None, h0=None):
        """As :meth:`ESN._run_chunks`, with the intrinsic-plasticity units. ``h0``: a pair
        ``(r, x)`` of (batch, units) backend arrays, updated in place (zeros when None)."""
        if teacher is not None:
            raise ValueError("IPESN has no output feedback.")
        ops = self._ops()
        WT, WinT, b, _, W_dense = self._step_weights(feedback=False)
        gain, ip_bias = self._ip_weights()
        B, T, _ = batch.data.shape
        r, x0 = (ops.zeros((B, self.units)), ops.zeros((B, self.units))) if h0 is None else h0
        x = x0
        leak, act = float(self.leak_rate), self.activation
        tmp = None if ops.is_torch else np.empty((B, self.units), dtype=ops.dtype)
        for t0 in range(0, T, self.chunk_size):
            t1 = min(T, t0 + self.chunk_size)
            Uc = ops.asarray(np.ascontiguousarray(batch.data[:, t0:t1].transpose(1, 0, 2)))
            D = Uc @ WinT
            D += b
            S = ops.empty(D.shape)
            for t in range(t1 - t0):
                _, x = _ip_step(ops, r, x, D[t], WT, leak, act, gain, ip_bias, W_dense, tmp, out=S[t])
            x0[...] = x          # the caller's state follows, as ESN's does
            yield t0, S, Uc

    def generate(self, n_steps: int, warmup, *, on_divergence: str = "raise") -> np.ndarray:
        """Closed-loop forecast of ``n_steps`` steps after ``warmup``, as
        :meth:`ESN.generate <neurorec.models.ESN.generate>` (a one-step forecaster's outputs fed
        back as its next inputs), with the adapted units."""
        batch = self._check_X(warmup, "generate", name="warmup")
        n_steps = check_n_steps(n_steps, batch.batch, self.n_outputs_, self.dtype)
        check_on_divergence(on_divergence)
        if self.task_ != "regression" or self.n_outputs_ != self.n_features_in_:
            raise ValueError(f"generate needs a one-step forecaster (outputs == features); this model "
                             f"maps {self.n_features_in_} features to {self.n_outputs_} outputs "
                             f"({self.task_}).")
        if not batch.uniform:
            raise ValueError("generate needs warm-up sequences of equal length.")
        guard = DivergenceGuard(type(self).__name__, divergence_threshold(batch.data), on_divergence)
        ops = self._ops()
        B = batch.batch
        r, x = ops.zeros((B, self.units)), ops.zeros((B, self.units))
        y = None
        for _, S, Uc in self._run_chunks(batch, h0=(r, x)):
            y = self._readout(self._features(S[-1:], Uc[-1:]))[0]
        WT, WinT, b, _, W_dense = self._step_weights(feedback=False)
        gain, ip_bias = self._ip_weights()
        leak, act = float(self.leak_rate), self.activation
        out = ops.empty((B, n_steps, self.n_outputs_))
        for t in range(n_steps):
            out[:, t] = y
            if guard.due(t + 1):
                guard.check(out[:, guard.checked:t + 1], guard.checked)
            if t == n_steps - 1:
                break
            u = y
            pre = u @ WinT + b
            _ip_step(ops, r, x, pre, WT, leak, act, gain, ip_bias, W_dense)
            y = self._readout(self._features(x, u))
        guard.check(out[:, guard.checked:], guard.checked)
        res = ops.to_numpy(out)
        return res[0] if batch.single else res

    # ------------------------------------------------------------------ reservoirpy bridge
    @classmethod
    def from_reservoirpy(cls, model, **params):
        raise NotImplementedError("IPESN.from_reservoirpy is not implemented; build IPESN(...) with the same "
                                  "hyperparameters and call set_reservoir(W, Win, bias) with the IPReservoir's "
                                  "weights.")

    def to_reservoirpy(self, ridge: float | None = None):
        """This model as a reservoirpy ``IPReservoir >> Ridge`` on the same weights and IP
        hyperparameters (float64): the ``IPReservoir`` holds the adapted gains and biases (``a``,
        ``b``) once fitted, the ``Ridge`` node the readout of a fitted regressor (which needs
        ``input_to_readout=False``, as for :meth:`ESN.to_reservoirpy`)."""
        from neurorec.backends.ops import require
        from neurorec.backends.reservoirpy import ridge_node

        rpy_nodes = require("reservoirpy.nodes")
        if not hasattr(self, "W_"):
            raise ValueError("the IPESN has no reservoir yet: fit it (or call set_reservoir) first.")
        mu, sigma = self._target()
        # reservoirpy asks for names when a model holds two trainable nodes
        tag = uuid.uuid4().hex[:8]
        res = rpy_nodes.IPReservoir(W=self.W_.astype(np.float64), Win=self.W_in_.astype(np.float64),
                                    bias=self.bias_.astype(np.float64), lr=float(self.leak_rate), mu=mu,
                                    sigma=sigma, learning_rate=float(self.ip_learning_rate),
                                    epochs=int(self.ip_epochs), activation=self.activation,
                                    name=f"ipreservoir-{tag}")
        res.initialize(np.zeros((1, self.W_in_.shape[1])))
        if hasattr(self, "gain_"):
            res.a = self.gain_.astype(np.float64).copy()
            res.b = self.ip_bias_.astype(np.float64).copy()
        return res >> ridge_node(self, ridge, "IPReservoir", name=f"ridge-{tag}")
