r"""Run a NIR graph in the other libraries that read NIR, and return their spikes as numpy.

A private helper for the cross-library tests (``tests/test_nir_peers.py``) and experiments
(e.g. ``experiments/deploy.py``): :func:`run_peer` hands a :class:`nir.NIRGraph` to one of four readers
-- snntorch (``snntorch.import_nir.import_from_nir``), norse (``norse.torch.from_nir``), rockpool
(``rockpool.nn.modules.from_nir``, torch modules) and sinabs (``sinabs.from_nir``) -- runs it on
an input ``(batch, time, features)`` and returns the spikes of the graph's output, or of every
spiking node, as float64 arrays ``(batch, time, neurons)``.

NIR describes continuous-time neurons; every reader picks its own time step and its own
discretisation (measured and read from their sources, versions nir 1.0.8, nirtorch 2.6,
snntorch 1.0, norse 1.1.0, rockpool 3.1.0, sinabs 2.0.3). Step :math:`n`, decay over a step
:math:`\Delta t` of a time constant :math:`\tau`, :math:`y[n]` the output of the weight node
feeding the neuron:

- **snntorch** (``import_from_nir``; snntorch/import_nir.py:242-276): forward Euler,
  :math:`v \leftarrow (1 - \Delta t/\tau) v + y` with the threshold divided by the input factor
  :math:`r \Delta t/\tau` (which must be the same for the whole layer); :math:`\Delta t` is
  hard-coded to ``1e-4`` (line 243); reset to 0 in the step of the spike (``v_reset`` is not
  read), ``v_leak`` must be 0, one threshold per layer.
- **norse** (``from_nir(graph, dt=1e-3)``; norse/torch/functional/lif_box.py): forward Euler,
  :math:`v \leftarrow v + \frac{\Delta t}{\tau}(v_{leak} - v + y)` with :math:`\Delta t` the
  ``dt`` argument; ``r`` is ignored (a logged warning); reset to 0 in the step of the spike
  (``v_reset`` of a LIF is not read).
- **rockpool** (``from_nir``; rockpool/nn/modules/torch/nir.py:115-136): exact decay,
  :math:`v \leftarrow e^{-\Delta t/\tau} v + y + v_{leak}` with
  :math:`\Delta t = \min_i \tau_i / (1 + r_i)`; ``r`` is used for nothing else; reset by
  subtracting the threshold, :math:`\lfloor v/\vartheta \rfloor` spikes when
  :math:`v \ge \vartheta` (``v_reset`` is not read).
- **sinabs** (``from_nir(graph, batch_size, num_timesteps)``; sinabs/nir.py:94-108): exact
  decay :math:`v \leftarrow e^{-1/\tau} v + y`, :math:`\tau` read in time steps; ``r`` is
  ignored, ``v_leak`` must be 0; reset by subtracting the threshold, several spikes per step as
  rockpool (``v_reset`` is not read).

With the same graph the Euler readers (snntorch, norse) and the exact ones (rockpool, sinabs)
therefore differ in the decay and in the reset; ``tests/test_nir_peers.py`` checks each reader
against a numpy model of the update above, spike for spike.

:func:`run_peer` tells each reader the time step ``dt`` through the only channel that reader
has (:func:`prepare_graph` returns the graph it hands over):

- **snntorch** ignores the graph's metadata and uses ``dt = 1e-4``: every time constant is
  multiplied by ``1e-4 / dt``. The continuous-time equations are invariant under this change of
  time unit (``r`` and the inputs are per step and unchanged), so the graph's dynamics are kept.
- **norse**: ``dt`` is passed as ``from_nir(graph, dt=dt)``.
- **rockpool** derives its step as :math:`\min_i \tau_i / (1 + r_i)` and uses ``r`` for nothing
  else, so ``r = tau / dt - 1`` is written. Its ``nir.LIF`` branch reads ``node.tau_mem``, which
  ``nir.LIF`` does not have (it has ``tau``): an ``AttributeError`` on every LIF graph in
  rockpool 3.1.0, so ``tau_mem`` is aliased on the copy of the node.
- **sinabs** reads time constants in time steps (:math:`\alpha = e^{-1/\tau}`): they are divided
  by ``dt``. It reads ``nir.Affine`` only (a ``nir.Linear`` is given a zero bias) and no
  ``nir.CubaLIF`` (refused here with that reason).

With ``faithful=True`` (the default) the input gain a reader does not apply is moved into the
weights, which is exact in NIR's semantics (:math:`R(Wx + b) = (RW)x + Rb`), so that each
reader runs *its* discretisation of NIR's :math:`\tau \dot v = (v_{leak} - v) + RI` with
:math:`I = y` held over the step: norse's LIF ignores ``r`` (the weights feeding it are
multiplied by ``r``); rockpool and sinabs add :math:`y` itself, where the exact step adds
:math:`(1 - e^{-\Delta t/\tau}) R y` (the weights are multiplied by that factor); snntorch
asserts ``r == tau_mem/dt`` for a CubaLIF, so :math:`R` is moved onto ``w_in`` (the current
rescaled). What no graph rewrite can change stays as the reader does it: the decay (Euler or
exact), the reset (rockpool and sinabs subtract and may emit several spikes per step), the
order of synaptic and membrane updates of a CubaLIF.

References
----------
J. E. Pedersen et al. (2024), "Neuromorphic intermediate representation: a unified instruction
set for interoperable brain-inspired computing", Nature Communications 15, 8122.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import warnings

import numpy as np

from neurorec.backends.ops import require

__all__ = ["PEERS", "run_peer", "prepare_graph", "spike_agreement", "SNNTORCH_DT"]

PEERS = ("snntorch", "norse", "rockpool", "sinabs")
SNNTORCH_DT = 1e-4          # snntorch/import_nir.py: ``dt = 1e-4`` in every neuron branch
_INSTALL = {"snntorch": 'pip install "neurorec[torch]"', "norse": 'pip install "neurorec[peers]"',
            "rockpool": 'pip install "neurorec[peers]"',
            "sinabs": "pip install --no-deps sinabs pbr  (never its samna dependency)"}


# the neuron and weight node types each reader maps (Input/Output, Flatten, convolutions and pooling aside)
_READS = {"snntorch": ("Affine", "Linear", "IF", "LIF", "CubaLIF", "NIRGraph"),
          "norse": ("Affine", "Linear", "IF", "LIF", "CubaLIF"),
          "rockpool": ("Affine", "Linear", "LIF", "CubaLIF", "NIRGraph"),
          "sinabs": ("Affine", "Linear", "IF", "LIF", "LI")}
_WHY_NOT = {("rockpool", "LI"): "rockpool 3.1 casts the LI's tau to an integer (nir.py:111): 0 for any tau below 1 s",
            ("rockpool", "IF"): "rockpool 3.1 has no IF mapping",
            ("norse", "LI"): "norse 1.1 has no LI mapping (import_nir.py returns None for it)",
            ("snntorch", "LI"): "snntorch 1.0 has no LI mapping",
            ("sinabs", "CubaLIF"): "sinabs.from_nir reads no nir.CubaLIF"}


def _check_reads(library: str, graph) -> None:
    nir = _nir()
    skip = (nir.Input, nir.Output, nir.Flatten, nir.Conv1d, nir.Conv2d, nir.AvgPool2d, nir.SumPool2d)
    for name, node in graph.nodes.items():
        kind = type(node).__name__
        if isinstance(node, skip) or kind in _READS[library]:
            continue
        why = _WHY_NOT.get((library, kind), f"{library} does not map nir.{kind}")
        raise ValueError(f"{library} cannot read node {name!r} ({kind}): {why}; it reads "
                         f"{', '.join(_READS[library])}.")


def _import(library: str, module: str):
    try:
        return require(module)
    except ImportError as exc:
        raise ImportError(f"{library} is needed to run a NIR graph in {library}: {_INSTALL[library]} ({exc})") from None


def _nir():
    return require("nir")


def _spiking_types():
    nir = _nir()
    return (nir.LIF, nir.CubaLIF, nir.IF)


def _load(graph):
    nir = _nir()
    if isinstance(graph, (str, os.PathLike)):
        return nir.read(str(graph))
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or the path of a .nir file, got {type(graph).__name__}.")
    return graph


def _graph_dt(graph, dt):
    if dt is not None:
        dt = float(dt)
        if not np.isfinite(dt) or dt <= 0:
            raise ValueError(f"dt must be a positive time step (the time unit of the graph's time constants, "
                             f"seconds by NIR convention), got {dt!r}.")
        return dt
    meta = getattr(graph, "metadata", None) or {}
    for key in ("dt", "time_step"):
        if key in meta:
            return _graph_dt(graph, float(np.asarray(meta[key]).ravel()[0]))
    raise ValueError("dt is needed: the graph's metadata has no 'dt' and none was passed; give the time step in "
                     "the unit of the graph's time constants (seconds by NIR convention).")


def _walk(graph):
    """Yield ``(graph, name, node)`` for every node, recursing into sub-graphs."""
    nir = _nir()
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            yield from _walk(node)
        else:
            yield graph, name, node


def _scale_time(graph, factor: float) -> None:
    nir = _nir()
    for _, _, node in _walk(graph):
        if isinstance(node, nir.LIF) or isinstance(node, nir.LI):
            node.tau = np.asarray(node.tau, dtype=np.float64) * factor
        elif isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            node.tau_mem = np.asarray(node.tau_mem, dtype=np.float64) * factor
            node.tau_syn = np.asarray(node.tau_syn, dtype=np.float64) * factor


def _fold_gain(graph, gain_of, why: str, kinds=None) -> None:
    """Multiply the weight nodes feeding every neuron node of ``kinds`` (default nir.LIF) by ``gain_of(node)``
    (per neuron) and write ``r = 1``.

    Exact in NIR's semantics when the gain is the neuron's ``r`` (:math:`R(Wx + b) = (RW)x + Rb`); all
    the neuron's inputs must be Affine/Linear nodes that feed nothing else.
    """
    nir = _nir()
    kinds = kinds or (nir.LIF,)
    for g, name, node in list(_walk(graph)):
        if not isinstance(node, kinds):
            continue
        gain = np.asarray(gain_of(node), dtype=np.float64) * np.ones(np.asarray(node.v_leak).size)
        if np.array_equal(gain, np.ones_like(gain)):
            continue
        sources = [s for s, t in g.edges if t == name]
        if not sources or not all(isinstance(g.nodes[s], (nir.Affine, nir.Linear)) for s in sources):
            got = [type(g.nodes[s]).__name__ for s in sources]
            raise ValueError(f"{why} of {type(node).__name__} {name!r} can be folded into the weights only when all "
                             f"the node's inputs are Affine/Linear nodes, got {got}.")
        for s in sources:
            if sum(1 for a, _ in g.edges if a == s) != 1:
                raise ValueError(f"cannot fold {why} of {type(node).__name__} {name!r} into weight node {s!r}: it "
                                 "feeds other nodes too.")
            w = g.nodes[s]
            w.weight = np.asarray(w.weight, dtype=np.float64) * gain.reshape(-1, 1)
            if isinstance(w, nir.Affine):
                w.bias = np.asarray(w.bias, dtype=np.float64) * gain
        node.r = np.ones_like(gain)


def _rockpool_cuba_gain(node, dt: float):
    r"""Input gain that makes rockpool's CubaLIF step the exact one.

    The exact step (impulse :math:`S\Delta t` at the start of the step, then the linear system
    solved over the step) is :math:`I_n = \alpha I_{n-1} + j y_n`, :math:`v \mathrel{+}= k R I_n`
    with :math:`j = w_{in}\Delta t/\tau_{syn}`, :math:`k = \frac{\tau_{syn}}{\tau_{syn}-\tau_{mem}}
    (\alpha - \beta)`. rockpool's ``LIFTorch`` runs :math:`i_n = \alpha(i_{n-1} + g y_n)`,
    :math:`v \mathrel{+}= i_n`, so :math:`i_n = \alpha (g/j) I_n` and :math:`g = k R j / \alpha`.
    """
    ts = np.asarray(node.tau_syn, dtype=np.float64)
    tm = np.asarray(node.tau_mem, dtype=np.float64)
    a, b = np.exp(-dt / ts), np.exp(-dt / tm)
    same = np.isclose(ts, tm, rtol=1e-12, atol=0)
    k = np.where(same, dt / tm * b, ts / np.where(same, 1.0, ts - tm) * (a - b))
    j = np.asarray(node.w_in, dtype=np.float64) * dt / ts
    return k * np.asarray(node.r, dtype=np.float64) * j / a


def prepare_graph(library: str, graph, dt: float | None = None, *, faithful: bool = True):
    """The graph as :func:`run_peer` hands it to ``library`` (a copy; the module docstring says why).

    Parameters
    ----------
    library : {"snntorch", "norse", "rockpool", "sinabs"}
    graph : nir.NIRGraph or path
    dt : float, optional
        Time step in the unit of the graph's time constants (seconds by NIR convention); by
        default the graph's ``metadata["dt"]``.
    faithful : bool
        Also rewrite the input gains (exactly, in NIR's semantics) that a reader does not read,
        so that it integrates NIR's :math:`R I` (see the module docstring); False hands over the
        graph with the time step only (and the rockpool / sinabs work-arounds without which
        they cannot read it).

    Returns
    -------
    (nir.NIRGraph, float)
        The prepared copy and the time step used.
    """
    if library not in PEERS:
        raise ValueError(f"library must be one of {PEERS}, got {library!r}.")
    nir = _nir()
    graph = _load(graph)
    dt = _graph_dt(graph, dt)
    delays = [name for _, name, node in _walk(graph) if isinstance(node, nir.Delay)]
    if delays:
        raise ValueError(f"{library} cannot read nir.Delay (nodes {delays}): none of snntorch, norse, rockpool and "
                         "sinabs maps it (neurorec writes one for every population-to-population connection).")
    _check_reads(library, graph)
    g = copy.deepcopy(graph)
    if library == "snntorch":
        if faithful:      # snntorch asserts r == tau_mem / dt for CubaLIF: move R onto w_in (I -> c I)
            for _, _, node in _walk(g):
                if isinstance(node, nir.CubaLIF):
                    r_want = np.asarray(node.tau_mem, dtype=np.float64) / dt
                    node.w_in = np.asarray(node.w_in, dtype=np.float64) * np.asarray(node.r) / r_want
                    node.r = r_want
        _scale_time(g, SNNTORCH_DT / dt)
    elif library == "norse":
        if faithful:      # norse's LIF integrates dt/tau (v_leak - v + y): R goes into the weights
            _fold_gain(g, lambda n: n.r, "r (which norse ignores)")
    elif library in ("rockpool", "sinabs"):
        if faithful:      # v <- exp(-dt/tau) v + y: the exact step of R I held over the step needs y = (1 - beta) R I
            _fold_gain(g, lambda n: -np.expm1(-dt / np.asarray(n.tau, dtype=np.float64)) * np.asarray(n.r),
                       "(1 - exp(-dt/tau)) r (which rockpool and sinabs do not apply)", kinds=(nir.LIF, nir.LI))
            if library == "rockpool":
                _fold_gain(g, lambda n: _rockpool_cuba_gain(n, dt), "the synaptic gain (rockpool ignores r and w_in)",
                           kinds=(nir.CubaLIF,))
        if library == "rockpool":
            for _, _, node in _walk(g):
                if isinstance(node, nir.LIF):
                    node.r = np.asarray(node.tau, dtype=np.float64) / dt - 1.0
                    node.tau_mem = node.tau            # rockpool 3.1 nir.py:118 reads node.tau_mem
                elif isinstance(node, nir.CubaLIF):
                    node.r = np.asarray(node.tau_mem, dtype=np.float64) / dt - 1.0
        else:
            for gg, name, node in _walk(g):
                if isinstance(node, nir.Linear) and not isinstance(node, nir.Affine):
                    w = np.asarray(node.weight)
                    gg.nodes[name] = nir.Affine(weight=w, bias=np.zeros(w.shape[0], dtype=w.dtype))
            _scale_time(g, 1.0 / dt)
    return g, dt


def _spiking_names(graph) -> list[str]:
    """Top-level spiking nodes (LIF, CubaLIF, IF, or a recurrent sub-graph holding one), in graph order."""
    nir = _nir()
    names = []
    for name, node in graph.nodes.items():
        if isinstance(node, _spiking_types()):
            names.append(name)
        elif isinstance(node, nir.NIRGraph) and any(isinstance(n, _spiking_types()) for _, _, n in _walk(node)):
            names.append(name)
    return names


def _first(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def _hooks(module, names, store):
    """Record the output of the module of every ``(node key, result name)`` pair into ``store[result name]``."""
    handles = []
    subs = dict(module.named_modules())
    for node, name in names:
        key = _sanitize(node)
        if key not in subs:
            raise RuntimeError(f"no module for spiking node {node!r} in the imported network (have {sorted(subs)}).")

        def hook(_mod, _inp, out, name=name):
            store.setdefault(name, []).append(_first(out).detach().cpu().double().numpy())

        handles.append(subs[key].register_forward_hook(hook))
    return handles


def _hook_names(graph) -> list[tuple[str, str]]:
    """``(top-level node, spiking node)`` pairs: a recurrent sub-graph reports its neuron node's name."""
    nir = _nir()
    pairs = []
    for name in _spiking_names(graph):
        node = graph.nodes[name]
        if isinstance(node, nir.NIRGraph):
            inner = [n for _, n, nd in _walk(node) if isinstance(nd, _spiking_types())]
            pairs += [(name, n) for n in inner[:1]]
        else:
            pairs.append((name, name))
    return pairs


def _has_cycle(graph) -> bool:
    succ: dict[str, list[str]] = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    state: dict[str, int] = {}

    def visit(n) -> bool:
        state[n] = 1
        for m in succ.get(n, []):
            if state.get(m) == 1 or (m not in state and visit(m)):
                return True
        state[n] = 2
        return False

    return any(n not in state and visit(n) for n in list(graph.nodes))


def _sanitize(name: str) -> str:
    return name.replace(".", "_")


@contextlib.contextmanager
def _quiet():
    """snntorch prints its warnings and nirtorch warns that ``nirtorch.load`` is deprecated (norse's are
    switched off with ``ignore_warnings=True``)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_peer(library: str, graph, x, dt: float | None = None, *, record: str = "output", faithful: bool = True):
    """Run a NIR graph in another library and return its spikes.

    Parameters
    ----------
    library : {"snntorch", "norse", "rockpool", "sinabs"}
    graph : nir.NIRGraph or path of a ``.nir`` file
        A feed-forward graph (one Input, one Output); recurrent sub-graphs as the reader allows.
    x : array_like, shape (batch, time, features)
        The input of the graph's Input node at every step (float; cast to float32, the readers'
        dtype).
    dt : float, optional
        Time step, in the unit of the graph's time constants (seconds by NIR convention);
        by default ``graph.metadata["dt"]``.
    record : {"output", "all"}
        ``"output"``: the spikes reaching the Output node; ``"all"``: a dict of the spikes of
        every top-level spiking node (LIF, CubaLIF, IF or recurrent sub-graph), by node name.
    faithful : bool
        Rewrite the input gains the reader does not read (:func:`prepare_graph`).

    Returns
    -------
    ndarray (batch, time, neurons) of float64, or dict of them
        Spike counts per step (0/1, except rockpool and sinabs, which may emit several spikes in
        one step when the membrane exceeds a multiple of the threshold).
    """
    torch = _import(library, "torch")
    if record not in ("output", "all"):
        raise ValueError(f"record must be 'output' or 'all', got {record!r}.")
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"x must be (batch, time, features), got shape {x.shape}.")
    g, dt = prepare_graph(library, graph, dt, faithful=faithful)
    names = _hook_names(g)
    if library in ("rockpool", "sinabs") and _has_cycle(g):
        raise ValueError(f"{library} runs every node over all time steps in one call, so a recurrent edge of the "
                         "top-level graph would carry no spikes back (rockpool maps recurrence only as a 4-node "
                         "CubaLIF + Affine/Linear sub-graph); refused.")
    store: dict[str, list] = {}
    B, T, _ = x.shape
    xt = torch.from_numpy(x)
    with _quiet(), torch.no_grad():
        if library == "snntorch":
            imp = _import(library, "snntorch.import_nir")
            net = imp.import_from_nir(g)        # mutates its argument (recurrent sub-graphs): g is a copy
            after = _hook_names(g)
            lost = sorted({n for _, n in names} - {n for _, n in after})
            if lost:    # import_nir.py:34 names a recurrent sub-graph lif_key.split(".")[0]: "lif.0", "lif.1" collide
                raise ValueError(f"snntorch's import_from_nir lost the spiking node(s) {lost}: it names each recurrent "
                                 "sub-graph after the part of the LIF node's name before the first '.', so such names "
                                 "collide; name the nodes without '.'.")
            names = after
            handles = _hooks(net, names, store)
            state, outs = None, []
            for t in range(T):                   # nirtorch carries recurrent edges in the returned state
                o, state = net(xt[:, t], state)
                outs.append(_first(o))
            out = torch.stack(outs, 1)
        elif library == "norse":
            norse = _import(library, "norse.torch")
            net = norse.from_nir(g, dt=dt, ignore_warnings=True)
            handles = _hooks(net, names, store)
            state, outs = None, []
            for t in range(T):
                o, state = net(xt[:, t], state)
                outs.append(_first(o))
            out = torch.stack(outs, 1)
        elif library == "rockpool":
            rp = _import(library, "rockpool.nn.modules")
            net = rp.from_nir(g)
            handles = _hooks(net, names, store)
            out = _first(net(xt))
        else:
            sinabs = _import(library, "sinabs")
            net = sinabs.from_nir(g, batch_size=B, num_timesteps=T)
            handles = _hooks(net, names, store)
            out = _first(net(xt.reshape(B * T, -1))).reshape(B, T, -1)
        for h in handles:
            h.remove()
    if record == "output":
        return out.detach().cpu().double().numpy()
    result = {}
    for _, name in names:
        chunks = store.get(name, [])
        if library in ("snntorch", "norse"):
            result[name] = np.stack(chunks, 1)
        else:
            result[name] = chunks[0].reshape(B, T, -1)
    return result


def spike_agreement(a, b) -> float:
    r"""Fraction of spikes emitted at the same step by two spike trains of the same shape.

    :math:`\sum \min(a, b) / \max(\sum a, \sum b)` over all batches, steps and neurons (spike
    counts per step, so a double spike against a single one counts one match); 1.0 when
    neither has spikes.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"spike trains must have the same shape, got {a.shape} and {b.shape}.")
    total = max(a.sum(), b.sum())
    return 1.0 if total == 0 else float(np.minimum(a, b).sum() / total)
