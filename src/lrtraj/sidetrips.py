"""Side-trips: short runs branched from a main-trajectory checkpoint on the same batch stream.

For a branch step ``b`` and a data seed, one side-trip *method* is one run of ``T`` steps:

- ``constant``: the constant-lr baseline, with every configured averager attached
  (EMA ``beta``, two-point ``k``, SWA ``n`` checkpoints ``c`` apart), evaluated along the way;
- ``<family>_schedule``: the tail-sum schedule equivalent to that averager over ``T`` steps
  (Table 1), so the average at ``T`` and the schedule's endpoint can be compared one to one;
- ``linear_decay``: a common reference schedule.

A side-trip with the main trajectory's data seed replays its batches; another seed continues on an
independent batch order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lrtraj import averaging, checkpoint, distributed
from lrtraj.averaging.online import Averager, averaged_tensors
from lrtraj.compute import resolve_device
from lrtraj.data import Dataset, load_dataset
from lrtraj.evaluate import Evaluator
from lrtraj.metrics import training_table
from lrtraj.models import build_model
from lrtraj.provenance import hash_json, sha256_file
from lrtraj.schedules import family_of, kind_of, linear_decay_schedule
from lrtraj.train import LoopResult, LoopSettings, RunInfo, make_optimizer, sgd_loop
from lrtraj.train.config import TrainingConfig

log = logging.getLogger("lrtraj.sidetrips")


class Snapshots:
    """A step callback keeping a copy of the parameters every ``every`` steps from the start."""

    def __init__(self, start: int, every: int) -> None:
        self.start, self.every = start, every
        self.steps: list[int] = []
        self.params: dict[str, list[torch.Tensor]] = {}

    def __call__(self, step: int, model: nn.Module) -> None:
        if (step - self.start) % self.every:
            return
        self.steps.append(step)
        for name, p in model.named_parameters():
            self.params.setdefault(name, []).append(p.detach().cpu().clone())

    def state_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "params": {n: list(v) for n, v in self.params.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps = list(state["steps"])
        self.params = {n: [t.cpu() for t in v] for n, v in state["params"].items()}

    def save(self, path: str | Path) -> None:
        stacked = {name: torch.stack(values) for name, values in self.params.items()}
        checkpoint.save({"model": stacked, "steps": self.steps}, path)


@dataclass(frozen=True)
class SideTrip:
    branch_step: int
    data_seed: int
    method: str
    steps: int
    lr: float
    eval_every: int
    averaging: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    phase: str = "sidetrip"  # "twin" for the constant-lr continuations of fig8

    @property
    def family(self) -> str:
        return family_of(self.method)

    @property
    def kind(self) -> str:
        return kind_of(self.method)

    def schedule(self) -> np.ndarray:
        """lr of side-trip steps ``0 .. T-1``."""
        if self.method == "constant":
            return np.full(self.steps, self.lr)
        if self.method == "linear_decay":
            return linear_decay_schedule(self.steps, self.lr)
        if self.family not in self.averaging:
            raise ValueError(f"side-trip method {self.method!r}: no '{self.family}' averaging set")
        family = averaging.get(self.family)
        return family.schedule(self.averaging[self.family], self.steps, self.lr)

    def info(self) -> RunInfo:
        return RunInfo(
            self.phase, self.branch_step, self.data_seed, self.method, self.family, self.kind
        )


def _from_branch(
    trip: SideTrip,
    training: TrainingConfig,
    branch_checkpoint: str | Path,
    dataset: Dataset,
    dev: torch.device,
) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The model and optimizer as the main trajectory left them at the branch step."""
    state = checkpoint.load(branch_checkpoint, map_location=dev)
    if int(state["step"]) != trip.branch_step:
        raise checkpoint.CheckpointError(
            f"{branch_checkpoint} holds step {state['step']}, "
            f"expected the branch step {trip.branch_step}"
        )
    net = build_model(
        training.model.name, dataset.in_channels, dataset.num_classes, training.model.widths
    )
    net.load_state_dict(state["model"])
    training.compute.place(net, dev)
    opt = make_optimizer(net, training.optimizer, trip.lr)
    opt.load_state_dict(state["optimizer"])  # the momentum buffer continues from the branch point
    return net, opt


