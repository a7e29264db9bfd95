"""Input checking shared by every public entry point.

Every check raises early, with a message that names the argument, the expected shape
and what was given. Nothing here copies data that is already in the right form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeqBatch", "check_sequences", "check_sequence_targets", "check_labels",
           "check_finite", "check_positive_int"]

_SEQ_SHAPE = "(batch, time, features), (time, features) or a list of (time_i, features) arrays"


@dataclass
class SeqBatch:
    """A validated batch of sequences, padded to a common length.

    Attributes
    ----------
    data : ndarray of shape (batch, time, features)
        The sequences, zero-padded after each sequence's end.
    lengths : ndarray of shape (batch,), int64
        The true length of each sequence.
    single : bool
        The caller passed one ``(time, features)`` sequence; outputs drop the batch axis.
    ragged : bool
        The caller passed a list of sequences of different lengths; outputs are lists.
    """

    data: np.ndarray
    lengths: np.ndarray
    single: bool = False
    ragged: bool = False

    @property
    def batch(self) -> int:
        return self.data.shape[0]

    @property
    def uniform(self) -> bool:
        return bool(np.all(self.lengths == self.data.shape[1]))

    def mask(self) -> np.ndarray:
        """Boolean (batch, time) mask of the valid steps."""
        return np.arange(self.data.shape[1])[None, :] < self.lengths[:, None]

    def unpad(self, out: np.ndarray):
        """Return a per-step output (batch, time, k) in the caller's layout."""
        if self.single:
            return out[0]
        if self.ragged:
            return [out[i, : self.lengths[i]] for i in range(out.shape[0])]
        return out


