"""Spike-timing-dependent plasticity: the STDP window and Song, Miller & Abbott's (2000) result.

Three parts, all on the network description of ``neurorec.models.spiking`` (a ``SpikeSource``
population of Poisson inputs, a plastic ``Connection`` with ``STDP``), so the same network runs
on brian2 and on neurorec's torch step engine:

1. **The window.** One presynaptic and one postsynaptic spike, ``dt_pair = t_post - t_pre`` from
   -50 to +50 ms, one batch copy per interval: the weight change against the exponential
   ``A_pre exp(-dt/tau_pre)`` / ``A_post exp(dt/tau_post)``, on brian2 and torch (float64).
2. **Competition and bimodal weights.** 1,000 excitatory Poisson inputs at 15 Hz onto one
   conductance-based integrate-and-fire neuron, weights uniform in [0, g_max] at the start.
   STDP with depression slightly stronger than potentiation (A_post = -1.05 A_pre) makes the
   synapses compete: the weights are pushed to the two bounds (a bimodal distribution) and the
   output rate falls and becomes independent of how strong the inputs started (Song et al. 2000,
   their figures 2-3).
3. **A correlated group wins.** The same, with the first 100 inputs correlated (single
   interaction process, pairwise correlation c = 0.2, Kuhn, Aertsen & Rotter 2003) and the other
   900 independent, all at 15 Hz: the correlated synapses go to g_max and the others are
   depressed (Song et al. 2000, figure 5).

A fourth check runs the first ``--check-seconds`` of part 2 on brian2 and on the torch engine in
float64 and reports the largest weight difference and the output spikes that differ.

Parameters (the network of brian2's STDP example, itself adapted from Song et al. 2000):
tau_m = 10 ms, E_L = -74 mV, threshold -54 mV, reset -60 mV, no refractory period, excitatory
reversal 0 mV, tau_e = 5 ms (conductances in units of the leak conductance), g_max = 0.01,
tau_pre = tau_post = 20 ms, A_pre = 0.01 g_max, A_post = -1.05 A_pre, dt = 0.1 ms. Song et al.
used tau_m = 20 ms and 200 inhibitory inputs as well; the competition does not depend on them.

Run::

    python experiments/stdp.py [--seeds 0 1 2] [--seconds 200] [--check-seconds 5] [--quick]
                               [--codegen-target cython|numpy]

Writes ``window.csv``, ``song.csv``, ``song_weights.csv``, ``engine_check.csv``,
``stdp_window.png`` and ``stdp_song.png`` into ``--out`` (default ``experiments/results/stdp``).
"""

from __future__ import annotations

import _common
import numpy as np
import pandas as pd

from neurorec.models.spiking import STDP, CobaLIF, Connection, Network, Population
from neurorec.models.spiking.neurons import LIF
from neurorec.models.spiking.sources import SpikeSource, SpikeTrains

DT = 0.1
G_MAX = 0.01
RATE = 15.0
N_INPUTS = 1000
N_CORRELATED = 100
CORRELATION = 0.2
NEURON = CobaLIF(tau_mem=10.0, tau_exc=5.0, E_L=-74.0, v_th=-54.0, v_reset=-60.0, refractory=0.0)
RULE = STDP(tau_pre=20.0, tau_post=20.0, a_pre=0.01 * G_MAX, a_post=-1.05 * 0.01 * G_MAX, w_min=0.0, w_max=G_MAX)
# the window is shown with Song et al.'s amplitudes in units of g_max (A_pre = 0.005, ratio 1.05)
RULE_WINDOW = STDP(tau_pre=20.0, tau_post=20.0, a_pre=0.005, a_post=-0.00525, w_min=0.0, w_max=1.0)


# ---------------------------------------------------------------------------------------------
# 1. the window
# ---------------------------------------------------------------------------------------------
def window(engines=("brian2", "torch"), codegen_target: str = "cython") -> pd.DataFrame:
    """Weight change of one pre/post pair per batch copy, against t_post - t_pre."""
    delays = np.arange(-50.0, 50.0 + 1e-9, 2.0)
    B, T, t_pre = delays.size, 1500, 600           # steps of dt = 0.1 ms
    w0 = 0.5
    net = Network([Population("pre", 1, SpikeSource()), Population("post", 1, LIF(tau_mem=1.0, reset="zero"))],
                  [Connection("input", "post", np.ones((1, 1)), "current"),
                   Connection("pre", "post", np.full((1, 1), w0), "v", plasticity=RULE_WINDOW)],
                  n_inputs=1, dt=DT)
    pre = np.zeros((B, T, 1))
    pre[:, t_pre] = 1.0
    x = np.zeros((B, T, 1))
    post_steps = t_pre + np.rint(delays / DT).astype(int)
    x[np.arange(B), post_steps, 0] = 25.0           # forces one post spike at that step
    rows = []
    for engine in engines:
        kw = {"dtype": "float64"} if engine == "torch" else {"codegen_target": codegen_target}
        run = net.run(x, engine=engine, sources={"pre": pre}, **kw)
        post = np.asarray(run.spikes["post"])[:, :, 0]
        if not (post.sum(1) == 1).all() or not (post.argmax(1) == post_steps).all():
            raise RuntimeError(f"{engine}: the post spikes are not where they were forced")
        dw = np.asarray(run.weights[1])[:, 0, 0] - w0
        rows += [{"engine": engine, "delta_t_ms": d, "dw": w, "theory": t}
                 for d, w, t in zip(delays, dw, RULE_WINDOW.window(delays), strict=True)]
    return pd.DataFrame(rows)



