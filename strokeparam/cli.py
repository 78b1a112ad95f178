"""The ``strokeparam`` command: paint a class, paint a photo, build a gallery, re-paint with MyPaint.

    strokeparam paint "giant panda" --out out/giant_panda.png --gif --mypaint
    strokeparam style skimage:coffee --grayscale --out out/coffee.png
    strokeparam gallery --classes "giant panda" goldfish --styles color,grayscale --out docs/gallery
    strokeparam transfer out/giant_panda.json --out out/giant_panda_mypaint.png --ora out/giant_panda.ora
    strokeparam reconstruct mnist:7 --mypaint
    strokeparam painters

A user's mistake prints one line, ``strokeparam: error: ...``, and exits with 2 (usage) or 1 (other).
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .judge import PAINTING_MODELS, class_name, heldout_name, verdict
from .pictures import SKIMAGE_PHOTOS, slug

STYLE_SIZE = 320          # default long side of a style-transfer painting, in pixels
CLASS_SIZE = 224          # default side of a class painting: a 40-stroke underpainting, then 2 x 2 tiles of 128 px
STYLE_PRESETS = ("painterly", "dry_brush", "paper")   # strokeparam.paint.STYLE_PRESETS, named without importing torch
CLASS_STEPS = (150, 300)  # strokeparam.paint.CLASS_STEPS and GRAY_TILE_STEPS, for --help without importing torch


# -- argument types -----------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message):
        sys.stderr.write(f"strokeparam: error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _number(convert, what: str, ok):
    """An argparse type: ``convert(text)`` that must satisfy ``ok``."""
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value
    return parse


_positive_int = _number(int, "a positive integer", lambda v: v >= 1)
_non_negative_int = _number(int, "a non-negative integer", lambda v: v >= 0)
_positive_float = _number(float, "a positive finite number", lambda v: 0 < v < float("inf"))
_non_negative_float = _number(float, "a finite number >= 0", lambda v: 0 <= v < float("inf"))
_tile = _number(int, "an integer number of pixels from 8 to 2048", lambda v: 8 <= v <= 2048)


MAX_SIZE = 8192     # px: largest --size / --style-size side (MyPaintRenderer's MAX_CANVAS)
MAX_GRID = 128      # largest --grid side: 128 tiles of 64 px is 8192 px


def _pair(text: str, most: int = MAX_SIZE):
    """'N' → N, 'AxB' → (A, B), integers in [1, most]."""
    match = re.fullmatch(r"\s*(\d{1,9})\s*(?:[xX]\s*(\d{1,9})\s*)?", text)
    values = [int(v) for v in match.groups() if v is not None] if match else []
    if not values or min(values) < 1 or max(values) > most:
        raise argparse.ArgumentTypeError(f"must be N or AxB with integers in [1, {most}], e.g. 2 or 2x3, got {text!r}")
    return values[0] if len(values) == 1 else tuple(values)


def _grid(text: str):
    """A --grid: N or ROWSxCOLS tiles, at most MAX_GRID a side."""
    return _pair(text, MAX_GRID)


def _palette(text: str) -> list[str]:
    """'#000000,#ff0000,fff' → ['#000000', '#ff0000', '#ffffff']."""
    from .constraints import parse_color
    colors = [c for c in text.split(",") if c.strip()]
    if not colors:
        raise argparse.ArgumentTypeError("must list hex colors separated by commas, e.g. '#000000,#ffffff'")
    try:
        return ["#%02x%02x%02x" % tuple(round(v * 255) for v in parse_color(c)) for c in colors]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _models(text: str) -> list[str]:
    from .models import list_offline
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in list_offline()]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown classifier(s) {unknown or text!r}; "
                                         f"choose from {', '.join(list_offline())}")
    return list(dict.fromkeys(names))


def _model(text: str) -> str:
    if "," in text:
        raise argparse.ArgumentTypeError(f"takes one classifier, got {text!r}")
    return _models(text)[0]


def _device(text: str):
    import torch
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text!r} asked for CUDA, which this machine does not have; use cpu")
    return device


@dataclass(frozen=True)
class Style:
    """A color constraint: its file-name slug, its caption and its BrushstrokeParam arguments."""

    slug: str
    label: str
    kwargs: dict = field(default_factory=dict)


def _style(grayscale: bool = False, palette: list[str] | None = None) -> Style:
    if palette:
        return Style("palette-" + "-".join(c[1:] for c in palette), "palette " + " ".join(palette),
                     {"palette": palette})
    return Style("grayscale", "grayscale", {"grayscale": True}) if grayscale else Style("color", "color")


def _styles(text: str) -> list[Style]:
    """'color,grayscale,palette:#000,#fff,palette:#f00,#0f0' → Styles; a palette takes the colors after it."""
    styles, palette = [], None
    for token in (t.strip() for t in text.split(",")):
        if palette is not None and token not in ("color", "grayscale") and not token.startswith("palette:"):
            palette.append(token)
            continue
        if palette is not None:
            styles.append(_style(palette=_palette(",".join(palette))))
            palette = None
        if token in ("color", "grayscale"):
            styles.append(_style(grayscale=token == "grayscale"))
        elif token.startswith("palette:"):
            palette = [token.removeprefix("palette:")]
        else:
            raise argparse.ArgumentTypeError(f"unknown style {token!r}; styles are color, grayscale and "
                                             "palette:#rrggbb,#rrggbb,... separated by commas")
    if palette is not None:
        styles.append(_style(palette=_palette(",".join(palette))))
    return list({s.slug: s for s in styles}.values())


# -- the parser ---------------------------------------------------------------------------------------

def _common(parser, strokes: int | None, steps: int | None, size_help: str, lr: float = 0.05):
    """Options of every painting command (``strokes`` None: the preset's; ``steps`` None: paint_class's)."""
    parser.add_argument("--strokes", type=_positive_int, default=strokes,
                        help=f"strokes per tile (default {strokes or 'the preset’s'})")
    parser.add_argument("--steps", type=_positive_int, default=steps, help="optimization steps (default " + (
        f"{steps})" if steps else f"{CLASS_STEPS[0]}; {CLASS_STEPS[1]} for a grayscale painting on one tile)"))
    parser.add_argument("--lr", type=_positive_float, default=lr, help=f"Adam learning rate (default {lr})")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--grid", type=_grid, help="tiles of the painter's canvas: N or ROWSxCOLS (default 1)")
    layout.add_argument("--size", type=_pair, help=size_help)
    parser.add_argument("--tile", type=_tile, help="pixels of each painter tile; strokes scale with it "
                        "(default: the painter's 64, or the preset's)")
    parser.add_argument("--overlap", type=_non_negative_int, help="pixels neighbouring tiles share (default 8)")
    parser.add_argument("--margin", type=_non_negative_int, help="pixels painted around each tile of a grid, where "
                        "strokes reach past it (default: 1/4 of a tile; 0 cuts strokes at their tile's edge)")
    parser.add_argument("--underpainting", type=_non_negative_int, default=None,
                        help="strokes of one layer spanning the whole canvas, painted under the tiles first "
                             "(coarse to fine; 0: none; default: the command's)")
    parser.add_argument("--transparent", action="store_true",
                        help="write the PNG of the strokes alone, with an alpha channel (no background)")
    parser.add_argument("--neural-only", action="store_true", help="optimize the neural render alone, without "
                        "the real MyPaint brush in the loop (faster; MyPaint re-paints keep less)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--device", type=_device, default=None, help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument("--painter", default=None, help="neural painter name (default: the shipped default painter); "
                        "the gallery takes several, comma-separated, and paints each painting with each")
    parser.add_argument("--untrained", action="store_true",
                        help="use the painter's random initial weights (smoke tests; when no weights are shipped)")
    parser.add_argument("--mypaint", action="store_true",
                        help="also re-paint the strokes with MyPaint: <out>_mypaint.png and <out>.ora")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or messages on stderr")


def _class_options(parser):
    """Options of the commands that paint ImageNet classes (:func:`strokeparam.paint.paint_class`)."""
    parser.add_argument("--models", type=_models, default=_models(",".join(PAINTING_MODELS)),
                        help=f"classifiers that paint, comma-separated (default {','.join(PAINTING_MODELS)})")
    parser.add_argument("--copies", type=_positive_int, default=None,
                        help="randomly rotated copies per step (default 8 on one tile, 4 on a canvas of tiles)")
    parser.add_argument("--draws", type=_non_negative_int, default=None,
                        help="copies showing a random draw of the brush, not the expected strokes (default 4 of "
                             "the 8 on one tile, 3 of the 4 on a canvas; half of a given --copies)")
    parser.add_argument("--draws-from", type=_non_negative_int, default=None,
                        help="the step after which the draws join; before, every copy shows the expected strokes, "
                             "at half the cost (default: a third of the steps on a canvas of tiles, 0 on one tile)")
    parser.add_argument("--fresh", type=_positive_float, default=None,
                        help="brush draws MyPaint paints afresh per step, on average; the others show the latest "
                             "draws moved with the strokes (default 0.5 on a canvas of tiles, all on one tile)")
    parser.add_argument("--repaints", type=_positive_int, default=4,
                        help="MyPaint re-paints to choose from, brush seeds SEED..SEED+N-1: the one the painting "
                             "classifiers find most like the class is kept and judged (default 4)")
    parser.add_argument("--lr-end", type=_non_negative_float, default=None,
                        help="the learning rate falls from --lr to this on a cosine over the steps (default: "
                             "a constant --lr)")
    parser.add_argument("--resolution", type=_positive_int, default=224,
                        help="px the classifiers see class paintings at (default 224; 128 is 3x faster, less robust)")


def _class_kwargs(args) -> dict:
    """paint_class's keywords from the options of a class-painting command (models aside); without --grid
    or --size, a CLASS_SIZE-px canvas of ~128-px tiles."""
    layout = _layout(args)
    if "grid" not in layout and "size" not in layout:
        layout["size"] = (CLASS_SIZE, CLASS_SIZE)
    return dict(strokes=args.strokes, steps=args.steps, copies=args.copies, draws=args.draws,
                draws_from=args.draws_from, fresh=args.fresh, resolution=args.resolution, lr=args.lr,
                lr_end=args.lr_end, **layout)


def _color(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--grayscale", action="store_true", help="gray strokes only")
    group.add_argument("--palette", type=_palette, help="only these colors, e.g. '#1b1b1b,#e8e0c8,#b22222'")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``strokeparam`` command."""
    parser = _Parser(prog="strokeparam", description="Brushstroke paintings optimized for classifiers, "
                     "painted by a neural painter that imitates MyPaint.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    paint = sub.add_parser("paint", help="paint an ImageNet class", description="Paint an ImageNet class as "
                           "an ensemble of classifiers sees it; print the held-out classifier's verdict.")
    paint.add_argument("cls", metavar="CLASS", help="ImageNet class index (0-999) or name, e.g. 'giant panda'")
    _class_options(paint)
    paint.add_argument("--out", type=Path,
                       help="output PNG; the strokes go beside it as .json (default out/<class>.png)")
    paint.add_argument("--gif", action="store_true", help="also write <out>.gif, the painting stroke by stroke")
    paint.add_argument("--svg", action="store_true", help="also write <out>.svg, the strokes as vector paths")
    _common(paint, strokes=30, steps=None, size_help=f"output size in pixels: N (square) or HxW; tiles of about "
            f"128 px over a 40-stroke underpainting follow (default {CLASS_SIZE}; --grid 1 is the paper's single "
            "64-px tile)")
    _color(paint)

    style = sub.add_parser("style", help="paint a photo (intrinsic style transfer)", description="Paint a "
                           "content image with brushstrokes by a content loss alone (intrinsic style transfer).")
    style.add_argument("image", metavar="IMAGE",
                       help=f"an image file, or skimage:NAME ({', '.join(SKIMAGE_PHOTOS)})")
    style.add_argument("--model", type=_model, default="efficientnet_lite0",
                       help="classifier whose features compare content (default efficientnet_lite0)")
    style.add_argument("--out", type=Path,
                       help="output PNG; strokes beside it as .json (default out/<image>_style.png)")
    style.add_argument("--preset", choices=STYLE_PRESETS, default="painterly",
                       help="canvas and brush preset: painterly (128-px tiles, 48 strokes each of an opaque round "
                       "brush, deevad/brush, with its own painter; strokes visible at 100%% zoom), dry_brush (the "
                       "same tiles, 24 strokes each of the dry brush) or paper (the seed paper's 8x8 tiles of 64 px, "
                       "4 strokes each, 288 px); default painterly")
    style.add_argument("--draws", type=_positive_int, default=None,
                       help="MyPaint draws per step beside the neural render (default: the preset's; 1 for "
                       "painterly, whose brush paints every draw alike, else 3)")
    style.add_argument("--fresh", type=_positive_float, default=None,
                       help="MyPaint draws painted afresh per step, on average; the others show the latest draws "
                            "moved with the strokes (default: every draw, every step; 0.5: every other step)")
    _common(style, strokes=None, steps=100, lr=0.1, size_help="output size in pixels: N for the long side (keeping the "
            f"image's aspect) or HxW; the grid follows (default: the image's, at most {STYLE_SIZE} on the long side)")
    _color(style)

    gallery = sub.add_parser("gallery", help="paint many classes x styles into a gallery folder",
                             description="Paint classes x styles (and photos x styles) into a folder with "
                             "index.html and README.md. Resumable: paintings already there are kept.")
    gallery.add_argument("--classes", nargs="+", default=[], metavar="CLASS", help="ImageNet class indices or names")
    gallery.add_argument("--styles", type=_styles, default=_styles("color"),
                         help="comma-separated: color, grayscale, palette:#hex,#hex,... (default color)")
    gallery.add_argument("--style-images", nargs="+", default=[], metavar="IMAGE",
                         help="content images (files or skimage:NAME) for an intrinsic-style-transfer section")
    gallery.add_argument("--out", type=Path, required=True, help="the gallery folder")
    gallery.add_argument("--title", default="strokeparam gallery", help="the page title")
    gallery.add_argument("--intro", default="", help="a paragraph of text under the title")
    gallery.add_argument("--sheet", type=Path, help="also write one PNG of all paintings here: a row per subject, "
                                                   "a column per painter and style, neural | MyPaint with verdicts")
    _class_options(gallery)
    gallery.add_argument("--style-strokes", type=_positive_int,
                         help="strokes per tile of photos (default: the painterly preset's 48)")
    gallery.add_argument("--style-steps", type=_positive_int, default=100, help="steps of photos (default 100)")
    gallery.add_argument("--style-lr", type=_positive_float, default=0.1,
                         help="Adam learning rate of photos (default 0.1; --lr is the classes')")
    gallery.add_argument("--style-size", type=_pair, default=STYLE_SIZE,
                         help=f"photo paintings: long side N or HxW in pixels (default {STYLE_SIZE})")
    gallery.add_argument("--style-model", type=_model, default="efficientnet_lite0",
                         help="classifier whose features compare content (default efficientnet_lite0)")
    _common(gallery, strokes=30, steps=None, size_help=f"class paintings' size in pixels: N (square) or HxW "
            f"(default {CLASS_SIZE})")

    transfer = sub.add_parser("transfer", help="re-paint a stroke JSON with the real MyPaint",
                              description="Re-paint the strokes of a stroke JSON with MyPaint (PNG, OpenRaster).")
    transfer.add_argument("strokes", metavar="STROKES.json", type=Path, help="a stroke JSON written by strokeparam")
    transfer.add_argument("--out", type=Path, help="output PNG (default <strokes>_mypaint.png)")
    transfer.add_argument("--ora", type=Path, help="also write this OpenRaster (.ora) file, layered")
    transfer.add_argument("--seed", type=int, default=0, help="MyPaint's brush jitter seed (default 0)")
    transfer.add_argument("--brush", help="MyPaint brush (default: the one the strokes were painted with, saved "
                          "in the stroke JSON; classic/dry_brush for files without one)")
    transfer.add_argument("--quantize", action="store_true", help="snap actions to SPIRAL-style discrete levels")

    recon = sub.add_parser("reconstruct", help="repaint an image with a trained painting agent's strokes",
                           description="Paint an image stroke by stroke with a trained painting agent (one "
                           "forward pass, no optimization) at the agent's 64 px; print its MSE to the image.")
    recon.add_argument("image", metavar="IMAGE", help="an image file, skimage:NAME, or DATASET:N for held-out "
                       "image N of a dataset that ships with installed packages (mnist, kanji, faces)")
    recon.add_argument("--agent", default=None, help="a shipped agent's name or an agent .safetensors file "
                       "(default: the shipped agent of a DATASET:N image's dataset, else the MNIST agent)")
    recon.add_argument("--out", type=Path, help="output PNG; strokes beside it as .json "
                       "(default out/<image>_agent.png)")
    recon.add_argument("--gif", action="store_true", help="also write <out>.gif, the painting stroke by stroke")
    recon.add_argument("--svg", action="store_true", help="also write <out>.svg, the strokes as vector paths")
    recon.add_argument("--mypaint", action="store_true",
                       help="also re-paint the strokes with MyPaint: <out>_mypaint.png and <out>.ora")
    recon.add_argument("--transparent", action="store_true",
                       help="write the PNG of the strokes alone, with an alpha channel (no background)")
    recon.add_argument("--seed", type=int, default=0, help="MyPaint's brush jitter seed (default 0)")
    recon.add_argument("--device", type=_device, default=None, help="torch device (default cpu)")
    recon.add_argument("--quiet", action="store_true", help="no messages on stderr")

    painters = sub.add_parser("painters", help="the shipped painters, their cards and fidelity",
                              description="List the neural painters, their weights' cards and fidelity to MyPaint.")
    painters.add_argument("--json", action="store_true", help="print the cards as JSON")
    return parser


