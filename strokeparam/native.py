"""The compiled loops (C files built by scripts/setup.sh): loading them, and running them on torch's threads.

Each loop has a torch fallback that gives the same numbers; :func:`load` returns None where the shared
library was not built (no C compiler), and callers take the fallback.
"""
from __future__ import annotations

import ctypes
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import torch

POINTER, SIZE, FLOAT = ctypes.c_void_p, ctypes.c_long, ctypes.c_float
MIN_SHARE = 4096      # work units (pixels) below which one thread does a call alone


def load(path: Path, signatures: dict[str, tuple[type | None, list]]) -> ctypes.CDLL | None:
    """The shared library at ``path`` with its functions' ``{name: (restype, argtypes)}``, or None where it
    was not built or does not load."""
    try:
        lib = ctypes.CDLL(str(path)) if path.is_file() else None
    except OSError:
        return None
    for name, (restype, argtypes) in signatures.items() if lib is not None else ():
        function = getattr(lib, name)
        function.restype, function.argtypes = restype, argtypes
    return lib


def usable(*tensors: torch.Tensor) -> bool:
    """Whether tensors can go to a compiled loop: float32 on the CPU, not empty."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors) and tensors[0].numel() > 0


@lru_cache(maxsize=None)
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="strokeparam")


def in_threads(run, costs: list[int] | None = None, total: int | None = None, align: int = 1) -> list:
    """``run(start, stop)`` over consecutive ranges that cover [0, n), on torch's intra-op thread count (the
    compiled loops let go of Python's lock), each thread with at least :data:`MIN_SHARE` units of work;
    returns the results in order. Either ``total`` = n units of equal cost (range ends rounded to multiples
    of ``align``), or ``costs`` (n,): each item's cost in units, the ranges cut where the running cost is
    shared evenly."""
    if costs is None:
        n, work = total, total
    else:
        n, work = len(costs), sum(costs)
    threads = max(1, min(torch.get_num_threads(), work // MIN_SHARE, n))
    if threads == 1:
        return [run(0, n)]
    if costs is None:
        bounds = [n * i // threads // align * align for i in range(threads)] + [n]
    else:
        bounds, running, share = [0], 0, work / threads
        for i, cost in enumerate(costs):
            running += cost
            if running >= share * len(bounds) and len(bounds) < threads:
                bounds.append(i + 1)
        bounds.append(n)
    return list(_pool(threads).map(run, bounds[:-1], bounds[1:]))
