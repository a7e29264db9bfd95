r"""Fixed-point emulation of a chip's arithmetic, post-training quantisation (PTQ) and
quantisation-aware fine-tuning (QAT) of spiking classifiers.

:func:`quantize` turns a fitted :class:`~neurorec.models.spiking.SpikingClassifier` into a
:class:`QuantizedSpikingClassifier`: the same network (same layers, same snntorch ``Leaky``
update order, reset and readout), whose forward pass runs in integer arithmetic with the bit
widths and the decay rule of a chip profile (a :class:`~neurorec.hardware.chips.ChipProfile`,
its name, or any dict/object with the fields ``weight_bits``, ``membrane_bits``,
``synapse_bits``, ``threshold_bits``, ``decay``, ``decay_bits``, ``name``). The integer engine
runs on numpy and on torch (CPU or CUDA) in int64 with bit-identical results.

Quantisation (per layer :math:`\ell`, :math:`b` = ``weight_bits``, :math:`q = 2^{b-1}-1`)
-----------------------------------------------------------------------------------------

.. math::

    s_\ell &= \max(|W^\ell|, |V^\ell|) / q
        \quad \text{(forward and recurrent weights share the scale: they add into one membrane)} \\
    \hat W^\ell &= \mathrm{clip}(\mathrm{round}(W^\ell / s_\ell), -q, q), \qquad
    \hat V^\ell = \mathrm{clip}(\mathrm{round}(V^\ell / s_\ell), -q, q) \\
    \lambda_\ell &= s_\ell\, s_{in,\ell} / 2^{k_\ell}
        \quad \text{(the value of one membrane LSB)} \\
    \hat\vartheta_\ell &= \mathrm{round}(\vartheta / \lambda_\ell), \qquad
    \hat b^\ell = \mathrm{clip}(\mathrm{round}(b^\ell / \lambda_\ell), \text{synapse range})

:math:`s_{in,\ell}` is the value of one unit of the layer's input: 1 for spikes; for the analog
``encoder="current"`` the input is quantised too, to ``input_bits``: unsigned
:math:`\hat x = \mathrm{round}(x (2^{B}-1))` for min-max scaled inputs in [0, 1]
(:math:`s_{in} = 1/(2^B-1)`), signed :math:`\hat x = \mathrm{clip}(\mathrm{round}(x/s_{in}),
\pm(2^{B-1}-1))` with :math:`s_{in} = r/(2^{B-1}-1)` otherwise (``input_range`` :math:`r`,
default 4 for z-scored inputs, i.e. clipped at 4 standard deviations).

:math:`k_\ell` is a per-layer left shift of the weighted input sum into the membrane (negative:
an arithmetic right shift, rounding towards :math:`-\infty`), the role of Xylo's
``weight_shift_in/rec/out`` (XyloSim, ``XyloLayer::deliver_spikes``: ``weight << weight_shift``)
and of Loihi's weight exponent and 6-bit activation shift (Lava, ``act_shift``): it lets 4- or
8-bit weights use the resolution of a 16- or 24-bit membrane. For a spiking layer it is the
largest :math:`k` with :math:`\hat\vartheta \le \min(2^{\text{threshold\_bits}-1}-1,
2^{\text{membrane\_bits}-1-h})`, so that the membrane holds :math:`\pm 2^h` thresholds
(``headroom_bits`` :math:`h`, default 4). For the non-spiking leaky-integrator readout it is the
largest :math:`k` for which the worst-case steady state
:math:`\max_i (\sum_j |\hat W_{ij}| + |b_i|/(s\,s_{in}))\, 2^k / (1-\beta_{eff})` fits both the
membrane and the synapse width, so the readout can never saturate.

Integer neuron (one step; all quantities int64; :math:`\mathrm{sat}_n` clips to
:math:`[-2^{n-1}, 2^{n-1}-1]`)
--------------------------------------------------------------------------------------------

.. math::

    I[t] &= \mathrm{sat}_{syn}\big(\mathrm{shift}_{k}(\hat W \hat s^{\ell-1}[t]
            + \hat V s^\ell[t-1]) + \hat b\big) \\
    R[t] &= [U[t-1] > \hat\vartheta] \\
    U[t] &= \mathrm{sat}_{mem}\big(D(U[t-1]) + I[t] - R[t]\,\hat\vartheta\big)
        \quad (\text{reset="zero"}: \mathrm{sat}_{mem}(D((1-R[t])U[t-1]) + I[t])) \\
    s[t] &= [U[t] > \hat\vartheta]

(the update order, delayed reset and strict threshold of the float model, snntorch ``Leaky``
with ``reset_delay=True``; see :mod:`neurorec.models.spiking.snn`). The readout integrates
:math:`U^o[t] = \mathrm{sat}_{mem}(D(U^o[t-1]) + I^o[t])`; its mean / maximum over the valid
steps times :math:`\lambda_o` are the class scores (spike counts for ``readout="spike_count"``).

The decay :math:`D` follows the profile's ``decay``:

- ``"bitshift"`` (Xylo): :math:`D(U) = U - \Delta`, :math:`\Delta = U \gg d`, and
  :math:`\Delta = 1` where :math:`U \gg d = 0` and :math:`U > 0` (the minimum decay of one LSB; for
  :math:`U < 0`, :math:`U \gg d \le -1`). This is XyloSim's ``decay()`` in
  ``xylosim/src/v2/cpp/XyloIAFNeuron.cpp`` (xylosim 0.1.3, the bit-exact simulator that
  ``rockpool.devices.xylo.syns61201.XyloSim`` wraps). The shift ("dash") is
  :math:`d = \mathrm{round}(\log_2(\tau_{mem}/\Delta t))`, clipped to :math:`[0, 2^{\text{decay\_bits}}-1]`,
  as rockpool's ``calc_bitshift_decay`` (``rockpool/nn/modules/torch/lif_bitshift_torch.py``,
  also ``rockpool/transform/torch_transform.py``); the effective decay factor is
  :math:`\beta_{eff} = 1 - 2^{-d}` (0.875 for :math:`\tau_{mem} = 10\,\Delta t`, against
  :math:`e^{-0.1} = 0.905`).
- ``"multiplicative"`` (Loihi): :math:`D(U) = \mathrm{sign}(U) \cdot ((|U| (2^{n} - \delta)) \gg n)`
  with :math:`n` = ``decay_bits`` (12 on Loihi) and :math:`\delta = \mathrm{round}(2^n (1-\beta))`,
  rounding the magnitude towards zero, as Lava's bit-accurate Loihi LIF
  (``lava/proc/lif/models.py``, ``AbstractPyLifModelFixed.subthr_dynamics``: ``decayed_volt =
  sign(v * (4096 - dv)) * (|v * (4096 - dv)| >> 12)``; Davies et al. 2018, IEEE Micro 38(1):
  12-bit decay constants); :math:`\beta_{eff} = (2^n - \delta)/2^n`.

Differences from the chips, on purpose or not modelled
-------------------------------------------------------

- The neuron keeps the float model's update order: the reset by subtraction is applied one step
  after the spike (snntorch ``reset_delay=True``), at most one spike per step, spike when
  :math:`U > \hat\vartheta`. XyloSim subtracts the threshold in the same step, spikes while
  :math:`U \ge \vartheta` (up to 31 spikes per step); Lava's Loihi LIF resets to zero.
- The float model has no synaptic current state, so none is emulated: the synaptic register
  holds this step's input, saturated at ``synapse_bits``. On Xylo the synaptic current decays
  (by at least ``dash_syn = 1``) before it reaches the membrane, and Loihi's current has its own
  decay.
- Saturation is applied once per step to the summed input and once to the membrane update;
  XyloSim saturates after every single synaptic event (``safe_add``), so results differ only
  when a partial sum leaves the range. Lava wraps Loihi's 24-bit current on overflow instead of
  saturating it.
- Biases are rounded to membrane LSBs (clipped at ``synapse_bits``); Loihi stores a 13-bit
  mantissa with a 3-bit exponent.

Quantisation-aware fine-tuning (:meth:`QuantizedSpikingClassifier.fine_tune`) trains the float
weights through a torch graph that computes this same integer network on float tensors:
weights (and biases) are fake-quantised with the straight-through estimator
(:math:`\partial\,\mathrm{round}(x)/\partial x := 1`; Bengio, Léonard & Courville 2013), the
membrane is kept on the LSB grid, decayed by the exact integer rule :math:`D` in the forward
pass (gradient :math:`\beta_{eff}`), saturated by clamping, reset and thresholded as above, the
spike's derivative replaced by the model's surrogate. With spike inputs its forward pass equals
the integer engine's up to float rounding (exactly in float64). The integer model is re-derived
from the fine-tuned weights.

References
----------
M. Davies et al. (2018), "Loihi: a neuromorphic manycore processor with on-chip learning",
IEEE Micro 38(1). SynSense, rockpool 3.1 and xylosim 0.1.3 (Xylo SYNS61201 simulation). Intel,
Lava (``lava-nc/lava``), ``PyLifModelBitAcc``. B. Jacob et al. (2018), "Quantization and
training of neural networks for efficient integer-arithmetic-only inference", CVPR (max-abs
scale, fake quantisation). Y. Bengio, N. Léonard & A. Courville (2013), "Estimating or
propagating gradients through stochastic neurons for conditional computation", arXiv:1308.3432
(straight-through estimator).
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from neurorec import _params as _P
from neurorec._validation import check_labels, check_sequences
from neurorec.backends.ops import require
from neurorec.models.spiking import coding
from neurorec.models.spiking.snn import SpikingClassifier

if TYPE_CHECKING:
    from neurorec.hardware.fixed_point_network import QuantizedNetwork

__all__ = ["quantize", "QuantizedSpikingClassifier", "arithmetic", "decay_constant", "int_decay", "SUPPORTED_MODELS",
           "DECAY_RULES"]

#: Model classes :func:`quantize` converts (a ``Network`` through
#: :func:`neurorec.hardware.fixed_point_network.quantize_network`).
SUPPORTED_MODELS = ("SpikingClassifier", "Network")
#: Profile ``decay`` values the integer engine implements.
DECAY_RULES = ("bitshift", "multiplicative")
_FIELDS = ("name", "weight_bits", "membrane_bits", "synapse_bits", "threshold_bits", "decay", "decay_bits")
_CHUNK = 256
_EXACT = 2.0 ** 53          # integer sums below this are exact in float64


# ---------------------------------------------------------------------------------------------
# the profile's arithmetic
# ---------------------------------------------------------------------------------------------
def _field(profile, name):
    if isinstance(profile, dict):
        return profile.get(name)
    return getattr(profile, name, None)


def _check_bits(value, name: str, low: int, high: int, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= int(value) <= high:
        raise ValueError(f"{name} must be an int between {low} and {high}{why}, got {value!r}.")
    return int(value)


def arithmetic(profile, weight_bits: int | None = None) -> dict:
    """The integer arithmetic a profile asks for, as a plain (JSON-able) dict.

    Parameters
    ----------
    profile : str, ChipProfile, dict or object
        A profile name (read with :func:`neurorec.hardware.chips.load_profile`) or anything with
        the fields ``weight_bits``, ``membrane_bits``, ``synapse_bits``, ``threshold_bits``,
        ``decay``, ``decay_bits`` and ``name`` (as attributes or dict keys).
    weight_bits : int, optional
        Overrides the profile's weight width.

    Returns
    -------
    dict
        Those seven keys: ``synapse_bits`` and ``threshold_bits`` default to ``membrane_bits``
        where the profile leaves them empty. ``threshold_bits`` is read as a signed width
        (largest threshold :math:`2^{n-1}-1`), which is conservative for an unsigned threshold
        mantissa such as Loihi's 17-bit ``vth`` (Lava: ``vth`` unsigned 17 bits, shifted left by
        6). A profile with ``decay="exact"`` and ``decay_bits`` is run as a multiplicative decay
        with that many fraction bits.

    Raises
    ------
    ValueError
        A MAC baseline (``kind="mac"``, e.g. ``"cmos45"``) or a profile with neither
        ``weight_bits`` nor ``membrane_bits`` (the message lists the packaged neuromorphic profiles
        the integer engine can run), a bit width missing or out of range, or a decay rule the
        integer engine does not implement.
    """
    if isinstance(profile, str):
        from neurorec.hardware.chips import load_profile

        profile = load_profile(profile)
    if profile is None:
        raise ValueError("profile is required: a chip profile name (e.g. 'xylo', 'loihi2'), a ChipProfile, or a "
                         "dict with weight_bits, membrane_bits, synapse_bits, threshold_bits, decay, decay_bits.")
    name = _field(profile, "name")
    label = f"profile {name!r}" if name else "the profile"
    kind = _field(profile, "kind")
    if kind == "mac" or (kind is not None and _field(profile, "weight_bits") is None
                         and _field(profile, "membrane_bits") is None):
        what = ("is a MAC baseline for classical models, not a chip with integer neuron arithmetic" if kind == "mac"
                else "gives no integer neuron arithmetic (its weight_bits and membrane_bits are unknown)")
        raise ValueError(f"{name or 'the profile'} {what}; quantize for one of: "
                         f"{', '.join(_integer_profiles()) or 'no packaged profile'}.")
    return _arithmetic(profile, name, label, weight_bits)


def _integer_profiles() -> list:
    """Packaged neuromorphic profiles whose fields give the integer engine's arithmetic."""
    from neurorec.hardware.chips import load_profile, profile_names

    names = []
    for n in profile_names():
        p = load_profile(n)
        if p.kind != "neuromorphic":
            continue
        try:
            _arithmetic(p, n, n, None)
        except ValueError:
            continue
        names.append(n)
    return names


