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
    r"""Recursive least squares (online) readout with forgetting factor.

    For each new feature row :math:`z` (with a constant 1 appended for the bias) and
    target :math:`y`:

    .. math::

        k = \frac{P z}{\mu + z^\top P z}, \quad
        W \leftarrow W + k\,(y - W^\top z)^\top, \quad
        P \leftarrow (P - k z^\top P) / \mu,

    with :math:`P_0 = I/\delta` and forgetting factor :math:`\mu \in (0, 1]`
    (Haykin, *Adaptive Filter Theory*, ch. 10; used for reservoirs by Jaeger & Haas 2004
    and Sussillo & Abbott 2009). Runs on the host in float64.
    """

    def __init__(self, n_features: int, n_outputs: int, forgetting: float = 1.0, delta: float = 1e-2):
        if not 0 < forgetting <= 1:
            raise ValueError(f"forgetting must be in (0, 1], got {forgetting}.")
        if delta <= 0:
            raise ValueError(f"rls_delta must be > 0, got {delta}.")
        D = n_features + 1
        self.P = np.eye(D) / delta
        self.W = np.zeros((D, n_outputs))
        self.mu = forgetting

    def partial_fit(self, Z: np.ndarray, Y: np.ndarray) -> None:
        Z = np.asarray(Z, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        P, W, mu = self.P, self.W, self.mu
        for z, y in zip(Z, Y, strict=True):
            z = np.append(z, 1.0)
            Pz = P @ z
            k = Pz / (mu + z @ Pz)
            W += np.outer(k, y - z @ W)
            P -= np.outer(k, Pz)
            if mu != 1.0:
                P /= mu
        self.P = 0.5 * (P + P.T)  # keep P symmetric against round-off

    def weights(self) -> tuple[np.ndarray, np.ndarray]:
        return self.W[:-1].copy(), self.W[-1].copy()
