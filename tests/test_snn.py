"""SpikingClassifier: conformance, numpy/torch agreement, gradients against snntorch, SynOps."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neurorec.train  # noqa: E402
from neurorec.data import get_task  # noqa: E402
from neurorec.models.spiking.snn import SpikingClassifier  # noqa: E402
from neurorec.testing import check_model, make_classification_data  # noqa: E402

FAST = dict(hidden=32, epochs=20, lr=1e-2, batch_size=8, patience=20, seed=0)


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("extra", [{}, {"encoder": "poisson", "readout": "spike_count", "steps_per_input": 2}],
                         ids=["current", "poisson"])
def test_conformance(backend, extra):
    check_model(SpikingClassifier(**FAST, **extra), backend=backend)


def _spy_fit_module(monkeypatch, grab_initial=None, grab_epoch=None, stop_after=None):
    """Wrap neurorec.train.fit_module to see the module before training and after each epoch."""
    real = neurorec.train.fit_module

    def spy(module, *args, **kw):
        if grab_initial is not None:
            grab_initial.update({k: v.detach().clone() for k, v in module.state_dict().items()})

        def callback(epoch, record):
            if grab_epoch is not None:
                grab_epoch[epoch] = {k: (p.detach().clone(), p.grad.detach().clone())
                                     for k, p in module.named_parameters()}
            if stop_after is not None and epoch == stop_after:
                raise KeyboardInterrupt("killed")
        return real(module, *args, **kw, callbacks=(callback,))

    monkeypatch.setattr(neurorec.train, "fit_module", spy)


# ------------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-4), ("float32", 1e-3)])
@pytest.mark.parametrize("config", [
    dict(input_mode="static", encoder="poisson", n_steps=8),
    dict(encoder="delta", steps_per_input=3, readout="membrane_max", reset="zero"),
    dict(encoder="current", recurrent=True, readout="spike_count", hidden=(24, 16)),
], ids=["static-poisson", "delta-max-zero", "recurrent-count"])
def test_numpy_and_torch_backends_agree(config, dtype, tol):
    d = get_task("digits").load(0)
    m = SpikingClassifier(epochs=3, dtype=dtype, seed=1, **{"hidden": 64, **config})
    m.fit(d.train.X, d.train.y)
    X = d.test.X
    logits_t = m.decision_function(X)
    synops_t, rate_t = m.synops_, m.spike_rate_
    m.set_params(backend="numpy")
    logits_n = m.decision_function(X)
    assert logits_n.dtype == np.dtype(dtype)
    assert np.mean(logits_t.argmax(1) == logits_n.argmax(1)) >= 0.99
    assert np.abs(logits_t - logits_n).max() <= tol
    assert 0.01 < rate_t.min() and rate_t.max() < 0.9             # the network is spiking
    assert m.synops_ == pytest.approx(synops_t, rel=1e-3)
    np.testing.assert_allclose(m.spike_rate_, rate_t, rtol=1e-3)


def _snntorch_reference(weights, x, hold, beta, config):
    """The same network written with snntorch.Leaky / RLeaky and nn.Linear, stepped as snntorch's
    tutorials do; returns the class scores."""
    snn = pytest.importorskip("snntorch")
    from snntorch import surrogate

    reset = config.get("reset", "subtract")
    grad = surrogate.fast_sigmoid(slope=25) if config.get("surrogate") == "fast_sigmoid" else surrogate.atan(alpha=2.0)
    beta = torch.tensor(beta, dtype=torch.float64)
    hidden = [torch.nn.Linear(*weights[f"hidden.{l}.weight"].T.shape).double() for l in range(len(config["hidden"]))]
    lifs = []
    for l, layer in enumerate(hidden):
        layer.weight.data.copy_(weights[f"hidden.{l}.weight"])
        layer.bias.data.copy_(weights[f"hidden.{l}.bias"])
        if config.get("recurrent"):
            n = layer.out_features
            lif = snn.RLeaky(beta=beta, linear_features=n, reset_mechanism=reset, spike_grad=grad).double()
            lif.recurrent.weight.data.copy_(weights[f"recurrent.{l}.weight"])
            lif.recurrent.bias.data.zero_()
        else:
            lif = snn.Leaky(beta=beta, reset_mechanism=reset, spike_grad=grad)
        lifs.append(lif)
    out = torch.nn.Linear(*weights["output.weight"].T.shape).double()
    out.weight.data.copy_(weights["output.weight"])
    out.bias.data.copy_(weights["output.bias"])
    count = config.get("readout") == "spike_count"
    out_lif = snn.Leaky(beta=beta, reset_mechanism=reset if count else "none", spike_grad=grad)
    states = [lif.init_rleaky() if config.get("recurrent") else (None, lif.init_leaky()) for lif in lifs]
    mem_out, record = out_lif.init_leaky(), []
    x = x.repeat_interleave(hold, dim=1)
    for t in range(x.shape[1]):
        h = x[:, t]
        for l, (layer, lif) in enumerate(zip(hidden, lifs, strict=True)):
            spk, mem = states[l]
            spk, mem = lif(layer(h), spk, mem) if config.get("recurrent") else lif(layer(h), mem)
            h = spk.double()                                       # snntorch's spikes are float32
            states[l] = (h, mem)
        spk, mem_out = out_lif(out(h), mem_out)
        record.append(spk.double() if count else mem_out)
    record = torch.stack(record, 1)
    if count:
        scores = record.sum(1)
    elif config.get("readout") == "membrane_max":
        scores = record.amax(1)
    else:
        scores = record.mean(1)
    return scores, hidden, lifs, out


@pytest.mark.parametrize("config", [
    dict(hidden=(12,)),
    dict(hidden=(12, 10), reset="zero", readout="membrane_max", steps_per_input=2),
    dict(hidden=(12,), readout="spike_count", surrogate="fast_sigmoid"),
    dict(hidden=(12,), recurrent=True),
], ids=["mean", "two-layers-zero-max-hold", "count-fast-sigmoid", "recurrent"])
def test_training_gradient_equals_snntorch_bptt(monkeypatch, config):
    """One training step: the gradient fit_module sees equals BPTT through the snntorch network."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1.5, (20, 9, 5))
    y = np.arange(20) % 3
    initial, epochs = {}, {}
    _spy_fit_module(monkeypatch, grab_initial=initial, grab_epoch=epochs)
    m = SpikingClassifier(epochs=1, batch_size=20, normalize=None, early_stopping=False, dtype="float64",
                          seed=3, **config)
    m.fit(X, y)
    grads = {k: g for k, (_, g) in epochs[1].items()}
    beta = math.exp(-1.0 / 10.0)                                   # dt = 1 ms, tau_mem = 10 ms
    scores, hidden, lifs, out = _snntorch_reference(initial, torch.from_numpy(X), config.get("steps_per_input", 1),
                                                    beta, config)
    loss = torch.nn.functional.cross_entropy(scores, torch.from_numpy(y))
    loss.backward()
    ref = {f"hidden.{l}.weight": layer.weight.grad for l, layer in enumerate(hidden)}
    ref.update({f"hidden.{l}.bias": layer.bias.grad for l, layer in enumerate(hidden)})
    ref.update({"output.weight": out.weight.grad, "output.bias": out.bias.grad})
    if config.get("recurrent"):
        ref.update({f"recurrent.{l}.weight": lif.recurrent.weight.grad for l, lif in enumerate(lifs)})
    assert set(ref) == set(grads)
    for k, g in grads.items():
        # snntorch's spike function returns float32, so its float64 BPTT passes every spike's
        # gradient through float32: agreement to float32 round-off, not float64's
        assert g.abs().max() > 0, k
        torch.testing.assert_close(g, ref[k], rtol=1e-6, atol=1e-6 * float(ref[k].abs().max()), msg=k)
    assert m.history_["records"][0]["train_loss"] == pytest.approx(loss.item(), rel=1e-12)


