"""Linear readouts trained in closed form (ridge) or online (recursive least squares).

Both produce ``y = z @ W + b`` from features ``z``. The ridge solution is accumulated from
chunks, so a long series never has to hold all its states at once.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


class RidgeAccumulator:
    r"""Closed-form ridge regression from streamed chunks.

    Solves, with the intercept left unpenalised (features and targets centred),

    .. math::

        W = (\tilde Z^\top \tilde Z + \lambda I)^{-1} \tilde Z^\top \tilde Y, \qquad
        b = \bar y - \bar z W,

    where :math:`\tilde Z = Z - \bar z` and :math:`\tilde Y = Y - \bar y`. The sums
    :math:`Z^\top Z`, :math:`Z^\top Y`, :math:`\sum z`, :math:`\sum y` are accumulated in
    float64 on the array's own backend (CPU or GPU); only the small ``D x D`` system is
    solved on the host. This is the same estimator as reservoirpy's ``Ridge``
    (``fit_bias=True``).
    """

    def __init__(self, ops, n_features: int, n_outputs: int):
        self.ops = ops
        f64 = ops.xp.float64
        self.ZtZ = ops.zeros((n_features, n_features), dtype=f64)
        self.ZtY = ops.zeros((n_features, n_outputs), dtype=f64)
        self.z_sum = ops.zeros((n_features,), dtype=f64)
        self.y_sum = ops.zeros((n_outputs,), dtype=f64)
        self.n = 0

    def add(self, Z, Y) -> None:
        """Add rows ``Z`` (n, D) and targets ``Y`` (n, O) (backend arrays)."""
        if Z.shape[0] == 0:
            return
        f64 = self.ops.xp.float64
        Z = Z.to(f64) if self.ops.is_torch else np.asarray(Z, dtype=f64)
        Y = Y.to(f64) if self.ops.is_torch else np.asarray(Y, dtype=f64)
        self.ZtZ += Z.T @ Z
        self.ZtY += Z.T @ Y
        self.z_sum += Z.sum(0)
        self.y_sum += Y.sum(0)
        self.n += Z.shape[0]

    def solve(self, ridge: float) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(W (D, O), b (O,))`` as float64 numpy arrays."""
        if self.n == 0:
            raise ValueError("no training steps left to fit the readout (check washout against "
                             "the sequence lengths).")
        to = self.ops.to_numpy
        ZtZ, ZtY, zs, ys = to(self.ZtZ), to(self.ZtY), to(self.z_sum), to(self.y_sum)
        zm, ym = zs / self.n, ys / self.n
        A = ZtZ - self.n * np.outer(zm, zm)
        B = ZtY - self.n * np.outer(zm, ym)
        A[np.diag_indices_from(A)] += ridge
        try:
            W = linalg.solve(A, B, assume_a="sym")
        except linalg.LinAlgError:
            W = linalg.lstsq(A, B)[0]
        return W, ym - zm @ W


