"""Online readouts (issue 16): LMS, RLS and FORCE trained step by step on a stream."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

from neurorec import load
from neurorec.models import LMS, RLS, OnlineReservoir
from neurorec.models.online import _PARAM_NAMES
from neurorec.testing import check_model


def _series(n=400, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.uniform(-1, 1, (n, 2))
    Y = np.c_[np.roll(U[:, 0], 2), U[:, 0] * np.roll(U[:, 1], 1)]
    return U, Y


def sum_of_sines(n, dt=0.1, n0=0):
    """Sussillo & Abbott's (2009) Fig. 2 target, from their code (force_external_feedback_loop.m):
    amp 1.3, freq 1/60 (period 120 time units, 1200 steps of dt = 0.1 tau), divided by 1.5."""
    t = (np.arange(n) + n0) * dt
    w = np.pi / 60
    f = 1.3 * (np.sin(w * t) + np.sin(2 * w * t) / 2 + np.sin(3 * w * t) / 6 + np.sin(4 * w * t) / 3)
    return (f / 1.5)[:, None]


def _rpy():
    return pytest.importorskip("reservoirpy")


def _all_arrays(obj, seen=None):
    """Total bytes of the numpy arrays and torch tensors an object holds (in dicts, lists, objects)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if type(obj).__module__.startswith("torch") and hasattr(obj, "element_size"):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_all_arrays(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_all_arrays(v, seen) for v in obj)
    if hasattr(obj, "__dict__") and type(obj).__module__.startswith("neurorec"):
        return sum(_all_arrays(v, seen) for v in vars(obj).values())
    return 0


