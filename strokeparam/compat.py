"""Make torch-lucent 0.1.8 run with current kornia and with strokeparam's classifiers, without touching
site-packages.

Lucent 0.1.8 (2021) calls ``kornia.get_rotation_matrix2d`` and ``kornia.warp_affine``, which current kornia
keeps in ``kornia.geometry.transform``, and it compares versions as strings (``KORNIA_VERSION < '0.4.0'``),
which goes wrong from kornia 0.10 on. Its ``render_vis`` normalizes images ImageNet-style by default
(``preprocess=True``), a second time for a classifier that normalizes its own input, and its objective
strings take channel numbers only. :func:`patch_lucent` fixes all of it in memory.
"""

import functools
import inspect
import re

_MOVED = ("get_rotation_matrix2d", "warp_affine")


class _Version(str):
    """A version string that compares numerically (``'0.10.0' > '0.4.0'``)."""

    def _key(self):
        return tuple(int(part) for part in re.findall(r"\d+", self.split("+")[0])[:3])

    def _other(self, other):
        return _Version(other)._key() if isinstance(other, str) else NotImplemented

    def __lt__(self, other):
        key = self._other(other)
        return key if key is NotImplemented else self._key() < key

    def __le__(self, other):
        key = self._other(other)
        return key if key is NotImplemented else self._key() <= key

    def __gt__(self, other):
        key = self._other(other)
        return key if key is NotImplemented else self._key() > key

    def __ge__(self, other):
        key = self._other(other)
        return key if key is NotImplemented else self._key() >= key



def patch_lucent():
    """Patch Lucent in memory; idempotent. After it, Lucent's kornia calls work, ``lucent.optvis.render.
    render_vis`` skips ``preprocess`` for a model that normalizes its own input (strokeparam's classifiers;
    see :func:`strokeparam.render.skips_preprocess`), and ``"labels:giant panda"`` names an ImageNet class.

    Returns True when Lucent was found and is patched, False (doing nothing) when Lucent is not installed.
    """
    try:
        import kornia
        from kornia.geometry import transform as geometry
        from lucent.optvis import objectives as lucent_objectives
        from lucent.optvis import render as lucent_render
        from lucent.optvis import transform as lucent_transform
    except ImportError:
        return False
    for name in _MOVED:
        if not hasattr(kornia, name):
            setattr(kornia, name, getattr(geometry, name))
    lucent_transform.KORNIA_VERSION = _Version(kornia.__version__)
    if not hasattr(lucent_render.render_vis, "__wrapped__"):
        lucent_render.render_vis = _own_normalization(lucent_render.render_vis)
    if not hasattr(lucent_objectives.as_objective, "__wrapped__"):
        lucent_objectives.as_objective = _class_names(lucent_objectives.as_objective)
    return True


def _own_normalization(render_vis):
    """Lucent's render_vis with ``preprocess`` off for models that normalize their own input."""
    signature = inspect.signature(render_vis)

    @functools.wraps(render_vis)
    def wrapper(*args, **kwargs):
        from .render import skips_preprocess
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if bound.arguments["preprocess"] and skips_preprocess(bound.arguments["model"]):
            bound.arguments["preprocess"] = False
        return render_vis(*bound.args, **bound.kwargs)
    return wrapper


def _class_names(as_objective):
    """Lucent's as_objective reading ``"labels:<ImageNet class name>"`` as that class's channel."""
    @functools.wraps(as_objective)
    def wrapper(obj):
        if isinstance(obj, str):
            layer, _, index = obj.partition(":")
            if layer.strip() == "labels" and index.strip() and not index.strip().isdigit():
                from .objectives.classes import class_index
                obj = f"labels:{class_index(index.strip())}"
        return as_objective(obj)
    return wrapper
