"""neurorec.hardware.operations: operation counts and energy per inference, against hand counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurorec.hardware.operations import COUNT_KEYS, count_operations, energy, energy_from_counts

# Figures of the test profiles (pJ); invented for the arithmetic, not chip data.
LOIHI_LIKE = {"name": "neuro", "kind": "neuromorphic", "energy_per_synop_pj": 23.6,
              "energy_per_neuron_update_pj": 52.0, "energy_per_spike_pj": 1.7}
MAC_LIKE = {"name": "macs", "kind": "mac", "energy_per_mac_pj": 4.6, "energy_per_add_pj": 0.9,
            "energy_per_memory_access_pj": 5.0}


# ------------------------------------------------------------------------------------------------
# a two-layer spiking network, counted and priced by hand
# ------------------------------------------------------------------------------------------------

def _two_layer():
    """input (2) -> hidden (3 LIF) -> out (2 LIF), weights large enough that every drive fires.

    W_in: channel 0 -> hidden 0, 1; channel 1 -> hidden 2 (weight 100: v = 100 (1 - beta) = 4.9 > 1
    in the step of the input). W: hidden 0 -> out 0; hidden 1 -> out 0, 1; hidden 2 -> out 1
    (weight 5 on v after the step: the target fires at the next step, 5 beta > 1).
    """
    from neurorec.models.spiking import LIF, Connection, Network, Population

    lif = LIF(tau_mem=20.0, v_th=1.0, reset="zero")
    W_in = np.array([[100.0, 100.0, 0.0], [0.0, 0.0, 100.0]])
    W = np.array([[5.0, 0.0], [5.0, 5.0], [0.0, 5.0]])
    net = Network([Population("hidden", 3, lif), Population("out", 2, lif)],
                  [Connection("input", "hidden", W_in, "current"), Connection("hidden", "out", W, "v")],
                  n_inputs=2, dt=1.0)
    x = np.array([[1, 0], [0, 0], [1, 1], [0, 0]], dtype=np.float64)   # 4 steps
    return net, x


def test_two_layer_network_energy_by_hand():
    net, x = _two_layer()
    run = net.run(x[None], engine="numpy")
    # the rasters the hand count rests on
    np.testing.assert_array_equal(run.spikes["hidden"][0], [[1, 1, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
    np.testing.assert_array_equal(run.spikes["out"][0], [[0, 0], [1, 1], [0, 0], [1, 1]])
    c = count_operations(net, x[None])
    # SynOps: input values 1 (steps 0, 2) x fan-out 2 + channel 1 (step 2) x fan-out 1 = 5;
    # hidden spikes: step 0 (h0: 1, h1: 2) + step 2 (h0: 1, h1: 2, h2: 1) = 7
    assert c["synops"] == 12
    assert c["neuron_updates"] == (3 + 2) * 4 == c["neuron_state_updates"]     # LIF: one variable
    assert c["spikes"] == 5 + 4
    assert c["family"] == "spiking" and c["macs"] == c["memory_accesses"] == 0
    e = energy(net, x[None], LOIHI_LIKE)
    # 12 x 23.6 + 20 x 52 + 9 x 1.7 = 283.2 + 1040 + 15.3
    assert e["energy_pj"] == pytest.approx(1338.5)
    assert e["energy_J"] == pytest.approx(1338.5e-12)
    assert e["covers"] == "all" and e["note"] == ""
    m = energy(net, x[None], MAC_LIKE)
    # on a MAC datapath: 12 SynOps x (add 0.9 + weight read 5) + 20 state updates x (MAC 4.6 + 2 x 5)
    assert m["energy_pj"] == pytest.approx(12 * 5.9 + 20 * 14.6)
    assert "accumulate" in m["note"]


def test_counts_are_per_sequence_and_a_run_can_be_passed():
    net, x = _two_layer()
    X = np.stack([x, np.zeros_like(x)])          # the second sequence is silent
    run = net.run(X, engine="numpy")
    for arg in (X, run):
        c = count_operations(net, arg)
        assert c["n_sequences"] == 2
        assert c["synops"] == pytest.approx(12 / 2) and c["spikes"] == pytest.approx(9 / 2)
        assert c["neuron_updates"] == 20          # every neuron updates every step, silent or not
    e = energy(net, run, LOIHI_LIKE)
    assert e["energy_pj"] == pytest.approx(6 * 23.6 + 20 * 52 + 4.5 * 1.7)
    with pytest.raises(TypeError, match="Network and its run"):
        count_operations(run, X)


# ------------------------------------------------------------------------------------------------
# classical models
# ------------------------------------------------------------------------------------------------

def test_esn_counts_use_the_actual_non_zeros_and_valid_steps():
    from neurorec.models import ESN

    W = np.array([[0.0, 0.5, 0.0], [0.0, 0.0, -0.4], [0.3, 0.0, 0.0]])      # 3 non-zeros
    W_in = np.array([[1.0], [0.0], [-1.0]])                                   # 2 non-zeros
    bias = np.array([0.0, 0.2, 0.0])                                          # 1 non-zero
    rng = np.random.default_rng(0)
    X = [rng.standard_normal((6, 1)), rng.standard_normal((4, 1))]           # mean valid length 5
    Y = [rng.standard_normal((6, 1)), rng.standard_normal((4, 1))]
    esn = ESN(units=3, leak_rate=0.5, washout=0, ridge=1e-3).set_reservoir(W, W_in, bias).fit(X, Y)
    c = count_operations(esn, X)
    # per step: MACs 2 + 3 + 3 (leak) = 8, additions 1 (bias) + 3 (leak), 3 tanh, memory
    # (2 + 3 + 1 parameters) + (1 + 3 reads) + 3 writes = 13; readout on [x; u] (D = 4, O = 1):
    # 4 MACs, 1 addition, memory 4 + 1 + 4 + 1 = 10; both on each of the 5 steps
    assert c["steps"] == 5
    assert (c["macs"], c["additions"], c["nonlinearities"], c["memory_accesses"]) == (60, 25, 15, 115)
    e = energy(esn, X, MAC_LIKE)
    assert e["energy_pj"] == pytest.approx(60 * 4.6 + 25 * 0.9 + 115 * 5.0)
    assert "15 nonlinearities" in e["note"]
    # a classifier voting over the steps after a washout of 2 (4 and 2 steps: 3 on average):
    # the readout (4 features -> 2 classes: 8 MACs, 2 additions) runs on those steps only
    vote = ESN(units=3, leak_rate=0.5, washout=2, classify="vote").set_reservoir(W, W_in, bias).fit(X, np.array([0, 1]))
    c = count_operations(vote, X)
    assert (c["macs"], c["additions"]) == (8 * 5 + 8 * 3, 4 * 5 + 2 * 3)


def _fitted_rnn(cls, **params):
    """A recurrent model with the fitted attributes the count reads (no training needed)."""
    m = cls(**params)
    m.weights_, m.n_features_in_ = {}, 3
    m.n_outputs_, m.task_ = params.pop("_out", 2), "classification"
    return m


def test_recurrent_counts_by_hand():
    from neurorec.models import GRU, LSTM

    X = np.zeros((4, 10, 3), np.float32)
    lstm = _fitted_rnn(LSTM, units=8)
    c = count_operations(lstm, X)
    # per step: 4 gates x 8 x (3 + 8) = 352 weight MACs + 3 x 8 gate products; 2 x 32 bias
    # additions; 5 x 8 nonlinearities; memory 352 + 64 + (3 + 8) + 8 + 16 (cell state);
    # the head (8 -> 2) once on the last state: 16 MACs, 2 additions, 16 + 2 + 8 + 2 accesses
    assert c["macs"] == 10 * (352 + 24) + 16
    assert c["additions"] == 10 * 64 + 2
    assert c["nonlinearities"] == 10 * 40
    assert c["memory_accesses"] == 10 * (352 + 64 + 11 + 8 + 16) + 28
    gru = _fitted_rnn(GRU, units=8, layers=2, bidirectional=True)
    gru.task_ = "regression"
    c = count_operations(gru, X)
    # layer 0 (input 3) and layer 1 (input 2 x 8), both directions, per step; the head 16 -> 2
    # every step
    l0 = (3 * 8 * 11 + 2 * 8, 2 * 24 + 8, 24)
    l1 = (3 * 8 * 24 + 2 * 8, 2 * 24 + 8, 24)
    assert c["macs"] == 10 * (2 * (l0[0] + l1[0]) + 32)
    assert c["additions"] == 10 * (2 * (l0[1] + l1[1]) + 2)
    assert c["nonlinearities"] == 10 * 2 * (l0[2] + l1[2])


def test_linear_ar_counts_by_hand():
    from neurorec.models import LinearAR

    rng = np.random.default_rng(1)
    X = rng.standard_normal((2, 10, 3)).astype(np.float32)
    ar = LinearAR(delays=3).fit(X, rng.standard_normal((2, 10, 2)).astype(np.float32))
    c = count_operations(ar, X)
    # per step: 3 x 3 x 2 MACs, 2 additions, memory 18 + 2 + 9 + 3 (delay line) + 2
    assert (c["macs"], c["additions"], c["memory_accesses"]) == (180, 20, 340)
    assert c["family"] == "classical" and c["synops"] == c["neuron_updates"] == 0


# ------------------------------------------------------------------------------------------------
# the pricing rules
# ------------------------------------------------------------------------------------------------

def test_classical_model_on_a_neuromorphic_profile_is_nan_with_the_reason():
    counts = {"model": "LSTM", "macs": 100.0, "additions": 10.0, "memory_accesses": 200.0}
    e = energy_from_counts(counts, LOIHI_LIKE)
    assert math.isnan(e["energy_J"]) and e["covers"] == ""
    assert "classical" in e["note"] and "energy_per_mac_pj" in e["note"]
    assert energy_from_counts(counts, MAC_LIKE)["energy_pj"] == pytest.approx(100 * 4.6 + 10 * 0.9 + 200 * 5)


def test_a_missing_figure_gives_nan_naming_it_and_an_unused_one_does_not_matter():
    counts = {"macs": 10.0, "additions": 5.0, "memory_accesses": 0.0}
    e = energy_from_counts(counts, {**MAC_LIKE, "energy_per_add_pj": None})
    assert math.isnan(e["energy_pj"]) and "energy_per_add_pj" in e["note"]
    # no memory accesses counted: no memory figure needed
    e = energy_from_counts(counts, {**MAC_LIKE, "energy_per_memory_access_pj": None})
    assert e["energy_pj"] == pytest.approx(10 * 4.6 + 5 * 0.9)
    spk = {"synops": 10.0, "neuron_updates": 4.0, "spikes": 3.0}
    e = energy_from_counts(spk, {**LOIHI_LIKE, "energy_per_neuron_update_pj": None})
    assert math.isnan(e["energy_pj"]) and "energy_per_neuron_update_pj" in e["note"]
    # no spike figure: the routing term is left out and said so
    e = energy_from_counts(spk, {**LOIHI_LIKE, "energy_per_spike_pj": None})
    assert e["energy_pj"] == pytest.approx(10 * 23.6 + 4 * 52) and "energy_per_spike_pj" in e["note"]


def test_spiking_model_on_the_mac_profile_and_its_host_part_on_a_chip():
    counts = {"synops": 10.0, "neuron_updates": 4.0, "neuron_state_updates": 8.0, "spikes": 2.0,
              "macs": 6.0, "additions": 1.0, "memory_accesses": 20.0}
    mac = energy_from_counts(counts, MAC_LIKE)
    # SynOps: accumulate + weight read; 8 state updates: MAC + read + write; plus the readout
    assert mac["family"] == "spiking"
    assert mac["energy_pj"] == pytest.approx(10 * 5.9 + 8 * 14.6 + (6 * 4.6 + 0.9 + 20 * 5))
    chip = energy_from_counts(counts, LOIHI_LIKE)
    assert chip["energy_pj"] == pytest.approx(10 * 23.6 + 4 * 52 + 2 * 1.7)
    assert chip["covers"] == "spiking part" and "host" in chip["note"]


def test_bad_arguments_fail_with_a_clear_message():
    from neurorec.models import Hopfield, LinearAR

    with pytest.raises(TypeError, match="supported: SpikingClassifier"):
        count_operations(Hopfield(), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        count_operations(LinearAR(), np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match="kind must be"):
        energy_from_counts({}, {"name": "x", "kind": "gpu"})
    with pytest.raises(ValueError, match="energy_per_mac_pj must be"):
        energy_from_counts({}, {**MAC_LIKE, "energy_per_mac_pj": -1})
    with pytest.raises(ValueError, match="empty list"):
        energy(LinearAR(), np.zeros((1, 4, 2)), [])


# ------------------------------------------------------------------------------------------------
# the trained spiking models
# ------------------------------------------------------------------------------------------------

def test_spiking_classifier_counts_and_a_list_of_profiles():
    pytest.importorskip("torch")
    from neurorec.models import SpikingClassifier

    rng = np.random.default_rng(0)
    X = rng.random((16, 6, 4)).astype(np.float32)
    y = (X[:, :, 0].mean(1) > 0.5).astype(np.int64)
    clf = SpikingClassifier(hidden=(12, 6), epochs=2, encoder="poisson", steps_per_input=2, backend="numpy",
                            seed=0).fit(X, y)
    clf.predict(X)
    after_predict = count_operations(clf, X, run=False)
    c = count_operations(clf, X)
    assert c == after_predict
    assert c["synops"] == pytest.approx(clf.synops_) and c["synops"] > 0
    assert c["steps"] == 6 * 2
    assert c["neuron_updates"] == (12 + 6 + 2) * 12
    assert c["spikes"] == pytest.approx(float(clf.spike_rate_ @ [12, 6]) * 12)
    df = energy(clf, X, [LOIHI_LIKE, MAC_LIKE])
    assert list(df["profile"]) == ["neuro", "macs"]
    assert df["energy_pj"].iloc[0] == pytest.approx(c["synops"] * 23.6 + c["neuron_updates"] * 52
                                                    + c["spikes"] * 1.7)
    assert set(COUNT_KEYS) <= set(df.columns)


def test_lsm_counts_the_liquid_and_its_readout():
    pytest.importorskip("torch")
    from neurorec.models import LSM

    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 5, 2))
    lsm = LSM(units=20, steps_per_input=3, features="trace", backend="torch", seed=0).fit(X, rng.integers(0, 2, 6))
    lsm.predict(X)
    c = count_operations(lsm, X, run=False)
    assert c["synops"] == pytest.approx(lsm.synops_)
    assert c["neuron_updates"] == 20 * 15 and c["neuron_state_updates"] == 2 * 20 * 15   # SynapticLIF: v, i_syn
    # host: the trace filter (20 MACs per simulation step) and the readout on the mean features
    # (D = 20 + 2 inputs, 2 classes): 44 MACs + 22 scalings
    assert c["macs"] == 20 * 15 + 22 * 2 + 22


# ------------------------------------------------------------------------------------------------
# the shipped profiles (once neurorec.hardware.chips exists)
# ------------------------------------------------------------------------------------------------

def test_shipped_profiles_price_the_two_layer_network_and_an_esn():
    profiles = pytest.importorskip("neurorec.hardware.chips")
    from neurorec.models import ESN

    cmos, loihi = profiles.load_profile("cmos45"), profiles.load_profile("loihi")
    assert cmos.kind == "mac" and loihi.kind == "neuromorphic"
    net, x = _two_layer()
    e = energy(net, x[None], loihi)
    expect = 12 * loihi.energy_per_synop_pj + 20 * loihi.energy_per_neuron_update_pj
    if loihi.energy_per_spike_pj is not None:
        expect += 9 * loihi.energy_per_spike_pj
    assert e["energy_pj"] == pytest.approx(expect)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 20, 1))
    esn = ESN(units=30, seed=0).fit(X, rng.standard_normal((2, 20, 1)))
    df = energy(esn, X, ["cmos45", "loihi"])
    c = count_operations(esn, X)
    assert df["energy_pj"].iloc[0] == pytest.approx(c["macs"] * cmos.energy_per_mac_pj
                                                    + c["additions"] * cmos.energy_per_add_pj
                                                    + c["memory_accesses"] * cmos.energy_per_memory_access_pj)
    if loihi.energy_per_mac_pj is None:
        assert math.isnan(df["energy_pj"].iloc[1]) and "classical" in df["note"].iloc[1]


def test_deep_esn_counts_are_the_layers_esn_counts_summed():
    from neurorec.models import ESN, DeepESN

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 30, 2)), rng.standard_normal((2, 30, 1))
    one = DeepESN(units=20, layers=1, leak_rate=0.5, seed=1).fit(X, Y)
    r = one.reservoirs_
    esn = ESN(units=20, leak_rate=0.5).set_reservoir(r["W0"], r["W_in0"], r["bias0"]).fit(X, Y)
    c1, ce = count_operations(one, X), count_operations(esn, X)
    assert {k: c1[k] for k in ("macs", "additions", "nonlinearities", "memory_accesses")} == \
        {k: ce[k] for k in ("macs", "additions", "nonlinearities", "memory_accesses")}
    two = DeepESN(units=(20, 10), leak_rate=[0.5, 1.0], seed=1).fit(X, Y)
    c2 = count_operations(two, X)
    r2 = two.reservoirs_
    # layer 2: its W_in (10 x 20) and W (10 x 10) non-zeros, no leak MACs (leak 1), 10 tanh
    extra = np.count_nonzero(r2["W_in1"]) + np.count_nonzero(r2["W1"]) + np.count_nonzero(r2["W0"]) - \
        np.count_nonzero(r["W0"]) + np.count_nonzero(r2["W_in0"]) - np.count_nonzero(r["W_in0"])
    readout_extra = 10 * 1                       # 10 more readout features, 1 output
    assert c2["nonlinearities"] == ce["nonlinearities"] + 10 * 30
    assert c2["macs"] == ce["macs"] + (extra + readout_extra) * 30


def test_nvar_counts_monomials_and_readout():
    from neurorec.models import NVAR

    rng = np.random.default_rng(0)
    X = rng.standard_normal((1, 50, 3))
    m = NVAR(delay=2, order=2, difference=False).fit(X[:, :-1], X[:, 1:])
    c = count_operations(m, X)
    # 6 linear features, C(7, 2) = 21 quadratic monomials (1 multiplication each), D = 27 features
    # times 3 outputs: 21 + 81 MACs and 3 bias additions per step
    assert m.n_features_out_ == 27
    assert c["steps"] == 50 and c["macs"] == (21 + 81) * 50 and c["additions"] == 3 * 50
    d = count_operations(NVAR(delay=2, order=2, difference=True).fit(X[:, :-1], X[:, 1:]), X)
    assert d["additions"] == 6 * 50                # + u[t] + increment
