"""What every probe shares: a model loaded from a main-trajectory checkpoint, fixed batches, the
BatchNorm mode a loss is measured in, and the loss or gradient on one batch.

Probes never change the model they measure: BatchNorm "train" mode here means *batch statistics
without touching the running buffers* (``track_running_stats`` is switched off for the duration),
and gradients come from ``torch.autograd.grad`` (the parameters' ``.grad`` stay as they were).
That is what lets the alignment probe run as a callback inside the training loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lrtraj import checkpoint
from lrtraj.data import Batch, Dataset
from lrtraj.models import build_model

BATCHNORM_MODES = ("train", "eval")


@contextlib.contextmanager
def bn_mode(model: nn.Module, mode: str) -> Iterator[nn.Module]:
    """Measure ``model`` with BatchNorm batch statistics (``"train"``: every module in training
    mode, running buffers left alone) or running statistics (``"eval"``); restore on exit."""
    if mode not in BATCHNORM_MODES:
        raise ValueError(f"batchnorm mode must be one of {BATCHNORM_MODES}, got {mode!r}")
    saved = [(m, m.training, getattr(m, "track_running_stats", None)) for m in model.modules()]
    try:
        for m in model.modules():
            m.training = mode == "train"
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and mode == "train":
                m.track_running_stats = False
        yield model
    finally:
        for m, training, track in saved:
            m.training = training
            if track is not None:
                m.track_running_stats = track


def batch_loss(model: nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
    """Mean cross-entropy (float32) and accuracy of ``model`` on one batch, as 0-d tensors."""
    x, y = batch
    logits = model(x)
    loss = nn.functional.cross_entropy(logits.float(), y)
    return loss, (logits.argmax(1) == y).float().mean()


def parameters(model: nn.Module) -> list[Tensor]:
    return [p for p in model.parameters()]


def gradient(model: nn.Module, batch: Batch, mode: str = "train") -> tuple[list[Tensor], float]:
    """Gradient of the batch loss w.r.t. the parameters (detached), and the loss itself.

    ``mode="train"`` is the gradient an SGD step on this batch applies."""
    params = parameters(model)
    with bn_mode(model, mode), torch.enable_grad():
        loss, _ = batch_loss(model, batch)
        grads = torch.autograd.grad(loss, params)
    return [g.detach() for g in grads], float(loss.detach())


def flat(tensors: Sequence[Tensor]) -> Tensor:
    """One float64 vector (for cosines and norms that must not lose precision)."""
    return torch.cat([t.reshape(-1).double() for t in tensors])


def cosine(a: Tensor, b: Tensor) -> float:
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def fetch_batch(
    dataset: Dataset, batch_size: int, data_seed: int, step: int, device: torch.device
) -> Batch:
    """The batch of ``(data_seed, step)`` at ``batch_size``: a pure function of its arguments,
    so "the fixed batch" is the same tensor in every job that asks for it."""
    _, x, y = next(iter(dataset.stream(batch_size, data_seed, device).batches(step, step + 1)))
    return x, y


def load_network(
    path: str | Path,
    dataset: Dataset,
    model_cfg: Mapping[str, Any],
    device: torch.device,
    expect_step: int | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a main-trajectory checkpoint on ``device``, and the checkpoint itself."""
    state = checkpoint.load(path, map_location=device)
    if expect_step is not None and int(state["step"]) != int(expect_step):
        raise checkpoint.CheckpointError(
            f"{path} holds step {state['step']}, expected step {expect_step}"
        )
    net = build_model(
        model_cfg["name"], dataset.in_channels, dataset.num_classes, model_cfg.get("widths")
    )
    net.load_state_dict(state["model"])
    return net.to(device), state
