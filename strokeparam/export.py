"""Saving paintings: stroke JSON (reloadable as ``init``), PNG, SVG, GIF, OpenRaster."""
from __future__ import annotations

import io
import json
import math
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import actions as A
from .canvas import Layout, strokes_in, underpainting_levels
from .checks import integer
from .files import atomic_write_bytes

STROKES_FORMAT = "strokeparam-strokes"
STROKES_VERSION = 1


def strokes_dict(param) -> dict:
    """The stroke list of a BrushstrokeParam as a JSON-ready dict (schema ``strokeparam-strokes`` v1).

    ``paintings[b]`` lists painting b's strokes in painting order: first the ``underpainting`` layers
    (each ``{tile, strokes, layout}``: its tiles in order, ``strokes`` each), then tile k of ``layout``
    (``layout.order()``) owns the next strokes ``k * strokes_per_tile`` to ``(k + 1) * strokes_per_tile - 1``;
    each stroke is a list of the 12 action fields (``fields``) in [0, 1], coordinates relative to its tile.
    ``painter`` names the painter with its ``config`` and ``weights_sha256``, ``brush`` the MyPaint brush the
    strokes are painted with (:attr:`BrushstrokeParam.brush_name`; optional on reading); ``constraints`` are those of
    :mod:`strokeparam.constraints` (``to_dict``); ``raw`` holds the optimized parameters themselves
    (float32 values, before sigmoid and constraints). Loading the file as ``init`` restores all of it, and
    the same image bit for bit.
    """
    from .painters import weights_digest
    acts = param.actions().detach().cpu().numpy().astype(np.float64)
    painter = param.painter
    return {
        "format": STROKES_FORMAT,
        "version": STROKES_VERSION,
        "action_space_version": A.ACTION_SPACE_VERSION,
        "fields": list(A.FIELDS),
        "layout": param.layout.to_dict(),
        "tile_origins": [list(o) for o in param.layout.origins()],
        "strokes_per_tile": param.strokes,
        "size": list(param.output_size),
        "background": [float(c) for c in param.background.tolist()],
        "underpainting": [dict(tile=lay.tile, strokes=n, layout=lay.to_dict()) for lay, n in param.levels[:-1]],
        "painter": getattr(painter, "name", type(painter).__name__),
        "painter_config": {k: v for k, v in painter.config().items() if k != "size"},
        "painter_weights_sha256": weights_digest(painter),
        "brush": param.brush_name,
        "constraints": [c.to_dict() for c in param.constraints],
        "paintings": [[[round(v, 7) for v in stroke] for stroke in painting] for painting in acts.tolist()],
        "raw": param.raw.detach().cpu().float().numpy().astype(np.float64).tolist(),
    }


def save_strokes(param, path) -> Path:
    """Write the stroke JSON of ``param`` to ``path`` atomically."""
    path = Path(path)
    atomic_write_bytes(path, json.dumps(strokes_dict(param), indent=1).encode())
    return path


MAX_STROKES_BYTES = 64 << 20      # a stroke JSON of 1000 tiles x 100 strokes x 4 paintings is ~60 MB
MAX_RAW = 1e4                     # |raw parameter|: sigmoid is 0 or 1 in float32 long before
MAX_SIZE = 8192                   # px: largest output side and layout canvas side (MyPaintRenderer's MAX_CANVAS)


