"""The ``neurorec`` command.

::

    neurorec compare [CONFIG.toml] [--out DIR] [--jobs N] [--seeds 0 1 ...]
                     [--no-progress] [--executor local|dask|slurm] [--scheduler ADDR]
    neurorec tune MODEL TASK [--trials N] [--storage URL] [--study NAME] [--jobs N]
                  [--executor local|dask|slurm] [--config TUNE.toml] [--out DIR] [--seed N]
    neurorec report RESULTS_DIR [-o OUT.html]
    neurorec tasks
    neurorec export MODEL_FILE --to nir OUT.nir
    neurorec hardware profiles
    neurorec hardware check MODEL_FILE --target NAME
    neurorec hardware energy MODEL_FILE --profile NAME [--task TASK] [--seed N] [--split test]
    neurorec --version

``export`` writes a saved spiking model (``.safetensors`` from ``Model.save``) as a NIR graph;
``hardware profiles`` lists the chip profiles with their main figures; ``hardware check``
tells whether a saved model or a ``.nir`` graph fits a chip (exit status 0 if it fits, 1 if
not); ``hardware energy`` estimates the energy per inference of a saved model on a task's
split from its counted operations and a profile's energy per operation.

``compare`` runs a config's grid (the packaged ``default.toml`` when no file is given),
storing each run in ``DIR/results.sqlite`` as it finishes (a re-run resumes), then prints
the summary table and writes ``DIR/results.csv`` and ``DIR/summary.png`` (and ``DIR/energy.png``, test score
against estimated energy per inference, when the config names ``energy_profiles``). ``report``
reads such a folder's store (nothing is run) and writes one self-contained HTML file of it,
``DIR/report.html`` by default (:func:`neurorec.experiment.report.write_report`). Exit status:

* 0 every run succeeded;
* 1 a run errored (everything is still written);
* 2 a bad config or usage;
* 3 the result store cannot be read: it is damaged, is not a neurorec store, or was written by
  a newer neurorec (nothing is run, and the file is left as it is: move it aside to start anew);
* 4 the results cannot be written: the store (or its folder) is read-only while runs of the
  grid are missing from it (nothing is run; a read-only store that holds the whole grid is read
  and reported), the disk is full or the store stayed locked by another process (the runs
  stored before are kept; run the same command to resume), or the output files could not be
  written (the table is still printed);
* 5 the executor cannot be used: the Dask scheduler does not answer, SLURM is missing or
  refuses the job request (a bad partition), or no SLURM worker started in time (nothing is
  run);
* 130 interrupted (finished runs are kept).

Every such failure is one line on stderr naming the file and what to do, never a traceback.
Several ``compare`` processes may share one results folder (on one machine, or on several
with the folder on a shared file system): each claims a run before computing it, so the grid is
split between them, each run computed once and stored once, and each prints the whole table.

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


_COMPARE_EXIT = """exit status:
  0    every run succeeded
  1    a run errored (everything is still written)
  2    bad config or usage
  3    the result store cannot be read (damaged, not a neurorec store, newer neurorec)
  4    the results cannot be written (read-only store or folder with runs to do, full disk,
       store locked by another process, output files not writable)
  5    the executor cannot be used (Dask scheduler unreachable, no SLURM or a job request
       it refuses, no SLURM worker started in time)
  130  interrupted (finished runs are kept; run the same command to resume)"""

#: Exit status of ``compare`` for each :class:`~neurorec.experiment.store.StoreError` kind.
_STORE_EXIT = {"corrupt": 3, "not-a-store": 3, "newer": 3, "unreadable": 3,
               "read-only": 4, "full": 4, "locked": 4}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neurorec",
        description="Recurrent, reservoir and neuromorphic models behind one interface.")
    p.add_argument("--version", action="version", version=f"neurorec {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("compare", help="run a models x tasks x seeds grid from a TOML config",
                       description="Run the grid of a TOML config, resuming from DIR/"
                                   "results.sqlite, and write results.csv and summary.png.",
                       epilog=_COMPARE_EXIT, formatter_class=argparse.RawDescriptionHelpFormatter)
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
    c.add_argument("--executor", choices=("local", "dask", "slurm"),
                   help="where runs are computed: local processes (default), a Dask cluster (a local one of "
                        "--jobs worker processes, or --scheduler), or Dask workers started as SLURM jobs "
                        "(the config's [slurm] table)")
    c.add_argument("--scheduler", metavar="ADDR",
                   help="Dask scheduler address (tcp://host:8786): run on that Dask cluster")
    c.add_argument("--no-resume", action="store_true",
                   help="recompute runs already in results.sqlite (and replace them)")
    c.add_argument("--show", metavar="RESULTS_DIR", type=Path,
                   help="run nothing: reprint the tables of RESULTS_DIR/results.sqlite and redraw its figures "
                        "(summary.png, cost.png; with --models/--tasks, *_filtered.png) into --out or RESULTS_DIR")
    c.add_argument("--models", metavar="NAME", nargs="+", help="with --show: only these models")
    c.add_argument("--tasks", metavar="NAME", nargs="+", help="with --show: only these tasks")

    tn = sub.add_parser("tune", help="hyperparameter search of one model on one task (Optuna, TPE)",
                        description="Search MODEL's hyperparameters on TASK's validation split with Optuna "
                                    "(TPE), then score the best ones once on the test split into "
                                    "DIR/results.sqlite beside compare's runs. A study in the same storage "
                                    "with the same name resumes.",
                        epilog=_TUNE_EXIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    tn.add_argument("model", nargs="?", metavar="MODEL",
                    help="model class (ESN, LSTM, package.module:Class) or a [[models]] name of --config")
    tn.add_argument("task", nargs="?", metavar="TASK",
                    help="task name (see: neurorec tasks) or a [[tasks]] name of --config")
    tn.add_argument("--trials", type=int, metavar="N", help="finished trials in the study at the end (default 50)")
    tn.add_argument("--storage", metavar="URL",
                    help="Optuna storage: an SQLAlchemy URL, journal:///path.log, or a .db/.log path "
                         "(default sqlite:///DIR/tune.db)")
    tn.add_argument("--study", metavar="NAME", help="study name (default MODEL-TASK)")
    tn.add_argument("--jobs", "-j", type=int, metavar="N",
                    help="workers sharing the study (default 1; -1 = one per CPU)")
    tn.add_argument("--executor", choices=("local", "dask", "slurm"), help="where the workers run (default local)")
    tn.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler address (tcp://host:8786)")
    tn.add_argument("--config", type=Path, metavar="TUNE.toml",
                    help="a [tune] table, [[models]], [[tasks]] and the space")
    tn.add_argument("--out", type=Path, metavar="DIR", help="output folder (default results/tune/<study>)")
    tn.add_argument("--seed", type=int, metavar="N", help="split, model and sampler seed of the search (default 0)")
    tn.add_argument("--timeout", type=float, metavar="S", help="seconds after which a worker starts no new trial")
    tn.add_argument("--no-progress", action="store_true", help="no progress bar")

    rp = sub.add_parser("report", help="write one self-contained HTML report of a compare results folder",
                        description="Read RESULTS_DIR/results.sqlite (nothing is run) and write one HTML file "
                                    "that needs no other file or network: the run configuration, the summary "
                                    "tables (click a header to sort), the figures, every run with its errors "
                                    "and tracebacks, and the versions.",
                        epilog=_REPORT_EXIT, formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("results_dir", metavar="RESULTS_DIR", type=Path, help="a neurorec compare --out folder")
    rp.add_argument("-o", "--out", metavar="OUT", type=Path, help="the HTML file (default RESULTS_DIR/report.html)")

    sub.add_parser("tasks", help="list the registered tasks")

    e = sub.add_parser("export", help="write a saved spiking model in a hardware exchange format (NIR)",
                       description="Write a saved model (SpikingClassifier, LSM) as a NIR graph (.nir, HDF5).")
    e.add_argument("model", metavar="MODEL_FILE", type=Path, help="a model saved with Model.save (.safetensors)")
    e.add_argument("--to", dest="format", required=True, metavar="FORMAT", help="target format: nir")
    e.add_argument("out", metavar="OUT", type=Path, help="output file (.nir)")
    e.add_argument("--discretisation", choices=("exact", "euler"), default="exact",
                   help="time constants for exact-decay readers (neurorec, rockpool, sinabs; default) or "
                        "forward-Euler readers (snntorch, norse): tau = dt / (1 - beta)")
    e.add_argument("--approximate", action="store_true",
                   help="write what NIR cannot say exactly (a subtract reset, a refractory period) as its "
                        "nearest NIR form, recorded in the graph's metadata; without it such a model is refused")

    h = sub.add_parser("hardware", help="chip profiles, fit checks and energy estimates",
                       description="Neuromorphic hardware: profiles, fit check, energy.")
    hsub = h.add_subparsers(dest="hw_command", metavar="VERB")
    hsub.add_parser("profiles", help="list the chip profiles")
    hc = hsub.add_parser("check", help="does a saved model or a .nir graph fit a chip?")
    hc.add_argument("model", metavar="MODEL_FILE", type=Path, help="a saved model (.safetensors) or a .nir graph")
    hc.add_argument("--target", required=True, metavar="NAME", help="profile name (see: neurorec hardware profiles)")
    he = hsub.add_parser("energy", help="energy per inference of a saved model from counted operations")
    he.add_argument("model", metavar="MODEL_FILE", type=Path, help="a saved model (.safetensors)")
    he.add_argument("--profile", required=True, metavar="NAME", action="append",
                    help="profile name; may be given several times")
    he.add_argument("--task", metavar="TASK", required=True,
                    help="task whose split is the input (see: neurorec tasks)")
    he.add_argument("--seed", type=int, default=0, metavar="N", help="task seed (default 0)")
    he.add_argument("--split", default="test", choices=("train", "val", "test"), help="split (default test)")
    he.add_argument("--limit", type=int, default=None, metavar="N", help="use only the first N sequences")
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
    if args.command == "tune":
        return _tune(args)
    if args.command == "report":
        return _report(args)
    if args.command == "tasks":
        return _tasks()
    if args.command == "export":
        return _export(args)
    if args.command == "hardware":
        if args.hw_command is None:
            return _error("hardware needs a verb: profiles, check or energy")
        return {"profiles": _hw_profiles, "check": _hw_check, "energy": _hw_energy}[args.hw_command](args)
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


def _show(args) -> int:
    """``neurorec compare --show DIR``: the tables and figures of a stored grid, nothing run."""
    from neurorec.experiment.store import SQLiteStore, StoreError

    if args.config:
        return _error("--show reads a results folder; give no CONFIG with it")
    db = args.show / "results.sqlite"
    if not db.is_file():
        return _error(f"{args.show} holds no results.sqlite: give the --out folder of a neurorec compare run")
    try:
        store = SQLiteStore(db, read_only=True)
        try:
            df = store.to_dataframe()
        finally:
            store.close()
    except StoreError as exc:
        return _error(str(exc), _STORE_EXIT.get(exc.kind, 4))
    for flag, col in (("models", "model"), ("tasks", "task")):
        wanted = getattr(args, flag)
        if wanted:
            unknown = sorted(set(wanted) - set(df[col]))
            if unknown:
                return _error(f"--{flag}: {unknown} not in {db} (it has: {', '.join(sorted(set(df[col])))})")
            df = df[df[col].isin(wanted)]
    if df.empty:
        return _error(f"{db} holds no runs")
    # the folder's results.csv is never touched; filtered figures get names of their own
    out = args.out if args.out is not None else args.show
    suffix = "_filtered" if (args.models or args.tasks) and args.out is None else ""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _error(f"cannot create output folder {out}: {exc.strerror or exc}")
    return _report_results(df, out, db, orders=None, csv=False, suffix=suffix)


def _compare(args) -> int:
    from neurorec.experiment.compare import resolve_energy_profiles
    from neurorec.experiment.config import ConfigError, default_config_path, energy_profiles, load_config
    from neurorec.experiment.specs import SpecError, normalize_models, normalize_tasks

    if args.show is not None:
        return _show(args)
    if args.models or args.tasks:
        return _error("--models and --tasks filter what --show prints; to run fewer, edit the config")
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
    try:  # resolve classes, tasks and chip profiles before anything is written
        models = normalize_models(cfg["models"])
        tasks = normalize_tasks(cfg["tasks"])
        profiles = resolve_energy_profiles(energy_profiles(cfg))
    except SpecError as exc:
        return _error(f"{cfg['path']}: {exc}")

    executor = args.executor or cfg["experiment"].get("executor") or "local"
    scheduler = args.scheduler or cfg["experiment"].get("scheduler")
    if scheduler and executor == "local":
        executor = "dask"
    if scheduler and executor == "slurm":
        return _error("--scheduler names a running Dask scheduler; it cannot be used with --executor slurm, "
                      "which starts its own (leave one of them out)")
    if executor in ("dask", "slurm"):
        from neurorec.experiment.executors import import_dask

        try:
            import_dask()
            if executor == "slurm":
                import dask_jobqueue  # noqa: F401
        except ImportError as exc:
            return _error(str(exc).split(" (")[0] if "neurorec[dask]" in str(exc)
                          else 'executor "slurm" needs dask-jobqueue; install it with: pip install "neurorec[dask]"')

    from neurorec.experiment import compare
    from neurorec.experiment.executors import ExecutorError
    from neurorec.experiment.store import StoreError

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
        df = compare(models, tasks, seeds, store=db, n_jobs=jobs, executor=executor, scheduler=scheduler,
                     slurm=_slurm_options(cfg, out) if executor == "slurm" else None,
                     progress=not args.no_progress, resume=not args.no_resume, threads=threads,
                     energy_profiles=profiles)
    except (SpecError, ImportError) as exc:
        return _error(f"{cfg['path']}: {exc}")
    except ExecutorError as exc:
        msg = str(exc)
        return _error(msg if "stored so far" in msg else f"{msg}; nothing was run", 5)
    except StoreError as exc:
        return _error(str(exc), _STORE_EXIT.get(exc.kind, 4))
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished runs are in {db} (run the same command to resume)",
              file=sys.stderr)
        return 130
    finally:
        log.removeHandler(handler)
        log.propagate = True

    return _report_results(df, out, db, orders=(tasks, seeds))


def _report_results(df, out: Path, db: Path, orders, csv: bool = True, suffix: str = "") -> int:
    """Write results.csv (with ``csv``) and the figures, print the tables, the counts, the errors
    and the runs' warnings (once each, at the end); the exit status of compare."""
    from neurorec.experiment import format_summary, plot_cost, plot_energy, plot_summary

    csv_path = out / "results.csv" if csv else None
    png = out / f"summary{suffix}.png"
    cost_png = out / f"cost{suffix}.png"
    energy_png = out / f"energy{suffix}.png"
    has_energy = bool(df["metric"].astype(str).str.startswith("energy_").any())
    write_error = None
    try:
        if csv_path is not None:
            df.to_csv(csv_path, index=False)
        plot_summary(df, png)
        plot_cost(df, cost_png)
        if has_energy:
            plot_energy(df, energy_png)
    except OSError as exc:  # a read-only or full output folder: still print the table, then say so
        write_error = _write_error(exc, csv_path or png, db)
    print()
    print(format_summary(df))
    print()
    n_err = int(df.loc[df["status"] == "error", "run_key"].nunique())
    n_skip = int(df.loc[df["status"] == "skipped", "run_key"].nunique())
    n_runs = int(df["run_key"].nunique())
    print(f"{n_runs} runs: {n_runs - n_err - n_skip} ok, {n_skip} skipped, {n_err} errors")
    if n_err:
        errs = df[df["status"] == "error"].drop_duplicates("run_key")
        for _, r in errs.iterrows():
            print(f"  error: {r['model']} / {r['task']} / seed {r['seed']}: {r['error']}")
    caught = df.attrs.get("warnings") or {}
    if caught:
        print(f"warnings raised by the runs ({len(caught)} distinct):")
        for msg, runs in caught.items():
            where = ", ".join(runs[:2]) + (f" and {len(runs) - 2} more" if len(runs) > 2 else "")
            print(f"  {msg.splitlines()[0][:300]} ({len(runs)} run{'s' if len(runs) > 1 else ''}: {where})")
    n_dup = int(df.attrs.get("duplicate_runs", 0))
    if n_dup:
        print(f"{n_dup} runs were also computed by another process on this store ({db}); each is "
              f"stored once (run one compare per store at a time)")
    temporal = None
    if orders is not None:
        try:
            temporal = _temporal_orders(*orders, out / "temporal_order.csv")
        except OSError as exc:
            write_error = write_error or _write_error(exc, out / "temporal_order.csv", db)
    if write_error:
        print(f"results: {db}")
        return _error(write_error, 4)
    print(f"results: {db}" + (f"\n         {csv_path}" if csv_path else "") + f"\nplots:   {png}\n         {cost_png}")
    if has_energy:
        print(f"energy:  {energy_png}")
    if temporal is not None:
        print(f"orders:  {out / 'temporal_order.csv'}")
    return 1 if n_err else 0


