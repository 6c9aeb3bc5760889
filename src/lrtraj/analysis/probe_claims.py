"""Scorecard rows of the probe claims (docs/theory.md §3, claims 1, 2 and 5).

``probe_claims(inputs)`` reads the probe Parquet named in ``inputs`` (keys ``"probe_sweep"``:
every sweep file, ``"burn_in"``: the main trajectory's metrics, ``"probe_interpolation"``,
``"probe_alignment"``) and returns rows with the scorecard's columns; a claim whose files are
absent is "not built", never a made-up number.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from lrtraj.analysis.claims import claim_row, load_tables
from lrtraj.analysis.probes import barriers, final_train_loss, sweep_summary

BARRIER_MAX = 0.01  # claim 2: barrier below 1% of the loss scale (the loss at the branch points)
COSINE_MIN = 0.5  # claim 5: the fixed batch's gradient stays within this cosine of its start
INDEPENDENT_MAX = 0.1  # claim 5: |mean cosine| of independent batches' gradients


# One row format and one loader for every claim: those of lrtraj.analysis.claims.
_row = claim_row
_load = load_tables


def one_step_claims(sweeps: pd.DataFrame, burn_in: pd.DataFrame) -> list[dict]:
    """Claim 1: the best single step on a batch beats the trained model's mean loss (1a), and the
    held-out batch's best lr lies below the training batch's (1b), on every sweep curve."""
    summary = sweep_summary(sweeps)
    step, trained = final_train_loss(burn_in)
    fx = summary[summary["batch"] == "fixed"].set_index(["checkpoint", "batch_size"])
    ho = summary[summary["batch"] == "heldout"].set_index(["checkpoint", "batch_size"])
    ratio = fx["best"] / trained
    lr_ratio = ho["best_lr"] / fx["best_lr"]
    return [
        _row(
            "1a",
            "fig2",
            "one step on a batch dips below the trained model's mean loss",
            f"min over lr of the batch loss / mean train loss at step {step} < 1, every curve",
            ratio.max(),
            bool((ratio < 1).all()),
            ", ".join(f"step {c} B={b}: {v:.2f}" for (c, b), v in ratio.items()),
        ),
        _row(
            "1b",
            "fig2",
            "the held-out batch improves only for small lr",
            "argmin-lr(held-out) / argmin-lr(training batch) < 1, every curve",
            lr_ratio.max(),
            bool((lr_ratio < 1).all()),
            ", ".join(f"step {c} B={b}: {v:.3g}" for (c, b), v in lr_ratio.items()),
        ),
    ]


def barrier_claim(interp: pd.DataFrame) -> dict:
    """Claim 2: no barrier between the ends of fixed-batch GD side-trips (both batches)."""
    bar = barriers(interp)
    ends = bar[bar["kind"] == "endpoints"]
    rel = ends["relative_barrier"].fillna(np.inf)  # a non-finite path (diverged) fails
    worst = ends.loc[rel.idxmax()]
    own = ends["barrier"] / ends[["loss_start", "loss_end"]].max(axis=1)
    return _row(
        "2",
        "fig3",
        "no barrier between fixed-batch side-trip endpoints",
        f"barrier < {BARRIER_MAX:.0%} of the loss scale (largest loss at a path end), both batches",
        rel.max(),
        bool((rel < BARRIER_MAX).all()),
        f"largest: {worst['path']} on the {worst['batch']} batch, {worst['barrier']:.3g} "
        f"absolute; relative to the path's own ends at most {own.max():.2f}",
    )


def alignment_claims(align: pd.DataFrame) -> list[dict]:
    """Claim 5: the fixed batch's gradient stays aligned with its start (5a); gradients of
    independent batches are nearly orthogonal (5b)."""
    cos = align[align["metric"] == "cos_to_start"]
    ind = align[align["metric"] == "cos_independent"]["value"]
    per_seed = cos.groupby("data_seed")["value"].min()
    return [
        _row(
            "5a",
            "fig7",
            "the fixed batch's gradient stays in a narrow cone along the side-trip",
            f"min cos(g_t, g_0) > {COSINE_MIN}, both trajectories",
            per_seed.min(),
            bool((per_seed > COSINE_MIN).all()),
            ", ".join(f"seed {s}: min {v:.2f}" for s, v in per_seed.items()),
        ),
        _row(
            "5b",
            "fig7",
            "gradients of independent batches are nearly orthogonal",
            f"|mean cosine| < {INDEPENDENT_MAX}",
            float(np.abs(ind.mean())),
            bool(abs(ind.mean()) < INDEPENDENT_MAX),
            f"{len(ind)} pairs, range {ind.min():.2f} to {ind.max():.2f}",
        ),
    ]


def probe_claims(inputs: Mapping[str, list[str]]) -> list[dict]:
    """Claims 1, 2 and 5 from the probe Parquet (see the module docstring for ``inputs``)."""
    rows: list[dict] = []
    sweeps, burn_in = _load(inputs.get("probe_sweep")), _load(inputs.get("burn_in"))
    if sweeps is None or burn_in is None:
        rows.append(
            _row(
                "1",
                "fig2",
                "one step dips below the trained mean loss",
                "",
                np.nan,
                None,
                "no sweeps",
            )
        )
    else:
        rows += one_step_claims(sweeps, burn_in)
    interp = _load(inputs.get("probe_interpolation"))
    rows.append(
        barrier_claim(interp)
        if interp is not None
        else _row("2", "fig3", "no barrier between endpoints", "", np.nan, None, "no probe")
    )
    align = _load(inputs.get("probe_alignment"))
    if align is None:
        rows.append(_row("5", "fig7", "gradients stay aligned", "", np.nan, None, "no probe"))
    else:
        rows += alignment_claims(align)
    return rows
