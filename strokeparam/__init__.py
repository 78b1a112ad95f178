"""strokeparam: brushstrokes as a differentiable image parameterization (a Lucent plugin)."""
import importlib

__version__ = "0.1.0"
_EXPORTS = {
    "BrushstrokeParam": "param", "render_vis": "render", "create_painter": "painters",
    "list_painters": "painters", "load_classifier": "models", "Ensemble": "models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    """Import the public names on first use, so `import strokeparam` (and the CLI's --help) is instant."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'strokeparam' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
