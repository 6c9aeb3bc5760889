"""Lemma 2 / Table 1 measured: averaging ≡ tail-sum schedule when gradients are constant.

"Constant gradients" means the update at step ``i`` does not depend on ``w``: a linear loss
``L_i(w) = <g_i, w>`` with a fresh random ``g_i`` per step. Both runs use the real
``torch.optim.SGD`` (so the momentum buffer is the real one) and the real averagers of
``lrtraj.averaging``, in float64; the deviation left is rounding only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd
import torch

from lrtraj import averaging
from lrtraj.averaging.online import EMA
from lrtraj.schedules import TABLE1_ROWS, ema_kernel, tail_sum


def _sgd_run(
    w0: torch.Tensor,
    grads: torch.Tensor,
    lrs: Sequence[float],
    momentum: float,
    observe: Callable[[int, list[torch.Tensor]], None] | None = None,
) -> torch.Tensor:
    w = torch.nn.Parameter(w0.clone())
    opt = torch.optim.SGD([w], lr=float(lrs[0]), momentum=momentum)
    for i, lr in enumerate(lrs):
        for group in opt.param_groups:
            group["lr"] = float(lr)
        w.grad = grads[i].clone()
        opt.step()
        if observe is not None:
            observe(i + 1, [w.detach()])
    return w.detach().clone()


def measure_row(
    row: str, params: Mapping[str, Any], T: int, lr: float, momentum: float, dim: int, seed: int
) -> float:
    """Max |average − schedule endpoint| over coordinates for one Table 1 row."""
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.randn(dim, generator=gen, dtype=torch.float64)
    grads = torch.randn(T, dim, generator=gen, dtype=torch.float64)
    beta = float(params["ema"]["beta"])
    start = int(params.get("ema_start", T // 2))
    constant = [lr] * T
    if row in averaging.FAMILIES:  # a family's own averager against its own kernel
        family = averaging.get(row)
        avg = family.averager(params[row], 1, [w0])
        kernel = family.kernel(T, params[row])
    elif row == "ema_start":
        avg = None
        kernel = ema_kernel(T, beta, start=start)
    elif row == "ema_bias_corrected":
        avg = EMA(beta, [torch.zeros_like(w0)])
        kernel = ema_kernel(T, beta, bias_corrected=True)
    else:
        raise ValueError(f"unknown Table 1 row {row!r}")

    late: dict[str, EMA] = {}

    def observe(step: int, tensors: list[torch.Tensor]) -> None:
        if row == "ema_start":
            if step == start:
                late["ema"] = EMA(beta, tensors)
                late["ema"].step = start  # the average's window starts at w_start
            elif step > start:
                late["ema"].observe(step, tensors)
        else:
            avg.observe(step, tensors)

    if row == "ema_start" and start == 0:
        raise ValueError("ema_start must be > 0 (use the 'ema' row for start 0)")
    _sgd_run(w0, grads, constant, momentum, observe)
    if row == "ema_start":
        v = late["ema"].average(T)[0]
    else:
        v = avg.average(T)[0]
        if row == "ema_bias_corrected":
            v = v / (1.0 - beta**T)
    w_sched = _sgd_run(w0, grads, tail_sum(kernel, lr), momentum)
    return float((v - w_sched).abs().max())


def table1(
    averaging_params: Mapping[str, Any],
    *,
    steps: int,
    lr: float,
    momenta: Sequence[float],
    dim: int,
    seed: int,
) -> pd.DataFrame:
    """Table 1 with the measured max deviation for each row and momentum."""
    records = []
    for row, averaging_text, schedule_text in TABLE1_ROWS:
        for momentum in momenta:
            records.append(
                {
                    "row": row,
                    "averaging": averaging_text,
                    "equivalent_schedule": schedule_text,
                    "momentum": float(momentum),
                    "max_abs_deviation": measure_row(
                        row, averaging_params, steps, lr, momentum, dim, seed
                    ),
                    "steps": steps,
                    "lr": lr,
                }
            )
    return pd.DataFrame.from_records(records)
