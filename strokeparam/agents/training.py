"""Training painting agents: losses, the preconditioning schedule, and the loop (checkpoints, resume, DDP).

One step runs ``critic_steps`` WGAN-GP critic updates (gradient penalty ``gp_weight``), then paints a
batch of targets through the neural painter and updates the policy on

    adv_weight * -critic(painting, target) + mse_weight * MSE(painting, target) + w_force(step) * forcing
        + agreement_weight * agreement.

With ``painter_draws`` the canvas is painted with random draws of a stochastic painter (so the policy is
scored on strokes as variable as MyPaint's, not on their expected shape). The MSE is summed over
``mse_levels`` scales (2x average pooling each: coarse levels pull strokes towards ink they do not yet
touch); the logged ``mse`` is the full-resolution one. With templates (MNIST: the digit templates;
kanji: each character's own human strokes), the first ``precondition_steps`` steps train on the forcing
loss alone (the paper's preconditioning); afterwards its weight falls linearly from ``forcing_weight``
to ``forcing_floor`` over ``forcing_decay_steps``. The MSE and the critic are blind to stroke order
and direction; the agreement loss (:func:`.templates.agreement_loss`, after preconditioning) keeps them:
a hinge that is zero once the first strokes follow the template in order and direction, whatever their
shape (``only_template``: and no ink past the template's strokes). Critic fakes are either fresh
rollouts of other batches (``fresh_critic_fakes``, the textbook way) or ``critic_steps`` slices of the
policy's own rollout (no extra painting: the CPU way). ``jitter`` > 0 moves each target (and its
template) by a random scale and shift of up to that fraction (:func:`.templates.jitter`).

The loop (checkpoints, resume, the metrics log, process groups) is :func:`strokeparam.training.train`.
"""
from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..painters import DEFAULT_PAINTER, create_painter
from ..training import EpochStream, Task, average_gradients, preset_config, train, world
from .agent import PaintingAgent
from .critic import Critic, gradient_penalty
from .datasets import DATASETS, INK, ImageSet, load_dataset
from .evaluate import evaluate
from .templates import Templates, agreement_loss, forcing_loss, human_templates, jitter, load_templates
from .weights_io import WEIGHTS_DIR, save_agent


class ImageStream(EpochStream):
    """Batches ``(images, labels)`` of a dataset in a seeded per-epoch order, each process its own slice;
    with ``mirror`` each image is flipped left-right with probability 1/2 (seeded by the data position)."""

    def __init__(self, data: ImageSet, batch: int, seed: int, rank: int, size: int, device: torch.device,
                 mirror: bool = False):
        super().__init__(len(data), batch, seed, rank, size, device)
        self.data, self.info, self.mirror = data, data.info, mirror

    def batch_of(self, indices: torch.Tensor):
        labels = None if self.data.labels is None else self.data.labels[indices].to(self.device)
        images = self.data.images(indices)
        if self.mirror:
            coin = torch.Generator().manual_seed(self.seed * 7919 + self.position * 31 + self.rank)
            flip = torch.rand(len(images), generator=coin) < 0.5
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
        return images.to(self.device), labels


def pyramid_mse(image: torch.Tensor, target: torch.Tensor, levels: int = 1) -> torch.Tensor:
    """Sum of the MSEs at ``levels`` scales, halving the resolution by average pooling each time."""
    loss = F.mse_loss(image, target)
    for _ in range(levels - 1):
        image, target = F.avg_pool2d(image, 2), F.avg_pool2d(target, 2)
        loss = loss + F.mse_loss(image, target)
    return loss


