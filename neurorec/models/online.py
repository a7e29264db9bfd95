r"""Online readouts on a stream: a reservoir whose linear readout learns step by step.

:class:`OnlineReservoir` runs a reservoir (an :class:`~neurorec.models.ESN`, a
:class:`~neurorec.models.DeepESN` or the liquid of an :class:`~neurorec.models.LSM`) on a
stream, one input step (or a chunk of steps) at a time, and updates its readout
:math:`y[t] = W^\top z[t] + b` after every step with an online rule: least mean squares
(:class:`~neurorec.models.readout.LMS`) or recursive least squares
(:class:`~neurorec.models.readout.RLS`). Only the current reservoir state is kept, never a
history of states, so memory does not grow with the stream: the state, the weights and (RLS)
the :math:`D \times D` matrix :math:`P`.

With an ESN whose output is fed back (``reservoir_params={"feedback": True, ...}``) and the RLS
rule this is FORCE learning (Sussillo & Abbott, "Generating coherent patterns of activity from
chaotic neural networks", Neuron 63(4), 2009): the reservoir, chaotic on its own (spectral
radius ~1.5), is driven by its own output

.. math::

    x[t] = (1-a)\,x[t-1] + a \tanh\!\big(W x[t-1] + W_{in} u[t] + W_{fb}\, y[t-1] + b\big),
    \qquad y[t] = \tilde W[t]^\top z[t],

and RLS keeps the output close to the target from the first steps on, so the loop learns while
it runs closed (the output fed back is the one after the step's update, as in reservoirpy;
Sussillo & Abbott's code feeds back the output before it). After training, with learning off,
the loop generates the target on its own (:meth:`OnlineReservoir.step`).
"""

from __future__ import annotations

import numpy as np

from neurorec import _params as P
from neurorec._validation import check_sequence_targets, check_sequences, is_1d_target
from neurorec.base import Model
from neurorec.models.readout import LMS, RLS

__all__ = ["OnlineReservoir"]

_RESERVOIRS = ("ESN", "DeepESN", "LSM")
_RULES = {"lms": LMS, "rls": RLS}
_OWN = ("backend", "device", "dtype")       # set on OnlineReservoir, never in reservoir_params
_PARAM_NAMES = ("reservoir", "reservoir_params", "rule", "learning_rate", "alpha", "forgetting", "fit_bias",
                "learn_every", "washout", "chunk_size", "backend", "device", "dtype", "seed")


def _reservoir_class(name: str):
    from neurorec.models.deep import DeepESN
    from neurorec.models.reservoir import ESN
    from neurorec.models.spiking.lsm import LSM

    return {"ESN": ESN, "DeepESN": DeepESN, "LSM": LSM}[name]


# ------------------------------------------------------------------------------ reservoir streams
# A stream adapter draws a reservoir's weights and advances it on backend arrays, the state an
# explicit dict of arrays (batch first). ``run(U, state)`` takes a chunk of inputs (Tc, B, F) and
# returns the readout features (Tc, B, D); ``step(u, state)`` (feedback ESN only) one step, with
# the fed-back output in ``state["y"]``.
class _ESNStream:
    def __init__(self, esn):
        self.esn = self.model = esn
        self.ops = esn._ops()
        self.feedback = bool(esn.feedback)

    def init_weights(self, n_features: int, n_outputs: int) -> None:
        self.esn._init_reservoir(n_features, n_outputs)
        self.esn.n_features_in_ = n_features

    def n_readout(self, n_features: int) -> int:
        return self.esn.units + (n_features if self.esn.input_to_readout else 0)

    def zeros(self, B: int, n_outputs: int) -> dict:
        state = {"h": self.ops.zeros((B, self.esn.units))}
        if self.feedback:
            state["y"] = self.ops.zeros((B, n_outputs))
        return state

    def run(self, U, state):
        S = _esn_run(self.esn, U, state["h"])
        return self.esn._features(S, U)

    def step(self, u, state):
        from neurorec.models.reservoir import _step

        esn = self.esn
        WT, WinT, b, WfbT, W_dense = esn._step_weights(feedback=True)
        pre = u @ WinT + b + state["y"] @ WfbT
        _step(self.ops, state["h"], pre, WT, float(esn.leak_rate), esn.activation, W_dense)
        return esn._features(state["h"], u)


