"""NIR export / import (neurorec.hardware.nir_io): exact round trips, the graph's meaning checked
by an independent NIR simulator, clear errors, and graphs written by snntorch and norse."""

import math
import os

import numpy as np
import pytest
from scipy import sparse

nir = pytest.importorskip("nir")
pytest.importorskip("torch")

from neurorec.hardware.nir_io import encoded_input, from_nir, to_nir  # noqa: E402
from neurorec.models.spiking.network import STDP, Connection, Network, Population, sparse_random  # noqa: E402
from neurorec.models.spiking.neurons import LIF, AdaptiveLIF, CobaLIF, CubaLIF, SynapticLIF  # noqa: E402


# ----------------------------------------------------------------------------- an independent NIR reader
def _simulate_nir(graph, x, dt_s):
    """Run a NIR graph with the *exact* discretisation of nir_io's docstring, written from NIR's
    equations (not from neurorec): every node's output at every step, ``{node: (T, n)}``.

    Input held over the step; Affine/Linear act in the same step; an edge that closes a cycle
    reads the previous step; Delay(d) reads ``d / dt`` steps back; LIF/LI: exact solution of
    tau v' = v_leak - v + r I with I held; CubaLIF: I jumps by w_in S dt / tau_syn, then the
    linear system is solved exactly over the step."""
    nodes, pred = graph.nodes, {}
    for a, b in graph.edges:
        pred.setdefault(b, []).append(a)
    T = x.shape[0]
    out = {k: [] for k in nodes}
    state = {}

    def size(k):
        node = nodes[k]
        for f in ("v_threshold", "tau", "r", "delay"):
            if getattr(node, f, None) is not None:
                return np.asarray(getattr(node, f)).size
        if isinstance(node, nir.Affine | nir.Linear):
            return np.asarray(node.weight).shape[0]
        return int(np.asarray(list(node.output_type.values())[0]).ravel()[-1])

    def value(k, n, stack):
        if n < 0:
            return np.zeros(size(k))
        if len(out[k]) > n:
            return out[k][n]
        if k in stack:                       # a cycle: the previous step
            return value(k, n - 1, ())
        node, st = nodes[k], stack + (k,)
        inp = sum((value(p, n, st) for p in pred.get(k, [])), start=np.zeros(1))
        if isinstance(node, nir.Input):
            y = x[n]
        elif isinstance(node, nir.Affine):
            y = np.asarray(node.weight) @ inp + np.asarray(node.bias)
        elif isinstance(node, nir.Linear):
            y = np.asarray(node.weight) @ inp
        elif isinstance(node, nir.Delay):
            steps = int(round(float(np.asarray(node.delay).ravel()[0]) / dt_s))
            (p,) = pred[k]
            y = value(p, n - steps, st)
        elif isinstance(node, nir.LIF | nir.LI):
            beta = np.exp(-dt_s / np.asarray(node.tau))
            v = state.get(k, np.asarray(node.v_leak, dtype=float) * 1.0)
            drive = np.asarray(node.v_leak) + np.asarray(node.r) * inp
            v = drive + (v - drive) * beta
            if isinstance(node, nir.LIF):
                z = v > np.asarray(node.v_threshold)
                v = np.where(z, np.asarray(node.v_reset), v)
                y = z.astype(float)
            else:
                y = v
            state[k] = v
        elif isinstance(node, nir.CubaLIF):
            ts, tm = np.asarray(node.tau_syn), np.asarray(node.tau_mem)
            a, b = np.exp(-dt_s / ts), np.exp(-dt_s / tm)
            kk = ts / (ts - tm) * (a - b)
            v, i = state.get(k, (np.asarray(node.v_leak, dtype=float) * 1.0, np.zeros(size(k))))
            i = i + np.asarray(node.w_in) * inp * dt_s / ts
            v = np.asarray(node.v_leak) + (v - np.asarray(node.v_leak)) * b + kk * np.asarray(node.r) * i
            i = i * a
            z = v > np.asarray(node.v_threshold)
            v = np.where(z, np.asarray(node.v_reset), v)
            state[k] = (v, i)
            y = z.astype(float)
        elif isinstance(node, nir.Output):
            y = inp
        else:
            raise AssertionError(type(node))
        out[k].append(np.broadcast_to(y, (size(k),)).astype(float))
        return out[k][n]

    for n in range(T):
        for k in nodes:
            value(k, n, ())
    return {k: np.array(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- fixtures
def _network(dt=0.5, seed=0):
    """Recurrent network NIR can say exactly: a LIF driven by the input, a recurrent SynapticLIF
    population (dense recurrence, sparse delayed input from the LIF) and a CubaLIF population fed
    through i_exc (sparse, delayed) that inhibits the SynapticLIF back."""
    rng = np.random.default_rng(seed)
    pops = [Population("a", 6, LIF(tau_mem=10.0, v_th=1.0, v_reset=0.0, reset="zero", v_rest=0.1)),
            Population("b", 8, SynapticLIF(tau_mem=12.0, tau_syn=4.0, v_th=1.0, reset="zero")),
            Population("c", 5, CubaLIF(tau_mem=15.0, tau_exc=5.0, tau_inh=7.0, E_L=-60.0, v_th=-50.0,
                                       v_reset=-62.0, refractory=0.0))]
    conns = [Connection("input", "a", rng.uniform(0, 0.6, (3, 6)), "current"),
             Connection("input", "b", rng.uniform(0, 0.5, (3, 8)), "current"),
             Connection("a", "b", sparse_random(6, 8, 0.5, 0.8, seed=1), "i_syn", delay=1.0),
             Connection("b", "b", rng.normal(0, 0.3, (8, 8)), "i_syn"),
             Connection("b", "c", sparse_random(8, 5, 0.6, 6.0, seed=2), "i_exc", delay=0.5),
             Connection("c", "b", rng.uniform(-0.5, 0, (5, 8)), "i_syn")]
    return Network(pops, conns, n_inputs=3, dt=dt)


def _inputs(seed=0, B=2, T=60):
    return np.random.default_rng(seed).uniform(0, 3, (B, T, 3))


RECORD = [("a", "v"), ("b", "v"), ("b", "i_syn"), ("c", "v"), ("c", "i_exc")]


def _same_run(r1, r2, exact=True):
    for k in r1.spikes:
        a, b = np.asarray(r1.spikes[k], dtype=float), np.asarray(r2.spikes[k], dtype=float)
        assert a.sum() > 0, f"population {k} is silent: the test would check nothing"
        np.testing.assert_array_equal(a, b)
    for k in r1.states:
        a, b = np.asarray(r1.states[k]), np.asarray(r2.states[k])
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- Network
@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_network_file_round_trip_is_exact(tmp_path, engine):
    net = _network()
    path = tmp_path / "net.nir"
    graph = to_nir(net, path=path)
    assert path.exists() and not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]
    assert graph.metadata["dt"] == pytest.approx(0.5e-3) and graph.metadata["time_unit"] == "s"
    assert isinstance(graph.nodes["a"], nir.LIF) and isinstance(graph.nodes["b"], nir.CubaLIF)
    assert graph.nodes["b"].tau_syn.shape == (8,) and graph.nodes["b"].tau_syn[0] == pytest.approx(4e-3)
    assert graph.nodes["c2"].weight.shape == (8, 6)          # NIR is (out, in)
    assert isinstance(graph.nodes["d2"], nir.Delay)
    assert graph.nodes["d2"].delay[0] == pytest.approx(1.5e-3)  # 1 ms delay + one step of latency
    back = from_nir(path)
    assert [p.neuron for p in back.populations] == [p.neuron for p in net.populations]
    kw = {"dtype": "float64"} if engine == "torch" else {}
    x = _inputs()
    _same_run(net.run(x, engine=engine, record=RECORD, **kw), back.run(x, engine=engine, record=RECORD, **kw))


def test_network_round_trip_brian2(tmp_path):
    pytest.importorskip("brian2")
    net = _network()
    back = from_nir(to_nir(net, path=tmp_path / "n.nir") and tmp_path / "n.nir")
    x = _inputs(B=1, T=40)
    r1 = net.run(x, engine="brian2", record=RECORD, codegen_target="numpy")
    r2 = back.run(x, engine="brian2", record=RECORD, codegen_target="numpy")
    _same_run(r1, r2)


def test_exported_network_means_what_neurorec_runs():
    """An independent NIR simulator (exact discretisation) on the exported graph gives neurorec's
    spikes: the graph says the network, not just something neurorec can read back."""
    net = _network()
    x = _inputs(B=1, T=80)
    run = net.run(x, engine="numpy", record=RECORD)
    sim = _simulate_nir(to_nir(net), x[0], net.dt * 1e-3)
    for name in ("a", "b", "c"):
        assert run.spikes[name].sum() > 0
        np.testing.assert_array_equal(sim[name], run.spikes[name][0])


def test_graph_without_neurorec_metadata_reads_as_the_same_network():
    """The NIR parameters alone (foreign reader path) rebuild the same dynamics."""
    net = _network()
    g = to_nir(net)
    for node in g.nodes.values():
        node.metadata = {}
    g.metadata = {"dt": g.metadata["dt"], "discretisation": "exact"}
    back = from_nir(g)
    assert [type(p.neuron).__name__ for p in back.populations] == ["LIF", "SynapticLIF", "SynapticLIF"]
    x = _inputs(B=1, T=80)
    r1, r2 = net.run(x), back.run(x)
    for a, b in zip(net.populations, back.populations, strict=True):
        np.testing.assert_array_equal(r1.spikes[a.name], r2.spikes[b.name])


def test_euler_export_round_trips_and_writes_euler_time_constants():
    net = _network()
    g = to_nir(net, discretisation="euler")
    beta = math.exp(-0.5 / 10.0)
    assert g.nodes["a"].tau[0] == pytest.approx(0.5e-3 / (1 - beta), rel=1e-12)
    assert g.metadata["discretisation"] == "euler"
    x = _inputs(B=1)
    _same_run(net.run(x, record=RECORD), from_nir(g).run(x, record=RECORD))


def test_non_strict_export_keeps_subtract_reset_refractory_and_v_jumps():
    rng = np.random.default_rng(3)
    pops = [Population("p", 10, LIF(tau_mem=8.0, reset="subtract", refractory=1.0)),
            Population("q", 6, LIF(tau_mem=6.0, reset="zero"))]
    conns = [Connection("input", "p", rng.uniform(0, 0.8, (2, 10)), "current"),
             Connection("p", "q", rng.uniform(0, 0.6, (10, 6)), "v", delay=0.5),
             Connection("q", "p", rng.uniform(-0.3, 0.3, (6, 10)), "v")]
    net = Network(pops, conns, n_inputs=2, dt=0.25)
    with pytest.raises(ValueError, match="NIR cannot express the refractory period of population 'p'"):
        to_nir(net)
    g = to_nir(net, strict=False)
    notes = g.metadata["neurorec_approximations"]
    assert "refractory" in notes and "jumps into 'v'" in notes
    x = rng.uniform(0, 3, (1, 120, 2))
    rec = [("p", "v"), ("q", "v")]
    _same_run(net.run(x, record=rec), from_nir(g).run(x, record=rec), exact=False)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make,match", [
    (lambda: Network([Population("p", 3, AdaptiveLIF())], [Connection("input", "p", np.ones((1, 3)), "current")],
                     n_inputs=1, dt=0.5), "AdaptiveLIF has no NIR node"),
    (lambda: Network([Population("p", 3, CobaLIF())], [], dt=0.5), "CobaLIF has no NIR node"),
    (lambda: Network([Population("p", 3, LIF())], [Connection("p", "p", np.full((3, 3), 0.1), "v", plasticity=STDP())],
                     dt=0.5), "STDP plasticity"),
    (lambda: Network([Population("p", 3, CubaLIF(refractory=0.0))],
                     [Connection("p", "p", np.full((3, 3), 0.1), "i_exc"),
                      Connection("p", "p", np.full((3, 3), -0.1), "i_inh")], dt=0.5),
     "both i_exc .* and i_inh"),
    (lambda: Network([Population("p", 3, CubaLIF(refractory=0.0))],
                     [Connection("input", "p", np.ones((1, 3)), "current")], n_inputs=1, dt=0.5),
     "input connection into population 'p'"),
    (lambda: Network([Population("p", 3, SynapticLIF())], [Connection("p", "p", np.full((3, 3), 0.1), "v")], dt=0.5),
     "into 'v' of population 'p'"),
])
def test_constructs_nir_cannot_say_are_refused_by_name(make, match, tmp_path):
    path = tmp_path / "x.nir"
    with pytest.raises(ValueError, match=match):
        to_nir(make(), path=path, strict=False)
    assert not path.exists() and os.listdir(tmp_path) == []


