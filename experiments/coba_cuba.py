"""The COBA and CUBA networks of Vogels & Abbott (2005), benchmarks 1 and 2 of Brette et al. (2007).

4,000 leaky integrate-and-fire neurons (3,200 excitatory, 800 inhibitory), every ordered pair
connected with probability 0.02 (autapses allowed, no delay), simulated for 1 s at dt = 0.1 ms
with no external input: the activity is self-sustained from random initial conditions. Built
once per seed with neurorec's backend-independent ``Network`` description (one population, one
excitatory and one inhibitory ``Connection`` with numpy-drawn sparse weights), so every engine
simulates the same connectivity from the same initial state.

COBA (benchmark 1), ``CobaLIF``: conductances in units of the leak conductance g_L = 10 nS;
E_L = -60 mV, V_th = -50 mV, V_reset = -60 mV, tau_m = 20 ms, tau_e = 5 ms, tau_i = 10 ms,
E_e = 0 mV, E_i = -80 mV, refractory 5 ms; jumps 6 nS / 10 nS = 0.6 (excitatory) and
67 nS / 10 nS = 6.7 (inhibitory); initial v ~ E_L + N(-5, 5) mV = N(-65, 5) mV,
g_e ~ N(4, 1.5), g_i ~ N(20, 12) (x g_L; not clipped, so a few start negative, as in the
reference). Sources: R. Brette's Brian implementation of benchmark 1 (brian-team/brian
``examples/COBA.py``, Dec 2007: v measured from rest, threshold 10 mV, reset 0, Ee = 60 mV,
Ei = -20 mV, ``we = 6./10.``, ``wi = 67./10.``, ``v = randn*5 - 5 mV``, ``ge = randn*1.5 + 4``,
``gi = randn*12 + 20``); the same initial conductances, in nS, in brian2's ``examples/COBAHH.py``
(``(randn() * 1.5 + 4) * 10.*nS``); the cell parameters in PyNN's ``examples/VAbenchmarks.py``
(tau_m 20 ms, E_leak -60 mV, V_thresh -50, V_reset -60, t_refrac 5 ms, tau_exc 5, tau_inh 10,
E_rev -80 / 0 mV, cm 0.2 nF = 20000 um^2 x 1 uF/cm^2, so g_L = 10 nS).
ANNarchy's ``examples/vogels_abbott/COBA.py`` starts v at N(-55, 5) mV but also adds a constant
drive I = 20 mV to every neuron. Without that drive (as in the benchmark), a start at
N(-55, 5) mV makes ~9 % of the neurons fire in the first step, and the volley silenced the
network before 200 ms for 4 of seeds 0-5 (v shifted by +10 mV, all else equal), while all six
sustain their activity from Brian's N(-65, 5) mV; so the Brian initial state is used.

CUBA (benchmark 2), ``CubaLIF``: brian2's ``examples/CUBA.py``: E_L = -49 mV (above threshold),
V_th = -50 mV, V_reset = -60 mV, tau_m = 20 ms, exponential current synapses tau_e = 5 ms,
tau_i = 10 ms, refractory 5 ms, jumps we = 60 x 0.27 / 10 = 1.62 mV and
wi = -20 x 4.5 / 10 = -9 mV (PyNN's CUBA weights 0.27 nS and 4.5 nS times the driving forces
60 mV and 20 mV at v = -60 mV, over g_L), initial v ~ U(V_reset, V_th), no synaptic current.

Engines: COBA on brian2 (runtime mode, ``--codegen cython`` by default or ``numpy``) and on the
torch step engine (CPU, float32 and float64), and on the numpy step engine for information;
CUBA on brian2 and the numpy engine. Every engine first runs a 40-neuron copy of each network for
5 steps, so that the timed runs include neither brian2's Cython compilation (cached on disk
afterwards) nor torch's first-call initialisation. The wall times include building the
simulation (brian2 objects, torch tensors) from the ``Network`` description.

The network is chaotic: two engines that round differently (float32 vs float64, brian2's
generated expression vs the step function's) follow the same spike trains for a while and then
diverge. The comparison is therefore of rate statistics, not of spike trains: mean rate,
the distribution of per-neuron rates (percentiles, histogram), the coefficient of variation of
the inter-spike intervals; the script also prints how long each engine's spike trains stayed
identical to brian2's. The check of the issue: brian2's and torch's COBA mean rates agree within
10 % (relative to brian2) for each seed and each torch dtype; the script exits with status 1 if
not (in a full run).

Run::

    python experiments/coba_cuba.py [--seeds 0 1 2] [--codegen cython|numpy] [--out DIR] [--quick]

``--quick``: 400 neurons (connection probability 0.2, so each neuron keeps the 80 inputs of the
full network, weights unchanged), 100 ms, one seed: a smoke test (small COBA networks do not
sustain their activity). Writes ``results.json``, ``runs.csv`` and ``coba_cuba.png`` (rasters of
the first 500 ms of 200 excitatory and 50 inhibitory neurons, per-neuron rate and ISI CV
histograms, first seed) into ``--out``.
"""

