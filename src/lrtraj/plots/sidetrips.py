"""fig5 and fig1: side-trips from one checkpoint — averages vs their equivalent schedules vs the
constant-lr baseline, evaluated on the same batch sequence, mean and range over data seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lrtraj.analysis.sidetrips import final_comparison, load_sidetrips
from lrtraj.divergence import Diverged, diverged_in
from lrtraj.plots.style import (
    FAMILY_COLORS,
    FAMILY_LABELS,
    apply_style,
    save_figure,
)

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

    def text(value: float) -> str:  # a mean over seeds is NaN when one of them diverged
        return f"{value * scale:.3g}{unit}" if np.isfinite(value) else "NaN (a seed diverged)"

    parts = []
    for family, r in mean.iterrows():
        parts.append(
            f"{FAMILY_LABELS.get(family, family)}: average {text(r['average'])}, "
            f"schedule {text(r['schedule'])}, baseline {text(r['baseline'])}"
        )
    return "; ".join(parts)


def _diverged_note(diverged: Sequence[Diverged]) -> str:
    """News, not a NaN to decode: the runs whose curves end early, and where."""
    if not diverged:
        return ""
    return (
        f" {len(diverged)} run(s) diverged (training loss not finite; curves end, marked ×, at the "
        f"last evaluation before it): {', '.join(d.short() for d in diverged)}."
    )


def _spread(values: pd.Series) -> tuple[float, float]:
    return float(values.min()), float(values.max())


def _draw(
    ax: plt.Axes,
    data: pd.DataFrame,
    family: str,
    metric: str,
    *,
    baseline: bool = True,
    decay: bool = True,
) -> None:
    """Baseline (black), one family's average (solid) and schedule (dashed), linear decay."""
    scale = 100.0 if metric == "accuracy" else 1.0
    styles = [
        ("baseline", "baseline", "-", FAMILY_COLORS["baseline"], "constant lr (baseline)"),
        (family, "average", "-", FAMILY_COLORS[family], f"{FAMILY_LABELS[family]} average"),
        (family, "schedule", "--", FAMILY_COLORS[family], f"{FAMILY_LABELS[family]} schedule"),
        ("linear_decay", "reference", ":", FAMILY_COLORS["linear_decay"], "linear decay"),
    ]
    for fam, kind, dash, color, label in styles:
        if (kind == "baseline" and not baseline) or (kind == "reference" and not decay):
            continue
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
        _mark_diverged(ax, sub, color)
    ax.set_xlabel("side-trip step (SGD steps since branch)")
    ax.set_ylabel(METRIC_LABELS[metric])


DIVERGED_LABEL = "diverged run: its last evaluation"


def _mark_diverged(ax: plt.Axes, curve: pd.DataFrame, color: str) -> None:
    """A cross where each diverged run of one curve was last evaluated, so a curve that ends
    early (or a run that diverged before its second evaluation, which draws no line) shows."""
    if "diverged" not in curve:  # files from before the column
        return
    ended = curve[curve["diverged"] & np.isfinite(curve["value"])]
    if ended.empty:
        return
    runs = ended.groupby(["method", "branch_step", "data_seed"])["sidetrip_step"]
    last = ended.loc[runs.idxmax()]
    ax.scatter(last["sidetrip_step"], last["value"], marker="x", s=60, color=color, zorder=3)
    if DIVERGED_LABEL not in ax.get_legend_handles_labels()[1]:  # one entry per panel
        ax.plot([], [], "x", color="0.3", label=DIVERGED_LABEL)


