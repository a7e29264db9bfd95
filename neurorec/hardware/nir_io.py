r"""NIR export and import: :func:`to_nir` and :func:`from_nir`.

The Neuromorphic Intermediate Representation (NIR; J. E. Pedersen et al. 2024, "Neuromorphic
intermediate representation: a unified instruction set for interoperable brain-inspired
computing", Nature Communications 15, 8122) describes a network as a graph of continuous-time
nodes. neurorec writes and reads ``nir`` 1.0 graphs (``pip install "neurorec[hardware]"``).

Supported models
----------------
``to_nir`` takes a fitted :class:`~neurorec.models.spiking.snn.SpikingClassifier`
(feed-forward or recurrent), a :class:`~neurorec.models.spiking.network.Network` (LIF,
SynapticLIF and CubaLIF populations, dense or sparse connections, delays) or a fitted
:class:`~neurorec.models.spiking.lsm.LSM`. ``from_nir`` gives back the same kind of object
(neurorec's own graphs carry a ``"neurorec"`` entry in ``graph.metadata``), and reads graphs
written by other libraries (snntorch ``export_to_nir``, norse ``to_nir``) as a ``Network`` or,
for a layered graph whose layers feed each other in the same step, a ``SpikingClassifier``.

Units and metadata
------------------
NIR time constants are in **seconds** (snntorch and norse write seconds: snntorch with a fixed
:math:`\Delta t = 10^{-4}` s, norse with ``dt=0.001`` s); neurorec works in ms, so every
:math:`\tau` is written as ``tau_ms * 1e-3``. ``graph.metadata`` holds ``"dt"`` (seconds),
``"time_unit": "s"``, ``"discretisation"`` (below), ``"source": "neurorec"``,
``"neurorec_version"`` and ``"neurorec"`` (a JSON string with what NIR cannot say: the model
kind, hyper-parameters, population names, reset modes, the LSM readout). snntorch and norse
write no ``dt``: pass ``from_nir(graph, dt=...)`` in **ms** (0.1 for snntorch's
:math:`10^{-4}` s, 1.0 for norse's default).

NIR does not say where a neuron starts: neurorec's populations start at rest (:math:`v = v_{leak}`,
no synaptic current), the classifier's membranes at 0 (:math:`v_{leak} = 0` in its graphs); the
readers here start at 0 (snntorch) or at :math:`v_{leak}` (norse 1.1, ``norse/torch/module/lif_box.py``).

Every neuron parameter is written per neuron (arrays of shape ``(n,)``). Weights are dense:
NIR has no sparse matrix, so a sparse connection is written with zeros where there is no
synapse (``from_nir`` makes the zeros "no synapse" again). NIR's ``Linear``/``Affine`` weight is
``(out, in)``: the transpose of neurorec's ``Connection.weight`` ``(n_source, n_target)``.

Discretisation: which discrete update a reader runs
---------------------------------------------------
NIR's LIF is :math:`\tau \dot v = (v_{leak} - v) + R I`, spike :math:`z = [v > v_{th}]`,
then :math:`v \leftarrow v_{reset}`; its CubaLIF adds :math:`\tau_{syn}\dot I = -I + w_{in} S`;
its LI is the LIF without threshold. A simulator with step :math:`\Delta t` runs one of

* **exact** (zero-order hold; neurorec and brian2 ``method='exact'``; rockpool 3.1's ``LIFTorch``
  also decays by :math:`e^{-\Delta t/\tau}`, sinabs 2.0 by :math:`e^{-1/\tau}` with :math:`\tau`
  counted in steps; their input scalings are their own):
  :math:`v \leftarrow v_{leak} + RI + (v - v_{leak} - RI)\beta`, :math:`\beta = e^{-\Delta t/\tau}`;
  for CubaLIF the input :math:`S[n]` of step :math:`n` is
  an impulse of area :math:`S[n]\Delta t` at the start of the step (so :math:`I` jumps by
  :math:`w_{in} S \Delta t/\tau_{syn}`) and the linear system is then solved exactly over the
  step (:math:`I \leftarrow \alpha I`, :math:`\alpha = e^{-\Delta t/\tau_{syn}}`, while
  :math:`v` gains :math:`k R I` with
  :math:`k = \frac{\tau_{syn}}{\tau_{syn} - \tau}(\alpha - \beta)`);
* **euler** (forward Euler; snntorch ``import_from_nir`` with :math:`\Delta t = 10^{-4}` s
  hard-coded, norse ``from_nir`` with its ``dt``):
  :math:`v \leftarrow v + \frac{\Delta t}{\tau}(v_{leak} - v + RI)`, i.e. :math:`\beta = 1 -
  \Delta t/\tau`; CubaLIF: :math:`I \leftarrow (1 - \frac{\Delta t}{\tau_{syn}}) I +
  \frac{\Delta t}{\tau_{syn}} w_{in} S`, then :math:`v` with the new :math:`I`.

Both read an input as held over the step and a ``Linear`` edge as acting in the same step.
``to_nir(..., discretisation="exact")`` (default) writes the physical time constants, so an
exact reader reproduces neurorec bit for bit in exact arithmetic; ``"euler"`` writes
:math:`\tau_E = \Delta t / (1 - \beta)` (and :math:`\tau_{syn,E} = \Delta t/(1-\alpha)`), which
makes a forward-Euler reader run the same :math:`\beta` (and :math:`\alpha`). The choice is
stored in ``graph.metadata["discretisation"]``; ``from_nir`` reads with it (with
``"euler"`` for graphs without it: the two writers installed here, snntorch and norse, both
discretise by forward Euler).

Derivation: SpikingClassifier (snntorch's ``Leaky``)
----------------------------------------------------
The classifier runs :math:`U[t] = \beta U[t-1] + I[t] - \vartheta R[t]` with
:math:`\beta = e^{-\Delta t/\tau_{mem}}` and :math:`I = W s + b` (module docstring of
:mod:`~neurorec.models.spiking.snn`). Matching :math:`v \leftarrow \beta v + (1-\beta) R I` (exact,
:math:`\tau = \tau_{mem}`) or :math:`v \leftarrow (1 - \Delta t/\tau) v + (\Delta t/\tau) R I`
(Euler, :math:`\tau = \tau_E = \Delta t/(1-\beta)`) term by term gives in **both** cases

.. math:: R = \frac{1}{1 - \beta}, \qquad v_{leak} = 0, \qquad v_{th} = \vartheta,

with the Affine weights and biases written unchanged (nodes ``input -> hidden_l (Affine) ->
lif_l (LIF)``; the recurrent weights ``recurrent.l.weight`` as a ``Linear`` edge ``lif_l ->
recurrent_l -> lif_l``, read as the previous step's spikes, as snntorch's ``RLeaky`` subgraph;
the output layer ``output_affine -> readout -> output``, ``readout`` being a ``LIF`` for
``readout="spike_count"`` or a ``LI`` (:math:`\tau`, :math:`R` as above) for the
membrane readouts, whose mean/max over time is not a NIR node and is kept in the metadata).
Reset: ``reset="zero"`` (:math:`U \leftarrow \beta(1-R)U + I`) is NIR's
:math:`v \leftarrow v_{reset} = 0` exactly (the delayed reset sets the same state as an
immediate one). ``reset="subtract"`` with snntorch's delayed reset equals an *immediate*
subtraction of :math:`\vartheta/\beta` (from :math:`V = U - (\vartheta/\beta) s`), which NIR's LIF
cannot say: it has only :math:`v \leftarrow v_{reset}`. ``to_nir`` therefore refuses it
(``strict=True``), or with ``strict=False`` writes :math:`v_{reset} = 0` and records
``"reset": "subtract"`` in the node's metadata (neurorec reads it back exactly; other readers
reset to zero and their spikes differ). The classifier's input scaling (``normalize``) and
encoding (``encoder``, ``steps_per_input``, ``input_mode="static"``) are not part of the graph:
the graph's input is the *encoded* input, which :func:`encoded_input` computes.

Derivation: Network
-------------------
A :class:`~neurorec.models.spiking.network.Network` population is written as one node:

* ``LIF`` -> ``nir.LIF(tau=tau_mem, r=1, v_leak=v_rest, v_threshold=v_th, v_reset=v_reset)``:
  its input current (``Connection("input", ..., "current")``, held over the step) is NIR's
  :math:`RI` with :math:`R = 1`, so the input edge ``input -> c{i} (Linear) -> population``
  carries :math:`W^T`.
* ``SynapticLIF`` -> ``nir.CubaLIF(tau_syn, tau_mem, r=1, v_leak=v_rest, ..., w_in)`` with
  :math:`w_{in} = \tau_{syn}/\Delta t`: an input or a spike of weight :math:`w` makes
  :math:`I` jump by :math:`w_{in} w \Delta t/\tau_{syn} = w`, as ``i_syn`` does in neurorec.
  (Euler: :math:`\tau_{syn,E}`, :math:`w_{in} = \tau_{syn,E}/\Delta t` and
  :math:`R = k\,\tau_E/\Delta t` so that :math:`(\Delta t/\tau_E) R = k`.)
* ``CubaLIF`` -> ``nir.CubaLIF`` with :math:`v_{leak} = E_L` and the time constant of the synaptic
  current its connections feed (``i_exc`` or ``i_inh``); both fed with different time
  constants cannot be one NIR node (``ValueError``); input connections (which drive ``v``
  directly as :math:`RI`) cannot enter a NIR CubaLIF, whose input goes through :math:`I`
  (``ValueError``).

A population-to-population connection (neurorec: the spikes of step :math:`n` increment the
target variable after thresholding, felt from step :math:`n+1`; with delay :math:`d` steps,
from :math:`n+1+d`) is ``source -> d{i} (Delay, (d+1)·Δt) -> c{i} (Linear) -> target``: the
Delay makes the one-step synaptic latency explicit. Into ``i_syn``/``i_exc``/``i_inh`` the jump
:math:`w` is the weight itself (as for inputs). Into ``v`` of a LIF a jump :math:`J` after step
:math:`n` adds :math:`\beta J` to :math:`v[n+1]`, which a current :math:`c` held over step
:math:`n+1` does when :math:`(1-\beta) c = \beta J`: the Linear weight is
:math:`J\beta/(1-\beta)`. This is exact for ``reset="subtract"`` (the jump commutes with the
subtraction), but neurorec (as brian2) loses a jump into ``v`` of a ``reset="zero"`` or
refractory neuron that fires in the step the jump arrives, which NIR cannot say.

Refused always (``ValueError`` naming the construct): STDP plasticity, ``AdaptiveLIF``,
``CobaLIF``, ``SpikeSource`` populations, jumps into ``v`` of a SynapticLIF/CubaLIF. Refused with
``strict=True`` (default) and written approximately, with the exact neurorec construct in the
metadata, with ``strict=False``: ``reset="subtract"`` (NIR resets to ``v_reset``), refractory
periods, jumps into ``v`` of a zero-reset LIF. neurorec's own reader restores the exact network
from the metadata after checking it against the NIR parameters.

LSM
---
The liquid is written as its Network (population ``liquid``, input ``[u, 1]``: the last input
channel carries the bias) and the readout (ridge weights, filter time constant, pooling,
input standardisation) goes to ``graph.metadata``: its features (spike traces sampled at the
end of every input step, pooled over the sequence, concatenated with membranes and inputs) are
not NIR nodes. ``from_nir`` gives back an :class:`~neurorec.models.spiking.lsm.LSM` with the
same predictions. The LSM's default ``refractory=2`` ms needs ``strict=False``.

snntorch's reset (issue 12)
---------------------------
snntorch 1.0's ``export_to_nir`` writes a ``Leaky`` (default ``reset_mechanism="subtract"``,
``reset_delay=True``) as ``nir.LIF(..., v_reset=0)``: the graph of a subtract-reset network is
byte-for-byte the graph of the same network with ``reset_mechanism="zero"``, so the reset mode
is lost on the *export* side. Its ``import_from_nir`` reads NIR correctly (``Leaky(reset_mechanism=
"zero", reset_delay=False)``: NIR resets to ``v_reset``, immediately). neurorec reads the file as
NIR says (reset to ``v_reset``) and so gives snntorch's *imported* network's spikes; it writes a
subtract-reset model only when asked (``strict=False``) and then says so in the metadata.
The same holds for ``RLeaky(reset_mechanism="zero")`` with the default ``reset_delay=True``, which
zeroes the whole next update (:math:`U = (1-R)(\beta U + I + V s)`, input included) where the
exported LIF resets only the membrane: export ``RLeaky`` with ``reset_delay=False`` (what
``import_from_nir`` builds) to keep its spikes. ``tests/test_nir_roundtrip.py`` checks both.

norse 1.1's ``to_nir`` writes :math:`\tau = \Delta t\,\tau_{true}` (``dt / tau_mem_inv``, 1e-5 s
for its default 10 ms), which its own ``from_nir`` reads as :math:`1/\tau` (unstable): write with
``norse.torch.to_nir(module, sample, dt=1.0)`` (``dt`` is used for nothing else there, so the
time constants come out right), or read an existing file with
``from_nir(graph, dt=1.0, time_scale=1000)``. It writes ``LIFCell`` as a NIR CubaLIF
with ``w_in=1``, while its ``LIFCell`` adds the input to the current unscaled and after the
membrane update; neurorec, like norse's own ``from_nir``, follows the graph.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
import re
import tempfile
import warnings
from collections.abc import Mapping

import numpy as np
from scipy import sparse

__all__ = ["to_nir", "from_nir", "encoded_input", "DISCRETISATIONS", "SUPPORTED_NODES"]

DISCRETISATIONS = ("exact", "euler")
SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "Delay", "LIF", "CubaLIF", "LI", "NIRGraph (subgraph)")
_MS = 1e-3           # seconds per ms
_GAIN_RTOL = 1e-5    # input gains this close to 1 are 1 (float32 round-off of the writers, as snntorch's reader)


def _nir():
    from neurorec.backends.ops import require

    return require("nir")


def _version() -> str:
    import neurorec

    return str(getattr(neurorec, "__version__", "unknown"))


# ----------------------------------------------------------------------------- helpers
def _check_disc(discretisation) -> str:
    if discretisation not in DISCRETISATIONS:
        raise ValueError(f"discretisation must be one of {DISCRETISATIONS}, got {discretisation!r}.")
    return discretisation


def _tau_out(tau_ms: float, dt_ms: float, disc: str) -> float:
    """Time constant written to NIR (seconds): physical (exact) or dt / (1 - beta) (euler)."""
    if disc == "exact":
        return tau_ms * _MS
    return dt_ms / (1.0 - math.exp(-dt_ms / tau_ms)) * _MS


def _decay_in(tau_s, dt_ms: float, disc: str, what: str):
    """Per-step decay of a NIR time constant (seconds) under the discretisation."""
    tau = np.asarray(tau_s, dtype=np.float64)
    x = dt_ms * _MS / tau
    if disc == "exact":
        return np.exp(-x)
    if np.any(x >= 1):
        raise ValueError(f"{what}: dt={dt_ms} ms is not below the time constant ({float(tau.min()):g} s); "
                         "forward Euler has no decay in (0, 1) there.")
    return 1.0 - x


def _tau_from_decay(decay: float, dt_ms: float, what: str) -> float:
    """neurorec time constant (ms) with exp(-dt/tau) = decay."""
    if not 0 < decay < 1:
        raise ValueError(f"{what}: decay per step {decay!r} is outside (0, 1).")
    tau = -dt_ms / math.log(decay)
    if tau < dt_ms:
        raise ValueError(f"{what}: the time constant {tau:g} ms is below dt={dt_ms} ms (decay {decay:g} per "
                         "step), which neurorec's neuron models refuse; read the graph with a smaller dt.")
    return tau


def _uniform(node_name: str, param: str, values) -> float:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"NIR node {node_name!r}: parameter {param!r} is empty.")
    if not np.allclose(a, a[0], rtol=1e-6, atol=1e-12):
        raise ValueError(f"NIR node {node_name!r}: parameter {param!r} differs between neurons "
                         f"(from {a.min():g} to {a.max():g}); neurorec populations share one value per "
                         "parameter (split the node into one node per value).")
    return float(a[0])


def _param(node, name: str, size: int, key: str = "") -> np.ndarray:
    """A node parameter as a float64 array of shape (size,) (scalars broadcast)."""
    a = np.asarray(getattr(node, name), dtype=np.float64).ravel()
    if a.size == 1:
        return np.full(size, float(a[0]))
    if a.size != size:
        raise ValueError(f"NIR node {key!r}: parameter {name!r} has {a.size} values for {size} neurons.")
    return a


def _node_size(key: str, node, nodes, pred) -> int:
    """Neurons of a neuron node: its parameters' length, else the rows of the weight feeding it."""
    sizes = [np.asarray(getattr(node, f)).size for f in ("tau", "tau_mem", "r", "v_threshold", "v_leak")
             if getattr(node, f, None) is not None]
    n = max(sizes) if sizes else 1
    if n == 1:
        for p in pred.get(key, []):
            w = getattr(nodes[p], "weight", None)
            if w is not None and np.ndim(w) == 2:
                return int(np.shape(w)[0])
    return int(n)


