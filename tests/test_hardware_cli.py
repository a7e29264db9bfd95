"""The hardware verbs of the ``neurorec`` command: export, hardware profiles / check / energy, on good and bad input."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
nir = pytest.importorskip("nir")

from neurorec.cli import main  # noqa: E402

PROFILES = ("loihi", "loihi2", "truenorth", "spinnaker", "spinnaker2", "xylo", "speck", "cmos45")


def _fit(reset: str, n_features: int = 6, seed: int = 0):
    from neurorec.models.spiking import SpikingClassifier

    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (40, 12, n_features)).astype(np.float32)
    y = (X[:, :, 0].mean(1) > 0.5).astype(int)
    return SpikingClassifier(hidden=16, reset=reset, epochs=2, batch_size=20, early_stopping=False,
                             seed=seed).fit(X, y), X


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A zero-reset classifier (NIR says it exactly), a subtract-reset one (the default), and their inputs."""
    d = tmp_path_factory.mktemp("cli")
    zero, X = _fit("zero")
    sub, _ = _fit("subtract")
    zero.save(d / "zero.safetensors")
    sub.save(d / "subtract.safetensors")
    return d, zero, X


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurorec: error: ") and "\n" not in err, err
    return err


def test_export_writes_a_graph_that_reads_back_to_the_same_model(saved, capsys):
    from neurorec.hardware import from_nir

    d, model, X = saved
    out = d / "zero.nir"
    assert main(["export", str(d / "zero.safetensors"), "--to", "nir", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    back = from_nir(out)
    np.testing.assert_array_equal(back.decision_function(X), model.decision_function(X))


def test_export_refuses_a_subtract_reset_unless_approximate(saved, capsys):
    d, _, _ = saved
    out = d / "sub.nir"
    assert main(["export", str(d / "subtract.safetensors"), "--to", "nir", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "subtract" in err and "--approximate" in err and "strict=False" not in err
    assert not out.exists()                                  # nothing half-written
    assert main(["export", str(d / "subtract.safetensors"), "--to", "nir", str(out), "--approximate"]) == 0
    assert "approximated" in capsys.readouterr().out
    assert out.is_file()


@pytest.mark.parametrize("argv, words", [
    (["export", "MODEL", "--to", "onnx", "x.nir"], ["unknown export format", "nir"]),
    (["export", "MISSING", "--to", "nir", "x.nir"], ["no model file"]),
    (["export", "CORRUPT", "--to", "nir", "x.nir"], ["not a neurorec model file"]),
    (["hardware", "check", "MODEL", "--target", "loihi9"], ["unknown chip profile", "loihi2", "xylo"]),
    (["hardware", "check", "CORRUPT.nir", "--target", "loihi"], ["CORRUPT.nir"]),
    (["hardware", "energy", "MODEL", "--profile", "nope", "--task", "digits"], ["nope"]),
    (["hardware", "energy", "MODEL", "--profile", "loihi", "--task", "no_such_task"], ["no_such_task", "digits"]),
    (["hardware", "energy", "CORRUPT.nir", "--profile", "loihi", "--task", "digits"], [".safetensors"]),
    (["hardware"], ["profiles, check or energy"]),
])
def test_bad_input_gets_one_line_error(saved, capsys, argv, words):
    d, _, _ = saved
    (d / "CORRUPT").write_bytes(b"not a model")
    (d / "CORRUPT.nir").write_bytes(b"not hdf5")
    subs = {"MODEL": str(d / "zero.safetensors"), "MISSING": str(d / "missing.safetensors"),
            "CORRUPT": str(d / "CORRUPT"), "CORRUPT.nir": str(d / "CORRUPT.nir")}
    argv = [subs.get(a, a) for a in argv]
    assert main(argv) == 2
    err = _one_line_error(capsys)
    for w in words:
        assert w in err, (w, err)


def test_export_of_a_model_nir_cannot_express_names_it(tmp_path, capsys):
    from neurorec.models import ESN

    X = np.random.default_rng(0).normal(size=(1, 200, 1)).astype(np.float32)
    ESN(units=20, seed=0).fit(X[:, :-1], X[:, 1:]).save(tmp_path / "esn.safetensors")
    assert main(["export", str(tmp_path / "esn.safetensors"), "--to", "nir", str(tmp_path / "esn.nir")]) == 2
    err = _one_line_error(capsys)
    assert "ESN" in err
    assert not (tmp_path / "esn.nir").exists()


def test_profiles_lists_every_target(capsys):
    assert main(["hardware", "profiles"]) == 0
    out = capsys.readouterr().out
    for name in PROFILES:
        assert name in out


def test_check_says_fits_or_not_with_the_exit_status(saved, capsys):
    d, _, _ = saved
    assert main(["hardware", "check", str(d / "zero.safetensors"), "--target", "loihi"]) == 0
    assert "fits on 1 chip" in capsys.readouterr().out
    # a 784-input layer is over TrueNorth's 256-axon fan-in
    wide, _ = _fit("zero", n_features=784)
    wide.save(d / "wide.safetensors")
    assert main(["hardware", "check", str(d / "wide.safetensors"), "--target", "truenorth"]) == 1
    out = capsys.readouterr().out
    assert "does not fit" in out and "784 > 256" in out


def test_check_reads_a_nir_file(saved, capsys):
    d, _, _ = saved
    out = d / "check.nir"
    assert main(["export", str(d / "zero.safetensors"), "--to", "nir", str(out)]) == 0
    capsys.readouterr()
    assert main(["hardware", "check", str(out), "--target", "loihi"]) == 0
    assert "fits" in capsys.readouterr().out


def test_energy_prints_one_row_per_profile(tmp_path, capsys):
    from neurorec.data import get_task
    from neurorec.hardware import energy
    from neurorec.models.spiking import SpikingClassifier

    data = get_task("digits").load(0)
    clf = SpikingClassifier(hidden=16, input_mode="static", encoder="poisson", n_steps=5, reset="zero", epochs=1,
                            early_stopping=False, seed=0).fit(data.train.X[:100], data.train.y[:100])
    clf.save(tmp_path / "snn.safetensors")
    argv = ["hardware", "energy", str(tmp_path / "snn.safetensors"), "--profile", "loihi", "--profile", "cmos45",
            "--task", "digits", "--limit", "30"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "loihi" in out and "cmos45" in out
    row = next(line.split() for line in out.splitlines() if line.startswith("energy_J"))
    for got, profile in zip(row[1:], ("loihi", "cmos45"), strict=True):
        want = energy(clf, data.test.X[:30], profile)["energy_J"]
        assert float(got) == pytest.approx(want, rel=1e-5)


def test_export_refuses_a_quantised_model(saved, capsys):
    """NIR has no integer arithmetic: exporting a QuantizedSpikingClassifier would write its float weights
    under a file that looks like the quantised model; it is refused with the reason."""
    from neurorec.hardware import quantize

    d, model, _ = saved
    quantize(model, "xylo").save(d / "q.safetensors")
    assert main(["export", str(d / "q.safetensors"), "--to", "nir", str(d / "q.nir")]) == 2
    err = _one_line_error(capsys)
    assert "integer arithmetic" in err and "float SpikingClassifier" in err
    assert not (d / "q.nir").exists()
