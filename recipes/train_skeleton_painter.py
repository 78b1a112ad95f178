#!/usr/bin/env python
"""Train the skeleton painter (analytic Bezier rasterizer + learned MyPaint dab model), the default.

    python recipes/train_skeleton_painter.py --preset cpu --data data/strokes --resume --export
    torchrun --nproc_per_node 2 recipes/train_skeleton_painter.py --preset smoke --data data/strokes

The loss is per-pixel L1 to one MyPaint render, so the painter learns the median stroke (MyPaint's brush
jitter is noise it cannot predict). At export the dab jitter and ink gain of the painter's random draws
are calibrated against MyPaint on ``calibration_actions`` held-out actions (see ``calibrate_draws``).
"""
import sys

import torch
from torch.nn import functional as F

from strokeparam.actions import random_actions
from strokeparam.painters.fidelity import reference
from strokeparam.painters.skeleton import calibrate_draws

from strokeparam.painters import SkeletonPainter
from strokeparam.painters.training import Task, average_gradients, main

ARCH = dict(dabs=64, components=2, hidden=32)
CALIBRATION_SEED = 999          # apart from the data (0, ...) and the benchmark (10007)
PRESETS = {
    "smoke": dict(steps=6, batch_size=8, lr=3e-3, warmup=0, log_every=1, arch=ARCH, calibration_actions=8),
    "cpu": dict(steps=6000, batch_size=64, lr=3e-3, warmup=100, log_every=50, arch=ARCH,
                calibration_actions=512),
    "paper": dict(steps=30000, batch_size=256, lr=3e-3, warmup=500, log_every=100, arch=ARCH,
                  calibration_actions=512),
}


class SkeletonTask(Task):
    name = "skeleton"

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        self.net = SkeletonPainter(**cfg["arch"]).to(device)
        self.modules = {"painter": self.net}
        self.optimizers = {"adam": torch.optim.Adam(self.net.parameters(), lr=cfg["lr"])}

    def train_step(self, batches, step):
        (actions, alpha), = batches
        opt = self.optimizers["adam"]
        self.set_lr(opt, self.cfg["lr"], step, self.cfg["warmup"])
        loss = F.l1_loss(self.net(actions), alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.net)
        opt.step()
        return {"l1": loss.item()}

    def painter(self):
        painter = SkeletonPainter(**self.cfg["arch"])
        painter.load_state_dict(self.net.state_dict())
        actions = random_actions(self.cfg["calibration_actions"], seed=CALIBRATION_SEED)
        calibrate_draws(painter.eval(), actions, reference(actions, seeds=1, seed=CALIBRATION_SEED)[0])
        return painter


if __name__ == "__main__":
    sys.exit(main(SkeletonTask, PRESETS))
