"""Fixed-point emulation and quantisation of spiking classifiers (neurorec.hardware.fixed_point).

The integer engine is checked against hand-written integer references of one neuron (plain
Python ints, 1,000 steps, saturation exercised) for the bit-shift (Xylo) and the multiplicative
(Loihi) decay; numpy against torch bit for bit; PTQ against the float model; the QAT graph
against the integer engine; and the error messages.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurorec.hardware.fixed_point import QuantizedSpikingClassifier, quantize  # noqa: E402

# the module itself (the package exports its function under the same name)
qmod = importlib.import_module("neurorec.hardware.fixed_point")
from neurorec.models.spiking.snn import SpikingClassifier  # noqa: E402
from neurorec.testing import make_classification_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# shaped like neurorec.hardware.chips' ChipProfile (the contract's fields only)
XYLO = {"name": "xylo-like", "weight_bits": 8, "membrane_bits": 16, "synapse_bits": 16, "threshold_bits": 16,
        "decay": "bitshift", "decay_bits": 4}
LOIHI = types.SimpleNamespace(name="loihi2-like", weight_bits=8, membrane_bits=24, synapse_bits=24, threshold_bits=17,
                              decay="multiplicative", decay_bits=12)


# ------------------------------------------------------------------ hand-written references
def _sat(v, bits):
    return max(-(2 ** (bits - 1)), min(2 ** (bits - 1) - 1, v))


def _xylo_decay(v, dash):
    """xylosim 0.1.3, src/v2/cpp/XyloIAFNeuron.cpp, decay(): dv = v >> dash; a zero dv becomes
    sign(v); the state loses dv. Python's >> on negative ints floors, as C++'s arithmetic shift."""
    dv = v >> dash
    if dv == 0:
        dv = 1 if v > 0 else (-1 if v < 0 else 0)
    return v - dv


def _loihi_decay(v, mult):
    """Lava, lava/proc/lif/models.py, AbstractPyLifModelFixed.subthr_dynamics: the magnitude of
    v * (4096 - dv) shifted right by 12, the sign put back (rounding towards zero)."""
    p = v * mult
    return (abs(p) >> 12) * (1 if p > 0 else -1 if p < 0 else 0)


def _reference_neuron(z, *, k, bias, thr, mem_bits, syn_bits, decay):
    """One integer LIF neuron, snntorch order (the reset of step t is the spike of step t-1)."""
    v, out, vs = 0, [], []
    for zt in z:
        current = _sat((zt << k if k >= 0 else zt >> -k) + bias, syn_bits)
        reset = thr if v > thr else 0
        v = _sat(decay(v) + current - reset, mem_bits)
        out.append(1 if v > thr else 0)
        vs.append(v)
    return out, vs


def _engine(rule, param, decay_bits, mem_bits, syn_bits, reset="subtract"):
    return qmod._Engine(rule, param, decay_bits, qmod._limits(mem_bits), qmod._limits(syn_bits), reset,
                        "membrane_mean")


@pytest.mark.parametrize("xp", ["numpy", "torch"])
@pytest.mark.parametrize("rule", ["bitshift", "multiplicative"])
def test_one_neuron_equals_hand_written_integer_reference(rule, xp):
    rng = np.random.default_rng(1)
    T = 1000
    # weighted input sums: quiet stretches (pure decay down to 0, the min-one-LSB decay), bursts
    # large enough to saturate the 12-bit membrane and the 11-bit synapse in both directions
    z = rng.integers(-40, 60, T)
    z[100:140] = 900
    z[300:340] = -900
    z[500:600] = 0
    z[700:720] = 5000
    mem_bits, syn_bits, thr, bias = 12, 11, 700, 3
    if rule == "bitshift":
        dash, k = 3, 0
        ref, vref = _reference_neuron(z.tolist(), k=k, bias=bias, thr=thr, mem_bits=mem_bits, syn_bits=syn_bits,
                                      decay=lambda v: _xylo_decay(v, dash))
        eng = _engine("bitshift", dash, 4, mem_bits, syn_bits)
    else:
        mult, k = 4096 - 389, 1
        ref, vref = _reference_neuron(z.tolist(), k=k, bias=bias, thr=thr, mem_bits=mem_bits, syn_bits=syn_bits,
                                      decay=lambda v: _loihi_decay(v, mult))
        eng = _engine("multiplicative", mult, 12, mem_bits, syn_bits)
    assert max(vref) == 2 ** (mem_bits - 1) - 1 and min(vref) == -(2 ** (mem_bits - 1))   # saturation exercised
    assert 50 < sum(ref) < T
    zz = z.reshape(T, 1, 1).astype(np.int64)
    b = np.array([bias], dtype=np.int64)
    if xp == "torch":
        zz, b = torch.as_tensor(zz), torch.as_tensor(b)
    spikes = qmod._int_lif(zz, b, None, k, thr, eng)
    assert np.asarray(spikes).reshape(-1).tolist() == ref
    # the readout integrator is the same membrane without threshold: check its trace too
    vint = qmod._int_integrate(zz, b, k, eng)
    ref_li, v = [], 0
    for zt in z.tolist():
        dec = _xylo_decay(v, 3) if rule == "bitshift" else _loihi_decay(v, 4096 - 389)
        v = _sat(dec + _sat((zt << k) + bias, syn_bits), mem_bits)
        ref_li.append(v)
    assert np.asarray(vint).reshape(-1).tolist() == ref_li


def test_decay_rules_by_hand():
    d = qmod.int_decay
    # Xylo: 100 - (100 >> 3) = 88; 5 >> 3 = 0 -> minimum decay of one LSB; -5 >> 3 = -1 -> -4
    assert [d(v, "bitshift", 3, None) for v in (100, 5, 1, 0, -5, -100)] == [88, 4, 0, 0, -4, -87]
    # Loihi: 1000 * 3706 >> 12 = 904 (3706 = 4096 - 390, 390 = round(4096 (1 - e^-0.1)) = round(389.78))
    assert [d(v, "multiplicative", 3706, 12) for v in (1000, -1000, 1, 0)] == [904, -904, 0, 0]
    arr = np.array([100, 5, 1, 0, -5, -100], dtype=np.int64)
    assert d(arr, "bitshift", 3, None).tolist() == d(torch.as_tensor(arr), "bitshift", 3, None).tolist() \
        == [88, 4, 0, 0, -4, -87]
    assert qmod.decay_constant(qmod.arithmetic(XYLO), 10.0, 1.0) == (3, 0.875)       # round(log2(10)) = 3
    assert qmod.decay_constant(qmod.arithmetic(LOIHI), 10.0, 1.0) == (3706, 3706 / 4096)


# ------------------------------------------------------------------ classifier-level checks
@pytest.fixture(scope="module")
def digits():
    from neurorec.data import get_task

    return get_task("digits").load(0)


@pytest.fixture(scope="module")
def digits_clf(digits):
    return SpikingClassifier(hidden=64, input_mode="static", encoder="poisson", n_steps=20, epochs=6,
                             seed=0).fit(digits.train.X, digits.train.y, digits.val.X, digits.val.y)


@pytest.mark.parametrize("profile", [XYLO, LOIHI], ids=["xylo", "loihi2"])
def test_ptq_8bit_agrees_with_float(digits, digits_clf, profile):
    f_pred = digits_clf.predict(digits.test.X)
    f_acc = digits_clf.score(digits.test.X, digits.test.y)
    assert f_acc > 0.85
    q = quantize(digits_clf, profile)
    agree = float(np.mean(q.predict(digits.test.X) == f_pred))
    assert agree >= 0.95, agree
    assert q.score(digits.test.X, digits.test.y) >= f_acc - 0.02
    assert not hasattr(digits_clf, "int_weights_")           # the float model is not changed


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_integer_weights_within_bit_range(digits_clf, bits):
    q = quantize(digits_clf, XYLO, weight_bits=bits)
    top = 2 ** (bits - 1) - 1
    for name in ("hidden.0.weight", "output.weight"):
        w = q.int_weights_[name]
        assert w.dtype.kind == "i" and np.abs(w).max() == top      # max-abs scaling uses the full range
        layer = 0 if name.startswith("hidden") else 1
        np.testing.assert_array_equal(w, np.clip(np.rint(digits_clf.weights_[name] / q.weight_scale_[layer]),
                                                 -top, top))
    assert np.abs(q.int_weights_["hidden.0.bias"]).max() <= 2 ** 15 - 1
    # threshold: the float threshold in membrane LSBs, within the headroom of the 16-bit membrane
    assert q.int_threshold_[0] == round(1.0 / q.state_scale_[0]) <= 2 ** (16 - 1 - 4)
    assert q.state_scale_[0] == pytest.approx(q.weight_scale_[0] / 2.0 ** q.layer_shift_[0])
    assert q.arithmetic_["weight_bits"] == bits and q.arithmetic_["membrane_bits"] == 16


def test_numpy_and_torch_bit_identical():
    X, y = make_classification_data(batch=48, time=10)
    for kw in ({"encoder": "poisson", "recurrent": True}, {"encoder": "current", "readout": "membrane_max"},
               {"encoder": "delta", "readout": "spike_count", "reset": "zero", "steps_per_input": 2}):
        clf = SpikingClassifier(hidden=(12, 8), epochs=3, seed=0, **kw).fit(X, y)
        for profile in (XYLO, LOIHI):
            q = quantize(clf, profile, weight_bits=4)
            a = q.set_params(backend="numpy").decision_function(X)
            syn_a = q.synops_
            b = q.set_params(backend="torch").decision_function(X)
            np.testing.assert_array_equal(a, b)
            assert syn_a == q.synops_ and np.isfinite(a).all()
            if kw.get("readout") == "spike_count":
                assert (a == np.round(a)).all()


def test_current_input_is_quantised():
    X, y = make_classification_data(batch=30)
    clf = SpikingClassifier(hidden=16, epochs=3, normalize="minmax", seed=0).fit(X, y)
    q = quantize(clf, XYLO, input_bits=6)
    xn = q._scaled(qmod.check_sequences(X, "X"), q.x_offset_, q.x_scale_)
    s0, _, _ = q._encode_int(xn, np.full(len(X), X.shape[1]), None)
    assert s0.dtype == np.int64 and s0.min() >= 0 and s0.max() == 63
    np.testing.assert_array_equal(s0, np.rint(xn * 63))
    assert q.input_scale_ == 1 / 63


def test_standardised_current_input_is_quantised_signed():
    # the SpikingClassifier's default normalize="auto" standardises a current input: the
    # quantised copy then uses signed levels (6 bits: -31..31)
    X, y = make_classification_data(batch=30)
    clf = SpikingClassifier(hidden=16, epochs=3, seed=0).fit(X, y)
    assert clf._normalization() == "standard"
    q = quantize(clf, XYLO, input_bits=6)
    xn = q._scaled(qmod.check_sequences(X, "X"), q.x_offset_, q.x_scale_)
    s0, _, _ = q._encode_int(xn, np.full(len(X), X.shape[1]), None)
    assert s0.min() < 0 < s0.max() and np.abs(s0).max() <= 31


def test_qat_graph_equals_integer_engine(digits):
    """The fine-tuning graph computes the integer network (float64: exactly up to rounding)."""
    clf = SpikingClassifier(hidden=24, input_mode="static", encoder="delta", n_steps=6, epochs=2, seed=1,
                            dtype="float64").fit(digits.train.X[:200], digits.train.y[:200])
    for profile, bits in ((XYLO, 4), (LOIHI, 8)):
        q = quantize(clf, profile, weight_bits=bits)
        X = digits.test.X[:40]
        want = q.set_params(backend="numpy").decision_function(X)
        xn = q._scaled(qmod.check_sequences(X, "X", dtype=np.float64), q.x_offset_, q.x_scale_)
        s0, lengths, hold = q._encode(torch.as_tensor(xn), torch.full((len(X),), X.shape[1]), None)
        params = {k: torch.as_tensor(v) for k, v in q.weights_.items()}
        got = q._qat_logits(params, s0, lengths, hold).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_fine_tune_straight_through(digits, digits_clf):
    q = quantize(digits_clf, XYLO, weight_bits=3)
    w0 = {k: v.copy() for k, v in q.weights_.items()}
    ptq = q.score(digits.test.X, digits.test.y)
    q.fine_tune(digits.train.X, digits.train.y, epochs=3)          # no validation: the last weights
    recs = q.qat_history_["records"]
    assert len(recs) == 3 and recs[-1]["train_loss"] < recs[0]["train_loss"]
    assert any(not np.array_equal(w0[k], q.weights_[k]) for k in w0)     # gradients reached the weights
    # the integer model is re-derived from the fine-tuned weights
    fresh = quantize(q, XYLO, weight_bits=3)
    for k, v in q.int_weights_.items():
        np.testing.assert_array_equal(v, fresh.int_weights_[k])
    assert q.score(digits.test.X, digits.test.y) >= ptq - 0.02
    # quantize(..., fine_tune=...) with validation data keeps the better of start and fine-tuned
    q2 = quantize(digits_clf, LOIHI, weight_bits=4, epochs=2,
                  fine_tune=(digits.train.X, digits.train.y, digits.val.X, digits.val.y))
    assert q2.qat_history_["kept"] in ("start", "fine_tuned") and len(q2.qat_history_["records"]) >= 1


def test_save_load_round_trip(tmp_path, digits, digits_clf):
    q = quantize(digits_clf, LOIHI, weight_bits=4)
    p = q.decision_function(digits.test.X)
    q.save(tmp_path / "q.safetensors")
    back = QuantizedSpikingClassifier.load(tmp_path / "q.safetensors")
    np.testing.assert_array_equal(back.decision_function(digits.test.X), p)
    assert back.arithmetic_ == q.arithmetic_ and back.profile["name"] == "loihi2-like"
    assert back.int_weights_["hidden.0.weight"].dtype == np.int32


def test_check_model_conformance():
    from neurorec.testing import check_model

    # the float settings of tests/test_snn.py's conformance run, plus one fine-tuning epoch
    check_model(QuantizedSpikingClassifier(profile=XYLO, qat_epochs=1, hidden=32, epochs=20, lr=1e-2, batch_size=8,
                                           patience=20, seed=0))


def test_package_export_is_callable(digits_clf):
    import neurorec.hardware as hw
    from neurorec.hardware import quantize as q_export

    for fn in (q_export, hw.quantize):
        assert isinstance(fn(digits_clf, XYLO), QuantizedSpikingClassifier)


def test_profile_name_is_loaded_lazily(monkeypatch, digits_clf):
    calls = []
    fake = types.ModuleType("neurorec.hardware.chips")
    fake.load_profile = lambda name: calls.append(name) or types.SimpleNamespace(**{**XYLO, "name": name})
    monkeypatch.setitem(sys.modules, "neurorec.hardware.chips", fake)
    q = quantize(digits_clf, "somechip")
    assert calls == ["somechip"] and q.arithmetic_["name"] == "somechip" and q.arithmetic_["decay"] == "bitshift"


def test_errors(digits_clf):
    with pytest.raises(ValueError, match="weight_bits must be an int between 2 and 16"):
        quantize(digits_clf, XYLO, weight_bits=1)
    with pytest.raises(ValueError, match="weight_bits must be an int between 2 and 16.*got 17"):
        quantize(digits_clf, XYLO, weight_bits=17)
    with pytest.raises(ValueError, match="weight_bits"):
        quantize(digits_clf, XYLO, weight_bits=8.0)
    with pytest.raises(ValueError, match="membrane_bits"):
        quantize(digits_clf, {**XYLO, "membrane_bits": None})
    with pytest.raises(ValueError, match="membrane_bits must be an int between 4 and 48"):
        quantize(digits_clf, {**XYLO, "membrane_bits": 64})
    with pytest.raises(ValueError, match="decay='none'.*implements \\('bitshift', 'multiplicative'\\)"):
        quantize(digits_clf, {**XYLO, "decay": "none"})
    with pytest.raises(ValueError, match="multiplicative decay but no decay_bits"):
        quantize(digits_clf, {**XYLO, "decay": "multiplicative", "decay_bits": None})
    with pytest.raises(ValueError, match="profile is required"):
        quantize(digits_clf, None)
    # a MAC baseline (cmos45: weight_bits 32 of its float/int datapath) is named as such, not as a bad bit width
    with pytest.raises(ValueError, match=r"^cmos45 is a MAC baseline for classical models, not a chip with integer "
                                         r"neuron arithmetic; quantize for one of: loihi, loihi2, xylo\.$"):
        quantize(digits_clf, "cmos45")
    with pytest.raises(ValueError, match=r"^spinnaker gives no integer neuron arithmetic.*one of: loihi, loihi2, xylo"):
        quantize(digits_clf, "spinnaker")
    with pytest.raises(ValueError, match=r"^mine is a MAC baseline"):
        quantize(digits_clf, {**XYLO, "name": "mine", "kind": "mac"})
    from neurorec.models.reservoir import ESN

    with pytest.raises(TypeError, match="quantize supports SpikingClassifier.*got ESN"):
        quantize(ESN(), XYLO)
    with pytest.raises(ValueError, match="must be fitted"):
        quantize(SpikingClassifier(), XYLO)
    with pytest.raises(ValueError, match="input_range"):
        QuantizedSpikingClassifier(profile=XYLO, normalize=None)._check_qparams()


@pytest.mark.slow       # a script subprocess of 5-15 s: in .ci/run's slow step, to keep the default suite under 10 min
def test_experiment_script_quick(tmp_path):
    pytest.importorskip("matplotlib")
    import pandas as pd

    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    res = subprocess.run([sys.executable, str(ROOT / "experiments" / "quantize.py"), "--quick", "--out",
                          str(tmp_path)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "results.csv")
    assert len(rows) == 4 and set(rows["weight_bits"]) == {8, 4} and set(rows["task"]) == {"digits"}
    assert rows[["float_accuracy", "ptq_accuracy", "qat_accuracy"]].stack().between(0, 1).all()
    assert (tmp_path / "summary.csv").stat().st_size > 0
    assert set(rows["qat_kept"]) <= {"start", "fine_tuned"}
    assert "Test accuracy, mean ± std over seeds" in res.stdout


def test_neurorec_load_finds_the_quantised_class_in_a_fresh_process(tmp_path, digits_clf):
    """``neurorec.load`` imports the neurorec module a saved class lives in (here
    neurorec.hardware.fixed_point, outside neurorec.models) instead of failing with 'unknown class'."""
    import subprocess

    q = quantize(digits_clf, XYLO)
    q.save(tmp_path / "q.safetensors")
    path = str(tmp_path / "q.safetensors")
    code = f"import neurorec; m = neurorec.load({path!r}); print(type(m).__name__, m.int_threshold_.tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[0] == "QuantizedSpikingClassifier"
    assert out.stdout.split(maxsplit=1)[1].strip() == str(q.int_threshold_.tolist())
