"""Spiking network description and its engines: brian2 against the shared step functions."""

import numpy as np
import pytest
from scipy import sparse

from neurorec.models.spiking.network import Connection, Network, Population, run_network, sparse_random
from neurorec.models.spiking.neurons import LIF, CobaLIF, SynapticLIF

pytest.importorskip("brian2")
torch = pytest.importorskip("torch")


def _recurrent_net(refractory=2.0, reset="subtract", delay=1.0):
    rng = np.random.default_rng(0)
    n1, n2 = 40, 30
    a = Population("a", n1, LIF(tau_mem=10.0, refractory=refractory, reset=reset))
    b = Population("b", n2, SynapticLIF(tau_mem=10.0, tau_syn=5.0, reset="zero", refractory=1.0))
    conns = [
        Connection("input", "a", rng.normal(0, 1.5, (3, n1)), "current"),
        Connection("a", "a", sparse_random(n1, n1, 0.2, lambda r, n: r.normal(0, 0.3, n), seed=1), "v", delay=delay),
        Connection("a", "b", sparse_random(n1, n2, 0.3, 0.4, seed=2), "i_syn"),
        Connection("b", "a", sparse_random(n2, n1, 0.3, -0.5, seed=3), "v", delay=0.5),
        Connection("b", "b", sparse_random(n2, n2, 0.2, 0.3, seed=4), "v"),
    ]
    return Network([a, b], conns, n_inputs=3, dt=0.5)


def _coba_net(n=200, seed=0):
    ne = n * 4 // 5
    W = sparse_random(n, n, 0.1, 1.0, seed=seed)
    exc = sparse.vstack([W[:ne] * 2.4, W[ne:] * 0.0]).tocsr()  # 4x the COBA jump: 1/4 of its in-degree
    inh = sparse.vstack([W[:ne] * 0.0, W[ne:] * 13.0]).tocsr()
    net = Network([Population("n", n, CobaLIF())],
                  [Connection("n", "n", exc, "g_exc"), Connection("n", "n", inh, "g_inh", delay=0.2)], dt=0.1)
    rng = np.random.default_rng(seed + 1)
    init = {"n": {"v": rng.normal(-55, 5, n), "g_exc": np.abs(rng.normal(4, 1.5, n)),
                  "g_inh": np.abs(rng.normal(20, 12, n))}}
    return net, init


@pytest.mark.parametrize("refractory,reset,delay", [(2.0, "subtract", 1.0), (2.0, "zero", 0.0),
                                                     (0.0, "zero", 1.0), (0.0, "subtract", 0.0)])
def test_brian2_numpy_and_torch_engines_give_identical_spikes(refractory, reset, delay):
    """Recurrent LIF + synaptic LIF populations with delays, jumps into v and into i_syn, both reset
    modes and refractoriness (which blocks jumps into v, as brian2 does): same spikes, same v."""
    net = _recurrent_net(refractory, reset, delay)
    x = np.abs(np.random.default_rng(5).normal(0, 1, (2, 300, 3)))
    rec = [("a", "v"), ("b", "i_syn")]
    ref = net.run(x, engine="brian2", codegen_target="numpy", record=rec)
    out_np = net.run(x, engine="numpy", record=rec)
    out_t = net.run(torch.from_numpy(x), engine="torch", dtype="float64", record=rec)
    for pop in ("a", "b"):
        assert ref.spikes[pop].sum() > 50
        np.testing.assert_array_equal(out_np.spikes[pop], ref.spikes[pop])
        np.testing.assert_array_equal(out_t.spikes[pop].numpy().astype(np.uint8), ref.spikes[pop])
    for key in rec:
        np.testing.assert_allclose(out_np.states[key], ref.states[key], atol=1e-10)
        np.testing.assert_allclose(out_t.states[key].numpy(), ref.states[key], atol=1e-10)
    assert out_np.synops == ref.synops == out_t.synops


def test_conductance_network_agrees_with_brian2():
    net, init = _coba_net()
    ref = net.run(n_steps=1500, engine="brian2", codegen_target="numpy", initial=init, record=[("n", "g_inh")])
    out = net.run(n_steps=1500, engine="numpy", initial=init, record=[("n", "g_inh")])
    assert ref.spikes["n"].sum() > 1000
    np.testing.assert_array_equal(out.spikes["n"], ref.spikes["n"])
    np.testing.assert_allclose(out.states[("n", "g_inh")], ref.states[("n", "g_inh")], rtol=1e-9, atol=1e-9)


