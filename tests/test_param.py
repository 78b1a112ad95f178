"""BrushstrokeParam: Lucent's param_f contract, constraints, layouts, init, transfer to MyPaint."""
import pytest
import torch

from strokeparam import BrushstrokeParam
from strokeparam import constraints as C
from strokeparam.actions import COLOR, INDEX, PRESSURE, SIZE


def optimize(param, steps=5):
    params, image_f = param()
    opt = torch.optim.Adam(params, lr=0.3)
    target = torch.rand(1, 3, *param.output_size, generator=torch.Generator().manual_seed(0))
    for _ in range(steps):
        opt.zero_grad()
        ((image_f() - target) ** 2).mean().backward()
        opt.step()
    return param


def test_param_f_contract_and_shapes(painter):
    param = BrushstrokeParam(strokes=6, grid=(2, 3), overlap=8, batch=2, painter=painter, seed=0)
    params, image_f = param()
    assert params == [param.raw] and param.raw.requires_grad
    img = image_f()
    assert img.shape == (2, 3, 120, 176) and img.dtype == torch.float32
    assert 0 <= img.min() and img.max() <= 1
    assert param.actions().shape == (2, 40 + 36, 12)          # the default underpainting under 6 tiles x 6
    img.mean().backward()
    assert param.raw.grad.abs().sum(-1).gt(0).all()            # every stroke's raw action gets a gradient
    assert all(not p.requires_grad for p in param.painter.parameters())


def test_size_chooses_grid_and_resizes(painter):
    param = BrushstrokeParam(strokes=2, size=(100, 300), painter=painter, seed=0)
    assert param.image().shape == (1, 3, 100, 300)
    assert param.layout.height >= 100 and param.layout.width >= 300
    square = BrushstrokeParam(strokes=2, size=224, painter=painter, seed=0)      # a resizable painter's tiles fit it
    assert (square.layout.tile, square.layout.height, square.layout.width) == (62, 224, 224)
    image = square.image()
    assert image.shape == (1, 3, 224, 224) and square.resize(image) is image


def test_seed_repeats_and_init_continues(painter):
    a, b = (BrushstrokeParam(strokes=4, painter=painter, seed=3) for _ in range(2))
    assert torch.equal(a.actions(), b.actions())
    acts = a.actions().detach()
    c = BrushstrokeParam(strokes=4, painter=painter, init=acts[0])
    assert torch.allclose(c.actions(), acts, atol=1e-3)


def test_constraints_hold_exactly_after_optimization(painter):
    gray = optimize(BrushstrokeParam(strokes=8, painter=painter, grayscale=True, seed=1))
    acts = gray.actions()
    assert torch.equal(acts[..., INDEX["red"]], acts[..., INDEX["green"]])
    assert torch.equal(acts[..., INDEX["red"]], acts[..., INDEX["blue"]])
    assert acts[..., INDEX["red"]].std() > 0.05                       # a real gray range, not one gray
    palette = ["#ff0000", "#00ff00", "#112233"]
    pal = optimize(BrushstrokeParam(strokes=8, painter=painter, palette=palette, seed=1))
    allowed = C.Palette(palette).colors
    colors = pal.actions()[..., COLOR].reshape(-1, 3)
    assert all(any(torch.equal(c, p) for p in allowed) for c in colors)
    assert pal.raw.grad[..., COLOR].abs().sum() > 0                   # the assignment is differentiable
    ranged = optimize(BrushstrokeParam(strokes=8, painter=painter, seed=1,
                                       constraints=[C.size_range(0.0, 0.2), C.pressure_range(0.5, 0.9)]))
    acts = ranged.actions()
    assert acts[..., SIZE].max() <= 0.2 and acts[..., PRESSURE].min() >= 0.5 and acts[..., PRESSURE].max() <= 0.9


