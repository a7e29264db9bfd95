"""neurorec.aeon.AeonClassifier: neurorec classifiers where aeon expects a collection classifier.

Checked with aeon's own tools (its estimator checks ``check_estimator``, its
``ClassifierEnsemble``) and scikit-learn's model selection on aeon data, on data sets from aeon's
wheel (GunPoint, BasicMotions, JapaneseVowels: local files, nothing downloaded). About 15 s on
one core; the history compressor's run (17 s) is marked slow.
"""

from __future__ import annotations

import doctest
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone

pytest.importorskip("aeon")

from aeon.datasets import load_basic_motions, load_gunpoint, load_japanese_vowels  # noqa: E402

from neurorec.aeon import AeonClassifier, to_aeon_classifier  # noqa: E402
from neurorec.data import from_aeon  # noqa: E402
from neurorec.models import ESN, FeatureClassifier, SpikingClassifier  # noqa: E402

# aeon checks that cannot apply to the adapter, with the reason (aeon's ``checks_to_exclude``).
# None today: every check aeon yields for AeonClassifier's two test instances passes.
CHECKS_TO_SKIP: dict[str, str] = {}


def _esn(**kw):
    return ESN(**{"units": 100, "classify": "mean", "seed": 0, **kw})


@pytest.fixture(scope="module")
def gunpoint():
    return load_gunpoint(split="train") + load_gunpoint(split="test")


@pytest.fixture(scope="module")
def basic_motions():
    return load_basic_motions(split="train") + load_basic_motions(split="test")


@pytest.fixture(scope="module")
def japanese_vowels():
    return load_japanese_vowels(split="train") + load_japanese_vowels(split="test")


# ------------------------------------------------------------------ aeon's own estimator checks
def test_aeon_check_estimator_passes():
    from aeon.testing.estimator_checking import check_estimator

    results = check_estimator(AeonClassifier, checks_to_exclude=list(CHECKS_TO_SKIP) or None)
    failed = {k: v for k, v in results.items() if v != "PASSED"}
    assert not failed, failed
    names = {k.split("(")[0] for k in results}
    # the checks that exercise the adapter's behaviour ran, on both test instances
    for check in ("check_classifier_output", "check_fit_deterministic", "check_persistence_via_pickle",
                  "check_non_state_changing_method", "check_fit_updates_state_and_cloning",
                  "check_raises_not_fitted_error", "check_set_params", "check_estimator_tags",
                  "check_classifier_overrides_and_tags"):
        assert check in names, check
    outputs = [k for k in results if k.startswith("check_classifier_output")]
    assert any("UnequalLengthMultivariate" in k for k in outputs)          # ragged lists reach the model
    assert any("FeatureClassifier" in k for k in outputs) and any("ESN" in k for k in outputs)
    assert len(results) >= 35


def test_tags():
    tags = AeonClassifier(_esn()).get_tags()
    assert tags["capability:multivariate"] and tags["capability:unequal_length"] and tags["capability:univariate"]
    assert not tags["capability:missing_values"]
    assert tags["X_inner_type"] == ["np-list", "numpy3D"]
    assert tags["algorithm_type"] == "feature" and tags["non_deterministic"] is False
    # the tags follow the wrapped model, also after set_params
    clf = AeonClassifier(FeatureClassifier(features="identity", input="flatten"))
    assert clf.get_tags()["capability:unequal_length"] is False
    clf.set_params(estimator__input="sequence")
    assert clf.get_tags()["capability:unequal_length"] is True
    assert AeonClassifier(SpikingClassifier(input_mode="static")).get_tags()["capability:unequal_length"] is False
    snn = AeonClassifier(SpikingClassifier(seed=0))
    assert snn.get_tags()["algorithm_type"] == "deeplearning"
    assert AeonClassifier(SpikingClassifier(device="cuda")).get_tags()["non_deterministic"] is True
    # set_tags still wins
    assert snn.set_tags(algorithm_type="hybrid").get_tag("algorithm_type") == "hybrid"


