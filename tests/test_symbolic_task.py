"""The symbolic next-symbol task (neurorec.data.symbolic) and its arg-max scoring."""

import pickle

import numpy as np
import pytest

from neurorec.data.symbolic import SymbolTask, symbolic_bayes_accuracy, symbolic_task
from neurorec.data.task import Split, Task
from neurorec.models import MultiOrderMarkov


def _small(**kw):
    params = dict(n_symbols=5, order=2, noise=0.2, length=40, n_train=200, n_val=20, n_test=100)
    params.update(kw)
    return symbolic_task(**params)


def test_layout_one_hot_inputs_and_next_symbol_targets():
    task = _small()
    assert isinstance(task, Task) and task.kind == "forecast" and task.higher_is_better
    d = task.load(0)
    X, y = d.train.X, d.train.y
    assert X.shape == y.shape == (200, 40, 5) and X.dtype == y.dtype == np.float32
    assert np.all(X.sum(-1) == 1) and np.all(y.sum(-1) == 1)
    np.testing.assert_array_equal(y[:, :-1], X[:, 1:])          # y[t] is the symbol at t + 1
    assert d.train.skip == d.test.skip == 1 and d.n_outputs == 5 and d.x_scaler is None
    assert d.val.X.shape == (20, 40, 5) and d.test.X.shape == (100, 40, 5)


def test_seeded_and_picklable():
    task = _small()
    a, b, c = task.load(0), task.load(0), task.load(1)
    np.testing.assert_array_equal(a.test.X, b.test.X)
    assert not np.array_equal(a.test.X, c.test.X)
    assert not np.array_equal(a.train.X[:20], a.val.X)
    back = pickle.loads(pickle.dumps(task))
    np.testing.assert_array_equal(back.load(0).val.y, a.val.y)


def test_multiorder_finds_the_order_and_reaches_the_bayes_accuracy():
    task = _small()
    d = task.load(0)
    m = MultiOrderMarkov(max_order=3).fit(d.train.X, d.train.y)
    assert m.input_type_ == "one_hot" and m.order_ == 2
    acc = task.score(d.test, m.predict(d.test.X))
    bayes = symbolic_bayes_accuracy(5, 0.2)
    assert bayes == pytest.approx(0.84)
    assert abs(acc - bayes) < 0.03                     # 3900 scored steps: standard error ~0.006
    m1 = MultiOrderMarkov(max_order=3, order=1).fit(d.train.X)
    assert task.score(d.test, m1.predict(d.test.X)) < bayes - 0.2


def test_score_reads_scores_and_symbols_and_drops_the_skip():
    task = _small(order=3)
    d = task.load(2)
    sym = d.test.y.argmax(-1)
    assert task.score(d.test, d.test.y) == 1.0
    assert task.score(d.test, sym) == 1.0
    assert task.score(d.test, d.test.y * 3.0 - 1.0) == 1.0           # any scores: arg-max read-out
    wrong = sym.copy()
    wrong[:, :2] = (wrong[:, :2] + 1) % 5                             # only the skipped steps are wrong
    assert task.score(d.test, wrong) == 1.0
    wrong[:, 2] = (wrong[:, 2] + 1) % 5
    assert task.score(d.test, wrong) == pytest.approx(1 - 1 / 38)
    ragged = Split([d.test.y[0], d.test.y[1][:10]], None, 2)
    ragged = Split(ragged.X, ragged.X, 2)
    assert task.score(ragged, [sym[0], sym[1][:10]]) == 1.0
    with pytest.raises(ValueError, match="scores"):
        task.score(d.test, d.test.y[..., :4])
    with pytest.raises(ValueError, match="shape"):
        task.score(d.test, sym[:, :-1])


@pytest.mark.parametrize("kw, match", [
    (dict(n_symbols=1), "n_symbols"), (dict(order=0), "order"), (dict(noise=1.5), "noise"),
    (dict(length=2, order=2), "longer"),
])
def test_bad_parameters(kw, match):
    with pytest.raises(ValueError, match=match):
        _small(**kw)


def test_default_task_is_a_symbol_task():
    task = symbolic_task()
    assert isinstance(task, SymbolTask) and task.name == "symbolic" and task.metric == "accuracy"
    assert symbolic_bayes_accuracy() == pytest.approx(0.825)
