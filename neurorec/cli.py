"""The ``neurorec`` command.

::

    neurorec compare [CONFIG.toml] [--out DIR] [--jobs N] [--seeds 0 1 ...]
                     [--no-progress] [--scheduler ADDR]
    neurorec tasks
    neurorec --version

``compare`` runs a config's grid (the packaged ``default.toml`` when no file is given),
storing each run in ``DIR/results.sqlite`` as it finishes (a re-run resumes), then prints
the summary table and writes ``DIR/results.csv`` and ``DIR/summary.png``. Exit status: 0
when every run succeeded, 1 when a run errored (everything is still written), 2 for a bad
config or usage.

Only the standard library is imported at start-up; pandas, matplotlib and the models'
engines are imported by the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

__all__ = ["main"]


def _version() -> str:
    try:
        from neurorec import __version__

        return __version__
    except ImportError:  # pragma: no cover
        from importlib.metadata import version

        return version("neurorec")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neurorec",
        description="Recurrent, reservoir and neuromorphic models behind one interface.")
    p.add_argument("--version", action="version", version=f"neurorec {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("compare", help="run a models x tasks x seeds grid from a TOML config",
                       description="Run the grid of a TOML config, resuming from DIR/"
                                   "results.sqlite, and write results.csv and summary.png.")
    c.add_argument("config", nargs="?", metavar="CONFIG.toml",
                   help="experiment config (default: the packaged default.toml)")
    c.add_argument("--out", metavar="DIR", type=Path,
                   help="output folder (default: ./results/<experiment name>)")
    c.add_argument("--jobs", "-j", metavar="N", type=int,
                   help="runs in parallel, in local processes (default: the config's jobs, else 1; "
                        "-1 = one per CPU)")
    c.add_argument("--threads", metavar="N", type=int,
                   help="CPU threads per run (default: the config's threads, else CPUs / jobs)")
    c.add_argument("--seeds", metavar="SEED", type=int, nargs="+",
                   help="seeds to run instead of the config's")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument("--scheduler", metavar="ADDR",
                   help="Dask scheduler address (tcp://host:8786): run on a Dask cluster")
    c.add_argument("--no-resume", action="store_true",
                   help="recompute runs already in results.sqlite (and replace them)")

    sub.add_parser("tasks", help="list the registered tasks")
    return p


def main(argv=None) -> int:
    """Entry point of the ``neurorec`` console script; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    if args.command == "compare":
        return _compare(args)
    if args.command == "tasks":
        return _tasks()
    parser.print_help()
    return 2


def _error(msg: str, status: int = 2) -> int:
    print(f"neurorec: error: {msg}", file=sys.stderr)
    return status


class _TqdmHandler(logging.Handler):
    """Log records through ``tqdm.write`` so they don't break the progress bar."""

    def emit(self, record):
        try:
            from tqdm import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # noqa: BLE001
            self.handleError(record)


