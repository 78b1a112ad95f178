"""The real libmypaint through ctypes: geometry, pressure, color, seeds, validation, leaks."""
import numpy as np
import pytest

from strokeparam import actions as A
from strokeparam.mypaint import MyPaintRenderer, list_brushes


def line(y=0.5, pressure=0.8, size=0.5, color=(0.0, 0.0, 0.0), x=(0.15, 0.85)):
    return np.array([pressure, pressure, size, *color, x[0], y, (x[0] + x[1]) / 2, y, x[1], y])


@pytest.fixture(scope="module")
def renderer():
    return MyPaintRenderer()


def test_stroke_lies_on_its_bezier(renderer):
    alpha = renderer.render(np.stack([line(0.25), line(0.75)]), seed=0)
    for img, y in zip(alpha, (16, 48)):
        rows = img.sum(axis=1)
        assert abs((rows * np.arange(64)).sum() / rows.sum() - y) < 1.5
        cols = img.sum(axis=0)
        assert cols[:2].sum() + cols[-2:].sum() < 0.01 * cols.sum()   # next to nothing well beyond the ends
        assert (cols[12:52] > 0).all()                             # continuous along the path
    # a curved stroke bends toward its control point
    curve = np.array([0.8, 0.8, 0.4, 0, 0, 0, 0.1, 0.8, 0.5, 0.0, 0.9, 0.8])
    img = renderer.render(curve, seed=0)[0]
    assert img[:, 28:36].sum(axis=1).argmax() < 36                  # apex above the chord (y=51)


def test_pressure_zero_paints_nothing(renderer):
    alpha = renderer.render(np.stack([line(pressure=0.0), line(pressure=1.0)]), seed=0)
    assert alpha[0].max() == 0.0
    assert alpha[1].sum() > 50


def test_size_widens_the_stroke(renderer):
    thin, thick = renderer.render(np.stack([line(size=0.1), line(size=0.9)]), seed=0)
    assert (thick > 0.25).sum() > 2 * (thin > 0.25).sum()


@pytest.mark.parametrize("color", [(1.0, 0.0, 0.0), (0.1, 0.6, 0.9)])
def test_color_comes_out_as_asked(renderer, color):
    layer = renderer.paint(line(pressure=1.0, size=0.8, color=color), size=64, rgba=True, seed=0)
    covered = layer[..., 3] > 0.5
    assert covered.sum() > 50
    straight = layer[covered][:, :3] / layer[covered][:, 3:]
    assert np.allclose(straight.mean(axis=0), color, atol=0.03)
    rgb = renderer.paint(line(pressure=1.0, size=0.8, color=color), size=64, background=(1, 1, 1), seed=0)
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.float32
    assert np.allclose(rgb[0, 0], 1.0)                             # untouched background


def test_seeds_reproduce_and_differ(renderer):
    acts = A.random_actions(40, seed=3)
    acts[:, A.PRESSURE] = 0.5 + acts[:, A.PRESSURE] / 2
    a, b, c = renderer.render(acts, seed=7), renderer.render(acts, seed=7), renderer.render(acts, seed=8)
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 0.005
    unseeded = renderer.render(acts), renderer.render(acts)
    assert not np.array_equal(*unseeded)                          # stochastic by default
    p1, p2 = renderer.paint(acts, size=96, seed=1), renderer.paint(acts, size=96, seed=1)
    assert np.array_equal(p1, p2)


def test_render_with_a_margin_paints_the_same_stroke_and_what_passes_its_square(renderer):
    acts = A.random_actions(12, seed=5)
    acts[:, A.POINTS] = acts[:, A.POINTS].round()           # ends and control points on the square's edges
    acts[:, A.PRESSURE], acts[:, A.SIZE] = 1.0, 1.0
    inner, outer = renderer.render(acts, seed=4), renderer.render(acts, seed=4, margin=10)
    assert outer.shape == (12, 84, 84)
    assert np.abs(outer[:, 10:74, 10:74] - inner).max() < 1e-3
    assert outer.sum() - outer[:, 10:74, 10:74].sum() > 0.05 * outer.sum()
    assert renderer.render(acts[:2], seed=4).shape == (2, 64, 64)        # back to no margin
    with pytest.raises(ValueError, match="margin"):
        renderer.render(acts, margin=-1)


def test_paint_scales_to_any_canvas(renderer):
    img = renderer.paint(line(y=0.25, color=(0, 0, 0), pressure=1.0), size=(100, 300), seed=0)
    assert img.shape == (100, 300, 3)
    dark = (1 - img.mean(axis=2))
    rows = dark.sum(axis=1)
    assert abs((rows * np.arange(100)).sum() / rows.sum() - 25) < 2.5
    cols = dark.sum(axis=0)
    assert cols[:30].sum() < 1e-3 and cols[70:230].min() > 0


