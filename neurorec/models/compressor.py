r"""Schmidhuber's neural history compressor: a hierarchy of recurrent predictors that pass up
only their surprises.

Schmidhuber, *Learning complex, extended sequences using the principle of history
compression*, Neural Computation 4(2):234-242, 1992 (first as *Neural sequence chunkers*,
TR FKI-148-91, TU Munich, 1991).

The principle
-------------
A predictor that has learned the regularities of a sequence can reconstruct every input it
predicts correctly; only the inputs it does *not* predict (with the time at which they came)
carry information. Level :math:`l` of the hierarchy is a recurrent network trained to predict
its next input,

.. math::

    \hat x^{(l)}_{t+1} = f_l\big(x^{(l)}_1, \dots, x^{(l)}_t\big), \qquad
    \min \sum_t \big\lVert \hat x^{(l)}_{t+1} - x^{(l)}_{t+1} \big\rVert^2,

and an input is a *surprise* when the prediction made for it was wrong,

.. math::

    s^{(l)}_t = \big[\, t = 1 \ \text{ or } \ \lVert \hat x^{(l)}_t - x^{(l)}_t \rVert_\infty > \tau \,\big]
    \quad\text{(``surprise=tau``)}, \qquad
    s^{(l)}_t = \big[\, t = 1 \ \text{ or } \ \arg\max_k \hat x^{(l)}_{t,k} \ne \arg\max_k x^{(l)}_{t,k} \,\big]
    \quad\text{(``surprise="argmax"``)}.

(The first input of a sequence is always a surprise: nothing predicted it.) Level :math:`l+1`
receives only the surprising inputs, each with a time stamp, so it runs on a slower clock:

.. math::

    x^{(l+1)}_j = \big(x^{(l)}_{t_j},\ t_j - t_{j-1}\big), \qquad t_1 < t_2 < \dots
    \text{ the steps with } s^{(l)}_t = 1,\ t_0 = 0,

the time stamp being the number of steps of level :math:`l` since its previous surprise
(``time_stamps=True``; the paper passes the time of the unexpected input along with it). A
sequence of :math:`T` steps in which level :math:`l` predicts all but :math:`k` inputs becomes
a sequence of :math:`k` steps one level up; the next level's predictor sees dependencies
:math:`T/k` times closer, and can learn them with errors propagated a few steps back. The last
level classifies its (compressed) sequence. On the long-lag task (two marker symbols, then a
fixed chain of 20 symbols, class = marker; :func:`neurorec.data.history.long_lag_task`) level 0
learns the chain, its only surprises are the markers, and level 1 sees one input in 21 steps:
the marker, one step before it has to answer.

The two-network form (``form="chunker"``)
------------------------------------------
The paper's second architecture collapses the hierarchy into two networks: the
*automatizer* :math:`A` (level 0) predicts the next input, the *chunker* :math:`C` (level 1)
sees only :math:`A`'s surprises, and :math:`A` is additionally trained to predict :math:`C`'s
state,

.. math::

    \min_A \sum_t \lVert \hat x_{t+1} - x_{t+1} \rVert^2 + \lVert \hat h^C_t - h^C_t \rVert^2,

where :math:`h^C_t` is the chunker's hidden state after the last surprise at or before step
:math:`t`. What :math:`C` has learned to represent (from the slow, compressed stream) becomes a
target for :math:`A`, so :math:`A` can come to predict inputs that only :math:`C` could, and its
surprise stream shrinks. Here that is done in rounds (``collapse_rounds``): fit :math:`A`, then
:math:`C` on its surprises; then refit :math:`A` with :math:`C`'s states as extra targets and
:math:`C` on the new surprise stream; ``collapse_rates_`` records the chunker's input rate after
each round and ``collapse_r2_`` how much of :math:`C`'s state :math:`A` predicts. (In the paper
both networks learn online, side by side; the rounds are a batch form of that loop. The chunker
here, being the last level, learns the class only, not also its own next input.)

Under truncation the collapse is limited: neurorec's ``window`` starts every training window
from a zero state, so :math:`A` can only learn the part of :math:`C`'s state that depends on
its last ``window`` inputs. On the long-lag task with ``window=5`` it predicts 39 % of the
variance of :math:`C`'s state with one block per sample and 8 % with three (5 seeds), the
marker being 20 steps back; the chunker's input stream stays at 1/21 (markers cannot be
predicted by anyone), so there is nothing for the collapse to remove there. A training that
carries the state from one window to the next (truncated BPTT proper) would let :math:`A` learn
it with one-step gradients, as in the paper.

Training of every level
-----------------------
Every level is one of neurorec's recurrent networks (:class:`~neurorec.models.Elman`,
:class:`~neurorec.models.LSTM` or :class:`~neurorec.models.GRU`) fitted through its own
``fit``: the predictors as sequence regressors (targets: the next step's input), with
``predictor_params`` such as ``window`` (the truncation: windows of ``window`` steps, each
started from a zero state after ``window // 5`` warm-up steps; see
:class:`~neurorec.models.RecurrentModel`), ``units``, ``epochs``, ``lr``. The classifying level
is trained under the same truncation by default (``classifier="truncated"``): the target at
every step of its sequence is the one-hot class, the loss the windowed squared error, and the
prediction the arg-max of the output at the sequence's last step, so that no error signal in
the whole system travels more than ``window`` steps back. ``classifier="full"`` fits it as a
neurorec classifier instead (cross-entropy on the pooled state, back-propagation through its
whole, compressed, sequence). ``levels=1`` is no compression at all: the classifier on the raw
inputs, i.e. a plain network under the same truncation (the baseline).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from neurorec import _params as P
from neurorec._validation import check_labels, check_sequences, encode_labels, is_table, tabular_as_sequences
from neurorec.base import Model, ScoresToProba
from neurorec.models.features import _split_state

__all__ = ["HistoryCompressor", "Stream"]

_PREDICTORS = ("Elman", "LSTM", "GRU")
_FORMS = ("hierarchy", "chunker")
_CLASSIFIERS = ("truncated", "full")
_SEP = "/"


class Stream(NamedTuple):
    """The input of one level of a :class:`HistoryCompressor`, from :meth:`HistoryCompressor.compress`.

    Attributes
    ----------
    inputs : list of ndarray (n_i, features), or one array for a single sequence
        The level's input sequences: the raw inputs at level 0; at level ``l >= 1`` the inputs
        that surprised level ``l - 1``, with the time stamp (steps of level ``l - 1`` since its
        previous surprise) as the last column when ``time_stamps=True``.
    steps : list of int64 ndarray (n_i,), or one array for a single sequence
        The step of the original sequence at which each of those inputs occurred.
    """

    inputs: list
    steps: list


def _predictor_class(name):
    from neurorec.models import recurrent

    if name not in _PREDICTORS:
        raise ValueError(f"predictor must be one of {_PREDICTORS} (a neurorec recurrent model), got {name!r}.")
    return getattr(recurrent, name)


def _restore(model: Model, arrays: dict, state: dict) -> Model:
    """Set the fitted state of ``model`` from :func:`~neurorec.models.features._split_state`'s output."""
    groups: dict = {}
    for k, v in arrays.items():
        attr, _, key = k.partition(_SEP)
        if key:
            groups.setdefault(attr, {})[key] = v
        else:
            groups[attr] = v
    for k, v in {**state, **groups}.items():
        if not (isinstance(k, str) and k.isidentifier() and k.endswith("_") and not k.startswith("_")):
            raise ValueError(f"cannot rebuild a level network: {k!r} is not a learned attribute name.")
        setattr(model, k, v)
    return model


