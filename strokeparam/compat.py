"""Make torch-lucent 0.1.8 run with current kornia, without touching site-packages.

Lucent 0.1.8 (2021) calls ``kornia.get_rotation_matrix2d`` and ``kornia.warp_affine``, which current kornia
keeps in ``kornia.geometry.transform``, and it compares versions as strings (``KORNIA_VERSION < '0.4.0'``),
which goes wrong from kornia 0.10 on. :func:`patch_lucent` fixes both in memory.
"""

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
    """Patch Lucent's kornia use in memory; idempotent.

    Returns True when Lucent was found and is patched, False (doing nothing) when Lucent is not installed.
    """
    try:
        import kornia
        from kornia.geometry import transform as geometry
        from lucent.optvis import transform as lucent_transform
    except ImportError:
        return False
    for name in _MOVED:
        if not hasattr(kornia, name):
            setattr(kornia, name, getattr(geometry, name))
    lucent_transform.KORNIA_VERSION = _Version(kornia.__version__)
    return True
