"""Helpers shared by the experiment scripts in this folder (not part of the neurorec package).

Each script is run as ``python experiments/<name>.py``, which puts this folder on ``sys.path``,
so the scripts import this module as ``_common``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_args(name: str, description: str, default_seeds=(0, 1, 2), extra=None) -> argparse.Namespace:
    """The command line every script shares: ``--seeds``, ``--out``, ``--quick``, ``--threads``."""
    p = argparse.ArgumentParser(prog=f"experiments/{name}.py", description=description)
    p.add_argument("--seeds", type=int, nargs="+", default=list(default_seeds),
                   help=f"seeds: each draws the data split (where the task has one), the initial weights and "
                        f"the mini-batch order (default: {' '.join(map(str, default_seeds))})")
    p.add_argument("--out", type=Path, default=HERE / "results" / name,
                   help=f"folder for the CSV and PNG files (default: experiments/results/{name}/)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: one seed, a couple of epochs; the numbers are not the experiment's")
    # One thread: these RNNs are small (batch x 64..128 units per step), and on a shared 2-core
    # machine two OpenMP threads measured 10-40x slower per epoch than one (they wait on each
    # other whenever another process holds a core).
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    if extra is not None:
        extra(p)
    args = p.parse_args()
    if args.quick and args.seeds == list(default_seeds):
        args.seeds = args.seeds[:1]
    return args


def setup(threads: int) -> None:
    """Pin torch's CPU threads and use matplotlib's file-only backend."""
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    import matplotlib

    matplotlib.use("Agg")
    import torch

    torch.set_num_threads(threads)


def machine() -> str:
    """A one-line description of where the script ran."""
    import torch

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, torch {torch.__version__} "
            f"with {torch.get_num_threads()} threads, CPU")


def mean_std(series) -> str:
    """``"0.912 ± 0.004"`` (sample std over seeds; ``± nan`` for a single seed is shown as ``± -``)."""
    m, s = float(series.mean()), float(series.std(ddof=1)) if len(series) > 1 else float("nan")
    return f"{m:.3f} ± {s:.3f}" if s == s else f"{m:.3f} ± -"


class Timer:
    """Wall-clock seconds since creation."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0