# -- shared steps -------------------------------------------------------------------------------------

def _say(args, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr)


def _png(path: Path) -> Path:
    if path.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {str(path)!r}")
    return path


def _class(text):
    """An ImageNet class argument → (index, name)."""
    from .objectives import class_index
    index = class_index(int(text) if str(text).strip().isdigit() else text)
    return index, class_name(index)


def _painter(args, name: str | None = None):
    """The painter of ``--painter`` (or ``name``; shipped weights, or random ones with ``--untrained``) and its
    caption."""
    from .painters import create_painter
    try:
        painter = create_painter(name or args.painter, pretrained=not args.untrained)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"{exc}; or pass --untrained to paint with random painter weights") from None
    return painter, painter.name + (" (untrained)" if args.untrained else "")


def _layout(args) -> dict:
    """BrushstrokeParam's canvas keywords of the options given (others keep the defaults or the preset's)."""
    kwargs = {k: v for k, v in dict(overlap=args.overlap, tile=args.tile, margin=args.margin,
                                    underpainting=args.underpainting).items() if v is not None}
    kwargs["mypaint"] = not args.neural_only
    if args.grid is not None:
        kwargs["grid"] = args.grid
    elif args.size is not None:
        kwargs["size"] = args.size
    return kwargs


def _classifiers(names, device):
    from .models import load_classifier
    return [load_classifier(name, device=device) for name in names]


