"""Given spike trains as a population (SpikeSource, SpikeTrains): statistics and engine agreement."""

import numpy as np
import pytest

from neurorec.models.spiking.network import STDP, Connection, Network, Population
from neurorec.models.spiking.neurons import LIF, CobaLIF
from neurorec.models.spiking.sources import SpikeSource, SpikeTrains

pytest.importorskip("brian2")
torch = pytest.importorskip("torch")


def test_dense_round_trip_and_duplicates_merged():
    rng = np.random.default_rng(0)
    a = (rng.random((3, 50, 7)) < 0.2).astype(np.uint8)
    tr = SpikeTrains.from_dense(a)
    np.testing.assert_array_equal(tr.dense(), a)
    assert tr.n_spikes == a.sum()
    np.testing.assert_array_equal(tr.counts(), a.sum(axis=(0, 1)))
    np.testing.assert_array_equal(tr.counts(before=20), a[:, :20].sum(axis=(0, 1)))
    dup = SpikeTrains([0, 0, 0], [4, 4, 2], [1, 1, 1], (1, 10, 2))
    assert dup.n_spikes == 2 and dup.step.tolist() == [2, 4]
    joined = SpikeTrains.concatenate([tr, SpikeTrains.from_dense(a[:, :, :2])])
    np.testing.assert_array_equal(joined.dense(), np.concatenate([a, a[:, :, :2]], axis=2))


def test_poisson_rate_and_seed():
    tr = SpikeTrains.poisson(20.0, 50_000, 0.1, n=200, seed=3)  # 5 s: ~100 spikes per neuron
    rates = tr.rates(0.1)
    assert abs(rates.mean() - 20.0) < 0.5          # sd of the mean: sqrt(20 / 5 / 200) = 0.14 Hz
    assert 0.6 < rates.std() / np.sqrt(20.0 / 5.0) < 1.4  # Poisson count spread
    again = SpikeTrains.poisson(20.0, 50_000, 0.1, n=200, seed=3)
    np.testing.assert_array_equal(again.step, tr.step)
    per = SpikeTrains.poisson(np.array([5.0, 40.0]), 200_000, 0.1, seed=0).rates(0.1)
    np.testing.assert_allclose(per, [5.0, 40.0], rtol=0.1)


