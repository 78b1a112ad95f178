"""The ``strokeparam`` command through subprocess: exit codes, valid outputs, one-line errors.

Paintings are tiny (3 strokes, 1-2 steps, one painting classifier) and the three painting commands run at
once, since each spends most of its time starting up; with no shipped painter weights they run with
``--untrained``. Mistakes are checked through the console script and, for breadth, through ``main``.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from strokeparam.cli import main
from strokeparam.painters import DEFAULT_PAINTER, weights_paths
from strokeparam.painters.fidelity import describe_card

SCRIPT = Path(sys.executable).with_name("strokeparam")
CLI = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "strokeparam"]
UNTRAINED = [] if weights_paths(DEFAULT_PAINTER)[0].is_file() else ["--untrained"]
TINY = ["--strokes", "3", "--steps", "2", "--seed", "1", "--quiet", *UNTRAINED]
FAST = ["--models", "efficientnet_lite0", "--copies", "1", "--resolution", "64"]


def start(*args, cwd=None) -> subprocess.Popen:
    return subprocess.Popen(CLI + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=cwd, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = proc.communicate(timeout=300)
    assert "Traceback" not in err, err
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run(*args, cwd=None):
    return finish(start(*args, cwd=cwd))


def ok(proc) -> subprocess.CompletedProcess:
    done = finish(proc) if isinstance(proc, subprocess.Popen) else proc
    assert done.returncode == 0, done.stderr
    return done


def picture(path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()
        return image.size


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Start paint, style and gallery together; each test collects its own."""
    root = tmp_path_factory.mktemp("cli")
    Image.new("RGB", (60, 40), (30, 90, 200)).save(root / "photo.png")
    Image.new("RGB", (40, 40), (200, 40, 40)).save(root / "red.png")
    started = {
        "paint": start("paint", "giant panda", *TINY, *FAST, "--grid", "1x2", "--margin", "5", "--gif", "--svg",
                       "--mypaint", "--out", root / "sub" / "panda.png"),
        "style": start("style", root / "photo.png", *TINY, "--size", "48", "--palette", "#000000,#ffffff,1e5ac8",
                       "--draws", "1", "--out", root / "s.png"),
        "gallery": start(*GALLERY, "--mypaint", "--repaints", "2", "--style-images", root / "red.png",
                         "--out", root / "g"),
    }
    yield root, started
    for proc in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


GALLERY = ["gallery", "--classes", "1", "--styles", "grayscale", "--style-size", "32",
           "--style-steps", "1", *TINY, *FAST]


@pytest.fixture(scope="module")
def painted(jobs):
    root, started = jobs
    return root / "sub" / "panda.png", ok(started["paint"])


def test_paint_writes_every_output_and_the_verdict(painted):
    out, proc = painted
    assert picture(out) == (120, 64) and picture(out.with_name("panda_mypaint.png")) == (120, 64)
    doc = json.loads(out.with_suffix(".json").read_text())
    assert doc["format"] == "strokeparam-strokes" and len(doc["paintings"][0]) == 40 + 2 * 3
    assert doc["layout"]["margin"] == 5
    with Image.open(out.with_suffix(".gif")) as gif:
        assert gif.size == (120, 64) and gif.n_frames >= 1
    assert ET.parse(out.with_suffix(".svg")).getroot().tag.endswith("svg")
    with zipfile.ZipFile(out.with_suffix(".ora")) as ora:
        assert ora.read("mimetype") == b"image/openraster" and "stack.xml" in ora.namelist()
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("giant panda (388), neural render: P = ")
    assert re.match(r"giant panda \(388\), MyPaint re-paint, seed [1-4] \(best of 4 for the painters\): P = ", lines[1])
    assert all("held-out efficientnet_lite2" in line for line in lines)
    assert proc.stderr == ""                                   # --quiet


def test_transfer_repaints_a_stroke_json(painted, tmp_path):
    out, _ = painted
    ok(run("transfer", out.with_suffix(".json"), "--out", tmp_path / "t.png", "--ora", tmp_path / "t.ora"))
    assert picture(tmp_path / "t.png") == (120, 64)
    assert zipfile.is_zipfile(tmp_path / "t.ora")


def test_style_paints_a_photo_with_a_palette(jobs):
    root, started = jobs
    proc = ok(started["style"])
    assert proc.stdout.strip() == str(root / "s.png")
    assert picture(root / "s.png") == (48, 32)
    constraints = json.loads((root / "s.json").read_text())["constraints"]
    assert constraints[0]["colors"] == ["#000000", "#ffffff", "#1e5ac8"]


