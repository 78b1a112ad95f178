"""The one training loop of painters and agents: checkpoints every few minutes, resume, DDP, logging."""
from __future__ import annotations

import json
import math
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..files import atomic_write_bytes
from ..locks import FolderLock, FolderLockedError
from ..progress import progress
from .distributed import setup_distributed, world
from .options import check_run_args
from .runs import (CHECKPOINT, MetricsLog, kill_if_asked, load_checkpoint, remove_stale_temporaries, save_checkpoint,
                   sigterm_caught)


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
            remove_stale_temporaries(run)
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
            kill_if_asked(step)

    step, t0, last_ckpt, elapsed0 = start_step, time.time(), time.time(), float(state["elapsed"])
    bar = progress(total=cfg["steps"], initial=step, disable=args.no_progress or rank != 0, desc=desc, unit="step")
    stopped_early = False
    for module in task.modules.values():
        module.train()
    with sigterm_caught() as terminated:         # SIGTERM: checkpoint, then exit
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
            flags = [args.max_minutes is not None and time.time() - t0 > 60 * args.max_minutes, bool(terminated),
                     not all(math.isfinite(v) for v in losses.values() if isinstance(v, (int, float)))]
            if size > 1:                               # all processes agree on stopping
                flag = torch.tensor(flags, dtype=torch.float32, device=device)
                dist.all_reduce(flag)
                flags = (flag > 0).tolist()
            if flags[2]:                               # diverged: keep the last checkpoint, which was finite
                bar.close()
                raise SystemExit(f"step {step}: a loss is not finite ({losses}); {ckpt} holds the last finite "
                                 "state: resume from it with a lower learning rate (--set lr=...)")
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
