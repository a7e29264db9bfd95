"""One self-contained HTML report of a results folder written by ``neurorec compare``.

>>> from neurorec.experiment import write_report
>>> write_report("results/default")                                          # doctest: +SKIP
PosixPath('results/default/report.html')

:func:`write_report` reads the folder's result store (``RESULTS_DIR/results.sqlite``, opened
read-only: nothing is run, computed again or written to it) and writes one HTML file that needs
nothing else: the figures are PNG images inline as ``data:`` URIs, the styles and the small
script that sorts the tables are inline, and the page names no other file or address (its
Content-Security-Policy forbids every fetch, so a browser opening it offline shows all of it).
It holds

* the run configuration: the models with their class and parameters (and per-task overrides),
  the tasks with their parameters, the seeds and the energy profiles, rebuilt from the specs
  stored with each run (the store keeps no config file; ``*.toml`` files found in the folder are
  shown as they are);
* the summary tables of :func:`~neurorec.experiment.plots.summarize` on the test split: the
  task x model table of ``mean ± std`` (``*`` the best model, as
  :func:`~neurorec.experiment.plots.format_summary` marks it), one row per task x model with
  every statistic, and the energy per inference when the runs counted operations; a click on a
  column header sorts a table (numbers as numbers; blanks last);
* the figures: :func:`~neurorec.experiment.plots.plot_summary`, and
  :func:`~neurorec.experiment.plots.plot_energy` when there are energy estimates (and
  ``plot_cost`` where that module has it);
* every run: status, scores, fit and predict seconds, parameter counts, memory, host, times, its
  parameters, and for a failed run its error with the traceback folded in ``<details>``;
* the versions of neurorec and of the engines installed where the report was written, and the
  neurorec version each run was computed with.

Every text from the store is HTML-escaped. A store with failed or skipped runs gives a report
that says so; a store without runs gives a short page saying it holds none.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

from neurorec.experiment.plots import _best, _joules, _mean_std, _ordered

__all__ = ["write_report", "ReportError", "STORE_NAME", "REPORT_NAME", "ENGINES", "engine_versions"]

#: The store file ``neurorec compare`` writes in its results folder.
STORE_NAME = "results.sqlite"
#: The report's default file name, in the results folder.
REPORT_NAME = "report.html"
#: Distributions whose versions the report lists when installed (read with importlib.metadata,
#: none of them imported).
ENGINES = ("neurorec", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "torch", "snntorch",
           "reservoirpy", "brian2", "aeon", "nir", "nirtorch", "norse", "rockpool", "sinabs", "safetensors",
           "dask", "distributed", "dask-jobqueue", "optuna", "stumpy", "pyod", "river", "mnist1d", "mlxtend")

_ENERGY_METRIC = re.compile(r"^energy_(.+)_J$")


class ReportError(RuntimeError):
    """A report that cannot be written: the message names the folder or file and what to do.

    Attributes
    ----------
    kind : str
        ``"missing"`` (the results folder does not exist or is not a folder), ``"no-store"``
        (it holds no result store) or ``"write"`` (the report file cannot be written).
    """

    def __init__(self, message: str, *, kind: str):
        super().__init__(message)
        self.kind = kind


# -- reading -----------------------------------------------------------------------------------
def _read_runs(db: Path) -> list[dict]:
    """Every run of the store ``db``, opened read-only (its checks for a damaged store, one of
    another kind or a newer neurorec's raise :class:`~neurorec.experiment.store.StoreError`)."""
    from neurorec.experiment.store import SQLiteStore

    if db.stat().st_size == 0:  # an empty file: SQLite's empty database, no runs
        return []
    store = SQLiteStore(db, read_only=True)
    try:
        return store.runs()
    finally:
        store.close()


def _energy_profile_names(results_dir: Path, runs: list[dict]) -> list[str]:
    """The profiles to price the runs' counted operations on: those whose energies ``compare``
    wrote to ``results.csv``, else the default profiles when some run counted operations."""
    names: list[str] = []
    table = results_dir / "results.csv"
    if table.is_file():
        try:
            with open(table, newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    m = _ENERGY_METRIC.match(row.get("metric") or "")
                    if m and m.group(1) not in names:
                        names.append(m.group(1))
        except (OSError, UnicodeDecodeError, csv.Error):
            names = []
    if names:
        return names
    counted = any(str(r.get("metric") or "").startswith("ops_") for run in runs for r in run.get("rows") or [])
    if not counted:
        return []
    from neurorec.experiment.config import DEFAULT_ENERGY_PROFILES

    return list(DEFAULT_ENERGY_PROFILES)


def _frame(runs: list[dict], profiles: list[str]) -> tuple[object, list[str], list[str]]:
    """The tidy frame of the runs with their energy rows; the profiles priced, and notes on the
    profiles that could not be."""
    from neurorec.experiment.compare import add_energy, runs_to_frame

    df = runs_to_frame(runs)
    priced, notes = [], []
    for name in profiles:
        try:
            add_energy(df.head(0), [name])  # resolves the profile; fails for an unknown one
            priced.append(name)
        except Exception as exc:  # noqa: BLE001 - a profile that no longer resolves: say so, go on
            notes.append(f"energy profile {name!r} could not be loaded: {exc}")
    if priced and not df.empty:
        df = add_energy(df, priced)
    return df, priced, notes


# -- formatting ----------------------------------------------------------------------------------
def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _isnan(v) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v)) or bool(v != v)
    except (TypeError, ValueError):
        return False


