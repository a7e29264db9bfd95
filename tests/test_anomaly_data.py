"""Anomaly-detection data (issue 17): the detect layout, KDD-TSAD 135, the synthetic benchmark
(determinism, one confined anomaly, subtlety), bad input and the UCR archive's file format."""

from __future__ import annotations

import os
import pickle
import warnings

import numpy as np
import pytest

from neurorec.data import (
    ANOMALY_BENCHMARK,
    AnomalyInTrainingWarning,
    anomaly_benchmark,
    anomaly_ranges,
    get_task,
    list_tasks,
    load_ucr_anomaly,
    make_anomaly_series,
    make_detect_task_data,
    save_ucr_format,
)
from neurorec.data.anomaly import ANOMALY_KINDS, BASES, COMPATIBLE, MARGIN, _extreme_index

PAIRS = [(b, k) for k in ANOMALY_KINDS for b in BASES if b in COMPATIBLE[k]]


@pytest.fixture(scope="module")
def bench0():
    return anomaly_benchmark(0)


# --------------------------------------------------------------------------------------------
# labels and the detect layout
# --------------------------------------------------------------------------------------------

def test_anomaly_ranges():
    assert anomaly_ranges([0, 1, 1, 0, 0, 1]) == [(1, 3), (5, 6)]
    assert anomaly_ranges(np.zeros(5)) == []
    assert anomaly_ranges(np.ones((1, 4), np.int8)) == [(0, 4)]
    assert anomaly_ranges([True, False, True]) == [(0, 1), (2, 3)]
    with pytest.raises(ValueError, match=r"labels must be binary.*\[2\]"):
        anomaly_ranges([0, 2, 1])


def test_detect_layout_of_any_series():
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (300, 2))
    labels = np.zeros(300, int)
    labels[250:260] = 1
    d = make_detect_task_data(X, labels, 100)
    assert d.val is None and d.y_scaler is None and d.n_outputs == 2
    assert d.train.X.shape == (1, 100, 2) and d.train.X.dtype == np.float32
    assert d.train.y is None and d.train.skip == 0
    assert d.test.X.shape == (1, 300, 2) and d.test.X.dtype == np.float32
    assert d.test.y.shape == (1, 300) and d.test.y.dtype == np.int8 and d.test.skip == 100
    np.testing.assert_array_equal(d.test.X[:, :100], d.train.X)
    # scaler fitted on the prefix only
    np.testing.assert_allclose(d.x_scaler.mean_, X[:100].mean(0))
    np.testing.assert_allclose(d.test.X[0], (X - X[:100].mean(0)) / X[:100].std(0), rtol=1e-5,
                               atol=1e-5)
    # a 1-D series is one channel
    assert make_detect_task_data(X[:, 0], labels, 100).test.X.shape == (1, 300, 1)


def test_task_score_drops_the_prefix():
    task = get_task("anomaly:periodic-spike")
    d = task.load(0)
    a, b = anomaly_ranges(d.test.y[0])[0]
    perfect = d.test.y[0].astype(float)
    perfect[:d.test.skip] = 10.0            # the prefix is not scored: huge scores there are ignored
    from neurorec.metrics import get_metric

    assert task.score(d.test, perfect[None]) == get_metric("range_pr_auc")(
        d.test.y[0, d.test.skip:], perfect[d.test.skip:])
    hit = get_metric("ucr_hit")
    assert hit(d.test.y[0, d.test.skip:], perfect[d.test.skip:]) == 1.0


# --------------------------------------------------------------------------------------------
# KDD-TSAD 135
# --------------------------------------------------------------------------------------------

def test_kdd_tsad_135_layout():
    pytest.importorskip("aeon")
    from aeon.datasets import load_kdd_tsad_135

    task = get_task("kdd_tsad_135")
    assert "kdd_tsad_135" in list_tasks(ucr=False)
    assert task.kind == "detect" and task.metric == "range_pr_auc"
    d = task.load(0)
    assert d.train.X.shape == (1, 1200, 1) and d.test.X.shape == (1, 7501, 1)
    assert d.test.skip == 1200 and d.val is None
    assert anomaly_ranges(d.test.y[0]) == [(4187, 4199)]
    # scaler fitted on the prefix only: the scaled prefix is standardised, the rest is not
    assert abs(d.train.X.mean()) < 1e-4 and abs(d.train.X.std() - 1) < 1e-4
    X, _ = load_kdd_tsad_135()
    np.testing.assert_allclose(d.x_scaler.mean_, [X[:1200].mean()])
    assert abs(d.test.X[0, 1200:].mean()) > 0.05
    # the seed does not change the recorded series
    np.testing.assert_array_equal(task.load(3).test.X, d.test.X)


