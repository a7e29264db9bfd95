r"""Fixed-point emulation of a spiking :class:`~neurorec.models.spiking.Network` on a chip profile.

:func:`quantize_network` turns a :class:`~neurorec.models.spiking.Network` whose populations are
:class:`~neurorec.models.spiking.LIF`, :class:`~neurorec.models.spiking.SynapticLIF` or
:class:`~neurorec.models.spiking.CubaLIF` (plus
:class:`~neurorec.models.spiking.sources.SpikeSource` populations) into a
:class:`QuantizedNetwork`: the same populations and connections, simulated with int64 states,
integer weights, the profile's bit widths, saturation and decay rule
(:func:`neurorec.hardware.fixed_point.arithmetic`; the decays :math:`D` are
:func:`~neurorec.hardware.fixed_point.int_decay`: Xylo's bit shift or Loihi's 12-bit multiplier,
see :mod:`neurorec.hardware.fixed_point` for the rules and their sources). The numpy and torch
engines give bit-identical results.

Integer representation (population :math:`p`; :math:`\mathrm{sat}_n` clips to :math:`[-2^{n-1}, 2^{n-1}-1]`)
-------------------------------------------------------------------------------------------------------

The integer neuron decays towards 0, so the membrane is held relative to the resting potential:
:math:`V = (v - v_{rest}) / \lambda_p` (:math:`v_{rest}` = ``v_rest``, or ``E_L`` for CubaLIF), which
is exact for the linear models. One value scale :math:`\lambda_p` (the value of one LSB) serves the
membrane and the synaptic currents of the population (``h`` = ``headroom_bits``):

.. math::

    L &= \min(2^{\text{threshold\_bits}-1}-1,\ 2^{\text{membrane\_bits}-1-h},\ 2^{\text{membrane\_bits}-1}-2),
    \qquad M = \max(v_{th} - v_{rest}, |v_{reset} - v_{rest}|) \\
    \lambda_p &= M / L_p, \quad L_p \in (L/2, L], \qquad
    \hat\vartheta = \mathrm{round}((v_{th} - v_{rest})/\lambda_p), \qquad
    \hat r = \mathrm{round}((v_{reset} - v_{rest})/\lambda_p)

so the threshold is exactly the integer :math:`L_p` (no rounding) when :math:`|v_{reset} - v_{rest}| \le
v_{th} - v_{rest}`, the reset value is rounded to the nearest LSB, and the membrane holds about
:math:`\pm 2^h` thresholds (default :math:`h = 4`: at 16 bits :math:`\hat\vartheta \le 2048`).
:math:`L_p` is :math:`L`, or the integer in :math:`(L/2, L]` with which the population's dominant
connection (the one with most synapses) uses the full weight range :math:`\pm q` after its
power-of-two shift, whichever has the smaller error estimate
:math:`\frac{1}{2\max|\hat W|} + \frac{G}{2 L_p}` (half a weight unit relative to the largest weight,
plus the decays' rounding of up to an LSB per step, amplified by
:math:`G = \frac{1}{1-\beta_{eff}} \max(1, \max_x \frac{1}{1-\alpha_{x,eff}})`, relative to the
threshold): at 24 bits the weights win, at 16 bits with long time constants the threshold does.

Every connection :math:`c` into :math:`p` has float weights :math:`W_c` and an effective weight
:math:`W^{eff}_c = g_c W_c` in the target register's value units (the gains :math:`g_c` below). Its
entries, in LSBs of :math:`p` per unit of the presynaptic quantity (1 per spike, :math:`s_{in}` per
input unit), are :math:`T_c = W^{eff}_c\, s_{pre} / \lambda_p`, quantised with a power-of-two
per-connection scale (``b`` = ``weight_bits``, :math:`q = 2^{b-1}-1`):

.. math::

    k_c = \lceil \log_2(\max|T_c| / q) \rceil, \qquad
    \hat W_c = \mathrm{clip}(\mathrm{round}(T_c\, 2^{-k_c}), -q, q), \qquad
    J_c = \mathrm{shift}_{k_c}(\hat s_{pre} \hat W_c)

(:math:`\mathrm{shift}_k`: :math:`\times 2^k`, or the arithmetic right shift by :math:`-k`, rounding
towards :math:`-\infty`, as in :mod:`~neurorec.hardware.fixed_point`; the role of Xylo's
``weight_shift`` and Loihi's weight exponent). The weight scale (value per weight unit) is
:math:`s_c = \lambda_p 2^{k_c} / s_{pre}`. Rounding :math:`k_c` up leaves :math:`\max|\hat W_c|` between
:math:`q/2` and :math:`q` (up to one bit of weight resolution unused) in exchange for an exact shift.

External input: :math:`\hat x = \mathrm{clip}(\mathrm{round}(x/s_{in}), \pm(2^{B-1}-1))`,
:math:`s_{in} = r/(2^{B-1}-1)` (``input_bits`` :math:`B`, ``input_range`` :math:`r`, given or the
maximum :math:`|x|` of sample data), as :mod:`~neurorec.hardware.fixed_point` does for analog inputs.

The integer neurons, step :math:`n` (the chips' CUBA order)
----------------------------------------------------------

Decays: :math:`D_\beta` with the membrane's :math:`\tau_{mem}`, :math:`D_\alpha` with each current's
:math:`\tau` (``tau_syn``, ``tau_exc``, ``tau_inh``), by the profile's rule: ``"bitshift"`` with
:math:`d = \mathrm{round}(\log_2(\tau/\Delta t))` (XyloSim), ``"multiplicative"`` with the multiplier
:math:`2^{n} - \mathrm{round}(2^n(1-e^{-\Delta t/\tau}))`, :math:`n` = ``decay_bits`` (Lava's Loihi
LIF); :math:`\beta_{eff}`, :math:`\alpha_{eff}` are the factors they implement.

.. math::

    U_x[n] &= \mathrm{sat}_{syn}\big(D_{\alpha_x}(U_x[n-1]) + P_x[n-1] + X_x[n]\big)
        \quad \text{for every synaptic current } x \\
    V'[n] &= \mathrm{sat}_{mem}\big(D_\beta(V[n-1]) + \textstyle\sum_x U_x[n] + X_v[n]\big), \qquad
    s[n] = [V'[n] > \hat\vartheta] \\
    V''[n] &= V'[n] - s[n](\hat\vartheta - \hat r) \ (\text{subtract}) \quad\text{or}\quad
        s[n]\,\hat r + (1-s[n]) V'[n] \ (\text{zero}) \\
    V[n] &= \mathrm{sat}_{mem}\big(V''[n] + \textstyle\sum_{c \to v} J_c[n]\,(1 - m_c s[n])\big), \qquad
    P_x[n] = \textstyle\sum_{c \to x} J_c[n]

with :math:`X` the quantised external input of the step (:math:`\sum_c \mathrm{shift}_{k_c}(\hat x[n]
\hat W_c)`), :math:`J_c[n]` the jumps of the spikes sent :math:`d_c` steps earlier, and :math:`m_c = 1`
for jumps into ``v`` of a ``reset="zero"`` population (lost at a spike, as in the float engine).
This is Loihi's CUBA order (Lava ``AbstractPyLifModelFixed.subthr_dynamics``: :math:`u \leftarrow
D_u(u) + a_{in}`, :math:`v \leftarrow D_v(v) + u + b`, the synaptic input of step :math:`n` being the
spikes of step :math:`n-1`) and XyloSim's (the synaptic current decays and takes its input, then
feeds the decayed membrane): the current reaches the membrane with coefficient 1. The gains are

- LIF, CubaLIF external input into ``v``: :math:`g = 1 - \beta_{eff}` (the float model's
  :math:`v \leftarrow \beta v + (1-\beta)I`, with the integer decay: the steady state :math:`v = I`
  is kept);
- jumps into ``v``: :math:`g = 1`;
- jumps into a current :math:`x` (and SynapticLIF's external input, a jump of ``i_syn``):
  :math:`g = k^{eff}_x = k_x \frac{(1-\alpha_{eff})(1-\beta_{eff})}{(1-\alpha)(1-\beta)}`, the float
  model's exact-integration coupling :math:`k_x` (``neurons.py``: :math:`v \mathrel{+}= k\, i_{syn}`)
  rescaled so that the steady-state gain from a jump rate to :math:`v` is the float one (the factor
  is 1 up to :math:`2^{-12}` for Loihi's decays; for bit-shift decays it corrects the coarser
  :math:`\beta_{eff}`, :math:`\alpha_{eff}`).

Differences from neurorec's float equations (:mod:`neurorec.models.spiking.neurons`)
-------------------------------------------------------------------------------------

- The register :math:`U_x` is :math:`k_x` times the float synaptic current *before* its decay in
  the step (:math:`U_x[n] \lambda_p = k_x (i_x[n-1] + x[n])` in real arithmetic), not the float
  ``i_syn`` after it. In exact arithmetic (:math:`\beta_{eff} = \beta`, :math:`\alpha_{eff} =
  \alpha`, no rounding) the recursion above *is* the float one: :math:`k_x i_x[n] = \alpha\,k_x
  (i_x[n-1] + x[n]) + k_x J[n]`, so :math:`U_x[n+1] = \alpha U_x[n] + k_x J[n] + k_x x[n+1]` and
  :math:`v[n] = \beta v[n-1] + U_x[n]`; the coupling costs no multiplier because :math:`k_x` is
  folded into the weights. Recorded ``i_syn`` / ``i_exc`` / ``i_inh`` are these registers
  (:meth:`QuantizedNetwork.values` converts them with :math:`\lambda_p`).
- The decays are :math:`\beta_{eff}`, :math:`\alpha_{eff}` (bit shift: :math:`1-2^{-d}`, e.g. 0.9375
  for :math:`\tau = 16\Delta t` against :math:`e^{-1/16} = 0.9394`), with the rounding of
  :func:`~neurorec.hardware.fixed_point.int_decay`.
- Saturation once per register and step (after the decay and input, and after the summed jumps
  into ``v``); the float model has none. Lava wraps Loihi's 24-bit current on overflow (modulo
  :math:`2^{23}`) where this engine saturates it, and clips the voltage at :math:`\pm(2^{23}-1)`.
- Refractory periods are refused (``refractory`` must be 0): Xylo's neurons have none and Lava's
  bit-accurate LIF has none; Loihi's refractory delay is not emulated here.
- Spike rule, reset and step order are the float engine's (spike when :math:`V > \hat\vartheta`,
  one spike per step, reset in the step of the spike), not XyloSim's (:math:`V \ge \vartheta`, up
  to 31 spikes per step) nor Lava's (reset to 0 only).

References
----------
See :mod:`neurorec.hardware.fixed_point` (XyloSim 0.1.3 ``XyloIAFNeuron.cpp``, rockpool 3.1
``calc_bitshift_decay``, Lava ``lava/proc/lif/models.py``; Davies et al. 2018, IEEE Micro 38(1)).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import sparse

from neurorec.hardware.fixed_point import _check_bits, _field, _limits, arithmetic, decay_constant, int_decay
from neurorec.models.spiking.network import INPUT, Network, NetworkRun, _check_run_args
from neurorec.models.spiking.neurons import LIF, CubaLIF, SynapticLIF

__all__ = ["quantize_network", "QuantizedNetwork", "SUPPORTED_NEURONS"]

#: Neuron descriptions :func:`quantize_network` converts (SpikeSource populations are kept as given spikes).
SUPPORTED_NEURONS = ("LIF", "SynapticLIF", "CubaLIF")
_PROFILE_NAMES = {LIF: "lif", SynapticLIF: "synaptic_lif", CubaLIF: "cuba_lif"}
_EXACT = 2 ** 53


class IntPopulation:
    """Integer parameters of one population (plain attributes; see the module docstring).

    Attributes
    ----------
    name, size, model : population name, size, neuron class name
    currents : tuple of str
        Synaptic current registers (``()``, ``("i_syn",)`` or ``("i_exc", "i_inh")``).
    input_variable : str
        Register the external input enters (``"v"`` or ``"i_syn"``).
    rest : float
        Resting potential subtracted from ``v`` (``v_rest`` or ``E_L``).
    lsb : float
        :math:`\\lambda_p`, the value of one LSB of every register.
    error_gain : float
        :math:`G`, the amplification of the decays' rounding used to choose ``lsb``.
    threshold, reset_value : int
        :math:`\\hat\\vartheta`, :math:`\\hat r`.
    reset : str
        ``"subtract"`` or ``"zero"``.
    decay : dict
        ``{register: (parameter, beta_eff)}``: the shift or multiplier of each decay and its factor.
    coupling : dict
        ``{current: k_eff}``, the gain folded into the weights of jumps into that current.
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return f"IntPopulation({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class IntConnection:
    """Integer weights of one connection: ``weight`` (int64 CSR, (n_source, n_target)), ``shift``
    :math:`k_c`, ``scale`` :math:`s_c` (value per weight unit), ``gain`` :math:`g_c`, ``register``
    (the target register), ``delay`` (steps) and ``masked`` (jumps into ``v`` lost at a spike)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return (f"IntConnection({self.source}->{self.target}.{self.register}, shift={self.shift}, "
                f"scale={self.scale:.4g}, delay={self.delay}, nnz={self.weight.nnz})")


def _resolve_profile(profile):
    if isinstance(profile, str):
        from neurorec.hardware.chips import load_profile

        return load_profile(profile)
    return profile


def _check_population(p, models) -> None:
    nrn = p.neuron
    if type(nrn) not in _PROFILE_NAMES:
        raise ValueError(f"population {p.name!r} is {type(nrn).__name__}; quantize_network supports "
                         f"{', '.join(SUPPORTED_NEURONS)} populations (and SpikeSource populations).")
    if nrn.refractory != 0:
        raise ValueError(f"population {p.name!r} has refractory={nrn.refractory!r} ms; the integer engine "
                         f"emulates neurons without a refractory period (refractory=0), as Xylo's and Lava's "
                         f"bit-accurate LIF.")
    rest = nrn.E_L if isinstance(nrn, CubaLIF) else nrn.v_rest
    if not nrn.v_th > rest:
        name = "E_L" if isinstance(nrn, CubaLIF) else "v_rest"
        raise ValueError(f"population {p.name!r} has v_th={nrn.v_th!r} <= {name}={rest!r}: the integer neuron "
                         f"decays towards its resting potential and fires above a positive threshold, so v_th must "
                         f"be above {name} (a resting potential above threshold does not map).")
    if models and _PROFILE_NAMES[type(nrn)] not in models:
        raise ValueError(f"population {p.name!r} is {type(nrn).__name__} ({_PROFILE_NAMES[type(nrn)]!r}); the "
                         f"profile's neuron_models are {tuple(models)}.")


def _input_range(input_range) -> float | None:
    if input_range is None:
        return None
    if isinstance(input_range, numbers.Real) and not isinstance(input_range, bool):
        r = float(input_range)
    else:
        a = input_range
        if type(a).__module__.startswith("torch"):
            a = a.detach().cpu().double().numpy()
        a = np.asarray(a, dtype=np.float64)
        if a.size == 0:
            raise ValueError("input_range given as data must hold at least one value.")
        r = float(np.max(np.abs(a)))
    if not (math.isfinite(r) and r > 0):
        raise ValueError(f"input_range must be a positive finite number (or data whose maximum |x| is one), got "
                         f"{input_range!r}.")
    return r


def _quantize_weight(T: np.ndarray, q: int) -> tuple[sparse.csr_matrix, int]:
    """``(W_hat, k)``: ``W_hat * 2**k`` approximates ``T`` with ``|W_hat| <= q``."""
    m = float(np.max(np.abs(T))) if T.size else 0.0
    if m == 0.0:
        return sparse.csr_matrix(T.shape, dtype=np.int64), 0
    k = math.ceil(math.log2(m / q))
    while m * 2.0 ** -k > q + 0.5:          # guard against log2 rounding
        k += 1
    k = max(min(k, 62), -62)
    w = np.clip(np.rint(np.ldexp(T, -k)), -q, q).astype(np.int64)
    out = sparse.csr_matrix(w)
    out.eliminate_zeros()
    return out, int(k)


def quantize_network(net: Network, profile, *, weight_bits: int | None = None, input_bits: int = 8,
                     input_range=None, headroom_bits: int = 4) -> QuantizedNetwork:
    """Convert a spiking :class:`~neurorec.models.spiking.Network` to a chip profile's integer arithmetic.

    Parameters
    ----------
    net : Network
        Populations of LIF, SynapticLIF or CubaLIF neurons (``refractory=0``, ``v_th`` above the
        resting potential) and SpikeSource populations; connections without plasticity.
    profile : str, ChipProfile, dict or object
        As for :func:`neurorec.hardware.fixed_point.arithmetic`; a profile's ``neuron_models``, when
        given, must include every population's model.
    weight_bits : int, optional
        Overrides the profile's weight width.
    input_bits : int
        Signed width of the quantised external input (2-16).
    input_range : float or array_like, optional
        The input value mapped to :math:`2^{B-1}-1` (larger values are clipped), or sample inputs
        whose maximum :math:`|x|` sets it. Required when the network has input connections.
    headroom_bits : int
        :math:`h`: the membrane holds :math:`\\pm 2^h` thresholds (0-16).

    Returns
    -------
    QuantizedNetwork

    Raises
    ------
    TypeError
        ``net`` is not a Network.
    ValueError
        An unsupported population model, refractory period, resting potential or plastic connection
        (named in the message), a missing ``input_range``, or an unusable profile.
    """
    if not isinstance(net, Network):
        raise TypeError(f"quantize_network takes a neurorec.models.spiking.Network, got {type(net).__name__}.")
    prof = _resolve_profile(profile)
    ar = arithmetic(prof, weight_bits)
    models = _field(prof, "neuron_models") if prof is not None else None
    input_bits = _check_bits(input_bits, "input_bits", 2, 16)
    headroom_bits = _check_bits(headroom_bits, "headroom_bits", 0, 16)
    for p in net.populations:
        if not p.is_source:
            _check_population(p, models)
    for c in net.connections:
        if c.plasticity is not None:
            raise ValueError(f"Connection {c.source}->{c.target} is plastic (STDP); quantize_network supports "
                             f"fixed weights only.")
    rng = _input_range(input_range)
    if rng is None and any(c.source == INPUT for c in net.connections):
        raise ValueError("the network has input connections: pass input_range (the largest |input| to represent, "
                         "or sample inputs) to quantise the external input to input_bits.")
    return QuantizedNetwork(net, ar, input_bits=input_bits, input_range=rng, headroom_bits=headroom_bits)


class QuantizedNetwork:
    """A :class:`~neurorec.models.spiking.Network` in a chip's integer arithmetic (module docstring).

    Built by :func:`quantize_network`. Attributes: ``net`` (the float network), ``arithmetic``
    (bit widths and decay rule), ``input_bits``, ``input_range``, ``input_scale`` (:math:`s_{in}`),
    ``headroom_bits``, ``populations`` (``{name: IntPopulation}``), ``connections`` (list of
    :class:`IntConnection`, the population-to-population ones; ``input_connections`` the input
    ones). :meth:`describe` prints them as a table.
    """

    def __init__(self, net: Network, ar: dict, *, input_bits: int, input_range: float | None, headroom_bits: int):
        self.net, self.arithmetic = net, dict(ar)
        self.input_bits, self.input_range, self.headroom_bits = input_bits, input_range, headroom_bits
        self.input_scale = None if input_range is None else input_range / (2 ** (input_bits - 1) - 1)
        self.mem_limits, self.syn_limits = _limits(ar["membrane_bits"]), _limits(ar["synapse_bits"])
        L = min(2 ** (ar["threshold_bits"] - 1) - 1, 2 ** max(ar["membrane_bits"] - 1 - headroom_bits, 0),
                2 ** (ar["membrane_bits"] - 1) - 2)       # V must be able to exceed the threshold
        q = 2 ** (ar["weight_bits"] - 1) - 1
        dt = float(net.dt)
        self.populations = {}
        for p in net.populations:
            if p.is_source:
                continue
            nrn = p.neuron
            d = nrn.decays(dt)
            rest = nrn.E_L if isinstance(nrn, CubaLIF) else nrn.v_rest
            mb, beta_eff = decay_constant(ar, nrn.tau_mem, dt)
            decay = {"v": (int(mb), float(beta_eff))}
            coupling = {}
            if isinstance(nrn, SynapticLIF):
                taus = {"i_syn": (nrn.tau_syn, d["k"], d["alpha"])}
            elif isinstance(nrn, CubaLIF):
                taus = {"i_exc": (nrn.tau_exc, d["k_exc"], d["alpha_exc"]),
                        "i_inh": (nrn.tau_inh, d["k_inh"], d["alpha_inh"])}
            else:
                taus = {}
            for x, (tau, k, alpha) in taus.items():
                a_param, a_eff = decay_constant(ar, tau, dt)
                decay[x] = (int(a_param), float(a_eff))
                coupling[x] = k * (1 - a_eff) * (1 - beta_eff) / ((1 - alpha) * (1 - d["beta"]))
            self.populations[p.name] = IntPopulation(
                name=p.name, size=int(p.size), model=type(nrn).__name__, currents=tuple(taus),
                input_variable="i_syn" if isinstance(nrn, SynapticLIF) else "v", rest=float(rest),
                reset=nrn.reset, decay=decay, coupling=coupling)
        # effective float weights (value units per presynaptic unit) of every connection
        eff = []
        for c in net.connections:
            tp = self.populations[c.target]
            if c.source == INPUT:
                register = tp.input_variable
                gain = 1.0 - tp.decay["v"][1] if register == "v" else tp.coupling[register]
                pre = self.input_scale
            else:
                register = c.variable
                gain = 1.0 if register == "v" else tp.coupling[register]
                pre = 1.0
            eff.append((c, register, gain, pre, c.weight.toarray() * (gain * pre)))
        # the population scale M / L_p (module docstring): L_p = L, or the L_p in (L/2, L] with which the
        # dominant connection (most synapses) fills the weight range, whichever has the smaller error estimate
        for name, tp in self.populations.items():
            nrn = net.population(name).neuron
            u_th, u_reset = nrn.v_th - tp.rest, nrn.v_reset - tp.rest
            M = max(u_th, abs(u_reset))
            into = [e for e in eff if e[0].target == name and e[0].n_synapses > 0]
            Lp = L
            gain = 1.0 / max(1.0 - tp.decay["v"][1], 2.0 ** -30) * max(
                [1.0] + [1.0 / max(1.0 - a, 2.0 ** -30) for x, (_, a) in tp.decay.items() if x != "v"])
            if into and L >= 4:
                A = max(into, key=lambda e: e[0].n_synapses)[4]
                m = float(np.max(np.abs(A)))
                if m > 0:
                    k = math.ceil(math.log2(m * L / (M * q)))
                    filled = int(min(L, max(L // 2 + 1, math.floor(q * 2.0 ** (k - 1) * M / m))))
                    if m * filled / M * 2.0 ** (1 - k) > q:        # float rounding: keep |W_hat| <= q
                        filled -= 1
                    w_top = max(m * L / M * 2.0 ** -k, 1.0)          # largest |W_hat| with L_p = L
                    cost_l = 0.5 / w_top + 0.5 * gain / L
                    cost_f = 0.5 / q + 0.5 * gain / filled
                    Lp = filled if cost_f < cost_l else L
            tp.error_gain = float(gain)
            tp.lsb = float(M / Lp)
            tp.threshold = max(1, int(round(u_th / tp.lsb)))
            tp.reset_value = int(round(u_reset / tp.lsb))
        self.connections, self.input_connections = [], []
        for c, register, gain, pre, A in eff:
            tp = self.populations[c.target]
            w, k = _quantize_weight(A / tp.lsb, q)
            n_src = c.shape[0]
            x_max = 1 if c.source != INPUT else 2 ** (input_bits - 1) - 1
            if n_src * q * x_max >= _EXACT or n_src * q * x_max * 2.0 ** max(k, 0) >= 2.0 ** 62:
                raise ValueError(f"Connection {c.source}->{c.target}: integer sums could exceed int64 / 2**53 "
                                 f"({n_src} inputs, shift {k}).")
            ic = IntConnection(source=c.source, target=c.target, register=register, weight=w, shift=k,
                               scale=tp.lsb * 2.0 ** k / pre, gain=float(gain), delay=net.delay_steps(c),
                               masked=register == "v" and tp.reset == "zero")
            (self.input_connections if c.source == INPUT else self.connections).append(ic)

    # ------------------------------------------------------------------ description
    def describe(self) -> str:
        """A plain-text table of the integer parameters of every population and connection."""
        ar = self.arithmetic
        lines = [f"profile {ar['name']!r}: weight {ar['weight_bits']} b, membrane {ar['membrane_bits']} b, "
                 f"synapse {ar['synapse_bits']} b, threshold {ar['threshold_bits']} b, decay {ar['decay']!r} "
                 f"({ar['decay_bits']} b); input {self.input_bits} b, range {self.input_range}",
                 f"{'population':<14}{'model':<13}{'lsb':>11}{'thr':>8}{'reset':>8}  decays (param, factor)"]
        for p in self.populations.values():
            dec = ", ".join(f"{k}: ({a}, {b:.5f})" for k, (a, b) in p.decay.items())
            lines.append(f"{p.name:<14}{p.model:<13}{p.lsb:>11.4g}{p.threshold:>8}{p.reset_value:>8}  {dec}")
        lines.append(f"{'connection':<28}{'register':<9}{'shift':>6}{'max|W|':>8}{'scale':>11}{'gain':>9}{'delay':>6}")
        for c in self.input_connections + self.connections:
            m = int(abs(c.weight).max()) if c.weight.nnz else 0
            lines.append(f"{c.source + '->' + c.target:<28}{c.register:<9}{c.shift:>6}{m:>8}{c.scale:>11.4g}"
                         f"{c.gain:>9.4g}{c.delay:>6}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"QuantizedNetwork(profile={self.arithmetic['name']!r}, populations={list(self.populations)})"

    def quantize_input(self, x) -> np.ndarray:
        """The external input as int64 :math:`\\hat x` (numpy), shape as given."""
        if type(x).__module__.startswith("torch"):
            x = x.detach().cpu().double().numpy()
        top = 2 ** (self.input_bits - 1) - 1
        return np.clip(np.rint(np.asarray(x, dtype=np.float64) / self.input_scale), -top, top).astype(np.int64)

    def values(self, population: str, variable: str, ints):
        """Float values of integer states: ``v = V lsb + rest``; a current register ``U lsb`` (module docstring)."""
        p = self.populations[population]
        out = ints * p.lsb
        return out + p.rest if variable == "v" else out

    # ------------------------------------------------------------------ simulation
    def run(self, inputs=None, *, n_steps: int | None = None, batch: int | None = None, engine: str = "numpy",
            record: Sequence[tuple[str, str]] = (), sources: Mapping | None = None,
            device: str = "cpu") -> NetworkRun:
        """Simulate the integer network.

        Parameters
        ----------
        inputs : array (batch, T, n_inputs) or (T, n_inputs), optional
            Float external input, quantised with :meth:`quantize_input`.
        n_steps, batch, sources
            As :func:`neurorec.models.spiking.network.run_network`.
        engine : {"numpy", "torch"}
            Bit-identical int64 engines (torch on ``device``).
        record : sequence of (population, variable)
            Integer registers to record after every step (``v`` relative to rest, in LSBs).

        Returns
        -------
        NetworkRun
            ``spikes`` {population: int64 (B, T, N)} (numpy arrays or torch tensors), ``states``
            {(population, variable): int64 (B, T, N)}, ``synops`` (presynaptic events times their
            non-zero integer fan-out, input values counted when non-zero).
        """
        if engine not in ("numpy", "torch"):
            raise ValueError(f"engine must be 'numpy' or 'torch', got {engine!r}.")
        if inputs is not None and type(inputs).__module__.startswith("torch"):
            inputs = inputs.detach().cpu().double().numpy()
        x, B, T, record, _, srcs = _check_run_args(self.net, inputs, n_steps, batch, record, None, sources)
        xq = self.quantize_input(x) if x is not None else None
        if engine == "numpy":
            xp = np

            def to(a):
                return np.asarray(a, dtype=np.int64)

            def matmul(s, W):                     # s (B, n) int64, W int64 CSR (n, m) -> exact int64
                return np.asarray((W.T @ s.T).T, dtype=np.int64)

            mats = {id(c): c.weight for c in self.input_connections + self.connections}
        else:
            from neurorec.backends.ops import require

            xp = require("torch")
            dev = xp.device(device)

            def to(a):
                return xp.as_tensor(np.asarray(a, dtype=np.int64), device=dev)

            def matmul(s, W):                     # exact in float64: every sum is below 2**53
                return xp.matmul(s.to(xp.float64), W).round().to(xp.int64)

            mats = {id(c): xp.as_tensor(c.weight.toarray().astype(np.float64), device=dev)
                    for c in self.input_connections + self.connections}
        ar = self.arithmetic
        rule, dbits = ar["decay"], ar["decay_bits"]
        mlo, mhi = self.mem_limits
        slo, shi = self.syn_limits

        def clip(a, lo, hi):
            return np.clip(a, lo, hi) if xp is np else a.clamp(lo, hi)

        def shift(z, k):
            return z * (1 << k) if k >= 0 else z >> (-k)

        # external input per population and register, all steps: (B, T, N)
        ext = {}
        for c in self.input_connections:
            xs = to(xq)
            z = shift(matmul(xs.reshape(B * T, -1), mats[id(c)]).reshape(B, T, -1), c.shift)
            key = (c.target, c.register)
            ext[key] = z if key not in ext else ext[key] + z
        feeds = {name: to(tr.dense()) for name, tr in srcs.items()}
        zeros = {p.name: to(np.zeros((B, p.size))) for p in self.net.populations}
        state = {name: {var: zeros[name] for var in ("v", *p.currents)} for name, p in self.populations.items()}
        pending = {name: {var: zeros[name] for var in p.currents} for name, p in self.populations.items()}
        max_delay = max((c.delay for c in self.connections), default=0)
        ring = {p.name: [zeros[p.name]] * (max_delay + 1) for p in self.net.populations}
        spikes = {name: [] for name in self.populations}
        states = {key: [] for key in record}
        for n in range(T):
            fired = {}
            for name, f in feeds.items():
                fired[name] = f[:, n]
                ring[name] = ring[name][1:] + [fired[name]]
            for name, p in self.populations.items():
                st = state[name]
                drive = ext[(name, "v")][:, n] if (name, "v") in ext else 0
                for x in p.currents:
                    u = int_decay(st[x], rule, p.decay[x][0], dbits) + pending[name][x]
                    if (name, x) in ext:
                        u = u + ext[(name, x)][:, n]
                    st[x] = clip(u, slo, shi)
                    pending[name][x] = zeros[name]
                    drive = drive + st[x]
                v = clip(int_decay(st["v"], rule, p.decay["v"][0], dbits) + drive, mlo, mhi)
                s = (v > p.threshold) * 1
                if p.reset == "subtract":
                    v = v - s * (p.threshold - p.reset_value)
                else:
                    v = v + s * (p.reset_value - v)
                st["v"] = v
                fired[name] = s
                ring[name] = ring[name][1:] + [s]
            jv = {}
            for c in self.connections:
                z = shift(matmul(ring[c.source][max_delay - c.delay], mats[id(c)]), c.shift)
                if c.register == "v":
                    if c.masked:
                        z = z * (1 - fired[c.target])
                    jv[c.target] = z if c.target not in jv else jv[c.target] + z
                else:
                    pending[c.target][c.register] = pending[c.target][c.register] + z
            for name, z in jv.items():
                state[name]["v"] = clip(state[name]["v"] + z, mlo, mhi)
            for name in self.populations:
                spikes[name].append(fired[name])
            for pop, var in record:
                states[(pop, var)].append(state[pop][var])
        spikes = {k: xp.stack(v, 1) for k, v in spikes.items()}
        rec = {k: xp.stack(v, 1) for k, v in states.items()}
        return NetworkRun(spikes=spikes, states=rec, synops=self._synops(spikes, srcs, xq, T))

    def _synops(self, spikes, srcs, xq, T) -> float:
        total = 0.0
        for c in self.input_connections:
            nz = (xq != 0).sum(axis=(0, 1)).astype(np.float64)
            total += float(nz @ np.diff(c.weight.indptr))
        for c in self.connections:
            if c.delay >= T:
                continue
            if c.source in srcs:
                counts = srcs[c.source].counts(before=T - c.delay).astype(np.float64)
            else:
                s = spikes[c.source][:, :T - c.delay]
                counts = (s.sum(dim=(0, 1)).double().cpu().numpy() if not isinstance(s, np.ndarray)
                          else s.sum(axis=(0, 1)).astype(np.float64))
            total += float(counts @ np.diff(c.weight.indptr))
        return total
