"""Training checkpoints as one safetensors file: tensors as tensors, everything else as JSON.

A checkpoint holds, as tensors, the module's ``state_dict`` (keys ``model/<name>``), the best
epoch's ``state_dict`` (``best/<name>``), the optimizer's tensor state (``optim/<param
index>/<name>``) and the random number generator states (``rng/...``, uint8); and, as a JSON
document stored in the safetensors header metadata under :data:`META_KEY`, the epoch, the
history, the early-stopping counters, the optimizer's param groups and non-tensor state, the
scheduler's state and a fingerprint of the model and configuration. No pickle is involved:
loading a checkpoint from someone else cannot run code.

Files are written atomically: to ``<path>.tmp``, flushed to disk, then moved over ``path``
with :func:`os.replace`, so a run killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

__all__ = ["load_checkpoint_info", "save_checkpoint", "read_checkpoint", "flatten_optimizer_state",
           "unflatten_optimizer_state", "encode_json", "decode_json", "META_KEY", "FORMAT"]

META_KEY = "neurorec.train"
FORMAT = "neurorec-train-checkpoint/1"


# -- JSON with tuples and tensors ----------------------------------------------------------
def encode_json(obj: Any, where: str = "value") -> Any:
    """Turn ``obj`` into plain JSON types, keeping tuples and small tensors recoverable.

    Tuples become ``{"__tuple__": [...]}`` and tensors ``{"__tensor__": [...], "dtype": ...}`` so
    that :func:`decode_json` gives back what optimizers and schedulers expect. Anything else that
    JSON cannot hold raises a TypeError naming ``where``.
    """
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, tuple):
        return {"__tuple__": [encode_json(v, where) for v in obj]}
    if isinstance(obj, list):
        return [encode_json(v, where) for v in obj]
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: cannot store the non-string key {k!r} in a checkpoint.")
            out[k] = encode_json(v, f"{where}[{k!r}]")
        return out
    if isinstance(obj, torch.Tensor):
        return {"__tensor__": obj.detach().cpu().tolist(), "dtype": str(obj.dtype).removeprefix("torch.")}
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # numpy scalar
        return obj.item()
    raise TypeError(f"{where}: cannot store a {type(obj).__name__} in a checkpoint (JSON only, no pickle).")


def decode_json(obj: Any) -> Any:
    """Inverse of :func:`encode_json`."""
    if isinstance(obj, list):
        return [decode_json(v) for v in obj]
    if isinstance(obj, dict):
        if "__tuple__" in obj and len(obj) == 1:
            return tuple(decode_json(v) for v in obj["__tuple__"])
        if "__tensor__" in obj and len(obj) == 2:
            return torch.tensor(obj["__tensor__"], dtype=getattr(torch, obj["dtype"]))
        return {k: decode_json(v) for k, v in obj.items()}
    return obj


# -- optimizer state -------------------------------------------------------------------------
def flatten_optimizer_state(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors (``optim/<index>/<name>``) and a JSON part."""
    tensors: dict[str, torch.Tensor] = {}
    other: dict[str, dict] = {}
    for index, pstate in state_dict["state"].items():
        for name, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{index}/{name}"] = value
            else:
                other.setdefault(str(index), {})[name] = encode_json(value, f"optimizer state {name!r}")
    groups = encode_json(state_dict["param_groups"], "optimizer param_groups")
    return tensors, {"param_groups": groups, "state": other}


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], info: dict) -> dict:
    """Inverse of :func:`flatten_optimizer_state`."""
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    for index, pstate in info["state"].items():
        state.setdefault(int(index), {}).update(decode_json(pstate))
    return {"state": state, "param_groups": decode_json(info["param_groups"])}


# -- files -----------------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], info: dict) -> None:
    """Write ``tensors`` and the JSON-able ``info`` to ``path`` atomically (tmp file + os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # safetensors wants contiguous CPU tensors that share no memory (tied weights would).
    flat = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    metadata = {"format": FORMAT, META_KEY: json.dumps(info)}
    try:
        save_file(flat, str(tmp), metadata=metadata)
        with open(tmp, "r+b") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _metadata(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise ValueError(f"{path} is not a safetensors file ({exc}).") from None
    if META_KEY not in meta:
        raise ValueError(f"{path} is a safetensors file but not a neurorec.train checkpoint "
                         f"(no {META_KEY!r} metadata).")
    return json.loads(meta[META_KEY])


def load_checkpoint_info(path: str | os.PathLike) -> dict:
    """The JSON part of a checkpoint written by :func:`~neurorec.train.fit_module`.

    Only the file header is read, so this is cheap even for large models.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
        Keys include ``epoch`` (last completed epoch, 1-based), ``finished`` (bool),
        ``history`` (:meth:`History.to_dict` form), ``best_epoch``, ``best_value``,
        ``bad_epochs``, ``fingerprint``, ``optimizer`` and ``scheduler``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    return _metadata(path)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors (on the CPU) and the JSON part of a checkpoint."""
    path = Path(path)
    info = _metadata(path)
    return load_file(str(path), device="cpu"), info
