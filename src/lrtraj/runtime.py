"""What every workflow script does first: log to the rule's log file, pin threads, time the job.

A ``script:`` entry point in ``workflow/scripts/`` is a few lines::

    from lrtraj.runtime import job
    with job(snakemake) as ctx:          # logging -> snakemake.log[0], torch threads
        ...call the package...
        ctx.provenance(inputs=snakemake.input)   # record for Parquet/figure metadata

Training jobs (their SGD loop has a resume checkpoint) add ``preemptible()``::

    with job(snakemake) as ctx, preemptible():
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import re
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrtraj import preemption, provenance

log = logging.getLogger("lrtraj")
# Exit status of a job that stopped on a preemption request after saving its resume state
# (EX_TEMPFAIL: run it again and it resumes).
PREEMPTED_EXIT_CODE = 75


# First line of each attempt's section of a rule log; the count of them numbers the next attempt.
ATTEMPT_HEADER = "===== lrtraj attempt"
_ATTEMPT_RE = re.compile(rf"^{re.escape(ATTEMPT_HEADER)} (\d+)", re.MULTILINE)


def _attempt_header(log_path: Path) -> str:
    """The header of the next attempt in ``log_path``: attempt number, UTC time, host and the
    SLURM job (and its requeue count) when run under SLURM."""
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    previous = _ATTEMPT_RE.findall(text)
    attempt = max(map(int, previous), default=0) + 1
    fields = [f"{ATTEMPT_HEADER} {attempt}", provenance.now_utc(), f"host {platform.node()}"]
    if job_id := os.environ.get("SLURM_JOB_ID"):
        restarts = os.environ.get("SLURM_RESTART_COUNT", "0")
        fields.append(f"SLURM job {job_id} (requeue {restarts})")
    return " | ".join(fields) + " =====\n"


def env_rank() -> int:
    """This process's rank in a data-parallel job, as its launcher set it (0 outside one):
    read before torch.distributed starts, without importing torch."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")))


def setup_logging(log_path: str | Path | None) -> None:
    """Send ``lrtraj`` logs to ``log_path`` (the rule's log) and stderr, line-buffered.

    The log is appended to, under a header per attempt: a requeued (preempted, resumed) job
    keeps the lines of its earlier attempts."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        path = Path(log_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = _attempt_header(path)
        with open(path, "a") as handle:
            handle.write(header)
        handlers.append(logging.FileHandler(path, mode="a"))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # PDF font subsetting chatter
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


@dataclass
class JobContext:
    rule: str | None
    params: Mapping[str, Any]
    started: str = field(default_factory=provenance.now_utc)

    def provenance(self, inputs: Iterable[str | Path] = (), **extra: Any) -> dict[str, Any]:
        return provenance.collect(
            rule=self.rule, params=self.params, inputs=inputs, started=self.started, extra=extra
        )


def _plain(obj: Any) -> Any:
    """Snakemake's Params/Namedlist -> plain dicts and lists (JSON-able)."""
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


def params_dict(smk: Any) -> dict[str, Any]:
    return {k: _plain(v) for k, v in smk.params.items()}


class Terminated(BaseException):
    """SIGTERM as an exception (like ``KeyboardInterrupt`` for SIGINT): unwinding runs the
    cleanup of ``atomic.target``, so no temp file stays behind, and the rule log says why."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def _terminate(signum: int, _frame: Any) -> None:
    raise Terminated(signum)


def _drop_sidecars(smk: Any) -> None:
    """A failed job's outputs are deleted by Snakemake; their sidecars must go with them."""
    for path in getattr(smk, "output", []):
        for suffix in (".prov.json", ".sha256"):
            Path(str(path) + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def job(smk: Any) -> Iterator[JobContext]:
    """Context for a Snakemake ``script:`` job (``smk`` is the injected ``snakemake`` object)."""
    # the ranks of a data-parallel job share its log: rank 0 writes it, the others stderr
    setup_logging(smk.log[0] if len(smk.log) and env_rank() == 0 else None)
    threads = int(getattr(smk, "threads", 1) or 1)
    # ranks started on one host share the job's threads
    threads = max(1, threads // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    if "torch" in sys.modules:  # scripts import torch-using modules before entering the job
        sys.modules["torch"].set_num_threads(threads)
    ctx = JobContext(rule=getattr(smk, "rule", None), params=params_dict(smk))
    log.info("rule %s started (threads=%d)", ctx.rule, threads)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield ctx
    except (Terminated, KeyboardInterrupt) as stop:
        log.error(
            "rule %s %s; temp files removed, outputs incomplete (a training job resumes from "
            "its last resume checkpoint, if it saved one, when run again)",
            ctx.rule,
            stop or "interrupted (SIGINT)",
        )
        _drop_sidecars(smk)
        if isinstance(stop, Terminated):  # exit as killed by it, as callers expect
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
        raise
    except SystemExit:  # a preempted job (PREEMPTED_EXIT_CODE) resumes when run again
        _drop_sidecars(smk)
        raise
    except Exception:
        log.exception("rule %s failed", ctx.rule)
        _drop_sidecars(smk)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    log.info("rule %s finished", ctx.rule)


@contextlib.contextmanager
def preemptible() -> Iterator[None]:
    """SIGUSR2 makes the SGD loop save its resume checkpoint and stop; the job then exits with
    ``PREEMPTED_EXIT_CODE``, and started again (requeued by the submitit executor plugin, or
    rerun) resumes bit-identically.

    SIGUSR2 is what submitit asks SLURM to send ahead of a time limit or preemption. Only for
    jobs whose loop checks the flag and has a resume path: elsewhere the signal would be
    swallowed by a flag that nobody reads.
    """
    preemption.clear()
    previous = signal.getsignal(signal.SIGUSR2)
    preemption.install((signal.SIGUSR2,))
    try:
        yield
    except preemption.Preempted as stop:
        log.warning("%s; exiting with status %d to be resumed", stop, PREEMPTED_EXIT_CODE)
        raise SystemExit(PREEMPTED_EXIT_CODE) from None
    finally:
        signal.signal(signal.SIGUSR2, previous)
        preemption.clear()
