"""Appendix A: closed-form vs simulated variance of two-point, n-point and EMA averages at
stationarity, and the effective learning rate they amount to."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrtraj.plots.quadratic.common import MC, TH, read_table, scalar
from lrtraj.plots.style import FAMILY_COLORS, PALETTE, apply_style, save_figure


def plot_appendix_a(
    data: str | Path | pd.DataFrame,
    pdf_path: str | Path,
    provenance: Mapping[str, Any] | None = None,
) -> str:
    """Closed-form vs simulated variance of two-point, n-point and EMA averages; effective lr."""
    apply_style()
    df = read_table(data)
    lr = float(df["lr"].dropna().iloc[0])
    dirs = df[df["direction"].str.startswith("a=")]
    spacing = int(scalar(df, statistic="n_point_spacing"))
    chains = int(scalar(df, statistic="chains"))

    fig, axes = plt.subplots(2, 2, figsize=(11, 8.2), layout="constrained")
    panels = [
        ("two_point", axes[0, 0], "gap $k$ (steps)", "(a) two-point $(w_{T-k}+w_T)/2$"),
        ("n_point", axes[0, 1], "number of points $n$", f"(b) $n$ points {spacing} steps apart"),
        ("ema", axes[1, 0], r"$1-\beta$", r"(c) EMA with decay $\beta$"),
    ]
    zs, devs = [], []
    for method, ax, xlabel, title in panels:
        z, dev = _panel_variance(ax, dirs, method, lr, xlabel, title)
        zs += z
        devs += dev
    axes[0, 0].legend(fontsize=8, loc="lower left")
    grid = df[df["direction"] == "grid"]
    _panel_effective_lr(axes[1, 1], grid, dirs, lr)

    two = grid[grid["method"] == "two_point"].sort_values("curvature")
    at_one = float(np.interp(1.0, lr * two["curvature"], two["value"])) if len(two) else np.nan
    z_all, dev_all = np.concatenate(zs), np.concatenate(devs)
    caption = (
        f"Appendix A at lr {lr:g}, {chains} chains started from the stationary law. Monte Carlo "
        f"variance ratios (dots, +-2 s.e.) agree with the exact kernel theory C sum k_j k_l "
        f"rho^|j-l|: largest |deviation|/s.e. {z_all.max():.2f} over {z_all.size} points, "
        f"largest relative deviation {100 * dev_all.max():.1f} %; lines are the closed forms "
        f"(two-point (1+rho^k)/2, n-point, infinite EMA). The effective lr approaches lr/2 and "
        f"lr/n only when k lr a >> 1 and lr a << 1; at lr a = 1 the exact two-point ratio "
        f"(largest k) is {at_one:.3f}, not 0.5."
    )
    save_figure(fig, pdf_path, caption, provenance)
    return caption


def _panel_variance(
    ax: plt.Axes, dirs: pd.DataFrame, method: str, lr: float, xlabel: str, title: str
) -> tuple[list[np.ndarray], list[pd.Series]]:
    """``Var v / C`` vs the method's parameter, one colour per direction: closed form (lines),
    Monte Carlo +- 2 s.e. (dots). Returns per direction |MC - exact kernel| / s.e. and the
    relative deviation from the exact kernel."""
    curv = sorted(dirs["curvature"].unique())
    colors = {a: PALETTE[i % len(PALETTE)] for i, a in enumerate(curv)}
    zs, devs = [], []
    for a in curv:
        rows = dirs[(dirs["method"] == method) & (dirs["curvature"] == a)]
        s = rows.pivot_table(
            index="param", columns=["statistic", "source"], values="value"
        ).sort_index()
        x = s.index.to_numpy()
        x = 1 - x if method == "ema" else x
        ax.plot(x, s[("variance_ratio", TH)], color=colors[a], linewidth=1.3)
        ax.errorbar(
            x,
            s[("variance_ratio", MC)],
            yerr=2 * s[("variance_ratio_sem", MC)],
            fmt="o",
            markersize=3.5,
            color=colors[a],
            capsize=1.5,
            label=rf"$\lambda a = {lr * a:g}$",
        )
        z = (s[("variance_ratio", MC)] - s[("variance_ratio_kernel", TH)]) / s[
            ("variance_ratio_sem", MC)
        ]
        zs.append(np.abs(z.to_numpy()))
        devs.append(np.abs(s[("variance_ratio", MC)] / s[("variance_ratio_kernel", TH)] - 1))
    if method == "n_point":
        n = s.index.to_numpy()
        (ref,) = ax.plot(n, 1 / n, color="0.3", linestyle=":", label="$1/n$ (large spacing)")
        ax.legend(handles=[ref], fontsize=8, loc="lower left")
    if method == "two_point":
        ax.axhline(0.5, color="0.3", linestyle=":", label="1/2")
    ax.set_xscale("log" if method != "n_point" else "linear")
    ax.set_yscale("log" if method != "two_point" else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"$\mathrm{Var}\,v\,/\,C$ (variance ratio)")
    ax.set_title(title)
    return zs, devs


def _panel_effective_lr(ax: plt.Axes, grid: pd.DataFrame, dirs: pd.DataFrame, lr: float) -> None:
    """(d) Exact effective lr ratio vs ``lr * a`` for the largest k, n and beta (lines), Monte
    Carlo per direction (dots), small-lr approximations (dotted)."""
    line_colors = {"two_point": PALETTE[1], "n_point": PALETTE[2], "ema": FAMILY_COLORS["ema"]}
    for method, g in grid.groupby("method"):
        g = g.sort_values("curvature")
        param = float(g["param"].iloc[0])
        name = {
            "two_point": f"two-point, k={param:g}",
            "n_point": f"n={param:g} points",
            "ema": f"EMA, beta={param:g}",
        }[method]
        ax.plot(lr * g["curvature"], g["value"], color=line_colors[method], label=name)
        same = dirs[(dirs["method"] == method) & (dirs["param"] == param)]
        pts = same[same["statistic"] == "effective_lr_ratio"]
        pts_mc = pts[pts["source"] == MC].sort_values("curvature")
        ax.plot(
            lr * pts_mc["curvature"], pts_mc["value"], "o", color=line_colors[method], markersize=4
        )
        approx = same[same["statistic"] == "effective_lr_ratio_small_lr"]
        if len(approx):
            ax.axhline(
                float(approx["value"].iloc[0]),
                color=line_colors[method],
                linestyle=":",
                linewidth=1.0,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"$\lambda a$ (lr times curvature of the direction)")
    ax.set_ylabel(r"effective lr ratio $\lambda'/\lambda$ (dotted: $1/2$, $1/n$)")
    ax.set_title(r"(d) effective lr: exact (lines), Monte Carlo (dots)")
    ax.legend(fontsize=8, loc="lower left")