def _arithmetic(profile, name, label: str, weight_bits) -> dict:
    wb = weight_bits if weight_bits is not None else _field(profile, "weight_bits")
    if wb is None:
        raise ValueError(f"{label} gives no weight_bits; pass weight_bits=... to quantize.")
    wb = _check_bits(wb, "weight_bits", 2, 16, " (signed integer weights need at least 2 bits)")
    mb = _field(profile, "membrane_bits")
    if mb is None:
        raise ValueError(f"{label} gives no membrane_bits (the width of the integer membrane potential); "
                         f"the integer engine needs it.")
    mb = _check_bits(mb, "membrane_bits", 4, 48)
    sb = _field(profile, "synapse_bits")
    sb = mb if sb is None else _check_bits(sb, "synapse_bits", 4, 48)
    tb = _field(profile, "threshold_bits")
    tb = mb if tb is None else _check_bits(tb, "threshold_bits", 2, 48)
    decay = _field(profile, "decay")
    db = _field(profile, "decay_bits")
    if decay == "exact" and db is not None:
        decay = "multiplicative"        # an exact decay held in decay_bits fraction bits
    if decay not in DECAY_RULES:
        raise ValueError(f"{label} has decay={decay!r}; the integer engine implements {DECAY_RULES} (a "
                         f"SpikingClassifier's membrane leaks, so 'none' cannot run it; 'exact' needs decay_bits).")
    if decay == "multiplicative" and db is None:
        raise ValueError(f"{label} has a multiplicative decay but no decay_bits (its fraction bits).")
    if db is not None:
        db = _check_bits(db, "decay_bits", 1, 14)
    return {"name": None if name is None else str(name), "weight_bits": wb, "membrane_bits": mb,
            "synapse_bits": sb, "threshold_bits": tb, "decay": decay, "decay_bits": db}


