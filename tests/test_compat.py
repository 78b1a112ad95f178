"""strokeparam.compat: torch-lucent 0.1.8 on current kornia, patched in memory."""

import sys

import kornia
import pytest
import torch
from kornia.geometry import transform as geometry

from strokeparam.compat import _Version, patch_lucent

lucent_transform = pytest.importorskip("lucent.optvis.transform")


def test_patch_aliases_moved_kornia_names_and_is_idempotent():
    assert patch_lucent() is True
    assert patch_lucent() is True
    assert kornia.get_rotation_matrix2d is geometry.get_rotation_matrix2d
    assert kornia.warp_affine is geometry.warp_affine


def test_lucent_standard_transforms_run_after_patch():
    patch_lucent()
    torch.manual_seed(0)
    image = torch.rand(1, 3, 64, 64, requires_grad=True)
    out = lucent_transform.compose(lucent_transform.standard_transforms)(image)
    assert out.shape[:2] == (1, 3) and out.shape[-1] >= 80
    out.mean().backward()
    assert image.grad.abs().sum() > 0


def test_version_compares_numerically(monkeypatch):
    assert not _Version("0.10.0") < "0.4.0"
    assert _Version("0.3.2") < "0.4.0" and _Version("0.4.0") <= "0.4.0"
    assert _Version("1.0.0rc1") > "0.4.1" and _Version("0.9.0+cpu") >= "0.9.0"
    monkeypatch.setattr(kornia, "__version__", "0.10.0")
    monkeypatch.setattr(lucent_transform, "KORNIA_VERSION", "0.10.0")
    assert lucent_transform.KORNIA_VERSION < "0.4.0"  # Lucent's string comparison goes wrong
    patch_lucent()
    assert not lucent_transform.KORNIA_VERSION < "0.4.0"
    assert lucent_transform.KORNIA_VERSION == "0.10.0"


def test_no_op_without_lucent(monkeypatch):
    monkeypatch.setitem(sys.modules, "lucent.optvis", None)
    assert patch_lucent() is False
