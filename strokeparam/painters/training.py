"""The one training loop of all painters and agents: presets, data, checkpoints, resume, DDP, logging, export.

A painter recipe is a :class:`Task` (networks, optimizers, one training step, the painter to export) plus
presets; :func:`main` does the rest through :func:`train`, the loop that agents train in too.
Checkpoints are written atomically every few minutes and at the end; ``--resume`` continues from the
last one with the same data order, so a killed run loses nothing. Under
``torchrun --nproc_per_node N`` every process trains on its own slice of each batch and gradients are
averaged over processes (gloo on CPU, nccl on GPU).
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import io
import json
import math
import os
import pickle
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..data import OnTheFlyStrokes, StrokeShards, shard_paths
from ..files import atomic_write_bytes
from ..locks import FolderLock, FolderLockedError
from ..progress import progress
from .base import Painter
from .fidelity import evaluate
from .weights_io import WEIGHTS_DIR, save_weights

CHECKPOINT = "checkpoint.pt"
RUN_FILES = (CHECKPOINT, "metrics.csv", "config.json", "summary.json")   # what a run writes into its folder
KILL_AFTER = "STROKEPARAM_KILL_AFTER_CHECKPOINT"   # fault injection for tests: SIGKILL after this step's checkpoint
POSITIVE = frozenset({"steps", "batch_size", "log_every", "strokes", "limit"})   # preset entries that must be >= 1


# -- distributed ---------------------------------------------------------------------------------------
def world() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def average_gradients(*modules: nn.Module) -> None:
    """All-reduce and average the gradients of ``modules`` over processes (no-op when not distributed)."""
    _, size = world()
    if size == 1:
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= size
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def setup_distributed() -> torch.device:
    """Join torchrun's process group (nccl on GPU, gloo on CPU) if there is one; this process's device."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return torch.device("cuda", local)
    return torch.device("cpu")


# -- tasks ---------------------------------------------------------------------------------------------
class Task:
    """One painter's training: subclasses set ``name`` and implement the methods below.

    ``cfg`` is the preset (a dict, overridden from the command line); ``modules``, ``optimizers`` and
    ``generators`` (the task's random streams) are dicts whose state is checkpointed.
    """

    name = "task"
    columns: tuple[str, ...] = ()       # the losses logged, in this column order (empty: as train_step returns)

    @staticmethod
    def configure(cfg: dict) -> dict:
        """Derive dependent settings after command-line overrides (e.g. total steps of two stages)."""
        return cfg

    def __init__(self, cfg: dict, device: torch.device):
        self.cfg, self.device = cfg, device
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.generators: dict[str, torch.Generator] = {}
        self.seed = 0                   # the run's --seed (set by the loop)
        self.time_used = 0.0            # fraction of a wall-time budget spent (set by the loop)

    def batches_per_step(self, step: int) -> int:
        """How many batches :meth:`train_step` draws at ``step``."""
        return 1

    def train_step(self, batches: list, step: int) -> dict:
        """One optimization step on ``batches`` [(actions, alpha)]; returns float losses to log."""
        raise NotImplementedError

    def painter(self) -> Painter:
        """The trained painter to export (on the CPU, eval mode)."""
        raise NotImplementedError

    def set_lr(self, optimizer: torch.optim.Optimizer, base: float, step: int, warmup: int = 0,
               total: int | None = None) -> None:
        """Linear warmup then cosine decay to 5% of ``base`` over ``total`` (default: all planned) steps."""
        total = max(1, self.cfg["steps"] if total is None else total)
        if step < warmup:
            lr = base * (step + 1) / warmup
        else:
            lr = base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total))))
        for group in optimizer.param_groups:
            group["lr"] = lr


# -- data ----------------------------------------------------------------------------------------------
class EpochStream:
    """Batches of ``count`` items in a seeded per-epoch order, each process its own slice (resumable).

    Subclasses set ``count`` and ``info`` and turn the indices of a batch into tensors (``batch_of``).
    """

    def __init__(self, count: int, batch: int, seed: int, rank: int, size: int, device: torch.device):
        self.count, self.batch, self.seed, self.rank, self.size, self.device = count, batch, seed, rank, size, device
        self.position = 0          # global sample counter

    def batch_of(self, indices: torch.Tensor):
        raise NotImplementedError

    def next(self):
        n, glob = self.count, self.batch * self.size
        idx = []
        while len(idx) < glob:
            epoch, offset = divmod(self.position, n)
            take = min(glob - len(idx), n - offset)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))
            idx.extend(order[offset:offset + take].tolist())
            self.position += take
        return self.batch_of(torch.tensor(idx[self.rank * self.batch:(self.rank + 1) * self.batch]))

    def state(self) -> dict:
        return {"position": self.position}

    def load(self, state: dict) -> None:
        self.position = int(state.get("position", 0))


