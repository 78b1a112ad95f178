"""The gallery page in real headless Chromium: it loads, every image loads, captions are escaped."""
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from strokeparam import BrushstrokeParam, create_painter
from strokeparam.export import save_png
from strokeparam.cli import Style
from strokeparam.gallery import (GalleryItem, load_manifest, plan, render_html, render_markdown, save_manifest,
                                 write_pages, write_sheet)

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVIL = 'goldfish <script>alert("x")</script> & \'quoted\' *bold* | cell'
OUT = Path(__file__).resolve().parents[1] / "out"

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and os.geteuid() != 0,
    reason="Debian's chromium is missing and this user cannot install it (as root: apt-get install chromium)")

CHECK = """<script>
window.addEventListener("load", () => {
  const result = {
    title: document.title,
    scripts: document.scripts.length,
    images: [...document.images].map(i => ({src: i.getAttribute("src"), complete: i.complete,
                                             width: i.naturalWidth, height: i.naturalHeight})),
    captions: [...document.querySelectorAll("figcaption")].map(f => f.textContent),
  };
  const pre = document.createElement("pre");
  pre.id = "check";
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
});
</script>"""


def chromium(*args, timeout=60):
    assert CHROMIUM, "chromium is not installed: run scripts/setup.sh as root (apt-get install chromium)"
    proc = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
                           "--disable-dev-shm-usage", "--hide-scrollbars", *args],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A gallery of real tiny paintings (untrained skeleton painter) with a hostile caption."""
    folder = tmp_path_factory.mktemp("gallery")
    torch.manual_seed(0)
    painter = create_painter("skeleton", pretrained=False)
    styles = [{}, {"grayscale": True}, {"palette": ["#1b1b1b", "#e8e0c8", "#b22222"]}]
    for k, style in enumerate(styles):
        param = BrushstrokeParam(strokes=6, grid=(1, 2) if k == 2 else 1, painter=painter, seed=k, **style)
        with torch.no_grad():
            save_png(param.image(), folder / f"p{k}.png")
            save_png(param.image(upto=3), folder / f"p{k}_mypaint.png")
    Image.new("RGB", (48, 32), (200, 40, 40)).save(folder / "photo.png")
    items = [
        GalleryItem("class", "p0.png", "giant panda (388)", "skeleton", "color", 6, 2, probability=0.25,
                    heldout="efficientnet_lite2", mypaint="p0_mypaint.png"),
        GalleryItem("class", "p1.png", EVIL, "skeleton <i>", "grayscale", 6, 2, probability=0.5,
                    heldout="efficientnet_lite2"),
        GalleryItem("style", "p2.png", "photo", "skeleton", "palette #1b1b1b #e8e0c8 #b22222", 6, 2, tiles=2,
                    content="photo.png"),
    ]
    save_manifest(folder, items)
    write_pages(items, folder, title="test <gallery>", intro="A & B", command="strokeparam gallery --out 'x'")
    return folder


@needs_chromium
def test_page_loads_every_image_and_escapes_captions(folder, tmp_path):
    page = (folder / "index.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    check = folder / "check.html"                      # the real page plus a probe, in the same folder
    check.write_text(page.replace("</body>", CHECK + "\n</body>"))
    dom = chromium("--virtual-time-budget=5000", "--dump-dom", check.as_uri())
    found = re.search(r'<pre id="check">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; DOM:\n{dom[:2000]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["title"] == "test <gallery>"
    assert result["scripts"] == 1, "a caption was parsed as markup"
    expected = {"p0.png": (64, 64), "p0_mypaint.png": (64, 64), "p1.png": (64, 64), "photo.png": (48, 32),
                "p2.png": (120, 64)}
    loaded = {img["src"]: (img["width"], img["height"]) for img in result["images"] if img["complete"]}
    assert loaded == expected
    assert any(EVIL in caption for caption in result["captions"])
    assert any("painter skeleton <i>" in caption for caption in result["captions"])

    shot = tmp_path / "gallery.png"
    chromium("--window-size=1200,1000", f"--screenshot={shot}", (folder / "index.html").as_uri())
    with Image.open(shot) as picture:
        assert picture.size == (1200, 1000)
        lo, hi = picture.convert("L").getextrema()
        assert hi - lo > 100, "the screenshot is blank"
    OUT.mkdir(exist_ok=True)
    shutil.copy(shot, OUT / "test_gallery_screenshot.png")


def test_markdown_escapes_captions_and_points_at_the_images(folder):
    text = (folder / "README.md").read_text()
    assert "<script>" not in text and "<i>" not in text
    assert "&#60;script&#62;" in text and "&#42;bold&#42;" in text and "&#124; cell" in text
    for src in re.findall(r'<img src="([^"]+)"', text):
        assert (folder / src).is_file(), src
    rows = [line for line in text.splitlines() if line.startswith("| <img")]
    assert all(row.count(" | ") == 2 for row in rows), "a caption broke the table"


def test_pages_are_pure_and_sections_follow_kinds():
    items = [GalleryItem("style", "b.png", "coffee", "gan", "grayscale", 50, 200),
             GalleryItem("class", "a.png", "goldfish (1)", "gan", "color", 30, 300, probability=0.9, heldout="m")]
    page = render_html(items)
    assert page == render_html(items)
    assert page.index('id="class"') < page.index('id="style"')
    assert "P = 0.900 by held-out m" in page and "50 strokes" in page and "200 steps" in page
    canvas = GalleryItem("class", "c.png", "goldfish (1)", "skeleton", "color", 30, 150, tiles=4, underpainting=40)
    assert "30 strokes x 4 tiles + 40 underpainting" in render_html([canvas])
    with pytest.raises(ValueError, match="underpainting"):
        GalleryItem("class", "c.png", "goldfish (1)", "skeleton", "color", 30, 150, underpainting=-1)
    assert 'id="style"' not in render_html(items[1:]) and "Intrinsic" not in render_markdown(items[1:])


def test_manifest_round_trip_and_bad_items(folder, tmp_path):
    items = load_manifest(folder)
    assert sorted(items) == ["p0.png", "p1.png", "p2.png"] and items["p1.png"].subject == EVIL
    assert load_manifest(tmp_path) == {}
    (tmp_path / "gallery.json").write_text('{"items": [{"kind": "class", "colour": 1}]}')
    with pytest.raises(ValueError, match="not a strokeparam gallery manifest"):
        load_manifest(tmp_path)
    with pytest.raises(ValueError, match="kind must be one of"):
        GalleryItem("photo", "a.png", "x", "p", "color", 1, 1)


def test_plan_names_each_painting_once():
    styles = [Style("color", "color"), Style("grayscale", "grayscale", {"grayscale": True})]
    photo = Image.new("RGB", (8, 8))
    jobs = plan([(388, "giant panda")], [(photo, "Coffee Cup")], styles)
    assert [job.stem for job in jobs] == ["giant_panda_color", "giant_panda_grayscale", "photo_coffee_cup_color",
                                          "photo_coffee_cup_grayscale"]
    assert jobs[0].index == 388 and jobs[2].picture is photo and jobs[2].index is None
    several = plan([(1, "goldfish")], [], styles[:1], ["skeleton", "vae"])
    assert [(job.stem, job.painter) for job in several] == [("goldfish_color_skeleton", "skeleton"),
                                                            ("goldfish_color_vae", "vae")]
    with pytest.raises(ValueError, match="both be saved as photo_x_color.png"):
        plan([], [(photo, "x"), (photo, "X")], styles[:1])


def test_contact_sheet_lays_out_subjects_by_painter_with_each_repaint(folder, tmp_path):
    items = list(load_manifest(folder).values())
    path = write_sheet(items, folder, tmp_path / "sheet.png", side=32)
    with Image.open(path) as sheet:
        subjects = len({item.subject for item in items})
        columns = len({(item.painter, item.constraint) for item in items})
        assert sheet.size == (90 + columns * (2 * 32 + 4 + 12), subjects * (32 + 18 + 12))
        with Image.open(folder / "p0.png") as painting, Image.open(folder / "p0_mypaint.png") as repaint:
            first = sheet.crop((90, 18, 90 + 32, 18 + 32))        # first subject, first column: p0 | its re-paint
            second = sheet.crop((90 + 36, 18, 90 + 36 + 32, 18 + 32))
            assert np.array_equal(np.asarray(first), np.asarray(painting.convert("RGB").resize((32, 32))))
            assert np.array_equal(np.asarray(second), np.asarray(repaint.convert("RGB").resize((32, 32))))
    with pytest.raises(ValueError, match="at least one painting"):
        write_sheet([], folder, tmp_path / "empty.png")