def loo_ridge_predictions(Z, Y, ridge: float) -> np.ndarray:
    r"""Exact leave-one-out predictions of :class:`RidgeAccumulator`'s estimator on rows ``Z``.

    Row :math:`i`'s prediction comes from the ridge fit (unpenalised intercept) on all rows but
    :math:`i`. For a penalised least-squares fit that is linear in the targets with hat matrix
    :math:`H`, the left-out residual is :math:`e_i / (1 - H_{ii})` (Allen's PRESS identity, as
    in scikit-learn's ``RidgeCV``); here :math:`H = \mathbf{1}\mathbf{1}^\top/n + U
    \operatorname{diag}(s^2/(s^2+\lambda)) U^\top` from the thin SVD :math:`\tilde Z = U S
    V^\top` of the centred rows. Both :math:`e` and :math:`1 - H_{ii}` are formed from
    :math:`\lambda/(s^2+\lambda)` terms, so an interpolating fit (fewer rows than features,
    small ``ridge``) keeps its precision. Costs one SVD of the (n, D) rows.

    Parameters
    ----------
    Z : array (n, D)
    Y : array (n, O)
    ridge : float

    Returns
    -------
    array (n, O), float64. With a single row there is nothing to leave out: ``Y``'s mean.
    """
    Z = np.asarray(Z, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n = Z.shape[0]
    if n < 2:
        return np.broadcast_to(Y.mean(0), Y.shape).copy()
    Zc, Yc = Z - Z.mean(0), Y - Y.mean(0)
    U, s, _ = linalg.svd(Zc, full_matrices=False)
    keep = s > s[0] * max(n, Z.shape[1]) * np.finfo(np.float64).eps if s.size and s[0] > 0 else s > 0
    U, s = U[:, keep], s[keep]
    shrink = ridge / (s**2 + ridge) if ridge > 0 else np.zeros_like(s)
    UtY = U.T @ Yc
    # e = (I - H) Yc: the part of Yc outside U's span is untouched, the rest shrunk by lambda/(s^2+lambda)
    e = U @ (shrink[:, None] * UtY) + (Yc - U @ UtY)
    one_minus_h = (U**2) @ shrink + np.clip(1.0 - 1.0 / n - (U**2).sum(1), 0.0, None)
    one_minus_h = np.maximum(one_minus_h, np.finfo(np.float64).tiny)
    return Y - e / one_minus_h[:, None]


class RLSReadout:
    r"""Recursive least squares (online) readout with forgetting factor, rows taken in order.

    The ESN's ``readout="rls"``: :class:`RLS` (the update, with a constant 1 appended to every
    feature row for the bias) with forgetting factor :math:`\mu \in (0, 1]` and
    :math:`P_0 = I/\delta` (Haykin, *Adaptive Filter Theory*, ch. 10; used for reservoirs by
    Jaeger & Haas 2004 and Sussillo & Abbott 2009). Runs on the host in float64.
    """

    def __init__(self, n_features: int, n_outputs: int, forgetting: float = 1.0, delta: float = 1e-2):
        if not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}.")
        if delta <= 0:
            raise ValueError(f"rls_delta must be > 0, got {delta}.")
        self.rls = RLS(alpha=delta, forgetting=forgetting).initialize(n_features, n_outputs)

    def partial_fit(self, Z: np.ndarray, Y: np.ndarray) -> None:
        """One update per row of ``Z`` (n, D), in order, with targets ``Y`` (n, O)."""
        if np.shape(Z)[0]:
            self.rls.partial_fit(np.asarray(Z, dtype=np.float64), np.asarray(Y, dtype=np.float64))

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self.rls.W_out_, self.rls.b_out_


# ------------------------------------------------------------------------------ online rules
def _is_torch(a) -> bool:
    return type(a).__module__.startswith("torch")


def _sym_from_upper(P: np.ndarray) -> np.ndarray:
    """The symmetric matrix whose upper triangle is ``P``'s (float64, Fortran order)."""
    P = np.asarray(P, dtype=np.float64)
    return np.asfortranarray(np.triu(P) + np.triu(P, 1).T)


