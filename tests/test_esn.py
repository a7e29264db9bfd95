"""Echo state networks: contract, backends, reservoirpy agreement, theory and reference results."""

import numpy as np
import pytest
from scipy.linalg import solve_discrete_lyapunov

from neurorec.data import get_task, memory_capacity_data
from neurorec.metrics import memory_capacity
from neurorec.models import ESN
from neurorec.models.reservoir import spectral_radius
from neurorec.testing import check_model, make_classification_data, make_regression_data

torch = pytest.importorskip("torch")

CONFIGS = [
    dict(units=50),
    dict(units=50, classify="mean", washout=2),
    dict(units=50, classify="vote", washout=2),
    dict(units=40, readout="rls"),
    dict(units=40, feedback=True, feedback_scaling=0.1),
    dict(units=40, leak_rate=0.5, bias_scaling=0.3, input_connectivity=0.5, activation="sigmoid"),
]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()))
def test_conformance(params, backend):
    check_model(ESN(seed=0, **params), backend=backend)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 1e-4)])
@pytest.mark.parametrize("feedback", [False, True])
def test_numpy_and_torch_give_the_same_states(dtype, tol, feedback):
    X, y = make_regression_data(batch=3, time=200)
    kw = dict(units=120, leak_rate=0.4, bias_scaling=0.2, spectral_radius=0.95, seed=3, dtype=dtype,
              feedback=feedback, feedback_scaling=0.2)
    a = ESN(backend="numpy", **kw).fit(X, y)
    b = ESN(backend="torch", **kw).fit(X, y)
    np.testing.assert_allclose(b.transform(X), a.transform(X), atol=tol, rtol=0)
    np.testing.assert_allclose(b.predict(X), a.predict(X), atol=10 * tol, rtol=0)
    # a single sequence goes through gemv, a batch through gemm: same states
    np.testing.assert_allclose(a.transform(X[1]), a.transform(X)[1], atol=tol, rtol=0)


def test_spectral_radius_and_sparsity_are_as_asked():
    esn = ESN(units=300, spectral_radius=0.77, connectivity=0.05, input_connectivity=0.3,
              dtype="float64", seed=1).fit(*make_regression_data())
    assert spectral_radius(esn.W_) == pytest.approx(0.77, rel=1e-9)
    assert np.mean(esn.W_ != 0) == pytest.approx(0.05, abs=0.005)
    assert np.mean(esn.W_in_ != 0) == pytest.approx(0.3, abs=0.05)
    assert np.abs(esn.W_in_).max() <= 1.0


def test_chunked_ridge_equals_one_shot():
    X, y = make_regression_data(batch=2, time=300)
    kw = dict(units=60, washout=20, dtype="float64", seed=0)
    a = ESN(chunk_size=10_000, **kw).fit(X, y)
    b = ESN(chunk_size=7, **kw).fit(X, y)
    np.testing.assert_allclose(b.W_out_, a.W_out_, rtol=1e-7, atol=1e-9)


