"""Judging jobs: submitit's result file, SLURM's accounting state, and the polling rhythm.

Pure functions (unit-tested without a cluster); the executor calls ``sacct`` once per round.
Not submitit's own ``SlurmInfoWatcher`` (``job.state``): it hides a failing sacct behind the last
known states (we must tell "sacct down" from "job gone"), polls on its own clock rather than
Snakemake's status rounds, and takes ``PREEMPTED`` as never done, so a preempted job that SLURM
did not requeue would be waited for forever.

Rules, from running submitit jobs on a real SLURM:

* a ``success`` result is final: the job function returned;
* an ``error`` result is final only once sacct shows a final state: when SLURM requeues a running
  job (preemption, ``scontrol requeue``, node failure) the killed attempt writes an ``error``
  result while SLURM runs the job again;
* ``PREEMPTED`` and ``NODE_FAIL`` are not final: with requeue (``PreemptMode=REQUEUE``,
  ``--requeue``) SLURM puts the job back in the queue, and sacct's allocation line keeps showing
  ``PREEMPTED`` while it waits (seen on the test cluster). For such jobs the executor asks squeue
  (one call for them all, only in rounds that see such states) and uses its state while it still
  lists them: they are final only once squeue no longer does;
* a job that sacct no longer knows (purged from accounting) is judged by its result file;
* a final state without a result (out of memory, time limit, cancelled, or killed before
  Python started) is a failure, after a short grace for shared-filesystem latency.
"""

from __future__ import annotations

import enum
import pickle
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# https://slurm.schedmd.com/sacct.html#SECTION_JOB-STATE-CODES: states a job does not leave
FINAL_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
    }
)
# Final only if SLURM did not requeue the job: ask squeue (see above).
REQUEUABLE_STATES = frozenset({"PREEMPTED", "NODE_FAIL"})
# JobID, not JobIDRaw: an array task is `<array job>_<index>` (submitit's job id for it), and a
# pending array is one line `<array job>_[0-3,7%256]`.
SACCT_FIELDS = ("JobID", "State", "ExitCode")


class Verdict(enum.Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UNSURE = "unsure"  # final state but no result yet, or unknown to sacct: wait a little


def sacct_command(job_ids: Iterable[str]) -> list[str]:
    """One sacct call for all ``job_ids`` (allocations only, machine-readable), with the array
    job of each array task (see :func:`state_of`)."""
    job_ids = list(job_ids)
    job_ids += sorted({j.split("_")[0] for j in job_ids if "_" in j})
    return [
        "sacct",
        "--allocations",
        "--noheader",
        "--parsable2",
        "--format",
        ",".join(SACCT_FIELDS),
        "--jobs",
        ",".join(job_ids),
    ]


def parse_sacct(text: str) -> dict[str, str]:
    """``sacct --parsable2`` lines -> {job id: state}; ``"CANCELLED by 0"`` -> ``CANCELLED``."""
    states: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            continue
        job_id, state = parts[0], parts[1].split()[0].rstrip("+")
        if "." in job_id:  # a step (.batch, .0): only the allocation's state counts
            continue
        for one in expand_array_id(job_id):
            states[one] = state
    return states


def state_of(states: dict[str, str], job_id: str) -> str | None:
    """An array task's state; a task that never started has no line of its own once the array
    ended (cancelled while pending: only the array job's line ``18``, not ``18_2``)."""
    if job_id in states or "_" not in job_id:
        return states.get(job_id)
    return states.get(job_id.split("_")[0])


def expand_array_id(job_id: str) -> list[str]:
    """``"12_[0-2,5%4]"`` -> ``["12_0", "12_1", "12_2", "12_5"]``; other ids unchanged."""
    match = re.fullmatch(r"(\d+)_\[([\d,-]+)(%\d+)?\]", job_id)
    if match is None:
        return [job_id]
    ids = []
    for part in match.group(2).split(","):
        first, _, last = part.partition("-")
        ids += [f"{match.group(1)}_{i}" for i in range(int(first), int(last or first) + 1)]
    return ids


def squeue_command(job_ids: Iterable[str]) -> list[str]:
    """One squeue call: which of ``job_ids`` are still queued (e.g. requeued after preemption)."""
    return ["squeue", "--noheader", "--array", "--format=%i %T", "--jobs", ",".join(job_ids)]


def parse_squeue(text: str) -> dict[str, str]:
    """``squeue --array --format='%i %T'`` lines -> {job id: state}."""
    return dict(line.split()[:2] for line in text.splitlines() if len(line.split()) >= 2)


def read_outcome(result_pickle: Path) -> tuple[str | None, str]:
    """(``"success"``/``"error"``/None, detail) from submitit's result file."""
    try:
        with result_pickle.open("rb") as f:
            outcome, detail = pickle.load(f)
    except FileNotFoundError:
        return None, ""
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError) as e:
        return "error", f"unreadable result file {result_pickle}: {e}"
    return str(outcome), "" if outcome == "success" else str(detail)


def judge(outcome: str | None, state: str | None) -> Verdict:
    """One job's verdict from its result file (``outcome``) and sacct ``state`` (None: unknown)."""
    if outcome == "success":
        return Verdict.SUCCESS
    if state is None:  # not (or no longer) in accounting: the result file decides
        return Verdict.FAILED if outcome == "error" else Verdict.UNSURE
    if state not in FINAL_STATES:  # pending, running, requeued...: an error result is stale
        return Verdict.RUNNING
    if outcome == "error" or state != "COMPLETED":
        return Verdict.FAILED
    return Verdict.UNSURE  # COMPLETED, result not visible yet


def local_state(job_state: str) -> str | None:
    """submitit's local job states in sacct's vocabulary."""
    if job_state == "RUNNING":
        return "RUNNING"
    if job_state == "INTERRUPTED":
        return "CANCELLED"
    if job_state == "FINISHED":
        return "FAILED"  # judged only without a success result
    return None


@dataclass
class Backoff:
    """Seconds until the next status round, from the age of the youngest running job.

    A job that has run for t seconds is looked at about every ``ratio * t`` seconds (within
    [minimum, maximum]): noticing that a job ended adds at most about ``ratio`` to its runtime,
    short jobs are seen within seconds (a fixed 30 s interval made a 19 s toy DAG take 123 s),
    and long jobs cost one sacct call a minute. Jobs still queued count from their submission.
    """

    minimum: float = 2.0
    maximum: float = 60.0
    ratio: float = 0.2

    def next(self, youngest_age_s: float | None) -> float:
        if youngest_age_s is None:  # nothing active: new jobs may come any moment
            return self.minimum
        return min(self.maximum, max(self.minimum, self.ratio * youngest_age_s))
