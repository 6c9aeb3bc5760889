"""Data parallel training on CPU (gloo): 2 ranks mean what 1 process means, and resume exactly.

The ranks are real processes started by ``lrtraj.distributed.launch`` (as a training job
script does), each running the burn-in of ``tests.test_train``'s tiny ResNet-8 (widths 8).
"""

import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lrtraj import checkpoint, distributed
from lrtraj.data import load_dataset
from lrtraj.runtime import PREEMPTED_EXIT_CODE
from lrtraj.trajectory import TrajectoryConfig, run_burn_in
from tests.test_train import RUN, TINY

STEPS = 50


def burn_in(out: Path, every: int = 25) -> pd.DataFrame:
    """50 steps of batch 16 (8 per rank on 2 ranks): few images per BatchNorm shard, so
    per-shard statistics would be far from the global batch's."""
    return run_burn_in(
        RUN,
        TrajectoryConfig(lr=0.1, batch_size=16, steps=STEPS, data_seed=0, eval_every=25),
        checkpoints={STEPS: out / "final.pt"},
        state_dir=out / "state",
        checkpoint_every=every,
        log_every=25,
    )


def launch_burn_in(out: Path, monkeypatch, every: int = 25, fault: str = "") -> int:
    """Run ``burn_in(out)`` as 2 ranks; rank 0 saves its metrics. ``fault`` (Python run in
    each rank's batch stream, with ``step`` and ``rank`` bound) injects a failure."""
    script = textwrap.dedent(f"""
        import pathlib, torch
        torch.set_num_threads(1)
        from lrtraj import data, distributed, preemption
        from lrtraj.runtime import preemptible
        from tests.test_distributed import burn_in

        batch = data.TensorStream.batch
        def faulty(self, step):
            rank = self.rank
            {fault or "pass"}
            return batch(self, step)
        data.TensorStream.batch = faulty

        out = pathlib.Path({str(out)!r})
        with preemptible(), distributed.session(2, "cpu"):
            df = burn_in(out, every={every})
            if distributed.is_main():
                df.to_pickle(out / "metrics.pkl")
    """)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    return distributed.launch([sys.executable, "-c", script], 2)


def final(out: Path) -> dict:
    return checkpoint.load(out / "final.pt")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> Path:
    """An uninterrupted 2-rank burn-in (resume checkpoints every 20 steps: cadence does not
    change what a run computes)."""
    out = tmp_path_factory.mktemp("two_ranks")
    with pytest.MonkeyPatch.context() as monkeypatch:
        assert launch_burn_in(out, monkeypatch, every=20) == 0
    return out


def test_two_ranks_train_the_same_weights_as_one_process(tmp_path, two_ranks):
    """50 steps, lr 0.1, momentum 0.9 (torch 2.14.1, CPU): the largest deviation measured
    8.9e-07 for a parameter, 4.8e-06 for a BatchNorm running statistic (entries up to 9.9),
    3.3e-07 for a momentum entry; asserted below 1e-4. With per-shard BatchNorm statistics
    instead (no sync) parameters land 0.80 away and running statistics 6.5."""
    torch.set_num_threads(1)
    one = burn_in(tmp_path / "one")
    two = pd.read_pickle(two_ranks / "metrics.pkl")
    a, b = final(tmp_path / "one"), final(two_ranks)
    assert a["step"] == b["step"] == STEPS
    deviation = max(
        float((a["model"][k].double() - b["model"][k].double()).abs().max()) for k in a["model"]
    )
    momentum = max(
        float((s["momentum_buffer"] - b["optimizer"]["state"][i]["momentum_buffer"]).abs().max())
        for i, s in a["optimizer"]["state"].items()
    )
    print(f"max |w_1 - w_2| = {deviation:.3g}, max |momentum_1 - momentum_2| = {momentum:.3g}")
    assert deviation < 1e-4 and momentum < 1e-4
    # rank 0 recorded everything a single process records: the same rows, equal values
    keys = ["step", "split", "metric"]
    pd.testing.assert_frame_equal(one[keys], two[keys])
    np.testing.assert_allclose(two["value"], one["value"], rtol=1e-4, atol=1e-5)