from __future__ import annotations

import gc
import json
import sys

import _common
import numpy as np

NAME = "coba_cuba"
N_FULL = 4000
P_FULL = 0.02
DT = 0.1
RATE_TOLERANCE = 0.10


# --------------------------------------------------------------------------------------
# the two networks
# --------------------------------------------------------------------------------------
def _split_connections(n, p, w_exc, w_inh, rng):
    """Sparse (n, n) excitatory and inhibitory weight matrices: the first 80 % of the neurons are
    excitatory; each ordered pair is connected with probability ``p``."""
    from scipy import sparse

    from neurorec.models.spiking.network import sparse_random

    ne = n * 4 // 5
    exc = sparse_random(ne, n, p, w_exc, seed=rng)
    inh = sparse_random(n - ne, n, p, w_inh, seed=rng)
    exc = sparse.vstack([exc, sparse.csr_matrix((n - ne, n))]).tocsr()
    inh = sparse.vstack([sparse.csr_matrix((ne, n)), inh]).tocsr()
    return exc, inh


def build(kind: str, n: int = N_FULL, seed: int = 0, p: float | None = None):
    """The COBA or CUBA network with ``n`` neurons, and its initial state.

    ``p`` defaults to ``0.02 * 4000 / n`` (80 inputs per neuron, as in the full network). The seed
    draws the connectivity, then the initial state, from one numpy Generator.

    Returns ``(network, initial, n_exc)``; ``initial`` is ``{"neurons": {variable: (n,) array}}``
    for ``Network.run(initial=...)``.
    """
    from neurorec.models.spiking.network import Connection, Network, Population
    from neurorec.models.spiking.neurons import CobaLIF, CubaLIF

    p = P_FULL * N_FULL / n if p is None else p
    rng = np.random.default_rng(seed)
    if kind == "coba":
        neuron = CobaLIF()  # defaults: benchmark 1
        exc, inh = _split_connections(n, p, 6.0 / 10.0, 67.0 / 10.0, rng)
        variables = ("g_exc", "g_inh")
        initial = {"v": neuron.E_L + rng.normal(-5.0, 5.0, n), "g_exc": rng.normal(4.0, 1.5, n),
                   "g_inh": rng.normal(20.0, 12.0, n)}
    elif kind == "cuba":
        neuron = CubaLIF()  # defaults: benchmark 2
        exc, inh = _split_connections(n, p, 60 * 0.27 / 10, -20 * 4.5 / 10, rng)
        variables = ("i_exc", "i_inh")
        initial = {"v": rng.uniform(neuron.v_reset, neuron.v_th, n)}
    else:
        raise ValueError(f"kind must be 'coba' or 'cuba', got {kind!r}.")
    net = Network([Population("neurons", n, neuron)],
                  [Connection("neurons", "neurons", exc, variables[0]),
                   Connection("neurons", "neurons", inh, variables[1])], dt=DT)
    return net, {"neurons": initial}, n * 4 // 5


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
def spike_stats(spikes: np.ndarray, n_exc: int, dt: float = DT) -> dict:
    """Rate statistics of a (T, N) 0/1 spike array: mean rates (Hz), per-neuron rate percentiles,
    the fraction of silent neurons, and the ISI coefficient of variation over neurons with >= 3 spikes."""
    T, N = spikes.shape
    seconds = T * dt / 1000.0
    rates = spikes.sum(0) / seconds
    steps, neurons = np.nonzero(spikes)
    order = np.lexsort((steps, neurons))
    steps, neurons = steps[order], neurons[order]
    cvs = []
    bounds = np.searchsorted(neurons, np.arange(N + 1))
    for j in range(N):
        s = steps[bounds[j]:bounds[j + 1]]
        if s.size >= 3:
            isi = np.diff(s) * dt
            cvs.append(isi.std() / isi.mean())
    cvs = np.asarray(cvs)
    pct = np.percentile(rates, [5, 25, 50, 75, 95])
    return {
        "n_spikes": int(spikes.sum()), "mean_rate_hz": float(rates.mean()),
        "exc_rate_hz": float(rates[:n_exc].mean()), "inh_rate_hz": float(rates[n_exc:].mean()),
        **{f"rate_p{q}_hz": float(v) for q, v in zip((5, 25, 50, 75, 95), pct, strict=True)},
        "rate_max_hz": float(rates.max()), "frac_silent": float((rates == 0).mean()),
        "cv_isi_mean": float(cvs.mean()) if cvs.size else float("nan"),
        "cv_isi_median": float(np.median(cvs)) if cvs.size else float("nan"),
        "n_cv_neurons": int(cvs.size),
    }, rates, cvs