def test_batch_copies_are_independent():
    net = _recurrent_net()
    x = np.abs(np.random.default_rng(5).normal(0, 1, (3, 200, 3)))
    both = net.run(x, engine="brian2", codegen_target="numpy")
    one = net.run(x[1:2], engine="brian2", codegen_target="numpy")
    np.testing.assert_array_equal(both.spikes["a"][1:2], one.spikes["a"])
    single = net.run(x[2], engine="numpy")  # a (T, n_inputs) input is a batch of one
    np.testing.assert_array_equal(single.spikes["b"], both.spikes["b"][2:3])


def test_lif_layer_float32_torch_matches_brian2_on_1000_steps():
    """The issue's cross-backend check: 100 LIF neurons, no recurrence, 1,000 steps, torch in
    float32 against brian2: >= 99% of spikes at the same step and counts within 1%."""
    rng = np.random.default_rng(3)
    net = Network([Population("l", 100, LIF(tau_mem=20.0))],
                  [Connection("input", "l", np.eye(100), "current")], n_inputs=100, dt=1.0)
    x = rng.uniform(0.5, 2.5, (1, 1000, 100))
    ref = net.run(x, engine="brian2", codegen_target="numpy").spikes["l"]
    got = net.run(x, engine="torch", dtype="float32").spikes["l"].numpy()
    same = np.logical_and(ref == 1, got == 1).sum() / ref.sum()
    assert same >= 0.99
    assert abs(got.sum() - ref.sum()) <= 0.01 * ref.sum()


def test_delay_and_synops_by_hand():
    """One spike of neuron 0 at a known step reaches neuron 1 exactly `delay` steps later; SynOps
    are the emitted spikes times the fan-out."""
    lif = LIF(tau_mem=10.0, v_th=1.0, reset="zero")
    W = np.array([[0.0, 0.3, 0.2], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    net = Network([Population("p", 3, lif)],
                  [Connection("input", "p", np.array([[5.0, 0.0, 0.0]]), "current"),
                   Connection("p", "p", W, "v", delay=3.0)], n_inputs=1, dt=1.0)
    x = np.zeros((1, 20, 1))
    x[0, 4] = 1.0  # v0 jumps to 5 * (1 - beta) = 0.476: no spike
    x[0, 6] = 3.0  # ... then above threshold: the first and only spike at step 6
    for engine, kw in (("numpy", {}), ("brian2", {"codegen_target": "numpy"})):
        out = net.run(x, engine=engine, record=[("p", "v")], **kw)
        s = np.asarray(out.spikes["p"])[0]
        assert s[:, 0].nonzero()[0].tolist() == [6]
        v1 = out.states[("p", "v")][0, :, 1]
        assert np.all(v1[:9] == 0) and v1[9] == pytest.approx(0.3)
        assert v1[10] == pytest.approx(0.3 * np.exp(-0.1))
        # input: 2 non-zero values x 1 synapse; recurrent: 1 spike x 2 synapses
        assert out.synops == 2 * 1 + 1 * 2


def test_spikes_in_the_last_delay_steps_are_not_counted():
    lif = LIF(tau_mem=10.0)
    net = Network([Population("p", 2, lif)],
                  [Connection("input", "p", np.array([[30.0, 0.0]]), "current"),
                   Connection("p", "p", np.array([[0.0, 0.1], [0.0, 0.0]]), "v", delay=2.0)], n_inputs=1, dt=1.0)
    x = np.zeros((1, 10, 1))
    x[0, 8] = 1.0  # spike at step 8: it would arrive at step 10, after the run
    out = net.run(x, engine="numpy")
    assert out.spikes["p"][0, 8, 0] == 1
    assert out.synops == 1.0


def test_run_network_torch_keeps_tensors_on_device():
    net = _recurrent_net()
    x = torch.rand(1, 50, 3, dtype=torch.float32)
    out = run_network(net, x, xp="torch", dtype="float32", record=[("a", "v")])
    assert isinstance(out.spikes["a"], torch.Tensor) and out.spikes["a"].dtype == torch.float32
    assert out.states[("a", "v")].shape == (1, 50, 40)


@pytest.mark.parametrize("build,match", [
    (lambda: Population("input", 3, LIF()), "identifier other than"),
    (lambda: Population("p", 0, LIF()), "size must be a positive integer"),
    (lambda: Population("p", 3, "lif"), "neuron must be one of"),
    (lambda: Connection("input", "p", np.ones((2, 3)), "v"), "deliver a current"),
    (lambda: Connection("p", "p", np.ones((2, 3)), "current"), "for input connections"),
    (lambda: Connection("p", "p", np.ones(3)), "2-d"),
    (lambda: Connection("p", "p", np.full((3, 3), np.nan)), "NaN"),
    (lambda: Connection("p", "p", np.ones((3, 3)), delay=-1.0), "delay must be >= 0"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("q", "p", np.ones((3, 3)))]), "unknown source"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("p", "q", np.ones((3, 3)))]), "unknown target"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("p", "p", np.ones((2, 3)))]), r"expected \(3, 3\)"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("p", "p", np.ones((3, 3)), "g_exc")]),
     "not a state variable of LIF"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("p", "p", np.ones((3, 3)), delay=0.15)], dt=0.1),
     "not a multiple of dt"),
    (lambda: Network([Population("p", 3, LIF(tau_mem=1.0))], dt=2.0), "larger than the time constant"),
    (lambda: Network([Population("p", 3, LIF()), Population("p", 2, LIF())]), "unique"),
])
def test_bad_descriptions_fail_with_clear_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_run_arguments_fail_with_clear_errors():
    net = _recurrent_net()
    with pytest.raises(ValueError, match=r"shape \(batch, T, 3\)"):
        net.run(np.zeros((1, 5, 4)))
    with pytest.raises(ValueError, match="NaN"):
        net.run(np.full((1, 5, 3), np.nan))
    with pytest.raises(ValueError, match="pass inputs"):
        net.run(n_steps=5)
    with pytest.raises(ValueError, match="engine must be one of"):
        net.run(np.zeros((1, 5, 3)), engine="nest")
    with pytest.raises(ValueError, match="not a state variable of population 'a'"):
        net.run(np.zeros((1, 5, 3)), record=[("a", "i_syn")])
    with pytest.raises(ValueError, match="must broadcast"):
        net.run(np.zeros((1, 5, 3)), initial={"a": {"v": np.zeros(7)}})
    silent, _ = _coba_net(20)
    with pytest.raises(ValueError, match="n_steps"):
        silent.run()