def _compare(args) -> int:
    from neurorec.experiment.config import ConfigError, default_config_path, load_config
    from neurorec.experiment.specs import SpecError, normalize_models, normalize_tasks

    if args.jobs == 0:
        return _error("--jobs must be a positive number (or -1 for one per CPU)")
    if args.threads is not None and args.threads < 1:
        return _error("--threads must be a positive number")
    try:
        cfg = load_config(args.config if args.config else default_config_path())
    except ConfigError as exc:
        return _error(str(exc))
    seeds = args.seeds if args.seeds else cfg["experiment"]["seeds"]
    jobs = args.jobs if args.jobs is not None else (cfg["experiment"].get("jobs") or 1)
    threads = args.threads if args.threads is not None else cfg["experiment"].get("threads")
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        return _error(f"--seeds must be distinct non-negative integers, got {seeds}")
    out = args.out if args.out is not None else Path("results") / cfg["experiment"]["name"]
    try:  # resolve classes and tasks before anything is written
        models = normalize_models(cfg["models"])
        tasks = normalize_tasks(cfg["tasks"])
    except SpecError as exc:
        return _error(f"{cfg['path']}: {exc}")

    if args.scheduler:
        from neurorec.experiment.executors import import_dask

        try:
            import_dask()
        except ImportError as exc:
            return _error(str(exc))

    from neurorec.experiment import compare, format_summary, plot_summary

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot create output folder {out}: {exc.strerror or exc}")
    db = out / "results.sqlite"
    log = logging.getLogger("neurorec.experiment")
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    log.addHandler(handler)
    log.propagate = False
    print(f"neurorec compare: {cfg['experiment']['name']} ({cfg['path']}): "
          f"{len(cfg['models'])} models x {len(cfg['tasks'])} tasks x {len(seeds)} seeds -> {out}",
          file=sys.stderr)
    try:
        df = compare(models, tasks, seeds, store=db, n_jobs=jobs,
                     executor="dask" if args.scheduler else "local", scheduler=args.scheduler,
                     progress=not args.no_progress, resume=not args.no_resume, threads=threads)
    except (SpecError, ImportError) as exc:
        return _error(f"{cfg['path']}: {exc}")
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished runs are in {db} (run the same command to resume)",
              file=sys.stderr)
        return 130
    finally:
        log.removeHandler(handler)
        log.propagate = True

    csv = out / "results.csv"
    png = out / "summary.png"
    df.to_csv(csv, index=False)
    plot_summary(df, png)
    print()
    print(format_summary(df))
    print()
    n_err = int(df.loc[df["status"] == "error", "run_key"].nunique())
    n_skip = int(df.loc[df["status"] == "skipped", "run_key"].nunique())
    n_runs = int(df["run_key"].nunique())
    print(f"{n_runs} runs: {n_runs - n_err - n_skip} ok, {n_skip} skipped, {n_err} errors")
    if n_skip:
        for msg in sorted(set(df.loc[df["status"] == "skipped", "error"])):
            print(f"  skipped: {msg}")
    if n_err:
        errs = df[df["status"] == "error"].drop_duplicates("run_key")
        for _, r in errs.iterrows():
            print(f"  error: {r['model']} / {r['task']} / seed {r['seed']}: {r['error']}")
    orders = _temporal_orders(tasks, seeds, out / "temporal_order.csv")
    print(f"results: {db}\n         {csv}\nplot:    {png}")
    if orders is not None:
        print(f"orders:  {out / 'temporal_order.csv'}")
    return 1 if n_err else 0


def _temporal_orders(tasks, seeds, path):
    """How much temporal memory each task's inputs have: the order a :class:`MultiOrderMarkov`
    selects on every task and seed (its likelihood-ratio tests, Scholtes 2017), printed and
    written to ``path``. A task whose inputs it cannot read is reported and left out."""
    import pandas as pd

    from neurorec.models.multiorder import order_table

    parts = []
    for t in tasks:
        try:
            parts.append(order_table([t.task], seeds))
        except Exception as exc:  # noqa: BLE001 - a task the model cannot read is reported, not fatal
            print(f"  temporal order: {t.name}: not measured ({type(exc).__name__}: {exc})")
    if not parts:
        return None
    df = pd.concat(parts, ignore_index=True)
    df.to_csv(path, index=False)
    print("Temporal memory of each task's inputs: the order a multi-order Markov model selects "
          "(likelihood-ratio tests, alpha 0.01, orders 0-3), and its next-symbol test accuracy")
    for task, g in df.groupby("task", sort=False):
        orders = ", ".join(str(int(o)) for o in g["order"])
        print(f"  {task:<20} order {orders:<12} ({g['n_symbols'].iloc[0]} symbols, {g['quantizer'].iloc[0]})  "
              f"accuracy {g['test_accuracy'].mean():.3f}")
    print()
    return df


def _tasks() -> int:
    try:
        from neurorec.data import get_task, list_tasks
    except ImportError as exc:
        return _error(f"cannot import neurorec.data: {exc}", 1)
    names = list_tasks()
    if isinstance(names, dict):
        names = list(names)
    rows = []
    for name in names:
        name = getattr(name, "name", name)
        try:
            t = get_task(name)
            rows.append((str(name), str(t.kind), str(t.metric)))
        except Exception as exc:  # noqa: BLE001 - list it anyway
            rows.append((str(name), "?", f"({type(exc).__name__}: {exc})"))
    if not rows:
        print("no tasks registered")
        return 0
    w = max(len(r[0]) for r in rows)
    k = max(len(r[1]) for r in rows)
    print(f"{'task':<{w}}  {'kind':<{k}}  metric")
    for n, kind, metric in rows:
        print(f"{n:<{w}}  {kind:<{k}}  {metric}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
