"""Stroke data for training painters: sharded (action, alpha) files and on-the-fly MyPaint rendering.

A shard folder holds ``meta.json`` and, per shard k, ``shard_{k:05d}.alpha.npy`` (uint8 (S, 64, 64)) and
``shard_{k:05d}.actions.npy`` (float32 (S, 12)); the actions file is written last, so it marks a
complete shard. Every file is written to a temporary name and renamed into place.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import actions as A

SHARD_FORMAT = 1


def shard_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of shard ``index``: a rerun draws exactly the same actions and brush noise."""
    return np.random.SeedSequence([seed, index])


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save_npy(path: Path, array: np.ndarray) -> None:
    import io
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def shard_paths(root: Path, index: int) -> tuple[Path, Path]:
    stem = Path(root) / f"shard_{index:05d}"
    return stem.with_suffix(".actions.npy"), stem.with_suffix(".alpha.npy")


def render_shard(root, index: int, count: int, seed: int, brush: str, size: int) -> int:
    """Render shard ``index`` (``count`` uniform random actions) into ``root``; return ``count``."""
    from .mypaint import MyPaintRenderer
    actions_path, alpha_path = shard_paths(root, index)
    action_seed, brush_seed = shard_seed(seed, index).spawn(2)
    acts = A.random_actions(count, generator=np.random.default_rng(action_seed))
    alpha = MyPaintRenderer(brush, size).render(acts, seed=int(brush_seed.generate_state(1)[0]))
    atomic_save_npy(alpha_path, np.round(alpha * 255).astype(np.uint8))
    atomic_save_npy(actions_path, acts)
    return count


class StrokeShards(Dataset):
    """(action, alpha) pairs from a shard folder, memory-mapped.

    Items are ``(actions float32 (12,), alpha float32 (1, size, size) in [0, 1])``.
    """

    def __init__(self, root):
        self.root = Path(root)
        meta_path = self.root / "meta.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"{self.root} is not a stroke shard folder (no meta.json); make one with "
                                    "recipes/make_stroke_dataset.py")
        self.meta = json.loads(meta_path.read_text())
        self._actions, self._alpha, offsets = [], [], [0]
        for index in range(self.meta["num_shards"]):
            actions_path, alpha_path = shard_paths(self.root, index)
            if not actions_path.is_file():
                continue
            self._actions.append(np.load(actions_path, mmap_mode="r"))
            self._alpha.append(np.load(alpha_path, mmap_mode="r"))
            offsets.append(offsets[-1] + len(self._actions[-1]))
        if offsets[-1] == 0:
            raise FileNotFoundError(f"{self.root} holds no complete shard")
        self._offsets = np.array(offsets)

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} strokes")
        i %= len(self)
        shard = int(np.searchsorted(self._offsets, i, side="right") - 1)
        j = i - self._offsets[shard]
        action = torch.from_numpy(np.array(self._actions[shard][j], dtype=np.float32))
        alpha = torch.from_numpy(np.array(self._alpha[shard][j], dtype=np.float32) / 255.0)[None]
        return action, alpha


class OnTheFlyStrokes(IterableDataset):
    """Endless (or ``num``-long) uniform random strokes rendered by MyPaint inside DataLoader workers.

    Each worker draws from its own stream seeded by ``(seed, worker id, rank)``, so workers never repeat
    each other and a seeded run repeats. Items are like :class:`StrokeShards`'.
    """

    def __init__(self, num: int | None = None, brush: str = "classic/dry_brush", size: int = 64,
                 seed: int = 0, chunk: int = 64, rank: int = 0):
        if num is not None and num < 1:
            raise ValueError(f"num must be a positive number of strokes or None, got {num!r}")
        self.num, self.brush, self.size, self.seed, self.chunk, self.rank = num, brush, size, seed, chunk, rank

    def __iter__(self):
        from .mypaint import MyPaintRenderer
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        renderer = MyPaintRenderer(self.brush, self.size)
        rng = np.random.default_rng([self.seed, self.rank, worker])
        remaining = None if self.num is None else len(range(worker, self.num, workers))
        while remaining is None or remaining > 0:
            count = self.chunk if remaining is None else min(self.chunk, remaining)
            acts = A.random_actions(count, generator=rng)
            alpha = renderer.render(acts, seed=int(rng.integers(2 ** 31)))
            for action, stroke in zip(acts, alpha):
                yield torch.from_numpy(action), torch.from_numpy(stroke)[None]
            if remaining is not None:
                remaining -= count
