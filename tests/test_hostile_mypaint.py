"""Hostile MyPaint inputs: malformed or extreme brush files, origins, tiles and sizes, and the bounds on
stroke files, painter cards and dataset sizes. None may crash, hang or exhaust memory: each is refused
with a one-line ValueError/KeyError naming the field and its allowed range before libmypaint is called.

The brush and paint-argument variants run in one child process under a memory limit (RLIMIT_AS: its
size after imports + 2 GiB) and a timeout, so a regression shows up as a signal or a timeout, not as a
dead test runner.
"""
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from strokeparam.mypaint import MyPaintRenderer, _lib, brushfile

pytestmark = pytest.mark.slow      # fuzz trials in memory- and time-limited child processes

DRY = "/usr/share/mypaint-data/1.0/brushes/classic/dry_brush.myb"
ROOT = Path(__file__).resolve().parents[1]
CHILD_TIMEOUT = 90
CHILD_MEMORY = 2 << 30


def _dry() -> dict:
    return json.loads(Path(DRY).read_text())


def _set(**values):
    def edit(d):
        for name, value in values.items():
            d["settings"].setdefault(name, {"base_value": 0.0, "inputs": {}})["base_value"] = value
    return edit


def _curve(setting, inp, points):
    def edit(d):
        d["settings"].setdefault(setting, {"base_value": 0.0, "inputs": {}})["inputs"][inp] = points
    return edit


def _both(*edits):
    def edit(d):
        for e in edits:
            e(d)
    return edit


def _replace(key_path, value):
    def edit(d):
        target = d
        for key in key_path[:-1]:
            target = target[key]
        target[key_path[-1]] = value
    return edit


def _drop(key_path):
    def edit(d):
        target = d
        for key in key_path[:-1]:
            target = target[key]
        del target[key_path[-1]]
    return edit


