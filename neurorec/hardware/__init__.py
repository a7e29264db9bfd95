"""Taking neurorec models to neuromorphic hardware form.

- :mod:`~neurorec.hardware.nir_io`: ``to_nir(model)`` / ``from_nir(graph_or_path, dt=...)``, the
  Neuromorphic Intermediate Representation (NIR; Pedersen et al. 2024, Nature Communications 15).
- :mod:`~neurorec.hardware.chips`: chip profiles (``profiles()``, ``load_profile(name)``), every
  figure with its source; the TOML files ship as package data (``neurorec/hardware/profiles/``).
- :mod:`~neurorec.hardware.fixed_point`: ``quantize(model, profile)``, fixed-point emulation in
  integer arithmetic, and quantisation-aware fine-tuning; :mod:`~neurorec.hardware.fixed_point_network`
  the same emulation for a spiking ``Network``.
- :mod:`~neurorec.hardware.fit`: ``check(model, target)``, does a network fit a chip.
- :mod:`~neurorec.hardware.operations`: ``energy(model, X, profile)``, counted operations times the
  profile's energy per operation.

Everything is imported lazily: ``import neurorec.hardware`` loads none of nir, torch or the
engines; each function imports what it needs and says which extra installs it when missing.
"""

from importlib import import_module

_LAZY = {
    "to_nir": "neurorec.hardware.nir_io",
    "from_nir": "neurorec.hardware.nir_io",
    "encoded_input": "neurorec.hardware.nir_io",
    "profiles": "neurorec.hardware.chips",
    "load_profile": "neurorec.hardware.chips",
    "ChipProfile": "neurorec.hardware.chips",
    "quantize": "neurorec.hardware.fixed_point",
    "QuantizedSpikingClassifier": "neurorec.hardware.fixed_point",
    "quantize_network": "neurorec.hardware.fixed_point_network",
    "QuantizedNetwork": "neurorec.hardware.fixed_point_network",
    "check": "neurorec.hardware.fit",
    "FitReport": "neurorec.hardware.fit",
    "energy": "neurorec.hardware.operations",
    "count_operations": "neurorec.hardware.operations",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # the import just set the submodule of the same name here: replace it
        return value
    raise AttributeError(f"module 'neurorec.hardware' has no attribute {name!r}")