def _full(n: int, value: float) -> np.ndarray:
    return np.full(n, float(value), dtype=np.float64)


def _mix(tau_x: float, tau_m: float, dt: float) -> float:
    from neurorec.models.spiking.neurons import _mix_coefficient

    return _mix_coefficient(tau_x, tau_m, dt)


def _meta_str(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _meta_str(value[()])
    return str(value)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (os.umask sets it, for all threads)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_atomic(graph, path) -> None:
    nir = _nir()
    if not isinstance(path, str | os.PathLike):
        raise ValueError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"path {path!r} is a folder; give the name of the .nir file to write.")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"path {path!r}: the folder {folder!r} does not exist.")
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nir", dir=folder)
    except OSError as exc:  # e.g. a read-only folder: name the folder, not the temporary file
        raise type(exc)(exc.errno, f"cannot write {path!r}: cannot create a file in {folder!r} "
                                   f"({exc.strerror})") from None
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.chmod(tmp, mode)  # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class _Approx:
    """Collects the constructs NIR cannot say exactly: raise (strict) or note them."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.notes: list[str] = []

    def __call__(self, what: str) -> None:
        if self.strict:
            raise ValueError(f"NIR cannot express {what}; pass strict=False to write the closest NIR graph "
                             "(exact construct kept in the metadata, read back exactly by neurorec only).")
        self.notes.append(what)


def _graph(nodes, edges, metadata):
    nir = _nir()
    has_input = any(isinstance(n, nir.Input) for n in nodes.values())
    # nir's type check prepends an Input node to every other node without incoming edge (a population no
    # connection feeds), which would give the graph a second input: check types only without such nodes
    fed = {b for _, b in edges}
    roots = [k for k, n in nodes.items() if k not in fed and not isinstance(n, nir.Input)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=has_input and not roots)


def _base_metadata(dt_ms: float, disc: str, info: dict, arrays: dict | None = None) -> dict:
    meta = {"dt": float(dt_ms) * _MS, "time_unit": "s", "discretisation": disc, "source": "neurorec",
            "neurorec_version": _version(), "neurorec": json.dumps(info, default=_json_default)}
    if arrays:
        meta["neurorec_arrays"] = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    return meta


# ============================================================================= to_nir
def to_nir(model, *, path=None, discretisation: str = "exact", strict: bool = True):
    """Write a neurorec spiking model as a NIR graph (and optionally a ``.nir`` file).

    Parameters
    ----------
    model : SpikingClassifier (fitted), Network or LSM (fitted)
    path : str or os.PathLike, optional
        Write the graph to this HDF5 file (``nir.write``) atomically: to a temporary file in the
        same folder, then ``os.replace``; nothing is left half-written.
    discretisation : {"exact", "euler"}
        Which reader the time constants are written for (module docstring): ``"exact"`` (the
        physical time constants; neurorec, exponential-decay readers) or ``"euler"``
        (:math:`\\tau = \\Delta t/(1-\\beta)`; forward-Euler readers such as snntorch and norse).
    strict : bool
        Refuse (``ValueError``) constructs NIR cannot say exactly (subtract reset, refractory
        periods, jumps into ``v`` of a zero-reset LIF); with False write the closest NIR graph
        and keep the exact construct in the metadata (listed in
        ``graph.metadata["neurorec_approximations"]``).

    Returns
    -------
    nir.NIRGraph

    Raises
    ------
    ValueError
        ``model`` of another kind, a construct NIR cannot say (named; module docstring), an unknown
        ``discretisation``.
    NotFittedError
        An unfitted ``SpikingClassifier`` or ``LSM``.
    IsADirectoryError, FileNotFoundError
        ``path`` is a folder, or its folder does not exist (nothing is written; an existing file
        is kept, with its permissions).
    """
    from neurorec.models.spiking.lsm import LSM
    from neurorec.models.spiking.network import Network
    from neurorec.models.spiking.snn import SpikingClassifier

    disc = _check_disc(discretisation)
    approx = _Approx(bool(strict))
    if hasattr(model, "int_weights_") or type(model).__name__ == "QuantizedSpikingClassifier":
        raise ValueError(f"{type(model).__name__} runs in a chip's integer arithmetic, which NIR (continuous-time, "
                         "real-valued) cannot describe; export the float SpikingClassifier it was quantised from "
                         "(its integer weights are in int_weights_).")
    if isinstance(model, SpikingClassifier):
        graph = _classifier_graph(model, disc, approx)
    elif isinstance(model, Network):
        graph = _network_graph(model, disc, approx, {"kind": "Network"})
    elif isinstance(model, LSM):
        graph = _lsm_graph(model, disc, approx)
    else:
        raise ValueError(f"model must be a SpikingClassifier, a Network or an LSM, got {type(model).__name__}; "
                         "NIR describes spiking networks only.")
    if approx.notes:
        graph.metadata["neurorec_approximations"] = "; ".join(approx.notes)
    if path is not None:
        _write_atomic(graph, path)
    return graph


# ----------------------------------------------------------------------------- classifier
def _classifier_graph(model, disc: str, approx: _Approx):
    nir = _nir()
    model._check_fitted("to_nir")
    spec = model._spec()
    beta, thr, dt = spec.beta, spec.threshold, float(model.dt)
    if model.reset == "subtract":
        approx("reset='subtract' of the SpikingClassifier (NIR's LIF resets to v_reset; train with reset='zero')")
    w = model.weights_
    sizes = model._hidden_sizes()
    tau = _tau_out(float(model.tau_mem), dt, disc)
    r = 1.0 / (1.0 - beta)

    def lif(n):
        node = nir.LIF(tau=_full(n, tau), r=_full(n, r), v_leak=_full(n, 0.0), v_threshold=_full(n, thr),
                       v_reset=_full(n, 0.0))
        node.metadata = {"reset": model.reset}
        return node

    n_in = w["hidden.0.weight"].shape[1]
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges = []
    prev = "input"
    for layer, h in enumerate(sizes):
        nodes[f"hidden_{layer}"] = nir.Affine(weight=np.array(w[f"hidden.{layer}.weight"]),
                                              bias=np.array(w[f"hidden.{layer}.bias"]))
        nodes[f"lif_{layer}"] = lif(h)
        edges += [(prev, f"hidden_{layer}"), (f"hidden_{layer}", f"lif_{layer}")]
        if f"recurrent.{layer}.weight" in w:
            nodes[f"recurrent_{layer}"] = nir.Linear(weight=np.array(w[f"recurrent.{layer}.weight"]))
            edges += [(f"lif_{layer}", f"recurrent_{layer}"), (f"recurrent_{layer}", f"lif_{layer}")]
        prev = f"lif_{layer}"
    n_out = w["output.weight"].shape[0]
    nodes["output_affine"] = nir.Affine(weight=np.array(w["output.weight"]), bias=np.array(w["output.bias"]))
    if model.readout == "spike_count":
        nodes["readout"] = lif(n_out)
    else:
        nodes["readout"] = nir.LI(tau=_full(n_out, tau), r=_full(n_out, r), v_leak=_full(n_out, 0.0))
    nodes["output"] = nir.Output(output_type={"output": np.array([n_out])})
    edges += [(prev, "output_affine"), ("output_affine", "readout"), ("readout", "output")]
    params = {k: v for k, v in model.get_params(deep=False).items()}
    classes = np.asarray(model.classes_)
    info = {"kind": "SpikingClassifier", "params": params, "n_hidden_layers": len(sizes),
            "classes": classes.tolist(), "classes_dtype": classes.dtype.str,
            "n_features_in": int(model.n_features_in_),
            "n_timesteps_in": None if model.n_timesteps_in_ is None else int(model.n_timesteps_in_),
            "seed": int(model.seed_), "best_epoch": int(getattr(model, "best_epoch_", 0)),
            "history": getattr(model, "history_", {}), "task": getattr(model, "task_", "classification"),
            "readout": model.readout,
            "graph_input": "the encoded input (neurorec.hardware.nir_io.encoded_input), one row per step"}
    arrays = {"x_offset": np.asarray(model.x_offset_), "x_scale": np.asarray(model.x_scale_)}
    return _graph(nodes, edges, _base_metadata(dt, disc, info, arrays))


def encoded_input(model, X):
    """The input a classifier's NIR graph takes: ``X`` scaled and encoded as the model does.

    The graph of :func:`to_nir` starts after the classifier's input pipeline (``normalize``,
    ``encoder``, ``input_mode``, ``steps_per_input``); this gives, for the same ``X``, what
    enters its first ``Affine`` node at every simulation step (Poisson spikes drawn as
    :meth:`~neurorec.models.spiking.snn.SpikingClassifier.predict` draws them).

    Parameters
    ----------
    model : SpikingClassifier (fitted)
    X : array (batch, time, features), list of (time_i, features) arrays, or one (time, features) sequence

    Returns
    -------
    x : ndarray (batch, steps, n_inputs), or (steps, n_inputs) for one sequence
        One row per simulation step (a held input repeated), zero after a sequence's end.
    lengths : ndarray (batch,), or an int for one sequence
        Valid simulation steps of every sequence (the readout pools over these).
    """
    from neurorec._validation import check_sequences
    from neurorec.models.spiking.snn import _CHUNK, SpikingClassifier

    if not isinstance(model, SpikingClassifier):
        raise ValueError(f"model must be a SpikingClassifier, got {type(model).__name__}.")
    model._check_fitted("encoded_input")
    batch = check_sequences(X, "X", n_features=model.n_features_in_, dtype=np.dtype(model.dtype))
    model._check_static(batch, "X", model.n_timesteps_in_)
    xn = model._scaled(batch, model.x_offset_, model.x_scale_)
    model._check_unit_range(xn, "X")
    rng = np.random.default_rng(model.seed_) if model.encoder == "poisson" else None
    xs, ls = [], []
    for s in range(0, batch.batch, _CHUNK):
        x, lengths, hold = model._encode(xn[s:s + _CHUNK], batch.lengths[s:s + _CHUNK], rng)
        x = np.asarray(x)
        if hold > 1:
            x = np.repeat(x, hold, axis=1)
        xs.append(x)
        ls.append(np.asarray(lengths) * hold)
    width = max(a.shape[1] for a in xs)
    xs = [np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0))) for a in xs]
    x, lengths = np.concatenate(xs), np.concatenate(ls)
    if batch.single:  # a single sequence comes back in its rank (DESIGN.md, data conventions)
        return x[0], int(lengths[0])
    return x, lengths


# ----------------------------------------------------------------------------- network
def _neuron_json(neuron) -> str:
    return json.dumps({"model": type(neuron).__name__, **dataclasses.asdict(neuron)})


def _population_node(p, net, targets: set, has_input: bool, disc: str, approx: _Approx):
    """The NIR node of a population and the variable its synaptic edges feed."""
    from neurorec.models.spiking.neurons import LIF, AdaptiveLIF, CobaLIF, CubaLIF, SynapticLIF

    nir = _nir()
    n, size, dt = p.neuron, p.size, float(net.dt)
    where = f"population {p.name!r}"
    if p.is_source:
        raise ValueError(f"{where} is a SpikeSource (given spike trains): NIR has no node for recorded spikes; "
                         "drive the network through its input instead.")
    if isinstance(n, AdaptiveLIF | CobaLIF):
        raise ValueError(f"{where}: {type(n).__name__} has no NIR node (NIR has LIF, CubaLIF, IF, LI, I); "
                         "supported populations: LIF, SynapticLIF, CubaLIF.")
    if n.refractory > 0:
        approx(f"the refractory period of {where} ({n.refractory} ms)")
    if n.reset == "subtract":
        approx(f"reset='subtract' of {where} (NIR's neurons reset to v_reset)")
    if isinstance(n, LIF):
        if "v" in targets and (n.reset == "zero" or n.refractory > 0):
            approx(f"jumps into 'v' of {where}: neurorec (as brian2) drops a jump into v of a neuron that fires "
                   "or is refractory in that step; NIR delivers it")
        node = nir.LIF(tau=_full(size, _tau_out(n.tau_mem, dt, disc)), r=_full(size, 1.0),
                       v_leak=_full(size, n.v_rest), v_threshold=_full(size, n.v_th), v_reset=_full(size, n.v_reset))
        var = "v"
    elif isinstance(n, SynapticLIF | CubaLIF):
        if "v" in targets:
            raise ValueError(f"a connection into 'v' of {where} ({type(n).__name__}): NIR's CubaLIF takes input only "
                             "through its synaptic current; connect to the synaptic current instead.")
        if isinstance(n, SynapticLIF):
            tau_syn, v_leak, var = n.tau_syn, n.v_rest, "i_syn"
        else:
            if has_input:
                raise ValueError(f"an input connection into {where} (CubaLIF): its input current drives v directly "
                                 "(R I), but NIR's CubaLIF takes input only through its synaptic current; use a "
                                 "SynapticLIF population for input, or feed i_exc/i_inh from a population.")
            used = sorted(targets & {"i_exc", "i_inh"})
            if len(used) == 2 and not math.isclose(n.tau_exc, n.tau_inh, rel_tol=1e-12):
                raise ValueError(f"{where} (CubaLIF) has connections into both i_exc (tau_exc={n.tau_exc} ms) and "
                                 f"i_inh (tau_inh={n.tau_inh} ms): NIR's CubaLIF has one synaptic current, so two "
                                 "with different time constants cannot be one node.")
            var = used[0] if used else "i_exc"
            tau_syn = n.tau_exc if var == "i_exc" else n.tau_inh
            v_leak = n.E_L
        ts, tm = _tau_out(tau_syn, dt, disc), _tau_out(n.tau_mem, dt, disc)
        if disc == "exact":
            r = 1.0
        else:
            r = _mix(tau_syn, n.tau_mem, dt) * tm / (dt * _MS)
        node = nir.CubaLIF(tau_syn=_full(size, ts), tau_mem=_full(size, tm), r=_full(size, r),
                           v_leak=_full(size, v_leak), v_threshold=_full(size, n.v_th),
                           v_reset=_full(size, n.v_reset), w_in=_full(size, ts / (dt * _MS)))
    else:  # pragma: no cover - Population checks the neuron type
        raise ValueError(f"{where}: unsupported neuron {type(n).__name__}.")
    node.metadata = {"neurorec": _neuron_json(n), "population": p.name, "variable": var}
    return node, var


def _network_graph(net, disc: str, approx: _Approx, info: dict, arrays: dict | None = None):
    from neurorec.models.spiking.network import INPUT

    nir = _nir()
    pops = {p.name: p for p in net.populations}
    targets = {name: set() for name in pops}
    with_input = set()
    for c in net.connections:
        if c.plasticity is not None:
            raise ValueError(f"Connection {c.source}->{c.target} has STDP plasticity: NIR describes fixed weights "
                             "only; export the network after learning, with plasticity=None.")
        if c.source == INPUT:
            with_input.add(c.target)
        else:
            targets[c.target].add(c.variable)
    nodes, edges = {}, []
    if net.n_inputs:
        nodes["input"] = nir.Input(input_type={"input": np.array([net.n_inputs])})
    var_of = {}
    decay = {}
    for p in net.populations:
        nodes[p.name], var_of[p.name] = _population_node(p, net, targets[p.name], p.name in with_input, disc, approx)
        if var_of[p.name] == "v":
            decay[p.name] = p.neuron.decays(net.dt)["beta"]
    def fresh(name: str) -> str:  # auxiliary node names never collide with population names
        while name in nodes or name in pops:
            name += "_"
        return name

    for i, c in enumerate(net.connections):
        W = c.weight.toarray().T  # (out, in)
        tgt = c.target
        meta = {"connection": i, "source": c.source, "target": tgt, "variable": c.variable,
                "delay_ms": float(c.delay)}
        lin = fresh(f"c{i}")
        if c.source == INPUT:
            nodes[lin] = nir.Linear(weight=W)
            nodes[lin].metadata = meta
            edges += [("input", lin), (lin, tgt)]
            continue
        if c.variable == "v":
            b = decay[tgt]
            W = W * (b / (1.0 - b))
        elif c.variable != var_of[tgt] and {c.variable, var_of[tgt]} != {"i_exc", "i_inh"}:  # pragma: no cover
            raise ValueError(f"Connection {c.source}->{tgt}: variable {c.variable!r} cannot be said in NIR.")
        steps = net.delay_steps(c) + 1
        dly = fresh(f"d{i}")
        nodes[dly] = nir.Delay(delay=_full(pops[c.source].size, steps * net.dt * _MS))
        lin = fresh(f"c{i}")
        nodes[lin] = nir.Linear(weight=W)
        nodes[lin].metadata = meta
        edges += [(c.source, dly), (dly, lin), (lin, tgt)]
    for p in net.populations:
        out = fresh(f"out_{p.name}")
        nodes[out] = nir.Output(output_type={"output": np.array([p.size])})
        edges.append((p.name, out))
    info = {**info, "populations": [p.name for p in net.populations], "n_inputs": int(net.n_inputs),
            "dt_ms": float(net.dt), "n_connections": len(net.connections)}
    return _graph(nodes, edges, _base_metadata(net.dt, disc, info, arrays))


def _lsm_graph(model, disc: str, approx: _Approx):
    model._check_fitted("to_nir")
    net = model.network()
    params = model.get_params(deep=False)
    params["stdp"] = None  # the liquid is written with its learned weights
    info = {"kind": "LSM", "params": params, "n_exc": int(model.n_exc_), "task": model.task_,
            "n_features_in": int(model.n_features_in_),
            "readout": "ridge weights on the features of LSM.transform (spike traces filtered with tau_filter, "
                       "membranes, inputs) pooled over the sequence; not NIR nodes",
            "input_channels": "[standardised input u, 1 (bias channel)], each held steps_per_input steps"}
    if model.task_ == "classification":
        classes = np.asarray(model.classes_)
        info.update(classes=classes.tolist(), classes_dtype=classes.dtype.str)
    else:
        info["n_outputs"] = int(model.n_outputs_)
    arrays = {"W_out": model.W_out_, "b_out": np.atleast_1d(model.b_out_), "x_mean": model.x_mean_,
              "x_scale": model.x_scale_, "W_in": model.W_in_, "bias": model.bias_, "W": model.recurrent_weights()}
    return _network_graph(net, disc, approx, info, arrays)


# ============================================================================= from_nir
def _read(graph_or_path):
    nir = _nir()
    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, None
    if not isinstance(graph_or_path, str | os.PathLike):
        raise ValueError(f"graph_or_path must be a nir.NIRGraph or the path of a .nir file, "
                         f"got {type(graph_or_path).__name__}.")
    path = os.fspath(graph_or_path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"NIR file {path!r} is a folder, not a .nir file.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"NIR file {path!r} does not exist.")
    try:
        # without nir's type inference, which prepends an Input node to every node no edge feeds (a
        # population without input): neurorec checks the shapes along every path itself
        graph = nir.read(path, type_check=False)
    except OSError as exc:  # h5py: no HDF5 signature, a truncated file, ...
        raise ValueError(f"{path!r} is not a NIR file (not readable as HDF5: {_h5_reason(exc)})") from None
    except Exception as exc:  # KeyError, AssertionError, ... from an HDF5 file that holds no NIR graph
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(f"{path!r} is not a NIR file (HDF5, but no readable NIR graph: "
                         f"{type(exc).__name__}: {msg})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise ValueError(f"NIR file {path!r} holds a {type(graph).__name__}, not a NIRGraph.")
    return graph, path


def _h5_reason(exc: BaseException) -> str:
    """h5py's reason, without its wrapper: 'Unable to synchronously open file (file signature not found)'."""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    m = re.fullmatch(r"Unable to (?:synchronously )?open file \((.*)\)", msg)
    return m.group(1) if m else msg


