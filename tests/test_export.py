"""Exports: stroke JSON round trip, PNG, SVG, GIF, OpenRaster, and their option checks."""
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from strokeparam import BrushstrokeParam, create_painter
from strokeparam import actions as A
from strokeparam import export as E

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def painter():
    torch.manual_seed(0)
    return create_painter("skeleton", pretrained=False)


@pytest.fixture(scope="module")
def param(painter):
    return BrushstrokeParam(strokes=4, grid=(1, 2), painter=painter, batch=2, background=(0.2, 0.8, 0.6), seed=1,
                            underpainting=0)


def image(param, upto=None):
    with torch.no_grad():
        return param.image(upto=upto)


def test_json_round_trip_reproduces_the_image(param, painter, tmp_path):
    path = E.save_strokes(param, tmp_path / "p.json")
    again = BrushstrokeParam(init=path, painter=painter)
    assert again.layout == param.layout and again.strokes == param.strokes and again.batch == param.batch
    assert torch.allclose(again.background, param.background)
    assert (image(again) - image(param)).abs().max() < 1e-5


def test_json_round_trip_keeps_the_margin_and_reads_files_from_before_margins(param, painter, tmp_path):
    assert param.layout.margin == 16                              # "auto" on a grid of tiles
    narrow = BrushstrokeParam(strokes=4, grid=(1, 2), painter=painter, seed=1, underpainting=0, margin=3)
    again = BrushstrokeParam(init=E.save_strokes(narrow, tmp_path / "m.json"), painter=painter)
    assert again.layout.margin == 3 and torch.equal(image(again), image(narrow))
    assert BrushstrokeParam(init=tmp_path / "m.json", painter=painter, margin=0).layout.margin == 0
    doc = json.loads((tmp_path / "m.json").read_text())
    del doc["layout"]["margin"]                                     # a file written before margins
    old = BrushstrokeParam(init=doc, painter=painter)
    cut = BrushstrokeParam(strokes=4, grid=(1, 2), painter=painter, seed=1, underpainting=0, margin=0)
    assert old.layout.margin == 0 and torch.allclose(image(old), image(cut), atol=1e-6)
    doc["layout"]["margin"] = 40
    with pytest.raises(ValueError, match="margin"):
        BrushstrokeParam(init=doc, painter=painter)


def test_json_round_trip_keeps_the_output_size(painter, tmp_path):
    param = BrushstrokeParam(strokes=3, size=(70, 100), painter=painter, seed=2)
    again = BrushstrokeParam(init=E.save_strokes(param, tmp_path / "s.json"), painter=painter)
    assert again.output_size == (70, 100)
    assert (image(again) - image(param)).abs().max() < 1e-5


