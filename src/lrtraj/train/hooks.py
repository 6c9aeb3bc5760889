"""What the SGD loop does besides the SGD step, one small hook each.

A hook sees the ``Run`` (model, optimizer, step, lr, metric rows) at four moments: ``begin``
(a fresh start, weights ``w_start``), ``observe`` after every step (no host sync: the loss stays a
device tensor), ``due`` when the step is an evaluation, logging, checkpoint or kept step, and
``end`` once when the loop stops, however it stops (finished, diverged, preempted, an error).
Hooks run in list order; a hook with state (``state_dict``/``load_state_dict``) is saved in and
restored from the resume checkpoint, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrtraj import checkpoint, distributed, preemption
from lrtraj.averaging.online import Averager
from lrtraj.evaluate import Evaluator

log = logging.getLogger("lrtraj.train")


@dataclass(frozen=True)
class RunInfo:
    """Identifies a run in the metrics table (see ``metrics.TRAINING_COLUMNS``)."""

    phase: str  # "burn_in" or "sidetrip"
    branch_step: int  # -1 for the burn-in
    data_seed: int
    method: str
    family: str
    kind: str


@dataclass
class Run:
    """The state every hook reads: where the run is and what it has measured so far."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    info: RunInfo
    start: int
    stop: int
    lr_at: Callable[[int], float]
    step: int
    lr: float = math.nan
    rows: list[dict[str, Any]] = field(default_factory=list)
    diverged_at: int | None = None

    def add_rows(self, at: int, lr: float, values: Mapping[tuple[str, str], float], **over: Any):
        base = {**asdict(self.info), **over, "step": at, "lr": lr}
        self.rows += [{**base, "split": s, "metric": m, "value": v} for (s, m), v in values.items()]


@dataclass(frozen=True)
class Due:
    """What falls on this step (steps counted from the run's start)."""

    eval: bool
    log: bool
    checkpoint: bool
    preempt: bool
    keep: bool

    @property
    def flush(self) -> bool:
        """The loss window is read (one host sync) only at these steps, and before any save."""
        return self.eval or self.log or self.checkpoint


class Hook:
    """No-op base: a hook overrides the moments it cares about."""

    def begin(self, run: Run) -> None:
        pass

    def observe(self, run: Run, loss: torch.Tensor) -> None:
        pass

    def due(self, run: Run, due: Due) -> None:
        pass

    def end(self, run: Run) -> None:
        pass


