"""Spiking layers, forward + backward: neurorec's fused LIF against the snntorch loop, in one run.

The setup is the Open Neuromorphic "SNN library benchmarks" one (G. Lenz, K. Heckel, S. B. Shrestha,
C. Barker, J. E. Pedersen, open-neuromorphic.org, 2023, updated 2024): one fully connected layer
``Linear(N, N)`` followed by one layer of leaky integrate-and-fire (LIF) neurons, input
``randn(T=500, B=16, N)``, the loss the sum of the output spikes, and the time of the forward
plus the backward pass; its snntorch entry is ``snntorch.Leaky(beta=0.95)`` stepped in a Python
loop over time with the ``Linear`` applied at every step, and its SpikingJelly entry
``LIFNode(step_mode="m")``. Engines, all from the same weights and inputs, in the same process,
with the same threads:

* ``linear floor``: the same ``Linear`` layer(s) applied to the whole ``(T, B, N)`` block, sum
  loss, forward + backward, and no neurons: what any implementation of the network must spend;
* ``neurorec fused``: the ``Linear`` on the whole block, then
  :func:`neurorec.backends.fused_lif.lif_multistep` (one autograd node per layer and sequence);
* ``snntorch loop``: ``snntorch.Leaky`` (same beta, threshold 1, subtract reset, atan surrogate
  with alpha 2: the defaults) in the loop of the snntorch tutorials, ``Linear`` then ``Leaky``
  at every step, output spikes stacked;
* ``snntorch layer-wise``: the same ``Leaky`` loop, but each ``Linear`` applied once to the whole
  block as in the fused path, so that only the neuron update differs (the strongest snntorch
  loop here; not the benchmark's);
* ``spikingjelly``: ``LIFNode(step_mode="m")`` after the same block ``Linear``, with the same decay
  (``tau = 1 / (1 - beta)``, ``decay_input=False``), soft reset and atan surrogate, if it is
  installed (it is not a dependency). Its reset takes effect within the step that spikes, not
  at the next step as in snntorch, so its spikes are close to but not the same as the others';
  it is timed, not checked.

Before any timing the fused path and the snntorch loop are run once on the benchmark inputs
and must give the same spikes (element for element, every layer) and the same weight and bias
gradients (to float round-off). If float32 rounding of the two different matrix-product
shapes flips a spike, the check is repeated in float64, where it must hold exactly, and the
float32 mismatch is reported.

Sections, chosen by the device (``--device auto``: CUDA when available):

* CUDA: the Open Neuromorphic sweep, N = 4096, 8192, 16384 (``--sizes``), T = 500, B = 16, in
  float32 (floor, fused, snntorch, spikingjelly) and bfloat16 (floor, fused; the fused path
  integrates the membrane in float32). Times from CUDA events around each call, after a
  synchronize. Goals: float32 fused within 1.2x of the float32 floor (``fp32_vs_floor``),
  bfloat16 within 2x of the bfloat16 floor (``bf16_vs_floor``), and at least 10x faster than the
  snntorch loop (``speedup_vs_snntorch``), all at N = 4096.
* CPU: the network 700-256-20 (Linear 700->256, LIF, Linear 256->20, LIF; the shape of the
  Spiking Heidelberg Digits task), batch 128, 100 steps, input random spikes (rate 0.2), loss
  the sum of the output spikes. Goal: the fused path at least 5x faster than the snntorch loop
  (``speedup_vs_snntorch``). Also timed, for information: the LIF layer alone (256 neurons, same
  T and B; the ``Linear`` products left out) and a reduced Open Neuromorphic point (N = 1024,
  T = 100, B = 16; float32 and bfloat16).

Time per engine = median over ``--repeats`` rounds, after ``--warmup`` untimed calls; the engines
take turns within each round (order reversed every other round) so that a slow spell of a
shared machine hits all of them alike. Ratios are of medians; ``*_paired_median`` keys give the
median of the per-round ratios as a cross-check. BLAS/OpenMP/torch threads are pinned to
``--threads`` (default 1): on a shared machine a second OpenMP thread makes each of the snntorch
loop's many small operations wait for a descheduled peer (on a loaded 2-core machine its time
grew 5-10x with ``--threads 2``, which inflates the ratio); use more threads only on an idle
machine. On the CPU the matrix products of the 700-256-20 network cost the
same in every engine and are most of the snntorch loop's time, so ``snntorch_over_floor``
(snntorch loop / linear floor) bounds the speedup any neuron implementation can reach there
(1.7-1.8x with one thread of a shared 2-core AMD EPYC, where the LIF layer alone runs 4-5x
faster fused than in the snntorch loop).

The last line printed is one JSON object: ``speedup_vs_snntorch`` always, and on CUDA also
``fp32_vs_floor`` and ``bf16_vs_floor``; detail keys follow. Usage::

    python benchmarks/snn_gpu.py [--device auto|cpu|cuda] [--threads 1] [--repeats 15]
                                 [--sizes 4096,8192,16384] [--quick]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import struct
import sys
import time

# snntorch's beta in the Open Neuromorphic benchmark, 0.95, as the float32 number snntorch.Leaky
# stores it as (a float32 buffer), so that all engines, and the float64 check, use the same decay
BETA = struct.unpack("f", struct.pack("f", 0.95))[0]
THRESHOLD = 1.0
ATAN_ALPHA = 2.0   # snntorch's default spike_grad, surrogate.atan(alpha=2.0)


def _pin_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


def _timer(torch, device):
    """Seconds taken by one call of ``fn``: CUDA events on CUDA (after a synchronize, so that
    no earlier work is counted), the wall clock on the CPU."""
    if device.type == "cuda":
        def timed(fn):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize(device)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1e3
    else:
        def timed(fn):
            t = time.perf_counter()
            fn()
            return time.perf_counter() - t
    return timed


def _race(fns: dict, repeats: int, warmup: int, timed) -> dict:
    """Times of each function in each of ``repeats`` rounds after ``warmup`` untimed calls of
    each; the functions take turns within a round, in reverse order every other round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    names = list(fns)
    for r in range(repeats):
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(timed(fns[name]))
    return times


