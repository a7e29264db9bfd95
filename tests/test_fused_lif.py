"""The fused multi-step LIF (neurorec.backends.fused_lif) against snntorch.Leaky as reference."""

import math

import pytest

torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
from snntorch import surrogate as snn_surrogate  # noqa: E402

from neurorec.backends.fused_lif import (  # noqa: E402
    lif_multistep,
    spike,
    surrogate_grad,
    surrogate_smooth,
)

IMPLS = ["auto", "script", "python", "reference"]


def _snntorch_run(x, beta, threshold, reset, mem0=None, spike_grad=None):
    """Step snntorch.Leaky through time (init_hidden=False), as a user would."""
    lif = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism=reset, spike_grad=spike_grad)
    m = torch.zeros_like(x[0]) if mem0 is None else mem0
    spikes = []
    for t in range(x.shape[0]):
        s, m = lif(x[t], m)
        spikes.append(s)
    return torch.stack(spikes), m


def _case(dtype, T=200, B=4, N=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, B, N, generator=g, dtype=dtype) * 0.6 + 0.2
    beta = torch.rand(N, generator=g, dtype=dtype) * 0.5 + 0.45
    mem0 = torch.randn(B, N, generator=g, dtype=dtype)
    w = torch.randn(T, B, N, generator=g, dtype=dtype)
    wm = torch.randn(B, N, generator=g, dtype=dtype)
    return x, beta, mem0, w, wm


def _grads(run, x, beta, mem0, w, wm):
    x, beta, mem0 = (t.detach().clone().requires_grad_() for t in (x, beta, mem0))
    s, m = run(x, beta, mem0)
    ((s.to(w.dtype) * w).sum() + (m.to(w.dtype) * wm).sum()).backward()
    return s.detach(), m.detach(), [x.grad, beta.grad, mem0.grad]


@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-5), (torch.float32, 1e-4)])
def test_matches_snntorch_spikes_and_gradients(reset, impl, dtype, tol):
    x, beta, mem0, w, wm = _case(dtype)
    s1, m1, g1 = _grads(lambda x, b, m0: _snntorch_run(x, b, 1.0, reset, m0), x, beta, mem0, w, wm)
    s2, m2, g2 = _grads(lambda x, b, m0: lif_multistep(x, b, 1.0, reset, m0, impl=impl), x, beta, mem0, w, wm)
    assert 0.05 < s2.mean() < 0.5  # the test exercises spiking and resets
    assert torch.equal(s1.to(dtype), s2)
    assert s2.dtype == dtype and m2.dtype == dtype and m2.shape == (4, 50)
    torch.testing.assert_close(m2, m1, rtol=0, atol=0)
    for name, a, b in zip(("current", "beta", "mem0"), g1, g2, strict=True):
        scale = a.abs().max()
        assert (a - b).abs().max() <= tol * scale, name


@pytest.mark.parametrize("surrogate,alpha,factory", [
    ("atan", 3.0, lambda: snn_surrogate.atan(alpha=3.0)),
    ("fast_sigmoid", None, lambda: snn_surrogate.fast_sigmoid()),
])
def test_other_surrogates_threshold_and_scalar_beta(surrogate, alpha, factory):
    x, _, _, w, wm = _case(torch.float32, T=60, seed=1)
    x = x * 2
    thr = 1.5
    beta = torch.tensor(0.8, requires_grad=True)
    xa = x.clone().requires_grad_()
    s1, m1 = _snntorch_run(xa, beta, thr, "subtract", spike_grad=factory())
    ((s1 * w).sum() + (m1 * wm).sum()).backward()
    xb = x.clone().requires_grad_()
    beta2 = beta.detach().clone().requires_grad_()
    s2, m2 = lif_multistep(xb, beta2, thr, surrogate=surrogate, alpha=alpha)
    ((s2 * w).sum() + (m2 * wm).sum()).backward()
    assert torch.equal(s1, s2) and s2.sum() > 0
    torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(beta2.grad, beta.grad, rtol=1e-4, atol=1e-4)
    assert beta2.grad.shape == ()


