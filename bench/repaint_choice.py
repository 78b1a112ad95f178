#!/usr/bin/env python
"""Does keeping the MyPaint re-paint that the painting classifiers like best (``paint.best_repaint``, what
``strokeparam paint`` does) raise the held-out judge's verdict? Reads the strokes that
``bench/class_recognition.py --out FOLDER`` kept, re-paints each with brush seeds 0..K-1, and compares the
judge's top-5 of seed 0, of every seed, and of the chosen one.

    python bench/repaint_choice.py out/bench_class_224u --repaints 4
"""
import argparse
from pathlib import Path

import torch

from strokeparam import BrushstrokeParam, load_classifier
from strokeparam.judge import JUDGE, PAINTING_MODELS, class_name, ranks
from strokeparam.paint import best_repaint, ensemble


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a bench/class_recognition.py --out folder (NNN_name.json files)")
    p.add_argument("--repaints", type=int, default=4, help="brush seeds to choose from (default 4)")
    args = p.parse_args(argv)
    paths = sorted(args.folder.glob("[0-9][0-9][0-9]_*.json"))
    if not paths:
        raise SystemExit(f"no NNN_name.json strokes in {args.folder}")
    painters, judge = ensemble(PAINTING_MODELS), load_classifier(JUDGE)
    seeds = range(args.repaints)
    print(f"| class | {JUDGE} rank (p) per seed {', '.join(map(str, seeds))} | chosen seed | its rank (p) |\n|---|---|---:|---|")
    first, every, chosen = [], [], []
    for path in paths:
        cls = int(path.stem[:3])
        param = BrushstrokeParam(init=path)
        seed, image = best_repaint(param, cls, painters, seeds)
        with torch.no_grad():
            per_seed = ranks(judge, torch.cat([param.to_mypaint(seed=s) for s in seeds]), cls)
        first.append(per_seed[0])
        every += per_seed
        chosen.append(per_seed[seed])
        print(f"| {cls} {class_name(cls)} | " + ", ".join(f"{r} ({q:.2f})" for r, q in per_seed)
              + f" | {seed} | {per_seed[seed][0]} ({per_seed[seed][1]:.2f}) |", flush=True)

    def top5(rows):
        return f"{100 * sum(r <= 5 for r, _ in rows) / len(rows):.0f}%, mean p {sum(q for _, q in rows) / len(rows):.3f}"
    print(f"\ntop-5 of the MyPaint re-paints: seed 0 {top5(first)}; every seed {top5(every)}; "
          f"the chosen one (best of {args.repaints} for {' + '.join(PAINTING_MODELS)}) {top5(chosen)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
