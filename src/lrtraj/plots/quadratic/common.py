"""What the quadratic-model figures share: reading the tidy table, picking single values from
it, the theory line style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.metrics import read_parquet

MC = "monte_carlo"
TH = "theory"
THEORY_STYLE = {"color": "black", "linestyle": (0, (3, 2)), "linewidth": 1.0}


def read_table(data: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The experiment's table, from a Parquet path or as given; a damaged file is the project's
    ``UnreadableError`` naming it and how to rebuild it (``lrtraj.metrics.read_parquet``)."""
    return data if isinstance(data, pd.DataFrame) else read_parquet(data)


def scalar(df: pd.DataFrame, **match: Any) -> float:
    """The ``value`` of the one row whose columns equal ``match``."""
    rows = df
    for key, val in match.items():
        rows = rows[rows[key] == val]
    if len(rows) != 1:
        raise ValueError(f"expected one row for {match}, found {len(rows)}")
    return float(rows["value"].iloc[0])


def fmt_step(x: float) -> str:
    """A step for a caption: ``never`` for a threshold that was not crossed (NaN)."""
    return "never" if not np.isfinite(x) else f"{x:.0f}"