def _esn_run(esn, U, h):
    """The states (Tc, B, N) of ``esn``'s reservoir over inputs ``U`` (Tc, B, F), from ``h``
    (B, N), updated in place: the ESN's own step, as in ``ESN._run_chunks``."""
    from neurorec.models.reservoir import _step

    ops = esn._ops()
    WT, WinT, b, _, W_dense = esn._step_weights(feedback=False)
    D = U @ WinT
    D += b
    S = ops.empty(D.shape)
    tmp = None if ops.is_torch else np.empty(h.shape, dtype=ops.dtype)
    leak, act = float(esn.leak_rate), esn.activation
    for t in range(D.shape[0]):
        _step(ops, h, D[t], WT, leak, act, W_dense, tmp)
        S[t] = h
    return S


class _DeepESNStream:
    feedback = False

    def __init__(self, deep):
        self.deep = self.model = deep
        from neurorec.backends import get_ops

        self.ops = get_ops(deep.backend, deep.device, deep.dtype)

    def init_weights(self, n_features: int, n_outputs: int) -> None:
        reservoirs, n_in = {}, n_features              # the layers' draws, as DeepESN.fit makes them
        for i, esn in enumerate(self.deep._layer_models()):
            esn._init_reservoir(n_in, 0)
            reservoirs.update({f"W{i}": esn.W_, f"W_in{i}": esn.W_in_, f"bias{i}": esn.bias_})
            n_in = esn.units
        self.deep.reservoirs_ = reservoirs
        self.deep.n_features_in_ = n_features

    def n_readout(self, n_features: int) -> int:
        sizes = self.deep._sizes()
        return (sizes[-1] if self.deep.readout_layers == "top" else sum(sizes)) + \
            (n_features if self.deep.input_to_readout else 0)

    def zeros(self, B: int, n_outputs: int) -> dict:
        return {f"h{i}": self.ops.zeros((B, n)) for i, n in enumerate(self.deep._sizes())}

    def run(self, U, state):
        parts, x = [], U
        for i, esn in enumerate(self.deep.layers_):
            x = _esn_run(esn, x, state[f"h{i}"])
            parts.append(x)
        if self.deep.readout_layers == "top":
            parts = parts[-1:]
        if self.deep.input_to_readout:
            parts.append(U)
        return _cat(self.ops, parts)


def _cat(ops, parts):
    return np.concatenate(parts, -1) if ops.xp is np else ops.xp.cat(parts, -1)


class _LSMStream:
    """The LSM's liquid, advanced ``steps_per_input`` simulation steps per input sample with the
    shared neuron step function (the torch engine's and the numpy engine's arithmetic: in float64
    the spikes of ``LSM.transform``); readout features at the end of every sample, as the LSM's."""

    feedback = False

    def __init__(self, lsm):
        from neurorec.backends import get_ops

        self.lsm = self.model = lsm
        # brian2 simulates the LSM's numpy backend; a stream steps the float64 numpy engine instead
        self.ops = get_ops(lsm.backend, lsm.device, lsm.dtype if lsm.backend == "torch" else "float64")

    def init_weights(self, n_features: int, n_outputs: int) -> None:
        lsm = self.lsm
        rng = np.random.default_rng(np.random.SeedSequence(lsm.seed))      # LSM.fit's draw
        lsm._init_liquid(n_features, rng)
        lsm.x_mean_, lsm.x_scale_ = np.zeros(n_features), np.ones(n_features)   # a stream is not standardised
        lsm.n_features_in_ = n_features

    def n_readout(self, n_features: int) -> int:
        per = {"trace": 1, "membrane": 1, "both": 2}[self.lsm.features]
        return per * self.lsm.units + (n_features if self.lsm.input_to_readout else 0)

    def zeros(self, B: int, n_outputs: int) -> dict:
        z = self.ops.zeros((B, self.lsm.units))
        st = self.lsm._neuron().initial_state(z)
        return {"v": st.v, "i_syn": st.i_syn, "refrac": st.refrac, "trace": z * 0.0}

    def _weights(self):
        cache = self.__dict__.setdefault("_w", {})
        if "W_in" not in cache:
            lsm, ops = self.lsm, self.ops
            c = lsm._input_connection()
            cache["W_in"] = ops.asarray(c.weight.toarray() if hasattr(c.weight, "toarray") else c.weight)
            cache["W"] = ops.asarray(lsm.recurrent_weights())
            neuron = lsm._neuron()
            cache["neuron"], cache["decays"] = neuron, neuron.decays(lsm.dt)
        return cache

    def run(self, U, state):
        from neurorec.models.spiking.neurons import SynapticLIFState

        lsm, ops = self.lsm, self.ops
        w = self._weights()
        neuron, decays, W = w["neuron"], w["decays"], w["W"]
        xp = ops.xp
        a = float(np.exp(-lsm.dt / lsm.tau_filter))
        Tc, B, F = U.shape
        ones = ops.zeros((Tc, B, 1)) + 1.0
        cur_all = _cat(ops, [U, ones]) @ w["W_in"]                   # (Tc, B, N): input and bias
        st = SynapticLIFState(state["v"], state["i_syn"], state["refrac"])
        r = state["trace"]
        feats = []
        for t in range(Tc):
            cur = cur_all[t]
            for _ in range(lsm.steps_per_input):
                s, st = neuron.step(st, cur, lsm.dt, xp=xp, decays=decays)
                st = st._replace(i_syn=st.i_syn + s @ W)
                r = r * a + s
            parts = []
            if lsm.features in ("trace", "both"):
                parts.append(r)
            if lsm.features in ("membrane", "both"):
                parts.append(st.v)
            if lsm.input_to_readout:
                parts.append(U[t])
            feats.append(_cat(ops, parts))
        state.update(v=st.v, i_syn=st.i_syn, refrac=st.refrac, trace=r)
        return xp.stack(feats, 0)


