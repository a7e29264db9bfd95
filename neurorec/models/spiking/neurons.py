r"""Spiking neuron models: backend-independent descriptions with one pure step function each.

Each model is a frozen dataclass that *describes* a neuron (parameters in physical units:
times in ms, voltages in the model's voltage unit) and knows how to

* check itself against a time step (:meth:`validate`),
* compute its discrete decay factors from its time constants (:meth:`decays`,
  :math:`\beta = e^{-\Delta t/\tau}`),
* advance a population by one step (:meth:`step`, norse style: an explicit state tuple in,
  ``(spikes, new_state)`` out), written against an array namespace ``xp`` so numpy and torch
  run the same code,
* write itself as brian2 equations (:meth:`brian2_equations`), which
  :func:`neurorec.backends.brian2.run_brian2` simulates.

The engines never own the model: the description is separate from the engine (as in Nengo).

Discrete-time convention (shared by :meth:`step` and brian2)
-----------------------------------------------------------
Step :math:`n` (time :math:`t_n = n\,\Delta t`) does, in this order:

1. **input**: the external input :math:`x[n]` is applied -- held constant over the step as a
   current (``LIF``, ``AdaptiveLIF``, ``CobaLIF``), or added as a jump to the synaptic current
   (``SynapticLIF``). In brian2 this is a ``run_regularly`` operation in the ``'start'`` slot.
2. **integrate** the equations from :math:`t_n` to :math:`t_{n+1}`: exactly for the linear
   models (brian2 ``method='exact'``), with exponential Euler for the conductance-based model
   (brian2 ``method='exponential_euler'``: each variable decays exactly towards its
   instantaneous fixed point, all computed from the state at the start of the step). The
   membrane is held (``(unless refractory)``) while the neuron is refractory.
3. **threshold**: :math:`s[n] = [v > v_{th}]` and not refractory (brian2 ``'thresholds'`` slot).
4. **reset** the spiking neurons (brian2 ``'resets'`` slot).

A spike recorded by brian2 at time :math:`t` is step ``round(t / dt)``, i.e. the spike caused by
the input :math:`x[n]` of the same step. Refractoriness follows brian2 exactly: after a spike
at step :math:`n` the membrane is frozen during steps :math:`n+1, \dots, n+r-1` with
:math:`r = \lfloor t_{ref}/\Delta t + 10^{-3} \rfloor` (brian2's ``timestep``), and integrates
again from step :math:`n + r`.

Note on scaling: the exact solution of :math:`\tau \dot v = -v + I` over one step is
:math:`v \leftarrow \beta v + (1-\beta) I`; snntorch's ``Leaky`` (``U <- beta U + I``) is the
same recursion with its input equal to :math:`(1-\beta) I` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, NamedTuple

import numpy as np

__all__ = ["LIF", "SynapticLIF", "AdaptiveLIF", "CobaLIF", "CubaLIF", "NEURON_MODELS", "Brian2Model",
           "LIFState", "SynapticLIFState", "AdaptiveLIFState", "CobaLIFState", "CubaLIFState",
           "refractory_steps", "simulate"]

RESETS = ("subtract", "zero")


# --------------------------------------------------------------------------------------
# states
# --------------------------------------------------------------------------------------
class LIFState(NamedTuple):
    """State of :class:`LIF`: membrane ``v`` and the remaining refractory steps ``refrac``."""

    v: Any
    refrac: Any


class SynapticLIFState(NamedTuple):
    """State of :class:`SynapticLIF`: membrane ``v``, synaptic current ``i_syn``, ``refrac``."""

    v: Any
    i_syn: Any
    refrac: Any


class AdaptiveLIFState(NamedTuple):
    """State of :class:`AdaptiveLIF`: membrane ``v``, adaptation current ``w``, ``refrac``."""

    v: Any
    w: Any
    refrac: Any


class CobaLIFState(NamedTuple):
    """State of :class:`CobaLIF`: ``v`` (mV), conductances ``g_exc``, ``g_inh`` (units of g_L), ``refrac``."""

    v: Any
    g_exc: Any
    g_inh: Any
    refrac: Any


@dataclass(frozen=True)
class Brian2Model:
    """A neuron description written for brian2 (see ``brian2_equations`` of each model).

    Attributes
    ----------
    equations : str
        brian2 model equations; the external input enters through ``input_code``.
    threshold, reset : str
        brian2 threshold condition and reset statements.
    refractory : brian2 Quantity
        Refractory period.
    method : str
        brian2 integration method (``'exact'`` or ``'exponential_euler'``).
    namespace : dict
        Parameter values with brian2 units, for the ``NeuronGroup``'s ``namespace``.
    input_code : str
        Statement run at the start of every step (``'start'`` slot, before integration), in which
        ``neurorec_input(t, i)`` is the step's input.
    input_unit : brian2 unit or None
        Unit of the input values (``None``: dimensionless).
    initial : dict
        Initial value of each state variable, as a brian2 expression over ``namespace``.
    """

    equations: str
    threshold: str
    reset: str
    refractory: Any
    method: str
    namespace: dict
    input_code: str
    input_unit: Any
    initial: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def refractory_steps(refractory: float, dt: float) -> int:
    """Number of steps in the refractory period, rounded as brian2's ``timestep`` does."""
    return int((refractory + 1e-3 * dt) / dt)


