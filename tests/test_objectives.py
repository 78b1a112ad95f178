"""Objectives: class names, Lucent string parsing and algebra (with and without Lucent), content loss."""

import subprocess
import sys

import pytest
import torch

from strokeparam.models import load_classifier
from strokeparam.objectives import (
    Hook,
    Objective,
    UnknownClassError,
    as_objective,
    class_index,
    class_logit,
    content,
    with_content,
)
from strokeparam.transforms import standard

LOGITS = torch.randn(3, 1000)


def T(name):
    return {"labels": LOGITS}[name]


@pytest.fixture(scope="module")
def lite0():
    return load_classifier("efficientnet_lite0")


@pytest.fixture(scope="module")
def cat():
    skimage_data = pytest.importorskip("skimage.data")
    image = torch.from_numpy(skimage_data.chelsea()).permute(2, 0, 1)[None].float() / 255
    return torch.nn.functional.interpolate(image, size=(64, 96), mode="bilinear", antialias=True)


def test_class_names_resolve_offline():
    assert class_index("giant panda") == 388
    assert class_index("  Giant   PANDA ") == 388
    assert class_index("panda bear") == 388
    assert class_index("n02510455") == 388
    assert class_index(967) == 967
    with pytest.raises(ValueError, match="0..999"):
        class_index(1000)


def test_bad_class_name_raises_with_suggestions():
    with pytest.raises(UnknownClassError, match="did you mean 'giant panda'"):
        class_index("giant pandda")
    with pytest.raises(KeyError):
        class_logit("gaint panda")
    with pytest.raises(ValueError, match="134, 517"):
        class_index("crane")


def test_class_logit_values():
    assert torch.equal(class_logit(388)(T), -LOGITS[:, 388].mean())
    assert torch.equal(class_logit(["giant panda", 967])(T), -LOGITS[:, [388, 967]].mean())
    assert torch.equal(class_logit("giant panda", batch=1)(T), -LOGITS[1, 388])


def test_lucent_strings_callables_and_objectives():
    assert torch.equal(as_objective("labels:388")(T), -LOGITS[:, 388].mean())
    assert torch.equal(as_objective("labels:giant panda")(T), -LOGITS[:, 388].mean())
    obj = class_logit(1)
    assert as_objective(obj) is obj
    wrapped = as_objective(lambda T: T("labels").sum())
    assert isinstance(wrapped, Objective)
    total = 2 * wrapped - as_objective("labels:3") / 4 + 1
    assert torch.allclose(total(T), 2 * LOGITS.sum() + LOGITS[:, 3].mean() / 4 + 1)
    for bad in ("labels", "labels:", ":3", "blocks_5:giant panda"):
        with pytest.raises(ValueError, match="layer:channel|integer"):
            as_objective(bad)
    with pytest.raises(ValueError):
        as_objective(42)


def test_composes_with_lucent_objectives():
    from lucent.optvis import objectives as lucent_objectives

    assert Objective is lucent_objectives.Objective
    mixed = lucent_objectives.channel("labels", 5) + class_logit(7) * 3
    assert torch.allclose(mixed(T), -LOGITS[:, 5].mean() - 3 * LOGITS[:, 7].mean())


def test_works_without_lucent():
    code = """
import sys; sys.modules["lucent"] = None
import torch
from strokeparam.objectives import Objective, as_objective, class_logit
assert Objective.__module__ == "strokeparam.objectives.base"
logits = torch.arange(3000.0).view(3, 1000)
T = {"labels": logits}.__getitem__
obj = -as_objective("labels:388") * 2 - class_logit("giant panda") / 2 + 1 + Objective.sum([class_logit(0)])
expected = 2 * logits[:, 388].mean() + logits[:, 388].mean() / 2 + 1 - logits[:, 0].mean()
assert torch.allclose(obj(T), expected), (obj(T), expected)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "ok", result.stderr


def test_content_loss_is_zero_for_the_content_image(lite0, cat):
    objective = content(cat, ["net_blocks_3", "net_blocks_5"], weights=[1.0, 0.5])
    transform = standard(seed=0)
    with Hook(lite0) as hook, torch.no_grad():
        _, image_f = with_content(lambda: ([], lambda: cat.clone()), cat)()
        lite0(transform(image_f()))
        assert objective(hook).item() == pytest.approx(0.0, abs=1e-10)


def test_content_loss_pulls_a_painting_toward_the_content(lite0, cat):
    painting = torch.rand(2, 3, 32, 48, requires_grad=True)
    _, image_f = with_content(lambda: ([painting], lambda: painting), cat)()
    assert image_f().shape == (3, 3, 32, 48)
    objective = content(cat, "net_blocks_3")
    with Hook(lite0) as hook:
        lite0(standard(seed=1)(image_f()))
        loss = objective(hook)
        loss.backward()
    assert loss.item() > 0 and painting.grad.abs().sum() > 0


def test_content_needs_the_content_batch(lite0, cat):
    with Hook(lite0) as hook, torch.no_grad():
        lite0(torch.rand(1, 3, 64, 64))
        with pytest.raises(ValueError, match="with_content"):
            content(cat, "net_blocks_3")(hook)
        with pytest.raises(KeyError, match="net_blocks_3"):
            hook("net_block_3x")
    with pytest.raises(ValueError, match="one weight per layer"):
        content(cat, ["net_blocks_3"], weights=[1, 2])
    with pytest.raises(ValueError, match="content image"):
        content(cat[0, 0], "net_blocks_3")


def test_content_in_lucent_render_vis(lite0, cat):
    from lucent.optvis import param, render

    torch.manual_seed(0)
    images = render.render_vis(
        lite0,
        content(cat, "net_blocks_3") + 0.01 * class_logit("tabby cat", batch=0),
        param_f=with_content(lambda: param.image(64), cat),
        transforms=[standard(seed=0)],
        thresholds=(2,),
        show_image=False,
        progress=False,
        preprocess=False,
    )
    assert images[0].shape == (2, 64, 64, 3)
