#!/usr/bin/env python
"""Fidelity to MyPaint against CPU-hours of training, for each shipped painter, from its card. Prints a table
and draws the plot of docs/painters.md.

    python bench/fidelity_vs_training.py --out docs/images/painters_training.png

A card's ``fidelity`` is the end point (bench/painter_fidelity.py, 300 held-out actions); its
``training_curve`` (if any) holds validation scores of checkpoints during training, logged by the run.
CPU-hours are wall-clock hours x the torch threads the run used (1 for the shipped painters).
"""
import argparse
import sys
from pathlib import Path

from strokeparam.painters import list_painters, read_card, weights_paths


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, help="write the plot here (PNG)")
    args = p.parse_args(argv)
    rows = []
    for name in list_painters():
        path = weights_paths(name)[0]
        if not path.is_file():
            continue
        card = read_card(path)
        fid = card.get("fidelity") or {}
        floor = (fid.get("floor") or {}).get("l1")
        threads = card.get("threads") or 1
        hours = card.get("wall_time_s", 0) * threads / 3600
        curve = [(c["cpu_hours"], c["l1"] / c["floor_l1"], c["iou"], c["sharpness"])
                 for c in card.get("training_curve", [])]
        rows.append((name, hours, fid.get("l1", float("nan")) / floor if floor else float("nan"), fid.get("iou"),
                     fid.get("sharpness"), curve, card.get("warm_start_cpu_hours", 0.0)))
    print("| painter | CPU-hours of training | L1 / MyPaint floor | IoU | sharpness |\n|---|---|---|---|---|")
    for name, hours, ratio, iou, sharp, _, warm in rows:
        extra = f" (+ {warm:.2f} of its warm start)" if warm else ""
        print(f"| {name} | {hours:.2f}{extra} | {ratio:.2f} | {iou:.3f} | {sharp:.3f} |")
    if args.out:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
        for (name, hours, ratio, iou, sharp, curve, warm), color in zip(rows, ("C0", "C1", "C2", "C3")):
            for ax, value, k in zip(axes, (ratio, iou, sharp), (1, 2, 3)):
                if curve:
                    ax.plot([warm + c[0] for c in curve], [c[k] for c in curve], color=color, alpha=0.6)
                ax.scatter([warm + hours if not curve else warm + curve[-1][0]], [value], color=color, label=name)
        for ax, title, target in zip(axes, ("L1 / MyPaint's floor (lower is better)", "coverage IoU (higher is better)",
                                            "sharpness / MyPaint's (1 is MyPaint's)"), (1.2, 0.70, 1.0)):
            ax.set_title(title, fontsize=10)
            ax.axhline(target, color="gray", linestyle="--", linewidth=0.8)
            ax.set_xlabel("CPU-hours of training")
        axes[0].legend(fontsize=8)
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out, dpi=100)
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
