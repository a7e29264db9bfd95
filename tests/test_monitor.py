"""neurorec.monitor: a fitted forecaster streamed one sample at a time, watching its own error."""

from __future__ import annotations

import copy
import doctest
import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

pytest.importorskip("river")

from river import drift  # noqa: E402

from neurorec import monitor as monitor_module  # noqa: E402
from neurorec.models import ESN, NVAR, DeepESN, LinearAR, OnlineReservoir  # noqa: E402
from neurorec.monitor import Monitor, MonitorStep  # noqa: E402


def _series(n=600, change=None, seed=0, f_after=1 / 17):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    f2 = np.full(n, 1 / 23) if change is None else np.where(t < change, 1 / 23, f_after)
    x = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * np.cumsum(f2)) + 0.02 * rng.standard_normal(n)
    return x[:, None]


def _fit(model, s, n):
    return model.fit(s[: n - 1], s[1:n])


# ------------------------------------------------------------------ (1) stepping == batch predict
@pytest.mark.parametrize("make, tol", [
    (lambda: ESN(units=40, leak_rate=0.5, washout=20, seed=0), 1e-6),
    (lambda: ESN(units=40, leak_rate=0.5, washout=20, seed=0, dtype="float64"), 1e-10),
    (lambda: OnlineReservoir("ESN", {"units": 40, "leak_rate": 0.5}, washout=20, seed=0), 1e-6),
    (lambda: OnlineReservoir("ESN", {"units": 40}, rule="lms", learning_rate=1e-2, seed=0, dtype="float64"), 1e-10),
    (lambda: OnlineReservoir("DeepESN", {"units": [20, 20]}, seed=0, dtype="float64"), 1e-10),
    (lambda: NVAR(delay=3, strides=2, order=2), 1e-6),
    (lambda: NVAR(delay=2, strides=3, order=2, dtype="float64"), 1e-10),
    (lambda: LinearAR(delays=5, dtype="float64"), 1e-10),
    (lambda: DeepESN(units=[20, 20], leak_rate=0.5, seed=0, dtype="float64"), 1e-10),
], ids=["esn32", "esn64", "online32", "online-lms64", "online-deep64", "nvar32", "nvar64", "linear64", "deep64"])
def test_one_step_at_a_time_equals_batch_predict(make, tol):
    s = _series(700)
    model = _fit(make(), s, 400)
    X = s[400:700]
    expect = np.asarray(model.predict(X)).reshape(len(X), -1)
    mon = Monitor(model)
    steps = [mon.update(x) for x in X]
    got = np.stack([st.prediction for st in steps])
    assert got.shape == expect.shape
    assert np.abs(got - expect).max() <= tol
    run = Monitor(model).run(X)                          # run() is the same, one step at a time
    assert np.abs(run.predictions - expect).max() <= tol
    # the self-forecast convention: step t scores the prediction of step t-1 against x_t
    assert np.isnan(steps[0].error)
    e = np.abs(got[:-1].astype(np.float64) - X[1:]).mean(1)
    np.testing.assert_allclose([st.error for st in steps[1:]], e, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run.errors[1:], e, rtol=1e-12, atol=1e-12)


def test_target_convention_scores_this_steps_prediction():
    s = _series(500)
    model = _fit(ESN(units=30, seed=0, dtype="float64"), s, 300)
    X, Y = s[300:450], s[301:451]
    mon = Monitor(model, metric="squared_error")
    steps = [mon.update(x, y) for x, y in zip(X, Y, strict=True)]
    pred = model.predict(X)
    np.testing.assert_allclose([st.error for st in steps], ((pred - Y) ** 2).mean(1), rtol=1e-10, atol=1e-14)
    assert isinstance(steps[0], MonitorStep) and not np.isnan(steps[0].error)
    with pytest.raises(ValueError, match="do not mix"):            # one convention per stream
        mon.update(X[0])
    run = Monitor(model).run(X, Y[:, 0])                            # (time,) targets for one output
    np.testing.assert_allclose(run.errors, np.abs(pred - Y).mean(1), rtol=1e-10, atol=1e-14)


