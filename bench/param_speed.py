#!/usr/bin/env python
"""BrushstrokeParam's cost on the CPU: beside Lucent's image param, and as strokes and canvas grow.

    python bench/param_speed.py            # the README tables (a few minutes)
    python bench/param_speed.py --quick    # a fast look

1. Seconds per render_vis step with tf_efficientnet_lite0 and "labels:388": BrushstrokeParam(strokes=30,
   grid=1, size=224) against Lucent's ``param.image(224)`` and the same param with the real brush in the
   loop (``mypaint=True``: MyPaint renders every stroke of every step; in this thread or one worker), and
   the 224-px tiled canvas BrushstrokeParam(strokes=30, size=224), all through strokeparam.render_vis (same
   loop, transforms and model), interleaved; Lucent's own render_vis for reference. Targets: ratio <= 1.1
   for the one tile, <= 1.25 for the tiled canvas. Then where a step's time goes, part by part; "over"
   compositing alone through the compiled loop and through torch; the painting classifiers
   folded for 224-px inputs (batch norms in the convolutions, static padding) and as loaded.
2. Scaling: total strokes x canvas px, one step = forward + backward of the image and ``image.mean()``
   plus an Adam step (no classifier), each configuration in its own process so peak RSS does not mix;
   strokes per tile = ceil(total / tiles), the tiles as BrushstrokeParam(size=...) lays them out. Target: time
   linear in strokes.
3. The memory target: a 2048 x 2048 canvas at 30 strokes per tile (~35 k strokes: 34 x 34 tiles of 68 px,
   and the default 40-stroke underpainting spanning the canvas), one forward + backward < 8 GB peak RSS.

The painter is the default shipped one; without its weights a freshly initialised painter of the same
architecture times the same (speed does not depend on the weights), and the header says so.
"""
import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time

import torch

MEMORY_TARGET_GB = 8.0
RATIO_TARGET = 1.1          # one 64-px tile x 30 strokes against param.image(224)
TILED_RATIO_TARGET = 1.25   # the 224-px tiled canvas (16 tiles x 30 strokes and the underpainting)


def painter():
    """(painter, description): the default painter, or its untrained twin when no weights are shipped."""
    from strokeparam.painters import DEFAULT_PAINTER, create_painter
    try:
        return create_painter(), f"{DEFAULT_PAINTER} (shipped weights)"
    except FileNotFoundError:
        return (create_painter(DEFAULT_PAINTER, pretrained=False),
                f"{DEFAULT_PAINTER} (random weights: shipped weights not found; speed does not depend on them)")


def peak_rss_gb() -> float:
    """This process's peak RSS. Linux's VmHWM starts afresh at exec; ru_maxrss would carry over the
    parent's peak from the fork."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 2 ** 20
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20     # KiB on Linux


def timed(fn) -> tuple[float, float]:
    """(wall, CPU) seconds of ``fn()``; CPU time counts all threads of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


# -- 1. side by side -----------------------------------------------------------------------------------