# (category, name, edit of dry_brush's JSON dict or raw bytes, size, what the message must name)
# edit None: the file as is; bytes: the file's bytes. Every variant must be refused except those in ACCEPTED.
BRUSH_VARIANTS = [
    ("structure", "settings is a list", _replace(["settings"], [1, 2]), 64, "'settings'"),
    ("structure", "settings is a string", _replace(["settings"], "radius"), 64, "'settings'"),
    ("structure", "settings is a number", _replace(["settings"], 7), 64, "'settings'"),
    ("structure", "settings is null", _replace(["settings"], None), 64, "'settings'"),
    ("structure", "settings missing", _drop(["settings"]), 64, "'settings'"),
    ("structure", "inputs is a list", _replace(["settings", "opaque", "inputs"], [["pressure", [[0, 0], [1, 1]]]]), 64,
     "settings.opaque.inputs"),
    ("structure", "inputs is a string", _replace(["settings", "opaque", "inputs"], "pressure"), 64, "inputs"),
    ("structure", "setting is a list", _replace(["settings", "opaque"], [1.0, {}]), 64, "settings.opaque"),
    ("structure", "setting is a number", _replace(["settings", "hardness"], 0.5), 64, "settings.hardness"),
    ("structure", "base_value missing", _drop(["settings", "opaque", "base_value"]), 64, "'base_value'"),
    ("structure", "inputs missing", _drop(["settings", "opaque", "inputs"]), 64, "'inputs'"),
    ("structure", "extra field in a setting", _replace(["settings", "opaque", "curve"], 1), 64, "'curve'"),
    ("structure", "unknown setting", _replace(["settings", "explode"], {"base_value": 1, "inputs": {}}), 64,
     "unknown setting 'explode'"),
    ("structure", "unknown input", _curve("opaque", "tilt_sideways", [[0, 0], [1, 1]]), 64,
     "unknown input 'tilt_sideways'"),
    ("structure", "libmypaint 2 input with a 1-point curve", _curve("opaque", "surfacemap_x", [[0, 0]]), 64,
     "surfacemap_x must be a list of 2 to 64"),
    ("structure", "root is a list", lambda d: [d], 64, "JSON object"),
    ("structure", "root is a number", lambda d: 3, 64, "JSON object"),
    ("structure", "version missing", _drop(["version"]), 64, "'version'"),
    ("structure", "version 2", _replace(["version"], 2), 64, "'version'"),
    ("structure", "version as a string", _replace(["version"], "3"), 64, "'version'"),
    ("structure", "not JSON", b"{\"version\": 3, \"settings\": {", 64, "not JSON"),
    ("structure", "not UTF-8", b"\xff\xfe{}", 64, "UTF-8"),
    ("structure", "empty file", b"", 64, "not JSON"),
    ("structure", "nested 100000 deep", b"[" * 100000 + b"]" * 100000, 64, "nests"),
    ("structure", "2 MB file", b" " * (2 << 20) + b"{}", 64, "bytes"),
    ("structure", "base_value is a string", _replace(["settings", "opaque", "base_value"], "1"), 64,
     "settings.opaque.base_value"),
    ("structure", "base_value is true", _replace(["settings", "opaque", "base_value"], True), 64, "base_value"),
    ("curve", "1 point", _curve("opaque", "pressure", [[0, 0]]), 64, "2 to 64"),
    ("curve", "0 points", _curve("opaque", "pressure", []), 64, "2 to 64"),
    ("curve", "65 points", _curve("opaque", "pressure", [[i / 64, 0.5] for i in range(65)]), 64, "2 to 64"),
    ("curve", "1000 points", _curve("opaque", "pressure", [[i / 999, 0.5] for i in range(1000)]), 64, "2 to 64"),
    ("curve", "decreasing x", _curve("opaque", "pressure", [[0, 0], [1, 1], [0.5, 0.5]]), 64, "must not decrease"),
    ("curve", "point is a number", _curve("opaque", "pressure", [0, 1]), 64, "[x, y]"),
    ("curve", "point of 3 numbers", _curve("opaque", "pressure", [[0, 0, 0], [1, 1, 1]]), 64, "[x, y]"),
    ("curve", "point is an object", _curve("opaque", "pressure", [{"x": 0}, {"x": 1}]), 64, "[x, y]"),
    ("curve", "x is a string", _curve("opaque", "pressure", [["0", 0], [1, 1]]), 64, "x"),
    ("curve", "x far outside pressure's range", _curve("opaque", "pressure", [[0, 0], [1e9, 1]]), 64, "[0, 1000]"),
    ("curve", "y far beyond the setting's span", _curve("opaque", "pressure", [[0, 0], [1, 1e9]]), 64, "[-2, 2]"),
    ("curve", "NaN in a point", b'{"version": 3, "settings": {"opaque": {"base_value": 1, "inputs": '
     b'{"pressure": [[0, NaN], [1, 1]]}}}}', 64, "NaN"),
    ("curve", "steep end segment extrapolates to 2.5e10",
     _curve("offset_by_random", "pressure", [[0, 0], [1e-9, 25]]), 64, "extrapolate"),
    ("curve", "radius_by_random reaching 4.5 with curves",
     _both(_set(radius_by_random=1.5), _curve("radius_by_random", "random", [[0, 1.5], [1, 1.5]]),
           _curve("radius_by_random", "stroke", [[0, 1.5], [1, 1.5]])), 64, "radius_by_random"),
    ("huge", "dabs_per_second 1e9", _set(dabs_per_second=1e9), 64, "[0, 100]"),
    ("huge", "dabs_per_actual_radius 1e9", _set(dabs_per_actual_radius=1e9), 64, "[0, 50]"),
    ("huge", "dabs_per_basic_radius 1e9", _set(dabs_per_basic_radius=1e9), 64, "[0, 50]"),
    ("huge", "dabs_per_actual_radius 51 (limit 50)", _set(dabs_per_actual_radius=51), 64, "[0, 50]"),
    ("huge", "offset_by_random 1e6", _set(offset_by_random=1e6), 64, "[0, 25]"),
    ("huge", "offset_by_speed 1e9", _set(offset_by_speed=1e9), 64, "[-3, 3]"),
    ("huge", "offset_by_speed -1e9", _set(offset_by_speed=-1e9), 64, "[-3, 3]"),
    ("huge", "radius_by_random 1e9", _set(radius_by_random=1e9), 64, "[0, 1.5]"),
    ("huge", "tracking_noise 1e9", _set(tracking_noise=1e9), 64, "[0, 12]"),
    ("huge", "elliptical_dab_ratio 1e9", _set(elliptical_dab_ratio=1e9), 64, "[1, 10]"),
    ("huge", "snap_to_pixel 1e6", _set(snap_to_pixel=1e6), 64, "[0, 1]"),
    ("huge", "pressure_gain_log 1e9", _set(pressure_gain_log=1e9), 64, "[-1.8, 1.8]"),
    ("huge", "offset_x 4e8", _set(offset_x=4e8), 64, "[-40, 40]"),
    ("huge", "radius_logarithmic 1e308", _set(radius_logarithmic=1e308), 64, "[-2, 6]"),
    ("huge", "base_value 1e400 (overflows to inf)", b'{"version": 3, "settings": {"opaque": {"base_value": 1e400, '
     b'"inputs": {}}}}', 64, "opaque"),
    ("huge", "base_value Infinity", b'{"version": 3, "settings": {"opaque": {"base_value": Infinity, '
     b'"inputs": {}}}}', 64, "Infinity"),
    ("canvas", "dabs_per_second 100 with radius curves +8 (1000 px dabs)",
     _both(_set(dabs_per_second=100), _curve("radius_logarithmic", "pressure", [[0, 8], [1, 8]])), 64, "s per stroke"),
    ("canvas", "dabs_per_second 100 with radius curves +8 on 1024 px",
     _both(_set(dabs_per_second=100), _curve("radius_logarithmic", "pressure", [[0, 8], [1, 8]])), 1024,
     "s per stroke"),
    ("canvas", "dabs_per_basic_radius 50 with radius curves +8",
     _both(_set(dabs_per_basic_radius=50), _curve("radius_logarithmic", "pressure", [[0, 8], [1, 8]])), 1024,
     "dab operations per stroke"),
    ("canvas", "50 dabs per radius, elliptical ratio 37, 0.2 px dabs (3.6e7 dabs)",
     _both(_set(dabs_per_actual_radius=50, elliptical_dab_ratio=10),
           *(_curve("elliptical_dab_ratio", inp, [[0, 9], [1, 9]]) for inp in ("random", "stroke", "pressure")),
           _curve("radius_logarithmic", "pressure", [[0, -8], [1, -8]])), 1024, "dab operations per stroke"),
    ("canvas", "offsets 40, 40 x e^3 on a 1024 px canvas", _set(offset_x=40, offset_y=40, offset_multiplier=3), 1024,
     "32768 px"),
]

