r"""Spike encoders and decoders for numpy arrays and torch tensors.

Encoders turn analog inputs into spike trains a spiking network can read; decoders turn a
network's spike or membrane traces into one value per neuron and sequence. Every function
takes a numpy array or a torch tensor and returns the same kind (on the tensor's device); the
two share one implementation written against the array namespace, so a deterministic encoder
gives identical numbers on both. Nothing here draws from a global random generator.

Time-axis convention (batch first, as everywhere in neurorec)
-------------------------------------------------------------
* A static input ``(batch, features)`` presented for ``n_steps`` simulation steps becomes
  ``(batch, n_steps, features)``.
* A sequence ``(batch, time, features)`` whose every step is held for ``n_steps`` simulation
  steps becomes ``(batch, time * n_steps, features)``: simulation step ``s`` shows input step
  ``s // n_steps``.

Encoders: :func:`poisson_encode` (rate code), :func:`latency_encode` (time-to-first-spike code),
:func:`delta_encode` (ON/OFF change code). Decoders of ``(batch, time, neurons)`` traces:
:func:`spike_count`, :func:`membrane_mean`, :func:`membrane_max`, :func:`first_spike`; each
takes optional sequence ``lengths`` so that padded steps of a ragged batch are ignored.

References
----------
J. K. Eshraghian et al. (2023), "Training spiking neural networks using lessons from deep
learning", Proc. IEEE 111(9), section 3 (rate, latency and delta coding; snntorch's
``spikegen``). B. Rueckauer & S.-C. Liu (2018), "Conversion of analog to spiking neural networks
using sparse temporal coding", ISCAS (time-to-first-spike). M. Miskowicz (2006),
"Send-on-delta concept: an event-based data reporting strategy", Sensors 6(1).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from neurorec._validation import check_positive_int, numeric_array

__all__ = ["poisson_encode", "latency_encode", "delta_encode", "spike_count", "membrane_mean",
           "membrane_max", "first_spike"]


# ----------------------------------------------------------------------------------------------
# array-namespace helpers
# ----------------------------------------------------------------------------------------------
def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def _as_array(x, name: str):
    """``x`` as a floating numpy array or torch tensor (float32 for integer or bool input)."""
    if _is_torch(x):
        import torch

        if x.is_complex():
            raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}.")
        return x if x.is_floating_point() else x.to(torch.float32)
    arr = numeric_array(x, name)
    return arr if arr.dtype.kind == "f" else arr.astype(np.float32)


def _check_values(x, name: str, *, unit_interval: bool = False) -> None:
    if math.prod(x.shape) == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}).")
    if _is_torch(x):
        x = x.detach()
    if not bool(_namespace(x).isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
    if unit_interval:
        lo, hi = float(x.min()), float(x.max())
        if lo < 0.0 or hi > 1.0:
            raise ValueError(f"{name} must lie in [0, 1] (firing probabilities / normalised intensities), "
                             f"got values in [{lo:g}, {hi:g}]; scale it first, e.g. min-max per feature.")


def _check_rank(x, name: str, ranks: tuple[int, ...], shapes: str) -> None:
    if x.ndim not in ranks:
        raise ValueError(f"{name} must have shape {shapes}, got shape {tuple(x.shape)}.")


def _check_number(value, name: str, *, low: float, high: float | None = None, low_open: bool = True,
                  high_open: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = "inf)" if high is None else (f"{high:g})" if high_open else f"{high:g}]")
        raise ValueError(f"{name} must be a finite number in {lo}{low:g}, {hi}, got {value!r}.")
    return float(value)


def _namespace(x):
    """The array library of ``x``: torch for a tensor, numpy otherwise."""
    if _is_torch(x):
        import torch

        return torch
    return np


def _cast(a, like):
    """``a`` (a boolean mask, integer lengths, ...) in ``like``'s dtype."""
    return a.to(like.dtype) if _is_torch(like) else a.astype(like.dtype)


def _arange(n: int, like):
    if _is_torch(like):
        import torch

        return torch.arange(n, device=like.device)
    return np.arange(n)


