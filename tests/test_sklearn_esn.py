"""ESN and scikit-learn: estimator checks, tasks, labels, probabilities, scoring (issue 13)."""

import math
import warnings

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_iris
from sklearn.metrics import log_loss
from sklearn.model_selection import KFold, StratifiedKFold, check_cv, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import neurorec
from neurorec._params import ParameterError
from neurorec._validation import TaskWarning
from neurorec.data import mackey_glass
from neurorec.models import ESN

_SEQUENCE_ROWS = ("a 2-D X is one sequence (time, features) for a sequence regressor: each row's prediction "
                  "depends on the rows before it (the recurrent state), so predictions change with row order "
                  "and subsets by design")
_EXPECTED = {
    "regression": {"check_methods_sample_order_invariance": _SEQUENCE_ROWS,
                   "check_methods_subset_invariance": _SEQUENCE_ROWS},
    "classification": {},
}


@parametrize_with_checks(
    [ESN(units=20, task="classification", dtype="float64", seed=0),
     ESN(units=20, task="regression", dtype="float64", seed=0)],
    expected_failed_checks=lambda est: _EXPECTED[est.task])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _iris():
    X, y = load_iris(return_X_y=True)
    return X, y


def test_tags_say_classifier_or_regressor():
    assert is_classifier(ESN(task="classification"))
    assert is_regressor(ESN(task="regression"))
    assert not is_classifier(ESN()) and not is_regressor(ESN())        # "auto" decides at fit


def test_tabular_integer_labels_are_never_silently_regressed():
    X, y = _iris()
    with pytest.raises(ValueError, match="task='classification'"):
        ESN(seed=0).fit(X, y)
    clf = ESN(units=50, task="classification", seed=0).fit(X, y)
    assert clf.task_ == "classification"
    acc = clf.score(X, y)
    assert acc == pytest.approx(np.mean(clf.predict(X) == y))
    assert 0.8 < acc <= 1.0                                 # an accuracy, not an R^2


def test_cross_val_score_stratifies_and_log_loss_works():
    X, y = _iris()
    clf = ESN(units=50, task="classification", seed=0)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)
    scores = cross_val_score(clf, X, y, cv=5)
    assert scores.min() > 0.7
    clf.fit(X, y)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(clf.classes_[P.argmax(1)], clf.predict(X))
    ll = log_loss(y, P, labels=clf.classes_)
    assert math.isfinite(ll) and ll < log_loss(y, np.full_like(P, 1 / 3))      # better than chance
    ll_cv = cross_val_score(clf, X, y, cv=3, scoring="neg_log_loss")
    assert np.isfinite(ll_cv).all()


def test_string_labels_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 12, 2)).astype(np.float32)
    X[20:] += 1.5
    y = np.array(["calm"] * 20 + ["storm"] * 20, dtype=object)
    clf = ESN(units=30, seed=0).fit(X, y)                    # auto: one string label per sequence
    assert clf.task_ == "classification" and clf.classes_.tolist() == ["calm", "storm"]
    pred = clf.predict(X)
    assert set(pred.tolist()) <= {"calm", "storm"} and clf.score(X, y) > 0.9
    assert clf.decision_function(X).shape == (40,)            # binary: scikit-learn's 1-D convention
    path = clf.save(tmp_path / "esn.safetensors")
    back = neurorec.load(path)
    assert back.classes_.tolist() == ["calm", "storm"]
    assert np.array_equal(back.predict(X), pred)
    with pytest.raises(ValueError, match="out of range"):
        clf.score(X, np.array(["calm"] * 39 + ["fog"]))


def test_auto_task_float_labels():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 8, 1))
    y = np.repeat([0.0, 1.0], 10)
    with pytest.warns(TaskWarning, match="class labels"):
        clf = ESN(units=10, seed=0).fit(X, y)
    assert clf.task_ == "classification"
    with pytest.raises(ValueError, match="per step"):
        ESN(units=10, seed=0).fit(X, rng.standard_normal(20))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        ESN(units=10, task="classification", seed=0).fit(X, rng.standard_normal(20))


def test_regression_score_leaves_out_the_washout():
    s = mackey_glass(3000, seed=0)
    X, y = s[:-1], s[1:]
    esn = ESN(units=100, leak_rate=0.3, washout=100, ridge=1e-7, seed=0)
    scores = cross_val_score(esn, X, y, cv=KFold(5))           # each fold starts from a zero state
    assert scores.min() > 0.99, scores
    esn.fit(X[:2000], y[:2000])
    pred = esn.predict(X[2000:])
    r2_after = 1 - np.mean((pred[100:] - y[2000:][100:]) ** 2) / np.var(y[2000:][100:])
    r2_all = 1 - np.mean((pred - y[2000:]) ** 2) / np.var(y[2000:])
    assert esn.score(X[2000:], y[2000:]) == pytest.approx(r2_after, abs=1e-6)
    assert r2_all < r2_after                                    # the transient is what was left out


def test_regression_1d_target_gives_1d_prediction():
    s = mackey_glass(600, seed=0)[:, 0]
    esn = ESN(units=30, seed=0).fit(s[:-1, None], s[1:])
    assert esn.predict(s[:-1, None]).shape == (599,)
    assert esn.target_1d_ is True


@pytest.mark.parametrize("params, name", [
    ({"bias_scaling": math.inf}, "bias_scaling"),
    ({"input_scaling": "0.5"}, "input_scaling"),
    ({"feedback": "yes"}, "feedback"),
    ({"input_to_readout": 1}, "input_to_readout"),
    ({"leak_rate": "0.5"}, "leak_rate"),
    ({"spectral_radius": math.nan}, "spectral_radius"),
    ({"seed": -1}, "seed"),
    ({"units": 10.0}, "units"),
    ({"task": "clustering"}, "task"),
    ({"dtype": "float16"}, "dtype"),
    ({"input_scaling": [1.0, -1.0]}, "input_scaling"),
])
def test_every_bad_hyperparameter_is_named_at_fit(params, name):
    X = np.zeros((2, 5, 2))
    y = np.zeros((2, 5, 1))
    with pytest.raises(ParameterError, match=rf"ESN\({name}=.*{name} must be"):
        ESN(**params).fit(X, y)


def test_param_spec_covers_every_hyperparameter():
    assert set(ESN._param_spec) == set(ESN().get_params())


def test_per_feature_input_scaling_still_accepted():
    X = np.random.default_rng(0).standard_normal((3, 10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ESN(units=10, input_scaling=[0.5, 2.0], seed=0).fit(X, X)
