r"""Chip profiles: what a neuromorphic chip (or a conventional MAC datapath) offers, every figure with its source.

A profile is a TOML file, shipped as package data in ``neurorec/hardware/profiles/<name>.toml``
(the top-level ``hardware/<name>/profile.toml`` of a source checkout is a symbolic link to it, so
there is one copy). :func:`load_profile` reads one by name or from a path, validates it and returns
a frozen :class:`ChipProfile`; :func:`profiles` lists them all as a pandas DataFrame.

File format
-----------
Identity keys are plain strings; every figure is a table with a ``value``, the ``source`` it comes
from (paper with table or section, datasheet, vendor documentation or vendor source file) and an
optional ``note``. A figure nobody could source has no ``value`` (TOML has no null) and a ``note``
saying why; it loads as ``None`` and the fit check reports it as "not checked (unknown)"::

    schema = 1
    name = "truenorth"
    full_name = "IBM TrueNorth"
    kind = "neuromorphic"              # or "mac"

    [neurons_per_core]
    value = 256
    source = "Merolla et al. 2014, Science 345(6197):668-673, Fig. 2"

    [energy_per_neuron_update_pj]
    note = "not given per operation by the cited sources"

The loader rejects, with the file and the field named: an unknown key, a value of the wrong type
(integers for counts and bit widths, numbers for energies and the time step, one of the allowed
words for ``decay``, a list of known neuron names for ``neuron_models``), a figure with a value but
no source, and a table with keys other than ``value``, ``source`` and ``note``.

Units: energies in pJ per operation, the time step in ms, memories in entries (words).
"""

from __future__ import annotations

import math
import numbers
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

__all__ = ["ChipProfile", "load_profile", "profiles", "profile_names", "NEURON_MODEL_NAMES", "DECAYS",
           "FIGURES"]

#: Neuron model names a profile may list (neurorec's names, plus "if" and "li").
#: "lif", "synaptic_lif", "cuba_lif", "adaptive_lif", "coba_lif" are the models of
#: :mod:`neurorec.models.spiking.neurons`; "if" is integrate-and-fire without leak (or with a
#: constant, linear leak); "li" is a non-spiking leaky integrator (a membrane read-out).
NEURON_MODEL_NAMES = ("lif", "synaptic_lif", "cuba_lif", "adaptive_lif", "coba_lif", "if", "li")

#: How a chip represents a decay: "exact" (floating point), "multiplicative" (fixed-point factor),
#: "bitshift" (:math:`x \leftarrow x - (x \gg d)`, Xylo), "none" (no exponential decay).
DECAYS = ("exact", "multiplicative", "bitshift", "none")

_INT, _NUM, _STR, _INTS, _MODELS = "int", "number", "str", "ints", "models"

