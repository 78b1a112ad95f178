"""The Painter interface: a differentiable map from actions (N, 12) to stroke alpha (N, 1, size, size)."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .. import actions as A
from ..checks import integer

MIN_SIZE, MAX_SIZE = 8, 2048   # canvas sides a painter may draw on (at_size)


class Painter(nn.Module):
    """Base class of neural painters.

    ``forward(actions)`` takes a float tensor (N, 12) in [0, 1] (fields in :data:`strokeparam.actions.FIELDS`
    order) and returns straight alpha (N, 1, size, size) in [0, 1], differentiable with respect to every
    field. Subclasses implement :meth:`paint` and :meth:`config`.

    Attributes: ``size`` (canvas side in pixels; see :meth:`at_size`), ``resizable`` (whether the architecture
    paints natively at any ``size``, given to the constructor), ``stochastic`` (whether ``forward`` can draw different
    strokes for one action; it then takes ``generator=``), ``action_space_version`` (the action space it
    was trained for) and ``card`` (the JSON card of loaded weights, or None).
    """

    name = "painter"
    stochastic = False
    resizable = False
    action_space_version = A.ACTION_SPACE_VERSION

    def __init__(self, size: int = 64):
        super().__init__()
        integer(size, "size", MIN_SIZE, MAX_SIZE, what="an integer number of pixels")
        if size != A.REFERENCE_SIZE and not self.resizable:
            raise ValueError(f"{type(self).__name__} draws on a {A.REFERENCE_SIZE}-px canvas; got size={size!r} "
                             "(use painter.at_size(size) for other canvases)")
        self.size = size
        self.card = None

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture (stored in the card)."""
        return {"size": self.size}

    def at_size(self, size: int) -> "Painter":
        """This painter on a ``size``-px canvas (8–2048): the same strokes, scaled with the canvas (actions are
        fractions of it and radii scale with it, as in MyPaint's :func:`strokeparam.actions.to_mypaint`).

        A ``resizable`` painter paints natively at that size with the same weights; any other paints at its
        own size and its strokes are resized bilinearly. Returns ``self`` when the size is already right.
        """
        if size == self.size:
            return self
        if not self.resizable:
            return Resized(self, size)
        ref = next(self.parameters(), torch.empty(0))
        painter = type(self)(**dict(self.config(), size=size)).to(ref.device)
        painter.load_state_dict(self.state_dict())
        painter.card = self.card
        return painter.train(self.training).requires_grad_(ref.requires_grad)

    def paint(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not isinstance(actions, torch.Tensor) or actions.ndim != 2 or actions.shape[1] != A.NUM_FIELDS:
            shape = tuple(actions.shape) if isinstance(actions, torch.Tensor) else type(actions).__name__
            raise ValueError(f"{type(self).__name__} expects a float tensor of shape (N, {A.NUM_FIELDS}) "
                             f"with fields {', '.join(A.FIELDS)}; got {shape}")
        if not actions.is_floating_point():
            raise ValueError(f"actions must be a floating point tensor, got {actions.dtype}")
        if actions.shape[0] == 0:
            ref = next(self.parameters(), actions)
            return actions.new_zeros((0, 1, self.size, self.size), dtype=ref.dtype)
        with torch.no_grad():
            inside = ((actions >= 0) & (actions <= 1)).all(dim=0)      # NaN compares False
        if not bool(inside.all()):
            field = A.FIELDS[int((~inside).nonzero()[0, 0])]
            column = actions[:, A.FIELDS.index(field)].detach()
            row = int((~((column >= 0) & (column <= 1))).nonzero()[0, 0])
            raise ValueError(f"actions[{row}] field '{field}' = {float(column[row])!r} is not a number in [0, 1]; "
                             "a painter draws finite actions in [0, 1]")
        return self.paint(actions, generator)

    def extra_repr(self) -> str:
        return f"size={self.size}, stochastic={self.stochastic}"


class Resized(Painter):
    """A fixed-size painter whose strokes are resized bilinearly to ``size`` px (see :meth:`Painter.at_size`)."""

    resizable = True

    def __init__(self, painter: Painter, size: int):
        super().__init__(size)
        self.inner = painter
        self.name, self.stochastic, self.card = painter.name, painter.stochastic, painter.card

    def config(self) -> dict:
        return dict(self.inner.config(), size=self.size)

    def at_size(self, size: int) -> Painter:
        return self.inner.at_size(size)

    def paint(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        alpha = self.inner(actions, generator=generator)
        return F.interpolate(alpha, size=(self.size, self.size), mode="bilinear", align_corners=False).clamp(0, 1)
