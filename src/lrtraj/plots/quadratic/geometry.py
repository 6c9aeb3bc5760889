"""fig4: (a) one SGD step of the 2-D quadratic split into drag and drift; (b) the stationary
cloud, its theoretical ellipse, two far-apart points and their midpoint."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrtraj.plots.quadratic.common import MC, TH, read_table, scalar
from lrtraj.plots.style import PALETTE, apply_style, save_figure


def plot_fig4(
    data: str | Path | pd.DataFrame,
    pdf_path: str | Path,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """(a) one SGD step split into drag (toward the minimum) and drift (orthogonal);
    (b) the stationary cloud, its theoretical ellipse, two far-apart points and their midpoint."""
    apply_style()
    df = read_table(data)
    stats = df[df["method"] != "trajectory"]
    cov = {src: _symmetric(stats, "cov", source=src) for src in (TH, MC)}
    A = _symmetric(stats, "hessian")
    lr = float(stats["lr"].dropna().iloc[0])
    traj = df[df["method"] == "trajectory"].pivot_table(
        index="step", columns="direction", values="value"
    )
    steps = traj.index.to_numpy()
    W = traj[["x0", "x1"]].to_numpy()
    r2 = np.einsum("ti,ij,tj->t", W, np.linalg.inv(cov[TH]), W)  # squared Mahalanobis radius
    gap = int(stats.loc[stats["statistic"] == "midpoint_loss_ratio", "param"].iloc[0])

    fig, (ax_a, ax_b) = plt.subplots(1, 2, figsize=(10.5, 4.8), layout="constrained")
    for ax in (ax_a, ax_b):
        _draw_contours(ax, cov[TH])
    _panel_step(ax_a, W, r2, steps, A, lr)
    _panel_cloud(ax_b, W, r2, steps, cov, gap)
    caption = _caption(stats, cov, A, lr, gap)
    save_figure(fig, pdf_path, caption, provenance)
    return caption


def _symmetric(stats: pd.DataFrame, prefix: str, **match: Any) -> np.ndarray:
    """The 2x2 symmetric matrix stored as ``<prefix>_00``, ``<prefix>_01``, ``<prefix>_11``."""
    return np.array(
        [
            [scalar(stats, statistic=f"{prefix}_{min(i, j)}{max(i, j)}", **match) for j in (0, 1)]
            for i in (0, 1)
        ]
    )


def _ellipse(cov: np.ndarray, radius: float, n: int = 200) -> np.ndarray:
    """Points ``x`` with ``x^T cov^-1 x = radius^2`` (a Mahalanobis contour)."""
    theta = np.linspace(0, 2 * np.pi, n)
    return radius * (np.linalg.cholesky(cov) @ np.vstack([np.cos(theta), np.sin(theta)])).T


def _draw_contours(ax: plt.Axes, cov: np.ndarray) -> None:
    """The stationary 1 sigma / 2 sigma contours, the minimum, equal weight axes."""
    for rad, ls in ((1.0, "-"), (2.0, "--")):
        e = _ellipse(cov, rad)
        ax.plot(e[:, 0], e[:, 1], color="0.35", linestyle=ls, linewidth=1.0)
    ax.plot(0, 0, marker="*", color="black", markersize=11, linestyle="none")
    ax.set_aspect("equal")
    ax.set_xlabel("$w_1$ (weight units)")
    ax.set_ylabel("$w_2$ (weight units)")


def _pick_step(W: np.ndarray, r2: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """A representative step: from near the typical radius (r^2 = 2 for a 2-D Gaussian), of
    typical length, moving inward, with both components visible. Returns the step index, the
    drag and the drift of that step."""
    dW = np.diff(W, axis=0)
    u = W[:-1] / np.linalg.norm(W[:-1], axis=1, keepdims=True)
    radial = np.einsum("ti,ti->t", dW, u)
    step_len = np.linalg.norm(dW, axis=1)
    rms = float(np.sqrt(np.mean(step_len**2)))
    frac_drift = np.sqrt(np.clip(1 - (radial / step_len) ** 2, 0, 1))
    score = np.abs(r2[:-1] - 2.0) + np.abs(step_len / rms - 1.0)
    ok = (radial < 0) & (frac_drift > 0.75) & (frac_drift < 0.95)
    t = int(np.argmin(np.where(ok, score, np.inf))) if ok.any() else int(np.argmin(score))
    drag = radial[t] * u[t]
    return t, drag, dW[t] - drag


def _panel_step(
    ax: plt.Axes, W: np.ndarray, r2: np.ndarray, steps: np.ndarray, A: np.ndarray, lr: float
) -> None:
    """(a) One step as arrows: the step, its drag and drift, and the mean step ``-lr A w``."""
    t, drag, drift = _pick_step(W, r2)
    w_t, step = W[t], W[t + 1] - W[t]
    lo, hi = max(0, t - 4), min(len(W), t + 6)
    ax.plot(W[lo:hi, 0], W[lo:hi, 1], color="0.7", linewidth=0.8, marker=".", markersize=3)

    def arrow(start: np.ndarray, delta: np.ndarray, color: str, **kw: Any) -> None:
        props = {
            "arrowstyle": "-|>",
            "color": color,
            "lw": 1.6,
            "shrinkA": 0,
            "shrinkB": 0,
            "mutation_scale": 12,
            **kw,
        }
        ax.annotate("", xy=tuple(start + delta), xytext=tuple(start), arrowprops=props)

    arrow(w_t, -lr * A @ w_t, PALETTE[2], lw=3.5, alpha=0.55, mutation_scale=9)
    arrow(w_t, step, "black")
    arrow(w_t, drag, PALETTE[0])
    arrow(w_t + drag, drift, PALETTE[1])
    ax.plot([0, w_t[0]], [0, w_t[1]], color="0.5", linewidth=0.7, linestyle=":")
    ax.plot(*w_t, "o", color="black", markersize=4)
    span = 5.0 * np.linalg.norm(step)
    center = w_t + step / 2
    ax.set_xlim(center[0] - span / 2, center[0] + span / 2)
    ax.set_ylim(center[1] - span / 2, center[1] + span / 2)
    ax.legend(
        handles=[
            Line2D([], [], color="black", label=r"SGD step $w_{t+1}-w_t$"),
            Line2D([], [], color=PALETTE[0], label="drag (along $w_t$)"),
            Line2D([], [], color=PALETTE[1], label="drift (orthogonal)"),
            Line2D(
                [],
                [],
                color=PALETTE[2],
                alpha=0.45,
                linewidth=5,
                label=r"$-\lambda A w_t$ (mean step)",
            ),
            Line2D([], [], color="0.35", label=r"stationary $1\sigma$ / $2\sigma$ contour"),
        ],
        loc="best",
        fontsize=8,
        framealpha=0.9,
    )
    ax.set_title(f"(a) one step (step {int(steps[t])}, chain 0)")


def _panel_cloud(
    ax: plt.Axes,
    W: np.ndarray,
    r2: np.ndarray,
    steps: np.ndarray,
    cov: Mapping[str, np.ndarray],
    gap: int,
) -> None:
    """(b) The stationary cloud of chain 0, the Monte Carlo 2 sigma contour, and the farthest
    pair of points ``gap`` steps apart inside the 2 sigma contour with their midpoint."""
    first, second = W[:-gap], W[gap:]
    inside = (r2[:-gap] <= 4.0) & (r2[gap:] <= 4.0)
    dist = np.where(inside, np.linalg.norm(second - first, axis=1), -np.inf)
    p = int(np.argmax(dist))
    p1, p2 = first[p], second[p]
    mid = (p1 + p2) / 2
    ax.scatter(
        W[:, 0],
        W[:, 1],
        s=3,
        color=PALETTE[5],
        alpha=0.35,
        linewidths=0,
        label=f"chain 0, steps {int(steps[0])}..{int(steps[-1])}",
    )
    e_mc = _ellipse(cov[MC], 2.0)
    ax.plot(
        e_mc[:, 0],
        e_mc[:, 1],
        color=PALETTE[4],
        linestyle=":",
        linewidth=1.6,
        label=r"Monte Carlo $2\sigma$ contour",
    )
    ax.plot([p1[0], p2[0]], [p1[1], p2[1]], color="black", linewidth=1.0)
    ax.plot(*np.c_[p1, p2], "o", color=PALETTE[1], markersize=6, label=f"$w_t$, $w_{{t+{gap}}}$")
    ax.plot(*mid, "D", color=PALETTE[0], markersize=6, label="their midpoint")
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="0.35", label=r"Lyapunov $1\sigma$ / $2\sigma$ contour"))
    ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.9)
    ax.set_title("(b) stationary cloud and a midpoint")
    lim = 1.15 * np.abs(np.r_[W.ravel(), _ellipse(cov[TH], 2.0).ravel()]).max()
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)


def _caption(
    stats: pd.DataFrame, cov: Mapping[str, np.ndarray], A: np.ndarray, lr: float, gap: int
) -> str:
    """Measured step balance, drag/drift sizes, covariance error and midpoint loss vs theory."""

    def mc_th(stat: str) -> tuple[float, float, float]:
        return (
            scalar(stats, statistic=stat, source=MC),
            scalar(stats, statistic=f"{stat}_sem", source=MC),
            scalar(stats, statistic=stat, source=TH),
        )

    wd, wd_se, wd_th = mc_th("mean_w_dot_step")
    sq, sq_se, sq_th = mc_th("mean_sq_step")
    ratio, ratio_se, ratio_th = mc_th("midpoint_loss_ratio")
    drag_mean = scalar(stats, statistic="mean_drag", source=MC)
    rms_drag = np.sqrt(scalar(stats, statistic="mean_sq_drag", source=MC))
    rms_drift = np.sqrt(scalar(stats, statistic="mean_sq_drift", source=MC))
    cov_err = np.abs(cov[MC] - cov[TH]).max() / np.abs(cov[TH]).max()
    return (
        f"Quadratic model in 2-D (A eigenvalues {np.round(np.linalg.eigvalsh(A), 3).tolist()}, "
        f"lr {lr:g}, isotropic gradient noise; Monte Carlo over "
        f"{int(scalar(stats, statistic='chains'))} chains vs exact theory). "
        f"(a) A step splits into a drag toward the minimum "
        f"(mean {drag_mean:.3g} per step, RMS {rms_drag:.3g}) and an orthogonal drift "
        f"(RMS {rms_drift:.3g}); the mean step -lr A w is much shorter than the step "
        f"(RMS {np.sqrt(sq):.3g}). The drag's linear and the steps' quadratic contributions to "
        f"|w|^2 balance: 2E[w.dw] = {2 * wd:.4g} +- {2 * wd_se:.2g} vs "
        f"-E|dw|^2 = {-sq:.4g} +- {sq_se:.2g} (theory {2 * wd_th:.4g} vs {-sq_th:.4g}). "
        f"(b) The stationary cloud fills the Lyapunov ellipse (largest relative covariance "
        f"error {100 * cov_err:.1f} %); the midpoint of two points {gap} steps apart has "
        f"{ratio:.3f} +- {ratio_se:.3f} times the loss of a single point "
        f"(theory {ratio_th:.3f}; paper: about 1/2)."
    )
