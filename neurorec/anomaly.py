r"""Anomaly detection on time series with neurorec's models, and aeon's detectors beside them.

Every detector follows one contract (the ``detect`` task kind of :mod:`neurorec.data`):

- ``fit(X)`` on normal data (a training prefix): ``X`` is one series ``(time,)`` or
  ``(time, channels)``, a batch ``(batch, time, channels)`` or a list of series;
- ``anomaly_score(X)``: one score per point, higher is more anomalous, in the layout of ``X``
  without the channel axis (``(time,)``, ``(batch, time)`` or a list); always finite;
- ``predict(X)``: 0/1 per point, ``anomaly_score(X) > threshold_``;
- ``detect(X)``: the detected ranges ``[(start, end), ...]`` (``end`` exclusive) of each series.

The threshold is set at ``fit`` on scores the detector did not train on: the last
``calibration`` fraction of each training series is held out (the model is fitted on the rest,
then scores the held-out tail), and ``threshold_`` is the ``quantile`` of those scores
(``threshold="quantile"``), their maximum (``"max"``), or a fixed number; a forecaster's error
scale comes from the same held-out errors. With ``refit=True`` (the default) the model is then
fitted again on the whole training series (more normal data: lower scores on normal points, so
the held-out threshold errs on the side of fewer false alarms); ``refit=False`` keeps the model
that was calibrated.

Detectors
---------
:class:`ForecastDetector`
    Any neurorec forecaster (``ESN``, ``NVAR``, ``DeepESN``, ``LSTM``, ``GRU``, ``Elman``,
    ``LSM``, ...) learns to predict the next point of the normal series; a point's score is its
    prediction error :math:`e_t = y_t - \hat y_t`, per channel centred on the median and divided
    by the robust scale (1.4826 x median absolute deviation) of the held-out errors, then averaged
    over channels,

    .. math::

        a_t = \frac1F \sum_f \frac{|e_{t,f} - m_f|}{1.4826\,\mathrm{MAD}_f},
        \qquad s_t = a_t\,\frac{\bar a}{\max(\bar a,\ \mathrm{median}(a_{t-W..t-1}))},

    where :math:`\bar a` is the median of :math:`a` on the held-out errors and the running median
    over the previous ``scale_window`` points (``scale="running"``) raises the scale when the
    series becomes noisier, never lowers it below the held-out one; ``smooth`` > 1 averages the
    score over the last ``smooth`` points. ``statistic="surprise"`` is instead the negative
    log-likelihood of the error under a Gaussian fitted to the held-out errors,
    :math:`\tfrac12 (e_t - \mu)^\top \Sigma^{-1} (e_t - \mu) + \tfrac12 \log\det(2\pi\Sigma)`, which
    weighs correlated channels together. ``mode="reconstruct"`` trains the model to output its
    current input (an autoencoder through the model's state) and scores the reconstruction error.
:class:`SpikingDetector`
    The same with a liquid state machine (:class:`~neurorec.models.LSM`) and the surprise of its
    readout: the spiking detector.
:class:`HopfieldDetector`
    The windows of the normal series are stored in a modern Hopfield network
    (:class:`~neurorec.models.ModernHopfield`, Ramsauer et al. 2021); a window of the test series
    is retrieved in one update and scored by its distance to what the memory returns, i.e. to the
    nearest stored normal patterns; a point's score is the mean over the windows that cover it.
    The patterns carry :math:`-\tfrac12\|x^\mu\|^2` as an extra coordinate and the cue a 1, so the
    overlaps :math:`x^{\mu\top}\xi - \tfrac12\|x^\mu\|^2 = -\tfrac12\|x^\mu - \xi\|^2 + \tfrac12\|\xi\|^2`
    rank the stored windows by Euclidean distance (dot products alone would favour the patterns
    of largest norm).
:class:`AeonDetector`
    One of aeon's series anomaly detectors (``STOMP``, ``KMeansAD``, ``IsolationForest``,
    ``LOF``, ``MERLIN``, ``DWT_MLEAD``, ...) behind the same contract, so that ``compare`` runs
    it beside neurorec's detectors: semi-supervised detectors are fitted on the training
    series, unsupervised ones score each series on their own.

Scores are judged with :func:`neurorec.metrics.ucr_hit` (the UCR archive's rule),
:func:`~neurorec.metrics.range_pr_auc` and :func:`~neurorec.metrics.roc_auc`.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.utils.metaestimators import available_if

from neurorec import _params as P
from neurorec._validation import check_sequences
from neurorec.base import Model, _qualname, _resolve_class

__all__ = ["ForecastDetector", "SpikingDetector", "HopfieldDetector", "AeonDetector", "detected_ranges",
           "dominant_period"]

_MAD = 1.4826          # median absolute deviation -> standard deviation of a normal distribution


def detected_ranges(flags, min_gap: int = 0) -> list[tuple[int, int]]:
    """The runs of 1 in a 0/1 vector as ``[(start, end), ...]`` (``end`` exclusive); runs closer
    than ``min_gap`` points are merged into one."""
    from neurorec.data.anomaly import anomaly_ranges

    merged: list[tuple[int, int]] = []
    for a, b in anomaly_ranges(np.asarray(flags).astype(np.int8).ravel()):
        if merged and a - merged[-1][1] < min_gap:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _check_series(X, name: str, n_features: int | None):
    """``(SeqBatch float64, layout)``: ``layout`` is "1d" for a ``(time,)`` vector (scores come back
    as ``(time,)``), else check_sequences' own. NaN/inf are refused with their positions."""
    one_d = False
    if not isinstance(X, (list, tuple)) and np.ndim(X) == 1:
        X = np.asarray(X)[:, None]
        one_d = True
    elif isinstance(X, (list, tuple)) and X and all(np.ndim(s) == 1 and np.size(s) > 1 for s in X):
        X = [np.asarray(s)[:, None] for s in X]          # a list of univariate (time,) series
    seqs = X if isinstance(X, (list, tuple)) else [X] if np.ndim(X) == 2 else list(X) if np.ndim(X) == 3 else None
    if seqs is not None:
        for i, s in enumerate(seqs):
            try:
                a = np.asarray(s, dtype=np.float64)
            except (TypeError, ValueError):
                continue                      # check_sequences says what is wrong
            bad = np.flatnonzero(~np.isfinite(a).all(axis=-1)) if a.ndim == 2 else np.array([])
            if bad.size:
                where = f"{name}[{i}]" if len(seqs) > 1 or np.ndim(X) == 3 else name
                raise ValueError(f"{where} has NaN or infinite values at {bad.size} time step(s), first at "
                                 f"{bad[:8].tolist()}; a detector needs every point: impute the gaps first "
                                 f"(e.g. neurorec.data's make_detect_task_data(..., impute='linear')).")
    batch = check_sequences(X, name, n_features=n_features, dtype=np.float64, layout_warning=False)
    return batch, one_d


