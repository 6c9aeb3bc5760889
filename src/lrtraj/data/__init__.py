"""Datasets and the batch stream.

The mini-batch seen at global step ``s`` (its indices and its augmentation randomness) is a pure
function of ``(data_seed, s)``: epoch ``e`` visits a permutation drawn from ``(data_seed, e)``,
step ``s`` takes positions ``[s*B, (s+1)*B)`` of the concatenated epochs, and its augmentation
draws from a generator seeded by ``(data_seed, s)``. No RNG state is carried between steps, so a
side-trip replays the main trajectory's batches from its branch step, a resumed run sees exactly
the batches it would have seen, and another ``data_seed`` gives an independent trajectory.

Registry (``load_dataset``): ``noisy_digits`` (scikit-learn's digits, ships offline; fresh
Gaussian input noise and a random shift at every step), ``fashion_mnist``, ``cifar10``,
``cifar100`` (torchvision's formats, held in memory as tensors, no DataLoader) and ``imagenet``
(torchvision ImageFolder layout, a DataLoader with workers and pinned memory).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from lrtraj.config import with_defaults
from lrtraj.data.core import (
    Augment,
    Batch,
    DataNotFoundError,
    Dataset,
    Stream,
    TensorDataset,
    TensorStream,
    batch_indices,
    check_shard,
    shift_images,
    step_generator,
    step_seed,
    to_device,
)
from lrtraj.data.digits import _load_sklearn_digits, noisy_digits, stratified_split
from lrtraj.data.files import cifar, fashion_mnist
from lrtraj.data.imagenet import FolderDataset, FolderStream, imagenet

__all__ = [
    "DATASETS",
    "Augment",
    "Batch",
    "DataNotFoundError",
    "Dataset",
    "FolderDataset",
    "FolderStream",
    "Stream",
    "TensorDataset",
    "TensorStream",
    "batch_indices",
    "check_shard",
    "eval_split_sizes",
    "image_size",
    "load_dataset",
    "shift_images",
    "step_generator",
    "step_seed",
    "stratified_split",
    "to_device",
]

DATASETS: dict[str, Callable[[Mapping[str, Any]], Dataset]] = {
    "noisy_digits": noisy_digits,
    "fashion_mnist": fashion_mnist,
    "cifar10": functools.partial(cifar, classes=10),
    "cifar100": functools.partial(cifar, classes=100),
    "imagenet": imagenet,
}


# Images in the training and test splits of the datasets read from disk (the standard releases:
# Fashion-MNIST, CIFAR's python batches, ILSVRC-2012 train/val): what ``eval_split_sizes``
# counts without reading the files.
SPLIT_SIZES: dict[str, tuple[int, int]] = {
    "fashion_mnist": (60_000, 10_000),
    "cifar10": (50_000, 10_000),
    "cifar100": (50_000, 10_000),
    "imagenet": (1_281_167, 50_000),
}
# side of the images each loader yields, before ``data.pool`` (ImageNet: ``data.image_size``)
IMAGE_SIZES: dict[str, int] = {
    "noisy_digits": 8,
    "fashion_mnist": 28,
    "cifar10": 32,
    "cifar100": 32,
}


def _known(cfg: Mapping[str, Any]) -> str:
    if cfg["name"] not in DATASETS:
        raise ValueError(f"data.name: unknown dataset {cfg['name']!r}; known: {sorted(DATASETS)}")
    return cfg["name"]


def eval_split_sizes(cfg: Mapping[str, Any]) -> dict[str, int]:
    """Images in each evaluation split of the dataset ``cfg`` (the ``data`` section) describes,
    counted without loading the images: what one evaluation of a model forwards."""
    name, cfg = _known(cfg), with_defaults("data", cfg)
    if name == "noisy_digits":  # the labels alone fix the stratified split
        _, labels = _load_sklearn_digits()
        train, test = stratified_split(labels, float(cfg["test_fraction"]), int(cfg["split_seed"]))
        copies = int(cfg["eval_copies"])
        return {"train": len(train) * copies, "test": len(test) * copies, "test_clean": len(test)}
    n_train, n_test = SPLIT_SIZES[name]
    return {"train": min(int(cfg.get("train_eval_size", 10_000)), n_train), "test": n_test}


def image_size(cfg: Mapping[str, Any]) -> int:
    """Side in pixels of the (square) images a model of dataset ``cfg`` sees."""
    name, cfg = _known(cfg), with_defaults("data", cfg)
    if name == "imagenet":
        return int(cfg.get("image_size", 224))
    pool = int(cfg["pool"]) if name != "noisy_digits" else 1
    return IMAGE_SIZES[name] // pool


def load_dataset(cfg: Mapping[str, Any]) -> Dataset:
    """Build the dataset named by ``cfg['name']`` (the ``data`` section of the config)."""
    try:
        factory = DATASETS[cfg["name"]]
    except KeyError:
        raise ValueError(
            f"data.name: unknown dataset {cfg.get('name')!r}; known: {sorted(DATASETS)}"
        ) from None
    return factory(with_defaults("data", cfg))
