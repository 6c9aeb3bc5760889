"""Side-trip endpoints: each average against its equivalent schedule and the baseline.

Torch-free: plots and claims read these summaries of the side-trip Parquet files.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from lrtraj.metrics import read_parquet


def load_sidetrips(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate side-trip metrics and add ``sidetrip_step`` (steps since the branch)."""
    df = pd.concat([read_parquet(p) for p in paths], ignore_index=True)
    df["sidetrip_step"] = df["step"] - df["branch_step"]
    return df


def final_comparison(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Per data seed, family and metric at the last side-trip step: baseline, average, schedule,
    and the two gaps of claim 3 (|average − schedule| vs |average − baseline|).

    The last step is that of the runs that did not diverge. A diverged run's values are NaN
    (and a claim computed from them fails), so a diverged seed never silently drops out, and
    when every run diverged no value is taken from wherever they happened to stop (all NaN;
    ``step`` is then the furthest step any of them was evaluated at)."""
    ev = df[(df["split"] == split) & (df["kind"] != "reference")]
    healthy = ev[~ev["diverged"]] if "diverged" in ev else ev  # files from before the column
    last = (healthy if len(healthy) else ev)["sidetrip_step"].max()
    at_end = healthy[healthy["sidetrip_step"] == last]
    at_end = at_end.set_index(["data_seed", "family", "kind", "metric"])
    value = at_end["value"]
    families = sorted(set(ev.loc[ev["kind"].isin(["average", "schedule"]), "family"]))
    rows = []
    for seed in sorted(ev["data_seed"].unique()):
        for family in families:
            for metric in sorted(ev["metric"].unique()):
                b = value.get((seed, "baseline", "baseline", metric), np.nan)
                a = value.get((seed, family, "average", metric), np.nan)
                s_ = value.get((seed, family, "schedule", metric), np.nan)
                rows.append(
                    {
                        "data_seed": seed,
                        "family": family,
                        "metric": metric,
                        "step": int(last),
                        "baseline": b,
                        "average": a,
                        "schedule": s_,
                        "gap_average_schedule": abs(a - s_),
                        "gap_average_baseline": abs(a - b),
                    }
                )
    return pd.DataFrame(rows)


def summarize(paths: Iterable[str | Path], splits: Iterable[str]) -> pd.DataFrame:
    """Final-step comparison for every branch step and split (claims 3 and 4, docs/theory.md §3)."""
    df = load_sidetrips(paths)
    parts = []
    for branch, grp in df.groupby("branch_step"):
        for split in splits:
            cmp = final_comparison(grp, split)
            parts.append(cmp.assign(branch_step=int(branch), split=split))
    out = pd.concat(parts, ignore_index=True)
    first = ["branch_step", "split", "family", "metric", "data_seed"]
    return out[first + [c for c in out.columns if c not in first]]