# ---------------------------------------------------------------------------------------------
# engines: each builder returns forward(record) -> tuple of spike tensors, the last one the
# output whose sum is the loss (record=True: every layer's spikes, for the equality check)
# ---------------------------------------------------------------------------------------------


def _leaky(snn, surrogate, device):
    """snntorch's Leaky, moved to ``device`` (it keeps beta and the threshold as tensors)."""
    return snn.Leaky(beta=BETA, threshold=THRESHOLD, reset_mechanism="subtract",
                     spike_grad=surrogate.atan(alpha=ATAN_ALPHA)).to(device)


def _fused_net(lif_multistep, layers):
    def forward(x, record=False):
        out, h = [], x
        for fc in layers:
            h, _ = lif_multistep(fc(h), BETA, THRESHOLD, "subtract", surrogate="atan", alpha=ATAN_ALPHA)
            out.append(h)
        return tuple(out) if record else (h,)
    return forward


def _snntorch_loop(torch, snn, surrogate, layers):
    """The snntorch tutorial loop: at every step each Linear then its Leaky."""
    lifs = [_leaky(snn, surrogate, layers[0].weight.device) for _ in layers]

    def forward(x, record=False):
        mems = [lif.init_leaky() for lif in lifs]
        recs = [[] for _ in layers]
        for step in range(x.shape[0]):
            h = x[step]
            for i, (fc, lif) in enumerate(zip(layers, lifs, strict=True)):
                h, mems[i] = lif(fc(h), mems[i])
                if record or i == len(layers) - 1:
                    recs[i].append(h)
        spikes = tuple(torch.stack(r) for r in recs if r)
        return spikes if record else spikes[-1:]
    return forward


def _snntorch_layerwise(torch, snn, surrogate, layers):
    """The same Leaky loop, each Linear applied once to the whole (T, B, N) block."""
    lifs = [_leaky(snn, surrogate, layers[0].weight.device) for _ in layers]

    def forward(x, record=False):
        out, h = [], x
        for fc, lif in zip(layers, lifs, strict=True):
            mem, spk = lif.init_leaky(), []
            for cur in fc(h).unbind(0):
                s, mem = lif(cur, mem)
                spk.append(s)
            h = torch.stack(spk)
            out.append(h)
        return tuple(out) if record else (h,)
    return forward


