r"""Multi-order Markov model of discrete sequences with order selection (Scholtes 2017).

This is a statistical model, not a neural network: it counts sub-sequences and estimates
conditional probabilities by maximum likelihood, with no weights learned by gradient descent
and no hidden state. It is in neurorec because it answers the question a researcher should
ask before picking a recurrent model: *how much temporal memory does this data actually
have?* If the likelihood-ratio tests select order 1, a recurrent network has nothing to
remember beyond the current symbol (a feed-forward map of the current input does as well);
if they select order 3, any model needs at least three steps of memory, and the multi-order
model's next-symbol accuracy is the baseline a recurrent network has to beat. The surveys of
recurrent networks list it as the "temporal correlation discovery network"; the method is

    Ingo Scholtes. *When is a Network a Network? Multi-Order Graphical Model Selection in
    Pathways and Temporal Networks.* KDD 2017, pp. 1037-1046. arXiv:1702.05499.

and its reference implementation is ``pathpy`` (``MultiOrderModel``, pathpy 2.x).
"""

from __future__ import annotations

import warnings

import numpy as np

from neurorec import _params as P
from neurorec._validation import check_finite, check_positive_int, check_sequences, numeric_array
from neurorec.base import Model

__all__ = ["MultiOrderMarkov", "order_table"]

_INPUT_TYPES = ("symbols", "one_hot", "continuous")
_QUANTIZERS = ("auto", "quantile", "kmeans")
_MAX_JOINT_SYMBOLS = 4096      # bound on the joint per-feature quantile alphabet
_CODE_LIMIT = 2 ** 62          # n_symbols ** (max_order + 1) must stay below this (int64 codes)
_MIN_PER_DOF = 5.0             # fewer transitions per degree of freedom of the selected layer: warn


class _Parsed:
    """Symbol sequences read from an input, with what is needed to return its layout.

    ``layout``: ``"single"`` (one sequence: outputs drop the batch axis), ``"batch"`` (a
    rectangular batch: outputs are stacked arrays) or ``"list"`` (outputs are lists).
    """

    def __init__(self, seqs, layout, kind, features=None):
        self.seqs = seqs
        self.layout = layout
        self.kind = kind            # "symbols", or "float" for (…, features) float input
        self.features = features    # the float data per sequence (kind == "float")

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.seqs], dtype=np.int64)

    def restore(self, per_seq):
        """Put per-sequence outputs (arrays with time first) back into the input's layout."""
        if self.layout == "single":
            return per_seq[0]
        if self.layout == "batch":
            return np.stack(per_seq)
        return list(per_seq)


def _integer_symbols(a, name: str) -> np.ndarray:
    """A 1-D array of non-negative integer symbols (int64) or a ValueError naming ``name``."""
    arr = numeric_array(a, name, "integer symbols")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of integer symbols, got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError(f"{name} is an empty sequence (0 symbols).")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinite values; symbols must be integers >= 0.")
        if not np.all(arr == np.round(arr)):
            bad = arr[arr != np.round(arr)][:3].tolist()
            raise ValueError(f"{name} holds non-integer symbols such as {bad}; symbols must be "
                             f"integers >= 0 (continuous data: pass (time, features) float arrays; Reshape your "
                             f"data with {name}.reshape(-1, 1) for one feature).")
    arr = arr.astype(np.int64)
    if (arr < 0).any():
        raise ValueError(f"{name} holds negative symbols such as {int(arr[arr < 0][0])}; symbols must be "
                         f"integers >= 0.")
    return arr


def _is_one_hot(rows: np.ndarray) -> bool:
    """Whether every row of a (steps, F) array with F >= 2 has exactly one 1 and zeros elsewhere."""
    if rows.ndim != 2 or rows.shape[1] < 2 or rows.shape[0] == 0:
        return False
    return bool(np.isin(rows, (0.0, 1.0)).all() and (rows.sum(1) == 1).all())