@pytest.mark.parametrize("kwargs, needle", [
    (dict(strokes=0), "strokes"),
    (dict(batch=-1), "batch"),
    (dict(grid=(0, 2)), "grid"),
    (dict(overlap=40), "overlap"),
    (dict(size=0), "size"),
    (dict(background=(2, 0, 0)), "background"),
    (dict(palette=["#zzzzzz"]), "palette color"),
    (dict(palette=[]), "palette"),
    (dict(grayscale=True, palette=["#000000"]), "one color constraint"),
    (dict(constraints=["thin"]), "Constraint objects"),
    (dict(init=torch.full((3, 12), 0.5)), "init holds 3 strokes"),
    (dict(init=torch.full((4, 12), 1.5)), "init"),
    (dict(painter=42), "painter"),
])
def test_bad_options_raise_clear_errors(painter, kwargs, needle):
    kwargs = {"strokes": 4, "painter": painter, **kwargs}
    with pytest.raises(ValueError, match=needle):
        BrushstrokeParam(**kwargs)


def test_constraint_ranges_are_checked():
    with pytest.raises(ValueError, match="low < high"):
        C.size_range(0.5, 0.2)
    with pytest.raises(ValueError, match="unknown action field"):
        C.FieldRange("thickness", 0, 1)


def test_unknown_painter_name_lists_names():
    with pytest.raises(KeyError, match="available painters"):
        BrushstrokeParam(painter="no_such_painter")


def test_to_mypaint_keeps_the_layout(painter):
    # one dark stroke per tile, drawn only in tile (row 0, col 1) with pressure; elsewhere pressure 0
    layout_param = BrushstrokeParam(strokes=1, grid=(2, 2), overlap=8, painter=painter, seed=0)
    order = layout_param.layout.order()
    acts = torch.zeros(4, 12)
    acts[:, 6:] = torch.tensor([0.2, 0.5, 0.5, 0.5, 0.8, 0.5])
    acts[:, SIZE] = 0.6
    acts[order.index((0, 1)), PRESSURE] = 1.0
    param = BrushstrokeParam(strokes=1, grid=(2, 2), overlap=8, painter=painter, init=acts)
    img = param.to_mypaint(seed=0)
    assert img.shape == (1, 3, 120, 120)
    dark = 1 - img[0].mean(0)
    rows, cols = dark.sum(1), dark.sum(0)
    assert abs(float((rows * torch.arange(120)).sum() / rows.sum()) - 32) < 2
    assert abs(float((cols * torch.arange(120)).sum() / cols.sum()) - (56 + 32)) < 2
    again = param.to_mypaint(seed=0)
    assert torch.equal(img, again)
    quantized = param.to_mypaint(seed=0, quantize=True)
    assert quantized.shape == img.shape


def test_a_generator_paints_random_draws_of_a_stochastic_painter(painter):
    from strokeparam.painters import create_painter
    noisy = create_painter("skeleton", pretrained=False, jitter=0.75)
    param = BrushstrokeParam(strokes=5, painter=noisy, seed=0)
    expected = param.image()
    draws = [param.image(generator=torch.Generator().manual_seed(4)) for _ in range(2)]
    assert torch.equal(*draws) and not torch.equal(draws[0], expected)
    assert torch.equal(param.image(), expected)


def test_each_layer_is_painted_once_per_neural_render_and_once_per_draw(painter):
    from strokeparam.painters import create_painter
    noisy = create_painter("skeleton", pretrained=False, jitter=0.75)
    param = BrushstrokeParam(strokes=3, size=96, painter=noisy, seed=0)      # an underpainting and the tiles
    calls = []
    for p in {id(p): p for p in (param.painter, *param.level_painters.values())}.values():
        p.dab_geometry = (lambda geometry: lambda *a, **k: (calls.append(1), geometry(*a, **k))[1])(p.dab_geometry)
    gen = torch.Generator().manual_seed(0)
    for kwargs, per_layer in ((dict(), 1), (dict(generator=gen), 1), (dict(generator=gen, draws=3), 3),
                              (dict(generator=gen, draws=2, expected=True), 3)):
        calls.clear()
        param.image(**kwargs)
        assert len(calls) == per_layer * len(param.levels), kwargs


