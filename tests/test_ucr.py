"""UCR/UEA tasks from aeon's wheel (issue 15): discovery, official splits, layout, labels."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("aeon")

from neurorec.data import get_task, list_tasks, load_ucr, ucr_names  # noqa: E402

FIVE = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "BasicMotions", "JapaneseVowels")


def test_every_classification_set_of_the_wheel_is_found_and_nothing_else():
    names = ucr_names()
    assert set(FIVE) <= set(names)
    assert {"ACSF1", "OSULeaf", "UnitTest", "PickupGestureWiimoteZ"} <= set(names)
    # regression problems (@targetlabel) and the file with time stamps are not tasks
    assert not {"CardanoSentiment", "Covid3Month", "UnitTestTimeStamps"} & set(names)
    assert [f"ucr:{n}" for n in names] == [t for t in list_tasks() if t.startswith("ucr:")]


def test_official_split_sizes_and_a_stratified_validation_part():
    d = get_task("ucr:GunPoint").load(0)
    assert d.train.X.shape == (40, 150, 1) and d.val.X.shape == (10, 150, 1)
    assert d.test.X.shape == (150, 150, 1) and d.n_classes == 2 and d.classes == ("1", "2")
    # stratified: both classes in the validation part, in the training proportion (25/25)
    assert np.bincount(d.val.y).tolist() == [5, 5]
    # the scaler is fitted on the train split only (BasicMotions: raw sensor values)
    b = get_task("ucr:BasicMotions").load(0)
    np.testing.assert_allclose(b.train.X.mean(axis=(0, 1)), 0, atol=1e-4)
    np.testing.assert_allclose(b.train.X.std(axis=(0, 1)), 1, atol=1e-3)
    assert np.abs(b.val.X.mean(axis=(0, 1))).max() > 1e-2


def test_values_equal_aeons_loader_transposed_and_labels_mapped():
    from aeon.datasets import load_basic_motions

    X_aeon, y_aeon = load_basic_motions(split="test")         # (40, 6, 100), string labels
    X, y = load_ucr("BasicMotions", "test")
    assert X.shape == (40, 100, 6)
    np.testing.assert_array_equal(X, X_aeon.transpose(0, 2, 1).astype(np.float32))
    assert (y == np.asarray(y_aeon).astype(str)).all()
    d = get_task("ucr:BasicMotions").load(0)
    assert d.classes == tuple(sorted(set(y)))
    np.testing.assert_array_equal(np.asarray(d.classes)[d.test.y], y)
    # the test split is the official one, standardised with the train split's statistics
    np.testing.assert_allclose(d.x_scaler.inverse_transform(d.test.X), X, rtol=1e-5, atol=1e-5)


def test_unequal_lengths_stay_a_ragged_batch():
    X, _ = load_ucr("JapaneseVowels", "train")
    assert isinstance(X, list) and len(X) == 270
    assert len({s.shape[0] for s in X}) > 5 and {s.shape[1] for s in X} == {12}
    d = get_task("ucr:JapaneseVowels").load(0)
    assert isinstance(d.train.X, list) and len(d.train.X) + len(d.val.X) == 270
    assert isinstance(d.test.X, list) and len(d.test.X) == 370


def test_numeric_labels_are_ordered_as_numbers():
    d = get_task("ucr:PickupGestureWiimoteZ").load(0)
    assert d.classes == tuple(str(i) for i in range(1, 11))


def test_the_validation_split_is_fixed_per_seed():
    a, b, c = (get_task("ucr:ArrowHead").load(s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.val.X, b.val.X)
    assert not np.array_equal(a.val.X, c.val.X)
    np.testing.assert_array_equal(a.test.y, c.test.y)           # the official test set
    assert len(a.val.y) == 7 and set(a.val.y.tolist()) == {0, 1, 2}


def test_bad_names_and_parameters_are_refused():
    with pytest.raises(ValueError, match="unknown UCR/UEA data set 'GunPiont'.*GunPoint"):
        get_task("ucr:GunPiont")
    with pytest.raises(ValueError, match="val_frac"):
        get_task("ucr:GunPoint", val_frac=1.5)
    with pytest.raises(ValueError, match="unknown parameter"):
        get_task("ucr:GunPoint", nope=1)
    with pytest.raises(ValueError, match="'ucr:<Name>'"):
        get_task("no_such_task")
    with pytest.raises(ValueError, match="split"):
        load_ucr("GunPoint", "validation")


def test_a_ucr_task_runs_in_compare_and_pickles(tmp_path):
    from neurorec.experiment import compare
    from neurorec.experiment.specs import data_fingerprint

    task = get_task("ucr:ItalyPowerDemand")
    again = pickle.loads(pickle.dumps(task))
    assert again.spec() == task.spec() == {"name": "ucr:ItalyPowerDemand", "params": {"val_frac": 0.2}}
    assert data_fingerprint(again, 0) == data_fingerprint(task, 0) != data_fingerprint(task, 1)
    df = compare({"ESN": {"class": "ESN", "params": {"units": 50}}}, ["ucr:ItalyPowerDemand"], seeds=[0],
                 store=tmp_path / "r.sqlite", progress=False)
    acc = df[(df.split == "test") & (df.metric == "accuracy")]["value"]
    assert len(acc) == 1 and float(acc.iloc[0]) > 0.8       # majority class: 0.50


def test_the_ucr_config_names_ucr_tasks():
    from pathlib import Path

    from neurorec.experiment.config import load_config

    cfg = load_config(Path(__file__).parents[1] / "experiments" / "ucr.toml")
    names = [t.name if hasattr(t, "name") else t["name"] for t in cfg["tasks"]]
    assert set(names) == {f"ucr:{n}" for n in FIVE}


def test_a_class_with_one_series_stays_in_train():
    from neurorec.data.ucr import _val_indices

    y = np.array([0] * 10 + [1] * 10 + [2])
    tr, va = _val_indices(y, 0, 0.2)
    assert 20 in tr and set(y[va].tolist()) == {0, 1} and len(set(tr) | set(va)) == 21
    assert not set(tr) & set(va)