def test_png_single_batch_and_numpy(param, tmp_path):
    img = image(param)
    paths = E.save_png(img, tmp_path / "b.png")
    assert [p.name for p in paths] == ["b_0.png", "b_1.png"]
    for b, p in enumerate(paths):
        pixels = np.asarray(Image.open(p)).astype(np.float32) / 255
        assert pixels.shape == (64, 120, 3)
        assert np.abs(pixels - img[b].permute(1, 2, 0).numpy()).max() <= 0.5 / 255 + 1e-6
    assert E.save_png(img[0], tmp_path / "one.png") == [tmp_path / "one.png"]
    assert E.save_png(img[:1], tmp_path / "one.png") == [tmp_path / "one.png"]
    hwc = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    E.save_png(hwc, tmp_path / "np.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "np.png")), hwc)
    E.save_png(np.full((6, 4), 0.5), tmp_path / "gray.png")
    assert Image.open(tmp_path / "gray.png").mode == "L"
    assert not list(tmp_path.glob(".*.tmp"))                         # atomic: no temporary files left


def test_svg_has_one_masked_stroke_per_action_in_order_with_the_painters_dabs(param, tmp_path):
    root = ET.parse(E.save_svg(param, tmp_path / "p.svg", painting=1)).getroot()
    layout = param.layout
    assert root.tag == SVG + "svg"
    assert root.get("viewBox") == f"0 0 {layout.width} {layout.height}"
    assert (int(root.get("height")), int(root.get("width"))) == param.output_size
    rects = root.findall(SVG + "rect")
    assert rects[0].get("fill") == "#33cc99" and rects[0].get("mask") is None      # the background
    acts = param.actions()[1].detach().numpy()
    assert len(rects) - 1 == len(acts) == layout.tiles * param.strokes
    origins = np.repeat(np.array(layout.origins()), param.strokes, axis=0)
    masks = {m.get("id"): m for m in root.iter(SVG + "mask")}
    for k, (rect, action, (top, left)) in enumerate(zip(rects[1:], acts, origins)):
        assert rect.get("fill") == "#" + "".join(f"{round(float(c) * 255):02x}" for c in action[A.COLOR])
        assert rect.get("mask") == f"url(#s{k})"
        mask = masks[f"s{k}"]                              # the mask clips the stroke to its tile and margins
        m = layout.margin
        assert m > 0 and (float(mask.get("x")), float(mask.get("y")), float(mask.get("width"))) == (
            left - m, top - m, layout.side)
        centres, _, inks = param.painter.dab_geometry(torch.as_tensor(action[None]))
        shown = (inks[0] >= E.SVG_MIN_INK).sum().item()
        circles = mask.findall(SVG + "circle")
        assert len(circles) == shown > 0
        first = next(i for i, row in enumerate(inks[0]) if (row >= E.SVG_MIN_INK).any())
        assert float(circles[0].get("cx")) == pytest.approx(left + float(centres[0, first, 0]), abs=0.01)


def test_svg_of_a_painter_without_dabs_draws_its_bezier_paths(tmp_path):
    param = BrushstrokeParam(strokes=2, painter=create_painter("vae"), seed=0)
    root = ET.fromstring(E.svg_string(param))
    paths = root.findall(f".//{SVG}path")
    assert len(paths) == 2 and all(p.get("stroke-linecap") == "round" for p in paths)


@pytest.mark.skipif(shutil.which("chromium") is None and os.geteuid() != 0, reason="needs chromium (setup as root)")
def test_svg_rasterized_by_chromium_looks_like_the_png(tmp_path):
    param = BrushstrokeParam(strokes=8, size=96, tile=64, overlap=16, underpainting=4, seed=2)
    raster = E.rasterize_svg(E.save_svg(param, tmp_path / "p.svg"), tmp_path / "p.png", param.output_size)
    pixels = np.asarray(Image.open(raster).convert("RGB"), dtype=np.float32) / 255
    png = image(param)[0].permute(1, 2, 0).numpy()
    assert pixels.shape == png.shape and np.abs(pixels - png).mean() < 0.015


@pytest.mark.parametrize("every, frames", [(1, 4), (3, 2)])
def test_gif_one_frame_per_step_ending_on_the_painting(param, tmp_path, every, frames):
    gif = Image.open(E.save_gif(param, tmp_path / "p.gif", painting=1, every=every, duration_ms=50))
    assert gif.n_frames == frames
    assert gif.info.get("loop") == 0
    gif.seek(frames - 1)
    last = np.asarray(gif.convert("RGB")).astype(np.float32) / 255
    final = image(param)[1].permute(1, 2, 0).numpy()
    assert last.shape == final.shape
    assert np.abs(last - final).mean() < 0.02
    gif.seek(0)
    first = np.asarray(gif.convert("RGB")).astype(np.float32) / 255
    assert np.abs(first - image(param, upto=every)[1].permute(1, 2, 0).numpy()).mean() < 0.02


def test_gif_paints_the_underpainting_first(painter, tmp_path):
    layered = BrushstrokeParam(strokes=2, grid=(1, 2), painter=painter, underpainting=3, seed=4)
    gif = Image.open(E.save_gif(layered, tmp_path / "u.gif", every=2))
    assert gif.n_frames == 3                                   # 2, 4 and all 5 strokes per tile (3 under + 2)
    gif.seek(2)
    assert np.abs(np.asarray(gif.convert("RGB")) / 255 - image(layered)[0].permute(1, 2, 0).numpy()).mean() < 0.02
    before = [image(layered, upto=k) for k in (3, 4)]
    with torch.no_grad():
        layered.raw[:, 3:] += 2.0                              # move the tiles' strokes only
    assert torch.equal(image(layered, upto=3), before[0])      # the first 3 per tile are the underpainting's
    assert not torch.equal(image(layered, upto=4), before[1])


def test_ora_is_valid_openraster_of_the_mypaint_repaint(param, tmp_path):
    path = E.save_ora(param, tmp_path / "p.ora", seed=3, painting=1)
    with zipfile.ZipFile(path) as ora:
        first = ora.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED and not first.extra
        assert ora.read("mimetype") == b"image/openraster"
        assert ora.testzip() is None
        stack = ET.fromstring(ora.read("stack.xml"))
        height, width = param.output_size
        assert stack.tag == "image" and (stack.get("w"), stack.get("h")) == (str(width), str(height))
        layers = stack.findall("./stack/layer")
        assert [la.get("name") for la in layers] == ["strokes", "background"]
        pictures = {name: Image.open(io.BytesIO(ora.read(name))) for name in
                    [la.get("src") for la in layers] + ["mergedimage.png", "Thumbnails/thumbnail.png"]}
    for name, pic in pictures.items():
        assert pic.format == "PNG" and pic.size == (width, height), name
    strokes = np.asarray(pictures["data/strokes.png"]).astype(np.float32) / 255
    assert pictures["data/strokes.png"].mode == "RGBA" and 0 < strokes[..., 3].max() and strokes[..., 3].min() == 0
    background = np.asarray(pictures["data/background.png"])
    assert (background == [51, 204, 153, 255]).all()
    # the layers composite to the merged image, which is param.to_mypaint with the same seed
    composite = strokes[..., :3] * strokes[..., 3:] + (1 - strokes[..., 3:]) * background[..., :3] / 255
    merged = np.asarray(pictures["mergedimage.png"]).astype(np.float32) / 255
    assert np.abs(composite - merged).max() < 3 / 255
    reference = param.to_mypaint(seed=3)[1].permute(1, 2, 0).numpy()
    assert np.abs(merged - reference).max() <= 0.5 / 255 + 1e-6


def test_ora_at_a_requested_output_size(painter, tmp_path):
    param = BrushstrokeParam(strokes=2, size=(70, 100), painter=painter, seed=5)
    assert (param.layout.height, param.layout.width) != (70, 100)
    with zipfile.ZipFile(E.save_ora(param, tmp_path / "sized.ora", seed=7)) as ora:
        merged = Image.open(io.BytesIO(ora.read("mergedimage.png")))
    assert merged.size == (100, 70)
    reference = param.to_mypaint(seed=7)[0].permute(1, 2, 0).numpy()
    assert np.abs(np.asarray(merged).astype(np.float32) / 255 - reference).max() <= 1 / 255


def test_ora_thumbnail_is_at_most_256_px(painter, tmp_path):
    param = BrushstrokeParam(strokes=1, grid=(1, 5), overlap=0, painter=painter, seed=4)
    with zipfile.ZipFile(E.save_ora(param, tmp_path / "wide.ora", seed=0, quantize=True)) as ora:
        assert Image.open(io.BytesIO(ora.read("mergedimage.png"))).size == (320, 64)
        assert Image.open(io.BytesIO(ora.read("Thumbnails/thumbnail.png"))).size == (256, 51)


def test_export_all_writes_each_format(param, tmp_path):
    out = E.export_all(param, tmp_path / "all", formats=("json", "svg", "png"))
    assert sorted(out) == ["json", "png", "svg"]
    assert json.loads(out["json"].read_text())["format"] == E.STROKES_FORMAT
    assert [p.name for p in out["png"]] == ["all_0.png", "all_1.png"]


@pytest.mark.parametrize("call, words", [
    (lambda p, d: E.save_svg(p, d / "x.svg", painting=2), "painting"),
    (lambda p, d: E.save_gif(p, d / "x.gif", painting=-1), "painting"),
    (lambda p, d: E.save_gif(p, d / "x.gif", every=0), "every"),
    (lambda p, d: E.save_gif(p, d / "x.gif", duration_ms=1.5), "duration_ms"),
    (lambda p, d: E.save_ora(p, d / "x.ora", quantize="yes"), "quantize"),
    (lambda p, d: E.save_ora(p, d / "x.ora", seed=-1), "seed"),
    (lambda p, d: E.save_png(torch.zeros(2, 3), d / "x.png"), "image tensor"),
    (lambda p, d: E.save_png(np.zeros((4, 4, 2)), d / "x.png"), "image array"),
    (lambda p, d: E.save_png(np.full((4, 4, 3), np.nan), d / "x.png"), "finite"),
    (lambda p, d: E.save_png([[0.5]], d / "x.png"), "numpy"),
    (lambda p, d: E.export_all(p, d / "x", formats=("png", "jpeg")), "jpeg"),
])
def test_bad_options_raise_value_error(param, tmp_path, call, words):
    with pytest.raises(ValueError, match=words):
        call(param, tmp_path)
    assert not list(tmp_path.iterdir())


def test_transparent_png_holds_the_strokes_alone(painter, tmp_path):
    param = BrushstrokeParam(strokes=3, painter=create_painter(), background=(0.1, 0.5, 0.9), seed=3)
    rgba = param.layer()
    assert rgba.shape == (1, 4, 64, 64)
    alpha, rgb = rgba[:, 3:], rgba[:, :3]
    assert alpha.min() == 0 and alpha.max() > 0.5                       # bare canvas is transparent
    again = rgb * alpha + param.background.view(1, 3, 1, 1) * (1 - alpha)
    assert (again - image(param)).abs().max() < 1e-4                   # over its background: the painting
    (path,) = E.export_all(param, tmp_path / "t", formats="png", transparent=True)["png"]
    picture = Image.open(path)
    assert picture.mode == "RGBA" and np.asarray(picture)[..., 3].min() == 0