def _figure_legend(fig: plt.Figure, ax: plt.Axes) -> None:
    """One legend for the whole figure, outside the panels (needs constrained layout)."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.get_legend().remove()
    fig.legend(unique.values(), unique.keys(), loc="outside right center", fontsize="small")


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
    fig, axes = plt.subplots(
        2, len(families), figsize=(4.2 * len(families), 6.6), squeeze=False, layout="constrained"
    )
    for col, family in enumerate(families):
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row][col]
            _draw(ax, data, family, metric)
            ax.set_title(f"{FAMILY_LABELS[family]} vs its schedule" if row == 0 else "")
            if (row, col) != (0, 0):
                ax.get_legend().remove()
    axes[0][0].legend(fontsize="small", loc="lower right")
    title = f"Side-trips from step {branch}, {SPLIT_LABELS.get(split, split)}"
    diverged = diverged_in(df)
    fig.suptitle(f"{title} — {len(diverged)} run(s) diverged" if diverged else title)
    cmp = final_comparison(df, split)
    caption = (
        f"Side-trips branched at step {branch} of the constant-lr trajectory, on the same batch "
        f"sequence, {len(seeds)} data seeds (line: mean, band: min–max). Each average (solid) and "
        f"its equivalent tail-sum schedule (dashed, Table 1) vs the constant-lr baseline (black). "
        f"Final {SPLIT_LABELS.get(split, split)} accuracy — {_summary_text(cmp, 'accuracy')}. "
        f"Final loss — {_summary_text(cmp, 'loss')}."
    )
    save_figure(fig, out_pdf, caption + _diverged_note(diverged), provenance)
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
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.9), layout="constrained")
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
    save_figure(fig, out_pdf, caption + _diverged_note(diverged_in(df)), provenance)
    return cmp


def fig14(
    paths: Sequence[str | Path],
    out_pdf: str | Path,
    *,
    families: Sequence[str],
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """Schedule vs averaging on loss and accuracy, train and test: a 2x2 grid."""
    apply_style()
    df = load_sidetrips(paths)
    branch = int(df["branch_step"].iloc[0])
    fig, axes = plt.subplots(2, 2, figsize=(12, 7.5), layout="constrained")
    for col, split in enumerate(("train", "test")):
        data = df[df["split"] == split]
        for row, metric in enumerate(("loss", "accuracy")):
            ax = axes[row][col]
            for family in families:
                _draw(ax, data, family, metric, baseline=family == families[0], decay=False)
            ax.set_title(f"{SPLIT_LABELS[split]}, {metric}")
            if (row, col) != (0, 0):
                ax.get_legend().remove()
    _figure_legend(fig, axes[0][0])
    summary = pd.concat(
        [final_comparison(df, split).assign(split=split) for split in ("train", "test")]
    )
    parts = []
    for split in ("train", "test"):
        cmp = summary[summary["split"] == split]
        parts.append(f"{SPLIT_LABELS[split]} loss — {_summary_text(cmp, 'loss')}")
    caption = (
        f"Side-trips from step {branch}: every average (solid) and its equivalent schedule "
        f"(dashed) against constant lr (black), loss and accuracy on the train and test splits, "
        f"{df['data_seed'].nunique()} data seeds (mean, min–max band). Final: "
        + ". ".join(parts)
        + "."
    )
    save_figure(fig, out_pdf, caption + _diverged_note(diverged_in(df)), provenance)
    return summary


def fig10(
    paths_by_experiment: Mapping[str, Sequence[str | Path]],
    out_pdf: str | Path,
    *,
    split: str,
    family: str,
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """One column per named experiment (CIFAR-10 / CIFAR-100 at paper scale)."""
    apply_style()
    names = list(paths_by_experiment)
    fig, axes = plt.subplots(
        2, len(names), figsize=(4.6 * len(names), 6.6), squeeze=False, layout="constrained"
    )
    parts, summaries, notes = [], [], []
    for col, name in enumerate(names):
        df = load_sidetrips(paths_by_experiment[name])
        if diverged := diverged_in(df):
            notes.append(f" {name}:{_diverged_note(diverged)}")
        data = df[df["split"] == split]
        for row, metric in enumerate(("accuracy", "loss")):
            ax = axes[row][col]
            _draw(ax, data, family, metric, decay=False)
            if row == 0:
                ax.set_title(name)
            if (row, col) != (0, 0):
                ax.get_legend().remove()
        cmp = final_comparison(df, split)
        cmp = cmp[cmp["family"] == family].assign(experiment=name)
        summaries.append(cmp)
        parts.append(f"{name}: {_summary_text(cmp, 'accuracy')}")
    axes[0][0].legend(fontsize="small", loc="lower right")
    caption = (
        f"{FAMILY_LABELS[family]} average vs its equivalent schedule vs constant lr in "
        f"{len(names)} experiments ({SPLIT_LABELS.get(split, split)}; mean and min–max over data "
        f"seeds). Final accuracy — " + "; ".join(parts) + "."
    )
    save_figure(fig, out_pdf, caption + "".join(notes), provenance)
    return pd.concat(summaries, ignore_index=True)


def fig6(
    paths: Sequence[str | Path],
    distances_path: str | Path,
    out_pdf: str | Path,
    *,
    split: str,
    family: str,
    provenance: Mapping[str, Any],
) -> pd.DataFrame:
    """(a) loss curves of an average and its schedule; (b) how far apart their endpoints are,
    next to two independently trained solutions, in both distance measures."""
    from lrtraj.metrics import read_parquet

    apply_style()
    df = load_sidetrips(paths)
    dist = read_parquet(distances_path)
    dist = dist[(dist["family"] == family) | (dist["comparison"] == "independent")]
    fig, axes = plt.subplots(
        1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1.4, 1, 1]}, layout="constrained"
    )
    _draw(axes[0], df[df["split"] == split], family, "loss", decay=False)
    axes[0].set_title(f"(a) {SPLIT_LABELS.get(split, split)} loss")
    labels = {
        "average_vs_schedule": "average vs\nits schedule",
        "average_vs_constant": "average vs\nconstant lr",
        "independent": "independent\nsolutions",
    }
    order = [c for c in labels if c in set(dist["comparison"])]
    means = {}
    for ax, measure, title in zip(
        axes[1:],
        ("plain", "scale_invariant"),
        ("(b) L2 distance", "(c) scale-invariant distance"),
        strict=True,
    ):
        sub = dist[dist["measure"] == measure]
        sns.stripplot(
            data=sub,
            x="comparison",
            y="distance",
            order=order,
            ax=ax,
            color="#0072B2",
            size=7,
            jitter=0.15,
        )
        sns.pointplot(
            data=sub,
            x="comparison",
            y="distance",
            order=order,
            ax=ax,
            color="#000000",
            markers="_",
            linestyles="none",
            errorbar=None,
        )
        ax.set_xticks(range(len(order)), [labels[c] for c in order], fontsize="small")
        ax.set_xlabel("")
        ax.set_ylabel("distance in weight space")
        ax.set_title(title)
        means[measure] = sub.groupby("comparison")["distance"].mean()
    inv = means["scale_invariant"]
    caption = (
        f"(a) {FAMILY_LABELS[family]} average (solid) and its equivalent schedule (dashed) vs "
        f"constant lr, {SPLIT_LABELS.get(split, split)} loss. (b, c) Distances between endpoints "
        f"(dots: seeds or seed pairs; bar: mean). Scale-invariant distance: average vs schedule "
        f"{inv.get('average_vs_schedule', float('nan')):.3g}, average vs constant lr "
        f"{inv.get('average_vs_constant', float('nan')):.3g}, independent solutions "
        f"{inv.get('independent', float('nan')):.3g}."
    )
    save_figure(fig, out_pdf, caption + _diverged_note(diverged_in(df)), provenance)
    return dist
