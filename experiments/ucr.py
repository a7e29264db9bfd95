"""Time-series classification on UCR/UEA data sets from aeon's wheel: neurorec vs 1NN-DTW and ROCKET.

For each data set (default: GunPoint, ItalyPowerDemand, ArrowHead, BasicMotions,
JapaneseVowels; any name of ``neurorec.data.ucr_names()``) and seed, on the official
train/test split:

* aeon's 1-nearest-neighbour DTW (``KNeighborsTimeSeriesClassifier(distance="dtw")``, full
  window) and ROCKET (``RocketClassifier``, 10,000 kernels, seeded), fitted on the official
  training set as given in the files;
* neurorec's ESN, ReservoirModelSpace (``RMS``), LSM, SpikingClassifier (``SNN``), GRU and LSTM
  with their default hyperparameters, fitted on the official training set (the task
  ``ucr:<Name>``'s train and validation splits together, standardised per channel with
  statistics of its train split);
* with ``--tune``: each neurorec model again with hyperparameters chosen by Optuna's TPE
  sampler on the validation split of seed 0 (``--trials`` candidates: the defaults, then
  TPE's draws from the model's declared search space; each fitted on the train split and
  scored on the validation split, never on test; the defaults are kept unless a draw is
  strictly better on validation), then refitted with those parameters on the whole
  official training set of every seed and scored once on the test set.

It prints one table (test accuracy, mean over the seeds, and a mean rank row: per data set
the columns are ranked, 1 = best, ties share the mean rank; a column that cannot run on a
data set, such as ROCKET on unequal lengths, is left out of that data set's ranking) and writes
``ucr.csv`` (one row per data set, column and seed) to ``--out``. Finished runs are kept in
``runs.jsonl`` there: a killed run started again skips them.

    python experiments/ucr.py [--datasets GunPoint ArrowHead] [--models ESN RMS] [--seeds 0 1 2]
                              [--tune] [--trials 12] [--jobs 2] [--out DIR] [--quick]
"""

from __future__ import annotations

import json
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from _common import machine, parse_args, setup

DATASETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")
MODELS = ("ESN", "RMS", "LSM", "SNN", "GRU", "LSTM")
BASELINES = ("1NN-DTW", "ROCKET")
_CLASSES = {"ESN": "ESN", "RMS": "ReservoirModelSpace", "LSM": "LSM", "SNN": "SpikingClassifier",
            "GRU": "GRU", "LSTM": "LSTM"}


def _model(name: str, params: dict, seed: int):
    import neurorec.models as M

    return getattr(M, _CLASSES[name])(**{**params, "seed": seed})


def _full_train(d):
    import numpy as np

    tr, va = d.train, d.val
    X = list(tr.X) + list(va.X) if isinstance(tr.X, list) else np.concatenate([tr.X, va.X])
    return X, np.concatenate([tr.y, va.y])


def _accuracy(model, X, y) -> float:
    import numpy as np

    return float(np.mean(np.asarray(model.predict(X)) == np.asarray(y)))


def _quiet():
    import warnings

    warnings.filterwarnings("ignore")
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def run_baseline(name: str, dataset: str, seed: int) -> dict:
    """1NN-DTW or ROCKET on the official split (raw values, aeon's layout)."""
    _quiet()
    from neurorec.data import load_ucr, to_aeon

    (Xtr, ytr), (Xte, yte) = load_ucr(dataset, "train"), load_ucr(dataset, "test")
    Xtr, Xte = to_aeon(Xtr), to_aeon(Xte)
    if name == "1NN-DTW":
        from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

        clf = KNeighborsTimeSeriesClassifier(distance="dtw", n_neighbors=1)
    else:
        from aeon.classification.convolution_based import RocketClassifier

        clf = RocketClassifier(n_kernels=10_000, random_state=seed, n_jobs=1)
    t = time.perf_counter()
    clf.fit(Xtr, ytr)
    return {"accuracy": _accuracy(clf, Xte, yte), "seconds": time.perf_counter() - t}


