"""Stroke order and direction: does an agent write like a person?

Two measures. **Template agreement** (digits): an image follows its class template when its first K
inked strokes (K = the template's strokes) each lie nearest to the template stroke of the same rank
(order) and run the same way along it (direction). **Kanji order**: each inked agent stroke is matched
to the nearest KanjiVG human stroke; Kendall's tau between the agent's painting order and the matched
strokes' writing order says how human the order is (1 = same order, 0 = unrelated, -1 = reversed).
Curves are compared by the mean distance of points at equal arc-length fractions, forwards and reversed.
"""
from __future__ import annotations

import numpy as np

from .. import actions as A

POINTS = 16
MIN_PRESSURE = 0.1          # strokes whose mean pressure is below this count as not painted


def action_curves(actions, num: int = POINTS) -> np.ndarray:
    """The Bezier skeletons of (N, 12) actions as (N, num, 2) points in [0, 1], resampled by arc length."""
    acts = A.validate(actions)
    return np.stack([resample(A.bezier(a[A.POINTS].reshape(3, 2), 4 * num), num) for a in acts]) \
        if len(acts) else np.zeros((0, num, 2))


def resample(polyline: np.ndarray, num: int = POINTS) -> np.ndarray:
    """``num`` points evenly spaced by arc length along a (P, 2) polyline."""
    seg = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    if arc[-1] <= 1e-12:
        return np.repeat(polyline[:1], num, axis=0)
    s = np.linspace(0.0, arc[-1], num)
    return np.stack([np.interp(s, arc, polyline[:, k]) for k in range(2)], axis=1)


def inked(actions) -> np.ndarray:
    """Indices of the actions that paint (mean pressure >= MIN_PRESSURE), in order."""
    acts = A.validate(actions)
    return np.flatnonzero(acts[:, A.PRESSURE].mean(1) >= MIN_PRESSURE)


def distances(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forward and reversed mean point distances between curves a (N, P, 2) and b (M, P, 2): two (N, M)."""
    fwd = np.linalg.norm(a[:, None] - b[None], axis=-1).mean(-1)
    rev = np.linalg.norm(a[:, None] - b[None, :, ::-1], axis=-1).mean(-1)
    return fwd, rev


def template_agreement(actions, template) -> dict:
    """Whether one image's actions (T, 12) follow a template's real strokes (K, 12) in order and direction."""
    strokes = inked(actions)
    k = len(template)
    if len(strokes) < k:
        return dict(order=False, direction=False, follows=False)
    mine = action_curves(np.asarray(actions)[strokes[:k]])
    fwd, rev = distances(mine, action_curves(template))
    order = bool((np.minimum(fwd, rev).argmin(1) == np.arange(k)).all())
    direction = bool((np.diag(fwd) <= np.diag(rev)).all())
    return dict(order=order, direction=direction, follows=order and direction)


def template_scores(actions, labels, templates, by_class: bool = False) -> dict:
    """Fractions of images (actions (B, T, 12), labels (B,)) whose strokes follow their class template;
    ``by_class`` adds ``classes``: the same fractions and the image count per class label."""
    acts = np.asarray(actions)
    labels = np.asarray(labels)
    rows = [template_agreement(a, templates.actions[c][templates.mask[c]].numpy()) for a, c in zip(acts, labels)]

    def fractions(subset):
        return {key: float(np.mean([r[key] for r in subset])) if subset else float("nan")
                for key in ("order", "direction", "follows")}
    scores = fractions(rows)
    if by_class:
        scores["classes"] = {templates.labels[c]: dict(fractions([r for r, k in zip(rows, labels) if k == c]),
                                                       images=int((labels == c).sum()))
                             for c in sorted(set(labels.tolist()))}
    return scores


def kendall_tau(x) -> float:
    """Kendall's tau-a between positions 0..n-1 and the values ``x`` (ties count as neither); nan if n < 2."""
    x = np.asarray(x)
    n = len(x)
    if n < 2:
        return float("nan")
    sign = np.sign(x[None, :] - x[:, None])[np.triu_indices(n, 1)]
    return float(sign.sum() / (n * (n - 1) / 2))


def kanji_order(actions, human_strokes) -> dict:
    """How one image's inked agent strokes (T, 12) follow a kanji's human strokes (list of (P, 2) polylines).

    ``tau``: Kendall's tau of the matched human stroke indices in the agent's order; ``direction``: the
    fraction of agent strokes running the same way as their matched stroke; ``coverage``: the fraction
    of human strokes matched by at least one agent stroke.
    """
    strokes = inked(actions)
    human = np.stack([resample(np.asarray(s, dtype=np.float64)) for s in human_strokes])
    if len(strokes) == 0:
        return dict(tau=float("nan"), direction=float("nan"), coverage=0.0)
    fwd, rev = distances(action_curves(np.asarray(actions)[strokes]), human)
    match = np.minimum(fwd, rev).argmin(1)
    same_way = fwd[np.arange(len(match)), match] <= rev[np.arange(len(match)), match]
    return dict(tau=kendall_tau(match), direction=float(same_way.mean()),
                coverage=float(len(set(match.tolist())) / len(human)))


def kanji_scores(actions, strokes) -> dict:
    """Means of :func:`kanji_order` over images (nan taus, from images with < 2 inked strokes, skipped)."""
    rows = [kanji_order(a, s) for a, s in zip(np.asarray(actions), strokes)]
    return {key: float(np.nanmean([r[key] for r in rows])) if rows else float("nan")
            for key in ("tau", "direction", "coverage")}