# --------------------------------------------------------------------------------------------
# the synthetic generator
# --------------------------------------------------------------------------------------------

def test_benchmark_covers_every_base_and_kind_and_registers_its_tasks():
    assert len(ANOMALY_BENCHMARK) == len(set(ANOMALY_BENCHMARK)) == 12
    assert {b for b, _ in ANOMALY_BENCHMARK} == set(BASES)
    assert {k for _, k in ANOMALY_BENCHMARK} == set(ANOMALY_KINDS)
    assert all(b in COMPATIBLE[k] for b, k in ANOMALY_BENCHMARK)
    names = list_tasks(ucr=False)
    for b, k in ANOMALY_BENCHMARK:
        name = f"anomaly:{b}-{k}"
        assert name in names
        task = get_task(name)
        assert task.kind == "detect" and task.metric == "range_pr_auc" and task.name == name
        assert get_task(name, **task.spec()["params"]).spec() == task.spec()
    assert pickle.loads(pickle.dumps(get_task("anomaly:ecg-shape"))).spec() == \
        get_task("anomaly:ecg-shape").spec()
    with pytest.raises(ValueError, match="unknown parameter"):
        get_task("anomaly:ecg-shape", base="gait")


def test_task_data_equals_the_generated_series():
    s = make_anomaly_series("gait", "frequency", seed=4)
    d = get_task("anomaly:gait-frequency").load(4)
    np.testing.assert_array_equal(d.test.y[0], s.labels)
    assert d.test.skip == s.train_length == 1500 and d.train.X.shape == (1, 1500, 1)
    np.testing.assert_allclose(d.x_scaler.inverse_transform(d.test.X[0]), s.X, rtol=1e-5,
                               atol=1e-5)


def test_determinism_and_seeds():
    for b, k in (("ecg", "shape"), ("multichannel", "level_shift"), ("mackey_glass", "spike")):
        s1 = make_anomaly_series(b, k, seed=7)
        s2 = make_anomaly_series(b, k, seed=7)
        s3 = make_anomaly_series(b, k, seed=8)
        np.testing.assert_array_equal(s1.X, s2.X)
        np.testing.assert_array_equal(s1.labels, s2.labels)
        assert s1.anomaly == s2.anomaly and s1.channels == s2.channels
        assert s1.X.shape == s3.X.shape and not np.allclose(s1.X, s3.X)
        assert s1.anomaly != s3.anomaly


@pytest.mark.parametrize("base,kind", PAIRS)
def test_one_confined_anomaly_in_the_allowed_region(base, kind):
    for seed in (0, 1):
        s = make_anomaly_series(base, kind, seed=seed)
        clean = make_anomaly_series(base, None, seed=seed)
        F = 3 if base == "multichannel" else 1
        assert s.X.shape == (4000, F) and s.X.dtype == np.float64 and s.labels.dtype == np.int8
        assert s.base == base and s.kind == kind and s.name == f"{base}-{kind}"
        assert clean.anomaly is None and not clean.labels.any()
        ranges = anomaly_ranges(s.labels)
        assert ranges == [s.anomaly]
        a, b = s.anomaly
        assert s.train_length + MARGIN <= a < b <= 4000 - MARGIN
        assert not a <= _extreme_index(s.X) < b                # the subtlety rule
        # the anomaly changes the series in its range, by much more than the noise, and
        # nowhere else (bit for bit)
        diff = np.abs(s.X - clean.X)
        assert diff[:a].max() == 0 and diff[b:].max() == 0
        assert diff[a:b].max() > 0.25 * clean.X[:s.train_length].std()
        assert diff[a:b].max() > 3 * np.abs(np.diff(clean.X[:s.train_length], axis=0)).mean() / 2
        # only the channels named carry it
        other = [c for c in range(F) if c not in s.channels]
        assert s.channels and diff[:, other].max(initial=0) == 0


def test_subtle_rule_and_its_enforcement(bench0):
    """Rule: the point of largest |X - median| / std (over channels) is never in the anomaly."""
    for name, s in bench0:
        a, b = s.anomaly
        assert not a <= _extreme_index(s.X) < b, name
        # and without the rule, the spike is still inside the normal range (it is placed where the
        # signal is near its median): it never makes the most extreme point
    for seed in range(3):
        s = make_anomaly_series("ecg", "spike", seed=seed, subtle=False)
        assert not s.anomaly[0] <= _extreme_index(s.X) < s.anomaly[1]
    # a blatant anomaly cannot be subtle: clear error; subtle=False builds it
    with pytest.raises(ValueError, match="subtle=False"):
        make_anomaly_series("periodic", "level_shift", seed=0, magnitude=10)
    s = make_anomaly_series("periodic", "level_shift", seed=0, magnitude=10, subtle=False)
    assert s.anomaly[0] <= _extreme_index(s.X) < s.anomaly[1]


