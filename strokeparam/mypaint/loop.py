"""MyPaint in the optimization loop: what the real brush paints forward, the neural painter's gradient backward.

:class:`BrushInTheLoop` renders each stroke's alpha with the real MyPaint (optionally in worker threads);
:func:`straight_through` puts those pixels in the forward pass of a neural render while its gradient flows
unchanged (Athalye et al.'s BPDA).
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .. import actions as A
from ..checks import is_int

CHUNK = 32            # strokes per render job; chunk k of a seeded call uses a seed derived from (seed, k)
MAX_WORKERS = 64


def straight_through(neural: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """``real`` in the forward pass, exactly, and the gradient of ``neural`` in the backward pass. ``real`` has
    ``neural``'s elements (reshaped to its shape) or is a stack of K copies of them (reshaped to (K, *shape)),
    whose gradients add up on ``neural``."""
    real = real.to(neural)
    one = real.numel() == neural.numel()
    return _StraightThrough.apply(neural, real.reshape(neural.shape if one else (-1, *neural.shape)))


class _StraightThrough(torch.autograd.Function):
    """:func:`straight_through` without arithmetic: the output is ``real``, the gradient passes (summed over a
    stack's copies)."""

    @staticmethod
    def forward(ctx, neural, real):
        ctx.stacked = real.dim() > neural.dim()
        return real

    @staticmethod
    def backward(ctx, grad):
        return (grad.sum(0) if ctx.stacked else grad), None


def chunk_seeds(seed: int, chunks: int) -> list[int]:
    """The seed of each chunk of a call seeded with ``seed`` (independent of the number of workers)."""
    return [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(chunks, dtype=np.uint32)]


def loop_states(seed: int, num: int) -> list[int]:
    """The brush randomness (:func:`.renderer.brush_states`) that a call seeded with ``seed`` gives its
    ``num`` strokes, chunk by chunk: MyPaintRenderer.paint(warmups=...) re-paints them exactly so."""
    from .renderer import brush_states
    chunks = [min(CHUNK, num - i) for i in range(0, num, CHUNK)]
    return [w for n, s in zip(chunks, chunk_seeds(seed, len(chunks))) for w in brush_states(s, n)]


_LOCAL = threading.local()


def _render(brush: str, size: int, margin: int, actions: np.ndarray, seed: int, out: np.ndarray) -> None:
    """One chunk: per-stroke alpha into ``out`` (n, side, side), by a renderer cached per (brush, size, margin)
    in this thread."""
    from .renderer import MyPaintRenderer
    cache = _LOCAL.__dict__.setdefault("renderers", {})
    if (brush, size, margin) not in cache:
        cache[brush, size, margin] = MyPaintRenderer(brush, size)
    cache[brush, size, margin].render(actions, seed=seed, margin=margin, out=out)


class BrushInTheLoop:
    """Renders strokes with the real MyPaint for the forward pass of an optimization.

    ``brush`` is a MyPaint brush name or .myb path (checked here); ``workers`` threads (0: the caller's)
    render chunks of :data:`CHUNK` strokes side by side: the compiled stroke loop paints a chunk in one call
    that releases the GIL (two threads 1.9x one; through ctypes alone, some fifty short calls per stroke
    with Python between them, 1.1x). A seeded call gives the same pixels for any number of workers.
    :meth:`submit` starts a render and returns at once (work on another device, a GPU's, goes on meanwhile).
    ``deterministic``: whether the brush paints the same pixels under every seed (it has no randomness), so
    that one render serves every draw.
    """

    def __init__(self, brush: str = A.DEFAULT_BRUSH, workers: int = 0):
        from .renderer import paints_alike
        self._pool = None
        if not is_int(workers) or not 0 <= workers <= MAX_WORKERS:
            raise ValueError(f"workers must be an integer from 0 (this process) to {MAX_WORKERS}, got {workers!r}")
        self.deterministic = paints_alike(brush)    # and validates the brush before any worker sees it
        self.brush, self.workers = brush, int(workers)

    def __repr__(self) -> str:
        return f"BrushInTheLoop(brush={self.brush!r}, workers={self.workers})"

    def submit(self, actions: np.ndarray, size: int, seed: int, margin: int = 0, out: np.ndarray | None = None):
        """Start rendering ``actions`` (N, 12) on ``size``-px squares with ``margin`` px around them
        (:meth:`MyPaintRenderer.render`) with ``seed``, into ``out`` (float32 (N, side, side), C-contiguous,
        side = size + 2 x margin; a new array when None); :meth:`result` waits and returns it."""
        from .renderer import alpha_buffer
        out = alpha_buffer(out, len(actions), size + 2 * margin)
        starts = range(0, len(actions), CHUNK)
        jobs = [(self.brush, size, margin, actions[i:i + CHUNK], s, out[i:i + CHUNK])
                for i, s in zip(starts, chunk_seeds(seed, len(starts)))]
        if self.workers == 0 or not jobs:
            for job in jobs:
                _render(*job)
            return out, []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="mypaint")
        return out, [self._pool.submit(_render, *job) for job in jobs]

    @staticmethod
    def result(pending) -> np.ndarray:
        """The alpha (N, side, side) of a :meth:`submit`, once every chunk is painted."""
        out, jobs = pending
        for job in jobs:
            job.result()
        return out

    def __call__(self, actions: np.ndarray, size: int, seed: int, margin: int = 0) -> np.ndarray:
        return self.result(self.submit(actions, size, seed, margin))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __getstate__(self):
        return dict(self.__dict__, _pool=None)

    def __del__(self):
        self.close()

