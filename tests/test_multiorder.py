"""MultiOrderMarkov: order selection (Scholtes 2017), likelihood, degrees of freedom,
prediction, sampling, quantiser, persistence and input errors."""

import warnings

import numpy as np
import pytest

from neurorec.base import NotFittedError
from neurorec.models import MultiOrderMarkov

A, B, C, D, E = range(5)


def _chain(order, n, n_seq, length, seed, conc=0.3):
    """Sequences of a random order-``order`` Markov chain over ``n`` symbols, and its table."""
    rng = np.random.default_rng(seed)
    T = rng.dirichlet(np.full(n, conc), size=(n,) * order)
    seqs = []
    for _ in range(n_seq):
        s = list(rng.integers(n, size=order))
        while len(s) < length:
            s.append(int(rng.choice(n, p=T[tuple(s[-order:])])))
        seqs.append(np.array(s))
    return seqs, T


# ------------------------------------------------------------------ order selection (the tests)
def test_paths_acd_bce_select_order_2():
    # a->c->d and b->c->e: the first-order network has equal weights on a-c, b-c, c-d, c-e,
    # but where a path goes after c depends on where it came from
    paths = [[A, C, D]] * 10 + [[B, C, E]] * 10
    m = MultiOrderMarkov(max_order=2).fit(paths)
    assert m.order_ == 2
    assert m.p_values_[1] < 0.01
    # the same data under the unconstrained n-gram degrees of freedom (5^2 * 4 = 100 for layer 2)
    # do not justify order 2: the paths assumption is what makes the test powerful
    with pytest.warns(UserWarning, match="unreliable"):       # 40 transitions for 24 parameters
        assert MultiOrderMarkov(max_order=2, dof="ngrams").fit(paths).order_ == 1


def test_four_two_step_paths_equally_frequent_select_order_1():
    paths = [[A, C, D], [A, C, E], [B, C, D], [B, C, E]] * 10
    m = MultiOrderMarkov(max_order=2).fit(paths)
    assert m.order_ == 1
    assert m.statistics_[1] == pytest.approx(0.0, abs=1e-9)
    assert m.p_values_[1] == pytest.approx(1.0)
    assert m.p_values_[0] < 1e-10                        # order 1 vs order 0 is clearly rejected


def test_known_order3_chain_selects_3():
    seqs, _ = _chain(3, 4, 100, 100, seed=0)
    m = MultiOrderMarkov(max_order=4).fit(seqs)
    assert m.order_ == 3
    assert (m.p_values_[:3] < 1e-6).all() and m.p_values_[3] > 0.01


def test_known_order1_chain_selects_1():
    seqs, _ = _chain(1, 4, 100, 100, seed=1)
    m = MultiOrderMarkov(max_order=3).fit(seqs)
    assert m.order_ == 1
    assert (m.p_values_[1:] > 0.01).all()


def test_deterministic_cycle_selects_order_1_although_its_layer_has_no_free_parameter():
    # 0 -> 1 -> 2 -> 0: every node has one successor, so d_1 = 0 under the paths assumption;
    # chi^2(0) is a point mass at 0 and the large likelihood gain rejects M_0
    m = MultiOrderMarkov(max_order=2).fit(np.tile([0, 1, 2], 10))
    np.testing.assert_array_equal(m.layer_dof_, [2, 0, 0])
    assert m.p_values_.tolist() == [0.0, 1.0]
    assert m.order_ == 1


def test_iid_sequence_selects_order_0():
    s = np.random.default_rng(3).integers(4, size=5000)
    assert MultiOrderMarkov(max_order=2).fit(s).order_ == 0


def test_selection_rules_largest_and_first():
    # order 3 matters, order 2 adds nothing over order 1: v_t = v_{t-3} (noisy)
    rng = np.random.default_rng(0)
    s = list(rng.integers(2, size=3))
    for _ in range(20000):
        s.append(s[-3] if rng.random() < 0.9 else int(rng.integers(2)))
    s = np.array(s)
    m = MultiOrderMarkov(max_order=3).fit(s)
    assert m.p_values_[0] > 0.01 and m.p_values_[2] < 1e-10
    assert m.order_ == 3                                          # the largest rejecting test
    assert MultiOrderMarkov(max_order=3, selection="first").fit(s).order_ == 0


