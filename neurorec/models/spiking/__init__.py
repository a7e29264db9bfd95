"""Spiking neuron models (backend-independent descriptions) and their engines.

:mod:`neurorec.models.spiking.neurons` holds the neuron descriptions and their shared numpy/torch step
function; :mod:`neurorec.models.spiking.network` the network description (populations, connections,
delays) and the step engine that runs it on numpy or torch; :mod:`neurorec.backends.brian2` simulates
both in brian2 (the numpy backend of spiking models); :mod:`neurorec.models.spiking.coding` the input
encoders and output decoders; :mod:`~neurorec.models.spiking.lsm` and
:mod:`~neurorec.models.spiking.snn` the models (liquid state machine, surrogate-gradient classifier).
"""

from neurorec.models.spiking.coding import (
    delta_encode,
    first_spike,
    latency_encode,
    membrane_max,
    membrane_mean,
    poisson_encode,
    spike_count,
)
from neurorec.models.spiking.lsm import LSM
from neurorec.models.spiking.network import (
    STDP,
    Connection,
    Network,
    NetworkRun,
    Population,
    run_network,
    sparse_random,
)
from neurorec.models.spiking.neurons import (
    LIF,
    NEURON_MODELS,
    AdaptiveLIF,
    AdaptiveLIFState,
    Brian2Model,
    CobaLIF,
    CobaLIFState,
    CubaLIF,
    CubaLIFState,
    LIFState,
    SynapticLIF,
    SynapticLIFState,
    refractory_steps,
    simulate,
)
from neurorec.models.spiking.snn import SpikingClassifier
from neurorec.models.spiking.sources import SpikeSource, SpikeTrains

__all__ = ["LIF", "SynapticLIF", "AdaptiveLIF", "CobaLIF", "CubaLIF", "CubaLIFState", "NEURON_MODELS", "Brian2Model",
           "LIFState",
           "SynapticLIFState", "AdaptiveLIFState", "CobaLIFState", "refractory_steps", "simulate", "run_brian2",
           "STDP", "SpikeSource", "SpikeTrains", "Population", "Connection", "Network", "NetworkRun", "run_network",
           "sparse_random", "LSM",
           "SpikingClassifier", "poisson_encode", "latency_encode", "delta_encode", "spike_count", "membrane_mean",
           "membrane_max", "first_spike"]


def run_brian2(*args, **kwargs):
    """See :func:`neurorec.backends.brian2.run_brian2` (imports brian2 on first use)."""
    from neurorec.backends.brian2 import run_brian2 as _run

    return _run(*args, **kwargs)
