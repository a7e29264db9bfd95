"""Fit check: limits refused with the reason and the amount, core counts computed by hand."""

import numpy as np
import pytest
from scipy import sparse

from neurorec.hardware.fit import FitReport, check
from neurorec.models.spiking.network import Connection, Network, Population
from neurorec.models.spiking.neurons import LIF, SynapticLIF
from neurorec.models.spiking.snn import SpikingClassifier


def _classifier(sizes, seed=0, integer=False, readout="membrane_mean"):
    """A SpikingClassifier with given weights (sizes: inputs, hidden..., outputs), no training."""
    rng = np.random.default_rng(seed)
    clf = SpikingClassifier(hidden=tuple(sizes[1:-1]), readout=readout)
    w = {}
    for l, (n_in, n_out) in enumerate(zip(sizes[:-2], sizes[1:-1], strict=True)):
        w[f"hidden.{l}.weight"] = rng.normal(size=(n_out, n_in))
        w[f"hidden.{l}.bias"] = np.zeros(n_out)
    w["output.weight"] = rng.normal(size=(sizes[-1], sizes[-2]))
    w["output.bias"] = np.zeros(sizes[-1])
    if integer:
        w = {k: np.round(v * 40) for k, v in w.items()}
    clf.weights_ = w
    return clf


def test_truenorth_refuses_fan_in_above_a_core_with_amount():
    r = check(_classifier([784, 100, 10]), "truenorth")
    assert isinstance(r, FitReport) and not r.fits
    assert "layer 'hidden.0' fan-in 784 > 256 (max_fan_in of truenorth) by 528" in r.reasons
    assert r.verdict.startswith("does not fit: ")
    row = r.layers.set_index("layer").loc["hidden.0"]
    assert row["max_fan_in"] == 784 and row["status"].startswith("exceeds:") and "fan-in" in row["status"]
    # the output layer's fan-in (100) is within the limit
    assert r.layers.set_index("layer").loc["output", "max_fan_in"] == 100


def test_small_network_fits_loihi_with_hand_counted_cores():
    # hidden 1500 neurons -> ceil(1500 / 1024) = 2 cores; output 5 -> 1 core; 3 cores on one chip of 128
    r = check(_classifier([20, 1500, 5]), "loihi")
    assert r.fits and r.cores == 3 and r.chips == 1
    assert r.verdict.startswith("fits on 1 chip, 3 cores")
    df = r.layers.set_index("layer")
    assert list(df["cores_needed"]) == [2, 1]
    assert list(df["synapses"]) == [20 * 1500, 1500 * 5]
    assert df.loc["hidden.0", "max_fan_out"] == 5 and df.loc["output", "neuron_model"] == "li"
    # Loihi's synapses per core are unknown: reported as not checked, not as a pass
    assert "synapses_per_core" in r.verdict and any(n.startswith("synapses_per_core: not checked") for n in r.notes)
    assert any("quantise" in n for n in r.notes)


def _custom(tmp_path):
    path = tmp_path / "mychip.toml"
    src = 'source = "test datasheet"\n'
    path.write_text('schema = 1\nname = "mychip"\nfull_name = "Test chip"\nkind = "neuromorphic"\n'
                    f'[cores_per_chip]\nvalue = 4\n{src}[neurons_per_core]\nvalue = 100\n{src}'
                    f'[synapses_per_core]\nvalue = 1000\n{src}[max_fan_in]\nvalue = 64\n{src}'
                    f'[max_fan_out]\nvalue = 60\n{src}[weight_bits]\nvalue = 8\n{src}'
                    f'[neuron_models]\nvalue = ["lif", "synaptic_lif"]\n{src}')
    return path


def _network():
    rng = np.random.default_rng(1)
    # a: 250 LIF fed densely by 10 inputs: 2500 synapses; b: 50 synaptic LIF, 40 inputs each from a: 2000
    w_ab = np.zeros((250, 50))
    for j in range(50):
        w_ab[rng.choice(250, 40, replace=False), j] = 0.1
    return Network([Population("a", 250, LIF()), Population("b", 50, SynapticLIF())],
                   [Connection("input", "a", np.ones((10, 250)), "current"),
                    Connection("a", "b", sparse.csr_matrix(w_ab), "i_syn")], n_inputs=10, dt=0.5), w_ab


