"""MyPaintRenderer: the real, non-differentiable painting program behind the neural painters."""
from __future__ import annotations

import colorsys
import ctypes
import json
import math

import numpy as np

from .. import actions as A
from ..checks import integer, is_int, rgb
from . import _lib, brushfile

POINTS_PER_STROKE = 50        # stroke_to calls along the Bezier
STROKE_SECONDS = 1.0          # simulated duration of one stroke (drives MyPaint's speed inputs)
MAX_WARMUP = 1024             # seeds advance the brush's RNG by one of this many idle detours
WARMUP_STEP = 0.25            # pixels of detour per warm-up unit
PAINT_CHUNK = 64              # strokes per compiled call of paint()
MAX_CANVAS = 8192             # px: largest canvas side and tile (its surface is 8192^2 x 8 bytes = 512 MB)


class _Surface:
    """A fixed-size libmypaint tiled surface, cleared and read through public tile requests."""

    def __init__(self, width: int, height: int):
        lib = _lib.library()
        self.lib, self.width, self.height = lib, width, height
        self.fixed = lib.mypaint_fixed_tiled_surface_new(width, height)
        if not self.fixed:
            raise MemoryError(f"libmypaint could not allocate a {width}x{height} surface")
        self.iface = lib.mypaint_fixed_tiled_surface_interface(self.fixed)
        self.tiles = [(tx, ty) for ty in range(math.ceil(height / _lib.TILE))
                      for tx in range(math.ceil(width / _lib.TILE))]
        self.clear()

    def _tile(self, tx: int, ty: int, readonly: bool):
        req = _lib.TileRequest()
        self.lib.mypaint_tile_request_init(ctypes.byref(req), 0, tx, ty, int(readonly))
        self.lib.mypaint_tiled_surface_tile_request_start(self.fixed, ctypes.byref(req))
        return req

    def clear(self) -> None:
        """Make every pixel transparent black (the surface starts out of range)."""
        nbytes = _lib.TILE * _lib.TILE * 4 * 2
        for tx, ty in self.tiles:
            req = self._tile(tx, ty, readonly=False)
            ctypes.memset(req.buffer, 0, nbytes)
            self.lib.mypaint_tiled_surface_tile_request_end(self.fixed, ctypes.byref(req))

    def read(self, alpha: bool = False) -> np.ndarray:
        """Premultiplied RGBA as float32 (height, width, 4) in [0, 1]; ``alpha``: the alpha alone (height, width)."""
        t = _lib.TILE
        channels = slice(3, 4) if alpha else slice(0, 4)
        out = np.empty((math.ceil(self.height / t) * t, math.ceil(self.width / t) * t, channels.stop - channels.start),
                       np.float32)
        for tx, ty in self.tiles:
            req = self._tile(tx, ty, readonly=True)
            tile = np.ctypeslib.as_array(req.buffer, shape=(t, t, 4))
            out[ty * t:(ty + 1) * t, tx * t:(tx + 1) * t] = tile[..., channels]
            self.lib.mypaint_tiled_surface_tile_request_end(self.fixed, ctypes.byref(req))
        out = out[: self.height, : self.width]
        out *= 1.0 / _lib.ONE
        np.clip(out, 0.0, 1.0, out=out)
        return out[..., 0] if alpha else out

    def close(self) -> None:
        if self.iface:
            self.lib.mypaint_surface_unref(self.iface)
            self.iface = self.fixed = None

    def __del__(self):
        self.close()


