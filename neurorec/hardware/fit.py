r"""Does a spiking network fit a chip? ``check(model, target) -> FitReport``.

The network is read as *layers* (populations of neurons of one model) and the weighted
connections into them, straight from the model (no NIR needed): a fitted
:class:`~neurorec.models.spiking.snn.SpikingClassifier` (``hidden.{l}`` layers, optional
``recurrent.{l}`` weights, the ``output`` layer), a :class:`~neurorec.models.spiking.network.Network`
(every non-source population), a fitted :class:`~neurorec.models.spiking.lsm.LSM` (its liquid;
the ridge readout runs on the host) or a NIR graph (``nir.NIRGraph`` or a ``.nir`` path: neuron
nodes fed by ``Linear``/``Affine`` nodes).

Per layer :math:`\ell` with incoming weight matrices :math:`W^{(k)}` (source :math:`\times`
:math:`\ell`), a synapse is a non-zero weight:

- neurons :math:`N_\ell`; synapses :math:`S_\ell = \sum_k \mathrm{nnz}(W^{(k)})`;
- fan-in of neuron :math:`j`: :math:`\sum_k \mathrm{nnz}(W^{(k)}_{:,j})` (its max is reported);
- fan-out of neuron :math:`i`: non-zero weights in its rows of the outgoing matrices (max);
- weight bits needed: for integer-valued weights :math:`\lceil\log_2(\max|w| + 1)\rceil + 1`
  (signed); float weights need quantisation first (:func:`neurorec.hardware.quantize`);
- cores: :math:`\max(\lceil N_\ell / n_{core}\rceil, \lceil S_\ell / s_{core}\rceil)` over the
  per-core limits the profile knows, one layer per core set (layers do not share cores, as in
  NengoLoihi's one block per core), except on a one-core chip (Xylo), where the network shares
  the core; DYNAP-CNN/Speck uses sinabs' memory rule instead (one layer per core, a dense layer
  :math:`n_{in} \to n_{out}` as a 1x1 convolution: kernel memory
  :math:`n_{in} 2^{\lceil\log_2 n_{out}\rceil}`, neuron memory :math:`n_{out}`, matched to the 9
  cores' memories as ``sinabs.backend.dynapcnn.mapping.get_valid_mapping`` does).

Each limit the profile gives is checked and a violation is a reason, with the amount. A limit the
profile leaves empty (unknown) is listed as "not checked (unknown)", never counted as a pass.
Weights in floating point are a note ("quantise to N bits"), not a failure. Delays, plasticity
and biases are noted, not checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse

from neurorec.hardware.chips import ChipProfile, load_profile

__all__ = ["check", "FitReport"]

_INPUT = "input"


@dataclass
class _Layer:
    name: str
    size: int
    model: str
    inputs: list = field(default_factory=list)      # (source name, csr matrix (n_src, size))
    is_output: bool = False
    decay: float | None = None                       # membrane decay factor per step, when known


@dataclass
class _Graph:
    layers: list
    n_inputs: int
    notes: list = field(default_factory=list)


# --------------------------------------------------------------------------------------
# reading models
# --------------------------------------------------------------------------------------
def _csr(w) -> sparse.csr_matrix:
    m = sparse.csr_matrix(w, dtype=np.float64)
    m.eliminate_zeros()
    return m


def _from_classifier(model) -> _Graph:
    # a quantised classifier (neurorec.hardware.fixed_point) carries its integer weights in int_weights_
    w = getattr(model, "int_weights_", None) or model.weights_
    n_hidden = sum(1 for k in w if k.startswith("hidden.") and k.endswith(".weight"))
    beta = None
    try:
        beta = float(model._spec().beta)
    except Exception:  # noqa: BLE001 - a duck-typed model may lack it
        pass
    layers, prev = [], _INPUT
    for l in range(n_hidden):
        W = np.asarray(w[f"hidden.{l}.weight"])
        layer = _Layer(f"hidden.{l}", W.shape[0], "lif", [(prev, _csr(W.T))], decay=beta)
        if f"recurrent.{l}.weight" in w:
            layer.inputs.append((layer.name, _csr(np.asarray(w[f"recurrent.{l}.weight"]).T)))
        layers.append(layer)
        prev = layer.name
    Wo = np.asarray(w["output.weight"])
    readout = getattr(model, "readout", "membrane_mean")
    layers.append(_Layer("output", Wo.shape[0], "lif" if readout == "spike_count" else "li", [(prev, _csr(Wo.T))],
                         is_output=True, decay=beta))
    n_in = int(np.asarray(w["hidden.0.weight"]).shape[1])
    notes = []
    if any(np.any(np.asarray(w[k]) != 0) for k in w if k.endswith(".bias")):
        notes.append("biases are used (a constant input current per neuron): the chip must support a bias")
    return _Graph(layers, n_in, notes)


def _neuron_name(neuron) -> str:
    from neurorec.models.spiking.neurons import NEURON_MODELS

    for name, cls in NEURON_MODELS.items():
        if type(neuron) is cls:
            return name
    return type(neuron).__name__.lower()


def _from_network(net, extra_notes=()) -> _Graph:
    pops = {p.name: p for p in net.populations}
    sources = {n for n, p in pops.items() if p.is_source}
    layers = {n: _Layer(n, p.size, _neuron_name(p.neuron)) for n, p in pops.items() if not p.is_source}
    for name, layer in layers.items():
        try:
            dec = pops[name].neuron.decays(net.dt)
            layer.decay = dec.get("beta")
        except Exception:  # noqa: BLE001
            pass
    notes = list(extra_notes)
    for c in net.connections:
        src = _INPUT if c.source == _INPUT or c.source in sources else c.source
        layers[c.target].inputs.append((src, _csr(c.weight)))
        if c.delay:
            notes.append(f"connection {c.source}->{c.target} has a delay of {float(c.delay):g} ms: chip delay "
                         "support not checked")
        if c.plasticity is not None:
            notes.append(f"connection {c.source}->{c.target} is plastic (STDP): on-chip learning not checked")
    n_in = net.n_inputs + sum(pops[s].size for s in sources)
    out = set(layers)
    for layer in layers.values():
        for src, _ in layer.inputs:
            if src != layer.name:
                out.discard(src)
    for n in out:
        layers[n].is_output = True
    return _Graph(list(layers.values()), n_in, notes)


_NIR_NEURONS = {"LIF": "lif", "CubaLIF": "cuba_lif", "IF": "if", "LI": "li", "Integrator": "li", "CubaLI": "li"}


def _nir_decay(node, kind: str, dt_s: float | None, disc: str) -> float | None:
    """Membrane decay per step of a NIR neuron node: exp(-dt/tau) (exact) or 1 - dt/tau (euler)."""
    if dt_s is None or not dt_s > 0 or kind in ("IF", "Integrator"):
        return None
    tau = np.asarray(getattr(node, "tau_mem", None) if kind == "CubaLIF" else getattr(node, "tau", None),
                     dtype=np.float64).ravel()
    if tau.size == 0 or not np.all(np.isfinite(tau)) or not np.all(tau > 0):
        return None
    x = dt_s / float(tau[0])
    decay = math.exp(-x) if disc == "exact" else 1.0 - x
    return decay if 0 < decay < 1 else None


def _meta_text(value) -> str | None:
    """A metadata string as nir.read gives it back (str, bytes or a 0-d array)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf8", "replace")
    return None if value is None else str(value)


