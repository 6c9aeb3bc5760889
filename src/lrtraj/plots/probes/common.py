"""What the probe figures share: how the two batches (the step's own training batch, a
held-out one) and the BatchNorm mode are drawn and named."""

from __future__ import annotations

from lrtraj.plots.style import PALETTE

BATCH_STYLE = {
    "fixed": {"color": PALETTE[0], "marker": "o", "label": "training batch (the step's own)"},
    "heldout": {"color": PALETTE[1], "marker": "s", "label": "held-out batch"},
}
BATCH_SHORT = {"fixed": "training batch", "heldout": "held-out batch"}
BN_TEXT = {
    "train": "BatchNorm batch statistics",
    "eval": "BatchNorm running statistics (eval mode)",
}