def test_correlated_group_has_the_requested_pairwise_correlation():
    """Single interaction process (Kuhn et al. 2003): spike-count correlation c in any bin, while
    each neuron keeps its rate."""
    c, r, T = 0.3, 20.0, 1_000_000  # 100 s in 5,000 bins of 20 ms

    def mean_pair_correlation(tr):
        counts = np.zeros((T // 200, 40))
        np.add.at(counts, (tr.step // 200, tr.neuron), 1.0)
        return np.corrcoef(counts.T)[np.triu_indices(40, 1)].mean()

    tr = SpikeTrains.poisson(r, T, 0.1, n=40, correlation=c, seed=1)
    assert abs(tr.rates(0.1).mean() - r) < 0.5
    # the shared train's count variance is estimated from 5,000 bins: sd of the estimate ~ 0.015
    assert abs(mean_pair_correlation(tr) - c) < 0.05
    assert abs(mean_pair_correlation(SpikeTrains.poisson(r, T, 0.1, n=40, seed=1))) < 0.01


def _song_net(n=120, gmax=0.05, delay=0.0):
    neuron = CobaLIF(tau_mem=10.0, tau_exc=5.0, E_L=-74.0, v_th=-54.0, v_reset=-60.0, refractory=0.0)
    w0 = np.random.default_rng(0).random((n, 1)) * gmax
    rule = STDP(a_pre=0.01 * gmax, a_post=-0.0105 * gmax, w_max=gmax)
    conns = [Connection("inp", "out", w0, "g_exc", plasticity=rule)]
    if delay:
        conns.append(Connection("inp", "out", np.full((n, 1), 0.01), "g_exc", delay=delay))
    return Network([Population("inp", n, SpikeSource()), Population("out", 1, neuron)], conns, dt=0.1), w0


def test_spike_source_drives_stdp_identically_on_every_engine():
    """Poisson inputs into one conductance-based neuron with STDP (Song et al.'s set-up): brian2
    (SpikeGeneratorGroup), numpy and torch float64 give the same output spikes and weights, and
    the events give the same run as their dense array."""
    net, w0 = _song_net(delay=0.3)
    tr = SpikeTrains.poisson(15.0, 10_000, 0.1, n=120, batch=2, seed=1)
    ref = net.run(engine="brian2", sources={"inp": tr}, codegen_target="numpy")
    got = net.run(engine="numpy", sources={"inp": tr})
    tor = net.run(engine="torch", sources={"inp": tr}, dtype="float64")
    dense = net.run(engine="numpy", sources={"inp": tr.dense()})
    assert set(ref.spikes) == {"out"}                 # the caller's own spikes are not returned
    assert ref.spikes["out"].sum() > 20
    for run in (got, dense):
        np.testing.assert_array_equal(run.spikes["out"], ref.spikes["out"])
        np.testing.assert_allclose(run.weights[0], ref.weights[0], atol=1e-12)
    np.testing.assert_array_equal(tor.spikes["out"].numpy().astype(np.uint8), ref.spikes["out"])
    np.testing.assert_allclose(tor.weights[0].numpy(), ref.weights[0], atol=1e-12)
    assert np.abs(ref.weights[0][0] - w0).max() > 1e-3  # the weights did learn
    # SynOps: every source spike reaches its target over the plastic connection; those of the
    # last 3 steps do not arrive over the delayed one
    expected = tr.n_spikes + tr.counts(before=10_000 - 3).sum() + ref.spikes["out"].sum() * 0
    assert ref.synops == got.synops == tor.synops == expected


def test_source_spike_acts_like_a_neuron_spike():
    """A source spike at step n delivers its jump in step n, exactly as a LIF neuron's spike at
    step n does (the same post-synaptic trace on every engine)."""
    drive = Population("drive", 1, LIF(tau_mem=1.0))
    tgt = LIF(tau_mem=10.0, v_th=10.0)
    via_neuron = Network([drive, Population("t", 1, tgt)],
                         [Connection("input", "drive", np.ones((1, 1)), "current"),
                          Connection("drive", "t", np.full((1, 1), 0.7), "v", delay=2.0)], n_inputs=1, dt=1.0)
    x = np.zeros((1, 30, 1))
    x[0, 5] = 5.0
    a = via_neuron.run(x, record=[("t", "v")])
    step = int(a.spikes["drive"][0, :, 0].nonzero()[0][0])
    via_source = Network([Population("src", 1, SpikeSource()), Population("t", 1, tgt)],
                         [Connection("src", "t", np.full((1, 1), 0.7), "v", delay=2.0)], dt=1.0)
    spikes = np.zeros((1, 30, 1))
    spikes[0, step] = 1
    for engine, kw in (("numpy", {}), ("torch", {"dtype": "float64"}), ("brian2", {"codegen_target": "numpy"})):
        b = via_source.run(engine=engine, sources={"src": spikes}, record=[("t", "v")], **kw)
        np.testing.assert_allclose(np.asarray(b.states[("t", "v")]), a.states[("t", "v")], atol=1e-12)


def test_source_errors():
    net, _ = _song_net()
    tr = SpikeTrains.poisson(15.0, 100, 0.1, n=120, seed=0)
    with pytest.raises(ValueError, match="no spikes given"):
        net.run(n_steps=100)
    with pytest.raises(ValueError, match="not SpikeSource"):
        net.run(sources={"inp": tr, "out": tr})
    with pytest.raises(ValueError, match="has 50 neurons"):
        net.run(sources={"inp": SpikeTrains.poisson(15.0, 100, 0.1, n=50, seed=0)})
    with pytest.raises(ValueError, match="n_steps=50 disagrees"):
        net.run(n_steps=50, sources={"inp": tr})
    with pytest.raises(ValueError, match="cannot receive"):
        Network([Population("s", 2, SpikeSource()), Population("t", 2, LIF())],
                [Connection("t", "s", np.ones((2, 2)), "v")])
    with pytest.raises(ValueError, match="lie in"):
        SpikeTrains([0], [10], [0], (1, 10, 1))
    with pytest.raises(ValueError, match="only 0 and 1"):
        SpikeTrains.from_dense(np.full((5, 2), 2))
    with pytest.raises(ValueError, match="one rate"):
        SpikeTrains.poisson([1.0, 2.0], 10, 0.1, correlation=0.2)
    with pytest.raises(ValueError, match="one spike per step"):
        SpikeTrains.poisson(20_000.0, 10, 0.1, n=2)


def _song_competition(seconds, lr, n_correlated, seed=0):
    """Song, Miller & Abbott's set-up (brian2's STDP example parameters) with the learning rate
    raised from 0.01 to ``lr`` g_max so that a few seconds show the trend of 100 s."""
    n, gmax, T = 1000, 0.01, int(seconds * 10_000)
    neuron = CobaLIF(tau_mem=10.0, tau_exc=5.0, E_L=-74.0, v_th=-54.0, v_reset=-60.0, refractory=0.0)
    w0 = np.random.default_rng(seed).random((n, 1)) * gmax
    rule = STDP(a_pre=lr * gmax, a_post=-1.05 * lr * gmax, w_max=gmax)
    net = Network([Population("inp", n, SpikeSource()), Population("out", 1, neuron)],
                  [Connection("inp", "out", w0, "g_exc", plasticity=rule)], dt=0.1)
    parts = [SpikeTrains.poisson(15.0, T, 0.1, n=n_correlated, correlation=0.2, seed=[seed, 1])] if n_correlated else []
    parts.append(SpikeTrains.poisson(15.0, T, 0.1, n=n - n_correlated, seed=[seed, 2]))
    run = net.run(engine="numpy", sources={"inp": SpikeTrains.concatenate(parts)})
    return run.weights[0][0, :, 0] / gmax, run.spikes["out"][0, :, 0]


def test_stdp_competition_lowers_the_rate_and_a_correlated_group_wins():
    """Measured (seeds 0-2): independent inputs, 8 s at 5x the rate: output 48-60 Hz in the first
    1.6 s, 29-36 Hz in the last; 100 correlated inputs (c = 0.2), 4 s at 10x: the group's mean
    weight 0.81-0.86 g_max against 0.54-0.60 for the other 900."""
    w, s = _song_competition(8.0, 0.05, 0)
    first, last = s[:16_000].sum(), s[-16_000:].sum()
    assert last < 0.75 * first
    assert w.min() >= 0 and w.max() <= 1
    w, _ = _song_competition(4.0, 0.1, 100)
    assert w[:100].mean() > w[100:].mean() + 0.15
