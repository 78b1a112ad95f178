"""Painter training recipes: smoke runs, checkpoint round trip, resume after a kill, DDP with gloo."""
import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from strokeparam.painters import load_weights
from strokeparam.painters.tasks import SkeletonTask
from strokeparam.training import load_checkpoint, save_checkpoint

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TORCHRUN = Path(PY).parent / "torchrun"
FAST = ["--no-progress", "--threads", "1", "--eval-actions", "8"]


def recipe(name):
    return str(ROOT / "recipes" / f"train_{name}_painter.py")


def run(args, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, **kwargs)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("strokes")
    res = run([PY, "recipes/make_stroke_dataset.py", "--out", str(out), "--num", "96", "--shard-size", "48",
               "--no-progress"])
    assert res.returncode == 0, res.stderr
    return out


def test_vae_smoke_run_on_the_fly_exports_a_loadable_painter(tmp_path):
    name = "vae"           # the skeleton and GAN recipes are run (on shards) by the resume and DDP tests
    res = run([PY, recipe(name), "--preset", "smoke", "--workers", "0", "--run-dir", str(tmp_path / "run"),
               "--export", "--export-dir", str(tmp_path / "w")] + FAST)
    assert res.returncode == 0, res.stderr[-2000:]
    painter = load_weights(tmp_path / "w" / f"{name}.safetensors", expected=name)
    card = painter.card
    assert card["preset"] == "smoke" and card["steps"] == card["planned_steps"] > 0
    assert card["fidelity"]["num_actions"] == 8 and "train_" in card["command"]
    rows = list(csv.DictReader((tmp_path / "run" / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, card["steps"] + 1))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["samples_seen"] == card["samples_seen"] and summary["data"]["source"].startswith("on the fly")


def test_checkpoint_round_trip(tmp_path):
    cfg = dict(steps=6, batch_size=8, lr=3e-3, warmup=0, log_every=1, calibration_actions=8,
               arch=dict(dabs=64, components=2, hidden=32))
    task = SkeletonTask(cfg, torch.device("cpu"))
    batch = [(torch.rand(4, 12), torch.rand(4, 1, 64, 64))]
    task.train_step(batch, 0)
    save_checkpoint(tmp_path / "c.pt", task, dict(step=1, samples=4))
    other = SkeletonTask(cfg, torch.device("cpu"))
    state = load_checkpoint(tmp_path / "c.pt", other)
    assert state["step"] == 1
    for a, b in zip(task.net.state_dict().values(), other.net.state_dict().values()):
        assert torch.equal(a, b)
    assert other.optimizers["adam"].state_dict()["state"].keys() == task.optimizers["adam"].state_dict()["state"].keys()
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt is not a checkpoint of this skeleton run"):
        load_checkpoint(tmp_path / "bad.pt", other)


def test_resume_after_a_kill_loses_nothing(shards, tmp_path):
    steps = ["--steps", "30", "--checkpoint-minutes", "0"]
    base = [PY, recipe("skeleton"), "--preset", "smoke", "--data", str(shards)] + steps + FAST
    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", STROKEPARAM_KILL_AFTER_CHECKPOINT="3")   # SIGKILL after step 3
    proc = subprocess.run(base + ["--run-dir", str(killed), "--resume"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert torch.load(killed / "checkpoint.pt", weights_only=True)["step"] == 3
    res = run(base + ["--run-dir", str(killed), "--resume"])
    assert res.returncode == 0, res.stderr[-2000:]
    res = run(base + ["--run-dir", str(tmp_path / "straight"), "--export", "--export-dir", str(tmp_path / "w")])
    assert res.returncode == 0, res.stderr[-2000:]
    a = torch.load(killed / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 30 and a["samples"] == b["samples"] == 30 * 8
    for key, value in b["modules"]["painter"].items():
        assert torch.allclose(a["modules"]["painter"][key], value, atol=1e-6), key
    rows = list(csv.DictReader((killed / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == list(range(1, 31))
    card = load_weights(tmp_path / "w" / "skeleton.safetensors", expected="skeleton").card
    assert card["preset"] == "smoke" and card["steps"] == 30 and card["samples_seen"] == 240


def test_ddp_two_gloo_processes(shards, tmp_path):
    res = run([str(TORCHRUN), "--standalone", "--nproc_per_node", "2", recipe("gan"), "--preset", "smoke",
               "--data", str(shards), "--run-dir", str(tmp_path / "run"), "--export",
               "--export-dir", str(tmp_path / "w")] + FAST)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert summary["samples_seen"] == summary["steps"] * 6 * 8 * 2
    assert load_weights(tmp_path / "w" / "gan.safetensors").card["world_size"] == 2


def test_a_tagged_painter_of_another_brush_is_scored_against_that_brush(tmp_path):
    data = tmp_path / "pen"
    res = run([PY, "recipes/make_stroke_dataset.py", "--out", str(data), "--num", "48", "--shard-size", "48",
               "--brush", "deevad/brush", "--no-progress"])
    assert res.returncode == 0, res.stderr
    res = run([PY, recipe("skeleton"), "--preset", "smoke", "--data", str(data), "--run-dir", str(tmp_path / "run"),
               "--export", "--export-dir", str(tmp_path / "w"), "--tag", "round"] + FAST)
    assert res.returncode == 0, res.stderr[-2000:]
    painter = load_weights(tmp_path / "w" / "skeleton.round.safetensors", expected="skeleton")
    assert painter.name == "skeleton.round" and painter.brush == "deevad/brush"
    assert painter.card["fidelity"]["brush"] == "deevad/brush" and painter.card["fidelity"]["floor"]["l1"] == 0.0
    assert not painter.stochastic          # the brush paints alike under any seed: no draws to calibrate
    res = run([PY, recipe("skeleton"), "--preset", "smoke", "--data", str(data), "--run-dir", str(tmp_path / "x"),
               "--tag", "a/b"] + FAST)
    assert res.returncode != 0 and "--tag must be letters, digits, _ and -" in res.stderr


def test_a_diverging_run_stops_and_keeps_its_last_finite_checkpoint(shards, tmp_path):
    base = [PY, recipe("skeleton"), "--preset", "smoke", "--data", str(shards), "--run-dir", str(tmp_path / "run"),
            "--steps", "30", "--checkpoint-minutes", "0"] + FAST
    res = run(base + ["--set", "lr=1e30"])
    assert res.returncode != 0 and "a loss is not finite" in res.stderr, res.stderr[-2000:]
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert 0 < state["step"] < 30
    assert all(torch.isfinite(v).all() for v in state["modules"]["painter"].values())
