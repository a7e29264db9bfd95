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
    with pytest.raises(ValueError, match="10 units but the memory has 200"):
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


# ---------------------------------------------------------------- recall-task layout: fit(X, y), 3-d
def _cued(X, repeats=(3, 1, 5), seed=2):
    """Noisy cues of the patterns X, pattern k repeated repeats[k % 3] times, and their targets."""
    idx = np.concatenate([[k] * repeats[k % len(repeats)] for k in range(len(X))])
    rng = np.random.default_rng(seed).permutation(len(idx))
    y = X[idx[rng]]
    return _noisy(y, 0.1, seed), y


@pytest.mark.parametrize("cls", ["Hopfield", "ModernHopfield", "DenseAssociativeMemory"])
def test_fit_with_targets_stores_each_distinct_target_once(cls):
    from neurorec.models import hopfield

    X = _patterns(8)
    cues, y = _cued(X)
    m = getattr(hopfield, cls)(**({} if cls == "ModernHopfield" else {"seed": 0})).fit(cues, y)
    stored = m.W_ if cls == "Hopfield" else m.patterns_
    # the patterns of y, each once, in order of first occurrence: repeats do not weigh more
    _, first = np.unique(y, axis=0, return_index=True)
    ref = getattr(hopfield, cls)(**({} if cls == "ModernHopfield" else {"seed": 0})).fit(y[np.sort(first)])
    np.testing.assert_array_equal(stored, ref.W_ if cls == "Hopfield" else ref.patterns_)
    if cls == "Hopfield":
        assert m.n_patterns_ == 8
        # storing the cues themselves (y=None) is a different memory
        assert Hopfield().fit(cues).n_patterns_ == len(cues)
    else:
        assert len(m.patterns_) == 8
    with pytest.raises(ValueError, match="same number of patterns"):
        getattr(hopfield, cls)().fit(cues[:-1], y)
    with pytest.raises(ValueError, match="units but the memory has"):
        getattr(hopfield, cls)().fit(cues[:, :-1], y)


@pytest.mark.parametrize("cls", ["Hopfield", "ModernHopfield", "DenseAssociativeMemory"])
def test_patterns_given_as_rows_by_cols_are_flattened_and_given_back_in_that_shape(cls):
    from neurorec.models import hopfield

    X = _patterns(10)
    cues = _noisy(X, 0.1)
    m2 = getattr(hopfield, cls)(**({"beta": 0.5} if cls == "ModernHopfield" else {"seed": 0}))
    m3 = m2.clone()
    m2.fit(X)
    m3.fit(X.reshape(10, 20, 10))
    assert m3.n_features_in_ == N
    states, steps = m3.recall(cues.reshape(10, 20, 10))
    assert states.shape == (10, 20, 10) and steps.shape == (10,)
    ref_states, ref_steps = m2.recall(cues)
    np.testing.assert_array_equal(states.reshape(10, N), ref_states)
    np.testing.assert_array_equal(steps, ref_steps)
    np.testing.assert_array_equal(m3.predict(cues.reshape(10, 20, 10)), states)
    np.testing.assert_allclose(m3.energy(cues.reshape(10, 20, 10)), m2.energy(cues))
    # flat cues still give flat states, and one cue one state
    assert m3.predict(cues).shape == (10, N) and m3.predict(cues[0]).shape == (N,)
    with pytest.raises(ValueError, match="rows \\* cols = 200"):
        m3.predict(np.ones((2, 10, 10)))
    with pytest.raises(ValueError, match="at least one unit"):
        m3.predict(np.ones((2, 0, 10)))


# ---------------------------------------------------------------- modern and dense memories
def test_modern_hopfield_retrieves_2000_patterns_in_64_dimensions_in_one_step():
    """Ramsauer et al. (2020): exponential capacity, one-step retrieval with a small error."""
    from neurorec.models.hopfield import ModernHopfield

    rng = np.random.default_rng(0)
    X = np.where(rng.random((2000, 64)) < 0.5, -1.0, 1.0)
    cue = X[:200].copy()
    cue[rng.random(cue.shape) < 0.1] *= -1
    m = ModernHopfield(beta=1.0).fit(X)
    states, steps = m.recall(cue)
    assert (steps == 1).all()
    assert np.abs(states - X[:200]).max() < 0.01  # measured 0.005
    assert (m.energy(states) <= m.energy(cue)).all()
    # too hot: the softmax spreads over many patterns and the retrieval is a mixture
    hot = ModernHopfield(beta=0.1).fit(X).recall(cue)[0]
    assert np.mean(np.all(np.sign(hot) == X[:200], axis=1)) < 0.5