#: Every figure a profile may carry, with its type and meaning (the ChipProfile contract first,
#: then the extra figures some profiles need).
FIGURES: dict[str, tuple[str, str]] = {
    "cores_per_chip": (_INT, "neuromorphic cores (or processing elements) per chip"),
    "neurons_per_core": (_INT, "neurons (compartments) one core holds"),
    "neurons_per_chip": (_INT, "neurons per chip"),
    "synapses_per_core": (_INT, "synapses (weights) one core stores"),
    "synapses_per_chip": (_INT, "synapses per chip"),
    "max_fan_in": (_INT, "most distinct presynaptic sources of one neuron"),
    "max_fan_out": (_INT, "most targets of one neuron's spike"),
    "weight_bits": (_INT, "bits of a signed integer weight"),
    "membrane_bits": (_INT, "bits of the membrane potential"),
    "synapse_bits": (_INT, "bits of the synaptic current/state"),
    "threshold_bits": (_INT, "bits of the firing threshold"),
    "decay": (_STR, "how decays are represented: " + ", ".join(DECAYS)),
    "decay_bits": (_INT, "fraction bits of a multiplicative decay, or bits of a bit-shift value"),
    "neuron_models": (_MODELS, "neuron models the chip runs (neurorec names)"),
    "time_step_ms": (_NUM, "fixed time step (ms); empty when the chip has none"),
    "energy_per_synop_pj": (_NUM, "energy per synaptic operation (pJ)"),
    "energy_per_neuron_update_pj": (_NUM, "energy per neuron update (pJ)"),
    "energy_per_spike_pj": (_NUM, "energy per spike sent (pJ)"),
    "energy_per_mac_pj": (_NUM, "energy per multiply-accumulate (pJ)"),
    "energy_per_add_pj": (_NUM, "energy per addition (pJ)"),
    "energy_per_memory_access_pj": (_NUM, "energy per memory access (pJ)"),
    # extras
    "max_inputs": (_INT, "most input channels into the chip"),
    "max_outputs": (_INT, "most output neurons"),
    "hidden_synapses_per_chip": (_INT, "hidden-to-hidden (recurrent memory) synapses per chip"),
    "kernel_memory_per_core": (_INTS, "weight memory of each core (entries), for per-layer memory rules"),
    "neuron_memory_per_core": (_INTS, "neuron-state memory of each core (entries)"),
    "bias_memory_per_core": (_INTS, "bias memory of each core (entries)"),
    "energy_fp32_mult_pj": (_NUM, "32-bit float multiply (pJ)"),
    "energy_fp32_add_pj": (_NUM, "32-bit float add (pJ)"),
    "energy_fp16_mult_pj": (_NUM, "16-bit float multiply (pJ)"),
    "energy_fp16_add_pj": (_NUM, "16-bit float add (pJ)"),
    "energy_int32_mult_pj": (_NUM, "32-bit integer multiply (pJ)"),
    "energy_int32_add_pj": (_NUM, "32-bit integer add (pJ)"),
    "energy_int8_mult_pj": (_NUM, "8-bit integer multiply (pJ)"),
    "energy_int8_add_pj": (_NUM, "8-bit integer add (pJ)"),
    "energy_sram_8kb_pj": (_NUM, "64-bit read from an 8 KB SRAM (pJ)"),
    "energy_sram_32kb_pj": (_NUM, "64-bit read from a 32 KB SRAM (pJ)"),
    "energy_sram_1mb_pj": (_NUM, "64-bit read from a 1 MB SRAM (pJ)"),
    "energy_dram_min_pj": (_NUM, "64-bit DRAM access, low end of the range (pJ)"),
    "energy_dram_max_pj": (_NUM, "64-bit DRAM access, high end of the range (pJ)"),
}

_IDENTITY = ("schema", "name", "full_name", "kind", "description")
_KINDS = ("neuromorphic", "mac")
_SCHEMA = 1
_PACKAGE = "neurorec.hardware"
_FOLDER = "profiles"


@dataclass(frozen=True)
class ChipProfile:
    """One chip's figures (see the module docstring and :data:`FIGURES`); None where unknown.

    Attributes
    ----------
    name, full_name, kind, description : str
    sources : mapping of str to str
        The source of every non-empty figure.
    notes : mapping of str to str
        Notes (why a figure is empty, how it was read, caveats).
    path : str
        The file the profile was read from.
    """

    name: str
    full_name: str
    kind: str
    description: str = ""
    cores_per_chip: int | None = None
    neurons_per_core: int | None = None
    neurons_per_chip: int | None = None
    synapses_per_core: int | None = None
    synapses_per_chip: int | None = None
    max_fan_in: int | None = None
    max_fan_out: int | None = None
    weight_bits: int | None = None
    membrane_bits: int | None = None
    synapse_bits: int | None = None
    threshold_bits: int | None = None
    decay: str | None = None
    decay_bits: int | None = None
    neuron_models: tuple[str, ...] | None = None
    time_step_ms: float | None = None
    energy_per_synop_pj: float | None = None
    energy_per_neuron_update_pj: float | None = None
    energy_per_spike_pj: float | None = None
    energy_per_mac_pj: float | None = None
    energy_per_add_pj: float | None = None
    energy_per_memory_access_pj: float | None = None
    max_inputs: int | None = None
    max_outputs: int | None = None
    hidden_synapses_per_chip: int | None = None
    kernel_memory_per_core: tuple[int, ...] | None = None
    neuron_memory_per_core: tuple[int, ...] | None = None
    bias_memory_per_core: tuple[int, ...] | None = None
    energy_fp32_mult_pj: float | None = None
    energy_fp32_add_pj: float | None = None
    energy_fp16_mult_pj: float | None = None
    energy_fp16_add_pj: float | None = None
    energy_int32_mult_pj: float | None = None
    energy_int32_add_pj: float | None = None
    energy_int8_mult_pj: float | None = None
    energy_int8_add_pj: float | None = None
    energy_sram_8kb_pj: float | None = None
    energy_sram_32kb_pj: float | None = None
    energy_sram_1mb_pj: float | None = None
    energy_dram_min_pj: float | None = None
    energy_dram_max_pj: float | None = None
    sources: Any = field(default_factory=dict, repr=False, compare=False)
    notes: Any = field(default_factory=dict, repr=False, compare=False)
    path: str = field(default="", repr=False, compare=False)

    def figures(self) -> dict:
        """The figures as a dict (field -> value, None where unknown)."""
        return {f: getattr(self, f) for f in FIGURES}

    def describe(self, field_name: str) -> str:
        """One line: the field's value with its source, or why it is empty."""
        if field_name not in FIGURES:
            raise ValueError(f"field must be one of {sorted(FIGURES)}, got {field_name!r}.")
        value = getattr(self, field_name)
        note = self.notes.get(field_name)
        if value is None:
            return f"{field_name}: unknown" + (f" ({note})" if note else "")
        text = f"{field_name} = {value!r} [{self.sources[field_name]}]"
        return text + (f" ({note})" if note else "")


