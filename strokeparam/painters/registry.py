"""timm-style painter registry: ``@register_painter``, ``create_painter``, ``list_painters``."""
from __future__ import annotations

from typing import Callable

from .base import Painter
from .weights_io import load_weights, weights_paths

DEFAULT_PAINTER = "skeleton"
_REGISTRY: dict[str, Callable[..., Painter]] = {}


def register_painter(cls: type[Painter]) -> type[Painter]:
    """Class decorator: make ``cls`` available to :func:`create_painter` under ``cls.name``."""
    if not (isinstance(cls, type) and issubclass(cls, Painter)):
        raise TypeError(f"register_painter expects a Painter subclass, got {cls!r}")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"a painter named {cls.name!r} is already registered")
    _REGISTRY[cls.name] = cls
    return cls


def list_painters() -> list[str]:
    """Names accepted by :func:`create_painter`, sorted."""
    return sorted(_REGISTRY)


def painter_class(name: str) -> type[Painter]:
    if name not in _REGISTRY:
        raise KeyError(f"unknown painter {name!r}; available painters: {', '.join(list_painters())}")
    return _REGISTRY[name]


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
