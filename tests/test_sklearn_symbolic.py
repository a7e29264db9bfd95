"""MultiOrderMarkov, FeatureClassifier and HistoryCompressor with scikit-learn: estimator checks,
tags, tables, labels, probabilities and hyperparameter checks (issue 13)."""

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
from neurorec.base import ModelFileError, _check_loaded_params
from neurorec.models import FeatureClassifier, HistoryCompressor, MultiOrderMarkov

pytest.importorskip("torch")

# HistoryCompressor: a one-level hierarchy (the classifier alone) reads a table; the rows of a
# table are one-step sequences, with no history for a predictor level to compress
_HC = {"units": 8, "epochs": 30, "lr": 0.05, "dtype": "float64"}

_CONTEXT_ROWS = ("a 2-D float X is one sequence (time, features) for this next-symbol model: with order 2 the "
                 "prediction after a row depends on the row before it (its context), so predict / "
                 "predict_proba / score change with the order of the rows and on subsets by design")


def _expected(est):
    if isinstance(est, MultiOrderMarkov) and est.order == 2:
        return {"check_methods_sample_order_invariance": _CONTEXT_ROWS,
                "check_methods_subset_invariance": _CONTEXT_ROWS}
    return {}


@parametrize_with_checks(
    [MultiOrderMarkov(max_order=2, n_bins=4, seed=0),             # order selected (0 on i.i.d. check data)
     MultiOrderMarkov(max_order=2, order=2, n_bins=4, seed=0),    # order forced: context-dependent rows
     FeatureClassifier("identity", seed=0),
     FeatureClassifier("identity", input="sequence", pooling="last", seed=0),
     HistoryCompressor(predictor_params=_HC, levels=1, seed=0),
     HistoryCompressor(predictor_params=_HC, levels=1, classifier="full", seed=0)],
    expected_failed_checks=_expected)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_tags():
    assert is_classifier(FeatureClassifier()) and not is_regressor(FeatureClassifier())
    assert is_classifier(HistoryCompressor()) and not is_regressor(HistoryCompressor())
    m = MultiOrderMarkov()
    assert not is_classifier(m) and not is_regressor(m)          # unsupervised next-symbol model
    assert m.__sklearn_tags__().transformer_tags is not None


@pytest.mark.parametrize("cls", [MultiOrderMarkov, FeatureClassifier, HistoryCompressor])
def test_param_spec_covers_every_hyperparameter(cls):
    assert set(cls._param_spec) == set(cls().get_params())


# ------------------------------------------------------------------ classifiers on tables
def test_feature_classifier_reads_a_table_and_stratifies():
    X, y = load_iris(return_X_y=True)
    clf = FeatureClassifier("identity", seed=0)
    assert isinstance(check_cv(5, y, classifier=is_classifier(clf)), StratifiedKFold)
    assert cross_val_score(clf, X, y, cv=5).min() > 0.85
    clf.fit(X, y)
    assert clf.transform(X).shape == (150, 4)                    # one row per sample
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(clf.classes_[P.argmax(1)], clf.predict(X))
    acc = clf.score(X, y)
    assert acc == pytest.approx(np.mean(clf.predict(X) == y)) and acc > 0.9     # an accuracy
    assert math.isfinite(log_loss(y, P, labels=clf.classes_))
    assert np.isfinite(cross_val_score(clf, X, y, cv=3, scoring="neg_log_loss")).all()


