"""Hebbian learners against theory: Oja -> top eigenvector, Sanger -> top-k eigenvectors in order,
plain Hebb's unbounded growth, BCM selectivity, anti-Hebbian decorrelation; PCA on digits; and the
model contract (params, errors, save/load, backends, online vs batch)."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from neurorec.models.hebbian import BCM, AntiHebbian, Hebb, Oja, Sanger

LAMBDA = np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.4, 0.3, 0.2])


def _gaussian(n=5000, seed=0):
    """Samples with covariance Q diag(LAMBDA) Q^T (random rotation Q) and mean 3; the sample
    covariance's eigenvectors, largest first."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((LAMBDA.size, LAMBDA.size)))
    X = rng.standard_normal((n, LAMBDA.size)) * np.sqrt(LAMBDA) @ Q.T + 3.0
    _, E = np.linalg.eigh(np.cov(X.T))
    return X, E[:, ::-1].T


def _abs_cos(W, E):
    return np.abs(np.sum(W * E, 1)) / np.linalg.norm(W, axis=1) / np.linalg.norm(E, axis=1)


def test_oja_converges_to_unit_norm_top_eigenvector():
    X, E = _gaussian()
    m = Oja(lr=0.005, lr_decay=1e-3, epochs=3, seed=0).fit(X)       # measured: |cos| 0.9998, norm 1.0006
    w = m.components_[0]
    assert _abs_cos(w[None], E[:1])[0] > 0.99
    assert abs(np.linalg.norm(w) - 1.0) < 0.02


def test_sanger_rows_converge_to_top_k_eigenvectors_in_order():
    X, E = _gaussian()
    m = Sanger(n_components=3, lr=0.005, lr_decay=1e-3, epochs=3, seed=0).fit(X)  # measured >= 0.9997
    assert (_abs_cos(m.components_, E[:3]) > 0.99).all()
    np.testing.assert_allclose(np.linalg.norm(m.components_, axis=1), 1.0, atol=0.02)
    # transform = centred projection
    np.testing.assert_allclose(m.transform(X), (X - X.mean(0)) @ m.components_.T, atol=1e-10)


def test_oja_subspace_rule_spans_the_principal_subspace():
    X, E = _gaussian()
    m = Oja(n_components=3, lr=0.005, lr_decay=1e-3, epochs=3, seed=0).fit(X)
    Qw = np.linalg.qr(m.components_.T)[0]
    cosines = np.linalg.svd(Qw.T @ E[:3].T, compute_uv=False)       # principal angles' cosines
    assert cosines.min() > 0.99
    np.testing.assert_allclose(m.components_ @ m.components_.T, np.eye(3), atol=0.03)


def test_plain_hebb_norm_grows_without_bound_and_aligns_with_top_eigenvector():
    X, E = _gaussian()
    m = Hebb(lr=0.001, seed=0)
    norms = []
    for chunk in np.array_split(X, 5):
        m.partial_fit(chunk)
        norms.append(np.linalg.norm(m.components_[0]))
    assert (np.diff(np.log(norms)) > 1.0).all()                   # grows by > e per chunk
    assert norms[-1] > 1e6
    assert _abs_cos(m.components_, E[:1])[0] > 0.99

    n = Hebb(lr=0.001, normalize=True, seed=0).fit(X)
    assert abs(np.linalg.norm(n.components_[0]) - 1.0) < 1e-12
    assert _abs_cos(n.components_, E[:1])[0] > 0.99


def test_hebb_divergence_is_reported():
    X, _ = _gaussian(2000)
    with pytest.raises(FloatingPointError, match="lr"):
        Hebb(lr=1.0, seed=0).fit(X * 100)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bcm_becomes_selective_to_one_of_k_independent_inputs(seed):
    K = 5
    rng = np.random.default_rng(100 + seed)
    P = np.eye(K)
    X = P[rng.integers(0, K, 20000)] + 0.05 * rng.random((20000, K))
    m = BCM(n_components=3, lr=0.01, lr_decay=1e-3, tau_theta=50, seed=seed).fit(X)
    r = m.transform(P)                           # (K patterns, units)
    for unit in r.T:
        order = np.sort(np.abs(unit))[::-1]
        # the selective fixed point: y = K for one pattern (measured 4.47-5.13 over seeds 0-7) ...
        assert abs(order[0] - K) < 0.2 * K
        assert order[1] < 0.1 * order[0]         # ... and ~0 for the others (measured ratio <= 0.026)