class _OnlineReadout:
    """Shared parts of :class:`LMS` and :class:`RLS`: weights, input checks, prediction.

    The weights are one float64 matrix :math:`\\tilde W` of shape ``(D + 1, O)`` (``(D, O)``
    without ``fit_bias``): the rows of :math:`W` and, last, the bias, the weight of a constant
    input 1 appended to every feature vector. It lives on the backend (numpy, or torch on
    ``device``); the public attributes are numpy copies.
    """

    _kind = ""

    def __init__(self, fit_bias: bool = True, backend: str = "numpy", device: str = "cpu"):
        self.fit_bias = fit_bias
        self.backend = backend
        self.device = device

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def _params(self) -> dict:
        return {"fit_bias": self.fit_bias, "backend": self.backend, "device": self.device}

    def __getstate__(self):
        state = dict(self.__dict__)          # the Ops (which holds a module) is rebuilt on use
        state.pop("_ops", None)
        state.pop("_ops_key", None)
        return state

    # ---------------------------------------------------------------- state
    def _check_params(self) -> None:
        if not isinstance(self.fit_bias, (bool, np.bool_)):
            raise ValueError(f"fit_bias must be True or False, got {self.fit_bias!r}.")
        if self.backend not in ("numpy", "torch"):
            raise ValueError(f"backend must be 'numpy' or 'torch', got {self.backend!r}.")

    def _get_ops(self):
        from neurorec.backends import get_ops

        key = (self.backend, str(self.device))
        if getattr(self, "_ops_key", None) != key:
            self._ops, self._ops_key = get_ops(self.backend, self.device, "float64"), key
        return self._ops

    def initialize(self, n_features: int, n_outputs: int):
        """Start from zero weights for ``n_features`` inputs and ``n_outputs`` outputs
        (reservoirpy's ``Wout=zeros, bias=zeros``); returns ``self``."""
        self._check_params()
        if int(n_features) < 1 or int(n_outputs) < 1:
            raise ValueError(f"n_features and n_outputs must be >= 1, got {n_features} and {n_outputs}.")
        self.n_features_in_, self.n_outputs_ = int(n_features), int(n_outputs)
        D = self.n_features_in_ + bool(self.fit_bias)
        self._set_arrays(np.zeros((D, self.n_outputs_)), self._initial_P(D))
        self.n_updates_ = 0
        return self

    def _initial_P(self, D: int):
        return None

    def _set_arrays(self, W_aug: np.ndarray, P: np.ndarray | None) -> None:
        """Install the augmented weights (and RLS's ``P``, from its upper triangle) on the backend."""
        ops = self._get_ops()
        if ops.is_torch:
            self._W = ops.asarray(np.asarray(W_aug, dtype=np.float64))
            self._P = None if P is None else ops.asarray(_sym_from_upper(P))
        else:
            self._W = np.array(W_aug, dtype=np.float64, order="F")    # dger updates it in place
            self._P = None if P is None else _sym_from_upper(P)

    def _set_state(self, W_out, b_out, P=None, n_updates: int = 0) -> None:
        """Restore a saved readout (``W_out`` (D, O), ``b_out`` (O,), RLS's ``P``)."""
        self._check_params()
        W_out = np.asarray(W_out, dtype=np.float64)
        self.n_features_in_, self.n_outputs_ = W_out.shape
        parts = [W_out, np.asarray(b_out, dtype=np.float64).reshape(1, -1)] if self.fit_bias else [W_out]
        self._set_arrays(np.concatenate(parts, 0), P)
        self.n_updates_ = int(n_updates)

    def _numpy(self, a) -> np.ndarray:
        return a.detach().cpu().numpy().copy() if _is_torch(a) else np.array(a)

    @property
    def W_out_(self) -> np.ndarray:
        """Output weights (n_features, n_outputs), float64 (a copy)."""
        if getattr(self, "_W", None) is None:
            raise AttributeError(f"this {type(self).__name__} has no weights yet: call partial_fit first.")
        return self._numpy(self._W[: self.n_features_in_])

    @property
    def b_out_(self) -> np.ndarray:
        """Bias (n_outputs,), float64; zeros with ``fit_bias=False``."""
        if getattr(self, "_W", None) is None:
            raise AttributeError(f"this {type(self).__name__} has no weights yet: call partial_fit first.")
        if not self.fit_bias:
            return np.zeros(self.n_outputs_)
        return self._numpy(self._W[-1])

    # ---------------------------------------------------------------- checks
    def _check(self, Z, Y):
        """``(Z, Y)`` as float64 numpy arrays (batch, time, D) and (batch, time, O)."""
        Z = _float_array(Z, "Z")
        if Z.ndim not in (1, 2, 3) or Z.shape[-1] == 0:
            raise ValueError(f"Z must be one feature vector (features,), a sequence (time, features) or a batch "
                             f"of streams (batch, time, features), got shape {Z.shape}.")
        n = getattr(self, "n_features_in_", None)
        if n is not None and Z.shape[-1] != n:
            raise ValueError(f"Z has {Z.shape[-1]} features per sample but this {type(self).__name__} was "
                             f"initialised with {n}.")
        Y = _float_array(Y, "Y")
        lead = Z.shape[:-1]
        if Y.shape == lead:
            Y = Y[..., None]        # one output, given without its axis
        if Y.ndim != Z.ndim or Y.shape[:-1] != lead or Y.shape[-1] == 0:
            raise ValueError(f"Y must have shape {(*lead, 'outputs')} to match Z {Z.shape}, got {Y.shape}.")
        m = getattr(self, "n_outputs_", None)
        if m is not None and Y.shape[-1] != m:
            raise ValueError(f"Y has {Y.shape[-1]} outputs but this {type(self).__name__} was initialised with {m}.")
        shape = {1: (1, 1), 2: (1, Z.shape[0]), 3: Z.shape[:2]}[Z.ndim]
        return Z.reshape(*shape, Z.shape[-1]), Y.reshape(*shape, Y.shape[-1])

    def _augment(self, Z):
        """Backend array (..., D + fit_bias): ``Z`` with a column of ones for the bias."""
        ops = self._get_ops()
        if not self.fit_bias:
            return ops.asarray(Z)
        Za = ops.empty((*Z.shape[:-1], Z.shape[-1] + 1))
        Za[..., :-1] = ops.asarray(Z)
        Za[..., -1] = 1.0
        return Za

    # ---------------------------------------------------------------- public API
    def partial_fit(self, Z, Y):
        """Update the weights on feature vectors ``Z`` and targets ``Y``; returns ``self``.

        ``Z`` is one sample ``(features,)``, a sequence ``(time, features)`` whose rows are
        taken in order, one update each (reservoirpy's ``partial_fit``), or ``(batch, time,
        features)``: ``batch`` independent streams, whose rows at one time step are one update
        of the shared weights. ``Y`` has the same leading axes and ``outputs`` last (the last
        axis may be left out for one output). The first call sets the sizes; a later call with
        other sizes raises a ValueError and changes nothing.
        """
        Z, Y = self._check(Z, Y)
        if getattr(self, "_W", None) is None:
            self.initialize(Z.shape[-1], Y.shape[-1])
        self._check_params()
        ops = self._get_ops()
        Za = self._augment(np.ascontiguousarray(Z.transpose(1, 0, 2)))      # (time, batch, D')
        Yt = ops.asarray(np.ascontiguousarray(Y.transpose(1, 0, 2)))
        for t in range(Za.shape[0]):
            self._update(Za[t], Yt[t])
        return self

    def predict(self, Z) -> np.ndarray:
        """Outputs ``Z @ W_out_ + b_out_`` for features ``Z`` of shape (..., features)."""
        if getattr(self, "_W", None) is None:
            raise AttributeError(f"this {type(self).__name__} has no weights yet: call partial_fit first.")
        Z = _float_array(Z, "Z")
        if Z.ndim == 0 or Z.shape[-1] != self.n_features_in_:
            raise ValueError(f"Z must have {self.n_features_in_} features on its last axis, got shape {Z.shape}.")
        return self._numpy(self._augment(Z) @ self._W)

    def _update(self, Za, Y):
        """One update from the rows ``Za`` (B, D') (augmented, float64, on the backend) and
        targets ``Y`` (B, O); returns the a-priori outputs ``Za @ W`` (before the update)."""
        raise NotImplementedError


