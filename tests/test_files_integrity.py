"""Integrity of neurorec's files (issue 13): model files and training checkpoints are covered,
header included, by a checksum; every bad model file raises neurorec.ModelFileError; fitted
models pickle and deep-copy."""

from __future__ import annotations

import copy
import json
import pickle
import warnings

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import neurorec
from neurorec.base import ModelFileError, _digest
from neurorec.models import ESN, Hopfield, LinearAR, Oja


def _read(path):
    with safe_open(str(path), framework="numpy") as f:
        return json.loads(f.metadata()["neurorec"]), {k: f.get_tensor(k) for k in f.keys()}


def _write(path, header, tensors):
    save_file(tensors, str(path), metadata={"neurorec": json.dumps(header)})
    return path


def _reg_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 40, 2))
    return X, np.roll(X, -1, axis=1)[..., :1]


def _hopfield():
    rng = np.random.default_rng(0)
    return Hopfield(seed=0).fit(np.sign(rng.standard_normal((3, 16))) + 0.0)


def test_model_file_error_is_exported_and_a_value_error():
    assert neurorec.ModelFileError is ModelFileError and issubclass(ModelFileError, ValueError)


def test_edited_hyperparameter_is_refused(tmp_path):
    path = _hopfield().save(tmp_path / "h.safetensors")
    header, tensors = _read(path)
    header["params"]["max_steps"] = -5
    with pytest.raises(ModelFileError, match="modified after it was saved"):
        neurorec.load(_write(tmp_path / "edited.safetensors", header, tensors))


def test_relabelled_class_is_refused(tmp_path):
    pytest.importorskip("torch")
    from neurorec.models import LSTM

    X, y = _reg_data()
    path = LSTM(units=4, epochs=1, seed=0).fit(X, y).save(tmp_path / "lstm.safetensors")
    header, tensors = _read(path)
    header["class"] = "neurorec.models.recurrent.GRU"
    with pytest.raises(ModelFileError, match="modified after it was saved"):
        neurorec.load(_write(tmp_path / "gru.safetensors", header, tensors))


def test_format_version_1_loads_with_a_warning_and_params_are_validated(tmp_path):
    path = _hopfield().save(tmp_path / "h.safetensors")
    header, tensors = _read(path)
    header["format_version"], header["sha256"] = 1, _digest(tensors)     # as the previous format wrote it
    old = _write(tmp_path / "v1.safetensors", header, tensors)
    with pytest.warns(UserWarning, match="format_version=1"):
        assert isinstance(neurorec.load(old), Hopfield)
    header["params"]["max_steps"] = -5          # not covered by a v1 checksum: the validation catches it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelFileError, match="max_steps"):
            neurorec.load(_write(tmp_path / "v1bad.safetensors", header, tensors))
    header["params"] = {"no_such_param": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelFileError, match="hyperparameters"):
            neurorec.load(_write(tmp_path / "v1unknown.safetensors", header, tensors))


def _resign(header, tensors):
    from neurorec.base import _file_digest

    header["sha256"] = _file_digest(header, tensors)
    return header


def test_every_bad_file_raises_model_file_error(tmp_path):
    X, y = _reg_data()
    path = LinearAR(delays=2).fit(X, y).save(tmp_path / "ar.safetensors")
    header, tensors = _read(path)
    cases = {
        "not safetensors": lambda p: p.write_bytes(b"hello"),
        "no header": lambda p: save_file(tensors, str(p)),
        "header not json": lambda p: save_file(tensors, str(p), metadata={"neurorec": "{"}),
        "header a list": lambda p: save_file(tensors, str(p), metadata={"neurorec": "[1]"}),
        "bad version": lambda p: _write(p, dict(header, format_version="x"), tensors),
        "newer version": lambda p: _write(p, dict(header, format_version=99), tensors),
        "unknown class": lambda p: _write(p, dict(header, **{"class": "os.system"}), tensors),
        "params not dict": lambda p: _write(p, dict(header, params=[1]), tensors),
        "flipped byte": lambda p: p.write_bytes(path.read_bytes()[:-1] + bytes([path.read_bytes()[-1] ^ 0xFF])),
        "bad attribute name": lambda p: _write(p, _resign(dict(header, state={"__class__": 1}), tensors), tensors),
        "property attribute": lambda p: _write(p, _resign(dict(header, state={"n_parameters_": 1}), tensors),
                                               tensors),
        "unknown param": lambda p: _write(p, _resign(dict(header, params={"nope": 1}), tensors), tensors),
    }
    for name, make in cases.items():
        p = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        make(p)
        with pytest.raises(ModelFileError):
            neurorec.load(p)
    # invalid hyperparameters, even with a matching checksum (recomputed by hand)
    h = _hopfield()
    hpath = h.save(tmp_path / "h.safetensors")
    hh, ht = _read(hpath)
    hh["params"]["max_steps"] = -5
    with pytest.raises(ModelFileError, match="max_steps"):
        neurorec.load(_write(tmp_path / "resigned.safetensors", _resign(hh, ht), ht))
    # a file of another class is refused by name (still a TypeError, as before)
    with pytest.raises(ModelFileError, match="holds a LinearAR, not a Hopfield") as exc:
        Hopfield.load(path)
    assert isinstance(exc.value, TypeError)


