"""aeon/sktime collections: conversion (from_aeon / to_aeon) and the transposed-layout warning.

aeon stores a collection as (n_cases, n_channels, n_timepoints); neurorec reads (batch, time,
features). Issue 13: passed as is, such a collection was read as n_channels steps of
n_timepoints features without a word.
"""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest

from neurorec._validation import LayoutWarning, check_sequences
from neurorec.data import LayoutWarning as DataLayoutWarning
from neurorec.data import from_aeon, to_aeon

aeon_datasets = pytest.importorskip("aeon.datasets")


@pytest.fixture(scope="module")
def basic_motions():
    return aeon_datasets.load_basic_motions(split="train")      # (40, 6, 100), string labels


@pytest.fixture(scope="module")
def italy():
    return aeon_datasets.load_italy_power_demand(split="train")  # (67, 1, 24)


@pytest.fixture(scope="module")
def vowels():
    return aeon_datasets.load_japanese_vowels(split="train")     # list of 270 (12, 7..26)


def _no_layout_warning(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", LayoutWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# from_aeon / to_aeon on the data sets shipped in aeon's wheel
# ---------------------------------------------------------------------------------------------

def test_from_aeon_3d_is_the_exact_transpose(basic_motions):
    X, y = basic_motions
    assert X.shape == (40, 6, 100)
    Xn, yn = from_aeon(X, y)
    assert Xn.shape == (40, 100, 6) and Xn.dtype == np.float32 and Xn.flags.c_contiguous
    for i, c, t in [(0, 0, 0), (3, 5, 99), (39, 2, 17)]:
        assert Xn[i, t, c] == np.float32(X[i, c, t])
    np.testing.assert_array_equal(Xn, X.transpose(0, 2, 1).astype(np.float32))
    X64 = from_aeon(X, dtype=np.float64)
    np.testing.assert_array_equal(X64, X.transpose(0, 2, 1))       # bit for bit
    assert yn.dtype == y.dtype and (yn == y).all()                  # string labels unchanged
    _no_layout_warning(check_sequences, Xn)                         # the converted batch reads cleanly


def test_from_aeon_univariate_3d_and_2d_agree(italy):
    X, y = italy
    assert X.shape == (67, 1, 24)
    Xn = from_aeon(X)
    assert Xn.shape == (67, 24, 1)
    np.testing.assert_array_equal(Xn[:, :, 0], X[:, 0, :].astype(np.float32))
    np.testing.assert_array_equal(from_aeon(X[:, 0, :]), Xn)       # aeon's numpy2D univariate format
    assert from_aeon(X, list(y))[1].tolist() == list(y)


def test_from_aeon_unequal_length_list(vowels):
    X, y = vowels
    assert isinstance(X, list) and len({x.shape[1] for x in X}) > 1
    Xn, yn = from_aeon(X, y)
    assert isinstance(Xn, list) and len(Xn) == len(X)
    for a, b in zip(X, Xn, strict=True):
        assert b.shape == (a.shape[1], 12) and b.dtype == np.float32
        np.testing.assert_array_equal(b, a.T.astype(np.float32))
    # neurorec's own loader reads the same file in neurorec's layout: the two must agree exactly.
    from neurorec.data import load_japanese_vowels
    ref = load_japanese_vowels()["x_train"]
    assert all(np.array_equal(a, b) for a, b in zip(ref, Xn, strict=True))
    batch = _no_layout_warning(check_sequences, Xn)
    assert batch.ragged and batch.data.shape[2] == 12


def test_to_aeon_round_trip_and_aeon_recognises_it(basic_motions, vowels):
    from aeon.utils.validation.collection import get_type
    X = basic_motions[0]
    back = to_aeon(from_aeon(X, dtype=np.float64))
    assert get_type(back) == "numpy3D"
    np.testing.assert_array_equal(back, X)
    lst = to_aeon(from_aeon(vowels[0]))
    assert get_type(lst) == "np-list"
    assert all(np.array_equal(a, b.astype(np.float32)) for a, b in zip(lst, vowels[0], strict=True))
    one = to_aeon(np.arange(6.0).reshape(3, 2))                     # one (time, features) sequence
    assert one.shape == (1, 2, 3) and one[0, 1, 2] == 5.0
    _, yb = to_aeon(from_aeon(X), basic_motions[1])
    assert (yb == basic_motions[1]).all()


def test_module_docstring_example_runs():
    import neurorec.data.aeon as mod
    assert doctest.testmod(mod, optionflags=doctest.ELLIPSIS).failed == 0


@pytest.mark.parametrize("X, match", [
    (np.zeros(5), r"X must be .*1-D"),
    (np.zeros((2, 3, 4, 5)), r"X must be .*4-D"),
    (np.zeros((0, 2, 5)), r"X is empty"),
    (np.zeros((3, 2, 0)), r"X is empty"),
    ([], r"X is empty"),
    (None, r"X is None"),
    (np.array([["a", "b"], ["c", "d"]]), r"X must hold"),
    (np.ones((2, 1, 3), dtype=complex), r"X must hold"),
    ([np.ones((2, 5)), np.ones((3, 5))], r"same number of channels.*\[2, 3\]"),
    ([np.ones((2, 5)), np.ones(4)], r"X\[1\] must be a 2-D"),
    ([np.ones((2, 5)), np.ones((2, 0))], r"X\[1\] is empty"),
    ([np.ones((2, 5)), np.array([["x"] * 5] * 2)], r"X\[1\] must hold"),
    ([np.ones(5), np.ones(4)], r"1-D series of unequal lengths"),
])
def test_from_aeon_rejects_bad_input_by_name(X, match):
    with pytest.raises(ValueError, match=match):
        from_aeon(X)


def test_from_aeon_rejects_bad_y_dtype_and_pandas():
    X = np.ones((4, 2, 10))
    with pytest.raises(ValueError, match=r"y has 3 entries but X has 4"):
        from_aeon(X, np.arange(3))
    with pytest.raises(ValueError, match=r"y must be 1-D"):
        from_aeon(X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"dtype must be a floating"):
        from_aeon(X, dtype=np.int32)
    with pytest.raises(ValueError, match=r"dtype must be a floating"):
        to_aeon(X, dtype="not-a-dtype")
    with pytest.raises(ValueError, match=r"X must be .*4-D"):
        to_aeon(np.zeros((1, 2, 3, 4)))
    with pytest.raises(ValueError, match=r"same number of features"):
        to_aeon([np.ones((5, 2)), np.ones((5, 3))])
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"X is a pandas object .*convert_collection"):
        from_aeon(pd.DataFrame(np.ones((3, 4))))


