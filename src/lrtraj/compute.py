"""Where and how training computes: the device, and the GPU fast paths, each on by config.

The ``compute`` section of the config (each off unless set: the paper-scale overlays turn all
on, the CPU default ``channels_last``)::

    channels_last    NHWC memory layout for the model and its inputs (tensor-core convolutions)
    autocast         "none" | "bf16": the training step's forward and backward in bfloat16
                     (weights, gradients, momentum and averages stay float32)
    compile          torch.compile the training forward (the model itself stays a plain module,
                     so checkpoints, averaging and evaluation never see a compiled wrapper)
    cudnn_benchmark  let cuDNN time and pick its fastest convolution algorithms

``channels_last`` lays out the model itself and ``cudnn_benchmark`` is process-wide, so
evaluation uses both; ``autocast`` and ``compile`` concern the SGD step alone. Evaluation,
BatchNorm recomputation and the probes never autocast, so what they report does not depend on
the training precision (on GPUs their convolutions take PyTorch's default TF32 path: 10-bit
mantissa products, float32 accumulation). On CPU, runs with ``channels_last`` and bf16 autocast
are deterministic and resume bit-identically (tested); ``channels_last`` alone also pays there
(oneDNN's NHWC convolutions, ``bench/bench_training.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import Tensor, nn

AUTOCAST_DTYPES = {"none": None, "bf16": torch.bfloat16}


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda[:i]`` or ``auto`` (cuda when available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device: '{name}' requested but CUDA is not available on this host")
    return device


@dataclass(frozen=True)
class Compute:
    channels_last: bool = False
    autocast: str = "none"
    compile: bool = False
    cudnn_benchmark: bool = False

    def __post_init__(self) -> None:
        if self.autocast not in AUTOCAST_DTYPES:
            raise ValueError(
                f"compute.autocast: {self.autocast!r} is not one of {sorted(AUTOCAST_DTYPES)}"
            )

    @classmethod
    def from_config(cls, cfg: Compute | Mapping[str, Any] | None) -> Compute:
        if isinstance(cfg, Compute):
            return cfg
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg or {}) - known)
        if unknown:
            raise ValueError(f"compute: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**dict(cfg or {}))

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def place(self, model: nn.Module, device: torch.device) -> nn.Module:
        """Move ``model`` to ``device`` in the configured memory layout (in place)."""
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = self.cudnn_benchmark
        return model.to(device=device, memory_format=self.memory_format)

    def forward(self, model: nn.Module) -> Callable[[Tensor], Tensor]:
        """The callable the SGD step runs: ``model`` or its compiled forward (same parameters)."""
        return torch.compile(model) if self.compile else model

    def inputs(self, x: Tensor) -> Tensor:
        """A batch in the model's memory layout (a no-op when it already is)."""
        return x.contiguous(memory_format=self.memory_format) if x.ndim == 4 else x

    def step_context(self, device: torch.device) -> contextlib.AbstractContextManager:
        """Mixed precision for the training step's forward (the backward follows it)."""
        dtype = AUTOCAST_DTYPES[self.autocast]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=dtype)
