"""Capacity of Hopfield associative memories: recall quality against the load alpha = P / N.

For each learning rule of the classical binary network (``neurorec.models.Hopfield``: Hebbian,
Storkey, pseudo-inverse) and for the dense associative memory (cubic interaction), P random
+-1 patterns are stored in N units and every pattern is cued with 10 % of its bits flipped; the
network settles asynchronously. Reported per load: the mean overlap m = s . xi / N of the
recalled state with its pattern, and the fraction of patterns recalled exactly. Theoretical
marks (drawn on the plot):

* Hebbian: the retrieval phase ends at alpha_c = 0.138 (Amit, Gutfreund & Sompolinsky 1985);
* Storkey: capacity N / sqrt(2 ln N) patterns (Storkey 1997), alpha = 1 / sqrt(2 ln N);
* pseudo-inverse: every set of linearly independent patterns (P <= N) is stored as fixed points
  (Personnaz, Guyon & Dreyfus 1985), with basins of attraction that shrink as P -> N;
* dense associative memory of degree n: capacity ~ N^(n-1) (Krotov & Hopfield 2016).

A second table: the modern continuous Hopfield network (``ModernHopfield``, Ramsauer et al. 2020)
storing up to 4,000 random +-1 patterns in 64 dimensions, one update at beta = 1.

Run::

    python experiments/hopfield_capacity.py [--seeds 0 1 2] [--units 200] [--out DIR] [--quick]

Writes ``capacity.csv``, ``modern.csv`` and ``hopfield_capacity.png`` into ``--out``.
"""

from __future__ import annotations

import math

import _common
import numpy as np
import pandas as pd

from neurorec.models import DenseAssociativeMemory, Hopfield, ModernHopfield

ALPHAS = (0.02, 0.05, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)


def _cue(X, frac, rng):
    flip = np.zeros(X.shape, bool)
    k = int(round(frac * X.shape[1]))
    for row in flip:
        row[rng.choice(X.shape[1], k, replace=False)] = True
    return np.where(flip, -X, X)


def capacity(N: int, alphas, seeds) -> pd.DataFrame:
    rows = []
    models = {"hebbian": lambda s: Hopfield(rule="hebbian", seed=s),
              "storkey": lambda s: Hopfield(rule="storkey", seed=s),
              "pseudoinverse": lambda s: Hopfield(rule="pseudoinverse", seed=s),
              "dense (n=3)": lambda s: DenseAssociativeMemory(degree=3, seed=s)}
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for alpha in alphas:
            P = max(1, int(round(alpha * N)))
            X = np.where(rng.random((P, N)) < 0.5, -1.0, 1.0)
            cues = _cue(X, 0.1, rng)
            for name, make in models.items():
                if name == "dense (n=3)" and P > N:
                    continue
                states, steps = make(seed).fit(X).recall(cues)
                overlap = (states * X).mean(1)
                rows.append({"rule": name, "alpha": alpha, "P": P, "N": N, "seed": seed,
                             "overlap": overlap.mean(), "exact": float(np.mean(overlap == 1.0)),
                             "sweeps": float(steps.mean())})
    return pd.DataFrame(rows)


def modern(seeds, sizes=(100, 1000, 4000), dim=64) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for P in sizes:
            X = np.where(rng.random((P, dim)) < 0.5, -1.0, 1.0)
            idx = rng.choice(P, min(P, 200), replace=False)
            cues = _cue(X[idx], 0.1, rng)
            states, _ = ModernHopfield(beta=1.0).fit(X).recall(cues)
            rows.append({"P": P, "N": dim, "seed": seed,
                         "exact_sign": float(np.mean(np.all(np.sign(states) == X[idx], axis=1))),
                         "max_error": float(np.abs(states - X[idx]).max())})
    return pd.DataFrame(rows)


def plot(cap: pd.DataFrame, N: int, path) -> None:
    import matplotlib.pyplot as plt

    # drawn by hand: no neurorec.plot function draws recall quality against the load with the theoretical marks
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, g in cap.groupby("rule", sort=False):
        m = g.groupby("alpha")[["overlap", "exact"]].mean()
        ax[0].plot(m.index, m["overlap"], "o-", label=name)
        ax[1].plot(m.index, m["exact"], "o-", label=name)
    marks = {"0.138 (Hebbian)": 0.138, "1/sqrt(2 ln N) (Storkey)": 1 / math.sqrt(2 * math.log(N))}
    for a in ax:
        for label, x in marks.items():
            a.axvline(x, ls="--", lw=0.8, color="grey")
            a.text(x, 0.02, label, rotation=90, fontsize=7, va="bottom", ha="right")
        a.set_xlabel("load alpha = P / N")
        a.legend(fontsize=8)
    ax[0].set_ylabel("mean overlap with the stored pattern")
    ax[1].set_ylabel("fraction recalled exactly")
    fig.suptitle(f"Hopfield capacity, N = {N}, cues with 10 % of the bits flipped")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    args = _common.parse_args("hopfield_capacity", __doc__.splitlines()[0],
                              extra=lambda p: p.add_argument("--units", type=int, default=200))
    _common.setup(args.threads)
    N = 64 if args.quick else args.units
    alphas = (0.05, 0.25) if args.quick else ALPHAS
    cap = capacity(N, alphas, args.seeds)
    mod = modern(args.seeds, sizes=(100,) if args.quick else (100, 1000, 4000))
    args.out.mkdir(parents=True, exist_ok=True)
    cap.to_csv(args.out / "capacity.csv", index=False)
    mod.to_csv(args.out / "modern.csv", index=False)
    plot(cap, N, args.out / "hopfield_capacity.png")
    table = cap.pivot_table(index="alpha", columns="rule", values="overlap", sort=False)
    exact = cap.pivot_table(index="alpha", columns="rule", values="exact", sort=False)
    print(f"mean overlap after recall (N = {N}, seeds {args.seeds})\n{table.round(3).to_string()}\n")
    print(f"fraction of patterns recalled exactly\n{exact.round(3).to_string()}\n")
    print("modern Hopfield, 64 dimensions, one update at beta = 1\n"
          f"{mod.groupby('P')[['exact_sign', 'max_error']].mean().to_string()}")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