class MultiOrderMarkov(Model):
    r"""Multi-order Markov model over discrete sequences, with the order chosen by
    likelihood-ratio tests (Scholtes 2017).

    **A statistical model, not a neural network.** It estimates conditional probabilities of
    the next symbol from counts of sub-sequences; nothing is trained by gradient descent and
    there is no hidden state. It is in the toolkit because it tells a researcher how much
    temporal memory the data actually has before they pick a recurrent model: the selected
    order :math:`K` is the number of past symbols that measurably change the distribution of
    the next one, and its next-symbol accuracy is the baseline a recurrent network should beat.

    **Layers.** For a sequence (a *path*) :math:`v_0 v_1 \dots v_l` over an alphabet of
    :math:`n` symbols, layer :math:`k` is a :math:`k`-th order Markov chain

    .. math::

        P^{(k)}(v_i \mid v_{i-k} \dots v_{i-1})
            = \frac{N(v_{i-k} \dots v_{i-1} v_i)}{\sum_w N(v_{i-k} \dots v_{i-1} w)},
        \qquad P^{(0)}(v) = \frac{N(v)}{\sum_w N(w)},

    with :math:`N(\cdot)` the number of occurrences of a sub-sequence anywhere in the training
    sequences (the maximum-likelihood estimate from all sub-paths of length :math:`k`).

    **Multi-order model and likelihood.** The multi-order model :math:`M_K` combines layers
    :math:`0 \dots K`: the first :math:`K` symbols of each path use the lower layers and the
    rest layer :math:`K`,

    .. math::

        L(M_K) = \prod_{\text{paths}} \; \prod_{i=0}^{\min(l, K)} P^{(i)}(v_i \mid v_0 \dots v_{i-1})
                 \prod_{i=K+1}^{l} P^{(K)}(v_i \mid v_{i-K} \dots v_{i-1}).

    **Degrees of freedom.** With :math:`n` the number of distinct symbols observed and
    :math:`A` the adjacency matrix of the observed first-order topology (:math:`A_{uv} = 1`
    when the transition :math:`u \to v` occurs), layer 0 has :math:`n - 1` free parameters and
    layer :math:`k \ge 1`

    * ``dof="ngrams"``: :math:`n^k (n - 1)` (every :math:`k`-gram is a context, every symbol a
      possible successor);
    * ``dof="paths"`` (Scholtes 2017; pathpy's ``assumption='paths'``): one parameter
      per path of length :math:`k` possible in the first-order topology, minus one per
      context (path of length :math:`k-1`) that can be continued, because its row of
      transition probabilities sums to one:

      .. math::

          d_k = \mathbf 1^\top A^k \mathbf 1 - \mathbf 1^\top A^{k-1} \mathbf m
              = \sum_{p \,\in\, \text{paths of length } k-1}
                \max\bigl(\deg^{+}(\mathrm{last}(p)) - 1,\ 0\bigr),

      with :math:`\mathbf m_v = [\deg^+(v) \ge 1]`. The two coincide on a complete topology.
      (pathpy 2.2's code computes the first term the same way but subtracts the number of
      *nodes* from which a path of length :math:`k` starts, :math:`\#\{v : (\mathbf 1^\top
      A^k)_v > 0\}`, which equals the number of continuable :math:`(k-1)`-paths only for
      :math:`k = 1`; its own comment and docstring describe the formula used here.)

    The model :math:`M_K` has :math:`D_K = \sum_{k \le K} d_k` degrees of freedom.

    **Order selection.** For :math:`k = 1 \dots K_{max}` the likelihood-ratio test of
    :math:`M_{k-1}` (null) against :math:`M_k` uses

    .. math::

        x_k = -2 \left(\log L(M_{k-1}) - \log L(M_k)\right)
        \sim \chi^2(D_k - D_{k-1}) \text{ under the null},

    with p-value :math:`p_k = 1 - F_{\chi^2}(x_k; d_k)`. The null is rejected when
    :math:`p_k < \alpha`. When :math:`d_k = 0` the :math:`\chi^2(0)` law is a point mass at 0,
    so :math:`p_k = 1` if the two likelihoods are equal and 0 if :math:`M_k` is more likely. (Under
    the paths assumption this happens when every node has at most one successor; only the
    :math:`M_0` vs :math:`M_1` test can then have :math:`x_k > 0`, e.g. a deterministic cycle,
    which selects order 1. pathpy returns NaN there and does not reject.)
    ``selection="largest"`` (the rule of pathpy's ``MultiOrderModel.estimate_order``) selects
    the largest :math:`k` whose test rejects (0 if none);
    ``selection="first"`` stops at the first test that does not reject. pathpy starts testing
    at :math:`M_1` vs :math:`M_2` (its smallest order is 1); here :math:`M_0` vs :math:`M_1` is
    tested as well, so data with no temporal structure select order 0. (Under the paths
    assumption that first test is not strictly nested, as pathpy notes: :math:`M_0` gives
    probability to transitions outside the observed topology.)

    The :math:`\chi^2` law of :math:`x_k` is asymptotic: it needs many observations per
    parameter. With sparse counts (many symbols, high orders, little data) the statistic is
    biased upwards and the tests select too high an order: for i.i.d. uniform symbols over 8
    letters the :math:`M_0` vs :math:`M_1` test at :math:`\alpha = 0.01` rejects in 75 % of
    draws with 1 transition per degree of freedom, 20 % with 2 and 1 % (the nominal rate) with
    5; 64 letters and 200,000 steps select order 2 (0.8 transitions per parameter of layer 2).
    ``fit`` warns when the selected layer has fewer than 5 transitions per degree of freedom.

    **Prediction.** After step :math:`t` the next symbol is predicted from the layer of order
    :math:`k = \min(K, t + 1)` with the last :math:`k` symbols as context; with ``backoff``
    an unseen context falls back to the highest lower order whose context was seen (order 0
    is always seen), and ``smoothing`` :math:`\lambda` adds :math:`\lambda` to every count,
    :math:`P = (N(c\,v) + \lambda) / (N(c) + \lambda n)`. A context never seen (without
    backoff) gives the uniform distribution. Model selection always uses the unsmoothed
    maximum-likelihood probabilities.

    **Inputs.** Integer symbols: a 1-D sequence, a ``(batch, time)`` integer array, or a list of
    1-D sequences (ragged; a rectangular list of rows holding fractional numbers is read as the
    float array it spells). Float neurorec sequences ``(batch, time, features)``,
    ``(time, features)`` or lists of ``(time_i, features)`` arrays are read as

    * *one-hot*: when there are at least 2 features and every step holds exactly one 1 and
      zeros elsewhere (float or integer valued), the symbol is the index of the 1 (the arg-max)
      and the alphabet has ``features`` symbols;
    * otherwise *continuous*, quantised by a quantiser fitted on the training data only:
      ``"quantile"`` puts each feature into ``n_bins`` equal-frequency bins (edges at the
      training quantiles :math:`j / n_\text{bins}`, a value on an edge goes to the upper bin)
      and the symbol is the joint bin index :math:`\sum_f b_f\, n_\text{bins}^{f}` (allowed up
      to 4096 joint symbols); ``"kmeans"`` is a codebook of ``n_bins`` k-means centroids
      (scikit-learn ``KMeans``, seeded by ``seed`` or 0) and the symbol is the nearest centroid
      (Euclidean, lowest index on ties); ``"auto"`` is ``"quantile"`` for one feature and
      ``"kmeans"`` for several, so the alphabet stays at ``n_bins`` symbols.

    A 2-D float array is one ``(time, features)`` sequence; a batch of symbol sequences must
    have an integer dtype. After ``fit``, integer symbols are always accepted (whatever the
    training input was); float input must be of the kind seen in ``fit`` (one-hot over
    ``n_symbols_`` symbols, or continuous with ``n_features_in_`` features, quantised with the
    fitted quantiser). ``predict``, ``predict_proba`` and ``transform`` return the layout of
    their input: one sequence, a stacked batch, or a list.

    **scikit-learn.** The model is neither a classifier nor a regressor: ``fit`` learns the
    distribution of the sequences in ``X`` (``y`` is ignored) and ``predict`` gives the next
    symbol after every step of ``X``, not one label per sample, so its scikit-learn tags say
    *transformer* (``transform`` returns the symbols read from ``X``). A 2-D float array is one
    sequence whose rows are time steps, so the prediction for a row depends on the rows before
    it (its context); scikit-learn's row-wise checks of ``predict`` / ``predict_proba`` /
    ``score`` (subsets and reordering of rows) do not apply. Every hyperparameter is checked at
    ``fit`` and on :func:`neurorec.load` (:class:`neurorec._params.ParameterError`, naming it).

    Parameters
    ----------
    max_order : int, default 3
        Highest order :math:`K_{max}` built and tested.
    order : "auto" or int, default "auto"
        ``"auto"``: chosen by the tests; an int in ``[0, max_order]`` forces the order used
        for prediction (the tests are still run and reported).
    alpha : float, default 0.01
        Significance level of the likelihood-ratio tests.
    dof : {"paths", "ngrams"}, default "paths"
        Degrees of freedom of a layer (see above).
    selection : {"largest", "first"}, default "largest"
        Order-selection rule (see above).
    smoothing : float, default 0.0
        Additive smoothing :math:`\lambda \ge 0` of prediction probabilities.
    backoff : bool, default True
        Predict from the highest order whose context was seen in training.
    n_symbols : int or None, default None
        Alphabet size for integer-symbol input; ``None``: one more than the largest symbol in
        the training data.
    quantizer : {"auto", "quantile", "kmeans"}, default "auto"
        Quantiser for continuous input.
    n_bins : int, default 8
        Bins per feature (``"quantile"``) or codebook size (``"kmeans"``).
    seed : int or None, default None
        Seed of :meth:`sample` / :meth:`generate` and of the k-means codebook (0 when
        ``None``, so quantisation is reproducible); an integer in ``[0, 2**63)``.

    Attributes
    ----------
    order_ : int
        The order used for prediction (selected or forced).
    max_order_ : int
        Highest order built: ``max_order``, or less when no training sequence is long enough.
    log_likelihoods_ : ndarray of shape (max_order_ + 1,)
        :math:`\log L(M_K)` on the training data for :math:`K = 0 \dots` ``max_order_``.
    layer_dof_ : ndarray of shape (max_order_ + 1,)
        Degrees of freedom :math:`d_k` of each layer.
    dof_ : ndarray of shape (max_order_ + 1,)
        Degrees of freedom :math:`D_K` of each multi-order model :math:`M_K`.
    statistics_, p_values_ : ndarray of shape (max_order_,)
        Test statistic :math:`x_k` and p-value :math:`p_k` of :math:`M_{k-1}` vs
        :math:`M_k`, at index ``k - 1``.
    ngrams_ : dict of str to ndarray of shape (m_k, k + 1), int64
        Layer ``k`` (key ``str(k)``): the distinct observed sub-sequences
        :math:`(v_{i-k}, \dots, v_{i-1}, v_i)`, context first, next symbol last, in
        lexicographic order.
    ngram_counts_ : dict of str to ndarray of shape (m_k,), int64
        Their counts :math:`N(\cdot)`.
    n_symbols_ : int
        Alphabet size (symbols are ``0 .. n_symbols_ - 1``).
    n_observed_symbols_ : int
        Distinct symbols seen in training (the :math:`n` of the degrees of freedom).
    n_sequences_, n_transitions_ : int
        Training sequences and transitions (symbols with a predecessor).
    input_type_ : {"symbols", "one_hot", "continuous"}
        How the training input was read.
    quantizer_ : {"none", "quantile", "kmeans"}
        The fitted quantiser (continuous input only).
    n_features_in_ : int
        Features per step (float input only).
    bin_edges_ : ndarray of shape (n_features_in_, n_bins - 1)
        Quantile bin edges fitted on the training data (``"quantile"``).
    codebook_ : ndarray of shape (n_codes, n_features_in_)
        k-means centroids fitted on the training data (``"kmeans"``).

    Examples
    --------
    >>> from neurorec.models import MultiOrderMarkov
    >>> paths = [[0, 2, 3]] * 10 + [[1, 2, 4]] * 10        # a->c->d and b->c->e
    >>> MultiOrderMarkov(max_order=2).fit(paths).order_
    2
    """

    # per-step next-symbol prediction; predict returns integer symbols, not a regressor's
    # targets, so only tasks with a symbol read-out (neurorec.data.symbolic.SymbolTask) score it
    # meaningfully (the default compare restricts it with `tasks = ["symbolic"]`);
    # neurorec.testing.check_model runs its symbol checks on it
    _supported_kinds = frozenset({"forecast"})
    _predicts_symbols = True

    def __init__(self, max_order: int = 3, order="auto", alpha: float = 0.01, dof: str = "paths",
                 selection: str = "largest", smoothing: float = 0.0, backoff: bool = True,
                 n_symbols: int | None = None, quantizer: str = "auto", n_bins: int = 8, seed=None):
        self.max_order = max_order
        self.order = order
        self.alpha = alpha
        self.dof = dof
        self.selection = selection
        self.smoothing = smoothing
        self.backoff = backoff
        self.n_symbols = n_symbols
        self.quantizer = quantizer
        self.n_bins = n_bins
        self.seed = seed

    # ------------------------------------------------------------------ checks
    def _is_fitted(self) -> bool:
        return hasattr(self, "order_")

    # every hyperparameter, checked at fit and on load (neurorec._params); the seed is an int
    # (it seeds the k-means codebook and is saved with the model), not a Generator
    _param_spec = {
        "max_order": P.Int(0), "order": P.Options("auto") | P.Int(0), "alpha": P.Real(0, 1, closed="neither"),
        "dof": P.Options("paths", "ngrams"), "selection": P.Options("largest", "first"),
        "smoothing": P.Real(0), "backoff": P.Bool(), "n_symbols": P.NoneOK() | P.Int(1),
        "quantizer": P.Options(*_QUANTIZERS), "n_bins": P.Int(2), "seed": P.NoneOK() | P.Int(0, 2 ** 63 - 1),
    }

    def _estimator_kind(self) -> str:
        # neither a classifier nor a regressor: fit learns the distribution of X itself (y is
        # ignored) and predict gives the next symbol after every step of X, not a label per
        # sample; scikit-learn sees a transformer (transform: the symbols read from X)
        return "transformer"

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.order != "auto" and self.order > self.max_order:
            raise P.ParameterError(f"MultiOrderMarkov(order={self.order!r}, max_order={self.max_order!r}) is "
                                   f"invalid: order must be at most max_order: order={self.order} is larger than "
                                   f"max_order={self.max_order}; raise max_order to at least {self.order}.")

    # ------------------------------------------------------------------ input reading
    def _read(self, X, name: str = "X") -> _Parsed:
        """Read X as integer symbols or float (…, features) sequences (not yet symbolised)."""
        if X is None:
            raise ValueError(f"{name} is None; expected integer symbol sequences or float sequences "
                             f"(batch, time, features).")
        if hasattr(X, "detach") and hasattr(X, "cpu"):
            X = X.detach().cpu().numpy()
        if isinstance(X, (list, tuple)):
            if len(X) == 0:
                raise ValueError(f"{name} is empty: it holds 0 sequences.")
            if all(np.ndim(x) == 0 for x in X):
                return _Parsed([_integer_symbols(X, name)], "single", "symbols")
            ndims = {np.ndim(x) for x in X}
            if ndims == {1} and len({len(x) for x in X}) == 1:
                rows = numeric_array(X, name, "numbers")
                if rows.dtype.kind == "f" and np.isfinite(rows).all() and not np.all(rows == np.round(rows)):
                    # rows of fractional numbers cannot be symbol sequences: the list is read as
                    # the array it spells, one (time, features) float sequence
                    return self._read_float(rows, name)
            if ndims == {1}:
                return _Parsed([_integer_symbols(x, f"{name}[{i}]") for i, x in enumerate(X)], "list",
                               "symbols")
            if ndims == {2}:
                return self._read_float(X, name)
            raise ValueError(f"{name} must be a list of 1-D integer symbol sequences or of (time_i, features) "
                             f"arrays, got elements with {sorted(ndims)} dimensions.")
        arr = numeric_array(X, name, "numbers")
        if arr.ndim == 1:
            return _Parsed([_integer_symbols(arr, name)], "single", "symbols")
        if arr.dtype.kind in "biu" and arr.ndim == 2:
            if arr.shape[0] == 0:
                raise ValueError(f"{name} is empty: it holds 0 sequences (shape {arr.shape}).")
            return _Parsed([_integer_symbols(a, f"{name}[{i}]") for i, a in enumerate(arr)], "batch", "symbols")
        if arr.ndim in (2, 3):
            return self._read_float(arr, name)
        raise ValueError(f"{name} must be integer symbols (time,), (batch, time) or a list of 1-D sequences, or "
                         f"float sequences (batch, time, features) / (time, features); got shape {arr.shape}.")

    def _read_float(self, X, name):
        batch = check_sequences(X, name, dtype=np.float64)
        seqs = [batch.data[i, : batch.lengths[i]] for i in range(batch.batch)]
        layout = "single" if batch.single else ("list" if batch.ragged else "batch")
        return _Parsed(None, layout, "float", seqs)

    def _symbolise(self, parsed: _Parsed, name: str, fitting: bool) -> _Parsed:
        """Turn float input into symbols (fitting the quantiser when ``fitting``)."""
        if parsed.kind == "symbols":
            if fitting:
                self.input_type_ = "symbols"
                self.quantizer_ = "none"
            return parsed
        feats = parsed.features
        F = feats[0].shape[1]
        rows = np.concatenate(feats)
        if fitting:
            self.n_features_in_ = int(F)
            if _is_one_hot(rows):
                self.input_type_, self.quantizer_ = "one_hot", "none"
            else:
                self.input_type_ = "continuous"
                self._fit_quantizer(rows)
        if self.input_type_ == "continuous":
            if F != self.n_features_in_:
                raise ValueError(f"{name} has {F} features, but MultiOrderMarkov is expecting "
                                 f"{self.n_features_in_} features as input (the model was fitted with "
                                 f"{self.n_features_in_} features per step).")
            parsed.seqs = [self._quantize(f) for f in feats]
        else:
            n = self.n_symbols_ if hasattr(self, "n_symbols_") else F
            if F != n or not _is_one_hot(rows):
                what = "one-hot" if self.input_type_ == "one_hot" else "integer-symbol"
                raise ValueError(f"{name} must be integer symbols or one-hot steps over the {n} symbols: the "
                                 f"model was fitted on {what} input and {name} is continuous "
                                 f"(features={F}, not one 1 per step).")
            parsed.seqs = [f.argmax(1).astype(np.int64) for f in feats]
        parsed.kind = "symbols"
        return parsed

    def _fit_quantizer(self, rows: np.ndarray) -> None:
        F = rows.shape[1]
        kind = self.quantizer
        if kind == "auto":
            kind = "quantile" if F == 1 else "kmeans"
        if kind == "quantile":
            n_joint = self.n_bins ** F
            if n_joint > _MAX_JOINT_SYMBOLS:
                raise ValueError(f"quantizer='quantile' with n_bins={self.n_bins} on {F} features makes "
                                 f"{n_joint} joint symbols (more than {_MAX_JOINT_SYMBOLS}); use "
                                 f"quantizer='kmeans' (a codebook of n_bins symbols) or fewer bins.")
            q = np.arange(1, self.n_bins) / self.n_bins
            self.bin_edges_ = np.quantile(rows, q, axis=0).T.copy()       # (F, n_bins - 1)
            self.quantizer_ = "quantile"
        else:
            from sklearn.cluster import KMeans

            n_distinct = len(np.unique(rows, axis=0))
            k = min(self.n_bins, n_distinct)
            km = KMeans(n_clusters=k, n_init=4, random_state=0 if self.seed is None else int(self.seed))
            km.fit(rows)
            self.codebook_ = np.asarray(km.cluster_centers_, dtype=np.float64)
            self.quantizer_ = "kmeans"

    def _quantize(self, rows: np.ndarray) -> np.ndarray:
        if self.quantizer_ == "quantile":
            F = rows.shape[1]
            nb = self.bin_edges_.shape[1] + 1
            sym = np.zeros(len(rows), dtype=np.int64)
            for f in range(F):
                b = np.searchsorted(self.bin_edges_[f], rows[:, f], side="right")
                sym += b.astype(np.int64) * nb ** f
            return sym
        C = self.codebook_
        d = (rows ** 2).sum(1, keepdims=True) - 2.0 * rows @ C.T + (C ** 2).sum(1)[None, :]
        return d.argmin(1).astype(np.int64)

    def _symbols(self, X, name: str = "X") -> _Parsed:
        """Read X at predict time: symbols in range of the fitted alphabet."""
        self._check_fitted("predict")
        parsed = self._symbolise(self._read(X, name), name, fitting=False)
        top = max(int(s.max()) for s in parsed.seqs)
        if top >= self.n_symbols_:
            raise ValueError(f"{name} holds symbol {top}, outside the fitted alphabet 0..{self.n_symbols_ - 1} "
                             f"(set n_symbols to the alphabet size when fitting).")
        return parsed

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None) -> MultiOrderMarkov:
        """Count the sub-sequences of ``X``, build layers ``0 .. max_order`` and select the order.

        Parameters
        ----------
        X : integer symbol sequences or float sequences
            See the class docstring for the accepted layouts.
        y : ignored
            Accepted so that ``fit(X, y)`` works in a task runner; the model learns the input
            sequences themselves (next-symbol targets are ``X`` shifted by one step).
        """
        self._validate_params()
        for k in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, k)
        self._cache = None
        parsed = self._symbolise(self._read(X, "X"), "X", fitting=True)
        seqs = parsed.seqs
        top = max(int(s.max()) for s in seqs)
        if self.input_type_ == "symbols":
            if self.n_symbols is not None and top >= self.n_symbols:
                raise ValueError(f"X holds symbol {top} but n_symbols={self.n_symbols} (symbols must be "
                                 f"0..{self.n_symbols - 1}).")
            n = int(self.n_symbols) if self.n_symbols is not None else top + 1
        elif self.input_type_ == "one_hot":
            n = self.n_features_in_
            if self.n_symbols is not None and self.n_symbols != n:
                raise ValueError(f"X is one-hot over {n} symbols but n_symbols={self.n_symbols}.")
        elif self.quantizer_ == "quantile":
            n = (self.bin_edges_.shape[1] + 1) ** self.n_features_in_
        else:
            n = self.codebook_.shape[0]
        lengths = parsed.lengths
        longest = int(lengths.max())
        if longest < 2:
            raise ValueError("every sequence in X has a single symbol (one sample, i.e. one time step, for a "
                             "(time, features) array): there is no transition to learn from (at least one "
                             "sequence of 2 or more symbols is needed).")
        K = int(self.max_order)
        if K > longest - 1:
            if self.order != "auto" and self.order > longest - 1:
                raise ValueError(f"order={self.order} needs a sequence of at least {self.order + 1} symbols; "
                                 f"the longest in X has {longest}.")
            warnings.warn(f"max_order={K} but the longest sequence has {longest} symbols: orders above "
                          f"{longest - 1} have no data and are not built.", UserWarning, stacklevel=2)
            K = longest - 1
        if n ** (K + 1) >= _CODE_LIMIT:
            raise ValueError(f"an alphabet of {n} symbols is too large for max_order={K} (n ** (max_order + 1) "
                             f"must stay below 2**62); lower max_order or n_bins.")
        self.n_symbols_ = int(n)
        self.max_order_ = K
        self.n_sequences_ = int(len(seqs))
        self.n_transitions_ = int((lengths - 1).sum())

        s, pos = _concat(seqs)
        self.n_observed_symbols_ = int(len(np.unique(s)))
        ngrams, counts = {}, {}
        W = s.copy()                                   # codes of the windows ending at each index
        for k in range(K + 1):
            if k > 0:
                W = np.concatenate([[0], W[:-1] * n + s[1:]])
            codes, c = np.unique(W[pos >= k], return_counts=True)
            ngrams[str(k)] = _decode(codes, n, k + 1)
            counts[str(k)] = c.astype(np.int64)
        self.ngrams_, self.ngram_counts_ = ngrams, counts

        # maximum-likelihood log-likelihood of each M_K on the training data
        logp = [self._symbol_logprobs(s, pos, k, smoothing=0.0, backoff=False) for k in range(K + 1)]
        ll = np.array([float(lp.sum()) for lp in logp])
        self.log_likelihoods_ = ll
        self.layer_dof_ = self._layer_dof(s, pos, K)
        self.dof_ = np.cumsum(self.layer_dof_).astype(np.int64)
        stats = np.array([2.0 * (ll[k] - ll[k - 1]) for k in range(1, K + 1)], dtype=np.float64)
        tol = 1e-9 * max(1.0, float(np.abs(ll).max()))
        pvals = np.array([_p_value(x, int(d), tol) for x, d in zip(stats, self.layer_dof_[1:], strict=True)],
                         dtype=np.float64)
        self.statistics_, self.p_values_ = stats, pvals
        if self.order == "auto":
            self.order_ = _select(pvals, float(self.alpha), self.selection)
        else:
            self.order_ = int(self.order)
        k = self.order_
        if k > 0 and self.order == "auto" and self.layer_dof_[k] > 0:
            per_dof = float(self.ngram_counts_[str(k)].sum()) / float(self.layer_dof_[k])
            if per_dof < _MIN_PER_DOF:
                warnings.warn(f"order {k} was selected with {per_dof:.2g} observed transitions per degree of "
                              f"freedom of its layer; with counts this sparse the chi-square approximation of the "
                              f"likelihood-ratio statistic is unreliable and tends to select too high an order. "
                              f"Use more data, fewer symbols or a lower max_order.", UserWarning, stacklevel=2)
        self._tables()          # built here, so that predict/transform leave the model unchanged
        return self

    def _layer_dof(self, s: np.ndarray, pos: np.ndarray, K: int) -> np.ndarray:
        n_obs = self.n_observed_symbols_
        dof = np.zeros(K + 1, dtype=np.int64)
        dof[0] = n_obs - 1
        if K == 0:
            return dof
        if self.dof == "ngrams":
            for k in range(1, K + 1):
                dof[k] = n_obs ** k * (n_obs - 1)
            return dof
        n = self.n_symbols_
        big = self.ngrams_["1"]
        A = np.zeros((n, n), dtype=np.int64)
        A[big[:, 0], big[:, 1]] = 1                    # observed first-order topology
        outdeg = A.sum(1)
        r = np.zeros(n, dtype=np.int64)                # r[v]: paths of length j ending at v
        r[np.unique(s)] = 1                            # j = 0: the observed symbols
        for k in range(1, K + 1):
            dof[k] = int((r * np.maximum(outdeg - 1, 0)).sum())
            r = r @ A
        return dof

    # ------------------------------------------------------------------ lookup tables
    def _tables(self):
        cache = getattr(self, "_cache", None)
        if cache is not None and cache[0] is self.ngrams_:
            return cache[1]
        from scipy.sparse import csr_matrix

        n = self.n_symbols_
        tables = []
        for k in range(self.max_order_ + 1):
            g = self.ngrams_[str(k)]
            c = self.ngram_counts_[str(k)].astype(np.float64)
            codes = _encode(g, n)                       # sorted (lexicographic order)
            ctx = codes // n
            nxt = (codes % n).astype(np.int64)
            uctx, start = np.unique(ctx, return_index=True)
            indptr = np.append(start, len(codes)).astype(np.int64)
            totals = np.add.reduceat(c, start) if len(c) else np.zeros(0)
            order = np.lexsort((nxt, -c, ctx))          # per context: highest count, then lowest symbol
            first = np.unique(ctx[order], return_index=True)[1]
            best = nxt[order][first]
            mat = csr_matrix((c, nxt, indptr), shape=(len(uctx), n))
            tables.append(dict(codes=codes, uctx=uctx, indptr=indptr, nxt=nxt, counts=c, totals=totals,
                               best=best, mat=mat))
        self._cache = (self.ngrams_, tables)
        return tables

    def _context_rows(self, s: np.ndarray, pos: np.ndarray, order: int, backoff: bool):
        """For every index e (context ending at e, predicting the symbol after it): the layer
        used and its row in that layer's context table (-1: context not seen)."""
        tables = self._tables()
        n = self.n_symbols_
        N = len(s)
        target = np.minimum(order, pos + 1)
        layer = np.zeros(N, dtype=np.int64)
        row = np.zeros(N, dtype=np.int64)                     # order 0: its single context
        if len(tables[0]["uctx"]) == 0:
            row[:] = -1
        C = np.zeros(N, dtype=np.int64)                       # code of the last k symbols
        for k in range(1, order + 1):
            shifted = np.zeros(N, dtype=np.int64)
            shifted[k - 1:] = s[: N - k + 1]
            C = C + shifted * n ** (k - 1)                    # s[e-k+1] is the most significant digit
            uctx = tables[k]["uctx"]
            idx = np.searchsorted(uctx, C)
            ok = (idx < len(uctx))
            ok[ok] = uctx[idx[ok]] == C[ok]
            valid = target >= k
            if backoff:
                use = valid & ok
                layer[use], row[use] = k, idx[use]
            else:
                exact = target == k
                layer[exact] = k
                row[exact] = np.where(ok[exact], idx[exact], -1)
        return layer, row

    def _next_prob(self, layer, row, sym, smoothing: float) -> np.ndarray:
        """P(sym | context) for arrays of (layer, row, symbol)."""
        tables = self._tables()
        n = self.n_symbols_
        p = np.full(len(sym), 1.0 / n)
        for k, t in enumerate(tables):
            sel = (layer == k) & (row >= 0)
            if not sel.any():
                continue
            r = row[sel]
            code = t["uctx"][r] * n + sym[sel]
            i = np.searchsorted(t["codes"], code)
            hit = i < len(t["codes"])
            hit[hit] = t["codes"][i[hit]] == code[hit]
            cnt = np.where(hit, t["counts"][np.minimum(i, len(t["codes"]) - 1)], 0.0)
            p[sel] = (cnt + smoothing) / (t["totals"][r] + smoothing * n)
        return p

    def _symbol_logprobs(self, s, pos, order, smoothing, backoff) -> np.ndarray:
        """log P(v_i | v_{i-min(order, i)} .. v_{i-1}) for every symbol of the concatenated
        sequences (position 0 of a sequence: the order-0 layer)."""
        N = len(s)
        layer = np.zeros(N, dtype=np.int64)
        row = np.zeros(N, dtype=np.int64)
        if len(self._tables()[0]["uctx"]) == 0:
            row[:] = -1
        if N > 1 and order > 0:
            lay_e, row_e = self._context_rows(s, pos, order, backoff)
            inner = pos[1:] > 0                               # symbol i has a predecessor in its sequence
            layer[1:][inner] = lay_e[:-1][inner]
            row[1:][inner] = row_e[:-1][inner]
        with np.errstate(divide="ignore"):
            return np.log(self._next_prob(layer, row, s, smoothing))

    # ------------------------------------------------------------------ prediction
    def predict_proba(self, X):
        """Distribution of the next symbol after every step.

        Returns
        -------
        ndarray of shape (…, n_symbols_) in the layout of ``X``
            ``(time, n)`` for one sequence, ``(batch, time, n)`` for a batch, a list of
            ``(time_i, n)`` arrays for a list. Row ``t`` is :math:`P(v_{t+1} \\mid v_0 \\dots v_t)`.
        """
        parsed = self._symbols(X, "X")
        s, pos = _concat(parsed.seqs)
        layer, row = self._context_rows(s, pos, self.order_, bool(self.backoff))
        n, lam = self.n_symbols_, float(self.smoothing)
        P = np.full((len(s), n), 1.0 / n)
        for k, t in enumerate(self._tables()):
            sel = np.flatnonzero((layer == k) & (row >= 0))
            if len(sel) == 0:
                continue
            r = row[sel]
            P[sel] = (t["mat"][r].toarray() + lam) / (t["totals"][r] + lam * n)[:, None]
        return parsed.restore(np.split(P, np.cumsum(parsed.lengths)[:-1]))

    def predict(self, X):
        """The most probable next symbol after every step (ties: the lowest symbol).

        Returns
        -------
        int64 array or list of arrays
            In the layout of ``X``: ``(time,)``, ``(batch, time)`` or a list of ``(time_i,)``
            arrays. Entry ``t`` predicts :math:`v_{t+1}`; a continuous or one-hot ``X`` gives
            symbols too.
        """
        parsed = self._symbols(X, "X")
        return parsed.restore(self._predict_seqs(parsed.seqs))

    def _predict_seqs(self, seqs):
        s, pos = _concat(seqs)
        layer, row = self._context_rows(s, pos, self.order_, bool(self.backoff))
        out = np.zeros(len(s), dtype=np.int64)               # an unseen context: uniform -> symbol 0
        for k, t in enumerate(self._tables()):
            sel = (layer == k) & (row >= 0)
            out[sel] = t["best"][row[sel]]
        return np.split(out, np.cumsum([len(q) for q in seqs])[:-1])

    def transform(self, X):
        """The symbols the model reads from ``X`` (quantised or one-hot input decoded), int64,
        in the layout of ``X``."""
        parsed = self._symbols(X, "X")
        return parsed.restore(parsed.seqs)

    def score(self, X, y=None) -> float:
        """Next-symbol accuracy.

        Without ``y``: the fraction of transitions :math:`v_t \\to v_{t+1}` of ``X`` whose
        :meth:`predict` at step ``t`` equals :math:`v_{t+1}`. With ``y``: per-step targets in
        the layout of :meth:`predict` (integer symbols), or one-hot/score arrays with a last
        axis of ``n_symbols_`` (read as their arg-max), compared with :meth:`predict` at every
        step.
        """
        parsed = self._symbols(X, "X")
        preds = self._predict_seqs(parsed.seqs)
        if y is None:
            hits = sum(int((p[:-1] == q[1:]).sum()) for p, q in zip(preds, parsed.seqs, strict=True))
            total = int((parsed.lengths - 1).sum())
            if total == 0:
                raise ValueError("X has no transitions to score (every sequence has one symbol).")
            return hits / total
        targets = self._targets(y, parsed)
        hits = sum(int((p == q).sum()) for p, q in zip(preds, targets, strict=True))
        return hits / int(parsed.lengths.sum())

    def _targets(self, y, parsed: _Parsed):
        n = self.n_symbols_
        if hasattr(y, "detach") and hasattr(y, "cpu"):
            y = y.detach().cpu().numpy()
        if parsed.layout == "list":
            if not isinstance(y, (list, tuple)) or len(y) != len(parsed.seqs):
                raise ValueError(f"y must be a list of {len(parsed.seqs)} per-step target sequences like X.")
            items = list(y)
        else:
            arr = np.asarray(y)
            items = [arr] if parsed.layout == "single" else list(arr)
            if parsed.layout == "batch" and len(items) != len(parsed.seqs):
                raise ValueError(f"y has {len(items)} sequences but X has {len(parsed.seqs)}.")
        out = []
        for i, (t, L) in enumerate(zip(items, parsed.lengths, strict=True)):
            t = np.asarray(t)
            if t.ndim == 2 and t.shape[1] == n:
                check_finite(t, "y")
                t = t.argmax(1)
            elif t.ndim == 2 and t.shape[1] == 1:
                t = t[:, 0]
            t = _integer_symbols(t, f"y[{i}]")
            if len(t) != L:
                raise ValueError(f"y[{i}] has {len(t)} steps but X[{i}] has {L}.")
            out.append(t)
        return out

    def log_likelihood(self, X, order: int | None = None) -> float:
        r"""Log-likelihood of ``X`` under the multi-order model :math:`M_K`.

        :math:`K` is ``order`` (default ``order_``); every sequence contributes
        :math:`\log P^{(0)}(v_0) + \sum_{i \ge 1} \log P(v_i \mid \text{last } \min(K, i)
        \text{ symbols})`, with the model's ``smoothing`` and ``backoff``. On the training
        data with ``smoothing=0`` this is ``log_likelihoods_[K]``. A transition the model gives
        probability 0 makes it ``-inf``.
        """
        parsed = self._symbols(X, "X")
        K = self.order_ if order is None else order
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or not 0 <= K <= self.max_order_:
            raise ValueError(f"order must be an integer in [0, {self.max_order_}], got {order!r}.")
        s, pos = _concat(parsed.seqs)
        return float(self._symbol_logprobs(s, pos, int(K), float(self.smoothing), bool(self.backoff)).sum())

    # ------------------------------------------------------------------ sampling
    def sample(self, n_steps: int, start=None, seed=None) -> np.ndarray:
        """Draw a sequence from the fitted model of order ``order_``.

        Parameters
        ----------
        n_steps : int
            Number of symbols to draw.
        start : sequence of int, optional
            Symbols that come before the sample (its context); not included in the output.
            Without it the first symbol is drawn from the order-0 layer, the second from
            the order-1 layer, and so on up to ``order_``, as in the multi-order likelihood.
        seed : int, optional
            Overrides the model's ``seed`` for this call; with both ``None`` the draw is not
            reproducible.

        Returns
        -------
        ndarray of shape (n_steps,), int64
        """
        self._check_fitted("sample")
        n_steps = check_positive_int(n_steps, "n_steps")
        if seed is not None:
            check_positive_int(seed, "seed", minimum=0)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        hist = []
        if start is not None and not (hasattr(start, "__len__") and len(start) == 0):
            hist = self._symbols(_integer_symbols(start, "start"), "start").seqs[0].tolist()
        tables = self._tables()
        n, lam, K = self.n_symbols_, float(self.smoothing), self.order_
        out = np.empty(n_steps, dtype=np.int64)
        u = rng.random(n_steps)
        for i in range(n_steps):
            k_target = min(K, len(hist))
            p = None
            for k in range(k_target, -1, -1):
                t = tables[k]
                code = 0
                for v in hist[len(hist) - k:] if k else ():
                    code = code * n + v
                j = int(np.searchsorted(t["uctx"], code))
                if j < len(t["uctx"]) and t["uctx"][j] == code:
                    a, b = t["indptr"][j], t["indptr"][j + 1]
                    if lam > 0:
                        p = np.full(n, lam)
                        p[t["nxt"][a:b]] += t["counts"][a:b]
                    else:
                        p = (t["nxt"][a:b], t["counts"][a:b])
                    break
                if not self.backoff:
                    break
            if p is None:
                v = min(int(u[i] * n), n - 1)
            elif isinstance(p, tuple):
                cum = np.cumsum(p[1])
                v = int(p[0][min(int(np.searchsorted(cum, u[i] * cum[-1], side="right")), len(cum) - 1)])
            else:
                cum = np.cumsum(p)
                v = min(int(np.searchsorted(cum, u[i] * cum[-1], side="right")), n - 1)
            out[i] = v
            hist.append(v)
        return out

    def generate(self, n_steps: int, warmup=None) -> np.ndarray:
        """:meth:`sample` with ``warmup`` (one sequence in any input layout the model reads:
        symbols, one-hot or continuous) as the context; returns ``(n_steps,)`` symbols."""
        start = None
        if warmup is not None:
            parsed = self._symbols(warmup, "warmup")
            if len(parsed.seqs) != 1:
                raise ValueError(f"warmup must be one sequence, got {len(parsed.seqs)}.")
            start = parsed.seqs[0]
        return self.sample(n_steps, start=start)

    # ------------------------------------------------------------------ reports
    def likelihood_ratio_test(self, null_order: int, alt_order: int) -> dict:
        """Likelihood-ratio test of :math:`M_{null}` against :math:`M_{alt}` on the training data.

        Returns
        -------
        dict
            ``statistic`` :math:`-2(\\log L_{null} - \\log L_{alt})`, ``dof``
            :math:`D_{alt} - D_{null}`, ``p_value`` and ``reject`` (``p_value < alpha``).
        """
        self._check_fitted("likelihood_ratio_test")
        for name, v in (("null_order", null_order), ("alt_order", alt_order)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v <= self.max_order_:
                raise ValueError(f"{name} must be an integer in [0, {self.max_order_}], got {v!r}.")
        if not null_order < alt_order:
            raise ValueError(f"null_order ({null_order}) must be smaller than alt_order ({alt_order}).")
        x = -2.0 * (self.log_likelihoods_[null_order] - self.log_likelihoods_[alt_order])
        d = int(self.dof_[alt_order] - self.dof_[null_order])
        p = _p_value(x, d, 1e-9 * max(1.0, float(np.abs(self.log_likelihoods_).max())))
        return {"statistic": float(x), "dof": d, "p_value": p, "reject": bool(p < self.alpha)}

    def summary(self):
        """The order-selection table as a pandas DataFrame, one row per order ``K``:
        ``order``, ``log_likelihood`` (of :math:`M_K`), ``layer_dof`` (:math:`d_K`), ``dof``
        (:math:`D_K`), and for the test of :math:`M_{K-1}` vs :math:`M_K` ``statistic``,
        ``p_value`` and ``rejected`` (NaN / False for order 0); ``selected`` marks ``order_``."""
        import pandas as pd

        self._check_fitted("summary")
        K = self.max_order_
        stat = np.concatenate([[np.nan], self.statistics_])
        pval = np.concatenate([[np.nan], self.p_values_])
        return pd.DataFrame({
            "order": np.arange(K + 1),
            "log_likelihood": self.log_likelihoods_,
            "layer_dof": self.layer_dof_,
            "dof": self.dof_,
            "statistic": stat,
            "p_value": pval,
            "rejected": np.nan_to_num(pval, nan=1.0) < self.alpha,
            "selected": np.arange(K + 1) == self.order_,
        })

    @property
    def diagnostics_(self) -> dict:
        """Scalars worth a column in an experiment table: ``order``, ``max_order``,
        ``n_symbols``, ``n_observed_symbols``, ``input_type``."""
        self._check_fitted("diagnostics_")
        return {"order": int(self.order_), "max_order": int(self.max_order_),
                "n_symbols": int(self.n_symbols_), "n_observed_symbols": int(self.n_observed_symbols_),
                "input_type": self.input_type_}

    @property
    def n_parameters_(self) -> dict:
        """``total`` and ``trained``: the non-zero transition probabilities of layers
        ``0 .. order_``, all estimated from the data (the model size, pathpy's
        ``model_size``). The degrees of freedom of the tests are ``dof_``."""
        self._check_fitted("n_parameters_")
        total = int(sum(len(self.ngram_counts_[str(k)]) for k in range(self.order_ + 1)))
        return {"total": total, "trained": total}


# ---------------------------------------------------------------------- per-task report
def order_table(tasks, seeds=(0, 1, 2), **params):
    """How much temporal memory each task's inputs have: a :class:`MultiOrderMarkov` fitted
    on the training inputs of every task and seed.

    Parameters
    ----------
    tasks : iterable of str or Task
        Task names (:func:`neurorec.data.get_task` with default parameters) or task objects.
    seeds : iterable of int
        Seeds passed to ``task.load``.
    **params
        Hyperparameters of the :class:`MultiOrderMarkov` (its ``seed`` is the run's seed).

    Returns
    -------
    pandas.DataFrame
        One row per task and seed: ``task``, ``seed``, ``order`` (selected), ``max_order``
        (built), ``p_values`` (tests of :math:`M_{k-1}` vs :math:`M_k`, space separated),
        ``n_symbols``, ``input_type``, ``quantizer``, ``test_accuracy`` (next-symbol accuracy on
        the test split's inputs: the prediction after step ``t`` against the symbol at
        ``t + 1``, for ``t >= split.skip``, so a forecast split's warm-up only serves as
        context) and ``fit_seconds``.
    """
    import time

    import pandas as pd

    from neurorec.data import get_task

    rows = []
    for task in tasks:
        task = get_task(task) if isinstance(task, str) else task
        for seed in seeds:
            data = task.load(seed)
            model = MultiOrderMarkov(**{**params, "seed": int(seed)})
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)      # max_order above the sequence length
                model.fit(data.train.X)
            fit_s = time.perf_counter() - t0
            seqs = model._symbols(data.test.X, "test.X").seqs
            preds = model._predict_seqs(seqs)
            skip = int(data.test.skip)
            hits = sum(int((p[skip:-1] == q[skip + 1:]).sum()) for p, q in zip(preds, seqs, strict=True))
            total = sum(max(len(q) - skip - 1, 0) for q in seqs)
            rows.append({"task": task.name, "seed": int(seed), "order": model.order_,
                         "max_order": model.max_order_,
                         "p_values": " ".join(f"{p:.2g}" for p in model.p_values_),
                         "n_symbols": model.n_symbols_, "input_type": model.input_type_,
                         "quantizer": model.quantizer_,
                         "test_accuracy": hits / total if total else float("nan"), "fit_seconds": fit_s})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- helpers
