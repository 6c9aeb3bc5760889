"""The plugin's settings (``--submitit-*`` options, profile keys ``submitit-*``)."""

from dataclasses import dataclass, field
from pathlib import Path

from snakemake_interface_executor_plugins.settings import ExecutorSettingsBase

CLUSTERS = ("slurm", "local", "debug")


# No `from __future__ import annotations`: Snakemake builds its CLI from these field types.
@dataclass
class ExecutorSettings(ExecutorSettingsBase):
    cluster: str = field(
        default="slurm",
        metadata={
            "help": "submitit cluster: slurm (sbatch), local (subprocesses on this machine, "
            "for laptops and tests) or debug (in the controller process, one job at a time)",
            "choices": list(CLUSTERS),
        },
    )
    partition: str | None = field(
        default=None,
        metadata={
            "type": str,  # argparse needs a callable, not the union
            "help": "SLURM partition of jobs with GPUs, and of all jobs when cpu-partition is "
            "not set (a rule's slurm_partition resource wins)",
        },
    )
    cpu_partition: str | None = field(
        default=None,
        metadata={
            "type": str,  # argparse needs a callable, not the union
            "help": "SLURM partition of jobs that ask for no GPU",
        },
    )
    account: str | None = field(
        default=None,
        metadata={
            "type": str,  # argparse needs a callable, not the union
            "help": "SLURM account (a rule's slurm_account resource wins)",
        },
    )
    folder: Path = field(
        default=Path(".snakemake/submitit"),
        metadata={
            "help": "submitit folder (job pickles and one log per job), on a filesystem shared "
            "with the compute nodes; each run uses a fresh subfolder, as SLURM job ids repeat "
            "across clusters"
        },
    )
    sbatch_extra: str | None = field(
        default=None,
        metadata={
            "type": str,  # argparse needs a callable, not the union
            "help": "extra sbatch long options for every job, e.g. '--mail-type=FAIL' (a rule's "
            "slurm_extra resource adds to them; qos, constraint... are resources)",
        },
    )
    signal_delay_s: int = field(
        default=90,
        metadata={
            "help": "seconds between submitit's USR2 warning and the time limit; added to each "
            "rule's runtime so the warning never comes before the declared runtime"
        },
    )
    status_interval_min: float = field(
        default=2.0,
        metadata={"help": "shortest interval (s) between status rounds (one sacct call each)"},
    )
    status_interval_max: float = field(
        default=60.0,
        metadata={
            "help": "longest interval (s) between status rounds; in between, the interval is a "
            "fifth of the age of the youngest running job"
        },
    )
    no_requeue: bool = field(
        default=False,
        metadata={
            "help": "submit with --no-requeue (default: --requeue, so that preempted jobs and "
            "jobs of failed nodes are requeued even where the cluster's JobRequeue=0)"
        },
    )
    max_timeouts: int = field(
        default=3,
        metadata={"help": "requeues after time-limit warnings (submitit's max_num_timeout)"},
    )
    max_preemptions: int = field(
        default=10,
        metadata={"help": "requeues after preemptions or node failures before a job fails"},
    )
    no_arrays: bool = field(
        default=False,
        metadata={
            "help": "one sbatch per job (default: jobs that are ready together and ask for the "
            "same resources go out as one SLURM job array)"
        },
    )
    keep_logs_days: float = field(
        default=7.0,
        metadata={
            "help": "at start, delete the logs of successful jobs older than this many days "
            "(failed jobs' logs are kept)"
        },
    )
