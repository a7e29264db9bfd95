"""SpikingClassifier, LSM and QuantizedSpikingClassifier with scikit-learn: estimator checks, tabular
input, string labels, probabilities and hyperparameter checks (issue 13)."""

import math

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.datasets import load_iris
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, check_cv
from sklearn.utils.estimator_checks import parametrize_with_checks

import neurorec
from neurorec._params import ParameterError
from neurorec.models import LSM, SpikingClassifier

pytest.importorskip("torch")
from neurorec.hardware.fixed_point import QuantizedSpikingClassifier  # noqa: E402

_RECORDS = ("predict records the call's synaptic operations and spike rate (synops_, spike_rate_) on the model "
            "for energy accounting (documented), so __dict__ changes during predict by design")
_SEQUENCE_ROWS = ("a 2-D X is one sequence (time, features) for a sequence regressor: each row's prediction "
                  "depends on the rows before it (the liquid's state), so predictions change with row order "
                  "and subsets by design")
_INT_SCORES = ("the integer network's readout is an exact integer times its scale, returned as float64 whatever "
               "dtype the float network trained in")
SNN = dict(hidden=16, epochs=20, lr=2e-2, batch_size=16, seed=0)


def _expected(est):
    if isinstance(est, QuantizedSpikingClassifier):
        return {"check_dict_unchanged": _RECORDS, "check_transformer_preserve_dtypes": _INT_SCORES}
    if isinstance(est, SpikingClassifier):
        return {"check_dict_unchanged": _RECORDS}
    if est.task == "regression":
        return {"check_methods_sample_order_invariance": _SEQUENCE_ROWS,
                "check_methods_subset_invariance": _SEQUENCE_ROWS}
    return {}


@parametrize_with_checks(
    [SpikingClassifier(dtype="float64", **SNN),
     LSM(units=30, steps_per_input=2, backend="torch", task="classification", seed=0),
     LSM(units=30, steps_per_input=2, backend="torch", task="regression", seed=0),
     QuantizedSpikingClassifier(profile="loihi", **SNN)],
    expected_failed_checks=_expected)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_tags():
    assert is_classifier(SpikingClassifier()) and is_classifier(QuantizedSpikingClassifier())
    assert is_classifier(LSM(task="classification")) and is_regressor(LSM(task="regression"))
    assert not is_classifier(LSM()) and not is_regressor(LSM())


def test_tabular_data_is_classified_with_probabilities():
    X, y = load_iris(return_X_y=True)
    clf = SpikingClassifier(hidden=32, epochs=40, lr=2e-2, batch_size=16, seed=0)
    assert isinstance(check_cv(3, y, classifier=is_classifier(clf)), StratifiedKFold)
    clf.fit(X, y)                                        # a table: each row a one-step sequence
    assert clf.score(X, y) > 0.8
    P = clf.predict_proba(X)
    assert np.array_equal(clf.classes_[P.argmax(1)], clf.predict(X))
    assert log_loss(y, P) < log_loss(y, np.full_like(P, 1 / 3))
    with pytest.raises(ValueError, match="task='classification'"):
        LSM(units=30, backend="torch", seed=0).fit(X, y)                  # auto: ambiguous, refused
    lsm = LSM(units=60, steps_per_input=2, backend="torch", task="classification", seed=0).fit(X, y)
    P = lsm.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(lsm.classes_[P.argmax(1)], lsm.predict(X))
    assert lsm.score(X, y) > 0.6 and log_loss(y, P) < log_loss(y, np.full_like(P, 1 / 3))


@pytest.mark.parametrize("make", [lambda: SpikingClassifier(**SNN),
                                  lambda: LSM(units=30, steps_per_input=2, backend="torch", seed=0)],
                         ids=["snn", "lsm"])
