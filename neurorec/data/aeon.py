"""Conversion between aeon/sktime collections and neurorec's sequence layout.

aeon and sktime store a collection of time series channels first: a 3-D array
``(n_cases, n_channels, n_timepoints)`` ("numpy3D"), or, for series of unequal length, a list of
``(n_channels, n_timepoints_i)`` arrays ("np-list"); a 2-D array ``(n_cases, n_timepoints)``
("numpy2D") is a univariate collection. neurorec reads time first: ``(batch, time, features)``,
or a list of ``(time_i, features)`` arrays. Passed as is, an aeon collection would be read as
``n_channels`` time steps of ``n_timepoints`` features; the models warn
(:class:`~neurorec.data.LayoutWarning`) when a batch looks like that.

:func:`from_aeon` converts aeon's layout to neurorec's, :func:`to_aeon` the way back. Both only
transpose (and cast): the values are unchanged.

See Also
--------
neurorec.aeon.AeonClassifier : any neurorec classifier as an aeon collection classifier; it takes
    aeon's collections and labels as they are and converts them with :func:`from_aeon`.

Example
-------
>>> import numpy as np
>>> from neurorec.data import from_aeon, to_aeon
>>> X_aeon = np.arange(12.0).reshape(2, 3, 2)      # 2 cases, 3 channels, 2 time points
>>> X = from_aeon(X_aeon)
>>> X.shape, X.dtype
((2, 2, 3), dtype('float32'))
>>> bool((to_aeon(X) == X_aeon).all())
True
"""

from __future__ import annotations

import numpy as np

from .._validation import numeric_array

__all__ = ["from_aeon", "to_aeon"]

_AEON_FORMATS = ("a 3-D array (n_cases, n_channels, n_timepoints), a 2-D array (n_cases, n_timepoints) "
                 "(univariate), or a list of 2-D (n_channels, n_timepoints_i) arrays")
_NEUROREC_FORMATS = ("a 3-D array (batch, time, features), a 2-D array (time, features) (one sequence), "
                     "or a list of 2-D (time_i, features) arrays")


def _float_dtype(dtype, name: str = "dtype") -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise ValueError(f"{name} must be a floating-point numpy dtype (e.g. np.float32, np.float64), got {dtype!r}.")
    return dt


def _reject_pandas(X, name: str) -> None:
    if hasattr(X, "iloc") or hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):
        raise ValueError(f"{name} is a pandas object ({type(X).__name__}); from_aeon takes {_AEON_FORMATS}. "
                         f"Convert a pandas collection first, e.g. "
                         f"aeon.utils.conversion.convert_collection({name}, 'numpy3D') (or 'np-list').")


def _is_list_of_arrays(X) -> bool:
    """A list of 2-D series (aeon's np-list); a nested list of numbers is read as one array."""
    if not (isinstance(X, (list, tuple)) and len(X) > 0 and not np.isscalar(X[0])):
        return False
    if np.ndim(X[0]) == 1 and len({np.shape(s) for s in X}) > 1:
        raise ValueError(f"X is a list of 1-D series of unequal lengths ({sorted({len(s) for s in X})[:5]}...); "
                         f"an unequal-length collection is a list of 2-D (n_channels, n_timepoints_i) arrays: "
                         f"pass [np.reshape(s, (1, -1)) for s in X] for univariate series.")
    return np.ndim(X[0]) == 2


def _check_series(arr: np.ndarray, where: str, axes: str) -> None:
    if arr.ndim != 2:
        raise ValueError(f"{where} must be a 2-D {axes} array, got shape {arr.shape}"
                         + (f"; for a univariate series use {where}.reshape(1, -1)." if arr.ndim == 1 and
                            axes.startswith("(n_channels") else "."))
    if arr.size == 0:
        raise ValueError(f"{where} is empty (shape {arr.shape}); every series needs at least one channel and "
                         f"one time point.")


def _check_y(y, n: int):
    if y is None:
        return None
    if hasattr(y, "detach") and hasattr(y, "cpu"):
        y = y.detach().cpu().numpy()
    if hasattr(y, "to_numpy") and not isinstance(y, np.ndarray):
        y = y.to_numpy()
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y must be a 1-D array-like of {n} labels or targets: {exc}") from None
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, one label or target per case ({n},), got shape {arr.shape}.")
    if arr.shape[0] != n:
        raise ValueError(f"y has {arr.shape[0]} entries but X has {n} cases; they must match.")
    return arr