def test_brian2_engine_handles_every_neuron_model_and_variable():
    """Jumps into v of adaptive and conductance-based neurons (mV units), into w, all-zero weights,
    duplicate record entries, and a torch or list input to the numpy engine (review findings)."""
    from neurorec.models.spiking.neurons import AdaptiveLIF

    rng = np.random.default_rng(2)
    a = Population("a", 20, LIF(tau_mem=10.0, refractory=0.05))
    b = Population("b", 15, AdaptiveLIF(tau_mem=10.0, adapt_increment=0.2, refractory=1.0))
    c = Population("c", 10, CobaLIF())
    conns = [Connection("input", "a", rng.normal(1.0, 1.0, (2, 20)), "current"),
             Connection("a", "b", sparse_random(20, 15, 0.4, 0.5, seed=1), "v", delay=0.5),
             Connection("a", "b", sparse_random(20, 15, 0.2, 0.05, seed=2), "w"),
             Connection("b", "c", sparse_random(15, 10, 0.5, 4.0, seed=3), "v"),  # mV
             Connection("a", "c", sparse_random(20, 10, 0.5, 0.5, seed=4), "g_exc", delay=1.0),
             Connection("c", "a", np.zeros((10, 20)), "v")]
    net = Network([a, b, c], conns, n_inputs=2, dt=0.1)
    x = np.abs(rng.normal(0, 1.5, (2, 400, 2)))
    rec = [("c", "v"), ("b", "w"), ("c", "v")]
    ref = net.run(x, engine="brian2", codegen_target="numpy", record=rec)
    got = net.run(torch.from_numpy(x), engine="numpy", record=rec)
    assert net.run(x.tolist(), engine="numpy").synops == got.synops
    assert len(got.states) == 2 and got.states[("c", "v")].shape == (2, 400, 10)
    for pop in "abc":
        assert ref.spikes[pop].sum() > 5
        np.testing.assert_array_equal(got.spikes[pop], ref.spikes[pop])
    for key in set(rec):
        np.testing.assert_allclose(got.states[key], ref.states[key], atol=1e-9)


# ---------------------------------------------------------------- STDP
def _stdp_net(rule):
    from neurorec.models.spiking.network import STDP  # noqa: F401

    rng = np.random.default_rng(0)
    inp = Population("inp", 30, LIF(tau_mem=5.0, refractory=1.0))
    out = Population("out", 5, SynapticLIF(tau_mem=10.0, tau_syn=5.0, refractory=2.0, reset="zero"))
    W0 = sparse_random(30, 5, 0.7, lambda r, n: r.uniform(0, 0.6, n), seed=1)
    return Network([inp, out], [Connection("input", "inp", np.eye(30), "current"),
                                Connection("inp", "out", W0, "i_syn", plasticity=rule)],
                   n_inputs=30, dt=0.5), W0, rng.uniform(0.5, 3.0, (2, 2000, 30))