def _export(param, out: Path, args, seed: int | None = None, **options) -> list[Path]:
    """The files of a painting (:func:`strokeparam.pictures.save_painting`) as --mypaint, --seed (or the
    re-paint's ``seed``) and --transparent ask."""
    from .pictures import save_painting
    return save_painting(param, out, mypaint=args.mypaint, seed=args.seed if seed is None else seed,
                         transparent=args.transparent, **options)


# -- commands -----------------------------------------------------------------------------------------

def cmd_paint(args) -> int:
    """Paint one class; print the held-out verdict."""
    import torch

    from .paint import best_repaint, paint_class
    index, name = _class(args.cls)
    out = _png(args.out or Path("out") / f"{slug(name)}.png")
    painter, _ = _painter(args)
    models = _classifiers(args.models, args.device)
    param = paint_class(index, models=models, seed=args.seed, device=args.device, progress=not args.quiet,
                        painter=painter, **_class_kwargs(args), **_style(args.grayscale, args.palette).kwargs)
    seed, repaint = best_repaint(param, index, models, range(args.seed, args.seed + args.repaints), args.device)
    written = _export(param, out, args, gif=args.gif, svg=args.svg, repaint=repaint, seed=seed)
    _say(args, "wrote " + ", ".join(str(p) for p in written))
    judge = heldout_name(args.models)
    if judge is None:
        print(f"{name} ({index}): no held-out classifier, every offline classifier painted")
        return 0
    from .models import load_classifier
    try:
        model = load_classifier(judge, device=args.device)
    except FileNotFoundError as exc:
        print(f"{name} ({index}): held-out verdict unavailable: {exc}")
        return 0
    chosen = f"MyPaint re-paint, seed {seed}" + (f" (best of {args.repaints} for the painters)" if args.repaints > 1 else "")
    for what, image in (("neural render", param.image(mypaint=False)), (chosen, repaint)):
        with torch.no_grad():
            p, top, p_top = verdict(model, image, index)
        print(f"{name} ({index}), {what}: P = {p:.3f} under held-out {judge}; "
              f"its top-1 is {class_name(top)} ({p_top:.3f})")
    return 0


