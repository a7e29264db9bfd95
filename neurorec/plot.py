"""Plots of what the models compute, drawn with matplotlib.

Every function takes an ``ax=`` (a matplotlib Axes to draw into; several panels take a sequence
of Axes) and returns the :class:`~matplotlib.figure.Figure` it drew on. Without ``ax`` a new
figure is made with :class:`matplotlib.figure.Figure` (no pyplot state: nothing is shown or
kept open; save it with ``fig.savefig(path)``, or let Jupyter display it).

Spiking activity comes from the models' ``record(X)`` methods
(:meth:`~neurorec.models.SpikingClassifier.record`, :meth:`~neurorec.models.LSM.record`), which
return a :class:`~neurorec.models.spiking.NetworkRun` with every population's spikes and state
variables at every simulation step; a ``NetworkRun`` from :meth:`Network.run
<neurorec.models.spiking.Network.run>` works too.

=========================  ==============================================================
:func:`raster`             spike raster per population, each panel titled with its rate
:func:`traces`             membrane (or synaptic) traces of a few neurons over time
:func:`states`             a few reservoir units over time
:func:`state_pca`          the state trajectory in its first two principal components
:func:`hopfield_recall`    energy over recall sweeps, the stored patterns, the cue and the
                           recalled state
:func:`hebbian_weights`    a Hebbian learner's weights over training: alignment with the
                           principal eigenvectors (theory) and norm
:func:`weight_histogram`   a weight distribution (e.g. after STDP), optionally beside the
                           initial one
:func:`confusion`          confusion matrix (scikit-learn's display)
:func:`forecast`           forecast against truth, with the free-run horizon marked
:func:`learning_curves`    a training history (loss and metric per epoch)
=========================  ==============================================================
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

__all__ = ["raster", "traces", "states", "state_pca", "hopfield_recall", "hebbian_weights", "weight_histogram",
           "confusion", "forecast", "learning_curves"]


def _axes(ax, n: int = 1, *, figsize=None, ncols: int | None = None):
    """``(figure, [axes])``: the given Axes (one, or a sequence of ``n``) or a new figure's."""
    if ax is not None:
        axes = list(ax) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != n:
            raise ValueError(f"ax must be {n} Axes for this plot, got {len(axes)}.")
        return axes[0].figure, axes
    from matplotlib.figure import Figure

    ncols = ncols or n
    nrows = -(-n // ncols)
    fig = Figure(figsize=figsize or (5.0 * ncols, 3.2 * nrows), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    axes = list(grid.ravel())
    for extra in axes[n:]:
        extra.set_visible(False)
    return fig, axes[:n]


def _run_parts(run):
    spikes = getattr(run, "spikes", None)
    if spikes is None:
        raise TypeError(f"expected a NetworkRun (a spiking model's record(X)), got {type(run).__name__}.")
    return {k: np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v) for k, v in spikes.items()}


def _valid_steps(run, sample: int, T: int) -> int:
    lengths = getattr(run, "lengths", None)
    return int(np.asarray(lengths)[sample]) if lengths is not None else T


def raster(run, populations: Sequence[str] | str | None = None, *, sample: int = 0, max_neurons: int = 200,
           ax=None, markersize: float = 2.0):
    """Spike raster of one sequence of a recorded run: one panel per population (time in ms if
    the run knows its ``dt``, else steps; neuron index up), each titled with the population's
    mean rate over the batch (Hz) and the number of spikes shown.

    Parameters
    ----------
    run : NetworkRun
        From a spiking model's ``record(X)`` or :meth:`Network.run`.
    populations : str or sequence of str, optional
        Which populations (default: every recorded one that spiked, or all when none did).
    sample : int
        Which sequence of the batch.
    max_neurons : int
        At most this many neurons per population are drawn (the first ones).
    ax : Axes or sequence of Axes, one per population
    """
    spikes = _run_parts(run)
    if isinstance(populations, str):
        populations = [populations]
    if populations is None:
        populations = [p for p, s in spikes.items() if s.any() and p != "input"] or list(spikes)
    missing = [p for p in populations if p not in spikes]
    if missing:
        raise ValueError(f"no spikes recorded for {missing}; the run has {sorted(spikes)}.")
    fig, axes = _axes(ax, len(populations), figsize=(8, 2.2 * len(populations) + 0.6), ncols=1)
    dt = getattr(run, "dt", None)
    for a, pop in zip(axes, populations, strict=True):
        s = spikes[pop]
        if not 0 <= sample < s.shape[0]:
            raise ValueError(f"sample={sample} is out of range for a batch of {s.shape[0]}.")
        T = _valid_steps(run, sample, s.shape[1])
        s = s[sample, :T, :max_neurons]
        t, i = np.nonzero(s)
        scale = dt if dt else 1.0
        a.scatter(t * scale, i, s=markersize, marker="|", c="k", linewidths=0.8)
        a.set_xlim(0, T * scale)
        a.set_ylim(-0.5, s.shape[1] - 0.5)
        rate = f", {run.rates(pop).mean():.1f} Hz mean" if dt else ""
        a.set_title(f"{pop}: {len(t)} spikes{rate}")
        a.set_ylabel("neuron")
    axes[-1].set_xlabel("time (ms)" if dt else "step")
    return fig


def traces(run, population: str, variable: str = "v", *, neurons: Sequence[int] | int = 4, sample: int = 0,
           threshold: float | None = None, ax=None):
    """Traces of a state variable (``"v"``: membrane; ``"i_syn"``: synaptic current, ...) of a
    few neurons of one population over one recorded sequence, one line per neuron, with the
    neuron's spikes marked on its trace and an optional threshold line.

    ``neurons``: the indices, or a count (the most active neurons first, so spikes show)."""
    states_ = getattr(run, "states", {})
    key = (population, variable)
    if key not in states_:
        raise ValueError(f"{key} was not recorded; the run has {sorted(states_)} (record(X, variables=...)).")
    v = np.asarray(states_[key].detach().cpu().numpy() if hasattr(states_[key], "detach") else states_[key])
    T = _valid_steps(run, sample, v.shape[1])
    v = v[sample, :T]
    spikes = _run_parts(run).get(population)
    s = spikes[sample, :T] if spikes is not None else None
    if isinstance(neurons, (int, np.integer)):
        order = np.argsort(-s.sum(0), kind="stable") if s is not None else np.arange(v.shape[1])
        neurons = order[:int(neurons)]
    neurons = [int(n) for n in neurons]
    fig, (a,) = _axes(ax, figsize=(8, 3.2))
    dt = getattr(run, "dt", None) or 1.0
    t = np.arange(T) * dt
    for n in neurons:
        line, = a.plot(t, v[:, n], lw=1, label=f"neuron {n}")
        if s is not None and variable == "v":
            fired = np.nonzero(s[:, n])[0]
            a.plot(t[fired], v[fired, n], "o", ms=3, color=line.get_color())
    if threshold is not None:
        a.axhline(threshold, color="0.4", ls="--", lw=0.8, label="threshold")
    a.set(xlabel="time (ms)" if getattr(run, "dt", None) else "step", ylabel=variable,
          title=f"{population}: {variable} of {len(neurons)} neurons")
    a.legend(fontsize=7, loc="upper right")
    return fig


def _state_array(x) -> np.ndarray:
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
    if a.ndim == 3:
        if a.shape[0] != 1:
            raise ValueError(f"states of one sequence, (time, units) or (1, time, units); got {a.shape}.")
        a = a[0]
    if a.ndim != 2:
        raise ValueError(f"states must be (time, units); got shape {a.shape}.")
    return a


def states(x, *, units: Sequence[int] | int = 5, ax=None, title: str = "reservoir states"):
    """A few units of a state trajectory ``x`` (time, units), e.g. ``esn.transform(X)[0]``, over time."""
    a_ = _state_array(x)
    idx = list(range(min(int(units), a_.shape[1]))) if isinstance(units, (int, np.integer)) else list(units)
    fig, (a,) = _axes(ax, figsize=(8, 3))
    for i in idx:
        a.plot(a_[:, i], lw=1, label=f"unit {i}")
    a.set(xlabel="step", ylabel="state", title=f"{title}: {len(idx)} of {a_.shape[1]} units")
    a.legend(fontsize=7, loc="upper right", ncols=min(len(idx), 5))
    return fig


def state_pca(x, *, ax=None, title: str = "state trajectory"):
    """The trajectory of states ``x`` (time, units) in its first two principal components
    (scikit-learn's PCA), coloured by time; the axes give each component's explained variance."""
    from sklearn.decomposition import PCA

    a_ = _state_array(x)
    if a_.shape[1] < 2 or a_.shape[0] < 3:
        raise ValueError(f"a PCA of the trajectory needs at least 2 units and 3 steps; got {a_.shape}.")
    pca = PCA(n_components=2).fit(a_)
    z = pca.transform(a_)
    fig, (a,) = _axes(ax, figsize=(4.6, 4))
    a.plot(z[:, 0], z[:, 1], color="0.8", lw=0.6)
    sc = a.scatter(z[:, 0], z[:, 1], c=np.arange(len(z)), s=6, cmap="viridis")
    fig.colorbar(sc, ax=a, label="step")
    ev = pca.explained_variance_ratio_
    a.set(xlabel=f"PC1 ({ev[0]:.0%})", ylabel=f"PC2 ({ev[1]:.0%})", title=title)
    return fig


def _image(a, v: np.ndarray, shape, title: str) -> None:
    if shape is not None:
        a.imshow(v.reshape(shape), cmap="gray_r", interpolation="nearest")
        a.set_xticks([])
        a.set_yticks([])
    else:
        a.plot(v, lw=1)
    a.set_title(title, fontsize=8)


def hopfield_recall(model, cue, *, sweeps: int = 10, patterns: int = 4, stored=None, shape=None, ax=None):
    """Recall of one cue by a fitted Hopfield memory (:class:`~neurorec.models.Hopfield`,
    :class:`~neurorec.models.ModernHopfield`, :class:`~neurorec.models.DenseAssociativeMemory`),
    one sweep at a time: the energy after each sweep (left), the first ``patterns`` stored
    patterns, the cue and the recalled state (images when ``shape`` is given, e.g. ``(28, 28)``).

    ``stored``: the patterns to show (default: the model's ``patterns_``; the classical
    ``Hopfield`` keeps only its weights, so pass them, or none are shown). ``ax``: a sequence of
    ``k + 3`` Axes (energy, ``k`` patterns, cue, recalled)."""
    model._check_fitted("hopfield_recall")
    cue = np.asarray(cue, dtype=np.float64).reshape(1, -1)
    one = copy.deepcopy(model)
    one.max_steps = 1
    s = cue
    energy = [float(one.energy(s)[0])]
    for _ in range(int(sweeps)):
        new, _ = one.recall(s)
        s = np.asarray(new, dtype=np.float64).reshape(1, -1)
        energy.append(float(one.energy(s)[0]))
    if stored is None:
        stored = getattr(model, "patterns_", np.zeros((0, cue.shape[1])))
    stored = np.asarray(stored, dtype=np.float64).reshape(-1, cue.shape[1])
    k = min(int(patterns), len(stored))
    fig, axes = _axes(ax, k + 3, figsize=(2.0 * (k + 3) + 1.5, 2.6))
    a = axes[0]
    a.plot(np.arange(len(energy)), energy, "o-", ms=3)
    a.set(xlabel="sweep", ylabel="energy", title="energy over recall")
    for j in range(k):
        _image(axes[1 + j], stored[j], shape, f"stored {j}")
    _image(axes[k + 1], cue[0], shape, "cue")
    _image(axes[k + 2], s[0], shape, f"recalled ({sweeps} sweeps)")
    return fig


def hebbian_weights(model, X, *, chunks: int = 20, ax=None):
    """A Hebbian learner (:class:`~neurorec.models.Oja`, :class:`~neurorec.models.Sanger`, ...)
    trained on ``X`` in ``chunks`` online passes (:meth:`partial_fit` on a copy; the given model
    is not changed): left, the alignment :math:`|\\cos|` of each learned weight vector with the
    matching principal eigenvector of the covariance of ``X`` (numpy's ``eigh``: where Oja's
    and Sanger's rules converge); right, each weight vector's norm (1 at convergence)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be (samples, features); got shape {X.shape}.")
    learner = copy.deepcopy(model)
    for attr in [k for k in vars(learner) if k.endswith("_") and not k.startswith("_")]:
        delattr(learner, attr)
    _, vecs = np.linalg.eigh(np.cov(X - X.mean(0), rowvar=False))
    pcs = vecs[:, ::-1].T
    seen, align, norms = [], [], []
    for part in np.array_split(X, int(chunks)):
        if len(part):
            learner.partial_fit(part)
            W = np.asarray(learner.components_, dtype=np.float64)
            n = np.linalg.norm(W, axis=1)
            align.append(np.abs((W / np.where(n > 0, n, 1)[:, None]) @ pcs[:len(W)].T).diagonal())
            norms.append(n)
            seen.append(learner.n_samples_seen_)
    align, norms = np.array(align), np.array(norms)
    fig, (a, b) = _axes(ax, 2, figsize=(10, 3.3))
    for j in range(align.shape[1]):
        a.plot(seen, align[:, j], lw=1.2, label=f"w{j} vs PC{j + 1}")
        b.plot(seen, norms[:, j], lw=1.2, label=f"|w{j}|")
    a.set(xlabel="samples seen", ylabel="|cos|", ylim=(0, 1.05), title=f"{type(model).__name__}: alignment")
    b.set(xlabel="samples seen", ylabel="norm", title="weight norms")
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    return fig


def weight_histogram(weights, *, initial=None, bins: int = 40, w_max: float | None = None, ax=None,
                     title: str = "weights"):
    """Histogram of a weight distribution (e.g. the input weights after STDP, which Song, Miller &
    Abbott 2000 find bimodal at 0 and ``w_max``), with the ``initial`` one behind it when given."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    fig, (a,) = _axes(ax, figsize=(5, 3.3))
    edges = np.histogram_bin_edges(np.concatenate([w, np.asarray(initial, dtype=np.float64).ravel()])
                                   if initial is not None else w, bins=bins)
    if initial is not None:
        a.hist(np.asarray(initial, dtype=np.float64).ravel(), bins=edges, color="0.75", label="initial")
    a.hist(w, bins=edges, color="tab:blue", alpha=0.85, label="final")
    if w_max is not None:
        a.axvline(w_max, color="k", ls="--", lw=0.8, label="w_max")
    a.set(xlabel="weight", ylabel="synapses", title=title)
    a.legend(fontsize=7)
    return fig


def confusion(y_true, y_pred, *, labels=None, normalize: str | None = None, ax=None, title: str | None = None):
    """Confusion matrix of a classifier's predictions (scikit-learn's
    :class:`~sklearn.metrics.ConfusionMatrixDisplay`); ``normalize`` as scikit-learn's
    (``"true"``: rows sum to 1). The title gives the accuracy."""
    from sklearn.metrics import ConfusionMatrixDisplay

    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}.")
    fig, (a,) = _axes(ax, figsize=(4.6, 4))
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=labels, normalize=normalize, ax=a,
                                            colorbar=False, values_format=".2f" if normalize else "d")
    a.set_title(title or f"accuracy {np.mean(y_true == y_pred):.3f}")
    return fig


