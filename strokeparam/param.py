"""BrushstrokeParam: brushstrokes as a Lucent image parameterization."""
from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import actions as A
from . import constraints as C
from .canvas import TILE_SPREAD, Boxes, Layout, composite, composite_boxes, strokes_in, underpainting_levels
from .checks import integer, is_int, pair, rgb
from .memory import keep_freed_memory
from .mypaint.loop import BrushInTheLoop, straight_through

EPS = 1e-4


class BrushstrokeParam(nn.Module):
    """An image made of brushstrokes painted by a neural painter; optimize its strokes.

    Calling it returns Lucent's ``(params, image_f)``, so it works as ``param_f`` in Lucent's
    ``render_vis`` and as ``param`` in :func:`strokeparam.render_vis`; ``image_f()`` is (batch, 3, H, W)
    in [0, 1].

    - ``strokes`` per painter tile; ``grid`` = rows x cols of tiles (an int for a square grid; default 1)
      that share ``overlap`` pixels with their neighbours; ``size`` (int or (height, width)) resizes the
      canvas to exactly that output size, choosing the grid for it unless ``grid`` is given (so
      ``grid=1, size=224`` is one 64-px tile shown at 224 px): the fewest tiles of ``tile`` px that cover
      it or, without ``tile`` for a resizable painter, of the side within
      :data:`~strokeparam.canvas.TILE_SPREAD` of its own whose canvas fits the size best
      (:meth:`Layout.for_size`: ``size=224`` is 4 x 4 tiles of 62 px, nothing resized); ``batch``
      independent paintings.
    - ``painter``: a Painter, a registered painter name, or None for the default shipped painter;
      ``tile`` (pixels, default the painter's 64) paints each tile at that size, natively for a resizable
      painter like the default skeleton (the strokes scale with the tile, as MyPaint's do).
    - ``margin``: pixels of canvas painted around each tile of a grid, where strokes near a tile's edge
      reach, as they do when MyPaint re-paints them on the whole canvas (so nothing is cut at a tile's
      edge: no seams). None: the stroke JSON's (``init``), else ``"auto"``, 1/4 of a tile (2.5 of the
      brush's largest radii) on a grid of several tiles and none on one tile, whose canvas edge cuts
      anyway; up to ``layout.largest_margin``. Underpainting layers of several tiles get ``"auto"``.
    - ``mypaint``: the real brush in the loop. True (the painter's brush, :attr:`Painter.brush`) or a MyPaint
      brush name: the image composites what MyPaint paints for the current strokes, while gradients flow
      through the neural painter (straight-through). A call without ``generator`` paints with MyPaint seed
      ``seed`` (0 when None), with a ``generator`` with a seed drawn from it; ``workers`` threads render (0:
      the caller's). ``brush_name`` is the brush the strokes are painted and re-painted with: a name given
      here, else a stroke JSON's, else the painter's.
    - ``background``: RGB in [0, 1] (or one gray level) under the strokes.
    - ``grayscale``, ``palette`` (list of hex colors / RGB triples) and ``constraints`` (see
      :mod:`strokeparam.constraints`) restrict the actions; every action reached stays valid for MyPaint.
    - ``underpainting``: layers of larger strokes painted first, under the tiles (coarse to fine, as a
      painter blocks in a composition): an int N is one layer of N strokes on one tile spanning the
      canvas (0: none); a list of ``(tile, strokes)`` pairs lays each layer out with :meth:`Layout.fit` over the
      canvas (``overlap`` shared), coarsest first. The default ``"auto"`` is :data:`~strokeparam.canvas.UNDERPAINTING` strokes
      when the canvas has more than one tile (so no bare tile borders show, from the first step), none
      on one tile or when ``init`` gives actions. ``levels`` lists every layer as ``(Layout, strokes)``,
      the underpainting first and the tiles (``layout``, ``strokes``) last.
    - ``init``: actions (strokes, 12) or (batch, strokes, 12), or a stroke JSON (path or dict) to
      continue from; otherwise uniform random actions drawn with ``seed``. A stroke JSON restores the
      layout, underpainting, background, constraints and painter it was saved with (an error if that
      painter's weights are not installed; ``painter=``, ``constraints=``, ``grayscale`` or ``palette``
      given here replace the saved ones).
    """

    def __init__(self, strokes: int = 30, grid=None, overlap: int = 8, size=None, painter=None, batch: int = 1,
                 background=(1.0, 1.0, 1.0), grayscale: bool = False, palette=None, constraints=None,
                 init=None, seed: int | None = None, device=None, tile: int | None = None, mypaint=False,
                 workers: int = 0, underpainting="auto", margin=None):
        super().__init__()
        from .painters import Painter, create_painter
        layout = raw = None
        from_file = isinstance(init, (str, dict)) or hasattr(init, "__fspath__")
        saved_brush = None
        if from_file:
            from .export import load_strokes, saved_painter
            saved = load_strokes(init)
            layout, init, strokes = saved["layout"], saved["actions"], saved["strokes"]
            batch, underpainting = init.shape[0], saved["underpainting"] or 0
            size = saved["size"] if size is None else size
            background, saved_brush = saved["background"], saved["brush"]
            painter = saved_painter(saved) if painter is None else painter
            if constraints is None and not grayscale and palette is None:
                constraints, raw = saved["constraints"], saved["raw"]
        if painter is None or isinstance(painter, str):
            painter = create_painter(painter)
        if not isinstance(painter, Painter):
            raise ValueError(f"painter must be a strokeparam Painter or a painter name, got {type(painter).__name__}")
        _warn_if_loose(painter)
        strokes, batch = integer(strokes, "strokes"), integer(batch, "batch")
        spread = TILE_SPREAD if tile is None and painter.resizable else 0.0     # a tile asked for is kept
        if tile is None:
            tile = painter.size if layout is None else layout.tile
        tile = integer(tile, "tile", 8, 2048, what="an integer number of pixels")
        if layout is None:
            if size is not None and grid is None:
                layout = Layout.for_size(pair(size, "size"), tile, overlap, spread)
            else:
                rows, cols = pair(1 if grid is None else grid, "grid")
                layout = Layout(rows, cols, tile, overlap)
        painter = painter.at_size(layout.tile)
        tile = painter.size
        self.brush = _brush(mypaint, workers, saved_brush or painter.brush)
        self.brush_name = self.brush.brush if self.brush is not None else saved_brush or painter.brush
        self.in_loop = self.brush is not None
        self.brush_seed = 0 if seed is None else int(seed)
        if not isinstance(init, torch.Tensor) and init is not None and not isinstance(init, np.ndarray):
            raise ValueError("init must be an actions array/tensor or a stroke JSON (path or dict)")
        if margin is not None or not from_file:          # a stroke JSON's layout keeps its margin
            layout = layout.with_margin("auto" if margin is None else margin)
        self.layout = layout
        self.size = None if size is None else pair(size, "size")
        self.strokes, self.batch = int(strokes), int(batch)
        self.painter = painter.eval().requires_grad_(False)
        if isinstance(underpainting, str) and underpainting == "auto" and init is not None:
            underpainting = 0             # given actions are the strokes of the tiles
        self.levels = tuple((lay.with_margin(), n) for lay, n in underpainting_levels(underpainting, layout)) + (
            (layout, self.strokes),)
        self.level_painters = nn.ModuleDict({
            f"{lay.tile}+{lay.margin}": painter.at_size(lay.tile, lay.margin).eval().requires_grad_(False)
            for lay, _ in self.levels if (lay.tile, lay.margin) != (tile, 0)})
        self.register_buffer("background", torch.from_numpy(rgb(background)))
        cons = list(constraints or ())
        if grayscale:
            cons.insert(0, C.Grayscale())
        if palette is not None:
            cons.insert(0, C.Palette(palette))
        self.constraints = C.check(cons)
        total = strokes_in(self.levels)
        if init is None:
            gen = torch.Generator()
            gen.seed() if seed is None else gen.manual_seed(int(seed))
            start = torch.rand(self.batch, total, A.NUM_FIELDS, generator=gen) * 0.9 + 0.05
        else:
            start = torch.as_tensor(A.validate(np.asarray(torch.as_tensor(init).reshape(-1, A.NUM_FIELDS)),
                                               "init"), dtype=torch.float32)
            if start.shape[0] == total:
                start = start.expand(self.batch, total, A.NUM_FIELDS)
            elif start.shape[0] != self.batch * total:
                parts = " + ".join(f"{lay.tiles} tiles x {n} strokes" for lay, n in self.levels)
                raise ValueError(f"init holds {start.shape[0]} strokes; this layout needs {total} per painting "
                                 f"({parts}) x batch {self.batch}")
            start = C.invert(self.constraints, start.reshape(self.batch, total, A.NUM_FIELDS))
        self._kept = []        # image(fresh=...)'s earlier MyPaint draws, per draw its levels' brush residuals
        self.raw = nn.Parameter(torch.logit(start.clamp(EPS, 1 - EPS)).contiguous() if raw is None else raw.clone())
        if device is not None:
            self.to(device)
        keep_freed_memory()               # each step's stroke layers reuse the last step's memory

    def extra_repr(self) -> str:
        under = "".join(f"{lay.rows}x{lay.cols} x {lay.tile} px x {n}, " for lay, n in self.levels[:-1])
        lay = self.layout
        return (f"strokes={self.strokes}, grid={lay.rows}x{lay.cols}, overlap={lay.overlap}, tile={lay.tile}, "
                f"margin={lay.margin}, size={self.output_size}, batch={self.batch}, mypaint={self.in_loop}, "
                + (f"underpainting=[{under[:-2]}], " if under else "")
                + f"constraints={[c.to_dict()['type'] for c in self.constraints]}")

    @property
    def output_size(self) -> tuple[int, int]:
        return self.size or (self.layout.height, self.layout.width)

    @property
    def one_tile(self) -> bool:
        """Whether the painting is a single painter tile, with no underpainting."""
        return self.layout.tiles == 1 and len(self.levels) == 1

    def forward(self):
        """Lucent's param_f contract: ``([raw tensor], image_f)``."""
        return [self.raw], self.image

    def actions(self) -> torch.Tensor:
        """Current valid actions (batch, total strokes, 12): the layers of ``levels`` in order, each
        tile by tile in its ``layout.order()`` with its strokes per tile."""
        return C.apply(self.constraints, torch.sigmoid(self.raw))

    def placement(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Where each stroke of :meth:`actions` lies on the canvas: (top, left) pixel origins (S, 2), tile
        sides (S,) and the margins painted around them (S,) in pixels, in painting order."""
        origins = [np.repeat(np.array(lay.origins()), n, axis=0) for lay, n in self.levels]
        tiles = [np.full(lay.tiles * n, lay.tile) for lay, n in self.levels]
        margins = [np.full(lay.tiles * n, lay.margin) for lay, n in self.levels]
        return np.concatenate(origins), np.concatenate(tiles), np.concatenate(margins)

    def _painter_at(self, tile: int, margin: int = 0):
        """The painter of ``tile``-px tiles with ``margin`` px around them (one of a level of ``levels``)."""
        key = f"{tile}+{margin}"
        return self.level_painters[key] if key in self.level_painters else self.painter

    def layer(self, mypaint: bool | None = None) -> torch.Tensor:
        """The strokes alone, with no background: straight RGBA (batch, 4, H, W) in [0, 1], transparent where
        nothing is painted (for PNGs with alpha; ``mypaint`` as in :meth:`image`). Over any background
        ``rgb * a + background * (1 - a)`` gives :meth:`image` on that background."""
        with torch.no_grad():
            black, white = (self.image(mypaint=mypaint, background=self.background.new_full((3,), v)) for v in (0, 1))
        alpha = (1.0 - (white - black).mean(1, keepdim=True)).clamp(0, 1)
        rgb = torch.where(alpha > 1e-6, black / alpha.clamp_min(1e-6), torch.zeros_like(black)).clamp(0, 1)
        return torch.cat([rgb, alpha], 1)

    def image(self, upto: int | None = None, generator: torch.Generator | None = None,
              mypaint: bool | None = None, draws: int = 1, background: torch.Tensor | None = None,
              expected: bool = False, fresh: int | None = None) -> torch.Tensor:
        """The painting (batch, 3, H, W) in [0, 1]; ``upto`` keeps only the first strokes of each tile,
        counted through the layers of ``levels`` in painting order (the underpainting's come first); a list
        of such counts gives one painting each, stacked count by count, from one pass of the painter.

        With the real brush in the loop (``mypaint``, default: the param's setting) the pixels are MyPaint's
        and the gradient the neural painter's; a ``generator`` draws the MyPaint seed. Without it, a
        ``generator`` makes a stochastic painter paint one random draw of the strokes (MyPaint-like brush
        jitter) instead of their expected shape; other painters ignore it. ``draws`` random draws (with a
        ``generator``) come stacked draw by draw: (draws x batch, 3, H, W), one neural render serving all.
        ``background`` (an RGB tensor (3,)) replaces the param's for this call. ``expected`` puts the
        painter's expected strokes (what ``mypaint=False`` without a generator paints) before the draws,
        from the same neural render: ((1 + draws) x batch, 3, H, W).

        ``fresh`` (with the real brush; None: all): how many of the ``draws`` MyPaint paints in this call.
        The others reuse the latest earlier draws of calls with ``fresh``: what MyPaint painted then less
        the neural render then, added to this call's neural render (the same pixels where the strokes have
        not moved). An optimization's steps move the strokes little, so each step shows ``draws`` textures
        of the brush for the MyPaint time of ``fresh`` (0: none; as many as are missing are painted, all
        of them in the first call).
        """
        if not is_int(draws) or draws < 1 or (draws > 1 and generator is None):
            raise ValueError(f"draws must be a positive integer, and 1 without a generator; got {draws!r}")
        if fresh is not None and not (is_int(fresh) and 0 <= fresh <= draws):
            raise ValueError(f"fresh must be None (every draw painted) or an integer from 0 to draws ({draws}); "
                             f"got {fresh!r}")
        counts = list(upto) if isinstance(upto, (list, tuple)) else [upto]
        if not counts or not all(c is None or (is_int(c) and c >= 0) for c in counts):
            raise ValueError(f"upto must be None, an integer >= 0 or a non-empty list of them; got {upto!r}")
        acts = self.actions()
        blocks, start = [], 0
        for layout, n in self.levels:
            blocks.append(acts[:, start:start + layout.tiles * n])
            start += layout.tiles * n
        copies = draws + bool(expected)              # composited together: one batch of copies x paintings
        flats = [block.reshape(-1, A.NUM_FIELDS) for block in blocks]
        stacks = {}
        if self.in_loop if mypaint is None else mypaint:
            # MyPaint paints after the painter's forward pass: on a CPU, side by side they would share its
            # cores and torch's threads would wait at barriers for a thread MyPaint took the core from (a
            # draw step of make demo 3-6% slower); on a GPU the painter's kernels still run while MyPaint paints
            brush = self._loop_brush()
            kept = self._kept[:draws - fresh] if fresh is not None else []
            seeds = [self.brush_seed][:draws - len(kept)] if generator is None else torch.randint(
                2 ** 31 - 1, (draws - len(kept),), generator=generator, device=generator.device).tolist()
            if brush.deterministic:               # every seed paints alike: one render serves all draws
                seeds = seeds[:1]
            arrays = [flat.detach().cpu().numpy() for flat in flats]
            neural = [self._painter_at(layout.tile, layout.margin)(flat)
                      for (layout, _), flat in zip(self.levels, flats)]
            for level, ((layout, _), array) in enumerate(zip(self.levels, arrays)):
                stack = torch.empty((copies, len(array), layout.side, layout.side))   # the copies, drawn in place
                stacks[level] = stack, [brush.submit(array, layout.tile, seed + level, layout.margin,
                                                     out=stack[bool(expected) + k].numpy())
                                        for k, seed in enumerate(seeds)]
        layers, residual_levels = [], []
        for level, ((layout, n), block, flat) in enumerate(zip(self.levels, blocks, flats)):
            if stacks:
                stack, pending = stacks[level]
                for job in pending:
                    brush.result(job)
                stack = stack.to(neural[level])
                first, drawn = int(expected), len(pending)
                now = neural[level].detach().view(stack.shape[1:])
                if expected:                  # the expected strokes: the neural render itself
                    stack[0].copy_(now)
                for j, residuals in enumerate(kept):          # earlier draws moved along with the strokes
                    torch.add(now, residuals[level], out=stack[first + drawn + j]).clamp_(0, 1)
                for k in range(first + drawn + len(kept), copies):    # one render serving several draws
                    stack[k].copy_(stack[first + (k - first) % drawn])
                if fresh is not None:         # what the brush adds to the neural render, for later calls
                    residual_levels.append([stack[first + k] - now for k in range(drawn)])
                alpha = straight_through(neural[level], stack)
            else:
                painter = self._painter_at(layout.tile, layout.margin)
                generators = [None] * bool(expected) + [generator] * draws
                alphas = [painter.paint_boxes(flat, generator=g) for g in generators]
                if None in alphas:      # a painter that paints whole squares (or a device that does)
                    alphas = [painter(flat, generator=g) for g in generators]
                    alpha = torch.cat(alphas) if copies > 1 else alphas[0]
                else:                   # strokes in boxes around them: compositing reads those pixels alone
                    alpha = Boxes.cat(alphas) if copies > 1 else alphas[0]
            if not isinstance(alpha, Boxes):
                alpha = alpha.view(copies * self.batch, layout.tiles, n, 1, layout.side, layout.side)
            layers.append((layout, alpha, block[..., A.COLOR].reshape(self.batch, layout.tiles, n, 3).repeat(
                copies, 1, 1, 1)))
        if residual_levels:                   # the newest first
            self._kept = [list(draw) for draw in zip(*residual_levels)] + kept
        background = self.background if background is None else background.to(self.background)
        paintings = []
        for count in counts:
            if all(isinstance(alpha, Boxes) for _, alpha, _ in layers):
                paintings.append(self.resize(composite_boxes(layers, background, self.layout.height,
                                                             self.layout.width, count)))
                continue
            canvas, before = background, 0     # before: strokes per tile in the layers painted before this one
            if len(self.levels) > 1:    # underpainting layers may reach past the tiles' canvas: crop to it
                canvas = canvas.view(1, 3, 1, 1).expand(copies * self.batch, 3, self.layout.height, self.layout.width)
            for layout, alpha, color in layers:
                canvas = composite(alpha, color, layout, canvas, None if count is None else count - before)
                before += color.shape[2]
            paintings.append(self.resize(canvas))
        return paintings[0] if len(paintings) == 1 else torch.cat(paintings)

    def forget_draws(self) -> None:
        """Drop the earlier MyPaint draws that :meth:`image` keeps for ``fresh`` (3 draws of the demo's canvas
        hold 77 MB); the next call with ``fresh`` paints every draw again."""
        self._kept = []

    def _loop_brush(self) -> BrushInTheLoop:
        if self.brush is None:                  # asked for by image(mypaint=True): the param's brush, made once
            self.brush = _brush(self.brush_name, 0, self.brush_name)
        return self.brush

    def resize(self, canvas: torch.Tensor) -> torch.Tensor:
        """Resize a (batch, 3, height, width) canvas of this layout to the output size (antialiased where it
        shrinks; growing, antialiasing changes nothing but doubles the cost)."""
        if self.size is None or tuple(canvas.shape[-2:]) == self.size:
            return canvas
        shrinks = canvas.shape[-2] > self.size[0] or canvas.shape[-1] > self.size[1]
        return F.interpolate(canvas, size=self.size, mode="bilinear", align_corners=False,
                             antialias=shrinks).clamp(0, 1)

    def brush_states(self, seed: int | None) -> list:
        """Per painting, the brush randomness of each stroke (MyPaintRenderer.paint's ``warmups``) that the
        real brush in the loop gives it under brush seed ``seed``; None entries (fresh) when ``seed`` is None."""
        from .mypaint.loop import loop_states
        if seed is None:
            return [None] * self.batch
        seed = integer(seed, "seed", 0, what="a brush seed (an integer >= 0) or None")
        # the loop renders level by level, the whole batch at once under seed + level
        per_level = [np.asarray(loop_states(seed + level, self.batch * layout.tiles * n)).reshape(self.batch, -1)
                     for level, (layout, n) in enumerate(self.levels)]
        return [np.concatenate([level[b] for level in per_level]) for b in range(self.batch)]

    def to_mypaint(self, seed: int | None = None, quantize: bool = False, brush: str | None = None,
                   progress: bool = False) -> torch.Tensor:
        """Re-paint the current strokes with the real MyPaint on the same layout → (batch, 3, H, W).

        ``quantize`` snaps the actions to SPIRAL-style discrete levels first (:func:`actions.quantize`).
        Each stroke gets the brush randomness the real brush in the loop gives it under brush seed ``seed``
        (fresh randomness with ``seed=None``): ``to_mypaint(seed=s)`` is the picture that
        ``image(mypaint=True)`` shows for a param of brush seed ``s`` (but for ink that passes the tiles'
        margins, which the loop cuts, and MyPaint's own 15-bit compositing). ``brush``: a MyPaint brush
        name (default :attr:`brush_name`).
        """
        from .mypaint import MyPaintRenderer
        from .progress import progress as progress_bar
        acts = self.actions().detach().cpu().numpy()
        states = self.brush_states(seed)
        if quantize:
            acts = A.quantize(acts.reshape(-1, A.NUM_FIELDS)).reshape(acts.shape)
        renderer = MyPaintRenderer(self.brush_name if brush is None else brush, self.layout.tile)
        origins, tiles, _ = self.placement()
        size = (self.layout.height, self.layout.width)
        bg = self.background.cpu().numpy()
        out = [renderer.paint(a, size=size, background=bg, warmups=w, origins=origins, tile=tiles)
               for a, w in zip(progress_bar(acts, disable=not progress, desc="MyPaint"), states)]
        canvas = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(self.raw.device)
        return self.resize(canvas)


_LOOSE = 1.5          # a painter whose card's L1 to MyPaint passes this x MyPaint's own floor gets a warning
_warned = set()


def _warn_if_loose(painter) -> None:
    """Warn once per painter whose shipped card says it imitates MyPaint loosely (see docs/painters.md)."""
    fidelity = (getattr(painter, "card", None) or {}).get("fidelity") or {}
    l1, floor = fidelity.get("l1"), (fidelity.get("floor") or {}).get("l1")
    if not (isinstance(l1, float) and isinstance(floor, float) and floor > 0 and l1 > _LOOSE * floor):
        return
    if painter.name not in _warned:
        _warned.add(painter.name)
        iou = fidelity.get("iou", float("nan"))
        warnings.warn(f"the {painter.name!r} painter imitates MyPaint loosely (L1 {l1 / floor:.1f}x MyPaint's own "
                      f"seed-to-seed noise, coverage IoU {iou:.2f}; see docs/painters.md): "
                      "MyPaint re-paints of its strokes will look different from its renders", stacklevel=3)


def _brush(mypaint, workers, default: str) -> BrushInTheLoop | None:
    """The real brush of ``mypaint=`` (False, True: brush ``default``, a brush name or a BrushInTheLoop), or None."""
    if mypaint is False or mypaint is None:
        return None
    if isinstance(mypaint, BrushInTheLoop):
        return mypaint
    if mypaint is True:
        mypaint = default
    if not isinstance(mypaint, str):
        raise ValueError(f"mypaint must be True, False, a MyPaint brush name or a BrushInTheLoop, got {mypaint!r}")
    return BrushInTheLoop(mypaint, workers)