def decay_constant(ar: dict, tau_mem: float, dt: float) -> tuple[int, float]:
    r"""``(parameter, beta_eff)`` of the integer decay: the shift :math:`d` (bitshift) or the
    multiplier :math:`2^n - \delta` (multiplicative), and the decay factor it implements."""
    if ar["decay"] == "bitshift":
        dash = max(0, int(round(math.log2(tau_mem / dt))))
        if ar["decay_bits"] is not None:
            dash = min(dash, 2 ** ar["decay_bits"] - 1)
        return dash, 1.0 - 2.0 ** -dash
    n = ar["decay_bits"]
    delta = min(max(int(round(2 ** n * (1.0 - math.exp(-dt / tau_mem)))), 0), 2 ** n)
    return 2 ** n - delta, (2 ** n - delta) / 2 ** n


def _limits(bits: int) -> tuple[int, int]:
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


class _Layer(NamedTuple):
    """Fixed-point plan of one layer (python numbers)."""

    scale: float        # s: float value of one weight unit
    in_scale: float     # s_in: float value of one input unit
    shift: int          # k
    lsb: float          # lambda = s * s_in / 2**k
    threshold: int      # theta_hat


def _plan(weights: dict, n_hidden: int, threshold: float, ar: dict, beta_eff: float, in_scale: float,
          headroom: int, readout: str) -> list[_Layer]:
    """The fixed-point plan of every layer (hidden layers, then the output) from float weights."""
    q = 2 ** (ar["weight_bits"] - 1) - 1
    mem_hi = _limits(ar["membrane_bits"])[1]
    syn_hi = _limits(ar["synapse_bits"])[1]
    th_limit = min(2 ** (ar["threshold_bits"] - 1) - 1, 2 ** max(ar["membrane_bits"] - 1 - headroom, 1))
    plans = []
    for layer in range(n_hidden + 1):
        name = f"hidden.{layer}" if layer < n_hidden else "output"
        mats = [weights[f"{name}.weight"]] + ([weights[f"recurrent.{layer}.weight"]]
                                             if f"recurrent.{layer}.weight" in weights else [])
        m = max(float(np.max(np.abs(a))) if a.size else 0.0 for a in mats)
        s = m / q if m > 0 else 1.0
        s_in = in_scale if layer == 0 else 1.0
        unit = s * s_in
        if layer == n_hidden and readout != "spike_count" and beta_eff < 1.0:
            # the readout never saturates: worst-case steady state of the leaky integrator
            w_int = np.clip(np.rint(weights[f"{name}.weight"] / s), -q, q)
            bound = float(np.max(np.abs(w_int).sum(1) + np.abs(weights[f"{name}.bias"]) / unit))
            k = math.floor(math.log2(min(mem_hi * (1.0 - beta_eff), syn_hi) / max(bound, 1e-300)))
        else:
            k = math.floor(math.log2(th_limit * unit / threshold))
            while round(threshold * 2.0 ** k / unit) > th_limit:
                k -= 1
        k = max(min(k, 62), -62)
        lsb = unit / 2.0 ** k
        plans.append(_Layer(s, s_in, k, lsb, max(1, int(round(threshold / lsb)))))
    return plans


def _int_params(weights: dict, plans: list[_Layer], ar: dict) -> dict:
    """Integer weights (int32, weight units) and biases (int64, membrane LSBs)."""
    q = 2 ** (ar["weight_bits"] - 1) - 1
    lo, hi = _limits(ar["synapse_bits"])
    out = {}
    n = len(plans) - 1
    for layer, p in enumerate(plans):
        name = f"hidden.{layer}" if layer < n else "output"
        out[f"{name}.weight"] = np.clip(np.rint(weights[f"{name}.weight"] / p.scale), -q, q).astype(np.int32)
        out[f"{name}.bias"] = np.clip(np.rint(weights[f"{name}.bias"].astype(np.float64) / p.lsb), lo, hi
                                      ).astype(np.int64)
        if f"recurrent.{layer}.weight" in weights:
            out[f"recurrent.{layer}.weight"] = np.clip(np.rint(weights[f"recurrent.{layer}.weight"] / p.scale),
                                                       -q, q).astype(np.int32)
    return out


# ---------------------------------------------------------------------------------------------
# the integer engine (numpy or torch, int64)
# ---------------------------------------------------------------------------------------------
def _clip(a, lo: int, hi: int):
    return a.clamp(lo, hi) if coding._is_torch(a) else np.clip(a, lo, hi)


def _shift(z, k: int):
    """``z * 2**k`` for k >= 0, the arithmetic right shift ``z >> -k`` (floor) for k < 0."""
    return z * (1 << k) if k >= 0 else z >> (-k)


def int_decay(U, rule: str, param: int, decay_bits: int | None):
    """The decay :math:`D(U)` of the module docstring on an int64 array or tensor (or a Python int)."""
    if isinstance(U, numbers.Integral):
        if rule == "bitshift":
            dv = U >> param
            return U - (1 if dv == 0 and U > 0 else dv)
        return (1 if U > 0 else -1 if U < 0 else 0) * ((abs(U) * param) >> decay_bits)
    xp = coding._namespace(U)
    if rule == "bitshift":
        dv = U >> param
        return U - xp.where((dv == 0) & (U > 0), 1, dv)
    return xp.sign(U) * ((xp.abs(U) * param) >> decay_bits)