def test_modern_hopfield_energy_never_increases_and_the_iteration_converges():
    from neurorec.models.hopfield import ModernHopfield

    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 20))
    m = ModernHopfield(beta=1.0, max_steps=1).fit(X)
    s = rng.normal(size=(10, 20))
    energies = [m.energy(s)]
    for _ in range(20):
        s = m.recall(s)[0]
        energies.append(m.energy(s))
    assert (np.diff(np.array(energies), axis=0) <= 1e-9).all()
    settled, steps = m.set_params(max_steps=500, tol=1e-10).recall(s)
    assert (steps < 500).all()
    np.testing.assert_allclose(m.set_params(max_steps=1).recall(settled)[0], settled, atol=1e-8)


def test_modern_hopfield_backends_agree():
    pytest.importorskip("torch")
    from neurorec.models.hopfield import ModernHopfield

    X = np.random.default_rng(2).normal(size=(100, 16))
    cues = X[:10] + 0.3
    a = ModernHopfield(beta=2.0, max_steps=3, dtype="float64").fit(X).recall(cues)
    b = ModernHopfield(beta=2.0, max_steps=3, dtype="float64", backend="torch").fit(X).recall(cues)
    np.testing.assert_allclose(a[0], b[0], atol=1e-12)
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("interaction", ["polynomial", "exponential"])
def test_dense_memory_recalls_beyond_the_classical_capacity(interaction):
    """Krotov & Hopfield (2016): at alpha = 0.4 (N = 100) the classical network fails and the
    dense memories (cubic, exponential) recall every pattern from 10 % flipped cues."""
    from neurorec.models.hopfield import DenseAssociativeMemory

    rng = np.random.default_rng(0)
    X = np.where(rng.random((40, 100)) < 0.5, -1.0, 1.0)
    cue = X.copy()
    cue[rng.random(cue.shape) < 0.1] *= -1
    assert (Hopfield(seed=0).fit(X).recall(cue)[0] * X).mean() < 0.7  # measured 0.50
    m = DenseAssociativeMemory(interaction=interaction, degree=3, seed=0).fit(X)
    states, _ = m.recall(cue)
    np.testing.assert_array_equal(states, X)
    assert (m.energy(states) <= m.energy(cue)).all()


def test_dense_memory_of_degree_two_is_the_classical_network():
    from neurorec.models.hopfield import DenseAssociativeMemory

    X = _patterns(10)
    cues = _noisy(X, 0.2)
    a = DenseAssociativeMemory(degree=2, seed=4).fit(X).recall(cues)[0]
    b = Hopfield(seed=4, dtype="float64").fit(X).recall(cues)[0]
    np.testing.assert_array_equal(a, b)


def test_dense_memory_backends_agree_and_bad_parameters_fail():
    pytest.importorskip("torch")
    from neurorec.models.hopfield import DenseAssociativeMemory, ModernHopfield

    X = _patterns(30)[:, :60]
    cues = _noisy(np.hstack([X, X, X, X])[:, :N], 0.1)[:, :60]
    a = DenseAssociativeMemory(seed=1).fit(X).recall(cues)
    b = DenseAssociativeMemory(seed=1, backend="torch").fit(X).recall(cues)
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="degree"):
        DenseAssociativeMemory(degree=1).fit(X)
    with pytest.raises(ValueError, match="interaction"):
        DenseAssociativeMemory(interaction="cosine").fit(X)
    with pytest.raises(ValueError, match="beta"):
        ModernHopfield(beta=0.0).fit(X)


