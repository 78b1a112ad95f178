"""Freed memory kept in the process: a step's large tensors reuse it instead of new pages from the kernel.

glibc hands out blocks above a moving threshold as fresh memory maps and gives them back when freed, and
trims free memory off the heap's top; either way the next step's tensor of that size pays a page fault per
4 KB on first touch (about 4 ms for a 17-MB stroke layer here). :func:`keep_freed_memory` fixes the
threshold at glibc's largest and keeps up to :data:`TRIM_THRESHOLD` free, as the ``MALLOC_MMAP_THRESHOLD_``
and ``MALLOC_TRIM_THRESHOLD_`` environment variables would (bench/param_speed.py: the tiled 224-px canvas
0.94x, ``make demo`` 0.96x). Elsewhere, or where the user set those variables, it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3      # glibc's mallopt parameters
MMAP_THRESHOLD = 32 * 2 ** 20    # bytes: glibc's largest; smaller blocks come from the heap and are reused
TRIM_THRESHOLD = 2 ** 30         # bytes of free memory at the heap's top kept for later steps


@lru_cache(maxsize=None)
def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (once per process); True where it took."""
    if not sys.platform.startswith("linux") or {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"} & set(os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