def _flatten(graph, prefix: str = ""):
    """Nodes and edges with subgraphs (e.g. snntorch's RLeaky) inlined as ``name.inner``."""
    nir = _nir()
    nodes, edges = {}, []
    entry, exit_ = {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, prefix + name + ".")
            ins = [k for k, v in sub_nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub_nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise ValueError(f"NIR subgraph {prefix + name!r} must have one Input and one Output node, "
                                 f"has {len(ins)} and {len(outs)}.")
            entry[name] = [b for a, b in sub_edges if a == ins[0]]
            exit_[name] = [a for a, b in sub_edges if b == outs[0]]
            nodes.update({k: v for k, v in sub_nodes.items() if k not in (ins[0], outs[0])})
            edges += [(a, b) for a, b in sub_edges if a != ins[0] and b != outs[0]]
        else:
            nodes[prefix + name] = node
    for a, b in graph.edges:
        srcs = exit_.get(a, [prefix + a])
        dsts = entry.get(b, [prefix + b])
        edges += [(s, d) for s in srcs for d in dsts]
    return nodes, edges


def _node_meta(node) -> dict:
    meta = getattr(node, "metadata", None)
    return meta if isinstance(meta, Mapping) else {}


def from_nir(graph_or_path, *, dt: float | None = None, discretisation: str | None = None,
             time_scale: float = 1.0):
    r"""Read a NIR graph (or ``.nir`` file) as a neurorec model.

    Parameters
    ----------
    graph_or_path : nir.NIRGraph, str or os.PathLike
    dt : float, optional
        Time step in **ms** (neurorec's unit). By default ``graph.metadata["dt"]`` (seconds,
        converted); a graph without it (snntorch, norse) needs ``dt``: 0.1 for snntorch (its
        fixed :math:`10^{-4}` s), norse's ``dt`` (1.0 for its default :math:`10^{-3}` s).
    discretisation : {"exact", "euler"}, optional
        How to read the time constants (module docstring); by default
        ``graph.metadata["discretisation"]``, else ``"euler"`` (snntorch's and norse's).
    time_scale : float
        Multiplies every time constant and delay of the graph before reading (default 1). norse
        1.1's ``to_nir`` writes :math:`\tau = \Delta t / \tau^{-1}` (``dt / tau_mem_inv``) where
        NIR means :math:`1/\tau^{-1}`, i.e. its time constants are :math:`\Delta t` (in s) times too
        small: read its graphs with ``time_scale=1/dt_seconds`` (1000 for its default
        ``dt=0.001``). snntorch writes correct time constants (``time_scale=1``).

    Returns
    -------
    Network, SpikingClassifier or LSM
        neurorec's own graphs give back their kind (exactly: same spikes and states). Other
        graphs give a ``Network`` when every population-to-population path has a ``Delay`` of at
        least one step (neurorec's synaptic latency), else a ``SpikingClassifier`` when they are
        layered ``Input -> Affine -> LIF (-> Linear -> same LIF) -> ... -> Affine -> LIF | LI ->
        Output`` with one time constant (the snntorch / norse sequential networks; weights
        absorb :math:`R`, :math:`v_{leak}` and per-neuron thresholds). Its input is the graph's
        input as is (``normalize=None``, ``encoder="current"``); its classes are ``0..n-1``.

    Raises
    ------
    ValueError
        An unsupported node (named, with the supported types), a parameter that is NaN, infinite
        or a non-positive time constant (node and parameter named), an edge naming a missing node,
        a graph of no supported shape, no ``dt``, a ``dt`` other than the one a neurorec
        ``SpikingClassifier`` or ``LSM`` was written with (their weights act per step), or a
        corrupt or truncated file (one line naming the file).
    FileNotFoundError, IsADirectoryError
        The file does not exist, or the path is a folder.

    Warns
    -----
    UserWarning
        Where the neurorec model can differ from a NIR reader in ways NIR leaves open: an
        ``Affine`` bias into a LIF is read as its resting potential :math:`v_{leak} + R b`, where
        neurorec's neurons also *start* (run with ``initial={pop: {"v": v_leak}}`` to start at
        :math:`v_{leak}`); a layered graph with :math:`v_{leak} \ne 0` becomes a classifier whose
        membranes start at 0; spikes into ``v`` of a foreign LIF node; a ``dt`` 1000 times below
        the graph's (seconds given for ms).
    """
    graph, path = _read(graph_or_path)
    meta = dict(graph.metadata or {})
    info = {}
    if "neurorec" in meta:
        try:
            info = json.loads(_meta_str(meta["neurorec"]))
            if not isinstance(info, dict):
                raise TypeError
        except (ValueError, TypeError):
            raise ValueError(f"NIR graph{'' if path is None else ' ' + repr(path)}: its 'neurorec' metadata is not "
                             "a JSON object.") from None
    nodes, edges = _flatten(graph)
    _check_nodes(nodes, edges)  # an unsupported node is named before any complaint about dt
    if dt is None:
        if "dt" not in meta:
            raise ValueError("the NIR graph has no 'dt' in its metadata (snntorch and norse write none): pass "
                             "from_nir(..., dt=...) in ms (0.1 for snntorch's fixed 1e-4 s, 1.0 for norse's "
                             "default 1e-3 s).")
        dt = float(np.asarray(meta["dt"])) / _MS
    if not (_is_real(dt) and math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive time step in ms, got {dt!r}.")
    dt = float(dt)
    if "dt" in meta:
        dt_graph = float(np.asarray(meta["dt"])) / _MS
        if not math.isclose(dt, dt_graph, rel_tol=1e-9):
            if info.get("kind") in ("SpikingClassifier", "LSM"):
                raise ValueError(f"dt={dt:g} ms: this {info['kind']} was written with dt={dt_graph:g} ms and its "
                                 "weights act per step, so it cannot be read at another step; leave dt out.")
            if math.isclose(dt, dt_graph * _MS, rel_tol=1e-6):
                warnings.warn(f"from_nir: dt={dt:g} ms is 1000 times below the graph's dt ({dt_graph:g} ms): dt is "
                              "in ms, not seconds; the network is read at the step you gave.", stacklevel=2)
    disc = discretisation if discretisation is not None else (_meta_str(meta.get("discretisation")) or "euler")
    disc = _check_disc(disc)
    _check_shapes(nodes, edges)
    if info.get("kind"):
        nodes, edges = _drop_inserted_inputs(nodes, edges)
    if time_scale != 1.0:
        if not (_is_real(time_scale) and math.isfinite(time_scale) and time_scale > 0):
            raise ValueError(f"time_scale must be a positive number, got {time_scale!r}.")
        nodes = {k: _scaled_times(v, float(time_scale)) for k, v in nodes.items()}
    kind = info.get("kind")
    try:
        if kind == "SpikingClassifier":
            return _classifier_from(nodes, edges, info, meta, dt, disc, own=True)
        if kind in ("Network", "LSM"):
            net = _in_written_order(_network_from(nodes, edges, dt, disc), info.get("populations"))
            return _lsm_from(net, info, meta) if kind == "LSM" else net
    except (KeyError, TypeError) as exc:  # a damaged 'neurorec' entry (keys or hyper-parameters)
        raise ValueError(f"NIR graph{'' if path is None else ' ' + repr(path)}: its 'neurorec' metadata is incomplete "
                         f"or damaged ({type(exc).__name__}: {exc}); drop graph.metadata['neurorec'] to read the graph "
                         "from its NIR parameters alone.") from None
    try:
        return _network_from(nodes, edges, dt, disc)
    except _SameStep as exc:
        try:
            return _classifier_from(nodes, edges, {}, meta, dt, disc, own=False)
        except _NotLayered as exc2:
            raise ValueError(f"the NIR graph is neither a neurorec Network ({exc}) nor a layered classifier "
                             f"({exc2}).") from None


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool | np.bool_)


_NUMERIC_FIELDS = ("weight", "bias", "tau", "tau_mem", "tau_syn", "r", "v_leak", "v_threshold", "v_reset", "w_in",
                   "delay")


def _check_nodes(nodes, edges) -> None:
    """Every node of a supported type with finite parameters; every edge between existing nodes."""
    nir = _nir()
    ok = (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Delay, nir.LIF, nir.CubaLIF, nir.LI)
    for name, node in nodes.items():
        if not isinstance(node, ok):
            raise ValueError(f"NIR node {name!r} has type {type(node).__name__}, which neurorec cannot read; "
                             f"supported node types: {', '.join(SUPPORTED_NODES)}.")
        for f in _NUMERIC_FIELDS:
            value = getattr(node, f, None)
            if value is None:
                continue
            try:
                a = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"NIR node {name!r}: parameter {f!r} is not numeric "
                                 f"({type(value).__name__}).") from None
            if not np.all(np.isfinite(a)):
                raise ValueError(f"NIR node {name!r}: parameter {f!r} contains NaN or infinite values "
                                 f"({int(np.sum(~np.isfinite(a)))} of {a.size}).")
            if (f.startswith("tau") and not np.all(a > 0)) or (f == "delay" and not np.all(a >= 0)):
                raise ValueError(f"NIR node {name!r}: parameter {f!r} must be {'positive' if f != 'delay' else '>= 0'} "
                                 f"(seconds), got a minimum of {a.min():g}.")
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise ValueError(f"NIR graph: the edge {a!r} -> {b!r} names a node {end!r} that the graph does not "
                                 "have.")


