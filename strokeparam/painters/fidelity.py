"""How closely a painter imitates MyPaint: L1, mean-stroke L1, coverage IoU, sharpness, speed."""
from __future__ import annotations

import time

import numpy as np
import torch

from .. import actions as A
from .base import Painter

COVERAGE = 0.25


def sharpness(alpha: np.ndarray) -> float:
    """Mean image-gradient magnitude (forward differences) of strokes (..., H, W)."""
    gx = np.diff(alpha, axis=-1)[..., :-1, :]
    gy = np.diff(alpha, axis=-2)[..., :, :-1]
    return float(np.sqrt(gx ** 2 + gy ** 2).mean())


def iou(a: np.ndarray, b: np.ndarray, threshold: float = COVERAGE) -> float:
    """Intersection over union of the coverage masks ``alpha > threshold``, pooled over all strokes."""
    ma, mb = a > threshold, b > threshold
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 1.0


def reference(actions: np.ndarray, seeds: int = 4, brush: str = A.DEFAULT_BRUSH, seed: int = 0) -> np.ndarray:
    """MyPaint renders of ``actions`` with ``2 * seeds`` different brush seeds: (2K, N, 64, 64)."""
    from ..mypaint import MyPaintRenderer
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds!r}")
    renderer = MyPaintRenderer(brush, A.REFERENCE_SIZE)
    return np.stack([renderer.render(actions, seed=seed + k) for k in range(2 * seeds)])


@torch.no_grad()
def paint(painter: Painter, actions: np.ndarray, draws: int = 1, batch: int = 256, seed: int = 0,
          deterministic: bool = False) -> np.ndarray:
    """Painter output for numpy actions: (draws, N, 64, 64). Stochastic painters draw ``draws`` times with
    generators seeded ``seed + d``, unless ``deterministic`` (no generator: one draw)."""
    device = next(painter.parameters()).device
    sample = painter.stochastic and not deterministic
    draws = draws if sample else 1
    out = []
    for d in range(draws):
        gen = torch.Generator(device=device).manual_seed(seed + d) if sample else None
        parts = [painter(torch.as_tensor(actions[i:i + batch], device=device), generator=gen)[:, 0].cpu().numpy()
                 for i in range(0, len(actions), batch)]
        out.append(np.concatenate(parts) if parts else np.zeros((0, painter.size, painter.size), np.float32))
    return np.stack(out)


def scores(output: np.ndarray, refs: np.ndarray) -> dict:
    """Metrics (a)-(d) of strokes ``output`` (D, N, H, W) against MyPaint renders ``refs`` (2K, N, H, W).

    (a) ``l1``: mean |output draw 0 - render 0|; (b) ``mean_l1``: mean |mean of the draws - mean of renders
    0..K-1|; (c) ``iou`` of coverage masks with render 0; (d) ``sharpness`` ratio to render 0.
    """
    k = len(refs) // 2
    return dict(l1=float(np.abs(output[0] - refs[0]).mean()),
                mean_l1=float(np.abs(output.mean(0) - refs[:k].mean(0)).mean()),
                iou=iou(output[0], refs[0]),
                sharpness=sharpness(output[0]) / max(sharpness(refs[0]), 1e-12))


def floor(refs: np.ndarray) -> dict:
    """The same metrics for MyPaint itself: renders K..2K-1 in the painter's place."""
    return scores(refs[len(refs) // 2:], refs)


def speed(painter: Painter, batch: int = 256, repeats: int = 5, seed: int = 0) -> dict:
    """Strokes per second, forward (no grad) and forward+backward w.r.t. the actions, at ``batch``."""
    device = next(painter.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    actions = torch.rand(batch, A.NUM_FIELDS, generator=gen).to(device)
    result = {}
    for mode in ("forward", "forward_backward"):
        times = []
        for i in range(repeats + 1):
            x = actions.clone().requires_grad_(mode == "forward_backward")
            start = time.perf_counter()
            with torch.set_grad_enabled(mode == "forward_backward"):
                y = painter(x)
                if mode == "forward_backward":
                    y.sum().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if i:                                   # the first call warms up
                times.append(time.perf_counter() - start)
        result[f"{mode}_strokes_per_s"] = float(batch / np.median(times))
    return result


def evaluate(painter: Painter, num: int = 300, seeds: int = 4, seed: int = 10_007, brush: str | None = None) -> dict:
    """Metrics (a)-(d) on ``num`` random actions drawn with ``seed`` (keep it apart from training seeds)
    against MyPaint's renders with ``brush`` (default the painter's, :attr:`Painter.brush`); a stochastic
    painter is scored on its draws and, under ``deterministic``, without a generator."""
    brush = painter.brush if brush is None else brush
    actions = A.random_actions(num, seed=seed)
    refs = reference(actions, seeds=seeds, brush=brush, seed=seed)
    result = dict(scores(paint(painter, actions, draws=seeds, seed=seed), refs), num_actions=num,
                  action_seed=seed, mypaint_seeds=seeds, floor=floor(refs), brush=brush)
    if painter.stochastic:
        result["deterministic"] = scores(paint(painter, actions, deterministic=True), refs)
    return result


def describe_card(name: str, card: dict | None) -> list[str]:
    """Human-readable lines of painter ``name``'s card (None: no shipped weights; ``{"error": ...}``: unusable
    ones): its architecture, its training and its fidelity to MyPaint (:func:`evaluate`)."""
    if card is None:
        return [f"no shipped weights: train them with recipes/train_{name}_painter.py --export, "
                "or use --untrained"]
    if "error" in card:
        return [f"weights present but unusable: {card['error']}"]
    config = card["architecture"]["config"]
    lines = ["architecture: " + ", ".join(f"{k}={v}" for k, v in sorted(config.items())),
             f"imitates the MyPaint brush {card.get('brush', A.DEFAULT_BRUSH)}"]
    trained = [f"{card[k]} {label}" for k, label in (("parameters", "parameters"), ("steps", "steps"),
                                                      ("samples_seen", "samples"), ("wall_time_s", "s"))
               if k in card]
    if trained:
        lines.append(f"trained ({card.get('preset', '?')} preset, {card.get('date', 'undated')}): {', '.join(trained)}")
    fidelity = card.get("fidelity")
    if isinstance(fidelity, dict):
        mypaint = fidelity.get("floor", {})        # MyPaint's own scores against itself (:func:`floor`)
        metrics = [f"{k} {fidelity[k]:.4f}" + (f" (MyPaint itself {mypaint[k]:.4f})" if k in mypaint else "")
                   for k in ("l1", "mean_l1", "iou", "sharpness") if isinstance(fidelity.get(k), (int, float))]
        lines.append(f"fidelity on {fidelity.get('num_actions', '?')} held-out actions: " + ", ".join(metrics))
    else:
        lines.append("fidelity: not measured")
    return lines
