"""The WGAN-GP critic on (image, target) pairs: real pairs are (target, target), fake ones (painting, target)."""
from __future__ import annotations

import torch
from torch import nn

from ..checks import integer


class Critic(nn.Module):
    """(image, target), both (B, 3, 64, 64) → score (B,): four stride-2 convolutions (LeakyReLU), linear.

    No normalization layers, as the gradient penalty asks.
    """

    def __init__(self, channels: int = 32, size: int = 64):
        super().__init__()
        integer(channels, "channels")
        self.channels, self.size = channels, size
        c, layers, width = channels, [], 6
        for out in (c, 2 * c, 4 * c, 4 * c):
            layers += [nn.Conv2d(width, out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            width = out
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(4 * c * (size // 16) ** 2, 1))

    def config(self) -> dict:
        return dict(channels=self.channels, size=self.size)

    def forward(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([image, target], dim=1))[:, 0]


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, target: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean of (‖∇ critic‖ - 1)² at random points between real and fake images (the target held fixed)."""
    eps = torch.rand(real.shape[0], 1, 1, 1, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed, target).sum(), mixed, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1.0).square().mean()
