r"""The long-time-lag task of Schmidhuber's history compressor (1991/1992).

Schmidhuber, *Learning complex, extended sequences using the principle of history
compression*, Neural Computation 4(2):234-242, 1992 (and the technical report *Neural sequence
chunkers*, FKI-148-91, 1991), tests his two-level predictor hierarchy on a stream over the
alphabet :math:`\{a, x, b_1, \dots, b_{20}\}` (22 symbols) made of blocks of 21 symbols, each
block either :math:`a\, b_1 b_2 \dots b_{20}` or :math:`x\, b_1 b_2 \dots b_{20}` with the first
symbol drawn at random; at the end of a block the network must tell which marker began it. The
chain :math:`b_1 \dots b_{20}` is the same in both, so the one informative symbol lies 20 steps
back, a lag that conventional gradient training of recurrent nets failed to bridge; a
predictor of the next symbol learns the chain at once and is surprised only by the markers.

Here (:func:`long_lag_sequences`, :func:`long_lag_task`):

- symbols ``0`` and ``1`` are the two markers (:math:`a`, :math:`x`); the chain is ``lag``
  distinct symbols drawn, in a random order, from the other ``n_symbols - 2`` (with the default
  ``n_symbols = lag + 2`` it is a random ordering of all of them, the paper's alphabet for
  ``lag = 20``). The seed draws the chain once: every sequence of a seed shares it;
- a block is ``[marker, chain[0], ..., chain[lag - 1]]``: ``lag + 1`` steps, the marker
  uniform on ``{0, 1}`` and independent from block to block;
- a sample is ``blocks`` consecutive blocks of the stream, ``blocks * (lag + 1)`` steps,
  classified at its end: the label is the marker of its **last** block, ``lag`` steps before
  the last step. With ``blocks = 1`` (the default) there are exactly two distinct sequences,
  as in the paper's block; with ``blocks > 1`` the earlier blocks are the stream the paper's
  system saw without episode boundaries, and their markers are distractors;
- inputs are one-hot, float32 ``(batch, blocks * (lag + 1), n_symbols)``, not scaled (the
  symbols are the data: a history compressor reads them as symbols); labels are int64
  ``0``/``1``, exactly half of each in every split (for an even split size).

Not reproduced: the paper's stream is scored at the end of *every* block; a sample here has one
label, the last block's.
"""

from __future__ import annotations

import numpy as np

from .._validation import check_positive_int
from .task import Split, Task, TaskData

__all__ = ["long_lag_chain", "long_lag_sequences", "long_lag_task"]


def _check(lag, n_symbols, blocks) -> tuple[int, int, int]:
    lag = check_positive_int(lag, "lag")
    blocks = check_positive_int(blocks, "blocks")
    if n_symbols is None:
        n_symbols = lag + 2
    n_symbols = check_positive_int(n_symbols, "n_symbols", minimum=3)
    if n_symbols < lag + 2:
        raise ValueError(f"n_symbols={n_symbols} is too small for a chain of lag={lag} distinct symbols "
                         f"after the 2 markers: it needs n_symbols >= lag + 2 = {lag + 2}.")
    return lag, n_symbols, blocks


def long_lag_chain(seed, lag: int = 20, n_symbols: int | None = None) -> np.ndarray:
    """The chain of a seed: ``lag`` distinct symbols of ``2 .. n_symbols - 1`` in a random order
    (int64 ``(lag,)``); :func:`long_lag_task` draws it from the first child of ``seed``."""
    lag, n_symbols, _ = _check(lag, n_symbols, 1)
    rng = np.random.default_rng(seed)
    return (2 + rng.permutation(n_symbols - 2)[:lag]).astype(np.int64)


def long_lag_sequences(n: int, chain, n_symbols: int, blocks: int = 1, rng=None,
                       balanced: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of ``blocks`` blocks ``[marker, *chain]``, one-hot; label = last marker.

    Parameters
    ----------
    n : int
        Number of samples.
    chain : array of int (lag,)
        The chain symbols (from :func:`long_lag_chain`).
    n_symbols : int
        Alphabet size (one-hot width); the markers are symbols 0 and 1.
    blocks : int
        Blocks per sample.
    rng : numpy Generator, int or None
    balanced : bool
        Exactly ``n // 2`` labels of each class (one more 0 for odd ``n``), in random order;
        otherwise each label is a fair coin. Markers of earlier blocks are always fair coins.

    Returns
    -------
    X : float32 (n, blocks * (len(chain) + 1), n_symbols)
    y : int64 (n,)
    """
    n = check_positive_int(n, "n")
    blocks = check_positive_int(blocks, "blocks")
    chain = np.asarray(chain, dtype=np.int64)
    rng = np.random.default_rng(rng)
    if balanced:
        y = rng.permutation(np.arange(n) % 2).astype(np.int64)
    else:
        y = rng.integers(2, size=n).astype(np.int64)
    markers = rng.integers(2, size=(n, blocks))
    markers[:, -1] = y
    block = len(chain) + 1
    sym = np.empty((n, blocks * block), np.int64)
    for k in range(blocks):
        sym[:, k * block] = markers[:, k]
        sym[:, k * block + 1:(k + 1) * block] = chain
    X = np.eye(n_symbols, dtype=np.float32)[sym]
    return X, y


def _load_long_lag(seed, *, lag, n_symbols, blocks, n_train, n_val, n_test):
    chain_seq, *split_seqs = np.random.SeedSequence(seed).spawn(4)
    chain = long_lag_chain(chain_seq, lag, n_symbols)
    splits = []
    for ss, n in zip(split_seqs, (n_train, n_val, n_test), strict=True):
        X, y = long_lag_sequences(n, chain, n_symbols, blocks, np.random.default_rng(ss))
        splits.append(Split(X, y))
    return TaskData(*splits, x_scaler=None, y_scaler=None, n_classes=2, n_outputs=None)


def long_lag_task(lag: int = 20, n_symbols: int | None = None, blocks: int = 1, n_train: int = 256,
                  n_val: int = 64, n_test: int = 128) -> Task:
    """Schmidhuber's (1992) long-lag task: which of two markers began a block of a fixed chain
    of ``lag`` symbols (see the module docstring); kind ``classify``, metric accuracy.

    The seed draws the chain and, independently, the ``n_train``, ``n_val`` and ``n_test``
    samples (each split from its own child of the seed). ``X`` is one-hot float32
    ``(n, blocks * (lag + 1), n_symbols)`` and not scaled; ``n_symbols`` defaults to
    ``lag + 2`` (22 for the paper's ``lag = 20``). Chance accuracy is 0.5.
    """
    lag, n_symbols, blocks = _check(lag, n_symbols, blocks)
    params = dict(lag=lag, n_symbols=n_symbols, blocks=blocks,
                  n_train=check_positive_int(n_train, "n_train", minimum=2),
                  n_val=check_positive_int(n_val, "n_val", minimum=2),
                  n_test=check_positive_int(n_test, "n_test", minimum=2))
    return Task("long_lag", "classify", "accuracy", params, _load_long_lag)
