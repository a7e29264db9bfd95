"""Summaries of a :func:`~neurorec.experiment.compare` result: a table and a figure.

* :func:`summarize` — one row per task x model: the mean and standard deviation over seeds
  of the metric on a split (test by default), with mean fit seconds, parameter counts and
  peak memory; only runs with ``status == "ok"`` enter the statistics.
* :func:`format_summary` — the same as text: a task x model pivot of ``mean ± std``, then a
  pivot of fit seconds and parameters.
* :func:`plot_summary` — one PNG, one panel per task: the metric per model (bar = mean,
  error bar = std over seeds, dots = seeds), with the metric and its direction in the
  title. Rendered with matplotlib's Agg canvas, no display and no pyplot state.
"""

from __future__ import annotations

import math

__all__ = ["summarize", "format_summary", "plot_summary"]


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
    """
    import pandas as pd

    cols = ["task", "model", "metric", "higher_is_better", "mean", "std", "n_ok", "n_runs",
            "status", "fit_seconds", "predict_seconds", "params_total", "params_trained",
            "peak_memory_mb", "synops"]
    part = df[df["split"] == split] if "split" in df else df
    out = []
    for task in _ordered(part["task"]):
        sub_t = part[part["task"] == task]
        for model in _ordered(part["model"]):
            sub = sub_t[sub_t["model"] == model]
            if sub.empty:
                continue
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
            out.append({
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
            })
    return pd.DataFrame(out, columns=cols)


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


def _cell(r) -> str:
    if r["status"] in ("skipped", "error"):
        return r["status"]
    text = _num(r["mean"])
    if not math.isnan(r["std"]):
        text += f" ± {_num(r['std'])}"
    if r["n_ok"] < r["n_runs"]:
        text += f" ({r['n_ok']}/{r['n_runs']} ok)"
    return text


def format_summary(df, split: str = "test") -> str:
    """The summary as text: metric ``mean ± std`` (task x model, ``*`` marks the best model
    of each task), then fit seconds, parameters (trained / total) and, for spiking models, the
    synaptic operations per test sequence (the model's ``synops_`` after predicting the test split)."""
    import pandas as pd

    s = summarize(df, split)
    if s.empty:
        return f"(no {split} results)"
    models = _ordered(s["model"])
    tasks = _ordered(s["task"])
    metric_rows, cost_rows = [], []
    for task in tasks:
        st = s[s["task"] == task]
        first = st.iloc[0]
        ranked = st[st["n_ok"] > 0]
        best = None
        if len(ranked) > 1:
            sign = 1.0 if first["higher_is_better"] else -1.0
            score = sign * ranked["mean"].astype(float)
            top = score.max()
            winners = ranked[score >= top - 1e-9 * max(abs(top), 1.0)]
            if len(winners) == 1:  # no star for a tie
                best = winners["model"].iloc[0]
        mrow = {"task": task, "metric": first["metric"],
                "better": "higher" if first["higher_is_better"] else "lower"}
        crow = {"task": task}
        for model in models:
            r = st[st["model"] == model]
            if r.empty:
                mrow[model] = crow[model] = ""
                continue
            r = r.iloc[0]
            mrow[model] = _cell(r) + (" *" if model == best else "")
            if r["n_ok"]:
                crow[model] = (f"{_seconds(r['fit_seconds'])}, {_count(r['params_trained'])} / "
                               f"{_count(r['params_total'])}")
                if not math.isnan(float(r["synops"])):
                    crow[model] += f", {_count(r['synops'])} SynOps"
            else:
                crow[model] = r["status"]
        metric_rows.append(mrow)
        cost_rows.append(crow)
    m = pd.DataFrame(metric_rows).to_string(index=False)
    c = pd.DataFrame(cost_rows).to_string(index=False)
    return (f"{split} metric: mean ± std over seeds (* best per task)\n{m}\n\n"
            f"fit time (mean over seeds), parameters trained / total"
            f"{', synaptic operations per test sequence' if s['synops'].notna().any() else ''}\n{c}")


def plot_summary(df, path=None, split: str = "test", ncols: int | None = None):
    """One figure, one panel per task: the ``split`` metric per model, mean ± std over seeds.

    A panel shows the models that ran on its task (those skipped there are left out), each in
    the same colour in every panel.

    Parameters
    ----------
    df : DataFrame
        A :func:`~neurorec.experiment.compare` result.
    path : str or Path, optional
        Write the figure there (PNG, 120 dpi).
    split : str
        Which split's metric to show.
    ncols : int, optional
        Panels per row (default: up to 4).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = summarize(df, split)
    tasks = _ordered(s["task"]) or ["(no results)"]
    all_models = _ordered(s["model"])
    if len(all_models) <= 10:   # one colour per model, the same in every panel
        color_of = {mo: f"C{i}" for i, mo in enumerate(all_models)}
    else:
        from matplotlib import colormaps

        color_of = {mo: colormaps["tab20"](i % 20) for i, mo in enumerate(all_models)}

    def shown(task):  # a model skipped on a task (unsupported kind, not in its task list) is left out
        st = s[s["task"] == task]
        return [mo for mo in all_models if ((st["model"] == mo) & (st["status"] != "skipped")).any()] or \
            [mo for mo in all_models if (st["model"] == mo).any()]

    n = len(tasks)
    ncols = ncols or min(n, 4)
    nrows = math.ceil(n / ncols)
    widest = max((len(shown(t)) for t in tasks), default=1)
    fig = Figure(figsize=(max(3.2, 0.9 * widest + 1.6) * ncols, 3.6 * nrows),
                 layout="constrained")
    FigureCanvasAgg(fig)
    part = df[df["split"] == split] if "split" in df else df
    for i, task in enumerate(tasks):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        st = s[s["task"] == task]
        if st.empty:
            ax.set_axis_off()
            continue
        models = shown(task)
        colors = [color_of[mo] for mo in models]
        first = st.iloc[0]
        direction = "higher" if first["higher_is_better"] else "lower"
        ax.set_title(f"{task}\n{first['metric']} ({split}, {direction} is better)", fontsize=10)
        x = np.arange(len(models))
        means = [st.loc[st["model"] == mo, "mean"].iloc[0] if (st["model"] == mo).any()
                 else math.nan for mo in models]
        stds = [st.loc[st["model"] == mo, "std"].iloc[0] if (st["model"] == mo).any()
                else math.nan for mo in models]
        ax.bar(x, np.nan_to_num(means), yerr=np.nan_to_num(stds), color=colors, alpha=0.75,
               capsize=4, edgecolor="black", linewidth=0.5)
        for j, mo in enumerate(models):
            pts = part[(part["task"] == task) & (part["model"] == mo) & (part["status"] == "ok")]
            vals = pts["value"].astype(float).to_numpy()
            if len(vals):
                jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
                ax.plot(j + jitter, vals, "o", color="black", markersize=3, zorder=3)
            else:
                row = st[st["model"] == mo]
                label = row["status"].iloc[0] if len(row) else "n/a"
                ax.text(j, 0.03, label, transform=ax.get_xaxis_transform(), ha="center",
                        va="bottom", rotation=90, fontsize=8, color="dimgray")
        ax.set_xticks(x, models, rotation=30 if len(models) > 2 else 0, ha="right"
                      if len(models) > 2 else "center", fontsize=9)
        ax.set_ylabel(str(first["metric"]))
        ax.grid(axis="y", alpha=0.3)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
