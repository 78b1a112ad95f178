"""What the loop trains: a :class:`Task` holds the networks, their optimizers and one training step."""
from __future__ import annotations

import math

import torch
from torch import nn


class Task:
    """One model's training: subclasses set ``name`` and implement :meth:`train_step`.

    ``cfg`` is the preset (a dict, overridden from the command line); ``modules``, ``optimizers`` and
    ``generators`` (the task's random streams) are dicts whose state is checkpointed.
    """

    name = "task"
    columns: tuple[str, ...] = ()       # the losses logged, in this column order (empty: as train_step returns)

    @staticmethod
    def configure(cfg: dict) -> dict:
        """Derive dependent settings after command-line overrides (e.g. total steps of two stages)."""
        return cfg

    def __init__(self, cfg: dict, device: torch.device):
        self.cfg, self.device = cfg, device
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.generators: dict[str, torch.Generator] = {}
        self.seed = 0                   # the run's --seed (set by the loop)
        self.time_used = 0.0            # fraction of a wall-time budget spent (set by the loop)

    def batches_per_step(self, step: int) -> int:
        """How many batches :meth:`train_step` draws at ``step``."""
        return 1

    def train_step(self, batches: list, step: int) -> dict:
        """One optimization step on ``batches`` (what the data stream's ``next`` gave); float losses to log."""
        raise NotImplementedError

    def set_lr(self, optimizer: torch.optim.Optimizer, base: float, step: int, warmup: int = 0,
               total: int | None = None) -> None:
        """Linear warmup then cosine decay to 5% of ``base`` over ``total`` (default: all planned) steps."""
        total = max(1, self.cfg["steps"] if total is None else total)
        if step < warmup:
            lr = base * (step + 1) / warmup
        else:
            lr = base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total))))
        for group in optimizer.param_groups:
            group["lr"] = lr
