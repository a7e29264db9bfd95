"""Synthetic benchmark series: Mackey-Glass, NARMA10, Lorenz-63 and memory-capacity data.

Every generator is a pure function of its arguments. ``seed`` is ``None`` (fresh entropy), an
``int`` or a :class:`numpy.random.Generator`; the global NumPy/Python RNGs are never touched.
Outputs are float64 arrays of shape ``(n_steps, features)``.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from ._rng import as_generator, optional_import

__all__ = ["mackey_glass", "narma10", "lorenz", "memory_capacity_data"]


def mackey_glass(n_steps: int, tau: int = 17, seed=None, *, a: float = 0.2, b: float = 0.1,
                 n: int = 10, x0: float = 1.2, h: float = 1.0, discard: int = 500) -> np.ndarray:
    r"""Mackey-Glass delay-differential series (Mackey & Glass 1977).

    .. math::

        \frac{dx}{dt} = a \frac{x(t-\tau)}{1 + x(t-\tau)^n} - b\, x(t)

    integrated with step ``h`` by :func:`reservoirpy.datasets.mackey_glass` (the scheme
    reservoirpy uses, with the delayed term held fixed over a step), from a random history of
    length ``tau / h`` around ``x0`` drawn from ``seed``. The series is chaotic for ``tau = 17``
    (the classic benchmark of Jaeger & Haas 2004, values in roughly ``[0.4, 1.35]``) and more
    strongly so for ``tau = 30``.

    Parameters
    ----------
    n_steps : int
        Number of samples returned (one per ``h`` time units).
    tau : int, default 17
        Delay :math:`\tau`; 17 and 30 are the usual benchmark values.
    seed : None, int or numpy.random.Generator
        Draws the initial history; different seeds give different trajectories.
    a, b, n : float, float, int
        Parameters of the equation (defaults 0.2, 0.1, 10).
    x0 : float, default 1.2
        Centre of the initial history.
    h : float, default 1.0
        Time between two samples (and integration step).
    discard : int, default 500
        Initial transient removed before the ``n_steps`` returned samples. With
        ``discard=0`` the output equals ``reservoirpy.datasets.mackey_glass(n_steps, tau=tau,
        seed=rng)`` for the same generator ``rng``.

    Returns
    -------
    ndarray of shape (n_steps, 1), float64

    References
    ----------
    M. C. Mackey and L. Glass, "Oscillation and chaos in physiological control systems",
    Science 197(4300), 287-289, 1977. doi:10.1126/science.267326.

    H. Jaeger and H. Haas, "Harnessing nonlinearity: predicting chaotic systems and saving
    energy in wireless communication", Science 304(5667), 78-80, 2004.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    tau = check_positive_int(tau, "tau")
    discard = check_positive_int(discard, "discard", minimum=0)
    rpd = optional_import("reservoirpy.datasets", "cpu", "mackey_glass")
    rng = as_generator(seed)
    x = rpd.mackey_glass(n_steps + discard, tau=tau, a=a, b=b, n=n, x0=x0, h=h, seed=rng)
    return np.asarray(x, dtype=np.float64).reshape(-1, 1)[discard:]


