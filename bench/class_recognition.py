#!/usr/bin/env python
"""Paint 20 ImageNet classes with lite0 + lite1, judge them with the held-out lite2: neural vs MyPaint.

    python bench/class_recognition.py --jobs 2 --mypaint-seeds 5   # the README table, 2 processes
    python bench/class_recognition.py --jobs 2 --draws 0           # expected strokes only, no brush draws
    python bench/class_recognition.py --jobs 2 --size 224 --grayscale   # gray strokes on the 224-px canvas
    python bench/class_recognition.py --quick --painter skeleton-random --out out/bench_class

Each class is painted by :func:`strokeparam.paint.paint_class` (EfficientNet-Lite0 + Lite1), then
EfficientNet-Lite2, which never took part in the optimization, classifies the neural render and the
MyPaint re-paint of the same strokes (``to_mypaint(seed=0)``). Prints one Markdown table: per class the
rank of the target under Lite2 and its probability, then the top-1 / top-5 hit rates and mean probability.
``--mypaint-seeds N`` also judges the re-paints with MyPaint seeds 1..N-1 and adds their hit rates over
all N seeds. ``--out`` keeps the pictures, a contact sheet and each class's strokes (stroke JSON).
"""
import argparse
import inspect
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from strokeparam import load_classifier
from strokeparam.files import atomic_write_bytes
from strokeparam.export import strokes_dict
from strokeparam.judge import JUDGE, PAINTING_MODELS, class_name, load_painter, ranks
from strokeparam.objectives import class_index
from strokeparam.paint import class_steps, ensemble, paint_class
from strokeparam.painters import DEFAULT_PAINTER

# 20 fixed, diverse classes: animals, objects, food, scenes, plants
CLASSES = (1, 22, 130, 145, 291, 323, 340, 388, 409, 417,
           430, 437, 511, 780, 850, 948, 954, 963, 980, 985)
QUICK_CLASSES = (388, 130, 948, 437)


def to_uint8(image):
    return (image.detach().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)


def contact_sheet(rows, path, scale=2):
    """One row per class: neural | MyPaint, upscaled, with the class name and Lite2 ranks."""
    tile = rows[0][1].shape[0] * scale
    label = 150
    sheet = Image.new("RGB", (label + 2 * tile + 12, len(rows) * (tile + 4) + 4), "white")
    draw = ImageDraw.Draw(sheet)
    for k, (text, neural, mypaint) in enumerate(rows):
        top = 4 + k * (tile + 4)
        draw.multiline_text((4, top + 4), text, fill="black")
        for j, image in enumerate((neural, mypaint)):
            picture = Image.fromarray(image).resize((tile, tile), Image.NEAREST)
            sheet.paste(picture, (label + j * (tile + 4), top))
    sheet.save(path)


_LOADED = {}


