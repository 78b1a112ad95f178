"""The Objective class: Lucent's own when Lucent is installed, otherwise a local class of the same shape.

An objective is a callable on a hook ``T``, where ``T(name)`` returns a layer's output from the last forward
pass, returning a scalar loss to minimize. Objectives compose with ``+``, ``-``, ``*`` and ``/`` by numbers.
"""
from ..checks import integer

try:
    from lucent.optvis.objectives import Objective
except ImportError:

    class Objective:
        """A loss on a hook ``T``; mirrors ``lucent.optvis.objectives.Objective``."""

        def __init__(self, objective_func, name="", description=""):
            self.objective_func = objective_func
            self.name = name
            self.description = description

        def __call__(self, T):
            return self.objective_func(T)

        def __add__(self, other):
            if isinstance(other, (int, float)):
                return Objective(lambda T: other + self(T), self.name, self.description)
            return Objective(
                lambda T: self(T) + other(T),
                ", ".join([self.name, other.name]),
                "Sum(" + " +\n".join([self.description, other.description]) + ")",
            )

        __radd__ = __add__

        @staticmethod
        def sum(objs):
            objs = list(objs)
            return Objective(
                lambda T: sum(obj(T) for obj in objs),
                ", ".join(obj.name for obj in objs),
                "Sum(" + " +\n".join(obj.description for obj in objs) + ")",
            )

        def __neg__(self):
            return -1 * self

        def __sub__(self, other):
            return self + (-1 * other)

        def __mul__(self, other):
            if not isinstance(other, (int, float)):
                raise TypeError(f"Can only multiply by int or float. Received type {type(other)}")
            return Objective(lambda T: other * self(T), self.name, self.description)

        __rmul__ = __mul__

        def __truediv__(self, other):
            if not isinstance(other, (int, float)):
                raise TypeError(f"Can only divide by int or float. Received type {type(other)}")
            return self * (1 / other)


def batch_slice(t, batch):
    """``t`` itself, or its single batch entry ``batch`` (kept 4-d) when ``batch`` is an int."""
    return t if batch is None else t[batch : batch + 1]


def check_channels(acts, layer, indices):
    """Raise ValueError unless every index in ``indices`` is a channel of ``layer``'s output ``acts``."""
    if acts.dim() < 2:
        raise ValueError(f"layer {layer!r} has output shape {tuple(acts.shape)}, which has no channel dimension")
    count = acts.shape[1]
    bad = [i for i in indices if not 0 <= i < count]
    if bad:
        what = "classes" if layer == "labels" else "channels"
        raise ValueError(f"{what[:-1] if len(bad) == 1 else what} {', '.join(map(str, bad))} out of range: "
                         f"layer {layer!r} of this model has {count} {what} (0..{count - 1})")


def channel(layer, n_channel, batch=None):
    """Maximize the mean of one channel of ``layer`` (for ``"labels"``: one logit)."""
    integer(n_channel, "channel index", 0)

    def inner(T):
        acts = T(layer)
        check_channels(acts, layer, [n_channel])
        return -batch_slice(acts, batch)[:, n_channel].mean()

    return Objective(inner, "channel", f"Channel [{layer}, {n_channel}]")
