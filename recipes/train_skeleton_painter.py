#!/usr/bin/env python
"""Train the skeleton painter (analytic Bezier rasterizer + learned MyPaint dab model), the default.

    python recipes/train_skeleton_painter.py --preset cpu --data data/strokes --resume --export
    torchrun --nproc_per_node 2 recipes/train_skeleton_painter.py --preset smoke --data data/strokes

The loss is per-pixel L1 to one MyPaint render, so the painter learns the median stroke (MyPaint's brush
jitter is noise it cannot predict). At export the dab jitter and ink gain of the painter's random draws
are calibrated against MyPaint on ``calibration_actions`` held-out actions (see ``calibrate_draws``).
"""
import sys

from strokeparam.painters.recipe import main
from strokeparam.painters.tasks import SkeletonTask

ARCH = dict(dabs=64, components=2, hidden=32)
PRESETS = {
    "smoke": dict(steps=6, batch_size=8, lr=3e-3, warmup=0, log_every=1, arch=ARCH, calibration_actions=8),
    "cpu": dict(steps=6000, batch_size=64, lr=3e-3, warmup=100, log_every=50, arch=ARCH,
                calibration_actions=512),
    "paper": dict(steps=30000, batch_size=256, lr=3e-3, warmup=500, log_every=100, arch=ARCH,
                  calibration_actions=512),
}

if __name__ == "__main__":
    sys.exit(main(SkeletonTask, PRESETS))
