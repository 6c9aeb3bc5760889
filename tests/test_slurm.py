"""The submitit executor plugin on a real SLURM cluster (profiles/slurm), and preemption.

The cluster is the one `.ci/run` starts (.ci/slurm/start.sh); without one, this module starts
its own when it can (root, Debian's slurm packages installed) and skips with the reason when it
cannot. CI sets LRTRAJ_REQUIRE_SLURM=1 so that a cluster that fails to start fails the tests.
Real sbatch, sacct, scancel and scontrol throughout: nothing stands in for the cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from lrtraj import config as lrconfig
from lrtraj.schedules import sidetrip_methods

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "submitit-local"
START, STOP = REPO / ".ci" / "slurm" / "start.sh", REPO / ".ci" / "slurm" / "stop.sh"
REQUIRED = os.environ.get("LRTRAJ_REQUIRE_SLURM") == "1"
BURN_IN = "results/tiny/burn_in/metrics.parquet"
BURN_IN_LOG = "logs/tiny/burn_in.log"
# a burn-in long enough to be interrupted twice, with a resume checkpoint at step 1500
LONG_BURN_IN = {
    "trajectory": {"steps": 3000, "checkpoint_every": 1500, "eval_every": 1500, "log_every": 100}
}

pytestmark = pytest.mark.integration


# -- helpers ----------------------------------------------------------------------------------


def wait_until(condition: Callable[[], object], what: str, limit_s: float = 600.0) -> object:
    """Poll ``condition`` until it is truthy (a bounded wait, not a timing assertion)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {limit_s:.0f} s")


def command(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


def _default_sigint() -> None:
    # Pitfall: a process started in the background by a non-interactive shell (no job control,
    # `set -m` off) inherits SIGINT ignored, and Python then never raises KeyboardInterrupt.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_snakemake(
    workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile"
) -> subprocess.Popen:
    """Snakemake in the background, output to workdir/snakemake.out."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "--directory", str(workdir)]
    cmd += args
    out = (workdir / "snakemake.out").open("w")
    return subprocess.Popen(
        cmd,
        cwd=workdir,
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_sigint,
        start_new_session=True,
        env=os.environ.copy(),
    )


def finish(proc: subprocess.Popen, workdir: Path, limit_s: float = 900) -> str:
    try:
        proc.wait(timeout=limit_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
        raise
    return (workdir / "snakemake.out").read_text()


def submitted(workdir: Path) -> dict[str, str]:
    """{Snakemake job id: SLURM job id} from the controller's output."""
    text = (workdir / "snakemake.out").read_text()
    return dict(re.findall(r"Job (\d+) submitted as slurm job ([\d_]+)", text))


def sacct(job_ids, fields=("JobIDRaw", "JobName", "State", "Timelimit", "AllocTRES")):
    out = command(
        "sacct", "-X", "-n", "-P", "-o", ",".join(fields), "-j", ",".join(sorted(job_ids))
    )
    return [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]


def queued(job_ids) -> set[str]:
    out = command("squeue", "-h", "--array", "-o", "%i", "-j", ",".join(sorted(job_ids)))
    return set(out.split()) & set(job_ids)


def job_state(job_id: str) -> str:
    return command("squeue", "-h", "-o", "%T", "-j", job_id).strip()


def release_requeued(job_id: str) -> None:
    """A requeued job waits 120 s (BeginTime) before it is eligible: let it start sooner.

    Not at once: slurmd revokes the killed attempt's credential, and a new one issued in the
    same second is refused ("Job credential revoked", the job then ends as failed). Seen in CI
    when the restart came 0.5 s after the requeue; a few seconds' delay avoids the race."""
    wait_until(lambda: job_state(job_id) == "PENDING", f"job {job_id} back in the queue")
    command("scontrol", "update", f"JobId={job_id}", "StartTime=now+3")