class ShardStream(EpochStream):
    """Batches from a stroke shard folder held in memory, in a seeded per-epoch order (resumable)."""

    def __init__(self, root, batch: int, seed: int, rank: int, size: int, device: torch.device):
        data = StrokeShards(root)                  # validates the folder
        acts, alphas = [], []
        for index in range(data.meta["num_shards"]):
            actions_path, alpha_path = shard_paths(root, index)
            if actions_path.is_file():
                acts.append(np.load(actions_path))
                alphas.append(np.load(alpha_path))
        self.actions = torch.from_numpy(np.concatenate(acts).astype(np.float32))
        self.alpha = torch.from_numpy(np.concatenate(alphas))           # uint8 (M, H, W)
        super().__init__(len(self.actions), batch, seed, rank, size, device)
        self.info = dict(source=str(root), strokes=len(data), meta=data.meta)

    def batch_of(self, indices: torch.Tensor):
        return (self.actions[indices].to(self.device),
                (self.alpha[indices].float() / 255.0)[:, None].to(self.device))


class FlyStream:
    """Batches rendered by MyPaint on the fly in DataLoader workers; a resumed run draws a fresh stream."""

    def __init__(self, batch: int, seed: int, rank: int, workers: int, start: int, device: torch.device):
        self.start, self.seed, self.batch, self.rank = start, seed, batch, rank
        self.workers, self.device = workers, device
        self._iter = None
        self.info = dict(source="on the fly (MyPaint classic/dry_brush)")

    def next(self):
        if self._iter is None:
            data = OnTheFlyStrokes(seed=self.seed * 1_000_003 + self.start, rank=self.rank)
            loader = torch.utils.data.DataLoader(data, batch_size=self.batch, num_workers=self.workers)
            self._iter = iter(loader)
        actions, alpha = next(self._iter)
        return actions.to(self.device), alpha.to(self.device)

    def state(self) -> dict:
        return {}

    def load(self, state: dict) -> None:
        pass


# -- checkpoints and logs ------------------------------------------------------------------------------
def save_checkpoint(path: Path, task: Task, state: dict) -> None:
    """Atomically write the task's modules, optimizers and the loop ``state`` to ``path``."""
    blob = dict(state, modules={k: m.state_dict() for k, m in task.modules.items()},
                optimizers={k: o.state_dict() for k, o in task.optimizers.items()},
                generators={k: g.get_state() for k, g in getattr(task, "generators", {}).items()},
                torch_rng=torch.get_rng_state())
    buf = io.BytesIO()
    torch.save(blob, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, task: Task) -> dict:
    """Restore the task from ``path`` (tensors only, ``weights_only=True``); return the loop state."""
    try:
        blob = torch.load(path, map_location=task.device, weights_only=True)
        for key, module in task.modules.items():
            module.load_state_dict(blob["modules"][key])
        for key, opt in task.optimizers.items():
            opt.load_state_dict(blob["optimizers"][key])
        for key, state in blob.get("generators", {}).items():
            task.generators[key].set_state(state.cpu())
        torch.set_rng_state(blob["torch_rng"].cpu())
    except (RuntimeError, KeyError, ValueError, TypeError, EOFError, pickle.UnpicklingError) as exc:
        raise ValueError(f"{path} is not a checkpoint of this {task.name} run: {exc}") from None
    return {k: v for k, v in blob.items() if k not in ("modules", "optimizers", "generators", "torch_rng")}


