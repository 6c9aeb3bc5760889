"""Losses along a line in weight space, ``w(t) = base - t * direction``, and the one-step sweep
built on it (fig2, fig12, fig13).

A one-step sweep is the line through the checkpoint along its batch gradient (``t`` = lr); a
linear interpolation from ``a`` to ``b`` is the line with ``direction = a - b`` (``t`` = alpha).
The gradient is computed once; the weights for each ``t`` are written into the model's own
parameters (``"inplace"``) or stacked and evaluated with ``torch.func.functional_call`` under
``vmap`` in chunks (``"vmap"``), never a model copy per point (``"copy"`` is kept as the
reference the other two are tested against). ``"auto"`` picks ``inplace`` on CPU, where the
forwards themselves are the floor and batching them gains nothing, and on GPU ``vmap`` only when
one forward pass is short enough to be launch-bound (``VMAP_MAX_FORWARD_S``): there one batched
call replaces many small kernel launches, while a big network at a big batch already fills the
GPU and ``vmap``'s grouped convolutions are slower than plain ones. Measured on an H200
(``bench/bench_sweep.py``, 31 lrs x 2 batches, time / forwards-only floor): ResNet-8 on 8x8
digits, batch 64 (1 ms per forward): inplace 1.28, vmap 0.21 (chunk 31), 0.73 (chunk 8);
ResNet-34 at 224 px, batch 128 (11 ms per forward): inplace 1.02, vmap 1.39.

A diverging point (huge lr) gives NaN/inf losses: recorded as data, never raised.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lrtraj.data import Batch, Dataset
from lrtraj.metrics import conform
from lrtraj.probes import PROBE_BATCHES, SWEEP_COLUMNS
from lrtraj.probes.core import batch_loss, bn_mode, fetch_batch, gradient, load_network, parameters

log = logging.getLogger("lrtraj.probes.sweep")

METHODS = ("auto", "inplace", "vmap", "copy")
VMAP_MAX_FORWARD_S = 4e-3  # on GPU, vmap pays below this time per forward (launch-bound)


def _forward_seconds(model: nn.Module, batch: Batch) -> float:
    """Wall time of one forward pass on a GPU (after one warm-up pass)."""
    device = batch[0].device
    with torch.no_grad():
        batch_loss(model, batch)
        torch.cuda.synchronize(device)
        start = time.perf_counter()
        batch_loss(model, batch)
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def resolve_method(
    method: str, device: torch.device, model: nn.Module | None = None, batch: Batch | None = None
) -> str:
    """The evaluation path for ``method`` (``"auto"``: see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"sweep method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    if torch.device(device).type != "cuda":
        return "inplace"
    if model is None or batch is None:
        return "vmap"
    return "vmap" if _forward_seconds(model, batch) < VMAP_MAX_FORWARD_S else "inplace"


def lr_grid(lr_min: float, lr_max: float, num: int) -> np.ndarray:
    """Log-spaced learning rates from ``lr_min`` to ``lr_max`` inclusive."""
    return np.logspace(np.log10(lr_min), np.log10(lr_max), int(num))


def _set_point(params: Sequence[Tensor], base, direction, t: float) -> None:
    with torch.no_grad():
        for p, b, d in zip(params, base, direction, strict=True):
            torch.add(b, d, alpha=-t, out=p)


def _inplace(model, base, direction, ts, batches) -> np.ndarray:
    params = parameters(model)
    saved = [p.detach().clone() for p in params]
    out = torch.empty(len(ts), len(batches), 2, dtype=torch.float64, device=saved[0].device)
    try:
        with torch.no_grad():
            for i, t in enumerate(ts):
                _set_point(params, base, direction, float(t))
                for j, batch in enumerate(batches):
                    loss, acc = batch_loss(model, batch)
                    out[i, j, 0], out[i, j, 1] = loss, acc
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved, strict=True):
                p.copy_(s)
    return out.cpu().numpy()


def _copy(model, base, direction, ts, batches) -> np.ndarray:
    out = np.empty((len(ts), len(batches), 2))
    with torch.no_grad():
        for i, t in enumerate(ts):
            twin = copy.deepcopy(model)
            _set_point(parameters(twin), base, direction, float(t))
            for j, batch in enumerate(batches):
                loss, acc = batch_loss(twin, batch)
                out[i, j] = float(loss), float(acc)
    return out


def _vmap(model, base, direction, ts, batches, chunk_size: int) -> np.ndarray:
    from torch.func import functional_call, vmap

    names = [name for name, _ in model.named_parameters()]

    def point_loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        logits = functional_call(model, params, (x,))
        loss = nn.functional.cross_entropy(logits.float(), y)
        return loss, (logits.argmax(1) == y).float().mean()

    batched = vmap(point_loss, in_dims=(0, None, None))
    device = base[0].device
    out = torch.empty(len(ts), len(batches), 2, dtype=torch.float64, device=device)
    t_all = torch.as_tensor(np.asarray(ts, dtype=np.float64), device=device)
    with torch.no_grad():
        for lo in range(0, len(ts), chunk_size):
            t = t_all[lo : lo + chunk_size]
            stacked = {}
            for name, b, d in zip(names, base, direction, strict=True):
                shape = (-1,) + (1,) * b.ndim
                stacked[name] = b.unsqueeze(0) - t.to(b.dtype).view(shape) * d.unsqueeze(0)
            for j, (x, y) in enumerate(batches):
                loss, acc = batched(stacked, x, y)
                out[lo : lo + len(t), j, 0] = loss
                out[lo : lo + len(t), j, 1] = acc
    return out.cpu().numpy()


