"""MyPaint brush files (.myb) checked against libmypaint's own schema before libmypaint reads one.

libmypaint trusts its brush files: a ``settings`` or ``inputs`` that is not a JSON object segfaults it,
an input curve of 1 or more than 64 points or with decreasing x aborts it (an assertion), and values far
outside its ranges make it paint for hours or allocate gigabytes (its tile map grows with the square of
the farthest dab). :func:`check_brush` accepts a file only if

- it is UTF-8 JSON of at most :data:`MAX_BRUSH_BYTES` bytes: an object with
  ``"version": 3`` (the only version libmypaint reads) and ``"settings"`` an object (other top-level keys,
  such as ``comment`` or ``group``, are ignored);
- every setting is one the loaded libmypaint knows (names and ranges come from
  ``mypaint_brush_setting_info``), an object with exactly ``base_value`` and ``inputs``;
- ``base_value`` is a finite number within libmypaint's ``[min, max]`` for that setting, and within
  :data:`SAFE_BASE_MAX` for the settings that set how many dabs a stroke makes;
- ``inputs`` maps input names the library knows (curves on the inputs of libmypaint 2 in
  :data:`NEWER_INPUTS`, which libmypaint 1.6 skips with a warning, are dropped) to curves of
  :data:`MIN_CURVE_POINTS` to
  :data:`MAX_CURVE_POINTS` ``[x, y]`` points of finite numbers, x never decreasing (libmypaint's own
  rule; shipped brushes repeat an x for steps), x within the input's range (:func:`input_range`) and
  ``|y|`` at most the setting's span ``max - min`` (MyPaint's curve editor's limit);
- each curve stays within ``±CURVE_GAIN x span`` over every value its input takes while
  :class:`~strokeparam.mypaint.MyPaintRenderer` paints (libmypaint extrapolates a curve's end segments,
  so a steep end would reach any value), and radius_by_random, elliptical_dab_ratio and snap_to_pixel
  stay within :data:`EFFECTIVE_LIMITS` with their curves added.

Everything else raises ValueError naming the file, the field and the allowed range. libmypaint is then
handed the canonical JSON of what was checked, never the raw bytes, so its parser cannot read something
else. All 373 brushes of mypaint-brushes 2.0 pass (12 of them lose curves on libmypaint 2's
``surfacemap_x``/``surfacemap_y``, as they do in libmypaint 1.6 itself).

What libmypaint's work then depends on also depends on the canvas, so :func:`check_canvas` (called by
the renderer for each canvas) bounds how far from the stroke the offset settings throw a dab
(:data:`MAX_DAB_COORDINATE`) and pessimistic estimates of the time and queued memory per stroke
(:data:`MAX_STROKE_SECONDS`, :data:`MAX_STROKE_OPERATIONS`).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from . import _lib

BRUSH_VERSION = 3                 # the only .myb version libmypaint 1.6 reads
MAX_BRUSH_BYTES = 1 << 20         # shipped brushes are at most 26 kB
MIN_CURVE_POINTS = 2              # libmypaint asserts n != 1 (and empty curves mean nothing)
MAX_CURVE_POINTS = 64             # libmypaint's fixed control-point arrays
NEWER_INPUTS = ("surfacemap_x", "surfacemap_y")   # libmypaint 2 inputs: dropped where this library lacks them
INPUT_X_LIMIT = 1000.0            # |x| bound for inputs libmypaint leaves unbounded (pressure, speed, custom)
# Tighter upper limits than libmypaint's (200 each) for the settings that set the number of dabs per stroke.
# Time grows linearly with them; trials, 5 strokes with classic/dry_brush: dabs_per_actual_radius 200 takes
# 0.15 s on a 64 px canvas and 22 s on 2048 px, 1e4 takes 8.6 s on 64 px, 1e5 and 1e9 hang (> 20 s);
# dabs_per_basic_radius 200: 0.17 s and 19 s, 1e4: 6.1 s, 1e5 hangs; dabs_per_second 200: 0.02 s and 3.3 s,
# 1e5: 2.5 s, 1e9 hangs. Shipped brushes use at most 48.7, 6 and 80.
SAFE_BASE_MAX = {"dabs_per_basic_radius": 50.0, "dabs_per_actual_radius": 50.0, "dabs_per_second": 100.0}
CURVE_GAIN = 100.0                # a curve's values stay within ±CURVE_GAIN x its setting's span (shipped: 61)
# Bounds on a setting's value with its curves added, where more makes libmypaint paint for minutes (trials on
# a 64 px canvas, 5 strokes): radius_by_random 1.5 takes 0.13 s, 2 takes 0.14 s (4.5 s on 1024 px), 3 takes
# 6.4 s and 5 hangs; elliptical_dab_ratio 100 takes 0.6 s, 1000 11 s and 1e4 hangs; snap_to_pixel 1e4 hangs
# and 1e6 segfaults. Shipped brushes reach at most 1.76, 47.5 and 1.
EFFECTIVE_LIMITS = {"radius_by_random": (-2.0, 2.0), "elliptical_dab_ratio": (-50.0, 50.0),
                    "snap_to_pixel": (0.0, 1.0)}
# px: libmypaint's operation queue keeps a tile map covering every tile index a dab touched, 16 bytes x
# (2 x that index, rounded up to 10 x 2^k)^2: 26 MB for 32768 px. offset_by_random 1000 (dabs up to 26000 px
# away) paints in 0.04 s; 1e4 (260000 px) segfaults under a 1.5 GB limit.
MAX_DAB_COORDINATE = 32768
MAX_STROKE_SPEED = 3e4            # px/s: above any stroke MyPaintRenderer draws (warm-up 25600, 8192 px Bezier 23200)
RADIUS_LOG_DOMAIN = (-3.0, 7.0)   # log of the radii MyPaintRenderer sets (8 px to 8192 px canvases)
OFFSET_SETTINGS = ("offset_x", "offset_y", "offset_angle", "offset_angle_asc", "offset_angle_view",
                   "offset_angle_2", "offset_angle_2_asc", "offset_angle_2_view")
CUSTOM_DOMAIN = (-15.0, 15.0)     # libmypaint's custom_input range [-5, 5] widened by its span
ACTUAL_RADIUS_MIN, ACTUAL_RADIUS_MAX = 0.2, 1000.0   # libmypaint clamps every dab radius to these
# Estimated worst case per stroke (stroke_work). Shipped brushes estimate at most 47 s with 64 px strokes and
# 41 s with 1024 px ones (measured: under 0.1 s and 2.2 s); dabs_per_second 100 with radius curves of +8
# (1000 px dabs) estimates 78 to 163 s and measured 10 s per 1024 px stroke; dabs_per_basic_radius 50 with
# them hangs (> 30 s per 64 px stroke).
MAX_STROKE_SECONDS = 60.0
# libmypaint queues every dab's operation on each tile it touches until the stroke ends (measured: ~200 bytes
# each); dabs_per_actual_radius 50 with an elliptical ratio of 46 and 0.2 px dabs segfaults on a 1024 px
# canvas under a 1.5 GB limit (3.6e7 dabs). Shipped brushes estimate at most 1.9e6 with 64 px strokes, 3e6
# with 256 px ones; with 1024 px strokes tanda/acrylic-03-paint (1.1e7) is refused.
MAX_STROKE_OPERATIONS = 4e6
OPERATION_BYTES = 200
DAB_SECONDS = 4e-6                # measured: libmypaint's time per dab (small dabs, this machine's 2 cores)
PIXEL_SECONDS = 1.5e-8            # measured: its time per px^2 of a dab's bounding box
RAND_GAUSS_MAX = 3.5              # libmypaint's rand_gauss is a sum of four uniforms: |g| <= 2 * sqrt(3)


def read_brush_bytes(path) -> bytes:
    """The bytes of a .myb file, refusing one over :data:`MAX_BRUSH_BYTES` before reading it."""
    path = Path(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_BRUSH_BYTES:
            raise ValueError(f"brush file {str(path)!r} is {size} bytes; a brush file has at most "
                             f"{MAX_BRUSH_BYTES} bytes")
        with open(path, "rb") as f:
            data = f.read(MAX_BRUSH_BYTES + 1)
    except FileNotFoundError:
        raise FileNotFoundError(f"brush file {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise ValueError(f"brush file {str(path)!r} is a folder, not a .myb file") from None
    except OSError as exc:
        raise ValueError(f"brush file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_BRUSH_BYTES:
        raise ValueError(f"brush file {str(path)!r} is over {MAX_BRUSH_BYTES} bytes")
    return data


def check_brush(data: bytes, where: str = "brush") -> bytes:
    """Validate a .myb document (see the module docstring) → the canonical JSON bytes to give libmypaint."""
    return json.dumps(parse_brush(data, where), sort_keys=True, allow_nan=False).encode()


def parse_brush(data, where: str = "brush") -> dict:
    """Validate a .myb document (bytes, str or an already parsed dict) → ``{"version", "settings"}``."""
    if isinstance(data, (bytes, bytearray, str)):
        if len(data) > MAX_BRUSH_BYTES:
            raise ValueError(f"{where}: a brush file has at most {MAX_BRUSH_BYTES} bytes, got {len(data)}")
        try:
            text = data if isinstance(data, str) else bytes(data).decode("utf-8")
            doc = json.loads(text, parse_constant=_no_constant)
        except UnicodeDecodeError:
            raise ValueError(f"{where} is not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
        except RecursionError:
            raise ValueError(f"{where} nests JSON too deeply to be a brush file") from None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    else:
        doc = data
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a brush file is a JSON object with 'version' and 'settings', "
                         f"got {_kind(doc)}")
    version = doc.get("version")
    if version != BRUSH_VERSION or not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"{where}: 'version' must be {BRUSH_VERSION} (the brush format libmypaint reads), "
                         f"got {_show(version)}")
    raw = doc.get("settings")
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'settings' must be a JSON object of settings, got {_kind(raw)}")
    known = _lib.setting_infos()
    settings = {}
    for name, setting in raw.items():
        if name not in known:
            raise ValueError(f"{where}: unknown setting {name!r}; this libmypaint knows {len(known)} settings: "
                             f"{', '.join(known)}")
        settings[name] = _check_setting(setting, name, f"{where}: settings.{name}")
    brush = {"version": BRUSH_VERSION, "settings": settings}
    _check_effective(brush, where)
    return brush


def base_range(name: str) -> tuple[float, float]:
    """The allowed ``base_value`` range of a setting: libmypaint's [min, max], capped by SAFE_BASE_MAX."""
    _, lo, _, hi, _ = _lib.setting_infos()[name]
    return lo, min(hi, SAFE_BASE_MAX.get(name, hi))


