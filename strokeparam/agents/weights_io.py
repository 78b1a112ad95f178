"""Agent weights on disk: safetensors (the policy and the painter it was trained through) plus a JSON card."""
from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file

from .. import actions as A
from ..painters.registry import painter_class
from ..painters.weights_io import read_json_card, write_weights
from .agent import PaintingAgent

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_AGENT = "mnist"
CARD_FORMAT = "strokeparam-agent"


def save_agent(agent: PaintingAgent, path, card: dict) -> tuple[Path, Path]:
    """Write ``agent`` (policy and painter, float32) to ``path`` (.safetensors) and its card beside it."""
    card = dict(card, format=CARD_FORMAT, action_space_version=A.ACTION_SPACE_VERSION,
                architecture=agent.config(),
                painter=dict(name=agent.painter.name, config=agent.painter.config(),
                             card=getattr(agent.painter, "card", None)))
    return write_weights(agent, path, card, {"format": CARD_FORMAT}, "agent")


def _check_format(card: dict) -> None:
    if card.get("format") != CARD_FORMAT:
        raise ValueError(f"format {card.get('format')!r} is not {CARD_FORMAT!r}")


def read_card(path) -> dict:
    """The agent card beside a weights file (``x.safetensors`` → ``x.json``)."""
    return read_json_card(path, "agent", _check_format)


def shipped_agents() -> list[str]:
    """Names of the agents that ship with strokeparam (each trained on the dataset of that name)."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.safetensors"))


def load_agent(name: str = DEFAULT_AGENT, path=None, device=None) -> PaintingAgent:
    """A trained agent in eval mode: the shipped one called ``name``, or the weights file ``path``.

    The painter it was trained through comes with it (its weights are in the same file).
    """
    if path is None:
        path = WEIGHTS_DIR / f"{name}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"no shipped agent {name!r} ({path}); shipped agents: {shipped_agents() or 'none'}. "
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