def _int_matmul(h, W):
    """Exact integer ``h @ W.T`` via float64 products (every partial sum is below 2**53)."""
    if coding._is_torch(h):
        import torch

        return torch.matmul(h.to(torch.float64), W.to(torch.float64).T).round().to(torch.int64)
    return np.rint(h.astype(np.float64) @ W.astype(np.float64).T).astype(np.int64)


class _Engine(NamedTuple):
    rule: str
    param: int
    decay_bits: int | None
    mem: tuple[int, int]
    syn: tuple[int, int]
    reset: str
    readout: str


def _int_lif(z, b, V, k: int, thr: int, eng: _Engine, membranes: list | None = None):
    """Spikes (T, B, N) int64 of an integer LIF layer from the weighted input sums ``z`` (T, B, N);
    ``membranes`` receives the integer membrane of every step (the value compared with ``thr``)."""
    xp = coding._namespace(z)
    U = s = xp.zeros_like(z[0])
    out = []
    for t in range(z.shape[0]):
        zt = z[t] if V is None else z[t] + _int_matmul(s, V)
        current = _clip(_shift(zt, k) + b, *eng.syn)
        r = (U > thr)
        if eng.reset == "subtract":
            U = _clip(int_decay(U, eng.rule, eng.param, eng.decay_bits) + current - r * thr, *eng.mem)
        else:
            U = _clip(int_decay(xp.where(r, 0, U), eng.rule, eng.param, eng.decay_bits) + current, *eng.mem)
        s = (U > thr) * 1
        out.append(s)
        if membranes is not None:
            membranes.append(U)
    return xp.stack(out)


def _int_integrate(z, b, k: int, eng: _Engine):
    """Membrane (T, B, N) int64 of the integer leaky-integrator readout."""
    xp = coding._namespace(z)
    U = xp.zeros_like(z[0])
    out = []
    for t in range(z.shape[0]):
        U = _clip(int_decay(U, eng.rule, eng.param, eng.decay_bits) + _clip(_shift(z[t], k) + b, *eng.syn), *eng.mem)
        out.append(U)
    return xp.stack(out)


def _int_forward(w: dict, plans: list[_Layer], eng: _Engine, x, lengths, hold: int, record: bool = False):
    """Integer network on int64 numpy arrays or torch tensors.

    ``x``: (B, S, F) int64 encoded input; returns float64 scores (B, n_classes) (readout membrane
    times its LSB, or spike counts) and the spike counts per presynaptic population."""
    xp = coding._namespace(x)
    sim_lengths = lengths * hold
    counts = [coding._masked_sum((x != 0) * 1, lengths) * hold] if record else []
    h = xp.swapaxes(x, 0, 1)
    n = len(plans) - 1
    for layer in range(n):
        z = _int_matmul(h, w[f"hidden.{layer}.weight"])
        if layer == 0 and hold > 1:
            z = z.repeat_interleave(hold, dim=0) if coding._is_torch(z) else np.repeat(z, hold, axis=0)
        h = _int_lif(z, w[f"hidden.{layer}.bias"], w.get(f"recurrent.{layer}.weight"), plans[layer].shift,
                     plans[layer].threshold, eng)
        if record:
            counts.append(coding._masked_sum(xp.swapaxes(h, 0, 1), sim_lengths))
    z = _int_matmul(h, w["output.weight"])
    p = plans[-1]
    if eng.readout == "spike_count":
        spikes = _int_lif(z, w["output.bias"], None, p.shift, p.threshold, eng)
        c = coding._masked_sum(xp.swapaxes(spikes, 0, 1), sim_lengths)
        return (c.to(xp.float64) if coding._is_torch(c) else c.astype(np.float64)), counts
    u = xp.swapaxes(_int_integrate(z, w["output.bias"], p.shift, eng), 0, 1)       # (B, T, N)
    mask = coding._step_mask(sim_lengths, u.shape[1], u)[..., None]
    if eng.readout == "membrane_mean":
        total = (u * mask).sum(1)
        if coding._is_torch(u):
            return total.to(xp.float64) / sim_lengths[:, None].to(xp.float64) * p.lsb, counts
        return total.astype(np.float64) / sim_lengths[:, None].astype(np.float64) * p.lsb, counts
    peak = xp.where(mask, u, eng.mem[0]).amax(1) if coding._is_torch(u) else np.where(mask, u, eng.mem[0]).max(1)
    return (peak.to(xp.float64) if coding._is_torch(peak) else peak.astype(np.float64)) * p.lsb, counts


def _int_trace(w: dict, plans: list[_Layer], eng: _Engine, x: np.ndarray, lengths: np.ndarray, hold: int):
    """:func:`_int_forward` on numpy, keeping every layer's spikes and membranes (in float units:
    integer membrane x the layer's LSB), batch first, the steps after each sequence zeroed."""
    T = x.shape[1] * hold
    valid = (np.arange(T)[None, :] < (lengths * hold)[:, None])[..., None]

    def batch_first(a, lsb=1.0):
        return np.swapaxes(np.asarray(a), 0, 1) * valid * lsb

    spikes = {"input": batch_first(np.repeat(np.swapaxes(x, 0, 1), hold, axis=0))}
    states = {}
    h = np.swapaxes(x, 0, 1)
    n = len(plans) - 1
    for layer in range(n):
        z = _int_matmul(h, w[f"hidden.{layer}.weight"])
        if layer == 0 and hold > 1:
            z = np.repeat(z, hold, axis=0)
        mem: list = []
        h = _int_lif(z, w[f"hidden.{layer}.bias"], w.get(f"recurrent.{layer}.weight"), plans[layer].shift,
                     plans[layer].threshold, eng, membranes=mem)
        spikes[f"hidden{layer}"] = batch_first(h).astype(np.int8)
        states[(f"hidden{layer}", "v")] = batch_first(np.stack(mem), plans[layer].lsb)
    z = _int_matmul(h, w["output.weight"])
    p = plans[-1]
    if eng.readout == "spike_count":
        mem = []
        spikes["output"] = batch_first(_int_lif(z, w["output.bias"], None, p.shift, p.threshold, eng,
                                                membranes=mem)).astype(np.int8)
        states[("output", "v")] = batch_first(np.stack(mem), p.lsb)
    else:
        states[("output", "v")] = batch_first(_int_integrate(z, w["output.bias"], p.shift, eng), p.lsb)
    return spikes, states


# ---------------------------------------------------------------------------------------------
# the quantisation-aware float graph (torch)
# ---------------------------------------------------------------------------------------------
def _ste_round(x):
    return x + (x.round() - x).detach()