# ------------------------------------------------------------------------------- accuracy
def test_digits_rate_coded_reaches_the_measured_accuracy():
    # measured: 0.967 test accuracy (task seed 0), 15 epochs, about 1 s on one CPU thread
    d = get_task("digits").load(0)
    m = SpikingClassifier(hidden=128, input_mode="static", encoder="poisson", n_steps=10, epochs=15, seed=0)
    m.fit(d.train.X, d.train.y, X_val=d.val.X, y_val=d.val.y)
    assert m.score(d.test.X, d.test.y) >= 0.94
    assert m.synops_ > 0 and m.spike_rate_.shape == (1,)


# ------------------------------------------------------------------------------- SynOps
def test_synops_and_spike_rate_by_hand():
    X, y = make_classification_data(features=2, n_classes=2)
    m = SpikingClassifier(hidden=2, epochs=1, normalize=None, backend="numpy", seed=0).fit(X, y)
    # hidden neuron 0 gets 2 x input 0, neuron 1 gets 0.6 x input 1; the zero weights are no synapses
    m.weights_ = {"hidden.0.weight": np.array([[2.0, 0.0], [0.0, 0.6]], np.float32),
                  "hidden.0.bias": np.zeros(2, np.float32),
                  "output.weight": np.array([[1.0, 0.0], [1.0, 1.0]], np.float32),
                  "output.bias": np.zeros(2, np.float32)}
    x = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float32)
    # beta = e^-0.1. neuron 0: U = 2, 0.905*2 + 2 - 1 = 2.81, 0.905*2.81 - 1 = 1.54: spikes at 0, 1, 2.
    # neuron 1: U = 0, 0.6, 0.905*0.6 + 0.6 = 1.14: one spike, at step 2.
    # input: 2 non-zero values of input 0 x 1 synapse + 2 of input 1 x 1 = 4;
    # hidden -> output: 3 spikes x 2 synapses + 1 spike x 1 synapse = 7
    for backend in ("numpy", "torch"):
        m.set_params(backend=backend)
        m.decision_function(x[None])
        assert m.synops_ == 11.0
        np.testing.assert_allclose(m.spike_rate_, [4 / 6])
        # a batch averages over its sequences; padded steps are not counted
        m.predict([x, x[:1]])
        # x[:1]: input 0 once (1 op), neuron 0 spikes once (2 ops) -> 3
        assert m.synops_ == (11.0 + 3.0) / 2
        np.testing.assert_allclose(m.spike_rate_, [(4 + 1) / (2 * 3 + 2 * 1)])
        # every input step held for 2 simulation steps counts its input operations twice
        m.set_params(steps_per_input=2)
        m.decision_function(x[None, :1])
        assert m.synops_ == 2 * 1 + 2 * 2                                 # neuron 0 fires at 0 and 1
        m.set_params(steps_per_input=1)