def narma10(n_steps: int, seed=None, *, transient: int = 200) -> tuple[np.ndarray, np.ndarray]:
    r"""NARMA10 system, in the convention of Atiya & Parlos (2000).

    .. math::

        y(t+1) = 0.3\, y(t) + 0.05\, y(t) \sum_{i=0}^{9} y(t-i)
                 + 1.5\, u(t-9)\, u(t) + 0.1, \qquad u(t) \sim \mathcal U[0, 0.5]

    started from :math:`y = 0` and run for ``transient + n_steps`` steps; the first
    ``transient`` steps (default 200) are discarded so the returned ``y`` is on its stationary
    regime. ``u`` and ``y`` are returned on the same time index ``t`` of the formula, so
    ``y[t + 1]`` depends on ``u[t]`` and ``u[t - 9]``: the causal one-step task is to output
    ``y[t + 1]`` having seen ``u[..t]`` (what the ``"narma10"`` task does).

    The recurrence can, for rare input draws, diverge; the series is then redrawn from the same
    generator (deterministic for a seed) up to 10 times before a ``RuntimeError``.

    Notes
    -----
    ``reservoirpy.datasets.narma(order=10)`` uses a shifted index: its update is
    ``y[t+1] = a1 y[t] + a2 y[t] * sum(y[t-10 : t]) + b u[t-10] u[t] + c``, i.e. the sum runs
    over ``y[t-order .. t-1]`` (it leaves out ``y[t]``) and the product uses ``u[t-order]``
    instead of ``u[t-9]``. On the same input the two series therefore differ (its defaults,
    ``a1=0.2, a2=0.04, c=0.001``, are also those of NARMA30, not NARMA10).

    Parameters
    ----------
    n_steps : int
        Number of samples returned.
    seed : None, int or numpy.random.Generator
        Draws the input ``u``.
    transient : int, default 200
        Initial steps computed and discarded.

    Returns
    -------
    u : ndarray of shape (n_steps, 1), float64
        Input in ``[0, 0.5]``.
    y : ndarray of shape (n_steps, 1), float64
        System output on the same time index.

    References
    ----------
    A. F. Atiya and A. G. Parlos, "New results on recurrent network training: unifying the
    algorithms and accelerating convergence", IEEE Trans. Neural Networks 11(3), 697-709, 2000.
    doi:10.1109/72.846741.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    transient = check_positive_int(transient, "transient", minimum=0)
    rng = as_generator(seed)
    total = n_steps + transient
    for _ in range(10):
        u = rng.uniform(0.0, 0.5, size=total)
        y = _narma10_recurrence(u)
        if np.all(np.isfinite(y)) and np.abs(y).max() < 10.0:
            return u[transient:].reshape(-1, 1), y[transient:].reshape(-1, 1)
    raise RuntimeError("NARMA10 diverged for 10 input draws in a row; try another seed.")


def _narma10_recurrence(u: np.ndarray) -> np.ndarray:
    """y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t-i) + 1.5 u(t-9) u(t) + 0.1; y starts at 0."""
    uu = u.tolist()
    y = [0.0] * len(uu)
    for t in range(9, len(uu) - 1):
        yt = y[t]
        y[t + 1] = 0.3 * yt + 0.05 * yt * sum(y[t - 9: t + 1]) + 1.5 * uu[t - 9] * uu[t] + 0.1
        if not -1e6 < y[t + 1] < 1e6:  # diverged (or NaN); the caller redraws
            y[t + 1] = np.inf
            break
    return np.asarray(y, dtype=np.float64)


def lorenz(n_steps: int, dt: float = 0.01, seed=None, *, sigma: float = 10.0, rho: float = 28.0,
           beta: float = 8.0 / 3.0, discard: int = 1000) -> np.ndarray:
    r"""Lorenz-63 system sampled every ``dt`` (Lorenz 1963).

    .. math::

        \dot x = \sigma (y - x), \qquad \dot y = x (\rho - z) - y, \qquad
        \dot z = x y - \beta z

    integrated with :func:`scipy.integrate.solve_ivp` (DOP853, ``rtol = atol = 1e-9``) from
    ``(1, 1, 1)`` plus a uniform perturbation in ``[-1, 1]^3`` drawn from ``seed``; the first
    ``discard`` samples (default 1000, i.e. 10 time units at ``dt = 0.01``) are removed so the
    series is on the attractor.

    Parameters
    ----------
    n_steps : int
        Number of samples returned.
    dt : float, default 0.01
        Time between samples.
    seed : None, int or numpy.random.Generator
        Draws the initial condition.
    sigma, rho, beta : float
        Parameters (defaults 10, 28, 8/3: the chaotic regime).
    discard : int, default 1000
        Initial samples removed.

    Returns
    -------
    ndarray of shape (n_steps, 3), float64
        Columns ``x, y, z``.

    References
    ----------
    E. N. Lorenz, "Deterministic nonperiodic flow", J. Atmos. Sci. 20(2), 130-141, 1963.
    doi:10.1175/1520-0469(1963)020<0130:DNF>2.0.CO;2.
    """
    from scipy.integrate import solve_ivp

    n_steps = check_positive_int(n_steps, "n_steps")
    discard = check_positive_int(discard, "discard", minimum=0)
    if not dt > 0:
        raise ValueError(f"dt must be > 0, got {dt!r}.")
    rng = as_generator(seed)
    x0 = np.ones(3) + rng.uniform(-1.0, 1.0, size=3)

    def rhs(_t, s):
        x, y, z = s
        return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]

    total = n_steps + discard
    t_eval = np.arange(total) * dt
    sol = solve_ivp(rhs, (0.0, t_eval[-1]), x0, method="DOP853", t_eval=t_eval,
                    rtol=1e-9, atol=1e-9)
    if not sol.success:  # pragma: no cover - DOP853 does not fail on Lorenz-63
        raise RuntimeError(f"Lorenz integration failed: {sol.message}")
    return np.ascontiguousarray(sol.y.T[discard:], dtype=np.float64)


def memory_capacity_data(n_steps: int, max_delay: int, seed=None) -> tuple[np.ndarray, np.ndarray]:
    r"""Input and delayed targets for the short-term memory-capacity task (Jaeger 2001).

    .. math::

        u(t) \sim \mathcal U[-1, 1] \text{ i.i.d.}, \qquad Y_{t, k-1} = u(t - k),
        \quad k = 1, \dots, K

    with ``K = max_delay`` and ``Y[t, k-1] = 0`` where ``t - k < 0``. Those zeros are not delayed
    inputs, so the first ``max_delay`` steps must be discarded (or at least not scored).
    Score with :func:`neurorec.metrics.memory_capacity`.

    Parameters
    ----------
    n_steps : int
        Length of the series.
    max_delay : int
        Largest delay ``K`` (number of target columns).
    seed : None, int or numpy.random.Generator
        Draws ``u``.

    Returns
    -------
    u : ndarray of shape (n_steps, 1), float64
    Y : ndarray of shape (n_steps, max_delay), float64

    References
    ----------
    H. Jaeger, "Short term memory in echo state networks", GMD Report 152, 2001.
    """
    n_steps = check_positive_int(n_steps, "n_steps")
    max_delay = check_positive_int(max_delay, "max_delay")
    rng = as_generator(seed)
    u = rng.uniform(-1.0, 1.0, size=(n_steps, 1))
    Y = np.zeros((n_steps, max_delay), dtype=np.float64)
    for k in range(1, min(max_delay, n_steps - 1) + 1):
        Y[k:, k - 1] = u[:-k, 0]
    return u, Y