def test_order_matters_on_one_canvas(renderer):
    red, blue = line(color=(1, 0, 0), pressure=1, size=0.9), line(color=(0, 0, 1), pressure=1, size=0.9)
    last_blue = renderer.paint(np.stack([red, blue]), seed=0)[32, 32]
    last_red = renderer.paint(np.stack([blue, red]), seed=0)[32, 32]
    assert last_blue[2] > last_blue[0] and last_red[0] > last_red[2]


def test_any_installed_brush_and_unknown_brush():
    brushes = list_brushes()
    assert "classic/dry_brush" in brushes and len(brushes) > 50
    alpha = MyPaintRenderer("classic/pen").render(line(pressure=1.0), seed=0)
    assert alpha.sum() > 20
    with pytest.raises(KeyError, match="available brushes: .*classic/dry_brush"):
        MyPaintRenderer("classic/no_such_brush")


@pytest.mark.parametrize("kwargs, call, needle", [
    ({"size": 4}, None, "size"),
    ({"size": 64.5}, None, "size"),
    ({}, ("render", (np.full((2, 12), 2.0),), {}), "actions\\[0\\] field 'pressure_start'"),
    ({}, ("render", (np.full((2, 13), 0.5),), {}), "shape"),
    ({}, ("render", (np.full((1, 12), 0.5),), {"seed": -1}), "seed"),
    ({}, ("render", (np.full((1, 12), 0.5),), {"seed": 1.5}), "seed"),
    ({}, ("paint", (np.full((1, 12), 0.5),), {"size": 0}), "size"),
    ({}, ("paint", (np.full((1, 12), 0.5),), {"size": 100000}), "size"),
    ({}, ("paint", (np.full((1, 12), 0.5),), {"background": (1, 2, 0)}), "background"),
    ({}, ("paint", (np.full((1, 12), 0.5),), {"background": "white"}), "background"),
])
def test_bad_input_raises_before_any_c_call(kwargs, call, needle):
    with pytest.raises(ValueError, match=needle):
        r = MyPaintRenderer(**kwargs)
        name, args, kw = call
        getattr(r, name)(*args, **kw)


def test_no_leak_over_thousands_of_strokes(renderer):
    psutil = pytest.importorskip("psutil")
    proc = psutil.Process()
    acts = A.random_actions(500, seed=11)
    renderer.render(acts, seed=0)
    renderer.paint(acts[:50], size=128, seed=0)
    before = proc.memory_info().rss
    for k in range(6):
        renderer.render(acts, seed=k)
        renderer.paint(acts[:50], size=128, seed=k)
    grown = (proc.memory_info().rss - before) / 2 ** 20
    assert grown < 8, f"RSS grew by {grown:.1f} MiB over 3,000 strokes"


def test_compiled_stroke_loop_paints_the_same_pixels():
    """scripts/setup.sh builds the C stroke loop wherever a C compiler is; its pixels are the ctypes path's (which
    makes each brush from its file with mypaint_brush_from_string; the loop sets the same settings directly)."""
    import shutil

    from strokeparam.mypaint import _lib
    from strokeparam.mypaint.renderer import _Surface
    if shutil.which("cc") is None:
        pytest.skip("no C compiler: setup.sh builds no stroke loop, MyPaint paints through ctypes alone")
    assert _lib.helper() is not None, "the stroke loop is not built: run scripts/setup.sh"
    acts = A.random_actions(40, seed=5)
    for brush, size in (("classic/dry_brush", 64), ("classic/dry_brush", 100), ("classic/charcoal", 100)):
        r = MyPaintRenderer(brush, size)           # one tile, tiles cut by the canvas edge, a brush of many inputs
        specs, warmups = [A.to_mypaint(a, size) for a in acts], r._warmups(len(acts), 3)
        alphas = [np.empty((len(acts), size, size), np.float32) for _ in range(2)]
        for compiled, alpha in zip((True, False), alphas):
            r._strokes(_Surface(size, size), specs, warmups, alpha, compiled=compiled)
        assert np.array_equal(*alphas) and alphas[0].max() > 0.5
        canvases = []
        for compiled in (True, False):
            surface = _Surface(150, 90)
            r._strokes(surface, [A.StrokeSpec(s.points * 1.3, s.pressures, s.radius, s.color) for s in specs],
                       warmups, compiled=compiled)
            canvases.append(surface.read())
        assert np.array_equal(*canvases) and canvases[0][..., 3].mean() > 0.05
