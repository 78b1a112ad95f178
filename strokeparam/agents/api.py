"""``reconstruct(image)``: paint an image with a trained agent."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from .agent import Painting, PaintingAgent
from .weights_io import load_agent


def _as_batch(image, size: int) -> torch.Tensor:
    """A float (B, 3, size, size) batch in [0, 1] from a tensor (C, H, W)/(B, C, H, W) with C = 1 or 3,
    or anything :func:`strokeparam.paint.load_image` reads (a path, a PIL image, an (H, W[, 3]) array)."""
    if isinstance(image, torch.Tensor):
        x = image[None] if image.ndim == 3 else image
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"image tensor must be (C, H, W) or (B, C, H, W) with C = 1 or 3, got {tuple(image.shape)}")
        x = x.float().expand(-1, 3, -1, -1)
    else:
        from ..paint import load_image
        x = load_image(image)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.clamp(0.0, 1.0)


@torch.no_grad()
def reconstruct(image, agent: PaintingAgent | str | None = None, device=None) -> Painting:
    """Paint ``image`` (a tensor, path, PIL image or array; resized to 64 px) with an agent's strokes.

    ``agent``: a :class:`PaintingAgent`, the name of a shipped agent, or None for the default shipped
    one. The image should look like the agent's training data (MNIST: a black digit on white).
    Returns a :class:`Painting` with the canvas (B, 3, 64, 64) and the actions (B, T, 12), which
    ``MyPaintRenderer().paint(actions[b].numpy())`` re-paints with the real brush.
    """
    if agent is None or isinstance(agent, str):
        agent = load_agent(*(() if agent is None else (agent,)), device=device)
    elif not isinstance(agent, PaintingAgent):
        raise ValueError(f"agent must be a PaintingAgent, a shipped agent's name or None, got {type(agent).__name__}")
    device = agent.background.device if device is None else torch.device(device)
    agent = agent.to(device).eval()
    return agent(_as_batch(image, agent.policy.size).to(device))
