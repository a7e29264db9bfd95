"""Place a neurorec ``.nir`` graph on DYNAP-CNN / Speck with sinabs' own layer builder and mapper.

    python hardware/speck/nir_to_speck.py NET.nir LAYERS.npz [--as-if]

Steps (vendor code from sinabs, installed by ``pip install neurorec[peers]``; sinabs' samna
dependency is not needed):

1. ``nir.read`` the graph: a chain ``Input -> (Linear|Affine -> IF)+ -> Output``. DYNAP-CNN
   neurons are integrate-and-fire without leak; ``--as-if`` maps ``LIF`` and ``LI`` nodes to IF
   (their leak is dropped; the script prints the per-step decay it drops);
2. build the torch layers (``nn.Linear`` + ``sinabs.layers.IAFSqueeze``) and let
   ``sinabs.backend.dynapcnn.utils.build_from_list`` turn them into ``DynapcnnLayer`` objects
   (dense layers become 1x1 convolutions), discretised to 8-bit weights and 16-bit thresholds
   (``discretize.py``);
3. ``DynapcnnLayer.memory_summary`` (kernel, neuron and bias memory of each layer) and
   ``mapping.get_valid_mapping`` (sinabs' max-flow matching of layers to the 9 cores) with the
   core memories of the packaged ``speck`` profile (the numbers of sinabs'
   ``chips/dynapcnn.py::get_constraints``, checked by ``tests/test_profiles.py``; that file itself
   imports samna);
4. write the discretised weights and thresholds and the core of every layer to ``LAYERS.npz``.

What needs samna: ``DynapcnnNetwork.make_config`` (the chip configuration) and everything that
talks to a device (``sinabs/backend/dynapcnn/dynapcnn_network.py`` and ``config_builder.py``
import samna at module level; the ``sinabs.backend.dynapcnn`` package imports them, so this script
loads only the sub-modules that do not). Exit status: 0 when the layers fit, 1 when they do not,
2 for bad input (a missing or unreadable graph, a graph DYNAP-CNN cannot run, an output path that
cannot be written: checked before the placement, one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path


def _dynapcnn():
    """sinabs.backend.dynapcnn's samna-free sub-modules (utils, mapping)."""
    import sinabs.backend

    if "sinabs.backend.dynapcnn" not in sys.modules:
        pkg = types.ModuleType("sinabs.backend.dynapcnn")
        pkg.__path__ = [str(Path(sinabs.backend.__file__).parent / "dynapcnn")]
        sys.modules["sinabs.backend.dynapcnn"] = pkg
    from sinabs.backend.dynapcnn import mapping, utils

    return utils, mapping


def layers_from_nir(graph, as_if: bool = False):
    """Torch layers (nn.Linear, sinabs IAFSqueeze) of a chain graph, and the number of inputs."""
    import nir
    import numpy as np
    import sinabs.layers as sl
    import torch

    nexts = {}
    for a, b in graph.edges:
        if a in nexts:
            raise ValueError(f"node {a!r} feeds several nodes: DYNAP-CNN networks here must be a chain")
        nexts[a] = b
    inputs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"the graph needs one Input node, found {len(inputs)}")
    shape = graph.nodes[inputs[0]].input_type
    n_in = int(np.prod(np.asarray(shape.get("input", list(shape.values())[0]) if isinstance(shape, dict) else shape)))
    layers, dropped, node = [], [], nexts.get(inputs[0])
    dt = graph.metadata.get("dt")
    while node is not None and not isinstance(graph.nodes[node], nir.Output):
        v = graph.nodes[node]
        if isinstance(v, nir.Linear | nir.Affine):
            w = np.asarray(v.weight, dtype=np.float32)
            lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=isinstance(v, nir.Affine))
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                if isinstance(v, nir.Affine):
                    lin.bias.copy_(torch.from_numpy(np.asarray(v.bias, dtype=np.float32)))
            layers.append(lin)
        elif isinstance(v, nir.IF) or (as_if and isinstance(v, nir.LIF | nir.LI)):
            thr = float(np.max(np.asarray(v.v_threshold))) if hasattr(v, "v_threshold") else 1e4
            if not isinstance(v, nir.IF) and dt:
                dropped.append((node, float(np.exp(-dt / np.min(np.asarray(v.tau))))))
            layers.append(sl.IAFSqueeze(batch_size=1, spike_threshold=thr, min_v_mem=-thr))
        else:
            raise ValueError(f"node {node!r} is a {type(v).__name__}: DYNAP-CNN runs Linear/Affine + IF layers"
                             + ("" if as_if else " (pass --as-if to map LIF/LI to IF, dropping the leak)"))
        node = nexts.get(node)
    return layers, n_in, dropped


