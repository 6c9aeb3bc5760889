"""table1 rendered as Markdown, CSV and LaTeX from its Parquet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from lrtraj import atomic
from lrtraj.provenance import write_sidecar


def table1_wide(df: pd.DataFrame) -> pd.DataFrame:
    """One row per averaging method; a deviation column per momentum."""
    wide = df.pivot_table(
        index=["row", "averaging", "equivalent_schedule"],
        columns="momentum",
        values="max_abs_deviation",
        sort=False,
    )
    wide.columns = [f"max abs. deviation, momentum {m:g}" for m in wide.columns]
    return wide.reset_index().drop(columns="row")


def write_table1(
    df: pd.DataFrame,
    *,
    md: str | Path,
    csv: str | Path,
    tex: str | Path,
    provenance: Mapping[str, Any],
) -> None:
    wide = table1_wide(df)
    steps, lr = int(df["steps"].iloc[0]), float(df["lr"].iloc[0])
    note = (
        f"Table 1. Averaging methods and their equivalent learning-rate schedules "
        f"(tail-sum rule lr_i = lr·Σ_{{t>i}} κ_t). Deviation: max over coordinates of "
        f"|average − schedule endpoint| after T={steps} float64 SGD steps at lr={lr:g} on a "
        f"constant-gradient (linear) model, real torch.optim.SGD and lrtraj averagers."
    )
    fmt = {c: "{:.2e}".format for c in wide.columns if c.startswith("max")}
    shown = wide.copy()
    for col, f in fmt.items():
        shown[col] = shown[col].map(f)
    atomic.write_text(md, note + "\n\n" + shown.to_markdown(index=False) + "\n")
    atomic.write_text(csv, wide.to_csv(index=False))
    latex = shown.to_latex(index=False, escape=False, caption=note, label="tab:equivalence")
    atomic.write_text(tex, latex)
    for path in (md, csv, tex):
        write_sidecar(path, dict(provenance))


def write_sidetrip_summary(
    df: pd.DataFrame,
    md: str | Path,
    provenance: Mapping[str, Any] | None = None,
    diverged: Sequence[str] = (),
) -> None:
    """Mean over data seeds of the final-step comparison, as a Markdown table; ``diverged``
    (one line per diverged run, ``lrtraj.divergence``) heads it, so NaN is never unexplained."""
    cols = ["baseline", "average", "schedule", "gap_average_schedule", "gap_average_baseline"]
    mean = df.groupby(["branch_step", "split", "metric", "family"], sort=True)[cols].mean()
    seeds = df["data_seed"].nunique()
    title = (
        f"Side-trip endpoints, mean over {seeds} data seeds. Claim: "
        "gap_average_schedule ≪ gap_average_baseline, and average beats baseline."
    )
    warning = "".join(f"- **{line}**\n" for line in diverged)
    if warning:
        warning = f"**{len(diverged)} side-trip run(s) diverged:**\n\n{warning}\n"
    table = mean.reset_index().to_markdown(index=False, floatfmt=".4f")
    atomic.write_text(md, f"{title}\n\n{warning}{table}\n")
    if provenance is not None:
        write_sidecar(md, dict(provenance))
