"""Spiking neuron descriptions: analytic rates, brian2 vs the shared numpy/torch step, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurorec.models.spiking import LIF, AdaptiveLIF, CobaLIF, SynapticLIF, simulate

b2 = pytest.importorskip("brian2")

from neurorec.backends.brian2 import run_brian2  # noqa: E402

CODEGEN = "numpy"  # no compilation in tests


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of spikes at the same (step, neuron) in both trains."""
    a, b = np.asarray(a).astype(bool), np.asarray(b).astype(bool)
    total = max(a.sum(), b.sum())
    return 1.0 if total == 0 else float((a & b).sum() / total)


def _analytic_count(i_ext, model: LIF, duration_ms: float) -> float:
    rate = 1.0 / (model.refractory + model.tau_mem * math.log((i_ext - model.v_reset) / (i_ext - model.v_th)))
    return rate * duration_ms


# --------------------------------------------------------------------------------------
# analytic firing rate
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["step", "brian2"])
def test_lif_constant_current_matches_analytic_rate(engine):
    model = LIF(tau_mem=20.0, v_th=1.0, v_reset=0.0, reset="zero", refractory=2.0)
    dt, steps = 0.1, 10_000  # 1 s
    currents = np.array([1.05, 1.5, 3.0])  # rates up to ~100 Hz: discretisation error < 1 spike
    x = np.broadcast_to(currents, (steps, currents.size)).copy()
    if engine == "step":
        spikes, _ = simulate(model, x, dt)
    else:
        spikes, _ = run_brian2(model, x, dt, codegen_target=CODEGEN)
    counts = np.asarray(spikes).sum(axis=0)
    expected = np.array([_analytic_count(i, model, steps * dt) for i in currents])
    assert np.all(counts > 0)
    np.testing.assert_allclose(counts, expected, atol=1.0)


@pytest.mark.parametrize("engine", ["step", "brian2"])
def test_lif_constant_current_matches_discrete_interval(engine):
    """Exact discrete prediction: inter-spike interval = (n_ref - 1) frozen steps + k charging steps."""
    model = LIF(tau_mem=20.0, v_th=1.0, v_reset=0.0, reset="zero", refractory=2.0)
    dt, steps = 0.1, 3000
    currents = np.array([1.05, 1.5, 3.0, 8.0])
    x = np.broadcast_to(currents, (steps, currents.size)).copy()
    run = simulate if engine == "step" else (lambda m, x, dt: run_brian2(m, x, dt, codegen_target=CODEGEN))
    spikes, _ = run(model, x, dt)
    d = model.decays(dt)
    for j, i_ext in enumerate(currents):
        k = math.ceil(math.log(1.0 - model.v_th / i_ext) / math.log(d["beta"]))
        times = np.flatnonzero(np.asarray(spikes)[:, j])
        assert times[0] == k - 1
        assert np.all(np.diff(times) == d["n_ref"] - 1 + k)


def test_lif_below_threshold_never_fires():
    spikes, state = simulate(LIF(), np.full((2000, 3), 0.99), 0.5)
    assert spikes.sum() == 0
    np.testing.assert_allclose(state.v, 0.99, rtol=1e-6)


