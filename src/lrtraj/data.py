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

import dataclasses
import functools
import pickle
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

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
        target, float(cfg.get("test_fraction", 0.25)), int(cfg.get("split_seed", 0))
    )
    train_x, test_x = _standardize(x[train_idx], x[test_idx])
    train_y, test_y = y[train_idx], y[test_idx]
    augment = Augment(
        max_shift=int(cfg.get("max_shift", 1)), noise_sigma=float(cfg.get("noise_sigma", 1.0))
    )
    seed, copies = int(cfg.get("eval_noise_seed", 12345)), int(cfg.get("eval_copies", 1))
    eval_sets = {
        "train": _noisy_copies(train_x, train_y, augment, seed, copies),
        "test": _noisy_copies(test_x, test_y, augment, seed + 1, copies),
        "test_clean": (test_x, test_y),
    }
    return TensorDataset("noisy_digits", train_x, train_y, eval_sets, augment, 10)


def _require_dir(path: Path, what: str) -> None:
    if not path.exists():
        raise DataNotFoundError(f"data.data_dir: {what} not found at '{path}'")


def _data_dir(cfg: Mapping[str, Any]) -> Path:
    if not cfg.get("data_dir"):
        raise DataNotFoundError(f"data.data_dir must be set for dataset '{cfg['name']}'")
    return Path(cfg["data_dir"]).expanduser()


def _image_tensors(
    name: str, cfg: Mapping[str, Any], train: tuple[Tensor, Tensor], test: tuple[Tensor, Tensor]
) -> TensorDataset:
    """uint8 NHWC/NHW images -> standardized float NCHW; fixed train-eval subset."""

    def to_float(images: Tensor) -> Tensor:
        x = images.float() / 255.0
        x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)
        pool = int(cfg.get("pool", 1))
        return torch.nn.functional.avg_pool2d(x, pool) if pool > 1 else x

    train_x, test_x = _standardize(to_float(train[0]), to_float(test[0]))
    train_y, test_y = train[1].long(), test[1].long()
    n_eval = min(int(cfg.get("train_eval_size", 10_000)), len(train_y))
    eval_idx = torch.from_numpy(
        np.random.default_rng(int(cfg.get("split_seed", 0))).permutation(len(train_y))[:n_eval]
    )
    augment = Augment(max_shift=int(cfg.get("crop_padding", 0)), flip=bool(cfg.get("flip", False)))
    eval_sets = {"train": (train_x[eval_idx], train_y[eval_idx]), "test": (test_x, test_y)}
    num_classes = int(torch.cat([train_y, test_y]).max()) + 1
    return TensorDataset(name, train_x, train_y, eval_sets, augment, num_classes)


def fashion_mnist(cfg: Mapping[str, Any]) -> TensorDataset:
    from torchvision.datasets import FashionMNIST

    root = _data_dir(cfg)
    _require_dir(root / "FashionMNIST" / "raw", "Fashion-MNIST raw IDX files (FashionMNIST/raw/)")
    parts = [FashionMNIST(str(root), train=t, download=False) for t in (True, False)]
    return _image_tensors(
        "fashion_mnist", cfg, (parts[0].data, parts[0].targets), (parts[1].data, parts[1].targets)
    )


_CIFAR_LAYOUT = {
    10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"),
    100: ("cifar-100-python", ["train"], ["test"], "fine_labels"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a pickle from a mirror cannot run code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _read_cifar_batches(folder: Path, files: list[str], label_key: str) -> tuple[Tensor, Tensor]:
    """CIFAR's "python version" batches (the format torchvision's CIFAR10/100 read).

    Read directly rather than through ``torchvision.datasets.CIFAR10``: that class insists on the
    original md5 sums even with downloads off, and copies from mirrors or packages often differ.
    """
    images, labels = [], []
    for name in files:
        path = folder / name
        if not path.is_file():
            raise DataNotFoundError(f"data.data_dir: CIFAR batch file missing: '{path}'")
        with open(path, "rb") as handle:
            entry = _ArrayUnpickler(handle, encoding="latin1").load()
        images.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.extend(entry[label_key])
    x = torch.from_numpy(np.concatenate(images)).permute(0, 2, 3, 1).contiguous()
    return x, torch.tensor(labels, dtype=torch.long)


def cifar(cfg: Mapping[str, Any], classes: int) -> TensorDataset:
    folder_name, train_files, test_files, label_key = _CIFAR_LAYOUT[classes]
    folder = _data_dir(cfg) / folder_name
    _require_dir(folder, f"CIFAR-{classes} python batches ({folder_name}/)")
    train = _read_cifar_batches(folder, train_files, label_key)
    test = _read_cifar_batches(folder, test_files, label_key)
    return _image_tensors(f"cifar{classes}", cfg, train, test)


# ------------------------------------------------------------------------- image folders
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
    eval_idx = np.random.default_rng(int(cfg.get("split_seed", 0))).permutation(len(train_eval))
    eval_folders = {
        "train": torch.utils.data.Subset(train_eval, eval_idx[:n_eval].tolist()),
        "test": datasets.ImageFolder(str(root / "val"), transform=eval_tf),
    }
    return FolderDataset("imagenet", train, eval_folders, train_tf, int(cfg.get("num_workers", 8)))


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
    name = _known(cfg)
    if name == "noisy_digits":  # the labels alone fix the stratified split
        _, labels = _load_sklearn_digits()
        train, test = stratified_split(
            labels, float(cfg.get("test_fraction", 0.25)), int(cfg.get("split_seed", 0))
        )
        copies = int(cfg.get("eval_copies", 1))
        return {"train": len(train) * copies, "test": len(test) * copies, "test_clean": len(test)}
    n_train, n_test = SPLIT_SIZES[name]
    return {"train": min(int(cfg.get("train_eval_size", 10_000)), n_train), "test": n_test}


def image_size(cfg: Mapping[str, Any]) -> int:
    """Side in pixels of the (square) images a model of dataset ``cfg`` sees."""
    name = _known(cfg)
    if name == "imagenet":
        return int(cfg.get("image_size", 224))
    pool = int(cfg.get("pool", 1)) if name != "noisy_digits" else 1
    return IMAGE_SIZES[name] // pool


def load_dataset(cfg: Mapping[str, Any]) -> Dataset:
    """Build the dataset named by ``cfg['name']`` (the ``data`` section of the config)."""
    try:
        factory = DATASETS[cfg["name"]]
    except KeyError:
        raise ValueError(
            f"data.name: unknown dataset {cfg.get('name')!r}; known: {sorted(DATASETS)}"
        ) from None
    return factory(cfg)
