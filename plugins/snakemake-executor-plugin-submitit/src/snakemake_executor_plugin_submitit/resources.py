"""Rule resources -> submitit parameters (pure functions, unit-tested without a cluster).

=================  ============================================================
rule resource      SLURM request
=================  ============================================================
``threads``        ``--cpus-per-task``
``gpus``           ``--gpus-per-node`` (or the count of ``gpu_model``)
``gpu_model``      ``--gres=gpu:<model>:<gpus>``
``gres``           ``--gres=<gres>`` (not together with ``gpus``/``gpu_model``)
``mem_mb``         ``--mem=<mem_mb>M`` (``mem_mb_per_cpu`` -> ``--mem-per-cpu``)
``runtime``        ``--time``: runtime + the signal delay, so that the USR2 warning comes
                   at the declared runtime, never before it
``slurm_partition`` / ``slurm_account``  override the plugin's partition/account settings
``slurm_extra``    more sbatch long options, e.g. ``"--qos=high --constraint=a100"``
=================  ============================================================
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import Any

# Options the plugin (or submitit) sets itself: in `slurm_extra` they would contradict a resource
# or break the job's bookkeeping.
FROM_RESOURCES = {
    "time": "runtime",
    "gres": "gres or gpu_model",
    "gpus": "gpus",
    "gpus-per-node": "gpus",
    "mem": "mem_mb",
    "mem-per-cpu": "mem_mb_per_cpu",
    "cpus-per-task": "threads",
    "partition": "slurm_partition",
    "account": "slurm_account",
}
FROM_SUBMITIT = {
    "job-name",
    "output",
    "error",
    "signal",
    "array",
    "wrap",
    "open-mode",
    "nodes",
    "ntasks",
    "ntasks-per-node",
    "parsable",
}
# No time limit declared: SLURM applies the partition's default; locally we must give one.
LOCAL_DEFAULT_TIMEOUT_MIN = 7 * 24 * 60


class ResourceError(ValueError):
    """A rule's resources cannot be turned into a valid request."""


def parse_sbatch_options(text: str | None) -> dict[str, str | bool]:
    """``"--qos=high --exclusive --constraint a100"`` -> ``{"qos": "high", "exclusive": True,
    "constraint": "a100"}``.

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


def time_limit_min(runtime_min: float | None, signal_delay_s: int) -> int | None:
    """Time limit that leaves the declared runtime intact before submitit's USR2 warning.

    submitit asks SLURM for USR2 ``signal_delay_s`` before the limit; a job that cannot
    checkpoint would otherwise lose that margin from the runtime it declared.
    """
    if runtime_min is None:
        return None
    return max(1, math.ceil(float(runtime_min) + signal_delay_s / 60))


def gpu_request(resources: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(--gpus-per-node, --gres): at most one of the two is set."""
    gpus = _count(resources, "gpus")
    model = resources.get("gpu_model") or None
    gres = resources.get("gres") or None
    if gres is not None and (gpus or model):
        raise ResourceError("set either gres or gpus/gpu_model, not both")
    if gres is not None:
        return None, str(gres)
    if model is not None:
        if gpus == 0:
            raise ResourceError(f"gpu_model={model!r} with gpus=0")
        return None, f"gpu:{model}:{gpus or 1}"
    return (gpus or None), None


def slurm_parameters(
    resources: Mapping[str, Any],
    threads: int,
    *,
    name: str,
    partition: str | None = None,
    account: str | None = None,
    sbatch_extra: str | None = None,
    signal_delay_s: int = 90,
) -> dict[str, Any]:
    """Keyword arguments for ``submitit.SlurmExecutor.update_parameters`` for one job."""
    gpus, gres = gpu_request(resources)
    additional: dict[str, Any] = {}
    per_cpu = _count(resources, "mem_mb_per_cpu")
    mem = _count(resources, "mem_mb")
    if per_cpu:
        additional["mem-per-cpu"] = f"{per_cpu}M"
    elif mem:
        additional["mem"] = f"{mem}M"
    additional.update(parse_sbatch_options(sbatch_extra))
    additional.update(parse_sbatch_options(resources.get("slurm_extra")))
    return {
        "job_name": name,
        "cpus_per_task": max(1, int(threads)),
        "gpus_per_node": gpus,
        "gres": gres,
        "time": time_limit_min(resources.get("runtime"), signal_delay_s),
        "partition": resources.get("slurm_partition") or partition,
        "account": resources.get("slurm_account") or account,
        "signal_delay_s": signal_delay_s,
        "stderr_to_stdout": True,  # one log per job
        "wckey": None,  # submitit's default wckey breaks clusters that enforce wckeys
        "additional_parameters": additional,
    }


def local_parameters(resources: Mapping[str, Any], *, signal_delay_s: int = 90) -> dict[str, Any]:
    """Keyword arguments for ``submitit.LocalExecutor.update_parameters`` for one job."""
    gpus, gres = gpu_request(resources)
    if gres is not None:  # gpu:<model>:<n> or gpu:<n>: the count is what a laptop can honour
        tail = gres.rsplit(":", 1)[-1]
        gpus = int(tail) if tail.isdigit() else 1
    limit = time_limit_min(resources.get("runtime"), signal_delay_s)
    return {
        "timeout_min": LOCAL_DEFAULT_TIMEOUT_MIN if limit is None else limit,
        "gpus_per_node": gpus or 0,
        "signal_delay_s": signal_delay_s,
        "stderr_to_stdout": True,
    }
