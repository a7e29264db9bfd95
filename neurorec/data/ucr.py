"""UCR/UEA time-series classification data sets that ship inside aeon's wheel.

aeon's wheel carries a handful of the UCR (univariate) and UEA (multivariate) archive's data
sets as ``.ts`` files, with their official train/test splits (ArrowHead, BasicMotions,
GunPoint, ItalyPowerDemand, JapaneseVowels, OSULeaf, ...). They are found at run time by
scanning the installed package (:func:`ucr_names`); nothing is downloaded. Each one is the
neurorec task ``"ucr:<Name>"`` (:func:`ucr_task`, also through
:func:`neurorec.data.get_task`):

* the official training part is split into train and a stratified validation part
  (``val_frac``, fixed per seed; at least one series per class where the data allow);
  the official test part is the test split, the same for every seed;
* labels (strings in the files) are mapped to integers ``0..n_classes-1`` in the order of
  :attr:`~neurorec.data.TaskData.classes` (numeric order when every label is a number, else
  sorted strings);
* aeon's channels-first collections ``(n, channels, time)`` are converted explicitly to
  neurorec's ``(n, time, channels)`` (:func:`~neurorec.data.from_aeon`); series of unequal
  length stay a list of ``(time_i, channels)`` arrays (a ragged batch);
* the inputs are standardised per channel with statistics of the train split only
  (:class:`~neurorec.data.SequenceScaler`).

Example
-------
>>> from neurorec.data import get_task
>>> data = get_task("ucr:GunPoint").load(seed=0)        # doctest: +SKIP
>>> data.train.X.shape, data.val.X.shape, data.test.X.shape   # doctest: +SKIP
((40, 150, 1), (10, 150, 1), (150, 150, 1))
"""

from __future__ import annotations

import functools
import importlib.util
import os

import numpy as np

from ._rng import optional_import

__all__ = ["UCR_PREFIX", "ucr_names", "load_ucr", "ucr_task"]

UCR_PREFIX = "ucr:"


def _aeon_data_dir() -> str | None:
    """aeon's bundled data folder, found without importing aeon (None when aeon is missing)."""
    try:
        spec = importlib.util.find_spec("aeon")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data")
    return path if os.path.isdir(path) else None


def _header(path: str) -> dict[str, str]:
    """The ``@key value`` lines of a .ts file's header, keys lower-cased."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith(("#", "%")):
                continue
            if not line.startswith("@"):
                break
            key, _, value = line[1:].partition(" ")
            key = key.lower()
            if key == "data":
                break
            out[key] = value.strip()
    return out


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, tuple[str, str]]:
    """``{name: (train_path, test_path)}`` of the classification problems in aeon's wheel."""
    root = _aeon_data_dir()
    if root is None:
        return {}
    found: dict[str, tuple[str, str]] = {}
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for fname in sorted(os.listdir(d)):
            if not fname.endswith("_TRAIN.ts"):
                continue
            name = fname[: -len("_TRAIN.ts")]
            train, test = os.path.join(d, fname), os.path.join(d, name + "_TEST.ts")
            if not os.path.isfile(test):
                continue
            head = _header(train)
            if head.get("classlabel", "").split(" ")[0].lower() != "true":
                continue  # a regression problem (@targetlabel)
            if head.get("timestamps", "false").lower() == "true":
                continue
            found[name] = (train, test)
    return found


def ucr_names() -> list[str]:
    """Names of the classification data sets aeon's installed wheel ships (sorted).

    Found by scanning the package's ``datasets/data`` folder for ``<Name>_TRAIN.ts`` /
    ``<Name>_TEST.ts`` pairs whose header says ``@classLabel true``; regression problems and
    files with time stamps are left out. Empty when aeon is not installed.
    """
    return sorted(_catalogue())


def _check_name(name: str) -> tuple[str, str]:
    cat = _catalogue()
    if not cat:
        optional_import("aeon", "data", f"the {UCR_PREFIX}{name} task")
        raise ValueError("the installed aeon package ships no classification data sets "
                         "(its datasets/data folder is missing); reinstall aeon.")
    if name not in cat:
        raise ValueError(f"unknown UCR/UEA data set {name!r}; the data sets aeon's wheel ships are "
                         f"{sorted(cat)} (nothing is downloaded).")
    return cat[name]


def _label_order(labels) -> list[str]:
    uniq = sorted({str(v) for v in labels})
    try:
        return sorted(uniq, key=float)
    except ValueError:
        return uniq


