"""Agent weights on disk: safetensors (the policy and the painter it was trained through) plus a JSON card."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .. import actions as A
from ..data import atomic_write_bytes
from ..painters.registry import painter_class
from ..painters.weights_io import MAX_WEIGHTS_BYTES
from .agent import PaintingAgent

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_AGENT = "mnist"
CARD_FORMAT = "strokeparam-agent"


def save_agent(agent: PaintingAgent, path, card: dict) -> tuple[Path, Path]:
    """Write ``agent`` (policy and painter, float32) to ``path`` (.safetensors) and its card beside it."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights file must end in .safetensors, got {path}")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in agent.state_dict().items()}
    blob = save(state, metadata={"format": CARD_FORMAT})
    if len(blob) > MAX_WEIGHTS_BYTES:
        raise ValueError(f"agent weights are {len(blob) / 2 ** 20:.1f} MB; shipped weights must be < 15 MB")
    card = dict(card, format=CARD_FORMAT, action_space_version=A.ACTION_SPACE_VERSION,
                architecture=agent.config(),
                painter=dict(name=agent.painter.name, config=agent.painter.config(),
                             card=getattr(agent.painter, "card", None)))
    path.parent.mkdir(parents=True, exist_ok=True)
    card_path = path.with_suffix(".json")
    atomic_write_bytes(path, blob)
    atomic_write_bytes(card_path, (json.dumps(card, indent=1, sort_keys=True, default=str) + "\n").encode())
    for written in (path, card_path):
        written.chmod(0o644)                  # temporary files are private; shipped files are not
    return path, card_path


def read_card(path) -> dict:
    """The agent card beside a weights file (``x.safetensors`` → ``x.json``)."""
    card_path = Path(path).with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"no card {card_path} beside the agent weights {path}")
    try:
        card = json.loads(card_path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{card_path} is not a JSON card: {exc}") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ValueError(f"{card_path} is not an agent card (format {CARD_FORMAT!r})")
    return card


def load_agent(name: str = DEFAULT_AGENT, path=None, device=None) -> PaintingAgent:
    """A trained agent in eval mode: the shipped one called ``name``, or the weights file ``path``.

    The painter it was trained through comes with it (its weights are in the same file).
    """
    if path is None:
        path = WEIGHTS_DIR / f"{name}.safetensors"
        if not path.is_file():
            shipped = sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))
            raise FileNotFoundError(f"no shipped agent {name!r} ({path}); shipped agents: {shipped or 'none'}. "
                                    "Train one with recipes/train_agent.py --export, then pass path=")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"agent weights {path} not found")
    card = read_card(path)
    if card.get("action_space_version") != A.ACTION_SPACE_VERSION:
        raise ValueError(f"{path} was trained for action space version {card.get('action_space_version')!r}; "
                         f"this strokeparam uses version {A.ACTION_SPACE_VERSION}")
    try:
        painter = painter_class(card["painter"]["name"])(**card["painter"]["config"])
        agent = PaintingAgent(painter, **card["architecture"])
        agent.load_state_dict(load_file(str(path)), strict=True)
    except (SafetensorError, OSError, RuntimeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} does not hold the agent its card describes: {exc}") from None
    agent.card = card
    return agent.to(device).eval() if device is not None else agent.eval()