def overlay(tmp_path: Path, name: str, content: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


# -- the cluster ------------------------------------------------------------------------------


def cluster_is_up() -> bool:
    try:
        nodes = command("sinfo", "-h", "-o", "%T")
        command("sacct", "-n", "-X", "-S", "now")
    except (OSError, subprocess.SubprocessError):
        return False
    return any(s in nodes for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running SLURM with accounting: CI's, or one started (and stopped) here."""
    if cluster_is_up():
        yield
        return
    reason, state = None, None
    if shutil.which("sbatch") is None:
        reason = "SLURM is not installed (see .ci/slurm/install.sh)"
    elif os.geteuid() != 0:
        reason = "no SLURM running, and starting one needs root"
    else:
        state = tmp_path_factory.mktemp("slurm-state")
        proc = subprocess.run([START, state], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            reason = f"SLURM cannot start here: {proc.stderr.strip()[-1500:]}"
    if reason:
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield
    finally:
        subprocess.run([STOP, state], capture_output=True, timeout=300)


@pytest.fixture
def counted_sacct(tmp_path):
    """PATH with a sacct that logs each call before running the real one."""
    real, calls = shutil.which("sacct"), tmp_path / "sacct.calls"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sacct").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    (bindir / "sacct").chmod(0o755)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bindir}{os.pathsep}{path}"
    yield calls
    os.environ["PATH"] = path


# -- the DAG ----------------------------------------------------------------------------------


# paper-shaped requests (config/cifar10.yaml's, scaled to the test cluster), in the names of
# snakemake-executor-plugin-slurm
PAPER_RESOURCES = {"gpu": 1, "cpus_per_task": 4, "mem_mb": 1000, "runtime": 10}
# the side-trips of one data seed at the tiny config's branch point (from the averaging registry)
_TRIPS = lrconfig.load(TINY)["sidetrips"]
METHODS = sidetrip_methods(_TRIPS["averaging"], _TRIPS["linear_decay"])
(BRANCH,) = _TRIPS["branch_steps"]


def test_paper_shaped_dag_on_slurm_training_on_gpus_light_rules_local_sidetrips_as_array(
    slurm, tmp_path, counted_sacct
):
    paper = overlay(
        tmp_path, "paper", {"resources": PAPER_RESOURCES, "sidetrips": {"data_seeds": [0]}}
    )
    target = "results/figures/fig5.pdf"
    partitions = ("--submitit-partition", "gpu", "--submitit-cpu-partition", "cpu")
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), *partitions, target,
        "--configfile", str(TINY), str(paper),
    )  # fmt: skip
    out = finish(proc, tmp_path)
    assert proc.returncode == 0, out[-5000:]
    logged = counted_sacct.read_text().splitlines()  # before this test's own sacct calls
    assert (tmp_path / "results/figures/fig5.pdf").read_bytes().startswith(b"%PDF")
    assert "localrule fig5:" in out  # the figure ran on the controller, in no partition

    jobs = sacct(
        submitted(tmp_path).values(),
        ("JobID", "JobName", "Partition", "State", "AllocCPUS", "AllocTRES"),
    )
    assert len(jobs) == 1 + len(METHODS) and {j["State"] for j in jobs} == {"COMPLETED"}
    # the side-trips were ready together: one sbatch, one array, named by rule and the
    # wildcards its tasks share; the controller names each task's own wildcards
    array_name = f"smk-sidetrip-tiny-{BRANCH}-0-x{len(METHODS)}"
    for j in jobs:  # only training jobs went to SLURM, each with what the config asked for
        assert j["JobName"] in {"smk-burn_in-tiny", array_name}, j
        assert j["Partition"] == "gpu" and j["AllocCPUS"] == "4", j
        assert "gres/gpu=1" in j["AllocTRES"] and "mem=1000M" in j["AllocTRES"], j
    arrays = {j["JobID"].split("_")[0] for j in jobs if j["JobName"] == array_name}
    assert len(arrays) == 1
    for method in METHODS:
        assert f"(smk-sidetrip-tiny-{BRANCH}-0-{method} in array {array_name};" in out
    # the job's CPUs are its threads, hence torch's threads (Snakemake caps threads at the
    # node's cores: the test cluster declares 8 CPUs on what may be a 2-core machine)
    threads = min(PAPER_RESOURCES["cpus_per_task"], os.cpu_count())
    assert f"rule burn_in started (threads={threads})" in (tmp_path / BURN_IN_LOG).read_text()
    report = next((tmp_path / ".snakemake/submitit").glob("*/cluster_report.md")).read_text()
    assert report.count("| COMPLETED |") == 1 + len(METHODS)
    # elapsed, CPUs, CPU efficiency, max RSS, GPUs
    assert re.search(
        r"\| smk-burn_in-tiny \| gpu \| COMPLETED \| [\d:]+ \| 4 \| \d+% \| \d+M \| 1 \|", report
    )

    # one sacct call per status round, for all active jobs at once, and no other caller
    status = [line for line in logged if "--allocations" in line]
    rounds, calls = map(int, re.search(r"(\d+) status rounds, (\d+) sacct calls", out).groups())
    assert len(status) == calls <= rounds
    assert max(len(line.split("--jobs ")[1].split(",")) for line in status) >= len(METHODS)


def test_failures_gpu_models_and_padded_time_limits(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(
        """
rule all:
    input: "minute.txt", "gpu.txt", "fails.txt", "typo.txt", "long.txt"

# a 1-minute rule: submitit's USR2 comes 90 s before the limit, so the limit must be padded
rule minute:
    output: "minute.txt"
    resources: runtime=1
    shell: "sleep 25; echo done > {output}"

rule gpu:
    output: "gpu.txt"
    resources: gpus=1, gpu_model="fake", mem_mb=300
    shell: "echo $CUDA_VISIBLE_DEVICES > {output}"

rule fails:
    output: "fails.txt"
    shell: "echo about to fail >&2; exit 3"

# a resource name no plugin knows: refused, never dropped
rule typo:
    output: "typo.txt"
    resources: gpus_per_node=1
    shell: "touch {output}"

# over the gpu partition's MaxTime of 2 days (with the 90 s warning): would pend forever
rule long:
    output: "long.txt"
    resources: runtime=2880, gpu=1
    shell: "touch {output}"
"""
    )
    partitions = ("--submitit-partition", "gpu", "--submitit-cpu-partition", "cpu")
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), *partitions, "--keep-going",
        snakefile=tmp_path / "Snakefile",
    )  # fmt: skip
    out = finish(proc, tmp_path)
    assert proc.returncode != 0
    assert "Error in rule fails" in out and "state FAILED" in out
    assert "unsupported resource(s) gpus_per_node" in out
    assert "rule long: --time=2882 min" in out and "MaxTime of 2880 min" in out
    assert (tmp_path / "minute.txt").read_text() == "done\n"
    assert (tmp_path / "gpu.txt").read_text().strip() != ""
    fields = ("JobIDRaw", "JobName", "Partition", "State", "Timelimit", "AllocTRES")
    jobs = {j["JobName"]: j for j in sacct(submitted(tmp_path).values(), fields)}
    # jobs without GPUs went to the CPU partition, the GPU job to the GPU partition
    assert {n: j["Partition"] for n, j in jobs.items()} == {
        "smk-minute": "cpu", "smk-fails": "cpu", "smk-gpu": "gpu"
    }  # fmt: skip
    assert jobs["smk-minute"]["State"] == "COMPLETED"
    assert jobs["smk-minute"]["Timelimit"] == "00:03:00"  # 1 min + 90 s, rounded up
    assert "gres/gpu=1" in jobs["smk-gpu"]["AllocTRES"]
    assert jobs["smk-fails"]["State"] == "FAILED"
    assert not {"smk-typo", "smk-long"} & set(jobs)  # refused before submission


