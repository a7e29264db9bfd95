"""Liquid state machine: contract on both backends, brian2 and torch give the same liquid."""

import numpy as np
import pytest

from neurorec.models.spiking.lsm import LSM
from neurorec.models.spiking.network import count_synops
from neurorec.testing import check_model, make_classification_data, make_regression_data

pytest.importorskip("brian2")
torch = pytest.importorskip("torch")

SMALL = dict(units=60, steps_per_input=2, codegen_target="numpy", seed=0)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_check_model(backend):
    check_model(LSM(**SMALL), backend=backend)


def test_brian2_and_torch_liquids_agree():
    """Same seed: the brian2 liquid and the float64 torch liquid spike identically, so features,
    readouts, predictions and SynOps agree to round-off."""
    X, y = make_regression_data()
    a = LSM(**SMALL, backend="numpy").fit(X, y)
    b = LSM(**SMALL, backend="torch").fit(X, y)
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-9)
    np.testing.assert_allclose(a.predict(X), b.predict(X), atol=1e-6)
    assert a.synops_ == b.synops_ > 0
    assert a.rate_ == b.rate_ > 0


def test_features_are_the_filtered_spikes_of_the_network():
    """transform() = exponentially filtered spike trains of the liquid network (run directly
    through the Network description), sampled at the end of each input step."""
    X, y = make_classification_data()
    m = LSM(**SMALL, features="trace", input_to_readout=False, backend="torch").fit(X, y)
    k, a = m.steps_per_input, np.exp(-m.dt / m.tau_filter)
    x = (X - m.x_mean_) / m.x_scale_
    u = np.repeat(np.concatenate([x, np.ones((*x.shape[:2], 1))], axis=2), k, axis=1)
    run = m.network().run(u, engine="numpy")
    u[..., -1] = 0  # the bias is not a synaptic event
    run.synops = count_synops(m.network(), run.spikes, u)
    s = run.spikes["liquid"].astype(float)
    trace = np.zeros_like(s)
    acc = np.zeros(s[:, 0].shape)
    for t in range(s.shape[1]):
        acc = a * acc + s[:, t]
        trace[:, t] = acc
    np.testing.assert_allclose(m.transform(X), trace[:, k - 1::k], atol=1e-9)
    assert m.synops_ == pytest.approx(run.synops / len(X))


def test_liquid_respects_dale_and_connectivity():
    m = LSM(units=200, exc_fraction=0.75, connectivity=0.1, seed=3, backend="torch").fit(*make_classification_data())
    W = m.W_
    assert (W[:150] >= 0).all() and (W[150:] <= 0).all()
    assert np.all(np.diag(W) == 0)
    assert abs((W != 0).mean() - 0.1 * 199 / 200) < 0.01


def test_digits_accuracy():
    from neurorec.data import get_task

    task = get_task("digits")
    d = task.load(0)
    m = LSM(seed=0, backend="torch").fit(d.train.X, d.train.y)
    assert task.score(d.test, m.predict(d.test.X)) >= 0.86  # measured 0.886 (ESN-500: 0.948)


def test_ragged_batch_equals_padded_runs():
    X, y = make_classification_data()
    m = LSM(**SMALL, backend="torch").fit(X, y)
    short = [X[0, :7], X[1]]
    out = m.transform(short)
    # a classifier reads a 2-D X as a table of one-step samples: one sequence goes as a batch of one
    np.testing.assert_allclose(out[0], m.transform(X[None, 0, :7])[0], atol=1e-12)
    np.testing.assert_allclose(out[1], m.transform(X[None, 1])[0], atol=1e-12)