def _concat(seqs):
    """All sequences end to end, and each index's position within its own sequence."""
    s = np.concatenate(seqs).astype(np.int64)
    lengths = np.array([len(q) for q in seqs], dtype=np.int64)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    pos = np.arange(len(s), dtype=np.int64) - starts
    return s, pos


def _encode(g: np.ndarray, n: int) -> np.ndarray:
    code = np.zeros(len(g), dtype=np.int64)
    for j in range(g.shape[1]):
        code = code * n + g[:, j]
    return code


def _decode(codes: np.ndarray, n: int, width: int) -> np.ndarray:
    out = np.empty((len(codes), width), dtype=np.int64)
    c = codes.copy()
    for j in range(width - 1, -1, -1):
        out[:, j] = c % n
        c //= n
    return out


def _p_value(x: float, d: int, tol: float) -> float:
    """Upper tail of chi^2(d) at x. With d = 0 the distribution is a point mass at 0: p = 1
    when the likelihoods are equal (within ``tol``), else 0."""
    from scipy.stats import chi2

    if d <= 0:
        return 1.0 if x <= tol else 0.0
    return float(chi2.sf(max(x, 0.0), d))


def _select(pvals: np.ndarray, alpha: float, rule: str) -> int:
    reject = np.nan_to_num(pvals, nan=1.0) < alpha
    if rule == "first":
        k = 0
        while k < len(reject) and reject[k]:
            k += 1
        return k
    hits = np.flatnonzero(reject)
    return int(hits[-1] + 1) if len(hits) else 0
