"""Summaries of a :func:`~neurorec.experiment.compare` result: a table and a figure.

* :func:`summarize` — one row per task x model: the mean and standard deviation over seeds
  of the metric on a split (test by default), with mean fit seconds, parameter counts and
  peak memory; only runs with ``status == "ok"`` enter the statistics.
* :func:`format_summary` — the same as text: a task x model pivot of ``mean ± std``, then a
  pivot of fit seconds and parameters.
* :func:`plot_summary` — one PNG, one panel per task: the metric per model (bar = mean,
  error bar = std over seeds, dots = seeds), with the metric and its direction in the
  title. Rendered with matplotlib's Agg canvas, no display and no pyplot state.
* :func:`plot_energy` — one PNG, one panel per task: the test score against the estimated
  energy per inference (log scale) of every model on every chip profile, spiking and
  classical models side by side, the Pareto front marked (:func:`pareto_front`).

Rows whose metric is an operation count (``ops_*``) or an energy estimate (``energy_*``, see
:func:`~neurorec.experiment.compare.add_energy`) are not scores: the score statistics leave
them out, and :func:`summarize` reports the energies in columns of their own.
"""

from __future__ import annotations

import math
import textwrap

__all__ = ["summarize", "format_summary", "plot_summary", "plot_cost", "plot_energy", "pareto_front",
           "model_family", "chance_level", "FAMILY_COLORS"]

_ENERGY = "energy_"
_OPS = "ops_"


def _is_cost(metric) -> bool:
    return isinstance(metric, str) and metric.startswith((_OPS, _ENERGY))


def _scores_only(df):
    """The rows of the task's own metric (not the operation counts or energies)."""
    if "metric" not in df or df.empty:
        return df
    return df[~df["metric"].map(_is_cost).astype(bool)]


def _energy_metrics(df) -> list:
    if "metric" not in df:
        return []
    return [m for m in _ordered(df["metric"]) if isinstance(m, str) and m.startswith(_ENERGY)]


def _profile_of(metric: str) -> str:
    """``"energy_cmos45_J"`` -> ``"cmos45"``."""
    name = metric[len(_ENERGY):]
    return name[:-2] if name.endswith("_J") else name


def _ordered(values) -> list:
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def summarize(df, split: str = "test"):
    """Aggregate over seeds: one row per (task, model), in the order they appear in ``df``.

    Columns: ``task, model, metric, higher_is_better, mean, std, n_ok, n_runs, status,
    fit_seconds, predict_seconds, params_total, params_trained, peak_memory_mb, synops``.
    ``std`` is the sample standard deviation over seeds (NaN for one seed); ``status`` is
    ``"ok"``, ``"skipped"``, ``"error"`` (no run succeeded) or ``"partial"``.

    When ``df`` has energy rows (:func:`~neurorec.experiment.compare.add_energy`), also
    ``family`` (``"spiking"``, ``"classical"``, or ``""`` for a model whose operations were not
    counted) and one column per profile, ``energy_<profile>_J``: the mean over the successful
    seeds of the energy per inference (NaN when there is no estimate).
    """
    import pandas as pd

    cols = ["task", "model", "metric", "higher_is_better", "mean", "std", "n_ok", "n_runs",
            "status", "fit_seconds", "predict_seconds", "params_total", "params_trained",
            "peak_memory_mb", "synops"]
    full = df[df["split"] == split] if "split" in df else df
    energy_cols = _energy_metrics(full)
    if energy_cols:
        cols = cols + ["family"] + energy_cols
    part = _scores_only(full)
    out = []
    models = _ordered(part["model"])
    for task in _ordered(part["task"]):
        sub_task = part[part["task"] == task]
        # a detect task records several metrics (its own first): one row per metric; a run
        # without a metric row (none at all) counts under each
        metrics = [m for m in _ordered(sub_task["metric"]) if isinstance(m, str)] or [None]
        for metric in metrics:
            sub_t = sub_task[(sub_task["metric"] == metric) | sub_task["metric"].isna()]
            for model in models:
                sub = sub_t[sub_t["model"] == model]
                if sub.empty:
                    continue
                out.append(_summary_row(task, model, sub))
                if energy_cols:
                    out[-1].update(_energy_cells(full, task, model, energy_cols))
    return pd.DataFrame(out, columns=cols)


