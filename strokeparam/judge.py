"""Who paints and who judges: the default painting ensemble, the held-out judge, how a classifier that did not
paint a picture sees it (class names, verdicts, ranks), and bench/'s painter names. Shared by the CLI, the gallery,
:mod:`strokeparam.paint` and bench/; importing it imports no torch.
"""
from __future__ import annotations

PAINTING_MODELS = ("efficientnet_lite0", "efficientnet_lite1")                  # the default painting ensemble
JUDGE = "efficientnet_lite2"                                                    # the held-out judge of paintings
HELDOUT = (JUDGE, "efficientnet_lite1", "efficientnet_lite0")   # first one that did not paint judges


def heldout_name(painting_models) -> str | None:
    """The first of :data:`HELDOUT` that is not among ``painting_models`` (None if all painted)."""
    return next((name for name in HELDOUT if name not in painting_models), None)


def class_name(index: int) -> str:
    """The first English name of ImageNet class ``index``."""
    from timm.data import ImageNetInfo
    return ImageNetInfo().index_to_description(index).split(",")[0].strip()


def verdict(model, image, index: int) -> tuple[float, int, float]:
    """(probability of class ``index``, top-1 index, its probability) of ``model`` on images (1, 3, H, W)."""
    import torch
    with torch.no_grad():
        probs = torch.softmax(model(image.to(next(model.parameters()).device)).float(), dim=-1)[0]
    top = int(probs.argmax())
    return float(probs[index]), top, float(probs[top])


def ranks(model, images, index: int) -> list[tuple[int, float]]:
    """(rank of class ``index`` from 1, its probability) for each of ``images`` (N, 3, H, W) under ``model``."""
    import torch
    with torch.no_grad():
        probs = model(images).softmax(-1)
    target = probs[:, index]
    return list(zip(((probs > target[:, None]).sum(-1) + 1).tolist(), target.tolist()))


def load_painter(spec: str | None):
    """A painter from ``'name'`` (shipped weights), ``'name-random'`` (random weights) or None (the default),
    as bench/'s ``--painter`` names them."""
    from .painters import create_painter
    if spec is not None and spec.endswith("-random"):
        return create_painter(spec.removesuffix("-random"), pretrained=False)
    return create_painter(spec)