def _spikingjelly_variants(torch, device):
    """(label, make_node) for each SpikingJelly multi-step LIF to time, and a note. Only if the
    package imports; a version with a ``backend`` argument (<= 0.0.0.0.14) is timed with its
    torch backend and, on CUDA with CuPy, its cupy backend; newer ones pick their kernels
    themselves."""
    try:
        import spikingjelly
        from spikingjelly.activation_based import functional, neuron, surrogate
    except Exception as err:  # not installed (not a dependency), or an install that fails to import
        return [], None, f"spikingjelly skipped: not importable ({type(err).__name__}: {err})"
    try:
        from importlib.metadata import version
        ver = version("spikingjelly")
    except Exception:  # installed from source without metadata
        ver = getattr(spikingjelly, "__version__", "?")
    kw = dict(tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=None,
              surrogate_function=surrogate.ATan(alpha=ATAN_ALPHA), detach_reset=True, step_mode="m")
    variants, note = [], f"spikingjelly {ver}"
    if "backend" in inspect.signature(neuron.LIFNode.__init__).parameters:
        backends = ["torch"]
        if device.type == "cuda":
            try:
                import cupy  # noqa: F401
                backends.append("cupy")
            except ImportError:
                note += " (cupy backend skipped: no cupy)"
        for b in backends:
            variants.append((f"spikingjelly {ver} {b}", lambda b=b: neuron.LIFNode(**kw, backend=b)))
    else:
        variants.append((f"spikingjelly {ver}", lambda: neuron.LIFNode(**kw)))
    return variants, functional.reset_net, note


def _spikingjelly_net(torch, make_node, reset_net, layers):
    nodes = torch.nn.ModuleList([make_node() for _ in layers])

    def forward(x, record=False):
        reset_net(nodes)
        out, h = [], x
        for fc, node in zip(layers, nodes, strict=True):
            h = node(fc(h))
            out.append(h)
        return tuple(out) if record else (h,)
    return forward, nodes


def _step(forward, x, params):
    """One timed call: fresh gradients, forward, loss = sum of the output spikes, backward."""
    def run():
        for p in params:
            p.grad = None
        forward(x)[-1].sum().backward()
    return run


def _floor(layers, x, params):
    def run():
        for p in params:
            p.grad = None
        h = x
        for fc in layers:
            h = fc(h)
        h.sum().backward()
    return run


# ---------------------------------------------------------------------------------------------
# the same-computation check
# ---------------------------------------------------------------------------------------------


def _outputs(forward, x, params):
    for p in params:
        p.grad = None
    spikes = forward(x, record=True)
    spikes[-1].sum().backward()
    return [s.detach() for s in spikes], [p.grad.detach().clone() for p in params]


def _compare(fused, loop, x, params, grad_tol):
    """(spikes identical, spike counts per layer, max relative gradient difference)."""
    s1, g1 = _outputs(fused, x, params)
    s2, g2 = _outputs(loop, x, params)
    same = all(a.shape == b.shape and bool((a == b.to(a.dtype)).all()) for a, b in zip(s1, s2, strict=True))
    counts = [int(a.float().sum().item()) for a in s1]
    mismatch = sum(int((a != b.to(a.dtype)).sum().item()) for a, b in zip(s1, s2, strict=True))
    rel = max(float((a - b).abs().max() / b.abs().max().clamp_min(1e-30)) for a, b in zip(g1, g2, strict=True))
    if same and rel > grad_tol:
        raise AssertionError(f"same spikes but gradients differ: max relative difference {rel:.2e} > {grad_tol:.0e}")
    return same, counts, mismatch, rel


def _check_same(torch, make, x, dtype):
    """Assert that the fused path and the snntorch loop compute the same thing on the benchmark
    inputs: in ``dtype``, or (if float32 rounding flipped a spike) exactly in float64."""
    layers, params, fused, loop = make(dtype)
    same, counts, mismatch, rel = _compare(fused, loop, x.to(dtype), params, grad_tol=1e-4)
    info = {"spike_counts": counts, "grad_max_rel_diff": rel, "checked_in": str(dtype).replace("torch.", "")}
    if not same:
        info["float32_spike_mismatch"] = mismatch
        layers, params, fused, loop = make(torch.float64)
        same, counts, _, rel = _compare(fused, loop, x.to(torch.float64), params, grad_tol=1e-9)
        if not same:
            raise AssertionError("the fused LIF and the snntorch loop give different spikes in float64")
        info.update(spike_counts=counts, grad_max_rel_diff=rel, checked_in="float64")
    return info


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------