def cmd_style(args) -> int:
    """Paint a photo by content alone."""
    from .paint import paint_content
    from .pictures import open_image, photo_size
    picture, label = open_image(args.image)
    out = _png(args.out or Path("out") / f"{slug(label)}_style.png")
    layout = _layout(args)
    if "grid" not in layout and (args.size or args.preset != "paper"):   # paper: its own 288-px grid
        layout["size"] = photo_size(picture, args.size or min(max(picture.size), STYLE_SIZE))
    painter = _painter(args)[0] if args.painter or args.untrained else None      # None: the preset's
    param = paint_content(picture, preset=args.preset, strokes=args.strokes, steps=args.steps, model=args.model,
                          lr=args.lr, seed=args.seed, device=args.device, progress=not args.quiet, painter=painter,
                          **({} if args.draws is None else {"draws": args.draws}),
                          **({} if args.fresh is None else {"fresh": args.fresh}), **layout,
                          **_style(args.grayscale, args.palette).kwargs)
    written = _export(param, out, args)
    _say(args, "wrote " + ", ".join(str(p) for p in written))
    print(out)
    return 0


def cmd_gallery(args) -> int:
    """Paint classes x styles and photos x styles into a resumable gallery folder."""
    from . import gallery
    from .pictures import open_image
    if not args.classes and not args.style_images:
        raise ValueError("gallery needs --classes and/or --style-images")
    painters = list(dict.fromkeys((args.painter or "").split(","))) if args.painter else [None]
    classes = list(dict.fromkeys(_class(c) for c in args.classes))
    photos = [open_image(spec) for spec in dict.fromkeys(args.style_images)]
    jobs = gallery.plan(classes, photos, args.styles, painters)
    canvas = {k: v for k, v in _layout(args).items() if k not in ("grid", "size")}
    built = gallery.build(args.out, jobs, models=args.models, class_kwargs=_class_kwargs(args),
                          photo_kwargs=dict(strokes=args.style_strokes, steps=args.style_steps, model=args.style_model,
                                            lr=args.style_lr, **canvas),
                          photo_size=args.style_size, load_painter=lambda name: _painter(args, name),
                          seed=args.seed, device=args.device, mypaint=args.mypaint, repaints=args.repaints,
                          transparent=args.transparent,
                          title=args.title, intro=args.intro, progress=not args.quiet,
                          command="strokeparam " + " ".join(shlex.quote(a) for a in args.argv))
    print(f"{built.page} and {built.readme}: {built.items} paintings ({built.painted} painted now)")
    if args.sheet:
        if args.sheet.suffix.lower() != ".png":
            raise ValueError(f"--sheet must name a .png file, got {str(args.sheet)!r}")
        print(gallery.write_sheet(gallery.load_manifest(args.out).values(), args.out, args.sheet))
    return 0


