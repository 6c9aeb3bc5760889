"""Figures of the quadratic model (fig4, fig9, fig11, Lemma 1, Appendix A), from tidy Parquet.

One module per experiment table (``geometry``, ``fast_slow``, ``lemma1``, ``appendix_a``), one
function per figure, split into panel functions. Every figure function takes the experiment's
table (a path or a DataFrame in the schema documented in ``lrtraj.quadratic``), draws Monte Carlo
and theory together, and writes PDF + PNG + JSON sidecar through ``save_figure``. Captions are
computed from the table: measured values next to the exact theory, so a reader sees how close
the simulation came without opening the data. Which experiment's table a figure reads is
declared by that experiment (``lrtraj.quadratic.experiments.EXPERIMENTS``).
"""

from __future__ import annotations

from lrtraj.plots.quadratic.appendix_a import plot_appendix_a
from lrtraj.plots.quadratic.fast_slow import plot_fig9, plot_fig11
from lrtraj.plots.quadratic.geometry import plot_fig4
from lrtraj.plots.quadratic.lemma1 import plot_lemma1

# figure name (the target's file stem) -> function drawing it from its experiment's table
FIGURES = {
    "fig4": plot_fig4,
    "fig9": plot_fig9,
    "fig11": plot_fig11,
    "lemma1": plot_lemma1,
    "appendix_a": plot_appendix_a,
}

__all__ = ["FIGURES", "plot_appendix_a", "plot_fig4", "plot_fig9", "plot_fig11", "plot_lemma1"]