@pytest.mark.parametrize("param,value,match", [
    ("units", 0, "units"), ("connectivity", 0.0, "connectivity"), ("exc_fraction", 1.5, "exc_fraction"),
    ("weight", -1.0, "weight"), ("features", "rates", "features"), ("dt", 10.0, "larger than the time constant"),
    ("tau_syn", -1.0, "tau_syn"), ("codegen_target", "cpp", "codegen_target"), ("classify", "vote", "classify"),
    ("dtype", "float16", "dtype"),
])
def test_bad_parameters(param, value, match):
    X, y = make_classification_data()
    with pytest.raises(ValueError, match=match):
        LSM(**{**SMALL, param: value}).fit(X, y)


def test_cost_of_a_sequence_does_not_depend_on_its_batch():
    """SynOps and rate count the valid steps only: a short sequence costs the same alone or
    padded in a batch with a long one."""
    X, y = make_classification_data()
    m = LSM(**SMALL, backend="torch").fit(X, y)
    alone = []
    for seq in (X[0, :5], X[1]):
        m.transform(seq[None])          # a batch of one (a 2-D X would be a table for a classifier)
        alone.append((m.synops_, m.rate_))
    m.transform([X[0, :5], X[1]])
    assert m.synops_ == pytest.approx((alone[0][0] + alone[1][0]) / 2)
    lengths = np.array([5, X.shape[1]])
    assert m.rate_ == pytest.approx((alone[0][1] * 5 + alone[1][1] * X.shape[1]) / lengths.sum())


@pytest.mark.parametrize("dt", [1.0, 0.5, 0.25])
def test_a_subthreshold_bias_keeps_the_liquid_silent_at_any_dt(dt):
    """A held input settles the synaptic current at its value whatever dt: a bias of 0.9 (threshold
    1) with no input and no recurrence never fires."""
    X = np.zeros((2, 40, 1))
    X[1] = 1.0
    m = LSM(units=20, weight=0.0, input_scaling=0.0, bias=0.9, bias_spread=0.0, dt=dt, normalize=False,
            steps_per_input=int(5 / dt), backend="torch", seed=0).fit(X, np.array([0, 1]))
    m.transform(X)
    assert m.rate_ == 0.0
    m.set_params(bias=1.2)
    m.fit(X, np.array([0, 1])).transform(X)
    assert m.rate_ > 0


# ---------------------------------------------------------------- STDP pre-training of the liquid
STDP_SMALL = dict(SMALL, stdp={"a_pre": 0.02, "a_post": -0.021, "w_max": 1.5})


def test_stdp_learns_within_bounds_on_existing_excitatory_synapses():
    """The plastic synapses (E->E) change, stay in [w_min, w_max] (Dale: >= 0) and exist in the
    initial liquid; every other weight, and the initial liquid itself, are those of stdp=None."""
    X, y = make_classification_data()
    base = LSM(**SMALL, backend="torch").fit(X, y)
    m = LSM(**STDP_SMALL, backend="torch").fit(X, y)
    for name in ("W_", "W_in_", "bias_"):  # same seed, same reservoir before learning
        np.testing.assert_array_equal(getattr(m, name), getattr(base, name))
    W0, W, n = m.W_, m.recurrent_weights(), m.n_exc_
    unit = 2 * m.weight
    ee = np.zeros(W0.shape, bool)
    ee[:n, :n] = W0[:n, :n] != 0
    assert m.W_stdp_.shape == (ee.sum(),)
    np.testing.assert_array_equal(W[ee], m.W_stdp_)
    np.testing.assert_array_equal(W[~ee], W0[~ee])           # E->I, I->*, non-synapses untouched
    assert np.abs(W[ee] - W0[ee]).max() > 0.3 * unit          # weights do change...
    assert 0.0 <= W[ee].min() and W[ee].max() <= 1.5 * unit  # ...within [w_min, w_max]
    assert (W[ee] == 0).any() and (W[ee] == 1.5 * unit).any()
    assert len(m.stdp_rates_) == 1 and m.stdp_rates_[0] > 0
    assert m.n_parameters_["trained"] == base.n_parameters_["trained"] + ee.sum()
    assert not hasattr(base, "W_stdp_") and base.recurrent_weights() is base.W_
    # "e": the excitatory neurons' synapses onto inhibitory neurons learn as well
    e = LSM(**STDP_SMALL, backend="torch", stdp_connections="e").fit(X, y)
    ei = np.zeros(W0.shape, bool)
    ei[:n, n:] = W0[:n, n:] != 0
    We = e.recurrent_weights()
    assert np.abs(We[ei] - W0[ei]).max() > 0 and (We[:n] >= 0).all()
    np.testing.assert_array_equal(We[n:], W0[n:])