@pytest.mark.parametrize("surrogate", ["atan", "fast_sigmoid"])
def test_surrogate_gradient_is_derivative_of_smooth_function(surrogate):
    x = torch.linspace(-2, 2, 41, dtype=torch.float64)
    x = x[x.abs() > 1e-3].requires_grad_()  # fast_sigmoid has a kink at 0
    for alpha in (None, 0.7, 5.0):
        assert torch.autograd.gradcheck(lambda v, a=alpha: surrogate_smooth(v, surrogate, a), (x,))
        (d,) = torch.autograd.grad(surrogate_smooth(x, surrogate, alpha).sum(), x)
        torch.testing.assert_close(surrogate_grad(x.detach(), surrogate, alpha), d)
        # central finite differences of the smooth function
        h = 1e-6
        xd = x.detach()
        fd = (surrogate_smooth(xd + h, surrogate, alpha) - surrogate_smooth(xd - h, surrogate, alpha)) / (2 * h)
        torch.testing.assert_close(surrogate_grad(xd, surrogate, alpha), fd, rtol=1e-6, atol=1e-8)
        # the spike function: Heaviside forward, surrogate backward
        s = spike(x, surrogate, alpha)
        assert torch.equal(s, (x > 0).double())
        (ds,) = torch.autograd.grad(s.sum(), x)
        torch.testing.assert_close(ds, d)


def test_surrogate_formulas_equal_snntorch():
    x = torch.linspace(-3, 3, 101, requires_grad=True)
    for mine, ref in (("atan", snn_surrogate.atan()), ("fast_sigmoid", snn_surrogate.fast_sigmoid())):
        (g,) = torch.autograd.grad(ref(x).sum(), x)
        torch.testing.assert_close(surrogate_grad(x.detach(), mine), g)
    assert math.isclose(float(surrogate_smooth(torch.tensor(0.0))), 0.5)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_bfloat16_runs_and_roughly_agrees(reset):
    x, beta, mem0, w, wm = _case(torch.float32, T=100)
    xb = x.bfloat16()
    s1, m1, g1 = _grads(lambda x, b, m0: _snntorch_run(x, b, 1.0, reset, m0), xb.float(), beta, mem0, w, wm)
    xb = xb.requires_grad_()
    s2, m2 = lif_multistep(xb, beta, 1.0, reset, mem0)
    assert s2.dtype == torch.bfloat16 and m2.dtype == torch.bfloat16
    ((s2.float() * w).sum() + (m2.float() * wm).sum()).backward()
    assert xb.grad.dtype == torch.bfloat16
    assert (s1 != s2.float()).float().mean() < 0.01  # float32 accumulation: (nearly) the same spikes
    torch.testing.assert_close(m2.float(), m1, rtol=0.02, atol=0.02)
    torch.testing.assert_close(xb.grad.float(), g1[0], rtol=0.05, atol=0.05 * g1[0].abs().max().item())


def test_per_neuron_threshold_and_spikes_only_loss():
    x, beta, mem0, w, _ = _case(torch.float32, T=50)
    thr = torch.rand(50) + 0.5
    s1, _, g1 = _grads(lambda x, b, m0: _snntorch_run(x, b, thr, "zero", m0), x, beta, mem0, w, 0 * mem0)
    xa = x.clone().requires_grad_()
    s2, _ = lif_multistep(xa, beta, thr, "zero", mem0)
    (s2 * w).sum().backward()  # the membrane output is unused
    assert torch.equal(s1, s2)
    torch.testing.assert_close(xa.grad, g1[0], rtol=1e-4, atol=1e-5)