def check_finite(a: np.ndarray, name: str) -> None:
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        bad = int(np.size(a) - np.isfinite(a).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them first.")


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def numeric_array(a, name: str, hint: str = "real numbers") -> np.ndarray:
    """``a`` as a numpy array of numbers (a torch tensor is moved to the host), or a ValueError
    naming ``name`` and saying what was expected (``hint``, e.g. ``"integer symbols"``)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor
        a = a.detach().cpu().numpy()
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be array-like of {hint}: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold {hint}, got dtype {arr.dtype}.")
    return arr


def _as_float_array(a, name: str, dtype) -> np.ndarray:
    return numeric_array(a, name, f"real numbers with shape {_SEQ_SHAPE}").astype(dtype, copy=False)


def check_sequences(X, name: str = "X", *, n_features: int | None = None,
                    dtype=np.float32) -> SeqBatch:
    """Validate a batch of sequences and return it as a padded :class:`SeqBatch`.

    Parameters
    ----------
    X : array-like or list of array-like
        ``(batch, time, features)``, one ``(time, features)`` sequence, or a list of
        ``(time_i, features)`` sequences of possibly different lengths.
    name : str
        Argument name used in error messages.
    n_features : int, optional
        Required number of features (the one seen in ``fit``).
    dtype : numpy dtype
        dtype of the returned data.
    """
    if X is None:
        raise ValueError(f"{name} is None; expected {_SEQ_SHAPE}.")
    if isinstance(X, (list, tuple)) and len(X) > 0 and not np.isscalar(X[0]) and np.ndim(X[0]) == 2:
        seqs = [_as_float_array(s, f"{name}[{i}]", dtype) for i, s in enumerate(X)]
        for i, s in enumerate(seqs):
            if s.ndim != 2:
                raise ValueError(f"{name}[{i}] must have shape (time, features), got shape {s.shape}.")
        feats = {s.shape[1] for s in seqs}
        if len(feats) != 1:
            raise ValueError(f"all sequences in {name} must have the same number of features, got {sorted(feats)}.")
        lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
        if (lengths == 0).any():
            raise ValueError(f"{name}[{int(np.argmin(lengths))}] is an empty sequence (0 time steps).")
        F = feats.pop()
        data = np.zeros((len(seqs), int(lengths.max()), F), dtype=dtype)
        for i, s in enumerate(seqs):
            data[i, : len(s)] = s
        batch = SeqBatch(data, lengths, single=False, ragged=True)
    else:
        arr = _as_float_array(X, name, dtype)
        if arr.ndim == 2:
            batch = SeqBatch(arr[None], np.array([arr.shape[0]], dtype=np.int64), single=True)
        elif arr.ndim == 3:
            batch = SeqBatch(arr, np.full(arr.shape[0], arr.shape[1], dtype=np.int64))
        else:
            raise ValueError(f"{name} must have shape {_SEQ_SHAPE}; got an array of shape {arr.shape}.")
    B, T, F = batch.data.shape
    if B == 0:
        raise ValueError(f"{name} is empty: it holds 0 sequences (shape {batch.data.shape}).")
    if T == 0:
        raise ValueError(f"{name} has zero-length sequences (shape {batch.data.shape}).")
    if F == 0:
        raise ValueError(f"{name} has 0 features (shape {batch.data.shape}).")
    if n_features is not None and F != n_features:
        raise ValueError(f"{name} has {F} features per step but the model was fitted with {n_features}; "
                         f"expected shape (batch, time, {n_features}), got {batch.data.shape}.")
    check_finite(batch.data, name)
    return batch


def check_sequence_targets(y, X: SeqBatch, name: str = "y", dtype=np.float32) -> np.ndarray:
    """Validate per-step regression targets against a batch; return (batch, time, out)."""
    if y is None:
        raise ValueError(f"{name} is required: per-step targets of shape (batch, time, outputs).")
    if X.ragged:
        if not isinstance(y, (list, tuple)) or len(y) != X.batch:
            raise ValueError(f"{name} must be a list of {X.batch} (time_i, outputs) arrays to match X.")
        ys = [_as_float_array(v, f"{name}[{i}]", dtype) for i, v in enumerate(y)]
        ys = [v[:, None] if v.ndim == 1 else v for v in ys]
        for i, v in enumerate(ys):
            if v.ndim != 2 or v.shape[0] != X.lengths[i]:
                raise ValueError(f"{name}[{i}] must have shape ({X.lengths[i]}, outputs), got {v.shape}.")
        out = np.zeros(X.data.shape[:2] + (ys[0].shape[1],), dtype=dtype)
        for i, v in enumerate(ys):
            out[i, : len(v)] = v
    else:
        arr = _as_float_array(y, name, dtype)
        if X.single:
            if arr.ndim == 1:
                arr = arr[:, None]
            if arr.ndim != 2:
                raise ValueError(f"{name} must have shape (time, outputs) for a single sequence X, got {arr.shape}.")
            arr = arr[None]
        elif arr.ndim == 2 and X.data.shape[2:] and arr.shape == X.data.shape[:2]:
            arr = arr[..., None]
        if arr.ndim != 3:
            raise ValueError(f"{name} must have shape (batch, time, outputs), got {arr.shape}.")
        if arr.shape[0] != X.batch:
            raise ValueError(f"{name} has {arr.shape[0]} sequences but X has {X.batch}; "
                             f"batch sizes must match (X {X.data.shape}, {name} {arr.shape}).")
        if arr.shape[1] != X.data.shape[1]:
            raise ValueError(f"{name} has {arr.shape[1]} time steps but X has {X.data.shape[1]} "
                             f"(X {X.data.shape}, {name} {arr.shape}).")
        out = arr
    if out.shape[2] == 0:
        raise ValueError(f"{name} has 0 outputs per step (shape {out.shape}).")
    check_finite(out, name)
    return out


def check_labels(y, n: int, name: str = "y", classes: np.ndarray | None = None) -> np.ndarray:
    """Validate integer class labels of shape (n,).

    With ``classes`` (the labels seen in ``fit``), labels outside it are rejected and the
    returned array holds their indices into ``classes``.
    """
    if y is None:
        raise ValueError(f"{name} is required: integer labels of shape ({n},).")
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer labels of shape ({n},), got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n} sequences; batch sizes must match.")
    if arr.dtype.kind == "f":
        check_finite(arr, name)
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels, got non-integer floats.")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if classes is not None:
        idx = np.searchsorted(classes, arr)
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != arr
        if bad.any():
            raise ValueError(f"{name} holds label(s) {sorted(set(arr[bad].tolist()))[:10]} out of range: "
                             f"the model was fitted on classes {classes.tolist()}.")
        return idx
    return arr
