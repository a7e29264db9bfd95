"""Run grids of models x tasks x seeds and collect one honest table.

>>> from neurorec.experiment import compare
>>> df = compare({"ESN": ESN(units=300), "AR": LinearAR()}, ["mackey_glass"], seeds=[0, 1, 2],
...              store="results.sqlite")                                     # doctest: +SKIP

* :func:`compare` — the grid, returning a tidy :class:`pandas.DataFrame`
  (:data:`COLUMNS`), each finished run written to a store at once.
* :class:`SQLiteStore` / :class:`MemoryStore` — result stores; a re-run resumes.
* :func:`load_config` — TOML experiment configs (``neurorec compare CONFIG.toml``).
* :func:`summarize`, :func:`format_summary`, :func:`plot_summary` — tables and figures.
"""

from neurorec.experiment.compare import COLUMNS, compare, runs_to_frame
from neurorec.experiment.config import ConfigError, default_config_path, load_config
from neurorec.experiment.plots import format_summary, plot_summary, summarize
from neurorec.experiment.runner import run_one
from neurorec.experiment.specs import SpecError, run_key
from neurorec.experiment.store import MemoryStore, SQLiteStore

__all__ = [
    "COLUMNS", "compare", "runs_to_frame", "ConfigError", "default_config_path", "load_config",
    "format_summary", "plot_summary", "summarize", "run_one", "SpecError", "run_key",
    "MemoryStore", "SQLiteStore",
]