_REPORT_EXIT = """exit status:
  0    the report was written
  2    no such results folder, or no result store in it
  3    the result store cannot be read (damaged, not a neurorec store, newer neurorec)
  4    the report file cannot be written"""


def _report(args) -> int:
    """``neurorec report RESULTS_DIR [-o OUT]``: one self-contained HTML file; nothing is run."""
    from neurorec.experiment.report import ReportError, write_report
    from neurorec.experiment.store import StoreError

    try:
        path = write_report(args.results_dir, args.out)
    except ReportError as exc:
        return _error(str(exc), 4 if exc.kind == "write" else 2)
    except StoreError as exc:  # any store that cannot be read, whatever its kind
        return _error(str(exc), 3)
    print(f"report: {path}")
    return 0


def _slurm_options(cfg: dict, out: Path) -> dict:
    """The config's [slurm] table, the jobs' output kept in OUT/slurm-logs unless it says where."""
    opts = dict(cfg.get("slurm") or {})
    opts.setdefault("log_directory", str(out / "slurm-logs"))
    return opts


def _write_error(exc: OSError, default: Path, db: Path) -> str:
    import errno

    path = exc.filename or default
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
    fix = "free some space and run the same command" if full else "make the folder writable, or use --out DIR"
    return (f"cannot write {path}: {exc.strerror or exc}; the results are in {db} (the table above "
            f"is complete): {fix}")


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


