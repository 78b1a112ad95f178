"""Objectives: losses on Lucent's hook ``T``, composable with ``+ - * /`` (Lucent's Objective algebra)."""

from .base import Objective, channel
from .classes import UnknownClassError, class_index, class_logit
from .content import content, with_content
from .hooks import Hook
from .parse import as_objective

__all__ = [
    "Hook",
    "Objective",
    "UnknownClassError",
    "as_objective",
    "channel",
    "class_index",
    "class_logit",
    "content",
    "with_content",
]