def cmd_transfer(args) -> int:
    """Re-paint a stroke JSON with MyPaint."""
    from . import export
    from .painters import create_painter
    from .param import BrushstrokeParam
    if not args.strokes.is_file():
        raise FileNotFoundError(f"stroke JSON {args.strokes} does not exist")
    out = _png(args.out or args.strokes.with_name(f"{args.strokes.stem}_mypaint.png"))
    if args.ora is not None and args.ora.suffix.lower() != ".ora":
        raise ValueError(f"--ora must name a .ora file, got {str(args.ora)!r}")
    # MyPaint paints the saved actions; the neural painter is never run, so an untrained one stands in.
    param = BrushstrokeParam(init=args.strokes, painter=create_painter(pretrained=False))
    repaint = param.to_mypaint(seed=args.seed, quantize=args.quantize, brush=args.brush)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = export.save_png(repaint, out)
    if args.ora is not None:
        args.ora.parent.mkdir(parents=True, exist_ok=True)
        written.append(export.save_ora(param, args.ora, seed=args.seed, quantize=args.quantize, brush=args.brush))
    print(", ".join(str(p) for p in written))
    return 0


def cmd_reconstruct(args) -> int:
    """Paint an image with a trained agent; print its MSE through the painter (and MyPaint)."""
    import torch

    from .agents import load_agent, reconstruct
    from .param import BrushstrokeParam
    from .pictures import mypaint_path, target_image
    from .agents.weights_io import shipped_agents
    spec = args.agent
    if spec is None and args.image.partition(":")[0] in shipped_agents():
        spec = args.image.partition(":")[0]                  # faces:3 → the shipped faces agent
    if spec is not None and spec.endswith(".safetensors"):
        agent = load_agent(path=Path(spec), device=args.device)
    else:
        agent = load_agent(*(() if spec is None else (spec,)), device=args.device)
    target, stem = target_image(args.image, agent.policy.size)
    out = _png(args.out or Path("out") / f"{slug(stem.split(' (')[0])}_agent.png")
    painting = reconstruct(target, agent)
    param = BrushstrokeParam(strokes=agent.strokes, init=painting.actions[0].cpu(), painter=agent.painter.cpu(),
                             background=agent.background.tolist())
    written = _export(param, out, args, gif=args.gif, svg=args.svg)
    _say(args, "wrote " + ", ".join(str(p) for p in written))
    with torch.no_grad():
        image = param.image()
    mse = float(((image - target.cpu()) ** 2).mean())
    line = f"{stem}: {agent.strokes} strokes, MSE {mse:.4f} through the {agent.painter.name} painter"
    if args.mypaint:
        import numpy as np
        from PIL import Image
        repaint = np.asarray(Image.open(mypaint_path(out)).convert("RGB"), dtype=np.float32) / 255.0
        line += f", {float(((repaint - target[0].cpu().permute(1, 2, 0).numpy()) ** 2).mean()):.4f} through MyPaint"
    print(line)
    return 0


