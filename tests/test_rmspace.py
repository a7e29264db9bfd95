"""ReservoirModelSpace: the reservoir model space classifier (Bianchi et al. 2021).

The model contract on both backends, backend agreement, save/load for every readout, the batched
per-series regressions against scikit-learn's Ridge, the bidirectional run against the ESN, the
stored SVM / MLP against the fitted scikit-learn estimators, a synthetic task where theory says
which representations can separate the classes, input errors, scikit-learn's estimator checks and
the Japanese vowels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

import neurorec
from neurorec._params import ParameterError
from neurorec.data import LayoutWarning
from neurorec.models import ESN, ReservoirModelSpace
from neurorec.testing import _check_save_load, check_model, make_classification_data

SMALL = {"units": 30, "n_components": 10}
REPRESENTATIONS = ("reservoir", "output", "last", "mean")
READOUTS = ("ridge", "svm", "mlp")


@pytest.fixture(autouse=True)
def _quiet_mlp():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)      # small MLP readouts stop at mlp_max_iter
        yield


def ar1(n: int, T: int, seed: int):
    """Two classes of AR(1) series, x(t) = phi x(t-1) + sqrt(1 - phi^2) e(t), phi = -0.8 (class 0) or
    +0.8 (class 1): both stationary with mean 0 and variance 1, they differ only in their dynamics
    (the sign of the lag-1 correlation)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    phi = np.where(y == 1, 0.8, -0.8)
    X = np.zeros((n, T, 1))
    x = rng.standard_normal(n)
    for t in range(T):
        x = phi * x + np.sqrt(1 - phi ** 2) * rng.standard_normal(n)
        X[:, t, 0] = x
    return X.astype(np.float32), y


# ------------------------------------------------------------------------------------------
# the model contract
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_check_model(backend, representation):
    check_model(ReservoirModelSpace(**SMALL, representation=representation), backend=backend)


@pytest.mark.parametrize("readout", ["svm", "mlp"])
def test_check_model_other_readouts(readout):
    check_model(ReservoirModelSpace(**SMALL, readout=readout, mlp_max_iter=300))


def test_param_spec_covers_every_hyperparameter_and_search_space_resolves():
    from neurorec.experiment.spaces import resolve_space

    assert set(ReservoirModelSpace._param_spec) == set(ReservoirModelSpace().get_params())
    space = resolve_space(ReservoirModelSpace, ReservoirModelSpace().get_params())
    assert space["n_components"]["type"] == "int" and space["representation"]["type"] == "categorical"
    assert neurorec.ReservoirModelSpace is ReservoirModelSpace


@pytest.mark.parametrize("representation", REPRESENTATIONS)
def test_backends_agree(representation):
    X, y = make_classification_data(seed=1)
    Xr = [X[i, : 6 + i % 7] for i in range(len(X))]                   # ragged too
    for dtype, tol in (("float64", 1e-8), ("float32", 2e-3)):
        kw = dict(SMALL, representation=representation, dtype=dtype, seed=3)
        a = ReservoirModelSpace(**kw, backend="numpy").fit(Xr, y)
        b = ReservoirModelSpace(**kw, backend="torch").fit(Xr, y)
        np.testing.assert_allclose(a.transform(Xr), b.transform(Xr), atol=tol * 10, rtol=tol)
        np.testing.assert_allclose(a.decision_function(X), b.decision_function(X), atol=tol * 10, rtol=tol)
        assert np.array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize("readout", ["svm", "mlp"])
def test_backends_agree_other_readouts(readout):
    X, y = make_classification_data(seed=2)
    kw = dict(SMALL, readout=readout, dtype="float64", seed=0, mlp_max_iter=200)
    a = ReservoirModelSpace(**kw).fit(X, y)
    b = ReservoirModelSpace(**kw, backend="torch").fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-6)


def test_same_seed_same_reservoir_as_esn():
    X, y = make_classification_data()
    m = ReservoirModelSpace(units=40, spectral_radius=0.7, input_scaling=0.3, connectivity=0.2, seed=5).fit(X, y)
    esn = ESN(units=40, spectral_radius=0.7, input_scaling=0.3, connectivity=0.2, seed=5, task="classification")
    esn.fit(X, y)
    np.testing.assert_array_equal(m.W_, esn.W_)
    np.testing.assert_array_equal(m.W_in_, esn.W_in_)