def test_model_passed_in_is_untouched_and_reset_starts_again():
    s = _series(600, change=400)
    model = _fit(OnlineReservoir("ESN", {"units": 30}, seed=0), s, 300)
    w0 = model.W_out_.copy()
    mon = Monitor(model, adapt=True, detector="page_hinkley", error_scale=0.02, warmup=20,
                  detector_params={"threshold": 20.0, "delta": 0.5, "mode": "up"})
    first = mon.run(s[300:])
    assert mon.alarms_ and mon.rule_ is not None
    assert not np.array_equal(mon.model_.W_out_, w0)              # the monitor's copy adapted
    np.testing.assert_array_equal(model.W_out_, w0)               # the model passed in did not
    mon.reset()
    assert mon.t_ == 0 and mon.alarms_ == [] and mon.rule_ is None
    again = mon.run(s[300:])
    np.testing.assert_array_equal(again.predictions, first.predictions)
    np.testing.assert_array_equal(again.alarms, first.alarms)


# ------------------------------------------------------------------ (2) constant memory
@pytest.mark.parametrize("make", [lambda: ESN(units=30, seed=0), lambda: NVAR(delay=3, strides=2),
                                  lambda: OnlineReservoir("ESN", {"units": 30}, seed=0)],
                         ids=["esn", "nvar", "online"])
def test_memory_does_not_grow_with_the_stream(make):
    s = _series(5300)
    model = _fit(make(), s, 300)
    mon = Monitor(model, detector="page_hinkley", adapt="rls" if not isinstance(model, OnlineReservoir) else True,
                  detector_params={"threshold": 1e-3, "min_instances": 5}, warmup=10)
    X = s[300:]
    mon.run(X[:100])
    assert mon.alarms_, "an early alarm, so that the adapted readout is held from step 100 on"
    n100 = mon.nbytes()
    mon.run(X[100:5000])
    assert mon.t_ == 5000
    assert mon.nbytes() == n100
    state = {"ESN": 30 * 4, "NVAR": 5 * 4, "OnlineReservoir": 30 * 4}[type(model).__name__]
    assert n100 > state                                    # the state is among what is counted


def test_nbytes_sees_a_growing_history():
    # the counter would catch a history kept on the monitor
    s = _series(400)
    mon = Monitor(_fit(ESN(units=20, seed=0), s, 300))
    n = mon.nbytes()
    mon._history = [np.zeros(10) for _ in range(5)]
    assert mon.nbytes() == n + 5 * 80


# ------------------------------------------------------------------ (3)-(4) the detectors
def _zero_model():
    """A LinearAR that predicts exactly 0, so that update(x, y) scores |y|: a synthetic error stream."""
    rng = np.random.default_rng(0)
    m = LinearAR(delays=1, dtype="float64").fit(rng.standard_normal((50, 1)), np.zeros((50, 1)))
    assert not m.W_out_.any() and not m.b_out_.any()
    return m


def _errors(seed, change=None, n=2000):
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.0, 0.2, n)
    if change is not None:
        e[change:] = rng.uniform(0.3, 0.5, n - change)
    return e


def _stream(mon, e):
    return mon.run(np.zeros((len(e), 1)), e).alarms


@pytest.mark.parametrize("detector, params", [("adwin", None), ("page_hinkley", {"threshold": 5.0})])
def test_alarm_soon_after_an_abrupt_change_and_not_on_a_stationary_stream(detector, params):
    for seed in range(3):
        kw = {"detector": detector, "detector_params": params, "warmup": 0}
        alarms = _stream(Monitor(_zero_model(), **kw), _errors(seed, change=1000))
        assert len(alarms) and 1000 <= alarms[0] < 1100, alarms
        assert _stream(Monitor(_zero_model(), **kw), _errors(seed)).size == 0