def _two_class_sequences(n=40, T=6, F=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, T, F)).astype(np.float32)
    X[n // 2:, :, 0] += 2.0
    y = np.array(["calm"] * (n // 2) + ["storm"] * (n // 2), dtype=object)
    return X, y


@pytest.mark.parametrize("make", [
    lambda: FeatureClassifier("identity", seed=0),
    lambda: HistoryCompressor(predictor_params=dict(_HC, window=6), levels=1, seed=0),
    lambda: HistoryCompressor(predictor_params=dict(_HC, window=6), levels=1, classifier="full", seed=0),
], ids=["FeatureClassifier", "HistoryCompressor-truncated", "HistoryCompressor-full"])
def test_string_labels_round_trip(make, tmp_path):
    X, y = _two_class_sequences()
    clf = make().fit(X, y)
    assert clf.classes_.tolist() == ["calm", "storm"]
    pred = clf.predict(X)
    assert set(pred.tolist()) <= {"calm", "storm"} and clf.score(X, y) > 0.9
    d = clf.decision_function(X)
    assert d.shape == (40,)                                     # binary: scikit-learn's 1-D convention
    assert np.array_equal(clf.classes_[(d > 0).astype(int)], pred)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(clf.classes_[P.argmax(1)], pred)
    back = neurorec.load(clf.save(tmp_path / "m.safetensors"))
    assert back.classes_.tolist() == ["calm", "storm"]
    assert np.array_equal(back.predict(X), pred)
    np.testing.assert_allclose(back.predict_proba(X), P, atol=1e-12)
    with pytest.raises(ValueError, match="out of range"):
        clf.score(X, np.array(["calm"] * 39 + ["fog"]))


def test_compressor_three_classes_proba_and_decision():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((45, 5, 2)).astype(np.float32)
    y = np.repeat([0, 1, 2], 15)
    X[:, :, 0] += 2.0 * y[:, None]
    clf = HistoryCompressor(predictor_params=dict(_HC, window=5), levels=1, seed=0).fit(X, y)
    assert clf.decision_function(X).shape == (45, 3)
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
    assert np.array_equal(P.argmax(1), clf.predict(X))
    assert clf.proba_temperature_ > 0
    assert math.isfinite(log_loss(y, P, labels=clf.classes_))


def test_compressor_refuses_a_table_with_levels_above_one():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="no history to compress.*levels=1"):
        HistoryCompressor(predictor_params=_HC, seed=0).fit(X, y)


def test_feature_classifier_continuous_labels_are_refused():
    X = np.random.default_rng(0).standard_normal((20, 3))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        FeatureClassifier("identity").fit(X, np.linspace(0.1, 0.9, 20))


# ------------------------------------------------------------------ MultiOrderMarkov
def test_multiorder_list_of_fractional_rows_is_the_array_it_spells():
    X = np.random.default_rng(0).uniform(size=(30, 2))
    a = MultiOrderMarkov(max_order=1, n_bins=4, seed=0).fit(X)
    b = MultiOrderMarkov(max_order=1, n_bins=4, seed=0).fit(X.tolist())
    assert a.input_type_ == b.input_type_ == "continuous"
    assert np.array_equal(a.transform(X), b.transform(X.tolist()))
    # whole-number rows are still symbol sequences
    assert MultiOrderMarkov(max_order=1).fit([[0, 1, 0], [1, 0, 1]]).input_type_ == "symbols"


# ------------------------------------------------------------------ hyperparameters
_SEQ_X, _SEQ_Y = _two_class_sequences(n=8, T=4, F=2)

_BAD = [
    (MultiOrderMarkov, {"alpha": math.inf}, "alpha"),
    (MultiOrderMarkov, {"alpha": math.nan}, "alpha"),
    (MultiOrderMarkov, {"alpha": "0.01"}, "alpha"),
    (MultiOrderMarkov, {"smoothing": math.inf}, "smoothing"),
    (MultiOrderMarkov, {"smoothing": math.nan}, "smoothing"),
    (MultiOrderMarkov, {"max_order": "2"}, "max_order"),
    (MultiOrderMarkov, {"order": "2"}, "order"),
    (MultiOrderMarkov, {"n_bins": 8.0}, "n_bins"),
    (MultiOrderMarkov, {"n_symbols": 0}, "n_symbols"),
    (MultiOrderMarkov, {"backoff": "yes"}, "backoff"),
    (MultiOrderMarkov, {"seed": -1}, "seed"),
    (MultiOrderMarkov, {"order": 3, "max_order": 2}, "order"),
    (FeatureClassifier, {"C": math.inf}, "C"),
    (FeatureClassifier, {"C": math.nan}, "C"),
    (FeatureClassifier, {"C": "1.0"}, "C"),
    (FeatureClassifier, {"max_iter": "100"}, "max_iter"),
    (FeatureClassifier, {"standardize": "yes"}, "standardize"),
    (FeatureClassifier, {"seed": -1}, "seed"),
    (FeatureClassifier, {"input": "image"}, "input"),
    (FeatureClassifier, {"feature_params": "n_components=3"}, "feature_params"),
    (HistoryCompressor, {"surprise": math.inf}, "surprise"),
    (HistoryCompressor, {"surprise": math.nan}, "surprise"),
    (HistoryCompressor, {"surprise": "0.3"}, "surprise"),
    (HistoryCompressor, {"levels": "2"}, "levels"),
    (HistoryCompressor, {"collapse_rounds": 1.5}, "collapse_rounds"),
    (HistoryCompressor, {"time_stamps": "yes"}, "time_stamps"),
    (HistoryCompressor, {"random_phase": "yes"}, "random_phase"),
    (HistoryCompressor, {"seed": -1}, "seed"),
    (HistoryCompressor, {"predictor": "Jordan"}, "predictor"),
    (HistoryCompressor, {"predictor_params": "units=3"}, "predictor_params"),
    (HistoryCompressor, {"form": "chunker", "levels": 3}, "levels"),
]


@pytest.mark.parametrize("cls, params, name", _BAD, ids=[f"{c.__name__}-{p}" for c, p, _ in _BAD])
def test_bad_hyperparameter_is_named_at_fit(cls, params, name):
    if cls is MultiOrderMarkov:
        args = ([0, 1, 0, 1, 1, 0],)
    else:
        params = {"features": "identity", **params} if cls is FeatureClassifier else params
        args = (_SEQ_X, _SEQ_Y)
    with pytest.raises(ParameterError, match=rf"{cls.__name__}\(.*{name}=.*{name} must"):
        cls(**params).fit(*args)


@pytest.mark.parametrize("model, args, bad", [
    (MultiOrderMarkov(max_order=1), ([0, 1, 0, 1, 1, 0],), {"alpha": math.nan}),
    (FeatureClassifier("identity"), (_SEQ_X, _SEQ_Y), {"standardize": "yes"}),
    (HistoryCompressor(predictor_params=dict(_HC, epochs=1), levels=1, seed=0), (_SEQ_X, _SEQ_Y), {"seed": -1}),
], ids=["MultiOrderMarkov", "FeatureClassifier", "HistoryCompressor"])
def test_loaded_hyperparameters_are_validated(model, args, bad):
    # neurorec.load runs this check on a file's hyperparameters (the file's checksum is tested
    # in test_base); a value fit would refuse makes the file invalid, naming it
    model.fit(*args)
    model.set_params(**bad)
    (name,) = bad
    with pytest.raises(ModelFileError, match=rf"{name}="):
        _check_loaded_params(model, "model.safetensors")
