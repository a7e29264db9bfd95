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

The metadata also holds ``sha256``, a SHA-256 over the format name, the JSON document exactly as
stored and every tensor (name, dtype, shape, bytes). A checkpoint whose weights, epoch, ``finished``
flag, optimizer settings or anything else were changed after it was written, or one written
without that checksum (format ``neurorec-train-checkpoint/1``), is refused with a
:class:`CheckpointError` (a :class:`neurorec.ModelFileError`, hence a ValueError) instead of
being resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from neurorec.base import ModelFileError

__all__ = ["load_checkpoint_info", "save_checkpoint", "read_checkpoint", "flatten_optimizer_state",
           "unflatten_optimizer_state", "encode_json", "decode_json", "META_KEY", "FORMAT", "CheckpointError"]

META_KEY = "neurorec.train"
FORMAT = "neurorec-train-checkpoint/2"     # /2: with the whole-file sha256; /1 files are refused


class CheckpointError(ModelFileError):
    """A training checkpoint is not readable, not a neurorec.train checkpoint, or was altered
    after it was written. A :class:`neurorec.ModelFileError` (and so a ValueError)."""


def _digest(fmt: str, meta_json: str, tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    h.update(fmt.encode())
    h.update(b"\n")
    h.update(meta_json.encode())
    for k in sorted(tensors):
        t = tensors[k].detach().to("cpu").contiguous()
        h.update(b"\n" + k.encode() + b"\n" + str(t.dtype).encode() + b"\n" + str(list(t.shape)).encode() + b"\n")
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


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
    meta_json = json.dumps(info)
    metadata = {"format": FORMAT, META_KEY: meta_json, "sha256": _digest(FORMAT, meta_json, flat)}
    try:
        save_file(flat, str(tmp), metadata=metadata)
        with open(tmp, "r+b") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _raw_metadata(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path} is not a safetensors file ({exc}).") from None
    if META_KEY not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not a neurorec.train checkpoint "
                              f"(no {META_KEY!r} metadata).")
    if meta.get("format") != FORMAT or "sha256" not in meta:
        raise CheckpointError(f"{path} has checkpoint format {meta.get('format')!r} without the checksum this "
                              f"neurorec needs (format {FORMAT!r}); it was written by an older neurorec. "
                              f"Pass resume=False to start over, or delete it.")
    return meta


def _parse(path: Path, meta: dict) -> dict:
    try:
        info = json.loads(meta[META_KEY])
    except ValueError as exc:
        raise CheckpointError(f"{path}: its {META_KEY!r} metadata is not valid JSON ({exc}).") from None
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: its {META_KEY!r} metadata is a {type(info).__name__}, expected an object.")
    return info


def _verify(path: Path, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    if _digest(meta["format"], meta[META_KEY], tensors) != meta["sha256"]:
        raise CheckpointError(f"checkpoint {path} was modified after it was written: its contents do not match "
                              f"its sha256 checksum; refusing to resume from it. Pass resume=False to start over.")


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable safetensors file ({exc}).") from None


def load_checkpoint_info(path: str | os.PathLike, verify: bool = True) -> dict:
    """The JSON part of a checkpoint written by :func:`~neurorec.train.fit_module`.

    Parameters
    ----------
    path : str or os.PathLike
    verify : bool, default True
        Check the whole file against its checksum (reads the tensors too). With ``False`` only
        the file header is read, which is cheap even for large models, but not checked.

    Returns
    -------
    dict
        Keys include ``epoch`` (last completed epoch, 1-based), ``finished`` (bool),
        ``history`` (:meth:`History.to_dict` form), ``best_epoch``, ``best_value``,
        ``bad_epochs``, ``fingerprint``, ``optimizer`` and ``scheduler``.

    Raises
    ------
    CheckpointError
        (a ValueError) If the file is not a checkpoint, or was altered after it was written.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    meta = _raw_metadata(path)
    info = _parse(path, meta)
    if verify:
        _verify(path, meta, _read_tensors(path))
    return info


def read_checkpoint(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """Tensors (on the CPU) and the JSON part of a checkpoint, after checking its checksum.

    Raises :class:`CheckpointError` if the file is not a checkpoint or was altered."""
    path = Path(path)
    meta = _raw_metadata(path)
    info = _parse(path, meta)
    tensors = _read_tensors(path)
    _verify(path, meta, tensors)
    return tensors, info
