"""MNIST-1D with a GRU (Greydanus 2020), and Elman/LSTM/GRU on scikit-learn digits.

Part 1 -- MNIST-1D. S. Greydanus, "Scaling down deep learning" (arXiv:2011.14439, 2020; with
D. Kobak, ICML 2024) reports a GRU baseline of 91 % test accuracy on MNIST-1D (README table of
github.com/greydanus/mnist1d: logistic regression 32 %, MLP 68 %, CNN 94 %, GRU 91 %). That GRU
(``GRUBase`` in the repository's ``notebooks/models.py``) is a bidirectional GRU with 6 units
per direction whose 40 x 12 per-step outputs are flattened into one linear layer (5,134
parameters), trained with Adam (lr 1e-2, batch 100, 8,000 steps) on all 4,000 training
sequences. neurorec's classifier reads out the last state or the mean of the outputs (no
flattening head), so the architecture here is chosen on the validation split instead: the
``mnist1d`` task's stratified 800-sequence validation split of the official 4,000 training
sequences (training uses the other 3,200); the official 1,000 test sequences are scored only
at the end. Target: within 3 points of 91 % (>= 88 % test accuracy).

``--tune`` runs that validation search (a grid over units, direction and pooling, then the
learning rate and batch size of the winner) and prints the table; the constants in ``TUNED``
below are its winner. The default run trains ``TUNED`` once per seed (the seed draws the
validation split, the initial weights and the batch order) and reports test accuracy, and does
the same for ``SMALL``, the best configuration of the search with fewer parameters (3,690) than
the paper's GRU (5,134), to show what a GRU of that size reaches.

Part 2 -- scikit-learn digits (the ``digits`` task: 1,797 8 x 8 images as 8 steps of 8 pixels,
stratified 60/20/20 split drawn by the seed): Elman, LSTM and GRU with neurorec's default
training settings (64 units, Adam lr 2e-3, plateau schedule, clipping at 1, early stopping on
the validation loss with patience 10, at most 100 epochs); nothing tuned.

Run::

    python experiments/mnist1d_gru.py [--seeds 0 1 2] [--out DIR] [--quick] [--tune]

Writes ``mnist1d.csv``, ``digits.csv``, ``history.csv`` and ``mnist1d_gru.png`` (``tune.csv``
with ``--tune``) into ``--out``.
"""

from __future__ import annotations

import itertools

import _common

NAME = "mnist1d_gru"
PAPER_GRU_ACCURACY = 0.91
TARGET = PAPER_GRU_ACCURACY - 0.03

# Chosen on the VALIDATION split of seed 0 with `--tune` (validation accuracy 0.9875; the table is in
# experiments/README.md); the test split played no part in the choice.
TUNED = dict(units=128, bidirectional=True, pooling="mean", optimizer="adam", lr=1e-2, batch_size=64,
             epochs=80, early_stopping=True, patience=10, lr_schedule="plateau", clip_norm=1.0)
# The best row of the same search with fewer parameters than the paper's GRU (3,690 vs 5,134;
# validation accuracy 0.9375, also chosen on validation only).
SMALL = dict(units=32, bidirectional=False, pooling="last", optimizer="adam", lr=3e-3, batch_size=128,
             epochs=80, early_stopping=True, patience=10, lr_schedule="plateau", clip_norm=1.0)
MNIST1D_MODELS = {"GRU tuned": TUNED, "GRU small": SMALL}

# The search `--tune` runs: stage 1 over the architecture (lr 3e-3, batch 128), stage 2 over the
# learning rate and batch size of the stage-1 winner. Every run: Adam, plateau schedule,
# clipping at 1, up to 80 epochs, early stopping on the validation loss (patience 10).
TUNE_FIXED = dict(optimizer="adam", epochs=80, early_stopping=True, patience=10, lr_schedule="plateau", clip_norm=1.0)
TUNE_STAGE1 = dict(units=[32, 64, 128], bidirectional=[False, True], pooling=["last", "mean"], lr=[3e-3],
                   batch_size=[128])
TUNE_STAGE2 = dict(lr=[1e-3, 3e-3, 1e-2], batch_size=[64, 128])

DIGITS = dict(units=64)   # neurorec's defaults otherwise


def _grid(space: dict) -> list[dict]:
    keys = list(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*space.values())]


def _fit(cls, params, data, seed):
    model = cls(seed=seed, **params)
    timer = _common.Timer()
    model.fit(data.train.X, data.train.y, X_val=data.val.X, y_val=data.val.y)
    return model, timer()


