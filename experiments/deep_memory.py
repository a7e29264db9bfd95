"""Memory capacity per layer of a deep ESN (issue 16), against the trend of Gallicchio et al.

C. Gallicchio, A. Micheli & L. Pedrelli, "Deep reservoir computing: a critical experimental
analysis", Neurocomputing 268 (2017) 87-99, report that in a stack of reservoirs the higher
layers remember further into the past: the memory of each layer's states shifts toward longer
delays with depth, and a readout on all layers' states has more memory than one reservoir of the
same total size.

Protocol (Jaeger's memory-capacity task): an i.i.d. input u(t) uniform in [-0.8, 0.8], 6,000
steps; the first 200 warm the states up, the next 4,000 train and the last 1,800 test. For every
delay k = 1..K (K = 200) a ridge readout (1e-8, intercept) reconstructs u(t-k) from the states
of one layer (per layer), of all layers together, or of a shallow ESN with the same total number
of units and the same settings; MC_k is the squared correlation on the test steps
(``neurorec.metrics.memory_capacity``). Printed per readout: MC = sum_k MC_k, the delay by which
half of that memory is reached, and the memory's centre of mass sum_k k MC_k / MC.

    python experiments/deep_memory.py [--layers 5] [--units 50] [--leak 0.5] [--seeds 0 1 2]
"""

from __future__ import annotations

import time

from _common import machine, parse_args, setup


def _extra(p):
    p.add_argument("--layers", type=int, default=5, help="layers of the deep ESN (default 5)")
    p.add_argument("--units", type=int, default=50, help="units per layer (default 50)")
    p.add_argument("--leak", type=float, default=0.5, help="leak rate of every layer (default 0.5)")
    p.add_argument("--spectral-radius", type=float, default=0.9, help="of every layer (default 0.9)")
    p.add_argument("--input-scaling", type=float, default=0.1, help="input and inter-layer scaling (default 0.1)")
    p.add_argument("--delays", type=int, default=200, help="largest delay K (default 200)")


def _profile(S_train, S_test, Y_train, Y_test):
    """MC, half-memory delay and centre of mass of one set of states."""
    import numpy as np

    from neurorec.backends import get_ops
    from neurorec.metrics import memory_capacity
    from neurorec.models.readout import RidgeAccumulator

    acc = RidgeAccumulator(get_ops("numpy", "cpu", "float64"), S_train.shape[1], Y_train.shape[1])
    acc.add(S_train, Y_train)
    W, b = acc.solve(1e-4)
    P = S_test @ W + b
    mck = np.array([memory_capacity(Y_test[:, k], P[:, k]) for k in range(Y_test.shape[1])])
    k = np.arange(1, len(mck) + 1)
    total = float(mck.sum())
    half = int(k[np.searchsorted(np.cumsum(mck), total / 2)])
    return total, half, float((k * mck).sum() / total)


def main() -> None:
    args = parse_args("deep_memory", "Memory capacity per layer of a deep ESN.", extra=_extra)
    setup(args.threads)
    import numpy as np
    import pandas as pd

    from neurorec.models import ESN, DeepESN

    T, warm, n_train, K = 6000, 200, 4000, args.delays
    if args.quick:
        T, n_train, K = 1500, 1000, 30
    t0 = time.perf_counter()
    rows = []
    for seed in args.seeds:
        u = np.random.default_rng(seed).uniform(-0.8, 0.8, (T, 1))
        Y = np.stack([np.concatenate([np.zeros(k), u[:-k, 0]]) for k in range(1, K + 1)], axis=1)
        common = {"spectral_radius": args.spectral_radius, "leak_rate": args.leak, "input_scaling": args.input_scaling,
                  "seed": seed, "dtype": "float64"}
        deep = DeepESN(units=[args.units] * args.layers, **common).fit(u, Y)
        layers = deep.layer_states(u)
        shallow = ESN(units=args.units * args.layers, **common).fit(u, Y).transform(u)
        sets = {f"layer {i + 1}": s for i, s in enumerate(layers)}
        sets["all layers"] = np.concatenate(layers, axis=1)
        sets[f"shallow ESN ({args.units * args.layers})"] = shallow
        tr, te = slice(warm, warm + n_train), slice(warm + n_train, T)
        for name, S in sets.items():
            mc, half, centre = _profile(S[tr], S[te], Y[tr], Y[te])
            rows.append({"readout": name, "seed": seed, "MC": mc, "half-memory delay": half, "centre": centre})
    df = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "deep_memory.csv", index=False)
    table = df.groupby("readout", sort=False)[["MC", "half-memory delay", "centre"]].agg(["mean", "std"])
    print(f"deep ESN of {args.layers} x {args.units} units (leak {args.leak}, spectral radius "
          f"{args.spectral_radius}), delays 1..{K}, seeds {args.seeds}; {machine()}; "
          f"{time.perf_counter() - t0:.0f} s")
    print("| readout | MC | half-memory delay | centre of mass |")
    print("|---|---:|---:|---:|")
    for name, r in table.iterrows():
        print(f"| {name} | {r[('MC', 'mean')]:.1f} ± {r[('MC', 'std')]:.1f} | "
              f"{r[('half-memory delay', 'mean')]:.1f} ± {r[('half-memory delay', 'std')]:.1f} | "
              f"{r[('centre', 'mean')]:.1f} ± {r[('centre', 'std')]:.1f} |")


if __name__ == "__main__":
    main()
