"""Schmidhuber's history compressor on his long-time-lag task, against truncated and full BPTT.

J. Schmidhuber, "Learning complex, extended sequences using the principle of history
compression", Neural Computation 4(2):234-242, 1992. The task (``neurorec.data.history``):
22 symbols, a block is one of two markers followed by a fixed chain of 20 symbols, and the
class is the marker, 20 steps before the end of the block. A sample is ``--blocks`` blocks of
the stream (default: 1, and 3 where the earlier markers are distractors); 256 training, 64
validation and 128 test samples per seed; the seed draws the chain, the samples and every
network's initial weights and batch order.

Models (32 units each; Adam lr 5e-3, at most 40 epochs, early stopping on the task's validation
split, patience 10):

* ``compressor``: ``HistoryCompressor`` with Elman predictors, truncation window 5: level 0
  learns to predict the next symbol, only its surprises (with time stamps) reach level 1, which
  classifies. No error signal anywhere travels more than 5 steps back.
* ``automatizer+chunker``: the two-network form: the automatizer is refitted once with the
  chunker's hidden state as extra targets ("collapsing"), then the chunker on its surprises.
* ``Elman, window 5``: a plain Elman network trained exactly like the compressor's classifying
  level (one-hot class target at every step, windows of 5 steps) but on the raw sequence:
  ``HistoryCompressor(levels=1)``. The same truncation, no compression.
* ``Elman, window 100``: the same with windows longer than the sequences: full BPTT.
* ``Elman classifier`` / ``LSTM classifier``: neurorec's ordinary classifiers (cross-entropy on
  the last state, full BPTT through the sequence), references.

Reported per seed: test accuracy, the chunker's input rate (the fraction of the steps that
reach level 1; 1/21 = 0.048 when level 0 predicts every chain symbol and none of the markers),
fit seconds, the longest back-propagation path in steps, and for the two-network form how much
of the chunker's state the automatizer learned to predict (R^2 on the training steps).

Run::

    python experiments/history_compression.py [--seeds 0 1 2 3 4] [--blocks 1 3] [--window 5] [--out DIR] [--quick]

Writes ``results.csv`` (one row per blocks x model x seed), ``summary.csv`` and
``history_compression.png`` into ``--out``.
"""

from __future__ import annotations

import _common
import numpy as np
import pandas as pd

from neurorec.data.history import long_lag_task
from neurorec.models import LSTM, Elman, HistoryCompressor

NAME = "history_compression"
LAG = 20
COMMON = dict(units=32, lr=5e-3, epochs=40, patience=10)


def _models(window: int, epochs: int):
    pp = dict(COMMON, window=window, epochs=epochs)
    return {
        "compressor": lambda s: HistoryCompressor("Elman", pp, seed=s),
        "automatizer+chunker": lambda s: HistoryCompressor("Elman", pp, form="chunker", seed=s),
        f"Elman, window {window}": lambda s: HistoryCompressor("Elman", pp, levels=1, seed=s),
        "Elman, window 100": lambda s: HistoryCompressor("Elman", dict(pp, window=100), levels=1, seed=s),
        "Elman classifier": lambda s: Elman(**dict(COMMON, epochs=epochs), seed=s),
        "LSTM classifier": lambda s: LSTM(**dict(COMMON, epochs=epochs), seed=s),
    }


def run(seeds, blocks_list, window: int, epochs: int, sizes: dict) -> tuple[pd.DataFrame, dict]:
    rows, examples = [], {}
    for blocks in blocks_list:
        task = long_lag_task(lag=LAG, blocks=blocks, **sizes)
        T = blocks * (LAG + 1)
        for seed in seeds:
            d = task.load(seed)
            for name, make in _models(window, epochs).items():
                model = make(seed)
                timer = _common.Timer()
                model.fit(d.train.X, d.train.y, X_val=d.val.X, y_val=d.val.y)
                fit_s = timer()
                acc = float(np.mean(model.predict(d.test.X) == d.test.y))
                compressing = isinstance(model, HistoryCompressor) and model.levels > 1
                if isinstance(model, HistoryCompressor):
                    w = model.levels_[0].window
                    bptt = min(w, T)
                else:
                    bptt = T
                rows.append({
                    "blocks": blocks, "model": name, "seed": seed, "test_accuracy": acc,
                    "chunker_input_rate": model.input_rates_[1] if compressing else np.nan,
                    "collapse_r2": model.collapse_r2_[-1] if getattr(model, "form", "") == "chunker" else np.nan,
                    "bptt_steps": bptt, "fit_s": fit_s, "trained_params": model.n_parameters_["trained"],
                })
                print(f"blocks {blocks}  seed {seed}  {name:22s} accuracy {acc:.3f}"
                      + (f"  input rate {model.input_rates_[1]:.4f}" if compressing else "")
                      + f"  {fit_s:.1f} s", flush=True)
                if name == "compressor" and seed == seeds[0]:
                    examples[blocks] = (model, d.test.X[:2])
    return pd.DataFrame(rows), examples