# ------------------------------------------------------------------ the rules against reservoirpy
def test_rules_equal_reservoirpys_lms_and_rls_nodes():
    _rpy()
    from reservoirpy.nodes import LMS as RLMS
    from reservoirpy.nodes import RLS as RRLS

    U, Y = _series()
    Z = OnlineReservoir("ESN", {"units": 50}, dtype="float64", seed=0).fit(U, Y).reservoir_.transform(U)
    a, b = LMS(learning_rate=1e-2).partial_fit(Z, Y), RLMS(learning_rate=1e-2)
    b.partial_fit(Z, Y)
    assert np.abs(a.W_out_ - b.Wout).max() < 1e-12 and np.abs(a.b_out_ - b.bias).max() < 1e-12
    for lam in (1.0, 0.99):
        a, b = RLS(alpha=1e-2, forgetting=lam, fit_bias=False).partial_fit(Z, Y), RRLS(alpha=1e-2, forgetting=lam,
                                                                                        fit_bias=False)
        b.partial_fit(Z, Y)
        assert np.abs(a.W_out_ - b.Wout).max() < 1e-9 and np.abs(a.P_ - b.P).max() < 1e-9
        # the bias: the weight of a constant input 1 (reservoirpy's fit_bias=False on [z, 1])
        a, b = RLS(alpha=1e-2, forgetting=lam).partial_fit(Z, Y), RRLS(alpha=1e-2, forgetting=lam, fit_bias=False)
        b.partial_fit(np.c_[Z, np.ones(len(Z))], Y)
        assert np.abs(a.W_out_ - b.Wout[:-1]).max() < 1e-9 and np.abs(a.b_out_ - b.Wout[-1]).max() < 1e-9
        assert np.abs(a.P_ - b.P).max() < 1e-9
    np.testing.assert_allclose(a.predict(Z), Z @ a.W_out_ + a.b_out_, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("rule", ["rls", "lms"])
def test_online_esn_equals_reservoirpy_reservoir_and_readout(rule):
    _rpy()
    from reservoirpy.nodes import LMS as RLMS
    from reservoirpy.nodes import RLS as RRLS
    from reservoirpy.nodes import Reservoir

    U, Y = _series()
    kw = {"alpha": 1e-2} if rule == "rls" else {"learning_rate": 1e-2}
    m = OnlineReservoir("ESN", {"units": 40, "leak_rate": 0.5, "input_to_readout": False}, rule=rule, fit_bias=False,
                        dtype="float64", seed=1, **kw).fit(U, Y)
    r = m.reservoir_
    readout = RRLS(fit_bias=False, **kw) if rule == "rls" else RLMS(fit_bias=False, **kw)
    model = Reservoir(W=r.W_, Win=r.W_in_, bias=r.bias_, lr=0.5) >> readout
    model.partial_fit(U, Y)
    assert np.abs(m.W_out_ - readout.Wout).max() < 1e-10
    np.testing.assert_allclose(m.state_["h"][0], model.nodes[0].state["out"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("rule", ["rls", "lms"])
def test_force_equals_reservoirpys_closed_loop(rule):
    """Feedback ESN trained online: reservoirpy's ESN(feedback=True) with an RLS (FORCE) or LMS readout
    on the same weights, the readout's output after each update fed back."""
    _rpy()
    from reservoirpy import ESN as RESN
    from reservoirpy.nodes import LMS as RLMS
    from reservoirpy.nodes import RLS as RRLS
    from reservoirpy.nodes import Reservoir

    T = 1500
    f = np.sin(np.arange(T) * 0.05)[:, None]
    U = np.zeros((T, 1))
    U[0] = 1.0
    kw = {"alpha": 1.0} if rule == "rls" else {"learning_rate": 1e-2}
    m = OnlineReservoir("ESN", {"units": 50, "input_to_readout": False, "feedback": True, "spectral_radius": 1.5,
                                "leak_rate": 0.2}, rule=rule, fit_bias=False, dtype="float64", seed=3, **kw)
    m.partial_fit(U, f)
    r = m.reservoir_
    readout = RRLS(fit_bias=False, **kw) if rule == "rls" else RLMS(fit_bias=False, **kw)
    esn = RESN(reservoir=Reservoir(W=r.W_, Win=np.hstack([r.W_in_, r.W_fb_]), bias=r.bias_, lr=0.2),
               readout=readout, feedback=True)
    y = esn.partial_fit(U, f)
    assert np.abs(m.W_out_ - readout.Wout).max() < 1e-10
    assert np.abs(m.state_["y"][0] - y[-1]).max() < 1e-10


# ------------------------------------------------------------------ what RLS computes
def test_rls_one_pass_recovers_a_linear_readout_exactly():
    U, _ = _series(300)
    res = {"units": 30, "input_init": "uniform"}
    m = OnlineReservoir("ESN", res, alpha=1e-2, dtype="float64", seed=0)
    Z = np.c_[m.fit(U, U[:, :1]).reservoir_.transform(U), U]  # the features the stream will see: [h, u]
    w = np.random.default_rng(1).normal(size=(Z.shape[1], 2))
    Y = Z @ w + [0.5, -1.0]
    # after one pass, RLS (forgetting 1) is the ridge solution with penalty alpha, the bias included
    m.fit(U, Y)
    Za = np.c_[Z, np.ones(len(Z))]
    ridge = np.linalg.solve(Za.T @ Za + 1e-2 * np.eye(Za.shape[1]), Za.T @ Y)
    assert np.abs(np.r_[m.W_out_, m.b_out_[None]] - ridge).max() < 1e-9
    # with a vanishing alpha it recovers the weights of a noiseless linear target, in one pass
    m = OnlineReservoir("ESN", res, alpha=1e-12, dtype="float64", seed=0).fit(U, Y)
    assert np.abs(m.W_out_ - w).max() < 1e-5 and np.abs(m.b_out_ - [0.5, -1.0]).max() < 1e-5
    np.testing.assert_allclose(m.predict(U), Y, atol=1e-8)
    # batches of streams: one block update per time step equals the rows one by one (forgetting 1)
    Zb, Yb = Z.reshape(10, 30, -1), Y.reshape(10, 30, 2)
    seq = RLS(alpha=1e-2).partial_fit(Zb.transpose(1, 0, 2).reshape(300, -1), Yb.transpose(1, 0, 2).reshape(300, 2))
    blk = RLS(alpha=1e-2).partial_fit(Zb, Yb)
    assert np.abs(seq.W_out_ - blk.W_out_).max() < 1e-10 and np.abs(seq.P_ - blk.P_).max() < 1e-10
    assert blk.n_updates_ == 30 and seq.n_updates_ == 300


def test_one_step_at_a_time_equals_chunks_and_learn_every_washout():
    U, Y = _series(200)
    kw = dict(reservoir_params={"units": 30}, dtype="float64", seed=2, washout=10, learn_every=3)
    a = OnlineReservoir(**kw)
    for t in range(200):
        a.partial_fit(U[t], Y[t])
    b = OnlineReservoir(**kw, chunk_size=64).partial_fit(U[:77], Y[:77]).partial_fit(U[77:], Y[77:])
    c = OnlineReservoir(**kw).fit(U, Y)
    for m in (b, c):
        assert np.abs(a.W_out_ - m.W_out_).max() < 1e-12 and np.abs(a.P_ - m.P_).max() < 1e-12
        np.testing.assert_array_equal(a.state_["h"], m.state_["h"])
    assert a.n_steps_ == 200 and a.n_updates_ == len(range(10, 200, 3))
    assert a.step(U[0]).shape == (2,) and a.step(U[:5]).shape == (5, 2) and a.n_steps_ == 206


# ------------------------------------------------------------------ streaming: constant memory
def test_memory_does_not_grow_with_the_stream():
    rng = np.random.default_rng(0)
    sizes = []
    for n in (100, 10_000):
        m = OnlineReservoir("ESN", {"units": 20}, seed=0)
        U = rng.uniform(-1, 1, (n, 1))
        for lo in range(0, n, 1000):                      # chunks of a stream
            m.partial_fit(U[lo:lo + 1000], np.roll(U, 1)[lo:lo + 1000])
        m.step(U[:3])
        sizes.append((_all_arrays(m), {k: np.shape(v) for k, v in m._learned().items() if hasattr(v, "shape")}))
    assert sizes[0] == sizes[1]
    assert sizes[0][0] < 20_000          # weights, P, state: ~ (20 + 1 + 1)^2 * 8 bytes, nothing per step


# ------------------------------------------------------------------ FORCE
def _force(units, seed, periods=12, test_periods=2):
    """Sussillo & Abbott's FORCE setup (their Fig. 2 with the code's values): a chaotic reservoir
    (g = spectral radius 1.5, connectivity 0.1, time step 0.1 tau = leak 0.1), the output fed back
    through dense uniform weights in [-1, 1], RLS with P0 = I (alpha = 1) every 2 steps, no bias, no
    input (one kick at t = 0 starts it from rest). Returns the closed-loop MAE per test period."""
    per = 1200
    m = OnlineReservoir("ESN", {"units": units, "spectral_radius": 1.5, "leak_rate": 0.1, "connectivity": 0.1,
                                "feedback": True, "feedback_connectivity": 1.0, "input_init": "uniform",
                                "input_to_readout": False},
                        rule="rls", alpha=1.0, learn_every=2, fit_bias=False, dtype="float64", seed=seed)
    T = periods * per
    f = sum_of_sines(T + test_periods * per)
    U = np.zeros((T, 1))
    U[0] = 1.0
    m.partial_fit(U, f[:T])                       # training, in closed loop
    z = m.step(np.zeros((test_periods * per, 1)))  # learning off, the loop on its own
    err = np.abs(z - f[T:])[:, 0]
    return [float(err[i * per:(i + 1) * per].mean()) for i in range(test_periods)], m


def test_force_learns_the_sum_of_sines_in_closed_loop():
    errs, m = _force(units=500, seed=0)
    # measured: 0.021 then 0.083 (mean |f| = 0.62; a slow phase drift of the free-running loop)
    assert errs[0] < 0.05 and errs[1] < 0.15, errs
    assert m.n_updates_ == 12 * 1200 // 2


@pytest.mark.slow
def test_force_paper_size_network():
    """N = 1000, 1440 tau of training (Sussillo & Abbott's code): closed-loop MAE in the first
    period after training 0.018, 0.005, 0.011 for seeds 0-2; over the 12 periods of their test
    0.076, 0.007, 0.10 (the loop's period is slightly off, so its phase drifts)."""
    for seed in range(3):
        errs, _ = _force(units=1000, seed=seed, test_periods=12)
        assert errs[0] < 0.03 and np.mean(errs) < 0.15, (seed, errs)


# ------------------------------------------------------------------ other reservoirs
def test_deep_esn_stream_uses_the_deep_esns_states():
    U, Y = _series(300)
    d = OnlineReservoir("DeepESN", {"units": (30, 20)}, dtype="float64", seed=0).fit(U, Y)
    deep = d.reservoir_
    S = np.concatenate([*deep._states(U[None]), U[None]], -1)        # DeepESN's own features
    ref = RLS(alpha=1.0).partial_fit(S, Y[None])
    assert np.abs(ref.W_out_ - d.W_out_).max() < 1e-10
    assert d.W_out_.shape == (30 + 20 + 2, 2)
    p = d.predict(U)[50:, 0]                                         # the 2-step recall output
    assert 1 - np.mean((p - Y[50:, 0]) ** 2) / np.var(Y[50:, 0]) > 0.8


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_lsm_liquid_stream_equals_the_lsm_simulation(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    from neurorec._validation import check_sequences

    rng = np.random.default_rng(0)
    U = rng.uniform(-1, 1, (2, 150, 1))
    Y = np.roll(U, 1, axis=1)
    m = OnlineReservoir("LSM", {"units": 60}, dtype="float64", seed=0, backend=backend).fit(U, Y)
    lsm = m.reservoir_
    ref_lsm = type(lsm)(**{**lsm.get_params(), "backend": "torch"})     # the LSM's torch step engine
    for k in ("W_", "W_in_", "bias_", "n_exc_", "x_mean_", "x_scale_", "n_features_in_"):
        setattr(ref_lsm, k, getattr(lsm, k))
    Z, _ = ref_lsm._simulate(check_sequences(U, dtype=np.float64))
    ref = RLS(alpha=1.0).partial_fit(Z, Y)
    assert np.abs(ref.W_out_ - m.W_out_).max() < 1e-9
    assert m.score(U, Y) > 0.5
    with pytest.raises(ValueError, match="normalize"):
        OnlineReservoir("LSM", {"normalize": True}).fit(U, Y)


# ------------------------------------------------------------------ the model contract
@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("rule", ["rls", "lms"])
def test_check_model(backend, rule):
    if backend == "torch":
        pytest.importorskip("torch")
    check_model(OnlineReservoir("ESN", {"units": 20}, rule=rule, seed=0), backend=backend)


def test_backends_agree_and_feedback_and_deep_pass_check_model():
    pytest.importorskip("torch")
    check_model(OnlineReservoir("ESN", {"units": 20}, seed=0), cross_backend_tol=1e-4)
    check_model(OnlineReservoir("ESN", {"units": 20, "feedback": True}, seed=0))
    check_model(OnlineReservoir("DeepESN", {"units": (15, 10)}, seed=0))
    U, Y = _series(300)
    kw = dict(reservoir_params={"units": 30, "feedback": True}, dtype="float64", seed=4)
    a = OnlineReservoir(**kw).fit(U, Y)
    b = OnlineReservoir(**kw, backend="torch").fit(U, Y)
    assert np.abs(a.W_out_ - b.W_out_).max() < 1e-8 and np.abs(a.P_ - b.P_).max() < 1e-8
    np.testing.assert_allclose(a.step(U[:50]), b.step(U[:50]), atol=1e-8)


def test_init_stores_every_hyperparameter_in_the_key():
    assert tuple(inspect.signature(OnlineReservoir.__init__).parameters)[1:] == _PARAM_NAMES


@pytest.mark.parametrize("rule", ["rls", "lms"])
@pytest.mark.parametrize("feedback", [False, True])
def test_save_load_and_continue_training(tmp_path, rule, feedback):
    U, Y = _series(400)
    kw = dict(reservoir_params={"units": 25, "feedback": feedback}, rule=rule, learning_rate=1e-2, dtype="float64",
              seed=5)
    whole = OnlineReservoir(**kw).partial_fit(U, Y)
    half = OnlineReservoir(**kw).partial_fit(U[:250], Y[:250])
    loaded = load(half.save(tmp_path / "online.safetensors"))
    np.testing.assert_array_equal(loaded.W_out_, half.W_out_)
    assert loaded.n_steps_ == 250 and loaded.n_updates_ == 250
    loaded.partial_fit(U[250:], Y[250:])                      # the stream goes on where it was
    np.testing.assert_array_equal(loaded.W_out_, whole.W_out_)
    np.testing.assert_array_equal(loaded.state_["h"], whole.state_["h"])
    if rule == "rls":
        np.testing.assert_array_equal(loaded.P_, whole.P_)
    np.testing.assert_array_equal(loaded.predict(U[:40]), whole.predict(U[:40]))


def test_continue_on_another_backend_after_load(tmp_path):
    pytest.importorskip("torch")
    U, Y = _series(300)
    kw = dict(reservoir_params={"units": 25}, dtype="float64", seed=6)
    whole = OnlineReservoir(**kw).partial_fit(U, Y)
    m = load(OnlineReservoir(**kw).partial_fit(U[:100], Y[:100]).save(tmp_path / "m.safetensors"))
    m.set_params(backend="torch").partial_fit(U[100:], Y[100:])
    assert np.abs(m.W_out_ - whole.W_out_).max() < 1e-9 and np.abs(m.P_ - whole.P_).max() < 1e-9


def test_bad_stream_input_fails_and_changes_nothing():
    U, Y = _series(50)
    m = OnlineReservoir("ESN", {"units": 10}, seed=0).partial_fit(U, Y)
    before = (m.W_out_, m.b_out_, m.P_, m.state_["h"], m.n_steps_, m.n_updates_)
    bad = [(np.zeros(3), np.zeros(2), "3 features"), (np.zeros((5, 3)), np.zeros((5, 2)), "3 features"),
           (np.zeros(2), np.zeros(3), "3 outputs"), (np.full(2, np.nan), np.zeros(2), "NaN"),
           (np.zeros(2), np.full(2, np.inf), "NaN or infinite"), (np.zeros((4, 2)), np.zeros((5, 2)), "shape"),
           (np.zeros((2, 4, 2)), np.zeros((2, 4, 2)), "reset_state")]
    for u, y, words in bad:
        with pytest.raises(ValueError, match=words):
            m.partial_fit(u, y)
    with pytest.raises(ValueError, match="3 features"):
        m.step(np.zeros(3))
    after = (m.W_out_, m.b_out_, m.P_, m.state_["h"], m.n_steps_, m.n_updates_)
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    m.reset_state().partial_fit(np.zeros((2, 4, 2)), np.zeros((2, 4, 2)))     # two new streams
    assert m.state_["h"].shape == (2, 10)
    with pytest.raises(ValueError, match="features"):
        LMS().partial_fit(np.zeros((3, 2)), np.zeros(3)).partial_fit(np.zeros(3), 0.0)
    with pytest.raises(ValueError, match="forgetting"):
        RLS(forgetting=1.5).partial_fit(np.zeros(2), 0.0)


def test_runs_in_compare(tmp_path):
    from neurorec.experiment import compare

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = compare({"online": OnlineReservoir("ESN", {"units": 50, "leak_rate": 0.3}, washout=20)},
                     ["mackey_glass"], seeds=[0], progress=False, store=tmp_path / "runs.db")
    test = df[(df.split == "test") & (df.metric == "nrmse")]
    assert len(test) == 1 and float(test["value"].iloc[0]) < 0.2


def test_reservoir_params_are_checked_and_pickling_keeps_the_stream():
    import pickle

    from neurorec._params import ParameterError

    U, Y = _series(60)
    for params, words in (({"backend": "torch"}, "set them on OnlineReservoir"), ({"no_such": 1}, "no_such"),
                          ({"units": 0}, "units"), ([1, 2], "dict")):
        with pytest.raises(ParameterError, match=words):
            OnlineReservoir("ESN", params).fit(U, Y)
    with pytest.raises(ParameterError, match="stdp"):
        OnlineReservoir("LSM", {"stdp": {}}).fit(U, Y)
    m = OnlineReservoir("ESN", {"units": 12}, seed=0).fit(U, Y)
    copy = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(copy.partial_fit(U, Y).W_out_, m.partial_fit(U, Y).W_out_)
    m.set_params(reservoir_params={"units": 12, "leak_rate": 0.5})      # same weights, another leak: fine
    m.partial_fit(U, Y)
    m.set_params(reservoir_params={"units": 20})
    with pytest.raises(ValueError, match="fit the model again"):
        m.partial_fit(U, Y)
    with pytest.raises(ValueError, match="rule='rls'"):
        OnlineReservoir("ESN", {"units": 12}, seed=0).fit(U, Y).set_params(rule="lms").partial_fit(U, Y)
