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
    order) and returns straight alpha (N, 1, side, side) in [0, 1], differentiable with respect to every
    field. Subclasses implement :meth:`paint` and :meth:`config`.

    Attributes: ``size`` (the side of the square the actions' coordinates span, in pixels; see :meth:`at_size`),
    ``margin`` (pixels of canvas painted around that square, where strokes reach past it; 0 by default) and
    ``side`` (the painted canvas, ``size + 2 * margin``), ``resizable`` (whether the architecture
    paints natively at any ``size``, given to the constructor), ``stochastic`` (whether ``forward`` can draw different
    strokes for one action; it then takes ``generator=``), ``action_space_version`` (the action space it
    was trained for), ``card`` (the JSON card of loaded weights, or None) and :attr:`brush`. ``name`` is the
    architecture's registry name, or ``arch.tag`` for weights loaded under a tag (``skeleton.deevad_brush``).
    """

    name = "painter"
    stochastic = False
    resizable = False
    margin = 0
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

    @property
    def brush(self) -> str:
        """The MyPaint brush this painter imitates: its card's ``brush`` (what its training strokes were
        painted with), else :data:`strokeparam.actions.DEFAULT_BRUSH`. The real brush in the loop and the
        re-paints use it unless told otherwise."""
        brush = (self.card or {}).get("brush")
        return brush if isinstance(brush, str) else A.DEFAULT_BRUSH

    @property
    def side(self) -> int:
        return self.size + 2 * self.margin

    def at_size(self, size: int, margin: int = 0) -> "Painter":
        """This painter on a ``size``-px canvas (8–2048): the same strokes, scaled with the canvas (actions are
        fractions of it and radii scale with it, as in MyPaint's :func:`strokeparam.actions.to_mypaint`),
        with ``margin`` px (0 to ``size``) of canvas painted around it, where strokes near its edge reach.

        A ``resizable`` painter paints natively at that size and margin with the same weights; any other
        paints at its own size, its strokes resized bilinearly and surrounded by a bare margin. Returns
        ``self`` when the size and margin are already right.
        """
        integer(margin, "margin", 0, size, what="an integer number of pixels")
        if size == self.size and margin == self.margin:
            return self
        if not self.resizable:
            return Resized(self, size, margin)
        ref = next(self.parameters(), torch.empty(0))
        painter = type(self)(**dict(self.config(), size=size)).to(ref.device)
        painter.load_state_dict(self.state_dict())
        painter.card, painter.name = self.card, self.name
        painter.set_margin(margin)
        return painter.train(self.training).requires_grad_(ref.requires_grad)

    def set_margin(self, margin: int) -> None:
        """Paint ``margin`` px around the actions' square from now on (resizable painters implement it)."""
        raise NotImplementedError

    def paint(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def paint_boxes(self, actions: torch.Tensor, generator: torch.Generator | None = None):
        """The strokes' alpha as :class:`strokeparam.canvas.Boxes` (each stroke only in a box around it, for
        compositing that reads those pixels alone), where this painter paints that way on this device (the
        skeleton painter's compiled loop); None where it does not: call the painter."""
        return None

    def check(self, actions: torch.Tensor) -> torch.Tensor:
        """``actions`` as a painter takes them (N, 12): floating point, finite, in [0, 1]; else ValueError."""
        if not isinstance(actions, torch.Tensor) or actions.ndim != 2 or actions.shape[1] != A.NUM_FIELDS:
            shape = tuple(actions.shape) if isinstance(actions, torch.Tensor) else type(actions).__name__
            raise ValueError(f"{type(self).__name__} expects a float tensor of shape (N, {A.NUM_FIELDS}) "
                             f"with fields {', '.join(A.FIELDS)}; got {shape}")
        if not actions.is_floating_point():
            raise ValueError(f"actions must be a floating point tensor, got {actions.dtype}")
        with torch.no_grad():
            inside = ((actions >= 0) & (actions <= 1)).all(dim=0)      # NaN compares False
        if not bool(inside.all()):
            field = A.FIELDS[int((~inside).nonzero()[0, 0])]
            column = actions[:, A.FIELDS.index(field)].detach()
            row = int((~((column >= 0) & (column <= 1))).nonzero()[0, 0])
            raise ValueError(f"actions[{row}] field '{field}' = {float(column[row])!r} is not a number in [0, 1]; "
                             "a painter draws finite actions in [0, 1]")
        return actions

    def forward(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.check(actions).shape[0] == 0:
            ref = next(self.parameters(), actions)
            return actions.new_zeros((0, 1, self.side, self.side), dtype=ref.dtype)
        return self.paint(actions, generator)

    def extra_repr(self) -> str:
        margin = f"margin={self.margin}, " if self.margin else ""
        return f"size={self.size}, {margin}stochastic={self.stochastic}"


class Resized(Painter):
    """A fixed-size painter whose strokes are resized bilinearly to ``size`` px, in a bare ``margin`` (see
    :meth:`Painter.at_size`)."""

    resizable = True

    def __init__(self, painter: Painter, size: int, margin: int = 0):
        super().__init__(size)
        self.inner, self.margin = painter, margin
        self.name, self.stochastic, self.card = painter.name, painter.stochastic, painter.card

    def config(self) -> dict:
        return dict(self.inner.config(), size=self.size)

    def at_size(self, size: int, margin: int = 0) -> Painter:
        return self.inner.at_size(size, margin)

    def paint(self, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        alpha = self.inner(actions, generator=generator)
        if alpha.shape[-1] != self.size:
            alpha = F.interpolate(alpha, size=(self.size, self.size), mode="bilinear", align_corners=False).clamp(0, 1)
        return F.pad(alpha, (self.margin,) * 4)