def test_ctrl_c_cancels_every_submitted_job(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(
        """
rule all:
    input: expand("sleep{i}.txt", i=range(4))

rule sleep:
    output: "sleep{i}.txt"
    resources: gpus=1
    shell: "sleep 600; touch {output}"
"""
    )
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), snakefile=tmp_path / "Snakefile"
    )
    ids = wait_until(lambda: len(submitted(tmp_path)) == 4 and submitted(tmp_path), "4 jobs")
    ids = set(ids.values())
    states = ("squeue", "-h", "-o", "%T", "-j", ",".join(ids))
    wait_until(lambda: "RUNNING" in command(*states), "a running job")
    proc.send_signal(signal.SIGINT)  # Ctrl-C; SIGTERM would cancel nothing
    finish(proc, tmp_path, limit_s=120)
    wait_until(lambda: not queued(ids), "the cancelled jobs to leave the queue", 120)
    # the four went out as one array; its tasks that never started show as the array's own line
    # ("18", not "18_2"), so ask by array id; slurmdbd may lag behind the cancel
    arrays = {i.split("_")[0] for i in ids}
    assert len(arrays) == 1
    wait_until(lambda: sacct(arrays), "the cancelled jobs in accounting", 60)
    assert {j["State"].split()[0] for j in sacct(arrays)} == {"CANCELLED"}  # "CANCELLED by 0"


