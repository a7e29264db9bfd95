"""Bad input fails early with a ValueError that names the argument (property-based)."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import neurorec
from neurorec._validation import TaskWarning
from neurorec.base import NotFittedError
from neurorec.models import ESN, LinearAR
from neurorec.testing import make_classification_data, make_regression_data

X_REG, Y_REG = make_regression_data(batch=3, time=40, features=2)
X_CLF, Y_CLF = make_classification_data(batch=12, time=6, features=2)


@pytest.fixture(scope="module")
def fitted():
    return {
        "esn_reg": ESN(units=20, seed=0).fit(X_REG, Y_REG),
        "esn_clf": ESN(units=20, seed=0).fit(X_CLF, Y_CLF),
        "esn_fc": ESN(units=20, seed=0).fit(X_REG[..., :1], Y_REG),   # one-step forecaster
        "lin_reg": LinearAR(delays=3).fit(X_REG, Y_REG),
        "lin_clf": LinearAR(delays=3).fit(X_CLF, Y_CLF),
    }


def _is_valid_sequences(a: np.ndarray, n_features: int) -> bool:
    return (a.ndim in (2, 3) and a.size > 0 and a.shape[-1] == n_features
            and np.isfinite(a).all() and (a.ndim == 2 or a.shape[1] > 0))


bad_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    elements=st.one_of(st.floats(-5, 5, width=32), st.just(np.nan), st.just(np.inf)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=bad_arrays, which=st.sampled_from(["esn_reg", "esn_clf", "esn_fc", "lin_reg", "lin_clf"]),
       method=st.sampled_from(["predict", "transform", "score", "decision_function", "generate"]))
def test_inference_entry_points_reject_malformed_X(fitted, a, which, method):
    model = fitted[which]
    if not hasattr(model, method) or (method == "generate" and which != "esn_fc"):
        return
    if method == "decision_function" and which != "esn_clf":
        return
    if _is_valid_sequences(a, model.n_features_in_):
        return
    calls = {
        "score": lambda: model.score(a, Y_CLF if "clf" in which else Y_REG),
        "generate": lambda: model.generate(5, warmup=a),
    }
    with pytest.raises(ValueError) as err:
        calls.get(method, lambda: getattr(model, method)(a))()
    assert ("warmup" if method == "generate" else "X") in str(err.value)


@settings(max_examples=100, deadline=None)
@given(a=bad_arrays, model=st.sampled_from([ESN(units=10, seed=0), LinearAR(delays=2)]))
def test_fit_rejects_malformed_X(a, model):
    if _is_valid_sequences(a, 2) and a.shape[:2] == X_REG.shape[:2]:
        return
    with pytest.raises(ValueError):
        model.clone().fit(a, Y_REG)


@settings(max_examples=100, deadline=None)
@given(y=hnp.arrays(dtype=st.sampled_from([np.float32, np.float64]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
                    elements=st.one_of(st.floats(-5, 5, width=32), st.just(np.nan))),
       model=st.sampled_from([ESN(units=10, seed=0), LinearAR(delays=2)]))
def test_fit_rejects_malformed_y(y, model):
    ok = (y.ndim == 3 and y.shape[:2] == X_REG.shape[:2] and y.shape[2] > 0 and np.isfinite(y).all())
    if ok:
        return
    labels = y.ndim == 1 and len(y) == X_REG.shape[0] and np.isfinite(y).all() and np.all(y == np.round(y))
    if labels:
        # one whole-number float per sequence: read as class labels, and said so (task="auto")
        with pytest.warns(TaskWarning, match="class labels"):
            model.clone().fit(X_REG, y)
        return
    with pytest.raises(ValueError):
        model.clone().fit(X_REG, y)


@settings(max_examples=60, deadline=None)
@given(labels=hnp.arrays(np.int64, st.integers(0, 20), elements=st.integers(-3, 50)))
def test_classifier_labels_must_match_the_batch(labels):
    if labels.shape[0] == X_CLF.shape[0]:
        return
    for model in (ESN(units=10, seed=0), LinearAR(delays=2)):
        with pytest.raises(ValueError, match="y"):
            model.fit(X_CLF, labels)


@pytest.mark.parametrize("which", ["esn_clf", "lin_clf"])
def test_score_rejects_labels_never_seen_in_fit(fitted, which):
    with pytest.raises(ValueError, match="out of range"):
        fitted[which].score(X_CLF, np.full(len(Y_CLF), 99))


def test_error_messages_name_argument_expected_and_given():
    m = ESN(units=10, seed=0).fit(X_REG, Y_REG)
    with pytest.raises(ValueError, match=r"X must have shape \(batch, time, features\).*shape \(5,\)"):
        m.predict(np.zeros(5))
    with pytest.raises(ValueError, match=r"X has 3 features.*fitted with 2"):
        m.predict(np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match=r"y has 2 sequences but X has 3"):
        ESN(units=10).fit(X_REG, Y_REG[:2])
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.predict(np.full((1, 3, 2), np.nan))
    with pytest.raises(ValueError, match="empty sequence"):
        m.predict([np.zeros((3, 2)), np.zeros((0, 2))])
    with pytest.raises(NotFittedError, match="call fit"):
        ESN().predict(X_REG)
    with pytest.raises(ValueError, match="real numbers"):
        m.predict(np.array([["a", "b"]]))


def test_ragged_input_is_accepted_and_padded_consistently():
    m = ESN(units=15, seed=0).fit(X_REG, Y_REG)
    seqs = [X_REG[0, :10], X_REG[1, :25], X_REG[2]]
    out = m.predict(seqs)
    assert [o.shape for o in out] == [(10, 1), (25, 1), (40, 1)]
    np.testing.assert_allclose(out[1], m.predict(X_REG[1, :25]), atol=1e-5)


def test_load_refuses_files_that_are_not_neurorec_models(tmp_path):
    from safetensors.numpy import save_file

    m = ESN(units=10, seed=0).fit(X_REG, Y_REG)
    path = m.save(tmp_path / "esn.safetensors")
    assert neurorec.load(path).get_params() == m.get_params()
    # a plain safetensors file without the neurorec header
    other = tmp_path / "plain.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(other))
    with pytest.raises(ValueError, match="not a neurorec model"):
        neurorec.load(other)
    # an unknown class name in the header
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["neurorec"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["class"] = "os.system"
    evil = tmp_path / "evil.safetensors"
    save_file(tensors, str(evil), metadata={"neurorec": json.dumps(meta)})
    with pytest.raises(ValueError, match="unknown model class"):
        neurorec.load(evil)
    # weights swapped after saving
    tensors["W_out_"] = tensors["W_out_"] + 1
    meta["class"] = "neurorec.models.reservoir.ESN"
    swapped = tmp_path / "swapped.safetensors"
    save_file(tensors, str(swapped), metadata={"neurorec": json.dumps(meta)})
    with pytest.raises(ValueError, match="modified after it was saved"):
        neurorec.load(swapped)
    with pytest.raises(FileNotFoundError):
        neurorec.load(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="not a LinearAR"):
        LinearAR.load(path)


def test_save_into_a_missing_folder_fails_clearly_and_leaves_nothing(tmp_path):
    from neurorec.models import LinearAR
    from neurorec.testing import make_regression_data

    X, y = make_regression_data()
    m = LinearAR(delays=2).fit(X, y)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        m.save(tmp_path / "nope" / "m.safetensors")
    m.save(tmp_path / "m.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