@pytest.mark.parametrize("detector, params, cls", [
    ("adwin", {"delta": 0.01}, drift.ADWIN), ("adwin", {"delta": 0.002, "clock": 1}, drift.ADWIN),
    ("page_hinkley", {"threshold": 3.0, "delta": 0.01}, drift.PageHinkley),
    ("page_hinkley", {"threshold": 2.0, "mode": "up", "min_instances": 10}, drift.PageHinkley),
])
def test_alarms_equal_rivers_own_detector(detector, params, cls):
    rng = np.random.default_rng(5)
    e = np.concatenate([rng.uniform(0, 0.2, 800), rng.uniform(0.3, 0.6, 700), rng.uniform(0, 0.2, 700),
                        rng.uniform(0.5, 0.9, 800)])
    ref, det = [], cls(**params)
    for i, v in enumerate(e):
        det.update(float(v))
        if det.drift_detected:
            ref.append(i)
    assert len(ref) >= 2                                  # a second change is detected too
    mon = Monitor(_zero_model(), detector=detector, detector_params=params, warmup=0)
    assert list(_stream(mon, e)) == ref == mon.alarms_
    # error_scale divides what the detector sees; warmup keeps the first steps from it
    mon = Monitor(_zero_model(), detector=detector, detector_params=params, warmup=100, error_scale=0.5)
    ref2, det = [], cls(**params)
    for i, v in enumerate(e):
        if i >= 100:
            det.update(float(v) / 0.5)
            if det.drift_detected:
                ref2.append(i)
    assert list(_stream(mon, e)) == ref2


def test_a_river_detector_instance_is_cloned():
    det = drift.PageHinkley(threshold=3.0)
    e = _errors(1, change=1000)
    mon = Monitor(_zero_model(), detector=det, warmup=0)
    alarms = _stream(mon, e)
    assert len(alarms) and alarms[0] >= 1000
    assert det._x_mean.n == 0                            # the instance passed in is not fed


def test_step_reports_running_stats():
    e = _errors(2, change=1000)
    mon = Monitor(_zero_model(), detector_params={"delta": 0.002}, warmup=0)
    steps = [mon.update([0.0], [v]) for v in e]
    k = mon.alarms_[0]
    assert steps[k].drift and steps[k].n_alarms == 1 and not steps[k - 1].drift
    assert steps[k - 1].mean_error == pytest.approx(e[:k].mean())
    assert steps[k + 5].mean_error == pytest.approx(e[k:k + 6].mean())    # since the last alarm


# ------------------------------------------------------------------ (5) re-adaptation
@pytest.mark.parametrize("make, adapt, params", [
    (lambda: ESN(units=60, leak_rate=0.5, washout=50, seed=0), "rls", {"alpha": 0.1, "forgetting": 0.995}),
    (lambda: ESN(units=60, leak_rate=0.5, washout=50, seed=0), "lms", {"learning_rate": 0.03}),
    (lambda: NVAR(delay=3, strides=2, dtype="float64"), "rls", None),
    (lambda: OnlineReservoir("ESN", {"units": 60, "leak_rate": 0.5}, forgetting=0.995, seed=0), True, None),
], ids=["esn-rls", "esn-lms", "nvar-rls", "online-own"])
def test_readaptation_lowers_the_error_after_the_change(make, adapt, params):
    s = _series(3000, change=1500, f_after=1 / 11)
    model = _fit(make(), s, 800)
    kw = {"detector": "page_hinkley", "detector_params": {"threshold": 20.0, "delta": 0.5, "mode": "up"},
          "warmup": 200, "error_scale": 0.03}
    fixed = Monitor(model, **kw).run(s[800:])
    adapted = Monitor(model, adapt=adapt, adapt_params=params, **kw).run(s[800:])
    assert fixed.alarms.size and 1500 <= fixed.alarms[0] + 800 < 1600
    assert adapted.alarms[0] == fixed.alarms[0]            # the same model until the first alarm
    k = fixed.alarms[0]                                    # its prediction is the first from the adapted readout
    np.testing.assert_array_equal(adapted.predictions[:k], fixed.predictions[:k])
    before = np.nanmean(fixed.errors[300:700])
    tail = slice(1500, None)                               # samples 2300-2999
    assert np.nanmean(fixed.errors[tail]) > 2.5 * before   # the change hurts the fixed model
    assert np.nanmean(adapted.errors[tail]) < 0.6 * np.nanmean(fixed.errors[tail])


