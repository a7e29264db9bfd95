"""Anomaly detection: neurorec's detectors against aeon's, side by side (issue 17).

Tasks: ``kdd_tsad_135`` (UCR anomaly archive series 135, InternalBleeding16, as aeon's wheel
ships it: a normal training prefix of 1,200 points, one labelled anomaly) and the synthetic
benchmark of :mod:`neurorec.data.anomaly` (``anomaly:<base>-<anomaly>``: periodic with drift,
ECG- and gait-like quasi-periodic, Mackey-Glass, multichannel; spikes, level shifts, frequency
and shape changes, noise bursts, a missing beat; one anomaly per series after a normal prefix,
the UCR archive's format), each for seeds 0-2 (the seed draws the synthetic series, and every
detector's random weights; KDD-TSAD_135 is the same series for every seed).

Detectors, all through ``neurorec.experiment.compare`` (one store, one table):

- neurorec (:mod:`neurorec.anomaly`): the one-step forecast error of an ESN, a deep ESN, NVAR, an
  LSTM and a GRU (``ForecastDetector``), the surprise of an LSM's readout (``SpikingDetector``)
  and the distance to the normal windows stored in a modern Hopfield network
  (``HopfieldDetector``);
- aeon (``AeonDetector``): STOMP (matrix profile), KMeansAD, IsolationForest, LOF, DWT-MLEAD and
  MERLIN.

Every windowed detector (Hopfield and aeon's) gets the same window on a series: the dominant
period of its training prefix (``window="auto"``: the first autocorrelation peak, 16-200 points;
MERLIN searches half to twice it), set at fit, so per task and seed.
Each series is scored after its training prefix with the UCR archive's rule (``ucr_hit``: the
top-scoring point within the anomaly +- 100 points), the range-based PR-AUC (aeon's) and the
point ROC-AUC; fit and score seconds are compare's. Printed: one table per task, the mean over
the synthetic series, and the issue's goal (the best neurorec detector at or above the best
aeon detector on ``ucr_hit`` and ``range_pr_auc``, on KDD-TSAD_135 and on the synthetic mean).
Results are stored in ``OUT/anomaly.db``; a re-run resumes.

    python experiments/anomaly.py [--seeds 0 1 2] [--quick] [--detectors ESN Hopfield STOMP ...]
"""

from __future__ import annotations

import json
import time

from _common import machine, parse_args, setup

NEUROREC = ("ESN", "DeepESN", "NVAR", "LSTM", "GRU", "LSM", "Hopfield")
AEON = ("STOMP", "KMeansAD", "IsolationForest", "LOF", "DWT_MLEAD", "MERLIN")


def _extra(p):
    p.add_argument("--detectors", nargs="+", default=None,
                   help=f"detectors to run (default: all of {' '.join(NEUROREC + AEON)})")
    p.add_argument("--tasks", nargs="+", default=None, help="tasks (default: kdd_tsad_135 and the synthetic set)")


def detectors(names) -> dict:
    """Unfitted detectors by name; the windowed ones take the dominant period of each training
    prefix as their window (``"auto"``, set at fit: per task and seed)."""
    from neurorec.anomaly import AeonDetector, ForecastDetector, HopfieldDetector, SpikingDetector

    esn = {"units": 300, "spectral_radius": 0.9, "leak_rate": 0.5, "ridge": 1e-6, "washout": 50}
    make = {
        "ESN": lambda: ForecastDetector("ESN", esn),
        "DeepESN": lambda: ForecastDetector("DeepESN", {"units": [150, 150], "spectral_radius": 0.9,
                                                        "leak_rate": 0.5, "ridge": 1e-6, "washout": 50}),
        "NVAR": lambda: ForecastDetector("NVAR", {"delay": 10, "order": 2, "ridge": 1e-4, "washout": 20}),
        "LSTM": lambda: ForecastDetector("LSTM", {"units": 32}),
        "GRU": lambda: ForecastDetector("GRU", {"units": 32}),
        "LSM": lambda: SpikingDetector(model_params={"units": 200, "washout": 50, "backend": "torch"}),
        "Hopfield": lambda: HopfieldDetector(window="auto"),
        "STOMP": lambda: AeonDetector("STOMP", {"window_size": "auto"}),
        "KMeansAD": lambda: AeonDetector("KMeansAD", {"window_size": "auto"}),
        "IsolationForest": lambda: AeonDetector("IsolationForest", {"window_size": "auto"}),
        "LOF": lambda: AeonDetector("LOF", {"window_size": "auto"}),
        "DWT_MLEAD": lambda: AeonDetector("DWT_MLEAD"),
        "MERLIN": lambda: AeonDetector("MERLIN", {"min_length": "auto", "max_length": "auto"}),
    }
    unknown = sorted(set(names) - set(make))
    if unknown:
        raise SystemExit(f"unknown detector(s) {unknown}; choose from {sorted(make)}")
    return {n: make[n]() for n in names}