# --------------------------------------------------------------------------------------
# brian2 vs the shared step function
# --------------------------------------------------------------------------------------
def test_lif_layer_brian2_matches_step_numpy_and_torch():
    """100 LIF neurons, no recurrence, the same random input for 1,000 steps."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    model = LIF(tau_mem=20.0, v_th=1.0, v_reset=0.0, reset="subtract", refractory=2.0)
    dt = 0.5
    x = rng.normal(1.6, 1.5, size=(1000, 100))
    s_b2, rec = run_brian2(model, x, dt, codegen_target=CODEGEN, record=("v",))
    s_np, st_np = simulate(model, x, dt)
    s_t, st_t = simulate(model, torch.from_numpy(x), dt)  # float64
    s_t = s_t.numpy()
    assert s_b2.shape == s_np.shape == s_t.shape == (1000, 100)
    assert s_b2.sum() > 1000  # a meaningful number of spikes
    for other in (s_np, s_t):
        assert _agreement(s_b2, other) >= 0.99
        assert abs(int(s_b2.sum()) - int(other.sum())) <= 0.01 * s_b2.sum()
        per_neuron = np.abs(s_b2.sum(0).astype(int) - other.sum(0).astype(int))
        assert np.all(per_neuron <= np.maximum(1, 0.01 * s_b2.sum(0)))
    # in float64 the trains are in fact identical and the membranes equal to round-off
    np.testing.assert_array_equal(s_b2, s_np)
    np.testing.assert_array_equal(s_np, s_t)
    np.testing.assert_allclose(rec["v"][-1], st_np.v, atol=1e-9)


@pytest.mark.parametrize("model, scale", [
    (SynapticLIF(tau_mem=20.0, tau_syn=5.0, refractory=1.0), 0.3),
    (SynapticLIF(tau_mem=10.0, tau_syn=10.0, reset="zero", refractory=1.0), 0.3),  # equal time constants
    (SynapticLIF(tau_mem=10.0, tau_syn=10.0), 0.3),
    (AdaptiveLIF(tau_mem=20.0, tau_adapt=100.0, adapt_increment=0.2, refractory=1.0), 3.0),
    (AdaptiveLIF(tau_mem=20.0, tau_adapt=20.0, adapt_increment=0.5, reset="zero"), 3.0),
    (CobaLIF(), 30.0),
], ids=["synaptic", "synaptic-equal-tau-refractory", "synaptic-equal-tau", "adaptive", "adaptive-equal-tau",
        "coba"])
def test_brian2_matches_step(model, scale):
    rng = np.random.default_rng(7)
    dt = 0.5
    x = rng.uniform(0.0, scale, size=(400, 25))
    s_b2, rec = run_brian2(model, x, dt, codegen_target=CODEGEN, record=("v",))
    s_np, state = simulate(model, x, dt)
    assert s_b2.sum() > 50
    assert _agreement(s_b2, s_np) >= 0.99
    assert abs(int(s_b2.sum()) - int(s_np.sum())) <= max(1, 0.01 * s_b2.sum())
    np.testing.assert_allclose(rec["v"][-1], state.v, atol=1e-6)


def test_adaptation_lowers_the_rate():
    x = np.full((2000, 1), 2.0)
    plain, _ = simulate(LIF(), x, 0.5)
    adapted, state = simulate(AdaptiveLIF(adapt_increment=0.3), x, 0.5)
    assert 0 < adapted.sum() < plain.sum()
    assert state.w[0] > 0


def test_coba_conductances_pull_towards_reversal():
    model = CobaLIF()
    like = np.zeros(1)
    state = model.initial_state(like)
    state = state._replace(g_inh=np.array([2.0]))
    for _ in range(200):
        _, state = model.step(state, like, 0.1)
    assert model.E_inh < state.v[0] < model.E_L


def test_step_is_pure():
    model = SynapticLIF(refractory=1.0)
    state = model.initial_state(np.zeros(5))
    x = np.full(5, 0.4)
    before = [a.copy() for a in state]
    out1 = model.step(state, x, 0.5)
    out2 = model.step(state, x, 0.5)
    for a, b in zip(before, state, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out1[0], out2[0])
    for a, b in zip(out1[1], out2[1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_refractory_steps_follow_brian2():
    """A neuron driven hard fires every refractory_steps(...) steps, in both engines."""
    model = LIF(reset="zero", refractory=2.0)
    x = np.full((200, 1), 1e6)
    s_np, _ = simulate(model, x, 0.5)
    s_b2, _ = run_brian2(model, x, 0.5, codegen_target=CODEGEN)
    np.testing.assert_array_equal(s_np, s_b2)
    assert np.all(np.diff(np.flatnonzero(s_np[:, 0])) == 4)


def test_decays():
    d = SynapticLIF(tau_mem=20.0, tau_syn=5.0).decays(0.5)
    assert d["beta"] == pytest.approx(math.exp(-0.5 / 20.0))
    assert d["alpha"] == pytest.approx(math.exp(-0.5 / 5.0))
    assert LIF(refractory=2.0).decays(0.5)["n_ref"] == 4


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("build, name", [
    (lambda: LIF(tau_mem=-1.0), "tau_mem"),
    (lambda: LIF(tau_mem=0.0), "tau_mem"),
    (lambda: LIF(v_th=0.0, v_reset=0.5), "v_th"),
    (lambda: LIF(v_th=1.0, v_reset=1.0), "v_reset"),
    (lambda: LIF(refractory=-1.0), "refractory"),
    (lambda: LIF(reset="hard"), "reset"),
    (lambda: LIF(v_rest=float("nan")), "v_rest"),
    (lambda: SynapticLIF(tau_syn=-5.0), "tau_syn"),
    (lambda: AdaptiveLIF(tau_adapt=0.0), "tau_adapt"),
    (lambda: AdaptiveLIF(adapt_increment=-0.1), "adapt_increment"),
    (lambda: CobaLIF(tau_exc=-5.0), "tau_exc"),
    (lambda: CobaLIF(v_th=-70.0), "v_th"),
    (lambda: CobaLIF(E_inh=10.0), "E_inh"),
])
def test_bad_parameters_raise(build, name):
    with pytest.raises(ValueError, match=name):
        build()


@pytest.mark.parametrize("model, dt, name", [
    (LIF(tau_mem=1.0), 2.0, "tau_mem"),
    (SynapticLIF(tau_syn=0.5), 1.0, "tau_syn"),
    (AdaptiveLIF(), -0.1, "dt"),
    (CobaLIF(), 6.0, "tau_exc"),
    (LIF(), float("inf"), "dt"),
])
def test_bad_dt_raises(model, dt, name):
    with pytest.raises(ValueError, match=name):
        model.validate(dt)
    with pytest.raises(ValueError, match=name):
        simulate(model, np.zeros((3, 2)), dt)
    with pytest.raises(ValueError, match=name):
        run_brian2(model, np.zeros((3, 2)), dt, codegen_target=CODEGEN)


def test_run_brian2_bad_input():
    with pytest.raises(ValueError, match="current"):
        run_brian2(LIF(), np.zeros((2, 3, 4)), 0.1, codegen_target=CODEGEN)
    with pytest.raises(ValueError, match="NaN"):
        run_brian2(LIF(), np.full((2, 3), np.nan), 0.1, codegen_target=CODEGEN)
    with pytest.raises(ValueError, match="codegen_target"):
        run_brian2(LIF(), np.zeros((2, 3)), 0.1, codegen_target="cpp")
    with pytest.raises(ValueError, match="initial"):
        run_brian2(LIF(), np.zeros((2, 3)), 0.1, codegen_target=CODEGEN, initial={"w": 0.0})


def test_run_brian2_initial_state_and_single_neuron():
    model = LIF(reset="zero")
    s, rec = run_brian2(model, np.zeros(5), 0.5, codegen_target=CODEGEN, initial={"v": 0.5}, record=("v",))
    assert s.shape == (5, 1)
    np.testing.assert_allclose(rec["v"][:, 0], 0.5 * np.exp(-0.5 * np.arange(1, 6) / 20.0))
