"""The compiled loops (C files built by scripts/setup.sh with OpenMP; in a process with torch they share
torch's libgomp, one pool of threads): loading them.

Each loop has a torch fallback that gives the same numbers; :func:`load` returns None where the shared
library was not built (no C compiler), and callers take the fallback.
"""
from __future__ import annotations

import ctypes
from pathlib import Path

import torch

POINTER, SIZE, FLOAT = ctypes.c_void_p, ctypes.c_long, ctypes.c_float


def load(path: Path, signatures: dict[str, tuple[type | None, list]]) -> ctypes.CDLL | None:
    """The shared library at ``path`` with its functions' ``{name: (restype, argtypes)}``, or None where it
    was not built, does not load or lacks one of them (built from an older source)."""
    try:
        lib = ctypes.CDLL(str(path)) if path.is_file() else None
        for name, (restype, argtypes) in signatures.items() if lib is not None else ():
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
    except (OSError, AttributeError):
        return None
    return lib


def usable(*tensors: torch.Tensor) -> bool:
    """Whether tensors can go to a compiled loop: float32 on the CPU, not empty."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors) and tensors[0].numel() > 0
