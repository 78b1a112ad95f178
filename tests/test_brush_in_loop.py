"""The real brush in the loop (straight-through MyPaint) and painters at any tile size."""
import numpy as np
import pytest
import torch

from strokeparam import BrushstrokeParam, create_painter, render_vis
from strokeparam.canvas import composite
from strokeparam.mypaint import MyPaintRenderer
from strokeparam.mypaint.loop import CHUNK, BrushInTheLoop, chunk_seeds, straight_through
from strokeparam.painters.base import Resized


def test_straight_through_forward_is_real_backward_is_neural():
    x = torch.tensor([0.2, 0.7], requires_grad=True)
    neural = x ** 2
    out = straight_through(neural, torch.tensor([0.9, 0.1]))
    assert torch.equal(out.detach(), torch.tensor([0.9, 0.1]))
    out.sum().backward()
    assert torch.allclose(x.grad, 2 * x.detach())


def test_straight_through_of_a_stack_adds_the_copies_gradients():
    x = torch.tensor([0.2, 0.7], requires_grad=True)
    neural = x ** 2
    stack = torch.tensor([[0.9, 0.1], [0.3, 0.4], [0.0, 1.0]])
    out = straight_through(neural, stack)
    assert torch.equal(out.detach(), stack)
    (out * torch.tensor([[1.0], [2.0], [3.0]])).sum().backward()
    assert torch.allclose(x.grad, 6 * 2 * x.detach())


def test_brush_renders_into_the_array_it_is_given():
    acts = np.random.default_rng(1).uniform(0.1, 0.9, (CHUNK + 3, 12)).astype(np.float32)
    brush, out = BrushInTheLoop(workers=2), np.full((2, CHUNK + 3, 48, 48), -1.0, np.float32)
    got = brush.result(brush.submit(acts, 32, seed=4, margin=8, out=out[1]))
    brush.close()
    assert got is out[1] or np.shares_memory(got, out[1])
    assert np.array_equal(out[1], BrushInTheLoop()(acts, 32, seed=4, margin=8)) and (out[0] == -1).all()
    for bad in (out[1, :-1], out[1].astype(np.float64), out[1, :, ::2, ::2], out[1].tolist()):
        with pytest.raises(ValueError, match="out must be a writeable C-contiguous float32 array"):
            brush.submit(acts, 32, seed=4, margin=8, out=bad)


def test_brush_renders_what_mypaint_paints_for_any_number_of_workers():
    acts = np.random.default_rng(0).uniform(0.1, 0.9, (CHUNK + 5, 12)).astype(np.float32)
    alone, pooled = BrushInTheLoop(), BrushInTheLoop(workers=2)
    a, b = alone(acts, 64, seed=7), pooled(acts, 64, seed=7)
    pooled.close()
    assert a.shape == (CHUNK + 5, 64, 64) and np.array_equal(a, b)
    first, second = chunk_seeds(7, 2)
    renderer = MyPaintRenderer(size=64)
    assert np.array_equal(a[:CHUNK], renderer.render(acts[:CHUNK], seed=first))
    assert np.array_equal(a[CHUNK:], renderer.render(acts[CHUNK:], seed=second))
    assert not np.array_equal(a, alone(acts, 64, seed=8))


def test_the_repaint_of_a_seed_is_what_the_loop_showed_for_it(painter):
    """One tile: to_mypaint(seed=s) paints each stroke with the brush randomness the loop gave it under
    brush seed s (chunk by chunk, CHUNK strokes each), so the optimized picture is the one kept."""
    for seed in (0, 5):
        param = BrushstrokeParam(strokes=CHUNK + 8, batch=2, painter=painter, seed=seed, mypaint=True)
        with torch.no_grad():
            shown = param.image()
        assert (shown - param.to_mypaint(seed=seed)).abs().max() < 2e-3
        assert (shown - param.to_mypaint(seed=seed + 1)).abs().mean() > 0.01
    # a stitched canvas over an underpainting: the same strokes wherever they lie, also where they cross
    # their tile's edge (the loop paints the tiles' margins); cut at the edge, they differ several times more
    param = BrushstrokeParam(strokes=12, size=(160, 224), painter=painter, seed=2, mypaint=True)
    assert param.layout.margin == 16
    with torch.no_grad():
        shown = param.image()
        cut = BrushstrokeParam(strokes=12, size=(160, 224), painter=painter, seed=2, mypaint=True, margin=0).image()
    repaint = param.to_mypaint(seed=2)
    assert (shown - repaint).abs().mean() < 0.0005 < 0.002 < (cut - repaint).abs().mean()
    assert 0.04 < (shown - param.to_mypaint(seed=3)).abs().mean()


@pytest.mark.parametrize("bad", [-1, 1.5, True, 10 ** 6])
def test_brush_checks_workers(bad):
    with pytest.raises(ValueError, match="workers"):
        BrushInTheLoop(workers=bad)