# ------------------------------------------------------------------------------------------
# the pieces against independent computations
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_bidirectional_last_state_is_the_esn_run_forwards_and_backwards(backend):
    X, y = make_classification_data()
    Xr = [X[i, : 4 + i % 9] for i in range(len(X))]
    m = ReservoirModelSpace(units=20, representation="last", dim_reduction=None, dtype="float64", backend=backend,
                            seed=0).fit(Xr, y)
    esn = ESN(units=20, leak_rate=m.leak_rate, dtype="float64").set_reservoir(m.W_, m.W_in_, m.bias_)
    fwd = [esn.transform(x)[-1] for x in Xr]
    bwd = [esn.transform(x[::-1])[-1] for x in Xr]
    np.testing.assert_allclose(m.transform(Xr), np.hstack([fwd, bwd]), atol=1e-10)


@pytest.mark.parametrize("representation", ["reservoir", "output"])
def test_batched_model_space_equals_a_loop_of_sklearn_ridge(representation):
    from sklearn.linear_model import Ridge

    X, y = make_classification_data()
    Xr = [X[i, : 5 + i % 8] for i in range(len(X))]
    m = ReservoirModelSpace(units=20, n_components=6, representation=representation, mts_ridge=0.7, washout=2,
                            dtype="float64", seed=1).fit(Xr, y)
    esn = ESN(units=20, leak_rate=m.leak_rate, dtype="float64").set_reservoir(m.W_, m.W_in_, m.bias_)
    R = m.transform(Xr)
    for i, x in enumerate(Xr):
        H = np.hstack([esn.transform(x), esn.transform(x[::-1])])
        Z = (H - m.pca_mean_) @ m.pca_components_.T
        s = min(2, len(x) - 2)                          # the washout, capped to keep two steps
        target = Z[s + 1:] if representation == "reservoir" else np.hstack([x, x[::-1]])[s + 1:]
        r = Ridge(alpha=0.7).fit(Z[s:-1], target)
        np.testing.assert_allclose(R[i], np.concatenate([r.coef_.ravel(), r.intercept_]), atol=1e-8)


def test_pca_is_sklearns_on_all_training_steps():
    from sklearn.decomposition import PCA

    X, y = make_classification_data()
    m = ReservoirModelSpace(units=20, n_components=5, representation="mean", dtype="float64", seed=0).fit(X, y)
    esn = ESN(units=20, leak_rate=m.leak_rate, dtype="float64").set_reservoir(m.W_, m.W_in_, m.bias_)
    rows = np.concatenate([np.hstack([esn.transform(x), esn.transform(x[::-1])]) for x in X])
    pca = PCA(5, svd_solver="full").fit(rows)
    np.testing.assert_allclose(m.pca_mean_, pca.mean_, atol=1e-10)
    np.testing.assert_allclose(np.abs(m.pca_components_ @ pca.components_.T), np.eye(5), atol=1e-6)


def test_tensor_pca_on_equal_lengths_refused_on_ragged():
    X, y = make_classification_data()
    m = ReservoirModelSpace(units=20, n_components=5, dim_reduction="tensor_pca", dtype="float64", seed=0).fit(X, y)
    esn = ESN(units=20, leak_rate=m.leak_rate, dtype="float64").set_reservoir(m.W_, m.W_in_, m.bias_)
    H = np.stack([np.hstack([esn.transform(x), esn.transform(x[::-1])]) for x in X])      # (B, T, 2N)
    Hc = H - H.mean(0)
    C = np.einsum("bti,btj->ij", Hc, Hc) / (len(X) - 1)
    vals, vecs = np.linalg.eigh(C)
    top = vecs[:, np.argsort(vals)[::-1][:5]]
    np.testing.assert_allclose(np.abs(m.pca_components_ @ top), np.eye(5), atol=1e-6)
    assert not m.pca_mean_.any() and m.score(X, y) > 0.9
    m.predict([X[0, :5], X[1]])                                   # any lengths once fitted
    with pytest.raises(ValueError, match="tensor_pca.*one length"):
        ReservoirModelSpace(units=20, dim_reduction="tensor_pca").fit([X[0, :5], X[1]], y[:2])


