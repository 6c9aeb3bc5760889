"""The batch stream: step-seeded indices and augmentation, in-memory datasets and their
streams (the determinism contract is in ``lrtraj.data``'s docstring)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor]


class DataNotFoundError(FileNotFoundError):
    """A dataset's files are not where the config says."""


# --------------------------------------------------------------------------- seeds and indices
def step_seed(data_seed: int, step: int, purpose: int = 0) -> int:
    """A 63-bit seed that depends only on ``(data_seed, step, purpose)``."""
    state = np.random.SeedSequence([int(data_seed), int(step), int(purpose)]).generate_state(2)
    return int((int(state[0]) << 32 | int(state[1])) & ((1 << 63) - 1))


@functools.lru_cache(maxsize=4)
def _epoch_permutation(data_seed: int, epoch: int, n: int) -> np.ndarray:
    return np.random.default_rng([int(data_seed), int(epoch), 1]).permutation(n)


def batch_indices(data_seed: int, step: int, batch_size: int, n: int) -> np.ndarray:
    """Indices of the examples in the mini-batch of global ``step``."""
    start = step * batch_size
    out = np.empty(batch_size, dtype=np.int64)
    filled = 0
    while filled < batch_size:
        epoch, offset = divmod(start + filled, n)
        take = min(batch_size - filled, n - offset)
        out[filled : filled + take] = _epoch_permutation(data_seed, epoch, n)[
            offset : offset + take
        ]
        filled += take
    return out


def step_generator(data_seed: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(step_seed(data_seed, step, purpose=2))


def to_device(t: Tensor, device: torch.device) -> Tensor:
    """Copy a host tensor to ``device``. On CUDA through pinned memory, asynchronously: a plain
    ``.to("cuda")`` from pageable memory waits for the GPU to finish all queued work, which
    would stall the host once per step (the step's indices and augmentation draws are made on
    the host, from the step's generator)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


# ---------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Augment:
    """Per-step training augmentation: random shift (= pad-and-crop with zero fill), horizontal
    flip, additive Gaussian noise. All randomness comes from the step's generator."""

    max_shift: int = 0
    flip: bool = False
    noise_sigma: float = 0.0

    def __call__(self, x: Tensor, gen: torch.Generator) -> Tensor:
        n = x.shape[0]
        if self.max_shift:
            offsets = torch.randint(-self.max_shift, self.max_shift + 1, (n, 2), generator=gen)
            x = shift_images(x, to_device(offsets, x.device), self.max_shift)
        if self.flip:
            mask = to_device(torch.rand(n, generator=gen) < 0.5, x.device)
            x = torch.where(mask[:, None, None, None], x.flip(-1), x)
        if self.noise_sigma:
            noise = torch.randn(x.shape, generator=gen, dtype=x.dtype)
            x = x + self.noise_sigma * to_device(noise, x.device)
        return x


def shift_images(x: Tensor, offsets: Tensor, pad: int) -> Tensor:
    """Shift each image by ``offsets[i] = (dy, dx)`` pixels, filling with zeros (vectorized)."""
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = torch.arange(h, device=x.device)[None, :] + pad - offsets[:, :1]
    cols = torch.arange(w, device=x.device)[None, :] + pad - offsets[:, 1:]
    idx = torch.arange(n, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


# ------------------------------------------------------------------------------- datasets
class Stream(Protocol):
    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]: ...


def check_shard(batch_size: int, rank: int, world: int) -> None:
    """A data-parallel rank's shard: ``world`` equal contiguous slices of the global batch."""
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by distributed.ranks={world}: "
            "each rank takes an equal shard of the global batch"
        )
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} is outside 0..{world - 1}")


class Dataset(Protocol):
    name: str
    num_classes: int
    in_channels: int
    splits: tuple[str, ...]

    def stream(self, batch_size: int, data_seed: int, device: torch.device) -> Stream: ...
    def eval_batches(
        self, split: str, batch_size: int, device: torch.device
    ) -> Iterator[Batch]: ...


@dataclass
class TensorStream:
    """The batch stream of an in-memory dataset (tensors live on the training device)."""

    x: Tensor
    y: Tensor
    augment: Augment
    batch_size: int
    data_seed: int
    # data parallel: this rank's contiguous slice of the global batch (lrtraj.distributed)
    rank: int = 0
    world: int = 1

    def shard(self, rank: int, world: int) -> TensorStream:
        check_shard(self.batch_size, rank, world)
        return dataclasses.replace(self, rank=rank, world=world)

    def batch(self, step: int) -> Batch:
        idx = torch.from_numpy(batch_indices(self.data_seed, step, self.batch_size, len(self.y)))
        idx = to_device(idx, self.x.device)
        x = self.augment(self.x[idx], step_generator(self.data_seed, step))
        y = self.y[idx]
        if self.world > 1:
            # the whole batch is augmented first: its draws come from one generator in batch
            # order (cheap next to the step: in-memory data is small images)
            part = slice(self.rank * len(y) // self.world, (self.rank + 1) * len(y) // self.world)
            return x[part], y[part]
        return x, y

    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        for step in range(start, stop):
            yield (step, *self.batch(step))


@dataclass
class TensorDataset:
    """A dataset held in memory: training tensors, augmentation, fixed evaluation splits."""

    name: str
    train_x: Tensor
    train_y: Tensor
    eval_sets: Mapping[str, Batch]
    augment: Augment
    num_classes: int

    @property
    def in_channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.eval_sets)

    def _on(self, device: torch.device, split: str | None = None) -> Batch:
        # one copy per device and split, made once: small datasets live on the training device
        # (no DataLoader, no host-to-device copy per batch)
        cache = self.__dict__.setdefault("_device_copies", {})
        if (device, split) not in cache:
            x, y = (self.train_x, self.train_y) if split is None else self.eval_sets[split]
            cache[(device, split)] = (x.to(device), y.to(device))
        return cache[(device, split)]

    def stream(self, batch_size: int, data_seed: int, device: torch.device) -> TensorStream:
        x, y = self._on(torch.device(device))
        return TensorStream(x, y, self.augment, batch_size, data_seed)

    def eval_batches(self, split: str, batch_size: int, device: torch.device) -> Iterator[Batch]:
        x, y = self._on(torch.device(device), split)
        for i in range(0, len(y), batch_size):
            yield x[i : i + batch_size], y[i : i + batch_size]


def _standardize(train: Tensor, *others: Tensor) -> list[Tensor]:
    dims = (0, 2, 3)
    mean = train.mean(dim=dims, keepdim=True)
    std = train.std(dim=dims, keepdim=True).clamp_min(1e-8)
    return [(t - mean) / std for t in (train, *others)]