# ---------------------------------------------------------------- torch layers
def test_hopfield_layers_match_the_model_and_learn():
    torch = pytest.importorskip("torch")
    from neurorec.models.hopfield import ModernHopfield
    from neurorec.models.hopfield_layers import HopfieldLookup, HopfieldPooling

    X = np.random.default_rng(0).normal(size=(30, 8))
    cues = X[:5] + 0.2
    ref = ModernHopfield(beta=2.0, max_steps=2, tol=0.0, dtype="float64").fit(X).recall(cues)[0]
    layer = HopfieldLookup(30, 8, beta=2.0, steps=2, patterns=torch.from_numpy(X))
    np.testing.assert_allclose(layer(torch.from_numpy(cues)).detach().numpy(), ref, atol=1e-12)

    # pooling ignores padded steps, and a pooled classifier learns which step holds the signal
    torch.manual_seed(0)
    pool = HopfieldPooling(4, n_queries=1, beta=4.0, learn_beta=True)
    x = torch.randn(3, 6, 4)
    padded = torch.cat([x, torch.full((3, 2, 4), 100.0)], dim=1)
    np.testing.assert_allclose(pool(padded, torch.tensor([6, 6, 6])).detach().numpy(),
                               pool(x).detach().numpy(), atol=1e-6)
    head = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam([*pool.parameters(), *head.parameters()], lr=0.05)
    gen = torch.Generator().manual_seed(1)
    xs = torch.randn(256, 6, 4, generator=gen)
    ys = (xs[:, :, 0].max(1).values > 1.2).long()
    for _ in range(200):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(head(pool(xs)[:, 0]), ys)
        loss.backward()
        opt.step()
    acc = (head(pool(xs)[:, 0]).argmax(1) == ys).float().mean().item()
    assert acc > 0.85
    assert pool.log_beta.grad is not None