def test_network_on_a_user_profile_hand_counted(tmp_path):
    net, w_ab = _network()
    r = check(net, _custom(tmp_path))
    # a: max(ceil(250/100), ceil(2500/1000)) = 3 cores; b: max(ceil(50/100), ceil(2000/1000)) = 2 -> 5 > 4
    df = r.layers.set_index("layer")
    assert list(df["cores_needed"]) == [3, 2] and list(df["synapses"]) == [2500, 2000]
    assert df.loc["b", "max_fan_in"] == 40
    assert df.loc["a", "max_fan_out"] == int((w_ab != 0).sum(1).max())
    assert not r.fits and r.reasons == ["network needs 5 cores > 4 (cores_per_chip of mychip) by 1"]
    r2 = check(net, _custom(tmp_path), chips=2)
    assert r2.fits and r2.verdict == "fits on 2 chips, 5 cores" and (r2.cores, r2.chips) == (5, 2)


def test_fan_out_and_precision_limits(tmp_path):
    clf = _classifier([30, 40, 70], integer=True)   # hidden fan-out 70 > 60; weights up to ~200 need 9 bits
    r = check(clf, _custom(tmp_path))
    bits = r.layers.set_index("layer").loc["hidden.0", "weight_bits_needed"]
    w = clf.weights_["hidden.0.weight"]
    assert bits == int(np.ceil(np.log2(np.abs(w).max() + 1))) + 1
    assert "layer 'hidden.0' fan-out 70 > 60 (max_fan_out of mychip) by 10" in r.reasons
    assert f"layer 'hidden.0' weight bits needed {bits} > 8 (weight_bits of mychip) by {bits - 8}" in r.reasons
    assert "layer 'output' neuron model 'li' is not supported by mychip (supported: lif, synaptic_lif)" in r.reasons


def test_xylo_input_and_output_channels():
    r = check(_classifier([20, 100, 10]), "xylo")
    assert "network input channels 20 > 16 (max_inputs of xylo) by 4" in r.reasons
    assert "network output neurons 10 > 8 (max_outputs of xylo) by 2" in r.reasons
    ok = check(_classifier([16, 200, 8]), "xylo")
    assert ok.fits and ok.verdict.startswith("fits on 1 chip, 1 core")
    assert any("bit shift" in n for n in ok.notes)
    # 1,001 hidden neurons: over by one
    big = check(_classifier([16, 1001, 8]), "xylo")
    assert "network hidden neurons 1001 > 1000 (neurons_per_chip - max_outputs of xylo) by 1" in big.reasons


def test_speck_memory_rule():
    r = check(_classifier([784, 2000, 10]), "speck")
    assert not r.fits
    assert any("cannot be placed on the 9 cores of speck" in x and "kernel memory 1605632" in x for x in r.reasons)
    assert any("neuron model 'lif' is not supported by speck" in x for x in r.reasons)


def test_unknown_figures_are_not_counted_as_passes():
    r = check(_classifier([20, 50, 5]), "spinnaker")
    assert r.fits and r.cores is None
    assert "cores not computed" in r.verdict and "not checked (unknown)" in r.verdict
    assert any(n.startswith("neurons_per_core: not checked (unknown for spinnaker") for n in r.notes)


def test_mac_baseline_and_errors():
    r = check(_classifier([20, 50, 5]), "cmos45")
    assert r.fits and "MAC baseline" in r.verdict
    with pytest.raises(ValueError, match="unknown chip profile 'loihi3'; known profiles: cmos45, loihi"):
        check(_classifier([4, 5, 2]), "loihi3")
    with pytest.raises(TypeError, match="model must be a fitted SpikingClassifier, a Network"):
        check(np.zeros(3), "loihi")
    with pytest.raises(ValueError, match="not fitted"):
        check(SpikingClassifier(), "loihi")
    from neurorec.models.spiking.lsm import LSM

    with pytest.raises(ValueError, match="the LSM is not fitted"):
        check(LSM(), "loihi")
    with pytest.raises(ValueError, match="chips must be a positive integer"):
        check(_classifier([4, 5, 2]), "loihi", chips=0)


def test_report_renders():
    r = check(_classifier([784, 100, 10]), "truenorth")
    text, html = str(r), r._repr_html_()
    assert r.verdict in text and "hidden.0" in text and "reasons:" in text
    assert "<table" in html and "does not fit" in html


