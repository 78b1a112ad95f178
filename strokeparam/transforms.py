"""Differentiable, seeded augmentation stacks built from kornia.augmentation.

A :class:`Compose` is a callable on NCHW tensors and an ``nn.Module``. Each call draws its random parameters
from the stack's own ``torch.Generator`` (never from the global random state), so two stacks built with the
same seed produce the same sequence of transforms. In Lucent, pass it as a one-element list:
``render_vis(..., transforms=[standard(seed=0)])``.

``same_on_batch=True`` draws one transform for the whole batch (as Lucent does; needed when a content image
rides in the batch, see :func:`strokeparam.objectives.with_content`); ``False`` draws one per sample.
"""

import kornia.augmentation as K
import torch
import torch.nn.functional as F
from torch import nn


class Pad(nn.Module):
    """Pad every side by ``pixels`` with a constant ``value`` (Lucid pads with gray 0.5)."""

    def __init__(self, pixels, value=0.5):
        super().__init__()
        self.pixels, self.value = int(pixels), float(value)

    def forward(self, images):
        return F.pad(images, [self.pixels] * 4, mode="constant", value=self.value)


class Jitter(nn.Module):
    """Random translation by up to ``pixels`` in x and in y (kornia's RandomTranslate, in pixel units)."""

    def __init__(self, pixels, same_on_batch=True, padding_mode="border"):
        super().__init__()
        self.pixels, self.same_on_batch, self.padding_mode = float(pixels), same_on_batch, padding_mode

    def forward(self, images):
        h, w = images.shape[-2:]
        fx, fy = self.pixels / w, self.pixels / h
        translate = K.RandomTranslate(
            (-fx, fx), (-fy, fy), same_on_batch=self.same_on_batch, padding_mode=self.padding_mode, p=1.0
        )
        return translate(images)


class Compose(nn.Module):
    """Apply ``augmentations`` in order to ``copies`` repeats of the batch, with a private random stream.

    ``seed`` (an int) or ``generator`` (a CPU ``torch.Generator``) fixes the stream; with neither, the stream
    is seeded from the operating system. The output batch is the input batch repeated ``copies`` times.
    """

    def __init__(self, augmentations, copies=1, seed=None, generator=None):
        super().__init__()
        if int(copies) < 1:
            raise ValueError(f"copies must be >= 1, got {copies}")
        if seed is not None and generator is not None:
            raise ValueError("pass seed= or generator=, not both")
        if generator is None:
            generator = torch.Generator()
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(int(seed))
        elif generator.device.type != "cpu":
            raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}")
        self.augmentations = nn.ModuleList(augmentations)
        self.copies = int(copies)
        self.generator = generator

    def forward(self, images):
        if self.copies > 1:
            images = images.repeat(self.copies, 1, 1, 1)
        seed = int(torch.randint(0, 2**62, (1,), generator=self.generator))
        cuda = [images.device] if images.device.type == "cuda" else []
        # kornia samples from the global generators: run it on a forked, seeded copy of them
        with torch.random.fork_rng(devices=cuda):
            torch.random.default_generator.manual_seed(seed)
            if cuda:
                with torch.cuda.device(images.device):
                    torch.cuda.manual_seed(seed)
            for augmentation in self.augmentations:
                images = augmentation(images)
        return images


def stack(
    pad=0,
    jitter=0,
    scale=None,
    degrees=0.0,
    jitter_after=0,
    perspective=0.0,
    color=None,
    copies=1,
    same_on_batch=True,
    seed=None,
    generator=None,
):
    """A :class:`Compose` of, in order: pad, jitter, scale + rotate (one affine warp), perspective, jitter, color.

    ``pad``/``jitter``/``jitter_after`` in pixels; ``scale`` a (low, high) range; ``degrees`` the maximal
    rotation either way; ``perspective`` kornia's distortion scale in [0, 1]; ``color`` kornia ColorJitter
    keywords, e.g. ``dict(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.02)``. Zero/None steps are left out.
    """
    if not 0 <= perspective <= 1:
        raise ValueError(f"perspective must be in [0, 1], got {perspective}")
    if scale is not None and not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be a range (low, high) with 0 < low <= high, got {scale}")
    steps = []
    if pad:
        steps.append(Pad(pad))
    if jitter:
        steps.append(Jitter(jitter, same_on_batch))
    if degrees or scale is not None:
        steps.append(
            K.RandomAffine(degrees, scale=scale, padding_mode="border", same_on_batch=same_on_batch, p=1.0)
        )
    if perspective:
        steps.append(K.RandomPerspective(perspective, same_on_batch=same_on_batch, p=1.0))
    if jitter_after:
        steps.append(Jitter(jitter_after, same_on_batch))
    if color:
        steps.append(K.ColorJitter(**color, same_on_batch=same_on_batch, p=1.0))
    return Compose(steps, copies=copies, seed=seed, generator=generator)


def standard(seed=None, generator=None, same_on_batch=True, perspective=0.0, color=None):
    """Lucid's standard stack: pad 12 (gray), jitter 8, scale 0.9–1.1, rotate ±10°, jitter 4."""
    return stack(
        pad=12,
        jitter=8,
        scale=(0.9, 1.1),
        degrees=10.0,
        jitter_after=4,
        perspective=perspective,
        color=color,
        same_on_batch=same_on_batch,
        seed=seed,
        generator=generator,
    )


def neural_painters(copies=4, degrees=20.0, seed=None, generator=None):
    """The neural-painters ImageNet stack: ``copies`` of the painting, each with its own random rotation
    (±``degrees``), slight scale (0.95–1.05) and 4-pixel jitter, all averaged by the objective."""
    return stack(
        pad=8,
        scale=(0.95, 1.05),
        degrees=degrees,
        jitter_after=4,
        copies=copies,
        same_on_batch=False,
        seed=seed,
        generator=generator,
    )