def test_gallery_writes_pages_and_resumes(jobs):
    root, started = jobs
    first = ok(started["gallery"])
    folder = root / "g"
    assert "2 paintings (2 painted now)" in first.stdout
    page = (folder / "index.html").read_text()
    for name in ("goldfish_grayscale.png", "photo_red_grayscale.png", "photo_red_grayscale_content.png",
                 "goldfish_grayscale_mypaint.png", "photo_red_grayscale_mypaint.png"):     # the class's: best of 2
        assert f'src="{name}"' in page and picture(folder / name)
    assert "goldfish (1)" in page and "held-out efficientnet_lite2" in page
    assert "goldfish (1)" in (folder / "README.md").read_text()
    stamp = (folder / "goldfish_grayscale.png").stat().st_mtime_ns
    again = ok(run(*GALLERY, "--style-images", root / "red.png", "--out", folder))
    assert "(0 painted now)" in again.stdout
    assert (folder / "goldfish_grayscale.png").stat().st_mtime_ns == stamp


def test_painters_lists_the_registry(capsys):
    proc = ok(run("painters"))
    assert f"{DEFAULT_PAINTER} (default)" in proc.stdout
    assert "skeleton.deevad_brush\n" in proc.stdout and "imitates the MyPaint brush deevad/brush" in proc.stdout
    assert main(["painters", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert DEFAULT_PAINTER in cards and cards["skeleton.deevad_brush"]["brush"] == "deevad/brush"


def test_painter_cards_read_as_lines():
    card = {"architecture": {"name": "skeleton", "config": {"dabs": 64, "size": 64}}, "parameters": 1234,
            "steps": 6000, "preset": "cpu", "fidelity": {"l1": 0.031, "iou": 0.7, "num_actions": 300,
                                                          "floor": {"l1": 0.028}}}
    lines = describe_card("skeleton", card)
    assert lines[0] == "architecture: dabs=64, size=64"
    assert lines[1] == "imitates the MyPaint brush classic/dry_brush"           # cards of before brushes
    assert "1234 parameters, 6000 steps" in lines[2]
    assert lines[3] == "fidelity on 300 held-out actions: l1 0.0310 (MyPaint itself 0.0280), iou 0.7000"
    assert describe_card("skeleton", dict(card, brush="deevad/brush"))[1] == "imitates the MyPaint brush deevad/brush"
    assert "no shipped weights" in describe_card("gan", None)[0]
    assert "unusable: bad card" in describe_card("gan", {"error": "bad card"})[0]


@pytest.mark.parametrize("args, code, needle", [
    ([], 2, "required: COMMAND"),
    (["paint", "giant pandaa"], 1, "did you mean 'giant panda'"),
    (["transfer", "missing.json"], 1, "missing.json does not exist"),
])
def test_mistakes_print_one_line_through_the_console_script(args, code, needle, tmp_path):
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == code
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("strokeparam: error: ")
    assert needle in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("args, code, needle", [
    (["paint"], 2, "required: CLASS"),
    (["paint", "1000"], 1, "index must be in 0..999"),
    (["paint", "1", "--grid", "0"], 2, "--grid: must be N or AxB"),
    (["paint", "388", "--palette", "#12345z"], 2, "is not a hex color"),
    (["paint", "1", "--grid", "2", "--size", "64"], 2, "not allowed with argument"),
    (["paint", "1", "--grayscale", "--palette", "#000000"], 2, "not allowed with argument"),
    (["paint", "1", "--strokes", "-3"], 2, "--strokes: must be a positive integer"),
    (["paint", "1", "--draws", "-1"], 2, "--draws: must be"),
    (["paint", "1", "--margin", "-1"], 2, "--margin: must be"),
    (["paint", "1", "--grid", "2", "--margin", "25"], 1, "margin must be an integer number of pixels (a 64-px tile "
                                                          "with 8 px of overlap) in [0, 24], got 25"),
    (["paint", "1", "--copies", "1", "--draws", "2"], 1, "draws must be an integer up to copies in [0, 1], got 2"),
    (["paint", "1", "--models", "resnet50"], 2, "choose from efficientnet_lite0"),
    (["paint", "1", "--device", "tpu9"], 2, "--device"),
    (["paint", "1", "--out", "x.jpg"], 1, "--out must name a .png file"),
    (["paint", "1", "--painter", "nosuch"], 1, "unknown painter 'nosuch'; available painters"),
    (["paint", "1", "--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
    (["style", "skimage:nosuch"], 1, "unknown skimage photo 'nosuch'"),
    (["style", "skimage:coffee", "--draws", "0"], 2, "--draws"),
    (["style", "{tmp}/not_an_image.png"], 1, "is not an image Pillow can read"),
    (["gallery", "--out", "{tmp}/g"], 1, "gallery needs --classes and/or --style-images"),
    (["gallery", "--out", "{tmp}/g", "--classes", "1", "--styles", "color,sepia"], 2, "unknown style 'sepia'"),
    (["gallery", "--out", "{tmp}/g", "--classes", "1", "--styles", "palette:#00"], 2, "is not a hex color"),
    (["gallery", "--out", "{tmp}/g", "--style-images", "skimage:coffee", "--style-lr", "0"], 2, "--style-lr: must be"),
    (["transfer", "{tmp}/not_an_image.png"], 1, "is not a JSON file"),
    (["transfer", "{tmp}/not_an_image.png", "--ora", "x.zip"], 1, "--ora must name a .ora file"),
    (["nosuch"], 2, "invalid choice: 'nosuch'"),
])
def test_mistakes_print_one_line(args, code, needle, tmp_path, capsys):
    (tmp_path / "not_an_image.png").write_text("hello")
    assert main([a.format(tmp=tmp_path) for a in args]) == code
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("strokeparam: error: "), captured.err
    assert needle in captured.err and captured.out == ""
    assert not (tmp_path / "g").exists() or not any((tmp_path / "g").iterdir())


def test_reconstruct_paints_a_held_out_digit_with_an_agent(tmp_path, capsys):
    import torch

    from strokeparam.agents import PaintingAgent, save_agent
    from strokeparam.painters import create_painter
    torch.manual_seed(0)
    agent = PaintingAgent(create_painter("skeleton", pretrained=False), strokes=3, channels=4, hidden=8, blocks=0)
    weights, _ = save_agent(agent, tmp_path / "tiny.safetensors", {"note": "test"})
    out = tmp_path / "r.png"
    assert main(["reconstruct", "mnist:3", "--agent", str(weights), "--out", str(out), "--mypaint", "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.match(r"mnist_test_3 \(held-out image 3, label \d\): 3 strokes, MSE ", line), line   # not "a 3"
    assert line.endswith("through MyPaint")
    assert picture(out) == (64, 64) and picture(tmp_path / "r_mypaint.png") == (64, 64)
    assert len(json.loads(out.with_suffix(".json").read_text())["paintings"][0]) == 3
    assert main(["transfer", str(out.with_suffix(".json")), "--out", str(tmp_path / "t.png")]) == 0
    assert main(["reconstruct", "mnist:100000", "--agent", str(weights), "--out", str(out)]) == 1
    assert "the mnist test split has" in capsys.readouterr().err
    assert main(["reconstruct", "mnist:1", "--agent", "nosuch"]) == 1
    assert "no shipped agent 'nosuch'" in capsys.readouterr().err


def test_reconstruct_picks_the_shipped_agent_of_the_dataset(tmp_path, capsys):
    from strokeparam.agents.weights_io import shipped_agents
    assert {"mnist", "faces", "kanji"} <= set(shipped_agents())
    out = tmp_path / "f.png"
    assert main(["reconstruct", "faces:2", "--out", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("faces_test_2 (held-out image 2): 15 strokes, MSE ")
    assert len(json.loads(out.with_suffix(".json").read_text())["paintings"][0]) == 15


def test_gallery_paints_each_painting_with_each_painter(tmp_path, capsys):
    folder = tmp_path / "fig"
    assert main(["gallery", "--classes", "1", "--painter", "skeleton,vae", "--untrained", "--grid", "1",
                 "--neural-only", "--out", str(folder), *TINY, *FAST]) == 0
    items = json.loads((folder / "gallery.json").read_text())["items"]
    assert sorted((i["image"], i["painter"]) for i in items) == [
        ("goldfish_color_skeleton.png", "skeleton (untrained)"), ("goldfish_color_vae.png", "vae (untrained)")]
    assert json.loads((folder / "goldfish_color_vae.json").read_text())["painter"] == "vae"