def _io_sizes(key: str, node):
    """(values in, values out) of a node along NIR's feature axis; None where the node does not say."""
    nir = _nir()
    if isinstance(node, nir.Input):
        shape = np.asarray(node.input_type.get("input", []) if node.input_type else []).ravel()
        if shape.size == 0:
            raise ValueError(f"NIR Input node {key!r} has no input size (input_type {node.input_type!r}).")
        return None, int(shape[-1])
    if isinstance(node, nir.Affine | nir.Linear):
        w = np.asarray(node.weight)
        if w.ndim != 2:
            raise ValueError(f"NIR node {key!r}: weight must be 2-d (out, in), got shape {w.shape}.")
        if isinstance(node, nir.Affine) and np.asarray(node.bias).size not in (1, w.shape[0]):
            raise ValueError(f"NIR node {key!r}: bias has {np.asarray(node.bias).size} values for a weight of "
                             f"{w.shape[0]} outputs.")
        return int(w.shape[1]), int(w.shape[0])
    if isinstance(node, nir.Output):
        return None, None
    sizes = {np.asarray(getattr(node, f)).size for f in _NUMERIC_FIELDS if getattr(node, f, None) is not None}
    sizes.discard(1)
    if len(sizes) > 1:
        raise ValueError(f"NIR node {key!r}: its parameters have different lengths {sorted(sizes)}.")
    n = sizes.pop() if sizes else None
    return n, n