# Extreme but allowed brushes (and the shipped dry brush): they must paint, quickly, within the memory limit.
ACCEPTED = [
    ("accepted", "dry_brush as shipped", None, 64, ""),
    ("accepted", "every dab rate at its limit", _set(dabs_per_actual_radius=50, dabs_per_basic_radius=50,
                                                     dabs_per_second=100, radius_by_random=1.5,
                                                     elliptical_dab_ratio=10), 64, ""),
    ("accepted", "offsets at libmypaint's maxima", _set(offset_x=40, offset_y=40, offset_multiplier=3,
                                                       offset_by_random=25, offset_by_speed=3), 64, ""),
    ("accepted", "tracking, snapping and gain at their maxima", _set(tracking_noise=12, slow_tracking=10,
                                                                     snap_to_pixel=1, pressure_gain_log=1.8), 64, ""),
    ("accepted", "libmypaint 2 input surfacemap_x (dropped)", _curve("opaque", "surfacemap_x", [[0, 0], [256, 1]]),
     64, ""),
    ("accepted", "64-point curve with repeated x (a step)",
     _curve("opaque", "pressure", [[min(i, 62) / 62, (i % 2) * 1.0] for i in range(64)]), 64, ""),
]

# (category, name, paint keywords, what the message must name): painted with dry_brush on a 64 px renderer
PAINT_VARIANTS = [
    ("paint args", "origins 1e6", dict(size=256, tile=64, origins=[[1e6, 0]]), "origins"),
    ("paint args", "origins 1e12", dict(size=256, tile=64, origins=[[0, 1e12]]), "origins"),
    ("paint args", "origins -1e6", dict(size=256, tile=64, origins=[[-1e6, -1e6]]), "origins"),
    ("paint args", "origins NaN", dict(size=256, tile=64, origins=[[float("nan"), 0]]), "origins"),
    ("paint args", "origins of another shape", dict(size=256, tile=64, origins=[[0, 0, 0]]), "origins"),
    ("paint args", "tile 2**20", dict(size=256, tile=2 ** 20, origins=[[0, 0]]), "tile"),
    ("paint args", "tile 65536", dict(size=256, tile=65536, origins=[[0, 0]]), "tile"),
    ("paint args", "tile larger than the canvas", dict(size=(64, 512), tile=1024, origins=[[0, 0]]), "tile"),
    ("paint args", "tile 4", dict(size=256, tile=4, origins=[[0, 0]]), "tile"),
    ("paint args", "size 100000", dict(size=100000), "size"),
    ("paint args", "size (8, 2**31)", dict(size=(8, 2 ** 31)), "size"),
]

