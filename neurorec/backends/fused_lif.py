r"""Fused multi-step leaky integrate-and-fire (LIF) layer for the torch backend.

:func:`lif_multistep` runs a layer of LIF neurons over a whole sequence in one call, with a
hand-written backward pass (back-propagation through time with a surrogate gradient), so that
autograd records one node per layer and sequence instead of a dozen per time step as in
snntorch. It reproduces :class:`snntorch.Leaky` (``init_hidden=False``, ``reset_delay=True``,
the defaults) spike for spike, and its gradients equal snntorch's BPTT gradients within float
round-off; ``tests/test_fused_lif.py`` checks both against snntorch itself.

Equations (snntorch's ``Leaky``, time step :math:`t = 0 \dots T-1`, :math:`U[-1] = U_0`)

.. math::

    R[t] &= \Theta(U[t-1] - \vartheta) \quad \text{(reset, no gradient)} \\
    U[t] &= \beta U[t-1] + I[t] - R[t]\,\vartheta \quad \text{(reset="subtract")} \\
    U[t] &= \beta (1 - R[t]) U[t-1] + I[t] \quad \text{(reset="zero")} \\
    S[t] &= \Theta(U[t] - \vartheta)

The reset applied at step :math:`t` is the spike emitted at step :math:`t-1` (snntorch's
``reset_delay=True``). In the backward pass :math:`\partial S / \partial U` is replaced by the
derivative of a smooth surrogate :math:`\tilde S(U - \vartheta)` (see :data:`SURROGATES`);
the reset carries no gradient, as in snntorch.

Implementation. The forward time loop and the backward reverse scan run either in TorchScript
(``impl="script"``: the loop runs in C++, no Python per time step) or in Python inside the
custom autograd function (``impl="python"``: a few tensor ops per step, still a single autograd
node). Everything that is not sequential (surrogate derivatives, the beta gradient, spike
thresholding) is computed on the whole ``(T, B, N)`` block at once. ``impl="reference"`` is plain
autograd through per-step ops, for testing. All three run on CPU and CUDA.

Precision. float32 and float64 are computed in their own dtype. float16 and bfloat16 inputs are
upcast and the membrane is integrated in float32 (snntorch itself ends up in float32 for these
inputs, because its reset tensor is float32); spikes, membrane and gradients are returned in the
input dtype.

Reference: J. K. Eshraghian et al. (2023), "Training spiking neural networks using lessons
from deep learning", Proc. IEEE 111(9); surrogates from Fang et al. (2021, atan) and
Zenke & Ganguli (2018, fast sigmoid).
"""

from __future__ import annotations

import math
import warnings

import torch

__all__ = ["SURROGATES", "lif_multistep", "surrogate_grad", "surrogate_smooth", "spike"]

#: name -> default sharpness ``alpha`` (atan: snntorch's ``atan(alpha=2.0)``; fast_sigmoid:
#: snntorch's ``fast_sigmoid(slope=25)``).
SURROGATES: dict[str, float] = {"atan": 2.0, "fast_sigmoid": 25.0}

_IMPLS = ("auto", "script", "python", "reference")
_SURROGATE_IDS = {"atan": 0, "fast_sigmoid": 1}


# ----------------------------------------------------------------------------------------------
# surrogate functions
# ----------------------------------------------------------------------------------------------


def surrogate_smooth(x: torch.Tensor, surrogate: str = "atan", alpha: float | None = None) -> torch.Tensor:
    r"""The smooth function whose derivative is used as the spike's surrogate gradient.

    - ``"atan"``: :math:`\tilde S(x) = \frac{1}{\pi}\arctan(\frac{\pi}{2}\alpha x) + \frac12`
    - ``"fast_sigmoid"``: :math:`\tilde S(x) = \frac{x}{1 + \alpha |x|}` (SuperSpike)

    Differentiable by ordinary autograd; :func:`surrogate_grad` is its derivative in closed form.
    """
    name, alpha = _check_surrogate(surrogate, alpha)
    if name == "atan":
        return torch.atan(math.pi / 2 * alpha * x) / math.pi + 0.5
    return x / (1 + alpha * x.abs())


def surrogate_grad(x: torch.Tensor, surrogate: str = "atan", alpha: float | None = None) -> torch.Tensor:
    r"""Closed-form derivative of :func:`surrogate_smooth`, exactly snntorch's backward formula.

    - ``"atan"``: :math:`\frac{\alpha/2}{1 + (\frac{\pi}{2}\alpha x)^2}`
    - ``"fast_sigmoid"``: :math:`\frac{1}{(1 + \alpha|x|)^2}`
    """
    name, alpha = _check_surrogate(surrogate, alpha)
    return _sg(x, _SURROGATE_IDS[name], float(alpha))


