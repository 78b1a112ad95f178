#!/usr/bin/env python
"""How well each neural painter imitates MyPaint, next to MyPaint's own floor. Prints one markdown table.

    python bench/painter_fidelity.py --out out/painter_fidelity --json out/painter_fidelity/metrics.json

On ``--num`` held-out random actions (seed ``--seed``, apart from the training data's seeds), with
``--seeds`` K: (a) mean per-pixel L1 to a MyPaint render; (b) L1 between the painter's mean stroke (K
draws if stochastic) and MyPaint's mean over K seeds; (c) IoU of coverage masks alpha > 0.25;
(d) sharpness, mean image-gradient magnitude painter / MyPaint; (e) strokes per second at batch 256,
forward and forward+backward, on this machine's CPU (``--threads``). Each painter is scored against the
MyPaint brush of its card; the MyPaint row of a brush is its floor: K other MyPaint renders in the painter's
place (0 for a brush without randomness). Stochastic painters are scored on seeded draws, and again
("no generator") on their plain deterministic forward, the one used for optimization.

Writes ``painters_heldout.png`` (MyPaint | painters, side by side) and ``painters_sweep_<field>.png``
(discrete-action sweeps) to ``--out``; ``--update-cards`` records the metrics in the shipped cards.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import torch

from strokeparam import actions as A
from strokeparam.painters import create_painter, list_pretrained, read_card, sweep, weights_paths
from strokeparam.painters.diagnostics import grid_image
from strokeparam.painters.fidelity import floor, paint, reference, scores, speed
from strokeparam.painters.weights_io import write_card

COLUMNS = ("l1", "mean_l1", "iou", "sharpness", "forward_strokes_per_s", "forward_backward_strokes_per_s")
HEADER = ("painter", "(a) L1 ↓", "(b) mean-stroke L1 ↓", "(c) IoU ↑", "(d) sharpness (→1)",
          "(e) fwd strokes/s", "(e) fwd+bwd strokes/s", "params")


def table(rows: dict) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for name, m in rows.items():
        cells = [name] + [f"{m[c]:.4f}" if c in m and c in COLUMNS[:4] else
                          (f"{m[c]:,.0f}" if c in m else "—") for c in COLUMNS]
        cells.append(f"{m['parameters']:,}" if "parameters" in m else "—")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--painters", nargs="+", help=f"painters to score (default: all shipped, {list_pretrained()})")
    p.add_argument("--num", type=int, default=300, help="held-out actions (>= 300 for the published table)")
    p.add_argument("--seeds", type=int, default=4, help="K: MyPaint seeds (and painter draws) per action")
    p.add_argument("--seed", type=int, default=10_007, help="seed of the held-out actions")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads for the speed test")
    p.add_argument("--figure", type=int, default=8, help="held-out actions shown in the figure")
    p.add_argument("--out", type=Path, default=Path("out/painter_fidelity"), help="folder for the figures")
    p.add_argument("--json", type=Path, help="also write the metrics as JSON here")
    p.add_argument("--update-cards", action="store_true", help="record the metrics in the shipped cards")
    args = p.parse_args(argv)
    if args.num < 1 or args.seeds < 1:
        p.error("--num and --seeds must be >= 1")
    torch.set_num_threads(args.threads)
    names = args.painters or list_pretrained()
    try:
        painters = {n: create_painter(n) for n in names}
    except (KeyError, ValueError, FileNotFoundError) as exc:
        p.error(str(exc).strip("'\""))
    painters = dict(sorted(painters.items(), key=lambda kv: ["vae", "gan"].index(kv[0])
                           if kv[0] in ("vae", "gan") else 2))

    actions = A.random_actions(args.num, seed=args.seed)
    shown = slice(0, args.figure)
    rows, figure, floors, refs = {}, {}, {}, {}
    for name, painter in painters.items():       # each painter against MyPaint with its own brush
        brush = painter.brush
        if brush not in refs:
            refs[brush] = reference(actions, seeds=args.seeds, brush=brush, seed=args.seed)
            floors[brush] = rows[f"MyPaint {brush} (floor)"] = floor(refs[brush])
            figure[f"MyPaint {brush}"] = refs[brush][0][shown]
        output = paint(painter, actions, draws=args.seeds, seed=args.seed)
        params = sum(q.numel() for q in painter.parameters())
        rows[name] = dict(scores(output, refs[brush]), **speed(painter), parameters=params)
        figure[name] = output[0][shown]
        if painter.stochastic:       # its draws above; its plain forward (no generator) here
            plain = paint(painter, actions, deterministic=True)
            rows[f"{name} (no generator)"] = dict(scores(plain, refs[brush]), **speed(painter), parameters=params)
            figure[f"{name} (plain)"] = plain[0][shown]
    load = os.getloadavg()[0]
    print(f"{args.num} held-out actions (seed {args.seed}), K = {args.seeds} MyPaint seeds, speed at batch 256 "
          f"with {args.threads} CPU threads (1-min load average {load:.1f} on {os.cpu_count()} cores)\n")
    print(table(rows))

    args.out.mkdir(parents=True, exist_ok=True)
    grid_image(list(figure.values()), list(figure)).save(args.out / "painters_heldout.png")
    for field in ("pressure", "size"):
        sweep(painters, field, path=args.out / f"painters_sweep_{field}.png")

    meta = dict(num_actions=args.num, action_seed=args.seed, mypaint_seeds=args.seeds, threads=args.threads,
                load_average=round(load, 2), cpu_count=os.cpu_count(),
                command=" ".join(["bench/painter_fidelity.py"] + sys.argv[1:] if argv is None else argv))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(dict(meta, rows=rows), indent=1) + "\n")
    if args.update_cards:
        for name in painters:
            path = weights_paths(name)[0]
            card = read_card(path)
            brush = painters[name].brush
            card["fidelity"] = dict(rows[name], floor=floors[brush], brush=brush, **meta)
            if f"{name} (no generator)" in rows:
                card["fidelity"]["deterministic"] = rows[f"{name} (no generator)"]
            write_card(path.with_suffix(".json"), card)
    return 0


if __name__ == "__main__":
    sys.exit(main())
