"""Divergence as news: which training runs stopped on a non-finite loss, said where users look.

A diverged side-trip is data (its rows up to the divergence are kept, ``train.hooks.LossWindow``,
marked by the ``diverged`` column and the file's ``lrtraj.diverged`` metadata, ``lrtraj.metrics``),
so its job succeeds; without a word at the end of the run it would surface only as NaN in a
figure. ``diverged_runs`` finds them in the metrics files; the side-trip summary lists them and
the workflow's ``onsuccess``/``onerror`` handlers print one line per run. Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lrtraj.metrics import divergences, read_diverged, read_parquet

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

    @classmethod
    def of(cls, run: Mapping[str, Any], path: str | Path | None = None) -> Diverged:
        """From a record of ``metrics.divergences`` (or a file's ``lrtraj.diverged`` metadata)."""
        where = None if path is None else str(path)
        keys = ("method", "branch_step", "data_seed", "step")
        return cls(*(run[k] for k in keys), path=where)

    def short(self) -> str:
        return f"{self.method} (seed {self.data_seed}) at step {self.step}"

    def line(self) -> str:
        where = f" (rows up to it kept in {self.path})" if self.path else ""
        return (
            f"diverged: side-trip {self.method} from step {self.branch_step}, data seed "
            f"{self.data_seed}, at step {self.step}{where}; its figures and claims show it as "
            "NaN: lower sidetrips.lr"
        )


def diverged_in(df: pd.DataFrame, path: str | Path | None = None) -> list[Diverged]:
    """The diverged runs in a metrics table (one run: a method, branch step and data seed)."""
    return [Diverged.of(run, path) for run in divergences(df)]


def diverged_runs(paths: Iterable[str | Path], since: float | None = None) -> list[Diverged]:
    """The runs among the metrics files ``paths`` (those that exist, and were written at or
    after the time ``since`` if given) that diverged: as their metadata records them
    (``metrics.read_diverged``), else, for a file written without it, from its rows."""
    out = []
    columns = ["phase", "method", "branch_step", "data_seed", "step", "split", "metric", "value"]
    for path in paths:
        if not Path(path).is_file() or (since is not None and Path(path).stat().st_mtime < since):
            continue
        recorded = read_diverged(path)
        if recorded is not None:
            out += [Diverged.of(run, path) for run in recorded]
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