def _sg(x: torch.Tensor, sid: int, alpha: float) -> torch.Tensor:
    if sid == 0:
        return alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)
    return 1 / (alpha * x.abs() + 1.0) ** 2


class _Spike(torch.autograd.Function):
    """Heaviside forward, surrogate derivative backward (as snntorch's ``ATan``/``FastSigmoid``)."""

    @staticmethod
    def forward(ctx, x, sid, alpha):
        ctx.save_for_backward(x)
        ctx.sid, ctx.alpha = sid, alpha
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * _sg(x, ctx.sid, ctx.alpha), None, None


def spike(x: torch.Tensor, surrogate: str = "atan", alpha: float | None = None) -> torch.Tensor:
    """Heaviside step ``(x > 0)`` whose backward pass is :func:`surrogate_grad`."""
    name, alpha = _check_surrogate(surrogate, alpha)
    return _Spike.apply(x, _SURROGATE_IDS[name], float(alpha))


def _check_surrogate(surrogate, alpha):
    if surrogate not in SURROGATES:
        raise ValueError(f"surrogate must be one of {sorted(SURROGATES)}, got {surrogate!r}")
    if alpha is None:
        alpha = SURROGATES[surrogate]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha <= 0:
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
    return surrogate, float(alpha)


# ----------------------------------------------------------------------------------------------
# the time loops (python and TorchScript versions share this source)
# ----------------------------------------------------------------------------------------------


def _forward_loop(current: torch.Tensor, beta: torch.Tensor, thr: torch.Tensor, mem0: torch.Tensor,
                  zero_reset: bool) -> torch.Tensor:
    """Membrane trace ``(T, B, N)``, written in place step by step.

    The rounding order is snntorch's: ``(beta * U + I) - R * thr`` (subtract) and
    ``beta * ((1 - R) * U) + I`` (zero), so the spikes agree bit for bit. The reset indicator
    is written as 0/1 into one reused buffer of the compute dtype: a comparison into a float
    ``out=`` tensor is a plain vectorised kernel, whereas a bool mask and its conversion back to
    float (or ``masked_fill_``) cost several times as much per step on the CPU. ``R * thr`` and
    ``(1 - R) * U`` are exact (R is 0 or 1), so the rounding is snntorch's all the same.
    """
    mems = torch.empty_like(current)
    r = torch.empty_like(current[0])  # R[t] (subtract) or 1 - R[t] (zero), reused every step
    m = mem0
    for t in range(current.size(0)):
        out = mems[t]
        if zero_reset:
            torch.le(m, thr, out=r)
            torch.mul(m, r, out=out)
            out.mul_(beta)
            out.add_(current[t])
        else:
            torch.gt(m, thr, out=r)
            torch.mul(m, beta, out=out)
            out.add_(current[t])
            out.addcmul_(r, thr, value=-1.0)  # - R * thr: exact product, so the same rounding as sub_
        m = out
    return mems


def _backward_scan(c: torch.Tensor, decay: torch.Tensor) -> torch.Tensor:
    """Reverse scan in place: ``c[t] += decay[t+1] * c[t+1]``; ``decay`` is ``beta`` (shape ()
    or (N,), subtract reset) or ``beta * (1 - R)`` of shape (T, B, N) (zero reset)."""
    per_step = decay.dim() == 3
    for i in range(c.size(0) - 1):
        t = c.size(0) - 2 - i
        if per_step:
            c[t].addcmul_(c[t + 1], decay[t + 1])
        else:
            c[t].addcmul_(c[t + 1], decay)
    return c


_scripted: dict[str, object] = {}


def _script(name):
    """TorchScript-compile a loop on first use (TorchScript is deprecated upstream but still the
    only way to run a time loop in C++ without a build step; its warning is silenced). If
    scripting fails (a torch without TorchScript), the Python loop is used instead."""
    fn = _scripted.get(name)
    if fn is None:
        py = {"fwd": _forward_loop, "bwd": _backward_scan}[name]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fn = torch.jit.script(py)
        except Exception as err:  # pragma: no cover - depends on the torch build
            warnings.warn(f"TorchScript unavailable ({err}); lif_multistep uses its Python loop", stacklevel=3)
            fn = py
        _scripted[name] = fn
    return fn


def _loops(impl):
    if impl == "script":
        return _script("fwd"), _script("bwd")
    return _forward_loop, _backward_scan