def test_upto_lists_give_one_painting_per_count_from_one_painter_pass(painter):
    param = BrushstrokeParam(strokes=3, size=96, batch=2, painter=painter, seed=0)     # under 40 + tiles x 3
    counts = [1, 40, 42, None]
    frames = param.image(upto=counts)
    assert frames.shape == (len(counts) * 2, 3, 96, 96)
    for k, count in enumerate(counts):
        torch.testing.assert_close(frames[2 * k:2 * k + 2], param.image(upto=count))
    for bad in ([], [-1], [1.5], "3"):
        with pytest.raises(ValueError, match="upto must be"):
            param.image(upto=bad)


def test_a_loose_painter_gets_one_warning_with_its_fidelity(monkeypatch):
    import warnings

    import strokeparam.param as P
    from strokeparam.painters import create_painter
    monkeypatch.setattr(P, "_warned", set())
    loose = create_painter("vae")
    fidelity = loose.card["fidelity"]
    loose.card = dict(loose.card, fidelity=dict(fidelity, l1=2.1 * fidelity["floor"]["l1"]))
    with pytest.warns(UserWarning, match=r"'vae' painter imitates MyPaint loosely \(L1 2\.1x"):
        BrushstrokeParam(strokes=2, painter=loose)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BrushstrokeParam(strokes=2, painter=loose)           # once per painter
        for name in ("skeleton", "gan", "vae"):              # the shipped painters are close to MyPaint
            monkeypatch.setattr(P, "_warned", set())
            BrushstrokeParam(strokes=2, painter=name)


def test_a_param_keeps_freed_stroke_layers_in_the_process():
    """Building a BrushstrokeParam asks glibc to keep freed memory: a freed 20-MB tensor (a stroke layer's
    size) stays in the heap for the next step instead of going back to the kernel, as it does in a process
    that did not ask. Where the user set MALLOC_TRIM_THRESHOLD_, their choice stands."""
    import os
    import subprocess
    import sys
    code = """
import ctypes, sys, torch
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
if sys.argv[1] == "param":
    from strokeparam import BrushstrokeParam
    BrushstrokeParam(strokes=2, painter="skeleton")
layer = torch.ones(5_000_000)
del layer
from strokeparam.memory import keep_freed_memory
print(mallinfo2().fordblks / 2 ** 20, keep_freed_memory())
"""

    def run(how, **env):
        out = subprocess.run([sys.executable, "-c", code, how], capture_output=True, text=True, check=True,
                             env=dict(os.environ, **env)).stdout.split()
        return float(out[0]), out[1] == "True"
    (kept, took), (bare, _) = run("param"), run("bare")
    assert took and kept >= 19 > 1 > bare
    assert run("param", MALLOC_TRIM_THRESHOLD_="131072")[1] is False


def test_strokes_painted_in_boxes_give_the_canvas_of_whole_squares(monkeypatch):
    """The default painter paints each stroke only in a box around it and compositing reads those pixels
    alone: the same paintings (an underpainting, tiles, draws, first strokes only) and the same gradients
    as strokes painted on their whole squares."""
    from strokeparam.painters.skeleton import SkeletonPainter
    param = BrushstrokeParam(strokes=6, size=96, batch=2, seed=0)
    assert param.painter.paint_boxes(param.actions()[0, :3].detach()) is not None
    results = []
    for boxed in (True, False):
        if not boxed:
            monkeypatch.setattr(SkeletonPainter, "paint_boxes", lambda *args, **kwargs: None)
        param.raw.grad = None
        gen = torch.Generator().manual_seed(0)
        pictures = param.image(upto=[3, 41, None], generator=gen, draws=2, expected=True)
        pictures.square().mean().backward()
        results.append((pictures.detach(), param.raw.grad.clone()))
    (got, got_grad), (want, want_grad) = results
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-4, atol=1e-4 * float(want_grad.abs().max()))