class MyPaintRenderer:
    """Paints actions with a real MyPaint brush through libmypaint.

    ``render(actions)`` gives each stroke's straight alpha on its own fresh ``size``-px canvas (what the
    neural painters learn); ``paint(actions)`` composites a sequence of strokes in color on one canvas.
    Like the real program, strokes are stochastic (the brush's jitter); a ``seed`` reproduces them bit
    for bit. A fresh brush is made for every stroke and its random stream advanced by a seed-drawn number
    of idle steps, so stroke i of a seeded call never depends on the strokes before it.
    """

    def __init__(self, brush: str = "classic/dry_brush", size: int = 64):
        self.size = integer(size, "size", 8, MAX_CANVAS, what="an integer number of pixels")
        self.brush = brush
        self._json = brushfile.brush_json(brush)       # checked before libmypaint sees it
        self._doc, self._canvases = json.loads(self._json), set()
        self._check_canvas(self.size, self.size)
        self._lib = _lib.library()
        self._ids = {name: _lib.setting_id(name)
                     for name in ("radius_logarithmic", "color_h", "color_s", "color_v")}
        self._check_brush()
        self._recipe = self._brush_recipe()
        self._surface = None

    def __repr__(self) -> str:
        return f"MyPaintRenderer(brush={self.brush!r}, size={self.size})"

    def _check_canvas(self, side: int, extent: int) -> None:
        """Refuse this brush on a canvas ``extent`` px wide with strokes scaled to ``side`` px where its
        offsets or its estimated work per stroke pass brushfile's limits."""
        if (side, extent) in self._canvases:
            return
        radii = (float(A.radius_pixels(0.0, side)), float(A.radius_pixels(1.0, side)))
        detour = MAX_WARMUP * WARMUP_STEP                         # the warm-up: this far in 0.01 s
        bezier = 2.0 * math.sqrt(2.0) * side                      # a Bezier within its square, in STROKE_SECONDS
        phases = [(detour, 0.02, detour / 0.01), (bezier, STROKE_SECONDS, bezier / STROKE_SECONDS * 1.5)]
        brushfile.check_canvas(self._doc, str(self.brush), side, extent, detour, radii, phases)
        self._canvases.add((side, extent))

    def _check_brush(self) -> None:
        brush = self._lib.mypaint_brush_new()
        ok = self._lib.mypaint_brush_from_string(brush, self._json)
        self._lib.mypaint_brush_unref(brush)
        if not ok:
            raise ValueError(f"brush {self.brush!r} is not a valid MyPaint brush file")

    def _brush_recipe(self) -> tuple:
        """The brush file as the compiled loop builds each stroke's brush (``new_brush`` in _strokes.c): the
        number of settings, their ints (id, mappings, each mapping's input id and points) and doubles (base
        value, each point's x, y), in the file's order, skipping names this libmypaint does not know, as
        mypaint_brush_from_string does."""
        settings, inputs = _lib.setting_infos(), _lib.input_infos()
        count, ints, doubles = 0, [], []
        for name, setting in self._doc["settings"].items():
            if name not in settings:
                continue
            mappings = [(inputs[key][0], points) for key, points in (setting.get("inputs") or {}).items()
                        if key in inputs]
            count += 1
            ints += [settings[name][0], len(mappings)]
            doubles.append(float(setting["base_value"]))
            for input_id, points in mappings:
                ints += [input_id, len(points)]
                doubles += [float(v) for point in points for v in point[:2]]
        return count, np.array(ints, np.int32), np.array(doubles, np.float64)

    # -- drawing -------------------------------------------------------------------------------------
    def _strokes(self, surface: _Surface, specs: list, warmups: list, alpha: np.ndarray | None = None,
                 compiled: bool = True) -> None:
        """Paint ``specs`` on ``surface``, each with its brush warm-up; with ``alpha`` ((N, size, size)
        float32) each stroke is painted alone: its alpha is read into ``alpha[i]`` and the surface cleared.
        The compiled stroke loop (:func:`_lib.helper`) paints when it is built and ``compiled``; the same
        calls from Python otherwise, with the same pixels."""
        loop = _lib.helper() if compiled else None
        if loop is None:
            for i, (spec, warmup) in enumerate(zip(specs, warmups)):
                self._stroke(surface, spec, warmup)
                if alpha is not None:
                    alpha[i] = surface.read(alpha=True)
                    surface.clear()
            return
        if not specs:
            return
        ids = np.array([self._ids[k] for k in ("radius_logarithmic", "color_h", "color_s", "color_v")]
                       + [_lib.STATE_X, _lib.STATE_ACTUAL_X, _lib.STATE_Y, _lib.STATE_ACTUAL_Y], np.int32)
        log_radius = np.array([math.log(s.radius) for s in specs])
        hsv = np.array([colorsys.rgb_to_hsv(*s.color) for s in specs], np.float64)
        pressures = np.array([s.pressures for s in specs], np.float64)
        path = np.ascontiguousarray(np.stack([A.bezier(s.points, POINTS_PER_STROKE) for s in specs]), np.float64)
        states = np.asarray(warmups, np.int32)

        def pointer(array, kind=ctypes.c_double):
            return array.ctypes.data_as(ctypes.POINTER(kind))
        out = None if alpha is None else pointer(alpha, ctypes.c_float)
        settings, brush_ints, brush_doubles = self._recipe
        failed = loop.paint_strokes(surface.fixed, surface.iface, surface.width, settings,
                                    pointer(brush_ints, ctypes.c_int), pointer(brush_doubles),
                                    pointer(ids, ctypes.c_int), len(specs), POINTS_PER_STROKE, pointer(log_radius),
                                    pointer(hsv), pointer(pressures), pointer(states, ctypes.c_int), WARMUP_STEP,
                                    pointer(path), STROKE_SECONDS / POINTS_PER_STROKE, out)
        if failed:
            raise MemoryError("libmypaint could not make a brush")

    def _stroke(self, surface: _Surface, spec: A.StrokeSpec, warmup: int) -> None:
        lib, ids = self._lib, self._ids
        brush = lib.mypaint_brush_new()
        try:
            lib.mypaint_brush_from_string(brush, self._json)
            lib.mypaint_brush_set_base_value(brush, ids["radius_logarithmic"], math.log(spec.radius))
            h, s, v = colorsys.rgb_to_hsv(*spec.color)
            for key, value in zip(("color_h", "color_s", "color_v"), (h, s, v)):
                lib.mypaint_brush_set_base_value(brush, ids[key], value)
            path = A.bezier(spec.points, POINTS_PER_STROKE).tolist()
            x0, y0 = path[0]
            rect = _lib.Rectangle()
            stroke_to, iface = lib.mypaint_brush_stroke_to, surface.iface
            if warmup:  # advance the brush's random stream: idle dabs (pressure 0) along a detour, from the
                # same point for every stroke, so the stream (and the stroke) is the same wherever it lies
                lib.mypaint_surface_begin_atomic(iface)
                stroke_to(brush, iface, 0.0, 0.0, 0.0, 0.0, 0.0, 0.01)
                stroke_to(brush, iface, warmup * WARMUP_STEP, 0.0, 0.0, 0.0, 0.0, 0.01)
                lib.mypaint_surface_end_atomic(iface, ctypes.byref(rect))
            lib.mypaint_brush_reset(brush)
            lib.mypaint_brush_new_stroke(brush)
            for state in (_lib.STATE_X, _lib.STATE_ACTUAL_X):
                lib.mypaint_brush_set_state(brush, state, x0)
            for state in (_lib.STATE_Y, _lib.STATE_ACTUAL_Y):
                lib.mypaint_brush_set_state(brush, state, y0)
            p0, p1 = spec.pressures
            dtime = STROKE_SECONDS / POINTS_PER_STROKE
            lib.mypaint_surface_begin_atomic(iface)
            stroke_to(brush, iface, x0, y0, 0.0, 0.0, 0.0, dtime)   # places the brush
            last = len(path) - 1
            for i, (x, y) in enumerate(path):
                stroke_to(brush, iface, x, y, p0 + (p1 - p0) * i / last, 0.0, 0.0, dtime)
            lib.mypaint_surface_end_atomic(iface, ctypes.byref(rect))
        finally:
            lib.mypaint_brush_unref(brush)

    def _warmups(self, num: int, seed, warmups=None) -> list[int]:
        if warmups is not None:
            states = np.asarray(warmups)
            if (states.shape != (num,) or not np.issubdtype(states.dtype, np.integer)
                    or (num and not 0 <= states.min() <= states.max() < MAX_WARMUP)):
                raise ValueError(f"warmups must be {num} integers in [0, {MAX_WARMUP}), one per stroke")
            return states.tolist()
        if seed is not None and not (is_int(seed) and seed >= 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        return brush_states(seed, num)

    def render(self, actions, seed: int | None = None, margin: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """Straight alpha of each stroke on its own fresh canvas: float32 (N, side, side) in [0, 1], with
        ``side = size + 2 * margin``: the stroke on its ``size``-px square and ``margin`` px around it;
        written into ``out`` when given (a writeable C-contiguous float32 array of that shape)."""
        acts = A.validate(actions)
        margin = integer(margin, "margin", 0, self.size, what="an integer number of pixels")
        warmups = self._warmups(len(acts), seed)
        side = self.size + 2 * margin
        out = alpha_buffer(out, len(acts), side)
        if self._surface is None or self._surface.width != side:
            self._check_canvas(self.size, side)
            self._surface = _Surface(side, side)
        specs = [A.to_mypaint(action, self.size) for action in acts]
        specs = [A.StrokeSpec(s.points + margin, s.pressures, s.radius, s.color) for s in specs]
        self._strokes(self._surface, specs, warmups, out)
        return out

    def paint(self, actions, size: int | tuple | None = None, background=(1.0, 1.0, 1.0),
              seed: int | None = None, rgba: bool = False, origins=None, tile: int | None = None,
              warmups=None) -> np.ndarray:
        """Composite the strokes in order on one canvas: float32 (H, W, 3) in [0, 1].

        ``size`` is the canvas side or (height, width); by default the actions' coordinates are
        fractions of the canvas and brush sizes scale with its shorter side. With ``tile`` and
        ``origins`` ((N, 2) top-left pixels), each stroke instead lies in its own ``tile``-px square
        at its origin (the stitched layout of a BrushstrokeParam; ``tile`` may be one side per stroke).
        ``background`` is an RGB triple in [0, 1]; ``rgba=True`` returns the premultiplied RGBA layer
        (H, W, 4) without the background. ``warmups`` (one integer in [0, MAX_WARMUP) per stroke) sets each
        stroke's brush randomness directly, in place of ``seed`` (see :func:`brush_states`).
        """
        acts = A.validate(actions)
        height, width = _canvas_shape(self.size if size is None else size)
        bg = rgb(background)
        specs = self._specs(acts, height, width, origins, tile)
        warmups = self._warmups(len(acts), seed, warmups)
        surface = _Surface(width, height)
        try:
            for start in range(0, len(specs), PAINT_CHUNK):     # chunks: Ctrl-C is heard between them
                self._strokes(surface, specs[start:start + PAINT_CHUNK], warmups[start:start + PAINT_CHUNK])
            layer = surface.read()
        finally:
            surface.close()
        if rgba:
            return layer
        return layer[..., :3] + (1.0 - layer[..., 3:]) * bg

    def _specs(self, acts: np.ndarray, height: int, width: int, origins, tile) -> list:
        if (origins is None) != (tile is None):
            raise ValueError("origins and tile go together: pass both or neither")
        if tile is None:
            side = min(height, width)
            self._check_canvas(side, max(height, width))
            stretch = np.array([width / side, height / side])
            specs = [A.to_mypaint(a, side) for a in acts]
            return [A.StrokeSpec(s.points * stretch, s.pressures, s.radius, s.color) for s in specs]
        tiles = np.asarray(tile) if isinstance(tile, (list, tuple, np.ndarray)) else np.full(len(acts), tile)
        if (tiles.shape != (len(acts),) or not all(is_int(t)
                                                  for t in tiles.tolist())
                or (len(acts) and not 8 <= tiles.min() <= tiles.max() <= min(max(height, width), MAX_CANVAS))):
            raise ValueError(f"tile must be an integer number of pixels in [8, {max(height, width)}] (at most "
                             f"the canvas's longer side {max(height, width)}), or one such per stroke, "
                             f"got {str(tile)[:60]}")
        try:
            origins = np.asarray(origins, dtype=np.float64)
        except (TypeError, ValueError):
            origins = np.full((0,), np.nan)
        if origins.shape != (len(acts), 2) or not np.all(np.isfinite(origins)):
            raise ValueError(f"origins must be finite (top, left) pixels of shape ({len(acts)}, 2), "
                             f"got shape {origins.shape}")
        top, left = origins[:, 0], origins[:, 1]
        if len(acts) and ((top < -tiles).any() or top.max() > height or (left < -tiles).any() or left.max() > width):
            one = len(set(tiles.tolist())) == 1
            side, low = (f"{tiles[0]} px tile", f"-{tiles[0]}") if one else ("tile", "-tile")
            raise ValueError(f"origins must keep each {side} on the {height}x{width} canvas: top in "
                             f"[{low}, {height}] and left in [{low}, {width}], got top in "
                             f"[{top.min():g}, {top.max():g}] and left in [{left.min():g}, {left.max():g}]")
        for side in set(tiles.tolist()):
            self._check_canvas(int(side), max(height, width))
        specs = [A.to_mypaint(a, int(t)) for a, t in zip(acts, tiles)]
        return [A.StrokeSpec(s.points + o[::-1], s.pressures, s.radius, s.color) for s, o in zip(specs, origins)]


def alpha_buffer(out: np.ndarray | None, num: int, side: int) -> np.ndarray:
    """``out`` checked to take the alpha of ``num`` strokes on ``side``-px squares (a writeable C-contiguous
    float32 array (num, side, side)), or a new one when None."""
    if out is None:
        return np.empty((num, side, side), np.float32)
    if not (isinstance(out, np.ndarray) and out.shape == (num, side, side) and out.dtype == np.float32
            and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"out must be a writeable C-contiguous float32 array of shape ({num}, {side}, {side}), "
                         f"got {getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
    return out


def paints_alike(brush: str) -> bool:
    """Whether MyPaint brush ``brush`` paints the same pixels under every seed (it has no randomness): 8 random
    strokes rendered under two seeds come out equal."""
    renderer, probe = MyPaintRenderer(brush, 32), A.random_actions(8, seed=0)
    return bool(np.array_equal(renderer.render(probe, seed=1), renderer.render(probe, seed=2)))


def brush_states(seed: int | None, num: int) -> list[int]:
    """The brush randomness of ``num`` strokes painted with ``seed``: each stroke's warm-up (how far its
    brush's random stream is advanced before it paints), drawn from ``seed`` (fresh when None)."""
    return np.random.default_rng(seed).integers(0, MAX_WARMUP, size=num).tolist()


def _canvas_shape(size) -> tuple[int, int]:
    if is_int(size):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(is_int(s) for s in size)
            or not all(8 <= s <= MAX_CANVAS for s in size)):
        raise ValueError(f"size must be an integer or (height, width) of integers in [8, {MAX_CANVAS}], got {size!r}")
    return int(size[0]), int(size[1])