def test_unreadable_inputs_give_one_line_errors(tmp_path):
    bad = tmp_path / "corrupt.nir"
    bad.write_bytes(b"this is not an HDF5 file" * 10)
    with pytest.raises(ValueError, match=r"corrupt\.nir' is not a NIR file \(not readable as HDF5: "
                                         r"file signature not found\)$") as info:
        from_nir(bad)
    assert "\n" not in str(info.value) and "Unable to synchronously open" not in str(info.value)
    with pytest.raises(OSError, match="does not exist"):
        from_nir(tmp_path / "missing.nir")
    with pytest.raises(ValueError, match="nir.NIRGraph or the path"):
        from_nir(42)


def test_unsupported_node_and_missing_dt_are_named():
    g = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([3])}),
                               nir.Linear(weight=np.ones((3, 3))),
                               nir.IF(r=np.ones(3), v_threshold=np.ones(3)))
    with pytest.raises(ValueError, match=r"node 'if' has type IF.*supported node types: Input, Output, Affine"):
        from_nir(g, dt=1.0)
    # without dt either: the unsupported node is named first, not the missing dt
    g3 = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([3])}), nir.Linear(weight=np.ones((3, 3))),
                                nir.Threshold(threshold=np.ones(3)))
    assert "dt" not in (g3.metadata or {})
    with pytest.raises(ValueError, match=r"node 'threshold' has type Threshold, which neurorec cannot read"):
        from_nir(g3)
    g2 = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([3])}), nir.Linear(weight=np.ones((3, 3))),
                                nir.LIF(tau=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                                        v_threshold=np.ones(3)))
    with pytest.raises(ValueError, match="no 'dt' in its metadata"):
        from_nir(g2)
    assert isinstance(from_nir(g2, dt=1.0), Network)
    with pytest.raises(ValueError, match="model must be a SpikingClassifier, a Network or an LSM"):
        to_nir("not a model")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "out.nir"
    path.write_bytes(b"old")

    def boom(filename, graph, *a, **k):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(nir, "write", boom)
    with pytest.raises(OSError, match="disk full"):
        to_nir(_network(), path=path)
    assert path.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["out.nir"]


