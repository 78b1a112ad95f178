"""A run folder: atomic checkpoints, the metrics log, stale temporaries, SIGTERM and kill fault injection."""
from __future__ import annotations

import contextlib
import csv
import io
import os
import pickle
import signal
import threading
from pathlib import Path

import torch

from ..files import atomic_write_bytes
from .task import Task

CHECKPOINT = "checkpoint.pt"
RUN_FILES = (CHECKPOINT, "metrics.csv", "config.json", "summary.json")   # what a run writes into its folder
KILL_AFTER = "STROKEPARAM_KILL_AFTER_CHECKPOINT"   # fault injection for tests: SIGKILL after this step's checkpoint


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


def kill_if_asked(step: int) -> None:
    """SIGKILL this process when :data:`KILL_AFTER` names ``step`` (a kill at a known point, as an OOM
    killer would)."""
    if os.environ.get(KILL_AFTER) == str(step):
        os.kill(os.getpid(), signal.SIGKILL)


def remove_stale_temporaries(run: Path) -> None:
    """Delete the temporary files of a writer that was killed mid-write."""
    for name in RUN_FILES:
        for stale in run.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)


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


@contextlib.contextmanager
def sigterm_caught():
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
