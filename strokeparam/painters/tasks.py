"""The painters' training tasks (networks, optimizers, one step) run by ``recipes/train_*_painter.py``."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from ..actions import DEFAULT_BRUSH, random_actions
from ..mypaint.renderer import paints_alike
from ..training import Task, average_gradients
from .base import Painter
from .factory import create_painter
from .fidelity import reference
from .gan import Critic, GANPainter
from .skeleton import SkeletonPainter, calibrate_draws
from .vae import Encoder, VAEPainter

CALIBRATION_SEED = 999          # apart from the data (0, ...) and the benchmark (10007)


class PainterTask(Task):
    """A painter's training; ``name`` is the painter's registry name."""

    def painter(self, brush: str = DEFAULT_BRUSH) -> Painter:
        """The trained painter to export (on the CPU, eval mode); ``brush`` is the MyPaint brush its data was
        painted with."""
        raise NotImplementedError


class SkeletonTask(PainterTask):
    """Per-pixel L1 to one MyPaint render (the median stroke); at export the dab jitter and ink gain of the
    painter's random draws are calibrated against MyPaint on ``calibration_actions`` held-out actions, unless
    the brush paints them alike under two seeds (a brush without randomness: the painter stays
    deterministic)."""

    name = "skeleton"

    def __init__(self, cfg, device):
        super().__init__(cfg, device)
        self.net = SkeletonPainter(**cfg["arch"]).to(device)
        self.modules = {"painter": self.net}
        self.optimizers = {"adam": torch.optim.Adam(self.net.parameters(), lr=cfg["lr"])}

    def train_step(self, batches, step):
        (actions, alpha), = batches
        opt = self.optimizers["adam"]
        self.set_lr(opt, self.cfg["lr"], step, self.cfg["warmup"])
        loss = F.l1_loss(self.net(actions), alpha)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.net)
        opt.step()
        return {"l1": loss.item()}

    def painter(self, brush=DEFAULT_BRUSH):
        painter = SkeletonPainter(**self.cfg["arch"])
        painter.load_state_dict(self.net.state_dict())
        actions = random_actions(self.cfg["calibration_actions"], seed=CALIBRATION_SEED)
        if not paints_alike(brush):
            calibrate_draws(painter.eval(), actions, reference(actions, seeds=1, brush=brush, seed=CALIBRATION_SEED)[0])
        return painter.eval()


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


class GANTask(PainterTask):
    """A conditional WGAN-GP: ``critic_steps`` critic batches (gradient penalty ``gp``), then one generator
    batch with ``rec_weight * 0.5 ** (step / rec_half_life)`` times an L1 reconstruction masked to the
    real stroke's ink (plus ``mask_floor``); ``arch="skeleton"`` with ``init="skeleton"`` starts from the
    shipped skeleton painter (:func:`warm_start`)."""

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

    def painter(self, brush=DEFAULT_BRUSH):
        return self.gen


class VAETask(PainterTask):
    """The paper's two stages, a VAE over strokes (``vae_steps``) then the action → latent MLP
    (``mlp_steps``), and an end-to-end fine-tune of the pair (``finetune_steps``); ``init="vae"`` starts
    from the shipped VAE painter at the fine-tune."""

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

    def painter(self, brush=DEFAULT_BRUSH):
        return self.net
