"""What painters and agents share in training: the loop, checkpoints and resume, DDP, data streams, the log.

A recipe is a :class:`Task` (networks, optimizers, one training step) plus presets; :func:`train` runs
it in a run folder. Checkpoints are written atomically every few minutes and at the end; ``--resume``
continues from the last one with the same data order, so a killed run loses nothing. Under
``torchrun --nproc_per_node N`` every process trains on its own slice of each batch and gradients are
averaged over processes (gloo on CPU, nccl on GPU).

Modules: ``task`` (the Task base), ``loop`` (train), ``runs`` (checkpoints, metrics log, fault
injection), ``streams`` (data), ``distributed`` (process groups), ``options`` (preset overrides and flag
checks shared by the recipes' command lines).
"""
from .distributed import average_gradients, setup_distributed, world
from .loop import train
from .options import POSITIVE, check_run_args, preset_config
from .runs import CHECKPOINT, KILL_AFTER, RUN_FILES, MetricsLog, load_checkpoint, save_checkpoint
from .streams import EpochStream, FlyStream, ShardStream
from .task import Task

__all__ = ["Task", "train", "world", "average_gradients", "setup_distributed", "EpochStream", "ShardStream",
           "FlyStream", "CHECKPOINT", "RUN_FILES", "KILL_AFTER", "save_checkpoint", "load_checkpoint",
           "MetricsLog", "POSITIVE", "preset_config", "check_run_args"]
