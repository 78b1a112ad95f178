"""paint_class and paint_content with a randomly initialised painter (fast; no trained painter needed)."""
import numpy as np
import pytest
import torch

from strokeparam import BrushstrokeParam, create_painter
from strokeparam import actions as A
from strokeparam.objectives import UnknownClassError
from strokeparam.paint import content_loss, load_image, paint_class, paint_content

PALETTE = ["#d62728", "#1f77b4", "#ffffff", "#000000"]


@pytest.fixture(scope="module")
def photo():
    """A 64 px picture: a red disk on a blue-to-yellow gradient, as a uint8 HWC array."""
    y, x = np.mgrid[0:64, 0:64] / 63.0
    image = np.stack([x, 0.3 + 0.5 * y, 1 - x], -1)
    image[(x - 0.4) ** 2 + (y - 0.55) ** 2 < 0.06] = (0.9, 0.1, 0.1)
    return (image * 255).round().astype(np.uint8)


class Recording(torch.nn.Module):
    """A real classifier that records the batch size of every call (paint_class uses it as it is)."""

    def __init__(self, model):
        super().__init__()
        self.model, self.seen = model, []

    def forward(self, images):
        self.seen.append(images.shape[0])
        return self.model(images)


def test_paint_class_raises_the_target_logit(model, painter):
    start = BrushstrokeParam(strokes=10, painter=painter, seed=0).image()
    param = paint_class("giant panda", models=model, strokes=10, steps=10, copies=1, resolution=224,
                        painter=painter, progress=False)
    with torch.no_grad():       # the neural render: an untrained painter's MyPaint re-paints are another picture
        before, after = (model(image)[0, 388].item() for image in (start, param.image(mypaint=False)))
    assert after > before + 1.0, (before, after)
    assert param.actions().shape == (1, 10, A.NUM_FIELDS)


def test_paint_class_takes_names_and_indices(model, painter):
    runs = [paint_class(cls, models=[model], strokes=4, steps=1, copies=1, resolution=64, painter=painter,
                        progress=False).actions() for cls in ("giant panda", 388)]
    assert torch.equal(*runs)


def test_paint_class_at_a_size_is_an_underpainting_under_fitted_tiles(model, painter):
    param = paint_class(388, models=model, strokes=2, steps=1, copies=1, resolution=64, painter=painter,
                        size=160, mypaint=False, progress=False)
    (under, n0), (tiles, n1) = param.levels
    assert (under.tiles, under.tile, n0) == (1, 160, 40) and (tiles.tiles, tiles.tile, n1) == (1, 160, 2)
    bare = paint_class(388, models=model, strokes=2, steps=1, copies=1, resolution=64, painter=painter,
                       size=224, underpainting=0, mypaint=False, progress=False)
    assert len(bare.levels) == 1 and bare.layout.tiles == 4


def test_paint_class_draws(model):
    noisy = create_painter("skeleton", pretrained=False, jitter=0.75)
    runs = [paint_class(388, models=model, strokes=4, steps=2, copies=2, resolution=64, painter=noisy,
                        draws=draws, progress=False) for draws in (1, 1, 0)]
    assert torch.equal(runs[0].actions(), runs[1].actions())          # seeded jitter repeats
    assert not torch.equal(runs[0].actions(), runs[2].actions())
    assert torch.equal(runs[0].image(), runs[1].image())              # equal strokes paint equal pictures
    for bad in (3, -1, 1.5, True):
        with pytest.raises(ValueError, match="draws must be"):
            paint_class(388, models=model, copies=2, draws=bad, painter=noisy, progress=False)


def _record_draws(painter) -> list[bool]:
    """A list that gets, for each render of strokes by ``painter``, whether it was a random draw."""
    drawn, geometry = [], painter.dab_geometry
    painter.dab_geometry = lambda actions, generator=None: (drawn.append(generator is not None),
                                                            geometry(actions, generator))[1]
    return drawn