def _linears(torch, dims, dtype, device, seed):
    """Linear layers for ``dims`` (sizes from input to output), torch's default init drawn in
    float32 from ``seed`` and then cast, so that every dtype holds the same weights."""
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return [fc.to(device=device, dtype=dtype) for fc in layers]


def _summarise(times, floor, fused):
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {}
    for k, v in times.items():
        out[k] = {"median": med[k], "min": min(v), "max": max(v),
                  "vs_floor": med[k] / med[floor] if floor in med else None,
                  "fused_speedup": med[k] / med[fused] if k != fused else None,
                  "fused_speedup_paired_median": statistics.median(
                      a / b for a, b in zip(v, times[fused], strict=True)) if k != fused else None}
    return out


def _section(torch, libs, device, dtype, dims, x, seed, args, with_peers, label, key, notes):
    """Time floor, fused, snntorch loop (and layer-wise, spikingjelly) for one network."""
    snn, surrogate, lif_multistep = libs
    dims = list(dims)

    def make(dt):
        layers = _linears(torch, dims, dt, device, seed)
        params = [p for fc in layers for p in fc.parameters()]
        return layers, params, _fused_net(lif_multistep, layers), _snntorch_loop(torch, snn, surrogate, layers)

    check = _check_same(torch, make, x, dtype) if with_peers else None
    layers, params, fused, loop = make(dtype)
    fns = {"linear floor": _floor(layers, x, params), "neurorec fused": _step(fused, x, params)}
    if with_peers:
        fns["snntorch loop"] = _step(loop, x, params)
        fns["snntorch layer-wise"] = _step(_snntorch_layerwise(torch, snn, surrogate, layers), x, params)
        variants, reset_net, note = _spikingjelly_variants(torch, device)
        if note not in notes:
            notes.append(note)
        for name, make_node in variants:
            fwd, nodes = _spikingjelly_net(torch, make_node, reset_net, layers)
            nodes.to(device)
            try:
                _step(fwd, x, params)()
            except Exception as err:  # a backend that does not run here (e.g. no CUDA compiler)
                notes.append(f"{name} skipped: {type(err).__name__}: {err}")
                continue
            fns[name] = _step(fwd, x, params)
    times = _race(fns, args.repeats, args.warmup, _timer(torch, device))
    rows = _summarise(times, "linear floor", "neurorec fused")
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {"label": label, "key": key, "dtype": str(dtype).replace("torch.", ""), "rows": rows, "check": check}


