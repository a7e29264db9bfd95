"""DeepESN (issue 16): a stack of ESN reservoirs, each driven by the states of the one below."""

from __future__ import annotations

import numpy as np
import pytest

from neurorec import load
from neurorec.models import ESN, DeepESN
from neurorec.testing import check_model, make_classification_data


def _series(n=400, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, size=(n, 1))
    return u, np.roll(u, 3, axis=0)          # recall the input 3 steps back


def test_layers_are_esns_driven_by_the_layer_below():
    u, y = _series()
    m = DeepESN(units=(30, 20), spectral_radius=[0.9, 0.5], leak_rate=[0.3, 1.0], input_scaling=[0.5, 0.2],
                dtype="float64", seed=0).fit(u, y)
    r = m.reservoirs_
    assert r["W_in0"].shape == (30, 1) and r["W_in1"].shape == (20, 30) and r["W1"].shape == (20, 20)
    e1 = ESN(units=30, leak_rate=0.3, dtype="float64").set_reservoir(r["W0"], r["W_in0"], r["bias0"])
    e2 = ESN(units=20, leak_rate=1.0, dtype="float64").set_reservoir(r["W1"], r["W_in1"], r["bias1"])
    s1 = e1.transform(u)
    s2 = e2.transform(s1)
    np.testing.assert_allclose(m.transform(u), np.concatenate([s1, s2], -1), rtol=1e-12, atol=1e-12)
    # the per-layer settings reached the layers: spectral radii 0.9 and 0.5
    assert abs(np.max(np.abs(np.linalg.eigvals(r["W1"]))) - 0.5) < 1e-6
    assert abs(np.max(np.abs(np.linalg.eigvals(r["W0"]))) - 0.9) < 1e-6


def test_one_layer_is_an_esn():
    u, y = _series()
    d = DeepESN(units=50, layers=1, leak_rate=0.5, ridge=1e-6, washout=20, dtype="float64", seed=3).fit(u, y)
    r = d.reservoirs_
    e = ESN(units=50, leak_rate=0.5, ridge=1e-6, washout=20, dtype="float64").set_reservoir(
        r["W0"], r["W_in0"], r["bias0"]).fit(u, y)
    np.testing.assert_allclose(d.predict(u), e.predict(u), rtol=1e-9, atol=1e-9)


def test_readout_on_the_top_layer_only():
    u, y = _series()
    top = DeepESN(units=(20, 10), readout_layers="top", input_to_readout=False, seed=0).fit(u, y)
    assert top.W_out_.shape == (10, 1) and top.n_parameters_["trained"] == 11
    assert DeepESN(units=(20, 10), seed=0).fit(u, y).W_out_.shape == (20 + 10 + 1, 1)    # and the input


