#!/usr/bin/env python
"""Train the paper's GAN painter: a conditional WGAN-GP with a decaying masked reconstruction term.

    python recipes/train_gan_painter.py --preset cpu --data data/strokes --resume --export
    torchrun --nproc_per_node 2 recipes/train_gan_painter.py --preset paper --data data/strokes --resume

Each step trains the critic on ``critic_steps`` batches (Wasserstein loss + gradient penalty on
interpolated strokes, weight ``gp``), then the generator on one more batch: adversarial loss plus
``rec_weight * 0.5 ** (step / rec_half_life)`` times an L1 reconstruction loss masked to the inked pixels
of the real stroke (plus ``mask_floor`` elsewhere).
"""
import sys

import torch

from strokeparam.painters import GANPainter
from strokeparam.painters.gan import Critic
from strokeparam.painters.training import Task, average_gradients, main

COMMON = dict(gp=10.0, critic_steps=5, lr=1e-4, betas=(0.5, 0.9), rec_weight=10.0, mask_floor=0.1)
PRESETS = {
    "smoke": dict(COMMON, steps=3, batch_size=8, dim=4, noise_dim=4, rec_half_life=2, log_every=1),
    "cpu": dict(COMMON, steps=3000, batch_size=32, dim=16, noise_dim=8, lr=2e-4, rec_half_life=1000,
                log_every=25),
    "paper": dict(COMMON, steps=100000, batch_size=64, dim=16, noise_dim=8, rec_half_life=20000, log_every=100),
}


class GANTask(Task):
    name = "gan"

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        self.gen = GANPainter(dim=cfg["dim"], noise_dim=cfg["noise_dim"]).to(device)
        self.critic = Critic(cfg["dim"]).to(device)
        self.modules = {"generator": self.gen, "critic": self.critic}
        self.optimizers = {name: torch.optim.Adam(m.parameters(), lr=cfg["lr"], betas=tuple(cfg["betas"]))
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
        rec = ((fake - real).abs() * mask).sum() / mask.sum()
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
