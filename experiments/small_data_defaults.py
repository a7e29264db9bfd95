"""How neurorec's classifier defaults were chosen for small data (issue 15): validation splits only.

For each model and each candidate setting, fit on the train split of ``ucr:<Name>`` (29-216
series: 80 % of the official training set) for the five data sets below and score the
validation split (the other 20 %, stratified; never the test set), for each seed. Prints one
line per setting: the validation accuracy per data set (mean over the seeds) and their mean.
The settings are the defaults before issue 15 (``before``), the mechanisms added one at a time,
and the alternatives that were tried and not taken.

    python experiments/small_data_defaults.py [--models ESN SNN GRU LSTM] [--seeds 0 1]
    python experiments/small_data_defaults.py --cv 4 --seeds 0 --models GRU LSTM Elman SpikingClassifier

With ``--cv K`` each candidate is scored by stratified K-fold cross-validation of the whole
official training set instead (7-54 validation series are few; K folds use every training
series once for scoring); the test sets are still not touched.
"""

from __future__ import annotations

import time

from _common import parse_args, setup

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")
CANDIDATES = {
    "ESN": {
        "before (classify=last)": {"classify": "last"},
        "classify=mean (default)": {},
        "classify=mean, ridge=1e-2": {"ridge": 1e-2},
        "classify=mean, ridge=1": {"ridge": 1.0},
        "classify=last, ridge=1": {"classify": "last", "ridge": 1.0},
        "classify=vote, ridge=1": {"classify": "vote", "ridge": 1.0},
    },
    "SpikingClassifier": {
        "before (30 epochs, minmax)": {"epochs": 30, "normalize": "minmax", "min_holdout": 0},
        "min_steps=500, minmax": {"min_steps": 500, "normalize": "minmax", "min_holdout": 0},
        "min_steps=500, standard": {"min_steps": 500, "min_holdout": 0},
        "min_steps=1000, standard, min_holdout=0": {"min_holdout": 0},
        "min_steps=1000, standard, min_holdout=20 (default)": {},
        "min_steps=500, standard, batch 16": {"min_steps": 500, "batch_size": 16, "min_holdout": 0},
        "min_steps=500, standard, lr 5e-3": {"min_steps": 500, "lr": 5e-3, "min_holdout": 0},
        "min_steps=500, standard, membrane_max": {"min_steps": 500, "readout": "membrane_max", "min_holdout": 0},
    },
    "GRU": {
        "before (100 epochs)": {"epochs": 100, "min_holdout": 0},
        "min_steps=500": {"min_steps": 500, "min_holdout": 0},
        "min_steps=1000, min_holdout=0": {"min_holdout": 0},
        "min_steps=1000, min_holdout=20 (default)": {},
        "min_steps=500, pooling=mean": {"min_steps": 500, "pooling": "mean", "min_holdout": 0},
    },
    "LSTM": {
        "before (100 epochs)": {"epochs": 100, "min_holdout": 0},
        "min_steps=500": {"min_steps": 500, "min_holdout": 0},
        "min_steps=1000, min_holdout=0": {"min_holdout": 0},
        "min_steps=1000, min_holdout=20 (default)": {},
    },
    "Elman": {"before (100 epochs)": {"epochs": 100, "min_holdout": 0},
              "min_steps=1000, min_holdout=0": {"min_holdout": 0},
              "min_steps=1000, min_holdout=20 (default)": {}},
    "LSM": {"default (unchanged)": {}},
    "ReservoirModelSpace": {
        "defaults": {},
        "n_components=75 (the paper's)": {"n_components": 75},
        "representation=output": {"representation": "output"},
        "representation=last": {"representation": "last"},
        "representation=mean": {"representation": "mean"},
    },
}


def _extra(p):
    p.add_argument("--models", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    p.add_argument("--datasets", nargs="+", default=list(DATASETS))
    p.add_argument("--cv", type=int, default=0, metavar="K",
                   help="score each candidate by stratified K-fold cross-validation of the whole official "
                        "training set (train + validation splits; fold k fitted with seed k) instead of the "
                        "validation split; the test set is still not used")
    p.add_argument("--candidates", nargs="+", default=None, metavar="LABEL",
                   help="only the candidates whose label starts with one of these")


def _cv_accuracy(cls, params: dict, d, k: int) -> float:
    """Mean accuracy of stratified k-fold cross-validation on the official training set."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    tr, va = d.train, d.val
    ragged = isinstance(tr.X, list)
    X = list(tr.X) + list(va.X) if ragged else np.concatenate([tr.X, va.X])
    y = np.concatenate([tr.y, va.y])
    accs = []
    for fold, (a, b) in enumerate(StratifiedKFold(k, shuffle=True, random_state=0).split(np.zeros(len(y)), y)):
        def pick(idx):
            return [X[i] for i in idx] if ragged else X[idx]
        m = cls(**params, seed=fold).fit(pick(a), y[a])
        accs.append(float(np.mean(m.predict(pick(b)) == y[b])))
    return float(np.mean(accs))


def main() -> None:
    args = parse_args("small_data_defaults", "Validation accuracy of default candidates on small UCR/UEA sets.",
                      default_seeds=(0, 1), extra=_extra)
    setup(args.threads)
    import warnings

    import numpy as np

    import neurorec.models as M
    from neurorec.data import get_task

    warnings.filterwarnings("ignore")
    data = {(ds, s): get_task("ucr:" + ds).load(s) for ds in args.datasets for s in args.seeds}
    what = f"{args.cv}-fold cross-validation accuracy on the official training set" if args.cv else \
        f"validation accuracy, mean over seeds {args.seeds}"
    print(f"{what}; columns: {' '.join(args.datasets)} mean")
    for model in args.models:
        for label, params in CANDIDATES[model].items():
            if args.quick:
                params = {**params, "epochs": 2} if model not in ("ESN", "LSM") else params
            if args.candidates and not any(label.startswith(c) for c in args.candidates):
                continue
            t0, accs = time.perf_counter(), []
            for ds in args.datasets:
                a = []
                for s in args.seeds:
                    d = data[(ds, s)]
                    if args.cv:
                        a.append(_cv_accuracy(getattr(M, model), params, d, args.cv))
                        continue
                    m = getattr(M, model)(**params, seed=s).fit(d.train.X, d.train.y)
                    a.append(float(np.mean(m.predict(d.val.X) == d.val.y)))
                accs.append(np.mean(a))
            print(f"{model:18s} {label:40s} " + " ".join(f"{v:.3f}" for v in accs)
                  + f"  {np.mean(accs):.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
