"""Rule resources -> submitit parameters (pure functions, unit-tested without a cluster).

The vocabulary and semantics are snakemake-executor-plugin-slurm's, so a profile or rule written
for that plugin asks for the same allocation here:

===================  ========================================================================
rule resource        SLURM request
===================  ========================================================================
``cpus_per_task``    ``--cpus-per-task`` (default: the rule's ``threads``)
``gpu`` (``gpus``)   ``--gpus=<n>``; with ``gpu_model``: ``--gpus=<model>:<n>``
``gpu_model``        needs ``gpu``
``gres``             ``--gres=<gres>`` (not together with ``gpu``/``gpu_model``)
``cpus_per_gpu``     ``--cpus-per-gpu`` instead of ``--cpus-per-task`` (GPU jobs only)
``mem_mb``           ``--mem=<mem_mb>M``; ``mem_mb_per_cpu`` -> ``--mem-per-cpu`` (wins)
``runtime``          ``--time``: runtime + the signal delay, so that the USR2 warning comes
                     at the declared runtime, never before it
``constraint``       ``--constraint``;  ``qos``: ``--qos``
``slurm_partition``  ``--partition`` (else the plugin's GPU or CPU partition setting)
``slurm_account``    ``--account`` (else the plugin's account setting)
``slurm_extra``      more sbatch long options, e.g. ``"--exclusive --nice=5"``
``tasks``            ``--ntasks-per-node=<n>`` on one node; the Snakemake job itself runs as
                     one task of it (``srun --ntasks=1``), and a program of the rule starts
                     the n tasks as a job step (``srun --overlap --mem=0 --ntasks=<n>``), e.g. the
                     ranks of a data-parallel training job
``nodes``            1 only (a Snakemake job here runs on one node)
===================  ========================================================================

Any other resource name is refused with its name, never dropped.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from typing import Any

SLURM_RESOURCES = frozenset(
    {
        "cpus_per_task",
        "cpus_per_gpu",
        "gpu",
        "gpus",
        "gpu_model",
        "gres",
        "mem_mb",
        "mem_mb_per_cpu",
        "runtime",
        "constraint",
        "qos",
        "slurm_partition",
        "slurm_account",
        "slurm_extra",
        "nodes",
        "tasks",
    }
)
# Snakemake's own bookkeeping, present in every job's resources (or derived: `mem`/`disk` become
# `mem_mb`/`disk_mb`); snakemake-executor-plugin-slurm requests nothing for them either.
SNAKEMAKE_RESOURCES = frozenset(
    {"_cores", "_nodes", "_job_count", "tmpdir", "mem", "mem_mib", "disk", "disk_mb", "disk_mib"}
)
# Options a resource or the plugin sets: in `slurm_extra` they would contradict it.
FROM_RESOURCES = {
    "time": "runtime",
    "gres": "gres or gpu/gpu_model",
    "gpus": "gpu",
    "gpus-per-node": "gpu",
    "gpus-per-task": "gpu",
    "mem": "mem_mb",
    "mem-per-cpu": "mem_mb_per_cpu",
    "cpus-per-task": "cpus_per_task",
    "cpus-per-gpu": "cpus_per_gpu",
    "constraint": "constraint",
    "qos": "qos",
    "partition": "slurm_partition",
    "account": "slurm_account",
    "nodes": "nodes",
    "ntasks": "tasks",
    "requeue": "the requeue setting",
    "no-requeue": "the requeue setting",
}
FROM_SUBMITIT = {
    "job-name",
    "output",
    "error",
    "signal",
    "array",
    "wrap",
    "open-mode",
    "ntasks-per-node",
    "parsable",
}
# No time limit declared: SLURM applies the partition's default; locally we must give one.
LOCAL_DEFAULT_TIMEOUT_MIN = 7 * 24 * 60


class ResourceError(ValueError):
    """A rule's resources cannot be turned into a valid request."""


def parse_sbatch_options(text: str | None) -> dict[str, str | bool]:
    """``"--exclusive --nice 5"`` -> ``{"exclusive": True, "nice": "5"}``.

    Long options only, split like a shell would split them but never run by one.
    """
    tokens = shlex.split(text or "")
    options: dict[str, str | bool] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or len(token) == 2:
            raise ResourceError(f"sbatch options must be long options (--name[=value]): {token!r}")
        name, eq, value = token[2:].partition("=")
        name = name.replace("_", "-")
        if not eq and i + 1 < len(tokens) and not tokens[i + 1].startswith("-"):
            value, eq = tokens[i + 1], "="
            i += 1
        if any(c in name + value for c in "\n\r\0"):
            raise ResourceError(f"sbatch option with a line break: {token!r}")
        if name in FROM_RESOURCES:
            raise ResourceError(
                f"--{name} comes from the rule's resources ({FROM_RESOURCES[name]}), "
                "not from extra sbatch options"
            )
        if name in FROM_SUBMITIT:
            raise ResourceError(f"--{name} is set by submitit and cannot be overridden")
        options[name] = value if eq else True
        i += 1
    return options


