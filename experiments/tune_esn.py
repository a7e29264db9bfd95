"""Tune an echo state network's hyperparameters on three tasks, and compare with its defaults.

For each of Mackey-Glass (forecast, NRMSE), NARMA10 (forecast, NMSE) and the Japanese vowels
(classification, accuracy), ``neurorec.experiment.tune`` searches the ESN's declared space
(spectral radius, leak rate, input scaling, ridge, bias scaling, connectivity; 100 units as
by default) with Optuna's TPE sampler, two local worker processes sharing one SQLite study,
scoring every trial on the task's validation split of seed 0. The best parameters are then
scored on the test split of every ``--seeds`` seed, next to the ESN with its default
parameters run by ``compare`` on the same seeds, into one result store.

    python experiments/tune_esn.py [--trials 200] [--jobs 2] [--seeds 0 1 2] [--out DIR] [--quick]

Writes ``results.sqlite`` (default and tuned test runs), ``tune.db`` (the three studies; a
re-run resumes them), ``tune_esn.csv`` (the table) and, per task, Optuna's plots under
``<task>/``.
"""

from __future__ import annotations

from _common import Timer, machine, parse_args, setup

TASKS = ("mackey_glass", "narma10", "japanese_vowels")


def mean_std(values) -> str:
    """``"3.21e-04 ± 1.2e-05"``-style: three significant digits (the NRMSEs span decades)."""
    m = float(values.mean())
    s = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return f"{m:.3g} ± {s:.2g}" if s == s else f"{m:.3g}"


def _extra(p):
    p.add_argument("--trials", type=int, default=200, help="trials per task (default 200; --quick: 4)")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes sharing each study (default 2)")


def main() -> None:
    args = parse_args("tune_esn", "Tune an ESN on three tasks and compare with its defaults.", extra=_extra)
    setup(args.threads)
    import pandas as pd

    from neurorec.experiment import compare, tune

    trials = 4 if args.quick else args.trials
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "results.sqlite"
    storage = f"sqlite:///{(args.out / 'tune.db').resolve()}"
    total = Timer()
    print(f"{machine()}; {trials} trials per task, {args.jobs} workers, test seeds {args.seeds}")

    t = Timer()
    default = compare({"ESN-default": {"class": "ESN"}}, list(TASKS), args.seeds, store=store, progress=False)
    print(f"default ESN on {len(TASKS)} tasks x {len(args.seeds)} seeds: {t():.1f} s")
    rows = []
    for task in TASKS:
        t = Timer()
        res = tune({"name": "ESN", "class": "ESN"}, task, trials=trials, seed=0, n_jobs=args.jobs, storage=storage,
                   out=args.out / task, store=store, test_seeds=args.seeds)
        seconds = t()
        d = default[(default["task"] == task) & (default["split"] == "test") & (default["metric"] == res.metric)]
        tuned = res.test[(res.test["split"] == "test") & (res.test["metric"] == res.metric)]
        dv = default[(default["task"] == task) & (default["split"] == "val") & (default["seed"] == 0)]
        rows.append({
            "task": task, "metric": res.metric, "direction": res.direction,
            "default_val_seed0": float(dv["value"].iloc[0]), "tuned_val_seed0": res.best_value,
            "default_test": mean_std(d["value"]), "tuned_test": mean_std(tuned["value"]),
            "default_test_mean": float(d["value"].mean()), "tuned_test_mean": float(tuned["value"].mean()),
            "trials": sum(res.counts.values()), "failed": res.counts["FAIL"], "seconds": round(seconds, 1),
            **{f"best_{k}": v for k, v in res.best_params.items()},
        })
        print(f"{task}: {sum(res.counts.values())} trials in {seconds:.1f} s, best validation {res.metric} "
              f"{res.best_value:.4g}; best params {res.best_params}")
        for e in res.errors[:5]:
            print(f"  {e}")
    df = pd.DataFrame(rows)
    df.to_csv(args.out / "tune_esn.csv", index=False)

    print()
    print("| task | metric | default val (seed 0) | tuned val (seed 0) | default test | tuned test | trials | s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        better = "higher" if r["direction"] == "maximize" else "lower"
        print(f"| {r['task']} | {r['metric']} ({better}) | {r['default_val_seed0']:.4g} | {r['tuned_val_seed0']:.4g} | "
              f"{r['default_test']} | {r['tuned_test']} | {r['trials']} | {r['seconds']} |")
    print()
    print(f"(mean ± std over test seeds {args.seeds}; total {total():.1f} s)")
    print(f"results: {store}\n         {args.out / 'tune_esn.csv'}\nstudies: {storage}")


if __name__ == "__main__":
    main()