def _summary_row(task, model, sub) -> dict:
    """One (task, metric, model) row of :func:`summarize` from its runs ``sub``."""
    ok = sub[sub["status"] == "ok"]
    n_runs = int(sub["seed"].nunique())
    n_ok = int(ok["seed"].nunique())
    statuses = set(sub["status"])
    if statuses == {"ok"}:
        status = "ok"
    elif n_ok == 0:
        status = "skipped" if statuses == {"skipped"} else "error"
    else:
        status = "partial"
    vals = ok["value"].astype(float)
    hib = sub["higher_is_better"].dropna()
    return {
        "task": task, "model": model,
        "metric": str(sub["metric"].iloc[0]),
        "higher_is_better": bool(hib.iloc[0]) if len(hib) else False,
        "mean": float(vals.mean()) if n_ok else math.nan,
        "std": float(vals.std(ddof=1)) if n_ok > 1 else math.nan,
        "n_ok": n_ok, "n_runs": n_runs, "status": status,
        "fit_seconds": float(ok["fit_seconds"].mean()) if n_ok else math.nan,
        "predict_seconds": float(ok["predict_seconds"].mean()) if n_ok else math.nan,
        "params_total": _first(ok["params_total"]),
        "params_trained": _first(ok["params_trained"]),
        "peak_memory_mb": float(ok["peak_memory_mb"].mean()) if n_ok else math.nan,
        "synops": float(ok["synops"].mean()) if n_ok else math.nan,
    }


def _energy_cells(full, task, model, energy_cols) -> dict:
    sub = full[(full["task"] == task) & (full["model"] == model) & (full["status"] == "ok")]
    upd = sub.loc[sub["metric"] == _OPS + "neuron_updates", "value"].dropna()
    cells = {"family": "" if upd.empty else ("spiking" if float(upd.iloc[0]) > 0 else "classical")}
    for m in energy_cols:
        v = sub.loc[sub["metric"] == m, "value"].astype(float).dropna()
        cells[m] = float(v.mean()) if len(v) else math.nan
    return cells


def _first(s) -> float:
    s = s.dropna()
    return float(s.iloc[0]) if len(s) else math.nan