CHILD = r"""
import json, resource, sys, time, traceback
import numpy as np
from strokeparam.mypaint import MyPaintRenderer

def vm():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize"):
            return int(line.split()[1]) * 1024
limit = vm() + int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
jobs = json.load(open(sys.argv[1]))
acts = np.array([[1, 1, s, 0.2, 0.4, 0.6, 0.02, 0.02, 0.5, 0.5, 0.98, 0.98] for s in (0.0, 0.5, 1.0)], np.float32)
for job in jobs:
    print(json.dumps({"start": job["name"]}), flush=True)
    t = time.time()
    try:
        renderer = MyPaintRenderer(job["brush"], job["size"])
        kwargs = job.get("paint") or {"size": job["size"]}
        if "origins" in kwargs:
            kwargs = dict(kwargs, origins=np.array(kwargs["origins"], dtype=np.float64))
            acts_here = acts[:len(kwargs["origins"])]
        else:
            acts_here = acts
        kwargs["size"] = tuple(kwargs["size"]) if isinstance(kwargs["size"], list) else kwargs["size"]
        renderer.paint(acts_here, seed=0, **kwargs)
        out = {"painted": True}
    except (ValueError, KeyError, FileNotFoundError) as exc:
        out = {"painted": False, "type": type(exc).__name__, "message": str(exc)}
    except BaseException as exc:
        out = {"painted": False, "type": type(exc).__name__, "message": traceback.format_exc()}
    out.update(name=job["name"], seconds=round(time.time() - t, 3))
    print(json.dumps(out), flush=True)
"""


def _write_variant(path: Path, edit) -> None:
    if isinstance(edit, bytes):
        path.write_bytes(edit)
        return
    doc = _dry()
    if edit is not None:
        result = edit(doc)                  # edits change the dict in place or return a new document
        doc = doc if result is None else result
    path.write_text(json.dumps(doc, allow_nan=True))


def _run_child(jobs, tmp_path):
    job_file = tmp_path / "jobs.json"
    job_file.write_text(json.dumps(jobs))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", CHILD, str(job_file), str(CHILD_MEMORY)], capture_output=True,
                          text=True, timeout=CHILD_TIMEOUT, env=env, cwd=str(tmp_path))
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    started = [line["start"] for line in lines if "start" in line]
    assert proc.returncode == 0, (f"child died with {proc.returncode} (signal if < 0) during "
                                  f"{started[-1] if started else None!r}: {proc.stderr[-2000:]}")
    return {line["name"]: line for line in lines if "name" in line}


@pytest.fixture(scope="module")
def hostile_results(tmp_path_factory):
    """Every brush and paint variant, run once in a memory-limited child process."""
    if not Path(DRY).is_file():
        pytest.skip("mypaint-brushes is not installed")
    tmp = tmp_path_factory.mktemp("hostile")
    jobs = []
    for k, (_, name, edit, size, _) in enumerate(BRUSH_VARIANTS + ACCEPTED):
        path = tmp / f"variant_{k}.myb"
        _write_variant(path, edit)
        jobs.append({"name": name, "brush": str(path), "size": size})
    for _, name, kwargs, _ in PAINT_VARIANTS:
        jobs.append({"name": name, "brush": "classic/dry_brush", "size": 64, "paint": kwargs})
    return _run_child(jobs, tmp)


def test_the_fuzz_list_is_large_and_deterministic():
    names = [v[1] for v in BRUSH_VARIANTS + ACCEPTED] + [v[1] for v in PAINT_VARIANTS]
    assert len(names) == len(set(names))
    assert len(BRUSH_VARIANTS) + len(PAINT_VARIANTS) >= 40