# ----------------------------------------------------------------------------- SpikingClassifier
def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 10, 3))
    return X, (X[:, :, 0].mean(1) > 0).astype(int)


@pytest.fixture(scope="module")
def classifiers():
    from neurorec.models.spiking.snn import SpikingClassifier

    X, y = _data()
    common = dict(epochs=2, seed=0, backend="numpy", dtype="float64", early_stopping=False, tau_mem=5.0)
    ff = SpikingClassifier(hidden=(12, 6), readout="membrane_mean", reset="zero", **common).fit(X, y)
    rec = SpikingClassifier(hidden=(10,), recurrent=True, readout="spike_count", reset="zero", threshold=0.5,
                            **common).fit(X, y)
    sub = SpikingClassifier(hidden=(8,), readout="membrane_max", reset="subtract", **common).fit(X, y)
    f32 = SpikingClassifier(hidden=(12,), readout="membrane_max", reset="zero", encoder="poisson",
                            **{**common, "backend": "torch", "dtype": "float32"}).fit(X, y)
    return X, {"ff": ff, "rec": rec, "sub": sub, "f32": f32}


@pytest.mark.parametrize("kind", ["ff", "rec", "f32"])
def test_classifier_round_trip_gives_identical_scores(classifiers, kind, tmp_path):
    from neurorec.models.spiking.snn import SpikingClassifier

    X, models = classifiers
    clf = models[kind]
    g = to_nir(clf, path=tmp_path / "c.nir")
    assert isinstance(g.nodes["readout"], nir.LIF if kind == "rec" else nir.LI)
    beta = math.exp(-clf.dt / clf.tau_mem)
    assert g.nodes["lif_0"].r[0] == pytest.approx(1 / (1 - beta))
    assert g.nodes["lif_0"].tau[0] == pytest.approx(clf.tau_mem * 1e-3)
    back = from_nir(tmp_path / "c.nir")
    assert isinstance(back, SpikingClassifier) and back.get_params() == clf.get_params()
    np.testing.assert_array_equal(back.decision_function(X), clf.decision_function(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    if kind == "rec":
        assert "recurrent_0" in g.nodes and ("lif_0", "recurrent_0") in g.edges


@pytest.mark.parametrize("kind", ["ff", "rec"])
def test_classifier_graph_means_the_classifier(classifiers, kind):
    """The independent exact NIR simulator on encoded_input gives the classifier's scores."""
    X, models = classifiers
    clf = models[kind]
    xe, lengths = encoded_input(clf, X[:4])
    g = to_nir(clf)
    scores = clf.transform(X[:4])       # (batch, n_classes); a binary decision_function is 1-D
    for b in range(4):
        out = _simulate_nir(g, xe[b], clf.dt * 1e-3)["readout"][:lengths[b]]
        expect = out.sum(0) if clf.readout == "spike_count" else out.mean(0)
        np.testing.assert_allclose(expect, scores[b], rtol=1e-9, atol=1e-9)


def test_classifier_read_as_foreign_graph_gives_the_same_scores(classifiers):
    X, models = classifiers
    clf = models["rec"]
    g = to_nir(clf)
    g.metadata = {"dt": g.metadata["dt"], "discretisation": "exact"}
    back = from_nir(g)
    xe, _ = encoded_input(clf, X)
    np.testing.assert_allclose(back.decision_function(xe), clf.decision_function(X), atol=1e-12)


def test_subtract_reset_classifier_is_refused_or_kept_in_metadata(classifiers):
    X, models = classifiers
    clf = models["sub"]
    with pytest.raises(ValueError, match="reset='subtract' of the SpikingClassifier"):
        to_nir(clf)
    g = to_nir(clf, strict=False)
    assert g.nodes["lif_0"].v_reset[0] == 0 and g.nodes["lif_0"].metadata["reset"] == "subtract"
    back = from_nir(g)
    assert back.reset == "subtract"
    np.testing.assert_array_equal(back.decision_function(X), clf.decision_function(X))


# ----------------------------------------------------------------------------- LSM
def test_lsm_round_trip(tmp_path):
    from neurorec.models.spiking.lsm import LSM

    X, y = _data(1)
    lsm = LSM(units=30, steps_per_input=2, backend="torch", seed=0).fit(X[:12, :6], y[:12])
    with pytest.raises(ValueError, match="refractory period of population 'liquid'"):
        to_nir(lsm)
    g = to_nir(lsm, strict=False, path=tmp_path / "lsm.nir")
    assert isinstance(g.nodes["liquid"], nir.CubaLIF) and g.nodes["c0"].weight.shape == (30, 4)
    back = from_nir(tmp_path / "lsm.nir")
    assert isinstance(back, LSM) and back.refractory == lsm.refractory
    np.testing.assert_array_equal(back.predict(X[:12, :6]), lsm.predict(X[:12, :6]))
    np.testing.assert_array_equal(back.decision_function(X[:12, :6]), lsm.decision_function(X[:12, :6]))
    np.testing.assert_array_equal(back.W_out_, lsm.W_out_)
    with pytest.raises(ValueError, match="LSM was written with dt=1 ms"):
        from_nir(g, dt=0.5)                       # was silently ignored
    g.nodes["liquid"].tau_mem = g.nodes["liquid"].tau_mem * 2
    with pytest.raises(ValueError, match="population 'liquid' .* disagrees with its metadata"):
        from_nir(g)                               # the edit was silently ignored


# ----------------------------------------------------------------------------- other writers
def _snn_run(net, x):
    import torch
    from snntorch import utils as snnutils

    snnutils.reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            s, _ = net(x[t])
            out.append(s)
    return torch.stack(out)


def _snn_net(reset, recurrent=False):
    import snntorch as snn
    import torch

    torch.manual_seed(0)

    def leaky(n, out=False):
        return snn.Leaky(beta=torch.full((n,), 0.9), threshold=torch.ones(n), init_hidden=True, output=out,
                         reset_mechanism=reset)

    hidden = (snn.RLeaky(beta=torch.full((8,), 0.9), threshold=torch.ones(8), linear_features=8, init_hidden=True,
                         reset_mechanism=reset, reset_delay=False) if recurrent else leaky(8))
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), hidden, torch.nn.Linear(8, 3), leaky(3, True))
    with torch.no_grad():
        net[0].weight.mul_(3)
    return net