def _float_array(a, name: str) -> np.ndarray:
    if _is_torch(a):
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {type(a).__name__}.") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


class LMS(_OnlineReadout):
    r"""Least-mean-squares (Widrow-Hoff) online readout.

    For each feature vector :math:`z` and target :math:`y`, with :math:`e = W^\top z + b - y`
    the error of the output before the update:

    .. math::

        W \leftarrow W - \eta\, z\, e^\top, \qquad b \leftarrow b - \eta\, e .

    This is reservoirpy 0.4's ``reservoirpy.nodes.LMS`` (``learning_rate`` :math:`\eta`,
    ``fit_bias``, zero initial weights); on the same features and targets the two give the
    same weights to round-off in float64. For a batch of :math:`B` streams, the rows of one time
    step update the weights together: :math:`W \leftarrow W - \frac{\eta}{B} Z^\top E`, the mean
    of their updates from the same weights (so :math:`\eta` means the same for any number of
    streams; one row is the update above). Stable when :math:`\eta < 2/\lVert z\rVert^2`
    (Haykin, *Adaptive Filter Theory*, ch. 6); used on reservoirs by Sussillo & Abbott (2009).

    Parameters
    ----------
    learning_rate : float, default 1e-3
        :math:`\eta > 0` (reservoirpy's default is 1e-6).
    fit_bias : bool, default True
        Learn :math:`b` (else :math:`b = 0`).
    backend : {"numpy", "torch"}, device : str
        Where the weights live and the updates run (float64 on both).

    Attributes
    ----------
    W_out_ : ndarray (n_features, n_outputs)
    b_out_ : ndarray (n_outputs,)
    n_features_in_, n_outputs_ : int
    n_updates_ : int
        Updates made (one per sample, or per time step of a batch).
    """

    _kind = "lms"

    def __init__(self, learning_rate: float = 1e-3, fit_bias: bool = True, backend: str = "numpy",
                 device: str = "cpu"):
        super().__init__(fit_bias, backend, device)
        self.learning_rate = learning_rate

    def _params(self) -> dict:
        return {"learning_rate": self.learning_rate, **super()._params()}

    def _check_params(self) -> None:
        super()._check_params()
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)) or not 0 < float(lr) < np.inf:
            raise ValueError(f"learning_rate must be a finite real number > 0, got {lr!r}.")

    def _update(self, Za, Y):
        lr = float(self.learning_rate)
        W = self._W
        Yp = Za @ W
        E = Yp - Y
        if Za.shape[0] > 1:
            lr /= Za.shape[0]                     # the mean of the rows' updates
        if _is_torch(W):
            W.addmm_(Za.T, E, alpha=-lr)
        elif Za.shape[0] == 1:
            self._W = _blas().dger(-lr, Za[0], E[0], a=W, overwrite_a=1)
        else:
            W -= lr * (Za.T @ E)
        self.n_updates_ += 1
        return Yp


