"""Anomaly detectors (neurorec.anomaly): scores against their definitions and reference engines
(scipy's Gaussian log-density, brute-force nearest neighbours, aeon run directly), detection of
injected anomalies, calibration of the threshold, bad input, save/load, and compare on a detect task."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurorec.anomaly import AeonDetector, ForecastDetector, HopfieldDetector, SpikingDetector, detected_ranges
from neurorec.metrics import range_pr_auc, roc_auc, ucr_hit
from neurorec.testing import check_model

ESN_PARAMS = {"units": 100, "spectral_radius": 0.9, "leak_rate": 0.5, "ridge": 1e-6, "washout": 20}


def _series(n=3000, seed=0, channels=1, noise=0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    phase = np.arange(channels)[None, :] * 0.7
    return np.sin(2 * np.pi * t / 40 + phase) + 0.5 * np.sin(2 * np.pi * t / 13 + phase) \
        + noise * rng.standard_normal((n, channels))


def test_detected_ranges_and_merging():
    f = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1])
    assert detected_ranges(f) == [(1, 3), (5, 6), (9, 11)]
    assert detected_ranges(f, min_gap=3) == [(1, 6), (9, 11)]
    assert detected_ranges(np.zeros(5)) == []


@pytest.mark.parametrize("model", [
    ForecastDetector("ESN", ESN_PARAMS),
    ForecastDetector("ESN", ESN_PARAMS, statistic="surprise"),
    ForecastDetector("NVAR", {"delay": 4, "ridge": 1e-6}),
    HopfieldDetector(window=20),
    AeonDetector("KMeansAD", {"window_size": 20, "random_state": 0}),
], ids=["esn", "esn-surprise", "nvar", "hopfield", "aeon-kmeans"])
def test_check_model(model):
    check_model(model)


def test_spiking_detector_check_model():
    check_model(SpikingDetector(model_params={"units": 60, "backend": "torch"}))


@pytest.mark.parametrize("make, amplitude", [
    (lambda: ForecastDetector("ESN", ESN_PARAMS), 0.9),
    (lambda: ForecastDetector("NVAR", {"delay": 6, "ridge": 1e-6}), 0.9),
    (lambda: HopfieldDetector(window=40), 0.9),
    # the liquid's one-step forecasts are noisier than the ESN's: a larger bump, a smoothed score
    (lambda: SpikingDetector(model_params={"units": 100, "washout": 20, "backend": "torch"}, smooth=5), 1.5),
], ids=["esn", "nvar", "hopfield", "lsm"])
def test_an_injected_anomaly_is_the_top_score(make, amplitude):
    """A short bump on one cycle (the signal spans about 3; the bump 0.9 or 1.5) after a normal prefix."""
    x = _series(3000, seed=1)
    x[2200:2212, 0] += amplitude * np.hanning(12)
    labels = np.zeros(3000, dtype=int)
    labels[2200:2212] = 1
    det = make().fit(x[:1500])
    s = det.anomaly_score(x)
    assert s.shape == (3000,) and np.isfinite(s).all()
    assert ucr_hit(labels[1500:], s[1500:]) == 1.0
    assert range_pr_auc(labels[1500:], s[1500:]) > 0.05         # chance: about 0.01
    if isinstance(det, HopfieldDetector):     # a window score covers the whole bump; a forecast error its edges
        assert roc_auc(labels[1500:], s[1500:]) > 0.9
    ranges = det.detect(x[1500:]) if not isinstance(det, HopfieldDetector) else det.detect(x)
    assert ranges, "the anomaly crosses the threshold"


def test_threshold_quantile_is_calibrated_on_new_normal_data():
    """The threshold is the 0.99 quantile of held-out scores: on a fresh normal series of the same
    process, about 1 % of the points exceed it."""
    det = ForecastDetector("ESN", ESN_PARAMS, quantile=0.99, scale="fixed", refit=False).fit(_series(4000, seed=2))
    fresh = _series(6000, seed=3)
    rate = float(np.mean(det.predict(fresh)[200:]))
    assert 0.001 < rate < 0.04
    assert det.threshold_ == pytest.approx(np.quantile(
        det.anomaly_score(_series(4000, seed=2))[3000:], 0.99), rel=1e-9)


def test_error_statistic_is_the_robustly_scaled_residual():
    x = _series(2000, seed=4, channels=2)
    det = ForecastDetector("ESN", ESN_PARAMS, scale="fixed", refit=False).fit(x[:1200])
    e = det._residuals(x)
    held = det._residuals(x[:1200])[900:]
    med = np.median(held, 0)
    mad = 1.4826 * np.median(np.abs(held - med), 0)
    np.testing.assert_allclose(det.center_, med, rtol=1e-12)
    np.testing.assert_allclose(det.scale_, mad, rtol=1e-12)
    s = det.anomaly_score(x)
    want = np.mean(np.abs(e - med) / mad, 1)
    np.testing.assert_allclose(s[21:], want[21:], rtol=1e-10)       # after the lag and the ESN's washout


def test_surprise_is_the_gaussian_negative_log_density():
    from scipy.stats import multivariate_normal

    x = _series(2000, seed=5, channels=2)
    det = ForecastDetector("ESN", ESN_PARAMS, statistic="surprise", refit=False).fit(x[:1200])
    held = det._residuals(x[:1200])[900:]
    mvn = multivariate_normal(held.mean(0) * 0 + det.center_, np.cov(held, rowvar=False, ddof=0))
    e = det._residuals(x)
    s = det.anomaly_score(x)
    np.testing.assert_allclose(s[21:], -mvn.logpdf(e[21:]), rtol=1e-6, atol=1e-7)


def test_running_scale_follows_a_noisier_regime():
    x = _series(4000, seed=6)
    x[2500:] += 0.25 * np.random.default_rng(0).standard_normal((1500, 1))     # noise x 6 from here on
    fixed = ForecastDetector("ESN", ESN_PARAMS, scale="fixed").fit(x[:1500]).anomaly_score(x)
    running = ForecastDetector("ESN", ESN_PARAMS, scale="running", scale_window=200).fit(x[:1500]).anomaly_score(x)
    # both flag the change; the running scale brings the new regime back near the held-out level
    assert fixed[3000:].mean() > 3 * fixed[1500:2400].mean()
    assert running[3000:].mean() < 0.5 * fixed[3000:].mean()
    np.testing.assert_allclose(running[1500:2400], fixed[1500:2400], rtol=0.2)


def test_hopfield_score_is_the_distance_to_the_nearest_stored_window():
    from scipy.spatial.distance import cdist

    x = _series(1400, seed=7, channels=2, noise=0.2)
    det = HopfieldDetector(window=15, beta=1e9, calibration=0.3, memory="train", normalize=False).fit(x[:1000])
    assert len(det.memory_.patterns_) == 1000 - 15 + 1                 # refit: every window of the prefix
    stored = det.memory_.patterns_[:, :-1]
    W = np.lib.stride_tricks.sliding_window_view(x, (15, 2))[:, 0].reshape(-1, 30)
    nearest = np.sqrt(cdist(W, stored, "sqeuclidean").min(1) / 30)
    cover = np.array([nearest[max(0, t - 14):t + 1].mean() for t in range(len(x))])
    np.testing.assert_allclose(det.anomaly_score(x), cover, rtol=1e-6, atol=1e-9)


def test_normalized_windows_are_compared_by_shape():
    from scipy.spatial.distance import cdist
    from scipy.stats import zscore

    x = _series(1400, seed=11, channels=2, noise=0.2)
    det = HopfieldDetector(window=15, beta=1e9, calibration=0.3, memory="train").fit(x[:1000])
    W = np.lib.stride_tricks.sliding_window_view(x, (15, 2))[:, 0].reshape(-1, 30)
    Z = zscore(W, axis=1)                                       # each window: mean 0, std 1 over its 30 values
    nearest = np.sqrt(cdist(Z, Z[:1000 - 15 + 1], "sqeuclidean").min(1) / 30)
    cover = np.array([nearest[max(0, t - 14):t + 1].mean() for t in range(len(x))])
    np.testing.assert_allclose(det.anomaly_score(x), cover, rtol=1e-6, atol=1e-9)
    # a change of level and amplitude keeps the shape: the score does not move
    np.testing.assert_allclose(det.anomaly_score(3.0 * x + 2.0), det.anomaly_score(x), rtol=1e-6, atol=1e-9)


def test_grown_memory_equals_a_window_by_window_nearest_neighbour_search():
    from scipy.spatial.distance import cdist

    x = _series(1300, seed=9, channels=2, noise=0.2)
    x[1000:] += np.linspace(0, 1.0, 300)[:, None]          # a drift the prefix never showed
    w, cap = 12, 150
    det = HopfieldDetector(window=w, beta=1e9, calibration=0.3, stride=2, max_patterns=cap,
                           normalize=False, memory="past").fit(x[:800])
    stored = det.memory_.patterns_[:, :-1]
    W = np.lib.stride_tricks.sliding_window_view(x, (w, 2))[:, 0].reshape(-1, 2 * w)
    d = np.empty(len(W))
    admitted = []
    for t in range(len(W)):               # window t sees the admitted windows ending before its block
        block = t - t % w
        grown = [j for j in admitted if j <= block - w][-cap:]
        mem = np.concatenate([stored, W[grown]]) if grown else stored
        d[t] = np.sqrt(cdist(W[t:t + 1], mem, "sqeuclidean").min() / (2 * w))
        if t % 2 == 0 and d[t] <= det.admit_:
            admitted.append(t)
    cover = np.array([d[max(0, t - w + 1):t + 1].mean() for t in range(len(x))])
    np.testing.assert_allclose(det.anomaly_score(x), cover, rtol=1e-6, atol=1e-9)
    # the prefix's memory alone loses the drifting signal; the grown memory follows it
    fixed = HopfieldDetector(window=w, beta=1e9, calibration=0.3, stride=2, memory="train",
                             normalize=False).fit(x[:800]).anomaly_score(x)
    assert fixed[1200:].mean() > 1.5 * cover[1200:].mean()
    assert cover[1200:].mean() < 1.3 * cover[800:1000].mean()


def test_series_memory_equals_a_nearest_neighbour_search_outside_the_exclusion_zone():
    from scipy.spatial.distance import cdist

    x = _series(1300, seed=12, channels=2, noise=0.2)
    x[700:] += np.linspace(0, 1.5, 600)[:, None]           # a drift the prefix never showed
    x[1100:1106] += 2.0                                     # and a short anomaly
    w, cap = 12, 400
    det = HopfieldDetector(window=w, beta=1e9, calibration=0.3, stride=2, max_patterns=cap,
                           normalize=False, exclusion=2.0).fit(x[:700])
    stored = det.memory_.patterns_[:, :-1]
    W = np.lib.stride_tricks.sliding_window_view(x, (w, 2))[:, 0].reshape(-1, 2 * w)
    n, B, E = len(W), w // 4, 2 * w
    d = np.empty(n)
    for t in range(n):
        b = t - t % B                                       # the block of t, and its exclusion zone
        e = min(b + B, n)
        cand = np.array([j for j in range(0, n, 2) if j <= b - E or j >= e - 1 + E])
        if len(cand) > cap:                                 # the cap nearest in time
            cand = cand[np.argsort(np.abs(cand - 0.5 * (b + e - 1)), kind="stable")[:cap]]
        assert np.abs(cand - t).min() >= E                  # never itself or a window that overlaps it
        d[t] = np.sqrt(cdist(W[t:t + 1], np.concatenate([stored, W[cand]]), "sqeuclidean").min() / (2 * w))
    cover = np.array([d[max(0, t - w + 1):t + 1].mean() for t in range(len(x))])
    s = det.anomaly_score(x)
    np.testing.assert_allclose(s, cover, rtol=1e-6, atol=1e-9)
    # the drift is followed by the series' own windows: the top score is the anomaly
    fixed = HopfieldDetector(window=w, beta=1e9, calibration=0.3, stride=2, memory="train",
                             normalize=False).fit(x[:700]).anomaly_score(x)
    assert 1100 - w < np.argmax(s[700:]) + 700 < 1106 + w
    assert not 1100 - w < np.argmax(fixed[700:]) + 700 < 1106 + w     # the training windows alone: the drift wins


def test_series_memory_sees_a_long_anomaly_at_its_edges_only():
    """The matrix profile's price: a long anomaly matches itself beyond the exclusion zone."""
    x = _series(2400, seed=10, noise=0.05)
    x[1600:1900] = 0.8 * np.sign(x[1600:1900])               # 300 points of a square wave
    s = HopfieldDetector(window=20, calibration=0.3).fit(x[:1200]).anomaly_score(x)
    past = HopfieldDetector(window=20, calibration=0.3, memory="past").fit(x[:1200]).anomaly_score(x)
    edges = max(s[1590:1640].max(), s[1860:1910].max())
    assert s[1700:1800].mean() < 0.5 * edges                # the middle matches the anomaly's other cycles
    assert past[1700:1800].mean() > 0.8 * max(past[1590:1640].max(), past[1860:1910].max())