def _series_list(batch) -> list[np.ndarray]:
    return [batch.data[i, :n] for i, n in enumerate(batch.lengths)]


def _back(batch, one_d: bool, per_series: list[np.ndarray]):
    """Per-point outputs of each series in the caller's layout (without the channel axis)."""
    if one_d or batch.single:
        return per_series[0]
    if batch.ragged:
        return per_series
    return np.stack(per_series)


def _moving_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Causal mean of the last ``k`` points (fewer at the start)."""
    if k <= 1:
        return a
    c = np.cumsum(np.concatenate([[0.0], a]))
    idx = np.arange(1, a.size + 1)
    lo = np.maximum(idx - k, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def dominant_period(x, lo: int = 16, hi: int = 200) -> int:
    """The dominant period of a series ``(time,)`` or ``(time, channels)``: the lag of the highest
    local maximum of the autocorrelation of the channel mean between ``lo`` and
    ``min(hi, time / 3)`` lags (``time / 20`` clipped to ``[lo, hi]`` when there is none above
    0.1). The highest, not the first: a heartbeat's P and T waves make a small early peak, the
    beat the large one. The window that ``window="auto"`` gives :class:`HopfieldDetector` and
    :class:`AeonDetector`."""
    v = np.asarray(x, dtype=np.float64).reshape(len(x), -1).mean(1)
    v = v - v.mean()
    n = len(v)
    f = np.fft.rfft(v, 2 * n)
    ac = np.fft.irfft(f * np.conj(f))[:n]
    ac = ac / max(ac[0], 1e-300)
    top = min(hi, n // 3)
    peaks = [k for k in range(max(lo, 2), top) if ac[k] >= ac[k - 1] and ac[k] > ac[k + 1] and ac[k] > 0.1]
    return int(max(peaks, key=lambda k: ac[k])) if peaks else int(np.clip(n // 20, lo, hi))


def _warn_labels(y) -> None:
    """``fit(X, y)`` on a detector: labels are not used, but a labelled anomaly in normal data is
    worth a warning."""
    if y is None:
        return
    import warnings

    from neurorec.data.anomaly import AnomalyInTrainingWarning

    lab = [np.asarray(v).ravel() for v in (y if isinstance(y, (list, tuple)) else [y])]
    n = int(sum(np.count_nonzero(v) for v in lab))
    if n:
        warnings.warn(f"y labels {n} training point(s) as anomalous; a detector is fitted on normal data and does "
                      f"not use labels: drop the anomalous part from X.", AnomalyInTrainingWarning, stacklevel=3)


class _Detector(Model):
    """Shared parts: the threshold, ``predict``/``detect``, the calibration split, and ``fit``,
    which works on a copy so that a failed fit leaves a fitted detector as it was."""

    _supported_kinds = frozenset({"detect"})
    _threshold_spec = {"calibration": P.Real(0, 1, closed="neither"),
                       "threshold": P.Options("quantile", "max") | P.Real(),
                       "quantile": P.Real(0, 1, closed="right"), "min_gap": P.Int(0), "refit": P.Bool()}

    # a detector is judged by the detection metrics, not by score(X, y)
    score = available_if(lambda self: False)(Model.score)

    def _estimator_kind(self) -> None:
        return None

    def _is_fitted(self) -> bool:
        return hasattr(self, "threshold_")

    def fit(self, X, y=None):
        """Fit on the normal series ``X`` (``(time,)``, ``(time, channels)``, ``(batch, time, channels)``
        or a list of series) and calibrate the threshold. ``y`` is not used (a labelled anomaly
        in it warns). A failed fit raises and leaves the detector as it was."""
        self._validate_params()
        _warn_labels(y)
        work = copy.copy(self)
        for k in [k for k in vars(work) if k.endswith("_") and not k.startswith("_")]:
            delattr(work, k)
        work._fit(X)
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        for k, v in vars(work).items():
            if k.endswith("_") and not k.startswith("_"):
                setattr(self, k, v)
        return self

    def _split_calibration(self, s: np.ndarray, minimum: int, what: str) -> int:
        """The length of the part of training series ``s`` the model is fitted on."""
        n = s.shape[0]
        n_fit = n - int(round(self.calibration * n))
        if n_fit < minimum or n - n_fit < 1:
            raise ValueError(f"a training series of {n} points leaves {n_fit} to fit and {n - n_fit} to calibrate "
                             f"(calibration={self.calibration!r}); {what} needs at least {minimum} to fit: give a "
                             f"longer normal prefix or a smaller calibration fraction.")
        return n_fit

    def _set_threshold(self, cal_scores: np.ndarray) -> None:
        cal = np.asarray(cal_scores, dtype=np.float64)
        cal = cal[np.isfinite(cal)]
        if cal.size == 0:
            raise ValueError("no calibration score: the held-out part of the training series is too short.")
        if self.threshold == "quantile":
            self.threshold_ = float(np.quantile(cal, self.quantile))
        elif self.threshold == "max":
            self.threshold_ = float(cal.max())
        else:
            self.threshold_ = float(self.threshold)
        self.calibration_scores_ = np.quantile(cal, [0.5, 0.9, 0.99, 1.0])

    def predict(self, X):
        """0/1 per point: ``anomaly_score(X) > threshold_`` (the layout of ``anomaly_score``)."""
        scores = self.anomaly_score(X)
        if isinstance(scores, list):
            return [(s > self.threshold_).astype(np.int8) for s in scores]
        return (np.asarray(scores) > self.threshold_).astype(np.int8)

    def detect(self, X):
        """The detected ranges ``[(start, end), ...]`` (``end`` exclusive; ranges closer than
        ``min_gap`` merged) of one series, or a list of them for a batch."""
        flags = self.predict(X)
        if isinstance(flags, list) or np.ndim(flags) == 2:
            return [detected_ranges(f, self.min_gap) for f in flags]
        return detected_ranges(flags, self.min_gap)


# ------------------------------------------------------------------------------ forecasting models
def _model_class(ref):
    if isinstance(ref, type):
        return ref
    import neurorec.models as models

    cls = getattr(models, ref, None) if isinstance(ref, str) else None
    if cls is None and isinstance(ref, str) and "." in ref:
        cls = _resolve_class(ref)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, Model):
        raise ValueError(f"model must be a neurorec model, its class or its name in neurorec.models "
                         f"({', '.join(models.__all__)}); got {ref!r}.")
    return cls


class ForecastDetector(_Detector):
    r"""A neurorec forecaster as an anomaly detector: the score of a point is its prediction error.

    See the module docstring for the score. The model is fitted on the first ``1 - calibration``
    of each training series to predict ``horizon`` steps ahead (``mode="forecast"``) or to
    output its current input (``mode="reconstruct"``); its errors on the held-out rest set the
    error scale and the threshold.

    Parameters
    ----------
    model : str, class or Model, default "ESN"
        The forecaster: a name in :mod:`neurorec.models`, a model class, or an unfitted model
        (cloned at ``fit``; then ``model_params`` must be empty).
    model_params : dict, optional
        Hyperparameters of the model built from a name or class.
    mode : {"forecast", "reconstruct"}
    horizon : int, default 1
        Steps ahead (``mode="forecast"``).
    statistic : {"error", "surprise"}
        The robustly normalised absolute error, or the Gaussian negative log-likelihood of the
        error (module docstring).
    scale : {"running", "fixed"}
        With ``statistic="error"``: the held-out scale alone (``"fixed"``), or raised by the running
        median of the previous ``scale_window`` scores (``"running"``).
    scale_window : int
    smooth : int
        Causal moving mean of the score over this many points (1: none).
    train_window : int, optional
        Cut each training series into windows of this many steps (half-overlapping) for the
        model's ``fit``: gradient-trained models (LSTM, GRU) learn better from many short
        sequences than from one long one. Scoring always runs over whole series.
    calibration, threshold, quantile, min_gap, refit
        The held-out fraction, the threshold and the refit on the whole training series (module
        docstring); ranges closer than ``min_gap`` points are merged by :meth:`detect`.
    seed : int, optional
        Given to the model when it has a ``seed`` and ``model_params`` sets none.

    Attributes
    ----------
    model_ : Model
        The fitted forecaster.
    center_, scale_ : ndarray (channels,)
        Median and robust scale of the held-out errors.
    threshold_ : float
    """

    _param_spec = {
        "model": P.Any(), "model_params": P.NoneOK() | P.Any(), "mode": P.Options("forecast", "reconstruct"),
        "horizon": P.Int(1), "statistic": P.Options("error", "surprise"), "scale": P.Options("running", "fixed"),
        "scale_window": P.Int(2), "smooth": P.Int(1), "train_window": P.NoneOK() | P.Int(4),
        **_Detector._threshold_spec, "seed": P.Seed(),
    }

    def __init__(self, model="ESN", model_params=None, mode: str = "forecast", horizon: int = 1,
                 statistic: str = "error", scale: str = "running", scale_window: int = 250, smooth: int = 1,
                 train_window: int | None = None, calibration: float = 0.25, threshold="quantile",
                 quantile: float = 0.995, min_gap: int = 0, refit: bool = True, seed: int | None = 0):
        self.model = model
        self.model_params = model_params
        self.mode = mode
        self.horizon = horizon
        self.statistic = statistic
        self.scale = scale
        self.scale_window = scale_window
        self.smooth = smooth
        self.train_window = train_window
        self.calibration = calibration
        self.threshold = threshold
        self.quantile = quantile
        self.min_gap = min_gap
        self.refit = refit
        self.seed = seed

    def _validate_params(self) -> None:
        if isinstance(self.model, dict) and "class" in self.model:      # read back from a saved file
            self.model_params = self.model.get("params") or None
            self.model = self.model["class"]
        super()._validate_params()
        if isinstance(self.model, Model):
            if self.model_params:
                raise ValueError("model is a model instance, so model_params must be empty (set them on the "
                                 "instance); got both.")
        else:
            _model_class(self.model)
            if self.model_params is not None and not isinstance(self.model_params, dict):
                raise ValueError(f"model_params must be a dict of the model's hyperparameters, got "
                                 f"{type(self.model_params).__name__}.")

    def _build(self) -> Model:
        if isinstance(self.model, Model):
            est = self.model.clone()
        else:
            est = _model_class(self.model)(**(self.model_params or {}))
        own = self.model.get_params(deep=False) if isinstance(self.model, Model) else (self.model_params or {})
        params = est.get_params(deep=False)
        if self.seed is not None and "seed" in params and own.get("seed") is None:
            est.set_params(seed=int(self.seed))
        if self.mode == "reconstruct":
            # a readout that sees the current input learns the identity: nothing left to detect
            name = type(est).__name__
            if name in ("NVAR", "LinearAR"):
                raise ValueError(f"mode='reconstruct' needs a model without a direct path from the input to the "
                                 f"output; {name}'s features hold the current input (use mode='forecast').")
            if "input_to_readout" in params:
                if own.get("input_to_readout"):
                    raise ValueError("mode='reconstruct' with input_to_readout=True: the readout would copy its "
                                     "input; leave input_to_readout unset (it is turned off) or False.")
                est.set_params(input_to_readout=False)
        return est

    @property
    def _lag(self) -> int:
        return self.horizon if self.mode == "forecast" else 0

    def _pairs(self, s: np.ndarray):
        h = self._lag
        return (s[:-h], s[h:]) if h else (s, s)

    def _windows(self, pairs: list) -> tuple:
        if self.train_window is None:
            return [p[0] for p in pairs], [p[1] for p in pairs]
        w = int(self.train_window)
        xs, ys = [], []
        for x, y in pairs:
            if len(x) <= w:
                xs.append(x)
                ys.append(y)
                continue
            starts = list(range(0, len(x) - w + 1, max(1, w // 2)))
            if starts[-1] != len(x) - w:
                starts.append(len(x) - w)
            xs += [x[a:a + w] for a in starts]
            ys += [y[a:a + w] for a in starts]
        return xs, ys

    @staticmethod
    def _as_fit_input(seqs: list):
        if len({len(s) for s in seqs}) == 1:
            return np.stack(seqs).astype(np.float32)
        return [s.astype(np.float32) for s in seqs]

    def _residuals(self, s: np.ndarray) -> np.ndarray:
        """Errors (time, channels) of the fitted model over series ``s``; NaN where no prediction."""
        h = self._lag
        x, y = self._pairs(s)
        pred = np.asarray(self.model_.predict(x[None].astype(np.float32)), dtype=np.float64).reshape(y.shape)
        e = np.full(s.shape, np.nan)
        e[h:] = y - pred
        if not np.isfinite(e[h:]).all():
            bad = np.flatnonzero(~np.isfinite(e[h:]).all(axis=1))[:5] + h
            raise FloatingPointError(f"the {type(self.model_).__name__} predicted NaN or infinite values at steps "
                                     f"{bad.tolist()}: the model diverged on this series; it cannot be scored.")
        # the model's start-up transient (its washout) is not evidence of an anomaly
        e[h:h + int(getattr(self.model_, "washout", 0) or 0)] = np.nan
        return e

    def _raw_scores(self, e: np.ndarray) -> np.ndarray:
        """Per-point scores from the errors, before the running scale and smoothing: NaN where
        there is no prediction (and only there); a score beyond float64's range is its largest
        number, still the highest score."""
        missing = ~np.isfinite(e).all(axis=1)
        d = np.nan_to_num(e - self.center_)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.statistic == "surprise":
                sol = np.linalg.solve(self.cov_, d.T).T
                raw = 0.5 * np.sum(d * sol, axis=1) + 0.5 * self.logdet_
            else:
                raw = np.mean(np.abs(d) / self.scale_, axis=1)
        raw = np.nan_to_num(raw, nan=np.finfo(np.float64).max, posinf=np.finfo(np.float64).max)
        raw[missing] = np.nan
        return raw

    def _finish(self, raw: np.ndarray) -> np.ndarray:
        """Running scale, smoothing, and a finite score for the points without a prediction."""
        a = raw.copy()
        missing = ~np.isfinite(a)
        if self.statistic == "error" and self.scale == "running":
            import pandas as pd

            prev = pd.Series(a).shift(1).rolling(int(self.scale_window), min_periods=1).median().to_numpy()
            ref = float(self.typical_)
            denom = np.where(np.isfinite(prev), np.maximum(prev, ref), ref)
            a = a * (ref / denom)
        floor = float(self.floor_)
        a[missing] = floor
        return _moving_mean(a, int(self.smooth))

    def _fit(self, X) -> None:
        batch, _ = _check_series(X, "X", None)
        series = _series_list(batch)
        cuts = [self._split_calibration(s, self._lag + 8, type(self).__name__) for s in series]
        self.model_ = self._fitted_model([s[:n] for s, n in zip(series, cuts, strict=True)])
        self.n_features_in_ = int(batch.data.shape[2])
        errors = [self._residuals(s) for s in series]
        e = np.concatenate([err[n:] for err, n in zip(errors, cuts, strict=True)])
        e = e[np.isfinite(e).all(axis=1)]
        if len(e) < 2:
            raise ValueError("the held-out part of the training series has fewer than 2 predicted points; give a "
                             "longer normal prefix or a larger calibration fraction.")
        self.center_ = np.median(e, axis=0)
        self.scale_ = np.maximum(_MAD * np.median(np.abs(e - self.center_), axis=0), 1e-12 * (1 + np.abs(e).max()))
        if self.statistic == "surprise":
            F = e.shape[1]
            cov = np.atleast_2d(np.cov(e, rowvar=False, ddof=0))
            cov += np.eye(F) * (1e-12 * (1.0 + np.trace(cov) / F))     # a normal-range floor, never subnormal
            self.cov_ = cov
            self.logdet_ = float(np.linalg.slogdet(2 * np.pi * cov)[1])
        raw = [self._raw_scores(err) for err in errors]
        held_raw = np.concatenate([r[n:] for r, n in zip(raw, cuts, strict=True)])
        held_raw = held_raw[np.isfinite(held_raw)]
        self.typical_ = float(max(np.median(held_raw), 1e-12))
        self.floor_ = float(held_raw.min())
        scores = [self._finish(r) for r in raw]
        self._set_threshold(np.concatenate([sc[n:] for sc, n in zip(scores, cuts, strict=True)]))
        if self.refit:        # the scale and threshold stay those of the held-out errors
            self.model_ = self._fitted_model(series)

    def _fitted_model(self, parts: list) -> Model:
        """A new model fitted to forecast (or reconstruct) the series ``parts``."""
        est = self._build()
        xs, ys = self._windows([self._pairs(s) for s in parts])
        est.fit(self._as_fit_input(xs), self._as_fit_input(ys))
        return est

    def anomaly_score(self, X):
        """One score per point (higher: more anomalous); the first ``horizon`` points of each
        series, which have no prediction, and the model's ``washout`` after them (its start-up
        transient) get the lowest held-out score."""
        self._check_fitted("anomaly_score")
        batch, one_d = _check_series(X, "X", self.n_features_in_)
        out = []
        for s in _series_list(batch):
            if len(s) <= self._lag:
                raise ValueError(f"a series of {len(s)} points is too short to forecast {self._lag} step(s) ahead.")
            out.append(self._finish(self._raw_scores(self._residuals(s))))
        return _back(batch, one_d, out)

    # -- the fitted model in the file ------------------------------------------------------
    @property
    def n_parameters_(self) -> dict:
        """The forecaster's weights (``trained`` and ``total``)."""
        self._check_fitted("n_parameters_")
        return self.model_.n_parameters_

    def _learned(self) -> dict:
        from neurorec.compose import export_learned

        learned = {k: v for k, v in super()._learned().items() if k != "model_"}
        if "model_" in vars(self):
            arrays: dict = {}
            learned["model_state_"] = export_learned(self.model_, "model", arrays)
            if arrays:
                learned["model_arrays_"] = arrays
        return learned

    def _restore(self) -> None:
        if "model_" in vars(self) or "model_state_" not in vars(self):
            return
        from neurorec.compose import import_learned

        est = self._build()
        self.model_ = import_learned(est, "model", vars(self).pop("model_arrays_", {}), vars(self).pop("model_state_"))

    def _check_fitted(self, method: str = "predict") -> None:
        self._restore()
        super()._check_fitted(method)

    def save(self, path):
        """Write the fitted detector and its model to one ``.safetensors`` file."""
        self._check_fitted("save")
        proxy = copy.copy(self)
        if isinstance(self.model, Model):
            proxy.model = {"class": _qualname(type(self.model)), "params": self.model.get_params(deep=False)}
        elif isinstance(self.model, type):
            proxy.model = _qualname(self.model)
        return Model.save(proxy, path)


