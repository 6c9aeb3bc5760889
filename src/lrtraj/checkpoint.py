"""Checkpoints: atomic writes, a sha256 beside each file, safe loading.

A checkpoint is a plain dict of tensors and Python scalars/lists, saved with ``torch.save`` to a
temp file then renamed, its sha256 written to ``<file>.sha256``. Loading uses
``torch.load(weights_only=True)`` (no pickled code) and checks the hash when one is there, so a
truncated or altered file is reported by name instead of crashing deep inside ``torch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from lrtraj import atomic
from lrtraj.provenance import sha256_file


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or does not match its recorded hash."""


def save(state: dict[str, Any], path: str | Path) -> str:
    """Atomically save ``state`` to ``path``; return its sha256 (also written to ``.sha256``)."""
    path = Path(path)
    # drop the old hash first: a kill between the two renames then leaves an unverified but
    # consistent file, never a new file beside a stale hash
    path.with_name(path.name + ".sha256").unlink(missing_ok=True)
    with atomic.target(path) as tmp:
        # a file object, not the path: torch names the zip's inner folder after a path's stem
        # (here the random temp name), and a file object always gets "archive"
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
        digest = sha256_file(tmp)
    atomic.write_text(path.with_name(path.name + ".sha256"), f"{digest}  {path.name}\n")
    return digest


def recorded_sha256(path: str | Path) -> str | None:
    side = Path(path).with_name(Path(path).name + ".sha256")
    return side.read_text().split()[0] if side.is_file() else None


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by ``save``; raise ``CheckpointError`` naming the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    expected = recorded_sha256(path)
    if expected is not None and sha256_file(path) != expected:
        raise CheckpointError(
            f"checkpoint {path} does not match its recorded sha256 ({expected[:12]}…): "
            "the file was modified or truncated; delete it to recompute"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for a damaged zip/pickle
        # torch's own text suggests weights_only=False, i.e. running the file's pickled code
        reason = str(err).split("\n")[0].split(". ")[0] if str(err) else type(err).__name__
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}: {reason}); "
            "delete it (and its .sha256) and rerun the rule that writes it"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"checkpoint {path} has no 'model' entry; not an lrtraj checkpoint")
    return state


def remove(path: str | Path) -> None:
    """Delete a checkpoint and its recorded hash."""
    path = Path(path)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".sha256").unlink(missing_ok=True)