def test_param_with_mypaint_composites_mypaint_strokes_with_the_painters_gradient(painter):
    param = BrushstrokeParam(strokes=5, painter=painter, seed=3, mypaint=True)
    image = param.image()
    acts = param.actions().detach()
    real = MyPaintRenderer(size=64).render(acts[0].numpy(), seed=chunk_seeds(3, 1)[0])
    expected = composite(torch.from_numpy(real).view(1, 1, 5, 1, 64, 64), acts[..., 3:6].view(1, 1, 5, 3),
                         param.layout, param.background)
    assert torch.allclose(image, expected, atol=1e-6)
    assert torch.equal(image, param.image())                            # seeded: repeats
    neural = param.image(mypaint=False)
    assert (image - neural).abs().mean() > 1e-3
    image.mean().backward()
    grad_real, param.raw.grad = param.raw.grad.clone(), None
    neural.mean().backward()                                            # same graph through the painter
    assert grad_real.abs().sum() > 0 and not torch.equal(grad_real, param.raw.grad)
    draws = param.image(generator=torch.Generator().manual_seed(0), draws=3)
    assert draws.shape == (3, 3, 64, 64) and not torch.equal(draws[0], draws[1])
    again = param.image(generator=torch.Generator().manual_seed(0), draws=3)
    assert torch.equal(draws, again)
    both = param.image(generator=torch.Generator().manual_seed(0), draws=3, expected=True)   # one neural render
    assert torch.equal(both[:1], neural) and torch.equal(both[1:], draws)


def test_fresh_draws_reuse_the_latest_draws_moved_with_the_strokes(painter):
    """With ``fresh``, MyPaint paints that many draws a call; the others are the latest calls' draws (newest
    first), their brush residuals carried over the current neural render."""
    param = BrushstrokeParam(strokes=5, painter=painter, seed=3, mypaint=True)

    def call(seed, fresh=1):
        return param.image(generator=torch.Generator().manual_seed(seed), draws=3, expected=True, fresh=fresh)
    first = call(0)                                  # nothing kept yet: all three painted
    assert torch.equal(first, param.image(generator=torch.Generator().manual_seed(0), draws=3, expected=True))
    second = call(1)
    assert not torch.equal(second[1], first[1])                          # the fresh draw
    assert torch.allclose(second[2:], first[1:3], atol=1e-6)             # the strokes have not moved
    third = call(2)
    assert torch.allclose(third[2], second[1], atol=1e-6) and torch.allclose(third[3], first[1], atol=1e-6)
    assert torch.allclose(call(3, fresh=0)[1:], third[1:], atol=1e-6)   # none painted: the 3 latest, as they were
    with torch.no_grad():
        param.raw[..., 6:12] += 0.5                                      # move the strokes
    moved = call(3)
    neural = param.image(mypaint=False)
    assert torch.equal(moved[:1], neural)
    residual = (third[2:] - third[:1]).abs().mean()
    assert (moved[2:] - neural).abs().mean() > 0.5 * residual            # still the brush's texture...
    assert not torch.allclose(moved[2:], third[2:], atol=1e-3)           # ...where the strokes are now
    moved.mean().backward()
    assert param.raw.grad.abs().sum() > 0
    assert torch.equal(call(0, fresh=3),                                 # all fresh: the seed's draws
                       param.image(generator=torch.Generator().manual_seed(0), draws=3, expected=True))
    param.forget_draws()
    assert torch.equal(call(0), call(0, fresh=3))                        # none kept: all painted
    for bad in (-1, 4, 1.5):
        with pytest.raises(ValueError, match="fresh must be"):
            call(0, fresh=bad)


def test_draws_need_a_generator(painter):
    param = BrushstrokeParam(strokes=2, painter=painter, seed=0)
    with pytest.raises(ValueError, match="draws"):
        param.image(draws=2)


def test_mypaint_option_is_checked(painter):
    with pytest.raises(ValueError, match="mypaint"):
        BrushstrokeParam(strokes=2, painter=painter, mypaint=3)
    with pytest.raises(KeyError, match="unknown brush"):
        BrushstrokeParam(strokes=2, painter=painter, mypaint="no/such_brush")


def test_render_vis_with_mypaint_in_the_loop_raises_the_class_logit(model):
    """MyPaint's texture changes from step to step (its random stream follows the dabs), so the logit of
    one step is noisy: the mean of the last few steps must beat the start."""
    param = BrushstrokeParam(strokes=8, seed=0, mypaint=True)         # the shipped painter's gradient
    first, *last = render_vis(model, "labels:388", param=param, thresholds=(0, 34, 36, 38, 40), transforms=[],
                              progress=False, seed=0)
    with torch.no_grad():
        logits = [model(torch.from_numpy(x).permute(0, 3, 1, 2))[0, 388].item() for x in [first] + last]
    assert sum(logits[1:]) / len(last) > logits[0] + 0.5


def test_lucent_render_vis_takes_the_param_with_mypaint(model, painter):
    render = pytest.importorskip("lucent.optvis.render")
    from strokeparam.compat import patch_lucent
    patch_lucent()
    param = BrushstrokeParam(strokes=4, painter=painter, seed=0, mypaint=True)
    (image,) = render.render_vis(model, "labels:388", param_f=param, thresholds=(2,), preprocess=False,
                                 progress=False, show_image=False)
    with torch.no_grad():                       # what Lucent got is MyPaint's paint of the final strokes
        assert np.allclose(image, param.image().permute(0, 2, 3, 1).numpy(), atol=1e-6)
        assert not np.allclose(image, param.image(mypaint=False).permute(0, 2, 3, 1).numpy(), atol=1e-2)