def _from_nir(graph) -> _Graph:
    r"""Layers of a NIR graph, named and noted as for the model the graph was exported from.

    The notes a model gives (biases, membrane decay, delays, the LSM's host readout) are derived
    from the graph: a non-zero ``Affine`` bias; the decay per step of a ``LIF``/``CubaLIF``/``LI``
    node from its :math:`\tau` (seconds) and ``graph.metadata["dt"]`` (seconds), as
    :math:`e^{-\Delta t/\tau}` for ``graph.metadata["discretisation"] == "exact"`` (what
    :func:`neurorec.hardware.to_nir` writes by default) and :math:`1 - \Delta t/\tau` otherwise
    (forward Euler, the snntorch / norse convention, as :func:`neurorec.hardware.from_nir` reads).
    A graph written by neurorec (``graph.metadata["neurorec"]``, a JSON object with the model's
    ``"kind"``) gets the model's layer names: a ``SpikingClassifier``'s ``lif_{l}`` and ``readout``
    nodes are ``hidden.{l}`` and ``output``; a ``Network``'s or ``LSM``'s nodes already carry the
    population names. Other graphs keep their node names.
    """
    import json

    from neurorec.backends.ops import require

    require("nir")  # the install hint when nir is missing
    if isinstance(graph, str | Path):
        from neurorec.hardware.nir_io import _read as _read_nir_file

        graph, _ = _read_nir_file(graph)       # one-line errors naming the file (missing, folder, not NIR)
    nodes, edges = graph.nodes, graph.edges
    kinds = {k: type(v).__name__ for k, v in nodes.items()}
    unsupported = sorted({t for t in kinds.values() if t not in _NIR_NEURONS and t not in
                          ("Input", "Output", "Linear", "Affine", "Delay")})
    if unsupported:
        raise ValueError(f"the NIR graph has node types the fit check cannot read: {unsupported}; supported: "
                         f"Input, Output, Linear, Affine, Delay, {', '.join(_NIR_NEURONS)}")
    meta = dict(graph.metadata or {})
    info = {}
    try:
        info = json.loads(_meta_text(meta.get("neurorec")) or "{}")
    except ValueError:
        pass
    kind = info.get("kind") if isinstance(info, dict) else None
    dt_s = None
    try:
        dt_s = float(np.asarray(meta["dt"])) if "dt" in meta else None
    except (TypeError, ValueError):
        pass
    disc = _meta_text(meta.get("discretisation")) or "euler"
    names = {k: k for k in nodes}
    if kind == "SpikingClassifier":
        for k in nodes:
            if k.startswith("lif_") and k[4:].isdigit():
                names[k] = f"hidden.{k[4:]}"
        if "readout" in nodes:
            names["readout"] = "output"
    preds: dict[str, list] = {}
    for a, b in edges:
        preds.setdefault(b, []).append(a)
    notes = []
    if any(kinds[k] == "Affine" and np.any(np.asarray(v.bias) != 0) for k, v in nodes.items()):
        notes.append("biases are used (a constant input current per neuron): the chip must support a bias")
    if kind == "LSM":
        notes.append("the LSM's readout (ridge regression on filtered spikes) runs on the host: not counted")
    own = kind in ("Network", "LSM")      # delays: neurorec's Linear nodes carry the connection's delay_ms

    def through_delays(src, seen=()):
        """The node behind a chain of Delay nodes (delays are noted, not checked)."""
        if kinds.get(src) != "Delay" or src in seen:
            return [src]
        if not own:
            notes.append(f"NIR Delay node {src!r}: chip delay support not checked")
        return [s for p in preds.get(src, []) for s in through_delays(p, (*seen, src))]
    n_in = 0
    for k, v in nodes.items():
        if kinds[k] == "Input":
            shape = v.input_type.get("input", v.input_type) if isinstance(v.input_type, dict) else v.input_type
            n_in += int(np.prod(np.asarray(shape)))
    layers = {}
    for k, v in nodes.items():
        if kinds[k] not in _NIR_NEURONS:
            continue
        size = int(np.prod(np.asarray(v.v_threshold if hasattr(v, "v_threshold") else v.tau).shape))
        layers[k] = _Layer(names[k], size, _NIR_NEURONS[kinds[k]], decay=_nir_decay(v, kinds[k], dt_s, disc))
    delay_notes = []
    for k, layer in layers.items():
        for p in preds.get(k, []):
            if kinds.get(p) not in ("Linear", "Affine"):
                continue
            W = np.asarray(nodes[p].weight, dtype=np.float64)          # (out, in)
            for src in (s for q in preds.get(p, []) for s in through_delays(q)):
                s = _INPUT if kinds.get(src) == "Input" else src
                if s != _INPUT and s not in layers:
                    continue
                layer.inputs.append((_INPUT if s == _INPUT else names[s], _csr(W.T)))
            c = getattr(nodes[p], "metadata", None) or {}
            if own and isinstance(c, dict) and float(np.asarray(c.get("delay_ms", 0.0))):
                order = int(np.asarray(c.get("connection", 0)))
                delay_notes.append((order, f"connection {_meta_text(c.get('source'))}->{_meta_text(c.get('target'))}"
                                           f" has a delay of {float(np.asarray(c['delay_ms'])):g} ms: chip delay "
                                           "support not checked"))
    notes += [n for _, n in sorted(delay_notes)]
    out = {layer.name for layer in layers.values()}
    for layer in layers.values():
        for src, _ in layer.inputs:
            if src != layer.name:
                out.discard(src)
    for layer in layers.values():
        layer.is_output = layer.name in out
    by_name = {layer.name: layer for layer in layers.values()}
    return _Graph(_topological(by_name), n_in, list(dict.fromkeys(notes)))


