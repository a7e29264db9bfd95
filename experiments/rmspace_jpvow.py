"""The reservoir model space (Bianchi et al. 2021) on the Japanese vowels (the paper's "JpVow").

Fits ``ReservoirModelSpace`` on the official training split of UEA JapaneseVowels (270 series,
7-29 steps, 12 LPC cepstrum channels, 9 speakers; aeon's copy) and scores it once on the
official test split (370 series), for every representation (reservoir / output model space,
last / mean state) and readout (ridge, SVM, MLP), over ``--seeds`` (each seed draws the
reservoir and the MLP's initial weights):

* ``authors``: the hyperparameters of the authors' JpVow examples in
  github.com/FilippoMB/Time-series-classification-and-clustering-with-Reservoir-Computing
  (``code/example.py`` for the reservoir and the ridge readout, the ``advanced_classifiers``
  notebook for the SVM and MLP readouts): 450 units, spectral radius 0.59, leak 0.6, connectivity 0.25, input
  scaling 0.1, 5 washout steps, bidirectional, 75 components, embedding ridge 10, readout ridge 5
  on unstandardised representations, SVM gamma 5e-3 and C 10, MLP (64, 32) tanh, L2 1e-4, 2000
  epochs; on the raw features, as the authors feed them. PCA on each series' own length (the
  authors zero-pad every series to 29 steps and use tensor PCA: the ``authors-padded`` rows do
  that too, for the reservoir model space).
* ``defaults``: ``ReservoirModelSpace(seed=seed)`` with the readout (and representation) changed
  only, on features standardised per channel with training statistics. Its defaults were chosen
  on validation splits only (see the class docstring).

No hyperparameter is chosen on the test split. ``--validation`` also prints the default model's
validation accuracy on the ``val`` split of ``get_task("ucr:<Name>")`` (20 % of the official
training part) of GunPoint, ItalyPowerDemand, ArrowHead, BasicMotions and JapaneseVowels, for
every ``--seeds`` seed (never their test splits).

``--test-five`` fits the default model on the official training split of those five data sets
and scores it on their official test splits: a final check once the defaults were fixed, compared
with published 1NN-DTW and ROCKET accuracies in ``experiments/README.md``; nothing is chosen on it.

    python experiments/rmspace_jpvow.py [--seeds 0 1 2] [--validation] [--test-five] [--out DIR] [--quick]

Writes ``results.csv`` (one row per configuration, representation, readout and seed),
``summary.csv`` (mean and std over seeds), ``validation.csv`` (``--validation``),
``test_five.csv`` (``--test-five``) and ``rmspace_jpvow.png``.
"""

from __future__ import annotations

import warnings

from _common import Timer, machine, mean_std, parse_args, setup

AUTHORS = {"units": 450, "spectral_radius": 0.59, "leak_rate": 0.6, "connectivity": 0.25, "input_scaling": 0.1,
           "washout": 5, "bidirectional": True, "n_components": 75, "mts_ridge": 10.0, "ridge": 5.0,
           "standardize": False, "svm_gamma": 5e-3, "svm_C": 10.0, "mlp_hidden": (64, 32), "mlp_activation": "tanh",
           "mlp_alpha": 1e-4, "mlp_max_iter": 2000}
REPRESENTATIONS = ("reservoir", "output", "last", "mean")
READOUTS = ("ridge", "svm", "mlp")
VALIDATION_SETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")


def _extra(p):
    p.add_argument("--validation", action="store_true",
                   help="also score the default model on the validation splits of five UCR/UEA tasks")
    p.add_argument("--test-five", action="store_true",
                   help="also fit the default model on the official training split of the five data sets and "
                        "score it on their test splits (a final check; nothing is chosen on it)")


