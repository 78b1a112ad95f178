"""The command-line options every recipe shares: preset overrides (``--steps``, ``--set KEY=VALUE``) and
the ranges of the run flags."""
from __future__ import annotations

import json
import math

POSITIVE = frozenset({"steps", "batch_size", "log_every", "strokes", "limit"})   # preset entries that must be >= 1


def preset_config(presets: dict, args, keys) -> dict:
    """The preset ``args.preset`` with the positive integer overrides ``keys`` of ``args`` (e.g. steps),
    then the ``--set KEY=VALUE`` overrides of ``args.set``.

    A ``--set`` value must be JSON of the preset entry's kind (an integer for an integer, a number for a
    float, the same keys for a dict, ...), finite and not negative (at least 1 for the entries in
    :data:`POSITIVE`); anything else exits with one line naming the entry.
    """
    cfg = dict(presets[args.preset])
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise SystemExit(f"--{key.replace('_', '-')} must be >= 1")
            cfg[key] = value
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in cfg:
            raise SystemExit(f"--set {item}: unknown preset entry {key!r}; entries: {', '.join(sorted(cfg))}")
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            raise SystemExit(f"--set {item}: {value!r} is not a JSON value") from None
        problem = _override_problem(key, parsed, cfg[key])
        if problem:
            raise SystemExit(f"--set {item}: {problem}")
        cfg[key] = tuple(parsed) if isinstance(cfg[key], tuple) else parsed
    return cfg


def _override_problem(key: str, value, preset) -> str | None:
    """Why ``value`` cannot replace the preset entry ``key`` (whose preset value is ``preset``), or None."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    if preset is None:
        return None
    if isinstance(preset, bool):
        return None if isinstance(value, bool) else f"{key} must be true or false, got {value!r}"
    if number(preset):
        integer = isinstance(preset, int)
        kind = "an integer" if integer else "a number"
        if not number(value) or (integer and not isinstance(value, int)):
            return f"{key} must be {kind} (the preset has {preset!r}), got {value!r}"
        if not math.isfinite(value):
            return f"{key} must be a finite number, got {value!r}"
        low = 1 if key in POSITIVE else 0
        if value < low:
            return f"{key} must be {kind} >= {low}, got {value!r}"
        return None
    if isinstance(preset, str):
        return None if isinstance(value, str) else f"{key} must be a string, got {value!r}"
    if isinstance(preset, (list, tuple)):
        if not isinstance(value, list) or len(value) != len(preset):
            return f"{key} must be a list of {len(preset)} like {list(preset)!r}, got {value!r}"
        for i, (v, p) in enumerate(zip(value, preset)):
            problem = _override_problem(f"{key}[{i}]", v, p)
            if problem:
                return problem
        return None
    if isinstance(preset, dict):
        if not isinstance(value, dict):
            return f"{key} must be a JSON object like {json.dumps(preset)}, got {value!r}"
        unknown = sorted(set(value) - set(preset))
        if unknown:
            return f"{key} has unknown entries {unknown}; entries: {', '.join(sorted(preset))}"
        for k, v in value.items():
            problem = _override_problem(f"{key}.{k}", v, preset[k])
            if problem:
                return problem
        return None
    return None


def check_run_args(args) -> None:
    """Exit with one line when a common training flag is out of range (threads, minutes)."""
    threads, max_minutes = getattr(args, "threads", None), getattr(args, "max_minutes", None)
    every = getattr(args, "checkpoint_minutes", 3.0)
    if threads is not None and threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {threads}")
    if max_minutes is not None and not (math.isfinite(max_minutes) and max_minutes > 0):
        raise SystemExit(f"--max-minutes must be a positive number, got {max_minutes}")
    if not (math.isfinite(every) and every >= 0):
        raise SystemExit(f"--checkpoint-minutes must be a number >= 0, got {every}")
