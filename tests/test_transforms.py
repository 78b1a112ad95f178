"""Seeded kornia augmentation stacks: repeatable, differentiable, batch-wide or per sample, Lucent-ready."""

import pytest
import torch
from torch import nn

from strokeparam.transforms import Compose, Jitter, Pad, neural_painters, stack, standard


@pytest.fixture
def images():
    return torch.rand(2, 3, 48, 48, generator=torch.Generator().manual_seed(0))


def test_seeded_stacks_repeat(images):
    a, b = standard(seed=7), standard(seed=7)
    first = [a(images) for _ in range(3)]
    assert all(torch.equal(x, b(images)) for x in first)
    assert not torch.equal(first[0], first[1])
    assert not torch.equal(standard(seed=8)(images), standard(seed=7)(images))
    generated = standard(generator=torch.Generator().manual_seed(7))
    assert torch.equal(generated(images), first[0])


def test_no_global_randomness_used_or_changed(images):
    state = torch.get_rng_state()
    out = standard(seed=1)(images)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(123)
    assert torch.equal(standard(seed=1)(images), out)


def test_same_on_batch_and_per_sample(images):
    twins = images[:1].repeat(2, 1, 1, 1)
    together = standard(seed=0, same_on_batch=True)(twins)
    assert torch.equal(together[0], together[1])
    apart = standard(seed=0, same_on_batch=False)(twins)
    assert not torch.equal(apart[0], apart[1])


def test_shapes_and_presets(images):
    assert standard(seed=0)(images).shape == (2, 3, 72, 72)
    copies = neural_painters(copies=3, seed=0)(images)
    assert copies.shape == (6, 3, 64, 64)
    assert not torch.equal(copies[0], copies[2])
    full = stack(
        pad=4, jitter=2, scale=(0.8, 1.2), degrees=30, perspective=0.3,
        color=dict(brightness=0.1, contrast=0.1, saturation=0.1, hue=0.02), seed=0,
    )(images)
    assert full.shape == (2, 3, 56, 56) and 0 <= full.min() and full.max() <= 1
    assert torch.equal(Pad(3, value=0.5)(images)[..., 0, 0], torch.full((2, 3), 0.5))
    assert Jitter(4)(images).shape == images.shape


def test_differentiable(images):
    images = images.clone().requires_grad_(True)
    stack(pad=2, jitter=3, degrees=10, scale=(0.9, 1.1), perspective=0.2, seed=0)(images).mean().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_bad_options():
    with pytest.raises(ValueError, match="not both"):
        standard(seed=0, generator=torch.Generator())
    with pytest.raises(ValueError, match="copies"):
        Compose([], copies=0)
    with pytest.raises(ValueError, match="perspective"):
        stack(perspective=2)
    with pytest.raises(ValueError, match="scale"):
        stack(scale=(1.2, 0.8))


def test_usable_as_lucent_transforms():
    from lucent.optvis import param, render

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    torch.manual_seed(0)
    images = render.render_vis(
        model,
        "labels:1",
        param_f=lambda: param.image(32),
        transforms=[neural_painters(copies=2, seed=0)],
        thresholds=(2,),
        show_image=False,
        progress=False,
        preprocess=False,
    )
    assert images[0].shape == (1, 32, 32, 3)