@pytest.mark.parametrize("category,name,edit,size,needle", BRUSH_VARIANTS, ids=[v[1] for v in BRUSH_VARIANTS])
def test_hostile_brush_is_refused_in_one_line(hostile_results, category, name, edit, size, needle):
    result = hostile_results[name]
    assert not result["painted"], f"{name} was painted"
    assert result["type"] in ("ValueError", "KeyError"), result["message"]
    message = result["message"]
    assert "\n" not in message and len(message) < 1200, message
    assert needle in message, message
    assert result["seconds"] < 5


@pytest.mark.parametrize("category,name,edit,size,needle", ACCEPTED, ids=[v[1] for v in ACCEPTED])
def test_extreme_but_allowed_brush_paints(hostile_results, category, name, edit, size, needle):
    result = hostile_results[name]
    assert result["painted"], result.get("message")
    assert result["seconds"] < 20


@pytest.mark.parametrize("category,name,kwargs,needle", PAINT_VARIANTS, ids=[v[1] for v in PAINT_VARIANTS])
def test_hostile_paint_arguments_are_refused(hostile_results, category, name, kwargs, needle):
    result = hostile_results[name]
    assert not result["painted"] and result["type"] == "ValueError", result
    assert "\n" not in result["message"] and needle in result["message"], result["message"]


def hostile_table() -> dict:
    """{category: number of hostile trials} (the README's table)."""
    table = {}
    for category, *_ in BRUSH_VARIANTS + ACCEPTED + PAINT_VARIANTS:
        table[category] = table.get(category, 0) + 1
    return table


# -- in-process checks (refused before any libmypaint call) ----------------------------------------------

@pytest.fixture(scope="module")
def renderer():
    return MyPaintRenderer()


def test_origins_must_keep_tiles_on_the_canvas(renderer):
    act = np.array([[1, 1, 0.5, 0, 0, 0, 0.1, 0.5, 0.5, 0.5, 0.9, 0.5]], np.float32)
    message = r"origins must keep each 64 px tile on the 128x256 canvas: top in \[-64, 128\]"
    with pytest.raises(ValueError, match=message):
        renderer.paint(act, size=(128, 256), tile=64, origins=[[129, 0]])
    with pytest.raises(ValueError, match="left in"):
        renderer.paint(act, size=(128, 256), tile=64, origins=[[0, -65]])
    edge = renderer.paint(act, size=(128, 256), tile=64, origins=[[128, 256]])  # just off the canvas: blank
    assert edge.shape == (128, 256, 3) and np.allclose(edge, 1.0)
    inside = renderer.paint(act, size=(128, 256), tile=64, origins=[[32, 100]], seed=0)
    assert inside.min() < 0.9


@pytest.mark.parametrize("tile", [2 ** 20, 65536, 8193, 7, True, 64.0, "64"])
def test_tile_must_fit_the_canvas(renderer, tile):
    with pytest.raises(ValueError, match=r"tile must be an integer number of pixels in \[8, 256\]"):
        renderer.paint(np.full((1, 12), 0.5, np.float32), size=256, tile=tile, origins=[[0, 0]])


@pytest.mark.parametrize("size", [100000, 8193, (8, 2 ** 31), 7, (64,), "64"])
def test_canvas_size_is_bounded(renderer, size):
    with pytest.raises(ValueError, match=r"size must be .*\[8, 8192\]"):
        renderer.paint(np.full((1, 12), 0.5, np.float32), size=size)
    if isinstance(size, int):
        with pytest.raises(ValueError, match=r"size must be an integer number of pixels in \[8, 8192\]"):
            MyPaintRenderer(size=size)


def test_every_shipped_brush_passes():
    roots = [Path(d) for d in _lib.BRUSH_DIRS if Path(d).is_dir()]
    files = sorted(p for root in roots for p in root.rglob("*.myb"))
    if not files:
        pytest.skip("mypaint-brushes is not installed")
    for path in files:
        brushfile.check_brush(brushfile.read_brush_bytes(path), str(path))


def test_shipped_brushes_paint_at_common_sizes():
    for brush in _lib.list_brushes():
        for size in (64, 256):
            MyPaintRenderer(brush, size)
    if "tanda/acrylic-03-paint" in _lib.list_brushes():     # its worst case queues ~2 GB per 1024 px stroke
        with pytest.raises(ValueError, match="dab operations per stroke with 1024 px strokes"):
            MyPaintRenderer("tanda/acrylic-03-paint", 1024)