class AgentTask(Task):
    """The agent (policy + frozen painter) and the critic, with their optimizers and one training step."""

    name = "agent"
    columns = ("mse", "forcing", "w_force", "agreement", "adv", "wasserstein", "gp")

    def __init__(self, cfg: dict, device: torch.device, painter, ink: str, templates: Templates | None = None):
        super().__init__(cfg, device)
        self.agent = PaintingAgent(painter, strokes=cfg["strokes"], ink=ink, background=cfg["background"],
                                   **cfg["policy"]).to(device)
        self.critic = Critic(**cfg["critic"]).to(device)
        self.templates = templates
        self.modules = {"agent": self.agent, "critic": self.critic}
        self.optimizers = {"policy": torch.optim.Adam(self.agent.policy.parameters(), lr=cfg["lr"], betas=(0.5, 0.9)),
                           "critic": torch.optim.Adam(self.critic.parameters(), lr=cfg["critic_lr"], betas=(0.5, 0.9))}

    def preconditioning(self, step: int) -> bool:
        return self.templates is not None and step < self.cfg["precondition_steps"]

    def forcing_weight(self, step: int) -> float:
        """1 while preconditioning, then ``forcing_weight`` decaying linearly to ``forcing_floor``; 0 without
        templates."""
        if self.templates is None:
            return 0.0
        if self.preconditioning(step):
            return 1.0
        done = (step - self.cfg["precondition_steps"]) / max(1, self.cfg["forcing_decay_steps"])
        floor = self.cfg["forcing_floor"]
        return floor + (self.cfg["forcing_weight"] - floor) * max(0.0, 1.0 - done)

    def adversarial(self, step: int) -> bool:
        return not self.preconditioning(step) and self.cfg["adv_weight"] > 0 and self.cfg["critic_steps"] > 0

    def batches_per_step(self, step: int) -> int:
        fresh = self.adversarial(step) and self.cfg["fresh_critic_fakes"]
        return 1 + (self.cfg["critic_steps"] if fresh else 0)

    def step_seed(self, step: int) -> int:
        """The seed of ``step``'s randomness (painter draws, jitter): a function of seed, step and rank."""
        return (self.seed * 1_000_003 + step) * 64 + world()[0]

    def generator(self, step: int) -> torch.Generator | None:
        """The painter's random draws at ``step`` (None: expected strokes)."""
        if not self.cfg.get("painter_draws") or not self.agent.painter.stochastic:
            return None
        return torch.Generator(self.device).manual_seed(self.step_seed(step))

    def critic_step(self, fake: torch.Tensor, target: torch.Tensor) -> dict:
        real_score, fake_score = self.critic(target, target).mean(), self.critic(fake, target).mean()
        gp = gradient_penalty(self.critic, target, fake, target)
        loss = fake_score - real_score + self.cfg["gp_weight"] * gp
        opt = self.optimizers["critic"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.critic)
        opt.step()
        return {"wasserstein": (real_score - fake_score).item(), "gp": gp.item()}

    def train_step(self, batches: list, step: int) -> dict:
        target, labels = batches[0]
        templates = self.templates
        if self.cfg["jitter"] > 0:
            coin = torch.Generator().manual_seed(self.step_seed(step))
            target, labels, templates = jitter(target, labels, templates, self.cfg["jitter"], coin)
        logs, generator = [], self.generator(step)
        if self.adversarial(step) and self.cfg["fresh_critic_fakes"]:
            for critic_target, _ in batches[1:]:
                with torch.no_grad():
                    fake = self.agent(critic_target, generator).canvas
                logs.append(self.critic_step(fake, critic_target))
        painting = self.agent(target, generator)
        canvas = painting.canvas
        if self.adversarial(step) and not self.cfg["fresh_critic_fakes"]:
            slices = min(self.cfg["critic_steps"], len(target))
            for fake, critic_target in zip(canvas.detach().tensor_split(slices), target.tensor_split(slices)):
                logs.append(self.critic_step(fake, critic_target))
        mse = F.mse_loss(canvas, target)
        w_force = self.forcing_weight(step)
        out = {"mse": mse.item()}
        if self.preconditioning(step):
            loss = forcing_loss(painting.actions, labels, templates)
            out["forcing"] = loss.item()
        else:
            loss = self.cfg["mse_weight"] * pyramid_mse(canvas, target, self.cfg["mse_levels"])
            if w_force > 0:
                forcing = forcing_loss(painting.actions, labels, templates)
                loss = loss + w_force * forcing
                out["forcing"] = forcing.item()
            if templates is not None and self.cfg["agreement_weight"] > 0:
                agreement = agreement_loss(painting.actions, labels, templates, self.cfg["agreement_margin"],
                                           only_template=self.cfg["only_template"])
                loss = loss + self.cfg["agreement_weight"] * agreement
                out["agreement"] = agreement.item()
            if self.adversarial(step):
                self.critic.requires_grad_(False)
                adv = -self.critic(canvas, target).mean()
                self.critic.requires_grad_(True)
                loss = loss + self.cfg["adv_weight"] * adv
                out["adv"] = adv.item()
        opt = self.optimizers["policy"]
        # the cosine follows whichever runs out first: the planned steps or the wall-time budget
        self.set_lr(opt, self.cfg["lr"], max(step, round(self.time_used * self.cfg["steps"])), self.cfg["warmup"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.agent.policy)
        opt.step()
        for key in ("wasserstein", "gp"):
            if logs:
                out[key] = float(np.mean([row[key] for row in logs]))
        out["w_force"] = w_force
        return out


# -- the command line ----------------------------------------------------------------------------------
def parser(presets: dict) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Train a painting agent through a neural painter.")
    p.add_argument("--preset", default="cpu", choices=sorted(presets), help="hyperparameter preset")
    p.add_argument("--dataset", default="mnist", choices=DATASETS, help="target images")
    p.add_argument("--root", type=Path, help="dataset folder (kmnist, celeba; kanji: another KanjiVG folder)")
    p.add_argument("--limit", type=int, help="use only the first LIMIT training images")
    p.add_argument("--run-dir", "--run", dest="run", type=Path,
                   help="run folder for checkpoints and logs (default runs/agent-<dataset>-<preset>); "
                        "under torchrun spell it --run-dir (torchrun takes --run for its own --run-path)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint if any")
    p.add_argument("--steps", type=int, help="override the preset's number of steps")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size (per process)")
    p.add_argument("--strokes", type=int, help="override the preset's strokes per image")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset entry (VALUE parsed as JSON), e.g. --set precondition_steps=500")
    p.add_argument("--no-precondition", action="store_true", help="no template forcing (MNIST, kanji: the ablation)")
    p.add_argument("--painter", default=DEFAULT_PAINTER, help="neural painter to paint through")
    p.add_argument("--untrained-painter", action="store_true",
                   help="use a freshly initialised painter (until trained painter weights exist)")
    p.add_argument("--max-minutes", type=float,
                   help="stop (checkpoint and export) after this much wall time; the learning rate decays by then")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--export", action="store_true", help="write the agent's safetensors + card at the end")
    p.add_argument("--export-dir", type=Path, default=WEIGHTS_DIR, help="where --export writes")
    p.add_argument("--export-name", help="file stem of the exported agent (default: the dataset name)")
    p.add_argument("--eval-images", type=int, default=200, help="held-out images scored into the card")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads per process")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p


def _painter(args):
    try:
        return create_painter(args.painter, pretrained=not args.untrained_painter)
    except FileNotFoundError as exc:
        raise SystemExit(f"{exc}; pass --untrained-painter to train through an untrained one") from None
    except KeyError as exc:
        raise SystemExit(str(exc.args[0])) from None


def templates(data: ImageSet, strokes: int) -> Templates:
    """The forcing templates of a dataset: the hand-drawn digits (MNIST), each character's own human
    strokes (kanji)."""
    return load_templates() if data.name == "mnist" else human_templates(data.strokes, strokes)


def main(presets: dict, argv=None) -> int:
    """Run the agent recipe from the command line (see ``--help``)."""
    args = parser(presets).parse_args(argv)
    cfg = preset_config(presets, args, ("steps", "batch_size", "strokes", "limit"))
    try:
        data = load_dataset(args.dataset, "train", root=args.root, limit=cfg.get("limit"))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise SystemExit(str(exc)) from None
    use_templates = (args.dataset in ("mnist", "kanji") and not args.no_precondition
                     and cfg["precondition_steps"] + cfg["forcing_weight"] > 0)
    if not all(0.0 <= v <= 1.0 for v in cfg["background"]):
        raise SystemExit(f"--set background: the canvas color is an RGB triple in [0, 1], got {cfg['background']}")
    if use_templates and cfg["mirror"]:
        raise SystemExit("--set mirror=true flips the targets away from their stroke templates; "
                         "use it with --no-precondition or for faces / celeba")
    identity = dict(preset=args.preset, dataset=args.dataset, painter=args.painter,
                    untrained_painter=args.untrained_painter, templates=use_templates)
    return train(args, cfg, args.run or Path("runs") / f"agent-{args.dataset}-{args.preset}", identity,
                 lambda device: AgentTask(cfg, device, _painter(args), INK[args.dataset],
                                          templates(data, cfg["strokes"]) if use_templates else None),
                 lambda start, rank, size, device: ImageStream(data, cfg["batch_size"], args.seed, rank, size, device,
                                                               mirror=cfg["mirror"]),
                 export, desc=f"agent/{args.dataset}/{args.preset}")


def export(task: AgentTask, summary: dict, cfg: dict, args) -> None:
    """Write the trained agent and its card (with held-out scores) to ``args.export_dir``."""
    agent = task.agent.cpu().eval()
    card = dict(summary, hyperparameters=cfg,
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                torch_version=torch.__version__, parameters=sum(p.numel() for p in agent.policy.parameters()))
    if args.eval_images > 0:
        test = load_dataset(args.dataset, "test", root=args.root, limit=args.eval_images)
        train_mean = load_dataset(args.dataset, "train", root=args.root, limit=cfg.get("limit")).images().mean(0)
        card["evaluation"] = evaluate(agent, test, mean_image=train_mean)[0]
    save_agent(agent, Path(args.export_dir) / f"{args.export_name or args.dataset}.safetensors", card)