class MetricsLog:
    """Rows of step metrics appended to ``metrics.csv``; rows past a resumed step are dropped first."""

    def __init__(self, path: Path, resume_step: int):
        self.path = path
        self.rows = []
        if path.is_file():
            with path.open() as fh:
                self.rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= resume_step]
        self.fields = list(self.rows[0].keys()) if self.rows else None
        self.flush()

    def add(self, row: dict) -> None:
        self.fields = (self.fields or []) + [k for k in row if k not in (self.fields or [])]
        self.rows.append(row)

    def flush(self) -> None:
        buf = io.StringIO()
        if self.fields:
            writer = csv.DictWriter(buf, fieldnames=self.fields, restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        atomic_write_bytes(self.path, buf.getvalue().encode())


# -- the command line ----------------------------------------------------------------------------------
def parser(name: str, presets: dict) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=f"Train the {name} painter.")
    p.add_argument("--preset", default="cpu", choices=sorted(presets), help="hyperparameter preset")
    p.add_argument("--data", type=Path, help="stroke shard folder (default: render with MyPaint on the fly)")
    p.add_argument("--run-dir", type=Path,
                   help=f"folder for checkpoints and logs (default runs/{name}-<preset>)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoint if any")
    p.add_argument("--steps", type=int, help="override the preset's number of steps")
    p.add_argument("--batch-size", type=int, help="override the preset's batch size (per process)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset entry (VALUE parsed as JSON), e.g. --set lr=3e-4")
    p.add_argument("--max-minutes", type=float, help="stop (checkpoint and export) after this much wall time")
    p.add_argument("--checkpoint-minutes", type=float, default=3.0, help="minutes between checkpoints")
    p.add_argument("--export", action="store_true", help="write the painter's safetensors + card at the end")
    p.add_argument("--export-dir", type=Path, default=WEIGHTS_DIR, help="where --export writes")
    p.add_argument("--export-only", action="store_true", help="export the run's checkpoint without training")
    p.add_argument("--eval-actions", type=int, default=300, help="held-out actions scored into the card")
    p.add_argument("--note", help="free text recorded in the card (e.g. how the run deviated from its preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="MyPaint worker processes for on-the-fly data")
    p.add_argument("--threads", type=int, help="torch CPU threads per process")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p


def preset_config(presets: dict, args, keys) -> dict:
    """The preset ``args.preset`` with the positive integer overrides ``keys`` of ``args`` (e.g. steps),
    then the ``--set KEY=VALUE`` overrides of ``args.set``.

    A ``--set`` value must be JSON of the preset entry's kind (an integer for an integer, a number for a
    float, the same keys for a dict, ...), finite and not negative (at least 1 for the entries in
    :data:`POSITIVE`); anything else exits with one line naming the entry.
    """
    cfg = dict(presets[args.preset])
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{key.replace('_', '-')} must be >= 1")
            cfg[key] = value
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in cfg:
            raise SystemExit(f"--set {item}: unknown preset entry {key!r}; entries: {', '.join(sorted(cfg))}")
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise SystemExit(f"--set {item}: {value!r} is not a JSON value") from None
        problem = _override_problem(key, parsed, cfg[key])
        if problem:
            raise SystemExit(f"--set {item}: {problem}")
        cfg[key] = tuple(parsed) if isinstance(cfg[key], tuple) else parsed
    return cfg


def _override_problem(key: str, value, preset) -> str | None:
    """Why ``value`` cannot replace the preset entry ``key`` (whose preset value is ``preset``), or None."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if preset is None:
        return None
    if isinstance(preset, bool):
        return None if isinstance(value, bool) else f"{key} must be true or false, got {value!r}"
    if number(preset):
        integer = isinstance(preset, int)
        kind = "an integer" if integer else "a number"
        if not number(value) or (integer and not isinstance(value, int)):
            return f"{key} must be {kind} (the preset has {preset!r}), got {value!r}"
        if not math.isfinite(value):
            return f"{key} must be a finite number, got {value!r}"
        low = 1 if key in POSITIVE else 0
        if value < low:
            return f"{key} must be {kind} >= {low}, got {value!r}"
        return None
    if isinstance(preset, str):
        return None if isinstance(value, str) else f"{key} must be a string, got {value!r}"
    if isinstance(preset, (list, tuple)):
        if not isinstance(value, list) or len(value) != len(preset):
            return f"{key} must be a list of {len(preset)} like {list(preset)!r}, got {value!r}"
        for i, (v, p) in enumerate(zip(value, preset)):
            problem = _override_problem(f"{key}[{i}]", v, p)
            if problem:
                return problem
        return None
    if isinstance(preset, dict):
        if not isinstance(value, dict):
            return f"{key} must be a JSON object like {json.dumps(preset)}, got {value!r}"
        unknown = sorted(set(value) - set(preset))
        if unknown:
            return f"{key} has unknown entries {unknown}; entries: {', '.join(sorted(preset))}"
        for k, v in value.items():
            problem = _override_problem(f"{key}.{k}", v, preset[k])
            if problem:
                return problem
        return None
    return None


def check_run_args(args) -> None:
    """Exit with one line when a common training flag is out of range (threads, minutes)."""
    threads, max_minutes = getattr(args, "threads", None), getattr(args, "max_minutes", None)
    every = getattr(args, "checkpoint_minutes", 3.0)
    if threads is not None and threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {threads}")
    if max_minutes is not None and not (math.isfinite(max_minutes) and max_minutes > 0):
        raise SystemExit(f"--max-minutes must be a positive number, got {max_minutes}")
    if not (math.isfinite(every) and every >= 0):
        raise SystemExit(f"--checkpoint-minutes must be a number >= 0, got {every}")


def main(task_cls: type[Task], presets: dict, argv=None) -> int:
    """Run a painter recipe from the command line (see ``--help``)."""
    args = parser(task_cls.name, presets).parse_args(argv)
    cfg = task_cls.configure(preset_config(presets, args, ("steps", "batch_size")))
    if cfg.get("steps", 1) < 1:
        raise SystemExit(f"this run has {cfg['steps']} steps; it must train at least 1")
    check_run_args(args)
    if args.workers < 0:
        raise SystemExit(f"--workers must be >= 0, got {args.workers}")
    if args.data is not None:
        try:
            StrokeShards(args.data)               # a missing or corrupt folder fails before anything starts
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f"--data: {exc}") from None

    def stream(start, rank, size, device):
        if args.data is not None:
            return ShardStream(args.data, cfg["batch_size"], args.seed, rank, size, device)
        return FlyStream(cfg["batch_size"], args.seed, rank, args.workers, start, device)

    return train(args, cfg, args.run_dir or Path("runs") / f"{task_cls.name}-{args.preset}",
                 dict(painter=task_cls.name, preset=args.preset), lambda device: task_cls(cfg, device), stream,
                 export, desc=f"{task_cls.name}/{args.preset}")


@contextlib.contextmanager
def _sigterm_caught():
    """A list that a SIGTERM appends to (instead of ending the process) while the block runs."""
    caught = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def train(args, cfg: dict, run: Path, identity: dict, make_task, make_stream, export, desc: str) -> int:
    """Train ``make_task(device)`` in the folder ``run`` (checkpoints, logs, summary); the exit status.

    ``make_stream(start_step, rank, world_size, device)`` gives the data (``next``, ``state``, ``load``,
    ``info``); ``identity`` (e.g. the preset) goes into the checkpoint, config and summary, and a resumed
    checkpoint must match it; ``export(task, summary, cfg, args)`` runs on rank 0 with ``--export``.
    ``args`` holds the common flags (``--resume``, ``--seed``, ``--max-minutes``, ...; ``--export-only``
    where the parser has it).
    """
    check_run_args(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = setup_distributed()
    rank, size = world()
    lock = FolderLock(run, "run folder")
    if rank == 0:                       # one writer per run folder; a later run (--resume) takes it over
        try:
            lock.acquire()
        except (FolderLockedError, OSError) as exc:
            raise SystemExit(str(exc)) from None
    try:
        if rank == 0:
            for name in RUN_FILES:      # temporary files of a writer that was killed mid-write
                for stale in run.glob(f".{name}.*.tmp"):
                    stale.unlink(missing_ok=True)
        return _train(args, cfg, run, identity, make_task, make_stream, export, desc, device, rank, size)
    finally:
        lock.release()


def _train(args, cfg, run, identity, make_task, make_stream, export, desc, device, rank, size) -> int:
    """The body of :func:`train`, in the locked run folder."""
    export_only = getattr(args, "export_only", False)
    ckpt = run / CHECKPOINT
    if rank == 0 and ckpt.exists() and not (args.resume or export_only):
        raise SystemExit(f"{run} already holds a checkpoint; pass --resume or choose another --run-dir")
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    task = make_task(device)
    task.seed = args.seed
    for module in task.modules.values():          # every process starts from rank 0's weights
        if size > 1:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, 0)
    state = dict(step=0, samples=0, elapsed=0.0, sessions=0, data={})
    if (args.resume or export_only) and ckpt.is_file():
        try:
            state = load_checkpoint(ckpt, task)
        except ValueError as exc:
            raise SystemExit(f"{exc}; move it away to start anew") from None
        for key, value in identity.items():
            if state.get(key, value) != value:
                raise SystemExit(f"{ckpt} was made with {key}={state[key]!r}, not {value!r}")
    elif export_only:
        raise SystemExit(f"--export-only needs a checkpoint; {ckpt} does not exist")
    command = " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    if not export_only:
        state["commands"] = list(state.get("commands", [])) + [command]
    start_step = int(state["step"])
    stream = make_stream(start_step, rank, size, device)
    stream.load(state.get("data", {}))
    log = MetricsLog(run / "metrics.csv", start_step) if rank == 0 else None
    if rank == 0:
        atomic_write_bytes(run / "config.json", json.dumps(dict(cfg, **identity, world_size=size), indent=1).encode())

    def checkpoint():
        if rank == 0:
            save_checkpoint(ckpt, task, dict(state, **identity, step=step, data=stream.state()))
            log.flush()
            if os.environ.get(KILL_AFTER) == str(step):      # a kill at a known point, as an OOM killer would
                os.kill(os.getpid(), signal.SIGKILL)

    step, t0, last_ckpt, elapsed0 = start_step, time.time(), time.time(), float(state["elapsed"])
    bar = progress(total=cfg["steps"], initial=step, disable=args.no_progress or rank != 0, desc=desc, unit="step")
    stopped_early = False
    for module in task.modules.values():
        module.train()
    with _sigterm_caught() as terminated:         # SIGTERM: checkpoint, then exit
        while step < cfg["steps"] and not export_only:
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
                row = {k: losses.get(k, "") for k in task.columns} if task.columns else losses
                log.add(dict(step=step, samples=state["samples"], elapsed_s=round(state["elapsed"], 1), **row))
            flags = [args.max_minutes is not None and time.time() - t0 > 60 * args.max_minutes, bool(terminated)]
            if size > 1:                               # all processes agree on stopping
                flag = torch.tensor(flags, dtype=torch.float32, device=device)
                dist.all_reduce(flag)
                flags = (flag > 0).tolist()
            if flags[1]:
                bar.close()
                checkpoint()
                return 128 + signal.SIGTERM
            if flags[0] and step < cfg["steps"]:
                stopped_early = True
                break
            if time.time() - last_ckpt > 60 * args.checkpoint_minutes:
                checkpoint()
                last_ckpt = time.time()
    bar.close()
    state["sessions"] = int(state["sessions"]) + (0 if export_only else 1)
    if not export_only:
        checkpoint()
    if rank == 0:
        summary = dict(identity, steps=step, resumed_from=start_step, planned_steps=cfg["steps"],
                       samples_seen=state["samples"], wall_time_s=round(state["elapsed"], 1),
                       sessions=state["sessions"], stopped_early=stopped_early, world_size=size,
                       data=stream.info, last_losses=log.rows[-1] if log.rows else {},
                       commands=state.get("commands", []), command=command)
        atomic_write_bytes(run / "summary.json", json.dumps(summary, indent=1, default=str).encode())
        if args.export or export_only:
            export(task, summary, cfg, args)
    if size > 1:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def export(task: Task, summary: dict, cfg: dict, args) -> None:
    """Write the trained painter and its card (with held-out fidelity) to ``args.export_dir``."""
    painter = task.painter().cpu().eval()
    card = dict(preset=args.preset, hyperparameters=cfg, steps=summary["steps"],
                planned_steps=summary["planned_steps"], samples_seen=summary["samples_seen"],
                wall_time_s=summary["wall_time_s"], world_size=summary["world_size"],
                data={k: v for k, v in summary["data"].items() if k != "meta"},
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                command=summary["command"], training_commands=summary["commands"],
                torch_version=torch.__version__,
                parameters=sum(p.numel() for p in painter.parameters()))
    if args.note:
        card["notes"] = args.note
    if args.eval_actions > 0:
        card["fidelity"] = evaluate(painter, num=args.eval_actions)
    save_weights(painter, Path(args.export_dir) / f"{painter.name}.safetensors", card)
