"""Datasets read from disk into memory: Fashion-MNIST (IDX files) and CIFAR-10/100
(python batches), standardized and held as tensors (no DataLoader)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lrtraj.data.core import Augment, DataNotFoundError, TensorDataset, _standardize


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
        pool = int(cfg["pool"])
        return torch.nn.functional.avg_pool2d(x, pool) if pool > 1 else x

    train_x, test_x = _standardize(to_float(train[0]), to_float(test[0]))
    train_y, test_y = train[1].long(), test[1].long()
    n_eval = min(int(cfg.get("train_eval_size", 10_000)), len(train_y))
    eval_idx = torch.from_numpy(
        np.random.default_rng(int(cfg["split_seed"])).permutation(len(train_y))[:n_eval]
    )
    augment = Augment(max_shift=int(cfg["crop_padding"]), flip=bool(cfg["flip"]))
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
