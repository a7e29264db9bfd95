"""Elman, Jordan, LSTM, GRU and LinearAR with scikit-learn: estimator checks, tasks, labels,
probabilities and hyperparameter checks (issue 13)."""

import math

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_iris
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import neurorec
from neurorec._params import ParameterError
from neurorec.models import GRU, LSTM, Elman, Jordan, LinearAR

pytest.importorskip("torch")

_SEQUENCE_ROWS = ("a 2-D X is one sequence (time, features) for a sequence regressor: each row's prediction "
                  "depends on the rows before it (the recurrent state or the delay window), so predictions "
                  "change with row order and subsets by design")
_REGRESSION = {"check_methods_sample_order_invariance": _SEQUENCE_ROWS,
               "check_methods_subset_invariance": _SEQUENCE_ROWS}
FAST = dict(units=8, epochs=20, lr=5e-2, batch_size=16, early_stopping=False, dtype="float64", seed=0)


def _instances():
    out = []
    for cls in (Elman, Jordan, LSTM, GRU):
        out += [cls(task="classification", **FAST), cls(task="regression", **FAST)]
    out += [LinearAR(delays=2, task="classification", dtype="float64"),
            LinearAR(delays=2, task="regression", dtype="float64")]
    return out


@parametrize_with_checks(_instances(),
                         expected_failed_checks=lambda est: _REGRESSION if est.task == "regression" else {})
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("cls", [Elman, GRU, LinearAR])
def test_tags_and_tabular_labels(cls):
    assert is_classifier(cls(task="classification")) and is_regressor(cls(task="regression"))
    assert not is_classifier(cls()) and not is_regressor(cls())
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="task='classification'"):
        cls().fit(X, y)                                     # integer labels are never silently regressed


def test_cross_val_score_stratifies_and_log_loss_works():
    X, y = load_iris(return_X_y=True)
    clf = GRU(task="classification", units=8, epochs=60, lr=3e-2, batch_size=32, seed=0)
    assert isinstance(check_cv(3, y, classifier=is_classifier(clf)), StratifiedKFold)
    assert cross_val_score(clf, X, y, cv=3).min() > 0.7
    P = clf.fit(X, y).predict_proba(X)
    assert np.array_equal(clf.classes_[P.argmax(1)], clf.predict(X))
    assert log_loss(y, P) < log_loss(y, np.full_like(P, 1 / 3))
    lin = LinearAR(delays=1, task="classification").fit(X, y)
    P = lin.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(lin.classes_[P.argmax(1)], lin.predict(X))
    assert log_loss(y, P) < log_loss(y, np.full_like(P, 1 / 3))


@pytest.mark.parametrize("cls", [LSTM, LinearAR])
def test_string_labels_round_trip(cls, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 10, 2))
    X[20:] += 1.5
    y = np.array(["calm"] * 20 + ["storm"] * 20)
    kw = dict(units=8, epochs=40, lr=2e-2, seed=0) if cls is LSTM else {}
    clf = cls(**kw).fit(X, y)
    assert clf.task_ == "classification" and clf.classes_.tolist() == ["calm", "storm"]
    assert clf.score(X, y) > 0.9 and clf.decision_function(X).shape == (40,)
    back = neurorec.load(clf.save(tmp_path / "m.safetensors"))
    assert np.array_equal(back.predict(X), clf.predict(X))


def test_regressor_has_no_classifier_methods_and_jordan_no_transform():
    X = np.random.default_rng(0).standard_normal((3, 20, 1))
    reg = Elman(units=4, epochs=2, seed=0).fit(X, X)
    assert not hasattr(reg, "predict_proba") and not hasattr(reg, "decision_function")
    assert not hasattr(Jordan(), "transform")


@pytest.mark.parametrize("cls", [Elman, LinearAR])
@pytest.mark.parametrize("params, name", [
    ({"washout": math.inf}, "washout"), ({"ridge": "0.5"}, "ridge"), ({"dtype": "float16"}, "dtype"),
    ({"task": "yes"}, "task"), ({"lr": math.nan}, "lr"), ({"seed": -1}, "seed"), ({"normalize": "yes"}, "normalize"),
    ({"checkpoint": 5}, "checkpoint"), ({"clip_norm": math.inf}, "clip_norm"), ({"lr": "0.5"}, "lr"),
    ({"units": "8"}, "units"), ({"delays": "3"}, "delays"), ({"early_stopping": "yes"}, "early_stopping"),
])
def test_bad_hyperparameters_named_at_fit(cls, params, name):
    if name not in cls().get_params():
        pytest.skip(f"{cls.__name__} has no {name}")
    X = np.zeros((2, 5, 1))
    with pytest.raises(ParameterError, match=rf"{name}=.*{name} must be"):
        cls(**params).fit(X, X)


@pytest.mark.parametrize("cls", [Elman, Jordan, LSTM, GRU, LinearAR])
def test_param_spec_covers_every_hyperparameter(cls):
    assert set(cls._param_spec) == set(cls().get_params())


@pytest.mark.parametrize("cls", [Elman, Jordan, LinearAR])
@pytest.mark.parametrize("params", [{"washout": math.inf}, {"dtype": "float16"}, {"task": "yes"}, {"seed": -1},
                                    {"lr": "0.5"}, {"normalize": "yes"}, {"delays": 0}])
def test_bad_hyperparameters_refused_on_load(cls, params):
    from neurorec.base import ModelFileError, _check_loaded_params

    (name,) = params
    if name not in cls().get_params():
        pytest.skip(f"{cls.__name__} has no {name}")
    X = np.random.default_rng(0).standard_normal((2, 6, 1))
    model = (cls(units=4, epochs=1, seed=0) if cls is not LinearAR else cls(delays=2)).fit(X, X)
    model.set_params(**params)
    with pytest.raises(ModelFileError, match=rf"{name}="):   # what neurorec.load runs on a file's header
        _check_loaded_params(model, "model.safetensors")
