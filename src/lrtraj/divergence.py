"""Divergence as news: which training runs stopped on a non-finite loss, said where users look.

A diverged side-trip is data (its rows up to the divergence are kept, ``train.hooks.LossWindow``),
so its job succeeds; without a word at the end of the run it would surface only as NaN in a
figure. ``diverged_runs`` finds them in the metrics files; the side-trip summary lists them and
the workflow's ``onsuccess``/``onerror`` handlers print one line per run. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lrtraj.metrics import read_parquet

# the burn-in job fails on divergence; this opens its message (lrtraj.trajectory)
BURN_IN_MARK = "burn-in diverged"


@dataclass(frozen=True)
class Diverged:
    """One run that stopped at ``step`` (the first global step whose batch loss is not finite)."""

    path: str
    method: str
    branch_step: int
    data_seed: int
    step: int

    def line(self) -> str:
        return (
            f"diverged: side-trip {self.method} from step {self.branch_step}, data seed "
            f"{self.data_seed}, at step {self.step} (rows up to it kept in {self.path}); "
            "its figures and claims show it as NaN: lower sidetrips.lr"
        )


def diverged_at(df: pd.DataFrame) -> int | None:
    """The first step whose training-batch loss is not finite, or None."""
    loss = df[(df["split"] == "train_batch") & (df["metric"] == "loss")]
    bad = loss.loc[~loss["value"].map(math.isfinite), "step"]
    return int(bad.min()) if len(bad) else None


def diverged_runs(paths: Iterable[str | Path]) -> list[Diverged]:
    """The runs among the metrics files ``paths`` (those that exist) that diverged."""
    out = []
    columns = ["method", "branch_step", "data_seed", "step", "split", "metric", "value"]
    for path in paths:
        if not Path(path).is_file():
            continue
        df = read_parquet(path, columns=columns, filters=[("split", "==", "train_batch")])
        step = diverged_at(df)
        if step is not None:
            first = df.iloc[0]
            out.append(
                Diverged(
                    str(path), str(first.method), int(first.branch_step), int(first.data_seed), step
                )
            )
    return out


def burn_in_failures(logs: Iterable[str | Path]) -> list[str]:
    """The divergence message of each burn-in rule log among ``logs`` that has one."""
    out = []
    for log in logs:
        if Path(log).is_file():
            lines = [ln for ln in Path(log).read_text().splitlines() if BURN_IN_MARK in ln]
            out += [f"{lines[-1].strip()} (log: {log})"] if lines else []
    return out
