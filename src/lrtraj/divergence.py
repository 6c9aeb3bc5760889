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

    method: str
    branch_step: int
    data_seed: int
    step: int
    path: str | None = None  # its metrics file

    def short(self) -> str:
        return f"{self.method} (seed {self.data_seed}) at step {self.step}"

    def line(self) -> str:
        where = f" (rows up to it kept in {self.path})" if self.path else ""
        return (
            f"diverged: side-trip {self.method} from step {self.branch_step}, data seed "
            f"{self.data_seed}, at step {self.step}{where}; its figures and claims show it as "
            "NaN: lower sidetrips.lr"
        )


def diverged_at(df: pd.DataFrame) -> int | None:
    """The first step whose training-batch loss is not finite, or None."""
    loss = df[(df["split"] == "train_batch") & (df["metric"] == "loss")]
    bad = loss.loc[~loss["value"].map(math.isfinite), "step"]
    return int(bad.min()) if len(bad) else None


def diverged_in(df: pd.DataFrame, path: str | Path | None = None) -> list[Diverged]:
    """The diverged runs in a metrics table (one run: a method, branch step and data seed)."""
    batches = df[df["split"] == "train_batch"]
    out = []
    for (method, branch, seed), run in batches.groupby(["method", "branch_step", "data_seed"]):
        step = diverged_at(run)
        if step is not None:
            where = None if path is None else str(path)
            out.append(Diverged(str(method), int(branch), int(seed), step, where))
    return out


def diverged_runs(paths: Iterable[str | Path], since: float | None = None) -> list[Diverged]:
    """The runs among the metrics files ``paths`` (those that exist, and were written at or
    after the time ``since`` if given) that diverged."""
    out = []
    columns = ["method", "branch_step", "data_seed", "step", "split", "metric", "value"]
    for path in paths:
        if not Path(path).is_file() or (since is not None and Path(path).stat().st_mtime < since):
            continue
        df = read_parquet(path, columns=columns, filters=[("split", "==", "train_batch")])
        out += diverged_in(df, path)
    return out


def burn_in_failures(logs: Iterable[str | Path], since: float | None = None) -> list[str]:
    """The divergence message of each burn-in rule log among ``logs`` that has one (and was
    written at or after ``since`` if given)."""
    out = []
    for log in logs:
        if Path(log).is_file() and (since is None or Path(log).stat().st_mtime >= since):
            lines = [ln for ln in Path(log).read_text().splitlines() if BURN_IN_MARK in ln]
            last = lines[-1][lines[-1].index(BURN_IN_MARK) :].strip() if lines else None
            out += [f"{last} (log: {log})"] if last else []
    return out