@pytest.mark.parametrize("recurrent", [False, True])
def test_snntorch_graph_gives_snntorch_spikes(recurrent):
    pytest.importorskip("snntorch")
    import torch
    from snntorch.export_nir import export_to_nir

    net = _snn_net("zero", recurrent)
    x = torch.rand(100, 1, 5, generator=torch.Generator().manual_seed(1))
    ref = _snn_run(net, x).sum(0).numpy()
    clf = from_nir(export_to_nir(net, torch.rand(5)), dt=0.1)   # snntorch's fixed dt: 1e-4 s
    assert clf.readout == "spike_count" and clf.recurrent == recurrent
    assert ref.sum() > 0
    np.testing.assert_array_equal(clf.decision_function(x.permute(1, 0, 2).double().numpy()), ref)


def test_snntorch_export_loses_the_subtract_reset():
    """The finding of issue 12: snntorch's export writes a subtract-reset Leaky as NIR's reset to
    v_reset = 0 (the same graph as for reset_mechanism="zero"); its importer reads that correctly
    as a zero reset, so the round trip changes the network. neurorec reads the graph as NIR says,
    i.e. as snntorch's re-imported network."""
    pytest.importorskip("snntorch")
    import torch
    from snntorch.export_nir import export_to_nir

    g_sub = export_to_nir(_snn_net("subtract"), torch.rand(5))
    g_zero = export_to_nir(_snn_net("zero"), torch.rand(5))
    for k, node in g_sub.nodes.items():
        for f in ("tau", "r", "v_leak", "v_threshold", "v_reset", "weight", "bias"):
            if hasattr(node, f):
                np.testing.assert_array_equal(np.asarray(getattr(node, f)), np.asarray(getattr(g_zero.nodes[k], f)))
    assert np.all(np.asarray(g_sub.nodes["1"].v_reset) == 0)
    x = torch.rand(100, 1, 5, generator=torch.Generator().manual_seed(1))
    subtract = _snn_run(_snn_net("subtract"), x).sum(0).numpy()
    zero = _snn_run(_snn_net("zero"), x).sum(0).numpy()
    assert not np.array_equal(subtract, zero)      # the reset matters for this network
    got = from_nir(g_sub, dt=0.1).decision_function(x.permute(1, 0, 2).double().numpy())
    np.testing.assert_array_equal(got, zero)