def _qat_forward(params: dict, plans: list[_Layer], eng: _Engine, ar: dict, spec, x, lengths, hold: int):
    """The integer network computed on float tensors, differentiable in the float weights
    (straight-through rounding), as described in the module docstring. Returns logits (B, C)."""
    import torch

    from neurorec.backends.fused_lif import spike

    q = 2 ** (ar["weight_bits"] - 1) - 1
    n = len(plans) - 1
    sim_lengths = lengths * hold
    h = x.swapaxes(0, 1)

    beta = _eng_beta(eng)

    def decayed(m, lsb):
        """beta_eff * m in the backward pass, the exact integer decay D in the forward pass."""
        U = (m.detach().to(torch.float64) / lsb).round()
        if eng.rule == "bitshift":
            dv = torch.floor(U / 2.0 ** eng.param)
            D = U - torch.where((dv == 0) & (U > 0), torch.ones_like(dv), dv)
        else:
            D = torch.sign(U) * torch.floor(U.abs() * eng.param / 2.0 ** eng.decay_bits)
        lin = beta * m
        return lin + ((D * lsb).to(m.dtype) - lin).detach()

    def shifted(z, k):
        """shift_k of an integer-valued float tensor (floor for k < 0)."""
        y = z * 2.0 ** k
        return y if k >= 0 else y + (torch.floor(y.detach()) - y.detach())

    def snap(m, lsb):
        """Back onto the LSB grid (straight through)."""
        return m + ((m.detach() / lsb).round() * lsb - m.detach())

    last = None
    for layer in range(n + 1):
        p = plans[layer]
        name = f"hidden.{layer}" if layer < n else "output"
        W = torch.clamp(_ste_round(params[f"{name}.weight"] / p.scale), -q, q)
        b = torch.clamp(_ste_round(params[f"{name}.bias"] / p.lsb), *eng.syn)
        V = params.get(f"recurrent.{layer}.weight")
        if V is not None:
            V = torch.clamp(_ste_round(V / p.scale), -q, q)
        z = torch.matmul(h, W.T)
        if layer == 0 and hold > 1:
            z = z.repeat_interleave(hold, dim=0)
        lo, hi = eng.mem[0] * p.lsb, eng.mem[1] * p.lsb
        thr = p.threshold * p.lsb
        spiking = layer < n or eng.readout == "spike_count"
        m = s = torch.zeros_like(z[0])
        out = []
        for t in range(z.shape[0]):
            zt = z[t] if V is None else z[t] + torch.matmul(s, V.T)
            current = torch.clamp(shifted(zt, p.shift) + b, *eng.syn) * p.lsb
            if not spiking:
                m = snap(torch.clamp(decayed(m, p.lsb) + current, lo, hi), p.lsb)
                out.append(m)
                continue
            r = (m > thr).to(m.dtype).detach()
            if eng.reset == "subtract":
                m = decayed(m, p.lsb) + current - r * thr
            else:
                m = decayed(m * (1 - r), p.lsb) + current
            m = snap(torch.clamp(m, lo, hi), p.lsb)
            s = spike(m - thr, spec.surrogate, spec.alpha)
            out.append(s)
        h = torch.stack(out)
        if layer == n:
            last = h.swapaxes(0, 1)             # (B, T, C): output spikes or membrane
    if eng.readout == "spike_count":
        return coding._masked_sum(last, sim_lengths)
    if eng.readout == "membrane_mean":
        return coding._masked_mean(last, sim_lengths)
    return coding._masked_max(last, sim_lengths)


