"""CubaLIF (brian2 vs the shared step), and the COBA/CUBA benchmark networks of experiments/coba_cuba.py:
brian2, numpy and torch (float64) give identical spike trains; the experiment's --quick smoke run."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurorec.models.spiking.network import Connection, Network, Population, sparse_random
from neurorec.models.spiking.neurons import NEURON_MODELS, CubaLIF, CubaLIFState, simulate

b2 = pytest.importorskip("brian2")
torch = pytest.importorskip("torch")

from neurorec.backends.brian2 import run_brian2  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CODEGEN = "numpy"  # no compilation in tests


def _experiment():
    sys.path.insert(0, str(ROOT / "experiments"))
    try:
        return importlib.import_module("coba_cuba")
    finally:
        sys.path.remove(str(ROOT / "experiments"))


# --------------------------------------------------------------------------------------
# CubaLIF
# --------------------------------------------------------------------------------------
def test_cuba_defaults_are_the_benchmark_and_the_model_is_registered():
    m = CubaLIF()
    assert (m.tau_mem, m.tau_exc, m.tau_inh, m.E_L, m.v_th, m.v_reset, m.refractory, m.reset) == \
        (20.0, 5.0, 10.0, -49.0, -50.0, -60.0, 5.0, "zero")
    assert NEURON_MODELS["cuba_lif"] is CubaLIF
    assert Population("p", 3, m).variables == ("v", "i_exc", "i_inh")
    with pytest.raises(ValueError, match="tau_inh"):
        CubaLIF(tau_inh=0.0)
    with pytest.raises(ValueError, match="threshold"):
        CubaLIF(v_th=-70.0)
    with pytest.raises(ValueError, match="tau_exc"):
        CubaLIF().validate(dt=6.0)


def test_cuba_step_is_exact_for_the_linear_equations():
    """Without threshold crossings, one step of 0.1 ms equals 100 steps of 1 us (exact integration)."""
    m = CubaLIF(v_th=100.0, v_reset=-100.0)
    s0 = CubaLIFState(np.array([-55.0]), np.array([8.0]), np.array([-12.0]), np.zeros(1))
    _, one = m.step(s0, np.array([3.0]), 0.1)
    fine = s0
    for _ in range(100):
        _, fine = m.step(fine, np.array([3.0]), 0.001)
    for a, b in zip(one[:3], fine[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("model", [
    CubaLIF(),
    CubaLIF(tau_exc=20.0, tau_inh=20.0),                       # synaptic = membrane time constant, refractory
    CubaLIF(tau_inh=20.0, refractory=0.0, reset="subtract"),   # equal time constants, no refractory period
], ids=["benchmark", "equal-tau-refractory", "equal-tau-subtract"])
def test_cuba_brian2_matches_step(model):
    """A population driven by a random current from random synaptic currents: identical spikes, v to round-off."""
    rng = np.random.default_rng(3)
    T, N, dt = 1500, 40, 0.1
    x = rng.normal(0.5, 3.0, (T, N))
    init = {"v": rng.uniform(-60.0, -50.0, N), "i_exc": rng.uniform(0.0, 10.0, N), "i_inh": rng.uniform(-10.0, 0.0, N)}
    s_b2, rec = run_brian2(model, x, dt, codegen_target=CODEGEN, record=("v", "i_inh"), initial=init)
    s_np, state = simulate(model, x, dt, state=CubaLIFState(init["v"], init["i_exc"], init["i_inh"], np.zeros(N)))
    s_t, _ = simulate(model, torch.from_numpy(x), dt, state=CubaLIFState(
        *(torch.from_numpy(a) for a in (init["v"], init["i_exc"], init["i_inh"], np.zeros(N)))))
    assert s_b2.sum() > 100
    np.testing.assert_array_equal(s_b2, s_np)
    np.testing.assert_array_equal(s_t.numpy(), s_np)
    np.testing.assert_allclose(rec["v"][-1], state.v, atol=1e-9)
    # equal time constants: brian2 gets tau_x a relative 1e-6 larger (see neurons._second_tau)
    np.testing.assert_allclose(rec["i_inh"][-1], state.i_inh, rtol=1e-4, atol=1e-12)


def test_small_recurrent_cuba_network_brian2_numpy_torch():
    """400 CubaLIF neurons, 2% -> 20% connectivity (80 inputs each), exc/inh jumps into i_exc/i_inh, and an
    extra excitatory connection with a 1 ms delay: identical spikes and states for 200 ms."""
    rng = np.random.default_rng(11)
    n = 400
    net0, initial, _ = _experiment().build("cuba", n, seed=5)
    extra = Connection("neurons", "neurons", sparse_random(n, n, 0.01, 0.5, seed=rng), "i_exc", delay=1.0)
    net = Network(net0.populations, [*net0.connections, extra], dt=0.1)
    rec = [("neurons", "v"), ("neurons", "i_inh")]
    ref = net.run(n_steps=2000, engine="brian2", codegen_target=CODEGEN, initial=initial, record=rec)
    out_np = net.run(n_steps=2000, engine="numpy", initial=initial, record=rec)
    out_t = net.run(n_steps=2000, engine="torch", dtype="float64", initial=initial, record=rec)
    assert ref.spikes["neurons"].sum() > 300
    np.testing.assert_array_equal(out_np.spikes["neurons"], ref.spikes["neurons"])
    np.testing.assert_array_equal(out_t.spikes["neurons"].numpy().astype(np.uint8), ref.spikes["neurons"])
    for key in rec:
        np.testing.assert_allclose(out_np.states[key], ref.states[key], atol=1e-9)
        np.testing.assert_allclose(out_t.states[key].numpy(), ref.states[key], atol=1e-9)
    assert out_np.synops == ref.synops == out_t.synops


# --------------------------------------------------------------------------------------
# the benchmark networks
# --------------------------------------------------------------------------------------
def test_benchmark_parameters():
    exp = _experiment()
    net, initial, n_exc = exp.build("coba", 4000, seed=0)
    assert n_exc == 3200 and net.dt == 0.1
    exc, inh = (c.weight for c in net.connections)
    assert [c.variable for c in net.connections] == ["g_exc", "g_inh"]
    assert set(np.unique(exc.data)) == {0.6} and set(np.unique(inh.data)) == {6.7}
    assert exc[3200:].nnz == 0 and inh[:3200].nnz == 0                  # Dale: first 3,200 excitatory
    assert abs(exc.nnz / (3200 * 4000) - 0.02) < 0.001 and abs(inh.nnz / (800 * 4000) - 0.02) < 0.002
    v, ge, gi = (initial["neurons"][k] for k in ("v", "g_exc", "g_inh"))
    assert abs(v.mean() + 65) < 0.5 and abs(v.std() - 5) < 0.5      # E_L + N(-5, 5) mV (Brian's COBA.py)
    assert abs(ge.mean() - 4) < 0.1 and abs(gi.mean() - 20) < 1.0
    net, initial, _ = exp.build("cuba", 4000, seed=0)
    exc, inh = (c.weight for c in net.connections)
    assert [c.variable for c in net.connections] == ["i_exc", "i_inh"]
    np.testing.assert_allclose(np.unique(exc.data), [1.62])
    np.testing.assert_allclose(np.unique(inh.data), [-9.0])
    v = initial["neurons"]["v"]
    assert v.min() >= -60 and v.max() <= -50
    a, _, _ = exp.build("coba", 400, seed=1)
    b, _, _ = exp.build("coba", 400, seed=1)
    assert (a.connections[0].weight != b.connections[0].weight).nnz == 0  # the seed fixes the network


@pytest.mark.parametrize("kind, n", [("coba", 1000), ("cuba", 400)])
def test_benchmark_networks_agree_across_engines(kind, n):
    """The benchmark networks, smaller (80 inputs per neuron kept; COBA needs ~1,000 neurons to sustain its
    activity), 200 ms: brian2, numpy and torch float64 produce the same spike trains."""
    net, initial, _ = _experiment().build(kind, n, seed=0)
    ref = net.run(n_steps=2000, engine="brian2", codegen_target=CODEGEN, initial=initial)
    out_np = net.run(n_steps=2000, engine="numpy", initial=initial)
    out_t = net.run(n_steps=2000, engine="torch", dtype="float64", initial=initial)
    assert ref.spikes["neurons"][:, 1000:].sum() > n // 4  # still active in the second 100 ms
    np.testing.assert_array_equal(out_np.spikes["neurons"], ref.spikes["neurons"])
    np.testing.assert_array_equal(out_t.spikes["neurons"].numpy().astype(np.uint8), ref.spikes["neurons"])


def test_spike_statistics():
    exp = _experiment()
    s = np.zeros((10000, 3), dtype=np.uint8)   # 1 s
    s[::100, 0] = 1                            # 100 Hz, regular: CV 0
    s[[10, 20, 4000, 4010], 1] = 1             # 4 Hz, irregular
    stats, rates, cvs = exp.spike_stats(s, n_exc=2)
    np.testing.assert_allclose(rates, [100.0, 4.0, 0.0])
    assert stats["mean_rate_hz"] == pytest.approx(104 / 3) and stats["exc_rate_hz"] == pytest.approx(52)
    assert stats["frac_silent"] == pytest.approx(1 / 3) and stats["n_cv_neurons"] == 2
    assert cvs[0] == pytest.approx(0.0) and cvs[1] > 1.0
    t = s.copy()
    t[5000, 2] = 1
    assert exp.first_divergence_ms(s, t) == pytest.approx(500.0) and exp.first_divergence_ms(s, s) is None


# --------------------------------------------------------------------------------------
# the experiment script
# --------------------------------------------------------------------------------------
@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_experiment_quick(tmp_path):
    pytest.importorskip("matplotlib")
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / "coba_cuba.py"), "--quick", "--codegen", "numpy",
                          "--out", str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name in ("results.json", "runs.csv", "coba_cuba.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    result = json.loads((tmp_path / "results.json").read_text())
    engines = [(r["network"], r["engine"]) for r in result["runs"]]
    assert engines == [("COBA", "brian2 numpy"), ("COBA", "torch float32"), ("COBA", "torch float64"),
                       ("COBA", "numpy float64"), ("CUBA", "brian2 numpy"), ("CUBA", "numpy float64")]
    assert all(r["n_spikes"] > 0 for r in result["runs"])
    assert len(result["rate_checks"]) == 2
    assert "agree within 10 %" in res.stdout