def test_norse_graph_gives_norse_spikes():
    norse = pytest.importorskip("norse.torch")
    import torch

    torch.manual_seed(0)
    m = norse.SequentialState(torch.nn.Linear(4, 6), norse.LIFBoxCell(), torch.nn.Linear(6, 3),
                              norse.LIFBoxCell()).double()
    with torch.no_grad():
        m[0].weight.mul_(20)
        m[2].weight.mul_(10)
    x = torch.rand(200, 1, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            o, state = m(x[t], state)
            out.append(o)
    ref = torch.stack(out).sum(0).numpy()
    g = norse.to_nir(m, torch.randn(1, 4, dtype=torch.float64))
    # norse 1.1 writes tau = dt / tau_mem_inv (1e-5 s for its default 10 ms): time_scale = 1 / dt
    assert float(np.asarray(g.nodes["1"].tau)) == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="not below the time constant"):
        from_nir(g, dt=1.0)
    clf = from_nir(g, dt=1.0, time_scale=1000.0)
    assert ref.sum() > 0
    np.testing.assert_array_equal(clf.decision_function(x.permute(1, 0, 2).numpy()), ref)


def test_sparse_weights_come_back_sparse():
    net = _network()
    back = from_nir(to_nir(net))
    for c1, c2 in zip(net.connections, back.connections, strict=True):
        assert (c1.source, c1.target, c1.variable, c1.delay) == (c2.source, c2.target, c2.variable, c2.delay)
        assert c1.weight.nnz == c2.weight.nnz and sparse.issparse(c2.weight)


