"""Task objects: a named data set with fixed splits for a seed, a scaler and a metric."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..metrics import get_metric
from .scaling import SequenceScaler

__all__ = ["KINDS", "Split", "TaskData", "Task"]

KINDS = ("forecast", "classify", "recall", "generate", "detect")


class Split(NamedTuple):
    """One split of a task.

    Attributes
    ----------
    X : ndarray (batch, time, features) or list of (time_i, features) arrays
        Inputs, float32, already scaled with the task's ``x_scaler``.
    y : ndarray
        Targets: int64 labels ``(batch,)`` for classification, float32 ``(batch, time, out)``
        (scaled with ``y_scaler``) for sequence targets.
    skip : int, default 0
        Leading time steps of every sequence that are warm-up only: they prime a stateful
        model and must not be scored (:meth:`Task.score` drops them). Forecast validation and
        test splits start with a warm-up prefix copied from the end of the preceding split.
    """

    X: Any
    y: Any
    skip: int = 0


@dataclass
class TaskData:
    """The three splits of a task for one seed, with the scalers fitted on ``train``.

    Attributes
    ----------
    train, val, test : Split
        Disjoint splits (forecast splits share only their unscored warm-up prefixes).
    x_scaler : SequenceScaler or None
        Fitted on ``train.X`` only and already applied to every split.
    y_scaler : SequenceScaler or None
        Fitted on ``train.y`` for sequence targets (use ``inverse_transform`` to go back to
        original units); ``None`` for classification.
    n_classes : int or None
        Number of classes for classification tasks.
    n_outputs : int or None
        Output columns per step for sequence targets.
    classes : tuple of str or None
        For classification tasks whose labels have names (the UCR/UEA tasks): ``classes[k]``
        is the name of integer label ``k``.
    """

    train: Split
    val: Split
    test: Split
    x_scaler: SequenceScaler | None = None
    y_scaler: SequenceScaler | None = None
    n_classes: int | None = None
    n_outputs: int | None = None
    classes: tuple | None = None


def _json_ready(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        out[str(k)] = v
    try:
        json.dumps(out, sort_keys=True)
    except TypeError as exc:
        raise ValueError(f"task params must be JSON-serialisable (they are a cache key): "
                         f"{exc}") from None
    return out


def _drop_skip(a, skip: int, name: str):
    """Drop the first ``skip`` time steps of every sequence of ``a``."""
    if isinstance(a, (list, tuple)):
        out = []
        for i, s in enumerate(a):
            s = np.asarray(s)
            if s.shape[0] <= skip:
                raise ValueError(f"{name}[{i}] has {s.shape[0]} steps, not more than skip={skip}.")
            out.append(s[skip:])
        return out
    if a.ndim == 3:
        if a.shape[1] <= skip:
            raise ValueError(f"{name} has {a.shape[1]} time steps, not more than skip={skip}.")
        return a[:, skip:]
    if a.shape[0] <= skip:  # one sequence (time,) or (time, out)
        raise ValueError(f"{name} has {a.shape[0]} time steps, not more than skip={skip}.")
    return a[skip:]


def _numpy(a):
    """A torch tensor as a numpy array; anything else unchanged."""
    return a.detach().cpu().numpy() if hasattr(a, "detach") and hasattr(a, "cpu") else a


def _recall_readout(y_true, y_pred):
    """Binary read-out of recall predictions against -1/+1 (or 0/1) targets.

    The encoding is read from all the targets together: 0/1 when they hold a 0, else -1/+1.
    A NaN prediction stays NaN, so it is scored as an error.
    """
    y_pred = _numpy(y_pred)
    ragged = isinstance(y_true, (list, tuple))
    if ragged and (not isinstance(y_pred, (list, tuple)) or len(y_pred) != len(y_true)):
        raise ValueError(f"y_pred must be a list of {len(y_true)} sequences like split.y.")
    trues = [np.asarray(t) for t in y_true] if ragged else [np.asarray(y_true)]
    values = np.unique(np.concatenate([t.ravel() for t in trues]))
    if np.isin(values, (-1.0, 1.0)).all():
        threshold, low = 0.0, -1.0
    elif np.isin(values, (0.0, 1.0)).all():
        threshold, low = 0.5, 0.0
    else:
        raise ValueError(f"recall targets must be binary, -1/+1 or 0/1; got values "
                         f"{values[:6].tolist()}.")

    def bits(p):
        p = np.asarray(_numpy(p), dtype=np.float64)
        return np.where(np.isnan(p), np.nan, np.where(p >= threshold, 1.0, low))

    if ragged:
        return trues, [bits(p) for p in y_pred]
    return trues[0], bits(y_pred)


def _detect_part(y_true, scores, skip: int):
    """Per-point labels and anomaly scores of a detect split after its ``skip`` training points:
    ``(batch, time)`` arrays (a trailing axis of 1 dropped; one ``(time,)`` series allowed) or lists."""
    scores = _numpy(scores)
    if isinstance(y_true, (list, tuple)):
        if not isinstance(scores, (list, tuple)) or len(scores) != len(y_true):
            raise ValueError(f"the anomaly scores must be a list of {len(y_true)} series like split.y.")
        return [np.asarray(t)[skip:] for t in y_true], [np.asarray(p)[skip:] for p in scores]
    t = np.asarray(y_true)
    p = np.asarray(scores, dtype=np.float64)
    if p.ndim == t.ndim + 1 and p.shape[-1] == 1:
        p = p[..., 0]
    if p.ndim == 1 and t.ndim == 2 and t.shape[0] == 1:
        p = p[None]
    if p.shape != t.shape:
        raise ValueError(f"the anomaly scores must have the shape of split.y, one per point: got {p.shape}, "
                         f"split.y is {t.shape}.")
    if t.shape[-1] <= skip:
        raise ValueError(f"split.y has {t.shape[-1]} points, not more than skip={skip}.")
    return t[..., skip:], p[..., skip:]


@dataclass(eq=False)
class Task:
    """A benchmark task: data with fixed splits for a seed, a scaler fitted on train, a metric.

    Create tasks with :func:`neurorec.data.get_task`; construct one directly only to register
    a new task.

    Parameters
    ----------
    name : str
        Registry name.
    kind : {"forecast", "classify", "recall", "generate", "detect"}
        ``forecast``: per-step sequence targets ``(batch, time, out)`` from inputs with
        ``fit(X, y)``/``predict(X)`` (also used for memory capacity and NARMA system
        identification); ``classify``: one label per sequence; ``recall``: binary targets
        (the clean patterns, ``(batch, rows, cols)`` of -1/+1) recalled from noisy cues of the
        same layout, scored after a binary read-out of the predictions (see :meth:`score`);
        ``detect``: a normal training prefix (``train.X``, ``train.y`` None) and a test series
        ``(batch, time, channels)`` with per-point 0/1 labels ``(batch, time)``, scored on the
        anomaly scores of a detector (:mod:`neurorec.anomaly`) after the ``skip`` prefix points
        (:func:`~neurorec.metrics.ucr_hit`, :func:`~neurorec.metrics.range_pr_auc`,
        :func:`~neurorec.metrics.roc_auc`; the task's ``metric`` is one of them, ``compare``
        records all three).
    metric : str
        A key of :data:`neurorec.metrics.METRICS`.
    params : dict
        The task's settings (JSON-serialisable); together with ``name`` the cache key.
    loader : callable
        ``loader(seed=seed, **params) -> TaskData``.
    """

    name: str
    kind: str
    metric: str
    params: dict = field(default_factory=dict)
    loader: Callable[..., TaskData] | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}.")
        get_metric(self.metric)  # raises with the valid names
        self.metric = self.metric.lower()
        self.params = _json_ready(dict(self.params))
        if self.loader is None or not callable(self.loader):
            raise ValueError(f"task {self.name!r} needs a callable loader(seed=..., **params).")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of :attr:`metric` is better."""
        return get_metric(self.metric).higher_is_better

    def spec(self) -> dict:
        """``{"name": ..., "params": {...}}``: JSON-serialisable, sorted, a cache key."""
        return {"name": self.name, "params": dict(sorted(self.params.items()))}

    def load(self, seed: int) -> TaskData:
        """Build the splits for ``seed``.

        Deterministic: the same seed gives identical arrays. Scalers are fitted on the train
        split only; the test split is never used to fit anything.

        Parameters
        ----------
        seed : int
            Non-negative integer seed (controls generated data and/or the split).
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
        return self.loader(seed=int(seed), **self.params)

    def score(self, split: Split, y_pred) -> float:
        r"""Score predictions for ``split`` with the task's metric.

        For sequence targets the first ``split.skip`` steps of every sequence (warm-up) are
        dropped from both ``split.y`` and ``y_pred`` before scoring. Scores are computed on
        the scaled targets; ``nrmse``, ``nmse``, ``r2`` and ``memory_capacity`` do not change
        under the per-column affine scaling, accuracy is unaffected.

        For ``recall`` tasks the predictions are read out as bits before the metric is applied,
        so a continuous denoiser (a modern Hopfield network, a recurrent network trained by
        regression) is scored by the pattern it points to: with -1/+1 targets the read-out is
        :math:`\mathrm{sign}(\hat y)` with 0 counted as +1 (``np.where(y_pred >= 0, 1, -1)``);
        with 0/1 targets it is ``y_pred >= 0.5``. A prediction of 0.3 is a +1, -0.2 a -1.

        Parameters
        ----------
        split : Split
            The split the predictions are for.
        y_pred : array-like or list
            Predictions in the layout of ``split.y``.
        """
        fn = get_metric(self.metric)
        y_true = split.y
        skip = int(split.skip)
        if self.kind == "detect":
            return float(fn(*_detect_part(y_true, y_pred, skip)))
        if self.kind == "recall":
            y_true, y_pred = _recall_readout(y_true, y_pred)
        if skip and self.kind != "classify":
            if not isinstance(y_true, (list, tuple)):
                y_true = np.asarray(y_true)
                y_pred = np.asarray(_numpy(y_pred))
                if y_pred.shape != y_true.shape:
                    drop = lambda s: s[:-1] if len(s) > 1 and s[-1] == 1 else s  # noqa: E731
                    if drop(y_pred.shape) != drop(y_true.shape):
                        raise ValueError(f"y_pred must have the shape of split.y, got y_pred "
                                         f"{y_pred.shape} and split.y {y_true.shape}.")
                    y_pred = y_pred.reshape(y_true.shape)
            elif not isinstance(y_pred, (list, tuple)) or len(y_pred) != len(y_true):
                raise ValueError(f"y_pred must be a list of {len(y_true)} sequences like split.y.")
            y_true = _drop_skip(y_true, skip, "split.y")
            y_pred = _drop_skip(y_pred, skip, "y_pred")
        return float(fn(y_true, y_pred))
