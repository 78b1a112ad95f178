"""``create_painter``: a registered painter by name, with its shipped weights or freshly initialised."""
from __future__ import annotations

from .base import Painter
from .registry import DEFAULT_PAINTER, painter_class, split_name
from .weights_io import load_weights, weights_paths


def create_painter(name: str | None = None, pretrained: bool = True, device=None, **kwargs) -> Painter:
    """Build a painter by name (None: the default painter, ``DEFAULT_PAINTER``): an architecture
    (``"skeleton"``) or an architecture with the tag of other shipped weights (``"skeleton.deevad_brush"``,
    see :func:`list_pretrained`).

    ``pretrained=True`` loads the shipped weights (``strokeparam/painters/weights/<name>.safetensors`` and
    its JSON card); their architecture comes from the card, and ``kwargs`` must agree with it.
    ``pretrained=False`` gives a freshly initialised painter of the architecture built from ``kwargs``. The
    painter is in eval mode on ``device`` (default CPU).
    """
    name = DEFAULT_PAINTER if name is None else name
    arch, tag = split_name(name)
    if pretrained:
        weights, _ = weights_paths(name)
        painter = load_weights(weights, expected=arch, overrides=kwargs)
        painter.name = name
    elif tag is not None:
        raise ValueError(f"{name!r} names trained weights; pretrained=False builds the bare architecture {arch!r}")
    else:
        painter = painter_class(arch)(**kwargs)
    return painter.to(device).eval() if device is not None else painter.eval()
