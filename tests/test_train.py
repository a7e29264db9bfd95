"""Tests of neurorec.train: the gradient training loop, its checkpoints and History."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from safetensors import safe_open  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

import neurorec.train.checkpoint as ckpt_mod  # noqa: E402
from neurorec.train import History, fit_module, load_checkpoint_info  # noqa: E402

F = torch.nn.functional


# -- helpers -------------------------------------------------------------------------------------
def make_data(n=64, d=4, seed=0, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g)
    w = torch.randn(d, 1, generator=g)
    y = X @ w + 0.1 * torch.randn(n, 1, generator=g) + offset
    return X, y


def make_net(d=4, hidden=8, dropout=0.0, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Dropout(dropout),
                                   torch.nn.Linear(hidden, 1))


def mse(module, batch):
    return F.mse_loss(module(batch[0]), batch[1])


def weights(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- modes and records -------------------------------------------------------------------------
def test_modes_records_and_eval_at_end():
    net = make_net(dropout=0.5)
    X, y = make_data()
    seen = {"train": [], "val": []}

    def loss_fn(m, b):
        seen["train"].append(m.training)
        return mse(m, b)

    def validate(m):
        seen["val"].append(m.training)
        assert not torch.is_grad_enabled()
        return {"val_loss": float(mse(m, (X, y))), "val_other": 1.0}

    h = fit_module(net, loss_fn, (X, y), validate=validate, epochs=3, batch_size=16, lr=1e-2)
    assert all(seen["train"]) and len(seen["train"]) == 3 * 4
    assert seen["val"] == [False] * 3
    assert not net.training
    assert len(h) == 3 and h.monitor == "val_loss" and h.mode == "min"
    r = h.records[0]
    assert set(r) == {"epoch", "train_loss", "val_loss", "val_other", "lr", "grad_norm", "seconds"}
    assert [r["epoch"] for r in h.records] == [1, 2, 3]
    assert all(r["grad_norm"] > 0 and r["seconds"] >= 0 for r in h.records)
    assert h.best_value == min(h["val_loss"]) and h["val_loss"][h.best_epoch - 1] == h.best_value


def test_monitor_defaults_to_train_loss_and_missing_monitor_is_clear():
    X, y = make_data()
    h = fit_module(make_net(), mse, (X, y), epochs=2)
    assert h.monitor == "train_loss"
    with pytest.raises(KeyError, match="monitor='acc'"):
        fit_module(make_net(), mse, (X, y), validate=lambda m: {"val_loss": 1.0}, monitor="acc", epochs=1)


def test_bad_arguments_are_named():
    X, y = make_data()
    with pytest.raises(ValueError, match="first"):
        fit_module(make_net(), mse, (X, y[:10]))
    with pytest.raises(ValueError, match="optimizer"):
        fit_module(make_net(), mse, (X, y), optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr_schedule"):
        fit_module(make_net(), mse, (X, y), lr_schedule="linear")
    with pytest.raises(ValueError, match="patience"):
        fit_module(make_net(), mse, (X, y), patience=0)
    with pytest.raises(ValueError, match="scalar"):
        fit_module(make_net(), lambda m, b: (m(b[0]) - b[1]) ** 2, (X, y), epochs=1)


# -- gradient clipping -------------------------------------------------------------------------
@pytest.mark.parametrize("clip", [1.0, None])
def test_clip_norm_bounds_each_update(clip):
    X, y = make_data(offset=3.0)
    net = torch.nn.Linear(4, 1)
    snaps = [weights(net)]

    def huge(m, b):
        return 1e6 * mse(m, b)

    h = fit_module(net, huge, (X, y), optimizer="sgd", momentum=0.0, lr=0.1, epochs=3, batch_size=len(X),
                   clip_norm=clip, callbacks=lambda e, r: snaps.append(weights(net)))
    assert all(r["grad_norm"] > 1e3 for r in h.records)  # reported before clipping
    pairs = zip(snaps[:-1], snaps[1:], strict=True)
    steps = [math.sqrt(sum(float(((b[k] - a[k]) ** 2).sum()) for k in a)) for a, b in pairs]
    if clip is None:
        assert max(steps) > 1e3
    else:
        assert max(steps) <= 0.1 * clip + 1e-5


# -- early stopping ------------------------------------------------------------------------------
@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_restores_best_epoch(restore_best):
    X, y = make_data()
    net = make_net()
    script = iter([5.0, 4.0, 3.0, 2.0, 2.5, 3.0, 1.0, 0.5, 0.1, 0.0])
    snaps = {}
    h = fit_module(net, mse, (X, y), validate=lambda m: {"val_loss": next(script)}, patience=2, epochs=10,
                   lr=1e-2, restore_best=restore_best, callbacks=lambda e, r: snaps.__setitem__(e, weights(net)))
    assert h.stopped_early
    assert len(h) == 6 and sorted(snaps) == [1, 2, 3, 4, 5, 6]  # best (4) + patience (2)
    assert h.best_epoch == 4 and h.best_value == 2.0
    assert not same(snaps[4], snaps[6])
    assert same(weights(net), snaps[4] if restore_best else snaps[6])


def test_no_patience_runs_all_epochs_but_still_restores_best():
    X, y = make_data()
    net = make_net()
    script = iter([3.0, 1.0, 2.0, 4.0])
    snaps = {}
    h = fit_module(net, mse, (X, y), validate=lambda m: {"acc": next(script)}, monitor="acc", mode="max",
                   epochs=4, lr=1e-2, callbacks=lambda e, r: snaps.__setitem__(e, weights(net)))
    assert not h.stopped_early and len(h) == 4
    assert h.best_epoch == 4
    script = iter([3.0, 1.0, 2.0, 0.0])
    net = make_net()
    h = fit_module(net, mse, (X, y), validate=lambda m: {"val_loss": next(script)}, epochs=4, lr=1e-2,
                   callbacks=lambda e, r: snaps.__setitem__(e, weights(net)))
    assert h.best_epoch == 4 and same(weights(net), snaps[4])


# -- checkpoints and resume ----------------------------------------------------------------------
class Stop(Exception):
    pass


def _resume_kwargs(X, y):
    return dict(validate=lambda m: {"val_loss": float(mse(m, (X, y)))}, optimizer="adam", lr=1e-2,
                lr_schedule="cosine", epochs=6, batch_size=16, restore_best=False, seed=3)


def test_resume_after_interruption_is_bitwise_identical(tmp_path):
    X, y = make_data()
    kw = _resume_kwargs(X, y)
    ref = make_net(dropout=0.3)
    h_ref = fit_module(ref, mse, (X, y), **kw)

    path = tmp_path / "run.safetensors"

    def interrupt(epoch, record):
        if epoch == 3:
            raise Stop

    with pytest.raises(Stop):
        fit_module(make_net(dropout=0.3), mse, (X, y), checkpoint=path, callbacks=interrupt, **kw)
    info = load_checkpoint_info(path)
    assert info["epoch"] == 3 and not info["finished"] and len(info["history"]["records"]) == 3

    # A fresh process would rebuild the module from scratch: use other initial weights to be sure they are loaded.
    net = make_net(dropout=0.3, seed=99)
    epochs_seen = []
    h = fit_module(net, mse, (X, y), checkpoint=path, callbacks=lambda e, r: epochs_seen.append(e), **kw)
    assert epochs_seen == [4, 5, 6]
    assert len(h) == 6 and [r["epoch"] for r in h.records] == list(range(1, 7))
    assert h["train_loss"] == h_ref["train_loss"] and h["lr"] == h_ref["lr"]
    assert same(weights(net), weights(ref))
    assert load_checkpoint_info(path)["finished"]

    # A finished checkpoint returns at once with its weights; no epoch runs.
    net2 = make_net(dropout=0.3, seed=7)
    h2 = fit_module(net2, mse, (X, y), checkpoint=path, callbacks=lambda e, r: epochs_seen.append(e), **kw)
    assert epochs_seen == [4, 5, 6] and len(h2) == 6 and h2.to_dict() == h.to_dict()
    assert same(weights(net2), weights(ref)) and not net2.training


@pytest.mark.parametrize(("optimizer", "schedule"), [("sgd", "step"), ("rmsprop", "plateau"), ("adamw", None)])
def test_resume_other_optimizers_and_schedules(tmp_path, optimizer, schedule):
    X, y = make_data()
    kw = dict(_resume_kwargs(X, y), optimizer=optimizer, lr_schedule=schedule, weight_decay=1e-3, clip_norm=0.5,
              progress=True)
    ref = make_net(dropout=0.3)
    fit_module(ref, mse, (X, y), **kw)
    path = tmp_path / "r.safetensors"

    def interrupt(epoch, record):
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        fit_module(make_net(dropout=0.3), mse, (X, y), checkpoint=path, callbacks=interrupt, **kw)
    net = make_net(dropout=0.3, seed=1)
    assert len(fit_module(net, mse, (X, y), checkpoint=path, **kw)) == 6
    assert same(weights(net), weights(ref))


def test_resume_keeps_early_stopping_counters_and_best_weights(tmp_path):
    X, y = make_data()
    path = tmp_path / "es.safetensors"
    script = [5.0, 4.0, 4.5, 4.6, 4.7, 4.8, 4.9, 5.0]
    clock = {"epoch": 0}

    def validate(m):
        clock["epoch"] += 1
        return {"val_loss": script[clock["epoch"] - 1]}

    snaps = {}

    def interrupt(epoch, record):
        snaps[epoch] = weights(net)
        if epoch == 4:
            raise Stop

    net = make_net()
    kw = dict(validate=validate, patience=3, epochs=8, lr=1e-2, checkpoint=path)
    with pytest.raises(Stop):
        fit_module(net, mse, (X, y), callbacks=interrupt, **kw)
    assert load_checkpoint_info(path)["bad_epochs"] == 2
    net = make_net(seed=1)
    h = fit_module(net, mse, (X, y), callbacks=lambda e, r: snaps.__setitem__(e, weights(net)), **kw)
    assert h.stopped_early and len(h) == 5 and h.best_epoch == 2 and h.best_value == 4.0
    assert same(weights(net), snaps[2]) and not same(snaps[2], snaps[5])


def test_finished_checkpoint_loads_best_weights_when_restore_best(tmp_path):
    X, y = make_data()
    path = tmp_path / "best.safetensors"
    script = iter([1.0, 2.0, 3.0])
    net = make_net()
    h = fit_module(net, mse, (X, y), validate=lambda m: {"val_loss": next(script)}, epochs=3, lr=1e-2, checkpoint=path)
    assert h.best_epoch == 1
    net2 = make_net(seed=5)
    h2 = fit_module(net2, mse, (X, y), validate=lambda m: {"val_loss": 0.0}, epochs=3, lr=1e-2, checkpoint=path)
    assert h2.best_epoch == 1 and same(weights(net2), weights(net))


def test_resume_refuses_other_model_or_config(tmp_path):
    X, y = make_data()
    path = tmp_path / "a.safetensors"
    fit_module(make_net(), mse, (X, y), epochs=1, checkpoint=path)
    with pytest.raises(ValueError, match="different model/config.*0.weight"):
        fit_module(make_net(hidden=5), mse, (X, y), epochs=1, checkpoint=path)
    with pytest.raises(ValueError, match="different model/config.*lr"):
        fit_module(make_net(), mse, (X, y), epochs=1, lr=0.5, checkpoint=path)
    # resume=False starts over and overwrites.
    fit_module(make_net(hidden=5), mse, (X, y), epochs=2, checkpoint=path, resume=False)
    assert load_checkpoint_info(path)["epoch"] == 2


def test_checkpoint_is_safetensors_and_written_atomically(tmp_path, monkeypatch):
    X, y = make_data()
    path = tmp_path / "c.safetensors"
    net = make_net()
    fit_module(net, mse, (X, y), optimizer="sgd", lr=1e-2, epochs=2, checkpoint=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]
    tensors = load_file(str(path))  # plain safetensors, no pickle
    assert {"rng/cpu", "rng/shuffle"} <= tensors.keys()
    assert any(k.startswith("model/") for k in tensors) and any(k.startswith("best/") for k in tensors)
    assert any(k.startswith("optim/") for k in tensors)  # SGD momentum buffers
    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads(fh.metadata()["neurorec.train"])
    assert meta["epoch"] == 2 and meta["finished"] is True
    before = path.read_bytes()

    def broken_save(tensors, filename, metadata=None):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_mod, "save_file", broken_save)
    with pytest.raises(OSError, match="disk full"):
        fit_module(make_net(), mse, (X, y), epochs=2, checkpoint=path, resume=False)
    assert path.read_bytes() == before  # previous checkpoint intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors"]  # no .tmp left


# -- determinism ------------------------------------------------------------------------------------
def test_seed_determinism_and_global_rng_untouched():
    X, y = make_data()
    kw = dict(epochs=3, batch_size=8, lr=1e-2)
    state = torch.get_rng_state()
    a = make_net(dropout=0.5)
    fit_module(a, mse, (X, y), seed=1, **kw)
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(5)  # moving the global generator must not matter
    b = make_net(dropout=0.5)
    fit_module(b, mse, (X, y), seed=1, **kw)
    c = make_net(dropout=0.5)
    fit_module(c, mse, (X, y), seed=2, **kw)
    assert same(weights(a), weights(b))
    assert not same(weights(a), weights(c))


def test_no_shuffle_order_is_data_order():
    X, y = make_data(n=10)
    seen = []

    def loss_fn(m, b):
        seen.append(b[0][:, 0].clone())
        return mse(m, b)

    fit_module(make_net(), loss_fn, (X, y), epochs=1, batch_size=4, shuffle=False)
    assert torch.equal(torch.cat(seen), X[:, 0]) and [len(s) for s in seen] == [4, 4, 2]
    seen.clear()
    fit_module(make_net(), loss_fn, (X, y), epochs=1, batch_size=4, shuffle=True)
    order = torch.cat(seen)
    assert not torch.equal(order, X[:, 0]) and torch.equal(order.sort().values, X[:, 0].sort().values)


# -- regularisation ----------------------------------------------------------------------------------
def test_l1_drives_weights_to_zero_but_not_biases():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(32, 20, generator=g)  # few samples: without L1 the 18 useless weights fit the noise
    y = 2 * X[:, :2].sum(1, keepdim=True) + 5.0 + 0.5 * torch.randn(32, 1, generator=g)

    def run(l1):
        net = torch.nn.Linear(20, 1)
        fit_module(net, mse, (X, y), l1=l1, optimizer="sgd", momentum=0.0, lr=3e-2, epochs=40, batch_size=8)
        return net

    plain, sparse = run(0.0), run(0.3)
    w0, w1 = plain.weight.detach().abs()[0], sparse.weight.detach().abs()[0]
    assert (w1[2:] < 0.02).sum() >= 12 and (w0[2:] < 0.02).sum() <= 6
    assert w1[2:].sum() < 0.25 * w0[2:].sum()
    assert (w1[:2] > 1.5).all()  # the useful weights survive
    assert abs(sparse.bias.item() - 5.0) < 0.5  # biases are not penalised


# -- optimizers and schedules -------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd",
                                       lambda params: torch.optim.Adagrad(params, lr=0.1)])
def test_each_optimizer_trains(optimizer):
    X, y = make_data()
    h = fit_module(make_net(), mse, (X, y), optimizer=optimizer, lr=1e-2, weight_decay=1e-4, epochs=8,
                   batch_size=16)
    assert h["train_loss"][-1] < 0.7 * h["train_loss"][0]


def test_sgd_weight_decay_shrinks_weights():
    X, y = make_data()
    zero = lambda m, b: 0.0 * m(b[0]).sum()  # noqa: E731
    net = make_net()
    w0 = net[0].weight.detach().clone()
    fit_module(net, zero, (X, y), optimizer="sgd", momentum=0.0, weight_decay=0.1, lr=0.1, epochs=1, batch_size=64)
    assert torch.allclose(net[0].weight.detach(), w0 * (1 - 0.1 * 0.1))


def test_schedules_follow_their_shape(tmp_path):
    X, y = make_data()
    h = fit_module(make_net(), mse, (X, y), lr_schedule="cosine", epochs=5, lr=1e-2)
    lrs = h["lr"]
    assert lrs[0] == pytest.approx(1e-2) and all(a > b for a, b in zip(lrs[:-1], lrs[1:], strict=True))
    h = fit_module(make_net(), mse, (X, y), lr_schedule="step", epochs=6, lr=1e-2)
    assert h["lr"] == pytest.approx([1e-2, 1e-2, 1e-3, 1e-3, 1e-4, 1e-4])
    # plateau on a flat metric: patience=4 -> plateau patience 2, so the rate halves after 3 bad epochs,
    # and early stopping ends the run after 4 bad epochs.
    h = fit_module(make_net(), mse, (X, y), validate=lambda m: {"val_loss": 1.0}, lr_schedule="plateau",
                   patience=4, epochs=10, lr=1e-2)
    assert h["lr"] == pytest.approx([1e-2] * 4 + [5e-3]) and h.stopped_early
    # patience=None -> plateau patience 5: the rate halves after 6 bad epochs.
    h = fit_module(make_net(), mse, (X, y), validate=lambda m: {"val_loss": 1.0}, lr_schedule="plateau",
                   epochs=8, lr=1e-2)
    assert h["lr"] == pytest.approx([1e-2] * 7 + [5e-3]) and not h.stopped_early
    # ... and it watches the monitored metric in its mode: a steadily improving one never lowers the rate.
    for mode, sign in (("min", -1.0), ("max", 1.0)):
        clock = iter(range(100))
        h = fit_module(make_net(), mse, (X, y), validate=lambda m, s=sign: {"score": s * next(clock)},  # noqa: B023
                       monitor="score", mode=mode, lr_schedule="plateau", epochs=8, lr=1e-2)
        assert h["lr"] == pytest.approx([1e-2] * 8)
    # A callable schedule, checkpointed and resumed.
    path = tmp_path / "s.safetensors"

    def sched(opt):
        return torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)

    h = fit_module(make_net(), mse, (X, y), lr_schedule=sched, epochs=3, lr=1e-2, checkpoint=path)
    assert h["lr"] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert load_checkpoint_info(path)["scheduler"]["last_epoch"] == 3


# -- failures -----------------------------------------------------------------------------------------
def test_non_finite_loss_raises_with_epoch_and_batch():
    X, y = make_data(n=32)
    calls = []

    def loss_fn(m, b):
        calls.append(1)
        loss = mse(m, b)
        return loss * float("nan") if len(calls) == 7 else loss

    net = make_net()
    with pytest.raises(FloatingPointError, match="training loss.*epoch 2, batch 2"):
        fit_module(net, loss_fn, (X, y), epochs=3, batch_size=8)
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the bad step was not taken
    assert not net.training


def test_non_finite_gradient_raises():
    X, y = make_data(n=32)

    def loss_fn(m, b):  # finite loss, but d sqrt(x)/dx is infinite at 0
        return mse(m, b) + torch.sqrt((m[0].weight * 0).abs().sum())

    with pytest.raises(FloatingPointError, match="gradient norm.*epoch 1, batch 0"):
        fit_module(make_net(), loss_fn, (X, y), epochs=1, batch_size=8)


def test_import_hint_and_lazy_import():
    code = ("import sys, neurorec; assert 'neurorec.train' not in sys.modules\n"
            "sys.modules['torch'] = None\n"
            "try:\n    import neurorec.train\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'pip install "neurorec[torch]"' in out.stdout


# -- History ---------------------------------------------------------------------------------------------
def test_history_frame_plot_and_round_trip():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, y = make_data()
    h = fit_module(make_net(), mse, (X, y), validate=lambda m: {"val_loss": float(mse(m, (X, y)))}, epochs=3,
                   patience=5)
    df = h.to_frame()
    assert list(df["epoch"]) == [1, 2, 3] and {"train_loss", "val_loss", "lr", "grad_norm", "seconds"} <= set(df)
    ax = h.plot()
    assert {line.get_label() for line in ax.get_lines()} >= {"train_loss", "val_loss"}
    fig, ax2 = plt.subplots()
    assert h.plot(ax=ax2, metrics="lr") is ax2 and ax2.get_lines()[0].get_label() == "lr"
    plt.close("all")
    d = json.loads(json.dumps(h.to_dict()))
    h2 = History.from_dict(d)
    assert h2.to_dict() == h.to_dict() and len(h2) == 3
    assert (h2.best_epoch, h2.best_value, h2.stopped_early, h2.monitor) == (h.best_epoch, h.best_value, False,
                                                                           "val_loss")
    assert "3 epochs" in repr(h2)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_determinism_and_resume(tmp_path):
    X, y = (t.cuda() for t in make_data())
    kw = _resume_kwargs(X, y)
    state = torch.cuda.get_rng_state()
    a = make_net(dropout=0.3).cuda()
    fit_module(a, mse, (X, y), **kw)
    assert torch.equal(torch.cuda.get_rng_state(), state)
    path = tmp_path / "cuda.safetensors"

    def interrupt(epoch, record):
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        fit_module(make_net(dropout=0.3).cuda(), mse, (X, y), checkpoint=path, callbacks=interrupt, **kw)
    b = make_net(dropout=0.3, seed=4).cuda()
    fit_module(b, mse, (X, y), checkpoint=path, **kw)
    assert all(torch.allclose(weights(a)[k], weights(b)[k], atol=1e-6) for k in weights(a))