class Averagers(Hook):
    """Feeds each averager the weights after every step (``lrtraj.averaging``)."""

    def __init__(self, averagers: Mapping[str, Averager], tracked: list[torch.Tensor]) -> None:
        self.averagers, self.tracked = dict(averagers), tracked

    def observe(self, run: Run, loss: torch.Tensor) -> None:
        for averager in self.averagers.values():
            averager.observe(run.step - run.start, self.tracked)

    def state_dict(self) -> dict[str, Any]:
        return {name: a.state_dict() for name, a in self.averagers.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, averager in self.averagers.items():
            averager.load_state_dict(state[name])


class Callbacks(Hook):
    """``callback(step, model)`` at the start and after every step: probes measure along a
    trajectory this way without a second loop. Stateful callbacks resume with the run."""

    def __init__(self, callbacks: Sequence[Callable[[int, nn.Module], None]]) -> None:
        self.callbacks = list(callbacks)

    def begin(self, run: Run) -> None:
        for callback in self.callbacks:
            callback(run.start, run.model)

    def observe(self, run: Run, loss: torch.Tensor) -> None:
        for callback in self.callbacks:
            callback(run.step, run.model)

    def state_dict(self) -> list[Any]:
        return [getattr(c, "state_dict", lambda: None)() for c in self.callbacks]

    def load_state_dict(self, state: Sequence[Any]) -> None:
        for callback, saved in zip(self.callbacks, state, strict=False):
            if saved is not None:
                callback.load_state_dict(saved)


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


class LossWindow(Hook):
    """Training-batch losses: kept on the device and read once per window (not per step);
    a non-finite loss marks the run diverged (data, not a crash); progress lines at log steps."""

    def __init__(self) -> None:
        self.window: list[torch.Tensor] = []
        self.window_start = self.first = 0
        self.tic = time.perf_counter()

    def resume_at(self, step: int) -> None:
        self.window, self.window_start, self.first = [], step, step
        self.tic = time.perf_counter()

    def observe(self, run: Run, loss: torch.Tensor) -> None:
        self.window.append(loss.detach())

    def due(self, run: Run, due: Due) -> None:
        if not due.flush:
            return
        # each rank's loss is its shard's mean: their mean is the global batch's (equal shards)
        losses = distributed.average_(torch.stack(self.window)).double().cpu().tolist()
        for offset, value in enumerate(losses):
            at = self.window_start + offset + 1
            lr = float(run.lr_at(at - 1))
            row = {**asdict(run.info), "step": at, "lr": lr, "split": "train_batch"}
            run.rows.append({**row, "metric": "loss", "value": value})
        bad = [self.window_start + i + 1 for i, v in enumerate(losses) if not math.isfinite(v)]
        self.window, self.window_start = [], run.step
        if bad:
            run.diverged_at = bad[0]
            # the caller says where the rows up to here go
            log.warning(
                "%s: loss is not finite at step %d (lr=%g): run diverged, stopping",
                run.info.method,
                run.diverged_at,
                run.lr,
            )
        elif due.log and distributed.is_main():
            self._progress(run, losses)

    def _progress(self, run: Run, losses: list[float]) -> None:
        elapsed = time.perf_counter() - self.tic
        rate = (run.step - self.first) / elapsed if elapsed > 0 else math.nan
        eta = (run.stop - run.step) / rate if rate > 0 else math.nan
        done, total = run.step - run.start, run.stop - run.start
        log.info(
            "%s step %d/%d (%.1f%%) loss %.4f lr %.4g | %.1f steps/s | elapsed %s ETA %s",
            run.info.method,
            done,
            total,
            100 * done / total,
            sum(losses) / len(losses),
            run.lr,
            rate,
            format_seconds(elapsed),
            format_seconds(eta),
        )


class Evaluation(Hook):
    """The model, and every averager with a full window, on the dataset's fixed splits."""

    def __init__(self, evaluator: Evaluator, averagers: Mapping[str, Averager]) -> None:
        self.evaluator, self.averagers = evaluator, averagers

    def evaluate(self, run: Run, at: int, lr: float) -> None:
        run.add_rows(at, lr, self.evaluator.model(run.model))
        for name, averager in self.averagers.items():
            if averager.ready(at - run.start):
                values = self.evaluator.averaged(run.model, averager.average(at - run.start))
                run.add_rows(at, lr, values, method=name, family=averager.family, kind="average")

    def begin(self, run: Run) -> None:
        self.evaluate(run, run.start, math.nan)

    def due(self, run: Run, due: Due) -> None:
        if due.eval:
            self.evaluate(run, run.step, run.lr)
            run.model.train()


def training_state(model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> dict:
    # no RNG state: batches, augmentation and init draw from explicit generators seeded by
    # (seed, step), never from torch's global one, whose state would only make identical runs
    # write different checkpoint bytes
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}


class KeepCheckpoints(Hook):
    """Full checkpoints at the global steps the caller needs (branch points)."""

    def __init__(self, keep: Mapping[int, Path]) -> None:
        self.keep = keep

    def _save(self, run: Run, at: int) -> None:
        if at in self.keep:
            checkpoint.save(training_state(run.model, run.optimizer, at), self.keep[at])

    def begin(self, run: Run) -> None:
        self._save(run, run.start)

    def due(self, run: Run, due: Due) -> None:
        if due.keep:
            self._save(run, run.step)


class Resume(Hook):
    """The resume checkpoint: weights, optimizer, rows and every stateful hook's state,
    under a fingerprint of what the run computes (a file of another configuration is stale).
    Saved every ``checkpoint_every`` steps and when preemption is requested (then the run
    stops with ``preemption.Preempted``, to be resumed by running it again)."""

    def __init__(self, path: Path, fingerprint: str | None, hooks: Mapping[str, Hook]) -> None:
        self.path, self.fingerprint, self.hooks = path, fingerprint, dict(hooks)
        self.saved_step: int | None = None  # of the resume file on disk, for a stop message

    def stopped(self, run: Run, why: BaseException) -> None:
        """Say, when the run is stopped (a signal, an error), where it resumes from."""
        saved = (
            f"resume state of step {self.saved_step} is in {self.path}"
            if self.saved_step is not None
            else "no resume state was saved yet: run again, it starts from the beginning"
        )
        log.warning(
            "%s: stopped at step %d by %s; %s",
            run.info.method,
            run.step,
            type(why).__name__,
            saved,
        )

    def load(self, run: Run) -> bool:
        """Restore ``run`` and the hooks from the resume file, if one of this run exists."""
        if not self.path.exists():
            return False
        # averagers' tensors must live beside the model
        state = checkpoint.load(self.path, map_location=next(run.model.parameters()).device)
        if state.get("fingerprint") != self.fingerprint:
            log.warning(
                "%s: %s was written for another configuration; starting afresh",
                run.info.method,
                self.path,
            )
            if distributed.is_main():
                checkpoint.remove(self.path)
            return False
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.step, run.rows = int(state["step"]), list(state["rows"])
        self.saved_step = run.step
        for key, hook in self.hooks.items():
            hook.load_state_dict(state.get(key, []))
        log.info("%s: resumed from %s at step %d", run.info.method, self.path, run.step)
        return True

    def due(self, run: Run, due: Due) -> None:
        if due.checkpoint and distributed.is_main():
            state = training_state(run.model, run.optimizer, run.step)
            state["rows"] = run.rows
            state.update({key: hook.state_dict() for key, hook in self.hooks.items()})
            state["fingerprint"] = self.fingerprint
            checkpoint.save(state, self.path)
            self.saved_step = run.step
        if due.preempt:
            # no rank exits before rank 0's resume file is complete (a cluster may stop a
            # job's other tasks as soon as one exits)
            distributed.barrier()
            log.warning(
                "%s: preemption requested; resume state saved at step %d",
                run.info.method,
                run.step,
            )
            raise preemption.Preempted(run.step, self.path)
