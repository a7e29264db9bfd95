"""neurorec.compose: reservoirs in series / in parallel with one readout (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from neurorec.compose import Chain, Parallel, Pooled, chain, parallel, pooled
from neurorec.models import ESN, NVAR, DeepESN
from neurorec.models.readout import RidgeAccumulator
from neurorec.testing import check_model, make_classification_data, make_regression_data

F64 = {"dtype": "float64"}


def _ridge(Z, Y, lam):
    from neurorec.backends import get_ops

    acc = RidgeAccumulator(get_ops("numpy", "cpu", "float64"), Z.shape[1], Y.shape[1])
    acc.add(Z, Y)
    return acc.solve(lam)


def _states(esn, X):
    """A reservoir's states as written by hand: draw the reservoir, run it."""
    e = esn.clone()
    e._init_reservoir(np.shape(X)[-1], 0)
    e.n_features_in_ = np.shape(X)[-1]
    return e.transform(X)


def test_chain_equals_hand_written_composition():
    X, y = make_regression_data(seed=1, batch=3, time=80)
    r1, r2, r3 = ESN(units=25, leak_rate=0.5, seed=1, **F64), ESN(units=15, seed=2, **F64), ESN(units=10, seed=3, **F64)
    m = Chain([("r1", r1), ("p", Parallel([("r2", r2), ("r3", r3)], include_input=True))], ridge=1e-4,
              washout=10, input_to_readout=True).fit(X, y)
    s1 = _states(r1, X)
    Z = np.concatenate([_states(r2, s1), _states(r3, s1), s1, X], -1)    # [r2(s1); r3(s1); s1; u]
    W, b = _ridge(Z[:, 10:].reshape(-1, Z.shape[2]), y[:, 10:].reshape(-1, 1), 1e-4)
    np.testing.assert_allclose(m.transform(X), Z, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m.predict(X), Z @ W + b, rtol=0, atol=1e-10)
    assert m.n_features_out_ == 15 + 10 + 25 + 2


def test_chain_equals_reservoirpy_rshift():
    rpy = pytest.importorskip("reservoirpy.nodes")
    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (300, 2))
    Y = np.sin(U.sum(1, keepdims=True) + 0.5 * np.roll(U[:, :1], 1, 0))
    cases = {}
    # r1 >> r2 >> Ridge
    r1, r2 = rpy.Reservoir(30, lr=0.5, sr=0.9, seed=1), rpy.Reservoir(20, lr=0.8, sr=0.9, seed=2)
    ro = rpy.Ridge(ridge=1e-5)
    cases["series"] = (r1 >> r2 >> ro, lambda: chain(ESN.from_reservoirpy(r1, **F64), ESN.from_reservoirpy(r2, **F64),
                                                     ridge=1e-5, washout=20))
    # Input() >> [r3, r4] >> Ridge
    r3, r4 = rpy.Reservoir(25, lr=0.3, seed=3), rpy.Reservoir(15, lr=1.0, seed=4)
    ro2 = rpy.Ridge(ridge=1e-5)
    cases["parallel"] = (rpy.Input() >> [r3, r4] >> ro2,
                         lambda: chain(parallel(ESN.from_reservoirpy(r3, **F64), ESN.from_reservoirpy(r4, **F64)),
                                       ridge=1e-5, washout=20))
    # [data, data >> r5] >> Ridge: the input fed to the readout
    data, r5, ro3 = rpy.Input(), rpy.Reservoir(20, lr=0.6, seed=5), rpy.Ridge(ridge=1e-5)
    cases["input"] = ([data, data >> r5] >> ro3,
                      lambda: chain(ESN.from_reservoirpy(r5, **F64), input_to_readout=True, ridge=1e-5, washout=20))
    for name, (model, ours) in cases.items():
        model.fit(U, Y, warmup=20)            # initialises the reservoirs: weights exist after this
        model.reset()
        ref = model.run(U)
        m = ours().fit(U, Y)
        err = np.abs(m.predict(U) - ref).max()
        assert err < 1e-8, (name, err)


def test_nested_params_and_helpers():
    m = chain(ESN(units=20, seed=1), ESN(units=10, seed=2), parallel(NVAR(), ESN(seed=3)))
    assert [n for n, _ in m.steps] == ["esn1", "esn2", "parallel"]
    p = m.get_params()
    assert p["esn1__units"] == 20 and p["parallel__nvar__order"] == 2 and p["parallel__esn__seed"] == 3
    m.set_params(esn2__units=12, parallel__nvar__delay=3, ridge=1e-3)
    assert m.steps[1][1].units == 12 and m.steps[2][1].steps[0][1].delay == 3 and m.ridge == 1e-3
    c = m.clone()
    assert c.get_params()["esn2__units"] == 12 and c.steps[0][1] is not m.steps[0][1]
    X, y = make_regression_data(batch=2, time=30)
    c.fit(X, y)
    assert c.steps_[1][1].W_.shape == (12, 12) and c.n_features_out_ == NVAR(delay=3).n_features_out(12) + 100
    assert not hasattr(m, "steps_") and not hasattr(m.steps[0][1], "W_")     # the given steps are untouched


