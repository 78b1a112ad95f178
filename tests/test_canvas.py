"""Compositing and stitching against a naive stroke-by-stroke reference on the full canvas."""
import pytest
import torch

from strokeparam import canvas
from strokeparam.canvas import Layout, composite, composite_boxes, over


def naive(alpha, color, layout, background):
    """Pad every stroke (tile and margins) to the whole canvas and paint them one by one, tiles in painting
    order; what passes the canvas's edge is cut."""
    batch, m = alpha.shape[0], layout.margin
    canvas = background.view(1, 3, 1, 1).expand(batch, 3, layout.height + 2 * m, layout.width + 2 * m).clone()
    for k, (top, left) in enumerate(layout.origins()):
        for i in range(alpha.shape[2]):
            a = torch.zeros(batch, 1, layout.height + 2 * m, layout.width + 2 * m)
            a[..., top:top + layout.side, left:left + layout.side] = alpha[:, k, i]
            canvas = canvas * (1 - a) + color[:, k, i].view(batch, 3, 1, 1) * a
    return canvas[..., m:m + layout.height, m:m + layout.width]


@pytest.mark.parametrize("rows, cols, overlap, margin", [(1, 1, 0, 0), (2, 3, 8, 0), (3, 3, 16, 0), (4, 2, 0, 0),
                                                         (3, 4, 16, 0), (3, 2, 32, 0), (1, 1, 0, 3), (2, 3, 8, 3),
                                                         (3, 4, 16, 2), (4, 2, 0, 4)])
