"""``as_objective``: Lucent strings, Lucent Objectives, plain callables and ours, with or without Lucent."""

from .base import Objective, channel
from .classes import class_logit


def as_objective(obj):
    """An :class:`Objective` from ``obj``.

    - ``"layer:channel"`` (``"labels:388"``, ``"net_blocks_5:12"``) maximizes that channel's mean;
      ``"labels:giant panda"`` takes an ImageNet class name;
    - an Objective (ours or Lucent's) is returned unchanged;
    - any other callable ``f(T) -> loss`` is wrapped so that it composes.
    """
    if isinstance(obj, Objective):
        return obj
    if isinstance(obj, str):
        layer, sep, index = obj.rpartition(":")
        layer, index = layer.strip(), index.strip()
        if not sep or not layer or not index:
            raise ValueError(f"objective string must be 'layer:channel', e.g. 'labels:388', got {obj!r}")
        if index.lstrip("+-").isdigit():
            if int(index) < 0:
                raise ValueError(f"channel in {obj!r} must be >= 0 (a class index 0..999 for 'labels')")
            return channel(layer, int(index))
        if layer == "labels":
            return class_logit(index)
        raise ValueError(f"channel in {obj!r} must be an integer (class names only after 'labels:')")
    if callable(obj):
        return Objective(obj, getattr(obj, "__name__", "objective"), repr(obj))
    raise ValueError(f"an objective is a 'layer:channel' string, an Objective or a callable, got {obj!r}")
