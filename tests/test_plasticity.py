"""Intrinsic plasticity (issue 16): IPESN against reservoirpy's IPReservoir on the same weights, the
KL divergence to the target falling, the readout, both backends, save/load, compare."""

from __future__ import annotations

import numpy as np
import pytest

from neurorec import load, metrics
from neurorec.data import mackey_glass
from neurorec.models import ESN, IPESN
from neurorec.models.plasticity import kl_to_target
from neurorec.models.reservoir import random_reservoir
from neurorec.testing import check_model, make_classification_data

# (activation, target mean, target std): a Gaussian target for tanh, an exponential one for sigmoid
TARGETS = [("tanh", 0.1, 0.4), ("sigmoid", 0.2, 1.0)]


def _weights(units=40, features=2, seed=1):
    return random_reservoir(units, features, spectral_radius_=0.9, connectivity=0.2, bias_scaling=0.2, seed=seed)


def _mg(n=1500):
    s = mackey_glass(n + 1, seed=0)
    return (s - s.mean()) / s.std()


def _ipreservoir(w, act, mu, sigma, leak, epochs, lr=2e-3):
    rpy = pytest.importorskip("reservoirpy.nodes")
    return rpy.IPReservoir(W=w["W"], Win=w["W_in"], bias=w["bias"], lr=leak, mu=mu, sigma=sigma,
                           learning_rate=lr, epochs=epochs, activation=act)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("leak", [1.0, 0.4])