# -- training checkpoints -------------------------------------------------------------------------
torch_cases = ["weight", "epoch", "finished", "lr", "format"]


@pytest.mark.parametrize("what", torch_cases)
def test_tampered_checkpoint_is_refused(tmp_path, what):
    torch = pytest.importorskip("torch")
    from safetensors.torch import load_file
    from safetensors.torch import save_file as save_pt

    from neurorec.train import fit_module, load_checkpoint_info
    from neurorec.train.checkpoint import META_KEY, CheckpointError

    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(32, 3, generator=g), torch.randn(32, 1, generator=g)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 1)

    def mse(m, b):
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    path = tmp_path / "ck.safetensors"

    def interrupt(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_module(net, mse, (X, y), epochs=4, checkpoint=path, callbacks=interrupt)
    info = load_checkpoint_info(path)
    assert info["epoch"] == 2 and not info["finished"]
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(path))
    doc = json.loads(meta[META_KEY])
    if what == "weight":
        raw = bytearray(path.read_bytes())
        raw[-1] ^= 0x01
        path.write_bytes(bytes(raw))
    else:
        if what == "epoch":
            doc["epoch"] = 3
        elif what == "finished":
            doc["finished"] = True
        elif what == "lr":
            doc["optimizer"]["param_groups"][0]["lr"] = 100.0
        elif what == "format":
            meta["format"] = "neurorec-train-checkpoint/1"
            meta.pop("sha256")
        meta[META_KEY] = json.dumps(doc)
        save_pt(tensors, str(path), metadata=meta)
    with pytest.raises(CheckpointError) as exc:
        fit_module(torch.nn.Linear(3, 1), mse, (X, y), epochs=4, checkpoint=path)
    assert isinstance(exc.value, ModelFileError) and isinstance(exc.value, ValueError)
    with pytest.raises(CheckpointError):
        load_checkpoint_info(path)


# -- pickling and deep copies ---------------------------------------------------------------------
def _fitted_models():
    rng = np.random.default_rng(0)
    X, y = _reg_data()
    out = {"ESN": (ESN(units=20, seed=0).fit(X, y), lambda m: m.predict(X)),
           "Hopfield": (_hopfield(), None),
           "Oja": (Oja(n_components=2, seed=0).fit(rng.standard_normal((50, 4))), None)}
    probe = np.sign(rng.standard_normal((2, 16))) + 0.0
    out["Hopfield"] = (out["Hopfield"][0], lambda m: m.recall(probe))
    Xo = rng.standard_normal((10, 4))
    out["Oja"] = (out["Oja"][0], lambda m: m.transform(Xo))
    try:
        import torch  # noqa: F401
    except ImportError:
        return out
    from neurorec.models import LSM, LSTM, SpikingClassifier

    out["LSTM"] = (LSTM(units=4, epochs=1, seed=0).fit(X, y), lambda m: m.predict(X))
    Xc = rng.random((8, 10, 3))
    yc = np.arange(8) % 2
    out["SpikingClassifier"] = (SpikingClassifier(hidden=(8,), epochs=1, n_steps=5, seed=0).fit(Xc, yc),
                                lambda m: m.predict(Xc))
    out["LSM"] = (LSM(units=20, seed=0).fit(Xc, yc), lambda m: m.predict(Xc))
    return out


def test_fitted_models_pickle_and_deepcopy():
    for name, (model, predict) in _fitted_models().items():
        expected = predict(model)            # fills the caches first
        for copied in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            assert type(copied) is type(model), name
            _same(predict(copied), expected, name)
        _same(predict(model), expected, name)


def _same(a, b, name):
    if isinstance(b, tuple | list):
        assert len(a) == len(b), name
        for u, v in zip(a, b, strict=True):
            _same(u, v, name)
    else:
        np.testing.assert_array_equal(a, b, err_msg=name)
