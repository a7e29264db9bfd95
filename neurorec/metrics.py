"""Metrics, defined in one place, each with its formula.

Every metric takes ``(y_true, y_pred)`` and returns a Python ``float``. Inputs may be

* ``(batch, time, out)`` sequence targets,
* ``(time, out)`` or ``(n, out)`` arrays,
* ``(n,)`` vectors (labels, one output column),
* a list of ``(time_i, out)`` or ``(time_i,)`` arrays (variable-length sequences), which is
  concatenated along time.

All leading axes are flattened, so the last axis (when there are at least two) indexes output
columns and every other axis indexes samples: a ``(batch, time, out)`` array is scored as
``batch * time`` samples of ``out`` columns. ``y_true`` and ``y_pred`` must have the same shape;
a trailing axis of size 1 may be left out on either side (``(n,)`` matches ``(n, 1)``).

Regression metrics with a normalisation (``nrmse``, ``nmse``, ``r2``) and the plain ones
(``rmse``, ``mse``) are computed per output column and then averaged with equal weights over
the columns. Names say which normalisation is used: ``nrmse`` divides by the standard
deviation of the target, ``nmse`` by its variance (both population statistics, ``ddof=0``).

Use :func:`get_metric` to look a metric up by name; :data:`METRICS` maps each name to a
:class:`Metric` that also says whether higher is better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Metric",
    "METRICS",
    "get_metric",
    "nrmse",
    "nmse",
    "rmse",
    "mse",
    "r2",
    "accuracy",
    "bit_error_rate",
    "memory_capacity",
    "ucr_hit",
    "range_pr_auc",
    "roc_auc",
    "DETECT_METRICS",
]


# --------------------------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------------------------

def _to_array(a, name: str) -> np.ndarray:
    """Convert one metric argument to an ndarray (lists of sequences are concatenated)."""
    if hasattr(a, "detach") and hasattr(a, "cpu"):  # a torch tensor
        a = a.detach().cpu().numpy()
    if isinstance(a, (list, tuple)) and len(a) > 0 and all(np.ndim(v) >= 1 for v in a):
        parts = [np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for v in a]
        ranks = {p.ndim for p in parts}
        if len(ranks) != 1:
            raise ValueError(f"{name} is a list of sequences of mixed ranks {sorted(ranks)}; "
                             "expected (time_i, out) arrays of one rank.")
        tails = {p.shape[1:] for p in parts}
        if len(tails) != 1:
            raise ValueError(f"{name} is a list of sequences with different trailing shapes "
                             f"{sorted(tails)}; every (time_i, out) array needs the same out.")
        return np.concatenate(parts, axis=0)
    arr = np.asarray(a)
    if arr.dtype == object:
        raise ValueError(f"{name} must be a numeric array, got an object array of shape "
                         f"{arr.shape}.")
    return arr


def _squeeze_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y_true, y_pred)`` as arrays of one shape; raise on a shape mismatch."""
    t = _to_array(y_true, "y_true")
    p = _to_array(y_pred, "y_pred")
    if t.shape != p.shape:
        if _squeeze_last(t.shape) != _squeeze_last(p.shape):
            raise ValueError(f"y_true and y_pred must have the same shape, got y_true {t.shape} "
                             f"and y_pred {p.shape}.")
        p = p.reshape(t.shape)
    if t.size == 0:
        raise ValueError(f"y_true is empty (shape {t.shape}); nothing to score.")
    return t, p