# ------------------------------------------------------------------------------- ragged batches
@pytest.mark.parametrize("config", [dict(encoder="current", readout="membrane_max"),
                                    dict(encoder="delta", steps_per_input=2),
                                    dict(encoder="current", readout="spike_count", recurrent=True)])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_ragged_batch_equals_one_sequence_at_a_time(config, backend):
    d = get_task("japanese_vowels").load(0)
    m = SpikingClassifier(hidden=32, epochs=2, dtype="float64", backend=backend, seed=0, **config)
    m.fit(d.train.X[:60], d.train.y[:60])
    seqs = d.test.X[:12]
    assert len({len(s) for s in seqs}) > 3
    batch = m.decision_function(seqs)
    single = np.stack([m.decision_function(s[None])[0] for s in seqs])
    np.testing.assert_allclose(batch, single, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------- training mechanics
def test_poisson_training_resumes_from_a_checkpoint_bit_for_bit(tmp_path, monkeypatch):
    X, y = make_classification_data(batch=30)
    kw = dict(hidden=16, encoder="poisson", epochs=4, early_stopping=False, seed=5, batch_size=8)
    full = SpikingClassifier(**kw).fit(X, y)
    path = tmp_path / "snn.ckpt"
    _spy_fit_module(monkeypatch, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        SpikingClassifier(checkpoint=str(path), **kw).fit(X, y)
    monkeypatch.undo()
    resumed = SpikingClassifier(checkpoint=str(path), **kw).fit(X, y)
    for k, v in full.weights_.items():
        np.testing.assert_array_equal(resumed.weights_[k], v, err_msg=k)


def test_poisson_inference_is_repeatable_and_the_same_on_both_backends():
    X, y = make_classification_data()
    m = SpikingClassifier(hidden=16, encoder="poisson", epochs=3, seed=0, dtype="float64").fit(X, y)
    a = m.decision_function(X)
    np.testing.assert_array_equal(a, m.decision_function(X))
    m.set_params(backend="numpy")
    np.testing.assert_allclose(m.decision_function(X), a, atol=1e-10)


def test_static_mode_needs_the_training_length():
    X, y = make_classification_data()
    m = SpikingClassifier(hidden=8, input_mode="static", epochs=1, seed=0).fit(X, y)
    assert m.weights_["hidden.0.weight"].shape == (8, 12 * 3)
    with pytest.raises(ValueError, match="12 steps"):
        m.predict(X[:, :10])
    with pytest.raises(ValueError, match="static"):
        SpikingClassifier(input_mode="static").fit([X[0], X[1, :5]], y[:2])


def test_poisson_without_scaling_needs_unit_interval_data():
    X, y = make_classification_data()
    with pytest.raises(ValueError, match=r"X in \[0, 1\]"):
        SpikingClassifier(encoder="poisson", normalize=None).fit(X, y)
    m = SpikingClassifier(hidden=8, encoder="poisson", normalize=None, epochs=1, seed=0).fit(np.abs(X) / 3, y)
    with pytest.raises(ValueError, match=r"X in \[0, 1\]"):
        m.predict(X + 5)


def test_transform_is_the_readout_and_predict_proba_its_softmax():
    X, y = make_classification_data()
    m = SpikingClassifier(hidden=8, epochs=2, readout="spike_count", seed=0).fit(X, y)
    counts = m.transform(X)
    assert counts.shape == (len(X), 3) and np.all(counts == np.round(counts)) and counts.max() <= 12
    np.testing.assert_array_equal(counts, m.decision_function(X))
    p = m.predict_proba(X)
    np.testing.assert_allclose(p.sum(1), 1.0)
    np.testing.assert_array_equal(m.classes_[p.argmax(1)], m.predict(X))
    assert m.n_parameters_["trained"] == 3 * 8 + 8 + 8 * 3 + 3


@pytest.mark.parametrize("param,value", [
    ("hidden", 0), ("hidden", ()), ("hidden", (16, -1)), ("tau_mem", -5.0), ("dt", 0.0), ("dt", 20.0),
    ("threshold", 0.0), ("reset", "none"), ("recurrent", "yes"), ("surrogate", "relu"), ("surrogate_alpha", -1.0),
    ("encoder", "rate"), ("delta_threshold", 0.0), ("input_mode", "flat"), ("n_steps", 0), ("steps_per_input", 0),
    ("readout", "last"), ("normalize", "l2"), ("optimizer", "lbfgs"), ("lr", 0.0), ("momentum", 1.0),
    ("weight_decay", -1.0), ("lr_schedule", "exp"), ("epochs", 0), ("batch_size", 0), ("clip_norm", 0.0),
    ("patience", 0), ("validation_fraction", 1.0), ("monitor", "acc"), ("backend", "jax"), ("dtype", "float16"),
])
def test_bad_hyperparameters_name_the_argument(param, value):
    X, y = make_classification_data()
    with pytest.raises(ValueError, match=param):
        SpikingClassifier(**{param: value}).fit(X, y)


def test_poisson_with_standard_scaling_is_refused():
    X, y = make_classification_data()
    with pytest.raises(ValueError, match="normalize='minmax'"):
        SpikingClassifier(encoder="poisson", normalize="standard").fit(X, y)


def test_regression_targets_are_refused():
    X, y = make_classification_data()
    with pytest.raises(ValueError, match="classifier"):
        SpikingClassifier().fit(X, np.zeros((len(X), 12, 1)))
