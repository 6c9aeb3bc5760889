"""Twin trajectories (fig8) and distances between side-trip solutions (fig6).

A twin is a constant-lr continuation of the main trajectory from an early ``branch_step`` on
another batch order: a side-trip (``sidetrips.run_sidetrip``, no second training loop) whose
parameters are snapshot along the way. Distance tables are tidy Parquet::

    twin distances (fig8)             side-trip distances (fig6)
    ------------------------------    ----------------------------------------------------
    branch_step   int64               branch_step   int64
    reference_seed int64  (A: final)  comparison    str  "average_vs_schedule",
    data_seed     int64   (B: along)                     "average_vs_constant",
    step          int64                                  "independent" (constant-lr endpoints,
    measure       str  plain|scale_invariant             different batch orders)
    distance      float64                           family, seed_a, seed_b, measure, distance
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from lrtraj import checkpoint, distances
from lrtraj.schedules import schedule_method


def twin_distances(path_a: str | Path, path_b: str | Path) -> pd.DataFrame:
    """Distance from twin A's final snapshot to every snapshot of twin B (both measures)."""
    a, b = checkpoint.load(path_a), checkpoint.load(path_b)
    if a["steps"][0] != b["steps"][0]:
        raise ValueError(f"twins branch at different steps: {a['steps'][0]} vs {b['steps'][0]}")
    final_a = {name: stacked[-1] for name, stacked in a["model"].items()}
    rows = distances.endpoint_to_trajectory(final_a, b["model"], list(b["steps"]))
    df = pd.DataFrame(rows)
    df.insert(0, "branch_step", int(a["steps"][0]))
    return df


def _params(final: Mapping, key: str | None = None) -> dict:
    names = final["param_names"]
    source = final["model"] if key is None else final["averages"][key]
    return {n: source[n] for n in names}


def sidetrip_distances(
    weights: Mapping[tuple[int, str], str | Path], families: Sequence[str], branch_step: int
) -> pd.DataFrame:
    """fig6: how far each average lies from its schedule's endpoint (same batches), against how
    far two constant-lr solutions with different batch orders lie from each other.

    ``weights`` maps ``(data_seed, method)`` to a side-trip's final-weights file."""
    loaded = {key: checkpoint.load(path) for key, path in weights.items()}
    seeds = sorted({seed for seed, _ in loaded})
    rows = []

    def add(comparison: str, family: str, seed_a: int, seed_b: int, a: dict, b: dict) -> None:
        for measure, value in distances.both(a, b).items():
            rows.append(
                {
                    "branch_step": branch_step,
                    "comparison": comparison,
                    "family": family,
                    "seed_a": seed_a,
                    "seed_b": seed_b,
                    "measure": measure,
                    "distance": value,
                }
            )

    for seed in seeds:
        constant = loaded[(seed, "constant")]
        for family in families:
            if family not in constant["averages"]:
                continue  # the constant run diverged: no average to compare
            average = _params(constant, family)
            schedule = _params(loaded[(seed, schedule_method(family))])
            add("average_vs_schedule", family, seed, seed, average, schedule)
            add("average_vs_constant", family, seed, seed, average, _params(constant))
    for seed_a, seed_b in itertools.combinations(seeds, 2):
        a, b = _params(loaded[(seed_a, "constant")]), _params(loaded[(seed_b, "constant")])
        add("independent", "baseline", seed_a, seed_b, a, b)
    return pd.DataFrame(rows)
