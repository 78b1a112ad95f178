"""Painter weights on disk: a safetensors file beside a JSON card. Nothing is ever unpickled."""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .. import actions as A
from ..files import atomic_write_bytes
from .base import Painter
from .registry import is_painter_name, painter_class

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MAX_WEIGHTS_BYTES = 15 * 2 ** 20
# Upper bounds of a card's architecture integers, checked before the painter is built: 16x the shipped
# painters' values (dabs 64, components 2, hidden 32, dim 8, noise_dim 8, latent 64, width 16); any other
# integer at most MAX_CARD_INT. A card with dabs=10**8 would otherwise allocate 400 MB at build and
# terabytes at the first forward. The built painter's parameters and buffers must also fit
# MAX_CARD_BYTES, estimated on torch's meta device (no memory) before the real build.
CARD_LIMITS = {"dabs": 1024, "components": 32, "hidden": 512, "dim": 128, "noise_dim": 128, "latent": 1024,
               "width": 256}
MAX_CARD_INT = 2048
MAX_CARD_BYTES = 4 * MAX_WEIGHTS_BYTES


def weights_digest(painter: Painter) -> str:
    """SHA-256 of a painter's float32 weights (the identity of trained weights, whatever the canvas size)."""
    inner = getattr(painter, "inner", painter)                # a Resized painter: its own painter's weights
    digest = hashlib.sha256()
    for key, tensor in sorted(inner.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def weights_paths(name: str, folder=None) -> tuple[Path, Path]:
    """The ``(<name>.safetensors, <name>.json)`` pair in ``folder`` (default: the package weights)."""
    folder = WEIGHTS_DIR if folder is None else Path(folder)
    return folder / f"{name}.safetensors", folder / f"{name}.json"


def list_pretrained(folder=None) -> list[str]:
    """Names of the painter weights in ``folder`` (default: the shipped ones) whose architecture is
    registered, sorted: ``skeleton``, ``skeleton.deevad_brush``, ..."""
    folder = WEIGHTS_DIR if folder is None else Path(folder)
    return [path.stem for path in sorted(folder.glob("*.safetensors")) if is_painter_name(path.stem)]


def save_weights(painter: Painter, path, card: dict) -> tuple[Path, Path]:
    """Write ``painter``'s float32 state to ``path`` (.safetensors) and ``card`` plus its architecture to
    the .json beside it, both atomically; the card's ``name`` is the painter's (``arch`` or ``arch.tag``).
    Returns the two paths."""
    card = dict(card, name=painter.name, architecture=dict(name=painter.name.partition(".")[0], config=painter.config()),
                action_space_version=painter.action_space_version, stochastic=painter.stochastic)
    return write_weights(painter, path, card, {"painter": painter.name}, painter.name)


def write_weights(module: torch.nn.Module, path, card: dict, metadata: dict, what: str) -> tuple[Path, Path]:
    """Atomically write ``module``'s float32 state to ``path`` (.safetensors, under 15 MB, with safetensors
    ``metadata``) and ``card`` to the .json beside it; ``what`` names the weights in errors. The two paths."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"weights file must end in .safetensors, got {path}")
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    blob = save(state, metadata=metadata)
    if len(blob) > MAX_WEIGHTS_BYTES:
        raise ValueError(f"{what} weights are {len(blob) / 2 ** 20:.1f} MB; shipped weights must be < 15 MB")
    path.parent.mkdir(parents=True, exist_ok=True)
    card_path = path.with_suffix(".json")
    atomic_write_bytes(path, blob)
    write_card(card_path, card)
    path.chmod(0o644)                     # temporary files are private; shipped files are not
    return path, card_path


def write_card(card_path, card: dict) -> None:
    """Atomically write a card (sorted JSON, anything else as text) to ``card_path``."""
    atomic_write_bytes(Path(card_path), (json.dumps(card, indent=1, sort_keys=True, default=str) + "\n").encode())
    Path(card_path).chmod(0o644)


def read_json_card(path, kind: str, check) -> dict:
    """The JSON card beside ``kind`` weights (``x.safetensors`` → ``x.json``), vetted by ``check(card)``.

    ``check`` raises KeyError, TypeError or ValueError where the card lacks the marks of its kind (a format,
    an architecture). A missing card raises FileNotFoundError; one that is not a JSON object or fails
    ``check``, ValueError naming the card.
    """
    card_path = Path(path).with_suffix(".json")
    if not card_path.is_file():
        raise FileNotFoundError(f"no card {card_path} beside the {kind} weights {path}")
    try:
        card = json.loads(card_path.read_text())
        if not isinstance(card, dict):
            raise TypeError("not a JSON object")
        check(card)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{card_path} is not a valid {kind} card: {exc}") from None
    return card


def _check_architecture(card: dict) -> None:
    arch = card["architecture"]
    if not isinstance(arch["name"], str) or not isinstance(arch["config"], dict):
        raise TypeError("architecture must hold a name and a config dict")


def read_card(path) -> dict:
    """The painter card beside a weights file (``x.safetensors`` → ``x.json``)."""
    return read_json_card(path, "painter", _check_architecture)


def check_finite(state: dict, path) -> None:
    """Raise ValueError naming the first tensor of ``state`` (read from ``path``) holding NaN or infinity."""
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{path}: tensor {key!r} holds NaN or infinite values; these weights are corrupt")


def load_weights(path, expected: str | None = None, overrides: dict | None = None) -> Painter:
    """Build the painter described by the card beside ``path`` and load its safetensors weights.

    ``expected`` is the painter name the caller wants; ``overrides`` are constructor arguments that must
    match the card. A corrupt file, a card for another painter or weights of another shape raise
    ValueError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        hint = f" (train and export it with recipes/train_{path.stem.partition('.')[0]}_painter.py)" if path.parent == WEIGHTS_DIR else ""
        raise FileNotFoundError(f"painter weights {path} not found{hint}")
    card = read_card(path)
    arch = card["architecture"]
    brush = card.get("brush")
    if brush is not None and not (isinstance(brush, str) and 0 < len(brush) <= 256):
        raise ValueError(f"{path}: the card's brush must be a MyPaint brush name, got {brush!r}")
    if expected is not None and arch["name"] != expected:
        raise ValueError(f"{path} holds a {arch['name']!r} painter, not {expected!r}")
    if card.get("action_space_version") != A.ACTION_SPACE_VERSION:
        raise ValueError(f"{path} was trained for action space version {card.get('action_space_version')!r}; "
                         f"this strokeparam uses version {A.ACTION_SPACE_VERSION}")
    config = dict(arch["config"])
    _check_dimensions(path, arch["name"], config)
    for key, value in (overrides or {}).items():
        if key in config and config[key] != value:
            raise ValueError(f"{path} holds a painter with {key}={config[key]!r}, not {value!r}; "
                             "use pretrained=False for another architecture")
        config[key] = value
    try:
        painter = painter_class(arch["name"])(**config)
    except TypeError as exc:                    # a key the architecture does not take
        raise ValueError(f"{path}: architecture.config does not fit the {arch['name']!r} painter: {exc}") from None
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{path} is not a readable safetensors file: {exc}") from None
    check_finite(state, path)
    try:
        painter.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise ValueError(f"{path} does not match the {arch['name']!r} architecture of its card: "
                         f"{' '.join(first[:3])}") from None
    painter.card = card
    name = card.get("name")
    painter.name = name if isinstance(name, str) and name.startswith(arch["name"] + ".") and is_painter_name(name) \
        else arch["name"]
    return painter


def _check_dimensions(path, name: str, config: dict) -> None:
    """Refuse card integers past CARD_LIMITS / MAX_CARD_INT, non-finite floats, and an architecture whose
    parameters and buffers (built on the meta device, which allocates nothing) pass MAX_CARD_BYTES."""

    items = [(f"architecture.config.{key}", key, value) for key, value in config.items()]
    for field, key, value in items:
        if isinstance(value, dict):            # nested settings (the GAN's skeleton generator): same limits
            items += [(f"{field}.{k}", k, v) for k, v in value.items()]
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            most = CARD_LIMITS.get(key, MAX_CARD_INT)
            if not 0 <= value <= most:
                raise ValueError(f"{path}: {field} must be an integer in [0, {most}], got {value}")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{path}: {field} must be finite, got {value}")
    try:
        with torch.device("meta"):
            probe = painter_class(name)(**config)
    except (TypeError, ValueError, KeyError, RuntimeError, NotImplementedError):
        return                                  # the real build below reports a bad config
    nbytes = sum(t.numel() * t.element_size() for t in itertools.chain(probe.parameters(), probe.buffers()))
    if nbytes > MAX_CARD_BYTES:
        raise ValueError(f"{path}: the card's {name!r} architecture needs {nbytes / 2 ** 20:.0f} MB of parameters "
                         f"and buffers; a painter card allows at most {MAX_CARD_BYTES / 2 ** 20:.0f} MB")