def test_forced_order_is_used_and_tests_still_reported():
    paths = [[A, C, D]] * 10 + [[B, C, E]] * 10
    m = MultiOrderMarkov(max_order=2, order=1).fit(paths)
    assert m.order_ == 1 and len(m.p_values_) == 2
    summary = m.summary()
    assert list(summary.columns) == ["order", "log_likelihood", "layer_dof", "dof", "statistic", "p_value",
                                     "rejected", "selected"]
    assert summary["selected"].tolist() == [False, True, False]
    assert summary["rejected"].tolist() == [False, True, True]


# ------------------------------------------------------------------ likelihood and degrees of freedom by hand
def test_log_likelihoods_by_hand():
    # sequences 0 1 1 and 1 0: unigrams 0:2, 1:3; bigrams 01, 11, 10 once each; trigram 011
    m = MultiOrderMarkov(max_order=2).fit([[0, 1, 1], [1, 0]])
    log = np.log
    L0 = 2 * log(2 / 5) + 3 * log(3 / 5)
    L1 = (log(2 / 5) + log(1.0) + log(1 / 2)) + (log(3 / 5) + log(1 / 2))      # P(1|0)=1, P(1|1)=P(0|1)=1/2
    L2 = (log(2 / 5) + log(1.0) + log(1.0)) + (log(3 / 5) + log(1 / 2))        # P(1|0 1)=1
    np.testing.assert_allclose(m.log_likelihoods_, [L0, L1, L2], rtol=1e-12)
    np.testing.assert_array_equal(m.ngrams_["1"], [[0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(m.ngram_counts_["0"], [2, 3])


def test_log_likelihoods_match_pathpy_on_the_paper_example():
    # pathpy 2.2.0 MultiOrderModel.likelihood(max_order=k) on the same paths (a,c,d) x10, (b,c,e) x10
    m = MultiOrderMarkov(max_order=2).fit([[A, C, D]] * 10 + [[B, C, E]] * 10)
    np.testing.assert_allclose(m.log_likelihoods_, [-93.64262454, -49.69813300, -35.83518938], atol=1e-7)
    np.testing.assert_array_equal(m.dof_, [4, 5, 7])     # pathpy degrees_of_freedom(k, 'paths')


def test_log_likelihood_method_equals_fitted_likelihoods():
    seqs, _ = _chain(2, 3, 20, 50, seed=4)
    m = MultiOrderMarkov(max_order=3).fit(seqs)
    for k in range(4):
        assert m.log_likelihood(seqs, order=k) == pytest.approx(m.log_likelihoods_[k], rel=1e-12)


def test_degrees_of_freedom_by_hand_both_modes():
    # edges 0->1, 0->2, 1->2, 2->0: out-degrees 2, 1, 1
    s = [0, 1, 2, 0, 2, 0, 1, 2]
    paths = MultiOrderMarkov(max_order=3, dof="paths").fit(s)
    # d0 = n-1; d1 = sum_v (deg v - 1) = 1; d2 over the edges' heads: 2->0 only -> 1;
    # d3 over 2-paths 012, 120, 201, 202, 020 -> last nodes 2, 0, 1, 2, 0 -> 0+1+0+0+1 = 2
    np.testing.assert_array_equal(paths.layer_dof_, [2, 1, 1, 2])
    np.testing.assert_array_equal(paths.dof_, [2, 3, 4, 6])
    ngrams = MultiOrderMarkov(max_order=3, dof="ngrams").fit(s)
    np.testing.assert_array_equal(ngrams.layer_dof_, [2, 6, 18, 54])     # n^k (n-1), n = 3


def test_paths_and_ngrams_dof_coincide_on_a_complete_topology():
    seqs, _ = _chain(2, 3, 50, 60, seed=5, conc=5.0)
    a = MultiOrderMarkov(max_order=3, dof="paths").fit(seqs)
    b = MultiOrderMarkov(max_order=3, dof="ngrams").fit(seqs)
    np.testing.assert_array_equal(a.layer_dof_, b.layer_dof_)


def test_likelihood_ratio_test_between_any_orders():
    seqs, _ = _chain(2, 3, 30, 60, seed=6)
    m = MultiOrderMarkov(max_order=3).fit(seqs)
    r = m.likelihood_ratio_test(1, 2)
    assert r["statistic"] == pytest.approx(m.statistics_[1])
    assert r["p_value"] == pytest.approx(m.p_values_[1])
    assert r["dof"] == m.layer_dof_[2]
    with pytest.raises(ValueError, match="smaller"):
        m.likelihood_ratio_test(2, 1)


# ------------------------------------------------------------------ prediction
def test_next_symbol_accuracy_is_one_on_a_deterministic_order2_sequence():
    s = np.tile([0, 0, 1, 1], 50)                  # after 00 comes 1, 01 -> 1, 11 -> 0, 10 -> 0
    m = MultiOrderMarkov(max_order=3).fit(s)
    assert m.order_ == 2
    test = np.tile([1, 1, 0, 0], 10)
    pred = m.predict(test)
    assert pred.shape == test.shape and pred.dtype == np.int64
    np.testing.assert_array_equal(pred[1:-1], test[2:])       # every step with a full context
    m1 = MultiOrderMarkov(max_order=3, order=1).fit(s)
    assert np.mean(m1.predict(test)[1:-1] == test[2:]) == pytest.approx(0.5, abs=0.05)


def test_predict_layouts_follow_the_input():
    seqs, _ = _chain(2, 3, 6, 30, seed=7)
    m = MultiOrderMarkov(max_order=2).fit(seqs)
    batch = np.stack(seqs)
    p_batch = m.predict(batch)
    assert p_batch.shape == batch.shape
    ragged = [seqs[0][:10], seqs[1]]
    p_list = m.predict(ragged)
    assert isinstance(p_list, list) and p_list[0].shape == (10,)
    np.testing.assert_array_equal(p_list[1], p_batch[1])
    np.testing.assert_array_equal(p_list[0], p_batch[0, :10])
    P = m.predict_proba(batch)
    assert P.shape == batch.shape + (3,)
    np.testing.assert_allclose(P.sum(-1), 1.0)
    np.testing.assert_array_equal(P.argmax(-1), p_batch)
    assert m.score(batch) == pytest.approx(np.mean(p_batch[:, :-1] == batch[:, 1:]))
    # score against explicit per-step targets, as symbols or one-hot
    y = np.concatenate([batch[:, 1:], batch[:, -1:]], 1)
    onehot = np.eye(3)[y]
    assert m.score(batch, y) == pytest.approx(np.mean(p_batch == y))
    assert m.score(batch, onehot) == m.score(batch, y)


def test_backoff_and_smoothing_for_unseen_contexts():
    cycle = [[0, 1, 2, 0, 1, 2, 0, 1, 2]]
    m = MultiOrderMarkov(max_order=2, order=2, n_symbols=4).fit(cycle)
    # context (2, 2) and symbol 3 never seen: back off to order 1 (after 2 comes 0)
    assert m.predict([2, 2])[1] == 0
    P = m.predict_proba([3, 3])
    np.testing.assert_allclose(P[1], [3 / 9, 3 / 9, 3 / 9, 0.0])        # order 0: unigram frequencies
    no = MultiOrderMarkov(max_order=2, order=2, n_symbols=4, backoff=False).fit(cycle)
    np.testing.assert_allclose(no.predict_proba([2, 2])[1], 0.25)      # unseen context: uniform
    sm = MultiOrderMarkov(max_order=2, order=2, n_symbols=4, smoothing=1.0).fit(cycle)
    p = sm.predict_proba([0, 1])[1]                                    # context (0, 1) seen 3 times -> 2
    np.testing.assert_allclose(p, [1 / 7, 1 / 7, 4 / 7, 1 / 7])
    assert np.isfinite(sm.log_likelihood([[3, 3, 3]]))
    assert m.log_likelihood([[3, 3, 3]]) == -np.inf


# ------------------------------------------------------------------ sampling
def test_sampling_reproduces_transition_frequencies_and_is_seeded():
    seqs, _ = _chain(1, 3, 40, 200, seed=8, conc=1.0)
    m = MultiOrderMarkov(max_order=2, order=1, seed=0).fit(seqs)
    s = m.sample(30000)
    assert s.shape == (30000,) and s.dtype == np.int64
    P_model = m.predict_proba(np.arange(3))                       # rows: P(next | v) for v = 0, 1, 2
    counts = np.zeros((3, 3))
    np.add.at(counts, (s[:-1], s[1:]), 1)
    P_emp = counts / counts.sum(1, keepdims=True)
    # binomial standard error at >= 5000 visits per row is <= 0.007; allow 0.03
    assert np.abs(P_emp - P_model).max() < 0.03
    np.testing.assert_array_equal(m.sample(500), m.sample(500))
    assert not np.array_equal(m.sample(500), m.sample(500, seed=1))
    np.testing.assert_array_equal(m.sample(50, seed=3), m.clone().set_params(seed=3).fit(seqs).sample(50))


def test_sampling_from_a_start_context_follows_the_order2_rule():
    s = np.tile([0, 0, 1, 1], 50)
    m = MultiOrderMarkov(max_order=2, seed=0).fit(s)
    out = m.sample(12, start=[1, 1])
    np.testing.assert_array_equal(out, np.tile([0, 0, 1, 1], 3))
    np.testing.assert_array_equal(m.generate(4, warmup=np.array([0, 0])), [1, 1, 0, 0])


# ------------------------------------------------------------------ continuous and one-hot input
def test_quantile_quantiser_is_fitted_on_train_and_deterministic():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(2, 500, 1)).astype(np.float32)
    m = MultiOrderMarkov(max_order=2, n_bins=4).fit(train)
    assert m.input_type_ == "continuous" and m.quantizer_ == "quantile" and m.n_symbols_ == 4
    edges = np.quantile(train.reshape(-1).astype(np.float64), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(m.bin_edges_[0], edges)
    test = rng.normal(scale=3.0, size=(300, 1)).astype(np.float32)
    np.testing.assert_array_equal(m.transform(test), np.searchsorted(edges, test[:, 0], side="right"))
    assert m.transform(np.array([[-100.0], [100.0], [edges[1]]], np.float32)).tolist() == [0, 3, 2]
    again = MultiOrderMarkov(max_order=2, n_bins=4).fit(train)
    np.testing.assert_array_equal(again.bin_edges_, m.bin_edges_)
    assert m.predict(test).shape == (300,)


def test_kmeans_quantiser_for_several_features():
    rng = np.random.default_rng(1)
    X = [rng.normal(size=(L, 3)).astype(np.float32) for L in (40, 55, 70)]
    m = MultiOrderMarkov(max_order=2, n_bins=6).fit(X)
    assert m.quantizer_ == "kmeans" and m.codebook_.shape == (6, 3) and m.n_symbols_ == 6
    sym = m.transform(X)
    assert isinstance(sym, list) and [len(s) for s in sym] == [40, 55, 70]
    d = ((X[0][:, None, :] - m.codebook_[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(sym[0], d.argmin(1))
    again = MultiOrderMarkov(max_order=2, n_bins=6).fit(X)
    np.testing.assert_array_equal(again.transform(X)[2], sym[2])
    with pytest.raises(ValueError, match="kmeans"):
        MultiOrderMarkov(quantizer="quantile", n_bins=8).fit(rng.normal(size=(2, 30, 5)))


def test_one_hot_input_is_read_as_symbols():
    seqs, _ = _chain(2, 4, 10, 40, seed=9)
    batch = np.stack(seqs)
    onehot = np.eye(4, dtype=np.float32)[batch]
    a = MultiOrderMarkov(max_order=2).fit(batch)
    b = MultiOrderMarkov(max_order=2).fit(onehot, onehot)           # y is ignored
    assert b.input_type_ == "one_hot" and b.n_symbols_ == 4
    np.testing.assert_array_equal(b.predict(onehot), a.predict(batch))
    np.testing.assert_array_equal(b.predict(batch), a.predict(batch))
    np.testing.assert_allclose(b.log_likelihoods_, a.log_likelihoods_)
    with pytest.raises(ValueError, match="one-hot"):
        b.predict(onehot * 0.5)


# ------------------------------------------------------------------ persistence and contract
def test_save_load_round_trip(tmp_path):
    seqs, _ = _chain(2, 5, 20, 60, seed=10)
    m = MultiOrderMarkov(max_order=3, smoothing=0.5, seed=2).fit(seqs)
    path = m.save(tmp_path / "mo.safetensors")
    back = MultiOrderMarkov.load(path)
    assert back.order_ == m.order_ and back.get_params() == m.get_params()
    np.testing.assert_array_equal(back.predict(seqs), np.stack(m.predict(seqs)))
    np.testing.assert_allclose(back.predict_proba(seqs[0]), m.predict_proba(seqs[0]))
    np.testing.assert_array_equal(back.sample(100), m.sample(100))
    assert back.summary().equals(m.summary())
    cont = MultiOrderMarkov(n_bins=5).fit(np.random.default_rng(0).normal(size=(1, 300, 2)))
    back = MultiOrderMarkov.load(cont.save(tmp_path / "c.safetensors"))
    X = np.random.default_rng(1).normal(size=(2, 50, 2))
    np.testing.assert_array_equal(back.predict(X), cont.predict(X))


def test_contract_constructor_clone_and_parameter_counts():
    m = MultiOrderMarkov(max_order=2, alpha=0.05)
    assert not [k for k in vars(m) if k.endswith("_")]
    assert m.clone().get_params() == m.get_params()
    with pytest.raises(NotFittedError):
        m.predict([0, 1, 2])
    m.fit([[A, C, D]] * 10 + [[B, C, E]] * 10)
    assert m.n_parameters_ == {"total": 5 + 4 + 2, "trained": 5 + 4 + 2}    # unigrams, bigrams, trigrams
    assert m.diagnostics_["order"] == 2
    refit = m.fit([[A, C, D], [A, C, E], [B, C, D], [B, C, E]] * 10)
    assert refit is m and m.order_ == 1


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("X, match", [
    ([], "empty"),
    ([[0, 1], []], "empty"),
    ([0, -1, 2], "negative"),
    (np.array([0.0, 1.5, 2.0]), "non-integer"),
    (np.array([0.0, np.nan, 2.0]), "NaN"),
    (np.full((1, 5, 2), np.nan), "NaN"),
    ([[0], [1], [2]], "single symbol"),
    (np.zeros((2, 3, 4, 5)), "shape"),
    (["a", "b"], "integer"),
])
def test_bad_input_is_refused(X, match):
    with pytest.raises(ValueError, match=match):
        MultiOrderMarkov().fit(X)


@pytest.mark.parametrize("params, match", [
    (dict(max_order=-1), "max_order"),
    (dict(order=4, max_order=3), "larger than max_order"),
    (dict(order="best"), "order"),
    (dict(alpha=1.5), "alpha"),
    (dict(dof="bic"), "dof"),
    (dict(smoothing=-1.0), "smoothing"),
    (dict(n_bins=1), "n_bins"),
    (dict(selection="aic"), "selection"),
])
def test_bad_hyperparameters_are_refused(params, match):
    with pytest.raises(ValueError, match=match):
        MultiOrderMarkov(**params).fit([0, 1, 0, 1, 1, 0])


def test_sequences_shorter_than_the_order():
    with pytest.raises(ValueError, match="needs a sequence of at least 4"):
        MultiOrderMarkov(max_order=3, order=3).fit([[0, 1], [1, 0, 1]])
    with pytest.warns(UserWarning, match="not built"):
        m = MultiOrderMarkov(max_order=3).fit([[0, 1], [1, 0, 1]])
    assert m.max_order_ == 2 and len(m.log_likelihoods_) == 3


def test_predict_input_checks():
    m = MultiOrderMarkov(max_order=2).fit([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match="outside the fitted alphabet"):
        m.predict([0, 5])
    with pytest.raises(ValueError, match="continuous"):
        m.predict(np.random.default_rng(0).normal(size=(10, 3)))
    with pytest.raises(ValueError, match="order must be"):
        m.log_likelihood([0, 1], order=5)
    c = MultiOrderMarkov(order=1).fit(np.random.default_rng(0).normal(size=(1, 100, 1)))
    with pytest.raises(ValueError, match="features"):
        c.predict(np.zeros((1, 10, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.predict(np.zeros((1, 10, 1)))


def test_order_table_reports_the_memory_of_each_task():
    from neurorec.data import get_task
    from neurorec.data.symbolic import symbolic_task
    from neurorec.models.multiorder import order_table

    tasks = [symbolic_task(n_symbols=4, order=2, length=30, n_train=100, n_val=10, n_test=20),
             get_task("narma10", n_steps=1500)]
    df = order_table(tasks, seeds=(0, 1), max_order=3)
    assert list(df["task"]) == ["symbolic", "symbolic", "narma10", "narma10"]
    assert list(df["order"]) == [2, 2, 0, 0]              # narma10's input u(t) is i.i.d.
    assert (df["test_accuracy"].iloc[:2] > 0.75).all()
    assert set(df["quantizer"]) == {"none", "quantile"}


def test_sparse_counts_warn_that_the_chi2_approximation_is_unreliable():
    # i.i.d. symbols: order 0 is right. 16 symbols and 3000 steps leave 0.8 transitions per
    # degree of freedom of layer 2, where the chi-square approximation fails and order 2 is
    # (wrongly) selected: fit says so. With 20 times the data per parameter it selects 0, silently.
    sparse = np.random.default_rng(0).integers(16, size=3000)
    with pytest.warns(UserWarning, match="unreliable"):
        assert MultiOrderMarkov(max_order=2).fit(sparse).order_ == 2
    dense = np.random.default_rng(0).integers(4, size=20000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MultiOrderMarkov(max_order=2).fit(dense).order_ == 0


@pytest.mark.parametrize("params", [{}, {"max_order": 2, "smoothing": 0.5}, {"order": 2}])
def test_check_model_symbol_contract(params):
    """The conformance suite's checks for models of discrete sequences (integer symbols in, the
    next symbol after every step out), including save/load and bad symbols."""
    from neurorec.testing import check_model

    check_model(MultiOrderMarkov(**params))


def test_compare_skips_the_symbol_model_on_tasks_without_a_symbol_readout():
    """On a forecast task with real-valued targets its symbols would be scored as numbers: it is
    skipped there, and runs on the symbolic task."""
    from neurorec.data import get_task
    from neurorec.experiment import compare

    df = compare([{"name": "MOM", "class": "MultiOrderMarkov"}],
                 [get_task("narma10", n_steps=600), get_task("symbolic", n_train=32, n_val=8, n_test=8)], [0],
                 progress=False)
    narma = df[df.task == "narma10"]
    assert (narma.status == "skipped").all()
    assert narma.error.iloc[0] == "MOM (MultiOrderMarkov) predicts symbols; narma10 has no symbol read-out"
    sym = df[(df.task == "symbolic") & (df.split == "test")]
    assert (sym.status == "ok").all() and 0.3 < sym.value.iloc[0] <= 1.0
