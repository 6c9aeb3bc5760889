"""Lemma 1: the stationary radius grows as sqrt(lr); Monte Carlo against the closed form."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.quadratic import theory
from lrtraj.quadratic.experiments.table import MC, TH, chain_stats, concat, frame
from lrtraj.quadratic.simulate import PerSample, simulate

NAME = "lemma1"
FIGURES = ("lemma1",)


def run_lemma1(
    *,
    seed: int,
    chains: int,
    dim: int,
    w_var: float,
    batch_size: int,
    lrs: Sequence[float],
    relax_times: float,
    thin: int,
    fit_max_lr: float,
    curvature_cv: float = 0.0,
) -> pd.DataFrame:
    """Stationary radius vs lr for ``A_x = I`` (times a Gamma curvature scale if
    ``curvature_cv > 0``), ``w_x ~ N(0, w_var I)``: ``E|w|^2 = d lr s / (2 - lr (1 + v))``.

    Chains start at 0, run ``relax_times / min(lr)`` steps of burn-in, then as many steps again
    in which ``|w|^2`` is averaged over time (every ``thin`` steps) within each chain; mean and
    sem are over chains. Slopes of ``log sqrt(E|w|^2)`` vs ``log lr`` are fitted on
    ``lr <= fit_max_lr`` (0.5 is the small-lr limit).
    """
    lrs_arr = np.sort(np.asarray(lrs, dtype=np.float64))
    model = PerSample(np.eye(dim), w_var * np.eye(dim), batch_size, curvature_cv)
    s = float(model.noise_cov()[0, 0])
    v = model.curvature_var()
    burn = math.ceil(relax_times / lrs_arr.min())
    total = 2 * burn
    record = np.arange(burn, total + 1, thin)
    sim = simulate(
        model,
        lrs_arr,
        np.zeros(dim),
        total,
        chains,
        seed,
        record_steps=record,
        observe=lambda st: np.einsum("rcd,rcd->rc", st[:, 0], st[:, 0]),
    )
    assert sim.observed is not None
    stats = chain_stats(sim.observed.mean(axis=0))  # (runs,)
    theory_sq = np.array([dim * float(theory.stationary_variance(1.0, s, lr, v)) for lr in lrs_arr])
    grid = np.geomspace(lrs_arr.min(), lrs_arr.max(), 200)
    grid_sq = np.array([dim * float(theory.stationary_variance(1.0, s, lr, v)) for lr in grid])
    frames = _radius_frames(lrs_arr, stats, theory_sq, grid, grid_sq)
    frames += _slope_frames(lrs_arr, stats["mean"], theory_sq, fit_max_lr)
    frames.append(frame(NAME, statistic="chains", source=MC, value=chains))
    frames.append(frame(NAME, statistic="steps", source=MC, value=total))
    return concat(frames)


def _radius_frames(
    lrs: np.ndarray,
    stats: Mapping[str, np.ndarray],
    theory_sq: np.ndarray,
    grid: np.ndarray,
    grid_sq: np.ndarray,
) -> list[pd.DataFrame]:
    """``E|w|^2`` per lr (Monte Carlo mean and sem, closed form) and the closed form on a grid."""
    per_lr = {"param_name": "lr", "param": lrs, "lr": lrs}
    return [
        frame(NAME, **per_lr, statistic="mean_sq_radius", source=MC, value=stats["mean"]),
        frame(NAME, **per_lr, statistic="mean_sq_radius_sem", source=MC, value=stats["sem"]),
        frame(NAME, **per_lr, statistic="mean_sq_radius", source=TH, value=theory_sq),
        frame(
            NAME,
            method="closed_form_grid",
            param_name="lr",
            param=grid,
            lr=grid,
            statistic="mean_sq_radius",
            source=TH,
            value=grid_sq,
        ),
    ]


def _slope_frames(
    lrs: np.ndarray, mc_sq: np.ndarray, theory_sq: np.ndarray, fit_max_lr: float
) -> list[pd.DataFrame]:
    """Log-log slope of the radius vs lr on ``lr <= fit_max_lr``, Monte Carlo and theory."""
    fit = lrs <= fit_max_lr
    common = {"param_name": "fit_max_lr", "param": fit_max_lr, "statistic": "loglog_slope"}
    return [
        frame(NAME, **common, source=MC, value=theory.loglog_slope(lrs[fit], np.sqrt(mc_sq[fit]))),
        frame(
            NAME,
            **common,
            source=TH,
            value=theory.loglog_slope(lrs[fit], np.sqrt(theory_sq[fit])),
        ),
    ]


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Stability at the largest lr, and enough small lrs for the slope fit."""
    out = []
    cv2 = cfg["curvature_cv"] ** 2 / cfg["batch_size"]
    if max(cfg["lrs"]) * (1 + cv2) >= 2:
        out.append("quadratic.lemma1.lrs: lr * (1 + cv^2/B) must be < 2 (stability, A = I)")
    if sum(lr <= cfg["fit_max_lr"] for lr in cfg["lrs"]) < 2:
        out.append("quadratic.lemma1.fit_max_lr: the slope fit needs >= 2 lrs <= fit_max_lr")
    return out
