"""Array backends: ``numpy`` (CPU) and ``torch`` (CPU or CUDA).

A backend is chosen per model through its ``backend`` and ``device`` hyperparameters,
never globally. Model code is written once against the few primitives of
:class:`~neurorec.backends.ops.Ops`; only the array library differs. Engines that are
optional (torch, reservoirpy, brian2, snntorch) are imported lazily, so ``import neurorec``
stays fast and a missing engine gives an install hint.
"""

from neurorec.backends.ops import Ops, get_ops, require

__all__ = ["Ops", "get_ops", "require"]