def _is_one_hot(seqs) -> tuple[int, int] | None:
    """The first (sequence, step) that is not one-hot, or None."""
    for i, s in enumerate(seqs):
        ok = (np.isin(s, (0.0, 1.0)).all(1)) & (s.sum(1) == 1.0)
        if not ok.all():
            return i, int(np.argmin(ok))
    return None


class HistoryCompressor(ScoresToProba, Model):
    r"""Schmidhuber's neural history compressor (1992): recurrent predictors that pass only
    their surprises up to a slower level, the last level classifying.

    ``fit(X, y)`` trains level 0 to predict its next input, feeds the inputs it mispredicts
    (with time stamps) to level 1, and so on; the last level is trained as a classifier on its
    compressed sequences. See the module docstring for the equations and the two-network
    (automatizer / chunker) form.

    Parameters
    ----------
    predictor : {"Elman", "LSTM", "GRU"}
        The recurrent network of every level (a neurorec model class).
    predictor_params : dict, list of dict, or None
        Keyword arguments of ``predictor`` for every level (a dict), or one dict per level (a
        list of ``levels`` dicts; the last is the classifier's): ``units``, ``window`` (the
        truncation length), ``epochs``, ``lr``, ``backend``... ``None``: the class defaults
        (``window=100``: no truncation on short sequences). ``bidirectional`` is refused (a
        predictor must be causal) and so is ``checkpoint``; ``seed`` defaults to one drawn from
        this model's ``seed``. Saved with the model, so JSON values only.
    levels : int
        Depth of the hierarchy: ``levels - 1`` predictor levels, then the classifying level.
        ``1`` means no compression (the classifier on the raw inputs). ``form="chunker"``
        needs ``levels=2``.
    form : {"hierarchy", "chunker"}
        ``"hierarchy"``: the multi-level predictor hierarchy. ``"chunker"``: the two-network
        form, the automatizer (level 0) also trained to predict the chunker's (level 1) hidden
        state, ``collapse_rounds`` times.
    surprise : "argmax" or float
        When an input passes up. A number ``tau > 0``: when the prediction misses it by more
        than ``tau`` in some feature, :math:`\lVert \hat x_t - x_t \rVert_\infty > \tau` (any
        real-valued inputs; in input units). For one-hot symbols ``tau = 0.3`` means the symbol
        that came was predicted below 0.7 or another above 0.3: a 50/50 guess is a surprise
        whichever symbol comes. ``"argmax"``: when the predicted most likely symbol is not the
        one that came (one-hot inputs only, checked); it passes up only half of the
        outcomes of a fair coin (the guessed one is "predicted"), so a level above cannot tell
        them apart: use it only where no symbol is a toss-up.
    time_stamps : bool
        Append to every input of a level ``l >= 1`` the number of steps of level ``l - 1``
        since its previous surprise.
    classifier : {"truncated", "full"}
        How the last level learns the class: ``"truncated"``, per-step one-hot class targets
        under the predictors' ``window`` truncation (the prediction is the arg-max of the
        last step's output); ``"full"``, a neurorec classifier (cross-entropy, pooled state,
        gradients through the whole compressed sequence).
    collapse_rounds : int
        ``form="chunker"``: rounds of refitting the automatizer with the chunker's states as
        extra targets, then the chunker on the new surprise stream (0: none).
    random_phase : bool
        Start each predictor's training sequence at a random step in ``[0, stride)``
        (``stride = window - window // 5``, the step between truncation windows) when it is
        longer than ``window``, so that the windows do not start at the same steps of every
        sequence (the idea of Merity et al.'s variable-length BPTT). Without it, sequences of
        one length (the long-lag task with one block) are always cut at the same steps, and a
        predictor trained on windows that start from a zero state at steps 4, 8, 12, ... errs
        where, at inference, the state comes from the whole past: the largest error on the chain
        was 0.26-0.39 (seeds 0-2; Elman, 32 units, ``window=5``, 40 epochs) against at most 0.05
        with random phases, and with seed 0 four chain steps per sequence became false
        surprises (input rate 0.238 instead of 1/21). The classifier is never cropped (its
        label may be at the start).
    seed : int or None
        Draws every level's seed; a CPU fit is reproducible.

    Attributes
    ----------
    levels_ : list of RecurrentModel
        The fitted network of every level (``levels_[-1]`` the classifier), rebuilt from
        ``level_arrays_`` and ``level_states_`` after :meth:`load`.
    level_arrays_ : dict of ndarray
        The levels' fitted arrays, named ``"{level}/{attribute}"`` (``"{level}/weights_/{name}"``
        for the weights).
    level_states_ : list of dict
        Every level's fitted non-array state (JSON values).
    level_seeds_ : list of int
        The seed each level's network was fitted with.
    input_rates_ : list of float
        Fraction of the original (training) steps that reach each level: ``input_rates_[0] = 1``,
        ``input_rates_[1]`` the first level's surprise rate (about 1/21 on the long-lag task).
    collapse_rates_ : list of float
        ``form="chunker"``: the chunker's input rate before the first collapse round and after
        each one.
    collapse_r2_ : list of float
        ``form="chunker"``: per round, the fraction of the variance of the chunker's state
        (over the automatizer's training steps) that the automatizer predicts,
        :math:`1 - \sum (\hat h - h)^2 / \sum (h - \bar h)^2`.
    classes_ : ndarray (n_classes,)
        The sorted training labels (any dtype, e.g. strings).
    proba_temperature_ : float
        Temperature of :meth:`predict_proba`'s softmax, fitted on the training set's class
        scores for ``classifier="truncated"`` (:class:`neurorec.base.ScoresToProba`); 1 for
        ``"full"``.
    n_features_in_ : int
    task_ : "classification"

    Notes
    -----
    Every hyperparameter is checked at ``fit`` and on :func:`neurorec.load`; a bad value raises
    :class:`neurorec._params.ParameterError` (a ``ValueError``) naming it.

    **scikit-learn.** A classifier only (``fit`` always learns labels; the predictor levels are
    internal), and its tags say so. In ``fit``, ``predict``, ``predict_proba``,
    ``decision_function`` and ``score`` a 2-D ``X`` (samples, features) is a table: each row a
    one-step sequence. Such one-step sequences have no history to compress, so a table needs
    ``levels=1`` (``fit`` refuses it otherwise); :meth:`compress` still reads a 2-D ``X`` as one
    sequence. Labels may be any hashable, sortable values (strings too), mapped back by
    ``predict``.

    Inputs may be one-hot symbols (the paper's setting) or real-valued features with a numeric
    ``surprise``; a level's predictor predicts the next input without its time stamp. A level
    above level 0 that receives only one-step sequences has nothing to predict; ``fit`` then
    refuses the hierarchy (use fewer ``levels``).

    References
    ----------
    J. Schmidhuber, "Learning complex, extended sequences using the principle of history
    compression", Neural Computation 4(2):234-242, 1992.

    S. Merity, N. S. Keskar, R. Socher, "Regularizing and optimizing LSTM language models",
    ICLR 2018 (variable-length back-propagation windows).
    """

    _supported_kinds = frozenset({"classify"})

    def __init__(self, predictor: str = "Elman", predictor_params: dict | list | None = None, levels: int = 2,
                 form: str = "hierarchy", surprise: str | float = 0.3, time_stamps: bool = True,
                 classifier: str = "truncated", collapse_rounds: int = 1, random_phase: bool = True,
                 seed: int | None = None):
        self.predictor = predictor
        self.predictor_params = predictor_params
        self.levels = levels
        self.form = form
        self.surprise = surprise
        self.time_stamps = time_stamps
        self.classifier = classifier
        self.collapse_rounds = collapse_rounds
        self.random_phase = random_phase
        self.seed = seed

    # -- checks ------------------------------------------------------------------------
    # every hyperparameter, checked at fit and on load (neurorec._params); predictor_params is
    # checked in _validate_params (by the predictor class itself); the seed is an int (it seeds
    # the levels' seeds and is saved with the model), not a Generator
    _param_spec = {
        "predictor": P.Options(*_PREDICTORS), "predictor_params": P.Any(), "levels": P.Int(1),
        "form": P.Options(*_FORMS), "surprise": P.Options("argmax") | P.Real(0, None, closed="neither"),
        "time_stamps": P.Bool(), "classifier": P.Options(*_CLASSIFIERS), "collapse_rounds": P.Int(0),
        "random_phase": P.Bool(), "seed": P.NoneOK() | P.Int(0, 2 ** 63 - 1),
    }

    def _estimator_kind(self) -> str:
        # fit always learns labels (the predictor levels are internal), so a classifier only
        return "classifier"

    def _validate_params(self) -> list[dict]:
        super()._validate_params()
        cls = _predictor_class(self.predictor)
        levels = int(self.levels)
        if self.form == "chunker" and levels != 2:
            raise P.ParameterError(f"HistoryCompressor(form='chunker', levels={levels!r}) is invalid: "
                                   f"form='chunker' is the two-network form (automatizer and chunker), so levels "
                                   f"must be 2.")
        pp = self.predictor_params
        if pp is None:
            per_level = [{} for _ in range(levels)]
        elif isinstance(pp, dict):
            per_level = [dict(pp) for _ in range(levels)]
        elif isinstance(pp, (list, tuple)) and all(isinstance(d, dict) for d in pp):
            if len(pp) != levels:
                raise ValueError(f"predictor_params is a list of {len(pp)} dicts but levels={levels}: give one "
                                 f"dict per level, or one dict for all.")
            per_level = [dict(d) for d in pp]
        else:
            raise P.ParameterError(f"HistoryCompressor(predictor_params={pp!r}) is invalid: predictor_params must "
                                   f"be a dict, a list of {levels} dicts or None, got {pp!r} ({type(pp).__name__}).")
        for d in per_level:
            if d.get("bidirectional"):
                raise ValueError("predictor_params: bidirectional=True is refused: a predictor of the next "
                                 "input must be causal.")
            if d.get("checkpoint") is not None:
                raise ValueError("predictor_params: checkpoint is not supported inside a HistoryCompressor "
                                 "(it trains several networks).")
            try:
                cls(**d)._validate_params()
            except TypeError as exc:
                raise ValueError(f"predictor_params={pp!r} are not accepted by {cls.__name__}: {exc}") from None
        return per_level

    def _check_X(self, X, fitted: bool, name: str = "X", n_features: int | None = None, table: bool = True):
        if fitted:
            n_features = self.n_features_in_
        tabular = table and is_table(X)     # a 2-D X is a table: each row a one-step sequence
        if tabular:
            X = tabular_as_sequences(X)
        batch = check_sequences(X, name, n_features=n_features, layout_warning=not tabular)
        seqs = [batch.data[i, : batch.lengths[i]] for i in range(batch.batch)]
        if self.surprise == "argmax":
            bad = _is_one_hot(seqs)
            if bad is not None:
                raise ValueError(f"surprise='argmax' needs one-hot symbol inputs (one 1 and zeros at every step), "
                                 f"but sequence {bad[0]} of {name} is not one-hot at step {bad[1]}; for real-valued "
                                 f"features pass a threshold, e.g. surprise=0.3 (largest prediction error).")
        return batch, seqs

    # -- building blocks ---------------------------------------------------------------
    # A level's stream is a tuple (base, steps, inputs) of per-sequence lists: the inputs
    # without time stamp (what the level predicts), their original steps, and the inputs as
    # the level's network sees them (with the time stamp).
    @staticmethod
    def _bottom(seqs):
        return seqs, [np.arange(len(s), dtype=np.int64) for s in seqs], seqs

    def _new_level(self, params: dict, seed: int):
        p = dict(params)
        if p.get("seed") is None:
            p["seed"] = int(seed)
        return _predictor_class(self.predictor)(**p)

    def _up(self, model, stream):
        """The next level's stream: the inputs of ``stream`` that ``model`` failed to predict,
        with their time stamps (steps of this level since its previous surprise)."""
        base, steps, inputs = stream
        F = base[0].shape[1]
        preds = model.predict(inputs)
        nb, ns, ni = [], [], []
        for p, b, s in zip(preds, base, steps, strict=True):
            m = np.ones(len(b), bool)             # the first input is always a surprise
            if len(b) > 1:
                p = np.asarray(p)[:-1, :F]        # the prediction made at t-1 for the input at t
                if self.surprise == "argmax":
                    m[1:] = p.argmax(1) != b[1:].argmax(1)
                else:
                    m[1:] = np.abs(p - b[1:]).max(1) > float(self.surprise)
            k = np.flatnonzero(m)
            nb.append(b[k])
            ns.append(s[k])
            if self.time_stamps:
                gap = np.diff(k, prepend=-1).astype(b.dtype)[:, None]
                ni.append(np.concatenate([b[k], gap], 1))
            else:
                ni.append(b[k])
        return nb, ns, ni

    @staticmethod
    def _pairs(stream, extra=None, crop=None):
        """Next-input training pairs (inputs[:-1] -> base[1:], with ``extra[:-1]`` appended to
        the targets) of the sequences with at least two steps; ``crop[i]`` steps dropped from
        the start of sequence ``i``."""
        base, _, inputs = stream
        keep = [i for i, b in enumerate(base) if len(b) > 1]
        r = [0 if crop is None else int(crop[i]) for i in keep]
        X = [inputs[i][k:-1] for i, k in zip(keep, r, strict=True)]
        Y = [base[i][k + 1:] for i, k in zip(keep, r, strict=True)]
        if extra is not None:
            Y = [np.concatenate([yy, extra[i][k:-1]], 1) for yy, i, k in zip(Y, keep, r, strict=True)]
        return X, Y

    def _fit_predictor(self, level: int, params, seed, train, val=None, extra=None, extra_val=None):
        model = self._new_level(params, seed)
        crop = None
        if self.random_phase:
            # windows of `window` steps start every `stride` steps: a random start in [0, stride)
            # per sequence (where a sequence is cut into windows at all) varies their phase
            w = int(model.window)
            stride = w - w // 5
            rng = np.random.default_rng(seed)
            crop = [int(rng.integers(stride)) if len(b) - 1 > w else 0 for b in train[0]]
        X, Y = self._pairs(train, extra, crop)
        if not X:
            raise ValueError(f"level {level} receives only one-step sequences (the level below passes up a "
                             f"single surprise per sequence): it has nothing to predict; use levels={level + 1}.")
        Xv, Yv = self._pairs(val, extra_val) if val is not None else ([], [])
        if Xv:
            return model.fit(X, Y, X_val=Xv, y_val=Yv)
        return model.fit(X, Y)

    def _fit_classifier(self, params, seed, inputs, idx, n_classes, val_inputs=None, val_idx=None):
        model = self._new_level(params, seed)
        if self.classifier == "full":
            if val_inputs is not None:
                return model.fit(inputs, idx, X_val=val_inputs, y_val=val_idx)
            return model.fit(inputs, idx)
        eye = np.eye(n_classes, dtype=np.float32)

        def targets(ii, xs):
            return [np.repeat(eye[c][None], len(x), 0) for c, x in zip(ii, xs, strict=True)]

        if val_inputs is not None:
            return model.fit(inputs, targets(idx, inputs), X_val=val_inputs, y_val=targets(val_idx, val_inputs))
        return model.fit(inputs, targets(idx, inputs))

    def _class_scores(self, model, inputs) -> np.ndarray:
        """Class scores (n, n_classes) from the last level's network: its outputs at the last
        step (``"truncated"``) or its logits (``"full"``; for two classes the logit difference
        ``d`` as ``[-d/2, d/2]``, which has the same softmax and arg-max)."""
        if self.classifier == "full":
            s = np.asarray(model.decision_function(inputs), dtype=np.float64)
            return np.stack([-s / 2, s / 2], 1) if s.ndim == 1 else s
        out = model.predict(inputs)
        return np.array([np.asarray(o, dtype=np.float64)[-1] for o in out])

    @staticmethod
    def _chunker_states(C, stream, lengths) -> list[np.ndarray]:
        """The chunker's hidden state after its last input at or before every original step."""
        _, steps, inputs = stream
        out = C.transform(list(inputs))
        states = []
        for i, (s, T) in enumerate(zip(steps, lengths, strict=True)):
            j = np.searchsorted(s, np.arange(T), side="right") - 1      # s[0] == 0, so j >= 0
            states.append(np.asarray(out[i])[j].astype(np.float32))
        return states

    # -- fit / predict -----------------------------------------------------------------
    def fit(self, X, y, X_val=None, y_val=None) -> HistoryCompressor:
        """Fit every level, bottom up, on sequences ``X`` with integer labels ``y``.

        Parameters
        ----------
        X : array (batch, time, features) or list of (time_i, features) arrays
            One-hot symbols, or real-valued features with a numeric ``surprise``; a 2-D array
            is a table of one-step sequences (``levels=1`` only).
        y : labels (batch,)
            Integers, strings or other hashable, sortable labels.
        X_val, y_val : optional validation sequences and labels for every level's early
            stopping (compressed by the levels below it, as the training data are); by
            default each network holds out its own ``validation_fraction``.
        """
        per_level = self._validate_params()
        if (X_val is None) != (y_val is None):
            raise ValueError("X_val and y_val go together: pass both or neither.")
        for k in list(self._learned()):
            delattr(self, k)
        self.__dict__.pop("_levels", None)
        batch, seqs = self._check_X(X, fitted=False)
        if batch.single:
            raise ValueError(f"X must be a batch of sequences (batch, time, features) to fit a classifier; got one "
                             f"sequence of shape {batch.data.shape[1:]}.")
        classes, idx = encode_labels(y, batch.batch, "y")
        if classes.size < 2:
            raise ValueError(f"y holds a single class {classes.tolist()} (one class); a classifier needs at least two.")
        if int(self.levels) > 1 and int(batch.lengths.max()) < 2:
            raise ValueError(f"X holds only one-step sequences (shape {batch.data.shape}; a 2-D X is a table, each "
                             f"row one step): there is no history to compress, level 0 has no next input to "
                             f"predict. Use levels=1 (the classifier alone) or pass sequences (batch, time, "
                             f"features).")
        val, vidx, vlengths = None, None, None
        if X_val is not None:
            vbatch, vseqs = self._check_X(X_val, fitted=False, name="X_val", n_features=batch.data.shape[2])
            if vbatch.single:
                raise ValueError(f"X_val must be a batch of sequences, got one sequence of shape "
                                 f"{vbatch.data.shape[1:]}.")
            vidx = check_labels(y_val, vbatch.batch, "y_val", classes=classes)
            val, vlengths = self._bottom(vseqs), vbatch.lengths
        L = int(self.levels)
        n_seeds = L + 2 * int(self.collapse_rounds) if self.form == "chunker" else L
        seeds = [int(s % (2**31)) for s in np.random.SeedSequence(self.seed).generate_state(n_seeds)]
        total = float(batch.lengths.sum())
        train = bottom = self._bottom(seqs)
        val_bottom = val
        models, rates = [], [1.0]
        for level in range(L - 1):
            m = self._fit_predictor(level, per_level[level], seeds[level], train, val)
            models.append(m)
            train = self._up(m, train)
            val = self._up(m, val) if val is not None else None
            rates.append(float(sum(len(b) for b in train[0])) / total)
        n_classes = classes.size
        models.append(self._fit_classifier(per_level[-1], seeds[L - 1], train[2], idx, n_classes,
                                           None if val is None else val[2], vidx))
        if self.form == "chunker":
            A, C = models
            collapse_rates, r2s = [rates[1]], []
            F = seqs[0].shape[1]
            for r in range(int(self.collapse_rounds)):
                H = self._chunker_states(C, train, batch.lengths)
                Hv = self._chunker_states(C, val, vlengths) if val is not None else None
                A = self._fit_predictor(0, per_level[0], seeds[L + 2 * r], bottom, val_bottom, extra=H, extra_val=Hv)
                Xp, Yp = self._pairs(bottom, H)
                pred = np.concatenate([np.asarray(p)[:, F:] for p in A.predict(Xp)])
                true = np.concatenate([t[:, F:] for t in Yp])
                sst = float(((true - true.mean(0)) ** 2).sum())
                r2s.append(1.0 - float(((pred - true) ** 2).sum()) / sst if sst > 0 else float("nan"))
                train = self._up(A, bottom)
                val = self._up(A, val_bottom) if val_bottom is not None else None
                C = self._fit_classifier(per_level[1], seeds[L + 2 * r + 1], train[2], idx, n_classes,
                                         None if val is None else val[2], vidx)
                collapse_rates.append(float(sum(len(b) for b in train[0])) / total)
            models = [A, C]
            rates[1] = collapse_rates[-1]
            self.collapse_rates_ = collapse_rates
            self.collapse_r2_ = r2s
        arrays, states = {}, []
        for level, m in enumerate(models):
            a, st, bad = _split_state(m, True)
            if bad:     # pragma: no cover - neurorec's recurrent models keep arrays and JSON values only
                raise TypeError(f"level {level} has fitted attributes that cannot be saved: {bad}")
            arrays.update({f"{level}{_SEP}{k}": v for k, v in a.items()})
            states.append(st)
        if self.classifier == "truncated":
            self._fit_temperature(self._class_scores(models[-1], train[2]), idx)
        else:
            self.proba_temperature_ = 1.0           # the network's own softmax (cross-entropy)
        self._levels = models
        self.level_seeds_ = [int(m.seed) for m in models]
        self.level_arrays_ = arrays
        self.level_states_ = states
        self.input_rates_ = rates
        self.classes_ = classes
        self.n_features_in_ = int(batch.data.shape[2])
        self.task_ = "classification"
        return self

    def _is_fitted(self) -> bool:
        return hasattr(self, "level_states_")

    @property
    def levels_(self) -> list:
        """The fitted network of every level (``levels_[-1]`` classifies)."""
        self._check_fitted("levels_")
        if "_levels" not in self.__dict__:
            groups: list[dict] = [{} for _ in self.level_states_]
            for k, v in self.level_arrays_.items():
                level, _, rest = k.partition(_SEP)
                groups[int(level)][rest] = v
            per_level = self._validate_params()
            self._levels = [_restore(self._new_level(per_level[i], self.level_seeds_[i]), groups[i], st)
                            for i, st in enumerate(self.level_states_)]
        return self._levels

    @property
    def automatizer_(self):
        """``form="chunker"``: the automatizer (level 0)."""
        return self.levels_[0]

    @property
    def chunker_(self):
        """``form="chunker"``: the chunker (level 1)."""
        return self.levels_[1]

    def _streams(self, seqs) -> list[tuple]:
        """The (base, steps, inputs) stream of every level."""
        stream = self._bottom(seqs)
        out = [stream]
        for m in self.levels_[:-1]:
            stream = self._up(m, stream)
            out.append(stream)
        return out

    def compress(self, X) -> list[Stream]:
        """The input stream of every level: ``compress(X)[l]`` is a :class:`Stream` of level
        ``l``'s input sequences and the original steps they come from (``[0]`` is ``X``).

        Returns
        -------
        list of Stream, one per level; for a single ``(time, features)`` sequence each Stream
        holds arrays instead of lists.
        """
        self._check_fitted("compress")
        batch, seqs = self._check_X(X, fitted=True, table=False)
        streams = self._streams(seqs)
        if batch.single:
            return [Stream(inputs[0], steps[0]) for _, steps, inputs in streams]
        return [Stream(inputs, steps) for _, steps, inputs in streams]

    def _scores(self, X, method: str) -> np.ndarray:
        self._check_fitted(method)
        _, seqs = self._check_X(X, fitted=True)
        top = self._streams(seqs)[-1]
        return self._class_scores(self.levels_[-1], top[2])

    def predict(self, X) -> np.ndarray:
        """Class labels (batch,), from ``classes_``; a 2-D ``X`` is a table (one label per row)."""
        idx = self._scores(X, "predict").argmax(1)
        return self.classes_[idx]

    def decision_function(self, X) -> np.ndarray:
        """Class scores of the last level (see ``classifier``): (batch, n_classes), or (batch,) for
        two classes (positive means ``classes_[1]``, scikit-learn's convention)."""
        return self._binary_decision(self._scores(X, "decision_function"))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (batch, n_classes), columns in ``classes_`` order, rows summing to
        one, arg-max equal to :meth:`predict`: the softmax of the class scores divided by
        ``proba_temperature_`` (fitted on the training set for ``classifier="truncated"``, whose
        outputs are least-squares scores, not probabilities; 1 for ``"full"``, the network's own
        softmax)."""
        return self._softmax(self._scores(X, "predict_proba"), float(getattr(self, "proba_temperature_", 1.0)))

    @property
    def n_parameters_(self) -> dict:
        """``{"total", "trained"}`` summed over the levels' networks."""
        self._check_fitted("n_parameters_")
        counts = [m.n_parameters_ for m in self.levels_]
        return {k: int(sum(c[k] for c in counts)) for k in ("total", "trained")}
