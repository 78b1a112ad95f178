#!/usr/bin/env python
"""What fewer steps cost a class painting: wall time and held-out verdicts (neural render and MyPaint
re-paints over several brush seeds) of ``paint_class(cls, size=224, steps=N)``, the settings of
``make demo``, for each class and step count.

    python bench/demo_steps.py --classes 388 1 --steps 80 150
    python bench/demo_steps.py --steps 150 --seeds 1 --torch-compositing   # compositing without _over.c
    python bench/demo_steps.py --painter skeleton.deevad_brush --seeds 1   # another brush and its painter
    python bench/demo_steps.py --breakdown 20      # where a step with the brush draws goes (cProfile)
"""
import argparse
import cProfile
import pstats
import time

from strokeparam import canvas, load_classifier
from strokeparam.judge import JUDGE, class_name, verdict
from strokeparam.paint import paint_class


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", type=int, nargs="+", default=[388], help="ImageNet class indices")
    p.add_argument("--steps", type=int, nargs="+", default=[80, 150], help="step counts to compare")
    p.add_argument("--seeds", type=int, default=3, help="MyPaint seeds of the re-paints")
    p.add_argument("--size", type=int, default=224, help="canvas px (make demo: 224)")
    p.add_argument("--copies", type=int, help="transformed copies per step (default: paint_class's)")
    p.add_argument("--draws", type=int, help="copies that show a brush draw (default: paint_class's)")
    p.add_argument("--draws-from", type=int, help="the step after which the draws join (default: paint_class's)")
    p.add_argument("--fresh", type=float, help="draws MyPaint paints afresh per step (default: paint_class's)")
    p.add_argument("--resolution", type=int, help="px the classifiers see (default: paint_class's)")
    p.add_argument("--lr", type=float, help="Adam's learning rate (default: paint_class's)")
    p.add_argument("--lr-end", type=float, help="the rate falls to this on a cosine (default: paint_class's)")
    p.add_argument("--painter", help="painter name (default: paint_class's, the shipped default); its brush paints")
    p.add_argument("--torch-compositing", action="store_true",
                   help="composite in torch, not the compiled loop of strokeparam/_over.c (to compare)")
    p.add_argument("--breakdown", type=int, metavar="N",
                   help="instead: profile N steps of the first class, every one with the brush draws, and print "
                        "where a step's time goes")
    args = p.parse_args(argv)
    if args.torch_compositing:
        canvas.compiled = lambda: None
    if args.breakdown:
        options = {k: v for k, v in dict(copies=args.copies, draws=args.draws, fresh=args.fresh,
                                         resolution=args.resolution, painter=args.painter).items() if v is not None}
        return breakdown(args.classes[0], args.size, args.breakdown, options)
    judge = load_classifier(JUDGE)
    print(f"| class | steps | seconds | {JUDGE} P, neural | P, MyPaint seeds 0..{args.seeds - 1} |\n|---|---:|---:|---:|---|")
    for cls in args.classes:
        for steps in args.steps:
            start = time.perf_counter()
            options = {k: v for k, v in dict(copies=args.copies, draws=args.draws, draws_from=args.draws_from,
                                             fresh=args.fresh, resolution=args.resolution, lr=args.lr,
                                             lr_end=args.lr_end, painter=args.painter).items() if v is not None}
            param = paint_class(cls, size=args.size, steps=steps, progress=False, **options)
            seconds = time.perf_counter() - start
            neural = verdict(judge, param.image(mypaint=False), cls)[0]
            repaints = [verdict(judge, param.to_mypaint(seed=s), cls)[0] for s in range(args.seeds)]
            print(f"| {class_name(cls)} | {steps} | {seconds:.0f} | {neural:.3f} | "
                  + ", ".join(f"{r:.2f}" for r in repaints) + " |", flush=True)
    return 0


# (file name, function) of the parts of a step, as cProfile names them; their cumulative time per step
PARTS = [("MyPaint draws (waiting for them)", "loop.py", "result"),
         ("painter, forward", "skeleton.py", "paint"),
         ("painter, backward", "skeleton.py", "backward"),
         ("compositing, forward", "canvas.py", "forward"),
         ("compositing, backward", "canvas.py", "backward"),
         ("stitching", "canvas.py", "stitch"),
         ("augmentation and resize", "render.py", "apply"),
         ("classifiers, forward", "models.py", "forward")]


def breakdown(cls, size: int, steps: int, options: dict) -> int:
    """Profile ``steps`` steps of paint_class (the draws from the first) and print each part's time per step;
    the classifiers' backward is the backward pass less the painter's, the compositing's and the
    straight-through's (the Python parts of it that cProfile sees)."""
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.runcall(paint_class, cls, size=size, steps=steps, draws_from=0, progress=False, **options)
    wall = time.perf_counter() - start
    stats = pstats.Stats(profile).stats

    def cumulative(file, function):
        """Seconds per step of the outermost function of that name (an Ensemble's forward holds its members')."""
        return max([v[3] for (f, _, name), v in stats.items() if f.endswith(file) and name == function]
                   or [0.0]) / steps
    parts = {label: cumulative(file, function) for label, file, function in PARTS}
    backward = sum(v[3] for (_, _, name), v in stats.items() if name.startswith("<method 'run_backward'")) / steps
    parts["classifiers, backward"] = backward - parts["painter, backward"] - parts["compositing, backward"] - (
        cumulative("loop.py", "backward"))
    loop = cumulative("render.py", "render_vis")
    print(f"Where a step of paint_class({cls}, size={size}) with the brush draws goes: {steps} steps under "
          f"cProfile, {wall:.1f} s with the set-up; per step, ms\n\n| part | ms per step |\n|---|---:|")
    for label, seconds in parts.items():
        print(f"| {label} | {seconds * 1e3:.0f} |")
    print(f"| the rest (Python, transfers, progress) | {(loop - sum(parts.values())) * 1e3:.0f} |")
    print(f"| **a step (render_vis's loop / steps)** | **{loop * 1e3:.0f}** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
