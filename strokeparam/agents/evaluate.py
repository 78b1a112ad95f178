"""Held-out reconstruction: MSE to the target through the neural painter and through MyPaint (the transfer gap)."""
from __future__ import annotations

import numpy as np
import torch
from ..progress import progress as progress_bar

from .agent import PaintingAgent
from .datasets import ImageSet
from .templates import render_actions


@torch.no_grad()
def reconstruct_set(agent: PaintingAgent, data: ImageSet, num: int | None = None, batch: int = 50,
                    mypaint: bool = True, seed: int = 0, progress: bool = False) -> dict:
    """Paint the first ``num`` images of ``data`` with ``agent``, then re-paint its actions with MyPaint.

    Returns numpy arrays ``targets``, ``painter`` and (with ``mypaint``) ``mypaint`` images (M, 64, 64, 3),
    ``actions`` (M, T, 12), and the mean squared errors ``painter_mse``, ``mypaint_mse`` and their ratio
    ``transfer_ratio``. Image i is re-painted with brush seed ``seed + i``. The painter paints the expected
    strokes; a stochastic painter also paints one random draw of the same actions (``painter_draw_mse``).
    """
    from ..mypaint import MyPaintRenderer
    device = agent.background.device
    num = len(data) if num is None else min(num, len(data))
    targets, painted, drawn, actions = [], [], [], []
    generator = torch.Generator(device).manual_seed(seed) if agent.painter.stochastic else None
    for start in progress_bar(range(0, num, batch), desc="agent", disable=not progress):
        target = data.images(slice(start, min(num, start + batch))).to(device)
        out = agent(target)
        targets.append(target.cpu())
        painted.append(out.canvas.clamp(0, 1).cpu())
        actions.append(out.actions.cpu())
        if generator is not None:
            drawn.append(render_actions(agent.painter, out.actions, agent.background.tolist(), generator).cpu())
    to_hwc = lambda xs: torch.cat(xs).permute(0, 2, 3, 1).numpy()                            # noqa: E731
    result = dict(targets=to_hwc(targets), painter=to_hwc(painted), actions=torch.cat(actions).numpy(), num=num)
    result["painter_mse"] = float(np.mean((result["painter"] - result["targets"]) ** 2))
    if drawn:
        result["painter_draw_mse"] = float(np.mean((to_hwc(drawn) - result["targets"]) ** 2))
    if mypaint:
        renderer = MyPaintRenderer()
        background = agent.background.tolist()
        result["mypaint"] = np.stack([
            renderer.paint(a.astype(np.float64), size=agent.policy.size, background=background, seed=seed + i)
            for i, a in enumerate(progress_bar(result["actions"], desc="MyPaint", disable=not progress))])
        result["mypaint_mse"] = float(np.mean((result["mypaint"] - result["targets"]) ** 2))
        result["transfer_ratio"] = result["mypaint_mse"] / max(result["painter_mse"], 1e-12)
    return result


def evaluate(agent: PaintingAgent, data: ImageSet, num: int | None = None, progress: bool = False,
             mean_image: torch.Tensor | None = None) -> tuple[dict, dict]:
    """Held-out scores of an agent on ``data``: painter and MyPaint MSE, their ratio, the baselines (a
    blank canvas; with ``mean_image`` (3, H, W), e.g. the training images' mean, that image), and stroke
    order (MNIST: agreement with the digit templates; kanji: human stroke order). Returns (scores, the
    :func:`reconstruct_set` result with the images)."""
    from .order import kanji_scores, template_scores
    from .templates import load_templates
    result = reconstruct_set(agent.eval(), data, num=num, progress=progress)
    scores = {k: result[k] for k in ("num", "painter_mse", "painter_draw_mse", "mypaint_mse", "transfer_ratio")
              if k in result}
    targets = result["targets"]
    scores["baselines"] = {"blank": float(np.mean((targets - agent.background.cpu().numpy()) ** 2))}
    if mean_image is not None:
        mean = mean_image.detach().cpu().permute(1, 2, 0).numpy()
        scores["baselines"]["mean_image"] = float(np.mean((targets - mean) ** 2))
    if data.name == "mnist":
        scores["template_order"] = template_scores(result["actions"], data.labels[:result["num"]].numpy(),
                                                   load_templates())
    if data.strokes is not None:
        scores["kanji_order"] = kanji_scores(result["actions"], data.strokes[:result["num"]])
    return scores, result