def load_strokes(source) -> dict:
    """Read a stroke JSON (path or dict) → dict with ``layout`` (Layout), ``strokes`` (per tile),
    ``underpainting`` ((tile, strokes) pairs or None), ``actions`` (float32 tensor (batch, strokes, 12)),
    ``size`` ((H, W)), ``background``, ``constraints`` (objects), ``raw`` (tensor or None), ``brush`` (a name
    or None) and ``doc``;
    raises ValueError on a bad file. :func:`saved_painter` restores its painter.

    Bounds: the file holds at most :data:`MAX_STROKES_BYTES` bytes; ``size`` and the layout's canvas
    (rows, cols, tile, overlap) are at most :data:`MAX_SIZE` px a side."""
    if isinstance(source, dict):
        doc, where = source, "stroke dict"
    else:
        where = str(source)
        try:
            if Path(source).stat().st_size > MAX_STROKES_BYTES:
                raise ValueError(f"{where} is {Path(source).stat().st_size} bytes; a stroke JSON has at most "
                                 f"{MAX_STROKES_BYTES} bytes")
            doc = json.loads(Path(source).read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"stroke JSON {where} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where} is not a JSON file: {exc}") from None
        except RecursionError:
            raise ValueError(f"{where} nests JSON too deeply to be a stroke file") from None
    if not isinstance(doc, dict) or doc.get("format") != STROKES_FORMAT:
        raise ValueError(f"{where} is not a strokeparam stroke file (format must be {STROKES_FORMAT!r})")
    if doc.get("version") != STROKES_VERSION or doc.get("action_space_version") != A.ACTION_SPACE_VERSION:
        raise ValueError(f"{where} has version {doc.get('version')} / action space "
                         f"{doc.get('action_space_version')}; this strokeparam reads {STROKES_VERSION} / "
                         f"{A.ACTION_SPACE_VERSION}")
    try:
        lay = dict(doc["layout"])
        lay.setdefault("margin", 0)                # files of before margins: tiles cut at their edges
        for key in ("rows", "cols", "tile", "overlap", "margin"):
            if (not isinstance(lay[key], (int, np.integer)) or isinstance(lay[key], bool)
                    or not 0 <= lay[key] <= MAX_SIZE):
                raise ValueError(f"layout.{key} must be an integer in [0, {MAX_SIZE}], got {lay[key]!r}")
        layout = Layout(lay["rows"], lay["cols"], lay["tile"], lay["overlap"], lay["margin"])
        if max(layout.height, layout.width) > MAX_SIZE:
            raise ValueError(f"the layout's canvas is {layout.height}x{layout.width} px; at most {MAX_SIZE} px a side")
        size = doc["size"]
        if (not isinstance(size, (list, tuple)) or len(size) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE
                           for v in size)):
            raise ValueError(f"size must be [height, width] integers in [1, {MAX_SIZE}], got {str(size)[:60]}")
        size = (int(size[0]), int(size[1]))
        paintings = np.asarray(doc["paintings"], dtype=np.float64)
        background = [float(c) for c in doc["background"]]
        under = doc.get("underpainting") or []
        if not isinstance(under, list) or len(under) > 8:
            raise ValueError("underpainting must be a list of at most 8 layers")
        under = [(int(u["tile"]), int(u["strokes"])) for u in under]
        levels = underpainting_levels(under or None, layout)
        under_total = strokes_in(levels)
        strokes = doc.get("strokes_per_tile", max(1, (paintings.shape[1] - under_total) // layout.tiles))
        integer(strokes, "strokes_per_tile")
        from . import constraints as C
        constraints = [C.from_dict(c) for c in doc.get("constraints", [])]
        raw = None if doc.get("raw") is None else np.asarray(doc["raw"], dtype=np.float64)
        brush = doc.get("brush")
        if brush is not None and not (isinstance(brush, str) and 0 < len(brush) <= 256):
            raise ValueError(f"brush must be a MyPaint brush name, got {str(brush)[:60]!r}")
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"{where} is malformed: {exc}") from None
    if paintings.ndim != 3 or paintings.shape[1] != under_total + layout.tiles * strokes:
        raise ValueError(f"{where}: paintings must be (batch, strokes, 12) with {under_total} underpainting strokes + "
                         f"{layout.tiles} tiles x {strokes} strokes, got shape {paintings.shape}")
    acts = A.validate(paintings.reshape(-1, paintings.shape[-1]), f"{where} strokes").reshape(paintings.shape)
    if raw is not None and (raw.shape != paintings.shape or not np.all(np.abs(raw) <= MAX_RAW)):
        raise ValueError(f"{where}: raw must be finite numbers in [-{MAX_RAW:g}, {MAX_RAW:g}] of the paintings' shape "
                         f"{paintings.shape}, got shape {raw.shape}")
    return {"layout": layout, "strokes": strokes, "underpainting": under or None,
            "actions": torch.from_numpy(acts.astype(np.float32)), "size": size, "background": background,
            "constraints": constraints, "where": where, "brush": brush,
            "raw": None if raw is None else torch.from_numpy(raw.astype(np.float32)), "doc": doc}


def saved_painter(saved: dict):
    """The painter a loaded stroke file (:func:`load_strokes`) names, with the weights it was painted with;
    None if it names none. ValueError if that painter or those weights are not installed."""
    from .painters import create_painter, weights_digest
    from .painters.registry import is_painter_name
    doc, where = saved["doc"], saved["where"]
    name, digest = doc.get("painter"), doc.get("painter_weights_sha256")
    if name is None:
        return None
    if not is_painter_name(name):
        raise ValueError(f"{where} was painted with the painter {str(name)[:80]!r}, which is not registered here; "
                         f"pass painter= the painter it was painted with")
    try:
        painter = create_painter(name)
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"{where} was painted with the painter {name!r}, which cannot be loaded here ({exc}); "
                         "pass painter= the painter it was painted with") from None
    if digest is not None and weights_digest(painter) != digest:
        raise ValueError(f"{where} was painted with other {name!r} weights (sha256 {str(digest)[:12]}..., the "
                         f"installed ones are {weights_digest(painter)[:12]}...); pass painter= the painter it "
                         "was painted with (e.g. strokeparam.painters.load_weights(path))")
    return painter