_TUNE_EXIT = """exit status:
  0    done: best parameters, validation and test scores printed
  1    no trial completed, or the test run of the best parameters failed
  2    bad input: unknown model or task, bad search space or config, storage not writable
  3/4  the result store cannot be read / written (as for compare)
  5    the executor cannot be used (Dask scheduler unreachable, no SLURM or a job request it refuses)
  130  interrupted (finished trials are in the storage; run the same command to resume)"""


def _tune(args) -> int:
    from neurorec.experiment.config import ConfigError
    from neurorec.experiment.specs import SpecError
    from neurorec.experiment.store import StoreError
    from neurorec.experiment.tune import TuneError, config_choice, load_tune_config, space_of_config, tune

    cfg = {"tune": {}, "models": [], "tasks": [], "path": "command line"}
    if args.config is not None:
        try:
            cfg = load_tune_config(args.config)
        except ConfigError as exc:
            return _error(str(exc))
    c = cfg["tune"]
    where = cfg["path"]

    def pick(items, ref, what):
        if items:   # a [[models]]/[[tasks]] entry of the config (or a class / task name)
            return config_choice(items, ref, what, where)
        if not ref:
            raise SpecError(f"give {what.upper()} (e.g. neurorec tune ESN narma10)")
        return ref

    try:
        model = pick(cfg["models"], args.model or c.get("model"), "model")
        task = pick(cfg["tasks"], args.task or c.get("task"), "task")
    except SpecError as exc:
        return _error(str(exc))
    jobs = args.jobs if args.jobs is not None else c.get("jobs", 1)
    out = args.out if args.out is not None else (Path(c["out"]) if "out" in c else None)
    try:
        from neurorec.experiment.tune import _optuna

        _optuna()
    except ImportError as exc:
        return _error(str(exc))
    slurm = c.get("slurm")
    if args.jobs == 0:
        return _error("--jobs must be a positive number (or -1 for one per CPU)")
    try:
        res = tune(model, task, trials=args.trials if args.trials is not None else c.get("trials", 50),
                   seed=args.seed if args.seed is not None else c.get("seed", 0), space=space_of_config(c),
                   storage=args.storage or c.get("storage"), study_name=args.study or c.get("study"), n_jobs=jobs,
                   executor=args.executor or c.get("executor", "local"), scheduler=args.scheduler or c.get("scheduler"),
                   slurm=slurm, out=out, timeout=args.timeout or c.get("timeout"),
                   pruner=c.get("pruner", True), test_seeds=c.get("seeds", [0]), progress=not args.no_progress)
    except (SpecError, ImportError) as exc:
        prefix = f"{where}: " if args.config else ""
        return _error(f"{prefix}{exc}".splitlines()[0])
    except TuneError as exc:
        return _error(str(exc).splitlines()[0], 1)
    except StoreError as exc:
        return _error(str(exc), _STORE_EXIT.get(exc.kind, 4))
    except KeyboardInterrupt:
        print("\ninterrupted; finished trials are in the study's storage (run the same command to resume)",
              file=sys.stderr)
        return 130
    except RuntimeError as exc:  # an executor that cannot start (Dask scheduler, SLURM): one line
        from neurorec.experiment import executors

        if isinstance(exc, executors.ExecutorError):
            return _error(f"{str(exc).splitlines()[0]}; no trial was run", 5)
        raise
    counts = ", ".join(f"{n} {s.lower()}" for s, n in res.counts.items() if n)
    print(f"neurorec tune: {res.model} on {res.task}, {sum(res.counts.values())} trials ({counts}) in "
          f"{res.seconds:.1f} s")
    print(f"best params (trial {res.best_trial}):")
    for k, v in res.best_params.items():
        print(f"  {k} = {v:.6g}" if isinstance(v, float) else f"  {k} = {v!r}")
    arrow = "higher" if res.direction == "maximize" else "lower"
    print(f"best validation {res.metric}: {res.best_value:.6g} ({arrow} is better)")
    df = res.test
    if len(df):
        rows = df[(df["split"] == "test") & (df["metric"] == res.metric)]
        per_seed = ", ".join(f"seed {int(r.seed)}: " + (f"{r.value:.6g}" if r.status == "ok" else r.status)
                             for r in rows.itertuples())
        print(f"test {res.metric} of {res.model}-tuned: {res.test_score:.6g} ({per_seed})")
    n_fail = res.counts.get("FAIL", 0)
    if n_fail:
        print(f"{n_fail} failed trial(s); first: {next((e for e in res.errors if e.startswith('trial')), '')}")
    print(f"study:   {res.study_name} in {res.storage}")
    if res.store is not None:
        print(f"results: {res.store}")
    if res.trials_csv is not None:
        print(f"trials:  {res.trials_csv}")
    if res.plots:
        print("plots:   " + "\n         ".join(str(p) for p in res.plots.values()))
    test_failed = len(df) and not (df.loc[df["split"] == "test", "status"] == "ok").all()
    return 1 if test_failed else 0