def test_nir_graph_gives_the_same_rows(tmp_path):
    nir = pytest.importorskip("nir")
    clf = _classifier([20, 1500, 5])
    w = clf.weights_
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([20])),
        "fc0": nir.Affine(weight=w["hidden.0.weight"], bias=w["hidden.0.bias"]),
        "lif0": nir.LIF(tau=np.full(1500, 0.01), r=np.ones(1500), v_leak=np.zeros(1500),
                        v_threshold=np.ones(1500)),
        "fc1": nir.Affine(weight=w["output.weight"], bias=w["output.bias"]),
        "li": nir.LI(tau=np.full(5, 0.01), r=np.ones(5), v_leak=np.zeros(5)),
        "output": nir.Output(output_type=np.array([5]))},
        edges=[("input", "fc0"), ("fc0", "lif0"), ("lif0", "fc1"), ("fc1", "li"), ("li", "output")])
    a = check(g, "loihi")
    path = tmp_path / "net.nir"
    nir.write(str(path), g)
    b = check(path, "loihi")
    ref = check(clf, "loihi")
    cols = ["neurons", "synapses", "max_fan_in", "max_fan_out", "cores_needed"]
    for r in (a, b):
        assert r.fits and r.cores == 3
        assert r.layers[cols].values.tolist() == ref.layers[cols].values.tolist()
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"bad\.nir' is not a NIR file \(not readable as HDF5"):
        check(bad, "loihi")


def test_lsm_liquid():
    from neurorec.models.spiking.lsm import LSM

    lsm = LSM(units=60, connectivity=0.1, seed=0)
    lsm._init_liquid(3, np.random.default_rng(0))
    lsm.W_out_ = np.zeros((60, 2))
    r = check(lsm, "loihi")
    row = r.layers.iloc[0]
    assert row["layer"] == "liquid" and row["neuron_model"] == "synaptic_lif" and row["neurons"] == 60
    # input (3 channels + the bias channel) plus the recurrent synapses
    assert row["synapses"] == int(np.count_nonzero(lsm.W_in_) + 60 + np.count_nonzero(lsm.W_))
    assert any("readout" in n for n in r.notes)


