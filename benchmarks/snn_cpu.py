"""Spiking-network CPU speed: COBA through neurorec's brian2 engine against the same network in brian2.

The COBA benchmark network of Brette et al. (2007) (Vogels & Abbott 2005; 4,000 neurons, 3,200
excitatory, connection probability 0.02, no delay; parameters and sources in
``experiments/coba_cuba.py``), simulated for ``--duration`` ms (1 s by default) at dt = 0.1 ms.
The connectivity and the initial state are drawn once with numpy (seed ``--seed``) and given to
both engines, with the same brian2 code generation target (``--codegen``, Cython by default;
brian2's runtime mode, ``prefs.codegen.target`` set for both):

* neurorec: ``Network(populations, connections).run(engine="brian2", codegen_target=...,
  initial=...)``, from the weight matrices to the ``(batch, T, N)`` spike array and the SynOps
  count: building the description (``Network``/``Connection`` checks, CSR conversion), the brian2
  objects (``NeuronGroup``, one ``Synapses`` per connection with a per-synapse weight, a
  ``SpikeMonitor``), the run, and the conversion of the spikes;
* brian2: the same network written directly as a brian2 user writes it (as brian2's own
  examples do): one ``NeuronGroup`` with the same membrane and conductance equations, integration
  method (``exponential_euler``), threshold, reset and refractory period, on brian2's default
  clock (dt = 0.1 ms); two ``Synapses`` with ``on_pre="g_exc_post += weight"``, the weight a
  constant, connected with the same ``i, j`` arrays; a ``SpikeMonitor``; ``run``. From the arrays
  to the spike monitor's contents. (neurorec's equations also carry the input term ``+ I_ext``,
  zero here, and its objects each get their own clock with the same dt.)
* brian2 per-synapse w (reported, not in the ratio): the direct script with a per-synapse weight
  variable, as neurorec's engine creates, to tell the cost of that choice from the rest.

All three are run once untimed first (brian2 generates and compiles its code objects, cached on
disk afterwards), then ``--repeats`` rounds in which they take turns (reversed every other
round), with a ``gc.collect()`` before each (untimed: brian2 names its objects uniquely among the
living ones and the generated code carries the names, so objects of the previous run still in a
reference cycle would give the new ones other names and force a recompilation). The time of
each is the median over rounds, network construction included. All must produce the same
number of spikes (checked after the timing). BLAS/OpenMP/torch threads are pinned to
``--threads`` (1).

The last line printed is one JSON object with ``overhead_vs_brian2`` (neurorec median time /
direct brian2 median time; the goal is <= 1.10). ``--profile`` adds a cProfile of one neurorec
run (top functions by cumulative time). On a shared 2-core machine the ratio moves by +-5 % from
run to run; ``overhead_paired_median`` (median over rounds of the ratio within a round) is a
cross-check. Usage::

    python benchmarks/snn_cpu.py [--repeats 9] [--duration 1000] [--codegen cython|numpy] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


def _race(fns: dict, rounds: int, measure) -> tuple[dict, dict]:
    """Wall times of each function in each of ``rounds`` rounds, the functions taking turns within
    each round (in reverse order every other round), and ``measure(name, result)`` of each result,
    taken after the timing; the result is dropped before the next run."""
    times = {name: [] for name in fns}
    measured = {name: [] for name in fns}
    names = list(fns)
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            # brian2 names objects uniquely among the living ones, and its generated code carries the
            # names: objects of the previous run still waiting in a reference cycle would give the new
            # ones other names, and a (timed) recompilation.
            gc.collect()
            t = time.perf_counter()
            out = fns[name]()
            times[name].append(time.perf_counter() - t)
            measured[name].append(measure(name, out))
            del out
    return times, measured


def coba_arrays(n: int, seed: int):
    """Connectivity (two CSR matrices, excitatory rows first) and initial state of the COBA network,
    drawn exactly as ``experiments/coba_cuba.py`` draws them."""
    sys.path.insert(0, str(ROOT / "experiments"))
    from coba_cuba import build

    net, initial, n_exc = build("coba", n, seed)
    exc, inh = (c.weight for c in net.connections)
    return exc, inh, initial["neurons"], n_exc, net.populations[0].neuron


def neurorec_coba(exc, inh, init, neuron, n_steps, codegen):
    """neurorec: description -> brian2 engine -> ``NetworkRun`` (spikes as a (1, T, N) array, SynOps)."""
    from neurorec.models.spiking.network import Connection, Network, Population

    n = exc.shape[0]
    net = Network([Population("neurons", n, neuron)],
                  [Connection("neurons", "neurons", exc, "g_exc"), Connection("neurons", "neurons", inh, "g_inh")],
                  dt=0.1)
    return net.run(n_steps=n_steps, engine="brian2", codegen_target=codegen, initial={"neurons": init})


def brian2_coba(exc, inh, init, neuron, n_steps, per_synapse_w=False):
    """The same network written directly in brian2, as in its examples; returns its ``SpikeMonitor``."""
    import brian2 as b2

    mV, ms = b2.mV, b2.ms
    b2.defaultclock.dt = 0.1 * ms
    n = exc.shape[0]
    namespace = {"tau_mem": neuron.tau_mem * ms, "tau_exc": neuron.tau_exc * ms, "tau_inh": neuron.tau_inh * ms,
                 "E_L": neuron.E_L * mV, "E_exc": neuron.E_exc * mV, "E_inh": neuron.E_inh * mV,
                 "v_th": neuron.v_th * mV, "v_reset": neuron.v_reset * mV}
    eqs = """
    dv/dt = ((E_L - v) + g_exc * (E_exc - v) + g_inh * (E_inh - v)) / tau_mem : volt (unless refractory)
    dg_exc/dt = -g_exc / tau_exc : 1
    dg_inh/dt = -g_inh / tau_inh : 1
    """
    group = b2.NeuronGroup(n, eqs, threshold="v > v_th", reset="v = v_reset", refractory=neuron.refractory * ms,
                           method="exponential_euler", namespace=namespace)
    group.v = init["v"] * mV
    group.g_exc = init["g_exc"]
    group.g_inh = init["g_inh"]
    synapses = []
    for w, var in ((exc, "g_exc"), (inh, "g_inh")):
        coo = w.tocoo()
        if per_synapse_w:
            s = b2.Synapses(group, group, model="w : 1", on_pre=f"{var}_post += w")
            s.connect(i=coo.row, j=coo.col)
            s.w = coo.data
        else:
            s = b2.Synapses(group, group, on_pre=f"{var}_post += weight", namespace={"weight": float(coo.data[0])})
            s.connect(i=coo.row, j=coo.col)
        synapses.append(s)
    monitor = b2.SpikeMonitor(group)
    b2.Network(group, *synapses, monitor).run(n_steps * 0.1 * ms, namespace={})
    return monitor


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--duration", type=float, default=1000.0, help="simulated ms (default 1000)")
    ap.add_argument("--neurons", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--codegen", choices=("cython", "numpy"), default="cython")
    ap.add_argument("--profile", action="store_true", help="cProfile one neurorec run and print the top entries")
    args = ap.parse_args(argv)
    _pin_threads(args.threads)

    import brian2 as b2
    import numpy as np

    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        pass

    b2.prefs.codegen.target = args.codegen  # the direct brian2 script's target; neurorec passes its own
    b2.prefs.core.default_float_dtype = np.float64
    b2.set_device("runtime")
    n_steps = int(round(args.duration / 0.1))
    exc, inh, init, n_exc, neuron = coba_arrays(args.neurons, args.seed)
    n_syn = exc.nnz + inh.nnz

    fns = {
        "neurorec": lambda: neurorec_coba(exc, inh, init, neuron, n_steps, args.codegen),
        "brian2": lambda: brian2_coba(exc, inh, init, neuron, n_steps),
        "brian2 per-synapse w": lambda: brian2_coba(exc, inh, init, neuron, n_steps, per_synapse_w=True),
    }
    warm = {}
    for name, fn in fns.items():  # generate and compile the code objects, warm the caches
        gc.collect()
        t = time.perf_counter()
        out = fn()
        warm[name] = time.perf_counter() - t
        del out
    def spike_count(name, out):  # a SpikeMonitor counts as it goes; neurorec returns the spike array
        return int(out.spikes["neurons"].sum()) if name == "neurorec" else int(out.num_spikes)

    times, measured = _race(fns, args.repeats, spike_count)
    counts = {name: sorted(set(c)) for name, c in measured.items()}
    for name, c in counts.items():
        if len(c) != 1:
            raise AssertionError(f"{name}: spike count changed between repeats: {c}")
    if counts["neurorec"] != counts["brian2"] or counts["neurorec"] != counts["brian2 per-synapse w"]:
        raise AssertionError(f"different spike counts: {counts}")
    med = {name: statistics.median(t) for name, t in times.items()}
    paired = statistics.median(a / b for a, b in zip(times["neurorec"], times["brian2"], strict=True))

    print(f"COBA, {args.neurons} neurons, {n_syn:,} synapses, {args.duration:.0f} ms at dt = 0.1 ms; "
          f"brian2 {b2.__version__} runtime, codegen {args.codegen}; {args.threads} thread(s); "
          f"{counts['brian2'][0]:,} spikes ({counts['brian2'][0] / args.neurons / (args.duration / 1000):.2f} Hz), "
          f"the same in all engines")
    print(f"{'engine':<24}{'median s':>10}{'min s':>10}{'max s':>10}{'first (compile) s':>19}")
    for name in fns:
        print(f"{name:<24}{med[name]:>10.3f}{min(times[name]):>10.3f}{max(times[name]):>10.3f}{warm[name]:>19.2f}")
    overhead = med["neurorec"] / med["brian2"]
    print(f"overhead_vs_brian2 = neurorec / brian2 median = {overhead:.3f} (paired median {paired:.3f}; "
          f"goal <= 1.10); brian2 with a per-synapse w / brian2 = {med['brian2 per-synapse w'] / med['brian2']:.3f}")

    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        fns["neurorec"]()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(35)

    result = {
        "benchmark": "snn_cpu",
        "network": "COBA",
        "neurons": args.neurons,
        "synapses": n_syn,
        "duration_ms": args.duration,
        "codegen": args.codegen,
        "threads": args.threads,
        "repeats": args.repeats,
        "spikes": counts["brian2"][0],
        "neurorec_s": med["neurorec"],
        "brian2_s": med["brian2"],
        "brian2_per_synapse_w_s": med["brian2 per-synapse w"],
        "overhead_vs_brian2": overhead,
        "overhead_paired_median": paired,
        "brian2_version": b2.__version__,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
