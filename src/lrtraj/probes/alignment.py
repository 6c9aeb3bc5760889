"""fig7: how much the gradient of a fixed batch turns along ordinary side-trips.

Two side-trips start together at a main-trajectory checkpoint (momentum buffer included, as in
``lrtraj.sidetrips``) and follow different batch streams (data seeds). A callback of the
training loop measures, at chosen steps, the fixed batch's gradient (cosine and norm ratio to
the gradient at the branch point), the cosine between the two trajectories' gradients at the same
step, and, for scale, the cosine between the gradients of two independent batches. Lemma 2's
"averaging = schedule" needs the first two to stay close to 1; independent batches give ~0.

The callback does not change the model (``core.gradient`` uses batch statistics without touching
the BatchNorm buffers and never writes ``.grad``), so the side-trip is the one that
``lrtraj.sidetrips`` would run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from lrtraj.data import Batch, Dataset
from lrtraj.probes import ALIGNMENT_COLUMNS
from lrtraj.probes.core import cosine, fetch_batch, flat, gradient, load_network
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop
from lrtraj.train.config import OptimizerConfig

log = logging.getLogger("lrtraj.probes.alignment")


def measure_steps(steps: int, every: int) -> list[int]:
    """Side-trip steps to measure at: 1, 2, 5, 10, 20, 50, ... below ``every`` (the fast start)
    and every ``every``-th step from 0 to ``steps``."""
    early = {m * 10**d for d in range(len(str(every))) for m in (1, 2, 5)}
    return sorted({s for s in early if s < every and s <= steps} | set(range(0, steps + 1, every)))


class GradientProbe:
    """Training-loop callback: the fixed batch's gradient at the measured steps, compared with
    the gradient at the start, with a reference trajectory's, and two independent batches'."""

    def __init__(
        self,
        *,
        branch_step: int,
        data_seed: int,
        fixed: Batch,
        independent: Callable[[int], tuple[Batch, Batch]],
        steps: Sequence[int],
        reference: Mapping[int, Tensor] | None = None,
        reference_seed: int = -1,
        keep: bool = False,
    ) -> None:
        self.branch, self.seed, self.fixed = branch_step, data_seed, fixed
        self.independent, self.steps = independent, set(steps)
        self.reference, self.reference_seed, self.keep = reference, reference_seed, keep
        self.kept: dict[int, Tensor] = {}
        self.rows: list[dict[str, Any]] = []
        self.start: Tensor | None = None

    def _row(self, step: int, metric: str, value: float, other: int = -1) -> None:
        self.rows.append(
            {
                "branch_step": self.branch,
                "data_seed": self.seed,
                "other_seed": other,
                "step": step,
                "metric": metric,
                "value": value,
            }
        )

    def __call__(self, step: int, model: nn.Module) -> None:
        t = step - self.branch
        if t not in self.steps:
            return
        g = flat(gradient(model, self.fixed)[0])
        if self.start is None:
            self.start = g
        norm = float(g.norm())
        self._row(step, "grad_norm", norm)
        self._row(step, "cos_to_start", cosine(g, self.start))
        self._row(step, "norm_ratio", norm / float(self.start.norm()))
        if self.reference is not None and t in self.reference:
            self._row(step, "cos_parallel", cosine(g, self.reference[t].to(g)), self.reference_seed)
        a, b = self.independent(step)
        ga, gb = flat(gradient(model, a)[0]), flat(gradient(model, b)[0])
        self._row(step, "cos_independent", cosine(ga, gb))
        if self.keep:  # float32 on the host: one vector per measured step
            self.kept[t] = g.float().cpu()


def run_alignment(
    *,
    checkpoint_path: str | Path,
    dataset: Dataset,
    model: Mapping[str, Any],
    optimizer: OptimizerConfig,
    device: torch.device,
    branch_step: int,
    steps: int,
    lr: float,
    batch_size: int,
    data_seeds: Sequence[int],
    batch_seed: int,
    heldout_seed: int,
    measure_every: int,
    log_every: int = 100,
) -> pd.DataFrame:
    """Two side-trips of ``steps`` constant-lr steps from ``checkpoint_path`` on the streams
    ``data_seeds`` (the first is the reference of ``cos_parallel``); tidy rows."""
    fixed = fetch_batch(dataset, batch_size, batch_seed, 0, device)

    def independent(step: int) -> tuple[Batch, Batch]:
        return (
            fetch_batch(dataset, batch_size, batch_seed, step, device),
            fetch_batch(dataset, batch_size, heldout_seed, step, device),
        )

    when = measure_steps(steps, measure_every)
    reference: dict[int, Tensor] | None = None
    frames = []
    for i, seed in enumerate(data_seeds):
        net, state = load_network(checkpoint_path, dataset, model, device, expect_step=branch_step)
        opt = make_optimizer(net, optimizer, lr)
        opt.load_state_dict(state["optimizer"])  # momentum continues from the branch point
        probe = GradientProbe(
            branch_step=branch_step,
            data_seed=seed,
            fixed=fixed,
            independent=independent,
            steps=when,
            reference=reference,
            reference_seed=data_seeds[0],
            keep=i == 0,
        )
        result = sgd_loop(
            net,
            opt,
            dataset.stream(batch_size, seed, device),
            RunInfo("probe", branch_step, seed, "alignment", "probe", "probe"),
            start=branch_step,
            stop=branch_step + steps,
            lr_at=lambda _s: lr,
            settings=LoopSettings(eval_every=steps, log_every=log_every),
            callbacks=[probe],
        )
        if result.diverged_at is not None:
            log.warning("alignment side-trip seed %d diverged at %d", seed, result.diverged_at)
        if i == 0:
            reference = probe.kept
        frames.append(pd.DataFrame(probe.rows, columns=list(ALIGNMENT_COLUMNS)))
    return pd.concat(frames, ignore_index=True)