def input_range(name: str) -> tuple[float, float]:
    """The allowed x range of a curve on an input: libmypaint's hard range, infinite ends at ±INPUT_X_LIMIT."""
    _, hard_min, _, _, hard_max = _lib.input_infos()[name]
    return max(hard_min, -INPUT_X_LIMIT), min(hard_max, INPUT_X_LIMIT)


def effective_range(brush: dict, name: str, base: float | None = None,
                    speed: float = MAX_STROKE_SPEED) -> tuple[float, float]:
    """Bounds of a setting's value (base plus every curve) over the inputs a renderer stroke can produce,
    its pointer at most ``speed`` px/s."""
    setting = brush["settings"].get(name)
    if base is None:
        base = setting["base_value"] if setting else 0.0    # libmypaint's value for a missing setting
    lo = hi = base
    for inp, points in (setting["inputs"] if setting else {}).items():
        a, b = _domain(brush, inp, speed)
        c_lo, c_hi = _curve_range(points, a, b)
        lo, hi = lo + c_lo, hi + c_hi
    return lo, hi


@dataclass(frozen=True)
class BrushProfile:
    """What a checked brush can do to libmypaint's work, from its settings and curves (see :func:`profile`)."""

    radius_log: tuple[float, float]   # range of the radius curves' sum (log of the factor on the base radius)
    radius_random: float              # largest |radius_by_random|
    ellipse: float                    # largest elliptical_dab_ratio (>= 1): dab spacing shrinks by it
    dabs_per_actual_radius: float
    dabs_per_basic_radius: float
    dabs_per_second: float
    reach_radii: float                # dab offsets, in base radii (offsets, offset_by_random, tracking noise)
    reach_speed: float                # dab offset per px/s of pointer speed (offset_by_speed)


