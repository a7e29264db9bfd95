"""neurorec's ESN draws its reservoirs the way reservoirpy 0.4 does (issue 13).

With the same hyperparameters, ``ESN`` and reservoirpy's ``Reservoir >> Ridge`` must give
reservoirs from the same distribution. Each comparison is a two-sample test at ``ALPHA`` over
10 seeds per side (disjoint seeds, so agreement is not a matter of identical streams), plus an
exact check that the same seed gives the same weights. Mapping of the hyperparameters:

    neurorec ESN            reservoirpy Reservoir
    units                   units
    spectral_radius         sr
    leak_rate               lr
    input_scaling           input_scaling
    connectivity            rc_connectivity
    input_connectivity      input_connectivity
    bias_scaling=b          bias=mat_gen.bernoulli(input_scaling=b)
    feedback_scaling        input_scaling of the feedback columns of Win (ESN(feedback=True))
"""

import numpy as np
import pytest
from scipy import stats

pytest.importorskip("reservoirpy")
from reservoirpy import ESN as RpyESN  # noqa: E402
from reservoirpy import mat_gen  # noqa: E402
from reservoirpy.nodes import Reservoir, Ridge  # noqa: E402

from neurorec.data import mackey_glass  # noqa: E402
from neurorec.models import ESN  # noqa: E402
from neurorec.models.reservoir import random_reservoir, spectral_radius  # noqa: E402

ALPHA = 0.01                      # significance level of every two-sample test
NR_SEEDS = range(10)              # neurorec's seeds
RPY_SEEDS = range(100, 110)       # reservoirpy's seeds (disjoint)
HP = dict(units=100, sr=0.9, lr=1.0, input_scaling=0.1, input_connectivity=0.2, rc_connectivity=0.1)


def _esn(seed, **kw):
    kw = dict(units=HP["units"], spectral_radius=HP["sr"], leak_rate=HP["lr"], input_scaling=HP["input_scaling"],
              input_connectivity=HP["input_connectivity"], connectivity=HP["rc_connectivity"], ridge=1e-6,
              input_to_readout=False, washout=100, dtype="float64") | kw
    return ESN(seed=seed, **kw)


def _reservoir(seed, n_features=1, **kw):
    r = Reservoir(HP["units"], sr=HP["sr"], lr=HP["lr"], input_scaling=HP["input_scaling"],
                  input_connectivity=HP["input_connectivity"], rc_connectivity=HP["rc_connectivity"], seed=seed, **kw)
    r.initialize(np.zeros((n_features,)))
    return r


def _dense(a):
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def _fitted_esn(seed, n_features=1, **kw):
    X = np.random.default_rng(0).normal(size=(1, 20, n_features))
    return _esn(seed, washout=0, **kw).fit(X[:, :-1], X[:, 1:, :1])


def _same(a, b, what):
    p = stats.ks_2samp(a, b).pvalue
    assert p > ALPHA, f"{what}: neurorec and reservoirpy differ (KS p={p:.2e} < {ALPHA})"


def test_same_seed_draws_reservoirpys_weights():
    """ESN(seed=s) holds the very weights of reservoirpy's Reservoir(seed=s) (W up to the scale factor, whose
    spectral radius reservoirpy estimates with ARPACK)."""
    for seed in (0, 7):
        esn, r = _fitted_esn(seed, 2, bias_scaling=0.3), _reservoir(seed, 2, bias=mat_gen.bernoulli(input_scaling=0.3))
        np.testing.assert_array_equal(esn.W_in_, _dense(r.Win))
        np.testing.assert_array_equal(esn.bias_, _dense(r.bias).ravel())
        Wr = _dense(r.W)
        np.testing.assert_array_equal(esn.W_ != 0, Wr != 0)
        np.testing.assert_allclose(esn.W_ / spectral_radius(esn.W_), Wr / spectral_radius(Wr), rtol=1e-9, atol=0)


def test_input_weights_have_reservoirpys_values_and_counts():
    nr = [_fitted_esn(s, 3).W_in_ for s in NR_SEEDS]
    rp = [_dense(_reservoir(s, 3).Win) for s in RPY_SEEDS]
    _same(np.concatenate([w[w != 0] for w in nr]), np.concatenate([w[w != 0] for w in rp]), "W_in values")
    # reservoirpy keeps exactly round(connectivity * size) weights: the counts must agree seed for seed
    assert sorted(np.count_nonzero(w) for w in nr) == sorted(np.count_nonzero(w) for w in rp)


