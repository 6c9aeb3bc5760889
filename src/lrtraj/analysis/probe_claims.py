"""Scorecard rows of the probe claims (docs/theory.md §3, claims 1, 2 and 5; the reasoning and
the margins: docs/claims.md).

``probe_claims(inputs, settings)`` reads the probe Parquet named in ``inputs`` (keys
``"probe_sweep"``: every sweep file, ``"burn_in"``: the main trajectory's metrics,
``"probe_interpolation"``, ``"probe_alignment"``) and returns rows of lrtraj.analysis.claims;
a claim whose files are absent is "not built", never a made-up number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from lrtraj.analysis.claims import claim_row, load_tables, not_built
from lrtraj.analysis.probes import barriers, final_train_loss, sweep_summary


def _late(sweeps: pd.DataFrame, step: int, late_fraction: float) -> pd.DataFrame:
    """The sweep curves at the trajectory points the paper makes claim 1 (its fig2: 75K of
    100K steps): checkpoints at or after ``late_fraction`` of the trained model's step."""
    return sweeps[sweeps["checkpoint"] >= late_fraction * step]


def one_step_claims(
    sweeps: pd.DataFrame, burn_in: pd.DataFrame, settings: Mapping[str, Any]
) -> list[dict]:
    """Claim 1 on the late sweep curves (replicates: checkpoint × batch size): 1a the best
    single step on the training batch goes below the trained model's mean loss; 1b at that
    lr the held-out batch's loss rises above its loss before the step; 1c the held-out
    batch's best improvement is a small fraction of the training batch's."""
    step, trained = final_train_loss(burn_in)
    frac = float(settings["late_fraction"])
    late = _late(sweeps, step, frac)
    if late.empty:
        return [not_built("1", "fig2", "one step", f"no sweep at or after {frac:g} × {step}")]
    summary = sweep_summary(late)
    fx = summary[summary["batch"] == "fixed"].set_index(["checkpoint", "batch_size"])
    ho = summary[summary["batch"] == "heldout"].set_index(["checkpoint", "batch_size"])
    loss = late[(late["metric"] == "loss") & (late["batch"] == "heldout")]
    at = loss.set_index(["checkpoint", "batch_size", "lr"])["value"]
    ho_at_best = pd.Series(
        {k: at.get((*k, lr), np.nan) for k, lr in fx["best_lr"].items()}, dtype=float
    )
    label = {k: f"step {k[0]} B={k[1]}" for k in fx.index}
    where = f"checkpoints ≥ {frac:g} × {step} steps"
    gain_ratio = (ho["before"] - ho["best"]) / (fx["before"] - fx["best"])
    return [
        claim_row(
            "1a",
            "fig2",
            "one step on the training batch dips below the trained model's mean loss",
            f"log10(best one-step batch loss / mean train loss at step {step}), {where}",
            "sweep curve",
            {label[k]: np.log10(v / trained) for k, v in fx["best"].items()},
            "<",
            0.0,
        ),
        claim_row(
            "1b",
            "fig2",
            "the training batch's best lr makes the held-out batch worse",
            f"log10(held-out loss at that lr / held-out loss before the step), {where}",
            "sweep curve",
            {label[k]: np.log10(ho_at_best[k] / ho.loc[k, "before"]) for k in fx.index},
            ">",
            0.0,
        ),
        claim_row(
            "1c",
            "fig2",
            "the held-out batch improves only a little (only for small lr)",
            f"best held-out improvement / best training-batch improvement, {where}",
            "sweep curve",
            {label[k]: gain_ratio[k] for k in fx.index},
            "<",
            float(settings["heldout_gain_max"]),
        ),
    ]


def barrier_claim(interp: pd.DataFrame, barrier_max: float) -> dict:
    """Claim 2: no barrier between the ends of fixed-batch GD side-trips (both batches)."""
    ends = barriers(interp)
    ends = ends[ends["kind"] == "endpoints"]
    return claim_row(
        "2",
        "fig3",
        "no barrier between fixed-batch side-trip endpoints",
        "barrier / largest loss at a path end on that batch",
        "path × batch",
        {
            f"{p} {b}": v
            for p, b, v in zip(ends["path"], ends["batch"], ends["relative_barrier"], strict=True)
        },
        "<",
        barrier_max,
    )


def alignment_claims(align: pd.DataFrame, settings: Mapping[str, Any]) -> list[dict]:
    """Claim 5: over the second half of each side-trip the fixed batch's gradient is more
    aligned with its start than two independent batches' gradients are with each other (5a,
    per data seed); independent batches' gradients are nearly orthogonal (5b, per pair)."""
    steps = align["step"]
    second = align[steps >= steps.min() + (steps.max() - steps.min()) / 2]
    mean = second.pivot_table(index="data_seed", columns="metric", values="value")
    ind = align[(align["metric"] == "cos_independent") & (align["step"] > steps.min())]
    return [
        claim_row(
            "5a",
            "fig7",
            "the fixed batch's gradient stays in a narrow cone along the side-trip",
            "mean over the second half of cos(g_t, g_0) − cos(independent batches)",
            "data seed",
            (mean["cos_to_start"] - mean["cos_independent"]).to_dict(),
            ">",
            float(settings["cone_margin"]),
        ),
        claim_row(
            "5b",
            "fig7",
            "gradients of independent batches are nearly orthogonal",
            "cosine of two independent batches' gradients",
            "batch pair",
            {
                f"seed {s} step {t}": v
                for s, t, v in zip(ind["data_seed"], ind["step"], ind["value"], strict=True)
            },
            "≈",
            float(settings["independent_max"]),
        ),
    ]


def probe_claims(inputs: Mapping[str, list[str]], settings: Mapping[str, Any]) -> list[dict]:
    """Claims 1, 2 and 5 from the probe Parquet (see the module docstring for ``inputs``)."""
    rows: list[dict] = []
    sweeps, burn_in = load_tables(inputs.get("probe_sweep")), load_tables(inputs.get("burn_in"))
    if sweeps is None or burn_in is None:
        rows.append(
            not_built("1", "fig2", "one step dips below the trained mean loss", "no sweeps")
        )
    else:
        rows += one_step_claims(sweeps, burn_in, settings)
    interp = load_tables(inputs.get("probe_interpolation"))
    rows.append(
        barrier_claim(interp, float(settings["barrier_max"]))
        if interp is not None
        else not_built("2", "fig3", "no barrier between endpoints", "no probe")
    )
    align = load_tables(inputs.get("probe_alignment"))
    rows += (
        alignment_claims(align, settings)
        if align is not None
        else [not_built("5", "fig7", "gradients stay aligned", "no probe")]
    )
    return rows
