"""``create_painter``: a registered painter by name, with its shipped weights or freshly initialised."""
from __future__ import annotations

from .base import Painter
from .registry import DEFAULT_PAINTER, painter_class
from .weights_io import load_weights, weights_paths


def create_painter(name: str | None = None, pretrained: bool = True, device=None, **kwargs) -> Painter:
    """Build a painter by name (None: the default painter, ``DEFAULT_PAINTER``).

    ``pretrained=True`` loads the shipped weights (``strokeparam/painters/weights/<name>.safetensors`` and
    its JSON card); their architecture comes from the card, and ``kwargs`` must agree with it.
    ``pretrained=False`` gives a freshly initialised painter built from ``kwargs``. The painter is in eval
    mode on ``device`` (default CPU).
    """
    name = DEFAULT_PAINTER if name is None else name
    cls = painter_class(name)
    if pretrained:
        weights, _ = weights_paths(name)
        painter = load_weights(weights, expected=name, overrides=kwargs)
    else:
        painter = cls(**kwargs)
    return painter.to(device).eval() if device is not None else painter.eval()
