"""fig5 and fig1: side-trips from one checkpoint — averages vs their equivalent schedules vs the
constant-lr baseline, evaluated on the same batch sequence, mean and range over data seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from lrtraj.plots.style import (
    FAMILY_COLORS,
    FAMILY_LABELS,
    apply_style,
    save_figure,
)
from lrtraj.sidetrips import final_comparison, load_sidetrips

METRIC_LABELS = {"accuracy": "accuracy (%)", "loss": "cross-entropy loss (nats)"}
SPLIT_LABELS = {"train": "train set", "test": "test set", "test_clean": "clean test set"}
KIND_LABELS = {"average": "average", "schedule": "equivalent schedule"}


def _summary_text(cmp: pd.DataFrame, metric: str) -> str:
    mean = (
        cmp[cmp["metric"] == metric]
        .groupby("family")[
            ["baseline", "average", "schedule", "gap_average_schedule", "gap_average_baseline"]
        ]
        .mean()
    )
    scale = 100.0 if metric == "accuracy" else 1.0
    unit = " %" if metric == "accuracy" else ""
    parts = []
    for family, r in mean.iterrows():
        parts.append(
            f"{FAMILY_LABELS.get(family, family)}: average {r['average'] * scale:.3g}{unit}, "
            f"schedule {r['schedule'] * scale:.3g}{unit}, "
            f"baseline {r['baseline'] * scale:.3g}{unit}"
        )
    return "; ".join(parts)


def _spread(values: pd.Series) -> tuple[float, float]:
    return float(values.min()), float(values.max())


def _draw(ax: plt.Axes, data: pd.DataFrame, family: str, metric: str) -> None:
    scale = 100.0 if metric == "accuracy" else 1.0
    styles = [
        ("baseline", "baseline", "-", FAMILY_COLORS["baseline"], "constant lr (baseline)"),
        (family, "average", "-", FAMILY_COLORS[family], f"{FAMILY_LABELS[family]} average"),
        (family, "schedule", "--", FAMILY_COLORS[family], "equivalent schedule"),
        ("linear_decay", "reference", ":", FAMILY_COLORS["linear_decay"], "linear decay"),
    ]
    for fam, kind, dash, color, label in styles:
        sub = data[(data["family"] == fam) & (data["kind"] == kind) & (data["metric"] == metric)]
        if sub.empty:
            continue
        sub = sub.assign(value=sub["value"] * scale)
        sns.lineplot(
            data=sub,
            x="sidetrip_step",
            y="value",
            ax=ax,
            color=color,
            linestyle=dash,
            label=label,
            errorbar=_spread,
            linewidth=1.6,
        )
    ax.set_xlabel("side-trip step (SGD steps since branch)")
    ax.set_ylabel(METRIC_LABELS[metric])


def fig5(
    paths: Sequence[str | Path],
    out_pdf: str | Path,
    *,
    split: str,
    families: Sequence[str],
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """Rows: accuracy and loss; columns: one averaging family each."""
    apply_style()
    df = load_sidetrips(paths)
    data = df[df["split"] == split]
    branch = int(df["branch_step"].iloc[0])
    seeds = sorted(df["data_seed"].unique())
    fig, axes = plt.subplots(2, len(families), figsize=(4.2 * len(families), 6.4), squeeze=False)
    for col, family in enumerate(families):
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row][col]
            _draw(ax, data, family, metric)
            ax.set_title(f"{FAMILY_LABELS[family]} vs its schedule" if row == 0 else "")
            if (row, col) != (0, 0):
                ax.get_legend().remove()
    axes[0][0].legend(fontsize="small", loc="lower right")
    fig.suptitle(f"Side-trips from step {branch}, {SPLIT_LABELS.get(split, split)}")
    cmp = final_comparison(df, split)
    caption = (
        f"Side-trips branched at step {branch} of the constant-lr trajectory, on the same batch "
        f"sequence, {len(seeds)} data seeds (line: mean, band: min–max). Each average (solid) and "
        f"its equivalent tail-sum schedule (dashed, Table 1) vs the constant-lr baseline (black). "
        f"Final {SPLIT_LABELS.get(split, split)} accuracy — {_summary_text(cmp, 'accuracy')}. "
        f"Final loss — {_summary_text(cmp, 'loss')}."
    )
    save_figure(fig, out_pdf, caption, provenance)
    return cmp


def fig1(
    paths: Sequence[str | Path],
    out_pdf: str | Path,
    *,
    split: str,
    family: str,
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """The overview: one averaging method next to its schedule and the baseline."""
    apply_style()
    df = load_sidetrips(paths)
    data = df[df["split"] == split]
    branch = int(df["branch_step"].iloc[0])
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for ax, metric in zip(axes, ("accuracy", "loss"), strict=True):
        _draw(ax, data, family, metric)
    axes[1].get_legend().remove()
    axes[0].legend(fontsize="small", loc="lower right")
    cmp = final_comparison(df, split)
    cmp = cmp[cmp["family"] == family]
    caption = (
        f"{FAMILY_LABELS[family]} average vs its equivalent learning-rate schedule vs constant lr, "
        f"side-trips from step {branch}, {SPLIT_LABELS.get(split, split)}, "
        f"{df['data_seed'].nunique()} data seeds (mean, min–max band). At the last step: "
        f"{_summary_text(cmp, 'accuracy')}."
    )
    save_figure(fig, out_pdf, caption, provenance)
    return cmp
