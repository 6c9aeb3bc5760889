"""fig9 / fig11 (Section 5.1): fast and slow directions under a constant lr, with and without
an EMA of the iterates; Monte Carlo next to the exact moment recursion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.quadratic import theory
from lrtraj.quadratic.experiments.table import MC, TH, chain_stats, concat, frame
from lrtraj.quadratic.simulate import PerSample, simulate

NAME = "fast_slow"
FIGURES = ("fig9", "fig11")
GROUPS = ("fast", "slow", "total")
METHODS = ("sgd", "ema")


def run_fast_slow(
    *,
    seed: int,
    chains: int,
    dim_fast: int,
    dim_slow: int,
    a_fast: float,
    a_slow: float,
    batch_size: int,
    lrs: Sequence[float],
    ema_beta: float,
    steps: int,
    record_every: int,
    threshold: float,
    curvature_cv: float = 0.0,
) -> pd.DataFrame:
    """Section 5.1: fast (``a_fast``) and slow (``a_slow``) directions, ``w_x ~ N(0, A^-1)``
    (so ``Sigma = A``), ``w_0,k = a_k^-1/2``, constant lr per run, EMA on top of each run.

    Rows: loss per direction group (``fast``, ``slow``, ``total``) at every ``record_every``
    steps and at 200 log-spaced steps, Monte Carlo (mean, sem, q10, q90 over chains) and exact
    theory (mean); per run and method the first step below ``threshold`` (theory per step, MC
    on the per-step chain mean) and the stationary loss.
    """
    a = np.r_[np.full(dim_fast, a_fast), np.full(dim_slow, a_slow)]
    model = PerSample.diagonal(a, 1.0 / a, batch_size, curvature_cv)
    groups = _group_matrix(dim_fast, dim_slow)
    group_a = [a_fast, a_slow, np.nan]
    weights = 0.5 * a[:, None] * groups  # (d, 3): loss = w^2 @ weights
    w0 = a**-0.5
    record = _record_steps(steps, record_every)
    lrs = [float(x) for x in lrs]

    sim = simulate(
        model,
        lrs,
        w0,
        steps,
        chains,
        seed,
        ema_betas=[ema_beta],
        record_steps=record,
        observe=lambda s: np.square(s) @ weights,  # (runs, tracks, chains, 3)
        per_step=lambda s: np.einsum("rtcd,rtcd->rtd", s, s) @ weights / s.shape[2],
    )
    assert sim.observed is not None and sim.per_step is not None
    s_diag = np.diag(model.noise_cov())
    mom = theory.moment_recursion(
        a, s_diag, lrs, steps, w0, curvature_var=model.curvature_var(), ema_betas=[ema_beta]
    )
    th_loss = {
        "sgd": theory.expected_loss(a, mom.q_w, groups),  # (runs, T+1, 3)
        "ema": theory.expected_loss(a, mom.q_v[:, 0], groups),
    }
    mc_stats = chain_stats(np.moveaxis(sim.observed, -2, -1))  # (n_rec, runs, tracks, 3)

    frames = []
    for r, lr in enumerate(lrs):
        for tr, method in enumerate(METHODS):
            param = {
                "lr": lr,
                "method": method,
                "param_name": "ema_beta" if tr else "",
                "param": ema_beta if tr else np.nan,
            }
            mc = {stat: arr[:, r, tr] for stat, arr in mc_stats.items()}
            frames += _loss_curve_frames(param, group_a, record, mc, th_loss[method][r])
            frames += _threshold_frames(
                param, th_loss[method][r, :, 2], sim.per_step[:, r, tr, 2], threshold
            )
        c = theory.stationary_variance(a, s_diag, lr, model.curvature_var())
        frames += _stationary_frames(lr, a, c, groups, group_a, ema_beta)
    frames.append(frame(NAME, statistic="chains", source=MC, value=chains))
    frames.append(frame(NAME, statistic="steps", source=MC, value=steps))
    return concat(frames)


def _group_matrix(dim_fast: int, dim_slow: int) -> np.ndarray:
    """(d, 3) membership of each direction in the groups ``GROUPS`` (fast, slow, total)."""
    groups = np.zeros((dim_fast + dim_slow, 3))
    groups[:dim_fast, 0] = 1.0
    groups[dim_fast:, 1] = 1.0
    groups[:, 2] = 1.0
    return groups


def _record_steps(steps: int, record_every: int) -> np.ndarray:
    """A linear grid for the long-run view plus a log grid that resolves the fast transient."""
    log_grid = np.geomspace(1, steps, 200).astype(np.int64)
    return np.unique(np.r_[np.arange(0, steps + 1, record_every), log_grid, steps])


def _loss_curve_frames(
    param: Mapping[str, Any],
    group_a: Sequence[float],
    record: np.ndarray,
    mc: Mapping[str, np.ndarray],
    th: np.ndarray,
) -> list[pd.DataFrame]:
    """Loss per direction group at the recorded steps: Monte Carlo statistics ``mc[stat]``
    (recorded steps x groups) and the exact mean ``th`` (all steps x groups) of one run."""
    frames = []
    for g, name in enumerate(GROUPS):
        common = {**param, "direction": name, "curvature": group_a[g]}
        for stat, arr in mc.items():
            frames.append(
                frame(NAME, **common, step=record, statistic=stat, source=MC, value=arr[:, g])
            )
        frames.append(
            frame(NAME, **common, step=record, statistic="mean", source=TH, value=th[record, g])
        )
    return frames


def _threshold_frames(
    param: Mapping[str, Any], th_total: np.ndarray, mc_total: np.ndarray, threshold: float
) -> list[pd.DataFrame]:
    """First step the total loss is below ``threshold`` (theory and per-step MC mean)."""
    frames = [
        frame(
            NAME,
            **param,
            direction="total",
            statistic="first_step_below",
            source=src,
            value=theory.first_step_below(series, threshold),
        )
        for src, series in ((TH, th_total), (MC, mc_total))
    ]
    frames.append(
        frame(NAME, **param, direction="total", statistic="threshold", source=TH, value=threshold)
    )
    return frames


def _stationary_frames(
    lr: float,
    a: np.ndarray,
    c: np.ndarray,
    groups: np.ndarray,
    group_a: Sequence[float],
    ema_beta: float,
) -> list[pd.DataFrame]:
    """Exact stationary loss per direction group at ``lr`` (stationary variance ``c``), of the
    iterate and of its EMA."""
    rho = 1.0 - lr * a
    frames = []
    for g, name in enumerate(GROUPS):
        sgd_loss = float(np.sum(0.5 * a * c * groups[:, g]))
        ema_loss = float(np.sum(0.5 * a * c * theory.ema_factor(rho, ema_beta) * groups[:, g]))
        common = {"lr": lr, "direction": name, "curvature": group_a[g]}
        frames.append(frame(NAME, **common, statistic="stationary_loss", source=TH, value=sgd_loss))
        frames.append(
            frame(
                NAME,
                **common,
                method="ema",
                param_name="ema_beta",
                param=ema_beta,
                statistic="stationary_loss",
                source=TH,
                value=ema_loss,
            )
        )
    return frames


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Stability of the largest lr in the stiffest direction (per-sample curvature included)."""
    cv2 = cfg["curvature_cv"] ** 2 / cfg["batch_size"]
    if max(cfg["lrs"]) * max(cfg["a_fast"], cfg["a_slow"]) * (1 + cv2) >= 2:
        return ["quadratic.fast_slow.lrs: lr * a * (1 + cv^2/B) must be < 2 (stability)"]
    return []