def test_paint_class_default_copies_one_tile_and_canvas(model):
    """Eight copies on one tile, four of them draws; four on a canvas of tiles, three of them draws."""
    noisy = create_painter("skeleton", pretrained=False, jitter=0.75)
    recording = Recording(model)
    drawn = _record_draws(noisy)
    for kwargs, copies, draws in ((dict(grid=1), 8, 4), (dict(size=160, underpainting=0, tile=64, margin=0), 4, 3)):
        recording.seen.clear()
        drawn.clear()
        param = paint_class(388, models=recording, strokes=2, steps=1, resolution=64, painter=noisy,
                            mypaint=False, progress=False, **kwargs)
        assert recording.seen == [copies] and param.layout.tiles == (1 if copies == 8 else 9)
        picture = [False] + [True] * draws                 # one expected render, then the draws
        assert drawn == picture + [False]            # one step, then the final picture: expected strokes
    with pytest.raises(ValueError, match=r"draws must be an integer up to copies \(8 here\)"):
        paint_class(388, models=recording, strokes=2, steps=1, painter=noisy, draws=9, grid=1, progress=False)


def test_paint_class_draws_join_after_draws_from(model):
    """Before step ``draws_from`` every copy is the expected strokes (no draws painted); by default a third of
    the steps on a canvas of tiles, none on one tile."""
    noisy = create_painter("skeleton", pretrained=False, jitter=0.75)
    drawn = _record_draws(noisy)
    canvas = dict(size=96, underpainting=0, tile=64, margin=0)
    for kwargs, plain in ((dict(draws_from=2, **canvas), 2), (canvas, 2), (dict(grid=1), 0),
                          (dict(draws_from=6, **canvas), 6)):
        drawn.clear()
        paint_class(388, models=model, strokes=2, steps=6, copies=2, resolution=32, painter=noisy, mypaint=False,
                    progress=False, **kwargs)
        assert drawn == [False] * plain + [False, True] * (6 - plain) + [False], kwargs   # the final picture: none
    for bad in (-1, 7, 1.5):
        with pytest.raises(ValueError, match=r"draws_from must be a step count in \[0, 6\]"):
            paint_class(388, models=model, strokes=2, steps=6, painter=noisy, draws_from=bad, progress=False)


def test_paint_class_paints_fresh_draws_per_step(model, monkeypatch):
    """On a canvas of tiles MyPaint paints CANVAS_FRESH (0.5) of the 3 draws a step: all 3 at the first step
    with draws (none kept yet), then one every other step; ``fresh`` sets how many."""
    from strokeparam.mypaint.loop import BrushInTheLoop
    painted, submit = [], BrushInTheLoop.submit
    monkeypatch.setattr(BrushInTheLoop, "submit", lambda self, *a, **k: painted.append(1) or submit(self, *a, **k))
    canvas = dict(size=96, underpainting=0, tile=64, margin=0)
    for fresh, per_step in ((None, [3, 1, 0, 1]), (1, [3, 1, 1, 1]), (2.0, [3, 2, 2, 2]), (3, [3] * 4)):
        painted.clear()
        param = paint_class(388, models=model, strokes=2, steps=4, draws_from=0, resolution=32, fresh=fresh,
                            progress=False, **canvas)
        assert len(painted) == sum(per_step), fresh      # 4 steps (the final picture paints no draws)
        assert not param._kept                           # the kept draws' memory is given back
    for bad in (0, 4, -1, True, "1"):
        with pytest.raises(ValueError, match=r"fresh must be a number of draws per step in \(0, 3\]"):
            paint_class(388, models=model, strokes=2, steps=1, fresh=bad, progress=False, **canvas)


def test_paint_class_default_steps_gray_one_tile_and_the_rest(model, painter, monkeypatch):
    """Without ``steps``: GRAY_TILE_STEPS for grays on one tile, CLASS_STEPS otherwise; the CLI's help says the same."""
    from strokeparam import cli, paint
    assert cli.CLASS_STEPS == (paint.CLASS_STEPS, paint.GRAY_TILE_STEPS)
    monkeypatch.setattr(paint, "CLASS_STEPS", 2)
    monkeypatch.setattr(paint, "GRAY_TILE_STEPS", 3)
    recording = Recording(model)
    for kwargs, steps in ((dict(grid=1, grayscale=True), 3), (dict(grid=1), 2),
                          (dict(grid=2, grayscale=True), 2), (dict(size=96, grayscale=True), 2)):
        recording.seen.clear()
        paint_class(388, models=recording, strokes=2, copies=1, resolution=32, painter=painter, mypaint=False,
                    progress=False, **kwargs)
        assert len(recording.seen) == steps, kwargs