def test_benchmark_is_the_generator(bench0):
    assert [n for n, _ in bench0] == [f"{b}-{k}" for b, k in ANOMALY_BENCHMARK]
    name, s = bench0[3]
    np.testing.assert_array_equal(s.X, make_anomaly_series(*name.split("-"), seed=0).X)


def test_magnitude_scales_the_anomaly():
    small = make_anomaly_series("ecg", "level_shift", seed=2, magnitude=0.5)
    full = make_anomaly_series("ecg", "level_shift", seed=2)
    clean = make_anomaly_series("ecg", None, seed=2)
    a, b = small.anomaly
    ds = (small.X - clean.X)[a:b]
    assert np.ptp(ds) < 1e-12 and abs(ds[0, 0]) > 0
    a, b = full.anomaly
    df = (full.X - clean.X)[a:b]
    assert abs(df[0, 0]) == pytest.approx(2 * abs(ds[0, 0]))
    # missing_beat with magnitude 0.5 keeps half the beat
    half = make_anomaly_series("ecg", "missing_beat", seed=2, magnitude=0.5)
    a, b = half.anomaly
    assert np.abs(half.X - clean.X)[a:b].max() > 0.3


def test_generator_bad_arguments():
    with pytest.raises(ValueError, match="base must be one of"):
        make_anomaly_series("sine", "spike")
    with pytest.raises(ValueError, match="anomaly must be one of"):
        make_anomaly_series("ecg", "drift")
    with pytest.raises(ValueError, match="quasi-periodic"):
        make_anomaly_series("mackey_glass", "missing_beat")
    with pytest.raises(ValueError, match="length must be at least"):
        make_anomaly_series("ecg", "spike", length=2000, train_length=1500)
    with pytest.raises(ValueError, match="magnitude"):
        make_anomaly_series("ecg", "spike", magnitude=0)
    with pytest.raises(ValueError, match="seed"):
        make_anomaly_series("ecg", "spike", seed=-1)


# --------------------------------------------------------------------------------------------
# bad input to make_detect_task_data
# --------------------------------------------------------------------------------------------

def test_nan_and_inf_refused_with_positions_or_imputed():
    x = np.sin(np.arange(500) / 5.0)
    labels = np.zeros(500, np.int8)
    labels[400:410] = 1
    x[[10, 11, 300]] = np.nan
    x[450] = np.inf
    with pytest.raises(ValueError, match=r"4 NaN or infinite.*\[10, 11, 300, 450\].*impute='linear'"):
        make_detect_task_data(x, labels, 200)
    X2 = np.stack([np.arange(500.0), np.arange(500.0)], 1)
    X2[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"\(time, channel\) \[\(7, 1\)\]"):
        make_detect_task_data(X2, labels, 200)
    d = make_detect_task_data(X2, labels, 200, impute="linear")
    back = d.x_scaler.inverse_transform(d.test.X[0])
    assert back[7, 1] == pytest.approx(7.0, abs=1e-3)          # linear between 6 and 8
    d = make_detect_task_data(x, labels, 200, impute="linear")
    assert np.isfinite(d.test.X).all()
    with pytest.raises(ValueError, match="impute must be None or 'linear'"):
        make_detect_task_data(x, labels, 200, impute="mean")
    all_nan = np.full((500, 1), np.nan)
    with pytest.raises(ValueError, match="no finite value"):
        make_detect_task_data(all_nan, labels, 200, impute="linear")


def test_anomaly_in_the_training_prefix_warns_with_positions():
    x = np.random.default_rng(0).normal(size=500)
    labels = np.zeros(500, np.int8)
    labels[50:60] = 1
    labels[400:410] = 1
    with pytest.warns(AnomalyInTrainingWarning, match=r"\[\(50, 60\)\]"):
        d = make_detect_task_data(x, labels, 200)
    assert issubclass(AnomalyInTrainingWarning, UserWarning)
    assert d.test.y.sum() == 20
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_detect_task_data(x, np.roll(labels, 300), 200)