def forecast(y_true, y_pred, *, start: int = 0, free_run: int | None = None, channel: int = 0, ax=None,
             title: str = "forecast"):
    """A forecast ``y_pred`` against the truth ``y_true`` (time,) or (time, channels), from step
    ``start`` on the time axis; ``free_run``: the step where the model's own outputs start to
    feed it (shaded to the end, with the NRMSE of that part in the legend)."""
    yt, yp = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    yt = yt.reshape(len(yt), -1)[:, channel]
    yp = yp.reshape(len(yp), -1)[:, channel]
    if len(yt) != len(yp):
        raise ValueError(f"y_true and y_pred differ in length: {len(yt)} and {len(yp)}.")
    t = start + np.arange(len(yt))
    fig, (a,) = _axes(ax, figsize=(9, 3))
    a.plot(t, yt, "k-", lw=1.2, label="truth")
    label = "forecast"
    if free_run is not None:
        k = int(free_run) - start
        part = slice(max(k, 0), None)
        nrmse = np.sqrt(np.mean((yt[part] - yp[part]) ** 2)) / (np.std(yt) or 1.0)
        a.axvspan(free_run, t[-1], color="tab:orange", alpha=0.1)
        a.axvline(free_run, color="tab:orange", lw=1, ls="--")
        label = f"forecast (free run NRMSE {nrmse:.3g})"
    a.plot(t, yp, color="tab:blue", lw=1, label=label)
    a.set(xlabel="step", ylabel="value", title=title)
    a.legend(fontsize=7, loc="upper right")
    return fig


