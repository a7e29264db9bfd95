"""Regenerate every figure of the README and the documentation site (docs/img/*.png).

    python scripts/figures.py [--out docs/img]

Each figure is drawn by :mod:`neurorec.plot` or :mod:`neurorec.experiment` from a small run made
here (fixed seeds; about 5 minutes on 2 cores):

- ``raster.png``, ``traces.png``: a liquid state machine's spikes and membranes on a sine input
  (``LSM.record``), and a trained spiking classifier's hidden layers on digits
  (``SpikingClassifier.record``);
- ``states.png``: an ESN's states on Mackey-Glass (a few units, and their PCA);
- ``forecast.png``: the ESN's one-step forecast, then a free run;
- ``hopfield.png``: a classical Hopfield network recalling a corrupted digit, its energy per sweep;
- ``oja.png``: Oja's and Sanger's rules converging to the principal eigenvectors;
- ``confusion.png``: the spiking classifier's confusion matrix on digits;
- ``summary.png``, ``cost.png``: ``compare`` of six of the default experiment's models (its settings)
  on Mackey-Glass and digits, 3 seeds.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import numpy as np
    from matplotlib.figure import Figure

    from neurorec import plot
    from neurorec.data import get_task, mackey_glass
    from neurorec.models import ESN, LSM, Hopfield, Oja, Sanger, SpikingClassifier

    t0 = time.perf_counter()

    def save(fig, name):
        fig.savefig(args.out / name, dpi=100)
        print(f"{args.out / name} ({time.perf_counter() - t0:.0f} s)", flush=True)

    # a liquid state machine on a sine: its raster and membranes
    t = np.arange(300)
    u = np.stack([np.sin(2 * np.pi * t / 60), np.cos(2 * np.pi * t / 45)], axis=1)[None]
    lsm = LSM(units=150, backend="torch", seed=0).fit(u[:, :-1], u[:, 1:, :1])
    run = lsm.record(u[:, :150], variables=("v", "i_syn"))
    fig = Figure(figsize=(9, 5), layout="constrained")
    a, b = fig.subplots(2, 1, height_ratios=[2, 1.2])
    plot.raster(run, "liquid", ax=a)
    plot.traces(run, "liquid", "v", neurons=3, ax=b)
    save(fig, "raster.png")

    # a spiking classifier on digits: hidden spikes and its confusion matrix
    d = get_task("digits").load(0)
    snn = SpikingClassifier(hidden=(64,), epochs=15, seed=0).fit(d.train.X, d.train.y)
    srun = snn.record(d.test.X[:1])
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    a, b = fig.subplots(2, 1)
    plot.raster(srun, "hidden0", ax=a)
    plot.traces(srun, "hidden0", "v", neurons=3, threshold=snn.threshold, ax=b)
    save(fig, "traces.png")
    save(plot.confusion(d.test.y, snn.predict(d.test.X), title=None), "confusion.png")

    # an ESN on Mackey-Glass: states, their PCA, a forecast with a free run
    series = mackey_glass(3000, seed=0).reshape(-1, 1)
    series = (series - series.mean()) / series.std()
    X, Y = series[None, :-1], series[None, 1:]
    # settings of experiments/ngrc.py's grid whose closed loop is stable here (ridge 1e-8 and input
    # scaling 1, the one-step optimum, make a free run diverge within 30 steps)
    esn = ESN(units=300, spectral_radius=0.9, leak_rate=0.3, input_scaling=0.1, ridge=1e-6, washout=100, seed=0,
              dtype="float64").fit(X[:, :2000], Y[:, :2000])
    x = esn.transform(X[:, :600])[0]
    fig = Figure(figsize=(10, 3.4), layout="constrained")
    a, b = fig.subplots(1, 2, width_ratios=[2, 1])
    plot.states(x[100:], units=5, ax=a)
    plot.state_pca(x[100:], ax=b)
    save(fig, "states.png")
    one = esn.predict(X[:, 1900:2299])[0][100:]                     # forecasts of 2001..2299, after a warm-up
    free = esn.generate(200, warmup=X[:, 1900:2300])[0]              # forecasts of 2300..2499, closed loop
    save(plot.forecast(series[2001:2500], np.concatenate([one, free]), start=2001, free_run=2300,
                       title="ESN on Mackey-Glass: one-step forecast, then a free run"), "forecast.png")

    # a Hopfield network recalling a digit
    rng = np.random.default_rng(0)
    from sklearn.datasets import load_digits

    imgs = np.where(load_digits().images[:4].reshape(4, 64) > 6, 1.0, -1.0)      # digits 0-3 as +-1 pixels
    net = Hopfield(rule="storkey", update="sync").fit(imgs)
    cue = imgs[2].copy()
    cue[rng.choice(64, 10, replace=False)] *= -1
    save(plot.hopfield_recall(net, cue, sweeps=5, stored=imgs, shape=(8, 8)), "hopfield.png")

    # Oja and Sanger on correlated Gaussian data
    C = np.array([[3.0, 1.0, 0.5], [1.0, 2.0, 0.3], [0.5, 0.3, 1.0]])
    Xh = rng.multivariate_normal(np.zeros(3), C, size=6000)
    fig = Figure(figsize=(10, 5.6), layout="constrained")
    axes = fig.subplots(2, 2)
    plot.hebbian_weights(Oja(n_components=1, lr=0.005, seed=0), Xh, ax=axes[0])
    plot.hebbian_weights(Sanger(n_components=2, lr=0.005, seed=0), Xh, ax=axes[1])
    save(fig, "oja.png")

    # compare: six of the default experiment's models (its settings), two of its tasks, three seeds
    from neurorec.experiment import compare, default_config_path, load_config, plot_cost, plot_summary

    cfg = load_config(default_config_path())
    keep = ("ESN-500", "NVAR", "LinearAR", "GRU-64", "LSM-200", "SNN-128")
    tasks = ["mackey_glass", "digits"]
    models = {}
    for m in cfg["models"]:
        if m["name"] in keep:
            spec = {k: v for k, v in m.items() if k != "name"}
            if "tasks" in spec:
                spec["tasks"] = [t for t in spec["tasks"] if t in tasks]
            models[m["name"]] = spec
    df = compare(models, tasks, [0, 1, 2], progress=False, threads=1)
    plot_summary(df, args.out / "summary.png")
    plot_cost(df, args.out / "cost.png")
    print(f"{args.out / 'summary.png'}, {args.out / 'cost.png'} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
