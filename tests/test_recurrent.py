"""Gradient-trained baselines: Elman, Jordan, LSTM, GRU."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurorec import load  # noqa: E402
from neurorec.models import GRU, LSTM, Elman, Jordan  # noqa: E402
from neurorec.testing import check_model, make_classification_data, make_regression_data  # noqa: E402

FAST = dict(units=16, epochs=30, lr=1e-2, batch_size=8, patience=30, min_holdout=0)  # tiny data, still validated


def fast(**kw):
    return {**FAST, **kw}
MODELS = [Elman, Jordan, LSTM, GRU]


def _fit_recording_weights(model, *fit_args):
    """Fit ``model`` and return the network's weights at the end of every epoch, {epoch: weights}."""
    import neurorec.train

    snapshots = {}
    real = neurorec.train.fit_module

    def spy(module, *a, **k):
        def grab(epoch, record):
            snapshots[epoch] = {n: p.detach().clone().numpy() for n, p in module.state_dict().items()}
        return real(module, *a, **k, callbacks=(grab,))

    neurorec.train.fit_module = spy
    try:
        model.fit(*fit_args)
    finally:
        neurorec.train.fit_module = real
    return snapshots


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_conformance(cls, backend):
    check_model(cls(**FAST), backend=backend)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_numpy_and_torch_agree_regression(cls):
    check_model(cls(**FAST), cross_backend_tol=1e-5)


def _both(model, X):
    """Predictions of one fitted model from the torch and then the numpy engine."""
    model.set_params(backend="torch")
    pt = model.predict(X)
    st = model.decision_function(X) if model.task_ == "classification" else None
    model.set_params(backend="numpy")
    pn = model.predict(X)
    sn = model.decision_function(X) if model.task_ == "classification" else None
    return pt, pn, st, sn


@pytest.mark.parametrize("cls,kw", [
    (LSTM, dict(layers=2, bidirectional=True)),
    (GRU, dict(layers=2, bidirectional=True, pooling="mean")),
    (Elman, dict(bidirectional=True, batch_norm=True)),
    (LSTM, dict(batch_norm=True, pooling="mean", dropout=0.2)),
    (Jordan, dict(layers=2, context_decay=0.5)),
    (Jordan, dict(pooling="mean")),
], ids=lambda v: getattr(v, "__name__", None) or "-".join(f"{k}={x}" for k, x in v.items()))
def test_numpy_inference_matches_torch_classifier(cls, kw):
    X, y = make_classification_data(seed=1, batch=30, time=10)
    ragged = [X[i, : 4 + i % 7] for i in range(len(X))]   # lengths 4..10
    m = cls(**fast(**kw, seed=0)).fit(ragged, y)
    pt, pn, st, sn = _both(m, ragged)
    np.testing.assert_array_equal(pt, pn)
    np.testing.assert_allclose(sn, st, atol=1e-5)


