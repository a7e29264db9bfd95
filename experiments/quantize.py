"""Fixed-point spiking classifiers: accuracy in float, after post-training quantisation (PTQ) and
after quantisation-aware fine-tuning (QAT), for 8- and 4-bit weights, in the integer arithmetic
of two chip profiles.

For every task and seed a float ``SpikingClassifier`` is trained with the settings of
``experiments/snn_classify.py`` (digits: 64-128-10 Poisson-coded over 25 steps; mnist_sample:
784-256-10 Poisson-coded over 25 steps; japanese_vowels: 24-128-9 delta-coded, 4 steps per frame;
LIF tau_mem = 10 ms at dt = 1 ms, threshold 1, reset by subtraction, leaky-integrator readout).
Then, for each profile and weight width, ``neurorec.hardware.fixed_point`` converts it to integer
arithmetic (PTQ: max-abs per-layer weight scale, integer threshold, saturating integer membrane,
the profile's decay rule), and ``QuantizedSpikingClassifier.fine_tune`` fine-tunes a copy with
the straight-through estimator through ``neurorec.train.fit_module`` (Adam, lr 5e-4, batch 64,
early stopping on the validation loss of the quantised network, patience 5; at most
``QAT_EPOCHS[task]`` epochs), after which the integer model is re-derived. Every accuracy is
measured by the integer engine on the test split.

Profiles: ``xylo`` (bit-shift decay v <- v - (v >> dash), 16-bit states) and ``loihi2``
(multiplicative 12-bit decay, 24-bit states), read with ``neurorec.hardware.load_profile`` (any
profile name or TOML file may be given to ``--profiles``).

Run::

    python experiments/quantize.py [--seeds 0 1 2] [--tasks digits mnist_sample japanese_vowels]
                                   [--profiles xylo loihi2] [--bits 8 4] [--out DIR] [--quick]

Writes ``results.csv`` (one row per task x seed x profile x weight width) and ``summary.csv``
(mean ± sample std over seeds) into ``--out``; ``--quick`` runs digits with one seed, 2 float
and 1 fine-tuning epochs (the numbers are then not the experiment's).
"""

from __future__ import annotations

import json

import _common

NAME = "quantize"
TASKS = ("digits", "mnist_sample", "japanese_vowels")
QAT_EPOCHS = {"digits": 15, "mnist_sample": 5, "japanese_vowels": 20}
QAT = dict(lr=5e-4)
def resolve_profile(name: str):
    """(profile, label): the packaged chip profile ``name`` (or a TOML file's)."""
    from neurorec.hardware import load_profile

    return load_profile(name), name