def test_anti_hebbian_decorrelates_the_outputs():
    rng = np.random.default_rng(0)
    n = 5
    A = 0.5 * rng.standard_normal((n, n)) + np.eye(n)
    X = rng.standard_normal((4000, n)) @ A.T
    before = np.abs(np.corrcoef(X.T) - np.eye(n)).max()             # 0.70
    m = AntiHebbian(lr=0.05, epochs=100, batch_size=400, seed=0).fit(X)
    after = np.abs(np.corrcoef(m.transform(X).T) - np.eye(n)).max()  # measured 0.023
    assert before > 0.6 and after < 0.1
    np.testing.assert_allclose(m.lateral_, m.lateral_.T, atol=1e-12)
    np.testing.assert_array_equal(np.diag(m.lateral_), 0.0)


def test_sanger_and_oja_match_pca_on_digits():
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    D = StandardScaler().fit_transform(load_digits().data)
    k = 5
    pca = PCA(n_components=k).fit(D)
    s = Sanger(n_components=k, lr=0.01, lr_decay=1e-3, epochs=50, batch_size=10, seed=0).fit(D)
    # measured |cos| 0.9997-0.9999 per component (seed 0)
    assert (_abs_cos(s.components_, pca.components_) > 0.99).all()
    o = Oja(n_components=k, lr=0.01, lr_decay=1e-3, epochs=50, batch_size=10, seed=0).fit(D)
    cosines = np.linalg.svd(np.linalg.qr(o.components_.T)[0].T @ pca.components_.T, compute_uv=False)
    assert cosines.min() > 0.99                                       # measured 0.9996
    # the features are PCA's scores up to sign
    F, Z = s.transform(D), pca.transform(D)
    corr = [abs(np.corrcoef(F[:, i], Z[:, i])[0, 1]) for i in range(k)]
    assert min(corr) > 0.99


MODELS = [
    lambda **kw: Hebb(n_components=2, lr=1e-3, **kw),
    lambda **kw: Hebb(n_components=2, normalize=True, lr=1e-2, **kw),
    lambda **kw: Oja(n_components=2, lr=1e-2, lr_decay=1e-2, **kw),
    lambda **kw: Sanger(n_components=3, lr=1e-2, **kw),
    lambda **kw: BCM(n_components=2, lr=1e-4, tau_theta=20, **kw),
    lambda **kw: AntiHebbian(lr=1e-2, **kw),
]


@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize("batch_size", [1, 7])
def test_numpy_and_torch_agree(make, batch_size):
    pytest.importorskip("torch")
    X, _ = _gaussian(300, seed=1)
    X = X[:, :4]
    a = make(batch_size=batch_size, epochs=2, seed=3).fit(X)
    b = make(batch_size=batch_size, epochs=2, seed=3, backend="torch").fit(X)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("make", MODELS)
def test_torch_cuda_matches_numpy(make):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    X, _ = _gaussian(300, seed=1)
    X = X[:, :4]
    a = make(batch_size=7, epochs=2, seed=3).fit(X)
    b = make(batch_size=7, epochs=2, seed=3, backend="torch", device="cuda").fit(X)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.transform(X), b.transform(X), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("make", MODELS)
def test_partial_fit_matches_one_unshuffled_epoch(make):
    X, _ = _gaussian(200, seed=2)
    X = X[:, :4]
    a = make(shuffle=False, seed=0).fit(X)
    b = make(seed=0).partial_fit(X)
    np.testing.assert_allclose(a.components_, b.components_, rtol=1e-12, atol=1e-14)
    assert b.n_updates_ == 200 and b.n_samples_seen_ == 200
    # without centring, online chunks equal one pass
    c = make(center=False, seed=0).partial_fit(X[:120]).partial_fit(X[120:])
    d = make(center=False, seed=0).partial_fit(X)
    np.testing.assert_allclose(c.components_, d.components_, rtol=1e-12, atol=1e-14)
    # running mean over everything seen
    e = make(center=True, seed=0).partial_fit(X[:50]).partial_fit(X[50:])
    np.testing.assert_allclose(e.mean_, X.mean(0), atol=1e-12)