# ---------------------------------------------------------------------------------------------
# 2-3. Song, Miller & Abbott
# ---------------------------------------------------------------------------------------------
def song_network(seed: int) -> tuple[Network, np.ndarray]:
    w0 = np.random.default_rng(seed).random((N_INPUTS, 1)) * G_MAX
    net = Network([Population("inputs", N_INPUTS, SpikeSource()), Population("neuron", 1, NEURON)],
                  [Connection("inputs", "neuron", w0, "g_exc", plasticity=RULE)], dt=DT)
    return net, w0[:, 0]


def song_inputs(seed: int, seconds: float, correlated: bool) -> SpikeTrains:
    T = int(round(seconds * 1000 / DT))
    if not correlated:
        return SpikeTrains.poisson(RATE, T, DT, n=N_INPUTS, seed=[seed, 1])
    group = SpikeTrains.poisson(RATE, T, DT, n=N_CORRELATED, correlation=CORRELATION, seed=[seed, 2])
    rest = SpikeTrains.poisson(RATE, T, DT, n=N_INPUTS - N_CORRELATED, seed=[seed, 3])
    return SpikeTrains.concatenate([group, rest])


def song(seeds, seconds: float, codegen_target: str = "cython") -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, weights = [], []
    for seed in seeds:
        for correlated in (False, True):
            net, w0 = song_network(seed)
            inputs = song_inputs(seed, seconds, correlated)
            timer = _common.Timer()
            run = net.run(engine="brian2", sources={"inputs": inputs}, codegen_target=codegen_target)
            took = timer()
            w = run.weights[0][0, :, 0] / G_MAX
            out = run.spikes["neuron"][0, :, 0]
            w10 = min(out.size, int(round(10_000 / DT)))      # the first and last 10 s (all of a shorter run)
            first, last = out[:w10].sum() / (w10 * DT / 1000), out[-w10:].sum() / (w10 * DT / 1000)
            group = np.arange(N_INPUTS) < (N_CORRELATED if correlated else 0)
            row = {"seed": seed, "inputs": "100 correlated + 900 independent" if correlated else "1000 independent",
                   "seconds": seconds, "rate_first_10s_hz": float(first), "rate_last_10s_hz": float(last),
                   "frac_below_0.1": float(np.mean(w < 0.1)), "frac_above_0.9": float(np.mean(w > 0.9)),
                   "bimodality": float(np.mean((w < 0.1) | (w > 0.9))), "run_seconds": took}
            if correlated:
                row["correlated_mean_w"] = float(w[group].mean())
                row["independent_mean_w"] = float(w[~group].mean())
                row["correlated_above_0.9"] = float(np.mean(w[group] > 0.9))
                row["independent_above_0.9"] = float(np.mean(w[~group] > 0.9))
            rows.append(row)
            weights += [{"seed": seed, "correlated_run": correlated, "synapse": i, "correlated_input": bool(g),
                         "w0": a / G_MAX, "w": b} for i, (g, a, b) in enumerate(zip(group, w0, w, strict=True))]
    return pd.DataFrame(rows), pd.DataFrame(weights)


def engine_check(seed: int, seconds: float, codegen_target: str = "cython") -> dict:
    """The first ``seconds`` of part 2 on brian2 and on the torch engine (float64)."""
    net, _ = song_network(seed)
    inputs = song_inputs(seed, seconds, correlated=False)
    ref = net.run(engine="brian2", sources={"inputs": inputs}, codegen_target=codegen_target)
    timer = _common.Timer()
    tor = net.run(engine="torch", sources={"inputs": inputs}, dtype="float64")
    took = timer()
    return {"seconds": seconds, "output_spikes_brian2": int(ref.spikes["neuron"].sum()),
            "output_spikes_differing": int((tor.spikes["neuron"].numpy() != ref.spikes["neuron"]).sum()),
            "max_weight_difference_over_gmax": float(np.abs(tor.weights[0].numpy() - ref.weights[0]).max() / G_MAX),
            "torch_run_seconds": took}