def _eng_beta(eng: _Engine) -> float:
    """The effective decay factor of an engine's rule."""
    if eng.rule == "bitshift":
        return 1.0 - 2.0 ** -eng.param
    return eng.param / 2.0 ** eng.decay_bits


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
class QuantizedSpikingClassifier(SpikingClassifier):
    r""":class:`~neurorec.models.spiking.SpikingClassifier` whose inference runs in a chip's integer
    arithmetic (see the module docstring for the equations and their sources).

    Usually made by :func:`quantize` from a fitted classifier. Constructed directly it is a full
    neurorec model: :meth:`fit` trains the float network with the
    :class:`~neurorec.models.spiking.SpikingClassifier` hyperparameters, quantises it (PTQ) and,
    with ``qat_epochs > 0``, fine-tunes it quantisation-aware.

    It follows :class:`~neurorec.models.spiking.SpikingClassifier`'s scikit-learn conventions: a
    2-D ``X`` is a table whose rows are one-step sequences, labels may be any sortable hashable
    values (strings included), :meth:`predict_proba` is the softmax of the integer network's
    scores and a binary :meth:`decision_function` has shape ``(n_samples,)``. Every
    hyperparameter (these and the float network's) is checked at :meth:`fit` and when a file
    is loaded.

    Parameters
    ----------
    profile : str or dict
        The chip profile: a name for :func:`neurorec.hardware.chips.load_profile`, or a dict with
        ``weight_bits``, ``membrane_bits``, ``synapse_bits``, ``threshold_bits``, ``decay``
        (``"bitshift"`` or ``"multiplicative"``), ``decay_bits`` and ``name``.
    weight_bits : int or None, default None
        Signed weight width (2-16); None: the profile's.
    input_bits : int, default 8
        Width of the quantised analog input (``encoder="current"`` only; spikes are 0/1).
    input_range : float or None, default None
        Clipping range of signed analog inputs (``normalize="standard"``: default 4.0 standard
        deviations; ``normalize=None``: required). Min-max scaled inputs use [0, 1].
    headroom_bits : int, default 4
        The membrane of a spiking layer holds :math:`\pm 2^{h}` thresholds.
    qat_epochs : int, default 0
        Epochs of quantisation-aware fine-tuning after the float training in :meth:`fit`.
    qat_lr : float, default 5e-4
        Learning rate of the fine-tuning.
    hidden, tau_mem, dt, threshold, reset, encoder, epochs, seed
        These and the other parameters of :class:`~neurorec.models.spiking.SpikingClassifier`,
        as there (they describe the float network).

    Attributes
    ----------
    arithmetic_ : dict
        The profile's arithmetic used (bit widths, decay rule) plus ``decay_param`` (the shift or
        the multiplier) and ``beta_eff``.
    int_weights_ : dict of str to int ndarray
        ``hidden.{l}.weight``, ``recurrent.{l}.weight``, ``output.weight`` (int32, in weight units)
        and the biases (int64, in membrane LSBs).
    weight_scale_, state_scale_ : ndarray of float
        Per layer (hidden layers, then the output): :math:`s_\ell` and the membrane LSB
        :math:`\lambda_\ell`.
    layer_shift_, int_threshold_ : ndarray of int
        Per layer: :math:`k_\ell` and :math:`\hat\vartheta_\ell`.
    input_scale_ : float
        :math:`s_{in}` of the first layer (1.0 for spike inputs).
    weights_ : dict
        The float weights the integer ones were derived from (fine-tuned ones after
        :meth:`fine_tune`).
    qat_history_ : dict
        The fine-tuning history (after :meth:`fine_tune`).
    """

    def __init__(self, profile=None, weight_bits: int | None = None, input_bits: int = 8,
                 input_range: float | None = None, headroom_bits: int = 4, qat_epochs: int = 0,
                 qat_lr: float = 5e-4, hidden=(128,), tau_mem: float = 10.0, dt: float = 1.0,
                 threshold: float = 1.0, reset: str = "subtract", recurrent: bool = False, surrogate: str = "atan",
                 surrogate_alpha: float | None = None, encoder: str = "current", delta_threshold: float = 0.1,
                 input_mode: str = "sequence", n_steps: int = 25, steps_per_input: int = 1,
                 readout: str = "membrane_mean", normalize: str | None = "minmax", optimizer: str = "adam",
                 lr: float = 2e-3, momentum: float = 0.9, weight_decay: float = 0.0, lr_schedule: str | None = None,
                 epochs: int | None = 30, min_steps: int = 1000, batch_size: int = 64,
                 clip_norm: float | None = None, early_stopping: bool = True,
                 patience: int = 5, validation_fraction: float = 0.1, min_holdout: int = 20, monitor: str = "loss",
                 checkpoint: str | None = None, progress: bool = False, backend: str = "torch", device: str = "cpu",
                 dtype: str = "float32", seed: int | None = None):
        super().__init__(hidden=hidden, tau_mem=tau_mem, dt=dt, threshold=threshold, reset=reset,
                         recurrent=recurrent, surrogate=surrogate, surrogate_alpha=surrogate_alpha, encoder=encoder,
                         delta_threshold=delta_threshold, input_mode=input_mode, n_steps=n_steps,
                         steps_per_input=steps_per_input, readout=readout, normalize=normalize, optimizer=optimizer,
                         lr=lr, momentum=momentum, weight_decay=weight_decay, lr_schedule=lr_schedule, epochs=epochs,
                         min_steps=min_steps,
                         batch_size=batch_size, clip_norm=clip_norm, early_stopping=early_stopping,
                         patience=patience, validation_fraction=validation_fraction, min_holdout=min_holdout,
                         monitor=monitor,
                         checkpoint=checkpoint, progress=progress, backend=backend, device=device, dtype=dtype,
                         seed=seed)
        self.profile = profile
        self.weight_bits = weight_bits
        self.input_bits = input_bits
        self.input_range = input_range
        self.headroom_bits = headroom_bits
        self.qat_epochs = qat_epochs
        self.qat_lr = qat_lr

    _param_spec = {
        **SpikingClassifier._param_spec,
        "profile": _P.Any(),            # a profile name, path or ChipProfile: checked by arithmetic()
        "weight_bits": _P.NoneOK() | _P.Int(2, 16),     # None: the profile's
        "input_bits": _P.Int(2, 16), "input_range": _P.NoneOK() | _P.Real(0, closed="neither"),
        "headroom_bits": _P.Int(0, 16), "qat_epochs": _P.Int(0), "qat_lr": _P.Real(0, closed="neither"),
    }

    def _validate_params(self) -> None:
        """The float network's checks, then the quantisation's (profile, bit widths, input range),
        so that :meth:`fit` and :func:`neurorec.load` refuse the same values."""
        super()._validate_params()
        try:
            self._check_qparams()
        except _P.ParameterError:
            raise
        except ValueError as exc:
            raise _P.ParameterError(f"QuantizedSpikingClassifier(profile={self.profile!r}, weight_bits="
                                    f"{self.weight_bits!r}) is invalid: {exc}") from None

    # ------------------------------------------------------------------ quantisation
    def _check_qparams(self) -> dict:
        ar = arithmetic(self.profile, self.weight_bits)
        _check_bits(self.input_bits, "input_bits", 2, 16)
        _check_bits(self.headroom_bits, "headroom_bits", 0, 16)
        if isinstance(self.qat_epochs, bool) or not isinstance(self.qat_epochs, numbers.Integral) \
                or self.qat_epochs < 0:
            raise ValueError(f"qat_epochs must be a non-negative int, got {self.qat_epochs!r}.")
        coding._check_number(self.qat_lr, "qat_lr", low=0.0)
        if self.input_range is not None:
            coding._check_number(self.input_range, "input_range", low=0.0)
        if self.encoder == "current" and self.normalize is None and self.input_range is None:
            raise ValueError("encoder='current' with normalize=None feeds raw analog values: pass input_range "
                             "(the clipping range of the quantised input).")
        return ar

    def _input_scale(self) -> float:
        if self.encoder != "current":
            return 1.0
        if self._normalization() == "minmax":
            return 1.0 / (2 ** self.input_bits - 1)
        r = 4.0 if self.input_range is None else float(self.input_range)
        return r / (2 ** (self.input_bits - 1) - 1)

    def _engine(self) -> _Engine:
        a = self.arithmetic_
        return _Engine(a["decay"], int(a["decay_param"]), a["decay_bits"], _limits(a["membrane_bits"]),
                       _limits(a["synapse_bits"]), self.reset, self.readout)

    def _plans_for(self, weights: dict) -> list[_Layer]:
        a = self.arithmetic_
        return _plan(weights, len(self._hidden_sizes()), float(self.threshold), a, a["beta_eff"],
                     self.input_scale_, int(self.headroom_bits), self.readout)

    def _quantize_weights(self) -> None:
        """Derive the integer model from ``weights_`` (PTQ)."""
        ar = self._check_qparams()
        param, beta = decay_constant(ar, float(self.tau_mem), float(self.dt))
        self.arithmetic_ = {**ar, "decay_param": int(param), "beta_eff": float(beta)}
        self.input_scale_ = float(self._input_scale())
        w = {k: np.asarray(v, dtype=np.float64) for k, v in self.weights_.items()}
        plans = self._plans_for(w)
        ints = _int_params(w, plans, self.arithmetic_)
        q = 2 ** (ar["weight_bits"] - 1) - 1
        x_max = 1.0 if self.input_scale_ == 1.0 else (2 ** self.input_bits)
        for key, v in ints.items():
            if key.endswith(".weight") and v.shape[1] * q * max(x_max, 1.0) >= _EXACT:
                raise ValueError(f"{key} has {v.shape[1]} inputs: integer sums could exceed 2**53 and lose exactness.")
        self.int_weights_ = ints
        self.__dict__.pop("_qcache", None)
        self.weight_scale_ = np.array([p.scale for p in plans])
        self.state_scale_ = np.array([p.lsb for p in plans])
        self.layer_shift_ = np.array([p.shift for p in plans], dtype=np.int64)
        self.int_threshold_ = np.array([p.threshold for p in plans], dtype=np.int64)

    def _plans(self) -> list[_Layer]:
        return [_Layer(float(s), float(self.input_scale_ if i == 0 else 1.0), int(k), float(lsb), int(th))
                for i, (s, k, lsb, th) in enumerate(zip(self.weight_scale_, self.layer_shift_, self.state_scale_,
                                                        self.int_threshold_, strict=True))]

    def fit(self, X, y, X_val=None, y_val=None) -> QuantizedSpikingClassifier:
        """Train the float network (as :meth:`SpikingClassifier.fit`), quantise it, and fine-tune it
        quantisation-aware for ``qat_epochs`` epochs (with the validation data, if given)."""
        self._validate_params()
        self._check_qparams()
        super().fit(X, y, X_val, y_val)
        self._quantize_weights()
        if self.qat_epochs > 0:
            self.fine_tune(X, y, X_val, y_val, epochs=self.qat_epochs)
        return self

    # ------------------------------------------------------------------ inference
    def _encode_int(self, x, lengths, rng):
        """Encoded input as int64 (spikes, or the quantised analog input)."""
        s0, lengths, hold = self._encode(x, lengths, rng)
        if self.encoder == "current":
            top = 2 ** self.input_bits - 1 if self._normalization() == "minmax" else 2 ** (self.input_bits - 1) - 1
            low = 0 if self._normalization() == "minmax" else -top
            s0 = np.clip(np.rint(s0.astype(np.float64) / self.input_scale_), low, top)
        return s0.astype(np.int64), lengths.astype(np.int64), hold

    def _int_weights_on(self, backend: str):
        if backend == "numpy":
            return {k: v.astype(np.int64) for k, v in self.int_weights_.items()}
        key = str(self.device)
        cache = self.__dict__.setdefault("_qcache", {})
        if cache.get("key") != key:
            torch = require("torch")
            cache["w"] = {k: torch.as_tensor(v.astype(np.int64)).to(str(self.device))
                          for k, v in self.int_weights_.items()}
            cache["key"] = key
        return cache["w"]

    def _scores(self, X, method: str) -> np.ndarray:
        """Class scores (batch, n_classes) of the integer network; sets ``synops_`` and ``spike_rate_``."""
        self._check_fitted(method)
        if not hasattr(self, "int_weights_"):
            raise ValueError(f"{type(self).__name__} has float weights but no integer model; call quantize(...).")
        return super()._scores(X, method)

    def record(self, X, variables=("v",)):
        """What the integer network computes at every step, as
        :meth:`SpikingClassifier.record <neurorec.models.SpikingClassifier.record>` gives it for the
        float network: the same populations, the spikes of the integer LIF layers, and the
        membranes as integers times each layer's LSB (so in the float network's units, the
        hidden thresholds at ``threshold``). Its spike counts give ``spike_rate_``, its pooled
        output the scores of :meth:`decision_function`."""
        self._check_fitted("record")
        if not hasattr(self, "int_weights_"):
            raise ValueError(f"{type(self).__name__} has float weights but no integer model; call quantize(...).")
        variables = self._record_variables(variables)
        from neurorec.models.spiking.network import NetworkRun

        batch, xn, rng = self._inference_input(X)
        x, lengths, hold = self._encode_int(xn, batch.lengths, rng)
        spikes, states = _int_trace(self._int_weights_on("numpy"), self._plans(), self._engine(), np.asarray(x),
                                    np.asarray(lengths), hold)
        return NetworkRun(spikes=spikes, states=states if variables else {}, dt=float(self.dt),
                          lengths=np.asarray(lengths) * hold)

    def _inference_forward(self):
        w, plans, eng = self._int_weights_on(self.backend), self._plans(), self._engine()
        return lambda x, lengths, hold: _int_forward(w, plans, eng, x, lengths, hold, record=True)

    def _encode_inference(self, x, lengths, rng):
        return self._encode_int(x, lengths, rng)

    def _fan_out_weights(self) -> dict:
        """Fan-out of every presynaptic unit over the non-zero integer weights."""
        return self.int_weights_

    # ------------------------------------------------------------------ fine-tuning
    def _qat_logits(self, params: dict, x, lengths, hold):
        plans = self._plans_for({k: v.detach().cpu().double().numpy() for k, v in params.items()})
        return _qat_forward(params, plans, self._engine(), self.arithmetic_, self._spec(), x, lengths, hold)

    def fine_tune(self, X, y, X_val=None, y_val=None, *, epochs: int | None = None, lr: float | None = None,
                  batch_size: int | None = None) -> QuantizedSpikingClassifier:
        """Quantisation-aware fine-tuning of the float weights, then re-quantisation.

        Trains through :func:`neurorec.train.fit_module` on the integer network computed in float
        with straight-through rounding (module docstring), with the optimiser settings of the
        model (``optimizer``, ``weight_decay``, ``clip_norm``) and ``qat_lr``. With validation data
        and ``early_stopping`` the epoch with the best validation loss (``monitor="loss"``) or
        accuracy (``"metric"``) of the quantised network is kept, after ``patience`` epochs without
        improvement training stops, and if no epoch beats the quantised starting point on that
        measure the starting weights are kept (``qat_history_["kept"] == "start"``); without
        validation data the last weights are kept.

        Parameters
        ----------
        X, y : training sequences and labels (labels among ``classes_``)
        X_val, y_val : optional validation data
        epochs : int, optional
            Default ``qat_epochs`` (or 10 when that is 0).
        lr : float, optional
            Default ``qat_lr``.
        batch_size : int, optional
            Default ``batch_size``.

        Returns
        -------
        self
        """
        torch = require("torch")
        from neurorec.train import fit_module

        self._check_fitted("fine_tune")
        if not hasattr(self, "int_weights_"):
            self._quantize_weights()
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val go together: pass both or neither.")
        epochs = (self.qat_epochs or 10) if epochs is None else epochs
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}.")
        lr = float(self.qat_lr if lr is None else lr)
        coding._check_number(lr, "lr", low=0.0)
        dt = np.dtype(self.dtype)

        def prepare(Xa, ya, name):
            b = check_sequences(Xa, name, n_features=self.n_features_in_, dtype=dt)
            self._check_static(b, name, self.n_timesteps_in_)
            xn = self._scaled(b, self.x_offset_, self.x_scale_)
            self._check_unit_range(xn, name)
            idx = check_labels(ya, b.batch, "y" if name == "X" else "y_val", classes=self.classes_)
            return xn, b.lengths, idx

        device = torch.device(self._torch_device())
        train = tuple(torch.as_tensor(a).to(device) for a in prepare(X, y, "X"))
        val = tuple(torch.as_tensor(a).to(device) for a in prepare(X_val, y_val, "X_val")) \
            if X_val is not None else None
        net = self._new_net(self._n_inputs(self.n_features_in_, self.n_timesteps_in_ or 1), len(self.classes_),
                            self.seed_)
        net.load_state_dict({k: torch.as_tensor(v) for k, v in self.weights_.items()})
        net = net.to(device=device, dtype=getattr(torch, self.dtype))
        gen = torch.default_generator if device.type == "cpu" else \
            torch.cuda.default_generators[device.index if device.index is not None else torch.cuda.current_device()]
        scale_in = self.input_scale_

        def encode(x, lengths, g):
            s0, lengths, hold = self._encode(x, lengths, g)
            if self.encoder == "current":
                top = 2 ** self.input_bits - 1 if self._normalization() == "minmax" else 2 ** (self.input_bits - 1) - 1
                s0 = torch.clamp(torch.round(s0 / scale_in), 0 if self._normalization() == "minmax" else -top, top)
            return s0, lengths, hold

        def loss_fn(module, batch):
            x, lengths, yy = batch
            logits = self._qat_logits(dict(module.named_parameters()), *encode(x, lengths, gen))
            return torch.nn.functional.cross_entropy(logits, yy)

        validate, monitor, mode = None, "train_loss", "min"
        if val is not None:
            def validate(module):
                params = dict(module.named_parameters())
                g = torch.Generator(device=device).manual_seed(self.seed_) if self.encoder == "poisson" else None
                n, loss, correct = len(val[0]), 0.0, 0
                step = self.batch_size * 8
                for s in range(0, n, step):
                    x, lengths, yy = (a[s:s + step] for a in val)
                    logits = self._qat_logits(params, *encode(x, lengths, g))
                    loss += float(torch.nn.functional.cross_entropy(logits, yy, reduction="sum"))
                    correct += int((logits.argmax(1) == yy).sum())
                return {"val_loss": loss / n, "val_accuracy": correct / n}

            monitor, mode = ("val_loss", "min") if self.monitor == "loss" else ("val_accuracy", "max")
        stop = bool(self.early_stopping) and val is not None
        if stop:
            with torch.no_grad():
                start = validate(net.eval())                    # the PTQ model's validation score
        history = fit_module(
            net, loss_fn, train, validate=validate, monitor=monitor, mode=mode, optimizer=self.optimizer, lr=lr,
            momentum=self.momentum, weight_decay=self.weight_decay, epochs=int(epochs),
            batch_size=int(batch_size or self.batch_size), clip_norm=self.clip_norm,
            patience=self.patience if stop else None, restore_best=stop, progress=self.progress, seed=self.seed_,
            device=device, description=f"{type(self).__name__}.fine_tune")
        self.qat_history_ = history.to_dict()
        best = history.best_value
        if stop and best is not None and not (best < start[monitor] if mode == "min" else best > start[monitor]):
            # no epoch beat the quantised starting point on validation: keep the PTQ weights
            self.qat_history_["kept"] = "start"
            self._quantize_weights()
            return self
        self.qat_history_["kept"] = "fine_tuned"
        self.weights_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.__dict__.pop("_cache", None)
        self._quantize_weights()
        return self


