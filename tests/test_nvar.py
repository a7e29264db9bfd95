"""NVAR / next-generation reservoir computing (issue 16): features and readout against reservoirpy's
NVAR node, exact recovery of polynomial maps, the closed loop, both backends."""

from __future__ import annotations

import warnings
from math import comb

import numpy as np
import pytest

from neurorec import load
from neurorec.models import NVAR
from neurorec.testing import check_model


def _lorenz(n=5400):
    rpy = pytest.importorskip("reservoirpy.datasets")
    return rpy.lorenz(n, x0=[17.677, 12.931, 43.914], h=0.025, method="RK23")


@pytest.mark.parametrize("delay,strides,order", [(2, 1, 2), (3, 2, 2), (1, 1, 3), (4, 5, 1), (2, 3, 3)])
def test_features_equal_reservoirpys_nvar_node(delay, strides, order):
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import NVAR as RNVAR

    rng = np.random.default_rng(delay * 10 + strides)
    X = rng.normal(size=(40, 2))
    ours = NVAR(delay=delay, strides=strides, order=order, dtype="float64").fit(X, X).transform(X)
    theirs = RNVAR(delay=delay, order=order, strides=strides).run(X)
    assert ours.shape == theirs.shape == (40, delay * 2 + comb(delay * 2 + order - 1, order))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_readout_equals_reservoirpys_nvar_ridge_on_lorenz():
    """The paper's set-up as reservoirpy's docs write it: difference targets, 200 warm-up steps."""
    pytest.importorskip("reservoirpy")
    from reservoirpy.nodes import NVAR as RNVAR
    from reservoirpy.nodes import Ridge

    X = _lorenz(700)
    Xi = X[:600]
    readout = Ridge(ridge=2.5e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (RNVAR(delay=2, order=2, strides=1) >> readout).fit(Xi, X[1:601] - Xi, warmup=200)
    m = NVAR(delay=2, strides=1, order=2, ridge=2.5e-6, washout=200, dtype="float64").fit(Xi, X[1:601])
    assert m.difference_ and m.n_features_out_ == 27          # 6 linear + 21 quadratic (+ the intercept)
    np.testing.assert_allclose(m.W_out_, readout.Wout, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(m.b_out_, np.ravel(readout.bias), rtol=1e-9, atol=1e-9)


def test_lorenz_forecast_over_one_lyapunov_time():
    # Gauthier et al. 2021: dt 0.025, 5 time units of warm-up, 10 of training, ridge 2.5e-6,
    # k=2, s=1, quadratic monomials; one Lyapunov time = 1/0.9056 time units = 44 steps
    X = _lorenz(700)
    m = NVAR(washout=200, dtype="float64").fit(X[:600], X[1:601])
    pred = m.generate(44, X[:600])
    nrmse = np.sqrt(np.mean((pred - X[600:644]) ** 2) / np.mean(X[:600].var(0)))
    assert nrmse < 0.05
    # and it is a good one-step model on the training data
    assert np.sqrt(np.mean((m.predict(X[:600])[200:] - X[201:601]) ** 2)) < 1e-2


def test_a_quadratic_map_is_recovered_exactly():
    """The logistic map x' = r x (1 - x) is in the model class (delay 1, order 2): the readout
    finds its coefficients and the closed loop follows the map for many steps."""
    r, n = 3.7, 300
    x = np.empty(n)
    x[0] = 0.2
    for t in range(n - 1):
        x[t + 1] = r * x[t] * (1 - x[t])
    m = NVAR(delay=1, order=2, ridge=0.0, difference=False, dtype="float64").fit(x[:-1, None], x[1:, None])
    np.testing.assert_allclose(m.W_out_[:, 0], [r, -r], atol=1e-8)     # x, x^2
    np.testing.assert_allclose(m.b_out_, [0.0], atol=1e-8)
    ref = np.empty(20)
    ref[0] = r * x[199] * (1 - x[199])
    for t in range(19):
        ref[t + 1] = r * ref[t] * (1 - ref[t])
    np.testing.assert_allclose(m.generate(20, x[:200, None])[:, 0], ref, atol=1e-6)


def test_difference_is_the_same_model_class():
    # with ridge=0 learning the increment or the next value gives the same predictions
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 60, 2))
    Y = np.tanh(X @ rng.normal(size=(2, 2)))
    a = NVAR(delay=2, ridge=0.0, difference=True, dtype="float64").fit(X, Y)
    b = NVAR(delay=2, ridge=0.0, difference=False, dtype="float64").fit(X, Y)
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-8)
    with pytest.raises(ValueError, match="difference=True"):
        NVAR(difference=True).fit(X, Y[..., :1])
    assert not NVAR().fit(X, Y[..., :1]).difference_         # "auto": different widths