class SpikingDetector(ForecastDetector):
    """:class:`ForecastDetector` with a liquid state machine (:class:`~neurorec.models.LSM`) and
    the surprise of its readout (``statistic="surprise"``): the negative log-likelihood of the
    readout's one-step error under the Gaussian of its held-out errors. ``model_params`` are the
    LSM's (``units``, ``steps_per_input``, ...)."""

    def __init__(self, model="LSM", model_params=None, mode: str = "forecast", horizon: int = 1,
                 statistic: str = "surprise", scale: str = "fixed", scale_window: int = 250, smooth: int = 1,
                 train_window: int | None = None, calibration: float = 0.25, threshold="quantile",
                 quantile: float = 0.995, min_gap: int = 0, refit: bool = True, seed: int | None = 0):
        super().__init__(model=model, model_params=model_params, mode=mode, horizon=horizon, statistic=statistic,
                         scale=scale, scale_window=scale_window, smooth=smooth, train_window=train_window,
                         calibration=calibration, threshold=threshold, quantile=quantile, min_gap=min_gap,
                         refit=refit, seed=seed)


# ------------------------------------------------------------------------------ Hopfield memory
def _windows_of(s: np.ndarray, w: int, stride: int = 1) -> np.ndarray:
    """Sliding windows (n, w * channels) of a series (time, channels)."""
    v = np.lib.stride_tricks.sliding_window_view(s, (w, s.shape[1]))[::stride, 0]
    return v.reshape(v.shape[0], -1)