def check_names(resources: Mapping[str, Any]) -> None:
    """Refuse every resource name without a meaning here (a typo, or another plugin's name)."""
    unknown = sorted(set(resources) - SLURM_RESOURCES - SNAKEMAKE_RESOURCES)
    if unknown:
        raise ResourceError(
            f"unsupported resource(s) {', '.join(unknown)}: the submitit plugin knows "
            f"{', '.join(sorted(SLURM_RESOURCES))} (docs/slurm.md)"
        )


def _count(resources: Mapping[str, Any], key: str) -> int | None:
    value = resources.get(key)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ResourceError(f"resource {key}={value!r} is not an integer") from None
    if number < 0:
        raise ResourceError(f"resource {key}={value!r} is negative")
    return number


def _text(resources: Mapping[str, Any], key: str) -> str | None:
    value = resources.get(key)
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[\w.:,&|()\[\]*=+-]+", str(value)):
        raise ResourceError(f"resource {key}={value!r} has characters sbatch does not take")
    return str(value)


def time_limit_min(runtime_min: float | None, signal_delay_s: int) -> int | None:
    """Time limit that leaves the declared runtime intact before submitit's USR2 warning.

    submitit asks SLURM for USR2 ``signal_delay_s`` before the limit; a job that cannot
    checkpoint would otherwise lose that margin from the runtime it declared.
    """
    if runtime_min is None or runtime_min == "":
        return None
    return max(1, math.ceil(float(runtime_min) + signal_delay_s / 60))


def gpu_count(resources: Mapping[str, Any]) -> int:
    """GPUs a job asks for (``gpu``, its alias ``gpus``, or a ``gres=gpu[:model]:n``)."""
    gpu, gpus = _count(resources, "gpu"), _count(resources, "gpus")
    if gpu is not None and gpus is not None and gpu != gpus:
        raise ResourceError(f"gpu={gpu} and gpus={gpus} disagree (gpus is an alias of gpu)")
    count = gpu if gpu is not None else gpus
    gres = _text(resources, "gres")
    if gres is not None and gres.startswith("gpu"):
        tail = gres.rsplit(":", 1)[-1]
        return int(tail) if tail.isdigit() and ":" in gres else 1
    return count or 0


def gpu_request(resources: Mapping[str, Any]) -> dict[str, str]:
    """The sbatch options of a GPU request: ``{"gpus": ...}``, ``{"gres": ...}`` or none."""
    count = gpu_count({k: v for k, v in resources.items() if k != "gres"})
    model, gres = _text(resources, "gpu_model"), _text(resources, "gres")
    if gres is not None and (count or model):
        raise ResourceError("set either gres or gpu/gpu_model, not both")
    if gres is not None:
        if not re.fullmatch(r"\w+(:\w+)?(:\d+)?(,\w+(:\w+)?(:\d+)?)*", gres):
            raise ResourceError(f"resource gres={gres!r} is not NAME[:TYPE][:COUNT]")
        return {"gres": gres}
    if model is not None:
        if not count:
            raise ResourceError(f"gpu_model={model!r} needs a GPU count (resource gpu)")
        return {"gpus": f"{model}:{count}"}
    return {"gpus": str(count)} if count else {}