def tune(args):
    """Validation search on the first seed's split; returns the table, best first."""
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models.recurrent import GRU

    seed = args.seeds[0]
    data = get_task("mnist1d").load(seed)
    rows = []

    def run(cfg):
        params = {**TUNE_FIXED, **cfg}
        if args.quick:
            params["epochs"] = 2
        model, secs = _fit(GRU, params, data, seed)
        h = model.history
        row = {**cfg, "val_accuracy": model.score(data.val.X, data.val.y),
               "val_loss": h[model.best_epoch_ - 1]["val_loss"], "best_epoch": model.best_epoch_,
               "epochs_run": len(h), "parameters": model.n_parameters_["trained"], "fit_seconds": round(secs, 1)}
        rows.append(row)
        print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        return row

    stage1 = [run(cfg) for cfg in _grid(TUNE_STAGE1)]
    best = max(stage1, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    arch = {k: best[k] for k in ("units", "bidirectional", "pooling")}
    done = {(best["lr"], best["batch_size"])}
    for cfg in _grid(TUNE_STAGE2):
        if (cfg["lr"], cfg["batch_size"]) not in done:
            run({**arch, **cfg})
    table = pd.DataFrame(rows).sort_values(["val_accuracy", "val_loss"], ascending=[False, True])
    return table.reset_index(drop=True)


def run_mnist1d(args):
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models.recurrent import GRU

    task = get_task("mnist1d")
    rows, hists = [], []
    for seed, (label, params) in itertools.product(args.seeds, MNIST1D_MODELS.items()):
        data = task.load(seed)
        if args.quick:
            params = dict(params, epochs=3)
        model, secs = _fit(GRU, params, data, seed)
        rows.append({"model": label, "units": params["units"], "bidirectional": params["bidirectional"],
                     "pooling": params["pooling"], "seed": seed, "test_accuracy": model.score(data.test.X, data.test.y),
                     "val_accuracy": model.score(data.val.X, data.val.y), "best_epoch": model.best_epoch_,
                     "epochs_run": len(model.history), "parameters": model.n_parameters_["trained"],
                     "fit_seconds": round(secs, 1)})
        frame = model.history.to_frame()
        frame.insert(0, "seed", seed)
        frame.insert(0, "model", label)
        hists.append(frame)
        r = rows[-1]
        print(f"  mnist1d seed {seed}: {label:9s} test acc {r['test_accuracy']:.3f} (val {r['val_accuracy']:.3f}, "
              f"best epoch {r['best_epoch']}/{r['epochs_run']}, {secs:.0f} s)", flush=True)
    return pd.DataFrame(rows), pd.concat(hists, ignore_index=True)


def run_digits(args):
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models.recurrent import GRU, LSTM, Elman

    task = get_task("digits")
    rows = []
    for seed in args.seeds:
        data = task.load(seed)
        for label, cls in {"Elman": Elman, "LSTM": LSTM, "GRU": GRU}.items():
            params = dict(DIGITS, epochs=3) if args.quick else DIGITS
            model, secs = _fit(cls, params, data, seed)
            rows.append({"model": label, "seed": seed, "test_accuracy": model.score(data.test.X, data.test.y),
                         "val_accuracy": model.score(data.val.X, data.val.y), "best_epoch": model.best_epoch_,
                         "epochs_run": len(model.history), "parameters": model.n_parameters_["trained"],
                         "fit_seconds": round(secs, 1)})
            print(f"  digits seed {seed}: {label:5s} test acc {rows[-1]['test_accuracy']:.3f} ({secs:.0f} s)",
                  flush=True)
    return pd.DataFrame(rows)


def plot(history, mnist1d, digits, path) -> None:
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    from neurorec import plot as nrplot

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colors = dict(zip(MNIST1D_MODELS, ["tab:green", "tab:olive"], strict=True))
    for (model, seed), g in history.groupby(["model", "seed"], sort=False):
        g = g.sort_values("epoch")
        hide = "" if seed == history["seed"].min() else "_"     # a leading "_" keeps a label out of the legend
        curves = pd.DataFrame({f"{hide}{model}: train loss": g["train_loss"].to_numpy(),
                               f"{hide}{model}: validation loss": g["val_loss"].to_numpy(),
                               f"{hide}{model}": g["val_accuracy"].to_numpy()})
        for ax in axes[:2]:     # one colour per model; training loss solid, validation loss dashed
            ax.set_prop_cycle(color=[colors[model]] * 2, linestyle=["-", "--"])
        nrplot.learning_curves(curves, ax=axes[:2])
    axes[0].set(title="MNIST-1D: cross-entropy (one line per seed)", xlabel="epoch", yscale="log")
    # the paper's accuracy and the target, and the bar chart of test accuracies: drawn by hand (no
    # neurorec.plot function draws reference lines or compares models)
    axes[1].axhline(PAPER_GRU_ACCURACY, color="k", linestyle=":", label="paper GRU (test) 0.91")
    axes[1].axhline(TARGET, color="tab:red", linestyle=":", label="target 0.88")
    axes[1].set(title="MNIST-1D: validation accuracy (one line per seed)", xlabel="epoch", ylabel="accuracy")
    for ax in axes[:2]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    names = [f"MNIST-1D\n{m}" for m in MNIST1D_MODELS] + [f"digits\n{m}" for m in dict.fromkeys(digits["model"])]
    groups = ([mnist1d.loc[mnist1d["model"] == m, "test_accuracy"] for m in MNIST1D_MODELS]
              + [digits.loc[digits["model"] == m, "test_accuracy"] for m in dict.fromkeys(digits["model"])])
    axes[2].bar(range(len(names)), [g.mean() for g in groups], yerr=[g.std(ddof=1) if len(g) > 1 else 0
                                                                      for g in groups], capsize=4,
                color=["tab:green", "tab:olive", "tab:blue", "tab:orange", "tab:green"])
    for i, g in enumerate(groups):
        axes[2].scatter([i] * len(g), g, color="k", s=10, zorder=3)
    axes[2].axhline(PAPER_GRU_ACCURACY, color="k", linestyle=":", linewidth=1)
    axes[2].set_xticks(range(len(names)), names, fontsize=8)
    low = min(float(g.min()) for g in groups)
    axes[2].set(title="test accuracy (mean ± std, dots: seeds)", ylim=(min(0.5, low - 0.05), 1.0))
    axes[2].grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    def extra(p):
        p.add_argument("--tune", action="store_true",
                       help="run the validation search that chose TUNED (on the first seed's split) instead")

    args = _common.parse_args(NAME, "GRU on MNIST-1D (Greydanus 2020) and Elman/LSTM/GRU on sklearn digits.",
                              extra=extra)
    _common.setup(args.threads)
    import pandas as pd

    pd.set_option("display.width", 200)
    args.out.mkdir(parents=True, exist_ok=True)
    total = _common.Timer()
    print(f"{NAME}: seeds {args.seeds}{' (quick)' if args.quick else ''}{' (tune)' if args.tune else ''}; "
          f"{_common.machine()}", flush=True)
    if args.tune:
        table = tune(args)
        table.to_csv(args.out / "tune.csv", index=False)
        print(f"\nMNIST-1D GRU validation search (seed {args.seeds[0]}'s validation split), best first:")
        print(table.to_string(index=False))
        print(f"\nwrote {args.out}/tune.csv; total {total():.0f} s")
        return

    mnist1d, history = run_mnist1d(args)
    digits = run_digits(args)
    mnist1d.to_csv(args.out / "mnist1d.csv", index=False)
    history.to_csv(args.out / "history.csv", index=False)
    digits.to_csv(args.out / "digits.csv", index=False)
    plot(history, mnist1d, digits, args.out / "mnist1d_gru.png")

    print("\nMNIST-1D (official test set), GRU configurations chosen on validation:")
    print(mnist1d.to_string(index=False))
    for label in MNIST1D_MODELS:
        acc = mnist1d.loc[mnist1d["model"] == label, "test_accuracy"]
        verdict = "meets" if acc.mean() >= TARGET else "MISSES"
        print(f"{label}: test accuracy {_common.mean_std(acc)}; paper GRU {PAPER_GRU_ACCURACY:.2f}; {verdict} "
              f"the >= {TARGET:.2f} target")

    print("\nscikit-learn digits (8 steps x 8 pixels), test accuracy per seed:")
    print(digits.pivot_table(index="model", columns="seed", values="test_accuracy", sort=False).round(3).to_string())
    summary = digits.groupby("model", sort=False).agg(
        test_accuracy=("test_accuracy", _common.mean_std), val_accuracy=("val_accuracy", _common.mean_std),
        epochs_run=("epochs_run", "mean"), parameters=("parameters", "first"),
        fit_seconds=("fit_seconds", "mean")).round(1)
    print(summary.to_string())
    print(f"\nwrote {args.out}/mnist1d.csv, digits.csv, history.csv, mnist1d_gru.png; total {total():.0f} s")


if __name__ == "__main__":
    main()