def test_adapt_steps_stops_the_updates():
    s = _series(2000, change=1000)
    model = _fit(ESN(units=30, seed=0), s, 600)
    mon = Monitor(model, adapt="rls", adapt_steps=50, detector="page_hinkley",
                  detector_params={"threshold": 20.0, "delta": 0.5, "mode": "up"}, error_scale=0.02)
    steps = [mon.update(x) for x in s[600:]]
    assert len(mon.alarms_) >= 2
    flags = np.array([st.adapting for st in steps])
    expect = np.zeros(len(steps), bool)
    for k in mon.alarms_:                                        # 50 updates after each alarm, restarted by the next
        expect[k:k + 50] = True
        expect[k + 50:] = False
    assert mon.rule_.n_updates_ == expect.sum() < len(steps) - mon.alarms_[0]
    np.testing.assert_array_equal(flags, expect)


# ------------------------------------------------------------------ (6) bad input
def _snapshot(mon):
    return pickle.dumps(mon)


@pytest.mark.parametrize("make", [lambda: ESN(units=20, seed=0), lambda: NVAR(delay=2),
                                  lambda: OnlineReservoir("ESN", {"units": 20}, seed=0)], ids=["esn", "nvar", "online"])
def test_bad_input_leaves_the_state_unchanged(make):
    s = _series(500)
    model = _fit(make(), s, 300)
    mon = Monitor(model, adapt="rls" if not isinstance(model, OnlineReservoir) else True, warmup=5,
                  detector_params={"delta": 0.5})
    mon.run(s[300:400])
    before = _snapshot(mon)
    with pytest.raises(ValueError, match=r"must have 1 features .*\(2 features given\)"):
        mon.update(np.zeros(2))
    with pytest.raises(ValueError, match="step 100 contains NaN"):
        mon.update(np.array([np.nan]))
    with pytest.raises(ValueError, match="step 100 contains NaN"):
        mon.update(np.array([np.inf]))
    with pytest.raises(ValueError, match="do not mix"):
        mon.update(s[400], s[401])
    with pytest.raises(ValueError, match=r"NaN or infinite values at step 105"):
        mon.run(np.concatenate([s[400:405], [[np.nan]], s[405:410]]))
    with pytest.raises(ValueError, match=r"shape \(time, 1\)"):
        mon.run(np.zeros((10, 3)))
    assert _snapshot(mon) == before
    after_error = mon.update(s[400])                    # and it carries on as if nothing happened
    ref = Monitor(model, adapt="rls" if not isinstance(model, OnlineReservoir) else True, warmup=5,
                  detector_params={"delta": 0.5})
    ref.run(s[300:400])
    np.testing.assert_array_equal(after_error.prediction, ref.update(s[400]).prediction)