def _lif_only(torch, libs, device, T, B, N, seed, args):
    """The LIF layer alone on a fixed current (T, B, N) that gets the gradient: fused against
    the snntorch loop over the current's time slices."""
    snn, surrogate, lif_multistep = libs
    g = torch.Generator().manual_seed(seed)
    base = (0.5 * torch.randn(T, B, N, generator=g) + 0.1).to(device)
    cur = base.clone().requires_grad_()
    lif = _leaky(snn, surrogate, device)

    def fused():
        return lif_multistep(cur, BETA, THRESHOLD, "subtract", surrogate="atan", alpha=ATAN_ALPHA)[0]

    def loop():
        mem, spk = lif.init_leaky(), []
        for c in cur.unbind(0):
            s, mem = lif(c, mem)
            spk.append(s)
        return torch.stack(spk)

    outs = []
    for fwd in (fused, loop):
        cur.grad = None
        s = fwd()
        s.sum().backward()
        outs.append((s.detach(), cur.grad.clone()))
    (s1, g1), (s2, g2) = outs
    if not torch.equal(s1, s2):
        raise AssertionError("LIF alone: the fused LIF and snntorch.Leaky give different spikes")
    rel = float((g1 - g2).abs().max() / g2.abs().max().clamp_min(1e-30))
    if rel > 1e-4:
        raise AssertionError(f"LIF alone: gradients differ, max relative difference {rel:.2e}")

    def step(fwd):
        def run():
            cur.grad = None
            fwd().sum().backward()
        return run

    times = _race({"neurorec fused": step(fused), "snntorch loop": step(loop)}, args.repeats, args.warmup,
                  _timer(torch, device))
    return {"label": f"LIF {N} alone T{T} B{B}", "key": f"lif{N}_alone", "dtype": "float32",
            "rows": _summarise(times, None, "neurorec fused"),
            "check": {"spike_counts": [int(s1.sum().item())], "grad_max_rel_diff": rel, "checked_in": "float32"}}


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def _ms(rows, engine):
    return 1e3 * rows[engine]["median"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:i]")
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP/torch threads (default 1)")
    ap.add_argument("--repeats", type=int, default=15, help="timed rounds; the median counts (default 15)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls of each engine first (default 2)")
    ap.add_argument("--sizes", default=None,
                    help="comma-separated N of the Open Neuromorphic Linear(N,N)+LIF layer "
                         "(default 4096,8192,16384 on CUDA, 1024 on the CPU)")
    ap.add_argument("--steps", type=int, default=None,
                    help="time steps of the Open Neuromorphic layer (default 500 on CUDA, 100 on the CPU)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and 2 rounds: a smoke test, not a measurement")
    args = ap.parse_args(argv)
    if args.threads < 1 or args.repeats < 1 or args.warmup < 0:
        ap.error("--threads and --repeats must be >= 1, --warmup >= 0")
    _pin_threads(args.threads)

    import torch
    try:
        import snntorch as snn
        from snntorch import surrogate
    except ImportError as err:
        ap.error(f"snntorch is needed for the comparison ({err}); pip install snntorch")

    import neurorec
    from neurorec.backends.fused_lif import lif_multistep

    torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            ap.error(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    cuda = device.type == "cuda"
    if cuda:
        if device.index is None:   # "cuda": the current device (set_device needs an index)
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)  # the events and synchronize calls below use the current device
    if args.quick:
        args.repeats, args.warmup = min(args.repeats, 2), min(args.warmup, 1)
    try:
        sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes else
                 [64] if args.quick else [4096, 8192, 16384] if cuda else [1024])
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        ap.error(f"--sizes must be comma-separated positive integers, got {args.sizes!r}")
    steps = args.steps or (20 if args.quick else 500 if cuda else 100)
    batch = 4 if args.quick else 16
    libs = (snn, surrogate, lif_multistep)
    notes, sections = [], []
    gen = torch.Generator().manual_seed(0)

    # --- the Open Neuromorphic layer: Linear(N, N) + LIF, input randn(T, B, N) ----------------------
    on_dtypes = (torch.float32, torch.bfloat16)
    on = {}
    for n in sizes:
        x32 = torch.randn(steps, batch, n, generator=gen).to(device)
        for dtype in on_dtypes:
            fp32 = dtype == torch.float32
            sec = _section(torch, libs, device, dtype, (n, n), x32.to(dtype), seed=1, args=args,
                           with_peers=fp32, label=f"Linear({n},{n})+LIF T{steps} B{batch}",
                           key=f"on{n}_{str(dtype).replace('torch.', '')}", notes=notes)
            sections.append(sec)
            on[(n, dtype)] = sec
        del x32
        if cuda:
            torch.cuda.empty_cache()

    # --- CPU: the 700-256-20 network, batch 128, 100 steps, and the LIF layer alone ------------------
    goal = None
    if not cuda:
        T, B, dims = (10, 8, (70, 32, 10)) if args.quick else (100, 128, (700, 256, 20))
        x = (torch.rand(T, B, dims[0], generator=gen) < 0.2).float()
        goal = _section(torch, libs, device, torch.float32, dims, x, seed=2, args=args, with_peers=True,
                        label=f"{'-'.join(map(str, dims))} T{T} B{B}", key="net_" + "_".join(map(str, dims)),
                        notes=notes)
        sections.append(goal)
        sections.append(_lif_only(torch, libs, device, T, B, dims[1], seed=3, args=args))

    # --- report ------------------------------------------------------------------------------------
    result = {"benchmark": "snn_gpu"}
    n0 = 4096 if 4096 in sizes else sizes[0]
    on32, on16 = on[(n0, torch.float32)]["rows"], on[(n0, torch.bfloat16)]["rows"]
    if cuda:
        result["speedup_vs_snntorch"] = on32["snntorch loop"]["fused_speedup"]
        result["fp32_vs_floor"] = on32["neurorec fused"]["vs_floor"]
        result["bf16_vs_floor"] = on16["neurorec fused"]["vs_floor"]
        result["speedup_vs_snntorch_layerwise"] = on32["snntorch layer-wise"]["fused_speedup"]
        result["goal_size"] = n0
        result["goals_met"] = {"fp32_vs_floor<=1.2": result["fp32_vs_floor"] <= 1.2,
                               "bf16_vs_floor<=2": result["bf16_vs_floor"] <= 2.0,
                               "speedup_vs_snntorch>=10": result["speedup_vs_snntorch"] >= 10}
    else:
        g, lif = goal["rows"], sections[-1]["rows"]
        result["speedup_vs_snntorch"] = g["snntorch loop"]["fused_speedup"]
        result["goal_config"] = goal["label"]
        result["goals_met"] = {"speedup_vs_snntorch>=5": result["speedup_vs_snntorch"] >= 5}
        result.update({
            "speedup_vs_snntorch_paired_median": g["snntorch loop"]["fused_speedup_paired_median"],
            "speedup_vs_snntorch_layerwise": g["snntorch layer-wise"]["fused_speedup"],
            "speedup_vs_snntorch_lif_only": lif["snntorch loop"]["fused_speedup"],
            "fused_vs_floor": g["neurorec fused"]["vs_floor"],
            "snntorch_over_floor": g["snntorch loop"]["vs_floor"],
            "on_point": on[(n0, torch.float32)]["label"],
            "on_speedup_vs_snntorch": on32["snntorch loop"]["fused_speedup"],
            "on_fp32_vs_floor": on32["neurorec fused"]["vs_floor"],
            "on_bf16_vs_floor": on16["neurorec fused"]["vs_floor"],
        })
    short = {"linear floor": "floor", "neurorec fused": "fused", "snntorch loop": "snntorch",
             "snntorch layer-wise": "snntorch_layerwise"}
    for sec in sections:
        for engine, r in sec["rows"].items():
            name = short.get(engine) or "spikingjelly" + ("_" + engine.split(" ")[-1] if engine.count(" ") > 1 else "")
            result[f"ms_{sec['key']}_{name}"] = 1e3 * r["median"]
        if sec["check"]:
            result[f"check_{sec['key']}"] = sec["check"]
    result.update({
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup, "quick": args.quick,
        "sizes": sizes, "steps": steps, "batch": batch,
        "torch": torch.__version__, "snntorch": snn.__version__, "neurorec": neurorec.__version__,
        "spikingjelly": next((n for n in notes if n.startswith("spikingjelly")), "skipped"),
    })
    if cuda:
        result["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)

    print(f"forward + backward, loss = sum of output spikes; beta {BETA:.7g}, threshold {THRESHOLD}, subtract reset, "
          f"atan surrogate (alpha {ATAN_ALPHA}); device {result['device']}, {args.threads} threads, "
          f"median of {args.repeats} rounds after {args.warmup} warm-up calls")
    print(f"{'network':<34}{'dtype':<10}{'engine':<30}{'ms (median)':>12}{'min-max ms':>20}"
          f"{'vs floor':>10}{'fused x':>9}")
    for sec in sections:
        for engine, r in sec["rows"].items():
            rng = f"{1e3 * r['min']:.2f}-{1e3 * r['max']:.2f}"
            vf = f"{r['vs_floor']:.2f}" if r["vs_floor"] is not None else ""
            fx = f"{r['fused_speedup']:.2f}" if r["fused_speedup"] is not None else ""
            print(f"{sec['label']:<34}{sec['dtype']:<10}{engine:<30}{1e3 * r['median']:>12.2f}{rng:>20}{vf:>10}{fx:>9}")
    print("vs floor = engine / linear floor; fused x = engine / neurorec fused (how many times faster fused is)")
    for sec in sections:
        c = sec["check"]
        if c:
            extra = (f", float32 spikes differing: {c['float32_spike_mismatch']}"
                     if "float32_spike_mismatch" in c else "")
            print(f"same computation, {sec['label']}: identical spikes in {c['checked_in']} "
                  f"(counts per layer {c['spike_counts']}), weight/bias gradients max relative difference "
                  f"{c['grad_max_rel_diff']:.1e}{extra}")
    if not cuda:
        print(f"the Linear products alone (floor) take {result['snntorch_over_floor'] ** -1:.0%} of the snntorch "
              f"loop's time on the {result['goal_config']} network, so no neuron implementation can be more than "
              f"{result['snntorch_over_floor']:.2f}x faster than it there with --threads {args.threads}")
        why = "--device cpu" if torch.cuda.is_available() else f"torch {torch.__version__} sees no CUDA device"
        print(f"CUDA section not run ({why}): fp32_vs_floor, bf16_vs_floor not measured")
    for note in notes:
        print(note)
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
