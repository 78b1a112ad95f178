"""timm-style painter registry: ``@register_painter``, ``list_painters``, ``painter_class``."""
from __future__ import annotations

from typing import Callable

from .base import Painter

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
    """The registered painter class called ``name``; a KeyError lists the names."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown painter {name!r}; available painters: {', '.join(list_painters())}")
    return _REGISTRY[name]
