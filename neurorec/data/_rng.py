"""Explicit random generators and lazy imports of optional engines."""

from __future__ import annotations

import importlib

import numpy as np


def as_generator(seed) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``; never touches the global RNG.

    ``None`` gives a freshly seeded generator (not reproducible), an ``int`` a generator seeded
    with it, and a ``Generator`` is returned as is (and is advanced by the caller's draws).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)):
        if seed is not None and seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}.")
        return np.random.default_rng(seed)
    raise ValueError(f"seed must be None, a non-negative int or a numpy.random.Generator, "
                     f"got {type(seed).__name__} {seed!r}.")


def optional_import(module: str, extra: str, what: str):
    """Import ``module`` or raise an ImportError that names the neurorec extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs the package providing '{module}', which is not "
                          f"installed; install it with: pip install \"neurorec[{extra}]\"") from exc