def profile(brush: dict, speed: float = MAX_STROKE_SPEED) -> BrushProfile:
    """The :class:`BrushProfile` of a brush dict returned by :func:`parse_brush` (or its canonical JSON)
    while its pointer moves at most ``speed`` px/s."""
    settings = brush["settings"]

    def base(name):
        return settings[name]["base_value"] if name in settings else 0.0

    def span(name):
        return effective_range(brush, name, speed=speed)

    def most(name):
        lo, hi = span(name)
        return max(abs(lo), abs(hi))
    names = _lib.setting_infos()
    multiplier = math.exp(span("offset_multiplier")[1])
    offsets = sum(most(n) for n in OFFSET_SETTINGS if n in names) * multiplier
    random = max(span("offset_by_random")[1], 0.0) * RAND_GAUSS_MAX
    noise = max(base("tracking_noise"), 0.0) * RAND_GAUSS_MAX
    return BrushProfile(
        radius_log=effective_range(brush, "radius_logarithmic", base=0.0, speed=speed),
        radius_random=most("radius_by_random"), ellipse=max(1.0, span("elliptical_dab_ratio")[1]),
        dabs_per_actual_radius=max(base("dabs_per_actual_radius"), 0.0),
        dabs_per_basic_radius=max(base("dabs_per_basic_radius"), 0.0),
        dabs_per_second=max(base("dabs_per_second"), 0.0),
        reach_radii=offsets + random + noise, reach_speed=most("offset_by_speed") * 0.1)