def _topological(layers: dict) -> list:
    """Layers from the input onwards (a file may store its nodes in any order); cycles keep file order."""
    order, done = [], {_INPUT}
    pending = list(layers)
    while pending:
        ready = [n for n in pending if all(s in done or s == n for s, _ in layers[n].inputs)]
        if not ready:                     # a cycle between layers: keep the remaining order
            ready = pending[:1]
        for n in ready:
            order.append(layers[n])
            done.add(n)
            pending.remove(n)
    return order


def _read(model) -> _Graph:
    from neurorec.models.spiking.network import Network

    if isinstance(model, str | Path):
        return _from_nir(model)
    if type(model).__module__.startswith("nir") and hasattr(model, "nodes") and hasattr(model, "edges"):
        return _from_nir(model)
    if isinstance(model, Network):
        return _from_network(model)
    if hasattr(model, "network") and hasattr(model, "W_out_") or type(model).__name__ == "LSM":
        if not hasattr(model, "W_"):
            raise ValueError("the LSM is not fitted: call fit first (check reads its liquid's weights).")
        return _from_network(model.network(), ["the LSM's readout (ridge regression on filtered spikes) runs on "
                                               "the host: not counted"])
    w = getattr(model, "weights_", None)
    if isinstance(w, dict) and "hidden.0.weight" in w and "output.weight" in w:
        return _from_classifier(model)
    if hasattr(model, "weights_") is False and type(model).__name__ == "SpikingClassifier":
        raise ValueError("the SpikingClassifier is not fitted: call fit first (check reads its weights_).")
    raise TypeError(f"model must be a fitted SpikingClassifier, a Network, a fitted LSM, a nir.NIRGraph or the "
                    f"path of a .nir file, got {type(model).__name__}.")


