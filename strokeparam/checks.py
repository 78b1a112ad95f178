"""Checks of arguments shared by the library: each error names the argument and what is allowed, and comes
before any work (or any ctypes call) sees the value."""
from __future__ import annotations

import numpy as np


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def integer(value, name: str, low: int = 1, high: int | None = None, what: str = "an integer") -> int:
    """``value`` as an int if it is an integer in [low, high] (no upper bound when ``high`` is None);
    otherwise a ValueError like "strokes must be a positive integer, got 0"."""
    if not is_int(value) or value < low or (high is not None and value > high):
        if high is not None:
            allowed = f"{what} in [{low}, {high}]"
        elif what == "an integer" and low in (0, 1):
            allowed = "a positive integer" if low == 1 else "a non-negative integer"
        else:
            allowed = f"{what} >= {low}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def pair(value, name: str) -> tuple[int, int]:
    """A positive integer n as (n, n), or a pair of positive integers as a tuple."""
    if is_int(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(is_int(v) and v >= 1 for v in value):
        raise ValueError(f"{name} must be a positive integer or a pair (rows/height, cols/width), got {value!r}")
    return int(value[0]), int(value[1])


def rgb(value, name: str = "background") -> np.ndarray:
    """A gray level or an RGB triple in [0, 1] as float32 (3,)."""
    if hasattr(value, "detach"):          # a torch tensor, on any device
        value = value.detach().cpu()
    try:
        color = np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        color = np.array([np.nan])
    if color.size == 1:
        color = np.repeat(color, 3)
    if color.size != 3 or not np.all(np.isfinite(color)) or color.min() < 0 or color.max() > 1:
        raise ValueError(f"{name} must be a gray level or an RGB triple in [0, 1], got {value!r}")
    return color.astype(np.float32)
