"""render_vis (ours and Lucent's) with BrushstrokeParam and a real ImageNet classifier."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from strokeparam import BrushstrokeParam, render_vis
from strokeparam.objectives import class_logit


def logit(model, image, cls=388):
    with torch.no_grad():
        return model(torch.from_numpy(image).permute(0, 3, 1, 2))[:, cls].mean().item()


def test_render_vis_raises_the_class_logit(model, painter):
    param = BrushstrokeParam(strokes=12, painter=painter, seed=0)
    start = param.actions().detach().clone()
    first, last = render_vis(model, "labels:388", param=param, thresholds=(0, 12), transforms=[],
                             progress=False, seed=0)
    assert first.shape == last.shape == (1, 64, 64, 3)
    assert logit(model, last) > logit(model, first) + 0.5
    assert not torch.equal(param.actions(), start)                  # the param keeps the final strokes
    assert np.allclose(param.image().detach().permute(0, 2, 3, 1).numpy(), last, atol=1e-6)


def test_a_scheduler_steps_after_every_optimizer_step(model, painter):
    param = BrushstrokeParam(strokes=4, painter=painter, seed=0)
    seen = []

    def optimizer(params):
        seen.append(torch.optim.Adam(params, lr=0.2))
        return seen[-1]
    render_vis(model, "labels:388", param=param, thresholds=(4,), transforms=[], progress=False,
               optimizer=optimizer, scheduler=lambda opt: torch.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5))
    assert seen[0].param_groups[0]["lr"] == pytest.approx(0.05)       # halved after steps 2 and 4


@pytest.mark.parametrize("objective", ["labels:giant panda", class_logit(388) - 0.0,
                                       lambda T: -T("labels")[:, 388].mean()])
def test_objective_kinds_are_the_same_class_logit(model, painter, objective):
    images = []
    for obj in (objective, "labels:388"):            # each kind, then the reference string
        param = BrushstrokeParam(strokes=4, painter=painter, seed=1)
        images.append(render_vis(model, obj, param=param, thresholds=(0, 2), progress=False, seed=0))
    (start, img), (_, reference) = images
    assert np.allclose(img, reference, atol=1e-4) and not np.allclose(img, start, atol=1e-3)


def test_seeded_runs_repeat(model, painter):
    runs = [render_vis(model, "labels:388", param=BrushstrokeParam(strokes=4, painter=painter, seed=2),
                       thresholds=(3,), progress=False, seed=5)[0] for _ in range(2)]
    assert np.array_equal(*runs)


def test_ctrl_c_returns_the_current_image(model, painter):
    calls = []

    def objective(T):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return -T("labels")[:, 388].mean()
    param = BrushstrokeParam(strokes=4, painter=painter, seed=1)
    images = render_vis(model, objective, param=param, thresholds=(100,), progress=False)
    assert len(images) == 1 and len(calls) == 3


def test_bad_arguments(model, painter):
    param = BrushstrokeParam(strokes=2, painter=painter, seed=1)
    with pytest.raises(ValueError, match="not both"):
        render_vis(model, "labels:1", param=param, param_f=param)
    with pytest.raises(ValueError, match="layer:channel"):
        render_vis(model, "labels", param=param, progress=False)
    with pytest.raises(KeyError, match="close matches"):
        render_vis(model, "blocks_99:3", param=param, thresholds=(1,), progress=False)


def test_lucent_render_vis_takes_the_param_unchanged(model, painter):
    from lucent.optvis import render, transform

    from strokeparam.compat import patch_lucent
    patch_lucent()
    param = BrushstrokeParam(strokes=4, painter=painter, seed=0)
    before = param.actions().detach().clone()
    images = render.render_vis(model, "labels:388", param_f=param, transforms=transform.standard_transforms,
                               preprocess=False, thresholds=(3,), show_image=False, progress=False)
    assert images[0].shape == (1, 64, 64, 3)
    assert not torch.equal(before, param.actions())


def test_works_without_lucent():
    code = (
        "import sys; sys.modules['lucent'] = None  # any import of lucent now fails\n"
        "from strokeparam import BrushstrokeParam, create_painter, load_classifier, render_vis\n"
        "p = BrushstrokeParam(strokes=3, painter=create_painter('skeleton', pretrained=False), seed=0)\n"
        "img = render_vis(load_classifier('efficientnet_lite0'), 'labels:388', param=p, thresholds=(2,),\n"
        "                 progress=False)[0]\n"
        "print('OK', img.shape)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "OK (1, 64, 64, 3)" in r.stdout


def test_lucent_keywords_and_threshold_order(model, painter, monkeypatch):
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    param = BrushstrokeParam(strokes=3, painter=painter, seed=3)
    images = render_vis(model, objective_f="labels:388", param_f=param, thresholds=(3, 1), transforms=[],
                        progress=False, show_inline=True, seed=0)
    again = BrushstrokeParam(strokes=3, painter=painter, seed=3)
    first, = render_vis(model, "labels:388", param=again, thresholds=(1,), transforms=[], progress=False, seed=0)
    assert np.array_equal(images[1], first) and not np.array_equal(images[0], first)   # (3, 1): step 3 first
    assert len(shown) == 1 and shown[0].size == (64, 64)
    with pytest.raises(ValueError, match="objective once"):
        render_vis(model, "labels:388", objective_f="labels:1", param=again, thresholds=(1,), progress=False)


@pytest.mark.parametrize("lucent", [False, True])
def test_preprocess_never_normalizes_a_self_normalizing_classifier_twice(model, painter, lucent):
    from strokeparam.compat import patch_lucent
    if lucent:
        assert patch_lucent()
        from lucent.optvis.render import render_vis as run
    else:
        run = render_vis
    images = []
    for preprocess in (True, False):
        torch.manual_seed(0)
        param = BrushstrokeParam(strokes=3, painter=painter, seed=4)
        images.append(run(model, "labels:388", param_f=param, thresholds=(2,), preprocess=preprocess,
                          transforms=[], progress=False, show_image=False)[0])
    assert np.array_equal(*images)


def test_class_names_work_inside_lucent_after_patch(model, painter):
    from strokeparam.compat import patch_lucent
    assert patch_lucent()
    from lucent.optvis import objectives, render
    by_name = objectives.as_objective("labels:giant panda")
    param = BrushstrokeParam(strokes=3, painter=painter, seed=6)
    (img,) = render.render_vis(model, "labels:giant panda", param_f=param, thresholds=(2,), transforms=[],
                               progress=False, show_image=False)
    assert img.shape == (1, 64, 64, 3) and by_name.description == objectives.as_objective("labels:388").description
