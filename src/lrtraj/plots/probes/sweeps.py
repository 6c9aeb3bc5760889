"""One-step sweeps: loss after one gradient step vs its learning rate (fig2 at one checkpoint,
fig12 at every checkpoint and batch size, fig13 the best step per curve)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from lrtraj.analysis.probes import final_train_loss, load_sweeps, sweep_summary, train_loss_at
from lrtraj.metrics import read_parquet
from lrtraj.plots.probes.common import BATCH_SHORT, BATCH_STYLE, BN_TEXT
from lrtraj.plots.style import PALETTE, apply_style, save_figure

OFFSCALE_FACTOR = 4.0  # y-axis top: this many times the largest loss before the step


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