def test_stdp_brian2_and_torch_learn_the_same_weights():
    X, y = make_classification_data(batch=6, time=8)
    kw = dict(STDP_SMALL, units=40, stdp_epochs=2)
    a = LSM(**kw, backend="numpy").fit(X, y)
    b = LSM(**kw, backend="torch").fit(X, y)
    assert np.abs(a.W_stdp_ - a.W_[a._plastic_mask()]).max() > 0.1
    np.testing.assert_allclose(a.W_stdp_, b.W_stdp_, atol=1e-12)
    assert a.stdp_rates_ == b.stdp_rates_
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-9)


def test_zero_amplitude_stdp_is_the_liquid_without_stdp():
    """STDP that changes nothing leaves exactly the stdp=None liquid: same initial weights, and the
    learned weights substituted back give bit-identical features."""
    X, y = make_regression_data()
    a = LSM(**SMALL, backend="torch").fit(X, y)
    b = LSM(**SMALL, backend="torch", stdp={"a_pre": 0.0, "a_post": 0.0}).fit(X, y)
    np.testing.assert_array_equal(b.W_stdp_, a.W_[b._plastic_mask()])
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_stdp_sees_one_stream_whatever_the_batching():
    """The training sequences are presented one after another to one liquid: a ragged batch of
    two sequences learns what their concatenation as one sequence learns, whatever batch_size."""
    X, y = make_regression_data(batch=2, time=30)
    ragged = [X[0, :20], X[1]]
    a = LSM(**STDP_SMALL, backend="torch").fit(ragged, [y[0, :20], y[1]])
    b = LSM(**STDP_SMALL, backend="torch", batch_size=1).fit(np.concatenate(ragged), np.concatenate([y[0, :20], y[1]]))
    np.testing.assert_array_equal(a.x_mean_, b.x_mean_)
    np.testing.assert_allclose(a.W_stdp_, b.W_stdp_, atol=1e-12)


def test_check_model_with_stdp():
    check_model(LSM(**STDP_SMALL), backend="torch")


def test_stdp_save_load_keeps_the_learned_weights(tmp_path):
    X, y = make_classification_data()
    m = LSM(**STDP_SMALL, backend="torch").fit(X, y)
    m.save(tmp_path / "lsm.safetensors")
    loaded = LSM.load(tmp_path / "lsm.safetensors")
    assert loaded.stdp == m.stdp and loaded.stdp_rates_ == m.stdp_rates_
    np.testing.assert_array_equal(loaded.W_stdp_, m.W_stdp_)
    np.testing.assert_array_equal(loaded.recurrent_weights(), m.recurrent_weights())
    np.testing.assert_array_equal(loaded.transform(X), m.transform(X))


@pytest.mark.parametrize("params,match", [
    ({"stdp": {"w_min": -0.1}}, "Dale"), ({"stdp": {"tau": 20.0}}, "unknown STDP"),
    ({"stdp": "song"}, "dict of STDP"), ({"stdp": {"w_max": 0.0}}, "w_max"),
    ({"stdp": {"a_pre": "big"}}, "a_pre"), ({"stdp": {}, "weight": 0.0}, "weight"),
    ({"stdp_epochs": 0}, "stdp_epochs"), ({"stdp_connections": "ie"}, "stdp_connections"),
])
def test_bad_stdp_parameters(params, match):
    X, y = make_classification_data()
    with pytest.raises(ValueError, match=match):
        LSM(**{**SMALL, **params}).fit(X, y)
