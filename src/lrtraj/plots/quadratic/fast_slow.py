"""fig9 (loss along the trajectory) and fig11 (the loss split by direction) of the fast/slow
quadratic model: Monte Carlo mean with a 10-90 % band over chains next to the exact theory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from lrtraj.plots.quadratic.common import MC, TH, THEORY_STYLE, fmt_step, read_table, scalar
from lrtraj.plots.style import FAMILY_COLORS, PALETTE, apply_style, save_figure


def _series(df: pd.DataFrame, lr: float, method: str, direction: str) -> pd.DataFrame:
    """Per-step loss of one run and method in one direction group: (source, statistic) columns."""
    rows = df[
        (df["lr"] == lr)
        & (df["method"] == method)
        & (df["direction"] == direction)
        & (df["step"] >= 0)
    ]
    out = rows.pivot_table(index="step", columns=["source", "statistic"], values="value")
    return out.sort_index()


def _curve_label(lr: float, method: str, beta: float) -> str:
    return f"lr {lr:g}" + (f" + EMA (beta={beta:g})" if method == "ema" else "")


def _draw_loss(ax: plt.Axes, series: pd.DataFrame, color: str, label: str, ls: Any = "-") -> None:
    steps = series.index.to_numpy()
    ax.fill_between(
        steps, series[(MC, "q10")], series[(MC, "q90")], color=color, alpha=0.18, linewidth=0
    )
    ax.plot(steps, series[(MC, "mean")], color=color, linewidth=1.6, linestyle=ls, label=label)
    ax.plot(steps, series[(TH, "mean")], **THEORY_STYLE)


def _meta(df: pd.DataFrame) -> tuple[list[float], float, int, float, int]:
    """lrs (largest first), EMA beta, last step T, loss threshold, number of chains."""
    lrs = sorted(df.loc[df["lr"].notna(), "lr"].unique(), reverse=True)
    beta = float(df.loc[df["method"] == "ema", "param"].iloc[0])
    T = int(df["step"].max())
    threshold = float(df.loc[df["statistic"] == "threshold", "value"].iloc[0])
    chains = int(scalar(df, statistic="chains"))
    return lrs, beta, T, threshold, chains


def plot_fig9(
    data: str | Path | pd.DataFrame,
    pdf_path: str | Path,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """Loss vs step for the large lr, the large lr + EMA and the small lr (log y):
    Monte Carlo mean, 10-90 % band over chains, exact theory (dashed)."""
    apply_style()
    df = read_table(data)
    lrs, beta, T, threshold, chains = _meta(df)
    big, small = lrs[0], lrs[-1]
    curves = [
        (big, "sgd", PALETTE[1]),
        (big, "ema", FAMILY_COLORS["ema"]),
        (small, "sgd", PALETTE[2]),
    ]
    fig, ax = plt.subplots(figsize=(7.5, 4.6), layout="constrained")
    parts = [
        _fig9_curve(ax, df, lr, method, color, beta, T, threshold) for lr, method, color in curves
    ]
    ax.axhline(threshold, color="0.4", linewidth=0.8, linestyle="-.")
    ax.set_yscale("log")
    ax.set_xlim(0, T)
    ax.set_xlabel("SGD step")
    ax.set_ylabel(r"excess loss $L(w_t) - L^*$ (loss units)")
    handles, _ = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], **THEORY_STYLE, label="exact theory"),
        Line2D([], [], color="0.4", linestyle="-.", label=f"threshold {threshold:g}"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set_title("Fast and slow directions: loss along the trajectory")
    caption = (
        f"Quadratic model with fast and slow directions, T = {T} steps, {chains} chains "
        f"(lines: Monte Carlo mean; bands: 10-90 % of chains; dashed: exact moment recursion). "
        + "; ".join(parts)
        + "."
    )
    save_figure(fig, pdf_path, caption, provenance)
    return caption


def _fig9_curve(
    ax: plt.Axes,
    df: pd.DataFrame,
    lr: float,
    method: str,
    color: str,
    beta: float,
    T: int,
    threshold: float,
) -> str:
    """One run's total loss with its threshold crossing; returns its part of the caption."""
    series = _series(df, lr, method, "total")
    _draw_loss(ax, series, color, _curve_label(lr, method, beta))
    sel = df[(df["lr"] == lr) & (df["method"] == method) & (df["direction"] == "total")]
    cross_th = scalar(sel, statistic="first_step_below", source=TH)
    cross_mc = scalar(sel, statistic="first_step_below", source=MC)
    if np.isfinite(cross_th):
        ax.axvline(cross_th, color=color, linewidth=0.8, linestyle=":")
    final = series.loc[T]
    return (
        f"{_curve_label(lr, method, beta)}: L(T) = {final[(MC, 'mean')]:.3g} +- "
        f"{final[(MC, 'sem')]:.2g} (theory {final[(TH, 'mean')]:.3g}); first below "
        f"{threshold:g} at step {fmt_step(cross_mc)} (theory {fmt_step(cross_th)})"
    )


