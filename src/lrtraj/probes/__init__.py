"""Probes of the loss landscape around the main trajectory (fig2, fig3, fig7, fig12, fig13).

* ``sweep``: losses along a line in weight space (one gradient, weights set in place or stacked
  under ``vmap``); the one-step sweep ``w - lr * g(batch)`` over a log grid of lr.
* ``fixed_batch``: plain-GD side-trips on one fixed batch, interpolation between their ends.
* ``alignment``: gradients of a fixed batch along ordinary side-trips (a training-loop callback).
* ``core``: checkpoint loading, fixed batches, BatchNorm modes, per-batch loss and gradient.

Batches. The *fixed* batch of size ``B`` is step 0 of the stream ``(B, probes.batch_seed)`` and
the *held-out* batch is step 0 of ``(B, probes.heldout_seed)``: both are training-set batches
(augmented like training batches), the same in every job, and neither is a batch the main
trajectory trains on (other data seeds). Losses are mean cross-entropy on that batch with
BatchNorm batch statistics unless ``batchnorm`` says ``"eval"`` (running statistics of the
checkpoint).

Tidy schemas (long format, one number per row, written with ``lrtraj.metrics.write_parquet``
under ``results/<experiment>/probes/``; provenance in the Parquet metadata). Common columns:
``batch`` is ``"fixed"`` or ``"heldout"`` (``PROBE_BATCHES``), ``metric`` is ``"loss"`` or
``"accuracy"`` (fraction in [0, 1]) unless stated, and ``value`` keeps NaN/inf (a diverged
point is data).

``sweep/step<S>.parquet`` (``SWEEP_COLUMNS``), fig2, fig12, fig13::

    column      dtype    meaning
    ----------  -------  -----------------------------------------------------------------
    checkpoint  int64    main-trajectory step the sweep starts from
    batch_size  int64    size B of the fixed and held-out batches
    batchnorm   str      "train" (batch statistics) or "eval" (running statistics)
    lr          float64  step size of the single plain gradient step (0: before the step)
    batch       str      "fixed" (the batch the gradient was computed on) or "heldout"
    metric      str      "loss", "accuracy"; "grad_norm" (|g| of the fixed batch, lr = NaN)
    value       float64  the number

``fixed_batch/trajectories.parquet`` (``FIXED_BATCH_COLUMNS``), fig3 left::

    branch_step int64    main-trajectory step the GD side-trip branched from
    batch_size  int64    size of the fixed batch GD runs on
    gd_lr       float64  learning rate of the plain (momentum-free) GD
    step        int64    GD steps since the branch point (0: the branch point itself)
    batch, metric, value as above

``fixed_batch/interpolation.parquet`` (``INTERPOLATION_COLUMNS``), fig3 right; points are
``"branch@<S>"`` (main-trajectory checkpoint S) and ``"end@<S>"`` (end of the GD side-trip
branched at S)::

    path        str      "<start>--<end>"
    kind        str      "endpoints" (two side-trip ends) or "to_branch" (end to its branch)
    start, end  str      the two points
    alpha       float64  position: weights (1 - alpha) * start + alpha * end
    batch, metric, value as above

``alignment.parquet`` (``ALIGNMENT_COLUMNS``), fig7; gradients of the fixed batch (size of the
training batch) along side-trips on the ordinary batch stream::

    branch_step int64    main-trajectory step both side-trips start from
    data_seed   int64    batch stream of the side-trip the row was measured on
    other_seed  int64    the other trajectory's seed for "cos_parallel", else -1
    step        int64    global step (weights after ``step`` updates)
    metric      str      "cos_to_start": cos(g_t, g_branch) of the fixed batch;
                         "norm_ratio": |g_t| / |g_branch|; "grad_norm": |g_t|;
                         "cos_parallel": cos(g_t on this trajectory, g_t on other_seed's);
                         "cos_independent": cos of the gradients of two independent batches
                         (steps t of streams batch_seed and heldout_seed) at the same weights
    value       float64  the number
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PROBE_BATCHES = ("fixed", "heldout")

SWEEP_COLUMNS: dict[str, str] = {
    "checkpoint": "int64",
    "batch_size": "int64",
    "batchnorm": "string",
    "lr": "float64",
    "batch": "string",
    "metric": "string",
    "value": "float64",
}
FIXED_BATCH_COLUMNS: dict[str, str] = {
    "branch_step": "int64",
    "batch_size": "int64",
    "gd_lr": "float64",
    "step": "int64",
    "batch": "string",
    "metric": "string",
    "value": "float64",
}
INTERPOLATION_COLUMNS: dict[str, str] = {
    "path": "string",
    "kind": "string",
    "start": "string",
    "end": "string",
    "alpha": "float64",
    "batch": "string",
    "metric": "string",
    "value": "float64",
}
ALIGNMENT_COLUMNS: dict[str, str] = {
    "branch_step": "int64",
    "data_seed": "int64",
    "other_seed": "int64",
    "step": "int64",
    "metric": "string",
    "value": "float64",
}


def checkpoint_steps(cfg_probes: Mapping[str, Any]) -> set[int]:
    """Main-trajectory steps whose checkpoints the probes read."""
    return (
        set(cfg_probes["sweep"]["checkpoints"])
        | set(cfg_probes["fixed_batch"]["branch_steps"])
        | {cfg_probes["alignment"]["branch_step"]}
    )


def config_problems(cfg_probes: Mapping[str, Any], cfg: Mapping[str, Any]) -> list[str]:
    """Relations between probe keys (and the trajectory) that the JSON schema cannot express."""
    problems = []
    steps = cfg["trajectory"]["steps"]
    sweep, fig2 = cfg_probes["sweep"], cfg_probes["fig2"]
    gd, align = cfg_probes["fixed_batch"], cfg_probes["alignment"]
    for key, values in (
        ("probes.sweep.checkpoints", sweep["checkpoints"]),
        ("probes.fixed_batch.branch_steps", gd["branch_steps"]),
        ("probes.alignment.branch_step", [align["branch_step"]]),
    ):
        late = [s for s in values if s > steps]
        if late:
            problems.append(f"{key}: {late} after the burn-in's last step trajectory.steps={steps}")
    if cfg_probes["batch_seed"] == cfg_probes["heldout_seed"]:
        problems.append("probes.heldout_seed: must differ from probes.batch_seed")
    if sweep["lr_min"] >= sweep["lr_max"]:
        problems.append(
            f"probes.sweep.lr_min: {sweep['lr_min']} must be below lr_max={sweep['lr_max']}"
        )
    if fig2["checkpoint"] not in sweep["checkpoints"]:
        problems.append(
            f"probes.fig2.checkpoint: {fig2['checkpoint']} is not one of probes.sweep.checkpoints "
            f"{sweep['checkpoints']}"
        )
    if fig2["batch_size"] not in sweep["batch_sizes"]:
        problems.append(
            f"probes.fig2.batch_size: {fig2['batch_size']} is not one of probes.sweep.batch_sizes "
            f"{sweep['batch_sizes']}"
        )
    if gd["record_every"] > gd["steps"]:
        problems.append(
            f"probes.fixed_batch.record_every: {gd['record_every']} exceeds steps={gd['steps']}"
        )
    if align["measure_every"] > align["steps"]:
        problems.append(
            f"probes.alignment.measure_every: {align['measure_every']} exceeds "
            f"steps={align['steps']}"
        )
    return problems