def test_norse_cubalif_graph_reads_as_norse_reads_it():
    """norse's LIFCell -> nir.CubaLIF: neurorec (Euler reading, time_scale for norse's tau) gives the
    spikes of norse's own from_nir of the same graph (its LIFCell itself differs: docstring)."""
    norse = pytest.importorskip("norse.torch")
    import dataclasses

    import torch

    torch.manual_seed(0)
    m = norse.SequentialState(torch.nn.Linear(4, 6, bias=False), norse.LIFCell()).double()
    with torch.no_grad():
        m[0].weight.mul_(20)
    g = norse.to_nir(m, torch.randn(1, 4, dtype=torch.float64))
    net = from_nir(g, dt=1.0, time_scale=1000.0)
    assert isinstance(net.populations[0].neuron, SynapticLIF)
    n = g.nodes["1"]
    g.nodes["1"] = dataclasses.replace(n, tau_mem=n.tau_mem * 1000, tau_syn=n.tau_syn * 1000)
    imported = norse.from_nir(g, dt=1e-3).double()
    x = torch.rand(200, 1, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            o, state = imported(x[t], state)
            out.append(o)
    ref = torch.stack(out)[:, 0].numpy()
    got = net.run(x.permute(1, 0, 2).numpy()).spikes[net.populations[0].name][0]
    assert ref.sum() > 0
    np.testing.assert_array_equal(got, ref)


def test_network_without_input_round_trips(tmp_path):
    """A self-driven network (CubaLIF above threshold at rest) has no Input node; the file still reads."""
    rng = np.random.default_rng(4)
    net = Network([Population("c", 20, CubaLIF(refractory=0.0))],
                  [Connection("c", "c", rng.uniform(-2, 1.6, (20, 20)), "i_exc")], dt=0.1)
    back = from_nir(to_nir(net, path=tmp_path / "free.nir") and tmp_path / "free.nir")
    r1, r2 = net.run(n_steps=400, record=[("c", "v")]), back.run(n_steps=400, record=[("c", "v")])
    _same_run(r1, r2)


def test_delayed_subtract_reset_is_an_immediate_subtraction_of_threshold_over_beta():
    """The docstring's derivation: snntorch's delayed subtract reset (the classifier's) equals a LIF
    that subtracts theta / beta at once (v_reset = theta (1 - 1/beta)), driven by I / (1 - beta)."""
    from neurorec.models.spiking.snn import _lif, _Spec

    tau, dt, thr = 5.0, 1.0, 1.0
    beta = math.exp(-dt / tau)
    current = np.random.default_rng(5).uniform(0, 0.8, (300, 1, 7))
    s_clf = _lif(current, _Spec(beta, thr, "subtract", "atan", None, "spike_count"))[:, 0]
    net = Network([Population("p", 7, LIF(tau_mem=tau, v_th=thr, v_reset=thr - thr / beta, reset="subtract"))],
                  [Connection("input", "p", np.eye(7), "current")], n_inputs=7, dt=dt)
    s_net = net.run(current[:, 0][None] / (1 - beta)).spikes["p"][0]
    assert s_clf.sum() > 50
    np.testing.assert_array_equal(s_clf, s_net)


def test_classifier_euler_export_and_edited_graph(classifiers):
    X, models = classifiers
    clf = models["rec"]
    g = to_nir(clf, discretisation="euler")
    beta = math.exp(-clf.dt / clf.tau_mem)
    assert g.nodes["lif_0"].tau[0] == pytest.approx(clf.dt * 1e-3 / (1 - beta), rel=1e-12)
    np.testing.assert_array_equal(from_nir(g).decision_function(X), clf.decision_function(X))
    g.nodes["lif_0"].v_threshold[:] = 2.0
    with pytest.raises(ValueError, match="node 'lif_0': v_threshold disagrees with the graph's neurorec metadata"):
        from_nir(g)
    g = to_nir(clf)
    g.nodes["lif_0"].v_leak = np.full_like(g.nodes["lif_0"].v_leak, 0.5)
    with pytest.raises(ValueError, match="node 'lif_0': v_leak disagrees with the graph's neurorec metadata"):
        from_nir(g)                               # the edit was silently ignored


# ----------------------------------------------------------------------------- second review: regressions
def _lif(n, **kw):
    p = {"tau": 0.01, "r": 1.0, "v_leak": 0.0, "v_threshold": 1.0, "v_reset": 0.0, **kw}
    return nir.LIF(**{k: np.broadcast_to(np.asarray(v, dtype=float), (n,)).copy() for k, v in p.items()})


def _inp(n):
    return nir.Input(input_type={"input": np.array([n])})


def test_cubalif_fed_through_i_exc_and_i_inh_with_one_time_constant(tmp_path):
    """Both currents of a CubaLIF with tau_exc == tau_inh are one NIR current (export crashed with
    "variable 'i_inh' cannot be said in NIR")."""
    rng = np.random.default_rng(5)
    pops = [Population("a", 6, LIF(tau_mem=8.0, reset="zero")),
            Population("c", 4, CubaLIF(tau_mem=15.0, tau_exc=5.0, tau_inh=5.0, E_L=-60.0, v_th=-59.0,
                                       v_reset=-61.0, refractory=0.0))]
    conns = [Connection("input", "a", rng.uniform(0, 0.8, (2, 6)), "current"),
             Connection("a", "c", rng.uniform(0, 6, (6, 4)), "i_exc"),
             Connection("a", "c", -rng.uniform(0, 2, (6, 4)), "i_inh", delay=0.5)]
    net = Network(pops, conns, n_inputs=2, dt=0.5)
    g = to_nir(net, path=tmp_path / "ei.nir")
    back = from_nir(tmp_path / "ei.nir")
    assert [c.variable for c in back.connections] == ["current", "i_exc", "i_inh"]
    x = _inputs(B=1, T=80)[..., :2]
    rec = [("c", "v"), ("c", "i_exc"), ("c", "i_inh")]
    _same_run(net.run(x, record=rec), back.run(x, record=rec))
    np.testing.assert_array_equal(_simulate_nir(g, x[0], 0.5e-3)["c"], net.run(x).spikes["c"][0])


def test_population_without_incoming_connection_adds_no_input_node(tmp_path):
    """nir's type check prepends an Input node to every node no edge feeds: the graph of a network
    with an unfed population had two inputs, and from_nir refused neurorec's own file."""
    net = _network()
    net = Network(list(net.populations) + [Population("idle", 3, LIF(tau_mem=5.0, v_rest=1.5, reset="zero"))],
                  list(net.connections), n_inputs=3, dt=net.dt)
    g = to_nir(net, path=tmp_path / "idle.nir")
    assert [k for k, v in g.nodes.items() if isinstance(v, nir.Input)] == ["input"]
    x = _inputs(B=1, T=40)
    rec = RECORD + [("idle", "v")]
    _same_run(net.run(x, record=rec), from_nir(tmp_path / "idle.nir").run(x, record=rec))
    # a graph that went through nir's type inference (e.g. written before this fix) still reads
    typed = nir.NIRGraph(nodes=dict(g.nodes), edges=list(g.edges), metadata=g.metadata)
    assert "input_idle" in typed.nodes
    _same_run(net.run(x, record=rec), from_nir(typed).run(x, record=rec))


@pytest.mark.parametrize("field,where", [("weight", "w"), ("tau", "lif"), ("bias", "w")])
def test_nan_or_inf_in_a_graph_is_named(field, where):
    """A NaN weight made a classifier neuron silently dead (NaN > threshold is False)."""
    w = nir.Affine(weight=np.full((2, 3), 0.4), bias=np.zeros(2))
    lif = _lif(2)
    node = w if where == "w" else lif
    bad = np.array(getattr(node, field), dtype=float)
    bad.flat[0] = np.nan if field != "bias" else np.inf
    setattr(node, field, bad)
    g = nir.NIRGraph(nodes={"input": _inp(3), "w": w, "lif": lif, "w2": nir.Affine(weight=np.ones((2, 2)),
                                                                                   bias=np.zeros(2)),
                            "li": nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2)),
                            "output": nir.Output(output_type={"output": np.array([2])})},
                     edges=[("input", "w"), ("w", "lif"), ("lif", "w2"), ("w2", "li"), ("li", "output")],
                     type_check=False)
    with pytest.raises(ValueError, match=f"NIR node '{where}': parameter '{field}' contains NaN or infinite") as e:
        from_nir(g, dt=1.0)
    assert "\n" not in str(e.value)



