"""Hostile inputs and concurrent writers: one clear line instead of a traceback, never silent wrong output.

Two writers on one stroke dataset or run folder: the second gets an error naming the folder and the holder's
pid; a lock left by a killed process is taken over. Shard folders of any size fit a small open-file limit.
Bad images, JSON, metadata, recipe overrides, objectives, actions, learning rates, weights and gallery
manifests fail with a ValueError (or an exit with one line).
"""
import json
import os
import runpy
import signal
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from strokeparam import BrushstrokeParam, render_vis
from strokeparam import actions as A
from strokeparam.cli import main as cli
from strokeparam.data import SHARD_FORMAT, StrokeShards, shard_paths, shard_seed
from strokeparam.files import atomic_save_npy
from strokeparam.gallery import MANIFEST, load_manifest
from strokeparam.locks import LOCK_NAME, FolderLock, FolderLockedError, lock_holder
from strokeparam.paint import paint_class

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATASET = ROOT / "recipes" / "make_stroke_dataset.py"
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def recipe(name):
    """A recipe's globals, without running its ``__main__`` block."""
    return runpy.run_path(str(ROOT / "recipes" / f"{name}.py"))


def one_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


def hold_lock(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until killed."""
    code = (f"import time; from strokeparam.locks import FolderLock; lock = FolderLock({str(folder)!r}).acquire(); "
            "print('locked', flush=True); time.sleep(600)")
    proc = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def expected_actions(seed: int, index: int, count: int) -> np.ndarray:
    action_seed, _ = shard_seed(seed, index).spawn(2)
    return A.random_actions(count, generator=np.random.default_rng(action_seed))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("strokes")
    code = recipe("make_stroke_dataset")["main"](["--out", str(out), "--num", "48", "--shard-size", "24",
                                                  "--no-progress"])
    assert code == 0
    return out


# -- 3: one writer per folder ---------------------------------------------------------------------------
def test_folder_lock_names_the_holder_and_is_freed_by_death(tmp_path):
    folder = tmp_path / "f"
    holder = hold_lock(folder)
    try:
        assert lock_holder(folder) == holder.pid
        with pytest.raises(FolderLockedError, match=rf"{folder}.*pid {holder.pid}"):
            FolderLock(folder).acquire()
    finally:
        kill(holder)
    assert lock_holder(folder) is None
    with FolderLock(folder) as lock:                  # the dead holder's lock is taken over
        assert lock.held and lock_holder(folder) == os.getpid()
        if os.fork() == 0:                            # a forked child does not keep the folder locked
            os._exit(0 if lock._fd is None else 1)
        assert os.wait()[1] == 0
    assert lock_holder(folder) is None
    (tmp_path / "file").write_text("")
    with pytest.raises(FileExistsError, match="not a folder"):
        FolderLock(tmp_path / "file").acquire()


def test_second_dataset_writer_fails_clearly_and_a_killed_writers_lock_is_taken_over(tmp_path):
    out = tmp_path / "strokes"
    args = ["--out", str(out), "--num", "40", "--shard-size", "20", "--seed", "3", "--no-progress"]
    holder = hold_lock(out)
    try:
        res = subprocess.run([PY, str(DATASET), *args], capture_output=True, text=True, env=ENV, timeout=120)
    finally:
        kill(holder)
    assert res.returncode == 1
    line = one_line(res.stderr)
    assert str(out) in line and f"pid {holder.pid}" in line
    assert sorted(p.name for p in out.iterdir()) == [LOCK_NAME]        # nothing written
    assert recipe("make_stroke_dataset")["main"](args) == 0            # the stale lock is taken over
    assert len(StrokeShards(out)) == 40


def test_two_simultaneous_dataset_writers_leave_one_consistent_dataset(tmp_path):
    out = tmp_path / "strokes"
    procs = {seed: subprocess.Popen([PY, str(DATASET), "--out", str(out), "--num", "60", "--shard-size", "20",
                                     "--seed", str(seed), "--no-progress"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
             for seed in (1, 2)}
    results = {seed: (p.wait(timeout=180), p.stderr.read()) for seed, p in procs.items()}
    winners = [seed for seed, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    (loser_code, loser_err), = [r for seed, r in results.items() if seed not in winners]
    assert loser_code != 0
    assert "in use by another process" in loser_err or "different dataset" in loser_err, loser_err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["seed"] == winners[0]
    for k in range(3):                                 # the shards are the winner's strokes
        assert np.array_equal(np.load(shard_paths(out, k)[0]), expected_actions(winners[0], k, 20))
    assert len(StrokeShards(out)) == 60 and not list(out.glob(".*.tmp"))


def test_run_folder_lock_resume_and_stale_checkpoint_files(shards, tmp_path):
    g = recipe("train_skeleton_painter")

    def train(*extra):
        return g["main"](g["SkeletonTask"], g["PRESETS"], ["--preset", "smoke", "--data", str(shards), "--run-dir",
                                                           str(run), "--no-progress", *extra])
    run = tmp_path / "run"
    holder = hold_lock(run)
    try:
        with pytest.raises(SystemExit, match=rf"run folder {run} is in use.*pid {holder.pid}"):
            train("--steps", "2")
    finally:
        kill(holder)
    stale = run / ".checkpoint.pt.x1y2z3.tmp"         # a kill during a checkpoint write leaves this
    stale.write_bytes(b"partial")
    assert train("--steps", "2") == 0
    assert not stale.exists() and (run / "checkpoint.pt").is_file()
    assert train("--steps", "3", "--resume") == 0     # resuming after the first run exited
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    assert lock_holder(run) is None


# -- 5: lazily opened shards ----------------------------------------------------------------------------
def test_many_shards_fit_a_small_open_file_limit(tmp_path):
    root = tmp_path / "many"
    root.mkdir()
    num = 600
    for k in range(num):
        actions_path, alpha_path = shard_paths(root, k)
        atomic_save_npy(alpha_path, np.full((1, 64, 64), k % 256, np.uint8))
        atomic_save_npy(actions_path, np.full((1, 12), k / num, np.float32))
    meta = dict(format=SHARD_FORMAT, num=num, shard_size=1, num_shards=num, seed=0, brush="classic/dry_brush",
                size=64)
    (root / "meta.json").write_text(json.dumps(meta))
    script = textwrap.dedent(f"""
        import pickle, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        import torch
        from torch.utils.data import DataLoader
        from strokeparam.data import StrokeShards
        ds = StrokeShards({str(root)!r})
        for _ in range(2):
            for i in range(len(ds)):
                action, alpha = ds[i]
                assert abs(float(action[0]) - i / {num}) < 1e-6 and int(alpha[0, 0, 0] * 255 + 0.5) == i % 256
        copy = pickle.loads(pickle.dumps(ds))
        assert len(copy) == {num} and float(copy[599][0][0]) == float(ds[599][0][0])
        seen = sum(len(a) for a, _ in DataLoader(ds, batch_size=50, shuffle=True, num_workers=2))
        assert seen == {num}
        print("ok", len(ds._open))
    """)
    res = subprocess.run([PY, "-c", script], capture_output=True, text=True, env=ENV, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split() == ["ok", "16"]


# -- 6: one line, not a traceback -----------------------------------------------------------------------
def _png(path: Path, width: int, height: int) -> Path:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [10_000, 20_000])      # Pillow's DecompressionBombWarning, then its Error
def test_decompression_bomb_image_is_one_error_line(tmp_path, capsys, side):
    bomb = _png(tmp_path / "bomb.png", side, side)
    assert cli(["style", str(bomb), "--out", str(tmp_path / "o.png"), "--quiet"]) == 1
    assert "too large" in one_line(capsys.readouterr().err)


def test_deep_json_is_one_error_line(tmp_path, capsys):
    deep = "[" * 100_000 + "]" * 100_000
    strokes = tmp_path / "deep.json"
    strokes.write_text(deep)
    assert cli(["transfer", str(strokes), "--out", str(tmp_path / "o.png")]) == 1
    assert "strokeparam: error:" in one_line(capsys.readouterr().err)
    folder = tmp_path / "gallery"
    folder.mkdir()
    (folder / MANIFEST).write_text(deep)
    with pytest.raises(ValueError, match="nests too deeply"):
        load_manifest(folder)


@pytest.mark.parametrize("meta", ["{not json", "[]", '{"format": 1}', "\xff\xfe", "[" * 100_000])
def test_corrupt_meta_json_is_a_value_error(tmp_path, capsys, meta):
    root = tmp_path / "strokes"
    root.mkdir()
    (root / "meta.json").write_bytes(meta.encode("latin-1"))
    with pytest.raises(ValueError, match="meta"):
        StrokeShards(root)
    g = recipe("train_skeleton_painter")
    with pytest.raises(SystemExit) as exc:
        g["main"](g["SkeletonTask"], g["PRESETS"], ["--preset", "smoke", "--data", str(root), "--no-progress",
                                                    "--run-dir", str(tmp_path / "run")])
    assert "--data:" in one_line(str(exc.value))
    with pytest.raises(SystemExit) as exc:
        recipe("make_stroke_dataset")["main"](["--out", str(root), "--num", "10", "--no-progress"])
    assert exc.value.code == 2 and "meta" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("argv, says", [
    (["--set", 'lr="x"'], "lr must be a number"),
    (["--set", "lr=NaN"], "lr must be a finite number"),
    (["--set", "lr=-Infinity"], "lr must be a finite number"),
    (["--set", "steps=-1"], "steps must be an integer >= 1"),      # 7: ran nothing and exited 0
    (["--set", "steps=2.5"], "steps must be an integer"),
    (["--set", "warmup=-3"], "warmup must be an integer >= 0"),
    (["--set", 'arch={"dabs": 8, "bogus": 1}'], "unknown entries ['bogus']"),
    (["--set", "nothing=1"], "unknown preset entry"),
    (["--data", "/nonexistent/strokes"], "no meta.json"),
    (["--threads", "-1"], "--threads must be >= 1"),
    (["--max-minutes", "nan"], "--max-minutes must be a positive number"),
])
def test_bad_recipe_arguments_exit_with_one_line(tmp_path, argv, says):
    g = recipe("train_skeleton_painter")
    with pytest.raises(SystemExit) as exc:
        g["main"](g["SkeletonTask"], g["PRESETS"], ["--preset", "smoke", "--run-dir", str(tmp_path / "run"),
                                                    "--no-progress", *argv])
    assert says in one_line(str(exc.value))
    assert not (tmp_path / "run").exists()


def test_agent_recipe_checks_its_overrides_too(tmp_path):
    g = recipe("train_agent")
    for item, says in (("lr=NaN", "finite"), ("steps=-1", ">= 1"), ('policy={"hidden": "x"}', "policy.hidden")):
        with pytest.raises(SystemExit, match=says):
            g["main"](g["PRESETS"], ["--preset", "smoke", "--run-dir", str(tmp_path / "run"), "--set", item])


class TenClasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool, self.flat, self.fc = nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(3, 10)

    def forward(self, x):
        return self.fc(self.flat(self.pool(x)))


def _render(painter, objective, **kwargs):
    param = BrushstrokeParam(strokes=2, painter=painter, seed=0)
    return render_vis(TenClasses(), objective, param=param, thresholds=(2,), progress=False, transforms=[],
                      fixed_image_size=16, **kwargs)


def test_class_index_is_checked_against_the_model(painter):
    with pytest.raises(ValueError, match="must be >= 0"):           # 7: optimized class 999 before
        _render(painter, "labels:-1")
    for objective in ("labels:10", "labels:1000"):                  # IndexError at step 1 before
        with pytest.raises(ValueError, match=r"has 10 classes \(0\.\.9\)"):
            _render(painter, objective)
    _render(painter, "labels:9")


@pytest.mark.parametrize("objective", [lambda T: 1.0, lambda T: None, lambda T: -T("labels")[0],
                                       lambda T: torch.tensor(1.0)])
def test_objective_must_return_a_scalar_tensor(painter, objective):
    with pytest.raises(ValueError, match="scalar tensor|does not depend on the image"):
        _render(painter, objective)


def test_gallery_manifest_with_wrong_types(tmp_path):
    row = dict(kind="class", image="a.png", subject="goldfish (1)", painter="skeleton", constraint="color",
               strokes=3, steps=2, tiles="x")
    for doc in ({"items": [row]}, {"items": "x"}, {"items": [dict(row, tiles=2, probability="high")]}, [1]):
        (tmp_path / MANIFEST).write_text(json.dumps(doc))
        with pytest.raises(ValueError, match="not a strokeparam gallery manifest"):
            load_manifest(tmp_path)


# -- 7: no silent wrong output --------------------------------------------------------------------------
def test_non_finite_learning_rate_is_rejected(painter, capsys):
    assert cli(["paint", "goldfish", "--lr", "inf", "--quiet"]) == 2
    assert "finite" in one_line(capsys.readouterr().err)
    assert cli(["paint", "goldfish", "--lr-end", "-1", "--quiet"]) == 2
    assert "--lr-end" in one_line(capsys.readouterr().err)
    with pytest.raises(ValueError, match="lr_end must be a finite"):
        paint_class(1, lr_end=float("nan"), steps=1)
    with pytest.raises(ValueError, match="learning rate must be a finite"):
        _render(painter, "labels:1", optimizer=lambda p: torch.optim.Adam(p, lr=float("inf")))


@pytest.mark.parametrize("value, field", [(float("nan"), 3), (float("inf"), 0), (1.5, 11), (-0.01, 5)])
def test_painter_rejects_actions_outside_0_1(painter, value, field):
    actions = torch.full((3, A.NUM_FIELDS), 0.5)
    actions[2, field] = value
    with pytest.raises(ValueError, match=rf"actions\[2\] field '{A.FIELDS[field]}'.*\[0, 1\]"):
        painter(actions)
    assert painter(actions.clamp(0, 1).nan_to_num(0.5)).isfinite().all()


def test_non_finite_weights_do_not_load(tmp_path):
    from safetensors.torch import load_file, save_file

    from strokeparam.painters import create_painter, load_weights, save_weights
    path, _ = save_weights(create_painter("skeleton", pretrained=False), tmp_path / "skeleton.safetensors", {})
    state = load_file(str(path))
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel())
    state[key].view(-1)[0] = float("nan")
    save_file(state, str(path), metadata={"painter": "skeleton"})
    with pytest.raises(ValueError, match=rf"{key}.*NaN or infinite"):
        load_weights(path)


def test_unknown_card_keys_are_one_error(tmp_path):
    from strokeparam.painters import create_painter, load_weights, save_weights
    path, card_path = save_weights(create_painter("skeleton", pretrained=False), tmp_path / "s.safetensors", {})
    card = json.loads(card_path.read_text())
    card["architecture"]["config"]["bogus"] = 3
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="architecture.config does not fit.*bogus"):
        load_weights(path)