def test_learns_a_delayed_recall_and_a_classification():
    u, y = _series(1200)
    m = DeepESN(units=(100, 100), washout=50, seed=0).fit(u[:900], y[:900])
    assert m.score(u[900:], y[900:]) > 0.9
    X, lab = make_classification_data(seed=0)
    c = DeepESN(units=(40, 40), seed=0).fit(X, lab)
    assert c.task_ == "classification" and c.score(X, lab) > 0.9
    p = c.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-6)
    assert (p.argmax(1) == np.searchsorted(c.classes_, c.predict(X))).all()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_check_model(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    check_model(DeepESN(units=(20, 15), seed=0), backend=backend)


def test_backends_agree_and_save_load(tmp_path):
    pytest.importorskip("torch")
    u, y = _series()
    a = DeepESN(units=(30, 30), dtype="float64", seed=1).fit(u, y)
    b = DeepESN(units=(30, 30), dtype="float64", seed=1, backend="torch").fit(u, y)
    np.testing.assert_allclose(a.predict(u), b.predict(u), rtol=1e-8, atol=1e-8)
    c = load(a.save(tmp_path / "deep.safetensors"))
    np.testing.assert_array_equal(c.predict(u), a.predict(u))
    assert len(c.layers_) == 2 and c.layers_[1].W_in_.shape == (30, 30)


@pytest.mark.parametrize("params,match", [
    ({"units": (10, 0)}, "units"), ({"units": 10, "layers": 0}, "layers"), ({"units": (10, 10), "layers": 3}, "layers"),
    ({"units": (10, 10), "leak_rate": [0.5]}, "leak_rate"), ({"units": (10, 10), "leak_rate": [0.5, 1.5]}, "leak_rate"),
    ({"units": (10, 10), "spectral_radius": "big"}, "spectral_radius"),
    ({"readout_layers": "middle"}, "readout_layers"),
])
def test_bad_hyperparameters_name_the_argument(params, match):
    u, y = _series(50)
    with pytest.raises(ValueError, match=match):
        DeepESN(**params).fit(u, y)


def test_higher_layers_remember_further_back():
    # Gallicchio, Micheli & Pedrelli 2017: in a stack of reservoirs each layer's memory shifts
    # to longer delays (experiments/deep_memory.py: centre of mass of MC_k 14 -> 29 over 5 layers)
    from neurorec.metrics import memory_capacity

    u = np.random.default_rng(0).uniform(-0.8, 0.8, (3000, 1))
    K = 60
    Y = np.stack([np.concatenate([np.zeros(k), u[:-k, 0]]) for k in range(1, K + 1)], axis=1)
    m = DeepESN(units=[40, 40, 40], spectral_radius=0.9, leak_rate=0.5, input_scaling=0.1, seed=0,
                dtype="float64").fit(u, Y)
    centres, totals = [], []
    for S in m.layer_states(u):
        A = np.c_[S[100:2000], np.ones(1900)]
        W = np.linalg.lstsq(A, Y[100:2000], rcond=None)[0]
        P = np.c_[S[2000:], np.ones(1000)] @ W
        mck = np.array([memory_capacity(Y[2000:, k], P[:, k]) for k in range(K)])
        totals.append(mck.sum())
        centres.append((np.arange(1, K + 1) * mck).sum() / mck.sum())
    assert centres[0] < centres[1] < centres[2], centres
    assert centres[2] > 1.25 * centres[0]       # 14.8 -> 20.5 here (delays up to 60 only)
    assert min(totals) > 5                      # every layer keeps a real memory, not noise


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_generate_one_layer_equals_the_esn_and_forecasts(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    from neurorec.data import get_task

    d = get_task("mackey_glass").load(seed=0)
    u = d.train.X
    one = DeepESN(units=100, layers=1, spectral_radius=1.25, leak_rate=0.3, ridge=1e-8, washout=100,
                  dtype="float64", backend=backend, seed=0).fit(u, d.train.y)
    r = one.reservoirs_
    esn = ESN(units=100, spectral_radius=1.25, leak_rate=0.3, ridge=1e-8, washout=100, dtype="float64",
              backend=backend).set_reservoir(r["W0"], r["W_in0"], r["bias0"]).fit(u, d.train.y)
    warm = d.test.X[..., :300, :]
    a, e = one.generate(50, warm), esn.generate(50, warm)
    # equal up to the readouts' round-off (1e-12), which the closed loop amplifies: 3e-7 by step 50
    np.testing.assert_allclose(a[..., :10, :], e[..., :10, :], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
    deep = DeepESN(units=(100, 100), spectral_radius=1.25, leak_rate=0.3, ridge=1e-8,
                   washout=100, dtype="float64", backend=backend, seed=0).fit(u, d.train.y)
    free = deep.generate(50, warm)
    truth = d.test.X[..., 300:350, :].reshape(free.shape)
    assert np.sqrt(np.mean((free - truth) ** 2) / truth.var()) < 0.05     # 0.009 (one 100-unit layer: 0.28)
    with pytest.raises(ValueError, match="one-step forecaster"):
        DeepESN(units=20, seed=0).fit(u, np.concatenate([d.train.y, d.train.y], -1)).generate(5, warm)
