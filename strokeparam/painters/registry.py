"""timm-style painter registry: ``@register_painter``, ``list_painters``, ``painter_class``.

A painter name is an architecture (``skeleton``) or, like timm's pretrained tags, an architecture and the tag
of weights trained for it (``skeleton.deevad_brush``: the skeleton painter learned from another brush).
"""
from __future__ import annotations

import re
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


def split_name(name: str) -> tuple[str, str | None]:
    """``(architecture, tag)`` of a painter name ``arch`` or ``arch.tag`` (tag: letters, digits, ``_``, ``-``;
    None when absent); ValueError for any other string, KeyError for an unregistered architecture."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?", name):
        raise ValueError(f"a painter name is an architecture or architecture.tag (letters, digits, _ and -), "
                         f"got {name!r}; available painters: {', '.join(list_painters())}")
    arch, _, tag = name.partition(".")
    painter_class(arch)
    return arch, tag or None


def is_painter_name(name) -> bool:
    """Whether ``name`` is a painter name of a registered architecture (:func:`split_name` accepts it)."""
    try:
        split_name(name)
    except (KeyError, ValueError):
        return False
    return True


def painter_class(name: str) -> type[Painter]:
    """The registered painter class of architecture ``name`` (a tagged name: its architecture's); a
    KeyError lists the names."""
    arch = name.partition(".")[0] if isinstance(name, str) else name
    if arch not in _REGISTRY:
        raise KeyError(f"unknown painter {name!r}; available painters: {', '.join(list_painters())}")
    return _REGISTRY[arch]
