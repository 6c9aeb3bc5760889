"""The submitit executor plugin without SLURM: resource mapping, sacct parsing and judging, and the
real plugin on submitit's local cluster (profiles/submitit-local)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake_executor_plugin_submitit.resources import (
    LOCAL_DEFAULT_TIMEOUT_MIN,
    ResourceError,
    local_parameters,
    parse_sbatch_options,
    slurm_parameters,
    time_limit_min,
)
from snakemake_executor_plugin_submitit.status import (
    Backoff,
    Verdict,
    judge,
    parse_sacct,
    read_outcome,
    sacct_command,
)

REPO = Path(__file__).resolve().parents[1]


def slurm(resources, threads=1, **settings):
    return slurm_parameters(resources, threads, name="smk-rule", **settings)


# -- resources -> sbatch ----------------------------------------------------------------------


def test_gpus_become_gpus_per_node_without_gres():
    params = slurm({"gpus": 2, "mem_mb": 32000, "runtime": 720}, threads=8)
    assert params["gpus_per_node"] == 2 and params["gres"] is None
    assert params["cpus_per_task"] == 8
    assert params["additional_parameters"]["mem"] == "32000M"


def test_cpu_jobs_ask_for_no_gpu():
    params = slurm({"mem_mb": 1000})
    assert params["gpus_per_node"] is None and params["gres"] is None


def test_gpu_model_becomes_gres_and_never_both():
    params = slurm({"gpus": 2, "gpu_model": "a100"})
    assert params["gres"] == "gpu:a100:2" and params["gpus_per_node"] is None
    assert slurm({"gpu_model": "h100"})["gres"] == "gpu:h100:1"
    assert slurm({"gres": "gpu:v100:4"})["gres"] == "gpu:v100:4"
    with pytest.raises(ResourceError, match="either gres or gpus"):
        slurm({"gres": "gpu:1", "gpus": 1})


def test_time_limit_leaves_the_declared_runtime_before_the_usr2_warning():
    # submitit asks for USR2 90 s before the limit: a 1-minute rule gets 3 minutes
    assert slurm({"runtime": 1})["time"] == 3
    assert time_limit_min(60, 90) == 62
    assert time_limit_min(60, 0) == 60
    assert slurm({})["time"] is None  # the partition's default applies


def test_partition_account_and_extra_options_from_settings_and_rules():
    params = slurm(
        {"slurm_partition": "gpu", "slurm_extra": "--constraint=a100 --exclusive"},
        partition="cpu",
        account="proj",
        sbatch_extra="--qos normal",
    )
    assert params["partition"] == "gpu" and params["account"] == "proj"
    assert params["additional_parameters"] == {
        "qos": "normal",
        "constraint": "a100",
        "exclusive": True,
    }
    assert slurm({"slurm_account": "other"}, account="proj")["account"] == "other"


@pytest.mark.parametrize(
    "text,message",
    [
        ("--time=10", "runtime"),
        ("--gres=gpu:1", "gres"),
        ("--mem 4G", "mem_mb"),
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
    assert local_parameters({"gpu_model": "a100", "gpus": 2})["gpus_per_node"] == 2


# -- status -----------------------------------------------------------------------------------


def test_one_sacct_command_for_all_jobs():
    cmd = sacct_command(["11", "12", "13"])
    assert cmd[0] == "sacct" and cmd[-2:] == ["--jobs", "11,12,13"]
    assert "--allocations" in cmd and "--parsable2" in cmd


def test_sacct_output_is_parsed_per_allocation():
    text = "11|RUNNING|0:0\n11.batch|RUNNING|0:0\n12|CANCELLED by 0|0:15\n13|PENDING|0:0\n\n"
    assert parse_sacct(text) == {"11": "RUNNING", "12": "CANCELLED", "13": "PENDING"}


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
    assert {"cluster", "partition", "account", "folder", "sbatch_extra"} <= {
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