def dab_reach(prof: BrushProfile, radius: float, speed: float) -> float:
    """Pixels at most between a dab and the pointer for a base ``radius`` and pointer ``speed`` (px/s)."""
    return prof.reach_radii * radius + prof.reach_speed * speed


def stroke_work(prof: BrushProfile, radii: tuple[float, float], length: float,
                seconds: float) -> tuple[float, float]:
    """A pessimistic estimate of one stroke's work in libmypaint → ``(seconds, queued operations)``.

    The stroke is ``length`` px long, lasts ``seconds`` s and has its base radius anywhere in ``radii``
    (px). Dabs are counted as libmypaint's count_dabs_to counts them, each setting at its worst over the
    inputs a stroke can produce, radii clamped as libmypaint clamps them; time is dabs x DAB_SECONDS +
    dab bounding-box area x PIXEL_SECONDS, and every dab queues one operation per 64 px tile it touches
    until the stroke ends (about OPERATION_BYTES each). Shipped brushes estimate at most 47 s and 1.9e6
    operations with 64 px strokes; their measured times are 20 to 4000 times lower."""
    s_lo, s_hi = prof.radius_log
    growth = math.exp(2.0 * prof.radius_random ** 2)      # mean dab-area factor of radius_by_random
    spread = math.exp(2.0 * prof.radius_random)            # radius factor of a 2-sigma radius_by_random draw

    def tiles(r):
        return (2.0 * min(r * spread, ACTUAL_RADIUS_MAX) / 64.0 + 2.0) ** 2
    seconds_worst = operations = 0.0
    for radius in radii:
        small = min(max(radius * math.exp(s_lo), ACTUAL_RADIUS_MIN), ACTUAL_RADIUS_MAX)
        big = min(max(radius * math.exp(s_hi), ACTUAL_RADIUS_MIN), ACTUAL_RADIUS_MAX)
        basic = min(max(radius, ACTUAL_RADIUS_MIN), ACTUAL_RADIUS_MAX)
        area = min(4.0 * big ** 2 * growth, 4.0 * ACTUAL_RADIUS_MAX ** 2)        # px^2 per dab at most
        per_px = prof.ellipse * prof.dabs_per_actual_radius                   # dabs per actual radius
        fixed = length * prof.ellipse * prof.dabs_per_basic_radius / basic + seconds * prof.dabs_per_second
        dabs = length * per_px / small + fixed
        pixels = length * per_px * min(4.0 * big * growth, area / ACTUAL_RADIUS_MIN) + fixed * area
        seconds_worst = max(seconds_worst, dabs * DAB_SECONDS + pixels * PIXEL_SECONDS)
        operations = max(operations, max(length * per_px / r * tiles(r) for r in (small, big)) + fixed * tiles(big))
    return seconds_worst, operations