def from_aeon(X, y=None, *, dtype=np.float32):
    """Convert an aeon/sktime collection to neurorec's ``(batch, time, features)`` layout.

    Parameters
    ----------
    X : ndarray or list of ndarray
        An aeon collection:

        * ``(n_cases, n_channels, n_timepoints)`` array (aeon's "numpy3D") ->
          ``(n_cases, n_timepoints, n_channels)``;
        * ``(n_cases, n_timepoints)`` array (aeon's "numpy2D", univariate) ->
          ``(n_cases, n_timepoints, 1)``;
        * list of ``(n_channels, n_timepoints_i)`` arrays (aeon's "np-list", possibly of unequal
          length) -> list of ``(n_timepoints_i, n_channels)`` arrays.

        A torch tensor is accepted too. pandas collections are not: convert them with
        ``aeon.utils.conversion.convert_collection(X, "numpy3D")`` first.
    y : array-like of shape (n_cases,), optional
        Labels or targets; returned as a numpy array with its dtype unchanged (string labels,
        as aeon's loaders return them, are fine: neurorec's classifiers accept any hashable
        labels).
    dtype : floating numpy dtype, default np.float32
        dtype of the returned sequences (neurorec's default). ``np.float64`` keeps aeon's
        values bit for bit.

    Returns
    -------
    X : ndarray or list of ndarray
        The same values, time first: ``X_out[i, t, c] == X[i, c, t]``. Arrays are C-contiguous
        copies; a list stays a list.
    y : ndarray of shape (n_cases,)
        Only when ``y`` is given.

    Raises
    ------
    ValueError
        ``X`` has the wrong rank, is empty, holds non-numeric values (strings, complex,
        objects), or a list mixes numbers of channels; ``y`` does not have one entry per case;
        ``dtype`` is not a float dtype. Missing values (NaN) are kept: neurorec's models refuse
        them, so impute first.

    Examples
    --------
    >>> from aeon.datasets import load_basic_motions              # doctest: +SKIP
    >>> X, y = load_basic_motions(split="train")                  # doctest: +SKIP
    >>> X.shape                                                   # doctest: +SKIP
    (40, 6, 100)
    >>> Xn, yn = from_aeon(X, y)                                  # doctest: +SKIP
    >>> Xn.shape                                                  # doctest: +SKIP
    (40, 100, 6)
    """
    dt = _float_dtype(dtype)
    if X is None:
        raise ValueError(f"X is None; from_aeon takes {_AEON_FORMATS}.")
    _reject_pandas(X, "X")
    if _is_list_of_arrays(X):
        seqs = []
        for i, s in enumerate(X):
            arr = numeric_array(s, f"X[{i}]", "real numbers (an aeon series (n_channels, n_timepoints))")
            _check_series(arr, f"X[{i}]", "(n_channels, n_timepoints)")
            seqs.append(arr)
        channels = sorted({s.shape[0] for s in seqs})
        if len(channels) != 1:
            raise ValueError(f"all series in X must have the same number of channels (rows), got {channels}; "
                             f"an aeon np-list holds (n_channels, n_timepoints_i) arrays.")
        out = [np.ascontiguousarray(s.T, dtype=dt) for s in seqs]
        return out if y is None else (out, _check_y(y, len(out)))
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError("X is empty: it holds 0 cases.")
    arr = numeric_array(X, "X", f"real numbers as {_AEON_FORMATS}")
    if arr.ndim == 3:
        out = np.ascontiguousarray(arr.transpose(0, 2, 1), dtype=dt)
    elif arr.ndim == 2:
        out = np.ascontiguousarray(arr[:, :, None], dtype=dt)
    else:
        raise ValueError(f"X must be {_AEON_FORMATS}; got an array of shape {arr.shape} ({arr.ndim}-D).")
    if out.size == 0:
        raise ValueError(f"X is empty: shape {arr.shape} (n_cases, n_channels and n_timepoints must all be >= 1).")
    return out if y is None else (out, _check_y(y, out.shape[0]))


def to_aeon(X, y=None, *, dtype=np.float64):
    """Convert neurorec sequences to an aeon/sktime collection (channels first).

    The inverse of :func:`from_aeon`: ``(batch, time, features)`` -> ``(batch, features, time)``
    (aeon's "numpy3D"); a list of ``(time_i, features)`` arrays -> a list of
    ``(features, time_i)`` arrays (aeon's "np-list"); one ``(time, features)`` sequence ->
    ``(1, features, time)``.

    Parameters
    ----------
    X : ndarray or list of ndarray
        Sequences in neurorec's layout (a torch tensor is accepted).
    y : array-like of shape (batch,), optional
        Labels or targets, returned as a numpy array, dtype unchanged.
    dtype : floating numpy dtype, default np.float64
        dtype of the returned arrays (aeon's usual one; float32 -> float64 is exact).

    Returns
    -------
    X : ndarray or list of ndarray
        The same values, channels first: ``X_out[i, c, t] == X[i, t, c]``.
    y : ndarray
        Only when ``y`` is given.

    Raises
    ------
    ValueError
        Wrong rank, empty input, non-numeric values, mixed numbers of features, a ``y`` without
        one entry per sequence, or a non-float ``dtype``.
    """
    dt = _float_dtype(dtype)
    if X is None:
        raise ValueError(f"X is None; to_aeon takes {_NEUROREC_FORMATS}.")
    if _is_list_of_arrays(X):
        seqs = []
        for i, s in enumerate(X):
            arr = numeric_array(s, f"X[{i}]", "real numbers (a sequence (time, features))")
            _check_series(arr, f"X[{i}]", "(time, features)")
            seqs.append(arr)
        feats = sorted({s.shape[1] for s in seqs})
        if len(feats) != 1:
            raise ValueError(f"all sequences in X must have the same number of features (columns), got {feats}.")
        out = [np.ascontiguousarray(s.T, dtype=dt) for s in seqs]
        return out if y is None else (out, _check_y(y, len(out)))
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError("X is empty: it holds 0 sequences.")
    arr = numeric_array(X, "X", f"real numbers as {_NEUROREC_FORMATS}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"X must be {_NEUROREC_FORMATS}; got an array of shape {arr.shape} ({arr.ndim}-D).")
    if arr.size == 0:
        raise ValueError(f"X is empty: shape {arr.shape} (batch, time and features must all be >= 1).")
    out = np.ascontiguousarray(arr.transpose(0, 2, 1), dtype=dt)
    return out if y is None else (out, _check_y(y, out.shape[0]))
