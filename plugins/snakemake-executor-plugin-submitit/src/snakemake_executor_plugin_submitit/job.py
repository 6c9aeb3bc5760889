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
* when the job then exits unsuccessfully after such a request, hands over to submitit's own
  ``SignalHandler.checkpoint_and_try_requeue`` (the wrapper is a ``Checkpointable``): submitit
  tells a timeout from a preemption by the time used, counts timeouts against the executor's
  ``max_num_timeout``, and requeues (``scontrol requeue`` on SLURM, its requeue exit code
  locally) without writing a result, so the controller never sees a failure. The requeued run
  executes the same command and the job resumes from its checkpoint. A job that succeeds despite
  the signal simply succeeds.

submitit requeues preemptions without a cap; a job preempted over and over (or requeued by SLURM
itself: PreemptMode=REQUEUE, node failure) fails here after ``max_preemptions``: requeues so far
(``SLURM_RESTART_COUNT``) minus the timeouts submitit counted.
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

import submitit
from submitit.core.job_environment import SignalHandler

PREEMPT_SIGNAL = signal.SIGUSR2


class JobFailed(RuntimeError):
    """The Snakemake job exited unsuccessfully (its traceback is in the job log above)."""


class _SignalHandler(SignalHandler):
    """submitit's handler; a job without a time limit (the partition's default) never timed out
    (submitit's rule needs the limit)."""

    def has_timed_out(self) -> bool:
        return self._delayed._timeout_min is not None and super().has_timed_out()


@dataclass
class SnakemakeJob(submitit.helpers.Checkpointable):
    """Picklable callable submitted through submitit: runs ``argv`` in ``workdir``.

    ``max_timeouts`` must be the executor's ``max_num_timeout`` (submitit counts down from it).
    """

    argv: Sequence[str]
    workdir: str
    max_timeouts: int = 3
    max_preemptions: int = 10
    _preempted: bool = field(default=False, init=False, repr=False, compare=False)

    def _submitit_handler(self) -> SignalHandler | None:
        """submitit's signal handler for this attempt (None: no requeue on this cluster), after
        refusing to run an attempt beyond the preemption cap."""
        cluster = os.environ.get("SUBMITIT_EXECUTOR", "")
        if (
            cluster not in ("slurm", "local")
            or threading.current_thread() is not threading.main_thread()
        ):
            return None
        env = submitit.JobEnvironment()
        delayed = submitit.helpers.DelayedSubmission.load(env.paths.submitted_pickle)
        restarts = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
        timeouts = self.max_timeouts - delayed._timeout_countdown
        preemptions = restarts - timeouts
        if preemptions > self.max_preemptions:
            raise JobFailed(
                f"requeued {restarts} times, {timeouts} of them after timeouts: "
                f"{preemptions} preemptions exceed max_preemptions={self.max_preemptions}"
            )
        if restarts:
            print(
                f"submitit job: attempt {restarts + 1} ({timeouts} timeouts, {preemptions} "
                "preemptions or requeues so far)",
                file=sys.stderr,
                flush=True,
            )
        return _SignalHandler(env, env.paths, delayed)

    def __call__(self) -> int:
        in_main = threading.current_thread() is threading.main_thread()
        handler = self._submitit_handler()
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
        if self._preempted and handler is not None:
            handler.checkpoint_and_try_requeue(PREEMPT_SIGNAL)  # exits, or raises when it won't
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
