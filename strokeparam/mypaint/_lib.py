"""libmypaint (Debian's libmypaint-1.5-1, upstream 1.6) through ctypes: loading, signatures, brushes.

Only public API is used; the fixed tiled surface is read through tile requests, never struct offsets.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from functools import lru_cache
from pathlib import Path

LIBRARY_NAMES = ("libmypaint-1.5.so.1", "libmypaint.so", "libmypaint-1.6.so.1")
BRUSH_DIRS = ("/usr/share/mypaint-data/1.0/brushes", "/usr/share/mypaint-data/2.0/brushes",
              "/usr/local/share/mypaint-data/1.0/brushes")
INSTALL_HINT = "install it with: apt-get install libmypaint-1.5-1 mypaint-brushes"
TILE = 64                      # libmypaint's tile side in pixels
ONE = 32768.0                  # fixed-point 1.0 of the uint16 tile buffers

# MyPaintBrushState indices from the public header (mypaint-brush-settings-gen.h)
STATE_X, STATE_Y, STATE_ACTUAL_X, STATE_ACTUAL_Y = 0, 1, 14, 15


class MyPaintNotFound(FileNotFoundError):
    """libmypaint or its brushes are not installed."""


class TileRequest(ctypes.Structure):
    _fields_ = [("tx", ctypes.c_int), ("ty", ctypes.c_int), ("readonly", ctypes.c_int),
                ("buffer", ctypes.POINTER(ctypes.c_uint16)), ("context", ctypes.c_void_p),
                ("thread_id", ctypes.c_int), ("mipmap_level", ctypes.c_int)]


class Rectangle(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int), ("height", ctypes.c_int)]


_SIGNATURES = {
    "mypaint_brush_new": (ctypes.c_void_p, []),
    "mypaint_brush_unref": (None, [ctypes.c_void_p]),
    "mypaint_brush_from_string": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "mypaint_brush_setting_from_cname": (ctypes.c_int, [ctypes.c_char_p]),
    "mypaint_brush_set_base_value": (None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_float]),
    "mypaint_brush_get_base_value": (ctypes.c_float, [ctypes.c_void_p, ctypes.c_int]),
    "mypaint_brush_set_state": (None, [ctypes.c_void_p, ctypes.c_int, ctypes.c_float]),
    "mypaint_brush_reset": (None, [ctypes.c_void_p]),
    "mypaint_brush_new_stroke": (None, [ctypes.c_void_p]),
    "mypaint_brush_stroke_to": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_float, ctypes.c_float,
                                               ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_double]),
    "mypaint_fixed_tiled_surface_new": (ctypes.c_void_p, [ctypes.c_int, ctypes.c_int]),
    "mypaint_fixed_tiled_surface_interface": (ctypes.c_void_p, [ctypes.c_void_p]),
    "mypaint_surface_unref": (None, [ctypes.c_void_p]),
    "mypaint_surface_begin_atomic": (None, [ctypes.c_void_p]),
    "mypaint_surface_end_atomic": (None, [ctypes.c_void_p, ctypes.POINTER(Rectangle)]),
    "mypaint_tile_request_init": (None, [ctypes.POINTER(TileRequest), ctypes.c_int, ctypes.c_int,
                                         ctypes.c_int, ctypes.c_int]),
    "mypaint_tiled_surface_tile_request_start": (None, [ctypes.c_void_p, ctypes.POINTER(TileRequest)]),
    "mypaint_tiled_surface_tile_request_end": (None, [ctypes.c_void_p, ctypes.POINTER(TileRequest)]),
}


@lru_cache(maxsize=None)
def library() -> ctypes.CDLL:
    """The loaded libmypaint with argument and return types declared."""
    candidates = [os.environ.get("STROKEPARAM_LIBMYPAINT")] + list(LIBRARY_NAMES)
    found = ctypes.util.find_library("mypaint-1.5") or ctypes.util.find_library("mypaint")
    candidates.append(found)
    for name in filter(None, candidates):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise MyPaintNotFound(f"libmypaint was not found; {INSTALL_HINT}")
    for fname, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, fname)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def brush_dirs() -> list[Path]:
    """Folders searched for .myb brushes: $STROKEPARAM_BRUSHES first, then mypaint-brushes' folders."""
    dirs = [os.environ.get("STROKEPARAM_BRUSHES")] + list(BRUSH_DIRS)
    return [Path(d) for d in dirs if d and Path(d).is_dir()]


@lru_cache(maxsize=None)
def list_brushes() -> tuple[str, ...]:
    """Names ("group/name") of every installed MyPaint brush."""
    names = set()
    for root in brush_dirs():
        names.update(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.myb"))
    return tuple(sorted(names))


@lru_cache(maxsize=None)
def brush_json(name: str) -> bytes:
    """The .myb bytes of a brush given as "group/name" or a path to a .myb file."""
    if not isinstance(name, (str, os.PathLike)):
        raise ValueError(f"brush must be a name like 'classic/dry_brush' or a .myb path, got {name!r}")
    path = Path(name)
    if path.suffix == ".myb" and path.is_file():
        return path.read_bytes()
    for root in brush_dirs():
        candidate = root / f"{name}.myb"
        if candidate.is_file():
            return candidate.read_bytes()
    available = list_brushes()
    if not available:
        raise MyPaintNotFound(f"no MyPaint brushes are installed; {INSTALL_HINT}")
    raise KeyError(f"unknown brush {name!r}; available brushes: {', '.join(available)}")


@lru_cache(maxsize=None)
def setting_id(cname: str) -> int:
    """MyPaintBrushSetting index of a setting's canonical name (e.g. "radius_logarithmic")."""
    value = library().mypaint_brush_setting_from_cname(cname.encode())
    if value < 0:
        raise KeyError(f"libmypaint has no brush setting {cname!r}")
    return value