def _profile_dir():
    return resources.files(_PACKAGE).joinpath(_FOLDER)


def profile_names() -> tuple[str, ...]:
    """Names of the profiles shipped with neurorec (the packaged TOML files), sorted."""
    return tuple(sorted(p.name[:-5] for p in _profile_dir().iterdir() if p.name.endswith(".toml")))


def _bad(where: str, msg: str) -> ValueError:
    return ValueError(f"{where}: {msg}")


def _check_value(where: str, key: str, kind: str, value):
    """The value converted to its Python type, or a ValueError naming the file and field."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    if kind == _INT:
        if not is_int(value) or value < 0:
            raise _bad(where, f"field {key!r}: value must be a non-negative integer, got {value!r}")
        return int(value)
    if kind == _NUM:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
            raise _bad(where, f"field {key!r}: value must be a non-negative finite number, got {value!r}")
        return float(value)
    if kind == _STR:
        if key == "decay" and value not in DECAYS:
            raise _bad(where, f"field 'decay': value must be one of {DECAYS}, got {value!r}")
        if not isinstance(value, str):
            raise _bad(where, f"field {key!r}: value must be a string, got {value!r}")
        return value
    if kind == _INTS:
        if not isinstance(value, list) or not value or not all(is_int(v) and v >= 0 for v in value):
            raise _bad(where, f"field {key!r}: value must be a non-empty list of non-negative integers, "
                              f"got {value!r}")
        return tuple(int(v) for v in value)
    if kind == _MODELS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(where, f"field {key!r}: value must be a list of neuron model names, got {value!r}")
        unknown = [v for v in value if v not in NEURON_MODEL_NAMES]
        if unknown:
            raise _bad(where, f"field {key!r}: unknown neuron model(s) {unknown}; known: {NEURON_MODEL_NAMES}")
        return tuple(value)
    raise AssertionError(kind)  # pragma: no cover


def _parse(data: dict, where: str) -> ChipProfile:
    unknown = [k for k in data if k not in _IDENTITY and k not in FIGURES]
    if unknown:
        raise _bad(where, f"unknown field(s) {unknown}; known fields: {sorted(FIGURES)} and identity keys "
                          f"{list(_IDENTITY)}")
    if data.get("schema") != _SCHEMA:
        raise _bad(where, f"field 'schema': must be {_SCHEMA}, got {data.get('schema')!r}")
    for key in ("name", "full_name", "kind"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise _bad(where, f"field {key!r}: a non-empty string is required, got {data.get(key)!r}")
    if data["kind"] not in _KINDS:
        raise _bad(where, f"field 'kind': must be one of {_KINDS}, got {data['kind']!r}")
    if not isinstance(data.get("description", ""), str):
        raise _bad(where, "field 'description': must be a string")
    values, sources, notes = {}, {}, {}
    for key, (kind, _) in FIGURES.items():
        if key not in data:
            continue
        entry = data[key]
        if not isinstance(entry, dict):
            raise _bad(where, f"field {key!r}: must be a table with 'value', 'source' and optional 'note' "
                              f"(e.g. [{key}] value = ... source = \"...\"), got {entry!r}")
        extra = [k for k in entry if k not in ("value", "source", "note")]
        if extra:
            raise _bad(where, f"field {key!r}: unknown key(s) {extra}; allowed: value, source, note")
        for k in ("source", "note"):
            if k in entry and (not isinstance(entry[k], str) or not entry[k].strip()):
                raise _bad(where, f"field {key!r}: {k} must be a non-empty string, got {entry[k]!r}")
        if "value" in entry:
            if "source" not in entry:
                raise _bad(where, f"field {key!r}: has a value ({entry['value']!r}) but no source; every "
                                  "figure needs its source (paper and table, datasheet or vendor file)")
            values[key] = _check_value(where, key, kind, entry["value"])
            sources[key] = entry["source"]
        elif "note" not in entry:
            raise _bad(where, f"field {key!r}: an empty figure needs a note saying why it is unknown")
        if "note" in entry:
            notes[key] = entry["note"]
    return ChipProfile(name=data["name"], full_name=data["full_name"], kind=data["kind"],
                       description=data.get("description", ""), **values,
                       sources=MappingProxyType(sources), notes=MappingProxyType(notes), path=where)


def _read(path_like, where: str) -> ChipProfile:
    try:
        with path_like.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(where, f"not valid TOML: {exc}") from None
    return _parse(data, where)


def load_profile(name_or_path) -> ChipProfile:
    """Read a chip profile by name (a packaged profile) or from a TOML file.

    Parameters
    ----------
    name_or_path : str or path-like or ChipProfile
        A name from :func:`profile_names` ("loihi", "loihi2", "truenorth", "spinnaker",
        "spinnaker2", "xylo", "speck", "cmos45"), or the path of a user TOML file in the same
        format (see the module docstring). A ChipProfile is returned as it is.

    Returns
    -------
    ChipProfile

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones), or a file that breaks the format (the
        message names the file and the field).
    FileNotFoundError
        A path that does not exist.
    """
    if isinstance(name_or_path, ChipProfile):
        return name_or_path
    if isinstance(name_or_path, Path) or (isinstance(name_or_path, str) and (
            name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path)):
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"profile file {str(path)!r} does not exist")
        return _read(path, str(path))
    if not isinstance(name_or_path, str):
        raise ValueError(f"name_or_path must be a profile name or a TOML path, got {type(name_or_path).__name__}.")
    key = name_or_path.strip().lower()
    names = profile_names()
    if key not in names:
        raise ValueError(f"unknown chip profile {name_or_path!r}; known profiles: {', '.join(names)} "
                         "(or give the path of a .toml profile)")
    res = _profile_dir().joinpath(f"{key}.toml")
    return _read(res, f"{_PACKAGE}/{_FOLDER}/{key}.toml")


_COLUMNS = ("name", "full_name", "kind", "cores_per_chip", "neurons_per_core", "neurons_per_chip",
            "synapses_per_core", "synapses_per_chip", "max_fan_in", "max_fan_out", "weight_bits",
            "membrane_bits", "decay", "neuron_models", "time_step_ms", "energy_per_synop_pj",
            "energy_per_neuron_update_pj", "energy_per_mac_pj", "energy_per_memory_access_pj")


def profiles(all_fields: bool = False):
    """All packaged profiles as a pandas DataFrame, one row per profile.

    Parameters
    ----------
    all_fields : bool, default False
        Every figure of :data:`FIGURES` as a column; otherwise the main ones. Unknown figures
        are empty (None / NaN).
    """
    import pandas as pd

    rows = []
    for name in profile_names():
        p = load_profile(name)
        cols = ("name", "full_name", "kind", *FIGURES) if all_fields else _COLUMNS
        row = {c: getattr(p, c) for c in cols}
        if row.get("neuron_models") is not None:
            row["neuron_models"] = ", ".join(row["neuron_models"])
        rows.append(row)
    df = pd.DataFrame(rows, columns=list(("name", "full_name", "kind", *FIGURES) if all_fields else _COLUMNS))
    for col in df.columns:
        if FIGURES.get(col, ("",))[0] == _INT:       # counts stay integers, with <NA> where unknown
            df[col] = df[col].astype("Int64")
    return df


# keep the dataclass and the FIGURES table in step
assert set(FIGURES) <= {f.name for f in fields(ChipProfile)}

