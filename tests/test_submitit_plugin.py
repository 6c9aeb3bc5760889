"""The submitit executor plugin without SLURM: resource mapping, sacct parsing and judging, and the
real plugin on submitit's local cluster (profiles/submitit-local)."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest
from snakemake_executor_plugin_submitit.report import prune_logs, render, report_rows
from snakemake_executor_plugin_submitit.resources import (
    LOCAL_DEFAULT_TIMEOUT_MIN,
    ResourceError,
    check_max_time,
    job_name,
    local_parameters,
    parse_max_times,
    parse_sbatch_options,
    slurm_minutes,
    slurm_parameters,
    time_limit_min,
)
from snakemake_executor_plugin_submitit.status import (
    REQUEUABLE_STATES,
    Backoff,
    Verdict,
    judge,
    parse_sacct,
    parse_squeue,
    read_outcome,
    sacct_command,
    squeue_command,
    state_of,
)

REPO = Path(__file__).resolve().parents[1]


def slurm(resources, threads=1, **settings):
    return slurm_parameters(resources, threads, name="smk-rule", **settings)


# -- resources -> sbatch ----------------------------------------------------------------------


def test_paper_resources_ask_for_their_cpus_gpus_memory_and_time():
    # config/imagenet.yaml's resources; threads stay 1 in the rule: cpus_per_task wins
    params = slurm({"gpu": 1, "mem_mb": 64000, "runtime": 1440, "cpus_per_task": 16})
    assert params["cpus_per_task"] == 16
    assert params["additional_parameters"]["gpus"] == "1"
    assert params["additional_parameters"]["mem"] == "64000M"
    assert params["time"] == 1442
    assert slurm({}, threads=3)["cpus_per_task"] == 3  # no cpus_per_task: the rule's threads


def test_gpu_names_of_the_standard_slurm_plugin():
    assert slurm({"gpu": 2, "gpu_model": "a100"})["additional_parameters"]["gpus"] == "a100:2"
    assert slurm({"gpus": 2})["additional_parameters"]["gpus"] == "2"  # alias
    assert slurm({"gres": "gpu:v100:4"})["additional_parameters"]["gres"] == "gpu:v100:4"
    params = slurm({"gpu": 1, "cpus_per_gpu": 8})
    assert params["cpus_per_gpu"] == 8 and params["cpus_per_task"] is None
    with pytest.raises(ResourceError, match="either gres or gpu"):
        slurm({"gres": "gpu:1", "gpu": 1})
    with pytest.raises(ResourceError, match="gpu_model='a100' needs a GPU count"):
        slurm({"gpu_model": "a100"})
    with pytest.raises(ResourceError, match="cpus_per_gpu=8 on a job without GPUs"):
        slurm({"cpus_per_gpu": 8})


def test_cpu_jobs_ask_for_no_gpu_and_go_to_the_cpu_partition():
    params = slurm({"mem_mb": 1000}, partition="gpu", cpu_partition="cpu")
    assert "gpus" not in params["additional_parameters"]
    assert params["partition"] == "cpu"
    assert slurm({"gpu": 1}, partition="gpu", cpu_partition="cpu")["partition"] == "gpu"
    assert slurm({"mem_mb": 1000}, partition="gpu")["partition"] == "gpu"


def test_qos_constraint_requeue_and_single_task():
    params = slurm({"gpu": 1, "qos": "high", "constraint": "a100|h100"})
    assert params["qos"] == "high" and params["constraint"] == "a100|h100"
    assert params["additional_parameters"]["requeue"] is True
    assert slurm({}, requeue=False)["additional_parameters"]["no-requeue"] is True
    single = slurm({"nodes": 1, "tasks": 1})
    assert single["cpus_per_task"] == 1 and "ntasks_per_node" not in single
    with pytest.raises(ResourceError, match="nodes=2"):
        slurm({"nodes": 2})


def test_n_tasks_are_an_allocation_in_which_the_snakemake_job_runs_once():
    params = slurm({"tasks": 4, "cpus_per_task": 2, "gpu": 4})
    assert params["ntasks_per_node"] == 4 and params["cpus_per_task"] == 2
    assert params["srun_args"] == ["--ntasks=1"]  # submitit's srun would start it 4 times
    assert "ntasks_per_node" not in local_parameters({"tasks": 4})  # the job starts its ranks


@pytest.mark.parametrize(
    "name", ["mpi", "clusters", "slurm_qos", "gpus_per_node", "time", "threads_per_core"]
)
def test_every_unsupported_resource_is_refused_with_its_name(name):
    with pytest.raises(ResourceError, match=f"unsupported resource.*{name}"):
        slurm({name: 1})
    with pytest.raises(ResourceError, match=name):
        local_parameters({name: 1})


def test_snakemake_own_resources_are_not_refused():
    slurm({"_cores": 1, "_nodes": 1, "tmpdir": "/tmp", "mem": "1G", "disk_mb": 1000})


def test_time_limit_leaves_the_declared_runtime_before_the_usr2_warning():
    # submitit asks for USR2 90 s before the limit: a 1-minute rule gets 3 minutes
    assert slurm({"runtime": 1})["time"] == 3
    assert time_limit_min(60, 90) == 62
    assert time_limit_min(60, 0) == 60
    assert slurm({})["time"] is None  # the partition's default applies


SCONTROL = (
    "PartitionName=gpu AllowGroups=ALL Default=YES MaxTime=2-00:00:00 State=UP\n"
    "PartitionName=cpu Default=NO MaxTime=UNLIMITED State=UP\n"
)


def test_a_time_over_the_partitions_max_time_is_refused_naming_rule_request_and_limit():
    limits, default = parse_max_times(SCONTROL)
    assert limits == {"gpu": 2880, "cpu": None} and default == "gpu"
    too_long = slurm({"runtime": 2880})  # imagenet.yaml's runtime, + 90 s
    with pytest.raises(ResourceError, match=r"rule burn_in: --time=2882 .*gpu.*2880 min"):
        check_max_time("burn_in", too_long, limits, default, 90)
    check_max_time("burn_in", slurm({"runtime": 2878}), limits, default, 90)
    check_max_time("burn_in", {**too_long, "partition": "cpu"}, limits, default, 90)
    assert [slurm_minutes(t) for t in ("30", "1:30", "02:00:00", "1-12")] == [30, 2, 120, 2160]


def test_job_names_carry_rule_and_wildcards():
    wildcards = {"exp": "tiny", "branch": "75000", "seed": "1", "method": "ema_schedule"}
    assert job_name("sidetrip", wildcards) == "smk-sidetrip-tiny-75000-1-ema_schedule"
    assert job_name("fig5") == "smk-fig5"


def test_partition_account_and_extra_options_from_settings_and_rules():
    params = slurm(
        {"slurm_partition": "gpu", "slurm_extra": "--exclusive"},
        partition="cpu",
        account="proj",
        sbatch_extra="--nice 5",
    )
    assert params["partition"] == "gpu" and params["account"] == "proj"
    assert params["additional_parameters"] == {"requeue": True, "nice": "5", "exclusive": True}
    assert slurm({"slurm_account": "other"}, account="proj")["account"] == "other"


@pytest.mark.parametrize(
    "text,message",
    [
        ("--time=10", "runtime"),
        ("--gres=gpu:1", "gres"),
        ("--mem 4G", "mem_mb"),
        ("--cpus-per-task=16", "cpus_per_task"),
        ("--qos=high", "qos"),
        ("--signal=B:USR1@60", "set by submitit"),
        ("-p gpu", "long options"),
        ("--comment='a\nb'", "line break"),
    ],
)
def test_extra_options_that_would_contradict_the_rule_are_refused(text, message):
    with pytest.raises(ResourceError, match=message):
        parse_sbatch_options(text)


def test_extra_options_are_split_like_a_shell_but_kept_as_values():
    options = parse_sbatch_options("--comment='two words; rm -rf /' --nice=5")
    assert options == {"comment": "two words; rm -rf /", "nice": "5"}


def test_local_cluster_always_has_a_time_limit():
    assert local_parameters({})["timeout_min"] == LOCAL_DEFAULT_TIMEOUT_MIN
    assert local_parameters({"runtime": 10})["timeout_min"] == 12
    assert local_parameters({"gpu_model": "a100", "gpu": 2})["gpus_per_node"] == 2
    assert local_parameters({"gres": "gpu:a100:3"})["gpus_per_node"] == 3


# -- status -----------------------------------------------------------------------------------


def test_one_sacct_command_for_all_jobs():
    cmd = sacct_command(["11", "12", "13"])
    assert cmd[0] == "sacct" and cmd[-2:] == ["--jobs", "11,12,13"]
    assert "--allocations" in cmd and "--parsable2" in cmd


def test_sacct_output_is_parsed_per_allocation():
    text = "11|RUNNING|0:0\n11.batch|RUNNING|0:0\n12|CANCELLED by 0|0:15\n13|PENDING|0:0\n\n"
    assert parse_sacct(text) == {"11": "RUNNING", "12": "CANCELLED", "13": "PENDING"}


def test_array_tasks_are_parsed_one_by_one():
    text = "14_[2-3,5%256]|PENDING|0:0\n14_0|RUNNING|0:0\n14_0.batch|RUNNING|0:0\n"
    states = parse_sacct(text)
    assert states == {"14_0": "RUNNING", "14_2": "PENDING", "14_3": "PENDING", "14_5": "PENDING"}
    assert parse_squeue("14_2 PENDING\n9 RUNNING\n") == {"14_2": "PENDING", "9": "RUNNING"}
    assert squeue_command(["14_2", "9"])[-1] == "14_2,9"
    assert sacct_command(["14_2", "9"])[-1] == "14_2,9,14"  # and the array job itself
    # the array cancelled while task 2 was pending: only the array job's own line is left
    assert (
        state_of(parse_sacct("14_0|COMPLETED|0:0\n14|CANCELLED by 0|0:0\n"), "14_2") == "CANCELLED"
    )


def test_preempted_and_node_fail_are_final_only_when_not_requeued():
    # the executor asks squeue for these, and uses its state while the job is queued again
    assert {"PREEMPTED", "NODE_FAIL"} == REQUEUABLE_STATES
    assert judge("error", "PREEMPTED") is Verdict.FAILED  # squeue no longer lists it


def test_efficiency_report_from_sacct_lines():
    text = (
        "7|smk-burn_in-tiny|gpu|COMPLETED|00:01:40|00:05:00|4||billing=4,cpu=4,gres/gpu=1\n"
        "7.batch|batch||COMPLETED|00:01:40|00:05:00|4|524288K|cpu=4,gres/gpu=1\n"
    )
    (row,) = report_rows(text)
    assert row["CPUEff"] == "75%" and row["MaxRSS"] == "512M" and row["GPUs"] == "1"
    assert "| 7 | smk-burn_in-tiny | gpu | COMPLETED" in render([row])


def test_old_logs_of_successful_jobs_are_pruned_and_failed_ones_kept(tmp_path):
    run = tmp_path / "run1" / "burn_in"
    run.mkdir(parents=True)
    for job, outcome in (("3", "success"), ("4", "error")):
        (run / f"{job}_0_log.out").write_text("log")
        (run / f"{job}_0_result.pkl").write_bytes(pickle.dumps((outcome, None)))
    assert prune_logs(tmp_path, keep_days=7) == 0  # all younger than a week
    assert prune_logs(tmp_path, keep_days=7, now=time.time() + 8 * 86400) == 1
    assert sorted(p.name for p in run.iterdir()) == ["4_0_log.out", "4_0_result.pkl"]


@pytest.mark.parametrize(
    "outcome,state,verdict",
    [
        ("success", "RUNNING", Verdict.SUCCESS),  # the function returned: done
        ("success", None, Verdict.SUCCESS),
        # a requeued job: the killed attempt wrote `error`, SLURM runs it again
        ("error", "PENDING", Verdict.RUNNING),
        ("error", "REQUEUED", Verdict.RUNNING),
        ("error", "RUNNING", Verdict.RUNNING),
        ("error", "FAILED", Verdict.FAILED),
        ("error", "COMPLETED", Verdict.FAILED),
        ("error", None, Verdict.FAILED),  # purged from accounting: the file decides
        (None, "TIMEOUT", Verdict.FAILED),  # killed before it could write a result
        (None, "OUT_OF_MEMORY", Verdict.FAILED),
        (None, "CANCELLED", Verdict.FAILED),
        (None, "RUNNING", Verdict.RUNNING),
        (None, "COMPLETED", Verdict.UNSURE),  # result not visible yet (shared filesystem)
        (None, None, Verdict.UNSURE),  # not in accounting yet
    ],
)
def test_an_error_counts_only_once_sacct_shows_a_final_state(outcome, state, verdict):
    assert judge(outcome, state) is verdict


def test_result_files_are_read_as_submitit_writes_them(tmp_path):
    path = tmp_path / "1_0_result.pkl"
    assert read_outcome(path) == (None, "")
    path.write_bytes(pickle.dumps(("success", 0)))
    assert read_outcome(path) == ("success", "")
    path.write_bytes(pickle.dumps(("error", "Traceback...\nJobFailed: exit 1")))
    assert read_outcome(path) == ("error", "Traceback...\nJobFailed: exit 1")


def test_polling_interval_follows_the_youngest_running_job():
    backoff = Backoff(minimum=2, maximum=60, ratio=0.2)
    assert backoff.next(None) == 2
    assert backoff.next(1) == 2  # a job that just started: look again soon
    assert backoff.next(100) == 20
    assert backoff.next(3600) == 60  # hours-long training: once a minute


# -- the plugin, on submitit's local cluster ----------------------------------------------------


def test_snakemake_finds_the_plugin():
    from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

    plugin = ExecutorPluginRegistry().get_plugin("submitit")
    assert {"cluster", "partition", "cpu_partition", "account", "folder", "sbatch_extra"} <= {
        f.name for f in plugin.settings_cls.__dataclass_fields__.values()
    }


SNAKEFILE = """
rule all:
    input: "ok.txt", "fails.txt"

rule ok:
    output: "ok.txt"
    threads: 1
    resources: runtime=5, mem_mb=100
    shell: "echo $CUDA_VISIBLE_DEVICES > {output}"

rule fails:
    output: "fails.txt"
    shell: "echo about to fail; exit 3"
"""


def run_local(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--profile",
        str(REPO / "profiles" / "submitit-local"),
        "--directory",
        str(workdir),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=workdir, timeout=600)


def test_local_cluster_runs_jobs_and_reports_a_failing_one(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    proc = run_local(tmp_path, "--keep-going")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (tmp_path / "ok.txt").exists() and not (tmp_path / "fails.txt").exists()
    assert "Error in rule fails" in out and "submitit job" in out
    logs = list((tmp_path / ".snakemake" / "submitit").rglob("*_log.out"))
    assert len(logs) == 2  # one log per job
    assert any("about to fail" in log.read_text() for log in logs)