def _num(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "nan"
    return f"{v:.4g}"


def _seconds(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "?"
    if v < 1e-3:
        return "<1 ms"
    if v < 1:
        return f"{v * 1e3:.0f} ms"
    if v < 120:
        return f"{v:.3g} s"
    return f"{v / 60:.1f} min"


def _count(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "?"
    v = float(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{int(v)}"


def _joules(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    v = float(v)
    for div, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ"), (1e-12, "pJ")):
        if abs(v) >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v / 1e-15:.3g} fJ" if v else "0 J"


def _mean_std(mean, std, sep: str = "±") -> str:
    """``mean±std``: the mean to 4 significant digits, the spread to 2 (0 below the mean's 4th
    digit, which is rounding noise); the mean alone when the spread is NaN (one seed)."""
    text = _num(mean)
    if not math.isnan(std):
        sd = float(std)
        text += f"{sep}0" if sd <= 5e-5 * max(abs(float(mean)), 1e-12) else f"{sep}{sd:.2g}"
    return text


def _cell(r) -> str:
    """A score cell: ``mean±std`` (4 significant digits), ``(k/n)`` when some seeds failed."""
    if r["status"] == "skipped":
        return "-"
    if r["status"] == "error":
        return "error"
    text = _mean_std(r["mean"], r["std"])
    if r["n_ok"] < r["n_runs"]:
        text += f" ({r['n_ok']}/{r['n_runs']})"
    return text


def _best(st) -> str | None:
    """The model with the best mean of one (task, metric); None for a tie or fewer than 2."""
    ranked = st[st["n_ok"] > 0]
    if len(ranked) < 2:
        return None
    sign = 1.0 if st.iloc[0]["higher_is_better"] else -1.0
    score = sign * ranked["mean"].astype(float)
    top = score.max()
    winners = ranked[score >= top - 1e-9 * max(abs(top), 1.0)]
    return winners["model"].iloc[0] if len(winners) == 1 else None


def _fit_width(header: list[str], name_width: int, col_widths: list[int], width: int) -> list[list[int]]:
    """Column indices in groups whose rows fit in ``width`` characters (at least one per group)."""
    groups, cur, used = [], [], name_width
    for i, w in enumerate(col_widths):
        if cur and used + 2 + w > width:
            groups.append(cur)
            cur, used = [], name_width
        cur.append(i)
        used += 2 + w
    if cur:
        groups.append(cur)
    return groups


def _grid(title: str, rows: list[str], cols: list[tuple[str, str]], cells: dict, width: int) -> list[str]:
    """A models-as-rows text grid, columns (two header lines each) split into blocks that fit."""
    name_w = max([len("model")] + [len(r) for r in rows])
    col_w = []
    for j, (h1, h2) in enumerate(cols):
        w = max(len(h2), max((len(cells.get((r, j), "")) for r in rows), default=0), 6)
        col_w.append(max(w, min(len(h1), 28)))
    out = [title]
    for group in _fit_width([], name_w, col_w, width):
        def cut(text, w):
            return text if len(text) <= w else text[:w - 1] + "…"
        out.append("  ".join([" " * name_w] + [cut(cols[j][0], col_w[j]).rjust(col_w[j]) for j in group]))
        out.append("  ".join(["model".ljust(name_w)] + [cols[j][1].rjust(col_w[j]) for j in group]))
        for r in rows:
            out.append("  ".join([r.ljust(name_w)] + [cells.get((r, j), "").rjust(col_w[j]) for j in group]))
        out.append("")
    return out[:-1]


def _span(values) -> str:
    """``lo-hi`` of counts (one number when they agree)."""
    lo, hi = values.min(), values.max()
    return _count(lo) if lo == hi or math.isnan(lo) else f"{_count(lo)}-{_count(hi)}"


def format_summary(df, split: str = "test", width: int = 100) -> str:
    """The summary as text that reads at ``width`` columns.

    One table per task kind (forecast, classify, recall, detect, ...): models as rows, the kind's
    tasks (and, for detect tasks, each metric) as columns, a cell ``mean±std`` over seeds with
    ``*`` on the best model of the column and ``(k/n)`` when only ``k`` of ``n`` seeds succeeded;
    columns that do not fit in ``width`` continue in a second block. A model that did not run
    on a task shows ``-``, and the reasons are listed once below, not repeated in every cell. Then
    one row per model: its mean fit time and parameter counts over the tasks it ran (and
    synaptic operations per test sequence for spiking models; energy per inference when the
    frame has energy rows).
    """
    import pandas as pd  # noqa: F401  (summarize needs it)

    s = summarize(df, split)
    if s.empty:
        return f"(no {split} results)"
    full = df[df["split"] == split] if "split" in df else df
    kind_of = {}
    if "kind" in full:
        for task, kind in zip(full["task"], full["kind"], strict=True):
            kind_of.setdefault(task, kind if isinstance(kind, str) else "")
    models = _ordered(s["model"])
    lines = [f"{split} score: mean±std over seeds; * best in column; ↑/↓ higher/lower is better; - not run"]
    for kind in _ordered(kind_of.get(t, "") for t in s["task"]):
        cols, cells = [], {}
        keys = [(t, m) for t, m in _ordered(zip(s["task"], s["metric"], strict=True)) if kind_of.get(t, "") == kind]
        ran = set()
        for j, (task, metric) in enumerate(keys):
            st = s[(s["task"] == task) & (s["metric"] == metric)]
            arrow = "↑" if st.iloc[0]["higher_is_better"] else "↓"
            cols.append((task, f"{metric} {arrow}"))
            best = _best(st)
            for _, r in st.iterrows():
                cells[(r["model"], j)] = _cell(r) + ("*" if r["model"] == best else "")
                if r["status"] != "skipped":
                    ran.add(r["model"])
        rows = [m for m in models if m in ran]
        if rows:
            lines += [""] + _grid(f"{kind or 'tasks'} tasks", rows, cols, cells, width)
    # the cost of each model, over the tasks it ran
    has_synops = s["synops"].notna().any()
    cost = [f"{'model':<{max(len(m) for m in models)}}  {'fit (mean)':>10}  {'trained params':>15}  "
            f"{'total params':>13}" + ("  SynOps/seq" if has_synops else "")]
    for m in models:
        r = s[(s["model"] == m) & (s["n_ok"] > 0)].drop_duplicates("task")
        if r.empty:
            continue

        row = (f"{m:<{max(len(x) for x in models)}}  {_seconds(r['fit_seconds'].mean()):>10}  "
               f"{_span(r['params_trained']):>15}  {_span(r['params_total']):>13}")
        if has_synops:
            row += f"  {_count(r['synops'].mean()) if r['synops'].notna().any() else '':>11}"
        cost.append(row)
    lines += ["", "cost, over the tasks each model ran (ranges: they differ by task)"] + cost
    energy_cols = [col for col in s.columns if isinstance(col, str) and col.startswith(_ENERGY)]
    if energy_cols:
        rows = []
        for task in _ordered(s["task"]):
            st = s[s["task"] == task].drop_duplicates("model")
            for _, r in st.iterrows():
                if r["status"] == "skipped":
                    continue
                rows.append([task, r["model"]] + [r["status"] if r["n_ok"] == 0 else _joules(r[c])
                                                   for c in energy_cols])
        head = ["task", "model"] + [_profile_of(c) for c in energy_cols]
        w = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
        lines += [""] + textwrap.wrap(
            f"energy per inference ({split} split, mean over seeds): counted operations x the profile's energy "
            f"per operation; n/a: no estimate (a classical model on a neuromorphic profile, a figure the "
            f"profile lacks, or a model whose operations are not counted)", width)
        lines += ["  ".join(str(v).ljust(w[i]) if i < 2 else str(v).rjust(w[i]) for i, v in enumerate(x))
                  for x in [head] + rows]
    skipped = full[full["status"] == "skipped"].drop_duplicates("run_key") if "run_key" in full else full[:0]
    if len(skipped):
        lines += ["", "not run (-):"]
        for why, grp in skipped.groupby("error", sort=False):
            pairs = _ordered(zip(grp["model"], grp["task"], strict=True))
            lines += textwrap.wrap(f"{why}: {len(pairs)} model/task pair{'s' if len(pairs) > 1 else ''}", width,
                                   initial_indent="  ", subsequent_indent="    ")
    return "\n".join(lines)


#: Model families of the figures: the spiking (neuromorphic) ones in warm colours, the classical
#: ones in cool colours and grey, so the two are told apart at a glance.
FAMILY_COLORS = {"spiking": "#d62728", "reservoir": "#1f77b4", "gradient RNN": "#2ca02c",
                 "associative / Hebbian": "#9467bd", "other": "#7f7f7f"}
_FAMILY_OF_CLASS = {
    "spiking": ("LSM", "SpikingClassifier", "QuantizedSpikingClassifier", "SpikingDetector", "FixedPointNetwork"),
    "reservoir": ("ESN", "DeepESN", "IPESN", "NVAR", "OnlineReservoir", "ReservoirModelSpace"),
    "gradient RNN": ("Elman", "Jordan", "LSTM", "GRU", "KerasRNN", "RNNClassifier"),
    "associative / Hebbian": ("Hopfield", "ModernHopfield", "DenseAssociativeMemory", "HopfieldDetector", "Hebb",
                              "Oja", "Sanger", "BCM", "AntiHebbian"),
}


def model_family(model_class) -> str:
    """The family of a model class path (``"neurorec.models.reservoir:ESN"``) or name: ``"spiking"``,
    ``"reservoir"``, ``"gradient RNN"``, ``"associative / Hebbian"`` or ``"other"``; a class from a
    ``spiking`` module counts as spiking. A ``ForecastDetector`` is not known from its class alone."""
    if not isinstance(model_class, str) or not model_class:
        return "other"
    name = model_class.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    for fam, names in _FAMILY_OF_CLASS.items():
        if name in names:
            return fam
    return "spiking" if ".spiking" in model_class else "other"


def _families(df) -> dict:
    """model -> family, from the frame's ``model_class`` column (``"other"`` without one)."""
    if "model_class" not in df:
        return {}
    out = {}
    for m, c in zip(df["model"], df["model_class"], strict=True):
        if isinstance(c, str) and c:
            out.setdefault(m, model_family(c))
    return out


_CHANCE_CACHE: dict = {}


def chance_level(task: str, metric: str):
    """The score of a model that knows nothing, where theory gives one: NRMSE 1 (the target's
    mean), ROC-AUC 0.5, bit error rate 0.5, accuracy 1 / classes (the task loaded once for its
    class count; ``balanced_accuracy`` too). ``None`` otherwise."""
    fixed = {"nrmse": 1.0, "roc_auc": 0.5, "bit_error_rate": 0.5, "ber": 0.5}
    if metric in fixed:
        return fixed[metric]
    if metric not in ("accuracy", "balanced_accuracy"):
        return None
    if task not in _CHANCE_CACHE:
        try:
            from neurorec.data import get_task

            k = get_task(task).load(0).n_classes
            _CHANCE_CACHE[task] = 1.0 / k if k else None
        except Exception:  # noqa: BLE001 - no chance line rather than no figure
            _CHANCE_CACHE[task] = None
    return _CHANCE_CACHE[task]


def _legend_families(fig, families, summary: bool = True) -> None:
    from matplotlib.lines import Line2D

    used = [f for f in FAMILY_COLORS if f in set(families.values())] or ["other"]
    handles = [Line2D([], [], marker="o", ls="", color=FAMILY_COLORS[f], label=f) for f in used]
    if summary:
        handles.append(Line2D([], [], marker="|", ls="", color="k", markersize=12, label="mean ± std over seeds"))
        handles.append(Line2D([], [], color="0.3", ls="--", label="chance"))
    else:
        handles.append(Line2D([], [], marker="o", ls="", color="k", label="mean (bar: std) over seeds"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)


def plot_summary(df, path=None, split: str = "test", ncols: int | None = None, chance=None):
    """One figure that fits a page: one panel per task (and metric), models as rows.

    Each panel shows a model's seeds as dots, their mean as a bar tick with the standard
    deviation as a line; colours are model families (:data:`FAMILY_COLORS`: spiking models in red,
    classical ones in blue, green, purple, grey). The axis is zoomed to the data; an error metric
    (lower is better, all values positive) is on a log axis. The chance level
    (:func:`chance_level`, or ``chance={task: value}``) is drawn as a dashed line, or named at
    the edge when it lies outside the data's range. Models that did not run on a task are left
    out of its panel.

    Parameters
    ----------
    df : DataFrame
        A :func:`~neurorec.experiment.compare` result.
    path : str or Path, optional
        Write the figure there (PNG, 120 dpi).
    split : str
        Which split's metric to show.
    ncols : int, optional
        Panels per row (default: up to 3).
    chance : dict, optional
        ``{task: chance level}``, overriding :func:`chance_level`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = summarize(df, split)
    families = _families(df)
    part = _scores_only(df[df["split"] == split] if "split" in df else df)
    panels = _ordered(zip(s["task"], s["metric"], strict=True)) if not s.empty else []
    n = max(len(panels), 1)
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    most = max((int(((s["task"] == t) & (s["metric"] == m) & (s["status"] != "skipped")).sum())
                for t, m in panels), default=1)
    fig = Figure(figsize=(11.0, min(max(1.2 + 0.28 * most, 2.4) * nrows + 0.8, 15.5)), layout="constrained")
    FigureCanvasAgg(fig)
    if not panels:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, f"no {split} results", ha="center")
    for i, (task, metric) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        st = s[(s["task"] == task) & (s["metric"] == metric)]
        ran = st[st["status"] != "skipped"]
        models = list(ran["model"])[::-1]            # first model on top
        first = st.iloc[0]
        hib = bool(first["higher_is_better"])
        ax.set_title(f"{task}\n{metric} ({'higher' if hib else 'lower'} is better)", fontsize=9)
        values = []
        for y, mo in enumerate(models):
            color = FAMILY_COLORS[families.get(mo, "other")]
            pts = part[(part["task"] == task) & (part["model"] == mo) & (part["status"] == "ok")
                       & (part["metric"] == metric)]["value"].astype(float).to_numpy()
            pts = pts[np.isfinite(pts)]
            r = ran[ran["model"] == mo].iloc[0]
            if len(pts):
                values += list(pts)
                jitter = np.linspace(-0.18, 0.18, len(pts)) if len(pts) > 1 else np.zeros(1)
                ax.plot(pts, y + jitter, "o", color=color, ms=3.5, alpha=0.8, zorder=3)
                ax.plot([r["mean"]], [y], "|", color="k", ms=12, mew=1.6, zorder=4)
                if np.isfinite(r["std"]):
                    ax.plot([r["mean"] - r["std"], r["mean"] + r["std"]], [y, y], "-", color="k", lw=1, zorder=2)
            else:
                ax.text(0.02, y, r["status"], transform=ax.get_yaxis_transform(), va="center", fontsize=7,
                        color="dimgray")
        ax.set_yticks(range(len(models)), models, fontsize=8)
        ax.set_ylim(-0.6, len(models) - 0.4)
        vals = np.array(values)
        log = (not hib) and len(vals) and (vals > 0).all() and vals.max() / max(vals.min(), 1e-300) > 20
        if log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        if len(vals):
            lo, hi = float(vals.min()), float(vals.max())
            if log:
                ax.set_xlim(lo / 1.5, hi * 1.5)
            else:
                pad = 0.08 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-3)
                ax.set_xlim(lo - pad, hi + pad)
        level = (chance or {}).get(task, chance_level(task, metric)) if chance is not None else \
            chance_level(task, metric)
        if level is not None:
            x0, x1 = ax.get_xlim()
            if x0 <= level <= x1:
                ax.axvline(level, color="0.3", ls="--", lw=1, zorder=1)
            else:
                left = level < x0
                ax.text(0.01 if left else 0.99, 1.0, f"{'← ' if left else ''}chance {level:.3g}{'' if left else ' →'}",
                        transform=ax.transAxes, ha="left" if left else "right", va="bottom", fontsize=7,
                        color="0.3")
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=8)
    _legend_families(fig, families)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_cost(df, path=None, split: str = "test"):
    """Score against cost: one row of panels per task (its own metric), one column per cost
    measure: fit time (s), trained parameters, and, where the frame has them, synaptic
    operations per test sequence and the energy per inference of each chip profile (log axes).
    One point per model (mean over seeds, coloured by family as in :func:`plot_summary`,
    labelled with the model's name); the best corner (low cost, good score) is bottom left for
    error metrics, top left for scores.

    Returns the :class:`~matplotlib.figure.Figure` (written to ``path`` as PNG when given).
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = summarize(df, split)
    families = _families(df)
    tasks = _ordered(s["task"]) if not s.empty else []
    measures = [("fit_seconds", "fit time (s)"), ("params_trained", "trained parameters")]
    if not s.empty and s["synops"].notna().any():
        measures.append(("synops", "SynOps per sequence"))
    measures += [(c, f"energy, {_profile_of(c)} (J)") for c in s.columns if isinstance(c, str)
                 and c.startswith(_ENERGY) and s[c].notna().any()]
    nrows, ncols = max(len(tasks), 1), len(measures)
    fig = Figure(figsize=(3.4 * ncols + 0.6, min(2.7 * nrows + 0.8, 16.0)), layout="constrained")
    FigureCanvasAgg(fig)
    for i, task in enumerate(tasks):
        st = s[(s["task"] == task)]
        st = st[(st["metric"] == st["metric"].iloc[0]) & (st["n_ok"] > 0)]
        hib = bool(st.iloc[0]["higher_is_better"]) if len(st) else True
        for j, (col, label) in enumerate(measures):
            ax = fig.add_subplot(nrows, ncols, i * ncols + j + 1)
            shown = st[np.isfinite(st[col].astype(float)) & (st[col].astype(float) > 0)]
            for _, r in shown.iterrows():
                color = FAMILY_COLORS[families.get(r["model"], "other")]
                ax.errorbar(float(r[col]), r["mean"], yerr=None if math.isnan(r["std"]) else r["std"], fmt="o",
                            color=color, ms=5, capsize=2)
                ax.annotate(r["model"], (float(r[col]), r["mean"]), xytext=(3, 3), textcoords="offset points",
                            fontsize=6.5)
            if len(shown):
                from matplotlib.ticker import NullFormatter

                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
                vals = shown["mean"].astype(float)
                if not hib and (vals > 0).all() and vals.max() / vals.min() > 20:
                    ax.set_yscale("log")
                    ax.yaxis.set_minor_formatter(NullFormatter())
            else:
                ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", fontsize=8, color="0.4")
            if j == 0:
                ax.set_ylabel(f"{task}\n{st.iloc[0]['metric'] if len(st) else ''} "
                              f"({'higher' if hib else 'lower'} better)", fontsize=8)
            if i == nrows - 1:
                ax.set_xlabel(label, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3, which="both")
    if not tasks:
        fig.add_subplot(1, 1, 1).text(0.5, 0.5, f"no {split} results", ha="center")
    _legend_families(fig, families, summary=False)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def pareto_front(energy, score, higher_is_better: bool = True):
    """Which points are on the Pareto front of (low energy, good score).

    A point is on the front when no other point has an energy at most as high and a score at
    least as good, one of the two strictly. Points with a NaN energy or score are never on it.

    Returns
    -------
    ndarray of bool, one per point.
    """
    import numpy as np

    e = np.asarray(energy, dtype=np.float64)
    q = np.asarray(score, dtype=np.float64) * (1.0 if higher_is_better else -1.0)
    ok = np.isfinite(e) & np.isfinite(q)
    front = np.zeros(len(e), dtype=bool)
    for i in np.flatnonzero(ok):
        others = ok.copy()
        others[i] = False
        dominated = others & (e <= e[i]) & (q >= q[i]) & ((e < e[i]) | (q > q[i]))
        front[i] = not dominated.any()
    return front


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def plot_energy(df, path=None, split: str = "test", ncols: int | None = None):
    """Score against estimated energy per inference, one panel per task, Pareto front marked.

    Every (model, profile) with an energy estimate is a point: x the mean energy per inference
    over seeds (J, log scale), y the mean ``split`` score over seeds (error bar: std). Colour
    names the model (as in :func:`plot_summary`), the marker shape the profile, the fill the
    family: filled for spiking models, hollow for classical ones. The Pareto front (no point
    both cheaper and better, :func:`pareto_front`) is ringed and joined by a dashed staircase.
    A model without an estimate on a profile (NaN: a classical model on a neuromorphic chip) is
    not drawn; the summary table says why.

    Parameters
    ----------
    df : DataFrame
        A :func:`~neurorec.experiment.compare` result with energy rows (``energy_profiles``).
    path : str or Path, optional
        Write the figure there (PNG, 120 dpi).
    split : str
        Which split's score to plot (the energies are of the test split).
    ncols : int, optional
        Panels per row (default: up to 3).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    s = summarize(df, split)
    energy_cols = [c for c in s.columns if isinstance(c, str) and c.startswith(_ENERGY)]
    has = (s[energy_cols].notna().any(axis=1) & (s["n_ok"] > 0)) if energy_cols else s["n_ok"] < 0
    tasks = _ordered(s.loc[has, "task"])
    all_models = _ordered(s["model"])
    if len(all_models) <= 10:
        color_of = {mo: f"C{i}" for i, mo in enumerate(all_models)}
    else:
        from matplotlib import colormaps

        color_of = {mo: colormaps["tab20"](i % 20) for i, mo in enumerate(all_models)}
    marker_of = {c: _MARKERS[i % len(_MARKERS)] for i, c in enumerate(energy_cols)}
    n = max(len(tasks), 1)
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.6 * ncols + 2.2, 3.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    if not tasks:
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no energy estimates\n(run compare with energy_profiles)", ha="center",
                va="center", transform=ax.transAxes)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig
    used_models, used_profiles, families = [], [], set()
    for i, task in enumerate(tasks):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        st = s[(s["task"] == task) & (s["n_ok"] > 0)]
        first = st.iloc[0]
        hib = bool(first["higher_is_better"])
        pts = []   # (energy, mean, std, model, column, family)
        for _, r in st.iterrows():
            for col in energy_cols:
                e = r[col]
                if e is None or not np.isfinite(e) or not np.isfinite(r["mean"]) or e <= 0:
                    continue
                pts.append((float(e), float(r["mean"]), float(r["std"]), r["model"], col, r.get("family", "")))
        if not pts:
            ax.set_axis_off()
            continue
        E = np.array([p[0] for p in pts])
        Q = np.array([p[1] for p in pts])
        front = pareto_front(E, Q, hib)
        for (e, q, sd, mo, col, fam), on in zip(pts, front, strict=True):
            c = color_of[mo]
            spiking = fam == "spiking"
            families.add("spiking" if spiking else "classical")
            ax.errorbar([e], [q], yerr=[0.0 if not np.isfinite(sd) else sd], fmt=marker_of[col], color=c,
                        markerfacecolor=c if spiking else "white", markeredgecolor=c, markersize=7,
                        capsize=3, zorder=3)
            if on:
                ax.plot([e], [q], "o", markersize=15, markerfacecolor="none", markeredgecolor="black",
                        markeredgewidth=1.0, zorder=4)
            if mo not in used_models:
                used_models.append(mo)
            if col not in used_profiles:
                used_profiles.append(col)
        idx = np.flatnonzero(front)
        idx = idx[np.argsort(E[idx])]
        if len(idx) > 1:   # the staircase: each front point holds its score up to the next, costlier one
            xs, ys = [E[idx[0]]], [Q[idx[0]]]
            for j in idx[1:]:
                xs += [E[j], E[j]]
                ys += [ys[-1], Q[j]]
            ax.plot(xs, ys, "--", color="black", linewidth=0.8, zorder=2)
        ax.set_xscale("log")
        ax.set_xlim(E.min() / 2.0, E.max() * 2.0)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("estimated energy per inference (J)")
        ax.set_ylabel(f"{first['metric']} ({split})")
        ax.set_title(f"{task}\n{first['metric']} ({'higher' if hib else 'lower'} is better)", fontsize=10)
        ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], color=color_of[mo], marker="o", linestyle="", label=mo) for mo in used_models]
    handles += [Line2D([], [], color="gray", marker=marker_of[c], linestyle="", markerfacecolor="gray",
                       label=f"profile {_profile_of(c)}") for c in used_profiles]
    if "spiking" in families:
        handles.append(Line2D([], [], color="gray", marker="o", linestyle="", label="spiking (filled)"))
    if "classical" in families:
        handles.append(Line2D([], [], color="gray", marker="o", linestyle="", markerfacecolor="white",
                              label="classical (hollow)"))
    handles.append(Line2D([], [], color="black", marker="o", markerfacecolor="none", markersize=12,
                          linestyle="--", linewidth=0.8, label="Pareto front"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8, frameon=False)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
