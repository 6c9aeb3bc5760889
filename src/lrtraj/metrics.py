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
    diverged      bool     the run diverged (a training-batch loss was not finite; it stopped
                           there): True on every row of that run, its averages' included

Provenance (see ``provenance.collect``) is stored as JSON under the Parquet key-value
metadata key ``lrtraj.provenance``. A table with a ``diverged`` column also records, as JSON
under ``lrtraj.diverged``, the list of its diverged runs, each ``{"phase", "method",
"branch_step", "data_seed", "step"}`` with ``step`` the first whose training-batch loss is not
finite (``[]``: none diverged); ``read_diverged`` reads it without reading the rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lrtraj import atomic

PROVENANCE_KEY = b"lrtraj.provenance"
DIVERGED_KEY = b"lrtraj.diverged"
# what names one run in a training table (``train.hooks.RunInfo`` less what follows from it)
RUN_KEYS = ("phase", "method", "branch_step", "data_seed")

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
    "diverged": "bool",
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


def divergences(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The runs (``RUN_KEYS``) in ``df`` whose training-batch loss is not finite at some step,
    each with the first such ``step``: where the loop stopped (``train.hooks.LossWindow``)."""
    if not {"split", "metric", *RUN_KEYS}.issubset(df.columns):
        return []
    loss = df[(df["split"] == "train_batch") & (df["metric"] == "loss")]
    bad = loss[~np.isfinite(loss["value"].to_numpy(dtype="float64"))]
    first = bad.groupby(list(RUN_KEYS), sort=True)["step"].min()
    return [
        {
            "phase": str(p),
            "method": str(m),
            "branch_step": int(b),
            "data_seed": int(s),
            "step": int(at),
        }
        for (p, m, b, s), at in first.items()
    ]


def training_table(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One training run's rows as a ``TRAINING_COLUMNS`` table; ``diverged`` is True on every
    row (evaluations and averages included) when its training-batch loss went non-finite."""
    df = pd.DataFrame(list(rows))
    return conform(df.assign(diverged=bool(divergences(df))))


def write_parquet(df: pd.DataFrame, path: str | Path, provenance: Mapping[str, Any]) -> None:
    """Atomically write ``df`` to ``path`` with ``provenance`` as JSON metadata (and, for a
    table with a ``diverged`` column, its diverged runs under ``DIVERGED_KEY``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, default=str).encode()
    if "diverged" in df.columns:  # the runs the column marks, with where each stopped
        marked = df[df["diverged"].eq(True)]
        meta[DIVERGED_KEY] = json.dumps(divergences(marked)).encode()
    table = table.replace_schema_metadata(meta)
    with atomic.target(path) as tmp:
        pq.write_table(table, tmp)


class UnreadableError(RuntimeError):
    """A metrics file exists but cannot be read (truncated, overwritten, not Parquet)."""


@contextlib.contextmanager
def _readable(path: str | Path) -> Iterator[None]:
    """A damaged file is an ``UnreadableError`` naming it and how to rebuild it, not a pyarrow
    traceback (a missing one stays a ``FileNotFoundError``)."""
    try:
        yield
    except (pa.ArrowException, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise UnreadableError(
            f"metrics file {path} is corrupt or unreadable ({type(err).__name__}: {err}); "
            "delete it and run snakemake again, which rebuilds it"
        ) from None


def read_parquet(path: str | Path, **options: Any) -> pd.DataFrame:
    """``pd.read_parquet(path, **options)``; a damaged file is an ``UnreadableError``."""
    with _readable(path):
        return pd.read_parquet(path, **options)


def _metadata(path: str | Path) -> dict[bytes, bytes]:
    with _readable(path):
        return pq.read_schema(path).metadata or {}


def read_provenance(path: str | Path) -> dict[str, Any]:
    raw = _metadata(path).get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


def read_diverged(path: str | Path) -> list[dict[str, Any]] | None:
    """The diverged runs recorded in ``path``'s metadata (``[]``: none), or None when it
    records none (not a training table)."""
    raw = _metadata(path).get(DIVERGED_KEY)
    return json.loads(raw) if raw is not None else None
