"""Per-feature standardisation of batches of sequences."""

from __future__ import annotations

import numpy as np

__all__ = ["SequenceScaler"]


def _layout(X, name: str):
    """Return (kind, list of 2-D float arrays); kind is 'list', '3d' or '2d'."""
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is an empty list; expected (time_i, features) arrays.")
        seqs = [np.asarray(s) for s in X]
        for i, s in enumerate(seqs):
            if s.ndim != 2:
                raise ValueError(f"{name}[{i}] must have shape (time, features), got {s.shape}.")
        return "list", seqs
    arr = np.asarray(X)
    if arr.ndim == 3:
        return "3d", arr
    if arr.ndim == 2:
        return "2d", arr
    raise ValueError(f"{name} must have shape (batch, time, features), (time, features) or be a "
                     f"list of (time_i, features) arrays; got an array of shape {arr.shape}.")


def _stack(kind: str, data) -> np.ndarray:
    if kind == "list":
        return np.concatenate(data, axis=0)
    return data.reshape(-1, data.shape[-1])


class SequenceScaler:
    r"""Standardise each feature over all time steps of all sequences.

    Wraps :class:`sklearn.preprocessing.StandardScaler`: ``fit`` pools every step of every
    sequence, so feature ``j`` is mapped to

    .. math:: x'_j = (x_j - \mu_j) / s_j

    with :math:`\mu_j` and :math:`s_j` the mean and population standard deviation of feature
    ``j`` over the fitted data (a constant feature gets :math:`s_j = 1`). Fit it on the
    training split only, then transform every split.

    Accepts a ``(batch, time, features)`` array, one ``(time, features)`` sequence, or a list of
    ``(time_i, features)`` arrays of different lengths, and returns the same layout in float32.

    Parameters
    ----------
    with_mean, with_std : bool, default True
        Centre and/or scale (as in ``StandardScaler``).

    Attributes
    ----------
    mean_ : ndarray of shape (features,)
    scale_ : ndarray of shape (features,)
    n_features_in_ : int
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True):
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None) -> SequenceScaler:
        """Learn per-feature mean and standard deviation from ``X``; return ``self``."""
        from sklearn.preprocessing import StandardScaler

        kind, data = _layout(X, "X")
        flat = _stack(kind, data).astype(np.float64, copy=False)
        if flat.shape[0] == 0 or flat.shape[1] == 0:
            raise ValueError(f"X holds no data to fit (stacked shape {flat.shape}).")
        if not np.isfinite(flat).all():
            raise ValueError("X contains NaN or infinite values; clean them before scaling.")
        self.scaler_ = StandardScaler(with_mean=self.with_mean, with_std=self.with_std).fit(flat)
        self.n_features_in_ = int(flat.shape[1])
        self.mean_ = (self.scaler_.mean_ if self.with_mean
                      else np.zeros(self.n_features_in_))
        self.scale_ = (self.scaler_.scale_ if self.with_std
                       else np.ones(self.n_features_in_))
        return self

    def _apply(self, X, inverse: bool):
        if not hasattr(self, "scaler_"):
            raise ValueError("this SequenceScaler is not fitted yet; call fit(X_train) first.")
        kind, data = _layout(X, "X")
        F = data[0].shape[-1] if kind == "list" else data.shape[-1]
        if kind == "list" and len({s.shape[1] for s in data}) != 1:
            raise ValueError("all sequences in X must have the same number of features.")
        if F != self.n_features_in_:
            raise ValueError(f"X has {F} features per step but the scaler was fitted with "
                             f"{self.n_features_in_}.")
        mean = self.mean_.astype(np.float64)
        scale = self.scale_.astype(np.float64)

        def f(a):
            a = np.asarray(a, dtype=np.float64)
            out = a * scale + mean if inverse else (a - mean) / scale
            return out.astype(np.float32)

        if kind == "list":
            return [f(s) for s in data]
        return f(data)

    def transform(self, X):
        """Return ``(X - mean_) / scale_`` in ``X``'s layout, float32."""
        return self._apply(X, inverse=False)

    def inverse_transform(self, X):
        """Return ``X * scale_ + mean_`` in ``X``'s layout, float32."""
        return self._apply(X, inverse=True)

    def fit_transform(self, X, y=None):
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def __repr__(self) -> str:
        return f"SequenceScaler(with_mean={self.with_mean}, with_std={self.with_std})"
