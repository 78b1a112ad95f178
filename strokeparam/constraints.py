"""Composable constraints on actions: ranges for size and pressure, grayscale, a fixed palette.

A constraint maps actions in [0, 1] (..., 12) to actions that obey it, differentiably, and stays within
[0, 1], so every action an optimizer reaches is valid for MyPaint. ``inverse`` maps obeying actions back
to the unconstrained [0, 1] values that produce them (to start from given strokes).
"""
from __future__ import annotations

import torch

from . import actions as A


class Constraint:
    """Base class: ``__call__(actions) -> actions`` and ``inverse``."""

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inverse(self, actions: torch.Tensor) -> torch.Tensor:
        return actions

    def to_dict(self) -> dict:
        raise NotImplementedError


class FieldRange(Constraint):
    """Squeeze the named fields into [low, high] (e.g. thin strokes only: size in [0, 0.3])."""

    def __init__(self, fields, low: float, high: float):
        fields = (fields,) if isinstance(fields, str) else tuple(fields)
        unknown = [f for f in fields if f not in A.INDEX]
        if unknown or not fields:
            raise ValueError(f"unknown action field(s) {unknown}; fields are {', '.join(A.FIELDS)}")
        if not (0.0 <= float(low) < float(high) <= 1.0):
            raise ValueError(f"range for {', '.join(fields)} must satisfy 0 <= low < high <= 1, got [{low}, {high}]")
        self.fields, self.low, self.high = fields, float(low), float(high)
        self.index = [A.INDEX[f] for f in fields]

    def __call__(self, actions):
        out = actions.clone()
        out[..., self.index] = self.low + (self.high - self.low) * actions[..., self.index]
        return out

    def inverse(self, actions):
        out = actions.clone()
        out[..., self.index] = ((actions[..., self.index] - self.low) / (self.high - self.low)).clamp(0, 1)
        return out

    def to_dict(self):
        return dict(type="range", fields=list(self.fields), low=self.low, high=self.high)


def size_range(low: float, high: float) -> FieldRange:
    """Brush sizes only in [low, high] (fractions of the size field)."""
    return FieldRange("size", low, high)


def pressure_range(low: float, high: float) -> FieldRange:
    """Start and end pressure only in [low, high]."""
    return FieldRange(("pressure_start", "pressure_end"), low, high)


class Grayscale(Constraint):
    """R = G = B; the gray level (taken from the red field) spans [low, high]."""

    def __init__(self, low: float = 0.0, high: float = 1.0):
        if not (0.0 <= float(low) < float(high) <= 1.0):
            raise ValueError(f"gray range must satisfy 0 <= low < high <= 1, got [{low}, {high}]")
        self.low, self.high = float(low), float(high)

    def __call__(self, actions):
        gray = self.low + (self.high - self.low) * actions[..., A.INDEX["red"]]
        out = actions.clone()
        out[..., A.COLOR] = gray[..., None].expand(*gray.shape, 3)
        return out

    def inverse(self, actions):
        out = actions.clone()
        gray = actions[..., A.COLOR].mean(-1)
        out[..., A.INDEX["red"]] = ((gray - self.low) / (self.high - self.low)).clamp(0, 1)
        return out

    def to_dict(self):
        return dict(type="grayscale", low=self.low, high=self.high)


def parse_color(color) -> tuple[float, float, float]:
    """'#rrggbb', '#rgb' or an RGB triple in [0, 1] → (r, g, b) floats."""
    if isinstance(color, str):
        text = color.strip().lstrip("#")
        if len(text) == 3:
            text = "".join(ch * 2 for ch in text)
        try:
            if len(text) != 6:
                raise ValueError
            return tuple(int(text[i:i + 2], 16) / 255.0 for i in (0, 2, 4))
        except ValueError:
            raise ValueError(f"palette color {color!r} is not a hex color like '#1a2b3c'") from None
    try:
        rgb = tuple(float(c) for c in color)
    except TypeError:
        raise ValueError(f"palette color {color!r} must be a hex string or an RGB triple in [0, 1]") from None
    if len(rgb) != 3 or not all(0.0 <= c <= 1.0 for c in rgb):
        raise ValueError(f"palette color {color!r} must be a hex string or an RGB triple in [0, 1]")
    return rgb


class Palette(Constraint):
    """Every stroke takes one of ``colors`` exactly.

    The forward value is the nearest palette color; gradients flow through a softmax assignment over
    the palette at ``temperature`` (straight-through), so the optimizer can move strokes between colors.
    """

    def __init__(self, colors, temperature: float = 0.05):
        if isinstance(colors, str) or len(colors) < 1:
            raise ValueError("palette must be a non-empty list of colors, e.g. ['#000000', '#ffffff']")
        if not float(temperature) > 0:
            raise ValueError(f"palette temperature must be > 0, got {temperature!r}")
        self.colors = torch.tensor([parse_color(c) for c in colors], dtype=torch.float32)
        self.temperature = float(temperature)

    def __call__(self, actions):
        colors = self.colors.to(actions)
        rgb = actions[..., A.COLOR]
        dist = ((rgb[..., None, :] - colors) ** 2).sum(-1)                  # (..., k)
        soft = torch.softmax(-dist / self.temperature, dim=-1) @ colors
        hard = colors[dist.argmin(-1)]
        out = actions.clone()
        out[..., A.COLOR] = hard + (soft - soft.detach())
        return out

    def to_dict(self):
        return dict(type="palette", colors=["#%02x%02x%02x" % tuple(round(c * 255) for c in rgb)
                                            for rgb in self.colors.tolist()], temperature=self.temperature)


def from_dict(spec) -> Constraint:
    """The constraint that ``to_dict`` described (as a stroke JSON stores it); ValueError if malformed."""
    kinds = {"range": lambda d: FieldRange(d["fields"], d["low"], d["high"]),
             "grayscale": lambda d: Grayscale(d["low"], d["high"]),
             "palette": lambda d: Palette(d["colors"], d["temperature"])}
    if not isinstance(spec, dict) or spec.get("type") not in kinds:
        raise ValueError(f"a constraint must be a dict with type one of {', '.join(kinds)}, got {str(spec)[:80]}")
    try:
        return kinds[spec["type"]](spec)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"constraint {str(spec)[:80]} is malformed: missing or bad {exc}") from None


def check(constraints) -> tuple:
    """Validate a sequence of constraints (no two color constraints) and return it as a tuple."""
    constraints = tuple(constraints)
    for c in constraints:
        if not isinstance(c, Constraint):
            raise ValueError(f"constraints must be strokeparam.constraints.Constraint objects, got {c!r}")
    if sum(isinstance(c, (Grayscale, Palette)) for c in constraints) > 1:
        raise ValueError("use one color constraint: grayscale or a palette (a palette of grays is grayscale)")
    return constraints


def apply(constraints, actions: torch.Tensor) -> torch.Tensor:
    for c in constraints:
        actions = c(actions)
    return actions


def invert(constraints, actions: torch.Tensor) -> torch.Tensor:
    for c in reversed(constraints):
        actions = c.inverse(actions)
    return actions
