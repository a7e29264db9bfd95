"""Bridge between neurorec's :class:`~neurorec.models.ESN` and reservoirpy (>= 0.4).

reservoirpy's ``Reservoir`` node implements the same leaky-integrator update as neurorec's
ESN, ``x[t] = (1-lr) x[t-1] + lr f(W x[t-1] + Win u[t] + bias)``, and its ``Ridge`` node the
same centred ridge estimator, so on the same weights the two give the same states and
outputs (tested to 1e-10 in float64).
"""

from __future__ import annotations

import numpy as np

from neurorec.backends.ops import require

_ACTS = ("tanh", "identity", "relu", "sigmoid")


def _dense(a) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def _nodes(obj):
    nodes = getattr(obj, "nodes", None)
    return list(nodes) if nodes is not None else [obj]


def from_reservoirpy(obj, **params):
    """Build a neurorec ESN from a reservoirpy ``Reservoir`` or ``Reservoir >> Ridge`` model.

    The reservoir must be initialised (run or fitted once) so its weights exist. If the model
    holds a fitted ``Ridge`` readout on the reservoir states, the ESN is returned fitted for
    regression with the same readout; otherwise call ``fit`` to train a readout on the fixed
    reservoir. Extra keyword arguments are ESN hyperparameters (e.g. ``dtype="float64"``).
    """
    rpy_nodes = require("reservoirpy.nodes")
    from neurorec.models import ESN

    nodes = _nodes(obj)
    res = [n for n in nodes if isinstance(n, rpy_nodes.Reservoir)]
    if len(res) != 1:
        raise ValueError(f"expected exactly one reservoirpy Reservoir node, found {len(res)}.")
    r = res[0]
    if not getattr(r, "initialized", False) or callable(r.W):
        raise ValueError("the reservoirpy Reservoir is not initialised yet: run or fit it once first.")
    act = getattr(r.activation, "__name__", "")
    if act not in _ACTS:
        raise ValueError(f"activation {act!r} has no neurorec equivalent (supported: {_ACTS}).")
    lr = np.asarray(r.lr, dtype=np.float64)
    if lr.ndim and not np.all(lr == lr.flat[0]):
        raise ValueError("per-unit leak rates are not supported by neurorec's ESN.")
    params = {"input_to_readout": False, "washout": 0, **params}
    esn = ESN(leak_rate=float(lr.flat[0]), activation=act, spectral_radius=float(r.sr or 0.0),
              **params)
    esn.set_reservoir(_dense(r.W), _dense(r.Win), np.asarray(r.bias, dtype=np.float64))
    ridge = [n for n in nodes if isinstance(n, rpy_nodes.Ridge)]
    if ridge and getattr(ridge[0], "Wout", None) is not None and not callable(ridge[0].Wout):
        rd = ridge[0]
        if rd.Wout.shape[0] != esn.units:
            raise ValueError("the Ridge readout does not read the reservoir states alone; "
                             "only Reservoir >> Ridge models are converted with their readout.")
        dt = np.dtype(esn.dtype)
        esn.W_out_ = _dense(rd.Wout).astype(dt)
        esn.b_out_ = np.asarray(rd.bias, dtype=np.float64).reshape(-1).astype(dt)
        esn.n_outputs_ = esn.W_out_.shape[1]
        esn.task_ = "regression"
        esn.ridge = float(rd.ridge)
    return esn


def to_reservoirpy(esn, ridge: float | None = None):
    """A reservoirpy ``Reservoir >> Ridge`` model with the ESN's weights (float64).

    The ESN must have ``input_to_readout=False`` and no feedback (reservoirpy's ``Reservoir``
    node has neither). When the ESN is a fitted regressor, the Ridge node carries its readout.
    """
    rpy_nodes = require("reservoirpy.nodes")
    if not hasattr(esn, "W_"):
        raise ValueError("the ESN has no reservoir yet: fit it (or call set_reservoir) first.")
    if esn.feedback:
        raise ValueError("an ESN with output feedback has no reservoirpy Reservoir equivalent.")
    reservoir = rpy_nodes.Reservoir(
        W=esn.W_.astype(np.float64), Win=esn.W_in_.astype(np.float64),
        bias=esn.bias_.astype(np.float64), lr=float(esn.leak_rate), activation=esn.activation)
    return reservoir >> ridge_node(esn, ridge, "Reservoir")


def ridge_node(esn, ridge: float | None = None, reservoir: str = "Reservoir", **kw):
    """reservoirpy's ``Ridge`` node for an ESN-like model's readout: its ridge (or ``ridge``),
    and the trained readout of a fitted regressor, which needs ``input_to_readout=False``
    (``reservoir``: the node it follows, for the message; ``kw``: more ``Ridge`` arguments)."""
    rpy_nodes = require("reservoirpy.nodes")
    kw["ridge"] = float(esn.ridge if ridge is None else ridge)
    if getattr(esn, "task_", None) == "regression":
        if esn.input_to_readout:
            raise ValueError(f"input_to_readout=True has no {reservoir} >> Ridge equivalent; "
                             f"convert an {type(esn).__name__} with input_to_readout=False.")
        kw.update(Wout=esn.W_out_.astype(np.float64), bias=esn.b_out_.astype(np.float64))
    return rpy_nodes.Ridge(**kw)