def check_canvas(brush: dict, name: str, side: int, extent: int, margin: float, radii: tuple[float, float],
                 phases) -> None:
    """Refuse a brush (a :func:`parse_brush` dict called ``name``) whose dabs could land past
    :data:`MAX_DAB_COORDINATE` or whose strokes are estimated (:func:`stroke_work`) over
    :data:`MAX_STROKE_SECONDS` or :data:`MAX_STROKE_OPERATIONS`, on a canvas ``extent`` px wide (plus the
    renderer's own ``margin``) with strokes scaled to ``side`` px of base radius in ``radii``. A stroke is
    drawn in ``phases``, ``(length px, seconds, speed px/s)`` each (MyPaintRenderer: its warm-up detour,
    then its Bezier)."""
    reach = cost = operations = 0.0
    for length, seconds, speed in phases:
        prof = profile(brush, speed)
        reach = max(reach, dab_reach(prof, max(radii), speed))
        phase_cost, phase_operations = stroke_work(prof, radii, length, seconds)
        cost, operations = cost + phase_cost, operations + phase_operations
    if extent + margin + reach > MAX_DAB_COORDINATE:
        raise ValueError(f"brush {name!r} throws dabs up to {reach:.0f} px from the stroke (offset settings) "
                         f"with {side} px strokes on a {extent} px canvas; canvas + {margin:.0f} px + offsets "
                         f"must stay within {MAX_DAB_COORDINATE} px: paint smaller or use smaller offsets")
    if operations > MAX_STROKE_OPERATIONS:
        raise ValueError(f"brush {name!r} may queue up to {operations:.3g} dab operations per stroke with {side} px "
                         f"strokes (~{operations * OPERATION_BYTES / 2 ** 20:.0f} MB; dab rates, radius and "
                         f"elliptical-ratio curves); at most {MAX_STROKE_OPERATIONS:.0e} are allowed: paint "
                         f"smaller or use a lighter brush")
    if cost > MAX_STROKE_SECONDS:
        raise ValueError(f"brush {name!r} may take up to {cost:.0f} s per stroke with {side} px strokes "
                         f"(dab rates, radius and elliptical-ratio curves); at most {MAX_STROKE_SECONDS:g} s "
                         f"are allowed: paint smaller or use a lighter brush")


# -- internals --------------------------------------------------------------------------------------

def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number (numbers must be finite)")


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value, where: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{where} must be a number in [{lo:g}, {hi:g}], got {_kind(value)}")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    slack = 1e-6 * max(1.0, abs(lo), abs(hi))      # libmypaint's bounds are float32 (1.8 is 1.7999999523)
    if not math.isfinite(x) or not lo - slack <= x <= hi + slack:
        raise ValueError(f"{where} must be a finite number in [{lo:g}, {hi:g}], got {_show(value)}")
    return x


