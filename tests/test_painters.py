"""Painters: interface, registry, weights and cards, fidelity helpers, diagnostics."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from strokeparam import actions as A
from strokeparam.painters import (DEFAULT_PAINTER, Painter, SkeletonPainter,
                                  create_painter, list_painters, list_pretrained, load_weights, read_card,
                                  save_weights, sweep, weights_paths)
from strokeparam.painters.fidelity import iou, paint, scores, sharpness

SMALL = {"skeleton": dict(dabs=16, hidden=4), "gan": dict(dim=2, noise_dim=2), "vae": dict(width=4)}
CARD_KEYS = {"architecture", "action_space_version", "preset", "steps", "samples_seen", "fidelity", "date",
             "command", "hyperparameters", "name", "brush"}


def small(name):
    torch.manual_seed(0)
    return create_painter(name, pretrained=False, **SMALL[name])


def test_registry_lists_the_three_painters_and_a_default():
    assert {"skeleton", "gan", "vae"} <= set(list_painters())
    assert DEFAULT_PAINTER == "skeleton"
    assert isinstance(create_painter(), SkeletonPainter)


def test_unknown_painter_lists_the_names():
    with pytest.raises(KeyError, match="gan.*skeleton.*vae"):
        create_painter("picasso")


@pytest.mark.parametrize("name", ["skeleton", "gan", "vae"])
def test_shapes_range_and_empty_batch(name):
    painter = small(name)
    assert isinstance(painter, Painter) and painter.size == 64
    assert painter.action_space_version == A.ACTION_SPACE_VERSION
    out = painter(torch.rand(5, 12, generator=torch.Generator().manual_seed(1))).detach()
    assert out.shape == (5, 1, 64, 64) and out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert painter(torch.zeros(0, 12)).shape == (0, 1, 64, 64)
    with pytest.raises(ValueError, match=r"\(N, 12\)"):
        painter(torch.rand(5, 11))


@pytest.mark.parametrize("name, arch", [("skeleton", {}), ("gan", dict(arch="skeleton")), ("vae", {})])
def test_a_margin_paints_where_strokes_pass_their_square(name, arch):
    """at_size(size, margin): the same square, bit for bit, inside a margin; resizable painters paint the ink
    that reaches past the square there, fixed-size ones leave it bare."""
    torch.manual_seed(0)
    painter = create_painter(name, pretrained=False, **SMALL[name], **arch).eval()
    acts = torch.rand(8, 12, generator=torch.Generator().manual_seed(4))
    acts[:, A.POINTS] = acts[:, A.POINTS].round()               # control points on the square's corners/edges
    acts[:, A.PRESSURE], acts[:, A.SIZE] = 1.0, 1.0
    wide = painter.at_size(64, 8)
    assert (wide.size, wide.margin, wide.side) == (64, 8, 80) and wide.at_size(64) is not wide
    with torch.no_grad():
        inner, outer = painter(acts), wide(acts)
    assert outer.shape == (8, 1, 80, 80) and wide(torch.zeros(0, 12)).shape == (0, 1, 80, 80)
    assert torch.allclose(outer[..., 8:72, 8:72], inner, atol=1e-6)
    rim = F.pad(outer[..., 8:72, 8:72], (8,) * 4) != outer
    assert outer[rim].sum() > 0.01 * outer.sum() if name != "vae" else outer[rim].sum() == 0
    for bad in (-1, 65, 2.0):
        with pytest.raises(ValueError, match="margin"):
            painter.at_size(64, bad)


@pytest.mark.parametrize("name", ["skeleton", "gan", "vae"])
def test_gradients_reach_every_action_field(name):
    painter = small(name).train(name != "gan").to(torch.device("cpu"))
    actions = torch.rand(6, 12, generator=torch.Generator().manual_seed(2)).mul(0.8).add(0.1)
    actions.requires_grad_(True)
    weights = torch.rand(6, 1, 64, 64, generator=torch.Generator().manual_seed(3))
    (painter(actions) * weights).sum().backward()
    grad = actions.grad
    assert torch.isfinite(grad).all()
    shape_fields = [i for i, f in enumerate(A.FIELDS) if f not in ("red", "green", "blue")]
    assert (grad[:, shape_fields].abs().sum(0) > 0).all(), grad.abs().sum(0)


def test_pressure_zero_paints_nothing_with_the_skeleton_painter():
    acts = torch.rand(4, 12, generator=torch.Generator().manual_seed(4))
    acts[:, :2] = 0.0
    with torch.no_grad():
        assert float(create_painter()(acts).abs().max()) == 0.0
        assert float(create_painter()(acts, generator=torch.Generator().manual_seed(0)).abs().max()) == 0.0


def test_stochastic_gan_is_seeded_and_deterministic_without_a_generator():
    painter = small("gan").eval()
    acts = torch.rand(3, 12)
    assert painter.stochastic and not small("skeleton").stochastic
    assert torch.equal(painter(acts), painter(acts))
    g = lambda: torch.Generator().manual_seed(7)                       # noqa: E731
    assert torch.equal(painter(acts, generator=g()), painter(acts, generator=g()))


def test_skeleton_gan_generator_reads_per_dab_noise_and_paints_any_size(tmp_path):
    from strokeparam.painters import GANPainter
    gan = GANPainter(noise_dim=3, arch="skeleton", skeleton=dict(dabs=16, hidden=4, jitter=0.5)).eval()
    with torch.no_grad():
        gan.body.dab_net[-1].weight.normal_()                        # noise moves the dabs
    acts = torch.rand(3, 12, generator=torch.Generator().manual_seed(2))
    g = lambda seed: torch.Generator().manual_seed(seed)               # noqa: E731
    assert gan.stochastic and gan.resizable and torch.equal(gan(acts), gan(acts))
    assert torch.equal(gan(acts, generator=g(1)), gan(acts, generator=g(1)))
    assert not torch.equal(gan(acts, generator=g(1)), gan(acts, generator=g(2)))
    assert gan.at_size(96)(acts).shape == (3, 1, 96, 96) and type(gan.at_size(96)) is GANPainter
    loaded = load_weights(save_weights(gan, tmp_path / "gan.safetensors", {})[0])
    assert loaded.config() == gan.config() and torch.equal(loaded.eval()(acts, generator=g(3)), gan(acts, generator=g(3)))
    with pytest.raises(ValueError, match="arch must be one of deconv, skeleton"):
        GANPainter(arch="unet")
    with pytest.raises(ValueError, match="skeleton must be a dict"):
        GANPainter(skeleton=dict(dabs=16))
    card = json.loads((tmp_path / "gan.json").read_text())
    card["architecture"]["config"]["skeleton"]["dabs"] = 10 ** 8         # nested settings obey the card limits
    (tmp_path / "gan.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match=r"architecture.config.skeleton.dabs must be an integer in \[0, 1024\]"):
        load_weights(tmp_path / "gan.safetensors")


def test_skeleton_jitter_draws_seeded_textures_around_the_expected_ink():
    plain = small("skeleton").eval()
    jittered = SkeletonPainter(**dict(plain.config(), jitter=0.8)).eval()
    jittered.load_state_dict(plain.state_dict())
    acts = torch.rand(3, 12, generator=torch.Generator().manual_seed(5))
    g = lambda: torch.Generator().manual_seed(9)                       # noqa: E731
    assert jittered.stochastic and torch.equal(jittered(acts), plain(acts))
    assert torch.equal(jittered(acts, generator=g()), jittered(acts, generator=g()))
    assert not torch.equal(jittered(acts, generator=g()), plain(acts))
    with pytest.raises(ValueError, match="jitter"):
        SkeletonPainter(jitter=-1.0)
    inked = SkeletonPainter(**dict(jittered.config(), draw_gain=2.0)).eval()
    inked.load_state_dict(plain.state_dict())
    assert torch.equal(inked(acts), plain(acts))                       # the gain only scales draws
    assert (inked(acts, generator=g()) >= jittered(acts, generator=g())).all()
    assert inked(acts, generator=g()).sum() > jittered(acts, generator=g()).sum()
    with pytest.raises(ValueError, match="draw_gain"):
        SkeletonPainter(draw_gain=0.0)


def test_calibrated_draws_match_the_reference_sharpness_and_ink():
    from strokeparam.painters.skeleton import calibrate_draws
    painter = small("skeleton").eval()
    acts = A.random_actions(32, seed=3)
    painter.jitter, painter.stochastic = 1.0, True              # the "MyPaint" renders: draws at jitter 1
    refs = painter(torch.as_tensor(acts), generator=torch.Generator().manual_seed(1))[:, 0].detach().numpy()
    jitter, gain = calibrate_draws(painter, acts, refs, sharpness=0.95, jitters=(0.0, 1.0), gains=(1.0, 2.0))
    assert (jitter, gain) == (1.0, 1.0)          # smooth strokes are too blurry; doubled ink is too much ink
    assert (painter.jitter, painter.draw_gain, painter.stochastic) == (1.0, 1.0, True)


@pytest.mark.parametrize("name", ["skeleton", "gan", "vae"])
def test_weights_round_trip(name, tmp_path):
    painter = small(name).eval()
    path, card_path = save_weights(painter, tmp_path / f"{name}.safetensors", dict(preset="test", steps=1))
    loaded = load_weights(path)
    assert type(loaded) is type(painter) and loaded.card["preset"] == "test"
    acts = torch.rand(4, 12)
    assert torch.equal(loaded.eval()(acts), painter(acts))
    assert json.loads(card_path.read_text())["architecture"] == {"name": name, "config": painter.config()}


def test_corrupt_weights_raise_a_clear_error(tmp_path):
    path, _ = save_weights(small("skeleton"), tmp_path / "skeleton.safetensors", {})
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="skeleton.safetensors.*safetensors"):
        load_weights(path)


def test_wrong_architecture_raises_a_clear_error(tmp_path):
    path, card_path = save_weights(small("gan"), tmp_path / "painter.safetensors", {})
    card = json.loads(card_path.read_text())
    card["architecture"]["config"]["dim"] = 3                           # the weights are dim 2
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="painter.safetensors does not match the 'gan' architecture"):
        load_weights(path)
    with pytest.raises(ValueError, match="holds a 'gan' painter, not 'vae'"):
        load_weights(path, expected="vae")
    with pytest.raises(FileNotFoundError, match="nowhere.safetensors"):
        load_weights(tmp_path / "nowhere.safetensors")


def test_tagged_names_load_other_shipped_weights_of_an_architecture():
    assert {"skeleton", "gan", "vae", "skeleton.deevad_brush"} <= set(list_pretrained())
    painter = create_painter("skeleton.deevad_brush")
    assert isinstance(painter, SkeletonPainter) and painter.name == "skeleton.deevad_brush"
    assert painter.brush == "deevad/brush" and not painter.stochastic    # a brush without randomness
    assert create_painter().brush == A.DEFAULT_BRUSH == "classic/dry_brush"
    resized = painter.at_size(128, 32)
    assert (resized.name, resized.brush) == ("skeleton.deevad_brush", "deevad/brush")
    assert not torch.equal(painter(torch.full((1, 12), 0.5)), create_painter()(torch.full((1, 12), 0.5)))
    for bad in ("skeleton../x", "skeleton.a.b", "", "skeleton/x", 3):
        with pytest.raises(ValueError, match="architecture.tag"):
            create_painter(bad)
    with pytest.raises(KeyError, match="picasso"):
        create_painter("picasso.deevad_brush")
    with pytest.raises(FileNotFoundError, match="skeleton.nothing.safetensors.*train_skeleton_painter.py"):
        create_painter("skeleton.nothing")
    with pytest.raises(ValueError, match="pretrained=False builds the bare architecture 'skeleton'"):
        create_painter("skeleton.deevad_brush", pretrained=False)


def test_a_card_brush_must_be_a_name(tmp_path):
    painter = small("skeleton")
    path, card = save_weights(painter, tmp_path / "skeleton.safetensors", {"brush": ["classic/pen"]})
    with pytest.raises(ValueError, match="brush must be a MyPaint brush name"):
        load_weights(path)


@pytest.mark.parametrize("name", ["skeleton", "gan", "vae", "skeleton.deevad_brush"])
def test_shipped_weights_and_cards(name):
    weights, card_path = weights_paths(name)
    assert weights.stat().st_size < 15 * 2 ** 20
    card = read_card(weights)
    assert CARD_KEYS <= set(card), CARD_KEYS - set(card)
    assert card["action_space_version"] == A.ACTION_SPACE_VERSION and card["name"] == name
    assert card["steps"] > 0 and card["samples_seen"] >= card["steps"]
    for key in ("l1", "mean_l1", "iou", "sharpness"):
        assert math.isfinite(card["fidelity"][key])
    assert card["fidelity"].get("brush", A.DEFAULT_BRUSH) == card["brush"]       # scored against its own brush
    painter = create_painter(name)
    assert painter.card == card and not painter.training and painter.brush == card["brush"]
    with pytest.raises(ValueError, match="use pretrained=False"):
        create_painter(name, **{next(iter(card["architecture"]["config"])): 1})


def test_fidelity_helpers():
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 64, 64)).astype(np.float32)
    assert iou(x[0], x[0]) == 1.0 and sharpness(x[0]) > 0
    s = scores(x[:1], np.concatenate([x, x]))
    assert s["l1"] == 0.0 and s["iou"] == 1.0 and s["sharpness"] == 1.0
    out = paint(small("gan").eval(), A.random_actions(5, seed=0), draws=3)
    assert out.shape == (3, 5, 64, 64)


def test_sweep_writes_painter_next_to_mypaint(tmp_path):
    img = sweep({"skeleton": small("skeleton")}, "pressure", levels=4, path=tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").is_file() and img.size[0] > 4 * 64
    with pytest.raises(ValueError, match="unknown action field"):
        sweep(small("skeleton"), "colour")


@pytest.mark.parametrize("chunk", [2 ** 23, 700])
def test_dab_raster_gradient_is_autograds(chunk, monkeypatch):
    """The rasterizer's hand-written backward (tables rebuilt chunk by chunk, sums through the grid's
    powers) equals autograd's on the plain formula, on a 64-px tile and on a 1024-px canvas, whole and in
    chunks of one or two strokes."""
    from strokeparam.painters import skeleton
    monkeypatch.setattr(skeleton, "CHUNK_ELEMENTS", chunk)
    gen = torch.Generator().manual_seed(0)
    for size in (64, 1024):
        grid = torch.arange(size, dtype=torch.float64) + 0.5
        cx, cy = ((torch.rand(3, 5, 1, generator=gen, dtype=torch.float64) * size).requires_grad_() for _ in "xy")
        inv = (1 / (1 + 6 * torch.rand(3, 5, 1, generator=gen, dtype=torch.float64)) * 64 / size).requires_grad_()
        w = (2 * torch.rand(3, 5, 1, generator=gen, dtype=torch.float64)).requires_grad_()
        upstream = torch.randn(3, 1, size, size, generator=gen, dtype=torch.float64)
        inputs = (cx, cy, inv, w)

        def table(c):
            return torch.exp(-((grid - c) * inv).square())
        plain = 1 - torch.exp(-torch.einsum("nky,nkx->nyx", table(cy) * w, table(cx)))[:, None]
        got = skeleton.DabRaster.apply(grid, *inputs)
        torch.testing.assert_close(got, plain)
        expected = torch.autograd.grad((plain * upstream).sum(), inputs)
        for a, b in zip(torch.autograd.grad((got * upstream).sum(), inputs), expected):
            torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def _hard_strokes(n: int = 300):
    """Thin and wide strokes, short ones in a corner, long ones across the tile; and an upstream gradient."""
    acts = torch.from_numpy(A.random_actions(n, seed=3)).float()
    acts[:100, A.SIZE] = 1.0                                            # the widest brush
    acts[100:150, A.POINTS] = torch.tensor([0.0, 0.0, 0.02, 0.01, 0.03, 0.0])   # short, in the corner
    acts[150:160, A.POINTS] = torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0, 0.0])      # across the tile
    return acts, torch.randn(n, 1, 96, 96, generator=torch.Generator().manual_seed(0))


def _paint_ways(painter, acts, upstream, ways: dict, monkeypatch) -> dict:
    """{(way, plain): (alpha, gradient of the actions)}: each way a dict of skeleton's settings to patch,
    painted without and with a generator."""
    from strokeparam.painters import skeleton
    runs = {}
    for way, settings in ways.items():
        for key, value in settings.items():
            monkeypatch.setattr(skeleton, key, value)
        for generator in (None, torch.Generator().manual_seed(1)):
            x = acts.clone().requires_grad_(True)
            alpha = painter(x, generator=generator)
            (alpha * upstream).sum().backward()
            runs[way, generator is None] = alpha.detach(), x.grad
    return runs


@pytest.mark.parametrize("chunk", [2 ** 23, 5000])              # tables kept for the backward, or built again
def test_strokes_painted_in_crops_match_the_whole_square(chunk, monkeypatch):
    """Without the compiled loop, the skeleton painter paints each stroke in a crop around its dabs: thin and
    wide strokes, strokes at the margin's edge and jittered draws paint as on the whole square (alpha within
    2e-4) with the same gradients; the crops are smaller than the square for short strokes."""
    from strokeparam.painters import skeleton
    painter = create_painter().at_size(64, 16)
    acts, upstream = _hard_strokes()
    monkeypatch.setattr(skeleton, "compiled", lambda: None)
    monkeypatch.setattr(skeleton, "CHUNK_ELEMENTS", chunk)
    sides, real = [], skeleton._paint
    monkeypatch.setattr(skeleton, "_paint", lambda grid, *a: (sides.append(grid.shape[0]), real(grid, *a))[1])
    runs = _paint_ways(painter, acts, upstream, {"crops": {}, "whole": {"CROP_REACH": 1e6}}, monkeypatch)
    assert min(sides) < painter.side // 2 and max(sides) == painter.side and painter.stochastic
    for plain in (True, False):
        (alpha, grad), (want, want_grad) = runs["crops", plain], runs["whole", plain]
        assert (alpha - want).abs().max() < 2e-4
        torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-4 * float(want_grad.abs().max()))


def test_compiled_dabs_match_the_whole_square(monkeypatch):
    """The compiled loop (_dabs.c, built by make setup) paints each dab only where it reaches: the same strokes
    as torch on the whole square (alpha within 1e-4) with the same gradients, and a margin paints the square
    inside it the same (pixel centres are exact)."""
    from strokeparam.painters import skeleton
    assert skeleton.compiled() is not None, "strokeparam/painters/_dabs.so was not built (scripts/setup.sh)"
    painter = create_painter().at_size(64, 16)
    acts, upstream = _hard_strokes()
    runs = _paint_ways(painter, acts, upstream, {"compiled": {}, "whole": {"compiled": lambda: None,
                                                                          "CROP_REACH": 1e6}}, monkeypatch)
    for plain in (True, False):
        (alpha, grad), (want, want_grad) = runs["compiled", plain], runs["whole", plain]
        assert (alpha - want).abs().max() < 1e-4
        torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-4 * float(want_grad.abs().max()))
    monkeypatch.undo()
    wide = painter.at_size(64, 24)
    with torch.no_grad():
        inner, outer = painter(acts), wide(acts)
    assert (outer[..., 8:-8, 8:-8] - inner).abs().max() < 1e-6


def test_components_of_equal_radius_paint_as_one_gaussian(monkeypatch):
    """The shipped painter's two Gaussian components per dab have radii within 3% of each other: painted as
    one (ink-weighted mean radius, summed ink) the strokes and gradients stay those of the two, half the
    rasterizer's work; components of other radii stay apart, and a dab without ink stays finite."""
    from strokeparam.painters import skeleton
    painter = create_painter()
    acts = torch.rand(40, 12, generator=torch.Generator().manual_seed(6))
    acts[0, A.PRESSURE] = 0.0
    with torch.no_grad():
        _, rad, weight = painter.dab_geometry(acts)
    assert rad.shape[-1] == 2 and float((rad.amax(-1) / rad.amin(-1)).max()) < skeleton.MERGE_SPREAD
    merged = skeleton.merge_components(rad, weight)
    assert merged[0].shape == (40, 64, 1) and torch.isfinite(merged[0]).all() and merged[1][0].abs().max() == 0
    runs = {}
    for name in ("merged", "apart"):
        if name == "apart":
            monkeypatch.setattr(skeleton, "merge_components", lambda r, w: (r, w))
        x = acts.clone().requires_grad_(True)
        alpha = painter(x)
        (alpha * torch.linspace(0, 1, 64)).sum().backward()
        runs[name] = alpha.detach(), x.grad
    (alpha, grad), (want, want_grad) = runs["merged"], runs["apart"]
    assert 0 < (alpha - want).abs().max() < 3e-4
    torch.testing.assert_close(grad, want_grad, rtol=1e-3, atol=1e-3 * float(want_grad.abs().max()))
    wide = rad * torch.tensor([1.0, 1.2])                          # radii 20% apart: painted as they are
    assert skeleton.merge_components(wide, weight)[0] is wide


def test_collapsed_dab_radii_keep_the_skeleton_painters_gradients_finite():
    """A dab model whose radii collapse (training drove one to 2e-5 px, and its gradient overflowed to NaN)
    paints dabs of MyPaint's thinnest radius instead, with finite gradients."""
    from strokeparam.painters.skeleton import MIN_RADIUS
    painter = SkeletonPainter()
    with torch.no_grad():
        painter.dab_net[-1].bias[:2] = -20.0            # radius outputs: exp(-20) x the brush radius
    actions = torch.from_numpy(A.random_actions(16, seed=0)).requires_grad_(True)
    _, rad, _ = painter.dab_geometry(actions, None)
    assert rad.min() >= MIN_RADIUS
    painter(actions).square().sum().backward()
    assert torch.isfinite(actions.grad).all() and all(torch.isfinite(p.grad).all() for p in painter.parameters())