@pytest.mark.parametrize("nodes,match", [
    ({"w": nir.Affine(weight=np.ones((2, 3)), bias=np.ones(3)), "a": _lif(2)}, "node 'w': bias has 3 values for a "
                                                                                 "weight of 2 outputs"),
    ({"w": nir.Linear(weight=np.ones((2, 4))), "a": _lif(2)}, "edge 'input' -> 'w': 'input' gives 3 values but 'w' "
                                                                 "takes 4"),
    ({"w": nir.Linear(weight=np.ones((2, 3))), "a": _lif(5)}, "edge 'w' -> 'a': 'w' gives 2 values but 'a' takes 5"),
])
def test_shape_mismatches_are_named(nodes, match):
    """A wrong-sized bias or weight gave numpy's broadcast/matmul error, or (layered graphs) a
    classifier that failed only in predict."""
    g = nir.NIRGraph(nodes={"input": _inp(3), **nodes}, edges=[("input", "w"), ("w", "a")], type_check=False)
    with pytest.raises(ValueError, match=match):
        from_nir(g, dt=1.0)


def test_negative_time_constants_and_delays_are_named():
    g = nir.NIRGraph.from_list(_inp(3), nir.Linear(weight=np.ones((2, 3))), _lif(2, tau=-0.01))
    with pytest.raises(ValueError, match="node 'lif': parameter 'tau' must be positive"):
        from_nir(g, dt=1.0)
    g = nir.NIRGraph(nodes={"input": _inp(3), "w": nir.Linear(weight=np.ones((3, 3))), "a": _lif(3),
                            "d": nir.Delay(delay=np.full(3, -1e-3)), "w2": nir.Linear(weight=np.eye(3)),
                            "b": _lif(3)},
                     edges=[("input", "w"), ("w", "a"), ("a", "d"), ("d", "w2"), ("w2", "b")], type_check=False)
    with pytest.raises(ValueError, match="node 'd': parameter 'delay' must be >= 0"):
        from_nir(g, dt=1.0)   # was "the edge 'a' -> 'b' acts in the same step (no Delay)"


def test_malformed_edges_are_named():
    g = nir.NIRGraph(nodes={"input": _inp(3), "a": _lif(2)}, edges=[("input", "a")], type_check=False)
    with pytest.raises(ValueError, match="edge 'input' -> 'a': 'input' gives 3 values but 'a' takes 2"):
        from_nir(g, dt=1.0)   # was read as a one-to-one edge that dropped input channel 2
    g = nir.NIRGraph(nodes={"input": _inp(3), "a": nir.LIF(tau=np.array(0.01), r=np.array(1.0), v_leak=np.array(0.0),
                                                         v_threshold=np.array(1.0), v_reset=np.array(0.0))},
                     edges=[("input", "a")], type_check=False)
    with pytest.raises(ValueError, match="no weight node between a source of 3 and a target of 1"):
        from_nir(g, dt=1.0)
    g = nir.NIRGraph(nodes={"input": _inp(3), "a": _lif(3)}, edges=[("input", "zz")], type_check=False)
    with pytest.raises(ValueError, match="edge 'input' -> 'zz' names a node 'zz'"):
        from_nir(g, dt=1.0)   # was KeyError: 'zz'


def test_affine_bias_and_v_leak_start_state_is_warned():
    """A bias into a LIF is read as v_rest = v_leak + R b, where neurorec's neurons start; a NIR
    simulator starting at v_leak agrees once started there, as the warning says."""
    g = nir.NIRGraph.from_list(_inp(3), nir.Affine(weight=np.full((2, 3), 0.1), bias=np.full(2, 0.5)),
                               _lif(2, v_leak=0.2))
    with pytest.warns(UserWarning, match=r"initial=\{'lif': \{'v': 0.2\}\}"):
        net = from_nir(g, dt=1.0, discretisation="exact")
    x = _inputs(B=1, T=40)
    ref = _simulate_nir(g, x[0], 1e-3)["lif"]
    assert ref.sum() > 0
    assert not np.array_equal(net.run(x).spikes["lif"][0], ref)   # the first steps differ ...
    np.testing.assert_array_equal(net.run(x, initial={"lif": {"v": 0.2}}).spikes["lif"][0], ref)
    layered = nir.NIRGraph.from_list(_inp(3), nir.Affine(weight=np.ones((2, 3)), bias=np.zeros(2)),
                                     _lif(2, v_leak=0.3), nir.Affine(weight=np.ones((2, 2)), bias=np.zeros(2)),
                                     nir.LI(tau=np.full(2, 0.01), r=np.ones(2), v_leak=np.zeros(2)),
                                     nir.Output(output_type={"output": np.array([2])}))
    with pytest.warns(UserWarning, match="membranes start at 0"):
        from_nir(layered, dt=1.0)


