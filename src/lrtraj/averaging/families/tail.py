"""Polyak–Ruppert tail averaging: the uniform average of the last ``m`` iterates
``w_{T-m+1} .. w_T`` (docs/theory.md §2).

Its equivalent schedule (the tail sum of its kernel) keeps ``lr`` until step ``T - m`` and then
decays linearly, ``lr_i = lr (T - i) / m`` for ``i >= T - m``: tail averaging is a linear decay
over its window.

Online, the window is kept as sums of whole evaluation periods (``m`` is a multiple of the
period ``every``): one fused add per step, and ``m / every`` partial sums in memory, so the
average at any evaluation step ``t >= m`` is the sum of the last ``m / every`` blocks over ``m``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lrtraj.averaging import Family


def kernel(T: int, m: int) -> np.ndarray:
    """Weight ``1/m`` on each of ``w_{T-m+1} .. w_T``."""
    if not 1 <= m <= T:
        raise ValueError(f"tail window m = {m} must lie in [1, T={T}]")
    out = np.zeros(T + 1)
    out[T - m + 1 :] = 1.0 / m
    return out


class TailAverage:
    """Uniform average of the last ``m`` iterates, evaluated at multiples of ``every``."""

    family = "tail"

    def __init__(self, m: int, every: int, tensors: list) -> None:
        # torch is imported here, not at module level: the registry is imported torch-free
        import torch

        if m < 1 or m % every:
            raise ValueError(f"tail: window m={m} is not a positive multiple of the period {every}")
        self._foreach_add = torch._foreach_add_
        self._foreach_div = torch._foreach_div_
        self.m, self.every = m, every
        self.step = 0
        self.current = [torch.zeros_like(t) for t in tensors]  # sum over the open block
        self.blocks: dict[int, list] = {}  # block end step -> sum of its `every` iterates

    def observe(self, step: int, tensors: list) -> None:
        if step != self.step + 1:
            raise ValueError(f"tail expected step {self.step + 1}, got {step}")
        self._foreach_add(self.current, tensors)
        self.step = step
        if step % self.every == 0:
            self.blocks[step] = self.current
            self.current = [t.clone().zero_() for t in self.current]
            for old in [s for s in self.blocks if s <= step - self.m]:
                del self.blocks[old]

    def ready(self, step: int) -> bool:
        ends = range(step - self.m + self.every, step + 1, self.every)
        return step >= self.m and all(end in self.blocks for end in ends)

    def average(self, step: int) -> list:
        if not self.ready(step):
            raise ValueError(f"tail: no full window of {self.m} iterates at step {step}")
        ends = list(range(step - self.m + self.every, step + 1, self.every))
        out = [t.clone() for t in self.blocks[ends[0]]]
        for end in ends[1:]:
            self._foreach_add(out, self.blocks[end])
        self._foreach_div(out, float(self.m))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "current": self.current, "blocks": dict(self.blocks)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.current = int(state["step"]), list(state["current"])
        self.blocks = {int(k): list(v) for k, v in state["blocks"].items()}


FAMILY = Family(
    name="tail",
    label="tail average",
    color="#E69F00",  # Okabe-Ito orange
    schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["m"],
        "properties": {"m": {"$ref": "#/$defs/positive_int", "description": "window (steps)"}},
    },
    kernel=lambda T, params: kernel(T, int(params["m"])),
    averager=lambda params, every, tensors: TailAverage(int(params["m"]), every, tensors),
    spans=lambda params: {"m": int(params["m"])},
    claim="3d",
)