def side_by_side(steps: int, repeats: int) -> str:
    from lucent.optvis import param as lucent_param
    from lucent.optvis import render as lucent_render

    from strokeparam import BrushstrokeParam, load_classifier, render_vis
    from strokeparam.compat import patch_lucent
    patch_lucent()
    model = load_classifier("efficientnet_lite0")
    paint, _ = painter()
    params = {
        "BrushstrokeParam(strokes=30, grid=1, size=224)":
            lambda: BrushstrokeParam(strokes=30, grid=1, size=224, painter=paint, seed=0),
        "lucent param.image(224)": lambda: (lambda: lucent_param.image(224)),
        "... mypaint=True (real brush forward)":
            lambda: BrushstrokeParam(strokes=30, grid=1, size=224, painter=paint, seed=0, mypaint=True),
        "... mypaint=True, workers=1":
            lambda: BrushstrokeParam(strokes=30, grid=1, size=224, painter=paint, seed=0, mypaint=True, workers=1),
        "BrushstrokeParam(strokes=30, size=224)": lambda: BrushstrokeParam(strokes=30, size=224, painter=paint, seed=0),
    }

    stamps = []
    model.register_forward_pre_hook(lambda *_: stamps.append((time.perf_counter(), time.process_time())))

    def per_step(loop, make) -> list[tuple[float, float]]:
        """(wall, CPU) seconds between successive model calls: whole steps, without the loop's set-up."""
        stamps.clear()
        loop(make)
        return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps, stamps[1:])]

    def ours(make):
        render_vis(model, "labels:388", param_f=make(), thresholds=(steps + 1,), progress=False, seed=0)

    def theirs(make):
        lucent_render.render_vis(model, "labels:388", param_f=make(), thresholds=(steps + 1,), preprocess=False,
                                 progress=False, show_image=False)

    runs = {name: [] for name in params}
    for _ in range(repeats):                          # interleaved, so load from other processes hits both
        for name, make in params.items():
            runs[name] += per_step(ours, make)
    wall = {name: statistics.median(w for w, _ in rs) for name, rs in runs.items()}
    cpu = {name: statistics.median(c for _, c in rs) for name, rs in runs.items()}
    lucent_own = {name: statistics.median(w for w, _ in per_step(theirs, make)) for name, make in params.items()}
    lines = ["| param | s/step, strokeparam.render_vis | CPU s/step | s/step, Lucent's render_vis |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {wall[name]:.3f} | {cpu[name]:.3f} | {lucent_own[name]:.3f} |" for name in params]
    (brush, image, *_), (brush_cpu, image_cpu, *_) = wall.values(), cpu.values()
    verdict = "meets" if brush / image <= RATIO_TARGET else "misses"
    lines.append(f"\nratio BrushstrokeParam / Lucent image = **{brush / image:.2f}** wall, "
                 f"{brush_cpu / image_cpu:.2f} CPU time ({verdict} the target <= {RATIO_TARGET}; median of "
                 f"{repeats} x {steps} steps; 30 strokes on one 64-px tile, shown at 224 px)")
    real = [name for name in params if "mypaint" in name]
    lines += [f"- {name}: {wall[name] / brush:.2f} x the neural-only step" for name in real]
    tiled = wall["BrushstrokeParam(strokes=30, size=224)"] / image
    lines.append(f"- BrushstrokeParam(strokes=30, size=224), 16 tiles x 30 strokes and the underpainting: "
                 f"**{tiled:.2f}** x Lucent's image ({'meets' if tiled <= TILED_RATIO_TARGET else 'misses'} the "
                 f"target <= {TILED_RATIO_TARGET})")
    return "\n".join(lines)


# -- 1b. where a step's time goes ------------------------------------------------------------------------

