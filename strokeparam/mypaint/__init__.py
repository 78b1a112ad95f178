"""The real painting program: libmypaint through ctypes."""
from ._lib import MyPaintNotFound, list_brushes
from .renderer import MyPaintRenderer

__all__ = ["MyPaintRenderer", "MyPaintNotFound", "list_brushes"]
