"""Taking neurorec models to neuromorphic hardware form.

- :mod:`~neurorec.hardware.nir_io`: ``to_nir(model)`` / ``from_nir(graph_or_path, dt=...)``, the
  Neuromorphic Intermediate Representation (NIR; Pedersen et al. 2024, Nature Communications 15).
- :mod:`~neurorec.hardware.profiles`: chip profiles (``profiles()``, ``load_profile(name)``), every
  figure with its source; the TOML files ship as package data (``neurorec/hardware/profiles/``).
- :mod:`~neurorec.hardware.quantize`: ``quantize(model, profile)``, fixed-point emulation in
  integer arithmetic, and quantisation-aware fine-tuning.
- :mod:`~neurorec.hardware.check`: ``check(model, target)``, does a network fit a chip.
- :mod:`~neurorec.hardware.energy`: ``energy(model, X, profile)``, counted operations times the
  profile's energy per operation.

Everything is imported lazily: ``import neurorec.hardware`` loads none of nir, torch or the
engines; each function imports what it needs and says which extra installs it when missing.
"""

from importlib import import_module

_LAZY = {
    "to_nir": "neurorec.hardware.nir_io",
    "from_nir": "neurorec.hardware.nir_io",
    "encoded_input": "neurorec.hardware.nir_io",
    "profiles": "neurorec.hardware.profiles",
    "load_profile": "neurorec.hardware.profiles",
    "ChipProfile": "neurorec.hardware.profiles",
    "quantize": "neurorec.hardware.quantize",
    "check": "neurorec.hardware.check",
    "FitReport": "neurorec.hardware.check",
    "energy": "neurorec.hardware.energy",
    "count_operations": "neurorec.hardware.energy",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'neurorec.hardware' has no attribute {name!r}")
