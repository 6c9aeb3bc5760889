"""Summaries of the probes' Parquet files: the one-step sweep and the interpolation barriers.

Torch-free: the probe figures and the probe claims read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lrtraj.metrics import read_parquet


def final_train_loss(burn_in: str | Path | pd.DataFrame) -> tuple[int, float]:
    """Mean loss on the training split of the trained model (the burn-in's last evaluation)."""
    df = read_parquet(burn_in) if not isinstance(burn_in, pd.DataFrame) else burn_in
    ev = df[(df["split"] == "train") & (df["metric"] == "loss") & (df["phase"] == "burn_in")]
    last = ev.loc[ev["step"].idxmax()]
    return int(last["step"]), float(last["value"])


def train_loss_at(burn_in: pd.DataFrame, steps: Sequence[int]) -> pd.Series:
    """Mean training-split loss of the main trajectory at ``steps`` (where it was evaluated)."""
    ev = burn_in[(burn_in["split"] == "train") & (burn_in["metric"] == "loss")]
    return ev.set_index("step")["value"].reindex(list(steps))


def load_sweeps(paths: Sequence[str | Path]) -> pd.DataFrame:
    return pd.concat([read_parquet(p) for p in paths], ignore_index=True)


def sweep_summary(sweeps: pd.DataFrame) -> pd.DataFrame:
    """Per checkpoint, batch size and batch: loss before the step, the best loss over lr and
    its argmin lr, and the number of lrs whose loss is not finite."""
    loss = sweeps[sweeps["metric"] == "loss"]
    rows = []
    for (ckpt, size, batch), grp in loss.groupby(["checkpoint", "batch_size", "batch"]):
        before = float(grp.loc[grp["lr"] == 0, "value"].iloc[0])
        steps = grp[grp["lr"] > 0].sort_values("lr")
        finite = steps[np.isfinite(steps["value"])]
        best = finite.loc[finite["value"].idxmin()] if len(finite) else None
        rows.append(
            {
                "checkpoint": int(ckpt),
                "batch_size": int(size),
                "batch": batch,
                "before": before,
                "best": float(best["value"]) if best is not None else np.nan,
                "best_lr": float(best["lr"]) if best is not None else np.nan,
                "nonfinite": int((~np.isfinite(steps["value"])).sum()),
            }
        )
    return pd.DataFrame(rows)


def barriers(interp: pd.DataFrame) -> pd.DataFrame:
    """Per path and batch: the loss barrier ``max along the path - max(loss at the two ends)``,
    and that barrier relative to the largest loss at any path end on the same batch (the loss
    scale of the figure; relative to the path's own ends a barrier between two near-zero losses
    would read as huge). NaN where the path holds a non-finite loss."""
    loss = interp[interp["metric"] == "loss"]
    ends_all = loss[loss["alpha"].isin([loss["alpha"].min(), loss["alpha"].max()])]
    scale = ends_all.groupby("batch")["value"].max()
    rows = []
    for (path, kind, batch), grp in loss.groupby(["path", "kind", "batch"], sort=False):
        v = grp.sort_values("alpha")["value"].to_numpy()
        ends = max(v[0], v[-1])
        top = np.max(v) if np.all(np.isfinite(v)) else np.nan
        rows.append(
            {
                "path": path,
                "kind": kind,
                "batch": batch,
                "loss_start": v[0],
                "loss_end": v[-1],
                "loss_max": top,
                "barrier": top - ends,
                "relative_barrier": (top - ends) / scale[batch],
            }
        )
    return pd.DataFrame(rows)
