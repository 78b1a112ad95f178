#!/usr/bin/env python
"""MyPaint's speed (1 and 2 worker processes) and noise floor: the yardstick for neural painters.

    python bench/mypaint_baseline.py --num 300 --k 6

Floor: mean per-pixel alpha L1 between two renders of the same actions with different seeds, and the
L1 of one render to the mean of K renders. Prints one Markdown table.
"""
import argparse
import multiprocessing as mp
import time

import numpy as np

from strokeparam.actions import random_actions
from strokeparam.mypaint import MyPaintRenderer


def _render(args):
    brush, acts, seed = args
    return MyPaintRenderer(brush).render(acts, seed=seed)


def speed(brush, acts, workers):
    chunks = [(brush, c, k) for k, c in enumerate(np.array_split(acts, workers * 4))]
    start = time.perf_counter()
    if workers == 1:
        list(map(_render, chunks))
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            pool.map(_render, chunks)
    return len(acts) / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num", type=int, default=300, help="held-out random actions (>= 300 for the README)")
    p.add_argument("--k", type=int, default=6, help="renders per action for the mean stroke")
    p.add_argument("--brush", default="classic/dry_brush")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--speed-num", type=int, default=3000, help="strokes per speed measurement")
    args = p.parse_args()
    acts = random_actions(args.num, seed=args.seed)
    renderer = MyPaintRenderer(args.brush)
    renders = np.stack([renderer.render(acts, seed=1000 + k) for k in range(args.k)])
    pair_l1 = np.abs(renders[0] - renders[1]).mean()
    to_mean = np.abs(renders[0] - renders[1:].mean(axis=0)).mean()
    masks = renders[:2] > 0.25
    iou = (masks[0] & masks[1]).sum() / max((masks[0] | masks[1]).sum(), 1)
    coverage = (renders[0] > 0.05).mean()
    fast = [speed(args.brush, random_actions(args.speed_num, seed=args.seed + 1), w) for w in (1, 2)]
    print(f"MyPaint baseline: brush {args.brush}, {args.num} random actions, 64 px, K={args.k}\n")
    print("| measure | value |\n|---|---|")
    print(f"| strokes/s, 1 worker | {fast[0]:,.0f} |")
    print(f"| strokes/s, 2 workers | {fast[1]:,.0f} |")
    print(f"| floor: L1 between two seeds | {pair_l1:.4f} |")
    print(f"| floor: L1 to the mean of {args.k - 1} other renders | {to_mean:.4f} |")
    print(f"| floor: IoU of coverage (alpha > 0.25) between two seeds | {iou:.3f} |")
    print(f"| pixels covered (alpha > 0.05) | {coverage:.1%} |")


if __name__ == "__main__":
    main()