def test_composite_equals_naive_reference(rows, cols, overlap, margin):
    gen = torch.Generator().manual_seed(rows * 10 + cols)
    layout = Layout(rows, cols, tile=16, overlap=overlap // 4, margin=margin)
    side = layout.side
    alpha = torch.rand(2, layout.tiles, 4, 1, side, side, generator=gen) ** 3
    color = torch.rand(2, layout.tiles, 4, 3, generator=gen)
    bg = torch.tensor([1.0, 0.9, 0.2])
    fast = composite(alpha, color, layout, bg)
    assert fast.shape == (2, 3, layout.height, layout.width)
    assert torch.allclose(fast, naive(alpha, color, layout, bg), atol=1e-5)


def test_over_handles_opaque_strokes_and_gradients():
    alpha = torch.tensor([1.0, 0.5, 1.0, 0.25]).view(4, 1, 1, 1).requires_grad_(True)
    color = torch.eye(4)[:, :3].contiguous()
    rgb, a = over(alpha, color)
    # stroke 2 (blue) is opaque: only it and stroke 3 (transparent "black" in rgb) show
    assert torch.allclose(rgb.flatten(), torch.tensor([0.0, 0.0, 0.75]))
    assert torch.allclose(a.flatten(), torch.tensor([1.0]))
    rgb.sum().backward()
    assert torch.isfinite(alpha.grad).all() and alpha.grad[3].abs() > 0


def test_layout_arithmetic():
    lay = Layout(3, 5, tile=64, overlap=8)
    assert (lay.height, lay.width, lay.stride, lay.tiles) == (176, 288, 56, 15)
    assert sorted(lay.order()) == [(r, c) for r in range(3) for c in range(5)]
    assert lay.origins()[0] == (0, 0) and (112, 224) in lay.origins()
    assert Layout.for_size(64) == Layout(1, 1, 64, 8)
    assert Layout.for_size(224, overlap=8) == Layout(4, 4, 64, 8)      # 64 + 3*56 = 232 >= 224
    big = Layout.for_size((1024, 500), overlap=16)
    assert big.height >= 1024 and big.width >= 500 and big.height - big.stride < 1024
    assert Layout.for_size(224, overlap=8, spread=0.2) == Layout(4, 4, 62, 8)    # 62 + 3*54 = 224: no resize
    assert Layout.for_size(64, spread=0.2) == Layout(1, 1, 64, 8)                # an exact fit keeps the tile
    assert lay.largest_margin == 24 and lay.with_margin().margin == 16 and lay.with_margin(24).side == 112
    assert Layout(1, 1, 64, 8).with_margin().margin == 0            # one tile: the canvas edge cuts anyway
    for bad in (dict(rows=0), dict(overlap=33), dict(overlap=-1), dict(cols=1.5), dict(margin=33), dict(margin=-1),
                dict(margin=2.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Layout(**{**dict(rows=1, cols=1, tile=64, overlap=0), **bad})


@pytest.mark.parametrize("size", [224, 300, (200, 300), (1024, 500), 50, 2048])
def test_for_size_with_spread_covers_the_size_with_less_to_resize(size):
    height, width = (size, size) if isinstance(size, int) else size
    fixed, free = Layout.for_size(size), Layout.for_size(size, spread=0.2)
    assert free.height >= height and free.width >= width and 51 <= free.tile <= 76
    assert free.height - height + free.width - width <= fixed.height - height + fixed.width - width
    assert free.height - height <= free.stride and free.width - width <= free.stride


@pytest.mark.parametrize("size, grid, tile", [(224, (2, 2), 128), (256, (2, 2), 144), (512, (5, 5), 128),
                                              (64, (1, 1), 64), ((256, 384), (3, 4), 120)])
def test_fit_covers_the_canvas_with_tiles_of_about_the_size_asked(size, grid, tile):
    layout = Layout.fit(size, tile=128, overlap=32)
    height, width = (size, size) if isinstance(size, int) else size
    assert (layout.rows, layout.cols, layout.tile, layout.overlap) == (*grid, tile, 32)
    assert height <= layout.height <= height * 1.2 and width <= layout.width <= width * 1.2


def test_over_gradient_is_that_of_painting_stroke_by_stroke():
    """over()'s hand-written backward equals autograd through the plain recurrence (paint each stroke over
    the layer), with fully opaque pixels among the strokes, for batched tiles and for a bare stack."""
    gen = torch.Generator().manual_seed(0)
    for shape in [(2, 3, 5, 1, 4, 4), (7, 1, 2, 2), (1, 1, 3, 3)]:
        alpha = torch.rand(*shape, generator=gen, dtype=torch.float64)
        alpha[..., 0, 0] = 1.0
        alpha.requires_grad_()
        color = torch.rand(*shape[:-3], 3, generator=gen, dtype=torch.float64, requires_grad=True)
        rgb_up = torch.randn(*shape[:-4], 3, *shape[-2:], generator=gen, dtype=torch.float64)
        a_up = torch.randn(*shape[:-4], 1, *shape[-2:], generator=gen, dtype=torch.float64)
        rgb, a = over(alpha, color)
        got = torch.autograd.grad((rgb * rgb_up).sum() + (a * a_up).sum(), (alpha, color))
        layer, cover = 0.0, 0.0
        for k in range(shape[-4]):
            ak = alpha[..., k, :, :, :]
            layer = layer * (1 - ak) + ak * color[..., k, :, None, None]
            cover = cover * (1 - ak) + ak
        expected = torch.autograd.grad((layer * rgb_up).sum() + (cover * a_up).sum(), (alpha, color))
        torch.testing.assert_close(rgb, layer)
        for g, e in zip(got, expected):
            torch.testing.assert_close(g, e)


@pytest.fixture(params=[1, 2])
def threads(request):
    """torch's thread count (the compiled loops share torch's OpenMP threads) for one test."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def test_compiled_over_matches_the_stroke_by_stroke_recurrence(threads, monkeypatch):
    """The compiled loop (built by make setup; float32 on the CPU), with pixels shared among threads, gives
    what painting stroke by stroke in float64 gives, forward and backward, opaque pixels included; and
    the same as the torch path to float32 rounding."""
    assert canvas.compiled() is not None, "strokeparam/_over.so was not built (scripts/setup.sh)"
    gen = torch.Generator().manual_seed(threads)
    alpha = torch.rand(2, 3, 6, 1, 90, 97, generator=gen) ** 2     # pixels in blocks of 512 and a part block
    alpha[:, :, 2, :, :10] = 1.0
    color = torch.rand(2, 3, 6, 3, generator=gen)
    rgb_up, a_up = torch.randn(2, 3, 3, 90, 97, generator=gen), torch.randn(2, 3, 1, 90, 97, generator=gen)
    results = {}
    for path in ("compiled", "torch"):
        if path == "torch":
            monkeypatch.setattr(canvas, "compiled", lambda: None)
        a, c = alpha.clone().requires_grad_(), color.clone().requires_grad_()
        rgb, cover = over(a, c)
        results[path] = (rgb, cover, *torch.autograd.grad((rgb * rgb_up).sum() + (cover * a_up).sum(), (a, c)))
    a, c = alpha.double().requires_grad_(), color.double().requires_grad_()
    layer, cover = 0.0, 0.0
    for k in range(6):
        ak = a[..., k, :, :, :]
        layer = layer * (1 - ak) + ak * c[..., k, :, None, None]
        cover = cover * (1 - ak) + ak
    expected = (layer, cover, *torch.autograd.grad((layer * rgb_up).sum() + (cover * a_up).sum(), (a, c)))
    for got, want, other in zip(results["compiled"], expected, results["torch"]):
        torch.testing.assert_close(got, want.float(), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(got, other, rtol=1e-4, atol=1e-4)


def _random_boxes(strokes: int, side: int, gen) -> tuple[canvas.Boxes, torch.Tensor]:
    """Boxes of random strokes on side x side squares (one the whole square, one empty), and the same
    strokes' alpha on the whole squares (strokes, 1, side, side), from one packed alpha."""
    top, left = torch.randint(0, side, (2, strokes), generator=gen)
    height = torch.randint(1, side + 1, (strokes,), generator=gen).minimum(side - top)
    width = torch.randint(1, side + 1, (strokes,), generator=gen).minimum(side - left)
    top[0], left[0], height[0], width[0] = 0, 0, side, side
    height[1] = 0
    area = height * width
    boxes = torch.stack([top, left, height, width, area.cumsum(0) - area], 1)
    packed = (torch.rand(int(area.sum()), generator=gen) ** 2).requires_grad_()
    squares = []
    for t, l, h, w, o in boxes.tolist():
        square = torch.zeros(side, side)
        square[t:t + h, l:l + w] = 1.0
        squares.append(square)
    place = torch.stack(squares).bool()
    dense = packed.new_zeros(strokes, side, side).masked_scatter(place, packed)    # row by row, like the boxes
    return canvas.Boxes(packed, boxes), dense[:, None]


def test_strokes_in_boxes_composite_as_on_whole_squares(threads):
    """Strokes painted in boxes (the skeleton painter's packed alpha) go straight onto the canvas, layer by
    layer and tile by tile in painting order, as the same strokes on whole squares composited and stitched:
    forward and backward, with rows shared among threads; an underpainting under 2 x 2 tiles with margins
    that pass the canvas's edge, boxes on the edges, the whole square, empty boxes; and with only the first
    strokes of each tile shown."""
    assert canvas.compiled() is not None, "strokeparam/_over.so was not built (scripts/setup.sh)"
    gen = torch.Generator().manual_seed(threads)
    tiles = Layout(2, 2, tile=16, overlap=4, margin=4)
    levels = [(Layout(1, 1, tile=tiles.height), 3), (tiles, 5)]
    m, background = 2, torch.tensor([0.2, 0.5, 0.9])
    layers = [(layout, *_random_boxes(m * layout.tiles * n, layout.side, gen),
               torch.rand(m, layout.tiles, n, 3, generator=gen).requires_grad_()) for layout, n in levels]
    up = torch.randn(m, 3, tiles.height, tiles.width, generator=gen)
    for count in (None, 5, 1, 0):
        boxed = composite_boxes([(layout, boxes, color) for layout, boxes, _, color in layers], background,
                                tiles.height, tiles.width, count)
        picture, before = background.view(1, 3, 1, 1).expand(m, 3, tiles.height, tiles.width), 0
        for layout, _, dense, color in layers:
            n = color.shape[2]
            alpha = dense.view(m, layout.tiles, n, 1, layout.side, layout.side)
            picture = composite(alpha, color, layout, picture, None if count is None else count - before)
            before += n
        inputs = [x for _, boxes, _, color in layers for x in (boxes.alpha, color)]
        torch.testing.assert_close(boxed, picture, rtol=1e-5, atol=1e-5)
        for got, want in zip(torch.autograd.grad((boxed * up).sum(), inputs),
                             torch.autograd.grad((picture * up).sum(), inputs, retain_graph=True)):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