class _LIFFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, current, beta, mem0, thr, zero_reset, sid, alpha, impl):
        fwd, _ = _loops(impl)
        with torch.no_grad():
            mems = fwd(current, beta, thr, mem0, zero_reset)
        spikes = torch.gt(mems, thr, out=torch.empty_like(mems))  # 0/1 in the compute dtype
        ctx.save_for_backward(mems, beta, mem0, thr)
        ctx.conf = (zero_reset, sid, alpha, impl)
        ctx.set_materialize_grads(False)  # an unused output costs no pass in backward
        return spikes, mems

    @staticmethod
    def backward(ctx, grad_spikes, grad_mems):
        mems, beta, mem0, thr = ctx.saved_tensors
        zero_reset, sid, alpha, impl = ctx.conf
        _, bwd = _loops(impl)
        # c[t] = dL/dU[t] from this step's spike and membrane outputs (a fresh tensor: scanned in place)
        if grad_spikes is not None:
            c = _sg_inplace(mems - thr, sid, alpha).mul_(grad_spikes)
            if grad_mems is not None:
                c.add_(grad_mems)
        elif grad_mems is not None:
            c = grad_mems.clone()
        else:
            c = torch.zeros_like(mems)
        need_prev = ctx.needs_input_grad[1] or zero_reset
        prev = torch.cat([mem0.unsqueeze(0), mems[:-1]]) if need_prev else mems  # U[t-1]
        if zero_reset:
            keep = (prev <= thr).to(mems.dtype)  # 1 - R[t]
            g = bwd(c, beta * keep)
        else:
            keep = None
            g = bwd(c, beta)
        grad_beta = grad_mem0 = None
        if ctx.needs_input_grad[1]:
            contrib = g * prev
            if keep is not None:
                contrib.mul_(keep)
            grad_beta = contrib.sum(dim=(0, 1)).sum_to_size(beta.shape)
        if ctx.needs_input_grad[2]:
            grad_mem0 = beta * g[0] if keep is None else beta * g[0] * keep[0]
        return g, grad_beta, grad_mem0, None, None, None, None, None


def _sg_inplace(x: torch.Tensor, sid: int, alpha: float) -> torch.Tensor:
    """:func:`_sg` overwriting its (temporary) argument, to save memory passes."""
    if sid == 0:
        return x.mul_(math.pi / 2 * alpha).square_().add_(1).reciprocal_().mul_(alpha / 2)
    return x.abs_().mul_(alpha).add_(1.0).square_().reciprocal_()


def _reference(current, beta, mem0, thr, zero_reset, sid, alpha):
    """Plain autograd, one step at a time, exactly snntorch's op sequence (for testing)."""
    m = mem0
    spikes, mems = [], []
    for t in range(current.size(0)):
        r = (m - thr > 0).to(current.dtype).detach()
        if zero_reset:
            m = beta * ((1 - r) * m) + current[t]
        else:
            m = beta * m + current[t] - r * thr
        spikes.append(_Spike.apply(m - thr, sid, alpha))
        mems.append(m)
    return torch.stack(spikes), torch.stack(mems)


# ----------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------