def _check_shapes(nodes, edges) -> None:
    """Every edge carries as many values as its source gives and its target takes."""
    io = {k: _io_sizes(k, v) for k, v in nodes.items()}
    for a, b in edges:
        out, inp = io[a][1], io[b][0]
        if out is not None and inp is not None and out != inp:
            raise ValueError(f"NIR edge {a!r} -> {b!r}: {a!r} gives {out} values but {b!r} takes {inp}.")


def _drop_inserted_inputs(nodes, edges):
    """A neurorec graph has at most one Input node, ``input``; the others are nir's type inference's
    (``input_<node>``, prepended to a population no connection feeds): they carry no data."""
    nir = _nir()
    extra = [k for k, v in nodes.items() if isinstance(v, nir.Input) and k != "input"
             and all(a != k or b == k[len("input_"):] for a, b in edges)]
    if not extra:
        return nodes, edges
    nodes = {k: v for k, v in nodes.items() if k not in extra}
    return nodes, [(a, b) for a, b in edges if a not in extra]


def _scaled_times(node, ts: float):
    nir = _nir()
    fields = {nir.LIF: ("tau",), nir.LI: ("tau",), nir.CubaLIF: ("tau_syn", "tau_mem"), nir.Delay: ("delay",)}
    for cls, names in fields.items():
        if isinstance(node, cls):
            return dataclasses.replace(node, **{n: np.asarray(getattr(node, n), dtype=np.float64) * ts
                                                for n in names})
    return node