def slurm_parameters(
    resources: Mapping[str, Any],
    threads: int,
    *,
    name: str,
    partition: str | None = None,
    cpu_partition: str | None = None,
    account: str | None = None,
    sbatch_extra: str | None = None,
    signal_delay_s: int = 90,
    requeue: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for ``submitit.SlurmExecutor.update_parameters`` for one job.

    ``partition`` is for jobs with GPUs; jobs without go to ``cpu_partition`` when it is set.
    """
    check_names(resources)
    if (_count(resources, "nodes") or 1) != 1:
        raise ResourceError(f"resource nodes={resources['nodes']!r}: only 1 is supported here")
    additional: dict[str, Any] = dict(gpu_request(resources))
    cpus_per_task = _count(resources, "cpus_per_task")
    cpus_per_gpu = _count(resources, "cpus_per_gpu")
    if cpus_per_gpu and not additional:
        raise ResourceError(f"cpus_per_gpu={cpus_per_gpu} on a job without GPUs")
    if cpus_per_gpu and cpus_per_task:
        raise ResourceError("set either cpus_per_task or cpus_per_gpu, not both")
    per_cpu, mem = _count(resources, "mem_mb_per_cpu"), _count(resources, "mem_mb")
    if per_cpu:
        additional["mem-per-cpu"] = f"{per_cpu}M"
    elif mem:
        additional["mem"] = f"{mem}M"
    additional["requeue" if requeue else "no-requeue"] = True
    additional.update(parse_sbatch_options(sbatch_extra))
    additional.update(parse_sbatch_options(resources.get("slurm_extra")))
    default_partition = partition if additional.get("gpus") or additional.get("gres") else None
    return {
        "job_name": name,
        **task_parameters(_count(resources, "tasks") or 1),
        "cpus_per_task": None if cpus_per_gpu else max(1, cpus_per_task or int(threads)),
        "cpus_per_gpu": cpus_per_gpu or None,
        "time": time_limit_min(resources.get("runtime"), signal_delay_s),
        "partition": resources.get("slurm_partition")
        or default_partition
        or cpu_partition
        or partition,
        "account": resources.get("slurm_account") or account,
        "qos": _text(resources, "qos"),
        "constraint": _text(resources, "constraint"),
        "signal_delay_s": signal_delay_s,
        "stderr_to_stdout": True,  # one log per job
        "wckey": None,  # submitit's default wckey breaks clusters that enforce wckeys
        "additional_parameters": additional,
    }


def task_parameters(tasks: int) -> dict[str, Any]:
    """An allocation of ``tasks`` tasks on one node in which the Snakemake job runs once: submitit
    would otherwise start the job in every task (its srun takes the allocation's count)."""
    if tasks == 1:
        return {}
    return {"ntasks_per_node": tasks, "srun_args": ["--ntasks=1"]}


def parse_max_times(text: str) -> tuple[dict[str, int | None], str | None]:
    """``scontrol show partition --oneliner`` -> ({partition: MaxTime in minutes or None for
    no limit}, the default partition)."""
    limits: dict[str, int | None] = {}
    default = None
    for line in text.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if "PartitionName" not in fields:
            continue
        name = fields["PartitionName"]
        limits[name] = slurm_minutes(fields.get("MaxTime", "UNLIMITED"))
        if fields.get("Default") == "YES":
            default = name
    return limits, default


def slurm_minutes(text: str) -> int | None:
    """SLURM's time format (``days-hh:mm:ss``, ``hh:mm:ss``, ``mm:ss``, ``mm``) in minutes."""
    if text.upper() in {"UNLIMITED", "INFINITE", "NONE", ""}:
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if days:  # days-hours[:minutes[:seconds]]
        hours, minutes, seconds = (parts + [0, 0])[:3]
    elif len(parts) == 3:
        hours, minutes, seconds = parts
    else:  # minutes[:seconds]
        hours, minutes, seconds = 0, parts[0], (parts + [0])[1]
    return int(days or 0) * 1440 + hours * 60 + minutes + math.ceil(seconds / 60)


def check_max_time(
    rule: str,
    params: Mapping[str, Any],
    limits: Mapping[str, int | None],
    default: str | None,
    signal_delay_s: int,
) -> None:
    """Refuse a ``--time`` over its partition's MaxTime: such a job would pend forever."""
    partition = params.get("partition") or default
    limit, time = limits.get(partition) if partition else None, params.get("time")
    if limit is None or time is None or time <= limit:
        return
    raise ResourceError(
        f"rule {rule}: --time={time} min (runtime + {signal_delay_s} s warning) exceeds "
        f"partition {partition}'s MaxTime of {limit} min; lower runtime to at most "
        f"{limit - math.ceil(signal_delay_s / 60)} min, or pick a partition with a longer limit"
    )


def local_parameters(resources: Mapping[str, Any], *, signal_delay_s: int = 90) -> dict[str, Any]:
    """Keyword arguments for ``submitit.LocalExecutor.update_parameters`` for one job."""
    check_names(resources)
    gpu_request(resources)  # same refusals as on SLURM
    limit = time_limit_min(resources.get("runtime"), signal_delay_s)
    return {
        "timeout_min": LOCAL_DEFAULT_TIMEOUT_MIN if limit is None else limit,
        "gpus_per_node": gpu_count(resources),
        "signal_delay_s": signal_delay_s,
        "stderr_to_stdout": True,
    }


def job_name(rule: str, wildcards: Mapping[str, Any] | None = None) -> str:
    """``smk-<rule>-<wildcard values>``, as squeue shows it (sbatch-safe, at most 120 chars)."""
    values = [str(v) for v in (wildcards or {}).values()]
    name = "-".join(["smk", rule, *values])
    return re.sub(r"[^\w.=+-]", "_", name)[:120]
