"""Discrete-action diagnostics (the paper's section 3.1): sweep one action field, painter next to MyPaint."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .. import actions as A
from .base import Painter
from .fidelity import paint

# A gently curved horizontal stroke at medium pressure and size.
BASE_ACTION = dict(pressure_start=0.7, pressure_end=0.7, size=0.5, red=0.0, green=0.0, blue=0.0,
                   x0=0.2, y0=0.55, x1=0.5, y1=0.3, x2=0.8, y2=0.55)


def sweep_actions(field: str, levels: int = 10, base: dict | None = None) -> np.ndarray:
    """``levels`` copies of ``base`` (default :data:`BASE_ACTION`) with ``field`` evenly spaced over [0, 1].

    ``field`` is a name from :data:`strokeparam.actions.FIELDS` or ``"pressure"`` (both pressures).
    """
    names = ("pressure_start", "pressure_end") if field == "pressure" else (field,)
    for name in names:
        if name not in A.INDEX:
            raise ValueError(f"unknown action field {field!r}; use 'pressure' or one of {', '.join(A.FIELDS)}")
    if not isinstance(levels, int) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
    row = dict(BASE_ACTION, **(base or {}))
    acts = np.tile(np.array([row[f] for f in A.FIELDS], np.float32), (levels, 1))
    for name in names:
        acts[:, A.INDEX[name]] = np.linspace(0.0, 1.0, levels)
    return A.validate(acts).astype(np.float32)


def grid_image(rows: list[np.ndarray], labels: list[str], scale: int = 2) -> Image.Image:
    """Rows of strokes (each (M, 64, 64) alpha) as one white image: black ink, framed tiles, row labels."""
    pad, label_w = 2, 100
    m, size = max(len(r) for r in rows), rows[0].shape[-1] * scale
    img = Image.new("L", (label_w + m * (size + pad), len(rows) * (size + pad)), 255)
    draw = ImageDraw.Draw(img)
    for i, (row, label) in enumerate(zip(rows, labels)):
        y = i * (size + pad)
        draw.text((4, y + size // 2 - 5), label, fill=0)
        for j, alpha in enumerate(row):
            tile = Image.fromarray(np.round(255 * (1 - np.clip(alpha, 0, 1))).astype(np.uint8))
            x = label_w + j * (size + pad)
            img.paste(tile.resize((size, size), Image.NEAREST), (x, y))
            draw.rectangle((x, y, x + size - 1, y + size - 1), outline=200)
    return img


def sweep(painters: dict[str, Painter] | Painter, field: str, levels: int = 10, base: dict | None = None,
          seed: int = 0, path=None) -> Image.Image:
    """Sweep ``field`` over ``levels`` values: a row for MyPaint with each painter's brush (the first time it
    comes), then one per painter (two for a stochastic one: a seeded draw and its plain forward); save the
    image to ``path`` if given."""
    from ..mypaint import MyPaintRenderer
    if isinstance(painters, Painter):
        painters = {painters.name: painters}
    acts = sweep_actions(field, levels, base)
    rows, labels, brushes = [], [], len({p.brush for p in painters.values()})
    for name, painter in painters.items():
        if f"MyPaint {painter.brush}" not in labels and (brushes > 1 or not labels):
            rows.append(MyPaintRenderer(painter.brush).render(acts, seed=seed))
            labels.append(f"MyPaint {painter.brush}" if brushes > 1 else "MyPaint")
        rows.append(paint(painter, acts, seed=seed)[0])
        labels.append(name)
        if painter.stochastic:                       # also its plain, deterministic forward
            rows.append(paint(painter, acts, deterministic=True)[0])
            labels.append(f"{name} (plain)")
    img = grid_image(rows, labels)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        img.save(path)
    return img
