"""Painting agents: shapes, datasets, one smoke training step per dataset, resume after a kill,
templates, forcing, stroke-order metrics, weights and the reconstruct API."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from strokeparam import actions as A
from strokeparam.agents import (Critic, PaintingAgent, apply_ink, forcing_loss, gradient_penalty, load_agent,
                                load_dataset, load_templates, reconstruct, render_actions, save_agent)
from strokeparam.agents import kanjivg, order
from strokeparam.agents.templates import agreement_loss
from strokeparam.agents.training import AgentTask
from strokeparam.painters import create_painter

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "train_agent.py"
SMALL = dict(channels=4, hidden=16, blocks=1)


def recipe_presets():
    spec = importlib.util.spec_from_file_location("train_agent", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PRESETS


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Small tensors: one thread is faster than two on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def painter():
    torch.manual_seed(0)
    return create_painter("skeleton", pretrained=False)


def test_agent_shapes_ink_and_gradients(painter):
    torch.manual_seed(1)
    agent = PaintingAgent(painter, strokes=3, **SMALL)
    target = torch.rand(2, 3, 64, 64)
    out = agent(target)
    assert out.canvas.shape == (2, 3, 64, 64) and out.actions.shape == (2, 3, 12)
    assert 0 <= out.actions.min() and out.actions.max() <= 1 and (out.actions[..., A.COLOR] == 0).all()
    # the step-by-step canvas is the closed-form "over" composite of the same actions
    assert torch.allclose(out.canvas, render_actions(painter, out.actions), atol=1e-5)
    out.canvas.mean().backward()
    assert agent.policy.head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in agent.painter.parameters())
    gray = apply_ink(torch.rand(5, 12), "gray")
    assert torch.equal(gray[:, 4], gray[:, 3]) and torch.equal(gray[:, 5], gray[:, 3])
    with pytest.raises(ValueError, match="ink"):
        PaintingAgent(painter, ink="blue")
    with pytest.raises(ValueError, match="target"):
        agent(torch.rand(2, 1, 64, 64))


def test_critic_and_gradient_penalty():
    critic = Critic(channels=4)
    real, fake = torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)
    assert critic(fake, real).shape == (3,)
    gp = gradient_penalty(critic, real, fake, real, generator=torch.Generator().manual_seed(0))
    assert gp.ndim == 0 and gp >= 0
    gp.backward()
    assert critic.net[0].weight.grad is not None


def test_datasets(tmp_path):
    mnist = load_dataset("mnist", "test", limit=6)
    x = mnist.images()
    assert x.shape == (6, 3, 64, 64) and x.dtype == torch.float32 and mnist.labels.shape == (6,)
    assert x.max() == 1.0 and x.min() < 0.1 and x.mean() > 0.6          # black ink on white
    kanji = load_dataset("kanji", "test", limit=2)
    assert len(kanji) == 2 and len(kanji.strokes) == 2 and all(1 <= len(s) <= 8 for s in kanji.strokes)
    faces = load_dataset("faces")
    assert len(faces) == 90 and len(load_dataset("faces", "test")) == 10
    with pytest.raises(FileNotFoundError, match="kmnist-train-imgs.npz"):
        load_dataset("kmnist")
    with pytest.raises(FileNotFoundError, match="kmnist-test"):
        load_dataset("kmnist", "test", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="CelebA"):
        load_dataset("celeba", root=tmp_path)
    with pytest.raises(KeyError, match="mnist, kanji"):
        load_dataset("omniglot")
    with pytest.raises(ValueError, match="split"):
        load_dataset("faces", "valid")


def fake_kmnist(root: Path) -> Path:
    rng = np.random.default_rng(0)
    root.mkdir()
    for split in ("train", "test"):
        np.savez(root / f"kmnist-{split}-imgs.npz", rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))
        np.savez(root / f"kmnist-{split}-labels.npz", rng.integers(0, 10, 6))
    return root


def fake_celeba(root: Path) -> Path:
    from PIL import Image
    (root / "img_align_celeba").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            root / "img_align_celeba" / f"{i:06d}.jpg")
    return root


@pytest.mark.parametrize("dataset", ["mnist", "kanji", "faces", "kmnist", "celeba"])
def test_smoke_training_step(dataset, tmp_path):
    from strokeparam.agents.training import main
    extra = {"kmnist": ["--root", str(fake_kmnist(tmp_path / "kmnist"))],
             "celeba": ["--root", str(fake_celeba(tmp_path / "celeba"))]}.get(dataset, [])
    forced = dataset in ("mnist", "kanji")           # templates: one preconditioning, one adversarial step
    steps = 2 if forced else 1
    run = tmp_path / "run"
    jitter = ["--set", "jitter=0.1"] if dataset == "kanji" else []
    assert main(recipe_presets(), ["--preset", "smoke", "--dataset", dataset, "--untrained-painter", "--run", str(run),
                                   "--steps", str(steps), "--batch-size", "2", "--strokes", "3", "--limit", "8",
                                   "--no-progress", "--threads", "1", *extra, *jitter]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == steps and summary["templates"] == forced
    rows = (run / "metrics.csv").read_text().splitlines()
    assert len(rows) == steps + 1 and "wasserstein" in rows[0]
    assert rows[-1].split(",")[rows[0].split(",").index("wasserstein")] != ""      # the critic trained
    assert (rows[-1].split(",")[rows[0].split(",").index("agreement")] != "") == forced


def test_mirrored_faces_on_a_gray_canvas(tmp_path):
    from strokeparam.agents.training import ImageStream, main
    data = load_dataset("faces", "train", limit=8)
    plain = ImageStream(data, 8, 0, 0, 1, torch.device("cpu")).next()[0]
    stream = ImageStream(data, 8, 0, 0, 1, torch.device("cpu"), mirror=True)
    mirrored = stream.next()[0]
    flipped = [bool((m == p.flip(-1)).all() and not (m == p).all()) for m, p in zip(mirrored, plain)]
    kept = [bool((m == p).all()) for m, p in zip(mirrored, plain)]
    assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < 8
    again = ImageStream(data, 8, 0, 0, 1, torch.device("cpu"), mirror=True)
    assert torch.equal(again.next()[0], mirrored)                          # seeded by the data position
    run = tmp_path / "run"
    args = ["--preset", "smoke", "--dataset", "faces", "--untrained-painter", "--run", str(run), "--steps", "1",
            "--batch-size", "2", "--strokes", "2", "--limit", "8", "--no-progress", "--threads", "1",
            "--set", "mirror=true", "--set", "background=[0.45,0.45,0.45]", "--export", "--export-dir",
            str(tmp_path / "export"), "--eval-images", "3"]
    assert main(recipe_presets(), args) == 0
    card = json.loads((tmp_path / "export" / "faces.json").read_text())
    assert card["architecture"]["background"] == pytest.approx([0.45] * 3)
    baselines = card["evaluation"]["baselines"]
    assert baselines["mean_image"] < baselines["blank"]
    assert load_agent(path=tmp_path / "export" / "faces.safetensors").background.tolist() == pytest.approx([0.45] * 3)
    with pytest.raises(SystemExit, match="background"):
        main(recipe_presets(), ["--preset", "smoke", "--set", "background=[2,0,0]", "--run", str(tmp_path / "b")])
    with pytest.raises(SystemExit, match="templates"):
        main(recipe_presets(), ["--preset", "smoke", "--dataset", "mnist", "--set", "mirror=true",
                                "--run", str(tmp_path / "m")])


def test_resume_after_kill(tmp_path):
    from strokeparam.agents.training import main
    run = tmp_path / "run"
    args = ["--preset", "smoke", "--dataset", "faces", "--untrained-painter", "--run", str(run), "--batch-size", "2",
            "--strokes", "2", "--no-progress", "--threads", "1", "--checkpoint-minutes", "0"]
    env = dict(os.environ, STROKEPARAM_KILL_AFTER_CHECKPOINT="2")          # SIGKILL right after step 2
    proc = subprocess.run([sys.executable, str(RECIPE), *args, "--steps", "1000"], env=env, capture_output=True,
                          text=True, timeout=300)
    ckpt = run / "checkpoint.pt"
    assert proc.returncode == -signal.SIGKILL and ckpt.exists(), proc.stderr[-2000:]
    killed_at = torch.load(ckpt, weights_only=True)["step"]
    assert killed_at == 2
    with pytest.raises(SystemExit, match="pass --resume"):
        main(recipe_presets(), args + ["--steps", "3"])
    assert main(recipe_presets(), args + ["--steps", str(killed_at + 2), "--resume"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == killed_at + 2 and summary["resumed_from"] == killed_at
    steps = [int(r.split(",")[0]) for r in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == list(range(1, killed_at + 3))     # the log continues without gaps or repeats


def test_templates_load_and_render(painter):
    templates = load_templates()
    assert templates.actions.shape == (10, 4, 12) and templates.labels == [str(d) for d in range(10)]
    assert templates.mask.sum(1).tolist() == [2, 1, 2, 2, 3, 3, 2, 2, 4, 3]
    one = templates.actions[1, 0]
    assert abs(one[A.INDEX["x0"]] - one[A.INDEX["x2"]]) < 0.1 < one[A.INDEX["y2"]] - one[A.INDEX["y0"]]   # "1": down
    with torch.no_grad():
        images = render_actions(painter, templates.actions)
    assert images.shape == (10, 3, 64, 64) and (images.amin((1, 2, 3)) < 0.3).all()
    assert images[1, :, :, :20].min() > 0.9            # the "1" leaves the left third blank
    from strokeparam.mypaint import MyPaintRenderer
    painted = MyPaintRenderer().paint(templates.actions[7][templates.mask[7]].numpy(), seed=0)
    assert painted.shape == (64, 64, 3) and painted.min() < 0.5


def test_kanji_templates_are_the_human_strokes(painter):
    from strokeparam.agents.templates import human_templates
    data = load_dataset("kanji", "test", limit=6)
    templates = human_templates(data.strokes, 8)
    assert templates.actions.shape == (6, 8, 12) and A.validate(templates.actions.reshape(-1, 12).numpy()) is not None
    assert templates.mask.sum(1).tolist() == [min(8, len(s)) for s in data.strokes]
    first = data.strokes[0][0]                           # the first stroke starts and ends where the human's does
    assert np.allclose(templates.actions[0, 0, A.INDEX["x0"]:A.INDEX["y0"] + 1].numpy(), first[0], atol=1e-6)
    assert np.allclose(templates.actions[0, 0, A.INDEX["x2"]:A.INDEX["y2"] + 1].numpy(), first[-1], atol=1e-6)
    assert data.labels.tolist() == list(range(6))
    with torch.no_grad():
        painted = render_actions(painter, templates.actions)
    target = data.images()
    assert ((painted - target) ** 2).mean() < ((1 - target) ** 2).mean()   # closer than a blank canvas


def test_jitter_moves_targets_and_their_templates_together(painter):
    from strokeparam.agents.templates import human_templates, jitter
    data = load_dataset("kanji", "test", limit=6)
    templates = human_templates(data.strokes, 8)
    images, labels = data.images(), data.labels
    moved, moved_labels, moved_templates = jitter(images, labels, templates, 0.1, torch.Generator().manual_seed(0))
    assert moved.shape == images.shape and not torch.allclose(moved, images)
    assert moved_labels.tolist() == list(range(6)) and moved_templates.actions.shape == (6, 8, 12)
    assert torch.equal(moved_templates.mask, templates.mask[labels])
    with torch.no_grad():
        def error(target, actions):
            return float(((render_actions(painter, actions) - target) ** 2).mean())
        kept, left_behind = error(moved, moved_templates.actions), error(moved, templates.actions[labels])
    assert kept < 1.3 * error(images, templates.actions) and kept < 0.5 * left_behind
    again = jitter(images, labels, templates, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(again[0], moved)                                     # seeded
    alone = jitter(images, None, None, 0.1, torch.Generator().manual_seed(0))
    assert torch.equal(alone[0], moved) and alone[2] is None                 # no templates: images only


def test_bad_template_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="stroke file"):
        load_templates(path)
    with pytest.raises(FileNotFoundError):
        load_templates(tmp_path / "missing.json")


def test_forcing_loss_decreases(painter):
    presets = recipe_presets()
    cfg = dict(presets["smoke"], steps=100, strokes=4, lr=1e-2, precondition_steps=100, policy=SMALL)
    torch.manual_seed(0)
    task = AgentTask(cfg, torch.device("cpu"), painter, "black", load_templates())
    data = load_dataset("mnist", "test", limit=4)
    batch = (data.images(), data.labels)
    first = task.train_step([batch], 0)["forcing"]
    for step in range(1, 12):
        last = task.train_step([batch], step)["forcing"]
    assert last < 0.8 * first
    assert task.forcing_weight(0) == 1.0 and task.forcing_weight(10 ** 6) == 0.0
    task.cfg = dict(cfg, forcing_weight=0.5, forcing_floor=0.2, forcing_decay_steps=10)
    assert task.forcing_weight(105) == pytest.approx(0.35) and task.forcing_weight(10 ** 6) == pytest.approx(0.2)
    actions = torch.stack([load_templates().actions[c] for c in (3, 8)])
    assert forcing_loss(actions, torch.tensor([3, 8]), load_templates()) == 0


def test_agreement_loss_is_zero_exactly_when_strokes_follow_the_template():
    templates = load_templates()
    labels = torch.arange(10)
    acts = torch.zeros(10, 8, 12)
    acts[:, :4] = templates.actions
    assert agreement_loss(acts, labels, templates, margin=0.0) == 0
    assert order.template_scores(acts.numpy(), labels.numpy(), templates)["follows"] == 1.0
    reversed_ = acts.clone()
    reversed_[..., 6:8], reversed_[..., 10:12] = acts[..., 10:12], acts[..., 6:8]
    swapped = acts.clone()
    swapped[7, [0, 1]] = acts[7, [1, 0]]                                    # 7: the bar, then the diagonal
    for bad in (reversed_, swapped):
        loss = agreement_loss(bad.requires_grad_(), labels, templates, margin=0.0)
        assert loss > 0
        loss.backward()
        assert bad.grad[..., A.POINTS].abs().sum() > 0
    dry = acts.clone()
    dry[:, 6, :2] = 0.5                                                     # ink past the template's strokes
    assert agreement_loss(dry, labels, templates, margin=0.0) == 0
    assert agreement_loss(dry, labels, templates, margin=0.0, only_template=True) > 0


def test_stroke_order_metrics():
    templates = load_templates()
    acts = templates.actions.numpy()
    assert order.template_scores(acts, np.arange(10), templates) == dict(order=1.0, direction=1.0, follows=1.0)
    flipped = acts.copy()
    flipped[..., 6:8], flipped[..., 10:12] = acts[..., 10:12], acts[..., 6:8]
    assert order.template_scores(flipped, np.arange(10), templates)["direction"] == 0.0
    swapped = acts[[7]].copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]
    assert not order.template_agreement(swapped[0], acts[7][:2])["order"]
    assert order.kendall_tau([0, 1, 2]) == 1.0 and order.kendall_tau([2, 1, 0]) == -1.0
    strokes = kanjivg.read_strokes(kanjivg.kanjivg_folder() / "053e3.svg")          # 口: 3 strokes
    human_like = np.array([[1, 1, 0.4, 0, 0, 0, *s[0], *s[len(s) // 2], *s[-1]] for s in strokes])
    result = order.kanji_order(human_like, strokes)
    assert result == dict(tau=1.0, direction=1.0, coverage=1.0)
    assert order.kanji_order(human_like[::-1], strokes)["tau"] == -1.0


def test_kanjivg_path_sampler():
    pts = kanjivg.parse_path("M10,20c0,10 10,10 10,0s10,-10 10,0L40,20l0,10H50v5Z")
    assert np.allclose(pts[0], [10, 20]) and np.allclose(pts[-1], [10, 20])
    assert np.isclose(pts[:, 1].max(), 35) and np.isclose(pts[:, 0].max(), 50)
    with pytest.raises(ValueError, match="numbers"):
        kanjivg.parse_path("M10")
    ink = kanjivg.rasterize(kanjivg.read_strokes(kanjivg.kanjivg_folder() / "04e00.svg"))   # 一
    assert ink.shape == (64, 64) and ink[28:34].max() > 0.9 and ink[:20].max() == 0


def test_weights_and_reconstruct(painter, tmp_path):
    torch.manual_seed(2)
    agent = PaintingAgent(painter, strokes=2, **SMALL)
    path, card = save_agent(agent, tmp_path / "tiny.safetensors", {"note": "test"})
    loaded = load_agent(path=path)
    assert json.loads(card.read_text())["painter"]["name"] == "skeleton"
    image = torch.rand(1, 28, 28)
    out = reconstruct(image, agent=loaded)
    assert out.canvas.shape == (1, 3, 64, 64) and out.actions.shape == (1, 2, 12)
    assert torch.allclose(out.canvas, reconstruct(image, agent=agent.eval()).canvas, atol=1e-6)
    assert reconstruct(np.zeros((40, 40), np.float32), agent=loaded).canvas.shape == (1, 3, 64, 64)
    with pytest.raises(FileNotFoundError, match="recipes/train_agent.py"):
        load_agent("no-such-agent")
    with pytest.raises(ValueError, match="PaintingAgent"):
        reconstruct(image, agent=3)
    with pytest.raises(ValueError, match="C = 1 or 3"):
        reconstruct(torch.rand(2, 2, 8, 8), agent=loaded)


def test_shipped_mnist_agent_paints_held_out_digits():
    agent = load_agent()
    card = agent.card
    assert card["dataset"] == "mnist" and card["templates"] and agent.strokes == 8
    assert card["evaluation"]["painter_mse"] <= 0.03 and card["evaluation"]["transfer_ratio"] <= 1.5
    digits = load_dataset("mnist", "test", limit=20)
    target = digits.images(slice(0, 20))
    painting = reconstruct(target)                                      # the default shipped agent
    assert painting.actions.shape == (20, 8, 12)
    mse = ((painting.canvas - target) ** 2).mean().item()
    assert mse < 0.03 < ((1.0 - target) ** 2).mean().item()            # far better than a blank canvas


def test_shipped_faces_agent_beats_the_mean_face():
    agent = load_agent("faces")
    assert agent.strokes == 15 and agent.ink == "gray"
    faces = load_dataset("faces", "test")
    target = faces.images()
    mse = ((reconstruct(target, agent=agent).canvas - target) ** 2).mean().item()
    mean_face = load_dataset("faces", "train").images().mean(0)
    assert mse < ((target - mean_face) ** 2).mean().item()
    evaluation = agent.card["evaluation"]
    assert evaluation["painter_mse"] < evaluation["baselines"]["mean_image"] and evaluation["transfer_ratio"] <= 1.5


def test_shipped_kanji_agent_writes_in_a_persons_order():
    agent = load_agent("kanji")
    evaluation = agent.card["evaluation"]
    assert evaluation["kanji_order"]["tau"] >= 0.8 and evaluation["kanji_order"]["coverage"] >= 0.85
    test = load_dataset("kanji", "test", limit=12)
    painting = reconstruct(test.images(), agent=agent)
    scores = order.kanji_scores(painting.actions.numpy(), test.strokes)
    assert scores["tau"] > 0.6 and scores["coverage"] > 0.7
    mse = ((painting.canvas - test.images()) ** 2).mean().item()
    assert mse < ((1.0 - test.images()) ** 2).mean().item()                 # better than the blank page
