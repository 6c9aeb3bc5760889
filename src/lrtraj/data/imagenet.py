"""ImageNet in torchvision's ImageFolder layout, through a DataLoader whose sampler and
per-image seeds follow the step (workers, pinned memory)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrtraj.data.core import Batch, batch_indices, check_shard, step_seed
from lrtraj.data.files import _data_dir, _require_dir


class _SeededFolder(torch.utils.data.Dataset):
    """ImageFolder whose random transforms draw from a seed passed with each index."""

    def __init__(self, folder: Any, transform: Callable[[Any], Tensor]) -> None:
        self.folder, self.transform = folder, transform

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, item: tuple[int, int]) -> tuple[Tensor, int]:
        index, seed = item
        path, label = self.folder.samples[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(self.folder.loader(path)), label


@dataclass
class _StepSampler(torch.utils.data.Sampler):
    data_seed: int
    batch_size: int
    n: int
    start: int
    stop: int
    rank: int = 0
    world: int = 1

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        share = self.batch_size // self.world
        for step in range(self.start, self.stop):
            idx = batch_indices(self.data_seed, step, self.batch_size, self.n)
            # a rank decodes only its shard; each image keeps its global position's seed
            part = range(self.rank * share, (self.rank + 1) * share)
            yield [(int(idx[j]), step_seed(self.data_seed, step, 3 + j)) for j in part]

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass
class FolderStream:
    dataset: _SeededFolder
    batch_size: int
    data_seed: int
    device: torch.device
    num_workers: int
    rank: int = 0
    world: int = 1

    def shard(self, rank: int, world: int) -> FolderStream:
        check_shard(self.batch_size, rank, world)
        return dataclasses.replace(self, rank=rank, world=world)

    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        sampler = _StepSampler(
            self.data_seed, self.batch_size, len(self.dataset), start, stop, self.rank, self.world
        )
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for step, (x, y) in zip(range(start, stop), loader, strict=True):
            yield step, x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)


@dataclass
class FolderDataset:
    """ImageNet-style data in torchvision's ImageFolder layout:
    ``<data_dir>/{train,val}/<class>/<image>``."""

    name: str
    train: Any
    eval_folders: Mapping[str, Any]
    train_transform: Callable[[Any], Tensor]
    num_workers: int

    @property
    def num_classes(self) -> int:
        return len(self.train.classes)

    in_channels = 3

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.eval_folders)

    def stream(self, batch_size: int, data_seed: int, device: torch.device) -> FolderStream:
        seeded = _SeededFolder(self.train, self.train_transform)
        return FolderStream(seeded, batch_size, data_seed, torch.device(device), self.num_workers)

    def eval_batches(self, split: str, batch_size: int, device: torch.device) -> Iterator[Batch]:
        loader = torch.utils.data.DataLoader(
            self.eval_folders[split],
            batch_size=batch_size,
            num_workers=self.num_workers,
            pin_memory=torch.device(device).type == "cuda",
        )
        for x, y in loader:
            yield x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def imagenet(cfg: Mapping[str, Any]) -> FolderDataset:
    from torchvision import datasets, transforms

    root = _data_dir(cfg)
    for part in ("train", "val"):
        _require_dir(root / part, f"ImageNet '{part}' folder (ImageFolder layout <class>/<image>)")
    size = int(cfg.get("image_size", 224))
    normalize = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    train_tf = transforms.Compose(
        [
            transforms.RandomResizedCrop(size),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            normalize,
        ]
    )
    eval_tf = transforms.Compose(
        [
            transforms.Resize(int(size * 256 / 224)),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            normalize,
        ]
    )
    train = datasets.ImageFolder(str(root / "train"))
    train_eval = datasets.ImageFolder(str(root / "train"), transform=eval_tf)
    n_eval = min(int(cfg.get("train_eval_size", 10_000)), len(train_eval))
    eval_idx = np.random.default_rng(int(cfg["split_seed"])).permutation(len(train_eval))
    eval_folders = {
        "train": torch.utils.data.Subset(train_eval, eval_idx[:n_eval].tolist()),
        "test": datasets.ImageFolder(str(root / "val"), transform=eval_tf),
    }
    workers = loader_workers(int(cfg["num_workers"]))
    return FolderDataset("imagenet", train, eval_folders, train_tf, workers)


def loader_workers(requested: int, cpus: int | None = None) -> int:
    """DataLoader workers that fit the CPUs this job was given (``resources.cpus_per_task``
    under SLURM, which sets the process's CPU affinity): at most one per CPU beside the
    training process, so 16 workers on a 4-CPU allocation do not fight over 4 cores."""
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(requested, max(0, (cpus or 1) - 1))
