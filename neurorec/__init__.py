"""neurorec: recurrent, reservoir and neuromorphic models behind one interface.

Heavy engines (torch, reservoirpy, brian2, snntorch) are imported lazily, only by the
models and backends that use them.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "ESN": "neurorec.models",
    "LinearAR": "neurorec.models",
    "ReservoirModelSpace": "neurorec.models",
    "load": "neurorec.base",
    "Model": "neurorec.base",
    "ModelFileError": "neurorec.base",
    "ParameterError": "neurorec._params",
    "compare": "neurorec.experiment",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neurorec' has no attribute {name!r}")
