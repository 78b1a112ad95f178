#!/usr/bin/env python
"""Intrinsic style transfer on skimage photos: content loss before and after, neural render vs MyPaint.

    python bench/style_transfer.py --out out/bench_style        # the README table (painterly preset, 320 px)
    python bench/style_transfer.py --preset paper --size 288    # the seed paper's 8 x 8 tiles x 4 strokes
    python bench/style_transfer.py --neural-only                # without the real brush in the loop
    python bench/style_transfer.py --quick --painter skeleton-random --out out/bench_style

Each photo (shorter side ``--size`` px) is painted by :func:`strokeparam.paint.paint_content` with a
style ``--preset``. The content
loss (:func:`strokeparam.paint.content_loss`, no transforms) is measured for the initial random strokes
and the optimized ones, each as the neural render and as re-painted by MyPaint (``to_mypaint(seed=SEED)``, the param's own brush seed).
"kept" is the share of the neural render's loss reduction that the MyPaint re-paint also achieves.
"""
import argparse
import inspect
import time
from pathlib import Path

import numpy as np

from strokeparam import BrushstrokeParam, load_classifier
from strokeparam.canvas import strokes_in
from strokeparam.judge import load_painter
from strokeparam.paint import (CONTENT_MODEL, STYLE_DRAWS, STYLE_FRESH, STYLE_PRESETS, content_loss, load_image,
                              paint_content, to_gray)

IMAGES = ("astronaut", "chelsea", "coffee", "rocket")


def photo(name, size):
    import skimage.data
    if name not in IMAGES and not hasattr(skimage.data, name):
        raise SystemExit(f"unknown skimage photo {name!r}; try {', '.join(IMAGES)}")
    return load_image(getattr(skimage.data, name)(), size=size)


def save(images, path):
    """A row of (1, 3, H, W) images side by side, 4 px apart."""
    from PIL import Image
    arrays = [(i.detach().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
              for i in images]
    h = arrays[0].shape[0]
    gap = np.full((h, 4, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([x for a in arrays for x in (a, gap)][:-1], axis=1)).save(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", default=",".join(IMAGES), help="comma-separated skimage.data photo names")
    p.add_argument("--size", type=int, default=320, help="shorter side of each photo in pixels (default 320)")
    p.add_argument("--preset", default="painterly", help="paint_content's style preset (default painterly)")
    p.add_argument("--neural-only", action="store_true", help="no real brush in the loop")
    p.add_argument("--steps", type=int, help="optimization steps (default: paint_content's)")
    p.add_argument("--strokes", type=int, help="strokes per tile (default: the preset's)")
    p.add_argument("--draws", type=int, help="MyPaint draws per step beside the neural render (default: "
                                             "paint_content's)")
    p.add_argument("--fresh", type=float, help="MyPaint draws painted afresh per step, e.g. 0.5 (default and 0: "
                   "paint_content's, every draw, every step)")
    p.add_argument("--painter", help="painter name, or NAME-random for random weights (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--underpainting", help="strokes of a whole-canvas layer under the tiles, or auto (default: "
                                            "none, paint_content's)")
    p.add_argument("--grayscale", action="store_true")
    p.add_argument("--out", type=Path, help="save photo | before | after | MyPaint rows as PNG here")
    p.add_argument("--quick", action="store_true", help="2 photos at 64 px, 20 steps")
    args = p.parse_args()
    names = [n.strip() for n in args.images.split(",")]
    defaults = inspect.signature(paint_content).parameters
    size = args.size
    steps = args.steps or (20 if args.quick else defaults["steps"].default)
    strokes = args.strokes
    draws = args.draws
    if args.quick:
        names, size = names[:2], 64
    painter = load_painter(args.painter) if args.painter else None        # None: the preset's
    model = load_classifier(CONTENT_MODEL)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    fresh = STYLE_FRESH if args.fresh is None else (args.fresh or None)      # 0: every draw, every step
    rows, start_time = [], time.perf_counter()
    for name in names:
        image = photo(name, size)
        extra = {} if args.preset == "paper" else {"size": tuple(image.shape[-2:])}
        if args.underpainting:
            extra["underpainting"] = args.underpainting if args.underpainting == "auto" else int(args.underpainting)
        param = paint_content(image, preset=args.preset, strokes=strokes, steps=steps, painter=painter, model=model,
                              seed=args.seed, grayscale=args.grayscale, mypaint=not args.neural_only,
                              draws=draws, fresh=fresh, progress=False, **extra)
        layout = param.layout
        start = BrushstrokeParam(strokes=param.strokes, grid=(layout.rows, layout.cols), tile=layout.tile,
                                 overlap=layout.overlap, size=param.output_size, painter=param.painter, seed=args.seed,
                                 grayscale=args.grayscale, underpainting=extra.get("underpainting", 0),
                                 background=param.background)
        pictures = [start.image(), param.image(mypaint=False), start.to_mypaint(seed=args.seed), param.to_mypaint(seed=args.seed)]
        reference = to_gray(image) if args.grayscale else image
        losses = [content_loss(x, reference, model) for x in pictures]
        under = strokes_in(param.levels[:-1])
        tiles = (f"{layout.rows}x{layout.cols} x {layout.tile} px x {param.strokes}"
                 + (f" + {under} underpainting" if under else "") + f" = {layout.tiles * param.strokes + under}")
        rows.append((name, "x".join(map(str, param.output_size)), tiles, losses))
        if args.out:
            save([image, pictures[0], pictures[1], pictures[3]], args.out / f"{name}.png")
    elapsed = time.perf_counter() - start_time
    param_draws = STYLE_PRESETS.get(args.preset, {}).get("draws", STYLE_DRAWS)
    fresh_text = "every one" if fresh is None else f"{fresh:g}"
    painter_name = args.painter or f"{param.painter.name} (the preset's, shipped weights)"
    print(f"Intrinsic style transfer: content loss ({CONTENT_MODEL}, paint_content's layers), painter "
          f"{painter_name}, brush {param.brush_name}, preset {args.preset}, "
          f"{'neural only' if args.neural_only else 'real brush in the loop'}, {steps} steps"
          f"{'' if args.neural_only else f', {draws or param_draws} MyPaint draws per step'}"
          f"{'' if args.neural_only else f' ({fresh_text} painted afresh a step)'}"
          f"{', grayscale' if args.grayscale else ''}, "
          f"seed {args.seed}; {elapsed / len(names):.0f} s per photo\n")
    print("| photo | size | tiles x tile x strokes = total | before | after | reduction | MyPaint before | MyPaint after "
          "| MyPaint reduction | kept |\n|---|---|---|---|---|---|---|---|---|---|")
    for name, hw, tiles, (b, a, mb, ma) in rows:
        print(f"| {name} | {hw} | {tiles} | {b:.1f} | {a:.1f} | {1 - a / b:.0%} | {mb:.1f} | {ma:.1f} "
              f"| {1 - ma / mb:.0%} | {(mb - ma) / (b - a):.0%} |")
    b, a, mb, ma = np.array([r[3] for r in rows]).T
    print(f"| **mean of {len(rows)}** | | | {b.mean():.1f} | {a.mean():.1f} | {np.mean(1 - a / b):.0%} "
          f"| {mb.mean():.1f} | {ma.mean():.1f} | {np.mean(1 - ma / mb):.0%} | {np.mean((mb - ma) / (b - a)):.0%} |")


if __name__ == "__main__":
    main()