def run(args):
    import pandas as pd
    import snn_classify

    from neurorec.data import get_task
    from neurorec.hardware.fixed_point import quantize
    from neurorec.models.spiking.snn import SpikingClassifier

    profiles = [resolve_profile(p) for p in args.profiles]
    rows = []
    for task_name in args.tasks:
        task = get_task(task_name)
        for seed in args.seeds:
            data = task.load(seed)
            params = {**snn_classify.TRAINING, **snn_classify.CONFIGS[task_name]}
            if args.quick:
                params["epochs"] = 2
            timer = _common.Timer()
            clf = SpikingClassifier(seed=seed, **params).fit(data.train.X, data.train.y, data.val.X, data.val.y)
            fit_s = timer()
            float_acc = clf.score(data.test.X, data.test.y)
            float_pred = clf.predict(data.test.X)
            print(f"  {task_name:16s} seed {seed}  float {float_acc:.3f}  (fit {fit_s:.1f} s)", flush=True)
            for profile, label in profiles:
                for bits in args.bits:
                    q = quantize(clf, profile, weight_bits=bits)
                    ptq_acc = q.score(data.test.X, data.test.y)
                    agree = float((q.predict(data.test.X) == float_pred).mean())
                    timer = _common.Timer()
                    epochs = 1 if args.quick else QAT_EPOCHS[task_name]
                    q.fine_tune(data.train.X, data.train.y, data.val.X, data.val.y, epochs=epochs, **QAT)
                    qat_s = timer()
                    qat_acc = q.score(data.test.X, data.test.y)
                    rows.append({
                        "task": task_name, "seed": seed, "profile": label, "weight_bits": bits,
                        "decay": q.arithmetic_["decay"], "beta_eff": q.arithmetic_["beta_eff"],
                        "float_accuracy": float_acc, "ptq_accuracy": ptq_acc, "qat_accuracy": qat_acc,
                        "ptq_agreement": agree, "qat_epochs_run": len(q.qat_history_["records"]),
                        "qat_best_epoch": q.qat_history_["best_epoch"], "qat_kept": q.qat_history_.get("kept"),
                        "float_fit_seconds": round(fit_s, 1), "qat_seconds": round(qat_s, 1),
                        "synops_per_sample": q.synops_,
                    })
                    print(f"      {label:18s} {bits} bit  PTQ {ptq_acc:.3f} (agrees {agree:.3f})  QAT {qat_acc:.3f}  "
                          f"({qat_s:.1f} s)", flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    def extra(p):
        p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="tasks (default: all three)")
        p.add_argument("--profiles", nargs="+", default=["xylo", "loihi2"], help="chip profiles (default: xylo loihi2)")
        p.add_argument("--bits", nargs="+", type=int, default=[8, 4], help="weight widths (default: 8 4)")

    args = _common.parse_args(NAME, "Fixed-point spiking classifiers: float vs PTQ vs QAT accuracy.", extra=extra)
    if args.quick:
        args.tasks = ["digits"]
    _common.setup(args.threads)
    import pandas as pd

    args.out.mkdir(parents=True, exist_ok=True)
    total = _common.Timer()
    machine = _common.machine()
    print(f"{NAME}: tasks {args.tasks}, seeds {args.seeds}, profiles {args.profiles}, bits {args.bits}"
          f"{' (quick)' if args.quick else ''}; {machine}", flush=True)
    results = run(args)
    results["loss_after_ptq_points"] = 100 * (results["float_accuracy"] - results["ptq_accuracy"])
    results["loss_after_qat_points"] = 100 * (results["float_accuracy"] - results["qat_accuracy"])
    results.to_csv(args.out / "results.csv", index=False)
    summary = results.groupby(["task", "profile", "weight_bits"], sort=False).agg(
        float_accuracy=("float_accuracy", _common.mean_std), ptq_accuracy=("ptq_accuracy", _common.mean_std),
        qat_accuracy=("qat_accuracy", _common.mean_std),
        loss_after_ptq_points=("loss_after_ptq_points", lambda s: f"{s.mean():+.2f}"),
        loss_after_qat_points=("loss_after_qat_points", lambda s: f"{s.mean():+.2f}"),
        ptq_agreement=("ptq_agreement", "mean"), qat_seconds=("qat_seconds", "mean"))
    summary.to_csv(args.out / "summary.csv")
    with open(args.out / "results.json", "w") as f:
        json.dump({"script": NAME, "quick": args.quick, "seeds": args.seeds, "machine": machine,
                   "profiles": args.profiles, "bits": args.bits, "qat": {**QAT, "epochs": QAT_EPOCHS},
                   "rows": results.to_dict(orient="records")}, f, indent=2)
    pd.set_option("display.width", 200)
    print("\nTest accuracy, mean ± std over seeds (losses: float minus PTQ / QAT accuracy, in points, mean over "
          "seeds; agreement: PTQ vs float predictions):")
    print(summary.round({"ptq_agreement": 3, "qat_seconds": 1}).to_string())
    print(f"\nwrote {args.out}/results.csv, summary.csv, results.json; total {total():.0f} s")


if __name__ == "__main__":
    main()
