"""Input checking shared by every public entry point.

Every check raises early, with a message that names the argument, the expected shape
and what was given. Nothing here copies data that is already in the right form.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["SeqBatch", "check_sequences", "check_sequence_targets", "check_labels", "encode_labels",
           "check_finite", "check_positive_int", "InputError", "resolve_task", "is_1d_target", "is_table",
           "tabular_as_sequences", "TaskWarning", "TASKS",
           "LayoutWarning", "LAYOUTS"]

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


class InputError(ValueError, TypeError):
    """Input data of the wrong kind (e.g. an object array holding non-numbers). A ValueError, and a
    TypeError as numpy raises for the same conversion."""


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
    if hasattr(a, "tocsr") or hasattr(a, "todense") and not isinstance(a, np.ndarray):
        raise InputError(f"{name} is a sparse matrix ({type(a).__name__}); sparse data is not supported: pass a "
                         f"dense array, e.g. {name}.toarray().")
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be array-like of {hint}: {exc}") from None
    if arr.dtype == object:
        # an object array holding only real numbers (as pandas gives) is read as float64;
        # strings, bytes, complex numbers and None are refused, as is anything float() refuses
        flat = arr.ravel().tolist()
        bad = next((v for v in flat if v is None or isinstance(v, (str, bytes, complex, np.complexfloating,
                                                                     np.str_, np.bytes_))), None)
        if flat and bad is not None:
            raise InputError(f"{name} must hold {hint}, got an object array holding {type(bad).__name__} {bad!r}.")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{name} must hold {hint}, got an object array that is not numeric: {exc}") from None
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must hold {hint}, got dtype {arr.dtype}: Complex data not supported.")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold {hint}, got dtype {arr.dtype}.")
    return arr


def _as_float_array(a, name: str, dtype) -> np.ndarray:
    return numeric_array(a, name, f"real numbers with shape {_SEQ_SHAPE}").astype(dtype, copy=False)


LAYOUTS = ("ntc", "nct")


class LayoutWarning(UserWarning):
    """A batch of sequences looks transposed: far more features than time steps.

    aeon and sktime store a collection as ``(n_cases, n_channels, n_timepoints)``; passed as is,
    neurorec would read it as ``n_channels`` time steps of ``n_timepoints`` features. Convert
    with :func:`neurorec.data.from_aeon`. Silence it, where the layout is intended, with
    ``warnings.simplefilter("ignore", LayoutWarning)``.
    """


#: A batch looks transposed when it has fewer than this many time steps and more than
#: ``_LAYOUT_RATIO`` times as many features as steps (or one step and several features).
_LAYOUT_MAX_STEPS = 16
_LAYOUT_RATIO = 4


def _looks_transposed(T: int, F: int) -> bool:
    return (T == 1 and F > 1) or (T < _LAYOUT_MAX_STEPS and F > _LAYOUT_RATIO * T)


def _user_stacklevel() -> int:
    """stacklevel that points a warning at the first frame outside neurorec (the user's call)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("neurorec"):
        frame, level = frame.f_back, level + 1
    return level


def _warn_layout(batch: SeqBatch, name: str) -> None:
    B, T, F = batch.data.shape
    if not _looks_transposed(T, F):
        return
    if batch.single:
        seen = f"{name} of shape {(T, F)} is read as one sequence of {T} time step(s) with {F} features"
        likely = "an aeon/sktime series (n_channels, n_timepoints)?"
        fix = f"transpose it ({name}.T) to (time, features)"
    else:
        seen = f"{name} of shape {(B, T, F)} is read as {B} sequences of {T} time step(s) with {F} features"
        likely = "an aeon/sktime collection (n_cases, n_channels, n_timepoints)?"
        fix = (f"convert it with neurorec.data.from_aeon({name}) or {name}.transpose(0, 2, 1) "
               f"to (batch, time, features)")
    warnings.warn(f"{seen}, which looks transposed: is it {likely[:-1]}? If so, {fix}. If the layout is "
                  f"intended, silence this with warnings.simplefilter('ignore', neurorec.data.LayoutWarning).",
                  LayoutWarning, stacklevel=_user_stacklevel())


def _ragged_hint(seqs, name: str, layout: str) -> str:
    rows = {s.shape[0] for s in seqs}
    if layout != "ntc" or len(rows) != 1:
        return ""
    return (f" They all have {rows.pop()} rows and differing numbers of columns: an aeon/sktime unequal-length "
            f"collection of (n_channels, n_timepoints_i) series? Convert it with neurorec.data.from_aeon({name}).")


def check_sequences(X, name: str = "X", *, n_features: int | None = None,
                    dtype=np.float32, layout: str = "ntc", layout_warning: bool = True) -> SeqBatch:
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
    layout : {"ntc", "nct"}, default "ntc"
        ``"ntc"``: ``X`` is as above, time before features. ``"nct"``: ``X`` is in aeon/sktime's
        layout, ``(batch, features, time)``, ``(features, time)`` or a list of
        ``(features, time_i)`` arrays, and is transposed (copied) to neurorec's. The returned
        :class:`SeqBatch` is always ``(batch, time, features)``.
    layout_warning : bool, default True
        With ``layout="ntc"`` and no ``n_features`` (i.e. at ``fit``), emit a
        :class:`LayoutWarning` when the batch looks transposed: one time step and several
        features, or fewer than 16 time steps and more than 4 times as many features as steps
        (an aeon collection ``(n, channels, time)`` passed as is). Internal callers that build
        such batches on purpose (a table read as one-step sequences) pass ``False``. Arrays
        only: a list is neurorec's variable-length format (short lists of many features are
        normal there, e.g. a compressor's upper levels), and aeon's unequal-length list passed
        as is fails the feature-count check, with a hint. When ``n_features`` is given, a
        transposed batch fails the feature-count check instead, with a hint.

    Warns
    -----
    LayoutWarning
        The batch looks transposed (see ``layout_warning``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS} ('ntc': (batch, time, features); 'nct': aeon's "
                         f"(batch, features, time)), got {layout!r}.")
    if X is None:
        raise ValueError(f"{name} is None; expected {_SEQ_SHAPE}.")
    if isinstance(X, (list, tuple)) and len(X) > 0 and not np.isscalar(X[0]) and np.ndim(X[0]) == 2:
        seqs = [_as_float_array(s, f"{name}[{i}]", dtype) for i, s in enumerate(X)]
        for i, s in enumerate(seqs):
            if s.ndim != 2:
                want = "(features, time)" if layout == "nct" else "(time, features)"
                raise ValueError(f"{name}[{i}] must have shape {want}, got shape {s.shape}.")
        if layout == "nct":
            seqs = [s.T for s in seqs]
        feats = {s.shape[1] for s in seqs}
        if len(feats) != 1:
            raise ValueError(f"all sequences in {name} must have the same number of features, got {sorted(feats)}."
                             + _ragged_hint(seqs, name, layout))
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
        if layout == "nct" and arr.ndim in (2, 3):
            arr = np.ascontiguousarray(np.swapaxes(arr, -1, -2))
        if arr.ndim == 2:
            batch = SeqBatch(arr[None], np.array([arr.shape[0]], dtype=np.int64), single=True)
        elif arr.ndim == 3:
            batch = SeqBatch(arr, np.full(arr.shape[0], arr.shape[1], dtype=np.int64))
        else:
            raise ValueError(f"{name} must have shape {_SEQ_SHAPE}; got an array of shape {arr.shape}. "
                             f"Reshape your data (e.g. X[None] for one sequence, X[:, None] for one feature).")
    B, T, F = batch.data.shape
    if B == 0:
        raise ValueError(f"{name} is empty: it holds 0 sequences (shape {batch.data.shape}).")
    if T == 0:
        raise ValueError(f"{name} has zero-length sequences (shape {batch.data.shape}).")
    if F == 0:
        shape = batch.data.shape[1:] if batch.single else batch.data.shape
        raise ValueError(f"{name} has 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
    if n_features is not None and F != n_features:
        raise ValueError(f"{name} has {F} features, but it is expecting {n_features} features as input (the model "
                         f"was fitted with {n_features}); "
                         f"expected shape (batch, time, {n_features}), got {batch.data.shape}."
                         + (f" It has {n_features} time steps: is it transposed, an aeon/sktime (batch, features, "
                            f"time) collection? Convert it with neurorec.data.from_aeon({name})."
                            if layout == "ntc" and T == n_features else ""))
    check_finite(batch.data, name)
    if layout_warning and layout == "ntc" and n_features is None and not batch.ragged:
        _warn_layout(batch, name)
    return batch


def check_sequence_targets(y, X: SeqBatch, name: str = "y", dtype=np.float32) -> np.ndarray:
    """Validate per-step regression targets against a batch; return (batch, time, out)."""
    if y is None:
        raise ValueError(f"this model requires y to be passed, but the target y is None: {name} must be "
                         f"per-step targets of shape (batch, time, outputs).")
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
    """Validate class labels of shape (n,).

    Labels may be integers, bools, strings or other hashable, sortable values (what aeon and
    pandas return); floats are accepted when they are whole numbers (scikit-learn's
    ``type_of_target`` is ``"binary"`` or ``"multiclass"``) and refused as *continuous* otherwise,
    so a regression target is never silently read as classes.

    Without ``classes`` the labels are returned (integers as int64, others unchanged); with
    ``classes`` (the sorted labels seen in ``fit``), labels outside it are rejected and the
    returned array holds their indices into ``classes``.
    """
    if y is None:
        raise ValueError(f"this model requires y to be passed, but the target y is None: {name} must be "
                         f"class labels of shape ({n},).")
    if hasattr(y, "detach") and hasattr(y, "cpu"):  # a torch tensor
        y = y.detach().cpu().numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1 and arr.shape[0] == n:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn(f"A column-vector y was passed when a 1d array was expected: {name} of shape {arr.shape} "
                      f"is read as ({n},) class labels; pass {name}.ravel() to silence this.",
                      DataConversionWarning, stacklevel=3)
        arr = arr.ravel()
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D class labels of shape ({n},), got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels but X has {n} sequences; batch sizes must match.")
    if arr.dtype.kind in "fc":
        check_finite(arr, name)
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} must hold class labels, got complex numbers.")
    if arr.dtype.kind in "mMV":
        raise ValueError(f"{name} must hold class labels (integers, strings, ...), got dtype {arr.dtype}.")
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"Unknown label type: continuous. {name} holds non-integer floats, which are "
                             f"regression targets, not class labels; a classifier needs integer, string or "
                             f"other discrete labels.")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "O":
        kinds = {type(v) for v in arr.tolist()}
        if any(v is None for v in arr.tolist()):
            raise ValueError(f"{name} holds None; every sequence needs a label.")
        try:
            np.unique(arr)
        except TypeError:
            raise ValueError(f"{name} mixes label types {sorted(k.__name__ for k in kinds)} that cannot be "
                             f"ordered; use one type (e.g. all strings).") from None
        if all(isinstance(v, str) for v in arr.tolist()):
            arr = arr.astype(str)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr.tolist()):
            arr = arr.astype(np.int64)
    if classes is not None:
        classes = np.asarray(classes)
        try:
            idx = np.searchsorted(classes, arr)
        except TypeError:
            raise ValueError(f"{name} holds labels of type {arr.dtype} but the model was fitted on classes "
                             f"{classes.tolist()[:10]} ({classes.dtype}).") from None
        idx = np.clip(idx, 0, len(classes) - 1)
        bad = classes[idx] != arr
        if np.any(bad):
            raise ValueError(f"{name} holds label(s) {sorted(set(arr[bad].tolist()))[:10]} out of range: "
                             f"the model was fitted on classes {classes.tolist()}.")
        return idx.astype(np.int64)
    return arr