@pytest.mark.parametrize("edit", ["w_in", "r", "tau_syn"])
def test_edited_cubalif_of_an_own_graph_is_read_from_its_nir_parameters(edit):
    """w_in and r of an own CubaLIF were not checked against the metadata (an edit was ignored);
    an edited tau_syn made the reader crash ("'i_exc' is not a state variable of SynapticLIF")."""
    g = to_nir(_network())
    setattr(g.nodes["c"], edit, np.asarray(getattr(g.nodes["c"], edit)) * 1.5)
    x = _inputs(B=1, T=60)
    ref = _simulate_nir(g, x[0], 0.5e-3)
    run = from_nir(g).run(x)
    for name in ("a", "b", "c"):
        np.testing.assert_array_equal(run.spikes[name][0], ref[name])


def test_dt_override_and_unit_mistakes(classifiers):
    X, models = classifiers
    g = to_nir(models["ff"])
    with pytest.raises(ValueError, match="written with dt=1 ms and its weights act per step"):
        from_nir(g, dt=0.5)   # was silently ignored: the classifier kept dt=1
    np.testing.assert_array_equal(from_nir(g, dt=np.float32(1.0)).decision_function(X[:4]),
                                  models["ff"].decision_function(X[:4]))   # numpy scalars are numbers
    with pytest.raises(ValueError, match="dt must be a positive time step in ms, got True"):
        from_nir(g, dt=True)
    with pytest.warns(UserWarning, match="1000 times below the graph's dt .* in ms, not seconds"):
        from_nir(to_nir(_network()), dt=0.5e-3)



@pytest.mark.parametrize("damage", ["params", "classes", "list"])
def test_damaged_neurorec_metadata_is_named(classifiers, damage):
    """A missing key gave a bare KeyError ('params'), a JSON list an AttributeError."""
    import json

    g = to_nir(classifiers[1]["ff"])
    info = json.loads(g.metadata["neurorec"])
    info.pop(damage, None)
    g.metadata["neurorec"] = json.dumps([1] if damage == "list" else info)
    match = "not a JSON object" if damage == "list" else f"incomplete or damaged \\(KeyError: '{damage}'\\)"
    with pytest.raises(ValueError, match=match):
        from_nir(g)


def test_encoded_input_of_one_sequence_keeps_its_rank(classifiers):
    X, models = classifiers
    x1, n1 = encoded_input(models["ff"], X[3])
    xb, nb = encoded_input(models["ff"], X[3:4])
    assert x1.ndim == 2 and n1 == nb[0] == X.shape[1]
    np.testing.assert_array_equal(x1, xb[0])


def test_paths_that_are_folders_or_truncated_files(tmp_path):
    folder = tmp_path / "graph.nir"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="graph.nir' is a folder, not a .nir file"):
        from_nir(folder)
    with pytest.raises(IsADirectoryError, match="graph.nir' is a folder; give the name of the .nir file"):
        to_nir(_network(), path=folder)
    with pytest.raises(FileNotFoundError, match="the folder .*nope' does not exist"):
        to_nir(_network(), path=tmp_path / "nope" / "x.nir")
    good = tmp_path / "good.nir"
    to_nir(_network(), path=good)
    data = good.read_bytes()
    (tmp_path / "cut.nir").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.nir' is not a NIR file \(not readable as HDF5: .*truncated") as e:
        from_nir(tmp_path / "cut.nir")
    assert "\n" not in str(e.value)
    assert sorted(os.listdir(tmp_path)) == ["cut.nir", "good.nir", "graph.nir"]   # no temporary file left



def test_unwritable_folder_is_named(tmp_path, monkeypatch):
    import tempfile

    def denied(*a, dir=None, **k):
        raise PermissionError(13, "Permission denied", os.path.join(dir, ".tmp-xyz.nir"))

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(PermissionError, match=r"cannot create a file in .* \(Permission denied\)") as e:
        to_nir(_network(), path=tmp_path / "x.nir")
    assert ".tmp-" not in str(e.value) and e.value.strerror.startswith("cannot write")


def test_file_round_trip_keeps_the_population_order(tmp_path):
    """HDF5 lists a file's nodes sorted by name: populations ("z", "a") came back as ("a", "z")."""
    net = Network([Population("z", 3, LIF(reset="zero")), Population("a", 2, LIF(reset="zero"))],
                  [Connection("input", "z", np.ones((2, 3)), "current"), Connection("z", "a", np.ones((3, 2)), "v")],
                  n_inputs=2, dt=0.5)
    back = from_nir(to_nir(net, path=tmp_path / "za.nir", strict=False) and tmp_path / "za.nir")
    assert [p.name for p in back.populations] == ["z", "a"]
    assert [(c.source, c.target) for c in back.connections] == [("input", "z"), ("z", "a")]


def test_written_file_has_the_usual_permissions(tmp_path):
    """mkstemp makes 0600 files: the .nir file was unreadable by the group; an existing file keeps its mode."""
    mask = os.umask(0o022)
    try:
        to_nir(_network(), path=tmp_path / "new.nir")
        assert (tmp_path / "new.nir").stat().st_mode & 0o777 == 0o644
        old = tmp_path / "old.nir"
        old.write_bytes(b"old")
        old.chmod(0o640)
        to_nir(_network(), path=old)
        assert old.stat().st_mode & 0o777 == 0o640 and isinstance(from_nir(old), Network)
    finally:
        os.umask(mask)
