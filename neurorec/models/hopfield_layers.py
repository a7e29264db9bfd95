r"""Modern Hopfield retrieval as torch layers, for use inside gradient-trained models.

The update of :class:`neurorec.models.hopfield.ModernHopfield`,
:math:`\xi \leftarrow X\,\mathrm{softmax}(\beta X^\top \xi)` (Ramsauer et al. 2021), written as
``torch.nn.Module`` objects that back-propagate into the queries, the stored patterns and
:math:`\beta`:

* :class:`HopfieldLookup`: a memory of ``n_patterns`` learnable patterns; every input vector is a
  state pattern and is replaced by its retrieval (an associative lookup table).
* :class:`HopfieldPooling`: ``n_queries`` learnable state patterns retrieve from the input
  sequence, which serves as the stored patterns: a sequence ``(batch, time, dim)`` becomes
  ``(batch, n_queries, dim)`` (attention pooling; padded steps are masked).

Importing this module imports torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["hopfield_retrieve", "HopfieldLookup", "HopfieldPooling"]


def hopfield_retrieve(state: torch.Tensor, stored: torch.Tensor, beta, steps: int = 1,
                      mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""``steps`` updates :math:`\xi \leftarrow X\,\mathrm{softmax}(\beta X^\top\xi)`.

    The softmax is computed in a form that never overflows: the overlaps are formed from the
    state and stored patterns divided by their largest magnitudes (:math:`a` per state, :math:`b`
    per memory, constants for autograd), the largest overlap of each state is subtracted, and only
    then is the difference multiplied by :math:`\beta a b` (capped at the dtype's largest number).
    So the largest logit is exactly 0 and huge inputs or a huge ``beta`` (e.g. patterns times
    1e39, ``beta=1e308``) give the nearest pattern (ties share the weight), never NaN. The result
    equals the textbook formula wherever that one is finite.

    Parameters
    ----------
    state : Tensor (..., q, dim)
        State patterns :math:`\xi` (queries).
    stored : Tensor (..., p, dim)
        Stored patterns :math:`X` (keys and values), broadcast against ``state``'s batch axes.
    beta : float or Tensor
        Inverse temperature (> 0).
    steps : int
    mask : Tensor (..., p) of bool, optional
        False marks stored patterns to ignore (padding).
    """
    big = torch.finfo(stored.dtype).max if stored.is_floating_point() else float("inf")
    for _ in range(steps):
        with torch.no_grad():
            a = state.abs().amax(-1, keepdim=True)                     # (..., q, 1)
            b = stored.abs().amax((-1, -2), keepdim=True)              # (..., 1, 1)
            a = torch.where(a > 0, a, torch.ones_like(a))
            b = torch.where(b > 0, b, torch.ones_like(b))
        # |overlap| <= dim: finite for any finite state and stored patterns
        overlap = (state / a) @ (stored / b).transpose(-1, -2)
        keep = None if mask is None else mask.unsqueeze(-2)
        with torch.no_grad():
            top = overlap if keep is None else overlap.masked_fill(~keep, float("-inf"))
            top = top.amax(-1, keepdim=True)
            top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))  # a fully masked row
        scale = torch.clamp(beta * a * b, max=big)
        # beta * overlap * a * b - const: the largest logit is exactly 0, the others <= 0; padded
        # entries are set to -inf only after the product, so no gradient meets inf * 0
        diff = overlap - top
        if keep is not None:
            diff = diff.masked_fill(~keep, 0.0)
        scores = scale * diff
        if keep is not None:
            scores = scores.masked_fill(~keep, float("-inf"))
        state = torch.softmax(scores, dim=-1) @ stored
    return state


class HopfieldLookup(nn.Module):
    """Associative memory of ``n_patterns`` learnable ``dim``-vectors; ``forward(x)`` retrieves
    for every vector of ``x`` (..., dim). ``beta`` is learnable when ``learn_beta``."""

    def __init__(self, n_patterns: int, dim: int, beta: float = 1.0, steps: int = 1, learn_beta: bool = False,
                 patterns: torch.Tensor | None = None):
        super().__init__()
        if n_patterns < 1 or dim < 1 or steps < 1 or not beta > 0:
            raise ValueError(f"n_patterns, dim, steps must be >= 1 and beta > 0, got {n_patterns}, {dim}, "
                             f"{steps}, {beta}.")
        init = torch.randn(n_patterns, dim) / math.sqrt(dim) if patterns is None else patterns.clone()
        if init.shape != (n_patterns, dim):
            raise ValueError(f"patterns must have shape ({n_patterns}, {dim}), got {tuple(init.shape)}.")
        self.patterns = nn.Parameter(init)
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)), requires_grad=learn_beta)
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        out = hopfield_retrieve(x.reshape(-1, shape[-1]), self.patterns, self.log_beta.exp(), self.steps)
        return out.reshape(shape)


class HopfieldPooling(nn.Module):
    """Pool a sequence (batch, time, dim) into (batch, n_queries, dim) with learnable state
    patterns retrieving from the sequence's steps; ``lengths`` (batch,) masks padding."""

    def __init__(self, dim: int, n_queries: int = 1, beta: float | None = None, learn_beta: bool = False):
        super().__init__()
        if dim < 1 or n_queries < 1:
            raise ValueError(f"dim and n_queries must be >= 1, got {dim}, {n_queries}.")
        beta = 1.0 / math.sqrt(dim) if beta is None else beta
        if not beta > 0:
            raise ValueError(f"beta must be > 0, got {beta}.")
        self.queries = nn.Parameter(torch.randn(n_queries, dim) / math.sqrt(dim))
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)), requires_grad=learn_beta)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        mask = None
        if lengths is not None:
            mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
        q = self.queries.expand(x.shape[0], -1, -1)
        return hopfield_retrieve(q, x, self.log_beta.exp(), 1, mask)
