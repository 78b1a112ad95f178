"""ImageNet class logits by index or by name, looked up offline in timm's ImageNet metadata."""

import difflib
import functools
import operator

from .base import Objective, batch_slice, check_channels


class UnknownClassError(KeyError, ValueError):
    """An ImageNet class name that matches no class; the message lists close matches."""

    def __str__(self):
        return str(self.args[0])


@functools.lru_cache(maxsize=None)
def _names():
    """Lower-case synonym or synset id -> class indices (a synonym can name several classes)."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    names = {}
    for index, (synset, description) in enumerate(zip(info.label_names(), info.label_descriptions())):
        names.setdefault(synset.lower(), []).append(index)
        for synonym in description.split(","):
            names.setdefault(synonym.strip().lower(), []).append(index)
    return names


def class_index(cls):
    """The ImageNet-1k index of ``cls``: an index, a name such as ``"giant panda"``, or a synset id."""
    if not isinstance(cls, str):
        try:
            index = operator.index(cls)
        except TypeError:
            raise ValueError(f"an ImageNet class is an int index or a name, got {cls!r}") from None
        if isinstance(cls, bool) or not 0 <= index < 1000:
            raise ValueError(f"ImageNet class index must be in 0..999, got {cls!r}")
        return index
    key = " ".join(cls.lower().split())
    indices = _names().get(key)
    if indices is None:
        close = difflib.get_close_matches(key, list(_names()), n=5, cutoff=0.6)
        hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "no close match"
        raise UnknownClassError(f"unknown ImageNet class {cls!r}: {hint}")
    if len(set(indices)) > 1:
        raise ValueError(f"{cls!r} names several ImageNet classes {sorted(set(indices))}: pass the index")
    return indices[0]


def class_logit(cls, layer="labels", batch=None):
    """Maximize the logit of one class, or the mean logit of several (indices or names)."""
    classes = list(cls) if isinstance(cls, (list, tuple)) else [cls]
    if not classes:
        raise ValueError("class_logit needs at least one class")
    indices = [class_index(c) for c in classes]

    def inner(T):
        acts = T(layer)
        check_channels(acts, layer, indices)
        return -batch_slice(acts, batch)[:, indices].mean()

    return Objective(inner, "class_logit", f"Class Logit [{', '.join(map(str, indices))}]")