def encode_labels(y, n: int, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Checked labels as ``(classes, idx)``: the sorted distinct labels and each label's index
    into them (what ``fit`` stores as ``classes_`` and trains on)."""
    labels = check_labels(y, n, name)
    classes, idx = np.unique(labels, return_inverse=True)
    return classes, idx.astype(np.int64).reshape(-1)


TASKS = ("auto", "classification", "regression")


class TaskWarning(UserWarning):
    """``task="auto"`` inferred a task from labels that could be read either way."""


def resolve_task(task, X, y, *, model: str = "model") -> str:
    """The task a dual (classifier / regressor) model fits for ``task`` and the data.

    ``task="classification"`` and ``"regression"`` are returned unchanged (after the data is
    checked against them later). ``task="auto"`` infers it:

    * ``y`` is ``None`` or has a time axis (per-step targets) -> ``"regression"``;
    * one label per sequence of a 3-D ``X`` or a list of sequences -> ``"classification"`` when
      the labels are integers, bools or strings; whole-number floats too, with a
      :class:`TaskWarning` saying so; other floats are refused (a target per sequence is not a
      sequence regression target);
    * a 2-D ``X`` (a table, or one sequence) with a 1-D ``y`` of one entry per row: float
      targets -> ``"regression"`` (one sequence, a target per step); integer, bool or string
      entries are ambiguous (class labels of a table, or a symbol per step?) and are refused
      with a message asking for ``task=``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}.")
    if task != "auto":
        return task
    if y is None or isinstance(y, list) and len(y) and np.ndim(y[0]) >= 1:
        return "regression"
    try:
        yarr = np.asarray(y)
    except (TypeError, ValueError):
        return "regression"
    if not isinstance(X, (list, tuple)):
        X = np.asarray(X) if not (hasattr(X, "detach") and hasattr(X, "cpu")) else X
    if yarr.ndim != 1:
        return "regression"
    ragged = isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 2
    x_ndim = 3 if ragged else np.ndim(X)
    discrete = yarr.dtype.kind in "biuUSO"
    if x_ndim == 3:
        if discrete:
            return "classification"
        if yarr.dtype.kind == "f" and np.isfinite(yarr).all() and np.all(yarr == np.round(yarr)):
            warnings.warn(f"{model}(task='auto'): y holds one whole-number float per sequence, read as class "
                          f"labels (task_='classification'); pass task='classification' or 'regression' to say "
                          f"so explicitly.", TaskWarning, stacklevel=3)
            return "classification"
        raise ValueError(f"{model}(task='auto'): y holds one non-integer float per sequence; a regression target "
                         f"is per step, shape (batch, time, outputs), and class labels are discrete. Pass per-step "
                         f"targets, or integer/string labels for classification.")
    if x_ndim == 2 and discrete and yarr.dtype.kind != "O" or x_ndim == 2 and yarr.dtype.kind in "US":
        raise ValueError(f"{model}(task='auto') cannot tell what a 2-D X with 1-D {yarr.dtype} y is: a table of "
                         f"samples with class labels (pass task='classification': each row is read as a one-step "
                         f"sequence), or one sequence with a target per step (pass task='regression', or float "
                         f"targets). For a batch of sequences pass X as (batch, time, features).")
    return "regression"


