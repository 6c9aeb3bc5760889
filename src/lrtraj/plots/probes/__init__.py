"""Probe figures, one module per probe: one-step sweeps (``sweeps``: fig2, fig12, fig13),
fixed-batch GD side-trips with interpolation (``interpolation``: fig3), gradient alignment along
side-trips (``alignment``: fig7). Every number in a caption is computed from the probe Parquet
(``lrtraj.probes`` documents the schemas)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lrtraj.plots.probes.alignment import fig7
from lrtraj.plots.probes.interpolation import fig3
from lrtraj.plots.probes.sweeps import fig2, fig12, fig13

Inputs = Mapping[str, Any]  # a figure rule's named inputs: a path, or a list of paths
Draw = Callable[[Inputs, Path, Mapping[str, Any], Mapping[str, Any]], str]


def _fig3(inputs: Inputs, out: Path, prov: Mapping[str, Any], _: Mapping[str, Any]) -> str:
    caption, bar = fig3(inputs["trajectories"], inputs["interpolation"], out, provenance=prov)
    return f"{caption}\nbarriers:\n{bar.to_string()}"


# figure -> (named inputs, output PDF, provenance, the figure's settings) -> what to log
FIGURES: dict[str, Draw] = {
    "fig2": lambda i, out, prov, s: fig2(i["sweep"], i["burn_in"], out, **s, provenance=prov),
    "fig3": _fig3,
    "fig7": lambda i, out, prov, _: fig7(i["alignment"], out, provenance=prov),
    "fig12": lambda i, out, prov, _: fig12(list(i["sweeps"]), out, provenance=prov),
    "fig13": lambda i, out, prov, _: fig13(list(i["sweeps"]), i["burn_in"], out, provenance=prov),
}

__all__ = ["FIGURES", "fig2", "fig3", "fig7", "fig12", "fig13"]
