"""neurorec's models, one module per family."""

from neurorec.models.linear import LinearAR
from neurorec.models.recurrent import GRU, LSTM, Elman, Jordan, RecurrentModel
from neurorec.models.reservoir import ESN

__all__ = ["ESN", "LinearAR", "Elman", "Jordan", "LSTM", "GRU", "RecurrentModel"]