def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite time constant in ms, got {value!r}.")


def _check_finite(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")


def _check_common(model) -> None:
    """Checks that do not depend on dt: time constants, threshold/reset, refractory, reset mode."""
    for f in fields(model):
        value = getattr(model, f.name)
        if f.name.startswith("tau_"):
            _check_positive(f.name, value)
        elif f.name != "reset":
            _check_finite(f.name, value)
    if model.refractory < 0:
        raise ValueError(f"refractory must be >= 0 ms, got {model.refractory!r}.")
    if model.reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, got {model.reset!r}.")
    if not model.v_th > model.v_reset:
        raise ValueError(f"the threshold v_th={model.v_th!r} must be above the reset value "
                         f"v_reset={model.v_reset!r}.")


def _check_dt(model, dt: float) -> None:
    if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive, finite time step in ms, got {dt!r}.")
    for f in fields(model):
        if f.name.startswith("tau_") and dt > getattr(model, f.name):
            raise ValueError(f"dt={dt!r} ms is larger than the time constant {f.name}={getattr(model, f.name)!r} ms; "
                             f"use a time step at most {f.name}.")


def _mix_coefficient(tau_x: float, tau_m: float, dt: float) -> float:
    r"""Weight of :math:`x(0)` in :math:`v(\Delta t)` for :math:`\tau_m\dot v = -v + x`, :math:`\tau_x\dot x = -x`.

    :math:`\frac{\tau_x}{\tau_x - \tau_m}(e^{-\Delta t/\tau_x} - e^{-\Delta t/\tau_m})`, and its
    limit :math:`\frac{\Delta t}{\tau}e^{-\Delta t/\tau}` when the two time constants are equal.
    """
    if math.isclose(tau_x, tau_m, rel_tol=1e-9):
        return dt / tau_m * math.exp(-dt / tau_m)
    return tau_x / (tau_x - tau_m) * (math.exp(-dt / tau_x) - math.exp(-dt / tau_m))


def _second_tau(tau_x: float, model, name: str) -> tuple[str, float]:
    """Symbol and value (ms) of the second time constant in brian2 equations coupled to ``v``.

    brian2's exact solver works symbolically; with two distinct symbols its solution divides by
    ``tau_x - tau_mem`` (NaN when they are equal). Equal time constants are therefore written with
    the single symbol ``tau_mem`` (solved as the degenerate case). With a refractory period brian2
    multiplies the membrane equation by ``not_refractory``, which makes even that degenerate case
    divide by zero; there ``tau_x`` is given to brian2 a relative 1e-6 larger (an error ~1e-10 in
    the update, far below anything that moves a spike).
    """
    if not math.isclose(tau_x, model.tau_mem, rel_tol=1e-9):
        return name, tau_x
    if model.refractory > 0:
        return name, tau_x * (1 + 1e-6)
    return "tau_mem", tau_x


def _unless_refractory(model) -> str:
    return " (unless refractory)" if model.refractory > 0 else ""


def _fire(xp, v, v_integrated, refrac, v_th, v_reset, reset, n_ref):
    """Shared threshold / reset / refractory bookkeeping (steps 2-4 of the module's convention)."""
    free = refrac <= 0.5
    v = xp.where(free, v_integrated, v)
    spk = (v > v_th) & free
    v_after = v - (v_th - v_reset) if reset == "subtract" else v * 0.0 + v_reset
    v = xp.where(spk, v_after, v)
    zero = refrac * 0.0
    refrac = xp.where(spk, zero + (n_ref - 1), xp.where(free, zero, refrac - 1.0))
    spikes = xp.where(spk, zero + 1.0, zero)
    return spikes, spk, v, refrac


def _reset_code(reset: str) -> str:
    return "v -= v_th - v_reset" if reset == "subtract" else "v = v_reset"


def _b2():
    from neurorec.backends.ops import require

    return require("brian2")


# --------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------
class _Checked:
    """Checks shared by the neuron descriptions: the parameters alone at construction
    (:meth:`_check`), and with the time step in :meth:`validate`."""

    def __post_init__(self):
        self._check()

    def _check(self) -> None:
        _check_common(self)

    def validate(self, dt: float) -> None:
        """Raise ``ValueError`` if the description cannot be simulated with time step ``dt`` (ms)."""
        self._check()
        _check_dt(self, dt)


@dataclass(frozen=True)
class LIF(_Checked):
    r"""Leaky integrate-and-fire neuron driven by a current.

    .. math::

        \tau_{mem} \frac{dv}{dt} = -(v - v_{rest}) + I(t), \qquad
        v > v_{th} \Rightarrow \text{spike},\ v \leftarrow v_{reset}\ \text{(zero)} \text{ or }
        v \leftarrow v - (v_{th} - v_{reset})\ \text{(subtract)}

    with :math:`I` (the input, in voltage units: :math:`R I`) held constant over a step, so that
    the exact discrete update is :math:`v \leftarrow v_{rest} + I + (v - v_{rest} - I)\beta`,
    :math:`\beta = e^{-\Delta t/\tau_{mem}}`. Under a constant input :math:`I > v_{th}` the rate
    is :math:`1 / (t_{ref} + \tau_{mem}\ln\frac{I + v_{rest} - v_{reset}}{I + v_{rest} - v_{th}})`
    (continuous time, ``reset="zero"``).

    Parameters
    ----------
    tau_mem : float
        Membrane time constant (ms).
    v_th, v_reset, v_rest : float
        Threshold, reset and resting potential (dimensionless voltage unit).
    reset : {"subtract", "zero"}
        Subtract :math:`v_{th} - v_{reset}` at a spike, or set :math:`v` to :math:`v_{reset}`.
    refractory : float
        Refractory period (ms) during which the membrane is held.

    References
    ----------
    L. Lapicque (1907); W. Gerstner, W. M. Kistler, R. Naud & L. Paninski (2014), *Neuronal
    Dynamics*, ch. 1.3, Cambridge University Press.
    """

    tau_mem: float = 20.0
    v_th: float = 1.0
    v_reset: float = 0.0
    reset: str = "subtract"
    refractory: float = 0.0
    v_rest: float = 0.0

    def decays(self, dt: float) -> dict:
        """Discrete factors for time step ``dt`` (ms): ``beta = exp(-dt/tau_mem)``, ``n_ref`` (steps)."""
        self.validate(dt)
        return {"beta": math.exp(-dt / self.tau_mem), "n_ref": refractory_steps(self.refractory, dt)}

    def initial_state(self, like) -> LIFState:
        """Resting state shaped, typed and placed like the array ``like`` (one step of input)."""
        z = like * 0.0
        return LIFState(z + self.v_rest, z)

    def step(self, state: LIFState, current, dt: float, xp=np, decays: dict | None = None):
        """Advance one step: returns ``(spikes, new_state)``; ``spikes`` is 0/1 in ``v``'s dtype."""
        d = decays or self.decays(dt)
        v, refrac = state
        target = self.v_rest + current
        v_int = target + (v - target) * d["beta"]
        spikes, _, v, refrac = _fire(xp, v, v_int, refrac, self.v_th, self.v_reset, self.reset, d["n_ref"])
        return spikes, LIFState(v, refrac)

    def brian2_equations(self) -> Brian2Model:
        """The same model as brian2 equations (dimensionless ``v``, times in ms)."""
        b2 = _b2()
        return Brian2Model(
            equations=f"dv/dt = (v_rest - v + I_ext) / tau_mem : 1{_unless_refractory(self)}\nI_ext : 1",
            threshold="v > v_th", reset=_reset_code(self.reset), refractory=self.refractory * b2.ms,
            method="exact",
            namespace={"tau_mem": self.tau_mem * b2.ms, "v_th": self.v_th, "v_reset": self.v_reset,
                       "v_rest": self.v_rest},
            input_code="I_ext = neurorec_input(t, i)", input_unit=None, initial={"v": "v_rest"})


@dataclass(frozen=True)
class SynapticLIF(_Checked):
    r"""Current-based synaptic LIF neuron: an exponentially decaying synaptic current feeds the membrane.

    .. math::

        \tau_{syn} \frac{di_{syn}}{dt} = -i_{syn} + \tau_{syn}\sum_n x[n]\,\delta(t - t_n), \qquad
        \tau_{mem} \frac{dv}{dt} = -(v - v_{rest}) + i_{syn}

    The input :math:`x[n]` is a jump of the synaptic current at the start of step :math:`n` (as a
    weighted presynaptic spike would be), then both variables are integrated exactly:
    :math:`i_{syn} \leftarrow \alpha\, i_{syn}`, :math:`v \leftarrow v_{rest} + (v - v_{rest})\beta + k\, i_{syn}`,
    with :math:`\alpha = e^{-\Delta t/\tau_{syn}}`, :math:`\beta = e^{-\Delta t/\tau_{mem}}`,
    :math:`k = \frac{\tau_{syn}}{\tau_{syn}-\tau_{mem}}(\alpha - \beta)`. Reset and threshold as in :class:`LIF`;
    the synaptic current keeps evolving during the refractory period.

    Parameters
    ----------
    tau_mem, tau_syn : float
        Membrane and synaptic time constants (ms).
    v_th, v_reset, v_rest, reset, refractory
        As in :class:`LIF`.

    References
    ----------
    E. O. Neftci, H. Mostafa & F. Zenke (2019), "Surrogate gradient learning in spiking neural
    networks", IEEE Signal Processing Magazine 36(6); F. Zenke & S. Ganguli (2018), Neural
    Computation 30(6).
    """

    tau_mem: float = 20.0
    tau_syn: float = 5.0
    v_th: float = 1.0
    v_reset: float = 0.0
    reset: str = "subtract"
    refractory: float = 0.0
    v_rest: float = 0.0

    def decays(self, dt: float) -> dict:
        """``beta = exp(-dt/tau_mem)``, ``alpha = exp(-dt/tau_syn)``, the coupling ``k`` and ``n_ref``."""
        self.validate(dt)
        return {"beta": math.exp(-dt / self.tau_mem), "alpha": math.exp(-dt / self.tau_syn),
                "k": _mix_coefficient(self.tau_syn, self.tau_mem, dt),
                "n_ref": refractory_steps(self.refractory, dt)}

    def initial_state(self, like) -> SynapticLIFState:
        """Resting state shaped, typed and placed like ``like``."""
        z = like * 0.0
        return SynapticLIFState(z + self.v_rest, z, z)

    def step(self, state: SynapticLIFState, current, dt: float, xp=np, decays: dict | None = None):
        """Advance one step: returns ``(spikes, new_state)``."""
        d = decays or self.decays(dt)
        v, i_syn, refrac = state
        i_syn = i_syn + current
        v_int = self.v_rest + (v - self.v_rest) * d["beta"] + d["k"] * i_syn
        i_syn = i_syn * d["alpha"]
        spikes, _, v, refrac = _fire(xp, v, v_int, refrac, self.v_th, self.v_reset, self.reset, d["n_ref"])
        return spikes, SynapticLIFState(v, i_syn, refrac)

    def brian2_equations(self) -> Brian2Model:
        """The same model as brian2 equations (dimensionless ``v`` and ``i_syn``, times in ms)."""
        b2 = _b2()
        sym, tau_syn = _second_tau(self.tau_syn, self, "tau_syn")
        return Brian2Model(
            equations=(f"dv/dt = (v_rest - v + i_syn) / tau_mem : 1{_unless_refractory(self)}\n"
                       f"di_syn/dt = -i_syn / {sym} : 1"),
            threshold="v > v_th", reset=_reset_code(self.reset), refractory=self.refractory * b2.ms,
            method="exact",
            namespace={"tau_mem": self.tau_mem * b2.ms, "tau_syn": tau_syn * b2.ms, "v_th": self.v_th,
                       "v_reset": self.v_reset, "v_rest": self.v_rest},
            input_code="i_syn += neurorec_input(t, i)", input_unit=None, initial={"v": "v_rest", "i_syn": "0"})


@dataclass(frozen=True)
class AdaptiveLIF(_Checked):
    r"""LIF neuron with a spike-triggered adaptation current.

    .. math::

        \tau_{mem} \frac{dv}{dt} = -(v - v_{rest}) - w + I(t), \qquad
        \tau_{adapt} \frac{dw}{dt} = -w, \qquad
        \text{spike: } v \leftarrow v_{reset},\ w \leftarrow w + b

    (:math:`b` = ``adapt_increment``, in the voltage unit). Integrated exactly with :math:`I` held
    over the step: :math:`v \leftarrow v_{rest} + I + (v - v_{rest} - I)\beta - k\,w`,
    :math:`w \leftarrow \rho\, w`, :math:`\rho = e^{-\Delta t/\tau_{adapt}}`,
    :math:`k = \frac{\tau_{adapt}}{\tau_{adapt}-\tau_{mem}}(\rho - \beta)`. This is the adaptive
    exponential model of Brette & Gerstner without the exponential term and without subthreshold
    adaptation (:math:`a = 0`).

    Parameters
    ----------
    tau_mem, tau_adapt : float
        Membrane and adaptation time constants (ms).
    adapt_increment : float
        Jump :math:`b \ge 0` of the adaptation current at each spike.
    v_th, v_reset, v_rest, reset, refractory
        As in :class:`LIF`.

    References
    ----------
    R. Brette & W. Gerstner (2005), "Adaptive exponential integrate-and-fire model as an effective
    description of neuronal activity", J. Neurophysiol. 94(5); Gerstner et al. (2014), *Neuronal
    Dynamics*, ch. 6.1.
    """

    tau_mem: float = 20.0
    tau_adapt: float = 200.0
    adapt_increment: float = 0.1
    v_th: float = 1.0
    v_reset: float = 0.0
    reset: str = "subtract"
    refractory: float = 0.0
    v_rest: float = 0.0

    def _check(self) -> None:
        _check_common(self)
        if self.adapt_increment < 0:
            raise ValueError(f"adapt_increment must be >= 0, got {self.adapt_increment!r}.")

    def decays(self, dt: float) -> dict:
        """``beta = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``, the coupling ``k`` and ``n_ref``."""
        self.validate(dt)
        return {"beta": math.exp(-dt / self.tau_mem), "rho": math.exp(-dt / self.tau_adapt),
                "k": _mix_coefficient(self.tau_adapt, self.tau_mem, dt),
                "n_ref": refractory_steps(self.refractory, dt)}

    def initial_state(self, like) -> AdaptiveLIFState:
        """Resting state shaped, typed and placed like ``like``."""
        z = like * 0.0
        return AdaptiveLIFState(z + self.v_rest, z, z)

    def step(self, state: AdaptiveLIFState, current, dt: float, xp=np, decays: dict | None = None):
        """Advance one step: returns ``(spikes, new_state)``."""
        d = decays or self.decays(dt)
        v, w, refrac = state
        target = self.v_rest + current
        v_int = target + (v - target) * d["beta"] - d["k"] * w
        w = w * d["rho"]
        spikes, spk, v, refrac = _fire(xp, v, v_int, refrac, self.v_th, self.v_reset, self.reset, d["n_ref"])
        w = w + spikes * self.adapt_increment
        return spikes, AdaptiveLIFState(v, w, refrac)

    def brian2_equations(self) -> Brian2Model:
        """The same model as brian2 equations (dimensionless ``v`` and ``w``, times in ms)."""
        b2 = _b2()
        sym, tau_adapt = _second_tau(self.tau_adapt, self, "tau_adapt")
        return Brian2Model(
            equations=(f"dv/dt = (v_rest - v - w + I_ext) / tau_mem : 1{_unless_refractory(self)}\n"
                       f"dw/dt = -w / {sym} : 1\nI_ext : 1"),
            threshold="v > v_th", reset=_reset_code(self.reset) + "\nw += adapt_increment",
            refractory=self.refractory * b2.ms, method="exact",
            namespace={"tau_mem": self.tau_mem * b2.ms, "tau_adapt": tau_adapt * b2.ms,
                       "adapt_increment": self.adapt_increment, "v_th": self.v_th, "v_reset": self.v_reset,
                       "v_rest": self.v_rest},
            input_code="I_ext = neurorec_input(t, i)", input_unit=None, initial={"v": "v_rest", "w": "0"})


@dataclass(frozen=True)
class CobaLIF(_Checked):
    r"""Conductance-based LIF neuron with exponential excitatory and inhibitory conductances.

    .. math::

        \tau_{mem} \frac{dv}{dt} &= (E_L - v) + g_{exc}(E_{exc} - v) + g_{inh}(E_{inh} - v) + R I(t) \\
        \tau_{exc} \frac{dg_{exc}}{dt} &= -g_{exc}, \qquad \tau_{inh} \frac{dg_{inh}}{dt} = -g_{inh}

    Conductances are in units of the leak conductance :math:`g_L` (dimensionless); voltages and the
    input :math:`R I` are in mV. The defaults are the COBA benchmark of Vogels & Abbott (2005) as
    specified by Brette et al. (2007, benchmark 1): :math:`E_L = -60` mV, :math:`v_{th} = -50` mV,
    :math:`v_{reset} = -60` mV, :math:`\tau_{mem} = 20` ms, :math:`E_{exc} = 0` mV,
    :math:`E_{inh} = -80` mV, :math:`\tau_{exc} = 5` ms, :math:`\tau_{inh} = 10` ms, refractory
    5 ms; the benchmark's synaptic jumps (6 nS and 67 nS with :math:`g_L` = 10 nS) are
    :math:`\Delta g_{exc} = 0.6`, :math:`\Delta g_{inh} = 6.7` in these units.

    The membrane equation is linear in :math:`v` for fixed conductances; each step uses
    exponential Euler (brian2's ``exponential_euler``), exact for the conductances and, for
    :math:`v`, exact with the conductances frozen at their value at the start of the step:
    :math:`v \leftarrow v_\infty + (v - v_\infty) e^{-\Delta t (1 + g_{exc} + g_{inh})/\tau_{mem}}`,
    :math:`v_\infty = \frac{E_L + g_{exc}E_{exc} + g_{inh}E_{inh} + RI}{1 + g_{exc} + g_{inh}}`.

    Parameters
    ----------
    tau_mem, tau_exc, tau_inh : float
        Membrane and synaptic time constants (ms).
    E_L, E_exc, E_inh : float
        Leak and synaptic reversal potentials (mV).
    v_th, v_reset : float
        Threshold and reset (mV).
    reset : {"zero", "subtract"}
        ``"zero"``: :math:`v \leftarrow v_{reset}` (the benchmark); ``"subtract"`` as in :class:`LIF`.
    refractory : float
        Refractory period (ms).

    References
    ----------
    T. P. Vogels & L. F. Abbott (2005), "Signal propagation and logic gating in networks of
    integrate-and-fire neurons", J. Neurosci. 25(46); R. Brette et al. (2007), "Simulation of
    networks of spiking neurons: a review of tools and strategies", J. Comput. Neurosci. 23(3).
    """

    tau_mem: float = 20.0
    tau_exc: float = 5.0
    tau_inh: float = 10.0
    E_L: float = -60.0
    E_exc: float = 0.0
    E_inh: float = -80.0
    v_th: float = -50.0
    v_reset: float = -60.0
    reset: str = "zero"
    refractory: float = 5.0

    def _check(self) -> None:
        _check_common(self)
        if not self.E_inh < self.E_exc:
            raise ValueError(f"E_inh={self.E_inh!r} mV must be below E_exc={self.E_exc!r} mV.")

    def decays(self, dt: float) -> dict:
        """``alpha_exc``, ``alpha_inh`` (conductance decays), ``dt_over_tau = dt/tau_mem`` and ``n_ref``.

        The membrane factor depends on the conductances: ``exp(-dt_over_tau * (1 + g_exc + g_inh))``.
        """
        self.validate(dt)
        return {"alpha_exc": math.exp(-dt / self.tau_exc), "alpha_inh": math.exp(-dt / self.tau_inh),
                "dt_over_tau": dt / self.tau_mem, "n_ref": refractory_steps(self.refractory, dt)}

    def initial_state(self, like) -> CobaLIFState:
        """Resting state (``v = E_L``, no conductance) shaped, typed and placed like ``like``."""
        z = like * 0.0
        return CobaLIFState(z + self.E_L, z, z, z)

    def step(self, state: CobaLIFState, current, dt: float, xp=np, decays: dict | None = None):
        """Advance one step (``current`` is :math:`R I` in mV): returns ``(spikes, new_state)``."""
        d = decays or self.decays(dt)
        v, g_exc, g_inh, refrac = state
        g_tot = 1.0 + g_exc + g_inh
        v_inf = (self.E_L + g_exc * self.E_exc + g_inh * self.E_inh + current) / g_tot
        v_int = v_inf + (v - v_inf) * xp.exp(-d["dt_over_tau"] * g_tot)
        g_exc, g_inh = g_exc * d["alpha_exc"], g_inh * d["alpha_inh"]
        spikes, _, v, refrac = _fire(xp, v, v_int, refrac, self.v_th, self.v_reset, self.reset, d["n_ref"])
        return spikes, CobaLIFState(v, g_exc, g_inh, refrac)

    def brian2_equations(self) -> Brian2Model:
        """The same model as brian2 equations (``v`` in volt, conductances dimensionless)."""
        b2 = _b2()
        mV, ms = b2.mV, b2.ms
        return Brian2Model(
            equations=("dv/dt = ((E_L - v) + g_exc * (E_exc - v) + g_inh * (E_inh - v) + I_ext) / tau_mem"
                       f" : volt{_unless_refractory(self)}\n"
                       "dg_exc/dt = -g_exc / tau_exc : 1\ndg_inh/dt = -g_inh / tau_inh : 1\nI_ext : volt"),
            threshold="v > v_th", reset=_reset_code(self.reset), refractory=self.refractory * ms,
            method="exponential_euler",
            namespace={"tau_mem": self.tau_mem * ms, "tau_exc": self.tau_exc * ms, "tau_inh": self.tau_inh * ms,
                       "E_L": self.E_L * mV, "E_exc": self.E_exc * mV, "E_inh": self.E_inh * mV,
                       "v_th": self.v_th * mV, "v_reset": self.v_reset * mV},
            input_code="I_ext = neurorec_input(t, i)", input_unit=mV,
            initial={"v": "E_L", "g_exc": "0", "g_inh": "0"})


class CubaLIFState(NamedTuple):
    """State of :class:`CubaLIF`: ``v``, synaptic currents ``i_exc``, ``i_inh`` (all mV), ``refrac``."""

    v: Any
    i_exc: Any
    i_inh: Any
    refrac: Any


@dataclass(frozen=True)
class CubaLIF(_Checked):
    r"""Current-based LIF neuron with separate exponential excitatory and inhibitory synaptic currents.

    .. math::

        \tau_{mem} \frac{dv}{dt} &= (E_L - v) + i_{exc} + i_{inh} + R I(t) \\
        \tau_{exc} \frac{di_{exc}}{dt} &= -i_{exc}, \qquad \tau_{inh} \frac{di_{inh}}{dt} = -i_{inh}

    All in mV (the synaptic "currents" are written as the voltage :math:`R\,i` they drive). A
    presynaptic spike makes its synaptic current jump (``Connection(..., variable="i_exc")`` or
    ``"i_inh"``, with a negative weight for inhibition). The defaults are the CUBA benchmark of
    Vogels & Abbott (2005) as specified by Brette et al. (2007, benchmark 2) and written in brian2's
    ``examples/CUBA.py``: :math:`E_L = -49` mV (above threshold: the neurons fire without input),
    :math:`v_{th} = -50` mV, :math:`v_{reset} = -60` mV, :math:`\tau_{mem} = 20` ms,
    :math:`\tau_{exc} = 5` ms, :math:`\tau_{inh} = 10` ms, refractory 5 ms; the benchmark's jumps are
    :math:`\Delta i_{exc} = 60 \times 0.27 / 10 = 1.62` mV and :math:`\Delta i_{inh} = -20 \times 4.5 / 10 = -9` mV.

    The equations are linear and are integrated exactly with the input :math:`RI` held over the
    step: :math:`v \leftarrow E_L + RI + (v - E_L - RI)\beta + k_{exc} i_{exc} + k_{inh} i_{inh}`,
    :math:`i_{exc} \leftarrow \alpha_{exc} i_{exc}`, :math:`i_{inh} \leftarrow \alpha_{inh} i_{inh}`, with
    :math:`\beta = e^{-\Delta t/\tau_{mem}}`, :math:`\alpha_x = e^{-\Delta t/\tau_x}` and
    :math:`k_x = \frac{\tau_x}{\tau_x - \tau_{mem}}(\alpha_x - \beta)` (brian2's ``method='exact'``).
    Threshold, reset and refractoriness as in :class:`LIF`; the synaptic currents keep decaying
    (and take jumps) during the refractory period.

    Parameters
    ----------
    tau_mem, tau_exc, tau_inh : float
        Membrane and synaptic time constants (ms).
    E_L : float
        Leak (resting) potential (mV).
    v_th, v_reset : float
        Threshold and reset (mV).
    reset : {"zero", "subtract"}
        ``"zero"``: :math:`v \leftarrow v_{reset}` (the benchmark); ``"subtract"`` as in :class:`LIF`.
    refractory : float
        Refractory period (ms).

    References
    ----------
    T. P. Vogels & L. F. Abbott (2005), "Signal propagation and logic gating in networks of
    integrate-and-fire neurons", J. Neurosci. 25(46); R. Brette et al. (2007), "Simulation of
    networks of spiking neurons: a review of tools and strategies", J. Comput. Neurosci. 23(3),
    benchmark 2.
    """

    tau_mem: float = 20.0
    tau_exc: float = 5.0
    tau_inh: float = 10.0
    E_L: float = -49.0
    v_th: float = -50.0
    v_reset: float = -60.0
    reset: str = "zero"
    refractory: float = 5.0

    def decays(self, dt: float) -> dict:
        """``beta`` (membrane), ``alpha_exc``, ``alpha_inh`` (currents), couplings ``k_exc``, ``k_inh``, ``n_ref``."""
        self.validate(dt)
        return {"beta": math.exp(-dt / self.tau_mem), "alpha_exc": math.exp(-dt / self.tau_exc),
                "alpha_inh": math.exp(-dt / self.tau_inh),
                "k_exc": _mix_coefficient(self.tau_exc, self.tau_mem, dt),
                "k_inh": _mix_coefficient(self.tau_inh, self.tau_mem, dt),
                "n_ref": refractory_steps(self.refractory, dt)}

    def initial_state(self, like) -> CubaLIFState:
        """Resting state (``v = E_L``, no synaptic current) shaped, typed and placed like ``like``."""
        z = like * 0.0
        return CubaLIFState(z + self.E_L, z, z, z)

    def step(self, state: CubaLIFState, current, dt: float, xp=np, decays: dict | None = None):
        """Advance one step (``current`` is :math:`R I` in mV): returns ``(spikes, new_state)``."""
        d = decays or self.decays(dt)
        v, i_exc, i_inh, refrac = state
        target = self.E_L + current
        v_int = target + (v - target) * d["beta"] + d["k_exc"] * i_exc + d["k_inh"] * i_inh
        i_exc, i_inh = i_exc * d["alpha_exc"], i_inh * d["alpha_inh"]
        spikes, _, v, refrac = _fire(xp, v, v_int, refrac, self.v_th, self.v_reset, self.reset, d["n_ref"])
        return spikes, CubaLIFState(v, i_exc, i_inh, refrac)

    def brian2_equations(self) -> Brian2Model:
        """The same model as brian2 equations (``v`` in volt; ``i_exc``, ``i_inh`` dimensionless, in mV).

        The synaptic currents are plain numbers of mV (as :class:`CobaLIF`'s conductances are numbers
        of :math:`g_L`), so that connection weights and initial values carry no unit; only ``v``
        and the input are in volt.
        """
        b2 = _b2()
        mV, ms = b2.mV, b2.ms
        sym_e, tau_exc = _second_tau(self.tau_exc, self, "tau_exc")
        sym_i, tau_inh = _second_tau(self.tau_inh, self, "tau_inh")
        return Brian2Model(
            equations=("dv/dt = (E_L - v + (i_exc + i_inh) * unit_mV + I_ext) / tau_mem"
                       f" : volt{_unless_refractory(self)}\n"
                       f"di_exc/dt = -i_exc / {sym_e} : 1\ndi_inh/dt = -i_inh / {sym_i} : 1\nI_ext : volt"),
            threshold="v > v_th", reset=_reset_code(self.reset), refractory=self.refractory * ms,
            method="exact",
            namespace={"tau_mem": self.tau_mem * ms, "tau_exc": tau_exc * ms, "tau_inh": tau_inh * ms,
                       "E_L": self.E_L * mV, "v_th": self.v_th * mV, "v_reset": self.v_reset * mV,
                       "unit_mV": 1.0 * mV},
            input_code="I_ext = neurorec_input(t, i)", input_unit=mV,
            initial={"v": "E_L", "i_exc": "0", "i_inh": "0"})


NEURON_MODELS = {"lif": LIF, "synaptic_lif": SynapticLIF, "adaptive_lif": AdaptiveLIF, "coba_lif": CobaLIF,
                 "cuba_lif": CubaLIF}


def simulate(model, current, dt: float, state=None, xp=None):
    """Run ``model.step`` over an input sequence (reference loop for numpy or torch).

    Parameters
    ----------
    model : LIF, SynapticLIF, AdaptiveLIF or CobaLIF
    current : array of shape (T, ...) (numpy array or torch tensor)
        Input of each step (see the model's docstring for where it enters).
    dt : float
        Time step (ms).
    state : state tuple, optional
        Initial state; the model's resting state by default.
    xp : module, optional
        Array namespace; ``torch`` for a tensor input, ``numpy`` otherwise.

    Returns
    -------
    spikes : array of shape (T, ...), in the input's dtype (0/1)
    state : the final state
    """
    if xp is None:
        xp = np
        if type(current).__module__.startswith("torch"):
            import torch as xp
    model.validate(dt)
    if current.ndim < 1 or current.shape[0] == 0:
        raise ValueError(f"current must have shape (T, ...) with T >= 1, got shape {tuple(current.shape)}.")
    d = model.decays(dt)
    state = model.initial_state(current[0]) if state is None else state
    out = []
    for n in range(current.shape[0]):
        spikes, state = model.step(state, current[n], dt, xp=xp, decays=d)
        out.append(spikes)
    return xp.stack(out), state