@functools.lru_cache(maxsize=16)
def _read(name: str):
    from .aeon import from_aeon

    aeon_datasets = optional_import("aeon.datasets", "data", f"the {UCR_PREFIX}{name} task")
    out = {}
    for split, path in zip(("train", "test"), _check_name(name), strict=True):
        X, y = aeon_datasets.load_from_ts_file(path)
        if isinstance(X, np.ndarray) and X.ndim == 3:
            Xn = from_aeon(X)                      # (n, channels, time) -> (n, time, channels)
            Xn.flags.writeable = False
        else:                                      # unequal lengths: list of (channels, time_i)
            Xn = from_aeon([np.asarray(s) for s in X])
            for s in Xn:
                s.flags.writeable = False
        out[split] = (Xn, np.asarray(y).astype(str))
    classes = _label_order(np.concatenate([out["train"][1], out["test"][1]]))
    return out, tuple(classes)


def load_ucr(name: str, split: str = "train"):
    """Load a UCR/UEA data set from aeon's wheel in neurorec's layout.

    Parameters
    ----------
    name : str
        A name from :func:`ucr_names` (e.g. ``"GunPoint"``).
    split : {"train", "test"}, default "train"
        The official split.

    Returns
    -------
    X : ndarray (n, time, channels) float32, or list of (time_i, channels) arrays
        A list when the series have unequal lengths.
    y : ndarray of str (n,)
        The labels as written in the file.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    data, _ = _read(name)
    X, y = data[split]
    X = [s.copy() for s in X] if isinstance(X, list) else X.copy()
    return X, y.copy()


def _val_indices(y: np.ndarray, seed: int, val_frac: float):
    """Stratified train/validation indices of the official training part.

    A class with a single series keeps it in train (a model must see every class); the other
    series are split stratified, with at least one series per class in validation.
    """
    from sklearn.model_selection import train_test_split

    classes, counts = np.unique(y, return_counts=True)
    single = np.isin(y, classes[counts < 2])
    rest = np.flatnonzero(~single)
    n_classes = int((counts >= 2).sum())
    n_val = max(int(round(val_frac * len(y))), n_classes)
    if len(rest) - n_val < n_classes:
        raise ValueError(f"val_frac={val_frac} leaves too few training series ({len(y)} in the official "
                         f"training set, {len(classes)} classes); use a smaller val_frac.")
    tr, va = train_test_split(rest, test_size=n_val, stratify=y[rest], random_state=seed)
    return np.sort(np.concatenate([tr, np.flatnonzero(single)])), np.sort(va)


def _load_ucr_task(seed, *, dataset, val_frac):
    from .scaling import SequenceScaler
    from .task import Split, TaskData

    data, classes = _read(dataset)
    index = {c: i for i, c in enumerate(classes)}
    X_full, y_str = data["train"]
    X_te, y_te_str = data["test"]
    y_full = np.array([index[v] for v in y_str], dtype=np.int64)
    y_te = np.array([index[v] for v in y_te_str], dtype=np.int64)
    tr, va = _val_indices(y_full, seed, val_frac)

    def take(X, idx):
        return [X[i] for i in idx] if isinstance(X, list) else X[idx]

    X_tr, X_va = take(X_full, tr), take(X_full, va)
    scaler = SequenceScaler().fit(X_tr)
    return TaskData(train=Split(scaler.transform(X_tr), y_full[tr]),
                    val=Split(scaler.transform(X_va), y_full[va]),
                    test=Split(scaler.transform(X_te), y_te),
                    x_scaler=scaler, y_scaler=None, n_classes=len(classes), n_outputs=None,
                    classes=classes)


def ucr_task(dataset: str, val_frac: float = 0.2):
    """The task ``"ucr:<dataset>"``: a UCR/UEA classification data set from aeon's wheel.

    Parameters
    ----------
    dataset : str
        A name from :func:`ucr_names`.
    val_frac : float, default 0.2
        Fraction of the official training series held out, stratified, as the validation
        split (at least one series per class); the rest is the train split. The test split is
        the official test set.

    Returns
    -------
    Task
        Kind ``"classify"``, metric ``"accuracy"``, name ``"ucr:<dataset>"``.
    """
    from .task import Task

    if not isinstance(dataset, str) or not dataset:
        raise ValueError(f"dataset must be a data set name, got {dataset!r}.")
    _check_name(dataset)
    if isinstance(val_frac, bool) or not isinstance(val_frac, (int, float, np.floating)) \
            or not 0.0 < float(val_frac) < 1.0:
        raise ValueError(f"val_frac must be a fraction in (0, 1), got {val_frac!r}.")
    return Task(UCR_PREFIX + dataset, "classify", "accuracy", dict(val_frac=float(val_frac)),
                functools.partial(_load_ucr_task, dataset=dataset))