# ---------------------------------------------------------------------------------------------
# the entry point
# ---------------------------------------------------------------------------------------------
def quantize(model, profile, *, weight_bits: int | None = None, input_bits: int = 8, input_range: float | None = None,
             headroom_bits: int = 4, fine_tune=None, epochs: int = 10,
             lr: float = 5e-4) -> QuantizedSpikingClassifier | QuantizedNetwork:
    """Convert a fitted spiking classifier to a chip profile's integer arithmetic (PTQ), optionally
    followed by quantisation-aware fine-tuning.

    Parameters
    ----------
    model : SpikingClassifier
        A fitted :class:`~neurorec.models.spiking.SpikingClassifier` (or a
        :class:`QuantizedSpikingClassifier`, re-quantised from its float weights). Not changed.
        A :class:`~neurorec.models.spiking.Network` is passed to
        :func:`neurorec.hardware.fixed_point_network.quantize_network` (with ``weight_bits``,
        ``input_bits``, ``input_range``, ``headroom_bits``), which returns a
        :class:`~neurorec.hardware.fixed_point_network.QuantizedNetwork`.
    profile : str, ChipProfile, dict or object
        The target's arithmetic: a name for :func:`neurorec.hardware.chips.load_profile`, a
        :class:`~neurorec.hardware.chips.ChipProfile`, or any dict/object with ``weight_bits``,
        ``membrane_bits``, ``synapse_bits``, ``threshold_bits``, ``decay``, ``decay_bits``, ``name``.
    weight_bits : int, optional
        Overrides the profile's weight width (2-16 bits).
    input_bits, input_range, headroom_bits
        See :class:`QuantizedSpikingClassifier`.
    fine_tune : tuple, optional
        ``(X, y)`` or ``(X, y, X_val, y_val)``: fine-tune quantisation-aware on these data for
        ``epochs`` epochs at learning rate ``lr`` (:meth:`QuantizedSpikingClassifier.fine_tune`).

    Returns
    -------
    QuantizedSpikingClassifier (QuantizedNetwork for a Network)
        A new model with the same hyperparameters, the float weights, and the integer model
        (``int_weights_``, ``int_threshold_``, ...); ``predict``/``score``/``decision_function`` run
        the integer engine on ``backend`` (numpy or torch, identical results).

    Raises
    ------
    TypeError
        ``model`` is not a supported model (the message lists :data:`SUPPORTED_MODELS`).
    ValueError
        ``model`` is not fitted, or a bit width or decay rule is unusable (named in the message).

    Examples
    --------
    >>> from neurorec.hardware import quantize                       # doctest: +SKIP
    >>> q = quantize(clf, "xylo")                                     # doctest: +SKIP
    >>> q.score(X_test, y_test), q.int_weights_["hidden.0.weight"].max()   # doctest: +SKIP
    """
    from neurorec.models.spiking.network import Network

    if isinstance(model, Network):
        from neurorec.hardware.fixed_point_network import quantize_network

        if fine_tune is not None:
            raise ValueError("fine_tune is for SpikingClassifier; a Network has no training loop to fine-tune.")
        return quantize_network(model, profile, weight_bits=weight_bits, input_bits=input_bits,
                                input_range=input_range, headroom_bits=headroom_bits)
    if not isinstance(model, SpikingClassifier):
        raise TypeError(f"quantize supports {', '.join(SUPPORTED_MODELS)} (neurorec.models.spiking."
                        f"SpikingClassifier, neurorec.models.spiking.Network); got {type(model).__name__}. LSMs and "
                        f"non-spiking models have no integer engine yet.")
    if not hasattr(model, "weights_"):
        raise ValueError(f"model must be fitted before quantize(): call {type(model).__name__}.fit(...) first.")
    ar = arithmetic(profile, weight_bits)
    params = {k: v for k, v in model.get_params(deep=False).items()
              if k in SpikingClassifier().get_params(deep=False)}
    q = QuantizedSpikingClassifier(profile=ar, weight_bits=weight_bits, input_bits=input_bits, input_range=input_range,
                                   headroom_bits=headroom_bits, qat_lr=lr, **params)
    for k in _FLOAT_STATE:
        if hasattr(model, k):
            v = getattr(model, k)
            setattr(q, k, {a: b.copy() for a, b in v.items()} if k == "weights_"
                    else v.copy() if isinstance(v, np.ndarray) else v)
    q._quantize_weights()
    if fine_tune is not None:
        if not isinstance(fine_tune, (tuple, list)) or len(fine_tune) not in (2, 4):
            raise ValueError("fine_tune must be (X, y) or (X, y, X_val, y_val).")
        q.fine_tune(*fine_tune, epochs=epochs, lr=lr)
    return q


_FLOAT_STATE = ("weights_", "history_", "best_epoch_", "classes_", "task_", "n_features_in_", "n_timesteps_in_",
                "x_offset_", "x_scale_", "seed_")