def _columns(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """Flatten all leading axes: return two float64 arrays of shape (n_samples, n_columns)."""
    t, p = _pair(y_true, y_pred)
    n_out = t.shape[-1] if t.ndim >= 2 else 1
    return (t.reshape(-1, n_out).astype(np.float64, copy=False),
            p.reshape(-1, n_out).astype(np.float64, copy=False))


def _check_variance(t: np.ndarray, metric: str) -> np.ndarray:
    """Population variance of each column of ``t``; raise if a column is constant."""
    var = t.var(axis=0)
    scale = np.maximum(1.0, np.abs(t).max(axis=0))
    const = var <= (1e-12 * scale) ** 2
    if const.any():
        cols = np.flatnonzero(const).tolist()
        raise ValueError(f"{metric} is undefined: y_true has zero variance in output column(s) "
                         f"{cols[:10]} (a constant target); use rmse or mse instead.")
    return var


# --------------------------------------------------------------------------------------------
# regression metrics
# --------------------------------------------------------------------------------------------

def mse(y_true, y_pred) -> float:
    r"""Mean squared error.

    .. math::

        \mathrm{MSE}_k = \frac{1}{N} \sum_{n=1}^{N} (y_{n,k} - \hat y_{n,k})^2, \qquad
        \mathrm{MSE} = \frac{1}{K} \sum_{k=1}^{K} \mathrm{MSE}_k

    over the ``N`` samples (all leading axes flattened) and ``K`` output columns.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, out), (time, out) or (n,)
        Targets and predictions of the same shape, or lists of ``(time_i, out)`` arrays.

    Returns
    -------
    float
        Lower is better; 0 for a perfect prediction.
    """
    t, p = _columns(y_true, y_pred)
    return float(np.mean((t - p) ** 2, axis=0).mean())


def rmse(y_true, y_pred) -> float:
    r"""Root mean squared error, per output column, averaged over columns.

    .. math::

        \mathrm{RMSE} = \frac{1}{K} \sum_{k=1}^{K}
            \sqrt{\frac{1}{N} \sum_{n=1}^{N} (y_{n,k} - \hat y_{n,k})^2}

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, out), (time, out) or (n,)
        Targets and predictions of the same shape, or lists of ``(time_i, out)`` arrays.

    Returns
    -------
    float
        In the units of the target; lower is better.
    """
    t, p = _columns(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2, axis=0)).mean())


def nrmse(y_true, y_pred) -> float:
    r"""Normalised root mean squared error: RMSE divided by the standard deviation of the target.

    .. math::

        \mathrm{NRMSE}_k = \frac{\sqrt{\frac{1}{N}\sum_n (y_{n,k} - \hat y_{n,k})^2}}
                                {\sigma(y_{\cdot,k})}, \qquad
        \mathrm{NRMSE} = \frac{1}{K} \sum_{k=1}^{K} \mathrm{NRMSE}_k

    with :math:`\sigma` the population standard deviation (``ddof=0``) of column ``k`` of the
    target over the scored samples. Predicting the target mean gives exactly 1. With several
    output columns each column is normalised by its own standard deviation and the results are
    averaged with equal weights. Invariant to an affine rescaling of a target column (applied
    to the prediction too), so it can be computed on standardised data.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, out), (time, out) or (n,)
        Targets and predictions of the same shape, or lists of ``(time_i, out)`` arrays.

    Returns
    -------
    float
        Lower is better; 0 is perfect, 1 is no better than predicting the mean.

    Raises
    ------
    ValueError
        If the shapes differ or a target column is constant (zero variance).
    """
    t, p = _columns(y_true, y_pred)
    var = _check_variance(t, "nrmse")
    return float((np.sqrt(np.mean((t - p) ** 2, axis=0)) / np.sqrt(var)).mean())


def nmse(y_true, y_pred) -> float:
    r"""Normalised mean squared error: MSE divided by the variance of the target.

    .. math::

        \mathrm{NMSE}_k = \frac{\frac{1}{N}\sum_n (y_{n,k} - \hat y_{n,k})^2}
                               {\sigma^2(y_{\cdot,k})}, \qquad
        \mathrm{NMSE} = \frac{1}{K} \sum_{k=1}^{K} \mathrm{NMSE}_k

    with :math:`\sigma^2` the population variance (``ddof=0``) of target column ``k``. This is
    the NMSE of the reservoir-computing literature (e.g. Jaeger 2003; Rodan & Tiňo 2011 for
    NARMA10); it equals ``nrmse ** 2`` for a single output and ``1 - r2``.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, out), (time, out) or (n,)
        Targets and predictions of the same shape, or lists of ``(time_i, out)`` arrays.

    Returns
    -------
    float
        Lower is better; 0 is perfect, 1 is no better than predicting the mean.

    Raises
    ------
    ValueError
        If the shapes differ or a target column is constant (zero variance).
    """
    t, p = _columns(y_true, y_pred)
    var = _check_variance(t, "nmse")
    return float((np.mean((t - p) ** 2, axis=0) / var).mean())