def _averagers(trip: SideTrip, net: nn.Module, evaluator: Evaluator | None) -> dict[str, Averager]:
    """Every configured averager, on the constant-lr run of the evaluating rank only."""
    if trip.method != "constant" or evaluator is None:
        return {}
    tensors = averaged_tensors(net, include_buffers=evaluator.averages_buffers)
    return {
        family: averaging.make_averager(family, params, trip.eval_every, tensors)
        for family, params in trip.averaging.items()
    }


def _fingerprint(
    trip: SideTrip,
    training: TrainingConfig,
    batch_size: int,
    snapshots: Snapshots | None,
    branch_checkpoint: str | Path,
) -> str:
    """What the run computes: a resume file of another fingerprint is stale."""
    return hash_json(
        {
            "trip": asdict(trip),
            "training": training.fingerprint(),
            "batch_size": batch_size,
            "snapshot_every": snapshots.every if snapshots is not None else None,
            "branch_sha256": checkpoint.recorded_sha256(branch_checkpoint)
            or sha256_file(branch_checkpoint),
        }
    )


def _save_weights(
    trip: SideTrip,
    net: nn.Module,
    evaluator: Evaluator,
    averagers: Mapping[str, Averager],
    result: LoopResult,
    path: str | Path,
) -> None:
    """The final weights, and each average complete at the end (none after a divergence)."""
    names = [n for n, _ in net.named_parameters()]
    if evaluator.averages_buffers:
        names += [n for n, b in net.named_buffers() if b.is_floating_point()]
    final = {
        "model": net.state_dict(),
        "param_names": [n for n, _ in net.named_parameters()],
        "step": result.last_step,
        "averages": {
            family: dict(zip(names, avg.average(trip.steps), strict=True))
            for family, avg in averagers.items()
            if result.diverged_at is None and avg.ready(trip.steps)
        },
    }
    checkpoint.save(final, path)


def run_sidetrip(
    trip: SideTrip,
    training: TrainingConfig,
    *,
    branch_checkpoint: str | Path,
    batch_size: int,
    resume_path: str | Path | None = None,
    checkpoint_every: int | None = None,
    log_every: int = 100,
    weights_path: str | Path | None = None,
    snapshots: Snapshots | None = None,
    tensorboard_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Run one side-trip method from ``branch_checkpoint``; return its tidy metrics
    (``metrics.training_table``: a diverged run's rows are kept, marked ``diverged``).

    ``weights_path`` receives the final weights (and, for ``constant``, each average's);
    ``snapshots`` collects parameters along the way (twin trajectories, fig8);
    ``tensorboard_dir`` receives the metrics live as TensorBoard scalars (rank 0; None: off).
    Logging, resume-checkpoint cadence and live metrics do not change what the run computes.
    """
    dataset = load_dataset(training.data)
    dev = resolve_device(training.device)
    net, opt = _from_branch(trip, training, branch_checkpoint, dataset, dev)
    # data parallel: rank 0 evaluates, averages and writes (``sgd_loop``)
    main = distributed.is_main()
    evaluator = Evaluator(net, dataset, training.evaluation, dev) if main else None
    averagers = _averagers(trip, net, evaluator)
    lrs = trip.schedule()
    b = trip.branch_step
    result = sgd_loop(
        net,
        opt,
        dataset.stream(batch_size, trip.data_seed, dev),
        trip.info(),
        start=b,
        stop=b + trip.steps,
        lr_at=lambda s: float(lrs[s - b]),
        settings=LoopSettings(
            eval_every=trip.eval_every,
            log_every=log_every,
            checkpoint_every=checkpoint_every,
            resume_path=Path(resume_path) if resume_path else None,
            fingerprint=_fingerprint(trip, training, batch_size, snapshots, branch_checkpoint),
            compute=training.compute,
            tensorboard_dir=Path(tensorboard_dir) if tensorboard_dir else None,
        ),
        evaluator=evaluator,
        averagers=averagers,
        callbacks=[snapshots] if snapshots is not None else [],
    )
    if weights_path is not None and evaluator is not None:
        _save_weights(trip, net, evaluator, averagers, result, weights_path)
    if result.diverged_at is not None:
        log.warning(
            "side-trip %s diverged at step %d (sidetrips.lr=%g); its metrics up to that step "
            "go into the job's metrics file, marked diverged",
            trip.method,
            result.diverged_at,
            trip.lr,
        )
    if resume_path and main:
        checkpoint.remove(resume_path)
    return training_table(result.rows)
