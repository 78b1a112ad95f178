"""The painting agent: conv + residual encoder → LSTM cell → next stroke, painted through a neural painter.

At step t the policy sees the target, the canvas so far and its previous action, and emits the next
12-d action through a sigmoid; the painter draws it and it is composited "over" the canvas. T steps
paint one image. Gradients flow from the final canvas through every stroke back into the policy.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .. import actions as A
from ..painters import Painter
from ..checks import integer

INKS = ("black", "white", "gray", "color")


class Painting(NamedTuple):
    """What an agent painted: ``canvas`` (B, 3, 64, 64) in [0, 1] and ``actions`` (B, T, 12) in order."""

    canvas: torch.Tensor
    actions: torch.Tensor


def apply_ink(actions: torch.Tensor, ink: str) -> torch.Tensor:
    """Fix the color fields of (..., 12) actions: black or white ink, gray (all = red field) or free color."""
    if ink == "color":
        return actions
    if ink == "gray":
        color = actions[..., A.INDEX["red"]:A.INDEX["red"] + 1].expand(*actions.shape[:-1], 3)
    elif ink in ("black", "white"):
        color = actions.new_full((*actions.shape[:-1], 3), 0.0 if ink == "black" else 1.0)
    else:
        raise ValueError(f"ink must be one of {INKS}, got {ink!r}")
    return torch.cat([actions[..., :A.COLOR.start], color, actions[..., A.COLOR.stop:]], dim=-1)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x):
        return torch.relu(x + self.body(x))


class Policy(nn.Module):
    """(target, canvas, previous action, LSTM state) → (next action in [0, 1]^12, new state).

    The images (B, 3, 64, 64) and two coordinate maps go through three stride-2 convolutions and
    ``blocks`` residual blocks at 8 x 8, a linear layer to ``hidden`` units, joined with an embedding
    of the previous action, into an LSTM cell of ``hidden`` units whose output is mapped to the action.
    """

    def __init__(self, channels: int = 32, hidden: int = 256, blocks: int = 2, size: int = 64):
        super().__init__()
        for key, value, low in (("channels", channels, 1), ("hidden", hidden, 1), ("blocks", blocks, 0)):
            integer(value, key, low)
        if size != A.REFERENCE_SIZE:
            raise ValueError(f"the policy sees {A.REFERENCE_SIZE}-px images (the painter's canvas), got size={size!r}")
        self.channels, self.hidden, self.blocks, self.size = channels, hidden, blocks, size
        c = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(8, c, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * c, 2 * c, 4, stride=2, padding=1), nn.ReLU(),
            *[ResidualBlock(2 * c) for _ in range(blocks)],
            nn.Flatten(), nn.Linear(2 * c * (size // 8) ** 2, hidden), nn.ReLU())
        self.embed = nn.Sequential(nn.Linear(A.NUM_FIELDS, 64), nn.ReLU())
        self.cell = nn.LSTMCell(hidden + 64, hidden)
        self.head = nn.Linear(hidden, A.NUM_FIELDS)
        axis = torch.linspace(-1.0, 1.0, size)
        self.register_buffer("coords", torch.stack(torch.meshgrid(axis, axis, indexing="ij"))[None], persistent=False)
        with torch.no_grad():                 # start with small, inked strokes spread by the input
            self.head.weight.mul_(0.1)
            self.head.bias.zero_()
            self.head.bias[A.PRESSURE] = 2.0

    def config(self) -> dict:
        return dict(channels=self.channels, hidden=self.hidden, blocks=self.blocks, size=self.size)

    def forward(self, target, canvas, previous, state=None):
        coords = self.coords.expand(target.shape[0], -1, -1, -1)
        features = self.encoder(torch.cat([target, canvas, coords], dim=1))
        h, c = self.cell(torch.cat([features, self.embed(previous)], dim=1), state)
        return torch.sigmoid(self.head(h)), (h, c)


class PaintingAgent(nn.Module):
    """A policy and the (frozen) neural painter it paints through: ``agent(target) -> Painting``.

    ``strokes`` actions per image, ``ink`` one of :data:`INKS` (which color fields the policy controls),
    ``background`` the RGB the canvas starts from. ``policy_kwargs`` build the :class:`Policy`.
    """

    def __init__(self, painter: Painter, strokes: int = 8, ink: str = "black", background=(1.0, 1.0, 1.0),
                 **policy_kwargs):
        super().__init__()
        integer(strokes, "strokes")
        if ink not in INKS:
            raise ValueError(f"ink must be one of {INKS}, got {ink!r}")
        bg = torch.as_tensor(background, dtype=torch.float32).reshape(-1)
        if bg.numel() != 3 or not bool(((bg >= 0) & (bg <= 1)).all()):
            raise ValueError(f"background must be an RGB triple in [0, 1], got {background!r}")
        self.strokes, self.ink = strokes, ink
        self.policy = Policy(**policy_kwargs)
        self.painter = painter.requires_grad_(False).eval()
        self.register_buffer("background", bg)

    def config(self) -> dict:
        return dict(strokes=self.strokes, ink=self.ink, background=self.background.tolist(), **self.policy.config())

    def train(self, mode: bool = True):
        super().train(mode)
        self.painter.eval()                   # the painter is a fixed constraint
        return self

    def forward(self, target: torch.Tensor, generator: torch.Generator | None = None) -> Painting:
        """Paint ``target`` (B, 3, 64, 64) in [0, 1]; with a ``generator`` a stochastic painter draws its
        strokes at random (as MyPaint does), otherwise it paints their expected shape."""
        if not isinstance(target, torch.Tensor) or target.ndim != 4 or target.shape[1:] != (3, self.policy.size, self.policy.size):
            shape = tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(f"target must be a float tensor (B, 3, {self.policy.size}, {self.policy.size}) in [0, 1], "
                             f"got {shape}")
        batch = target.shape[0]
        canvas = self.background.view(1, 3, 1, 1).expand(batch, 3, self.policy.size, self.policy.size)
        previous = target.new_zeros(batch, A.NUM_FIELDS)
        state, actions = None, []
        for _ in range(self.strokes):
            action, state = self.policy(target, canvas, previous, state)
            action = apply_ink(action, self.ink)
            alpha = self.painter(action, generator=generator)                  # (B, 1, 64, 64)
            canvas = canvas * (1.0 - alpha) + alpha * action[:, A.COLOR, None, None]
            actions.append(action)
            previous = action
        return Painting(canvas, torch.stack(actions, dim=1))
