"""The cost of running a grid on Dask instead of local processes, measured in one run.

The same 40-run grid (ESN with 500 and 1000 units on NARMA10 and Mackey-Glass, seeds 0-9) is
run by :func:`neurorec.experiment.compare` on two warm pools of 2 worker processes, one thread
per run:

* local: the local executor's pool (a spawn-method ``ProcessPoolExecutor`` of 2 workers, the
  same runs, the same bounded submission);
* Dask: the :class:`dask.distributed.LocalCluster` that ``--executor dask --jobs 2`` starts
  (:func:`neurorec.experiment.executors.dask_client`): 2 worker processes, one thread each.

Both pools are started once before timing and warmed by one grid (their workers have imported
neurorec and numpy), so the difference is what Dask adds per run: the scheduler round trip and
shipping each job and result. What starting each costs (paid once per ``neurorec compare``
call that starts its own: ``--jobs 2``, or ``--executor dask`` without ``--scheduler``) is
printed on its own.

Each round runs both (in alternating order), each grid into a new SQLite store (so the claim
and the write of every run are counted); the grid's wall time is the
median over ``--rounds``. The Dask overhead per run is (Dask wall - local wall) x workers /
runs: what each run costs more on Dask, against the median run's own duration (fit + predict
+ scoring, from the results). The goal is an overhead under 5 % of the median run's time. BLAS
and OpenMP threads are pinned to 1 in every process. The last line printed is one JSON object.

    python benchmarks/executors.py [--rounds 3] [--seeds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seeds", type=int, default=10, help="seeds per model and task (10: 40 runs)")
    args = p.parse_args(argv)

    from neurorec.experiment import compare
    from neurorec.experiment.executors import dask_client
    from neurorec.models import ESN

    models = {"ESN-500": ESN(units=500, washout=100), "ESN-1000": ESN(units=1000, washout=100)}
    tasks = ["narma10", "mackey_glass"]
    seeds = list(range(args.seeds))
    n_runs = len(models) * len(tasks) * len(seeds)
    workers = 2

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    list(pool.map(abs, range(workers)))
    pool_startup = time.perf_counter() - t0

    import tempfile

    scratch = tempfile.TemporaryDirectory(prefix="neurorec-bench-")
    calls = iter(range(10 ** 6))

    def fresh_store():  # a new SQLite store per grid, as a user's: claims and writes included
        return os.path.join(scratch.name, f"grid-{next(calls)}.sqlite")

    def local():
        return compare(models, tasks, seeds, executor=pool, n_jobs=workers, threads=1, progress=False,
                       track_memory=False, store=fresh_store())

    t0 = time.perf_counter()
    cluster = dask_client("dask", n_workers=workers, threads_per_worker=1)  # what --executor dask starts
    client = cluster.__enter__()
    startup = time.perf_counter() - t0

    def dask():
        return compare(models, tasks, seeds, executor="dask", scheduler=client, threads=1, progress=False,
                       track_memory=False, store=fresh_store())

    local()  # the workers import neurorec and numpy once
    dask()
    walls = {"local": [], "dask": []}
    busy = {"local": [], "dask": []}  # the runs' own fit + predict seconds, summed
    durations = []
    try:
        for r in range(args.rounds):
            order = [("local", local), ("dask", dask)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                t0 = time.perf_counter()
                df = fn()
                walls[name].append(time.perf_counter() - t0)
                own = df.drop_duplicates("run_key")["fit_seconds"].sum() + df["predict_seconds"].sum()
                busy[name].append(float(own))
                if name == "local":
                    assert (df.status == "ok").all()
                    runs = df.drop_duplicates("run_key")
                    durations += list(runs["fit_seconds"] + df.groupby("run_key", sort=False)
                                      ["predict_seconds"].sum().to_numpy())
                print(f"round {r + 1}: {name:5s} {walls[name][-1]:7.2f} s (fit + predict in the runs: "
                      f"{busy[name][-1]:.2f} s)", file=sys.stderr)
    finally:
        cluster.__exit__(None, None, None)
        pool.shutdown()
        scratch.cleanup()

    local_s = statistics.median(walls["local"])
    dask_s = statistics.median(walls["dask"])
    median_run = statistics.median(durations)
    overhead = (dask_s - local_s) * workers / n_runs
    ratio = overhead / median_run
    print(f"grid: {n_runs} runs, {workers} workers; median run {median_run:.3f} s (fit + predict)")
    print(f"local processes  : {local_s:7.2f} s  (median of {args.rounds}; "
          f"starting the pool took {pool_startup:.2f} s)")
    print(f"Dask LocalCluster: {dask_s:7.2f} s  (median of {args.rounds}; starting the cluster took {startup:.2f} s)")
    print(f"Dask overhead per run: {overhead * 1e3:+.1f} ms = {100 * ratio:+.2f} % of the median run "
          f"(goal < 5 %): {'met' if ratio < 0.05 else 'NOT met'}")
    print(json.dumps({"runs": n_runs, "workers": workers, "local_s": round(local_s, 3), "dask_s": round(dask_s, 3),
                      "cluster_start_s": round(startup, 3), "pool_start_s": round(pool_startup, 3),
                      "median_run_s": round(median_run, 4),
                      "overhead_per_run_s": round(overhead, 4), "overhead_fraction": round(ratio, 4),
                      "goal_met": bool(ratio < 0.05)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