def plot(res: pd.DataFrame, examples: dict, threshold: float, path) -> None:
    import matplotlib.pyplot as plt

    # drawn by hand: no neurorec.plot function draws a bar chart of accuracies over models, or a
    # predictor's error with the surprises that reach the next level
    blocks_list = sorted(res["blocks"].unique())
    fig, ax = plt.subplots(1, 2, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1.1, 1]})
    models = list(dict.fromkeys(res["model"]))
    width = 0.8 / len(blocks_list)
    for k, blocks in enumerate(blocks_list):
        g = res[res["blocks"] == blocks].groupby("model", sort=False)["test_accuracy"]
        m, s = g.mean().reindex(models), g.std(ddof=1).reindex(models).fillna(0)
        ax[0].bar(np.arange(len(models)) + k * width, m, width, yerr=s, capsize=3, label=f"{blocks} block(s)")
    ax[0].axhline(0.5, ls="--", lw=0.8, color="grey")
    ax[0].set_xticks(np.arange(len(models)) + width * (len(blocks_list) - 1) / 2)
    ax[0].set_xticklabels(models, rotation=25, ha="right", fontsize=8)
    ax[0].set_ylabel("test accuracy (mean ± std over seeds)")
    ax[0].set_ylim(0, 1.05)
    ax[0].legend(fontsize=8)
    blocks = max(examples)
    model, X = examples[blocks]
    level0 = model.levels_[0]
    pred = np.asarray(level0.predict(X))
    err = np.abs(pred[:, :-1, :X.shape[2]] - X[:, 1:]).max(-1)
    steps = np.arange(1, X.shape[1])
    stream = model.compress(X)[1]
    for i in range(len(X)):
        line, = ax[1].plot(steps, err[i], "-", lw=1, label=f"test sequence {i}")
        s = stream.steps[i]
        ax[1].plot(s, np.r_[1.0, err[i][s[1:] - 1]] if len(s) else s, "o", color=line.get_color(), ms=5)
    ax[1].axhline(threshold, ls="--", lw=0.8, color="grey", label=f"surprise threshold {threshold}")
    ax[1].set_xlabel("step")
    ax[1].set_ylabel("level-0 prediction error max_k |x̂ - x|")
    ax[1].set_title(f"compressor, {blocks} block(s): dots = inputs passed to level 1 (step 0 always)", fontsize=9)
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    def extra(p):
        p.add_argument("--blocks", type=int, nargs="+", default=[1, 3], help="blocks per sample (default: 1 3)")
        p.add_argument("--window", type=int, default=5, help="truncation window of the truncated models")

    args = _common.parse_args(NAME, __doc__.splitlines()[0], default_seeds=(0, 1, 2, 3, 4), extra=extra)
    _common.setup(args.threads)
    if args.quick:
        blocks_list, epochs, sizes = [1], 3, dict(n_train=64, n_val=16, n_test=32)
    else:
        blocks_list, epochs, sizes = args.blocks, COMMON["epochs"], dict(n_train=256, n_val=64, n_test=128)
    timer = _common.Timer()
    res, examples = run(args.seeds, blocks_list, args.window, epochs, sizes)
    args.out.mkdir(parents=True, exist_ok=True)
    res.to_csv(args.out / "results.csv", index=False)
    summary = res.groupby(["blocks", "model"], sort=False).agg(
        test_accuracy=("test_accuracy", _common.mean_std), chunker_input_rate=("chunker_input_rate", "mean"),
        collapse_r2=("collapse_r2", "mean"), bptt_steps=("bptt_steps", "max"), fit_s=("fit_s", "mean"),
        trained_params=("trained_params", "max")).reset_index()
    summary.to_csv(args.out / "summary.csv", index=False)
    plot(res, examples, HistoryCompressor().surprise, args.out / f"{NAME}.png")
    print(f"\n{_common.machine()}; {timer():.0f} s in all\n")
    print("Test accuracy per seed")
    print(res.pivot_table(index=["blocks", "model"], columns="seed", values="test_accuracy", sort=False)
          .round(3).to_string())
    print(f"\nMean over seeds {args.seeds} (chance 0.5; input rate 1/{LAG + 1} = {1 / (LAG + 1):.4f} when level 0 "
          f"passes up only the markers)")
    with pd.option_context("display.width", 200):
        print(summary.round({"chunker_input_rate": 4, "collapse_r2": 3, "fit_s": 1}).to_string(index=False))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