def paint_and_judge(index: int, options: dict):
    """Paint class ``index``, re-paint it with MyPaint (seeds 0..mypaint_seeds-1), judge them all →
    (index, [(rank, p) neural, then per seed], neural and seed-0 MyPaint pictures as uint8 arrays, stroke
    dict, steps taken). Models load once per process."""
    if not _LOADED:
        torch.set_num_threads(options["threads"])
        _LOADED.update(painter=load_painter(options["painter"]), model=ensemble(PAINTING_MODELS),
                       referee=load_classifier(JUDGE))
    param = paint_class(index, models=_LOADED["model"], strokes=options["strokes"], steps=options["steps"],
                        copies=options["copies"], draws=options["draws"], draws_from=options["draws_from"],
                        fresh=options["fresh"], lr=options["lr"], lr_end=options["lr_end"],
                        resolution=options["resolution"], painter=_LOADED["painter"], seed=options["seed"],
                        progress=False, **options["canvas"])
    neural = param.image(mypaint=False).detach()
    mypaint = torch.cat([param.to_mypaint(seed=seed) for seed in range(options["mypaint_seeds"])]).to(neural)
    results = ranks(_LOADED["referee"], torch.cat([neural, mypaint]), index)
    steps = options["steps"] or class_steps(bool(options["canvas"].get("grayscale")), param.one_tile)
    return index, results, to_uint8(neural), to_uint8(mypaint[:1]), strokes_dict(param), steps


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", help="comma-separated ImageNet indices or names (default: the fixed 20)")
    p.add_argument("--steps", type=int, help="optimization steps per class (default: paint_class's)")
    p.add_argument("--strokes", type=int, default=30)
    p.add_argument("--lr", type=float, help="Adam's starting learning rate (default: paint_class's)")
    p.add_argument("--lr-end", type=lambda v: None if v == "none" else float(v), default=...,
                   help="the rate after the cosine fall, or 'none' for a constant --lr (default: paint_class's)")
    p.add_argument("--copies", type=int, help="transformed copies per step (default: paint_class's)")
    p.add_argument("--resolution", type=int, help="px the painting classifiers see (default: paint_class's)")
    p.add_argument("--painter", help="painter name, or NAME-random for random weights (default: the shipped one)")
    p.add_argument("--draws", type=int, help="copies that show random draws of the brush (default: paint_class's)")
    p.add_argument("--draws-from", type=int, help="the step after which the draws join (default: paint_class's)")
    p.add_argument("--fresh", type=float, help="draws MyPaint paints afresh per step (default: paint_class's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mypaint", action=argparse.BooleanOptionalAction, default=None,
                   help="the real brush in the loop: draws are MyPaint's (default: paint_class's)")
    p.add_argument("--size", type=int, help="canvas side in px (default: paint_class's)")
    p.add_argument("--tile", type=int, help="painter tile side in px (default: paint_class's)")
    p.add_argument("--grid", type=int, help="tiles per side (default: paint_class's)")
    p.add_argument("--overlap", type=int, help="px shared by neighbouring tiles (default: paint_class's)")
    p.add_argument("--underpainting", type=int,
                   help="strokes of a whole-canvas layer under the tiles, 0 for none (default: paint_class's)")
    p.add_argument("--grayscale", action="store_true", help="gray strokes only (BrushstrokeParam(grayscale=True))")
    p.add_argument("--mypaint-seeds", type=int, default=1,
                   help="MyPaint re-paints judged per class, seeds 0..N-1 (default 1; the table's columns are seed 0)")
    p.add_argument("--jobs", type=int, default=1,
                   help="classes painted at once, one process each with one torch thread (default 1: this process)")
    p.add_argument("--out", type=Path, help="save each neural/MyPaint pair as PNG and a contact sheet here")
    p.add_argument("--quick", action="store_true", help=f"{len(QUICK_CLASSES)} classes, 30 steps")
    args = p.parse_args()
    if args.jobs < 1 or args.mypaint_seeds < 1:
        p.error("--jobs and --mypaint-seeds must be >= 1")
    if args.classes:
        classes = [class_index(int(c) if c.strip().isdigit() else c.strip()) for c in args.classes.split(",")]
    else:
        classes = list(QUICK_CLASSES if args.quick else CLASSES)
    defaults = inspect.signature(paint_class).parameters
    options = dict(steps=args.steps or (30 if args.quick else None),
                   copies=args.copies,
                   resolution=args.resolution or defaults["resolution"].default, strokes=args.strokes,
                   lr=args.lr or defaults["lr"].default,
                   lr_end=defaults["lr_end"].default if args.lr_end is ... else args.lr_end,
                   draws=args.draws, draws_from=args.draws_from, fresh=args.fresh, painter=args.painter, seed=args.seed,
                   mypaint_seeds=args.mypaint_seeds,
                   threads=1 if args.jobs > 1 else torch.get_num_threads(),
                   canvas={k: v for k, v in dict(mypaint=args.mypaint, size=args.size, tile=args.tile,
                                                 grid=args.grid, overlap=args.overlap,
                                                 underpainting=args.underpainting,
                                                 grayscale=args.grayscale or None).items() if v is not None})
    if args.draws is not None and args.copies is not None and not 0 <= args.draws <= args.copies:
        p.error(f"--draws must be from 0 to --copies ({args.copies})")
    start = time.perf_counter()
    if args.jobs == 1:
        done = [paint_and_judge(index, options) for index in classes]
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            done = list(pool.map(paint_and_judge, classes, [options] * len(classes)))
    elapsed = time.perf_counter() - start
    rows = [(index, class_name(index), results) for index, results, *_ in done]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        sheet = []
        for (index, name, results), (_, _, neural, mypaint, strokes, _) in zip(rows, done):
            stem = f"{index:03d}_{name.replace(' ', '_').replace('/', '_')}"
            for kind, image in (("neural", neural), ("mypaint", mypaint)):
                Image.fromarray(image).save(args.out / f"{stem}_{kind}.png")
            atomic_write_bytes(args.out / f"{stem}.json", json.dumps(strokes, indent=1).encode())
            sheet.append((f"{index} {name}\nneural #{results[0][0]}\nMyPaint #{results[1][0]}", neural, mypaint))
        contact_sheet(sheet, args.out / "contact_sheet.png")
    painter_name = args.painter or f"{DEFAULT_PAINTER} (default, shipped weights)"
    print(f"Class recognition: painted by {' + '.join(PAINTING_MODELS)}, judged by {JUDGE} (held out); "
          f"painter {painter_name}, {args.strokes} strokes, {done[0][-1]} steps (Adam lr {options['lr']}"
          + ("" if options["lr_end"] is None else f" falling to {options['lr_end']}")
          + f"), {options['copies'] or 'the default'} copies, "
          f"{'the default' if args.draws is None else args.draws} of them random brush draws "
          f"(from {'the default step' if args.draws_from is None else f'step {args.draws_from}'}; "
          f"{'the default' if args.fresh is None else args.fresh} painted afresh a step), "
          f"painted at {options['resolution']} px{', grayscale' if args.grayscale else ''}, "
          f"seed {args.seed}; {elapsed / len(classes):.0f} s per class with {args.jobs} job(s)\n")
    print("| class | neural: rank | neural: p | MyPaint: rank | MyPaint: p |\n|---|---|---|---|---|")
    for index, name, ((rank_n, p_n), (rank_m, p_m), *_) in rows:
        print(f"| {index} {name} | {rank_n} | {p_n:.3f} | {rank_m} | {p_m:.3f} |")
    stats = [hit_rates([r[2][k] for r in rows]) for k in range(2)]
    print(f"| **all {len(rows)}** | {stats[0]} | {stats[1]} |")
    if args.mypaint_seeds > 1:
        every_seed = [verdict for row in rows for verdict in row[2][1:]]
        print(f"| **MyPaint seeds 0–{args.mypaint_seeds - 1}** | | | {hit_rates(every_seed)} |")


def hit_rates(verdicts) -> str:
    """'top-1 …, top-5 … | mean p …' of (rank, p) verdicts."""
    ranks = np.array([rank for rank, _ in verdicts])
    probs = np.array([p for _, p in verdicts])
    return f"top-1 {np.mean(ranks == 1):.0%}, top-5 {np.mean(ranks <= 5):.0%} | mean p {probs.mean():.3f}"


if __name__ == "__main__":
    main()
