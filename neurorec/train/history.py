"""The per-epoch record of a training run, returned by :func:`neurorec.train.fit_module`."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["History", "BOOKKEEPING_KEYS"]

#: Record keys that are not metrics (left out of :meth:`History.plot` by default).
BOOKKEEPING_KEYS = ("epoch", "lr", "grad_norm", "seconds")


class History:
    """What happened in each epoch of a training run.

    Parameters
    ----------
    records : list of dict, optional
        One dict per epoch, in order. :func:`~neurorec.train.fit_module` writes the keys
        ``epoch`` (1-based), ``train_loss`` (mean of ``loss_fn`` over the epoch's batches,
        weighted by batch size, without the L1 penalty), every key returned by ``validate``,
        ``lr`` (learning rate of the first parameter group during the epoch), ``grad_norm``
        (largest total gradient 2-norm of the epoch's steps, measured before clipping) and
        ``seconds`` (wall time of the epoch, validation included).
    monitor : str
        The record key that early stopping, best weights and the plateau schedule watched.
    mode : {"min", "max"}
        Whether a smaller or a larger ``monitor`` is better.
    best_epoch : int or None
        The 1-based epoch whose ``monitor`` value was best (the first one on ties).
    best_value : float or None
        ``monitor`` at ``best_epoch``.
    stopped_early : bool
        True when training stopped because ``monitor`` did not improve for ``patience`` epochs.

    Examples
    --------
    >>> h = History([{"epoch": 1, "train_loss": 0.5}], monitor="train_loss", best_epoch=1, best_value=0.5)
    >>> len(h), h["train_loss"]
    (1, [0.5])
    """

    def __init__(self, records: list[dict[str, Any]] | None = None, *, monitor: str = "val_loss",
                 mode: str = "min", best_epoch: int | None = None, best_value: float | None = None,
                 stopped_early: bool = False):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        self.records: list[dict[str, Any]] = [dict(r) for r in (records or [])]
        self.monitor = monitor
        self.mode = mode
        self.best_epoch = best_epoch
        self.best_value = best_value
        self.stopped_early = bool(stopped_early)

    # -- container protocol ------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, key: str | int):
        """``history["val_loss"]`` gives that metric over the epochs; ``history[i]`` the i-th record."""
        if isinstance(key, str):
            if not any(key in r for r in self.records):
                raise KeyError(f"no record has the key {key!r}; keys: {self.keys()}")
            return [r.get(key, math.nan) for r in self.records]
        return self.records[key]

    def keys(self) -> list[str]:
        """Every key that appears in a record, in first-seen order."""
        seen: dict[str, None] = {}
        for r in self.records:
            seen.update(dict.fromkeys(r))
        return list(seen)

    def __repr__(self) -> str:
        best = ""
        if self.best_epoch is not None:
            best = f", best {self.monitor}={self.best_value:.6g} at epoch {self.best_epoch}"
        stop = ", stopped early" if self.stopped_early else ""
        return f"History({len(self)} epochs{best}{stop})"

    # -- conversion ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_dict` rebuilds the same History."""
        return {"records": [dict(r) for r in self.records], "monitor": self.monitor, "mode": self.mode,
                "best_epoch": self.best_epoch, "best_value": self.best_value, "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""
        return cls(d.get("records", []), monitor=d.get("monitor", "val_loss"), mode=d.get("mode", "min"),
                   best_epoch=d.get("best_epoch"), best_value=d.get("best_value"),
                   stopped_early=d.get("stopped_early", False))

    def to_frame(self):
        """The records as a :class:`pandas.DataFrame`, one row per epoch, ``epoch`` a column."""
        import pandas as pd

        return pd.DataFrame.from_records(self.records, columns=self.keys() or None)

    def plot(self, ax=None, metrics: list[str] | str | None = None):
        """Plot metrics against the epoch, with the best epoch marked.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; a new figure is made (through pyplot, never shown) if omitted.
        metrics : str or list of str, optional
            Record keys to plot. Default: every key except ``epoch``, ``lr``, ``grad_norm``
            and ``seconds`` (so ``train_loss`` and the validation metrics).

        Returns
        -------
        matplotlib.axes.Axes
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        if metrics is None:
            metrics = [k for k in self.keys() if k not in BOOKKEEPING_KEYS]
        elif isinstance(metrics, str):
            metrics = [metrics]
        epochs = [r.get("epoch", i + 1) for i, r in enumerate(self.records)]
        for name in metrics:
            ax.plot(epochs, self[name], marker="o", markersize=3, label=name)
        if self.best_epoch is not None:
            ax.axvline(self.best_epoch, color="0.5", linestyle="--", linewidth=1,
                       label=f"best {self.monitor} (epoch {self.best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metrics[0] if len(metrics) == 1 else "value")
        if metrics:
            ax.legend()
        return ax