def breakdown(steps: int) -> str:
    """Each part of a render_vis step timed alone, forward + backward, on the shapes that a step gives it:
    the painter (every stroke of every layer, in boxes around the strokes where the painter paints so),
    compositing and stitching (the image minus the painter),
    the param's resize, the augmentation (Lucid's standard stack), the resize to 224 and the classifier;
    next to the whole step measured through strokeparam.render_vis."""
    import torch.nn.functional as F

    from strokeparam import BrushstrokeParam, load_classifier, render_vis
    from strokeparam.transforms import standard
    model = load_classifier("efficientnet_lite0")
    paint, _ = painter()
    configs = {"1 tile x 30 strokes, shown at 224 px": dict(strokes=30, grid=1, size=224),
               "224-px canvas (default layout and underpainting)": dict(strokes=30, size=224)}

    def best(fn) -> float:
        fn()
        return min(timed(fn)[0] for _ in range(steps))

    def backward_of(fn, source: torch.Tensor):
        def run():
            x = source.detach().requires_grad_()
            fn(x).square().mean().backward()
        return run

    lines = ["| canvas | strokes | painter | compositing + stitching | param resize | augmentation | resize to 224 "
             "| classifier | sum of parts | render_vis step |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, kwargs in configs.items():
        param = BrushstrokeParam(painter=paint, seed=0, **kwargs)
        acts = param.actions().detach()
        blocks, start = [], 0
        for layout, n in param.levels:
            block = acts[:, start:start + layout.tiles * n].reshape(-1, 12)
            blocks.append((param._painter_at(layout.tile, layout.margin), block))
            start += layout.tiles * n
        def painted(p, b):
            """The strokes' alpha as the param paints it: in boxes where the painter can, else whole squares."""
            boxes = p.paint_boxes(b)
            return boxes.alpha if boxes is not None else p(b)
        painter_s = best(lambda: sum(painted(p, b.detach().requires_grad_()).sum() for p, b in blocks).backward())
        raw = param.raw

        def image_once():
            raw.grad = None
            param.image().mean().backward()
        image_s = best(image_once)
        canvas = param.image(mypaint=False).detach()
        unresized = torch.rand(1, 3, param.layout.height, param.layout.width)
        resize_s = best(backward_of(param.resize, unresized)) if param.size else 0.0
        augment = standard(seed=0)
        augment_s = best(backward_of(augment, canvas))
        augmented = augment(canvas).detach()
        to_224_s = best(backward_of(lambda x: F.interpolate(x, size=224, mode="bilinear", align_corners=True),
                                    augmented))
        classifier_s = best(backward_of(lambda x: model(x)[:, 388], torch.rand(1, 3, 224, 224)))
        stamps = []
        hook = model.register_forward_pre_hook(lambda *_: stamps.append(time.perf_counter()))
        render_vis(model, "labels:388", param_f=BrushstrokeParam(painter=paint, seed=0, **kwargs),
                   thresholds=(steps + 2,), progress=False, seed=0)
        hook.remove()
        step_s = min(b - a for a, b in zip(stamps, stamps[1:]))
        parts = [painter_s, image_s - painter_s - resize_s, resize_s, augment_s, to_224_s, classifier_s]
        lines.append(f"| {name} | {acts.shape[1]} | " + " | ".join(f"{1000 * t:.0f} ms" for t in parts)
                     + f" | {1000 * sum(parts):.0f} ms | {1000 * step_s:.0f} ms |")
    return "\n".join(lines)


def compositing(steps: int) -> str:
    """"Over" compositing alone, forward + backward, through the compiled loop (strokeparam/_over.c) and
    through torch, on the layers of ``make demo``'s step (3 copies: the 224-px underpainting, 2 x 2 tiles)
    and of the tiled 224-px canvas (16 tiles of 64 px)."""
    from strokeparam import canvas
    shapes = {"make demo: 3 copies x 40 strokes, one 224-px tile": (3, 1, 40, 224),
              "make demo: 3 copies x 2 x 2 tiles of 128 px x 30 strokes": (3, 4, 30, 128),
              "224-px canvas: 16 tiles of 64 px x 30 strokes": (1, 16, 30, 64)}
    compiled = canvas.compiled
    if compiled() is None:
        return "(strokeparam/_over.so is not built: run make setup with a C compiler)"
    lines = ["| layers | compiled | torch | speed-up |", "|---|---:|---:|---:|"]
    for name, (batch, tiles, n, size) in shapes.items():
        alpha = (torch.rand(batch, tiles, n, 1, size, size) ** 2).requires_grad_()
        color = torch.rand(batch, tiles, n, 3).requires_grad_()

        def run():
            rgb, cover = canvas.over(alpha, color)
            (rgb.sum() + cover.sum()).backward()
        times = []
        for path in (compiled, lambda: None):
            canvas.compiled = path
            run()
            times.append(min(timed(run)[0] for _ in range(steps)))
        canvas.compiled = compiled
        lines.append(f"| {name} | {1000 * times[0]:.1f} ms | {1000 * times[1]:.1f} ms | {times[1] / times[0]:.1f}x |")
    return "\n".join(lines)


def folding(steps: int) -> str:
    """The painting classifiers' forward + backward (to the image) at ``make demo``'s batch of 4 at 224 px,
    as loaded and folded for 224-px inputs (batch norms in the convolutions, static padding: what paint_class
    runs)."""
    from strokeparam.models import fold_for_size, load_classifier
    lines = ["| classifier, batch 4 at 224 px | as loaded | folded for 224 px | speed-up |", "|---|---:|---:|---:|"]
    for name in ("efficientnet_lite0", "efficientnet_lite1"):
        model = load_classifier(name)
        image = torch.rand(4, 3, 224, 224).contiguous(memory_format=torch.channels_last)
        times = []
        for net in (model.net, fold_for_size(model.net)):
            def run():
                x = image.clone().requires_grad_()
                net(x)[:, 388].sum().backward()
            run()
            times.append(min(timed(run)[0] for _ in range(steps)))
        lines.append(f"| {name} | {1000 * times[0]:.0f} ms | {1000 * times[1]:.0f} ms | {times[0] / times[1]:.2f}x |")
    return "\n".join(lines)


# -- 2./3. one configuration per process ---------------------------------------------------------------

def child(total: int, canvas: int, steps: int, underpainting=0) -> dict:
    """Time ``steps`` steps after a first one of a ``canvas``-px BrushstrokeParam holding >= ``total``
    strokes in its tiles (and ``underpainting``); report the best seconds per step and the peak RSS."""
    from strokeparam import BrushstrokeParam
    paint, _ = painter()
    tiles = tiles_for(canvas)
    per_tile = math.ceil(total / tiles)
    param = BrushstrokeParam(strokes=per_tile, size=canvas, painter=paint, seed=0, underpainting=underpainting)
    opt = torch.optim.Adam(param.parameters(), lr=0.05)
    base = peak_rss_gb()

    def step():
        opt.zero_grad(set_to_none=True)
        param.image().mean().backward()
        opt.step()
    first, *times = [timed(step) for _ in range(steps + 1)]
    return dict(total=total, canvas=canvas, tiles=tiles, strokes=param.actions().shape[1], first=first[0],
                seconds=min((w for w, _ in times), default=math.nan), cpu=min((c for _, c in times), default=math.nan),
                base_gb=base, peak_gb=peak_rss_gb())


def measure(total: int, canvas: int, steps: int, underpainting=0) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps([total, canvas, steps, underpainting])],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"configuration {total} strokes / {canvas} px failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def scaling(totals, canvases, steps: int) -> str:
    rows = {(t, c): measure(t, c, steps) for c in canvases for t in totals}
    lines = ["| canvas px | tiles | strokes asked | strokes painted | s/step | CPU s/step | ms/stroke "
             "| peak RSS GB (before first step) |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (t, c), r in rows.items():
        lines.append(f"| {c} | {r['tiles']} | {t:,} | {r['strokes']:,} | {r['seconds']:.3f} | {r['cpu']:.3f} | "
                     f"{1000 * r['seconds'] / r['strokes']:.2f} | {r['peak_gb']:.2f} ({r['base_gb']:.2f}) |")
    lines.append("\nlinearity: growth of s/step between successive stroke counts (growth of painted strokes):")
    for c in canvases:
        col = [rows[t, c] for t in totals]
        parts = [f"x{b['seconds'] / a['seconds']:.1f} (x{b['strokes'] / a['strokes']:.1f})"
                 for a, b in zip(col, col[1:])]
        lines.append(f"- {c} px: " + ", ".join(parts))
    return "\n".join(lines)


def tiles_for(canvas: int) -> int:
    """The tiles of the default painter's BrushstrokeParam(size=canvas)."""
    from strokeparam import BrushstrokeParam
    return BrushstrokeParam(strokes=1, size=canvas, painter=painter()[0], underpainting=0).layout.tiles


def memory_target() -> str:
    r = measure(30 * tiles_for(2048), 2048, 0, "auto")
    verdict = "meets" if r["peak_gb"] < MEMORY_TARGET_GB else "misses"
    return (f"2048 x 2048 canvas, {r['strokes']:,} strokes ({r['tiles']} tiles of 30 and a 40-stroke underpainting), "
            "one forward + backward: "
            f"peak RSS **{r['peak_gb']:.2f} GB** ({verdict} the target < {MEMORY_TARGET_GB:g} GB; "
            f"{r['base_gb']:.2f} GB before the first step), {r['first']:.2f} s for the first step")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps, strokes 30/300 on 64/256 px only")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(*json.loads(args.child))))
        return
    totals, canvases = ((30, 300), (64, 256)) if args.quick else ((30, 300, 3000), (64, 256, 512, 1024))
    steps, repeats = (2, 1) if args.quick else (8, 3)
    _, described = painter()
    print(f"# BrushstrokeParam speed (CPU, {torch.get_num_threads()} threads, torch {torch.__version__})\n")
    print(f"painter: {described}\n")
    print("## render_vis step: BrushstrokeParam vs Lucent's image param (tf_efficientnet_lite0, labels:388)\n")
    print(side_by_side(steps, repeats), flush=True)
    print("\n## Where a step's time goes (each part alone, forward + backward, best of "
          f"{3 if args.quick else 5})\n")
    print(breakdown(3 if args.quick else 5), flush=True)
    print("\n## \"Over\" compositing alone, forward + backward, compiled and torch (best of 5)\n")
    print(compositing(5), flush=True)
    print("\n## Classifiers folded for 224 px (paint_class: batch norms in the convolutions, static padding), "
          "forward + backward (best of 5)\n")
    print(folding(5), flush=True)
    print("\n## Scaling: forward + backward of image.mean() + Adam step, one process per row\n")
    print(scaling(totals, canvases, 1 if args.quick else 2), flush=True)
    print("\n## Memory target\n")
    print(memory_target())


if __name__ == "__main__":
    main()
