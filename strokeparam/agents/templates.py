"""Human stroke templates, one per class: the 10 hand-drawn digits shipped as stroke JSON, and the
real human strokes of each KanjiVG character.

A template is the strokes a person makes to write the class, in order and direction, as 12-d actions
on a 64-px canvas (black ink on white). ``digits.json`` is a ``strokeparam-strokes`` file whose painting
c is digit c, padded to a common stroke count with zero-pressure strokes (which paint nothing).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import actions as A
from ..canvas import over
from ..export import load_strokes

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
FORCED_FIELDS = [A.INDEX[f] for f in ("pressure_start", "pressure_end", "size", "x0", "y0", "x1", "y1", "x2", "y2")]


class Templates(NamedTuple):
    """``actions`` (classes, K, 12), ``mask`` (classes, K) True for real strokes, ``labels`` class names."""

    actions: torch.Tensor
    mask: torch.Tensor
    labels: list


def load_templates(path=None) -> Templates:
    """Read a template stroke JSON (default: the shipped digit templates)."""
    loaded = load_strokes(TEMPLATES_DIR / "digits.json" if path is None else path)
    actions = loaded["actions"]
    labels = loaded["doc"].get("labels", [str(c) for c in range(len(actions))])
    if len(labels) != len(actions):
        raise ValueError(f"{path}: {len(labels)} labels for {len(actions)} templates")
    return Templates(actions, actions[..., A.PRESSURE].amax(-1) > 0, list(labels))


def human_templates(strokes: list, count: int, pressure: float = 0.65, size: float = 0.08) -> Templates:
    """Templates from human strokes: per character, a list of (P, 2) polylines in [0, 1] (x, y), in
    writing order and direction (KanjiVG). Each of the first ``count`` strokes becomes one quadratic
    Bezier action through the polyline's ends and its arc-length midpoint, with the given ``pressure``
    and ``size`` (the defaults fit the 3-px lines of the kanji targets best through the skeleton painter:
    MSE 0.034 on training kanji, against 0.106 for a blank canvas)."""
    from .order import resample
    actions = torch.zeros(len(strokes), count, A.NUM_FIELDS)
    for i, lines in enumerate(strokes):
        for k, line in enumerate(lines[:count]):
            start, middle, end = resample(np.asarray(line, dtype=np.float64), 3)
            control = np.clip(2 * middle - (start + end) / 2, 0.0, 1.0)
            actions[i, k, :3] = torch.tensor([pressure, pressure, size])
            actions[i, k, A.POINTS] = torch.as_tensor(np.concatenate([start, control, end]), dtype=torch.float32)
    return Templates(actions, actions[..., A.PRESSURE].amax(-1) > 0, [str(i) for i in range(len(strokes))])


def render_actions(painter, actions: torch.Tensor, background=(1.0, 1.0, 1.0), generator=None) -> torch.Tensor:
    """Paint action sequences (B, T, 12) through ``painter`` in order → images (B, 3, 64, 64); a
    ``generator`` draws a stochastic painter's strokes at random."""
    batch, steps = actions.shape[:2]
    alpha = painter(actions.reshape(-1, A.NUM_FIELDS), generator=generator)
    alpha = alpha.reshape(batch, steps, 1, painter.size, painter.size)
    rgb, coverage = over(alpha, actions[..., A.COLOR])
    bg = torch.as_tensor(background, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return rgb + (1.0 - coverage) * bg


def forcing_loss(actions: torch.Tensor, labels: torch.Tensor, templates: Templates) -> torch.Tensor:
    """Mean squared distance of each image's first strokes to its class template's strokes.

    ``actions`` (B, T, 12), ``labels`` (B,) class indices; only the template's real strokes among the
    first T and the fields that shape a stroke (pressures, size, Bezier points) count.
    """
    k = min(actions.shape[1], templates.actions.shape[1])
    target = templates.actions[:, :k].to(actions)[labels]                   # (B, k, 12)
    mask = templates.mask[:, :k].to(actions.device)[labels].to(actions.dtype)
    diff = (actions[:, :k, FORCED_FIELDS] - target[..., FORCED_FIELDS]).square().mean(-1)
    return (diff * mask).sum() / mask.sum().clamp_min(1.0)


def _curves(actions: torch.Tensor, num: int = 8) -> torch.Tensor:
    """Points along the Bezier skeletons of (..., 12) actions at ``num`` even parameter steps: (..., num, 2)."""
    points = actions[..., A.POINTS].unflatten(-1, (3, 2))
    t = torch.linspace(0.0, 1.0, num, dtype=actions.dtype, device=actions.device)[:, None]
    return ((1 - t) ** 2 * points[..., None, 0, :] + 2 * (1 - t) * t * points[..., None, 1, :]
            + t ** 2 * points[..., None, 2, :])


def agreement_loss(actions: torch.Tensor, labels: torch.Tensor, templates: Templates, margin: float = 0.03,
                   ink: float = 0.2, only_template: bool = False) -> torch.Tensor:
    """A hinge that is zero once each image's first strokes follow its template in order and direction,
    whatever their exact shape (the MSE shapes them): stroke k must lie nearer to template stroke k than
    to any other template stroke, and nearer to it run forwards than reversed, each by ``margin`` (mean
    point distance, canvas = 1); and it must be inked (mean pressure >= ``ink``). With ``only_template``
    the strokes past the template's own must stay dry (mean pressure <= 0.01: a person
    writes a character with its own strokes, no more). ``actions`` (B, T, 12),
    ``labels`` (B,); the measure it trains for is :func:`strokeparam.agents.order.template_agreement`.
    """
    k = min(actions.shape[1], templates.actions.shape[1])
    mask = templates.mask[:, :k].to(actions.device)[labels]                                # (B, k)
    mine = _curves(actions[:, :k])                                                         # (B, k, P, 2)
    theirs = _curves(templates.actions[:, :k].to(actions))[labels]                         # (B, k, P, 2)
    fwd = (mine[:, :, None] - theirs[:, None]).norm(dim=-1).mean(-1)                       # (B, k, k)
    rev = (mine[:, :, None] - theirs[:, None].flip(-2)).norm(dim=-1).mean(-1)
    near = torch.minimum(fwd, rev)
    own = near.diagonal(dim1=1, dim2=2)                                                    # (B, k)
    others = mask[:, None, :] & ~torch.eye(k, dtype=torch.bool, device=actions.device)     # real strokes j != i
    order = (torch.relu(own[..., None] - near + margin) * others).sum(-1)
    direction = torch.relu(fwd.diagonal(dim1=1, dim2=2) - rev.diagonal(dim1=1, dim2=2) + margin)
    inked = torch.relu(ink - actions[:, :k, A.PRESSURE].mean(-1))
    per_stroke = (order + direction + inked) * mask
    if only_template:
        extra = torch.ones(actions.shape[:2], dtype=torch.bool, device=actions.device)
        extra[:, :k] = ~mask
        per_stroke = per_stroke.sum(-1) + (torch.relu(actions[..., A.PRESSURE].mean(-1) - 0.01) * extra).sum(-1)
    return per_stroke.sum() / mask.sum().clamp_min(1)


def jitter(images: torch.Tensor, labels: torch.Tensor, templates: Templates | None, amount: float,
           generator: torch.Generator) -> tuple:
    """Move each target by its own random scale in [1 - ``amount``, 1 + ``amount``] about the centre and
    shift in [-``amount``, ``amount``] of the canvas, and its template's strokes with it: more targets
    from the same characters (an agent that memorized the training kanji generalizes worse).
    ``images`` (B, C, H, W) with a uniform border (it fills in); returns ``(images, labels, templates)``,
    the templates one per image (labels ``0..B-1``), or None without templates."""
    batch = len(images)
    draw = torch.rand(batch, 3, generator=generator) * 2 - 1
    scale, shift = 1 + amount * draw[:, 0], amount * draw[:, 1:]           # shift in canvas fractions (x, y)
    theta = torch.zeros(batch, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / scale                            # output -> input coordinates, [-1, 1]
    theta[:, :, 2] = -2 * shift / scale[:, None]
    grid = F.affine_grid(theta.to(images), list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if templates is None:
        return moved, labels, None
    actions = templates.actions.to(images)[labels].clone()
    points = actions[..., A.POINTS].unflatten(-1, (3, 2))
    points = (points - 0.5) * scale.to(images).view(-1, 1, 1, 1) + 0.5 + shift.to(images).view(-1, 1, 1, 2)
    actions[..., A.POINTS] = points.clamp(0.0, 1.0).flatten(-2)
    mask = templates.mask.to(images.device)[labels]
    return moved, torch.arange(batch, device=images.device), Templates(actions, mask, [str(i) for i in range(batch)])