# -- images -----------------------------------------------------------------------------------------

def save_png(image, path) -> list[Path]:
    """Write an image as PNG, atomically; returns the paths written.

    ``image``: a tensor (C, H, W) or (batch, C, H, W) in [0, 1], or a numpy array (H, W), (H, W, C) or
    (batch, H, W, C), float in [0, 1] or uint8; C = 1 (gray), 3 (RGB) or 4 (RGBA). A single painting goes to ``path``; a
    batch of several writes one PNG per painting, ``<stem>_0.png``, ``<stem>_1.png``, ... beside it.
    """
    frames = _to_uint8(image)
    path = Path(path)
    if len(frames) == 1:
        paths = [path]
    else:
        paths = [path.with_name(f"{path.stem}_{b}{path.suffix or '.png'}") for b in range(len(frames))]
    for frame, out in zip(frames, paths):
        atomic_write_bytes(out, _png_bytes(_picture(frame)))
    return paths


def _to_uint8(image) -> np.ndarray:
    """Any accepted image → uint8 (batch, H, W, C) with C in (1, 3, 4)."""
    if isinstance(image, torch.Tensor):
        if image.ndim not in (3, 4) or image.shape[-3] not in (1, 3, 4):
            raise ValueError(f"image tensor must be (C, H, W) or (batch, C, H, W) with C = 1, 3 or 4, "
                             f"got shape {tuple(image.shape)}")
        image = image.detach().float().cpu().movedim(-3, -1).numpy()
    elif not isinstance(image, np.ndarray):
        raise ValueError(f"image must be a torch tensor or a numpy array, got {type(image).__name__}")
    arr = image[..., None] if image.ndim == 2 else image
    arr = arr[None] if arr.ndim == 3 else arr
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3, 4) or 0 in arr.shape:
        raise ValueError(f"image array must be (H, W), (H, W, C) or (batch, H, W, C) with C = 1, 3 or 4, "
                         f"got shape {image.shape}")
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
        raise ValueError(f"image must be uint8 or finite floats in [0, 1], got dtype {arr.dtype}")
    return (np.clip(arr, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _picture(frame: np.ndarray):
    from PIL import Image
    return Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame)


def _png_bytes(picture) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue()


# -- vector and animation ---------------------------------------------------------------------------

def _check_painting(param, painting) -> int:
    if not isinstance(painting, (int, np.integer)) or isinstance(painting, bool) or not 0 <= painting < param.batch:
        raise ValueError(f"painting must be an index in [0, {param.batch - 1}] (the param's batch), got {painting!r}")
    return int(painting)


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(min(max(float(c), 0.0), 1.0) * 255):02x}" for c in rgb)


SVG_REACH = 2.5          # a dab's circle reaches this many radii: its ink there is exp(-6.25) of its peak
SVG_STOPS = 11           # gradient stops from the dab's centre to its rim
SVG_LEVEL = 1.15         # peak inks are rounded to powers of this (one shared gradient per level)
SVG_MIN_INK = 2e-3       # dabs fainter than this are left out