def first_divergence_ms(a: np.ndarray, b: np.ndarray, dt: float = DT):
    """Time (ms) of the first step where two (T, N) spike arrays differ, or None if identical."""
    diff = np.nonzero((a != b).any(axis=1))[0]
    return None if diff.size == 0 else float(diff[0] * dt)


def histogram_table(columns: dict, n_bins: int = 12) -> list[str]:
    """Counts of neurons per rate bin, one column per engine (``columns``: {label: per-neuron rates});
    ``n_bins`` equal bins up to the largest 99.5th percentile, the last bin open."""
    top = max(float(np.percentile(r, 99.5)) for r in columns.values())
    width = max(1.0, float(np.ceil(top / (n_bins - 1))))
    edges = width * np.arange(n_bins + 1)
    lines = ["    rate (Hz)   " + "".join(f"{label:>16s}" for label in columns)]
    counts = {label: np.histogram(np.minimum(r, edges[-1] - 1e-9), edges)[0] for label, r in columns.items()}
    for b in range(n_bins):
        label = f"[{edges[b]:3.0f}, {edges[b + 1]:3.0f})" if b < n_bins - 1 else f"[{edges[b]:3.0f},   +)"
        lines.append(f"    {label:12s}" + "".join(f"{counts[c][b]:16d}" for c in columns))
    return lines


# --------------------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------------------
def run_engine(net, initial, n_steps, engine, codegen="cython", dtype="float64"):
    """Run ``net`` on one engine; returns ((T, N) uint8 spikes, wall seconds, SynOps)."""
    import torch

    kwargs = {}
    if engine == "brian2":
        kwargs["codegen_target"] = codegen
    elif engine == "torch":
        kwargs["dtype"] = dtype
    # brian2 names its objects uniquely among the living ones and its generated code carries the names:
    # objects of the previous run still in a reference cycle would force a new compilation
    gc.collect()
    timer = _common.Timer()
    out = net.run(n_steps=n_steps, engine=engine, initial=initial, **kwargs)
    seconds = timer()
    s = out.spikes["neurons"]
    if isinstance(s, torch.Tensor):
        s = s.cpu().numpy()
    return np.asarray(s[0], dtype=np.uint8), seconds, float(out.synops)


def warm_up(codegen: str) -> float:
    """Run every engine on 40-neuron copies of both networks for 5 steps (brian2 generates and compiles
    its code, cached on disk afterwards; torch initialises its sparse kernels); returns seconds."""
    timer = _common.Timer()
    for kind in ("coba", "cuba"):
        net, initial, _ = build(kind, 40, seed=0, p=0.2)
        for engine, dtype in ENGINES[kind]:
            run_engine(net, initial, 5, engine, codegen, dtype)
    gc.collect()
    return timer()


ENGINES = {"coba": [("brian2", None), ("torch", "float32"), ("torch", "float64"), ("numpy", "float64")],
           "cuba": [("brian2", None), ("numpy", "float64")]}


def engine_label(engine, dtype, codegen):
    if engine == "brian2":
        return f"brian2 {codegen}"
    return f"{engine} {dtype}" if engine == "torch" else "numpy float64"


