"""Associative memories and Hebbian learners with scikit-learn: estimator checks, tags,
hyperparameter validation and a softmax that never overflows (issue 13)."""

import math

import numpy as np
import pytest
from sklearn.base import is_classifier, is_regressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from neurorec._params import ParameterError
from neurorec.models import BCM, AntiHebbian, DenseAssociativeMemory, Hebb, Hopfield, ModernHopfield, Oja, Sanger

_MEMORIES = (Hopfield, ModernHopfield, DenseAssociativeMemory)
_HEBBIAN = (Hebb, Oja, Sanger, BCM, AntiHebbian)

_ONE_STATE = ("a 1-D array is one pattern (fit) or one cue (predict) of n_units, by design and documented: "
              "it is stored or recalled, not refused as the check expects")
_BINARY = ("Hopfield and DenseAssociativeMemory store binary patterns (-1/+1 or 0/1) and refuse any other value "
           "with a ValueError naming it (thresholding arbitrary floats would store patterns the user never gave); "
           "this check fits on continuous random data")
_BINARY_CHECKS = (
    "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
    "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
    "check_estimators_pickle(readonly_memmap=True)", "check_f_contiguous_array_estimator",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_fit2d_1sample",
    "check_fit2d_1feature", "check_dict_unchanged", "check_fit_idempotent", "check_fit_check_is_fitted",
    "check_n_features_in")
_BINARY_EXPECTED = {**{c: _BINARY for c in _BINARY_CHECKS}, "check_fit2d_predict1d": _ONE_STATE + "; " + _BINARY}
_EXPECTED = {
    "Hopfield": _BINARY_EXPECTED,
    "DenseAssociativeMemory": _BINARY_EXPECTED,
    "ModernHopfield": {"check_fit1d": _ONE_STATE, "check_fit2d_predict1d": _ONE_STATE},
}


def _instances():
    return [Hopfield(max_steps=5, dtype="float64", seed=0), ModernHopfield(dtype="float64"),
            DenseAssociativeMemory(max_steps=5, seed=0),
            Hebb(n_components=1, normalize=True, seed=0), Oja(n_components=1, seed=0),
            Sanger(n_components=1, seed=0), BCM(n_components=1, center=True, seed=0), AntiHebbian(seed=0)]


@parametrize_with_checks(_instances(), expected_failed_checks=lambda est: _EXPECTED.get(type(est).__name__, {}))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def _binary(n=6, units=16, seed=0):
    return np.where(np.random.default_rng(seed).random((n, units)) < 0.5, -1.0, 1.0)


def _samples(n=60, f=4, seed=0):
    return np.random.default_rng(seed).standard_normal((n, f)) * [3.0, 1.0, 0.5, 0.2][:f]


# ------------------------------------------------------------------ tags and what predict means
@pytest.mark.parametrize("cls", _MEMORIES)
def test_memories_are_neither_classifier_nor_regressor_and_have_no_score(cls):
    model = cls()
    assert not is_classifier(model) and not is_regressor(model)
    assert model.__sklearn_tags__().estimator_type is None
    X = _binary(n=2, units=32)
    fitted = cls().fit(X)
    assert not hasattr(fitted, "score")                       # recall is not scored as accuracy or R^2
    assert np.array_equal(np.sign(fitted.predict(X)), X)      # predict is recall: stored patterns are fixed


@pytest.mark.parametrize("cls", _MEMORIES)
def test_memories_ignore_one_label_per_cue_like_unsupervised_estimators(cls):
    X = _binary()
    a = cls().fit(X, np.arange(len(X)))
    b = cls().fit(X)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    with pytest.raises(ValueError, match="same number of patterns"):     # 2-D y: clean patterns, checked
        cls().fit(X, X[:3])


@pytest.mark.parametrize("cls", _HEBBIAN)
def test_hebbian_learners_are_transformers(cls):
    model = cls(seed=0)
    assert model.__sklearn_tags__().transformer_tags is not None
    assert not is_classifier(model) and not is_regressor(model)
    X = _samples()
    Z = cls(seed=0).fit_transform(X)
    np.testing.assert_allclose(Z, cls(seed=0).fit(X, None).transform(X))
    assert Z.shape[0] == len(X) and math.isfinite(cls(seed=0).fit(X).score(X))


# ------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("cls", _MEMORIES + _HEBBIAN)
def test_param_spec_covers_every_hyperparameter(cls):
    assert set(cls._param_spec) == set(cls().get_params())