def line_losses(
    model: nn.Module,
    base: Sequence[Tensor],
    direction: Sequence[Tensor],
    ts: Sequence[float],
    batches: Sequence[Batch],
    *,
    batchnorm: str = "train",
    method: str = "auto",
    chunk_images: int = 2048,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Loss and accuracy at ``base - t * direction`` for each ``t`` and batch:
    array of shape ``(len(ts), len(batches), 2)`` (last axis: loss, accuracy).

    Only parameters move along the line; buffers stay the model's (they matter only for
    ``batchnorm="eval"``). The model is left exactly as it was. ``vmap`` evaluates
    ``chunk_size`` points per call, by default as many as keep ``chunk_images`` images (points
    x batch size) in one call: that bounds its activation memory."""
    device = base[0].device
    with bn_mode(model, batchnorm):
        how = resolve_method(method, device, model, batches[0] if batches else None)
        if how == "inplace":
            return _inplace(model, base, direction, ts, batches)
        if how == "copy":
            return _copy(model, base, direction, ts, batches)
        if chunk_size is None:
            chunk_size = int(chunk_images) // max(len(b[1]) for b in batches)
        return _vmap(model, base, direction, ts, batches, max(1, int(chunk_size)))


def forwards_only(model: nn.Module, n: int, batches: Sequence[Batch], batchnorm: str = "train"):
    """``n`` forward passes per batch at the current weights: the floor any sweep of ``n``
    points pays (benchmark reference)."""
    with bn_mode(model, batchnorm), torch.no_grad():
        for _ in range(n):
            for batch in batches:
                batch_loss(model, batch)


def one_step_sweep(
    model: nn.Module,
    step_batch: Batch,
    batches: Sequence[Batch],
    lrs: Sequence[float],
    *,
    batchnorm: str = "train",
    method: str = "auto",
    chunk_images: int = 2048,
) -> tuple[np.ndarray, float]:
    """Losses after one plain gradient step ``w - lr * g(step_batch)`` for each lr, measured on
    each of ``batches``; returns ``(array (len(lrs), len(batches), 2), |g|)``.

    ``g`` is the training gradient (batch statistics), the step SGD would take; ``batchnorm``
    only chooses how the loss after the step is measured."""
    grad, _ = gradient(model, step_batch, "train")
    base = [p.detach().clone() for p in parameters(model)]
    values = line_losses(
        model,
        base,
        grad,
        lrs,
        batches,
        batchnorm=batchnorm,
        method=method,
        chunk_images=chunk_images,
    )
    norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grad)))
    return values, norm


def run_sweep(
    *,
    checkpoint_path: str | Path,
    checkpoint_step: int,
    dataset: Dataset,
    model: Mapping[str, Any],
    device: torch.device,
    batch_sizes: Sequence[int],
    lrs: Sequence[float],
    batch_seed: int,
    heldout_seed: int,
    heldout_batches: int = 1,
    batchnorm: str = "train",
    method: str = "auto",
    chunk_images: int = 2048,
) -> pd.DataFrame:
    """The one-step sweep at one checkpoint for every batch size: tidy rows
    (``SWEEP_COLUMNS``), the lr = 0 row being the loss before the step.

    The held-out curve is the mean over ``heldout_batches`` independent batches of the same
    size (steps 0, 1, … of the held-out stream), each measured on its own (its own batch
    statistics): the expected loss on a batch the step did not see, with less of one batch's
    noise (docs/claims.md, claim 1)."""
    net, _ = load_network(checkpoint_path, dataset, model, device, expect_step=checkpoint_step)
    grid = np.r_[0.0, np.asarray(lrs, dtype=np.float64)]
    rows = []
    for size in batch_sizes:
        fixed = fetch_batch(dataset, size, batch_seed, 0, device)
        heldout = [
            fetch_batch(dataset, size, heldout_seed, i, device) for i in range(heldout_batches)
        ]
        values, norm = one_step_sweep(
            net,
            fixed,
            [fixed, *heldout],
            grid,
            batchnorm=batchnorm,
            method=method,
            chunk_images=chunk_images,
        )
        # the mean over one batch is that batch's value exactly: heldout_batches 1 = before
        values = np.stack([values[:, 0], values[:, 1:].mean(axis=1)], axis=1)
        base = {"checkpoint": checkpoint_step, "batch_size": size, "batchnorm": batchnorm}
        rows.append({**base, "lr": np.nan, "batch": "fixed", "metric": "grad_norm", "value": norm})
        for i, lr in enumerate(grid):
            for j, batch in enumerate(PROBE_BATCHES):
                for k, metric in enumerate(("loss", "accuracy")):
                    rows.append(
                        {
                            **base,
                            "lr": lr,
                            "batch": batch,
                            "metric": metric,
                            "value": values[i, j, k],
                        }
                    )
        before, low = values[0, :, 0], np.nanmin(values[1:, :, 0], axis=0)
        log.info(
            "step %d B=%d: fixed %.4g -> min %.4g, held-out %.4g -> min %.4g, |g|=%.4g",
            checkpoint_step,
            size,
            before[0],
            low[0],
            before[1],
            low[1],
            norm,
        )
    return conform(pd.DataFrame(rows), SWEEP_COLUMNS)