def _hold(x, n_steps: int):
    """Repeat every step of ``x`` (batch, time, ...) ``n_steps`` times along the time axis."""
    if n_steps == 1:
        return x
    if _is_torch(x):
        return x.repeat_interleave(n_steps, dim=1)
    return np.repeat(x, n_steps, axis=1)


def _present(x, n_steps: int):
    """(batch, features) -> (batch, n_steps, features); (batch, time, features) -> held steps."""
    if x.ndim == 2:
        x = x[:, None, :]
    return _hold(x, n_steps)


def _step_mask(lengths, T: int, like):
    """Boolean (batch, T) mask of the valid steps ``t < lengths[b]``."""
    return _arange(T, like)[None, :] < lengths[:, None]


# ----------------------------------------------------------------------------------------------
# encoders
# ----------------------------------------------------------------------------------------------
def _uniform(rng, shape, like):
    """Uniform [0, 1) draws shaped ``shape`` in ``like``'s dtype (and device)."""
    if isinstance(rng, np.random.Generator):
        if _is_torch(like):
            import torch

            u = rng.random(shape, dtype=np.float64 if like.dtype == torch.float64 else np.float32)
            return torch.from_numpy(u).to(device=like.device, dtype=like.dtype)
        return rng.random(shape, dtype=np.float64 if like.dtype == np.float64 else np.float32)
    import torch

    return torch.rand(shape, generator=rng, dtype=like.dtype, device=like.device)


