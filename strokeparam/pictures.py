"""Pictures the commands take in and write out: photos users name (files, ``skimage:NAME``), ``DATASET:N``
targets, and a painting's files (strokes JSON, PNG, GIF, SVG, MyPaint re-paint).

Importing this module imports neither torch nor Pillow; each function imports what it needs.
"""
from __future__ import annotations

import re
from pathlib import Path

SKIMAGE_PHOTOS = ("astronaut", "brick", "camera", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel",
                  "grass", "gravel", "horse", "hubble_deep_field", "logo", "moon", "page", "rocket", "text")


def slug(text: str) -> str:
    """``text`` as a file-name stem: lower-case letters, digits and underscores (``item`` if none are left)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "item"


def open_image(spec: str):
    """A content image as an RGB PIL image, from a file or ``skimage:NAME``; and its name."""
    from PIL import Image
    if spec.startswith("skimage:"):
        name = spec.removeprefix("skimage:")
        if name not in SKIMAGE_PHOTOS:
            raise ValueError(f"unknown skimage photo {name!r}; choose from {', '.join(SKIMAGE_PHOTOS)}")
        try:
            from skimage import data
        except ImportError:
            raise FileNotFoundError("skimage:NAME needs scikit-image: pip install 'strokeparam[data]'") from None
        import numpy as np
        array = np.asarray(getattr(data, name)())
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        return Image.fromarray(array).convert("RGB"), name
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"content image {spec} does not exist")
    from .paint import read_picture
    return read_picture(path), path.stem


def photo_size(picture, size):
    """Painting size (h, w) of a PIL ``picture``: ``size`` N is the long side (keeping the aspect), (A, B) is
    exact."""
    if isinstance(size, tuple):
        return size
    width, height = picture.size
    scale = size / max(width, height)
    return max(1, round(height * scale)), max(1, round(width * scale))


def target_image(spec: str, size: int):
    """A picture to reconstruct as a (1, 3, size, size) tensor in [0, 1], and its name: ``mnist:3`` is held-out
    image 3 of the MNIST test split (not a digit 3), named ``mnist_test_3 (held-out image 3, label 7)``; any
    other ``spec`` is a file or ``skimage:NAME`` (:func:`open_image`)."""
    from torch.nn import functional as F

    from .agents import DATASETS, load_dataset
    name, _, index = spec.partition(":")
    if name in DATASETS and index.strip().isdigit() and not Path(spec).exists():
        data = load_dataset(name, "test", size=size, limit=int(index) + 1)
        if int(index) >= len(data):
            raise ValueError(f"{spec}: the {name} test split has {len(data)} images (0-{len(data) - 1})")
        label = "" if data.labels is None else f", label {int(data.labels[int(index)])}"
        image = data.images(slice(int(index), int(index) + 1))
        return image, f"{name}_test_{int(index)} (held-out image {int(index)}{label})"
    from .paint import load_image
    picture, stem = open_image(spec)
    x = F.interpolate(load_image(picture), size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0, 1), stem


def mypaint_path(out: Path) -> Path:
    """Where the MyPaint re-paint of the painting ``out`` goes: ``<out>_mypaint.png``."""
    return out.with_name(f"{out.stem}_mypaint.png")


def save_painting(param, out: Path, *, gif: bool = False, svg: bool = False, mypaint: bool = False, seed: int = 0,
                  transparent: bool = False, repaint=None) -> list[Path]:
    """Write the painting of ``param`` as ``out`` (PNG) and its files beside it → their paths.

    The strokes JSON first, then ``<out>.gif`` / ``<out>.svg`` if asked, with ``mypaint`` the MyPaint re-paint
    (brush seed ``seed``; ``repaint``: that re-paint, if made already) as :func:`mypaint_path` and ``<out>.ora``,
    then the PNG of the neural render last (its presence marks a finished painting); ``transparent``: the strokes
    alone, with an alpha channel.
    """
    import torch

    from . import export
    out.parent.mkdir(parents=True, exist_ok=True)
    written = [export.save_strokes(param, out.with_suffix(".json"))]
    if gif:
        written.append(export.save_gif(param, out.with_suffix(".gif")))
    if svg:
        written.append(export.save_svg(param, out.with_suffix(".svg")))
    if mypaint:
        repaint = param.to_mypaint(seed=seed) if repaint is None else repaint
        written += export.save_png(repaint, mypaint_path(out))
        written.append(export.save_ora(param, out.with_suffix(".ora"), seed=seed))
    with torch.no_grad():
        written += export.save_png(param.layer(mypaint=False) if transparent else param.image(mypaint=False), out)
    return written
