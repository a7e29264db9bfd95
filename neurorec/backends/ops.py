"""The array primitives model code is written against, for numpy and torch."""

from __future__ import annotations

import importlib

import numpy as np

BACKENDS = ("numpy", "torch")
DTYPES = ("float32", "float64")

_EXTRA_FOR = {"torch": "torch", "snntorch": "torch", "reservoirpy": "cpu", "brian2": "cpu",
              "aeon": "data", "mlxtend": "data", "mnist1d": "data", "dask": "dask",
              "nir": "hardware", "nirtorch": "hardware", "norse": "peers", "rockpool": "peers"}


def require(module: str):
    """Import an optional engine, or raise an ImportError that says which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRA_FOR.get(module.split(".")[0], "all")
        raise ImportError(f"{module} is needed for this feature but is not installed: "
                          f'pip install "neurorec[{extra}]"  ({exc})') from None


class Ops:
    """Array operations on one backend, device and dtype.

    Parameters
    ----------
    backend : {"numpy", "torch"}
    device : str
        ``"cpu"`` or a torch device string such as ``"cuda"`` / ``"cuda:1"`` (torch only).
    dtype : {"float32", "float64"}
    """

    def __init__(self, backend: str = "numpy", device: str = "cpu", dtype: str = "float32"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}.")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}.")
        self.backend, self.device, self.dtype_name = backend, str(device), dtype
        if backend == "numpy":
            if self.device != "cpu":
                raise ValueError(f"the numpy backend runs on device='cpu' only, got device={device!r}; "
                                 f"use backend='torch' for {device!r}.")
            self.xp = np
            self.dtype = np.dtype(dtype)
        else:
            torch = require("torch")
            self.xp = torch
            self.dtype = getattr(torch, dtype)
            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise RuntimeError(f"device={device!r} was asked for but torch sees no CUDA device.")
            self.device_obj = torch.device(self.device)

    @property
    def is_torch(self) -> bool:
        return self.backend == "torch"

    @property
    def is_cuda(self) -> bool:
        return self.is_torch and self.device_obj.type == "cuda"

    # -- conversion ------------------------------------------------------------------
    def asarray(self, a, dtype=None):
        """Move a numpy array (or tensor) onto this backend, in its dtype."""
        if self.is_torch:
            t = a if isinstance(a, self.xp.Tensor) else self.xp.from_numpy(np.ascontiguousarray(a))
            return t.to(device=self.device_obj, dtype=dtype or self.dtype)
        return np.asarray(a, dtype=dtype or self.dtype)

    def to_numpy(self, a) -> np.ndarray:
        if self.is_torch:
            return a.detach().cpu().numpy()
        return np.asarray(a)

    def index(self, a):
        """An integer index array usable on this backend's arrays."""
        if self.is_torch:
            return self.xp.as_tensor(np.asarray(a), device=self.device_obj)
        return a

    def empty(self, shape, dtype=None):
        if self.is_torch:
            return self.xp.empty(shape, dtype=dtype or self.dtype, device=self.device_obj)
        return np.empty(shape, dtype=dtype or self.dtype)

    def zeros(self, shape, dtype=None):
        if self.is_torch:
            return self.xp.zeros(shape, dtype=dtype or self.dtype, device=self.device_obj)
        return np.zeros(shape, dtype=dtype or self.dtype)

    # -- maths -----------------------------------------------------------------------
    def matmul(self, a, b, out=None):
        if out is None:
            return a @ b
        return self.xp.matmul(a, b, out=out)

    def addmm_(self, out, a, b, c):
        """``out = a + b @ c`` without temporaries."""
        if self.is_torch:
            return self.xp.addmm(a, b, c, out=out)
        np.matmul(b, c, out=out)
        out += a
        return out

    def activation_(self, name: str, x):
        """Apply an activation in place (``tanh``, ``identity``, ``relu``, ``sigmoid``)."""
        xp = self.xp
        if name == "tanh":
            return xp.tanh(x, out=x)
        if name == "identity":
            return x
        if name == "relu":
            return x.clamp_(min=0) if self.is_torch else np.maximum(x, 0, out=x)
        if name == "sigmoid":
            if self.is_torch:
                return x.sigmoid_()
            from scipy.special import expit
            return expit(x, out=x)
        raise ValueError(f"unknown activation {name!r}; choose one of tanh, identity, relu, sigmoid.")

    def lerp_(self, h, target, weight: float):
        """``h += weight * (target - h)`` in place (the leaky-integrator update)."""
        if weight == 1.0:
            h[...] = target
            return h
        if self.is_torch:
            return h.lerp_(target, weight)
        target -= h
        target *= weight
        h += target
        return h

    def synchronize(self):
        if self.is_cuda:
            self.xp.cuda.synchronize(self.device_obj)


def get_ops(backend: str = "numpy", device: str = "cpu", dtype: str = "float32") -> Ops:
    return Ops(backend, device, dtype)