def test_bad_lengths_and_labels():
    x = np.zeros((100, 2))
    lab = np.zeros(100)
    with pytest.raises(ValueError, match=r"train_length.*2 <= train_length < 100.*got 1"):
        make_detect_task_data(x, lab, 1)
    with pytest.raises(ValueError, match=r"train_length.*got 100"):
        make_detect_task_data(x, lab, 100)
    with pytest.raises(ValueError, match=r"train_length.*got 50.0"):
        make_detect_task_data(x, lab, 50.0)
    with pytest.raises(ValueError, match=r"labels must have one label per time step: expected "
                                         r"length 100.*got 99"):
        make_detect_task_data(x, lab[:99], 50)
    bad = lab.copy()
    bad[5] = 0.5
    with pytest.raises(ValueError, match=r"labels must be binary.*\[0.5\].*index 5"):
        make_detect_task_data(x, bad, 50)
    with pytest.raises(ValueError, match=r"labels must be binary.*nan"):
        make_detect_task_data(x, np.full(100, np.nan), 50)
    with pytest.raises(ValueError, match=r"X must be one series.*\(2, 50, 2\)"):
        make_detect_task_data(np.zeros((2, 50, 2)), lab, 50)
    with pytest.raises(ValueError, match="X must hold"):
        make_detect_task_data(np.array(["a"] * 100, dtype=object), lab, 50)


# --------------------------------------------------------------------------------------------
# UCR archive files
# --------------------------------------------------------------------------------------------

def test_ucr_format_round_trip(tmp_path):
    s = make_anomaly_series("multichannel", "shape", seed=1)
    path = save_ucr_format(s, tmp_path / "ucr", 7)
    a, b = s.anomaly
    assert os.path.basename(path) == f"007_UCR_Anomaly_MultichannelShape_1500_{a}_{b}.txt"
    assert sorted(os.listdir(tmp_path / "ucr")) == [os.path.basename(path)]   # no temp file left
    back = load_ucr_anomaly(path)
    np.testing.assert_array_equal(back.X, s.X)                 # exact (%.17g)
    np.testing.assert_array_equal(back.labels, s.labels)
    assert back.train_length == 1500 and back.anomaly == s.anomaly
    assert back.base == "MultichannelShape" and back.kind is None
    with open(path) as fh:
        assert len(fh.readline().split()) == 3                 # one step per line
    u = make_anomaly_series("ecg", "missing_beat", seed=0)
    back = load_ucr_anomaly(save_ucr_format(u, tmp_path, 12, name="my_ecg-1"))
    assert back.X.shape == (4000, 1) and back.base == "my_ecg-1" and back.anomaly == u.anomaly
    # all the values on one line (a few archive files): one univariate series
    one = tmp_path / "001_UCR_Anomaly_Flat_3_4_6.txt"
    one.write_text("1 2 3 4 5 6 7 8\n")
    back = load_ucr_anomaly(one)
    assert back.X.shape == (8, 1) and anomaly_ranges(back.labels) == [(4, 6)]


def test_ucr_format_convention_reproduces_aeons_kdd_135(tmp_path):
    pytest.importorskip("aeon")
    from neurorec.data import kdd_tsad_135

    s = kdd_tsad_135()
    path = save_ucr_format(s, tmp_path, 135, name="InternalBleeding16")
    # the archive's own file name for this series
    assert os.path.basename(path) == "135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt"
    back = load_ucr_anomaly(path)
    np.testing.assert_array_equal(back.labels, s.labels)
    assert np.flatnonzero(back.labels).tolist() == list(range(4187, 4199))


def test_ucr_format_errors(tmp_path):
    s = make_anomaly_series("ecg", "spike", seed=0)
    clean = make_anomaly_series("ecg", None, seed=0)
    with pytest.raises(ValueError, match="exactly one anomaly range; series.labels has 0"):
        save_ucr_format(clean, tmp_path, 1)
    with pytest.raises(ValueError, match="name must be"):
        save_ucr_format(s, tmp_path, 1, name="a/b")
    with pytest.raises(ValueError, match="index"):
        save_ucr_format(s, tmp_path, -1)
    assert os.listdir(tmp_path) == []                          # nothing half-written
    bad = tmp_path / "series.txt"
    bad.write_text("1\n2\n")
    with pytest.raises(ValueError, match="not a UCR anomaly archive file name"):
        load_ucr_anomaly(bad)
    short = tmp_path / "002_UCR_Anomaly_Short_2_5_9.txt"
    short.write_text("\n".join(["1"] * 6) + "\n")
    with pytest.raises(ValueError, match="do not fit a series of 6 points"):
        load_ucr_anomaly(short)


def test_daphnet_is_unlabelled_raw_data():
    pytest.importorskip("aeon")
    from neurorec.data import daphnet_s06r02e0

    X = daphnet_s06r02e0()
    assert X.shape == (7040, 9) and X.dtype == np.float64 and np.isfinite(X).all()
    assert X[0, :3].tolist() == [101.0, 1000.0, 297.0]
    assert not any(t.startswith("daphnet") for t in list_tasks(ucr=False))
