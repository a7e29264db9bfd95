"""Spike encoders and decoders (neurorec.models.spiking.coding) on numpy and torch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurorec.models.spiking.coding import (
    delta_encode,
    first_spike,
    latency_encode,
    membrane_max,
    membrane_mean,
    poisson_encode,
    spike_count,
)

torch = pytest.importorskip("torch")


# ---------------------------------------------------------------------------------------------- poisson
@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_poisson_rate_is_within_the_binomial_interval(kind):
    p = np.array([[0.0, 0.05, 0.3, 0.5, 0.9, 1.0]])
    n = 20000
    x = p if kind == "numpy" else torch.tensor(p)
    s = poisson_encode(x, n, rng=123)
    s = s if kind == "numpy" else s.numpy()
    assert s.shape == (1, n, 6) and s.dtype == np.float64
    assert set(np.unique(s)) <= {0.0, 1.0}
    counts = s[0].sum(0)
    assert counts[0] == 0 and counts[-1] == n            # p = 0 never fires, p = 1 always
    sd = np.sqrt(n * p[0] * (1 - p[0]))
    assert np.all(np.abs(counts - n * p[0]) <= 4.5 * sd + 1e-9), (counts, n * p[0])
    # consecutive steps are independent: the lag-1 correlation of the p=0.5 train is ~0
    a = s[0, :, 3] - 0.5
    assert abs(np.mean(a[1:] * a[:-1]) / np.mean(a * a)) < 4.5 / np.sqrt(n)


def test_poisson_max_rate_scales_the_probability():
    s = poisson_encode(np.ones((1, 3), np.float32), 20000, max_rate=0.2, rng=np.random.default_rng(0))
    assert s.dtype == np.float32
    assert np.all(np.abs(s[0].mean(0) - 0.2) < 4.5 * np.sqrt(0.2 * 0.8 / 20000))


def test_poisson_time_axis_holds_every_input_step():
    x = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])                   # (1, T=3, F=2), deterministic
    s = poisson_encode(x, 4, rng=0)
    assert s.shape == (1, 12, 2)
    np.testing.assert_array_equal(s[0], np.repeat(x[0], 4, axis=0))
    assert poisson_encode(x[:, 0], 5, rng=0).shape == (1, 5, 2)             # (B, F) -> (B, n_steps, F)


def test_poisson_numpy_generator_gives_the_same_spikes_for_numpy_and_torch():
    x = np.random.default_rng(1).uniform(size=(3, 4, 5)).astype(np.float32)
    a = poisson_encode(x, 7, rng=np.random.default_rng(42))
    b = poisson_encode(torch.from_numpy(x), 7, rng=np.random.default_rng(42))
    assert isinstance(b, torch.Tensor) and b.dtype == torch.float32
    np.testing.assert_array_equal(a, b.numpy())


def test_poisson_is_reproducible_and_leaves_the_global_generators_alone():
    x = np.full((2, 3), 0.5)
    np_state, torch_state = np.random.get_state()[1].copy(), torch.get_rng_state().clone()
    np.testing.assert_array_equal(poisson_encode(x, 50, rng=7), poisson_encode(x, 50, rng=7))
    xt = torch.tensor(x)
    assert torch.equal(poisson_encode(xt, 50, rng=7), poisson_encode(xt, 50, rng=torch.Generator().manual_seed(7)))
    poisson_encode(x, 50)
    poisson_encode(xt, 50)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert not np.array_equal(poisson_encode(x, 50, rng=7), poisson_encode(x, 50, rng=8))


@pytest.mark.parametrize("x,kw,match", [
    (np.array([[0.5, 1.2]]), {}, r"\[0, 1\]"),
    (np.array([[-0.1, 0.5]]), {}, r"\[0, 1\]"),
    (np.array([[np.nan, 0.5]]), {}, "NaN"),
    (np.array([0.5, 0.5]), {}, "shape"),
    (np.zeros((0, 3)), {}, "empty"),
    (np.array([[0.5]]), {"n_steps": 0}, "n_steps"),
    (np.array([[0.5]]), {"n_steps": 2.5}, "n_steps"),
    (np.array([[0.5]]), {"max_rate": 0.0}, "max_rate"),
    (np.array([[0.5]]), {"max_rate": 1.5}, "max_rate"),
    (np.array([["a"]]), {}, "real numbers"),
    (np.array([[0.5]]), {"rng": "seed"}, "rng"),
    (np.array([[0.5]]), {"rng": torch.Generator()}, "numpy"),
])
def test_poisson_rejects_bad_input(x, kw, match):
    kw = {"n_steps": 3, **kw}
    with pytest.raises(ValueError, match=match):
        poisson_encode(x, **kw)


# ---------------------------------------------------------------------------------------------- latency
def _expected_latency(x, n_steps, tau, thr, linear):
    """Step of the spike of each value by the formula, in float64, or None."""
    out = []
    for v in x:
        if linear:
            t = tau * (1 - v) if v >= thr else math.inf
        else:
            t = tau * math.log(v / (v - thr)) if v > thr else math.inf
        step = round(t) if math.isfinite(t) else None
        out.append(step if step is not None and step <= n_steps - 1 else None)
    return out


@pytest.mark.parametrize("linear", [False, True])
def test_latency_times_follow_the_formula(linear):
    x = np.array([1.0, 0.9, 0.62, 0.3, 0.11, 0.052, 0.021, 0.0102, 0.005, 0.0])
    n, tau, thr = 12, 3.0 if not linear else 10.0, 0.01
    s = latency_encode(x[None], n, tau=tau, threshold=thr, linear=linear)
    assert s.shape == (1, n, len(x))
    assert np.all(s.sum(1) <= 1)                                           # at most one spike per feature
    got = first_spike(s)[0]
    expected = _expected_latency(x, n, tau, thr, linear)
    assert [None if g == n else int(g) for g in got] == expected
    assert expected[-1] is None and expected[-2] is None                   # below the threshold: silent
    assert any(e is None for e in expected[:-2]) or linear                 # late spikes fall off the window


@pytest.mark.parametrize("linear", [False, True])
def test_latency_matches_snntorch_spikegen(linear):
    spikegen = pytest.importorskip("snntorch.spikegen")
    x = torch.rand(16, 30, generator=torch.Generator().manual_seed(0))
    x[0, :5] = torch.tensor([0.0, 0.004, 0.0099, 1.0, 0.5])
    n, tau = 8, 2.0
    ref = spikegen.latency(x, num_steps=n, tau=tau, threshold=0.01, clip=True, bypass=True, linear=linear)
    ours = latency_encode(x, n, tau=tau, threshold=0.01, linear=linear)
    assert ref.sum() > 0 and ref.shape == (n, 16, 30)
    assert torch.equal(ours, ref.transpose(0, 1))
    np.testing.assert_array_equal(latency_encode(x.numpy(), n, tau=tau, threshold=0.01, linear=linear),
                                  ours.numpy())


def test_latency_sequence_input_codes_every_step_in_its_own_window():
    x = np.array([[[1.0, 0.0], [0.3, 1.0]]])                               # (1, T=2, F=2)
    s = latency_encode(x, 5, tau=4.0, linear=True)
    assert s.shape == (1, 10, 2)
    assert np.flatnonzero(s[0, :, 0]).tolist() == [0, 8]                   # t = 0 and 5 + round(2.8)
    assert np.flatnonzero(s[0, :, 1]).tolist() == [5]                      # x = 0 never fires


@pytest.mark.parametrize("kw,match", [({"tau": 0.0}, "tau"), ({"threshold": 1.0}, "threshold"),
                                      ({"threshold": 0.0}, "threshold"), ({"n_steps": 0}, "n_steps")])
def test_latency_rejects_bad_parameters(kw, match):
    kw = {"n_steps": 4, **kw}
    with pytest.raises(ValueError, match=match):
        latency_encode(np.array([[0.5]]), **kw)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        latency_encode(np.array([[2.0]]), 4)


# ---------------------------------------------------------------------------------------------- delta
def test_delta_reconstructs_a_staircase_exactly():
    theta = 0.5
    levels = np.array([0, 1, 2, 2, 3, 2, 1, 1, 0, -1, -2, -1, 0, 0])       # moves at most one level a step
    x = (theta * levels).reshape(1, -1, 1)
    s = delta_encode(x, theta)
    assert s.shape == (1, len(levels), 2)
    on, off = s[0, :, 0], s[0, :, 1]
    assert not np.any(on * off)
    np.testing.assert_array_equal(theta * np.cumsum(on - off), x[0, :, 0])
    np.testing.assert_array_equal(on, np.diff(levels, prepend=0) > 0)


def test_delta_tracks_a_slow_signal_within_the_threshold():
    rng = np.random.default_rng(0)
    theta = 0.1
    x = np.cumsum(rng.uniform(-theta, theta, (3, 400, 4)), axis=1)         # moves < theta per step
    s = delta_encode(x, theta)
    recon = theta * np.cumsum(s[..., :4] - s[..., 4:], axis=1)
    assert np.abs(x - recon).max() < theta
    assert 0 < s.mean() < 0.5
    # a fast step is followed at one spike per step: the reconstruction catches up, then tracks
    jump = delta_encode(np.full((1, 6, 1), 0.35), 0.1)
    assert jump[0, :, 0].tolist() == [1, 1, 1, 0, 0, 0] and jump[0, :, 1].sum() == 0


def test_delta_numpy_and_torch_agree_and_off_channel_is_optional():
    x = np.random.default_rng(2).normal(size=(2, 50, 3)).astype(np.float32)
    a = delta_encode(x, 0.3)
    b = delta_encode(torch.from_numpy(x), 0.3)
    assert a.dtype == np.float32 and b.dtype == torch.float32
    np.testing.assert_array_equal(a, b.numpy())
    on_only = delta_encode(x, 0.3, off_spike=False)
    np.testing.assert_array_equal(on_only, a[..., :3])


@pytest.mark.parametrize("x,threshold,match", [
    (np.zeros((4, 3)), 0.1, "shape"),
    (np.full((1, 4, 2), np.inf), 0.1, "NaN or infinite"),
    (np.zeros((1, 4, 2)), 0.0, "threshold"),
    (np.zeros((1, 4, 2)), float("nan"), "threshold"),
])
def test_delta_rejects_bad_input(x, threshold, match):
    with pytest.raises(ValueError, match=match):
        delta_encode(x, threshold)


# ---------------------------------------------------------------------------------------------- decoders
def _trace():
    s = np.zeros((2, 5, 3), np.float32)
    s[0, [1, 3], 0] = 1
    s[0, 4, 1] = 1
    s[1, 2, 0] = 1
    s[1, 0, 2] = 1
    mem = np.arange(30, dtype=np.float32).reshape(2, 5, 3) % 7 - 3
    return s, mem


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_decoders_by_hand(kind):
    s, mem = _trace()
    lengths = np.array([4, 5])
    if kind == "torch":
        s, mem, lengths = torch.from_numpy(s), torch.from_numpy(mem), torch.from_numpy(lengths)

    def np_(a):
        return a.numpy() if kind == "torch" else a

    assert np_(spike_count(s)).tolist() == [[2, 1, 0], [1, 0, 1]]
    assert np_(spike_count(s, lengths)).tolist() == [[2, 0, 0], [1, 0, 1]]    # step 4 of sequence 0 is padding
    assert np_(first_spike(s)).tolist() == [[1, 4, 5], [2, 5, 0]]
    assert np_(first_spike(s, lengths)).tolist() == [[1, 4, 4], [2, 5, 0]]    # "never" is the length
    m = np_(mem)
    np.testing.assert_allclose(np_(membrane_mean(mem)), m.mean(1))
    np.testing.assert_allclose(np_(membrane_mean(mem, lengths)), np.stack([m[0, :4].mean(0), m[1].mean(0)]))
    np.testing.assert_array_equal(np_(membrane_max(mem, lengths)), np.stack([m[0, :4].max(0), m[1].max(0)]))
    assert np_(first_spike(s)).dtype == np.int64


def test_decoders_are_differentiable_on_torch():
    mem = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    (membrane_max(mem, [6, 3]).sum() + membrane_mean(mem).sum()).backward()
    assert torch.all(mem.grad[1, 3:] == 1 / 6)              # steps past the length: only the mean's gradient
    torch.testing.assert_close(mem.grad[1, :3].sum(0), torch.full((3,), 1.5, dtype=torch.float64))  # 1 max each


@pytest.mark.parametrize("fn", [spike_count, membrane_mean, membrane_max, first_spike])
def test_decoders_reject_bad_input(fn):
    with pytest.raises(ValueError, match="shape"):
        fn(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="NaN"):
        fn(np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="lengths"):
        fn(np.zeros((2, 5, 1)), [5, 6])
    with pytest.raises(ValueError, match="lengths"):
        fn(np.zeros((2, 5, 1)), [5])
    with pytest.raises(ValueError, match="lengths"):
        fn(np.zeros((2, 5, 1)), [0, 5])
    with pytest.raises(ValueError, match="lengths"):
        fn(np.zeros((2, 5, 1)), [2.0, 5.0])