class _SameStep(ValueError):
    pass


class _NotLayered(ValueError):
    pass


# ----------------------------------------------------------------------------- network reader
def _pop_name(key: str, node, taken: set) -> str:
    name = _meta_str(_node_meta(node).get("population"))
    if not name:
        name = re.sub(r"\W", "_", key)
        if not name or name[0].isdigit():
            name = "n_" + name
        if name == "input":
            name = "input_pop"
    base, k = name, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _own_neuron(node, size: int, dt: float, disc: str):
    """The neurorec neuron recorded in the node's metadata, if it is what the node says."""
    from neurorec.models.spiking import neurons as nrn

    text = _meta_str(_node_meta(node).get("neurorec"))
    if not text:
        return None
    try:
        d = json.loads(text)
        cls = getattr(nrn, d.pop("model"))
        neuron = cls(**d)
    except Exception:  # noqa: BLE001 - foreign or damaged metadata: read the NIR parameters instead
        return None
    nir = _nir()
    # what _population_node would write for this neuron must be what the node holds
    try:
        if isinstance(node, nir.LIF):
            expect = {"tau": _tau_out(neuron.tau_mem, dt, disc), "v_leak": neuron.v_rest, "v_threshold": neuron.v_th,
                      "v_reset": neuron.v_reset, "r": 1.0}
        else:
            var = _meta_str(_node_meta(node).get("variable")) or ""
            tau_syn = {"i_syn": getattr(neuron, "tau_syn", None), "i_exc": getattr(neuron, "tau_exc", None),
                       "i_inh": getattr(neuron, "tau_inh", None)}.get(var)
            if tau_syn is None:
                return None
            ts, tm = _tau_out(tau_syn, dt, disc), _tau_out(neuron.tau_mem, dt, disc)
            r = 1.0 if disc == "exact" else _mix(tau_syn, neuron.tau_mem, dt) * tm / (dt * _MS)
            expect = {"tau_syn": ts, "tau_mem": tm, "v_threshold": neuron.v_th, "v_reset": neuron.v_reset,
                      "v_leak": getattr(neuron, "v_rest", getattr(neuron, "E_L", None)), "r": r,
                      "w_in": ts / (dt * _MS)}
        for k, v in expect.items():
            if not np.allclose(np.asarray(getattr(node, k), dtype=np.float64), v, rtol=1e-9, atol=1e-12):
                return None
        if np.asarray(node.v_threshold).size not in (1, size):
            return None
    except (AttributeError, TypeError, ValueError):
        return None
    return neuron


def _foreign_neuron(key: str, node, dt: float, disc: str, size: int):
    """(neurorec neuron, per-neuron input gain g, membrane decay beta) from the NIR parameters."""
    from neurorec.models.spiking.neurons import LIF, SynapticLIF

    nir = _nir()
    dts = dt * _MS
    v_th = _uniform(key, "v_threshold", node.v_threshold)
    v_reset = _uniform(key, "v_reset", node.v_reset)
    v_leak = _uniform(key, "v_leak", node.v_leak)
    r = _param(node, "r", size, key)
    if not v_th > v_reset:
        raise ValueError(f"NIR node {key!r}: v_threshold={v_th:g} must be above v_reset={v_reset:g}.")
    if isinstance(node, nir.LIF):
        tau = _uniform(key, "tau", node.tau)
        beta = float(_decay_in(tau, dt, disc, f"NIR node {key!r}"))
        neuron = LIF(tau_mem=_tau_from_decay(beta, dt, f"NIR node {key!r}"), v_th=v_th, v_reset=v_reset,
                     reset="zero", refractory=0.0, v_rest=v_leak)
        return neuron, r, beta
    tau_m = _uniform(key, "tau_mem", node.tau_mem)
    tau_s = _uniform(key, "tau_syn", node.tau_syn)
    beta = float(_decay_in(tau_m, dt, disc, f"NIR node {key!r}"))
    alpha = float(_decay_in(tau_s, dt, disc, f"NIR node {key!r}"))
    neuron = SynapticLIF(tau_mem=_tau_from_decay(beta, dt, f"NIR node {key!r} (tau_mem)"),
                         tau_syn=_tau_from_decay(alpha, dt, f"NIR node {key!r} (tau_syn)"), v_th=v_th,
                         v_reset=v_reset, reset="zero", refractory=0.0, v_rest=v_leak)
    w_in = _param(node, "w_in", size, key)
    jump = w_in * dts / tau_s  # jump of I per unit input
    if disc == "exact":
        g = jump * r
    else:
        k = neuron.decays(dt)["k"]
        g = jump * r * (dts / tau_m) / k
    return neuron, g, beta


def _paths(start: str, nodes, succ) -> list:
    """Walk from ``start`` through Linear/Affine/Delay nodes to every neuron it reaches:
    (target, W (out, in) or None, bias or None, delay seconds, [node keys])."""
    nir = _nir()
    out = []

    def walk(key, W, b, delay, trail):
        for nxt in succ.get(key, []):
            node = nodes[nxt]
            if nxt in trail:
                raise ValueError(f"NIR graph: a cycle through {nxt!r} that passes no neuron node.")
            if isinstance(node, nir.LIF | nir.CubaLIF | nir.LI):
                out.append((nxt, W, b, delay, trail))
            elif isinstance(node, nir.Affine | nir.Linear):
                M = np.asarray(node.weight, dtype=np.float64)
                if M.ndim != 2:
                    raise ValueError(f"NIR node {nxt!r}: weight must be 2-d (out, in), got shape {M.shape}.")
                bias = np.asarray(node.bias, dtype=np.float64) if isinstance(node, nir.Affine) else None
                W2 = M if W is None else M @ W
                b2 = (None if b is None else M @ b)
                if bias is not None:
                    b2 = bias if b2 is None else b2 + bias
                walk(nxt, W2, b2, delay, trail + [nxt])
            elif isinstance(node, nir.Delay):
                d = np.asarray(node.delay, dtype=np.float64).ravel()
                dd = _uniform(nxt, "delay", d)
                walk(nxt, W, b, delay + dd, trail + [nxt])
            # Output nodes end a walk
    walk(start, None, None, 0.0, [])
    return out


