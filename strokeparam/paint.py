"""The two headline recipes as functions: paint an ImageNet class, paint a photo by content alone."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .models import Classifier, Ensemble, fold_for_size, load_classifier
from .objectives import Hook, class_index, class_logit, content, with_content
from .canvas import UNDERPAINTING, Layout
from .checks import integer, pair
from .judge import PAINTING_MODELS
from .param import BrushstrokeParam
from .render import render_vis
from .transforms import stack, standard

CONTENT_MODEL = "efficientnet_lite0"
CONTENT_LAYERS = ("net_blocks_1", "net_blocks_2", "net_blocks_3")
BRUSH_WORKERS = 2     # MyPaint threads when the real brush is in the loop (2 render 1.9x as fast as 1, compiled loop)
GRAY = (0.299, 0.587, 0.114)   # ITU-R BT.601 luma
# paint_class's copies per step and how many of them are brush draws, when not given. One tile is cheap to
# paint, and more draws per step keep its coarse MyPaint texture recognizable: bench/class_recognition.py, 20
# classes, top-5 neural / MyPaint over 3 seeds: 4 copies (2 draws) 90% / 73%, 6 (4 draws) 85% / 85%, 8 (4
# draws) 95% / 88%. On the 224-px canvas, 4 copies: 2 draws 100% / 82%, 3 draws 100% / 92%.
ONE_TILE_COPIES, ONE_TILE_DRAWS = 8, 4
CANVAS_COPIES, CANVAS_DRAWS = 4, 3
# paint_class's steps when not given. Grays on one tile need more: bench/class_recognition.py --grayscale, 20
# classes, neural top-5: 150 steps 75%, 300 steps 90%.
CLASS_STEPS = 150
# paint_class's share of the steps before the brush draws join on a canvas of tiles (the expected strokes alone,
# half a step's cost); on one tile (cheap) they paint from the first step. bench/class_recognition.py, 224-px
# canvas, 20 classes, top-5 neural / MyPaint seeds 0-2 (mean p): draws from the first step 100% / 95% (0.432),
# from a third 95% / 95% (0.539), from half 95% / 85% (0.433).
CANVAS_DRAWS_FROM = 1 / 3
GRAY_TILE_STEPS = 300
# paint_class's brush draws that MyPaint paints afresh per step on a canvas of tiles, when not given; the other
# draws show the latest draws moved with the strokes (BrushstrokeParam.image's fresh). bench/class_recognition.py,
# 224-px canvas, 20 classes, top-5 neural / MyPaint seeds 0-2 (mean p), s per class: all 3 fresh 95% / 90% (0.662 /
# 0.469), 60 s; 1 a step 95% / 90% (0.598 / 0.440), 48 s; 1 every other step 100% / 88% (0.501 / 0.428), 43 s.
CANVAS_FRESH = 0.5


def ensemble(models=PAINTING_MODELS, device=None) -> torch.nn.Module:
    """A model from classifier names or modules: one is used as it is, several become an :class:`Ensemble`."""
    if isinstance(models, (str, torch.nn.Module)):
        models = [models]
    models = list(models)
    if not models:
        raise ValueError("models must name at least one classifier, e.g. ('efficientnet_lite0', 'efficientnet_lite1')")
    loaded = [load_classifier(m, device=device) if isinstance(m, str) else m for m in models]
    bad = [m for m in loaded if not isinstance(m, torch.nn.Module)]
    if bad:
        raise ValueError(f"models must be classifier names or torch modules, got {bad[0]!r}")
    return loaded[0] if len(loaded) == 1 else Ensemble(loaded)


def _for_logits(model: torch.nn.Module, size: tuple[int, int]) -> torch.nn.Module:
    """``model`` seeing ``size`` (h, w) inputs, for its logits alone: Classifiers, also inside an Ensemble, are
    re-wrapped around their networks with that input size, made for it (batch norms folded into the
    convolutions, static padding: :func:`fold_for_size`); other modules are returned unchanged. ``model`` is not
    modified."""
    if isinstance(model, Classifier):
        return Classifier(fold_for_size(model.net, size), model.name, size, model.mean.flatten().tolist(),
                          model.std.flatten().tolist()).to(model.mean.device).eval()
    if isinstance(model, Ensemble):
        return Ensemble([_for_logits(m, size) for m in model.members], model.weights.tolist()).to(
            model.weights.device).eval()
    return model


def class_steps(grayscale: bool, one_tile: bool) -> int:
    """paint_class's steps when not given: :data:`GRAY_TILE_STEPS` for a grayscale painting on one tile (no
    underpainting), else :data:`CLASS_STEPS`."""
    return GRAY_TILE_STEPS if grayscale and one_tile else CLASS_STEPS


def paint_class(cls, models=PAINTING_MODELS, strokes: int = 30, steps: int | None = None, copies: int | None = None,
                draws: int | None = None, draws_from: int | None = None, fresh: float | None = None, lr: float = 0.05,
                lr_end: float | None = None,
                degrees: float = 30.0, resolution: int = 224,
                transforms=None, mypaint=True, seed: int | None = 0, device=None, progress: bool = True,
                **param_kwargs) -> BrushstrokeParam:
    """Paint ImageNet class ``cls`` as an ensemble of classifiers sees it; returns the param with the strokes.

    The neural-painters ImageNet setup: ``steps`` of Adam (default :func:`class_steps`) at ``lr`` on the
    strokes (with ``lr_end``, the rate falls from ``lr`` to ``lr_end`` on a cosine over the steps: 100 steps
    from 0.15 to 0.015 keep the neural render's class but fewer MyPaint re-paints' than the default, see the
    README); each step the classifiers see ``copies`` pictures of the painting (default
    :data:`ONE_TILE_COPIES` on one tile, :data:`CANVAS_COPIES` on a canvas of tiles), each rotated
    (±``degrees``), scaled (0.8–1.2) and jittered (8 px) on its own, and ``models`` (names or modules; several are averaged) maximize the mean logit of ``cls``
    (an index, a class name like ``"giant panda"``, or a list of them). ``draws`` of the copies (default
    :data:`ONE_TILE_DRAWS` of the 8, :data:`CANVAS_DRAWS` of the 4; half of ``copies`` given, rounded down)
    show a random draw each of the real brush (``mypaint``, the default: what MyPaint
    paints for the strokes, with the neural painter's gradient; see :class:`BrushstrokeParam`) or, with
    ``mypaint=False``, of a stochastic painter (MyPaint-like jitter), the rest the painter's expected
    strokes: the strokes must read as the class both smooth and as the real, ragged brush paints them
    (``draws=0``, expected strokes only, re-paints with MyPaint recognizably far less often; see
    bench/class_recognition.py). The draws start after step ``draws_from`` (default: at
    :data:`CANVAS_DRAWS_FROM` of the steps on a canvas of tiles, at once on one tile): before, every copy shows
    the expected strokes, which settle the composition at half a step's cost (no MyPaint, one picture).
    MyPaint paints ``fresh`` of the brush draws afresh per step, on average (default :data:`CANVAS_FRESH`, one
    every other step, on a canvas of tiles; all of them on one tile); the others show the brush texture of
    the latest draws over this step's neural render (:meth:`BrushstrokeParam.image`).
    A canvas of ``size`` px (with no ``grid`` or ``tile``) is one composition: an underpainting of
    :data:`strokeparam.canvas.UNDERPAINTING` strokes on one tile spanning the canvas (``underpainting=``
    changes it, 0 for none), then overlapping tiles of about 128 px (:meth:`Layout.fit`), strokes scaled to
    their tile. ``transforms`` (a callable on
    NCHW images) replaces the augmentation of the copies (``degrees`` then does nothing). The classifiers
    see the painting at ``resolution`` px on its longer side: 224, the scale they were trained at, so the
    painted features are the size any classifier looks for at its own input size.
    ``param_kwargs`` go to :class:`BrushstrokeParam` (painter, grid, size, grayscale, palette, init, ...;
    ``workers``, the MyPaint threads of the real brush, defaults to :data:`BRUSH_WORKERS`).
    """
    objective = class_logit(cls)
    steps = None if steps is None else integer(steps, "steps")
    resolution = integer(resolution, "resolution")
    if lr_end is not None and not (isinstance(lr_end, (int, float)) and 0 <= lr_end < float("inf")):
        raise ValueError(f"lr_end must be a finite learning rate >= 0 or None (constant lr), got {lr_end!r}")
    if copies is not None:
        copies = integer(copies, "copies")
        draws = integer(copies // 2 if draws is None else draws, "draws", 0, copies, what="an integer up to copies")
    if param_kwargs.get("size") is not None and param_kwargs.get("grid") is None and param_kwargs.get("tile") is None:
        _fit(param_kwargs, 128)
        param_kwargs.setdefault("underpainting", UNDERPAINTING)
    if mypaint:
        param_kwargs.setdefault("workers", BRUSH_WORKERS)
    param = BrushstrokeParam(strokes=strokes, seed=seed, device=device, mypaint=mypaint, **param_kwargs)
    if steps is None:
        steps = class_steps(bool(param_kwargs.get("grayscale")), param.one_tile)
    if copies is None:
        copies, default = (ONE_TILE_COPIES, ONE_TILE_DRAWS) if param.one_tile else (CANVAS_COPIES, CANVAS_DRAWS)
        draws = integer(default if draws is None else draws, "draws", 0, copies,
                        what=f"an integer up to copies ({copies} here)")
    height, width = param.output_size
    scale = resolution / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if transforms is None:
        transforms = stack(pad=8, scale=(0.8, 1.2), degrees=degrees, jitter_after=8, same_on_batch=False,
                           seed=seed)
    generator = _generator(param.raw.device, seed)
    random = draws if param.in_loop or param.painter.stochastic else 0

    if draws_from is None:
        draws_from = 0 if param.one_tile else round(CANVAS_DRAWS_FROM * steps)
    draws_from = integer(draws_from, "draws_from", 0, steps, what="a step count")
    if fresh is None:
        fresh = None if param.one_tile or not random else min(CANVAS_FRESH, random)
    painted_now = fresh_draws(fresh, random)
    calls = [0]                                  # render_vis asks for the pictures once per step

    def pictures():
        calls[0] += 1
        if calls[0] > steps:                     # render_vis's picture after the last step, for no gradient
            return param.image(mypaint=False)
        if not random or calls[0] <= draws_from:
            return param.image(mypaint=False).repeat(copies, 1, 1, 1)
        now = painted_now(calls[0] - draws_from)      # of the steps with draws, this one
        images = param.image(generator=generator, draws=random, expected=True, fresh=now)   # one neural render
        expected, drawn = images[:param.batch], images[param.batch:]
        return torch.cat([expected.repeat(copies - random, 1, 1, 1), drawn])

    model = _for_logits(ensemble(models, device), size)
    scheduler = None if lr_end is None else (
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps, eta_min=lr_end))
    render_vis(model, objective, param_f=lambda: ([param.raw], pictures), thresholds=(steps,), device=device,
               optimizer=lambda p: torch.optim.Adam(p, lr=lr), scheduler=scheduler, fixed_image_size=size,
               transforms=transforms, progress=progress)
    param.forget_draws()
    return param


def fresh_draws(fresh: float | None, draws: int):
    """``fresh``, the brush draws MyPaint paints afresh per step on average (in (0, draws]; None: all of them),
    checked, as a function of the step (1: the first with draws) that gives how many to paint at it
    (:meth:`BrushstrokeParam.image`'s ``fresh``): 0.5 paints on every second step."""
    if fresh is None:
        return lambda step: None
    if isinstance(fresh, bool) or not isinstance(fresh, (int, float)) or not 0 < fresh <= max(draws, 1):
        raise ValueError(f"fresh must be a number of draws per step in (0, {max(draws, 1)}] (the draws), "
                         f"got {fresh!r}")
    return lambda step: int(step * fresh) - int((step - 1) * fresh)


def best_repaint(param: BrushstrokeParam, cls, models=PAINTING_MODELS, seeds=range(4),
                 device=None) -> tuple[int, torch.Tensor]:
    """Re-paint the strokes with MyPaint under each brush seed of ``seeds`` and keep the re-paint that
    ``models`` (the classifiers that painted: never a held-out judge) find most like ``cls``, as the
    mean log-probability of its classes: ``(seed, image)``. MyPaint's texture differs from seed to seed,
    and so does how well a re-paint keeps the class; the painter picks the best take."""
    seeds = [integer(s, "seed", 0, 2 ** 31 - 1, what="a brush seed") for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one brush seed")
    indices = [class_index(c) for c in (list(cls) if isinstance(cls, (list, tuple)) else [cls])]
    model = ensemble(models, device)
    best = None
    for seed in seeds:
        image = param.to_mypaint(seed=seed)
        with torch.no_grad():
            score = float(model(image).log_softmax(-1)[:, indices].mean())
        if best is None or score > best[0]:
            best = (score, seed, image)
    return best[1], best[2]


def load_image(image, size: int | None = None) -> torch.Tensor:
    """One RGB image as a (1, 3, H, W) float tensor in [0, 1].

    ``image``: a file path, a PIL image, an (H, W) or (H, W, 3) array (uint8 0–255 or float 0–1), or a
    (3, H, W) / (1, 3, H, W) tensor in [0, 1]. ``size`` resizes the shorter side to that many pixels.
    """
    from PIL import Image
    if isinstance(image, (str, Path)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file not found: {path}")
        image = read_picture(path)
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 2:
            array = np.repeat(array[..., None], 3, axis=-1)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(f"an image array must be (H, W) or (H, W, 3), got shape {array.shape}")
        if np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float32) / 255.0
        image = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)
    if not isinstance(image, torch.Tensor):
        raise ValueError(f"image must be a path, a PIL image, an array or a tensor, got {type(image).__name__}")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3 or min(image.shape[-2:]) < 8:
        raise ValueError(f"an image tensor must be (3, H, W) or (1, 3, H, W) with H, W >= 8, got {tuple(image.shape)}")
    image = image.detach().float().cpu()
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("image values must lie in [0, 1] (floats) or 0–255 (integer arrays)")
    if size is None:
        return image[None]
    integer(size, "size")
    h, w = image.shape[-2:]
    return _resize(image[None], (max(1, round(h * size / min(h, w))), max(1, round(w * size / min(h, w)))))


def read_picture(path: Path):
    """The RGB PIL image in file ``path``; one ValueError for a file Pillow can't read or a decompression bomb."""
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                return picture.convert("RGB")
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ValueError(f"{path} is too large an image for Pillow's decompression-bomb guard "
                         f"(over {Image.MAX_IMAGE_PIXELS} pixels); scale it down first") from None
    except OSError as error:
        raise ValueError(f"{path} is not an image Pillow can read: {error}") from None


def _resize(images: torch.Tensor, size) -> torch.Tensor:
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return torch.nn.functional.interpolate(images, size=size, mode="bilinear", antialias=True,
                                           align_corners=False).clamp(0, 1)


def to_gray(image: torch.Tensor) -> torch.Tensor:
    """Luma of NCHW RGB images, repeated over the three channels."""
    luma = (image * image.new_tensor(GRAY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return luma.expand_as(image).contiguous()


@torch.no_grad()
def content_loss(painting, image, model=CONTENT_MODEL, layers=CONTENT_LAYERS, device=None) -> float:
    """The content loss of ``painting`` (NCHW tensor, or a BrushstrokeParam) against ``image``, untransformed.

    What :func:`paint_content` minimizes, without its random transforms: the mean over paintings of the
    summed mean squared activation differences at ``layers`` of ``model``.
    """
    if isinstance(painting, BrushstrokeParam):
        painting = painting.image()
    target = _resize(load_image(image).to(painting), painting.shape[-2:])
    net = ensemble(model, device).to(painting.device).eval()
    objective = content(target, layers)
    with Hook(net) as hook:
        net(torch.cat([painting, target]))
        return float(objective(hook))


# paint_content's MyPaint draws per step beside the neural render, for a preset that names none: bench/style_transfer.py,
# 4 photos at 320 px with the dry brush, content kept after MyPaint: 1 draw 81%, 3 draws 85% (1.5x the time), 6 draws
# 86%. A brush without randomness paints every draw alike: its presets take one.
STYLE_DRAWS = 3
# paint_content's draws that MyPaint paints afresh per step, on average (None: all, every step); the others are its
# latest draws moved with the strokes. bench/style_transfer.py, 4 photos at 320 px, painterly preset: every step
# 70 s per photo, MyPaint's content loss after 106.1; 0.5 (every other step) 63 s, 109.5 (astronaut 150 -> 164).
STYLE_FRESH = None

STYLE_PRESETS = {
    # strokes visible at 100% zoom: 128-px tiles (radii 2-15 px) overlapping by 32, on a toned ground (the photo's
    # mean color), with deevad/brush, an opaque round brush without randomness, and the skeleton painter trained
    # on it: what MyPaint paints is what was optimized (bench/style_transfer.py, README)
    "painterly": dict(tile=128, overlap=32, strokes=48, background="mean", painter="skeleton.deevad_brush", draws=1),
    # the same canvas with the dry brush (the default painter's), whose texture the re-paint adds: 24 strokes a tile;
    # the toned ground shows in the brush's gaps instead of white paper
    "dry_brush": dict(tile=128, overlap=32, strokes=24, background="mean"),
    # Nakano (2019), Figure 13: 8 x 8 tiles of 64 px overlapping by 32 (288 px), 4 strokes each (256 strokes)
    "paper": dict(tile=64, grid=8, overlap=32, strokes=4),
}


def paint_content(image, preset: str | None = "painterly", grid=None, grayscale: bool = False, palette=None,
                  strokes: int | None = None, steps: int = 100, lr: float = 0.1, model=CONTENT_MODEL,
                  layers=CONTENT_LAYERS, mypaint=True, draws: int | None = None, fresh: float | None = STYLE_FRESH,
                  seed: int | None = 0, device=None, progress: bool = True, **param_kwargs) -> BrushstrokeParam:
    """Intrinsic style transfer: paint ``image`` with brushstrokes by a content loss alone.

    The painting is a stitched grid of overlapping painter tiles. ``preset`` names a canvas and brush in
    :data:`STYLE_PRESETS` ("painterly": 128-px tiles with 48 strokes each of an opaque round brush, strokes
    visible at 100% zoom, on a toned ground; "dry_brush": the same tiles with 24 strokes of the dry brush;
    "paper": the seed paper's 8 x 8 tiles of 64 px, 4 strokes each, 288 px, on white); ``grid`` (rows, cols,
    an int), ``size`` (canvas pixels), ``tile``, ``overlap``, ``strokes``, ``draws``, ``painter`` (None: the
    preset's, else the default painter) and ``background`` (a gray level, an RGB triple, or "mean": the
    image's mean color) override it. Without
    ``grid`` or ``size`` the canvas takes the image's size (:func:`load_image` resizes a photo). The loss is
    the content loss at ``layers`` of ``model`` (see :func:`content_loss`) under Lucid's standard transforms,
    shared by painting and photo. With ``mypaint`` (True or a brush name; the default) the real brush is in
    the loop: each step the model sees the neural render and ``draws`` MyPaint draws of the strokes (default:
    the preset's, else :data:`STYLE_DRAWS`; see :class:`BrushstrokeParam`), so what MyPaint paints keeps the
    content; MyPaint paints ``fresh`` of them afresh per step on average (default :data:`STYLE_FRESH`, None:
    all, every step; 0.5: every other step), the others are its latest draws moved with the strokes
    (:meth:`BrushstrokeParam.image`). ``grayscale`` paints in grays and compares with the photo's luma;
    ``palette`` (hex colors or RGB triples) restricts every stroke to those colors. ``param_kwargs`` go to
    :class:`BrushstrokeParam` (painter, background, constraints, init, workers (default :data:`BRUSH_WORKERS`
    with the brush in the loop), underpainting: none unless given, the presets are tiles alone, ...). Returns
    the param with the final strokes.
    """
    if preset is not None and preset not in STYLE_PRESETS:
        raise KeyError(f"unknown style preset {preset!r}; presets: {', '.join(STYLE_PRESETS)} (or None)")
    settings = dict(STYLE_PRESETS.get(preset, {}))
    if grid is not None or "size" in param_kwargs:
        settings.pop("grid", None)
    preset_draws = settings.pop("draws", STYLE_DRAWS)
    draws = preset_draws if draws is None else draws
    if param_kwargs.get("painter") is None:
        param_kwargs.pop("painter", None)
    settings.update({k: v for k, v in dict(grid=grid, strokes=strokes).items() if v is not None}, **param_kwargs)
    settings.setdefault("strokes", 40)
    settings.setdefault("underpainting", 0)
    target = load_image(image)
    if grayscale:
        target = to_gray(target)
    integer(steps, "steps")
    integer(draws, "draws")
    painted_now = fresh_draws(fresh, draws)
    if isinstance(settings.get("background"), str):
        if settings["background"] != "mean":
            raise ValueError(f"background must be a gray level, an RGB triple in [0, 1] or 'mean' (the image's "
                             f"mean color), got {settings['background']!r}")
        settings["background"] = target.mean((0, 2, 3)).clamp(0, 1).tolist()
    if "grid" not in settings and "size" not in settings:
        settings["size"] = tuple(target.shape[-2:])
    if "grid" not in settings and "tile" in settings:      # tiles of about the preset's size cover the canvas
        _fit(settings, settings["tile"])
    if mypaint:
        settings.setdefault("workers", BRUSH_WORKERS)
    param = BrushstrokeParam(grayscale=grayscale, palette=palette, seed=seed, device=device, mypaint=mypaint,
                             **settings)
    target = _resize(target, param.output_size)
    generator = _generator(param.raw.device, seed)

    calls = [0]

    def paintings():
        if param.in_loop:             # the neural render and the MyPaint draws, from one neural render
            calls[0] += 1
            return param.image(generator=generator, draws=draws, expected=True, fresh=painted_now(calls[0]))
        return param.image(mypaint=False)

    render_vis(ensemble(model, device), content(target, layers),
               param_f=with_content(lambda: ([param.raw], paintings), target), thresholds=(steps,),
               device=device, optimizer=lambda p: torch.optim.Adam(p, lr=lr), transforms=standard(seed=seed),
               progress=progress)
    param.forget_draws()
    return param


def _fit(kwargs: dict, tile: int) -> None:
    """Set ``kwargs``' grid, tile and overlap to tiles of about ``tile`` px covering its ``size`` (Layout.fit)."""
    fitted = Layout.fit(pair(kwargs["size"], "size"), tile, kwargs.get("overlap", 32))
    kwargs.update(grid=(fitted.rows, fitted.cols), tile=fitted.tile, overlap=fitted.overlap)


def _generator(device, seed: int | None) -> torch.Generator:
    generator = torch.Generator(device)
    generator.seed() if seed is None else generator.manual_seed(seed)
    return generator


