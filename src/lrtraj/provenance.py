"""Where an artifact came from: code version, library versions, host, time, inputs.

Every Parquet file and figure carries this record (see ``metrics.write_parquet`` and
``plots.style.save_figure``) so that a figure can be traced back to its inputs.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent
# The checkout whose git commit describes this code: only a src/ layout (a checkout, or an
# editable install of one). An installed wheel has no commit to ask: a venv inside some other
# repository would otherwise report that repository's commit.
_REPO_ROOT = _PACKAGE_DIR.parents[1] if _PACKAGE_DIR.parent.name == "src" else None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def hash_json(obj: Any) -> str:
    """Stable sha256 of a JSON-serialisable object (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _git(*args: str) -> str | None:
    if _REPO_ROOT is None:
        return None
    try:
        out = subprocess.run(
            ["git", *args], cwd=_REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def code_version() -> dict[str, Any]:
    """Git commit of the package's checkout and whether its tree was dirty."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def library_versions() -> dict[str, str]:
    """Installed versions, read from package metadata: importing torch only to ask its version
    would cost every numpy-only job ~3 s."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for name in ("torch", "torchvision", "numpy", "pandas", "snakemake"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def collect(
    *,
    rule: str | None = None,
    params: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
    started: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the provenance record of an artifact being written now."""
    record: dict[str, Any] = {
        "rule": rule,
        "params": dict(params or {}),
        "params_sha256": hash_json(dict(params or {})),
        "inputs": {str(p): sha256_file(p) for p in inputs if Path(p).is_file()},
        **code_version(),
        "versions": library_versions(),
        "host": platform.node(),
        "started": started,
        "finished": now_utc(),
    }
    if extra:
        record.update(extra)
    return record


def write_sidecar(path: str | Path, record: dict[str, Any]) -> Path:
    """Store ``record`` beside an artifact that cannot hold metadata (``<path>.prov.json``)."""
    from lrtraj import atomic

    side = Path(str(path) + ".prov.json")
    atomic.write_text(side, json.dumps(record, indent=2, default=str))
    return side