def _network_from(nodes, edges, dt: float, disc: str):
    from neurorec.models.spiking.network import Connection, Network, Population
    from neurorec.models.spiking.neurons import LIF

    nir = _nir()
    succ, pred = {}, {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) > 1:
        raise ValueError(f"the NIR graph has {len(inputs)} Input nodes {inputs}; neurorec networks take one input "
                         "(nir's type check adds an Input node 'input_<node>' before every node no edge feeds: build "
                         "the graph with type_check=False).")
    neurons = [k for k, v in nodes.items() if isinstance(v, nir.LIF | nir.CubaLIF | nir.LI)]
    if not neurons:
        raise ValueError("the NIR graph has no neuron node (LIF, CubaLIF).")
    for k in neurons:
        if isinstance(nodes[k], nir.LI):
            raise _SameStep(f"LI node {k!r} (a non-spiking readout) has no neurorec population")
    for k in neurons:  # the shape first: same-step edges between neurons are no Network
        for tgt, _, _, delay, _ in _paths(k, nodes, succ):
            if delay <= 0:
                raise _SameStep(f"the edge {k!r} -> {tgt!r} acts in the same step (no Delay); neurorec's "
                                "connections act from the next step")
    taken, pops, info, own_of = set(), [], {}, {}
    for k in neurons:
        node = nodes[k]
        size = _node_size(k, node, nodes, pred)
        own = _own_neuron(node, size, dt, disc)
        name = _pop_name(k, node, taken)
        if own is not None:
            beta = own.decays(dt)["beta"]
            neuron, gain, var = own, None, _meta_str(_node_meta(node).get("variable"))
        else:
            neuron, gain, beta = _foreign_neuron(k, node, dt, disc, size)
            var = "v" if isinstance(neuron, LIF) else "i_syn"
            if np.allclose(gain, 1.0, rtol=_GAIN_RTOL, atol=0):
                gain = None
        pops.append(Population(name, size, neuron))
        info[k] = (name, neuron, gain, beta, var, size)
        own_of[k] = own
    n_inputs = 0
    conns = []
    starts = ([(inputs[0], True)] if inputs else []) + [(k, False) for k in neurons]
    if inputs:
        n_inputs = int(np.asarray(nodes[inputs[0]].input_type["input"]).ravel()[-1])
    for start, is_input in starts:
        for tgt, W, b, delay, trail in _paths(start, nodes, succ):
            name, neuron, gain, beta, var, size = info[tgt]
            src_size = n_inputs if is_input else info[start][5]
            if W is None and size != src_size:
                raise ValueError(f"NIR edge {start!r} -> {tgt!r} has no weight node between a source of {src_size} "
                                 f"and a target of {size} neurons; a direct edge needs equal sizes (one-to-one).")
            M = np.eye(size) if W is None else W
            if M.shape != (size, src_size):
                raise ValueError(f"NIR path {start!r} -> {tgt!r}: weight has shape {M.shape}, expected "
                                 f"({size}, {src_size}).")
            g = np.ones(size) if gain is None else gain
            order = _conn_order(nodes, trail)
            if b is not None and np.any(b != 0):
                if not (isinstance(neuron, LIF) and np.allclose(b * g, (b * g)[0])):
                    raise ValueError(f"NIR path {start!r} -> {tgt!r}: an Affine bias into a {type(neuron).__name__} "
                                     "population can only be read as a constant current shared by all its neurons "
                                     "(into a LIF); give the bias as an input channel instead.")
                v_leak = neuron.v_rest
                neuron = dataclasses.replace(neuron, v_rest=neuron.v_rest + float((b * g)[0]))
                warnings.warn(f"NIR path {start!r} -> {tgt!r}: the Affine bias is read as the resting potential "
                              f"v_rest = v_leak + R b = {neuron.v_rest:g} of population {name!r}, where its neurons "
                              f"also start; a NIR reader that starts at v_leak = {v_leak:g} differs in the first "
                              f"steps: run with initial={{{name!r}: {{'v': {v_leak:g}}}}} to start there.",
                              stacklevel=3)
                info[tgt] = (name, neuron, gain, beta, var, size)
                pops = [Population(p.name, p.size, neuron) if p.name == name else p for p in pops]
            if is_input:
                if delay != 0:
                    raise ValueError(f"NIR path {start!r} -> {tgt!r}: neurorec input connections have no delay, "
                                     f"got {delay:g} s.")
                Wn = M * g[:, None] if gain is not None else M
                conns.append((order, Connection("input", name, sparse.csr_matrix(Wn.T), "current")))
                continue
            steps = delay / (dt * _MS)
            if abs(steps - round(steps)) > 1e-6 * max(1.0, steps):
                raise ValueError(f"NIR path {start!r} -> {tgt!r}: delay {delay:g} s is not a multiple of "
                                 f"dt={dt} ms.")
            steps = int(round(steps))
            if steps < 1:
                raise _SameStep(f"the edge {start!r} -> {tgt!r} acts in the same step (no Delay); neurorec's "
                                "connections act from the next step")
            Wn = M * g[:, None] if gain is not None else M
            if var == "v":
                Wn = Wn * ((1.0 - beta) / beta)
                if own_of[tgt] is None:
                    warnings.warn(f"NIR path {start!r} -> {tgt!r} delivers spikes as a current into the LIF "
                                  f"node {tgt!r}; neurorec delivers them as a jump into v after the threshold, "
                                  "which it drops when the target fires in that step (brian2's order), so spikes "
                                  "can differ from a NIR reader's there.", stacklevel=3)
            # the variable neurorec wrote, when the target is read as the neuron neurorec wrote
            own_var = trail and own_of[tgt] is not None
            variable = _meta_str(_node_meta(nodes[trail[-1]]).get("variable")) if own_var else None
            variable = variable if variable in ("i_exc", "i_inh", "i_syn", "v") else var
            conns.append((order, Connection(info[start][0], name, sparse.csr_matrix(Wn.T), variable,
                                            delay=(steps - 1) * dt)))
    conns = [c for _, c in sorted(conns, key=lambda t: t[0])]
    return Network(pops, conns, n_inputs=n_inputs, dt=dt)


def _in_written_order(net, names):
    """The populations in the order the network was written in (a file lists its nodes sorted by name)."""
    from neurorec.models.spiking.network import Network

    have = [p.name for p in net.populations]
    if not isinstance(names, list) or sorted(have) != sorted(names) or have == names:
        return net
    by_name = {p.name: p for p in net.populations}
    return Network([by_name[n] for n in names], net.connections, n_inputs=net.n_inputs, dt=net.dt)


def _conn_order(nodes, trail) -> tuple:
    for key in reversed(trail):
        idx = _node_meta(nodes[key]).get("connection")
        if idx is not None:
            return (0, int(np.asarray(idx)))
    return (1, len(trail), tuple(trail))