def test_bad_steps_and_feature_mismatch():
    X, y = make_regression_data(batch=2, time=30)
    with pytest.raises(TypeError, match="'scale'.*no fit/transform"):
        Chain([("esn", ESN(seed=0)), ("scale", object())]).fit(X, y)
    with pytest.raises(TypeError, match="non-empty list"):
        Chain([]).fit(X, y)
    with pytest.raises(TypeError, match="non-empty list"):
        Chain(ESN()).fit(X, y)
    with pytest.raises(ValueError, match="unique"):
        Chain([("a", ESN()), ("a", ESN())]).fit(X, y)
    # a fixed reservoir for 2 inputs placed after a 30-unit reservoir
    fixed = ESN(seed=0).set_reservoir(np.eye(5) * 0.5, np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"step 'fixed' \(ESN\) given 30 features.*W_in expects 2"):
        Chain([("first", ESN(units=30, seed=0)), ("fixed", fixed)]).fit(X, y)
    with pytest.raises(ValueError, match="feedback"):
        chain(ESN(feedback=True, seed=0)).fit(X, y)
    m = chain(ESN(units=10, seed=0)).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        m.predict(np.zeros((1, 5, 3)))
    with pytest.raises(ValueError, match="needs y"):
        chain(ESN(seed=0)).fit(X)


def test_mackey_glass_two_reservoir_chain():
    from neurorec.data import mackey_glass
    from neurorec.metrics import nrmse

    s = mackey_glass(2000, seed=0)
    tr, te = s[:1500], s[1500:]
    m = chain(ESN(units=100, leak_rate=0.3, seed=1), ESN(units=100, leak_rate=0.3, seed=2),
              input_to_readout=True, washout=100, ridge=1e-7).fit(tr[:-1], tr[1:])
    err = nrmse(te[101:], m.predict(te[:-1])[100:])
    assert err < 0.05, err


def test_classification_and_save_load(tmp_path):
    import neurorec

    X, y = make_classification_data()
    m = chain(ESN(units=30, seed=1), parallel(ESN(units=10, seed=2), DeepESN(units=(20, 20), seed=3))).fit(X, y)
    assert m.task_ == "classification" and m.score(X, y) >= 0.9
    path = m.save(tmp_path / "c.safetensors")
    back = neurorec.load(path)
    assert isinstance(back, Chain) and isinstance(back.steps[1][1], Parallel)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    np.testing.assert_array_equal(back.decision_function(X), m.decision_function(X))
    assert back.get_params()["parallel__deepesn__units"] == [20, 20]    # tuples come back as lists (JSON)


def test_fixed_reservoir_survives_save_load(tmp_path):
    X, y = make_regression_data(batch=2, time=40)
    rng = np.random.default_rng(0)
    fixed = ESN(**F64).set_reservoir(rng.normal(0, 0.1, (12, 12)), rng.uniform(-1, 1, (12, 2)))
    m = Chain([("fixed", fixed), ("esn", ESN(units=10, seed=1))]).fit(X, y)
    np.testing.assert_array_equal(m.steps_[0][1].W_, fixed.W_)
    back = Chain.load(m.save(tmp_path / "f.safetensors"))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))


def test_ragged_and_single_sequences():
    X, y = make_regression_data(batch=2, time=40)
    m = chain(ESN(units=20, seed=1, **F64), NVAR(**F64), washout=3).fit([X[0, :25], X[1]], [y[0, :25], y[1]])
    out = m.predict([X[0, :25], X[1]])
    assert isinstance(out, list) and out[0].shape == (25, 1)
    np.testing.assert_allclose(out[1], m.predict(X[1]), atol=1e-10)
    np.testing.assert_allclose(out[0], m.predict(X[0])[:25], atol=1e-10)     # padding never leaks back


@pytest.mark.parametrize("make", [
    lambda: chain(ESN(units=30, seed=1), ESN(units=20, seed=2)),
    lambda: chain(ESN(units=20, seed=1), parallel(ESN(units=10, seed=2), NVAR(), include_input=True), washout=2),
    lambda: chain(DeepESN(units=(20, 10), seed=1), input_to_readout=True),
])
def test_check_model(make):
    check_model(make())


def test_sklearn_pipeline_and_feature_union():
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification_data(batch=36)
    pipe = Pipeline([("states", pooled(ESN(units=30, seed=1))), ("clf", RidgeClassifier(alpha=1e-3))]).fit(X, y)
    assert pipe.score(X, y) >= 0.9
    # the same as hand-written: mean state, then the classifier
    feats = _states(ESN(units=30, seed=1), X).mean(1)
    np.testing.assert_array_equal(pipe.predict(X), RidgeClassifier(alpha=1e-3).fit(feats, y).predict(feats))
    union = FeatureUnion([("a", pooled(ESN(units=20, seed=1))), ("b", pooled(ESN(units=10, seed=2), pool="last")),
                          ("u", Pooled([("nvar", NVAR(delay=1, order=1))]))])
    Z = union.fit_transform(X, y)
    assert Z.shape == (36, 20 + 10 + NVAR(delay=1, order=1).n_features_out(3))
    np.testing.assert_allclose(Z[:, 20:30], _states(ESN(units=10, seed=2), X)[:, -1], atol=1e-6)
    pipe2 = Pipeline([("u", union), ("scale", StandardScaler()), ("clf", RidgeClassifier())])
    pipe2.set_params(u__a__esn__units=15)
    assert cross_val_score(pipe2, X, y, cv=3).mean() >= 0.8
