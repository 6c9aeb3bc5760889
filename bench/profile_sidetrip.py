"""Where a default side-trip job's time goes: start-up, SGD steps, averagers, BatchNorm
recomputation, evaluation, checkpoints.

    .venv/bin/python bench/profile_sidetrip.py [--method constant] [--burn-in 500]

Runs one side-trip of the embedded default (``config/config.yaml``: ResNet-8, 600 steps,
evaluated every 50 with every averager attached to ``constant``) in-process, 1 thread as a job
has, with timers wrapped around the pieces of ``sgd_loop``; the branch checkpoint comes from a
short burn-in (``--burn-in`` steps; the share of each piece hardly depends on it). Start-up is
timed as a fresh interpreter importing what a job script imports.

Measured 2026-11-29 on the 2-core x86_64 CI box (shared, 1 thread), method ``constant`` (the
baseline with EMA, two-point and SWA attached: 13 evaluations of 4 models each), with the
default's ``compute.channels_last``::

    piece                                 seconds   share
    start-up (python + imports)              2.53     14 %
    SGD steps and the rest of the loop       8.87     49 %
    BatchNorm recomputation                  1.86     10 %
    evaluation forward passes                4.57     25 %
    averager updates                         0.07      0 %
    resume checkpoints                       0.06      0 %
    total                                   17.97

Runs minutes apart on this shared box differ by more than the memory layout's gain (the same
profile without channels_last, right after: 16.9 s); ``bench/bench_training.py`` measures that
gain interleaved.

cProfile of a run without channels_last: conv2d 8.7 s, backward 5.3 s, batch_norm 2.5 s of
21.6 s in the loop: the job is compute-bound in the network itself; averaging and bookkeeping
cost under 1 %.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lrtraj import checkpoint, evaluate, train
from lrtraj.averaging import online
from lrtraj.config import load
from lrtraj.sidetrips import SideTrip, run_sidetrip
from lrtraj.train import TrainingConfig
from lrtraj.trajectory import TrajectoryConfig, run_burn_in

SECONDS: dict[str, float] = defaultdict(float)


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SECONDS[name] += time.perf_counter() - start

    return wrapper


def instrument() -> None:
    """Wrap the pieces ``sgd_loop`` calls (BN recomputation runs inside evaluation: its time is
    subtracted from the evaluation's)."""
    torch.optim.swa_utils.update_bn = timed(
        "BatchNorm recomputation", torch.optim.swa_utils.update_bn
    )
    evaluate.evaluate_splits = timed("evaluation forward passes", evaluate.evaluate_splits)
    train.checkpoint.save = timed("resume checkpoints", checkpoint.save)
    for cls in (online.EMA, online.SnapshotAverage):
        cls.observe = timed("averager updates", cls.observe)


def startup_seconds() -> float:
    code = "import lrtraj.sidetrips, lrtraj.metrics, lrtraj.provenance, lrtraj.runtime"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="constant")
    parser.add_argument("--burn-in", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = load()
    run = TrainingConfig.from_config(cfg)
    trips = cfg["sidetrips"]
    with tempfile.TemporaryDirectory() as tmp:
        branch = Path(tmp) / "branch.pt"
        trajectory = {**cfg["trajectory"], "steps": args.burn_in, "eval_every": args.burn_in}
        run_burn_in(
            run,
            TrajectoryConfig.from_config(trajectory),
            checkpoints={args.burn_in: branch},
            state_dir=tmp,
            checkpoint_every=args.burn_in,
        )
        trip = SideTrip(
            branch_step=args.burn_in,
            data_seed=0,
            method=args.method,
            steps=trips["steps"],
            lr=cfg["trajectory"]["lr"],
            eval_every=trips["eval_every"],
            averaging=trips["averaging"],
        )
        instrument()
        start = time.perf_counter()
        run_sidetrip(
            trip,
            run,
            branch_checkpoint=branch,
            batch_size=cfg["trajectory"]["batch_size"],
            resume_path=Path(tmp) / "resume.pt",
            checkpoint_every=trips["checkpoint_every"],
        )
        total = time.perf_counter() - start
    SECONDS["evaluation forward passes"] -= SECONDS["BatchNorm recomputation"]
    pieces = {"start-up (python + imports)": startup_seconds()}
    measured = sum(SECONDS.values())
    pieces["SGD steps and the rest of the loop"] = total - measured
    pieces.update(SECONDS)
    whole = sum(pieces.values())
    print(f"side-trip '{args.method}', {trips['steps']} steps, eval every {trips['eval_every']}")
    print(f"{'piece':<36} {'seconds':>8} {'share':>7}")
    for name, seconds in pieces.items():
        print(f"{name:<36} {seconds:>8.2f} {100 * seconds / whole:>6.0f} %")
    print(f"{'total':<36} {whole:>8.2f}")


if __name__ == "__main__":
    main()