def tune_model(name: str, dataset: str, trials: int, seed: int = 0) -> dict:
    """Best parameters of ``name`` on the validation split of ``ucr:<dataset>`` (seed ``seed``)."""
    _quiet()
    import optuna

    from neurorec.data import get_task
    from neurorec.experiment.spaces import resolve_space, suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = get_task("ucr:" + dataset).load(seed)
    base = _model(name, {}, seed)
    space = resolve_space(type(base), base.get_params())

    def val_accuracy(params):
        model = _model(name, params, seed).fit(d.train.X, d.train.y)
        return _accuracy(model, d.val.X, d.val.y)

    t = time.perf_counter()
    default = val_accuracy({})                   # the defaults are the first candidate
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(lambda trial: val_accuracy(suggest(trial, space)), n_trials=max(0, trials - 1),
                   catch=(Exception,))
    done = [tr for tr in study.trials if tr.value is not None]
    best = max(done, key=lambda tr: (tr.value, -tr.number), default=None)   # ties: the earliest
    # the tuned model replaces the defaults only when it is strictly better on validation
    params = best.params if best is not None and best.value > default else {}
    return {"params": params, "val_accuracy": max(default, best.value if best else default),
            "default_val_accuracy": default, "failed_trials": len(study.trials) - len(done),
            "seconds": time.perf_counter() - t}


def run_model(name: str, dataset: str, seed: int, params: dict) -> dict:
    """Fit on the whole official training set, score the official test set."""
    _quiet()
    from neurorec.data import get_task

    d = get_task("ucr:" + dataset).load(seed)
    X, y = _full_train(d)
    t = time.perf_counter()
    model = _model(name, params, seed).fit(X, y)
    return {"accuracy": _accuracy(model, d.test.X, d.test.y), "seconds": time.perf_counter() - t}


def _call(kind: str, *args) -> dict:
    try:
        fn = {"baseline": run_baseline, "tune": tune_model, "model": run_model}[kind]
        return {"ok": True, **fn(*args)}
    except Exception as exc:          # recorded, the grid goes on
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


class Runs:
    """``runs.jsonl``: one JSON line per finished job, read back on a restart."""

    def __init__(self, path: Path):
        self.path = path
        self.done: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:    # a line cut by a kill
                    continue
                self.done[rec["key"]] = rec

    def add(self, key: str, rec: dict) -> None:
        rec = {"key": key, **rec}
        self.done[key] = rec
        with self.path.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")


def _run_all(jobs: dict, runs: Runs, n_jobs: int, label: str) -> None:
    todo = {k: v for k, v in jobs.items() if k not in runs.done}
    if not todo:
        return
    print(f"{label}: {len(todo)} to run ({len(jobs) - len(todo)} done before)", flush=True)
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp.get_context("spawn")) as pool:
        futs = {pool.submit(_call, *v): k for k, v in todo.items()}
        for i, fut in enumerate(as_completed(futs), 1):
            key = futs[fut]
            rec = fut.result()
            runs.add(key, rec)
            what = f"{rec['accuracy']:.3f}" if "accuracy" in rec else \
                f"val {rec['val_accuracy']:.3f}" if "val_accuracy" in rec else rec.get("error", "")
            print(f"  [{i}/{len(todo)}] {key}: {what} ({rec.get('seconds', 0):.1f} s)", flush=True)


def _extra(p):
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help="data sets (ucr_names())")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, help="neurorec models")
    p.add_argument("--tune", action="store_true", help="also tune each model on the validation split")
    p.add_argument("--trials", type=int, default=12, help="tuning trials per model and data set (default 12)")
    p.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")


