"""The GAN painter: a conditional WGAN-GP generator (action + noise → stroke) and its critic.

Two generators: ``arch="deconv"``, the paper's (an FC layer and four transposed convolutions), and
``arch="skeleton"``, the skeleton painter's dab model reading per-dab noise (its expected stroke refined
into MyPaint's texture by the critic; any canvas size, ~100x fewer parameters and faster).
"""
from __future__ import annotations

import torch
from torch import nn

from .. import actions as A
from .base import Painter
from .registry import register_painter
from .skeleton import SkeletonPainter

ARCHS = ("deconv", "skeleton")


def _up(cin: int, cout: int, last: bool = False) -> list[nn.Module]:
    conv = nn.ConvTranspose2d(cin, cout, 4, 2, 1)
    return [conv, nn.Sigmoid()] if last else [conv, nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


@register_painter
class GANPainter(Painter):
    """Generator of a conditional WGAN-GP: action (+ noise) → stroke alpha.

    ``arch="deconv"`` (the paper's): FC 4×4×16·dim → four stride-2 transposed convs → 64×64 alpha.
    ``arch="skeleton"``: a :class:`SkeletonPainter` with ``noise_dim`` noise inputs per dab (``skeleton``:
    its other keyword arguments); ``dim`` is unused. With ``noise_dim > 0`` it is stochastic:
    ``forward(actions, generator=g)`` draws the noise from ``g``; without a generator the noise is zero,
    so plain calls are deterministic.
    """

    name = "gan"

    def __init__(self, size: int = 64, dim: int = 16, noise_dim: int = 8, arch: str = "deconv",
                 skeleton: dict | None = None):
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}; got {arch!r}")
        self.resizable = arch == "skeleton"
        super().__init__(size)
        if not isinstance(dim, int) or dim < 1 or not isinstance(noise_dim, int) or noise_dim < 0:
            raise ValueError(f"dim must be an integer >= 1 and noise_dim >= 0; got {dim!r}, {noise_dim!r}")
        if skeleton is not None and (arch != "skeleton" or not isinstance(skeleton, dict)):
            raise ValueError("skeleton must be a dict of SkeletonPainter settings with arch='skeleton'; "
                             f"got {skeleton!r}")
        self.dim, self.noise_dim, self.arch, self.skeleton_config = dim, noise_dim, arch, dict(skeleton or {})
        self.stochastic = noise_dim > 0
        if arch == "skeleton":
            if {"size", "noise_dim"} & set(self.skeleton_config):
                raise ValueError("skeleton settings take no 'size' or 'noise_dim' (they are the GAN painter's own)")
            self.body = SkeletonPainter(size=size, noise_dim=noise_dim, **self.skeleton_config)
            return
        self.fc = nn.Sequential(nn.Linear(A.NUM_FIELDS + noise_dim, 4 * 4 * 16 * dim),
                                nn.BatchNorm1d(4 * 4 * 16 * dim), nn.ReLU(inplace=True))
        self.deconv = nn.Sequential(*_up(16 * dim, 8 * dim), *_up(8 * dim, 4 * dim), *_up(4 * dim, 2 * dim),
                                    *_up(2 * dim, 1, last=True))

    def set_margin(self, margin: int) -> None:
        self.margin = margin
        self.body.set_margin(margin)

    def config(self) -> dict:
        config = dict(size=self.size, dim=self.dim, noise_dim=self.noise_dim)
        return dict(config, arch=self.arch, skeleton=self.skeleton_config) if self.arch == "skeleton" else config

    def noise(self, n: int, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            return like.new_zeros((n, self.noise_dim))
        return torch.randn((n, self.noise_dim), generator=generator, device=generator.device).to(like)

    def paint(self, actions: torch.Tensor, generator=None) -> torch.Tensor:
        if self.arch == "skeleton":
            return self.body.paint(actions, generator)
        x = actions.to(self.fc[0].weight.dtype)
        if self.noise_dim:
            x = torch.cat([x, self.noise(len(x), x, generator)], 1)
        return self.deconv(self.fc(x).view(len(x), 16 * self.dim, 4, 4))


class Critic(nn.Module):
    """WGAN critic on (action, stroke) pairs: strided convs on the stroke, joined with the action."""

    def __init__(self, dim: int = 16):
        super().__init__()
        layers, cin = [], 1
        for cout in (dim, 2 * dim, 4 * dim, 8 * dim):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin = cout
        self.conv = nn.Sequential(*layers)
        self.embed = nn.Sequential(nn.Linear(A.NUM_FIELDS, 128), nn.LeakyReLU(0.2, inplace=True))
        self.head = nn.Sequential(nn.Linear(8 * dim * 16 + 128, 256), nn.LeakyReLU(0.2, inplace=True),
                                  nn.Linear(256, 1))

    def forward(self, actions: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        h = self.conv(alpha).flatten(1)
        return self.head(torch.cat([h, self.embed(actions)], 1))[:, 0]