def test_string_labels_round_trip(make, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, (40, 8, 2))
    X[20:, :, 0] += 2.0
    y = np.array(["calm"] * 20 + ["storm"] * 20)
    clf = make().fit(X, y)
    assert clf.classes_.tolist() == ["calm", "storm"] and clf.score(X, y) > 0.9
    assert clf.decision_function(X).shape == (40,)
    back = neurorec.load(clf.save(tmp_path / "m.safetensors"))
    assert np.array_equal(back.predict(X), clf.predict(X))


@pytest.mark.parametrize("cls", [SpikingClassifier, LSM, QuantizedSpikingClassifier])
@pytest.mark.parametrize("params, name", [
    ({"tau_mem": math.inf}, "tau_mem"), ({"dt": "1.0"}, "dt"), ({"seed": -1}, "seed"),
    ({"recurrent": "yes"}, "recurrent"), ({"normalize": "yes"}, "normalize"), ({"ridge": math.nan}, "ridge"),
    ({"qat_lr": math.inf}, "qat_lr"), ({"epochs": 2.0}, "epochs"), ({"task": "both"}, "task"),
])
def test_bad_hyperparameters_named_at_fit(cls, params, name):
    if name not in cls().get_params():
        pytest.skip(f"{cls.__name__} has no {name}")
    X, y = np.zeros((4, 3, 2)), np.array([0, 1, 0, 1])
    with pytest.raises(ParameterError, match=rf"{name}=.*{name} must be"):
        cls(**params).fit(X, y)


@pytest.mark.parametrize("cls", [SpikingClassifier, LSM, QuantizedSpikingClassifier])
def test_param_spec_covers_every_hyperparameter(cls):
    assert set(cls._param_spec) == set(cls().get_params())


@pytest.mark.parametrize("make, bad", [
    (lambda: SpikingClassifier(hidden=4, epochs=1, seed=0), {"tau_mem": math.nan}),
    (lambda: LSM(units=10, backend="torch", task="classification", seed=0), {"input_to_readout": "yes"}),
    (lambda: QuantizedSpikingClassifier(profile="loihi", hidden=4, epochs=1, seed=0), {"weight_bits": "8"}),
    (lambda: QuantizedSpikingClassifier(profile="loihi", hidden=4, epochs=1, seed=0), {"profile": "nochip"}),
], ids=["snn", "lsm", "quantized-weight_bits", "quantized-profile"])
def test_loaded_hyperparameters_are_validated(make, bad):
    # neurorec.load runs this check on a file's hyperparameters (the file's checksum is tested
    # in test_base); a value fit would refuse makes the file invalid, naming it
    from neurorec.base import ModelFileError, _check_loaded_params

    X, y = np.random.default_rng(0).uniform(0, 1, (8, 3, 2)), np.array([0, 1] * 4)
    model = make().fit(X, y)
    model.set_params(**bad)
    (name,) = bad
    with pytest.raises(ModelFileError, match=rf"{name}="):
        _check_loaded_params(model, "model.safetensors")
    with pytest.raises(ParameterError, match=rf"{name}="):
        model.fit(X, y)


def test_lsm_regression_score_leaves_out_the_washout():
    from sklearn.metrics import r2_score

    t = np.arange(60) * 0.3
    X, y = np.sin(t)[:, None], np.sin(t + 0.3)
    lsm = LSM(units=30, steps_per_input=2, backend="torch", task="regression", washout=10, seed=0).fit(X, y)
    pred = lsm.predict(X)
    assert pred.shape == (60,)                      # a 1-D y gives 1-D predictions
    assert lsm.score(X, y) == pytest.approx(r2_score(y[10:], pred[10:]))


def test_column_y_is_ravelled_but_per_step_targets_are_refused():
    X = np.random.default_rng(0).uniform(0, 1, (8, 3, 2))
    y = np.array([0, 1] * 4)
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning):
        SpikingClassifier(hidden=4, epochs=1, seed=0).fit(X, y[:, None])
    with pytest.raises(ValueError, match="SpikingClassifier is a classifier"):
        SpikingClassifier(hidden=4, epochs=1, seed=0).fit(X, np.zeros((8, 3, 1)))