def r2(y_true, y_pred) -> float:
    r"""Coefficient of determination, per output column, averaged over columns.

    .. math::

        R^2_k = 1 - \frac{\sum_n (y_{n,k} - \hat y_{n,k})^2}{\sum_n (y_{n,k} - \bar y_k)^2},
        \qquad R^2 = \frac{1}{K} \sum_{k=1}^{K} R^2_k

    (scikit-learn's ``r2_score`` with ``multioutput="uniform_average"``).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, out), (time, out) or (n,)
        Targets and predictions of the same shape, or lists of ``(time_i, out)`` arrays.

    Returns
    -------
    float
        Higher is better; 1 is perfect, 0 is the mean predictor, it can be negative.

    Raises
    ------
    ValueError
        If the shapes differ or a target column is constant (zero variance).
    """
    t, p = _columns(y_true, y_pred)
    var = _check_variance(t, "r2")
    return float((1.0 - np.mean((t - p) ** 2, axis=0) / var).mean())


def memory_capacity(y_true, y_pred) -> float:
    r"""Short-term memory capacity (Jaeger 2001).

    Column ``k`` of ``y_true`` holds the input delayed by ``k + 1`` steps, column ``k`` of
    ``y_pred`` the readout trained to reproduce it. The capacity is the sum over columns of the
    squared Pearson correlation between target and prediction:

    .. math::

        \mathrm{MC} = \sum_{k=1}^{K} \mathrm{MC}_k, \qquad
        \mathrm{MC}_k = \frac{\operatorname{cov}^2(u(t-k),\, y_k(t))}
                             {\operatorname{var}(u(t-k))\, \operatorname{var}(y_k(t))}

    A constant prediction column contributes 0. The value lies in ``[0, K]`` and, for a linear
    reservoir of ``N`` units driven by i.i.d. input, is at most ``N`` (Jaeger 2001).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (batch, time, K), (time, K) or (n,)
        Delayed inputs and their reconstructions (same shape).

    Returns
    -------
    float
        Higher is better.

    Raises
    ------
    ValueError
        If the shapes differ or a target column is constant.

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152, German National
    Research Center for Information Technology, 2001.
    """
    t, p = _columns(y_true, y_pred)
    var_t = _check_variance(t, "memory_capacity")
    tc = t - t.mean(axis=0)
    pc = p - p.mean(axis=0)
    var_p = np.mean(pc**2, axis=0)
    cov = np.mean(tc * pc, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mc_k = np.where(var_p > 0, cov**2 / (var_t * var_p), 0.0)
    mc_k = np.where(np.isfinite(var_p), mc_k, np.nan)
    return float(np.sum(mc_k))


# --------------------------------------------------------------------------------------------
# labels and symbols
# --------------------------------------------------------------------------------------------

def accuracy(y_true, y_pred) -> float:
    r"""Classification accuracy: the fraction of predicted labels equal to the true ones.

    .. math::

        \mathrm{acc} = \frac{1}{N} \sum_{n=1}^{N} [\, y_n = \hat y_n \,]

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        Integer class labels (not scores: take the ``argmax`` of class scores first).
        Higher-rank inputs are compared element-wise.

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def bit_error_rate(y_true, y_pred) -> float:
    r"""Bit (or symbol) error rate: the fraction of elements that differ.

    .. math::

        \mathrm{BER} = \frac{1}{M} \sum_{m=1}^{M} [\, y_m \ne \hat y_m \,]

    over all ``M`` elements (bits of every pattern, or symbols of every step). Predictions are
    compared exactly, so threshold or sign continuous outputs first (e.g. ``np.sign`` for
    ``{-1, +1}`` Hopfield patterns).

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape
        True and recalled bits or symbols.

    Returns
    -------
    float
        In ``[0, 1]``; lower is better.
    """
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t != p))


# --------------------------------------------------------------------------------------------
# anomaly detection: per-point labels against per-point anomaly scores
# --------------------------------------------------------------------------------------------

def _detect_pairs(y_true, y_score, metric: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(labels, scores)`` per series: ``(batch, time)`` or ``(time,)`` arrays (a trailing axis of
    size 1 is dropped), or lists of ``(time_i,)`` arrays. Labels must be 0/1 with at least one 1
    per series, scores finite (a NaN score is refused, never ranked)."""
    if isinstance(y_true, (list, tuple)):
        if not isinstance(y_score, (list, tuple)) or len(y_score) != len(y_true):
            raise ValueError(f"{metric}: y_score must be a list of {len(y_true)} series like y_true.")
        pairs = list(zip(y_true, y_score, strict=True))
    else:
        t, s = _to_array(y_true, "y_true"), _to_array(y_score, "y_score")
        if t.ndim >= 2 and t.shape[-1] == 1:
            t = t[..., 0]
        if s.ndim >= 2 and s.shape[-1] == 1 and s.ndim > t.ndim:
            s = s[..., 0]
        if t.shape != s.shape or t.ndim not in (1, 2):
            raise ValueError(f"{metric}: y_true and y_score must both be (time,) or (batch, time) per-point "
                             f"arrays of the same shape, got {t.shape} and {s.shape}.")
        pairs = list(zip(t, s, strict=True)) if t.ndim == 2 else [(t, s)]
    out = []
    for i, (t, s) in enumerate(pairs):
        t = np.asarray(t).reshape(-1)
        s = np.asarray(s, dtype=np.float64).reshape(-1)
        if t.shape != s.shape:
            raise ValueError(f"{metric}: series {i} has {t.size} labels but {s.size} scores.")
        if not np.isin(t, (0, 1)).all():
            raise ValueError(f"{metric}: labels must be 0 (normal) or 1 (anomalous), series {i} has "
                             f"{np.unique(t)[:6].tolist()}.")
        if not t.any():
            raise ValueError(f"{metric}: series {i} has no anomalous point: the metric is undefined.")
        bad = np.flatnonzero(~np.isfinite(s))
        if bad.size:
            raise ValueError(f"{metric}: the anomaly scores of series {i} are not finite at {bad.size} points "
                             f"(first at {bad[:5].tolist()}); a detector must score every point.")
        out.append((t.astype(np.int64), s))
    if not out:
        raise ValueError(f"{metric}: no series to score.")
    return out


def ucr_hit(y_true, y_score, tolerance: int = 100) -> float:
    r"""The UCR anomaly archive's rule (Wu & Keogh, "Current time series anomaly detection
    benchmarks are flawed", IEEE TKDE 2021; the KDD Cup 2021 scoring): a series is a hit when
    the location of its single highest anomaly score lies inside a labelled anomaly range
    widened by ``tolerance`` points on each side.

    .. math::

        \mathrm{hit} = [\, a - \tau \le \arg\max_t s_t \le b + \tau \,]

    for an anomaly range :math:`[a, b]` and :math:`\tau` = ``tolerance`` (100 in the archive).
    When several points share the highest score, the series is a hit only if all of them lie
    in the widened range (a constant score never hits by luck). With several labelled ranges
    any of them counts. Over a batch, the mean hit rate. Score only the test part (the
    archive's rule looks after the training prefix; :meth:`neurorec.data.Task.score` drops it).

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.
    """
    hits = []
    for t, s in _detect_pairs(y_true, y_score, "ucr_hit"):
        top = np.flatnonzero(s == s.max())
        allowed = np.zeros(t.size, dtype=bool)
        idx = np.flatnonzero(t)
        for k in idx:
            allowed[max(0, k - tolerance):k + tolerance + 1] = True
        hits.append(float(allowed[top].all()))
    return float(np.mean(hits))


def range_pr_auc(y_true, y_score) -> float:
    r"""Area under the range-based precision-recall curve of Paparrizos et al. (PVLDB 15(11), 2022),
    computed by aeon's ``range_pr_auc_score``:

    .. math::

        \mathrm{AUC} = \int_0^1 P_r \, dR_r,

    with :math:`P_r(\theta)` and :math:`R_r(\theta)` the range-based precision and recall of
    the points scoring above thresholds :math:`\theta` sampled from the scores, against labels
    widened by linear slopes of half the median anomaly length on each side (so a detection just
    next to a range earns partial credit). Over a batch, the mean over series. A constant score
    gives 0; because of the slopes a perfect detector scores a little below 1 (about 0.86 for
    an anomaly of 12 or 100 points, 0.94 for one of 3 points).

    Returns
    -------
    float
        In ``[0, 1]``; higher is better.
    """
    import warnings

    from aeon.benchmarking.metrics.anomaly_detection import range_pr_auc_score

    out = []
    for t, s in _detect_pairs(y_true, y_score, "range_pr_auc"):
        if np.ptp(s) == 0:
            out.append(0.0)
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(float(range_pr_auc_score(t, s)))
    return float(np.mean(out))


def roc_auc(y_true, y_score) -> float:
    r"""Point-wise ROC-AUC of the anomaly scores against the per-point labels (aeon's
    ``roc_auc_score``, i.e. scikit-learn's): the probability that a random anomalous point scores
    above a random normal one, ties counting one half,

    .. math::

        \mathrm{AUC} = P(s_a > s_n) + \tfrac12 P(s_a = s_n),

    so a constant score gives 0.5 (where aeon returns 0). Over a batch, the mean over series.

    Returns
    -------
    float
        In ``[0, 1]`` (0.5 is chance); higher is better.
    """
    from aeon.benchmarking.metrics.anomaly_detection import roc_auc_score

    # aeon returns 0 (with a warning) for a constant score; every pair is then a tie: 0.5
    return float(np.mean([roc_auc_score(t, s) if np.ptp(s) > 0 else 0.5
                          for t, s in _detect_pairs(y_true, y_score, "roc_auc")]))


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Metric:
    """A named metric.

    Attributes
    ----------
    name : str
        Key in :data:`METRICS`.
    fn : callable
        ``fn(y_true, y_pred) -> float``.
    higher_is_better : bool
        Direction of improvement (``True`` for accuracy, ``r2``, memory capacity).
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool

    def __call__(self, y_true, y_pred) -> float:
        return self.fn(y_true, y_pred)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("nrmse", nrmse, False),
        Metric("nmse", nmse, False),
        Metric("rmse", rmse, False),
        Metric("mse", mse, False),
        Metric("r2", r2, True),
        Metric("accuracy", accuracy, True),
        Metric("bit_error_rate", bit_error_rate, False),
        Metric("memory_capacity", memory_capacity, True),
        Metric("ucr_hit", ucr_hit, True),
        Metric("range_pr_auc", range_pr_auc, True),
        Metric("roc_auc", roc_auc, True),
    )
}

#: The metrics every ``detect`` task reports (its own metric first in :func:`compare`'s rows).
DETECT_METRICS = ("ucr_hit", "range_pr_auc", "roc_auc")


def get_metric(name: str | Metric) -> Metric:
    """Return the :class:`Metric` called ``name``.

    Parameters
    ----------
    name : str or Metric
        A key of :data:`METRICS` (case-insensitive); a :class:`Metric` is returned unchanged.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    if isinstance(name, Metric):
        return name
    key = name.lower() if isinstance(name, str) else name
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; valid names are {sorted(METRICS)}.")
    return METRICS[key]
