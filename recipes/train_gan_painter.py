#!/usr/bin/env python
"""Train the GAN painter: a conditional WGAN-GP with a decaying masked reconstruction term.

    python recipes/train_gan_painter.py --preset cpu --data data/strokes --resume --export
    torchrun --nproc_per_node 2 recipes/train_gan_painter.py --preset paper --data data/strokes --resume

Each step trains the critic on ``critic_steps`` batches (Wasserstein loss + gradient penalty on
interpolated strokes, weight ``gp``), then the generator on one more batch: adversarial loss plus
``rec_weight * 0.5 ** (step / rec_half_life)`` times an L1 reconstruction loss masked to the inked pixels
of the real stroke (plus ``mask_floor`` elsewhere).

Presets: ``paper`` and ``deconv-cpu`` train the paper's generator (``arch="deconv"``); ``cpu`` (the shipped
painter) trains ``arch="skeleton"``, the skeleton painter's dab model with per-dab noise, started from the
shipped skeleton weights (``init="skeleton"``) with ``dabs`` dabs per stroke and MyPaint-like ``jitter``
(calibrated on MyPaint renders: 128 dabs at jitter 0.9 start at MyPaint's sharpness). Its reconstruction
term scores the plain, noise-free stroke (``rec_plain``): the mean stroke stays MyPaint's while the critic
shapes the draws' texture.
"""
import sys

import torch

from strokeparam.painters import GANPainter, create_painter
from strokeparam.painters.gan import Critic
from strokeparam.painters.training import Task, average_gradients, main

COMMON = dict(gp=10.0, critic_steps=5, lr=1e-4, betas=(0.5, 0.9), rec_weight=10.0, mask_floor=0.1,
              arch="deconv", init=None, rec_plain=False, critic_lr=None)
SKELETON = dict(COMMON, arch="skeleton", init="skeleton", rec_plain=True, noise_dim=4, dim=16, dabs=128,
                jitter=0.9, draw_gain=1.35)
PRESETS = {
    "smoke": dict(SKELETON, steps=3, batch_size=8, dim=4, rec_half_life=2, log_every=1),
    "cpu": dict(SKELETON, steps=1200, batch_size=64, lr=2e-4, critic_lr=1e-4, rec_weight=10.0,
                rec_half_life=10 ** 9, log_every=25),
    "deconv-cpu": dict(COMMON, steps=3000, batch_size=32, dim=16, noise_dim=8, lr=2e-4, rec_half_life=1000,
                       log_every=25),
    "paper": dict(COMMON, steps=100000, batch_size=64, dim=16, noise_dim=8, rec_half_life=20000, log_every=100),
}


def warm_start(gen: GANPainter) -> None:
    """Copy the shipped skeleton painter's weights into a skeleton-arch generator; the noise inputs and
    the displacement outputs start near zero, so the first draws are the skeleton painter's."""
    source = create_painter("skeleton").state_dict()
    with torch.no_grad():
        for key, value in gen.body.state_dict().items():
            src = source[key]
            if src.shape == value.shape:
                value.copy_(src)
            elif key == "dab_net.0.weight":       # (hidden, 7 + noise): new noise columns keep their init x 0.1
                value[:, :src.shape[1]] = src
                value[:, src.shape[1]:] *= 0.1
            else:                                 # last layer: new displacement rows start at zero
                value.zero_()
                value[:src.shape[0]] = src


class GANTask(Task):
    name = "gan"

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        if cfg["arch"] == "skeleton":
            config = create_painter("skeleton").config()
            skeleton = dict({k: config[k] for k in ("components", "hidden")},
                            **{k: cfg[k] for k in ("dabs", "jitter", "draw_gain")})
            self.gen = GANPainter(noise_dim=cfg["noise_dim"], arch="skeleton", skeleton=skeleton)
            if cfg["init"] == "skeleton":
                warm_start(self.gen)
        else:
            self.gen = GANPainter(dim=cfg["dim"], noise_dim=cfg["noise_dim"])
        self.gen.to(device)
        self.critic = Critic(cfg["dim"]).to(device)
        self.modules = {"generator": self.gen, "critic": self.critic}
        rates = {"generator": cfg["lr"], "critic": cfg["critic_lr"] or cfg["lr"]}
        self.optimizers = {name: torch.optim.Adam(m.parameters(), lr=rates[name], betas=tuple(cfg["betas"]))
                           for name, m in self.modules.items()}
        self.rng = torch.Generator(device=device).manual_seed(12345)
        self.generators = {"noise": self.rng}

    def batches_per_step(self, step):
        return self.cfg["critic_steps"] + 1

    def _fake(self, actions):
        return self.gen(actions, generator=self.rng if self.gen.noise_dim else None)

    def train_step(self, batches, step):
        cfg, opt_c, opt_g = self.cfg, self.optimizers["critic"], self.optimizers["generator"]
        for actions, real in batches[:-1]:
            with torch.no_grad():
                fake = self._fake(actions)
            eps = torch.rand(len(real), 1, 1, 1, device=real.device, generator=self.rng)
            mixed = (eps * real + (1 - eps) * fake).requires_grad_(True)
            grad, = torch.autograd.grad(self.critic(actions, mixed).sum(), mixed, create_graph=True)
            penalty = ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
            wasserstein = self.critic(actions, fake).mean() - self.critic(actions, real).mean()
            loss_c = wasserstein + cfg["gp"] * penalty
            opt_c.zero_grad(set_to_none=True)
            loss_c.backward()
            average_gradients(self.critic)
            opt_c.step()
        actions, real = batches[-1]
        fake = self._fake(actions)
        mask = (real > 0.0).float() + cfg["mask_floor"]
        plain = self.gen(actions) if cfg["rec_plain"] else fake
        rec = ((plain - real).abs() * mask).sum() / mask.sum()
        rec_weight = cfg["rec_weight"] * 0.5 ** (step / cfg["rec_half_life"])
        adv = -self.critic(actions, fake).mean()
        loss_g = adv + rec_weight * rec
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        average_gradients(self.gen)
        opt_g.step()
        return {"critic": loss_c.item(), "wasserstein": -wasserstein.item(), "gp": penalty.item(),
                "adv": adv.item(), "rec": rec.item(), "rec_weight": rec_weight}

    def painter(self):
        return self.gen


if __name__ == "__main__":
    sys.exit(main(GANTask, PRESETS))