# ---------------------------------------------------------------- issue 13: overflow, ties, dtypes
BACKENDS = ["numpy", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_modern_hopfield_never_returns_nan_for_a_huge_beta_or_huge_inputs(backend, dtype):
    if backend == "torch":
        pytest.importorskip("torch")
    from neurorec.models.hopfield import ModernHopfield

    rng = np.random.default_rng(0)
    P = rng.standard_normal((5, 16))
    cues = P + 0.1 * rng.standard_normal(P.shape)
    # beta = 1e308: the softmax is the nearest pattern (was all-NaN)
    m = ModernHopfield(beta=1e308, backend=backend, dtype=dtype).fit(P)
    np.testing.assert_allclose(m.predict(cues), P, atol=1e-5)
    assert np.isfinite(m.energy(cues)).all()
    # huge inputs: refused with a message when the dtype cannot hold them, else answered
    if dtype == "float32":
        with pytest.raises(ValueError, match=r"cues holds values up to 2.*float32"):
            ModernHopfield(backend=backend, dtype=dtype).fit(P).predict(P * -1e39)
        with pytest.raises(ValueError, match=r"X holds values .*float32"):
            ModernHopfield(backend=backend, dtype=dtype).fit(P * 1e39)
        with pytest.raises(ValueError, match=r"overlaps .* overflow float32"):
            ModernHopfield(backend=backend, dtype=dtype).fit(P * 1e20).predict(P * 1e20)
    else:
        out = ModernHopfield(backend=backend, dtype=dtype).fit(P).predict(P * -1e39)
        assert np.isfinite(out).all()           # the pattern most aligned with each cue
        np.testing.assert_array_equal(out, P[np.argmax(-(P @ P.T), axis=1)])
    # a grid of scales and temperatures: a finite answer or a ValueError, never NaN
    for beta in (1e-300, 1.0, 1e30, 1e308):
        for scale in (1e-30, 1.0, 1e15, 1e30):
            try:
                out = ModernHopfield(beta=beta, max_steps=3, backend=backend, dtype=dtype).fit(P * scale)
                out = out.predict(cues * scale)
            except ValueError:
                continue
            assert np.isfinite(out).all(), (beta, scale)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_memory_recalls_in_float32_without_underflow_or_overflow(dtype):
    """exp(x - N) underflowed to 0 in float32 (cues stuck: 15 % recalled) and x ** 40 overflowed
    to inf (NaN states); both are now scaled by the largest term of each cue."""
    from neurorec.models.hopfield import DenseAssociativeMemory

    rng = np.random.default_rng(1)
    xi = rng.choice([-1.0, 1.0], (20, N))
    cues = np.where(rng.random(xi.shape) < 0.3, -xi, xi)
    for kw in ({"interaction": "exponential"}, {"degree": 40}):
        out = DenseAssociativeMemory(dtype=dtype, seed=0, **kw).fit(xi).predict(cues)
        np.testing.assert_array_equal(out, xi)


def _tie_case():
    """10 random patterns of 125 units, cues with 20 % flipped bits, and the cue/unit pairs whose
    Hebbian field is exactly 0 in integer arithmetic (float32 rounds them to +-1e-8)."""
    rng = np.random.default_rng(0)
    xi = rng.choice([-1.0, 1.0], (10, 125))
    cues = np.where(rng.random(xi.shape) < 0.2, -xi, xi)
    Wn = xi.T @ xi                                   # N * W, exact integers
    np.fill_diagonal(Wn, 0.0)
    return xi, cues, cues @ Wn == 0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_zero_field_keeps_the_state_on_both_backends(dtype):
    pytest.importorskip("torch")
    xi, cues, tie = _tie_case()
    assert tie.sum() == 7
    out = {}
    for backend in BACKENDS:
        m = Hopfield(update="sync", max_steps=1, dtype=dtype, backend=backend).fit(xi)
        out[backend] = m.predict(cues)
        np.testing.assert_array_equal(out[backend][tie], cues[tie])   # ties keep their state
        expected = np.where(tie, cues, np.sign(cues @ (xi.T @ xi - 10 * np.eye(125))))
        np.testing.assert_array_equal(out[backend], expected)
    np.testing.assert_array_equal(out["numpy"], out["torch"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_backends_recall_the_same_states_in_float32_asynchronously(dtype):
    """The reproducer of issue 13: seed 17 disagreed by 1 bit of 125 in float32."""
    pytest.importorskip("torch")
    for seed in (17, 0, 3):
        rng = np.random.default_rng(seed)
        xi = rng.choice([-1.0, 1.0], (10, 125))
        cues = np.where(rng.random(xi.shape) < 0.2, -xi, xi)
        a = Hopfield(seed=0, dtype=dtype).fit(xi).recall(cues)
        b = Hopfield(seed=0, dtype=dtype, backend="torch").fit(xi).recall(cues)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def _memories():
    from neurorec.models.hopfield import DenseAssociativeMemory, ModernHopfield

    return {"Hopfield": Hopfield, "ModernHopfield": ModernHopfield, "DenseAssociativeMemory": DenseAssociativeMemory}


BAD_DTYPES = {
    "complex": lambda X: X.astype(np.complex128),
    "str": lambda X: X.astype(str),
    "bytes": lambda X: X.astype(bytes),
    # object arrays of real numbers (pandas) are accepted since issue 13; one holding a string is not
    "object": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 0, "a", X.astype(object)),
    "datetime64": lambda X: (X > 0).astype(np.int64).astype("datetime64[s]"),
    "timedelta64": lambda X: (X > 0).astype(np.int64).astype("timedelta64[s]"),
}


@pytest.mark.parametrize("kind", sorted(BAD_DTYPES))
@pytest.mark.parametrize("name", ["Hopfield", "ModernHopfield", "DenseAssociativeMemory"])
def test_non_numeric_patterns_and_cues_are_refused(name, kind):
    cls = _memories()[name]
    X = _patterns(4)[:, :30]
    bad = BAD_DTYPES[kind](X)
    fitted = cls().fit(X)
    calls = {"X": [lambda: cls().fit(bad), lambda: cls().fit(bad, X), lambda: fitted.predict(bad)],
             "y": [lambda: cls().fit(X, bad)],
             "cues": [lambda: fitted.recall(bad), lambda: fitted.recall(bad[0])],
             "states": [lambda: fitted.energy(bad)]}
    for arg, fns in calls.items():
        for call in fns:
            with pytest.raises(ValueError, match=rf"{arg} must hold real numbers.*got (dtype|an object array)"):
                call()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_follows_the_same_tie_rule_and_stable_softmax(dtype):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from neurorec.models.hopfield import DenseAssociativeMemory, ModernHopfield

    xi, cues, tie = _tie_case()
    for update in ("sync", "async"):
        a = Hopfield(update=update, seed=0, dtype=dtype).fit(xi).recall(cues)
        b = Hopfield(update=update, seed=0, dtype=dtype, backend="torch", device="cuda").fit(xi).recall(cues)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    P = np.random.default_rng(0).standard_normal((5, 16))
    out = ModernHopfield(beta=1e308, dtype=dtype, backend="torch", device="cuda").fit(P).predict(P + 0.01)
    np.testing.assert_allclose(out, P, atol=1e-5)
    rng = np.random.default_rng(1)
    X = rng.choice([-1.0, 1.0], (20, N))
    noisy = np.where(rng.random(X.shape) < 0.3, -X, X)
    for kw in ({"interaction": "exponential"}, {"degree": 40}):
        m = DenseAssociativeMemory(dtype=dtype, seed=0, backend="torch", device="cuda", **kw)
        np.testing.assert_array_equal(m.fit(X).predict(noisy), X)
