"""The tidy table every quadratic experiment returns (schema in ``lrtraj.quadratic``) and the
row builders they share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.metrics import conform

MC = "monte_carlo"
TH = "theory"

QUADRATIC_COLUMNS: dict[str, str] = {
    "experiment": "string",
    "method": "string",
    "param_name": "string",
    "param": "float64",
    "lr": "float64",
    "direction": "string",
    "curvature": "float64",
    "chain": "int64",
    "step": "int64",
    "statistic": "string",
    "source": "string",
    "value": "float64",
}
_DEFAULTS: dict[str, Any] = {
    "method": "sgd",
    "param_name": "",
    "param": np.nan,
    "lr": np.nan,
    "direction": "all",
    "curvature": np.nan,
    "chain": -1,
    "step": -1,
}


def frame(experiment: str, **columns: Any) -> pd.DataFrame:
    """Rows of the quadratic schema (not yet type-conformed: ``concat`` does that once);
    scalars broadcast against the array-valued columns."""
    cols = {**_DEFAULTS, **columns, "experiment": experiment}
    n = max((np.size(v) for v in cols.values() if not np.isscalar(v)), default=1)
    data = {
        k: (np.full(n, v) if np.isscalar(v) else np.asarray(v).ravel()) for k, v in cols.items()
    }
    return pd.DataFrame(data, columns=list(QUADRATIC_COLUMNS))


def concat(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One experiment's rows, in order, conformed to ``QUADRATIC_COLUMNS``."""
    return conform(pd.concat(frames, ignore_index=True), QUADRATIC_COLUMNS)


def chain_stats(per_chain: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over the last axis (chains): mean, its standard error, 10 %/90 % quantiles."""
    n = per_chain.shape[-1]
    q10, q90 = np.quantile(per_chain, [0.1, 0.9], axis=-1)
    return {
        "mean": per_chain.mean(axis=-1),
        "sem": per_chain.std(axis=-1, ddof=1) / math.sqrt(n),
        "q10": q10,
        "q90": q90,
    }