def test_stored_svm_and_mlp_give_the_fitted_sklearn_estimators_outputs():
    from sklearn.neural_network import MLPClassifier
    from sklearn.svm import SVC

    X, y = make_classification_data(seed=4)
    kw = dict(SMALL, dtype="float64", seed=0)
    m = ReservoirModelSpace(**kw, readout="svm", svm_C=3.0).fit(X, y)
    Rs = (m.transform(X) - m.scaler_mean_) / m.scaler_scale_
    svc = SVC(C=3.0, gamma=m.svm_gamma_).fit(Rs, np.searchsorted(m.classes_, y))
    np.testing.assert_allclose(m.decision_function(X), svc.decision_function(Rs), atol=1e-8)
    Xb, yb = X[y < 2], y[y < 2]                                  # two classes: scikit-learn's sign
    mb = ReservoirModelSpace(**kw, readout="svm").fit(Xb, yb)
    Rb = (mb.transform(Xb) - mb.scaler_mean_) / mb.scaler_scale_
    np.testing.assert_allclose(mb.decision_function(Xb), SVC(gamma=mb.svm_gamma_).fit(Rb, yb).decision_function(Rb),
                               atol=1e-8)
    for XX, yy in ((X, y), (Xb, yb)):
        m = ReservoirModelSpace(**kw, readout="mlp", mlp_hidden=(16,), mlp_max_iter=100).fit(XX, yy)
        Rs = (m.transform(XX) - m.scaler_mean_) / m.scaler_scale_
        mlp = MLPClassifier((16,), alpha=1e-4, max_iter=100, random_state=0).fit(Rs, np.searchsorted(m.classes_, yy))
        np.testing.assert_allclose(m.predict_proba(XX), mlp.predict_proba(Rs), atol=1e-10)


# ------------------------------------------------------------------------------------------
# what the representations can and cannot see
# ------------------------------------------------------------------------------------------

def test_model_spaces_see_dynamics_that_mean_and_last_states_do_not():
    """Both classes are zero-mean, unit-variance AR(1) series that differ only in the sign of phi.
    The reservoir (tanh, no bias) is an odd function of the input history and the inputs are
    symmetric, so E[h(t) | class] = 0 in both classes: the class means of the "mean" and "last"
    representations coincide and a linear (ridge) readout on them is near chance. The model
    spaces encode the dynamics (A and c of the per-series regressions), which differ: separable."""
    Xtr, ytr = ar1(60, 80, seed=0)
    Xte, yte = ar1(200, 80, seed=1)
    kw = dict(units=50, n_components=10, bias_scaling=0.0, seed=0)
    acc = {rep: ReservoirModelSpace(**kw, representation=rep).fit(Xtr, ytr).score(Xte, yte)
           for rep in REPRESENTATIONS}
    assert acc["reservoir"] >= 0.97 and acc["output"] >= 0.97, acc
    assert acc["mean"] <= 0.7 and acc["last"] <= 0.7, acc
    for readout in ("svm", "mlp"):                                # every readout works on the model space
        m = ReservoirModelSpace(**kw, readout=readout).fit(Xtr, ytr)
        assert m.score(Xte, yte) >= 0.95, readout
        P = m.predict_proba(Xte)
        np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-12)
        assert np.array_equal(m.classes_[P.argmax(1)], m.predict(Xte))


# ------------------------------------------------------------------------------------------
# labels, layouts, save / load
# ------------------------------------------------------------------------------------------

def test_ragged_batches_and_per_series_independence():
    X, y = make_classification_data()
    Xr = [X[i, : 5 + i % 8] for i in range(len(X))]
    m = ReservoirModelSpace(**SMALL, dtype="float64", seed=0).fit(Xr, y)
    R = m.transform(Xr)
    alone = np.concatenate([m.transform([x]) for x in Xr[:5]])
    np.testing.assert_allclose(R[:5], alone, atol=1e-10)
    np.testing.assert_allclose(m.transform(list(X)), m.transform(X), atol=1e-12)    # equal-length list = array
    assert R.shape == (len(X), 10 * 10 + 10) and m.n_features_out_ == 110


@pytest.mark.parametrize("readout", READOUTS)
def test_save_load_round_trip(readout, tmp_path):
    X, y = make_classification_data(seed=3)
    kw = dict(SMALL, readout=readout, mlp_max_iter=100, seed=0)
    m = ReservoirModelSpace(**kw).fit(X, y)
    _check_save_load(m, X, m.predict(X))                # same predictions; tampered / foreign files refused
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    m = ReservoirModelSpace(**kw).fit(X, labels)
    p = m.predict(X)
    assert set(p) <= {"a", "b", "c"}
    back = neurorec.load(m.save(tmp_path / "m.safetensors"))
    assert isinstance(back, ReservoirModelSpace) and np.array_equal(back.predict(X), p)
    np.testing.assert_array_equal(back.decision_function(X), m.decision_function(X))
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    assert back.get_params() == m.get_params() | {"mlp_hidden": [64, 32]}          # a tuple is stored as a list
    assert m.n_parameters_["trained"] < m.n_parameters_["total"]


