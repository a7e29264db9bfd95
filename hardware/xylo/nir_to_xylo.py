"""Take a neurorec ``.nir`` graph through SynSense's own Xylo Audio 2 (SYNS61201) mapper.

    python hardware/xylo/nir_to_xylo.py NET.nir SPEC.npz [--dt SECONDS] [--weight-bits 8]

Steps (all vendor code from rockpool, installed by ``pip install neurorec[peers]``):

1. ``nir.read`` the graph (written by ``neurorec export MODEL --to nir NET.nir``);
2. rewrite what rockpool 3.1's reader cannot take: ``nir.LIF`` hidden layers (its reader asks for a
   ``tau_mem`` attribute that ``nir.LIF`` does not have) and the ``nir.LI`` membrane readout (read
   as a synapse, not a neuron, which Xylo's design rules refuse) become ``nir.CubaLIF`` with
   :math:`\\tau_{syn} = 1.2\\,\\Delta t` (bit shift ``dash_syn = round(log2 1.2) = 0``: the
   synaptic current is this step's input, i.e. a plain LIF) and, for the readout, a threshold
   the membrane never reaches (read it on chip with ``readout_mode="Vmem"``); ``r`` is set to
   :math:`\\tau_{mem}/\\Delta t - 1`, the convention rockpool's reader uses to recover
   :math:`\\Delta t`;
3. ``rockpool.nn.modules.from_nir`` -> ``.as_graph()`` -> ``rockpool.devices.xylo.syns61201.mapper``
   (Xylo's design-rule check and neuron allocation) -> ``rockpool.transform.quantize_methods.
   channel_quantize`` (int8 weights, int16 thresholds, integer bit-shift decays);
4. write the quantised hardware specification (``weights_in``, ``weights_rec``, ``weights_out``,
   ``dash_mem``, ``dash_syn``, ``threshold``, ...) to ``SPEC.npz`` and print a summary.

What this script cannot do: turn the specification into a chip configuration and run it.
``config_from_specification``, ``XyloSamna`` and ``XyloSim`` need SynSense's ``samna`` (and
``xylosim``) binaries, which are not on the public registry; on a machine that has them::

    from rockpool.devices.xylo.syns61201 import config_from_specification, XyloSim
    spec = dict(numpy.load("SPEC.npz"))
    config, is_valid, msg = config_from_specification(**spec)

rockpool 3.1's ``rockpool.devices.xylo`` package imports the Xylo Audio 3 module, which imports
``samna`` unconditionally; this script therefore registers ``rockpool.devices.xylo`` as a bare
package so that only the SYNS61201 sub-package (which guards its samna imports) is loaded.
Exit status: 0 on success, 1 when Xylo's design rules refuse the network, 2 for bad input (a
missing or unreadable graph, no ``dt``, an output path that cannot be written: checked before the
mapping, one line on stderr). Each of rockpool's warnings is printed once.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path


def _xylo_a2():
    """rockpool.devices.xylo.syns61201 without importing samna."""
    import rockpool.devices

    if "rockpool.devices.xylo" not in sys.modules:
        pkg = types.ModuleType("rockpool.devices.xylo")
        pkg.__path__ = [str(Path(rockpool.devices.__file__).parent / "xylo")]
        sys.modules["rockpool.devices.xylo"] = pkg
    import rockpool.devices.xylo.syns61201 as xa2

    return xa2


def for_rockpool(graph, dt: float):
    """A copy of ``graph`` with LIF and LI nodes as CubaLIF nodes rockpool's reader and Xylo accept."""
    import nir
    import numpy as np

    # rockpool's reader recognises the graph's ends by the node names "input" and "output" and
    # uses the others as torch module names: rename (neurorec names its last Affine "output")
    names = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input):
            names[name] = "input"
        elif isinstance(node, nir.Output):
            names[name] = "output"
        else:
            names[name] = "n_" + "".join(c if c.isalnum() else "_" for c in name)
    nodes = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.LIF | nir.LI):
            tau = np.asarray(node.tau, dtype=float)
            thr = np.asarray(node.v_threshold, dtype=float) if isinstance(node, nir.LIF) else np.full(tau.shape, 1e6)
            node = nir.CubaLIF(tau_syn=np.full(tau.shape, 1.2 * dt), tau_mem=tau, r=tau / dt - 1.0,
                               v_leak=np.asarray(node.v_leak, dtype=float), v_threshold=thr)
        nodes[names[name]] = node
    edges = [(names[a], names[b]) for a, b in graph.edges]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(graph.metadata))


