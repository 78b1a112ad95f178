"""KanjiVG stroke SVGs as human stroke orders: a small SVG-path sampler and a Pillow rasterizer.

Each KanjiVG file holds one ``<path>`` per stroke, in the order people write them. A stroke becomes a
polyline of (x, y) points as fractions of the 109-unit viewBox, x to the right and y downwards.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

VIEWBOX = 109.0
SAMPLES = 12                      # points per curve segment
_PATH = re.compile(r'<path\b[^>]*?\sd="([^"]+)"')
_TOKEN = re.compile(r"[MmCcSsLlHhVvZz]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARGS = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Z": 0}


def kanjivg_folder() -> Path:
    """The folder of KanjiVG SVGs installed by the ``kanjivg`` package (``site-packages/kanji``)."""
    spec = importlib.util.find_spec("kanji")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in map(Path, folders):
        if (folder / "04e00.svg").is_file():
            return folder
    raise FileNotFoundError("KanjiVG stroke SVGs not found: install the 'kanjivg' package "
                            "(pip install kanjivg, or strokeparam[data]) or pass the folder of SVGs")


def _cubic(p0, p1, p2, p3, num: int = SAMPLES) -> np.ndarray:
    t = np.linspace(0.0, 1.0, num + 1)[1:, None]
    return ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3)


def parse_path(d: str) -> np.ndarray:
    """Sample an SVG path (M, L, H, V, C, S and their relative forms, Z) → (P, 2) points in path units."""
    tokens = _TOKEN.findall(d)
    points, pos, start, last_ctrl, cmd, i = [], np.zeros(2), np.zeros(2), None, None, 0
    while i < len(tokens):
        if tokens[i].isalpha():
            cmd, i = tokens[i], i + 1
        if cmd is None:
            raise ValueError(f"SVG path must start with a command, got {d[:30]!r}")
        upper, rel = cmd.upper(), cmd.islower()
        n = _ARGS[upper]
        try:
            args = np.array([float(v) for v in tokens[i:i + n]])
        except ValueError:
            raise ValueError(f"SVG path {d[:30]!r}: command {cmd} needs {n} numbers") from None
        if len(args) < n:
            raise ValueError(f"SVG path {d[:30]!r}: command {cmd} needs {n} numbers")
        i += n
        base = pos if rel else np.zeros(2)
        if upper == "M":
            pos = start = base + args
            points.append(pos[None])
            cmd = "l" if rel else "L"           # further pairs are line-tos
        elif upper in "LHV":
            if upper == "L":
                end = base + args
            elif upper == "H":
                end = np.array([args[0] + base[0], pos[1]])
            else:
                end = np.array([pos[0], args[0] + base[1]])
            points.append(np.linspace(pos, end, SAMPLES + 1)[1:])
            pos = end
        elif upper in "CS":
            if upper == "C":
                c1, c2, end = base + args[0:2], base + args[2:4], base + args[4:6]
            else:
                c1 = 2 * pos - last_ctrl if last_ctrl is not None else pos
                c2, end = base + args[0:2], base + args[2:4]
            points.append(_cubic(pos, c1, c2, end))
            pos, last_ctrl = end, c2
            continue
        else:                                      # Z
            points.append(np.linspace(pos, start, SAMPLES + 1)[1:])
            pos = start
        last_ctrl = None
    if not points:
        raise ValueError(f"SVG path {d[:30]!r} has no points")
    return np.concatenate(points)


def read_strokes(path) -> list[np.ndarray]:
    """The strokes of one KanjiVG SVG in writing order: a list of (P, 2) polylines in [0, 1]."""
    text = Path(path).read_text(encoding="utf-8")
    return [np.clip(parse_path(d) / VIEWBOX, 0.0, 1.0) for d in _PATH.findall(text)]


def count_strokes(path) -> int:
    """Number of strokes in a KanjiVG SVG, without sampling them."""
    return len(_PATH.findall(Path(path).read_text(encoding="utf-8")))


def rasterize(strokes: list[np.ndarray], size: int = 64, width: float = 3.0, supersample: int = 4) -> np.ndarray:
    """Draw polylines (fractions of the canvas) black on white: float32 (size, size) ink in [0, 1].

    ``width`` is the line width in pixels of the ``size``-px image; lines have round caps and joins and
    are antialiased by drawing ``supersample`` times larger and box-filtering down.
    """
    from PIL import Image, ImageDraw
    big = size * supersample
    picture = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(picture)
    w = max(1, round(width * supersample))
    for stroke in strokes:
        xy = [tuple(p) for p in (stroke * big).tolist()]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=w, joint="curve")
        for x, y in (xy[0], xy[-1]):
            draw.ellipse((x - w / 2, y - w / 2, x + w / 2, y + w / 2), fill=255)
    small = picture.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0