def test_grown_memory_never_stores_an_anomaly():
    x = _series(2400, seed=10, noise=0.05)
    x[1600:1900] = 0.8 * np.sign(x[1600:1900])               # 300 points of a square wave: a long anomaly
    det = HopfieldDetector(window=20, calibration=0.3, memory="past").fit(x[:1200])
    s = det.anomaly_score(x)
    fixed = HopfieldDetector(window=20, calibration=0.3, memory="train").fit(x[:1200]).anomaly_score(x)
    # the anomaly's later windows do not match its earlier ones: its score holds to the end
    assert s[1800:1900].mean() > 0.8 * fixed[1800:1900].mean()
    assert s[1800:1900].min() > det.threshold_
    assert det.detect(x)[0][0] <= 1600 + 20 and det.detect(x)[-1][1] >= 1900 - 20


def test_aeon_detector_equals_aeon_run_directly():
    from aeon.anomaly_detection.series.distance_based import KMeansAD
    from aeon.anomaly_detection.series.distribution_based import DWT_MLEAD

    x = _series(1200, seed=8)[:, 0]
    semi = AeonDetector("KMeansAD", {"window_size": 30, "random_state": 0}).fit(x[:600])
    ref = KMeansAD(window_size=30, random_state=0).fit(x[:600]).predict(x)       # refit on the whole prefix
    np.testing.assert_allclose(semi.anomaly_score(x), ref, rtol=1e-12)
    held = AeonDetector("KMeansAD", {"window_size": 30, "random_state": 0}, refit=False).fit(x[:600])
    ref = KMeansAD(window_size=30, random_state=0).fit(x[:450]).predict(x)       # the calibrated detector
    np.testing.assert_allclose(held.anomaly_score(x), ref, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unsup = AeonDetector("DWT_MLEAD").fit(x[:600])
        np.testing.assert_allclose(unsup.anomaly_score(x), DWT_MLEAD().fit_predict(x), rtol=1e-12)


def test_bad_input_is_refused_with_positions_and_changes_nothing():
    x = _series(1500, seed=9)
    det = ForecastDetector("ESN", ESN_PARAMS).fit(x[:1000])
    before = (det.threshold_, det.center_.copy(), det.scale_.copy())
    y = x.copy()
    y[[700, 705]] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values at 2 time step\(s\), first at \[700, 705\]"):
        det.anomaly_score(y)
    with pytest.raises(ValueError, match=r"NaN or infinite.*\[700, 705\]"):
        ForecastDetector("ESN", ESN_PARAMS).fit(y)
    with pytest.raises(ValueError, match="3 features"):
        det.anomaly_score(np.zeros((100, 3)))
    with pytest.raises(ValueError, match="window is longer than the series"):
        HopfieldDetector(window=200).fit(x[:1000]).anomaly_score(x[:150])
    with pytest.raises(ValueError, match="calibration"):
        ForecastDetector("ESN", ESN_PARAMS).fit(x[:10])
    with pytest.raises(ValueError, match="neurorec model"):
        ForecastDetector("NoSuchModel").fit(x)
    with pytest.raises(ValueError, match="aeon's series anomaly detectors"):
        AeonDetector("NoSuchDetector").fit(x)
    assert det.threshold_ == before[0]
    np.testing.assert_array_equal(det.center_, before[1])
    np.testing.assert_array_equal(det.scale_, before[2])


def test_a_diverging_model_is_an_error_not_a_score():
    x = _series(1500, seed=10)
    det = ForecastDetector("NVAR", {"delay": 3}).fit(x[:1000])
    good = det.model_.predict

    def nan_at_700(X):
        p = np.array(good(X), dtype=np.float64)
        p[..., 700, :] = np.nan
        return p

    det.model_.predict = nan_at_700
    with pytest.raises(FloatingPointError, match=r"NaN or infinite values at steps \[701\]"):
        det.anomaly_score(x)


def test_compare_runs_a_detect_task_and_records_the_three_metrics(tmp_path):
    from neurorec.data import Split, Task, TaskData
    from neurorec.experiment import compare

    def loader(seed):
        x = _series(2500, seed=seed)
        x[1900:1910, 0] += 1.0 * np.hanning(10)
        labels = np.zeros((1, 2500), dtype=np.int8)
        labels[0, 1900:1910] = 1
        X = x[None].astype(np.float32)
        return TaskData(train=Split(X[:, :1200], None), val=None, test=Split(X, labels, skip=1200), n_outputs=1)

    task = Task("toy_detect", "detect", "range_pr_auc", loader=loader)
    df = compare({"ESN": ForecastDetector("ESN", ESN_PARAMS), "Hopfield": HopfieldDetector(window=40)},
                 [task], seeds=[0], store=tmp_path / "r.db", progress=False)
    ok = df[df.status == "ok"]
    assert set(ok.metric) == {"ucr_hit", "range_pr_auc", "roc_auc"} and set(ok.split) == {"test"}
    assert (ok[ok.metric == "ucr_hit"].value == 1.0).all()
    from neurorec.experiment.plots import format_summary, summarize

    s = summarize(df)
    assert len(s) == 6 and list(s.metric.unique()) == ["range_pr_auc", "ucr_hit", "roc_auc"]
    assert "ucr_hit" in format_summary(df)


def test_a_model_instance_without_a_seed_takes_the_detectors():
    from neurorec.models import ESN

    x = _series(1200, seed=11)
    a = ForecastDetector(ESN(units=50, washout=10), seed=3).fit(x).anomaly_score(x)
    b = ForecastDetector(ESN(units=50, washout=10), seed=3).fit(x).anomaly_score(x)
    c = ForecastDetector(ESN(units=50, washout=10), seed=4).fit(x).anomaly_score(x)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_reconstruct_mode_never_copies_its_input():
    x = _series(3000, seed=12)
    x[2200:2300] += 0.6                                               # a level shift
    labels = np.zeros(3000, dtype=int)
    labels[2200:2300] = 1
    det = ForecastDetector("ESN", ESN_PARAMS, mode="reconstruct").fit(x[:1500])
    assert det.model_.input_to_readout is False and det.scale_.min() > 1e-4
    s = det.anomaly_score(x)
    assert roc_auc(labels[1500:], s[1500:]) > 0.8
    with pytest.raises(ValueError, match="features hold the current input"):
        ForecastDetector("NVAR", {"delay": 3}, mode="reconstruct").fit(x[:1500])
    with pytest.raises(ValueError, match="input_to_readout=True"):
        ForecastDetector("ESN", {**ESN_PARAMS, "input_to_readout": True}, mode="reconstruct").fit(x[:1500])


def test_surprise_on_exact_predictions_and_overflow_stays_the_top_score():
    from neurorec.models import LinearAR

    flat = (np.arange(400) % 4 == 0).astype(float)[None, :, None]     # exactly predictable: zero error
    det = ForecastDetector(LinearAR(delays=4), statistic="surprise").fit(flat)
    y = flat.copy()
    y[0, 300] = 50.0
    s = det.anomaly_score(y)[0]
    assert np.isfinite(s).all() and int(np.argmax(s)) in (300, 301)


def test_a_failed_fit_leaves_the_fitted_detector_unchanged():
    x = _series(1500, seed=13)
    for det in (ForecastDetector("ESN", ESN_PARAMS), HopfieldDetector(window=20),
                AeonDetector("KMeansAD", {"window_size": 20})):
        det.fit(x[:1000])
        before = np.asarray(det.anomaly_score(x))
        bad = x[:1000].copy()
        bad[10] = np.nan
        with pytest.raises(ValueError):
            det.fit(bad)
        np.testing.assert_array_equal(det.anomaly_score(x), before)


def test_auto_windows_follow_the_period_and_long_windows_are_refused():
    from neurorec.anomaly import dominant_period

    t = np.arange(3000)
    x = np.sin(2 * np.pi * t / 37)[:, None] + 0.01 * np.random.default_rng(0).standard_normal((3000, 1))
    assert dominant_period(x) == 37
    assert HopfieldDetector(window="auto").fit(x).window_ == 37
    assert AeonDetector("KMeansAD", {"window_size": "auto"}).fit(x).params_["window_size"] == 37
    with pytest.raises(ValueError, match="window_size=400: the window is longer than the series"):
        AeonDetector("LOF", {"window_size": 400}).fit(x[:300])
    det = AeonDetector("LOF", {"window_size": 40}).fit(x[:1000])
    with pytest.raises(ValueError, match="window is longer than the series"):
        det.anomaly_score(x[:30])


def test_lists_of_univariate_series_and_labels_in_fit():
    from neurorec.data.anomaly import AnomalyInTrainingWarning

    x = _series(1500, seed=14)[:, 0]
    det = HopfieldDetector(window=20).fit([x[:800], x[800:]])
    out = det.anomaly_score([x[:700], x[700:1300]])
    assert isinstance(out, list) and [o.shape for o in out] == [(700,), (600,)]
    labels = np.zeros(1500, dtype=int)
    labels[100:110] = 1
    with pytest.warns(AnomalyInTrainingWarning, match="10 training point"):
        HopfieldDetector(window=20).fit(x, labels)