class HopfieldDetector(_Detector):
    r"""Distance of each window to the normal windows a modern Hopfield network stores.

    ``fit`` stores the sliding windows (``window`` points, every ``stride`` points; at most
    ``max_patterns``, evenly spaced) of the first ``1 - calibration`` of each training series;
    ``anomaly_score`` retrieves every window of a series (stride 1) with one update of
    :class:`~neurorec.models.ModernHopfield` and scores it by
    :math:`\|\xi - \hat\xi\| / \sqrt{\text{window} \cdot \text{channels}}` (the root mean square
    distance per value to the retrieved pattern; windows z-normalised first with
    ``normalize=True``, the default); a point's score is the mean over the windows
    that cover it. With ``beta="auto"`` the inverse temperature is
    :math:`20 / \mathrm{median}_\mu\, d_\mu^2`, :math:`d_\mu` the distance of stored window
    :math:`\mu` to its nearest other stored window (on at most 500 of them), so the retrieval is
    close to the nearest stored window; a smaller ``beta`` blends more of them.

    What a window is compared with besides the training windows is set by ``memory``:

    ``"series"`` (the default)
        The scored series' own windows too, those at least ``exclusion`` window lengths away,
        before or after: the self-join of the matrix profile (Yeh et al. 2016), done by associative
        recall. A slowly drifting normal signal is matched by its own neighbouring cycles, on both
        sides, so drift raises no score. The price is the matrix profile's: an anomaly that lasts
        longer than ``2 * exclusion`` windows, or one that occurs twice, matches itself and is
        seen at its edges only. Windows are retrieved in blocks of a quarter window, each against
        the series windows outside the block's exclusion zone (so a window's nearest allowed
        neighbour is between ``exclusion`` and ``exclusion + 1/4`` window lengths away), at most
        ``max_patterns`` of them, the nearest in time.
    ``"past"``
        The memory learns while it scores: each window of the scored series whose distance is at
        most ``admit_`` is stored too, and serves the windows that start at least one window length
        after it. An anomalous window is never stored, so an anomaly of any length stays far from
        the memory, but a drift faster than the admission bound is not followed. ``admit_`` is the
        ``admit_quantile`` quantile of the distances of the held-out calibration windows to the
        memory of the rest; the grown memory keeps the most recent ``max_patterns`` windows it
        stored. Scoring proceeds one window length at a time (the memory is extended between
        blocks).
    ``"train"``
        The training windows only.

    ``memory="series"`` with ``exclusion=1.5`` was chosen with ``experiments/anomaly_tuning.py`` on
    tuning seeds of the synthetic benchmark (:mod:`neurorec.data.anomaly`), never on the seeds or
    the series that ``experiments/anomaly.py`` reports: UCR-rule hits and range PR-AUC 1.000 / 0.931
    on seeds 10-19, 0.983 / 0.907 on seeds 30-39 (every series), 0.975 / 0.903 on the multichannel
    level shift of seeds 100-139, against ``memory="past"``'s 1.000 / 0.928, 0.983 / 0.894 and
    0.825 / 0.760 (exclusions of 1, 2 and 3 windows were each worse on at least two of the three).

    Parameters
    ----------
    window : int or "auto"
        Window length in points (a cycle or a beat of the signal is a good choice); ``"auto"``:
        the dominant period of the first training series (:func:`dominant_period`), in ``window_``.
    stride : int
        Step between stored windows (training windows, and the series' windows of ``memory``).
    beta : "auto" or float
    max_patterns : int
        Most training windows stored, and most windows of the scored series added to them.
    normalize : bool
        z-normalise each window (its mean removed, divided by its standard deviation; all channels
        of a window together), as the matrix profile does for one channel: the memory compares
        shapes, so a slow drift of level or amplitude is not an anomaly, and a level shift is seen
        at its edges. The default: on tuning seeds
        10-19 of the synthetic benchmark (with ``memory="past"``) it gave UCR-rule hits 1.000 and
        range PR-AUC 0.928, against 0.967 and 0.901 on raw windows; normalising each channel
        on its own (the multidimensional matrix profile's way) was worse there on the
        multichannel series (PR-AUC 0.924 against 0.962).
    memory : {"series", "past", "train"}
        What the windows are compared with besides the training windows (see above).
    exclusion : float
        ``memory="series"``: the exclusion zone, in window lengths (at least 1: a window never
        matches itself or an overlapping neighbour).
    admit_quantile : float in (0, 1]
        ``memory="past"``: quantile of the calibration windows' distances below which a window is
        stored.
    calibration, threshold, quantile, min_gap, refit
        As for :class:`ForecastDetector`.
    """

    _param_spec = {"window": P.Options("auto") | P.Int(2), "stride": P.Int(1),
                   "beta": P.Options("auto") | P.Real(0, closed="neither"), "max_patterns": P.Int(2),
                   "normalize": P.Bool(), "memory": P.Options("series", "past", "train"),
                   "exclusion": P.Real(1), "admit_quantile": P.Real(0, 1, closed="right"),
                   **_Detector._threshold_spec}

    def __init__(self, window: int = 50, stride: int = 1, beta="auto", max_patterns: int = 2000,
                 normalize: bool = True, memory: str = "series", exclusion: float = 1.5,
                 admit_quantile: float = 0.99,
                 calibration: float = 0.25, threshold="quantile", quantile: float = 0.995,
                 min_gap: int = 0, refit: bool = True):
        self.window = window
        self.stride = stride
        self.beta = beta
        self.max_patterns = max_patterns
        self.normalize = normalize
        self.memory = memory
        self.exclusion = exclusion
        self.admit_quantile = admit_quantile
        self.calibration = calibration
        self.threshold = threshold
        self.quantile = quantile
        self.min_gap = min_gap
        self.refit = refit

    def _prep(self, W: np.ndarray) -> np.ndarray:
        if not self.normalize:
            return W
        mu = W.mean(1, keepdims=True)
        sd = W.std(1, keepdims=True)
        return (W - mu) / np.where(sd > 1e-12, sd, 1.0)

    def _check_length(self, s: np.ndarray, name: str) -> None:
        w = getattr(self, "window_", self.window)
        if w != "auto" and len(s) < w:
            raise ValueError(f"{name} has {len(s)} points, fewer than window={w}: the window is longer "
                             f"than the series.")

    def _fit(self, X) -> None:
        batch, _ = _check_series(X, "X", None)
        series = _series_list(batch)
        self.window_ = dominant_period(series[0]) if self.window == "auto" else int(self.window)
        cuts = []
        for i, s in enumerate(series):
            self._check_length(s, f"X[{i}]")
            cuts.append(self._split_calibration(s, self.window_, f"window={self.window_}"))
        P_ = self._patterns([s[:n] for s, n in zip(series, cuts, strict=True)])
        if self.beta == "auto":
            sub = P_[np.linspace(0, len(P_) - 1, min(len(P_), 500)).round().astype(int)]
            sq = (sub ** 2).sum(1)
            d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (sub @ sub.T), 0.0)
            np.fill_diagonal(d2, np.inf)
            nn = np.min(d2, axis=1)
            med = float(np.median(nn[np.isfinite(nn)])) if np.isfinite(nn).any() else 1.0
            self.beta_ = 20.0 / max(med, 1e-12)
        else:
            self.beta_ = float(self.beta)
        self._store(P_)
        self.n_features_in_ = int(batch.data.shape[2])
        if self.memory == "past":       # the admission bound: held-out windows against the fixed memory
            held = np.concatenate([self._window_dist(s, "train")[n:] for s, n in zip(series, cuts, strict=True)])
            self.admit_ = float(np.quantile(held, self.admit_quantile))
        cal = [self._score_series(s)[n:] for s, n in zip(series, cuts, strict=True)]
        self._set_threshold(np.concatenate(cal))
        if self.refit:        # the threshold stays that of the held-out windows
            self._store(self._patterns(series))

    def _patterns(self, parts: list) -> np.ndarray:
        """The stored windows of the series ``parts`` (at most ``max_patterns``, evenly spaced)."""
        P_ = np.concatenate([_windows_of(s, self.window_, self.stride) for s in parts])
        if len(P_) > self.max_patterns:
            P_ = P_[np.linspace(0, len(P_) - 1, self.max_patterns).round().astype(int)]
        return self._prep(P_)

    def _store(self, P_: np.ndarray) -> None:
        from neurorec.models import ModernHopfield

        aug = np.concatenate([P_, -0.5 * (P_ ** 2).sum(1, keepdims=True)], axis=1)
        self.memory_ = ModernHopfield(beta=self.beta_, max_steps=1, dtype="float64").fit(aug)

    def _recall_dist(self, memory, W: np.ndarray) -> np.ndarray:
        """Root mean square distance of each window ``W`` to its retrieval from ``memory``."""
        dist = np.empty(len(W))
        for a in range(0, len(W), 1024):                    # bounded memory: 1024 cues at a time
            q = W[a:a + 1024]
            got, _ = memory.recall(np.concatenate([q, np.ones((len(q), 1))], axis=1))
            dist[a:a + 1024] = np.sqrt(np.mean((got[:, :-1] - q) ** 2, axis=1))
        return dist

    def _window_dist(self, s: np.ndarray, memory: str) -> np.ndarray:
        """The distance of every window of ``s`` (stride 1) to the memory: the training windows,
        and with ``memory="series"`` the windows of ``s`` outside each block's exclusion zone, with
        ``memory="past"`` the admitted windows that end before each block of windows starts."""
        from neurorec.models import ModernHopfield

        W = self._prep(_windows_of(s, self.window_))
        if memory == "train":
            return self._recall_dist(self.memory_, W)
        w = self.window_
        stored = self.memory_.patterns_
        aug = np.concatenate([W, -0.5 * (W ** 2).sum(1, keepdims=True)], axis=1)
        if memory == "series":
            return self._series_dist(W, aug, stored)
        dist = np.empty(len(W))
        admitted: list[int] = []
        for b in range(0, len(W), w):
            if admitted:
                recent = aug[admitted[-self.max_patterns:]]
                memory = ModernHopfield(beta=self.beta_, max_steps=1, dtype="float64").fit(
                    np.concatenate([stored, recent]))
            else:
                memory = self.memory_
            dist[b:b + w] = self._recall_dist(memory, W[b:b + w])
            # the windows ending before block b + w starts (start <= b) become memory if normal
            cand = np.arange(max(0, b - w + 1), min(b + 1, len(W)))
            cand = cand[(cand % self.stride == 0) & (dist[cand] <= self.admit_)]
            admitted.extend(cand.tolist())
        return dist

    def _series_blocks(self, n: int):
        """``(start, stop, memory indices)`` of each block of the ``n`` windows of a series: the
        windows at least ``exclusion`` window lengths from every window of the block (every
        ``stride``-th one; the ``max_patterns`` nearest in time)."""
        w = self.window_
        B = max(1, w // 4)
        E = int(np.ceil(self.exclusion * w))
        idx = np.arange(0, n, self.stride)
        for b in range(0, n, B):
            e = min(b + B, n)
            cand = idx[(idx <= b - E) | (idx >= e - 1 + E)]
            if len(cand) > self.max_patterns:
                centre = 0.5 * (b + e - 1)
                cand = np.sort(cand[np.argsort(np.abs(cand - centre), kind="stable")[:self.max_patterns]])
            yield b, e, cand

    def _series_dist(self, W: np.ndarray, aug: np.ndarray, stored: np.ndarray) -> np.ndarray:
        from neurorec.models import ModernHopfield

        dist = np.empty(len(W))
        for b, e, cand in self._series_blocks(len(W)):
            memory = ModernHopfield(beta=self.beta_, max_steps=1, dtype="float64").fit(
                np.concatenate([stored, aug[cand]])) if len(cand) else self.memory_
            dist[b:e] = self._recall_dist(memory, W[b:e])
        return dist

    def _score_series(self, s: np.ndarray) -> np.ndarray:
        dist = self._window_dist(s, self.memory)
        # a point's score: the mean over the windows that cover it
        c = np.concatenate([[0.0], np.cumsum(dist)])
        t = np.arange(len(s))
        lo = np.clip(t - self.window_ + 1, 0, len(dist))
        hi = np.clip(t + 1, 0, len(dist))
        return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)

    def anomaly_score(self, X):
        """One score per point: the mean distance of the windows covering it to the memory."""
        self._check_fitted("anomaly_score")
        batch, one_d = _check_series(X, "X", self.n_features_in_)
        out = []
        for i, s in enumerate(_series_list(batch)):
            self._check_length(s, "X" if batch.data.shape[0] == 1 else f"X[{i}]")
            out.append(self._score_series(s))
        return _back(batch, one_d, out)

    @property
    def n_parameters_(self) -> dict:
        """The stored patterns' values."""
        self._check_fitted("n_parameters_")
        n = int(self.memory_.patterns_.size)
        return {"total": n, "trained": n}

    def _learned(self) -> dict:
        learned = {k: v for k, v in super()._learned().items() if k != "memory_"}
        if "memory_" in vars(self):
            learned["patterns_"] = self.memory_.patterns_
        return learned

    def _check_fitted(self, method: str = "predict") -> None:
        if "memory_" not in vars(self) and "patterns_" in vars(self):
            from neurorec.models import ModernHopfield

            mem = ModernHopfield(beta=self.beta_, max_steps=1, dtype="float64")
            mem.patterns_ = vars(self).pop("patterns_")
            mem.n_features_in_ = mem.patterns_.shape[1]
            self.memory_ = mem
        super()._check_fitted(method)


