"""Stroke data for training painters: sharded (action, alpha) files and on-the-fly MyPaint rendering.

A shard folder holds ``meta.json`` and, per shard k, ``shard_{k:05d}.alpha.npy`` (uint8 (S, 64, 64)) and
``shard_{k:05d}.actions.npy`` (float32 (S, 12)); the actions file is written last, so it marks a
complete shard. Every file is written to a temporary name and renamed into place.
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import actions as A
from .files import atomic_save_npy, read_json

SHARD_FORMAT = 1


def shard_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed sequence of shard ``index``: a rerun draws exactly the same actions and brush noise."""
    return np.random.SeedSequence([seed, index])


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


META_FIELDS = {"format": int, "num": int, "shard_size": int, "num_shards": int, "seed": int, "brush": str,
               "size": int}


def read_meta(root) -> dict:
    """The checked ``meta.json`` of a shard folder: FileNotFoundError without one, ValueError if corrupt."""
    root = Path(root)
    meta_path = root / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{root} is not a stroke shard folder (no meta.json); make one with "
                                "recipes/make_stroke_dataset.py")
    meta = read_json(meta_path, "stroke shard metadata")
    if not isinstance(meta, dict):
        raise ValueError(f"{meta_path} must hold a JSON object with {', '.join(META_FIELDS)}")
    for key, kind in META_FIELDS.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            need = "a non-negative integer" if kind is int else "a string"
            raise ValueError(f"{meta_path}: {key!r} must be {need}, got {value!r}; remake the folder with "
                             "recipes/make_stroke_dataset.py")
    if meta["format"] != SHARD_FORMAT:
        raise ValueError(f"{meta_path} has shard format {meta['format']}; this strokeparam reads {SHARD_FORMAT}")
    if meta["shard_size"] < 1 or meta["num_shards"] != -(-meta["num"] // meta["shard_size"]):
        raise ValueError(f"{meta_path}: num_shards {meta['num_shards']} does not match num {meta['num']} "
                         f"and shard_size {meta['shard_size']}")
    return meta


def _npy_header(path: Path) -> tuple[tuple, np.dtype]:
    """(shape, dtype) of an .npy file, read from its header alone."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as fh:
            version = fmt.read_magic(fh)
            read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _, dtype = read(fh)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path} is not a readable .npy file: {exc}") from None
    return shape, dtype


class StrokeShards(Dataset):
    """(action, alpha) pairs from a shard folder, memory-mapped.

    Items are ``(actions float32 (12,), alpha float32 (1, size, size) in [0, 1])``. Shards are opened on
    first use and at most ``max_open`` of them stay mapped (two file descriptors each), so a folder of
    any number of shards fits a small open-file limit. The dataset pickles without its open files
    (DataLoader workers under any start method).
    """

    def __init__(self, root, max_open: int = 16):
        if not isinstance(max_open, int) or max_open < 1:
            raise ValueError(f"max_open must be a positive number of shards, got {max_open!r}")
        self.root = Path(root)
        self.meta = read_meta(self.root)
        self.max_open = max_open
        size = self.meta["size"]
        self._shards, offsets = [], [0]
        for index in range(self.meta["num_shards"]):
            actions_path, alpha_path = shard_paths(self.root, index)
            if not actions_path.is_file():
                continue
            (shape_a, dtype_a), (shape_b, dtype_b) = _npy_header(actions_path), _npy_header(alpha_path)
            if (len(shape_a) != 2 or shape_a[1] != A.NUM_FIELDS or dtype_a != np.float32
                    or shape_b != (shape_a[0], size, size) or dtype_b != np.uint8):
                raise ValueError(f"shard {index} of {self.root} does not match its meta.json: actions "
                                 f"{dtype_a} {shape_a}, alpha {dtype_b} {shape_b}; expected float32 (S, "
                                 f"{A.NUM_FIELDS}) and uint8 (S, {size}, {size})")
            self._shards.append(index)
            offsets.append(offsets[-1] + shape_a[0])
        if offsets[-1] == 0:
            raise FileNotFoundError(f"{self.root} holds no complete shard")
        self._offsets = np.array(offsets)
        self._open: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self):
        return dict(self.__dict__, _open=OrderedDict())

    def _arrays(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The memory maps of the ``k``-th complete shard, least recently used ones closed past ``max_open``."""
        arrays = self._open.get(k)
        if arrays is not None:
            self._open.move_to_end(k)
            return arrays
        while len(self._open) >= self.max_open:
            self._open.popitem(last=False)          # the last reference: numpy closes the map
        actions_path, alpha_path = shard_paths(self.root, self._shards[k])
        arrays = np.load(actions_path, mmap_mode="r"), np.load(alpha_path, mmap_mode="r")
        self._open[k] = arrays
        return arrays

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __getitem__(self, i: int):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} strokes")
        i %= len(self)
        shard = int(np.searchsorted(self._offsets, i, side="right") - 1)
        j = i - self._offsets[shard]
        actions, alpha = self._arrays(shard)
        action = torch.from_numpy(np.array(actions[j], dtype=np.float32))
        stroke = torch.from_numpy(np.array(alpha[j], dtype=np.float32) / 255.0)[None]
        return action, stroke


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