def _check_setting(setting, name: str, where: str) -> dict:
    if not isinstance(setting, dict):
        raise ValueError(f"{where} must be an object with 'base_value' and 'inputs', got {_kind(setting)}")
    extra = sorted(set(setting) - {"base_value", "inputs"})
    if extra or "base_value" not in setting or "inputs" not in setting:
        what = f"has unknown field {extra[0]!r}" if extra else "lacks " + (
            "'base_value'" if "base_value" not in setting else "'inputs'")
        raise ValueError(f"{where} {what}; a setting holds exactly 'base_value' and 'inputs'")
    lo, hi = base_range(name)
    base = _number(setting["base_value"], f"{where}.base_value", lo, hi)
    inputs = setting["inputs"]
    if not isinstance(inputs, dict):
        raise ValueError(f"{where}.inputs must be an object mapping input names to curves, got {_kind(inputs)}")
    _, smin, _, smax, _ = _lib.setting_infos()[name]
    span = smax - smin
    known = _lib.input_infos()
    curves = {}
    for inp, points in inputs.items():
        if inp in NEWER_INPUTS and inp not in known:      # checked, then dropped as libmypaint drops it
            _check_curve(points, f"{where}.inputs.{inp}", (-INPUT_X_LIMIT, INPUT_X_LIMIT), span)
            continue
        if inp not in known:
            raise ValueError(f"{where}.inputs: unknown input {inp!r}; this libmypaint knows {len(known)} inputs: "
                             f"{', '.join(known)}")
        curves[inp] = _check_curve(points, f"{where}.inputs.{inp}", input_range(inp), span)
    return {"base_value": base, "inputs": curves}


def _check_curve(points, where: str, xrange: tuple[float, float], span: float) -> list:
    if not isinstance(points, list) or not MIN_CURVE_POINTS <= len(points) <= MAX_CURVE_POINTS:
        got = f"{len(points)} points" if isinstance(points, list) else _kind(points)
        raise ValueError(f"{where} must be a list of {MIN_CURVE_POINTS} to {MAX_CURVE_POINTS} [x, y] points, "
                         f"got {got}")
    out, last = [], -math.inf
    for i, point in enumerate(points):
        if not isinstance(point, list) or len(point) != 2:
            raise ValueError(f"{where}[{i}] must be an [x, y] pair of numbers, got {_show(point)}")
        x = _number(point[0], f"{where}[{i}] x", *xrange)
        y = _number(point[1], f"{where}[{i}] y", -span, span)
        if x < last:
            raise ValueError(f"{where}[{i}] x must not decrease (libmypaint's curves run left to right): "
                             f"{x:g} < {last:g}")
        last = x
        out.append([x, y])
    return out


def _curve_value(points, x: float) -> float:
    """mypaint_mapping_calculate for one curve: piecewise linear, end segments extrapolated."""
    (x0, y0), (x1, y1) = points[0], points[1]
    i = 2
    while i < len(points) and x > x1:
        (x0, y0), (x1, y1) = (x1, y1), points[i]
        i += 1
    if x0 == x1 or y0 == y1:
        return y0
    return (y1 * (x - x0) + y0 * (x1 - x)) / (x1 - x0)


def _curve_range(points, a: float, b: float) -> tuple[float, float]:
    """A superset of a curve's values for inputs in [a, b]: its points' y and its (extrapolated) ends."""
    values = [y for _, y in points] + [_curve_value(points, a), _curve_value(points, b)]
    if not all(math.isfinite(v) for v in values):
        return -math.inf, math.inf
    return min(values), max(values)


