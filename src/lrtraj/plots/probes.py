"""Probe figures: one-step sweeps (fig2, fig12, fig13), fixed-batch GD side-trips with
interpolation (fig3), gradient alignment along side-trips (fig7). Every number in a caption is
computed here from the probe Parquet (``lrtraj.probes`` documents the schemas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrtraj.analysis.probes import (
    barriers,
    final_train_loss,
    load_sweeps,
    sweep_summary,
    train_loss_at,
)
from lrtraj.metrics import read_parquet
from lrtraj.plots.style import PALETTE, apply_style, save_figure

BATCH_STYLE = {
    "fixed": {"color": PALETTE[0], "marker": "o", "label": "training batch (the step's own)"},
    "heldout": {"color": PALETTE[1], "marker": "s", "label": "held-out batch"},
}
BATCH_SHORT = {"fixed": "training batch", "heldout": "held-out batch"}
OFFSCALE_FACTOR = 4.0  # y-axis top: this many times the largest loss before the step
BN_TEXT = {
    "train": "BatchNorm batch statistics",
    "eval": "BatchNorm running statistics (eval mode)",
}


def _value_at(curve: pd.DataFrame, lr: float) -> tuple[float, float]:
    """The grid point nearest ``lr`` (log scale): ``(its lr, its loss)``."""
    pos = curve[curve["lr"] > 0]
    i = (np.log(pos["lr"]) - np.log(lr)).abs().idxmin()
    return float(pos.loc[i, "lr"]), float(pos.loc[i, "value"])


def _draw_sweep(ax: plt.Axes, curve: pd.DataFrame, top: float, *, legend: bool) -> None:
    """Loss after one step vs lr for both batches; points above ``top`` or non-finite are drawn
    as triangles on the top edge (off scale), never dropped."""
    for batch, style in BATCH_STYLE.items():
        c = curve[(curve["batch"] == batch) & (curve["lr"] > 0)].sort_values("lr")
        lr, v = c["lr"].to_numpy(), c["value"].to_numpy()
        ok = np.isfinite(v) & (v <= top)
        ax.plot(
            lr,
            np.where(ok, v, np.nan),
            color=style["color"],
            marker=style["marker"],
            markersize=3,
            linewidth=1.5,
            label=style["label"] if legend else None,
        )
        if (~ok).any():
            edge = top if batch == "fixed" else 0.95 * top  # both rows of triangles visible
            ax.plot(
                lr[~ok],
                np.full((~ok).sum(), edge),
                linestyle="none",
                marker="^",
                color=style["color"],
                markersize=5,
                clip_on=False,
                label=f"{BATCH_SHORT[batch]}: off scale / diverged" if legend else None,
            )
        before = float(curve.loc[(curve["batch"] == batch) & (curve["lr"] == 0), "value"].iloc[0])
        ax.axhline(
            before,
            color=style["color"],
            linestyle=":",
            linewidth=1.1,
            label=f"{BATCH_SHORT[batch]} before the step" if legend else None,
        )
        if np.isfinite(v).any():
            i = int(np.nanargmin(np.where(np.isfinite(v), v, np.nan)))
            ax.plot(lr[i], v[i], marker="*", markersize=11, color=style["color"], zorder=5)
    ax.set_xscale("log")
    ax.set_ylim(0, top)


def _sweep_top(loss: pd.DataFrame) -> float:
    return OFFSCALE_FACTOR * float(loss.loc[loss["lr"] == 0, "value"].max())


# ------------------------------------------------------------------------------------ fig2
def fig2(
    sweep_path: str | Path,
    burn_in_path: str | Path,
    out_pdf: str | Path,
    *,
    checkpoint: int,
    batch_size: int,
    provenance: Mapping[str, Any],
) -> str:
    """One sweep: loss after one step on the training batch and on a held-out batch vs lr."""
    apply_style()
    sweeps = read_parquet(sweep_path)
    burn_in = read_parquet(burn_in_path)
    loss = sweeps[
        (sweeps["metric"] == "loss")
        & (sweeps["checkpoint"] == checkpoint)
        & (sweeps["batch_size"] == batch_size)
    ]
    if loss.empty:
        raise ValueError(f"{sweep_path} has no sweep at step {checkpoint}, batch {batch_size}")
    final_step, final_loss = final_train_loss(burn_in)
    fig, ax = plt.subplots(figsize=(6.4, 4.3))
    top = max(_sweep_top(loss), 1.2 * final_loss)
    _draw_sweep(ax, loss, top, legend=True)
    ax.axhline(
        final_loss,
        color="black",
        linestyle="--",
        linewidth=1.2,
        label=f"mean train loss of the trained model (step {final_step})",
    )
    ax.set_xlabel("learning rate of the single step")
    ax.set_ylabel("cross-entropy loss after one step")
    ax.set_title(f"One gradient step from step {checkpoint}, batch {batch_size}")
    ax.legend(fontsize="x-small", loc="upper left")
    summary = sweep_summary(loss).set_index("batch")
    fx, ho = summary.loc["fixed"], summary.loc["heldout"]
    lr10, ho10 = _value_at(loss[loss["batch"] == "heldout"], 10.0)
    bn = loss["batchnorm"].iloc[0]
    caption = (
        f"Loss after one plain gradient step (no momentum) computed on a fixed training batch of "
        f"{batch_size} at step {checkpoint} of the constant-lr trajectory, vs the step's "
        f"learning rate ({loss['lr'].gt(0).sum() // 2} log-spaced values), measured on that batch "
        f"(blue) and on a held-out training batch (vermillion); {BN_TEXT[bn]}. Dotted: each "
        f"batch's loss before the step; dashed: mean training-set loss of the trained model "
        f"({final_loss:.3f}, step {final_step}, running statistics recomputed). Stars: minima. "
        f"Training batch {fx['before']:.3f} -> minimum {fx['best']:.3f} at lr "
        f"{fx['best_lr']:.3g} ({fx['best'] / final_loss:.2f}x the trained model's mean loss); "
        f"held-out batch {ho['before']:.3f} -> best {ho['best']:.3f} at lr {ho['best_lr']:.3g} "
        f"({100 * (ho['best'] - ho['before']) / ho['before']:+.1f}%; the argmin-lr ratio "
        f"training/held-out is {fx['best_lr'] / ho['best_lr']:.3g}), {ho10:.3g} at lr {lr10:.3g}. "
        f"Points above {top:.2f} or not finite "
        f"({int(fx['nonfinite'] + ho['nonfinite'])} non-finite) are drawn as triangles on the "
        f"top edge."
    )
    save_figure(fig, out_pdf, caption, provenance)
    return caption


# ----------------------------------------------------------------------------------- fig12
def fig12(
    sweep_paths: Sequence[str | Path], out_pdf: str | Path, *, provenance: Mapping[str, Any]
) -> str:
    """fig2's curves at every checkpoint (columns) and batch size (rows)."""
    apply_style()
    sweeps = load_sweeps(sweep_paths)
    loss = sweeps[sweeps["metric"] == "loss"]
    ckpts, sizes = sorted(loss["checkpoint"].unique()), sorted(loss["batch_size"].unique())
    fig, axes = plt.subplots(
        len(sizes),
        len(ckpts),
        figsize=(2.9 * len(ckpts), 2.3 * len(sizes) + 0.6),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    top = _sweep_top(loss)
    for r, size in enumerate(sizes):
        for c, ckpt in enumerate(ckpts):
            ax = axes[r][c]
            curve = loss[(loss["checkpoint"] == ckpt) & (loss["batch_size"] == size)]
            _draw_sweep(ax, curve, top, legend=(r, c) == (0, 0))
            if r == 0:
                ax.set_title(f"step {ckpt}")
            if c == 0:
                ax.set_ylabel(f"batch {size}\nloss after one step")
            if r == len(sizes) - 1:
                ax.set_xlabel("learning rate")
    fig.legend(loc="lower center", ncol=3, fontsize="small", bbox_to_anchor=(0.5, -0.06))
    summary = sweep_summary(loss)
    fx, ho = summary[summary["batch"] == "fixed"], summary[summary["batch"] == "heldout"]
    caption = (
        f"One-step sweeps as in fig2 at steps {', '.join(map(str, ckpts))} (columns) and batch "
        f"sizes {', '.join(map(str, sizes))} (rows); {BN_TEXT[loss['batchnorm'].iloc[0]]}. "
        f"On the training batch the best single step lowers the loss by a factor "
        f"{(fx['before'] / fx['best']).min():.2f}-{(fx['before'] / fx['best']).max():.2f} "
        f"(argmin lr {fx['best_lr'].min():.3g}-{fx['best_lr'].max():.3g}); on the held-out batch "
        f"by at most {100 * (1 - ho['best'] / ho['before']).max():.1f}% "
        f"(argmin lr {ho['best_lr'].min():.3g}-{ho['best_lr'].max():.3g}). Triangles on the top "
        f"edge: losses above {top:.2f} or not finite ({int(summary['nonfinite'].sum())} "
        f"non-finite)."
    )
    save_figure(fig, out_pdf, caption, provenance)
    return caption


# ----------------------------------------------------------------------------------- fig13
def fig13(
    sweep_paths: Sequence[str | Path],
    burn_in_path: str | Path,
    out_pdf: str | Path,
    *,
    provenance: Mapping[str, Any],
) -> str:
    """The best single step (min over lr of each fig12 curve) vs checkpoint, per batch size."""
    apply_style()
    summary = sweep_summary(load_sweeps(sweep_paths))
    burn_in = read_parquet(burn_in_path)
    ckpts, sizes = sorted(summary["checkpoint"].unique()), sorted(summary["batch_size"].unique())
    fig, (ax, ax_lr) = plt.subplots(1, 2, figsize=(10, 4.0))
    colors = dict(zip(sizes, PALETTE[2:] + PALETTE[:2], strict=False))
    for size in sizes:
        for batch, dash, marker in (("fixed", "-", "o"), ("heldout", "--", "s")):
            s = summary[(summary["batch_size"] == size) & (summary["batch"] == batch)]
            s = s.sort_values("checkpoint")
            label = f"batch {size}, {BATCH_SHORT[batch]}"
            ax.plot(
                s["checkpoint"], s["best"], dash, marker=marker, color=colors[size], label=label
            )
            ax_lr.plot(s["checkpoint"], s["best_lr"], dash, marker=marker, color=colors[size])
    mean_loss = train_loss_at(burn_in, ckpts)
    ax.plot(
        ckpts,
        mean_loss.to_numpy(),
        ":",
        marker="D",
        color="black",
        label="mean train loss at the checkpoint",
    )
    final_step, final_loss = final_train_loss(burn_in)
    ax.axhline(final_loss, color="grey", linewidth=1, label=f"trained model (step {final_step})")
    ax.set_xlabel("main-trajectory step")
    ax.set_ylabel("best loss after one step (min over lr)")
    ax.set_ylim(bottom=0)
    fig.legend(loc="lower center", ncol=3, fontsize="small", bbox_to_anchor=(0.5, -0.16))
    ax_lr.set_yscale("log")
    ax_lr.set_xlabel("main-trajectory step")
    ax_lr.set_ylabel("argmin learning rate")
    fx, ho = summary[summary["batch"] == "fixed"], summary[summary["batch"] == "heldout"]
    per_size = "; ".join(
        f"batch {size}: "
        + ", ".join(
            f"{v:.3f}" for v in fx[fx["batch_size"] == size].sort_values("checkpoint")["best"]
        )
        for size in sizes
    )
    below = int((fx["best"] < final_loss).sum())
    order = (
        "at every step the minimum rises with the batch size"
        if _smaller_is_lower(fx)
        else "the ordering by batch size is not the same at every step"
    )
    caption = (
        f"Minimum over the lr grid of each fig12 curve (the best single gradient step) vs the "
        f"main-trajectory step it starts from, per batch size; solid: on the training batch the "
        f"step was computed on, dashed: on the held-out batch. Right: the lr achieving it. Best "
        f"training-batch loss at steps {', '.join(map(str, ckpts))}: {per_size} ({order}); mean "
        f"training-set loss at those steps "
        f"{', '.join(f'{v:.3f}' for v in mean_loss.to_numpy())}. {below} of {len(fx)} "
        f"training-batch minima lie below the trained model's mean loss ({final_loss:.3f}). Best "
        f"held-out loss {ho['best'].min():.3f}-{ho['best'].max():.3f} (before the step "
        f"{ho['before'].min():.3f}-{ho['before'].max():.3f}); where no step improves the "
        f"held-out batch ({int((ho['best'] >= ho['before']).sum())} of {len(ho)} curves) its "
        f"argmin is the grid's smallest lr."
    )
    save_figure(fig, out_pdf, caption, provenance)
    return caption


def _smaller_is_lower(fx: pd.DataFrame) -> bool:
    """Whether, at every checkpoint, the best loss increases with the batch size."""
    table = fx.pivot_table(index="checkpoint", columns="batch_size", values="best")
    return bool((table.diff(axis=1).iloc[:, 1:] > 0).all().all())


# ------------------------------------------------------------------------------------ fig3
def fig3(
    trajectories_path: str | Path,
    interpolation_path: str | Path,
    out_pdf: str | Path,
    *,
    provenance: Mapping[str, Any],
) -> tuple[str, pd.DataFrame]:
    """GD side-trips on one batch from several checkpoints, and the interpolations between
    their ends and back to their branch points."""
    apply_style()
    traj = read_parquet(trajectories_path)
    interp = read_parquet(interpolation_path)
    traj_loss = traj[traj["metric"] == "loss"]
    branches = sorted(traj_loss["branch_step"].unique())
    colors = dict(zip(branches, PALETTE, strict=False))
    fig, axes = plt.subplots(3, 2, figsize=(10, 10.5), constrained_layout=True)
    for ax, batch in zip(axes[0], ("fixed", "heldout"), strict=True):
        for b in branches:
            c = traj_loss[(traj_loss["branch_step"] == b) & (traj_loss["batch"] == batch)]
            ax.plot(c["step"], c["value"], color=colors[b], label=f"from step {b}")
        ax.set_yscale("log" if batch == "fixed" else "linear")
        ax.set_xlabel("GD steps on the training batch")
        ax.set_ylabel(f"loss on the {BATCH_SHORT[batch]}")
        ax.set_title(f"GD side-trips: {BATCH_SHORT[batch]}")
    axes[0][0].legend(fontsize="small")
    il = interp[interp["metric"] == "loss"]
    bar_all = barriers(interp)
    path_colors = dict(zip(il["path"].unique(), PALETTE, strict=False))
    for row, batch in ((1, "fixed"), (2, "heldout")):
        for ax, kind, title in (
            (axes[row][0], "endpoints", "between side-trip ends"),
            (axes[row][1], "to_branch", "side-trip end to its branch point"),
        ):
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
                f"Interpolation {title}\nlargest barrier {bar['barrier'].max():.2g} "
                f"({100 * bar['relative_barrier'].max():.2g}% of the loss scale)",
                fontsize="medium",
            )
            ax.legend(fontsize="x-small")
    bar = bar_all
    gd_lr = float(traj["gd_lr"].iloc[0])
    steps = int(traj["step"].max())
    size = int(traj["batch_size"].iloc[0])

    def per_branch(step: int, batch: str, fmt: str) -> str:
        c = traj_loss[(traj_loss["step"] == step) & (traj_loss["batch"] == batch)]
        return ", ".join(format(v, fmt) for v in c.sort_values("branch_step")["value"])

    def worst(kind: str, batch: str) -> str:
        s = bar[(bar["kind"] == kind) & (bar["batch"] == batch)]
        return f"{s['barrier'].max():.2g} ({100 * s['relative_barrier'].max():.2g}%)"

    caption = (
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
    save_figure(fig, out_pdf, caption, provenance)
    return caption, bar


# ------------------------------------------------------------------------------------ fig7
def fig7(path: str | Path, out_pdf: str | Path, *, provenance: Mapping[str, Any]) -> str:
    """Cosines and norm ratio of a fixed batch's gradient along two side-trips."""
    apply_style()
    df = read_parquet(path)
    branch = int(df["branch_step"].iloc[0])
    df = df.assign(t=df["step"] - branch)
    seeds = sorted(df["data_seed"].unique())
    fig, (ax, ax_n) = plt.subplots(1, 2, figsize=(10.5, 4.0))
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

    first = df[(df["data_seed"] == seeds[0]) & (df["metric"] == "cos_to_start")].set_index("t")
    ts = [t for t in (10, 100, 200, int(df["t"].max())) if t in first.index]
    along = ", ".join(f"{first.loc[t, 'value']:.2f} at t={t}" for t in ts)
    ratio = df[df["metric"] == "norm_ratio"]["value"]
    cos_all = df[df["metric"] == "cos_to_start"]["value"]
    ind_all = df[df["metric"] == "cos_independent"]["value"]
    last_par = par.loc[par["t"].idxmax()]
    caption = (
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
    save_figure(fig, out_pdf, caption, provenance)
    return caption
