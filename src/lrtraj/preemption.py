"""Cooperative preemption: a signal asks the SGD loop to checkpoint and stop at the next step.

A cluster about to preempt or time out a job sends a signal (SLURM via submitit: USR2 ahead of the
limit). ``install`` turns that signal into a flag; ``train.sgd_loop`` checks the flag after every
step, writes its resume checkpoint and raises ``Preempted``. Started again, the job resumes from
that checkpoint and ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable

_requested = threading.Event()


class Preempted(RuntimeError):
    """The run stopped on request after saving its resume checkpoint at ``step``."""

    def __init__(self, step: int, resume_path: object) -> None:
        super().__init__(f"preempted at step {step}; resume state saved to {resume_path}")
        self.step = step


def request(*_: object) -> None:
    """Ask the running loop to checkpoint and stop (also usable as a signal handler)."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    _requested.clear()


def install(signals: Iterable[int] = (signal.SIGUSR2,)) -> None:
    """Route ``signals`` to ``request`` (main thread only, as Python requires)."""
    for sig in signals:
        signal.signal(sig, request)
