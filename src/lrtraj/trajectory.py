"""The burn-in: the main constant-lr SGD trajectory, whose checkpoints side-trips branch from."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from lrtraj import checkpoint, distributed
from lrtraj.compute import resolve_device
from lrtraj.data import load_dataset
from lrtraj.divergence import BURN_IN_MARK
from lrtraj.evaluate import Evaluator
from lrtraj.metrics import training_table, write_parquet
from lrtraj.models import build_model
from lrtraj.provenance import hash_json
from lrtraj.train import LoopSettings, RunInfo, make_optimizer, sgd_loop
from lrtraj.train.config import TrainingConfig

log = logging.getLogger("lrtraj.trajectory")


def _publish(src: Path, dst: Path) -> None:
    """Expose a kept checkpoint at its declared output path (hard link, else copy)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".sha256"):
        s, d = Path(str(src) + suffix), Path(str(dst) + suffix)
        d.unlink(missing_ok=True)
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)


@dataclass(frozen=True)
class TrajectoryConfig:
    """The ``trajectory`` section, less its logging and checkpoint cadence (which do not change
    what the run computes, so they are ``run_burn_in`` arguments of their own)."""

    lr: float
    batch_size: int
    steps: int
    data_seed: int
    eval_every: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> TrajectoryConfig:
        return cls(**{f.name: cfg[f.name] for f in fields(cls)})


def _diverged(step: int, lr: float, rows: list[dict[str, Any]], state_dir: Path) -> str:
    """Save the rows measured up to the divergence (the job fails, so no declared output keeps
    them) and say what is where."""
    kept = state_dir / "diverged_metrics.parquet"
    if distributed.is_main():  # rank 0 holds the evaluation rows and writes
        write_parquet(
            training_table(rows), kept, {"rule": "burn_in", "diverged_at": step, "lr": lr}
        )
    return (
        f"{BURN_IN_MARK}: loss not finite at step {step} (trajectory.lr={lr}); no output was "
        f"written, its metrics up to that step are in {kept}. Lower trajectory.lr (or "
        "optimizer.momentum) and rerun: a resume state of another configuration is discarded"
    )


def run_burn_in(
    training: TrainingConfig,
    trajectory: TrajectoryConfig,
    *,
    checkpoints: Mapping[int, str | Path],
    state_dir: str | Path,
    checkpoint_every: int,
    log_every: int = 100,
    tensorboard_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Train the main trajectory; write ``checkpoints[step]`` for each requested step.

    ``tensorboard_dir`` receives the metrics live as TensorBoard scalars (rank 0; None: off).
    Resume state lives in ``state_dir`` (not a declared output, so it survives a failed job);
    a rerun after a crash continues from the last checkpoint there. Data parallel, rank 0
    writes every file and returns the metrics (the other ranks' frames hold no evaluation).
    """
    dataset = load_dataset(training.data)  # first: a missing data dir is the likeliest failure
    dev = resolve_device(training.device)
    compute = training.compute
    state_dir = Path(state_dir)
    model = training.model
    net = build_model(
        model.name, dataset.in_channels, dataset.num_classes, model.widths, model.init_seed
    )
    compute.place(net, dev)
    lr, seed, steps = float(trajectory.lr), int(trajectory.data_seed), int(trajectory.steps)
    opt = make_optimizer(net, training.optimizer, lr)
    bad = [s for s in checkpoints if not 0 <= int(s) <= steps]
    if bad:
        raise ValueError(f"checkpoint steps {bad} lie outside the burn-in (0..{steps})")
    keep = {int(s): state_dir / f"step{int(s):07d}.pt" for s in checkpoints}
    info = RunInfo("burn_in", -1, seed, "constant", "baseline", "baseline")
    result = sgd_loop(
        net,
        opt,
        dataset.stream(int(trajectory.batch_size), seed, dev),
        info,
        start=0,
        stop=steps,
        lr_at=lambda _s: lr,
        settings=LoopSettings(
            eval_every=int(trajectory.eval_every),
            log_every=int(log_every),
            checkpoint_every=int(checkpoint_every),
            resume_path=state_dir / "resume.pt",
            keep=keep,
            fingerprint=hash_json(
                {
                    "training": training.fingerprint(),
                    "trajectory": asdict(trajectory),
                    "checkpoints": sorted(keep),
                }
            ),
            compute=compute,
            tensorboard_dir=Path(tensorboard_dir) if tensorboard_dir else None,
        ),
        evaluator=Evaluator(net, dataset, training.evaluation, dev)
        if distributed.is_main()
        else None,
    )
    if result.diverged_at is not None:
        raise RuntimeError(_diverged(result.diverged_at, lr, result.rows, state_dir))
    if not distributed.is_main():  # rank 0 publishes the checkpoints and the metrics
        return training_table(result.rows)
    for step, path in checkpoints.items():
        if not keep[int(step)].is_file():
            raise checkpoint.CheckpointError(f"burn-in finished without checkpoint {keep[step]}")
        _publish(keep[int(step)], Path(path))
    checkpoint.remove(state_dir / "resume.pt")
    return training_table(result.rows)
