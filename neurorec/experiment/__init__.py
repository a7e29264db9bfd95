"""Run grids of models x tasks x seeds and collect one honest table.

>>> from neurorec.experiment import compare
>>> df = compare({"ESN": ESN(units=300), "AR": LinearAR()}, ["mackey_glass"], seeds=[0, 1, 2],
...              store="results.sqlite")                                     # doctest: +SKIP

* :func:`compare` — the grid, returning a tidy :class:`pandas.DataFrame`
  (:data:`COLUMNS`), each finished run written to a store at once.
* :class:`SQLiteStore` / :class:`MemoryStore` — result stores; a re-run resumes.
* :func:`load_config` — TOML experiment configs (``neurorec compare CONFIG.toml``).
* :func:`summarize`, :func:`format_summary`, :func:`plot_summary`, :func:`plot_cost` — tables
  and figures (score per task; score against cost);
  :func:`add_energy`, :func:`plot_energy` — energy per inference on chip profiles, and score
  against energy with the Pareto front.
* :func:`tune` — hyperparameter search of one model on one task with Optuna (TPE), scored on
  the validation split, the best parameters scored on test into the same store.
* :func:`write_report` — one self-contained HTML report of a results folder (``neurorec report``).
"""

from neurorec.experiment.compare import COLUMNS, add_energy, compare, resolve_energy_profiles, runs_to_frame
from neurorec.experiment.config import ConfigError, default_config_path, energy_profiles, load_config
from neurorec.experiment.plots import (
    format_summary,
    model_family,
    pareto_front,
    plot_cost,
    plot_energy,
    plot_summary,
    summarize,
)
from neurorec.experiment.report import ReportError, write_report
from neurorec.experiment.runner import run_one
from neurorec.experiment.specs import SpecError, run_key
from neurorec.experiment.store import MemoryStore, SQLiteStore
from neurorec.experiment.tune import TuneError, TuneResult, tune

__all__ = [
    "COLUMNS", "compare", "runs_to_frame", "add_energy", "ConfigError", "default_config_path", "load_config",
    "energy_profiles", "format_summary", "plot_summary", "plot_cost", "model_family", "plot_energy",
    "pareto_front", "summarize", "run_one", "SpecError", "run_key", "MemoryStore", "SQLiteStore",
    "resolve_energy_profiles", "tune", "TuneResult", "TuneError", "write_report", "ReportError",
]