# --------------------------------------------------------------------------------------
# the report
# --------------------------------------------------------------------------------------
@dataclass
class FitReport:
    """The result of :func:`check`.

    Attributes
    ----------
    target : str
        The profile's name.
    layers : pandas.DataFrame
        One row per layer: ``layer``, ``neuron_model``, ``model_supported`` (True, False or None
        when the profile does not say), ``neurons``, ``synapses``, ``max_fan_in``,
        ``max_fan_out``, ``weight_bits_needed`` (None for float weights), ``weight_bits_available``,
        ``cores_needed`` (None when the profile has no per-core limit), ``status``.
    fits : bool
        True when no known limit is exceeded.
    verdict : str
        One line, e.g. ``"fits on 1 chip, 3 cores"`` or ``"does not fit: layer 'hidden.0' fan-in
        784 > 256 (max_fan_in of truenorth) by 528"``.
    reasons : list of str
        Every exceeded limit, with the amount.
    notes : list of str
        What was not checked (unknown figures, delays, plasticity) and what to do (quantise).
    cores, chips : int or None
        Cores and chips needed (None when they cannot be computed).
    """

    target: str
    layers: object
    fits: bool
    verdict: str
    reasons: list
    notes: list
    cores: int | None = None
    chips: int | None = None

    def __str__(self) -> str:
        lines = [f"fit check on {self.target}: {self.verdict}"]
        with _pd().option_context("display.max_columns", None, "display.width", 200):
            lines.append(self.layers.to_string(index=False))
        if len(self.reasons) > 1:
            lines.append("reasons:")
            lines += [f"  - {r}" for r in self.reasons]
        if self.notes:
            lines.append("notes:")
            lines += [f"  - {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"FitReport(target={self.target!r}, fits={self.fits}, verdict={self.verdict!r})"

    def _repr_html_(self) -> str:
        import html

        parts = [f"<p><b>fit check on {html.escape(self.target)}</b>: {html.escape(self.verdict)}</p>",
                 self.layers.to_html(index=False)]
        for title, items in (("reasons", self.reasons if len(self.reasons) > 1 else []), ("notes", self.notes)):
            if items:
                parts.append(f"<p>{title}:</p><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>")
        return "".join(parts)


def _pd():
    import pandas as pd

    return pd


def _bits_needed(mats) -> int | None:
    vals = [m.data for m in mats if m.nnz]
    if not vals:
        return 1
    v = np.concatenate(vals)
    if not np.all(v == np.round(v)):
        return None
    return int(math.ceil(math.log2(float(np.abs(v).max()) + 1))) + 1


def _speck_mapping(kernel, neuron, p: ChipProfile):
    """Match layers to cores (each core at most one layer) by augmenting paths; None if impossible."""
    n_cores = len(p.kernel_memory_per_core)
    ok = [[kernel[i] <= p.kernel_memory_per_core[c] and neuron[i] <= p.neuron_memory_per_core[c]
           for c in range(n_cores)] for i in range(len(kernel))]
    owner = [-1] * n_cores

    def augment(i, seen):
        for c in range(n_cores):
            if ok[i][c] and not seen[c]:
                seen[c] = True
                if owner[c] < 0 or augment(owner[c], seen):
                    owner[c] = i
                    return True
        return False

    for i in range(len(kernel)):
        if not augment(i, [False] * n_cores):
            return None
    return {owner[c]: c for c in range(n_cores) if owner[c] >= 0}


def check(model, target, chips: int = 1) -> FitReport:
    """Check whether a spiking network fits a chip profile.

    Parameters
    ----------
    model : SpikingClassifier, Network, LSM, nir.NIRGraph or path of a .nir file
        A fitted model, a network description or a NIR graph (see the module docstring).
    target : str, path or ChipProfile
        A profile name ("loihi", "loihi2", "truenorth", "spinnaker", "spinnaker2", "xylo", "speck",
        "cmos45"), a user TOML profile or a loaded :class:`~neurorec.hardware.chips.ChipProfile`.
    chips : int, default 1
        Chips available (limits per chip are multiplied by it).

    Returns
    -------
    FitReport

    Raises
    ------
    ValueError
        Unknown target (the message lists the known profiles), an unfitted model, an unreadable
        NIR graph (one line naming the file: ``"... is not a NIR file (not readable as HDF5: ...)"``).
    FileNotFoundError, IsADirectoryError
        A ``.nir`` path that does not exist or is a folder.
    TypeError
        A model of another kind.
    """
    if isinstance(chips, bool) or not isinstance(chips, int | np.integer) or chips < 1:
        raise ValueError(f"chips must be a positive integer, got {chips!r}.")
    p = load_profile(target)
    g = _read(model)
    pd = _pd()
    reasons, notes = [], list(g.notes)
    unknown: set[str] = set()
    name = p.name

    outgoing: dict[str, list] = {}
    for layer in g.layers:
        for src, W in layer.inputs:
            outgoing.setdefault(src, []).append(W)

    def limit(field_name, value, what, where=""):
        lim = getattr(p, field_name)
        if lim is None:
            unknown.add(field_name)
            return True
        if value > lim:
            reasons.append(f"{where}{what} {value} > {lim} ({field_name} of {name}) by {value - lim}")
            return False
        return True

    rows, float_layers = [], []
    mac = p.kind == "mac"
    for layer in g.layers:
        mats = [W for _, W in layer.inputs]
        fan_in = np.zeros(layer.size, dtype=np.int64)
        for W in mats:
            fan_in += np.diff(W.tocsc().indptr)
        fan_out = np.zeros(layer.size, dtype=np.int64)
        for W in outgoing.get(layer.name, []):
            fan_out += np.diff(W.indptr)
        syn = int(sum(W.nnz for W in mats))
        bits = _bits_needed(mats)
        status = []
        where = f"layer {layer.name!r} "
        supported = None if p.neuron_models is None else layer.model in p.neuron_models
        cores = None
        if not mac:
            if supported is False:
                reasons.append(f"{where}neuron model {layer.model!r} is not supported by {name} "
                               f"(supported: {', '.join(p.neuron_models)})")
                status.append("model")
            elif supported is None:
                unknown.add("neuron_models")
            if not limit("max_fan_in", int(fan_in.max(initial=0)), "fan-in", where):
                status.append("fan-in")
            if not limit("max_fan_out", int(fan_out.max(initial=0)), "fan-out", where):
                status.append("fan-out")
            if bits is not None and not limit("weight_bits", bits, "weight bits needed", where):
                status.append("precision")
            if p.kernel_memory_per_core is None:
                per = []
                if p.neurons_per_core is not None:
                    per.append(math.ceil(layer.size / p.neurons_per_core))
                if p.synapses_per_core is not None:
                    per.append(math.ceil(syn / p.synapses_per_core))
                cores = max(per) if per else None
        rows.append({"layer": layer.name, "neuron_model": layer.model, "model_supported": supported,
                     "neurons": layer.size, "synapses": syn, "max_fan_in": int(fan_in.max(initial=0)),
                     "max_fan_out": int(fan_out.max(initial=0)), "weight_bits_needed": bits,
                     "weight_bits_available": p.weight_bits, "cores_needed": cores,
                     "status": "ok" if not status else "exceeds: " + ", ".join(status)})
        if bits is None and p.weight_bits is not None and not mac:
            float_layers.append(layer.name)

    if float_layers:
        notes.append(f"float weights in {', '.join(repr(n) for n in float_layers)}: quantise them to "
                     f"{p.weight_bits}-bit integers (neurorec.hardware.fixed_point) before deployment")
    if not mac and p.kernel_memory_per_core is None:
        unknown.update(f for f in ("neurons_per_core", "synapses_per_core") if getattr(p, f) is None)
    n_neurons = sum(layer.size for layer in g.layers)
    n_syn = sum(r["synapses"] for r in rows)
    total_cores = None
    if mac:
        verdict = (f"{name} is a MAC baseline (kind 'mac'): no capacity limits to check "
                   f"({n_neurons} neurons, {n_syn} synapses)")
        df = pd.DataFrame(rows)
        return FitReport(name, df, True, verdict, [], notes, None, None)

    # chip-level limits
    if p.max_inputs is not None:
        limit("max_inputs", g.n_inputs, "input channels", "network ")
    outputs = [layer for layer in g.layers if layer.is_output]
    if p.max_outputs is not None:
        n_out = sum(layer.size for layer in outputs)
        limit("max_outputs", n_out, "output neurons", "network ")
        hidden = n_neurons - n_out
        if p.neurons_per_chip is not None and hidden > (p.neurons_per_chip - p.max_outputs) * chips:
            cap = (p.neurons_per_chip - p.max_outputs) * chips
            reasons.append(f"network hidden neurons {hidden} > {cap} (neurons_per_chip - max_outputs of {name}) "
                           f"by {hidden - cap}")
    if p.hidden_synapses_per_chip is not None:
        out_names = {layer.name for layer in outputs}
        hs = sum(W.nnz for layer in g.layers if layer.name not in out_names
                 for src, W in layer.inputs if src != _INPUT)
        cap = p.hidden_synapses_per_chip * chips
        if hs > cap:
            reasons.append(f"network hidden-to-hidden synapses {hs} > {cap} (hidden_synapses_per_chip of {name}) "
                           f"by {hs - cap}")
    if p.neurons_per_chip is not None:
        if n_neurons > p.neurons_per_chip * chips:
            reasons.append(f"network neurons {n_neurons} > {p.neurons_per_chip * chips} (neurons_per_chip of {name}"
                           f"{f' x {chips} chips' if chips > 1 else ''}) by {n_neurons - p.neurons_per_chip * chips}")
    else:
        unknown.add("neurons_per_chip")
    if p.synapses_per_chip is not None:
        if p.kernel_memory_per_core is None and n_syn > p.synapses_per_chip * chips:
            reasons.append(f"network synapses {n_syn} > {p.synapses_per_chip * chips} (synapses_per_chip of {name}) "
                           f"by {n_syn - p.synapses_per_chip * chips}")
    elif p.hidden_synapses_per_chip is None:
        unknown.add("synapses_per_chip")

    if p.kernel_memory_per_core is not None:          # DYNAP-CNN / Speck: sinabs' memory rule
        kernel, neuron = [], []
        for layer, row in zip(g.layers, rows, strict=True):
            if any(src == layer.name for src, _ in layer.inputs):
                reasons.append(f"layer {layer.name!r} is recurrent: {name} runs feed-forward networks only")
            if len(layer.inputs) > 1:
                reasons.append(f"layer {layer.name!r} has {len(layer.inputs)} input connections: a {name} layer "
                               "takes one")
            n_src = sum(W.shape[0] for _, W in layer.inputs)
            kernel.append(n_src * 2 ** math.ceil(math.log2(max(layer.size, 1))))
            neuron.append(layer.size)
            row["cores_needed"] = 1
            row["kernel_memory"], row["neuron_memory"] = kernel[-1], neuron[-1]
        mapping = _speck_mapping(kernel, neuron, p)
        if mapping is None:
            worst = max(range(len(kernel)), key=lambda i: kernel[i] / max(p.kernel_memory_per_core))
            reasons.append(f"layers cannot be placed on the {len(p.kernel_memory_per_core)} cores of {name}: e.g. "
                           f"layer {g.layers[worst].name!r} needs kernel memory {kernel[worst]} and neuron memory "
                           f"{neuron[worst]} (largest core: {max(p.kernel_memory_per_core)} / "
                           f"{max(p.neuron_memory_per_core)})")
        total_cores = len(g.layers)
    elif p.cores_per_chip == 1:
        total_cores = 1 if all(r["cores_needed"] is not None for r in rows) else None
        for r in rows:
            r["cores_needed"] = None if r["cores_needed"] is None else 1
    elif all(r["cores_needed"] is not None for r in rows):
        total_cores = int(sum(r["cores_needed"] for r in rows))
    n_chips = None
    if total_cores is not None and p.cores_per_chip is not None:
        n_chips = max(1, math.ceil(total_cores / p.cores_per_chip))
        if n_chips > chips:
            reasons.append(f"network needs {total_cores} cores > {p.cores_per_chip * chips} (cores_per_chip of {name}"
                           f"{f' x {chips} chips' if chips > 1 else ''}) by {total_cores - p.cores_per_chip * chips}")

    if total_cores is not None and p.cores_per_chip is not None:
        # a per-chip total is implied by the per-core limit times the cores counted above
        for chip_f, core_f in (("neurons_per_chip", "neurons_per_core"), ("synapses_per_chip", "synapses_per_core")):
            if getattr(p, core_f) is not None:
                unknown.discard(chip_f)

    # decay representability: notes only
    if p.decay == "bitshift":
        for layer in g.layers:
            if layer.decay is not None and 0 < layer.decay < 1:
                # the shift rockpool's mapper and neurorec.hardware.fixed_point use: round(log2(tau / dt))
                d = max(0, round(math.log2(-1.0 / math.log(layer.decay))))
                notes.append(f"layer {layer.name!r}: decay {layer.decay:.4f} becomes the bit shift 1 - 2^-{d} = "
                             f"{1 - 2.0 ** -d:.4f} on {name}")
                break
    if p.decay == "none" and any(layer.decay is not None and layer.decay < 1 for layer in g.layers):
        notes.append(f"{name} has no exponential decay (decay 'none'): leaky layers are approximated")

    for f in sorted(unknown):
        notes.append(f"{f}: not checked (unknown for {name}: {p.notes.get(f, 'no figure')})")
    df = pd.DataFrame(rows)
    fits = not reasons
    if fits:
        if total_cores is not None:
            verdict = f"fits on {n_chips or 1} chip{'s' if (n_chips or 1) > 1 else ''}, {total_cores} " \
                      f"core{'s' if total_cores != 1 else ''}"
        else:
            verdict = "fits within every known limit (cores not computed: per-core limits unknown)"
        if unknown:
            verdict += f"; not checked (unknown): {', '.join(sorted(unknown))}"
    else:
        verdict = "does not fit: " + reasons[0]
        if len(reasons) > 1:
            verdict += f" (and {len(reasons) - 1} more)"
    return FitReport(name, df, fits, verdict, reasons, notes, total_cores, n_chips)