def run_all(args):
    rows, figure_data = [], {}
    for seed in args.seeds:
        for kind in ("coba", "cuba"):
            timer = _common.Timer()
            net, initial, n_exc = build(kind, args.neurons, seed)
            built = timer()
            ref = None
            for engine, dtype in ENGINES[kind]:
                label = engine_label(engine, dtype, args.codegen)
                spikes, seconds, synops = run_engine(net, initial, args.steps, engine, args.codegen, dtype or "float64")
                stats, rates, cvs = spike_stats(spikes, n_exc)
                if ref is None:
                    ref = spikes
                row = {"network": kind.upper(), "seed": seed, "engine": label, "neurons": args.neurons,
                       "synapses": net.n_synapses, "duration_ms": args.steps * DT, "wall_s": seconds,
                       "build_description_s": built, "synops": synops, **stats,
                       "identical_to_brian2_until_ms": first_divergence_ms(ref, spikes)}
                rows.append(row)
                div = row["identical_to_brian2_until_ms"]
                same = "identical to brian2" if div is None else f"identical to brian2 until {div:.1f} ms"
                print(f"  seed {seed} {kind.upper()} {label:15s} {seconds:6.1f} s  "
                      f"rate {stats['mean_rate_hz']:6.2f} Hz "
                      f"(exc {stats['exc_rate_hz']:.2f}, inh {stats['inh_rate_hz']:.2f})  "
                      f"CV(ISI) {stats['cv_isi_mean']:.2f}  SynOps {synops:.3g}  "
                      f"{same if engine != 'brian2' else ''}", flush=True)
                if seed == args.seeds[0]:
                    figure_data[(kind, label)] = (spikes, rates, cvs)
    return rows, figure_data


def rate_checks(rows, codegen):
    """brian2 vs torch COBA mean rates, per seed and torch dtype."""
    checks = []
    for r in rows:
        if r["network"] != "COBA" or not r["engine"].startswith("torch"):
            continue
        ref = next(b for b in rows if b["network"] == "COBA" and b["seed"] == r["seed"]
                   and b["engine"] == f"brian2 {codegen}")
        rel = abs(r["mean_rate_hz"] - ref["mean_rate_hz"]) / max(ref["mean_rate_hz"], 1e-12)
        checks.append({"seed": r["seed"], "engine": r["engine"], "brian2_rate_hz": ref["mean_rate_hz"],
                       "torch_rate_hz": r["mean_rate_hz"], "relative_difference": rel,
                       "within_10_percent": bool(rel <= RATE_TOLERANCE)})
    return checks