@pytest.mark.parametrize("act,mu,sigma", TARGETS)
def test_equals_reservoirpys_ipreservoir(act, mu, sigma, leak, backend):
    """Same W, W_in, bias and inputs: the same gains a, biases b after IP, and the same states of
    the adapted reservoir (reservoirpy's ``reset(); run(X)``), to round-off in float64."""
    if backend == "torch":
        pytest.importorskip("torch")
    w = _weights()
    X = np.random.default_rng(0).uniform(-1, 1, (400, 2))
    res = _ipreservoir(w, act, mu, sigma, leak, epochs=3)
    res.fit(X)
    res.reset()
    theirs = res.run(X)
    m = IPESN(activation=act, mu=mu, sigma=sigma, leak_rate=leak, ip_learning_rate=2e-3, ip_epochs=3,
              dtype="float64", backend=backend).set_reservoir(w["W"], w["W_in"], w["bias"])
    m.fit(X, X[:, :1])
    assert np.abs(res.a - 1).max() > 1e-2 and np.abs(res.b).max() > 1e-2      # the rule did move a and b
    np.testing.assert_allclose(m.gain_, res.a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.ip_bias_, res.b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.transform(X), theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("act,mu,sigma", TARGETS)
def test_several_sequences_are_one_stream_as_in_reservoirpy(act, mu, sigma):
    """reservoirpy's fit on a list runs the sequences one after the other, the state carried over;
    IPESN does the same on a ragged list and on a padded batch."""
    w = _weights()
    X = np.random.default_rng(1).uniform(-1, 1, (3, 150, 2))
    seqs = [X[0, :90], X[1], X[2, :120]]
    res = _ipreservoir(w, act, mu, sigma, 0.7, epochs=2)
    res.fit(seqs)
    m = IPESN(activation=act, mu=mu, sigma=sigma, leak_rate=0.7, ip_learning_rate=2e-3, ip_epochs=2,
              dtype="float64").set_reservoir(w["W"], w["W_in"], w["bias"])
    m.fit(seqs, [s[:, :1] for s in seqs])
    np.testing.assert_allclose(m.gain_, res.a, rtol=0, atol=1e-10)
    np.testing.assert_allclose(m.ip_bias_, res.b, rtol=0, atol=1e-10)
    res2 = _ipreservoir(w, act, mu, sigma, 0.7, epochs=2)
    res2.fit(list(X))
    m.fit(X, X[..., :1])
    np.testing.assert_allclose(m.gain_, res2.a, rtol=0, atol=1e-10)


@pytest.mark.parametrize("act,mu,sigma", [("tanh", 0.0, 0.3), ("sigmoid", 0.2, 1.0)])
def test_kl_divergence_to_the_target_falls(act, mu, sigma):
    s = _mg()
    u, y = s[:-1], s[1:]
    kw = dict(units=80, activation=act, mu=mu, sigma=sigma, ip_learning_rate=2e-3, washout=100, seed=0)
    before = IPESN(ip_epochs=0, **kw).fit(u, y)               # a = 1, b = 0: no adaptation
    after = IPESN(ip_epochs=3, **kw).fit(u, y)
    assert before.ip_kl_ == [] and len(after.ip_kl_) == 3 and np.all(np.isfinite(after.ip_kl_))
    np.testing.assert_array_equal(before.gain_, 1.0)
    k0, k1 = before.kl_to_target(u), after.kl_to_target(u)
    assert k1 < 0.5 * k0, (k0, k1)
    assert k1 < 0.5                                          # near the target, in nats per unit
    # the method is the function on the states after the washout
    assert k1 == pytest.approx(kl_to_target(after.transform(u)[100:], act, mu=mu, sigma=sigma))
    # and pooled over units it falls too
    assert after.kl_to_target(u, per_unit=False) < before.kl_to_target(u, per_unit=False)


def test_kl_to_target_is_near_zero_on_samples_of_the_target():
    rng = np.random.default_rng(0)
    g = rng.normal(0.1, 0.3, (40_000, 3))
    g = g[np.all(np.abs(g) < 1, axis=1)]                      # the target restricted to tanh's range
    assert kl_to_target(g, "tanh", mu=0.1, sigma=0.3) < 0.01
    e = rng.exponential(0.2, (40_000, 3))
    e = e[np.all(e < 1, axis=1)]
    assert kl_to_target(e, "sigmoid", mu=0.2) < 0.01
    # uniform outputs are far from a narrow Gaussian; a list of sequences is pooled
    uni = rng.uniform(-1, 1, (40_000, 3))
    assert kl_to_target(uni, "tanh", sigma=0.1) > 1.0
    assert kl_to_target([g[:100], g[100:]], "tanh", mu=0.1, sigma=0.3) == kl_to_target(g, "tanh", mu=0.1, sigma=0.3)
    for bad, match in [({"activation": "relu"}, "activation"), ({"sigma": 0.0}, "sigma"),
                       ({"activation": "sigmoid", "mu": 0.0}, "mu"), ({"bins": 1}, "bins")]:
        with pytest.raises(ValueError, match=match):
            kl_to_target(g, **bad)
    with pytest.raises(ValueError, match="NaN"):
        kl_to_target(np.full((5, 2), np.nan))


def test_readout_forecasts_mackey_glass_like_an_esn():
    s = _mg(2500)
    u, y = s[:-1], s[1:]
    kw = dict(units=100, leak_rate=0.3, spectral_radius=1.25, ridge=1e-8, washout=100, seed=0)
    esn = ESN(**kw).fit(u[:2000], y[:2000])
    ip = IPESN(sigma=0.5, ip_learning_rate=1e-3, ip_epochs=2, **kw).fit(u[:2000], y[:2000])
    e_esn = metrics.nrmse(y[2100:], esn.predict(u[2000:])[100:])
    e_ip = metrics.nrmse(y[2100:], ip.predict(u[2000:])[100:])
    assert e_ip < 0.05 and e_ip < 2 * e_esn, (e_ip, e_esn)
    # and the closed loop carries both state variables (net input r, output x) on from the warm-up
    gen = ip.generate(3, u[:2000])
    ref = [ip.predict(u[:2000])[-1]]
    for _ in range(2):
        ref.append(ip.predict(np.concatenate([u[:2000], np.reshape(ref, (-1, 1))]))[-1])
    np.testing.assert_allclose(gen[:, 0], np.ravel(ref), rtol=1e-4, atol=1e-5)


def test_classification_adapts_the_units_too():
    X, lab = make_classification_data(seed=0)
    m = IPESN(units=40, sigma=0.4, ip_learning_rate=5e-3, seed=0).fit(X, lab)
    assert m.task_ == "classification" and m.score(X, lab) > 0.9
    assert np.abs(m.gain_ - 1).max() > 1e-3 and len(m.ip_kl_) == 1


@pytest.mark.parametrize("backend,act", [("numpy", "tanh"), ("numpy", "sigmoid"), ("torch", "tanh")])
def test_check_model(backend, act):
    if backend == "torch":
        pytest.importorskip("torch")
    check_model(IPESN(units=30, activation=act, ip_learning_rate=1e-3, seed=0), backend=backend)


def test_backends_agree():
    pytest.importorskip("torch")
    check_model(IPESN(units=30, activation="sigmoid", dtype="float64", seed=0), cross_backend_tol=1e-9)


def test_save_load_keeps_the_adapted_units(tmp_path):
    s = _mg(600)
    m = IPESN(units=30, sigma=0.5, ip_learning_rate=2e-3, ip_epochs=2, leak_rate=0.5, seed=3).fit(s[:-1], s[1:])
    c = load(m.save(tmp_path / "ip.safetensors"))
    assert isinstance(c, IPESN)
    np.testing.assert_array_equal(c.gain_, m.gain_)
    np.testing.assert_array_equal(c.ip_bias_, m.ip_bias_)
    assert c.ip_kl_ == m.ip_kl_ and c.get_params() == m.get_params()
    np.testing.assert_array_equal(c.predict(s[:-1]), m.predict(s[:-1]))
    np.testing.assert_array_equal(c.generate(5, s[:-1]), m.generate(5, s[:-1]))
    assert m.n_parameters_["trained"] == 30 + 1 + 1 + 2 * 30           # readout (state + input + bias), a, b


@pytest.mark.parametrize("params,match", [
    ({"activation": "relu"}, r"intrinsic plasticity has a rule for 'tanh'.*'sigmoid'"),
    ({"activation": "identity"}, "activation"),
    ({"sigma": 0.0}, r"sigma must be a real number in \(0, inf\)"),
    ({"sigma": -1.0}, "sigma"),
    ({"activation": "sigmoid", "mu": 0.0}, "mu > 0"),
    ({"activation": "sigmoid", "mu": -0.1}, "mu > 0"),
    ({"ip_learning_rate": -1e-3}, "ip_learning_rate"),
    ({"ip_epochs": -1}, "ip_epochs"),
    ({"ip_epochs": 1.5}, "ip_epochs"),
    ({"mu": "zero"}, "mu"),
])
def test_bad_hyperparameters_name_the_argument(params, match):
    s = _mg(100)
    with pytest.raises(ValueError, match=match):
        IPESN(units=10, **params).fit(s[:-1], s[1:])


def test_no_feedback_parameter_and_the_reservoirpy_bridge():
    assert "feedback" not in IPESN().get_params()
    with pytest.raises(TypeError):
        IPESN(feedback=True)
    with pytest.raises(NotImplementedError, match="set_reservoir"):
        IPESN.from_reservoirpy(None)
    pytest.importorskip("reservoirpy")
    w = _weights()
    X = np.random.default_rng(2).uniform(-1, 1, (200, 2))
    m = IPESN(sigma=0.5, ip_learning_rate=2e-3, input_to_readout=False, dtype="float64")
    m.set_reservoir(w["W"], w["W_in"], w["bias"])
    # before fit: the unadapted units (a = 1, b = 0), as a fresh IPReservoir runs them
    np.testing.assert_allclose(m.transform(X), _ipreservoir(w, "tanh", 0.0, 0.5, 1.0, 1).run(X), rtol=0, atol=1e-10)
    m.fit(X, X[:, :1])
    model = m.to_reservoirpy()
    res = model.nodes[0]
    np.testing.assert_array_equal(res.a, m.gain_)
    np.testing.assert_allclose(model.run(X), m.predict(X), rtol=0, atol=1e-10)


def test_runs_in_compare():
    from neurorec.experiment import compare

    df = compare([{"name": "IP", "class": "IPESN", "params": {"units": 40, "sigma": 0.5, "washout": 50}}],
                 [{"name": "mackey_glass", "params": {"n_steps": 800}}], [0], progress=False, track_memory=False,
                 energy_profiles=[])
    test = df[(df.split == "test") & (df.status == "ok")]
    assert len(test) >= 1 and test.value.notna().all() and (test.value < 0.5).all()
