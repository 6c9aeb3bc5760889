"""Tidy Parquet metrics: one schema for every training-like run, provenance in the metadata.

Training metrics (burn-in and side-trips) are long-format rows::

    column        dtype    meaning
    ------------  -------  -----------------------------------------------------------
    phase         str      "burn_in" or "sidetrip"
    branch_step   int64    main-trajectory step the side-trip branched from (-1: burn-in)
    data_seed     int64    seed of the batch stream
    method        str      what was evaluated: "constant", an average (its family's name,
                           e.g. "ema"), "<family>_schedule", or "linear_decay"
    family        str      averaging family the method belongs to (a name registered in
                           lrtraj.averaging), "baseline" for the constant-lr run,
                           "linear_decay" for that reference
    kind          str      "baseline", "average", "schedule" or "reference"
    step          int64    global step (weights after ``step`` SGD updates)
    lr            float64  learning rate of the update that produced this step (NaN at step 0)
    split         str      "train_batch" (the mini-batch of this step), "train", "test",
                           "test_clean"
    metric        str      "loss" (mean cross-entropy) or "accuracy" (fraction in [0, 1])
    value         float64  the number; NaN/inf are kept (a diverged run is data)

Provenance (see ``provenance.collect``) is stored as JSON under the Parquet key-value
metadata key ``lrtraj.provenance``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lrtraj import atomic

PROVENANCE_KEY = b"lrtraj.provenance"

TRAINING_COLUMNS: dict[str, str] = {
    "phase": "string",
    "branch_step": "int64",
    "data_seed": "int64",
    "method": "string",
    "family": "string",
    "kind": "string",
    "step": "int64",
    "lr": "float64",
    "split": "string",
    "metric": "string",
    "value": "float64",
}


class SchemaError(ValueError):
    """A metrics table does not have the documented columns or types."""


def conform(df: pd.DataFrame, columns: Mapping[str, str] = TRAINING_COLUMNS) -> pd.DataFrame:
    """Return ``df`` with exactly ``columns`` in order and dtype; raise if any is missing."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"metrics table lacks columns {missing}; has {list(df.columns)}")
    out = df[list(columns)].copy()
    for name, dtype in columns.items():
        out[name] = out[name].astype("float64" if dtype == "float64" else dtype)
        if dtype == "string":
            out[name] = out[name].astype(object)
    return out.reset_index(drop=True)


def write_parquet(df: pd.DataFrame, path: str | Path, provenance: Mapping[str, Any]) -> None:
    """Atomically write ``df`` to ``path`` with ``provenance`` as JSON metadata."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, default=str).encode()
    table = table.replace_schema_metadata(meta)
    with atomic.target(path) as tmp:
        pq.write_table(table, tmp)


class UnreadableError(RuntimeError):
    """A metrics file exists but cannot be read (truncated, overwritten, not Parquet)."""


def read_parquet(path: str | Path, **options: Any) -> pd.DataFrame:
    """``pd.read_parquet(path, **options)``; a damaged file is an ``UnreadableError`` naming it
    and how to rebuild it, not a pyarrow traceback."""
    try:
        return pd.read_parquet(path, **options)
    except (pa.ArrowException, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise UnreadableError(
            f"metrics file {path} is corrupt or unreadable ({type(err).__name__}: {err}); "
            "delete it and run snakemake again, which rebuilds it"
        ) from None


def read_provenance(path: str | Path) -> dict[str, Any]:
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}