# ---------------------------------------------------------------------------------------------
# the transposed-layout warning in check_sequences, and layout="nct"
# ---------------------------------------------------------------------------------------------

def test_warning_is_exported_and_a_userwarning():
    assert DataLayoutWarning is LayoutWarning and issubclass(LayoutWarning, UserWarning)


@pytest.mark.parametrize("name", ["basic_motions", "italy"])
def test_aeon_collection_passed_as_is_warns(name, request):
    X = request.getfixturevalue(name)[0]
    with pytest.warns(LayoutWarning) as rec:
        batch = check_sequences(X)
    msg = str(rec[0].message)
    assert str(X.shape) in msg and "aeon/sktime collection (n_cases, n_channels, n_timepoints)" in msg
    assert "neurorec.data.from_aeon(X)" in msg and "transpose(0, 2, 1)" in msg
    assert batch.data.shape == X.shape                              # still read as given: a warning, not a fix


def test_single_series_and_gunpoint_warn():
    X, _ = aeon_datasets.load_gunpoint(split="train")               # (50, 1, 150)
    with pytest.warns(LayoutWarning):
        check_sequences(X)
    with pytest.warns(LayoutWarning, match=r"one sequence of 1 time step.*\(n_channels, n_timepoints\)"):
        check_sequences(X[0])                                       # one aeon series (1, 150)


@pytest.mark.parametrize("shape", [
    (4, 50, 3), (2, 28, 28), (10, 8, 8), (1, 3600, 1), (5, 16, 200), (3, 10, 40), (2, 1, 1), (7, 2, 8),
    (100, 3), (8, 8), (1, 1),
])
def test_normal_shapes_do_not_warn(shape):
    _no_layout_warning(check_sequences, np.zeros(shape))


def test_lists_of_short_many_feature_sequences_do_not_warn():
    # neurorec's own variable-length format: a compressor's upper level passes up one-step,
    # one-hot sequences (23 symbols); aeon's unequal-length lists fail with a hint instead.
    seqs = [np.eye(23, dtype=np.float32)[[i % 23]] for i in range(10)]
    _no_layout_warning(check_sequences, seqs)


def test_warning_switches_off():
    X = np.zeros((5, 1, 30))
    _no_layout_warning(check_sequences, X, layout_warning=False)    # a table read as one-step sequences
    _no_layout_warning(check_sequences, X[:, :, :1], n_features=1)  # predict-time: n_features decides


def test_warning_points_at_the_callers_line():
    from neurorec.models import ESN
    X = np.random.default_rng(0).normal(size=(3, 2, 40))            # aeon-like, 2 "steps"
    y = np.zeros((3, 2, 1))
    with pytest.warns(LayoutWarning) as rec:
        ESN(units=10, seed=0).fit(X, y)
    assert rec[0].filename == __file__


def test_layout_nct_transposes(basic_motions, vowels):
    X = basic_motions[0]
    batch = _no_layout_warning(check_sequences, X, layout="nct")
    np.testing.assert_array_equal(batch.data, from_aeon(X))
    one = _no_layout_warning(check_sequences, X[0], layout="nct")
    assert one.single and one.data.shape == (1, 100, 6)
    np.testing.assert_array_equal(one.data[0], X[0].T.astype(np.float32))
    rag = _no_layout_warning(check_sequences, vowels[0], layout="nct")
    ref = check_sequences(from_aeon(vowels[0]))
    np.testing.assert_array_equal(rag.data, ref.data)
    np.testing.assert_array_equal(rag.lengths, ref.lengths)
    with pytest.raises(ValueError, match=r"layout must be one of \('ntc', 'nct'\).*'tnc'"):
        check_sequences(X, layout="tnc")


def test_transposed_inputs_get_a_hint_in_errors(vowels):
    with pytest.raises(ValueError, match=r"same number of features.*12 rows.*from_aeon\(X\)"):
        check_sequences(vowels[0])                                  # aeon's unequal-length list as is
    with pytest.raises(ValueError, match=r"fitted with 6.*6 time steps: is it transposed.*from_aeon\(X\)"):
        check_sequences(np.zeros((2, 6, 100)), n_features=6)
    with pytest.raises(ValueError) as exc:                          # no hint where it does not apply
        check_sequences(np.zeros((2, 7, 100)), n_features=6)
    assert "transposed" not in str(exc.value)
