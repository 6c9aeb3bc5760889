"""The scorecard as a picture (results/figures/claims.pdf): one row per claim, its effect with
the 95 % interval and the replicates, against the decision margin, coloured by verdict.

Claims have different units, so each row is scaled by its margin (a zero margin by the largest
|value| of its row): the margin sits at ±1 (equivalence) or at 1 (one-sided, sign-preserving),
and the x axis reads "effect / margin". The reasoning per claim: docs/claims.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from lrtraj.analysis.claims import claims_table
from lrtraj.plots.style import PALETTE, apply_style, save_figure

VERDICT_COLORS = {
    "pass": PALETTE[0],  # blue
    "fail": PALETTE[1],  # vermillion
    "inconclusive": PALETTE[4],  # orange
    "not built": "#999999",
}
CAPTION = (
    "Reproduction scorecard. One row per claim (docs/claims.md): the mean effect over its "
    "replicates (large dot) with its 95 % t-interval (bar) and each replicate (small dots), "
    "scaled by the claim's decision margin (dashed: the margin; an equivalence claim passes "
    "inside ±1, a one-sided claim on the side of its rule). Colour: verdict — pass, fail, or "
    "inconclusive where the interval straddles the margin."
)


def _scale(row: pd.Series, values: np.ndarray) -> float:
    if np.isfinite(row["margin"]) and row["margin"] != 0:
        return abs(float(row["margin"]))
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def scaled(card: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per claim (effect, interval, margin) and per replicate values, divided by the scale."""
    table = claims_table(card)
    reps, rows = [], []
    for _, row in table.iterrows():
        mine = card[card["claim"] == row["claim"]]
        scale = _scale(row, mine["value"].to_numpy(float))
        rows.append(
            {
                "claim": row["claim"],
                "label": f"{row['claim']}  {row['statement'][:48]}",
                "verdict": row["verdict"],
                "rule": row["rule"],
                "effect": row["effect"] / scale,
                "low": row["low"] / scale,
                "high": row["high"] / scale,
                "margin": row["margin"] / scale if np.isfinite(row["margin"]) else np.nan,
            }
        )
        reps.append(mine.assign(scaled=mine["value"] / scale)[["claim", "scaled"]])
    return pd.DataFrame(rows), pd.concat(reps, ignore_index=True)


def claims_figure(
    card: pd.DataFrame, pdf_path: str | Path, provenance: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Draw the scorecard; returns the per-claim scaled table that was drawn."""
    apply_style()
    table, reps = scaled(card)
    y = {c: i for i, c in enumerate(table["claim"])}
    fig, ax = plt.subplots(figsize=(8.0, 0.36 * len(table) + 1.2))
    reps = reps.assign(y=reps["claim"].map(y))
    sns.stripplot(
        data=reps, x="scaled", y="y", orient="h", native_scale=True, color="0.45",
        size=3, alpha=0.6, jitter=0.12, ax=ax, legend=False,
    )  # fmt: skip
    for _, row in table.iterrows():
        i, color = y[row["claim"]], VERDICT_COLORS[row["verdict"]]
        if np.isfinite(row["low"]):
            ax.plot([row["low"], row["high"]], [i, i], color=color, lw=2.5)
        ax.plot(row["effect"], i, "o", color=color, ms=7)
        m = row["margin"]
        if np.isfinite(m):
            for x in (-m, m) if row["rule"] == "≈" else (m,):
                ax.plot([x, x], [i - 0.35, i + 0.35], color="0.2", ls="--", lw=1)
    ax.set_yticks(range(len(table)), table["label"])
    ax.set_ylim(len(table) - 0.5, -0.5)
    lim = np.nanmax(np.abs(table[["low", "high", "effect", "margin"]].to_numpy(float)))
    ax.set_xlim(-1.15 * max(lim, 1.0), 1.15 * max(lim, 1.0))
    ax.set_xlabel("effect / decision margin (dimensionless; dashed = margin)")
    ax.set_ylabel("")
    handles = [
        plt.Line2D([], [], color=c, marker="o", lw=2.5, label=v)
        for v, c in VERDICT_COLORS.items()
        if v in set(table["verdict"])
    ]
    ax.legend(handles=handles, title="verdict", loc="lower right", frameon=True)
    save_figure(fig, pdf_path, CAPTION, provenance)
    return table
