"""The SGD loop: one function runs any stretch of a trajectory (burn-in, side-trip, probe).

``sgd_loop`` applies ``w_{s+1} = SGD(w_s, batch(s), lr_at(s))`` for global steps
``s = start .. stop-1``; everything else (averagers, evaluation, the loss window and divergence,
progress, kept and resume checkpoints, preemption) is a hook of ``lrtraj.train.hooks``, live
metrics one of ``lrtraj.train.tensorboard``. A run killed at any point and started again with
the same arguments resumes from its last checkpoint and ends bit-identical (CPU) to one that
never stopped: batches depend only on the step, and evaluation works on a scratch copy. A
non-finite loss stops the run and is recorded (a diverged run is data, not a crash).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrtraj import distributed, preemption
from lrtraj.averaging.online import Averager, averaged_tensors
from lrtraj.compute import Compute
from lrtraj.data import Stream
from lrtraj.evaluate import Evaluator
from lrtraj.train.config import OptimizerConfig
from lrtraj.train.hooks import (
    Averagers,
    Callbacks,
    Due,
    Evaluation,
    Hook,
    KeepCheckpoints,
    LossWindow,
    Resume,
    Run,
    RunInfo,
)
from lrtraj.train.tensorboard import TensorBoard

StepCallback = Callable[[int, nn.Module], None]


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
    # live metrics: rank 0 streams its rows here as TensorBoard scalars (None: off); a side
    # channel beside the Parquet, which stays the source of truth
    tensorboard_dir: Path | None = None

    def due(self, run: Run) -> Due:
        done = run.step - run.start
        end = run.step == run.stop
        # a run without a resume path cannot checkpoint: it ignores the request and runs on;
        # a request to any rank stops them all at this step
        preempt = (
            distributed.any_rank(preemption.requested())
            and not end
            and self.resume_path is not None
        )
        periodic = bool(self.checkpoint_every) and done % self.checkpoint_every == 0 and not end
        return Due(
            eval=done % self.eval_every == 0 or end,
            log=done % self.log_every == 0 or end,
            checkpoint=preempt or periodic,
            preempt=preempt,
            keep=run.step in self.keep,
        )


def make_optimizer(model: nn.Module, cfg: OptimizerConfig, lr: float) -> torch.optim.SGD:
    """PyTorch's SGD: the lr multiplies the momentum-filtered update, which keeps the
    averaging ↔ schedule identity exact with momentum (docs/theory.md §2)."""
    return torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=float(cfg.momentum),
        nesterov=bool(cfg.nesterov),
        weight_decay=float(cfg.weight_decay),
    )


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
    global step the weights now belong to) and once at ``start``; they must not change
    ``model``; those with ``state_dict``/``load_state_dict`` resume with the run.

    Data parallel (``lrtraj.distributed``, more than one rank): every rank trains on its shard
    of each batch; ``evaluator``, ``averagers``, ``callbacks`` and kept checkpoints are rank 0's
    alone (the others' are ignored), and so are the returned rows.
    """
    main = distributed.is_main()
    if not main:
        evaluator, averagers, callbacks = None, None, ()
        settings = dataclasses.replace(settings, keep={})
    averagers = dict(averagers or {})
    run = Run(model, optimizer, info, start, stop, lr_at, step=start)
    buffers = evaluator is not None and evaluator.averages_buffers
    stateful = {
        "averagers": Averagers(averagers, averaged_tensors(model, include_buffers=buffers)),
        "callbacks": Callbacks(callbacks),
    }
    window = LossWindow()
    hooks: list[Hook] = [*stateful.values(), window]
    if evaluator is not None:
        hooks.append(Evaluation(evaluator, averagers))
    hooks.append(KeepCheckpoints(settings.keep))
    board = None
    if main and settings.tensorboard_dir is not None:
        # before Resume: the rows a resume file holds are written (and flushed) already
        board = TensorBoard(settings.tensorboard_dir)
        hooks.append(board)
    resume = None
    if settings.resume_path is not None:
        resume = Resume(settings.resume_path, settings.fingerprint, stateful)
        hooks.append(resume)
    resumed = resume is not None and resume.load(run)
    if board is not None:
        board.open(run, resumed)
    if not resumed:
        for hook in hooks:
            hook.begin(run)
    window.resume_at(run.step)
    try:
        _steps(run, hooks, stream, optimizer, settings)
    except preemption.Preempted:
        raise  # saved and said so
    except BaseException as why:  # SIGTERM (lrtraj.runtime), Ctrl-C, an error
        if resume is not None:
            resume.stopped(run, why)
        raise
    finally:
        for hook in hooks:
            hook.end(run)
    return LoopResult(rows=run.rows, last_step=run.step, diverged_at=run.diverged_at)


def _steps(
    run: Run,
    hooks: Sequence[Hook],
    stream: Stream,
    optimizer: torch.optim.Optimizer,
    settings: LoopSettings,
) -> None:
    model, lr_at = run.model, run.lr_at
    compute = settings.compute
    device = next(model.parameters()).device
    if distributed.world_size() > 1:
        distributed.check_same(run.step, "the step to start from (resume checkpoint)")
        if not hasattr(stream, "shard"):
            raise TypeError(f"{type(stream).__name__} cannot be sharded across ranks")
        stream = stream.shard(distributed.rank(), distributed.world_size())
    forward = compute.forward(distributed.data_parallel(model, device))
    model.train()
    for s, x, y in stream.batches(run.step, run.stop):
        run.lr = float(lr_at(s))
        for group in optimizer.param_groups:
            group["lr"] = run.lr
        optimizer.zero_grad(set_to_none=True)
        with compute.step_context(device):
            loss = nn.functional.cross_entropy(forward(compute.inputs(x)), y)
        loss.backward()
        optimizer.step()
        run.step = s + 1
        for hook in hooks:
            hook.observe(run, loss)
        due = settings.due(run)
        for hook in hooks:
            hook.due(run, due)
            if run.diverged_at is not None:
                break
        if run.diverged_at is not None:
            break
