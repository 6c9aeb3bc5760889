"""fig7: alignment of a fixed batch's gradient along two side-trips (cosines, norm ratio)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from lrtraj.metrics import read_parquet
from lrtraj.plots.style import PALETTE, apply_style, save_figure


def fig7(path: str | Path, out_pdf: str | Path, *, provenance: Mapping[str, Any]) -> str:
    """Cosines (left) and norm ratio (right) of a fixed batch's gradient along two side-trips."""
    apply_style()
    df = read_parquet(path)
    df = df.assign(t=df["step"] - int(df["branch_step"].iloc[0]))
    seeds = sorted(df["data_seed"].unique())
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(10.5, 4.0))
    _draw(ax, ax_n, df, seeds)
    caption = _caption(df, seeds)
    save_figure(fig, out_pdf, caption, provenance)
    return caption


def _draw(ax: plt.Axes, ax_n: plt.Axes, df: pd.DataFrame, seeds: Sequence[int]) -> None:
    seed_colors = dict(zip(seeds, (PALETTE[0], PALETTE[5]), strict=False))
    for seed in seeds:
        s = df[df["data_seed"] == seed]
        to_start = s[s["metric"] == "cos_to_start"]
        ax.plot(
            to_start["t"],
            to_start["value"],
            color=seed_colors[seed],
            label=f"fixed batch, step t vs start (seed {seed})",
        )
        ratio = s[s["metric"] == "norm_ratio"]
        ax_n.plot(ratio["t"], ratio["value"], color=seed_colors[seed], label=f"seed {seed}")
    par = df[df["metric"] == "cos_parallel"]
    ax.plot(
        par["t"],
        par["value"],
        color=PALETTE[2],
        linewidth=2,
        label="fixed batch, parallel points of the two trajectories",
    )
    ind = df[(df["metric"] == "cos_independent") & (df["data_seed"] == seeds[0])]
    ax.plot(ind["t"], ind["value"], color=PALETTE[4], marker=".", label="two independent batches")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylim(-0.3, 1.02)
    ax.set_xlabel("side-trip step t")
    ax.set_ylabel("cosine between gradients")
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2)
    ax_n.axhline(1, color="black", linewidth=0.8)
    ax_n.set_xlabel("side-trip step t")
    ax_n.set_ylabel("|g_t| / |g_0| of the fixed batch")
    ax_n.legend(fontsize="small")


def _caption(df: pd.DataFrame, seeds: Sequence[int]) -> str:
    branch = int(df["branch_step"].iloc[0])
    par = df[df["metric"] == "cos_parallel"]
    first = df[(df["data_seed"] == seeds[0]) & (df["metric"] == "cos_to_start")].set_index("t")
    ts = [t for t in (10, 100, 200, int(df["t"].max())) if t in first.index]
    along = ", ".join(f"{first.loc[t, 'value']:.2f} at t={t}" for t in ts)
    ratio = df[df["metric"] == "norm_ratio"]["value"]
    cos_all = df[df["metric"] == "cos_to_start"]["value"]
    ind_all = df[df["metric"] == "cos_independent"]["value"]
    last_par = par.loc[par["t"].idxmax()]
    return (
        f"Two side-trips from step {branch} (constant lr, momentum state of the branch point) on "
        f"batch streams {seeds[0]} and {seeds[1]}, measuring the gradient of one fixed training "
        f"batch (BatchNorm batch statistics). Cosine to its gradient at the start, seed "
        f"{seeds[0]}: {along}; lowest "
        f"over both trajectories {cos_all.min():.2f}. Parallel points of the two trajectories: "
        f"{last_par['value']:.2f} at t={int(last_par['t'])} "
        f"(min {par['value'].min():.2f}). Norm ratio |g_t|/|g_0| within "
        f"{ratio.min():.2f}-{ratio.max():.2f}. Two independent batches: mean cosine "
        f"{ind_all.mean():.3f} (range {ind_all.min():.2f} to {ind_all.max():.2f}), i.e. nearly "
        f"orthogonal."
    )