def test_tables_two_d_x():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    m = ReservoirModelSpace(units=50, representation="mean", seed=0).fit(X, y)
    assert m.score(X, y) > 0.9 and m.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match=r"at least 2 steps.*read as a table"):
        ReservoirModelSpace(units=50, seed=0).fit(X, y)


# ------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------

def test_bad_input_fails_early_with_clear_errors():
    X, y = make_classification_data()
    m = ReservoirModelSpace(**SMALL, seed=0).fit(X, y)
    with pytest.raises(ValueError, match="must have shape"):
        m.predict(X[None])                                         # rank 4
    Xn = X.copy()
    Xn[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.predict(Xn)
    with pytest.raises(ValueError, match="NaN"):
        ReservoirModelSpace(**SMALL).fit(Xn, y)
    with pytest.raises(ValueError, match="expecting 3 features"):
        m.predict(X[..., :2])
    for rep in ("reservoir", "output"):                            # one-step sequences have no transition
        with pytest.raises(ValueError, match=rf"representation='{rep}'.*at least 2 steps"), warnings.catch_warnings():
            warnings.simplefilter("ignore", LayoutWarning)       # (24, 1, 3) looks transposed, and is not
            ReservoirModelSpace(**SMALL, representation=rep).fit(X[:, :1], y)
    with pytest.raises(ValueError, match="at least 2 steps"):
        m.predict([X[0], X[1, :1]])
    with pytest.raises(ValueError, match="single class"):
        ReservoirModelSpace(**SMALL).fit(X, np.zeros(len(X), int))
    with pytest.raises(ValueError, match="continuous"):
        ReservoirModelSpace(**SMALL).fit(X, y + 0.5)
    with pytest.raises(ValueError, match="out of range"):
        m.score(X, y + 5)


@pytest.mark.parametrize("params, name", [
    ({"representation": "median"}, "representation"), ({"dim_reduction": "ica"}, "dim_reduction"),
    ({"readout": "knn"}, "readout"), ({"mts_ridge": 0.0}, "mts_ridge"), ({"ridge": -1.0}, "ridge"),
    ({"n_components": 0}, "n_components"), ({"mlp_hidden": (0,)}, "mlp_hidden"), ({"svm_gamma": "big"}, "svm_gamma"),
    ({"bidirectional": 1}, "bidirectional"), ({"leak_rate": 0.0}, "leak_rate"), ({"washout": -1}, "washout"),
])
def test_every_bad_hyperparameter_is_named_at_fit(params, name):
    X, y = make_classification_data()
    with pytest.raises(ParameterError, match=rf"ReservoirModelSpace\({name}=.*{name} must be"):
        ReservoirModelSpace(**params).fit(X, y)


# ------------------------------------------------------------------------------------------
# scikit-learn
# ------------------------------------------------------------------------------------------

@parametrize_with_checks(
    [ReservoirModelSpace(units=20, n_components=5, representation="mean", dtype="float64", seed=0),
     ReservoirModelSpace(units=20, n_components=5, representation="last", readout="svm", dtype="float64", seed=0)])
def test_sklearn_estimator_checks(estimator, check):
    # scikit-learn's checks pass 2-D tables (one-step sequences), which the model spaces refuse by
    # design (test_tables_two_d_x); the readouts and the rest of the pipeline are the same
    check(estimator)


# ------------------------------------------------------------------------------------------
# real data
# ------------------------------------------------------------------------------------------

def test_japanese_vowels_validation():
    from neurorec.data import get_task

    d = get_task("ucr:JapaneseVowels").load(0)
    m = ReservoirModelSpace(seed=0).fit(d.train.X, d.train.y)            # ragged series, 12 features
    assert m.score(d.val.X, d.val.y) >= 0.9


@pytest.mark.slow
def test_experiment_script_quick(tmp_path):
    """experiments/rmspace_jpvow.py end to end with --quick (6 s here, more on a busy machine: a fresh
    interpreter importing torch and matplotlib)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("matplotlib")
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(root / "experiments" / "rmspace_jpvow.py"), "--quick", "--validation",
                        "--out", str(tmp_path)], capture_output=True, text=True, env=env, cwd=root, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name in ("results.csv", "summary.csv", "validation.csv", "rmspace_jpvow.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "Test accuracy on JapaneseVowels" in r.stdout
