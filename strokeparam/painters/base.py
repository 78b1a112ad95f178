"""The Painter interface: a differentiable map from actions (N, 12) to stroke alpha (N, 1, size, size)."""
from __future__ import annotations

import torch
from torch import nn

from .. import actions as A


class Painter(nn.Module):
    """Base class of neural painters.

    ``forward(actions)`` takes a float tensor (N, 12) in [0, 1] (fields in :data:`strokeparam.actions.FIELDS`
    order) and returns straight alpha (N, 1, size, size) in [0, 1], differentiable with respect to every
    field. Subclasses implement :meth:`paint` and :meth:`config`.

    Attributes: ``size`` (canvas side in pixels), ``stochastic`` (whether ``forward`` can draw different
    strokes for one action; it then takes ``generator=``), ``action_space_version`` (the action space it
    was trained for) and ``card`` (the JSON card of loaded weights, or None).
    """

    name = "painter"
    stochastic = False
    action_space_version = A.ACTION_SPACE_VERSION

    def __init__(self, size: int = 64):
        super().__init__()
        if size != A.REFERENCE_SIZE:
            raise ValueError(f"painters draw on a {A.REFERENCE_SIZE}-px canvas; got size={size!r}")
        self.size = size
        self.card = None

    def config(self) -> dict:
        """Constructor keyword arguments that rebuild this architecture (stored in the card)."""
        return {"size": self.size}

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
