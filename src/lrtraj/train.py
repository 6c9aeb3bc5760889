"""The SGD loop: one function runs any stretch of a trajectory (burn-in or side-trip).

``sgd_loop`` applies ``w_{s+1} = SGD(w_s, batch(s), lr_at(s))`` for global steps
``s = start .. stop-1``, feeds averagers, evaluates every ``eval_every`` steps, logs progress
(step, loss, lr, rate, ETA), and writes a resume checkpoint every ``checkpoint_every`` steps. A run
killed at any point and started again with the same arguments resumes from its last checkpoint
and ends bit-identical (CPU) to one that never stopped: batches depend only on the step, and
evaluation works on a scratch copy. A non-finite loss stops the run and is recorded (a diverged
run is data, not a crash).
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

from lrtraj import checkpoint, preemption
from lrtraj.averaging.online import Averager, averaged_tensors
from lrtraj.compute import Compute
from lrtraj.data import Stream
from lrtraj.evaluate import Evaluator

log = logging.getLogger("lrtraj.train")


StepCallback = Callable[[int, nn.Module], None]


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
class LoopResult:
    rows: list[dict[str, Any]]
    last_step: int
    diverged_at: int | None = None


@dataclass
class LoopSettings:
    eval_every: int
    log_every: int = 100
    checkpoint_every: int | None = None
    resume_path: Path | None = None
    # global step -> path: full checkpoints the caller needs (e.g. branch points)
    keep: Mapping[int, Path] = field(default_factory=dict)
    # identifies what the run computes (config, code inputs, branch checkpoint): a resume file
    # written under another fingerprint is stale (the config changed since) and is discarded
    fingerprint: str | None = None
    # memory layout, mixed precision, compiled forward of the SGD step (GPU fast paths)
    compute: Compute = field(default_factory=Compute)


def make_optimizer(model: nn.Module, cfg: Mapping[str, Any], lr: float) -> torch.optim.SGD:
    """PyTorch's SGD: the lr multiplies the momentum-filtered update, which keeps the
    averaging ↔ schedule identity exact with momentum (NOTES §1)."""
    return torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=float(cfg.get("momentum", 0.9)),
        nesterov=bool(cfg.get("nesterov", False)),
        weight_decay=float(cfg.get("weight_decay", 0.0)),
    )


def training_state(model: nn.Module, optimizer: torch.optim.Optimizer, step: int) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": torch.get_rng_state(),
    }


def _format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


def _rows(info: RunInfo, step: int, lr: float, values: Mapping[tuple[str, str], float], **over):
    base = {**asdict(info), **over, "step": step, "lr": lr}
    return [{**base, "split": s, "metric": m, "value": v} for (s, m), v in values.items()]


def sgd_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    stream: Stream,
    info: RunInfo,
    *,
    start: int,
    stop: int,
    lr_at: Callable[[int], float],
    settings: LoopSettings,
    evaluator: Evaluator | None = None,
    averagers: Mapping[str, Averager] | None = None,
    callbacks: Sequence[StepCallback] = (),
) -> LoopResult:
    """Train from global step ``start`` (weights ``w_start`` in ``model``) to ``stop``.

    ``callbacks`` are called as ``callback(step, model)`` after every update (``step`` = the
    global step the weights now belong to) and once at ``start``: probes use them to measure
    along a trajectory without a second training loop. They must not change ``model``; those
    with ``state_dict``/``load_state_dict`` are saved and restored with the resume state.
    """
    averagers = dict(averagers or {})
    rows: list[dict[str, Any]] = []
    step = start
    resume = settings.resume_path
    if resume is not None and resume.exists():
        # averagers' tensors must live beside the model
        state = checkpoint.load(resume, map_location=next(model.parameters()).device)
        if state.get("fingerprint") != settings.fingerprint:
            log.warning(
                "%s: %s was written for another configuration; starting afresh", info.method, resume
            )
            checkpoint.remove(resume)
            state = None
    else:
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        step, rows = int(state["step"]), list(state["rows"])
        for name, averager in averagers.items():
            averager.load_state_dict(state["averagers"][name])
        for callback, saved in zip(callbacks, state.get("callbacks", []), strict=False):
            if saved is not None:
                callback.load_state_dict(saved)
        log.info("%s: resumed from %s at step %d", info.method, resume, step)

    def evaluate(at: int, lr: float) -> None:
        if evaluator is None:
            return
        rows.extend(_rows(info, at, lr, evaluator.model(model)))
        for name, averager in averagers.items():
            if averager.ready(at - start):
                values = evaluator.averaged(model, averager.average(at - start))
                rows.extend(
                    _rows(info, at, lr, values, method=name, family=averager.family, kind="average")
                )

    def save_resume(at: int) -> None:
        if resume is None:
            return
        state = training_state(model, optimizer, at)
        state["rows"] = rows
        state["averagers"] = {n: a.state_dict() for n, a in averagers.items()}
        # stateful callbacks (e.g. snapshots along a twin) resume with the run
        state["callbacks"] = [getattr(c, "state_dict", lambda: None)() for c in callbacks]
        state["fingerprint"] = settings.fingerprint
        checkpoint.save(state, resume)

    if step == start:
        for callback in callbacks:
            callback(start, model)
        evaluate(start, math.nan)
        if start in settings.keep:
            checkpoint.save(training_state(model, optimizer, start), settings.keep[start])
    tracked = averaged_tensors(
        model, include_buffers=evaluator is not None and evaluator.averages_buffers
    )
    window: list[torch.Tensor] = []
    window_start, tic = step, time.perf_counter()
    first, total = step, stop - start
    diverged_at: int | None = None
    lr = math.nan
    compute = settings.compute
    device = next(model.parameters()).device
    forward = compute.forward(model)
    model.train()
    for s, x, y in stream.batches(step, stop):
        lr = float(lr_at(s))
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        with compute.step_context(device):
            loss = nn.functional.cross_entropy(forward(compute.inputs(x)), y)
        loss.backward()
        optimizer.step()
        step = s + 1
        window.append(loss.detach())
        for averager in averagers.values():
            averager.observe(step - start, tracked)
        for callback in callbacks:
            callback(step, model)
        at_eval = (step - start) % settings.eval_every == 0 or step == stop
        at_log = (step - start) % settings.log_every == 0 or step == stop
        # a run without a resume path cannot checkpoint: it ignores the request and runs on
        preempt = preemption.requested() and step < stop and resume is not None
        at_checkpoint = preempt or (
            bool(settings.checkpoint_every)
            and (step - start) % settings.checkpoint_every == 0
            and step < stop
        )
        # one host sync per window, not per step (GPU); flushed before any checkpoint
        if at_eval or at_log or at_checkpoint:
            losses = torch.stack(window).double().cpu().tolist()
            for offset, value in enumerate(losses):
                at = window_start + offset + 1
                rows.append(
                    {
                        **asdict(info),
                        "step": at,
                        "lr": float(lr_at(at - 1)),
                        "split": "train_batch",
                        "metric": "loss",
                        "value": value,
                    }
                )
            bad = [window_start + i + 1 for i, v in enumerate(losses) if not math.isfinite(v)]
            window, window_start = [], step
            if bad:
                diverged_at = bad[0]
                log.warning(
                    "%s: loss is not finite at step %d (lr=%g): run diverged, "
                    "stopping; metrics so far are kept",
                    info.method,
                    diverged_at,
                    lr,
                )
                break
            if at_log:
                elapsed = time.perf_counter() - tic
                rate = (step - first) / elapsed if elapsed > 0 else math.nan
                eta = (stop - step) / rate if rate > 0 else math.nan
                log.info(
                    "%s step %d/%d (%.1f%%) loss %.4f lr %.4g | %.1f steps/s | elapsed %s ETA %s",
                    info.method,
                    step - start,
                    total,
                    100 * (step - start) / total,
                    sum(losses) / len(losses),
                    lr,
                    rate,
                    _format_seconds(elapsed),
                    _format_seconds(eta),
                )
        if at_eval:
            evaluate(step, lr)
            model.train()
        if step in settings.keep:
            checkpoint.save(training_state(model, optimizer, step), settings.keep[step])
        if at_checkpoint:
            save_resume(step)
        if preempt:
            log.warning(
                "%s: preemption requested; resume state saved at step %d", info.method, step
            )
            raise preemption.Preempted(step, resume)
    return LoopResult(rows=rows, last_step=step, diverged_at=diverged_at)
