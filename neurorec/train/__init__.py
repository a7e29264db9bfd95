"""Gradient training for torch modules: optimisers, schedules, early stopping, checkpoints.

:func:`fit_module` is the one training loop every torch-trained neurorec model reuses (the
Elman, Jordan, LSTM and GRU baselines, and spiking networks trained with surrogate
gradients). It needs PyTorch: ``pip install "neurorec[torch]"``. ``import neurorec`` does not
import this package.
"""

from neurorec.backends.ops import require

require("torch")
require("safetensors.torch")

from neurorec.train.checkpoint import load_checkpoint_info  # noqa: E402
from neurorec.train.history import History  # noqa: E402
from neurorec.train.loop import LR_SCHEDULES, OPTIMIZERS, fit_module  # noqa: E402

__all__ = ["fit_module", "History", "load_checkpoint_info", "OPTIMIZERS", "LR_SCHEDULES"]