def _pad(X, T: int):
    import numpy as np

    out = np.zeros((len(X), T, X[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(X):
        out[i, : len(x)] = x
    return out


def main() -> None:
    args = parse_args("rmspace_jpvow", "The reservoir model space on the Japanese vowels.", extra=_extra)
    setup(args.threads)
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning

    from neurorec.data import SequenceScaler, get_task, load_ucr
    from neurorec.models import ReservoirModelSpace

    warnings.simplefilter("ignore", ConvergenceWarning)
    args.out.mkdir(parents=True, exist_ok=True)
    total = Timer()
    print(machine())
    Xtr, ytr = load_ucr("JapaneseVowels", "train")
    Xte, yte = load_ucr("JapaneseVowels", "test")
    scaler = SequenceScaler().fit(Xtr)
    Xtr_s, Xte_s = scaler.transform(Xtr), scaler.transform(Xte)
    T = max(len(x) for x in Xtr + Xte)
    print(f"JapaneseVowels: {len(Xtr)} training / {len(Xte)} test series, {min(len(x) for x in Xtr)}-{T} steps, "
          f"{Xtr[0].shape[1]} channels; seeds {args.seeds}")

    reps = ("reservoir",) if args.quick else REPRESENTATIONS
    readouts = ("ridge",) if args.quick else READOUTS
    quick = {"mlp_max_iter": 50} if args.quick else {}
    runs = []       # (config, representation, readout, params, train X, test X)
    for rep in reps:
        for ro in readouts:
            runs.append(("authors", rep, ro, {**AUTHORS, **quick, "representation": rep, "readout": ro}, Xtr, Xte))
    for ro in readouts:
        runs.append(("authors-padded", "reservoir", ro, {**AUTHORS, **quick, "readout": ro,
                                                         "dim_reduction": "tensor_pca"}, _pad(Xtr, T), _pad(Xte, T)))
    for rep in reps:
        for ro in readouts:
            runs.append(("defaults", rep, ro, {**quick, "representation": rep, "readout": ro}, Xtr_s, Xte_s))
    rows = []
    for seed in args.seeds:
        for config, rep, ro, params, A, B in runs:
            t = Timer()
            model = ReservoirModelSpace(**params, seed=seed).fit(A, ytr)
            fit_s = t()
            acc = model.score(B, yte)
            rows.append({"config": config, "representation": rep, "readout": ro, "seed": seed,
                         "test_accuracy": acc, "fit_s": round(fit_s, 2)})
            print(f"  seed {seed} {config:15s} {rep:9s} {ro:5s} test {acc:.4f}  fit {fit_s:5.1f} s", flush=True)
    res = pd.DataFrame(rows)
    res.to_csv(args.out / "results.csv", index=False)
    summary = (res.groupby(["config", "representation", "readout"], sort=False)["test_accuracy"]
               .agg(["mean", "std", "count"]).reset_index())
    summary.to_csv(args.out / "summary.csv", index=False)

    print(f"\nTest accuracy on JapaneseVowels, mean ± sample std over seeds {args.seeds}:")
    table = res.groupby(["config", "representation", "readout"], sort=False)["test_accuracy"].agg(mean_std)
    table = table.unstack("readout")[list(readouts)]
    print(table.to_string())

    # drawn by hand: no neurorec.plot function draws a bar chart of accuracies over configurations and readouts
    fig, ax = plt.subplots(figsize=(8, 3.5))
    labels = [f"{c}\n{r}" for c, r in table.index]
    width = 0.8 / len(readouts)
    for i, ro in enumerate(readouts):
        s = summary[summary["readout"] == ro].set_index(["config", "representation"]).reindex(table.index)
        ax.bar(np.arange(len(labels)) + i * width, s["mean"], width, yerr=s["std"].fillna(0), label=ro)
    ax.set_xticks(np.arange(len(labels)) + width * (len(readouts) - 1) / 2, labels, fontsize=7)
    ax.set_ylim(0.85, 1.0)
    ax.set_ylabel("test accuracy")
    ax.set_title("Reservoir model space on JapaneseVowels")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "rmspace_jpvow.png", dpi=120)

    if args.validation:
        vrows = []
        sets = VALIDATION_SETS[:2] if args.quick else VALIDATION_SETS
        for name in sets:
            task = get_task("ucr:" + name)
            for seed in args.seeds:
                d = task.load(seed)
                model = ReservoirModelSpace(seed=seed, **quick).fit(d.train.X, d.train.y)
                vrows.append({"dataset": name, "seed": seed, "n_val": len(d.val.y),
                              "val_accuracy": model.score(d.val.X, d.val.y)})
        val = pd.DataFrame(vrows)
        val.to_csv(args.out / "validation.csv", index=False)
        vt = val.groupby("dataset", sort=False).agg(n_val=("n_val", "first"), val_accuracy=("val_accuracy", mean_std))
        print(f"\nDefault ReservoirModelSpace, validation accuracy (val split of ucr:<Name>, seeds {args.seeds}):")
        print(vt.to_string())
        print(f"mean over data sets: {val.groupby('dataset')['val_accuracy'].mean().mean():.3f}")
    if args.test_five:
        trows = []
        sets = VALIDATION_SETS[:2] if args.quick else VALIDATION_SETS
        for name in sets:
            A, ya = load_ucr(name, "train")
            B, yb = load_ucr(name, "test")
            sc = SequenceScaler().fit(A)
            A, B = sc.transform(A), sc.transform(B)
            for seed in args.seeds:
                t = Timer()
                model = ReservoirModelSpace(seed=seed, **quick).fit(A, ya)
                trows.append({"dataset": name, "seed": seed, "n_train": len(ya), "n_test": len(yb),
                              "test_accuracy": model.score(B, yb), "fit_s": round(t(), 2)})
        tst = pd.DataFrame(trows)
        tst.to_csv(args.out / "test_five.csv", index=False)
        tt = tst.groupby("dataset", sort=False).agg(n_train=("n_train", "first"), n_test=("n_test", "first"),
                                                     test_accuracy=("test_accuracy", mean_std),
                                                     fit_s=("fit_s", "mean"))
        print(f"\nDefault ReservoirModelSpace, official train -> test split, seeds {args.seeds}:")
        print(tt.to_string())
    print(f"\ntotal {total():.0f} s; files in {args.out}")


if __name__ == "__main__":
    main()
