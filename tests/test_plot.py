"""neurorec.plot: each plot drawn on a small run, its content checked against the numbers it shows;
and the spiking models' ``record`` against what ``predict``/``transform`` compute."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from neurorec import plot
from neurorec.models import ESN, LSM, Hopfield, ModernHopfield, Oja, SpikingClassifier


@pytest.fixture(scope="module")
def snn():
    rng = np.random.default_rng(0)
    X = rng.random((60, 12, 3))
    y = (X[:, :, 0].mean(1) > 0.5).astype(int)
    return SpikingClassifier(hidden=(20, 10), steps_per_input=2, epochs=2, seed=0).fit(X, y), X


@pytest.fixture(scope="module")
def lsm():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 40, 2))
    Y = rng.standard_normal((3, 40, 1))
    return LSM(units=60, backend="torch", seed=0).fit(X, Y), X


def _offsets(ax):
    return np.concatenate([c.get_offsets() for c in ax.collections]) if ax.collections else np.zeros((0, 2))


def test_classifier_record_is_what_predict_computes(snn):
    model, X = snn
    run = model.record(X[:8])
    assert set(run.spikes) == {"input", "hidden0", "hidden1"}
    assert run.spikes["hidden0"].shape == (8, 24, 20) and run.states[("hidden1", "v")].shape == (8, 24, 10)
    model.predict(X[:8])
    for layer, rate in enumerate(model.spike_rate_):          # spikes per neuron and step
        np.testing.assert_allclose(run.rates(f"hidden{layer}").mean() * run.dt * 1e-3, rate, rtol=1e-6)
    pooled = run.states[("output", "v")]
    pooled = pooled.mean(1) if model.readout == "membrane_mean" else pooled.max(1)
    np.testing.assert_allclose(pooled, model.transform(X[:8]), rtol=1e-4, atol=1e-5)
    # a spike is exactly a membrane above threshold
    v, s = run.states[("hidden0", "v")], run.spikes["hidden0"]
    np.testing.assert_array_equal(s > 0, v > model.threshold)
    with pytest.raises(ValueError, match="unknown variable"):
        model.record(X[:2], variables=("i_syn",))


def test_lsm_record_is_what_transform_simulates(lsm):
    model, X = lsm
    run = model.record(X, variables=("v", "i_syn"))
    k = model.steps_per_input
    assert run.spikes["liquid"].shape == (3, 40 * k, 60)
    model.transform(X)
    np.testing.assert_allclose(run.rates("liquid").mean(), model.rate_, rtol=1e-9)
    with pytest.raises(ValueError, match="unknown variable"):
        model.record(X, variables=("w",))


def test_raster_draws_every_spike_of_the_sample(snn):
    model, X = snn
    run = model.record(X[:4])
    fig = plot.raster(run, sample=2)
    assert isinstance(fig, Figure)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title().split(":")[0] for a in axes] == ["hidden0", "hidden1"][:len(axes)]
    for a in axes:
        pop = a.get_title().split(":")[0]
        s = run.spikes[pop][2]
        t, i = np.nonzero(s)
        got = _offsets(a)
        assert len(got) == len(t) == int(a.get_title().split(": ")[1].split(" ")[0])
        np.testing.assert_allclose(np.sort(got[:, 0]), np.sort(t * run.dt))
        assert f"{run.rates(pop).mean():.1f} Hz" in a.get_title()
    assert axes[-1].get_xlabel() == "time (ms)"
    with pytest.raises(ValueError, match="no spikes recorded"):
        plot.raster(run, "liquid")


def test_raster_and_traces_of_an_lsm_into_given_axes(lsm):
    model, X = lsm
    run = model.record(X[:1])
    fig = Figure()
    ax1, ax2 = fig.subplots(2)
    assert plot.raster(run, "liquid", ax=ax1) is fig
    assert len(_offsets(ax1)) == int(run.spikes["liquid"][0].sum())
    plot.traces(run, "liquid", "v", neurons=[0, 5, 7], threshold=1.0, ax=ax2)
    lines = [ln for ln in ax2.lines if ln.get_label().startswith("neuron")]
    assert [ln.get_label() for ln in lines] == ["neuron 0", "neuron 5", "neuron 7"]
    np.testing.assert_allclose(lines[1].get_ydata(), run.states[("liquid", "v")][0, :, 5])
    assert any(ln.get_label() == "threshold" for ln in ax2.lines)
    with pytest.raises(ValueError, match="was not recorded"):
        plot.traces(run, "liquid", "u")


def test_states_and_their_pca():
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(2)
    u = rng.standard_normal((1, 300, 1))
    esn = ESN(units=50, seed=0).fit(u[:, :-1], u[:, 1:])
    x = esn.transform(u)[0].astype(np.float64)
    fig = plot.states(x, units=4)
    assert len(fig.axes[0].lines) == 4
    np.testing.assert_allclose(fig.axes[0].lines[2].get_ydata(), x[:, 2])
    fig = plot.state_pca(x)
    pca = PCA(2).fit(x)
    got = _offsets(fig.axes[0])
    ref = pca.transform(x)
    np.testing.assert_allclose(np.abs(got), np.abs(ref), rtol=1e-6, atol=1e-9)   # up to the sign of each PC
    assert fig.axes[0].get_xlabel() == f"PC1 ({pca.explained_variance_ratio_[0]:.0%})"
    with pytest.raises(ValueError, match="time, units"):
        plot.states(np.zeros((2, 3, 4)))


def test_hopfield_energy_falls_to_a_stored_pattern():
    rng = np.random.default_rng(3)
    P = np.sign(rng.standard_normal((3, 64)))
    net = Hopfield(update="sync").fit(P)
    cue = P[1].copy()
    cue[rng.choice(64, 8, replace=False)] *= -1
    fig = plot.hopfield_recall(net, cue, sweeps=6, stored=P, shape=(8, 8))
    energy = fig.axes[0].lines[0].get_ydata()
    assert len(energy) == 7 and np.all(np.diff(energy) <= 1e-9) and energy[-1] < energy[0]
    assert energy[-1] == pytest.approx(float(net.energy(P[1:2])[0]))          # settled in the stored pattern
    images = [a for a in fig.axes if a.images]
    assert [a.get_title() for a in images] == ["stored 0", "stored 1", "stored 2", "cue", "recalled (6 sweeps)"]
    np.testing.assert_array_equal(images[-1].images[0].get_array().ravel(), P[1])
    modern = ModernHopfield(beta=4.0).fit(P)
    fig = plot.hopfield_recall(modern, cue, sweeps=3, patterns=2)                 # patterns_ by default
    assert len([a for a in fig.axes if a.lines]) == 5                          # energy + 2 patterns + cue + recalled


def test_oja_weights_align_with_the_top_eigenvector():
    rng = np.random.default_rng(4)
    C = np.array([[3.0, 1.0], [1.0, 1.0]])
    X = rng.multivariate_normal([0, 0], C, size=4000)
    model = Oja(n_components=1, lr=0.01, seed=0)
    fig = plot.hebbian_weights(model, X, chunks=10)
    align, norm = fig.axes[0].lines[0].get_ydata(), fig.axes[1].lines[0].get_ydata()
    assert len(align) == 10 and align[-1] > 0.99 and abs(norm[-1] - 1) < 0.05
    assert not hasattr(model, "components_")          # the given model is left untouched


def test_weight_histogram_counts_every_weight():
    w = np.r_[np.zeros(40), np.full(60, 0.01)]
    fig = plot.weight_histogram(w, initial=np.full(100, 0.005), w_max=0.01, bins=10)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == 200                        # final and initial, 100 each
    assert any(ln.get_xdata()[0] == 0.01 for ln in ax.lines)


def test_confusion_matrix_matches_scikit_learn():
    from sklearn.metrics import confusion_matrix

    y = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0, 2])
    fig = plot.confusion(y, p)
    texts = [int(t.get_text()) for t in fig.axes[0].texts]
    assert texts == confusion_matrix(y, p).ravel().tolist()
    assert fig.axes[0].get_title() == f"accuracy {np.mean(y == p):.3f}"


def test_forecast_marks_the_free_run():
    t = np.linspace(0, 20, 200)
    truth, pred = np.sin(t), np.sin(t) + np.r_[np.zeros(150), 0.1 * np.ones(50)]
    fig = plot.forecast(truth, pred, start=1000, free_run=1150)
    ax = fig.axes[0]
    nrmse = np.sqrt(np.mean(0.1 ** 2)) / np.std(truth)
    labels = [ln.get_label() for ln in ax.lines]
    assert f"forecast (free run NRMSE {nrmse:.3g})" in labels
    assert any(np.all(np.asarray(ln.get_xdata()) == 1150) for ln in ax.lines)
    assert ax.lines[0].get_xdata()[0] == 1000


def test_learning_curves_from_a_model_history(snn):
    model, _ = snn
    fig = plot.learning_curves(model.history)
    loss_ax = fig.axes[0]
    assert [ln.get_label() for ln in loss_ax.lines] == [c for c in model.history.keys() if "loss" in c]
    assert len(loss_ax.lines[0].get_ydata()) == model.epochs


def test_wrong_number_of_axes_is_refused():
    fig = Figure()
    with pytest.raises(ValueError, match="must be 2 Axes"):
        plot.learning_curves({"loss": [1, 0.5]}, ax=fig.subplots(1))


def test_quantized_classifier_records_its_integer_network(snn):
    pytest.importorskip("nir")
    from neurorec.hardware import quantize

    model, X = snn
    q = quantize(model, "loihi")
    run = q.record(X[:6])
    q.predict(X[:6])
    for layer, rate in enumerate(q.spike_rate_):            # the integer network's spikes, not the float one's
        np.testing.assert_allclose(run.rates(f"hidden{layer}").mean() * run.dt * 1e-3, rate, rtol=1e-9)
    pooled = run.states[("output", "v")]
    pooled = pooled.mean(1) if q.readout == "membrane_mean" else pooled.max(1)
    np.testing.assert_allclose(pooled, q.transform(X[:6]), rtol=1e-9, atol=1e-12)
    # membranes are integers times the layer's LSB: a spike is exactly a membrane above threshold
    plan = q._plans()[0]
    v = np.round(run.states[("hidden0", "v")] / plan.lsb)
    np.testing.assert_array_equal(run.spikes["hidden0"] > 0, v > plan.threshold)
