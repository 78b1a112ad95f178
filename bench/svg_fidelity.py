#!/usr/bin/env python
"""Does the SVG export look like the painting? Each stroke JSON's SVG, rasterized by headless Chromium,
next to its PNG (the neural render): pixel difference and the held-out lite2's verdict on both.

    python bench/svg_fidelity.py                       # the gallery's class paintings and out/giant_panda.json
    python bench/svg_fidelity.py out/a.json out/b.json --out out/svg_fidelity

A JSON's ImageNet class comes from the gallery.json beside it, else from its file name (giant_panda.json).
"""
import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from strokeparam import BrushstrokeParam, load_classifier
from strokeparam.export import rasterize_svg, save_svg
from strokeparam.judge import JUDGE, class_name, ranks
from strokeparam.objectives import class_index

ROOT = Path(__file__).resolve().parents[1]


def default_paintings() -> list[Path]:
    gallery = ROOT / "docs" / "gallery" / "gallery.json"
    items = json.loads(gallery.read_text())["items"] if gallery.is_file() else []
    found = [gallery.parent / i["strokes_json"] for i in items if i.get("kind") == "class" and i.get("strokes_json")]
    panda = ROOT / "out" / "giant_panda.json"
    return found + ([panda] if panda.is_file() else [])


def class_of(path: Path) -> int:
    gallery = path.parent / "gallery.json"
    if gallery.is_file():
        for item in json.loads(gallery.read_text()).get("items", []):
            if item.get("strokes_json") == path.name and item.get("kind") == "class":
                return int(re.search(r"\((\d+)\)\s*$", item["subject"]).group(1))
    return class_index(path.stem.replace("_", " "))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("paintings", nargs="*", type=Path, help="stroke JSONs (default: the gallery's class paintings "
                   "and out/giant_panda.json)")
    p.add_argument("--out", type=Path, help="keep the rasterized SVGs (and the SVGs) here")
    args = p.parse_args(argv)
    paintings = args.paintings or default_paintings()
    if not paintings:
        p.error("no stroke JSONs given and none found in docs/gallery")
    judge = load_classifier(JUDGE)
    folder = args.out or Path(tempfile.mkdtemp(prefix="svg_fidelity_"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"SVG exports rasterized by headless Chromium vs the PNG (neural render), judged by {JUDGE} (held out)\n")
    print("| painting | class | mean abs diff | PNG: rank | PNG: p | SVG: rank | SVG: p |\n|---|---|---|---|---|---|---|")
    kept = both = 0
    for path in paintings:
        index = class_of(path)
        param = BrushstrokeParam(init=path)
        with torch.no_grad():
            png = param.image(mypaint=False)
        svg = save_svg(param, folder / f"{path.stem}.svg")
        raster = rasterize_svg(svg, folder / f"{path.stem}_svg.png", param.output_size)
        pixels = torch.from_numpy(np.asarray(Image.open(raster).convert("RGB"), dtype=np.float32) / 255)
        pixels = pixels.permute(2, 0, 1)[None]
        (rank_png, p_png), (rank_svg, p_svg) = ranks(judge, torch.cat([png, pixels]), index)
        diff = float((pixels - png).abs().mean())
        both += rank_png <= 5
        kept += rank_png <= 5 and rank_svg <= 5
        print(f"| {path.name} | {index} {class_name(index)} | {diff:.4f} | {rank_png} | {p_png:.3f} | "
              f"{rank_svg} | {p_svg:.3f} |")
    print(f"\nSVG in the top-5 where the PNG is: {kept} of {both}")
    return 0 if kept == both else 1


if __name__ == "__main__":
    sys.exit(main())