def test_skeleton_paints_natively_at_any_size():
    painter = create_painter()
    big = painter.at_size(128)
    assert type(big) is type(painter) and big.size == 128 and painter.at_size(64) is painter
    acts = torch.from_numpy(np.random.default_rng(1).uniform(0.1, 0.9, (40, 12)).astype(np.float32))
    with torch.no_grad():
        small, large = painter(acts)[:, 0], big(acts)[:, 0]
    assert large.shape == (40, 128, 128)
    down = torch.nn.functional.avg_pool2d(large[:, None], 2)[:, 0]
    assert (down - small).abs().mean() < 0.02                          # the same strokes, scaled
    real = MyPaintRenderer(size=128).render(acts.numpy(), seed=0)
    other = MyPaintRenderer(size=128).render(acts.numpy(), seed=1)
    assert np.abs(large.numpy() - real).mean() < np.abs(other - real).mean()   # within MyPaint's own noise


def test_fixed_size_painters_are_resized():
    gan = create_painter("gan", pretrained=False)
    big = gan.at_size(96)
    assert isinstance(big, Resized) and big.size == 96 and big.at_size(64) is gan
    with torch.no_grad():
        assert big(torch.full((2, 12), 0.5)).shape == (2, 1, 96, 96)
    with pytest.raises(ValueError, match="at_size"):
        type(gan)(size=96)
    with pytest.raises(ValueError, match="size"):
        gan.at_size(4)


def test_param_tile_paints_the_layout_at_that_size_and_mypaint_repaints_it(painter):
    param = BrushstrokeParam(strokes=6, grid=2, tile=96, overlap=16, painter=painter, seed=0)
    assert param.layout.tile == 96 and param.painter.size == 96
    assert param.image().shape == (1, 3, 176, 176)
    assert param.to_mypaint(seed=0).shape == (1, 3, 176, 176)
    with pytest.raises(ValueError, match="tile"):
        BrushstrokeParam(strokes=2, tile=4, painter=painter)


def test_a_painter_trained_on_a_brush_paints_and_repaints_with_it():
    """The painter's card names its brush: the loop and the re-paints use it, and the stroke JSON keeps it."""
    from strokeparam.export import strokes_dict
    kwargs = dict(strokes=20, grid=2, tile=128, overlap=32, seed=0, mypaint=True, underpainting=0)
    gaps = {}
    for name in ("skeleton.deevad_brush", "skeleton"):
        param = BrushstrokeParam(painter=name, **kwargs)
        assert param.brush_name == param.brush.brush == create_painter(name).brush
        with torch.no_grad():
            neural, shown, repaint = param.image(mypaint=False), param.image(), param.to_mypaint(seed=0)
        assert (shown - repaint).abs().mean() < 1e-3
        gaps[name] = float((neural - repaint).abs().mean())
    # deevad/brush has no randomness, and its painter imitates it closely: the neural render is the re-paint's
    # picture to within half the dry brush's gap (0.027 against 0.055 for these strokes)
    assert gaps["skeleton.deevad_brush"] < 0.6 * gaps["skeleton"]
    assert torch.equal(param.to_mypaint(seed=0, brush="deevad/brush"), BrushstrokeParam(
        painter="skeleton.deevad_brush", **kwargs).to_mypaint(seed=3))
    assert BrushInTheLoop("deevad/brush").deterministic and not BrushInTheLoop().deterministic
    round_brush = BrushstrokeParam(painter="skeleton.deevad_brush", **kwargs)
    with torch.no_grad():          # a brush without randomness: one render serves every draw
        draws = round_brush.image(generator=torch.Generator().manual_seed(0), draws=3)
        dry = BrushstrokeParam(painter="skeleton", **kwargs).image(generator=torch.Generator().manual_seed(0), draws=2)
    assert torch.equal(draws[0], draws[2]) and (draws[0] - round_brush.to_mypaint(seed=0)[0]).abs().mean() < 1e-3
    assert not torch.equal(dry[0], dry[1])
    explicit = BrushstrokeParam(painter="skeleton", **dict(kwargs, mypaint="classic/pen"))
    saved = strokes_dict(explicit)
    assert saved["brush"] == "classic/pen" == BrushstrokeParam(init=saved).brush_name
    assert BrushstrokeParam(init=strokes_dict(BrushstrokeParam(painter="skeleton.deevad_brush", **kwargs))).brush_name \
        == "deevad/brush"
    old = dict(saved)
    del old["brush"]                   # files written before brushes were recorded: the painter's brush
    assert BrushstrokeParam(init=old).brush_name == "classic/dry_brush"
    with pytest.raises(ValueError, match="brush must be a MyPaint brush name"):
        BrushstrokeParam(init=dict(saved, brush=7))
