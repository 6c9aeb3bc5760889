"""What every workflow script does first: log to the rule's log file, pin threads, time the job.

A ``script:`` entry point in ``workflow/scripts/`` is a few lines::

    from lrtraj.runtime import job
    with job(snakemake) as ctx:          # logging -> snakemake.log[0], torch threads
        ...call the package...
        ctx.provenance(inputs=snakemake.input)   # record for Parquet/figure metadata
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrtraj import provenance

log = logging.getLogger("lrtraj")


def setup_logging(log_path: str | Path | None) -> None:
    """Send ``lrtraj`` logs to ``log_path`` (the rule's log) and stderr, line-buffered."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
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


@contextlib.contextmanager
def job(smk: Any) -> Iterator[JobContext]:
    """Context for a Snakemake ``script:`` job (``smk`` is the injected ``snakemake`` object)."""
    setup_logging(smk.log[0] if len(smk.log) else None)
    threads = int(getattr(smk, "threads", 1) or 1)
    if "torch" in sys.modules:  # scripts import torch-using modules before entering the job
        sys.modules["torch"].set_num_threads(threads)
    ctx = JobContext(rule=getattr(smk, "rule", None), params=params_dict(smk))
    log.info("rule %s started (threads=%d)", ctx.rule, threads)
    try:
        yield ctx
    except Exception:
        log.exception("rule %s failed", ctx.rule)
        raise
    log.info("rule %s finished", ctx.rule)