def main() -> None:
    args = parse_args("ucr", "UCR/UEA classification: neurorec vs 1NN-DTW and ROCKET.", extra=_extra)
    setup(args.threads)
    import numpy as np
    import pandas as pd
    from scipy.stats import rankdata

    from neurorec.data import ucr_names

    unknown = sorted(set(args.datasets) - set(ucr_names()))
    if unknown:
        raise SystemExit(f"unknown data set(s) {unknown}; aeon's wheel ships {ucr_names()}")
    if args.quick:
        args.trials = min(args.trials, 3)
    args.out.mkdir(parents=True, exist_ok=True)
    runs = Runs(args.out / "runs.jsonl")
    t0 = time.perf_counter()

    tuned: dict[tuple[str, str], dict] = {}
    if args.tune:
        jobs = {f"tune|{m}|{ds}|{args.trials}": ("tune", m, ds, args.trials)
                for ds in args.datasets for m in args.models}
        _run_all(jobs, runs, args.jobs, "tuning on the validation split of seed 0")
        for key, (_, m, ds, _) in jobs.items():
            rec = runs.done[key]
            if rec["ok"]:
                tuned[(m, ds)] = rec["params"]

    jobs = {}
    for ds in args.datasets:
        for seed in args.seeds:
            for b in BASELINES:
                jobs[f"{b}|{ds}|{seed}"] = ("baseline", b, ds, seed)
            for m in args.models:
                jobs[f"{m}|{ds}|{seed}"] = ("model", m, ds, seed, {})
                if (m, ds) in tuned:
                    tag = json.dumps(tuned[(m, ds)], sort_keys=True)
                    jobs[f"{m}-tuned|{ds}|{seed}|{tag}"] = ("model", m, ds, seed, tuned[(m, ds)])
    _run_all({k: v for k, v in jobs.items() if not k.endswith("|{}")}, runs, args.jobs, "test runs")

    rows = []
    for key in jobs:
        col, ds, seed = key.split("|")[:3]
        # tuning that kept the defaults ({}): the tuned column is the default run itself
        rec = runs.done[key if not key.endswith("|{}") else f"{col[:-len('-tuned')]}|{ds}|{seed}"]
        rows.append({"dataset": ds, "column": col, "seed": int(seed),
                     "accuracy": rec.get("accuracy", np.nan), "seconds": rec.get("seconds", np.nan),
                     "error": rec.get("error", "")})
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "ucr.csv", index=False)
    cols = list(BASELINES) + [c for m in args.models for c in (m, f"{m}-tuned") if c in set(df.column)]
    table = df.groupby(["dataset", "column"])["accuracy"].mean().unstack("column").reindex(
        index=args.datasets, columns=cols)
    ranks = pd.DataFrame(np.nan, index=table.index, columns=cols)
    for ds in table.index:
        row = table.loc[ds]
        ok = row.notna()
        ranks.loc[ds, ok] = rankdata(-row[ok].to_numpy())
    chance = {}
    from neurorec.data import get_task

    for ds in args.datasets:
        y = get_task("ucr:" + ds).load(args.seeds[0]).test.y
        chance[ds] = float(np.bincount(y).max() / len(y))

    def fmt(v):
        return "n/a" if v != v else f"{v:.3f}"

    lines = ["| data set | majority class | " + " | ".join(cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for ds in table.index:
        lines.append(f"| {ds} | {chance[ds]:.3f} | " + " | ".join(fmt(v) for v in table.loc[ds]) + " |")
    lines.append("| mean rank | | " + " | ".join(f"{v:.2f}" for v in ranks.mean()) + " |")
    print()
    print(f"Test accuracy, mean over seeds {args.seeds} (official splits); {machine()}; "
          f"{time.perf_counter() - t0:.0f} s")
    print("\n".join(lines))
    errors = df[df.error != ""]
    for _, r in errors.drop_duplicates(["dataset", "column"]).iterrows():
        print(f"{r.column} on {r.dataset}: {r.error.splitlines()[0][:160]}")
    if args.tune:
        print("\nTuned parameters (validation split of seed 0):")
        for (m, ds), p in sorted(tuned.items()):
            print(f"  {m} {ds}: {json.dumps(p)}")
    (args.out / "ucr.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