@pytest.mark.parametrize("make", MODELS)
def test_fit_is_reproducible_and_seed_matters(make):
    X, _ = _gaussian(200, seed=2)
    a = make(seed=5).fit(X).components_
    np.testing.assert_array_equal(a, make(seed=5).fit(X).components_)
    if not isinstance(make(), AntiHebbian):                          # zero initial lateral weights
        assert not np.allclose(a, make(seed=6).fit(X).components_)


def test_sequences_are_flattened_into_samples():
    X, _ = _gaussian(600, seed=3)
    S = X.reshape(20, 30, -1)
    a = Sanger(n_components=2, seed=0, shuffle=False).fit(S)
    b = Sanger(n_components=2, seed=0, shuffle=False).fit(X)
    np.testing.assert_array_equal(a.components_, b.components_)
    Z = a.transform(S)
    assert Z.shape == (20, 30, 2)
    np.testing.assert_allclose(Z.reshape(-1, 2), b.transform(X))


@pytest.mark.parametrize("make", MODELS)
def test_contract_clone_errors_and_save_load(make, tmp_path):
    X, _ = _gaussian(100, seed=4)
    m = make(seed=0)
    c = m.clone()
    assert type(c) is type(m) and c.get_params() == m.get_params()
    with pytest.raises(NotFittedError):
        m.transform(X)
    m.fit(X)
    assert not m.clone()._is_fitted()
    with pytest.raises(ValueError, match="features"):
        m.transform(X[:, :3])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.clone().fit(bad)
    with pytest.raises(ValueError, match="shape"):
        m.clone().fit(X[0])
    with pytest.raises(ValueError, match="shape"):
        m.clone().fit(np.zeros((0, 8)))
    path = m.save(tmp_path / "m.safetensors")
    loaded = type(m).load(path)
    np.testing.assert_array_equal(loaded.transform(X), m.transform(X))
    assert loaded.get_params() == m.get_params()


@pytest.mark.parametrize("cls,params,match", [
    (Oja, {"lr": 0.0}, "lr"), (Oja, {"lr": float("nan")}, "lr"), (Oja, {"lr_decay": -1.0}, "lr_decay"),
    (Oja, {"epochs": 0}, "epochs"), (Sanger, {"batch_size": 0}, "batch_size"),
    (Sanger, {"n_components": 9}, "n_components"), (Sanger, {"n_components": 1.5}, "n_components"),
    (Hebb, {"normalize": "yes"}, "normalize"), (Oja, {"shuffle": 1}, "shuffle"),
    (Oja, {"center": None}, "center"), (BCM, {"tau_theta": 0.0}, "tau_theta"),
    (BCM, {"tau_theta": 5.0, "batch_size": 10}, "tau_theta"), (Oja, {"backend": "jax"}, "backend"),
    (Oja, {"dtype": "int8"}, "dtype"), (Oja, {"seed": 1.5}, "seed"),
])
def test_bad_hyperparameters_are_refused(cls, params, match):
    X, _ = _gaussian(50)
    with pytest.raises(ValueError, match=match):
        cls(**params).fit(X)


# ---------------------------------------------------------------- score (issue 13)
def test_score_of_sanger_and_oja_at_convergence_is_pcas_explained_variance_ratio():
    from sklearn.decomposition import PCA

    X, _ = _gaussian(2000)
    k = 3
    ratio = PCA(n_components=k).fit(X).explained_variance_ratio_.sum()       # 10 / 14.4 = 0.69
    s = Sanger(n_components=k, lr=0.005, lr_decay=1e-3, epochs=3, seed=0).fit(X)
    o = Oja(n_components=k, lr=0.005, lr_decay=1e-3, epochs=3, seed=0).fit(X)
    assert abs(s.score(X, X) - ratio) < 2e-3 and abs(o.score(X) - ratio) < 2e-3
    # by hand: exactly PCA's ratio when the rows are PCA's axes (any sign, any scale)
    s.components_ = PCA(n_components=k).fit(X).components_ * np.array([[-3.0], [1.0], [0.5]])
    assert s.score(X) == pytest.approx(ratio, rel=1e-12)
    # plain Hebb: the direction counts, not its (unbounded) norm
    h = Hebb(lr=0.001, seed=0).fit(X)
    assert np.linalg.norm(h.components_) > 1e3
    assert h.score(X) == pytest.approx(PCA(n_components=1).fit(X).explained_variance_ratio_[0], abs=2e-3)
    # on new data: the variance about the training mean that the span keeps, by hand
    Z = X[:50] + 1.0
    Q = np.linalg.qr(s.components_.T)[0]
    Zc = Z - s.mean_
    assert s.score(Z) == pytest.approx(((Zc @ Q) ** 2).sum() / (Zc ** 2).sum(), rel=1e-10)
    with pytest.raises(ValueError, match="no variance"):
        s.score(s.mean_[None])