class RLS(_OnlineReadout):
    r"""Recursive least-squares online readout, with forgetting factor.

    With :math:`P_0 = I/\alpha`, :math:`W_0 = 0`, for each feature vector :math:`z` and target
    :math:`y` (:math:`e = W^\top z - y`, the a-priori error):

    .. math::

        k = \frac{P z}{\lambda + z^\top P z}, \qquad
        W \leftarrow W - k\, e^\top, \qquad
        P \leftarrow \frac{P - k\, z^\top P}{\lambda}.

    With :math:`\lambda = 1`, after :math:`n` samples :math:`W` is exactly the ridge solution
    :math:`(Z^\top Z + \alpha I)^{-1} Z^\top Y` on all of them (so a noiseless linear target is
    recovered in one pass, up to the :math:`\alpha` penalty); :math:`\lambda < 1` discounts a
    sample :math:`k` updates old by :math:`\lambda^k` (Haykin, *Adaptive Filter Theory*, ch. 10;
    Sussillo & Abbott 2009 for FORCE, where :math:`\alpha` acts as the learning rate; Waegeman,
    Wyffels & Schrauwen 2012 for the forgetting factor).

    **reservoirpy.** This is ``reservoirpy.nodes.RLS`` (0.4): ``alpha`` is its ``alpha``
    (:math:`P_0 = I/\alpha`), ``forgetting`` its ``forgetting``, the same update, in float64;
    on the same features and targets the weights agree to round-off. The bias differs: here
    it is the weight of a constant input 1 inside the least-squares problem (so :math:`P` is
    :math:`(D+1) \times (D+1)` and the fit stays exact least squares), which is reservoirpy's
    ``RLS(fit_bias=False)`` on the features with a column of ones appended; reservoirpy's own
    ``fit_bias=True`` moves its bias outside the recursion by the running mean of the errors,
    not the least-squares solution.

    For a batch of :math:`B` streams the rows :math:`Z` (B, D) of one time step make one block
    update, :math:`K = P Z^\top (\lambda I + Z P Z^\top)^{-1}`, :math:`W \leftarrow W - K E`,
    :math:`P \leftarrow (P - K Z P)/\lambda`: with :math:`\lambda = 1` the same as taking the
    rows one by one; with :math:`\lambda < 1` the past is discounted once per time step.

    :math:`P` is kept exactly symmetric (numpy: only its upper triangle is updated, with the
    BLAS ``syr``/``syrk`` rank updates, ``symv``/``symm`` products), which keeps the recursion
    stable over long streams.

    Parameters
    ----------
    alpha : float, default 1.0
        :math:`\alpha > 0`, the initial :math:`P = I/\alpha`: a ridge penalty that fades as
        samples arrive (Sussillo & Abbott use 1 to 100; reservoirpy's default is 1e-6).
    forgetting : float in (0, 1], default 1.0
        :math:`\lambda`.
    fit_bias : bool, default True
    backend : {"numpy", "torch"}, device : str
        Where the weights and :math:`P` live and the updates run (float64 on both).

    Attributes
    ----------
    W_out_, b_out_, n_features_in_, n_outputs_, n_updates_
        As for :class:`LMS`.
    P_ : ndarray (D', D')
        :math:`P` (a copy), :math:`D' = D + 1` with ``fit_bias``.
    """

    _kind = "rls"

    def __init__(self, alpha: float = 1.0, forgetting: float = 1.0, fit_bias: bool = True, backend: str = "numpy",
                 device: str = "cpu"):
        super().__init__(fit_bias, backend, device)
        self.alpha = alpha
        self.forgetting = forgetting

    def _params(self) -> dict:
        return {"alpha": self.alpha, "forgetting": self.forgetting, **super()._params()}

    def _check_params(self) -> None:
        super()._check_params()
        a, f = self.alpha, self.forgetting
        if isinstance(a, bool) or not isinstance(a, (int, float, np.number)) or not 0 < float(a) < np.inf:
            raise ValueError(f"alpha must be a finite real number > 0 (P0 = I/alpha), got {a!r}.")
        if isinstance(f, bool) or not isinstance(f, (int, float, np.number)) or not 0 < float(f) <= 1:
            raise ValueError(f"forgetting must be in (0, 1], got {f!r}.")

    def _initial_P(self, D: int):
        return np.eye(D) / float(self.alpha)

    @property
    def P_(self) -> np.ndarray:
        """:math:`P` (D', D'), float64 (a copy)."""
        if getattr(self, "_P", None) is None:
            raise AttributeError("this RLS has no P yet: call partial_fit first.")
        return _sym_from_upper(self._numpy(self._P))

    def _update(self, Za, Y):
        lam = float(self.forgetting)
        W, P = self._W, self._P
        Yp = Za @ W
        E = Yp - Y
        if _is_torch(W):
            torch = self._get_ops().xp
            if Za.shape[0] == 1:
                z = Za[0]
                Pz = P @ z
                c = 1.0 / (lam + z @ Pz)
                W.sub_(torch.outer(Pz * c, E[0]))
                v = Pz * c.sqrt()
                P.addr_(v, v, alpha=-1.0)            # v v^T is exactly symmetric
            else:
                PZ = P @ Za.T
                S = Za @ PZ
                S.diagonal().add_(lam)
                L = torch.linalg.cholesky(S)
                M = torch.linalg.solve_triangular(L, PZ.T, upper=False)        # L^-1 Z P
                K = torch.linalg.solve_triangular(L.T, M, upper=True)         # S^-1 Z P
                W.sub_(K.T @ E)
                P.sub_(M.T @ M)
                P.copy_(torch.triu(P) + torch.triu(P, 1).T)
            if lam != 1.0:
                P.mul_(1.0 / lam)
        else:
            blas = _blas()
            if Za.shape[0] == 1:
                z = Za[0]
                Pz = blas.dsymv(1.0, P, z)
                c = 1.0 / (lam + z @ Pz)
                self._W = blas.dger(-c, Pz, E[0], a=W, overwrite_a=1)
                P = blas.dsyr(-c, Pz, a=P, overwrite_a=1)
            else:
                PZ = blas.dsymm(1.0, P, np.asfortranarray(Za.T))
                S = Za @ PZ
                S[np.diag_indices_from(S)] += lam
                L = linalg.cholesky(S, lower=True)
                M = linalg.solve_triangular(L, PZ.T, lower=True)
                K = linalg.solve_triangular(L, M, lower=True, trans="T")
                W -= K.T @ E
                P = blas.dsyrk(-1.0, M, beta=1.0, c=P, trans=1, overwrite_c=1)
            if lam != 1.0:
                P *= 1.0 / lam
            self._P = P
        self.n_updates_ += 1
        return Yp


def _blas():
    return linalg.blas