# ----------------------------------------------------------------------------- classifier reader
def _classifier_from(nodes, edges, info: dict, meta: dict, dt: float, disc: str, own: bool):
    from neurorec.models.spiking.snn import SpikingClassifier

    nir = _nir()
    pred, succ = {}, {}
    for a, b in edges:
        pred.setdefault(b, []).append(a)
        succ.setdefault(a, []).append(b)
    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise _NotLayered(f"a layered graph has one Input node, this one has {len(inputs)}")
    layers = []  # (affine key, neuron key, recurrent key or None)
    cur = inputs[0]
    while True:
        nxt = [k for k in succ.get(cur, []) if not isinstance(nodes[k], nir.Output)]
        if cur != inputs[0]:
            nxt = [k for k in nxt if not (layers and k == layers[-1][2])]
        if not nxt:
            break
        if len(nxt) != 1 or not isinstance(nodes[nxt[0]], nir.Affine | nir.Linear):
            raise _NotLayered(f"after {cur!r} comes {nxt}, expected one Affine/Linear node")
        aff = nxt[0]
        after = succ.get(aff, [])
        if len(after) != 1 or not isinstance(nodes[after[0]], nir.LIF | nir.LI):
            raise _NotLayered(f"{aff!r} must feed one LIF or LI node")
        neuron = after[0]
        rec = [p for p in pred.get(neuron, []) if p != aff]
        if len(rec) > 1:
            raise _NotLayered(f"{neuron!r} has more than one recurrent input")
        if rec:
            rk = rec[0]
            if pred.get(rk) != [neuron] or not isinstance(nodes[rk], nir.Affine | nir.Linear):
                raise _NotLayered(f"{rk!r} into {neuron!r} is not a recurrent Linear from {neuron!r}")
        layers.append((aff, neuron, rec[0] if rec else None))
        cur = neuron
        if isinstance(nodes[neuron], nir.LI):
            break
    if len(layers) < 2:
        raise _NotLayered("a classifier needs at least one hidden layer and an output layer")
    *hidden, last = layers
    for _, nk, _ in hidden:
        if not isinstance(nodes[nk], nir.LIF):
            raise _NotLayered(f"hidden node {nk!r} must be a LIF")
    if last[2] is not None:
        raise _NotLayered("the output layer cannot be recurrent")
    dts = dt * _MS
    taus = np.concatenate([np.asarray(nodes[nk].tau, dtype=np.float64).ravel() for _, nk, _ in layers])
    if not np.allclose(taus, taus[0], rtol=1e-6, atol=0):
        raise ValueError("the layered NIR graph has several membrane time constants; the SpikingClassifier has "
                         f"one (tau from {taus.min():g} to {taus.max():g} s).")
    beta = float(_decay_in(taus[0], dt, disc, f"NIR node {layers[0][1]!r}"))
    step_gain = (1.0 - beta) if disc == "exact" else dts / taus[0]
    lif_thr = np.concatenate([np.asarray(nodes[nk].v_threshold, dtype=np.float64).ravel()
                              for _, nk, _ in layers if isinstance(nodes[nk], nir.LIF)])
    shared = bool(np.allclose(lif_thr, lif_thr[0], rtol=1e-12, atol=0))
    threshold = float(lif_thr[0]) if shared else 1.0
    recurrent = any(r is not None for _, _, r in hidden)
    weights = {}
    for l, (ak, nk, rk) in enumerate(layers):
        node = nodes[nk]
        size = int(np.shape(nodes[ak].weight)[0])
        r = _param(node, "r", size, nk)
        gain = step_gain * r
        lif = isinstance(node, nir.LIF)
        if lif and np.any(np.asarray(node.v_reset, dtype=np.float64) != 0):
            raise ValueError(f"NIR node {nk!r}: v_reset must be 0 for a SpikingClassifier (it resets to 0), got "
                             f"{np.asarray(node.v_reset).ravel()[:3]}.")
        A = nodes[ak]
        W = np.asarray(A.weight, dtype=np.float64)
        b = np.asarray(A.bias, dtype=np.float64) if isinstance(A, nir.Affine) else np.zeros(W.shape[0])
        V = None
        if rk is not None:
            R = nodes[rk]
            V = np.asarray(R.weight, dtype=np.float64)
            if isinstance(R, nir.Affine):
                b = b + np.asarray(R.bias, dtype=np.float64)
        v_leak = _param(node, "v_leak", size, nk)
        if not own:
            # U <- beta U + gain (v_leak / r + W s + b): v_leak / r is a constant input
            if np.any(v_leak != 0):
                b = b + v_leak / r
                warnings.warn(f"NIR node {nk!r}: v_leak != 0 is read as a bias of the SpikingClassifier, whose "
                              "membranes start at 0; a NIR reader that starts them at v_leak differs in the first "
                              "steps.", stacklevel=3)
            scale = gain.copy()
            if lif and not shared:
                scale = scale / _param(node, "v_threshold", size, nk)
            if not np.allclose(scale, 1.0, rtol=_GAIN_RTOL, atol=0):
                W, b = W * scale[:, None], b * scale
                V = None if V is None else V * scale[:, None]
        name = f"hidden.{l}" if l < len(hidden) else "output"
        weights[f"{name}.weight"], weights[f"{name}.bias"] = W, b
        if l < len(hidden) and recurrent:
            weights[f"recurrent.{l}.weight"] = V if V is not None else np.zeros((size, size))
    if own:
        params = dict(info["params"])
        if isinstance(params.get("hidden"), list):
            params["hidden"] = tuple(params["hidden"])
        b_own = math.exp(-float(params["dt"]) / float(params["tau_mem"]))
        expect = {"tau": _tau_out(float(params["tau_mem"]), float(params["dt"]), disc), "r": 1.0 / (1.0 - b_own),
                  "v_leak": 0.0}
        for _, nk, _ in layers:
            checks = {**expect, "v_threshold": float(params["threshold"])} if isinstance(nodes[nk], nir.LIF) else expect
            for f, v in checks.items():
                if not np.allclose(np.asarray(getattr(nodes[nk], f), dtype=np.float64), v, rtol=1e-9, atol=0):
                    raise ValueError(f"NIR node {nk!r}: {f} disagrees with the graph's neurorec metadata (expected "
                                     f"{v:g}); the file was edited or dt/discretisation were overridden. Drop "
                                     "graph.metadata['neurorec'] to read it from its NIR parameters alone.")
        resets = {_meta_str(_node_meta(nodes[nk]).get("reset")) for _, nk, _ in layers
                  if isinstance(nodes[nk], nir.LIF)}
        if resets - {None, params.get("reset")}:
            raise ValueError(f"NIR graph: the nodes' reset modes {sorted(r for r in resets if r)} disagree with the "
                             f"classifier's reset={params.get('reset')!r}.")
        clf = SpikingClassifier(**params)
        dtype = np.dtype(params.get("dtype", "float32"))
        clf.weights_ = {k: np.array(v, dtype=dtype) for k, v in _own_weights(nodes, layers, hidden).items()}
        arrays = meta.get("neurorec_arrays", {})
        clf.classes_ = np.array(info["classes"], dtype=np.dtype(info["classes_dtype"]))
        clf.n_features_in_ = int(info["n_features_in"])
        clf.n_timesteps_in_ = info["n_timesteps_in"]
        clf.x_offset_ = np.array(arrays["x_offset"])
        clf.x_scale_ = np.array(arrays["x_scale"])
        clf.seed_ = int(info["seed"])
        clf.history_ = info.get("history", {})
        clf.best_epoch_ = int(info.get("best_epoch", 0))
        clf.task_ = info.get("task", "classification")
        return clf
    tau_mem = _tau_from_decay(beta, dt, "the layered NIR graph")
    readout = "spike_count" if isinstance(nodes[last[1]], nir.LIF) else "membrane_mean"
    clf = SpikingClassifier(hidden=tuple(int(np.shape(nodes[ak].weight)[0]) for ak, _, _ in hidden),
                            tau_mem=tau_mem, dt=dt, threshold=threshold, reset="zero",
                            recurrent=recurrent, readout=readout, normalize=None,
                            encoder="current", backend="numpy", dtype="float64")
    clf.weights_ = weights
    n_out = weights["output.weight"].shape[0]
    clf.classes_ = np.arange(n_out)
    clf.n_features_in_ = int(weights["hidden.0.weight"].shape[1])
    clf.n_timesteps_in_ = None
    clf.x_offset_ = np.zeros(clf.n_features_in_)
    clf.x_scale_ = np.ones(clf.n_features_in_)
    clf.seed_ = 0
    clf.history_ = {}
    clf.best_epoch_ = 0
    clf.task_ = "classification"
    return clf


def _own_weights(nodes, layers, hidden) -> dict:
    """The classifier's weights as written by :func:`to_nir` (unscaled)."""
    nir = _nir()
    w = {}
    for l, (ak, _, rk) in enumerate(layers):
        name = f"hidden.{l}" if l < len(hidden) else "output"
        w[f"{name}.weight"] = np.asarray(nodes[ak].weight)
        w[f"{name}.bias"] = np.asarray(nodes[ak].bias) if isinstance(nodes[ak], nir.Affine) else \
            np.zeros(np.asarray(nodes[ak].weight).shape[0])
        if rk is not None:
            w[f"recurrent.{l}.weight"] = np.asarray(nodes[rk].weight)
    return w


# ----------------------------------------------------------------------------- LSM reader
def _lsm_from(net, info: dict, meta: dict):
    from neurorec.models.spiking.lsm import LSM

    arrays = meta.get("neurorec_arrays", {})
    params = dict(info["params"])
    model = LSM(**params)
    model.W_ = np.array(arrays["W"], dtype=np.float64)
    model.W_in_ = np.array(arrays["W_in"], dtype=np.float64)
    model.bias_ = np.array(arrays["bias"], dtype=np.float64)
    model.n_exc_ = int(info["n_exc"])
    model.n_features_in_ = int(info["n_features_in"])
    model.x_mean_ = np.array(arrays["x_mean"], dtype=np.float64)
    model.x_scale_ = np.array(arrays["x_scale"], dtype=np.float64)
    model.W_out_ = np.array(arrays["W_out"], dtype=np.float64)
    model.b_out_ = np.array(arrays["b_out"], dtype=np.float64)
    model.task_ = info["task"]
    if model.task_ == "classification":
        model.classes_ = np.array(info["classes"], dtype=np.dtype(info["classes_dtype"]))
    else:
        model.n_outputs_ = int(info["n_outputs"])
    # the liquid in the graph must be the one the metadata rebuilds
    rebuilt = model.network()
    for p_graph, p_meta in zip(net.populations, rebuilt.populations, strict=True):
        if p_graph.size != p_meta.size or p_graph.neuron != p_meta.neuron:
            raise ValueError(f"the LSM graph's population {p_graph.name!r} ({p_graph.neuron}) disagrees with its "
                             "metadata; the file was edited (read it as a Network with from_nir on a graph without "
                             "the 'neurorec' metadata).")
    for c_graph, c_meta in zip(net.connections, rebuilt.connections, strict=True):
        if c_graph.source != c_meta.source or not np.allclose(c_graph.weight.toarray(), c_meta.weight.toarray(),
                                                               rtol=1e-9, atol=1e-12):
            raise ValueError("the LSM graph's liquid weights disagree with its metadata; the file was edited "
                             "(read it as a Network with from_nir on a graph without the 'neurorec' metadata).")
    return model