def test_speck_memory_rule_agrees_with_sinabs(tmp_path):
    """check(..., "speck") against sinabs' own DynapcnnLayer.memory_summary and get_valid_mapping
    (run by hardware/speck/nir_to_speck.py, in a subprocess: it loads sinabs' samna-free modules)."""
    import subprocess
    import sys
    from pathlib import Path

    nir = pytest.importorskip("nir")
    pytest.importorskip("sinabs")
    script = Path(__file__).resolve().parents[1] / "hardware" / "speck" / "nir_to_speck.py"
    if not script.is_file():
        pytest.skip("not a source checkout")
    rng = np.random.default_rng(0)

    def graph(n_in, n_h, n_out):
        return nir.NIRGraph(nodes={
            "input": nir.Input(input_type=np.array([n_in])),
            "fc0": nir.Linear(weight=rng.normal(size=(n_h, n_in))),
            "if0": nir.IF(r=np.ones(n_h), v_threshold=np.ones(n_h)),
            "fc1": nir.Linear(weight=rng.normal(size=(n_out, n_h))),
            "if1": nir.IF(r=np.ones(n_out), v_threshold=np.ones(n_out)),
            "output": nir.Output(output_type=np.array([n_out]))},
            edges=[("input", "fc0"), ("fc0", "if0"), ("if0", "fc1"), ("fc1", "if1"), ("if1", "output")])

    for (n_in, n_h, n_out), fits in (((100, 300, 10), True), ((784, 2000, 10), False)):
        path = tmp_path / f"net{n_h}.nir"
        nir.write(str(path), graph(n_in, n_h, n_out))
        ours = check(path, "speck")
        run = subprocess.run([sys.executable, str(script), str(path), str(tmp_path / "l.npz")], capture_output=True,
                             text=True, timeout=300)
        assert run.returncode == (0 if fits else 1), run.stderr[-2000:]
        assert ours.fits is fits
        for i, row in ours.layers.reset_index(drop=True).iterrows():
            assert f"layer {i}: kernel memory {row['kernel_memory']}, neuron memory {row['neuron_memory']}," \
                in run.stdout
    # an output path that cannot be written: exit 2 (bad input) with one line, before the placement
    bad = subprocess.run([sys.executable, str(script), str(path), str(tmp_path / "nope" / "l.npz")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stdout == "", bad.stderr[-2000:]
    assert bad.stderr.strip().splitlines() == [f"error: cannot write {tmp_path / 'nope' / 'l.npz'}: the folder "
                                               f"{tmp_path / 'nope'} does not exist"]


def test_spike_sources_count_as_inputs_and_quantised_weights(tmp_path):
    from neurorec.models.spiking.network import SpikeSource

    net = Network([Population("src", 300, SpikeSource()), Population("a", 20, LIF())],
                  [Connection("src", "a", np.full((300, 20), 0.5), "v", delay=1.0)], dt=0.5)
    r = check(net, "truenorth")
    assert [row for row in r.layers["layer"]] == ["a"]          # the source is input, not chip neurons
    assert "layer 'a' fan-in 300 > 256 (max_fan_in of truenorth) by 44" in r.reasons
    assert any("delay" in n for n in r.notes)
    # a quantised classifier (neurorec.hardware.fixed_point) is read from its integer weights
    clf = _classifier([10, 20, 3])
    clf.int_weights_ = {k: np.clip(np.round(v * 100), -300, 300).astype(np.int32) for k, v in clf.weights_.items()}
    clf.int_weights_["hidden.0.weight"][0, 0] = -300              # needs 10 signed bits
    r = check(clf, _custom(tmp_path))
    need = int(np.ceil(np.log2(np.abs(clf.int_weights_["hidden.0.weight"]).max() + 1))) + 1
    assert r.layers.set_index("layer").loc["hidden.0", "weight_bits_needed"] == need == 10
    assert "layer 'hidden.0' weight bits needed 10 > 8 (weight_bits of mychip) by 2" in r.reasons


def test_nir_export_of_a_recurrent_classifier_and_an_lsm_read_alike(tmp_path):
    """The rows (layer names included) and notes read from neurorec's own NIR export
    (neurorec.hardware.to_nir), as a graph and as a .nir file, equal those read from the models directly:
    recurrent weights, biases, decays, delays and the LSM's host readout included."""
    pytest.importorskip("nir")
    try:
        from neurorec.hardware.nir_io import to_nir
    except ImportError:
        pytest.skip("neurorec.hardware.nir_io not available")
    from neurorec.models.spiking.lsm import LSM

    rng = np.random.default_rng(0)
    clf = _classifier([8, 30, 20, 3])
    clf.set_params(recurrent=True, reset="zero")
    clf.weights_.update({"recurrent.0.weight": rng.normal(size=(30, 30)),
                         "recurrent.1.weight": rng.normal(size=(20, 20)) * (rng.random((20, 20)) < 0.3)})
    clf.classes_, clf.n_features_in_, clf.n_timesteps_in_ = np.arange(3), 8, None
    clf.x_offset_, clf.x_scale_, clf.seed_ = np.zeros(8), np.ones(8), 0
    lsm = LSM(units=60, seed=0)
    lsm._init_liquid(3, np.random.default_rng(0))
    lsm.W_out_, lsm.b_out_, lsm.n_features_in_ = np.zeros((60, 2)), np.zeros(2), 3
    lsm.x_mean_, lsm.x_scale_, lsm.task_, lsm.classes_ = np.zeros(3), np.ones(3), "classification", np.arange(2)
    net = Network([Population("a", 12, LIF(tau_mem=10.0)), Population("b", 4, SynapticLIF(tau_mem=20.0))],
                  [Connection("input", "a", rng.normal(size=(3, 12)), "current"),
                   Connection("a", "b", rng.normal(size=(12, 4)), "i_syn", delay=2.0)], n_inputs=3, dt=1.0)
    clf.weights_["hidden.0.bias"] = np.full(30, 0.1)            # a bias: noted by both readers
    cols = ["layer", "neurons", "synapses", "max_fan_in", "max_fan_out", "cores_needed"]
    for model in (clf, lsm, net):
        path = tmp_path / f"{type(model).__name__}.nir"
        graph = to_nir(model, path=path, strict=False)
        for target in ("loihi", "xylo"):
            direct = check(model, target)
            for via_nir in (check(graph, target), check(path, target)):      # the graph and its .nir file
                assert via_nir.layers[cols].values.tolist() == direct.layers[cols].values.tolist()
                assert via_nir.notes == direct.notes, (model, target)
    # the notes themselves (hand values): bias, decay exp(-dt/tau) = exp(-1/10) on xylo's shift round(log2 10) = 3
    notes = check(to_nir(clf, strict=False), "xylo").notes
    assert "biases are used (a constant input current per neuron): the chip must support a bias" in notes
    assert f"layer 'hidden.0': decay {np.exp(-0.1):.4f} becomes the bit shift 1 - 2^-3 = 0.8750 on xylo" in notes
    notes = check(to_nir(net, strict=False), "xylo").notes
    assert "connection a->b has a delay of 2 ms: chip delay support not checked" in notes
    assert f"layer 'a': decay {np.exp(-0.1):.4f} becomes the bit shift 1 - 2^-3 = 0.8750 on xylo" in notes
    assert any("readout" in n for n in check(to_nir(lsm, strict=False), "loihi").notes)
    assert check(clf, "loihi").layers["synapses"].tolist() == [8 * 30 + 900, 30 * 20 + int(
        np.count_nonzero(clf.weights_["recurrent.1.weight"])), 60]
