"""The skeleton painter: an analytic, differentiable rasterization of the stroke's Bezier skeleton.

Like MyPaint, it lays dabs along the curve. A tiny per-dab network maps pressure, size, speed and the
position along the stroke to a small lag along the path and, for each of a few Gaussian components, a
radius and an amount of ink; this is what it learns of MyPaint's brush (radius and opacity against
pressure and speed, the blur of its jitter, slow tracking). A Gaussian is separable, so the ink of every dab of a stroke
is one matrix product (H, C·T) @ (C·T, W); dabs composite "over" each other, so alpha = 1 - exp(-ink)
(:class:`DabRaster`), over a crop around the stroke's dabs only (:func:`rasterize`).
No per-pixel network: the cost per pixel is a handful of operations. Pressure 0 gives no ink: alpha 0.

Called with a ``generator``, the painter is stochastic like MyPaint's brush: each dab is displaced by
Gaussian noise of ``jitter`` × pressure × radius (MyPaint's offset_by_random) and shrunk so that its
ink is unchanged (down to a quarter of its radius; more jitter than that spreads the ink); the ink of a
draw is then scaled by ``draw_gain``, since concentrated ink saturates and would cover less than the
expected stroke. Without a generator it paints the expected ink (deterministic, smooth).
:func:`calibrate_draws` fits both numbers to MyPaint renders.

With ``noise_dim > 0`` the dab network also reads that many Gaussian noise values per dab (zero without
a generator) and returns a displacement of the dab: the noise, not a fixed jitter, then shapes the
texture, and a critic can teach it (the GAN painter's generator, :mod:`strokeparam.painters.gan`).
"""
from __future__ import annotations

import ctypes
import math
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from .. import actions as A
from .. import canvas, native
from ..canvas import Boxes
from ..checks import integer
from .base import Painter
from .registry import register_painter


CHUNK_ELEMENTS = 2 ** 23      # elements of one (strokes, dabs, px) table: strokes are rasterized in chunks
MERGE_SPREAD = 1.05           # a dab's Gaussian components whose radii agree this closely are painted as one
MIN_RADIUS = 0.2              # px: MyPaint's thinnest dab; thinner ones blow the rasterizer's gradients up (~1/r^3)
CROP_REACH = 3.0              # radii around a dab's centre that its stroke's crop covers (past it: < 1.3e-4 of peak)
CROP_STEP = 8                 # px: crop sides are multiples of it, so strokes of a similar extent share one product
KEPT_TABLES = 2 ** 25         # table elements (of gx, and of gy) that the crops' forward may keep for the backward
GROUP_COST = 32768            # pixels that cost as much time as one more batched product of crops (~0.3 ms)
DAB_REACH = 3.5               # radii around a dab's centre that the compiled loop paints (past it: < 5e-6 of peak)
COMPILED = Path(__file__).with_name("_dabs.so")     # the dabs painted where they reach (_dabs.c, scripts/setup.sh)