def test_score_of_bcm_is_its_objective_and_training_raises_it():
    K = 5
    rng = np.random.default_rng(100)
    P = np.eye(K)
    X = P[rng.integers(0, K, 20000)] + 0.05 * rng.random((20000, K))
    m = BCM(n_components=3, lr=0.01, lr_decay=1e-3, tau_theta=50, seed=0)
    m0 = m.clone().partial_fit(X[:1])            # one update: the weights are their initial draw
    m.fit(X)
    Y = X @ m.components_.T                      # center=False: no mean subtracted
    by_hand = np.mean((Y ** 3).mean(0) / 3 - (Y ** 2).mean(0) ** 2 / 4)
    assert m.score(X) == pytest.approx(by_hand, rel=1e-12)
    assert m.score(X) > m0.score(X) + 1.0        # measured: 2.11 after training, 0.0096 at the start


def test_score_of_anti_hebbian_is_one_minus_the_mean_squared_output_correlation():
    rng = np.random.default_rng(0)
    n = 5
    A = 0.5 * rng.standard_normal((n, n)) + np.eye(n)
    X = rng.standard_normal((4000, n)) @ A.T
    m = AntiHebbian(lr=0.05, epochs=100, batch_size=400, seed=0).fit(X)
    R = np.corrcoef(m.transform(X).T)
    assert m.score(X) == pytest.approx(1 - (R[~np.eye(n, dtype=bool)] ** 2).mean(), rel=1e-12)
    R0 = np.corrcoef(X.T)
    assert m.score(X) > 0.99 > 1 - (R0[~np.eye(n, dtype=bool)] ** 2).mean()   # measured 0.99988 vs 0.867
    one = AntiHebbian(seed=0).fit(X[:, :1])
    assert one.score(X[:, :1]) == 1.0


@pytest.mark.parametrize("make", MODELS)
def test_score_is_unfitted_checked_and_finite(make):
    X, _ = _gaussian(100, seed=4)
    m = make(seed=0)
    with pytest.raises(NotFittedError):
        m.score(X)
    assert np.isfinite(m.fit(X).score(X, X))
    with pytest.raises(ValueError, match="features"):
        m.score(X[:, :3])


# ---------------------------------------------------------------- non-numeric input (issue 13)
BAD_DTYPES = {
    "complex": lambda X: X.astype(np.complex128),
    "str": lambda X: X.astype(str),
    "bytes": lambda X: X.astype(bytes),
    # object arrays of real numbers (pandas) are accepted since issue 13; one holding a string is not
    "object": lambda X: np.where(np.arange(X.size).reshape(X.shape) == 0, "a", X.astype(object)),
    "datetime64": lambda X: np.arange(X.size).astype("datetime64[s]").reshape(X.shape),
    "timedelta64": lambda X: np.arange(X.size).astype("timedelta64[s]").reshape(X.shape),
}


@pytest.mark.parametrize("kind", sorted(BAD_DTYPES))
@pytest.mark.parametrize("make", MODELS)
def test_non_numeric_input_is_refused_everywhere(make, kind):
    X, _ = _gaussian(60, seed=4)
    bad = BAD_DTYPES[kind](X)
    fitted = make(seed=0).fit(X)
    calls = [lambda: make(seed=0).fit(bad), lambda: make(seed=0).partial_fit(bad),
             lambda: fitted.partial_fit(bad), lambda: fitted.transform(bad), lambda: fitted.score(bad),
             lambda: make(seed=0).fit_transform(bad)]
    for call in calls:
        with pytest.raises(ValueError, match=r"X must hold real numbers.*got (dtype|an object array)"):
            call()