def cmd_painters(args) -> int:
    """List the registered painters with their shipped weights' cards."""
    import json

    from .painters import DEFAULT_PAINTER, list_painters, list_pretrained, read_card, weights_paths
    from .painters.fidelity import describe_card
    cards = {}
    for name in sorted(set(list_painters()) | set(list_pretrained())):
        weights, _ = weights_paths(name)
        try:
            cards[name] = read_card(weights) if weights.is_file() else None
        except (ValueError, FileNotFoundError) as exc:
            cards[name] = {"error": str(exc)}
    if args.json:
        print(json.dumps(cards, indent=1, sort_keys=True))
        return 0
    for name, card in cards.items():
        print(f"{name}{' (default)' if name == DEFAULT_PAINTER else ''}")
        for line in describe_card(name, card):
            print(f"  {line}")
    return 0


COMMANDS = {"paint": cmd_paint, "style": cmd_style, "gallery": cmd_gallery, "transfer": cmd_transfer,
            "reconstruct": cmd_reconstruct, "painters": cmd_painters}


def main(argv=None) -> int:
    """Run the ``strokeparam`` command; returns the exit status (0 ok, 1 error, 2 usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    args.argv = argv
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("strokeparam: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as exc:
        print(f"strokeparam: error: {_message(exc)}", file=sys.stderr)
        return 1
    except RecursionError:            # e.g. json reading a file nested 100,000 deep
        print("strokeparam: error: an input file nests too deeply to read", file=sys.stderr)
        return 1


def _message(exc: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(exc, KeyError) and type(exc).__str__ is KeyError.__str__ and exc.args:
        text = str(exc.args[0])
    elif isinstance(exc, OSError) and exc.strerror and exc.filename:
        text = f"{exc.strerror}: {exc.filename}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