def lif_multistep(
    current: torch.Tensor,
    beta: float | torch.Tensor,
    threshold: float | torch.Tensor = 1.0,
    reset: str = "subtract",
    mem0: torch.Tensor | None = None,
    surrogate: str = "atan",
    alpha: float | None = None,
    *,
    return_mem: str = "last",
    impl: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Run a layer of LIF neurons over a whole sequence (snntorch ``Leaky`` semantics).

    Parameters
    ----------
    current : Tensor, shape (T, B, N)
        Input current, time-major, already multiplied by the weights. float32, float64,
        float16 or bfloat16; CPU or CUDA. Gradients flow to it.
    beta : float or Tensor of shape () or (N,)
        Membrane decay per step, in (0, 1]. A tensor with ``requires_grad`` gets a gradient.
    threshold : float or Tensor of shape () or (N,)
        Firing threshold :math:`\vartheta > 0` (a constant; no gradient).
    reset : {"subtract", "zero"}
        Reset by subtracting the threshold, or to zero (snntorch's ``reset_mechanism``).
    mem0 : Tensor broadcastable to (B, N), optional
        Initial membrane :math:`U_0` (zeros by default). Gradients flow to it.
    surrogate : {"atan", "fast_sigmoid"}
        Surrogate derivative used for :math:`\partial S/\partial U` (see :func:`surrogate_grad`).
    alpha : float, optional
        Surrogate sharpness; default per surrogate (:data:`SURROGATES`: atan 2.0 as snntorch's
        ``atan()``, fast_sigmoid 25 as snntorch's ``fast_sigmoid()``).
    return_mem : {"last", "all"}
        Return the final membrane (B, N) or the whole trace (T, B, N).
    impl : {"auto", "script", "python", "reference"}
        Where the time loop runs (see the module docstring). ``"auto"`` picks the fastest
        measured choice, the TorchScript loop.

    Returns
    -------
    spikes : Tensor, shape (T, B, N)
        0/1 spikes in the dtype of ``current``.
    mem : Tensor, shape (B, N) or (T, B, N)
        Membrane after the last step (or all steps), in the dtype of ``current``.

    Equations: see the module docstring.
    """
    if not isinstance(current, torch.Tensor):
        raise ValueError(f"current must be a torch.Tensor of shape (T, B, N), got {type(current).__name__}")
    if current.dim() != 3:
        raise ValueError(f"current must have shape (T, B, N) (3 dimensions), got shape {tuple(current.shape)}")
    if current.size(0) == 0:
        raise ValueError("current must have at least one time step, got T=0")
    if not current.is_floating_point():
        raise ValueError(f"current must be a floating-point tensor, got dtype {current.dtype}")
    if reset not in ("subtract", "zero"):
        raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
    if impl not in _IMPLS:
        raise ValueError(f"impl must be one of {_IMPLS}, got {impl!r}")
    if return_mem not in ("last", "all"):
        raise ValueError(f"return_mem must be 'last' or 'all', got {return_mem!r}")
    name, alpha = _check_surrogate(surrogate, alpha)
    _, B, N = current.shape
    in_dtype = current.dtype
    dtype = torch.float32 if in_dtype in (torch.float16, torch.bfloat16) else in_dtype
    dev = current.device

    beta_t = _param("beta", beta, N, dtype, dev, low_open=True, high=1.0)
    thr_t = _param("threshold", threshold, N, dtype, dev, low_open=True, high=None)
    if thr_t.requires_grad:
        raise ValueError("threshold must be a constant: a learnable threshold (requires_grad) is not supported")
    if mem0 is None:
        mem0_t = torch.zeros((B, N), dtype=dtype, device=dev)
    else:
        if not isinstance(mem0, torch.Tensor):
            raise ValueError(f"mem0 must be a torch.Tensor broadcastable to (B, N)=({B}, {N}), got {type(mem0)}")
        try:
            torch.broadcast_shapes(mem0.shape, (B, N))
            ok = mem0.dim() <= 2
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"mem0 must be broadcastable to (B, N)=({B}, {N}), got shape {tuple(mem0.shape)}")
        mem0_t = mem0.to(device=dev, dtype=dtype).expand(B, N)

    x = current.to(dtype)
    zero_reset = reset == "zero"
    sid = _SURROGATE_IDS[name]
    if impl == "reference":
        spikes, mems = _reference(x, beta_t, mem0_t, thr_t, zero_reset, sid, alpha)
    else:
        loop = "python" if impl == "python" else "script"
        spikes, mems = _LIFFunction.apply(x, beta_t, mem0_t, thr_t, zero_reset, sid, alpha, loop)
    mem = mems[-1] if return_mem == "last" else mems
    return spikes.to(in_dtype), mem.to(in_dtype)


def _param(name, value, n, dtype, device, low_open, high):
    """Validate beta/threshold: a positive number (<= high) or a tensor of shape () or (n,)."""
    rng = f"in (0, {high}]" if high is not None else "> 0"
    if isinstance(value, torch.Tensor):
        if value.dim() > 1 or (value.dim() == 1 and value.numel() not in (1, n)):
            raise ValueError(f"{name} must be a number or a tensor of shape () or (N,)=({n},), "
                             f"got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            value = value.to(dtype)
        with torch.no_grad():
            bad = ~torch.isfinite(value) | (value <= 0)
            if high is not None:
                bad |= value > high
            if bool(bad.any()):
                raise ValueError(f"{name} must be {rng}, got values in "
                                 f"[{value.min().item():g}, {value.max().item():g}]")
        return value.to(device=device, dtype=dtype)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number or a tensor, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0 or (high is not None and value > high):
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    # torch.full, not torch.tensor: on CUDA a fill kernel queued on the stream, where torch.tensor's
    # host-to-device copy would wait for all queued work (e.g. the preceding Linear) to finish
    return torch.full((), float(value), dtype=dtype, device=device)