def test_paint_class_bad_class_suggests_names(painter):
    with pytest.raises(UnknownClassError, match="giant panda"):
        paint_class("giant pamda", painter=painter, progress=False)
    with pytest.raises(KeyError):
        paint_class("no such thing at all", painter=painter, progress=False)
    with pytest.raises(ValueError, match="0..999"):
        paint_class(1000, painter=painter, progress=False)
    with pytest.raises(ValueError, match="resolution must be a positive integer"):
        paint_class(1, resolution=None, painter=painter, progress=False)


def test_paint_content_reduces_the_content_loss(model, painter, photo):
    start = BrushstrokeParam(strokes=12, painter=painter, size=64, seed=0)
    param = paint_content(photo, strokes=12, steps=8, model=model, painter=painter, progress=False)
    assert param.output_size == (64, 64)
    assert content_loss(param, photo, model) < 0.9 * content_loss(start, photo, model)
    assert content_loss(load_image(photo), photo, model) == 0.0


def test_paint_content_shows_the_neural_render_and_its_brush_draws(model, painter, photo):
    batches = []
    hook = model.register_forward_pre_hook(lambda module, inputs: batches.append(inputs[0].shape[0]))
    try:
        paint_content(photo, strokes=4, steps=1, draws=2, model=model, painter=painter, progress=False)
    finally:
        hook.remove()
    assert batches == [1 + 2 + 1]          # the neural render, 2 MyPaint draws, the photo
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        paint_content(photo, draws=0, model=model, painter=painter, progress=False)


def test_paint_content_paints_the_brush_every_step_or_every_other(model, painter, photo, monkeypatch):
    """By default MyPaint paints every draw every step; with ``fresh=0.5`` at the first step (none kept yet),
    then every second step, render_vis's picture after the last included, and with a brush without
    randomness too."""
    from strokeparam.mypaint.loop import BrushInTheLoop
    painted, submit = [], BrushInTheLoop.submit
    monkeypatch.setattr(BrushInTheLoop, "submit", lambda self, *a, **k: painted.append(1) or submit(self, *a, **k))
    for brush, fresh, count in ((True, 0.5, [1, 1, 0, 1, 0]), ("deevad/brush", 0.5, [1, 1, 0, 1, 0]),
                                (True, None, [1] * 5), (True, 1, [1] * 5), (True, "default", [1] * 5)):
        painted.clear()
        given = {} if fresh == "default" else {"fresh": fresh}
        param = paint_content(photo, strokes=2, steps=4, draws=1, mypaint=brush, model=model, painter=painter,
                              progress=False, **given)
        assert len(painted) == sum(count), (brush, fresh)
        assert not param._kept
    with pytest.raises(ValueError, match=r"fresh must be a number of draws per step in \(0, 1\]"):
        paint_content(photo, draws=1, fresh=2, model=model, painter=painter, progress=False)


def test_paint_content_grayscale_on_a_grid(model, painter, photo):
    param = paint_content(photo, grid=2, grayscale=True, strokes=3, steps=1, model=model, painter=painter,
                          progress=False)
    assert (param.layout.rows, param.layout.cols) == (2, 2)
    colors = param.actions()[..., A.COLOR]
    assert torch.allclose(colors, colors[..., :1].expand_as(colors))
    image = param.image()
    assert torch.allclose(image, image[:, :1].expand_as(image), atol=1e-6)


def test_paint_content_palette(model, painter, photo):
    param = paint_content(photo, palette=PALETTE, strokes=6, steps=2, model=model, painter=painter,
                          progress=False)
    colors = param.actions()[0, :, A.COLOR].detach()
    allowed = torch.tensor([[int(c[i:i + 2], 16) / 255 for i in (1, 3, 5)] for c in PALETTE])
    assert torch.cdist(colors, allowed).min(-1).values.max() < 1e-5


