"""Shared look of every figure: colour-blind-safe palette, readable fonts, atomic saving.

``save_figure`` writes PDF + PNG (temp file + rename), embeds the provenance record in the
PDF metadata (``Subject``/``Keywords``) and writes it to a ``.json`` sidecar with the caption.
The caption, with the values measured for this figure, also goes to a ``.caption.rst`` file that
the figure's static Snakemake report caption includes (``workflow/report/``), so the report says
what the figure shows (e.g. which runs diverged), not only what it is meant to show.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from lrtraj import atomic  # noqa: E402
from lrtraj.averaging import FAMILIES  # noqa: E402

# Okabe-Ito: distinguishable under the common colour-vision deficiencies.
PALETTE = [
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]

# One colour per averaging family (from its registry entry) and per reference run, used by every
# figure, so "EMA" is the same colour everywhere.
FAMILY_COLORS = {
    "baseline": "#000000",
    **{name: family.color for name, family in FAMILIES.items()},
    "linear_decay": "#CC79A7",
}
FAMILY_LABELS = {
    "baseline": "constant lr (baseline)",
    **{name: family.label for name, family in FAMILIES.items()},
    "linear_decay": "linear decay",
}
KIND_DASHES = {"baseline": (1, 0), "average": (1, 0), "schedule": (4, 2), "reference": (1, 2)}


def apply_style() -> None:
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, font_scale=1.1)
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight", "pdf.fonttype": 42})


def _atomic_savefig(fig: plt.Figure, path: Path, **kwargs: Any) -> None:
    with atomic.target(path, suffix=path.suffix) as tmp:
        fig.savefig(tmp, **kwargs)


def save_figure(
    fig: plt.Figure,
    pdf_path: str | Path,
    caption: str,
    provenance: Mapping[str, Any] | None = None,
) -> None:
    """Save ``fig`` as ``pdf_path`` and a sibling PNG + JSON sidecar (caption, provenance)."""
    pdf_path = Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"caption": caption, "provenance": dict(provenance or {})}
    text = json.dumps(record, default=str)
    metadata = {"Title": pdf_path.stem, "Subject": caption, "Keywords": text}
    _atomic_savefig(fig, pdf_path, format="pdf", metadata=metadata)
    _atomic_savefig(fig, pdf_path.with_suffix(".png"), format="png", dpi=150)
    atomic.write_text(pdf_path.with_suffix(".json"), json.dumps(record, indent=2, default=str))
    atomic.write_text(caption_path(pdf_path), f"**Measured:** {rst_text(caption)}\n")
    plt.close(fig)


def caption_path(pdf_path: str | Path) -> Path:
    """Where ``save_figure`` writes the measured caption as reStructuredText."""
    return Path(pdf_path).with_suffix(".caption.rst")


_RST_MARKUP = re.compile(r"([\\*`_|])")


def rst_text(text: str) -> str:
    """``text`` as one literal reStructuredText paragraph (markup characters escaped)."""
    return _RST_MARKUP.sub(r"\\\1", " ".join(text.split()))
