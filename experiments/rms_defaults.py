"""How ``ReservoirModelSpace``'s defaults were chosen (issue 15): a grid on validation splits only.

Each configuration is fitted on the ``train`` split of ``ucr:<Name>`` (80 % of the official
training set, stratified, fixed per seed) and scored on its ``val`` split (the other 20 %, 7-54
series; never the test set), reservoir seed = split seed, for GunPoint, ItalyPowerDemand,
ArrowHead, BasicMotions and JapaneseVowels. A configuration's score is the mean over the five
data sets of the validation accuracy averaged over the seeds. Prints the best ``--top``
configurations and writes every row to ``grid.csv`` in ``--out``; finished configurations are kept
there, so a killed run started again goes on where it stopped.

    python experiments/rms_defaults.py --grid defaults             # the chosen defaults, seeds 0-4
    python experiments/rms_defaults.py --grid fine [--seeds 0 1 2 3 4]
    python experiments/rms_defaults.py --grid coarse              # the first, wide grid (long)

Grids (every combination; parameters not named keep the class defaults):

* ``defaults``: the defaults, and ``n_components`` 50 / 75 (the paper's) / 150 around them;
* ``fine``: 200 units; spectral radius 0.9-1.2, leak 0.1-0.3, input scaling 0.1-0.3,
  ``n_components`` 75-150, ``mts_ridge`` 1-100, ``ridge`` 10-1000 (1,296 configurations);
* ``coarse``: units 100/200/400, spectral radius 0.5/0.9/1.2, leak 0.1/0.3/1, input scaling
  0.1/0.3/1, the four representations, ``n_components`` 10/30/75, ``mts_ridge`` 0.1/1/10, ridge
  0.1/10/1000 (8,748 configurations; many hours on two cores).
"""

from __future__ import annotations

import itertools
import time

from _common import parse_args, setup

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")
GRIDS = {
    "defaults": {"n_components": [100, 50, 75, 150]},
    "fine": {"units": [200], "spectral_radius": [0.9, 1.0, 1.1, 1.2], "leak_rate": [0.1, 0.15, 0.2, 0.3],
             "input_scaling": [0.1, 0.2, 0.3], "n_components": [75, 100, 150], "mts_ridge": [1.0, 10.0, 100.0],
             "ridge": [10.0, 100.0, 1000.0]},
    "coarse": {"units": [100, 200, 400], "spectral_radius": [0.5, 0.9, 1.2], "leak_rate": [0.1, 0.3, 1.0],
               "input_scaling": [0.1, 0.3, 1.0], "representation": ["reservoir", "output", "last", "mean"],
               "n_components": [10, 30, 75], "mts_ridge": [0.1, 1.0, 10.0], "ridge": [0.1, 10.0, 1000.0]},
}


def _extra(p):
    p.add_argument("--grid", choices=list(GRIDS), default="defaults")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--top", type=int, default=10, help="configurations printed (default 10)")


def main() -> None:
    args = parse_args("rms_defaults", "Validation grid of ReservoirModelSpace's hyperparameters.",
                      default_seeds=(0, 1, 2, 3, 4), extra=_extra)
    setup(args.threads)
    import json
    import warnings

    import numpy as np
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models import ReservoirModelSpace

    warnings.filterwarnings("ignore")
    grid = GRIDS[args.grid]
    configs = [dict(zip(grid, v, strict=True)) for v in itertools.product(*grid.values())]
    if args.quick:
        configs = configs[:2]
    data = {(ds, s): get_task("ucr:" + ds).load(s) for ds in args.datasets for s in args.seeds}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"grid_{args.grid}.csv"
    done = pd.read_csv(path) if path.exists() else pd.DataFrame(columns=["config", *args.datasets, "mean"])
    seen = set(done["config"])
    t0 = time.perf_counter()
    print(f"{len(configs)} configurations ({len(seen & {json.dumps(c, sort_keys=True) for c in configs})} done "
          f"before); validation accuracy, mean over seeds {args.seeds}", flush=True)
    for i, cfg in enumerate(configs, 1):
        key = json.dumps(cfg, sort_keys=True)
        if key in seen:
            continue
        accs = []
        for ds in args.datasets:
            a = []
            for s in args.seeds:
                d = data[(ds, s)]
                m = ReservoirModelSpace(**cfg, seed=s).fit(d.train.X, d.train.y)
                a.append(float(np.mean(m.predict(d.val.X) == d.val.y)))
            accs.append(float(np.mean(a)))
        row = pd.DataFrame([{"config": key, **dict(zip(args.datasets, accs, strict=True)),
                             "mean": float(np.mean(accs))}])
        row.to_csv(path, mode="a", header=not path.exists(), index=False)
        if i % 50 == 0 or len(configs) <= 50:
            print(f"  [{i}/{len(configs)}] {key}: {np.mean(accs):.3f} ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    table = pd.read_csv(path)
    table = table[table["config"].isin({json.dumps(c, sort_keys=True) for c in configs})]
    table = table.sort_values("mean", ascending=False, kind="stable").head(args.top)
    print(f"\nbest {len(table)} of {len(configs)} ({args.grid} grid); columns: {' '.join(args.datasets)} mean")
    for _, r in table.iterrows():
        print(f"{r['config']:90s} " + " ".join(f"{r[ds]:.3f}" for ds in args.datasets) + f"  {r['mean']:.3f}")


if __name__ == "__main__":
    main()