def _load_model(path: Path):
    """A saved neurorec model, or a one-line error message (str)."""
    from neurorec.base import load

    try:
        import neurorec.hardware.fixed_point  # noqa: F401  (registers the quantised model classes)
    except ImportError:
        pass
    try:
        return load(path)
    except (OSError, ValueError, TypeError) as exc:
        return f"cannot read {path}: {exc}"


def _export(args) -> int:
    if args.format.lower() != "nir":
        return _error(f"unknown export format {args.format!r}; supported: nir")
    model = _load_model(args.model)
    if isinstance(model, str):
        return _error(model)
    try:
        from neurorec.hardware import to_nir

        graph = to_nir(model, path=args.out, discretisation=args.discretisation, strict=not args.approximate)
    except ImportError as exc:
        return _error(str(exc))
    except (ValueError, TypeError, NotImplementedError) as exc:
        msg = str(exc).replace("strict=False", "--approximate")
        return _error(f"cannot export {args.model} to NIR: {msg}")
    except OSError as exc:
        return _error(f"cannot write {args.out}: {exc.strerror or exc}")
    approx = graph.metadata.get("neurorec_approximations") if hasattr(graph, "metadata") else None
    print(f"wrote {args.out}: {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    if approx is not None and len(approx):
        print(f"approximated (recorded in the graph's metadata): {approx}")
    return 0


def _hw_profiles(args) -> int:
    from neurorec.hardware import profiles

    try:
        df = profiles()
    except (ValueError, OSError) as exc:
        return _error(str(exc), 1)
    import pandas as pd

    with pd.option_context("display.max_columns", None, "display.width", 200, "display.max_colwidth", 40):
        print(df.to_string(index=False))
    return 0


def _model_or_graph(path: Path):
    if path.suffix.lower() == ".nir":
        if not path.is_file():
            return f"no file at {path}"
        return path
    return _load_model(path)


def _hw_check(args) -> int:
    from neurorec.hardware import check

    model = _model_or_graph(args.model)
    if isinstance(model, str):
        return _error(model)
    try:
        report = check(model, args.target)
    except ImportError as exc:
        return _error(str(exc))
    except (ValueError, TypeError, OSError) as exc:
        return _error(str(exc))
    print(report)
    return 0 if report.fits else 1


def _hw_energy(args) -> int:
    from neurorec.hardware import energy

    if args.model.suffix.lower() == ".nir":
        return _error(f"{args.model}: hardware energy needs a saved model (.safetensors) to count its operations on "
                      f"the task's data; a .nir graph has no input pipeline (neurorec.hardware.from_nir reads it "
                      f"back into a model)")
    model = _load_model(args.model)
    if isinstance(model, str):
        return _error(model)
    try:
        from neurorec.data import get_task

        task = get_task(args.task)
    except (KeyError, ValueError) as exc:
        return _error(str(exc).strip("'\""))
    if args.limit is not None and args.limit < 1:
        return _error("--limit must be a positive number")
    try:
        data = task.load(seed=args.seed)
        X = getattr(data, args.split).X
        if args.limit is not None:
            X = X[:args.limit]
        rows = [energy(model, X, name) for name in args.profile]
    except ImportError as exc:
        return _error(str(exc))
    except (ValueError, TypeError, OSError) as exc:
        return _error(str(exc))
    import pandas as pd

    df = pd.concat([r if isinstance(r, pd.DataFrame) else pd.DataFrame([r]) for r in rows], ignore_index=True)
    print(f"{df['model'].iloc[0]} on {args.task} ({args.split} split, seed {args.seed}, {len(X)} sequences): "
          f"operations and energy per inference")
    skip = {"model", "profile", "note", "covers"}
    table = df.set_index("profile")[[c for c in df.columns if c not in skip]].T
    with pd.option_context("display.max_columns", None, "display.width", 200, "display.float_format", "{:.6g}".format):
        print(table.to_string())
    for _, r in df.iterrows():
        if isinstance(r.get("note"), str) and r["note"]:
            print(f"note ({r['profile']}): {r['note']}")
    return 0


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