def test_recurrent_weights_have_reservoirpys_spectral_radius_and_counts():
    n = HP["units"]
    nr = [_fitted_esn(s).W_ for s in NR_SEEDS]
    rp = [_dense(_reservoir(s).W) for s in RPY_SEEDS]
    assert sorted(np.count_nonzero(w) for w in nr) == sorted(np.count_nonzero(w) for w in rp)
    # the realised spectral radius is the requested one (reservoirpy's ARPACK estimate can miss by ~1%)
    assert [spectral_radius(w) for w in nr] == pytest.approx([HP["sr"]] * len(nr), rel=1e-8)
    assert [spectral_radius(w) for w in rp] == pytest.approx([HP["sr"]] * len(rp), rel=2e-2)
    # the spectral radius of the unscaled draw is random: same distribution on both sides...
    raw_nr = [spectral_radius(random_reservoir(n, 1, spectral_radius_=None, connectivity=HP["rc_connectivity"],
                                               seed=s)["W"]) for s in NR_SEEDS]
    raw_rp = [spectral_radius(_dense(mat_gen.normal(n, n, connectivity=HP["rc_connectivity"], seed=s)))
              for s in RPY_SEEDS]
    _same(raw_nr, raw_rp, "spectral radius of the unscaled W")
    # ...and so is the scale of the rescaled weights (one value per seed: the draws within a seed share it)
    _same([w[w != 0].std() for w in nr], [w[w != 0].std() for w in rp], "std of the non-zero W weights")


def test_bias_has_reservoirpys_values():
    nr = np.concatenate([_fitted_esn(s, bias_scaling=0.3).bias_ for s in NR_SEEDS])
    rp = np.concatenate([_dense(_reservoir(s, bias=mat_gen.bernoulli(input_scaling=0.3)).bias).ravel()
                         for s in RPY_SEEDS])
    _same(nr, rp, "bias values")
    assert np.count_nonzero(nr) == np.count_nonzero(rp) == nr.size


def test_feedback_weights_are_drawn_like_reservoirpys_feedback_columns():
    """reservoirpy 0.4 feeds the readout back as extra input columns of Win (same connectivity and scaling)."""
    X = np.random.default_rng(0).normal(size=(60, 2))
    nr, rp = [], []
    for s in NR_SEEDS:
        e = _esn(s, feedback=True, feedback_scaling=HP["input_scaling"], washout=0).fit(X[:-1], X[1:, :1])
        nr.append(np.hstack([e.W_in_, e.W_fb_]))
    for s in RPY_SEEDS:
        m = RpyESN(units=HP["units"], sr=HP["sr"], lr=HP["lr"], input_scaling=HP["input_scaling"],
                   input_connectivity=HP["input_connectivity"], rc_connectivity=HP["rc_connectivity"],
                   feedback=True, ridge=1e-6, seed=s).fit(X[:-1], X[1:, :1])
        rp.append(_dense(m.reservoir.Win))
    assert nr[0].shape == rp[0].shape == (HP["units"], 3)
    assert sorted(np.count_nonzero(w) for w in nr) == sorted(np.count_nonzero(w) for w in rp)
    _same(np.concatenate([w[:, 2][w[:, 2] != 0] for w in nr]), np.concatenate([w[:, 2][w[:, 2] != 0] for w in rp]),
          "feedback weight values")


def test_one_step_mackey_glass_error_has_reservoirpys_distribution():
    s = mackey_glass(2500, seed=0)
    X, Y, train, warm = s[:-1], s[1:], 1500, 100

    def nrmse(pred):
        return float(np.sqrt(np.mean((pred[train:] - Y[train:]) ** 2)) / Y[train:].std())

    nr = [nrmse(_esn(seed).fit(X[:train], Y[:train]).predict(X)) for seed in NR_SEEDS]
    rp = []
    for seed in RPY_SEEDS:
        model = _reservoir(seed) >> Ridge(ridge=1e-6)
        model.fit(X[:train], Y[:train], warmup=warm)
        model.reset()
        rp.append(nrmse(model.run(X)))
    p = stats.mannwhitneyu(nr, rp).pvalue
    assert p > ALPHA, f"one-step NRMSE: neurorec {np.median(nr):.2e} vs reservoirpy {np.median(rp):.2e}, p={p:.2e}"
    _same(nr, rp, "one-step Mackey-Glass NRMSE")


def test_earlier_draws_stay_available_as_options():
    legacy = dict(input_init="uniform", bias_init="uniform", connectivity_draw="independent", bias_scaling=0.5)
    e = [_fitted_esn(s, 3, **legacy) for s in NR_SEEDS]
    w_in = np.concatenate([m.W_in_[m.W_in_ != 0] for m in e])
    assert stats.ks_2samp(w_in, np.random.default_rng(0).uniform(-0.1, 0.1, 2000)).pvalue > ALPHA
    assert len({np.count_nonzero(m.W_) for m in e}) > 1            # binomial counts, not exact ones
    assert np.unique(np.abs(np.concatenate([m.bias_ for m in e]))).size > 100
    w = random_reservoir(50, 1, recurrent_init="uniform", spectral_radius_=None, seed=0)["W"]
    assert np.abs(w).max() <= 1 and np.count_nonzero(w) == 250


def test_bad_draw_options_and_an_empty_input_matrix_are_refused():
    X = np.zeros((1, 10, 1))
    with pytest.raises(ValueError, match="input_init"):
        ESN(input_init="gauss").fit(X, X)
    with pytest.raises(ValueError, match="feedback_connectivity"):
        ESN(feedback_connectivity=0.0).fit(X, X)
    # round(0.1 * 4 * 1) = 0 input weights: the reservoir would never see its input
    with pytest.raises(ValueError, match=r"input matrix \(4 units x 1 features, input_connectivity=0.1.*no non-zero"):
        ESN(units=4, connectivity=0.5, input_connectivity=0.1, seed=0).fit(X, X)