def svg_string(param, painting: int = 0) -> str:
    """The SVG document of :func:`save_svg` as a string."""
    b = _check_painting(param, painting)
    layout = param.layout
    acts = param.actions()[b].detach().cpu()
    origins, tiles, margins = param.placement()
    height, width = param.output_size
    root = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", version="1.1", width=str(width),
                      height=str(height), viewBox=f"0 0 {layout.width} {layout.height}",
                      preserveAspectRatio="none")
    defs = ET.SubElement(root, "defs")
    ET.SubElement(root, "rect", x="0", y="0", width=str(layout.width), height=str(layout.height),
                  fill=_hex(param.background.tolist()))
    levels = set()
    for i, (action, (top, left), tile, m) in enumerate(zip(acts, origins.tolist(), tiles.tolist(), margins.tolist())):
        spec = A.to_mypaint(action.double().numpy(), tile)
        mask = ET.SubElement(defs, "mask", {"id": f"s{i}", "maskUnits": "userSpaceOnUse", "x": str(left - m),
                                            "y": str(top - m), "width": str(tile + 2 * m),
                                            "height": str(tile + 2 * m), "style": "mask-type:alpha"})
        dabs = _dab_painter(param._painter_at(tile, m))
        if dabs is None:                 # a painter without dabs: the stroke's Bezier path, the brush's width
            (x0, y0), (x1, y1), (x2, y2) = (spec.points + (left, top)).tolist()
            ET.SubElement(mask, "path", {
                "d": f"M {x0:.3f} {y0:.3f} Q {x1:.3f} {y1:.3f} {x2:.3f} {y2:.3f}", "fill": "none",
                "stroke": "#fff", "stroke-width": f"{2 * spec.radius:.3f}", "stroke-linecap": "round",
                "stroke-opacity": f"{sum(spec.pressures) / 2:.4f}"})
        else:
            with torch.no_grad():
                centres, radii, inks = (t[0].double() for t in dabs.dab_geometry(action[None].to(dabs.offset)))
            for (x, y), rads, peaks in zip(centres.tolist(), radii.tolist(), inks.tolist()):
                for rad, ink in zip(rads, peaks):
                    if ink < SVG_MIN_INK:
                        continue
                    level = round(math.log(ink) / math.log(SVG_LEVEL))
                    levels.add(level)
                    ET.SubElement(mask, "circle", cx=f"{left + x:.2f}", cy=f"{top + y:.2f}",
                                  r=f"{SVG_REACH * rad:.2f}", fill=f"url(#g{level})")
        ET.SubElement(root, "rect", x=str(left - m), y=str(top - m), width=str(tile + 2 * m),
                      height=str(tile + 2 * m), fill=_hex(spec.color), mask=f"url(#s{i})")
    for level in sorted(levels):         # dab k's alpha 1 - exp(-ink_k exp(-(d / r)²)): alphas composite like inks add
        gradient = ET.SubElement(defs, "radialGradient", id=f"g{level}")
        ink = SVG_LEVEL ** level
        for k in range(SVG_STOPS):
            offset = k / (SVG_STOPS - 1)
            opacity = -math.expm1(-ink * math.exp(-(SVG_REACH * offset) ** 2))
            ET.SubElement(gradient, "stop", {"offset": f"{offset:.2f}", "stop-color": "#fff",
                                             "stop-opacity": f"{opacity:.4f}"})
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _dab_painter(painter):
    """The skeleton painter (dabs along the curve) behind ``painter``, or None."""
    from .painters import SkeletonPainter
    inner = getattr(painter, "body", painter)
    return inner if isinstance(inner, SkeletonPainter) else None