def test_light_rules_run_on_the_controller_unless_given_cpus(slurm, tmp_path):
    # the quadratic model is light by default; a user who wants it on the cluster gives it CPUs
    # (Snakemake's --set-resources, or `set-resources:` in the profile)
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), "--submitit-partition", "gpu",
        "--submitit-cpu-partition", "cpu",
        "results/quadratic/lemma1.parquet", "results/config.yaml", "--configfile", str(TINY),
        "--set-resources", "quadratic_simulate:cpus_per_task=2",
    )  # fmt: skip
    out = finish(proc, tmp_path)
    assert proc.returncode == 0, out[-5000:]
    assert "localrule effective_config:" in out
    assert "\nrule quadratic_simulate:" in out and "localrule quadratic_simulate:" not in out
    fields = ("JobName", "Partition", "State", "AllocCPUS")
    (job,) = sacct(submitted(tmp_path).values(), fields)
    assert job["JobName"].startswith("smk-quadratic_simulate")
    assert (job["Partition"], job["State"], job["AllocCPUS"]) == ("cpu", "COMPLETED", "2")


# -- preemption -------------------------------------------------------------------------------


def preempt(job: str, tmp_path: Path) -> None:
    """Preempt a running job for real: a job in the higher-priority partition `urgent` needs
    the whole node; SLURM (PreemptType=preempt/partition_prio, PreemptMode=REQUEUE) kills ours
    without warning and requeues it. Returns once ours is eligible to start again."""
    urgent = urgent_job(tmp_path)
    wait_until(lambda: job_state(job) == "PENDING", f"job {job} preempted and requeued")
    wait_until(lambda: not queued({urgent}), "the urgent job to finish")
    release_requeued(job)


SLEEPER = """
rule sleeper:
    output: "slept.txt"
    shell: "sleep 150; touch {output}"
"""


def urgent_job(tmp_path: Path) -> str:
    """A job in the higher-priority partition `urgent` that needs the whole node."""
    return command(
        "sbatch", "--parsable", "--partition=urgent", "--exclusive", "--job-name=urgent",
        f"--output={tmp_path}/urgent.out", "--wrap", "sleep 5",
    ).strip()  # fmt: skip


def test_a_job_preempted_more_often_than_allowed_fails_naming_the_cap(slurm, tmp_path):
    (tmp_path / "Snakefile").write_text(SLEEPER)
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), "--submitit-max-preemptions", "0",
        snakefile=tmp_path / "Snakefile",
    )  # fmt: skip
    (job,) = wait_until(lambda: submitted(tmp_path), "the job").values()
    wait_until(lambda: job_state(job) == "RUNNING", "the job running")
    preempt(job, tmp_path)
    out = finish(proc, tmp_path)
    assert proc.returncode != 0 and "Error in rule sleeper" in out
    assert "1 preemptions exceed max_preemptions=0" in out
    assert not (tmp_path / "slept.txt").exists()
    attempts = command("sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job).split()
    assert attempts[0] == "PREEMPTED" and attempts[-1] == "FAILED"


def test_without_requeue_a_preempted_job_fails(slurm, tmp_path):
    # the test cluster has JobRequeue=0: only the plugin's --requeue makes SLURM requeue a job
    (tmp_path / "Snakefile").write_text(SLEEPER)
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), "--submitit-no-requeue",
        snakefile=tmp_path / "Snakefile",
    )  # fmt: skip
    (job,) = wait_until(lambda: submitted(tmp_path), "the job").values()
    wait_until(lambda: job_state(job) == "RUNNING", "the job running")
    urgent_job(tmp_path)
    out = finish(proc, tmp_path)
    assert proc.returncode != 0 and "Error in rule sleeper" in out and "state PREEMPTED" in out
    assert not queued({job})


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The long burn-in, run once without interruption (plain local Snakemake)."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    long = overlay(workdir, "long", LONG_BURN_IN)
    proc = start_snakemake(workdir, "--cores", "1", BURN_IN, "--configfile", str(TINY), str(long))
    out = finish(proc, workdir)
    assert proc.returncode == 0, out[-5000:]
    return workdir


