"""Metric values against hand-computed numbers and reference implementations."""

import numpy as np
import pytest

from neurorec.metrics import (
    METRICS,
    Metric,
    accuracy,
    bit_error_rate,
    get_metric,
    memory_capacity,
    mse,
    nmse,
    nrmse,
    r2,
    rmse,
)

Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([1.0, 2.0, 3.0, 5.0])  # one error of 1 -> MSE 0.25; var(Y) = 1.25


def test_hand_computed_regression_values():
    assert mse(Y, P) == pytest.approx(0.25)
    assert rmse(Y, P) == pytest.approx(0.5)
    assert nmse(Y, P) == pytest.approx(0.25 / 1.25)
    assert nrmse(Y, P) == pytest.approx(0.5 / np.sqrt(1.25))
    assert r2(Y, P) == pytest.approx(1 - 0.25 / 1.25)


def test_perfect_and_mean_predictions():
    rng = np.random.default_rng(0)
    y = rng.normal(3.0, 2.0, size=(4, 50, 1))
    assert nrmse(y, y) == 0.0
    assert nmse(y, y) == 0.0
    assert r2(y, y) == 1.0
    mean_pred = np.full_like(y, y.mean())
    assert nrmse(y, mean_pred) == pytest.approx(1.0)
    assert nmse(y, mean_pred) == pytest.approx(1.0)
    assert r2(y, mean_pred) == pytest.approx(0.0, abs=1e-12)


def test_nrmse_uses_population_std():
    y = np.array([0.0, 2.0])  # population std 1, sample std sqrt(2)
    assert nrmse(y, np.zeros(2)) == pytest.approx(np.sqrt(2.0) / 1.0)


def test_columns_are_scored_separately_and_averaged():
    y = np.stack([Y, 100 * Y], axis=1)  # (4, 2), very different scales
    p = np.stack([P, 100 * Y], axis=1)  # column 0 as above, column 1 perfect
    assert nrmse(y, p) == pytest.approx(0.5 * (0.5 / np.sqrt(1.25)))
    assert nmse(y, p) == pytest.approx(0.5 * 0.2)
    assert rmse(y, p) == pytest.approx(0.5 * 0.5)
    assert r2(y, p) == pytest.approx(0.5 * (0.8 + 1.0))


def test_matches_sklearn_on_multioutput():
    from sklearn.metrics import mean_squared_error, r2_score

    rng = np.random.default_rng(1)
    y = rng.normal(size=(300, 3)) * [1.0, 5.0, 0.1]
    p = y + rng.normal(size=y.shape) * 0.3
    assert mse(y, p) == pytest.approx(mean_squared_error(y, p))
    assert r2(y, p) == pytest.approx(r2_score(y, p))


def test_leading_axes_are_flattened():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(3, 20, 2))
    p = y + rng.normal(size=y.shape)
    flat_y, flat_p = y.reshape(-1, 2), p.reshape(-1, 2)
    for fn in (nrmse, nmse, rmse, mse, r2, memory_capacity):
        assert fn(y, p) == pytest.approx(fn(flat_y, flat_p))
    # a list of variable-length sequences is scored as their concatenation
    parts_y = [y[0, :5], y[1], y[2, :12]]
    parts_p = [p[0, :5], p[1], p[2, :12]]
    assert nrmse(parts_y, parts_p) == pytest.approx(
        nrmse(np.concatenate(parts_y), np.concatenate(parts_p)))


def test_trailing_singleton_axis_may_be_left_out():
    assert nrmse(Y[:, None], P) == pytest.approx(nrmse(Y, P))
    assert nrmse(Y.reshape(1, 4, 1), P.reshape(1, 4)) == pytest.approx(nrmse(Y, P))


@pytest.mark.parametrize("fn", [nrmse, nmse, rmse, mse, r2, accuracy, bit_error_rate,
                                memory_capacity])
def test_shape_mismatch_names_both_shapes(fn):
    with pytest.raises(ValueError, match=r"\(2, 10, 1\).*\(2, 9, 1\)"):
        fn(np.ones((2, 10, 1)), np.ones((2, 9, 1)))


@pytest.mark.parametrize("fn", [nrmse, nmse, r2, memory_capacity])
def test_zero_variance_target_raises(fn):
    with pytest.raises(ValueError, match="zero variance"):
        fn(np.full(10, 3.0), np.arange(10.0))


def test_zero_variance_only_in_one_column_is_named():
    y = np.stack([np.arange(5.0), np.ones(5)], axis=1)
    with pytest.raises(ValueError, match=r"column\(s\) \[1\]"):
        nrmse(y, y)


def test_accuracy_and_bit_error_rate():
    assert accuracy(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2])) == pytest.approx(0.75)
    assert accuracy([3, 3], [3, 3]) == 1.0
    assert bit_error_rate(np.array([1, -1, 1, 1]), np.array([1, 1, 1, -1])) == pytest.approx(0.5)
    patterns = np.ones((2, 8))
    recalled = patterns.copy()
    recalled[1, :2] = -1
    assert bit_error_rate(patterns, recalled) == pytest.approx(2 / 16)


def test_memory_capacity():
    rng = np.random.default_rng(3)
    y = rng.uniform(-1, 1, size=(2000, 5))
    assert memory_capacity(y, y) == pytest.approx(5.0)
    # invariant to an affine map of each prediction column
    assert memory_capacity(y, 3 * y - 1) == pytest.approx(5.0)
    # hand check against numpy's Pearson correlation
    p = y + rng.normal(size=y.shape) * np.arange(1, 6) * 0.3
    expected = sum(np.corrcoef(y[:, k], p[:, k])[0, 1] ** 2 for k in range(5))
    assert memory_capacity(y, p) == pytest.approx(expected)
    # an unrelated prediction carries (almost) no memory; a constant one exactly none
    assert memory_capacity(y, rng.normal(size=y.shape)) < 0.05
    const = p.copy()
    const[:, 0] = 0.7
    mc0 = np.corrcoef(y[:, 0], p[:, 0])[0, 1] ** 2
    assert memory_capacity(y, const) == pytest.approx(expected - mc0)


def test_nan_prediction_gives_nan_not_an_exception():
    p = P.copy()
    p[0] = np.nan
    assert np.isnan(nrmse(Y, p))


def test_registry():
    assert set(METRICS) == {"nrmse", "nmse", "rmse", "mse", "r2", "accuracy",
                            "bit_error_rate", "memory_capacity", "ucr_hit", "range_pr_auc", "roc_auc"}
    for name, metric in METRICS.items():
        assert isinstance(metric, Metric) and metric.name == name
        assert ".. math::" in metric.fn.__doc__  # formula in the docstring
    assert get_metric("nrmse").higher_is_better is False
    assert get_metric("accuracy").higher_is_better is True
    assert get_metric("memory_capacity").higher_is_better is True
    assert get_metric("NRMSE") is METRICS["nrmse"]
    assert get_metric("nrmse")(Y, P) == pytest.approx(nrmse(Y, P))
    with pytest.raises(ValueError, match="valid names.*accuracy"):
        get_metric("nrmsee")
    with pytest.raises(AttributeError):
        METRICS["nrmse"].higher_is_better = True  # frozen