def plot_fig11(
    data: str | Path | pd.DataFrame,
    pdf_path: str | Path,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """The same runs split into the fast- and the slow-direction loss, with and without EMA."""
    apply_style()
    df = read_table(data)
    lrs, beta, T, _, chains = _meta(df)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True, layout="constrained")
    colors = {
        (lrs[0], "sgd"): PALETTE[1],
        (lrs[0], "ema"): FAMILY_COLORS["ema"],
        (lrs[-1], "sgd"): PALETTE[2],
        (lrs[-1], "ema"): PALETTE[3],
    }
    parts = []
    for ax, direction in zip(axes, ("fast", "slow"), strict=True):
        parts += _fig11_panel(ax, df, direction, lrs, colors, beta, T)
    axes[0].set_ylabel(r"excess loss in these directions (loss units)")
    handles, _ = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], **THEORY_STYLE, label="exact theory"))
    axes[1].legend(handles=handles, loc="lower left", fontsize=8)
    caption = _fig11_caption(df, lrs, T, chains, parts)
    save_figure(fig, pdf_path, caption, provenance)
    return caption


def _fig11_panel(
    ax: plt.Axes,
    df: pd.DataFrame,
    direction: str,
    lrs: list[float],
    colors: Mapping[tuple[float, str], str],
    beta: float,
    T: int,
) -> list[str]:
    """Every run's loss in one direction group (log-log); returns the values at T as caption
    parts."""
    a_dir = float(df.loc[df["direction"] == direction, "curvature"].dropna().iloc[0])
    parts = []
    for lr in lrs:
        for method in ("sgd", "ema"):
            series = _series(df, lr, method, direction)
            color = colors.get((lr, method), PALETTE[4])
            ls = "-" if method == "sgd" else (0, (5, 1.5))
            _draw_loss(ax, series, color, _curve_label(lr, method, beta), ls)
            final = series.loc[T]
            parts.append(
                f"{direction}, {_curve_label(lr, method, beta)}: "
                f"{final[(MC, 'mean')]:.3g} (theory {final[(TH, 'mean')]:.3g})"
            )
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlim(1, T)
    ax.set_xlabel("SGD step (log scale)")
    ax.set_title(f"{direction} directions (a = {a_dir:g})")
    return parts


def _fig11_caption(
    df: pd.DataFrame, lrs: list[float], T: int, chains: int, parts: list[str]
) -> str:
    """EMA gain in the fast directions and its (small) cost in the slow ones, MC vs theory."""

    def at_t(lr: float, method: str, direction: str, source: str) -> float:
        return float(_series(df, lr, method, direction).loc[T, (source, "mean")])

    big = lrs[0]
    fast_gain = {
        src: at_t(big, "sgd", "fast", src) / at_t(big, "ema", "fast", src) for src in (MC, TH)
    }
    slow_change = {
        src: 100 * (at_t(lrs[-1], "ema", "slow", src) / at_t(lrs[-1], "sgd", "slow", src) - 1)
        for src in (MC, TH)
    }
    return (
        f"Loss split by direction: Monte Carlo mean over {chains} chains (bands 10-90 % of "
        f"chains), dashed exact theory. At lr {big:g} the EMA lowers the fast-direction loss "
        f"at T = {T} by a factor "
        f"{fast_gain[MC]:.1f} (theory {fast_gain[TH]:.1f}); in the slow directions it only lags "
        f"(lr {lrs[-1]:g}: {slow_change[MC]:+.2f} %, theory {slow_change[TH]:+.2f} %). "
        f"Values at T: " + "; ".join(parts) + "."
    )