_BAD = [  # the examples: inf, NaN, strings for numbers, 'yes' for bools, seed=-1
    (Hopfield, {"max_steps": "10"}), (Hopfield, {"seed": -1}), (Hopfield, {"rule": "oja"}),
    (Hopfield, {"max_steps": 5.0}), (Hopfield, {"device": ""}),
    (ModernHopfield, {"beta": math.inf}), (ModernHopfield, {"beta": math.nan}), (ModernHopfield, {"beta": "2"}),
    (ModernHopfield, {"tol": math.nan}), (ModernHopfield, {"max_steps": True}),
    (DenseAssociativeMemory, {"degree": 1}), (DenseAssociativeMemory, {"degree": "3"}),
    (DenseAssociativeMemory, {"seed": -1}), (DenseAssociativeMemory, {"interaction": "linear"}),
    (Hebb, {"normalize": "yes"}), (Hebb, {"lr": math.inf}), (Hebb, {"lr": "0.5"}), (Hebb, {"seed": -1}),
    (Oja, {"lr_decay": math.nan}), (Oja, {"shuffle": "yes"}), (Oja, {"n_components": 1.0}),
    (Sanger, {"center": 1}), (Sanger, {"epochs": 0}), (Sanger, {"dtype": "float16"}),
    (BCM, {"tau_theta": math.inf}), (BCM, {"tau_theta": "100"}), (BCM, {"batch_size": "2"}),
    (AntiHebbian, {"lr": math.nan}), (AntiHebbian, {"seed": -1}), (AntiHebbian, {"backend": "jax"}),
]


@pytest.mark.parametrize("cls, bad", _BAD, ids=[f"{c.__name__}-{next(iter(b))}={next(iter(b.values()))!r}"
                                                for c, b in _BAD])
def test_bad_hyperparameters_are_refused_at_fit_and_on_load(cls, bad):
    from neurorec.base import ModelFileError, _check_loaded_params

    X = _binary() if cls in _MEMORIES else 0.3 * _samples()     # small: BCM is stable on it
    (name,) = bad
    with pytest.raises(ParameterError, match=rf"{cls.__name__}\({name}=.*{name} must be"):
        cls(**bad).fit(X)
    model = cls(**({} if cls is ModernHopfield else {"seed": 0})).fit(X)
    model.set_params(**bad)
    with pytest.raises(ModelFileError, match=rf"{name}="):   # what neurorec.load runs on a file's header
        _check_loaded_params(model, "model.safetensors")


def test_bcm_cross_parameter_check_still_applies():
    with pytest.raises(ValueError, match="tau_theta must be >= batch_size"):
        BCM(tau_theta=2.0, batch_size=4).fit(_samples())


# ------------------------------------------------------------------ a softmax that never overflows
@pytest.mark.parametrize("scale, beta", [(1e39, 1.0), (-1e39, 1.0), (1.0, 1e308), (1e39, 1e308), (1e150, 1e300)])
def test_hopfield_retrieve_never_gives_nan(scale, beta):
    torch = pytest.importorskip("torch")
    from neurorec.models.hopfield_layers import hopfield_retrieve

    g = torch.Generator().manual_seed(0)
    P = torch.randn(5, 8, generator=g, dtype=torch.float64)
    q = P[:3] + 0.05 * torch.randn(3, 8, generator=g, dtype=torch.float64)
    out = hopfield_retrieve(q * scale, P * scale, beta)
    assert torch.isfinite(out).all()
    if beta > 1e100 or abs(scale) > 1e30:                 # effectively zero temperature: the nearest pattern
        torch.testing.assert_close(out / scale, P[:3], rtol=1e-12, atol=0)
    # and the textbook formula where that one is finite
    ref = torch.softmax(0.7 * q @ P.T, -1) @ P
    torch.testing.assert_close(hopfield_retrieve(q, P, 0.7), ref, rtol=1e-12, atol=1e-14)


def test_hopfield_layers_stay_finite_and_differentiable():
    torch = pytest.importorskip("torch")
    from neurorec.models.hopfield_layers import HopfieldLookup, HopfieldPooling

    layer = HopfieldLookup(4, 3, beta=1e30, learn_beta=True)
    x = (torch.randn(2, 3) * 1e30).requires_grad_(True)
    out = layer(x)
    assert torch.isfinite(out).all()
    pool = HopfieldPooling(3, beta=1.0, learn_beta=True)
    seq = torch.randn(2, 5, 3, requires_grad=True)
    y = pool(seq, lengths=torch.tensor([5, 2]))
    y.sum().backward()
    assert torch.isfinite(seq.grad).all() and torch.isfinite(pool.log_beta.grad)
    assert float(seq.grad[1, 2:].abs().sum()) == 0.0      # padded steps get no gradient


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_modern_hopfield_huge_inputs_and_beta_do_not_give_nan(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    P = np.random.default_rng(0).standard_normal((5, 8))
    for beta, scale in [(1e308, 1.0), (1.0, -1e39), (1e308, 1e39)]:
        m = ModernHopfield(beta=beta, backend=backend, dtype="float64").fit(P * scale)
        out = m.predict(P * scale)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, P * scale, rtol=1e-9)
