"""Training painting agents: losses, the preconditioning schedule, and the loop (checkpoints, resume, DDP).

One step paints a batch of targets through the neural painter and updates the policy on

    adv_weight * -critic(painting, target) + mse_weight * MSE(painting, target) + w_force(step) * forcing,

where the MSE is summed over ``mse_levels`` scales (2x average pooling each: coarse levels pull strokes
towards ink they do not yet touch); the logged ``mse`` is the full-resolution one.

after ``critic_steps`` WGAN-GP critic updates (gradient penalty ``gp_weight``). With templates (MNIST),
the first ``precondition_steps`` steps train on the forcing loss alone (the paper's preconditioning);
afterwards its weight falls linearly from ``forcing_weight`` to 0 over ``forcing_decay_steps``.
Critic fakes are either fresh rollouts of other batches (``fresh_critic_fakes``, the textbook way) or
``critic_steps`` slices of the policy's own rollout (no extra painting: the CPU way).

Checkpoints, the metrics log and process groups are those of :mod:`strokeparam.painters.training`.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from tqdm import tqdm

from ..data import atomic_write_bytes
from ..painters import DEFAULT_PAINTER, create_painter
from ..painters.training import (CHECKPOINT, MetricsLog, Task, _setup_distributed, average_gradients,
                                 load_checkpoint, save_checkpoint, world)
from .agent import PaintingAgent
from .critic import Critic, gradient_penalty
from .datasets import DATASETS, INK, ImageSet, load_dataset
from .evaluate import evaluate
from .templates import Templates, forcing_loss, load_templates
from .weights_io import WEIGHTS_DIR, save_agent


class ImageStream:
    """Batches ``(images, labels)`` of a dataset in a seeded per-epoch order, each process its own slice."""

    def __init__(self, data: ImageSet, batch: int, seed: int, rank: int, size: int, device: torch.device):
        self.data, self.batch, self.seed, self.rank, self.size, self.device = data, batch, seed, rank, size, device
        self.position = 0          # global image counter

    def next(self):
        n, want, idx = len(self.data), self.batch * self.size, []
        while len(idx) < want:
            epoch, offset = divmod(self.position, n)
            take = min(want - len(idx), n - offset)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))
            idx.extend(order[offset:offset + take].tolist())
            self.position += take
        mine = torch.tensor(idx[self.rank * self.batch:(self.rank + 1) * self.batch])
        labels = None if self.data.labels is None else self.data.labels[mine].to(self.device)
        return self.data.images(mine).to(self.device), labels

    def state(self) -> dict:
        return {"position": self.position}

    def load(self, state: dict) -> None:
        self.position = int(state.get("position", 0))


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

    def __init__(self, cfg: dict, device: torch.device, painter, ink: str, templates: Templates | None = None):
        super().__init__(cfg, device)
        self.agent = PaintingAgent(painter, strokes=cfg["strokes"], ink=ink, **cfg["policy"]).to(device)
        self.critic = Critic(**cfg["critic"]).to(device)
        self.templates = templates
        self.time_used = 0.0          # fraction of a wall-time budget spent (set by the loop)
        self.modules = {"agent": self.agent, "critic": self.critic}
        self.optimizers = {"policy": torch.optim.Adam(self.agent.policy.parameters(), lr=cfg["lr"], betas=(0.5, 0.9)),
                           "critic": torch.optim.Adam(self.critic.parameters(), lr=cfg["critic_lr"], betas=(0.5, 0.9))}

    def preconditioning(self, step: int) -> bool:
        return self.templates is not None and step < self.cfg["precondition_steps"]

    def forcing_weight(self, step: int) -> float:
        """1 while preconditioning, then ``forcing_weight`` decaying linearly to 0; 0 without templates."""
        if self.templates is None:
            return 0.0
        if self.preconditioning(step):
            return 1.0
        done = (step - self.cfg["precondition_steps"]) / max(1, self.cfg["forcing_decay_steps"])
        return self.cfg["forcing_weight"] * max(0.0, 1.0 - done)

    def adversarial(self, step: int) -> bool:
        return not self.preconditioning(step) and self.cfg["adv_weight"] > 0 and self.cfg["critic_steps"] > 0

    def batches_per_step(self, step: int) -> int:
        fresh = self.adversarial(step) and self.cfg["fresh_critic_fakes"]
        return 1 + (self.cfg["critic_steps"] if fresh else 0)

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
        logs = []
        if self.adversarial(step) and self.cfg["fresh_critic_fakes"]:
            for critic_target, _ in batches[1:]:
                with torch.no_grad():
                    fake = self.agent(critic_target).canvas
                logs.append(self.critic_step(fake, critic_target))
        painting = self.agent(target)
        canvas = painting.canvas
        if self.adversarial(step) and not self.cfg["fresh_critic_fakes"]:
            slices = min(self.cfg["critic_steps"], len(target))
            for fake, critic_target in zip(canvas.detach().tensor_split(slices), target.tensor_split(slices)):
                logs.append(self.critic_step(fake, critic_target))
        mse = F.mse_loss(canvas, target)
        w_force = self.forcing_weight(step)
        out = {"mse": mse.item()}
        if self.preconditioning(step):
            loss = forcing_loss(painting.actions, labels, self.templates)
            out["forcing"] = loss.item()
        else:
            loss = self.cfg["mse_weight"] * pyramid_mse(canvas, target, self.cfg["mse_levels"])
            if w_force > 0:
                forcing = forcing_loss(painting.actions, labels, self.templates)
                loss = loss + w_force * forcing
                out["forcing"] = forcing.item()
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
    p.add_argument("--no-precondition", action="store_true", help="no template forcing (MNIST ablation)")
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


def main(presets: dict, argv=None) -> int:
    """Run the agent recipe from the command line (see ``--help``)."""
    args = parser(presets).parse_args(argv)
    cfg = dict(presets[args.preset])
    for key in ("steps", "batch_size", "strokes", "limit"):
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{key.replace('_', '-')} must be >= 1")
            cfg[key] = value
    if args.threads:
        torch.set_num_threads(args.threads)
    device = _setup_distributed()
    rank, size = world()
    run = args.run or Path("runs") / f"agent-{args.dataset}-{args.preset}"
    ckpt = run / CHECKPOINT
    if rank == 0:
        run.mkdir(parents=True, exist_ok=True)
        if ckpt.exists() and not args.resume:
            raise SystemExit(f"{run} already holds a checkpoint; pass --resume or choose another --run")
    try:
        data = load_dataset(args.dataset, "train", root=args.root, limit=cfg.get("limit"))
    except (FileNotFoundError, ValueError, KeyError) as exc:
        raise SystemExit(str(exc)) from None
    use_templates = args.dataset == "mnist" and not args.no_precondition and cfg["precondition_steps"] + cfg["forcing_weight"] > 0
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    task = AgentTask(cfg, device, _painter(args), INK[args.dataset], load_templates() if use_templates else None)
    for module in task.modules.values():          # every process starts from rank 0's weights
        if size > 1:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, 0)
    identity = dict(preset=args.preset, dataset=args.dataset, painter=args.painter,
                    untrained_painter=args.untrained_painter, templates=use_templates)
    state = dict(step=0, samples=0, elapsed=0.0, sessions=0, data={})
    if args.resume and ckpt.is_file():
        state = load_checkpoint(ckpt, task)
        for key, value in identity.items():
            if state.get(key, value) != value:
                raise SystemExit(f"{ckpt} was made with {key}={state[key]!r}, not {value!r}")
    stream = ImageStream(data, cfg["batch_size"], args.seed, rank, size, device)
    stream.load(state.get("data", {}))
    start_step = int(state["step"])
    log = MetricsLog(run / "metrics.csv", start_step) if rank == 0 else None
    if rank == 0:
        atomic_write_bytes(run / "config.json", json.dumps(dict(cfg, **identity, world_size=size), indent=1).encode())

    def checkpoint():
        if rank == 0:
            save_checkpoint(ckpt, task, dict(state, **identity, step=step, data=stream.state()))
            log.flush()

    step, t0, last_ckpt, elapsed0 = start_step, time.time(), time.time(), float(state["elapsed"])
    bar = tqdm(total=cfg["steps"], initial=step, disable=args.no_progress or rank != 0,
               desc=f"agent/{args.dataset}/{args.preset}", dynamic_ncols=True)
    stopped_early = False
    for module in task.modules.values():
        module.train()
    while step < cfg["steps"]:
        batches = [stream.next() for _ in range(task.batches_per_step(step))]
        if args.max_minutes:
            task.time_used = min(1.0, (time.time() - t0) / (60 * args.max_minutes))
        losses = task.train_step(batches, step)
        step += 1
        state["samples"] = int(state["samples"]) + sum(len(b[0]) for b in batches) * size
        state["elapsed"] = elapsed0 + time.time() - t0
        bar.update(1)
        if rank == 0 and (step % cfg.get("log_every", 50) == 0 or step == cfg["steps"]):
            bar.set_postfix({k: f"{v:.4g}" for k, v in losses.items()})
            log.add(dict(step=step, samples=state["samples"], elapsed_s=round(state["elapsed"], 1),
                         **{k: losses.get(k, "") for k in ("mse", "forcing", "w_force", "adv", "wasserstein", "gp")}))
        out_of_time = args.max_minutes is not None and time.time() - t0 > 60 * args.max_minutes
        if size > 1:                               # all processes agree on stopping
            flag = torch.tensor([float(out_of_time)], device=device)
            dist.all_reduce(flag)
            out_of_time = bool(flag.item())
        if out_of_time and step < cfg["steps"]:
            stopped_early = True
            break
        if time.time() - last_ckpt > 60 * args.checkpoint_minutes:
            checkpoint()
            last_ckpt = time.time()
    bar.close()
    state["sessions"] = int(state["sessions"]) + 1
    checkpoint()
    if rank == 0:
        summary = dict(identity, steps=step, resumed_from=start_step, planned_steps=cfg["steps"], samples_seen=state["samples"],
                       wall_time_s=round(state["elapsed"], 1), sessions=state["sessions"],
                       stopped_early=stopped_early, world_size=size, data=data.info,
                       last_losses=log.rows[-1] if log.rows else {})
        atomic_write_bytes(run / "summary.json", json.dumps(summary, indent=1, default=str).encode())
        if args.export:
            export(task, summary, cfg, args)
    if size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def export(task: AgentTask, summary: dict, cfg: dict, args) -> None:
    """Write the trained agent and its card (with held-out scores) to ``args.export_dir``."""
    agent = task.agent.cpu().eval()
    card = dict(summary, hyperparameters=cfg,
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                command=" ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix()] + sys.argv[1:]),
                torch_version=torch.__version__, parameters=sum(p.numel() for p in agent.policy.parameters()))
    if args.eval_images > 0:
        test = load_dataset(args.dataset, "test", root=args.root, limit=args.eval_images)
        card["evaluation"] = evaluate(agent, test)[0]
    save_agent(agent, Path(args.export_dir) / f"{args.export_name or args.dataset}.safetensors", card)
