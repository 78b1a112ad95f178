"""Neural painters: differentiable maps from stroke actions (N, 12) to stroke alpha (N, 1, 64, 64).

``create_painter(name=None, pretrained=True)`` builds one (None: the default), ``list_painters()`` names
the architectures, ``list_pretrained()`` the shipped weights (``arch`` or ``arch.tag``): safetensors files
with JSON cards in ``strokeparam/painters/weights/``.
Training (not imported here): ``tasks`` holds each painter's training task, ``recipe`` the command line
of ``recipes/train_*_painter.py``; both run on :mod:`strokeparam.training`.
"""
from .base import Painter
from .registry import DEFAULT_PAINTER, list_painters, register_painter
from .factory import create_painter
from .weights_io import list_pretrained, load_weights, read_card, save_weights, weights_digest, weights_paths
from .diagnostics import sweep
from .gan import GANPainter
from .skeleton import SkeletonPainter
from .vae import VAEPainter

__all__ = ["Painter", "SkeletonPainter", "GANPainter", "VAEPainter", "DEFAULT_PAINTER", "create_painter",
           "list_painters", "list_pretrained", "register_painter", "sweep", "load_weights", "read_card", "save_weights",
           "weights_digest", "weights_paths"]