def test_mem0_and_return_mem():
    x, beta, mem0, _, _ = _case(torch.float64, T=30)
    s_all, m_all = lif_multistep(x, beta, mem0=mem0, return_mem="all")
    s_last, m_last = lif_multistep(x, beta, mem0=mem0)
    assert m_all.shape == x.shape and torch.equal(m_all[-1], m_last) and torch.equal(s_all, s_last)
    # splitting the sequence and carrying the membrane gives the same result
    s_a, m_a = lif_multistep(x[:12], beta, mem0=mem0)
    s_b, m_b = lif_multistep(x[12:], beta, mem0=m_a)
    assert torch.equal(torch.cat([s_a, s_b]), s_all) and torch.equal(m_b, m_last)
    # default mem0 is zeros; a broadcastable mem0 (N,) is accepted and gets a gradient of its shape
    assert torch.equal(lif_multistep(x, beta)[0], lif_multistep(x, beta, mem0=torch.zeros(4, 50).double())[0])
    m0 = torch.full((50,), 0.3, dtype=torch.float64, requires_grad=True)
    s, m = lif_multistep(x, beta, mem0=m0)
    s_ref, _ = _snntorch_run(x, beta, 1.0, "subtract", m0.detach().expand(4, 50))
    assert torch.equal(s, s_ref.double())
    m.sum().backward()
    assert m0.grad.shape == (50,)


def test_gradcheck_through_membrane_trace():
    """Membrane outputs are smooth in current, beta and mem0 for fixed spikes: gradcheck holds."""
    x, beta, mem0, _, _ = _case(torch.float64, T=8, B=2, N=3, seed=3)
    args = (x.requires_grad_(), beta.requires_grad_(), mem0.requires_grad_())
    for reset in ("subtract", "zero"):
        def f(x, b, m0, reset=reset):
            return lif_multistep(x, b, 1.0, reset, m0, return_mem="all")[1]
        assert torch.autograd.gradcheck(f, args, eps=1e-7, atol=1e-6)


def test_bad_arguments_name_the_argument():
    x = torch.randn(5, 2, 3)
    cases = [
        (dict(current=torch.randn(5, 3)), "current"),
        (dict(current=torch.randn(0, 2, 3)), "current"),
        (dict(current=torch.ones(5, 2, 3, dtype=torch.int64)), "current"),
        (dict(beta=0.0), "beta"),
        (dict(beta=1.5), "beta"),
        (dict(beta=torch.tensor([0.5, 1.2, 0.3])), "beta"),
        (dict(beta=torch.full((4,), 0.5)), "beta"),
        (dict(threshold=0.0), "threshold"),
        (dict(threshold=-1.0), "threshold"),
        (dict(threshold=torch.tensor(1.0, requires_grad=True)), "threshold"),
        (dict(reset="none"), "reset"),
        (dict(surrogate="sigmoid"), "surrogate"),
        (dict(alpha=-2.0), "alpha"),
        (dict(mem0=torch.zeros(3, 3)), "mem0"),
        (dict(impl="cuda"), "impl"),
        (dict(return_mem="first"), "return_mem"),
    ]
    for kw, name in cases:
        args = dict(current=x, beta=0.9) | kw
        with pytest.raises(ValueError, match=name):
            lif_multistep(**args)
    lif_multistep(x, 1.0)  # beta = 1 (pure integrator) is allowed


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("impl", ["auto", "python", "reference"])
def test_cuda_matches_cpu(reset, impl):
    x, beta, mem0, w, wm = _case(torch.float64, T=100)
    run = lambda x, b, m0: lif_multistep(x, b, 1.0, reset, m0, impl=impl)  # noqa: E731
    s1, m1, g1 = _grads(run, x, beta, mem0, w, wm)
    s2, m2, g2 = _grads(run, *(t.cuda() for t in (x, beta, mem0, w, wm)))
    assert torch.equal(s1, s2.cpu())
    torch.testing.assert_close(m2.cpu(), m1)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(b.cpu(), a)
    for dtype in (torch.float32, torch.bfloat16):
        xc = x.to(dtype)
        s3, m3 = lif_multistep(xc.cuda(), beta.float().cuda(), 1.0, reset, mem0.float().cuda(), impl=impl)
        s4, m4 = lif_multistep(xc, beta.float(), 1.0, reset, mem0.float(), impl=impl)
        assert s3.dtype == dtype and (s3.cpu() != s4).float().mean() < 1e-3