def test_canonical_json_is_what_libmypaint_reads():
    doc = _dry()
    doc["comment"] = "\0 anything"
    doc["settings"]["opaque"]["base_value"] = 1             # int in the file, float in the canonical JSON
    canonical = json.loads(brushfile.check_brush(json.dumps(doc).encode()))
    assert set(canonical) == {"version", "settings"}
    assert canonical["settings"]["opaque"]["base_value"] == 1.0
    assert all(set(s) == {"base_value", "inputs"} for s in canonical["settings"].values())


def test_curve_extrapolation_is_computed_like_libmypaint():
    points = [[0.0, 0.0], [0.5, 1.0], [0.5, 3.0], [1.0, 2.0]]
    f = brushfile._curve_value
    assert f(points, -1.0) == -2.0              # first segment extrapolated
    assert f(points, 0.25) == 0.5
    assert f(points, 0.75) == 2.5
    assert f(points, 3.0) == -2.0               # last segment extrapolated
    assert brushfile._curve_range(points, 0.0, 1.0) == (0.0, 3.0)
    assert brushfile._curve_range(points, -1.0, 3.0) == (-2.0, 3.0)


def test_missing_brush_file_is_file_not_found():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MyPaintRenderer("/nonexistent/brush.myb")
    with pytest.raises(KeyError, match="unknown brush"):
        MyPaintRenderer("classic/no_such_brush")


# -- bounds outside the renderer ------------------------------------------------------------------------

def test_stroke_json_size_is_bounded(tmp_path):
    from strokeparam import actions as A
    from strokeparam import export
    doc = {"format": export.STROKES_FORMAT, "version": export.STROKES_VERSION,
           "action_space_version": A.ACTION_SPACE_VERSION, "layout": {"rows": 1, "cols": 1, "tile": 64, "overlap": 0},
           "size": [25000, 25000], "background": [1, 1, 1], "paintings": [[[0.5] * 12]]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    assert path.stat().st_size < 1000
    with pytest.raises(ValueError, match=r"size must be \[height, width\] integers in \[1, 8192\]"):
        export.load_strokes(path)
    doc["size"], doc["layout"]["rows"] = [64, 64], 1000
    with pytest.raises(ValueError, match="at most 8192 px a side"):
        export.load_strokes(doc)
    doc["layout"]["rows"] = 10 ** 12
    with pytest.raises(ValueError, match=r"layout.rows must be an integer in \[0, 8192\]"):
        export.load_strokes(doc)


def test_cli_size_and_grid_are_bounded(capsys):
    from strokeparam.cli import main
    assert main(["paint", "388", "--size", "100000"]) == 2
    assert "integers in [1, 8192]" in capsys.readouterr().err
    assert main(["paint", "388", "--grid", "1000"]) == 2
    assert "integers in [1, 128]" in capsys.readouterr().err


def test_painter_card_dimensions_are_bounded(tmp_path):
    from strokeparam.painters import weights_io
    src = weights_io.WEIGHTS_DIR / "skeleton.safetensors"
    if not src.is_file():
        pytest.skip("no shipped skeleton weights")
    shutil.copy(src, tmp_path / "s.safetensors")
    card = json.loads(src.with_suffix(".json").read_text())
    for key, value, needle in (("dabs", 10 ** 8, r"dabs must be an integer in \[0, 1024\]"),
                               ("hidden", 10 ** 6, r"hidden must be an integer in \[0, 512\]"),
                               ("jitter", math.inf, "jitter must be finite")):
        bad = json.loads(json.dumps(card))
        bad["architecture"]["config"][key] = value
        (tmp_path / "s.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=needle):
            weights_io.load_weights(tmp_path / "s.safetensors")


def test_dataset_num_is_bounded(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_stroke_dataset", ROOT / "recipes" / "make_stroke_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exc:
        module.main(["--out", str(tmp_path / "ds"), "--num", str(10 ** 12)])
    assert exc.value.code == 2 and "--num must be in [1, 100000000]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.main(["--out", str(tmp_path / "ds"), "--num", "10", "--brush", str(tmp_path / "none.myb")])
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()
