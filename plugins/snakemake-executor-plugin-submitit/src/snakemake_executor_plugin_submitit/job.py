"""What runs inside a submitit job: the Snakemake job command, and requeue after preemption.

SLURM warns a job before its time limit (submitit's ``--signal=USR2@<delay>``) or before
preemption by sending SIGUSR2 to every process of the job step. This wrapper

* starts the Snakemake job with SIGUSR2 *ignored* (the disposition is inherited), so the inner
  ``snakemake`` and jobs that cannot checkpoint are not killed by it: they run on to the (padded)
  time limit. A job that can checkpoint re-installs a handler itself (lrtraj's training jobs:
  ``lrtraj.runtime.preemptible``), saves its resume state and exits;
* replaces submitit's own USR2 handler (which would requeue at once, killing a job that is still
  writing its checkpoint, and fail a job that cannot checkpoint) with one that only records the
  request and forwards it to the job's process group (submitit's local cluster signals only us);
* when the job then exits unsuccessfully after such a request, requeues itself (``scontrol
  requeue`` on SLURM, submitit's requeue exit code locally) without writing a result, so the
  controller never sees a failure; the requeued run executes the same command and the job
  resumes from its checkpoint. A job that succeeds despite the signal simply succeeds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

# submitit.local.local.LOCAL_REQUEUE_RETURN_CODE: the local controller restarts such a task
LOCAL_REQUEUE_EXIT = 144
PREEMPT_SIGNAL = signal.SIGUSR2


class JobFailed(RuntimeError):
    """The Snakemake job exited unsuccessfully (its traceback is in the job log above)."""


@dataclass
class SnakemakeJob:
    """Picklable callable submitted through submitit: runs ``argv`` in ``workdir``."""

    argv: Sequence[str]
    workdir: str
    max_requeues: int = 10
    _preempted: bool = field(default=False, init=False, repr=False, compare=False)

    def __call__(self) -> int:
        in_main = threading.current_thread() is threading.main_thread()
        if in_main:  # children inherit SIG_IGN across exec; handlers are reset
            signal.signal(PREEMPT_SIGNAL, signal.SIG_IGN)
        # own process group: the preemption signal and clean-up reach the whole job tree
        proc = subprocess.Popen(list(self.argv), cwd=self.workdir, process_group=0)
        self._preempted = False
        if in_main:

            def on_preempt(signum: int, _frame: object) -> None:
                self._preempted = True
                print(
                    f"submitit job: caught {signal.Signals(signum).name}: asking the job to "
                    "checkpoint and stop",
                    file=sys.stderr,
                    flush=True,
                )
                _signal_group(proc.pid, PREEMPT_SIGNAL)

            signal.signal(PREEMPT_SIGNAL, on_preempt)
        try:
            returncode = proc.wait()
        except BaseException:
            _terminate_group(proc)
            raise
        _signal_group(proc.pid, signal.SIGKILL)  # strays the job left behind
        if returncode == 0:
            return 0
        if self._preempted and in_main:
            _requeue_and_exit(self.max_requeues)
        raise JobFailed(f"Snakemake job exited with code {returncode}: {' '.join(self.argv[:3])}")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _terminate_group(proc: subprocess.Popen, grace_s: float = 0.5) -> None:
    """SIGTERM, then SIGKILL, the job's process group (submitit's local cluster kills us 1 s
    after its SIGINT, and the group would otherwise outlive us)."""
    _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal_group(proc.pid, signal.SIGKILL)


def _requeue_and_exit(max_requeues: int) -> None:
    """Put this job back in the queue without writing a result (so it is not judged failed)."""
    cluster = os.environ.get("SUBMITIT_EXECUTOR", "")
    if cluster == "slurm":
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
        job_id = os.environ.get("SLURM_JOB_ID")
        if job_id is None or restarts >= max_requeues:
            raise JobFailed(f"preempted, but not requeued ({restarts} requeues so far)")
        print(f"submitit job: requeueing SLURM job {job_id}", file=sys.stderr, flush=True)
        subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=60)
        sys.exit(-1)
    if cluster == "local":
        print("submitit job: requeueing (local cluster)", file=sys.stderr, flush=True)
        sys.exit(LOCAL_REQUEUE_EXIT)
    raise JobFailed("preempted on a cluster without requeue")