def _domain(brush: dict, inp: str, speed: float = MAX_STROKE_SPEED) -> tuple[float, float]:
    """The values an input takes while MyPaintRenderer paints (pressures in [0, 1], no tilt, view zoom 1),
    its pointer at most ``speed`` px/s."""
    settings = brush["settings"]

    def base(name):
        return settings[name]["base_value"] if name in settings else 0.0
    if inp == "pressure":
        return 0.0, math.exp(base("pressure_gain_log"))
    if inp in ("speed1", "speed2"):      # libmypaint: log(gamma + speed) * m + q, speed in px/s
        gamma = math.exp(base(f"{inp}_gamma"))
        m = 0.015 * (45.0 + gamma)
        q = 0.5 - m * math.log(45.0 + gamma)
        return math.log(gamma) * m + q, math.log(gamma + speed) * m + q
    if inp == "custom":      # starts at 0 and follows custom_input's value (a curve of it on custom
        lo, hi = CUSTOM_DOMAIN  # itself is evaluated over CUSTOM_DOMAIN, to which custom_input is held)
        setting = settings.get("custom_input")
        if setting is None:
            return 0.0, 0.0
        if "custom" not in setting["inputs"]:
            lo, hi = effective_range(brush, "custom_input", speed=speed)
        return min(lo, 0.0), max(hi, 0.0)
    if inp == "brush_radius":
        return RADIUS_LOG_DOMAIN
    _, hard_min, _, _, hard_max = _lib.input_infos()[inp]
    return hard_min, hard_max


def _check_effective(brush: dict, where: str) -> None:
    for name, setting in brush["settings"].items():
        _, smin, _, smax, _ = _lib.setting_infos()[name]
        span = smax - smin
        for inp, points in setting["inputs"].items():
            c_lo, c_hi = _curve_range(points, *_domain(brush, inp))
            if not (math.isfinite(c_lo) and math.isfinite(c_hi)) or max(-c_lo, c_hi) > CURVE_GAIN * span:
                raise ValueError(f"{where}: settings.{name}.inputs.{inp} reaches [{c_lo:.4g}, {c_hi:.4g}] over "
                                 f"the input's values (its end segments extrapolate); a curve stays within "
                                 f"±{CURVE_GAIN:g} x the setting's span, ±{CURVE_GAIN * span:g}")
    for name, (lo, hi) in EFFECTIVE_LIMITS.items():
        if name in brush["settings"]:
            e_lo, e_hi = effective_range(brush, name)
            if e_lo < lo or e_hi > hi:
                raise ValueError(f"{where}: settings.{name} reaches [{e_lo:.4g}, {e_hi:.4g}] with its input "
                                 f"curves; it must stay within [{lo:g}, {hi:g}]")


def brush_json(name: str) -> bytes:
    """The checked .myb of a brush given as "group/name" or a path to a .myb file, re-serialized.

    The file is validated by :func:`strokeparam.mypaint.brushfile.check_brush` (libmypaint's own
    ranges, curve rules and safety limits; ValueError naming the field otherwise) and libmypaint is
    handed the canonical JSON of what was checked, never the raw bytes. A path is read and checked
    on every call; an installed brush once.
    """
    if not isinstance(name, (str, os.PathLike)) or isinstance(name, str) and ("\0" in name or not name):
        raise ValueError(f"brush must be a name like 'classic/dry_brush' or a .myb path, got {name!r}")
    path = Path(name)
    if path.suffix == ".myb" and path.is_file():
        return check_brush(read_brush_bytes(path), str(path))
    if path.suffix == ".myb":
        raise FileNotFoundError(f"brush file {str(path)!r} does not exist")
    return _installed_brush_json(str(name))


@lru_cache(maxsize=None)
def _installed_brush_json(name: str) -> bytes:
    for root in _lib.brush_dirs():
        candidate = root / f"{name}.myb"
        if candidate.is_file():
            return check_brush(read_brush_bytes(candidate), str(name))
    available = _lib.list_brushes()
    if not available:
        raise _lib.MyPaintNotFound(f"no MyPaint brushes are installed; {_lib.INSTALL_HINT}")
    raise KeyError(f"unknown brush {name!r}; available brushes: {', '.join(available)}")
