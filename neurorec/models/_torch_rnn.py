"""The torch modules behind :mod:`neurorec.models.recurrent` (imported only when torch is needed).

Parameter names are part of neurorec's file format: the numpy inference path in
:mod:`neurorec.models.recurrent` reads the same names from the saved weights.

- ``rnn.*``: a :class:`torch.nn.RNN` / :class:`~torch.nn.LSTM` / :class:`~torch.nn.GRU`
  (batch first; cuDNN kernels on CUDA), torch's own gate order and names.
- ``jordan.{k}.weight/bias``: the Jordan network's hidden layers (layer 0 sees the input and
  the context), ``head.*`` its output layer.
- ``bn.*``: optional batch normalisation of the pooled features (classification).
- ``head.*``: the dense readout.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

_RNN = {"elman": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentNet(nn.Module):
    """Recurrent layers and a readout.

    Parameters
    ----------
    cell : {"elman", "lstm", "gru", "jordan"}
    n_in, units, layers, bidirectional, dropout : network shape
    n_out : int
        Classes (classification) or outputs per step (sequence regression).
    head : {"classify", "sequence"}
    pooling : {"last", "mean"}
        How a classifier turns the per-step outputs into one vector per sequence.
    batch_norm : bool
        Batch-normalise the pooled features before the dense readout (classification).
    context_decay : float
        Jordan only: the context is ``c_t = context_decay * c_{t-1} + y_{t-1}``.
    """

    def __init__(self, cell: str, n_in: int, units: int, layers: int, bidirectional: bool, dropout: float,
                 n_out: int, head: str, pooling: str, batch_norm: bool, context_decay: float = 0.0):
        super().__init__()
        self.cell, self.head_kind, self.pooling = cell, head, pooling
        self.n_out, self.units, self.context_decay = n_out, units, float(context_decay)
        self.drop = nn.Dropout(dropout)
        if cell == "jordan":
            sizes = [n_in + n_out] + [units] * layers
            self.jordan = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
            self.head = nn.Linear(units, n_out)
            self.bn = None
            return
        self.rnn = _RNN[cell](n_in, units, num_layers=layers, batch_first=True,
                              dropout=dropout if layers > 1 else 0.0, bidirectional=bidirectional)
        width = units * (2 if bidirectional else 1)
        self.bn = nn.BatchNorm1d(width) if batch_norm else None
        self.head = nn.Linear(width, n_out)

    # ----------------------------------------------------------------- Jordan
    def jordan_step(self, x_t, c):
        """One Jordan step: hidden ``h = tanh(W [x_t, c] + b)`` (then deeper tanh layers),
        output ``o = V h + d``; the context fed back is ``o`` (regression) or ``softmax(o)``."""
        z = torch.cat([x_t, c], -1)
        for lin in self.jordan:
            z = self.drop(torch.tanh(lin(z)))
        o = self.head(z)
        y = torch.softmax(o, -1) if self.head_kind == "classify" else o
        return o, self.context_decay * c + y

    def _jordan(self, x, c=None):
        B, T, _ = x.shape
        c = x.new_zeros(B, self.n_out) if c is None else c
        outs = []
        for t in range(T):
            o, c = self.jordan_step(x[:, t], c)
            outs.append(o)
        return torch.stack(outs, 1), c

    # ----------------------------------------------------------------- forward
    def run(self, x, lengths, hx=None):
        """Recurrent part: per-step outputs (B, T, width), final state per sequence.

        On CUDA the cuDNN kernels run in full float32: cuDNN's RNNs use TF32 tensor cores by
        default on Ampere and later GPUs (``torch.backends.cudnn.allow_tf32``), whose 10-bit
        mantissa moved outputs by ~1e-3 against the numpy engine on an H200. The flag is set for
        this call only (a context manager), never globally.
        """
        T = x.shape[1]
        uniform = bool((lengths == T).all())
        with _full_fp32(x):
            if uniform:
                out, h = self.rnn(x, hx)
                return out, h
            packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, h = self.rnn(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
        return out, h

    def forward(self, x, lengths):
        """Class scores (B, n_out) for a classifier, per-step outputs (B, T, n_out) otherwise."""
        B = x.shape[0]
        if self.cell == "jordan":
            o, _ = self._jordan(x)
            if self.head_kind == "sequence":
                return o
            if self.pooling == "last":
                idx = (lengths.to(x.device) - 1).clamp(min=0)
                return o[torch.arange(B, device=x.device), idx]
            return _masked_mean(o, lengths)
        out, h = self.run(x, lengths)
        if self.head_kind == "sequence":
            return self.head(self.drop(out) if self.drop.p else out)
        if self.pooling == "last":
            hn = h[0] if isinstance(h, tuple) else h            # (layers * dirs, B, units)
            feat = torch.cat([hn[-2], hn[-1]], -1) if self.rnn.bidirectional else hn[-1]
        else:
            feat = _masked_mean(out, lengths)
        if self.drop.p:     # Dropout(0) returns its input: skip the module call
            feat = self.drop(feat)
        if self.bn is not None:
            feat = self.bn(feat)
        return self.head(feat)


def _full_fp32(x):
    """cuDNN without TF32 for the duration of one call on a CUDA tensor (a no-op elsewhere)."""
    if not x.is_cuda:
        return contextlib.nullcontext()
    c = torch.backends.cudnn
    return c.flags(enabled=c.enabled, benchmark=c.benchmark, deterministic=c.deterministic, allow_tf32=False)


def _masked_mean(a, lengths):
    T = a.shape[1]
    lengths = lengths.to(a.device)
    m = (torch.arange(T, device=a.device)[None, :] < lengths[:, None]).to(a.dtype)
    return (a * m[..., None]).sum(1) / lengths[:, None].to(a.dtype)


def initialise(net: RecurrentNet, scheme: str) -> None:
    """Initialise weights: ``"orthogonal"`` (recurrent matrices orthogonal per gate block,
    input and readout weights Xavier-uniform, biases 0, LSTM forget-gate bias 1), ``"xavier"``
    (every weight matrix Xavier-uniform, biases 0, LSTM forget bias 1) or ``"torch"`` (torch's
    defaults)."""
    if scheme == "torch":
        return
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("bn."):
                continue
            if p.dim() == 1:
                p.zero_()
                if net.cell == "lstm" and name.startswith("rnn.bias_ih"):
                    p[net.units:2 * net.units] = 1.0     # forget gate
                continue
            if name.startswith("rnn.weight_hh") and scheme == "orthogonal":
                for k in range(p.shape[0] // net.units):
                    nn.init.orthogonal_(p[k * net.units:(k + 1) * net.units])
            elif name.startswith("rnn."):
                g = p.shape[0] // net.units
                for k in range(g):
                    nn.init.xavier_uniform_(p[k * net.units:(k + 1) * net.units])
            else:
                nn.init.xavier_uniform_(p)
