"""Training on small data sets (issue 15): a least number of optimiser steps, input scaling,
sequence pooling; the defaults are above chance on UCR/UEA training sets of 20-50 series."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurorec.train import fit_module  # noqa: E402


def _toy(n=20):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, generator=g)
    return X, X @ torch.tensor([[1.0], [-2.0], [0.5]])


def _stalling_validate():
    calls = {"n": 0}

    def validate(module):
        calls["n"] += 1
        return {"val_loss": 1.0 if calls["n"] == 1 else 2.0}   # best at epoch 1, then never better
    return validate


def mse(m, b):
    return torch.nn.functional.mse_loss(m(b[0]), b[1])


def test_min_steps_raises_epochs_and_patience_on_one_batch_per_epoch():
    X, y = _toy(20)                        # batch 32 > 20 samples: one step per epoch
    h = fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=5, batch_size=32, lr=1e-2, min_steps=40)
    assert len(h) == 40                    # 40 epochs of one step
    h = fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=100, batch_size=32, patience=2,
                   validate=_stalling_validate(), min_steps=40)
    assert h.stopped_early and len(h) == 1 + 10      # patience raised to ceil(40 / 4) epochs
    h = fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=100, batch_size=32, patience=2,
                   validate=_stalling_validate())
    assert h.stopped_early and len(h) == 1 + 2       # without it: two epochs, two steps


def test_min_steps_counts_steps_not_epochs():
    X, y = _toy(20)                        # batch 5: four steps per epoch
    h = fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=2, batch_size=5, lr=1e-2, min_steps=40)
    assert len(h) == 10
    h = fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=20, batch_size=5, lr=1e-2, min_steps=40)
    assert len(h) == 20                    # more epochs than min_steps needs: unchanged
    with pytest.raises(ValueError, match="min_steps"):
        fit_module(torch.nn.Linear(3, 1), mse, (X, y), min_steps=-1)


def _first_cut(h, lr):
    return next(r["epoch"] for r in h.records if r["lr"] < lr)


def test_min_steps_stretches_the_plateau_schedule_without_early_stopping():
    # a training loss that never improves: the plateau schedule halves the rate after its
    # patience; with min_steps it must wait min_steps/8 steps, not 5 epochs of 1 step (on
    # ArrowHead's 36 series that halved a GRU's rate to nothing within 250 of its 1000 steps)
    # epoch 1 is the best; patience + 1 bad epochs later the next epoch runs at half the rate
    X, y = _toy(20)

    def flat(m, b):
        return (m(b[0]) * 0.0).sum() + 1.0
    h = fit_module(torch.nn.Linear(3, 1), flat, (X, y), epochs=5, batch_size=32, lr=1e-2,
                   lr_schedule="plateau", min_steps=160)
    assert len(h) == 160 and _first_cut(h, 1e-2) == 20 + 3       # patience ceil(160 / 8) epochs
    h = fit_module(torch.nn.Linear(3, 1), flat, (X, y), epochs=40, batch_size=32, lr=1e-2,
                   lr_schedule="plateau")
    assert _first_cut(h, 1e-2) == 5 + 3                              # without it: 5 epochs


def _seqs(n=20, T=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, T, 2)).astype(np.float32) + y[:, None, None] * 0.8
    return X, y


@pytest.mark.parametrize("make", [
    lambda **k: __import__("neurorec.models", fromlist=["GRU"]).GRU(units=4, **k),
    lambda **k: __import__("neurorec.models", fromlist=["SpikingClassifier"]).SpikingClassifier(hidden=8, **k),
])
def test_models_take_min_steps_only_when_epochs_is_none(make):
    X, y = _seqs()
    m = make(min_steps=150, batch_size=64, early_stopping=False, seed=0).fit(X, y)
    assert len(m.history_["records"]) == 150         # 20 series, batch 64: 150 epochs of one step
    m = make(epochs=3, min_steps=150, batch_size=64, early_stopping=False, seed=0).fit(X, y)
    assert len(m.history_["records"]) == 3           # an explicit epochs is kept exactly


@pytest.mark.parametrize("make", [
    lambda **k: __import__("neurorec.models", fromlist=["GRU"]).GRU(units=4, **k),
    lambda **k: __import__("neurorec.models", fromlist=["SpikingClassifier"]).SpikingClassifier(hidden=8, **k),
])
def test_no_hold_out_smaller_than_min_holdout(make):
    # 40 series, validation_fraction 0.1: a 4-series hold-out is below min_holdout=20, so
    # every epoch runs on all 40 series, nothing is validated and the last weights are kept
    X, y = _seqs(40)
    m = make(epochs=6, seed=0).fit(X, y)
    h = m.history_["records"]
    assert len(h) == 6 and "val_loss" not in h[0] and m.best_epoch_ == 6
    # min_holdout=0 (the behaviour before it): 4 series held out, validated every epoch
    m = make(epochs=6, min_holdout=0, seed=0).fit(X, y)
    assert "val_loss" in m.history_["records"][0]
    # 200 series: the 20-series hold-out is used
    X, y = _seqs(200)
    m = make(epochs=2, seed=0).fit(X, y)
    assert "val_loss" in m.history_["records"][0]
    # validation data passed to fit are always used
    m = make(epochs=2, seed=0).fit(X[:40], y[:40], X[40:44], y[40:44])
    assert "val_loss" in m.history_["records"][0]
    with pytest.raises(ValueError, match="min_holdout"):
        make(min_holdout=-1).fit(X, y)


def test_spiking_classifier_standardises_a_current_input_by_default():
    from neurorec.models import SpikingClassifier

    X, y = _seqs()
    m = SpikingClassifier(hidden=8, epochs=1, seed=0).fit(X * 10 + 3, y)
    assert m._normalization() == "standard"
    np.testing.assert_allclose(m.x_offset_, (X * 10 + 3).reshape(-1, 2).mean(0), rtol=1e-4)
    assert SpikingClassifier(encoder="poisson")._normalization() == "minmax"
    assert SpikingClassifier(normalize=None)._normalization() is None


def test_esn_classifies_by_the_mean_state_by_default():
    # two classes that differ only in the first half of a 200-step series: the last state of
    # a fading-memory reservoir has forgotten it, the mean state has not
    from neurorec.models import ESN

    rng = np.random.default_rng(0)
    n, T = 60, 200
    y = np.arange(n) % 2
    X = rng.normal(scale=0.3, size=(n, T, 1)).astype(np.float32)
    X[:, :100, 0] += np.where(y[:, None] == 1, 1.0, -1.0)
    tr, te = slice(0, 40), slice(40, None)
    mean = ESN(units=50, seed=0).fit(X[tr], y[tr])
    last = ESN(units=50, classify="last", seed=0).fit(X[tr], y[tr])
    assert mean.classify == "mean" and mean.score(X[te], y[te]) == 1.0
    assert last.score(X[te], y[te]) < 0.8


SMALL = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ESN", "SpikingClassifier", "LSTM", "GRU", "Elman", "LSM",
                                  "ReservoirModelSpace"])
def test_defaults_are_well_above_chance_on_small_ucr_training_sets(name):
    # the train split of ucr:<Name>: 29-54 series; the official test set
    pytest.importorskip("aeon")
    import neurorec.models as M
    from neurorec.data import get_task

    if not hasattr(M, name):
        pytest.skip(f"no {name}")
    for ds in SMALL:
        d = get_task(f"ucr:{ds}").load(0)
        model = getattr(M, name)(seed=0).fit(d.train.X, d.train.y)
        acc = float(np.mean(model.predict(d.test.X) == d.test.y))
        chance = np.bincount(d.test.y).max() / len(d.test.y)
        assert acc >= chance + 0.10, f"{name} on {ds}: {acc:.3f} (majority class {chance:.3f})"


# ---------------------------------------------------------------- calibrated probabilities

@pytest.mark.parametrize("n, D, ridge, tol", [(30, 5, 1e-3, 1e-12), (20, 50, 1.0, 1e-10), (100, 10, 0.0, 1e-12),
                                              (20, 50, 1e-6, 1e-6)])
def test_loo_ridge_predictions_equal_refitting_without_each_row(n, D, ridge, tol):
    from neurorec.backends import get_ops
    from neurorec.models.readout import RidgeAccumulator, loo_ridge_predictions

    rng = np.random.default_rng(0)
    Z, Y = rng.normal(size=(n, D)), np.eye(3)[rng.integers(0, 3, n)]
    ops = get_ops("numpy", "cpu", "float64")
    ref = np.empty_like(Y)
    for i in range(n):
        keep = np.arange(n) != i
        acc = RidgeAccumulator(ops, D, 3)
        acc.add(Z[keep], Y[keep])
        W, b = acc.solve(ridge)
        ref[i] = Z[i] @ W + b
    np.testing.assert_allclose(loo_ridge_predictions(Z, Y, ridge), ref, atol=tol)


def test_esn_probabilities_are_not_saturated_on_fewer_sequences_than_units():
    # 40 noisy sequences, 200 units: the ridge readout interpolates its training set, so a
    # temperature fitted on training scores made nearly every probability 0 or 1 (mean top
    # probability 0.9998, log-loss 300 on new data); fitted on leave-one-out scores the mean
    # top probability matches the accuracy
    from neurorec.models import ESN

    def data(n, seed):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 3, n)
        t = np.arange(30)[None, :, None]
        X = np.sin(0.3 * (y[:, None, None] + 1) * t) + 0.5 * rng.normal(size=(n, 30, 1))
        return X, y

    X, y = data(40, 0)
    Xt, yt = data(400, 1)
    m = ESN(units=200, seed=0).fit(X, y)
    assert np.mean(m.predict(X) == y) == 1.0                    # interpolated
    p = m.predict_proba(Xt)
    np.testing.assert_array_equal(m.classes_[p.argmax(1)], m.predict(Xt))
    acc = np.mean(m.predict(Xt) == yt)
    assert acc > 0.7                                             # 0.81 here
    assert abs(p.max(1).mean() - acc) < 0.1                      # confidence ~ accuracy (0.83)
    assert -np.log(p[np.arange(len(yt)), yt]).mean() < 0.7       # 0.53; log 3 = 1.10 is chance
    S = m.decision_function(Xt)
    train_T = ESN(units=200, seed=0).fit(X, y)
    train_T._fit_temperature(train_T.decision_function(X), y)     # the old way, for contrast
    assert train_T.proba_temperature_ < 0.01 * m.proba_temperature_
    assert S.shape == p.shape
