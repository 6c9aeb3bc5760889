"""Live metrics: the rows a run measures, streamed as TensorBoard scalars while it trains.

A side channel for watching a long run (``tensorboard --logdir results/``); the Parquet the job
writes at its end stays the source of truth. Scalars are written only at steps where the loop
already holds host values (evaluation, log and checkpoint steps), so no step waits on the device.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lrtraj.train.hooks import Due, Hook, Run


def tag(row: dict[str, Any]) -> str:
    """``<split>/<metric>`` for the iterate, ``<split>/<metric>/<average>`` for an average."""
    base = f"{row['split']}/{row['metric']}"
    return f"{base}/{row['method']}" if row.get("kind") == "average" else base


def _summary_writer(log_dir: Path, purge_step: int) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as why:  # torch raises ImportError when tensorboard is missing
        raise ImportError(
            f"live metrics (tensorboard_dir={str(log_dir)!r}) need the 'tensorboard' package: "
            "pip install tensorboard"
        ) from why
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


class TensorBoard(Hook):
    """Writes the rows added to ``run.rows`` since its last write, as scalars at their steps.

    Resume-safe without state of its own: every row in a resume file was written (and flushed)
    before that file was saved, so a resumed run starts after them, and ``purge_step`` hides
    what an earlier attempt wrote past its last checkpoint (a fresh start hides all of it)."""

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self.writer: Any = None
        self.written = 0  # rows of run.rows already written

    def open(self, run: Run, resumed: bool) -> None:
        """Start writing: before the first step, after ``run`` was restored if ``resumed``."""
        self.written = len(run.rows) if resumed else 0
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # a resumed run's rows up to its step are on disk already: hide only what comes after
        self.writer = _summary_writer(self.log_dir, run.step + 1 if resumed else run.start)

    def _write(self, run: Run) -> None:
        for row in run.rows[self.written :]:
            value = float(row["value"])
            self.writer.add_scalar(tag(row), value, int(row["step"]))
            if row["split"] == "train_batch" and math.isfinite(row["lr"]):
                self.writer.add_scalar("train_batch/lr", float(row["lr"]), int(row["step"]))
        self.written = len(run.rows)

    def begin(self, run: Run) -> None:
        self._write(run)  # the evaluation at the start

    def due(self, run: Run, due: Due) -> None:
        if due.flush:
            self._write(run)
        if due.checkpoint:  # on disk before the resume file that says these rows are done
            self.writer.flush()

    def end(self, run: Run) -> None:
        if self.writer is None:
            return
        self._write(run)  # e.g. the rows up to a divergence
        self.writer.close()
