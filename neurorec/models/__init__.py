"""neurorec's models, one module per family."""

from neurorec.models.compressor import HistoryCompressor
from neurorec.models.deep import DeepESN
from neurorec.models.features import FeatureClassifier
from neurorec.models.hebbian import BCM, AntiHebbian, Hebb, Oja, Sanger
from neurorec.models.hopfield import DenseAssociativeMemory, Hopfield, ModernHopfield
from neurorec.models.linear import LinearAR
from neurorec.models.multiorder import MultiOrderMarkov
from neurorec.models.nvar import NVAR
from neurorec.models.online import OnlineReservoir
from neurorec.models.plasticity import IPESN
from neurorec.models.readout import LMS, RLS
from neurorec.models.recurrent import GRU, LSTM, Elman, Jordan, RecurrentModel
from neurorec.models.reservoir import ESN
from neurorec.models.rmspace import ReservoirModelSpace
from neurorec.models.spiking.lsm import LSM
from neurorec.models.spiking.snn import SpikingClassifier

__all__ = ["ESN", "DeepESN", "NVAR", "ReservoirModelSpace", "LSM", "SpikingClassifier", "Hopfield", "ModernHopfield",
           "DenseAssociativeMemory", "Hebb", "Oja", "Sanger", "BCM", "AntiHebbian", "FeatureClassifier", "LinearAR",
           "Elman", "Jordan", "LSTM", "GRU", "RecurrentModel", "MultiOrderMarkov", "HistoryCompressor",
           "OnlineReservoir", "LMS", "RLS", "IPESN"]