def assert_same_burn_in(run: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(
        pd.read_parquet(reference / BURN_IN), pd.read_parquet(run / BURN_IN)
    )
    published = sorted((reference / "results/tiny/burn_in/checkpoints").glob("*.pt"))
    assert published
    for path in published:
        ours = torch.load(run / path.relative_to(reference), weights_only=False)["model"]
        theirs = torch.load(path, weights_only=False)["model"]
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def progress(workdir: Path) -> int:
    """Last step the burn-in logged in its current attempt."""
    log = workdir / BURN_IN_LOG
    steps = re.findall(r"step (\d+)/", log.read_text()) if log.exists() else []
    return int(steps[-1]) if steps else 0


def resumed_at(job_log: Path) -> list[int]:
    return [int(s) for s in re.findall(r"resumed from .* at step (\d+)", job_log.read_text())]


def test_training_resumes_bit_identically_after_a_warning_and_a_real_preemption(
    slurm, uninterrupted, tmp_path
):
    long = overlay(tmp_path, "long", LONG_BURN_IN)
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), BURN_IN, "--configfile", str(TINY), str(long)
    )
    (job,) = wait_until(lambda: submitted(tmp_path), "the burn-in job").values()
    job_log = wait_until(
        lambda: next((tmp_path / ".snakemake/submitit").rglob(f"{job}_0_log.out"), None), "log"
    )

    # 1. SLURM's warning (what --signal=USR2@90 sends to every process of the job step): the
    # loop checkpoints at the next step and the job wrapper requeues the job itself
    wait_until(lambda: progress(tmp_path) >= 300, "burn-in progress")
    command("scancel", "--signal=USR2", job)
    release_requeued(job)
    wait_until(lambda: resumed_at(job_log), "the first resume")
    (signalled,) = resumed_at(job_log)
    assert 300 <= signalled < 1500  # where the signal came, before the periodic checkpoint

    # 2. real preemption, without warning: the killed attempt leaves an `error` result, sacct
    # says PREEMPTED, and the job must not be reported failed
    wait_until(lambda: progress(tmp_path) > 1500 + 100, "progress past the checkpoint at 1500")
    preempt(job, tmp_path)
    assert proc.poll() is None, "the controller gave up on a preempted job"

    out = finish(proc, tmp_path)
    assert proc.returncode == 0, out[-5000:]
    assert resumed_at(job_log)[1] == 1500  # the last periodic checkpoint before the kill
    assert "Error" not in out
    attempts = command("sacct", "-D", "-X", "-n", "-P", "-o", "State", "-j", job).split()
    assert attempts[-1] == "COMPLETED" and "PREEMPTED" in attempts
    assert_same_burn_in(tmp_path, uninterrupted)


