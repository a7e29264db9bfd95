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

__all__ = ["summarize", "format_summary", "plot_summary", "plot_energy", "pareto_front"]

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
    metric_rows, cost_rows, costed = [], [], set()
    for task, metric in _ordered(zip(s["task"], s["metric"], strict=True)):
        st = s[(s["task"] == task) & (s["metric"] == metric)]
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
        if task not in costed:                  # costs once per task, not per metric
            costed.add(task)
            cost_rows.append(crow)
    m = pd.DataFrame(metric_rows).to_string(index=False)
    c = pd.DataFrame(cost_rows).to_string(index=False)
    text = (f"{split} metric: mean ± std over seeds (* best per task and metric)\n{m}\n\n"
            f"fit time (mean over seeds), parameters trained / total"
            f"{', synaptic operations per test sequence' if s['synops'].notna().any() else ''}\n{c}")
    energy_cols = [col for col in s.columns if isinstance(col, str) and col.startswith(_ENERGY)]
    if energy_cols:
        rows = []
        for task in tasks:
            st = s[s["task"] == task]
            for col in energy_cols:
                row = {"task": task, "profile": _profile_of(col)}
                for model in models:
                    r = st[st["model"] == model]
                    if r.empty:
                        row[model] = ""
                    elif r.iloc[0]["n_ok"] == 0:
                        row[model] = r.iloc[0]["status"]
                    else:
                        row[model] = _joules(r.iloc[0][col])
                rows.append(row)
        e = pd.DataFrame(rows).to_string(index=False)
        text += (f"\n\nenergy per inference ({split} split, mean over seeds): counted operations x the "
                 f"profile's energy per operation; n/a: no estimate (a classical model on a neuromorphic "
                 f"profile, a figure the profile lacks, or a model whose operations are not counted)\n{e}")
    return text


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
    part = _scores_only(df[df["split"] == split] if "split" in df else df)
    for i, task in enumerate(tasks):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        st = s[s["task"] == task]
        if st.empty:
            ax.set_axis_off()
            continue
        st = st[st["metric"] == st["metric"].iloc[0]]        # the task's own metric (detect tasks have 3)
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
            pts = part[(part["task"] == task) & (part["model"] == mo) & (part["status"] == "ok")
                       & (part["metric"] == first["metric"])]
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