# ------------------------------------------------------------------ real data from aeon's wheel
def test_gunpoint_accuracy_string_labels_and_proba(gunpoint):
    X, y, Xt, yt = gunpoint
    assert X.shape == (50, 1, 150) and y.dtype.kind == "U"
    clf = AeonClassifier(_esn()).fit(X, y)
    pred = clf.predict(Xt)
    assert pred.dtype == y.dtype and set(pred) <= {"1", "2"}                # original string labels
    acc = np.mean(pred == yt)
    assert acc >= 0.9, acc                                                  # chance 0.5; 0.987 here
    proba = clf.predict_proba(Xt)
    assert proba.shape == (len(Xt), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    assert np.array_equal(clf.classes_, ["1", "2"])
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], pred)         # columns in classes_ order
    assert clf.score(Xt, yt) == pytest.approx(acc)


def test_same_predictions_as_the_model_on_from_aeon(basic_motions, gunpoint):
    X, y, Xt, yt = basic_motions                                           # multivariate: 6 channels
    wrapped = AeonClassifier(_esn(units=50)).fit(X, y)
    direct = _esn(units=50).fit(from_aeon(X), y)
    assert np.array_equal(wrapped.predict(Xt), direct.predict(from_aeon(Xt)))
    assert np.array_equal(wrapped.predict_proba(Xt), direct.predict_proba(from_aeon(Xt)))
    assert np.array_equal(wrapped.estimator_.classes_, direct.classes_)
    assert np.mean(wrapped.predict(Xt) == yt) >= 0.75                      # chance 0.25
    # a univariate (n_cases, n_timepoints) array is the same collection as (n_cases, 1, n_timepoints)
    X, y, Xt, _ = gunpoint
    a = AeonClassifier(_esn(units=30)).fit(X[:, 0, :], y).predict_proba(Xt[:, 0, :])
    b = AeonClassifier(_esn(units=30)).fit(X, y).predict_proba(Xt)
    assert np.array_equal(a, b)


def test_unequal_length_list_japanese_vowels(japanese_vowels):
    X, y, Xt, yt = japanese_vowels
    assert isinstance(X, list) and len({s.shape[1] for s in X}) > 1 and X[0].shape[0] == 12
    clf = AeonClassifier(_esn()).fit(X, y)
    assert clf.metadata_["unequal_length"] and clf.metadata_["n_channels"] == 12
    pred = clf.predict(Xt)
    assert np.mean(pred == yt) >= 0.9, np.mean(pred == yt)                 # 9 speakers: chance 0.11; 0.976 here
    direct = _esn().fit(from_aeon(X), y).predict(from_aeon(Xt))
    assert np.array_equal(pred, direct)


# ------------------------------------------------------------------ labels and column order
class _ReversedClasses(BaseEstimator):
    """A stand-in for a neurorec classifier that keeps its classes in *descending* order: a
    nearest centroid on the time-averaged series. It asserts it is given neurorec's layout."""

    def __init__(self, seed=None):
        self.seed = seed

    def fit(self, X, y):
        X = np.asarray(X)
        assert X.ndim == 3 and X.shape[2] == 3, X.shape                     # (batch, time, features)
        self.classes_ = np.unique(y)[::-1]
        feats = X.mean(axis=1)
        self.centroids_ = np.stack([feats[np.asarray(y) == c].mean(axis=0) for c in self.classes_])
        return self

    def predict_proba(self, X):
        d = ((np.asarray(X).mean(axis=1)[:, None, :] - self.centroids_) ** 2).sum(-1)
        e = np.exp(-(d - d.min(axis=1, keepdims=True)))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def test_proba_columns_follow_classes_order_whatever_the_model_keeps():
    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["c", "a", "b"]), 10)
    X = rng.normal(size=(30, 3, 40)) + (np.searchsorted(["a", "b", "c"], y) * 2.0)[:, None, None]
    clf = AeonClassifier(_ReversedClasses()).fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"] and list(clf.estimator_.classes_) == ["c", "b", "a"]
    proba = clf.predict_proba(X)
    assert np.array_equal(proba, clf.estimator_.predict_proba(from_aeon(X))[:, ::-1])
    assert np.array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert np.mean(clf.predict(X) == y) == 1.0