def save_svg(param, path, painting: int = 0) -> Path:
    """Write one painting of ``param`` as SVG that looks like its neural render, atomically.

    Coordinates are canvas pixels; the viewBox is the stitched canvas and ``width``/``height`` the
    param's output size. Over a rectangle of the background color, each stroke in painting order is a
    tile-sized rectangle of its color under an alpha mask (which also clips it to its tile). For the
    skeleton painter (and the GAN's skeleton generator) the mask holds the stroke's dabs as the painter
    lays them, each a circle with a radial gradient whose opacity ``1 - exp(-ink exp(-(d / r)²))`` makes
    overlapping dabs composite exactly as the painter's inks add: soft edges, pressure and size along the
    stroke. Other painters' strokes are their quadratic Bezier path at the brush's width and mean pressure.
    """
    path = Path(path)
    atomic_write_bytes(path, svg_string(param, painting).encode())
    return path


def rasterize_svg(svg, png, size: tuple[int, int], timeout: float = 120.0) -> Path:
    """Render the SVG file ``svg`` to the PNG file ``png`` at ``size`` (height, width) px with headless
    Chromium (Debian's ``chromium``, installed by scripts/setup.sh); how browsers will show it."""
    import shutil
    import subprocess
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise FileNotFoundError("rasterizing an SVG needs chromium (as root: apt-get install chromium)")
    height, width = size
    proc = subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={width},{height}",
                           f"--screenshot={Path(png).resolve()}", Path(svg).resolve().as_uri()],
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0 or not Path(png).is_file():
        raise RuntimeError(f"chromium could not rasterize {svg}: {proc.stderr[-500:]}")
    return Path(png)


GIF_BATCH_BYTES = 64 << 20      # float pixels of the frames that save_gif paints from one painter pass


def save_gif(param, path, painting: int = 0, every: int = 1, duration_ms: int = 100,
             final_ms: int = 1000) -> Path:
    """Write an animated GIF of one painting appearing stroke by stroke, atomically.

    Frame k shows the first ``k`` strokes of every tile, the underpainting's first
    (``param.image(upto=k, mypaint=False)``; several frames from one painter pass), for k = every,
    2 x every, ..., always ending with the full
    painting, which stays ``final_ms`` milliseconds; the others ``duration_ms`` each. The GIF loops
    forever; every frame takes the finished painting's palette. Pillow merges consecutive frames that came
    out identical (their durations add up).
    """
    b = _check_painting(param, painting)
    for name, value in (("every", every), ("duration_ms", duration_ms), ("final_ms", final_ms)):
        integer(value, name)
    depth = sum(n for _, n in param.levels)
    steps = list(range(every, depth, every)) + [depth]
    height, width = param.output_size
    per_call = max(1, GIF_BATCH_BYTES // (12 * height * width * param.batch))     # frames painted at once
    frames = []
    with torch.no_grad():
        for i in range(0, len(steps), per_call):
            images = param.image(upto=steps[i:i + per_call], mypaint=False)[b::param.batch]
            frames += [_picture(array) for array in _to_uint8(images)]
    if frames[-1].mode == "RGB":       # one palette, the finished painting's, serves every frame
        from PIL import Image
        palette = frames[-1].quantize(256, method=Image.Quantize.MEDIANCUT)
        frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], loop=0,
                   duration=[int(duration_ms)] * (len(frames) - 1) + [int(final_ms)])
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


# -- OpenRaster --------------------------------------------------------------------------------------

ORA_MIMETYPE = "image/openraster"
THUMBNAIL_MAX = 256


def mypaint_layer(param, seed: int | None = None, quantize: bool = False, painting: int = 0,
                  brush: str | None = None) -> np.ndarray:
    """One painting's strokes re-painted by MyPaint as a premultiplied RGBA layer, float32 (H, W, 4)
    at the param's output size. It is the stroke layer of ``param.to_mypaint`` with the same ``seed``:
    composited over the background it gives the same image."""
    from .mypaint import MyPaintRenderer
    b = _check_painting(param, painting)
    if not isinstance(quantize, bool):
        raise ValueError(f"quantize must be True or False, got {quantize!r}")
    layout = param.layout
    acts = param.actions()[b].detach().cpu().numpy()
    if quantize:
        acts = A.quantize(acts)
    origins, tiles, _ = param.placement()
    layer = MyPaintRenderer(param.brush_name if brush is None else brush, layout.tile).paint(
        acts, size=(layout.height, layout.width), warmups=param.brush_states(seed)[b], rgba=True,
        origins=origins, tile=tiles)
    layer = param.resize(torch.from_numpy(layer).permute(2, 0, 1)[None])
    return layer[0].permute(1, 2, 0).numpy()


