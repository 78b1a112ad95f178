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
HELPER = Path(__file__).with_name("_strokes.so")     # the compiled stroke loop (_strokes.c; scripts/setup.sh)
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


class SettingInfo(ctypes.Structure):
    """MyPaintBrushSettingInfo (mypaint-brush-settings.h)."""
    _fields_ = [("cname", ctypes.c_char_p), ("name", ctypes.c_char_p), ("constant", ctypes.c_int),
                ("min", ctypes.c_float), ("default", ctypes.c_float), ("max", ctypes.c_float),
                ("tooltip", ctypes.c_char_p)]


class InputInfo(ctypes.Structure):
    """MyPaintBrushInputInfo (mypaint-brush-settings.h)."""
    _fields_ = [("cname", ctypes.c_char_p), ("hard_min", ctypes.c_float), ("soft_min", ctypes.c_float),
                ("normal", ctypes.c_float), ("soft_max", ctypes.c_float), ("hard_max", ctypes.c_float),
                ("name", ctypes.c_char_p), ("tooltip", ctypes.c_char_p)]


# Candidate names of brush settings and inputs (libmypaint 1.6, in its id order). libmypaint has no count
# function and mypaint_brush_setting_info(id) aborts on an id past its own count, so ids are only ever
# taken from mypaint_brush_*_from_cname, which scans within the library's bounds; what a name means
# (its id, range, whether it is constant) always comes from the loaded library.
SETTING_NAMES = (
    "opaque", "opaque_multiply", "opaque_linearize", "radius_logarithmic", "hardness", "anti_aliasing",
    "dabs_per_basic_radius", "dabs_per_actual_radius", "dabs_per_second", "radius_by_random",
    "speed1_slowness", "speed2_slowness", "speed1_gamma", "speed2_gamma", "offset_by_random", "offset_by_speed",
    "offset_by_speed_slowness", "slow_tracking", "slow_tracking_per_dab", "tracking_noise", "color_h",
    "color_s", "color_v", "restore_color", "change_color_h", "change_color_l", "change_color_hsl_s",
    "change_color_v", "change_color_hsv_s", "smudge", "smudge_length", "smudge_radius_log", "eraser",
    "stroke_threshold", "stroke_duration_logarithmic", "stroke_holdtime", "custom_input",
    "custom_input_slowness", "elliptical_dab_ratio", "elliptical_dab_angle", "direction_filter", "lock_alpha",
    "colorize", "snap_to_pixel", "pressure_gain_log", "gridmap_scale", "gridmap_scale_x", "gridmap_scale_y",
    "smudge_length_log", "smudge_bucket", "smudge_transparency", "offset_y", "offset_x", "offset_angle",
    "offset_angle_asc", "offset_angle_view", "offset_angle_2", "offset_angle_2_asc", "offset_angle_2_view",
    "offset_angle_adj", "offset_multiplier", "posterize", "posterize_num", "paint_mode")
INPUT_NAMES = (
    "pressure", "speed1", "speed2", "random", "stroke", "direction", "tilt_declination", "tilt_ascension",
    "custom", "direction_angle", "attack_angle", "tilt_declinationx", "tilt_declinationy", "gridmap_x",
    "gridmap_y", "viewzoom", "barrel_rotation", "brush_radius")


_SIGNATURES = {
    "mypaint_brush_new": (ctypes.c_void_p, []),
    "mypaint_brush_unref": (None, [ctypes.c_void_p]),
    "mypaint_brush_from_string": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "mypaint_brush_setting_from_cname": (ctypes.c_int, [ctypes.c_char_p]),
    "mypaint_brush_input_from_cname": (ctypes.c_int, [ctypes.c_char_p]),
    "mypaint_brush_setting_info": (ctypes.POINTER(SettingInfo), [ctypes.c_int]),
    "mypaint_brush_input_info": (ctypes.POINTER(InputInfo), [ctypes.c_int]),
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
            lib = ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL)     # global: the stroke loop links to it
            break
        except OSError:
            continue
    else:
        raise MyPaintNotFound(f"libmypaint was not found; {INSTALL_HINT}")
    for fname, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(lib, fname)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


@lru_cache(maxsize=None)
def helper() -> ctypes.CDLL | None:
    """The compiled stroke loop of _strokes.c with its signature, or None where it was not built (the
    renderer then makes the same calls from Python, some 1.4x slower and holding Python's lock)."""
    library()
    if not HELPER.is_file():
        return None
    try:
        loop = ctypes.CDLL(str(HELPER))
    except OSError:
        return None
    double, pointer = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int)
    loop.paint_strokes.restype = ctypes.c_int
    loop.paint_strokes.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, pointer, double,
                                   pointer, ctypes.c_int, ctypes.c_int, double, double, double, pointer,
                                   ctypes.c_double, double, ctypes.c_double, ctypes.POINTER(ctypes.c_float)]
    return loop


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
def setting_infos() -> dict:
    """{cname: (id, min, default, max, constant)} of every brush setting the loaded libmypaint knows."""
    lib, out = library(), {}
    for cname in SETTING_NAMES:
        sid = lib.mypaint_brush_setting_from_cname(cname.encode())
        if sid >= 0:
            info = lib.mypaint_brush_setting_info(sid).contents
            out[cname] = (sid, float(info.min), float(info.default), float(info.max), bool(info.constant))
    return out


@lru_cache(maxsize=None)
def input_infos() -> dict:
    """{cname: (id, hard_min, soft_min, soft_max, hard_max)} of every brush input the loaded libmypaint knows."""
    lib, out = library(), {}
    for cname in INPUT_NAMES:
        iid = lib.mypaint_brush_input_from_cname(cname.encode())
        if iid >= 0:
            info = lib.mypaint_brush_input_info(iid).contents
            out[cname] = (iid, float(info.hard_min), float(info.soft_min),
                           float(info.soft_max), float(info.hard_max))
    return out


@lru_cache(maxsize=None)
def setting_id(cname: str) -> int:
    """MyPaintBrushSetting index of a setting's canonical name (e.g. "radius_logarithmic")."""
    value = library().mypaint_brush_setting_from_cname(cname.encode())
    if value < 0:
        raise KeyError(f"libmypaint has no brush setting {cname!r}")
    return value