def test_ridge_readout_matches_the_normal_equations():
    X, y = make_regression_data(batch=1, time=400)
    esn = ESN(units=30, ridge=1e-3, washout=10, input_to_readout=True, dtype="float64", seed=0).fit(X, y)
    Z = np.concatenate([esn.transform(X)[0], X[0]], 1)[10:]
    Y = y[0, 10:]
    Zc, Yc = Z - Z.mean(0), Y - Y.mean(0)
    W = np.linalg.solve(Zc.T @ Zc + 1e-3 * np.eye(Z.shape[1]), Zc.T @ Yc)
    np.testing.assert_allclose(esn.W_out_, W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(esn.b_out_, Y.mean(0) - Z.mean(0) @ W, rtol=1e-6, atol=1e-8)


def test_rls_converges_to_the_ridge_solution():
    X, y = make_regression_data(batch=1, time=3000)
    kw = dict(units=40, washout=50, dtype="float64", seed=0)
    ridge = ESN(readout="ridge", ridge=1e-6, **kw).fit(X, y)
    rls = ESN(readout="rls", rls_delta=1e-6, **kw).fit(X, y)
    err = np.abs(rls.predict(X) - ridge.predict(X))[0, 50:]
    assert err.max() < 1e-4


def test_classification_modes_on_an_easy_task():
    X, y = make_classification_data(batch=60, seed=1)
    Xt, yt = make_classification_data(batch=60, seed=2)
    for mode in ("last", "mean", "vote"):
        esn = ESN(units=80, classify=mode, leak_rate=0.2, ridge=1e-3, seed=0).fit(X, y)
        assert esn.score(Xt, yt) >= 0.9, mode
        assert esn.decision_function(Xt).shape == (60, 3)


def test_classes_keep_their_labels():
    X, y = make_classification_data(batch=30)
    labels = np.array([10, 20, 30])[y]
    esn = ESN(units=60, seed=0).fit(X, labels)
    assert set(esn.predict(X)) <= {10, 20, 30}
    np.testing.assert_array_equal(esn.classes_, [10, 20, 30])


def test_bad_hyperparameters_fail_at_fit():
    X, y = make_regression_data()
    for bad in (dict(leak_rate=0), dict(leak_rate=1.5), dict(units=0), dict(connectivity=0),
                dict(activation="softsign"), dict(readout="lasso"), dict(classify="first"),
                dict(ridge=-1), dict(washout=-1), dict(washout=60)):
        with pytest.raises(ValueError):
            ESN(**bad).fit(X, y)
    with pytest.raises(ValueError, match="numpy backend runs on device='cpu'"):
        ESN(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="backend"):
        ESN(backend="jax").fit(X, y)


def test_generate_continues_mackey_glass_in_closed_loop():
    task = get_task("mackey_glass")
    d = task.load(0)
    # reservoirpy's input_connectivity (0.1): dense +-1 input weights at input_scaling=1 drive the closed loop unstable
    esn = ESN(units=500, leak_rate=0.3, spectral_radius=1.25, ridge=1e-8, washout=100, input_connectivity=0.1, seed=0)
    esn.fit(d.train.X, d.train.y)
    warm = d.test.X[0, :300]
    future = esn.generate(100, warmup=warm)
    truth = d.test.X[0, 300:400]
    assert future.shape == (100, 1)
    assert np.sqrt(np.mean((future - truth) ** 2)) / truth.std() < 0.02
    # the first forecast is the model's one-step prediction at the end of the warm-up
    np.testing.assert_allclose(future[0], esn.predict(warm)[-1], atol=1e-5)
    with pytest.raises(ValueError, match="one-step forecaster"):
        ESN(units=20, seed=0).fit(np.zeros((1, 30, 2)), np.zeros((1, 30, 1))).generate(5, np.zeros((10, 2)))


# ----------------------------------------------------------------- reservoirpy agreement
def test_states_equal_reservoirpys_on_the_same_weights():
    rpy = pytest.importorskip("reservoirpy.nodes")
    X = np.random.default_rng(0).uniform(-1, 1, (500, 3))
    y = np.sin(np.cumsum(X, 0)[:, :1])
    reservoir = rpy.Reservoir(150, lr=0.3, sr=0.9, bias=0.2, input_scaling=0.5, seed=7)
    model = reservoir >> rpy.Ridge(ridge=1e-6)
    model.fit(X, y, warmup=20)
    reservoir.reset()
    states_rpy = reservoir.run(X)
    reservoir.reset()
    out_rpy = model.run(X)

    esn = ESN.from_reservoirpy(model, dtype="float64")
    np.testing.assert_allclose(esn.transform(X), states_rpy, atol=1e-10, rtol=0)
    np.testing.assert_allclose(esn.predict(X), out_rpy, atol=1e-10, rtol=0)
    # our own ridge on the same reservoir learns the same readout
    refit = ESN.from_reservoirpy(reservoir, dtype="float64", ridge=1e-6, washout=20).fit(X, y)
    np.testing.assert_allclose(refit.predict(X), out_rpy, atol=1e-6, rtol=1e-4)
    # the torch backend too
    esn_t = ESN.from_reservoirpy(model, dtype="float64", backend="torch")
    np.testing.assert_allclose(esn_t.transform(X), states_rpy, atol=1e-10, rtol=0)


def test_to_reservoirpy_round_trip():
    pytest.importorskip("reservoirpy")
    X, y = make_regression_data(batch=1, time=300)
    esn = ESN(units=70, leak_rate=0.5, bias_scaling=0.1, input_to_readout=False, dtype="float64",
              seed=2).fit(X, y)
    model = esn.to_reservoirpy()
    np.testing.assert_allclose(model.run(X[0]), esn.predict(X[0]), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="input_to_readout"):
        ESN(units=10, seed=0).fit(X, y).to_reservoirpy()


# ----------------------------------------------------------------- memory capacity theory
def linear_memory_capacity(esn: ESN, max_delay: int, var_u: float) -> float:
    """Exact sum_{k=1..K} MC_k of a linear leaky reservoir driven by i.i.d. input.

    x[t] = M x[t-1] + a w u[t], M = (1-a) I + a W. The state covariance C solves
    C = M C M^T + var_u a^2 w w^T; Cov(x[t], u[t-k]) = var_u M^k a w, so
    MC_k = var_u (M^k a w)^T C^{-1} (M^k a w) (Jaeger 2001); summed over all k >= 0 it is N.
    """
    a = esn.leak_rate
    W, w = esn.W_.astype(np.float64), esn.W_in_[:, 0].astype(np.float64)
    M = (1 - a) * np.eye(len(W)) + a * W
    C = solve_discrete_lyapunov(M, var_u * a * a * np.outer(w, w))
    Cinv = np.linalg.inv(C)
    p = a * w
    total, mc = 0.0, []
    for _ in range(max_delay + 1):
        mc.append(var_u * p @ Cinv @ p)
        p = M @ p
    total = sum(mc[1:])
    assert sum(mc) <= len(W) + 1e-6
    return total


def test_memory_capacity_of_a_linear_reservoir_matches_theory():
    N, K = 20, 60
    u, Y = memory_capacity_data(30_000, K, seed=0)
    kw = dict(units=N, activation="identity", spectral_radius=0.9, leak_rate=1.0, connectivity=1.0,
              input_to_readout=False, ridge=1e-12, washout=K, dtype="float64", seed=0)
    esn = ESN(**kw).fit(u[:20_000], Y[:20_000])
    mc = memory_capacity(Y[20_000 + K:], esn.predict(u[20_000:])[K:])
    theory = linear_memory_capacity(esn, K, var_u=1 / 3)
    assert mc < N                        # Jaeger's bound MC <= N
    assert theory < N
    assert mc == pytest.approx(theory, rel=0.05)
    assert mc > 0.8 * N                  # a linear reservoir comes close to the bound
    # the tanh reservoir with the same weights remembers less
    tanh = ESN(**{**kw, "activation": "tanh", "input_scaling": 1.0}).fit(u[:20_000], Y[:20_000])
    assert memory_capacity(Y[20_000 + K:], tanh.predict(u[20_000:])[K:]) < mc


# ----------------------------------------------------------------- reference results
def test_mackey_glass_one_step_nrmse_below_1e_3_with_500_units():
    task = get_task("mackey_glass")
    d = task.load(0)
    esn = ESN(units=500, leak_rate=0.3, spectral_radius=1.25, ridge=1e-8, washout=100, seed=0)
    esn.fit(d.train.X, d.train.y)
    assert task.score(d.test, esn.predict(d.test.X)) < 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_narma10_nmse_at_most_0_1_with_200_units(seed):
    task = get_task("narma10")
    d = task.load(seed)
    # +-input_scaling input weights and +-bias_scaling biases (reservoirpy's draws, issue 13)
    esn = ESN(units=200, spectral_radius=0.9, input_scaling=0.05, bias_scaling=0.2, ridge=1e-8,
              washout=100, seed=seed).fit(d.train.X, d.train.y)
    assert task.score(d.test, esn.predict(d.test.X)) <= 0.1


def test_japanese_vowels_test_accuracy_at_least_95_with_500_units():
    task = get_task("japanese_vowels")
    d = task.load(0)
    esn = ESN(units=500, spectral_radius=0.9, leak_rate=0.2, input_scaling=0.5, ridge=1e-2,
              classify="last", seed=0).fit(d.train.X, d.train.y)
    assert task.score(d.test, esn.predict(d.test.X)) >= 0.95


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_graph_path_equals_the_eager_loop_and_numpy():
    X, y = make_regression_data(batch=8, time=300)
    kw = dict(units=200, leak_rate=0.4, bias_scaling=0.2, chunk_size=128, seed=5, dtype="float64")
    ref = ESN(**kw).fit(X, y)
    graphed = ESN(backend="torch", device="cuda", cuda_graph=True, **kw).fit(X, y)
    eager = ESN(backend="torch", device="cuda", cuda_graph=False, **kw).fit(X, y)
    np.testing.assert_allclose(graphed.transform(X), eager.transform(X), atol=1e-12, rtol=0)
    np.testing.assert_allclose(graphed.transform(X), ref.transform(X), atol=1e-10, rtol=0)
    np.testing.assert_allclose(graphed.predict(X), ref.predict(X), atol=1e-8, rtol=0)


def test_a_loop_free_reservoir_is_refused_for_what_it_is():
    """ESN(units=10, seed=10) draws 10 non-zero weights that form no loop (spectral radius 0): the error says so
    instead of calling the matrix 'all zeros' (issue 13)."""
    X = np.random.default_rng(0).normal(size=(1, 100, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"has 10 non-zero weights but spectral radius 0 \(nilpotent"):
        ESN(units=10, seed=10).fit(X[:, :-1], X[:, 1:])
    with pytest.raises(ValueError, match="is all zeros"):
        ESN(units=3, connectivity=0.01, seed=0).fit(X[:, :-1], X[:, 1:])