def local_task_pid(controller_pid: int) -> int | None:
    """The submitit task under a local-cluster controller (its only child)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == controller_pid:
            return int(stat.parent.name)
    return None


def test_preempted_training_resumes_on_the_local_cluster(uninterrupted, tmp_path):
    long = overlay(tmp_path, "long", LONG_BURN_IN)
    proc = start_snakemake(
        tmp_path, "--profile", str(LOCAL_PROFILE), BURN_IN, "--configfile", str(TINY), str(long)
    )
    text = wait_until(
        lambda: re.search(
            r"submitted as local job (\d+)", (tmp_path / "snakemake.out").read_text()
        ),
        "the burn-in job",
    )
    controller = int(text.group(1))
    wait_until(lambda: progress(tmp_path) >= 300, "burn-in progress")
    # what submitit's local controller sends ahead of the time limit
    os.kill(wait_until(lambda: local_task_pid(controller), "the submitit task"), signal.SIGUSR2)
    out = finish(proc, tmp_path)
    assert proc.returncode == 0, out[-5000:]
    (job_log,) = (tmp_path / ".snakemake/submitit").rglob(f"{controller}_0_log.out")
    (signalled,) = resumed_at(job_log)
    assert 300 <= signalled < 3000
    assert_same_burn_in(tmp_path, uninterrupted)


# a burn-in as 2 data-parallel ranks (2 tasks on SLURM), long enough to be warned mid-way
TWO_RANKS = {
    "distributed": {"ranks": 2},
    "trajectory": {"steps": 800, "checkpoint_every": 400, "eval_every": 400, "log_every": 100},
}


@pytest.fixture(scope="module")
def two_ranks_uninterrupted(tmp_path_factory) -> Path:
    """The 2-rank burn-in without interruption, its ranks started by the local launcher."""
    workdir = tmp_path_factory.mktemp("two_ranks_uninterrupted")
    ranks = overlay(workdir, "ranks", TWO_RANKS)
    proc = start_snakemake(workdir, "--cores", "2", BURN_IN, "--configfile", str(TINY), str(ranks))
    out = finish(proc, workdir)
    assert proc.returncode == 0, out[-5000:]
    return workdir


def test_two_rank_training_runs_as_two_slurm_tasks_and_resumes_after_a_warning(
    slurm, two_ranks_uninterrupted, tmp_path
):
    ranks = overlay(tmp_path, "ranks", TWO_RANKS)
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), BURN_IN, "--configfile", str(TINY), str(ranks)
    )
    (job,) = wait_until(lambda: submitted(tmp_path), "the burn-in job").values()
    job_log = wait_until(
        lambda: next((tmp_path / ".snakemake/submitit").rglob(f"{job}_0_log.out"), None), "log"
    )
    wait_until(lambda: progress(tmp_path) >= 200, "burn-in progress")
    command("scancel", "--signal=USR2", job)  # SLURM's warning, to every step of the job
    release_requeued(job)
    out = finish(proc, tmp_path)
    assert proc.returncode == 0, out[-5000:]
    # both ranks saved nothing but rank 0's resume file, and both resumed from it
    (signalled,) = set(resumed_at(job_log))
    assert 200 <= signalled < 400 and len(resumed_at(job_log)) == 2
    # the allocation holds 2 tasks; in each attempt the job ran as one task and its ranks as a
    # step of two
    fields = ("JobID", "NTasks", "AllocCPUS", "State")
    out = command("sacct", "-D", "-n", "-P", "-o", ",".join(fields), "-j", job)
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    allocation = [r for r in rows if "." not in r["JobID"]]
    assert {r["AllocCPUS"] for r in allocation} == {"2"}, rows
    steps = [r for r in rows if re.fullmatch(r"\d+\.\d+", r["JobID"])]
    assert sorted(r["NTasks"] for r in steps).count("2") == 2, rows  # one per attempt
    assert_same_burn_in(tmp_path, two_ranks_uninterrupted)


REHEARSAL = REPO / "config" / "rehearsal_cifar10.yaml"


def test_full_size_rehearsal_builds_fig10_on_slurm_with_two_tasks_per_training_job(slurm, tmp_path):
    """config/rehearsal_cifar10.yaml: the paper-scale CIFAR ResNet-34 and batch 512 on data in
    CIFAR's on-disk format, only the step counts shrunk; through profiles/slurm, every training
    job a 2-task allocation whose ranks ran as one step of 2 tasks. Measured on a quiet 2-core
    machine: 5 min 14 s for burn-in 1 job, side-trips 2 (an array), fig10 on the controller."""
    from lrtraj import checkpoint
    from lrtraj.models import build_model

    data = [sys.executable, "-m", "lrtraj.cli", "synthetic-cifar", "data/rehearsal"]
    subprocess.run([*data, "--train", "5000", "--test", "200"], cwd=tmp_path, check=True)
    target = "results/figures/fig10.pdf"
    proc = start_snakemake(
        tmp_path, "--profile", str(SLURM_PROFILE), target, "--configfile", str(REHEARSAL)
    )
    out = finish(proc, tmp_path, limit_s=1800)
    assert proc.returncode == 0, out[-5000:]
    assert (tmp_path / target).read_bytes().startswith(b"%PDF") and "localrule fig10:" in out
    jobs = submitted(tmp_path).values()
    assert len(jobs) == 3  # burn_in + the constant and two-point side-trips fig10 draws
    fields = ("JobID", "NTasks", "State")
    text = command("sacct", "-n", "-P", "-o", ",".join(fields), "-j", ",".join(sorted(jobs)))
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in text.splitlines()]
    for job in jobs:
        steps = [r for r in rows if r["JobID"].startswith(f"{job}.") and r["NTasks"] == "2"]
        assert [r["State"] for r in steps] == ["COMPLETED"], rows
    # the checkpoints are the paper-scale model (21.28 M parameters), loadable as saved
    state = checkpoint.load(tmp_path / "results/rehearsal_cifar10/burn_in/checkpoints/step2.pt")
    model = build_model("resnet34_cifar", 3, 10)
    model.load_state_dict(state["model"])
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 2) == 21.28
