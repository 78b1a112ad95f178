"""Underpainting layers (coarse to fine) and stroke JSON round trips that keep everything."""
import json

import pytest
import torch

from strokeparam import BrushstrokeParam, create_painter
from strokeparam import actions as A
from strokeparam import constraints as C
from strokeparam import export as E
from strokeparam.canvas import Layout
from strokeparam.mypaint import MyPaintRenderer


def reload(param, **kwargs):
    """The param rebuilt from its stroke JSON, through a JSON string (what a file holds)."""
    return BrushstrokeParam(init=json.loads(json.dumps(E.strokes_dict(param))), **kwargs)


def image(param, **kwargs):
    with torch.no_grad():
        return param.image(**kwargs)


@pytest.fixture(scope="module")
def layered():
    return BrushstrokeParam(strokes=3, size=96, tile=64, overlap=16, underpainting=[(96, 4), (64, 2)], seed=3)


def test_levels_paint_coarse_layers_first_over_the_whole_canvas(layered):
    (coarse, n0), (middle, n1), (fine, n2) = layered.levels
    side = max(layered.layout.height, layered.layout.width)         # the tiles' canvas (112 px, shown at 96)
    assert (coarse.tiles, coarse.tile, n0) == (1, side, 4)
    assert fine == layered.layout and n2 == 3 and middle.tile <= 64
    for lay, _ in layered.levels:
        assert lay.height >= fine.height and lay.width >= fine.width
    total = 4 + middle.tiles * 2 + fine.tiles * 3
    assert layered.actions().shape == (1, total, 12)
    origins, tiles, margins = layered.placement()
    assert origins.shape == (total, 2) and tiles.tolist()[:4] == [side] * 4 and tiles.tolist()[-1] == 64
    assert margins.tolist()[:4] == [0] * 4 and margins.tolist()[-1] == fine.margin == 16    # one tile: no margin
    assert image(layered).shape == (1, 3, 96, 96)


def test_underpainting_shows_under_the_tiles_and_not_over_them():
    painter = create_painter()
    base = dict(strokes=2, size=96, tile=64, overlap=16, seed=0, painter=painter)
    plain = BrushstrokeParam(underpainting=0, **base)
    layered = BrushstrokeParam(underpainting=5, **base)
    with torch.no_grad():               # the tiles' strokes are the same actions in both
        layered.raw[:, 5:] = plain.raw
    a, b = image(plain), image(layered)
    assert (a - b).abs().max() > 0.1          # the underlayer adds paint
    opaque = (a - 1).abs().amax(1) > 0.9      # where the tiles' strokes are nearly opaque, they stay on top
    if opaque.any():
        assert (a - b).abs().amax(1)[opaque].max() < 0.2


def test_in_loop_image_and_mypaint_repaint_agree_with_underpainting(layered):
    in_loop = BrushstrokeParam(init=E.strokes_dict(layered), mypaint=True)
    brush = image(in_loop)
    repaint = layered.to_mypaint(seed=0)
    assert brush.shape == repaint.shape
    assert (brush - image(layered)).abs().mean() < 0.15
    assert (brush - repaint).abs().mean() < 0.08


def test_underpainting_gets_gradients():
    param = BrushstrokeParam(strokes=2, size=80, tile=48, overlap=8, underpainting=3, seed=1)
    image(param)
    param.image().mean().backward()
    assert param.raw.grad[:, :3].abs().sum() > 0 and param.raw.grad[:, 3:].abs().sum() > 0


@pytest.mark.parametrize("value, words", [
    (-1, "underpainting must be"), ([(64,)], "underpainting must be"), ([(4, 10)], "tile must be in"),
    ("big", "underpainting must be"), ([(64, 0)], "underpainting must be"), (True, "underpainting must be")])
def test_bad_underpainting_is_one_clear_error(value, words):
    with pytest.raises(ValueError, match=words):
        BrushstrokeParam(strokes=2, size=96, underpainting=value)


def test_renderer_takes_one_tile_side_per_stroke():
    acts = A.random_actions(2, seed=4)
    acts[:, :2] = 0.9                                   # firm pressure: both strokes leave paint
    renderer = MyPaintRenderer()
    both = renderer.paint(acts, size=128, tile=[128, 64], origins=[[0, 0], [64, 64]], seed=0, rgba=True)
    big = renderer.paint(acts[:1], size=128, tile=128, origins=[[0, 0]], seed=0, rgba=True)
    assert both.shape == (128, 128, 4) and both[..., 3].sum() > big[..., 3].sum()
    with pytest.raises(ValueError, match="one such per stroke"):
        renderer.paint(acts, size=128, tile=[64], origins=[[0, 0], [0, 0]])


@pytest.mark.parametrize("kwargs", [
    dict(painter="skeleton"), dict(painter="vae"), dict(painter="gan"),
    dict(palette=["#000000", "#ff0000"]), dict(grayscale=True),
    dict(constraints=[C.size_range(0.1, 0.4), C.pressure_range(0.3, 0.9)]),
    dict(size=96, tile=64, overlap=16, underpainting=3, background=0.3)])