def _resolve_rng(rng, like):
    """A numpy or torch generator from ``rng`` (generator, int seed or None), for ``like``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if type(rng).__module__.startswith("torch") and type(rng).__name__ == "Generator":
        if not _is_torch(like):
            raise ValueError("rng is a torch.Generator but x is a numpy array; pass a numpy.random.Generator "
                             "(or an int seed) for numpy input.")
        import torch

        if torch.device(rng.device).type != like.device.type:
            raise ValueError(f"rng is a generator on {rng.device} but x is on {like.device}; "
                             f"create the generator on the tensor's device.")
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        if rng is not None and rng < 0:
            raise ValueError(f"rng as a seed must be a non-negative int, got {rng!r}.")
        if _is_torch(like):
            import torch

            gen = torch.Generator(device=like.device)
            gen.seed() if rng is None else gen.manual_seed(int(rng))
            return gen
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy.random.Generator, a torch.Generator, an int seed or None, "
                     f"got {type(rng).__name__}.")


def _poisson(x, n_steps: int, max_rate: float, rng):
    """Unchecked :func:`poisson_encode` (``rng`` already a generator)."""
    p = _present(x, n_steps) * max_rate
    return _cast(_uniform(rng, tuple(p.shape), p) < p, p)


def poisson_encode(x, n_steps: int, *, max_rate: float = 1.0, rng=None):
    r"""Rate-code intensities as Bernoulli spike trains (discrete-time Poisson process).

    Each feature fires independently at every simulation step with probability

    .. math:: P(s_t = 1) = x \cdot r_{max},

    the Bernoulli approximation of a Poisson process of rate :math:`x\,r_{max}/\Delta t` over one
    step :math:`\Delta t`. A spike is drawn as :math:`s_t = [u_t < x\,r_{max}]` with
    :math:`u_t \sim U[0, 1)`, so :math:`x = 0` never fires and :math:`x\,r_{max} = 1` fires at
    every step. The expected count over :math:`n` steps is :math:`n\,x\,r_{max}` (binomial).

    Parameters
    ----------
    x : ndarray or Tensor, shape (batch, features) or (batch, time, features)
        Intensities in [0, 1].
    n_steps : int
        Simulation steps per input (per input step for a sequence).
    max_rate : float, default 1.0
        Firing probability per step of an input of 1, in (0, 1]. For a peak rate
        :math:`f_{max}` (Hz) at time step :math:`\Delta t` (s): ``max_rate = f_max * dt``.
    rng : numpy.random.Generator, torch.Generator, int or None
        Source of randomness; an int seeds a new generator, None draws a fresh one from the
        operating system's entropy. A torch.Generator must live on the tensor's device and
        works only for tensors; a numpy Generator also works for tensors (drawn on the CPU
        and moved to the tensor's device), which makes numpy and torch inputs give the same
        spikes for the same seed. The global generators are never used.

    Returns
    -------
    ndarray or Tensor, shape (batch, n_steps, features) or (batch, time * n_steps, features)
        0/1 spikes in the dtype of ``x`` (float32 for integer input); sequence step ``t`` is
        shown at simulation steps ``t * n_steps ... (t + 1) * n_steps - 1``.

    Raises
    ------
    ValueError
        For ``x`` outside [0, 1], with NaN/inf, empty or of another rank; ``n_steps < 1``;
        ``max_rate`` outside (0, 1]; an unusable ``rng``.

    Examples
    --------
    >>> import numpy as np
    >>> s = poisson_encode(np.array([[0.0, 0.5, 1.0]]), 1000, rng=0)
    >>> s.shape, s[0].mean(0).round(1).tolist()
    ((1, 1000, 3), [0.0, 0.5, 1.0])
    """
    x = _as_array(x, "x")
    _check_rank(x, "x", (2, 3), "(batch, features) or (batch, time, features)")
    n_steps = check_positive_int(n_steps, "n_steps")
    max_rate = _check_number(max_rate, "max_rate", low=0.0, high=1.0)
    _check_values(x, "x", unit_interval=True)
    return _poisson(x, n_steps, max_rate, _resolve_rng(rng, x))


def latency_encode(x, n_steps: int, *, tau: float = 1.0, threshold: float = 0.01, linear: bool = False):
    r"""Time-to-first-spike code: one spike per feature, earlier for larger values.

    The logarithmic code is the time at which an RC circuit (a leaky integrator with time
    constant :math:`\tau`, in steps) charged from rest by a constant input :math:`x`,
    :math:`v(t) = x (1 - e^{-t/\tau})`, reaches the threshold :math:`\vartheta`:

    .. math:: t(x) = \tau \ln\frac{x}{x - \vartheta} \quad (x > \vartheta),

    and the linear code is :math:`t(x) = \tau (1 - x)` (:math:`x \ge \vartheta`). The spike is
    emitted at step :math:`\mathrm{round}(t)` (half to even) if that is below ``n_steps``;
    features below the threshold (and, for the logarithmic code, at it: :math:`t = \infty`)
    never spike. This is snntorch's ``spikegen.latency(x, num_steps, tau=tau,
    threshold=threshold, linear=linear, clip=True, bypass=True)`` (Eshraghian et al. 2023,
    section 3.2), batch first; its ``normalize`` option, which rescales by the largest time in
    the batch, is left out so that a sample's code does not depend on the rest of the batch. (The
    one difference: snntorch lets a value exactly at the threshold fire, at the time of
    :math:`\vartheta + 10^{-7}`.)

    Parameters
    ----------
    x : ndarray or Tensor, shape (batch, features) or (batch, time, features)
        Intensities in [0, 1].
    n_steps : int
        Steps of the coding window (per input step for a sequence).
    tau : float, default 1.0
        Time constant of the code, in steps (snntorch's default).
    threshold : float, default 0.01
        :math:`\vartheta`, in (0, 1).
    linear : bool, default False
        Linear instead of logarithmic code.

    Returns
    -------
    ndarray or Tensor, shape (batch, n_steps, features) or (batch, time * n_steps, features)
        0/1 spikes in the dtype of ``x`` (float32 for integer input); at most one spike per
        feature in each window of ``n_steps``.

    Examples
    --------
    >>> import numpy as np
    >>> s = latency_encode(np.array([[1.0, 0.5, 0.005]]), 10, tau=5.0, linear=True)
    >>> s.shape, first_spike(s).tolist()      # t = 5 (1 - x) = 0, 2.5 -> 2 (half to even), never
    ((1, 10, 3), [[0, 2, 10]])
    """
    x = _as_array(x, "x")
    _check_rank(x, "x", (2, 3), "(batch, features) or (batch, time, features)")
    n_steps = check_positive_int(n_steps, "n_steps")
    tau = _check_number(tau, "tau", low=0.0)
    threshold = _check_number(threshold, "threshold", low=0.0, high=1.0, high_open=True)
    _check_values(x, "x", unit_interval=True)
    xp = _namespace(x)
    if linear:
        fires = x >= threshold
        t = tau * (1 - x)
    else:
        fires = x > threshold
        safe = xp.where(fires, x, x * 0 + 1)       # no division by zero for the non-firing ones
        t = tau * xp.log(safe / (safe - threshold))
    step = xp.round(t)
    fires = fires & (step <= n_steps - 1)
    out = (_arange(n_steps, x)[:, None] == step[..., None, :]) & fires[..., None, :]  # (..., n_steps, F)
    return _cast(out.reshape(x.shape[0], -1, x.shape[-1]), x)


def _delta(x, threshold: float, off_spike: bool):
    """Unchecked :func:`delta_encode` on (batch, time, features)."""
    xp = _namespace(x)
    ref = x[:, 0] * 0
    on, off = [], []
    for t in range(x.shape[1]):
        d = x[:, t] - ref
        up, down = _cast(d >= threshold, x), _cast(d <= -threshold, x)
        ref = ref + threshold * (up - down)
        on.append(up)
        off.append(down)
    return xp.concatenate([xp.stack(on, 1), xp.stack(off, 1)], -1) if off_spike else xp.stack(on, 1)


def delta_encode(x, threshold: float, *, off_spike: bool = True):
    r"""Send-on-delta (delta-modulator) code: a spike whenever the signal has moved by the
    threshold since the last spike.

    Each feature keeps a reference level :math:`r` (starting at :math:`r_{-1} = 0`, as if the
    signal rested at 0 before the sequence) and at every step :math:`t`

    .. math::

        s^{on}_t = [x_t - r_{t-1} \ge \vartheta], \quad
        s^{off}_t = [x_t - r_{t-1} \le -\vartheta], \quad
        r_t = r_{t-1} + \vartheta\,(s^{on}_t - s^{off}_t),

    so :math:`\hat x_t = \vartheta \sum_{k \le t} (s^{on}_k - s^{off}_k) = r_t` reconstructs the
    signal as a staircase with :math:`|x_t - \hat x_t| < \vartheta` wherever the signal moves by
    at most :math:`\vartheta` per step (and, from rest, :math:`|x_0| < 2\vartheta`). At most one
    spike per channel and step: a faster change is followed at :math:`\vartheta` per step (hold
    each input step for several simulation steps to follow it). This is the asynchronous delta
    modulator of event-based sensors (Miskowicz 2006); snntorch's ``spikegen.delta`` compares
    consecutive samples instead, without a reference level.

    Parameters
    ----------
    x : ndarray or Tensor, shape (batch, time, features)
        The signals.
    threshold : float
        :math:`\vartheta > 0`, in the units of ``x``.
    off_spike : bool, default True
        Also return the OFF (decrease) channels. The reference level follows decreases either
        way; without OFF channels they are just not reported.

    Returns
    -------
    ndarray or Tensor, shape (batch, time, 2 * features) or (batch, time, features)
        0/1 spikes in the dtype of ``x`` (float32 for integer input): the ON channels of all
        features, then their OFF channels.

    Examples
    --------
    >>> import numpy as np
    >>> delta_encode(np.array([[[0.0], [1.0], [1.0], [0.5], [0.0]]]), 0.5)[0].T.tolist()
    [[0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0, 1.0]]
    """
    x = _as_array(x, "x")
    _check_rank(x, "x", (3,), "(batch, time, features)")
    threshold = _check_number(threshold, "threshold", low=0.0)
    _check_values(x, "x")
    return _delta(x, threshold, bool(off_spike))


# ----------------------------------------------------------------------------------------------
# decoders
# ----------------------------------------------------------------------------------------------
def _masked_sum(a, lengths):
    if lengths is None:
        return a.sum(1)
    m = _step_mask(lengths, a.shape[1], a)
    return (a * m[..., None]).sum(1)


def _masked_mean(a, lengths):
    if lengths is None:
        return a.mean(1)
    return _masked_sum(a, lengths) / _cast(lengths[:, None], a)


def _masked_max(a, lengths):
    if lengths is None:
        return _namespace(a).amax(a, axis=1)
    m = _step_mask(lengths, a.shape[1], a)[..., None]
    return _namespace(a).amax(_namespace(a).where(m, a, -math.inf), axis=1)


def _check_trace(a, name: str, lengths):
    a = _as_array(a, name)
    _check_rank(a, name, (3,), "(batch, time, neurons)")
    _check_values(a, name)
    if lengths is None:
        return a, None
    B, T = a.shape[0], a.shape[1]
    if _is_torch(a):
        import torch

        lens = torch.as_tensor(lengths, device=a.device)
        ok_kind = not (lens.is_floating_point() or lens.is_complex() or lens.dtype == torch.bool)
        host = lens.cpu().numpy()
    else:
        lens = np.asarray(lengths)
        ok_kind = lens.dtype.kind in "iu"
        host = lens
    if not ok_kind or lens.ndim != 1 or lens.shape[0] != B:
        raise ValueError(f"lengths must be 1-D integers of shape ({B},), one per sequence of {name}, "
                         f"got {lens.dtype} of shape {tuple(lens.shape)}.")
    if (host < 1).any() or (host > T).any():
        raise ValueError(f"lengths must lie in [1, {T}] (the time axis of {name}), got values in "
                         f"[{int(host.min())}, {int(host.max())}].")
    return a, lens


def spike_count(spikes, lengths=None):
    r"""Number of spikes of every neuron: :math:`c_n = \sum_{t < L} s_{t,n}`.

    Parameters
    ----------
    spikes : ndarray or Tensor, shape (batch, time, neurons)
    lengths : array of int, shape (batch,), optional
        Valid steps :math:`L` of each sequence of a padded batch (all steps by default).

    Returns
    -------
    ndarray or Tensor, shape (batch, neurons), in the dtype of ``spikes``
    """
    spikes, lengths = _check_trace(spikes, "spikes", lengths)
    return _masked_sum(spikes, lengths)


def membrane_mean(mem, lengths=None):
    r"""Time-averaged membrane potential: :math:`\bar u_n = \frac1L \sum_{t < L} u_{t,n}`.

    Parameters
    ----------
    mem : ndarray or Tensor, shape (batch, time, neurons)
    lengths : array of int, shape (batch,), optional
        Valid steps :math:`L` of each sequence (all steps by default).

    Returns
    -------
    ndarray or Tensor, shape (batch, neurons)
    """
    mem, lengths = _check_trace(mem, "mem", lengths)
    return _masked_mean(mem, lengths)


def membrane_max(mem, lengths=None):
    r"""Peak membrane potential over time: :math:`\hat u_n = \max_{t < L} u_{t,n}` (the
    max-over-time readout of Cramer et al. 2022, "The Heidelberg spiking data sets").

    Parameters
    ----------
    mem : ndarray or Tensor, shape (batch, time, neurons)
    lengths : array of int, shape (batch,), optional
        Valid steps :math:`L` of each sequence (all steps by default).

    Returns
    -------
    ndarray or Tensor, shape (batch, neurons)
    """
    mem, lengths = _check_trace(mem, "mem", lengths)
    return _masked_max(mem, lengths)


def first_spike(spikes, lengths=None):
    r"""Step of every neuron's first spike: :math:`\min\{t < L : s_{t,n} \ne 0\}`, or :math:`L`
    (the sequence length, ``time`` without ``lengths``) for a neuron that never fires.

    Parameters
    ----------
    spikes : ndarray or Tensor, shape (batch, time, neurons)
    lengths : array of int, shape (batch,), optional
        Valid steps :math:`L` of each sequence (all steps by default).

    Returns
    -------
    ndarray or Tensor of int64, shape (batch, neurons)

    Examples
    --------
    >>> import numpy as np
    >>> first_spike(np.array([[[0, 0], [1, 0], [1, 0]]]), lengths=[2]).tolist()
    [[1, 2]]
    """
    spikes, lengths = _check_trace(spikes, "spikes", lengths)
    fired = spikes != 0
    T = spikes.shape[1]
    if lengths is not None:
        fired = fired & _step_mask(lengths, T, spikes)[..., None]
        none = lengths[:, None]
    else:
        none = T
    if _is_torch(spikes):
        import torch

        first = torch.argmax(fired.to(torch.uint8), dim=1)    # the first maximum
        none = torch.as_tensor(none, device=spikes.device).expand_as(first)
        return torch.where(fired.any(1), first, none).to(torch.int64)
    first = np.argmax(fired, axis=1)
    return np.where(fired.any(1), first, none).astype(np.int64)