# ------------------------------------------------------------------------------ aeon's detectors
def _aeon_class(name: str):
    import aeon.anomaly_detection.series as series
    from aeon.anomaly_detection.series import distance_based, distribution_based, outlier_detection

    for mod in (distance_based, distribution_based, outlier_detection, series):
        cls = getattr(mod, name, None)
        if isinstance(cls, type):
            return cls
    names = sorted({n for m in (distance_based, distribution_based, outlier_detection) for n in m.__all__})
    raise ValueError(f"detector must be the name of one of aeon's series anomaly detectors ({', '.join(names)}); "
                     f"got {name!r}.")


class AeonDetector(_Detector):
    """One of aeon's series anomaly detectors behind neurorec's detector contract.

    Parameters
    ----------
    detector : str
        The class name in ``aeon.anomaly_detection.series`` (``"STOMP"``, ``"KMeansAD"``,
        ``"IsolationForest"``, ``"LOF"``, ``"MERLIN"``, ``"DWT_MLEAD"``, ...).
    params : dict, optional
        Its hyperparameters (``window_size``, ...), passed through; ``window_size="auto"`` (and
        MERLIN's ``min_length``/``max_length``) is set at ``fit`` from the dominant period of the
        first training series (:func:`dominant_period`; half and twice it for MERLIN), in
        ``params_``.
    learning : {"auto", "semi_supervised", "unsupervised"}
        ``"semi_supervised"``: fitted on the training series (the part before each calibration
        tail; several series are joined end to end), then scores the
        series given to ``anomaly_score``; ``"unsupervised"``: ``fit_predict`` on each scored
        series alone, the training series unused; ``"auto"``: semi-supervised when aeon's class
        supports it (its ``learning_type:semi_supervised`` tag).

    Notes
    -----
    ``seed`` is passed as ``random_state`` to the randomised detectors (KMeansAD, IsolationForest)
    unless ``params`` sets one.

    A detector that handles one channel only (aeon's ``capability:multivariate`` tag) scores each
    channel of a multichannel series and averages the scores. aeon's extra dependencies (stumpy
    for the matrix-profile detectors, pyod for IsolationForest/LOF/COPOD/CBLOF) come with
    neurorec's ``anomaly`` extra.
    """

    _param_spec = {"detector": P.Str(), "params": P.NoneOK() | P.Any(),
                   "learning": P.Options("auto", "semi_supervised", "unsupervised"), **_Detector._threshold_spec,
                   "seed": P.Seed()}

    def __init__(self, detector: str = "KMeansAD", params=None, learning: str = "auto", calibration: float = 0.25,
                 threshold="quantile", quantile: float = 0.995, min_gap: int = 0, refit: bool = True,
                 seed: int | None = 0):
        self.detector = detector
        self.params = params
        self.learning = learning
        self.calibration = calibration
        self.threshold = threshold
        self.quantile = quantile
        self.min_gap = min_gap
        self.refit = refit
        self.seed = seed

    def _aeon_params(self, resolved: bool = True) -> dict:
        """The aeon class's hyperparameters: ``params`` as resolved at ``fit`` (``params_``, the
        "auto" windows replaced), with ``random_state=seed`` for a randomised detector that
        ``params`` leaves unseeded. ``resolved=False``: ``params`` with placeholders for "auto"."""
        import inspect

        if resolved and "params_" in vars(self):
            kw = dict(self.params_)
        else:
            kw = {k: (10 if v == "auto" else v) for k, v in (self.params or {}).items()}
        if self.seed is not None and "random_state" not in kw and \
                "random_state" in inspect.signature(_aeon_class(self.detector).__init__).parameters:
            kw["random_state"] = int(self.seed)
        return kw

    def _resolve(self, series: np.ndarray) -> dict:
        """``params`` with every "auto" window set from the dominant period ``p`` of ``series``:
        ``window_size`` p, ``min_length`` p / 2, ``max_length`` 2 p (MERLIN's range)."""
        out = dict(self.params or {})
        auto = [k for k, v in out.items() if v == "auto"]
        if auto:
            p = dominant_period(series)
            rules = {"window_size": p, "min_length": max(8, p // 2), "max_length": 2 * p}
            for k in auto:
                if k not in rules:
                    raise ValueError(f"params[{k!r}]='auto': only {sorted(rules)} can be 'auto'.")
                out[k] = int(rules[k])
        return out

    def _check_windows(self, s: np.ndarray, name: str) -> None:
        params = self._aeon_params()
        for key in ("window_size", "max_length"):
            w = params.get(key)
            if isinstance(w, (int, np.integer)) and w >= len(s):
                raise ValueError(f"{name} has {len(s)} points, not more than {self.detector}'s {key}={int(w)}: the "
                                 f"window is longer than the series.")

    def _validate_params(self) -> None:
        super()._validate_params()
        cls = _aeon_class(self.detector)
        if self.params is not None and not isinstance(self.params, dict):
            raise ValueError(f"params must be a dict of {self.detector}'s hyperparameters, got "
                             f"{type(self.params).__name__}.")
        try:
            cls(**self._aeon_params(resolved=False))
        except TypeError as exc:
            raise ValueError(f"aeon's {self.detector} refused params={self.params!r}: {exc}") from None

    def _semi(self) -> bool:
        if self.learning != "auto":
            return self.learning == "semi_supervised"
        tags = _aeon_class(self.detector).get_class_tags()
        return bool(tags.get("learning_type:semi_supervised", False)) and not tags.get("fit_is_empty", True)

    def _score_with(self, train: np.ndarray | None, s: np.ndarray) -> np.ndarray:
        import warnings

        cls = _aeon_class(self.detector)
        multi = bool(cls.get_class_tags().get("capability:multivariate", False))
        chans = [s] if (multi or s.shape[1] == 1) else [s[:, [f]] for f in range(s.shape[1])]
        trains = [train] if (multi or s.shape[1] == 1 or train is None) else [train[:, [f]] for f in range(s.shape[1])]
        out = []
        for k, x in enumerate(chans):
            det = cls(**self._aeon_params())
            xx = x[:, 0] if x.shape[1] == 1 else x
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if train is not None:
                    tr = trains[min(k, len(trains) - 1)]
                    det.fit(tr[:, 0] if tr.shape[1] == 1 else tr, axis=0)
                    sc = det.predict(xx, axis=0)
                else:
                    sc = det.fit_predict(xx, axis=0)
            out.append(np.asarray(sc, dtype=np.float64).reshape(-1))
        score = np.mean(out, axis=0)
        if score.shape[0] != s.shape[0] or not np.isfinite(score).all():
            raise FloatingPointError(f"aeon's {self.detector} returned {score.shape[0]} scores, "
                                     f"{int((~np.isfinite(score)).sum())} of them not finite, for a series of "
                                     f"{s.shape[0]} points.")
        return score

    def _fit(self, X) -> None:
        batch, _ = _check_series(X, "X", None)
        series = _series_list(batch)
        self.params_ = self._resolve(series[0])
        cuts = [self._split_calibration(s, 2, self.detector) for s in series]
        for i, (s, n) in enumerate(zip(series, cuts, strict=True)):
            self._check_windows(s[:n], f"the fitted part of X[{i}]")
        self.n_features_in_ = int(batch.data.shape[2])
        # semi-supervised: calibrated by a detector fitted on the heads (the calibration tails held out)
        self.train_ = np.concatenate([s[:n] for s, n in zip(series, cuts, strict=True)])
        head = self.train_ if self._semi() else None
        cal = [self._score_with(head, s)[n:] for s, n in zip(series, cuts, strict=True)]
        self._set_threshold(np.concatenate(cal))
        if self.refit:        # the threshold stays that of the held-out tails
            self.train_ = np.concatenate(series)

    def anomaly_score(self, X):
        """aeon's scores of each series (higher: more anomalous)."""
        self._check_fitted("anomaly_score")
        batch, one_d = _check_series(X, "X", self.n_features_in_)
        train = self.train_ if self._semi() else None
        series = _series_list(batch)
        for i, s in enumerate(series):
            self._check_windows(s, "X" if len(series) == 1 else f"X[{i}]")
        return _back(batch, one_d, [self._score_with(train, s) for s in series])

    @property
    def n_parameters_(self) -> dict:
        return {"total": 0, "trained": 0}
