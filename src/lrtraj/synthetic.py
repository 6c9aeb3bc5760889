"""Synthetic CIFAR in CIFAR's own on-disk format (the "python version" pickles), for rehearsals,
tests and timing runs where the real data is not at hand (a cluster node without network).

``lrtraj synthetic-cifar DEST`` writes ``DEST/cifar-10-batches-py/`` (``data_batch_1..5``,
``test_batch``, ``batches.meta``) or, with ``--classes 100``, ``DEST/cifar-100-python/``
(``train``, ``test``, ``meta``): the files ``lrtraj.data`` reads for ``data.name: cifar10`` /
``cifar100`` with ``data.data_dir: DEST``. 32x32x3 uint8 images, as the real ones.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from lrtraj.atomic import target

CIFAR_FOLDERS = {10: "cifar-10-batches-py", 100: "cifar-100-python"}
# learnable templates are drawn on a coarse grid and upsampled: smooth class patterns survive
# CIFAR's pad-4 crop and flip, which random pixels would not
_TEMPLATE_GRID = 4


def _write_pickle(path: Path, obj: Any) -> None:
    with target(path) as tmp:
        tmp.write_bytes(pickle.dumps(obj))


def _templates(rng: np.random.Generator, classes: int) -> np.ndarray:
    coarse = rng.integers(0, 256, (classes, 3, _TEMPLATE_GRID, _TEMPLATE_GRID))
    scale = 32 // _TEMPLATE_GRID
    fine = coarse.repeat(scale, axis=2).repeat(scale, axis=3)
    return fine.reshape(classes, 3072).astype(np.int16)


def write_cifar(
    root: Path,
    classes: int,
    n_train: int = 40,
    n_test: int = 20,
    seed: int = 0,
    learnable: bool = False,
) -> Path:
    """CIFAR-10/100 "python version" batches under ``root`` (returned, the ``data_dir``).

    Images are uniform random pixels with random labels, or with ``learnable`` each image is its
    class's smooth random template plus pixel noise, so a network can learn the labels (a
    stand-in of the real data's size and format for rehearsals and timing). CIFAR-10's training
    images are split evenly over the five batches (``n_train`` rounded down to a multiple of 5).
    """
    if classes not in CIFAR_FOLDERS:
        raise ValueError(f"classes: CIFAR has 10 or 100 classes, not {classes}")
    rng = np.random.default_rng(seed)
    label_key = "labels" if classes == 10 else "fine_labels"
    folder = Path(root) / CIFAR_FOLDERS[classes]
    folder.mkdir(parents=True, exist_ok=True)
    templates = _templates(rng, classes) if learnable else None

    def batch(n: int) -> dict:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, classes, n)
        if templates is not None:
            noise = rng.integers(-96, 97, (n, 3072), dtype=np.int16)
            data = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
        return {"data": data, label_key: labels.tolist()}

    if classes == 10:
        for i in range(1, 6):
            _write_pickle(folder / f"data_batch_{i}", batch(n_train // 5))
        _write_pickle(folder / "test_batch", batch(n_test))
        _write_pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)]})
    else:
        _write_pickle(folder / "train", batch(n_train))
        _write_pickle(folder / "test", batch(n_test))
        _write_pickle(folder / "meta", {"fine_label_names": [f"c{i}" for i in range(100)]})
    return Path(root)