def test_linear_nvar_is_an_autoregression():
    """order=0: a linear AR(2) process is recovered to its coefficients."""
    rng = np.random.default_rng(1)
    x = np.zeros(4000)
    e = rng.normal(scale=0.1, size=4000)
    for t in range(2, 4000):
        x[t] = 1.2 * x[t - 1] - 0.5 * x[t - 2] + e[t]
    m = NVAR(delay=2, order=0, ridge=0.0, difference=False, dtype="float64").fit(x[:-1, None], x[1:, None])
    np.testing.assert_allclose(m.W_out_[:, 0], [1.2, -0.5], atol=0.05)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_check_model(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    check_model(NVAR(delay=2, strides=2), backend=backend)


def test_backends_agree_and_save_load(tmp_path):
    pytest.importorskip("torch")
    X = _lorenz(700)
    a = NVAR(washout=200, dtype="float64").fit(X[:600], X[1:601])
    b = NVAR(washout=200, dtype="float64", backend="torch").fit(X[:600], X[1:601])
    # the readout's system is ill-conditioned (quadratic Lorenz features, ridge 2.5e-6): the
    # weights differ in the 4th digit with the summation order, the forecasts far less
    np.testing.assert_allclose(a.predict(X[:600])[200:], b.predict(X[:600])[200:], rtol=0, atol=1e-6)
    np.testing.assert_allclose(a.generate(44, X[:600]), b.generate(44, X[:600]), rtol=0, atol=1e-4)
    c = load(a.save(tmp_path / "nvar.safetensors"))
    np.testing.assert_array_equal(c.predict(X[:600]), a.predict(X[:600]))
    np.testing.assert_array_equal(c.generate(10, X[:600]), a.generate(10, X[:600]))


def test_bad_input_is_refused():
    X = np.random.default_rng(0).normal(size=(2, 30, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="delay"):
        NVAR(delay=0).fit(X, X)
    with pytest.raises(ValueError, match="washout"):
        NVAR(washout=30).fit(X, X)
    m = NVAR(delay=3, strides=4).fit(X, X)
    with pytest.raises(ValueError, match="at least 9"):
        m.generate(5, X[:, :5])
    with pytest.raises(ValueError, match="features"):
        m.predict(X[..., :1])
    with pytest.raises(ValueError, match="one-step forecaster"):
        NVAR().fit(X, X[..., :1]).generate(5, X)
    with pytest.raises(ValueError, match="too large"):
        NVAR(delay=50, order=3, washout=0).fit(X, X)


@pytest.mark.parametrize("strides", [1, 3])
def test_blocks_of_a_long_series_equal_the_whole(strides):
    # fit, transform and predict work in blocks of (sequence, step) rows; a block that starts
    # inside a series reads the window before it, so blocks equal the one-piece computation
    from neurorec.backends import get_ops

    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 200, 2))
    m = NVAR(delay=4, strides=strides, order=2, dtype="float64").fit(X[:, :-1], X[:, 1:])
    ops = get_ops("numpy", "cpu", "float64")
    whole = m._features(ops, X)
    for budget in (10 * m.n_features_out_, 1):          # 10 rows per block; the least block: span + 1 steps
        Z = np.empty_like(whole)
        for b0, b1, t0, t1, blk in m._feature_blocks(ops, X, m.n_features_out_, budget=budget):
            Z[b0:b1, t0:t1] = blk
        np.testing.assert_array_equal(Z, whole)
    np.testing.assert_allclose(m.transform(X), whole)