def merge_components(rad: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Radii and peak inks (N, T, C) of dabs as one Gaussian each (N, T, 1) where every dab's components
    have radii within :data:`MERGE_SPREAD` of each other: the ink-weighted mean radius and the summed ink.
    The first-order change of the ink cancels; what is left is of the second order in the radii's spread
    (alpha within ~1e-4 for the shipped painter, whose components differ by at most ~3%), and the
    rasterizer does 1/C of the work. Otherwise (or with one component) they are returned as they are."""
    if rad.shape[-1] == 1:
        return rad, weight
    with torch.no_grad():
        spread = float((rad.amax(-1) / rad.amin(-1)).max()) if rad.numel() else 1.0
    if not spread <= MERGE_SPREAD:
        return rad, weight
    total = weight.sum(-1, keepdim=True)
    mean = torch.where(total > 0, (rad * weight).sum(-1, keepdim=True) / total.clamp_min(1e-30),
                       rad.mean(-1, keepdim=True))
    return mean, total


# A quadratic Bezier's control points (rows) -> the coefficients of 1, t, t² of its polynomial (columns).
_BERNSTEIN = torch.tensor([[1.0, -2.0, 1.0], [0.0, 2.0, -2.0], [0.0, 0.0, 1.0]])


def _powers(grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The grid's middle and its powers (3, L): 1, g, g² of g = grid - middle. Sums over the grid go through
    them centred, which keeps float32's cancellation small (below 1e-3 of an exponent, 1e-4 of a gradient)."""
    middle = 0.5 * (grid[0] + grid[-1])
    g = grid - middle
    return middle, torch.stack([torch.ones_like(g), g, g * g])


def _table(grid: torch.Tensor, c: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """``exp(-((grid - c) * inv)²)`` for grid (L,) and c, inv (N, K, 1): (N, K, L). The exponent, a quadratic
    in the grid, is one matrix product of its three coefficients with the grid's powers (:func:`_powers`): one
    pass over the table where a broadcast subtraction, scaling, squaring and negation took four. It is cut at
    -30: exp of large negative numbers is ~10x slower on CPUs, and products of such tails would be denormal
    numbers, slower still (the tail's gradient, < 1e-12, is ignored)."""
    middle, powers = _powers(grid)
    c, inv2 = c - middle, inv.square()
    coefficients = torch.cat([-inv2 * c.square(), 2 * inv2 * c, -inv2], -1)             # (N, K, 3)
    return torch.matmul(coefficients, powers).clamp_(min=-30.0).exp_()


def _table_grads(grid, table, grad, c, inv, w):
    """Gradients of ``w * table`` (a :func:`_table`) with respect to c and inv, and the sum that is the
    gradient of w, from the upstream ``grad`` (N, K, L). The three sums they need (of g·e, g·e·(grid - c),
    g·e·(grid - c)²) are one skinny matmul of g·e with the grid's powers (:func:`_powers`)."""
    middle, powers = _powers(grid)
    s0, s1, s2 = torch.matmul(grad.mul_(table), powers.T).split(1, -1)
    c = c - middle
    return 2 * w * inv.square() * (s1 - c * s0), -2 * w * inv * (s2 - 2 * c * s1 + c.square() * s0), s0


def _paint(grid, cx, cy, inv, w, alpha, keep: bool):
    """Alpha (n, L, L), written into ``alpha``, = 1 - exp(-ink) of dabs on ``grid`` x ``grid`` (see
    :class:`DabRaster`), chunk by chunk; returns the tables (gx, gy) when ``keep`` and one chunk holds them."""
    n, k = cx.shape[0], cx.shape[1]
    step = max(1, CHUNK_ELEMENTS // (k * grid.shape[0]))
    for i in range(0, n, step):
        j = slice(i, i + step)
        gx, gy = _table(grid, cx[j], inv[j]), _table(grid, cy[j], inv[j])
        torch.matmul((gy * w[j]).transpose(1, 2), gx, out=alpha[j])
    alpha.neg_().exp_().neg_().add_(1.0)            # 1 - exp(-ink); expm1 is not vectorized, 3x slower
    return (gx, gy) if keep and step >= n > 0 else None


def _paint_grads(grid, cx, cy, inv, w, alpha, tables, grad_alpha) -> list[torch.Tensor]:
    """Gradients of :func:`_paint`'s alpha (n, L, L) with respect to cx, cy, inv and w, from ``grad_alpha``;
    ``tables``: the ones it kept, or None to build them again chunk by chunk."""
    n, k = cx.shape[0], cx.shape[1]
    grads = [torch.empty_like(cx) for _ in range(4)]               # cx, cy, inv, w
    step = max(1, CHUNK_ELEMENTS // (k * grid.shape[0]))
    for i in range(0, n, step):
        j = slice(i, i + step)
        grad_ink = torch.addcmul(grad_alpha[j], alpha[j], grad_alpha[j], value=-1.0)      # (1 - a) g
        gx, gy = tables if tables is not None else (_table(grid, cx[j], inv[j]), _table(grid, cy[j], inv[j]))
        grad_gx = torch.matmul(gy * w[j], grad_ink)                              # (n, K, x)
        grad_gy = torch.matmul(gx, grad_ink.transpose(1, 2))                     # (n, K, y), of w * gy
        grads[0][j], inv_x, _ = _table_grads(grid, gx, grad_gx, cx[j], inv[j], 1.0)
        grads[1][j], inv_y, grads[3][j] = _table_grads(grid, gy, grad_gy, cy[j], inv[j], w[j])
        grads[2][j] = inv_x + inv_y
    return grads


class DabRaster(torch.autograd.Function):
    """Alpha (N, 1, L, L) = 1 - exp(-ink) of dabs, ink = sum over k of ``w_k * gy_k(y) * gx_k(x)`` with
    Gaussian tables gx, gy (:func:`_table`) of centres cx, cy and inverse radii inv, weights w (N, K, 1).

    Where one chunk of :data:`CHUNK_ELEMENTS` holds every stroke's tables and a gradient is wanted, the
    forward keeps them for the backward; otherwise both build them chunk by chunk, so memory is the strokes'
    alpha, which compositing keeps anyway, and a few chunk-sized temporaries.
    """

    @staticmethod
    def forward(ctx, grid, cx, cy, inv, w):
        alpha = cx.new_empty((cx.shape[0], 1, grid.shape[0], grid.shape[0]))
        tables = _paint(grid, cx, cy, inv, w, alpha[:, 0], any(ctx.needs_input_grad))
        ctx.save_for_backward(grid, cx, cy, inv, w, alpha, *(tables or (None, None)))
        return alpha

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_alpha):
        grid, cx, cy, inv, w, alpha, *tables = ctx.saved_tensors
        return (None, *_paint_grads(grid, cx, cy, inv, w, alpha[:, 0], None if tables[0] is None else tables,
                                    grad_alpha[:, 0]))


class CropRaster(torch.autograd.Function):
    """:class:`DabRaster` with each stroke painted only in its square crop of the canvas, given as ``crops``:
    parts whose pixels and tables fit a chunk of :data:`CHUNK_ELEMENTS`, each a crop side s, its strokes, and
    the rows and columns of their crops' top-left pixels. A part is one :func:`_paint`; the backward cuts the
    crops out of the placed alpha again (kept once, by whoever keeps the output: compositing). The tables
    are kept for the backward where all of them hold at most :data:`KEPT_TABLES` elements of each kind."""

    @staticmethod
    def forward(ctx, grid, crops, cx, cy, inv, w):
        n, side, first = cx.shape[0], grid.shape[0], grid[0] - 0.5
        alpha, ctx.parts = cx.new_zeros((n, 1, side, side)), []
        table_elements = sum(s * len(pick) for s, pick, *_ in crops) * cx.shape[1]   # of gx, and of gy
        keep = any(ctx.needs_input_grad) and table_elements <= KEPT_TABLES
        for s, pick, top, left in crops:
            local = torch.arange(s, dtype=grid.dtype, device=grid.device) + 0.5
            inputs = (cx[pick] - (first + left.to(cx.dtype)).view(-1, 1, 1),
                      cy[pick] - (first + top.to(cx.dtype)).view(-1, 1, 1), inv[pick], w[pick])
            crop = cx.new_empty((len(pick), s, s))
            tables = _paint(local, *inputs, crop, keep)
            alpha[:, 0].unfold(1, s, 1).unfold(2, s, 1).index_put_((pick, top, left), crop)
            ctx.parts.append((local, pick, top, left, inputs, tables))
        ctx.save_for_backward(alpha)
        return alpha

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_alpha):
        alpha, = ctx.saved_tensors
        grads = None
        for local, pick, top, left, inputs, tables in ctx.parts:
            s = local.shape[0]
            cut = [x[:, 0].unfold(1, s, 1).unfold(2, s, 1)[pick, top, left] for x in (alpha, grad_alpha)]
            part = _paint_grads(local, *inputs, cut[0], tables, cut[1])
            if grads is None:
                grads = [x.new_empty((alpha.shape[0], *x.shape[1:])) for x in part]
            for full, x in zip(grads, part):
                full[pick] = x
        return (None, None, *grads)


@lru_cache(maxsize=None)
def compiled():
    """The compiled dab loops of _dabs.c with their signatures, or None where they were not built."""
    p, size, real = native.POINTER, native.SIZE, native.FLOAT
    return native.load(COMPILED, {
        "dabs_paint": (ctypes.c_int, [size] * 2 + [p] * 5 + [size, real, real, p]),
        "dabs_grads": (ctypes.c_int, [size] * 2 + [p] * 5 + [size, real, real] + [p] * 6)})


class BoxRaster(torch.autograd.Function):
    """:class:`DabRaster` through the compiled loops of _dabs.c: each dab is painted only over the pixels
    within :data:`DAB_REACH` of its radii, four dabs at a time, inside its stroke's box (``boxes`` (N, 5):
    top, left, height, width and where the box's first pixel lies in the alpha; :func:`_boxes`). The alpha
    is (N, 1, L, L), or ``packed``: the boxes' pixels alone, one after another (P,). The threads share the
    strokes. Alpha is within ~5e-5 of the whole square's, gradients within ~1e-4 of theirs."""

    @staticmethod
    def forward(ctx, grid, boxes, packed, cx, cy, inv, w):
        n, k, side = cx.shape[0], cx.shape[1], grid.shape[0]
        inputs = [x.contiguous() for x in (cx, cy, inv, w)]
        alpha = cx.new_empty(int((boxes[:, 2] * boxes[:, 3]).sum())) if packed else cx.new_zeros((n, 1, side, side))
        ctx.pitch, ctx.origin = 0 if packed else side, float(grid[0])
        if compiled().dabs_paint(n, k, *(x.data_ptr() for x in (*inputs, boxes)), ctx.pitch, ctx.origin, DAB_REACH,
                                 alpha.data_ptr()):
            raise MemoryError("the skeleton painter's compiled loop could not allocate its scratch rows")
        ctx.save_for_backward(boxes, *inputs, alpha)
        return alpha

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_alpha):
        boxes, *inputs, alpha = ctx.saved_tensors
        (n, k), grad_alpha = inputs[0].shape, grad_alpha.contiguous()
        grads = [torch.empty_like(inputs[0]) for _ in range(4)]
        if compiled().dabs_grads(n, k, *(x.data_ptr() for x in (*inputs, boxes)), ctx.pitch, ctx.origin, DAB_REACH,
                                 alpha.data_ptr(), grad_alpha.data_ptr(), *(g.data_ptr() for g in grads)):
            raise MemoryError("the skeleton painter's compiled loop could not allocate its scratch rows")
        return (None, None, None, *grads)


@torch.no_grad()
def _span(grid: torch.Tensor, cx, cy, inv, reach: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The first and past-the-last pixel rows and columns ((N, 2): y, x) of the ``grid`` x ``grid`` square
    that each stroke's dabs and ``reach`` of its largest radius around them cover (not cut to the square;
    not finite where the dabs are not)."""
    margin, first = reach / inv.amin(1), float(grid[0]) - 0.5                  # (N, 1) px; the grid's left edge
    low = torch.cat([cy.amin(1), cx.amin(1)], 1).sub(margin + first).floor()
    high = torch.cat([cy.amax(1), cx.amax(1)], 1).add(margin - first).ceil()
    return low, high


def _boxes(grid: torch.Tensor, cx, cy, inv, reach: float, packed: bool) -> torch.Tensor:
    """(N, 5) boxes of :class:`BoxRaster`: each stroke's dabs and ``reach`` of its largest radius around
    them, cut to the ``grid`` x ``grid`` square (not finite: the whole square); the last column is where
    the box starts in the alpha (N, 1, L, L), or in the ``packed`` boxes."""
    side = grid.shape[0]
    with torch.no_grad():
        low, high = _span(grid, cx, cy, inv, reach)
        bad = ~(low.isfinite() & high.isfinite()).all(1, keepdim=True)
        low = low.masked_fill(bad, 0).clamp(0, side).long()
        high = high.masked_fill(bad, side).clamp(0, side).long()
        size = (high - low).clamp_min(0)
        if packed:
            area = size[:, 0] * size[:, 1]
            offset = area.cumsum(0) - area
        else:
            offset = torch.arange(len(low), device=low.device) * side * side + low[:, 0] * side + low[:, 1]
        return torch.cat([low, size, offset[:, None]], 1).contiguous()


def _crop_sides(limit: int) -> torch.Tensor:
    """The crop sides a stroke may get: multiples of :data:`CROP_STEP` about 1.25x apart, up to ``limit``."""
    sides = [CROP_STEP]
    while sides[-1] < limit:
        sides.append(math.ceil(sides[-1] * 1.25 / CROP_STEP) * CROP_STEP)
    return torch.tensor(sides[:-1] + [limit], dtype=torch.float32)


def _grouped(sides: torch.Tensor) -> torch.Tensor:
    """Crop sides (N,) with the strokes of a side moved up to the next larger side wherever their extra
    pixels cost less than another batched product would (:data:`GROUP_COST`)."""
    sides = sides.clone()
    values = sides.unique().tolist()
    for small, large in zip(values, values[1:]):
        pick = sides == small
        if int(pick.sum()) * (large * large - small * small) < GROUP_COST:
            sides[pick] = large
    return sides


def rasterize(grid: torch.Tensor, cx, cy, inv, w) -> torch.Tensor:
    """:class:`DabRaster` on the square ``grid`` x ``grid``, each stroke painted only in a square crop around
    its dabs (:data:`CROP_REACH` of its largest radius), so the work follows a stroke's extent, not the
    canvas: the crops' sides come from a short ladder (:func:`_crop_sides`), strokes of one side are one
    batched product, put in place on a blank (N, 1, L, L) (:class:`CropRaster`); where crops would not save
    time, the whole square as one product. The ink dropped past a crop is below 1.3e-4 of a dab's peak
    (alpha within ~1e-4 of the whole square's)."""
    n, side = cx.shape[0], grid.shape[0]
    if n == 0:
        return DabRaster.apply(grid, cx, cy, inv, w)
    if native.usable(cx, cy, inv, w) and compiled() is not None:
        return BoxRaster.apply(grid, _boxes(grid, cx, cy, inv, DAB_REACH, False), False, cx[..., 0], cy[..., 0],
                               inv[..., 0], w[..., 0])
    with torch.no_grad():
        low, high = _span(grid, cx, cy, inv, CROP_REACH)
        extent = (high - low).amax(1).nan_to_num(side).clamp_max(side)         # not finite: the whole square
        ladder = _crop_sides(side)
        sides = _grouped(ladder[torch.bucketize(extent.cpu(), ladder)]).to(cx.device)
        origin = torch.minimum(low.nan_to_num(0).clamp_min(0), side - sides[:, None]).long()  # (N, 2): y, x
        kinds = sides.unique().tolist()
    if float(sides.square().sum()) + GROUP_COST * len(kinds) >= n * side * side:
        return DabRaster.apply(grid, cx, cy, inv, w)
    k = cx.shape[1]                  # CropRaster's parts: strokes of one side whose crops and tables fit a chunk
    crops = [(int(s), part, origin[part, 0], origin[part, 1]) for s in kinds
             for part in (sides == s).nonzero().squeeze(1).split(max(1, CHUNK_ELEMENTS // int(s * max(s, k))))]
    return CropRaster.apply(grid, crops, cx, cy, inv, w)


@register_painter
class SkeletonPainter(Painter):
    """Analytic Bezier rasterizer with a learned MyPaint dab model (the default painter)."""

    name = "skeleton"
    resizable = True     # every length is in pixels of ``size``: the same weights paint any canvas

    def __init__(self, size: int = 64, dabs: int = 64, components: int = 2, hidden: int = 32,
                 jitter: float = 0.0, draw_gain: float = 1.0, noise_dim: int = 0):
        super().__init__(size)
        if not isinstance(jitter, (int, float)) or not 0.0 <= jitter <= 2.0:
            raise ValueError(f"jitter must be a number in [0, 2], got {jitter!r}")
        if not isinstance(draw_gain, (int, float)) or not 0.5 <= draw_gain <= 3.0:
            raise ValueError(f"draw_gain must be a number in [0.5, 3], got {draw_gain!r}")
        self.jitter, self.draw_gain = float(jitter), float(draw_gain)
        self.stochastic = self.jitter > 0
        for key, value, low in (("dabs", dabs, 8), ("components", components, 1), ("hidden", hidden, 2),
                                ("noise_dim", noise_dim, 0)):
            integer(value, key, low)
        self.dabs, self.components, self.hidden, self.noise_dim = dabs, components, hidden, noise_dim
        self.stochastic = self.stochastic or noise_dim > 0
        self.dab_net = nn.Sequential(nn.Linear(7 + noise_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                                     nn.SiLU(), nn.Linear(hidden, 2 * components + 1 + (2 if noise_dim else 0)))
        self.offset = nn.Parameter(torch.zeros(2))            # sub-pixel registration with MyPaint
        self.register_buffer("t", torch.linspace(0.0, 1.0, dabs), persistent=False)
        self.register_buffer("grid", torch.arange(size, dtype=torch.float32) + 0.5, persistent=False)
        with torch.no_grad():                                  # start at radius ≈ brush radius
            last = self.dab_net[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()
            last.bias[components:2 * components] = 1.0

    def set_margin(self, margin: int) -> None:
        self.margin = margin
        self.grid = torch.arange(-margin, self.size + margin, dtype=torch.float32, device=self.grid.device) + 0.5

    def config(self) -> dict:
        config = dict(size=self.size, dabs=self.dabs, components=self.components, hidden=self.hidden,
                      jitter=self.jitter, draw_gain=self.draw_gain)
        return dict(config, noise_dim=self.noise_dim) if self.noise_dim else config

    def dab_geometry(self, actions: torch.Tensor, generator: torch.Generator | None = None):
        """The dabs of each stroke: centres (N, T, 2) in pixels (x, y; pixel i spans [i, i + 1]), and per
        Gaussian component radii and peak ink (N, T, C): dab k puts ``ink * exp(-(d / radius)²)`` at
        distance d from its centre (what :meth:`ink` sums; the SVG export draws them).

        Each quantity is computed as contiguous (N, T) blocks (the returned tensors are views of (2, N, T) and
        (C, N, T) ones): torch's CPU loops run ~10x slower on slices of the dab network's (N, T, 5) output."""
        n, c, scale = actions.shape[0], self.components, self.size / A.REFERENCE_SIZE
        pts = actions[:, A.POINTS].reshape(n, 3, 2) * self.size + self.offset
        polynomial = torch.matmul(pts.permute(2, 0, 1), _BERNSTEIN.to(pts))      # (2, N, 3): 1, t, t² of x, y
        t = self.t
        pressure = actions[:, 0:1] + (actions[:, 1:2] - actions[:, 0:1]) * t                    # (N, T)
        size = actions[:, A.SIZE:A.SIZE + 1]
        radius = A.RADIUS_MIN * scale * torch.exp(size * math.log(A.RADIUS_MAX / A.RADIUS_MIN))  # (N, 1)
        path = torch.matmul(polynomial, torch.stack([torch.ones_like(t), t, t * t]))           # (2, N, T)
        step = (path[..., 1:] - path[..., :-1]).square().sum(0).add(1e-6).sqrt()              # (N, T-1)
        spacing = 0.5 * (F.pad(step, (1, 0)) + F.pad(step, (0, 1)))                         # px per dab
        length = step.sum(-1, keepdim=True)
        feats = [pressure, size.expand_as(pressure), t.expand_as(pressure), spacing / scale, spacing / radius,
                 (length / (self.size * 1.5)).expand_as(pressure),
                 (actions[:, 1:2] - actions[:, 0:1]).expand_as(pressure)]
        if self.noise_dim:
            noise = pressure.new_zeros((n, self.dabs, self.noise_dim)) if generator is None else torch.randn(
                (n, self.dabs, self.noise_dim), generator=generator, device=generator.device).to(pressure)
            feats += list(noise.permute(2, 0, 1))
        out = self.dab_net(torch.stack(feats, -1)).permute(2, 0, 1).contiguous()
        lag = (t + 0.1 * torch.tanh(out[2 * c])).clamp(0.0, 1.0)                             # learned lag
        centres = torch.addcmul(polynomial[..., :1], lag, torch.addcmul(polynomial[..., 1:2], lag,
                                                                         polynomial[..., 2:]))        # (2, N, T)
        rad = (radius * torch.exp(out[:c])).clamp_min(MIN_RADIUS)                            # (C, N, T)
        if self.noise_dim:
            centres = centres + out[2 * c + 1:] * rad.mean(0)
        amount = F.softplus(out[c:2 * c]) * pressure                                        # 0 at pressure 0
        weight = amount * (spacing + 0.5 * scale) / (rad * math.sqrt(math.pi))
        if generator is not None and self.jitter > 0:
            sigma = self.jitter * pressure * rad.mean(0)                                     # (N, T)
            noise = torch.randn((n, self.dabs, 2), generator=generator, device=generator.device)
            centres = centres + noise.to(centres).permute(2, 0, 1) * sigma
            shrunk = (rad.square() - 2 * sigma.square()).clamp_min((0.25 * rad).square()).sqrt()
            weight = weight * (rad / shrunk).square() * self.draw_gain
            rad = shrunk
        return centres.movedim(0, -1), rad.movedim(0, -1), weight.movedim(0, -1)

    def _dabs(self, actions: torch.Tensor, generator) -> list[torch.Tensor]:
        """What the rasterizer paints: centres cx, cy, inverse radii and weights (N, T·C, 1)."""
        n = actions.shape[0]
        centres, rad, weight = self.dab_geometry(actions.to(self.offset.dtype), generator)
        rad, weight = merge_components(rad, weight)
        c = rad.shape[-1]
        inv = (1.0 / rad).reshape(n, -1, 1)                                                 # (N, T·C, 1)
        cx, cy = (centres[..., k:k + 1].repeat_interleave(c, dim=1) if c > 1 else centres[..., k:k + 1]
                  for k in (0, 1))
        return [cx, cy, inv, weight.reshape(n, -1, 1)]

    def paint(self, actions: torch.Tensor, generator=None) -> torch.Tensor:
        return rasterize(self.grid, *self._dabs(actions, generator))

    def paint_boxes(self, actions: torch.Tensor, generator=None) -> Boxes | None:
        if compiled() is None or canvas.compiled() is None or not native.usable(self.offset):
            return None
        self.check(actions)
        dabs = self._dabs(actions, generator)
        boxes = _boxes(self.grid, *dabs[:3], DAB_REACH, True)
        return Boxes(BoxRaster.apply(self.grid, boxes, True, *(x[..., 0] for x in dabs)), boxes)


@torch.no_grad()
def calibrate_draws(painter: SkeletonPainter, actions, refs, sharpness: float = 0.84, ink_tolerance: float = 0.1,
                    seed: int = 0, jitters=tuple(i / 20 for i in range(1, 25)),
                    gains=tuple(1 + i / 20 for i in range(13))) -> tuple[float, float]:
    """Set and return the ``(jitter, draw_gain)`` of the painter's random draws, fitted on ``actions``
    (numpy (N, 12)) against MyPaint renders ``refs`` (N, 64, 64).

    Among the pairs whose draws are at least ``sharpness`` × as sharp as MyPaint's and whose total ink is
    within ``ink_tolerance`` of MyPaint's, the one whose coverage overlaps MyPaint's best (IoU) wins;
    if no pair qualifies, the sharpest. More jitter gives MyPaint-like texture but worse coverage;
    more gain sharpens the stroke's edge but adds ink.
    """
    from .fidelity import iou, paint
    from .fidelity import sharpness as gradient
    reference_sharpness, reference_ink, trials = gradient(refs), float(refs.sum()), {}
    for jitter in jitters:
        for gain in gains:
            painter.jitter, painter.draw_gain, painter.stochastic = float(jitter), float(gain), True
            draw = paint(painter, actions, seed=seed)[0]
            trials[jitter, gain] = (gradient(draw) / reference_sharpness, float(draw.sum()) / reference_ink,
                                    iou(draw, refs))
    good = [key for key, (sharp, ink, _) in trials.items() if sharp >= sharpness and abs(ink - 1) <= ink_tolerance]
    best = max(good, key=lambda key: trials[key][2]) if good else max(trials, key=lambda key: trials[key][0])
    painter.jitter, painter.draw_gain, painter.stochastic = float(best[0]), float(best[1]), best[0] > 0
    return painter.jitter, painter.draw_gain
