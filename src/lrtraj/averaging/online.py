"""Online weight averagers (torch): the building blocks the averaging families use.

All averagers follow one protocol: ``observe(step, tensors)`` after every SGD step (``step`` is
counted from the start of the averaging window, the branch point being step 0 and already
observed at construction), and ``average(step)`` for the averaged tensors at an evaluation step.
Updates use ``torch._foreach_*`` kernels: one fused call per step instead of a Python loop over
parameters (about 15x cheaper than ``swa_utils.AveragedModel.update_parameters`` on ResNet-8).

Each family's averager computes exactly its kernel's weighted sum (``lrtraj.averaging``), so an
averager and its tail-sum schedule can be compared one to one (Lemma 2, docs/theory.md §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch
from torch import nn

Tensors = list[torch.Tensor]


def averaged_tensors(model: nn.Module, include_buffers: bool = False) -> Tensors:
    """The tensors that get averaged: parameters, and floating-point buffers if asked
    (BatchNorm running statistics; integer counters are never averaged)."""
    tensors = [p.detach() for p in model.parameters()]
    if include_buffers:
        tensors += [b for b in model.buffers() if b.is_floating_point()]
    return tensors


def load_tensors(model: nn.Module, values: Sequence[torch.Tensor], include_buffers: bool) -> None:
    """Write averaged ``values`` into ``model`` in place (the inverse of ``averaged_tensors``)."""
    targets = averaged_tensors(model, include_buffers)
    if len(targets) != len(values):
        raise ValueError(f"expected {len(targets)} tensors, got {len(values)}")
    with torch.no_grad():
        torch._foreach_copy_(targets, list(values))


class Averager(Protocol):
    family: str

    def observe(self, step: int, tensors: Tensors) -> None: ...
    def ready(self, step: int) -> bool: ...
    def average(self, step: int) -> Tensors: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EMA:
    """``v_t = beta v_{t-1} + (1 - beta) w_t`` with ``v_0 = w_0`` (the branch point)."""

    family = "ema"

    def __init__(self, beta: float, tensors: Tensors) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EMA beta must lie in [0, 1), got {beta}")
        self.beta = beta
        self.value = [t.detach().clone() for t in tensors]
        self.step = 0

    def observe(self, step: int, tensors: Tensors) -> None:
        if step != self.step + 1:
            raise ValueError(f"EMA expected step {self.step + 1}, got {step}")
        torch._foreach_lerp_(self.value, tensors, 1.0 - self.beta)
        self.step = step

    def ready(self, step: int) -> bool:
        return step == self.step

    def average(self, step: int) -> Tensors:
        if step != self.step:
            raise ValueError(f"EMA holds step {self.step}, asked for {step}")
        return self.value

    def state_dict(self) -> dict[str, Any]:
        return {"beta": self.beta, "value": self.value, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.beta, self.value, self.step = state["beta"], state["value"], state["step"]


class SnapshotAverage:
    """Uniform average of the weights at ``step - o`` for each offset ``o``.

    Two-point: offsets ``(0, k)``; SWA: ``(0, c, ..., (n-1) c)``. Only snapshots at multiples of
    ``every`` are kept (the evaluation period, which must divide every offset), and only as far
    back as the largest offset, so memory is ``max(offsets) / every`` copies of the weights.
    """

    def __init__(self, family: str, offsets: Sequence[int], every: int, tensors: Tensors) -> None:
        if not offsets or min(offsets) < 0:
            raise ValueError(f"offsets must be non-negative, got {list(offsets)}")
        bad = [o for o in offsets if o % every]
        if bad:
            raise ValueError(f"{family}: offsets {bad} are not multiples of the period {every}")
        self.family = family
        self.offsets = sorted(set(int(o) for o in offsets))
        self.every = every
        self.horizon = max(self.offsets)
        self.snapshots: dict[int, Tensors] = {0: [t.detach().clone() for t in tensors]}

    def observe(self, step: int, tensors: Tensors) -> None:
        if step % self.every:
            return
        self.snapshots[step] = [t.detach().clone() for t in tensors]
        for old in [s for s in self.snapshots if s < step - self.horizon]:
            del self.snapshots[old]

    def ready(self, step: int) -> bool:
        return all((step - o) in self.snapshots for o in self.offsets)

    def average(self, step: int) -> Tensors:
        if not self.ready(step):
            raise ValueError(f"{self.family}: no full window of snapshots at step {step}")
        parts = [self.snapshots[step - o] for o in self.offsets]
        out = [t.clone() for t in parts[0]]
        for part in parts[1:]:
            torch._foreach_add_(out, part)
        torch._foreach_div_(out, float(len(parts)))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"snapshots": {int(k): v for k, v in self.snapshots.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.snapshots = {int(k): v for k, v in state["snapshots"].items()}
