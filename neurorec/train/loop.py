"""``fit_module``: the mini-batch gradient training loop every torch-trained neurorec model uses."""

from __future__ import annotations

import hashlib
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from neurorec.train.checkpoint import (
    FORMAT,
    decode_json,
    encode_json,
    flatten_optimizer_state,
    read_checkpoint,
    save_checkpoint,
    unflatten_optimizer_state,
)
from neurorec.train.history import BOOKKEEPING_KEYS, History

__all__ = ["fit_module", "OPTIMIZERS", "LR_SCHEDULES"]

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
LR_SCHEDULES = ("cosine", "step", "plateau")
_RESERVED = (*BOOKKEEPING_KEYS, "train_loss")


def fit_module(
    module: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    train: Sequence[torch.Tensor],
    *,
    validate: Callable[[torch.nn.Module], Mapping[str, float]] | None = None,
    monitor: str = "val_loss",
    mode: str = "min",
    optimizer: str | Callable = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    l1: float = 0.0,
    lr_schedule: str | Callable | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    shuffle: bool = True,
    clip_norm: float | None = None,
    patience: int | None = None,
    min_steps: int = 0,
    restore_best: bool = True,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = True,
    progress: bool = False,
    seed: int | None = 0,
    device: str | torch.device | None = None,
    callbacks: Iterable[Callable[[int, dict], Any]] | Callable[[int, dict], Any] = (),
    description: str = "train",
    fingerprint_extra: dict | None = None,
) -> History:
    """Train a torch module by mini-batch gradient descent, with early stopping and checkpoints.

    Each epoch visits every sample once, in mini-batches of ``batch_size`` (the last one may be
    smaller); each step minimises

    .. math:: L = \\mathrm{loss\\_fn}(\\mathrm{module}, \\mathrm{batch}) + \\lambda_1 \\sum_{W} \\lVert W \\rVert_1

    where the sum runs over the weight matrices (parameters with two or more dimensions).
    After the epoch, ``validate`` is called, the monitored metric decides about the best
    weights and early stopping, the learning-rate schedule steps, the checkpoint is written and
    the callbacks run.

    Parameters
    ----------
    module : torch.nn.Module
        The model, already on its device. It is in ``train()`` mode while training, in
        ``eval()`` mode during ``validate`` and when this function returns.
    loss_fn : callable
        ``loss_fn(module, batch) -> Tensor``: the scalar mean loss of one mini-batch, where
        ``batch`` is a tuple holding the same rows of each tensor of ``train``.
    train : tuple of torch.Tensor
        The training data: tensors sharing their first dimension (samples), e.g. ``(X, y)``.
        Mini-batches are index slices of each, left on the device where the tensor lives (put
        them on the module's device beforehand, or move them in ``loss_fn``). A single tensor
        is taken as a 1-tuple.
    validate : callable, optional
        ``validate(module) -> dict[str, float]``, called after every epoch in ``eval()`` mode
        under :func:`torch.no_grad`. Its keys go into the epoch's record (they may not be
        ``epoch``, ``train_loss``, ``lr``, ``grad_norm`` or ``seconds``).
    monitor : str, default "val_loss"
        The record key watched by early stopping, best-weight restoring and the ``"plateau"``
        schedule: a key of ``validate``'s dict, or ``"train_loss"``. Without ``validate``,
        ``"train_loss"`` is used whatever is passed.
    mode : {"min", "max"}, default "min"
        Whether a smaller or a larger ``monitor`` is better. Improvement is strict
        (``min_delta=0``); a NaN value never improves.
    optimizer : {"adam", "adamw", "rmsprop", "sgd"} or callable, default "adam"
        :class:`torch.optim.Adam`, :class:`~torch.optim.AdamW` (decoupled weight decay),
        :class:`~torch.optim.RMSprop` (with ``momentum``) or :class:`~torch.optim.SGD` (with
        ``momentum``, ``nesterov=False``). A callable ``optimizer(params) -> Optimizer`` builds
        its own; ``lr``, ``momentum`` and ``weight_decay`` are then not used.
    lr : float, default 1e-3
        Learning rate (initial one when a schedule is used).
    momentum : float, default 0.9
        Momentum of ``"sgd"`` and ``"rmsprop"``.
    weight_decay : float, default 0.0
        L2 penalty as torch's optimizer ``weight_decay`` (decoupled from the gradient for
        ``"adamw"``). Applies to all trainable parameters.
    l1 : float, default 0.0
        Coefficient of the L1 penalty ``l1 * sum(|w|)`` added to the loss, over parameters with
        ``dim >= 2`` (weight matrices and kernels, not biases or normalisation parameters).
        ``train_loss`` in the history does not include it.
    lr_schedule : {"cosine", "step", "plateau"} or callable, optional
        ``"cosine"``: :class:`~torch.optim.lr_scheduler.CosineAnnealingLR` with
        ``T_max=epochs``; ``"step"``: :class:`~torch.optim.lr_scheduler.StepLR` dividing the
        rate by 10 every ``max(1, epochs // 3)`` epochs; ``"plateau"``:
        :class:`~torch.optim.lr_scheduler.ReduceLROnPlateau` on ``monitor``, factor 0.5,
        patience ``max(1, patience // 2)`` (5 when ``patience`` is None). A callable
        ``lr_schedule(optimizer) -> scheduler`` builds its own; it is stepped once per epoch
        (with the monitored value if it is a ``ReduceLROnPlateau``). Its ``state_dict`` must be
        JSON-able (numbers, strings, lists, tuples, dicts) to be checkpointed.
    epochs : int, default 10
        Number of passes over ``train``.
    batch_size : int, default 32
        Samples per mini-batch.
    shuffle : bool, default True
        Visit the samples in a new random order each epoch (from a generator seeded by
        ``seed``, independent of torch's global one). If False, in order.
    clip_norm : float, optional
        Rescale the gradients so that their total 2-norm is at most ``clip_norm``
        (:func:`torch.nn.utils.clip_grad_norm_`) before each step.
    patience : int, optional
        Stop when ``monitor`` has not improved for this many consecutive epochs. None: no
        early stopping.
    min_steps : int, default 0
        Take at least this many optimiser steps, so that a small training set (a few
        mini-batches per epoch) is not stopped after a handful of updates. With
        :math:`s` steps per epoch, the number of epochs is raised to
        :math:`\\max(\\mathrm{epochs}, \\lceil \\mathrm{min\\_steps}/s \\rceil)`, ``patience`` to
        :math:`\\max(\\mathrm{patience}, \\lceil \\mathrm{min\\_steps}/(4s) \\rceil)` (early stopping
        waits at least a quarter of ``min_steps`` steps without improvement), and the schedules
        are built from these numbers (cosine's ``T_max``, step's ``step_size``); the plateau
        schedule's patience is raised to at least :math:`\\lceil \\mathrm{min\\_steps}/(8s) \\rceil`
        epochs, also when ``patience`` is None (no early stopping). 0 (default): epochs and
        patience are used as given.
    restore_best : bool, default True
        At the end, load the weights (the whole ``state_dict``) of the epoch where ``monitor``
        was best, whether training stopped early or not. If False the last weights stay.
    checkpoint : str or os.PathLike, optional
        A ``.safetensors`` file written atomically (``<path>.tmp`` then :func:`os.replace`) at
        the end of every epoch, holding everything needed to resume: weights, best weights,
        optimizer and scheduler state, random generator states, counters and history. No
        pickle is used. See :func:`~neurorec.train.load_checkpoint_info`.
    resume : bool, default True
        If ``checkpoint`` exists, continue from the epoch after the saved one; the result is
        the same, bit for bit on the CPU, as a run that was never interrupted. A checkpoint of
        a finished run returns its history at once, with its final (best, if
        ``restore_best``) weights loaded. A checkpoint from a different model or
        configuration is refused with a ValueError. With ``resume=False`` an existing file is
        overwritten.
    progress : bool, default False
        Show a tqdm bar over the epochs with the training loss and the monitored metric.
    seed : int or None, default 0
        Seeds the shuffling and torch's random numbers (dropout, ...) inside the loop, which
        runs under :func:`torch.random.fork_rng`: the caller's global random state is the same
        afterwards. Two calls with the same seed give identical weights on the CPU. None: not
        reproducible.
    device : str or torch.device, optional
        The device whose random generator the loop forks and seeds; default: the device of
        the module's first parameter.
    callbacks : callable or iterable of callables
        ``callback(epoch, record)``, called after each epoch once its record (a copy) is
        complete and the checkpoint written. Raising from one stops training; the checkpoint
        of that epoch is kept, so a later call resumes after it. Callbacks should not draw
        from torch's random generator, or a resumed run would differ.
    description : str, default "train"
        The progress bar's label.
    fingerprint_extra : dict, optional
        JSON-able facts a checkpoint must match before it is resumed, besides the module's
        parameter names and shapes, these hyperparameters and a SHA-256 of the training
        tensors (which are always checked): a model passes its hyperparameters and a digest of
        its validation data, so a checkpoint path reused for another run is refused.

    Returns
    -------
    History
        One record per epoch (see :class:`~neurorec.train.History`), with ``best_epoch``,
        ``best_value`` and ``stopped_early``.

    Raises
    ------
    FloatingPointError
        If a batch's loss or gradient norm is NaN or infinite; the message names the epoch
        and the batch. The optimizer step of that batch is not taken.
    ValueError
        For invalid arguments, or a checkpoint written for a different model or configuration.

    Examples
    --------
    >>> import torch
    >>> from neurorec.train import fit_module
    >>> net = torch.nn.Linear(3, 1)
    >>> X, y = torch.randn(64, 3), torch.randn(64, 1)
    >>> mse = lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1])
    >>> h = fit_module(net, mse, (X, y), epochs=3, lr=1e-2)
    >>> len(h), h.monitor
    (3, 'train_loss')
    """
    train = _check_train(train)
    n = train[0].shape[0]
    # numpy scalars (np.int64 from a grid, np.float32 from logspace) are fine: cast them
    epochs, batch_size = _as_int(epochs, "epochs"), _as_int(batch_size, "batch_size")
    patience = None if patience is None else _as_int(patience, "patience")
    min_steps = _as_int(min_steps, "min_steps")
    if min_steps < 0:
        raise ValueError(f"min_steps must be >= 0, got {min_steps}.")
    lr, momentum = _as_float(lr, "lr"), _as_float(momentum, "momentum")
    weight_decay, l1 = _as_float(weight_decay, "weight_decay"), _as_float(l1, "l1")
    clip_norm = None if clip_norm is None else _as_float(clip_norm, "clip_norm")
    if validate is None:
        monitor = "train_loss"
    _check_args(mode=mode, monitor=monitor, optimizer=optimizer, lr=lr, momentum=momentum,
                weight_decay=weight_decay, l1=l1, lr_schedule=lr_schedule, epochs=epochs, batch_size=batch_size,
                clip_norm=clip_norm, patience=patience)
    plateau_patience = 5 if patience is None else max(1, patience // 2)
    if min_steps:
        per_epoch = _steps_per_epoch(n, batch_size)
        epochs = max(epochs, -(-min_steps // per_epoch))
        if patience is not None:
            patience = max(patience, -(-min_steps // (4 * per_epoch)))
        # the plateau schedule waits at least an eighth of min_steps steps, with or without
        # early stopping: 5 epochs of 2 steps would halve the rate to nothing on tiny data
        plateau_patience = max(plateau_patience, -(-min_steps // (8 * per_epoch)))
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    if not all(callable(cb) for cb in callbacks):
        raise TypeError("callbacks must be callables callback(epoch, record) (or an iterable of them).")
    device = _resolve_device(module, device)
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        raise ValueError("module has no trainable parameters (none with requires_grad=True).")
    l1_params = [p for p in params if p.dim() >= 2]

    opt = _make_optimizer(optimizer, params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    sched = _make_scheduler(lr_schedule, opt, epochs=epochs, plateau_patience=plateau_patience, mode=mode)
    fingerprint = _fingerprint(module, train, {
        "optimizer": _name(optimizer), "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "l1": l1,
        "lr_schedule": _name(lr_schedule), "epochs": epochs, "batch_size": batch_size, "shuffle": bool(shuffle),
        "clip_norm": clip_norm, "patience": patience, "restore_best": bool(restore_best), "monitor": monitor,
        "mode": mode, "seed": seed, "validate": validate is not None,
        **({"extra": encode_json(fingerprint_extra, "fingerprint_extra")} if fingerprint_extra else {}),
    })
    ckpt = Path(checkpoint) if checkpoint is not None else None

    run = {"epoch": 0, "records": [], "best_value": None, "best_epoch": None, "bad_epochs": 0, "stopped_early": False}
    best_state: dict[str, torch.Tensor] | None = None
    saved: dict[str, torch.Tensor] | None = None
    if ckpt is not None and resume and ckpt.exists():
        saved, info = read_checkpoint(ckpt)
        _check_fingerprint(ckpt, info.get("fingerprint"), fingerprint)
        hist = info["history"]
        run.update(epoch=info["epoch"], records=hist["records"], best_value=info["best_value"],
                   best_epoch=info["best_epoch"], bad_epochs=info["bad_epochs"], stopped_early=info["stopped_early"])
        best = {k[5:]: v for k, v in saved.items() if k.startswith("best/")}
        best_state = best if run["best_epoch"] is not None else None
        module.load_state_dict({k[6:]: v for k, v in saved.items() if k.startswith("model/")})
        if info["finished"]:
            if restore_best and best_state is not None:
                module.load_state_dict(best_state)
            module.eval()
            return _history(run, monitor, mode)
        opt.load_state_dict(unflatten_optimizer_state(saved, info["optimizer"]))
        if sched is not None and info.get("scheduler") is not None:
            sched.load_state_dict(decode_json(info["scheduler"]))

    cuda_index = None
    if device.type == "cuda":
        cuda_index = device.index if device.index is not None else torch.cuda.current_device()
    fork_devices = [cuda_index] if cuda_index is not None else []

    pbar = None
    try:
        with torch.random.fork_rng(devices=fork_devices):
            # Seed only this loop's generators: torch.manual_seed would also reseed every other GPU.
            gen = torch.Generator()
            if seed is None:
                gen.seed()
            else:
                torch.default_generator.manual_seed(seed)
                gen.manual_seed(seed)
                if cuda_index is not None:
                    with torch.cuda.device(cuda_index):
                        torch.cuda.manual_seed(seed)
            if saved is not None:
                torch.set_rng_state(saved["rng/cpu"])
                gen.set_state(saved["rng/shuffle"])
                if cuda_index is not None and "rng/cuda" in saved:
                    torch.cuda.set_rng_state(saved["rng/cuda"], cuda_index)
                saved = None  # free the CPU copies

            if progress:
                from tqdm.auto import tqdm

                pbar = tqdm(total=epochs, initial=run["epoch"], desc=description, unit="epoch", dynamic_ncols=True)

            for epoch in range(run["epoch"] + 1, epochs + 1):
                t0 = time.perf_counter()
                module.train()
                lr_now = float(opt.param_groups[0]["lr"])
                train_loss, grad_norm = _train_epoch(module, loss_fn, train, opt, params, l1_params, l1=l1,
                                                     batch_size=batch_size, clip_norm=clip_norm,
                                                     order=torch.randperm(n, generator=gen) if shuffle else None,
                                                     epoch=epoch)
                record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
                if validate is not None:
                    module.eval()
                    with torch.no_grad():
                        metrics = validate(module)
                    record.update(_check_metrics(metrics))
                if monitor not in record:
                    raise KeyError(f"monitor={monitor!r} is not among the epoch's metrics {sorted(record)}; "
                                   f"return it from validate or pass one of those.")
                value = float(record[monitor])
                record["lr"] = lr_now
                record["grad_norm"] = grad_norm

                if _is_better(value, run["best_value"], mode):
                    run.update(best_value=value, best_epoch=epoch, bad_epochs=0)
                    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                else:
                    run["bad_epochs"] += 1
                if sched is not None:
                    if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                        sched.step(value)
                    else:
                        sched.step()
                stop = patience is not None and run["bad_epochs"] >= patience
                run.update(epoch=epoch, stopped_early=stop)
                record["seconds"] = time.perf_counter() - t0
                run["records"].append(record)

                if ckpt is not None:
                    _write(ckpt, module, best_state, opt, sched, gen, cuda_index, run, fingerprint,
                           finished=stop or epoch == epochs, monitor=monitor, mode=mode)
                if pbar is not None:
                    pbar.update(1)
                    post = {"train_loss": f"{train_loss:.4g}"}
                    if monitor != "train_loss":
                        post[monitor] = f"{value:.4g}"
                    pbar.set_postfix(post)
                for cb in callbacks:
                    cb(epoch, dict(record))
                if stop:
                    break
    finally:
        if pbar is not None:
            pbar.close()
        module.eval()

    if restore_best and best_state is not None:
        module.load_state_dict(best_state)
    return _history(run, monitor, mode)


# -- one epoch ---------------------------------------------------------------------------------
def _batch_starts(n: int, batch_size: int) -> list[int]:
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()            # a last batch of one sample breaks batch normalisation: merge it
    return starts


def _steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, len(_batch_starts(n, batch_size)))


def _train_epoch(module, loss_fn, train, opt, params, l1_params, *, l1, batch_size, clip_norm, order, epoch):
    """Run the steps of one epoch; return (mean train loss, max pre-clip gradient norm)."""
    n = train[0].shape[0]
    total, max_norm = 0.0, 0.0
    starts = _batch_starts(n, batch_size)
    for b, (start, stop) in enumerate(zip(starts, starts[1:] + [n], strict=True)):
        if order is None:
            batch = tuple(t[start:stop] for t in train)
        else:
            idx = order[start:stop]
            on_device = {d: idx.to(d) for d in {t.device for t in train}}
            batch = tuple(t[on_device[t.device]] for t in train)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(module, batch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
            raise ValueError(f"loss_fn must return a scalar tensor (the mean loss of the batch), got {shape}.")
        objective = loss
        if l1:
            objective = loss + l1 * sum(p.abs().sum() for p in l1_params)
        objective.backward()
        if clip_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, clip_norm)
        else:
            grads = [p.grad for p in params if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=loss.device)
        if loss.device.type == "cpu" and norm.device.type == "cpu":
            loss_value, norm_value = loss.item(), norm.item()
        else:   # one device->host transfer per step, for the loss, the norm and the finiteness check
            loss_value, norm_value = torch.stack([loss.detach().reshape(()).float(),
                                                  norm.detach().to(loss.device).float()]).tolist()
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"non-finite training loss ({loss_value}) at epoch {epoch}, batch {b} "
                                     f"(0-based); lower lr, use clip_norm, or check the data for NaN/inf.")
        if not math.isfinite(norm_value):
            raise FloatingPointError(f"non-finite gradient norm ({norm_value}) at epoch {epoch}, batch {b} "
                                     f"(0-based) although the loss was {loss_value}; check the model for "
                                     f"operations with infinite derivatives.")
        opt.step()
        total += loss_value * batch[0].shape[0]
        max_norm = max(max_norm, norm_value)
    return total / n, max_norm


def _is_better(value: float, best: float | None, mode: str) -> bool:
    if math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    return value < best if mode == "min" else value > best


# -- checkpoint ------------------------------------------------------------------------------
def _write(path, module, best_state, opt, sched, gen, cuda_index, run, fingerprint, *, finished, monitor, mode):
    tensors = {f"model/{k}": v for k, v in module.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best/{k}": v for k, v in best_state.items()})
    opt_tensors, opt_json = flatten_optimizer_state(opt.state_dict())
    tensors.update(opt_tensors)
    tensors["rng/cpu"] = torch.get_rng_state()
    tensors["rng/shuffle"] = gen.get_state()
    if cuda_index is not None:
        tensors["rng/cuda"] = torch.cuda.get_rng_state(cuda_index)
    info = {
        "format": FORMAT,
        "epoch": run["epoch"],
        "finished": bool(finished),
        "best_epoch": run["best_epoch"],
        "best_value": run["best_value"],
        "bad_epochs": run["bad_epochs"],
        "stopped_early": run["stopped_early"],
        "history": _history(run, monitor, mode).to_dict(),
        "optimizer": opt_json,
        "scheduler": None if sched is None else encode_json(sched.state_dict(), "lr_schedule state_dict"),
        "fingerprint": fingerprint,
        "versions": {"torch": torch.__version__, "neurorec": _neurorec_version()},
    }
    save_checkpoint(path, tensors, info)


def _neurorec_version() -> str:
    from neurorec import __version__

    return __version__


def _history(run, monitor, mode) -> History:
    return History(run["records"], monitor=monitor, mode=mode, best_epoch=run["best_epoch"],
                   best_value=run["best_value"], stopped_early=run["stopped_early"])


def _fingerprint(module, train, config) -> dict:
    model = [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in module.state_dict().items()]
    h = hashlib.sha256()    # the training data themselves: a checkpoint never resumes on other data
    for t in train:
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    config = dict(config, train_shapes=[list(t.shape) for t in train], train_sha256=h.hexdigest())
    return {"module": type(module).__qualname__, "state": model, "config": encode_json(config, "config")}


def _check_fingerprint(path, saved: dict | None, now: dict) -> None:
    if saved == now:
        return
    if saved is None:
        raise ValueError(f"checkpoint {path} has no fingerprint; it was not written by neurorec.train.fit_module.")
    diffs = []
    if saved.get("module") != now["module"]:
        diffs.append(f"module class {saved.get('module')!r} (checkpoint) vs {now['module']!r} (now)")
    if saved.get("state") != now["state"]:
        old = {k: (s, d) for k, s, d in saved.get("state", [])}
        new = {k: (s, d) for k, s, d in now["state"]}
        changed = [k for k in old.keys() | new.keys() if old.get(k) != new.get(k)]
        shown = ", ".join(f"{k!r}: {old.get(k, 'missing')} vs {new.get(k, 'missing')}" for k in sorted(changed)[:5])
        diffs.append(f"parameters/buffers differ ({shown}{', ...' if len(changed) > 5 else ''})")
    old_cfg, new_cfg = saved.get("config", {}), now["config"]
    for k in sorted(old_cfg.keys() | new_cfg.keys()):
        if old_cfg.get(k) != new_cfg.get(k):
            diffs.append(f"{k}: {old_cfg.get(k)!r} (checkpoint) vs {new_cfg.get(k)!r} (now)")
    raise ValueError(f"checkpoint {path} was written for a different model/config: {'; '.join(diffs)}. "
                     f"Pass resume=False to overwrite it, or use another checkpoint path.")


# -- argument handling -----------------------------------------------------------------------
def _check_train(train) -> tuple[torch.Tensor, ...]:
    if isinstance(train, torch.Tensor):
        train = (train,)
    if not isinstance(train, tuple | list) or not train:
        raise TypeError(f"train must be a non-empty tuple of tensors, got {type(train).__name__}.")
    for i, t in enumerate(train):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"train[{i}] must be a torch.Tensor, got {type(t).__name__}.")
        if t.dim() == 0:
            raise ValueError(f"train[{i}] must have a samples dimension, got a 0-d tensor.")
    lengths = [t.shape[0] for t in train]
    if len(set(lengths)) != 1:
        raise ValueError(f"train tensors must share their first (samples) dimension, got lengths {lengths}.")
    if lengths[0] == 0:
        raise ValueError("train has 0 samples.")
    return tuple(train)


def _as_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    return int(value)


def _as_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}.")
    return float(value)


def _check_args(*, mode, monitor, optimizer, lr, momentum, weight_decay, l1, lr_schedule, epochs, batch_size,
                clip_norm, patience) -> None:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be a str, got {type(monitor).__name__}.")
    if not (callable(optimizer) or optimizer in OPTIMIZERS):
        raise ValueError(f"optimizer must be one of {OPTIMIZERS} or a callable(params) -> Optimizer, "
                         f"got {optimizer!r}.")
    if not (lr_schedule is None or callable(lr_schedule) or lr_schedule in LR_SCHEDULES):
        raise ValueError(f"lr_schedule must be None, one of {LR_SCHEDULES} or a callable(optimizer) -> scheduler, "
                         f"got {lr_schedule!r}.")
    for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay), ("l1", l1)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    if lr <= 0 and not callable(optimizer):
        raise ValueError(f"lr must be > 0, got {lr!r}.")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
        raise ValueError(f"patience must be None or an int >= 1, got {patience!r}.")
    if clip_norm is not None and (not isinstance(clip_norm, int | float) or not clip_norm > 0):
        raise ValueError(f"clip_norm must be None or a number > 0, got {clip_norm!r}.")


def _check_metrics(metrics) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"validate must return a dict[str, float], got {type(metrics).__name__}.")
    out = {}
    for k, v in metrics.items():
        if k in _RESERVED:
            raise ValueError(f"validate returned the reserved key {k!r}; rename it (reserved: {_RESERVED}).")
        out[str(k)] = float(v)
    return out


def _resolve_device(module, device) -> torch.device:
    if device is not None:
        return torch.device(device)
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def _name(obj) -> str | None:
    if obj is None or isinstance(obj, str):
        return obj
    return "callable:" + getattr(obj, "__qualname__", type(obj).__qualname__)


def _make_optimizer(optimizer, params, *, lr, momentum, weight_decay) -> torch.optim.Optimizer:
    if callable(optimizer):
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"optimizer(params) must return a torch.optim.Optimizer, got {type(opt).__name__}.")
        return opt
    if optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=False, weight_decay=weight_decay)


def _make_scheduler(lr_schedule, opt, *, epochs, plateau_patience, mode):
    sched = torch.optim.lr_scheduler
    if lr_schedule is None:
        return None
    if callable(lr_schedule):
        return lr_schedule(opt)
    if lr_schedule == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=epochs)
    if lr_schedule == "step":
        return sched.StepLR(opt, step_size=max(1, epochs // 3), gamma=0.1)
    return sched.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=plateau_patience)