def test_two_ranks_preempted_or_killed_resume_to_the_uninterrupted_run(
    tmp_path, monkeypatch, two_ranks
):
    """A preemption request that reaches rank 1 alone stops both ranks at the same step (rank 0
    saves); a rank that crashes stops the other; each resumed run ends bit-identical to an
    uninterrupted 2-rank run."""
    # preempted at step 31 (between checkpoints), then a crash at step 45 after the checkpoint
    # of step 40, then run to the end
    out = tmp_path / "interrupted"
    request = "if step == 30 and rank == 1: preemption.request()"
    assert launch_burn_in(out, monkeypatch, every=20, fault=request) == PREEMPTED_EXIT_CODE
    assert checkpoint.load(out / "state" / "resume.pt")["step"] == 31
    assert not (out / "final.pt").exists()
    crash = "if step == 45 and rank == 1: raise RuntimeError('rank 1 crashed')"
    assert launch_burn_in(out, monkeypatch, every=20, fault=crash) not in (0, PREEMPTED_EXIT_CODE)
    assert checkpoint.load(out / "state" / "resume.pt")["step"] == 40
    assert launch_burn_in(out, monkeypatch, every=20) == 0

    a, b = final(two_ranks), final(out)
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for i, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][i]["momentum_buffer"])
    clean = pd.read_pickle(two_ranks / "metrics.pkl")
    pd.testing.assert_frame_equal(clean, pd.read_pickle(out / "metrics.pkl"))
    assert not (out / "state" / "resume.pt").exists()


def test_rank_shards_tile_the_global_batch():
    stream = load_dataset(TINY["data"]).stream(16, 3, torch.device("cpu"))
    x, y = stream.batch(7)
    parts = [stream.shard(r, 4).batch(7) for r in range(4)]
    assert torch.equal(torch.cat([p[0] for p in parts]), x)
    assert torch.equal(torch.cat([p[1] for p in parts]), y)
    with pytest.raises(ValueError, match="distributed.ranks=3"):
        stream.shard(0, 3)


def test_launcher_forwards_preemption_to_every_rank_and_stops_them_on_a_failure(tmp_path):
    """The local launcher (a job whose ranks nobody started): SIGUSR2 to the job reaches each
    rank; one rank failing stops the others, and the job fails with its status."""
    ready = tmp_path / "ready"
    ready.mkdir()
    waits = textwrap.dedent(f"""
        import os, pathlib, signal, sys, time
        signal.signal(signal.SIGUSR2, lambda *_: sys.exit({PREEMPTED_EXIT_CODE}))
        pathlib.Path({str(ready)!r}, os.environ["RANK"]).touch()
        time.sleep(60)
    """)

    def signal_when_ready() -> None:
        while len(list(ready.iterdir())) < 2:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGUSR2)

    threading.Thread(target=signal_when_ready, daemon=True).start()
    assert distributed.launch([sys.executable, "-c", waits], 2) == PREEMPTED_EXIT_CODE

    # rank 1 fails once rank 0 is ready: the launcher must stop rank 0 (SIGTERM)
    fails = textwrap.dedent(f"""
        import os, pathlib, signal, sys, time
        ready = pathlib.Path({str(tmp_path)!r})
        if os.environ["RANK"] == "0":
            stop = lambda *_: (ready.joinpath("stopped").touch(), sys.exit(1))
            signal.signal(signal.SIGTERM, stop)
            ready.joinpath("waiting").touch()
            time.sleep(60)
        else:
            while not ready.joinpath("waiting").exists():
                time.sleep(0.01)
            sys.exit(3)
    """)
    assert distributed.launch([sys.executable, "-c", fails], 2) == 3
    assert (tmp_path / "stopped").exists()


@pytest.mark.parametrize(
    ("env", "launch", "via_srun"),
    [
        ({}, True, False),  # a laptop: local processes
        ({"WORLD_SIZE": "2"}, False, False),  # torchrun (or the local launcher) started it
        # the job's own task in an allocation of 2 tasks: the ranks become a step of 2
        (
            {"SLURM_JOB_ID": "7", "SLURM_NTASKS_PER_NODE": "2", "SLURM_STEP_NUM_TASKS": "1"},
            True,
            True,
        ),
        ({"SLURM_JOB_ID": "7", "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1"}, False, False),
        # a batch script of 2 tasks (no step yet), or one task of 1: local processes
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS": "2", "SLURM_PROCID": "0"}, True, False),
        ({"SLURM_JOB_ID": "7", "SLURM_NTASKS_PER_NODE": "1"}, True, False),
    ],
)
def test_where_the_ranks_of_a_two_rank_job_come_from(monkeypatch, env, launch, via_srun):
    for name in [k for k in os.environ if k.startswith(("SLURM_", "WORLD_SIZE"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert distributed.needs_launch(2) is launch
    assert (launch and distributed.allocated_tasks() == 2) is via_srun
    step = distributed.srun_command(["python", "job.py"], 2)
    assert step[0] == "srun" and "--ntasks=2" in step and step[-2:] == ["python", "job.py"]
