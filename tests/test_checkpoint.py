"""Checkpoints round-trip through weights_only loading, byte for byte across runs; damage to
a checkpoint or metrics file is reported by file name; a killed job leaves no litter."""

import pathlib

import pytest
import torch

from lrtraj import checkpoint


def state():
    return {"model": {"w": torch.arange(6.0)}, "step": 7, "rows": [{"a": 1.0, "b": "x"}]}


def test_round_trip_with_recorded_hash(tmp_path):
    path = tmp_path / "c.pt"
    digest = checkpoint.save(state(), path)
    assert checkpoint.recorded_sha256(path) == digest
    loaded = checkpoint.load(path)
    assert loaded["step"] == 7 and torch.equal(loaded["model"]["w"], torch.arange(6.0))
    assert loaded["rows"] == [{"a": 1.0, "b": "x"}]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert path.stat().st_mode & 0o044  # readable by others, not mkstemp's 0600


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / "c.pt"
    checkpoint.save(state(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(checkpoint.CheckpointError, match="c.pt does not match its recorded sha256"):
        checkpoint.load(path)


def test_corrupt_checkpoint_without_hash_is_named(tmp_path):
    path = tmp_path / "c.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoint.CheckpointError, match="c.pt is corrupt or unreadable"):
        checkpoint.load(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(checkpoint.CheckpointError, match="checkpoint not found"):
        checkpoint.load(tmp_path / "nope.pt")


def test_code_in_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": pathlib.Path("x")}, path)  # an arbitrary class instance
    with pytest.raises(checkpoint.CheckpointError, match="corrupt or unreadable") as err:
        checkpoint.load(path)
    # torch's own advice (weights_only=False) would run the file's pickled code
    assert "weights_only" not in str(err.value) and "rerun" in str(err.value)


# One burn-in of the tiny config in a fresh interpreter per run (what differs between processes
# is what must not reach the bytes); KILL_AT makes it kill -9 itself right after writing that
# step's resume file, so the next run resumes from it.
_BURN_IN = """
import logging, os, signal, sys
import torch
from lrtraj import checkpoint, config
from lrtraj.train.config import TrainingConfig
from lrtraj.trajectory import TrajectoryConfig, run_burn_in

out, kill_at = sys.argv[1], int(sys.argv[2])
logging.basicConfig(level=logging.INFO)
torch.set_num_threads(1)
torch.rand(int(sys.argv[4]))  # a process-specific use of torch's global generator
cfg = config.load(sys.argv[3])
save = checkpoint.save


def save_then_maybe_die(state, path):
    digest = save(state, path)
    if str(path).endswith("resume.pt") and state["step"] == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return digest


checkpoint.save = save_then_maybe_die
run_burn_in(
    TrainingConfig.from_config(config.training_sections(cfg)),
    TrajectoryConfig.from_config({**cfg["trajectory"], "steps": 30, "eval_every": 10}),
    checkpoints={20: f"{out}/step20.pt", 30: f"{out}/step30.pt"},
    state_dir=f"{out}/state",
    checkpoint_every=10,
    log_every=10,
)
"""


def _burn_in(out, kill_at=-1):
    import os
    import subprocess
    import sys

    repo = pathlib.Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    args = [sys.executable, "-c", _BURN_IN, str(out), str(kill_at)]
    args += [str(repo / "tests/configs/tiny.yaml"), str(len(str(out)))]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


def test_identical_and_resumed_runs_write_identical_checkpoint_bytes(tmp_path):
    from lrtraj.provenance import sha256_file

    # different directory names too: the saved state must not depend on where it is written
    runs = {name: tmp_path / name for name in ("first", "second-run", "resumed")}
    for name in ("first", "second-run"):
        done = _burn_in(runs[name])
        assert done.returncode == 0, done.stderr
    killed = _burn_in(runs["resumed"], kill_at=10)
    assert killed.returncode == -9 and (runs["resumed"] / "state/resume.pt").is_file()
    assert not (runs["resumed"] / "step20.pt").exists()
    resumed = _burn_in(runs["resumed"])
    assert resumed.returncode == 0 and "resumed from" in resumed.stderr
    for step in (20, 30):
        digests = {name: sha256_file(run / f"step{step}.pt") for name, run in runs.items()}
        assert len(set(digests.values())) == 1, digests
        assert {checkpoint.recorded_sha256(run / f"step{step}.pt") for run in runs.values()} == {
            digests["first"]
        }


def test_checkpoint_bytes_do_not_depend_on_the_file_name(tmp_path):
    a, b = tmp_path / "a.pt", tmp_path / "other" / "b-longer-name.pt"
    assert checkpoint.save(state(), a) == checkpoint.save(state(), b)
    assert a.read_bytes() == b.read_bytes()


# A job killed (SIGTERM) while writing a checkpoint: the temp file goes, the rule log says why,
# and the sidecars of its outputs (which Snakemake deletes) go with them.
_TERMINATED_JOB = """
import pathlib, sys, time, types
from lrtraj import atomic
from lrtraj.runtime import job

out = pathlib.Path(sys.argv[1])
smk = types.SimpleNamespace(
    log=[str(out / "rule.log")], output=[str(out / "step10.pt")], params={}, rule="burn_in"
)
with job(smk):
    with atomic.target(out / "step10.pt") as tmp:
        (out / "ready").touch()
        time.sleep(60)
"""


def test_a_terminated_job_leaves_no_temp_file_or_stray_sidecar_and_says_why(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    repo = pathlib.Path(__file__).resolve().parents[1]
    for suffix in (".prov.json", ".sha256"):  # left from an earlier build of the output
        (tmp_path / f"step10.pt{suffix}").write_text("{}")
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    proc = subprocess.Popen([sys.executable, "-c", _TERMINATED_JOB, str(tmp_path)], env=env)
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the job never started writing"
        time.sleep(0.05)
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # mid-write
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == -signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready", "rule.log"]
    assert "rule burn_in stopped by SIGTERM" in (tmp_path / "rule.log").read_text()


def test_a_corrupt_metrics_file_is_named_with_how_to_rebuild_it(tmp_path):
    import pandas as pd

    from lrtraj import metrics

    path = tmp_path / "metrics.parquet"
    metrics.write_parquet(pd.DataFrame({"value": [1.0, 2.0]}), path, {})
    path.write_bytes(path.read_bytes()[:-20])  # truncated: the footer is gone
    with pytest.raises(metrics.UnreadableError, match="metrics.parquet is corrupt") as err:
        metrics.read_parquet(path)
    assert "run snakemake again" in str(err.value)
    with pytest.raises(FileNotFoundError):  # a missing file stays what it is
        metrics.read_parquet(tmp_path / "none.parquet")