def main() -> None:
    args = parse_args("anomaly", "Anomaly detection: neurorec's detectors against aeon's.", extra=_extra)
    setup(args.threads)
    import warnings

    import numpy as np
    import pandas as pd

    from neurorec.anomaly import dominant_period
    from neurorec.data import get_task
    from neurorec.data.anomaly import ANOMALY_BENCHMARK
    from neurorec.experiment import compare

    warnings.filterwarnings("ignore", module="aeon")
    synthetic = [f"anomaly:{b}-{a}" for b, a in ANOMALY_BENCHMARK]
    tasks = args.tasks or ["kdd_tsad_135", *synthetic]
    names = args.detectors or list(NEUROREC + AEON)
    if args.quick:
        tasks = args.tasks or ["kdd_tsad_135", synthetic[0]]
        names = args.detectors or ["ESN", "NVAR", "Hopfield", "KMeansAD", "LOF"]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    windows = {t: dominant_period(get_task(t).load(args.seeds[0]).train.X[0]) for t in tasks}
    print(f"{machine()}\nwindows of seed {args.seeds[0]} (the dominant period of the training prefix): {windows}",
          flush=True)
    models = detectors(names)
    df = compare(models, tasks, args.seeds, store=args.out / "anomaly.db", progress=not args.quick,
                 threads=args.threads)     # one thread per run: two OpenMP threads on shared cores crawl
    df.to_csv(args.out / "runs.csv", index=False)
    bad = df[df.status == "error"]
    for _, r in bad.drop_duplicates(["model", "task", "seed"]).iterrows():
        print(f"ERROR {r.model} / {r.task} / seed {r.seed}: {r.error}")
    ok = df[(df.status == "ok") & (df.split == "test")]
    wide = ok.pivot_table(index=["task", "model", "seed"], columns="metric", values="value").reset_index()
    cost = ok.drop_duplicates(["task", "model", "seed"])[["task", "model", "seed", "fit_seconds", "predict_seconds"]]
    wide = wide.merge(cost, on=["task", "model", "seed"])
    wide["family"] = np.where(wide.model.isin(AEON), "aeon", "neurorec")
    wide.to_csv(args.out / "scores.csv", index=False)
    metrics = ["ucr_hit", "range_pr_auc", "roc_auc"]
    per_task = wide.groupby(["task", "model"], sort=False).agg(
        **{m: (m, "mean") for m in metrics}, pr_std=("range_pr_auc", "std"),
        fit_s=("fit_seconds", "mean"), score_s=("predict_seconds", "mean")).reset_index()
    pd.set_option("display.width", 200)
    for task in tasks:
        t = per_task[per_task.task == task].drop(columns="task")
        print(f"\n{task} (window {windows[task]} for seed {args.seeds[0]}), mean over seeds {args.seeds}:")
        print(t.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    summary = {}
    groups = {"kdd_tsad_135": [t for t in tasks if t == "kdd_tsad_135"],
              "synthetic (mean over series)": [t for t in tasks if t.startswith("anomaly:")]}
    for label, group in groups.items():
        if not group:
            continue
        g = per_task[per_task.task.isin(group)].groupby("model", sort=False)[metrics].mean().reset_index()
        g["family"] = np.where(g.model.isin(AEON), "aeon", "neurorec")
        print(f"\n{label}:")
        print(g.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        best = {fam: {m: (float(g[g.family == fam][m].max()) if (g.family == fam).any() else float("nan"))
                      for m in metrics} for fam in ("neurorec", "aeon")}
        met = {m: best["neurorec"][m] >= best["aeon"][m] for m in ("ucr_hit", "range_pr_auc")}
        summary[label] = {"best": best, "goal_met": met,
                          "best_models": {fam: {m: g[g.family == fam].sort_values(m).model.iloc[-1]
                                                for m in metrics} for fam in ("neurorec", "aeon")
                                          if (g.family == fam).any()}}
        print("goal (best neurorec >= best aeon): " + ", ".join(
            f"{m} {best['neurorec'][m]:.3f} vs {best['aeon'][m]:.3f} {'met' if ok_ else 'NOT met'}"
            for m, ok_ in met.items()))
    (args.out / "summary.json").write_text(json.dumps(
        {"windows": windows, "seeds": args.seeds, "summary": summary, "machine": machine()}, indent=1))
    print(f"\n{time.perf_counter() - t0:.0f} s; results in {args.out}")


if __name__ == "__main__":
    main()
