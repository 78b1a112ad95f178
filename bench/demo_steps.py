#!/usr/bin/env python
"""What fewer steps cost a class painting: wall time and held-out verdicts (neural render and MyPaint
re-paints over several brush seeds) of ``paint_class(cls, size=224, steps=N)``, the settings of
``make demo``, for each class and step count.

    python bench/demo_steps.py --classes 388 1 --steps 80 150
    python bench/demo_steps.py --steps 150 --seeds 1 --torch-compositing   # compositing without _over.c
    python bench/demo_steps.py --painter skeleton.deevad_brush --seeds 1   # another brush and its painter
"""
import argparse
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
    p.add_argument("--resolution", type=int, help="px the classifiers see (default: paint_class's)")
    p.add_argument("--lr", type=float, help="Adam's learning rate (default: paint_class's)")
    p.add_argument("--lr-end", type=float, help="the rate falls to this on a cosine (default: paint_class's)")
    p.add_argument("--painter", help="painter name (default: paint_class's, the shipped default); its brush paints")
    p.add_argument("--torch-compositing", action="store_true",
                   help="composite in torch, not the compiled loop of strokeparam/_over.c (to compare)")
    args = p.parse_args(argv)
    if args.torch_compositing:
        canvas.compiled = lambda: None
    judge = load_classifier(JUDGE)
    print(f"| class | steps | seconds | {JUDGE} P, neural | P, MyPaint seeds 0..{args.seeds - 1} |\n|---|---:|---:|---:|---|")
    for cls in args.classes:
        for steps in args.steps:
            start = time.perf_counter()
            options = {k: v for k, v in dict(copies=args.copies, draws=args.draws, draws_from=args.draws_from,
                                             resolution=args.resolution, lr=args.lr, lr_end=args.lr_end,
                                             painter=args.painter).items() if v is not None}
            param = paint_class(cls, size=args.size, steps=steps, progress=False, **options)
            seconds = time.perf_counter() - start
            neural = verdict(judge, param.image(mypaint=False), cls)[0]
            repaints = [verdict(judge, param.to_mypaint(seed=s), cls)[0] for s in range(args.seeds)]
            print(f"| {class_name(cls)} | {steps} | {seconds:.0f} | {neural:.3f} | "
                  + ", ".join(f"{r:.2f}" for r in repaints) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
