#!/usr/bin/env python
"""Train the paper's VAE painter in two stages, then fine-tune the pair end to end.

    python recipes/train_vae_painter.py --preset cpu --data data/strokes --resume --export

Stage 1 (``vae_steps``): a VAE over stroke images, binary cross-entropy reconstruction plus KL with free
bits (each latent dimension's KL counts at least ``free_bits`` nats). Stage 2 (``mlp_steps``): the action
→ latent MLP learns to predict the frozen encoder's posterior (KL(q(z|stroke) || p(z|action))).
Stage 3 (``finetune_steps``, not in the paper): the action → latent MLP and the decoder together learn
MyPaint's stroke from the action (binary cross-entropy of the painted stroke), so the errors of the two
networks stop adding up. ``init="vae"`` starts from the shipped VAE painter (stages 1 and 2 done).
"""
import sys

import torch
from torch.nn import functional as F

from strokeparam.painters import VAEPainter, create_painter
from strokeparam.painters.training import Task, average_gradients, main
from strokeparam.painters.vae import Encoder

PRESETS = {
    "smoke": dict(vae_steps=3, mlp_steps=3, finetune_steps=3, batch_size=8, width=4, lr=1e-3,
                  finetune_lr=1e-3, free_bits=0.25, init=None, log_every=1),
    "cpu": dict(vae_steps=3000, mlp_steps=2000, finetune_steps=20000, batch_size=64, width=16, lr=1e-3,
                finetune_lr=5e-4, free_bits=0.25, init=None, log_every=25),
    "paper": dict(vae_steps=50000, mlp_steps=50000, finetune_steps=0, batch_size=64, width=32, lr=1e-4,
                  finetune_lr=1e-4, free_bits=0.25, init=None, log_every=100),
}


class VAETask(Task):
    name = "vae"

    @staticmethod
    def configure(cfg):
        if cfg["init"] not in (None, "vae"):
            raise SystemExit(f"init must be null or \"vae\", got {cfg['init']!r}")
        if cfg["init"] == "vae":      # the shipped painter has done stages 1 and 2
            cfg = dict(cfg, vae_steps=0, mlp_steps=0)
        return dict(cfg, steps=cfg["vae_steps"] + cfg["mlp_steps"] + cfg["finetune_steps"])

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        if cfg["init"] == "vae":
            self.net = create_painter("vae").train().to(device)
            if self.net.width != cfg["width"]:
                raise SystemExit(f"init=vae: the shipped VAE has width {self.net.width}, the preset {cfg['width']}")
        else:
            self.net = VAEPainter(width=cfg["width"]).to(device)
        self.encoder = Encoder(cfg["width"]).to(device)
        self.modules = {"painter": self.net, "encoder": self.encoder}
        vae_params = list(self.encoder.parameters()) + list(self.net.decoder.parameters())
        self.optimizers = {"vae": torch.optim.Adam(vae_params, lr=cfg["lr"]),
                           "mlp": torch.optim.Adam(self.net.to_latent.parameters(), lr=cfg["lr"]),
                           "finetune": torch.optim.Adam(self.net.parameters(), lr=cfg["finetune_lr"])}
        self.rng = torch.Generator(device=device).manual_seed(54321)
        self.generators = {"noise": self.rng}

    def train_step(self, batches, step):
        (actions, alpha), = batches
        cfg = self.cfg
        if step < cfg["vae_steps"]:
            mu, logvar = self.encoder(alpha)
            z = mu + torch.randn(mu.shape, generator=self.rng, device=mu.device) * (0.5 * logvar).exp()
            rec = F.binary_cross_entropy_with_logits(self.net.decoder.logits(z), alpha, reduction="sum") / len(z)
            kl_dim = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).mean(0)
            kl = kl_dim.clamp_min(cfg["free_bits"]).sum()
            loss, opt = rec + kl, self.optimizers["vae"]
            logs = {"rec_bce": rec.item(), "kl": kl_dim.sum().item()}
            params = [self.encoder, self.net.decoder]
            self.set_lr(opt, cfg["lr"], step, total=cfg["vae_steps"])
        elif step < cfg["vae_steps"] + cfg["mlp_steps"]:
            with torch.no_grad():
                mu_e, logvar_e = self.encoder(alpha)
            mu_a, logvar_a = self.net.to_latent(actions)
            loss = 0.5 * (logvar_a - logvar_e + (logvar_e.exp() + (mu_e - mu_a) ** 2) / logvar_a.exp() - 1)
            loss = loss.sum(1).mean()
            opt, params, logs = self.optimizers["mlp"], [self.net.to_latent], {"latent_kl": loss.item()}
            self.set_lr(opt, cfg["lr"], step - cfg["vae_steps"], total=cfg["mlp_steps"])
        else:
            mu, _ = self.net.to_latent(actions)
            loss = F.binary_cross_entropy_with_logits(self.net.decoder.logits(mu), alpha, reduction="sum") / len(mu)
            opt, params, logs = self.optimizers["finetune"], [self.net], {"finetune_bce": loss.item()}
            start = cfg["vae_steps"] + cfg["mlp_steps"]
            self.set_lr(opt, cfg["finetune_lr"], step - start, warmup=100, total=cfg["finetune_steps"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(*params)
        opt.step()
        return logs

    def painter(self):
        return self.net


if __name__ == "__main__":
    sys.exit(main(VAETask, PRESETS))