def plot(figure_data, args, n_exc, path):
    import matplotlib.pyplot as plt

    from neurorec import plot as nrplot
    from neurorec.models.spiking.network import NetworkRun

    panels = [k for k in figure_data]
    t_max = min(500.0, args.steps * DT)
    n_show_e, n_show_i = min(200, n_exc), min(50, args.neurons - n_exc)
    fig, axes = plt.subplots(len(panels), 2, figsize=(13, 2.3 * len(panels)),
                             gridspec_kw={"width_ratios": [3, 1]}, squeeze=False)
    cols = np.r_[np.arange(n_show_e), n_exc + np.arange(n_show_i)]
    for ax, (kind, label) in zip(axes[:, 0], panels, strict=True):
        spikes = figure_data[(kind, label)][0][: int(round(t_max / DT))]
        run = NetworkRun(spikes={"neurons": spikes[None][:, :, cols]}, dt=DT)
        nrplot.raster(run, "neurons", max_neurons=len(cols), markersize=1.5, ax=ax)
        shown = ax.get_title().split(": ", 1)[1]          # "<n> spikes, <rate> Hz mean" of the neurons shown
        ax.axhline(n_show_e - 0.5, color="tab:red", lw=0.6)
        ax.set_title(f"{kind.upper()} {label}: {n_show_e} excitatory (below the line), {n_show_i} inhibitory "
                     f"(above); shown: {shown}", fontsize=9)
        ax.set_xlabel("")
    axes[-1, 0].set_xlabel("time (ms)")
    # per-neuron rate and ISI CV histograms: drawn by hand (no neurorec.plot function draws these)
    for ax, (kind, label) in zip(axes[:, 1], panels, strict=True):
        _, rates, cvs = figure_data[(kind, label)]
        ax.hist(rates, bins=30, color="tab:gray")
        ax.set(title=f"rates (mean {rates.mean():.1f} Hz)", xlabel="Hz", ylabel="neurons")
        if cvs.size:
            inset = ax.inset_axes([0.6, 0.55, 0.37, 0.4])
            inset.hist(cvs, bins=20, color="tab:green")
            inset.set_title("CV(ISI)", fontsize=7)
            inset.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    def extra(p):
        p.add_argument("--codegen", choices=("cython", "numpy"), default="cython",
                       help="brian2 runtime code generation target (default: cython)")
        p.add_argument("--neurons", type=int, default=None, help="network size (default 4000; 400 with --quick)")
        p.add_argument("--duration", type=float, default=None, help="simulated ms (default 1000; 100 with --quick)")

    args = _common.parse_args(NAME, "COBA and CUBA networks (Vogels & Abbott 2005; Brette et al. 2007).",
                              default_seeds=(0, 1, 2), extra=extra)
    _common.setup(args.threads)
    import brian2

    args.neurons = args.neurons or (400 if args.quick else N_FULL)
    duration = args.duration or (100.0 if args.quick else 1000.0)
    args.steps = int(round(duration / DT))
    args.out.mkdir(parents=True, exist_ok=True)
    total = _common.Timer()
    print(f"{NAME}: seeds {args.seeds}{' (quick)' if args.quick else ''}; {args.neurons} neurons, "
          f"{args.steps * DT:.0f} ms at dt = {DT} ms; brian2 {brian2.__version__} ({args.codegen}); "
          f"{_common.machine()}", flush=True)
    compile_s = warm_up(args.codegen)
    print(f"  warm-up (brian2 code generation{' and compilation' if args.codegen == 'cython' else ''}, torch "
          f"kernels) on 40-neuron copies: {compile_s:.1f} s", flush=True)
    rows, figure_data = run_all(args)
    checks = rate_checks(rows, args.codegen)

    import pandas as pd

    pd.set_option("display.width", 250)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "runs.csv", index=False)
    n_exc = args.neurons * 4 // 5
    plot(figure_data, args, n_exc, args.out / "coba_cuba.png")

    cols = ["network", "engine", "mean_rate_hz", "exc_rate_hz", "inh_rate_hz", "rate_p5_hz", "rate_p50_hz",
            "rate_p95_hz", "frac_silent", "cv_isi_mean", "wall_s", "synops"]
    summary = table.groupby(["network", "engine"], sort=False)[cols[2:]].mean()
    print(f"\nMean over seeds {args.seeds} ({args.neurons} neurons, {args.steps * DT:.0f} ms; rates in Hz, "
          "percentiles of the per-neuron rates, wall seconds including the build):")
    print(summary.round(3).to_string())
    for kind in ("coba", "cuba"):
        columns = {label: data[1] for (k, label), data in figure_data.items() if k == kind}
        print(f"\n{kind.upper()}, seed {args.seeds[0]}: number of neurons per firing-rate bin")
        print("\n".join(histogram_table(columns)))
    print("\nbrian2 vs torch, COBA mean rate (the network is chaotic: spike trains diverge once the two "
          "round differently, so rates are compared, not spikes):")
    for c in checks:
        print(f"  seed {c['seed']} {c['engine']}: brian2 {c['brian2_rate_hz']:.3f} Hz, "
              f"torch {c['torch_rate_hz']:.3f} Hz, "
              f"difference {100 * c['relative_difference']:.2f} % -> "
              f"{'within' if c['within_10_percent'] else 'OUTSIDE'} 10 %")
    ok = all(c["within_10_percent"] for c in checks)
    result = {"name": NAME, "quick": args.quick, "seeds": args.seeds, "neurons": args.neurons,
              "duration_ms": args.steps * DT, "dt_ms": DT, "codegen": args.codegen, "warmup_s": compile_s,
              "machine": _common.machine(), "brian2": brian2.__version__, "runs": rows, "rate_checks": checks,
              "rates_agree_within_10_percent": ok}
    (args.out / "results.json").write_text(json.dumps(result, indent=1))
    print(f"\nCOBA brian2 and torch mean rates agree within 10 %: {'yes' if ok else 'NO'}")
    print(f"wrote {args.out}/results.json, runs.csv, coba_cuba.png; total {total():.0f} s")
    if not ok and not args.quick:
        sys.exit(1)


if __name__ == "__main__":
    main()
