"""Benchmark of the quadratic-model simulator: 256 chains x 20000 steps x d = 20 must take seconds.

Run: ``.venv/bin/python bench/bench_quadratic.py`` (single thread; add ``--quick`` for a
2000-step smoke run). Prints one row per method (seconds, and nanoseconds per chain-step-
dimension) and the machine it ran on. The per-sample rows with explicit sampling or per-sample
curvature draw B = 100 (explicit: B d) random numbers per chain and step, so they run 10x
(100x) fewer steps (shown).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

from lrtraj.quadratic import theory  # noqa: E402
from lrtraj.quadratic.simulate import AdditiveNoise, PerSample, simulate  # noqa: E402

CHAINS, D = 256, 20
A_DIAG = np.r_[np.ones(10), np.full(10, 1e-3)]


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _torch_loop(steps: int) -> None:
    """The same additive update written directly in torch (float64), for comparison."""
    gen = torch.Generator().manual_seed(0)
    a = torch.as_tensor(A_DIAG)
    sd = torch.sqrt(a / 100)
    w = torch.ones(CHAINS, D, dtype=torch.float64)
    chunk = 512
    for t0 in range(0, steps, chunk):
        n = min(chunk, steps - t0)
        xi = torch.randn(n, CHAINS, D, generator=gen, dtype=torch.float64) * sd
        for j in range(n):
            w.sub_(0.5 * (w * a - xi[j]))


def _machine() -> str:
    model = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{model}, {os.cpu_count()} logical cores (load avg {load:.2f}), "
        f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2000 steps instead of 20000")
    args = parser.parse_args()
    torch.set_num_threads(1)
    T = 2000 if args.quick else 20000
    T_curved, T_explicit = T // 10, T // 100
    additive = AdditiveNoise.diagonal(A_DIAG, A_DIAG / 100)
    per_sample = PerSample.diagonal(A_DIAG, 1 / A_DIAG, 100)
    curved = PerSample.diagonal(A_DIAG, 1 / A_DIAG, 100, curvature_cv=0.5)
    explicit = PerSample.diagonal(A_DIAG, 1 / A_DIAG, 100, sampling="explicit")
    w0 = A_DIAG**-0.5
    rows: list[tuple[str, int, int, float]] = []  # method, runs, steps, seconds

    def add(name: str, runs: int, steps: int, fn: Callable[[], object]) -> None:
        rows.append((name, runs, steps, _timed(fn)))

    add("numpy additive noise, lr 0.5", 1, T, lambda: simulate(additive, 0.5, w0, T, CHAINS, 0))
    add(
        "numpy per-sample (exact batch mean), 2 lrs + EMA (fig9 workload)",
        2,
        T,
        lambda: simulate(per_sample, [0.5, 0.05], w0, T, CHAINS, 0, ema_betas=[0.98]),
    )
    add(
        "numpy per-sample, lr schedule (linear decay)",
        1,
        T,
        lambda: simulate(per_sample, 0.5 * (1 - np.arange(T) / T), w0, T, CHAINS, 0),
    )
    add(
        "numpy per-sample curvature cv=0.5 (B gammas per step)",
        1,
        T_curved,
        lambda: simulate(curved, 0.5, w0, T_curved, CHAINS, 0),
    )
    add(
        "numpy per-sample explicit (B=100 w_x per step)",
        1,
        T_explicit,
        lambda: simulate(explicit, 0.5, w0, T_explicit, CHAINS, 0),
    )
    add("torch float64 hand loop, additive noise", 1, T, lambda: _torch_loop(T))
    add(
        "exact theory: moment recursion, 2 lrs + EMA",
        2,
        T,
        lambda: theory.moment_recursion(A_DIAG, A_DIAG / 100, [0.5, 0.05], T, w0, ema_betas=[0.98]),
    )

    width = max(len(r[0]) for r in rows)
    print(f"quadratic simulator benchmark: {CHAINS} chains, d = {D}")
    print(f"machine: {_machine()}")
    print(f"{'method':<{width}}  runs  steps    seconds  ns/(chain*step*dim*run)")
    for name, runs, steps, sec in rows:
        per = 1e9 * sec / (CHAINS * steps * D * runs)
        print(f"{name:<{width}}  {runs:>4}  {steps:>5}  {sec:>9.2f}  {per:>10.1f}")


if __name__ == "__main__":
    main()
