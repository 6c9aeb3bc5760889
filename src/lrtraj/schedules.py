"""Learning-rate schedules, and the averaging ↔ schedule equivalence of Lemma 2 / Table 1.

Convention (docs/theory.md §2): a run of ``T`` steps applies ``w_{i+1} = w_i - lr_i * u_i`` for
``i = 0..T-1``. An average ``v = sum_{t=0}^{T} kappa_t w_t`` with ``sum kappa = 1`` equals, when
the updates ``u_i`` do not depend on ``w`` (constant gradients), the run with the *tail-sum*
schedule ``lr_i = lr * sum_{t>i} kappa_t``.

Kernels are numpy arrays of length ``T + 1`` (weight of ``w_0 .. w_T``); schedules are arrays of
length ``T`` (lr of step ``0 .. T-1``), always relative to the start of the run (a side-trip's
branch point is its ``w_0``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Schedule = Callable[[int], float]

# A side-trip's runs are named by their schedule: "constant", "<family>_schedule" (the tail-sum
# schedule of an averaging family) and "linear_decay". Kept here, free of torch, because the
# workflow needs the names to build its DAG and must not pay torch's import for it.
SCHEDULE_SUFFIX = "_schedule"


def schedule_method(family: str) -> str:
    """The side-trip method that runs ``family``'s equivalent schedule."""
    return f"{family}{SCHEDULE_SUFFIX}"


def family_of(method: str) -> str:
    """The ``family`` column of a side-trip method's rows: the averaging family a schedule is
    equivalent to, ``baseline`` for the constant run, the method itself for references."""
    if method == "constant":
        return "baseline"
    return method.removesuffix(SCHEDULE_SUFFIX)


def kind_of(method: str) -> str:
    """The ``kind`` column of a side-trip method's rows (averages are ``average``)."""
    if method == "constant":
        return "baseline"
    return "schedule" if method.endswith(SCHEDULE_SUFFIX) else "reference"


def sidetrip_methods(averaging: Mapping[str, Any], linear_decay: bool = True) -> list[str]:
    """All runs a side-trip consists of, in a stable order."""
    methods = ["constant"] + [schedule_method(family) for family in averaging]
    return methods + (["linear_decay"] if linear_decay else [])


def tail_sum(kernel: np.ndarray, lr: float = 1.0) -> np.ndarray:
    """Equivalent schedule of an averaging kernel: ``lr_i = lr * sum_{t > i} kappa_t``."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 1 or kernel.size < 2:
        raise ValueError("an averaging kernel needs weights for w_0 .. w_T with T >= 1")
    if not np.isclose(kernel.sum(), 1.0, rtol=0, atol=1e-12):
        raise ValueError(f"averaging weights must sum to 1, got {kernel.sum():.15g}")
    # reversed cumulative sum excluding index i itself: tails[i] = sum_{t >= i+1}
    tails = np.cumsum(kernel[::-1])[::-1][1:]
    return lr * tails


def two_point_kernel(T: int, k: int) -> np.ndarray:
    """``(w_{T-k} + w_T) / 2``."""
    _check_window(T, k, "two-point gap k")
    kernel = np.zeros(T + 1)
    kernel[T - k] += 0.5
    kernel[T] += 0.5
    return kernel


def ema_kernel(T: int, beta: float, start: int = 0, bias_corrected: bool = False) -> np.ndarray:
    """EMA ``v_t = beta v_{t-1} + (1 - beta) w_t`` fed post-step weights from ``start``.

    With ``bias_corrected`` the EMA starts at ``v_start = 0`` and is divided by
    ``1 - beta^(T - start)``; otherwise ``v_start = w_start``.
    """
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"EMA beta must lie in [0, 1), got {beta}")
    if not 0 <= start < T:
        raise ValueError(f"EMA start {start} must lie in [0, T={T})")
    t = np.arange(start + 1, T + 1)
    kernel = np.zeros(T + 1)
    kernel[t] = (1.0 - beta) * beta ** (T - t)
    if bias_corrected:
        kernel /= 1.0 - beta ** (T - start)
    else:
        kernel[start] = beta ** (T - start)
    return kernel


def swa_kernel(T: int, n: int, c: int) -> np.ndarray:
    """Uniform average of ``n`` checkpoints ``c`` steps apart, the last one at ``T``."""
    if n < 1:
        raise ValueError(f"SWA needs n >= 1 checkpoints, got {n}")
    _check_window(T, (n - 1) * c, "SWA span (n-1)*c")
    kernel = np.zeros(T + 1)
    kernel[T - c * np.arange(n)] = 1.0 / n
    return kernel


def _check_window(T: int, span: int, what: str) -> None:
    if span < 0 or span > T:
        raise ValueError(f"{what} = {span} must lie in [0, T={T}]")


# Closed forms of Table 1 (docs/theory.md §2); the tests check them against ``tail_sum``.
def two_point_schedule(T: int, k: int, lr: float) -> np.ndarray:
    _check_window(T, k, "two-point gap k")
    out = np.full(T, lr, dtype=np.float64)
    out[T - k :] = lr / 2
    return out


def ema_schedule(T: int, beta: float, lr: float, start: int = 0) -> np.ndarray:
    i = np.arange(T)
    out = lr * (1.0 - beta ** (T - i))
    out[:start] = lr
    return out


def swa_schedule(T: int, n: int, c: int, lr: float) -> np.ndarray:
    _check_window(T, (n - 1) * c, "SWA span (n-1)*c")
    out = np.full(T, lr, dtype=np.float64)
    first = T - (n - 1) * c
    for j in range(n - 1):
        out[first + j * c : first + (j + 1) * c] = lr * (n - 1 - j) / n
    return out


def linear_decay_schedule(T: int, lr: float) -> np.ndarray:
    """``lr (1 - i/T)``: the common reference schedule, not equivalent to any average here."""
    return lr * (1.0 - np.arange(T) / T)


TABLE1_ROWS: list[tuple[str, str, str]] = [
    ("two_point", r"$(w_{T-k} + w_T)/2$", r"$\lambda/2$ on steps $T-k..T-1$, $\lambda$ before"),
    ("ema", r"EMA, $v_0 = w_0$", r"$\lambda_i = \lambda(1 - \beta^{T-i})$"),
    (
        "ema_start",
        r"EMA started at step $s$",
        r"$\lambda$ for $i < s$, then $\lambda(1 - \beta^{T-i})$",
    ),
    (
        "ema_bias_corrected",
        r"EMA, $v_0 = 0$, bias-corrected",
        r"$\lambda(1 - \beta^{T-i}) / (1 - \beta^T)$",
    ),
    (
        "swa",
        r"SWA, $n$ checkpoints $c$ apart ending at $T$",
        r"segment $j=0..n-2$: $\lambda (n-1-j)/n$, $\lambda$ before",
    ),
]


def schedule_fn(values: np.ndarray) -> Schedule:
    """Turn an array of per-step lrs into ``step -> lr`` (steps counted from the run start)."""
    values = np.asarray(values, dtype=np.float64)

    def lr_at(i: int) -> float:
        return float(values[i])

    return lr_at
