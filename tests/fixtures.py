"""Tiny datasets written in the real on-disk formats (CIFAR python pickles, IDX, ImageFolder)."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np

from lrtraj.synthetic import write_cifar  # noqa: F401 (tests and bench use it from here)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
IDX_NAMES = {
    "train-images-idx3-ubyte": ("images", True),
    "train-labels-idx1-ubyte": ("labels", True),
    "t10k-images-idx3-ubyte": ("images", False),
    "t10k-labels-idx1-ubyte": ("labels", False),
}


def _idx(array: np.ndarray) -> bytes:
    magic = 0x0800 | array.ndim
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_fashion_mnist(root: Path, n_train: int = 60, n_test: int = 30, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, (kind, train) in IDX_NAMES.items():
        n = n_train if train else n_test
        if kind == "images":
            arr = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        else:
            arr = (np.arange(n) % 10).astype(np.uint8)
        (raw / name).write_bytes(_idx(arr))
    return root


def write_image_folder(root: Path, classes: int = 3, per_class: int = 4, size: int = 40) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for part in ("train", "val"):
        for c in range(classes):
            folder = root / part / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"img{i}.png")
    return root


def debian_fashion_mnist(root: Path) -> Path | None:
    """Gunzip Debian's dataset-fashion-mnist files into torchvision's layout, if installed."""
    if not all((DEBIAN_FASHION_MNIST / f"{n}.gz").is_file() for n in IDX_NAMES):
        return None
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in IDX_NAMES:
        with gzip.open(DEBIAN_FASHION_MNIST / f"{name}.gz") as src, open(raw / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return root
