"""The paper's VAE painter: a VAE over stroke images and an action → latent network trained against it."""
from __future__ import annotations

import torch
from torch import nn

from .. import actions as A
from .base import Painter
from .registry import register_painter

LATENT = 64


class Encoder(nn.Module):
    """Stroke (N, 1, 64, 64) → (mu, logvar) of a ``latent``-d Gaussian; four stride-2 convs."""

    def __init__(self, width: int = 32, latent: int = LATENT):
        super().__init__()
        layers, cin = [], 1
        for cout in (width, 2 * width, 4 * width, 8 * width):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.ReLU(inplace=True)]
            cin = cout
        self.conv = nn.Sequential(*layers)
        self.head = nn.Linear(8 * width * 16, 2 * latent)

    def forward(self, alpha: torch.Tensor):
        mu, logvar = self.head(self.conv(alpha).flatten(1)).chunk(2, dim=1)
        return mu, logvar


class Decoder(nn.Module):
    """Latent → FC 4×4×8·width → four stride-2 transposed convs → alpha (N, 1, 64, 64)."""

    def __init__(self, width: int = 32, latent: int = LATENT):
        super().__init__()
        self.width = width
        self.fc = nn.Sequential(nn.Linear(latent, 8 * width * 16), nn.ReLU(inplace=True))
        layers, cin = [], 8 * width
        for cout in (4 * width, 2 * width, width):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.ReLU(inplace=True)]
            cin = cout
        layers += [nn.ConvTranspose2d(cin, 1, 4, 2, 1)]
        self.deconv = nn.Sequential(*layers)

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(len(z), 8 * self.width, 4, 4))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(z))


class ActionToLatent(nn.Module):
    """MLP 12 → 256 → 64, then two 64 → 64 heads: mu and logvar of the stroke's latent."""

    def __init__(self, latent: int = LATENT):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(A.NUM_FIELDS, 256), nn.ReLU(inplace=True), nn.Linear(256, 64),
                                  nn.ReLU(inplace=True))
        self.mu = nn.Linear(64, latent)
        self.logvar = nn.Linear(64, latent)

    def forward(self, actions: torch.Tensor):
        h = self.body(actions)
        return self.mu(h), self.logvar(h)


@register_painter
class VAEPainter(Painter):
    """Action → latent mean (stage 2 MLP) → VAE decoder (stage 1). Deterministic."""

    name = "vae"

    def __init__(self, size: int = 64, width: int = 32, latent: int = LATENT):
        super().__init__(size)
        if not isinstance(width, int) or width < 1 or not isinstance(latent, int) or latent < 1:
            raise ValueError(f"width and latent must be positive integers, got {width!r}, {latent!r}")
        self.width, self.latent = width, latent
        self.to_latent = ActionToLatent(latent)
        self.decoder = Decoder(width, latent)

    def config(self) -> dict:
        return dict(size=self.size, width=self.width, latent=self.latent)

    def paint(self, actions: torch.Tensor, generator=None) -> torch.Tensor:
        mu, _ = self.to_latent(actions.to(self.to_latent.mu.weight.dtype))
        return self.decoder(mu)
