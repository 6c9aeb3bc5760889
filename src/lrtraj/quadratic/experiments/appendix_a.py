"""Appendix A: variance of averaged iterates (two-point, n-point, EMA) at stationarity and the
effective learning rate they amount to; closed forms vs Monte Carlo."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.quadratic import theory
from lrtraj.quadratic.experiments.table import MC, TH, concat, frame
from lrtraj.quadratic.simulate import AdditiveNoise, sample_gaussian, simulate
from lrtraj.schedules import ema_kernel, swa_kernel, two_point_kernel

NAME = "appendix_a"
FIGURES = ("appendix_a",)


def appendix_a_kernels(
    steps: int,
    two_point_k: Sequence[int],
    n_point_n: Sequence[int],
    n_point_spacing: int,
    ema_betas: Sequence[float],
) -> list[tuple[str, str, float, np.ndarray]]:
    """``(method, param_name, param, kernel)`` for every averaging variant of Appendix A."""
    out = [("two_point", "k", float(k), two_point_kernel(steps, int(k))) for k in two_point_k]
    out += [
        ("n_point", "n", float(n), swa_kernel(steps, int(n), n_point_spacing)) for n in n_point_n
    ]
    out += [("ema", "beta", float(b), ema_kernel(steps, float(b))) for b in ema_betas]
    return out


def _closed_form_factor(method: str, param: float, rho: np.ndarray, spacing: int) -> np.ndarray:
    if method == "two_point":
        return theory.two_point_factor(rho, int(param))
    if method == "n_point":
        return theory.n_point_factor(rho, int(param), spacing)
    return theory.ema_factor(rho, param)


def run_appendix_a(
    *,
    seed: int,
    chains: int,
    eigenvalues: Sequence[float],
    lr: float,
    batch_size: int,
    steps: int,
    two_point_k: Sequence[int],
    n_point_n: Sequence[int],
    n_point_spacing: int,
    ema_betas: Sequence[float],
    grid_points: int,
) -> pd.DataFrame:
    """Variance of averaged iterates at stationarity, closed form vs Monte Carlo, and the
    effective lr.

    Additive model ``A = diag(eigenvalues)``, ``S = A / B``; chains start from the exact
    stationary law ``N(0, C)``, so every average ending at ``steps`` is stationary. Per direction
    and kernel: MC ``Var v / C`` (mean, sem over chains), the closed form (infinite EMA), the
    exact finite-kernel value, and ``lr'/lr`` (exact; MC via the exact inversion of MC ``f``;
    the small-lr approximations ``1/2`` and ``1/n``). A curvature grid gives smooth theory lines.
    """
    a = np.asarray(eigenvalues, dtype=np.float64)
    model = AdditiveNoise.diagonal(a, a / batch_size)
    s = a / batch_size
    C = theory.stationary_variance(a, s, lr)
    rho = 1.0 - lr * a
    init_seed, sim_seed = np.random.SeedSequence(seed).generate_state(2)
    w0 = sample_gaussian(np.diag(C), (chains,), np.random.default_rng(init_seed))
    specs = appendix_a_kernels(steps, two_point_k, n_point_n, n_point_spacing, ema_betas)
    kernels = np.stack([k for *_, k in specs])
    sim = simulate(model, lr, w0, steps, chains, int(sim_seed), kernels=kernels)
    assert sim.kernel_averages is not None
    v2 = np.square(sim.kernel_averages[0])  # (K, chains, d)
    f_mc = v2.mean(axis=1) / C
    f_sem = v2.std(axis=1, ddof=1) / math.sqrt(chains) / C
    labels = [f"a={x:g}" for x in a]

    frames = []
    for i, (method, pname, param, kernel) in enumerate(specs):
        common = {
            "method": method,
            "param_name": pname,
            "param": param,
            "lr": lr,
            "direction": labels,
            "curvature": a,
        }
        closed = _closed_form_factor(method, param, rho, n_point_spacing)
        exact = theory.kernel_factor(kernel, rho)
        frames += _kernel_frames(common, f_mc[i], f_sem[i], closed, exact)
    per_direction = {"lr": lr, "direction": labels, "curvature": a}
    frames.append(frame(NAME, **per_direction, statistic="stationary_variance", source=TH, value=C))
    frames.append(
        frame(
            NAME,
            **per_direction,
            statistic="stationary_variance",
            source=MC,
            value=np.square(sim.final[0, 0]).mean(axis=0),
        )
    )
    frames += _grid_frames(lr, grid_points, two_point_k, n_point_n, n_point_spacing, ema_betas)
    frames.append(frame(NAME, statistic="chains", source=MC, value=chains))
    frames.append(
        frame(
            NAME,
            param_name="n_point_spacing",
            param=n_point_spacing,
            statistic="n_point_spacing",
            source=TH,
            value=n_point_spacing,
        )
    )
    return concat(frames)


def _kernel_frames(
    common: Mapping[str, Any],
    f_mc: np.ndarray,
    f_sem: np.ndarray,
    closed: np.ndarray,
    exact: np.ndarray,
) -> list[pd.DataFrame]:
    """One averaging variant per direction: variance ratio (MC, closed form, exact kernel) and
    effective lr ratio (exact, MC, and the small-lr approximation where there is one)."""
    lr, a = common["lr"], common["curvature"]
    frames = [
        frame(NAME, **common, statistic="variance_ratio", source=MC, value=f_mc),
        frame(NAME, **common, statistic="variance_ratio_sem", source=MC, value=f_sem),
        frame(NAME, **common, statistic="variance_ratio", source=TH, value=closed),
        frame(NAME, **common, statistic="variance_ratio_kernel", source=TH, value=exact),
        frame(
            NAME,
            **common,
            statistic="effective_lr_ratio",
            source=TH,
            value=theory.effective_lr_ratio(lr, a, closed),
        ),
        frame(
            NAME,
            **common,
            statistic="effective_lr_ratio",
            source=MC,
            value=theory.effective_lr_ratio(lr, a, f_mc),
        ),
    ]
    if common["method"] != "ema":
        small = 0.5 if common["method"] == "two_point" else 1.0 / common["param"]
        frames.append(
            frame(
                NAME,
                **common,
                statistic="effective_lr_ratio_small_lr",
                source=TH,
                value=np.full(a.size, small),
            )
        )
    return frames


def _grid_frames(
    lr: float,
    grid_points: int,
    two_point_k: Sequence[int],
    n_point_n: Sequence[int],
    n_point_spacing: int,
    ema_betas: Sequence[float],
) -> list[pd.DataFrame]:
    """Smooth exact effective-lr lines over ``lr * a`` in (0, 2) for the largest k, n and beta."""
    x = np.geomspace(1e-4, 1.9, grid_points)
    rho_grid = 1.0 - x
    frames = []
    for method, pname, values in (
        ("two_point", "k", two_point_k),
        ("n_point", "n", n_point_n),
        ("ema", "beta", ema_betas),
    ):
        if not len(values):
            continue
        param = float(max(values))
        f = _closed_form_factor(method, param, rho_grid, n_point_spacing)
        frames.append(
            frame(
                NAME,
                method=method,
                param_name=pname,
                param=param,
                lr=lr,
                direction="grid",
                curvature=x / lr,
                statistic="effective_lr_ratio",
                source=TH,
                value=theory.effective_lr_ratio(lr, x / lr, f),
            )
        )
    return frames


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Stability, and averaging windows (largest k, span of the n points) that fit in the run."""
    out = []
    if max(cfg["eigenvalues"]) * cfg["lr"] >= 2:
        out.append("quadratic.appendix_a.lr: lr * max(eigenvalues) must be < 2 (stability)")
    if max(cfg["two_point_k"]) > cfg["steps"]:
        out.append(
            f"quadratic.appendix_a.two_point_k: {max(cfg['two_point_k'])} exceeds "
            f"steps={cfg['steps']}"
        )
    span = (max(cfg["n_point_n"]) - 1) * cfg["n_point_spacing"]
    if span > cfg["steps"]:
        out.append(
            f"quadratic.appendix_a.n_point_n: span (n-1)*n_point_spacing = {span} "
            f"exceeds steps={cfg['steps']}"
        )
    return out