def test_float_labels_come_back_as_given():
    rng = np.random.default_rng(1)
    y = np.repeat([1.0, 2.0], 10)                                           # whole-number floats
    X = rng.normal(size=(20, 2, 30)) + y[:, None, None]
    clf = AeonClassifier(ESN(units=20, classify="mean", seed=0)).fit(X, y)  # task="auto": classification
    pred = clf.predict(X)
    assert pred.dtype == np.float64 and set(pred.tolist()) <= {1.0, 2.0}
    assert clf.estimator_.task == "classification" and clf.estimator.task == "auto"


# ------------------------------------------------------------------ parameters, cloning, seeds
def test_params_clone_and_random_state(gunpoint):
    X, y, Xt, _ = gunpoint
    est = _esn(units=30)
    clf = AeonClassifier(est)
    assert clf.get_params()["estimator__units"] == 30
    assert clf.set_params(estimator__units=40, estimator__leak_rate=0.5) is clf
    assert est.units == 40                                                  # sklearn's nested set_params
    copy = clf.clone()
    assert copy.estimator is not clf.estimator and copy.get_params()["estimator__units"] == 40
    clf.fit(X, y)
    assert clf.estimator_ is not est and not hasattr(est, "classes_")      # the given model is not fitted
    assert clf.estimator_.units == 40 and clf.estimator_.leak_rate == 0.5
    seeded = AeonClassifier(_esn(units=30), random_state=7).fit(X, y)
    assert seeded.estimator_.seed == 7 and seeded.estimator.seed == 0
    same = AeonClassifier(_esn(units=30, seed=7)).fit(X, y)
    assert np.array_equal(seeded.predict_proba(Xt), same.predict_proba(Xt))
    assert to_aeon_classifier(est, random_state=3).get_params(deep=False) == {"estimator": est, "random_state": 3}


def test_grid_search_and_cross_val_on_aeon_data(gunpoint):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

    X, y, Xt, yt = gunpoint
    scores = cross_val_score(AeonClassifier(_esn(units=50)), X, y, cv=StratifiedKFold(5))
    assert scores.shape == (5,) and scores.mean() >= 0.8
    gs = GridSearchCV(AeonClassifier(_esn()), {"estimator__units": [20, 100], "estimator__leak_rate": [0.1, 1.0]},
                      cv=StratifiedKFold(3), error_score="raise").fit(X, y)
    assert set(gs.best_params_) == {"estimator__units", "estimator__leak_rate"}
    assert np.isfinite(gs.cv_results_["mean_test_score"]).all()
    assert gs.best_estimator_.estimator_.units == gs.best_params_["estimator__units"]
    assert gs.score(Xt, yt) >= 0.9 and set(gs.predict(Xt)) <= {"1", "2"}


def test_aeon_classifier_ensemble_with_an_aeon_classifier(gunpoint):
    from aeon.classification.compose import ClassifierEnsemble
    from aeon.classification.interval_based import TimeSeriesForestClassifier

    X, y, Xt, yt = gunpoint
    ens = ClassifierEnsemble([("esn", AeonClassifier(_esn())),
                              ("tsf", TimeSeriesForestClassifier(n_estimators=10, random_state=0))],
                             random_state=0).fit(X, y)
    members = dict(ens.ensemble_)
    assert isinstance(members["esn"], AeonClassifier) and members["esn"].is_fitted
    # equal weights: the ensemble's probabilities are the members' mean, column for column
    mean = (members["esn"].predict_proba(Xt) + members["tsf"].predict_proba(Xt)) / 2
    np.testing.assert_allclose(ens.predict_proba(Xt), mean, atol=1e-12)
    pred = ens.predict(Xt)
    assert set(pred) <= {"1", "2"} and np.mean(pred == yt) >= 0.9


