"""Classical Hopfield network against theory: capacity of each rule, energy, fixed points."""

import numpy as np
import pytest

from neurorec.models.hopfield import Hopfield

N = 200


def _patterns(P, seed=0):
    return np.where(np.random.default_rng(seed).random((P, N)) < 0.5, -1.0, 1.0)


def _noisy(X, frac=0.1, seed=1):
    rng = np.random.default_rng(seed)
    flip = np.zeros(X.shape, bool)
    for row in flip:
        row[rng.choice(N, int(frac * N), replace=False)] = True
    return np.where(flip, -X, X)


def _overlap(a, b):
    return (a * b).mean(1)


@pytest.mark.parametrize("rule,alpha,ok", [
    ("hebbian", 0.05, True), ("hebbian", 0.25, False),      # breaks down near alpha = 0.138
    ("storkey", 0.2, True), ("storkey", 0.45, False),       # capacity N / sqrt(2 ln N) = 61 (alpha 0.31)
    ("pseudoinverse", 0.3, True),    # beyond both: every P <= N is a fixed point; basins shrink as P -> N
])
def test_recall_from_cues_with_10_percent_flipped_bits(rule, alpha, ok):
    X = _patterns(int(alpha * N))
    m = Hopfield(rule=rule, seed=0).fit(X)
    states, steps = m.recall(_noisy(X))
    quality = _overlap(states, X).mean()
    if ok:
        assert quality > 0.98
    else:
        assert quality < 0.9


def test_pseudoinverse_stores_exact_fixed_points_and_hebbian_patterns_are_stable_at_low_load():
    X = _patterns(150)
    m = Hopfield(rule="pseudoinverse").fit(X)
    np.testing.assert_allclose(m.W_ @ X.T, X.T, atol=1e-9)
    states, steps = m.recall(X)
    np.testing.assert_array_equal(states, X)
    assert (steps == 0).all()


def test_energy_never_increases_under_asynchronous_updates():
    X = _patterns(20)
    m = Hopfield(rule="hebbian", max_steps=1, seed=0).fit(X)
    s = _noisy(X, 0.3)
    e = [m.energy(s)]
    for k in range(6):
        s, _ = m.set_params(seed=k).recall(s)
        e.append(m.energy(s))
    e = np.array(e)
    assert (np.diff(e, axis=0) <= 1e-9).all()
    assert (e[-1] < e[0]).all()


def test_synchronous_updates_can_end_in_a_two_cycle():
    W_pattern = np.array([[1.0, -1.0]])
    m = Hopfield(rule="hebbian", update="sync", max_steps=10).fit(W_pattern)
    # W = [[0, -0.5], [-0.5, 0]]: from (1, 1) both units flip every update
    states, steps = m.recall(np.array([[1.0, 1.0]]))
    assert steps[0] == 10
    a = Hopfield(rule="hebbian", update="async", seed=0).fit(W_pattern)
    assert a.recall(np.array([[1.0, 1.0]]))[1][0] == 1


def test_zero_one_patterns_are_recalled_as_zero_one():
    X = (_patterns(5) + 1) / 2
    m = Hopfield(seed=0).fit(X)
    out = m.predict(_noisy(X * 2 - 1) / 2 + 0.5)
    assert set(np.unique(out)) <= {0.0, 1.0}
    np.testing.assert_array_equal(out, X)


def test_numpy_and_torch_backends_recall_the_same_states():
    pytest.importorskip("torch")
    X = _patterns(30)
    cues = _noisy(X, 0.2)
    for rule in ("hebbian", "storkey", "pseudoinverse"):
        for update in ("async", "sync"):
            a = Hopfield(rule=rule, update=update, seed=3, dtype="float64").fit(X).recall(cues)
            b = Hopfield(rule=rule, update=update, seed=3, dtype="float64", backend="torch").fit(X).recall(cues)
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


def test_save_load_round_trip(tmp_path):
    X = _patterns(10)
    m = Hopfield(rule="storkey", seed=0).fit(X)
    m.save(tmp_path / "h.safetensors")
    loaded = Hopfield.load(tmp_path / "h.safetensors")
    np.testing.assert_array_equal(loaded.recall(_noisy(X))[0], m.recall(_noisy(X))[0])


@pytest.mark.parametrize("kwargs,X,match", [
    ({"rule": "oja"}, _patterns(3), "rule"),
    ({"update": "random"}, _patterns(3), "update"),
    ({"max_steps": 0}, _patterns(3), "max_steps"),
    ({}, np.full((2, N), 0.5), "binary patterns"),
    ({}, np.zeros((2, 0)), "at least one unit"),
    ({}, np.full((2, N), np.nan), "NaN"),
])
def test_bad_input(kwargs, X, match):
    with pytest.raises(ValueError, match=match):
        Hopfield(**kwargs).fit(X)


def test_cue_of_the_wrong_size_and_unfitted_recall():
    from neurorec.base import NotFittedError

    with pytest.raises(NotFittedError):
        Hopfield().recall(_patterns(1))
    m = Hopfield().fit(_patterns(3))
    with pytest.raises(ValueError, match="network has 200"):
        m.recall(np.ones((1, 10)))


def test_recall_leaves_the_cues_untouched():
    X = _patterns(10)
    cues = _noisy(X)
    kept = cues.copy()
    Hopfield(seed=0, dtype="float64").fit(X).recall(cues)
    np.testing.assert_array_equal(cues, kept)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_check_model(backend):
    pytest.importorskip("torch")
    from neurorec.testing import check_model

    check_model(Hopfield(seed=0), backend=backend)