_STREAMS = {"ESN": _ESNStream, "DeepESN": _DeepESNStream, "LSM": _LSMStream}


# ------------------------------------------------------------------------------ the model
class OnlineReservoir(Model):
    r"""A reservoir with a readout trained online, step by step, on a stream (LMS, RLS, FORCE).

    Each step :math:`t` advances the reservoir on the input :math:`u[t]`, reads its features
    :math:`z[t]` (the reservoir's readout features: state and input for the ESN, all layers'
    states and the input for the deep ESN, spike traces / membrane potentials and the input for
    the LSM), outputs :math:`y[t] = W^\top z[t] + b` and, when learning, updates :math:`W, b`
    towards the target with the rule:

    - ``rule="lms"``: :math:`W \leftarrow W - \eta\, z\, e^\top` (:class:`~neurorec.models.readout.LMS`);
    - ``rule="rls"``: recursive least squares with :math:`P_0 = I/\alpha` and forgetting factor
      :math:`\lambda` (:class:`~neurorec.models.readout.RLS`).

    Both equal reservoirpy 0.4's ``LMS`` and ``RLS`` nodes on the same states and targets (to
    round-off in float64; see the rules for RLS's bias). With an ESN with output feedback
    (``reservoir_params={"feedback": True}``) the output of every step is fed back into the
    reservoir through :math:`W_{fb}`, in training too: with RLS, FORCE learning (Sussillo &
    Abbott 2009; see the module docstring).

    **Streaming.** :meth:`partial_fit` takes one step ``(features,)``, a chunk of one stream
    ``(time, features)`` or a chunk of ``batch`` streams ``(batch, time, features)`` with its
    targets, advances the streams' state and updates the readout after every step (the
    streams' rows at one time step are one update of the shared readout). :meth:`step` advances
    the streams with learning off and returns the outputs; :meth:`reset_state` sets the streams
    back to rest (the readout stays). Nothing grows with the stream: the model holds the
    reservoir weights, the readout (and RLS's :math:`P`) and the streams' current state.

    **Model contract.** ``fit(X, y)`` starts afresh (new reservoir from ``seed``, zero readout)
    and streams the sequences of ``X`` (batch, time, features) in parallel, each step one
    update from all of them (ragged lists too); the streams' state is left at their end, so
    :meth:`partial_fit` continues them. ``predict(X)`` runs the reservoir from rest over ``X``
    with the current readout and learning off (closed loop with feedback), leaving the streams
    alone. ``save``/``load`` keep the readout, :math:`P` and the streams' state, so training can
    go on after loading.

    Parameters
    ----------
    reservoir : {"ESN", "DeepESN", "LSM"}, default "ESN"
        The reservoir family. Its readout hyperparameters (``ridge``, ``readout``, ``washout``,
        ...) play no part; its state and features are used.
    reservoir_params : dict or None
        Hyperparameters of the reservoir class (JSON values, saved with the model), e.g.
        ``{"units": 300, "spectral_radius": 1.5, "leak_rate": 0.1, "feedback": True}``. Its
        ``seed`` defaults to this model's. The LSM streams its inputs as given (no
        standardisation, which needs a training set: scale them beforehand; ``normalize=True``
        and ``stdp`` are refused) and is simulated with the step engine (numpy in float64, or
        torch).
    rule : {"rls", "lms"}, default "rls"
    learning_rate : float, default 1e-3
        LMS's :math:`\eta`.
    alpha : float, default 1.0
        RLS's :math:`P_0 = I/\alpha` (a ridge penalty that fades with the samples; Sussillo &
        Abbott's :math:`\alpha`).
    forgetting : float in (0, 1], default 1.0
        RLS's forgetting factor :math:`\lambda`.
    fit_bias : bool, default True
        Learn the bias :math:`b` (the weight of a constant input 1).
    learn_every : int, default 1
        Update the readout every ``learn_every`` steps (Sussillo & Abbott update every 2
        simulation steps); the steps between run with the current readout.
    washout : int, default 0
        Steps after every (re)start of the streams without updates (the start-up transient);
        also left out by ``score``.
    chunk_size : int, default 256
        Steps simulated together (without feedback, the reservoir runs a chunk, then the
        readout learns from it step by step): bounds memory at ``batch * chunk_size * D`` floats.
    backend : {"numpy", "torch"}
    device : str
    dtype : {"float32", "float64"}
        The reservoir's precision; the readout and :math:`P` are float64 on both backends.
    seed : int or None
        Seed of the reservoir's weights.

    Attributes
    ----------
    W_out_ : ndarray (D, outputs)
    b_out_ : ndarray (outputs,)
    P_ : ndarray (D', D')
        RLS only (:math:`D' = D + 1` with ``fit_bias``).
    state_ : dict of ndarray
        The streams' current state (batch first): ``h`` for the ESN (and ``y``, the fed-back
        output), ``h0, h1, ...`` per layer for the deep ESN, ``v, i_syn, refrac, trace`` for the
        liquid. Absent after :meth:`reset_state` until the next step.
    reservoir_arrays_, reservoir_state_ : dict
        The reservoir's fixed weights and non-array state (``reservoir_`` rebuilds it).
    n_features_in_, n_outputs_ : int
    n_steps_ : int
        Steps the streams have run since they (re)started.
    n_updates_ : int
        Readout updates made since ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from neurorec.models import OnlineReservoir
    >>> u = np.sin(np.arange(2001) * 0.1)[:, None]
    >>> m = OnlineReservoir("ESN", {"units": 100}, rule="rls", seed=0)
    >>> for t in range(2000):                  # one sample at a time
    ...     _ = m.partial_fit(u[t], u[t + 1])
    >>> float(abs(m.step(u[2000]) - np.sin(200.1))[0]) < 0.05
    True
    """

    _supported_kinds = frozenset({"forecast"})
    _trained_arrays = ("W_out_", "b_out_")

    _param_spec = {
        "reservoir": P.Options(*_RESERVOIRS), "reservoir_params": P.Any(), "rule": P.Options(*_RULES),
        "learning_rate": P.Real(0, closed="neither"), "alpha": P.Real(0, closed="neither"),
        "forgetting": P.Real(0, 1, closed="right"), "fit_bias": P.Bool(), "learn_every": P.Int(1),
        "washout": P.Int(0), "chunk_size": P.Int(1), "backend": P.Options("numpy", "torch"), "device": P.Str(),
        "dtype": P.Options("float32", "float64"), "seed": P.Seed(),
    }
    _search_space = {"learning_rate": {"low": 1e-5, "high": 1e-1, "log": True},
                     "alpha": {"low": 1e-4, "high": 1e2, "log": True},
                     "forgetting": {"low": 0.99, "high": 1.0}}

    def __init__(self, reservoir: str = "ESN", reservoir_params: dict | None = None, rule: str = "rls",
                 learning_rate: float = 1e-3, alpha: float = 1.0, forgetting: float = 1.0, fit_bias: bool = True,
                 learn_every: int = 1, washout: int = 0, chunk_size: int = 256, backend: str = "numpy",
                 device: str = "cpu", dtype: str = "float32", seed=None):
        self.reservoir = reservoir
        self.reservoir_params = reservoir_params
        self.rule = rule
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.forgetting = forgetting
        self.fit_bias = fit_bias
        self.learn_every = learn_every
        self.washout = washout
        self.chunk_size = chunk_size
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self.seed = seed

    # ------------------------------------------------------------------ configuration
    def _key(self) -> str:
        """The hyperparameters as a string (a cheap cache key: sklearn's get_params inspects)."""
        return repr([getattr(self, k) for k in _PARAM_NAMES])

    def _validate_params(self) -> None:
        super()._validate_params()
        self._reservoir_kwargs(check=True)
        self._cached()["valid"] = self._key()

    def _validate_if_changed(self) -> None:
        if self._cached().get("valid") != self._key():
            self._validate_params()

    def _reservoir_kwargs(self, check: bool = False) -> dict:
        rp = self.reservoir_params
        if rp is None:
            rp = {}
        if not isinstance(rp, dict) or not all(isinstance(k, str) for k in rp):
            raise P.ParameterError(f"OnlineReservoir(reservoir_params={rp!r}) is invalid: expected a dict of "
                                   f"{self.reservoir} hyperparameters or None.")
        own = sorted(set(rp) & set(_OWN))
        if own:
            raise P.ParameterError(f"OnlineReservoir(reservoir_params=...) sets {own}: set them on OnlineReservoir "
                                   f"itself (one backend, device and dtype for the reservoir and the readout).")
        kw = {"seed": self.seed, **rp, "backend": self.backend, "device": self.device, "dtype": self.dtype}
        if self.reservoir == "LSM":
            if rp.get("normalize", False):
                raise P.ParameterError("OnlineReservoir('LSM', {'normalize': True}) is invalid: a stream has no "
                                       "training set to standardise with; scale the inputs beforehand.")
            if rp.get("stdp") is not None:
                raise P.ParameterError("OnlineReservoir('LSM', {'stdp': ...}) is invalid: STDP pre-training needs "
                                       "the training set before the stream.")
            kw["normalize"] = False
        if check:
            cls = _reservoir_class(self.reservoir)
            unknown = sorted(set(kw) - set(cls().get_params(deep=False)))
            if unknown:
                raise P.ParameterError(f"OnlineReservoir(reservoir_params=...) has {unknown}, which "
                                       f"{self.reservoir} does not take.")
            try:
                cls(**kw)._validate_params()
            except ValueError as exc:
                raise P.ParameterError(f"OnlineReservoir(reservoir_params=...) is invalid: {exc}") from None
        return kw

    def _is_fitted(self) -> bool:
        return hasattr(self, "n_outputs_")

    def _readout_size(self) -> int:
        live = self.__dict__.get("_live_rule")
        if live is not None:
            return live.n_features_in_
        return int(np.shape(self.__dict__.get("_saved", {}).get("W_out_", np.zeros((0, 0))))[0])

    def _cached(self) -> dict:
        return self.__dict__.setdefault("_cache", {})

    def _stream(self):
        """The stream adapter of the reservoir (built from ``reservoir_params`` and the saved
        weights; rebuilt when the hyperparameters change)."""
        cache = self._cached()
        key = self._key()
        hit = cache.get("stream")
        if hit is not None and hit[0] == key and hit[1] is getattr(self, "reservoir_arrays_", None):
            return hit[2]
        model = _reservoir_class(self.reservoir)(**self._reservoir_kwargs())
        if hasattr(self, "reservoir_arrays_"):
            _restore(model, self.reservoir_arrays_, self.reservoir_state_)
        stream = _STREAMS[self.reservoir](model)
        if hasattr(self, "reservoir_arrays_"):
            fb = self.reservoir == "ESN" and stream.feedback != ("W_fb_" in self.reservoir_arrays_)
            if fb or stream.n_readout(self.n_features_in_) != self._readout_size():
                raise ValueError(f"reservoir_params={self.reservoir_params!r} no longer match the fitted "
                                 f"reservoir (its size or feedback changed): fit the model again.")
        cache["stream"] = (key, getattr(self, "reservoir_arrays_", None), stream)
        return stream

    @property
    def reservoir_(self):
        """The fitted reservoir model (an ESN, DeepESN or LSM holding the fixed weights)."""
        self._check_fitted("reservoir_")
        return self._stream().model

    def _rule(self):
        """The live readout rule on the current backend, with the current hyperparameters (built
        from the saved arrays after :meth:`load`, moved when the backend or device changed)."""
        live = self.__dict__.get("_live_rule")
        if live is not None and live._kind != self.rule:
            raise ValueError(f"this OnlineReservoir was fitted with rule={live._kind!r}, now rule={self.rule!r}: "
                             f"fit it again.")
        if live is None or live.backend != self.backend or str(live.device) != str(self.device):
            if live is not None:
                saved = {"W_out_": live.W_out_, "b_out_": live.b_out_, "n_updates_": live.n_updates_,
                         "P_": live.P_ if isinstance(live, RLS) else None}
            else:
                saved = self.__dict__.get("_saved", {})
                if "W_out_" not in saved:
                    self._check_fitted("the readout")
            if self.rule == "rls" and saved.get("P_") is None:
                raise ValueError("this OnlineReservoir has no RLS matrix P_ (it was fitted with rule='lms'): "
                                 "fit it again.")
            live = self._new_rule()
            live._set_state(saved["W_out_"], saved["b_out_"], saved.get("P_") if self.rule == "rls" else None,
                            saved.get("n_updates_", 0))
            self.__dict__["_live_rule"] = live
            self.__dict__.pop("_saved", None)
        if isinstance(live, LMS):
            live.learning_rate = self.learning_rate
        else:
            live.alpha, live.forgetting = self.alpha, self.forgetting
        return live

    def _new_rule(self):
        kw = {"learning_rate": self.learning_rate} if self.rule == "lms" else {"alpha": self.alpha,
                                                                                "forgetting": self.forgetting}
        return _RULES[self.rule](**kw, fit_bias=bool(self.fit_bias), backend=self.backend, device=self.device)

    # The readout's live arrays, read as numpy copies (saved with the model); load sets them.
    def _readout_value(self, name: str):
        if "_live_rule" in self.__dict__:
            rule = self._rule()
            if name == "P_" and not isinstance(rule, RLS):
                raise AttributeError("P_ exists for rule='rls' only.")
            return getattr(rule, name)
        saved = self.__dict__.get("_saved", {})
        if name in saved:
            return saved[name]
        raise AttributeError(f"{name}: this OnlineReservoir is not fitted.")

    def _set_saved(self, name: str, value) -> None:
        self.__dict__.pop("_live_rule", None)
        self.__dict__.setdefault("_saved", {})[name] = value

    W_out_ = property(lambda self: self._readout_value("W_out_"),
                      lambda self, v: self._set_saved("W_out_", np.asarray(v)), doc="Readout weights (D, outputs).")
    b_out_ = property(lambda self: self._readout_value("b_out_"),
                      lambda self, v: self._set_saved("b_out_", np.asarray(v)), doc="Readout bias (outputs,).")
    P_ = property(lambda self: self._readout_value("P_"),
                  lambda self, v: self._set_saved("P_", np.asarray(v)), doc="RLS's P (D', D').")
    n_updates_ = property(lambda self: int(self._readout_value("n_updates_")),
                          lambda self, v: self._set_saved("n_updates_", int(v)), doc="Readout updates made.")

    @property
    def state_(self) -> dict:
        """The streams' current state, numpy copies (batch first)."""
        st = self.__dict__.get("_state")
        if st is None:
            saved = self.__dict__.get("_saved_state")
            if saved is None:
                raise AttributeError("state_: the streams are at rest (no step since fit or reset_state).")
            return {k: np.array(v) for k, v in saved.items()}
        ops = self._stream().ops
        return {k: ops.to_numpy(v).copy() for k, v in st.items()}

    @state_.setter
    def state_(self, value):
        self.__dict__["_saved_state"] = {k: np.asarray(v) for k, v in dict(value).items()}
        self.__dict__.pop("_state", None)

    def _learned(self) -> dict:
        out = super()._learned()
        if self._is_fitted():
            for name in ("W_out_", "b_out_", "P_", "n_updates_", "state_"):
                try:
                    out[name] = getattr(self, name)
                except AttributeError:
                    pass
        return out

    def _live_state(self, B: int):
        """The streams' state as backend arrays; a resting state for ``B`` streams when none."""
        stream = self._stream()
        st = self.__dict__.get("_state")
        if st is None:
            saved = self.__dict__.pop("_saved_state", None)
            if saved is not None:
                st = {k: stream.ops.asarray(v) for k, v in saved.items()}
            else:
                st = stream.zeros(B, self.n_outputs_)
            self.__dict__["_state"] = st
        n = int(next(iter(st.values())).shape[0])
        if n != B:
            raise ValueError(f"the model streams {n} stream(s) but this chunk has {B}; call reset_state() to "
                             f"start {B} new streams.")
        return st

    def reset_state(self) -> OnlineReservoir:
        """Set the streams back to rest (zero state, no fed-back output); the readout stays. The
        next step may start any number of streams."""
        self._check_fitted("reset_state")
        self.__dict__.pop("_state", None)
        self.__dict__.pop("_saved_state", None)
        self.n_steps_ = 0
        return self

    # ------------------------------------------------------------------ the stream
    def _advance(self, U: np.ndarray, Y: np.ndarray | None, state: dict, valid: np.ndarray | None = None,
                 outputs: bool = False, step0: int = 0):
        """Run the streams over ``U`` (B, T, F) from ``state``; with targets ``Y`` (B, T, O) update
        the readout at the learning steps (rows with ``valid`` (B, T) only). Returns the outputs
        (B, T, O) numpy when ``outputs``. ``step0`` counts the steps run before ``U``."""
        stream, rule = self._stream(), self._rule()
        ops, rops = stream.ops, rule._get_ops()
        xp = ops.xp
        B, T, _ = U.shape
        O = self.n_outputs_
        out = np.empty((B, T, O)) if outputs else None
        learn_every, washout = int(self.learn_every), int(self.washout)
        dt = ops.dtype
        for t0 in range(0, T, int(self.chunk_size)):
            t1 = min(T, t0 + int(self.chunk_size))
            Uc = ops.asarray(np.ascontiguousarray(U[:, t0:t1].transpose(1, 0, 2)))        # (Tc, B, F)
            Yc = None if Y is None else rops.asarray(np.ascontiguousarray(Y[:, t0:t1].transpose(1, 0, 2)))
            mask = None
            if valid is not None and not valid[:, t0:t1].all():
                mask = valid[:, t0:t1].T
            if not stream.feedback:
                Za = rule._augment(stream.run(Uc, state))                               # (Tc, B, D')
                if outputs:
                    out[:, t0:t1] = rops.to_numpy(Za @ rule._W).transpose(1, 0, 2)
            for t in range(t1 - t0):
                n = step0 + t0 + t
                if stream.feedback:
                    za = rule._augment(stream.step(Uc[t], state))
                else:
                    za = Za[t]
                if Yc is not None and n >= washout and (n - washout) % learn_every == 0:
                    if mask is None:
                        rule._update(za, Yc[t])
                    elif mask[t].any():
                        keep = mask[t] if xp is np else rops.index(np.nonzero(mask[t])[0])
                        rule._update(za[keep], Yc[t][keep])
                if stream.feedback:
                    y = za @ rule._W                       # the output after the update, fed back
                    state["y"] = y.astype(dt) if xp is np else y.to(dt)
                    if outputs:
                        out[:, t0 + t] = rops.to_numpy(y)
        return out

    # ------------------------------------------------------------------ checks
    def _check_chunk(self, U, Y=None, method: str = "partial_fit"):
        """``U`` as (B, T, F) in the model's dtype, ``Y`` as (B, T, O) float64; the shape of the
        outputs to return."""
        dt = np.dtype(self.dtype)
        try:
            U = np.asarray(U.detach().cpu().numpy() if hasattr(U, "detach") else U, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{method}: U must be an array of real numbers, got {type(U).__name__}.") from None
        if U.ndim not in (1, 2, 3) or U.size == 0:
            raise ValueError(f"{method}: U must be one step (features,), a chunk of one stream (time, features) or "
                             f"of several (batch, time, features), non-empty; got shape {U.shape}.")
        F = U.shape[-1]
        n = getattr(self, "n_features_in_", None)
        if n is not None and F != n:
            raise ValueError(f"{method}: U has {F} features per step but this model was fitted with {n} "
                             f"(U shape {U.shape}); nothing was updated.")
        if not np.isfinite(U).all():
            raise ValueError(f"{method}: U contains NaN or infinite values; nothing was updated.")
        lead = U.shape[:-1]
        U3 = U.reshape({1: (1, 1), 2: (1, U.shape[0]), 3: U.shape[:2]}[U.ndim] + (F,)).astype(dt)
        if Y is None:
            return U3, None, lead
        Y = np.asarray(Y.detach().cpu().numpy() if hasattr(Y, "detach") else Y, dtype=np.float64)
        if Y.shape == lead:
            Y = Y[..., None]
        m = getattr(self, "n_outputs_", None)
        if Y.ndim != U.ndim or Y.shape[:-1] != lead or Y.shape[-1] == 0:
            raise ValueError(f"{method}: Y must have shape {(*lead, 'outputs')} to match U {U.shape}, got {Y.shape}; "
                             f"nothing was updated.")
        if m is not None and Y.shape[-1] != m:
            raise ValueError(f"{method}: Y has {Y.shape[-1]} outputs but this model was fitted with {m}; nothing "
                             f"was updated.")
        if not np.isfinite(Y).all():
            raise ValueError(f"{method}: Y contains NaN or infinite values; nothing was updated.")
        return U3, Y.reshape(U3.shape[:2] + (Y.shape[-1],)), lead

    def _start(self, n_features: int, n_outputs: int) -> None:
        """New reservoir weights and a zero readout."""
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        for k in ("_cache", "_live_rule", "_saved", "_state", "_saved_state"):
            self.__dict__.pop(k, None)
        self._validate_params()
        model = _reservoir_class(self.reservoir)(**self._reservoir_kwargs())
        stream = _STREAMS[self.reservoir](model)
        stream.init_weights(n_features, n_outputs)
        from neurorec.models.features import _split_state

        arrays, state, bad = _split_state(model, True)
        if bad:
            raise TypeError(f"cannot keep the reservoir's state {bad}.")
        self.reservoir_arrays_, self.reservoir_state_ = arrays, state
        self.n_features_in_, self.n_outputs_ = int(n_features), int(n_outputs)
        self.n_steps_ = 0
        self.task_ = "regression"
        self._cached()["stream"] = (self._key(), self.reservoir_arrays_, stream)
        self.__dict__["_live_rule"] = self._new_rule().initialize(stream.n_readout(n_features), n_outputs)

    # ------------------------------------------------------------------ public API
    def partial_fit(self, U, Y) -> OnlineReservoir:
        """Advance the streams over ``U`` and update the readout after every step.

        Parameters
        ----------
        U : array (features,), (time, features) or (batch, time, features)
            One step, a chunk of one stream, or a chunk of ``batch`` streams (the number of
            streams is fixed from the first step after :meth:`fit` / :meth:`reset_state`).
        Y : array
            The targets, ``U``'s leading axes then ``outputs`` (which may be left out for one
            output).

        Notes
        -----
        The first call on an unfitted model draws the reservoir for ``U``'s features. Bad input
        (wrong number of features or outputs, NaN, wrong shape) raises a ValueError before
        anything changes.
        """
        U3, Y3, _ = self._check_chunk(U, Y, "partial_fit")
        if not self._is_fitted():
            self._start(U3.shape[2], Y3.shape[2])
            self.target_1d_ = bool(np.ndim(U) == 2 and np.ndim(Y) == 1)
        else:
            self._validate_if_changed()
        state = self._live_state(U3.shape[0])
        self._advance(U3, Y3, state, step0=self.n_steps_)
        self.n_steps_ += U3.shape[1]
        return self

    def step(self, U) -> np.ndarray:
        """Advance the streams over ``U`` with learning off; returns the outputs, ``U``'s leading
        axes then ``outputs``. With feedback this is the closed loop running on its own."""
        self._check_fitted("step")
        self._validate_if_changed()
        U3, _, lead = self._check_chunk(U, None, "step")
        state = self._live_state(U3.shape[0])
        out = self._advance(U3, None, state, outputs=True, step0=self.n_steps_)
        self.n_steps_ += U3.shape[1]
        return out.reshape(*lead, self.n_outputs_).astype(np.dtype(self.dtype))

    def fit(self, X, y) -> OnlineReservoir:
        """Start afresh and stream the sequences of ``X`` with targets ``y`` (per step), all in
        parallel, one readout update per time step (ragged sequences: only those still running).

        Parameters
        ----------
        X : array (batch, time, features), (time, features) or list of (time_i, features)
        y : per-step targets (batch, time, outputs) / (time, outputs) / (time,), or a list
        """
        self._validate_params()
        batch = check_sequences(X, "X", dtype=np.dtype(self.dtype))
        Yt = check_sequence_targets(y, batch, "y", dtype=np.float64)
        if self.washout >= int(batch.lengths.max()):
            raise ValueError(f"washout={self.washout} leaves no step to train on: the longest sequence in X has "
                             f"{int(batch.lengths.max())} steps.")
        self._start(batch.data.shape[2], Yt.shape[2])
        self.target_1d_ = bool(batch.single and is_1d_target(y))
        state = self._live_state(batch.batch)
        self._advance(batch.data, Yt, state, valid=None if batch.uniform else batch.mask())
        self.n_steps_ = int(batch.data.shape[1])
        return self

    def predict(self, X):
        """Outputs (batch, time, outputs) of the reservoir run from rest over ``X`` with the current
        readout, learning off (closed loop with feedback); the streams' state is left as it is.
        A model fitted on one sequence with a 1-D target returns 1-D for one sequence."""
        self._check_fitted("predict")
        self._validate_if_changed()
        batch = check_sequences(X, "X", n_features=self.n_features_in_, dtype=np.dtype(self.dtype))
        state = self._stream().zeros(batch.batch, self.n_outputs_)
        out = batch.unpad(self._advance(batch.data, None, state, outputs=True).astype(np.dtype(self.dtype)))
        if getattr(self, "target_1d_", False) and batch.single and out.shape[-1] == 1:
            return out[:, 0]
        return out


def _restore(model, arrays: dict, state: dict) -> None:
    """Set a reservoir model's saved weights (``attr`` or ``attr/key`` for dicts) and state."""
    groups: dict = {}
    for k, v in arrays.items():
        attr, _, key = k.partition("/")
        if key:
            groups.setdefault(attr, {})[key] = np.asarray(v)
        else:
            setattr(model, attr, np.asarray(v))
    for attr, d in groups.items():
        setattr(model, attr, d)
    for k, v in state.items():
        setattr(model, k, v)
