"""fig3: fixed-batch GD side-trips from several checkpoints and the linear interpolations between
their ends and back to their branch points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from lrtraj.analysis.probes import barriers
from lrtraj.metrics import read_parquet
from lrtraj.plots.probes.common import BATCH_SHORT
from lrtraj.plots.style import PALETTE, apply_style, save_figure

PATH_TITLES = {
    "endpoints": "between side-trip ends",
    "to_branch": "side-trip end to its branch point",
}


def fig3(
    trajectories_path: str | Path,
    interpolation_path: str | Path,
    out_pdf: str | Path,
    *,
    provenance: Mapping[str, Any],
) -> tuple[str, pd.DataFrame]:
    """GD side-trips on one batch from several checkpoints (top row), and the interpolations
    between their ends and back to their branch points on both batches (middle, bottom)."""
    apply_style()
    traj = read_parquet(trajectories_path)
    interp = read_parquet(interpolation_path)
    fig, axes = plt.subplots(3, 2, figsize=(10, 10.5), constrained_layout=True)
    _draw_sidetrips(axes[0], traj[traj["metric"] == "loss"])
    bar = barriers(interp)
    il = interp[interp["metric"] == "loss"]
    path_colors = dict(zip(il["path"].unique(), PALETTE, strict=False))
    for row, batch in ((1, "fixed"), (2, "heldout")):
        for ax, kind in zip(axes[row], ("endpoints", "to_branch"), strict=True):
            _draw_interpolation(ax, il, bar, kind, batch, path_colors)
    caption = _caption(traj, interp, bar)
    save_figure(fig, out_pdf, caption, provenance)
    return caption, bar


def _draw_sidetrips(axes: Sequence[plt.Axes], traj_loss: pd.DataFrame) -> None:
    """Loss along each GD side-trip, on the training batch (left, log) and held-out (right)."""
    branches = sorted(traj_loss["branch_step"].unique())
    colors = dict(zip(branches, PALETTE, strict=False))
    for ax, batch in zip(axes, ("fixed", "heldout"), strict=True):
        for b in branches:
            c = traj_loss[(traj_loss["branch_step"] == b) & (traj_loss["batch"] == batch)]
            ax.plot(c["step"], c["value"], color=colors[b], label=f"from step {b}")
        ax.set_yscale("log" if batch == "fixed" else "linear")
        ax.set_xlabel("GD steps on the training batch")
        ax.set_ylabel(f"loss on the {BATCH_SHORT[batch]}")
        ax.set_title(f"GD side-trips: {BATCH_SHORT[batch]}")
    axes[0].legend(fontsize="small")


def _draw_interpolation(
    ax: plt.Axes,
    il: pd.DataFrame,
    bar_all: pd.DataFrame,
    kind: str,
    batch: str,
    path_colors: Mapping[str, Any],
) -> None:
    """Loss along every interpolation path of one ``kind`` on one batch; the title names the
    largest barrier."""
    sub = il[(il["kind"] == kind) & (il["batch"] == batch)]
    for path, grp in sub.groupby("path", sort=False):
        c = grp.sort_values("alpha")
        label = path.replace("--", " → ")
        ax.plot(c["alpha"], c["value"], marker=".", color=path_colors[path], label=label)
    if batch == "fixed":
        ax.set_yscale("log")
    bar = bar_all[(bar_all["kind"] == kind) & (bar_all["batch"] == batch)]
    ax.set_xlabel("α: weights (1 − α)·start + α·end")
    ax.set_ylabel(f"loss on the {BATCH_SHORT[batch]}")
    ax.set_title(
        f"Interpolation {PATH_TITLES[kind]}\nlargest barrier {bar['barrier'].max():.2g} "
        f"({100 * bar['relative_barrier'].max():.2g}% of the loss scale)",
        fontsize="medium",
    )
    ax.legend(fontsize="x-small")


def _caption(traj: pd.DataFrame, interp: pd.DataFrame, bar: pd.DataFrame) -> str:
    traj_loss = traj[traj["metric"] == "loss"]
    branches = sorted(traj_loss["branch_step"].unique())
    gd_lr = float(traj["gd_lr"].iloc[0])
    steps = int(traj["step"].max())
    size = int(traj["batch_size"].iloc[0])

    def per_branch(step: int, batch: str, fmt: str) -> str:
        c = traj_loss[(traj_loss["step"] == step) & (traj_loss["batch"] == batch)]
        return ", ".join(format(v, fmt) for v in c.sort_values("branch_step")["value"])

    def worst(kind: str, batch: str) -> str:
        s = bar[(bar["kind"] == kind) & (bar["batch"] == batch)]
        return f"{s['barrier'].max():.2g} ({100 * s['relative_barrier'].max():.2g}%)"

    return (
        f"Plain gradient descent (lr {gd_lr:g}, no momentum, {steps} steps) on one fixed "
        f"training batch of {size}, branched from steps {', '.join(map(str, branches))} of the "
        f"main trajectory (top row). Training-batch loss at the branch points "
        f"{per_branch(0, 'fixed', '.3f')} -> after GD {per_branch(steps, 'fixed', '.2g')}; "
        f"held-out batch {per_branch(0, 'heldout', '.3f')} -> "
        f"{per_branch(steps, 'heldout', '.3f')}. Middle (training batch, log scale) and bottom "
        f"(held-out batch): linear interpolation ({interp['alpha'].nunique()} points) between the "
        f"side-trips' ends and from each end back to its branch point, on both batches. Losses use "
        f"BatchNorm batch statistics, recomputed at every interpolated point from the batch "
        f"itself: that is the function GD on the batch minimises, and no running statistics that "
        f"belong to neither end enter. Barrier = max along the path − max of its two ends (in "
        f"brackets: relative to the largest loss at any path end on that batch). Largest barrier "
        f"between ends: training batch {worst('endpoints', 'fixed')}, held-out "
        f"{worst('endpoints', 'heldout')}; end to branch point: training batch "
        f"{worst('to_branch', 'fixed')}, held-out {worst('to_branch', 'heldout')}."
    )
