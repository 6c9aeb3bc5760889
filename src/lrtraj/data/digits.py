"""``noisy_digits``: scikit-learn's 8x8 digits (ship offline) with fresh Gaussian input noise
and a random shift at every step."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrtraj.data.core import Augment, Batch, DataNotFoundError, TensorDataset, _standardize


def _noisy_copies(x: Tensor, y: Tensor, augment: Augment, seed: int, copies: int) -> Batch:
    """``copies`` fixed augmented copies of ``(x, y)``: the evaluation set for noisy data
    (several copies average out the evaluation noise of a small test set)."""
    gen = torch.Generator().manual_seed(seed)
    xs = [augment(x, gen) for _ in range(copies)]
    return torch.cat(xs), y.repeat(copies)


def _load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1 797 8x8 digits shipped inside scikit-learn, read without importing scikit-learn
    (its import alone costs ~1 s in every job)."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFoundError("data.name: noisy_digits needs scikit-learn installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    if not path.is_file():
        raise DataNotFoundError(f"data.name: scikit-learn's digits file not found at '{path}'")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def stratified_split(
    labels: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class random split, so train and test keep the class proportions."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def noisy_digits(cfg: Mapping[str, Any]) -> TensorDataset:
    """scikit-learn's 8x8 digits with per-step input noise: without the noise a ResNet memorizes
    the 1 347 training images (loss ~1e-4) and no averaging effect is visible; with it,
    constant-lr SGD plateaus like ImageNet training does."""
    images, target = _load_sklearn_digits()
    x = torch.from_numpy(images)[:, None] / 16.0
    y = torch.from_numpy(target)
    train_idx, test_idx = stratified_split(
        target, float(cfg["test_fraction"]), int(cfg["split_seed"])
    )
    train_x, test_x = _standardize(x[train_idx], x[test_idx])
    train_y, test_y = y[train_idx], y[test_idx]
    augment = Augment(max_shift=int(cfg["max_shift"]), noise_sigma=float(cfg["noise_sigma"]))
    seed, copies = int(cfg["eval_noise_seed"]), int(cfg["eval_copies"])
    eval_sets = {
        "train": _noisy_copies(train_x, train_y, augment, seed, copies),
        "test": _noisy_copies(test_x, test_y, augment, seed + 1, copies),
        "test_clean": (test_x, test_y),
    }
    return TensorDataset("noisy_digits", train_x, train_y, eval_sets, augment, 10)