def to_xylo_spec(graph, dt: float | None = None, weight_bits: int = 8) -> dict:
    """Map a NIR graph onto Xylo Audio 2 with the vendor's mapper; returns the quantised specification.

    Raises rockpool's ``DRCError`` (a ValueError) when Xylo's design rules refuse the network.
    """
    import numpy as np
    from rockpool.nn.modules import from_nir
    from rockpool.transform.quantize_methods import channel_quantize

    xa2 = _xylo_a2()
    if dt is None:
        dt = graph.metadata.get("dt")
    if dt is None:
        raise ValueError("the graph has no metadata['dt'] (seconds); pass --dt")
    net = from_nir(for_rockpool(graph, float(dt)))
    spec = xa2.mapper(net.as_graph(), weight_dtype="float", threshold_dtype="float", dash_dtype="float")
    spec.update(channel_quantize(**spec, bits_per_weight=weight_bits))
    return {k: np.asarray(v) for k, v in spec.items() if k not in ("mapped_graph", "aliases")}



def _map_quietly(graph, dt, weight_bits):
    """to_xylo_spec with the vendor's warnings collected, not printed (rockpool's logging also
    captures warnings, which printed each DRCWarning twice): (spec, one line per distinct warning)."""
    import warnings

    # import rockpool first: its import routes warnings to logging, which record=True must come after
    import rockpool.nn.modules  # noqa: F401
    import rockpool.transform.quantize_methods  # noqa: F401

    _xylo_a2()
    lines = []

    def collect(caught):
        for w in caught:
            if issubclass(w.category, DeprecationWarning):
                continue
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0] if str(w.message) else ''}"
            if text not in lines:
                lines.append(text)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        try:
            spec = to_xylo_spec(graph, dt, weight_bits)
        except ValueError as exc:
            collect(caught)
            exc.vendor_warnings = lines      # printed with the refusal
            raise
    collect(caught)
    return spec, lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Map a neurorec .nir graph onto Xylo Audio 2 (SYNS61201).")
    ap.add_argument("nir_file", type=Path)
    ap.add_argument("out", type=Path, help="output .npz with the quantised Xylo specification")
    ap.add_argument("--dt", type=float, default=None, help="time step in seconds (default: the graph's metadata)")
    ap.add_argument("--weight-bits", type=int, default=8)
    args = ap.parse_args(argv)
    try:
        import nir
        import numpy as np
    except ImportError:
        print("error: needs nir and rockpool: pip install 'neurorec[hardware,peers]'", file=sys.stderr)
        return 2
    if not args.nir_file.is_file():
        print(f"error: no file at {args.nir_file}", file=sys.stderr)
        return 2
    from neurorec.hardware._scripts import output_problem

    problem = output_problem(args.out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.dt is not None and not args.dt > 0:
        print(f"error: --dt must be a positive time step in seconds, got {args.dt}", file=sys.stderr)
        return 2
    if not 2 <= args.weight_bits <= 16:
        print(f"error: --weight-bits must be between 2 and 16, got {args.weight_bits}", file=sys.stderr)
        return 2
    try:
        graph = nir.read(str(args.nir_file))
    except Exception as exc:  # noqa: BLE001
        print(f"error: cannot read {args.nir_file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
              file=sys.stderr)
        return 2
    if args.dt is None and graph.metadata.get("dt") is None:
        print(f"error: {args.nir_file} has no metadata['dt'] (seconds); pass --dt", file=sys.stderr)
        return 2
    try:
        import rockpool  # noqa: F401
    except ImportError:
        print("error: needs rockpool: pip install 'neurorec[peers]'", file=sys.stderr)
        return 2
    try:
        spec, caught = _map_quietly(graph, args.dt, args.weight_bits)
    except ValueError as exc:
        print(f"Xylo refuses the network: {exc}" + (f" ({exc.__cause__})" if exc.__cause__ else ""), file=sys.stderr)
        for line in getattr(exc, "vendor_warnings", []):
            print(f"warning (rockpool): {line}", file=sys.stderr)
        return 1
    try:
        np.savez(args.out, **spec)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    w_in, w_rec, w_out = spec["weights_in"], spec["weights_rec"], spec["weights_out"]
    print(f"wrote {args.out}: {w_in.shape[0]} inputs, {w_in.shape[1]} hidden, {w_out.shape[1]} output neurons; "
          f"weights int{args.weight_bits} in [{min(w_in.min(), w_rec.min(), w_out.min())}, "
          f"{max(w_in.max(), w_rec.max(), w_out.max())}], dash_mem {sorted(set(spec['dash_mem'].tolist()))}, "
          f"dash_syn {sorted(set(spec['dash_syn'].tolist()))}, dt {float(spec['dt'])} s")
    biased = [k for k, v in graph.nodes.items() if isinstance(v, nir.Affine) and np.any(np.asarray(v.bias) != 0)]
    if biased:
        print(f"note: the biases of {biased} are not transferred by rockpool's Xylo mapper (its DRCWarning); "
              "train without biases or fold them into the neurons' bias")
    for line in caught:            # each vendor warning once (the bias one is the note above)
        if not (biased and line.startswith("DRCWarning: Bias parameters")):
            print(f"warning (rockpool): {line}")
    print("next step (needs SynSense's samna): rockpool.devices.xylo.syns61201.config_from_specification(**spec)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
