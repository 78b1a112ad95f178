"""The painter recipes' command line: presets and flags → :func:`strokeparam.training.train` → export."""
from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

import torch

from ..actions import DEFAULT_BRUSH
from ..data import StrokeShards
from ..training import FlyStream, ShardStream, check_run_args, preset_config, train
from .fidelity import evaluate
from .registry import split_name
from .tasks import PainterTask
from .weights_io import WEIGHTS_DIR, save_weights


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
    p.add_argument("--tag", help=f"export the weights as {name}.TAG (letters, digits, _ and -), beside the "
                                 f"default {name}: e.g. the tag of a brush other than {DEFAULT_BRUSH}")
    p.add_argument("--export-only", action="store_true", help="export the run's checkpoint without training")
    p.add_argument("--eval-actions", type=int, default=300, help="held-out actions scored into the card")
    p.add_argument("--note", help="free text recorded in the card (e.g. how the run deviated from its preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1, help="MyPaint worker processes for on-the-fly data")
    p.add_argument("--threads", type=int, help="torch CPU threads per process")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p


def main(task_cls: type[PainterTask], presets: dict, argv=None) -> int:
    """Run a painter recipe from the command line (see ``--help``)."""
    args = parser(task_cls.name, presets).parse_args(argv)
    cfg = task_cls.configure(preset_config(presets, args, ("steps", "batch_size")))
    if cfg.get("steps", 1) < 1:
        raise SystemExit(f"this run has {cfg['steps']} steps; it must train at least 1")
    check_run_args(args)
    if args.tag is not None:
        try:
            split_name(f"{task_cls.name}.{args.tag}")
        except ValueError:
            raise SystemExit(f"--tag must be letters, digits, _ and -, got {args.tag!r}") from None
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


def export(task: PainterTask, summary: dict, cfg: dict, args) -> None:
    """Write the trained painter and its card (with held-out fidelity against the brush its data was painted
    with) to ``args.export_dir``, as ``<name>.safetensors`` or, with ``--tag``, ``<name>.<tag>.safetensors``."""
    brush = summary["data"].get("meta", {}).get("brush", DEFAULT_BRUSH)
    painter = task.painter(brush).cpu().eval()
    if args.tag is not None:
        painter.name = f"{task.name}.{args.tag}"
    card = dict(preset=args.preset, hyperparameters=cfg, steps=summary["steps"],
                planned_steps=summary["planned_steps"], samples_seen=summary["samples_seen"],
                wall_time_s=summary["wall_time_s"], world_size=summary["world_size"],
                data={k: v for k, v in summary["data"].items() if k != "meta"},
                date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                command=summary["command"], training_commands=summary["commands"],
                torch_version=torch.__version__, brush=brush,
                parameters=sum(p.numel() for p in painter.parameters()))
    if args.note:
        card["notes"] = args.note
    if args.eval_actions > 0:
        card["fidelity"] = evaluate(painter, num=args.eval_actions, brush=brush)
    save_weights(painter, Path(args.export_dir) / f"{painter.name}.safetensors", card)
