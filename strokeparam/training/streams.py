"""Training data as streams of batches (``next``, ``state``, ``load``, ``info``), each process its own slice."""
from __future__ import annotations

import numpy as np
import torch

from ..data import OnTheFlyStrokes, StrokeShards, shard_paths


class EpochStream:
    """Batches of ``count`` items in a seeded per-epoch order, each process its own slice (resumable).

    Subclasses set ``count`` and ``info`` and turn the indices of a batch into tensors (``batch_of``).
    """

    def __init__(self, count: int, batch: int, seed: int, rank: int, size: int, device: torch.device):
        self.count, self.batch, self.seed, self.rank, self.size, self.device = count, batch, seed, rank, size, device
        self.position = 0          # global sample counter

    def batch_of(self, indices: torch.Tensor):
        raise NotImplementedError

    def next(self):
        n, glob = self.count, self.batch * self.size
        idx = []
        while len(idx) < glob:
            epoch, offset = divmod(self.position, n)
            take = min(glob - len(idx), n - offset)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))
            idx.extend(order[offset:offset + take].tolist())
            self.position += take
        return self.batch_of(torch.tensor(idx[self.rank * self.batch:(self.rank + 1) * self.batch]))

    def state(self) -> dict:
        return {"position": self.position}

    def load(self, state: dict) -> None:
        self.position = int(state.get("position", 0))


class ShardStream(EpochStream):
    """Batches from a stroke shard folder held in memory, in a seeded per-epoch order (resumable)."""

    def __init__(self, root, batch: int, seed: int, rank: int, size: int, device: torch.device):
        data = StrokeShards(root)                  # validates the folder
        acts, alphas = [], []
        for index in range(data.meta["num_shards"]):
            actions_path, alpha_path = shard_paths(root, index)
            if actions_path.is_file():
                acts.append(np.load(actions_path))
                alphas.append(np.load(alpha_path))
        self.actions = torch.from_numpy(np.concatenate(acts).astype(np.float32))
        self.alpha = torch.from_numpy(np.concatenate(alphas))           # uint8 (M, H, W)
        super().__init__(len(self.actions), batch, seed, rank, size, device)
        self.info = dict(source=str(root), strokes=len(data), meta=data.meta)

    def batch_of(self, indices: torch.Tensor):
        return (self.actions[indices].to(self.device),
                (self.alpha[indices].float() / 255.0)[:, None].to(self.device))


class FlyStream:
    """Batches rendered by MyPaint on the fly in DataLoader workers; a resumed run draws a fresh stream."""

    def __init__(self, batch: int, seed: int, rank: int, workers: int, start: int, device: torch.device):
        self.start, self.seed, self.batch, self.rank = start, seed, batch, rank
        self.workers, self.device = workers, device
        self._iter = None
        self.info = dict(source="on the fly (MyPaint classic/dry_brush)")

    def next(self):
        if self._iter is None:
            data = OnTheFlyStrokes(seed=self.seed * 1_000_003 + self.start, rank=self.rank)
            loader = torch.utils.data.DataLoader(data, batch_size=self.batch, num_workers=self.workers)
            self._iter = iter(loader)
        actions, alpha = next(self._iter)
        return actions.to(self.device), alpha.to(self.device)

    def state(self) -> dict:
        return {}

    def load(self, state: dict) -> None:
        pass
