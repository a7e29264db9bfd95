r"""Given spike trains as a population: :class:`SpikeSource` and :class:`SpikeTrains`.

A :class:`~neurorec.models.spiking.network.Population` whose ``neuron`` is a :class:`SpikeSource`
has no dynamics: its spikes are passed to the run (``Network.run(..., sources={name: trains})``)
and it drives other populations through ordinary (optionally plastic) connections, like brian2's
``SpikeGeneratorGroup`` or ``PoissonGroup``. Because neurorec draws the spikes itself, every engine
(brian2, numpy, torch) receives the same events.

:class:`SpikeTrains` holds the events as index arrays (copy, step, neuron) rather than a dense
``(batch, T, N)`` array: 1,000 inputs at 15 Hz for 100 s at ``dt`` = 0.1 ms are 1.5 million events
(36 MB of indices) against :math:`10^9` dense entries.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

__all__ = ["SpikeSource", "SpikeTrains"]


class _NoState(NamedTuple):
    """A spike source has no state variables."""


@dataclass(frozen=True)
class SpikeSource:
    """Neuron description of a population of given spike trains (no state, no dynamics).

    Connections may leave such a population (with delays and STDP) but not enter it; its spikes
    at step :math:`n` act exactly like those of a neuron that fired at step :math:`n`.
    """

    refractory: float = 0.0

    def validate(self, dt: float) -> None:
        if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive, finite time step in ms, got {dt!r}.")

    def initial_state(self, like):
        return _NoState()


def _check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


@dataclass(frozen=True, eq=False)
class SpikeTrains:
    """Spike events of ``n`` neurons over ``n_steps`` steps in ``batch`` independent copies.

    Parameters
    ----------
    copy, step, neuron : array_like of int
        One entry per spike: the batch copy, the step (0-based) and the neuron. Duplicates
        (the same copy, step and neuron twice) are merged.
    shape : tuple of int
        ``(batch, n_steps, n)``.

    Notes
    -----
    Build them with :meth:`from_dense`, :meth:`poisson` or :meth:`concatenate`. Events are
    step indices, like a dense array: the same trains drive a network of another ``dt`` at
    rates scaled by the ratio of the time steps, so draw them with the network's ``dt``.
    """

    copy: np.ndarray
    step: np.ndarray
    neuron: np.ndarray
    shape: tuple

    def __post_init__(self):
        if not (isinstance(self.shape, tuple | list) and len(self.shape) == 3):
            raise ValueError(f"shape must be (batch, n_steps, n), got {self.shape!r}.")
        B, T, N = (_check_int(v, name) for v, name in zip(self.shape, ("batch", "n_steps", "n"), strict=True))
        arrays = []
        for name, hi in (("copy", B), ("step", T), ("neuron", N)):
            a = np.asarray(getattr(self, name))
            if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
                raise ValueError(f"{name} must be a 1-d integer array, got dtype {a.dtype} and shape {a.shape}.")
            a = a.astype(np.int64)
            if a.size and (a.min() < 0 or a.max() >= hi):
                raise ValueError(f"{name} indices must lie in [0, {hi}), got values in [{a.min()}, {a.max()}].")
            arrays.append(a)
        if len({a.size for a in arrays}) != 1:
            raise ValueError(f"copy, step and neuron must have the same length, got {[a.size for a in arrays]}.")
        c, s, n = arrays
        key = np.unique((c * T + s) * N + n)  # sorted by copy, then step, then neuron; duplicates merged
        object.__setattr__(self, "copy", key // (T * N))
        object.__setattr__(self, "step", (key // N) % T)
        object.__setattr__(self, "neuron", key % N)
        object.__setattr__(self, "shape", (B, T, N))

    @property
    def n_spikes(self) -> int:
        return int(self.step.size)

    @property
    def dense_nbytes(self) -> int:
        return int(np.prod(self.shape))

    @classmethod
    def from_dense(cls, spikes) -> SpikeTrains:
        """Events of a 0/1 array ``(batch, T, n)`` or ``(T, n)`` (numpy or torch)."""
        if type(spikes).__module__.startswith("torch"):
            spikes = spikes.detach().cpu().numpy()
        a = np.asarray(spikes)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or 0 in a.shape:
            raise ValueError(f"spikes must have shape (batch, T, n) or (T, n) with no empty axis, "
                             f"got {np.shape(spikes)}.")
        if not np.isin(a, (0, 1)).all():
            raise ValueError("spikes must hold only 0 and 1.")
        c, s, n = np.nonzero(a)
        return cls(c, s, n, a.shape)

    def dense(self) -> np.ndarray:
        """The events as a uint8 array ``(batch, n_steps, n)``."""
        out = np.zeros(self.shape, dtype=np.uint8)
        out[self.copy, self.step, self.neuron] = 1
        return out

    def counts(self, before: int | None = None) -> np.ndarray:
        """Spikes of each neuron (summed over copies), only those at steps ``< before`` if given."""
        keep = self.neuron if before is None else self.neuron[self.step < before]
        return np.bincount(keep, minlength=self.shape[2]).astype(np.float64)

    def rates(self, dt: float) -> np.ndarray:
        """Mean firing rate of each neuron (Hz) over the copies and steps, for a time step ``dt`` ms."""
        B, T, _ = self.shape
        return self.counts() / (B * T * dt * 1e-3)

    @classmethod
    def concatenate(cls, parts) -> SpikeTrains:
        """Join trains with the same batch and steps along the neuron axis (the first part's
        neurons first)."""
        parts = list(parts)
        if not parts or not all(isinstance(p, SpikeTrains) for p in parts):
            raise ValueError("concatenate needs a non-empty sequence of SpikeTrains.")
        B, T = parts[0].shape[:2]
        if any(p.shape[:2] != (B, T) for p in parts):
            raise ValueError(f"all parts need the same (batch, n_steps), got {[p.shape[:2] for p in parts]}.")
        offsets = np.cumsum([0] + [p.shape[2] for p in parts])
        return cls(np.concatenate([p.copy for p in parts]), np.concatenate([p.step for p in parts]),
                   np.concatenate([p.neuron + o for p, o in zip(parts, offsets, strict=False)]),
                   (B, T, int(offsets[-1])))

    @classmethod
    def poisson(cls, rate, n_steps: int, dt: float, *, n: int | None = None, batch: int = 1,
                correlation: float = 0.0, seed=None) -> SpikeTrains:
        r"""Poisson spike trains in discrete time: each neuron fires in each step with probability
        :math:`p = r\,\Delta t` (brian2's ``PoissonGroup`` convention).

        With ``correlation`` :math:`c > 0` the neurons form one correlated group by the single
        interaction process of Kuhn, Aertsen & Rotter (2003): each neuron's train is the union of
        its own Poisson train at rate :math:`(1-c)\,r` and a train at rate :math:`c\,r` shared by
        the whole group (one per batch copy), so every pair has spike-count correlation close to
        :math:`c` and each neuron still fires at rate :math:`r` (up to coincidences within a step).

        Parameters
        ----------
        rate : float or array_like of shape (n,)
            Rate in Hz (one for all neurons, or one per neuron; a single rate with ``correlation``).
        n_steps : int
        dt : float
            Time step in ms.
        n : int, optional
            Number of neurons (required when ``rate`` is a scalar).
        batch : int
            Independent copies.
        correlation : float
            Pairwise correlation :math:`c \in [0, 1]` of the group.
        seed : int, numpy Generator or None

        References
        ----------
        A. Kuhn, A. Aertsen & S. Rotter (2003), "Higher-order statistics of input ensembles and
        the response of simple model neurons", Neural Computation 15(1).
        """
        T, B = _check_int(n_steps, "n_steps"), _check_int(batch, "batch")
        if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
            raise ValueError(f"dt must be a positive, finite time step in ms, got {dt!r}.")
        r = np.asarray(rate, dtype=np.float64)
        if r.ndim == 0:
            if n is None:
                raise ValueError("pass n (the number of neurons) with a single rate.")
            N = _check_int(n, "n")
            r = np.full(N, float(r))
        elif r.ndim == 1:
            N = r.size
            if n is not None and n != N:
                raise ValueError(f"n={n!r} disagrees with the {N} rates given.")
        else:
            raise ValueError(f"rate must be a number or a 1-d array of rates, got shape {r.shape}.")
        if not (np.isfinite(r).all() and (r >= 0).all()):
            raise ValueError("rates must be finite and >= 0 Hz.")
        if not (isinstance(correlation, numbers.Real) and 0.0 <= correlation <= 1.0):
            raise ValueError(f"correlation must be in [0, 1], got {correlation!r}.")
        p = r * dt * 1e-3
        if (p > 1).any():
            raise ValueError(f"rate * dt exceeds one spike per step (max {p.max():.3g}); lower the rate or dt.")
        if correlation > 0 and not np.allclose(r, r[0]):
            raise ValueError("a correlated group needs one rate for all its neurons.")
        rng = np.random.default_rng(seed)
        c_, s_, n_ = [], [], []
        for b in range(B):
            steps, neurons = _bernoulli_events(rng, (1.0 - correlation) * p, T)
            if correlation > 0:
                shared, _ = _bernoulli_events(rng, np.array([correlation * p[0]]), T)
                steps = np.concatenate([steps, np.repeat(shared, N)])
                neurons = np.concatenate([neurons, np.tile(np.arange(N), shared.size)])
            c_.append(np.full(steps.size, b))
            s_.append(steps)
            n_.append(neurons)
        return cls(np.concatenate(c_), np.concatenate(s_), np.concatenate(n_), (B, T, N))


def _bernoulli_events(rng: np.random.Generator, p: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """(steps, neurons) of independent Bernoulli(p_i) processes over T steps, drawn as geometric
    gaps between successes (exact, without a dense (T, n) draw)."""
    steps, neurons = [], []
    for i, pi in enumerate(p):
        if pi <= 0:
            continue
        if pi >= 1:
            s = np.arange(T)
        else:
            k = int(T * pi + 8 * math.sqrt(T * pi) + 16)
            s = np.cumsum(rng.geometric(pi, size=k)) - 1
            while s[-1] < T:  # rare: draw more gaps
                s = np.concatenate([s, s[-1] + np.cumsum(rng.geometric(pi, size=k))])
            s = s[s < T]
        steps.append(s)
        neurons.append(np.full(s.size, i))
    if not steps:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(steps), np.concatenate(neurons)
