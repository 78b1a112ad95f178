#!/usr/bin/env python
"""Agent reconstruction on held-out images: MSE through the neural painter and through MyPaint.

    python bench/agent_reconstruction.py                        # the shipped MNIST agent
    python bench/agent_reconstruction.py --agent runs/x.safetensors --dataset mnist --num 200 \\
        --figure docs/images/agents_mnist.png

The same actions are painted by the painter the agent was trained through (its expected strokes and, for
a stochastic painter, one random draw) and by the real MyPaint (classic/dry_brush); the ratio of the
MyPaint MSE to the painter's is the transfer gap. Also prints stroke-order
scores (MNIST: agreement with the digit templates; kanji: Kendall's tau to KanjiVG's human order) and
writes a picture like the paper's Figure 7: columns of target | neural painter | MyPaint.
Targets (MNIST, 8 strokes, 64 px): painter MSE <= 0.03 and MyPaint MSE <= 1.5x the painter's.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from strokeparam.agents import load_agent
from strokeparam.agents.datasets import DATASETS, load_dataset
from strokeparam.agents.evaluate import evaluate
from strokeparam.export import save_png

TARGET_MSE, TARGET_RATIO = 0.03, 1.5


def figure(result: dict, path: Path, rows: int = 6, triples: int = 4, gap: int = 4, scale: int = 2) -> None:
    """Write ``rows`` x ``triples`` (target | painter | MyPaint) triples, separated by white gaps and
    enlarged ``scale`` times (nearest neighbour)."""
    cells = []
    for r in range(rows):
        line = []
        for t in range(triples):
            i = r * triples + t
            if i >= result["num"]:
                break
            trio = [result[k][i] for k in ("targets", "painter", "mypaint")]
            line.append(np.concatenate(trio, axis=1))
            line.append(np.full((trio[0].shape[0], gap * 2, 3), 1.0, np.float32))
        if line:
            cells.append(np.concatenate(line[:-1], axis=1))
            cells.append(np.full((gap, cells[-1].shape[1], 3), 1.0, np.float32))
    width = max(c.shape[1] for c in cells)
    cells = [np.pad(c, ((0, 0), (0, width - c.shape[1]), (0, 0)), constant_values=1.0) for c in cells[:-1]]
    picture = np.concatenate(cells, axis=0)
    save_png(picture.repeat(scale, axis=0).repeat(scale, axis=1), path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agent", type=Path, help="agent .safetensors (default: the shipped agent --name)")
    p.add_argument("--name", default="mnist", help="shipped agent name")
    p.add_argument("--dataset", default="mnist", choices=DATASETS)
    p.add_argument("--root", type=Path, help="dataset folder (kmnist, celeba)")
    p.add_argument("--num", type=int, default=200, help="held-out images")
    p.add_argument("--figure", type=Path, help="write the target | painter | MyPaint picture here")
    p.add_argument("--json", type=Path, help="also write the scores as JSON here")
    args = p.parse_args(argv)
    try:
        agent = load_agent(args.name, path=args.agent)
        test = load_dataset(args.dataset, "test", root=args.root, limit=args.num)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(exc, file=sys.stderr)
        return 1
    mean_image = load_dataset(args.dataset, "train", root=args.root).images().mean(0)
    scores, result = evaluate(agent, test, progress=True, mean_image=mean_image)
    meets = scores["painter_mse"] <= TARGET_MSE and scores["transfer_ratio"] <= TARGET_RATIO
    print(f"agent {args.agent or args.name} | {args.dataset} test, {scores['num']} images, "
          f"{agent.strokes} strokes, {agent.policy.size} px")
    rows = [("neural painter", scores["painter_mse"]), ("painter, a draw", scores.get("painter_draw_mse")),
            ("MyPaint", scores["mypaint_mse"])]
    print("| renderer | MSE | MyPaint / this |\n|---|---|---|")
    for label, mse in rows:
        if mse is not None:
            print(f"| {label} | {mse:.4f} | {scores['mypaint_mse'] / mse:.2f} |")
    for label, key in (("blank canvas", "blank"), ("mean training image", "mean_image")):
        print(f"| {label} (baseline) | {scores['baselines'][key]:.4f} | |")
    print(f"transfer ratio MyPaint / painter: {scores['transfer_ratio']:.2f}")
    if args.dataset == "mnist":
        print(f"target (MSE <= {TARGET_MSE}, ratio <= {TARGET_RATIO}): {'met' if meets else 'NOT met'}")
    for key, label in (("template_order", "template agreement"), ("kanji_order", "kanji human order")):
        if key in scores:
            print(f"{label}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores[key].items()))
    if args.dataset == "mnist":
        from strokeparam.agents import load_templates
        from strokeparam.agents.order import template_scores
        per_class = template_scores(result["actions"], test.labels[:result["num"]].numpy(), load_templates(),
                                    by_class=True)["classes"]
        print("| digit | images | order | direction | follows |\n|---|---|---|---|---|")
        for digit, row in per_class.items():
            print(f"| {digit} | {row['images']} | {row['order']:.2f} | {row['direction']:.2f} | {row['follows']:.2f} |")
    if args.figure:
        figure(result, args.figure)
        print(f"figure: {args.figure}")
    if args.json:
        args.json.write_text(json.dumps(dict(scores, meets_target=meets), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