def save_ora(param, path, seed: int | None = None, quantize: bool = False, painting: int = 0,
             brush: str | None = None) -> Path:
    """Write the MyPaint re-paint of one painting as OpenRaster (.ora), which MyPaint and Krita open.

    Two layers at the output size: ``strokes`` (the MyPaint strokes, straight RGBA) over ``background``
    (opaque, the param's background color), plus ``mergedimage.png`` and a thumbnail of at most 256 px.
    ``seed``, ``quantize`` and ``brush`` are those of ``param.to_mypaint``.
    """
    from PIL import Image
    layer = mypaint_layer(param, seed=seed, quantize=quantize, painting=painting, brush=brush)
    height, width = layer.shape[:2]
    alpha = layer[..., 3:]
    straight = np.where(alpha > 0, layer[..., :3] / np.maximum(alpha, 1e-12), 0.0)
    strokes = _to_uint8(np.concatenate([straight, alpha], axis=-1))[0]
    bg = param.background.cpu().numpy().astype(np.float32)
    background = _to_uint8(np.broadcast_to(np.append(bg, 1.0), (height, width, 4)).copy())[0]
    merged = _picture(_to_uint8(layer[..., :3] + (1.0 - alpha) * bg)[0])
    thumb = merged.copy()
    thumb.thumbnail((THUMBNAIL_MAX, THUMBNAIL_MAX), Image.Resampling.LANCZOS)

    image = ET.Element("image", version="0.0.5", w=str(width), h=str(height), xres="72", yres="72")
    stack = ET.SubElement(image, "stack")
    for name in ("strokes", "background"):      # top layer first
        ET.SubElement(stack, "layer", {"name": name, "src": f"data/{name}.png", "x": "0", "y": "0",
                                       "opacity": "1.0", "visibility": "visible",
                                       "composite-op": "svg:src-over"})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as ora:
        ora.writestr(zipfile.ZipInfo("mimetype"), ORA_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        ora.writestr("stack.xml", ET.tostring(image, encoding="UTF-8", xml_declaration=True))
        ora.writestr("data/strokes.png", _png_bytes(_picture(strokes)))
        ora.writestr("data/background.png", _png_bytes(_picture(background)))
        ora.writestr("Thumbnails/thumbnail.png", _png_bytes(thumb))
        ora.writestr("mergedimage.png", _png_bytes(merged))
    path = Path(path)
    atomic_write_bytes(path, buf.getvalue())
    return path


EXPORTS = ("json", "png", "svg", "gif", "ora")


def export_all(param, stem, formats=EXPORTS, seed: int | None = None, transparent: bool = False) -> dict:
    """Write ``<stem>.<ext>`` for each format in ``formats`` (of :data:`EXPORTS`) → {format: path(s)}.

    PNG holds the whole batch (see :func:`save_png`), with ``transparent`` the strokes alone as RGBA
    (:meth:`BrushstrokeParam.layer`); SVG, GIF and ORA show painting 0; ORA uses ``seed`` and keeps the
    strokes and the background as separate layers.
    """
    formats = (formats,) if isinstance(formats, str) else tuple(formats)
    unknown = [f for f in formats if f not in EXPORTS]
    if unknown or not formats:
        raise ValueError(f"unknown export format(s) {unknown}; formats are {', '.join(EXPORTS)}")
    stem = Path(stem)
    png = (lambda: param.layer(mypaint=False)) if transparent else (lambda: _image(param))
    writers = {"json": lambda p: save_strokes(param, p), "png": lambda p: save_png(png(), p),
               "svg": lambda p: save_svg(param, p), "gif": lambda p: save_gif(param, p),
               "ora": lambda p: save_ora(param, p, seed=seed)}
    return {f: writers[f](stem.with_name(f"{stem.name}.{f}")) for f in formats}


def _image(param) -> torch.Tensor:
    """The neural render (MyPaint's pixels are the ``mypaint`` exports)."""
    with torch.no_grad():
        return param.image(mypaint=False)
