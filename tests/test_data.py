"""Stroke shards: resumable generation, memory-mapped reading, on-the-fly rendering in workers."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from strokeparam.data import OnTheFlyStrokes, StrokeShards, shard_paths

ROOT = Path(__file__).resolve().parents[1]
RECIPE = [sys.executable, str(ROOT / "recipes" / "make_stroke_dataset.py")]


def make(out, *extra, num=500, shard=60):
    return subprocess.run(RECIPE + ["--out", str(out), "--num", str(num), "--shard-size", str(shard),
                                    "--seed", "4", "--no-progress", *extra],
                          capture_output=True, text=True, timeout=300)


def test_generate_and_read(tmp_path):
    out = tmp_path / "strokes"
    r = make(out, "--workers", "2", num=130, shard=50)
    assert r.returncode == 0, r.stderr
    meta = json.loads((out / "meta.json").read_text())
    assert meta["num"] == 130 and meta["num_shards"] == 3
    ds = StrokeShards(out)
    assert len(ds) == 130
    action, alpha = ds[129]
    assert action.shape == (12,) and action.dtype == torch.float32
    assert alpha.shape == (1, 64, 64) and 0 <= alpha.min() and alpha.max() <= 1
    batch = next(iter(DataLoader(ds, batch_size=16, shuffle=True, num_workers=0)))
    assert batch[1].shape == (16, 1, 64, 64)
    with pytest.raises(IndexError):
        ds[130]


def test_killed_run_resumes_to_exactly_n(tmp_path):
    ref, out = tmp_path / "ref", tmp_path / "out"
    assert make(ref).returncode == 0
    proc = subprocess.Popen(RECIPE + ["--out", str(out), "--num", "500", "--shard-size", "60", "--seed", "4",
                                      "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not shard_paths(out, 1)[0].exists() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = sum(shard_paths(out, k)[0].exists() for k in range(9))
    assert 2 <= finished < 9, "the kill should land mid-run"
    assert make(out).returncode == 0
    ds, ds_ref = StrokeShards(out), StrokeShards(ref)
    assert len(ds) == len(ds_ref) == 500
    for k in range(9):                        # no lost, duplicated or altered shard
        for got, want in zip(shard_paths(out, k), shard_paths(ref, k)):
            assert np.array_equal(np.load(got), np.load(want))
    assert not list(out.glob(".*.tmp"))


def test_recipe_rejects_bad_arguments(tmp_path):
    r = make(tmp_path / "x", "--brush", "classic/nope", num=10, shard=5)
    assert r.returncode != 0 and "unknown brush" in r.stderr
    r = make(tmp_path / "y", num=0)
    assert r.returncode != 0 and "--num" in r.stderr
    assert make(tmp_path / "z", num=10, shard=5).returncode == 0
    r = make(tmp_path / "z", num=20, shard=5)
    assert r.returncode != 0 and "different dataset" in r.stderr


def test_on_the_fly_workers_are_seeded_and_distinct():
    def take(seed):
        loader = DataLoader(OnTheFlyStrokes(num=40, seed=seed, chunk=10), batch_size=8, num_workers=2)
        batches = list(loader)
        return torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    a1, x1 = take(0)
    a2, x2 = take(0)
    a3, _ = take(1)
    assert a1.shape == (40, 12) and x1.shape == (40, 1, 64, 64)
    assert torch.equal(a1, a2) and torch.equal(x1, x2)
    assert not torch.equal(a1, a3)
    assert len(torch.unique(a1[:, 0])) == 40                  # the two workers do not repeat each other
    with pytest.raises(ValueError, match="num"):
        OnTheFlyStrokes(num=0)


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make_stroke_dataset"):
        StrokeShards(tmp_path)