def plot(win: pd.DataFrame, weights: pd.DataFrame, path_window, path_song) -> None:
    import matplotlib.pyplot as plt

    from neurorec import plot as nrplot

    # the window (measured points of each engine against the exponential): drawn by hand, no neurorec.plot
    # function draws an STDP window
    fig, ax = plt.subplots(figsize=(5, 3.5))
    fine = np.linspace(-50, 50, 401)
    ax.plot(fine, RULE_WINDOW.window(fine), "k-", lw=1, label="A exp(-|dt|/tau)")
    for engine, marker in zip(win.engine.unique(), ("o", "x"), strict=False):
        part = win[win.engine == engine]
        ax.plot(part.delta_t_ms, part.dw, marker, ms=4, mfc="none", label=f"measured ({engine})")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel("t_post - t_pre (ms)")
    ax.set_ylabel("weight change (units of g_max)")
    ax.set_title("STDP window (Song, Miller & Abbott 2000)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path_window, dpi=120)
    plt.close(fig)

    seed = weights.seed.min()
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    ind = weights[(weights.seed == seed) & ~weights.correlated_run]
    nrplot.weight_histogram(ind.w, initial=ind.w0, bins=20, w_max=1.0, ax=axes[0], title="1000 independent inputs")
    axes[0].set_xlabel("w / g_max")
    # the correlated run split by input group (stacked histogram) and per synapse: drawn by hand, no
    # neurorec.plot function separates two groups of synapses
    cor = weights[(weights.seed == seed) & weights.correlated_run]
    axes[1].hist([cor.w[~cor.correlated_input], cor.w[cor.correlated_input]], bins=20, range=(0, 1),
                 stacked=True, label=["independent", "correlated group"])
    axes[1].set_title("100 correlated (c = 0.2) + 900 independent")
    axes[1].set_xlabel("w / g_max")
    axes[1].legend(fontsize=8)
    axes[2].plot(cor.synapse, cor.w, ".", ms=2)
    axes[2].set_xlabel("synapse (0-99: correlated group)")
    axes[2].set_ylabel("w / g_max")
    axes[2].set_title(f"final weights, seed {seed}")
    fig.tight_layout()
    fig.savefig(path_song, dpi=120)
    plt.close(fig)


def main() -> None:
    def extra(p):
        p.add_argument("--seconds", type=float, default=200.0, help="simulated seconds of learning (default 200)")
        p.add_argument("--check-seconds", type=float, default=5.0,
                       help="seconds run on both brian2 and torch to compare them (default 5)")
        p.add_argument("--codegen-target", choices=("cython", "numpy"), default="cython",
                       help="brian2 code generation (default cython; numpy avoids compiling, for smoke runs)")

    args = _common.parse_args("stdp", __doc__.splitlines()[0], extra=extra)
    _common.setup(args.threads)
    seconds = 2.0 if args.quick else args.seconds
    check = 0.2 if args.quick else args.check_seconds
    cg = args.codegen_target
    args.out.mkdir(parents=True, exist_ok=True)
    win = window(codegen_target=cg)
    win.to_csv(args.out / "window.csv", index=False)
    err = (win.dw - win.theory).abs().max()
    print(f"STDP window, {win.delta_t_ms.nunique()} intervals on {', '.join(win.engine.unique())}: "
          f"largest |measured - A exp(-|dt|/tau)| = {err:.2e}")
    table, weights = song(args.seeds, seconds, cg)
    table.to_csv(args.out / "song.csv", index=False)
    weights.to_csv(args.out / "song_weights.csv", index=False)
    plot(win, weights, args.out / "stdp_window.png", args.out / "stdp_song.png")
    cols = ["seed", "inputs", "rate_first_10s_hz", "rate_last_10s_hz", "frac_below_0.1", "frac_above_0.9",
            "bimodality", "run_seconds"]
    print(f"\nSong et al.: {seconds:g} s of learning, brian2 (weights in units of g_max; a uniform start has "
          "bimodality 0.2)")
    print(table[cols].round(3).to_string(index=False))
    cor = table[table.inputs != "1000 independent"]
    print("\ncorrelated group vs independent inputs (mean final weight / fraction above 0.9 g_max)")
    print(cor[["seed", "correlated_mean_w", "independent_mean_w", "correlated_above_0.9",
               "independent_above_0.9"]].round(3).to_string(index=False))
    chk = engine_check(args.seeds[0], check, cg)
    pd.DataFrame([chk]).to_csv(args.out / "engine_check.csv", index=False)
    print(f"\nbrian2 vs torch float64, first {check:g} s of seed {args.seeds[0]}: {chk['output_spikes_brian2']} output "
          f"spikes, {chk['output_spikes_differing']} differ; largest weight difference "
          f"{chk['max_weight_difference_over_gmax']:.1e} g_max (torch took {chk['torch_run_seconds']:.0f} s)")
    print(f"\n{_common.machine()}\nwrote {args.out}")


if __name__ == "__main__":
    main()
