"""Shared safety checks for closed-loop ``generate``: the requested length and a divergence guard.

Two rules hold for every model's ``generate``:

* ``n_steps`` must be an integer >= 1 (not a bool, not a float), and the output array it asks for
  (``batch x n_steps x outputs`` values) must not exceed :data:`MAX_GENERATE_ELEMENTS` (2**31 values,
  8 GiB at float32); longer requests are refused before any work, with the memory they would need.
* A trajectory that becomes non-finite or whose magnitude exceeds :data:`DIVERGENCE_FACTOR` (1e6)
  times its reference scale (the largest finite magnitude of the warm-up, or 1 when that is 0) has
  diverged: ``on_divergence="raise"`` (the default) raises a :class:`FloatingPointError` naming the
  first such step and the threshold; ``"warn"`` issues a :class:`RuntimeWarning` with the same text
  and returns the trajectory as computed.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["MAX_GENERATE_ELEMENTS", "DIVERGENCE_FACTOR", "ON_DIVERGENCE", "check_n_steps",
           "check_on_divergence", "divergence_threshold", "DivergenceGuard"]

#: Largest output (batch x n_steps x outputs values) ``generate`` will produce.
MAX_GENERATE_ELEMENTS = 2**31
#: A generated value beyond this factor times the reference scale counts as divergence.
DIVERGENCE_FACTOR = 1e6
ON_DIVERGENCE = ("raise", "warn")
#: Steps between two divergence checks (the first bad step is still located exactly).
CHECK_EVERY = 64


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


def check_n_steps(n_steps, batch: int, outputs: int, dtype) -> int:
    """``n_steps`` as an int, or a ValueError naming it, its value and what is allowed (an integer
    >= 1 whose output, ``batch x n_steps x outputs`` values, fits in :data:`MAX_GENERATE_ELEMENTS`)."""
    if isinstance(n_steps, (bool, np.bool_)) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1 (not a bool or a float), got {n_steps!r}.")
    n_steps = int(n_steps)
    elements = batch * n_steps * outputs
    if elements > MAX_GENERATE_ELEMENTS:
        itemsize = np.dtype(dtype).itemsize
        limit_steps = MAX_GENERATE_ELEMENTS // max(1, batch * outputs)
        raise ValueError(
            f"n_steps={n_steps} is too long: the output alone would hold {batch} x {n_steps} x {outputs} = "
            f"{elements} values ({_gib(elements * itemsize)} at {np.dtype(dtype).name}), above the limit of "
            f"{MAX_GENERATE_ELEMENTS} values ({_gib(MAX_GENERATE_ELEMENTS * itemsize)}); n_steps may be at most "
            f"{limit_steps} here (generate in pieces by passing the end of one forecast as the next warm-up).")
    return n_steps


def check_on_divergence(on_divergence) -> str:
    if not isinstance(on_divergence, str) or on_divergence not in ON_DIVERGENCE:
        raise ValueError(f"on_divergence must be one of {ON_DIVERGENCE}, got {on_divergence!r}.")
    return on_divergence


def start_generate(model, warmup, n_steps, on_divergence: str):
    """The checks every ``generate`` of a fitted one-step forecaster makes before running:
    returns ``(batch, n_steps, guard)``, or raises a ValueError naming what is wrong (``n_steps``,
    ``on_divergence``, a model whose outputs are not its inputs, warm-ups of unequal length)."""
    from neurorec._validation import check_sequences

    model._check_fitted("generate")
    batch = check_sequences(warmup, "warmup", n_features=model.n_features_in_, dtype=np.dtype(model.dtype))
    n_steps = check_n_steps(n_steps, batch.batch, model.n_outputs_, model.dtype)
    check_on_divergence(on_divergence)
    if model.task_ != "regression" or model.n_outputs_ != model.n_features_in_:
        raise ValueError(f"generate needs a one-step forecaster (outputs == features); this {type(model).__name__} "
                         f"maps {model.n_features_in_} features to {model.n_outputs_} outputs ({model.task_}).")
    if not batch.uniform:
        raise ValueError("generate needs warm-up sequences of equal length.")
    return batch, n_steps, DivergenceGuard(type(model).__name__, divergence_threshold(batch.data), on_divergence)


def divergence_threshold(*references) -> float:
    """``DIVERGENCE_FACTOR`` times the largest finite magnitude among ``references`` (1 if none)."""
    scale = 0.0
    for r in references:
        a = np.abs(np.asarray(r, dtype=np.float64))
        a = a[np.isfinite(a)]
        if a.size:
            scale = max(scale, float(a.max()))
    return DIVERGENCE_FACTOR * (scale if scale > 0 else 1.0)


class DivergenceGuard:
    """Checks the generated steps ``[0, t)`` of an output laid out (batch, n_steps, outputs) in
    blocks of :data:`CHECK_EVERY` steps; ``check(out, t)`` returns True once divergence was found
    (then it has raised or warned), so the caller may stop early."""

    def __init__(self, model_name: str, threshold: float, on_divergence: str):
        self.model_name = model_name
        self.threshold = float(threshold)
        self.on_divergence = on_divergence
        self.checked = 0
        self.diverged = False

    def due(self, t: int) -> bool:
        return not self.diverged and t - self.checked >= CHECK_EVERY

    def check(self, block, start: int) -> bool:
        """Inspect ``block`` (batch, steps, outputs) holding steps ``start ..``; numpy or torch."""
        if self.diverged:
            return True
        if hasattr(block, "detach"):  # a torch tensor: reduce on its device, move one flag per step
            b = block.detach()
            bad = (~b.isfinite() | (b.abs() > self.threshold)).flatten(2).any(2).any(0).cpu().numpy()
        else:
            b = np.asarray(block)
            with np.errstate(invalid="ignore"):
                bad = (~np.isfinite(b) | (np.abs(b) > self.threshold)).reshape(b.shape[0], b.shape[1], -1)
            bad = bad.any(2).any(0)
        self.checked = start + len(bad)
        if not bad.any():
            return False
        k = int(np.argmax(bad))
        step = start + k
        vals = np.asarray(block[:, k].detach().cpu().numpy() if hasattr(block, "detach") else block[:, k])
        kind = "non-finite" if not np.isfinite(vals).all() else f"|y| = {np.nanmax(np.abs(vals)):.3g}"
        msg = (f"{self.model_name}.generate diverged at step {step} (0-based): {kind}, beyond the threshold "
               f"{self.threshold:.3g} (non-finite, or |y| > {DIVERGENCE_FACTOR:g} x the warm-up's largest "
               f"magnitude). The closed loop is unstable; try a smaller spectral radius / more ridge, or "
               f"on_divergence='warn' to get the trajectory anyway.")
        self.diverged = True
        if self.on_divergence == "raise":
            raise FloatingPointError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)
        return True
