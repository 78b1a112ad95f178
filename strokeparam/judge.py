"""Held-out verdicts: how a classifier that did not paint a picture sees it (shared by the CLI and bench/)."""
from __future__ import annotations

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