def learning_curves(history, *, ax=None, title: str = "training"):
    """A training history (a model's ``history``, :class:`neurorec.train.History`, or a pandas
    DataFrame or dict of lists, one row per epoch: ``loss`` and any other columns, e.g.
    ``val_accuracy``): losses on the left (log axis), the other metrics on the right."""
    import pandas as pd

    h = history.to_frame() if hasattr(history, "to_frame") else history
    h = h if isinstance(h, pd.DataFrame) else pd.DataFrame(h)
    h = h.drop(columns=[c for c in ("epoch",) if c in h])
    losses = [c for c in h if "loss" in c]
    others = [c for c in h if c not in losses and np.issubdtype(h[c].dtype, np.number)]
    fig, (a, b) = _axes(ax, 2, figsize=(10, 3.3))
    epochs = np.arange(1, len(h) + 1)
    for c in losses:
        a.plot(epochs, h[c], marker="o", ms=3, label=c)
    if losses and (h[losses] > 0).all().all():
        a.set_yscale("log")
    for c in others:
        b.plot(epochs, h[c], marker="o", ms=3, label=c)
    a.set(xlabel="epoch", ylabel="loss", title=title)
    b.set(xlabel="epoch", ylabel="metric", title="metrics")
    for x in (a, b):
        if x.lines:
            x.legend(fontsize=7)
    return fig