def test_bad_target_leaves_the_state_unchanged():
    model = _zero_model()
    mon = Monitor(model, warmup=0)
    mon.run(np.zeros((50, 1)), np.full(50, 0.1))
    before = _snapshot(mon)
    with pytest.raises(ValueError, match=r"y_t at step 50 must have 1 outputs"):
        mon.update([0.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="y_t at step 50 contains NaN"):
        mon.update([0.0], [np.nan])
    with pytest.raises(ValueError, match=r"Y must have shape \(3, 1\)"):
        mon.run(np.zeros((3, 1)), np.zeros((4, 1)))
    assert _snapshot(mon) == before


def test_construction_errors():
    s = _series(400)
    with pytest.raises(NotFittedError, match="not fitted"):
        Monitor(ESN(units=10))
    from neurorec.models import LSTM

    with pytest.raises(TypeError, match="ESN, DeepESN, OnlineReservoir, NVAR, LinearAR"):
        Monitor(LSTM(units=4, epochs=1, seed=0).fit(s[:99], s[1:100]))
    with pytest.raises(TypeError, match="fitted neurorec model"):
        Monitor(object())
    with pytest.raises(TypeError, match="feedback"):
        Monitor(ESN(units=10, feedback=True, seed=0).fit(s[:99], s[1:100]))
    rng = np.random.default_rng(0)
    clf = ESN(units=10, seed=0).fit(rng.standard_normal((6, 20, 1)), np.array([0, 1] * 3))
    with pytest.raises(ValueError, match="per-step regressor"):
        Monitor(clf)
    esn = _fit(ESN(units=10, seed=0), s, 200)
    with pytest.raises(ValueError, match=r"delta.*\(0, 1\)"):
        Monitor(esn, detector_params={"delta": 2.0})
    with pytest.raises(ValueError, match="river.drift.ADWIN refused"):
        Monitor(esn, detector_params={"foo": 1})
    with pytest.raises(ValueError, match="river.drift.PageHinkley refused"):
        Monitor(esn, detector="page_hinkley", detector_params={"mode": "sideways"})
    with pytest.raises(ValueError, match="threshold"):
        Monitor(esn, detector="page_hinkley", detector_params={"threshold": -1})
    with pytest.raises(ValueError, match="detector='kswin'|detector="):
        Monitor(esn, detector="kswin")
    with pytest.raises(ValueError, match="metric"):
        Monitor(esn, metric="mape")
    with pytest.raises(ValueError, match="only an OnlineReservoir"):
        Monitor(esn, adapt=True)
    with pytest.raises(ValueError, match="forgetting"):
        Monitor(esn, adapt="rls", adapt_params={"forgetting": 1.5})
    with pytest.raises(ValueError, match="adapt_steps"):
        Monitor(esn, adapt="rls", adapt_steps=0)
    with pytest.raises(ValueError, match="warmup"):
        Monitor(esn, warmup=-1)
    with pytest.raises(ValueError, match="error_scale"):
        Monitor(esn, error_scale=0)
    two = ESN(units=10, seed=0).fit(s[:199], np.concatenate([s[1:200], s[1:200]], 1))
    with pytest.raises(ValueError, match="pass y_t"):
        Monitor(two).update(s[0])


# ------------------------------------------------------------------ copies
@pytest.mark.parametrize("detector", ["adwin", "page_hinkley"])
def test_copies_continue_identically(detector):
    s = _series(900, change=600, f_after=1 / 11)
    model = _fit(ESN(units=30, seed=0), s, 300)
    mon = Monitor(model, detector=detector, adapt="rls", warmup=20, error_scale=0.02,
                  detector_params={"delta": 0.1, "clock": 1} if detector == "adwin" else {"threshold": 20.0})
    assert len(Monitor(model, detector=detector, error_scale=0.02, warmup=20,
                       detector_params=mon.detector_params).run(s[300:]).alarms) > 0
    mon.run(s[300:500])
    for other in (copy.deepcopy(mon), pickle.loads(pickle.dumps(mon))):
        ra, rb = copy.deepcopy(mon).run(s[500:]), other.run(s[500:])
        np.testing.assert_array_equal(ra.predictions, rb.predictions)
        np.testing.assert_array_equal(ra.alarms, rb.alarms)
        assert len(ra.alarms)


def test_module_docstring_example():
    assert doctest.testmod(monitor_module).failed == 0
