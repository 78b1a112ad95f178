"""Compositing strokes with the "over" operator, and stitching painter tiles into one canvas.

A canvas is a ``rows`` x ``cols`` grid of square painter tiles (64 px) that overlap their neighbours by
``overlap`` pixels. Each tile's strokes are painted on the tile and a ``margin`` around it (where strokes
near its edge reach, as they do when MyPaint paints them on the whole canvas), composited per tile in
closed form, then the tiles go onto the canvas in four passes by grid parity (tiles of one pass never
overlap, since a tile and its margins fit in two strides), so memory is strokes x tile plus a few
canvas-sized layers, never strokes x canvas.
"""
from __future__ import annotations

import ctypes
import dataclasses
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from . import native
from .checks import integer, is_int

PASSES = ((0, 0), (0, 1), (1, 0), (1, 1))
UNDERPAINTING = 40     # strokes of the whole-canvas layer that ``underpainting="auto"`` lays under several tiles
MAX_UNDERPAINTING_TILE = 2048   # px: the largest tile of an underpainting (a painter's largest canvas)
TILE_SPREAD = 0.2      # of a tile: how far a resizable painter's tiles may stray from it to fit a canvas's size
MARGIN = 1 / 4         # of a tile: the margin "auto" paints around the tiles of a grid (2.5 of the largest radii)
COMPILED = Path(__file__).with_name("_over.so")    # "over" in one pass (_over.c, built by scripts/setup.sh)


@dataclass(frozen=True)
class Layout:
    """Where the tiles of a canvas lie: ``rows`` x ``cols`` tiles of ``tile`` px, ``overlap`` px shared; each
    tile's strokes are painted on a square of ``side = tile + 2 * margin`` px centred on it."""

    rows: int = 1
    cols: int = 1
    tile: int = 64
    overlap: int = 0
    margin: int = 0

    def __post_init__(self):
        for name in ("rows", "cols", "tile"):
            integer(getattr(self, name), name)
        if not is_int(self.overlap) or not 0 <= self.overlap <= self.tile // 2:
            raise ValueError(f"overlap must be an integer number of pixels in [0, {self.tile // 2}] "
                             f"(half a {self.tile}-px tile), got {self.overlap!r}")
        integer(self.margin, "margin", 0, self.largest_margin,
                what=f"an integer number of pixels (a {self.tile}-px tile with {self.overlap} px of overlap)")

    @property
    def largest_margin(self) -> int:
        """The widest margin whose tiles still fit in two strides (the parity passes never overlap)."""
        return (self.tile - 2 * self.overlap) // 2

    def with_margin(self, margin="auto") -> "Layout":
        """This layout with ``margin`` px around its tiles; ``"auto"``: :data:`MARGIN` of a tile on a grid of
        several tiles (at most :attr:`largest_margin`), none on one tile, whose canvas edge clips anyway."""
        if isinstance(margin, str) and margin == "auto":
            margin = min(round(MARGIN * self.tile), self.largest_margin) if self.tiles > 1 else 0
        return dataclasses.replace(self, margin=margin)

    @classmethod
    def for_size(cls, size: int | tuple, tile: int = 64, overlap: int = 8, spread: float = 0.0) -> "Layout":
        """The smallest grid of ``tile``-px tiles whose canvas covers ``size`` (an int or (height, width)). With
        ``spread`` > 0 the tile may be any within that fraction of ``tile``: the one whose canvas passes
        ``size`` by the fewest pixels (most often none), then the nearest to ``tile``."""
        height, width = (size, size) if isinstance(size, int) else size
        if min(height, width) < 1:
            raise ValueError(f"size must be positive, got {size!r}")
        if overlap > tile // 2 or overlap < 0:
            raise ValueError(f"overlap must be in [0, {tile // 2}], got {overlap!r}")

        def grid(side):
            def count(n):
                return max(1, math.ceil((n - overlap) / (side - overlap)))
            return cls(count(height), count(width), side, overlap)
        sides = range(max(2 * overlap, math.ceil(tile * (1 - spread))), math.floor(tile * (1 + spread)) + 1)
        return min((grid(side) for side in sides),
                   key=lambda lay: (lay.height - height + lay.width - width, abs(lay.tile - tile)))

    @classmethod
    def fit(cls, size: int | tuple, tile: int = 128, overlap: int = 32) -> "Layout":
        """A grid of about ``tile``-px tiles whose canvas is ``size`` (int or (height, width)) or just over it:
        the tile count per side is rounded, then the tile grows or shrinks to cover the longer side."""
        height, width = (size, size) if isinstance(size, int) else size
        longer = max(height, width)
        count = max(1, round((longer - overlap) / (tile - overlap)))
        side = max(math.ceil((longer + (count - 1) * overlap) / count), 2 * overlap)
        rows, cols = (max(1, math.ceil((n - overlap) / (side - overlap))) for n in (height, width))
        return cls(rows, cols, side, overlap)

    @property
    def stride(self) -> int:
        return self.tile - self.overlap

    @property
    def side(self) -> int:
        return self.tile + 2 * self.margin

    @property
    def tiles(self) -> int:
        return self.rows * self.cols

    @property
    def height(self) -> int:
        return self.tile + (self.rows - 1) * self.stride

    @property
    def width(self) -> int:
        return self.tile + (self.cols - 1) * self.stride

    def order(self) -> list[tuple[int, int]]:
        """(row, col) of the tiles in painting order: by pass (grid parity), then raster order."""
        return [(r, c) for pr, pc in PASSES for r in range(pr, self.rows, 2) for c in range(pc, self.cols, 2)]

    def origins(self) -> list[tuple[int, int]]:
        """(top, left) pixel of each tile, in painting order."""
        return [(r * self.stride, c * self.stride) for r, c in self.order()]

    def to_dict(self) -> dict:
        return dict(rows=self.rows, cols=self.cols, tile=self.tile, overlap=self.overlap, margin=self.margin,
                    height=self.height, width=self.width)