def is_1d_target(y) -> bool:
    """``y`` is a 1-D target (one value per step of one sequence), however it was passed: a
    regressor fitted on it returns 1-D predictions, as scikit-learn expects."""
    if isinstance(y, (list, tuple)):
        return len(y) > 0 and all(np.ndim(v) == 0 for v in y)
    return np.asarray(y).ndim == 1


def is_table(X) -> bool:
    """``X`` is a 2-D array-like (a table, or one sequence), not a batch or a list of sequences."""
    if isinstance(X, (list, tuple)):
        return len(X) > 0 and all(np.ndim(r) == 1 for r in X)
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        return X.dim() == 2
    if hasattr(X, "tocsr") or X is None:
        return False
    try:
        return np.asarray(X).ndim == 2
    except (TypeError, ValueError):
        return False


def tabular_as_sequences(X):
    """A 2-D array-like ``(samples, features)`` as ``(samples, 1, features)`` one-step sequences
    (how classifiers read a table); anything else is returned unchanged."""
    if isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 2:
        return X
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu().numpy()
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):   # a pandas DataFrame
        X = X.to_numpy()
    if hasattr(X, "tocsr") or X is None:
        return X                        # refused with a clear message by check_sequences
    X = np.asarray(X)
    if X.ndim == 2:
        if X.shape[1] == 0:
            raise ValueError(f"X has 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
        return X[:, None, :]
    return X
