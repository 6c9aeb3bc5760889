"""fig4 (Section 4): the stationary cloud of a 2-D quadratic, one step split into drag and
drift, and the loss of the midpoint of two far-apart points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.quadratic import theory
from lrtraj.quadratic.experiments.table import MC, TH, chain_stats, concat, frame
from lrtraj.quadratic.simulate import AdditiveNoise, rotation_2d, simulate

NAME = "geometry"
FIGURES = ("fig4",)


def run_geometry(
    *,
    seed: int,
    chains: int,
    eigenvalues: Sequence[float],
    angle_deg: float,
    noise_var: float,
    lr: float,
    burn_in: int,
    steps: int,
    gap: int,
) -> pd.DataFrame:
    """2-D additive-noise model with a rotated ``A`` and isotropic noise ``S = noise_var I``, so
    the stationary cloud is an ellipse aligned with the loss contours (``C ~ lr/2 S A^-1``).

    Rows: chain 0's trajectory over the window (coordinates), theory/MC stationary covariance,
    the step decomposition (``E[w . dw]`` = drag, ``E|dw|^2``; their balance
    ``2 E[w . dw] + E|dw|^2 = 0`` is Lemma 1), RMS drag and drift, and the loss of the midpoint
    of two points ``gap`` steps apart relative to the loss of a single point.
    """
    rot = rotation_2d(angle_deg)
    A = rot @ np.diag(np.asarray(eigenvalues, float)) @ rot.T
    S = noise_var * np.eye(2)
    model = AdditiveNoise(A, S)
    total = burn_in + steps
    record = np.arange(burn_in, total + 1)
    sim = simulate(
        model, lr, np.zeros(2), total, chains, seed, record_steps=record, observe=lambda s: s[0, 0]
    )
    assert sim.observed is not None
    W = sim.observed  # (n_rec, chains, 2)

    C = theory.stationary_cov(A, S, lr)
    frames = [
        frame(
            NAME,
            method="trajectory",
            lr=lr,
            chain=0,
            step=np.repeat(record, 2),
            direction=np.tile(["x0", "x1"], record.size),
            statistic="coordinate",
            source=MC,
            value=W[:, 0, :].ravel(),
        )
    ]
    frames += _covariance_frames(W, A, C, lr)
    frames += _step_frames(W, A, S, C, lr)
    frames += _midpoint_frames(W, A, C, lr, gap)
    frames.append(frame(NAME, statistic="chains", source=MC, value=chains))
    return concat(frames)


def _covariance_frames(
    W: np.ndarray, A: np.ndarray, C: np.ndarray, lr: float
) -> list[pd.DataFrame]:
    """Stationary covariance, theory and per-chain time averages (mean, sem over chains), and
    the Hessian it is drawn against."""
    frames = []
    for i, j in ((0, 0), (0, 1), (1, 1)):
        per_chain = (W[:, :, i] * W[:, :, j]).mean(axis=0)
        stats = chain_stats(per_chain)
        frames.append(frame(NAME, lr=lr, statistic=f"cov_{i}{j}", source=TH, value=C[i, j]))
        frames.append(frame(NAME, lr=lr, statistic=f"cov_{i}{j}", source=MC, value=stats["mean"]))
        frames.append(
            frame(NAME, lr=lr, statistic=f"cov_{i}{j}_sem", source=MC, value=stats["sem"])
        )
        frames.append(frame(NAME, lr=lr, statistic=f"hessian_{i}{j}", source=TH, value=A[i, j]))
    return frames


def _step_frames(
    W: np.ndarray, A: np.ndarray, S: np.ndarray, C: np.ndarray, lr: float
) -> list[pd.DataFrame]:
    """One step ``dw = w_{t+1} - w_t`` split along ``u = w_t/|w_t|`` (drag) and orthogonal to
    it (drift): Monte Carlo moments and the exact ``E[w . dw]``, ``E|dw|^2``."""
    w, dw = W[:-1], np.diff(W, axis=0)
    radial = np.einsum("tcd,tcd->tc", dw, w) / np.linalg.norm(w, axis=-1)
    drift_sq = np.einsum("tcd,tcd->tc", dw, dw) - radial**2
    mc_steps = {
        "mean_w_dot_step": np.einsum("tcd,tcd->tc", dw, w),
        "mean_sq_step": np.einsum("tcd,tcd->tc", dw, dw),
        "mean_drag": -radial,
        "mean_sq_drag": radial**2,
        "mean_sq_drift": drift_sq,
    }
    frames = []
    for stat, vals in mc_steps.items():
        st = chain_stats(vals.mean(axis=0))
        frames.append(frame(NAME, lr=lr, statistic=stat, source=MC, value=st["mean"]))
        frames.append(frame(NAME, lr=lr, statistic=f"{stat}_sem", source=MC, value=st["sem"]))
    frames.append(
        frame(NAME, lr=lr, statistic="mean_w_dot_step", source=TH, value=-lr * np.trace(A @ C))
    )
    frames.append(
        frame(
            NAME,
            lr=lr,
            statistic="mean_sq_step",
            source=TH,
            value=lr**2 * (np.trace(A @ C @ A) + np.trace(S)),
        )
    )
    return frames


def _midpoint_frames(
    W: np.ndarray, A: np.ndarray, C: np.ndarray, lr: float, gap: int
) -> list[pd.DataFrame]:
    """Loss of the midpoint of two points ``gap`` steps apart over the loss of one point."""
    # exact: Cov(midpoint) = (2C + R^g C + C R^g^T)/4
    Rg = np.linalg.matrix_power(np.eye(2) - lr * A, gap)
    C_mid = (2 * C + Rg @ C + C @ Rg.T) / 4
    mid = 0.5 * (W[gap:] + W[:-gap])
    loss = lambda x: 0.5 * np.einsum("...i,ij,...j->...", x, A, x)  # noqa: E731
    st = chain_stats(loss(mid).mean(axis=0) / loss(W).mean(axis=0))
    common = {"lr": lr, "param_name": "gap", "param": gap}
    return [
        frame(
            NAME,
            **common,
            statistic="midpoint_loss_ratio",
            source=TH,
            value=np.trace(A @ C_mid) / np.trace(A @ C),
        ),
        frame(NAME, **common, statistic="midpoint_loss_ratio", source=MC, value=st["mean"]),
        frame(NAME, **common, statistic="midpoint_loss_ratio_sem", source=MC, value=st["sem"]),
    ]


def config_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Stability, and a midpoint gap that fits in the recorded window."""
    out = []
    if max(cfg["eigenvalues"]) * cfg["lr"] >= 2:
        out.append("quadratic.geometry.lr: lr * max(eigenvalues) must be < 2 (stability)")
    if cfg["gap"] >= cfg["steps"]:
        out.append(f"quadratic.geometry.gap: {cfg['gap']} must be < steps={cfg['steps']}")
    return out
