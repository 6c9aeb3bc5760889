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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from lrtraj import checkpoint
from lrtraj.averaging import averaged_tensors, make_averager
from lrtraj.data import load_dataset
from lrtraj.evaluate import EvalSettings, Evaluator
from lrtraj.metrics import conform, read_parquet
from lrtraj.models import build_model
from lrtraj.schedules import AveragerSpec, linear_decay_schedule
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop
from lrtraj.trajectory import resolve_device

log = logging.getLogger("lrtraj.sidetrips")

SCHEDULE_SUFFIX = "_schedule"


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

    def save(self, path: str | Path) -> None:
        stacked = {name: torch.stack(values) for name, values in self.params.items()}
        checkpoint.save({"model": stacked, "steps": self.steps}, path)


def sidetrip_methods(averaging: Mapping[str, Any], linear_decay: bool = True) -> list[str]:
    """All runs a side-trip consists of, in a stable order."""
    methods = ["constant"] + [f"{family}{SCHEDULE_SUFFIX}" for family in averaging]
    return methods + (["linear_decay"] if linear_decay else [])


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
        if self.method == "constant":
            return "baseline"
        return self.method.removesuffix(SCHEDULE_SUFFIX)

    @property
    def kind(self) -> str:
        if self.method == "constant":
            return "baseline"
        return "schedule" if self.method.endswith(SCHEDULE_SUFFIX) else "reference"

    def schedule(self) -> np.ndarray:
        """lr of side-trip steps ``0 .. T-1``."""
        if self.method == "constant":
            return np.full(self.steps, self.lr)
        if self.method == "linear_decay":
            return linear_decay_schedule(self.steps, self.lr)
        if self.family not in self.averaging:
            raise ValueError(f"side-trip method {self.method!r}: no '{self.family}' averaging set")
        return AveragerSpec(self.family, self.averaging[self.family]).schedule(self.steps, self.lr)

    def info(self) -> RunInfo:
        return RunInfo(
            self.phase, self.branch_step, self.data_seed, self.method, self.family, self.kind
        )


def run_sidetrip(
    trip: SideTrip,
    *,
    branch_checkpoint: str | Path,
    data: Mapping[str, Any],
    model: Mapping[str, Any],
    optimizer: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    device: str,
    batch_size: int,
    resume_path: str | Path | None = None,
    checkpoint_every: int | None = None,
    log_every: int = 100,
    weights_path: str | Path | None = None,
    snapshots: Snapshots | None = None,
) -> pd.DataFrame:
    """Run one side-trip method from ``branch_checkpoint``; return its tidy metrics.

    ``weights_path`` receives the final weights (and, for ``constant``, each average's);
    ``snapshots`` collects parameters along the way (twin trajectories, fig8).
    """
    dataset = load_dataset(data)
    dev = resolve_device(device)
    state = checkpoint.load(branch_checkpoint, map_location=dev)
    if int(state["step"]) != trip.branch_step:
        raise checkpoint.CheckpointError(
            f"{branch_checkpoint} holds step {state['step']}, "
            f"expected the branch step {trip.branch_step}"
        )
    net = build_model(model["name"], dataset.in_channels, dataset.num_classes, model.get("widths"))
    net.load_state_dict(state["model"])
    net.to(dev)
    opt = make_optimizer(net, optimizer, trip.lr)
    opt.load_state_dict(state["optimizer"])  # the momentum buffer continues from the branch point
    evaluator = Evaluator(net, dataset, EvalSettings.from_config(evaluation), dev)
    averagers = {}
    if trip.method == "constant":
        tensors = averaged_tensors(net, include_buffers=evaluator.averages_buffers)
        averagers = {
            family: make_averager(family, dict(params), trip.eval_every, tensors)
            for family, params in trip.averaging.items()
        }
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
        ),
        evaluator=evaluator,
        averagers=averagers,
        callbacks=[snapshots] if snapshots is not None else [],
    )
    if weights_path is not None:
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
        checkpoint.save(final, weights_path)
    if result.diverged_at is not None:
        log.warning("side-trip %s diverged at step %d", trip.method, result.diverged_at)
    if resume_path:
        for suffix in ("", ".sha256"):
            Path(str(resume_path) + suffix).unlink(missing_ok=True)
    return conform(pd.DataFrame(result.rows))


def load_sidetrips(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate side-trip metrics and add ``sidetrip_step`` (steps since the branch)."""
    df = pd.concat([read_parquet(p) for p in paths], ignore_index=True)
    df["sidetrip_step"] = df["step"] - df["branch_step"]
    return df


def final_comparison(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Per data seed, family and metric at the last side-trip step: baseline, average, schedule,
    and the two gaps of claim 3 (|average − schedule| vs |average − baseline|)."""
    ev = df[(df["split"] == split) & (df["kind"] != "reference")]
    last = ev["sidetrip_step"].max()
    ev = ev[ev["sidetrip_step"] == last]
    base = ev[ev["kind"] == "baseline"].set_index(["data_seed", "metric"])["value"]
    rows = []
    for (seed, family, metric), grp in ev[ev["kind"] != "baseline"].groupby(
        ["data_seed", "family", "metric"]
    ):
        vals = grp.set_index("kind")["value"]
        if not {"average", "schedule"} <= set(vals.index):
            continue
        b = base.get((seed, metric))
        rows.append(
            {
                "data_seed": seed,
                "family": family,
                "metric": metric,
                "step": int(last),
                "baseline": b,
                "average": vals["average"],
                "schedule": vals["schedule"],
                "gap_average_schedule": abs(vals["average"] - vals["schedule"]),
                "gap_average_baseline": abs(vals["average"] - b),
            }
        )
    return pd.DataFrame(rows)


def summarize(paths: Iterable[str | Path], splits: Iterable[str]) -> pd.DataFrame:
    """Final-step comparison for every branch step and split (claims 3 and 4 of NOTES §3)."""
    df = load_sidetrips(paths)
    parts = []
    for branch, grp in df.groupby("branch_step"):
        for split in splits:
            cmp = final_comparison(grp, split)
            parts.append(cmp.assign(branch_step=int(branch), split=split))
    out = pd.concat(parts, ignore_index=True)
    first = ["branch_step", "split", "family", "metric", "data_seed"]
    return out[first + [c for c in out.columns if c not in first]]
