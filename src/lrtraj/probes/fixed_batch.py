"""fig3: side-trips of plain gradient descent on ONE fixed batch, branched from several
checkpoints of the main trajectory, then linear interpolation between where they end.

The side-trips run through the ordinary training loop (``lrtraj.train.sgd_loop``) fed a stream
that repeats the fixed batch, with a momentum-free SGD optimizer (= plain GD); a loop callback
records the loss on the fixed and on the held-out batch. Losses are measured with BatchNorm batch
statistics (each batch normalised by itself): that is the function GD on the batch minimises, and
at an interpolated point it is recomputed from the point's own activations, so no running
statistics that belong to neither endpoint enter the barrier.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from lrtraj.data import Batch, Dataset
from lrtraj.metrics import conform
from lrtraj.probes import FIXED_BATCH_COLUMNS, INTERPOLATION_COLUMNS, PROBE_BATCHES
from lrtraj.probes.core import batch_loss, bn_mode, fetch_batch, load_network, parameters
from lrtraj.probes.sweep import line_losses
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop
from lrtraj.train.config import OptimizerConfig

log = logging.getLogger("lrtraj.probes.fixed_batch")


@dataclass
class RepeatedBatch:
    """A batch stream that serves the same batch at every step (gradient descent on it)."""

    x: Tensor
    y: Tensor

    def batches(self, start: int, stop: int) -> Iterator[tuple[int, Tensor, Tensor]]:
        for step in range(start, stop):
            yield step, self.x, self.y


def record_steps(steps: int, every: int) -> list[int]:
    """0, 1, 2, 5 (the fast start) and every ``every``-th step up to ``steps``."""
    return sorted({s for s in (0, 1, 2, 5) if s <= steps} | set(range(0, steps + 1, every)))


def gd_sidetrip(
    model: nn.Module,
    fixed: Batch,
    heldout: Batch,
    *,
    branch_step: int,
    lr: float,
    steps: int,
    record_every: int,
    batch_size: int,
) -> tuple[pd.DataFrame, list[Tensor]]:
    """Run ``steps`` GD steps on ``fixed`` from the weights in ``model`` (changed in place);
    return the loss/accuracy rows on both batches and the final parameters."""
    wanted = set(record_steps(steps, record_every))
    rows: list[dict[str, Any]] = []

    def record(step: int, net: nn.Module) -> None:
        t = step - branch_step
        if t not in wanted:
            return
        with bn_mode(net, "train"), torch.no_grad():
            for name, batch in zip(PROBE_BATCHES, (fixed, heldout), strict=True):
                loss, acc = batch_loss(net, batch)
                for metric, value in (("loss", loss), ("accuracy", acc)):
                    rows.append(
                        {
                            "branch_step": branch_step,
                            "batch_size": batch_size,
                            "gd_lr": lr,
                            "step": t,
                            "batch": name,
                            "metric": metric,
                            "value": float(value),
                        }
                    )

    optimizer = make_optimizer(model, OptimizerConfig(0.0, False, 0.0), lr)  # plain GD
    result = sgd_loop(
        model,
        optimizer,
        RepeatedBatch(*fixed),
        RunInfo("probe", branch_step, -1, "gd_fixed_batch", "probe", "probe"),
        start=branch_step,
        stop=branch_step + steps,
        lr_at=lambda _s: lr,
        settings=LoopSettings(eval_every=steps, log_every=max(1, steps // 4)),
        callbacks=[record],
    )
    if result.diverged_at is not None:
        log.warning("GD side-trip from %d diverged at step %d", branch_step, result.diverged_at)
    df = pd.DataFrame(rows, columns=list(FIXED_BATCH_COLUMNS))
    return df, [p.detach().clone() for p in parameters(model)]


@dataclass(frozen=True)
class Segment:
    """A straight line from point ``start`` to point ``end`` (labels like ``"end@3000"``)."""

    kind: str  # "endpoints" or "to_branch"
    start: str
    end: str


def interpolate(
    model: nn.Module,
    points: Mapping[str, Sequence[Tensor]],
    paths: Sequence[Segment],
    batches: Sequence[Batch],
    alphas: Sequence[float],
    *,
    method: str = "auto",
    chunk_images: int = 2048,
) -> pd.DataFrame:
    """Loss and accuracy at ``(1 - alpha) * start + alpha * end`` along each path, on each batch
    (batch statistics). ``model`` supplies the architecture; its weights are restored."""
    rows = []
    for path in paths:
        a, b = points[path.start], points[path.end]
        direction = [x - y for x, y in zip(a, b, strict=True)]  # a - alpha (a - b)
        values = line_losses(
            model,
            a,
            direction,
            alphas,
            batches,
            batchnorm="train",
            method=method,
            chunk_images=chunk_images,
        )
        for i, alpha in enumerate(alphas):
            for j, name in enumerate(PROBE_BATCHES[: len(batches)]):
                for k, metric in enumerate(("loss", "accuracy")):
                    rows.append(
                        {
                            "path": f"{path.start}--{path.end}",
                            "kind": path.kind,
                            "start": path.start,
                            "end": path.end,
                            "alpha": float(alpha),
                            "batch": name,
                            "metric": metric,
                            "value": float(values[i, j, k]),
                        }
                    )
    return pd.DataFrame(rows, columns=list(INTERPOLATION_COLUMNS))


def fixed_batch_paths(branch_steps: Sequence[int]) -> list[Segment]:
    """Every pair of side-trip endpoints, and each endpoint back to its branch point."""
    ends = [f"end@{b}" for b in branch_steps]
    pairs = [
        Segment("endpoints", ends[i], ends[j])
        for i in range(len(ends))
        for j in range(i + 1, len(ends))
    ]
    return pairs + [Segment("to_branch", f"branch@{b}", f"end@{b}") for b in branch_steps]


def run_fixed_batch(
    *,
    checkpoints: Mapping[int, str | PathLike],
    dataset: Dataset,
    model: Mapping[str, Any],
    device: torch.device,
    batch_size: int,
    lr: float,
    steps: int,
    record_every: int,
    interpolation_points: int,
    batch_seed: int,
    heldout_seed: int,
    method: str = "auto",
    chunk_images: int = 2048,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GD side-trips on the fixed batch from each checkpoint ``{branch step: path}``, then the
    interpolations of ``fixed_batch_paths``: ``(trajectories, interpolation)`` tables."""
    fixed = fetch_batch(dataset, batch_size, batch_seed, 0, device)
    heldout = fetch_batch(dataset, batch_size, heldout_seed, 0, device)
    points: dict[str, list[Tensor]] = {}
    frames = []
    net: nn.Module | None = None
    for branch, path in sorted(checkpoints.items()):
        net, _ = load_network(path, dataset, model, device, expect_step=branch)
        points[f"branch@{branch}"] = [p.detach().clone() for p in parameters(net)]
        df, end = gd_sidetrip(
            net,
            fixed,
            heldout,
            branch_step=branch,
            lr=lr,
            steps=steps,
            record_every=record_every,
            batch_size=batch_size,
        )
        points[f"end@{branch}"] = end
        frames.append(df)
        last = df[(df["metric"] == "loss")].groupby("batch")["value"].last()
        log.info(
            "GD from %d: final loss fixed %.4g, held-out %.4g", branch, *last[["fixed", "heldout"]]
        )
    assert net is not None
    alphas = np.linspace(0.0, 1.0, int(interpolation_points))
    interp = interpolate(
        net,
        points,
        fixed_batch_paths(sorted(checkpoints)),
        [fixed, heldout],
        alphas,
        method=method,
        chunk_images=chunk_images,
    )
    trajectories = conform(pd.concat(frames, ignore_index=True), FIXED_BATCH_COLUMNS)
    return trajectories, conform(interp, INTERPOLATION_COLUMNS)
