"""The 12-d stroke action: field order, validation, mapping to MyPaint units, quantization.

Every field lies in [0, 1]. A stroke is a quadratic Bezier from (x0, y0) through the control point
(x1, y1) to (x2, y2), its pressure going linearly from ``pressure_start`` to ``pressure_end``; x grows to
the right and y downwards, both as fractions of the canvas side.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

ACTION_SPACE_VERSION = 1
FIELDS = (
    "pressure_start", "pressure_end", "size", "red", "green", "blue",
    "x0", "y0", "x1", "y1", "x2", "y2",
)
NUM_FIELDS = len(FIELDS)
INDEX = {name: i for i, name in enumerate(FIELDS)}
PRESSURE = slice(0, 2)
SIZE = 2
COLOR = slice(3, 6)
POINTS = slice(6, 12)

# The MyPaint brush the shipped default painter imitates (and an untrained painter stands in for); a painter
# trained on another brush names it in its card (Painter.brush).
DEFAULT_BRUSH = "classic/dry_brush"

# Brush radius on a 64-px canvas: log-linear from RADIUS_MIN to RADIUS_MAX pixels; it scales with the canvas.
REFERENCE_SIZE = 64
RADIUS_MIN = 1.0
RADIUS_MAX = math.e ** 2


def validate(actions, name: str = "actions") -> np.ndarray:
    """Check an (N, 12) or (12,) array of actions; return it as a float64 (N, 12) numpy array.

    Raises ValueError naming the row and field of the first bad value (wrong shape, dtype, NaN/inf or
    outside [0, 1]).
    """
    if isinstance(actions, torch.Tensor):
        actions = actions.detach().cpu().numpy()
    try:
        arr = np.asarray(actions)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be an array of shape (N, {NUM_FIELDS}): {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != NUM_FIELDS:
        raise ValueError(
            f"{name} must have shape (N, {NUM_FIELDS}) or ({NUM_FIELDS},) with fields {', '.join(FIELDS)}; "
            f"got shape {tuple(np.shape(actions))}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise ValueError(
            f"{name}[{row}] field '{FIELDS[col]}' = {arr[row, col]!r} is not a number in [0, 1]")
    return arr


@dataclass(frozen=True)
class StrokeSpec:
    """One action in MyPaint units on a square canvas of ``canvas`` pixels."""

    points: np.ndarray      # (3, 2) Bezier start, control, end in pixels
    pressures: tuple        # (start, end) in [0, 1]
    radius: float           # brush radius in pixels
    color: tuple            # (r, g, b) in [0, 1]


def radius_pixels(size, canvas: int = REFERENCE_SIZE):
    """Brush radius in pixels for a size field in [0, 1] on a square canvas of ``canvas`` pixels."""
    log_r = math.log(RADIUS_MIN) + np.asarray(size) * (math.log(RADIUS_MAX) - math.log(RADIUS_MIN))
    return np.exp(log_r) * canvas / REFERENCE_SIZE


def to_mypaint(action, canvas: int = REFERENCE_SIZE) -> StrokeSpec:
    """Map one valid action to pixel coordinates, radius, pressures and color on a ``canvas``-px square."""
    a = np.asarray(action, dtype=np.float64)
    return StrokeSpec(
        points=a[POINTS].reshape(3, 2) * canvas,
        pressures=(float(a[0]), float(a[1])),
        radius=float(radius_pixels(a[SIZE], canvas)),
        color=tuple(float(c) for c in a[COLOR]),
    )


def bezier(points: np.ndarray, num: int) -> np.ndarray:
    """``num`` points along a quadratic Bezier given by its (3, 2) control points."""
    t = np.linspace(0.0, 1.0, num)[:, None]
    return (1 - t) ** 2 * points[0] + 2 * (1 - t) * t * points[1] + t ** 2 * points[2]


def random_actions(num: int, generator=None, seed: int | None = None) -> np.ndarray:
    """``num`` uniform random actions as a float32 (num, 12) array (seeded through numpy)."""
    rng = generator if generator is not None else np.random.default_rng(seed)
    return rng.random((num, NUM_FIELDS), dtype=np.float64).astype(np.float32)


def _snap(x, levels: int):
    levels_m1 = levels - 1
    if isinstance(x, torch.Tensor):
        return torch.round(x * levels_m1) / levels_m1
    return np.round(np.asarray(x) * levels_m1) / levels_m1


def quantize(actions, pressure_levels: int = 10, size_levels: int = 10, color_levels: int | None = None,
             grid: int | None = 32):
    """Snap actions to SPIRAL-style discrete levels (evenly spaced over [0, 1], ends included).

    ``pressure_levels`` and ``size_levels`` levels for pressures and size, ``color_levels`` per channel
    (None keeps colors), and the Bezier points onto a ``grid`` x ``grid`` lattice (None keeps them).
    Works on numpy arrays and torch tensors of shape (..., 12).
    """
    for name, value in (("pressure_levels", pressure_levels), ("size_levels", size_levels),
                        ("color_levels", color_levels), ("grid", grid)):
        if value is not None and (not isinstance(value, int) or value < 2):
            raise ValueError(f"quantize: {name} must be an integer >= 2 or None, got {value!r}")
    if isinstance(actions, torch.Tensor):
        out = actions.clone()
    else:
        out = validate(actions).astype(np.float32)
    out[..., PRESSURE] = _snap(out[..., PRESSURE], pressure_levels)
    out[..., SIZE] = _snap(out[..., SIZE], size_levels)
    if color_levels is not None:
        out[..., COLOR] = _snap(out[..., COLOR], color_levels)
    if grid is not None:
        out[..., POINTS] = _snap(out[..., POINTS], grid)
    return out