@pytest.mark.parametrize("image, error, match", [
    ("no/such/photo.png", FileNotFoundError, "not found"),
    (np.zeros((32, 32, 4), np.uint8), ValueError, r"\(H, W, 3\)"),
    (np.full((32, 32, 3), 2.0, np.float32), ValueError, r"\[0, 1\]"),
    (torch.rand(2, 3, 32, 32), ValueError, r"\(3, H, W\)"),
    ([[0.5]], ValueError, "path, a PIL image"),
])
def test_bad_images_are_refused(painter, image, error, match):
    with pytest.raises(error, match=match):
        paint_content(image, painter=painter, progress=False)


def test_load_image_from_file_and_resize(tmp_path, photo):
    from PIL import Image
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    image = load_image(path, size=32)
    assert image.shape == (1, 3, 32, 32) and 0 <= image.min() and image.max() <= 1
    assert torch.allclose(load_image(str(path)), load_image(photo))
    (tmp_path / "junk.png").write_text("not an image")
    with pytest.raises(ValueError, match="not an image"):
        load_image(tmp_path / "junk.png")


def test_style_presets(model, painter, photo):
    paper = paint_content(photo, preset="paper", steps=1, model=model, painter=painter, mypaint=False,
                          progress=False)
    assert (paper.layout.rows, paper.layout.tile, paper.layout.overlap, paper.strokes) == (8, 64, 32, 4)
    assert paper.output_size == (288, 288) and paper.layout.tiles * paper.strokes == 256
    painterly = paint_content(photo, size=320, strokes=2, steps=1, model=model, painter=painter, progress=False)
    assert (painterly.layout.rows, painterly.layout.tile, painterly.layout.overlap) == (3, 128, 32)
    assert painterly.in_loop and painterly.output_size == (320, 320)
    # the painterly preset paints on a toned ground: the photo's mean color; the paper's on white
    assert torch.allclose(painterly.background, load_image(photo).mean((0, 2, 3)), atol=1e-6)
    assert torch.equal(paper.background, torch.ones(3))
    white = paint_content(photo, strokes=2, steps=1, model=model, painter=painter, mypaint=False,
                          background=1.0, progress=False)
    assert torch.equal(white.background, torch.ones(3))
    # with no painter given, a preset paints with its own: painterly's round brush and the painter trained on it
    own = {preset: paint_content(photo, preset=preset, size=160, strokes=2, steps=1, model=model, progress=False)
           for preset in ("painterly", "dry_brush")}
    assert (own["painterly"].painter.name, own["painterly"].brush_name) == ("skeleton.deevad_brush", "deevad/brush")
    assert (own["dry_brush"].painter.name, own["dry_brush"].brush_name) == ("skeleton", "classic/dry_brush")
    assert own["painterly"].in_loop and own["dry_brush"].in_loop
    with pytest.raises(ValueError, match="background must be .*'mean'"):
        paint_content(photo, background="median", painter=painter, progress=False)
    with pytest.raises(KeyError, match="painterly"):
        paint_content(photo, preset="oil", painter=painter, progress=False)


def test_best_repaint_keeps_the_take_the_painting_models_like_most(model, painter):
    from strokeparam.paint import best_repaint
    param = BrushstrokeParam(strokes=6, painter=painter, seed=0)
    seed, image = best_repaint(param, 388, models=model, seeds=[3, 4, 5])
    with torch.no_grad():
        scores = {s: model(param.to_mypaint(seed=s)).log_softmax(-1)[0, 388].item() for s in (3, 4, 5)}
    assert len(set(scores.values())) == 3 and seed == max(scores, key=scores.get)
    assert torch.equal(image, param.to_mypaint(seed=seed))
    with pytest.raises(ValueError, match="at least one brush seed"):
        best_repaint(param, 388, models=model, seeds=[])
    with pytest.raises(ValueError, match="seed must be a brush seed"):
        best_repaint(param, 388, models=model, seeds=[-1])