def place(graph, as_if: bool = False):
    """(discretised DynapcnnLayers, their memory summaries, core per layer or None if they do not fit)."""
    from neurorec.hardware.chips import load_profile

    utils, mapping = _dynapcnn()
    layers, n_in, dropped = layers_from_nir(graph, as_if)
    seq = utils.build_from_list(layers, in_shape=(n_in, 1, 1), discretize=True)
    p = load_profile("speck")
    constraints = [mapping.LayerConstraints(k, n, b) for k, n, b in
                   zip(p.kernel_memory_per_core, p.neuron_memory_per_core, p.bias_memory_per_core, strict=True)]
    dyn = [m for m in seq if isinstance(m, utils.DynapcnnLayer)]
    memory = [m.memory_summary() for m in dyn]
    try:
        cores = dict(mapping.get_valid_mapping(types.SimpleNamespace(sequence=seq), constraints))
    except ValueError:
        cores = None
    return dyn, memory, cores, dropped



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Place a neurorec .nir graph on DYNAP-CNN/Speck with sinabs.")
    ap.add_argument("nir_file", type=Path)
    ap.add_argument("out", type=Path, help="output .npz with the discretised layers and their cores")
    ap.add_argument("--as-if", action="store_true", help="map LIF and LI nodes to IF (drop the leak)")
    args = ap.parse_args(argv)
    try:
        import nir
        import numpy as np
    except ImportError:
        print("error: needs nir and sinabs: pip install 'neurorec[hardware,peers]'", file=sys.stderr)
        return 2
    if not args.nir_file.is_file():
        print(f"error: no file at {args.nir_file}", file=sys.stderr)
        return 2
    from neurorec.hardware._scripts import output_problem

    problem = output_problem(args.out)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        graph = nir.read(str(args.nir_file))
    except Exception as exc:  # noqa: BLE001 - h5py, KeyError, ... from a file that is not a NIR graph
        print(f"error: cannot read {args.nir_file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
              file=sys.stderr)
        return 2
    try:
        import sinabs  # noqa: F401
    except ImportError:
        print("error: needs sinabs: pip install 'neurorec[peers]'", file=sys.stderr)
        return 2
    try:
        dyn, memory, cores, dropped = place(graph, args.as_if)
    except (ValueError, OSError, KeyError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 2
    for node, beta in dropped:
        print(f"note: {node}: leak dropped (decay {beta:.4f} per step becomes 1)")
    out = {}
    for i, (layer, mem) in enumerate(zip(dyn, memory, strict=True)):
        core = None if cores is None else cores.get(i)
        print(f"layer {i}: kernel memory {int(mem['kernel'])}, neuron memory {int(mem['neuron'])}, "
              f"bias {int(mem['bias'])} -> core {core}")
        out[f"layer{i}.weight"] = layer.conv_layer.weight.detach().numpy()
        out[f"layer{i}.threshold"] = np.asarray(float(layer.spk_layer.spike_threshold))
        out[f"layer{i}.core"] = np.asarray(-1 if core is None else core)
    try:
        np.savez(args.out, **out)
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    if cores is None:
        print("does not fit: no placement of the layers on the 9 cores satisfies their memories "
              "(sinabs.backend.dynapcnn.mapping.get_valid_mapping)")
        return 1
    print(f"fits: {len(dyn)} layers on cores {[cores[i] for i in range(len(dyn))]}; wrote {args.out}")
    print("next step (needs SynSense's samna): sinabs.backend.dynapcnn.DynapcnnNetwork(...).make_config(...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