def strokes_in(levels) -> int:
    """The strokes of (Layout, strokes per tile) levels, all tiles together."""
    return sum(lay.tiles * n for lay, n in levels)


def underpainting_levels(value, layout: Layout) -> tuple[tuple[Layout, int], ...]:
    """The layers of ``underpainting=`` ("auto", None, an int or (tile, strokes) pairs) as (Layout, strokes
    per tile) over the canvas of ``layout``. An int n is one tile spanning the canvas with n strokes; over a
    canvas past :data:`MAX_UNDERPAINTING_TILE` px, the fewest tiles that fit share the n strokes."""
    if isinstance(value, str) and value == "auto":
        value = UNDERPAINTING if layout.tiles > 1 else 0
    if value is None or (is_int(value) and value == 0):
        return ()
    canvas = (layout.height, layout.width)
    if is_int(value) and value > 0:
        longer, overlap = max(canvas), layout.overlap
        count = max(1, math.ceil((longer - overlap) / (MAX_UNDERPAINTING_TILE - overlap)))
        lay = Layout.fit(canvas, math.ceil((longer + (count - 1) * overlap) / count), overlap)
        return ((lay, math.ceil(int(value) / lay.tiles)),)
    try:
        pairs = [(tile, n) for tile, n in value]
    except (TypeError, ValueError):
        pairs = None
    if not pairs or not all(is_int(v) and v >= 1
                            for pair in pairs for v in pair):
        raise ValueError("underpainting must be \"auto\", a number of strokes or a list of (tile px, strokes) pairs "
                         f"of positive integers, got {value!r}")
    levels = []
    for tile, n in pairs:
        if not 8 <= tile <= MAX_UNDERPAINTING_TILE:
            raise ValueError(f"underpainting tile must be in [8, {MAX_UNDERPAINTING_TILE}] px, got {tile}")
        lay = Layout.fit(canvas, min(int(tile), max(canvas)), min(layout.overlap, int(tile) // 2))
        levels.append((lay, int(n)))
    return tuple(levels)


@dataclass(frozen=True)
class Boxes:
    """Strokes' alpha painted only in boxes of their painter's squares (what :meth:`Painter.paint_boxes`
    returns): ``alpha`` (P,) holds the boxes' pixels row by row, one box after another; ``boxes`` (N, 5)
    each stroke's top, left, height, width on its square and where its box starts in ``alpha``."""

    alpha: torch.Tensor
    boxes: torch.Tensor

    @staticmethod
    def cat(parts: list["Boxes"]) -> "Boxes":
        """The strokes of ``parts`` one after another."""
        starts = torch.tensor([0] + [p.alpha.numel() for p in parts[:-1]]).cumsum(0).tolist()
        boxes = [p.boxes + p.boxes.new_tensor([0, 0, 0, 0, start]) for p, start in zip(parts, starts)]
        return Boxes(torch.cat([p.alpha for p in parts]), torch.cat(boxes))


def over(alpha: torch.Tensor, color: torch.Tensor, shown: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite strokes in order with "over" onto a transparent layer, in closed form.

    alpha (..., N, 1, H, W), color (..., N, 3) → premultiplied rgb (..., 3, H, W), alpha (..., 1, H, W).
    Stroke i is seen through every later stroke: weight_i = alpha_i * prod_{j > i} (1 - alpha_j).
    ``shown``: only the first strokes of each layer (None: all).
    """
    n = color.shape[-2]
    shown = n if shown is None else max(0, min(n, shown))
    if shown < n:
        alpha = alpha * (torch.arange(n, device=alpha.device) < shown).to(alpha).view(n, 1, 1, 1)
    return Over.apply(alpha, color)


def _after(clear: torch.Tensor) -> torch.Tensor:
    """prod_{j > i} clear_j for each i of clear (..., N, H, W): an exclusive reverse cumulative product, one
    stroke at a time (contiguous products; torch.cumprod along a middle dimension is several times slower)."""
    after = torch.empty_like(clear)
    after[..., -1, :, :] = 1.0
    for k in range(clear.shape[-3] - 2, -1, -1):
        torch.mul(after[..., k + 1, :, :], clear[..., k + 1, :, :], out=after[..., k, :, :])
    return after


class Over(torch.autograd.Function):
    """:func:`over` with a hand-written backward that keeps only its inputs (autograd's keeps five
    stroke-sized tensors per tile until the backward pass). With T_k the transmittance of the strokes
    above stroke k, and C_k, A_k the premultiplied colour and alpha of the strokes below it, a change of
    alpha_k changes rgb by T_k (c_k - C_k) and alpha by T_k (1 - A_k); C_k and A_k come from one scan.
    Float32 CPU tensors go through the compiled loop of _over.c (:func:`compiled`; the same sums, 2-5x
    faster, bench/param_speed.py), others through torch."""

    @staticmethod
    def forward(ctx, alpha, color):
        ctx.save_for_backward(alpha, color)
        if _use_compiled(alpha, color):
            return _over_compiled(alpha, color)
        a = alpha.squeeze(-3)
        after = _after(1.0 - a)
        rgb = torch.einsum("...nhw,...nc->...chw", a * after, color)
        return rgb, (1.0 - after[..., 0, :, :] * (1.0 - a[..., 0, :, :])).unsqueeze(-3)

    @staticmethod
    def backward(ctx, grad_rgb, grad_alpha):
        alpha, color = ctx.saved_tensors
        if _use_compiled(alpha, color) and not torch.is_grad_enabled():
            return _over_backward_compiled(alpha, color, grad_rgb, grad_alpha)
        a = alpha.squeeze(-3)
        after = _after(1.0 - a)
        grad_color = torch.einsum("...chw,...nhw->...nc", grad_rgb, a * after)
        seen = torch.einsum("...chw,...nc->...nhw", grad_rgb, color)       # grad_rgb · c_k, then the result
        below = torch.zeros_like(seen[..., 0, :, :])                         # grad_rgb · C_k
        bare = torch.ones_like(below)                                        # 1 - A_k
        grad_alpha = grad_alpha.squeeze(-3)
        for k in range(a.shape[-3]):
            ak, gk = a[..., k, :, :], seen[..., k, :, :].clone()
            seen[..., k, :, :] += grad_alpha * bare - below
            below = below + ak * (gk - below)
            bare = bare * (1.0 - ak)
        return (seen * after).unsqueeze(-3), grad_color


class OverBoxes(torch.autograd.Function):
    """"Over" of strokes painted in boxes, straight onto a canvas, through _over.c's loops over the boxes'
    pixels alone (the same sums as :class:`Over`): alpha (P,) packed boxes, color (M, N, 3) the N strokes of
    M paintings in painting order, boxes (M·N, 6) each stroke's top, left, rows and columns on the height x
    width canvas, where its first pixel there lies in alpha and the floats between its rows → premultiplied
    rgb (M, 3, height, width), alpha (M, 1, height, width). The threads share the canvas's rows, balanced by
    the boxes' pixels."""

    @staticmethod
    def forward(ctx, alpha, color, boxes, height, width):
        m, n, _ = color.shape
        c = color.detach().contiguous()
        rgb, out = alpha.new_empty((m, 3, height, width)), alpha.new_empty((m, 1, height, width))
        compiled().over_boxes_forward(alpha.data_ptr(), boxes.data_ptr(), c.data_ptr(), m, n, height, width,
                                      alpha.numel(), rgb.data_ptr(), out.data_ptr())
        ctx.save_for_backward(alpha, c, boxes)
        ctx.size = height, width
        return rgb, out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_rgb, grad_alpha):
        alpha, color, boxes = ctx.saved_tensors
        m, n, _ = color.shape
        g_rgb, g_alpha = grad_rgb.contiguous(), grad_alpha.contiguous()
        grad_a, grad_c = torch.zeros_like(alpha), torch.empty_like(color)    # pixels off the canvas: 0
        if compiled().over_boxes_backward(alpha.data_ptr(), boxes.data_ptr(), color.data_ptr(), g_rgb.data_ptr(),
                                          g_alpha.data_ptr(), m, n, *ctx.size, alpha.numel(), grad_a.data_ptr(),
                                          grad_c.data_ptr()):
            raise MemoryError("compositing's compiled loop could not allocate its scratch rows")
        return grad_a, grad_c, None, None, None


def composite_boxes(layers, background: torch.Tensor, height: int, width: int, count: int | None = None):
    """Layers of strokes painted in :class:`Boxes` — (Layout, Boxes, color (M, T, n, 3)), the strokes of each
    layer's T tiles in ``layout.order()`` — composited in painting order straight onto a height x width
    canvas over ``background`` (3,): (M, 3, height, width), what :func:`composite` gives layer by layer (its
    tiles stitched), each stroke read only in its box and no tile layers made. ``count``: only each tile's
    first strokes, counted through the layers (see :meth:`BrushstrokeParam.image`'s ``upto``)."""
    canvas, before = background.view(1, 3, 1, 1), 0
    for layout, boxes, color in layers:
        m, tiles, n, _ = color.shape
        shown = n if count is None else max(0, min(n, count - before))
        before += n
        box = boxes.boxes.view(m, tiles, n, 5)[:, :, :shown]
        origin = (torch.tensor(layout.origins(), device=box.device) - layout.margin).view(1, tiles, 1, 2)
        top, left, stride = box[..., 0] + origin[..., 0], box[..., 1] + origin[..., 1], box[..., 3]
        first_row, first_col = top.clamp(0, height), left.clamp(0, width)             # cut to the canvas
        rows = ((top + box[..., 2]).clamp(max=height) - first_row).clamp_min(0)
        cols = ((left + stride).clamp(max=width) - first_col).clamp_min(0)
        offset = box[..., 4] + (first_row - top) * stride + (first_col - left)
        placed = torch.stack([first_row, first_col, rows, cols, offset, stride], -1).view(-1, 6).contiguous()
        rgb, cover = OverBoxes.apply(boxes.alpha, color[:, :, :shown].reshape(m, -1, 3), placed, height, width)
        canvas = rgb + (1.0 - cover) * canvas.to(rgb)
    return canvas


@lru_cache(maxsize=None)
def compiled():
    """The compiled "over" loops of _over.c with their signatures, or None where they were not built."""
    p, size = native.POINTER, native.SIZE
    return native.load(COMPILED, {
        "over_forward": (None, [p] * 2 + [size] * 3 + [p] * 2),
        "over_backward": (ctypes.c_int, [p] * 4 + [size] * 3 + [p] * 2),
        "over_boxes_forward": (None, [p] * 3 + [size] * 5 + [p] * 2),
        "over_boxes_backward": (ctypes.c_int, [p] * 5 + [size] * 5 + [p] * 2)})


def _use_compiled(alpha: torch.Tensor, color: torch.Tensor) -> bool:
    return native.usable(alpha, color) and compiled() is not None


def _over_compiled(alpha, color):
    *lead, n, _, h, w = alpha.shape
    m, p = math.prod(lead), h * w
    a, c = alpha.detach().contiguous(), color.detach().contiguous()
    rgb, out = a.new_empty((*lead, 3, h, w)), a.new_empty((*lead, 1, h, w))
    compiled().over_forward(a.data_ptr(), c.data_ptr(), m, n, p, rgb.data_ptr(), out.data_ptr())
    return rgb, out


def _over_backward_compiled(alpha, color, grad_rgb, grad_alpha):
    *lead, n, _, h, w = alpha.shape
    a, c = alpha.contiguous(), color.contiguous()
    g_rgb, g_alpha = grad_rgb.contiguous(), grad_alpha.contiguous()
    grad_a, grad_c = torch.empty_like(a), torch.empty_like(c)
    if compiled().over_backward(a.data_ptr(), c.data_ptr(), g_rgb.data_ptr(), g_alpha.data_ptr(), math.prod(lead), n,
                                h * w, grad_a.data_ptr(), grad_c.data_ptr()):
        raise MemoryError("compositing's compiled loop could not allocate its sums")
    return grad_a, grad_c


def stitch(rgb: torch.Tensor, alpha: torch.Tensor, layout: Layout, background: torch.Tensor) -> torch.Tensor:
    """Put premultiplied tile layers on one canvas, in painting order.

    rgb (B, T, 3, s, s), alpha (B, T, 1, s, s) with tiles (and margins: s = ``layout.side``) in
    ``layout.order()``; ``background`` is an RGB
    colour (3,) or a canvas (B, 3, H, W) painted earlier (an underpainting) that the layout's canvas covers
    and is cropped to. Returns (B, 3, height, width), or (B, 3, H, W) over a canvas.
    """
    batch = rgb.shape[0]
    if background.ndim == 1:
        canvas = background.to(rgb).view(1, 3, 1, 1).expand(batch, 3, layout.height, layout.width)
    else:
        canvas = background
    height, width = canvas.shape[-2:]
    if height > layout.height or width > layout.width:
        raise ValueError(f"a {layout.height}x{layout.width} layout cannot cover a {height}x{width} canvas")
    m = layout.margin
    if layout.tiles == 1:
        return rgb[:, 0, :, m:m + height, m:m + width] + (1.0 - alpha[:, 0, :, m:m + height, m:m + width]) * canvas
    start = 0
    for pr, pc in PASSES:           # tiles of one pass are a grid that never overlaps: blocks of 2 strides
        rows, cols = len(range(pr, layout.rows, 2)), len(range(pc, layout.cols, 2))
        if not rows * cols:
            continue
        part = slice(start, start + rows * cols)
        start += rows * cols
        top, left = pr * layout.stride - m, pc * layout.stride - m
        colour, cover = (_blocks(x[:, part], rows, cols, layout, top, left, height, width) for x in (rgb, alpha))
        canvas = colour + (1.0 - cover) * canvas
    return canvas


def _blocks(tiles: torch.Tensor, rows: int, cols: int, layout: Layout, top: int, left: int, height: int,
            width: int) -> torch.Tensor:
    """Tiles (B, rows·cols, C, s, s) of one pass, in raster order, as a (B, C, height, width) layer: each tile
    padded to a block of two strides, the blocks side by side, the grid shifted to (top, left) (negative:
    cut there) and cut."""
    block = 2 * layout.stride
    b, _, c, t, _ = tiles.shape
    x = F.pad(tiles, (0, block - t, 0, block - t)).view(b, rows, cols, c, block, block)
    x = x.permute(0, 3, 1, 4, 2, 5).reshape(b, c, rows * block, cols * block)
    return F.pad(x, (left, width - left - cols * block, top, height - top - rows * block))


def composite(alpha: torch.Tensor, color: torch.Tensor, layout: Layout, background: torch.Tensor,
              shown: int | None = None) -> torch.Tensor:
    """Strokes → canvas. alpha (B, T, N, 1, t, t), color (B, T, N, 3), background (3,) or (B, 3, H, W) →
    canvas (see :func:`stitch`); ``shown``: the first strokes of each tile only."""
    rgb, a = over(alpha, color, shown)
    return stitch(rgb, a, layout, background)