def _float(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _num(v, digits: int = 4) -> str:
    f = _float(v)
    return "" if math.isnan(f) else f"{f:.{digits}g}"


def _int(v) -> str:
    f = _float(v)
    return "" if math.isnan(f) else f"{int(round(f)):,}"


def _seconds(v) -> str:
    f = _float(v)
    if math.isnan(f):
        return ""
    if f < 1e-3:
        return f"{f * 1e6:.0f} µs"
    if f < 1:
        return f"{f * 1e3:.3g} ms"
    if f < 120:
        return f"{f:.3g} s"
    return f"{f / 60:.1f} min"


def _value(v) -> str:
    """A parameter value as TOML/JSON-like text."""
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _td(text, sort=None, cls: str | None = None, raw: bool = False) -> str:
    """A cell: ``text`` escaped (or ``raw`` HTML); ``sort`` the key the sort script uses (a
    number, or ``""`` for a blank that sorts last)."""
    attrs = ""
    if sort is not None:
        key = "" if _isnan(sort) else (repr(float(sort)) if isinstance(sort, (int, float)) else str(sort))
        attrs += f' data-sort="{_e(key)}"'
    if cls:
        attrs += f' class="{_e(cls)}"'
    return f"<td{attrs}>{text if raw else _e(text)}</td>"


def _table(headers: list[str], rows: list[list[str]], table_id: str, caption: str = "",
           sortable: bool = True) -> str:
    cls = ' class="sortable"' if sortable else ""
    cap = f"<caption>{_e(caption)}</caption>" if caption else ""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return (f'<div class="scroll"><table id="{_e(table_id)}"{cls}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _params_html(params: dict) -> str:
    if not params:
        return '<span class="muted">(none)</span>'
    return " ".join(f"<code>{_e(k)} = {_e(_value(v))}</code>" for k, v in sorted(params.items()))


def _spec(text) -> dict:
    if not text:
        return {}
    try:
        spec = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return spec if isinstance(spec, dict) else {}


# -- sections ---------------------------------------------------------------------------------------
def _config_section(results_dir: Path, runs: list[dict], profiles: list[str]) -> str:
    models: dict[str, dict] = {}
    tasks: dict[str, dict] = {}
    for run in runs:
        ms, ts = _spec(run.get("model_spec")), _spec(run.get("task_spec"))
        m = models.setdefault(run["model"], {"class": ms.get("class") or run.get("model_class") or "",
                                             "params": [], "overrides": {}, "tasks": []})
        params = ms.get("params") or {}
        if params not in m["params"]:
            m["params"].append(params)
        if ms.get("overrides"):
            m["overrides"][run["task"]] = ms["overrides"]
        if run["task"] not in m["tasks"]:
            m["tasks"].append(run["task"])
        t = tasks.setdefault(run["task"], {"class": ts.get("class") or "", "kind": run.get("kind") or "",
                                           "params": [], "seeds": []})
        tparams = ts.get("params") or {}
        if tparams not in t["params"]:
            t["params"].append(tparams)
        if run["seed"] not in t["seeds"]:
            t["seeds"].append(run["seed"])
    rows = []
    for name, m in models.items():
        params = "<br>".join(_params_html(p) for p in m["params"])
        if len(m["params"]) > 1:
            params = f'<span class="muted">{len(m["params"])} parameter sets in this store:</span><br>{params}'
        over = "<br>".join(f"<b>{_e(task)}</b>: {_params_html(o)}" for task, o in m["overrides"].items())
        rows.append([_td(name), _td(m["class"], cls="mono"), _td(params, raw=True, cls="params"),
                     _td(over or "", raw=True, cls="params"), _td(", ".join(m["tasks"]))])
    out = ["<section id=\"config\"><h2>Run configuration</h2>",
           "<p>Rebuilt from the model and task specs stored with every run (the parameters are all the "
           "model's hyperparameters, defaults included).</p>",
           _table(["model", "class", "parameters", "per-task overrides", "tasks run"], rows, "t-models", "Models")]
    trows = []
    for name, t in tasks.items():
        trows.append([_td(name), _td(t["class"], cls="mono"), _td(t["kind"]),
                      _td("<br>".join(_params_html(p) for p in t["params"]), raw=True, cls="params"),
                      _td(", ".join(str(s) for s in sorted(t["seeds"])))])
    out.append(_table(["task", "class", "kind", "parameters", "seeds"], trows, "t-tasks", "Tasks"))
    seeds = sorted({run["seed"] for run in runs})
    out.append(f"<p><b>Seeds:</b> {_e(', '.join(str(s) for s in seeds))}<br><b>Energy profiles:</b> "
               f"{_e(', '.join(profiles)) if profiles else '(none: no operations counted)'}</p>")
    for toml in sorted(results_dir.glob("*.toml"))[:5]:
        try:
            text = toml.read_text(encoding="utf-8")[:200_000]
        except (OSError, UnicodeDecodeError):
            continue
        out.append(f"<details><summary>config file {_e(toml.name)}</summary><pre>{_e(text)}</pre></details>")
    out.append("</section>")
    return "".join(out)


def _summary_section(df, split: str = "test") -> str:
    from neurorec.experiment.plots import format_summary, summarize

    s = summarize(df, split)
    out = ['<section id="summary"><h2>Summary</h2>']
    if s.empty:
        out.append(f"<p>No {split} results.</p></section>")
        return "".join(out)
    models = _ordered(s["model"])
    rows = []
    for task, metric in _ordered(zip(s["task"], s["metric"], strict=True)):
        st = s[(s["task"] == task) & (s["metric"] == metric)]
        first = st.iloc[0]
        hib = bool(first["higher_is_better"])
        best = _best(st)
        row = [_td(task), _td(metric), _td("higher" if hib else "lower")]
        for model in models:
            r = st[st["model"] == model]
            if r.empty:
                row.append(_td("", sort=""))
                continue
            r = r.iloc[0]
            if r["status"] in ("skipped", "error"):
                row.append(_td(r["status"], sort="", cls=f"st-{r['status']}"))
                continue
            text = _mean_std(_float(r["mean"]), _float(r["std"]), sep=" ± ")
            if r["n_ok"] < r["n_runs"]:
                text += f" ({r['n_ok']}/{r['n_runs']} ok)"
            if model == best:
                text += " *"
            row.append(_td(text, sort=float(r["mean"]), cls="best" if model == best else None))
        rows.append(row)
    out.append(_table(["task", "metric", "better"] + models, rows, "t-scores",
                      f"{split} metric: mean ± std over seeds (* best model per task and metric)"))
    energy_cols = [c for c in s.columns if isinstance(c, str) and _ENERGY_METRIC.match(c)]
    headers = ["task", "model", "metric", "mean", "std", "runs ok", "status", "fit (s)", "predict (s)",
               "params trained", "params total", "peak memory (MB)", "SynOps"]
    headers += [f"energy {_ENERGY_METRIC.match(c).group(1)} (J)" for c in energy_cols]
    lrows = []
    for _, r in s.iterrows():
        cells = [_td(r["task"]), _td(r["model"]), _td(r["metric"]), _td(_num(r["mean"]), sort=_float(r["mean"])),
                 _td(_num(r["std"]), sort=_float(r["std"])), _td(f"{r['n_ok']}/{r['n_runs']}", sort=int(r["n_ok"])),
                 _td(r["status"], cls=f"st-{r['status']}"),
                 _td(_num(r["fit_seconds"]), sort=_float(r["fit_seconds"])),
                 _td(_num(r["predict_seconds"]), sort=_float(r["predict_seconds"])),
                 _td(_int(r["params_trained"]), sort=_float(r["params_trained"])),
                 _td(_int(r["params_total"]), sort=_float(r["params_total"])),
                 _td(_num(r["peak_memory_mb"]), sort=_float(r["peak_memory_mb"])),
                 _td(_int(r["synops"]), sort=_float(r["synops"]))]
        cells += [_td(_joules(r[c]), sort=_float(r[c])) for c in energy_cols]
        lrows.append(cells)
    out.append(_table(headers, lrows, "t-summary",
                      f"per task and model, {split} split: mean over the successful seeds"))
    out.append(f"<details><summary>the same summary as text (as <code>neurorec compare</code> prints it)"
               f"</summary><pre>{_e(format_summary(df, split))}</pre></details></section>")
    return "".join(out)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figures_section(df, has_energy: bool) -> str:
    from neurorec.experiment import plots

    items = [("summary", "Test metric per model and task: mean ± std over seeds, one dot per seed.",
              plots.plot_summary)]
    if has_energy:
        items.append(("energy", "Test score against estimated energy per inference (log scale); the Pareto "
                                "front is ringed.", plots.plot_energy))
    if hasattr(plots, "plot_cost"):
        items.append(("cost", "Test score against cost: fit time, trained parameters and, where counted, "
                              "operations and energy per inference.", plots.plot_cost))
    out = ['<section id="figures"><h2>Figures</h2>']
    for name, caption, fn in items:
        try:
            data = _png(fn(df))
        except Exception as exc:  # noqa: BLE001 - one figure that cannot be drawn does not stop the report
            out.append(f'<p class="st-error">figure {_e(name)} could not be drawn: '
                       f"{_e(type(exc).__name__)}: {_e(exc)}</p>")
            continue
        out.append(f'<figure id="fig-{_e(name)}"><img src="data:image/png;base64,{data}" alt="{_e(name)} figure">'
                   f"<figcaption>{_e(caption)}</figcaption></figure>")
    out.append("</section>")
    return "".join(out)


def _own_row(run: dict, split: str) -> dict:
    """The run's row of its task's own metric on ``split`` (not an operation count or energy)."""
    for r in run.get("rows") or []:
        if r.get("split") == split and not str(r.get("metric") or "").startswith(("ops_", "energy_")):
            return r
    return {}


def _anchor(run: dict) -> str:
    return "run-" + re.sub(r"[^A-Za-z0-9_-]", "_", str(run.get("run_key")))


def _runs_section(runs: list[dict]) -> str:
    headers = ["model", "task", "seed", "status", "metric", "val", "test", "fit (s)", "predict test (s)",
               "params trained", "params total", "peak memory (MB)", "SynOps", "duration (s)", "host",
               "finished", "note", "details"]
    rows = []
    for run in runs:
        val, test = _own_row(run, "val"), _own_row(run, "test")
        status = run.get("status") or ""
        note = run.get("error") or ""
        note_html = _e(note)
        if status == "error":
            note_html = f'<a href="#{_anchor(run)}-error">{_e(note)}</a>'
        spec = _spec(run.get("model_spec"))
        detail = [("run key", run.get("run_key")), ("model class", run.get("model_class")),
                  ("started", run.get("started_at")), ("finished", run.get("finished_at")),
                  ("peak GPU memory (MB)", _num(run.get("peak_gpu_memory_mb"))),
                  ("neurorec", run.get("neurorec_version")), ("task spec", run.get("task_spec"))]
        kv = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in detail if v not in (None, ""))
        metric_rows = "".join(
            f"<tr><td>{_e(r.get('split'))}</td><td>{_e(r.get('metric'))}</td><td>{_e(_num(r.get('value'), 6))}</td>"
            f"<td>{_e(_seconds(r.get('predict_seconds')))}</td></tr>" for r in run.get("rows") or [])
        details = (f"<details><summary>more</summary><p>parameters: {_params_html(spec.get('params') or {})}</p>"
                   + (f"<p>overrides: {_params_html(spec['overrides'])}</p>" if spec.get("overrides") else "")
                   + f'<table class="kv">{kv}</table>'
                   + (f'<table class="kv"><thead><tr><th>split</th><th>metric</th><th>value</th>'
                      f"<th>predict</th></tr></thead><tbody>{metric_rows}</tbody></table>" if metric_rows else "")
                   + "</details>")
        rows.append([
            _td(run.get("model")), _td(run.get("task")), _td(run.get("seed"), sort=_float(run.get("seed"))),
            _td(status, cls=f"st-{status}"), _td(test.get("metric") or val.get("metric") or ""),
            _td(_num(val.get("value")), sort=_float(val.get("value"))),
            _td(_num(test.get("value")), sort=_float(test.get("value"))),
            _td(_num(run.get("fit_seconds")), sort=_float(run.get("fit_seconds"))),
            _td(_num(test.get("predict_seconds")), sort=_float(test.get("predict_seconds"))),
            _td(_int(run.get("params_trained")), sort=_float(run.get("params_trained"))),
            _td(_int(run.get("params_total")), sort=_float(run.get("params_total"))),
            _td(_num(run.get("peak_memory_mb")), sort=_float(run.get("peak_memory_mb"))),
            _td(_int(run.get("synops")), sort=_float(run.get("synops"))),
            _td(_num(run.get("duration_seconds")), sort=_float(run.get("duration_seconds"))),
            _td(run.get("host")), _td(run.get("finished_at")),
            _td(note_html, raw=True, cls="note"), _td(details, raw=True),
        ])
    out = ['<section id="runs"><h2>Runs</h2>',
           _table(headers, rows, "t-runs", "every stored run (val and test: the task's own metric)")]
    failed = [r for r in runs if r.get("status") == "error"]
    if failed:
        out.append(f'<h3 id="errors">Errors ({len(failed)})</h3>')
        for run in failed:
            tb = run.get("traceback") or "(no traceback stored)"
            out.append(f'<div class="error" id="{_anchor(run)}-error"><p><b>{_e(run.get("model"))} / '
                       f'{_e(run.get("task"))} / seed {_e(run.get("seed"))}</b>: {_e(run.get("error"))}</p>'
                       f"<details><summary>traceback</summary><pre>{_e(tb)}</pre></details></div>")
    hosts: dict[str, int] = {}
    for run in runs:
        hosts[run.get("host") or "?"] = hosts.get(run.get("host") or "?", 0) + 1
    out.append("<p><b>Hosts:</b> " + _e(", ".join(f"{h} ({n} runs)" for h, n in hosts.items())) + "</p></section>")
    return "".join(out)


def engine_versions() -> dict[str, str]:
    """``{distribution: version}`` of neurorec and the :data:`ENGINES` that are installed, read
    from their metadata (nothing is imported)."""
    from importlib import metadata

    out = {}
    for name in ENGINES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    if "neurorec" not in out:
        import neurorec

        out["neurorec"] = str(getattr(neurorec, "__version__", "unknown"))
    return out


def _versions_section(runs: list[dict]) -> str:
    rows = [[_td(k), _td(v)] for k, v in engine_versions().items()]
    rows.append([_td("python"), _td(platform.python_version())])
    used = _ordered(str(r.get("neurorec_version")) for r in runs if r.get("neurorec_version"))
    return ('<section id="versions"><h2>Versions</h2>'
            f"<p>Installed where this report was written ({_e(platform.node())}, {_e(platform.platform())}, "
            f"Python {_e(sys.version.split()[0])}).</p>"
            + _table(["package", "version"], rows, "t-versions", sortable=True)
            + (f"<p>The runs were computed with neurorec {_e(', '.join(used))}.</p>" if used else "")
            + "</section>")


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5em auto;max-width:1400px;
padding:0 1em;color:#1b1b1b;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
nav a{margin-right:1em}.muted{color:#666}.mono,code,pre{font-family:ui-monospace,Menlo,Consolas,monospace}
code{background:#f3f3f3;padding:0 .25em;border-radius:3px;font-size:.85em;white-space:nowrap;
display:inline-block;margin:1px 0}
pre{background:#f6f6f6;padding:.6em;overflow:auto;font-size:.85em;white-space:pre-wrap}
.scroll{overflow-x:auto;margin:.8em 0}
table{border-collapse:collapse;font-size:.9em}caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{background:#f0f0f0;position:sticky;top:0}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable thead th::after{content:" \\2195";color:#aaa}
table.sortable thead th[aria-sort=ascending]::after{content:" \\25B2";color:#333}
table.sortable thead th[aria-sort=descending]::after{content:" \\25BC";color:#333}
td.params{min-width:24em}td.best{font-weight:700}
.st-ok{color:#176317}.st-error{color:#a31515;font-weight:600}.st-skipped,.st-partial{color:#8a5a00}
table.kv{margin:.3em 0;font-size:.85em}table.kv th{background:#fafafa}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}.error{border-left:3px solid #a31515;padding-left:.8em;margin:.8em 0}
.empty{font-size:1.2em;padding:1em;background:#fff6e0;border:1px solid #e0c070}
"""

# Sorts a table.sortable by the clicked header: cells' data-sort (else their text); numbers as
# numbers, text in natural order; blanks last in both directions.
_SCRIPT = """
(function () {
  "use strict";
  function key(row, i) {
    var c = row.cells[i];
    if (!c) { return ""; }
    var k = c.getAttribute("data-sort");
    return (k !== null ? k : c.textContent).trim();
  }
  function isNum(s) { return s !== "" && isFinite(Number(s)); }
  function cmp(a, b) {
    var na = isNum(a), nb = isNum(b);
    if (na && nb) { return Number(a) - Number(b); }
    if (na !== nb) { return na ? -1 : 1; }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  function sortBy(th) {
    var table = th.closest("table"), body = table.tBodies[0];
    var i = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) {
      var a = key(r1, i), b = key(r2, i);
      if (a === "" || b === "") { return (a === "" ? 1 : 0) - (b === "" ? 1 : 0); }
      return dir * cmp(a, b);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable > thead th"), function (th) {
    th.tabIndex = 0;
    th.title = "sort by " + th.textContent;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); sortBy(th); }
    });
  });
})();
"""


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_STYLE}</style></head>\n<body>\n{body}\n"
            f"<script>{_SCRIPT}</script>\n</body></html>\n")


def _render(results_dir: Path, db: Path, runs: list[dict]) -> str:
    from datetime import UTC, datetime

    now = datetime.now(UTC).isoformat(timespec="seconds")
    title = f"neurorec report: {results_dir.resolve().name}"
    head = (f"<h1>{_e(title)}</h1><p class=\"muted\">store <code>{_e(db.resolve())}</code>, "
            f"report written {_e(now)} (reads the store only; nothing was run)</p>")
    if not runs:
        body = (head + '<p class="empty" id="no-runs">This result store holds no runs yet: there is nothing to '
                "report. Run <code>neurorec compare CONFIG.toml --out "
                f"{_e(results_dir)}</code> first.</p>" + _versions_section(runs))
        return _page(title, body)
    profiles = _energy_profile_names(results_dir, runs)
    df, profiles, notes = _frame(runs, profiles)
    has_energy = bool(df["metric"].astype(str).str.startswith("energy_").any())
    n = {s: sum(1 for r in runs if r.get("status") == s) for s in ("ok", "error", "skipped")}
    started = min((str(r.get("started_at")) for r in runs if r.get("started_at")), default="")
    finished = max((str(r.get("finished_at")) for r in runs if r.get("finished_at")), default="")
    models = _ordered(r["model"] for r in runs)
    tasks = _ordered(r["task"] for r in runs)
    seeds = sorted({r["seed"] for r in runs})
    head += (f'<p id="counts"><b>{len(runs)} runs</b>: {n["ok"]} ok, {n["error"]} errors, {n["skipped"]} skipped '
             f"({len(models)} models x {len(tasks)} tasks x {len(seeds)} seeds)"
             + (f"; computed from {_e(started)} to {_e(finished)}" if started else "") + "</p>")
    head += "".join(f'<p class="st-error">{_e(note)}</p>' for note in notes)
    head += ('<nav><a href="#config">configuration</a><a href="#summary">summary</a><a href="#figures">figures</a>'
             '<a href="#runs">runs</a>' + ('<a href="#errors">errors</a>' if n["error"] else "")
             + '<a href="#versions">versions</a></nav>')
    body = (head + _config_section(results_dir, runs, profiles) + _summary_section(df)
            + _figures_section(df, has_energy) + _runs_section(runs) + _versions_section(runs))
    return _page(title, body)


def write_report(results_dir, path=None) -> Path:
    """Write the HTML report of a results folder; returns the report's path.

    Parameters
    ----------
    results_dir : str or Path
        A folder written by ``neurorec compare`` (holding ``results.sqlite``). The store is only
        read; nothing is run.
    path : str or Path, optional
        The report file (default ``RESULTS_DIR/report.html``); its folder is created if missing.
        It is written whole or not at all (a temporary file renamed into place).

    Raises
    ------
    ReportError
        The folder does not exist or holds no store (``kind`` ``"missing"``, ``"no-store"``),
        or the report cannot be written (``"write"``).
    StoreError
        The store cannot be read: damaged, not a neurorec store, or written by a newer neurorec.
    """
    results_dir = Path(results_dir)
    if not results_dir.exists():
        raise ReportError(f"results folder {results_dir} does not exist; give the --out folder of a "
                          f"neurorec compare run", kind="missing")
    if not results_dir.is_dir():
        raise ReportError(f"{results_dir} is not a folder; give the --out folder of a neurorec compare run",
                          kind="missing")
    db = results_dir / STORE_NAME
    if not db.is_file():
        raise ReportError(f"{results_dir} holds no result store ({STORE_NAME}); run neurorec compare "
                          f"CONFIG.toml --out {results_dir} first", kind="no-store")
    runs = _read_runs(db)
    text = _render(results_dir, db, runs)
    out = Path(path) if path is not None else results_dir / REPORT_NAME
    tmp = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise ReportError(f"cannot write the report {out}: {exc.strerror or exc}; give another file "
                          f"with -o", kind="write") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return out
