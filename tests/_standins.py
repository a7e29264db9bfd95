"""Small stand-in tasks and models for the experiment and CLI tests.

They implement exactly the task and model interfaces that ``neurorec.experiment`` builds
against, with scores that are known in closed form. They live in an importable module (not
in a test file) so that worker processes started with ``spawn`` and subprocesses running
``python -m neurorec.cli`` can import them by dotted path (``_standins:ConstModel``; the
tests put this folder on ``PYTHONPATH``).

ToyForecast(seed): every target of the val split equals ``seed``, of the test split
``seed + 0.5``; the metric is the mean absolute error. ConstModel(offset) learns the mean
of the training targets (``seed``) and predicts ``mean + offset + 0.1 * self.seed``, so
with ``offset=1`` the val MAE is ``1 + 0.1 * seed`` and the test MAE ``0.5 + 0.1 * seed``
(provided ``compare`` passed the run's seed to the model).
"""

from __future__ import annotations

import inspect
import os
import time
from typing import Any, NamedTuple

import numpy as np

FIT_CALLS: list[tuple[str, int | None]] = []


class BaseEstimator:
    """get_params / set_params / clone as scikit-learn's (without importing scikit-learn, so
    that worker processes start fast)."""

    def get_params(self, deep: bool = True) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def set_params(self, **params):
        valid = self.get_params()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}")
            setattr(self, k, v)
        return self

    def clone(self):
        return type(self)(**self.get_params())


class Split(NamedTuple):
    X: Any
    y: Any
    skip: int = 0


class TaskData(NamedTuple):
    train: Split
    val: Split
    test: Split


class ToyForecast:
    """Sequence regression: X = ones, targets constant per split (see the module doc)."""

    kind = "forecast"
    metric = "mae"
    higher_is_better = False

    def __init__(self, name: str = "toy_forecast", n: int = 4, steps: int = 5):
        self.name = name
        self.n = n
        self.steps = steps

    def spec(self) -> dict:
        return {"name": self.name, "params": {"n": self.n, "steps": self.steps}}

    def load(self, seed: int) -> TaskData:
        shape = (self.n, self.steps, 1)
        X = np.ones(shape, dtype=np.float32)

        def split(value):
            return Split(X, np.full(shape, value, dtype=np.float32), 0)

        return TaskData(split(float(seed)), split(float(seed)), split(float(seed) + 0.5))

    def score(self, split: Split, y_pred) -> float:
        return float(np.mean(np.abs(np.asarray(y_pred) - split.y)))


class ToyClassify:
    """Classification: label = 1 for every sequence; the metric is accuracy."""

    kind = "classify"
    metric = "accuracy"
    higher_is_better = True

    def __init__(self, name: str = "toy_classify", n: int = 6):
        self.name = name
        self.n = n

    def spec(self) -> dict:
        return {"name": self.name, "params": {"n": self.n}}

    def load(self, seed: int) -> TaskData:
        X = np.ones((self.n, 3, 2), dtype=np.float32)
        y = np.ones(self.n, dtype=np.int64)
        s = Split(X, y, 0)
        return TaskData(s, s, s)

    def score(self, split: Split, y_pred) -> float:
        return float(np.mean(np.asarray(y_pred) == split.y))


class BrokenLoadTask(ToyForecast):
    """A task whose data cannot be loaded."""

    def load(self, seed: int) -> TaskData:
        raise OSError(f"data for seed {seed} is missing")


class ConstModel(BaseEstimator):
    """Predicts ``mean(train y) + offset + 0.1 * seed``; labels: the most frequent class."""

    def __init__(self, offset: float = 1.0, seed=None, fail_on_seed=None, sleep: float = 0.0,
                 log=None, warn=None):
        self.offset = offset
        self.seed = seed
        self.fail_on_seed = fail_on_seed
        self.sleep = sleep
        self.log = log
        self.warn = warn

    def fit(self, X, y):
        FIT_CALLS.append((type(self).__name__, self.seed))
        if self.warn:
            import warnings

            warnings.warn(self.warn, UserWarning, stacklevel=2)
        if self.log:
            with open(self.log, "a") as f:
                f.write(f"{os.environ.get('STANDIN_PHASE', '-')} {self.seed}\n")
        if self.sleep:
            time.sleep(self.sleep)
        if self.fail_on_seed is not None and self.seed == self.fail_on_seed:
            raise RuntimeError(f"planned failure for seed {self.seed}")
        y = np.asarray(y)
        self.classify_ = y.ndim == 1
        if self.classify_:
            values, counts = np.unique(y, return_counts=True)
            self.label_ = values[np.argmax(counts)]
        else:
            self.mean_ = float(y.mean())
        self.coef_ = np.zeros(3)
        return self

    def predict(self, X):
        n = len(X)
        if self.classify_:
            return np.full(n, self.label_)
        X = np.asarray(X)
        return np.full(X.shape[:2] + (1,), self.mean_ + self.offset + 0.1 * (self.seed or 0),
                       dtype=np.float32)

    @property
    def n_parameters_(self) -> dict:
        return {"total": 10, "trained": 3}


class ForecastOnly(ConstModel):
    """Declares it only handles forecasting (``compare`` must skip classification)."""

    _supported_kinds = frozenset({"forecast"})


class SpikingStandin(ConstModel):
    """Reports synaptic operations after fit."""

    def fit(self, X, y):
        super().fit(X, y)
        self.synops_ = 1234.0
        return self


class NoSeedModel(BaseEstimator):
    """A model without a ``seed`` parameter (compare must not try to set one)."""

    def __init__(self, offset: float = 2.0):
        self.offset = offset

    def fit(self, X, y):
        FIT_CALLS.append((type(self).__name__, None))
        self.mean_ = float(np.asarray(y).mean())
        return self

    def predict(self, X):
        X = np.asarray(X)
        return np.full(X.shape[:2] + (1,), self.mean_ + self.offset, dtype=np.float32)


class WorkerKiller(ConstModel):
    """Kills the process it is fitted in (``SIGKILL``, as the kernel's out-of-memory killer
    would): on seed ``kill_seed`` only, and only while the file ``marker`` holds fewer than
    ``kills`` lines (one is appended before each kill), so ``kills=1`` kills one worker and the
    retried run succeeds, and a large ``kills`` kills every worker that tries the run."""

    def __init__(self, offset: float = 1.0, seed=None, kill_seed: int = 0, marker=None, kills: int = 1,
                 sleep: float = 0.0, log=None):
        super().__init__(offset=offset, seed=seed, sleep=sleep, log=log)
        self.kill_seed = kill_seed
        self.marker = marker
        self.kills = kills

    def fit(self, X, y):
        import signal

        if self.seed == self.kill_seed and self.marker:
            done = open(self.marker).read().count("\n") if os.path.exists(self.marker) else 0
            if done < self.kills:
                with open(self.marker, "a") as f:
                    f.write(f"{os.getpid()}\n")
                os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(X, y)
