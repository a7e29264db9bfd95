"""Every public model through the same bad inputs and bad hyperparameters (issue 13).

Three families of checks, each over every public model class:

* **hyperparameters**: every ``__init__`` argument has a declared constraint (``_param_spec``) and
  every value that breaks it (NaN, inf, strings for numbers, ``'yes'`` for booleans, negative
  seeds, out-of-range numbers, unknown options) is refused at ``fit`` with a
  :class:`neurorec._params.ParameterError` that names it, before any work is done;
* **data** (hypothesis): arrays of the wrong rank, empty, with NaN/inf, of the wrong width, of
  non-numeric dtypes (complex, strings, bytes, objects, datetimes) and non-arrays, given to
  ``fit`` and to every inference method, raise a ``ValueError`` that names the argument, never
  another exception type, and a refused call changes nothing: the fitted model predicts
  exactly as before;
* **labels**: classifiers refuse continuous, complex, NaN and wrongly sized labels.

The default run uses a small number of hypothesis examples per model (a few seconds each); the
long profile (``-m slow``) draws many more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neurorec import _params as P
from neurorec.testing import make_classification_data, make_regression_data, make_symbol_data

pytest.importorskip("torch")

FAST_EXAMPLES, LONG_EXAMPLES = 15, 300

# --------------------------------------------------------------------------------------------
# one small, fast configuration of every public model, with valid data
# --------------------------------------------------------------------------------------------
XR, YR = make_regression_data(batch=3, time=20, features=2)
XC, YC = make_classification_data(batch=12, time=6, features=3, n_classes=3)
PATTERNS = np.where(np.random.default_rng(0).random((3, 16)) < 0.5, -1.0, 1.0)
TABLE = np.random.default_rng(1).standard_normal((40, 6))
SYMBOLS = make_symbol_data(batch=3, time=30)


def _cases():
    from neurorec.models import (
        BCM,
        ESN,
        GRU,
        LSM,
        LSTM,
        AntiHebbian,
        DenseAssociativeMemory,
        Elman,
        FeatureClassifier,
        Hebb,
        HistoryCompressor,
        Hopfield,
        Jordan,
        LinearAR,
        ModernHopfield,
        MultiOrderMarkov,
        Oja,
        Sanger,
        SpikingClassifier,
    )

    rnn = dict(units=4, epochs=2, batch_size=8, seed=0)
    # name: (model, fit args, inference methods, the argument name those methods report, kind)
    return {
        "ESN-regression": (ESN(units=10, seed=0), (XR, YR), ("predict", "transform", "score"), "X", "seq"),
        "ESN-classification": (ESN(units=10, task="classification", seed=0), (XC, YC),
                               ("predict", "predict_proba", "decision_function", "transform", "score"), "X", "clf"),
        "LinearAR": (LinearAR(delays=2), (XR, YR), ("predict", "score"), "X", "seq"),
        "Elman": (Elman(**rnn), (XR, YR), ("predict", "transform", "score"), "X", "seq"),
        "Jordan": (Jordan(**rnn), (XR, YR), ("predict", "score"), "X", "seq"),
        "LSTM": (LSTM(**rnn), (XR, YR), ("predict", "transform", "score"), "X", "seq"),
        "GRU-classification": (GRU(task="classification", **rnn), (XC, YC),
                               ("predict", "predict_proba", "score"), "X", "clf"),
        "SpikingClassifier": (SpikingClassifier(hidden=8, epochs=1, batch_size=8, seed=0), (XC, YC),
                              ("predict", "predict_proba", "score"), "X", "clf"),
        "LSM": (LSM(units=30, steps_per_input=1, backend="torch", seed=0), (XC, YC), ("predict", "score"), "X",
                "clf"),
        "FeatureClassifier": (FeatureClassifier("identity"), (XC, YC), ("predict", "predict_proba", "score"), "X",
                              "clf"),
        "HistoryCompressor": (HistoryCompressor(predictor_params={"units": 8, "epochs": 1}, seed=0), (XC, YC),
                              ("predict",), "X", "clf"),
        "Hopfield": (Hopfield(seed=0), (PATTERNS,), ("predict", "recall"), None, "table"),
        "ModernHopfield": (ModernHopfield(), (PATTERNS,), ("predict", "recall"), None, "table"),
        "DenseAssociativeMemory": (DenseAssociativeMemory(seed=0), (PATTERNS,), ("predict", "recall"), None,
                                   "table"),
        "Hebb": (Hebb(epochs=1, seed=0), (TABLE,), ("transform", "score"), "X", "table"),
        "Oja": (Oja(epochs=1, seed=0), (TABLE,), ("transform", "score"), "X", "table"),
        "Sanger": (Sanger(n_components=2, epochs=1, seed=0), (TABLE,), ("transform", "score"), "X", "table"),
        "BCM": (BCM(epochs=1, seed=0), (TABLE,), ("transform", "score"), "X", "table"),
        "AntiHebbian": (AntiHebbian(epochs=1, seed=0), (TABLE,), ("transform", "score"), "X", "table"),
        "MultiOrderMarkov": (MultiOrderMarkov(max_order=2), (SYMBOLS,), ("predict", "predict_proba"), "X",
                             "symbols"),
    }


CASES = _cases()


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for name, (model, args, *_rest) in CASES.items():
        out[name] = model.clone().fit(*args)
    return out


def _valid_input(name):
    kind = CASES[name][4]
    return {"seq": XR, "clf": XC, "table": PATTERNS if "opfield" in name or "Memory" in name else TABLE,
            "symbols": SYMBOLS}[kind]


# --------------------------------------------------------------------------------------------
# hyperparameters: every one declared, every bad value refused by name
# --------------------------------------------------------------------------------------------
def _bad_values(constraint) -> list:
    """Values that break ``constraint`` (checked with the constraint itself)."""
    pool = [math.nan, math.inf, -math.inf, "0.5", "yes", b"1", True, None, -1, 1.5, -1e300, 1e300, 0, [1],
            {"a": 1}, "", "no-such-option", 3 + 0j, np.float64("nan")]
    return [v for v in pool if not constraint.ok(v)]


def _param_cases():
    out = []
    for name, (model, *_rest) in CASES.items():
        spec = type(model)._param_spec
        for param, constraint in spec.items():
            if isinstance(constraint, P.Any):
                continue
            for v in _bad_values(constraint):
                out.append(pytest.param(name, param, v, id=f"{name}-{param}-{v!r}"))
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_every_hyperparameter_has_a_declared_constraint(name):
    model = CASES[name][0]
    spec = type(model)._param_spec
    assert set(spec) == set(model.get_params(deep=False)), (
        f"{type(model).__name__}: undeclared {sorted(set(model.get_params(deep=False)) - set(spec))}, "
        f"stale {sorted(set(spec) - set(model.get_params(deep=False)))}")


@pytest.mark.parametrize("name, param, value", _param_cases())
def test_bad_hyperparameter_is_refused_at_fit_by_name(name, param, value):
    model, args, *_rest = CASES[name]
    bad = model.clone().set_params(**{param: value})
    with pytest.raises(P.ParameterError, match=rf"{param}="):
        bad.fit(*args)


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
_non_numeric = st.one_of(
    hnp.arrays(np.complex128, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(hnp.unicode_string_dtypes(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(hnp.byte_string_dtypes(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(hnp.datetime64_dtypes(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    hnp.arrays(hnp.timedelta64_dtypes(), hnp.array_shapes(min_dims=1, max_dims=3, max_side=4)),
    st.lists(st.one_of(st.text(max_size=3), st.none()), min_size=1, max_size=4).map(
        lambda v: np.array(v + ["x"], dtype=object)),
    st.sampled_from([None, "abc", {"a": 1}, 3.5, b"\x00\x01"]),
)


def _with_nonfinite(valid):
    @st.composite
    def draw(draw_):
        a = np.array(valid, dtype=np.float64, copy=True)
        i = draw_(st.integers(0, a.size - 1))
        a.flat[i] = draw_(st.sampled_from([np.nan, np.inf, -np.inf]))
        return a
    return draw()


def _wrong_shape(valid, width_too: bool):
    """Wrong rank or empty; with ``width_too`` also the wrong number of features (bad only after
    ``fit`` has fixed it)."""
    valid = np.asarray(valid)
    width = valid.shape[-1]
    parts = [
        hnp.arrays(np.float64, st.sampled_from([(), (1, 1, 1, 1), (2, 3, 4, 5)]), elements=st.floats(-1, 1)),
        st.sampled_from([np.zeros(valid.shape[:-1] + (0,)), np.zeros((0,) + valid.shape[1:])]),
    ]
    if width_too:
        parts.append(st.integers(1, 9).filter(lambda w: w != width).map(lambda w: np.zeros(valid.shape[:-1] + (w,))))
    return st.one_of(*parts)


def bad_inputs(valid, width_too: bool = True):
    return st.one_of(_non_numeric, _with_nonfinite(valid), _wrong_shape(valid, width_too))


def _check_refused(model, method, a, argname):
    fn = getattr(model, method)
    call = (lambda: fn(a, YC if CASES_KIND[id(model)] == "clf" else YR)) if method == "score" else (lambda: fn(a))
    try:
        call()
    except ValueError as exc:
        if argname is not None:
            assert argname in str(exc) or "X" in str(exc), f"{method}: the message does not name {argname}: {exc}"
        return
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{type(model).__name__}.{method} raised {type(exc).__name__} (not a ValueError) on "
                             f"{type(a).__name__} {getattr(a, 'dtype', '')} {np.shape(a) if a is not None else ''}: "
                             f"{exc}") from exc
    raise AssertionError(f"{type(model).__name__}.{method} accepted a bad input: {a!r:.200}")


CASES_KIND: dict = {}


def _fuzz_model(fitted, name, data):
    model = fitted[name]
    CASES_KIND[id(model)] = CASES[name][4]
    methods, argname = CASES[name][2], CASES[name][3]
    valid = _valid_input(name)
    before = np.asarray(model.predict(valid) if hasattr(model, "predict") else model.transform(valid))
    a = data.draw(bad_inputs(valid) if CASES[name][4] != "symbols" else _non_numeric)
    for method in methods:
        if hasattr(model, method):
            _check_refused(model, method, a, argname)
    fit_args = CASES[name][1]
    refit = model.clone()
    a = data.draw(bad_inputs(valid, width_too=False) if CASES[name][4] != "symbols" else _non_numeric)
    try:
        refit.fit(a, *fit_args[1:])
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"{type(model).__name__}.fit raised {type(exc).__name__} (not a ValueError): {exc}") \
            from exc
    else:
        raise AssertionError(f"{type(model).__name__}.fit accepted a bad input: {a!r:.200}")
    after = np.asarray(model.predict(valid) if hasattr(model, "predict") else model.transform(valid))
    np.testing.assert_array_equal(after, before, err_msg="a refused call changed the fitted model")


_FUZZ_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                              HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=FAST_EXAMPLES, **_FUZZ_SETTINGS)
@given(data=st.data())
def test_bad_data_is_refused_with_a_value_error(fitted, name, data):
    _fuzz_model(fitted, name, data)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
@settings(max_examples=LONG_EXAMPLES, **_FUZZ_SETTINGS)
@given(data=st.data())
def test_bad_data_is_refused_with_a_value_error_long(fitted, name, data):
    _fuzz_model(fitted, name, data)


# --------------------------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------------------------
_CLASSIFIERS = [n for n, c in CASES.items() if c[4] == "clf"]
_bad_labels = st.one_of(
    st.just(np.linspace(0.1, 0.9, len(YC))),                       # continuous: a regression target
    st.just(YC.astype(np.complex128) + 1j),
    st.just(np.where(np.arange(len(YC)) == 0, np.nan, YC.astype(float))),
    st.integers(0, 30).filter(lambda n: n != len(YC)).map(lambda n: np.arange(n) % 3),
    st.just(YC[:, None, None]),
    st.just(np.array([None] * len(YC), dtype=object)),
)


@pytest.mark.parametrize("name", _CLASSIFIERS)
@settings(max_examples=6, **_FUZZ_SETTINGS)
@given(y=_bad_labels)
def test_classifiers_refuse_bad_labels(name, y):
    model = CASES[name][0].clone()
    with pytest.raises(ValueError, match="y"):
        model.fit(XC, y)