def test_stdp_learns_the_same_weights_on_every_engine():
    """Pair-based STDP on a plastic feed-forward connection, two independent copies: brian2
    (event-driven traces, its STDP example's pathways), numpy and torch float64 end with the same
    spikes and the same weights."""
    from neurorec.models.spiking.network import STDP

    net, W0, x = _stdp_net(STDP(a_pre=0.02, a_post=-0.021, w_max=0.6))
    ref = net.run(x, engine="brian2", codegen_target="numpy")
    got = net.run(x, engine="numpy")
    tor = net.run(torch.from_numpy(x), engine="torch", dtype="float64")
    for pop in ("inp", "out"):
        assert ref.spikes[pop].sum() > 500
        np.testing.assert_array_equal(got.spikes[pop], ref.spikes[pop])
        np.testing.assert_array_equal(tor.spikes[pop].numpy().astype(np.uint8), ref.spikes[pop])
    np.testing.assert_allclose(got.weights[1], ref.weights[1], atol=1e-12)
    np.testing.assert_allclose(tor.weights[1].numpy(), ref.weights[1], atol=1e-12)
    changed = np.abs(ref.weights[1] - W0.toarray()[None]).max()
    assert changed > 0.3
    assert (ref.weights[1] >= 0).all() and (ref.weights[1] <= 0.6 + 1e-12).all()
    assert (ref.weights[1][:, W0.toarray() == 0] == 0).all()  # no synapse, no weight


@pytest.mark.parametrize("engine", ["numpy", "brian2"])
def test_stdp_window_is_the_exponential_of_song_miller_abbott(engine):
    """One pre and one post spike, t_post - t_pre = d: the weight changes by a_pre exp(-d/tau_pre)
    for d >= 0 and by a_post exp(d/tau_post) for d < 0 (Song, Miller & Abbott 2000)."""
    from neurorec.models.spiking.network import STDP

    rule = STDP(tau_pre=16.8, tau_post=33.7, a_pre=0.01, a_post=-0.005)
    delays = np.arange(-40, 41, 8)
    pre, post = Population("pre", 1, LIF(tau_mem=1.0)), Population("post", len(delays), LIF(tau_mem=1.0))
    net = Network([pre, post], [Connection("input", "pre", np.eye(1 + len(delays))[:, :1], "current"),
                                Connection("input", "post", np.eye(1 + len(delays))[:, 1:], "current"),
                                Connection("pre", "post", np.full((1, len(delays)), 0.5), "v", plasticity=rule)],
                  n_inputs=1 + len(delays), dt=1.0)
    x = np.zeros((1, 200, 1 + len(delays)))
    x[0, 100, 0] = 5.0                      # the pre spike at step 100
    for j, d in enumerate(delays):
        x[0, 100 + d, 1 + j] = 5.0          # post neuron j fires at step 100 + d
    kw = {"codegen_target": "numpy"} if engine == "brian2" else {}
    out = net.run(x, engine=engine, **kw)
    s_pre, s_post = out.spikes["pre"][0], out.spikes["post"][0]
    assert s_pre[:, 0].nonzero()[0].tolist() == [100]
    assert [s_post[:, j].nonzero()[0].tolist() for j in range(len(delays))] == [[100 + d] for d in delays]
    np.testing.assert_allclose(out.weights[2][0, 0] - 0.5, rule.window(delays * 1.0), rtol=1e-9, atol=1e-15)


def test_plastic_connection_checks():
    from neurorec.models.spiking.network import STDP

    with pytest.raises(ValueError, match="no delay"):
        Connection("a", "b", np.ones((2, 2)), plasticity=STDP(), delay=1.0)
    with pytest.raises(ValueError, match="no delay"):
        Connection("input", "b", np.ones((2, 2)), "current", plasticity=STDP())
    with pytest.raises(ValueError, match="w_max"):
        STDP(w_min=1.0, w_max=0.5)
    with pytest.raises(ValueError, match="tau_pre"):
        STDP(tau_pre=0.0)
    with pytest.raises(ValueError, match="STDP rule"):
        Connection("a", "b", np.ones((2, 2)), plasticity="stdp")