def test_round_trip_is_bit_identical_for_every_painter_and_constraint(kwargs):
    param = BrushstrokeParam(strokes=3, seed=5, **kwargs)
    with torch.no_grad():
        param.raw.add_(torch.randn_like(param.raw))        # optimized values, not the init's
    again = reload(param)
    assert again.painter.name == param.painter.name and again.levels == param.levels
    assert [c.to_dict() for c in again.constraints] == [c.to_dict() for c in param.constraints]
    assert torch.equal(again.raw, param.raw) and torch.equal(image(again), image(param))


def test_a_painter_whose_weights_are_not_installed_is_an_error_not_a_substitute():
    painter = create_painter("skeleton", pretrained=False)
    param = BrushstrokeParam(strokes=2, painter=painter, seed=0)
    doc = E.strokes_dict(param)
    with pytest.raises(ValueError, match="other 'skeleton' weights"):
        BrushstrokeParam(init=doc)
    assert torch.equal(image(BrushstrokeParam(init=doc, painter=painter)), image(param))   # given: it is used
    with pytest.raises(ValueError, match="not registered"):
        BrushstrokeParam(init=dict(doc, painter="no-such-painter"))


def test_explicit_constraints_replace_the_saved_ones():
    doc = E.strokes_dict(BrushstrokeParam(strokes=2, grayscale=True, seed=0))
    colored = BrushstrokeParam(init=doc, palette=["#ff0000"])
    assert [c.to_dict()["type"] for c in colored.constraints] == ["palette"]
    assert torch.allclose(colored.actions()[..., A.COLOR], torch.tensor([1.0, 0.0, 0.0]))


def test_layout_fit_covers_the_canvas_for_underpainting_tiles():
    for size in (50, 96, 224, (120, 300)):
        for tile in (32, 64, 128, 400):
            h, w = (size, size) if isinstance(size, int) else size
            lay = Layout.fit((h, w), min(tile, max(h, w)), min(16, tile // 2))
            assert lay.height >= h and lay.width >= w


def seam_whiteness(param) -> float:
    """The largest fraction of bare (near-white) pixels along a line through the middle of an overlap
    between tiles, away from the canvas border."""
    img = image(param, mypaint=False)[0]
    white = (img.min(0).values > 0.9).float()
    side, lay = img.shape[-1], param.layout
    lines = [round((k * lay.stride + lay.overlap / 2) * side / lay.width) for k in range(1, lay.cols)]
    inner = slice(side // 16, side - side // 16)
    return max(max(white[r, inner].mean().item(), white[inner, r].mean().item()) for r in lines)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_tiled_canvas_starts_without_seams(seed):
    tiled = BrushstrokeParam(size=256, seed=seed)
    assert tiled.layout.tiles > 1 and len(tiled.levels) == 2 and tiled.levels[0][1] == 40
    assert seam_whiteness(tiled) < 0.05
    bare = BrushstrokeParam(size=256, seed=seed, underpainting=0)       # the tiles alone leave bare borders
    assert len(bare.levels) == 1 and seam_whiteness(bare) > 0.1


def test_one_tile_gets_no_underpainting_by_default_and_old_files_none():
    assert len(BrushstrokeParam(strokes=3, seed=0).levels) == 1
    saved = E.strokes_dict(BrushstrokeParam(strokes=2, grid=2, seed=0, underpainting=0))
    saved.pop("underpainting")                        # a file written before underpaintings existed
    assert len(BrushstrokeParam(init=saved).levels) == 1


def test_large_canvases_get_an_underpainting_of_tiles_that_share_its_strokes():
    """Past 2048 px (a painter's largest tile) the whole-canvas layer is the fewest tiles that fit, sharing
    the 40 strokes: a 2048-px canvas of 64-px tiles is 2080 px with their overlaps."""
    from strokeparam.canvas import Layout, underpainting_levels
    assert underpainting_levels("auto", Layout.for_size(1024))[0][1] == 40
    for size, tiles, strokes in ((2048, 4, 10), (8192, 25, 2)):
        (layer, n), = underpainting_levels("auto", Layout.for_size(size))
        assert (layer.tiles, n) == (tiles, strokes) and layer.tile <= 2048
        assert layer.height >= Layout.for_size(size).height and layer.width >= Layout.for_size(size).width
    painter = create_painter(pretrained=False)
    param = BrushstrokeParam(strokes=1, size=2048, painter=painter)    # tiles that fit 2048 px: one layer tile
    assert param.layout.height == 2048 and param.levels[0][0].tiles == 1 and param.levels[0][0].tile == 2048
    param = BrushstrokeParam(strokes=1, size=2048, tile=64, painter=painter)     # 64-px tiles: 2080 px
    assert param.levels[0][0].tiles == 4 and param.actions().shape[1] == 4 * 10 + param.layout.tiles
