"""HistoryCompressor (Schmidhuber 1992) and the long-lag task.

Checks the surprise stream against a level-0 predictor whose predictions are known exactly (an
Elman network with hand-set weights that knows the chain), the input rate and the accuracy on
the long-lag task against a plain Elman network under the same truncation, the two-network
(automatizer / chunker) form, the model contract (``check_model`` on its continuous data, with a
numeric surprise threshold), save/load, input errors and seeding; and the task's layout."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import neurorec
from neurorec.data.history import long_lag_chain, long_lag_sequences, long_lag_task
from neurorec.models import Elman, HistoryCompressor
from neurorec.testing import check_model, make_classification_data

pytest.importorskip("torch")

# measured on seeds 0-2 (n_train=96): level-0 surprise rate exactly 1/21 and test accuracy 1.0
# for the compressor, 0.5 for the plain Elman network with the same window, 0.4-3 s per fit
FAST = {"units": 32, "window": 5, "epochs": 30, "lr": 1e-2}
RATE = 1 / 21


@pytest.fixture(scope="module")
def lag_data():
    return long_lag_task(n_train=96, n_val=16, n_test=64).load(0)


@pytest.fixture(scope="module")
def fitted(lag_data):
    return HistoryCompressor(predictor_params=FAST, seed=0).fit(lag_data.train.X, lag_data.train.y)


# ------------------------------------------------------------------------------------------
# the surprise stream of a known predictor
# ------------------------------------------------------------------------------------------

def _oracle(chain, n_symbols: int) -> Elman:
    """An Elman network that predicts the long-lag stream perfectly: after a marker the first
    chain symbol, after chain[k] chain[k+1], after the last chain symbol 0.5 on each marker.
    Hidden layer h = tanh(20 x) (one unit per symbol, no recurrence), output P h / tanh(20)."""
    n = n_symbols
    P = np.zeros((n, n), np.float32)
    P[chain[0], [0, 1]] = 1.0
    for a, b in zip(chain[:-1], chain[1:], strict=True):
        P[b, a] = 1.0
    P[[0, 1], chain[-1]] = 0.5
    m = Elman(units=n, seed=0)
    z = np.zeros(n, np.float32)
    m.weights_ = {"rnn.weight_ih_l0": 20 * np.eye(n, dtype=np.float32),
                  "rnn.weight_hh_l0": np.zeros((n, n), np.float32), "rnn.bias_ih_l0": z, "rnn.bias_hh_l0": z,
                  "head.weight": (P / np.tanh(20.0)).astype(np.float32), "head.bias": z}
    m.x_mean_, m.x_scale_, m.y_mean_, m.y_scale_ = z, z + 1, z, z + 1
    m.n_features_in_ = m.n_outputs_ = n
    m.task_ = "regression"
    return m


@pytest.mark.parametrize("surprise", [0.3, "argmax"])
def test_surprises_of_a_perfect_predictor_are_the_markers(surprise):
    chain = long_lag_chain(0)
    X, y = long_lag_sequences(40, chain, 22, blocks=3, rng=0)
    model = HistoryCompressor(predictor_params={"units": 8, "epochs": 1}, surprise=surprise, seed=0).fit(X, y)
    model._levels[0] = _oracle(chain, 22)           # replace level 0 by the known predictor
    streams = model.compress(X)
    assert np.array_equal(streams[0].inputs[3], X[3]) and np.array_equal(streams[0].steps[3], np.arange(63))
    markers = X[:, ::21, :2].argmax(-1)             # (40, 3): the three markers of every sample
    for i, (inp, steps) in enumerate(zip(*streams[1], strict=True)):
        if surprise == "argmax":
            # a 50/50 prediction's arg-max is marker 0: a marker 0 after a block is "predicted"
            expected = [0] + [21 * k for k in (1, 2) if markers[i, k] == 1]
        else:
            expected = [0, 21, 42]
        assert steps.tolist() == expected
        assert np.array_equal(inp[:, :22], X[i, expected])                 # the inputs themselves
        assert np.array_equal(inp[:, 22], np.diff(expected, prepend=-1))   # time stamps: the gaps
    if surprise == 0.3:
        assert sum(len(s) for s in streams[1].steps) / X[:, :, 0].size == pytest.approx(RATE)


# ------------------------------------------------------------------------------------------
# the long-lag task: compression against truncation
# ------------------------------------------------------------------------------------------

def test_compressor_learns_the_long_lag_task(fitted, lag_data):
    # level 0 learns the chain: its only surprises are the markers, 1 step in 21
    assert fitted.input_rates_[0] == 1.0
    assert RATE <= fitted.input_rates_[1] <= RATE + 0.01
    assert fitted.score(lag_data.test.X, lag_data.test.y) >= 0.95
    stream = fitted.compress(lag_data.test.X)[1]
    assert all(s.tolist() == [0] for s in stream.steps)       # the marker, one step before the answer
    assert len(fitted.levels_) == 2 and fitted.levels_[0].window == 5


def test_plain_elman_with_the_same_truncation_stays_at_chance(lag_data):
    plain = HistoryCompressor(predictor_params=FAST, levels=1, seed=0).fit(lag_data.train.X, lag_data.train.y)
    assert plain.input_rates_ == [1.0]
    # measured 0.50 on seeds 0-2: a window of 5 steps never holds the marker and the last step together
    assert plain.score(lag_data.test.X, lag_data.test.y) <= 0.65


def test_chunker_form(lag_data):
    d = lag_data       # with the task's validation split: every level early-stops on its compressed form
    m = HistoryCompressor(predictor_params=FAST, form="chunker", seed=0).fit(d.train.X, d.train.y, d.val.X, d.val.y)
    assert len(m.collapse_rates_) == 2 and len(m.collapse_r2_) == 1
    assert m.input_rates_[1] == m.collapse_rates_[-1]
    assert RATE <= m.input_rates_[1] <= RATE + 0.01
    assert m.score(lag_data.test.X, lag_data.test.y) >= 0.95
    F = lag_data.train.X.shape[2]
    # the automatizer also predicts the chunker's hidden state
    assert m.automatizer_.n_outputs_ == F + m.chunker_.units
    assert m.chunker_ is m.levels_[1]


def test_full_classifier_and_three_levels():
    d = long_lag_task(blocks=3, n_train=64, n_val=8, n_test=32).load(1)
    full = HistoryCompressor(predictor_params=FAST, classifier="full", seed=1).fit(d.train.X, d.train.y)
    assert full.score(d.test.X, d.test.y) >= 0.95
    assert RATE <= full.input_rates_[1] <= RATE + 0.01
    # level 1 gets the markers, which nothing predicts: it passes all of them on to level 2
    three = HistoryCompressor(predictor_params=FAST, levels=3, seed=1).fit(d.train.X, d.train.y)
    assert three.input_rates_[2] == pytest.approx(three.input_rates_[1])
    assert three.score(d.test.X, d.test.y) >= 0.95
    assert len(three.compress(d.test.X)) == 3


@pytest.mark.parametrize("predictor", ["LSTM", "GRU"])
def test_gated_predictors(predictor, lag_data):
    m = HistoryCompressor(predictor, FAST, seed=0).fit(lag_data.train.X, lag_data.train.y)
    assert RATE <= m.input_rates_[1] <= RATE + 0.01
    assert m.score(lag_data.test.X, lag_data.test.y) >= 0.95


# ------------------------------------------------------------------------------------------
# the model contract
# ------------------------------------------------------------------------------------------

def test_check_model():
    # check_model's classification data are continuous (24, 12, 3): the numeric surprise
    # threshold (the default, 0.3) applies to them; surprise="argmax" would refuse them
    check_model(HistoryCompressor(predictor_params={"units": 16, "epochs": 60}, seed=0))


def test_save_load_round_trip(fitted, lag_data, tmp_path):
    path = fitted.save(tmp_path / "hc.safetensors")
    loaded = neurorec.load(path)
    assert isinstance(loaded, HistoryCompressor) and "_levels" not in vars(loaded)
    X = lag_data.test.X
    assert np.array_equal(loaded.predict(X), fitted.predict(X))
    a, b = fitted.compress(X), loaded.compress(X)
    for la, lb in zip(a, b, strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(la.inputs, lb.inputs, strict=True))
        assert all(np.array_equal(u, v) for u, v in zip(la.steps, lb.steps, strict=True))
    assert loaded.input_rates_ == fitted.input_rates_
    assert [m.get_params() for m in loaded.levels_] == [m.get_params() for m in fitted.levels_]
    assert loaded.n_parameters_ == fitted.n_parameters_ == {
        k: sum(m.n_parameters_[k] for m in fitted.levels_) for k in ("total", "trained")}
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError):
        HistoryCompressor.load(path)


def test_single_sequence_and_numpy_backend(fitted, lag_data):
    X = lag_data.test.X
    s = fitted.compress(X[2])
    assert isinstance(s[1].inputs, np.ndarray) and s[1].steps.tolist() == [0]
    # a 2-D X is a table of one-step samples for a classifier (issue 13): one sequence is X[2][None]
    assert fitted.predict(X[2][None])[0] == fitted.predict(X[2:3])[0]
    assert fitted.predict(X[2]).shape == (X.shape[1],)
    # training runs in torch either way; the numpy backend predicts from the same weights
    np_model = HistoryCompressor(predictor_params=dict(FAST, backend="numpy"), seed=0)
    np_model.fit(lag_data.train.X, lag_data.train.y)
    assert np_model.levels_[0].backend == "numpy"
    for k, v in fitted.level_arrays_.items():
        np.testing.assert_allclose(np_model.level_arrays_[k], v, atol=1e-6)
    assert np.array_equal(np_model.predict(X), fitted.predict(X))
    assert all(np.array_equal(a, b) for a, b in zip(np_model.compress(X)[1].steps, fitted.compress(X)[1].steps,
                                                    strict=True))


def test_seed_reproducible(lag_data):
    X, y = lag_data.train.X[:48], lag_data.train.y[:48]
    pp = dict(FAST, epochs=3)
    a = HistoryCompressor(predictor_params=pp, seed=3).fit(X, y)
    b = HistoryCompressor(predictor_params=pp, seed=3).fit(X, y)
    c = HistoryCompressor(predictor_params=pp, seed=4).fit(X, y)
    assert a.level_arrays_.keys() == b.level_arrays_.keys()
    assert all(np.array_equal(v, b.level_arrays_[k]) for k, v in a.level_arrays_.items())
    assert a.level_seeds_ == b.level_seeds_ != c.level_seeds_
    assert not np.array_equal(a.level_arrays_["0/weights_/rnn.weight_hh_l0"],
                              c.level_arrays_["0/weights_/rnn.weight_hh_l0"])


def test_bad_input(fitted, lag_data):
    X, y = lag_data.train.X[:8], lag_data.train.y[:8]
    with pytest.raises(NotFittedError):
        HistoryCompressor().predict(X)
    with pytest.raises(NotFittedError):
        HistoryCompressor().compress(X)
    bad_params = [dict(levels=0), dict(form="chunker", levels=3), dict(form="tree"), dict(predictor="Jordan"),
                  dict(surprise=-1.0), dict(surprise="max"), dict(surprise=True), dict(classifier="soft"),
                  dict(time_stamps=1), dict(collapse_rounds=-1), dict(predictor_params=[{}, {}, {}]),
                  dict(predictor_params={"bidirectional": True}), dict(predictor_params={"no_such": 1}),
                  dict(predictor_params={"window": 1}), dict(predictor_params={"checkpoint": "x"}),
                  dict(predictor_params="units=3"), dict(seed=1.5)]
    for kw in bad_params:
        with pytest.raises(ValueError):
            HistoryCompressor(**kw).fit(X, y)
    with pytest.raises(ValueError, match="one-hot"):
        HistoryCompressor(surprise="argmax").fit(X + 0.1, y)
    Xc, yc = make_classification_data()
    with pytest.raises(ValueError, match="one-hot"):
        HistoryCompressor(surprise="argmax").fit(Xc, yc)
    with pytest.raises(ValueError, match="single class"):
        HistoryCompressor().fit(X, np.zeros(8, int))
    with pytest.raises(ValueError, match="batch"):
        HistoryCompressor().fit(X[0], y[:1])
    with pytest.raises(ValueError, match="labels"):
        HistoryCompressor().fit(X, y[:-1])
    with pytest.raises(ValueError, match="X_val and y_val"):
        HistoryCompressor().fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="y_val"):
        HistoryCompressor().fit(X, y, X_val=X, y_val=y + 2)
    with pytest.raises(ValueError, match="X_val"):
        HistoryCompressor().fit(X, y, X_val=X[..., :4], y_val=y)
    with pytest.raises(ValueError, match="nothing to predict"):
        # with one block per sample level 1 gets only the marker: a level 2 has nothing to learn from
        HistoryCompressor(predictor_params=FAST, levels=3, seed=0).fit(lag_data.train.X, lag_data.train.y)
    for Xbad in (X[..., :5], np.full_like(X, np.nan), X[None], X[:0]):
        with pytest.raises(ValueError):
            fitted.predict(Xbad)
    with pytest.raises(ValueError):
        fitted.score(lag_data.test.X, lag_data.test.y + 5)


# ------------------------------------------------------------------------------------------
# the task
# ------------------------------------------------------------------------------------------

def test_long_lag_task_layout():
    task = long_lag_task(blocks=2, n_train=10, n_val=4, n_test=6)
    assert (task.name, task.kind, task.metric) == ("long_lag", "classify", "accuracy")
    assert task.params["n_symbols"] == 22
    d = task.load(5)
    assert d.x_scaler is None and d.n_classes == 2
    X, y = d.train.X, d.train.y
    assert X.shape == (10, 42, 22) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.array_equal(X.sum(-1), np.ones((10, 42)))                          # one-hot
    assert np.bincount(y).tolist() == [5, 5]                                      # balanced
    sym = X.argmax(-1)
    assert np.array_equal(sym[:, 41 - 20], y)               # the class: the last block's marker, 20 steps back
    assert (sym[:, 0] <= 1).all() and (sym[:, [1, 22]] >= 2).all()
    chain = sym[0, 1:21]
    assert len(set(chain.tolist())) == 20 and (sym[:, 1:21] == chain).all() and (sym[:, 22:] == chain).all()
    again = task.load(5)
    assert np.array_equal(again.test.X, d.test.X) and not np.array_equal(task.load(6).train.X[:, 1:21], X[:, 1:21])
    with pytest.raises(ValueError, match="n_symbols"):
        long_lag_task(lag=20, n_symbols=10)
    with pytest.raises(ValueError):
        long_lag_task(blocks=0)
    assert long_lag_task(lag=5, n_symbols=30).load(0).train.X.shape[1:] == (6, 30)
