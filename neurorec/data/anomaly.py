r"""Anomaly-detection data: the ``detect`` task kind, a synthetic benchmark, UCR-archive files.

Layout of a ``detect`` task
---------------------------
A detect task is one series with a normal training prefix, in the format of the UCR anomaly
archive (Wu & Keogh, "Current time series anomaly detection benchmarks are flawed and are
creating the illusion of progress", IEEE TKDE 2021): the first ``train_length`` steps are
normal, and the rest holds the labelled anomaly. ``task.load(seed)`` returns a
:class:`~neurorec.data.TaskData` with

* ``train = Split(X, None, 0)``: the training prefix, ``X`` float32 ``(1, train_length, F)``;
* ``val = None``;
* ``test = Split(X, y, skip=train_length)``: the *whole* series ``(1, T, F)`` (prefix and
  rest, so a stateful model can warm up on the prefix) and its per-point labels ``y`` int8
  ``(1, T)`` (1 = anomalous); only the points after ``skip`` are scored
  (:meth:`~neurorec.data.Task.score` drops the prefix);
* ``x_scaler``: a :class:`~neurorec.data.SequenceScaler` fitted on the training prefix only and
  applied to both splits; ``y_scaler = None``; ``n_outputs = F``.

The labelled ranges come from the labels: ``anomaly_ranges(data.test.y[0])`` gives
``[(start, end), ...]`` with ``end`` exclusive. Metrics: ``range_pr_auc`` (the tasks' metric),
``ucr_hit`` and ``roc_auc`` of :mod:`neurorec.metrics`.
:func:`make_detect_task_data` builds this layout from any ``(T, F)`` series, labels and
training length (your own data included).

Tasks
-----
``kdd_tsad_135``
    Series 135 of the UCR anomaly archive / KDD Cup 2021 ("InternalBleeding16", a patient's
    heart rate), as shipped in aeon's wheel (:func:`kdd_tsad_135`): 7,501 points, normal
    prefix of 1,200, one labelled range, points 4187-4198. The data are fixed: the seed changes
    nothing.
``anomaly:<base>-<kind>``
    One series of the synthetic benchmark (:data:`ANOMALY_BENCHMARK`,
    :func:`make_anomaly_series`): 4,000 points, normal prefix of 1,500, one injected anomaly.
    The seed draws the series and the anomaly's position and details.

Synthetic benchmark
-------------------
:func:`make_anomaly_series` draws a base signal and injects one anomaly of a known kind at a
position drawn by the seed in the test part, never in the first 200 points after the prefix
and never in the last 200. ``anomaly=None`` gives the clean series of the same seed: an
anomalous series equals it exactly outside its labelled range.

Base signals (the quasi-periodic ones are rendered cycle by cycle, each cycle with a waveform
that is 0 at both ends, so a cycle can be changed without touching its neighbours):

``periodic``
    :math:`\ell(t) + A(t)\, g(\varphi(t)) + \varepsilon`, with
    :math:`g(\varphi) = \sin 2\pi\varphi + a_2 \sin 4\pi\varphi + a_3 \sin 6\pi\varphi`
    (:math:`|a_2| \in [0.25, 0.45]`, :math:`|a_3| \in [0.1, 0.2]`), a period of 40-60 points
    drifting slowly by +-4 %, level drift :math:`\ell` within +-0.3, amplitude drift
    :math:`A = 1 \pm 0.15`, noise :math:`\sigma = 0.05`.
``ecg``
    Heartbeats as Gaussian bumps for the P, Q, R, S and T waves (the idea of McSharry et al.'s
    ECGSYN, IEEE TBME 2003, without its ODE): R = 1, P 0.12, Q -0.10, S -0.22, T 0.28; RR
    intervals of 95-110 points (68-79 beats/min at 125 Hz) with respiratory sinus arrhythmia
    (+-4 %) and 2 % jitter; the waves' timing scales with :math:`\sqrt{RR}` (Bazett); 3 % beat
    to beat amplitude jitter, baseline wander +-0.05, noise :math:`\sigma = 0.015`.
``gait``
    Strides of 100-130 points shaped like a vertical ground reaction force (heel strike 1.0,
    mid-stance dip, push-off 0.85, a small swing bump), left and right strides alternating with
    a 7 % asymmetry in height and timing, stride durations varying by 3 % with long-range
    correlation (an AR(1) with coefficient 0.7, after Hausdorff et al. 1995), level drift
    +-0.05, amplitude drift +-8 %, noise :math:`\sigma = 0.02`.
``mackey_glass``
    The chaotic Mackey-Glass series (tau = 17, :func:`~neurorec.data.mackey_glass`, values in
    about [0.4, 1.35]) with observation noise :math:`\sigma = 0.01`.
``multichannel``
    Three channels sharing one quasi-periodic cycle (60-80 points, 3 % correlated jitter) with
    phase lags of 0, 0.12 and 0.3 cycle: two harmonic waveforms and a pulse-like one, each
    with its own level (+-0.2) and amplitude (+-10 %) drift and noise :math:`\sigma = 0.05`.
    The anomaly is in one channel (one or two for spike, level shift and noise burst).

Anomaly kinds and their size at ``magnitude=1`` (statistics of the noise-free clean signal
over the training prefix, per channel: median ``m``, standard deviation ``s``, largest
deviation from the median ``M``):

``spike``
    3 points ``h * [0.5, 1, 0.5]`` with ``h = 0.7 M``, up or down, placed where the signal is
    within its 10 % of points closest to ``m`` (a spike that stays inside the normal range but
    comes at a time the signal is never there). All bases.
``level_shift``
    An offset of ``0.5 s`` (``ecg``: ``s``) over 100-200 points, up or down. All bases.
``noise_burst``
    Extra Gaussian noise of 4 times the base noise's standard deviation over 60-150 points.
    All bases.
``frequency``
    ``n = 4`` consecutive cycles replaced by 3 or 5 cycles over the same time span: the tempo
    drops by 25 % or rises by 25 % for about 4 cycles, with the phase continuous at both ends.
    Quasi-periodic bases.
``shape``
    One cycle with a distorted shape: ``ecg`` a wide-complex beat (no P wave, QRS twice as wide,
    R 0.85, deeper S, inverted T), ``gait`` a shuffling stride (lower, flatter heel strike and
    push-off, no dip), ``periodic``/``multichannel`` the cycle's waveform played with a
    warped timing, :math:`g(\varphi - \tfrac{0.6}{2\pi}\sin 2\pi\varphi)` (the same values, the
    peaks moved). Quasi-periodic bases.
``missing_beat``
    One cycle flattened to the baseline (a dropped beat, a missed stride). Quasi-periodic bases.

``magnitude`` scales the spike height, the shift, the burst's noise, the shape's distortion
(blended towards the distorted cycle; the warp's 0.6 is multiplied, at most 0.95) and the
flattening (``1 - magnitude`` of the cycle is kept); for ``frequency`` it sets
``n = max(2, round(4 / magnitude))``.

Subtlety rule (enforced with ``subtle=True``, the default): the point that deviates most from
the series' median, :math:`\arg\max_t \max_f |X_{tf} - \mathrm{median}_t X_{tf}| / \mathrm{std}_t
X_{tf}`, must not lie in the labelled range. A draw that breaks it is redrawn (position, sign
and noise) from the same seed's stream, up to 200 times, and a ``ValueError`` is raised if
none fits (a large ``magnitude``; pass ``subtle=False``). An anomaly is therefore never
found by looking for the most extreme value, yet it changes the series by much more than the
noise inside its range.

UCR archive files
-----------------
:func:`save_ucr_format` writes ``NNN_UCR_Anomaly_<name>_<train_end>_<begin>_<end>.txt``, one
step per line (channels separated by spaces), and :func:`load_ucr_anomaly` reads such a file.
The numbers are read as the archive's files are read by aeon (TimeEval's conversion): the
first ``train_end`` points are the training prefix, and the anomaly is the 0-based half-open
range ``[begin, end)``. This is inferred from KDD-TSAD 135: the archive names it
``135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt``, and aeon labels its 0-based
points 4187-4198 with a 1,200-point training prefix (a 1-based inclusive reading would start
one point earlier; with the archive's 100-point tolerance in ``ucr_hit`` it makes no
difference).

Unlabelled data
---------------
:func:`daphnet_s06r02e0` returns aeon's excerpt of Daphnet (9 acceleration channels of a
Parkinson's patient walking); it holds no labelled freeze of gait, so it is no detect task:
use it for examples and streaming monitoring.

Example
-------
>>> from neurorec.data import get_task, anomaly_ranges
>>> data = get_task("anomaly:ecg-missing_beat").load(seed=0)
>>> data.train.X.shape, data.test.X.shape, data.test.skip
((1, 1500, 1), (1, 4000, 1), 1500)
>>> len(anomaly_ranges(data.test.y[0]))
1
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .._validation import numeric_array
from ._rng import optional_import
from .scaling import SequenceScaler
from .task import Split, Task, TaskData

__all__ = [
    "ANOMALY_PREFIX",
    "BASES",
    "ANOMALY_KINDS",
    "ANOMALY_BENCHMARK",
    "AnomalySeries",
    "AnomalyInTrainingWarning",
    "anomaly_ranges",
    "make_detect_task_data",
    "make_anomaly_series",
    "anomaly_benchmark",
    "anomaly_task",
    "kdd_tsad_135",
    "kdd_tsad_135_task",
    "daphnet_s06r02e0",
    "save_ucr_format",
    "load_ucr_anomaly",
]

ANOMALY_PREFIX = "anomaly:"
BASES = ("periodic", "ecg", "gait", "mackey_glass", "multichannel")
ANOMALY_KINDS = ("spike", "level_shift", "frequency", "shape", "noise_burst", "missing_beat")
_CYCLIC = ("periodic", "ecg", "gait", "multichannel")
#: the bases each anomaly kind can be injected into
COMPATIBLE = {
    "spike": BASES,
    "level_shift": BASES,
    "noise_burst": BASES,
    "frequency": _CYCLIC,
    "shape": _CYCLIC,
    "missing_beat": _CYCLIC,
}
#: the benchmark's (base, anomaly) pairs: every base, every kind twice
ANOMALY_BENCHMARK = (
    ("periodic", "spike"),
    ("periodic", "level_shift"),
    ("periodic", "frequency"),
    ("ecg", "missing_beat"),
    ("ecg", "shape"),
    ("ecg", "noise_burst"),
    ("gait", "frequency"),
    ("gait", "missing_beat"),
    ("mackey_glass", "spike"),
    ("mackey_glass", "noise_burst"),
    ("multichannel", "shape"),
    ("multichannel", "level_shift"),
)
MARGIN = 200          # no anomaly in the first / last MARGIN points of the test part
_MAX_DRAWS = 200      # redraws allowed to satisfy the subtlety rule


class AnomalyInTrainingWarning(UserWarning):
    """The training prefix of a detect series holds labelled anomalous points."""


@dataclass(frozen=True, eq=False)
class AnomalySeries:
    """One series for anomaly detection in the UCR archive's format.

    Attributes
    ----------
    X : ndarray (T, F) float64
        The series (unscaled).
    labels : ndarray (T,) int8
        1 at anomalous points, else 0.
    train_length : int
        The first ``train_length`` points are the normal training prefix.
    anomaly : tuple (start, end) or None
        The labelled range, ``end`` exclusive; ``None`` for a clean series.
    base : str
        The base signal (or the data set's name for real data).
    kind : str or None
        The injected anomaly's kind; ``None`` for a clean or a recorded series.
    channels : tuple of int
        The channels the anomaly was injected into (empty when unknown or clean).
    """

    X: np.ndarray
    labels: np.ndarray
    train_length: int
    anomaly: tuple | None
    base: str
    kind: str | None = None
    channels: tuple = field(default=())

    @property
    def name(self) -> str:
        """``"<base>-<kind>"`` (or ``base`` without a kind)."""
        return self.base if self.kind is None else f"{self.base}-{self.kind}"


# --------------------------------------------------------------------------------------------
# labels, checks and the detect layout
# --------------------------------------------------------------------------------------------

def _check_labels(labels, T: int | None, name: str = "labels") -> np.ndarray:
    """``labels`` as a 1-D int8 array of 0/1 (a ``(1, T)`` or ``(T, 1)`` array is flattened)."""
    lab = numeric_array(labels, name, "0/1 labels")
    if lab.ndim == 2 and 1 in lab.shape:
        lab = lab.reshape(-1)
    if lab.ndim != 1:
        raise ValueError(f"{name} must be one label per time step, shape (T,); got shape {lab.shape}.")
    if T is not None and lab.shape[0] != T:
        raise ValueError(f"{name} must have one label per time step: expected length {T} (the "
                         f"series' length), got {lab.shape[0]}.")
    ok = np.isin(lab, (0, 1))
    if not ok.all():
        bad = np.unique(lab[~ok])[:6].tolist()
        raise ValueError(f"{name} must be binary, 0 (normal) or 1 (anomalous); got other values "
                         f"{bad} (first at index {int(np.flatnonzero(~ok)[0])}).")
    return lab.astype(np.int8)


def anomaly_ranges(labels) -> list[tuple[int, int]]:
    """The labelled ranges of per-point labels: ``[(start, end), ...]``, ``end`` exclusive.

    Parameters
    ----------
    labels : array-like (T,) of 0/1
        Per-point labels (``(1, T)`` as in ``TaskData.test.y`` is accepted).

    Examples
    --------
    >>> anomaly_ranges([0, 1, 1, 0, 0, 1])
    [(1, 3), (5, 6)]
    """
    lab = _check_labels(labels, None)
    d = np.diff(np.concatenate([[0], lab, [0]]).astype(np.int8))
    return [(int(a), int(b)) for a, b in
            zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)]


def _check_train_length(train_length, T: int) -> int:
    if isinstance(train_length, bool) or not isinstance(train_length, (int, np.integer)) \
            or not 2 <= train_length < T:
        raise ValueError(f"train_length must be an int with 2 <= train_length < {T} (the series' "
                         f"length), got {train_length!r}.")
    return int(train_length)


def _impute_linear(X: np.ndarray) -> np.ndarray:
    """Linear interpolation of the non-finite points of each column (constant at the ends)."""
    X = X.copy()
    idx = np.arange(X.shape[0])
    for c in range(X.shape[1]):
        good = np.isfinite(X[:, c])
        if good.all():
            continue
        if not good.any():
            raise ValueError(f"X[:, {c}] has no finite value to interpolate from.")
        X[~good, c] = np.interp(idx[~good], idx[good], X[good, c])
    return X


def make_detect_task_data(X, labels, train_length: int, *, impute: str | None = None) -> TaskData:
    """The ``detect`` layout of one series: normal training prefix, whole series as test.

    Parameters
    ----------
    X : array-like (T,) or (T, F)
        The series (unscaled).
    labels : array-like (T,) of 0/1
        Per-point labels, 1 = anomalous.
    train_length : int
        Length of the normal training prefix, ``2 <= train_length < T``.
    impute : {None, "linear"}, default None
        ``None`` refuses NaN or infinite values (the error gives their positions);
        ``"linear"`` replaces them by linear interpolation between the neighbouring finite
        values of the same channel (the nearest finite value at the ends).

    Returns
    -------
    TaskData
        ``train = Split(X[:train_length] scaled (1, train_length, F), None, 0)``,
        ``val = None``, ``test = Split(X scaled (1, T, F), labels (1, T) int8,
        skip=train_length)``, ``x_scaler`` fitted on the training prefix only,
        ``n_outputs = F``.

    Warns
    -----
    AnomalyInTrainingWarning
        When labelled anomalous points lie in the training prefix (the ranges are named).

    Raises
    ------
    ValueError
        For a series that is not ``(T,)``/``(T, F)``, labels of another length or not 0/1,
        ``train_length`` outside ``[2, T)``, non-finite values without ``impute``.
    """
    arr = numeric_array(X, "X", "real numbers with shape (T,) or (T, F)")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"X must be one series of shape (T,) or (T, F) with T, F >= 1; got "
                         f"shape {arr.shape}.")
    arr = arr.astype(np.float64)
    T, F = arr.shape
    lab = _check_labels(labels, T)
    tl = _check_train_length(train_length, T)
    if impute not in (None, "linear"):
        raise ValueError(f"impute must be None or 'linear', got {impute!r}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        if impute is None:
            rows, cols = np.nonzero(bad)
            first = [(int(r), int(c)) if F > 1 else int(r) for r, c in zip(rows[:5], cols[:5],
                                                                            strict=True)]
            where = "(time, channel)" if F > 1 else "time"
            raise ValueError(f"X has {int(bad.sum())} NaN or infinite value(s), at {where} "
                             f"{first}{' ...' if bad.sum() > 5 else ''}; clean them or pass "
                             f"impute='linear'.")
        arr = _impute_linear(arr)
    in_train = anomaly_ranges(lab[:tl])
    if in_train:
        warnings.warn(f"the training prefix (the first {tl} points) holds labelled anomalies at "
                      f"{in_train[:5]}{' ...' if len(in_train) > 5 else ''} (start, end "
                      f"exclusive); a detector fitted on it learns them as normal.",
                      AnomalyInTrainingWarning, stacklevel=2)
    scaler = SequenceScaler().fit(arr[None, :tl])
    return TaskData(train=Split(scaler.transform(arr[None, :tl]), None, 0), val=None,
                    test=Split(scaler.transform(arr[None]), lab[None].copy(), tl),
                    x_scaler=scaler, y_scaler=None, n_outputs=int(F))


# --------------------------------------------------------------------------------------------
# base signals
# --------------------------------------------------------------------------------------------

def _slow(rng, T: int, lo: float = 800.0, hi: float = 3000.0, n: int = 3) -> np.ndarray:
    """A slow drift in [-1, 1]: a weighted sum of ``n`` sines of periods in ``[lo, hi]``."""
    t = np.arange(T)
    periods, phases, w = rng.uniform(lo, hi, n), rng.uniform(0, 2 * np.pi, n), rng.uniform(0.5, 1, n)
    s = (w[:, None] * np.sin(2 * np.pi * t[None] / periods[:, None] + phases[:, None])).sum(0)
    return s / w.sum()


def _ar1(rng, n: int, rho: float) -> np.ndarray:
    """A unit-variance AR(1) sequence with coefficient ``rho``."""
    e = rng.standard_normal(n)
    z = np.empty(n)
    z[0] = e[0]
    for i in range(1, n):
        z[i] = rho * z[i - 1] + np.sqrt(1 - rho ** 2) * e[i]
    return z


def _bumps(s, table, scale=1.0, amps=None):
    """Sum of Gaussian bumps ``a exp(-(s - mu scale)^2 / (2 (sigma scale)^2))``."""
    out = np.zeros_like(s)
    for j, (mu, sigma, a) in enumerate(table):
        amp = a if amps is None or amps[j] is None else a * amps[j]
        out += amp * np.exp(-0.5 * ((s - mu * scale) / (sigma * scale)) ** 2)
    return out


def _zero_ends(raw: Callable, phi, *args):
    """``raw`` minus the line through its values at phi = 0 and 1: exactly 0 at both ends."""
    e0 = raw(np.zeros_like(phi), *args)
    e1 = raw(np.ones_like(phi), *args)
    return raw(phi, *args) - (e0 * (1 - phi) + e1 * phi)


def _warp(phi, strength):
    """A monotone warp of [0, 1] onto itself that moves the middle of the cycle."""
    beta = np.clip(0.6 * strength, 0.0, 0.95)
    return phi - beta / (2 * np.pi) * np.sin(2 * np.pi * phi)


@dataclass
class _Channel:
    """A quasi-periodic channel rendered cycle by cycle.

    ``onsets`` (K + 1,) are the cycles' start times (covering [0, T)); ``params`` per-cycle
    arrays (K,), always with ``mode`` (0 normal, 1 shape, 2 flattened) and ``strength``;
    ``wave(phi, dur, p)`` the normal waveform (0 at phi = 0 and 1), ``shape(phi, dur, p,
    strength)`` the distorted one.
    """

    onsets: np.ndarray
    params: dict
    wave: Callable
    shape: Callable

    def render(self, T: int) -> np.ndarray:
        t = np.arange(T, dtype=np.float64)
        k = np.searchsorted(self.onsets, t, side="right") - 1
        dur = self.onsets[k + 1] - self.onsets[k]
        phi = (t - self.onsets[k]) / dur
        p = {name: a[k] for name, a in self.params.items()}
        g = self.wave(phi, dur, p)
        mode, strength = p["mode"], p["strength"]
        s = mode == 1
        if s.any():
            g[s] = self.shape(phi[s], dur[s], {n: a[s] for n, a in p.items()}, strength[s])
        s = mode == 2
        if s.any():
            g[s] *= np.clip(1.0 - strength[s], 0.0, 1.0)
        return g

    def span(self, k: int, n: int = 1) -> tuple[int, int]:
        """Sample range ``[a, b)`` of cycles ``k .. k + n - 1``."""
        return int(np.ceil(self.onsets[k])), int(np.ceil(self.onsets[k + n]))


@dataclass
class _Base:
    """A drawn base signal: ``X = level + amp * wave + noise`` per channel."""

    name: str
    T: int
    channels: list            # _Channel per channel, or None for an aperiodic channel
    core: np.ndarray          # (T, F) the waveform part (used for aperiodic channels)
    level: np.ndarray         # (T, F)
    amp: np.ndarray           # (T, F)
    noise: np.ndarray         # (T, F)
    noise_std: np.ndarray     # (F,)

    def clean_noise_free(self, chans=None) -> np.ndarray:
        chans = self.channels if chans is None else chans
        core = self.core.copy()
        for c, ch in enumerate(chans):
            if ch is not None:
                core[:, c] = ch.render(self.T)
        return self.level + self.amp * core


def _onsets(rng, T: int, durations: Callable[[int], np.ndarray], d_max: float) -> np.ndarray:
    K = int(np.ceil((T + 6 * d_max) / (0.5 * d_max))) + 2
    d = durations(K)
    start = -rng.uniform(1.0, 2.0) * d_max
    return start + np.concatenate([[0.0], np.cumsum(d)])


def _params(K: int, **arrays) -> dict:
    out = {n: np.asarray(a, dtype=np.float64) for n, a in arrays.items()}
    out["mode"] = np.zeros(K, dtype=np.int8)
    out["strength"] = np.zeros(K)
    return out



def _wave_and_shape(g):
    """``(wave, shape)`` of a cycle waveform ``g(phi)``: the cycle as is, and with warped timing."""
    def wave(phi, dur, p):
        return g(phi)

    def shape(phi, dur, p, strength):
        return g(_warp(phi, strength))

    return wave, shape

def _harmonic(coefs):
    coefs = tuple(float(c) for c in coefs)

    def g(phi):
        return sum(c * np.sin(2 * np.pi * (j + 1) * phi) for j, c in enumerate(coefs))

    return _wave_and_shape(g)


def _periodic(rng, T: int) -> _Base:
    P0 = rng.uniform(40, 60)
    a2 = rng.choice([-1, 1]) * rng.uniform(0.25, 0.45)
    a3 = rng.choice([-1, 1]) * rng.uniform(0.1, 0.2)
    nu, psi = rng.uniform(15, 40), rng.uniform(0, 2 * np.pi)
    on = _onsets(rng, T, lambda K: P0 * (1 + 0.04 * np.sin(2 * np.pi * np.arange(K) / nu + psi)),
                 P0 * 1.04)
    wave, shape = _harmonic((1.0, a2, a3))
    ch = _Channel(on, _params(len(on) - 1), wave, shape)
    level = 0.3 * _slow(rng, T)[:, None]
    amp = 1 + 0.15 * _slow(rng, T)[:, None]
    noise = 0.05 * rng.standard_normal((T, 1))
    return _Base("periodic", T, [ch], np.zeros((T, 1)), level, amp, noise, np.array([0.05]))


# ECG waves (mu, sigma, amplitude) in points from the beat's onset at RR = 100
_ECG = ((19.0, 2.5, 0.12), (32.0, 1.0, -0.10), (35.0, 1.4, 1.0), (38.0, 1.2, -0.22),
        (61.0, 4.5, 0.28))
# wide-complex beat: no P, QRS about twice as wide, R 0.85, deeper S, inverted T
_ECG_WIDE = ((19.0, 2.5, 0.0), (31.5, 2.2, -0.15), (35.5, 3.0, 0.85), (40.5, 2.6, -0.35),
             (64.0, 6.0, -0.22))


def _ecg(rng, T: int) -> _Base:
    RR0 = rng.uniform(95, 110)
    nu, psi = rng.uniform(8, 14), rng.uniform(0, 2 * np.pi)

    def durations(K):
        k = np.arange(K)
        rr = RR0 * (1 + 0.04 * np.sin(2 * np.pi * k / nu + psi) + 0.02 * rng.standard_normal(K))
        return np.clip(rr, 0.85 * RR0, 1.15 * RR0)

    on = _onsets(rng, T, durations, 1.15 * RR0)
    K = len(on) - 1
    params = _params(K, r=1 + 0.03 * rng.standard_normal(K), t=1 + 0.05 * rng.standard_normal(K))

    def raw(table):
        def f(phi, dur, r, t):
            scale = (RR0 / 100.0) * np.sqrt(dur / RR0)     # Bazett-like: QT ~ sqrt(RR)
            return _bumps(phi * dur, table, scale, amps=(None, None, r, None, t))
        return f

    def wave(phi, dur, p):
        return _zero_ends(raw(_ECG), phi, dur, p["r"], p["t"])

    def shape(phi, dur, p, strength):
        g = wave(phi, dur, p)
        return g + strength * (_zero_ends(raw(_ECG_WIDE), phi, dur, p["r"], p["t"]) - g)

    ch = _Channel(on, params, wave, shape)
    level = 0.05 * _slow(rng, T, 300, 1500)[:, None]
    amp = 1 + 0.05 * np.sin(2 * np.pi * np.arange(T) / (nu * RR0) + psi)[:, None]
    noise = 0.015 * rng.standard_normal((T, 1))
    return _Base("ecg", T, [ch], np.zeros((T, 1)), level, amp, noise, np.array([0.015]))


# stride (mu, sigma, amplitude) in fractions of the stride: heel strike, dip, push-off, swing
_GAIT = ((0.15, 0.04, 1.0), (0.28, 0.05, -0.2), (0.42, 0.055, 0.85), (0.75, 0.07, 0.12))
_GAIT_SHUFFLE = ((0.17, 0.06, 0.7), (0.28, 0.05, 0.0), (0.45, 0.08, 0.4), (0.75, 0.07, 0.05))


def _gait(rng, T: int) -> _Base:
    D0 = rng.uniform(100, 130)
    asym = rng.choice([-1, 1]) * 0.07

    def durations(K):
        return D0 * (1 + 0.03 * _ar1(rng, K, 0.7))

    on = _onsets(rng, T, durations, D0 * 1.12)
    K = len(on) - 1
    side = np.where(np.arange(K) % 2 == 0, 1.0, 1.0 - asym)
    params = _params(K, h=side * (1 + 0.03 * rng.standard_normal(K)),
                     shift=np.where(np.arange(K) % 2 == 0, 0.0, 0.2 * asym))

    def raw(table):
        def f(phi, h, shift):
            return h * _bumps(phi - shift, table)
        return f

    def wave(phi, dur, p):
        return _zero_ends(raw(_GAIT), phi, p["h"], p["shift"])

    def shape(phi, dur, p, strength):
        g = wave(phi, dur, p)
        return g + strength * (_zero_ends(raw(_GAIT_SHUFFLE), phi, p["h"], p["shift"]) - g)

    ch = _Channel(on, params, wave, shape)
    level = 0.05 * _slow(rng, T)[:, None]
    amp = 1 + 0.08 * _slow(rng, T)[:, None]
    noise = 0.02 * rng.standard_normal((T, 1))
    return _Base("gait", T, [ch], np.zeros((T, 1)), level, amp, noise, np.array([0.02]))


def _mackey_glass(rng, T: int) -> _Base:
    from .generators import mackey_glass

    core = mackey_glass(T, tau=17, seed=rng)
    noise = 0.01 * rng.standard_normal((T, 1))
    return _Base("mackey_glass", T, [None], core, np.zeros((T, 1)), np.ones((T, 1)), noise,
                 np.array([0.01]))


_PULSE = ((0.3, 0.07, 1.1), (0.55, 0.06, 0.3))


def _pulse():
    def g(phi):
        return _zero_ends(lambda x: _bumps(x, _PULSE), phi)

    return _wave_and_shape(g)


def _multichannel(rng, T: int) -> _Base:
    D0 = rng.uniform(60, 80)
    on = _onsets(rng, T, lambda K: D0 * (1 + 0.03 * _ar1(rng, K, 0.7)), D0 * 1.12)
    K = len(on) - 1
    chans = []
    for lag, (wave, shape) in zip((0.0, 0.12, 0.3),
                                  (_harmonic((1.0, 0.3)), _harmonic((0.8, 0.0, -0.2)), _pulse()),
                                  strict=True):
        # channel c's cycle k starts where the shared phase reaches k + lag
        on_c = np.interp(np.arange(K) + lag, np.arange(K + 1), on)
        chans.append(_Channel(on_c, _params(K - 1), wave, shape))
    level = np.stack([0.2 * _slow(rng, T) for _ in range(3)], axis=1)
    amp = np.stack([1 + 0.1 * _slow(rng, T) for _ in range(3)], axis=1)
    noise = 0.05 * rng.standard_normal((T, 3))
    return _Base("multichannel", T, chans, np.zeros((T, 3)), level, amp, noise,
                 np.full(3, 0.05))


_BASE_FUNCS = {"periodic": _periodic, "ecg": _ecg, "gait": _gait, "mackey_glass": _mackey_glass,
               "multichannel": _multichannel}


# --------------------------------------------------------------------------------------------
# anomalies
# --------------------------------------------------------------------------------------------

def _extreme_index(X: np.ndarray) -> int:
    """The time of the largest standardised deviation from the median, over all channels."""
    sd = X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.abs(X - np.median(X, axis=0)) / sd
    return int(np.argmax(z.max(axis=1)))


def _stats(S: np.ndarray, tl: int):
    P = S[:tl]
    med = np.median(P, axis=0)
    return med, P.std(axis=0), np.abs(P - med).max(axis=0)


def _additive(base: _Base, kind: str, rng, S: np.ndarray, lo: int, hi: int, tl: int,
              magnitude: float):
    """Draw an additive anomaly; return ``(delta (T, F), (a, b), channels)``."""
    T, F = S.shape
    med, sd, M = _stats(S, tl)
    n_ch = 1 if F == 1 else int(rng.integers(1, 3))
    chans = tuple(sorted(rng.choice(F, size=n_ch, replace=False).tolist()))
    delta = np.zeros((T, F))
    if kind == "spike":
        c0 = chans[0]
        dev = np.abs(S[lo + 1:hi - 1, c0] - med[c0])
        cand = np.flatnonzero(dev <= np.quantile(dev, 0.1)) + lo + 1
        i = int(rng.choice(cand))
        a, b = i - 1, i + 2
        for c in chans:
            sign = rng.choice([-1.0, 1.0])
            delta[a:b, c] = sign * 0.7 * M[c] * magnitude * np.array([0.5, 1.0, 0.5])
        return delta, (a, b), chans
    if kind == "level_shift":
        L = int(rng.integers(100, 201))
        a = int(rng.integers(lo, hi - L + 1))
        for c in chans:
            size = (1.0 if base.name == "ecg" else 0.5) * sd[c] * magnitude
            delta[a:a + L, c] = rng.choice([-1.0, 1.0]) * size
        return delta, (a, a + L), chans
    # noise_burst
    L = int(rng.integers(60, 151))
    a = int(rng.integers(lo, hi - L + 1))
    for c in chans:
        delta[a:a + L, c] = 4.0 * base.noise_std[c] * magnitude * rng.standard_normal(L)
    return delta, (a, a + L), chans


def _cyclic(base: _Base, kind: str, rng, lo: int, hi: int, magnitude: float):
    """Draw a cycle anomaly; return ``(channels list, (a, b), (c,))``."""
    F = len(base.channels)
    c = int(rng.integers(F))
    ch = base.channels[c]
    n = max(2, int(round(4.0 / magnitude))) if kind == "frequency" else 1
    K = len(ch.onsets) - 1
    ks = [k for k in range(K - n + 1)
          if np.ceil(ch.onsets[k]) >= lo and np.ceil(ch.onsets[k + n]) <= hi]
    if not ks:
        raise ValueError(f"the series is too short for a {kind!r} anomaly of {n} cycle(s) "
                         f"between point {lo} and {hi}; use a larger length.")
    k = int(rng.choice(ks))
    a, b = ch.span(k, n)
    params = {name: arr.copy() for name, arr in ch.params.items()}
    if kind == "frequency":
        m = int(rng.choice([-1, 1]))
        new_on = np.linspace(ch.onsets[k], ch.onsets[k + n], n + m + 1)
        onsets = np.concatenate([ch.onsets[:k], new_on, ch.onsets[k + n + 1:]])
        pick = k + (np.arange(n + m) * n) // (n + m)       # the cycles' own parameters, resampled
        params = {name: np.concatenate([arr[:k], arr[pick], arr[k + n:]])
                  for name, arr in params.items()}
        new = replace(ch, onsets=onsets, params=params)
    else:
        params["mode"][k] = 1 if kind == "shape" else 2
        params["strength"][k] = magnitude
        new = replace(ch, params=params)
    chans = list(base.channels)
    chans[c] = new
    return chans, (a, b), (c,)


def _check_choice(value, name: str, options) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}.")
    return value


def _check_generator_args(base, anomaly, length, train_length, magnitude):
    _check_choice(base, "base", BASES)
    if anomaly is not None:
        _check_choice(anomaly, "anomaly", ANOMALY_KINDS)
        if base not in COMPATIBLE[anomaly]:
            raise ValueError(f"a {anomaly!r} anomaly needs a quasi-periodic base "
                             f"{COMPATIBLE[anomaly]}, got base={base!r}.")
    for v, n in ((length, "length"), (train_length, "train_length")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{n} must be an int, got {v!r}.")
    if train_length < 200:
        raise ValueError(f"train_length must be at least 200 points, got {train_length}.")
    if length < train_length + 2 * MARGIN + 400:
        raise ValueError(f"length must be at least train_length + {2 * MARGIN + 400} = "
                         f"{train_length + 2 * MARGIN + 400} (a {MARGIN}-point margin on both "
                         f"sides of the anomaly), got length={length}.")
    if isinstance(magnitude, bool) or not isinstance(magnitude, (int, float, np.floating,
                                                                  np.integer)) \
            or not 0 < float(magnitude) <= 10 or not np.isfinite(magnitude):
        raise ValueError(f"magnitude must be a number in (0, 10], got {magnitude!r}.")


def make_anomaly_series(base: str, anomaly: str | None, *, length: int = 4000,
                        train_length: int = 1500, seed: int = 0, magnitude: float = 1.0,
                        subtle: bool = True) -> AnomalySeries:
    """A synthetic series with one injected anomaly, in the UCR archive's format.

    See the module docstring for the base signals, the anomaly kinds and their sizes.

    Parameters
    ----------
    base : {"periodic", "ecg", "gait", "mackey_glass", "multichannel"}
        The normal signal.
    anomaly : {"spike", "level_shift", "frequency", "shape", "noise_burst", "missing_beat"} or None
        The anomaly's kind (``frequency``, ``shape`` and ``missing_beat`` need a quasi-periodic
        base, not ``mackey_glass``); ``None`` gives the clean series of the same seed.
    length : int, default 4000
        Number of points, at least ``train_length + 800``.
    train_length : int, default 1500
        Length of the normal training prefix (at least 200).
    seed : int, default 0
        Draws the base signal (one stream, independent of ``anomaly``) and the anomaly's
        position and details (another stream, one per kind).
    magnitude : float, default 1.0
        Size of the anomaly relative to the documented default, in (0, 10].
    subtle : bool, default True
        Redraw the anomaly until the series' most extreme point (see the module docstring) is
        outside the labelled range.

    Returns
    -------
    AnomalySeries
        ``X`` (length, F) float64 (F = 3 for ``multichannel``, else 1), ``labels`` int8 with
        one range of 1s in ``[train_length + 200, length - 200)``, ``anomaly = (start, end)``.

    Raises
    ------
    ValueError
        For an unknown base or kind, a kind the base cannot carry, lengths too short for the
        margins, a magnitude outside (0, 10], or (``subtle=True``) no subtle draw in 200 tries.
    """
    _check_generator_args(base, anomaly, length, train_length, magnitude)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    T, tl, magnitude = int(length), int(train_length), float(magnitude)
    b = _BASE_FUNCS[base](np.random.default_rng([int(seed), 0, BASES.index(base)]), T)
    S = b.clean_noise_free()
    X_clean = S + b.noise
    if anomaly is None:
        return AnomalySeries(X_clean, np.zeros(T, np.int8), tl, None, base, None, ())
    rng = np.random.default_rng([int(seed), 1, BASES.index(base), ANOMALY_KINDS.index(anomaly)])
    lo, hi = tl + MARGIN, T - MARGIN
    for _ in range(_MAX_DRAWS):
        if anomaly in ("spike", "level_shift", "noise_burst"):
            delta, (a, e), chans = _additive(b, anomaly, rng, S, lo, hi, tl, magnitude)
            X = X_clean + delta
        else:
            new_chans, (a, e), chans = _cyclic(b, anomaly, rng, lo, hi, magnitude)
            X = b.clean_noise_free(new_chans) + b.noise
        if not subtle or not a <= _extreme_index(X) < e:
            break
    else:
        raise ValueError(f"no draw of a {anomaly!r} anomaly with magnitude={magnitude} keeps the "
                         f"series' most extreme point outside the anomaly in {_MAX_DRAWS} tries; "
                         f"use a smaller magnitude or subtle=False.")
    labels = np.zeros(T, np.int8)
    labels[a:e] = 1
    return AnomalySeries(X, labels, tl, (int(a), int(e)), base, anomaly, tuple(chans))


def anomaly_benchmark(seed: int = 0, *, length: int = 4000,
                      train_length: int = 1500) -> list[tuple[str, AnomalySeries]]:
    """The series of :data:`ANOMALY_BENCHMARK` for ``seed``: ``[(name, series), ...]``.

    ``name`` is ``"<base>-<anomaly>"``; the task of the same series is
    ``get_task("anomaly:<name>")``.
    """
    return [(f"{b}-{k}", make_anomaly_series(b, k, length=length, train_length=train_length,
                                             seed=seed))
            for b, k in ANOMALY_BENCHMARK]


def _load_anomaly_task(seed, *, base, anomaly, length, train_length, magnitude):
    s = make_anomaly_series(base, anomaly, length=length, train_length=train_length, seed=seed,
                            magnitude=magnitude)
    return make_detect_task_data(s.X, s.labels, s.train_length)


def anomaly_task(base: str, anomaly: str, length: int = 4000, train_length: int = 1500,
                 magnitude: float = 1.0) -> Task:
    """The detect task ``"anomaly:<base>-<anomaly>"`` (metric ``range_pr_auc``).

    The seed draws the series and the anomaly (:func:`make_anomaly_series`); the data follow
    the detect layout of :func:`make_detect_task_data`. The pairs of
    :data:`ANOMALY_BENCHMARK` are registered; other compatible pairs can be made here.
    """
    _check_generator_args(base, anomaly, length, train_length, magnitude)
    if anomaly is None:
        raise ValueError("anomaly must be an anomaly kind for a task, got None.")
    params = dict(length=int(length), train_length=int(train_length), magnitude=float(magnitude))
    return Task(f"{ANOMALY_PREFIX}{base}-{anomaly}", "detect", "range_pr_auc", params,
                functools.partial(_load_anomaly_task, base=base, anomaly=anomaly))


# --------------------------------------------------------------------------------------------
# real data shipped in aeon's wheel
# --------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _kdd_135():
    ds = optional_import("aeon.datasets", "data", "kdd_tsad_135")
    X, y = ds.load_kdd_tsad_135("test")
    X_tr, _ = ds.load_kdd_tsad_135("train")
    X, X_tr = np.asarray(X, np.float64), np.asarray(X_tr, np.float64)
    if not np.array_equal(X[:len(X_tr)], X_tr):  # pragma: no cover - a changed aeon file
        raise RuntimeError("aeon's KDD-TSAD 135 training series is not the prefix of its test "
                           "series; the installed aeon's data differ from the archive's.")
    return X, np.asarray(y).astype(np.int8), len(X_tr)


def kdd_tsad_135() -> AnomalySeries:
    """UCR anomaly archive series 135, "InternalBleeding16", from aeon's wheel.

    The heart rate of a patient with internal bleeding (KDD Cup 2021 / Wu & Keogh's archive):
    7,501 points, a normal training prefix of 1,200 (aeon's ``load_kdd_tsad_135("train")``,
    checked to be the series' first 1,200 points) and one labelled range, points 4187-4198
    (``anomaly = (4187, 4199)``). Needs aeon; nothing is downloaded.
    """
    X, y, tl = _kdd_135()
    ranges = anomaly_ranges(y)
    return AnomalySeries(X[:, None].copy(), y.copy(), tl, ranges[0] if len(ranges) == 1 else None,
                         "InternalBleeding16", None, ())


def _load_kdd_tsad_135(seed):
    s = kdd_tsad_135()
    return make_detect_task_data(s.X, s.labels, s.train_length)


def kdd_tsad_135_task() -> Task:
    """The detect task ``"kdd_tsad_135"`` (:func:`kdd_tsad_135`; metric ``range_pr_auc``).

    The recorded series is fixed: the seed changes nothing.
    """
    return Task("kdd_tsad_135", "detect", "range_pr_auc", {}, _load_kdd_tsad_135)


DAPHNET_CHANNELS = ("ankle_horiz_fwd", "ankle_vert", "ankle_horiz_lateral", "leg_horiz_fwd",
                    "leg_vert", "leg_horiz_lateral", "trunk_horiz_fwd", "trunk_vert",
                    "trunk_horiz_lateral")


def daphnet_s06r02e0() -> np.ndarray:
    """aeon's Daphnet S06R02E0 excerpt: (7040, 9) float64 acceleration, unlabelled.

    Three 3-axis accelerometers (ankle, thigh, trunk; channels in the order of
    ``DAPHNET_CHANNELS``, in mg) of a Parkinson's patient walking, sampled at 64 Hz (Bachlin et
    al. 2010, UCI "Daphnet Freezing of Gait"). The excerpt holds **no labelled anomaly** (no
    freeze of gait), so it is no detect task; use it for examples and streaming monitoring.
    Read from the CSV file in aeon's wheel (aeon 1.6 deprecates its loader); nothing is
    downloaded.
    """
    from .ucr import _aeon_data_dir

    root = _aeon_data_dir()
    path = None if root is None else os.path.join(root, "Daphnet_S06R02E0", "S06R02E0.csv")
    if path is None or not os.path.isfile(path):
        optional_import("aeon", "data", "daphnet_s06r02e0")
        raise FileNotFoundError("the installed aeon ships no Daphnet_S06R02E0/S06R02E0.csv "
                                "(removed after aeon 1.6); install aeon 1.6.")
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(1, 10), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# UCR anomaly archive text files
# --------------------------------------------------------------------------------------------

_UCR_FILE = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")
_NAME_OK = re.compile(r"^[A-Za-z0-9._\-]+$")


def _camel(s: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[_\-\s]+", s) if p)


def save_ucr_format(series: AnomalySeries, folder, index: int, *, name: str | None = None) -> str:
    """Write ``series`` as a UCR anomaly archive file; return its path.

    The file is ``<folder>/NNN_UCR_Anomaly_<name>_<train_end>_<begin>_<end>.txt`` with
    ``NNN`` the zero-padded ``index``, ``train_end = series.train_length`` and
    ``[begin, end)`` the anomaly (0-based, ``end`` exclusive; see the module docstring), one
    time step per line (channels separated by a space), values written exactly
    (``%.17g``). The file is written under a temporary name and renamed, so a failure leaves
    nothing behind; ``folder`` is created if needed.

    Parameters
    ----------
    series : AnomalySeries
        Exactly one labelled range, after the training prefix.
    folder : str or path-like
    index : int
        The archive's number (``135`` -> ``135_``, ``7`` -> ``007_``).
    name : str, optional
        Letters, digits, ``.``, ``-``, ``_``; default the CamelCase of ``series.name``
        (``ecg-missing_beat`` -> ``EcgMissingBeat``).
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
        raise ValueError(f"index must be a non-negative int, got {index!r}.")
    X = np.asarray(series.X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"series.X must be (T,) or (T, F), got shape {X.shape}.")
    lab = _check_labels(series.labels, X.shape[0], "series.labels")
    ranges = anomaly_ranges(lab)
    if len(ranges) != 1:
        raise ValueError(f"the UCR archive's format holds exactly one anomaly range; "
                         f"series.labels has {len(ranges)}: {ranges[:5]}.")
    tl = _check_train_length(series.train_length, X.shape[0])
    (begin, end), = ranges
    if begin < tl:
        raise ValueError(f"the anomaly {ranges[0]} starts inside the training prefix "
                         f"(train_length={tl}); the UCR format needs it after the prefix.")
    name = _camel(series.name) if name is None else name
    if not isinstance(name, str) or not _NAME_OK.match(name):
        raise ValueError(f"name must be letters, digits, '.', '-' or '_', got {name!r}.")
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{int(index):03d}_UCR_Anomaly_{name}_{tl}_{begin}_{end}.txt")
    fd, tmp = tempfile.mkstemp(prefix=".ucr-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            np.savetxt(fh, X, fmt="%.17g", delimiter=" ")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_ucr_anomaly(path) -> AnomalySeries:
    """Read a UCR anomaly archive file (``NNN_UCR_Anomaly_<name>_<train_end>_<begin>_<end>.txt``).

    The training prefix is the first ``train_end`` points and the anomaly the 0-based range
    ``[begin, end)`` (the reading that reproduces aeon's labels of KDD-TSAD 135; see the module
    docstring). One step per line; a file with all its values on one line (a few archive
    files) is read as one univariate series.

    Returns
    -------
    AnomalySeries
        ``base`` is the file's ``<name>``, ``kind`` is ``None``.
    """
    path = os.fspath(path)
    fname = os.path.basename(path)
    m = _UCR_FILE.match(fname)
    if m is None:
        raise ValueError(f"{fname!r} is not a UCR anomaly archive file name; expected "
                         f"'NNN_UCR_Anomaly_<name>_<train_end>_<begin>_<end>.txt'.")
    name, tl, begin, end = m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5))
    X = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if X.shape[0] == 1 and X.shape[1] > 1:   # all the values on one line: one univariate series
        X = X.reshape(-1, 1)
    T = X.shape[0]
    if not 1 <= tl <= begin < end <= T:
        raise ValueError(f"{fname}: the name's train_end={tl}, begin={begin}, end={end} do not "
                         f"fit a series of {T} points (need 1 <= train_end <= begin < end <= T).")
    labels = np.zeros(T, np.int8)
    labels[begin:end] = 1
    return AnomalySeries(X, labels, tl, (begin, end), name, None, ())