# ------------------------------------------------------------------ bad input
def test_bad_input_names_the_problem(gunpoint):
    X, y, Xt, _ = gunpoint
    clf = AeonClassifier(_esn(units=20))
    Xn = X.copy()
    Xn[3, 0, 7] = np.nan
    with pytest.raises(ValueError, match=r"X contains 1 NaN \(missing\) .* first at index \(3, 0, 7\).*impute"):
        clf.fit(Xn, y)
    Xi = [s.copy() for s in X]
    Xi[2][0, 5] = np.inf
    with pytest.raises(ValueError, match=r"X\[2\] contains 0 NaN \(missing\) and 1 infinite"):
        clf.fit(Xi, y)
    with pytest.raises(ValueError, match=r"X must be a 3-D array \(n_cases, n_channels, n_timepoints\).*4-D"):
        clf.fit(X[..., None], y)
    with pytest.raises(TypeError, match="1-D"):                             # also aeon's exception type
        clf.fit(X[0, 0], y)
    fitted = AeonClassifier(_esn(units=20)).fit(X, y)
    Xp = Xt.copy()
    Xp[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(Xp)
    with pytest.raises(ValueError, match="number of channels"):            # aeon's check against fit
        fitted.predict(np.concatenate([Xt, Xt], axis=1))
    # a model configured for one length only: aeon refuses ragged input up front
    ragged = [X[0][:, :100], X[1]]
    flat = AeonClassifier(FeatureClassifier(features="identity", input="flatten"))
    with pytest.raises(ValueError, match="unequal length"):
        flat.fit(ragged, y[:2])
    with pytest.raises(ValueError, match="task='regression'"):
        AeonClassifier(ESN(units=20, task="regression")).fit(X, y)
    with pytest.raises(TypeError, match="fit and predict"):
        AeonClassifier("ESN").fit(X, y)


# ------------------------------------------------------------------ docs and import cost
def test_docstring_examples_run():
    import neurorec.aeon as mod

    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_import_neurorec_does_not_import_aeon():
    code = "import sys, neurorec, neurorec.data, neurorec.models; print('aeon' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ------------------------------------------------------------------ the other neurorec classifiers
@pytest.mark.parametrize("name", ["LSTM", "GRU", "Elman", "Jordan", "SpikingClassifier", "LSM", "ReservoirModelSpace",
                                  pytest.param("HistoryCompressor", marks=pytest.mark.slow)])
def test_every_classifier_wraps(name, basic_motions):
    """Each classifier family fits and predicts through the adapter exactly as on from_aeon(X)
    (about 5 s with torch's import; the LSM on the torch backend, without brian2's build; the
    history compressor trains its predictors for 17 s, so it is marked slow)."""
    import neurorec.models as models

    kw = {"LSTM": dict(units=8, epochs=2), "GRU": dict(units=8, epochs=2), "Elman": dict(units=8, epochs=2),
          "Jordan": dict(units=8, epochs=2), "SpikingClassifier": dict(hidden=(16,), epochs=2),
          "LSM": dict(units=30, backend="torch"), "ReservoirModelSpace": dict(units=50), "HistoryCompressor": {}}[name]
    if not hasattr(models, name):
        pytest.skip(f"neurorec.models has no {name} in this version")
    model = getattr(models, name)(seed=0, **kw)
    X, y, Xt, _ = basic_motions
    clf = AeonClassifier(model).fit(X, y)
    pred = clf.predict(Xt)
    assert pred.dtype == y.dtype and set(pred) <= set(y)
    proba = clf.predict_proba(Xt)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    direct = clone(model)
    if "task" in direct.get_params():
        direct.set_params(task="classification")
    direct.fit(from_aeon(X, dtype=clf._to_neurorec(X).dtype), y)
    assert np.array_equal(pred, direct.predict(clf._to_neurorec(Xt)))


def test_tensor_pca_reservoir_model_space_says_it_needs_equal_lengths():
    from neurorec.aeon import AeonClassifier
    from neurorec.models import ReservoirModelSpace

    assert AeonClassifier(ReservoirModelSpace()).get_tags()["capability:unequal_length"]
    tags = AeonClassifier(ReservoirModelSpace(dim_reduction="tensor_pca")).get_tags()
    assert tags["capability:unequal_length"] is False