@pytest.mark.parametrize("cls,kw", [
    (LSTM, dict(layers=2)), (GRU, dict(bidirectional=True)), (Elman, dict(layers=3)), (Jordan, dict(layers=2)),
], ids=lambda v: getattr(v, "__name__", None) or "-".join(f"{k}={x}" for k, x in v.items()))
def test_numpy_inference_matches_torch_sequence(cls, kw):
    X, y = make_regression_data(seed=2, batch=6, time=40)
    ragged = [X[i, : 20 + 3 * i] for i in range(len(X))]
    yr = [y[i, : 20 + 3 * i] for i in range(len(X))]
    m = cls(**fast(**kw, seed=0, epochs=5)).fit(ragged, yr)
    pt, pn, _, _ = _both(m, ragged)
    for a, b in zip(pt, pn, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_elman_is_torch_rnn_step():
    """The numpy Elman step is h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)."""
    X, y = make_regression_data(seed=3, batch=2, time=6)
    m = Elman(units=3, epochs=1, seed=0, backend="numpy", normalize=False).fit(X, y)
    w = m.weights_
    h = np.zeros((2, 3), np.float32)
    for t in range(6):
        h = np.tanh(X[:, t] @ w["rnn.weight_ih_l0"].T + w["rnn.bias_ih_l0"] + h @ w["rnn.weight_hh_l0"].T
                    + w["rnn.bias_hh_l0"])
    np.testing.assert_allclose(m.predict(X)[:, -1], h @ w["head.weight"].T + w["head.bias"], atol=1e-6)


def test_jordan_context_is_previous_output():
    """Jordan (1986): the hidden layer sees the input and the previous *output*, decayed by mu."""
    X, y = make_regression_data(seed=4, batch=2, time=7)
    mu = 0.3
    m = Jordan(units=5, epochs=2, context_decay=mu, seed=0, backend="numpy", normalize=False).fit(X, y)
    w = m.weights_
    c = np.zeros((2, 1), np.float32)
    outs = []
    for t in range(7):
        h = np.tanh(np.concatenate([X[:, t], c], 1) @ w["jordan.0.weight"].T + w["jordan.0.bias"])
        o = h @ w["head.weight"].T + w["head.bias"]
        c = mu * c + o
        outs.append(o)
    np.testing.assert_allclose(m.predict(X), np.stack(outs, 1), atol=1e-6)
    m.set_params(backend="torch")
    np.testing.assert_allclose(m.predict(X), np.stack(outs, 1), atol=1e-5)


def _delayed_recall(n, delay=15, symbols=4, seed=0):
    """The symbol shown at step 0 must be named after ``delay`` steps of noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, symbols, n)
    X = rng.normal(0, 0.2, (n, delay + 1, symbols + 1)).astype(np.float32)
    X[np.arange(n), 0, y] += 1.0
    X[:, 0, symbols] += 1.0          # marks the cue step
    return X, y


class _NoRecurrence:
    """Mixin: every step starts from the zero state (the batch of sequences is run as a batch
    of one-step sequences), so the network sees only the current input: the recurrence, cell
    state included, is removed and all else is kept."""

    def _new_net(self, *args):
        net = super()._new_net(*args)

        def run(x, lengths, hx=None):
            B, T, F = x.shape
            out, _ = net.rnn(x.reshape(B * T, 1, F))
            out = out.reshape(B, T, -1)
            h = out[torch.arange(B), lengths - 1][None]
            return out, (h, h) if net.cell == "lstm" else h

        net.run = run
        return net


class LSTMNoRec(_NoRecurrence, LSTM):
    pass


class GRUNoRec(_NoRecurrence, GRU):
    pass


@pytest.mark.parametrize("cls,ok", [(LSTM, True), (GRU, True), (LSTMNoRec, False), (GRUNoRec, False)],
                         ids=["LSTM", "GRU", "LSTM-no-recurrence", "GRU-no-recurrence"])
def test_delayed_recall_needs_recurrence(cls, ok):
    """LSTM and GRU recall a symbol 15 steps back (test accuracy >= 95 %); the same networks
    with the recurrent weights held at zero stay near chance (25 %)."""
    X, y = _delayed_recall(600, seed=0)
    Xt, yt = _delayed_recall(400, seed=1)
    m = cls(units=32, epochs=40, lr=1e-2, batch_size=32, seed=0).fit(X, y)
    acc = m.score(Xt, yt)
    if ok:
        assert acc >= 0.95, acc
    else:
        assert acc <= 0.40, acc


def test_forecast_mackey_glass_and_generate():
    """A GRU learns one-step Mackey-Glass prediction (test NRMSE < 0.03; 0.014 measured) and its closed-loop
    forecast is the same from the numpy and the torch engine."""
    from neurorec.data import get_task

    d = get_task("mackey_glass").load(0)
    m = GRU(units=32, epochs=40, lr=1e-2, window=50, batch_size=8, seed=0, washout=100)
    m.fit(d.train.X, d.train.y, d.val.X, d.val.y)
    p = m.predict(d.test.X)
    assert get_task("mackey_glass").score(d.test, p) < 0.03
    g_t = m.generate(50, d.test.X[0, :300])
    m.set_params(backend="numpy")
    g_n = m.generate(50, d.test.X[0, :300])
    np.testing.assert_allclose(g_n, g_t, atol=1e-5)
    assert g_t.shape == (50, 1)
    # the first forecast is the one-step prediction at the last warm-up step
    np.testing.assert_allclose(g_t[0], m.predict(d.test.X[0, :300])[-1], atol=1e-5)


def test_generate_refuses_classifier_and_bidirectional():
    X, y = make_classification_data()
    m = GRU(**fast(epochs=2)).fit(X, y)
    with pytest.raises(ValueError, match="one-step forecaster"):
        m.generate(5, X[0])
    Xr = np.random.default_rng(0).normal(size=(3, 20, 1)).astype(np.float32)
    b = GRU(**fast(epochs=2, bidirectional=True)).fit(Xr[:, :-1], Xr[:, 1:])
    with pytest.raises(ValueError, match="causal"):
        b.generate(5, Xr[0])


def test_early_stopping_restores_best_weights():
    """Training past the best validation epoch, the weights returned are those of the best epoch
    (captured when it ended), and training stopped ``patience`` epochs later."""
    X, y = make_classification_data(seed=0, batch=60, time=8)
    Xv, yv = make_classification_data(seed=1, batch=60, time=8)
    m = LSTM(units=16, epochs=200, lr=3e-2, patience=5, seed=0, lr_schedule=None)
    snapshots = _fit_recording_weights(m, X, y, Xv, yv)
    h = m.history.to_frame()
    assert m.history.stopped_early and len(h) < 200
    assert m.best_epoch_ == int(h["epoch"][h["val_loss"].idxmin()])
    assert len(h) == m.best_epoch_ + 5                       # patience epochs after the best one
    assert m.best_epoch_ != len(h)
    for k, v in snapshots[m.best_epoch_].items():
        np.testing.assert_array_equal(m.weights_[k], v, err_msg=k)
    assert any(not np.array_equal(m.weights_[k], v) for k, v in snapshots[len(h)].items())


def test_killed_training_resumes(tmp_path, monkeypatch):
    """A training killed after epoch 3 and started again continues at epoch 4 and ends with
    the same weights as one that was never interrupted."""
    import neurorec.train

    X, y = make_classification_data(seed=0, batch=40, time=8)
    kw = dict(units=8, epochs=6, lr=1e-2, dropout=0.3, seed=0, early_stopping=False, lr_schedule="cosine")
    ref = LSTM(**kw).fit(X, y)

    real = neurorec.train.fit_module
    seen = []

    def killed_at_3(*a, **k):
        def kill(epoch, record):
            seen.append(epoch)
            if epoch == 3:
                raise KeyboardInterrupt
        return real(*a, **k, callbacks=(kill,))

    ckpt = tmp_path / "lstm.ckpt"
    monkeypatch.setattr(neurorec.train, "fit_module", killed_at_3)
    with pytest.raises(KeyboardInterrupt):
        LSTM(**kw, checkpoint=str(ckpt)).fit(X, y)
    monkeypatch.setattr(neurorec.train, "fit_module", real)
    assert ckpt.exists() and seen == [1, 2, 3]
    resumed = LSTM(**kw, checkpoint=str(ckpt)).fit(X, y)
    assert [r["epoch"] for r in resumed.history_["records"]] == [1, 2, 3, 4, 5, 6]
    for k, v in ref.weights_.items():
        np.testing.assert_array_equal(resumed.weights_[k], v, err_msg=k)


def test_gradient_clipping_is_applied():
    """With clip_norm the recorded pre-clip gradient norm can be large, but a single SGD step
    moves the weights by at most lr * clip_norm."""
    X, y = make_regression_data(seed=0, batch=4, time=30)
    y = y * 1e4                                       # huge errors, huge gradients
    kw = dict(units=8, epochs=1, batch_size=4, optimizer="sgd", momentum=0.0, lr=0.1, seed=0, normalize=False,
              early_stopping=False, lr_schedule=None)
    w0 = Elman(**{**kw, "lr": 1e-30}).fit(X, y).weights_       # ~initial weights
    clipped = Elman(**kw, clip_norm=1.0).fit(X, y)
    free = Elman(**kw, clip_norm=None).fit(X, y)

    def step(m):
        return np.sqrt(sum(float(((m.weights_[k] - w0[k]) ** 2).sum()) for k in w0))

    assert clipped.history_["records"][0]["grad_norm"] > 100
    assert step(clipped) <= 0.1 * 1.0 + 1e-4
    assert step(free) > 10


def test_save_load_inference_without_optimiser(tmp_path):
    X, y = make_classification_data(seed=0)
    m = GRU(**fast(seed=0)).fit(X, y)
    path = m.save(tmp_path / "gru.safetensors")
    loaded = load(path)
    assert isinstance(loaded, GRU) and not hasattr(loaded, "optimizer_")
    np.testing.assert_array_equal(loaded.predict(X), m.predict(X))
    loaded.set_params(backend="numpy")
    np.testing.assert_allclose(loaded.decision_function(X), m.decision_function(X), atol=1e-5)
    assert loaded.n_parameters_ == m.n_parameters_
    # GRU parameter count: 3 gates x (input + hidden + 2 biases) + dense readout
    H, F, C = 16, 3, 3
    assert m.n_parameters_["trained"] == 3 * H * (F + H + 2) + (H + 1) * C


def test_history_plot():
    import matplotlib

    matplotlib.use("Agg")
    X, y = make_classification_data(seed=0)
    m = LSTM(**fast(epochs=3)).fit(X, y)
    frame = m.history.to_frame()
    assert list(frame["epoch"]) == [1, 2, 3] and {"train_loss", "val_accuracy", "lr"} <= set(frame)
    ax = m.history.plot()
    assert len(ax.get_lines()) >= 2


def test_bad_params_are_refused():
    X, y = make_classification_data()
    with pytest.raises(ValueError, match="optimizer"):
        LSTM(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="Jordan"):
        Jordan(bidirectional=True).fit(X, y)
    with pytest.raises(ValueError, match="dropout"):
        GRU(dropout=1.5).fit(X, y)
    with pytest.raises(ValueError, match="X_val"):
        GRU(**FAST).fit(X, y, X_val=np.zeros((2, 5, 7), np.float32), y_val=np.array([0, 1]))
    with pytest.raises(ValueError, match="go together"):
        GRU(**FAST).fit(X, y, y_val=y)
    with pytest.raises(ValueError, match="context_decay"):
        Jordan(context_decay=1.5).fit(X, y)
    with pytest.raises(ValueError, match="momentum"):
        GRU(momentum=1.5).fit(X, y)


def test_without_early_stopping_the_last_weights_are_kept():
    """early_stopping=False: all epochs run and the last epoch's weights are returned, even when
    validation data are scored along the way (as Keras does without its callback)."""
    X, y = make_classification_data(seed=0, batch=40, time=8)
    Xv, yv = make_classification_data(seed=1, batch=40, time=8)
    m = Elman(units=8, epochs=12, lr=5e-2, early_stopping=False, lr_schedule=None, seed=0)
    snapshots = _fit_recording_weights(m, X, y, Xv, yv)
    assert len(m.history_["records"]) == 12
    for k, v in snapshots[12].items():
        np.testing.assert_array_equal(m.weights_[k], v, err_msg=k)


def test_normalisation_makes_defaults_scale_free():
    """Inputs and targets are standardised on the training data inside the model, so the same
    series scaled by 50 and shifted by 300 gives the same relative error."""
    t = np.arange(1200, dtype=np.float32)
    u = np.sin(0.07 * t)[:, None] * np.cos(0.011 * t)[:, None]
    X, y = u[:-1], u[1:]
    kw = dict(units=16, epochs=15, lr=1e-2, batch_size=8, window=50, seed=0)
    a = GRU(**kw).fit(X[:900], y[:900])
    b = GRU(**kw).fit(50 * X[:900] + 300, 50 * y[:900] + 300)
    ea = np.sqrt(np.mean((a.predict(X[900:]) - y[900:]) ** 2)) / y[900:].std()
    eb = np.sqrt(np.mean((b.predict(50 * X[900:] + 300) - (50 * y[900:] + 300)) ** 2)) / (50 * y[900:]).std()
    assert ea < 0.2 and abs(ea - eb) < 1e-3, (ea, eb)
    g = b.generate(5, 50 * X[:300] + 300)                    # closed loop maps back to the caller's scale
    np.testing.assert_allclose(g[0], b.predict(50 * X[:300] + 300)[-1], rtol=1e-5)
    b.set_params(backend="numpy")
    np.testing.assert_allclose(b.generate(5, 50 * X[:300] + 300), g, rtol=1e-5)


def test_float64_numpy_and_torch_agree_to_1e10():
    X, y = make_classification_data(seed=2, batch=20, time=9)
    ragged = [X[i, : 3 + i % 7] for i in range(len(X))]
    m = GRU(**fast(dtype="float64", layers=2, bidirectional=True, epochs=3, seed=0)).fit(ragged, y)
    _, _, st, sn = _both(m, ragged)
    assert st.dtype == np.float64
    np.testing.assert_allclose(sn, st, atol=1e-10)


def test_batch_norm_with_a_last_batch_of_one():
    X, y = make_classification_data(seed=0, batch=37, time=6)    # 33 train -> 32 + 1
    m = GRU(**fast(batch_norm=True, batch_size=32, epochs=2)).fit(X, y)
    assert m.predict(X).shape == (37,)


def test_seed_none_uses_one_split_and_checkpoints_refuse_other_data(tmp_path):
    X, y = make_classification_data(seed=0, batch=40, time=8)
    a = GRU(**fast(epochs=2)).fit(X, y)
    b = GRU(**fast(epochs=2)).fit(X, y)
    assert any(not np.array_equal(a.weights_[k], b.weights_[k]) for k in a.weights_)   # seed=None: fresh
    ckpt = tmp_path / "c.ckpt"
    GRU(**fast(epochs=2, seed=0, checkpoint=str(ckpt))).fit(X, y)
    X2, y2 = make_classification_data(seed=5, batch=40, time=8)
    with pytest.raises(ValueError, match="different model/config"):
        GRU(**fast(epochs=2, seed=0, checkpoint=str(ckpt))).fit(X2, y2)
    with pytest.raises(ValueError, match="different model/config"):
        GRU(**fast(epochs=2, seed=0, pooling="mean", checkpoint=str(ckpt))).fit(X, y)


def test_set_params_after_fit_reaches_the_torch_engine():
    X, y = make_classification_data(seed=0)
    m = LSTM(**fast(epochs=2, seed=0)).fit(X, y)
    s32 = m.decision_function(X)
    m.set_params(dtype="float64")
    m.weights_ = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in m.weights_.items()}
    m.x_mean_, m.x_scale_ = m.x_mean_.astype(np.float64), m.x_scale_.astype(np.float64)
    s64 = m.decision_function(X)
    assert s64.dtype == np.float64
    np.testing.assert_allclose(s64, s32, atol=1e-5)


def test_fit_leaves_global_rngs_alone():
    X, y = make_classification_data(seed=0)
    cpu = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()
    LSTM(**fast(epochs=2, dropout=0.3, seed=0)).fit(X, y)
    assert torch.equal(torch.get_rng_state(), cpu)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("cls", [LSTM, GRU, Elman, Jordan], ids=lambda c: c.__name__)
def test_cuda_training_and_cpu_inference_agree(cls):
    """Trained on CUDA (cuDNN for Elman/LSTM/GRU), the weights give the same outputs through the
    torch CUDA engine and the numpy engine (cuDNN's sums differ in order: 1e-4)."""
    X, y = make_classification_data(seed=0)
    m = cls(**fast(seed=0, backend="torch", device="cuda", layers=2)).fit(X, y)
    assert m.score(X, y) >= 0.9
    s_cuda = m.decision_function(X)
    m.set_params(backend="numpy", device="cpu")
    np.testing.assert_allclose(m.decision_function(X), s_cuda, atol=1e-4)


def test_transform_returns_the_hidden_states_of_the_trained_network():
    """Elman: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) on the standardised inputs, from
    the trained weights; bidirectional networks give both directions; Jordan networks raise."""
    from neurorec.models import GRU, Elman, Jordan

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 9, 3)).astype(np.float32)
    y = rng.normal(size=(6, 9, 2)).astype(np.float32)
    m = Elman(units=5, epochs=2, seed=0).fit(X, y)
    w, xn = m.weights_, (X - m.x_mean_) / m.x_scale_
    h = np.zeros((6, 5))
    for t in range(9):
        h = np.tanh(xn[:, t] @ w["rnn.weight_ih_l0"].T + w["rnn.bias_ih_l0"] + h @ w["rnn.weight_hh_l0"].T
                    + w["rnn.bias_hh_l0"])
        np.testing.assert_allclose(m.transform(X)[:, t], h, atol=1e-5)
    ragged = m.transform([X[0, :4], X[1]])
    assert isinstance(ragged, list) and ragged[0].shape == (4, 5)
    np.testing.assert_allclose(ragged[1], m.transform(X)[1], atol=1e-6)
    assert GRU(units=4, bidirectional=True, epochs=1, seed=0).fit(X, y).transform(X).shape == (6, 9, 8)
    jordan = Jordan(units=4, epochs=1, seed=0).fit(X, y)
    assert not hasattr(jordan, "transform")          # no hidden recurrent state: its context is the output
