"""Closed-loop ``generate`` never returns exploded or non-finite values silently, and refuses
lengths it cannot hold before doing any work (issue 13)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from neurorec.data import get_task
from neurorec.models import ESN, LinearAR
from neurorec.models._generate import MAX_GENERATE_ELEMENTS

torch = pytest.importorskip("torch")
from neurorec.models import GRU, LSTM, Elman, Jordan  # noqa: E402

RECURRENT = [Elman, Jordan, LSTM, GRU]


@pytest.fixture(scope="module")
def mg():
    return get_task("mackey_glass").load(0)


@pytest.fixture(scope="module")
def sine():
    t = np.arange(400, dtype=np.float32)
    return (np.sin(0.07 * t) * np.cos(0.011 * t))[:, None]


def _recurrent(cls, u):
    return cls(units=4, epochs=1, lr=1e-2, batch_size=8, window=50, seed=0).fit(u[:-1], u[1:])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_esn_divergence_raises_naming_step_and_threshold(mg, backend):
    """ESN at 200 units with default settings can diverge in closed loop (seed 5 with reservoirpy's draws, seed 0
    before issue 13: |y| > 1e35, then inf); it used to return that trajectory without a word."""
    esn = ESN(units=200, seed=5, backend=backend).fit(mg.train.X, mg.train.y)
    warm = mg.test.X[0, :300]
    with pytest.raises(FloatingPointError, match=r"ESN\.generate diverged at step \d+ .*threshold") as exc:
        esn.generate(2000, warmup=warm)
    step = int(re.search(r"at step (\d+)", str(exc.value)).group(1))
    thr = 1e6 * np.abs(warm).max()
    assert f"{thr:.3g}" in str(exc.value)
    # on_divergence="warn" returns the trajectory as computed, and the named step is its first bad one
    with pytest.warns(RuntimeWarning, match=f"diverged at step {step} "):
        g = esn.generate(2000, warmup=warm, on_divergence="warn")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(g[:, 0]) | (np.abs(g[:, 0]) > thr)
    assert bad.any() and int(np.argmax(bad)) == step


def test_well_behaved_generate_is_unchanged(mg):
    """A stable closed loop (ESN 200 units, seed 1, 2000 steps: max |y| 3.9) passes without any
    warning; the check does not touch the values (bit-identical to "warn" mode and finite)."""
    esn = ESN(units=200, seed=1).fit(mg.train.X, mg.train.y)
    warm = mg.test.X[0, :300]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = esn.generate(2000, warmup=warm)
    assert g.shape == (2000, 1) and np.isfinite(g).all() and np.abs(g).max() < 100
    np.testing.assert_array_equal(g, esn.generate(2000, warmup=warm, on_divergence="warn"))
    np.testing.assert_allclose(g[0], esn.predict(warm)[-1], atol=1e-5)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("cls", RECURRENT)
def test_recurrent_divergence_raises(cls, backend, sine):
    m = _recurrent(cls, sine).set_params(backend=backend)
    m.generate(5, sine[:100])                                   # fine as trained
    w = dict(m.weights_)
    w["head.bias"] = np.full_like(w["head.bias"], np.inf)
    m.weights_ = w
    with pytest.raises(FloatingPointError, match=rf"{cls.__name__}\.generate diverged at step 0 .*non-finite"):
        m.generate(5, sine[:100])
    with pytest.warns(RuntimeWarning, match="diverged at step 0"):
        m.generate(5, sine[:100], on_divergence="warn")


def test_linear_ar_generate_and_its_divergence(sine):
    """LinearAR gets the same closed loop: an AR(2) continues a sine, and a map y = 2 u
    crosses 1e6 x the warm-up scale at a step known in closed form."""
    t = np.arange(300, dtype=np.float32)
    u = np.sin(0.1 * t)[:, None]
    ar = LinearAR(delays=2, ridge=0.0).fit(u[:-1], u[1:])
    g = ar.generate(50, u[:200])
    np.testing.assert_allclose(g[0], ar.predict(u[:200])[-1], rtol=1e-5, atol=1e-6)
    for j in (1, 2, 10, 49):                                    # each forecast is the model's own next step
        np.testing.assert_allclose(g[j], ar.predict(np.concatenate([u[:200], g[:j]]))[-1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g, u[200:250], atol=0.1)        # float32 fit: one-step error 4e-4 grows slowly
    assert ar.generate(4, np.stack([u[:200], u[50:250]])).shape == (2, 4, 1)
    dbl = LinearAR(delays=1).fit(u[:-1], u[1:])
    dbl.W_out_, dbl.b_out_ = np.full((1, 1), 2, np.float32), np.zeros(1, np.float32)
    warm = np.full((10, 1), 0.5, np.float32)
    # y_t = 0.5 * 2**(t+1) > 1e6 * 0.5  <=>  t + 1 > log2(1e6) = 19.93  <=>  t >= 19
    with pytest.raises(FloatingPointError, match=r"LinearAR\.generate diverged at step 19 .*threshold 5e\+05"):
        dbl.generate(100, warm)
    with pytest.warns(RuntimeWarning, match="step 19 "):
        assert dbl.generate(30, warm, on_divergence="warn")[29, 0] == 0.5 * 2**30


def _models(mg, sine):
    yield ESN(units=20, seed=0).fit(mg.train.X, mg.train.y), mg.test.X[0, :50]
    yield LinearAR(delays=3).fit(sine[:-1], sine[1:]), sine[:50]
    for cls in RECURRENT:
        yield _recurrent(cls, sine), sine[:50]


def test_n_steps_refused_on_every_model(mg, sine):
    for m, warm in _models(mg, sine):
        name = type(m).__name__
        with pytest.raises(ValueError, match=r"n_steps=1000000000000 is too long: .* GiB") as exc:
            m.generate(10**12, warm)                            # used to run unbounded / MemoryError
        assert str(MAX_GENERATE_ELEMENTS) in str(exc.value), name
        for bad in (0, -1, 2.5, True, "10", None):
            with pytest.raises(ValueError, match=r"n_steps must be an integer >= 1 .*got " + re.escape(repr(bad))):
                m.generate(bad, warm)
        with pytest.raises(ValueError, match="on_divergence must be one of"):
            m.generate(3, warm, on_divergence="ignore")
        # the largest allowed length is accepted by the check (not run here)
        assert m.generate(np.int64(3), warm).shape == (3, 1), name


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_jordan_closed_loop_feeds_back_its_forecast(backend, sine):
    """Jordan's generate fed back ``y * a + i`` (a loop index shadowed the feedback offset), so its
    second forecast disagreed with predicting on the warm-up extended by the first forecast."""
    m = Jordan(units=8, epochs=3, lr=1e-2, batch_size=8, window=50, seed=0).fit(
        50 * sine[:-1] + 3, 50 * sine[1:] + 3).set_params(backend=backend)
    warm = 50 * sine[:100] + 3
    g = m.generate(3, warm)
    ext = np.concatenate([warm, g[:1]])
    np.testing.assert_allclose(g[1], m.predict(ext)[-1], rtol=1e-4, atol=1e-4)
